import type {ConfigError} from '../errors.js'
import {skycapSchema} from './schema.js'
import {loadValidator, validateAgainstSchema} from './validate.js'
import type {EnvironmentConfig} from './types.js'

/**
 * What a command that acts only on what is in the cluster (status, history, lock, rollback) reads from a skycap.yaml
 * that fails validation: the app's name and one environment's connection. Read only when unambiguous: see
 * readConnection.
 */
export interface ConnectionRead {
  app: string
  /** Undefined when absent, or not read unambiguously. */
  defaultEnvironment?: string
  /** The names under environments: (their blocks may be invalid). */
  environmentNames: string[]
  /** The environment `name`'s context, namespace and protected; undefined when they cannot be read unambiguously. */
  environment(name: string): EnvironmentConfig | undefined
  /** Whether the file sets the key at `path` (for saying what was not used). */
  has(path: readonly (string | number)[]): boolean
}

/** The keys an environment may have: another key directly in it may be a misspelt context or namespace. */
const ENVIRONMENT_KEYS = new Set(Object.keys(skycapSchema.properties.environments.additionalProperties.properties))

/** The keys of an environment that say where it is, and whether it asks before it is changed. */
const CONNECTION_KEYS = ['context', 'namespace', 'protected'] as const

/**
 * The app and environments of skycap.yaml text that failed validation, or undefined when they cannot be read
 * unambiguously: a YAML syntax error before the end of `app:`, `defaultEnvironment:` or `environments:` (what
 * follows an error may be read other than meant; what comes before it cannot be), one of those keys written twice,
 * or an app name the schema refuses. An environment's block is checked when it is asked for (environment()).
 */
export async function readConnection(text: string): Promise<ConnectionRead | undefined> {
  const {parseDocument, isMap, isScalar} = await import('yaml')
  const doc = parseDocument(text, {uniqueKeys: false, merge: true, prettyErrors: false})
  const top = doc.contents
  if (!isMap(top)) return undefined
  const pairsOf = (map: import('yaml').YAMLMap, key: string) => map.items.filter((p) => isScalar(p.key) && String(p.key.value) === key)
  const read = ['app', 'environments', 'defaultEnvironment'].map((key) => pairsOf(top, key))
  if (read.some((pairs) => pairs.length > 1)) return undefined
  const end = Math.max(...read.flat().map((p) => (p.value as {range?: number[]} | null)?.range?.[1] ?? 0))
  const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED')]
  if (problems.some((e) => e.pos[0] <= end)) return undefined
  let data: Record<string, unknown>
  try {
    data = doc.toJS() as Record<string, unknown>
  } catch {
    return undefined // an alias to nowhere, aliases that expand too far
  }
  const {app, environments, defaultEnvironment} = data
  if (typeof app !== 'string' || !isRecord(environments)) return undefined
  await loadValidator()
  const envNode = read[1]?.[0]?.value
  return {
    app,
    ...(typeof defaultEnvironment === 'string' ? {defaultEnvironment} : {}),
    environmentNames: Object.keys(environments),
    environment(name) {
      const block = Object.hasOwn(environments, name) ? environments[name] : undefined
      if (!isRecord(block) || !isMap(envNode) || pairsOf(envNode, name).length !== 1) return undefined
      const node = pairsOf(envNode, name)[0]?.value
      if (isMap(node) && CONNECTION_KEYS.some((key) => pairsOf(node, key).length > 1)) return undefined
      if (Object.keys(block).some((key) => !ENVIRONMENT_KEYS.has(key))) return undefined
      const connection = Object.fromEntries(CONNECTION_KEYS.filter((key) => block[key] !== undefined).map((key) => [key, block[key]]))
      // The schema's own rules for what is read (a DNS-label app and namespace, a context, a boolean protected), on a
      // file of just those and a placeholder service.
      const problems = validateAgainstSchema({app, services: {s: {image: 's'}}, environments: {[name]: connection}})
      return problems.length ? undefined : (connection as unknown as EnvironmentConfig)
    },
    has: (path) => doc.hasIn(path),
  }
}

/** The warning of a command that went on with the connection only: the file's first problem, what it used. */
export function connectionOnlyWarning(options: {command: string; environment: string; file: string; errors: ConfigError[]; notUsed?: string[]}): string {
  const [first] = options.errors
  // The first problem as the file's error says it, without its list of the keys allowed there (29 of a service's):
  // `skycap config validate` has it whole.
  const problem = first?.message.replace(/; allowed keys: .*$/s, '')
  const more = options.errors.length > 1 ? ` (and ${options.errors.length - 1} more problem${options.errors.length > 2 ? 's' : ''})` : ''
  const notUsed = options.notUsed?.length ? ` Not used: ${options.notUsed.join('; ')}.` : ''
  return (
    `${options.file} is invalid: ${problem ?? 'it fails validation'}${more}. ${options.command} used only its app, and environment ${options.environment}'s context, namespace and protected.` +
    `${notUsed} Fix the file before the next deploy (\`skycap config validate\` lists every problem).`
  )
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
