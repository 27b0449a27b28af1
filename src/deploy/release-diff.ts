// `skycap diff ENV[@REV]`: the release a deploy would apply, rendered and compared with the cluster. Apart from
// status and history (inspect.ts), which read the cluster only: this one renders, and loads what rendering needs.
import {DiffError, ExitCode, exitCodeOf} from '../errors.js'
import {appSelector, connect, type KubectlFactory, namespaceExists} from '../env/connect.js'
import {elsewhereNote, listReleases, recordedElsewhere, UNRECORDABLE_HINT, unrecordableNote} from '../release/store.js'
import {prepareRelease} from '../render/prepare.js'
import {placedRelease} from '../strategies/rollout.js'
import {formatWarning, type Reporter} from '../ui/output.js'
import {adoptedNote, claimedElsewhere, claimedError, claimedNote, dryRunApply, renderedOrigin, withRejectedObjects} from './apply.js'
import {keepScaledReplicas, liveDeployments} from './replicas.js'
import {diffObjects, type ReadableDiff} from './diff.js'
import {type PendingCommits, pendingCommits, pendingLines} from './pending.js'
import {handAppliedNote, handAppliedRemovals, handSetFields, handSetNote, pausedNote} from './drift.js'

/** What `skycap diff` found: `changed` empty means no changes (exit 0). */
export interface DiffResult extends ReadableDiff {
  environment: string
  revision: string
  /** The commits a deploy adds to (or takes away from) the running release; absent before the first deploy. */
  commits?: PendingCommits
}

/** `skycap diff ENV[@REV]`: what a deploy would change. Failures exit 2 or above, never 1 ("changes"). */
export async function diff(options: {target?: string; configPath?: string; signal?: AbortSignal}, factory: KubectlFactory, reporter: Reporter): Promise<DiffResult> {
  try {
    return await computeDiff(options, factory, reporter)
  } catch (error) {
    if (error instanceof Error && exitCodeOf(error) === ExitCode.FAILED) throw new DiffError(error)
    throw error
  }
}

async function computeDiff(options: {target?: string; configPath?: string; signal?: AbortSignal}, factory: KubectlFactory, reporter: Reporter): Promise<DiffResult> {
  const prepared = await prepareRelease({target: options.target, configPath: options.configPath, signal: options.signal})
  for (const w of prepared.warnings) reporter.warn(formatWarning(w))
  const unrecordable = unrecordableNote(prepared.objects.map((o) => o.object))
  if (unrecordable) reporter.warn(`deploy would refuse this release: ${unrecordable}. ${UNRECORDABLE_HINT}`)
  const env = prepared.environment
  const target = await connect(env, factory, reporter)
  const exists = await namespaceExists(target.kubectl, env.namespace)
  // The environment's history in another namespace (its `namespace` changed): said, as deploy says it.
  const elsewhere = async () => {
    const found = await recordedElsewhere(target.kubectl, prepared.app, env.name, env.namespace)
    if (found.length) reporter.warn(elsewhereNote(env.name, env.namespace, found, target.kubectl.context))
  }
  if (!exists) {
    await elsewhere()
    // The server can dry-run nothing into a namespace that does not exist: the objects are checked against the
    // cluster's schema here, as `deploy --dry-run` checks them then (a field the kind lacks, a wrong type), so a diff
    // that lists them does not pass what the deploy's server dry run refuses at once.
    await dryRunApply(
      target.kubectl,
      prepared.objects.map((o) => o.object),
      'client',
    ).catch((error: unknown) => {
      throw withRejectedObjects(error, prepared.objects, prepared.loaded, prepared.environment.name)
    })
    const objects = prepared.objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`)
    return {
      environment: env.name,
      revision: prepared.revision.sha,
      changed: objects,
      revisionOnly: [],
      diff: `namespace ${env.namespace} does not exist yet: a deploy creates it and ${objects.length} objects:\n${objects.map((o) => `+ ${o}`).join('\n')}\n`,
    }
  }
  const selector = appSelector(prepared.app, env.name)
  // The records alone (the kept replica counts, the running revision): diff reads no release's manifests, nor Secrets.
  const [releases, live] = await Promise.all([listReleases(target.kubectl, prepared.app, env.name, {manifests: false}), liveDeployments(target.kubectl, selector)])
  if (releases.length === 0) await elsewhere()
  // Compared as the deploy would leave them: a blue-green service's slot Deployment and switched Service, not the
  // objects as rendered (which a deploy never applies as they are).
  const {objects, keep} = await placedRelease(target.kubectl, keepScaledReplicas(prepared, env, releases, live, false), env.services, selector)
  const [diffed, commits, claims] = await Promise.all([
    // An object the API server refuses is named with its file, as deploy's server dry run names it.
    diffObjects(target.kubectl, objects, {selector, keep}, {configFiles: true}).then(
      (changes) => ({changes}),
      (error: unknown) => ({error}),
    ),
    pendingCommits(prepared.vcs, releases, prepared.revision),
    // Whose the objects already there are: a change to another app's object is one a deploy refuses.
    claimedElsewhere(target.kubectl, objects, prepared.app, env.name, renderedOrigin(prepared.objects, prepared.loaded)),
  ])
  if ('error' in diffed) {
    // Objects of another app or environment (an environment renamed in skycap.yaml: its objects are the old name's)
    // are what a deploy refuses first: that is the refusal, not the server's (an immutable selector, whose advice
    // was to delete a Deployment that serves).
    if (claims.others.length) throw claimedError(claims, prepared.app, env.name, {namespace: env.namespace, context: target.kubectl.context})
    throw withRejectedObjects(diffed.error, prepared.objects, prepared.loaded, prepared.environment.name, new Set(claims.unmanaged.map((c) => c.ref)))
  }
  const {changes} = diffed
  if (claims.others.length) reporter.warn(claimedNote(claims, env.namespace))
  if (claims.unmanaged.length) reporter.warn(adoptedNote(claims, prepared.app, env.name, 'a deploy'))
  const handSet = handSetFields(claims.mine, objects)
  if (handSet.length) reporter.warn(handSetNote(handSet, target.kubectl, 'a deploy'))
  const removed = handAppliedRemovals([...claims.mine, ...claims.unmanagedLive], objects)
  if (removed.length) reporter.warn(handAppliedNote(removed, 'a deploy'))
  const paused = pausedNote(claims.mine, objects, target.kubectl)
  if (paused) reporter.warn(paused)
  if (commits.warning) reporter.warn(commits.warning)
  if (commits.pending) for (const line of pendingLines(commits.pending, env.name, prepared.revision)) reporter.info(line)
  return {environment: env.name, revision: prepared.revision.sha, ...changes, ...(commits.pending ? {commits: commits.pending} : {})}
}
