import {InterruptedError} from '../errors.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import type {LineFilter} from '../logs/filter.js'
import type {RelatedObject, ResourceStatus} from '../resources/status.js'
import {abortableSleep} from '../sleep.js'

/** What went wrong with one resource: a sentence, its recent events, the last log lines of a failing container. */
export interface FailureReport {
  ref: string
  message: string
  events: FailureEvent[]
  logs: Array<{pod: string; container: string; previous: boolean; lines: string[]; hidden: number}>
}

/** One Kubernetes event about a failing resource, as --json reports it (the terminal shows it as one line). */
export interface FailureEvent {
  /** Normal or Warning. */
  type: string
  /** The event's reason, e.g. BackOff, Unhealthy, FailedScheduling. */
  reason: string
  /** The object it is about, Kind/name (e.g. Pod/web-7d9f-abcde). */
  object: string
  /** How often it happened. */
  count: number
  /** When it last happened (ISO 8601), null when the event carries no time. */
  lastSeen: string | null
  message: string
}

interface Event {
  type?: string
  reason?: string
  message?: string
  count?: number
  series?: {count?: number; lastObservedTime?: string}
  involvedObject?: {kind?: string; name?: string; uid?: string}
  lastTimestamp?: string
  eventTime?: string
  metadata?: {creationTimestamp?: string; resourceVersion?: string}
}

/** An event as the report keeps it: the newer events.k8s.io fields (series, eventTime) where the old ones are empty. */
export function failureEvent(e: Event): FailureEvent {
  const name = e.involvedObject?.name ?? ''
  return {
    type: e.type ?? 'Normal',
    reason: e.reason ?? '',
    object: e.involvedObject?.kind ? `${e.involvedObject.kind}/${name}` : name,
    count: e.series?.count ?? e.count ?? 1,
    lastSeen: e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? null,
    message: e.message ?? '',
  }
}

/** An event as one terminal line: `Warning BackOff: Back-off restarting failed container (x4) [web-7d9f-abcde]`. */
export function formatEvent(e: FailureEvent): string {
  return `${e.type} ${e.reason}: ${e.message}${e.count > 1 ? ` (x${e.count})` : ''} [${e.object.slice(e.object.indexOf('/') + 1)}]`
}

export const LOG_LINES = 25

/**
 * When the rollout being explained began, by the local clock (`at`, read from `clock`): events last seen before it are
 * not about it (a rollout repeated within the hour that events are kept met the first one's events of the same
 * Deployment and ReplicaSet, a StatefulSet's events of the release before). The events carry the API server's time,
 * which may differ from this machine's: see sinceBegan.
 */
export interface RolloutStart {
  at: number
  clock: () => number
}

/**
 * Explains the resources that failed (or were still pending when time ran out): one events call for the
 * namespace, and one logs call per failing container (at most 3 per report).
 */
export async function explainFailures(kubectl: Kubectl, statuses: ResourceStatus[], makeFilter: () => LineFilter, began?: RolloutStart): Promise<FailureReport[]> {
  return (await explainRollout(kubectl, statuses, [], makeFilter, began)).failures
}

/**
 * Explains what failed, as explainFailures does, and what was still rolling out when it failed, from the same read of
 * the events: a resource still moving is reported only when its pods have warnings of this rollout (a readiness check
 * that keeps failing, a back-off), with those warnings and the logs of its containers that run but are not ready. One
 * whose pods were merely starting has nothing to say. It stays "interrupted", not blamed: Kubernetes itself gives a
 * readiness check until the progress deadline, and a slow start fails it for a while.
 */
