import type {Kubectl} from '../kubectl/kubectl.js'
import type {KubeObject} from '../render/objects.js'
import type {QuotaRefusal} from './quota.js'

/** Where a watched object stands. */
export type ResourceState = 'ready' | 'pending' | 'failed'

/** A container worth showing logs of in a failure report. */
export interface FailingContainer {
  pod: string
  container: string
  /** The container crashed: its previous instance has the logs that explain it. */
  previous: boolean
}

/**
 * An object whose events explain a resource, by kind, name and (once read) uid: an event about another kind of the
 * same name (the HorizontalPodAutoscaler `web` of a Deployment `web`), or about an object of that name deleted since (a
 * Job or pod of the release before), is not about it.
 */
export interface RelatedObject {
  kind: string
  name: string
  uid?: string
}

/** The RelatedObject of a live object. */
export function relatedObject(o: KubeObject): RelatedObject {
  const uid = (o.metadata as {uid?: string}).uid
  return {kind: o.kind, name: o.metadata.name, ...(uid ? {uid} : {})}
}

export interface ResourceStatus {
  /** kind/name */
  ref: string
  state: ResourceState
  /** One sentence: why it is pending or failed, or what "ready" means here. */
  message: string
  /** The objects whose events explain this one (itself, its ReplicaSet, its pods). */
  related: RelatedObject[]
  /**
   * When the objects this one's events are about began (its current ReplicaSet's creation, server time): older events
   * of the same names (the Deployment's scaling of the release before) are not about this rollout.
   */
  eventsSince?: string
  failing: FailingContainer[]
  /** Containers that run but are not ready, of a resource still pending: their logs explain a timeout. */
  waiting?: FailingContainer[]
  /**
   * Ready but for a container without a readiness check that has not run SETTLE_MS yet: when it will have (the watch's
   * clock). The watch looks again then rather than at its next interval.
   */
  settlesAt?: number
  /**
   * A ResourceQuota refuses the pods of its current ReplicaSet: the refusal, and the failure it is once it stands
   * (QuotaWatch).
   */
  quota?: {refusal: QuotaRefusal; failure: string}
  /** Pods of an older revision that block the rollout and must be deleted for the controller to replace them. */
  replace?: string[]
  /**
   * Its controller has not begun on the applied spec yet (the object not created, the spec not observed, no new
   * ReplicaSet): a busy controller working through many workloads. The watch's failure grace waits for it to begin.
   */
  unstarted?: boolean
}

/** Live objects from one `kubectl get` of the app's workloads, grouped by kind. */
export class ClusterSnapshot {
  private readonly byKind = new Map<string, KubeObject[]>()

  /**
   * `pulls`: the pull errors seen by the polls before this one (a watch keeps one for all its polls). `at`: when a
   * rollout's watch read these objects (its clock, ms); a rollout judges the exits of its new pods against it
   * (rolloutExitProblem, settling). `kubectl`: the one these objects were read with, for the commands a message shows.
   */
  constructor(
    items: KubeObject[],
    pulls?: PullErrors,
    readonly at?: number,
    private readonly kubectl?: Pick<Kubectl, 'shown'>,
  ) {
    pulls?.observe(items)
    for (const item of items) {
      const list = this.byKind.get(item.kind) ?? []
      list.push(item)
      this.byKind.set(item.kind, list)
    }
  }

  get(kind: string, name: string): KubeObject | undefined {
    return this.byKind.get(kind)?.find((o) => o.metadata.name === name)
  }

  all(kind: string): KubeObject[] {
    return this.byKind.get(kind) ?? []
  }

  /** A kubectl command on these objects' context and namespace, for a message (kubectlCommand). */
  shown(args: string): string {
    return this.kubectl?.shown(args) ?? `kubectl ${args}`
  }

