import {appendFileSync} from 'node:fs'
import {isAbsolute, relative, resolve} from 'node:path'

import {ConfigError, ConfigErrors, formatLocation, type SourceLocation, SkycapError} from '../errors.js'
import type {RejectedObject} from '../deploy/apply.js'
import {ciJobUrl} from '../identity.js'
import type {Reporter} from '../ui/output.js'
import {resumeCommands, stopCommands} from './stop-commands.js'
import {asDeployReport, deploySummary, failureSummary} from './summary.js'
import {type AnnotationPlace, ciSystem, type CiSystem, errorAnnotation, sectionEnd, sectionName, sectionStart, workflowCommand} from './workflow.js'

export interface CiOutputOptions {
  /** The command as typed, e.g. "deploy" or "lock acquire" (annotation and summary titles). */
  command: string
  env?: NodeJS.ProcessEnv
  /** Where the CI lines go: stderr, beside the progress lines. */
  write?: (line: string) => void
  clock?: () => Date
  cwd?: string
  /** The app of the skycap.yaml the command loaded, if it got that far: a failure's job summary names it. */
  app?: () => string | undefined
}

/**
 * What skycap adds to a CI job's log: each phase of a command folded into a group (GitHub `::group::`, a GitLab
 * collapsible section), an `::error` annotation per failed resource or config error, and on GitHub a Markdown job
 * summary appended to $GITHUB_STEP_SUMMARY. Undefined outside GitHub Actions and GitLab CI.
 */
export function ciOutput(options: CiOutputOptions): CiOutput | undefined {
  const env = options.env ?? process.env
  const system = ciSystem(env)
  return system ? new CiOutput(system, options) : undefined
}

export class CiOutput {
  private open?: string
  private sections = 0
  /** The warnings of this run, annotated at its end on GitHub (inside a folded group nobody sees them). */
  private readonly warnings: string[] = []
  private readonly env: NodeJS.ProcessEnv
  /** The environment the command line names, if it names one. */
  private environment?: string
  private readonly write: (line: string) => void
  /** Writes a workflow command of skycap's own (a group, an annotation). */
  private readonly command: (line: string) => void
  private readonly clock: () => Date

  constructor(
    readonly system: CiSystem,
    private readonly options: CiOutputOptions,
  ) {
    this.env = options.env ?? process.env
    this.write = options.write ?? ((line) => process.stderr.write(`${line}\n`))
    const write = this.write
    // A workflow command of skycap's own is never written in a stopped region: it would be text.
    this.command = (line) => {
      resumeCommands()
      write(line)
    }
    this.clock = options.clock ?? (() => new Date())
  }

  /**
   * `reporter` with phases as groups. A silent reporter (a memory reporter) prints no groups: there would be nothing
   * in them. `--json` is not silent: its progress is plain lines on stderr, grouped as without it (docs/ci.md).
   */
  wrap(reporter: Reporter): Reporter {
    return {
      mode: reporter.mode,
      info: (message) => this.inert(message, (text) => reporter.info(text)),
      warn: (message) => {
        this.inert(message, (text) => reporter.warn(text))
        if (reporter.mode !== 'silent' && this.system === 'github' && !this.warnings.includes(message)) this.warnings.push(message)
      },
      phase: (title) => {
        if (reporter.mode === 'silent') return
        this.endPhase()
        if (title !== null) this.startPhase(title)
      },
    }
  }

  /**
   * Prints `text` with `print`; on GitHub, when a line of it would be read as a workflow command (`::error …`, or
   * `##[` anywhere: the runner trims leading spaces), inside a stopped region (src/ci/stop-commands.ts): between
   * `::stop-commands::TOKEN` and `::TOKEN::`, or in the region already open (`logs -f` streaming). Such text is not
   * skycap's own: a pod's log lines, an event's message, an API server's answer. Unwrapped, it could forge
   * annotations or stop the job's workflow commands (skycap's groups and annotations among them). On GitLab a
   * collapsible section's marker (`section_end:…:name\r\e[0K`) in such text closed skycap's section early, or opened
   * a collapsed one that hid the rollback and the error: its `\e[0K` is printed as `^[[0K`, which GitLab reads as
   * text (skycap's own markers are written by `write`, not through here).
   */
  inert(text: string, print: (text: string) => void): void {
    if (this.system === 'gitlab') {
      print(text.replaceAll('\u001b[0K', '^[[0K'))
      return
    }
    if (this.system !== 'github' || !WORKFLOW_COMMAND.test(text)) {
      print(text)
      return
    }
    const opened = stopCommands(this.write)
    print(text)
    if (opened) resumeCommands()
  }

  /** The environment the command line names (`deploy staging`, `-e prod`): the job summary of a failure names it. */
  named(environment: string | undefined): void {
    this.environment = environment
  }

  /** Closes the open group, if one is: what follows (the result line, the error) shows unfolded. */
  endPhase(): void {
    if (this.open === undefined) return
    this.command(this.system === 'github' ? '::endgroup::' : sectionEnd(this.open, this.clock()))
    this.open = undefined
  }

