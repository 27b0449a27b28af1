import {Command, Errors, Flags, Interfaces} from '@oclif/core'

import {ConfigErrors, ExitCode, type ExitCodeValue, SkycapError} from '../src/errors.js'
import {progressMode, stderrReporter, type Reporter} from '../src/ui/output.js'

/**
 * What every skycap command shares: --json, --config, --verbose, one JSON document on stdout on success and
 * failure, and exit codes from src/errors.ts. Files starting with "_" are not commands (see package.json).
 */
export abstract class SkycapCommand extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    config: Flags.string({description: 'Path to skycap.yaml (default: found from the current directory upward).', helpGroup: 'GLOBAL'}),
    verbose: Flags.boolean({description: 'Show stack traces and kubectl commands.', helpGroup: 'GLOBAL'}),
  }

  /** The reporter for progress on stderr (silent under --json). */
  protected reporter(): Reporter {
    return stderrReporter(progressMode({json: this.jsonEnabled()}))
  }

  protected override toSuccessJson(result: unknown): unknown {
    return {ok: true, result}
  }

  protected override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<never> {
    const exitCode = exitCodeFor(error)
    const verbose = this.argv.includes('--verbose') || Boolean(process.env.DEBUG)
    if (this.jsonEnabled()) {
      this.logJson({ok: false, exitCode, error: errorJson(error)})
    } else {
      const lines = [`Error: ${error.message}`]
      if (error instanceof SkycapError && error.hint) lines.push(`  ${error.hint}`)
      if (verbose && error.stack) lines.push(error.stack)
      process.stderr.write(`${lines.join('\n')}\n`)
    }
    this.exit(exitCode)
  }

  /** Exits with `code` after the result was printed (diff uses 1 for "there are changes"). */
  protected exitWith(code: ExitCodeValue): void {
    if (code !== ExitCode.OK) this.exit(code)
  }
}

function exitCodeFor(error: Error & {oclif?: {exit?: number}}): ExitCodeValue {
  if (error instanceof SkycapError) return error.exitCode
  // oclif's own parse errors (unknown flag, missing argument) are invalid input.
  if (error instanceof Errors.CLIError || error.oclif?.exit === 2) return ExitCode.INVALID
  return ExitCode.FAILED
}

function errorJson(error: Error): Record<string, unknown> {
  if (error instanceof ConfigErrors) {
    return {code: error.code, message: error.message, hint: error.hint, errors: error.errors.map((e) => ({message: e.message, ...e.location}))}
  }
  if (error instanceof SkycapError) return {code: error.code, message: error.message, hint: error.hint, details: error.details}
  return {code: 'error', message: error.message}
}

export type SkycapFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof SkycapCommand)['baseFlags'] & T['flags']>
