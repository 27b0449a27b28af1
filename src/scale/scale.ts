import {deployFirst, unknownServiceError, withFlag} from '../config/environment.js'
import {DeployFailedError, InterruptedError, KubectlError, NamespaceMissingError, OwnedElsewhereError, TimeoutError, UserError} from '../errors.js'
import {parseDuration} from '../duration.js'
import {ciJobUrl, whoAmI} from '../identity.js'
import {acquireLock, afterLockRelease, keepLockAlive, LEASE_SECONDS, LOCK_RELEASED, releaseLock, releaseOwnLock} from '../lock/lease.js'
import {QuitAtOnce} from '../release/quit-at-once.js'
import type {KubeObject} from '../render/objects.js'
import {listReleases, nextReleaseNumber, RECORD_OUTAGE_MS, renumberedNote, saveRelease} from '../release/store.js'
import {deployedServices, notInFileWarning} from '../tasks/pods.js'
import type {DeployDeps} from '../deploy/deploy.js'
import {configuredReplicas, DEFAULT_TIMEOUT_MS} from '../deploy/replicas.js'
import {explainFailures, formatFailure, type FailureReport} from '../deploy/explain.js'
import {describeOwner, ownershipOf} from '../env/ownership.js'
import {appSelector, connect, openEnvironment} from '../env/connect.js'
import {refuseUnwatchable, watchRollout} from '../deploy/watch.js'
import {rolloutsOf, servingDeployment, type ServiceRolloutState} from '../strategies/state.js'
import {existingSlots, missingSlotNote, noSlotNote, selectorSlot, servedSlot, type Slot} from '../strategies/strategy.js'
import type {Reporter} from '../ui/output.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import {configuredExcludes, lineFilter} from '../logs/filter.js'
import {reportContact} from '../kubectl/outage.js'

export interface ScaleOptions {
  service: string
  /** The pod count, as typed on the command line or as a number; checked by parseReplicas. */
  replicas: string | number
  environment?: string
  configPath?: string
  force?: boolean
  dryRun?: boolean
  timeout?: string
  waitForLock?: string
}

export interface ScaleReport {
  environment: string
  service: string
  from: number
  to: number
  /** planned: --dry-run, or stopped before the scale was made; unchanged: the service already had that count (nothing done or recorded). */
  result: 'succeeded' | 'planned' | 'unchanged' | 'failed' | 'timed-out' | 'interrupted'
  release: number | null
  /** The release number another command recorded while this one ran (its lock released by hand); this one took `release`. */
  renumberedFrom?: number
  /** The HorizontalPodAutoscaler of the service, if any, and what it does with the new count. */
  hpa?: {name: string; note: string}
  /** Scaled over that HPA with --force: it sets its own count again. */
  force?: true
}

/** The largest replica count Kubernetes accepts (spec.replicas is an int32). */
export const MAX_REPLICAS = 2_147_483_647

/** A replica count from the command line (digits) or code (a number): a whole number from 0 to MAX_REPLICAS. */
export function parseReplicas(replicas: string | number): number {
  if (typeof replicas === 'string') {
    if (!/^\d+$/.test(replicas)) {
      throw new UserError(`replicas must be a whole number of 0 or more, not "${replicas}"`, {hint: 'Give the number of pods, e.g. `skycap scale web 3`; 0 stops the service.'})
    }
  } else if (!Number.isInteger(replicas) || replicas < 0) {
    throw new UserError(`replicas must be a whole number of 0 or more, not "${replicas}"`)
  }
  // Compared as a BigInt: Number("99999999999999999999") is already rounded.
  if (BigInt(replicas) > BigInt(MAX_REPLICAS)) {
    throw new UserError(`replicas must be at most ${MAX_REPLICAS}, the largest count Kubernetes accepts, not "${replicas}"`, {
      hint: `Pass a whole number from 0 to ${MAX_REPLICAS}.`,
    })
  }
  return Number(replicas)
}

