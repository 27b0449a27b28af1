import {dirname} from 'node:path'

import type {ConnectionRead} from '../config/connection.js'
import {LOCAL_ENVIRONMENT, resolveEnvironment, unknownEnvironmentError} from '../config/environment.js'
import {configFilePath, declaredVcs, displayPath, loadConfig, readSkycapYaml} from '../config/load.js'
import type {Environment, LoadedConfig, SkycapConfig} from '../config/types.js'
import {type ConfigError, ConfigErrors, KubectlError, UserError} from '../errors.js'
import {Kubectl, type KubectlOptions} from '../kubectl/kubectl.js'
import {currentContextSource, kubeconfigFiles, noKubeconfigNote} from '../kubectl/kubeconfig.js'
import {shellWord} from '../ui/shell-word.js'
import {parseTarget} from '../vcs/target.js'
import {LABELS} from '../render/objects.js'
import type {Reporter} from '../ui/output.js'
import {onUpContext} from '../local/state.js'

/** Builds the Kubectl for a context and namespace; tests inject a fake runner through it. */
export type KubectlFactory = (options: Pick<KubectlOptions, 'context' | 'namespace'>) => Kubectl

export const defaultKubectlFactory: KubectlFactory = (options) => new Kubectl(options)

/** An environment pinned to its cluster: every kubectl call carries its context and namespace. */
export interface Target {
  kubectl: Kubectl
  context: string
  namespace: string
}

export interface ConnectOptions {
  /**
   * Check the environment's context on the first kubectl call rather than before it: one kubectl process (about 40
   * ms) less. Only for commands whose first kubectl call comes before anything else they change or send: kubectl
   * refuses an unknown context before it reaches any cluster, so that call changes nothing, and the error is the same.
   */
  checkContextOnFirstCall?: boolean
}

/** The warnings connect gave through each reporter: promote and abort connect twice in one run. */
const saidTo = new WeakMap<Reporter, Set<string>>()

/**
 * Binds kubectl to the environment's context. A context that is not in the kubeconfig is refused before
 * anything else happens; an environment without one uses the current context and says so.
 */

export async function connect(env: Environment, factory: KubectlFactory, reporter: Reporter, options: ConnectOptions = {}): Promise<Target> {
  const bare = factory({})
  let context = env.context
  if (context && options.checkContextOnFirstCall) {
    const kubectl = factory({context, namespace: env.namespace})
    const name = context
    explainUnknownContext(kubectl, bare, (known) => unknownContextError(env, name, known))
    return {kubectl, context, namespace: env.namespace}
  }
  if (context) {
    const known = await knownContexts(bare)
    if (!known.includes(context)) throw unknownContextError(env, context, known)
  } else {
    try {
      context = await bare.currentContext()
    } catch (error) {
      // A kubeconfig kubectl cannot read at all is a UserError already (classify): its own words, not "no current context".
      if (error instanceof KubectlError)
        throw new UserError(`environment ${env.name} names no context and kubectl has no current context`, {
          hint: `Set environments.${env.name}.context in skycap.yaml or run kubectl config use-context.`,
        })
      throw error
    }
    // Once per run: promote, abort and rollout status connect more than once.
    const warning = `environment ${env.name} names no kube context; using the current one: ${context}`
    const said = saidTo.get(reporter) ?? new Set<string>()
    if (!said.has(warning)) reporter.warn(warning)
    saidTo.set(reporter, said.add(warning))
    // A current-context that no context of the kubeconfig has (the context was deleted or renamed, the file that
    // defined it left KUBECONFIG) is found on the first call, as an unknown environment's context is: no process more.
    const kubectl = factory({context, namespace: env.namespace})
    const name = context
    explainUnknownContext(kubectl, bare, (known) => unknownCurrentContextError(env, name, known))
    return {kubectl, context, namespace: env.namespace}
  }
  return {kubectl: factory({context, namespace: env.namespace}), context, namespace: env.namespace}
}

/** kubectl's "context does not exist" on `kubectl`'s calls becomes `error`, given the contexts there are. */
function explainUnknownContext(kubectl: Kubectl, bare: Kubectl, error: (known: string[]) => Error): void {
  let explained: Promise<Error> | undefined
  // Asked once, however many calls failed at once (status makes two).
  kubectl.unknownContext = () =>
    (explained ??= knownContexts(bare).then(
      (known) => error(known),
      (failed: unknown) => failed as Error,
    ))
}

/** The context names of the kubeconfig (kubectl's error when it cannot read it). */
async function knownContexts(bare: Kubectl): Promise<string[]> {
  const r = await bare.run(['config', 'get-contexts', '-o', 'name'], {namespaced: false})
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
}

