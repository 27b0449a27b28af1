import type {AppNames} from '../config/names.js'

export {type AppNames, appNames} from '../config/names.js'

/** A flag as completion sees it: its names, and whether a value follows it. */
export interface CompletionFlag {
  name: string
  char?: string
  aliases?: string[]
  takesValue: boolean
  options?: readonly string[]
  description?: string
}

/** A command as completion sees it: its id in words (`lock acquire`), its positional argument names and flags. */
export interface CompletionCommand {
  id: string
  summary?: string
  args: string[]
  /** The values an argument can take, where it has a fixed list (`completion bash|zsh|fish`). */
  argOptions?: Record<string, readonly string[]>
  /** Takes any number of its last argument (`logs web worker`). */
  variadic?: boolean
  flags: CompletionFlag[]
}

/** A topic as completion sees it: its words (`lock`) and its description (oclif.topics in package.json). */
export interface CompletionTopic {
  id: string
  summary?: string
}

export interface Candidate {
  value: string
  description?: string
}

/** What the shell should offer: these words, or file names (the value of --config, --output-dir, --dir). */
export type Completion = {kind: 'words'; candidates: Candidate[]} | {kind: 'files'}

const NOTHING: Completion = {kind: 'words', candidates: []}
const HELP: Candidate = {value: '--help', description: 'Show help'}
/** What `skycap` itself takes before a command. */
const ROOT_FLAGS: Candidate[] = [HELP, {value: '--version', description: 'Show the version'}]
const FILE_FLAGS = new Set(['config', 'output-dir', 'dir'])

/**
 * The candidates for the last of `words` (the words typed after `skycap`; the last is the one being completed, maybe
 * empty): command and topic words, flags of the command, environment names where an environment goes (the first
 * argument, ENV of ENV@REV, -e), service names where a service goes. `names` reads skycap.yaml (from --config when
 * typed) only when a name is wanted.
 */
export async function complete(commands: CompletionCommand[], words: string[], names: (configPath?: string) => Promise<AppNames>, topics: CompletionTopic[] = []): Promise<Completion> {
  const current = words.at(-1) ?? ''
  const before = words.slice(0, -1)
  const found = findCommand(commands, before)
  if (!found) {
    if (before.some((w) => w.startsWith('-'))) return NOTHING
    // `skycap --` offered the commands (which no shell shows for a word starting with -): the root's flags, or a topic's --help.
    if (current.startsWith('-')) return {kind: 'words', candidates: before.length ? [HELP] : ROOT_FLAGS}
    return {kind: 'words', candidates: commandWords(commands, topics, before)}
  }
  const {command, used} = found
  const rest = before.slice(used)
  if (command.id === 'help') return rest.some((w) => w.startsWith('-')) ? NOTHING : {kind: 'words', candidates: commandWords(commands, topics, rest)}

  const positionals: string[] = []
  const values: Record<string, string> = {}
  let pending: CompletionFlag | undefined
  for (const word of rest) {
    if (pending) {
      values[pending.name] = word
      pending = undefined
    } else if (word === '--') {
      // `skycap run web -- COMMAND`: what follows is the command's own.
      return NOTHING
    } else if (word.startsWith('-') && word.length > 1) {
      const flag = flagOf(command, word)
      if (flag?.takesValue && !word.includes('=')) pending = flag
      else if (flag && word.includes('=')) values[flag.name] = word.slice(word.indexOf('=') + 1)
      else if (flag) values[flag.name] = ''
    } else {
      positionals.push(word)
    }
  }
  const appNames = () => names(values.config === undefined ? undefined : shellWord(values.config))
  if (pending) return flagValues(pending, appNames)
  if (current.startsWith('-') && current.includes('=')) return flagValuesInWord(command, current, appNames)
  if (current.startsWith('-')) return {kind: 'words', candidates: flagCandidates(command)}
  return {kind: 'words', candidates: await argumentValues(command, positionals.length, values, current, appNames)}
}

/**
 * A word as the shell would pass it to the command: bash and zsh hand completion the typed text, quotes and
 * backslashes included (`my\ app/skycap.yaml`, `"my app/skycap.yaml"`), and a leading `~` unexpanded.
 */
export function shellWord(typed: string): string {
  let out = ''
  let quote: '"' | "'" | undefined
  for (let i = 0; i < typed.length; i++) {
    const c = typed[i] as string
    if (quote === "'") {
      if (c === "'") quote = undefined
      else out += c
    } else if (c === '\\' && i + 1 < typed.length && (quote === undefined || '"\\$`'.includes(typed[i + 1] as string))) {
      out += typed[++i]
    } else if (c === quote) {
      quote = undefined
    } else if (quote === undefined && (c === '"' || c === "'")) {
      quote = c
    } else {
      out += c
    }
  }
  const home = process.env.HOME
  return home && (typed === '~' || typed.startsWith('~/')) ? `${home}${out.slice(1)}` : out
}

