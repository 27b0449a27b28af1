import {nodeZlib} from '../builtins.js'
import type {KubeObject} from '../render/objects.js'

/**
 * A Secret (and a ConfigMap) holds at most 1 MiB. The gzipped manifests are cut into parts of this many bytes, one
 * Secret each; base64 in the API makes a part about 940 KB.
 */
export const PART_BYTES = 700_000
/** The most parts a release may take: a release whose manifests need more is refused before anything is applied. */
export const MAX_PARTS = 8

/** The gzipped manifests of a release, cut into Secret-sized parts; too many parts is refused by the caller. */
export function packManifests(manifests: KubeObject[]): Buffer[] {
  const packed = nodeZlib().gzipSync(JSON.stringify(manifests))
  const out: Buffer[] = []
  for (let i = 0; i < packed.length; i += PART_BYTES) out.push(packed.subarray(i, i + PART_BYTES))
  return out
}

/**
 * Why a release with these manifests cannot be recorded (more than MAX_PARTS parts once gzipped), naming the objects
 * that take the most room; undefined when it can. deploy refuses such a release before it changes anything; render
 * and diff warn of it.
 */
export function unrecordableNote(manifests: KubeObject[]): string | undefined {
  // gzip adds at most a few bytes per 32 KB block to what it cannot shrink: well under the limit, nothing to compress.
  if (Buffer.byteLength(JSON.stringify(manifests)) < MAX_PARTS * PART_BYTES * 0.99) return undefined
  const parts = packManifests(manifests)
  if (parts.length <= MAX_PARTS) return undefined
  const mb = (n: number) => `${(n / 1_000_000).toFixed(1)} MB`
  const size = parts.reduce((n, p) => n + p.length, 0)
  const largest = manifests
    .map((o) => ({ref: `${o.kind}/${o.metadata.name}`, bytes: JSON.stringify(o).length}))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 3)
    .map((o) => `${o.ref} (${mb(o.bytes)})`)
  return `the release's manifests take ${mb(size)} compressed, more than the ${mb(MAX_PARTS * PART_BYTES)} skycap can record for rollback (largest, uncompressed: ${largest.join(', ')})`
}

/** What to do about a release too large to record (deploy's refusal, render's and diff's warning). */
export const UNRECORDABLE_HINT = 'Move large files out of config folders (mount them from a volume or fetch them at start), or split the app.'
