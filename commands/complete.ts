import {Command, type Config} from '@oclif/core'

import {appNames, complete, type Completion, type CompletionCommand, type CompletionTopic} from '../src/completion/complete.js'

/**
 * What the completion scripts call (`skycap __complete -- WORDS…`): the candidates for the last word, one
 * `value<TAB>description` a line, or `:files`. Hidden; never fails loudly: any error completes nothing, exit 0.
 */
export default class Complete extends Command {
  static override hidden = true
  static override hiddenAliases = ['__complete']
  static override strict = false
  static override summary = 'Completion candidates for the last of WORDS (called by the completion scripts).'

  async run(): Promise<void> {
    try {
      const words = this.argv[0] === '--' ? this.argv.slice(1) : this.argv
      const result = await complete(commandsOf(this.config), words, (configPath) => appNames(process.cwd(), configPath), topicsOf(this.config))
      process.stdout.write(lines(result))
    } catch {
      // A broken completion must not print into the user's command line.
    }
  }
}

/** The visible commands and their flags, from oclif's manifest (no command module is loaded). */
function commandsOf(config: Config): CompletionCommand[] {
  return config.commands
    .filter((c) => !c.hidden && !c.id.startsWith('_'))
    .map((c) => ({
      id: c.id.replaceAll(':', ' '),
      summary: c.summary ?? c.description?.split('\n')[0],
      args: Object.keys(c.args ?? {}),
      argOptions: Object.fromEntries(Object.entries(c.args ?? {}).flatMap(([name, a]) => (a.options ? [[name, a.options]] : []))),
      variadic: c.strict === false,
      flags: Object.values(c.flags ?? {})
        .filter((f) => !f.hidden)
        .map((f) => ({
          name: f.name,
          char: f.char,
          aliases: f.aliases,
          takesValue: f.type === 'option',
          options: f.type === 'option' ? f.options : undefined,
          description: f.summary ?? f.description,
        })),
    }))
}

/** The visible topics (`lock`) and their descriptions, from oclif.topics in package.json. */
function topicsOf(config: Config): CompletionTopic[] {
  return config.topics.filter((t) => !t.hidden).map((t) => ({id: t.name.replaceAll(':', ' '), summary: t.description?.split('\n')[0]}))
}

function lines(result: Completion): string {
  if (result.kind === 'files') return ':files\n'
  return result.candidates.map((c) => (c.description ? `${c.value}\t${c.description.replaceAll(/\s+/g, ' ')}` : c.value)).join('\n') + (result.candidates.length ? '\n' : '')
}
