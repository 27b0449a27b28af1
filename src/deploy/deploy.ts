import {buildImages, type BuildOptions, type BuildReport} from '../build/build.js'
import type {ProcessRunner} from '../build/process.js'
import type {Environment} from '../config/types.js'
import {targetRevision} from '../vcs/target.js'
import {ApiServerUnreachableError, DeployFailedError, InterruptedError, KubectlError, TimeoutError, UnreachableError, UserError} from '../errors.js'
import {ciJobUrl, whoAmI} from '../identity.js'
import {type Kubectl, KUBECTL_STOPPED} from '../kubectl/kubectl.js'
import {acquireLock, afterLockRelease, keepLockAlive, LEASE_SECONDS, LOCK_RELEASED, releaseLock, releaseOwnLock, renewLock} from '../lock/lease.js'
import {CONFIG_KINDS, type KubeObject} from '../render/objects.js'
import {ClusterSnapshot} from '../resources/status.js'
import {serviceStatus} from './inspect.js'
import {prepareRelease, type PreparedRelease, UNTRACKED_COUNT} from '../render/prepare.js'
import {checkImages, uncheckedImagesHint} from '../registry/images.js'
import {
  elsewhereNote,
  type HookRecord,
  lastGood,
  listReleases,
  nextReleaseNumber,
  type ReleaseRecord,
  type RolloutSummary,
  isDeployOrRollback,
  RECORD_MEANWHILE,
  recordedElsewhere,
  renumberedNote,
  UNRECORDABLE_HINT,
  unrecordableNote,
  type RenumberedWhy,
  saveRelease,
  type StoredRelease,
  unsucceededAfter,
} from '../release/store.js'
import {QuitAtOnce} from '../release/quit-at-once.js'
import {dryRunLine, formatWarning, plural, type Reporter} from '../ui/output.js'
import {
  adoptedNote,
  claimedElsewhere,
  refuseClaimedMeanwhile,
  claimedError,
  deferredNote,
  dryRunApply,
  leftInPlace,
  leftInPlaceNote,
  pruneLive,
  findPrunable,
  unlistedNote,
  pruningNote,
  renderedOrigin,
  takenFromOthers,
  takenNote,
  unprunedNote,
  withRejectedObjects,
} from './apply.js'
import {type FailureReport} from './explain.js'
import {applyAndWatch, rolloutReport, type RolloutResult} from './rollout.js'
import {reportContact} from '../kubectl/outage.js'
import {placedRelease, refuseSecondRollout, rollOutRelease, scaleDownFields, scaleDownOldSlots} from '../strategies/rollout.js'
import {otherSlotDeployment, strategyOf} from '../strategies/strategy.js'
import {clearDeployUnderWay, type DeployUnderWay, followAppliedSlots, forgetLeftBlueGreen, mayHaveBlueGreenState, rolloutSummaries, writeDeployUnderWay} from '../strategies/state.js'
import {appSelector, connect, CREATED_BY, type KubectlFactory, namespaceExists, type Target} from '../env/connect.js'
import {changeSummary} from './diff.js'
import {configuredReplicas, DEFAULT_TIMEOUT_MS, keepScaledReplicas, keptReplicasNote, liveDeployments, replacedReplicasNote} from './replicas.js'
import {parseDuration} from '../duration.js'
import {DeployHooks, HookFailedError, type HookJob, hookLeftRunningNote, hooksNotUndoneBy, planHooks, refuseBesideRunningHooks} from '../hooks/hooks.js'
import {configLeftNote, putBackConfig} from '../hooks/restore.js'
import {type ChecksVerdict, requireGreenChecks} from '../ci-checks/checks.js'
import {configFilePath, openRepository} from '../config/load.js'
import {type Notifier, type NotifyWarning, openNotifier} from '../notify/notifier.js'
import {refuseUnwatchable} from './watch.js'
import type {EventFacts} from '../notify/event.js'
import {handAppliedNote, handAppliedRemovals, handSetFields, handSetNote, refusePaused} from './drift.js'

export interface DeployOptions {
  target?: string
  configPath?: string
  cwd?: string
  /** Skip the confirmation of protected environments. */
  yes?: boolean
  dryRun?: boolean
  skipImageCheck?: boolean
  noRollback?: boolean
  /** Whole-deploy time limit, e.g. "5m" (default: deploy.timeout in skycap.yaml, else 10 minutes). */
  timeout?: string
  /** Wait this long for a held lock, e.g. "10m". */
  waitForLock?: string
  /** false: the command has no --wait-for-lock (skycap up), so a held lock's hint names none. */
  waitFlag?: boolean
  resetReplicas?: boolean
  reason?: string
  /** Full image references by service that replace the revision's (skycap up: images built from the work tree). */
  images?: Record<string, string>
  /** The kube context to use instead of the environment's (skycap up --cluster). */
  context?: string
  /** Build (or skip) the revision's images first, with these build options. */
  build?: Pick<BuildOptions, 'builder' | 'jobs' | 'force'>
  /**
   * What deploys this again, in the hints of an interrupted deploy (default: a deploy of the environment, or a
   * rollback). skycap up: `skycap up`, since its images are built from the work tree (a deploy of the environment has
   * none of them) and its first release has nothing to roll back to.
   */
  again?: string
  /** Deploy without running the predeploy/postdeploy hooks (recorded in the release). */
  skipHooks?: boolean
  /** Deploy without asking GitHub whether the revision's checks are green (requireChecks; recorded in the release). */
  ignoreChecks?: boolean
}

/** The message of a release recorded by a quit at once (history shows it). */
const QUIT_AT_ONCE = 'quit at once (a second Ctrl-C or signal) before the deploy ended: the rollout was left as it was, not watched to the end'

export interface DeployDeps {
  kubectl: KubectlFactory
  reporter: Reporter
  /** Asks the user to confirm a protected deploy; absent when nobody can answer (no TTY, or --json). */
  /** `answer`: what the person types to confirm (default yes). */
  confirm?: (summary: string, answer?: string) => Promise<boolean>
  /** Why `confirm` is absent when a terminal is there: --json output asks no questions. */
  noQuestions?: 'json'
  signal?: AbortSignal
  clock?: () => number
  fetch?: typeof fetch
  intervalMs?: number
  /** Build output lines (deploy --build). */
  buildOutput?: (line: string) => void
  /** Runs the builders' processes (deploy --build; a fake in unit tests). */
  buildRun?: ProcessRunner
  /**
   * While a hook's Job runs, what a second Ctrl-C (which quits before the release is recorded) leaves behind, in
   * words; undefined once the Job has ended.
   */
  onHookJob?: (quitNote: string | undefined) => void
  /**
   * What a quit at once (a second Ctrl-C) does first (src/release/quit-at-once.ts): told of the lock once it is held,
   * and armed once the deploy may change the cluster, it records the release as interrupted (or waits for the
   * deploy's own write of its record), then releases the lock.
   */
  quitAtOnce?: QuitAtOnce
}

/** What a deploy did, for the summary and --json (also attached to the error when it failed). */
export interface DeployReport {
  app: string
  environment: string
  context: string
  namespace: string
  release: number | null
  /** The commit: its id, subject and author (the person who wrote it; `user` is who deployed it). */
  revision: {sha: string; short: string; subject: string; author?: string}
  images: Record<string, string>
  /** unchanged: a rollback to what already runs, as it runs (nothing applied or recorded). */
  result: 'succeeded' | 'failed' | 'timed-out' | 'interrupted' | 'planned' | 'unchanged'
  durationMs: number
  applied: string[]
  pruned: string[]
  /**
   * What the release before had and this one no longer renders, of the kinds skycap does not prune (cluster-scoped
   * objects, custom resources, PersistentVolumeClaims): left in place. Absent when there is none.
   */
  leftInPlace?: string[]
  /** What failed (on a timeout: what was not ready), explained. */
  failures: FailureReport[]
  /** The hooks the deploy ran (name, phase, result, duration, exit code, Job). */
  hooks?: HookRecord[]
  /** requireChecks: the revision's GitHub statuses and check runs, all green. */
  checks?: ChecksVerdict
  /** requireChecks was skipped with --ignore-checks. */
  ignoreChecks?: true
  /** `skycap rollback`: the release it returned to (its revision and images are this report's). */
  rolledBackTo?: number
  /** `skycap rollback` that changed nothing (`unchanged`): the release that runs, which ran what `rolledBackTo` ran. */
  runningRelease?: number
  /** Resources still moving when another one failed: their state at that moment. */
  interrupted?: Array<{ref: string; message: string}>
  rollback?: {
    /** The release returned to. */
    to: number | null
    /** The history entry of the rollback itself. */
    release: number | null
    /** The number another command recorded meanwhile; the rollback's record took `release` instead. */
    renumberedFrom?: number
    result: 'succeeded' | 'failed' | 'skipped' | 'interrupted'
    reason?: string
    /** After a failed rollback: what the Deployments run now. */
    running?: string
    failures: FailureReport[]
    /** What the failed release applied of the kinds skycap never prunes and the release returned to lacks. */
    leftInPlace?: string[]
  }
  /** Notifications that were not delivered (docs/notify.md); absent when all were. */
  notifications?: NotifyWarning[]
  /**
   * The release number another command recorded while this one ran (its lock released by hand): this one's record took
   * `release` instead (the warning on stderr says so). Absent otherwise.
   */
  renumberedFrom?: number
  /** Blue-green: the old slots scaled to 0 once their scaleDownDelay was over (absent when none). */
  scaledDown?: string[]
  /**
   * Blue-green: the old slots due for scale-down that this command left up, and why (the lock held by someone else,
   * an API server that does not answer): the next deploy, rollback or `rollout resume` scales them down. Absent when none.
   */
  scaleDownLeft?: {slots: string[]; reason: string}
  /** --build: what was built or found in the registry (as `skycap build --json` reports it); absent without --build. */
  build?: Pick<BuildReport, 'source' | 'tag' | 'builder' | 'images' | 'durationMs'>
}

