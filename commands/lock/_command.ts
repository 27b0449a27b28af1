import {Args, Flags, type Interfaces} from '@oclif/core'

import {type LockCommandOptions, runLock} from '../../src/lock/run.js'
import {lockLine} from '../../src/ui/tables.js'
import {environmentFlag, environmentOf} from '../_environment.js'
import {SkycapCommand} from '../_base.js'

/** The flags only one `skycap lock` command takes: each command's help shows its own and no other's. */
export const LOCK_FLAGS = {
  acquire: {
    reason: Flags.string({description: 'Why, shown to whoever finds the environment locked.'}),
    duration: Flags.string({description: 'How long the lock holds, e.g. 30m (default 1h).'}),
  },
  release: {force: Flags.boolean({description: 'Release a lock someone else holds.'})},
  status: {},
} satisfies Record<LockCommandOptions['action'], Interfaces.FlagInput>

const EXAMPLE_FLAGS: Record<LockCommandOptions['action'], string> = {
  acquire: '-e prod --reason "database migration" --duration 30m',
  release: 'prod --force',
  status: '-e prod --json',
}

/** The three `skycap lock` commands differ only in their action, summary and own flags. */
export function lockCommand(action: LockCommandOptions['action'], summary: string) {
  return class LockCommand extends SkycapCommand {
    static override summary = summary
    static override examples = [`<%= config.bin %> lock ${action} prod`, `<%= config.bin %> lock ${action} ${EXAMPLE_FLAGS[action]}`]
    static override args = {environment: Args.string({description: 'Environment (default: SKYCAP_ENV or defaultEnvironment)'})}
    static override flags: Interfaces.FlagInput = {env: environmentFlag, ...LOCK_FLAGS[action]}

    async run(): Promise<unknown> {
      const {args, flags} = await this.parse(LockCommand)
      const own = flags as {env?: string; force?: boolean; reason?: string; duration?: string}
      const result = await runLock(
        {action, environment: environmentOf(args.environment, own.env), configPath: flags.config, force: own.force, reason: own.reason, duration: own.duration},
        this.kubectlFactory(),
        this.reporter(),
      )
      this.log(lockLine(result))
      return result
    }
  }
}
