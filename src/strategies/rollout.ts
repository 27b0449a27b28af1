import type {ServiceConfig} from '../config/types.js'
import {ApiServerUnreachableError, InterruptedError, KubectlError, LockedError, UserError} from '../errors.js'
import {applyAndWatch, type RolloutOptions, type RolloutResult} from '../deploy/rollout.js'
import {HookFailedError} from '../hooks/hooks.js'
import {acquireLock, keepLockAlive, LEASE_SECONDS, type LockInfo, releaseLock} from '../lock/lease.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import {reportContact} from '../kubectl/outage.js'
import type {KubeObject} from '../render/objects.js'
import {whoAmI} from '../identity.js'
import {abortableSleep} from '../sleep.js'
import type {Reporter} from '../ui/output.js'
import {blueGreen, recordSlotsComingUp, removeNewSlots} from './blue-green.js'
import {canary, resumable} from './canary.js'
import {rolling} from './rolling.js'
import {dropPending, type PendingRelease, readState, savePending, writeServiceState} from './state.js'
import {type LiveObjects, markStrategies, type Placement, type ServiceUnit, serviceUnits, servedSlot, SLOT_LABEL, type Slot, type Strategy, type StrategyContext, strategyOf} from './strategy.js'

const STRATEGIES: Record<Strategy['type'], Strategy> = {rolling, blueGreen, canary}

/** The strategy that places a unit: a rollback (recorded objects, no services) of a canary service goes straight back, no steps, no pauses. */
function strategyFor(unit: ServiceUnit, services: Record<string, ServiceConfig> | undefined): Strategy {
  return unit.strategy.type === 'canary' && !services ? rolling : STRATEGIES[unit.strategy.type]
}

export interface ReleaseRolloutOptions extends RolloutOptions {
  app: string
  environment: string
  namespace: string
  release: number | null
  /** skycap.yaml's services of the environment: a deploy marks its Deployments with their strategy; a rollback's recorded objects carry theirs. */
  services?: Record<string, ServiceConfig>
  fetch?: typeof fetch
  /** The record a successful deploy writes: kept in the cluster while a canary runs, for `rollout resume` to write it. */
  pending?: PendingRelease
}

export interface ReleaseRollout extends RolloutResult {
  /** The objects as they are once the rollout completed: what the release record keeps. */
  recorded: KubeObject[]
  /** What pruning must leave: the recorded objects, and the old slots kept for an instant rollback. */
  keep: KubeObject[]
}

/**
 * The deploy's one call to roll a release out: objects of rolling services are applied and watched as they always
 * were; blue-green and canary services are placed by their strategy, watched in the same pass, then completed
 * (checks, traffic switch, canary steps).
 */