/** `skycap deploy ENV[@REV]`: validate, lock, apply, watch, explain, roll back, record. */
export async function deploy(options: DeployOptions, deps: DeployDeps): Promise<DeployReport> {
  const clock = deps.clock ?? Date.now
  const started = clock()
  const {reporter} = deps

  const prepare = () => prepareRelease({target: options.target, configPath: options.configPath, cwd: options.cwd, refuseDirtyProtected: true, images: options.images})
  // With --build, the release is rendered and requireChecks asked before the build: an error in skycap.yaml or a
  // template costs no build, and a revision CI has not approved gets no images pushed. The release rendered then is
  // the one validated and deployed after the build.
  let early: PreparedRelease | undefined
  let approved: Pick<DeployReport, 'checks' | 'ignoreChecks'> | undefined
  let connected: Target | undefined
  let built: DeployReport['build']
  const environmentOf = (p: PreparedRelease) => (options.context ? {...p.environment, context: options.context} : p.environment)
  if (options.build) {
    if (options.dryRun) throw new UserError('--build pushes images, and --dry-run changes nothing', {hint: 'Run skycap build first, then deploy --dry-run.'})
    early = await prepare()
    // A protected environment nobody can confirm (no terminal, or --json) is refused before the build: it pushed the
    // images, then refused.
    if (early.environment.protected && !options.yes && !deps.confirm) await confirmProtected(early.environment, deps, 'deploy', '')
    approved = await verifyChecks(early.environment, early, options, deps)
    // The images skycap does not build are checked before it builds and pushes the others: a deploy that cannot
    // happen pushes nothing.
    const buildable = buildsOf(early)
    // A service without build: that runs a built service's image (docs/build.md) gets it from this build: it was
    // checked as missing, and deploy --build of such an app always stopped here, naming --build as the way out.
    const pushed = new Set([...buildable].map((service) => early?.images[service]))
    if (!options.skipImageCheck) await checkImagesExist(early, deps, (service) => !buildable.has(service) && !pushed.has(early?.images[service]))
    // The kube context is looked up in the kubeconfig (the cluster is not asked) before the build: a context the
    // kubeconfig lacks used to be said only after the images were built and pushed.
    connected = await connect(environmentOf(early), deps.kubectl, reporter)
    const environment = options.target && !options.target.startsWith('@') ? options.target.split('@')[0] : undefined
    const {source, tag, builder, images, durationMs} = await buildImages(
      // The deploy's own warnings say it when the work tree has uncommitted changes.
      {
        ...options.build,
        environment,
        revision: targetRevision(options.target),
        configPath: options.configPath,
        cwd: options.cwd,
        warnUncommitted: false,
        expectImages: Object.fromEntries([...buildable].map((service) => [service, early?.images[service] as string])),
      },
      {reporter, output: deps.buildOutput, fetch: deps.fetch, signal: deps.signal, run: deps.buildRun},
    )
    built = {source, tag, builder, images, durationMs}
  }

  // --- Validate: nothing in the cluster changes before this phase passes. ---
  reporter.phase?.('validate')
  const prepared = early ?? (await prepare())
  for (const w of prepared.warnings) reporter.warn(formatWarning(w))
  const env = environmentOf(prepared)
  const timeoutText = options.timeout ?? prepared.loaded.config.deploy?.timeout
  const timeoutFrom = options.timeout !== undefined ? '--timeout' : 'deploy.timeout'
  const timeoutMs = timeoutText !== undefined ? await parseDuration(timeoutText, timeoutFrom) : DEFAULT_TIMEOUT_MS
  refuseUnreachableMinReady(
    Object.entries(env.services).map(([name, svc]) => [name, svc.minReadySeconds ?? 0]),
    env.name,
    timeoutMs,
    timeoutText !== undefined ? `${timeoutFrom} ${timeoutText}` : `the default timeout of ${DEFAULT_TIMEOUT_MS / 60_000}m`,
  )
  const waitForLockMs = options.waitForLock !== undefined ? await parseDuration(options.waitForLock, '--wait-for-lock') : 0
  const checks = approved ?? (await verifyChecks(env, prepared, options, deps))
  // A Ctrl-C that stops one of these reads (kubectl gets the signal too) is still in validation: it said only
  // "interrupted; kubectl was stopped … check skycap status", as if the deploy might have changed something.
  const validating = <T>(read: Promise<T>): Promise<T> =>
    read.catch((error: unknown) => {
      if (error instanceof InterruptedError && error.message.startsWith(KUBECTL_STOPPED)) throw new InterruptedError(`interrupted during validation of ${env.name}; nothing was changed`)
      throw error
    })
  const target = connected ?? (await validating(connect(env, deps.kubectl, reporter)))
  const {kubectl} = target
  reporter.info(`Validating ${prepared.app} ${env.name}@${prepared.revision.short} for context ${target.context}, namespace ${target.namespace}`)
  const nsExists = await validating(namespaceExists(kubectl, env.namespace))
  const selector = appSelector(prepared.app, env.name)
  // The replica rule only needs the records; the manifests are read under the lock, where the rollback target is chosen.
  const [releases, live] = nsExists
    ? await validating(Promise.all([listReleases(kubectl, prepared.app, env.name, {manifests: false}), liveDeployments(kubectl, selector)]))
    : [[], new Map<string, number>()]
  // A first release here while the environment's history is in another namespace (its `namespace` changed): the old
  // copy runs on, unsaid until now.
  if (releases.length === 0) {
    const elsewhere = await validating(recordedElsewhere(kubectl, prepared.app, env.name, env.namespace))
    if (elsewhere.length) reporter.warn(elsewhereNote(env.name, env.namespace, elsewhere, kubectl.context))
  }
  const objects = keepScaledReplicas(prepared, env, releases, live, options.resetReplicas ?? false)
  // After --build, the images it built or found are checked again (a tag pushed elsewhere meanwhile is still there).
  if (!options.skipImageCheck) await checkImagesExist(prepared, deps, early ? (service) => buildsOf(prepared).has(service) : undefined)
  checkRecordable(objects)
  await planHooks(env, objects, options.skipHooks ?? false)

  const report = {
    ...plannedReport(
      prepared.app,
      env,
      target,
      {sha: prepared.revision.sha, short: prepared.revision.short, subject: prepared.revision.subject, ...(prepared.revision.author ? {author: prepared.revision.author} : {})},
      prepared.images,
    ),
    ...checks,
    ...(built ? {build: built} : {}),
  }

  // Nobody can confirm without a terminal: refuse (confirmProtected throws) before creating anything. A first
  // deploy asks before it creates the namespace the server dry run needs.
  const ask = env.protected && !options.yes && !options.dryRun
  if (ask && (!deps.confirm || !nsExists)) {
    const listed = objects.map((o) => `  + ${o.kind}/${o.metadata.name}`).join('\n')
    await confirmProtected(
      env,
      deps,
      'deploy',
      `First deploy of ${prepared.app} ${prepared.revision.short} to PROTECTED ${env.name} (context ${target.context}): namespace ${env.namespace} will be created with ${objects.length} objects:\n${listed}\nProceed?`,
    )
  }
  // The server can only dry-run objects into a namespace that exists. A first deploy creates the namespace now,
  // and deletes it again if validation or the confirmation fails, so the cluster is left as it was. --dry-run
  // changes nothing at all: it falls back to a client dry run with strict schema validation.
  const hookCheck = {skipHooks: options.skipHooks ?? false, hasHooks: env.hooks.predeploy.length + env.hooks.postdeploy.length > 0, reporter, releases}
  const createNamespace = !nsExists && !options.dryRun && (await createNamespaceOnce(kubectl, env.namespace, reporter))
  // A namespace this deploy made goes again when it stops before its first change (validation, the lock).
  const dropMadeNamespace = async (): Promise<void> => {
    if (!createNamespace) return
    // Another deploy may have started into the namespace meanwhile (it found it, made by this one): its lock, records
    // or objects keep the namespace (deleting it took that deploy's live release with it, after it had said "deployed").
    const others = await othersInNamespace(kubectl).catch(() => undefined)
    if (others === undefined)
      reporter.warn(`kept namespace ${env.namespace}, made by this deploy: what is in it could not be listed (\`${kubectl.shown(`delete namespace ${env.namespace}`)}\` removes it)`)
    else if (others.length) reporter.info(`Keeping namespace ${env.namespace}, made by this deploy: another deploy is using it now (${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''})`)
    else {
      reporter.info(`Deleting namespace ${env.namespace} again: nothing was deployed`)
      await kubectl
        // Waited for: a deploy run again at once met the namespace still terminating ("unable to create new content").
        .run(['delete', 'namespace', env.namespace, '--ignore-not-found', '--wait=true', '--timeout=30s'], {namespaced: false})
        .catch((e) => reporter.warn(`could not delete namespace ${env.namespace}: ${(e as Error).message}`))
    }
  }
  let placed: {objects: KubeObject[]; keep: KubeObject[]} | undefined
  // Objects skycap did not deploy that this one takes over: a refusal about them may come from a hand apply's fields.
  let adopted = new Set<string>()
  try {
    if (nsExists) {
      // As the deploy will place them (one read more, only with a blue-green or canary service): a blue-green service
      // is applied to a slot, `web-green`, whose pause and hand-set fields are the ones that count (the rendered `web`
      // found none of them, and a deploy into a paused idle slot rolled the other services, then failed).
      const strategies = Object.values(env.services).some((svc) => strategyOf(svc).type !== 'rolling')
      placed = strategies ? await placedRelease(kubectl, objects, env.services, selector) : undefined
      const checked = placed?.objects ?? objects
      const claims = await claimedElsewhere(kubectl, checked, prepared.app, env.name, renderedOrigin(prepared.objects, prepared.loaded))
      if (claims.others.length) throw claimedError(claims, prepared.app, env.name, {namespace: env.namespace, context: kubectl.context})
      if (claims.unmanaged.length) reporter.warn(adoptedNote(claims, prepared.app, env.name))
      adopted = new Set(claims.unmanaged.map((c) => c.ref))
      refusePaused(claims.mine, checked, env.name, kubectl, 'deploy')
      const handSet = handSetFields(claims.mine, checked)
      if (handSet.length) reporter.warn(handSetNote(handSet, kubectl))
      const removed = handAppliedRemovals([...claims.mine, ...claims.unmanagedLive], checked)
      if (removed.length) reporter.warn(handAppliedNote(removed))
      // Before the confirmation and in a dry run too (both went ahead, and only the deploy itself was refused); looked
      // at again under the lock.
      await refuseBesideRunningHooks(kubectl, prepared.app, env.name, hookCheck)
    }
    const {deferred} = await dryRunApply(kubectl, objects, options.dryRun && !nsExists ? 'client' : 'server').catch((error: unknown) => {
      throw withRejectedObjects(error, prepared.objects, prepared.loaded, prepared.environment.name, adopted)
    })
    if (deferred.length) reporter.info(deferredNote(deferred))
    const taken = await takenFromOthers(kubectl, objects, prepared.app, env.name)
    if (taken.length) reporter.warn(takenNote(taken, env.name))
    if (ask && nsExists) {
      const {objects: shown, keep} = placed ?? (await placedRelease(kubectl, objects, env.services, selector))
      const summary = await changeSummary(kubectl, shown, {selector, keep})
      await confirmProtected(env, deps, 'deploy', `Deploy ${prepared.app} ${prepared.revision.short} to PROTECTED ${env.name} (context ${target.context}, namespace ${env.namespace})?\n${summary}`)
    }
    // A signal during validation: stop before the lock, the first change (a namespace created above goes again).
    if (deps.signal?.aborted) throw new InterruptedError(`interrupted during validation of ${env.name}; nothing was changed`)
  } catch (error) {
    await dropMadeNamespace()
    // kubectl stopped by the Ctrl-C (the dry run, a read): still before any change.
    if (error instanceof InterruptedError && error.message.startsWith(KUBECTL_STOPPED)) throw new InterruptedError(`interrupted during validation of ${env.name}; nothing was changed`)
    throw error
  }
  if (options.dryRun) {
    // A canary left mid-way refuses the deploy under its lock: the dry run says so rather than "would deploy", before the
    // counts (the stable Deployment's is the canary's split, not a scale).
    if (nsExists) await refuseSecondRollout({kubectl, app: prepared.app, environment: env.name, services: env.services, live, signal: deps.signal})
    // What the deploy would say of the replica counts under the lock, from the counts read now.
    for (const note of [keptReplicasNote(prepared, env, objects), releases.length ? replacedReplicasNote(prepared, env, objects, live, options.resetReplicas ?? false, releases) : undefined])
      if (note) reporter.info(dryRunLine(note))
    report.applied = objects.map((o) => `${o.kind}/${o.metadata.name}`)
    // What the deploy would delete (a template removed, a service dropped): the dry run said nothing of it, and
    // --json had `pruned: []`, while diff, the protected prompt and rollback's dry run named them.
    if (nsExists) {
      const {keep} = placed ?? (await placedRelease(kubectl, objects, env.services, selector))
      const {refs, claims, unlisted} = await findPrunable(kubectl, selector, keep)
      report.pruned = refs
      if (unlisted) reporter.warn(unlistedNote(unlisted))
      if (refs.length) reporter.info(dryRunLine(pruningNote(refs, undefined, claims).replace(/^Pruning/, 'would prune')))
    }
    report.durationMs = clock() - started
    reporter.info(`Dry run: ${objects.length} objects validated${nsExists ? ' by the API server' : ' (client-side: the namespace does not exist yet)'}; nothing was changed`)
    return report
  }

  const notifier = await openNotifier(env, {app: prepared.app, reporter, fetch: deps.fetch, remoteUrl: originUrl(options)})
  // --- Lock ---
  reporter.phase?.('deploy')
  let lock: Awaited<ReturnType<typeof acquireLock>>
  try {
    lock = await acquireLock(kubectl, {
      app: prepared.app,
      environment: env.name,
      reason: options.reason ?? `deploy ${env.name}@${prepared.revision.short}`,
      durationSeconds: LEASE_SECONDS,
      waitMs: waitForLockMs,
      signal: deps.signal,
      waitFlag: options.waitFlag,
      onWait: (m) => reporter.info(m),
    })
    // A Ctrl-C while the lock was taken (kubectl's create ran on): stopped before the first change, as in validation.
    if (deps.signal?.aborted) {
      throw notBegun(env.name, await releaseOwnLock(kubectl, prepared.app, lock.id, (m) => reporter.warn(m)))
    }
  } catch (error) {
    // Refused by the lock, or interrupted while taking it: a namespace made for the dry run goes, as after validation.
    await dropMadeNamespace()
    throw error
  }
  const heartbeat = keepLockAlive(kubectl, prepared.app, lock.id, {onLost: () => reporter.warn(`the lock of ${env.name} is no longer held by this deploy; another deploy may run at the same time`)})
  // A quit at once releases it too (it was left to expire, refusing deploys for up to a minute).
  deps.quitAtOnce?.holdLock(() => releaseLock(kubectl, prepared.app, {id: lock.id}))
  // Not a `finally`: an interruption's message says whether the lock could be released (afterLockRelease).
  let failure: {error: unknown} | undefined
  // The `rollout status` marker of this deploy, once it is written: removed as the deploy ends, whatever its end.
  const underWay: {marker?: DeployUnderWay} = {}
  // Until the release begins (hooks, apply), a deploy that stops has changed nothing: a namespace it made goes again.
  let begun = false
  try {
    // Under the lock, read again what another deploy or a scale may have changed while this one validated or
    // waited: the release number and the live replica counts come from here.
    const [lockedReleases, lockedLive, hookJobs] = await Promise.all([
      listReleases(kubectl, prepared.app, env.name),
      liveDeployments(kubectl, selector),
      // A hook an interrupted deploy left running (a migration) is not run a second time beside it: refused here,
      // before anything changes.
      refuseBesideRunningHooks(kubectl, prepared.app, env.name, {...hookCheck, quiet: nsExists}),
      refuseClaimedMeanwhile(
        kubectl,
        placed?.objects ?? objects,
        {app: prepared.app, environment: env.name, namespace: env.namespace, origin: renderedOrigin(prepared.objects, prepared.loaded), seen: adopted},
        (m) => reporter.warn(m),
      ),
      refuseUnwatchable(kubectl, placed?.objects ?? objects, selector, `release ${prepared.revision.short} of ${env.name}`),
    ])
    // The running release's manifests are read now, once (manifests() keeps them): the automatic rollback, the config
    // put back after a failed hook and the left-in-place check use them after the rollout, when an API server that
    // stopped answering would have cost the release its record.
    await lastGood(lockedReleases)?.manifests()
    // Before anything is said of this release's counts: a canary left mid-way refuses the deploy, and its stable
    // Deployment's count is the canary's split, which the notes below took for a scale.
    await refuseSecondRollout({kubectl, app: prepared.app, environment: env.name, services: env.services, live: lockedLive, signal: deps.signal})
    const lockedObjects = keepScaledReplicas(prepared, env, lockedReleases, lockedLive, options.resetReplicas ?? false)
    const kept = keptReplicasNote(prepared, env, lockedObjects)
    if (kept) reporter.info(kept)
    const replaced = lockedReleases.length ? replacedReplicasNote(prepared, env, lockedObjects, lockedLive, options.resetReplicas ?? false, lockedReleases) : undefined
    if (replaced) reporter.info(replaced)
    // --timeout counts from here: the time spent validating, building or waiting for the lock is not the rollout's.
    begun = true
    await applyWatchRecord(
      prepared,
      lockedObjects,
      lockedReleases,
      lockedLive,
      target,
      selector,
      report,
      options,
      {...deps, lockId: lock.id, notifier, hookJobs, underWay},
      clock() + timeoutMs,
      timeoutMs,
    )
  } catch (error) {
    notifier.failUnfinished(error)
    failure = {error}
  }
  heartbeat.stop()
  // Under the lock still, after a Ctrl-C too (the call takes no signal). Left, it is ignored once the lock is gone.
  if (underWay.marker) {
    await clearDeployUnderWay(kubectl, prepared.app, underWay.marker).catch((error: unknown) =>
      reporter.warn(`could not remove the release.deploying marker of release ${underWay.marker?.release} (ignored once the lock is released): ${(error as Error).message.split('\n')[0]}`),
    )
  }
  const released = await releaseOwnLock(kubectl, prepared.app, lock.id, (m) => reporter.warn(m))
  deps.quitAtOnce?.holdLock(undefined)
  await settleNotifications(notifier, report, deps.signal)
  if (failure && !begun) {
    await dropMadeNamespace()
    const error = failure.error
    if (error instanceof InterruptedError && error.message.startsWith(KUBECTL_STOPPED)) throw notBegun(env.name, released)
  }
  if (failure) throw afterLockRelease(failure.error, released)
  // Blue-green: the old slots stay up for scaleDownDelay (rollback is a switch back), then go to zero.
  Object.assign(report, scaleDownFields(await scaleDownOldSlots(kubectl, {services: env.services, app: prepared.app, environment: env.name, reporter, clock, signal: deps.signal})))
  return report
}

