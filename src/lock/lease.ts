import {InterruptedError, KubectlError, LockedError, NamespaceMissingError} from '../errors.js'
import {ciJobUrl, whoAmI} from '../identity.js'
import {type Kubectl, kubectlCommand} from '../kubectl/kubectl.js'
import {nodeCrypto} from '../builtins.js'
import {describeHolder} from './describe.js'
import {oneLine} from '../one-line.js'

/** Who holds an environment's deploy lock. */
export interface LockInfo {
  name: string
  holder: string
  reason: string
  ciJob?: string
  acquiredAt: string
  expiresAt: string
  expired: boolean
  /** Unique per acquisition: only the process that took the lock releases it (unless --force). */
  id: string
  /**
   * The environment it was taken for. One Lease per app and namespace: environments of one app that share a namespace
   * share its lock, and this says whose it is.
   */
  environment?: string
  /**
   * Who holds it: `hand` (skycap lock acquire, released by hand) or a running `command` (deploy, rollback, scale…,
   * which releases it itself). Undefined for a lock taken before skycap recorded it.
   */
  heldBy?: 'hand' | 'command'
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1'
  kind: 'Lease'
  metadata: {name: string; resourceVersion?: string; annotations?: Record<string, string>; labels?: Record<string, string>}
  spec: {holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string}
}

/** The Lease name of an app's lock (one per app per namespace). */
export function lockName(app: string): string {
  return `skycap-lock-${app}`
}

// Lease times are MicroTime: RFC 3339 with exactly six fractional digits.
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z')
}

/**
 * A lock this user took by hand (`skycap lock acquire`), here (the same CI job, or none): `lock release` frees it
 * without --force. Not one a command of theirs holds (a deploy in another terminal, or in another CI job of the same
 * actor on the same host): that one is released when the command ends.
 */
export function isOwnHandLock(info: LockInfo, environment: string, me = whoAmI(), job = ciJobUrl()): boolean {
  return info.holder === me && info.heldBy !== 'command' && (info.ciJob ?? '') === (job ?? '') && (info.environment === undefined || info.environment === environment)
}

/**
 * What to do about a held lock. After --wait-for-lock ran out, a longer wait than the one given (twice it, at least
 * 10m), never the same value again.
 */
function lockedHint(environment: string, info: LockInfo, waitedMs: number, waitFlag = true, me = whoAmI()): string {
  const dead = isOwnHandLock(info, environment, me)
    ? `or, if you are done with it (it is yours, ${me}): skycap lock release ${environment}. The lock expires at ${info.expiresAt}.`
    : `or, if its holder is gone or done with it: skycap lock release ${environment} --force. The lock expires at ${info.expiresAt}.`
  if (!waitFlag) return `Try again once it is released (\`skycap lock status ${environment}\` shows it), ${dead}`
  if (waitedMs <= 0) return `Wait for it (--wait-for-lock 10m), ${dead}`
  return `It was still held after --wait-for-lock ${durationText(waitedMs)}: wait longer (--wait-for-lock ${durationText(Math.max(2 * waitedMs, 10 * 60_000))}), ${dead}`
}

