import {deployFirst, unknownServiceError} from '../config/environment.js'
import type {ServiceConfig, SkycapConfig} from '../config/types.js'
import {DEFAULT_TIMEOUT_MS} from '../deploy/replicas.js'
import type {FailureReport} from '../deploy/explain.js'
import {parseDuration} from '../duration.js'
import {connect, type KubectlFactory, openEnvironment, type Target} from '../env/connect.js'
import {DeployFailedError, InterruptedError, KubectlError, LockedError, SkycapError, UnreachableError, UserError} from '../errors.js'
import {reportContact} from '../kubectl/outage.js'
import {acquireLock, keepLockAlive, LEASE_SECONDS, type LockInfo, lockStatus, releaseLock} from '../lock/lease.js'
import {listReleases, saveRelease} from '../release/store.js'
import {abortableSleep} from '../sleep.js'
import {ANNOTATIONS, type KubeObject} from '../render/objects.js'
import type {Reporter} from '../ui/output.js'
import {resumable, runCanaries} from './canary.js'
import {checkFailure, existingSlots, missingSlot, missingSlotNote, noSlotNote, selectorSlot} from './strategy.js'
import {didYouMean} from '../suggest.js'
import {scaleDownOldSlots} from './rollout.js'
import {deployUnderWay, dropPending, readPending, readState, rolloutSummaries, type RolloutRequest, type RolloutState, type ServiceRolloutState, writeRequest} from './state.js'
import type {StrategyContext} from './strategy.js'

export interface RolloutControlOptions {
  environment?: string
  service?: string
  configPath?: string
  /** promote: skip the remaining steps. */
  full?: boolean
  /** resume: how long to wait for the lock (a killed CLI's lock expires after LEASE_SECONDS). */
  waitForLock?: string
  /** Instead of waitForLock, from skycap itself: promote and abort continuing a rollout nobody runs do not wait (0). */
  waitMs?: number
}

export interface RolloutControlDeps {
  kubectl: KubectlFactory
  reporter: Reporter
  signal?: AbortSignal
  clock?: () => number
  fetch?: typeof fetch
}

/**
 * A service's rollout as `rollout status` shows it. `pending`: a deploy of release N holds the lock and no canary of N
 * has started yet (it validates, runs its hooks or applies); `last` is then the canary before, finished.
 */
export type ShownRollout = Omit<ServiceRolloutState, 'unit' | 'phase'> & {
  phase: ServiceRolloutState['phase'] | 'pending'
  request?: RolloutRequest
  last?: Omit<ServiceRolloutState, 'unit'>
  /**
   * A canary whose promotion failed (its Deployment took the release): the revision that Deployment runs now, when it
   * is no longer the release's (the deploy's rollback, or `skycap rollback`, returned it since).
   */
  runsNow?: string
  /**
   * A blue-green service whose live Service selects another slot than the state's active one (switched by hand), a
   * slot no Deployment has, or none: what it selects (null: none) and what that means. Absent when they agree, when
   * the Service is a slot coming up during its switch, or when the Service could not be read.
   */
  selected?: {slot: string | null; note: string}
}

export interface RolloutStatusReport {
  environment: string
  /** Per service: where its blue-green or canary rollout stands (slots, weight, step), and a request waiting. */
  services: Record<string, ShownRollout>
  /** The deploy that holds the lock, and the release it rolls out (its canaries may not have started). */
  deploying?: {release: number; startedBy: string; startedAt: string}
  lock: LockInfo | null
}

interface Opened {
  app: string
  environment: string
  target: Target
  keep: number
  config: SkycapConfig
  services: Record<string, ServiceConfig>
}

