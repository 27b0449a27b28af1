import {closeSync, fstatSync, openSync, readSync} from 'node:fs'

import {ConfigError, type SourceLocation} from '../errors.js'

/** What a ConfigMap key may be (a config folder's file name), as Kubernetes allows it. */
export const CONFIG_KEY = /^[-._a-zA-Z0-9]{1,253}$/

/** The error of a config file whose name no ConfigMap key may have (a longer one passed until the API server's dry run). */
export const CONFIG_KEY_RULE = "allowed: letters, digits, '-', '_', '.', at most 253 of them"

/**
 * Size limits on what skycap reads, checked with a stat before a byte is read, so a huge or endless file costs
 * nothing. Figures in docs/input-limits.md; bench/input-limits.ts measures parsing at the limits.
 */
export const LIMITS = {
  /** skycap.yaml. A 100-service app writes about 20 KB; at this size parsing takes about 0.5 s. */
  skycapYaml: 512 * 1024,
  /** One template file of the templates folder (and anything it includes); at this size a render takes about 0.8 s. */
  template: 256 * 1024,
  /** One file of a config folder; the ConfigMap limit below is the one that binds. */
  configFile: 1000 * 1024,
  /**
   * A service's ConfigMap: its keys plus its files' bytes. Kubernetes refuses a ConfigMap whose data exceeds
   * 1 MiB (1048576 bytes); 24 KiB stay free for the name, labels and what the API server adds.
   */
  configMap: 1000 * 1024,
} as const

/**
 * What one render of a template (or of imageTag, a build arg) may cost, through LiquidJS's own limits: `renderTime`
 * its renderLimit (milliseconds, checked before each node of the template is rendered), `renderMemory` its
 * memoryLimit (what its memory-sensitive operations allocate: a range's length, a string filter's output length).
 * A template at the size limit renders in about 0.8 s; a `{% for i in (1..100000000) %}` ran for minutes.
 */
export const TEMPLATE_LIMITS = {renderTime: 10_000, renderMemory: 50_000_000} as const

/** The ceiling on a service's replicas in an environment that sets no `maxReplicas`. */
export const DEFAULT_MAX_REPLICAS = 1000

/** Kubernetes stores replica counts, ports' neighbours and probe numbers as int32. */
export const INT32_MAX = 2_147_483_647

/**
 * A byte count as people read it: "1.5 MiB (1572864 bytes)". `like`: another count (a limit) whose unit this one takes
 * when it is less than four times it, so that the two compare at a glance: 1080963 bytes beside a limit of 1000 KiB
 * read "1 MiB", as if under it; now "1055.6 KiB". A count far over it keeps its own unit ("2 GiB").
 */
export function formatBytes(bytes: number, like = bytes): string {
  if (bytes >= 4 * like) like = bytes
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let scale = 1
  let unit = ''
  for (const u of units) {
    if (like / scale < 1024) break
    scale *= 1024
    unit = u
  }
  return unit ? `${Number((bytes / scale).toFixed(1))} ${unit} (${bytes} bytes)` : `${bytes} bytes`
}

/**
 * The ConfigError for `subject` (e.g. "template deploy/x.yaml") of `size` bytes, over `limit`. `size` is Infinity for
 * a device or pipe that went on past the limit: its size is unknown.
 */
export function tooLargeError(subject: string, size: number, limit: number, hint: string, location?: SourceLocation): ConfigError {
  if (size === Number.POSITIVE_INFINITY) {
    return new ConfigError(`${subject} is not a regular file and goes on past the limit of ${formatBytes(limit)}`, location, {hint, details: {size: null, limit}})
  }
  return new ConfigError(`${subject} is ${formatBytes(size, limit)}; the limit is ${formatBytes(limit)}`, location, {hint, details: {size, limit}})
}

/**
 * Reads `path` after checking with a stat that it holds at most `limit` bytes, and reads no more than `limit` + 1
 * bytes: a file can grow after the stat, and a device or pipe (`--config /dev/zero`, `--config <(…)`) has size 0 on
 * stat and may never end. Errors other than the size are left to the caller.
 */
export function readWithinLimit(path: string, limit: number, tooLarge: (size: number) => ConfigError): Buffer {
  const fd = openSync(path, 'r')
  try {
    const stat = fstatSync(fd)
    if (stat.size > limit) throw tooLarge(stat.size)
    const chunks: Buffer[] = []
    let length = 0
    while (length <= limit) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, limit + 1 - length))
      const read = readSync(fd, chunk, 0, chunk.length, null)
      if (read === 0) return Buffer.concat(chunks, length)
      chunks.push(chunk.subarray(0, read))
      length += read
    }
    throw tooLarge(stat.isFile() ? Math.max(fstatSync(fd).size, length) : Number.POSITIVE_INFINITY)
  } finally {
    closeSync(fd)
  }
}
