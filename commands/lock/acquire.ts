import {Args, Flags} from '@oclif/core'

import {runLock} from '../../src/lock/run.js'
import {lockLine} from '../../src/ui/tables.js'
import {SkycapCommand} from '../_base.js'

export default class LockAcquire extends SkycapCommand {
  static override summary = 'Take the deploy lock of ENV by hand (deploys exit 3 until released).'
  static override examples = ['<%= config.bin %> lock acquire prod']
  static override args = {environment: Args.string({description: 'Environment (default: SKYCAP_ENV or defaultEnvironment)'})}
  static override flags = {
    force: Flags.boolean({description: "Release a lock someone else holds."}),
    reason: Flags.string({description: 'Why (acquire).'}),
    duration: Flags.string({description: 'How long the lock holds (acquire; default 1h).'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(LockAcquire)
    const result = await runLock({action: 'acquire', environment: args.environment, configPath: flags.config, force: flags.force, reason: flags.reason, duration: flags.duration}, this.kubectlFactory(), this.reporter())
    this.log(lockLine(result))
    return result
  }
}
