// A change made in place to running Deployments (`skycap scale`, `skycap restart`): made under the environment's lock,
// watched until ready, explained when it fails, and recorded in history as an entry of its own.
import {deployFirst} from '../config/environment.js'
import {NamespaceMissingError} from '../errors.js'
import type {DeployDeps} from '../deploy/deploy.js'
import {explainFailures, formatFailure, type FailureReport} from '../deploy/explain.js'
import {watchRollout, type WatchOutcome} from '../deploy/watch.js'
import {appSelector} from '../env/connect.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import {reportContact} from '../kubectl/outage.js'
import {acquireLock, afterLockRelease, keepLockAlive, LEASE_SECONDS, releaseLock, releaseOwnLock} from '../lock/lease.js'
import type {SkycapConfig} from '../config/types.js'
import {configuredExcludes, lineFilter} from '../logs/filter.js'
import type {KubeObject} from '../render/objects.js'
import type {ResourceStatus} from '../resources/status.js'
import {QuitAtOnce} from './quit-at-once.js'
import {isDeployOrRollback, nextReleaseNumber, RECORD_OUTAGE_MS, type ReleaseRecord, renumberedNote, saveRelease, type StoredRelease} from './store.js'
import {ciJobUrl, whoAmI} from '../identity.js'
import {configuredReplicas} from '../deploy/replicas.js'
import type {Environment} from '../config/types.js'

/** Where the change is made: the app, and the environment's name and namespace. */
export interface InPlaceTarget {
  app: string
  environment: {name: string; namespace: string}
}

/**
 * Runs `body` holding the environment's lock (reason `reason`, e.g. `restart web, api`): renewed while it runs,
 * released by a quit at once before it quits, and released at the end, whose error then says whether it could be.
 * `what` (`scale web`) names the change when the namespace does not exist yet (nothing was deployed there).
 */
export async function whileLocked<T>(
  kubectl: Kubectl,
  target: InPlaceTarget & {reason: string; what: string; waitMs: number},
  deps: Pick<DeployDeps, 'reporter' | 'signal' | 'quitAtOnce'>,
  body: (quitAtOnce: QuitAtOnce) => Promise<T>,
): Promise<T> {
  const {app, environment: env} = target
  const lock = await acquireLock(kubectl, {
    app,
    environment: env.name,
    reason: target.reason,
    durationSeconds: LEASE_SECONDS,
    waitMs: target.waitMs,
    signal: deps.signal,
    onWait: (m) => deps.reporter.info(m),
  }).catch((error: unknown) => {
    // Nothing was deployed there: say what could not be done, not how to lock the environment by hand.
    if (!(error instanceof NamespaceMissingError)) throw error
    throw new NamespaceMissingError(`cannot ${target.what} in ${env.name}: its namespace ${env.namespace} does not exist yet (nothing was deployed there); nothing was changed`, {
      hint: `Deploy it first: ${deployFirst(env.name)}.`,
      details: {environment: env.name, namespace: env.namespace},
    })
  })
  const heartbeat = keepLockAlive(kubectl, app, lock.id)
  // A quit at once releases the lock first (it was left held for a minute).
  const quitAtOnce = deps.quitAtOnce ?? new QuitAtOnce()
  quitAtOnce.holdLock(() => releaseLock(kubectl, app, {id: lock.id}))
  let failure: {error: unknown} | undefined
  let released: boolean | undefined
  try {
    return await body(quitAtOnce)
  } catch (error) {
    failure = {error}
  } finally {
    heartbeat.stop()
    released = await releaseOwnLock(kubectl, app, lock.id, (m) => deps.reporter.warn(m))
    quitAtOnce.holdLock(undefined)
  }
  // Only an error gets here (the body returns above): its message says whether the lock could be released.
  throw afterLockRelease(failure?.error, released ?? false)
}

/**
 * The history entry of a change in place, without its result: the next number, the release whose pods it changed
 * (the newest deploy or rollback: its revision, images and configured counts), who made it and when. `started` is
 * when the lock was held; the entry's end is now.
 */
