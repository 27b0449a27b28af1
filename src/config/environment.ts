import {UserError} from '../errors.js'
import {didYouMean} from '../suggest.js'
import {DEFAULT_MAX_REPLICAS} from './limits.js'
import type {Environment, EnvironmentConfig, LoadedConfig, NotifyConfig, PortSpec, RequireChecksConfig, ServiceConfig} from './types.js'

/**
 * `unknown environment "prod"`, naming the environments `known` (those of skycap.yaml; of an invalid one, those it
 * lists), and a service named where the environment goes.
 */
export function unknownEnvironmentError(loaded: LoadedConfig, name: string, known: string[], serviceUsage?: string): UserError {
  const {config} = loaded
  // The reverse of unknownServiceError's: a service named where the environment goes (`skycap promote web`).
  const isService = Object.hasOwn(config.services, name)
  const instead = serviceUsage ? `; did you mean \`${serviceUsage} ${name} -e ${config.defaultEnvironment ?? 'ENV'}\`?` : ''
  const why = isService ? `: ${name} is a service of app ${config.app}, not an environment${instead}` : didYouMean(name, known)
  // A name the user did not type on this command line: say where it came from.
  const fromVariable = process.env.SKYCAP_ENV === name ? ` It comes from SKYCAP_ENV="${name}": set that to one of them, or unset it.` : ''
  return new UserError(`unknown environment "${name}"${why}`, {
    hint: `Known environments in ${loaded.show(loaded.file)}: ${known.join(', ')}.${fromVariable}`,
    details: {environment: name, known},
  })
}

/**
 * The environment `name` with its per-environment service overrides deep-merged over the services. `serviceUsage`:
 * the command, when it takes `[ENV] [SERVICE]` (`skycap promote`), whose line is suggested with -e when `name` is a
 * service.
 */
export function resolveEnvironment(loaded: LoadedConfig, name: string, serviceUsage?: string): Environment {
  const {config} = loaded
  const env = config.environments[name] ?? (name === LOCAL_ENVIRONMENT ? derivedLocalEnvironment(config) : undefined)
  if (!env) throw unknownEnvironmentError(loaded, name, Object.keys(config.environments), serviceUsage)
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
    ...(config.environments[name] ? {} : {derived: true}),
    registry: env.registry ?? config.registry,
    imageTag: env.imageTag ?? config.imageTag,
    hooks: {
      predeploy: env.hooks?.predeploy ?? config.hooks?.predeploy ?? [],
      postdeploy: env.hooks?.postdeploy ?? config.hooks?.postdeploy ?? [],
    },
    ...requireChecks(env.requireChecks ?? config.requireChecks, config.requireChecks),
    ...(config.notify || env.notify ? {notify: mergeNotify(config.notify, env.notify)} : {}),
  }
}

/**
 * The environment's notify: over the app's, key by key: each key it sets (timeout, environmentUrl, a target) replaces
 * the app's whole. A target is never half one, half the other: an environment's webhook, whose URL it must name, gets
 * none of the app's webhook headers, so the app's token never goes to the environment's URL (docs/notify.md).
 */
export function mergeNotify<T extends object = NotifyConfig>(app: T | null | undefined, environment: T | null | undefined): T {
  return {...app, ...environment} as T
}

/** The environment's requireChecks over the top-level one; `true` in an environment keeps the top-level settings. */
function requireChecks(value: RequireChecksConfig | undefined, top: RequireChecksConfig | undefined): Pick<Environment, 'requireChecks'> {
  if (!value) return {}
  const settings = value === true ? (typeof top === 'object' ? top : {}) : value
  return {requireChecks: {...(settings.repository ? {repository: settings.repository} : {}), ignore: settings.ignore ?? []}}
}

/** A service's ports as one list: `ports:`, or `port:` as the one named http; none without either. */
export function servicePorts(svc: Pick<ServiceConfig, 'port' | 'ports'>): PortSpec[] {
  return svc.ports ?? (svc.port !== undefined ? [{name: 'http', port: svc.port}] : [])
}

/** The environment `skycap up` uses by default; derived when skycap.yaml declares none of that name. */
export const LOCAL_ENVIRONMENT = 'local'

/**
 * The command that puts an app into `environment` first, for hints: `skycap up` for \`local\` (it builds the work tree
 * and deploys it; a deploy of local asks for images nobody built), else a deploy (`@<revision>` with `revision`).
 */
export function deployFirst(environment: string, revision = false): string {
  return environment === LOCAL_ENVIRONMENT ? 'skycap up' : `skycap deploy ${environment}${revision ? '@<revision>' : ''}`
}

