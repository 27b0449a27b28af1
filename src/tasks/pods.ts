import {deployFirst} from '../config/environment.js'
import {UserError} from '../errors.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import {LABELS, type KubeObject} from '../render/objects.js'
import {podReady} from '../resources/status.js'
import {listReleases, runningServices} from '../release/store.js'
import {SLOT_LABEL} from '../strategies/strategy.js'

/** The selector of one service's pods in one environment (as `skycap logs` selects them). */
export function servicePodSelector(app: string, environment: string, service: string): string {
  return `${LABELS.instance}=${app}-${environment},${LABELS.name}=${service}`
}

/**
 * The services of the release that runs that have a Deployment in the environment, whatever the work tree's
 * skycap.yaml says: a service it dropped that a rollback brought back is one; a template's Deployment, with whatever
 * labels, is none. `logs` and `scale` take a name the file lacks when it is one of these.
 */
export async function deployedServices(kubectl: Kubectl, app: string, environment: string): Promise<Set<string>> {
  const [list, releases] = await Promise.all([
    kubectl.json<{items: KubeObject[]}>(['get', 'deployments', '-l', `${LABELS.instance}=${app}-${environment},${LABELS.environment}=${environment}`]),
    listReleases(kubectl, app, environment, {manifests: false}),
  ])
  const running = runningServices(releases)
  return new Set(list.items.map((d) => d.metadata.labels?.[LABELS.name]).filter((n): n is string => n !== undefined && running.has(n)))
}

/** What `logs` and `scale` say of a service deployedServices gave them: what runs is not what the file describes. */
export function notInFileWarning(service: string): string {
  return `${service} is not in this skycap.yaml (a rollback to a release that had it runs it): the next deploy of this skycap.yaml prunes it`
}

/** Which pod of a service choosePod takes. */
export interface PodChoice {
  /** This pod: it must be one of the service's pods in this environment, never another's. */
  wanted?: string
  /** Without `wanted`: the oldest ready pod (the one least likely to be replaced mid-session, the default) or the newest. */
  prefer?: 'oldest' | 'newest'
  /**
   * The service is not in the work tree's skycap.yaml: this error, unless pods of it still run (it was deployed
   * before and dropped from the file since).
   */
  unknown?: UserError
  /** Stops the listing (Ctrl-C while a port-forward chooses its next pod): kubectl is stopped, not waited for. */
  signal?: AbortSignal
}

/** The pod of `service` to exec into or forward to (PodChoice). */
export async function choosePod(kubectl: Kubectl, app: string, environment: string, service: string, choice: PodChoice = {}): Promise<string> {
  return (await choosePodObject(kubectl, app, environment, service, choice)).metadata.name
}

/** choosePod's pod, whole (exec reads its containers). */
export async function choosePodObject(kubectl: Kubectl, app: string, environment: string, service: string, choice: PodChoice = {}): Promise<KubeObject> {
  const {wanted, prefer = 'oldest', unknown, signal} = choice
  // A name the file lacks, without an answer (no cluster at hand): the typo it most likely is, with did-you-mean.
  const list = await kubectl.json<{items: KubeObject[]}>(['get', 'pods', '-l', servicePodSelector(app, environment, service)], signal ? {signal} : {}).catch((error: unknown) => {
    throw unknown ?? error
  })
  const running = list.items.filter((p) => !(p.metadata as {deletionTimestamp?: string}).deletionTimestamp)
  // A service the work tree's skycap.yaml lacks (`unknown`): its pods, if it still runs, are used; without any, unknown.
  if (unknown && running.length === 0) throw unknown
  if (wanted !== undefined) {
    const found = running.find((p) => p.metadata.name === wanted)
    if (found) return found
    throw new UserError(`pod ${wanted} is not a pod of ${service} in ${environment}`, {hint: `Pods of ${service}: ${running.map((p) => p.metadata.name).join(', ') || 'none'}.`})
  }
  const ready = await servingFirst(
    kubectl,
    service,
    running.filter(podReady).sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)) || a.metadata.name.localeCompare(b.metadata.name)),
    signal,
  )
  // The newest: a forward reconnecting mid-rollout, where the oldest ready pods are the next to be replaced.
  const pod = prefer === 'newest' ? ready.at(-1) : ready[0]
  if (!pod) throw await noReadyPod(kubectl, running.length, app, environment, service)
  return pod
}

/**
 * A blue-green service's ready pods of the slot its Service selects, when both slots have some (the old one is kept
 * up for an instant rollback): `exec` took the oldest pod, the previous release's, which serves nothing. Asked only
 * then; the pods as given otherwise, and when the Service cannot be read or selects neither.
 */
async function servingFirst(kubectl: Kubectl, service: string, ready: KubeObject[], signal?: AbortSignal): Promise<KubeObject[]> {
  const slotOf = (p: KubeObject) => p.metadata.labels?.[SLOT_LABEL]
  if (new Set(ready.map(slotOf).filter((s) => s !== undefined)).size < 2) return ready
  const selected = await kubectl.json<{spec?: {selector?: Record<string, string>}}>(['get', 'service', service], signal ? {signal} : {}).then(
    (svc) => svc.spec?.selector?.[SLOT_LABEL],
    () => undefined,
  )
  const serving = ready.filter((p) => slotOf(p) === selected)
  return serving.length ? serving : ready
}

