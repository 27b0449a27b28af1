// The background port-forwards of skycap up: one supervisor process per service, detached so it survives skycap's
// exit, forwarding to a ready pod of the service and following the pods as they are replaced (keepForwarding, as
// `skycap port-forward`). This file is also the supervisor's entry point (see the end).
import {closeSync, existsSync, openSync, readdirSync, readFileSync, statSync} from 'node:fs'
import net from 'node:net'
import {basename} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {Kubectl} from '../kubectl/kubectl.js'
import type {Reporter} from '../ui/output.js'
import {canListen} from '../net/ports.js'
import {abortableSleep} from '../sleep.js'
import {type ForwardState, processAlive} from './state.js'

/** What one supervisor forwards. */
export interface ForwardSpec {
  kubectl: string
  context: string
  namespace: string
  /** The app and environment whose pods of `service` it forwards to (their labels select them). */
  app: string
  environment: string
  service: string
  port: number
  localPort: number
}

const SELF = fileURLToPath(import.meta.url)

/** Starts a detached supervisor for `spec` writing to `log`; returns its pid. */
export async function startForward(spec: ForwardSpec, log: string): Promise<number> {
  const {execa} = await import('execa')
  // A file descriptor of its own: execa's {file} target is written by this process, and would end with it.
  const fd = openSync(log, 'a')
  try {
    // execa's types take file descriptors as literals only (0, 1, 2, 3 ...); any open descriptor works at run time.
    const out = fd as 3
    const child = execa(process.execPath, [SELF, JSON.stringify(spec)], {detached: true, stdio: ['ignore', out, out], cleanup: false, reject: false})
    child.catch(() => undefined)
    child.nodeChildProcess.unref()
    if (child.pid === undefined) throw new Error(`could not start the port-forward of ${spec.service}`)
    return child.pid
  } finally {
    closeSync(fd)
  }
}

/** Whether the forward's supervisor still runs (and that pid is still ours, not a reused one). */
export function forwardAlive(forward: ForwardState): boolean {
  try {
    process.kill(forward.pid, 0)
  } catch {
    return false
  }
  const cmdline = `/proc/${forward.pid}/cmdline`
  if (!existsSync(cmdline)) return true
  // A supervisor of any install of skycap (npx, a project's own, a global one: a path other than this one's) is ours
  // to stop: its script is a forwards.js, its spec names the service and port. Only this install's counted, and
  // `down` with another install left the forwards running, holding their ports, for good.
  const [, script = '', spec = ''] = readFileSync(cmdline, 'utf8').split('\0')
  return basename(script) === basename(SELF) && spec.includes(`"service":"${forward.service}"`) && spec.includes(`"localPort":${forward.localPort}`)
}

/**
 * Stops a forward's supervisor, which stops its kubectl before it exits, and waits until it has: "stopped" means the
 * local port is free again (a new forward may take it at once). One that has not ended after `graceMs` is killed with
 * its process group (its kubectl too). False when it was not running.
 */
export async function stopForward(forward: ForwardState, graceMs = 5000): Promise<boolean> {
  if (!forwardAlive(forward)) return stopOrphans(forward)
  process.kill(forward.pid, 'SIGTERM')
  let deadline = Date.now() + graceMs
  while (forwardAlive(forward) && Date.now() < deadline) await abortableSleep(50)
  if (forwardAlive(forward)) {
    // Detached, the supervisor leads its own process group: kill it with the kubectl it started, and give the kernel
    // a moment to take them down.
    for (const target of [-forward.pid, forward.pid]) {
      try {
        process.kill(target, 'SIGKILL')
      } catch {
        // Gone already.
      }
    }
    deadline = Date.now() + 2000
    while (forwardAlive(forward) && Date.now() < deadline) await abortableSleep(50)
  }
  return true
}

/**
 * A supervisor killed outright (SIGKILL, the OOM killer) left its kubectl running, holding the local port: no later
 * up could forward there, and down did not stop it. kubectl stays in the supervisor's process group (detached, the
 * supervisor leads one whose id is its pid, kept while a member lives), so it is found by that group and by what it
 * forwards, then stopped. False when there was none (or /proc cannot tell).
 */
async function stopOrphans(forward: ForwardState): Promise<boolean> {
  const orphans = orphanedKubectls(forward)
  for (const pid of orphans) {
    try {
      process.kill(pid, 'SIGTERM')
    } catch {
      // Gone already.
    }
  }
  const alive = processAlive
  const deadline = Date.now() + 5000
  while (orphans.some(alive) && Date.now() < deadline) await abortableSleep(50)
  for (const pid of orphans.filter(alive)) process.kill(pid, 'SIGKILL')
  return orphans.length > 0
}

/** The kubectl processes in the group of `forward`'s supervisor that forward its port or watch its pod (Linux /proc). */
function orphanedKubectls(forward: ForwardState): number[] {
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return []
  }
  const found: number[] = []
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // stat: "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses, so read after the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])
      if (pgrp !== forward.pid) continue
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      // Its port-forward (to a pod: the port behind the Service may differ from the Service's) and its pod watch.
      const forwards = argv.includes('port-forward') && argv.some((a) => a.startsWith(`${forward.localPort}:`))
      if (forwards || (argv.includes('--watch') && argv.includes('pod'))) found.push(Number(entry))
    } catch {
      // Ended while read, or not ours to read.
    }
  }
  return found
}

