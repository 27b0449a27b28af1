import type {ConfigWarning} from '../config/types.js'
import {formatLocation} from '../errors.js'

/** How progress is shown on stderr. */
export type ProgressMode = 'interactive' | 'plain' | 'silent'

/** Below this many columns listr2's indented task lines wrap into a character or two per line: plain lines instead. */
export const MIN_INTERACTIVE_COLUMNS = 20

/**
 * Decides how to talk to the user: listr2 on a TTY, plain timestamped lines in CI, pipes and under --json (whose
 * document is on stdout: a long deploy still shows its progress on stderr, as lines a log keeps).
 * Also plain lines on a terminal whose width is 0 or unknown (`script`, `docker -t`, some CI runners report 0).
 */
export function progressMode(options: {json?: boolean; env?: NodeJS.ProcessEnv; stderrIsTTY?: boolean; columns?: number} = {}): ProgressMode {
  const env = options.env ?? process.env
  const tty = options.stderrIsTTY ?? Boolean(process.stderr.isTTY)
  if (options.json || !tty || env.CI === 'true' || env.CI === '1' || env.TERM === 'dumb') return 'plain'
  const columns = 'columns' in options ? options.columns : terminalColumns()
  if (columns === undefined || !(columns >= MIN_INTERACTIVE_COLUMNS)) return 'plain'
  return 'interactive'
}

/**
 * The width listr2 would lay out in: it writes to stderr but measures process.stdout.columns (80 when stdout is not
 * a terminal), so the narrower of the two terminals; undefined when stderr reports none.
 */
export function terminalColumns(stderr: {columns?: number} = process.stderr, stdout: {isTTY?: boolean; columns?: number} = process.stdout): number | undefined {
  if (stderr.columns === undefined) return undefined
  return stdout.isTTY ? Math.min(stderr.columns, stdout.columns ?? 0) : stderr.columns
}

/** Whether to colour output on a stream. */
export function useColour(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true
  return Boolean(stream.isTTY)
}

/** Progress and warnings on stderr. Engine code receives one of these instead of printing. */
export interface Reporter {
  readonly mode: ProgressMode
  /** A progress line (plain mode: timestamped). */
  info(message: string): void
  warn(message: string): void
  /** A phase of the command starts (CI logs fold each into a group, see src/ci/); null: what follows is in none. */
  phase?(title: string | null): void
}

/** The reporter used by commands: writes to stderr unless silent. */
export function stderrReporter(mode: ProgressMode, clock: () => Date = () => new Date()): Reporter {
  const write = (line: string) => process.stderr.write(`${line}\n`)
  return {
    mode,
    info(message) {
      if (mode === 'silent') return
      write(mode === 'plain' ? `${clock().toISOString()} ${message}` : message)
    },
    warn(message) {
      if (mode === 'silent') return
      write(`warning: ${message}`)
    },
  }
}

/** A reporter that keeps lines in memory (tests, --json). */
export function memoryReporter(): Reporter & {lines: string[]; warnings: string[]} {
  const lines: string[] = []
  const warnings: string[] = []
  return {mode: 'silent', lines, warnings, info: (m) => lines.push(m), warn: (m) => warnings.push(m)}
}

/** A config warning as one line: `file:line:col: message`. */
export function formatWarning(w: ConfigWarning): string {
  return w.file === undefined ? w.message : `${formatLocation({...w, file: w.file})}: ${w.message}`
}

/** A sentence as a dry run says it: `Dry run: ` and the sentence, its first letter lowered. */
export function dryRunLine(sentence: string): string {
  return `Dry run: ${sentence.charAt(0).toLowerCase()}${sentence.slice(1)}`
}

/** `1 object`, `3 objects`: a count with its noun (regular plurals only). */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}
