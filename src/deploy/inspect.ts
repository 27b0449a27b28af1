import {DiffError, ExitCode, exitCodeOf} from '../errors.js'
import type {KubeObject} from '../render/objects.js'
import {listReleases, type ReleaseRecord} from '../release/store.js'
import type {Reporter} from '../ui/output.js'
import {diffObjects, changedObjects} from './diff.js'
import {prepareRelease} from '../render/prepare.js'
import {formatWarning} from '../ui/output.js'
import {appSelector, connect, type KubectlFactory, namespaceExists, openEnvironment} from './target.js'
import {keepScaledReplicas, liveDeployments} from './deploy.js'

export interface EnvOptions {
  environment?: string
  configPath?: string
}

/** `skycap history ENV`: the recorded releases, newest first. */
export async function history(options: EnvOptions, factory: KubectlFactory, reporter: Reporter): Promise<{environment: string; releases: ReleaseRecord[]}> {
  const {loaded, env} = await openEnvironment(options)
  const {kubectl} = await connect(env, factory, reporter)
  const releases = await listReleases(kubectl, loaded.config.app, env.name, {manifests: false})
  return {environment: env.name, releases: releases.map((r) => r.record)}
}

/** The fields of a live Deployment that status reads. */
interface LiveDeployment extends KubeObject {
  spec?: {replicas?: number; template?: {spec?: {containers?: Array<{image?: string}>}}}
  status?: {replicas?: number; readyReplicas?: number; updatedReplicas?: number}
}

export interface ServiceStatus {
  service: string
  revision: string | null
  image: string | null
  ready: number
  desired: number
  updated: number
  age: string | null
  state: 'ready' | 'progressing' | 'not deployed'
}

/** `skycap status ENV`: per service what runs, how many are ready, and the last release. */
export async function status(options: EnvOptions, factory: KubectlFactory, reporter: Reporter, clock: () => number = Date.now) {
  const {loaded, env} = await openEnvironment(options)
  const target = await connect(env, factory, reporter)
  const selector = appSelector(loaded.config.app, env.name)
  const [list, releases] = await Promise.all([
    target.kubectl.json<{items: Array<LiveDeployment>}>(['get', 'deployments', '-l', selector]),
    listReleases(target.kubectl, loaded.config.app, env.name, {manifests: false}),
  ])
  const services: ServiceStatus[] = Object.keys(env.services).map((name) => {
    const d = list.items.find((i) => i.metadata.name === name)
    if (!d) return {service: name, revision: null, image: null, ready: 0, desired: 0, updated: 0, age: null, state: 'not deployed'}
    const desired = d.spec?.replicas ?? 1
    const ready = d.status?.readyReplicas ?? 0
    const updated = d.status?.updatedReplicas ?? 0
    const created = Date.parse((d.metadata as {creationTimestamp?: string}).creationTimestamp ?? '')
    return {
      service: name,
      revision: d.metadata.annotations?.['skycap.dev/revision'] ?? null,
      image: d.spec?.template?.spec?.containers?.[0]?.image ?? null,
      ready,
      desired,
      updated,
      age: Number.isFinite(created) ? age(clock() - created) : null,
      state: ready >= desired && updated >= desired && (d.status?.replicas ?? 0) === desired ? 'ready' : 'progressing',
    }
  })
  const last = releases[0]?.record ?? null
  return {environment: env.name, context: target.context, namespace: env.namespace, services, lastRelease: last}
}

function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.floor(s / 60)}m`
  if (s < 172800) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86400)}d`
}

/** `skycap diff ENV[@REV]`: what a deploy would change. Failures exit 2 or above, never 1 ("changes"). */
export async function diff(
  options: {target?: string; configPath?: string},
  factory: KubectlFactory,
  reporter: Reporter,
): Promise<{environment: string; revision: string; changed: string[]; diff: string}> {
  try {
    return await computeDiff(options, factory, reporter)
  } catch (error) {
    if (error instanceof Error && exitCodeOf(error) === ExitCode.FAILED) throw new DiffError(error)
    throw error
  }
}

async function computeDiff(
  options: {target?: string; configPath?: string},
  factory: KubectlFactory,
  reporter: Reporter,
): Promise<{environment: string; revision: string; changed: string[]; diff: string}> {
  const prepared = await prepareRelease({target: options.target, configPath: options.configPath})
  for (const w of prepared.warnings) reporter.warn(formatWarning(w))
  const env = prepared.environment
  const target = await connect(env, factory, reporter)
  const exists = await namespaceExists(target.kubectl, env.namespace)
  if (!exists) {
    const objects = prepared.objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`)
    return {
      environment: env.name,
      revision: prepared.revision.sha,
      changed: objects,
      diff: `namespace ${env.namespace} does not exist yet: a deploy creates it and ${objects.length} objects:\n${objects.map((o) => `+ ${o}`).join('\n')}\n`,
    }
  }
  const selector = appSelector(prepared.app, env.name)
  const [releases, live] = await Promise.all([listReleases(target.kubectl, prepared.app, env.name), liveDeployments(target.kubectl, selector)])
  const objects = keepScaledReplicas(prepared, env, releases, live, false)
  const text = await diffObjects(target.kubectl, objects)
  return {environment: env.name, revision: prepared.revision.sha, changed: changedObjects(text), diff: text}
}