  /** Objects of `kind` owned (ownerReferences) by `owner`. */
  ownedBy(kind: string, owner: KubeObject): KubeObject[] {
    const uid = (owner.metadata as {uid?: string}).uid
    return this.all(kind).filter((o) => ((o.metadata as {ownerReferences?: Array<{uid: string}>}).ownerReferences ?? []).some((r) => r.uid === uid))
  }
}

// Container states that will not fix themselves: fail fast instead of waiting for a deadline.
/** The waiting reasons of a container whose image the node cannot get: nothing ran, and nothing in the command is at fault. */
export const IMAGE_PROBLEMS = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName'])

/** The waiting reasons of a pull that failed: the first (ErrImagePull, with the runtime's error) and the back-off after it. */
const PULL_FAILED = new Set(['ErrImagePull', 'ImagePullBackOff'])

/**
 * Pull errors that pass by themselves: the registry, or the way to it, is down or overloaded for a while (refused,
 * reset, timed out, 5xx, rate limited, a DNS server in trouble). The node retries with a back-off, so the rollout
 * waits for it until its deadline, as krane does, instead of failing at a registry's hiccup. Any other pull error (not
 * found, unauthorized, denied, a host that does not exist, one skycap does not know) will not fix itself: it fails
 * at once, as before.
 */
const PASSING_PULL_ERROR =
  /connection refused|connection reset|i\/o timeout|tls handshake timeout|context deadline exceeded|client\.timeout exceeded|no route to host|network is unreachable|unexpected eof|: eof\b|server misbehaving|temporary failure in name resolution|toomanyrequests|\b(?:429|50[0234]) [a-z]/i
const LASTING_PULL_ERROR = /not found|manifest unknown|name unknown|unauthorized|authentication required|denied|forbidden|no such host|invalid reference|repository does not exist/i

/** Whether the message of a failed pull names an error that passes by itself (PASSING_PULL_ERROR). */
export function passingPullError(message: string | undefined): boolean {
  return message !== undefined && PASSING_PULL_ERROR.test(message) && !LASTING_PULL_ERROR.test(message)
}

/** A core/v1 Event as `kubectl get events -o json` gives it, with the fields a pull failure is read from. */
export interface PodEvent {
  reason?: string
  message?: string
  involvedObject?: {kind?: string; name?: string; uid?: string; fieldPath?: string}
  lastTimestamp?: string
  eventTime?: string
  series?: {lastObservedTime?: string}
  metadata?: {creationTimestamp?: string}
}

/** A container whose image pull is in back-off: which pod (uid and name) and which container. */
export interface BackOff {
  key: string
  uid: string | undefined
  pod: string
  container: string
}

/**
 * The last pull error of each container, across the polls of one watch. ImagePullBackOff says only `Back-off pulling
 * image "…"`, not what failed: the ErrImagePull before it said. A back-off state gets that message appended, so the
 * failure report says why, and a back-off after an error that passes keeps the rollout waiting. A back-off whose
 * error no poll saw (it came and went between two polls, or before the first: `skycap status` is one poll) is
 * explained by the kubelet's `Failed to pull image` event (`learn`), asked once per container.
 */
export class PullErrors {
  private readonly last = new Map<string, string>()
  private readonly asked = new Set<string>()

  observe(items: KubeObject[]): void {
    for (const {key, waiting} of pullStates(items)) {
      if (waiting.reason === 'ErrImagePull' && waiting.message) this.last.set(key, waiting.message)
      else if (waiting.reason === 'ImagePullBackOff' && this.last.has(key)) waiting.message = `${waiting.message ?? 'Back-off pulling image'}; the last pull error: ${this.last.get(key)}`
    }
  }

  /** Containers in ImagePullBackOff whose pull error is not known and whose events were not asked yet. */
  unexplained(items: KubeObject[]): BackOff[] {
    return pullStates(items)
      .filter(({key, waiting}) => waiting.reason === 'ImagePullBackOff' && !this.last.has(key) && !this.asked.has(key))
      .map(({key, waiting: _, ...rest}) => ({key, ...rest}))
  }

