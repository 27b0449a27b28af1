import {describeHolder} from '../lock/describe.js'
import {oneLine} from '../one-line.js'
import {canaryStep, canaryStopped} from './rollout.js'
import type {LockInfo} from '../lock/lease.js'
import type {ReleaseRecord} from '../release/store.js'
import type {ServiceStatus} from '../deploy/inspect.js'

/** Left-aligned columns, two spaces apart. */
export function table(rows: string[][]): string {
  const widths: number[] = []
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n')
}

export function historyTable(releases: ReleaseRecord[]): string {
  if (releases.length === 0) return 'no releases recorded yet'
  // JOB: the CI job that ran a release (GitHub Actions run, GitLab job, ...), when any release has one.
  const jobs = releases.some((r) => r.ciJob)
  const rows = [['RELEASE', 'ACTION', 'RESULT', 'REVISION', 'USER', 'STARTED', 'DURATION', ...(jobs ? ['JOB'] : []), 'NOTE']]
  for (const r of releases) {
    const job = jobs ? [r.ciJob || '-'] : []
    // Records that builds before the VCS layer cleaned subjects (or a hand's edit) may hold control characters.
    rows.push([
      String(r.number),
      r.action ?? '-',
      r.result ?? '-',
      r.revision?.short ?? '-',
      oneLine(r.user ?? '-'),
      (r.startedAt ?? '-').replace(/\.\d+Z$/, 'Z'),
      r.durationMs === undefined ? '-' : `${Math.round(r.durationMs / 1000)}s`,
      ...job,
      oneLine(historyNote(r)),
    ])
  }
  return table(rows)
}

/** What a history row says besides its columns: the scale, the services restarted, the rollback's ends, or why it failed. */
export function historyNote(r: ReleaseRecord): string {
  if (r.scale) return `${r.scale.service} ${r.scale.from} -> ${r.scale.to}${r.scale.force && r.scale.hpa ? ` (--force; the HPA ${r.scale.hpa} sets its own count)` : ''}`
  // A restart that failed says why (its pods, not its manifests: a Secret, a ConfigMap, a dependency).
  if (r.restart) return [r.restart.services.join(', '), ...(r.result !== 'succeeded' && r.message ? [r.message] : [])].join('; ')
  const parts: string[] = []
  if (r.action === 'rollback') {
    parts.push(`${r.trigger === 'automatic' ? 'automatic ' : ''}rollback${r.rolledBackFrom !== undefined ? ` from ${r.rolledBackFrom}` : ''} to release ${r.rolledBackTo ?? '?'}`)
    if (r.keptReplicas)
      parts.push(
        `kept replicas ${Object.entries(r.keptReplicas)
          .map(([n, c]) => `${n}=${c}`)
          .join(' ')}`,
      )
  } else if (r.rolledBackTo !== undefined) {
    parts.push(`rolled back to ${r.rolledBackTo}`)
  }
  if (r.result !== 'succeeded' && r.message) parts.push(r.message)
  if (r.rollbackRelease !== undefined) parts.push(`rollback: release ${r.rollbackRelease}${r.rollbackMissing ? ' (not in history: under way, or stopped before its record)' : ''}`)
  // The commit's author by name (`Ana <ana@x>`: the address is in --json): USER is who deployed it.
  const author = r.revision?.author?.replace(/\s*<[^>]*>$/, '')
  if (parts.length === 0) parts.push(`${r.revision?.subject ?? ''}${author ? ` (${author})` : ''}`)
  const hooks = [...(r.hooks ?? []).map((h) => `${h.name} ${h.result} ${Math.round(h.durationMs / 1000)}s`), ...(r.postdeployNotRun ?? []).map((name) => `${name} did not run`)]
  if (hooks.length) parts.push(`hooks: ${hooks.join(', ')}`)
  if (r.skipHooks) parts.push('hooks skipped')
  if (r.ignoreChecks) parts.push('checks ignored')
  if (r.uncommitted) parts.push('uncommitted changes')
  if (r.reason) parts.push(`reason: ${r.reason}`)
  for (const [service, x] of Object.entries(r.rollouts ?? {})) {
    const step = x.steps ? canaryStep(x) : ''
    const where =
      x.type === 'blueGreen' ? `blue-green, serving ${x.slot ?? '?'}` : canaryStopped(x.phase) ? `canary stopped${step ? ` at ${step}` : ''}` : `canary at ${x.weight ?? 0}%${step ? `, ${step}` : ''}`
    parts.push(`${service}: ${where} (${x.phase})`)
  }
  return parts.join('; ')
}

