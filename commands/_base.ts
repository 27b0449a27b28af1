import {Command, Errors, Flags, Interfaces} from '@oclif/core'

import {ciOutput, type CiOutput} from '../src/ci/output.js'
import {resumeCommands, untrustedStream} from '../src/ci/stop-commands.js'
import {loadedApp} from '../src/config/loaded-app.js'
import type {KubectlFactory} from '../src/env/connect.js'
import {ConfigError, ConfigErrors, ExitCode, type ExitCodeValue, InterruptedError, SkycapError, UserError} from '../src/errors.js'
import {Kubectl} from '../src/kubectl/kubectl.js'
import {parseDuration} from '../src/duration.js'
import {QUIT_WAIT_MS, type QuitOutcome} from '../src/release/quit-at-once.js'
import {abortableSleep} from '../src/sleep.js'
import {didYouMean} from '../src/suggest.js'
import {confirmOnTerminal} from '../src/ui/confirm.js'
import {progressMode, stderrReporter, type Reporter} from '../src/ui/output.js'
import {keepGoingWithoutReaders} from './_lost-output.js'

/**
 * What every skycap command shares: --json, --config, --verbose, one JSON document on stdout on success and
 * failure, and exit codes from src/errors.ts. Files starting with "_" are not commands (see package.json).
 */
/** What GitHub Actions would take for a workflow command in a line: `::` at its start, or `##[` anywhere in it. */
const WORKFLOW_COMMAND = /^\s*::|##\[/m

/** Every flag of these names, on any command, is a duration (`--timeout 10m`). */
const DURATION_FLAGS = ['timeout', 'duration', 'wait-for-lock', 'since'] as const

export abstract class SkycapCommand extends Command {
  static override enableJsonFlag = true

  /**
   * bin/run.js runs the command without oclif's Config.load (commands/_run.ts): true for every command that reads
   * nothing of `this.config` but its bin and scoped environment variables. A command that reads more (help, version)
   * sets it false and goes through oclif's execute (a unit test checks the sources).
   */
  static runsWithoutOclifConfig = true
  /** The hint for an argument beyond those the command takes (`rollback prod 41`: --to 41), when it has a better one than its help. */
  static unexpectedArgumentHint?: (argument: string, argv: string[]) => string | undefined
  /** false for commands that never take the environment's lock (logs, diff): a quit at once does not speak of one. */
  static takesLock = true
  /** The hint for a missing argument, when the command line says what the user meant (`scale web=3`: kubectl's habit). */
  static missingArgumentHint?: (argv: string[]) => string | undefined
  /**
   * The error for arguments missing or beyond those the command takes, when the command line says what the user meant
   * better than the parser (`scale 3`: no service; `scale worker 3 api 2`: two scales). `positional`: the arguments
   * that are not flags or their values; `flags`: those.
   */
  static argumentsError?: (positional: string[], flags: string[]) => {message: string; hint: string} | undefined
  /**
   * --json prints one object per line (logs): an error is one more line, not an indented document that breaks a
   * line-by-line reader (`skycap logs web --json | jq -c …` read it as ten fragments).
   */
  static jsonLines = false

  /** The SIGINT/SIGTERM that arrived, if one did (see abortOnSignals). */
  private interruptedBy?: NodeJS.Signals

  static override baseFlags = {
    config: Flags.string({description: 'Path to skycap.yaml (default: found from the current directory upward).', helpGroup: 'GLOBAL'}),
    verbose: Flags.boolean({description: 'Show stack traces and kubectl commands.', helpGroup: 'GLOBAL'}),
  }

  /** Under GitHub Actions or GitLab CI: groups, annotations and the job summary (src/ci/); null elsewhere. */
  private ci?: CiOutput | null

  private ciOutput(): CiOutput | undefined {
    // The command as typed ("lock acquire"), not oclif's id ("lock:acquire"): annotations and the summary name it.
    if (this.ci === undefined) this.ci = ciOutput({command: (this.id ?? 'skycap').replaceAll(':', ' '), app: loadedApp}) ?? null
    return this.ci ?? undefined
  }

