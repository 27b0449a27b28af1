import {openEnvironment} from '../env/connect.js'
import type {ConfigWarning, Environment} from './types.js'

/** What `skycap config show` prints: an environment's settings as deploy, render and every command use them. */
export interface ShownEnvironment {
  file: string
  app: string
  environment: string
  context: string | null
  namespace: string
  protected: boolean
  registry: string | null
  imageTag: string | null
  maxReplicas: number
  values: Record<string, unknown>
  hooks: Environment['hooks']
  requireChecks: Environment['requireChecks'] | null
  notify: Environment['notify'] | null
  /** Each service with the environment's `services:` overrides deep-merged over it. */
  services: Environment['services']
  warnings: ConfigWarning[]
}

/**
 * The environment named (or SKYCAP_ENV's, or defaultEnvironment) resolved from the work tree's skycap.yaml: no
 * cluster, no revision (image references are the render's: `skycap render ENV@REV`).
 */
export async function showEnvironment(options: {configPath?: string; environment?: string}): Promise<ShownEnvironment> {
  const {loaded, env} = await openEnvironment({configPath: options.configPath, environment: options.environment, repository: false})
  return {
    file: loaded.show(loaded.file),
    app: loaded.config.app,
    environment: env.name,
    context: env.context ?? null,
    namespace: env.namespace,
    protected: env.protected,
    registry: env.registry ?? null,
    imageTag: env.imageTag ?? null,
    maxReplicas: env.maxReplicas,
    values: env.values,
    hooks: env.hooks,
    requireChecks: env.requireChecks ?? null,
    notify: env.notify ?? null,
    services: env.services,
    warnings: loaded.warnings,
  }
}
