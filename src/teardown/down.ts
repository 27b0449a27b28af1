// `skycap down ENV` of a deployed environment: everything this app and environment deployed in its namespace goes
// (objects, hook and run Jobs, release records, rollout state), under the deploy lock, after a confirmation; what
// others made there, and PersistentVolumeClaims (data), stay. The namespace goes only when a deploy created it and
// nothing else is in it.
import type {DeployDeps} from '../deploy/deploy.js'
import {PRUNE_RESOURCES} from '../deploy/apply.js'
import {parseDuration} from '../duration.js'
import {appSelector, connect, CREATED_BY, namespaceExists, openEnvironment} from '../env/connect.js'
import {InterruptedError, KubectlError, UserError} from '../errors.js'
import {type Kubectl, kubectlCommand} from '../kubectl/kubectl.js'
import type {KubeObject} from '../render/objects.js'
import {whileLocked} from '../release/in-place.js'
import {plural} from '../ui/output.js'
import {jobSelector, ownDeletes, othersIn, recordSelector, rolloutStateSelector} from './teardown.js'

export interface DownEnvironmentOptions {
  environment: string
  configPath?: string
  cwd?: string
  yes?: boolean
  dryRun?: boolean
  waitForLock?: string
}

/** What `skycap down ENV` deleted (or, with --dry-run, would delete) and what it kept. */
export interface DownEnvironmentReport {
  app: string
  environment: string
  context: string
  namespace: string
  /** deleted; planned: --dry-run; nothing-deployed: nothing of this app and environment was there. */
  result: 'deleted' | 'planned' | 'nothing-deployed'
  /** Kind: count, of the objects (hook and run Jobs among the Jobs). */
  objects: Record<string, number>
  /** Kind/name of each object. */
  names: string[]
  releaseRecords: number
  rolloutState: boolean
  /** PersistentVolumeClaims of this app left in place (data). */
  claimsKept: string[]
  /** PersistentVolumeClaims Kubernetes deletes with their StatefulSet (persistentVolumeClaimRetentionPolicy whenDeleted: Delete). */
  claimsDeleted: string[]
  namespaceDeleted: boolean
  /** Why the namespace stays (null when it was deleted, or would be). */
  namespaceKept: string | null
}

/** What this app and environment has in the namespace. */
interface Inventory {
  objects: KubeObject[]
  releaseRecords: number
  rolloutState: boolean
  claims: string[]
  /** Claims of a StatefulSet whose retention policy deletes them with it. */
  claimsGoing: string[]
}

/** Said in place of the claims' names when the user may not list PersistentVolumeClaims. */
const UNREADABLE_CLAIMS = '(not readable: forbidden)'

type Deps = Pick<DeployDeps, 'kubectl' | 'reporter' | 'signal' | 'quitAtOnce' | 'confirm' | 'noQuestions'>

