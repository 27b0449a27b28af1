import {Args} from '@oclif/core'

import {noChangesLine} from '../src/deploy/diff.js'
import {diff} from '../src/deploy/release-diff.js'
import {ExitCode} from '../src/errors.js'
import {environmentFlag, targetOf} from './_environment.js'
import {lostOutputExitsWith} from './_lost-output.js'
import {SkycapCommand} from './_base.js'

export default class Diff extends SkycapCommand {
  static override takesLock = false
  static override summary = 'Show what deploying ENV[@REV] would change (kubectl diff; Secret values redacted).'
  static override description =
    'Objects whose only difference is skycap\'s revision annotation are not changes. Exit 0: no changes ("No changes" on stdout); 1: changes; 2 and above: an error (as kubectl diff and git diff --exit-code).'
  static override examples = ['<%= config.bin %> diff staging', '<%= config.bin %> diff prod@v1.5.0 --json']
  static override args = {target: Args.string({description: 'ENV or ENV@REV'})}
  static override flags = {env: environmentFlag}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Diff)
    lostOutputExitsWith(ExitCode.INVALID)
    const result = await diff(
      {target: await targetOf(args.target, flags.env, flags.config), configPath: flags.config, signal: this.abortOnSignals('stopping (temporary files are removed)')},
      this.kubectlFactory(),
      this.reporter(),
    )
    if (this.jsonEnabled()) this.logJson({ok: true, result})
    else process.stdout.write(result.changed.length > 0 ? result.diff : `${noChangesLine(result.revisionOnly)}\n`)
    this.exitWith(result.changed.length > 0 ? ExitCode.FAILED : ExitCode.OK)
  }
}