async function applyWatchRecord(
  prepared: PreparedRelease,
  objects: KubeObject[],
  releases: StoredRelease[],
  live: Map<string, number>,
  target: Target,
  selector: string,
  report: DeployReport,
  options: DeployOptions,
  deps: DeployDeps & {lockId: string; notifier: Notifier; hookJobs?: HookJob[]; underWay?: {marker?: DeployUnderWay}},
  deadline: number,
  timeoutMs: number,
): Promise<DeployReport> {
  const {reporter} = deps
  const clock = deps.clock ?? Date.now
  const {kubectl} = target
  const env = prepared.environment
  // `let`: a number another command recorded meanwhile (its lock released by hand) moves this record to the next.
  let number = nextReleaseNumber(releases)
  report.release = number
  const renumbered = (taken: number, to: number, why: RenumberedWhy) => {
    reporter.warn(renumberedNote(env.name, 'deploy', taken, to, why))
    number = to
    report.release = to
    report.renumberedFrom ??= taken
  }
  const startedAt = new Date(clock()).toISOString()
  // Until a canary of this release starts, `rollout status` says it is under way, rather than show the last canary
  // (an older release's) as current; from before the deploy names the release. Never fails the deploy: the status is
  // only less precise without it.
  if (Object.values(env.services).some((s) => strategyOf(s).type === 'canary')) {
    const marker = {release: number, lockId: deps.lockId, startedBy: whoAmI(), startedAt}
    // Named before the write: one that fails after the API server made it is removed all the same.
    if (deps.underWay) deps.underWay.marker = marker
    await writeDeployUnderWay(kubectl, prepared.app, env.name, marker).catch((error: unknown) => {
      if (error instanceof InterruptedError) throw error
      reporter.warn(`could not record release ${number} as under way for \`skycap rollout status\`: ${(error as Error).message.split('\n')[0]}`)
    })
  }
  reporter.info(`Deploying release ${number}: ${plural(objects.length, 'object')}`)
  const timeoutText = options.timeout ?? prepared.loaded.config.deploy?.timeout
  const hookContext = {
    kubectl,
    app: prepared.app,
    environment: env.name,
    release: number,
    // No release ever succeeded: nothing of this app runs that a failed predeploy hook leaves untouched.
    first: lastGood(releases) === undefined,
    ...(deps.hookJobs ? {hookJobs: deps.hookJobs} : {}),
    onJob: (job: string | undefined) => deps.onHookJob?.(job === undefined ? undefined : hookLeftRunningNote(job)),
    objects,
    config: prepared.loaded.config,
    reporter,
    signal: deps.signal,
    clock,
    intervalMs: deps.intervalMs,
    deadline: {
      at: deadline,
      timeout: timeoutText === undefined ? `timeout of ${timeoutMs / 60_000}m (the default)` : `${options.timeout !== undefined ? '--timeout' : 'deploy.timeout'} ${timeoutText}`,
    },
  }
  const hooks = new DeployHooks(await planHooks(env, objects, options.skipHooks ?? false), hookContext, options.skipHooks ?? false)
  const record: ReleaseRecord = {
    number,
    app: prepared.app,
    environment: env.name,
    action: 'deploy',
    result: 'succeeded',
    revision: report.revision,
    images: prepared.images,
    configuredReplicas: configuredReplicas(env),
    user: whoAmI(),
    ciJob: ciJobUrl(),
    ...(report.ignoreChecks ? {ignoreChecks: true} : {}),
    ...(prepared.revision.dirty ? {uncommitted: true} : {}),
    ...(options.reason ? {reason: options.reason.slice(0, 200)} : {}),
    startedAt,
    finishedAt: '',
    durationMs: 0,
  }
  const keep = prepared.loaded.config.history?.keep ?? 10
  const facts = {action: 'deploy', release: number, revision: report.revision, fromRevision: runningRevision(releases)} as const
  deps.notifier.send({...facts, event: 'started', result: 'running'})
  // From here the cluster may change: a quit at once records the release as interrupted (no manifests: as a Ctrl-C's
  // record, never a release to return to), so history has it and `rollback` does not go back past it.
  const quitAtOnce = deps.quitAtOnce ?? new QuitAtOnce()
  quitAtOnce.arm(async () => {
    const durationMs = clock() - Date.parse(startedAt)
    const quit = {...record, ...hooks.recordFields(), result: 'interrupted' as const, finishedAt: new Date(clock()).toISOString(), durationMs, message: QUIT_AT_ONCE}
    return saveRelease(kubectl, quit, undefined, releases, keep, {onRenumbered: renumbered})
  })
  const rolloutOrHookFailure = rollOutRelease({
    kubectl,
    objects,
    selector,
    deadline,
    title: `Rolling out ${prepared.app} ${env.name}@${prepared.revision.short}`,
    reporter,
    config: prepared.loaded.config,
    clock,
    signal: deps.signal,
    intervalMs: deps.intervalMs,
    // The predeploy hooks' records go into the record a canary left pending too (another command may finish it).
    afterConfig: async () => {
      await hooks.predeploy()
      Object.assign(record, hooks.recordFields())
    },
    app: prepared.app,
    environment: env.name,
    namespace: target.namespace,
    release: number,
    services: env.services,
    fetch: deps.fetch,
    pending: {record, keep, postdeploy: hooks.names('postdeploy')},
  })
  let rollout = await rolloutOrHookFailure.catch(async (error: unknown) => {
    if (error instanceof ApiServerUnreachableError) throw unrecordedByOutage(error, number, env.name, prepared.revision.short, lastGood(releases)?.record.number)
    if (!(error instanceof HookFailedError)) throw error
    // The config applied before the hook goes back to the running release's (not after a Ctrl-C: the hook may run on,
    // reading it: what differs from the running release is named instead). A fixed-name Secret had changed unsaid.
    const restoredNote = error.interrupted ? await configLeftNote(objects, lastGood(releases), number, env.name) : await putBackConfig(kubectl, objects, lastGood(releases), number, env.name)
    report.applied = objects.filter((o) => CONFIG_KINDS.has(o.kind)).map((o) => `${o.kind}/${o.metadata.name}`)
    throw await recordHookFailure(error, report, {...record, ...hooks.recordFields()}, {kubectl, releases, keep, clock, quitAtOnce}, restoredNote)
  })
  // A failed postdeploy hook fails the release like a failed rollout: the same rollback follows. A Ctrl-C during it
  // is an interruption, as during the rollout: recorded as such, never rolled back (the release it cut short is
  // healthy; it was recorded as failed and "rolled back" by a rollback that the same Ctrl-C stopped).
  const postdeploy = rollout.outcome === 'ready' ? await hooks.postdeploy() : undefined
  const postdeployInterrupted = postdeploy !== undefined && hooks.interrupted !== undefined
  if (postdeploy) rollout = {...rollout, outcome: postdeployInterrupted ? 'interrupted' : hooks.deployTimedOut ? 'timeout' : 'failed', failures: [postdeploy]}
  Object.assign(record, hooks.recordFields())
  const rollouts = await rolloutSummaries(kubectl, prepared.app, env.services, number)
  if (Object.keys(rollouts).length) record.rollouts = rollouts
  if (hooks.records.length) report.hooks = hooks.records
  report.applied = rollout.applied
  report.failures = rollout.failures
  report.interrupted = rollout.interrupted

  if (rollout.outcome === 'ready') {
    const pruning = await pruneLive(kubectl, selector, rollout.keep, (refs, claims) => reporter.info(pruningNote(refs, undefined, claims)))
    report.pruned = pruning.pruned
    if (pruning.unpruned) reporter.warn(unprunedNote(pruning.unpruned))
    if (pruning.unlisted) reporter.warn(unlistedNote(pruning.unlisted))
    const left = leftInPlace((await lastGood(releases)?.manifests()) ?? [], rollout.keep)
    if (left.length) {
      report.leftInPlace = left
      reporter.warn(leftInPlaceNote(left))
    }
    if (
      mayHaveBlueGreenState(
        env.services,
        releases.map((r) => r.record),
      )
    ) {
      await forgetLeftBlueGreen(kubectl, prepared.app, env.name, rollout.keep).catch((error) =>
        reporter.warn(`could not clear the blue-green state of services that left blue-green: ${(error as Error).message}`),
      )
    }
    report.result = 'succeeded'
    report.durationMs = clock() - Date.parse(startedAt)
    try {
      await quitAtOnce.own(() =>
        saveRelease(kubectl, {...record, finishedAt: new Date(clock()).toISOString(), durationMs: report.durationMs}, rollout.recorded, releases, keep, {
          onContact: (event) => reportContact(reporter, event, RECORD_MEANWHILE),
          onRenumbered: renumbered,
        }),
      )
    } catch (error) {
      // Never "nothing was changed": the release runs, only its record is missing.
      throw new DeployFailedError(
        `release ${number} of ${env.name} was applied and is live (${prepared.revision.short}: ${report.applied.length} objects), but recording it failed: ${(error as Error).message.split('\n')[0]}`,
        {hint: `\`skycap status ${env.name}\` shows what runs; \`skycap history\` will not list release ${number}, and rollback cannot return to it.`, details: {report}},
      )
    }
    reporter.info(`Release ${number} of ${prepared.app} ${env.name} is live (${prepared.revision.short}, ${Math.round(report.durationMs / 1000)}s)`)
    deps.notifier.send({...facts, event: 'succeeded', result: 'succeeded'})
    if (pruning.interrupted) {
      throw new InterruptedError(`release ${number} of ${env.name} is live and recorded (${prepared.revision.short}); interrupted while pruning what it no longer renders`, {
        hint: `The next deploy prunes what is left; \`skycap status ${env.name}\` shows what runs.`,
        details: {report},
      })
    }
    return report
  }

  report.result = rollout.outcome === 'timeout' ? 'timed-out' : rollout.outcome === 'interrupted' ? 'interrupted' : 'failed'
  // The explanation shows unfolded, as soon as it is known: in a CI log, after the deploy group and before the
  // rollback's (docs/ci.md), so it is there while the rollback runs, and if the job is cancelled during it.
  reporter.phase?.(null)
  for (const text of rolloutReport(rollout)) reporter.info(text)
  const cause = blame(rollout, report.result)
  // The failed release is recorded before the rollback starts, so it is in history whatever happens next, and
  // names the rollback entry that follows it.
  const candidate = rollout.outcome === 'interrupted' || options.noRollback ? undefined : lastGood(releases)
  // The rollback gets a full timeout of its own: the lease is renewed so it outlasts it. A lock taken from this deploy
  // (`lock release --force`) let another command deploy meanwhile, and a rollback would undo its rollout: none then.
  // The renewal's test on the lock id is atomic; an unanswered one is taken as the lock still held, and warned.
  const renewed = candidate ? await renewLock(kubectl, prepared.app, deps.lockId, clock).catch(() => undefined) : true
  if (renewed === undefined) reporter.warn('could not renew the deploy lock before the rollback; another deploy may take it over')
  const lockLost = renewed === false
  const previous = lockLost ? undefined : candidate
  report.durationMs = clock() - Date.parse(startedAt)
  const failedRecord: ReleaseRecord = {
    ...record,
    result: rollout.outcome === 'interrupted' ? 'interrupted' : 'failed',
    finishedAt: new Date(clock()).toISOString(),
    durationMs: report.durationMs,
    ...(rollout.failures[0] ? {failed: rollout.failures[0].ref} : {}),
    message: cause,
    ...(previous ? {rollbackRelease: number + 1} : {}),
  }
  let recorded = releases
  try {
    const taken = number
    await quitAtOnce.own(() => saveRelease(kubectl, failedRecord, undefined, releases, keep, {onContact: (event) => reportContact(reporter, event, RECORD_MEANWHILE), onRenumbered: renumbered}))
    recorded = [storedWithoutManifests(number === taken ? failedRecord : {...failedRecord, number, ...(previous ? {rollbackRelease: number + 1} : {})}), ...releases]
  } catch (error) {
    reporter.warn(`could not record the ${failedRecord.result} release: ${(error as Error).message}`)
  }
  deps.notifier.send({...facts, event: 'failed', result: report.result, reason: cause})
  if (rollout.outcome !== 'interrupted') {
    report.rollback = previous
      ? await autoRollback(target, selector, previous, recorded, live, prepared, deps, timeoutMs, number, appliedOf(rollout))
      : {
          to: null,
          release: null,
          result: 'skipped',
          reason: options.noRollback
            ? '--no-rollback'
            : lockLost
              ? `the lock of ${env.name} was taken by another command (released by hand): a rollback would undo what it deployed`
              : 'no earlier successful release',
          failures: [],
        }
    if (previous) deps.notifier.send(rollbackEvent(report.rollback, previous, report.revision))
  }
  // report.durationMs stays the failed release's, as recorded before the rollback (history and the job summary show
  // it): counted to the rollback's end, a deploy with --timeout 8s "timed out in 11s". The rollback is its own entry.

  const rb = report.rollback
  const rbText = !rb
    ? ''
    : rb.result === 'succeeded'
      ? `; rolled back to release ${rb.to} (recorded as release ${rb.release})`
      : rb.result === 'skipped'
        ? `; not rolled back (${rb.reason})`
        : `; the rollback to release ${rb.to} failed too (${rb.reason})${rb.running ? `; now running: ${rb.running}` : ''}`
  const notUndone = rb?.result === 'succeeded' && rb.to !== null ? hooksNotUndoneBy(rb.to, releases, record) : undefined
  if (rb?.result === 'interrupted')
    throw new InterruptedError(`release ${report.release} of ${env.name} failed (${cause}); the rollback to release ${rb.to} was ${rb.reason}${rb.running ? `; now running: ${rb.running}` : ''}`, {
      // The automatic rollback restores the counts that ran before the deploy; a manual one keeps the live ones,
      // which may be the failed release's (a raised replicas:), so the hint says how to have the release's.
      hint: `Check \`skycap status ${env.name}\`; \`skycap rollback ${env.name}\` finishes the job (it keeps the live replica counts; add --reset-replicas for release ${rb.to}'s).`,
      details: {report},
    })
  if (postdeployInterrupted)
    throw new InterruptedError(
      `deploy of ${env.name} interrupted during its postdeploy hook ${postdeploy.ref.replace(/^hook\//, '')}: release ${report.release} is rolled out and runs, recorded as interrupted (not as good: rollback and run do not take it); ${postdeploy.message}`,
      {
        // The next deploy is refused while the hook's Job runs (hook_running): the hint said to deploy again at once.
        hint: hooks.interrupted?.job
          ? `\`${kubectl.shown(`logs -f job/${hooks.interrupted.job}`)}\` follows the hook; once it has ended, ${options.again ? `run \`${options.again}\` again` : `deploy ${env.name} again`} to run it to its end and record the release as succeeded, or \`skycap rollback ${env.name}\` to go back.`
          : `${options.again ? `Run \`${options.again}\` again` : `Deploy ${env.name} again`} to run the hook and record the release as succeeded, or \`skycap rollback ${env.name}\` to go back.`,
        details: {report},
      },
    )
  if (rollout.outcome === 'interrupted')
    throw new InterruptedError(`deploy of ${env.name} interrupted${rollout.failures.length ? ` after ${cause}` : ''}; ${LOCK_RELEASED} and the rollout left as it was`, {
      hint: interruptedHint(env.name, rollouts, options.again),
      details: {report},
    })
  if (rollout.outcome === 'timeout')
    throw new TimeoutError(`release ${report.release} of ${env.name} did not become ready in time (${cause})${rbText}${notUndone ? `; ${notUndone}` : ''}`, {
      // A readiness check that never passed is rarely a slow start: its Unhealthy events say what it got.
      ...(rollout.failures.some((f) => f.message.includes('its readiness check does not pass'))
        ? {
            hint: 'A readiness check never passed: the Unhealthy events and the log lines above say what it got. Fix the app or its healthcheck; raise --timeout only if it is slow to start.',
            jsonHint: 'A readiness check never passed: details.report.failures has its Unhealthy events and log lines. Fix the app or its healthcheck; raise --timeout only if it is slow to start.',
          }
        : {
            hint: 'Raise --timeout if the app is slow to start, or read the reasons above.',
            jsonHint: 'Raise --timeout if the app is slow to start, or read the reasons in details.report.failures (message, events, logs).',
          }),
      details: {report},
    })
  // A template's workload (a StatefulSet, a Deployment of deploy/) is no service: status has no row for it.
  const templates = new Set(prepared.objects.filter((o) => !o.service).map((o) => `${o.object.kind}/${o.object.metadata.name}`))
  const unlisted = [...new Set(rollout.failures.map((f) => f.ref).filter((ref) => templates.has(ref)))]
  const watchThem = unlisted.length ? ` (services only: \`${kubectl.shown(`get ${unlisted.map((ref) => ref.toLowerCase()).join(' ')}`)}\` shows ${unlisted.join(', ')})` : ''
  throw new DeployFailedError(`release ${report.release} of ${env.name} failed: ${cause}${rbText}${notUndone ? `; ${notUndone}` : ''}`, {
    hint: `See the events and logs above; \`skycap status ${env.name}\` shows what runs now${watchThem}.`,
    jsonHint: `The events and logs of what failed are in details.report.failures; \`skycap status ${env.name}\` shows what runs now${watchThem}.`,
    details: {report},
  })
}

