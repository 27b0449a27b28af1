import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {KubeObject} from './objects.js'

/** Multi-document YAML, one document per object, in the given order. Deterministic. */
export async function toYaml(objects: KubeObject[]): Promise<string> {
  const {stringify} = await import('yaml')
  return objects.map((o) => stringify(o, {lineWidth: 0, aliasDuplicateObjects: false})).join('---\n')
}

/** Writes one file per object into `dir` (NNN-kind-name.yaml, in apply order); returns the paths. */
export async function writeObjects(dir: string, objects: KubeObject[]): Promise<string[]> {
  const {stringify} = await import('yaml')
  mkdirSync(dir, {recursive: true})
  const width = String(objects.length).length
  return objects.map((o, i) => {
    const file = join(dir, `${String(i + 1).padStart(Math.max(3, width), '0')}-${o.kind.toLowerCase()}-${o.metadata.name}.yaml`)
    writeFileSync(file, stringify(o, {lineWidth: 0, aliasDuplicateObjects: false}))
    return file
  })
}
