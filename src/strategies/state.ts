import {InterruptedError, KubectlError} from '../errors.js'
import type {ReleaseRecord, RolloutSummary} from '../release/store.js'
import type {KubeObject} from '../render/objects.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import {selectedSlot, type ServiceUnit, type Slot} from './strategy.js'
import {nodeZlib} from '../builtins.js'

/**
 * Where a blue-green or canary rollout stands, per service, in a ConfigMap beside the release records
 * (`skycap-rollout-<app>`): any machine can read it (`rollout status`), resume, promote or abort. The lock holder
 * writes a service's key; `promote` and `abort` write `<service>.request`, which the holder reads and clears.
 */
export interface ServiceRolloutState {
  type: 'blueGreen' | 'canary'
  /** The release number the rollout is part of. */
  release: number | null
  phase: 'progressing' | 'paused' | 'completed' | 'aborted' | 'failed'
  startedBy: string
  startedAt: string
  updatedAt: string
  /** blueGreen: the slot the Service selects, and the one kept for rollback until scaleDownAt. */
  activeSlot?: Slot
  previousSlot?: Slot
  scaleDownAt?: string
  scaledDown?: boolean
  /** canary: index of the step being run, the weight in force, the steps' count. */
  step?: number
  steps?: number
  weight?: number
  /** canary: when a timed pause ends. */
  pausedUntil?: string
  message?: string
  /**
   * canary: an abort has begun (a `skycap abort`, or a failure) and stable is being brought back: what ended it and
   * why. A promote given at the same time waits for it; a resume finishes it instead of running the steps again.
   */
  aborting?: {ref: string; message: string}
  /**
   * canary: the promotion has begun (the service's own Deployment is being given the release): past this an abort is
   * too late, and a resume finishes the promotion. It was not saved, so after a Ctrl-C during the promotion an abort
   * "returned to stable" by scaling up a Deployment that already ran the release.
   */
  promoting?: true
  /** canary: the service's Deployment (the release) and Service, so that `rollout resume` can finish without the repository. */
  unit?: ServiceUnit
}

export type RolloutRequest = 'promote' | 'promote-full' | 'abort'

export interface RolloutState {
  services: Record<string, ServiceRolloutState>
  requests: Record<string, RolloutRequest>
  /** The deploy under way, as it wrote it under its lock (trusted while that lock is held: see deployUnderWay). */
  deploying?: DeployUnderWay
}

/**
 * A deploy of an app with canary services, from its lock to its end: the release it rolls out. `rollout status` read
 * the services' last canaries (an older release's, finished) as current while the deploy validated or applied its
 * release, before any canary of it started.
 */
export interface DeployUnderWay {
  release: number
  /** The id of the lock the deploy holds: a deploy killed leaves this behind, and its lock expires or is taken. */
  lockId: string
  startedBy: string
  startedAt: string
}

/** Its key in the ConfigMap: a service's name has no dot. */
const DEPLOYING_KEY = 'release.deploying'

const LABEL = 'skycap.dev/rollout-of'
/** The label of the rollout state ConfigMap: the app it belongs to. */
export const ROLLOUT_STATE_LABEL = LABEL

/** The ConfigMap holding an app's rollout state. */
export function stateName(app: string): string {
  return `skycap-rollout-${app}`
}

/** The rollout state of `app` (empty when it never had a blue-green or canary rollout). */
export async function readState(kubectl: Kubectl, app: string, signal?: AbortSignal, once = false): Promise<RolloutState> {
  const r = await kubectl.run(['get', 'configmap', stateName(app), '-o', 'json', '--ignore-not-found'], {signal, ...(once ? {once} : {})})
  const state: RolloutState = {services: {}, requests: {}}
  if (!r.stdout.trim()) return state
  const data = (JSON.parse(r.stdout) as {data?: Record<string, string>}).data ?? {}
  for (const [key, value] of Object.entries(data)) {
    if (key === DEPLOYING_KEY) state.deploying = JSON.parse(value) as DeployUnderWay
    else if (key.endsWith('.request')) state.requests[key.slice(0, -'.request'.length)] = value as RolloutRequest
    else state.services[key] = JSON.parse(value) as ServiceRolloutState
  }
  return state
}