  /** The reporter for progress on stderr (plain lines under --json: the document is on stdout); in CI its phases fold into groups. */
  protected reporter(): Reporter {
    const reporter = stderrReporter(progressMode({json: this.jsonEnabled()}))
    return this.ciOutput()?.wrap(reporter) ?? reporter
  }

  /**
   * The result line on stdout, outside any CI group. Under GitHub Actions it holds text anyone may have written (a
   * commit's subject in `history`, a lock's reason in `lock status`): a `##[error]…` in it was a workflow command of
   * the job, so it goes out in a stopped region (its markers on stderr), as a pod's output does.
   */
  override log(message?: string, ...args: unknown[]): void {
    this.ciOutput()?.endPhase()
    if (args.length > 0 || !WORKFLOW_COMMAND.test(message ?? '')) super.log(message, ...args)
    else this.untrusted(process.stdout).write(`${message ?? ''}\n`)
  }

  /** Whether the --json document went out (a quit at once writes one only when none did). */
  private jsonWritten = false

  /** The --json document: under GitHub Actions in a stopped region too when it quotes such text. */
  override logJson(json: unknown): void {
    this.jsonWritten = true
    const text = JSON.stringify(json, null, 2)
    if (!WORKFLOW_COMMAND.test(text)) super.logJson(json)
    else this.untrusted(process.stdout).write(`${text}\n`)
  }

  protected override async _run<T>(): Promise<T> {
    keepGoingWithoutReaders()
    let result: T
    try {
      result = await super._run<T>()
    } finally {
      // The output skycap does not control (a pod's, a build's) ends with the command: workflow commands again.
      resumeCommands()
    }
    this.ciOutput()?.finished(result)
    return result
  }