  /** A command ended well: a deploy or rollback gets its job summary. */
  finished(result: unknown): void {
    this.endPhase()
    this.annotateWarnings()
    const report = asDeployReport(result)
    if (report && report.result !== 'planned') this.summarize(deploySummary(this.options.command, report, {jobUrl: ciJobUrl(this.env)}))
  }

  /** A command failed: annotations for what failed and where, and the job summary. */
  failed(error: unknown): void {
    this.endPhase()
    if (this.system !== 'github') return
    this.annotateWarnings()
    const message = error instanceof Error ? error.message : String(error)
    for (const line of this.annotations(error)) this.command(line)
    const report = error instanceof SkycapError ? asDeployReport(error.details?.report) : undefined
    const jobUrl = ciJobUrl(this.env)
    this.summarize(
      report
        ? deploySummary(this.options.command, report, {jobUrl, error: message})
        : failureSummary(this.options.command, message, {jobUrl, hint: error instanceof SkycapError ? error.hint : undefined, ...this.target(error)}),
    )
  }

  /**
   * One `::error` per config error (with file and line), object the API server refused (on its template, or its
   * service in skycap.yaml), or failed resource; one for the error itself otherwise.
   */
  annotations(error: unknown): string[] {
    const command = `skycap ${this.options.command}`
    const configErrors = error instanceof ConfigErrors ? error.errors : error instanceof ConfigError ? [error] : []
    if (configErrors.length) return configErrors.map((e) => errorAnnotation(`${command}: invalid configuration`, withoutLocation(e), this.place(e.location)))
    const rejected = error instanceof SkycapError ? asRejected(error.details?.rejected) : []
    if (rejected.length) {
      const message = (error as SkycapError).message
      return rejected.map((r) => errorAnnotation(`${command}: the API server refused ${r.ref}`, r.message ?? message, this.place(r)))
    }
    const report = error instanceof SkycapError ? asDeployReport(error.details?.report) : undefined
    const failures = report ? [...report.failures, ...(report.rollback?.failures ?? [])] : []
    if (failures.length) {
      return failures.map((f) => errorAnnotation(`${command} ${report?.environment}: ${f.ref} failed`, f.message))
    }
    return [errorAnnotation(`${command} failed`, error instanceof Error ? error.message : String(error))]
  }

  /**
   * One `::warning` per warning of the run (a notification not delivered, a variable not set …), after the last
   * group: its line stays where it was said, folded with its phase; the annotation shows on the run's page.
   */
  private annotateWarnings(): void {
    for (const message of this.warnings.splice(0)) this.command(workflowCommand('warning', {title: `skycap ${this.options.command}`}, message))
  }

  private startPhase(title: string): void {
    if (this.system === 'github') {
      this.open = title
      this.command(`::group::${title}`)
    } else {
      this.open = sectionName(title, ++this.sections)
      this.command(sectionStart(this.open, title, this.clock()))
    }
  }

  /**
   * The app and environment of a failure: those its error names (an invalid skycap.yaml's app), else the app of the
   * skycap.yaml the command loaded and the command line's environment.
   */
  private target(error: unknown): {app?: string; environment?: string} {
    const details = error instanceof SkycapError ? error.details : undefined
    const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined)
    return {app: text(details?.app) ?? text(this.options.app?.()), environment: text(details?.environment) ?? this.environment}
  }

  /** A location as GitHub wants it: the file relative to the checkout ($GITHUB_WORKSPACE), without skycap's "(at REV)". */
  private place(location: SourceLocation | undefined): AnnotationPlace {
    if (!location) return {}
    const cwd = this.options.cwd ?? process.cwd()
    const shown = location.file.replace(/ \(at [^)]+\)$/, '')
    const file = relative(this.env.GITHUB_WORKSPACE || cwd, resolve(cwd, shown))
    return {file: file && !file.startsWith('..') && !isAbsolute(file) ? file.split('\\').join('/') : shown, line: location.line, col: location.column}
  }

  private summarize(markdown: string): void {
    const file = this.env.GITHUB_STEP_SUMMARY
    if (this.system !== 'github' || !file) return
    try {
      appendFileSync(file, markdown)
    } catch (error) {
      const message = `could not write the job summary to ${file}: ${(error as Error).message}`
      this.write(`warning: ${message}`)
      // Written after the other warnings' annotations: repeated as its own, as docs/ci.md says each warning is.
      this.command(workflowCommand('warning', {title: `skycap ${this.options.command}`}, message))
    }
  }
}

/** A line the GitHub runner reads as a workflow command: `::` after leading spaces, or the old `##[` anywhere. */
const WORKFLOW_COMMAND = /(^|[\r\n])\s*::|##\[/

/** The objects a refused apply named, with their files (src/deploy/apply.ts `rejectedObjects`). */
function asRejected(value: unknown): RejectedObject[] {
  if (!Array.isArray(value)) return []
  return value.filter((r): r is RejectedObject => typeof r === 'object' && r !== null && typeof r.ref === 'string' && typeof r.file === 'string')
}

/** A ConfigError's message without the `file:line:col: ` its constructor put in front. */
function withoutLocation(error: ConfigError): string {
  if (!error.location) return error.message
  const prefix = `${formatLocation(error.location)}: `
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message
}
