import {ANNOTATIONS, type KubeObject, LABELS} from '../render/objects.js'
import {lastingRefusal, quotaRefusal} from '../resources/quota.js'
import {currentReplicaSet} from '../resources/replicasets.js'
import {explainBackOffs} from '../resources/pull-events.js'
import {ClusterSnapshot, crashLoopProblem, podProblem, podReady, podWaitReason, PullErrors} from '../resources/status.js'
import {isDeployOrRollback, listReleases, type ReleaseRecord, runningServices} from '../release/store.js'
import {plural, type Reporter} from '../ui/output.js'
import {appSelector, connect, type KubectlFactory, openEnvironment} from '../env/connect.js'
import {rolloutsOf, servingDeployment} from '../strategies/state.js'
import {existingSlots, missingSlot, missingSlotNote, noSlotNote, selectedSlot} from '../strategies/strategy.js'
import {deployFirst} from '../config/environment.js'
import {lockStatus} from '../lock/lease.js'
import {runningHooks} from '../hooks/hooks.js'

export interface EnvOptions {
  environment?: string
  configPath?: string
}

/** `skycap history ENV`: the recorded releases, newest first. */
/** `limit`: the newest that many entries only (`history -n 5`); `more` counts those left out. */
export async function history(options: EnvOptions & {limit?: number}, factory: KubectlFactory, reporter: Reporter): Promise<{environment: string; releases: ReleaseRecord[]; more?: number}> {
  const {loaded, env} = await openEnvironment({...options, repository: false, connectionOnly: {command: 'history', reporter}})
  const {kubectl} = await connect(env, factory, reporter, {checkContextOnFirstCall: true})
  const releases = (await listReleases(kubectl, loaded.config.app, env.name, {manifests: false})).map((r) => r.record)
  if (options.limit === undefined || releases.length <= options.limit) return {environment: env.name, releases}
  return {environment: env.name, releases: releases.slice(0, options.limit), more: releases.length - options.limit}
}

/** The fields of a live Deployment or ReplicaSet that status reads. */
interface LiveWorkload extends KubeObject {
  spec?: {replicas?: number; minReadySeconds?: number; template?: {metadata?: {labels?: Record<string, string>}; spec?: {containers?: Array<{image?: string}>}}}
  status?: {replicas?: number; readyReplicas?: number; availableReplicas?: number; updatedReplicas?: number; observedGeneration?: number}
}

/** Pods of earlier revisions that a rollout has not replaced yet. */
export interface OldPods {
  /** Pods of the earlier ReplicaSets (status.replicas), ready or not. */
  pods: number
  ready: number
  /** skycap.dev/revision of the earlier ReplicaSet with the most pods (the Deployment controller copies it there). */
  revision: string | null
}

export interface ServiceStatus {
  service: string
  revision: string | null
  image: string | null
  /** Ready pods of the revision the Deployment asks for (its new ReplicaSet), not of earlier revisions. */
  ready: number
  desired: number
  updated: number
  /** Earlier revisions' pods while a rollout has not replaced them all; null when none are left. */
  old: OldPods | null
  age: string | null
  /** failing: a pod of the revision the Deployment asks for cannot become ready by itself (crash loop, image pull). */
  state: 'ready' | 'progressing' | 'failing' | 'not deployed'
  /** Why it is failing, in one sentence (the deploy's words); null otherwise. */
  problem: string | null
  /**
   * Why a pod of the new revision is not ready yet when it is progressing, if the cluster says (not scheduled, a pull
   * the node retries, its readiness check); null otherwise.
   */
  waiting: string | null
}