/** The longest run of leading words that names a command, and how many words that is. */
function findCommand(commands: CompletionCommand[], words: string[]): {command: CompletionCommand; used: number} | undefined {
  for (let n = words.length; n > 0; n--) {
    const id = words.slice(0, n).join(' ')
    const command = commands.find((c) => c.id === id)
    if (command) return {command, used: n}
  }
  return undefined
}

/**
 * The words that can follow `typed` on the way to a command: `lock` → acquire, release, status; each with the
 * summary of its command, or the description of its topic (`lock`).
 */
function commandWords(commands: CompletionCommand[], topics: CompletionTopic[], typed: string[]): Candidate[] {
  const prefix = typed.length ? `${typed.join(' ')} ` : ''
  const seen = new Map<string, Candidate>()
  for (const command of commands) {
    if (!command.id.startsWith(prefix)) continue
    const next = command.id.slice(prefix.length).split(' ')[0] as string
    const isCommand = command.id === prefix + next
    const summary = isCommand ? command.summary : topics.find((t) => t.id === prefix + next)?.summary
    if (!seen.has(next) || isCommand) seen.set(next, {value: next, ...(summary ? {description: summary} : {})})
  }
  return [...seen.values()]
}

function flagOf(command: CompletionCommand, word: string): CompletionFlag | undefined {
  if (word.startsWith('--')) {
    const name = word.slice(2).replace(/=.*$/, '')
    return command.flags.find((f) => f.name === name || f.aliases?.includes(name))
  }
  // -e, or a run of short flags (-it) whose last one may take the next word.
  const char = word.slice(1).replace(/=.*$/, '').at(-1)
  return command.flags.find((f) => f.char === char)
}

function flagCandidates(command: CompletionCommand): Candidate[] {
  // An alias is offered too (`--environment`, the long spelling of --env), after the flag's own name.
  const flags = command.flags.flatMap((f) => [f.name, ...(f.aliases ?? [])].map((name) => ({value: `--${name}`, ...(f.description ? {description: firstSentence(f.description)} : {})})))
  return [...flags, HELP]
}

async function flagValues(flag: CompletionFlag, names: () => Promise<AppNames>): Promise<Completion> {
  if (FILE_FLAGS.has(flag.name)) return {kind: 'files'}
  if (flag.options) return {kind: 'words', candidates: flag.options.map((value) => ({value}))}
  if (flag.name === 'env') return {kind: 'words', candidates: environments(await names())}
  if (flag.name === 'service') return {kind: 'words', candidates: services(await names())}
  return NOTHING
}

/**
 * `--env=st`, `-e=st`: the values of the flag, each as the whole word (`--env=staging`), or files. A flag that takes
 * no value, or an unknown one, completes nothing.
 */
async function flagValuesInWord(command: CompletionCommand, current: string, names: () => Promise<AppNames>): Promise<Completion> {
  const flag = flagOf(command, current)
  if (!flag?.takesValue) return NOTHING
  const result = await flagValues(flag, names)
  if (result.kind === 'files') return result
  const prefix = current.slice(0, current.indexOf('=') + 1)
  return {kind: 'words', candidates: result.candidates.map((c) => ({...c, value: prefix + c.value}))}
}

/**
 * The values of positional argument `index`. With -e given, an `[ENV] [SERVICE]` command's first argument is the
 * service (see commands/_environment.ts), so names shift by one.
 */
async function argumentValues(command: CompletionCommand, index: number, given: Record<string, string>, current: string, names: () => Promise<AppNames>): Promise<Candidate[]> {
  const environmentFlag = given.env !== undefined
  const shift = environmentFlag && command.args[0] === 'environment' && command.args[1] !== undefined ? 1 : 0
  const last = command.args.length - 1
  const name = command.args[index + shift] ?? (command.variadic && index + shift > last ? command.args[last] : undefined)
  const options = name === undefined ? undefined : command.argOptions?.[name]
  if (options) return options.map((value) => ({value}))
  if (name === 'environment') return environmentFlag ? [] : environments(await names())
  if (name === 'service') return services(await names())
  // ENV or ENV@REV: the environment part (revisions are left to the user). build's bare word is a revision, so its
  // environments come as ENV@HEAD, a whole target (with --work-tree, where the word is the environment, as ENV).
  if (name === 'target' && !current.includes('@') && !environmentFlag) {
    if (command.id === 'build' && given['work-tree'] === undefined) return environments(await names()).map((c) => ({value: `${c.value}@HEAD`, description: `environment ${c.value} at HEAD`}))
    return environments(await names())
  }
  return []
}

const environments = (names: AppNames): Candidate[] => names.environments.map((value) => ({value, description: 'environment'}))
const services = (names: AppNames): Candidate[] => names.services.map((value) => ({value, description: 'service'}))
const firstSentence = (text: string): string => (text.split(/\.\s+(?=[A-Z])/)[0] as string).replace(/\.$/, '')
