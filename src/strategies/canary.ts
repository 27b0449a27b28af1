import type {CanaryStep} from '../config/types.js'
import {parseDuration} from '../duration.js'
import {InterruptedError} from '../errors.js'
import type {FailureReport} from '../deploy/explain.js'
import {explainFailures} from '../deploy/explain.js'
import {watchRollout} from '../deploy/watch.js'
import {configuredExcludes, lineFilter} from '../logs/filter.js'
import {whoAmI} from '../identity.js'
import type {KubeObject} from '../render/objects.js'
import {abortableSleep} from '../sleep.js'
import {runChecks} from './checks.js'
import {readState, type ServiceRolloutState, writeRequest, writeServiceState} from './state.js'
import {checkFailure, replicasOf, type ServiceUnit, stoppedNote, type Strategy, type StrategyContext, TEMPLATE_ANNOTATION, templateHash, TRACK_LABEL, withLabels} from './strategy.js'
import {reportContact} from '../kubectl/outage.js'

const DEFAULT_STEPS: CanaryStep[] = [{setWeight: 100}]

/**
 * Canary: `<service>-canary` runs the new release beside the stable Deployment `<service>`, through `steps:`. The
 * traffic split is the replica ratio (the Service selects both; approximate), or exact weights in a Gateway API
 * HTTPRoute. At the end the stable Deployment takes the release and the canary goes. A failed check or
 * `skycap abort` returns every replica to stable. State in the cluster: a killed CLI is resumed by `rollout resume`.
 */
export const canary: Strategy = {
  type: 'canary',
  place(unit, live) {
    const {service} = unit
    const hash = unit.deployment.metadata.annotations?.[TEMPLATE_ANNOTATION] ?? templateHash(unit.deployment)
    const stable = stamp(gatewayLabels(unit, unit.deployment, 'stable'), hash)
    const liveStable = live.get(`Deployment/${service}`)
    const extra = routeServices(unit)
    // A first deploy, or one that changes nothing in the pod template: no canary, a plain apply. So is one of a service
    // scaled to 0: there is no traffic to split, and a canary of nothing would bring it up at 1.
    const unchanged = !liveStable || liveStable.metadata.annotations?.[TEMPLATE_ANNOTATION] === hash
    if (unchanged || replicasOf(unit.deployment) === 0) {
      const objects = [stable, ...(unit.serviceObject ? [unit.serviceObject] : []), ...extra]
      return {unit, first: objects, later: [], recorded: objects, keep: [], ...(!unchanged ? {stopped: true} : {})}
    }
    const canaryDeployment = canaryOf(unit)
    return {
      unit,
      first: [canaryDeployment, ...(unit.serviceObject ? [unit.serviceObject] : []), ...extra],
      later: [stable],
      recorded: [stable, ...(unit.serviceObject ? [unit.serviceObject] : []), ...extra],
      keep: [canaryDeployment],
    }
  },

  async complete(placements, context) {
    for (const p of placements) if (p.stopped) context.reporter.info(stoppedNote(p.unit.service))
    // The first canary that fails (a check, an abort) fails the release, which is rolled back: the others are aborted
    // at once, back to stable. They ran on through their steps, waited in a pause for a promote that nobody would
    // give, or were promoted only for the rollback to undo it.
    return runCanaries(
      placements.filter((p) => p.later.length).map((p) => ({unit: p.unit})),
      context,
    )
  },
}

function stamp(deployment: KubeObject, hash: string): KubeObject {
  return {...deployment, metadata: {...deployment.metadata, annotations: {...deployment.metadata.annotations, [TEMPLATE_ANNOTATION]: hash}}}
}

/** The canary Deployment of a unit, at 0 replicas until the first step. */
function canaryOf(unit: ServiceUnit): KubeObject {
  const d = withLabels(unit.deployment, `${unit.service}-canary`, {[TRACK_LABEL]: 'canary'})
  return {...d, spec: {...(d.spec as object), replicas: 0}}
}

/** With Gateway API routing, stable pods carry the stable track label so that `<service>-stable` can select them. */
function gatewayLabels(unit: ServiceUnit, deployment: KubeObject, track: string): KubeObject {
  if (!unit.strategy.trafficRouting) return deployment
  const spec = deployment.spec as {template?: {metadata?: {labels?: Record<string, string>}}}
  return {...deployment, spec: {...spec, template: {...spec.template, metadata: {...spec.template?.metadata, labels: {...spec.template?.metadata?.labels, [TRACK_LABEL]: track}}}}}
}

