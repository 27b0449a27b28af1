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
}

/** Runs `program` with an argument array, never through a shell. Never rejects: the result says what happened. */
export type ProcessRunner = (program: string, args: string[], options?: RunOptions) => Promise<RunResult>

/** How many of a failed step's last lines are kept for the error. */
export const LAST_LINES = 20

/** The real runner: execa, stdout and stderr read line by line together. */
export const execaRunner: ProcessRunner = async (program, args, options = {}) => {
  const {execa} = await import('execa')
  const {createInterface} = await import('node:readline')
  const lastLines: string[] = []
  const subprocess = execa(program, args, {
    cwd: options.cwd,
    env: options.env,
    stdin: 'ignore',
    all: true,
    buffer: false,
    reject: false,
    cancelSignal: options.signal,
  })
  if (subprocess.all) {
    for await (const line of createInterface({input: subprocess.all, crlfDelay: Infinity})) {
      lastLines.push(line)
      if (lastLines.length > LAST_LINES) lastLines.shift()
      options.onLine?.(line)
    }
  }
  const result = await subprocess
  const missing = (result as {code?: string}).code === 'ENOENT'
  return {exitCode: result.exitCode ?? -1, missing, lastLines: missing ? [`${program}: not found`] : lastLines}
}