  /**
   * oclif's parse, then empty values refused where an empty value would quietly mean "the default": `-e ""`,
   * `--config=`, `--output-dir=`, `--dir=`, an empty ENV, ENV@REV or SERVICE argument. In a script, `skycap deploy -e "$TARGET" --yes` with
   * TARGET unset would otherwise deploy the default environment.
   */
  protected override async parse<F extends ParsedValues, B extends ParsedValues, A extends ParsedValues>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    refuseValuedSwitches(argv ?? this.argv, {...(options?.baseFlags ?? {}), ...(options?.flags ?? {})})
    const parsed = await super.parse(options, argv)
    const flags = parsed.flags as Record<string, unknown>
    const args = parsed.args as Record<string, unknown>
    // Named first: a failure of the checks below (`--timeout 10`) is summarised with the environment too.
    const named = [flags.env, args.environment, args.target].find((v): v is string => typeof v === 'string')
    if (named !== undefined) this.ciOutput()?.named(named.replace(/@.*$/s, ''))
    const empty = (value: unknown) => typeof value === 'string' && value.trim() === ''
    if (empty(flags.env)) {
      throw new UserError('-e/--env is empty: name an environment', {hint: `Leave the flag out for ${DEFAULT_ENVIRONMENT}`})
    }
    if (empty(flags.config)) throw new UserError('--config is empty: name a skycap.yaml', {hint: 'Leave the flag out to use the skycap.yaml found from the current folder upward.'})
    for (const [name, hint] of Object.entries(FOLDER_FLAGS)) if (empty(flags[name])) throw new UserError(`--${name} is empty: name a folder`, {hint})
    // Any other flag given an empty value (`--to "$TO"`, `-c "$CONTAINER"` with the variable unset): none of them means
    // anything when empty, and it was read as if the flag were absent (the previous release, every container).
    // (A duration's own check below says which units it takes.)
    for (const [name, value] of Object.entries(flags)) {
      if ((DURATION_FLAGS as readonly string[]).includes(name)) continue
      if (empty(value) || (Array.isArray(value) && value.some(empty))) {
        const char = options?.flags?.[name]?.char
        throw new UserError(`${char ? `-${char}/` : ''}--${name} is empty`, {hint: 'Give it a value, or leave the flag out.'})
      }
    }
    for (const name of ['environment', 'target', 'service'] as const) {
      if (empty(args[name])) {
        if (name === 'service') throw new UserError('the SERVICE argument is empty: name a service', {hint: 'Name one of the services in skycap.yaml.'})
        throw new UserError(`the ${name === 'target' ? 'ENV[@REV]' : 'ENV'} argument is empty: name an environment`, {hint: `Leave the argument out for ${DEFAULT_ENVIRONMENT}`})
      }
    }
    // A duration flag is checked here, before the command reads skycap.yaml or the repository (whose warnings would
    // come first) or opens a CI group; the use case parses it again where it uses it.
    for (const name of DURATION_FLAGS) if (typeof flags[name] === 'string') await parseDuration(flags[name], `--${name}`, {lookBack: name === 'since'})
    return parsed
  }

  /** Where build output goes: stderr, line by line (under --json too: the document is on stdout). */
  protected buildOutput(): ((line: string) => void) | undefined {
    const out = this.untrusted(process.stderr)
    return (line) => out.write(`${line}\n`)
  }

  /**
   * `stream` for output skycap does not control (a pod's, a build's): under GitHub Actions, no workflow command in it
   * is processed (src/ci/stop-commands.ts). stdout's markers go to stderr: its text is the command's result.
   */
  protected untrusted<T extends NodeJS.WritableStream>(stream: T): T {
    return untrustedStream(stream, process.env, (stream as NodeJS.WritableStream) === process.stdout ? {markers: process.stderr} : {})
  }

  /**
   * For a child whose output would go straight to skycap's stdout and stderr (`exec`): the streams to write it to
   * instead when they stop workflow commands (under GitHub Actions), else nothing (the child keeps the terminal).
   * Under --json the child's stdout goes to stderr.
   */
  protected untrustedOutput(): {output?: {out: NodeJS.WritableStream; err: NodeJS.WritableStream}} {
    const stdout = this.jsonEnabled() ? process.stderr : process.stdout
    const out = this.untrusted(stdout)
    return out === stdout ? {} : {output: {out, err: this.untrusted(process.stderr)}}
  }

  /** Whether a read the API server left unanswered was said (once a command: the line says what comes next). */
  private slowReadSaid = false

  /**
   * kubectl bound per environment; --verbose traces every call on stderr. A read left unanswered for 15 s is said
   * once (kubectl itself is silent until it gives up, about 50 s against a server that answers nothing).
   */
  protected kubectlFactory(): KubectlFactory {
    const onSlowRead = (message: string) => {
      if (this.slowReadSaid) return
      this.slowReadSaid = true
      this.reporter().warn(message)
    }
    if (!this.argv.includes('--verbose')) return (options) => new Kubectl({...options, onSlowRead})
    return (options) => new Kubectl({...options, onSlowRead, trace: (argv) => process.stderr.write(`$ ${argv.join(' ')}\n`)})
  }

  /**
   * What a second signal (a quit at once) leaves behind, when the command knows better than the general line; given
   * what became of the record the quit waited for (recordBeforeQuit), when it waited.
   */
  protected forceQuitNote?: (done?: QuitOutcome) => string

  /**
   * Before a quit at once (src/release/quit-at-once.ts): the record of a release this command may have changed the
   * cluster for, and the lock it holds, for at most QUIT_WAIT_MS; undefined when there is nothing to do.
   */
  protected beforeQuit?: () => Promise<QuitOutcome> | undefined

  /** A quit at once under way (waiting for a record): the error path waits for it rather than exit first. */
  private quitting?: Promise<never>

  /** Aborted on SIGINT/SIGTERM/SIGHUP, so the engine can release what it holds before exiting. */
  protected abortOnSignals(doing = 'stopping (the lock is released if this command has taken it)'): AbortSignal {
    const controller = new AbortController()
    // One listener for the whole command, never removed: with `once`, the moment between the first signal's listener
    // going and the second's being added left none, and a quick second Ctrl-C then killed skycap by the default action
    // (no exit 130, the CI group left open).
    const quitNow = (signal: NodeJS.Signals, done?: QuitOutcome): never => {
      // Quitting at once still closes the CI log's open group or section, so what follows is not folded into it.
      this.ciOutput()?.endPhase()
      // What is left undone is said: a quit at once used to end without a word.
      const general = (this.constructor as typeof SkycapCommand).takesLock
        ? 'what the first signal was undoing is left as it is (a lock this command took expires within about a minute); `skycap status` shows what runs'
        : 'what the first signal was stopping ends with skycap (it takes no lock and changes nothing in the cluster)'
      const note = `Quit at once (${signal}): ${this.forceQuitNote?.(done) ?? general}`
      process.stderr.write(`${note}\n`)
      // --json promises one document on stdout: a second Ctrl-C (or a CI job's TERM, TERM) left it empty.
      if (this.jsonEnabled() && !this.jsonWritten) {
        const document = {ok: false, exitCode: ExitCode.INTERRUPTED, error: {code: 'interrupted', message: note}}
        process.stdout.write(`${JSON.stringify(document, null, (this.constructor as typeof SkycapCommand).jsonLines ? undefined : 2)}\n`)
      }
      process.exit(ExitCode.INTERRUPTED)
    }
    const onSignal = (signal: NodeJS.Signals) => {
      // A third signal while the record is written: out at once, the record and the lock as far as they got.
      if (this.quitting) quitNow(signal, {cutShort: `${signal} again`})
      if (this.interruptedBy) {
        const finishing = this.beforeQuit?.()
        if (!finishing) quitNow(signal)
        process.stderr.write(`Quitting (${signal}): recording the release and releasing the lock first, for at most ${QUIT_WAIT_MS / 1000}s (again to quit without waiting)\n`)
        const late = abortableSleep(QUIT_WAIT_MS).then((): QuitOutcome => ({cutShort: `not done within ${QUIT_WAIT_MS / 1000}s`}))
        this.quitting = Promise.race([finishing, late]).then((done) => quitNow(signal, done))
        return
      }
      this.interruptedBy = signal
      process.stderr.write(`\nReceived ${signal}: ${doing} (again to force quit)\n`)
      controller.abort()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    // A closed terminal or a dropped SSH session: stopped as by Ctrl-C. Node takes SIGHUP's default action (it even
    // undoes nohup's), which killed skycap at once: the lock held until it expired, an applied release unrecorded.
    // The terminal may be gone, so what is written to it from now on is dropped rather than failing the clean-up.
    process.on('SIGHUP', (signal) => {
      for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined)
      onSignal(signal)
    })
    return controller.signal
  }

  /** A y/N prompt when a person can answer (TTY on stdin and stderr, no --json). */
  protected confirmer(): ((summary: string, answer?: string) => Promise<boolean>) | undefined {
    if (this.jsonEnabled() || !process.stdin.isTTY || !process.stderr.isTTY) return undefined
    return confirmOnTerminal
  }

  /**
   * Why confirmer() gives no prompt to someone at a terminal: --json (the deps' noQuestions). Stdin on the terminal is
   * enough: with stderr to a log (`2>deploy.log`, as docs/json.md suggests) it said there was no terminal.
   */
  protected noQuestions(): {noQuestions?: 'json'} {
    return this.jsonEnabled() && process.stdin.isTTY ? {noQuestions: 'json'} : {}
  }

  /**
   * oclif's, and `--json=VALUE` too (refused as a switch given a value): the refusal is then one JSON document, as
   * for any other refused command line with --json (it printed none, and a pipeline's `--json=${{ inputs.json }}`
   * piped nothing into jq). `--json=false` and the like mean off: plain text.
   */
  override jsonEnabled(): boolean {
    if (super.jsonEnabled()) return true
    const end = this.argv.indexOf('--')
    return (end === -1 ? this.argv : this.argv.slice(0, end)).some((a) => /^--json=/.test(a) && !/^--json=(false|0|no|off|)$/i.test(a))
  }

  protected override toSuccessJson(result: unknown): unknown {
    return {ok: true, result}
  }

  protected override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<never> {
    // A quit at once is writing the record: it ends the process (the deploy's own write never settles then).
    if (this.quitting) await this.quitting
    // this.exit() throws ExitError: a chosen exit code, not a failure.
    if (error instanceof Errors.ExitError) throw error
    // Whatever failed after a SIGINT/SIGTERM failed because of it (a child of the process group got it too, and may
    // have exited with its own code before our handler ran): report the interruption, exit 130.
    if (this.interruptedBy && !(error instanceof InterruptedError)) {
      error = new InterruptedError(`interrupted by ${this.interruptedBy}: ${error.message}`, {cause: error, hint: 'Check `skycap status` to see what was applied.'})
    }
    if (isUnknownFlag(error)) error = this.unknownFlag(error.flags)
    else if (isParseError(error)) error = this.parseError(error)
    const exitCode = exitCodeFor(error)
    const verbose = this.argv.includes('--verbose') || Boolean(process.env.DEBUG)
    this.ciOutput()?.failed(error)
    if (this.jsonEnabled()) {
      const document = {ok: false, exitCode, error: errorJson(error)}
      if ((this.constructor as typeof SkycapCommand).jsonLines) {
        this.jsonWritten = true
        process.stdout.write(`${JSON.stringify(document)}\n`)
      } else this.logJson(document)
    } else {
      const lines = [`Error: ${error.message}`]
      if (error instanceof SkycapError && error.hint) lines.push(`  ${error.hint}`)
      if (verbose && error.stack) lines.push(error.stack)
      const print = (text: string) => process.stderr.write(`${text}\n`)
      const ci = this.ciOutput()
      if (ci) ci.inert(lines.join('\n'), print)
      else print(lines.join('\n'))
    }
    this.exit(exitCode)
  }

  /** oclif's "Nonexistent flag" as an exit-2 error that names the closest flag this command has. */
  private unknownFlag(typed: string[]): UserError {
    const {flags = {}, baseFlags = {}} = this.ctor
    const known = Object.values({...baseFlags, ...flags}).flatMap((f) => [`--${f.name}`, ...(f.aliases ?? []).map((a) => `--${a}`), ...(f.char ? [`-${f.char}`] : [])])
    const words = typed.map((t) => t.replace(/=.*$/, ''))
    // A mistyped letter (-v, -x) is one edit from every other letter flag: the long flag it starts, when one does
    // (-v → --verbose), else nothing.
    const letter = words.length === 1 && /^-[A-Za-z]$/.test(words[0] as string) ? (words[0] as string).slice(1) : undefined
    // The letter in the other case first (-E → --env): the flag it most likely is.
    const twin = letter === undefined ? undefined : Object.values({...baseFlags, ...flags}).find((f) => f.char !== undefined && f.char !== letter && f.char.toLowerCase() === letter.toLowerCase())
    const starting = letter === undefined ? [] : twin ? [`--${twin.name}`] : [...known, '--json', '--help'].filter((k) => k.startsWith(`--${letter.toLowerCase()}`))
    const habit = words.length === 1 ? habitOf(words[0] as string, known) : undefined
    const suggestion =
      habit ??
      (letter !== undefined
        ? starting.length === 1
          ? `; did you mean ${starting[0]}?`
          : ''
        : words.length === 1
          ? didYouMean(words[0] as string, [...known, '--json', '--help'], (name) => name)
          : '')
    const command = ['skycap', ...(this.id ?? '').split(':')].join(' ')
    return new UserError(`unknown flag${words.length === 1 ? '' : 's'} ${words.join(', ')}${suggestion}`, {hint: `See \`${command} --help\` for its flags.`})
  }

  /**
   * oclif's other parse errors (a missing argument, an unexpected one, a flag given twice, a value that is not an
   * integer or not one of the options) as skycap's: exit 2, code invalid_input, one line, and a hint naming the help.
   */
  private parseError(error: Error): UserError {
    const [first = '', ...rest] = error.message
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !/^See more help with --help/.test(l))
    // "Missing 2 required args:" then "name   description" lines: one line, "name (description), ...".
    const listed = rest.map((l) => /^(\S+)\s{2,}(.+)$/.exec(l)).every(Boolean) && first.endsWith(':')
    // An argument with options is listed by oclif as "name  (a|b) description": "name (description; one of a|b)".
    const argument = (l: string) => (/^\S+\s{2,}\([^)]+\) ./.test(l) ? l.replace(/^(\S+)\s{2,}\(([^)]+)\) (.+)$/, '$1 ($3; one of $2)') : l.replace(/^(\S+)\s{2,}(.+)$/, '$1 ($2)'))
    let message = listed ? `${first} ${rest.map(argument).join(', ')}` : [first, ...rest].join(' ')
    // "Parsing --tail Expected an integer but received: abc" -> "--tail: expected an integer but received: abc"
    message = message.replace(/^Parsing (--?\S+)\s+Expected/, '$1: expected')
    // A value that is not one of the options: the closest one.
    const choice = /^Expected (?:--?[\w-]+=)?(.*) to be one of: (.+)$/.exec(message)
    if (choice) message += didYouMean(choice[1] as string, (choice[2] as string).split(', '))
    const command = ['skycap', ...(this.id ?? '').split(':')].join(' ')
    const unexpected = /^Unexpected arguments?: (\S+)$/.exec(message)?.[1]
    const ctor = this.constructor as typeof SkycapCommand
    if (/^(Missing \d+ required args?|Unexpected arguments?):/.test(message)) {
      const split = splitArguments(this.argv, {...ctor.baseFlags, ...ctor.flags})
      const said = ctor.argumentsError?.(split.positional, split.flags)
      if (said) return new UserError(said.message, {hint: said.hint, cause: error})
    }
    const better = unexpected === undefined ? (/^Missing \d+ required args?/.test(message) ? ctor.missingArgumentHint?.(this.argv) : undefined) : ctor.unexpectedArgumentHint?.(unexpected, this.argv)
    return new UserError(message, {hint: better ?? `See \`${command} --help\` for its arguments and flags.`, cause: error})
  }

  /** Exits with `code` after the result was printed (diff uses 1 for "there are changes"). */
  protected exitWith(code: ExitCodeValue): void {
    if (code !== ExitCode.OK) this.exit(code)
  }
}

