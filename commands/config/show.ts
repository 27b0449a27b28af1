import {Args} from '@oclif/core'

import {showEnvironment} from '../../src/config/show.js'
import {formatWarning} from '../../src/ui/output.js'
import {environmentFlag, environmentOf} from '../_environment.js'
import {SkycapCommand} from '../_base.js'

export default class ConfigShow extends SkycapCommand {
  static override summary = "Print an environment's settings as skycap uses them: its overrides merged over the services, its registry, hooks and notify."
  static override description = "Reads the work tree's skycap.yaml and touches no cluster. The manifests themselves, with images: `skycap render ENV@REV`."
  static override examples = ['<%= config.bin %> config show prod', '<%= config.bin %> config show -e staging --json | jq .result.services.web']
  static override args = {environment: Args.string({description: 'Environment (default: SKYCAP_ENV or defaultEnvironment)'})}
  static override flags = {env: environmentFlag}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ConfigShow)
    const shown = await showEnvironment({configPath: flags.config, environment: environmentOf(args.environment, flags.env)})
    const reporter = this.reporter()
    for (const w of shown.warnings) reporter.warn(formatWarning(w))
    if (!this.jsonEnabled()) {
      const {stringify} = await import('yaml')
      const {warnings: _, file: __, ...settings} = shown
      process.stdout.write(stringify(settings, {lineWidth: 0}))
    }
    return shown
  }
}
