import {Args} from '@oclif/core'

import {status} from '../src/deploy/inspect.js'
import {statusTable} from '../src/ui/tables.js'
import {environmentFlag, environmentOf} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class Status extends SkycapCommand {
  static override summary = 'Per service: the revision deployed, ready/desired replicas, age, and the last release.'
  static override examples = ['<%= config.bin %> status prod', '<%= config.bin %> status --json']
  static override args = {environment: Args.string({description: 'Environment (default: SKYCAP_ENV or defaultEnvironment)'})}
  static override flags = {env: environmentFlag}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Status)
    const result = await status({environment: environmentOf(args.environment, flags.env), configPath: flags.config}, this.kubectlFactory(), this.reporter())
    if (!this.jsonEnabled()) this.log(statusTable(result))
    return result
  }
}