/**
 * Writes one service's state (null: removes it). `clearRequest`: in the same patch, drops a promote or abort request
 * of the service (one left from an earlier rollout, which would act on this one).
 */
export async function writeServiceState(kubectl: Kubectl, app: string, environment: string, service: string, state: ServiceRolloutState | null, options: {clearRequest?: boolean} = {}): Promise<void> {
  await patchData(kubectl, app, environment, {[service]: state === null ? null : JSON.stringify(state), ...(options.clearRequest ? {[`${service}.request`]: null} : {})})
}

/** Says, under the deploy's lock, which release it rolls out (for `rollout status`, until a canary of it starts). */
export async function writeDeployUnderWay(kubectl: Kubectl, app: string, environment: string, deploying: DeployUnderWay): Promise<void> {
  await patchData(kubectl, app, environment, {[DEPLOYING_KEY]: JSON.stringify(deploying)})
}

/**
 * Removes the marker `writeDeployUnderWay` wrote, as the deploy that wrote it ends (it stayed in the ConfigMap, ignored
 * but read by whoever looked at it with kubectl). One call: a JSON patch whose test removes it only while it is still
 * that deploy's, so one written since by a deploy that took the lock over stays. Resolves to whether it was removed:
 * false when it was another's or gone (the API server says the patch is invalid) or when the ConfigMap is.
 */
export async function clearDeployUnderWay(kubectl: Kubectl, app: string, deploying: DeployUnderWay): Promise<boolean> {
  const path = `/data/${DEPLOYING_KEY}`
  const patch = JSON.stringify([
    {op: 'test', path, value: JSON.stringify(deploying)},
    {op: 'remove', path},
  ])
  try {
    await kubectl.run(['patch', 'configmap', stateName(app), '--type', 'json', '-p', patch])
    return true
  } catch (error) {
    if (error instanceof KubectlError && (error.kind === 'invalid' || error.kind === 'not_found')) return false
    throw error
  }
}

/**
 * The deploy under way, if the one that wrote `state.deploying` still holds the lock (`lock`: the live one, unexpired).
 * One killed, or done, left it behind: its lock is gone, expired or another's.
 */
export function deployUnderWay(state: RolloutState, lock: {id: string; expired: boolean} | undefined): DeployUnderWay | undefined {
  return state.deploying && lock && !lock.expired && lock.id === state.deploying.lockId ? state.deploying : undefined
}

/**
 * Asks the process running a rollout (or the next `rollout resume`) to promote or abort it; null clears the request.
 * Several services: one write, so the rollout reads all their requests or none.
 */
export async function writeRequest(kubectl: Kubectl, app: string, environment: string, service: string | string[], request: RolloutRequest | null): Promise<void> {
  await patchData(kubectl, app, environment, Object.fromEntries([service].flat().map((s) => [`${s}.request`, request])))
}

async function patchData(kubectl: Kubectl, app: string, environment: string, data: Record<string, string | null>): Promise<void> {
  const patch = JSON.stringify({data})
  try {
    await kubectl.run(['patch', 'configmap', stateName(app), '--type', 'merge', '-p', patch])
  } catch (error) {
    if (!(error instanceof KubectlError) || error.kind !== 'not_found') throw error
    const created = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {name: stateName(app), labels: {[LABEL]: app, 'skycap.dev/environment': environment}},
      data: Object.fromEntries(Object.entries(data).filter((e): e is [string, string] => e[1] !== null)),
    }
    try {
      await kubectl.run(['create', '-f', '-'], {input: JSON.stringify(created)})
    } catch (createError) {
      // Another process created it first: patch that one.
      if (!(createError instanceof KubectlError) || createError.kind !== 'already_exists') throw createError
      await kubectl.run(['patch', 'configmap', stateName(app), '--type', 'merge', '-p', patch])
    }
  }
}