/** Why a service has no pod at all: no Deployment or StatefulSet of it, all scaled to 0, or pods asked for and none yet. */
type NoPodCase = 'not deployed' | 'scaled to 0' | 'starting'

/**
 * Each service's NoPodCase, from its Deployments and StatefulSets (one `kubectl get` per service, only on an error
 * path); undefined when they cannot be read.
 */
async function noPodCases(kubectl: Kubectl, app: string, environment: string, services: string[]): Promise<Map<string, NoPodCase> | undefined> {
  const caseOf = async (service: string): Promise<NoPodCase> => {
    const {items} = await kubectl.json<{items: Array<{spec?: {replicas?: number}}>}>(['get', 'deployments,statefulsets', '-l', servicePodSelector(app, environment, service)])
    if (items.length === 0) return 'not deployed'
    return items.every((w) => (w.spec?.replicas ?? 1) === 0) ? 'scaled to 0' : 'starting'
  }
  return Promise.all(services.map(async (service) => [service, await caseOf(service)] as const)).then(
    (cases) => new Map(cases),
    () => undefined,
  )
}

const scaleUpFirst = (services: string[], environment: string) => `Scale it up first: ${services.map((s) => `skycap scale ${s} 1 -e ${environment}`).join('; ')}.`

/**
 * Why services have no pod at all, in the user's terms (`logs`): each is scaled to 0, not deployed, or asks for pods
 * none of which runs yet. The hint is what to do when all are in the same case. Undefined when the workloads cannot
 * be read.
 */
export async function whyNoPods(kubectl: Kubectl, app: string, environment: string, services: string[]): Promise<{said: string; hint: string} | undefined> {
  const cases = await noPodCases(kubectl, app, environment, services)
  if (!cases) return undefined
  const said = [...cases].map(([service, c]) => `${service} ${c === 'starting' ? 'has no pod running yet' : `is ${c}`}`).join('; ')
  const all = (which: NoPodCase) => [...cases.values()].every((c) => c === which)
  const hint = all('scaled to 0')
    ? scaleUpFirst(services, environment)
    : all('not deployed')
      ? `Deploy it first: ${deployFirst(environment, true)}.`
      : `\`skycap status ${environment}\` shows its replicas; \`skycap logs ${services.join(' ')} -f -e ${environment}\` waits for pods.`
  return {said, hint}
}

/**
 * Why there is no ready pod to use, in the user's terms: its pods are not ready yet, or none runs because the
 * service is scaled to 0 or not deployed (noPodCases, only on this error path).
 */
async function noReadyPod(kubectl: Kubectl, pods: number, app: string, environment: string, service: string): Promise<UserError> {
  const status = `\`skycap status ${environment}\` shows why`
  if (pods > 0) return new UserError(`no ready pod of ${service} in ${environment} (${pods} ${pods === 1 ? 'pod' : 'pods'}, none ready)`, {hint: `${status}; wait for one to become ready.`})
  const why = (await noPodCases(kubectl, app, environment, [service]))?.get(service)
  if (why === 'not deployed') return new UserError(`${service} is not deployed in ${environment}: no pod of it runs`, {hint: `Deploy it first: ${deployFirst(environment, true)}.`})
  if (why === 'scaled to 0') return new UserError(`${service} is scaled to 0 in ${environment}: no pod of it runs`, {hint: scaleUpFirst([service], environment)})
  return new UserError(`no pod of ${service} runs in ${environment}`, {hint: `${status}; wait for its pods to start.`})
}

/**
 * The containers of a pod a command can run in: its containers and its sidecars (init containers that run beside
 * them, `restartPolicy: Always`), in the pod's order.
 */
