import {resolveEnvironment} from './environment.js'
import {loadConfig} from './load.js'
import type {ConfigWarning} from './types.js'

/** What `skycap config validate` reports. */
export interface ConfigCheck {
  file: string
  app: string
  services: string[]
  environments: Array<{name: string; context: string | null; namespace: string; protected: boolean}>
  warnings: ConfigWarning[]
}

/** Loads and validates skycap.yaml and every environment's merged services. Throws ConfigErrors. */
export async function checkConfig(options: {configPath?: string; cwd?: string}): Promise<ConfigCheck> {
  const loaded = await loadConfig(options)
  const environments = Object.keys(loaded.config.environments).map((name) => {
    const env = resolveEnvironment(loaded, name)
    return {name, context: env.context ?? null, namespace: env.namespace, protected: env.protected}
  })
  return {file: loaded.file, app: loaded.config.app, services: Object.keys(loaded.config.services), environments, warnings: loaded.warnings}
}