/** `(KUBECONFIG names /x/kc, which does not exist)` when kubectl found no file at all: the contexts are not the problem. */
function noKubeconfig(): string {
  const note = noKubeconfigNote()
  return note ? ` (${note})` : ''
}

function unknownContextError(env: Environment, context: string, known: string[]): UserError {
  return new UserError(`kube context "${context}" of environment ${env.name} is not in your kubeconfig; nothing was changed`, {
    hint: `Known contexts: ${known.join(', ') || `none${noKubeconfig()}`}. Add it (e.g. gcloud/aws/az get-credentials) or fix environments.${env.name}.context in skycap.yaml.`,
    details: {context, known},
  })
}

/** The kubeconfig's current context names a context no kubeconfig file defines, and the environment names none. */
function unknownCurrentContextError(env: Environment, context: string, known: string[]): UserError {
  const files = kubeconfigFiles()
  const source = currentContextSource()
  const from = source?.context === context ? `current-context of ${source.file}` : '`kubectl config current-context`'
  const use = known.length
    ? `Make a known one current (\`kubectl config use-context ${shellWord(known[0] as string)}\`; known: ${known.join(', ')})`
    : `No file defines any context${noKubeconfig()}: add one (e.g. gcloud/aws/az get-credentials)`
  return new UserError(
    `the kubeconfig's current context "${context}" (${from}) is not defined in the kubeconfig file${files.length === 1 ? '' : 's'} ${files.join(', ')}; environment ${env.name} names no context of its own; nothing was changed`,
    {
      hint: `${use}, or set environments.${env.name}.context in skycap.yaml.`,
      details: {context, known, files},
    },
  )
}

/** The selector of everything skycap manages for app/env. */
export function appSelector(app: string, env: string): string {
  return `${LABELS.partOf}=${app},${LABELS.managedBy}=skycap,${LABELS.environment}=${env}`
}

/**
 * How a command that acts only on what is in the cluster goes on when skycap.yaml fails validation: with the app and
 * the environment's connection, if they can be read unambiguously (src/config/connection.ts), after one warning.
 */
export interface ConnectionOnly {
  /** The command, as the warning names it ("rollback", "lock status"). */
  command: string
  reporter: Reporter
  /** What the command would have read from a valid file, and what it does without: [key path, words], said when the file sets the key. */
  notUsed?: (environment: string) => Array<[Array<string | number>, string]>
}

/** What a command opened from an invalid skycap.yaml (openEnvironment's `connectionOnly`). */
export interface ConnectionOnlyRead {
  /** The file's problems, in file order. */
  errors: ConfigError[]
  /** Whether the file sets the key at `path`. */
  has(path: readonly (string | number)[]): boolean
}

/**
 * For commands that need an environment but no revision (status, history, lock, scale, logs). `repository: false`:
 * the command reads no templates or config files, so the repository is not opened (a git process and simple-git
 * less at start-up) and nothing is confined to it.
 */