/** A Ctrl-C under the lock before the release began: nothing changed, and whether the lock could be released. */
function notBegun(environment: string, released: boolean): unknown {
  return afterLockRelease(new InterruptedError(`interrupted before deploying ${environment}; nothing was changed and ${LOCK_RELEASED}`), released)
}

/**
 * The API server stopped answering during the apply or the watch and did not answer again before the deadline: the
 * release may be live, and it is not recorded, so `rollback` alone would go back past the release it replaced (it
 * said only "what was applied goes on in the cluster").
 */
function unrecordedByOutage(error: ApiServerUnreachableError, number: number, environment: string, short: string, before: number | undefined): ApiServerUnreachableError {
  const back = before === undefined ? '' : `; \`skycap rollback ${environment} --to ${before}\` returns to the release it replaced (without --to, rollback would go back past it)`
  return new ApiServerUnreachableError(`release ${number} of ${environment} (${short}) may be live and is not recorded: ${error.message}`, error.reason, {
    hint: `Once the API server answers, \`skycap status ${environment}\` shows what runs, and the next deploy records what it applies${back}. The lock expires on its own within a minute.`,
  })
}

/** A predeploy hook failed: the release is recorded as failed (with its hooks); nothing was rolled out, nothing rolls back. */
async function recordHookFailure(
  error: HookFailedError,
  report: DeployReport,
  record: ReleaseRecord,
  at: {kubectl: Kubectl; releases: StoredRelease[]; keep: number; clock: () => number; quitAtOnce: QuitAtOnce},
  /** What became of the config applied before the hook (restoreConfig), said after the hook's message. */
  restoredNote = '',
): Promise<DeployFailedError | InterruptedError | TimeoutError> {
  const message = `${error.message}${restoredNote}`
  report.result = 'failed'
  report.failures = [error.failure]
  report.hooks = record.hooks
  report.durationMs = at.clock() - Date.parse(record.startedAt)
  if (error.interrupted) report.result = 'interrupted'
  const failed: ReleaseRecord = {
    ...record,
    result: error.interrupted ? 'interrupted' : 'failed',
    finishedAt: new Date(at.clock()).toISOString(),
    durationMs: report.durationMs,
    failed: error.failure.ref,
    message: `${error.failure.ref}: ${error.failure.message}; not rolled out`,
  }
  await at.quitAtOnce.own(() => saveRelease(at.kubectl, failed, undefined, at.releases, at.keep)).catch(() => undefined)
  if (error.interrupted) return new InterruptedError(message, {hint: error.hint, details: {report}})
  if (error.deployTimedOut) {
    report.result = 'timed-out'
    return new TimeoutError(message, {hint: error.hint, details: {report}})
  }
  return new DeployFailedError(message, {hint: error.hint, jsonHint: error.jsonHint, details: {report}})
}