export function inPlaceEntry(
  releases: StoredRelease[],
  change: {app: string; environment: Environment; action: 'scale' | 'restart'; started: number; clock: () => number},
): Omit<ReleaseRecord, 'result'> {
  const previous = releases.find((r) => isDeployOrRollback(r.record))?.record
  const now = change.clock()
  return {
    number: nextReleaseNumber(releases),
    app: change.app,
    environment: change.environment.name,
    action: change.action,
    revision: previous?.revision ?? null,
    images: previous?.images ?? {},
    configuredReplicas: previous?.configuredReplicas ?? configuredReplicas(change.environment),
    user: whoAmI(),
    ciJob: ciJobUrl(),
    startedAt: new Date(change.started).toISOString(),
    finishedAt: new Date(now).toISOString(),
    durationMs: now - change.started,
  }
}

/** How a watched change ended. */
export interface WatchedChange {
  outcome: WatchOutcome
  failures: FailureReport[]
  /** Each object's last state as the watch saw it (a ResourceQuota's refusal, for one). */
  statuses: ResourceStatus[]
}

/** The part of a change's report that its watch and record fill in. */
export interface RecordedReport {
  result: 'succeeded' | 'planned' | 'unchanged' | 'failed' | 'timed-out' | 'interrupted'
  release: number | null
  /** The number another command recorded while this one ran (its lock released by hand); this one took `release`. */
  renumberedFrom?: number
}

/**
 * Watches `objects` (the Deployments changed) until ready, explains a failure from the events since `began`, and
 * records the change: `record` gives its entry without the result, from what failed. `report` gets the
 * release number and the result. `command` names it in the warnings (`scale`).
 */
export async function watchAndRecord(
  kubectl: Kubectl,
  change: InPlaceTarget & {
    command: string
    objects: KubeObject[]
    services: string[]
    config: SkycapConfig
    deadline: number
    began: {at: number; clock: () => number}
    releases: StoredRelease[]
    record: (failures: FailureReport[]) => Omit<ReleaseRecord, 'result'>
  },
  deps: Pick<DeployDeps, 'reporter' | 'signal' | 'intervalMs' | 'clock'>,
  quitAtOnce: QuitAtOnce,
  report: RecordedReport,
): Promise<WatchedChange> {
  const {app, environment: env, config} = change
  const result = await watchRollout({
    kubectl,
    objects: change.objects,
    selector: appSelector(app, env.name),
    deadline: change.deadline,
    clock: change.began.clock,
    signal: deps.signal,
    intervalMs: deps.intervalMs,
    onContact: (event) => reportContact(deps.reporter, event),
  })
  let failures: FailureReport[] = []
  if (result.outcome !== 'ready' && result.outcome !== 'interrupted') {
    failures = await explainFailures(kubectl, result.statuses, () => lineFilter({configured: configuredExcludes(config, change.services), exclude: [], grep: []}), change.began)
    for (const f of failures) deps.reporter.info(formatFailure(f))
  }
  report.release = await quitAtOnce.own(() =>
    saveRelease(
      kubectl,
      {...change.record(failures), result: result.outcome === 'ready' ? 'succeeded' : result.outcome === 'interrupted' ? 'interrupted' : 'failed'},
      undefined,
      change.releases,
      config.history?.keep ?? 10,
      {
        // No release "runs" after a change in place: what it changed stands (it said "the release runs").
        onContact: (event) =>
          reportContact(
            deps.reporter,
            event,
            `the ${change.command === 'scale' ? 'new counts stand' : 'change stands'}; skycap records the ${change.command} once it answers again (for up to ${RECORD_OUTAGE_MS / 1000}s)`,
          ),
        onRenumbered: (taken, to, why) => {
          deps.reporter.warn(renumberedNote(env.name, change.command, taken, to, why))
          report.renumberedFrom ??= taken
        },
      },
    ),
  )
  report.result = reportedResult(result.outcome)
  return {outcome: result.outcome, failures, statuses: result.statuses}
}

/** A watched change's outcome as its report says it. */
function reportedResult(outcome: WatchOutcome): 'succeeded' | 'failed' | 'timed-out' | 'interrupted' {
  return outcome === 'ready' ? 'succeeded' : outcome === 'timeout' ? 'timed-out' : outcome === 'interrupted' ? 'interrupted' : 'failed'
}
