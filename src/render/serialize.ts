import {chmodSync, lstatSync, readdirSync, type Stats, unlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {UserError} from '../errors.js'
import {ensureWritableFolder, writeError} from '../folders.js'
import type {KubeObject} from './objects.js'

/** Multi-document YAML, one document per object, in the given order. Deterministic. */
export async function toYaml(objects: KubeObject[]): Promise<string> {
  const {stringify} = await import('yaml')
  return objects.map((o) => stringify(o, {lineWidth: 0, aliasDuplicateObjects: false})).join('---\n')
}

/** The names writeObjects gives files: NNN-kind-name.yaml (NNN: apply order, 3 digits or more). */
export const OBJECT_FILE_PATTERN = /^\d{3,}-[a-z0-9]+-[a-z0-9][a-z0-9.-]*\.yaml$/

/** Mode of the file of a Secret (its values are in it); other objects' files get the umask's. */
export const SECRET_FILE_MODE = 0o600

/** What writeObjects did: the files it wrote and the stale files of an earlier render it removed. */
export interface WrittenObjects {
  files: string[]
  removed: string[]
}

/**
 * Writes one file per object into `dir` (NNN-kind-name.yaml, in apply order), creating it if missing. Files of an
 * earlier render (names matching OBJECT_FILE_PATTERN) that this render does not write are removed first, so
 * `kubectl apply -f dir` sees only this render; any other file is left alone. A Secret's file is SECRET_FILE_MODE.
 */
export async function writeObjects(dir: string, objects: KubeObject[], flag = '--output-dir'): Promise<WrittenObjects> {
  const {stringify} = await import('yaml')
  const width = Math.max(3, String(objects.length).length)
  const documents = objects.map((o, i) => ({
    name: `${String(i + 1).padStart(width, '0')}-${o.kind.toLowerCase()}-${o.metadata.name}.yaml`,
    text: stringify(o, {lineWidth: 0, aliasDuplicateObjects: false}),
    secret: o.kind === 'Secret',
  }))
  ensureWritableFolder(dir, flag)
  const names = new Set(documents.map((d) => d.name))
  // Before anything is removed or written: a folder where a file goes failed half-way (EISDIR), and a link was
  // written through to wherever it points.
  for (const {name} of documents) {
    const stat = lstatIfExists(join(dir, name))
    if (stat === undefined || stat.isFile()) continue
    throw new UserError(
      `${flag} ${dir}: ${name} is ${stat.isDirectory() ? 'a folder' : stat.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}, where skycap writes an object's file; nothing was written`,
      {
        hint: `Move ${join(dir, name)} away, or pass another folder.`,
        details: {path: dir, file: join(dir, name)},
      },
    )
  }
  try {
    const stale = readdirSync(dir, {withFileTypes: true}).filter((e) => e.isFile() && OBJECT_FILE_PATTERN.test(e.name) && !names.has(e.name))
    const removed = stale.map((e) => join(dir, e.name)).sort()
    for (const file of removed) unlinkSync(file)
    const files = documents.map((d) => {
      const file = join(dir, d.name)
      if (d.secret) {
        // A Secret's file holds its values: readable by its owner only, as ~/.kube/config is. chmod first, so a
        // file of an earlier render (writeFileSync's mode applies only to a new file) never holds them world-readable.
        if (lstatIfExists(file)) chmodSync(file, SECRET_FILE_MODE)
        writeFileSync(file, d.text, {mode: SECRET_FILE_MODE})
      } else writeFileSync(file, d.text)
      return file
    })
    return {files, removed}
  } catch (error) {
    throw writeError(error, flag, dir)
  }
}

function lstatIfExists(path: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch {
    return undefined
  }
}
