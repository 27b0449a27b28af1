import {Flags} from '@oclif/core'

import {scaffold} from '../src/init/scaffold.js'
import {SkycapCommand} from './_base.js'

export default class Init extends SkycapCommand {
  static override summary = 'Write a commented skycap.yaml, an example template and a config folder. Never overwrites.'
  static override examples = ['<%= config.bin %> init', '<%= config.bin %> init --app shop --dir ./shop']
  static override flags = {
    app: Flags.string({description: 'Application name (a DNS label); default: the folder name.'}),
    dir: Flags.string({description: 'Folder to write into (default: the current directory).', default: '.'}),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Init)
    const result = scaffold(flags.dir, flags.app)
    for (const f of result.written) this.log(`created ${f}`)
    for (const f of result.skipped) this.logToStderr(`skipped ${f} (exists)`)
    this.logToStderr(`Next: commit, then \`skycap render staging\` to see what staging would get.`)
    return result
  }
}
