import {Args, Flags} from '@oclif/core'

import {resumeRollout} from '../../src/strategies/control.js'
import {resumeLine} from '../../src/ui/rollout.js'
import {environmentAndService, environmentFlag} from '../_environment.js'
import {SkycapCommand} from '../_base.js'

export default class RolloutResume extends SkycapCommand {
  static override summary = 'Continue a canary left mid-way (a CLI killed during a pause), and scale down old blue-green slots that are due.'
  static override examples = ['<%= config.bin %> rollout resume prod']
  static override args = {
    environment: Args.string({description: 'Environment (default: SKYCAP_ENV or defaultEnvironment)'}),
    service: Args.string({description: 'Only this service'}),
  }
  static override flags = {env: environmentFlag, 'wait-for-lock': Flags.string({description: "Wait this long for the lock (default 90s: a killed CLI's lock expires in 60s)."})}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(RolloutResume)
    const result = await resumeRollout(
      {...environmentAndService(args, flags.env), configPath: flags.config, waitForLock: flags['wait-for-lock']},
      {kubectl: this.kubectlFactory(), reporter: this.reporter(), signal: this.abortOnSignals()},
    )
    this.log(resumeLine(result))
    return result
  }
}