/**
 * `--dry-run=false` (`--dry-run=${{ inputs.dry }}` in a pipeline), `--json=true`: a switch takes no value, and oclif's
 * parser blamed the next argument ("Unexpected argument: staging") or took the value for the environment.
 */
function refuseValuedSwitches(argv: string[], flags: Record<string, {type?: string; name?: string}>): void {
  const end = argv.indexOf('--')
  for (const word of end === -1 ? argv : argv.slice(0, end)) {
    const m = /^--([\w-]+)=(.*)$/s.exec(word)
    if (!m) continue
    const name = m[1] as string
    const flag = Object.entries(flags).find(([key, f]) => (f.name ?? key) === name)?.[1]
    if (name !== 'json' && name !== 'help' && flag?.type !== 'boolean') continue
    throw new UserError(`--${name} takes no value (it was given "${m[2]}"): it is on when given and off when left out`, {
      hint: `Write --${name}, or leave it out${/^(false|0|no|off)$/i.test(m[2] as string) ? ` (for "${m[2]}", leave it out)` : ''}.`,
    })
  }
}

/**
 * Flags of the tools skycap replaces, typed out of habit: kamal's `lock acquire -m`, its `-d DESTINATION` and
 * `deploy --version`, kubectl's `-n NAMESPACE` and `--context`/`--kubeconfig`. They got another flag's did-you-mean (`-d` → --dry-run) or none.
 */
