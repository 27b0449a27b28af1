import {Args, Flags} from '@oclif/core'

import {buildImages, parseBuildTarget} from '../src/build/build.js'
import {BUILDER_NAMES, type BuilderName} from '../src/build/builder.js'
import {buildTable} from '../src/ui/tables.js'
import {environmentFlag, environmentFromVariable, environmentOf} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class Build extends SkycapCommand {
  static override takesLock = false
  static override summary = 'Build and push the images of a revision, tagged as deploy expects them.'
  static override description =
    'Builds every service with a build: block from a clean export of REV (or the work tree with --work-tree), pushes to the registry and prints the digests. Images already in the registry are skipped. Exit codes: 0 built, 1 a build failed (with docker or podman nothing is pushed; buildx and build.command push what they built), 2 invalid input or no builder, 4 registry unreachable, 130 interrupted.'
  static override examples = [
    '<%= config.bin %> build prod@v1.4.0',
    '<%= config.bin %> build HEAD -s web -s worker',
    '<%= config.bin %> build staging --work-tree',
    '<%= config.bin %> build @3f2c1ab --builder podman --jobs 4 --json',
  ]
  static override args = {target: Args.string({description: '[ENV@]REV (default: defaultEnvironment at HEAD); a bare word is a revision (with --work-tree: the environment)'})}
  static override flags = {
    env: environmentFlag,
    service: Flags.string({char: 's', description: 'Build only this service (repeatable; default: every service with build:).', multiple: true, multipleNonGreedy: true}),
    'work-tree': Flags.boolean({description: 'Build the work tree as it is; uncommitted changes give the tag <short>-dirty-<content hash>.'}),
    force: Flags.boolean({description: 'Build and push even when the registry already has the image.'}),
    builder: Flags.string({description: 'Builder tool (default: buildx, else docker build + push, else podman).', options: [...BUILDER_NAMES]}),
    jobs: Flags.integer({char: 'j', description: 'Builds at once (default: the number of CPUs).', min: 1}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Build)
    const target = parseBuildTarget(args.target, {workTree: flags['work-tree']})
    const report = await buildImages(
      {
        ...target,
        environment: environmentOf(target.environment, flags.env) ?? environmentFromVariable(),
        workTree: flags['work-tree'],
        configPath: flags.config,
        services: flags.service,
        force: flags.force,
        builder: flags.builder as BuilderName | undefined,
        jobs: flags.jobs,
      },
      {reporter: this.reporter(), output: this.buildOutput(), signal: this.abortOnSignals('stopping the builds')},
    )
    if (!this.jsonEnabled()) process.stdout.write(`${buildTable(report.images)}\n`)
    return report
  }
}
