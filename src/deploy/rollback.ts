import {UserError} from '../errors.js'
import {deployFirst} from '../config/environment.js'
import {openVcs, type VcsChoice} from '../vcs/vcs.js'
import {type KubeObject, LABELS} from '../render/objects.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import {acquireLock, afterLockRelease, keepLockAlive, LEASE_SECONDS, LOCK_RELEASED, releaseLock, releaseOwnLock} from '../lock/lease.js'
import {QuitAtOnce} from '../release/quit-at-once.js'
import {
  contentOf,
  isGood,
  lastGood,
  listReleases,
  nextReleaseNumber,
  ranKey,
  isDeployOrRollback,
  RECORD_MEANWHILE,
  type ReleaseRecord,
  renumberedNote,
  saveRelease,
  stoppedBeforeRollout,
  type StoredRelease,
} from '../release/store.js'
import {parseDuration} from '../duration.js'
import {rolloutReport} from './rollout.js'
import {reportContact} from '../kubectl/outage.js'
import {
  adoptedNote,
  claimedElsewhere,
  claimedError,
  refuseClaimedMeanwhile,
  deferredNote,
  dryRunApply,
  findPrunable,
  unlistedNote,
  leftInPlace,
  leftInPlaceNote,
  pruneLive,
  pruningNote,
  unprunedNote,
} from './apply.js'
import {changeSummary, diffObjects, noChangesLine} from './diff.js'
import {dryRunLine, plural} from '../ui/output.js'
import {forgetLeftBlueGreen, mayHaveBlueGreenState} from '../strategies/state.js'
import {
  confirmProtected,
  type DeployDeps,
  originUrl,
  type DeployReport,
  plannedReport,
  refuseUnreachableMinReady,
  rollbackRecord,
  runningRevision,
  settleNotifications,
  whatRuns,
  withReplicas,
} from './deploy.js'
import {DEFAULT_TIMEOUT_MS, liveDeployments, type LiveCounts, servingCount} from './replicas.js'
import {openNotifier} from '../notify/notifier.js'
import {refuseUnwatchable} from './watch.js'
import {hooksNotUndone} from '../hooks/hooks.js'
import {placedRelease, refuseSecondRollout, rollOutRelease, scaleDownFields, scaleDownOldSlots} from '../strategies/rollout.js'
import {otherSlotDeployment} from '../strategies/strategy.js'
import {appSelector, connect, openEnvironment} from '../env/connect.js'
import {DeployFailedError, InterruptedError, TimeoutError} from '../errors.js'
import {checkImages} from '../registry/images.js'
import {handSetFields, handSetNote, refusePaused} from './drift.js'

export interface RollbackOptions {
  environment?: string
  /** A release number, or a revision (id prefix, or a branch/tag/bookmark/HEAD~N of the checkout) an earlier successful release deployed. */
  to?: string
  configPath?: string
  yes?: boolean
  dryRun?: boolean
  timeout?: string
  waitForLock?: string
  /** Restore the release's replica counts instead of keeping the live ones. */
  resetReplicas?: boolean
  /** Do not ask the registries whether the release's images still exist. */
  skipImageCheck?: boolean
}

/** What the checkout said about --to: the short id it resolved to, or why it could not resolve it. */
export interface ToResolution {
  /** The resolved revision's short id, as its VCS abbreviates it (12 digits in Mercurial). */
  short?: string
  /** Why the checkout could not resolve --to (hg missing, unknown revision, no repository). */
  failure?: UserError | Error
}

/**
 * What a release runs, to tell two releases apart: its manifests in a fixed order, without the replica counts (a
 * rollback keeps the live ones, and a deploy after a scale records the scaled count); undefined without manifests.
 */
async function runs(release: StoredRelease): Promise<string | undefined> {
  if (!release.hasManifests) return undefined
  const objects = (await release.manifests()).map((o) => {
    const spec = (o as {spec?: Record<string, unknown>}).spec
    if (spec === undefined || !('replicas' in spec)) return o
    const {replicas: _replicas, ...rest} = spec
    return {...o, spec: rest}
  })
  const key = (o: KubeObject) => `${o.apiVersion}|${o.kind}|${o.metadata.name}`
  return JSON.stringify(objects.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)))
}

/**
 * Picks the release to return to: --to N, --to <sha prefix>, or the last good one before the current. `asked` is
 * --to as typed when `to` is the commit it resolved to (a branch, tag or HEAD~N), for the error; `resolution` what
 * the checkout said about it.
 */