function habitOf(word: string, known: string[]): string | undefined {
  if ((word === '-m' || word === '--message') && known.includes('--reason')) return '; did you mean --reason? (kamal writes the lock message with -m)'
  if ((word === '-d' || word === '--destination') && known.includes('--env')) return '; did you mean -e ENV? (kamal names the destination with -d; skycap calls it the environment)'
  if (word === '--version' && known.includes('--env')) return '; the revision goes with the environment: ENV@REV (skycap deploy prod@v1.4.0)'
  if (word === '-n' || word === '--namespace') return "; the namespace comes from the environment (skycap.yaml's environments.<env>.namespace): name the environment with -e ENV"
  // kubectl's and helm's flags for where to connect: skycap connects where the environment says.
  if (['--context', '--kube-context', '--cluster', '--kubeconfig'].includes(word))
    return "; the kube context comes from the environment (skycap.yaml's environments.<env>.context), else it is the kubeconfig's current one (`kubectl config use-context NAME`); for another kubeconfig file, run with KUBECONFIG=FILE"
  return undefined
}

function isUnknownFlag(error: Error): error is Error & {flags: string[]} {
  return error instanceof Errors.CLIError && error.message.startsWith('Nonexistent flag') && Array.isArray((error as {flags?: unknown}).flags)
}