  /** Takes each container's newest `Failed to pull image` event as its last pull error; they are not asked again. */
  learn(backOffs: BackOff[], events: PodEvent[]): void {
    for (const b of backOffs) {
      this.asked.add(b.key)
      const newest = events
        .filter((e) => e.involvedObject?.kind === 'Pod' && (b.uid ? e.involvedObject.uid === b.uid : e.involvedObject?.name === b.pod))
        .filter((e) => containerOf(e.involvedObject?.fieldPath) === b.container && /^Failed to pull image /.test(e.message ?? ''))
        .map((e) => ({message: e.message ?? '', at: Date.parse(e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? '')}))
        .sort((x, y) => (Number.isNaN(x.at) ? 0 : x.at) - (Number.isNaN(y.at) ? 0 : y.at))
        .at(-1)
      if (newest) this.last.set(b.key, newest.message)
    }
  }
}

/** `spec.containers{web}` or `spec.initContainers{migrate}`: the container an event is about. */
function containerOf(fieldPath: string | undefined): string | undefined {
  return /\{([^}]+)\}$/.exec(fieldPath ?? '')?.[1]
}

/** Every container of these pods that waits on its image (ErrImagePull or back-off), with its key and its pod. */
function pullStates(items: KubeObject[]): Array<BackOff & {waiting: {reason?: string; message?: string}}> {
  const out: Array<BackOff & {waiting: {reason?: string; message?: string}}> = []
  for (const pod of items) {
    if (pod.kind !== 'Pod') continue
    const status = (pod as {status?: PodStatus}).status ?? {}
    const uid = (pod.metadata as {uid?: string}).uid
    for (const c of [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])]) {
      const waiting = c.state?.waiting
      if (waiting && PULL_FAILED.has(waiting.reason ?? '')) out.push({key: `${uid ?? pod.metadata.name}/${c.name}`, uid, pod: pod.metadata.name, container: c.name, waiting})
    }
  }
  return out
}

const FATAL_WAITING = new Set(['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError'])

interface ContainerStatus {
  name: string
  ready?: boolean
  restartCount?: number
  state?: {waiting?: {reason?: string; message?: string}; terminated?: {exitCode?: number; reason?: string; message?: string}; running?: {startedAt?: string}}
  lastState?: {terminated?: {exitCode?: number; reason?: string; message?: string}}
}

/**
 * The container runtime's reasons for a container whose command never started (not in the image, not executable):
 * its exit code (128 from containerd) is the runtime's, not the command's, and it printed nothing.
 */
export const NOT_STARTED = new Set(['StartError', 'ContainerCannotRun'])

interface PodStatus {
  phase?: string
  conditions?: Array<{type: string; status: string; reason?: string; message?: string}>
  containerStatuses?: ContainerStatus[]
  initContainerStatuses?: ContainerStatus[]
}