export async function rollOutRelease(options: ReleaseRolloutOptions): Promise<ReleaseRollout> {
  const objects = options.services ? markStrategies(options.objects, options.services) : options.objects
  const {units, rest} = serviceUnits(objects)
  if (units.length === 0) {
    const result = await applyAndWatch({...options, objects})
    return {...result, recorded: objects, keep: objects}
  }
  const clock = options.clock ?? Date.now
  // Every step around the apply and watch (which wait out an outage themselves) waits for an API server that stops
  // answering, until the deadline: the slots coming up, the switch, the canary's steps, the rollout state. A refused
  // call there ended the deploy with traffic half moved, no record and no rollback.
  const kubectl = options.kubectl.waitingOut({
    deadline: options.deadline,
    clock,
    intervalMs: options.intervalMs ?? 1000,
    ...(options.signal ? {signal: options.signal} : {}),
    onContact: (event) => reportContact(options.reporter, event, 'what was applied goes on in the cluster, and skycap takes the rollout on once it answers, until its timeout'),
  })
  const live = await liveObjects(kubectl, options.selector)
  const strategyOf = (u: ServiceUnit) => strategyFor(u, options.services)
  const placements = units.map((u) => strategyOf(u).place(u, live))
  const rising = placements.filter((p) => strategyOf(p.unit) === blueGreen && p.previousSlot)
  // The services' states before this rollout: a predeploy hook that fails stops it before any slot is applied, and the
  // state said "coming up" for a slot that never came (rollout resume then said it scaled it to 0).
  const before = rising.length ? (await readState(kubectl, options.app, options.signal)).services : {}
  await recordSlotsComingUp(rising, {kubectl, app: options.app, environment: options.environment, release: options.release, clock})
  const result = await applyAndWatch({...options, objects: [...rest, ...placements.flatMap((p) => p.first)]}).catch(async (error: unknown) => {
    if (error instanceof HookFailedError) {
      for (const p of rising) {
        await writeServiceState(options.kubectl, options.app, options.environment, p.unit.service, before[p.unit.service] ?? null).catch((e: unknown) =>
          options.reporter.warn(`could not put back the rollout state of ${p.unit.service}: ${(e as Error).message.split('\n')[0]}`),
        )
      }
    }
    throw error
  })
  const recorded = [...rest, ...placements.flatMap((p) => p.recorded)]
  const keep = [...recorded, ...placements.flatMap((p) => p.keep)]
  const context: StrategyContext = {
    kubectl,
    namespace: options.namespace,
    app: options.app,
    environment: options.environment,
    release: options.release,
    reporter: options.reporter,
    config: options.config,
    deadline: options.deadline,
    clock,
    ...(options.signal ? {signal: options.signal} : {}),
    ...(options.intervalMs !== undefined ? {intervalMs: options.intervalMs} : {}),
    ...(options.fetch ? {fetch: options.fetch} : {}),
  }
  if (result.outcome === 'failed' || result.outcome === 'timeout') {
    // A release that failed before any switch: its new slots and canaries never took traffic. They go now, as after
    // failed checks, and the state says so; left, the state said "coming up" for slots the rollback pruned.
    try {
      await removeNewSlots(
        placements.filter((p) => strategyOf(p.unit) === blueGreen),
        context,
        result.failures,
      )
      await removeUnstartedCanaries(
        kubectl,
        placements.filter((p) => strategyOf(p.unit) === canary),
        context,
        `release ${options.release ?? '?'} failed before it (${result.failures[0]?.ref ?? result.outcome})`,
      )
    } catch (error) {
      // The failure stays what the deploy records and rolls back from: a SIGTERM during this clean-up (a cancelled CI
      // job) ended the deploy here, the failed release applied, unrecorded and not rolled back. Interrupted, the
      // rollback that follows is too, and says so; the next deploy removes what is left of the slots and canaries.
      if (!(options.signal?.aborted || error instanceof InterruptedError))
        options.reporter.warn(`could not remove the slots and canaries the failed release started: ${(error as Error).message.split('\n')[0]}`)
    }
  }
  if (result.outcome !== 'ready') return {...result, recorded, keep}
  const byType = new Map<Strategy, Placement[]>()
  for (const p of placements) byType.set(strategyOf(p.unit), [...(byType.get(strategyOf(p.unit)) ?? []), p])
  const canaries = placements.some((p) => strategyOf(p.unit) === canary && p.later.length)
  if (canaries && options.pending) await savePending(kubectl, options.app, options.environment, {...options.pending, manifests: recorded})
  const failures: Awaited<ReturnType<Strategy['complete']>> = []
  try {
    // Canaries last, and only when every other service completed: a blue-green slot that failed its checks fails the
    // release at once, rather than after a canary nobody needs any more was paused, promoted and rolled out.
    for (const [strategy, ps] of [...byType].sort(([a], [b]) => Number(a === canary) - Number(b === canary))) {
      if (strategy === canary && failures.length) {
        await removeUnstartedCanaries(kubectl, ps, context, `release ${options.release ?? '?'} failed before it (${failures[0]?.ref ?? 'another service'})`)
        continue
      }
      failures.push(...(await strategy.complete(ps, context)))
    }
  } catch (error) {
    if (options.signal?.aborted) return {...result, outcome: 'interrupted', recorded, keep}
    throw error
  }
  // Finished here (succeeded, or aborted and returned to stable): the deploy writes its own record.
  if (canaries) await dropPending(kubectl, options.app)
  const applied = [...result.applied, ...placements.flatMap((p) => p.later.map((o) => `${o.kind}/${o.metadata.name}`))]
  if (failures.length) return {...result, applied, outcome: 'failed', failures, recorded, keep}
  return {...result, applied: [...new Set(applied)], recorded, keep}
}