function isParseError(error: Error & {oclif?: {exit?: number}}): boolean {
  return !(error instanceof SkycapError) && (error instanceof Errors.CLIError || error.oclif?.exit === 2)
}

function exitCodeFor(error: Error & {oclif?: {exit?: number}}): ExitCodeValue {
  if (error instanceof SkycapError) return error.exitCode
  // oclif's own parse errors (unknown flag, missing argument) are invalid input.
  if (error instanceof Errors.CLIError || error.oclif?.exit === 2) return ExitCode.INVALID
  return ExitCode.FAILED
}

function errorJson(error: Error): Record<string, unknown> {
  if (error instanceof ConfigErrors) {
    return {code: error.code, message: error.message, hint: error.jsonHint ?? error.hint, errors: error.errors.map((e) => ({message: e.message, ...e.location}))}
  }
  // One problem with a position (a template's undefined variable, a document that is not an object): the same
  // `errors` as several, so a reader finds the file and line in one place.
  if (error instanceof ConfigError && error.location) {
    return {code: error.code, message: error.message, hint: error.jsonHint ?? error.hint, details: error.details, errors: [{message: error.message, ...error.location}]}
  }
  // A JSON reader saw no terminal output: the hint that refers to it ("see above") has a self-contained variant.
  if (error instanceof SkycapError) return {code: error.code, message: error.message, hint: error.jsonHint ?? error.hint, details: error.details}
  return {code: 'error', message: error.message}
}

