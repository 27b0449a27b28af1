/**
 * skycap's error hierarchy and the one table that maps errors to exit codes.
 * Every failure a user can meet is one of these; commands print `message` and `hint` and exit with `exitCode`.
 */

/** The exit-code table. Documented in the README; krane's 70 for timeouts is kept so CI scripts keep working. */
export const ExitCode = {
  /** Success (and, for `diff`, "no changes"). */
  OK: 0,
  /** The operation ran and failed (a rollout failed, kubectl refused an object); for `diff`, "there are changes". */
  FAILED: 1,
  /** Invalid input or configuration (also a revision whose GitHub checks requireChecks refuses); nothing was changed. */
  INVALID: 2,
  /** The environment is locked by another deploy. */
  LOCKED: 3,
  /** The cluster, kubectl, an image registry or the GitHub API (requireChecks) cannot be reached or refused the credentials. */
  UNREACHABLE: 4,
  /** Interrupted by SIGINT/SIGTERM (128 + 2, as shells report it). */
  INTERRUPTED: 130,
  /** Timed out (krane's code). */
  TIMEOUT: 70,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** Where in a file something is wrong; 1-based. */
export interface SourceLocation {
  file: string
  line?: number
  column?: number
}

export interface SkycapErrorOptions {
  /** What to do next, one sentence. */
  hint?: string
  /**
   * The hint for a `--json` reader, when `hint` refers to terminal output that reader did not see ("see the events
   * above"): self-contained, pointing into the document instead.
   */
  jsonHint?: string
  /** Structured details for `--json`; must never hold secret values. */
  details?: Record<string, unknown>
  cause?: unknown
}

/** Base of every error skycap reports to a user. */
export class SkycapError extends Error {
  readonly exitCode: ExitCodeValue = ExitCode.FAILED
  /** Stable machine-readable code for `--json` consumers. */
  readonly code: string = 'failed'
  readonly hint?: string
  readonly jsonHint?: string
  readonly details?: Record<string, unknown>

  constructor(message: string, options: SkycapErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = new.target.name
    this.hint = options.hint
    this.jsonHint = options.jsonHint
    this.details = options.details
  }
}

/** Bad input from the user: flags, arguments, revision, environment name. Exit 2. */
export class UserError extends SkycapError {
  override readonly exitCode = ExitCode.INVALID
  override readonly code: string = 'invalid_input'
}

/** A problem in skycap.yaml, a template or a config file, with its location. Exit 2. */
export class ConfigError extends UserError {
  override readonly code: string = 'invalid_config'
  readonly location?: SourceLocation

  constructor(message: string, location?: SourceLocation, options: SkycapErrorOptions = {}) {
    super(location ? `${formatLocation(location)}: ${message}` : message, options)
    this.location = location
  }
}

/** Several configuration problems at once, so a user can fix them all in one go. Exit 2. */
export class ConfigErrors extends UserError {
  override readonly code = 'invalid_config'
  readonly errors: ConfigError[]

  /** `target`: the app (and environment) the configuration is of, when known (the CI job summary names them). */
  constructor(errors: ConfigError[], hint?: string, target?: {app?: string; environment?: string}) {
    const ordered = inFileOrder(errors)
    super(ordered.map((e) => e.message).join('\n'), {hint, ...(target ? {details: target} : {})})
    this.errors = ordered
  }
}

/**
 * Problems as a reader meets them: each file's together (files in the order their first problem came), by line and
 * column within a file, the ones without a line first. The checks find them in their own order (the schema's, then
 * skycap's), which put a key at line 34 before one at line 11.
 */
function inFileOrder(errors: ConfigError[]): ConfigError[] {
  const files = new Map<string | undefined, number>()
  for (const e of errors) if (!files.has(e.location?.file)) files.set(e.location?.file, files.size)
  const rank = (e: ConfigError): number[] => [files.get(e.location?.file) ?? 0, e.location?.line ?? 0, e.location?.column ?? 0]
  return errors
    .map((e, index) => ({e, key: [...rank(e), index]}))
    .sort((a, b) => {
      for (let i = 0; i < a.key.length; i++) if (a.key[i] !== b.key[i]) return (a.key[i] ?? 0) - (b.key[i] ?? 0)
      return 0
    })
    .map(({e}) => e)
}

/** No tool that builds images is installed or working (docker buildx, docker, podman). Exit 2: nothing was built. */
export class NoBuilderError extends UserError {
  override readonly code = 'no_builder'
}

/** An image build (or its push) failed; the message carries the builder's last lines. Exit 1. */
export class BuildFailedError extends SkycapError {
  override readonly code = 'build_failed'
}

/**
 * An object the command would change belongs to another app or environment sharing the namespace, or was not
 * deployed by skycap (scale). Exit 2: nothing was changed.
 */
export class OwnedElsewhereError extends UserError {
  override readonly code = 'owned_elsewhere'
}

/** The environment's namespace does not exist yet (nothing was deployed there) and the command needs it. Exit 2. */
export class NamespaceMissingError extends UserError {
  override readonly code = 'namespace_not_found'
}

/** The environment's deploy lock is held by someone else. Exit 3. */
export class LockedError extends SkycapError {
  override readonly exitCode = ExitCode.LOCKED
  override readonly code = 'locked'
}

/** A hook Job of an earlier, interrupted deploy still runs; a deploy with hooks waits its turn. Exit 3, as a held lock. */
export class HookRunningError extends SkycapError {
  override readonly exitCode = ExitCode.LOCKED
  override readonly code = 'hook_running'
}

/** kubectl could not reach the cluster, or is not installed. Exit 4. */
export class UnreachableError extends SkycapError {
  override readonly exitCode = ExitCode.UNREACHABLE
  override readonly code = 'unreachable'
}

/**
 * The cluster's API server did not answer at all (refused, reset, timed out, no route): unlike refused credentials
 * or a missing kubectl, this can pass on its own, so a watch waits it out until its deadline.
 */
export class ApiServerUnreachableError extends UnreachableError {
  /** kubectl's one-line reason, e.g. `the connection to the server 10.0.0.1:6443 was refused`. */
  readonly reason: string

  constructor(message: string, reason: string, options: SkycapErrorOptions = {}) {
    super(message, options)
    this.reason = reason
  }
}

/** What kubectl's failure means, classified from its stderr. */
export type KubectlFailureKind = 'not_found' | 'forbidden' | 'conflict' | 'already_exists' | 'invalid' | 'unreachable' | 'no_context' | 'timeout' | 'other'

/** kubectl ran and failed. Exit 1 (invalid objects exit 2: nothing was changed). */
export class KubectlError extends SkycapError {
  override readonly code: string
  override readonly exitCode: ExitCodeValue
  readonly kind: KubectlFailureKind
  readonly args: readonly string[]
  readonly stderr: string
  /**
   * The change kubectl's message calls for, when it calls for one (a Job changed in place gets a new name per
   * release), without "nothing was changed": the hint says it, and a refused object's file and line can precede it.
   */
  readonly advice?: string

  constructor(kind: KubectlFailureKind, message: string, args: readonly string[], stderr: string, options: SkycapErrorOptions & {advice?: string} = {}) {
    super(message, options)
    this.kind = kind
    this.args = args
    this.stderr = stderr
    if (options.advice !== undefined) this.advice = options.advice
    this.code = `kubectl_${kind}`
    this.exitCode = kind === 'invalid' || kind === 'no_context' ? ExitCode.INVALID : ExitCode.FAILED
  }
}

/** A rollout failed (and was perhaps rolled back). Exit 1. */
export class DeployFailedError extends SkycapError {
  override readonly code = 'deploy_failed'
}

/** The operation did not finish within its time limit. Exit 70. */
export class TimeoutError extends SkycapError {
  override readonly exitCode = ExitCode.TIMEOUT
  override readonly code = 'timeout'
}

/** SIGINT/SIGTERM arrived; what was held was released. Exit 130. */
export class InterruptedError extends SkycapError {
  override readonly exitCode = ExitCode.INTERRUPTED
  override readonly code = 'interrupted'
}

/**
 * `skycap diff` could not compute a diff. Exit 2, never 1: for diff, 1 means "there are changes", so a CI step
 * written as `skycap diff prod || deploy` must not read a failure as changes (`kubectl diff` and `git diff
 * --exit-code` use the same convention). Unreachable (4) and timeouts keep their own codes.
 */
export class DiffError extends SkycapError {
  override readonly exitCode = ExitCode.INVALID
  override readonly code: string

  constructor(cause: SkycapError | Error) {
    const own = cause instanceof SkycapError ? cause : undefined
    super(cause.message, {cause, hint: own?.hint, jsonHint: own?.jsonHint, details: own?.details})
    this.code = cause instanceof SkycapError ? cause.code : 'diff_failed'
  }
}

/** `file:line:column` as editors understand it. */
export function formatLocation(loc: SourceLocation): string {
  if (loc.line === undefined) return loc.file
  // A file of an older revision is shown as `skycap.yaml (at 687d954)`: the position goes right after the path, so
  // editors and terminals that open `file:line:col` still find it (`skycap.yaml:27:15 (at 687d954)`).
  const at = / \(at [^)]+\)$/.exec(loc.file)
  const file = at ? loc.file.slice(0, at.index) : loc.file
  const position = loc.column === undefined ? `${file}:${loc.line}` : `${file}:${loc.line}:${loc.column}`
  return at ? `${position}${at[0]}` : position
}

/** The exit code for anything thrown: skycap's own errors carry theirs, anything else is a bug (1). */
export function exitCodeOf(error: unknown): ExitCodeValue {
  return error instanceof SkycapError ? error.exitCode : ExitCode.FAILED
}
