import {KubectlError, UnreachableError} from '../errors.js'
import {type Kubectl, kubectlCommand} from '../kubectl/kubectl.js'
import {registryUnanswered} from '../registry/images.js'

/**
 * The standard way a local cluster advertises its registry (KEP-1755): a ConfigMap `local-registry-hosting` in
 * `kube-public` whose `localRegistryHosting.v1` key holds YAML with `host` (where to push from this machine),
 * `hostFromContainerRuntime`, `hostFromClusterNetwork` and `help`. kind's recipe, k3d, ctlptl, minikube and Tilt
 * all write or read it.
 */
export const HOSTING = {namespace: 'kube-public', name: 'local-registry-hosting', key: 'localRegistryHosting.v1'} as const

/** What the ConfigMap says. */
export interface LocalRegistryHosting {
  /** host[:port] to push to from this machine. */
  host: string
  /** host[:port] the container runtime pulls from, when it differs from `host`. */
  hostFromContainerRuntime?: string
  hostFromClusterNetwork?: string
  help?: string
}

/** The registry the cluster advertises, or undefined when it advertises none (or the entry has no host). */
export async function readRegistryHosting(kubectl: Kubectl): Promise<LocalRegistryHosting | undefined> {
  let data: Record<string, string> | undefined
  try {
    const cm = await kubectl.json<{data?: Record<string, string>}>(['get', 'configmap', HOSTING.name, '--namespace', HOSTING.namespace], {namespaced: false})
    data = cm.data
  } catch (error) {
    if (error instanceof KubectlError && (error.kind === 'not_found' || error.kind === 'forbidden')) return undefined
    throw error
  }
  return parseRegistryHosting(data?.[HOSTING.key])
}

/** Parses the `localRegistryHosting.v1` value; undefined when it is missing or names no host. */
export async function parseRegistryHosting(text: string | undefined): Promise<LocalRegistryHosting | undefined> {
  if (!text) return undefined
  const {parse} = await import('yaml')
  let value: unknown
  try {
    value = parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const v = value as Record<string, unknown>
  if (typeof v.host !== 'string' || v.host === '') return undefined
  const out: LocalRegistryHosting = {host: v.host}
  for (const key of ['hostFromContainerRuntime', 'hostFromClusterNetwork', 'help'] as const) if (typeof v[key] === 'string') out[key] = v[key] as string
  return out
}

/** The ConfigMap that advertises `hosting`, as `kubectl apply -f -` takes it. */
export function registryHostingConfigMap(hosting: LocalRegistryHosting): object {
  const lines = Object.entries(hosting).map(([k, v]) => `${k}: "${v}"`)
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {name: HOSTING.name, namespace: HOSTING.namespace},
    data: {[HOSTING.key]: `${lines.join('\n')}\n`},
  }
}

/** Advertises the registry up wired to a cluster it created (server-side apply, like every skycap write). */
export async function writeRegistryHosting(kubectl: Kubectl, hosting: LocalRegistryHosting): Promise<void> {
  await kubectl.run(['apply', '--server-side', '--field-manager=skycap', '-f', '-'], {namespaced: false, input: JSON.stringify(registryHostingConfigMap(hosting))})
}

/** The registry host that a full image reference points at when the runtime pulls under another name. */
export function pullReference(image: string, hosting: LocalRegistryHosting): string {
  const from = hosting.hostFromContainerRuntime
  return from && image.startsWith(`${hosting.host}/`) ? `${from}/${image.slice(hosting.host.length + 1)}` : image
}

/**
 * The registry phase's check that the local registry answers, before anything is built: one that stopped (a
 * registry container after a reboot, a registry process that ended) would otherwise pass this phase and fail the
 * images phase with the build's hint about skycap.yaml's registry, which up does not use. Exit 4.
 */
export async function checkLocalRegistry(hosting: LocalRegistryHosting, where: {context: string; container?: string}, options: {fetch?: typeof fetch} = {}): Promise<void> {
  const why = await registryUnanswered(hosting.host, options)
  if (why === undefined) return
  const source = where.container
    ? `the registry container ${where.container} that skycap up started for ${where.context}`
    : `the registry context ${where.context} advertises (ConfigMap ${HOSTING.name} in ${HOSTING.namespace})`
  const start = where.container ? `docker start ${where.container}` : 'a registry container: docker start NAME'
  throw new UnreachableError(`the local registry ${hosting.host} does not answer (${why}): ${source}; nothing was built or deployed`, {
    hint:
      `Start it (${start}), then run skycap up again.` +
      (where.container
        ? ''
        : ` If the cluster has no registry any more, delete that ConfigMap (\`${kubectlCommand(`delete configmap ${HOSTING.name}`, {context: where.context, namespace: HOSTING.namespace})}\`).`) +
      (hosting.help ? ` See ${hosting.help}.` : ''),
    details: {registry: hosting.host, context: where.context, why},
  })
}