/** Folder flags whose empty value would quietly mean their default (`render -o "$OUT"` with OUT unset printed to stdout). */
const FOLDER_FLAGS: Record<string, string> = {
  'output-dir': 'Leave the flag out to print the manifests on stdout.',
  dir: 'Leave the flag out to write into the current folder.',
}

/** The end of the hint for an empty environment (flag or argument). */
const DEFAULT_ENVIRONMENT = 'the default environment (SKYCAP_ENV, else defaultEnvironment in skycap.yaml); an empty value is refused so that an unset variable in a script never picks the default.'

/** oclif's FlagOutput and ArgOutput, which @oclif/core does not export. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ParsedValues = Record<string, any>

export type SkycapFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof SkycapCommand)['baseFlags'] & T['flags']>

/**
 * The arguments of `argv` that are neither flags nor the values of flags that take one (`-e prod`, `--timeout 5m`), and
 * those flags with their values.
 */
export function splitArguments(argv: string[], flags: Record<string, {type?: string; char?: string}>): {positional: string[]; flags: string[]} {
  const valued = new Set(Object.entries(flags).flatMap(([name, f]) => (f.type === 'option' ? [`--${name}`, ...(f.char ? [`-${f.char}`] : [])] : [])))
  const out = {positional: [] as string[], flags: [] as string[]}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--') {
      out.positional.push(...argv.slice(i + 1))
      break
    }
    if (!a.startsWith('-') || a === '-') out.positional.push(a)
    else out.flags.push(...(valued.has(a) && i + 1 < argv.length ? [a, argv[++i] as string] : [a]))
  }
  return out
}