/** Refuses, before anything is applied, a release whose manifests are too large to be recorded for rollback. */
export function checkRecordable(objects: KubeObject[]): void {
  const problem = unrecordableNote(objects)
  if (problem === undefined) return
  throw new UserError(`${problem}; nothing was changed`, {hint: UNRECORDABLE_HINT})
}

/** One phrase naming what failed and why (on a timeout, everything that was not ready). */
function blame(rollout: RolloutResult, result: string): string {
  if (rollout.failures.length === 0) return result
  const [first, ...rest] = rollout.failures
  return `${first?.ref}: ${first?.message}${rest.length ? `; also ${rest.map((f) => f.ref).join(', ')}` : ''}`
}

/**
 * The revision that runs before a deploy or rollback (notifications' fromRevision): the newest deploy or rollback that
 * succeeded, null when none has. The newest of any result named a release that never ran: one whose predeploy hook
 * failed (not rolled out), a first deploy that failed, one a Ctrl-C stopped before its rollout.
 */
export function runningRevision(releases: StoredRelease[]): DeployReport['revision'] | null {
  return releases.find((r) => isDeployOrRollback(r.record) && r.record.result === 'succeeded')?.record.revision ?? null
}

/** The event of an automatic rollback's end: rolled-back to `previous`, or failed. */
function rollbackEvent(rollback: NonNullable<DeployReport['rollback']>, previous: StoredRelease, failed: DeployReport['revision']): EventFacts {
  const facts = {
    action: 'rollback',
    trigger: 'automatic',
    release: rollback.release ?? 0,
    revision: previous.record.revision ?? failed,
    fromRevision: failed,
    rolledBackTo: previous.record.number,
  } as const
  if (rollback.result === 'succeeded') return {...facts, event: 'rolled-back', result: 'succeeded'}
  return {...facts, event: 'failed', result: rollback.result === 'interrupted' ? 'interrupted' : 'failed', ...(rollback.reason ? {reason: rollback.reason} : {})}
}

