/** How a builder's child process is run; unit tests pass a fake that records the argv. */

export interface RunOptions {
  cwd?: string
  /** Added to the inherited environment. */
  env?: Record<string, string>
  /** Each line of stdout and stderr, as it arrives. */
  onLine?: (line: string) => void
  signal?: AbortSignal
}

export interface RunResult {
  /** The exit code; -1 when the program could not be started or was killed. */
  exitCode: number
  /** True when the program is not installed (not found on PATH). */
  missing: boolean
  /** The last lines of stdout and stderr together (at most LAST_LINES). */
  lastLines: string[]
  /** The first line that reads as an error (ERROR_LINE), even when it scrolled out of lastLines. */
  firstError?: string
}

/** A line of a tool's output that says what went wrong (docker, podman, buildx, compilers, shells). */
export const ERROR_LINE = /\b(error|unknown|not found|cannot|can't|could not|no such|denied|refused|failed|fatal|invalid)\b/i

/** A line that only points at the tool's help (`Run 'docker --help' for more information`): never the reason. */
export const HELP_POINTER = /^(run|see) '[^']*--help'/i

/** Runs `program` with an argument array, never through a shell. Never rejects: the result says what happened. */
export type ProcessRunner = (program: string, args: string[], options?: RunOptions) => Promise<RunResult>

/** How many of a failed step's last lines are kept for the error. */
export const LAST_LINES = 20

/** What a runner keeps of a process's output: its last LAST_LINES lines and its first error line. */
export class OutputLines {
  private readonly last: string[] = []
  private firstError?: string

  push(line: string): void {
    this.last.push(line)
    if (this.last.length > LAST_LINES) this.last.shift()
    if (this.firstError === undefined && ERROR_LINE.test(line) && !HELP_POINTER.test(line.trim())) this.firstError = line
  }

  result(): Pick<RunResult, 'lastLines' | 'firstError'> {
    return {lastLines: [...this.last], ...(this.firstError === undefined ? {} : {firstError: this.firstError})}
  }
}

/** How long an interrupted builder's process group has after SIGTERM before it gets SIGKILL. */
export const KILL_AFTER_MS = 5000

/** The real runner: execa, stdout and stderr read line by line together. */
export const execaRunner: ProcessRunner = async (program, args, options = {}) => {
  const {execa} = await import('execa')
  const {createInterface} = await import('node:readline')
  const output = new OutputLines()
  // Its own process group, stopped whole on an interrupt: a SIGINT sent to skycap alone (`kill -INT`, a CI runner)
  // killed only the builder, and what it had started (a `sleep` in a build.command's shell) held the output open
  // until it ended on its own, with skycap waiting for it. A terminal's Ctrl-C reaches skycap, which stops the group.
  const subprocess = execa(program, args, {
    cwd: options.cwd,
    env: options.env,
    stdin: 'ignore',
    all: true,
    buffer: false,
    reject: false,
    detached: true,
    cancelSignal: options.signal,
  })
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (subprocess.pid !== undefined) process.kill(-subprocess.pid, signal)
    } catch {
      // The group has ended already.
    }
  }
  // What ignores SIGTERM (a build.command that traps it, and the sleep it started, which held the output open) is
  // killed after KILL_AFTER_MS.
  let killer: NodeJS.Timeout | undefined
  const stopGroup = () => {
    signalGroup('SIGTERM')
    killer = setTimeout(() => signalGroup('SIGKILL'), KILL_AFTER_MS)
    killer.unref()
  }
  options.signal?.addEventListener('abort', stopGroup, {once: true})
  if (options.signal?.aborted) stopGroup()
  try {
    if (subprocess.all) {
      for await (const line of createInterface({input: subprocess.all, crlfDelay: Infinity})) {
        output.push(line)
        options.onLine?.(line)
      }
    }
  } finally {
    options.signal?.removeEventListener('abort', stopGroup)
  }
  const result = await subprocess
  clearTimeout(killer)
  const missing = (result as {code?: string}).code === 'ENOENT'
  return {exitCode: result.exitCode ?? -1, missing, ...(missing ? {lastLines: [`${program}: not found`]} : output.result())}
}
