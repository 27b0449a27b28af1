import {checkConfig} from '../../src/config/check.js'
import {formatWarning} from '../../src/ui/output.js'
import {SkycapCommand} from '../_base.js'

export default class ConfigValidate extends SkycapCommand {
  static override summary = 'Check skycap.yaml against its schema and rules; exits 2 with file:line:column errors.'
  static override examples = ['<%= config.bin %> config validate', '<%= config.bin %> config validate --config apps/shop/skycap.yaml --json']

  async run(): Promise<unknown> {
    const {flags} = await this.parse(ConfigValidate)
    const check = await checkConfig({configPath: flags.config})
    const reporter = this.reporter()
    for (const w of check.warnings) reporter.warn(formatWarning(w))
    const [services, environments] = [check.services.length, check.environments.length]
    this.log(
      `${check.file} is valid: app ${check.app}, ${services} service${services === 1 ? '' : 's'}, environment${environments === 1 ? '' : 's'} ${check.environments.map((e) => e.name).join(', ')}`,
    )
    return check
  }
}
