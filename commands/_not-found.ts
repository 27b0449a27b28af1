import type {Hook, Interfaces} from '@oclif/core'

import {UserError} from '../src/errors.js'
import {closest} from '../src/suggest.js'

/** The visible command ids and topics, in words (`lock acquire`, `lock`), for suggestions. */
function knownCommands(config: Interfaces.Config): string[] {
  const ids = config.commands.filter((c) => !c.hidden && !c.id.startsWith('_')).flatMap((c) => [c.id, ...c.aliases])
  return [...ids, ...config.topics.filter((t) => !t.hidden).map((t) => t.name)].map((id) => id.replaceAll(':', ' '))
}

/**
 * "deplyo is not a skycap command; did you mean skycap deploy?" (exit 2). oclif joins every word into the id
 * (`deplyo prod` → "deplyo:prod"), so the command is looked for in the first two words, then the first.
 */
export function unknownCommandError(config: Interfaces.Config, id: string): UserError {
  const words = id.split(/[: ]/)
  // `config validate extra`: a command of a topic that takes no arguments, and a word after it (it said "config
  // validate is not a skycap command").
  for (const n of [2, 1]) {
    const command = words.length > n ? config.findCommand(words.slice(0, n).join(':')) : undefined
    if (command && Object.keys(command.args ?? {}).length === 0) return takesNoArguments(config, words.slice(0, n).join(' '), words[n] as string)
  }
  const known = knownCommands(config)
  for (let n = Math.min(words.length, 2); n >= 1; n--) {
    const typed = words.slice(0, n).join(' ')
    const suggestion = closest(
      typed,
      known.filter((k) => k.split(' ').length === n),
    )
    if (suggestion) return notACommand(config, typed, suggestion)
  }
  const topic = words.length > 1 && known.includes(words[0] as string)
  return notACommand(config, words.slice(0, topic ? 2 : 1).join(' '))
}

function notACommand(config: Interfaces.Config, typed: string, suggestion?: string): UserError {
  const [first, second] = typed.split(' ')
  const command = second === undefined ? undefined : config.findCommand(first as string)
  // `version extra`, `down foo`: oclif reads a word after a command that takes no arguments as part of its id.
  if (command && !suggestion && Object.keys(command.args ?? {}).length === 0) return takesNoArguments(config, first as string, second as string)
  // `lock bogus`: the topic's own commands, not the whole list.
  const topic = second === undefined || command || suggestion ? undefined : topicCommands(config, first as string)
  return new UserError(`${typed} is not a ${config.bin} command${suggestion ? `; did you mean ${config.bin} ${suggestion}?` : ''}`, {
    hint: topic?.length ? `${first}'s commands: ${topic.join(', ')} (\`${config.bin} ${first} --help\`).` : `Run \`${config.bin} --help\` for the list of commands.`,
    details: {command: typed, ...(suggestion ? {suggestion} : {})},
  })
}

function takesNoArguments(config: Interfaces.Config, command: string, argument: string): UserError {
  return new UserError(`${config.bin} ${command} takes no arguments; ${argument} is not one`, {
    hint: `Run \`${config.bin} ${command} --help\` for what it takes.`,
    details: {command, argument},
  })
}

/** The visible commands of a topic, in words (`lock acquire`, `lock release`, `lock status`); empty for no topic. */
export function topicCommands(config: Interfaces.Config, topic: string): string[] {
  return config.commands
    .filter((c) => !c.hidden && c.id.startsWith(`${topic}:`))
    .map((c) => c.id.replaceAll(':', ' '))
    .sort()
}

/**
 * `skycap lock --bogus`, `skycap config -q`: a topic given flags but no command. oclif printed the topic's help and
 * exited 0, so a script that typed it went on as if it had worked. Undefined for anything else (help flags included).
 */
export function topicWithoutCommandError(config: Interfaces.Config, id: string, argv: string[]): UserError | undefined {
  if (argv.length === 0 || config.findCommand(id) || !config.findTopic(id)) return undefined
  const own = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv
  if (own.some((a) => a === '--help' || a === '-h')) return undefined
  const commands = topicCommands(config, id)
  return new UserError(`${id} ${argv.join(' ')}: ${id} is a group of commands; name one of them first: ${commands.join(', ')}`, {
    hint: `Run \`${config.bin} ${id} --help\` for what each does.`,
    details: {topic: id, commands},
  })
}

/** The error on stderr, or one JSON document with --json. */
export function printError(error: UserError, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ok: false, exitCode: error.exitCode, error: {code: error.code, message: error.message, hint: error.hint, details: error.details}}, null, 2)}\n`)
  } else {
    process.stderr.write(`Error: ${error.message}\n  ${error.hint}\n`)
  }
}

/**
 * Flags typed before the command (`skycap --json deploy staging`, `skycap --config x.yaml status`): oclif takes the
 * first flag for the command's name. Said so, with the command line as skycap reads it.
 */
export function flagsFirstError(config: Interfaces.Config, words: string[]): UserError | undefined {
  if (!words[0]?.startsWith('-')) return undefined
  const known = new Set(knownCommands(config))
  for (let i = 1; i < words.length; i++) {
    const n = known.has(`${words[i]} ${words[i + 1]}`) ? 2 : known.has(words[i] as string) ? 1 : 0
    if (n === 0) continue
    const command = words.slice(i, i + n)
    const rest = words.slice(i + n)
    const dashes = rest.indexOf('--')
    const own = dashes === -1 ? rest : rest.slice(0, dashes)
    const after = dashes === -1 ? [] : rest.slice(dashes)
    const line = [config.bin, ...command, ...own, ...words.slice(0, i), ...after].join(' ')
    return new UserError(`flags go after the command: ${words.slice(0, i).join(' ')} came before ${command.join(' ')}`, {
      hint: `Run \`${line}\`.`,
      details: {command: command.join(' '), flags: words.slice(0, i)},
    })
  }
  return undefined
}

/** oclif's command_not_found hook: the suggestion on stderr, or one JSON document with --json; exit 2. */
const hook: Hook<'command_not_found'> = async function ({argv, config, id}) {
  const error = flagsFirstError(config, [id, ...(argv ?? [])]) ?? unknownCommandError(config, id)
  printError(error, id === '--json' || (argv?.includes('--json') ?? false))
  this.exit(error.exitCode)
}

export default hook