/**
 * Tells a running forward to reconnect now (to the pods of a new release) instead of on its next failure, and waits
 * (up to `timeoutMs`) until its new kubectl says it forwards (its log gets a new "Forwarding from" line): up returned
 * while the old kubectl was still going, and the first request after it could fail. False when it did not say so.
 */
export async function reconnectForward(forward: ForwardState, timeoutMs = 10_000, signal?: AbortSignal): Promise<boolean> {
  if (!forwardAlive(forward)) return false
  const size = () => (existsSync(forward.log) ? statSync(forward.log).size : 0)
  const from = size()
  process.kill(forward.pid, 'SIGHUP')
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && !signal?.aborted) {
    if (size() > from) {
      const added = readFileSync(forward.log).subarray(from).toString('utf8')
      if (added.includes(`(${NEW_RELEASE})`) && /Forwarding from/.test(added.slice(added.indexOf(`(${NEW_RELEASE})`)))) return true
    }
    await abortableSleep(50, signal)
  }
  return false
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({host: '127.0.0.1', port})
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
  })
}

/** Waits until the forward listens; false after `timeoutMs`. */
export async function waitListening(port: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && !signal?.aborted) {
    if (await listening(port)) return true
    await abortableSleep(200, signal)
  }
  return false
}

/** Whether 127.0.0.1:`port` can be bound now. */
export function portFree(port: number): Promise<boolean> {
  return canListen('127.0.0.1', port)
}

/**
 * A stable local port for a service: the one it had before, else the Service's own port (8000 + port below 1024),
 * moving up past ports that are taken.
 */
export async function choosePort(servicePort: number, taken: Set<number>, isFree: (port: number) => Promise<boolean> = portFree): Promise<number> {
  let port = servicePort < 1024 ? 8000 + servicePort : servicePort
  while (taken.has(port) || !(await isFree(port))) port = port >= 65535 ? 1024 : port + 1
  return port
}

/** Why the supervisor moves its forward on SIGHUP (reconnectForward waits for the line that says it). */
export const NEW_RELEASE = 'skycap up deployed a new release'

/**
 * The supervisor: forwards to a ready pod of the service until SIGTERM, following the pods as `skycap port-forward`
 * does (keepForwarding): it moves to the newest ready pod when its pod starts terminating or stops being ready, so a
 * `skycap deploy` of the environment by hand, a pod deleted or evicted, loses no request but those kubectl's restart
 * takes. On SIGHUP (up's own redeploy, rolled out) it moves at once. It never gives up: a service with no ready pod, or
 * an API server away, is tried again every two seconds, saying so in its log.
 */
async function supervise(spec: ForwardSpec): Promise<void> {
  const kubectl = new Kubectl({binary: spec.kubectl, context: spec.context, namespace: spec.namespace})
  const stop = new AbortController()
  process.on('SIGTERM', () => stop.abort())
  process.on('SIGINT', () => stop.abort())
  // A SIGHUP while no forward runs (it chooses a pod, or waits for one) is kept for the next forward, which moves at
  // once: up waits for the line that says so.
  let onHangUp: (() => void) | undefined
  let pending = false
  process.on('SIGHUP', () => (onHangUp ? onHangUp() : (pending = true)))
  const moveAsked = (signal: AbortSignal) =>
    new Promise<string | undefined>((resolve) => {
      if (signal.aborted) return resolve(undefined)
      if (pending) {
        pending = false
        return resolve(NEW_RELEASE)
      }
      const done = (why: string | undefined) => {
        onHangUp = undefined
        signal.removeEventListener('abort', aborted)
        resolve(why)
      }
      const aborted = () => done(undefined)
      signal.addEventListener('abort', aborted, {once: true})
      onHangUp = () => done(NEW_RELEASE)
    })
  const say = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`)
  const reporter: Reporter = {mode: 'plain', info: say, warn: (m) => say(`warning: ${m}`)}
  const on = `127.0.0.1:${spec.localPort}`
  // Loaded once the signals are handled: up and down import this file, and need none of port-forward's modules.
  const {keepForwarding} = await import('../tasks/port-forward.js')
  while (!stop.signal.aborted) {
    try {
      await keepForwarding(
        {
          kubectl,
          app: spec.app,
          environment: spec.environment,
          namespace: spec.namespace,
          service: spec.service,
          remote: spec.port,
          local: spec.localPort,
          address: '127.0.0.1',
          on,
          stops: '`skycap down` stops',
        },
        {reporter, signal: stop.signal, moveAsked},
      )
      // kubectl ended as a Ctrl-C ends it (exit 0, or a signal that was not ours: the OOM killer, a `kill`).
      if (!stop.signal.aborted) say('kubectl port-forward was stopped; starting again in 2 s')
    } catch (error) {
      if (stop.signal.aborted) break
      say(`${error instanceof Error ? error.message : String(error)}; trying again in 2 s`)
    }
    await abortableSleep(2000, stop.signal).catch(() => undefined)
  }
  say('stopped')
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  // The process ends by itself once the supervisor returns (nothing else keeps it alive).
  supervise(JSON.parse(process.argv[2] ?? '{}') as ForwardSpec).catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exitCode = 1
  })
}
