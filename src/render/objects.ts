/** Kubernetes objects as skycap handles them: plain JSON with the fields skycap relies on. */

export interface ObjectMeta {
  name: string
  namespace?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  [key: string]: unknown
}

export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: ObjectMeta
  [key: string]: unknown
}

/** A rendered object and where it came from. */
export interface RenderedObject {
  object: KubeObject
  /** Template file it was rendered from (built-in templates show as templates/manifests/<file>). */
  source: string
  /** For a repository template: the line its document starts on, in the rendered text. */
  line?: number
  /** The skycap service it belongs to, for built-in objects. */
  service?: string
}

/** Label keys skycap puts on everything it manages; pruning is scoped by them. */
export const LABELS = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  partOf: 'app.kubernetes.io/part-of',
  managedBy: 'app.kubernetes.io/managed-by',
  environment: 'skycap.dev/environment',
} as const

export const ANNOTATIONS = {
  revision: 'skycap.dev/revision',
  release: 'skycap.dev/release',
} as const

/** Kinds that live outside namespaces: skycap never sets their namespace and never prunes them. */
export const CLUSTER_SCOPED = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'RuntimeClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'APIService',
])

// Apply order (krane's predeploy order): what others depend on goes first, workloads after their config.
const KIND_ORDER = [
  'Namespace',
  'CustomResourceDefinition',
  'ResourceQuota',
  'LimitRange',
  'PriorityClass',
  'ServiceAccount',
  'Secret',
  'ConfigMap',
  'StorageClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'Service',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'Pod',
]

/** Kinds applied in the first apply phase (config before workloads): the apply order up to the first workload. */
export const CONFIG_KINDS = new Set(KIND_ORDER.slice(0, KIND_ORDER.indexOf('Service')))

function kindRank(kind: string): number {
  const i = KIND_ORDER.indexOf(kind)
  return i === -1 ? KIND_ORDER.length : i
}

/** Sorts objects into apply order: by kind rank, then kind, then name. Stable and deterministic. */
export function sortForApply<T extends {object: KubeObject}>(objects: T[]): T[] {
  return [...objects].sort((a, b) => {
    const ka = a.object.kind
    const kb = b.object.kind
    return kindRank(ka) - kindRank(kb) || (ka < kb ? -1 : ka > kb ? 1 : 0) || (a.object.metadata.name < b.object.metadata.name ? -1 : a.object.metadata.name > b.object.metadata.name ? 1 : 0)
  })
}

/** `kind/name` as kubectl prints it. */
export function refOf(object: KubeObject): string {
  return `${object.kind}/${object.metadata.name}`
}

/** The name of a service's config-folder ConfigMap: it changes with its content, so a change rolls the pods. */
export function contentNamedConfigMap(service: string, hash: string): string {
  return `${service}-config-${hash}`
}

/** Whether a ConfigMap's name is one contentNamedConfigMap gives (content-named: no running pod reads a new one). */
export function isContentNamed(name: string): boolean {
  return /-config-[0-9a-f]{10}$/.test(name)
}