export async function chooseRelease(releases: StoredRelease[], to: string | undefined, env: string, asked = to, resolution: ToResolution = {}): Promise<StoredRelease> {
  // What runs now is the newest deploy or rollback.
  const current = releases.find((r) => isDeployOrRollback(r.record))
  if (to === undefined) {
    // When it failed and was not rolled back (--no-rollback, or a rollback that failed too), the way back is the
    // newest good release. Otherwise it is the newest good release that runs other manifests than the current one:
    // after a rollback to 2, the one before 2, not 2 again; and not the same manifests deployed again as a release of
    // their own (a CI job run twice for one commit), which a rollback to would change nothing.
    // Manifests are read only to compare candidates that pass the other checks (usually one).
    let previous: StoredRelease | undefined
    if (current && !isGood(current)) previous = lastGood(releases)
    else if (current) {
      const now = await runs(current)
      for (const r of releases) {
        if (r.record.number < current.record.number && isGood(r) && contentOf(r, releases) !== contentOf(current, releases) && (now === undefined || (await runs(r)) !== now)) {
          previous = r
          break
        }
      }
    }
    // Never deployed: `history` would say only that nothing is recorded.
    if (!current) throw new UserError(`${env} has no releases yet: there is nothing to roll back`, {hint: `Deploy it first: \`${deployFirst(env)}\`.`})
    if (!previous) throw new UserError(`${env} has no earlier successful release to roll back to`, {hint: `\`skycap history ${env}\` lists the releases.`})
    return previous
  }
  const byNumber = /^\d+$/.test(to) ? releases.find((r) => r.record.number === Number(to)) : undefined
  const candidates = byNumber ? [byNumber] : releases.filter((r) => r.record.revision?.sha.startsWith(to.toLowerCase()) && to.length >= 4)
  const usable = candidates.filter(isGood)
  // Ones that run other manifests than what runs now: returning to those changes something.
  const suggested = (): string => {
    // One per revision and images (what ran, as history shows it): `--to 26 or --to 25` of one commit deployed twice
    // offered the same thing twice.
    const [contents, ran] = [new Set<number>(), new Set<string>()]
    const fresh = (g: StoredRelease): boolean => {
      const [content, key] = [contentOf(g, releases), ranKey(g.record)]
      if (contents.has(content) || ran.has(key)) return false
      contents.add(content)
      ran.add(key)
      return true
    }
    if (current && isGood(current)) fresh(current)
    const good = releases.filter((g) => isGood(g) && fresh(g)).slice(0, 3)
    return good.length
      ? `Roll back to a deploy or rollback that succeeded, e.g. ${good.map((g) => `--to ${g.record.number}`).join(' or ')}; \`skycap history ${env}\` lists them.`
      : `\`skycap history ${env}\` lists the releases.`
  }
  const oldest = releases.at(-1)?.record.number
  if (!byNumber && /^\d+$/.test(to) && oldest !== undefined && Number(to) > 0 && Number(to) < oldest) {
    // A number below the oldest record: a release history.keep dropped (it said "no successful release matches").
    throw new UserError(`release ${to} of ${env} is no longer in its history (the oldest kept is release ${oldest}; history.keep says how many are kept): it cannot be rolled back to`, {
      hint: suggested(),
    })
  }
  if (usable.length === 0 && byNumber) {
    // The number names a release, but not one to return to: say which it is.
    const r = byNumber.record
    const why =
      r.action === 'scale'
        ? `is a scale entry${r.scale ? ` (${r.scale.service} ${r.scale.from} -> ${r.scale.to})` : ''}, which has no manifests of its own`
        : r.action === 'restart'
          ? `is a restart entry${r.restart ? ` (${r.restart.services.join(', ')})` : ''}, which has no manifests of its own`
          : r.result !== 'succeeded'
            ? `is a ${r.action} that ${r.result === 'interrupted' ? 'was interrupted' : r.result}`
            : 'has lost its manifests (the Secrets that hold them are gone or incomplete)'
    throw new UserError(`release ${to} of ${env} ${why}: it cannot be rolled back to`, {hint: suggested()})
  }
  if (usable.length === 0) {
    const resolved = asked !== undefined && asked !== to ? ` (${resolution.short ?? to.slice(0, 7)})` : ''
    // A name (.~1, a tag) only the checkout could turn into an id: say why it did not (hg missing, unknown there).
    const {failure} = resolution
    const unresolved = failure ? `, and the checkout cannot resolve it: ${failure.message}` : ''
    const failureHint = failure instanceof UserError && failure.hint ? `${failure.hint} ` : ''
    // The revision was deployed, but never well (`--to HEAD` of a commit whose only deploy failed): say which releases
    // ran it and how each ended, as `--to N` of such a release does.
    const ran = candidates.filter((r) => isDeployOrRollback(r.record)).slice(0, 3)
    const tried = ran.length
      ? `: it was deployed, but ${ran.map((r) => `release ${r.record.number} (${r.record.action}) ${r.record.result === 'succeeded' ? 'has lost its manifests' : r.record.result === 'interrupted' ? 'was interrupted' : r.record.result}`).join(', ')}${candidates.length > ran.length ? ', …' : ''}`
      : ''
    throw new UserError(`no successful release of ${env} matches "${asked ?? to}"${resolved}${unresolved}${tried}`, {
      hint: ran.length
        ? suggested()
        : `${failureHint}\`skycap history ${env}\` lists the releases; roll back to a number or a revision that succeeded${
            // A revision never deployed, or whose releases history.keep dropped: deploying it runs it again.
            resolved && !failure ? `, or deploy that revision as a new release: \`skycap deploy ${env}@${asked ?? to}\`` : ''
          }.`,
    })
  }
  // A revision deployed from a clean tree and again with uncommitted changes (history marks those): `--to <sha>` means
  // the commit, so the clean one is taken (it took the newest, whose files no commit has).
  return (byNumber ? undefined : usable.find((r) => !r.record.uncommitted)) ?? (usable[0] as StoredRelease)
}

/**
 * --to a branch, tag, bookmark or HEAD~N / .~N means the revision it names in the local checkout (git or Mercurial,
 * as skycap.yaml's `vcs:` says). Release numbers and plain id prefixes stay as given: rollback must also work without
 * a checkout (or with one that lacks the revision).
 */
async function revisionToCommit(dir: string, kind: VcsChoice | undefined, to: string | undefined): Promise<{to: string | undefined; resolution: ToResolution}> {
  if (to === undefined || /^\d+$/.test(to)) return {to, resolution: {}}
  try {
    const revision = await (await openVcs(dir, {kind})).resolve(to, {workTree: false})
    return {to: revision.sha, resolution: {short: revision.short}}
  } catch (error) {
    return {to, resolution: {failure: error as Error}}
  }
}

/**
 * A refused `--to N` in a Mercurial checkout where N is also a local revision number: the refusal says that --to takes
 * a release number, and how to name that changeset instead (it said only that no release matched, or that release N
 * had failed, while the user may have meant hg's revision N). Any other error, or checkout, is returned as it is.
 */
export async function hgRevisionNote(error: unknown, at: {dir: string; kind: VcsChoice | undefined; to: string | undefined; releases: StoredRelease[]; environment: string}): Promise<unknown> {
  const {to, environment: env} = at
  if (!(error instanceof UserError) || to === undefined || !/^\d{1,9}$/.test(to)) return error
  // rev(N): the local revision number only, never an id prefix made of digits.
  const changeset = await openVcs(at.dir, {kind: at.kind})
    .then((vcs) => (vcs.kind === 'hg' ? vcs.resolve(`rev(${Number(to)})`, {workTree: false}) : undefined))
    .catch(() => undefined)
  if (!changeset) return error
  const deployed = at.releases.find((r) => isGood(r) && r.record.revision?.sha === changeset.sha)
  const how = deployed
    ? `To return to that changeset, give its id: \`skycap rollback ${env} --to ${changeset.short}\` (release ${deployed.record.number} deployed it).`
    : `No release of ${env} deployed that changeset: \`skycap deploy ${env}@${changeset.short}\` deploys it.`
  return new UserError(`${error.message}; --to ${to} is a release number (\`skycap history ${env}\` lists them), not Mercurial's local revision ${to} (changeset ${changeset.short})`, {
    hint: `${how}${error.hint ? ` ${error.hint}` : ''}`,
    ...(error.details === undefined ? {} : {details: error.details}),
  })
}

/**
 * The images of the release to return to are still in their registries, or the rollback stops before any change. A
 * release whose image was deleted (a registry's retention policy) used to be applied: every service's new pods failed
 * with ErrImagePull and the Deployments were left pointing at it. A registry that cannot answer is a warning: a
 * rollback during an incident must not depend on it.
 */
async function checkReleaseImages(chosen: StoredRelease, env: string, deps: DeployDeps): Promise<void> {
  const images = [...new Set(Object.values(chosen.record.images ?? {}))]
  if (images.length === 0) return
  deps.reporter.info(`Checking release ${chosen.record.number}'s ${images.length === 1 ? 'image in its registry' : `${images.length} images in their registries`}`)
  const results = await checkImages(images, {fetch: deps.fetch})
  const missing = results.filter((r) => r.state === 'missing')
  if (missing.length) {
    throw new UserError(
      `cannot roll ${env} back to release ${chosen.record.number}: ${missing.length > 1 ? 'its images are' : 'its image is'} not in the registry (deleted since, or never pushed: deployed with --skip-image-check): ${missing.map((m) => m.image).join(', ')}; nothing was changed`,
      {
        hint: `Its pods could not pull ${missing.length > 1 ? 'them' : 'it'}. Push ${missing.length > 1 ? 'them' : 'it'}, or roll back to another release (\`skycap history ${env}\` lists them); --skip-image-check if every node still has ${missing.length > 1 ? 'them' : 'it'}.`,
        details: {images: missing},
      },
    )
  }
  for (const u of results.filter((r) => r.state === 'unknown')) deps.reporter.warn(`cannot check ${u.image} (${u.detail}); rolling back without knowing whether it exists`)
}

/**
 * The line saying which live counts a rollback keeps, with what the release it returns to had. `moved`: the
 * blue-green slots placed elsewhere than recorded (placedSlots), named as placed.
 */
export function keptCountsNote(kept: Record<string, number>, manifests: KubeObject[], release: number, moved: ReadonlyMap<string, string> = new Map()): string {
  // Deployments only: a canary service's Service, recorded after its Deployment of the same name, gave "had 1".
  // A template's Deployment may set no count: the release then had none of its own, not 1.
  const recorded = new Map(manifests.filter((o) => o.kind === 'Deployment').map((o) => [o.metadata.name, (o.spec as {replicas?: number} | undefined)?.replicas]))
  const had = (name: string) => (recorded.get(name) === undefined ? 'set no count' : `had ${recorded.get(name)}`)
  const counts = Object.entries(kept).map(([name, n]) => `${moved.get(name) ?? name} ${n} (release ${release} ${had(name)})`)
  return `Keeping the live replica counts: ${counts.join(', ')}; --reset-replicas restores the release's`
}

/**
 * The Deployment a blue-green service's release goes to, by the name the release recorded, where the two differ: a
 * release recorded in web-blue goes to web-green when web-blue serves and runs another release (slots shifted by hand,
 * a stale state). The counts a rollback keeps are said and recorded under the Deployment it places: they named the
 * recorded one (`kept replicas web-blue=3`) while web-blue was then scaled to 0. `placed`: as placedRelease places them.
 */
export function placedSlots(objects: KubeObject[], placed: KubeObject[]): Map<string, string> {
  const names = new Set(placed.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name))
  const moved = new Map<string, string>()
  for (const o of objects) {
    const other = otherSlotDeployment(o)
    if (other && !names.has(o.metadata.name) && names.has(other)) moved.set(o.metadata.name, other)
  }
  return moved
}

/** Counts by Deployment name, a slot placed elsewhere (placedSlots) under the name it is placed as. */
export function asPlaced(counts: Record<string, number>, moved: ReadonlyMap<string, string>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([name, n]) => [moved.get(name) ?? name, n]))
}

