import {resolveEnvironment} from '../config/environment.js'
import {loadConfig} from '../config/load.js'
import type {Environment, LoadedConfig} from '../config/types.js'
import {KubectlError, UserError} from '../errors.js'
import {Kubectl, type KubectlOptions} from '../kubectl/kubectl.js'
import {parseTarget} from '../vcs/target.js'
import {LABELS} from '../render/objects.js'
import type {Reporter} from '../ui/output.js'
import {readState, stateFile} from '../local/state.js'

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
    let explained: Promise<Error> | undefined
    // Asked once, however many calls failed at once (status makes two).
    kubectl.unknownContext = () =>
      (explained ??= knownContexts(bare).then(
        (known) => unknownContextError(env, name, known),
        (error: unknown) => error as Error,
      ))
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
  }
  return {kubectl: factory({context, namespace: env.namespace}), context, namespace: env.namespace}
}

/** The context names of the kubeconfig (kubectl's error when it cannot read it). */
async function knownContexts(bare: Kubectl): Promise<string[]> {
  const r = await bare.run(['config', 'get-contexts', '-o', 'name'], {namespaced: false})
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
}

function unknownContextError(env: Environment, context: string, known: string[]): UserError {
  return new UserError(`kube context "${context}" of environment ${env.name} is not in your kubeconfig; nothing was changed`, {
    hint: `Known contexts: ${known.join(', ') || 'none'}. Add it (e.g. gcloud/aws/az get-credentials) or fix environments.${env.name}.context in skycap.yaml.`,
    details: {context, known},
  })
}

/** The selector of everything skycap manages for app/env. */
export function appSelector(app: string, env: string): string {
  return `${LABELS.partOf}=${app},${LABELS.managedBy}=skycap,${LABELS.environment}=${env}`
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
  /**
   * false for up and down, which read up's state themselves. Otherwise the derived `local` environment (no context
   * in skycap.yaml) is on the context the last `skycap up` of it used, not the kubeconfig's current one.
   */
  upContext?: boolean
  /** The flag that takes a revision, for the command that has one (rollback --to, run --rev): ENV@REV's hint names it. */
  revisionFlag?: string
}): Promise<{loaded: LoadedConfig; env: Environment}> {
  const loaded = await loadConfig({configPath: options.configPath, cwd: options.cwd, repository: options.repository})
  const named = Object.keys(loaded.config.environments)
  // These commands take no revision: the hint was parseTarget's "as ENV or ENV@REV (e.g. staging@HEAD)".
  if (!(options.environment ?? process.env.SKYCAP_ENV) && !loaded.config.defaultEnvironment)
    throw new UserError('no environment given', {
      hint: `Name one of skycap.yaml's (${named.join(', ')}) as ENV or with -e ENV, or set defaultEnvironment in skycap.yaml (or SKYCAP_ENV).`,
    })
  const given = options.environment ?? process.env.SKYCAP_ENV
  // `status test@` too: parseTarget's hint ("Write @REV … or leave it out") offered a revision these take not.
  const spec = parseTarget(given?.endsWith('@') && given.length > 1 ? given.slice(0, -1) : given, loaded.config.defaultEnvironment, named)
  if (spec.revision !== undefined || given?.endsWith('@')) {
    const flag = options.revisionFlag && spec.revision !== undefined ? `, and the revision with ${options.revisionFlag} (${options.revisionFlag} ${spec.revision})` : ''
    throw new UserError(`this command takes an environment, not ENV@REV ("${given}")`, {hint: `Use ${spec.environment}${flag}.`})
  }
  const env = resolveEnvironment(loaded, spec.environment, options.serviceUsage)
  if (options.upContext !== false && env.derived && env.context === undefined) {
    const context = readState(stateFile(loaded.file, env.name))?.context
    if (context) return {loaded, env: {...env, context}}
  }
  return {loaded, env}
}

/** Whether the namespace exists (also proves the cluster answers). */
export async function namespaceExists(kubectl: Kubectl, namespace: string): Promise<boolean> {
  const r = await kubectl.run(['get', 'namespace', namespace, '--ignore-not-found', '-o', 'name'], {namespaced: false})
  return r.stdout.trim().length > 0
}
