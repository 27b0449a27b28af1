/**
 * A cache of skycap.yaml as read: loading the YAML library, parsing and validating take about 20 ms of every
 * command's start, for a file that rarely changes between two runs. The cache keeps the validated config, its warnings
 * and the line of every key, keyed by the file's path and exact text, the repository root it was checked against,
 * and the build of skycap that read it; anything else is a miss, and a miss reads the file as before. Only a file
 * that passed is kept, so every error is still found by reading the file itself; the checks that depend on other
 * files (config folders, templates, build contexts) run again on every hit (`verify`), and any change there is a miss.
 *
 * Where: $XDG_CACHE_HOME/skycap/config/ (else ~/.cache/skycap/config/), one file per skycap.yaml path, at most
 * MAX_ENTRIES of them. SKYCAP_NO_CONFIG_CACHE=1 turns it off. Nothing here may fail a command: an unreadable,
 * unwritable or damaged cache is a miss.
 */
import {existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {homeFolder} from '../paths.js'
import {dirname, isAbsolute, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {isDeepStrictEqual} from 'node:util'

import {makeFolders} from '../folders.js'
import type {ConfigWarning, LoadedConfig, SkycapConfig} from './types.js'

const FORMAT = 1
/** Files with more keys than this are not kept (the table of lines grows with them; reading them is the slow case anyway). */
const MAX_PATHS = 20_000
/** Entries kept (one per skycap.yaml path); beyond it the least recently written go. */
const MAX_ENTRIES = 200

interface Entry {
  format: number
  stamp: string
  file: string
  text: string
  /** The repository root templates and config folders were confined to; null: not checked (no repository opened). */
  root: string | null
  config: SkycapConfig
  /** Warnings as found; their `file` is put back as this run shows it. */
  warnings: ConfigWarning[]
  /** Where each key path of the config is (`locate` of every path the config has), by JSON.stringify(path). */
  locations: Record<string, [number, number]>
}

/** What a hit gives back: everything `parseConfig` would have, for a file it would accept. */
export interface CachedConfig {
  config: SkycapConfig
  warnings: ConfigWarning[]
  locate: LoadedConfig['locate']
}

/** The cache file of skycap.yaml `file`; undefined when caching is off. */
function cacheFile(file: string): string | undefined {
  if (process.env.SKYCAP_NO_CONFIG_CACHE) return undefined
  const base = process.env.XDG_CACHE_HOME || join(homeFolder(), '.cache')
  // A relative folder would be the one skycap runs in.
  if (!isAbsolute(base)) return undefined
  return join(base, 'skycap', 'config', `${fnv1a(resolve(file))}.json`)
}

/**
 * The build of skycap: the files that decide what parsing yields (this loader's, its template check's and the
 * generated validator's, all rewritten by every `npm run build`), by size and modification time.
 */
function stamp(): string {
  const parts: string[] = [String(FORMAT)]
  for (const url of [new URL('load.js', import.meta.url), new URL('templated.js', import.meta.url), new URL('validator.generated.js', import.meta.url)]) {
    const s = statSync(fileURLToPath(url))
    parts.push(`${s.size}:${s.mtimeMs}`)
  }
  return parts.join('|')
}

/**
 * The cached read of `file` when its text is `text`, it was checked against `root`, this build wrote it, and `verify`
 * (the checks on other files) still passes for its config; undefined otherwise.
 */
export function readConfigCache(file: string, text: string, root: string | null, shown: string, verify: (config: SkycapConfig) => boolean): CachedConfig | undefined {
  const path = cacheFile(file)
  if (path === undefined) return undefined
  try {
    if (!existsSync(path)) return undefined
    if (!ownOnly(dirname(path)) || !ownOnly(path)) return undefined
    const entry = JSON.parse(readFileSync(path, 'utf8')) as Entry
    if (entry.format !== FORMAT || entry.file !== resolve(file) || entry.text !== text || entry.root !== root || entry.stamp !== stamp()) return undefined
    if (!verify(entry.config)) return undefined
    const locations = new Map(Object.entries(entry.locations))
    const locate = (path: readonly (string | number)[]) => {
      // The path itself, else (a key the file lacks) the nearest part of it the file has, as parseConfig's locate.
      for (let n = path.length; n >= 0; n--) {
        const at = locations.get(JSON.stringify(path.slice(0, n)))
        if (at) return {line: at[0], column: at[1]}
      }
      return undefined
    }
    return {config: entry.config, warnings: entry.warnings.map((w) => ({...w, file: shown})), locate}
  } catch {
    return undefined
  }
}

/** Keeps what `parseConfig` read from `file` (with `text`, checked against `root`). */
export function writeConfigCache(file: string, text: string, root: string | null, loaded: LoadedConfig): void {
  const path = cacheFile(file)
  if (path === undefined) return
  try {
    const locations: Record<string, [number, number]> = {}
    let count = 0
    const visit = (value: unknown, at: (string | number)[]): boolean => {
      if (++count > MAX_PATHS) return false
      const pos = loaded.locate(at)
      if (pos) locations[JSON.stringify(at)] = [pos.line, pos.column]
      if (Array.isArray(value)) return value.every((v, i) => visit(v, [...at, i]))
      if (typeof value === 'object' && value !== null) return Object.entries(value).every(([k, v]) => visit(v, [...at, k]))
      return true
    }
    if (!visit(loaded.config, [])) return
    const entry: Entry = {format: FORMAT, stamp: stamp(), file: resolve(file), text, root, config: loaded.config, warnings: loaded.warnings, locations}
    const json = JSON.stringify(entry)
    // Only what JSON gives back unchanged is kept (YAML's .inf or .nan in a value would come back as null).
    const back = JSON.parse(json) as Entry
    if (!isDeepStrictEqual(back.config, loaded.config) || !isDeepStrictEqual(back.warnings, loaded.warnings)) return
    // The user's own: another user who could write here could make skycap read another config.
    makeFolders(dirname(path), 0o700)
    // A folder someone else made (a shared XDG_CACHE_HOME) is not written to: the reader would not trust it anyway.
    if (!ownOnly(dirname(path))) return
    prune(dirname(path))
    // Written aside and renamed: a reader never sees half a file.
    const temp = `${path}.${process.pid}.tmp`
    writeFileSync(temp, json, {mode: 0o600})
    renameSync(temp, path)
  } catch {
    // A cache that cannot be written is a cache that misses.
  }
}

/**
 * Whether `path` belongs to the user running skycap and no one else may write to it. An entry is trusted as the
 * parsed skycap.yaml (hooks' commands included), so one another user could write, in a shared XDG_CACHE_HOME such as
 * /tmp, would let that user choose what skycap runs.
 */
function ownOnly(path: string): boolean {
  const stat = statSync(path)
  const uid = process.geteuid?.()
  return (uid === undefined || stat.uid === uid) && (stat.mode & 0o022) === 0
}

/** Removes the least recently written entries beyond MAX_ENTRIES (every temporary checkout adds one). */
function prune(folder: string): void {
  const names = readdirSync(folder).filter((n) => n.endsWith('.json'))
  if (names.length < MAX_ENTRIES) return
  const byAge = names.map((n) => ({n, at: statSync(join(folder, n)).mtimeMs})).sort((a, b) => a.at - b.at)
  for (const {n} of byAge.slice(0, names.length - MAX_ENTRIES + 1 + MAX_ENTRIES / 4)) rmSync(join(folder, n), {force: true})
}

/** FNV-1a, 32 bits, in hex: a file name for a path (node:crypto costs milliseconds to load; nothing here is secret). */
function fnv1a(text: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h.toString(16).padStart(8, '0')
}
