import {existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {homeFolder} from '../paths.js'
import {basename, join} from 'node:path'

import type {CreatedCluster} from './cluster-tool.js'
import type {Environment} from '../config/types.js'
import {nodeCrypto} from '../builtins.js'

/** One background port-forward of skycap up. */
export interface ForwardState {
  service: string
  /** The Service's port. */
  port: number
  /** The port on 127.0.0.1. */
  localPort: number
  /** The forward's supervisor process (survives skycap's exit). */
  pid: number
  /** Its output (kubectl port-forward's lines). */
  log: string
}

/**
 * What skycap up made, so that down removes exactly that and the next up reuses it. Kept in
 * `$XDG_CACHE_HOME/skycap/up/` (default `~/.cache/skycap/up/`), one file per skycap.yaml and environment.
 */
export interface UpState {
  version: 1
  app: string
  environment: string
  configFile: string
  context: string
  namespace: string
  /** The namespace did not exist before up: down deletes it. */
  createdNamespace: boolean
  /** A cluster up created: down --cluster deletes it. */
  createdCluster?: CreatedCluster
  forwards: ForwardState[]
  /**
   * The attached `skycap up` processes (pids) following the logs (and `--watch`) until Ctrl-C: `down` stops them
   * first (a watch went on redeploying into the namespace down had deleted, recreating it).
   */
  attached?: number[]
  /** Set by writeState. */
  updatedAt?: string
}

/** The folder of up's state files. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homeFolder(), '.cache'), 'skycap', 'up')
}

/** The state file of `environment` of the app whose skycap.yaml is `configFile` (an absolute path). */
export function stateFile(configFile: string, environment: string, env: NodeJS.ProcessEnv = process.env): string {
  const key = nodeCrypto().createHash('sha256').update(`${configFile}\0${environment}`).digest('hex').slice(0, 16)
  return join(stateDir(env), `${environment}-${key}.json`)
}

/**
 * Whether skycap up brought `environment` of the skycap.yaml at `configFile` up here (its state, or an up still
 * running): `skycap down ENV` then undoes what up made, as it always did, rather than take a deployed environment down.
 */
export function upRanFor(configFile: string, environment: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const file = stateFile(configFile, environment, env)
  return readState(file) !== undefined || runningUps(file).length > 0
}

/** The saved state, or undefined when there is none (or it cannot be read: then up starts afresh). */
export function readState(file: string): UpState | undefined {
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as UpState
    return state.version === 1 ? state : undefined
  } catch {
    return undefined
  }
}

/**
 * The derived environment (no context in skycap.yaml) on the context the last `skycap up` of it used, recorded in its
 * state, rather than the kubeconfig's current one; any other environment as it is.
 */
export function onUpContext(env: Environment, configFile: string): Environment {
  if (!env.derived || env.context !== undefined) return env
  const context = readState(stateFile(configFile, env.name))?.context
  return context ? {...env, context} : env
}

/** Saves the state atomically (a rename), so a crash never leaves half a file. */
export function writeState(file: string, state: UpState): void {
  mkdirSync(join(file, '..'), {recursive: true})
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, `${JSON.stringify({...state, updatedAt: new Date().toISOString()}, null, 2)}\n`)
  renameSync(tmp, file)
}

/**
 * Saves `state` as writeState does, first taking into it the forwards that another skycap up of the same app and
 * environment recorded in the file since this one read it (alive, same context and namespace, a service this state
 * has no forward for): two ups at once (a second terminal, a script) otherwise each wrote the forwards it knew of,
 * and the forwards of the one that wrote first ran on untracked (down did not stop them; they held their ports, so
 * the next up moved every URL). Returns `state`, changed.
 */
export function saveState(file: string, state: UpState, alive: (forward: ForwardState) => boolean): UpState {
  const recorded = readState(file)
  if (recorded && recorded.context === state.context && recorded.namespace === state.namespace) {
    const ours = new Set(state.forwards.map((f) => f.service))
    const pids = new Set(state.forwards.map((f) => f.pid))
    for (const f of recorded.forwards) {
      if (ours.has(f.service) || pids.has(f.pid) || !alive(f)) continue
      state.forwards.push(f)
      ours.add(f.service)
    }
    // Another attached up's pid stays; this process's own entry is what `state` says.
    const others = (recorded.attached ?? []).filter((pid) => pid !== process.pid && !(state.attached ?? []).includes(pid) && upAlive(pid))
    if (others.length) state.attached = [...(state.attached ?? []), ...others]
  }
  writeState(file, state)
  return state
}