/** placedSlots, asked of the cluster only when a count the rollback names is a blue-green slot's (one read). */
async function movedSlots(kubectl: Kubectl, objects: KubeObject[], named: Record<string, number>, selector: string): Promise<Map<string, string>> {
  if (!objects.some((o) => o.metadata.name in named && otherSlotDeployment(o))) return new Map()
  return placedSlots(objects, (await placedRelease(kubectl, objects, undefined, selector)).objects)
}

/** `skycap rollback ENV [--to RELEASE|REV]`: re-applies a recorded release, watched like a deploy. */
export async function rollback(options: RollbackOptions, deps: DeployDeps): Promise<DeployReport> {
  const clock = deps.clock ?? Date.now
  // --- Validate: as a deploy's, its checks (the release, the dry run, the images) fold into a group in a CI log. ---
  deps.reporter.phase?.('validate')
  const {loaded, env, connectionOnly} = await openEnvironment({
    configPath: options.configPath,
    environment: options.environment,
    revisionFlag: '--to',
    connectionOnly: {command: 'rollback', reporter: deps.reporter, notUsed: (name) => notUsedByRollback(name, options)},
  })
  const app = loaded.config.app
  const timeoutText = options.timeout ?? loaded.config.deploy?.timeout
  const timeoutFrom = options.timeout !== undefined ? '--timeout' : 'deploy.timeout'
  const timeoutMs = timeoutText !== undefined ? await parseDuration(timeoutText, timeoutFrom) : DEFAULT_TIMEOUT_MS
  const waitMs = options.waitForLock !== undefined ? await parseDuration(options.waitForLock, '--wait-for-lock') : 0
  const target = await connect(env, deps.kubectl, deps.reporter)
  const {kubectl} = target
  const selector = appSelector(app, env.name)
  const [releases, live] = await Promise.all([listReleases(kubectl, app, env.name), liveDeployments(kubectl, selector)])
  // A canary left mid-way (its deploy stopped): the rollback kept the stable Deployment's reduced count as "live" and
  // left the state saying paused, which refused every deploy after. Refused before any change (again under the lock).
  await refuseSecondRollout({kubectl, app, environment: env.name, services: env.services, live, signal: deps.signal, action: 'rollback'})
  const resolved = await revisionToCommit(loaded.dir, loaded.config.vcs, options.to)
  const chosen = await chooseRelease(releases, resolved.to, env.name, options.to, resolved.resolution).catch(async (error: unknown) => {
    throw await hgRevisionNote(error, {dir: loaded.dir, kind: loaded.config.vcs, to: options.to, releases, environment: env.name})
  })
  if (options.to === undefined) {
    // Succeeded releases between it and what runs whose manifests are gone (their Secrets deleted or incomplete):
    // passed over, which was silent.
    const current = releases.find((r) => isDeployOrRollback(r.record))?.record.number ?? 0
    const lost = releases.filter((r) => isDeployOrRollback(r.record) && r.record.result === 'succeeded' && !r.hasManifests && r.record.number > chosen.record.number && r.record.number <= current)
    if (lost.length) {
      const one = lost.length === 1
      deps.reporter.warn(
        `release${one ? '' : 's'} ${lost.map((r) => r.record.number).join(', ')} succeeded but ${one ? 'has' : 'have'} lost ${one ? 'its' : 'their'} manifests (the Secrets that hold them are gone or incomplete): rolling back past ${one ? 'it' : 'them'} to release ${chosen.record.number}`,
      )
    }
  }
  const manifests = await chosen.manifests()
  // The recorded Deployments carry the minReadySeconds they were deployed with.
  refuseUnreachableMinReady(
    manifests.filter((o) => o.kind === 'Deployment').map((o) => [o.metadata.name, Number((o.spec as {minReadySeconds?: number} | undefined)?.minReadySeconds ?? 0)]),
    env.name,
    timeoutMs,
    timeoutText !== undefined ? `${timeoutFrom} ${timeoutText}` : `the default timeout of ${DEFAULT_TIMEOUT_MS / 60_000}m`,
    'rollback',
  )
  const planned = capacity(manifests, live, options.resetReplicas ?? false, undoneOf(releases, chosen.record))
  // Another app or environment in the namespace may have taken one of the release's names since it was deployed:
  // refused as a deploy refuses it, before any change.
  const claims = await claimedElsewhere(kubectl, planned.objects, app, env.name, () => ({release: chosen.record.number}))
  if (claims.others.length) throw claimedError(claims, app, env.name, {namespace: target.namespace, context: kubectl.context}, chosen.record.number)
  if (claims.unmanaged.length) deps.reporter.warn(adoptedNote(claims, app, env.name, 'this rollback'))
  refusePaused(claims.mine, planned.objects, env.name, kubectl, 'rollback')
  const handSet = handSetFields(claims.mine, planned.objects)
  if (handSet.length) deps.reporter.warn(handSetNote(handSet, kubectl, 'this rollback'))
  const {deferred} = await dryRunApply(kubectl, planned.objects, 'server')
  if (deferred.length) deps.reporter.info(deferredNote(deferred))
  if (!options.skipImageCheck) await checkReleaseImages(chosen, env.name, deps)
  const report = {...plannedReport(app, env, target, chosen.record.revision ?? {sha: '', short: '', subject: ''}, chosen.record.images), rolledBackTo: chosen.record.number}
  if (env.protected && !options.yes && !options.dryRun) {
    await confirmProtected(
      env,
      deps,
      'rollback',
      `Roll back PROTECTED ${env.name} (context ${target.context}, namespace ${target.namespace}) to release ${chosen.record.number} (${chosen.record.revision?.short})?\n${await changeSummary(kubectl, planned.objects, {selector, keep: (await placedRelease(kubectl, planned.objects, undefined, selector)).keep})}`,
    )
  }
  if (options.dryRun) {
    const same = await alreadyRunning(kubectl, chosen, releases, planned.objects, selector, options.to, env.name)
    if (same) {
      deps.reporter.info(`Dry run: ${same.line}: the rollback would change and record nothing`)
      report.result = 'unchanged'
      report.runningRelease = same.running
      return report
    }
    report.applied = planned.objects.map((o) => `${o.kind}/${o.metadata.name}`)
    // What the rollback would delete (a service the release did not have): it said nothing, and --json had none.
    // As the rollback keeps them: a blue-green service's other slot is scaled to 0, not pruned (the dry run said pruned).
    const dryPlaced = await placedRelease(kubectl, planned.objects, undefined, selector)
    const {keep} = dryPlaced
    const dryMoved = placedSlots(planned.objects, dryPlaced.objects)
    // What it would create or change, from the same diff `skycap diff` makes (it named only what it would prune).
    const [{refs: pruned, claims, unlisted}, {changed, revisionOnly}] = await Promise.all([findPrunable(kubectl, selector, keep), diffObjects(kubectl, planned.objects)])
    if (unlisted) deps.reporter.warn(unlistedNote(unlisted))
    report.pruned = pruned
    deps.reporter.info(`Dry run: would roll ${env.name} back to release ${chosen.record.number} (${chosen.record.revision?.short ?? '?'}) as a new release`)
    if (Object.keys(planned.kept).length) deps.reporter.info(dryRunLine(keptCountsNote(planned.kept, manifests, chosen.record.number, dryMoved)))
    const undone = undoneOf(releases, chosen.record)
    if (Object.keys(planned.restored).length && undone) deps.reporter.info(dryRunLine(restoredCountsNote(planned.restored, planned.objects, undone.runs.number, dryMoved)))
    deps.reporter.info(dryRunLine(changed.length ? `would create or change ${changed.join(', ')}` : `${noChangesLine(revisionOnly)}; the rollback would re-apply the objects`))
    if (pruned.length) deps.reporter.info(dryRunLine(pruningNote(pruned, `release ${chosen.record.number} did not have`, claims).replace(/^Pruning/, 'would prune')))
    deps.reporter.info(`Dry run: ${plural(planned.objects.length, 'object')} validated by the API server; nothing was changed`)
    return report
  }
  const notifier = await openNotifier(env, {app, reporter: deps.reporter, fetch: deps.fetch, remoteUrl: originUrl(options)})
  const lock = await acquireLock(kubectl, {
    app,
    environment: env.name,
    reason: `rollback ${env.name} to release ${chosen.record.number}`,
    durationSeconds: LEASE_SECONDS,
    waitMs,
    signal: deps.signal,
    onWait: (m) => deps.reporter.info(m),
  })
  const heartbeat = keepLockAlive(kubectl, app, lock.id, {onLost: () => deps.reporter.warn(`the lock of ${env.name} is no longer held by this rollback`)})
  // A quit at once (a second Ctrl-C) releases the lock first: it was left held for a minute.
  const quitAtOnce = deps.quitAtOnce ?? new QuitAtOnce()
  quitAtOnce.holdLock(() => releaseLock(kubectl, app, {id: lock.id}))
  // --timeout and the record's start and duration count from here: waiting for the lock is not the rollback's time
  // (a deploy's record starts under the lock too).
  const started = clock()
  const deadline = started + timeoutMs
  // The lock's release, once begun (a successful rollback releases it before the old slots' scale-down).
  let releasing: Promise<boolean> | undefined
  let failure: {error: unknown} | undefined
  try {
    // Under the lock: the number and the live counts another deploy or scale may have changed meanwhile.
    const [lockedReleases, lockedLive] = await Promise.all([
      listReleases(kubectl, app, env.name),
      liveDeployments(kubectl, selector),
      refuseClaimedMeanwhile(
        kubectl,
        planned.objects,
        {app, environment: env.name, namespace: target.namespace, origin: () => ({release: chosen.record.number}), seen: new Set(claims.unmanaged.map((c) => c.ref)), rollbackTo: chosen.record.number},
        (m) => deps.reporter.warn(m),
      ),
      refuseUnwatchable(kubectl, planned.objects, selector, `the rollback of ${env.name} to release ${chosen.record.number}`),
    ])
    await refuseSecondRollout({kubectl, app, environment: env.name, services: env.services, live: lockedLive, signal: deps.signal, action: 'rollback'})
    // "The one before the current" was chosen before the lock: a deploy or rollback recorded while this one waited
    // for it changed what is current, and the rollback went back one release too far. Refused, nothing changed
    // (with --to the target is the one named).
    const currentOf = (list: StoredRelease[]) => list.find((r) => isDeployOrRollback(r.record))?.record
    const lockedCurrent = currentOf(lockedReleases)
    if (options.to === undefined && lockedCurrent && lockedCurrent.number !== currentOf(releases)?.number) {
      throw new UserError(
        `release ${lockedCurrent.number} of ${env.name} (a ${lockedCurrent.action} that ${lockedCurrent.result === 'interrupted' ? 'was interrupted' : lockedCurrent.result}) was recorded while this rollback waited for the lock, so release ${chosen.record.number} is no longer the one before the current; nothing was changed`,
        {
          // Naming the release chosen only when it runs something else than what runs now (a deploy of the same
          // revision meanwhile made returning to it a change of nothing).
          hint: `Look at \`skycap history ${env.name}\`, then run \`skycap rollback ${env.name}\` again${ranKey(chosen.record) === ranKey(lockedCurrent) ? '' : `, or name the release: \`skycap rollback ${env.name} --to ${chosen.record.number}\``}.`,
        },
      )
    }
    const undone = undoneOf(lockedReleases, chosen.record)
    const {objects, kept, restored} = capacity(manifests, lockedLive, options.resetReplicas ?? false, undone)
    const same = await alreadyRunning(kubectl, chosen, lockedReleases, objects, selector, options.to, env.name)
    if (same) {
      heartbeat.stop()
      releasing = releaseOwnLock(kubectl, app, lock.id, (m) => deps.reporter.warn(m))
      await releasing
      quitAtOnce.holdLock(undefined)
      deps.reporter.info(`${same.line}: nothing was changed or recorded`)
      report.result = 'unchanged'
      report.release = null
      report.runningRelease = same.running
      // An old blue-green slot whose scale-down was left (the lock held then) is scaled down as a rollback does it.
      Object.assign(report, scaleDownFields(await scaleDownOldSlots(kubectl, {objects: same.placed, app, environment: env.name, reporter: deps.reporter, clock, signal: deps.signal})))
      return report
    }
    let number = nextReleaseNumber(lockedReleases)
    const from = lockedReleases.find((r) => isDeployOrRollback(r.record))?.record.number
    report.release = number
    deps.reporter.phase?.('rollback')
    const facts = {action: 'rollback', trigger: 'manual', release: number, revision: report.revision, fromRevision: runningRevision(lockedReleases), rolledBackTo: chosen.record.number} as const
    notifier.send({...facts, event: 'started', result: 'running'})
    deps.reporter.info(
      `Rolling ${env.name} back to release ${chosen.record.number} (${chosen.record.revision?.short}${chosen.record.uncommitted ? ', deployed with uncommitted changes: its files are not the commit’s' : ''}) as release ${number}`,
    )
    const notUndone = hooksNotUndone(lockedReleases.filter((r) => r.record.number > chosen.record.number).map((r) => r.record))
    if (notUndone) deps.reporter.warn(notUndone)
    const moved = await movedSlots(kubectl, objects, {...kept, ...restored}, selector)
    if (Object.keys(kept).length) deps.reporter.info(keptCountsNote(kept, manifests, chosen.record.number, moved))
    if (Object.keys(restored).length && undone) deps.reporter.info(restoredCountsNote(restored, objects, undone.runs.number, moved))
    const keep = connectionOnly?.has(['history', 'keep']) ? Number.POSITIVE_INFINITY : (loaded.config.history?.keep ?? 10)
    // From here the cluster may change: a quit at once (a second Ctrl-C) records the rollback as interrupted, as a
    // deploy's does (it left the rollback unrecorded).
    quitAtOnce.arm(async () =>
      saveRelease(
        kubectl,
        {
          ...rollbackRecord(chosen, app, env.name, number, 'manual', from),
          result: 'interrupted',
          startedAt: new Date(started).toISOString(),
          finishedAt: new Date(clock()).toISOString(),
          durationMs: clock() - started,
          message: 'quit at once (a second Ctrl-C or signal) before the rollback ended: the rollout was left as it was, not watched to the end',
        },
        undefined,
        lockedReleases,
        keep,
      ),
    )
    const rollout = await rollOutRelease({
      kubectl,
      objects,
      selector,
      deadline,
      // The watch's title, as the automatic rollback's: the line above already says "Rolling prod back to release N"
      // (it said "Rolling back to release N" again here).
      title: `Rolling out ${app} ${env.name}@${chosen.record.revision?.short ?? '?'} again (release ${chosen.record.number})`,
      reporter: deps.reporter,
      config: loaded.config,
      clock,
      signal: deps.signal,
      intervalMs: deps.intervalMs,
      app,
      environment: env.name,
      namespace: target.namespace,
      release: number,
      fetch: deps.fetch,
    })
    report.applied = rollout.applied
    report.failures = rollout.failures
    report.interrupted = rollout.interrupted
    report.result = rollout.outcome === 'ready' ? 'succeeded' : rollout.outcome === 'timeout' ? 'timed-out' : rollout.outcome === 'interrupted' ? 'interrupted' : 'failed'
    const pruning =
      rollout.outcome === 'ready'
        ? await pruneLive(kubectl, selector, rollout.keep, (refs, claims) => deps.reporter.info(pruningNote(refs, `release ${chosen.record.number} did not have`, claims)))
        : undefined
    if (pruning) report.pruned = pruning.pruned
    if (pruning?.unpruned) deps.reporter.warn(unprunedNote(pruning.unpruned))
    if (pruning?.unlisted) deps.reporter.warn(unlistedNote(pruning.unlisted))
    // What the release rolled back from had of the kinds skycap never prunes (a CustomResourceDefinition, a
    // ClusterRole) stayed unsaid. A failed release records no manifests: the newest after the one returned to that has.
    const rolledFrom = lockedReleases.find((r) => r.record.number > chosen.record.number && isDeployOrRollback(r.record) && r.hasManifests)
    const left = pruning && rolledFrom ? leftInPlace(await rolledFrom.manifests().catch(() => []), rollout.keep) : []
    if (left.length) {
      report.leftInPlace = left
      deps.reporter.warn(leftInPlaceNote(left, `release ${chosen.record.number} did not have`))
    }
    // A service blue-green now and not in the release returned to: its state goes with its slots.
    if (
      pruning &&
      mayHaveBlueGreenState(
        env.services,
        lockedReleases.map((r) => r.record),
      )
    ) {
      await forgetLeftBlueGreen(kubectl, app, env.name, rollout.keep).catch((error) =>
        deps.reporter.warn(`could not clear the blue-green state of services that left blue-green: ${(error as Error).message}`),
      )
    }
    // The explanation shows unfolded, after the rollback group (docs/ci.md).
    if (rollout.failures.length) deps.reporter.phase?.(null)
    for (const text of rolloutReport(rollout)) deps.reporter.info(text)
    const cause = rollout.failures[0] ? `${rollout.failures[0].ref}: ${rollout.failures[0].message}` : report.result
    const running = rollout.outcome === 'ready' ? undefined : await whatRuns(kubectl, selector).catch(() => undefined)
    report.durationMs = clock() - started
    await quitAtOnce.own(() =>
      saveRelease(
        kubectl,
        {
          ...rollbackRecord(chosen, app, env.name, number, 'manual', from),
          result: rollout.outcome === 'ready' ? 'succeeded' : rollout.outcome === 'interrupted' ? 'interrupted' : 'failed',
          startedAt: new Date(started).toISOString(),
          finishedAt: new Date(clock()).toISOString(),
          durationMs: report.durationMs,
          ...(Object.keys(kept).length ? {keptReplicas: asPlaced(kept, moved)} : {}),
          ...(rollout.failures[0] ? {failed: rollout.failures[0].ref} : {}),
          ...(rollout.outcome === 'ready' ? {} : {message: `${cause}${running ? `; now running: ${running}` : ''}`}),
        },
        rollout.outcome === 'ready' ? rollout.recorded : undefined,
        lockedReleases,
        // From an invalid skycap.yaml that sets history.keep: no record is dropped (the next deploy keeps its number).
        keep,
        {
          onContact: (event) => reportContact(deps.reporter, event, RECORD_MEANWHILE),
          onRenumbered: (taken, to, why) => {
            deps.reporter.warn(renumberedNote(env.name, 'rollback', taken, to, why))
            number = to
            report.release = to
            report.renumberedFrom ??= taken
          },
        },
      ),
    )
    notifier.send(
      rollout.outcome === 'ready'
        ? {...facts, event: 'rolled-back', result: 'succeeded'}
        : {...facts, event: 'failed', result: report.result === 'succeeded' ? 'failed' : report.result, reason: cause},
    )
    if (pruning?.interrupted) {
      throw new InterruptedError(
        `${env.name} is back at release ${chosen.record.number} (${chosen.record.revision?.short}), recorded as release ${number}; interrupted while pruning what it no longer renders`,
        {
          hint: `The next deploy or rollback prunes what is left; \`skycap status ${env.name}\` shows what runs.`,
          details: {report},
        },
      )
    }
    if (rollout.outcome === 'ready') {
      heartbeat.stop()
      releasing ??= releaseOwnLock(kubectl, app, lock.id, (m) => deps.reporter.warn(m))
      await releasing
      quitAtOnce.holdLock(undefined)
      Object.assign(report, scaleDownFields(await scaleDownOldSlots(kubectl, {objects: rollout.recorded, app, environment: env.name, reporter: deps.reporter, clock, signal: deps.signal})))
      return report
    }
    const now = running ? `; now running: ${running}` : ''
    if (rollout.outcome === 'interrupted') throw new InterruptedError(`rollback of ${env.name} interrupted; ${LOCK_RELEASED}${now}`, {details: {report}})
    if (rollout.outcome === 'timeout') throw new TimeoutError(`rollback of ${env.name} to release ${chosen.record.number} did not become ready in time (${cause})${now}`, {details: {report}})
    throw new DeployFailedError(`rollback of ${env.name} to release ${chosen.record.number} failed: ${cause}${now}`, {details: {report}})
  } catch (error) {
    notifier.failUnfinished(error)
    failure = {error}
  } finally {
    heartbeat.stop()
    releasing ??= releaseOwnLock(kubectl, app, lock.id, (m) => deps.reporter.warn(m))
    await releasing
    quitAtOnce.holdLock(undefined)
    await settleNotifications(notifier, report, deps.signal)
  }
  // Only an error gets here (the rollback returns above): its message says whether the lock could be released.
  throw afterLockRelease(failure?.error, await releasing)
}