/** `command`: how the user called it (`skycap promote`), for the hint when a service is named as the environment. */
async function open(options: RolloutControlOptions, deps: RolloutControlDeps, command: string): Promise<Opened> {
  const {loaded, env} = await openEnvironment({...options, repository: false, serviceUsage: options.service === undefined ? command : undefined})
  const unknown =
    options.service !== undefined && !loaded.config.services[options.service]
      ? unknownServiceError(loaded, options.service, undefined, options.environment === undefined ? undefined : {environment: env.name, how: 'as the environment'})
      : undefined
  // An environment's name given as the service is a mix-up, said at once.
  if (unknown && Object.hasOwn(loaded.config.environments, options.service as string)) throw unknown
  const target = await connect(env, deps.kubectl, deps.reporter, {checkContextOnFirstCall: true})
  // A service since removed from skycap.yaml whose canary was left mid-way: the refusals of deploy and scale name
  // `skycap abort ENV SERVICE`, which said "unknown service". It is known when the rollout state has it.
  if (unknown) await leftOnCluster(target.kubectl, {app: loaded.config.app, environment: env.name, command}, options.service as string, unknown)
  return {app: loaded.config.app, environment: env.name, target, keep: loaded.config.history?.keep ?? 10, config: loaded.config, services: env.services}
}

/**
 * Throws `unknown` unless the rollout state has a canary of `service`. The state is asked once (no retries, no wait
 * through an outage: its answer only adds to the error). A cluster that cannot be asked makes the error say both: not
 * in skycap.yaml, and not checked on the cluster, with kubectl's reason and the exit code of that reason (4 for an
 * unreachable API server or refused credentials); it said only "unknown service", after the retries' 30 s when the
 * API server did not answer.
 */
async function leftOnCluster(kubectl: Target['kubectl'], asked: {app: string; environment: string; command: string}, service: string, unknown: UserError): Promise<void> {
  const {app, environment, command} = asked
  let state
  try {
    state = await readState(kubectl, app, undefined, true)
  } catch (error) {
    if (error instanceof InterruptedError) throw error
    const cause = error instanceof SkycapError ? error : new SkycapError(error instanceof Error ? error.message : String(error))
    const known = (unknown.details?.known as string[] | undefined) ?? []
    const options = {
      hint: `${didYouMean(service, known, (n) => `\`${n}\``).replace(/^; d/, 'D')} Services of ${app} in skycap.yaml: ${known.join(', ')}. If a canary of ${service} is left in ${environment}, \`${command} ${environment} ${service}\` reaches it once the cluster answers. ${cause.hint ?? ''}`.trim(),
      details: {...unknown.details, cluster: {code: cause.code, message: cause.message}},
      cause,
    }
    const message = `unknown service "${service}": it is not in skycap.yaml, and skycap could not ask the cluster of ${environment} whether a canary of that name is left from an earlier skycap.yaml: ${cause.message}`
    if (cause instanceof KubectlError) throw new KubectlError(cause.kind, message, cause.args, cause.stderr, options)
    if (cause instanceof UnreachableError) throw new UnreachableError(message, options)
    if (cause instanceof UserError) throw new UserError(message, options)
    throw new SkycapError(message, options)
  }
  if (!state.services[service]) throw unknown
}

/**
 * A canary whose promotion failed left its Deployment running the release, as its state says; the deploy's automatic
 * rollback, or `skycap rollback`, returns it after (`rollout status` said "it runs it" of a release rolled back).
 * Read from the live Deployment for those canaries alone; an unreadable one is left as the state says.
 */
async function rolledBackSince(kubectl: Target['kubectl'], state: ServiceRolloutState | undefined, shown: ShownRollout): Promise<void> {
  const deployment = state?.unit?.deployment
  if (state?.type !== 'canary' || !state.promoting || !['failed', 'aborted'].includes(state.phase) || !deployment) return
  const live = await kubectl.json<KubeObject>(['get', 'deployment', deployment.metadata.name]).catch(() => undefined)
  const [now, then] = [live?.metadata.annotations?.[ANNOTATIONS.revision], deployment.metadata.annotations?.[ANNOTATIONS.revision]]
  if (now && then && now !== then) shown.runsNow = now
}

/**
 * The state names the slot a blue-green service's last rollout made active; `status`, `scale` and the next deploy go
 * by the slot its live Service selects. One Service switched by hand since (to the other slot, to a slot no Deployment
 * has, or to none) is said beside the state (`rollout status` showed the recorded slot as serving). One read for every
 * blue-green service shown; a read that fails leaves the state as it is.
 */
