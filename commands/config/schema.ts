import {skycapSchema} from '../../src/config/schema.js'
import {SkycapCommand} from '../_base.js'

export default class ConfigSchema extends SkycapCommand {
  static override summary = 'Print the JSON Schema of skycap.yaml (for editors; also shipped as skycap.schema.json).'
  static override examples = ['<%= config.bin %> config schema > skycap.schema.json']
  static override enableJsonFlag = false

  async run(): Promise<void> {
    await this.parse(ConfigSchema)
    process.stdout.write(`${JSON.stringify(skycapSchema, null, 2)}\n`)
  }
}