/** `<service>-stable` and `<service>-canary`: the backends of the HTTPRoute, one track each. */
function routeServices(unit: ServiceUnit): KubeObject[] {
  if (!unit.strategy.trafficRouting || !unit.serviceObject) return []
  const svc = unit.serviceObject
  return (['stable', 'canary'] as const).map((track) => withLabels(svc, `${unit.service}-${track}`, {[TRACK_LABEL]: track}))
}

/**
 * Runs the canaries of one release side by side (a deploy's, or those `rollout resume` takes on, each from its
 * `state`); returns their failures, the one that failed the release first, then those of the canaries stopped because
 * of it.
 */
export async function runCanaries(
  canaries: Array<{unit: ServiceUnit; state?: ServiceRolloutState}>,
  context: StrategyContext,
  /** A canary of the release that failed or was aborted before these were resumed: they are stopped as by it. */
  prior?: {service: string; failure: FailureReport},
): Promise<FailureReport[]> {
  const release = new ReleaseFailure()
  if (prior) release.failed(prior.service, prior.failure)
  const results = await Promise.all(
    canaries.map(async ({unit, state}) => {
      const failure = await runCanary(unit, context, state, release)
      if (failure) release.failed(unit.service, failure)
      return failure
    }),
  )
  return results.filter((f): f is FailureReport => f !== undefined).sort((a, b) => Number(release.stoppedBy(a)) - Number(release.stoppedBy(b)))
}

/** Tells the canaries of one release that another of them failed (the release fails and is rolled back). */
export class ReleaseFailure {
  private readonly controller = new AbortController()
  private cause?: string
  private readonly stops = new WeakSet<FailureReport>()
  readonly signal = this.controller.signal

  /** `service`'s canary failed with `failure`; the first failure stops the others. */
  failed(service: string, failure: FailureReport): void {
    if (this.controller.signal.aborted || this.stops.has(failure)) return
    this.cause = `${service} failed (${failure.ref})`
    this.controller.abort()
  }

  /** The failure of a canary stopped because another failed. */
  stop(service: string): FailureReport {
    const failure = checkFailure(`abort ${service}`, `aborted because ${this.cause ?? 'another canary of the release failed'}, which fails the release`)
    this.stops.add(failure)
    return failure
  }

  stoppedBy(failure: FailureReport): boolean {
    return this.stops.has(failure)
  }
}

/**
 * Runs (or resumes, from the state's step) a service's canary steps; a failure comes back after the abort. `release`:
 * the other canaries of the release, whose failure aborts this one.
 */