/**
 * A service whose canary is left mid-way (paused, progressing, aborting or promoting, on record) is not scaled: the
 * canary's steps, its abort and its promotion size both Deployments from the count they read, so `rollout resume` or
 * `skycap abort` undid the scale (shop back to 4 pods while history said 3 -> 6), and the count scaled "from" was
 * the canary-reduced stable one. Asked under the lock, as deploy's refuseSecondRollout asks, so a canary started
 * meanwhile is seen.
 */
function refuseCanaryUnderWay(service: string, environment: string, state: Omit<ServiceRolloutState, 'unit'> | undefined): void {
  if (state?.type !== 'canary' || (state.phase !== 'progressing' && state.phase !== 'paused')) return
  const doing = state.aborting ? 'aborting' : state.promoting ? 'promoting' : state.phase
  const step = state.step !== undefined && state.steps !== undefined ? `, step ${Math.min(state.step + 1, state.steps)}/${state.steps}` : ''
  throw new UserError(`the canary of ${service} (release ${state.release ?? '?'}, ${doing} at ${state.weight ?? 0}%${step}) in ${environment} is still under way; nothing was changed`, {
    hint: `Finish it first with \`skycap rollout resume ${environment}\` (then \`skycap promote ${environment} ${service}\`) or \`skycap abort ${environment} ${service}\`, then scale ${service}.`,
    details: {
      environment,
      service,
      canary: {
        release: state.release,
        phase: state.phase,
        step: state.step ?? null,
        steps: state.steps ?? null,
        weight: state.weight ?? 0,
        ...(state.aborting ? {aborting: true} : {}),
        ...(state.promoting ? {promoting: true} : {}),
      },
    },
  })
}

/**
 * The Deployment that serves `service`: for a blue-green one, the slot its live Service selects. The state names the
 * slot it recorded, which is not the one serving after a SIGKILL between the switch and the state's write (scale then
 * scaled the idle slot, and the next scale-down undid it); the state's slot is the answer only when the Service
 * selects none. `selected`: the slot label the Service's selector gives, when the target is that slot's Deployment
 * (a hand-set `purple` too: its Deployment, missing, refuses the scale with missingSlotRefusal).
 */
async function servingTarget(kubectl: Kubectl, service: string, state: Omit<ServiceRolloutState, 'unit'> | undefined, reporter: Reporter): Promise<{target: string; selected?: string}> {
  if (state?.type !== 'blueGreen') return {target: servingDeployment(service, state)}
  const served = await servedSlot(kubectl, service)
  const note = state.activeSlot ? noSlotNote(service, served.object, state.activeSlot, 'this scale scales') : undefined
  if (note) reporter.warn(note)
  const selected = selectorSlot(served.object)
  if (selected !== undefined) return {target: `${service}-${selected}`, selected}
  return {target: servingDeployment(service, {type: 'blueGreen', activeSlot: served.slot ?? state.activeSlot})}
}

/**
 * The refusal of a scale whose blue-green Service selects a slot no Deployment has (patched by hand): scaling the slot
 * the state names would change pods that take no traffic. Asked only on that path: which slots exist (one call).
 */
