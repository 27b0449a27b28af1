import type {Kubectl} from '../kubectl/kubectl.js'
import type {LineFilter} from '../logs/filter.js'
import type {ResourceStatus} from '../resources/status.js'

/** What went wrong with one resource: a sentence, its recent events, the last log lines of a failing container. */
export interface FailureReport {
  ref: string
  message: string
  events: string[]
  logs: Array<{pod: string; container: string; previous: boolean; lines: string[]; hidden: number}>
}

interface Event {
  type?: string
  reason?: string
  message?: string
  count?: number
  involvedObject?: {name?: string}
  lastTimestamp?: string
  eventTime?: string
  metadata?: {creationTimestamp?: string}
}

export const LOG_LINES = 25

/**
 * Explains the resources that failed (or were still pending when time ran out): one events call for the
 * namespace, and one logs call per failing container (at most 3 per report).
 */
export async function explainFailures(kubectl: Kubectl, statuses: ResourceStatus[], makeFilter: () => LineFilter): Promise<FailureReport[]> {
  const bad = statuses.filter((s) => s.state !== 'ready')
  if (bad.length === 0) return []
  const events = await kubectl
    .json<{items: Event[]}>(['get', 'events'])
    .then((l) => l.items)
    .catch(() => [] as Event[])
  const when = (e: Event) => e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? ''
  const reports: FailureReport[] = []
  for (const s of bad) {
    const related = new Set(s.related)
    const mine = events
      .filter((e) => related.has(e.involvedObject?.name ?? ''))
      .sort((a, b) => when(a).localeCompare(when(b)))
      .slice(-5)
      .map((e) => `${e.type ?? 'Normal'} ${e.reason ?? ''}: ${e.message ?? ''}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ''} [${e.involvedObject?.name ?? ''}]`)
    const logs: FailureReport['logs'] = []
    for (const f of s.failing.slice(0, 3)) {
      const args = ['logs', f.pod, '-c', f.container, `--tail=${LOG_LINES}`]
      let r = await kubectl.run(f.previous ? [...args, '--previous'] : args, {allowFailure: true})
      let previous = f.previous
      if (r.exitCode !== 0 && f.previous) {
        // The previous container's logs are gone (or the runtime cannot serve them): show the current ones.
        r = await kubectl.run(args, {allowFailure: true})
        previous = false
      }
      if (r.exitCode !== 0) continue
      const filter = makeFilter()
      const lines = r.stdout.split('\n').filter((l) => l.length > 0 && filter.keep(l))
      logs.push({pod: f.pod, container: f.container, previous, lines, hidden: filter.hidden})
    }
    reports.push({ref: s.ref, message: s.state === 'failed' ? s.message : `still not ready: ${s.message}`, events: mine, logs})
  }
  return reports
}

/** A failure report as text for the terminal. */
export function formatFailure(r: FailureReport): string {
  const out = [`✖ ${r.ref}: ${r.message}`]
  if (r.events.length) out.push('  Events:', ...r.events.map((e) => `    ${e}`))
  for (const l of r.logs) {
    out.push(`  Last ${l.lines.length} log lines of ${l.pod}/${l.container}${l.previous ? ' (previous, crashed container)' : ''}${l.hidden ? `, ${l.hidden} hidden by filters` : ''}:`)
    out.push(...l.lines.map((x) => `    ${x}`))
  }
  return out.join('\n')
}