export async function runCanary(unit: ServiceUnit, given: StrategyContext, resumed?: ServiceRolloutState, release?: ReleaseFailure): Promise<FailureReport | undefined> {
  const steps = unit.strategy.steps ?? DEFAULT_STEPS
  const total = replicasOf(unit.deployment) || 1
  const canaryDeployment = canaryOf(unit)
  const stable = stamp(gatewayLabels(unit, unit.deployment, 'stable'), unit.deployment.metadata.annotations?.[TEMPLATE_ANNOTATION] ?? templateHash(unit.deployment))
  // A pause may last longer than the deploy's timeout: each wait gets the time the deploy was given, and so does each
  // wait for an API server that stops answering (the deploy's deadline may have passed during a pause).
  const budget = Math.max(60_000, given.deadline - given.clock())
  const context: StrategyContext = {...given, kubectl: given.kubectl.waitingEachUpTo(budget)}
  const {kubectl, reporter} = context
  const now = () => new Date(context.clock()).toISOString()
  const state: ServiceRolloutState = resumed ?? {
    type: 'canary',
    release: context.release,
    phase: 'progressing',
    startedBy: whoAmI(),
    startedAt: now(),
    updatedAt: now(),
    step: 0,
    steps: steps.length,
    weight: 0,
    unit: {...unit, deployment: stable},
  }
  const save = async (change: Partial<ServiceRolloutState>, options: {clearRequest?: boolean} = {}) => {
    Object.assign(state, change, {updatedAt: now()})
    await writeServiceState(kubectl, context.app, context.environment, unit.service, state, options)
  }
  /**
   * Reads the service's request, and clears it in the same write as the state it leads to, so a `skycap promote`
   * polling the state never sees a request gone and nothing in its place: an abort stays asked until abort() marks
   * the service `aborting` (its first write clears it); a promote is cleared with `moved` (the pause left) when given.
   * A promote of api read as done while web's abort, taken already, was not yet marked (it said "promoted", exit 0).
   */
  const takeRequest = async (moved?: Partial<ServiceRolloutState>) => {
    const request = (await readState(kubectl, context.app, context.signal)).requests[unit.service]
    if (request === 'abort' || request === undefined) return request
    if (moved) await save(moved, {clearRequest: true})
    else await writeRequest(kubectl, context.app, context.environment, unit.service, null)
    return request
  }
  const waitReady = async (deployment: KubeObject, signal = context.signal) => {
    const selector = `skycap.dev/environment=${context.environment}`
    const began = {at: context.clock(), clock: context.clock}
    const r = await watchRollout({
      kubectl,
      objects: [deployment],
      selector,
      deadline: context.clock() + budget,
      clock: context.clock,
      signal,
      intervalMs: context.intervalMs,
      onContact: (event) => reportContact(reporter, event),
    })
    if (r.outcome === 'ready') return undefined
    // Stopped (Ctrl-C, SIGTERM) while the pods were still coming up is no failure of the canary: nothing is aborted or
    // recorded as failed, the state keeps the step, and `rollout resume` runs it again.
    if (r.outcome === 'interrupted') throw new InterruptedError(`interrupted while ${deployment.metadata.name} was becoming ready`)
    // Explained before the abort deletes the canary: the probe's events and the crashed process's last lines go with it.
    const [explained] = await explainFailures(kubectl, r.statuses, () => lineFilter({configured: configuredExcludes(context.config, [unit.service]), exclude: [], grep: []}), began)
    return explained ?? checkFailure(`Deployment/${deployment.metadata.name}`, r.statuses[0]?.message ?? r.outcome)
  }
  const target = {
    service: unit.service,
    podSelector: selectorOf(canaryDeployment),
    deployment: canaryDeployment,
    ...(unit.serviceObject ? {serviceName: unit.service, port: portOf(unit.serviceObject)} : {}),
  }

  /** The pods of each side at `weight`: by replicas the stable side shrinks as the canary grows; with a route it stays whole. */
  const replicasAt = (weight: number) => {
    const routed = Boolean(unit.strategy.trafficRouting)
    const canaryReplicas = weight === 0 ? 0 : Math.max(1, routed ? Math.ceil((total * weight) / 100) : Math.round((total * weight) / 100))
    return {routed, canaryReplicas, stableReplicas: routed ? total : weight >= 100 ? 0 : Math.max(1, total - canaryReplicas)}
  }

  /**
   * A step stopped part-way (Ctrl-C, SIGTERM) is put back to the weight saved before it, so the state says the split
   * that serves: the canary's new pods took traffic, their checks never run, while the state said 0% at the first
   * step. `rollout resume` runs the step again, as before. Calls made after the signal, without waiting for an API
   * server away; one that fails is said, with what to do.
   */
  const putBack = async (weight: number) => {
    const before = state.weight ?? 0
    const {routed, canaryReplicas, stableReplicas} = replicasAt(before)
    const now = kubectl.atOnce()
    try {
      if (routed) await setRouteWeights(unit, before, {...context, kubectl: now})
      await now.run(['scale', 'deployment', unit.service, `--replicas=${stableReplicas}`])
      await now.run(['scale', 'deployment', canaryDeployment.metadata.name, `--replicas=${canaryReplicas}`])
      reporter.info(`  ${unit.service}: stopped during the step to ${weight}%: back to ${before}% (canary ${canaryReplicas}, stable ${stableReplicas} pods), as recorded`)
    } catch (error) {
      reporter.warn(
        `${unit.service}: stopped during the step to ${weight}%, and could not put it back to ${before}% (${(error as Error).message.split('\n')[0]}): the canary's ready pods may take traffic; \`skycap rollout resume ${context.environment}\` runs the step again, \`skycap abort ${context.environment} ${unit.service}\` returns to stable`,
      )
    }
  }

  const setWeight = async (weight: number, signal = context.signal) => {
    const {routed, canaryReplicas, stableReplicas} = replicasAt(weight)
    reporter.info(`  ${unit.service}: weight ${weight}% (${routed ? `HTTPRoute ${unit.strategy.trafficRouting?.gatewayAPI.httpRoute}, ` : ''}canary ${canaryReplicas}, stable ${stableReplicas} pods)`)
    try {
      await kubectl.run(['scale', 'deployment', canaryDeployment.metadata.name, `--replicas=${canaryReplicas}`])
      const notReady = await waitReady(canaryDeployment, signal)
      if (notReady) return notReady
      if (routed) await setRouteWeights(unit, weight, context)
      await kubectl.run(['scale', 'deployment', unit.service, `--replicas=${stableReplicas}`])
    } catch (error) {
      // Not when an abort or another canary's failure stopped the step (`signal` alone): the abort returns to stable.
      if (context.signal?.aborted || (error instanceof InterruptedError && !signal?.aborted)) await putBack(weight)
      throw error
    }
    await save({weight})
    return undefined
  }

  const abort = async (failure: FailureReport): Promise<FailureReport> => {
    // The release's other canaries stop now, not once this one is back to stable.
    release?.failed(unit.service, failure)
    // A promotion that failed has no stable to go back to: the service's Deployment runs the release (the deploy's
    // rollback, or `skycap rollback`, returns the release before).
    reporter.info(
      state.promoting
        ? `  ${unit.service}: the promotion failed (${failure.message}); ${unit.service} runs the release`
        : `  ${unit.service}: aborting the canary (${failure.message}); all traffic back to stable`,
    )
    // Said before stable is brought back, in the write that clears the request (an abort asked stays asked until
    // then); the phase changes only at the end.
    await save({aborting: {ref: failure.ref, message: failure.message}}, {clearRequest: true})
    await kubectl.run(['scale', 'deployment', unit.service, `--replicas=${total}`])
    if (unit.strategy.trafficRouting) await setRouteWeights(unit, 0, context)
    await waitReady({...stable, metadata: {...stable.metadata}}).catch(() => undefined)
    await kubectl.run(['delete', 'deployment', canaryDeployment.metadata.name, '--ignore-not-found', '--wait=false'])
    // A request for it given meanwhile has nothing left to act on: an abort the release's failure overtook (the canary
    // stopped "because web failed" before it read its own) kept `skycap abort` waiting for it to be taken.
    await save({phase: failure.ref.startsWith('abort') ? 'aborted' : 'failed', weight: 0, message: failure.message, aborting: undefined}, {clearRequest: true})
    return failure
  }

  // The checks after a setWeight see the pods just after they became ready. A process that crashes later (a liveness
  // probe that kills it, a fault after some requests) restarts during a pause: the pod check again before the canary
  // moves on, or a crash-looping release was promoted to every replica.
  const canaryStillHealthy = async () => ((state.weight ?? 0) > 0 ? runChecks([], target, context) : undefined)

  /**
   * Runs a step's work (scaling the canary and waiting for it, checks, an analysis) while reading the service's
   * request every poll: a `skycap abort` given meanwhile stops the work (its watch, its checks) and is the step's
   * outcome. It was read only between steps: an abort during a long analysis waited for it, and one during the last
   * step was never read, and the canary was promoted.
   */
  const abortable = async (during: string, work: (signal: AbortSignal) => Promise<FailureReport | undefined>): Promise<FailureReport | undefined> => {
    const stop = new AbortController()
    const signal = AbortSignal.any([stop.signal, ...(context.signal ? [context.signal] : []), ...(release ? [release.signal] : [])])
    let asked = false
    // Reads at once (no wait for an API server away: the step's own calls wait for it), and a failed read is tried
    // again at the next poll.
    const reader = kubectl.atOnce()
    const listening = (async () => {
      while (!signal.aborted) {
        await abortableSleep(context.intervalMs ?? 1000, signal)
        if (signal.aborted) return
        const requests = await readState(reader, context.app, signal).then(
          (s) => s.requests,
          () => ({}) as Record<string, string>,
        )
        if (requests[unit.service] === 'abort') {
          asked = true
          stop.abort()
        }
      }
    })()
    let result: FailureReport | undefined
    // Stopped by an abort or by another canary's failure, its watch or check ends as interrupted: that is the stop's
    // doing, not a failure of this canary.
    const stopped = () => !context.signal?.aborted && (asked || release?.signal.aborted === true)
    try {
      result = await work(signal)
    } catch (error) {
      if (!stopped()) throw error
    } finally {
      stop.abort()
      await listening
    }
    // Stopped by another canary's failure between two reads: its own abort, asked with the other's, is read once more.
    if (!asked && release?.signal.aborted && !context.signal?.aborted) {
      asked = await readState(reader, context.app).then(
        (s) => s.requests[unit.service] === 'abort',
        () => false,
      )
    }
    if (asked) {
      // The request is cleared by abort(), with the mark that it is under way.
      return checkFailure(`abort ${unit.service}`, `aborted by skycap abort during ${during}`)
    }
    if (stopped()) return (release as ReleaseFailure).stop(unit.service)
    return result
  }
  /** Another canary of the release failed: this one is aborted, back to stable. */
  const otherFailed = () => (release?.signal.aborted ? release.stop(unit.service) : undefined)

  // An abort a Ctrl-C (or a killed CLI) stopped half-way is finished, not undone by running the steps again.
  if (state.aborting) return abort(checkFailure(state.aborting.ref, state.aborting.message))
  // A promotion a Ctrl-C stopped half-way is finished: the service's Deployment may run the release already, so there
  // is no stable to go back to (an abort given since is too late, as it is once the promotion began).
  if (state.promoting) return promote()
  // A new canary drops a promote or abort left from an earlier rollout (given as its promotion began): it would
  // have skipped this canary's first pause, or aborted it at its first step. A resumed one acts on what it finds.
  await save({phase: 'progressing'}, {clearRequest: resumed === undefined})
  let full = false
  // A `skycap promote` taken between pauses (while the canary scaled or ran its checks) continues past the next
  // pause: the command said it was done, so it is not dropped.
  let promoted = false
  // A pause's sleep ends at a Ctrl-C, or at once when another canary of the release fails.
  const pauseSignal = release ? AbortSignal.any([release.signal, ...(context.signal ? [context.signal] : [])]) : context.signal
  for (let i = state.step ?? 0; i < steps.length && !full; i++) {
    const step = steps[i] as CanaryStep
    // Its own abort first: `skycap abort ENV` asks every canary of the release in one write, and one resumed at its
    // pause that found another's abort done was stopped "because api failed", its own request unread.
    const request = await takeRequest()
    if (request === 'abort') return abort(checkFailure(`abort ${unit.service}`, `aborted by skycap abort at step ${i + 1}`))
    const stoppedHere = otherFailed()
    if (stoppedHere) return abort(stoppedHere)
    if (request === 'promote-full') break
    if (request === 'promote') promoted = true
    if (step.setWeight !== undefined) {
      const weight = step.setWeight
      const failure = await abortable(
        `step ${i + 1} (weight ${weight}%)`,
        async (signal) => (await setWeight(weight, signal)) ?? (await runChecks(unit.strategy.checks ?? [], target, {...context, signal})),
      )
      if (failure) return abort(failure)
    }
    if (step.pause && promoted) {
      promoted = false
      reporter.info(`  ${unit.service}: promoted past the pause at step ${i + 1} (promote was given before it)`)
    } else if (step.pause) {
      const until = step.pause.duration ? context.clock() + (await parseDuration(step.pause.duration, 'pause.duration')) : undefined
      await save({phase: 'paused', step: i, ...(until ? {pausedUntil: new Date(until).toISOString()} : {})})
      reporter.info(`  ${unit.service}: paused at ${state.weight}%${until ? ` until ${new Date(until).toISOString()}` : `; \`skycap promote\` continues, \`skycap abort\` returns to stable`}`)
      for (;;) {
        const r = await takeRequest({phase: 'progressing', pausedUntil: undefined})
        if (r === 'abort') return abort(checkFailure(`abort ${unit.service}`, `aborted by skycap abort during the pause at step ${i + 1}`))
        if (r === 'promote' || r === 'promote-full') {
          full = r === 'promote-full'
          reporter.info(`  ${unit.service}: promoted${full ? ' (full)' : ''}`)
          break
        }
        if (until !== undefined && context.clock() >= until) break
        const stoppedInPause = otherFailed()
        if (stoppedInPause) return abort(stoppedInPause)
        await abortableSleep(until === undefined ? 1000 : Math.min(1000, Math.max(0, until - context.clock())), pauseSignal)
      }
      delete state.pausedUntil
      const restarted = await canaryStillHealthy()
      if (restarted) return abort(restarted)
    }
    if (step.analysis) {
      const checks = step.analysis.checks
      const failure = await abortable(`the analysis of step ${i + 1}`, (signal) => runChecks(checks, target, {...context, signal}))
      if (failure) return abort(failure)
    }
    await save({phase: 'progressing', step: i + 1})
  }

  // Promotion: the stable Deployment takes the release, then the canary goes; not a canary whose pods crashed
  // meanwhile, nor one aborted after its last step's request was read.
  if ((await takeRequest()) === 'abort') return abort(checkFailure(`abort ${unit.service}`, 'aborted by skycap abort before the promotion'))
  const stoppedBeforePromotion = otherFailed()
  if (stoppedBeforePromotion) return abort(stoppedBeforePromotion)
  const crashed = await canaryStillHealthy()
  if (crashed) return abort(crashed)
  return promote()

  async function promote(): Promise<FailureReport | undefined> {
    if (!state.promoting) {
      // A Ctrl-C that came while this canary ran its checks: no promotion begins after it (the step is kept, and
      // `rollout resume` or an abort decides); one canary began its promotion after the other had been told to stop.
      if (context.signal?.aborted) throw new InterruptedError(`interrupted before the promotion of ${unit.service}`)
      // Saved before the Deployment changes: from here a resume finishes the promotion and an abort is too late.
      await save({promoting: true})
    }
    reporter.info(`  ${unit.service}: promoting the release to ${unit.service}`)
    await kubectl.run(['apply', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-'], {input: JSON.stringify({...stable, spec: {...(stable.spec as object), replicas: total}})})
    const failure = await waitReady(stable)
    if (failure) return abort(failure)
    if (unit.strategy.trafficRouting) await setRouteWeights(unit, 0, context)
    await kubectl.run(['delete', 'deployment', canaryDeployment.metadata.name, '--ignore-not-found', '--wait=false'])
    // A request given once the promotion began has nothing left to act on (`skycap abort` then says the canary was
    // promoted); it must not act on the next rollout.
    await save({phase: 'completed', step: steps.length, weight: 100, promoting: undefined}, {clearRequest: true})
    return undefined
  }
}

function selectorOf(deployment: KubeObject): string {
  const labels = (deployment.spec as {selector: {matchLabels: Record<string, string>}}).selector.matchLabels
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
}

function portOf(service: KubeObject): number | undefined {
  const port = (service.spec as {ports?: Array<{port: number; targetPort?: number | string}>}).ports?.[0]
  return typeof port?.targetPort === 'number' ? port.targetPort : port?.port
}

/**
 * Writes the canary's weight into the HTTPRoute the environment names: every rule that sends to the service (or to
 * its stable/canary Services) sends `100 - weight` to `<service>-stable` and `weight` to `<service>-canary`.
 */
export async function setRouteWeights(unit: ServiceUnit, weight: number, context: StrategyContext): Promise<void> {
  const name = unit.strategy.trafficRouting?.gatewayAPI.httpRoute as string
  type Route = KubeObject & {spec?: {rules?: Array<{backendRefs?: Array<{name: string; port?: number; weight?: number}>}>}}
  const route = await context.kubectl.json<Route>(['get', 'httproutes.gateway.networking.k8s.io', name])
  const names = new Set([unit.service, `${unit.service}-stable`, `${unit.service}-canary`])
  const port = (unit.serviceObject?.spec as {ports?: Array<{port: number}>} | undefined)?.ports?.[0]?.port
  let touched = 0
  const rules = (route.spec?.rules ?? []).map((rule) => {
    const refs = rule.backendRefs ?? []
    if (!refs.some((r) => names.has(r.name))) return rule
    touched++
    const others = refs.filter((r) => !names.has(r.name))
    const p = refs.find((r) => names.has(r.name))?.port ?? port
    return {...rule, backendRefs: [...others, {name: `${unit.service}-stable`, ...(p ? {port: p} : {}), weight: 100 - weight}, {name: `${unit.service}-canary`, ...(p ? {port: p} : {}), weight}]}
  })
  if (!touched) throw new Error(`HTTPRoute ${name} has no rule sending to ${unit.service}: add a backendRef to ${unit.service} (or ${unit.service}-stable)`)
  await context.kubectl.run(['patch', 'httproutes.gateway.networking.k8s.io', name, '--type', 'merge', '-p', JSON.stringify({spec: {rules}})])
}

/** The placements of a resumed rollout: what the state recorded for each service still in progress. */
export function resumable(states: Record<string, ServiceRolloutState>): Array<{state: ServiceRolloutState; unit: ServiceUnit}> {
  return Object.values(states)
    .filter((s) => s.type === 'canary' && (s.phase === 'progressing' || s.phase === 'paused') && s.unit)
    .map((s) => ({state: s, unit: s.unit as ServiceUnit}))
}
