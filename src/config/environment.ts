import {UserError} from '../errors.js'
import {DEFAULT_MAX_REPLICAS} from './limits.js'
import type {Environment, LoadedConfig, ServiceConfig} from './types.js'

/** The environment `name` with its per-environment service overrides deep-merged over the services. */
export function resolveEnvironment(loaded: LoadedConfig, name: string): Environment {
  const {config} = loaded
  const env = config.environments[name]
  if (!env) {
    throw new UserError(`unknown environment "${name}"`, {
      hint: `Known environments in ${loaded.show(loaded.file)}: ${Object.keys(config.environments).join(', ')}.`,
      details: {environment: name, known: Object.keys(config.environments)},
    })
  }
  const services: Record<string, ServiceConfig> = {}
  for (const [svcName, svc] of Object.entries(config.services)) {
    const override = env.services?.[svcName]
    services[svcName] = override ? (deepMerge(svc, override) as ServiceConfig) : svc
  }
  return {
    name,
    context: env.context,
    namespace: env.namespace,
    protected: env.protected ?? false,
    values: env.values ?? {},
    services,
    config: env.config,
    maxReplicas: env.maxReplicas ?? DEFAULT_MAX_REPLICAS,
    hooks: {
      predeploy: env.hooks?.predeploy ?? config.hooks?.predeploy ?? [],
      postdeploy: env.hooks?.postdeploy ?? config.hooks?.postdeploy ?? [],
    },
  }
}

/** Mappings merge key by key; lists and scalars in `over` replace those in `base`. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Record<string, unknown> = {...base}
    for (const [k, v] of Object.entries(over)) out[k] = k in base ? deepMerge(base[k], v) : v
    return out
  }
  return over === undefined ? base : over
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
