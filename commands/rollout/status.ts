import {Args} from '@oclif/core'

import {rolloutStatus} from '../../src/strategies/control.js'
import {rolloutStatusLines} from '../../src/ui/rollout.js'
import {environmentAndService, environmentFlag} from '../_environment.js'
import {SkycapCommand} from '../_base.js'

export default class RolloutStatus extends SkycapCommand {
  static override summary = 'Where the blue-green and canary rollouts of ENV stand: slots, weight, step, pause, lock.'
  static override examples = ['<%= config.bin %> rollout status prod', '<%= config.bin %> rollout status prod web --json']
  static override args = {
    environment: Args.string({description: 'Environment (default: SKYCAP_ENV or defaultEnvironment)'}),
    service: Args.string({description: 'Only this service'}),
  }
  static override flags = {env: environmentFlag}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(RolloutStatus)
    const result = await rolloutStatus({...environmentAndService(args, flags.env), configPath: flags.config}, {kubectl: this.kubectlFactory(), reporter: this.reporter()})
    this.log(rolloutStatusLines(result))
    return result
  }
}