export async function explainRollout(
  kubectl: Kubectl,
  statuses: ResourceStatus[],
  moving: ResourceStatus[],
  makeFilter: () => LineFilter,
  began?: RolloutStart,
): Promise<{failures: FailureReport[]; moving: FailureReport[]}> {
  const bad = statuses.filter((s) => s.state !== 'ready')
  if (bad.length === 0 && moving.length === 0) return {failures: [], moving: []}
  let since = Number.NaN
  // Asked beside the first read of the events: the API server's clock, for when no event is recent.
  const offset = began ? serverOffset(kubectl, began.clock) : Promise.resolve(undefined)
  const read = async () => {
    const items = await kubectl
      .json<{items: Event[]}>(['get', 'events'])
      .then((l) => l.items)
      .catch(() => [] as Event[])
    if (began) since = sinceBegan(items, began, await offset)
    return items
  }
  let events = await read()
  if (bad.some((s) => s.state === 'failed' && !hasWarningAbout(events, s.related))) {
    // The kubelet posts its events after it writes the container's state: a container that cannot start was seen
    // failed before its `Failed` event existed, and the report showed its Scheduled, Pulled and Created but not why.
    await abortableSleep(EVENTS_LAG_MS)
    events = await read()
  }
  const failures: FailureReport[] = []
  for (const s of bad) {
    // A resource still pending when time ran out: the logs of its containers that run but never got ready.
    const containers = s.failing.length || s.state === 'failed' ? s.failing : (s.waiting ?? [])
    failures.push({
      ref: s.ref,
      message: s.state === 'failed' ? s.message : `still not ready: ${s.message}`,
      events: eventsOf(s, events, since),
      logs: await logsFor(kubectl, containers, makeFilter),
    })
  }
  const reported: FailureReport[] = []
  for (const s of moving) {
    const warnings = eventsOf(s, events, since).filter((e) => e.type === 'Warning')
    if (warnings.length === 0) continue
    reported.push({ref: s.ref, message: s.message, events: warnings, logs: await logsFor(kubectl, [...s.failing, ...(s.waiting ?? [])], makeFilter)})
  }
  return {failures, moving: reported}
}

/**
 * The start of the rollout in the API server's time (ms), or NaN when no event says. The API server writes an event's
 * creationTimestamp (its reporter writes the other times, by its own clock): the newest of them is at or before the
 * server's now, read after the events came back. Taken as the server's now, it puts the start at or before the true
 * one, whatever the clocks differ by, so no event of the rollout is left out; a failing rollout has new events of its
 * last seconds, which puts it close.
 */
function sinceBegan(events: Event[], began: RolloutStart, offset: number | undefined): number {
  const now = began.clock()
  const newest = Math.max(...events.map((e) => Date.parse(e.metadata?.creationTimestamp ?? '')).filter((t) => !Number.isNaN(t)))
  const fromEvents = Number.isFinite(newest) ? began.at + (newest - now) : Number.NaN
  // The newest event may be seconds old (a watch that gave the others 10 s to fail, with nothing new meanwhile): the
  // start was then put that much early, and the scaling down by the previous rollout's rollback was listed as this
  // rollout's. The server's own clock, where it answered, puts it at most a second or so early; both are at or before
  // the true start, so the later one is taken.
  const fromClock = offset === undefined ? Number.NaN : began.at + offset
  if (Number.isNaN(fromEvents)) return fromClock
  return Number.isNaN(fromClock) ? fromEvents : Math.max(fromEvents, fromClock)
}

/**
 * The API server's clock minus this machine's (ms), read from the creation time the server gives a ConfigMap created
 * with a server-side dry run (nothing is stored). Whole seconds, and this machine's time taken when the answer came:
 * the result is at or below the true difference, by at most a second and the call's time. Undefined when the call
 * fails (no right to create ConfigMaps, a fake kubectl).
 */
async function serverOffset(kubectl: Kubectl, clock: () => number): Promise<number | undefined> {
  try {
    const r = await kubectl.run(['create', 'configmap', 'skycap-clock', '--dry-run=server', '-o', 'jsonpath={.metadata.creationTimestamp}'], {allowFailure: true})
    const answered = clock()
    const at = Date.parse(r.stdout.trim())
    return r.exitCode === 0 && !Number.isNaN(at) ? at - answered : undefined
  } catch {
    return undefined
  }
}

/**
 * The last 5 events about a resource's objects (by kind, name and uid: not another kind of that name, not one deleted
 * since), of this rollout (since its objects began and since `began`, server time), oldest first.
 */
function eventsOf(s: ResourceStatus, events: Event[], began: number): FailureEvent[] {
  // A second's slack: an event's time and a creation time are rounded differently.
  const created = s.eventsSince ? Date.parse(s.eventsSince) : Number.NaN
  const since = Math.max(Number.isNaN(created) ? Number.NEGATIVE_INFINITY : created, Number.isNaN(began) ? Number.NEGATIVE_INFINITY : began) - 1000
  return events
    .filter((e) => about(e, s.related))
    .map((e) => ({event: failureEvent(e), version: e.metadata?.resourceVersion}))
    .filter(({event}) => event.lastSeen === null || !(Date.parse(event.lastSeen) < since))
    .sort(byTimeSeen)
    .slice(-5)
    .map(({event}) => event)
}

/**
 * By time, not by text: the API server writes some times with microseconds and some without, and "10:00:00.5Z" sorts
 * before "10:00:00Z" as text. Within one second, times of the two precisions do not compare (a BackOff last seen at
 * 10:00:00Z came before the pod's Scheduled at 10:00:00.036Z): there the order in which the API server wrote the
 * events (their resourceVersions, when both are numbers, as etcd's are) decides.
 */
