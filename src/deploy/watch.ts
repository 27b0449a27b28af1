import {InterruptedError, KubectlError} from '../errors.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import {callTimeout, type ContactEvent, OutageWait, POLL_CALL_MS} from '../kubectl/outage.js'
import type {KubeObject} from '../render/objects.js'
import {statusOf, watchResources, WATCHED_KINDS} from '../resources/kinds.js'
import {explainBackOffs} from '../resources/pull-events.js'
import {QuotaWatch} from '../resources/quota.js'
import {ClusterSnapshot, PullErrors, type ResourceStatus} from '../resources/status.js'
import {abortableSleep} from '../sleep.js'

export type WatchOutcome = 'ready' | 'failed' | 'timeout' | 'interrupted'

export interface WatchOptions {
  kubectl: Kubectl
  objects: KubeObject[]
  /** Label selector that matches the objects and the ReplicaSets/pods they own. */
  selector: string
  /** Epoch ms by which everything must be ready. */
  deadline: number
  clock?: () => number
  intervalMs?: number
  signal?: AbortSignal
  /** Called after every poll with the statuses of all watched objects. */
  onUpdate?: (statuses: ResourceStatus[]) => void
  /** Called when the watch deletes pods that block a rollout (see ResourceStatus.replace). */
  onReplace?: (ref: string, pods: string[]) => void
  /** Called when the API server stops answering during the watch, and when it answers again. */
  onContact?: (event: ContactEvent) => void
  /**
   * After the first failure, how long the watch goes on while other objects are still pending, so that those failing
   * too are named in the same report (default 0: it ends at the first failure). One whose controller had not begun on
   * it gets that long from when it began, up to GRACE_CAP times this from the first failure.
   */
  failureGraceMs?: number
}

export interface WatchResult {
  outcome: WatchOutcome
  statuses: ResourceStatus[]
}

/** How many failure graces a workload whose controller has not begun on it can hold the failure report back (60 s). */
/**
 * Before anything changes: the list each poll of the watch makes, once. A user who may apply Deployments but not list
 * ReplicaSets (a Role without that rule) had the release applied and live, then the watch's first poll refused, and
 * no record: history went on without it, and the next deploy took its number. `what` is what was to change.
 */
export async function refuseUnwatchable(kubectl: Kubectl, objects: KubeObject[], selector: string, what: string): Promise<void> {
  if (!objects.some((o) => WATCHED_KINDS[o.kind])) return
  const resources = watchResources(objects)
  try {
    await kubectl.run(['get', resources, '-l', selector, '-o', 'name'])
  } catch (error) {
    if (!(error instanceof KubectlError) || error.kind !== 'forbidden') throw error
    throw new KubectlError('forbidden', `${what} cannot be followed: ${error.message.split('\n')[0]}; nothing was changed`, error.args, error.stderr, {
      hint: `skycap lists ${resources} to follow a rollout (docs/rbac.md has the Role). ${error.hint ?? ''}`.trim(),
    })
  }
}

export const GRACE_CAP = 6

/**
 * Polls until every object is ready, one fails (and, with failureGraceMs, the others pending have had that long to
 * fail too), the deadline passes or the signal fires.
 * One `kubectl get` per poll, however many services there are. An API server that stops answering (a control plane
 * upgrade, a blip of the network) is waited for until the deadline, as `kubectl rollout status` does: the rollout goes
 * on in the cluster meanwhile (OutageWait). Past the deadline without an answer, the watch throws the unreachable error.
 */
