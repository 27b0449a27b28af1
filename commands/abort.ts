import {Args} from '@oclif/core'

import {requestRollout} from '../src/strategies/control.js'
import {requestLine} from '../src/ui/rollout.js'
import {environmentAndService, environmentFlag} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class Abort extends SkycapCommand {
  static override summary = 'Abort a canary in progress: every replica back to stable, the canary removed, from any machine.'
  static override examples = ['<%= config.bin %> abort prod', '<%= config.bin %> abort prod web']
  static override args = {
    environment: Args.string({description: 'Environment (default: SKYCAP_ENV or defaultEnvironment)'}),
    service: Args.string({description: 'Only this service (default: every canary in progress)'}),
  }
  static override flags = {env: environmentFlag}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Abort)
    const result = await requestRollout(
      'abort',
      {...environmentAndService(args, flags.env), configPath: flags.config},
      {kubectl: this.kubectlFactory(), reporter: this.reporter(), signal: this.abortOnSignals()},
    )
    this.log(requestLine(result))
    return result
  }
}