export function removeState(file: string): void {
  rmSync(file, {force: true})
}

/**
 * Whether `pid` is still a running `skycap up` (a recorded pid may have ended, and been reused by another process):
 * alive, and where /proc tells, with `up` among its arguments.
 */
export function upAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  const cmdline = `/proc/${pid}/cmdline`
  if (!existsSync(cmdline)) return true
  try {
    return readFileSync(cmdline, 'utf8').split('\0').includes('up')
  } catch {
    return false
  }
}

/**
 * Every skycap up of this app and environment marks itself running, from its start to its end, with a file beside the
 * state file (`<state>.up-<pid>`): down stops it first. The state file alone named only ups attached to the logs, so a
 * down while an up was still building or deploying said it took the app down, and that up then deployed it again.
 * Returns the function that removes the mark.
 */
export function markUpRunning(file: string): () => void {
  mkdirSync(join(file, '..'), {recursive: true})
  const mark = upMark(file, process.pid)
  writeFileSync(mark, '')
  return () => {
    rmSync(mark, {force: true})
    rmSync(`${mark}${STOPPING}`, {force: true})
  }
}

/** Beside an up's mark, the claim of the down that stops it: `<state>.up-<pid>.down`, holding that down's pid. */
const STOPPING = '.down'

/** The pids of the other ups of this state file still running (marks of ended ones are removed on the way). */
export function runningUps(file: string): number[] {
  const prefix = `${basename(file)}.up-`
  let names: string[]
  try {
    names = readdirSync(join(file, '..'))
  } catch {
    return []
  }
  const pids: number[] = []
  for (const name of names) {
    if (!name.startsWith(prefix)) continue
    if (name.endsWith(STOPPING)) {
      // A claim whose up has ended (it removes both as it ends; a down may claim it just after).
      if (!existsSync(join(file, '..', name.slice(0, -STOPPING.length)))) rmSync(join(file, '..', name), {force: true})
      continue
    }
    const pid = Number(name.slice(prefix.length))
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) continue
    if (upAlive(pid)) pids.push(pid)
    else for (const left of [name, `${name}${STOPPING}`]) rmSync(join(file, '..', left), {force: true})
  }
  return pids.sort((a, b) => a - b)
}

/**
 * Claims the stop of up `pid` for this down, so that up says who stopped it (not "keeps running"). False when another
 * skycap down still running has claimed it: that one has signalled it, and a second SIGTERM is a second Ctrl-C, which
 * made the up quit at once (two downs at once left the namespace it had just created, unrecorded, for good). A claim
 * of a down that has ended is taken over.
 */
export function claimStop(file: string, pid: number): boolean {
  // No mark: ended meanwhile (its mark went with it), or an attached up of a skycap before marks, which is signalled
  // as before (nothing to claim).
  if (!existsSync(upMark(file, pid))) return processAlive(pid)
  const claim = `${upMark(file, pid)}${STOPPING}`
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(claim, JSON.stringify({stoppedBy: process.pid}), {flag: 'wx'})
      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return true
      const by = claimedBy(claim)
      if (by !== undefined && by !== process.pid && processAlive(by)) return false
      // Empty: another down is writing its claim this instant (taken over only once it is a stale leftover).
      if (by === undefined && Date.now() - statMs(claim) < 2000) return false
      rmSync(claim, {force: true})
    }
  }
  return false
}

/** The pid of the skycap down that stopped this up, if one did. */
export function stoppedByDown(file: string): number | undefined {
  return claimedBy(`${upMark(file, process.pid)}${STOPPING}`)
}

function claimedBy(claim: string): number | undefined {
  try {
    const by = (JSON.parse(readFileSync(claim, 'utf8')) as {stoppedBy?: unknown}).stoppedBy
    return typeof by === 'number' ? by : undefined
  } catch {
    return undefined
  }
}

/** When `path` was last written (0 when it is gone). */
function statMs(path: string): number {
  try {
    return statSync(path).mtimeMs
  } catch {
    return 0
  }
}

/** Whether a process of that pid exists (signal 0). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function upMark(file: string, pid: number): string {
  return `${file}.up-${pid}`
}