export async function openEnvironment(options: {
  configPath?: string
  environment?: string
  cwd?: string
  repository?: boolean
  /** The command, when it takes `[ENV] [SERVICE]`: suggested with -e when the environment named is a service. */
  serviceUsage?: string
  /** The command takes its environment with -e only (its arguments are services: logs, scale, exec, run, port-forward). */
  envFlagOnly?: boolean
  /**
   * false for up and down, which read up's state themselves. Otherwise the derived `local` environment (no context
   * in skycap.yaml) is on the context the last `skycap up` of it used, not the kubeconfig's current one.
   */
  upContext?: boolean
  /** The flag that takes a revision, for the command that has one (rollback --to, run --rev): ENV@REV's hint names it. */
  revisionFlag?: string
  /**
   * For commands that act only on what is in the cluster (status, history, lock, rollback): a skycap.yaml that fails
   * validation still gives them the app and the environment's connection when those read unambiguously, with a warning.
   */
  connectionOnly?: ConnectionOnly
}): Promise<{loaded: LoadedConfig; env: Environment; connectionOnly?: ConnectionOnlyRead}> {
  let loaded: LoadedConfig
  let partial: (ConnectionOnlyRead & {read: ConnectionRead}) | undefined
  try {
    loaded = await loadConfig({configPath: options.configPath, cwd: options.cwd, repository: options.repository})
  } catch (error) {
    if (!options.connectionOnly || !(error instanceof ConfigErrors)) throw error
    const fallback = await readConnectionOf(options, error)
    if (!fallback) throw error
    ;({loaded, partial} = fallback)
  }
  const named = partial?.read.environmentNames ?? Object.keys(loaded.config.environments)
  const defaultEnvironment = partial ? partial.read.defaultEnvironment : loaded.config.defaultEnvironment
  const given = options.environment ?? process.env.SKYCAP_ENV
  // These commands take no revision: the hint was parseTarget's "as ENV or ENV@REV (e.g. staging@HEAD)".
  if (!given && !defaultEnvironment) {
    // An invalid file's defaultEnvironment that could not be read: the file's errors, as before.
    if (partial) throw new ConfigErrors(partial.errors, `Fix ${loaded.show(loaded.file)}.`)
    throw new UserError('no environment given', {
      hint: `Name one of skycap.yaml's (${named.join(', ')}) ${options.envFlagOnly ? 'with -e ENV' : 'as ENV or with -e ENV'}, or set defaultEnvironment in skycap.yaml (or SKYCAP_ENV).`,
    })
  }
  // `status test@` too: parseTarget's hint ("Write @REV … or leave it out") offered a revision these take not.
  const spec = parseTarget(given?.endsWith('@') && given.length > 1 ? given.slice(0, -1) : given, defaultEnvironment, named)
  if (spec.revision !== undefined || given?.endsWith('@')) {
    const flag = options.revisionFlag && spec.revision !== undefined ? `, and the revision with ${options.revisionFlag} (${options.revisionFlag} ${spec.revision})` : ''
    throw new UserError(`this command takes an environment, not ENV@REV ("${given}")`, {hint: `Use ${spec.environment}${flag}.`})
  }
  if (partial && options.connectionOnly) {
    // An environment the file does not have is said as such, as a valid file says it (only the file's problem was
    // said, and once it was fixed, the unknown environment came next).
    if (!named.includes(spec.environment) && spec.environment !== LOCAL_ENVIRONMENT) throw unknownEnvironmentError(loaded, spec.environment, named, options.serviceUsage)
    const block = partial.read.environment(spec.environment)
    // The environment's connection cannot be read: the file's errors, as before.
    if (!block && named.includes(spec.environment)) throw new ConfigErrors(partial.errors, `Fix ${loaded.show(loaded.file)}.`)
    if (block) loaded.config.environments[spec.environment] = block
    const {has} = partial
    const {connectionOnlyWarning} = await import('../config/connection.js')
    const notUsed = (options.connectionOnly.notUsed?.(spec.environment) ?? []).filter(([path]) => has(path)).map(([, words]) => words)
    options.connectionOnly.reporter.warn(
      connectionOnlyWarning({command: options.connectionOnly.command, environment: spec.environment, file: loaded.show(loaded.file), errors: partial.errors, notUsed}),
    )
  }
  const env = resolveEnvironment(loaded, spec.environment, options.serviceUsage)
  const connectionOnly = partial ? {errors: partial.errors, has: partial.has} : undefined
  return {loaded, env: options.upContext === false ? env : onUpContext(env, loaded.file), ...(connectionOnly ? {connectionOnly} : {})}
}

/**
 * The app and environment names of an invalid skycap.yaml, as a LoadedConfig with no services and (so far) no
 * environment blocks; undefined when they cannot be read unambiguously.
 */
async function readConnectionOf(options: {configPath?: string; cwd?: string}, error: ConfigErrors): Promise<{loaded: LoadedConfig; partial: ConnectionOnlyRead & {read: ConnectionRead}} | undefined> {
  const file = configFilePath(options)
  const text = readSkycapYaml(file, displayPath(file))
  // Loaded only here: the schema and the yaml library are not part of every command's start.
  const {readConnection} = await import('../config/connection.js')
  const read = await readConnection(text)
  if (!read) return undefined
  const config: SkycapConfig = {app: read.app, services: {}, environments: {}, vcs: await declaredVcs(text)}
  const loaded: LoadedConfig = {config, file, dir: dirname(file), root: dirname(file), warnings: [], locate: () => undefined, show: displayPath}
  return {loaded, partial: {errors: error.errors, has: read.has, read}}
}

/** The annotation on a namespace skycap created: `up` (skycap up) or `deploy` (a first deploy); only such a namespace is ever deleted. */
export const CREATED_BY = 'skycap.dev/created-by'

/**
 * Whether the namespace exists (also proves the cluster answers). A user whose rights are a Role in the namespace (a
 * CI service account: docs/rbac.md) may not read namespaces, which are cluster-scoped: the namespace is then taken as
 * there, made beforehand as the docs say (it refused every deploy and diff). One that is not makes the next call say so.
 */
export async function namespaceExists(kubectl: Kubectl, namespace: string): Promise<boolean> {
  try {
    const r = await kubectl.run(['get', 'namespace', namespace, '--ignore-not-found', '-o', 'name'], {namespaced: false})
    return r.stdout.trim().length > 0
  } catch (error) {
    if (error instanceof KubectlError && error.kind === 'forbidden') return true
    throw error
  }
}