/**
 * A release's objects as a deploy leaves them once rolled out: blue-green Deployments in the slot the release goes to
 * (and the Service switched to it), canary and rolling Deployments marked with their strategy. What `skycap diff`
 * and a protected deploy's question compare with the cluster (the objects as rendered name a Deployment `api` that a
 * blue-green service never has, and a Service selecting no slot).
 */
export async function placedObjects(kubectl: Kubectl, objects: KubeObject[], services: Record<string, ServiceConfig>, selector: string): Promise<KubeObject[]> {
  return (await placedRelease(kubectl, objects, services, selector)).objects
}

/**
 * placedObjects, and what the deploy keeps once it rolled out (a blue-green service's other slot too): what it does not
 * prune. `services` undefined: a rollback's recorded objects, placed as rollOutRelease places them (a canary service
 * goes straight back, keeping no canary Deployment).
 */
export async function placedRelease(
  kubectl: Kubectl,
  objects: KubeObject[],
  services: Record<string, ServiceConfig> | undefined,
  selector: string,
): Promise<{objects: KubeObject[]; keep: KubeObject[]}> {
  const {units, rest} = serviceUnits(services ? markStrategies(objects, services) : objects)
  if (units.length === 0) return {objects: rest, keep: rest}
  const live = await liveObjects(kubectl, selector)
  const placements = units.map((u) => strategyFor(u, services).place(u, live))
  return {objects: [...rest, ...placements.flatMap((p) => p.recorded)], keep: [...rest, ...placements.flatMap((p) => [...p.recorded, ...p.keep])]}
}

/**
 * The canary Deployments (still at 0 replicas) of canaries that did not start because another service failed; their
 * state says so (`aborted`, for this release), or it kept the service's last rollout as if this release had none.
 */
async function removeUnstartedCanaries(kubectl: Kubectl, placements: Placement[], context: StrategyContext, why: string): Promise<void> {
  const unstarted = placements.filter((p) => p.later.length)
  const services = unstarted.map((p) => p.unit.service)
  if (!services.length) return
  const names = services.map((s) => `deployment/${s}-canary`)
  context.reporter.info(`Not starting the canary of ${services.join(', ')}: ${why}; removing ${names.join(', ')}`)
  await kubectl.run(['delete', '--ignore-not-found', '--wait=false', ...names], {allowFailure: true})
  const now = new Date(context.clock()).toISOString()
  for (const p of unstarted) {
    const steps = p.unit.strategy.steps?.length ?? 1
    const state = {type: 'canary', release: context.release, phase: 'aborted', startedBy: whoAmI(), startedAt: now, updatedAt: now, step: 0, steps, weight: 0, message: `not started: ${why}`} as const
    await writeServiceState(kubectl, context.app, context.environment, p.unit.service, state).catch((error: unknown) =>
      context.reporter.warn(`could not record that the canary of ${p.unit.service} did not start: ${(error as Error).message}`),
    )
  }
}

/**
 * A deploy is refused while a canary of an earlier release is still under way (paused, or progressing with nobody
 * running it): a deploy never starts a second one, and a release that makes the service rolling would leave the
 * canary's Deployment taking its share of the traffic, for good. Asked when the release has a canary service, or a
 * canary Deployment runs (`live`: the app's live Deployments; its strategy may since have left skycap.yaml). Asked by
 * the deploy under its lock before it says anything of the release: it printed "Deploying release N" and sent a
 * `started` notification, then refused.
 */