/**
 * Whether `--to` names what already runs, as it runs: the running release (a succeeded deploy or rollback) ran the
 * same manifests, and placed as the rollback would place them they differ from the live objects in nothing (kubectl
 * diff, and nothing to prune). A second rollback that waited for the lock while another returned to the same release
 * re-applied it as an entry of its own. Objects changed by hand since are a difference: the rollback goes on and puts
 * them back. One `kubectl diff` (and a listing), only when the manifests are the same.
 */
async function alreadyLive(kubectl: Kubectl, chosen: StoredRelease, running: StoredRelease, releases: StoredRelease[], objects: KubeObject[], selector: string): Promise<KubeObject[] | undefined> {
  if (!isGood(running)) return undefined
  // The same release, or another that ran the same manifests (a CI job run again for one commit: `--to 3` recorded a
  // rollback that changed nothing, while `--to 4`, what ran, said so).
  if (contentOf(chosen, releases) !== contentOf(running, releases)) {
    const [theirs, ours] = await Promise.all([runs(chosen), runs(running)])
    if (theirs === undefined || theirs !== ours) return undefined
  }
  const placed = await placedRelease(kubectl, objects, undefined, selector)
  const {changed} = await diffObjects(kubectl, placed.objects, {selector, keep: placed.keep})
  return changed.length === 0 ? placed.objects : undefined
}