/** Waits for the notifications still on their way (at most their timeout); the undelivered go into the report. */
export async function settleNotifications(notifier: Notifier, report: DeployReport, signal?: AbortSignal): Promise<void> {
  const undelivered = await notifier.settle(signal)
  if (undelivered.length) report.notifications = undelivered
}

function storedWithoutManifests(record: ReleaseRecord): StoredRelease {
  return {record, hasManifests: false, manifests: async () => []}
}

/**
 * Re-applies the last successful release after a failed one, with the replica counts that ran before the deploy,
 * watches it, and records it as a rollback entry of its own (release `failed` + 1).
 */
async function autoRollback(
  target: Target,
  selector: string,
  previous: StoredRelease,
  releases: StoredRelease[],
  live: Map<string, number>,
  prepared: PreparedRelease,
  deps: DeployDeps & {lockId: string},
  timeoutMs: number,
  failed: number,
  brought: KubeObject[],
): Promise<NonNullable<DeployReport['rollback']>> {
  const clock = deps.clock ?? Date.now
  const started = clock()
  let number = failed + 1
  let renumberedFrom: number | undefined
  deps.reporter.phase?.('rollback')
  // A release after the one returned to that ran before this deploy but did not succeed (interrupted, its rollout may
  // have finished; or failed without a rollback): it is what served, and returning past it was silent.
  const skipped = unsucceededAfter(releases, previous.record.number, failed)
  const past = skipped ? ` (release ${skipped.number}, after it, ${skipped.result === 'interrupted' ? 'was interrupted' : skipped.result}: a rollback returns only to a release that succeeded)` : ''
  deps.reporter.info(`Rolling back to release ${previous.record.number} (${previous.record.revision?.short ?? '?'}) as release ${number}${past}`)
  const objects = withReplicas(await previous.manifests(), live)
  // Ctrl-C came after the deploy failed and before the rollback began: nothing of it is applied.
  const notStarted = deps.signal?.aborted === true
  const applyRollback = async (): Promise<RolloutResult> => {
    try {
      return await applyAndWatch({
        kubectl: target.kubectl,
        objects,
        selector,
        // The rollback gets its own time: the failed deploy may have used all of its own.
        deadline: clock() + timeoutMs,
        // The line before the apply said it rolls back, and to which release: the watch is headed by what it
        // watches (two "Rolling back to release N" lines followed one another).
        title: `Rolling out ${prepared.app} ${prepared.environment.name}@${previous.record.revision?.short ?? '?'} again (release ${previous.record.number})`,
        reporter: deps.reporter,
        config: prepared.loaded.config,
        clock,
        signal: deps.signal,
        intervalMs: deps.intervalMs,
      })
    } catch (error) {
      // Stopped while applying (Ctrl-C kills kubectl too): an interruption, not a failure of the rollback.
      if (deps.signal?.aborted) return interruptedRollout()
      // The cluster refused the old manifests (an admission policy, a quota, an API that went away): the rollback
      // failed, and the report must say so rather than end in a bare kubectl error.
      if (error instanceof KubectlError)
        return {outcome: 'failed', applied: [], statuses: [], interrupted: [], failures: [{ref: 'kubectl apply', message: error.message.split('\n')[0] ?? '', events: [], logs: []}]}
      // The API server stopped answering and did not answer again before the rollback's deadline: the rollback failed
      // (it ended the deploy with exit 4 and "what was applied goes on", hiding that the failed release still runs).
      if (error instanceof ApiServerUnreachableError) {
        unanswered = true
        return {outcome: 'failed', applied: [], statuses: [], interrupted: [], failures: [{ref: 'the API server', message: error.message.split('\n')[0] ?? '', events: [], logs: []}]}
      }
      throw error
    }
  }
  let unanswered = false
  let left: string[] = []
  const rollout = notStarted ? interruptedRollout() : await applyRollback()
  const ok = rollout.outcome === 'ready'
  const stopped = rollout.outcome === 'interrupted'
  // The old manifests switched blue-green Services back to the slot they selected then: the rollout state follows.
  if (rollout.applied.length) {
    await followAppliedSlots(target.kubectl, prepared.app, prepared.environment.name, objects, number, {clock, user: whoAmI()}).catch((error) =>
      deps.reporter.warn(`could not record which blue-green slots serve after the rollback: ${(error as Error).message}`),
    )
  }
  if (ok) {
    // Interrupted while pruning, the rollback is still recorded; the deploy's error says it was interrupted.
    const pruning = await pruneLive(target.kubectl, selector, objects, (refs, claims) => deps.reporter.info(pruningNote(refs, `release ${previous.record.number} did not have`, claims)))
    if (pruning.unpruned) deps.reporter.warn(unprunedNote(pruning.unpruned))
    if (pruning.unlisted) deps.reporter.warn(unlistedNote(pruning.unlisted))
    // A CustomResourceDefinition or ClusterRole the failed release brought stayed after the rollback, unsaid.
    left = leftInPlace(brought, objects)
    if (left.length) deps.reporter.warn(leftInPlaceNote(left, `release ${previous.record.number} did not have`))
    // The release returned to may have had a service rolling that the failed one made blue-green.
    if (mayHaveBlueGreenState(prepared.environment.services, [previous.record])) {
      await forgetLeftBlueGreen(target.kubectl, prepared.app, prepared.environment.name, objects).catch((error) =>
        deps.reporter.warn(`could not clear the blue-green state of services that left blue-green: ${(error as Error).message}`),
      )
    }
    deps.reporter.info(`Rolled back to release ${previous.record.number}`)
  } else {
    // Unfolded, as the failed deploy's explanation is: after the rollback group, not inside it.
    if (rollout.failures.length) deps.reporter.phase?.(null)
    for (const text of rolloutReport(rollout)) deps.reporter.info(text)
  }
  const reason = ok
    ? undefined
    : stopped
      ? notStarted
        ? 'interrupted before the rollback applied anything'
        : rollout.applied.length >= objects.length
          ? 'interrupted: the rollback was applied and not watched to the end'
          : 'interrupted while the rollback was being applied (part of it may be live)'
      : blame(rollout, rollout.outcome === 'timeout' ? 'timed out' : rollout.outcome)
  // Not asked of an API server that did not answer (another 30 s for nothing): the failed release is what was live.
  const running = ok || unanswered ? undefined : await whatRuns(target.kubectl, selector).catch(() => undefined)
  const record: ReleaseRecord = {
    ...rollbackRecord(previous, prepared.app, prepared.environment.name, number, 'automatic', failed),
    result: ok ? 'succeeded' : stopped ? 'interrupted' : 'failed',
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(clock()).toISOString(),
    durationMs: clock() - started,
    ...(rollout.failures[0] ? {failed: rollout.failures[0].ref} : {}),
    ...(reason ? {message: `${reason}${running ? `; now running: ${running}` : ''}`} : {}),
  }
  await saveRelease(target.kubectl, record, ok ? objects : undefined, releases, prepared.loaded.config.history?.keep ?? 10, {
    onContact: (event) => reportContact(deps.reporter, event, RECORD_MEANWHILE),
    onRenumbered: (taken, to, why) => {
      deps.reporter.warn(renumberedNote(prepared.environment.name, 'rollback', taken, to, why))
      number = to
      renumberedFrom ??= taken
    },
  }).catch((error) => deps.reporter.warn(`could not record the rollback as release ${number}: ${(error as Error).message}`))
  return {
    to: previous.record.number,
    release: number,
    ...(renumberedFrom === undefined ? {} : {renumberedFrom}),
    result: ok ? 'succeeded' : stopped ? 'interrupted' : 'failed',
    failures: rollout.failures,
    ...(reason ? {reason} : {}),
    ...(running ? {running} : {}),
    ...(left.length ? {leftInPlace: left} : {}),
  }
}

