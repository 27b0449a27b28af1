import {Args, Flags} from '@oclif/core'

import {nothingToRollBackLine, rollback} from '../src/deploy/rollback.js'
import {QuitAtOnce} from '../src/release/quit-at-once.js'
import {DEPLOY_QUIT_NOTE} from './_quit-note.js'
import {environmentFlag, environmentOf} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class Rollback extends SkycapCommand {
  static override summary = 'Re-apply the manifests of an earlier successful release, watched like a deploy.'
  static override examples = ['<%= config.bin %> rollback prod --yes', '<%= config.bin %> rollback staging --to 12', '<%= config.bin %> rollback staging --to 3f2c1ab']
  static override args = {environment: Args.string({description: 'Environment (default: SKYCAP_ENV or defaultEnvironment)'})}
  // `skycap rollback prod 41`: the release (or revision) to return to is --to's.
  static override unexpectedArgumentHint = (argument: string, argv: string[]) => {
    const before = argv[argv.indexOf(argument) - 1]
    const environment = before !== undefined && !before.startsWith('-') ? before : undefined
    return `The release or revision to return to goes with --to: skycap rollback ${environment ?? 'ENV'} --to ${argument}`
  }
  static override flags = {
    env: environmentFlag,
    to: Flags.string({description: 'Release number or revision (id prefix, or a branch, tag, bookmark, HEAD~N, .~N of the checkout) to return to (default: the previous successful release).'}),
    yes: Flags.boolean({char: 'y', description: 'Do not ask for confirmation on protected environments.'}),
    'dry-run': Flags.boolean({description: 'Validate and change nothing.'}),
    timeout: Flags.string({description: 'Time limit, e.g. 5m (default: deploy.timeout or 10m; exit 70 when exceeded).'}),
    'wait-for-lock': Flags.string({description: 'Wait up to this long for the lock.'}),
    'reset-replicas': Flags.boolean({description: "Restore the release's replica counts instead of keeping the live ones."}),
    'skip-image-check': Flags.boolean({description: "Do not ask the registry whether the release's images still exist."}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Rollback)
    // A second Ctrl-C records the rollback and releases the lock first (it left both, unrecorded and held).
    this.forceQuitNote = DEPLOY_QUIT_NOTE
    const quitAtOnce = new QuitAtOnce()
    this.beforeQuit = () => quitAtOnce.quit()
    const report = await rollback(
      {
        environment: environmentOf(args.environment, flags.env),
        to: flags.to,
        configPath: flags.config,
        yes: flags.yes,
        dryRun: flags['dry-run'],
        timeout: flags.timeout,
        waitForLock: flags['wait-for-lock'],
        resetReplicas: flags['reset-replicas'],
        skipImageCheck: flags['skip-image-check'],
      },
      {kubectl: this.kubectlFactory(), reporter: this.reporter(), confirm: this.confirmer(), ...this.noQuestions(), signal: this.abortOnSignals(), quitAtOnce},
    )
    if (report.result === 'unchanged') this.log(nothingToRollBackLine(report))
    // The release returned to, then the history entry of the rollback, as its progress line says them ("rolled back
    // prod to 84e59e9 (release 21)" read as if 21 were the release returned to).
    else {
      const to = report.rolledBackTo !== undefined ? `release ${report.rolledBackTo} (${report.revision.short})` : report.revision.short
      this.log(`${report.result === 'planned' ? 'would roll back' : 'rolled back'} ${report.environment} to ${to}${report.release ? ` as release ${report.release}` : ''}`)
    }
    return report
  }
}