export function statusTable(s: {
  environment: string
  context: string
  namespace: string
  services: Array<
    ServiceStatus & {notInConfig?: true; rollout?: {type: string; phase: string; weight?: number}; canary?: {revision: string | null; ready: number; desired: number; problem: string | null}}
  >
  lastRelease: ReleaseRecord | null
  lastDeploy?: ReleaseRecord | null
  lock?: LockInfo | null
  runningHooks?: Array<{job: string; hook: string; release: number; startedAt?: string}>
}): string {
  // READY counts the pods of the revision the Deployment asks for; OLD the earlier revisions' pods a rollout has not replaced.
  const rows = [['SERVICE', 'STATE', 'READY', 'REVISION', 'OLD', 'AGE']]
  // Ids abbreviated as the releases abbreviate them: 7 digits from git, 12 from Mercurial.
  const short = s.lastRelease?.revision?.short.length || 7
  for (const x of s.services) rows.push([x.service, stateOf(x), `${x.ready}/${x.desired}`, x.revision?.slice(0, short) ?? '-', oldPods(x.old, short), x.age ?? '-'])
  const brief = (r: ReleaseRecord): string => `${r.number} (${r.action}, ${r.result}, ${r.revision?.short ?? '-'})`
  let last = s.lastRelease ? `last release: ${brief(s.lastRelease)}` : 'no releases recorded'
  if (s.lastDeploy && s.lastDeploy !== s.lastRelease) last += `; last deploy: ${brief(s.lastDeploy)}`
  // A failing service's reason under the table, and why a progressing one is not ready yet: STATE alone does not say
  // which pod or why.
  const problems = s.services.filter((x) => x.problem ?? x.waiting).map((x) => `\n${x.service}: ${x.problem ?? x.waiting}`)
  // A canary under way: the row is the stable Deployment's; its canary's pods and revision under the table.
  for (const x of s.services.filter((y) => y.canary)) {
    const c = x.canary as NonNullable<typeof x.canary>
    problems.push(
      `\n${x.service}: canary ${c.ready}/${c.desired} ready (${c.revision?.slice(0, short) ?? '-'}) takes ${x.rollout?.weight ?? 0}% of traffic; stable ${x.ready}/${x.desired} (${x.revision?.slice(0, short) ?? '-'})${c.problem ? `; canary: ${c.problem}` : ''}`,
    )
  }
  // Services that run but are not in the work tree's skycap.yaml: said once, under the table.
  const elsewhere = s.services.filter((x) => x.notInConfig).map((x) => x.service)
  if (elsewhere.length)
    problems.push(
      `\n${elsewhere.join(', ')}: ${elsewhere.length === 1 ? 'runs but is' : 'run but are'} not in this skycap.yaml (a rollback to a release that had ${elsewhere.length === 1 ? 'it' : 'them'}, or a deploy from another branch); the next deploy of this skycap.yaml prunes ${elsewhere.length === 1 ? 'it' : 'them'}`,
    )
  // Under way, under the header: whoever holds the lock (a deploy's reason says which revision), and hooks still running.
  const underWay: string[] = []
  if (s.lock) underWay.push(`\nlocked by ${describeHolder(s.lock, s.environment)}; expires ${s.lock.expiresAt}`)
  for (const h of s.runningHooks ?? []) underWay.push(`\nhook ${h.hook} of release ${h.release} is still running (job ${h.job}${h.startedAt ? `, started ${h.startedAt}` : ''})`)
  return `${s.environment} (context ${s.context}, namespace ${s.namespace}); ${last}${underWay.join('')}\n${table(rows)}${problems.join('')}`
}

/** STATE: a canary under way says so (its stable Deployment alone looks ready while the canary takes traffic). */
function stateOf(x: ServiceStatus & {rollout?: {type: string; phase: string; weight?: number}}): string {
  if (x.rollout?.type === 'canary' && (x.rollout.phase === 'progressing' || x.rollout.phase === 'paused')) return `canary ${x.rollout.weight ?? 0}% (${x.rollout.phase})`
  // A service scaled to 0 is ready in that nothing is pending (--json's state stays `ready`), but "ready 0/0" read as
  // up: logs and exec say "scaled to 0", and so does the table.
  if (x.state === 'ready' && x.desired === 0) return 'scaled to 0'
  return x.state
}

function oldPods(old: ServiceStatus['old'], short: number): string {
  if (!old) return '-'
  return `${old.ready}/${old.pods} ready${old.revision ? ` (${old.revision.slice(0, short)})` : ''}`
}

export function lockLine(r: {environment: string; lock: LockInfo | null; released?: boolean}): string {
  if (r.released === true) return `released the lock of ${r.environment} (held by ${r.lock?.holder})`
  if (!r.lock) return `${r.environment} is not locked`
  if (r.released === false) return `${r.environment} was not locked`
  return `${r.environment} is locked by ${describeHolder(r.lock, r.environment)}; expires ${r.lock.expiresAt}${r.lock.expired ? ' (expired)' : ''}`
}

/** `skycap build`'s result: one line per image with its digest, and whether it was built or already there. */
export function buildTable(images: Array<{service: string; image: string; digest: string | null; result: string}>): string {
  return table([['SERVICE', 'IMAGE', 'DIGEST', 'RESULT'], ...images.map((i) => [i.service, i.image, i.digest ?? '-', i.result])])
}