function byTimeSeen(a: {event: FailureEvent; version?: string}, b: {event: FailureEvent; version?: string}): number {
  const [x, y] = [seenAt(a.event), seenAt(b.event)]
  const [sx, sy] = [Math.floor(x / 1000), Math.floor(y / 1000)]
  if (sx !== sy || !Number.isFinite(x) || !Number.isFinite(y)) return x === y ? 0 : x < y ? -1 : 1
  if (a.version && b.version && /^\d+$/.test(a.version) && /^\d+$/.test(b.version)) {
    const [vx, vy] = [BigInt(a.version), BigInt(b.version)]
    if (vx !== vy) return vx < vy ? -1 : 1
  }
  return x - y
}

/** The last log lines of up to 3 containers (the previous container's for one that crashed), filtered. */
async function logsFor(kubectl: Kubectl, containers: ResourceStatus['failing'], makeFilter: () => LineFilter): Promise<FailureReport['logs']> {
  const logs: FailureReport['logs'] = []
  for (const f of containers.slice(0, 3)) {
    const args = ['logs', f.pod, '-c', f.container, `--tail=${LOG_LINES}`]
    let r = await logsOf(kubectl, f.previous ? [...args, '--previous'] : args)
    let previous = f.previous
    if (r.exitCode !== 0 && f.previous && !r.interrupted) {
      // The previous container's logs are gone (or the runtime cannot serve them): show the current ones.
      r = await logsOf(kubectl, args)
      previous = false
    }
    if (r.exitCode !== 0) continue
    const filter = makeFilter()
    const lines = r.stdout.split('\n').filter((l) => l.length > 0 && filter.keep(l))
    logs.push({pod: f.pod, container: f.container, previous, lines, hidden: filter.hidden})
  }
  return logs
}

/** How long the report waits, once, for the events of a resource seen failed before any warning about it was posted. */
export const EVENTS_LAG_MS = 1000

function hasWarningAbout(events: Event[], related: RelatedObject[]): boolean {
  return events.some((e) => e.type === 'Warning' && about(e, related))
}

/** Whether an event is about one of these objects: same kind and name, and the same uid when both are known. */
function about(e: Event, related: RelatedObject[]): boolean {
  const o = e.involvedObject
  return related.some((r) => r.kind === o?.kind && r.name === o.name && (r.uid === undefined || o.uid === undefined || r.uid === o.uid))
}

/** When an event was last seen, in ms; an event without a time comes first. */
function seenAt(e: FailureEvent): number {
  const at = e.lastSeen === null ? Number.NaN : Date.parse(e.lastSeen)
  return Number.isNaN(at) ? Number.NEGATIVE_INFINITY : at
}

/**
 * `kubectl logs`, failing or not. Ctrl-C reaches this kubectl too (the terminal signals the whole foreground group):
 * the report goes without these lines rather than not at all, for the failed release must still be recorded and
 * rolled back.
 */
async function logsOf(kubectl: Kubectl, args: string[]): Promise<{exitCode: number; stdout: string; interrupted?: true}> {
  try {
    return await kubectl.run(args, {allowFailure: true})
  } catch (error) {
    if (error instanceof InterruptedError) return {exitCode: -1, stdout: '', interrupted: true}
    throw error
  }
}

/** A failure report as text for the terminal. */
export function formatFailure(r: FailureReport): string {
  return formatReport('✖', r)
}

/**
 * What was still rolling out when the release failed and had warnings, as text: marked as interrupted (⏸), as the
 * rollout's view marks it, with its warnings and logs.
 */
export function formatStillMoving(r: FailureReport): string {
  return formatReport('⏸', {...r, message: `still rolling out when the release failed, with warnings: ${r.message}`})
}

function formatReport(mark: string, r: FailureReport): string {
  const out = [`${mark} ${r.ref}: ${r.message}`]
  if (r.events.length) out.push('  Events:', ...r.events.map((e) => `    ${formatEvent(e)}`))
  for (const l of r.logs) {
    const which = `${l.pod}/${l.container}${l.previous ? ' (previous, crashed container)' : ''}`
    const hidden = l.hidden ? `, ${l.hidden} hidden by filters` : ''
    // A container that printed nothing: one line that says so, not an empty block.
    if (l.lines.length === 0) out.push(`  No log lines from ${which}${hidden}.`)
    else out.push(`  ${l.lines.length === 1 ? 'Last log line' : `Last ${l.lines.length} log lines`} of ${which}${hidden}:`, ...l.lines.map((x) => `    ${x}`))
  }
  return out.join('\n')
}