/** `skycap down ENV`: takes this app out of a deployed environment. */
export async function downEnvironment(options: DownEnvironmentOptions, deps: Deps): Promise<DownEnvironmentReport> {
  const {loaded, env} = await openEnvironment({configPath: options.configPath, cwd: options.cwd, environment: options.environment, repository: false})
  const app = loaded.config.app
  const waitMs = options.waitForLock !== undefined ? await parseDuration(options.waitForLock, '--wait-for-lock') : 0
  const {kubectl, context} = await connect(env, deps.kubectl, deps.reporter)
  const report: DownEnvironmentReport = {
    app,
    environment: env.name,
    context,
    namespace: env.namespace,
    result: 'nothing-deployed',
    objects: {},
    names: [],
    releaseRecords: 0,
    rolloutState: false,
    claimsKept: [],
    claimsDeleted: [],
    namespaceDeleted: false,
    namespaceKept: null,
  }
  if (!(await namespaceExists(kubectl, env.namespace))) {
    deps.reporter.info(`Namespace ${env.namespace} does not exist (context ${context}): nothing of ${app} is deployed in ${env.name}`)
    return report
  }
  const seen = await inventoryOf(kubectl, app, env.name)
  fill(report, seen)
  if (seen.objects.length === 0 && seen.releaseRecords === 0 && !seen.rolloutState) {
    deps.reporter.info(`Nothing of ${app} ${env.name} is in namespace ${env.namespace} (context ${context}): nothing to delete`)
    return report
  }
  const what =
    describeInventory(seen) +
    (seen.claims.length ? `\nKept: ${seen.claims.map((c) => `PersistentVolumeClaim/${c}`).join(', ')} (data; never deleted)` : '') +
    (seen.claimsGoing.length
      ? `\nDeleted by Kubernetes with their StatefulSet (persistentVolumeClaimRetentionPolicy whenDeleted: Delete), data included: ${seen.claimsGoing.map((c) => `PersistentVolumeClaim/${c}`).join(', ')}`
      : '')
  if (options.dryRun) {
    deps.reporter.info(`Dry run: would delete from ${env.name} (context ${context}, namespace ${env.namespace}): ${what}`)
    for (const name of report.names) deps.reporter.info(`  would delete ${name}`)
    report.result = 'planned'
    return report
  }
  if (!options.yes) await confirmDown(deps, {app, environment: env.name, protectedEnv: env.protected === true, context, namespace: env.namespace, what})

  const stepsOf = (dryRun: boolean): Array<[string, () => Promise<unknown>]> => [
    [
      'its hook and run Jobs',
      () => kubectl.run(['delete', 'jobs.batch', '-l', jobSelector(app, env.name), '--ignore-not-found', ...(dryRun ? ['--dry-run=server'] : ['--wait=true', '--timeout=120s'])]),
    ],
    ...ownDeletes(kubectl, app, env.name, dryRun),
  ]
  const steps = stepsOf(false)
  await whileLocked(kubectl, {app, environment: env, reason: `down ${env.name}`, what: `take ${app} down`, waitMs}, deps, async () => {
    // Read again under the lock: a deploy that ran meanwhile may have added objects or records.
    fill(report, await inventoryOf(kubectl, app, env.name))
    // Every delete first as a server dry run, which the API server authorizes as the real one: with docs/rbac.md's
    // deployer Role and a LimitRange in the release, down deleted the Deployments and Services, then failed on the
    // LimitRange, leaving it, the history and the rollout state, and saying none of it.
    for (const [name, check] of stepsOf(true)) {
      try {
        await check()
      } catch (error) {
        if (deps.signal?.aborted) throw interrupted([], steps, env.name)
        if (!(error instanceof KubectlError)) throw error
        throw new KubectlError(error.kind, `down of ${env.name} refused before anything was deleted: the API server would not delete ${name}: ${error.message}`, error.args, error.stderr, {
          hint: `${error.kind === 'forbidden' ? 'The identity skycap runs as may not delete every kind this environment holds (docs/rbac.md); ' : ''}nothing was changed.`,
          details: {environment: env.name, namespace: env.namespace},
        })
      }
    }
    deps.reporter.info(`Deleting ${app} ${env.name} from namespace ${env.namespace} (context ${context}): ${describeInventory(report)}`)
    const done: string[] = []
    for (const [name, step] of steps) {
      if (deps.signal?.aborted) throw interrupted(done, steps, env.name)
      try {
        await step()
      } catch (error) {
        if (deps.signal?.aborted) throw interrupted(done, steps, env.name)
        // Part of it went: say which, as a Ctrl-C does (it said only kubectl's message).
        if (error instanceof KubectlError) {
          throw new KubectlError(error.kind, `down of ${env.name} failed part-way: ${partsDone(done, steps)}: ${error.message}`, error.args, error.stderr, {
            hint: `Run skycap down ${env.name} again once the cause is fixed; it deletes what is left.`,
            details: {environment: env.name, namespace: env.namespace, deleted: done, notDeleted: steps.map(([n]) => n).filter((n) => !done.includes(n))},
          })
        }
        throw error
      }
      done.push(name)
    }
  })
  report.result = 'deleted'
  // The lock's Lease went with its release: the namespace is judged without it.
  await decideNamespace(kubectl, report, deps).catch((error: unknown) => {
    if (!deps.signal?.aborted) throw error
    throw new InterruptedError(
      `down of ${env.name} interrupted: deleted ${steps.map(([name]) => name).join(', ')}; namespace ${env.namespace} ${report.namespaceDeleted ? 'deleted' : 'not deleted (or still being deleted)'}`,
      {hint: `Run skycap down ${env.name} again to finish.`},
    )
  })
  return report
}