async function liveSelections(kubectl: Target['kubectl'], environment: string, services: Record<string, ShownRollout>): Promise<void> {
  const names = Object.keys(services).filter((n) => services[n]?.type === 'blueGreen' && services[n]?.activeSlot && services[n]?.phase !== 'pending')
  if (!names.length) return
  const r = await kubectl
    .run(['get', ...names.flatMap((n) => [`service/${n}`, `deployment/${n}-blue`, `deployment/${n}-green`]), '-o', 'json', '--ignore-not-found'], {allowFailure: true})
    .catch(() => undefined)
  if (!r || r.exitCode !== 0) return
  const items = r.stdout.trim() ? ((JSON.parse(r.stdout) as {items?: KubeObject[]}).items ?? []) : []
  const has = (kind: string, name: string) => items.some((o) => o.kind === kind && o.metadata.name === name)
  for (const name of names) {
    const shown = services[name] as ShownRollout
    const recorded = shown.activeSlot as NonNullable<ShownRollout['activeSlot']>
    const live = items.find((o) => o.kind === 'Service' && o.metadata.name === name)
    if (!live) continue
    const slots = existingSlots(name, (d) => has('Deployment', d))
    const value = selectorSlot(live)
    const missing = missingSlot(live, slots)
    if (value === undefined) {
      shown.selected = {slot: null, note: noSlotNote(name, live, recorded, 'rollout status shows') as string}
    } else if (missing !== undefined) {
      const said = missingSlotNote(name, missing, slots, {deploy: deployFirst(environment), assumed: recorded, shown: (args) => kubectl.shown(args)})
      shown.selected = {slot: missing, note: `${said.problem}; ${said.fix}`}
    } else if (value !== recorded && !(shown.phase === 'progressing' && value === shown.previousSlot)) {
      // A rollout under way switches the Service to the slot coming up before it records the switch.
      shown.selected = {
        slot: value,
        note: `Service ${name} selects ${name}-${value}, not ${name}-${recorded} as the rollout state says (switched by hand?): ${name}-${value} takes the traffic, and status, scale and the next deploy or rollback go by the Service`,
      }
    }
  }
}

/** `skycap rollout status ENV [SERVICE]`. */
export async function rolloutStatus(options: RolloutControlOptions, deps: RolloutControlDeps): Promise<RolloutStatusReport> {
  const {app, environment, target, services: configured} = await open(options, deps, 'skycap rollout status')
  const [state, lock] = await Promise.all([readState(target.kubectl, app), lockStatus(target.kubectl, app)])
  const services: RolloutStatusReport['services'] = {}
  for (const [name, s] of Object.entries(state.services)) {
    if (options.service && name !== options.service) continue
    const {unit: _unit, ...shown} = s
    const request = state.requests[name]
    services[name] = {...shown, ...(request ? {request} : {})}
  }
  await Promise.all([
    ...Object.keys(services).map(async (name) => rolledBackSince(target.kubectl, state.services[name], services[name] as ShownRollout)),
    liveSelections(target.kubectl, environment, services),
  ])
  const deploying = deployUnderWay(state, lock)
  if (deploying) {
    // The canary services this release may start: until one of its canaries starts, the state holds the last one.
    for (const [name, svc] of Object.entries(configured)) {
      if (svc.strategy?.type !== 'canary' || (options.service && name !== options.service)) continue
      const last = services[name]
      if (last?.release === deploying.release) continue
      const {request: _request, ...before} = last ?? {}
      services[name] = {
        type: 'canary',
        release: deploying.release,
        phase: 'pending',
        startedBy: deploying.startedBy,
        startedAt: deploying.startedAt,
        updatedAt: deploying.startedAt,
        message: `no canary of release ${deploying.release} has started yet (its deploy validates, runs its hooks or applies it)`,
        ...(last ? {last: before as Omit<ServiceRolloutState, 'unit'>} : {}),
        ...(last?.request ? {request: last.request} : {}),
      }
    }
  }
  const {lockId: _lockId, ...shownDeploy} = deploying ?? {}
  return {environment, services, ...(deploying ? {deploying: shownDeploy as NonNullable<RolloutStatusReport['deploying']>} : {}), lock: lock ?? null}
}

