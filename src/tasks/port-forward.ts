import {isIP} from 'node:net'

import {servicePorts, unknownServiceError, withFlag} from '../config/environment.js'
import type {ServiceConfig} from '../config/types.js'
import {connect, type KubectlFactory, openEnvironment} from '../env/connect.js'
import {ApiServerUnreachableError, SkycapError, UserError} from '../errors.js'
import type {Kubectl, ProcessResult} from '../kubectl/kubectl.js'
import {anyFreePort, canListen, listenFailure} from '../net/ports.js'
import type {KubeObject} from '../render/objects.js'
import {abortableSleep} from '../sleep.js'
import type {Reporter} from '../ui/output.js'
import {podLeaving} from './pod-watch.js'
import {choosePod, forwardTarget} from './pods.js'

export interface PortForwardOptions {
  service: string
  /** `[LOCAL:]REMOTE`, as kubectl takes it; absent: the service's port in skycap.yaml, locally the same. */
  ports?: string
  environment?: string
  configPath?: string
  /** Local address to listen on (default 127.0.0.1). */
  address?: string
  /** --json: kubectl's "Forwarding from …" lines go to stderr, stdout carries the one JSON document. */
  json?: boolean
}

/**
 * No ports given (`skycap port-forward web`): the service's one port in skycap.yaml, on the same local port. It said
 * "Missing 1 required arg: ports" though skycap.yaml names it.
 */
