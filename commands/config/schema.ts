import {skycapSchema} from '../../src/config/schema.js'
import {SkycapCommand} from '../_base.js'

export default class ConfigSchema extends SkycapCommand {
  static override summary = 'Print the JSON Schema of skycap.yaml (for editors; also shipped as skycap.schema.json).'
  static override examples = ['<%= config.bin %> config schema > skycap.schema.json', '<%= config.bin %> config schema --json | jq .result.properties']

  async run(): Promise<unknown> {
    await this.parse(ConfigSchema)
    // With --json, oclif prints the returned schema in the {"ok": true, "result": …} envelope instead.
    if (!this.jsonEnabled()) process.stdout.write(`${JSON.stringify(skycapSchema, null, 2)}\n`)
    return skycapSchema
  }
}