/** Why a pod cannot become ready by itself, in one sentence, or undefined when it may still. */
export function podProblem(pod: KubeObject): {message: string; failing: FailingContainer[]; reason?: string} | undefined {
  const status = (pod as {status?: PodStatus}).status ?? {}
  const name = pod.metadata.name
  if (status.phase === 'Failed') return {message: `pod ${name} failed`, failing: (status.containerStatuses ?? []).map((c) => ({pod: name, container: c.name, previous: false}))}
  for (const c of [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])]) {
    const reason = c.state?.waiting?.reason
    // The node retries a pull that failed for a passing reason: a wait (podWaitReason says it), not a failure.
    if (reason && PULL_FAILED.has(reason) && passingPullError(c.state?.waiting?.message)) continue
    if (reason && FATAL_WAITING.has(reason)) {
      const last = c.lastState?.terminated
      // Not a crash: the runtime could not start the container (a command not in the image, not executable). It says
      // why, and there are no logs to show.
      const start =
        reason === 'RunContainerError'
          ? {why: reason, said: c.state?.waiting?.message}
          : reason === 'CrashLoopBackOff' && last?.reason && NOT_STARTED.has(last.reason)
            ? {why: last.reason, said: last.message}
            : undefined
      if (start) {
        const restarts = c.restartCount ? ` (restarted ${times(c.restartCount)})` : ''
        return {message: `container ${c.name} of pod ${name} cannot start (${start.why}): ${startErrorMessage(start.said)}${restarts}`, failing: []}
      }
      const detail =
        reason === 'CrashLoopBackOff'
          ? ` (exit code ${last?.exitCode ?? '?'}${last?.reason ? `, ${last.reason}` : ''}; restarted ${times(c.restartCount ?? 0)})`
          : c.state?.waiting?.message
            ? `: ${c.state.waiting.message}`
            : ''
      return {message: `container ${c.name} of pod ${name} is in ${reason}${detail}`, failing: [{pod: name, container: c.name, previous: reason === 'CrashLoopBackOff'}], reason}
    }
  }
  return undefined
}

/**
 * A container that crash-loops, seen between two back-offs, when CrashLoopBackOff is not what it says: it has crashed
 * again (terminated, having restarted before: its second crash at least), or it has crashed twice or more and was just
 * restarted, not ready yet. The kubelet says CrashLoopBackOff only while it waits to restart it; for a second or so at
 * each crash the container is `Error` or starting, and `skycap status` called a crash loop `progressing` then, with no
 * reason. A container that crashed once and runs again may recover: it is not judged here (podWaitReason says it).
 * A container with no readiness check is ready as soon as it runs: after each restart the kubelet (1.37) showed one
 * that exits at start ready for about half a second, and `status` said `ready`. So a ready container that has
 * crashed twice or more and started less than RECOVERED_AFTER_MS before `at` (the caller's clock against the node's
 * `startedAt`) is still in its loop; without `at` or `startedAt`, a ready container counts as recovered.
 * The deploy's watch does not use it: it fails a pod at its first CrashLoopBackOff, and never saw one between two.
 */
export function crashLoopProblem(pod: KubeObject, at?: number): {message: string; failing: FailingContainer[]} | undefined {
  const status = (pod as {status?: PodStatus}).status ?? {}
  const name = pod.metadata.name
  for (const c of [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])]) {
    const last = c.lastState?.terminated
    const restarts = c.restartCount ?? 0
    if (!last || last.exitCode === 0 || restarts === 0) continue
    if (c.ready && !justStarted(c.state?.running?.startedAt, at)) continue
    const now = c.state?.terminated
    if (!now && restarts < 2) continue
    const crash = now ?? last
    if (crash.reason && NOT_STARTED.has(crash.reason)) {
      return {message: `container ${c.name} of pod ${name} cannot start (${crash.reason}): ${startErrorMessage(crash.message)} (restarted ${times(restarts)})`, failing: []}
    }
    const detail = `exit code ${crash.exitCode ?? '?'}${crash.reason ? `, ${crash.reason}` : ''}; restarted ${times(restarts)}`
    return {message: `container ${c.name} of pod ${name} is crash-looping (${detail})`, failing: [{pod: name, container: c.name, previous: !now}]}
  }
  return undefined
}

/**
 * How long a container of a rollout's new pod must have run, by the node's `startedAt` (whole seconds) against the
 * watch's clock, before it counts: one without a readiness check is ready only then (settling), and one that was
 * restarted is a crash until then (rolloutExitProblem). The kubelet showed a container that exits at start running
 * and ready for about half a second, and saw it exit within a second or so (its PLEG relists every second): `deploy`
 * said `1/1 ready … is live` in 3 s and the pod crash-looped after. startedAt is cut to the second, so 3 s is 2 to 3 s
 * of running. Kubernetes' own minReadySeconds would do it in the controller, but holds every batch of a rolling update
 * and changes the Deployment skycap applies; this holds only the watch, once, for the pods that started last.
 */