/** A duration as --wait-for-lock takes it: 3s, 10m, 1h30m (whole seconds, rounded up). */
export function durationText(ms: number): string {
  let s = Math.max(1, Math.ceil(ms / 1000))
  const h = Math.floor(s / 3600)
  s -= h * 3600
  const m = Math.floor(s / 60)
  s -= m * 60
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`
}

function infoOf(lease: Lease, now: number): LockInfo {
  const acquired = Date.parse(lease.spec.acquireTime ?? lease.spec.renewTime ?? '') || 0
  const renewed = Date.parse(lease.spec.renewTime ?? lease.spec.acquireTime ?? '') || 0
  const expires = renewed + (lease.spec.leaseDurationSeconds ?? 0) * 1000
  const a = lease.metadata.annotations ?? {}
  return {
    name: lease.metadata.name,
    holder: oneLine(lease.spec.holderIdentity ?? 'unknown'),
    reason: oneLine(a['skycap.dev/reason'] ?? ''),
    ciJob: a['skycap.dev/ci-job'] || undefined,
    acquiredAt: new Date(acquired).toISOString(),
    expiresAt: new Date(expires).toISOString(),
    expired: expires <= now,
    id: a['skycap.dev/lock-id'] ?? '',
    ...(a['skycap.dev/environment'] ? {environment: a['skycap.dev/environment']} : {}),
    ...(a['skycap.dev/held-by'] === 'hand' || a['skycap.dev/held-by'] === 'command' ? {heldBy: a['skycap.dev/held-by']} : {}),
  }
}

export interface AcquireOptions {
  app: string
  reason: string
  /** How long the lock holds without renewal; a crashed deploy frees it after this. */
  durationSeconds: number
  /** Wait this long for a held lock instead of failing (0: fail at once). */
  waitMs?: number
  clock?: () => number
  sleep?: (ms: number) => Promise<void>
  signal?: AbortSignal
  environment: string
  /** false: the command has no --wait-for-lock (lock acquire, run --lock), so the hint when it is held names none. */
  waitFlag?: boolean
  /** Told, once per holder, that the lock is held and the command waits for it (a silent wait looks like a hang). */
  onWait?: (message: string) => void
  /** Taken by `skycap lock acquire`: held until released by hand, not by a running command. */
  byHand?: boolean
  /** A lock taken by hand (held for its --duration, minutes as a rule) fails at once (LockedError), not waited for. */
  notForHandLock?: boolean
}

/** The current lock of `app`, if any. */
export async function lockStatus(kubectl: Kubectl, app: string, clock: () => number = Date.now, timeoutMs?: number): Promise<LockInfo | undefined> {
  const r = await kubectl.run(['get', 'lease', lockName(app), '-o', 'json', '--ignore-not-found'], timeoutMs === undefined ? {} : {timeoutMs})
  if (!r.stdout.trim()) return undefined
  return infoOf(JSON.parse(r.stdout) as Lease, clock())
}

/** Takes the lock: creates the Lease, or takes over an expired one. Throws LockedError (exit 3) naming the holder. */
export async function acquireLock(kubectl: Kubectl, options: AcquireOptions): Promise<LockInfo> {
  const clock = options.clock ?? Date.now
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const deadline = clock() + (options.waitMs ?? 0)
  const id = nodeCrypto().randomUUID()
  let announced: string | undefined
  for (;;) {
    const now = clock()
    const lease: Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: lockName(options.app),
        labels: {'app.kubernetes.io/part-of': options.app, 'skycap.dev/lock': 'true'},
        annotations: {
          'skycap.dev/reason': oneLine(options.reason),
          'skycap.dev/ci-job': ciJobUrl() ?? '',
          'skycap.dev/lock-id': id,
          'skycap.dev/environment': options.environment,
          'skycap.dev/held-by': options.byHand ? 'hand' : 'command',
        },
      },
      spec: {holderIdentity: whoAmI(), leaseDurationSeconds: options.durationSeconds, acquireTime: microTime(now), renewTime: microTime(now)},
    }
    try {
      // Safe to make again: a Lease that a create cut off by an outage made carries this id, and is ours (below).
      await kubectl.run(['create', '-f', '-'], {input: JSON.stringify(lease)})
      return infoOf(lease, now)
    } catch (error) {
      if (error instanceof InterruptedError) throw await interruptedTaking(kubectl, options, id)
      const missing = error instanceof KubectlError && error.kind === 'not_found' ? /namespaces "([^"]+)" not found/.exec(error.stderr)?.[1] : undefined
      if (missing !== undefined) throw namespaceMissing(options.environment, missing, kubectl.context)
      if (!(error instanceof KubectlError && error.kind === 'already_exists')) throw error
    }
    const r = await kubectl.run(['get', 'lease', lockName(options.app), '-o', 'json', '--ignore-not-found'])
    if (r.stdout.trim()) {
      const current = JSON.parse(r.stdout) as Lease
      const info = infoOf(current, now)
      // The create (or take-over) that an outage cut off went through before the connection dropped: it is ours.
      if (info.id === id) return info
      if (info.expired) {
        // Take over with the resourceVersion we saw: if someone else took it meanwhile, replace conflicts.
        lease.metadata.resourceVersion = current.metadata.resourceVersion
        try {
          await kubectl.run(['replace', '-f', '-'], {input: JSON.stringify(lease)})
          return infoOf(lease, now)
        } catch (error) {
          if (error instanceof InterruptedError) throw await interruptedTaking(kubectl, options, id)
          if (!(error instanceof KubectlError && (error.kind === 'conflict' || error.kind === 'not_found'))) throw error
        }
      } else if (options.signal?.aborted) {
        throw new InterruptedError(`stopped waiting for the lock of ${options.environment} (held by ${info.holder}); nothing was changed`)
      } else if (clock() >= deadline || (options.notForHandLock && info.heldBy === 'hand')) {
        throw new LockedError(`${options.environment} is locked by ${describeHolder(info, options.environment)}`, {
          hint: lockedHint(options.environment, info, options.waitMs ?? 0, options.waitFlag),
          details: {lock: info},
        })
      } else if (options.onWait && announced !== info.id) {
        announced = info.id
        const left = Math.max(1, Math.ceil((deadline - clock()) / 1000))
        options.onWait(`${options.environment} is locked by ${describeHolder(info, options.environment)}; waiting for it (up to ${left}s more)`)
      }
    }
    await sleep(Math.min(2000, Math.max(0, deadline - clock())) || 200)
  }
}

/**
 * A Ctrl-C reaches kubectl too: a create (or take-over) it stopped may have reached the API server, and left the Lease
 * held, with this id, until it expired (the next deploy was refused for a minute). It is released by its id, which
 * touches no one else's lock.
 */
async function interruptedTaking(kubectl: Kubectl, options: AcquireOptions, id: string): Promise<InterruptedError> {
  const what = `interrupted while taking the lock of ${options.environment}; nothing was changed`
  try {
    await releaseLock(kubectl, options.app, {id, timeoutMs: RELEASE_CALL_MS})
    return new InterruptedError(what)
  } catch (error) {
    return new InterruptedError(`${what}, but the lock may be held until it expires (${options.durationSeconds}s): ${(error as Error).message.split('\n')[0]}`, {
      hint: `\`skycap lock status ${options.environment}\` shows it; \`skycap lock release ${options.environment} --force\` frees it once you know no command holds it.`,
    })
  }
}