/**
 * What already runs, as the rollback would leave it, with the line that says so; undefined when the rollback changes
 * something. `--to` a release that ran what runs (alreadyLive); or, without --to after a deploy that failed, the
 * release returned to when the failed one left it running (a predeploy hook that failed before anything rolled out:
 * the rollback was recorded as a release of its own that changed nothing, though its dry run said "no changes").
 */
async function alreadyRunning(
  kubectl: Kubectl,
  chosen: StoredRelease,
  releases: StoredRelease[],
  objects: KubeObject[],
  selector: string,
  to: string | undefined,
  environment: string,
): Promise<{placed: KubeObject[]; line: string; running: number} | undefined> {
  const runs = releases.find((r) => isDeployOrRollback(r.record))
  if (!runs) return undefined
  if (to !== undefined) {
    const placed = await alreadyLive(kubectl, chosen, runs, releases, objects, selector)
    return placed && {placed, line: alreadyRunsLine(chosen, runs, environment), running: runs.record.number}
  }
  if (isGood(runs)) return undefined
  const placed = await placedRelease(kubectl, objects, undefined, selector)
  const {changed} = await diffObjects(kubectl, placed.objects, {selector, keep: placed.keep})
  if (changed.length) return undefined
  const how = runs.record.result === 'interrupted' ? 'was interrupted' : runs.record.result
  return {
    placed: placed.objects,
    line: `Release ${chosen.record.number} of ${environment} is what runs (release ${runs.record.number}, a ${runs.record.action} that ${how}, left it running)`,
    running: chosen.record.number,
  }
}