export async function watchRollout(options: WatchOptions): Promise<WatchResult> {
  const clock = options.clock ?? Date.now
  const interval = options.intervalMs ?? 1000
  const watched = options.objects.filter((o) => WATCHED_KINDS[o.kind])
  const resources = watchResources(options.objects)
  const replaced = new Set<string>()
  // What each container's last pull failed of: its back-off that follows does not say (PullErrors).
  const pulls = new PullErrors()
  const quotas = new QuotaWatch()
  // When the first failure was seen: the watch goes on for failureGraceMs while others are still pending.
  let failedAt: number | undefined
  const failed = new Map<string, ResourceStatus>()
  const grace = options.failureGraceMs ?? 0
  // A controller busy with many workloads may not have begun on some of them when the grace ends (35 services: three
  // that crash-looped with the first were "stopped when … failed" before their controller saw their spec). Each one
  // pending gets the grace from when its controller began on it (or from the first failure), up to GRACE_CAP graces.
  const graceEnd = (): number => Math.min((failedAt ?? 0) + grace * GRACE_CAP, options.deadline)
  const begunAt = new Map<string, number>()
  let graceLeft = Math.ceil((grace * GRACE_CAP) / Math.max(1, interval))
  let statuses: ResourceStatus[] = options.objects.map((o) => ({ref: `${o.kind}/${o.metadata.name}`, state: 'pending', message: 'applied', related: [], failing: []}))
  const outage = new OutageWait({deadline: options.deadline, clock, intervalMs: interval, signal: options.signal, onContact: options.onContact})
  // This loop waits out an outage itself, each poll as a whole (a kubectl given by waitingOut would wait per call, past
  // this watch's own deadline).
  const kubectl = options.kubectl.atOnce()
  for (;;) {
    if (options.signal?.aborted) return {outcome: 'interrupted', statuses}
    let snapshot = new ClusterSnapshot([])
    if (watched.length) {
      let list: {items: KubeObject[]}
      const polledAt = clock()
      try {
        // A poll ends by the deadline, and within POLL_CALL_MS: a stopped API server held one for a minute, unsaid.
        list = await kubectl.json<{items: KubeObject[]}>(['get', resources, '-l', options.selector], {signal: options.signal, timeoutMs: callTimeout(options.deadline, clock, POLL_CALL_MS)})
        await explainBackOffs(kubectl, pulls, list.items, options.signal)
      } catch (error) {
        // The signal cancels the kubectl call in flight: that is an interruption, not a kubectl failure. So is a
        // kubectl that the terminal's Ctrl-C killed before skycap's own handler ran (InterruptedError).
        if (options.signal?.aborted || error instanceof InterruptedError) return {outcome: 'interrupted', statuses}
        await outage.failed(error, polledAt)
        continue
      }
      outage.answered()
      snapshot = new ClusterSnapshot(list.items, pulls, clock(), kubectl)
    }
    // A failure seen stays a failure: during the grace a crash-looping container that restarts reads as pending again,
    // and the release would have gone on as if it had not failed.
    const seenAt = clock()
    statuses = options.objects.map((o) => {
      const judged = statusOf(o, snapshot)
      // A ResourceQuota that has refused its pods while nothing moved: it will not make room by itself.
      const lasting = quotas.lasting(judged.ref, judged.quota?.refusal, seenAt)
      const s = lasting && judged.quota ? {...judged, state: 'failed' as const, message: judged.quota.failure} : judged
      if (s.state === 'failed') failed.set(s.ref, s)
      return failed.get(s.ref) ?? s
    })
    options.onUpdate?.(statuses)
    for (const s of statuses) if (!s.unstarted && !begunAt.has(s.ref)) begunAt.set(s.ref, clock())
    for (const s of statuses) {
      const pods = (s.replace ?? []).filter((p) => !replaced.has(p))
      if (!pods.length) continue
      for (const p of pods) replaced.add(p)
      options.onReplace?.(s.ref, pods)
      await kubectl.run(['delete', 'pod', '--ignore-not-found', '--wait=false', ...pods], {allowFailure: true, signal: options.signal})
    }
    if (statuses.some((s) => s.state === 'failed')) {
      const now = clock()
      failedAt ??= now
      const first = failedAt
      // Still in its grace: not begun yet, or begun less than a grace ago (counted from the first failure at the earliest).
      const waiting = statuses.some((s) => s.state !== 'failed' && s.state !== 'ready' && (s.unstarted || now < Math.max(first, begunAt.get(s.ref) ?? first) + grace))
      // Bounded by polls as well as by time: as many more polls as the longest grace holds intervals.
      const polled = graceLeft-- <= 0
      if (!waiting || polled || now >= graceEnd()) return {outcome: 'failed', statuses}
    } else if (statuses.every((s) => s.state === 'ready')) return {outcome: 'ready', statuses}
    else if (clock() >= options.deadline) return {outcome: 'timeout', statuses}
    const until = failedAt === undefined ? options.deadline : graceEnd()
    // A container settling (no readiness check, just started) is ready at a known time: looked at again then, not up
    // to an interval later, so that the settling costs a deploy of such a service no more than itself.
    const settles = Math.min(...statuses.map((s) => s.settlesAt ?? Number.POSITIVE_INFINITY))
    const at = clock()
    await abortableSleep(Math.min(interval, Math.max(0, until - at), Math.max(0, settles - at)), options.signal)
  }
}
