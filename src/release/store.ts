import {gunzipSync, gzipSync} from 'node:zlib'

import type {Kubectl} from '../kubectl/kubectl.js'
import type {KubeObject} from '../render/objects.js'

/** One entry of an environment's history, kept in the cluster as a Secret (manifests may hold Secrets). */
export interface ReleaseRecord {
  number: number
  app: string
  environment: string
  action: 'deploy' | 'rollback' | 'scale'
  /** interrupted: stopped (SIGINT/SIGTERM) after apply began; what was applied stays as it was. */
  result: 'succeeded' | 'failed' | 'interrupted'
  revision: {sha: string; short: string; subject: string} | null
  images: Record<string, string>
  /** replicas per service as skycap.yaml said at this release (a deploy keeps scaled counts while these are unchanged). */
  configuredReplicas: Record<string, number>
  user: string
  ciJob?: string
  startedAt: string
  finishedAt: string
  durationMs: number
  /** For a rollback: the release it restored. For a failed deploy: the release automatic rollback restored. */
  rolledBackTo?: number
  /** For a rollback: the release that ran when it started (the failed one, for an automatic rollback). */
  rolledBackFrom?: number
  /** For a rollback: started by skycap after a failed deploy, or by a person with `skycap rollback`. */
  trigger?: 'automatic' | 'manual'
  /** For a failed deploy: the number of the rollback entry that followed it. */
  rollbackRelease?: number
  /** For a failed deploy or rollback: the resource that failed (kind/name); `message` says why. */
  failed?: string
  /** Live replica counts kept instead of the recorded ones (rollback), by service. */
  keptReplicas?: Record<string, number>
  /** For scale: what changed. */
  scale?: {service: string; from: number; to: number}
  message?: string
}

/** A record and, for deploys and rollbacks, the manifests it applied. */
export interface StoredRelease {
  record: ReleaseRecord
  /** Decompressed on demand. */
  manifests(): KubeObject[]
  hasManifests: boolean
}

const LABEL_APP = 'skycap.dev/release-of'
const LABEL_ENV = 'skycap.dev/environment'
const SECRET_TYPE = 'skycap.dev/release.v1'

/** The label selector of an environment's release records. */
export function releaseSelector(app: string, environment: string): string {
  return `${LABEL_APP}=${app},${LABEL_ENV}=${environment}`
}

/** Release records of app/env, newest first. One kubectl call. */
export async function listReleases(kubectl: Kubectl, app: string, environment: string): Promise<StoredRelease[]> {
  const list = await kubectl.json<{items: Array<{type?: string; data?: Record<string, string>}>}>(['get', 'secrets', '-l', releaseSelector(app, environment)])
  return list.items
    .filter((s) => s.type === SECRET_TYPE && s.data?.release)
    .map((s) => {
      const record = JSON.parse(Buffer.from(s.data?.release as string, 'base64').toString('utf8')) as ReleaseRecord
      const raw = s.data?.manifests
      return {
        record,
        hasManifests: Boolean(raw),
        manifests: () => (raw ? (JSON.parse(gunzipSync(Buffer.from(raw, 'base64')).toString('utf8')) as KubeObject[]) : []),
      }
    })
    .sort((a, b) => b.record.number - a.record.number)
}

/** A succeeded deploy or rollback with its manifests: something a rollback can return to. */
export function isGood(r: StoredRelease): boolean {
  return r.record.result === 'succeeded' && r.record.action !== 'scale' && r.hasManifests
}

/** The newest succeeded deploy or rollback, optionally below `before`. */
export function lastGood(releases: StoredRelease[], before?: number): StoredRelease | undefined {
  return releases.find((r) => isGood(r) && (before === undefined || r.record.number < before))
}

/** The release number after every recorded one: read after taking the lock, so no two writers get the same. */
export function nextReleaseNumber(releases: StoredRelease[]): number {
  return releases.reduce((max, r) => Math.max(max, r.record.number), 0) + 1
}

/**
 * The release whose manifests a record runs: a rollback runs those of the release it restored (followed through
 * earlier rollbacks), everything else its own.
 */
export function contentOf(release: StoredRelease, releases: StoredRelease[]): number {
  let record = release.record
  const seen = new Set<number>()
  while (record.action === 'rollback' && record.rolledBackTo !== undefined && !seen.has(record.number)) {
    seen.add(record.number)
    const to = releases.find((r) => r.record.number === record.rolledBackTo)
    if (!to) return record.rolledBackTo
    record = to.record
  }
  return record.number
}

function secretName(app: string, environment: string, number: number): string {
  return `skycap-release-${app}-${environment}-${number}`.slice(0, 253)
}

/**
 * Writes a record (and its manifests) with `kubectl create`, never over another one, and drops records beyond
 * `keep`. Callers hold the environment's lock and numbered the record from releases read under it.
 */
export async function saveRelease(kubectl: Kubectl, record: ReleaseRecord, manifests: KubeObject[] | undefined, existing: StoredRelease[], keep: number): Promise<void> {
  const data: Record<string, string> = {release: Buffer.from(JSON.stringify(record)).toString('base64')}
  if (manifests) data.manifests = gzipSync(JSON.stringify(manifests)).toString('base64')
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: SECRET_TYPE,
    metadata: {
      name: secretName(record.app, record.environment, record.number),
      labels: {[LABEL_APP]: record.app, [LABEL_ENV]: record.environment, 'skycap.dev/release': String(record.number), 'skycap.dev/result': record.result},
    },
    data,
  }
  await kubectl.run(['create', '-f', '-'], {input: JSON.stringify(secret)})
  const drop = releasesToDrop([record, ...existing.map((r) => r.record).filter((r) => r.number !== record.number)], keep)
  if (drop.length) {
    await kubectl.run(['delete', 'secret', '--ignore-not-found', ...drop.map((n) => secretName(record.app, record.environment, n))], {allowFailure: true})
  }
}

/** Scale entries kept per deploy or rollback kept. */
const SCALES_PER_RELEASE = 10

/**
 * The records to delete: deploys and rollbacks beyond the newest `keep` (never the newest successful one, which
 * rollback needs), scale entries older than the oldest deploy or rollback kept, and scale entries beyond
 * 10 × keep. Scale entries never count against `keep`, so scaling cannot push a rollback target out.
 */
export function releasesToDrop(records: ReleaseRecord[], keep: number): number[] {
  const sorted = [...records].sort((a, b) => b.number - a.number)
  const releases = sorted.filter((r) => r.action !== 'scale')
  const good = releases.find((r) => r.result === 'succeeded')?.number
  const kept = new Set([...releases.slice(0, keep).map((r) => r.number), ...(good === undefined ? [] : [good])])
  const oldestKept = kept.size ? Math.min(...kept) : -Infinity
  const drop = releases.filter((r) => !kept.has(r.number)).map((r) => r.number)
  const scales = sorted.filter((r) => r.action === 'scale')
  scales.forEach((r, i) => {
    if (r.number < oldestKept || i >= keep * SCALES_PER_RELEASE) drop.push(r.number)
  })
  return drop.sort((a, b) => a - b)
}
