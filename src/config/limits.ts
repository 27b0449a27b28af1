import {readFileSync, statSync} from 'node:fs'

import {ConfigError, type SourceLocation} from '../errors.js'

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

/** The ceiling on a service's replicas in an environment that sets no `maxReplicas`. */
export const DEFAULT_MAX_REPLICAS = 1000

/** Kubernetes stores replica counts, ports' neighbours and probe numbers as int32. */
export const INT32_MAX = 2_147_483_647

/** A byte count as people read it: "1.5 MiB (1572864 bytes)". */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = ''
  for (const u of units) {
    if (value < 1024) break
    value /= 1024
    unit = u
  }
  return unit ? `${Number(value.toFixed(1))} ${unit} (${bytes} bytes)` : `${bytes} bytes`
}

/** The ConfigError for `subject` (e.g. "template deploy/x.yaml") of `size` bytes, over `limit`. */
export function tooLargeError(subject: string, size: number, limit: number, hint: string, location?: SourceLocation): ConfigError {
  return new ConfigError(`${subject} is ${formatBytes(size)}; the limit is ${formatBytes(limit)}`, location, {hint, details: {size, limit}})
}

/**
 * Reads `path` after checking with a stat that it holds at most `limit` bytes (and again after reading, in case it
 * grew). Errors other than the size are left to the caller.
 */
export function readWithinLimit(path: string, limit: number, tooLarge: (size: number) => ConfigError): Buffer {
  const before = statSync(path).size
  if (before > limit) throw tooLarge(before)
  const content = readFileSync(path)
  if (content.length > limit) throw tooLarge(content.length)
  return content
}
