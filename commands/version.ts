import {SkycapCommand} from './_base.js'

export default class Version extends SkycapCommand {
  // Reads oclif's Config (name, version, platform, user agent): runs through oclif's execute.
  static override runsWithoutOclifConfig = false
  static override summary = 'Print the version of skycap, the platform and Node (as --version and -v).'
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> -v', '<%= config.bin %> version --json']

  async run(): Promise<unknown> {
    await this.parse(Version)
    const {name, version, platform, arch, userAgent} = this.config
    this.log(userAgent)
    return {name, version, platform, arch, node: process.version}
  }
}