export interface ResumeReport {
  environment: string
  /** The services whose canary this run finished (promoted, or aborted: then it throws). */
  resumed: string[]
  release: number | null
  scaledDown: string[]
  /** The old blue-green slots due for scale-down left up (the lock held by someone else, no API server), and why. */
  scaleDownLeft?: {slots: string[]; reason: string}
}

/**
 * `skycap rollout resume ENV`: takes the lock (waiting for a killed CLI's to expire), continues every canary the
 * state shows mid-way from its step, writes the release record the deploy could not, and scales down blue-green
 * slots whose delay is over. Never starts a second rollout.
 */
export async function resumeRollout(options: RolloutControlOptions, deps: RolloutControlDeps): Promise<ResumeReport> {
  const {app, environment, target, keep, config, services} = await open(options, deps, 'skycap rollout resume')
  const clock = deps.clock ?? Date.now
  const waitMs = options.waitMs ?? (await parseDuration(options.waitForLock ?? `${LEASE_SECONDS + 30}s`, '--wait-for-lock'))
  const {kubectl} = target
  // promote and abort (waitMs given) have no --wait-for-lock for the hint to name.
  const lock = await acquireLock(kubectl, {
    app,
    environment,
    reason: `rollout resume ${environment}`,
    durationSeconds: LEASE_SECONDS,
    waitMs,
    signal: deps.signal,
    waitFlag: options.waitMs === undefined,
    onWait: (m) => deps.reporter.info(m),
  })
  const heartbeat = keepLockAlive(kubectl, app, lock.id, {onLost: () => deps.reporter.warn(`the lock of ${environment} is no longer held by this resume`)})
  let report: ResumeReport
  try {
    const before = (await readState(kubectl, app)).services
    const todo = resumable(before).filter((t) => !options.service || t.unit.service === options.service)
    report = {environment, resumed: todo.map((t) => t.unit.service), release: todo[0]?.state.release ?? null, scaledDown: []}
    if (todo.length) {
      deps.reporter.info(`Resuming the canary of ${report.resumed.join(', ')} (release ${report.release ?? '?'})`)
      const started = clock()
      const context: StrategyContext = {
        // As in a deploy's rollout: the canary's steps and state wait out an API server that stops answering.
        kubectl: kubectl.waitingOut({
          deadline: started + DEFAULT_TIMEOUT_MS,
          clock,
          intervalMs: 1000,
          ...(deps.signal ? {signal: deps.signal} : {}),
          onContact: (event) => reportContact(deps.reporter, event, 'the canary goes on in the cluster as it was, and skycap takes it on once it answers, until its timeout'),
        }),
        namespace: target.namespace,
        app,
        environment,
        release: report.release,
        reporter: deps.reporter,
        config,
        deadline: started + DEFAULT_TIMEOUT_MS,
        clock,
        ...(deps.signal ? {signal: deps.signal} : {}),
        ...(deps.fetch ? {fetch: deps.fetch} : {}),
      }
      // A canary of this release aborted or failed already (`skycap abort test web` with nobody running it): the
      // release is failed, so the ones resumed now go back to stable too, as in a deploy (one was promoted beside it).
      const gone = Object.entries(before).find(([name, s]) => s.type === 'canary' && s.release === report.release && !report.resumed.includes(name) && (s.phase === 'aborted' || s.phase === 'failed'))
      const prior = gone ? {service: gone[0], failure: checkFailure(`${gone[1].phase === 'aborted' ? 'abort' : 'canary'} ${gone[0]}`, gone[1].message ?? gone[1].phase)} : undefined
      const failures = await runCanaries(todo, context, prior).catch((error: unknown) => {
        // Stopped (Ctrl-C, a CI job cancelled): the canaries stay where they stand, which the bare "interrupted while …"
        // did not say.
        if (!(error instanceof InterruptedError)) throw error
        throw new InterruptedError(
          `rollout resume of ${environment} interrupted (${error.message}): the canary of ${report.resumed.join(', ')} stays where it stands, release ${report.release ?? '?'} still pending`,
          {hint: `\`skycap rollout status ${environment}\` shows where; \`skycap rollout resume ${environment}\` goes on, \`skycap promote\` or \`skycap abort\` ends it.`, details: {report}},
        )
      })
      // Where each canary of the release stands now, those not resumed included: the release is recorded once none is
      // under way, from all of them (a promote or abort of one service recorded it from that one alone).
      const after = Object.entries((await readState(kubectl, app)).services).filter(([, s]) => s.type === 'canary' && s.release === report.release)
      const underWay = after.filter(([, s]) => s.phase === 'progressing' || s.phase === 'paused').map(([name]) => name)
      const onRelease = after.filter(([, s]) => s.phase === 'completed' || s.promoting).map(([name]) => name)
      const stable = after.filter(([, s]) => (s.phase === 'aborted' || s.phase === 'failed') && !s.promoting).map(([name]) => name)
      // A promotion whose pods failed also fails the release, though its service runs it.
      const failed = after.some(([, s]) => s.phase === 'aborted' || s.phase === 'failed')
      // The release's other services (rolling, blue-green) were applied by the deploy that was stopped and still run it:
      // said, not undone here (`skycap rollback` does that).
      const others = Object.entries(services)
        .filter(([name, s]) => s.strategy?.type !== 'canary' && !after.some(([n]) => n === name))
        .map(([name]) => name)
      const runs = (names: string[]) => (names.length === 1 ? 'runs' : 'run')
      const release = `release ${report.release ?? '?'}`
      const stillRun = [...(failed ? onRelease : []), ...others]
      const where = [
        ...(stable.length ? [`${stable.join(', ')} ${stable.length === 1 ? 'is' : 'are'} stable again`] : []),
        ...(stillRun.length ? [`${stillRun.join(', ')} still ${runs(stillRun)} ${release}`] : []),
      ].join('; ')
      if (underWay.length) {
        deps.reporter.info(`${release} is recorded once the canary of ${underWay.join(', ')} is done too (\`skycap rollout resume ${environment}\`, \`skycap promote\` or \`skycap abort\`)`)
      } else {
        // Every canary that ended the release, named (the record named the first alone, two canaries aborted at once).
        const ended = failures.length ? failures : [prior?.failure ?? checkFailure('canary', 'a canary of the release was aborted')]
        const unrun = await recordPending(target, app, keep, failed ? ended : [], clock, where, services)
        if (unrun) deps.reporter.warn(unrun)
      }
      if (failures.length) {
        const why = canariesEnded(failures, environment)
        throw new DeployFailedError(`${why}; ${where}`, {
          hint: stillRun.length
            ? `\`skycap rollback ${environment}\` returns ${stillRun.join(', ')} to the release before; or fix the release and deploy again.`
            : `\`skycap rollout status ${environment}\` shows the state; fix the release and deploy again.`,
          details: {report: {...report, failures}},
        })
      }
    }
  } finally {
    heartbeat.stop()
    await releaseLock(kubectl, app, {id: lock.id}).catch(() => undefined)
  }
  const done = await scaleDownOldSlots(kubectl, {services, app, environment, reporter: deps.reporter, clock, signal: deps.signal})
  report.scaledDown = done.scaled
  if (done.left) report.scaleDownLeft = done.left
  return report
}