/** A deploy's release record and manifests while its canary runs: `rollout resume` writes them when it finishes. */
export interface PendingRelease {
  record: ReleaseRecord
  /** history.keep of the deploy. */
  keep: number
  manifests?: KubeObject[]
  /**
   * The release's postdeploy hooks, which the deploy runs once its canaries finished: not run when another command
   * (promote, rollout resume, abort) finishes them after the deploy ended; said and recorded then.
   */
  postdeploy?: string[]
}

/** The Secret holding the pending release (its manifests may hold Secret values, like the release records'). */
function pendingName(app: string): string {
  return `skycap-rollout-${app}-release`
}

export async function savePending(kubectl: Kubectl, app: string, environment: string, pending: PendingRelease): Promise<void> {
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'skycap.dev/pending-release.v1',
    metadata: {name: pendingName(app), labels: {[LABEL]: app, 'skycap.dev/environment': environment}},
    data: {release: nodeZlib().gzipSync(JSON.stringify(pending)).toString('base64')},
  }
  await kubectl.run(['apply', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-'], {input: JSON.stringify(secret)})
}

export async function readPending(kubectl: Kubectl, app: string): Promise<PendingRelease | undefined> {
  const r = await kubectl.run(['get', 'secret', pendingName(app), '-o', 'json', '--ignore-not-found'])
  if (!r.stdout.trim()) return undefined
  const data = (JSON.parse(r.stdout) as {data?: {release?: string}}).data?.release
  return data ? (JSON.parse(nodeZlib().gunzipSync(Buffer.from(data, 'base64')).toString('utf8')) as PendingRelease) : undefined
}

export async function dropPending(kubectl: Kubectl, app: string): Promise<void> {
  await kubectl.run(['delete', 'secret', pendingName(app), '--ignore-not-found', '--wait=false'])
}

/**
 * The rollout state of the services that have a blue-green or canary strategy (no call when none has, unless
 * `always`: a service the work tree makes rolling may still be served by a blue-green slot, after a rollback to a
 * release where it was blue-green).
 */
export async function rolloutsOf(
  kubectl: Kubectl,
  app: string,
  services: Record<string, {strategy?: {type: string}}>,
  options: {always?: boolean} = {},
): Promise<Record<string, Omit<ServiceRolloutState, 'unit'>>> {
  if (!options.always && !Object.values(services).some((s) => s.strategy && s.strategy.type !== 'rolling')) return {}
  const out: Record<string, Omit<ServiceRolloutState, 'unit'>> = {}
  for (const [name, state] of Object.entries((await readState(kubectl, app)).services)) {
    const {unit: _unit, ...shown} = state
    out[name] = shown
  }
  return out
}

/**
 * The release record's view of this release's blue-green and canary rollouts (history shows it). Never fails a
 * deploy: an unreadable state gives no summary.
 */
export async function rolloutSummaries(kubectl: Kubectl, app: string, services: Record<string, {strategy?: {type: string}}>, release: number): Promise<Record<string, RolloutSummary>> {
  let states: Record<string, Omit<ServiceRolloutState, 'unit'>>
  try {
    // Asked once more when the signal that stopped the deploy killed this kubectl (a SIGTERM to a CI job's process
    // group): the record then said nothing of which slot serves.
    states = await rolloutsOf(kubectl, app, services).catch((error: unknown) => {
      if (error instanceof InterruptedError) return rolloutsOf(kubectl, app, services)
      throw error
    })
  } catch {
    return {}
  }
  const out: Record<string, RolloutSummary> = {}
  for (const [service, s] of Object.entries(states)) {
    if (s.release !== release) continue
    out[service] = {
      type: s.type,
      phase: s.phase,
      ...(s.activeSlot ? {slot: s.activeSlot} : {}),
      ...(s.weight !== undefined ? {weight: s.weight} : {}),
      ...(s.step !== undefined ? {step: s.step} : {}),
      ...(s.steps !== undefined ? {steps: s.steps} : {}),
      ...(s.promoting && (s.phase === 'progressing' || s.phase === 'paused') ? {promoting: true as const} : {}),
    }
  }
  return out
}

/**
 * After recorded objects were re-applied as they are, without the strategies (the automatic rollback): each
 * blue-green Service among them selects the slot it selected in that release, so the state of its service follows,
 * with no slot waiting for a scale-down (the slot the failed release switched to is pruned, or is left to whoever
 * repairs a failed rollback). Without this the state still named the failed release's slot as active and the serving
 * one as "previous": status and scale looked for a pruned Deployment, and the next scale-down stopped the service.
 * Returns the services whose state changed.
 */
export async function followAppliedSlots(
  kubectl: Kubectl,
  app: string,
  environment: string,
  objects: KubeObject[],
  release: number | null,
  at: {clock: () => number; user: string},
): Promise<string[]> {
  const slotOf = (o: KubeObject) => (o.kind === 'Service' ? selectedSlot(o) : undefined)
  if (!objects.some(slotOf)) return []
  const states = (await readState(kubectl, app)).services
  const changed: string[] = []
  for (const o of objects) {
    const slot = slotOf(o)
    const state = states[o.metadata.name]
    // A slot the failed release never switched to: the state is still the one of the release returned to.
    if (!slot || state?.type !== 'blueGreen' || state.activeSlot === slot) continue
    const now = new Date(at.clock()).toISOString()
    await writeServiceState(kubectl, app, environment, o.metadata.name, {type: 'blueGreen', release, phase: 'completed', startedBy: at.user, startedAt: now, updatedAt: now, activeSlot: slot})
    changed.push(o.metadata.name)
  }
  return changed
}

/**
 * Whether the blue-green state may hold a service that left blue-green: some service of the app is or was blue-green
 * (the environment's strategies, or the rollouts recorded in its history). Apps that never used it skip the read.
 */
export function mayHaveBlueGreenState(services: Record<string, {strategy?: {type: string}}>, records: Array<{rollouts?: Record<string, RolloutSummary>}>): boolean {
  return Object.values(services).some((s) => s.strategy?.type === 'blueGreen') || records.some((r) => Object.values(r.rollouts ?? {}).some((x) => x.type === 'blueGreen'))
}

/**
 * After a release that succeeded (a deploy, a rollback): a service whose blue-green state names slots the release
 * keeps none of (it is rolling or canary now, or went back to a release where it was) is forgotten, or status and
 * scale kept looking for the pruned slot ("not deployed") instead of the Deployment named after the service, for
 * good: a later deploy pruned no slot and so never cleared it. `kept`: the objects the release keeps (its slots
 * among them). Returns the services forgotten.
 */
export async function forgetLeftBlueGreen(kubectl: Kubectl, app: string, environment: string, kept: KubeObject[]): Promise<string[]> {
  const deployments = new Set(kept.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name))
  const states = (await readState(kubectl, app)).services
  const gone = Object.entries(states)
    .filter(([name, s]) => s.type === 'blueGreen' && !deployments.has(`${name}-blue`) && !deployments.has(`${name}-green`))
    .map(([name]) => name)
  for (const service of gone) await writeServiceState(kubectl, app, environment, service, null)
  return gone
}

/** The Deployment that serves a service: the active slot of a blue-green one, else the one named after it. */
export function servingDeployment(service: string, state: Pick<ServiceRolloutState, 'type' | 'activeSlot'> | undefined): string {
  return state?.type === 'blueGreen' && state.activeSlot ? `${service}-${state.activeSlot}` : service
}
