import {Args} from '@oclif/core'

import {completionScript, SHELLS, type Shell} from '../src/completion/scripts.js'
import {SkycapCommand} from './_base.js'

export default class Completion extends SkycapCommand {
  static override summary = 'Print the shell completion script for bash, zsh or fish.'
  static override description = 'It completes commands, flags, and the environment and service names of the skycap.yaml found from the current directory (docs/completion.md).'
  static override examples = [
    '<%= config.bin %> completion bash >> ~/.bashrc    # or: eval "$(skycap completion bash)"',
    '<%= config.bin %> completion zsh > "${fpath[1]}/_skycap"',
    '<%= config.bin %> completion fish > ~/.config/fish/completions/skycap.fish',
  ]
  static override args = {shell: Args.string({description: 'The shell whose script to print', options: [...SHELLS], required: true})}

  async run(): Promise<unknown> {
    const {args} = await this.parse(Completion)
    const script = completionScript(args.shell as Shell, this.config.bin)
    if (!this.jsonEnabled()) process.stdout.write(script)
    return {shell: args.shell, script}
  }
}
