import {Args, Flags} from '@oclif/core'

import {runRender} from '../src/render/run.js'
import {environmentFlag, targetOf} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class Render extends SkycapCommand {
  static override takesLock = false
  static override summary = 'Print the manifests an environment gets at a revision, without touching a cluster.'
  static override description = 'Renders Deployments, Services and ConfigMaps for every service, plus the repository templates (deploy/*.yaml, deploy/<env>/*.yaml), in apply order.'
  static override examples = [
    '<%= config.bin %> render staging',
    '<%= config.bin %> render prod@v1.4.0 --service web',
    '<%= config.bin %> render staging@HEAD~2 --output-dir out/',
    '<%= config.bin %> render prod@3f2c1ab --json | jq .result.images',
  ]
  static override args = {
    target: Args.string({description: 'ENV or ENV@REV (REV: id, short id, branch, tag, bookmark, HEAD~N or hg .~N; default the checked-out revision)'}),
  }
  static override flags = {
    env: environmentFlag,
    service: Flags.string({char: 's', description: "Render only this service's objects (repeatable).", multiple: true, multipleNonGreedy: true}),
    'output-dir': Flags.string({
      char: 'o',
      description:
        'Write one file per object into this folder instead of stdout, with real Secret values (for kubectl apply -f). Removes the files of an earlier render (NNN-kind-name.yaml) first; other files stay.',
    }),
    'show-secrets': Flags.boolean({description: 'Print Secret data/stringData values on stdout and in --json (redacted by default).'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Render)
    const result = await runRender(
      {
        target: await targetOf(args.target, flags.env, flags.config),
        configPath: flags.config,
        services: flags.service,
        outputDir: flags['output-dir'],
        showSecrets: flags['show-secrets'],
        signal: this.abortOnSignals('stopping (temporary files are removed)'),
      },
      this.reporter(),
    )
    if (!this.jsonEnabled()) {
      if (result.yaml !== undefined) process.stdout.write(result.yaml)
      for (const f of result.files ?? []) this.log(f)
    }
    return result.summary
  }
}
