import {Args, Flags} from '@oclif/core'

import {QuitAtOnce} from '../src/release/quit-at-once.js'
import {scale} from '../src/scale/scale.js'
import {DEPLOY_QUIT_NOTE} from './_quit-note.js'
import {environmentFlag} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class Scale extends SkycapCommand {
  static override summary = 'Scale a service and wait until the pods are ready; later deploys keep the count.'
  static override examples = ['<%= config.bin %> scale web 5 -e prod', 'SKYCAP_ENV=staging <%= config.bin %> scale worker 0']
  // `skycap scale web=3` (kubectl scale's --replicas habit, or a docker compose --scale web=3): two words here.
  static override missingArgumentHint = (argv: string[]) => {
    const pair = argv.map((a) => /^([a-z0-9][a-z0-9-]*)=(\d+)$/.exec(a)).find(Boolean)
    return pair ? `Give the service and the count as two words: \`skycap scale ${pair[1]} ${pair[2]}\`.` : undefined
  }
  // `skycap scale 3` (the service left out) and `skycap scale worker 3 api 2` (two at once): said as such (the parser
  // said "Missing 1 required arg: replicas" and "Unexpected arguments: api, 2").
  static override argumentsError = (positional: string[], flags: string[]) => {
    const [first] = positional
    if (positional.length === 1 && first !== undefined && /^\d+$/.test(first)) {
      return {message: `${first} is not a service: give the service and the count`, hint: `\`skycap scale SERVICE ${first}\`, e.g. \`skycap scale web ${first}\`.`}
    }
    if (positional.length <= 2) return undefined
    const commands: string[] = []
    for (let i = 0; i < positional.length; i += 2) commands.push(['skycap scale', positional[i], positional[i + 1] ?? 'N', ...flags].join(' '))
    return {message: `scale takes one service at a time, not ${positional.join(' ')}`, hint: `Run one scale per service: ${commands.map((c) => `\`${c}\``).join(', then ')}.`}
  }
  static override args = {
    service: Args.string({description: 'Service name from skycap.yaml', required: true}),
    replicas: Args.string({description: 'Number of pods', required: true}),
  }
  static override flags = {
    env: environmentFlag,
    force: Flags.boolean({description: "Scale even when an HPA manages the service, or above the environment's maxReplicas."}),
    'dry-run': Flags.boolean({description: 'Check and change nothing.'}),
    timeout: Flags.string({description: 'Time limit, e.g. 5m (default: deploy.timeout or 10m; exit 70 when exceeded).'}),
    'wait-for-lock': Flags.string({description: 'Wait up to this long for the lock.'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Scale)
    // A second Ctrl-C records the scale and releases the lock first (it left both, unrecorded and held).
    this.forceQuitNote = DEPLOY_QUIT_NOTE
    const quitAtOnce = new QuitAtOnce()
    this.beforeQuit = () => quitAtOnce.quit()
    const report = await scale(
      {
        service: args.service,
        replicas: args.replicas,
        environment: flags.env,
        configPath: flags.config,
        force: flags.force,
        dryRun: flags['dry-run'],
        timeout: flags.timeout,
        waitForLock: flags['wait-for-lock'],
      },
      {kubectl: this.kubectlFactory(), reporter: this.reporter(), signal: this.abortOnSignals(), quitAtOnce},
    )
    if (report.result === 'unchanged') this.log(`${report.service} in ${report.environment} is already at ${report.to}; nothing was changed`)
    else this.log(`${report.result === 'planned' ? 'would scale' : 'scaled'} ${report.service} in ${report.environment} from ${report.from} to ${report.to}${report.hpa ? `; ${report.hpa.note}` : ''}`)
    return report
  }
}