export async function refuseSecondRollout(options: {
  kubectl: Kubectl
  app: string
  environment: string
  services: Record<string, ServiceConfig>
  live: ReadonlyMap<string, unknown>
  signal?: AbortSignal
  /** A rollback kept the canary's reduced stable count and left its state saying "paused" (it refused deploys after). */
  action?: 'deploy' | 'rollback'
}): Promise<void> {
  const canaryRuns = [...options.live.keys()].some((name) => name.endsWith('-canary'))
  if (!canaryRuns && !Object.values(options.services).some((svc) => strategyOf(svc).type === 'canary')) return
  const left = resumable((await readState(options.kubectl, options.app, options.signal)).services)
  if (!left.length) return
  const names = left.map((l) => `${l.unit.service} (release ${l.state.release ?? '?'}, ${l.state.phase} at ${l.state.weight ?? 0}%)`).join(', ')
  const env = options.environment
  throw new UserError(`the canary of ${names} in ${env} is still under way; nothing was changed`, {
    hint:
      options.action === 'rollback'
        ? `Abort it with \`skycap abort ${env}\` (its stable Deployment goes back to its full count), then roll back again; or finish it with \`skycap rollout resume ${env}\` and \`skycap promote\`.`
        : `Finish it with \`skycap rollout resume ${env}\` (then \`skycap promote\`), or \`skycap abort ${env}\`, and deploy again.`,
  })
}

/** The app's live Deployments and Services, by `Kind/name` (one call). */
async function liveObjects(kubectl: Kubectl, selector: string): Promise<LiveObjects> {
  const list = await kubectl.json<{items: KubeObject[]}>(['get', 'deployments,services', '-l', selector])
  return new Map(list.items.map((o) => [`${o.kind}/${o.metadata.name}`, o]))
}

export interface ScaleDownOptions {
  /** What the release rolled out: nothing to do (not even a read) unless a service is blue-green. */
  services?: Record<string, ServiceConfig>
  objects?: KubeObject[]
  app: string
  environment: string
  reporter: Reporter
  clock?: () => number
  signal?: AbortSignal
  /** The first wait after a call the API server did not answer (default 1 s). */
  intervalMs?: number
  /** The wait between two looks at a held lock (tests pass one that moves their clock). */
  sleep?: (ms: number) => Promise<void>
}

/** What the scale-down did: the old slots it scaled to 0, and those due it left up, and why. */
export interface ScaleDown {
  scaled: string[]
  /** The slots due that stay up for the next deploy, rollback or `rollout resume` (the lock held, no API server). */
  left?: {slots: string[]; reason: string}
}

/** How long each call of the scale-down waits for an API server that stops answering: the release is live and recorded. */
export const SCALE_DOWN_OUTAGE_MS = 60_000

/**
 * How long the scale-down waits for a lock another command holds: a `scale` or another scale-down lets it go within
 * seconds; a deploy or rollback takes the slots on itself. A lock taken by hand is not waited for: it is held for
 * minutes, and a deploy whose release is live sat silent until it expired.
 */
export const SCALE_DOWN_LOCK_WAIT_MS = 30_000

/**
 * After a blue-green switch (the lock released): waits out each old slot's scaleDownDelay, then, under the lock
 * and only if no later rollout took the slot meanwhile, scales it to zero. Stopped early (Ctrl-C), the slots stay up
 * until `skycap rollout resume` or the next deploy, which reuses the idle slot anyway. The release is live and
 * recorded by then: an API server that stops answering is waited for (each call up to SCALE_DOWN_OUTAGE_MS), and
 * one that does not answer in time, or a scale it refuses, is a warning, the slot left for the next scale-down.
 */
export async function scaleDownOldSlots(given: Kubectl, options: ScaleDownOptions): Promise<ScaleDown> {
  const clock = options.clock ?? Date.now
  const blueGreen = Object.values(options.services ?? {}).some((s) => s.strategy?.type === 'blueGreen') || (options.objects ?? []).some((o) => o.metadata.labels?.[SLOT_LABEL])
  if (!blueGreen) return {scaled: []}
  const kubectl = given
    .waitingOut({
      deadline: clock() + SCALE_DOWN_OUTAGE_MS,
      clock,
      intervalMs: options.intervalMs ?? 1000,
      ...(options.signal ? {signal: options.signal} : {}),
      onContact: (event) =>
        reportContact(options.reporter, event, `the release is live and recorded; skycap scales the old slots down once it answers (each step waits up to ${SCALE_DOWN_OUTAGE_MS / 1000}s)`),
    })
    .waitingEachUpTo(SCALE_DOWN_OUTAGE_MS)
  const result: ScaleDown & {due: string[]} = {scaled: [], due: []}
  try {
    await scaleDownDue(kubectl, options, clock, result)
  } catch (error) {
    if (!(error instanceof ApiServerUnreachableError) || options.signal?.aborted) throw error
    options.reporter.warn(`could not scale the old blue-green slots down: the API server does not answer (${error.reason}); the next deploy, rollback or \`skycap rollout resume\` scales them down`)
    const slots = result.due.filter((d) => !result.scaled.includes(d))
    if (slots.length) result.left = {slots, reason: `the API server does not answer (${error.reason})`}
  }
  if (result.scaled.length) options.reporter.info(`Scaled ${result.scaled.join(', ')} to 0`)
  const {due: _due, ...done} = result
  return done
}

