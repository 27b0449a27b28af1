import {ANNOTATIONS, type KubeObject} from '../render/objects.js'
import {quotaRefusal} from './quota.js'
import {currentReplicaSet} from './replicasets.js'
import {ClusterSnapshot, podProblem, podReady, podWaitReason, relatedObject, type ResourceStatus, rolloutExitProblem, settling} from './status.js'

/** A kind skycap knows how to watch: when it is ready, failed or still pending. */
export interface WatchedKind {
  /** Plural resource name for `kubectl get`. */
  resource: string
  status(desired: KubeObject, snapshot: ClusterSnapshot): ResourceStatus
}

// Workload status fields differ per kind; each reader below checks the fields it uses.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = KubeObject & {status?: Record<string, any>; spec?: Record<string, any>}

function base(desired: KubeObject, snapshot: ClusterSnapshot): Pick<ResourceStatus, 'ref' | 'related' | 'failing'> {
  const live = snapshot.get(desired.kind, desired.metadata.name)
  return {ref: `${desired.kind}/${desired.metadata.name}`, related: [live ? relatedObject(live) : {kind: desired.kind, name: desired.metadata.name}], failing: []}
}

/**
 * Pods of a workload: a failing one fails it (fast), a waiting one explains the wait. A pod being deleted (a scale-down,
 * a replaced pod) is on its way out: an app that exits non-zero on SIGTERM (a Go program: 2) leaves it `Failed`, which
 * is no failure of the rollout (a scale to 0 failed with "pod web-… failed" on the real node).
 */
function checkPods(pods: KubeObject[], out: ResourceStatus, at: number | undefined): ResourceStatus | undefined {
  out.related.push(...pods.map(relatedObject))
  for (const pod of pods) {
    if ((pod.metadata as {deletionTimestamp?: string}).deletionTimestamp) continue
    // The kubelet's CrashLoopBackOff first (its words); an exit it says nothing of yet fails it too.
    const problem = podProblem(pod) ?? rolloutExitProblem(pod, at)
    if (problem) return {...out, state: 'failed', message: problem.message, failing: problem.failing}
  }
  return undefined
}

function waitReason(pods: KubeObject[]): string {
  for (const p of pods) {
    if (podReady(p)) continue
    const why = podWaitReason(p)
    if (why) return `; ${why}`
  }
  return ''
}

/**
 * The containers of `pods` that run but are not ready (a readiness check that does not pass): if time runs out,
 * their logs are the report's, as a crashed container's are (a timeout showed no log lines at all, though an app that
 * never gets ready usually says why in them). At most 3.
 */
function notReadyContainers(pods: KubeObject[]): Pick<ResourceStatus, 'waiting'> {
  const found = pods
    .filter((p) => !(p.metadata as {deletionTimestamp?: string}).deletionTimestamp && !podReady(p))
    .flatMap((p) =>
      (
        (p as {status?: {containerStatuses?: Array<{name: string; ready?: boolean; restartCount?: number; state?: {running?: unknown}; lastState?: {terminated?: unknown}}>}}).status
          ?.containerStatuses ?? []
      )
        .filter((c) => c.state?.running && !c.ready)
        // Restarted after a crash: the crashed instance's lines say why (the report falls back to these ones).
        .map((c) => ({pod: p.metadata.name, container: c.name, previous: (c.restartCount ?? 0) > 0 && c.lastState?.terminated !== undefined})),
    )
    .slice(0, 3)
  return found.length ? {waiting: found} : {}
}

/** The controller has not yet seen the spec that was applied: nothing it reports is about that spec yet. */
function stale(live: Obj): boolean {
  return (live.status?.observedGeneration ?? 0) < ((live.metadata as {generation?: number}).generation ?? 0)
}

const WAITING_FOR_CONTROLLER = 'waiting for the controller to see the new spec'

