import {Args, Flags} from '@oclif/core'

import {history} from '../src/deploy/inspect.js'
import {historyTable} from '../src/ui/tables.js'
import {environmentFlag, environmentOf} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class History extends SkycapCommand {
  static override summary = "List an environment's releases (kept in the cluster), newest first."
  static override examples = ['<%= config.bin %> history prod', '<%= config.bin %> history prod -n 5', '<%= config.bin %> history staging --json']
  static override args = {environment: Args.string({description: 'Environment (default: SKYCAP_ENV or defaultEnvironment)'})}
  static override flags = {
    env: environmentFlag,
    limit: Flags.integer({char: 'n', min: 1, description: 'Show only the newest N entries (history.keep decides how many are kept).'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(History)
    const result = await history({environment: environmentOf(args.environment, flags.env), configPath: flags.config, limit: flags.limit}, this.kubectlFactory(), this.reporter())
    if (!this.jsonEnabled()) {
      this.log(historyTable(result.releases))
      if (result.more) this.logToStderr(`${result.more} older ${result.more === 1 ? 'entry' : 'entries'} not shown (-n ${flags.limit})`)
    }
    return result
  }
}