/** A deploy's or rollback's `--json` fields for its scale-down: each absent when empty. */
export function scaleDownFields(done: ScaleDown): {scaledDown?: string[]; scaleDownLeft?: {slots: string[]; reason: string}} {
  return {...(done.scaled.length ? {scaledDown: done.scaled} : {}), ...(done.left ? {scaleDownLeft: done.left} : {})}
}

async function scaleDownDue(kubectl: Kubectl, options: ScaleDownOptions, clock: () => number, result: ScaleDown & {due: string[]}): Promise<void> {
  const {scaled} = result
  const due = (await readState(kubectl, options.app)).services
  const waiting = Object.entries(due).filter(([, s]) => s.type === 'blueGreen' && s.scaleDownAt && !s.scaledDown && s.previousSlot)
  if (!waiting.length) return
  // A slot at 0 already (a `skycap scale api 0` before the deploy) keeps nothing for a rollback: the deploy waited out
  // its scaleDownDelay all the same, saying it kept it. Asked only when there is a wait to spare.
  const early = waiting.filter(([, s]) => Date.parse(s.scaleDownAt as string) > clock())
  type Counted = {metadata: {name: string}; spec?: {replicas?: number}}
  // kubectl prints one name's object as it is, several as a List, and nothing for one that is gone.
  const answer = early.length ? (await kubectl.run(['get', 'deployments', ...early.map(([n, s]) => `${n}-${s.previousSlot}`), '--ignore-not-found', '-o', 'json'])).stdout.trim() : ''
  const parsed = answer ? (JSON.parse(answer) as Counted | {items: Counted[]}) : {items: []}
  const live = 'items' in parsed ? parsed.items : [parsed]
  const atZero = new Set(early.filter(([n, s]) => (live.find((d) => d.metadata.name === `${n}-${s.previousSlot}`)?.spec?.replicas ?? 0) === 0).map(([n]) => n))
  const up = waiting.filter(([n]) => !atZero.has(n))
  result.due = up.map(([n, s]) => `${n}-${s.previousSlot}`)
  const latest = Math.max(clock(), ...up.map(([, s]) => Date.parse(s.scaleDownAt as string)))
  if (latest > clock()) {
    options.reporter.info(`Keeping ${up.map(([n, s]) => `${n}-${s.previousSlot}`).join(', ')} for an instant rollback until ${new Date(latest).toISOString()}`)
    // Ctrl-C here ended the command with exit 0 and not a word of the slot it left up (nor `scaleDownLeft`).
    const leftUp = () => {
      options.reporter.warn(
        `interrupted while keeping ${result.due.join(', ')} for an instant rollback: ${result.due.length === 1 ? 'it stays' : 'they stay'} up; the next deploy, rollback or \`skycap rollout resume ${options.environment}\` scales ${result.due.length === 1 ? 'it' : 'them'} down`,
      )
      result.left = {slots: [...result.due], reason: 'interrupted during scaleDownDelay'}
    }
    try {
      await abortableSleep(latest - clock(), options.signal)
    } catch {
      return leftUp()
    }
    if (options.signal?.aborted) return leftUp()
  }
  let lock: LockInfo
  try {
    lock = await acquireLock(kubectl, {
      app: options.app,
      environment: options.environment,
      reason: 'scale down old blue-green slots',
      durationSeconds: LEASE_SECONDS,
      waitMs: SCALE_DOWN_LOCK_WAIT_MS,
      notForHandLock: true,
      clock,
      ...(options.sleep ? {sleep: options.sleep} : {}),
      signal: options.signal,
      onWait: (m) => options.reporter.info(`Scaling ${result.due.join(', ')} to 0: ${m}`),
    })
  } catch (error) {
    if (!(error instanceof LockedError)) throw error
    // The release is live and recorded: the scale-down is housekeeping, left to the next command that does it.
    const holder = (error.details as {lock?: LockInfo} | undefined)?.lock
    const slots = result.due
    const them = slots.length === 1 ? 'it' : 'them'
    if (slots.length) {
      options.reporter.warn(
        `not scaling ${slots.join(', ')} to 0: ${error.message}${holder?.heldBy === 'hand' ? `, held until ${holder.expiresAt}` : ''}; the next deploy, rollback or \`skycap rollout resume ${options.environment}\` scales ${them} down`,
      )
      result.left = {slots, reason: error.message}
    }
    return
  }
  // The heartbeat retries an unanswered renewal on its own, every 2 s.
  const heartbeat = keepLockAlive(kubectl.atOnce(), options.app, lock.id, {onLost: () => undefined})
  try {
    const now = (await readState(kubectl, options.app)).services
    /**
     * Whether the Deployment is at 0 now (`scaled`) or gone (deleted by hand: recorded as scaled down, never said to be
     * scaled); false: a scale the API server refused, a warning, the state left as it was.
     */
    const toZero = async (deployment: string): Promise<'scaled' | 'gone' | false> => {
      try {
        await kubectl.run(['scale', 'deployment', deployment, '--replicas=0'])
        return 'scaled'
      } catch (error) {
        if (error instanceof KubectlError && error.kind === 'not_found') return 'gone'
        if (!(error instanceof KubectlError)) throw error
        options.reporter.warn(`could not scale ${deployment} to 0: ${error.message}; the next deploy, rollback or \`skycap rollout resume\` tries again`)
        return false
      }
    }
    for (const [name, before] of waiting) {
      const current = now[name]
      // A later deploy or rollback wrote its own entry: its slots are its business.
      const idleAlready = atZero.has(name)
      if (!current || current.scaleDownAt !== before.scaleDownAt || current.scaledDown || (Date.parse(current.scaleDownAt as string) > clock() && !idleAlready)) continue
      const deployment = `${name}-${current.previousSlot}`
      // Never the slot that serves: whatever the state says, the live Service decides (a rollback that re-applied
      // old manifests switched it back without the strategy).
      const serving = (await servedSlot(kubectl, name)).slot
      // A rollout stopped after its switch and before it recorded it (recordSlotsComingUp): the slot it brought up
      // serves, and the one that served before goes.
      const stopped = current.phase === 'progressing'
      if (stopped && serving === current.previousSlot) {
        const idle = current.activeSlot as Slot
        const done = await toZero(`${name}-${idle}`)
        if (!done) continue
        await writeServiceState(kubectl, options.app, options.environment, name, {
          ...current,
          phase: 'completed',
          activeSlot: serving,
          previousSlot: idle,
          scaledDown: true,
          message: `switched to ${serving} by release ${current.release ?? '?'}, which stopped before recording it`,
          updatedAt: new Date(clock()).toISOString(),
        })
        if (done === 'scaled') scaled.push(`${name}-${idle}`)
        continue
      }
      if (serving === current.previousSlot) {
        options.reporter.warn(`not scaling ${deployment} to 0: Service/${name} selects it (the rollout state said ${name}-${current.activeSlot} served)`)
        const {previousSlot: _p, scaleDownAt: _s, ...rest} = current
        await writeServiceState(kubectl, options.app, options.environment, name, {...rest, activeSlot: serving as Slot, updatedAt: new Date(clock()).toISOString()})
        continue
      }
      const done = await toZero(deployment)
      if (!done) continue
      await writeServiceState(kubectl, options.app, options.environment, name, {
        ...current,
        scaledDown: true,
        ...(stopped ? {phase: 'aborted', message: `release ${current.release ?? '?'} stopped before its switch; ${deployment} scaled to 0`} : {}),
        updatedAt: new Date(clock()).toISOString(),
      })
      // One at 0 already is recorded as scaled down, not said to be.
      if (!idleAlready && done === 'scaled') scaled.push(deployment)
    }
  } finally {
    heartbeat.stop()
    await releaseLock(kubectl, options.app, {id: lock.id}).catch(() => undefined)
  }
}
