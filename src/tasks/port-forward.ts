import {unknownServiceError, withFlag} from '../config/environment.js'
import {connect, type KubectlFactory, openEnvironment} from '../env/connect.js'
import {SkycapError, UserError} from '../errors.js'
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

/** `skycap port-forward SERVICE [LOCAL:]REMOTE`: forwards a local port to the service until interrupted. */
export async function portForward(
  options: PortForwardOptions,
  deps: {kubectl: KubectlFactory; reporter: Reporter; signal?: AbortSignal},
): Promise<{environment: string; target: string; local: number; remote: number}> {
  const {local, remote} = parsePorts(options.ports)
  const {loaded, env} = await openEnvironment({configPath: options.configPath, environment: options.environment, repository: false})
  const app = loaded.config.app
  if (!env.services[options.service]) throw unknownServiceError(loaded, options.service, 'skycap port-forward SERVICE PORTS', withFlag(options.environment))
  const {kubectl} = await connect(env, deps.kubectl, deps.reporter)
  const target = await forwardTarget(kubectl, app, env.name, options.service)
  deps.reporter.info(`Forwarding ${options.address ?? '127.0.0.1'}:${local || '(any)'} to ${target} port ${remote} in ${env.name} (namespace ${env.namespace}); Ctrl-C stops`)
  const r = await kubectl.attached(['port-forward', target, `${local}:${remote}`, '--address', options.address ?? '127.0.0.1'], {
    signal: deps.signal,
    stdoutToStderr: options.json ?? false,
  })
  // Ctrl-C is how a port-forward ends: kubectl exits 0 or dies of the signal (a SIGINT or SIGTERM that reached only
  // skycap stops kubectl through `signal`).
  if (r.exitCode !== 0 && !r.signal)
    throw new SkycapError(`kubectl port-forward to ${target} ended with exit code ${r.exitCode}`, {
      hint: 'Its message is above; is the port one the service listens on?',
      jsonHint: 'kubectl printed its reason on stderr; is the port one the service listens on?',
    })
  return {environment: env.name, target, local, remote}
}