/** One service's line of `skycap status`, from its live Deployment and the ReplicaSets it owns. */
export function serviceStatus(name: string, deployment: LiveWorkload | undefined, snapshot: ClusterSnapshot, now: number): ServiceStatus {
  if (!deployment) return {service: name, revision: null, image: null, ready: 0, desired: 0, updated: 0, old: null, age: null, state: 'not deployed', problem: null, waiting: null}
  const owned = snapshot.ownedBy('ReplicaSet', deployment) as LiveWorkload[]
  const current = currentReplicaSet(deployment, owned)
  const earlier = owned.filter((rs) => rs !== current && (rs.status?.replicas ?? 0) > 0).sort((a, b) => (b.status?.replicas ?? 0) - (a.status?.replicas ?? 0))
  const desired = deployment.spec?.replicas ?? 1
  const ready = current?.status?.readyReplicas ?? 0
  const updated = deployment.status?.updatedReplicas ?? 0
  const old = earlier.length
    ? {
        pods: earlier.reduce((n, rs) => n + (rs.status?.replicas ?? 0), 0),
        ready: earlier.reduce((n, rs) => n + (rs.status?.readyReplicas ?? 0), 0),
        revision: earlier[0]?.metadata.annotations?.[ANNOTATIONS.revision] ?? null,
      }
    : null
  // Judged only once the controller has observed the spec (a scale or deploy just applied): until then its counts
  // are about the spec before. Ready means exactly the desired pods of the new revision: a scale-down is not ready
  // while the ReplicaSet still has more.
  const observed = (deployment.status?.observedGeneration ?? 0) >= ((deployment.metadata as {generation?: number}).generation ?? 0)
  const settled = observed && ready === desired && (current?.status?.replicas ?? 0) === desired && updated >= desired && old === null
  // Pods of the new revision that cannot become ready by themselves, as the deploy's watch judges them. A pod that is
  // being deleted, or that ended (an evicted pod stays, Failed, until it is collected, while its ReplicaSet has already
  // replaced it), is not what runs.
  const ended = (p: KubeObject) => ['Failed', 'Succeeded'].includes((p as {status?: {phase?: string}}).status?.phase ?? '')
  const pods = (current ? snapshot.ownedBy('Pod', current) : []).filter((p) => !(p.metadata as {deletionTimestamp?: string}).deletionTimestamp && !ended(p))
  const since = runningSince(current, pods)
  // A ResourceQuota that refuses its pods: failing once it stands (nothing of the app leaving, QUOTA_GRACE_MS), a
  // reason to wait before (it said `progressing`, with neither, for a scale the quota left at 12/14 for good).
  const refusal = quotaRefusal(deployment, current, snapshot)
  const refused = refusal && lastingRefusal(refusal, now) ? `cannot create its pods: ${refusal.words}` : undefined
  // A crash loop is failing between two back-offs too (crashLoopProblem): it read `progressing` for a second at each
  // crash. The kubelet's own words (CrashLoopBackOff) first, of any pod.
  const problem = [podProblem, (p: KubeObject) => crashLoopProblem(p, now)].flatMap((judge) => pods.map((p) => judge(p)?.message)).find((m) => m !== undefined) ?? refused ?? null
  const state = problem !== null ? 'failing' : settled ? 'ready' : 'progressing'
  // Ready pods wait out minReadySeconds before they count as available (and the old ones go).
  const minReady = deployment.spec?.minReadySeconds ?? 0
  const unavailable = ready - (current?.status?.availableReplicas ?? 0)
  const waiting =
    state === 'progressing'
      ? ((refusal && `${refusal.words}${refusal.leaving ? '; pods on their way out may make room' : ''}`) ??
        pods
          .filter((p) => !podReady(p))
          .map((p) => podWaitReason(p, false))
          .find((m) => m !== undefined) ??
        (minReady > 0 && unavailable > 0 ? `${plural(unavailable, 'ready pod')} not available yet: a pod counts once ready for ${minReady}s (minReadySeconds)` : null))
      : null
  // Paused by hand: it rolls out nothing until resumed, and a deploy or rollback that would roll it is refused
  // (src/deploy/drift.ts). Said before what its pods wait for: a rollout paused mid-way waits for nothing else.
  const paused = (deployment.spec as {paused?: boolean} | undefined)?.paused
    ? `paused (kubectl rollout pause): it rolls out nothing, and a deploy or rollback that would roll it is refused, until \`${snapshot.shown(`rollout resume deployment/${deployment.metadata.name}`)}\``
    : null
  return {
    service: name,
    revision: deployment.metadata.annotations?.[ANNOTATIONS.revision] ?? null,
    image: deployment.spec?.template?.spec?.containers?.[0]?.image ?? null,
    ready,
    desired,
    updated,
    old,
    age: since === undefined ? null : age(now - since),
    state,
    problem,
    waiting: paused ?? waiting,
  }
}

