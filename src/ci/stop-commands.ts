// GitHub Actions reads every line of a step's stdout and stderr that starts with `::` (and the older `##[` anywhere)
// as a workflow command: `::add-mask::`, `::error::`, `::endgroup::`, `::stop-commands::`. Text skycap does not control
// (a pod's output in `run` and `logs`, a build's output, a hook's lines, an event's message) could issue them in the
// user's job. GitHub's defence: `::stop-commands::TOKEN` before such text and `::TOKEN::` after it; no command in
// between is processed (https://docs.github.com/actions/reference/workflow-commands-for-github-actions#stopping-and-starting-workflow-commands).
// One stopped region at a time for the whole process: the runner has one state per step, and a second stop-commands
// inside a region is text, so a region nested in another (a warning quoting an event while `logs -f` streams) opens
// nothing, and the first `::TOKEN::` would end both.

import {fstatSync} from 'node:fs'

import {nodeCrypto} from '../builtins.js'
import {ciSystem} from './workflow.js'

/** Writes one line (the newline is the writer's). */
export type LineWriter = (line: string) => void

interface StoppedRegion {
  token: string
  /** Where its markers go: the stream of the text it holds (stderr for stdout's); each starts a line of its own. */
  write: LineWriter
  /** Its markers go to another stream than its text (stderr for stdout's): the runner needs a moment before the end. */
  apart?: boolean
}

/**
 * How long the end of a region whose markers go to stderr waits for the runner to process what stdout already holds.
 * stdout's writes to a pipe are synchronous (Linux, macOS): its last lines are in the pipe; the runner's reader takes
 * them at once, and this leaves it time to process them before it reads the `::TOKEN::`.
 */
export const RESUME_PAUSE_MS = 100

let region: StoppedRegion | undefined

/** The streams whose last untrusted text ended in the middle of a line (a marker written there ends that line first). */
const unterminated = new WeakMap<object, boolean>()
let exitHooked = false

/** Whether workflow commands are stopped now (a region is open). */
export function commandsStopped(): boolean {
  return region !== undefined
}

/**
 * Opens a stopped region unless one is open: `::stop-commands::TOKEN`, TOKEN fresh and random (node:crypto, loaded
 * on first use). True when this call opened it (its caller then ends it).
 */
export function stopCommands(write: LineWriter): boolean {
  if (region) return false
  region = {token: nodeCrypto().randomBytes(16).toString('hex'), write}
  write(`::stop-commands::${region.token}`)
  if (!exitHooked) {
    exitHooked = true
    // Whatever way the process ends (a second Ctrl-C, process.exit), the runner processes workflow commands again in
    // the rest of the step. Writes to a pipe are synchronous on Linux and macOS: they land before the exit.
    process.once('exit', () => resumeCommands())
  }
  return true
}

/** Ends the open region, if one is: `::TOKEN::` on a line of its own. Before every workflow command of skycap's own. */
export function resumeCommands(): void {
  const open = region
  if (!open) return
  region = undefined
  // Synchronous, as this runs on exit too; once per region (a `run`, a `logs -f`, the rare warning during one).
  if (open.apart) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RESUME_PAUSE_MS)
  open.write(`::${open.token}::`)
}

/**
 * `stream` for output skycap does not control (a pod's, a build's). Under GitHub Actions its first write opens a
 * stopped region, which stays open until skycap writes a workflow command of its own or the command ends. A stream
 * that is a file (`skycap run web -- pg_dump > dump.sql`) never reaches the runner, and gets no markers. Elsewhere
 * `stream` itself.
 *
 * The markers go into `stream` itself (stderr: build output, a hook's lines) unless `markers` names another stream.
 * stdout is given stderr: what `run` and `logs` print there is the command's result, which a pipe may carry on
 * (`skycap run db -- pg_dump | gzip > dump.gz`); a marker line in it would corrupt the data, and skycap cannot tell
 * the runner's pipe from the user's. The runner reads stdout and stderr apart and, of the lines it has read, processes
 * stderr's first: a `::stop-commands::` written before the text is processed before it, and `::TOKEN::` is written
 * only after a pause in which the runner reads and processes what stdout already holds (resumeCommands).
 */
export function untrustedStream<T extends NodeJS.WritableStream>(stream: T, env: NodeJS.ProcessEnv = process.env, options: {markers?: NodeJS.WritableStream} = {}): T {
  if (ciSystem(env) !== 'github' || isFile(stream)) return stream
  const raw = (stream.write as (...args: unknown[]) => boolean).bind(stream)
  const apart = options.markers !== undefined && options.markers !== stream ? options.markers : undefined
  // A marker starts a line of the stream it goes to, whichever untrusted text left that stream in the middle of one
  // (`exec`: the pod's stdout opens the region, its stderr ends without a newline before the end's marker).
  const target = apart ?? stream
  const markers = (line: string) => {
    const text = `${unterminated.get(target) ? '\n' : ''}${line}\n`
    unterminated.set(target, false)
    if (apart) apart.write(text)
    else raw(text)
  }
  const write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    if (chunk.length > 0) {
      if (stopCommands(markers) && apart && region) region.apart = true
      const last = typeof chunk === 'string' ? chunk.charCodeAt(chunk.length - 1) : chunk[chunk.length - 1]
      unterminated.set(stream, last !== 10)
    }
    return raw(chunk, ...rest)
  }
  return new Proxy(stream, {
    get(target, key) {
      if (key === 'write') return write
      const value = Reflect.get(target, key, target) as unknown
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}

function isFile(stream: NodeJS.WritableStream): boolean {
  const fd = (stream as {fd?: unknown}).fd
  if (typeof fd !== 'number') return false
  try {
    return fstatSync(fd).isFile()
  } catch {
    return false
  }
}