/** The objects, records, rollout state and claims of this app and environment in the namespace. */
async function inventoryOf(kubectl: Kubectl, app: string, environment: string): Promise<Inventory> {
  const items = async (args: string[]) => (await kubectl.json<{items: KubeObject[]}>(args)).items
  // At once: five reads, twice a down (before the question and under the lock).
  const [own, jobs, records, state, claims] = await Promise.all([
    items(['get', PRUNE_RESOURCES, '-l', appSelector(app, environment)]),
    items(['get', 'jobs.batch', '-l', jobSelector(app, environment)]),
    items(['get', 'configmaps', '-l', recordSelector(app, environment)]),
    // The state ConfigMap and, for a release left mid-way, the Secret with its manifests.
    items(['get', 'configmaps,secrets', '-l', rolloutStateSelector(app, environment)]),
    // A CI account whose Role does not cover claims: none is counted, and the namespace is kept for them (below).
    items(['get', 'persistentvolumeclaims']).catch((error: unknown) => {
      if (error instanceof KubectlError && error.kind === 'forbidden') return [{kind: 'PersistentVolumeClaim', metadata: {name: UNREADABLE_CLAIMS}} as KubeObject]
      throw error
    }),
  ])
  // A StatefulSet's claims are named <template>-<set>-<ordinal>; a claim a template rendered carries skycap's labels.
  // One whose persistentVolumeClaimRetentionPolicy says `whenDeleted: Delete` has its claims deleted with it by
  // Kubernetes: they are not kept (down said "kept (data; never deleted)" of claims gone seconds later).
  const claimPrefixes = own
    .filter((o) => o.kind === 'StatefulSet')
    .flatMap((o) => {
      const spec = o.spec as {volumeClaimTemplates?: KubeObject[]; persistentVolumeClaimRetentionPolicy?: {whenDeleted?: string}} | undefined
      const deleted = spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted === 'Delete'
      return (spec?.volumeClaimTemplates ?? []).map((t) => ({prefix: `${t.metadata.name}-${o.metadata.name}-`, deleted}))
    })
  const ownLabels = Object.fromEntries(
    appSelector(app, environment)
      .split(',')
      .map((kv) => kv.split('=') as [string, string]),
  )
  const ofSet = (c: KubeObject) => claimPrefixes.find(({prefix}) => c.metadata.name.startsWith(prefix) && /^\d+$/.test(c.metadata.name.slice(prefix.length)))
  const ownClaim = (c: KubeObject) => ofSet(c) !== undefined || Object.entries(ownLabels).every(([k, v]) => c.metadata.labels?.[k] === v)
  const releases = new Set(records.map((r) => r.metadata.labels?.['skycap.dev/release'] ?? r.metadata.name))
  const unreadable = claims.some((c) => c.metadata.name === UNREADABLE_CLAIMS)
  const mine = unreadable ? [] : claims.filter(ownClaim)
  return {
    objects: [...own, ...jobs],
    releaseRecords: releases.size,
    rolloutState: state.length > 0,
    claims: unreadable ? [UNREADABLE_CLAIMS] : mine.filter((c) => !ofSet(c)?.deleted).map((c) => c.metadata.name),
    claimsGoing: mine.filter((c) => ofSet(c)?.deleted).map((c) => c.metadata.name),
  }
}

function fill(report: DownEnvironmentReport, seen: Inventory): void {
  report.objects = {}
  for (const o of seen.objects) report.objects[o.kind] = (report.objects[o.kind] ?? 0) + 1
  report.names = seen.objects.map((o) => `${o.kind}/${o.metadata.name}`)
  report.releaseRecords = seen.releaseRecords
  report.rolloutState = seen.rolloutState
  report.claimsKept = seen.claims
  report.claimsDeleted = seen.claimsGoing
}

/** The result line on stdout: `shop qa: deleted 14 objects (…) … in namespace shop-qa (context x); namespace deleted`. */
export function downLine(report: DownEnvironmentReport): string {
  const where = `in namespace ${report.namespace} (context ${report.context})`
  if (report.result === 'nothing-deployed') return `${report.app} ${report.environment}: nothing deployed ${where}; nothing deleted`
  const kept = report.namespaceDeleted ? '; namespace deleted' : report.namespaceKept ? `; namespace kept: ${report.namespaceKept}` : ''
  const claims =
    (report.claimsKept.length ? `; kept PersistentVolumeClaims ${report.claimsKept.join(', ')}` : '') +
    (report.claimsDeleted.length ? `; PersistentVolumeClaims ${report.claimsDeleted.join(', ')} ${report.result === 'planned' ? 'would go' : 'go'} with their StatefulSet (whenDeleted: Delete)` : '')
  return `${report.app} ${report.environment}: ${report.result === 'planned' ? 'would delete' : 'deleted'} ${describeInventory(report)} ${where}${claims}${kept}`
}

