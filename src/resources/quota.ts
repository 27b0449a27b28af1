import type {KubeObject} from '../render/objects.js'
import type {ClusterSnapshot} from './status.js'

/**
 * How long a ResourceQuota's refusal of a Deployment's pods must stand, with nothing moving, before it fails the
 * rollout. Not at once: in a rolling update at a full quota the surge pod is refused until old pods go, and the
 * ReplicaSet controller retries a refused pod later each time (exponential back-off), so the room freed is taken a
 * while after it was freed.
 */
export const QUOTA_GRACE_MS = 10_000

interface Condition {
  type: string
  status?: string
  reason?: string
  message?: string
  lastTransitionTime?: string
  lastUpdateTime?: string
}

type Live = KubeObject & {spec?: {replicas?: number}; status?: {replicas?: number; observedGeneration?: number; conditions?: Condition[]}}

/** A Deployment's current ReplicaSet that a ResourceQuota stops from creating its pods. */
export interface QuotaRefusal {
  /** The ResourceQuota's name. */
  quota: string
  /** What the quota refuses, in its words: `the ResourceQuota q refuses more pods (requested: pods=1, used: pods=14, limited: pods=14)`. */
  words: string
  /** Pods of the app are on their way out: they may free room. */
  leaving: boolean
  /**
   * What the rollout has done so far (its pod counts): a change means it moved, and the refusal is counted again from
   * there.
   */
  progress: string
  /** Since when (the API server's clock, ms) the refusal stands with nothing moving, as far as the objects tell. */
  since: number
}

/**
 * The ResourceQuota refusal the current ReplicaSet `rs` of `deployment` reports (its ReplicaFailure condition, which
 * the Deployment copies), while it has fewer pods than it asks for; undefined otherwise. The controller keeps the
 * condition's first message until a sync succeeds and clears it then.
 */
export function quotaRefusal(deployment: KubeObject, rs: KubeObject | undefined, snapshot: ClusterSnapshot): QuotaRefusal | undefined {
  const set = rs as Live | undefined
  if (!set) return undefined
  const observed = (set.status?.observedGeneration ?? 0) >= ((set.metadata as {generation?: number}).generation ?? 0)
  if (!observed || (set.status?.replicas ?? 0) >= (set.spec?.replicas ?? 1)) return undefined
  const failure = set.status?.conditions?.find((c) => c.type === 'ReplicaFailure' && c.status === 'True')
  // `pods "web-…" is forbidden: exceeded quota: q, requested: pods=1, used: pods=14, limited: pods=14`
  const said = /exceeded quota: ([^,\s]+), (requested: .*)$/.exec(failure?.message ?? '')
  if (!failure || !said) return undefined
  const live = deployment as Live
  const st = (live.status ?? {}) as Record<string, number | undefined>
  // The Deployment controller stamps its Progressing condition each time the rollout moves (a ReplicaSet scaled, pods
  // ready); a scale alone does not.
  const moved = live.status?.conditions?.find((c) => c.type === 'Progressing' && c.reason === 'ReplicaSetUpdated')?.lastUpdateTime
  const since = Math.max(...[failure.lastTransitionTime, moved].map((t) => Date.parse(t ?? '')).filter(Number.isFinite), Number.NEGATIVE_INFINITY)
  return {
    quota: said[1] as string,
    words: `the ResourceQuota ${said[1]} refuses more pods (${said[2]})`,
    leaving: snapshot.all('Pod').some((p) => (p.metadata as {deletionTimestamp?: string}).deletionTimestamp),
    progress: [set.status?.replicas ?? 0, st.replicas, st.updatedReplicas, st.readyReplicas, st.availableReplicas].map((n) => n ?? 0).join('/'),
    since,
  }
}

/**
 * Whether a refusal stands for good, by one look at the cluster (`skycap status`): nothing of the app on its way out,
 * and QUOTA_GRACE_MS since it began or the rollout last moved, by `now` against the API server's times.
 */
export function lastingRefusal(refusal: QuotaRefusal, now: number): boolean {
  return !refusal.leaving && Number.isFinite(refusal.since) && now - refusal.since >= QUOTA_GRACE_MS
}

/**
 * A watch's record of the quota refusals it sees, poll after poll, by its own clock: a refusal fails the rollout once
 * nothing has moved (no pod of the app leaving, the same pod counts) for QUOTA_GRACE_MS, or for as long again as it
 * had stood before pods last left, whichever is longer (the ReplicaSet controller's back-off by then).
 */
export class QuotaWatch {
  private readonly seen = new Map<string, {since: number; movedAt: number; progress: string}>()

  /** Whether `ref`'s refusal (undefined: none now) stands for good at `now`. */
  lasting(ref: string, refusal: QuotaRefusal | undefined, now: number): boolean {
    if (!refusal) {
      this.seen.delete(ref)
      return false
    }
    const before = this.seen.get(ref)
    if (!before || before.progress !== refusal.progress) {
      this.seen.set(ref, {since: now, movedAt: now, progress: refusal.progress})
      return false
    }
    if (refusal.leaving) {
      before.movedAt = now
      return false
    }
    return now - before.movedAt >= Math.max(QUOTA_GRACE_MS, before.movedAt - before.since)
  }
}