/**
 * Writes the record the interrupted deploy left pending: succeeded with its manifests, or failed by `failures` (the
 * canaries of the release back on stable, the first that failed it first), `where` saying where each service stands.
 */
async function recordPending(
  target: Target,
  app: string,
  keep: number,
  failures: FailureReport[],
  clock: () => number,
  where: string,
  services: Record<string, {strategy?: {type: string}}>,
): Promise<string | undefined> {
  const pending = await readPending(target.kubectl, app)
  if (!pending) return undefined
  const ok = failures.length === 0
  // The deploy runs the postdeploy hooks once its canaries finished; it ended before, and this command runs none.
  const hooks = pending.postdeploy ?? []
  const unrun =
    ok && hooks.length
      ? `the postdeploy hook${hooks.length === 1 ? '' : 's'} ${hooks.join(', ')} of release ${pending.record.number} did not run: the deploy that runs ${hooks.length === 1 ? 'it' : 'them'} ended before its canary finished; run ${hooks.length === 1 ? 'it' : 'them'} by hand (\`skycap run SERVICE -- COMMAND\`)`
      : undefined
  // Where each blue-green and canary service of the release ended, as a deploy's record says (history's note): the
  // record written over the interrupted one had none, though the interrupted one did.
  const [releases, rollouts] = await Promise.all([
    listReleases(target.kubectl, app, pending.record.environment, {manifests: false}),
    rolloutSummaries(target.kubectl, app, services, pending.record.number),
  ])
  // A deploy stopped by Ctrl-C recorded the release as interrupted, its canary still paused: the outcome replaces that
  // record, written over it.
  const replace = releases.find((r) => r.record.number === pending.record.number)?.name
  const finished = clock()
  await saveRelease(
    target.kubectl,
    {
      ...pending.record,
      ...(Object.keys(rollouts).length ? {rollouts} : {}),
      result: ok ? 'succeeded' : 'failed',
      finishedAt: new Date(finished).toISOString(),
      durationMs: finished - Date.parse(pending.record.startedAt),
      // Each canary that ended the release (history's note named the first alone when `skycap abort ENV` aborted two).
      ...(ok ? {} : {failed: (failures[0] as FailureReport).ref, message: `${failures.map((f) => `${f.ref}: ${f.message}`).join('; ')}; the canary was aborted: ${where}`}),
      ...(unrun ? {postdeployNotRun: hooks} : {}),
    },
    ok ? pending.manifests : undefined,
    releases.filter((r) => r.record.number !== pending.record.number),
    pending.keep || keep,
    replace === undefined ? {} : {replace},
  )
  await dropPending(target.kubectl, app)
  return unrun
}

