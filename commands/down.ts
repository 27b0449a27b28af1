import {Args, Flags} from '@oclif/core'

import {LOCAL_ENVIRONMENT} from '../src/config/environment.js'
import {UserError} from '../src/errors.js'
import {down} from '../src/local/down.js'
import {toolRunner} from '../src/local/tool.js'
import {upRanFor} from '../src/local/state.js'
import {configFilePath} from '../src/config/load.js'
import {downEnvironment, downLine} from '../src/teardown/down.js'
import {QuitAtOnce} from '../src/release/quit-at-once.js'
import {environmentOf, localEnvironmentFlag} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class Down extends SkycapCommand {
  static override summary = 'Take an app out of an environment: what `skycap up` made (local), or everything a deploy made in ENV.'
  static override description =
    'Without ENV (or `local`): stop up’s forwards, delete the namespace it created, with --cluster the cluster it created (docs/local.md). With ENV: delete this app’s objects, hook and run Jobs, release records and rollout state in the environment’s namespace, under the deploy lock, after a confirmation (docs/deploy.md).'
  static override examples = ['<%= config.bin %> down', '<%= config.bin %> down --cluster', '<%= config.bin %> down qa --yes', '<%= config.bin %> down staging --dry-run']
  static override args = {environment: Args.string({description: 'Environment (default: local)'})}
  static override flags = {
    env: localEnvironmentFlag,
    cluster: Flags.boolean({description: 'Also delete the cluster skycap up created (never one it found; local only).'}),
    yes: Flags.boolean({description: 'Do not ask (needed without a terminal, for an environment other than local).'}),
    'dry-run': Flags.boolean({description: 'List what would be deleted and change nothing (not for local).'}),
    'wait-for-lock': Flags.string({description: 'Wait up to this long for the deploy lock (not for local).'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Down)
    const environment = environmentOf(args.environment, flags.env)
    // An environment skycap up brought up here (`skycap up dev`) is taken down as up's, as before.
    if (environment !== undefined && environment !== LOCAL_ENVIRONMENT && !upRanFor(configFilePath({configPath: flags.config}), environment)) {
      if (flags.cluster) throw new UserError(`--cluster is for skycap up's local environment, not ${environment}; nothing was changed`, {hint: `Run skycap down ${environment} without --cluster.`})
      const quitAtOnce = new QuitAtOnce()
      this.beforeQuit = () => quitAtOnce.quit()
      const report = await downEnvironment(
        {environment, configPath: flags.config, yes: flags.yes, dryRun: flags['dry-run'], waitForLock: flags['wait-for-lock']},
        {kubectl: this.kubectlFactory(), reporter: this.reporter(), confirm: this.confirmer(), ...this.noQuestions(), signal: this.abortOnSignals(), quitAtOnce},
      )
      this.log(downLine(report))
      return report
    }
    for (const flag of ['dry-run', 'wait-for-lock'] as const)
      if (flags[flag] !== undefined && flags[flag] !== false)
        throw new UserError(`--${flag} is for a deployed environment, not skycap up's local one; nothing was changed`, {hint: 'Run skycap down without it.'})
    const verbose = this.argv.includes('--verbose')
    const report = await down(
      {environment, configPath: flags.config, cluster: flags.cluster},
      {
        kubectl: this.kubectlFactory(),
        tools: toolRunner(verbose ? {trace: (argv) => process.stderr.write(`$ ${argv.join(' ')}\n`)} : {}),
        reporter: this.reporter(),
        signal: this.abortOnSignals('stopping; nothing is deleted unless it already was'),
      },
    )
    const removed = [
      ...(report.deletedNamespace ? [`namespace ${report.deletedNamespace}`] : []),
      ...(report.deletedObjectsIn ? [`its objects and records in namespace ${report.deletedObjectsIn}`] : []),
      ...(report.deletedCluster ? [`cluster ${report.deletedCluster}`] : []),
    ]
    this.log(
      `${report.app} ${report.environment}: ${removed.length ? `deleted ${removed.join(' and ')}` : 'nothing deleted'}; ${report.stoppedForwards.length} forward${report.stoppedForwards.length === 1 ? '' : 's'} stopped`,
    )
    return report
  }
}
