/** Typed view of skycap.yaml after validation. Field names are the user's. */

export interface PortSpec {
  name?: string
  port: number
  targetPort?: number
  protocol?: 'TCP' | 'UDP' | 'SCTP'
}

export interface HealthCheck {
  path?: string
  port?: number
  command?: string[]
  initialDelaySeconds?: number
  periodSeconds?: number
  timeoutSeconds?: number
  failureThreshold?: number
}

/** What runs before a container stops: one of command, sleep (seconds) or HTTP GET path (on port). */
export interface PreStop {
  command?: string[]
  sleep?: number
  path?: string
  port?: number
}

export interface Toleration {
  key?: string
  operator?: 'Exists' | 'Equal'
  value?: string
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'
  tolerationSeconds?: number
}

/** A Kubernetes object (affinity, security context) the schema checked at its top level and skycap passes on as written. */
export type KubernetesFields = Record<string, unknown>

/** A strategic-merge patch of a pod template: `metadata` and `spec`, anything inside. */
export interface PodTemplatePatch {
  metadata?: KubernetesFields
  spec?: KubernetesFields
}

export interface ResourceList {
  cpu?: string | number
  memory?: string | number
  'ephemeral-storage'?: string | number
}

export interface LogFilters {
  exclude?: string[]
}

export interface ServiceConfig {
  image: string
  replicas?: number
  port?: number
  ports?: PortSpec[]
  command?: string[]
  args?: string[]
  env?: Record<string, string | number | boolean>
  envFrom?: Array<{secret?: string; configMap?: string}>
  healthcheck?: HealthCheck
  liveness?: HealthCheck
  startup?: HealthCheck
  lifecycle?: {preStop?: PreStop}
  terminationGracePeriodSeconds?: number
  nodeSelector?: Record<string, string>
  tolerations?: Toleration[]
  affinity?: KubernetesFields
  serviceAccountName?: string
  securityContext?: KubernetesFields
  containerSecurityContext?: KubernetesFields
  resources?: {requests?: ResourceList; limits?: ResourceList}
  config?: string
  logs?: LogFilters
  labels?: Record<string, string>
  annotations?: Record<string, string>
  podTemplate?: PodTemplatePatch
  strategy?: StrategyConfig
}

/** One check gating a blue-green switch or a canary step (exactly one key). */
export interface CheckConfig {
  http?: {path: string; port?: number; target?: 'pods' | 'preview' | 'service'; expect?: {status?: number; body?: string}}
  job?: {command: string[]; timeout?: string}
  prometheus?: {address: string; query: string; threshold?: {max?: number; min?: number}; noData?: 'fail' | 'pass'}
}

/** One canary step (exactly one key). */
export interface CanaryStep {
  setWeight?: number
  pause?: {duration?: string}
  analysis?: {checks: CheckConfig[]}
}

/** `strategy:` of a service: how a new release replaces the old (docs/strategies.md). */
export interface StrategyConfig {
  type: 'rolling' | 'blueGreen' | 'canary'
  maxSurge?: number | string
  maxUnavailable?: number | string
  scaleDownDelay?: string
  preview?: boolean
  checks?: CheckConfig[]
  steps?: CanaryStep[]
  trafficRouting?: {gatewayAPI: {httpRoute: string}}
}

export interface EnvironmentConfig {
  context?: string
  namespace: string
  protected?: boolean
  values?: Record<string, unknown>
  services?: Record<string, Partial<ServiceConfig>>
  config?: string
  /** The most replicas a service may have here (default 1000); `skycap scale` refuses more without --force. */
  maxReplicas?: number
}

export interface SkycapConfig {
  app: string
  registry?: string
  imageTag?: string
  defaultEnvironment?: string
  templates?: string
  history?: {keep?: number}
  deploy?: {timeout?: string}
  logs?: LogFilters
  services: Record<string, ServiceConfig>
  environments: Record<string, EnvironmentConfig>
}

/** A problem worth saying that does not stop skycap. */
export interface ConfigWarning {
  message: string
  file: string
  line?: number
  column?: number
}

/** A loaded, validated skycap.yaml and where it came from. */
export interface LoadedConfig {
  config: SkycapConfig
  /** Absolute path of skycap.yaml. */
  file: string
  /** Directory of skycap.yaml; relative paths in it are relative to this. */
  dir: string
  /** The repository (git work tree, or an older revision's temporary copy) templates and config files must stay in. */
  root: string
  warnings: ConfigWarning[]
  /** Line/column of a key path such as ['services', 'web', 'image'], for later errors. */
  locate(path: readonly (string | number)[]): {line: number; column: number} | undefined
  /** A path under `dir` as messages show it: relative to the working directory, `(at <short>)` when read from a revision. */
  show(path: string): string
}

/** One environment with the per-environment overrides merged in. */
export interface Environment {
  name: string
  context?: string
  namespace: string
  protected: boolean
  values: Record<string, unknown>
  services: Record<string, ServiceConfig>
  config?: string
  /** The most replicas a service may have here. */
  maxReplicas: number
}
