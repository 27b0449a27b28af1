import {resolve} from 'node:path'

import {ConfigError, ConfigErrors} from '../errors.js'
import {readConfigFiles} from '../render/configmap.js'
import {resolveEnvironment} from './environment.js'
import {loadConfig} from './load.js'
import type {ConfigWarning, LoadedConfig, SkycapConfig} from './types.js'

/** What `skycap config validate` reports. */
export interface ConfigCheck {
  file: string
  app: string
  services: string[]
  environments: Array<{name: string; context: string | null; namespace: string; protected: boolean}>
  warnings: ConfigWarning[]
}

/**
 * Loads and validates skycap.yaml and every environment's merged services, and reads each service's config files as
 * render reads them (a link out of the repository passed here, and render refused it). Throws ConfigErrors.
 */
export async function checkConfig(options: {configPath?: string; cwd?: string}): Promise<ConfigCheck> {
  const loaded = await loadConfig(options)
  const problems = new Map<string, ConfigError>()
  const environments = Object.keys(loaded.config.environments).map((name) => {
    const env = resolveEnvironment(loaded, name)
    for (const [service, svc] of Object.entries(env.services)) {
      if (svc.config === undefined) continue
      try {
        readConfigFiles(resolve(loaded.dir, svc.config), env.config ? resolve(loaded.dir, env.config, service) : undefined, {root: loaded.root, shownFile: loaded.show(loaded.file), show: loaded.show})
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error
        // A service's own folder is read once per environment: its problem is said once.
        problems.set(error.message, error)
      }
    }
    return {name, context: env.context ?? null, namespace: env.namespace, protected: env.protected}
  })
  const found = [...problems.values()]
  if (found.length) throw new ConfigErrors(found, found[0]?.hint)
  // Said by config validate only: a deploy of either environment refuses the other's objects by itself, and an app
  // that shares a namespace on purpose (objects named per environment) would be warned at every deploy.
  const shown = loaded.show(loaded.file)
  const warnings = [...loaded.warnings, ...sharedNamespaces(loaded.config, shown, loaded.locate), ...protectedWithoutContext(loaded.config, shown, loaded.locate)]
  return {file: loaded.file, app: loaded.config.app, services: Object.keys(loaded.config.services), environments, warnings}
}

/**
 * Two environments of one app that name the same namespace on the same context (or both on the current one): every
 * service's objects have the same names in both, so each one's deploy refuses the other's (docs/deploy.md). Named at
 * the later environment's namespace.
 */
export function sharedNamespaces(config: SkycapConfig, shown: string, locate: LoadedConfig['locate']): ConfigWarning[] {
  const seen = new Map<string, string>()
  const warnings: ConfigWarning[] = []
  for (const [name, env] of Object.entries(config.environments)) {
    const key = `${env.context ?? ''}\0${env.namespace}`
    const first = seen.get(key)
    if (first === undefined) {
      seen.set(key, name)
      continue
    }
    const pos = locate(['environments', name, 'namespace'])
    const where = env.context === undefined ? 'on the current kube context' : `on context ${env.context}`
    warnings.push({
      message: `environments "${first}" and "${name}" both deploy to namespace ${env.namespace} ${where}: their services' objects have the same names, so each one's deploy is refused the other's (owned_elsewhere); give each environment a namespace of its own`,
      file: shown,
      line: pos?.line,
      column: pos?.column,
    })
  }
  return warnings
}

/**
 * A protected environment without `context:` deploys to whichever kube context is current where skycap runs: a laptop
 * left on staging's, or a CI runner's. The confirmation names the context, but `--yes` (CI) asks nothing. Said by
 * config validate only, at the environment's `protected` key: a team whose pipeline chooses the cluster through
 * KUBECONFIG does so on purpose, and would be warned at every deploy.
 */
export function protectedWithoutContext(config: SkycapConfig, shown: string, locate: LoadedConfig['locate']): ConfigWarning[] {
  return Object.entries(config.environments)
    .filter(([, env]) => env.protected === true && env.context === undefined)
    .map(([name]) => {
      const pos = locate(['environments', name, 'protected'])
      return {
        message: `environment "${name}" is protected but names no context: it deploys to whichever kube context is current where skycap runs (\`--yes\` asks nothing); give it \`context:\` unless your pipeline chooses the cluster on purpose (KUBECONFIG)`,
        file: shown,
        line: pos?.line,
        column: pos?.column,
      }
    })
}
