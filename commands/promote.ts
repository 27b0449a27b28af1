import {Args, Flags} from '@oclif/core'

import {requestRollout} from '../src/strategies/control.js'
import {requestLine} from '../src/ui/rollout.js'
import {environmentAndService, environmentFlag} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class Promote extends SkycapCommand {
  static override summary = 'End the pause of a canary (or, with --full, skip its remaining steps), from any machine.'
  static override examples = ['<%= config.bin %> promote prod', '<%= config.bin %> promote prod web --full']
  static override args = {
    environment: Args.string({description: 'Environment (default: SKYCAP_ENV or defaultEnvironment)'}),
    service: Args.string({description: 'Only this service (default: every canary in progress)'}),
  }
  static override flags = {env: environmentFlag, full: Flags.boolean({description: 'Skip the remaining steps: promote the release to stable now.'})}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Promote)
    const result = await requestRollout(
      'promote',
      {...environmentAndService(args, flags.env), configPath: flags.config, full: flags.full},
      {kubectl: this.kubectlFactory(), reporter: this.reporter(), signal: this.abortOnSignals()},
    )
    this.log(requestLine(result))
    return result
  }
}
