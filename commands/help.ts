import {Args, loadHelpClass} from '@oclif/core'

import {UserError} from '../src/errors.js'
import {unknownCommandError} from './_not-found.js'
import {SkycapCommand} from './_base.js'

export default class Help extends SkycapCommand {
  static override summary = 'Show the help of a command (as COMMAND --help), or of skycap.'
  static override strict = false
  static override enableJsonFlag = false
  // Reads oclif's Config (its commands, topics and help options): runs through oclif's execute.
  static override runsWithoutOclifConfig = false
  static override examples = ['<%= config.bin %> help deploy', '<%= config.bin %> help lock acquire']
  static override args = {command: Args.string({description: 'The command, in words (several for lock, rollout and config commands)'})}

  async run(): Promise<void> {
    const {argv} = await this.parse(Help)
    const words = argv as string[]
    const id = words.join(':')
    if (words.length > 0 && !this.config.findCommand(id) && !this.config.findTopic(id)) {
      // `help lock acquire extra`: a command followed by words that are not part of any command's name.
      for (let n = words.length - 1; n > 0; n--) {
        const command = words.slice(0, n)
        if (!this.config.findCommand(command.join(':'))) continue
        throw new UserError(`help takes a command's name; "${words.slice(n).join(' ')}" is not part of ${this.config.bin} ${command.join(' ')}`, {
          hint: `Run \`${this.config.bin} help ${command.join(' ')}\` for that command's help.`,
        })
      }
      throw unknownCommandError(this.config, id)
    }
    const HelpClass = await loadHelpClass(this.config)
    await new HelpClass(this.config, this.config.pjson.oclif.helpOptions).showHelp(words)
  }
}
