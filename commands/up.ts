import {Args, Flags} from '@oclif/core'

import {workTreeBuilds} from '../src/local/images.js'
import {toolRunner} from '../src/local/tool.js'
import {up} from '../src/local/up.js'
import {UserError} from '../src/errors.js'
import {useColour} from '../src/ui/output.js'
import {environmentOf, localEnvironmentFlag} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class Up extends SkycapCommand {
  static override summary = 'Run the whole app locally: a cluster, the work tree built, deployed, forwarded, its logs.'
  static override description =
    "ENV defaults to `local`, derived when skycap.yaml has none (namespace <app>-local, one replica, never protected). Uses the environment's context, else a running local cluster (kind, k3d, minikube, Docker Desktop, ...), else creates one. See docs/local.md."
  static override examples = ['<%= config.bin %> up', '<%= config.bin %> up --detach', '<%= config.bin %> up --watch', '<%= config.bin %> up --cluster kind --port web=8081']
  static override args = {environment: Args.string({description: 'Environment (default: local)'})}
  static override flags = {
    env: localEnvironmentFlag,
    cluster: Flags.string({description: 'kind, k3d, minikube or ctlptl (use or create one), or a kube context.'}),
    detach: Flags.boolean({char: 'd', description: 'Return once the app is up; forwards keep running until `skycap down`.'}),
    watch: Flags.boolean({char: 'w', description: 'Rebuild and redeploy when skycap.yaml, a template, a config folder or a build input changes.'}),
    port: Flags.string({description: 'Local port of a service, SERVICE=PORT (repeatable; default: the service port, or the next free one).', multiple: true, multipleNonGreedy: true}),
    timeout: Flags.string({description: 'Time limit of the deploy phase (default: deploy.timeout or 10m).'}),
    'skip-image-check': Flags.boolean({description: 'Do not ask the registries whether the images up did not build exist.'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Up)
    // --detach returns once the app is up; --watch stays to rebuild: --watch was dropped without a word (exit 0).
    if (flags.detach && flags.watch)
      throw new UserError('--detach returns once the app is up, and --watch stays to rebuild on changes: give one of them; nothing was started', {
        hint: 'skycap up --watch (stays, Ctrl-C stops), or skycap up --detach (returns; skycap down stops).',
      })
    // --json prints one document: the app stays up in the background, as with --detach.
    if (this.jsonEnabled() && flags.watch) throw new UserError('--watch streams changes and logs; it cannot print one --json document', {hint: 'Drop --json, or use --detach --json.'})
    const verbose = this.argv.includes('--verbose')
    const report = await up(
      {
        environment: environmentOf(args.environment, flags.env),
        configPath: flags.config,
        cluster: flags.cluster,
        detach: flags.detach || this.jsonEnabled(),
        watch: flags.watch,
        ports: flags.port,
        timeout: flags.timeout,
        skipImageCheck: flags['skip-image-check'],
      },
      {
        kubectl: this.kubectlFactory(),
        tools: toolRunner(verbose ? {trace: (argv) => process.stderr.write(`$ ${argv.join(' ')}\n`)} : {}),
        images: workTreeBuilds,
        reporter: this.reporter(),
        out: process.stdout,
        colour: useColour(process.stdout),
        confirm: this.confirmer(),
        signal: this.abortOnSignals('stopping; what is already deployed keeps running'),
      },
    )
    if (report.detached) for (const u of report.urls) this.log(`${u.service} ${u.url}`)
    return report
  }
}