/** `14 objects (3 ConfigMaps, 2 Deployments, …), 6 release records and the rollout state`. */
export function describeInventory(seen: {objects: KubeObject[] | Record<string, number>; releaseRecords: number; rolloutState: boolean}): string {
  const counts: Record<string, number> = {}
  if (Array.isArray(seen.objects)) for (const o of seen.objects) counts[o.kind] = (counts[o.kind] ?? 0) + 1
  else Object.assign(counts, seen.objects)
  const total = Object.values(counts).reduce((a, b) => a + b, 0)
  const kinds = Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, n]) => `${n} ${n === 1 ? kind : kind.endsWith('s') ? `${kind}es` : kind.endsWith('y') ? `${kind.slice(0, -1)}ies` : `${kind}s`}`)
  const parts = [
    total ? `${plural(total, 'object')} (${kinds.join(', ')})` : 'no objects',
    ...(seen.releaseRecords ? [plural(seen.releaseRecords, 'release record')] : []),
    ...(seen.rolloutState ? ['the rollout state'] : []),
  ]
  return parts.length === 1 ? (parts[0] as string) : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`
}

/** A person confirms on the terminal (the environment's name for a protected one); without one, --yes is needed. */
async function confirmDown(deps: Deps, target: {app: string; environment: string; protectedEnv: boolean; context: string; namespace: string; what: string}): Promise<void> {
  const {app, environment} = target
  if (!deps.confirm) {
    const why = deps.noQuestions === 'json' ? 'with --json skycap asks no questions' : 'there is no terminal to confirm on'
    throw new UserError(`skycap down ${environment} deletes what ${app} deployed there and its history, and ${why}; nothing was changed`, {
      hint: `Add --yes to take ${app} down from ${environment} (skycap down ${environment} --yes); --dry-run lists what would go.`,
    })
  }
  const question = `Take ${app} down from ${target.protectedEnv ? 'PROTECTED ' : ''}${environment} (context ${target.context}, namespace ${target.namespace})? This deletes ${target.what}`
  const answer = target.protectedEnv ? environment : 'yes'
  if (!(await deps.confirm(question, answer))) throw new UserError('down cancelled; nothing was changed')
}

function interrupted(done: string[], steps: Array<[string, unknown]>, environment: string): InterruptedError {
  return new InterruptedError(`down of ${environment} interrupted: ${partsDone(done, steps)}`, {hint: `Run skycap down ${environment} again to finish.`})
}

/** `deleted its objects; not deleted: its release records, its rollout state`. */
function partsDone(done: string[], steps: Array<[string, unknown]>): string {
  const left = steps.map(([name]) => name).filter((name) => !done.includes(name))
  return `${done.length ? `deleted ${done.join(', ')}` : 'nothing deleted yet'}; not deleted: ${left.join(', ')}`
}

/** Deletes the namespace when a deploy created it and nothing else is in it; otherwise says why it stays. */
async function decideNamespace(kubectl: Kubectl, report: DownEnvironmentReport, deps: Deps): Promise<void> {
  const {namespace, context} = report
  const remove = kubectlCommand(`delete namespace ${namespace}`, {context})
  // A CI account whose rights are a Role in the namespace may not read it (docs/rbac.md): it is kept.
  const ns = await kubectl.json<{metadata: {annotations?: Record<string, string>}}>(['get', 'namespace', namespace], {namespaced: false}).catch((error: unknown) => {
    if (error instanceof KubectlError && error.kind === 'forbidden') return undefined
    throw error
  })
  if (!ns) {
    report.namespaceKept = `whether skycap's deploy created it could not be read (forbidden); \`${remove}\` deletes it once nothing needs it`
    return
  }
  if (ns.metadata.annotations?.[CREATED_BY] !== 'deploy') {
    report.namespaceKept = `skycap's deploy did not create it (no ${CREATED_BY}=deploy); \`${remove}\` deletes it once nothing needs it`
    return
  }
  const {others, unmanaged} = await othersIn(kubectl, report.app, report.environment)
  // A lock held there is a deploy (of another app, or of this one again) starting in the namespace.
  const leases = (await kubectl.run(['get', 'leases', '-o', 'name'])).stdout.split('\n').filter((l) => l.trim())
  const why = [
    ...(others.length ? [`${others.join(', ')} ${others.length === 1 ? 'runs' : 'run'} there`] : []),
    ...(unmanaged.length ? [`it holds objects skycap did not deploy (${unmanaged.slice(0, 5).join(', ')}${unmanaged.length > 5 ? ', …' : ''})`] : []),
    ...(leases.length ? [`a lock is held there (${leases.join(', ')})`] : []),
    ...(report.claimsKept.length ? [`it holds the PersistentVolumeClaims ${report.claimsKept.join(', ')} (data)`] : []),
  ]
  if (why.length) {
    report.namespaceKept = `${why.join('; ')}; \`${remove}\` deletes it once nothing needs it`
    return
  }
  deps.reporter.info(`Deleting namespace ${namespace} (context ${context}), which skycap's first deploy created`)
  await kubectl.run(['delete', 'namespace', namespace, '--wait=true', '--timeout=120s'], {namespaced: false})
  report.namespaceDeleted = true
}
