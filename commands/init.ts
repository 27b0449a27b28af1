import {Flags} from '@oclif/core'

import {PIPELINE_SYSTEMS, type PipelineSystem} from '../src/init/pipeline.js'
import {nextStepMessage, NO_DOCKERFILE_MESSAGE, pipelineMessage, scaffold} from '../src/init/scaffold.js'
import {SkycapCommand} from './_base.js'

export default class Init extends SkycapCommand {
  static override summary = 'Write a commented skycap.yaml, an example template and a config folder; --ci adds a CI pipeline. Never overwrites.'
  static override examples = ['<%= config.bin %> init', '<%= config.bin %> init --app shop --dir ./shop', '<%= config.bin %> init --ci github', '<%= config.bin %> init --ci gitlab']
  static override flags = {
    app: Flags.string({description: 'Application name (a DNS label); default: the folder name.'}),
    dir: Flags.string({description: 'Folder to write into (default: the current directory).', default: '.'}),
    ci: Flags.string({
      description:
        'Also write a pipeline (build on push when a service has build:, deploy staging on main, prod on a tag or approval): .github/workflows/deploy.yml or .gitlab-ci.yml. With a skycap.yaml already there, only the pipeline.',
      options: [...PIPELINE_SYSTEMS],
    }),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Init)
    const result = scaffold(flags.dir, flags.app, flags.ci as PipelineSystem | undefined)
    for (const f of result.written) this.log(`created ${f}`)
    for (const f of result.skipped) this.logToStderr(`skipped ${f} (exists)`)
    if (result.dockerfile === false) this.logToStderr(NO_DOCKERFILE_MESSAGE)
    if (result.pipeline) this.logToStderr(pipelineMessage(result.pipeline))
    if (result.written.includes('skycap.yaml')) this.logToStderr(nextStepMessage(flags.dir))
    return result
  }
}
