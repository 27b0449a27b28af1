import {Args, Flags} from '@oclif/core'

import {down} from '../src/local/down.js'
import {toolRunner} from '../src/local/tool.js'
import {environmentOf, localEnvironmentFlag} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class Down extends SkycapCommand {
  static override summary = 'Take away what `skycap up` made: its forwards, the namespace it created, with --cluster the cluster it created.'
  static override description = 'Never deletes a namespace or a cluster that existed before skycap up. See docs/local.md.'
  static override examples = ['<%= config.bin %> down', '<%= config.bin %> down --cluster']
  static override args = {environment: Args.string({description: 'Environment (default: local)'})}
  static override flags = {
    env: localEnvironmentFlag,
    cluster: Flags.boolean({description: 'Also delete the cluster skycap up created (never one it found).'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Down)
    const verbose = this.argv.includes('--verbose')
    const report = await down(
      {environment: environmentOf(args.environment, flags.env), configPath: flags.config, cluster: flags.cluster},
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
