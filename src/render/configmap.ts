import {createHash} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {join, resolve} from 'node:path'

import {displayPath} from '../config/load.js'
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

const KEY = /^[-._a-zA-Z0-9]+$/
const MAX_BYTES = 1024 * 1024

/**
 * Reads every regular, non-hidden file of `folder`, then lets `overrideFolder` (if it exists) replace or add keys.
 * Text that is valid UTF-8 goes to data, anything else to binaryData (base64). `show` turns paths into what messages print.
 */
export function readConfigFiles(folder: string, overrideFolder: string | undefined, shownFile: string, show: (path: string) => string = displayPath): ConfigFiles {
  const files = new Map<string, Buffer>()
  for (const dir of [folder, overrideFolder]) {
    if (dir === undefined || !existsSync(dir)) continue
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.')) continue
      const full = join(dir, name)
      if (!statSync(full).isFile()) continue
      if (!KEY.test(name)) {
        throw new ConfigError(`config file "${show(full)}" cannot be a ConfigMap key (allowed: letters, digits, '-', '_', '.')`, {file: shownFile}, {hint: 'Rename the file.'})
      }
      files.set(name, readFileSync(full))
    }
  }
  const data: Record<string, string> = {}
  const binaryData: Record<string, string> = {}
  const hash = createHash('sha256')
  let size = 0
  for (const name of [...files.keys()].sort()) {
    const content = files.get(name) as Buffer
    size += content.length
    hash.update(name).update('\0').update(content).update('\0')
    const text = content.toString('utf8')
    if (Buffer.from(text, 'utf8').equals(content)) data[name] = text
    else binaryData[name] = content.toString('base64')
  }
  if (size > MAX_BYTES) {
    throw new ConfigError(`config folder ${show(resolve(folder))} holds ${size} bytes; a ConfigMap holds at most 1 MiB`, {file: shownFile}, {hint: 'Move large files into the image or a volume.'})
  }
  return {data, binaryData, hash: hash.digest('hex').slice(0, 10)}
}