/**
 * `Release 3 of prod is what runs (a rollback to release 1)`: said of a rollback --to what already runs. It leads with
 * the release that runs: it said `Release 1 of prod is what runs` of release 1 when release 3 ran.
 */
function alreadyRunsLine(chosen: StoredRelease, runs: StoredRelease, environment: string): string {
  const [to, target] = [runs.record.rolledBackTo, chosen.record.number]
  const how =
    runs.record.action !== 'rollback'
      ? `a deploy of what release ${target} ran`
      : to === target
        ? `a rollback to release ${target}`
        : `a rollback to release ${to}, which ran what release ${target} ran`
  return `Release ${runs.record.number} of ${environment} is what runs${runs.record.number === target ? '' : ` (${how})`}`
}

/**
 * The result line of a rollback that changed nothing: the release that runs, and the one it would have returned to
 * when that is another (`nothing to roll back: test runs release 6 (3f2c1ab), the same as release 5`; it named
 * release 5 as the one that ran).
 */
export function nothingToRollBackLine(report: Pick<DeployReport, 'environment' | 'revision' | 'rolledBackTo' | 'runningRelease'>): string {
  const runs = report.runningRelease ?? report.rolledBackTo
  const same = report.rolledBackTo === undefined || report.rolledBackTo === runs ? '' : `, the same as release ${report.rolledBackTo}`
  return `nothing to roll back: ${report.environment} runs release ${runs ?? '?'} (${report.revision.short})${same}`
}

