import {gunzipSync, gzipSync} from 'node:zlib'

import type {Kubectl} from '../kubectl/kubectl.js'
import type {KubeObject} from '../render/objects.js'

/** One entry of an environment's history, kept in the cluster as a Secret (manifests may hold Secrets). */
export interface ReleaseRecord {
  number: number
  app: string
  environment: string
  action: 'deploy' | 'rollback' | 'scale'
  result: 'succeeded' | 'failed'
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

/** The newest succeeded deploy or rollback, optionally below `before`. */
export function lastGood(releases: StoredRelease[], before?: number): StoredRelease | undefined {
  return releases.find((r) => r.record.result === 'succeeded' && r.record.action !== 'scale' && r.hasManifests && (before === undefined || r.record.number < before))
}

/** Writes a record (and its manifests) and drops records beyond `keep`. */
export async function saveRelease(kubectl: Kubectl, record: ReleaseRecord, manifests: KubeObject[] | undefined, existing: StoredRelease[], keep: number): Promise<void> {
  const data: Record<string, string> = {release: Buffer.from(JSON.stringify(record)).toString('base64')}
  if (manifests) data.manifests = gzipSync(JSON.stringify(manifests)).toString('base64')
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: SECRET_TYPE,
    metadata: {
      name: `skycap-release-${record.app}-${record.environment}-${record.number}`.slice(0, 253),
      labels: {[LABEL_APP]: record.app, [LABEL_ENV]: record.environment, 'skycap.dev/release': String(record.number), 'skycap.dev/result': record.result},
    },
    data,
  }
  await kubectl.run(['apply', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-'], {input: JSON.stringify(secret)})
  // Oldest beyond `keep` go, but never the newest good one (rollback must stay possible).
  const all = [record.number, ...existing.map((r) => r.record.number)].sort((a, b) => b - a)
  const good = lastGood(existing)?.record.number
  const drop = all.slice(keep).filter((n) => n !== good && n !== record.number)
  if (drop.length) {
    await kubectl.run(['delete', 'secret', '--ignore-not-found', ...drop.map((n) => `skycap-release-${record.app}-${record.environment}-${n}`)], {allowFailure: true})
  }
}
