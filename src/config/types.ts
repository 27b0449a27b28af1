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

/** How `skycap build` makes a service's image: a Dockerfile build, or a command of the user's. */
export interface BuildSpec {
  /** Build context, relative to skycap.yaml (default: the repository root). */
  context?: string
  /** Dockerfile, relative to the context (default Dockerfile). */
  dockerfile?: string
  target?: string
  /** Build arguments; values may use {{ revision.sha }}, {{ revision.short }}, {{ image }}, {{ tag }}. */
  args?: Record<string, string | number | boolean>
  /** Platforms such as linux/amd64; more than one needs buildx or podman. */
  platforms?: string[]
  /** A custom builder: run in the context with SKYCAP_IMAGE set; it must build and push that reference. */
  command?: string[]
}

export interface ServiceConfig {
  image: string
  /** How `skycap build` makes the image; services without it are never built. */
  build?: BuildSpec
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
  /** The Deployment's spec.minReadySeconds: how long a new pod stays ready before it counts as available. */
  minReadySeconds?: number
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

/** A command run as a Job from a service's pod template before (predeploy) or after (postdeploy) the rollout. */
export interface HookConfig {
  name: string
  service: string
  command: string[]
  /** A duration such as 10m (default 10m). */
  timeout?: string
  env?: Record<string, string | number | boolean>
}

/** Hooks per phase; an environment's list for a phase replaces the app's. */
export interface HooksConfig {
  predeploy?: HookConfig[]
  postdeploy?: HookConfig[]
}

/**
 * `notify:` (docs/notify.md): where skycap reports a deploy's or rollback's events. Secrets (the Slack webhook URL,
 * tokens) come from environment variables, never from the file.
 */
export interface NotifyConfig {
  /** Time limit of each request, a duration (default 10s). */
  timeout?: string
  /** Where the environment can be visited: the deployments' environment_url and the payload's environmentUrl. */
  environmentUrl?: string
  /** false: none here (an environment turning the app's off). */
  slack?: {webhookEnv: string} | false
  /** Header values and the URL may name variables as ${env:NAME}. false: none here. */
  webhook?: {url: string; headers?: Record<string, string>} | false
  github?: {deployments: boolean; repository?: string}
  gitlab?: {deployments: boolean; project?: string}
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
  /** Overrides the top-level registry here. */
  registry?: string
  /** Overrides the top-level imageTag here. */
  imageTag?: string
  hooks?: HooksConfig
  /** Overrides the top-level requireChecks here (false turns it off). */
  requireChecks?: RequireChecksConfig
  /** Over the top-level notify:, key by key: each key set here (a target too) replaces the top level's whole (mergeNotify). */
  notify?: NotifyConfig
}

/** `requireChecks:` as written: on/off, or on with settings (docs/ci-checks.md). */
export type RequireChecksConfig = boolean | {repository?: string; ignore?: string[]}

export interface SkycapConfig {
  app: string
  registry?: string
  imageTag?: string
  defaultEnvironment?: string
  /** Which repository revisions come from (default auto: the nearest). */
  vcs?: 'auto' | 'git' | 'hg'
  templates?: string
  history?: {keep?: number}
  deploy?: {timeout?: string}
  /** Deploy only revisions whose GitHub statuses and check runs are green. */
  requireChecks?: RequireChecksConfig
  logs?: LogFilters
  hooks?: HooksConfig
  notify?: NotifyConfig
  services: Record<string, ServiceConfig>
  environments: Record<string, EnvironmentConfig>
}

/** A problem worth saying that does not stop skycap. */
export interface ConfigWarning {
  message: string
  /** The file the warning is about; none for one about the work tree as a whole (uncommitted changes). */
  file?: string
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
  /**
   * The repository (its work tree, git or Mercurial, or an older revision's temporary copy) templates and config files
   * must stay in. Loaded with `repository: false` (commands that read no templates or config files): skycap.yaml's
   * folder, and nothing was checked against it.
   */
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
  /** Not declared in skycap.yaml: the `local` environment skycap up derives (see resolveEnvironment). */
  derived?: boolean
  /** The registry images are pushed to and pulled from here (the environment's, else the top-level one). */
  registry?: string
  /** The image tag template here (the environment's, else the top-level one; default the full SHA). */
  imageTag?: string
  /** The app's hooks with this environment's lists in their place. */
  hooks: {predeploy: HookConfig[]; postdeploy: HookConfig[]}
  /** Set when deploys here need green GitHub checks (the environment's requireChecks, else the top-level one). */
  requireChecks?: {repository?: string; ignore: string[]}
  /** The app's notify: with this environment's merged over it (absent: nothing is notified). */
  notify?: NotifyConfig
}
