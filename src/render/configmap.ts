import {createHash} from 'node:crypto'
import {existsSync, readdirSync, statSync} from 'node:fs'
import {join, resolve} from 'node:path'

import {checkLink, isSymbolicLink, resolvesOutside} from '../config/confinement.js'
import {CONFIG_KEY, CONFIG_KEY_RULE, LIMITS, readWithinLimit, tooLargeError} from '../config/limits.js'
import {ConfigError} from '../errors.js'

/** Where the service's ConfigMap is mounted in its container (read-only). */
export const CONFIG_MOUNT_PATH = '/etc/skycap/config'

/** The keys of a service's ConfigMap, read from its config folder and the environment's override folder. */
export interface ConfigFiles {
  data: Record<string, string>
  binaryData: Record<string, string>
  /** Content hash (10 hex digits); part of the ConfigMap's name so a change rolls the pods. */
  hash: string
}

/** Where config folders are read from: the repository they must stay inside, and how messages show paths. */
export interface ConfigSource {
  root: string
  shownFile: string
  show: (path: string) => string
}

/**
 * Reads every regular, non-hidden file of `folder`, then lets `overrideFolder` (if it exists) replace or add keys.
 * Text that is valid UTF-8 goes to data, anything else to binaryData (base64). Folders and links must resolve inside
 * `source.root`; sizes are checked with a stat before any file is read.
 */
export function readConfigFiles(folder: string, overrideFolder: string | undefined, source: ConfigSource): ConfigFiles {
  const {root, shownFile, show} = source
  const shownRoot = show(root)
  const paths = new Map<string, string>()
  for (const dir of [folder, overrideFolder]) {
    if (dir === undefined) continue
    // The override folder (<env config>/<service>) may be missing; a link to nowhere there is a mistake, not "none".
    if (!existsSync(dir)) {
      if (dir === overrideFolder && isSymbolicLink(dir)) checkLink(root, dir, show(dir), shownRoot)
      continue
    }
    const outside = resolvesOutside(root, dir)
    if (outside !== undefined) {
      throw new ConfigError(`config folder ${show(dir)} resolves to ${outside}, outside the repository ${shownRoot}`, {file: shownFile}, {hint: 'Keep config folders inside the repository.'})
    }
    if (!statSync(dir).isDirectory()) {
      // It was readdir's ENOTDIR, exit 1. skycap.yaml's checks make sure the service's own folder is one.
      throw new ConfigError(
        `is a file, not a folder: an environment's config folder holds a folder per service, whose files replace or add that service's keys`,
        {file: show(dir)},
        {
          hint: `Move it into the folder ${show(dir)}/ (each file a key), or remove it.`,
        },
      )
    }
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.')) continue
      const full = join(dir, name)
      checkLink(root, full, show(full), shownRoot)
      if (!statSync(full).isFile()) continue
      if (!CONFIG_KEY.test(name)) {
        throw new ConfigError(`config file "${show(full)}" cannot be a ConfigMap key (${CONFIG_KEY_RULE})`, {file: shownFile}, {hint: 'Rename the file.'})
      }
      paths.set(name, full)
    }
  }
  const hint = 'Move large files into the image or a volume; a ConfigMap holds about 1 MiB.'
  // Every size first, from stat: nothing is read when the ConfigMap would be too large.
  let total = 0
  for (const [name, full] of paths) {
    const size = statSync(full).size
    if (size > LIMITS.configFile) throw tooLargeError(`config file ${show(full)}`, size, LIMITS.configFile, hint)
    total += name.length + size
  }
  if (total > LIMITS.configMap) throw folderTooLarge(folder, overrideFolder, total, show, hint)
  const data: Record<string, string> = {}
  const binaryData: Record<string, string> = {}
  const hash = createHash('sha256')
  let size = 0
  for (const name of [...paths.keys()].sort()) {
    const full = paths.get(name) as string
    const content = readWithinLimit(full, LIMITS.configFile, (n) => tooLargeError(`config file ${show(full)}`, n, LIMITS.configFile, hint))
    size += name.length + content.length
    hash.update(name).update('\0').update(content).update('\0')
    const text = content.toString('utf8')
    if (Buffer.from(text, 'utf8').equals(content)) data[name] = text
    else binaryData[name] = content.toString('base64')
  }
  // Files can grow between the stat and the read.
  if (size > LIMITS.configMap) throw folderTooLarge(folder, overrideFolder, size, show, hint)
  return {data, binaryData, hash: hash.digest('hex').slice(0, 10)}
}

function folderTooLarge(folder: string, overrideFolder: string | undefined, size: number, show: (path: string) => string, hint: string): ConfigError {
  const shown = show(resolve(folder))
  const what = overrideFolder !== undefined && existsSync(overrideFolder) ? `config folder ${shown} with ${show(overrideFolder)}` : `config folder ${shown}`
  return tooLargeError(`the ConfigMap of ${what} (file names and contents)`, size, LIMITS.configMap, hint)
}
