import {UserError} from '../errors.js'
import {resolveRevision} from '../git/revision.js'
import {ciJobUrl, whoAmI} from '../identity.js'
import {acquireLock, releaseLock} from '../lock/lease.js'
import {lastGood, listReleases, saveRelease, type StoredRelease} from '../release/store.js'
import {parseDuration} from '../duration.js'
import {formatFailure} from './explain.js'
import {dryRunApply, findPrunable, prune} from './apply.js'
import {changeSummary} from './diff.js'
import {configuredReplicas, confirmProtected, DEFAULT_TIMEOUT_MS, type DeployDeps, type DeployReport, plannedReport} from './deploy.js'
import {applyAndWatch} from './rollout.js'
import {appSelector, connect, openEnvironment} from './target.js'
import {DeployFailedError, InterruptedError, TimeoutError} from '../errors.js'

export interface RollbackOptions {
  environment?: string
  /** A release number, or a revision (SHA prefix, or a branch/tag/HEAD~N of the checkout) an earlier successful release deployed. */
  to?: string
  configPath?: string
  yes?: boolean
  dryRun?: boolean
  timeout?: string
  waitForLock?: string
}

/** Picks the release to return to: --to N, --to <sha prefix>, or the last good one before the current. */
export function chooseRelease(releases: StoredRelease[], to: string | undefined, env: string): StoredRelease {
  if (to === undefined) {
    const current = lastGood(releases)
    const previous = current && lastGood(releases, current.record.number)
    if (!previous) throw new UserError(`${env} has no earlier successful release to roll back to`, {hint: `\`skycap history ${env}\` lists the releases.`})
    return previous
  }
  const byNumber = /^\d+$/.test(to) ? releases.find((r) => r.record.number === Number(to)) : undefined
  const candidates = byNumber ? [byNumber] : releases.filter((r) => r.record.revision?.sha.startsWith(to.toLowerCase()) && to.length >= 4)
  const usable = candidates.filter((r) => r.record.result === 'succeeded' && r.hasManifests)
  if (usable.length === 0) {
    throw new UserError(`no successful release of ${env} matches "${to}"`, {hint: `\`skycap history ${env}\` lists the releases; roll back to a number or a revision that succeeded.`})
  }
  return usable[0] as StoredRelease
}

/**
 * --to a branch, tag or HEAD~N means the commit it names in the local checkout. Release numbers and plain SHA
 * prefixes stay as given: rollback must also work without a checkout (or with one that lacks the commit).
 */
async function revisionToCommit(dir: string, to: string | undefined): Promise<string | undefined> {
  if (to === undefined || /^\d+$/.test(to)) return to
  try {
    return (await resolveRevision(dir, to)).sha
  } catch {
    return to
  }
}

/** `skycap rollback ENV [--to RELEASE|REV]`: re-applies a recorded release, watched like a deploy. */
export async function rollback(options: RollbackOptions, deps: DeployDeps): Promise<DeployReport> {
  const clock = deps.clock ?? Date.now
  const started = clock()
  const {loaded, env} = await openEnvironment({configPath: options.configPath, environment: options.environment})
  const app = loaded.config.app
  const timeoutMs = options.timeout !== undefined ? await parseDuration(options.timeout, '--timeout') : DEFAULT_TIMEOUT_MS
  const waitMs = options.waitForLock !== undefined ? await parseDuration(options.waitForLock, '--wait-for-lock') : 0
  const target = await connect(env, deps.kubectl, deps.reporter)
  const {kubectl} = target
  const releases = await listReleases(kubectl, app, env.name)
  const chosen = chooseRelease(releases, await revisionToCommit(loaded.dir, options.to), env.name)
  const objects = chosen.manifests()
  const selector = appSelector(app, env.name)
  await dryRunApply(kubectl, objects, 'server')
  const report = plannedReport(app, env, target, chosen.record.revision ?? {sha: '', short: '', subject: ''}, chosen.record.images)
  if (env.protected && !options.yes && !options.dryRun) {
    await confirmProtected(
      env,
      deps,
      'rollback',
      `Roll back PROTECTED ${env.name} (context ${target.context}) to release ${chosen.record.number} (${chosen.record.revision?.short})?\n${await changeSummary(kubectl, objects)}`,
    )
  }
  if (options.dryRun) {
    report.applied = objects.map((o) => `${o.kind}/${o.metadata.name}`)
    return report
  }
  const lock = await acquireLock(kubectl, {
    app,
    environment: env.name,
    reason: `rollback ${env.name} to release ${chosen.record.number}`,
    durationSeconds: Math.ceil(timeoutMs / 1000) + 60,
    waitMs,
    signal: deps.signal,
  })
  try {
    const number = (releases[0]?.record.number ?? 0) + 1
    report.release = number
    deps.reporter.info(`Rolling ${env.name} back to release ${chosen.record.number} (${chosen.record.revision?.short}) as release ${number}`)
    const rollout = await applyAndWatch({
      kubectl,
      objects,
      selector,
      deadline: started + timeoutMs,
      title: `Rolling back to release ${chosen.record.number}`,
      reporter: deps.reporter,
      config: loaded.config,
      clock,
      signal: deps.signal,
      intervalMs: deps.intervalMs,
    })
    report.applied = rollout.applied
    report.failures = rollout.failures
    report.result = rollout.outcome === 'ready' ? 'succeeded' : rollout.outcome === 'timeout' ? 'timed-out' : rollout.outcome === 'interrupted' ? 'interrupted' : 'failed'
    if (rollout.outcome === 'ready') {
      report.pruned = await findPrunable(kubectl, selector, objects)
      await prune(kubectl, report.pruned)
    }
    report.durationMs = clock() - started
    await saveRelease(
      kubectl,
      {
        number,
        app,
        environment: env.name,
        action: 'rollback',
        result: rollout.outcome === 'ready' ? 'succeeded' : 'failed',
        revision: chosen.record.revision,
        images: chosen.record.images,
        configuredReplicas: chosen.record.configuredReplicas ?? configuredReplicas(env),
        user: whoAmI(),
        ciJob: ciJobUrl(),
        startedAt: new Date(started).toISOString(),
        finishedAt: new Date(clock()).toISOString(),
        durationMs: report.durationMs,
        rolledBackTo: chosen.record.number,
      },
      rollout.outcome === 'ready' ? objects : undefined,
      releases,
      loaded.config.history?.keep ?? 10,
    )
    if (rollout.outcome === 'ready') return report
    for (const f of rollout.failures) deps.reporter.info(formatFailure(f))
    const cause = rollout.failures[0] ? `${rollout.failures[0].ref}: ${rollout.failures[0].message}` : report.result
    if (rollout.outcome === 'interrupted') throw new InterruptedError(`rollback of ${env.name} interrupted; the lock was released`, {details: {report}})
    if (rollout.outcome === 'timeout') throw new TimeoutError(`rollback of ${env.name} to release ${chosen.record.number} did not become ready in time (${cause})`, {details: {report}})
    throw new DeployFailedError(`rollback of ${env.name} to release ${chosen.record.number} failed: ${cause}`, {details: {report}})
  } finally {
    await releaseLock(kubectl, app, {id: lock.id}).catch(() => undefined)
  }
}
