import {InterruptedError, type KubectlError} from '../errors.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import {configuredExcludes, lineFilter} from '../logs/filter.js'
import type {KubeObject} from '../render/objects.js'
import type {ResourceStatus} from '../resources/status.js'
import type {Reporter} from '../ui/output.js'
import {rolloutView} from '../ui/progress.js'
import type {SkycapConfig} from '../config/types.js'
import {applyInPhases, refusedObjects} from './apply.js'
import {explainRollout, formatFailure, formatStillMoving, type FailureEvent, type FailureReport} from './explain.js'
import {reportContact} from '../kubectl/outage.js'
import {watchRollout, type WatchOutcome} from './watch.js'

export interface RolloutResult {
  outcome: WatchOutcome
  applied: string[]
  statuses: ResourceStatus[]
  /** What failed (on a timeout: what was not ready in time), explained with events and logs. */
  failures: FailureReport[]
  /**
   * Resources still moving when another one failed or the watch was stopped: their state then, not a failure. One
   * whose pods had warnings of this rollout when another failed carries them (and its logs), so that a readiness check
   * that keeps failing is seen in the same report.
   */
  interrupted: Array<{ref: string; message: string; events?: FailureEvent[]; logs?: FailureReport['logs']}>
}

export interface RolloutOptions {
  kubectl: Kubectl
  objects: KubeObject[]
  selector: string
  deadline: number
  title: string
  reporter: Reporter
  config: SkycapConfig
  clock?: () => number
  signal?: AbortSignal
  intervalMs?: number
  /** Runs after the config objects are applied and before the workloads (predeploy hooks). */
  afterConfig?: () => Promise<void>
}

/** After a rollout's first failure, how long the watch goes on for the objects still pending (watchRollout). */
export const FAILURE_GRACE_MS = 10_000

/** Applies objects in phases, watches them to the end and, if they did not all become ready, explains why. */
export async function applyAndWatch(options: RolloutOptions): Promise<RolloutResult> {
  const clock = options.clock ?? Date.now
  // Events last seen before this are not about this rollout (explainRollout).
  const began = {at: clock(), clock}
  // An API server that stops answering while the objects are applied is waited for, as the watch does, until the
  // deadline: giving up left the release half-applied, unrecorded and without its rollback.
  const {applied, stopped} = await applyInPhases(options.kubectl, options.objects, options.signal, options.afterConfig, {
    deadline: options.deadline,
    clock,
    intervalMs: options.intervalMs ?? 1000,
    onContact: (event) => reportContact(options.reporter, event, 'skycap applies the release once it answers again, until its timeout'),
  })
  if (stopped) return stoppedApplying(stopped, applied, options.objects)
  const watchedRefs = options.objects.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'Pod'].includes(o.kind)).map((o) => `${o.kind}/${o.metadata.name}`)
  const view = await rolloutView(options.reporter, options.title, watchedRefs)
  let result: Awaited<ReturnType<typeof watchRollout>>
  try {
    result = await watchRollout({
      kubectl: options.kubectl,
      objects: options.objects,
      selector: options.selector,
      deadline: options.deadline,
      clock: options.clock,
      signal: options.signal,
      intervalMs: options.intervalMs,
      onUpdate: (s) => view.update(s.filter((x) => watchedRefs.includes(x.ref))),
      onReplace: (ref, pods) => options.reporter.info(`  ${ref}: deleting ${pods.join(', ')} of an older revision: they cannot start, and the controller waits for them before it replaces them`),
      onContact: (event) => reportContact(options.reporter, event),
      // Services failing together are named together: the first failure alone left a team fixing two services and
      // meeting the next three failures on the following deploy.
      failureGraceMs: FAILURE_GRACE_MS,
    })
  } catch (error) {
    await view.finish()
    throw error
  }
  // A timeout blames everything that was not ready; a failure blames only what failed, and the others, which were
  // merely mid-rollout when it was seen, are reported as interrupted.
  const blamed = result.outcome === 'failed' ? result.statuses.filter((s) => s.state === 'failed') : result.outcome === 'timeout' ? result.statuses.filter((s) => s.state !== 'ready') : []
  const interrupted = result.outcome === 'failed' || result.outcome === 'interrupted' ? result.statuses.filter((s) => s.state === 'pending') : []
  // Those still moving when another failed are said to have stopped with it; only a Ctrl-C is an interruption.
  await view.finish(
    interrupted.filter((s) => watchedRefs.includes(s.ref)),
    result.outcome === 'failed' ? blamed.map((s) => s.ref) : [],
  )
  let failures: FailureReport[] = []
  let moving: FailureReport[] = []
  // A Ctrl-C wants skycap to stop: no events read for what it left moving.
  const explainMoving = result.outcome === 'failed' ? interrupted : []
  if (blamed.length || explainMoving.length) {
    const services = Object.keys(options.config.services)
    ;({failures, moving} = await explainRollout(options.kubectl, blamed, explainMoving, () => lineFilter({configured: configuredExcludes(options.config, services), exclude: [], grep: []}), began))
  }
  // A Ctrl-C while the watch gave the others time to fail too: what had failed is still named (the error, --json and
  // history said only "interrupted"), without its events and logs (skycap stops).
  if (result.outcome === 'interrupted') failures = result.statuses.filter((s) => s.state === 'failed').map((s) => ({ref: s.ref, message: s.message, events: [], logs: []}))
  return {
    outcome: result.outcome,
    applied,
    statuses: result.statuses,
    failures,
    interrupted: interrupted.map((s) => moving.find((m) => m.ref === s.ref) ?? {ref: s.ref, message: s.message}),
  }
}

/** A rollout's report as terminal text: what failed, then what was still moving with warnings when it did. */
export function rolloutReport(rollout: Pick<RolloutResult, 'failures' | 'interrupted'>): string[] {
  const moving = rollout.interrupted.filter((i) => i.events?.length).map((i) => formatStillMoving({...i, events: i.events ?? [], logs: i.logs ?? []}))
  return [...rollout.failures.map(formatFailure), ...moving]
}

/**
 * A kubectl apply that stopped part-way left some of its objects live and others not. Stopped by a signal, the
 * rollout was interrupted; refused by the API server although the dry run passed (an admission webhook that lets dry
 * runs through, a quota used up meanwhile), the release failed, blaming the objects kubectl names.
 */
function stoppedApplying(error: KubectlError | InterruptedError, applied: string[], objects: KubeObject[]): RolloutResult {
  const result = {applied, statuses: [], interrupted: []}
  if (error instanceof InterruptedError) return {...result, outcome: 'interrupted', failures: []}
  const refused = refusedObjects(error.stderr, objects)
  const said = error.message.split('\n')[0] ?? ''
  const failures = refused.length
    ? refused.map(({object, message}) => ({ref: `${object.kind}/${object.metadata.name}`, message: `refused by the API server: ${message ?? said}`, events: [], logs: []}))
    : [{ref: 'kubectl apply', message: said, events: [], logs: []}]
  return {...result, outcome: 'failed', failures}
}
