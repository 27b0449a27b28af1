import {Args, Flags} from '@oclif/core'

import {type LockCommandOptions, runLock} from '../../src/lock/run.js'
import {lockLine} from '../../src/ui/tables.js'
import {SkycapCommand} from '../_base.js'

/** The three `skycap lock` commands differ only in their action and summary. */
export function lockCommand(action: LockCommandOptions['action'], summary: string) {
  return class LockCommand extends SkycapCommand {
    static override summary = summary
    static override examples = [`<%= config.bin %> lock ${action} prod`]
    static override args = {environment: Args.string({description: 'Environment (default: SKYCAP_ENV or defaultEnvironment)'})}
    static override flags = {
      force: Flags.boolean({description: 'Release a lock someone else holds (release).'}),
      reason: Flags.string({description: 'Why (acquire).'}),
      duration: Flags.string({description: 'How long the lock holds (acquire; default 1h).'}),
    }

    async run(): Promise<unknown> {
      const {args, flags} = await this.parse(LockCommand)
      const result = await runLock(
        {action, environment: args.environment, configPath: flags.config, force: flags.force, reason: flags.reason, duration: flags.duration},
        this.kubectlFactory(),
        this.reporter(),
      )
      this.log(lockLine(result))
      return result
    }
  }
}