/**
 * What a rollback reads from a valid skycap.yaml beyond the connection, and what it does instead when the file is
 * invalid (said when the file sets the key). Hooks are not among them: a rollback runs none (hooksNotUndone).
 */
function notUsedByRollback(environment: string, options: RollbackOptions): Array<[Array<string | number>, string]> {
  const none = 'no notification is sent'
  return [
    [['notify'], `notify (${none})`],
    [['environments', environment, 'notify'], `environments.${environment}.notify (${none})`],
    ...(options.timeout === undefined ? [[['deploy', 'timeout'], `deploy.timeout (the rollback waits the default ${DEFAULT_TIMEOUT_MS / 60_000}m; pass --timeout)`] as [string[], string]] : []),
    [['history', 'keep'], 'history.keep (no release record is dropped this time)'],
    [['logs'], 'logs.exclude (a failure shows every log line)'],
  ]
}

/**
 * What a rollback undoes, for its replica rule: the release that runs (the newest deploy or rollback that reached its
 * rollout, whatever its result: a failed `--no-rollback` deploy applied its counts), the release returned to, and the
 * services scaled since the one that runs.
 */
export interface Undone {
  runs: ReleaseRecord
  target: ReleaseRecord
  scaledSince: Set<string>
  /** The count `skycap scale` left per service between the release returned to and the one that runs: what ran then. */
  scaledBetween: Map<string, number>
}