export function runningContainers(pod: KubeObject): string[] {
  type C = {name: string; restartPolicy?: string}
  const spec = (pod as {spec?: {containers?: C[]; initContainers?: C[]}}).spec
  return [...(spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'), ...(spec?.containers ?? [])].map((c) => c.name)
}

/**
 * What `port-forward` connects to: the service's Kubernetes Service when it has one, else its pods (`target`, as said
 * to the user), and the newest ready pod, which skycap forwards to either way (`pod`; the oldest, which kubectl
 * picks behind a Service, is the next a rollout replaces). A ready pod must exist: kubectl, given a Service with
 * none (a service scaled to 0, a crash loop), waited 30 s and failed with "watch closed before UntilWithoutRetry
 * timeout".
 */
export async function forwardTarget(
  kubectl: Kubectl,
  app: string,
  environment: string,
  service: string,
  remote?: number,
  unknown?: UserError,
): Promise<{target: string; pod: string; serviceObject?: KubeObject}> {
  const services = await kubectl.json<{items: KubeObject[]}>(['get', 'services', '-l', servicePodSelector(app, environment, service)])
  const own = services.items.find((s) => s.metadata.name === service)
  // A port the Service does not have is the user's to change: said before any forward starts (kubectl said "does not
  // have a service port", after skycap had printed "Forwarding …", and the exit was 1).
  const ports = ((own?.spec as {ports?: Array<{port: number}>} | undefined)?.ports ?? []).map((p) => p.port)
  if (remote !== undefined && ports.length > 0 && !ports.includes(remote))
    throw new UserError(`the Service ${service} in ${environment} has no port ${remote}; nothing was forwarded`, {
      hint: `Its ${ports.length === 1 ? 'port is' : 'ports are'} ${ports.join(', ')}: e.g. skycap port-forward ${service} ${ports[0]}.`,
      details: {service, port: remote, ports},
    })
  const pod = await choosePod(kubectl, app, environment, service, {unknown, prefer: 'newest'})
  // The Service as read: the port behind it is found from it (it was read again for that).
  return own ? {target: `service/${service}`, pod, serviceObject: own} : {target: `pod/${pod}`, pod}
}

/** A container's status as a pod's status lists it (containerStatuses, initContainerStatuses). */
export interface ContainerStatus {
  name: string
  state?: {running?: object; waiting?: {reason?: string; message?: string}; terminated?: {exitCode?: number; reason?: string}}
  lastState?: {terminated?: {exitCode?: number; reason?: string}}
  restartCount?: number
}

/** A pod as `kubectl get pods -o json` lists it: what podStart reads. */
export interface PodObject extends KubeObject {
  spec?: {containers?: Array<{name: string}>; initContainers?: Array<{name: string; restartPolicy?: string}>}
  status?: {
    phase?: string
    conditions?: Array<{type: string; status: string; reason?: string; message?: string}>
    containerStatuses?: ContainerStatus[]
    initContainerStatuses?: ContainerStatus[]
  }
}

/** Whether a container has run at all: only then has it a log to read (kubectl fails on the others, "waiting to start"). */
export function containerStarted(c: ContainerStatus): boolean {
  return Boolean(c.state?.running || c.state?.terminated || c.lastState?.terminated || (c.restartCount ?? 0) > 0)
}

/** Where a pod stands in starting, for `logs`: the init container it waits on, or why none of its containers ran. */
export interface PodStart {
  /**
   * The init container (not a sidecar) that has not completed while the pod's containers wait for it: `started` when
   * it has a log (running, or failed: Init:Error, Init:CrashLoopBackOff).
   */
  init?: {name: string; started: boolean; failed: boolean; restarts: number}
  /** Why no container of the pod has run yet, when none has: the scheduler's reason, or a container's waiting reason. */
  notStarted?: string
  /** notStarted is a step every pod goes through (scheduled a moment ago, ContainerCreating), not a problem. */
  transient?: boolean
}

// What every starting pod's containers wait on for a moment: not worth a word after the first listing of -f.
const TRANSIENT_WAITING = new Set(['ContainerCreating', 'PodInitializing'])

/** podStart: a pod stuck before its containers (an init container that fails), or not started at all (Pending). */
export function podStart(pod: PodObject): PodStart {
  const status = pod.status ?? {}
  const initStatuses = new Map((status.initContainerStatuses ?? []).map((c) => [c.name, c]))
  // Sidecars (restartPolicy: Always) keep running beside the containers: they hold up nothing.
  for (const spec of (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy !== 'Always')) {
    const c = initStatuses.get(spec.name)
    if (!c) break
    if (c.state?.terminated?.exitCode === 0) continue
    const restarts = c.restartCount ?? 0
    const failed = (c.state?.terminated?.exitCode ?? 0) !== 0 || (c.lastState?.terminated?.exitCode ?? 0) !== 0
    const init = {name: spec.name, started: containerStarted(c), failed, restarts}
    if (init.started) return {init}
    const reason = c.state?.waiting?.reason
    return {init, notStarted: `init container ${spec.name} is waiting${reason ? ` (${reason})` : ''}`, transient: reason === undefined || TRANSIENT_WAITING.has(reason)}
  }
  const containers = status.containerStatuses ?? []
  if (containers.some(containerStarted)) return {}
  const unscheduled = status.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False')
  if (unscheduled) return {notStarted: `Pending${unscheduled.reason ? ` (${[unscheduled.reason, unscheduled.message].filter(Boolean).join(': ')})` : ''}`}
  const waiting = containers.find((c) => c.state?.waiting?.reason)
  const reason = waiting?.state?.waiting?.reason
  if (waiting && reason) return {notStarted: `container ${waiting.name} is waiting (${[reason, waiting.state?.waiting?.message].filter(Boolean).join(': ')})`, transient: TRANSIENT_WAITING.has(reason)}
  // Listed before its status says more (created a moment ago): Pending, as kubectl get pods says.
  if (status.phase === 'Pending') return {notStarted: 'Pending', transient: true}
  return {}
}