/** The objects a rollout applied (a failed one may have stopped part way). */
function appliedOf(rollout: {keep: KubeObject[]; applied: string[]}): KubeObject[] {
  const applied = new Set(rollout.applied)
  return rollout.keep.filter((o) => applied.has(`${o.kind}/${o.metadata.name}`))
}

/** A rollback stopped by Ctrl-C before or while it was applied: what the rollout reports then. */
function interruptedRollout(): RolloutResult {
  return {outcome: 'interrupted', applied: [], statuses: [], interrupted: [], failures: []}
}

/** The record of a rollback to `to`, before its result is known. */
export function rollbackRecord(to: StoredRelease, app: string, environment: string, number: number, trigger: 'automatic' | 'manual', from: number | undefined): ReleaseRecord {
  return {
    number,
    app,
    environment,
    action: 'rollback',
    trigger,
    result: 'succeeded',
    revision: to.record.revision,
    images: to.record.images,
    configuredReplicas: to.record.configuredReplicas,
    user: whoAmI(),
    ciJob: ciJobUrl(),
    startedAt: '',
    finishedAt: '',
    durationMs: 0,
    rolledBackTo: to.record.number,
    ...(from !== undefined ? {rolledBackFrom: from} : {}),
  }
}

/**
 * What the app's Deployments run now, in one line: "web 3f2c1ab 2/3 ready, worker 9e1d2c4 1/1 ready". Each names the
 * revision its Deployment asks for with the ready pods of that revision alone; pods of a revision before it that
 * still run (a rollback or rollout that did not get through) are named with theirs: "web 3f2c1ab 0/1 ready (1 pod of
 * 9e1d2c4 still runs, 1 ready)". A failed rollback said "web 3f2c1ab 1/1 updated (1 ready, pods of the revision
 * before among them)": the only revision it named was the one that did not run.
 */
export async function whatRuns(kubectl: Kubectl, selector: string): Promise<string> {
  const list = await kubectl.json<{items: KubeObject[]}>(['get', 'deployments,replicasets', '-l', selector])
  const snapshot = new ClusterSnapshot(list.items, undefined, undefined, kubectl)
  const short = (revision: string | null) => (revision ?? '?').slice(0, 7)
  return snapshot
    .all('Deployment')
    .map((d) => {
      const s = serviceStatus(d.metadata.name, d, snapshot, 0)
      const old = s.old ? ` (${s.old.pods} ${s.old.pods === 1 ? 'pod' : 'pods'} of ${short(s.old.revision)} still ${s.old.pods === 1 ? 'runs' : 'run'}, ${s.old.ready} ready)` : ''
      return `${d.metadata.name} ${short(s.revision)} ${s.ready}/${s.desired} ready${old}`
    })
    .sort()
    .join(', ')
}

/**
 * The objects with the replica counts of `counts` (by Deployment name) where it has one. A blue-green slot that would
 * come back at 0 (scaled down after its delay, or recorded so) comes back at the size of the other slot, the one that
 * serves: the automatic rollback switches the Service to it.
 */
export function withReplicas(objects: KubeObject[], counts: Map<string, number>): KubeObject[] {
  return objects.map((object) => {
    if (object.kind !== 'Deployment') return object
    let n = counts.get(object.metadata.name)
    const other = otherSlotDeployment(object)
    if (other && (n ?? (object.spec as {replicas?: number} | undefined)?.replicas) === 0) n = counts.get(other) || n
    if (n === undefined) return object
    return {...object, spec: {...(object.spec as object), replicas: n}}
  })
}

/** The report of a deploy or rollback before anything was applied. */
export function plannedReport(app: string, env: Environment, target: Target, revision: DeployReport['revision'], images: Record<string, string>): DeployReport {
  return {app, environment: env.name, context: target.context, namespace: env.namespace, release: null, revision, images, result: 'planned', durationMs: 0, applied: [], pruned: [], failures: []}
}

/** Protected environments: a person confirms on the terminal, or --yes was given; otherwise nothing changes. */
export async function confirmProtected(env: Environment, deps: DeployDeps, action: 'deploy' | 'rollback', question: string): Promise<void> {
  if (!deps.confirm) {
    // On a terminal with --json, "no terminal" was wrong: the JSON document asks nothing.
    if (deps.noQuestions === 'json')
      throw new UserError(`${env.name} is protected, and with --json skycap asks no questions; nothing was changed`, {hint: `Add --yes to ${action} ${env.name} with --json.`})
    throw new UserError(`${env.name} is protected and there is no terminal to confirm on; nothing was changed`, {hint: `Pass --yes to ${action} ${env.name} from CI.`})
  }
  if (!(await deps.confirm(question))) throw new UserError(`${action} cancelled; nothing was changed`)
}

/**
 * What is in the namespace besides what Kubernetes puts in a new one (its `kube-root-ca.crt`): the lock, release
 * records or objects of a deploy that started meanwhile. A first deploy's validation creates nothing there.
 */
async function othersInNamespace(kubectl: Kubectl): Promise<string[]> {
  const r = await kubectl.run(['get', 'leases,configmaps,secrets,deployments.apps,statefulsets.apps,services,jobs', '-o', 'name'])
  return r.stdout
    .split('\n')
    .filter((line) => line.trim() && line.trim() !== 'configmap/kube-root-ca.crt')
    .map((line) => line.trim())
}