/** `Undone` from the history (newest first) and the release returned to. */
export function undoneOf(releases: StoredRelease[], target: ReleaseRecord): Undone | undefined {
  // One a predeploy hook stopped applied nothing: the counts are the release's before it.
  const at = releases.findIndex((r) => isDeployOrRollback(r.record) && !stoppedBeforeRollout(r))
  const runs = releases[at]?.record
  if (!runs) return undefined
  const scaledSince = new Set(releases.slice(0, at).flatMap((r) => (r.record.scale ? [r.record.scale.service] : [])))
  const scaledBetween = new Map<string, number>()
  for (const r of releases.slice(at + 1)) {
    if (r.record.number <= target.number) break
    if (r.record.scale && !scaledBetween.has(r.record.scale.service)) scaledBetween.set(r.record.scale.service, r.record.scale.to)
  }
  return {runs, target, scaledSince, scaledBetween}
}

/**
 * The replica rule of a rollback: a Deployment that runs keeps its live count (a rollback during an incident must
 * not shrink capacity), unless `reset`. Not a count the release that runs set from its skycap.yaml (`undone`): a
 * deploy whose `replicas: 1` replaced a scaled 3, then failed, is undone with its count (the rollback kept 1, and the
 * incident ran on a third of the pods), unless `skycap scale` changed that service since. `kept` lists the counts
 * kept that differ from the release's; `restored` those taken back from the release that runs.
 */
export function capacity(objects: KubeObject[], live: LiveCounts, reset: boolean, undone?: Undone): {objects: KubeObject[]; kept: Record<string, number>; restored: Record<string, number>} {
  if (reset) return {objects, kept: {}, restored: {}}
  const kept: Record<string, number> = {}
  const restored: Record<string, number> = {}
  const counts = new Map(live)
  for (const o of objects) {
    let n = live.get(o.metadata.name)
    // A blue-green slot: the service's live size is the slot that serves now, whatever the count of the slot the
    // release goes to (scaled to 0 after its delay, or kept at the count it served with while the serving one was
    // scaled: the rollback brought it back at its own 4 while 6 served).
    if (otherSlotDeployment(o)) {
      const serving = servingCount(o.metadata.name.replace(/-(blue|green)$/, ''), live)
      if (serving !== undefined) counts.set(o.metadata.name, (n = serving))
    }
    const recorded = (o.spec as {replicas?: number} | undefined)?.replicas ?? 1
    if (o.kind !== 'Deployment' || n === undefined || n === recorded) continue
    const service = o.metadata.labels?.[LABELS.name]
    const set = service === undefined ? undefined : undone?.runs.configuredReplicas[service]
    if (service !== undefined && set === n && set !== undone?.target.configuredReplicas[service] && !undone?.scaledSince.has(service)) {
      // What ran before it: the release's count, or a scale of the service after the release.
      const before = undone?.scaledBetween.get(service) ?? recorded
      counts.set(o.metadata.name, before)
      restored[o.metadata.name] = n
    } else kept[o.metadata.name] = n
  }
  return {objects: withReplicas(objects, counts), kept, restored}
}

/** The line for the counts `capacity` took back: `Restoring web 3 (release 5 set 1 from its skycap.yaml)`. */
export function restoredCountsNote(restored: Record<string, number>, objects: KubeObject[], runs: number, moved: ReadonlyMap<string, string> = new Map()): string {
  // `objects`: as capacity placed them; `moved`: as keptCountsNote.
  const counts = Object.entries(restored).map(([name, from]) => {
    const to = (objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name)?.spec as {replicas?: number} | undefined)?.replicas ?? 1
    return `${moved.get(name) ?? name} ${from} → ${to}`
  })
  return `Restoring the replica counts release ${runs} set from its skycap.yaml: ${counts.join(', ')}`
}
