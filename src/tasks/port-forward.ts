import net from 'node:net'

import {unknownServiceError, withFlag} from '../config/environment.js'
import {connect, type KubectlFactory, openEnvironment} from '../env/connect.js'
import {SkycapError, UserError} from '../errors.js'
import {abortableSleep} from '../sleep.js'
import type {Reporter} from '../ui/output.js'
import {forwardTarget} from './pods.js'

export interface PortForwardOptions {
  service: string
  /** `[LOCAL:]REMOTE`, as kubectl takes it. */
  ports: string
  environment?: string
  configPath?: string
  /** Local address to listen on (default 127.0.0.1). */
  address?: string
  /** --json: kubectl's "Forwarding from …" lines go to stderr, stdout carries the one JSON document. */
  json?: boolean
}

/** `LOCAL:REMOTE` or `REMOTE` as two port numbers (LOCAL 0: any free port); a UserError for anything else. */
export function parsePorts(text: string): {local: number; remote: number} {
  const m = /^(?:(\d{1,5}):)?(\d{1,5})$/.exec(text)
  const local = Number(m?.[1] ?? m?.[2])
  const remote = Number(m?.[2])
  if (!m || remote < 1 || remote > 65535 || local > 65535)
    throw new UserError(`"${text}" is not [LOCAL:]REMOTE ports`, {hint: 'For example 8080, or 5433:5432 (local 5433 to port 5432 of the service).'})
  return {local, remote}
}

/** Whether `address`:`port` can be listened on now (kubectl would fail on it with its own words otherwise). */
export function canListen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen({host: address, port, exclusive: true}, () => server.close(() => resolve(true)))
  })
}

/** A forward that ran at least this long before kubectl ended was established: its pod went away, so reconnect. */
export const RECONNECT_AFTER_MS = 5000

/** `skycap port-forward SERVICE [LOCAL:]REMOTE`: forwards a local port to the service until interrupted. */
export async function portForward(
  options: PortForwardOptions,
  deps: {kubectl: KubectlFactory; reporter: Reporter; signal?: AbortSignal; clock?: () => number},
): Promise<{environment: string; target: string; local: number; remote: number}> {
  const clock = deps.clock ?? Date.now
  const {local, remote} = parsePorts(options.ports)
  const {loaded, env} = await openEnvironment({configPath: options.configPath, environment: options.environment, repository: false})
  const app = loaded.config.app
  if (!env.services[options.service]) throw unknownServiceError(loaded, options.service, 'skycap port-forward SERVICE PORTS', withFlag(options.environment))
  const address = options.address ?? '127.0.0.1'
  // A local port in use is the user's to change: said before anything else, not as kubectl's "unable to listen on
  // any of the requested ports" followed by a hint about the service's port.
  if (local !== 0 && !(await canListen(address, local)))
    throw new UserError(`${address}:${local} is already in use on this machine`, {
      hint: `Choose another local port (skycap port-forward ${options.service} ${local === 65535 ? 1024 : local + 1}:${remote}), or 0:${remote} for any free one.`,
    })
  const {kubectl} = await connect(env, deps.kubectl, deps.reporter)
  let target = await forwardTarget(kubectl, app, env.name, options.service)
  deps.reporter.info(`Forwarding ${address}:${local || '(any)'} to ${target} port ${remote} in ${env.name} (namespace ${env.namespace}); Ctrl-C stops`)
  for (;;) {
    const started = clock()
    const r = await kubectl.attached(['port-forward', target, `${local}:${remote}`, '--address', address], {
      signal: deps.signal,
      stdoutToStderr: options.json ?? false,
    })
    // Ctrl-C is how a port-forward ends: kubectl exits 0 or dies of the signal (a SIGINT or SIGTERM that reached only
    // skycap stops kubectl through `signal`).
    if (r.exitCode === 0 || r.signal || deps.signal?.aborted) break
    // kubectl forwards to one pod, even through a Service, and ends ("lost connection to pod") when that pod goes: a
    // deploy, a restart, a scale-down. A forward that had been running goes on with a ready pod of the service, on
    // the same local port (not with 0: kubectl would pick another). One that fails at once is reported.
    if (local === 0 || clock() - started < RECONNECT_AFTER_MS)
      throw new SkycapError(`kubectl port-forward to ${target} ended with exit code ${r.exitCode}`, {
        hint: 'Its message is above; is the port one the service listens on?',
        jsonHint: 'kubectl printed its reason on stderr; is the port one the service listens on?',
      })
    deps.reporter.warn(`kubectl port-forward to ${target} ended (exit ${r.exitCode}; was its pod replaced?); reconnecting to a ready pod of ${options.service}`)
    // Mid-rollout there may be no ready pod for a moment: wait for one (up to a minute), as kubectl would not.
    const until = clock() + 60_000
    for (;;) {
      try {
        target = await forwardTarget(kubectl, app, env.name, options.service)
        break
      } catch (error) {
        if (!(error instanceof UserError) || clock() > until || deps.signal?.aborted) throw error
        await abortableSleep(1000, deps.signal)
      }
    }
    if (deps.signal?.aborted) break
  }
  return {environment: env.name, target, local, remote}
}