/** `skycap status ENV`: per service what runs, how many pods of the new and of earlier revisions are ready, why its new pods fail, and the last release. */
export async function status(options: EnvOptions, factory: KubectlFactory, reporter: Reporter, clock: () => number = Date.now) {
  const {loaded, env, connectionOnly} = await openEnvironment({...options, repository: false, connectionOnly: {command: 'status', reporter}})
  const target = await connect(env, factory, reporter, {checkContextOnFirstCall: true})
  const selector = appSelector(loaded.config.app, env.name)
  const [list, releases] = await Promise.all([
    // The Services too: a blue-green service runs on the slot its Service selects, whatever the state recorded (a
    // SIGKILL between the switch and the state's write left the old slot there).
    target.kubectl.json<{items: LiveWorkload[]}>(['get', 'deployments,replicasets,pods,services', '-l', selector]),
    listReleases(target.kubectl, loaded.config.app, env.name, {manifests: false}),
  ])
  // A pull in back-off is judged by the error before it (a registry that is down for a while is waited for, as the
  // deploy does): this one look at the cluster did not see that error, the kubelet's events did.
  const pulls = new PullErrors()
  await explainBackOffs(target.kubectl, pulls, list.items)
  const snapshot = new ClusterSnapshot(list.items, pulls, undefined, target.kubectl)
  // A service without a Deployment of its name may be served by a blue-green slot whatever the work tree says (a
  // rollback to a release where it was blue-green): the state is read then too (it said "not deployed").
  // A service the work tree's skycap.yaml does not have may run all the same: a rollback to a release that had it, or
  // a deploy from another branch. It gets its row, marked (status showed only the file's services, so a service a
  // rollback brought back was invisible during the incident).
  // Its services are those of the release that runs (a template's Deployment may carry a name label of its own).
  const released = runningServices(releases)
  // From an invalid skycap.yaml (its services not read): the services of the release that runs, none of them marked
  // as missing from the file.
  const configured = new Set(connectionOnly ? [...released].sort() : Object.keys(env.services))
  const elsewhere = [
    ...new Set(
      list.items
        .filter((o) => o.kind === 'Deployment')
        .map((o) => o.metadata.labels?.[LABELS.name])
        .filter((n): n is string => n !== undefined && !configured.has(n) && released.has(n)),
    ),
  ].sort()
  // A canary's Deployment runs (`web-canary`): its state is read even when the work tree's skycap.yaml no longer gives
  // the service that strategy (status showed web as settled while the canary took its share of the traffic).
  const canaryRuns = snapshot.all('Deployment').some((d) => d.metadata.name.endsWith('-canary'))
  const always = connectionOnly !== undefined || elsewhere.length > 0 || canaryRuns || Object.keys(env.services).some((name) => !snapshot.get('Deployment', name))
  const rollouts = await rolloutsOf(target.kubectl, loaded.config.app, env.services, {always})
  // What is under way: the lock (a deploy, rollback, scale or run holding it, or a hold by hand) and the hook Jobs an
  // earlier deploy left running. Neither stops the status: a user who may not read Leases or Jobs sees the rest.
  const [lock, hooks] = await Promise.all([
    lockStatus(target.kubectl, loaded.config.app, clock).then(
      (l) => (l && !l.expired ? l : null),
      () => undefined,
    ),
    runningHooks(target.kubectl, loaded.config.app, env.name).catch(() => undefined),
  ])
  const services = [...configured, ...elsewhere].map((name) => {
    const rollout = rollouts[name]
    const liveService = snapshot.get('Service', name)
    // A Service patched by hand to a slot no Deployment has (`purple`, or a slot since deleted) sends traffic to no pod:
    // the row is the slot the state names (or one that exists), failing, and says why (it said "not deployed").
    const slots = rollout?.type === 'blueGreen' ? existingSlots(name, (d) => snapshot.get('Deployment', d) !== undefined) : []
    const handSet = rollout?.type === 'blueGreen' ? missingSlot(liveService, slots) : undefined
    const assumed = rollout?.activeSlot && slots.includes(rollout.activeSlot) ? rollout.activeSlot : slots[0]
    const slot = rollout?.type === 'blueGreen' ? (handSet !== undefined ? assumed : (selectedSlot(liveService) ?? rollout.activeSlot)) : undefined
    const noSlot = rollout?.type === 'blueGreen' && rollout.activeSlot ? noSlotNote(name, liveService, rollout.activeSlot, 'status shows') : undefined
    const said = handSet !== undefined ? missingSlotNote(name, handSet, slots, {deploy: deployFirst(env.name), assumed, shown: (args) => target.kubectl.shown(args)}) : undefined
    const missing = said && `${said.problem}; ${said.fix}`
    for (const note of [noSlot, missing]) if (note) reporter.warn(note)
    const found = serviceStatus(name, snapshot.get('Deployment', servingDeployment(name, rollout && {...rollout, activeSlot: slot})) as LiveWorkload | undefined, snapshot, clock())
    const serving = missing ? {...found, state: 'failing' as const, problem: missing, waiting: null} : found
    // A canary under way: its pods and revision beside the stable Deployment's (status showed only the stable one,
    // as if the service ran one revision, while the canary took its share of traffic).
    const underWay = rollout?.type === 'canary' && (rollout.phase === 'progressing' || rollout.phase === 'paused')
    const canary = underWay ? snapshot.get('Deployment', `${name}-canary`) : undefined
    const track = canary ? serviceStatus(`${name}-canary`, canary as LiveWorkload, snapshot, clock()) : undefined
    // Under way, the service is not settled whatever its stable Deployment says: `state` in --json is `progressing`
    // (`failing` when the canary fails), as the table's "canary 25% (paused)" says; a script that waits for `ready`
    // read a canary paused at 25% as done.
    const state: ServiceStatus['state'] = underWay && serving.state !== 'failing' ? (track?.state === 'failing' ? 'failing' : 'progressing') : serving.state
    // An image set by hand (`kubectl set image`) keeps skycap's revision annotation: the row named the release's
    // revision as running, and only --json's image told otherwise.
    const recorded = serving.revision ? releases.find((r) => isDeployOrRollback(r.record) && r.record.revision?.sha === serving.revision)?.record.images?.[name] : undefined
    const handImage = recorded !== undefined && serving.image !== null && serving.image !== recorded
    if (handImage)
      reporter.warn(
        `${name} runs ${serving.image}, not ${recorded}, which its revision ${serving.revision?.slice(0, 7)} was deployed with: set by hand (\`kubectl set image\`?); \`skycap diff ${env.name}\` shows it, and the next deploy or rollback puts the release's image back`,
      )
    return {
      ...serving,
      ...(handImage ? {recordedImage: recorded} : {}),
      state,
      ...(configured.has(name) ? {} : {notInConfig: true as const}),
      // The slot the Service selects is the active one; the one the state named active, if another, is the previous.
      ...(rollout ? {rollout: slot && slot !== rollout.activeSlot ? {...rollout, activeSlot: slot, previousSlot: rollout.activeSlot} : rollout} : {}),
      ...(track ? {canary: {revision: track.revision, image: track.image, ready: track.ready, desired: track.desired, state: track.state, problem: track.problem}} : {}),
    }
  })
  const last = releases[0]?.record ?? null
  // A scale entry names the revision it found running, not how that revision's deploy went: the last deploy or
  // rollback is shown beside it, so a failed deploy is not hidden behind a later scale.
  const lastDeploy = last && !isDeployOrRollback(last) ? (releases.find((r) => isDeployOrRollback(r.record))?.record ?? null) : last
  // A revision no release recorded runs: a deploy killed after it applied (SIGKILL, a CI job's end), before its record.
  // The header said "last release: 27 (…, succeeded)" while every service ran the killed deploy's revision, and a
  // rollback without --to went back to the one before 27.
  const notInHistory = lastDeploy?.revision ? services.filter((x) => x.revision && x.revision !== lastDeploy.revision?.sha && !releases.some((r) => r.record.revision?.sha === x.revision)) : []
  // A deploy that holds the lock now, of that revision (its reason names it: `deploy prod@3cf0881`), has not recorded
  // it yet because it is still under way (paused at a canary step, watching): it was said to be killed, with a
  // rollback to run, while it ran.
  const underWay = lock && !lock.expired && lock.heldBy !== 'hand' ? /^deploy \S+@([0-9a-f]{4,40})$/.exec(lock.reason)?.[1] : undefined
  const deploying = underWay ? notInHistory.filter((x) => x.revision?.startsWith(underWay)) : []
  const unrecorded = notInHistory.filter((x) => !deploying.includes(x))
  if (lock && deploying.length) {
    reporter.info(
      `${deploying.map((x) => x.service).join(', ')} ${deploying.length === 1 ? 'runs' : 'run'} ${underWay}, which the deploy under way is rolling out (${lock.reason}, by ${lock.holder} since ${lock.acquiredAt}); it is recorded when that deploy ends`,
    )
  }
  if (lastDeploy && unrecorded.length) {
    const revisions = [...new Set(unrecorded.map((x) => (x.revision as string).slice(0, lastDeploy.revision?.short.length ?? 7)))]
    reporter.warn(
      `${unrecorded.map((x) => x.service).join(', ')} ${unrecorded.length === 1 ? 'runs' : 'run'} ${revisions.join(', ')}, which no release in history deployed: a deploy stopped after it applied and before it recorded (killed?). \`skycap rollback ${env.name} --to ${lastDeploy.number}\` returns to the last release recorded; a rollback without --to goes to the one before it`,
    )
  }
  return {
    environment: env.name,
    context: target.context,
    namespace: env.namespace,
    services,
    lastRelease: last,
    lastDeploy,
    ...(unrecorded.length ? {unrecorded: unrecorded.map((x) => ({service: x.service, revision: x.revision as string}))} : {}),
    // Services that run the revision of the deploy that holds the lock, not recorded yet.
    ...(deploying.length ? {deploying: deploying.map((x) => ({service: x.service, revision: x.revision as string}))} : {}),
    // null: not locked (or an expired lock, which the next deploy takes over); absent: could not be read.
    ...(lock === undefined ? {} : {lock}),
    ...(hooks === undefined ? {} : {runningHooks: hooks}),
  }
}

/**
 * When the revision the Deployment asks for began to run (AGE): its ReplicaSet's creation, not the Deployment's (that
 * is the service's first deploy). A rollback's controller reuses the ReplicaSet of the revision it returns to, created
 * back then, and notes that in revision-history: its oldest pod says when it came back.
 */
function runningSince(current: KubeObject | undefined, pods: KubeObject[]): number | undefined {
  if (!current) return undefined
  const created = (o: KubeObject) => Date.parse((o.metadata as {creationTimestamp?: string}).creationTimestamp ?? '')
  const reused = current.metadata.annotations?.[REVISION_HISTORY] !== undefined
  const podTimes = pods.map(created).filter(Number.isFinite)
  const at = reused && podTimes.length ? Math.min(...podTimes) : created(current)
  return Number.isFinite(at) ? at : undefined
}

/** Set by the Deployment controller on a ReplicaSet it scaled up again for an earlier revision (a rollback). */
const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history'

function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.floor(s / 60)}m`
  if (s < 172800) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86400)}d`
}
