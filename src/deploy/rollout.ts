import type {Kubectl} from '../kubectl/kubectl.js'
import {configuredExcludes, lineFilter} from '../logs/filter.js'
import type {KubeObject} from '../render/objects.js'
import type {ResourceStatus} from '../resources/status.js'
import type {Reporter} from '../ui/output.js'
import {rolloutView} from '../ui/progress.js'
import type {SkycapConfig} from '../config/types.js'
import {applyInPhases} from './apply.js'
import {explainFailures, type FailureReport} from './explain.js'
import {watchRollout, type WatchOutcome} from './watch.js'

export interface RolloutResult {
  outcome: WatchOutcome
  applied: string[]
  statuses: ResourceStatus[]
  failures: FailureReport[]
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
}

/** Applies objects in phases, watches them to the end and, if they did not all become ready, explains why. */
export async function applyAndWatch(options: RolloutOptions): Promise<RolloutResult> {
  const applied = await applyInPhases(options.kubectl, options.objects, options.signal)
  const watchedRefs = options.objects.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'Pod'].includes(o.kind)).map((o) => `${o.kind}/${o.metadata.name}`)
  const view = await rolloutView(options.reporter, options.title, watchedRefs)
  let result
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
    })
  } finally {
    await view.finish()
  }
  let failures: FailureReport[] = []
  if (result.outcome === 'failed' || result.outcome === 'timeout') {
    const services = Object.keys(options.config.services)
    failures = await explainFailures(options.kubectl, result.statuses, () => lineFilter({configured: configuredExcludes(options.config, services), exclude: [], grep: []}))
  }
  return {outcome: result.outcome, applied, statuses: result.statuses, failures}
}