/**
 * The Lease lives in the environment's namespace, which the first deploy creates: before it, there is nothing to
 * lock. Not created here: a deploy tool does not make a namespace as a side effect of a lock, and a first deploy to
 * a protected environment asks before it creates one (docs/deploy.md).
 */
function namespaceMissing(environment: string, namespace: string, context: string | undefined): NamespaceMissingError {
  return new NamespaceMissingError(`cannot lock ${environment}: its namespace ${namespace} does not exist yet (nothing was deployed there); nothing was changed`, {
    hint: `The first \`skycap deploy ${environment}\` creates the namespace and holds the lock while it runs. To keep deploys out before that, create the namespace and lock it: \`${kubectlCommand(`create namespace ${namespace}`, {context})}\`.`,
    details: {environment, namespace},
  })
}

/**
 * Restarts the lock's expiry from now, if this process still holds it: a long step (the automatic rollback after a
 * slow failure) must not outlive the lease and let another deploy take over mid-rollback. The JSON patch's `test`
 * makes the check and the renewal one atomic request. Returns false when the lock is no longer ours; throws when that
 * is not known (the API server did not answer).
 */
export async function renewLock(kubectl: Kubectl, app: string, id: string, clock: () => number = Date.now): Promise<boolean> {
  const patch = [
    {op: 'test', path: '/metadata/annotations/skycap.dev~1lock-id', value: id},
    {op: 'replace', path: '/spec/renewTime', value: microTime(clock())},
  ]
  try {
    await kubectl.run(['patch', 'lease', lockName(app), '--type=json', '-p', JSON.stringify(patch)])
    return true
  } catch (error) {
    // The test failed (another process holds the lock now: "the server rejected our request") or the Lease is gone.
    if (error instanceof KubectlError && (error.kind === 'invalid' || error.kind === 'not_found')) return false
    throw error
  }
}