/**
 * What ended the canaries of a release, each named: `the canary of web in test was aborted by skycap abort during the
 * pause at step 2; the canary of api …`, those ended for the same reason together (`the canaries of web, api in test
 * were …`). Only the first was named, though `skycap abort ENV` aborted every canary.
 */
export function canariesEnded(failures: FailureReport[], environment: string): string {
  // In the order they failed (the first failed the release); a failure other than an abort is a group of its own.
  const groups = new Map<string, string[]>()
  for (const f of failures) {
    // `abort shop: aborted by skycap abort at step 2` read as a canary of the environment, aborted by "abort shop".
    if (f.ref.startsWith('abort ')) groups.set(f.message, [...(groups.get(f.message) ?? []), f.ref.slice('abort '.length)])
    else groups.set(`${f.ref}: ${f.message}`, [])
  }
  return [...groups]
    .map(([text, services]) =>
      services.length === 0
        ? `a canary in ${environment} was aborted: ${text}`
        : services.length === 1
          ? `the canary of ${services[0]} in ${environment} was ${text}`
          : `the canaries of ${services.join(', ')} in ${environment} were ${text}`,
    )
    .join('; ')
}

export interface RequestReport {
  environment: string
  action: 'promote' | 'abort'
  services: string[]
  /** Who acted on the request: the running deploy (by its lock holder), or this command itself. */
  handledBy: string
  result?: ResumeReport
  /** Where each canary asked stands after it: phase, and why it ended (each aborted canary named, not the first alone). */
  canaries: Record<string, {phase: ServiceRolloutState['phase']; message?: string}>
  /** An abort done here: what it did and what it left (the services that still run the release), as said on stderr. */
  message?: string
}