export function configuredPort(service: string, svc: ServiceConfig): {local: number; remote: number} {
  const ports = servicePorts(svc)
  const first = ports[0]
  if (ports.length === 1 && first) return {local: first.port, remote: first.port}
  throw new UserError(
    ports.length ? `${service} has ${ports.length} ports (${ports.map((p) => `${p.name} ${p.port}`).join(', ')}): say which to forward` : `${service} has no port in skycap.yaml: say which to forward`,
    {hint: `For example \`skycap port-forward ${service} ${first?.port ?? 8080}\`, or LOCAL:REMOTE (\`9000:${first?.port ?? 8080}\`).`},
  )
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

/**
 * `--address` as kubectl port-forward takes it: IP addresses or `localhost`, comma separated. Anything else is the
 * user's to change, said before anything starts (a host name was "already in use on this machine", or with local
 * port 0 a kubectl failure, exit 1).
 */
export function parseAddresses(text: string): string[] {
  const addresses = text.split(',').map((a) => a.trim())
  const bad = addresses.find((a) => a !== 'localhost' && isIP(a) === 0)
  if (bad !== undefined)
    throw new UserError(`--address ${JSON.stringify(text)}: ${bad === '' ? 'an empty address' : `"${bad}" is not an IP address or localhost`}; nothing was forwarded`, {
      hint: 'Give IP addresses or localhost, comma separated, as kubectl port-forward takes them: e.g. --address 127.0.0.1, or --address 0.0.0.0 for every interface.',
    })
  return [...new Set(addresses)]
}

/** An address that is not this machine's (10.9.9.9 on a laptop): kubectl could not listen there either. */
async function foreignAddress(addresses: string[]): Promise<UserError | undefined> {
  for (const address of addresses) {
    if ((await listenFailure(address, 0)) !== 'EADDRNOTAVAIL') continue
    return new UserError(`${address} is not an address of this machine, so nothing can listen on it; nothing was forwarded`, {
      hint: 'Give one of its addresses with --address (the default is 127.0.0.1), or 0.0.0.0 for every interface.',
    })
  }
  return undefined
}

/** Why the local port cannot be used on one of `addresses`, as a UserError; undefined when all can listen on it. */
async function localPortProblem(addresses: string[], port: number, service: string, remote: number): Promise<UserError | undefined> {
  for (const address of addresses) {
    const failure = await listenFailure(address, port)
    if (failure === undefined) continue
    if (failure === 'EACCES')
      return new UserError(`port ${port} on ${address} needs privileges on this machine; nothing was forwarded`, {
        hint: `Choose a local port from 1024 up: skycap port-forward ${service} ${port < 1024 ? 1024 + port : port + 1}:${remote}.`,
      })
    // In use (or anything else the system says): the port suggested is one that is free now (the next one up was
    // often another forward's).
    const free = await nextFreePort(addresses, port)
    return new UserError(`${address}:${port} is already in use on this machine`, {
      hint: `Choose another local port${free === undefined ? '' : ` (skycap port-forward ${service} ${free}:${remote})`}, or 0:${remote} for any free one.`,
    })
  }
  return undefined
}

/**
 * A port every one of `addresses` can listen on now, chosen by the system for the first; 0 (kubectl chooses, and it
 * is not known) if five tries find none.
 */
async function anyPortOf(addresses: string[]): Promise<number> {
  for (let tries = 0; tries < 5; tries++) {
    const port = await anyFreePort(addresses[0] as string)
    if (port === undefined) return 0
    if ((await Promise.all(addresses.slice(1).map((a) => canListen(a, port)))).every(Boolean)) return port
  }
  return 0
}

/** The first port after `port` (up to 20 tried, wrapping to 1024) that every one of `addresses` can listen on now. */
async function nextFreePort(addresses: string[], port: number): Promise<number | undefined> {
  for (let i = 1; i <= 20; i++) {
    const candidate = port + i > 65535 ? 1023 + i : port + i
    if ((await Promise.all(addresses.map((a) => canListen(a, candidate)))).every(Boolean)) return candidate
  }
  return undefined
}

/**
 * The container port behind `port` of the Service `service` (its name, read here, or the object as just read), in
 * `pod` (as kubectl port-forward service/… finds it).
 */
export async function podPortOf(kubectl: Kubectl, service: string | KubeObject, port: number, pod: string, signal?: AbortSignal): Promise<number> {
  type Port = {port: number; targetPort?: number | string}
  const options = signal ? {signal} : {}
  const svc = (typeof service === 'string' ? await kubectl.json(['get', 'service', service], options) : service) as {spec?: {ports?: Port[]}}
  const entry = svc.spec?.ports?.find((p) => p.port === port)
  if (!entry || entry.targetPort === undefined) return port
  if (typeof entry.targetPort === 'number') return entry.targetPort
  const live = await kubectl.json<{spec?: {containers?: Array<{ports?: Array<{name?: string; containerPort: number}>}>}}>(['get', 'pod', pod], options)
  return live.spec?.containers?.flatMap((c) => c.ports ?? []).find((p) => p.name === entry.targetPort)?.containerPort ?? port
}

/** A forward that ran at least this long before kubectl ended was established: its pod went away, so reconnect. */
export const RECONNECT_AFTER_MS = 5000

/** How long a lost forward is tried again (each attempt with the newest ready pod) before skycap gives up. */
export const RECONNECT_WINDOW_MS = 60_000

/** `skycap port-forward SERVICE [LOCAL:]REMOTE`: forwards a local port to the service until interrupted. */
export async function portForward(
  options: PortForwardOptions,
  deps: {kubectl: KubectlFactory; reporter: Reporter; signal?: AbortSignal; clock?: () => number; sleep?: (ms: number, signal?: AbortSignal) => Promise<void>},
): Promise<{environment: string; target: string; local: number; remote: number}> {
  const given = options.ports === undefined ? undefined : parsePorts(options.ports)
  const {loaded, env} = await openEnvironment({configPath: options.configPath, environment: options.environment, repository: false, envFlagOnly: true})
  const app = loaded.config.app
  // A service dropped from the work tree's skycap.yaml may still run (deployed before): its pods decide, below.
  const unknown = env.services[options.service] ? undefined : unknownServiceError(loaded, options.service, 'skycap port-forward SERVICE PORTS', withFlag(options.environment))
  if (unknown && (Object.hasOwn(loaded.config.environments, options.service) || given === undefined)) throw unknown
  const ports = given ?? configuredPort(options.service, env.services[options.service] as ServiceConfig)
  const {remote} = ports
  let {local} = ports
  const addresses = parseAddresses(options.address ?? '127.0.0.1')
  // As kubectl is given it (no spaces: kubectl refused " 127.0.0.1"), and as said: [::1]:8080, not ::1:8080.
  const address = addresses.join(',')
  const shown = addresses.map((a) => (isIP(a) === 6 ? `[${a}]` : a)).join(', ')
  // A local port in use is the user's to change: said before anything else, not as kubectl's "unable to listen on
  // any of the requested ports" followed by a hint about the service's port.
  const problem = (await foreignAddress(addresses)) ?? (local === 0 ? undefined : await localPortProblem(addresses, local, options.service, remote))
  if (problem) throw problem
  const {kubectl} = await connect(env, deps.kubectl, deps.reporter)
  // 0: any free port, chosen here rather than by kubectl, so that it is known: said below, in --json (it said 0), and
  // kept when the forward reconnects to a new pod (kubectl would pick another; such a forward used to end instead).
  if (local === 0) local = await anyPortOf(addresses)
  const on = addresses.length === 1 ? `${shown}:${local || '(any)'}` : `port ${local || '(any)'} of ${shown}`
  const target = await keepForwarding({kubectl, app, environment: env.name, namespace: env.namespace, service: options.service, remote, local, address, on, json: options.json, unknown}, deps)
  return {environment: env.name, target, local, remote}
}

/** What keepForwarding forwards: the service of an environment, its port `remote`, from `local` on `address`. */
export interface Forwarding {
  kubectl: Kubectl
  app: string
  environment: string
  namespace: string
  service: string
  remote: number
  /**
   * The local port, chosen before so that it is kept when the forward moves to another pod; 0 when none could be
   * (kubectl chooses, and a lost forward ends).
   */
  local: number
  /** kubectl's --address: IP addresses or localhost, comma separated. */
  address: string
  /** Where it listens, as the first line says it (`127.0.0.1:8080`). */
  on: string
  /** kubectl's "Forwarding from …" lines go to stderr (stdout carries --json's document). */
  json?: boolean
  /** A service the work tree's skycap.yaml lacks: its pods, if it still runs, are used; without any, this error. */
  unknown?: UserError
  /** How the forward is stopped, as its first line ends (`Ctrl-C stops`). */
  stops?: string
}

export interface ForwardingDeps {
  reporter: Reporter
  /** Ends the forward (Ctrl-C, or `skycap down` stopping up's supervisor). */
  signal?: AbortSignal
  clock?: () => number
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /**
   * Resolves with why when the forward is to move to the newest ready pod now (skycap up once its redeploy is rolled
   * out), with undefined once the signal it is given aborts.
   */
  moveAsked?: (signal: AbortSignal) => Promise<string | undefined>
}

/**
 * Forwards `local` to a ready pod of the service until `deps.signal` aborts, following the pods: the forward moves to
 * the newest ready pod when its pod starts terminating, stops being ready or goes (before kubectl would notice, at the
 * next connection, which fails), when kubectl's forward is lost, and when `moveAsked` says. Returns the last target.
 * Throws when the first forward fails at once, or when no pod has been ready for RECONNECT_WINDOW_MS after a loss.
 * Used by `skycap port-forward` and by the background forwards of `skycap up`.
 */
export async function keepForwarding(f: Forwarding, deps: ForwardingDeps): Promise<string> {
  const clock = deps.clock ?? Date.now
  const sleep = deps.sleep ?? abortableSleep
  const {kubectl, app, environment, service, remote, local, address} = f
  // kubectl forwards to one pod even through a Service, and notices that pod went only when the next connection comes
  // in (which fails): skycap forwards to the pod it chose, watches it, and moves the forward before that.
  const first = await forwardTarget(kubectl, app, environment, service, remote, f.unknown)
  const viaService = first.target.startsWith('service/')
  // A Service's port is not always its pods' (port 80, targetPort 8080 or a name): kubectl translated it for
  // service/…; for a pod, skycap does.
  // A Ctrl-C stops the choice's kubectl calls too: it waited for them (up to kubectl's 30 s request timeout).
  const stoppedByCtrlC = deps.signal ? {signal: deps.signal} : {}
  const choose = async (pod?: string, serviceObject: string | KubeObject = service) => {
    const name = pod ?? (await choosePod(kubectl, app, environment, service, {prefer: 'newest', ...stoppedByCtrlC}))
    return {pod: name, port: viaService ? await podPortOf(kubectl, serviceObject, remote, name, deps.signal) : remote}
  }
  let {pod, port: targetPort} = await choose(first.pod, first.serviceObject)
  let target = `pod/${pod}`
  const through = viaService ? `${first.target} port ${remote} (${target})` : `${target} port ${remote}`
  deps.reporter.info(`Forwarding ${f.on} to ${through} in ${environment} (namespace ${f.namespace}); ${f.stops ?? 'Ctrl-C stops'}`)
  // When the last forward that had been running ended or was moved; undefined while none has.
  let lostAt: number | undefined
  // Why the forward goes to another pod, said once that pod is chosen.
  let why: string | undefined
  for (;;) {
    const started = clock()
    // The forward's own signal, so that a move stops kubectl without stopping skycap.
    const own = new AbortController()
    const signal = deps.signal ? AbortSignal.any([deps.signal, own.signal]) : own.signal
    const forwarding = kubectl.attached(['port-forward', target, `${local}:${targetPort}`, '--address', address], {
      signal,
      stdoutToStderr: f.json ?? false,
      teeStderr: true,
    })
    const leaving = podLeaving(kubectl, pod, signal)
    const asked = deps.moveAsked?.(signal)
    // Neither a watch that cannot run (forbidden) nor the end of a request decides: kubectl's end does then.
    const never = new Promise<undefined>(() => undefined)
    let r: ProcessResult | undefined
    let next: {pod: string; port: number} | undefined
    try {
      const going = await Promise.race([forwarding.then(() => undefined), leaving.then((w) => (w === undefined ? never : `${target} ${w}`)), ...(asked ? [asked.then((w) => w ?? never)] : [])])
      if (going !== undefined) {
        why = going
        // Chosen while the old forward still runs: the local port is without a listener only while kubectl restarts.
        next = await choose().catch((error: unknown) => {
          if (deps.signal?.aborted || error instanceof UserError || error instanceof ApiServerUnreachableError) return undefined
          throw error
        })
      } else r = await forwarding
    } finally {
      own.abort()
      // Neither child outlives this forward, whatever ended it.
      await Promise.allSettled([forwarding, leaving, asked])
    }
    if (deps.signal?.aborted) break
    if (next) {
      ;({pod, port: targetPort} = next)
      target = `pod/${pod}`
      deps.reporter.info(`forwarding to ${target} now (${why})`)
      why = undefined
      lostAt = clock()
      continue
    }
    if (r === undefined) {
      lostAt = clock()
      deps.reporter.warn(`${why} and no other pod of ${service} is ready; waiting up to ${RECONNECT_WINDOW_MS / 1000} s for one`)
    } else {
      // Ctrl-C is how a port-forward ends: kubectl exits 0 or dies of the signal (a SIGINT or SIGTERM that reached
      // only skycap stops kubectl through `signal`).
      if (r.exitCode === 0 || r.signal) break
      // kubectl says "lost connection to pod" when the pod went (a deploy can replace it within seconds of the start);
      // a forward that ran a while and ended otherwise is taken for lost too.
      const ran = /lost connection to pod/.test(r.stderr) || clock() - started >= RECONNECT_AFTER_MS
      // A forward that had been running goes on with a ready pod of the service, on the same local port. A first one
      // that fails at once is reported.
      if (local === 0 || (!ran && lostAt === undefined))
        throw new SkycapError(`kubectl port-forward to ${target} ended with exit code ${r.exitCode}`, {
          hint: 'Its message is above; is the port one the service listens on?',
          jsonHint: 'kubectl printed its reason on stderr; is the port one the service listens on?',
        })
      if (ran) {
        lostAt = clock()
        why = `the forward to ${target} was lost`
        deps.reporter.warn(`kubectl port-forward to ${target} ended (exit ${r.exitCode}; was its pod replaced?); reconnecting to a ready pod of ${service}`)
      } else if (clock() - (lostAt as number) > RECONNECT_WINDOW_MS) {
        throw new SkycapError(
          `the forward to ${service} was lost and not re-established within ${RECONNECT_WINDOW_MS / 1000} s (kubectl port-forward to ${target} ended with exit code ${r.exitCode})`,
          {hint: `\`skycap status ${environment}\` shows whether ${service} has ready pods; start the forward again once it has.`},
        )
      } else {
        // Mid-rollout the pod just chosen may be replaced too: try again shortly, with the newest ready pod.
        await sleep(1000, deps.signal)
      }
    }
    // The newest ready pod, by name: mid-rollout the pods kubectl picks behind a Service (and the oldest) are the next
    // to go. There may be no ready pod for a moment: wait for one within the window.
    for (;;) {
      if (deps.signal?.aborted) break
      try {
        const chosen = await choose()
        if (chosen.pod === pod) {
          if (why !== undefined) deps.reporter.info(`forwarding to ${target} again`)
        } else deps.reporter.info(`forwarding to pod/${chosen.pod} now${why === undefined ? '' : ` (${why})`}`)
        why = undefined
        ;({pod, port: targetPort} = chosen)
        target = `pod/${pod}`
        break
      } catch (error) {
        if (deps.signal?.aborted) break
        // No ready pod yet, or the API server not answering for a moment (a restart): both may pass within the window.
        if (!(error instanceof UserError || error instanceof ApiServerUnreachableError) || clock() - (lostAt as number) > RECONNECT_WINDOW_MS) throw error
        await sleep(1000, deps.signal)
      }
    }
    if (deps.signal?.aborted) break
  }
  return target
}