/**
 * How long a deploy's, rollback's or scale's lease lasts without renewal. The process renews it every third of that
 * (keepLockAlive), so a running deploy holds it for as long as it needs, and a killed one (SIGKILL, a lost CI runner)
 * frees the environment within a minute.
 */
export const LEASE_SECONDS = 60

/**
 * Renews the lock every `intervalMs` until stopped; `onLost` is told once if the lock stopped being ours. A renewal
 * whose answer is unknown (the API server away for a moment) is not a lost lock: it is tried again every
 * `retryMs` (2 s) until one gets through, so the lease is renewed as soon as the server answers again, before it can
 * expire and let another deploy in.
 */
export function keepLockAlive(kubectl: Kubectl, app: string, id: string, options: {intervalMs?: number; retryMs?: number; onLost?: () => void; clock?: () => number} = {}): {stop(): void} {
  let lost = false
  let busy = false
  let stopped = false
  let retry: NodeJS.Timeout | undefined
  const beat = () => {
    if (busy || lost || stopped) return
    busy = true
    clearTimeout(retry)
    renewLock(kubectl, app, id, options.clock)
      .then(
        (ours) => {
          if (!ours && !lost) {
            lost = true
            options.onLost?.()
          }
        },
        () => {
          if (stopped) return
          retry = setTimeout(beat, options.retryMs ?? 2000)
          retry.unref()
        },
      )
      .finally(() => (busy = false))
  }
  const timer = setInterval(beat, options.intervalMs ?? (LEASE_SECONDS * 1000) / 3)
  timer.unref()
  return {
    stop: () => {
      stopped = true
      clearInterval(timer)
      clearTimeout(retry)
    },
  }
}

/** What an interrupted deploy, rollback or scale says of its lock, and what it says once the release failed. */
export const LOCK_RELEASED = 'the lock was released'
const LOCK_NOT_RELEASED = `the lock could not be released (it expires on its own within ${LEASE_SECONDS}s)`

/**
 * Releases the lock a command took, at its end. A release that fails (an API server that does not answer) is a
 * warning, not the command's error: the lease expires on its own within LEASE_SECONDS. Returns whether it was released.
 */
export async function releaseOwnLock(kubectl: Kubectl, app: string, id: string, warn: (message: string) => void): Promise<boolean> {
  try {
    // Each call within 10 s: against an API server that hangs, the lock expires on its own anyway (it held a deploy
    // that had already given up for a minute more, retrying TLS handshakes).
    await releaseLock(kubectl, app, {id, timeoutMs: RELEASE_CALL_MS})
    return true
  } catch (error) {
    warn(`could not release the lock: ${(error as Error).message}; it expires on its own within ${LEASE_SECONDS}s`)
    return false
  }
}

/**
 * The error a command that held the lock ends with, once it tried to release it: an interruption that says "the lock
 * was released" (written before the release) says it was not, when the release failed.
 */
export function afterLockRelease(error: unknown, released: boolean): unknown {
  if (released || !(error instanceof InterruptedError) || !error.message.includes(LOCK_RELEASED)) return error
  return new InterruptedError(error.message.replace(LOCK_RELEASED, LOCK_NOT_RELEASED), {
    hint: error.hint,
    jsonHint: error.jsonHint,
    details: error.details,
    ...(error.cause === undefined ? {} : {cause: error.cause}),
  })
}

/** Releases the lock if this process holds it (by id), or whoever holds it with `force`. */
export async function releaseLock(kubectl: Kubectl, app: string, options: {id?: string; force?: boolean; timeoutMs?: number} = {}): Promise<boolean> {
  const current = await lockStatus(kubectl, app, Date.now, options.timeoutMs)
  if (!current) return false
  if (!options.force && current.id !== options.id) return false
  await kubectl.run(['delete', 'lease', lockName(app), '--ignore-not-found'], options.timeoutMs === undefined ? {} : {timeoutMs: options.timeoutMs})
  return true
}

/** How long each call of a command's own lock release may take (releaseOwnLock). */
const RELEASE_CALL_MS = 10_000