/**
 * `skycap promote|abort ENV [SERVICE]`: asks the process running the canary (it holds the lock) and waits until it
 * acted; with nobody running it (a killed CLI), acts itself, as `rollout resume` would.
 */
export async function requestRollout(action: 'promote' | 'abort', options: RolloutControlOptions, deps: RolloutControlDeps): Promise<RequestReport> {
  const {app, environment, target} = await open(options, deps, `skycap ${action}`)
  const {kubectl} = target
  const clock = deps.clock ?? Date.now
  const asked = (await readState(kubectl, app)).services
  const running = resumable(asked)
    .map((t) => t.unit.service)
    .filter((s) => !options.service || s === options.service)
  if (!running.length) {
    // A blue-green service was said to have "no canary in progress": it has none to have (promote and abort act on canaries).
    const other = options.service ? asked[options.service]?.type : undefined
    if (other === 'blueGreen')
      throw new UserError(`${options.service} is a blue-green service: skycap ${action} acts on canaries; nothing to ${action}`, {
        hint: `A blue-green deploy switches once its checks pass; \`skycap rollback ${environment}\` switches back while the old slot is up. \`skycap rollout status ${environment}\` shows where it stands.`,
      })
    throw new UserError(`no canary of ${environment}${options.service ? ` for ${options.service}` : ''} is in progress; nothing to ${action}`, {
      hint: `\`skycap rollout status ${environment}\` shows the last rollouts.`,
    })
  }
  const request: RolloutRequest = action === 'abort' ? 'abort' : options.full ? 'promote-full' : 'promote'
  // One write for every service: a deploy that read the first request alone aborted the release's other canaries as
  // "stopped because web failed", their own request left unread.
  await writeRequest(kubectl, app, environment, running, request)
  deps.reporter.info(`Asked to ${action} ${running.join(', ')} in ${environment}`)
  /** Undefined: another promote or abort took the lock first and runs the rollout now; it acts on this request too. */
  const actHere = async (): Promise<RequestReport | undefined> => {
    deps.reporter.info('Nobody runs the rollout now: continuing it here')
    try {
      const result = await resumeRollout({...options, waitMs: 0}, deps)
      const canaries = await expectOutcome(kubectl, app, environment, action, running)
      return {environment, action, services: running, handledBy: 'this command', result, canaries}
    } catch (error) {
      if (error instanceof LockedError) return undefined
      // A promote of a canary whose release was aborted meanwhile (another of its canaries): not done, and said so.
      if (action === 'promote' && error instanceof DeployFailedError) {
        await expectOutcome(kubectl, app, environment, action, running)
        throw error
      }
      if (action === 'abort' && error instanceof DeployFailedError) {
        const canaries = await expectOutcome(kubectl, app, environment, action, running)
        // What the abort did and what it left (services of the release that were not canaries), with the next step.
        deps.reporter.info(error.message)
        if (error.hint) deps.reporter.info(error.hint)
        return {environment, action, services: running, handledBy: 'this command', canaries, message: error.message}
      }
      throw error
    }
  }
  const lock = await lockStatus(kubectl, app)
  let holder = lock && !lock.expired ? lock.holder : undefined
  if (!holder) {
    const done = await actHere()
    if (done) return done
    deps.reporter.info(`Another command took the lock of ${environment} to continue the rollout: waiting for it to act on the ${action}`)
  }
  // The lock holder reads and clears the request within a poll or two; an abort also waits for the return to stable.
  // A holder that died (its lock expires) leaves it to this command.
  const deadline = clock() + 5 * 60_000
  for (;;) {
    const [state, now] = await Promise.all([readState(kubectl, app), lockStatus(kubectl, app)])
    if (now && !now.expired) holder = now.holder
    else if (state.requests[running[0] as string] !== undefined) {
      const done = await actHere()
      if (done) return done
      continue
    }
    // A promote waits out an abort under way too (its request is cleared before stable is back, the phase changes
    // only at the end): it said "promoted" of canaries the abort then returned to stable.
    const pending = running.filter((s) => {
      const service = state.services[s]
      const underWay = ['progressing', 'paused'].includes(service?.phase ?? '')
      return (
        state.requests[s] !== undefined || (underWay && (action === 'abort' || service?.aborting !== undefined || releaseAborting(state, s) || (action === 'promote' && !pastPause(asked[s], service))))
      )
    })
    if (!pending.length) {
      const canaries = await expectOutcome(kubectl, app, environment, action, running)
      return {environment, action, services: running, handledBy: holder ?? 'another process', canaries}
    }
    if (clock() >= deadline) {
      throw new UserError(`${holder ?? 'another process'} holds the lock of ${environment} and has not acted on the ${action} of ${pending.join(', ')} within 5 minutes`, {
        hint: `If that process is gone, its lock expires within ${LEASE_SECONDS}s: run \`skycap rollout resume ${environment}\` then.`,
      })
    }
    await abortableSleep(1000, deps.signal)
  }
}