export const SETTLE_MS = 3000

/** When a running container started, by the node (ms), or undefined when it does not say. */
function startedAtMs(c: ContainerStatus): number | undefined {
  const started = c.state?.running?.startedAt ? Date.parse(c.state.running.startedAt) : NaN
  return Number.isNaN(started) ? undefined : started
}

/**
 * Whether a container that started at `started` (the node's clock) has run less than SETTLE_MS at `at` (this
 * machine's). One that started more than SETTLE_MS ahead of `at` tells of clocks that disagree, not of a start: it
 * counts as settled, as before the settling, rather than hold every deploy (or fail it, restarted long ago) for as
 * long as the node's clock is ahead.
 */
function unsettled(started: number, at: number): boolean {
  return at - started < SETTLE_MS && started - at <= SETTLE_MS
}

/**
 * Why a pod of a rollout (restartPolicy Always: a Deployment's, StatefulSet's or DaemonSet's) has failed though the
 * kubelet does not say CrashLoopBackOff: a container that exited (its state `terminated`: the kubelet 1.37 keeps a
 * crashed container `terminated`, not `waiting`, for most of its back-off, and a deploy waited its whole timeout
 * saying "not ready", with events and no log line), or one restarted after a crash that has not run SETTLE_MS since
 * (`at`, the watch's clock; without it a restart is not judged: it may be an old pod's, from long before). A pod that
 * restarted once and then ran steadily before the watch saw it is not judged here either: it may be old.
 */
export function rolloutExitProblem(pod: KubeObject, at?: number): {message: string; failing: FailingContainer[]} | undefined {
  const status = (pod as {status?: PodStatus}).status ?? {}
  if (((pod as {spec?: {restartPolicy?: string}}).spec?.restartPolicy ?? 'Always') !== 'Always') return undefined
  const name = pod.metadata.name
  // An init container's exit 0 is its job done; only its failure counts.
  const init = (status.initContainerStatuses ?? []).filter((c) => (c.state?.terminated?.exitCode ?? 0) !== 0).map((c) => ({c, crash: c.state?.terminated, now: true}))
  const main = (status.containerStatuses ?? []).flatMap((c) => {
    if (c.state?.terminated) return [{c, crash: c.state.terminated, now: true}]
    const last = c.lastState?.terminated
    if (!last || !c.restartCount || at === undefined) return []
    const started = startedAtMs(c)
    // Restarted and not (yet) running SETTLE_MS: starting again, or just started.
    return started === undefined || unsettled(started, at) ? [{c, crash: last, now: false}] : []
  })
  const found = [...init, ...main][0]
  if (!found?.crash) return undefined
  const {c, crash, now} = found
  const restarts = c.restartCount ? `restarted ${times(c.restartCount)}` : ''
  if (crash.reason && NOT_STARTED.has(crash.reason)) {
    return {message: `container ${c.name} of pod ${name} cannot start (${crash.reason}): ${startErrorMessage(crash.message)}${restarts ? ` (${restarts})` : ''}`, failing: []}
  }
  const detail = `exit code ${crash.exitCode ?? '?'}${crash.reason ? `, ${crash.reason}` : ''}${restarts ? `; ${restarts}` : ''}`
  return {message: `container ${c.name} of pod ${name} exited (${detail})`, failing: [{pod: name, container: c.name, previous: !now}]}
}

/**
 * A container of these pods that runs without a readiness check and started less than SETTLE_MS before `at`, said as
 * the wait's reason, or undefined: the kubelet calls such a container ready as soon as it runs, before it could have
 * crashed. Containers with a readiness check are ready by it. Without `at` (no rollout's watch), nothing settles.
 */
