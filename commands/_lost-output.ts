/**
 * The guard of stdout and stderr, shared by every command (commands/_base.ts) and by what oclif prints itself (a
 * topic's help, through the init hook in commands/_topic.ts). No import of oclif: the hook runs from dist/commands,
 * outside the bundle, and an import would load a second, unpatched copy of oclif whose own listener throws.
 */

/** On the process, not in this module: the hook's copy of this file and the bundle's are two modules. */
const GUARD = Symbol.for('skycap.stdout-guard')

interface Guard {
  /** The exit code of a lost stdout when the command's own is 0 or 1 (diff: 1 means changes, so a loss is 2). */
  lostCode?: number
}

function guard(): Guard | undefined {
  return (process as unknown as Record<symbol, Guard | undefined>)[GUARD]
}

/**
 * `skycap diff`'s exit 1 says "there are changes" and nothing else: a stdout lost on a full disk is an error there
 * (exit 2, as every diff that fails), where elsewhere it is exit 1 (it made `diff > f` of no changes say "changes").
 */
export function lostOutputExitsWith(code: number): void {
  const g = guard()
  if (g) g.lostCode = code
}

/**
 * A reader of stdout or stderr that went away (`skycap deploy staging | head -4`) made the next write fail with
 * EPIPE, which ended skycap at once (exit 1, without a word): after the apply, the release ran unrecorded, no
 * rollback, the lock held until it expired. What is written to a reader that is gone is dropped and the command
 * finishes its work (a deploy records its release, releases its lock); `logs` stops its streams itself.
 */
export function keepGoingWithoutReaders(): void {
  if (guard()) return
  const state: Guard = {}
  ;(process as unknown as Record<symbol, Guard>)[GUARD] = state
  let lost = false
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      // Any other failed write (a full disk: `skycap render prod > /dev/full`, ENOSPC; EIO) crashed with a stack trace,
      // a deploy too after its release was recorded. It is dropped the same way, and said as the process ends: exit 1
      // unless the command failed already, as `cat` ends when it cannot write. A failing stderr is dropped silently.
      if (error.code === 'EPIPE' || stream !== process.stdout || lost) return
      lost = true
      process.once('exit', () => {
        process.stderr.write(`Error: the output on stdout was lost: ${error.message}; the command's own work went on to its end\n`)
        const code = Number(process.exitCode ?? 0)
        if (state.lostCode !== undefined && code <= 1) process.exitCode = state.lostCode
        else if (!code) process.exitCode = 1
      })
    })
  }
}