/** Set by skycap up to the registry the local cluster advertises: the derived `local` environment's registry. */
export const LOCAL_REGISTRY_VARIABLE = 'SKYCAP_LOCAL_REGISTRY'

/**
 * `local` when skycap.yaml has none (docs/local.md): namespace `<app>-local`, one replica per service and no
 * minReadySeconds, never protected, no context (skycap up chooses the cluster), the values of defaultEnvironment, and the local registry
 * (SKYCAP_LOCAL_REGISTRY, which skycap up sets; else skycap.yaml's registry).
 */
function derivedLocalEnvironment(config: LoadedConfig['config']): EnvironmentConfig {
  const registry = process.env[LOCAL_REGISTRY_VARIABLE]
  // The repository's templates read values (an Ingress's host, say) that every declared environment sets: the
  // default environment's, so that what renders there renders here too.
  const values = config.defaultEnvironment === undefined ? undefined : config.environments[config.defaultEnvironment]?.values
  return {
    namespace: `${config.app}-local`,
    protected: false,
    ...(values ? {values} : {}),
    // No minReadySeconds wait either: it guards production rollouts and would only slow the inner loop.
    services: Object.fromEntries(Object.entries(config.services).map(([name, svc]) => [name, {replicas: 1, ...(svc.minReadySeconds ? {minReadySeconds: 0} : {})}])),
    ...(registry ? {registry} : {}),
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

/**
 * The error for a service name skycap.yaml does not declare (exit 2): the closest service when one is near, or, when
 * the name is an environment's, how to pass it instead. `usage` is the command with a SERVICE placeholder
 * (`skycap logs SERVICE`), shown with `-e NAME` when the name is an environment. `given` is the environment the
 * command line already names (`with -e`, or `as the environment` for ENV SERVICE): an environment where the service
 * goes is then a second environment, not a misplaced one.
 */
export function unknownServiceError(loaded: LoadedConfig, name: string, usage?: string, given?: {environment: string; how: string}, at?: string): UserError {
  const {app, services, environments} = loaded.config
  const known = Object.keys(services)
  // `at`: the skycap.yaml is a revision's (ENV@REV, run --rev), not the work tree's: said, for the two can differ.
  if (at !== undefined && !Object.hasOwn(environments, name))
    return new UserError(`unknown service "${name}" at ${at}${didYouMean(name, known)}`, {
      hint: `Services of ${app} in the skycap.yaml of ${at}: ${known.join(', ')}.`,
      details: {service: name, known, revision: at},
    })
  const hint = `Services of ${app}: ${known.join(', ')}.`
  if (Object.hasOwn(environments, name) && !Object.hasOwn(services, name)) {
    if (given && given.environment !== name) {
      const instead = usage ? ` Give one environment and a service: \`${usage} -e ${given.environment}\` or \`${usage} -e ${name}\`.` : ''
      return new UserError(`two environments given: "${name}" where the service goes and "${given.environment}" ${given.how}`, {
        hint: `${hint}${instead}`,
        details: {service: name, environment: given.environment, known},
      })
    }
    const instead = usage ? `; did you mean \`${usage} -e ${name}\`?` : ''
    return new UserError(`${name} is an environment, not a service of app ${app}${instead}`, {hint, details: {service: name, known}})
  }
  return new UserError(`unknown service "${name}"${didYouMean(name, known)}`, {hint, details: {service: name, known}})
}

/**
 * run and exec take their command after `--`. A first word between SERVICE and the command that names one of the
 * app's environments (`skycap run web prod -- ls`) was meant as the environment: it ran in the default one, as
 * part of the command. `leading`: the words between SERVICE and `--`; `command`: those after it.
 */
export function environmentInCommand(loaded: LoadedConfig, service: string, leading: string[], command: string[], verb: 'run' | 'exec'): UserError | undefined {
  const word = leading[0]
  const {environments, services} = loaded.config
  if (word === undefined || !Object.hasOwn(environments, word) || Object.hasOwn(services, word)) return undefined
  const rest = [...leading.slice(1), ...command]
  return new UserError(`"${word}" after the service is an environment of ${loaded.config.app}, not the start of the command; nothing was run`, {
    hint: `Give the environment with -e: skycap ${verb} ${service} -e ${word} -- ${rest.join(' ') || 'COMMAND'}. (A command that really starts with "${word}" goes after --: skycap ${verb} ${service} -- ${word} ….)`,
    details: {environment: word, service},
  })
}

/** The environment given with -e (undefined when none was), for unknownServiceError. */
export function withFlag(environment: string | undefined): {environment: string; how: string} | undefined {
  return environment === undefined ? undefined : {environment, how: 'with -e'}
}