/** Creates the namespace, annotated skycap.dev/created-by=deploy; false when another deploy created it first (then it is not ours to delete). */
async function createNamespaceOnce(kubectl: Kubectl, namespace: string, reporter: Reporter): Promise<boolean> {
  reporter.info(`Creating namespace ${namespace}`)
  try {
    // Marked in the same call (no moment unmarked): `skycap down ENV` deletes only a namespace a deploy created.
    const marked = {apiVersion: 'v1', kind: 'Namespace', metadata: {name: namespace, annotations: {[CREATED_BY]: 'deploy'}}}
    await kubectl.run(['create', '-f', '-'], {namespaced: false, input: JSON.stringify(marked)})
    return true
  } catch (error) {
    if (error instanceof KubectlError && error.kind === 'already_exists') return false
    throw error
  }
}

/** requireChecks: every GitHub status and check run of the revision is green (skycap up's work-tree images have none). */
async function verifyChecks(env: Environment, prepared: PreparedRelease, options: DeployOptions, deps: DeployDeps): Promise<Pick<DeployReport, 'checks' | 'ignoreChecks'>> {
  if (!env.requireChecks || options.images) return {}
  const {short} = prepared.revision
  if (options.ignoreChecks) {
    deps.reporter.warn(`--ignore-checks: deploying ${short} to ${env.name} without asking GitHub whether its checks are green (recorded in history)`)
    return {ignoreChecks: true}
  }
  // At HEAD with uncommitted changes, the manifests and config come from the work tree, which no CI has seen.
  if (prepared.revision.dirty) {
    throw new UserError(`the work tree has uncommitted changes, and ${env.name} deploys only what CI approved (requireChecks); nothing was changed`, {
      hint: `Commit and push the changes and let CI check them, or stash them (git stash -u takes untracked files too) to deploy ${short}; --ignore-checks deploys anyway (recorded in history). ${UNTRACKED_COUNT}`,
    })
  }
  deps.reporter.info(`Checking the GitHub statuses and check runs of ${short}`)
  const verdict = await requireGreenChecks(env.requireChecks, prepared.revision, {remoteUrl: originUrl(options), fetch: deps.fetch})
  deps.reporter.info(`✔ ${plural(verdict.checks.length, 'check')} of ${short} green in ${verdict.repository}`)
  return {checks: verdict}
}

/** What to do about images the registry lacks: skycap builds those of services with build:, CI or you the others. */
function missingImagesHint(prepared: PreparedRelease, missing: string[], forUp: boolean): string {
  const {short} = prepared.revision
  const services = Object.entries(prepared.images).filter(([, image]) => missing.includes(image))
  const built = services.filter(([name]) => prepared.loaded.config.services[name]?.build).map(([name]) => name)
  // An image whose tag is not the revision's (`redis:7.2`, `app:nope`): no build of the revision makes it, CI neither.
  // (up's own hint below says what to do with such an image too.)
  const fixed = forUp ? [] : services.filter(([name, image]) => !built.includes(name) && !image.includes(short) && !image.includes(prepared.revision.sha)).map(([name]) => name)
  const others = services.filter(([name]) => !built.includes(name) && !fixed.includes(name)).map(([name]) => name)
  const target = `${prepared.environment.name}@${short}`
  const parts: string[] = []
  if (fixed.length)
    parts.push(
      `${fixed.join(', ')} ${fixed.length > 1 ? 'name images whose tags' : 'names an image whose tag'} no revision makes: set image: in skycap.yaml to ${fixed.length > 1 ? 'tags' : 'a tag'} the registry has, or push ${fixed.length > 1 ? 'them' : 'it'} there.`,
    )
  if (built.length) parts.push(`Build and push ${built.join(', ')} with \`skycap build ${target}\`, or deploy with --build (\`skycap deploy ${target} --build\`), or wait for CI to build ${short}.`)
  // skycap up builds the work tree: CI has nothing to do with a local environment's images.
  if (others.length && forUp)
    parts.push(
      `${others.join(', ')} ${others.length > 1 ? 'have' : 'has'} no build: block, so skycap up does not build ${others.length > 1 ? 'them' : 'it'}: give ${others.length > 1 ? 'each' : 'it'} one (build: {context: .} with a Dockerfile; docs/build.md) for up to build from the work tree, or set image: to one that exists, or push ${others.length > 1 ? 'these' : 'this'} tag${others.length > 1 ? 's' : ''} yourself.`,
    )
  else if (others.length) parts.push(`${others.join(', ')} ${others.length > 1 ? 'have' : 'has'} no build: block: has CI built and pushed ${short}? Wait for it, or deploy a revision that was built.`)
  return parts.join(' ') || `Has CI built and pushed ${short}? Wait for it, or deploy a revision that was built.`
}

/** The services deploy --build builds: those with a build: block. */
function buildsOf(prepared: PreparedRelease): Set<string> {
  return new Set(Object.keys(prepared.images).filter((name) => prepared.loaded.config.services[name]?.build))
}

/** Every image of the release (or of the services `which` picks) is in its registry, or the deploy stops here. */
export async function checkImagesExist(prepared: PreparedRelease, deps: Pick<DeployDeps, 'reporter' | 'fetch'>, which: (service: string) => boolean = () => true, forUp = false): Promise<void> {
  const images = [...new Set(Object.entries(prepared.images).flatMap(([service, image]) => (which(service) ? [image] : [])))]
  if (images.length === 0) return
  deps.reporter.info(`Checking ${images.length === 1 ? '1 image in its registry' : `${images.length} images in their registries`}`)
  const results = await checkImages(images, {fetch: deps.fetch})
  const missing = results.filter((r) => r.state === 'missing')
  if (missing.length) {
    throw new UserError(`${missing.length} image${missing.length > 1 ? 's do' : ' does'} not exist: ${missing.map((m) => m.image).join(', ')}; nothing was changed`, {
      hint: missingImagesHint(
        prepared,
        missing.map((m) => m.image),
        forUp,
      ),
      details: {images: missing},
    })
  }
  const unknown = results.filter((r) => r.state === 'unknown')
  if (unknown.length) {
    throw new UnreachableError(`cannot check ${unknown.length} image${unknown.length > 1 ? 's' : ''}: ${unknown.map((u) => `${u.image} (${u.detail})`).join('; ')}; nothing was changed`, {
      hint: uncheckedImagesHint(unknown),
      details: {images: unknown},
    })
  }
}

/**
 * What to do after an interrupted deploy. A canary this release started and left mid-way (its state `progressing` or
 * `paused`) refuses the next deploy until it is resumed, promoted or aborted, so the hint names it; a canary that
 * never started (the interruption came first) leaves nothing to resume.
 */
export function interruptedHint(environment: string, rollouts: Record<string, RolloutSummary>, again?: string): string {
  const mid = Object.entries(rollouts).filter(([, r]) => r.type === 'canary' && (r.phase === 'progressing' || r.phase === 'paused'))
  const left = mid.map(([service, r]) => `${service} (${r.promoting ? 'promoting' : `at ${r.weight ?? 0}%`})`)
  if (!left.length) return `Check \`skycap status ${environment}\`; ${again ? `run \`${again}\` again` : 'deploy again or roll back'}.`
  // A canary whose promotion had begun is finished by a resume; an abort is too late for it.
  const promoting = mid.filter(([, r]) => r.promoting).map(([service]) => service)
  const late = promoting.length ? ` (an abort is too late for ${promoting.join(', ')}: ${promoting.length === 1 ? 'its promotion had' : 'their promotions had'} begun)` : ''
  return `The canary of ${left.join(', ')} is left mid-way: \`skycap rollout resume ${environment}\` goes on with it (or \`skycap promote\`, \`skycap abort\`${late}), \`skycap rollout status ${environment}\` shows where it stands; a deploy is refused until it is done.`
}

/**
 * A service whose new pods must stay ready minReadySeconds can never be done within a deploy (or rollback) timeout no
 * longer than that: every deploy would time out and roll back. Refused before anything changes (exit 2).
 * `services`: each service's name and minReadySeconds (skycap.yaml's for a deploy, the recorded Deployment's for a
 * rollback).
 */
export function refuseUnreachableMinReady(services: Array<[string, number]>, environment: string, timeoutMs: number, timeout: string, action = 'deploy'): void {
  const slow = services.filter(([, seconds]) => seconds * 1000 >= timeoutMs)
  if (!slow.length) return
  const named = slow.map(([name, seconds]) => `${name} (${seconds}s)`).join(', ')
  throw new UserError(`minReadySeconds of ${named} in ${environment} is not shorter than ${timeout}: its new pods could never count as available in time; nothing was changed`, {
    hint: `Give the ${action} more time (--timeout, or deploy.timeout in skycap.yaml) or lower minReadySeconds${action === 'rollback' ? ' and deploy' : ''}.`,
  })
}

/** The URL of the remote origin of the repository skycap.yaml is in (GitHub's repository when nothing names it). */
export function originUrl(options: {configPath?: string; cwd?: string}): () => Promise<string | undefined> {
  return async () => (await openRepository(configFilePath({configPath: options.configPath, cwd: options.cwd}))).remoteUrl()
}
