import {Args, Flags} from '@oclif/core'

import {BUILDER_NAMES, type BuilderName} from '../src/build/builder.js'
import {deploy} from '../src/deploy/deploy.js'
import {QuitAtOnce} from '../src/release/quit-at-once.js'
import {DEPLOY_QUIT_NOTE, quitNote} from './_quit-note.js'
import {environmentFlag, targetOf} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class Deploy extends SkycapCommand {
  static override summary = 'Deploy ENV at a revision: validate, lock, apply, watch, explain failures, roll back.'
  static override description =
    'Nothing in the cluster changes before validation passes (config, revision, render, kube context, server dry run, images). Exit codes: 0 deployed, 1 failed (rolled back), 2 invalid input (also a revision requireChecks refuses), 3 locked, 4 unreachable (also the GitHub API), 70 timed out, 130 interrupted.'
  static override examples = [
    '<%= config.bin %> deploy staging',
    '<%= config.bin %> deploy prod@v1.4.0 --yes --timeout 10m',
    '<%= config.bin %> deploy prod@3f2c1ab --dry-run',
    '<%= config.bin %> deploy staging@HEAD --wait-for-lock 5m --json',
  ]
  static override args = {target: Args.string({description: 'ENV or ENV@REV (default: defaultEnvironment at HEAD)'})}
  static override flags = {
    env: environmentFlag,
    yes: Flags.boolean({char: 'y', description: 'Do not ask for confirmation on protected environments (CI).'}),
    'dry-run': Flags.boolean({description: 'Validate everything (including a server dry run) and change nothing.'}),
    timeout: Flags.string({description: 'Time limit for the whole deploy, e.g. 90s, 10m (default: deploy.timeout or 10m). Exit 70 when exceeded.'}),
    'wait-for-lock': Flags.string({description: 'Wait up to this long for another deploy to finish instead of exiting 3.'}),
    'skip-image-check': Flags.boolean({description: 'Do not ask the registry whether the images exist.'}),
    'no-rollback': Flags.boolean({description: 'Leave a failed rollout as it is instead of rolling back.'}),
    'reset-replicas': Flags.boolean({description: "Set every Deployment's replicas to skycap.yaml's, undoing skycap scale."}),
    reason: Flags.string({description: 'Why: in the lock while it runs (default: "deploy ENV@SHA"), and in the release\'s record (history).'}),
    build: Flags.boolean({description: "Build and push the revision's images first (skipped when the registry has them), as skycap build does."}),
    builder: Flags.string({description: 'With --build: the builder tool (default: buildx, else docker, else podman).', options: [...BUILDER_NAMES], dependsOn: ['build']}),
    jobs: Flags.integer({description: 'With --build: builds at once.', min: 1, dependsOn: ['build']}),
    'skip-hooks': Flags.boolean({description: 'Do not run the predeploy/postdeploy hooks (recorded in the release).'}),
    'ignore-checks': Flags.boolean({description: "Deploy even when requireChecks would refuse the revision's GitHub checks (recorded in the release)."}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Deploy)
    this.forceQuitNote = DEPLOY_QUIT_NOTE
    // A second Ctrl-C records the release and releases the lock first (it left the release unrecorded, the lock held).
    const quitAtOnce = new QuitAtOnce()
    this.beforeQuit = () => quitAtOnce.quit()
    const report = await deploy(
      {
        target: await targetOf(args.target, flags.env, flags.config),
        configPath: flags.config,
        yes: flags.yes,
        dryRun: flags['dry-run'],
        timeout: flags.timeout,
        waitForLock: flags['wait-for-lock'],
        skipImageCheck: flags['skip-image-check'],
        noRollback: flags['no-rollback'],
        resetReplicas: flags['reset-replicas'],
        reason: flags.reason,
        build: flags.build ? {builder: flags.builder as BuilderName | undefined, jobs: flags.jobs} : undefined,
        skipHooks: flags['skip-hooks'],
        ignoreChecks: flags['ignore-checks'],
      },
      {
        kubectl: this.kubectlFactory(),
        reporter: this.reporter(),
        confirm: this.confirmer(),
        ...this.noQuestions(),
        signal: this.abortOnSignals(),
        buildOutput: this.buildOutput(),
        // A second Ctrl-C during a hook quits before the release is recorded: the Job it leaves running is named.
        onHookJob: (hookNote) => {
          this.forceQuitNote = hookNote === undefined ? DEPLOY_QUIT_NOTE : (done) => `${hookNote}; ${quitNote(done)}`
        },
        quitAtOnce,
      },
    )
    this.log(`${report.result === 'planned' ? 'would deploy' : 'deployed'} ${report.app} ${report.environment}@${report.revision.short}${report.release ? ` as release ${report.release}` : ''}`)
    return report
  }
}