/**
 * Whether a canary paused when the promote was asked (`before`) is past that pause (`now`): at a later step, or, after
 * the last pause, promoting (from then on an abort is too late). Taken and not yet there, the release's abort still
 * returns it to stable: a promote that said "promoted" then, of a canary an abort given a moment later aborted, was
 * wrong. One not paused when asked is past it once the request is taken (it skips its next pause).
 */
function pastPause(before: ServiceRolloutState | undefined, now: ServiceRolloutState | undefined): boolean {
  if (before?.phase !== 'paused' || !now || now.release !== before.release || now.promoting) return true
  const step = now.step ?? 0
  return step > (before.step ?? 0) && step < (now.steps ?? 0)
}

/**
 * Whether another service of `service`'s release is being aborted or has failed (an abort asked of it, under way, or
 * done): the release's canaries are all aborted then, this one too, a moment later. A promote waits for that: it said
 * "promoted" of a canary the release's abort then returned to stable.
 */
function releaseAborting(state: RolloutState, service: string): boolean {
  const release = state.services[service]?.release
  return Object.entries(state.services).some(
    ([name, other]) => name !== service && other.release === release && (state.requests[name] === 'abort' || other.aborting !== undefined || other.phase === 'aborted' || other.phase === 'failed'),
  )
}

/**
 * A promote and an abort given at about the same time write the same request key: the last one written is the one
 * acted on. The other command must not report what did not happen. Returns where each of `services` stands.
 */
async function expectOutcome(kubectl: Target['kubectl'], app: string, environment: string, action: 'promote' | 'abort', services: string[]): Promise<RequestReport['canaries']> {
  const state = await readState(kubectl, app)
  const outcome: RequestReport['canaries'] = {}
  for (const s of services) {
    const shown = state.services[s]
    if (shown) outcome[s] = {phase: shown.phase, ...(shown.message ? {message: shown.message} : {})}
  }
  const contrary = services.filter((s) => {
    const phase = state.services[s]?.phase
    // A promoted canary that failed or was aborted after all (another service of its release failed, or was aborted).
    return action === 'abort' ? phase === 'completed' : phase === 'aborted' || phase === 'failed'
  })
  if (!contrary.length) return outcome
  // An abort is also too late once the promotion has begun (the last step done): the release then goes to the end.
  const first = state.services[contrary[0] as string]
  const why =
    action === 'abort'
      ? 'the canary was promoted to the end first (its promotion had begun, or a promote given at the same time came first)'
      : first?.phase === 'aborted' && !/^aborted because /.test(first.message ?? '')
        ? 'another request (an abort given at the same time) came first, and the canary was aborted'
        : `the canary was aborted after all, back to stable (${first?.message ?? 'the release failed'})`
  throw new SkycapError(`the ${action} of ${contrary.join(', ')} in ${environment} was not done: ${why}`, {
    hint:
      action === 'abort'
        ? `\`skycap rollback ${environment}\` returns the release before it; \`skycap history ${environment}\` shows the releases.`
        : `\`skycap rollout status ${environment}\` shows where it stands; \`skycap history ${environment}\` the release's result.`,
    details: {services: contrary, phase: first?.phase ?? null},
  })
}
