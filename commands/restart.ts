import {Args, Flags} from '@oclif/core'

import {QuitAtOnce} from '../src/release/quit-at-once.js'
import {restart} from '../src/restart/restart.js'
import {DEPLOY_QUIT_NOTE} from './_quit-note.js'
import {environmentFlag} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class Restart extends SkycapCommand {
  static override summary = 'Replace the pods of services with new ones of the same release and wait until they are ready.'
  static override strict = false
  static override examples = ['<%= config.bin %> restart web api -e prod', 'SKYCAP_ENV=staging <%= config.bin %> restart', '<%= config.bin %> restart worker --dry-run']
  static override args = {service: Args.string({description: 'Service names (several allowed; default: every service that is deployed)'})}
  static override flags = {
    env: environmentFlag,
    'dry-run': Flags.boolean({description: 'Check and change nothing.'}),
    timeout: Flags.string({description: 'Time limit, e.g. 5m (default: deploy.timeout or 10m; exit 70 when exceeded).'}),
    'wait-for-lock': Flags.string({description: 'Wait up to this long for the lock.'}),
  }

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(Restart)
    // A second Ctrl-C records the restart and releases the lock first.
    this.forceQuitNote = DEPLOY_QUIT_NOTE
    const quitAtOnce = new QuitAtOnce()
    this.beforeQuit = () => quitAtOnce.quit()
    const report = await restart(
      {
        services: argv as string[],
        environment: flags.env,
        configPath: flags.config,
        dryRun: flags['dry-run'],
        timeout: flags.timeout,
        waitForLock: flags['wait-for-lock'],
      },
      {kubectl: this.kubectlFactory(), reporter: this.reporter(), signal: this.abortOnSignals(), quitAtOnce},
    )
    const names = report.services.map((s) => s.service).join(', ')
    if (report.result === 'unchanged') this.log(`nothing to restart in ${report.environment}; nothing was changed`)
    else this.log(`${report.result === 'planned' ? 'would restart' : 'restarted'} ${names} in ${report.environment}`)
    return report
  }
}