async function missingSlotRefusal(kubectl: Kubectl, service: string, selected: string, environment: string, assumed: Slot | undefined): Promise<UserError> {
  const names = (await kubectl.run(['get', 'deployments', `${service}-blue`, `${service}-green`, '--ignore-not-found', '-o', 'name'])).stdout.split('\n').map((l) => l.trim().replace(/^[^/]*\//, ''))
  const slots = existingSlots(service, (d) => names.includes(d))
  const {problem, fix} = missingSlotNote(service, selected, slots, {deploy: deployFirst(environment), assumed, shown: (args) => kubectl.shown(args)})
  return new UserError(`${problem}; ${service} is not scaled, nothing was changed`, {hint: `${fix}; then scale ${service}.`, details: {environment, service, selected, slots}})
}

/** A HorizontalPodAutoscaler's fields that scale reads. */
interface Hpa {
  metadata: {name: string}
  spec?: {scaleTargetRef?: {kind?: string; name?: string}; minReplicas?: number; maxReplicas?: number}
}

/**
 * What an HPA does with a scale of `service` from `from` to `to`: whether it undoes it, and what to say. Kubernetes
 * disables an HPA whose target has 0 replicas (ScalingDisabled) unless its minReplicas is 0 (HPAScaleToZero): a scale
 * to 0 stays, and one from 0 hands the service back to the HPA at that count (it was refused without --force, so a
 * nightly scale to zero needed --force both ways).
 */
function hpaTakes(hpa: Hpa, service: string, from: number, to: number): {undoes: boolean; note: string} {
  const name = hpa.metadata.name
  const min = hpa.spec?.minReplicas ?? 1
  const max = hpa.spec?.maxReplicas
  const bounds = `between its minReplicas ${min} and maxReplicas ${max ?? '?'}`
  if (min > 0 && to === 0) return {undoes: false, note: `the HorizontalPodAutoscaler ${name} leaves ${service} at 0 (Kubernetes disables autoscaling at 0 replicas) until it is scaled up again`}
  if (min > 0 && from === 0) {
    const set = to < min ? min : max !== undefined && to > max ? max : undefined
    return {
      undoes: false,
      note: `the HorizontalPodAutoscaler ${name} takes ${service} over again from ${to}${set !== undefined ? ` and sets it to ${set}` : ''}, keeping it ${bounds}`,
    }
  }
  return {undoes: true, note: `${service} is managed by the HorizontalPodAutoscaler ${name}: it sets its own count again (${bounds}) within seconds, undoing this scale (--force)`}
}

/** The report's fields for the HPA of the service (none without one). */
function hpaReport(hpa: {name: string; note: string; undoes: boolean} | undefined): Pick<ScaleReport, 'hpa' | 'force'> {
  return hpa ? {hpa: {name: hpa.name, note: hpa.note}, ...(hpa.undoes ? {force: true as const} : {})} : {}
}

/** `skycap scale SERVICE N`: scales, waits until ready, records it; later deploys keep the count. */
export async function scale(input: ScaleOptions, deps: DeployDeps): Promise<ScaleReport> {
  const clock = deps.clock ?? Date.now
  const options = {...input, replicas: parseReplicas(input.replicas)}
  const {loaded, env} = await openEnvironment({configPath: options.configPath, environment: options.environment, repository: false, envFlagOnly: true})
  const app = loaded.config.app
  // A service dropped from the work tree's skycap.yaml may still run (a rollback to a release that had it): its
  // Deployment decides, below. An environment's name is a mix-up, said at once.
  const unknown = env.services[options.service] ? undefined : unknownServiceError(loaded, options.service, 'skycap scale SERVICE N', withFlag(options.environment))
  if (unknown && Object.hasOwn(loaded.config.environments, options.service)) throw unknown
  if (options.replicas > env.maxReplicas) {
    const above = `${options.replicas} replicas is above the ceiling of ${env.maxReplicas} per service in ${env.name}`
    if (!options.force) {
      throw new UserError(`${above}; nothing was changed`, {
        hint: `Pass --force if ${options.replicas} is meant, or raise environments.${env.name}.maxReplicas in ${loaded.show(loaded.file)}.`,
        details: {replicas: options.replicas, maxReplicas: env.maxReplicas},
      })
    }
    deps.reporter.warn(`${above}; scaling anyway (--force)`)
  }
  const timeoutText = options.timeout ?? loaded.config.deploy?.timeout
  const timeoutMs = timeoutText !== undefined ? await parseDuration(timeoutText, options.timeout !== undefined ? '--timeout' : 'deploy.timeout') : DEFAULT_TIMEOUT_MS
  const waitMs = options.waitForLock !== undefined ? await parseDuration(options.waitForLock, '--wait-for-lock') : 0
  const {kubectl} = await connect(env, deps.kubectl, deps.reporter, {checkContextOnFirstCall: true})
  if (unknown) {
    // A name the file lacks: scaled only when it is a service of the release that runs and its Deployment is there.
    // Without an answer (no cluster at hand, a context not in the kubeconfig) it is the typo it most likely is:
    // unknown, with did-you-mean.
    const running = await deployedServices(kubectl, app, env.name).catch(() => new Set<string>())
    if (!running.has(options.service)) throw unknown
  }
  // What is scaled, from which count, and whether an HPA manages it: read under the lock (a deploy or a scale that held
  // it meanwhile may have changed each), and without one for --dry-run.
  const inspect = async () => {
    // A blue-green service is served by the slot its Service selects (web-blue or web-green): that one is scaled, and
    // the next deploy brings the new slot up at its count (keepScaledReplicas). The state is read whatever the work
    // tree's strategies say: a canary left mid-way whose strategy was since removed from skycap.yaml is still under
    // way, and a service the work tree makes rolling may be served by a blue-green slot (a rollback to a release where
    // it was blue-green).
    const rollouts = await rolloutsOf(kubectl, app, env.services, {always: true})
    refuseCanaryUnderWay(options.service, env.name, rollouts[options.service])
    const state = rollouts[options.service]
    const {target, selected} = await servingTarget(kubectl, options.service, state, deps.reporter)
    let deployment: KubeObject & {spec?: {replicas?: number}}
    try {
      deployment = await kubectl.json<KubeObject & {spec?: {replicas?: number}}>(['get', 'deployment', target])
    } catch (error) {
      if (error instanceof KubectlError && error.kind === 'not_found') {
        if (selected !== undefined) throw await missingSlotRefusal(kubectl, options.service, selected, env.name, state?.activeSlot)
        if (unknown) throw unknown
        throw new UserError(`service ${options.service} is not deployed in ${env.name} (namespace ${env.namespace})`, {hint: `Deploy it first: ${deployFirst(env.name)}.`})
      }
      throw error
    }
    // Several apps (or two environments) may share a namespace: scale only what skycap deployed for this one.
    const owner = ownershipOf(deployment, app, env.name)
    if (owner.owner !== 'this') {
      throw new OwnedElsewhereError(`Deployment/${target} in namespace ${env.namespace} belongs to ${describeOwner(owner, app)}, not to ${app} ${env.name}; nothing was changed`, {
        hint:
          owner.owner === 'unmanaged'
            ? `skycap scales only what it deployed: deploy ${app} ${env.name} first (${deployFirst(env.name)}), or scale that Deployment with kubectl.`
            : `skycap scales only what it deployed for ${app} ${env.name}: run skycap scale from the repository (or environment) that owns it.`,
        details: {environment: env.name, namespace: env.namespace, deployment: target, owner},
      })
    }
    const hpas = await kubectl.json<{items: Hpa[]}>(['get', 'horizontalpodautoscalers'])
    const hpa = hpas.items.find((h) => h.spec?.scaleTargetRef?.kind === 'Deployment' && h.spec.scaleTargetRef.name === target)
    const from = deployment.spec?.replicas ?? 1
    const autoscaled = hpa ? hpaTakes(hpa, options.service, from, options.replicas) : undefined
    if (hpa && autoscaled?.undoes && !options.force) {
      throw new UserError(`${options.service} is managed by the HorizontalPodAutoscaler ${hpa.metadata.name}; it would undo the change`, {
        hint: 'Change the HPA bounds in its template instead, or pass --force (the HPA sets its own count again within seconds); a scale to 0 and back needs neither.',
      })
    }
    return {target, deployment, from, hpa: hpa && autoscaled ? {name: hpa.metadata.name, note: autoscaled.note, undoes: autoscaled.undoes} : undefined}
  }
  if (options.dryRun) {
    const {from, hpa} = await inspect()
    return {
      environment: env.name,
      service: options.service,
      from,
      to: options.replicas,
      result: from === options.replicas ? 'unchanged' : 'planned',
      release: null,
      ...hpaReport(hpa),
    }
  }

  const lock = await acquireLock(kubectl, {
    app,
    environment: env.name,
    reason: `scale ${options.service} to ${options.replicas}`,
    durationSeconds: LEASE_SECONDS,
    waitMs,
    signal: deps.signal,
    onWait: (m) => deps.reporter.info(m),
  }).catch((error: unknown) => {
    // Nothing was deployed there: say what could not be scaled, not how to lock the environment by hand.
    if (!(error instanceof NamespaceMissingError)) throw error
    throw new NamespaceMissingError(`cannot scale ${options.service} in ${env.name}: its namespace ${env.namespace} does not exist yet (nothing was deployed there); nothing was changed`, {
      hint: `Deploy it first: ${deployFirst(env.name)}.`,
      details: {environment: env.name, namespace: env.namespace},
    })
  })
  const heartbeat = keepLockAlive(kubectl, app, lock.id)
  // A quit at once releases the lock first (it was left held for a minute).
  const quitAtOnce = deps.quitAtOnce ?? new QuitAtOnce()
  quitAtOnce.holdLock(() => releaseLock(kubectl, app, {id: lock.id}))
  // --timeout and the record's start and duration count from here: waiting for the lock is not the scale's time
  // (a deploy's record starts under the lock too).
  const started = clock()
  const deadline = started + timeoutMs
  let failure: {error: unknown} | undefined
  let released: boolean | undefined
  try {
    // The records too, before anything changes: an unreadable one stops the scale here, not after it. So does a watch
    // the user may not make (the scale went through, then its watch was refused and no record was written).
    const {target, deployment, from, hpa} = await inspect()
    const [releases] = await Promise.all([
      listReleases(kubectl, app, env.name, {manifests: false}),
      from === options.replicas ? undefined : refuseUnwatchable(kubectl, [deployment], appSelector(app, env.name), `the scale of ${options.service} in ${env.name}`),
    ])
    const report: ScaleReport = {
      environment: env.name,
      service: options.service,
      from,
      to: options.replicas,
      result: 'planned',
      release: null,
      ...hpaReport(hpa),
    }
    // Already at that count: nothing to scale, and no history entry for it (each one said "web 3 -> 3").
    if (from === options.replicas) return {...report, result: 'unchanged'}
    if (unknown) deps.reporter.warn(notInFileWarning(options.service))
    const slot = target === options.service ? '' : ` (Deployment ${target}, the active slot)`
    const previous = releases.find((r) => r.record.action !== 'scale')?.record
    const scaleRecord = () => ({
      number: nextReleaseNumber(releases),
      app,
      environment: env.name,
      action: 'scale' as const,
      revision: previous?.revision ?? null,
      images: previous?.images ?? {},
      configuredReplicas: previous?.configuredReplicas ?? configuredReplicas(env),
      user: whoAmI(),
      ciJob: ciJobUrl(),
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date(clock()).toISOString(),
      durationMs: clock() - started,
      // Forced over an HPA: said in history (it read "web 2 -> 12 succeeded" while the HPA had put it back to 10).
      scale: {service: options.service, from, to: options.replicas, ...(hpa?.undoes ? {force: true, hpa: hpa.name} : {})},
    })
    // From the scale on, a quit at once (a second Ctrl-C) records it as interrupted (the new count stood unrecorded).
    quitAtOnce.arm(() => saveRelease(kubectl, {...scaleRecord(), result: 'interrupted'}, undefined, releases, loaded.config.history?.keep ?? 10))
    deps.reporter.info(`Scaling ${options.service}${slot} in ${env.name} from ${from} to ${options.replicas}`)
    if (hpa?.undoes) deps.reporter.warn(hpa.note)
    // Events last seen before the scale are not about it (a scale makes no new ReplicaSet to date them by).
    const began = {at: clock(), clock}
    await kubectl.run(['scale', `deployment/${target}`, `--replicas=${options.replicas}`])
    const result = await watchRollout({
      kubectl,
      objects: [deployment],
      selector: appSelector(app, env.name),
      deadline,
      clock,
      signal: deps.signal,
      intervalMs: deps.intervalMs,
      onContact: (event) => reportContact(deps.reporter, event),
    })
    let failures: FailureReport[] = []
    if (result.outcome !== 'ready' && result.outcome !== 'interrupted') {
      failures = await explainFailures(kubectl, result.statuses, () => lineFilter({configured: configuredExcludes(loaded.config, [options.service]), exclude: [], grep: []}), began)
      for (const f of failures) deps.reporter.info(formatFailure(f))
    }
    const number = await quitAtOnce.own(() =>
      saveRelease(
        kubectl,
        {
          ...scaleRecord(),
          app,
          environment: env.name,
          action: 'scale',
          result: result.outcome === 'ready' ? 'succeeded' : result.outcome === 'interrupted' ? 'interrupted' : 'failed',
        },
        undefined,
        releases,
        loaded.config.history?.keep ?? 10,
        {
          // A scale has no release that "runs": the counts it set stand (it said "the release runs").
          onContact: (event) => reportContact(deps.reporter, event, `the new counts stand; skycap records the scale once it answers again (for up to ${RECORD_OUTAGE_MS / 1000}s)`),
          onRenumbered: (taken, to, why) => {
            deps.reporter.warn(renumberedNote(env.name, 'scale', taken, to, why))
            report.renumberedFrom ??= taken
          },
        },
      ),
    )
    report.release = number
    report.result = result.outcome === 'ready' ? 'succeeded' : result.outcome === 'timeout' ? 'timed-out' : result.outcome === 'interrupted' ? 'interrupted' : 'failed'
    // The count stays set (and recorded) whatever the watch saw: the way back is a scale to where it was.
    const back = `\`skycap scale ${options.service} ${from} -e ${env.name}\` goes back`
    if (result.outcome === 'interrupted')
      throw new InterruptedError(`scaling ${options.service} in ${env.name} interrupted; ${LOCK_RELEASED}`, {
        // The count was set and recorded; only the wait for its pods stopped.
        hint: `${options.service} goes on to ${options.replicas} replicas without skycap watching: \`skycap status ${env.name}\` shows how far it got; ${back}.`,
        details: {report, failures},
      })
    // A ResourceQuota's refusal: which one, and how to look at it (it waited for the timeout, then said neither).
    const quota = result.statuses.find((s) => s.quota)?.quota?.refusal.quota
    const quotaHint = quota ? `\`${kubectl.shown(`describe resourcequota ${quota}`)}\` shows the quota: raise it or free room; ` : ''
    if (result.outcome === 'timeout')
      throw new TimeoutError(`${options.service} did not reach ${options.replicas} ready replicas in time`, {
        hint: `${quotaHint}${options.service} stays asked for ${options.replicas}: \`skycap status ${env.name}\` shows how far it got; ${back}.`,
        details: {report, failures},
      })
    if (result.outcome !== 'ready')
      throw new DeployFailedError(`scaling ${options.service} failed: ${failures[0]?.message ?? result.outcome}`, {
        hint: `${quotaHint}${options.service} stays asked for ${options.replicas}; ${back}.`,
        details: {report, failures},
      })
    return report
  } catch (error) {
    failure = {error}
  } finally {
    heartbeat.stop()
    released = await releaseOwnLock(kubectl, app, lock.id, (m) => deps.reporter.warn(m))
    quitAtOnce.holdLock(undefined)
  }
  // Only an error gets here (the scale returns above): its message says whether the lock could be released.
  throw afterLockRelease(failure?.error, released ?? false)
}