const deployment: WatchedKind = {
  resource: 'deployments',
  status(desired, snapshot) {
    const out: ResourceStatus = {...base(desired, snapshot), state: 'pending', message: ''}
    const live = snapshot.get('Deployment', desired.metadata.name) as Obj | undefined
    if (!live) return {...out, message: 'not created yet', unstarted: true}
    // Until the controller has observed the applied generation, its revision annotation may still name the
    // ReplicaSet of the release before (a crashing one, when rolling back): judge nothing yet.
    if (stale(live)) return {...out, message: WAITING_FOR_CONTROLLER, unstarted: true}
    // Another command applied its own release over this one (the lock released by hand): its pods are not this
    // rollout's, and a watch that waited on them reported the other release's success as this one's.
    const mine = desired.metadata.annotations?.[ANNOTATIONS.revision]
    const theirs = live.metadata.annotations?.[ANNOTATIONS.revision]
    if (mine && theirs && mine !== theirs) {
      return {...out, state: 'failed', message: `replaced while this rollout ran: it now runs revision ${theirs.slice(0, 12)}, applied by another command (was the lock released by hand?)`}
    }
    const want = (live.spec?.replicas as number | undefined) ?? 1
    const st = live.status ?? {}
    // The ReplicaSet of the current template and its pods; pods of older ReplicaSets are on their way out.
    // Found by revision and pod template (currentReplicaSet): after the controller observed a change of template
    // and replicas, its annotation can still name the release before's ReplicaSet for a moment; while the
    // ReplicaSet it names has another template, nothing is judged.
    const owned = snapshot.ownedBy('ReplicaSet', live)
    const newRs = currentReplicaSet(live, owned)
    const revision = live.metadata.annotations?.['deployment.kubernetes.io/revision']
    // Paused by hand (`kubectl rollout pause`) during the rollout: the controller rolls out nothing until it is resumed,
    // and the watch waited for it until its timeout (a deploy refuses one paused before it starts: src/deploy/drift.ts).
    const paused =
      live.spec?.paused === true
        ? {
            ...out,
            state: 'failed' as const,
            message: `paused (kubectl rollout pause): the controller rolls out nothing until \`${snapshot.shown(`rollout resume deployment/${desired.metadata.name}`)}\``,
          }
        : undefined
    if (!newRs && owned.some((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision'] === revision)) {
      return paused ?? {...out, message: 'waiting for the controller to create the new ReplicaSet', unstarted: true}
    }
    const pods = newRs ? snapshot.ownedBy('Pod', newRs) : []
    if (newRs) out.related.push(relatedObject(newRs))
    const since = newRs?.metadata.creationTimestamp
    if (typeof since === 'string') out.eventsSince = since
    const podFailure = checkPods(pods, out, snapshot.at)
    if (podFailure) return podFailure
    // The condition outlives the rollout it was about: it counts only when it names the current ReplicaSet.
    const deadline = (st.conditions as Array<{type: string; reason?: string; message?: string}> | undefined)?.find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded')
    if (deadline && newRs && (deadline.message ?? '').includes(`"${newRs.metadata.name}"`)) {
      return {...out, state: 'failed', message: `exceeded its progress deadline: ${deadline.message ?? ''}`.trim()}
    }
    const updated = st.updatedReplicas ?? 0
    const available = st.availableReplicas ?? 0
    const total = st.replicas ?? 0
    if (updated >= want && available >= want && total === want && (st.unavailableReplicas ?? 0) === 0) {
      const settle = settling(pods, snapshot.at)
      return settle ? {...out, message: `${available}/${want} ready; ${settle.message}`, settlesAt: settle.settlesAt} : {...out, state: 'ready', message: `${available}/${want} ready`}
    }
    if (paused) return paused
    const old = total - updated
    // Ready pods count as available only after staying ready minReadySeconds: say what the wait is for.
    const minReady = (live.spec?.minReadySeconds as number | undefined) ?? 0
    const ready = st.readyReplicas ?? 0
    const availability = minReady > 0 && ready > available ? `, ${available} available (a pod counts once ready for ${minReady}s, minReadySeconds)` : ''
    // Ready pods of the new ReplicaSet: the Deployment's readyReplicas counts the old ones too, and "1/1 updated,
    // 1 ready, 1 old still running" read as if the new pod were ready while its readiness check failed.
    const readyNew = pods.length
      ? pods.filter((p) => podReady(p) && !(p.metadata as {deletionTimestamp?: string}).deletionTimestamp).length
      : ((newRs?.status as {readyReplicas?: number} | undefined)?.readyReplicas ?? 0)
    // The pods are read fresher than the Deployment's status, which the controller updates after them: a ready new
    // pod is an updated one ("0/1 updated, 1 ready" and "1/2 updated, 2 ready, 2 old still running" were said).
    const updatedShown = Math.max(updated, readyNew)
    const oldShown = Math.max(0, old - (updatedShown - updated))
    // A ResourceQuota that refuses the pods: said as the wait's reason, and a failure once it stands (the watch's
    // QuotaWatch); it waited for the timeout, saying nothing.
    const refusal = quotaRefusal(live, newRs, snapshot)
    const counts = `${updatedShown}/${want} updated, ${readyNew} ready${availability}${oldShown > 0 ? `, ${oldShown} old still running` : ''}`
    return {
      ...out,
      message: `${counts}${refusal ? `; ${refusal.words}` : waitReason(pods)}`,
      ...(refusal ? {quota: {refusal, failure: `cannot create its pods (${counts}): ${refusal.words}`}} : {}),
      ...notReadyContainers(pods),
    }
  },
}

/** The pods of a StatefulSet or DaemonSet at revision `hash` (their controller-revision-hash label). */
function podsAtRevision(pods: KubeObject[], hash: string | undefined): KubeObject[] {
  return hash === undefined ? [] : pods.filter((p) => p.metadata.labels?.['controller-revision-hash'] === hash)
}

/**
 * Pods of an older revision that cannot start. A StatefulSet waits for such a pod to become ready before it
 * replaces it, forever (kubernetes/kubernetes#67250, "forced rollback" in the StatefulSet docs): a rollback away from
 * a crash-looping release, or a fix deployed over one, must delete them so the controller recreates them.
 */
function brokenOldPods(pods: KubeObject[], current: KubeObject[]): string[] {
  const fresh = new Set(current.map((p) => p.metadata.name))
  return pods.filter((p) => !fresh.has(p.metadata.name) && podProblem(p)).map((p) => p.metadata.name)
}

const statefulSet: WatchedKind = {
  resource: 'statefulsets',
  status(desired, snapshot) {
    const out: ResourceStatus = {...base(desired, snapshot), state: 'pending', message: ''}
    const live = snapshot.get('StatefulSet', desired.metadata.name) as Obj | undefined
    if (!live) return {...out, message: 'not created yet', unstarted: true}
    if (stale(live)) return {...out, message: WAITING_FOR_CONTROLLER, unstarted: true}
    const st = live.status ?? {}
    const all = snapshot.ownedBy('Pod', live)
    const pods = podsAtRevision(all, st.updateRevision as string | undefined)
    const podFailure = checkPods(pods, out, snapshot.at)
    if (podFailure) return podFailure
    const want = (live.spec?.replicas as number | undefined) ?? 1
    const done = (st.readyReplicas ?? 0) >= want && (st.updatedReplicas ?? 0) >= want && (!st.updateRevision || st.currentRevision === st.updateRevision || want === 0)
    const settle = settling(pods, snapshot.at)
    if (done)
      return settle
        ? {...out, message: `${st.readyReplicas ?? 0}/${want} ready; ${settle.message}`, settlesAt: settle.settlesAt}
        : {...out, state: 'ready', message: `${st.readyReplicas ?? 0}/${want} ready`}
    const broken = brokenOldPods(all, pods)
    return {
      ...out,
      message: `${st.updatedReplicas ?? 0}/${want} updated, ${st.readyReplicas ?? 0} ready${waitReason(pods)}`,
      ...(broken.length ? {replace: broken} : {}),
      ...notReadyContainers(pods),
    }
  },
}

const daemonSet: WatchedKind = {
  resource: 'daemonsets',
  status(desired, snapshot) {
    const out: ResourceStatus = {...base(desired, snapshot), state: 'pending', message: ''}
    const live = snapshot.get('DaemonSet', desired.metadata.name) as Obj | undefined
    if (!live) return {...out, message: 'not created yet', unstarted: true}
    if (stale(live)) return {...out, message: WAITING_FOR_CONTROLLER, unstarted: true}
    // A DaemonSet's status names no revision: the current one is its ControllerRevision with the highest number.
    const revisions = snapshot.ownedBy('ControllerRevision', live) as Array<KubeObject & {revision?: number}>
    const current = revisions.reduce<(KubeObject & {revision?: number}) | undefined>((a, b) => (!a || (b.revision ?? 0) > (a.revision ?? 0) ? b : a), undefined)
    const pods = podsAtRevision(snapshot.ownedBy('Pod', live), current?.metadata.labels?.['controller-revision-hash'])
    const podFailure = checkPods(pods, out, snapshot.at)
    if (podFailure) return podFailure
    const st = live.status ?? {}
    const want = st.desiredNumberScheduled ?? 0
    if ((st.updatedNumberScheduled ?? 0) >= want && (st.numberAvailable ?? 0) >= want && (st.numberUnavailable ?? 0) === 0) {
      const settle = settling(pods, snapshot.at)
      return settle
        ? {...out, message: `${st.numberAvailable ?? 0}/${want} ready; ${settle.message}`, settlesAt: settle.settlesAt}
        : {...out, state: 'ready', message: `${st.numberAvailable ?? 0}/${want} ready`}
    }
    return {...out, message: `${st.updatedNumberScheduled ?? 0}/${want} updated, ${st.numberReady ?? 0} ready${waitReason(pods)}`, ...notReadyContainers(pods)}
  },
}

const job: WatchedKind = {
  resource: 'jobs',
  status(desired, snapshot) {
    const out: ResourceStatus = {...base(desired, snapshot), state: 'pending', message: ''}
    const live = snapshot.get('Job', desired.metadata.name) as Obj | undefined
    if (!live) return {...out, message: 'not created yet', unstarted: true}
    const conditions = (live.status?.conditions ?? []) as Array<{type: string; status: string; reason?: string; message?: string}>
    const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True')
    const pods = snapshot.ownedBy('Pod', live)
    out.related.push(...pods.map(relatedObject))
    if (failed)
      return {
        ...out,
        state: 'failed',
        message: `job failed: ${failed.message ?? failed.reason ?? ''}`.trim(),
        failing: pods.slice(0, 1).map((p) => ({pod: p.metadata.name, container: String((p as Obj).spec?.containers?.[0]?.name ?? ''), previous: false})),
      }
    if (conditions.some((c) => c.type === 'Complete' && c.status === 'True')) return {...out, state: 'ready', message: 'completed'}
    const podFailure = checkPods(pods, out, snapshot.at)
    if (podFailure) return podFailure
    return {...out, message: `${live.status?.succeeded ?? 0}/${live.spec?.completions ?? 1} completed`}
  },
}

const pod: WatchedKind = {
  resource: 'pods',
  status(desired, snapshot) {
    const out: ResourceStatus = {...base(desired, snapshot), state: 'pending', message: ''}
    const live = snapshot.get('Pod', desired.metadata.name)
    if (!live) return {...out, message: 'not created yet', unstarted: true}
    const problem = podProblem(live) ?? rolloutExitProblem(live, snapshot.at)
    if (problem) return {...out, state: 'failed', message: problem.message, failing: problem.failing}
    if ((live as Obj).status?.phase === 'Succeeded') return {...out, state: 'ready', message: 'ready'}
    const settle = settling([live], snapshot.at)
    if (podReady(live)) return settle ? {...out, message: `ready; ${settle.message}`, settlesAt: settle.settlesAt} : {...out, state: 'ready', message: 'ready'}
    return {...out, message: podWaitReason(live) ?? `phase ${(live as Obj).status?.phase ?? 'Pending'}`}
  },
}

/** Kinds with a rollout to watch; every other kind is done once kubectl apply accepted it. */
export const WATCHED_KINDS: Record<string, WatchedKind> = {Deployment: deployment, StatefulSet: statefulSet, DaemonSet: daemonSet, Job: job, Pod: pod}

/** The `kubectl get` resource list that one poll needs: the watched kinds plus what they own. */
export const WATCH_RESOURCES = 'deployments,replicasets,statefulsets,daemonsets,jobs,pods'

/** WATCH_RESOURCES, plus the ControllerRevisions that name a DaemonSet's current revision when there is one. */
export function watchResources(objects: KubeObject[]): string {
  return objects.some((o) => o.kind === 'DaemonSet') ? `${WATCH_RESOURCES},controllerrevisions` : WATCH_RESOURCES
}

/** The status of any object: watched kinds by their rules, others ready once applied. */
export function statusOf(desired: KubeObject, snapshot: ClusterSnapshot): ResourceStatus {
  const kind = WATCHED_KINDS[desired.kind]
  if (kind) return kind.status(desired, snapshot)
  return {...base(desired, snapshot), state: 'ready', message: 'applied'}
}