export function settling(pods: KubeObject[], at: number | undefined): Pick<ResourceStatus, 'message' | 'settlesAt'> | undefined {
  if (at === undefined) return undefined
  for (const pod of pods) {
    if ((pod.metadata as {deletionTimestamp?: string}).deletionTimestamp) continue
    const probed = new Set(((pod as {spec?: {containers?: Array<{name: string; readinessProbe?: unknown}>}}).spec?.containers ?? []).filter((c) => c.readinessProbe).map((c) => c.name))
    for (const c of (pod as {status?: PodStatus}).status?.containerStatuses ?? []) {
      const started = startedAtMs(c)
      if (probed.has(c.name) || started === undefined || !unsettled(started, at)) continue
      return {message: `container ${c.name} of pod ${pod.metadata.name} has no readiness check: ready once it has run ${SETTLE_MS / 1000} s without exiting`, settlesAt: started + SETTLE_MS}
    }
  }
  return undefined
}

/** How long a container that crashed and was started again must have run before `status` takes it for recovered. */
export const RECOVERED_AFTER_MS = 10_000

function justStarted(startedAt: string | undefined, now: number | undefined): boolean {
  const started = startedAt ? Date.parse(startedAt) : NaN
  return now !== undefined && !Number.isNaN(started) && now - started < RECOVERED_AFTER_MS
}

export function podReady(pod: KubeObject): boolean {
  const status = (pod as {status?: PodStatus}).status
  return status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false
}

/**
 * Why a pod is not ready yet, if the cluster says (unschedulable, a pull the node retries, readiness failing).
 * `deadline`: a rollout is waiting for it (a deploy's watch), so a retried pull is said to be tried until then.
 */
export function podWaitReason(pod: KubeObject, deadline = true): string | undefined {
  const status = (pod as {status?: PodStatus}).status ?? {}
  const sched = status.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False')
  if (sched) return `pod ${pod.metadata.name} is not scheduled: ${sched.message ?? sched.reason ?? 'no node fits'}`
  const pulling = [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])].find(
    (c) => PULL_FAILED.has(c.state?.waiting?.reason ?? '') && passingPullError(c.state?.waiting?.message),
  )
  if (pulling) {
    return `container ${pulling.name} of pod ${pod.metadata.name} cannot pull its image yet (${pulling.state?.waiting?.reason}: ${pulling.state?.waiting?.message}); the node keeps trying${deadline ? ' until the deadline' : ''}`
  }
  // Crashed, and restarted before any back-off (not failed yet): the crash is the news, not the readiness check (a
  // Ctrl-C or a timeout then said only "runs but its readiness check does not pass", or nothing).
  const crashed = status.containerStatuses?.find((c) => !c.ready && (c.restartCount ?? 0) > 0 && c.lastState?.terminated && !c.state?.terminated)
  const last = crashed?.lastState?.terminated
  if (crashed && last) {
    const exit = last.reason && NOT_STARTED.has(last.reason) ? `could not start (${last.reason})` : `exited (exit code ${last.exitCode ?? '?'}${last.reason ? `, ${last.reason}` : ''})`
    return `container ${crashed.name} of pod ${pod.metadata.name} ${exit} and was restarted ${times(crashed.restartCount ?? 0)}; it ${crashed.state?.running ? 'runs again, not ready yet' : 'is starting again'}`
  }
  const notReady = status.containerStatuses?.find((c) => c.state?.running && !c.ready)
  if (notReady) return `container ${notReady.name} of pod ${pod.metadata.name} runs but its readiness check does not pass`
  return undefined
}

/** The runtime's long message cut to what names the command (`exec: "/nope": stat /nope: no such file or directory`). */
export function startErrorMessage(message: string | undefined): string {
  const text = (message ?? '').trim()
  const exec = /exec: .*?(?=: unknown$|$)/.exec(text)
  return exec?.[0] ?? text
}

/** A restart count in words: `once`, `3 times` (it said `restarted 1 times`). */
export function times(n: number): string {
  return n === 1 ? 'once' : `${n} times`
}
