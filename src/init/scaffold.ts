import {existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {basename, dirname, join, relative, resolve} from 'node:path'

import {UserError} from '../errors.js'
import {ensureWritableFolder, fileInTheWay, fileInTheWayError, writeError} from '../folders.js'
import {templatesDir} from '../paths.js'

export interface InitResult {
  app: string
  written: string[]
  skipped: string[]
}

/** A DNS label made from a folder name: "My_Shop" -> "my-shop". */
export function appNameFrom(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '')
  return name || 'app'
}

/** `skycap init`: writes the scaffold from templates/init into `dir`. Never overwrites a file. */
export function scaffold(dir: string, app?: string): InitResult {
  const target = resolve(dir)
  const name = app ?? appNameFrom(basename(target))
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) {
    throw new UserError(`"${name}" is not a valid app name`, {hint: "Use a DNS label: lowercase letters, digits and '-', e.g. --app shop."})
  }
  if (existsSync(join(target, 'skycap.yaml'))) {
    throw new UserError(`${join(target, 'skycap.yaml')} already exists; nothing was written`, {hint: 'Edit it, or run `skycap config validate` to check it.'})
  }
  const source = join(templatesDir, 'init')
  const files = walk(source).map((file) => ({file, rel: relative(source, file), dest: join(target, relative(source, file))}))
  // A file where the scaffold needs a folder (--dir itself, or e.g. config/) is refused before anything is written.
  for (const folder of new Set([target, ...files.map((f) => dirname(f.dest))])) {
    let blocker: string | undefined
    try {
      blocker = fileInTheWay(folder)
    } catch (error) {
      throw writeError(error, '--dir', dir)
    }
    if (blocker) throw fileInTheWayError('--dir', dir, blocker)
  }
  ensureWritableFolder(dir, '--dir')
  const written: string[] = []
  const skipped: string[] = []
  for (const {file, rel, dest} of files) {
    if (existsSync(dest)) {
      skipped.push(rel)
      continue
    }
    ensureWritableFolder(dirname(dest), '--dir')
    const text = readFileSync(file, 'utf8')
    try {
      writeFileSync(dest, rel === 'skycap.yaml' ? text.replaceAll('__APP__', name) : text, {flag: 'wx'})
    } catch (error) {
      throw writeError(error, '--dir', dir)
    }
    written.push(rel)
  }
  return {app: name, written, skipped}
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => {
      const full = join(dir, f)
      return statSync(full).isDirectory() ? walk(full) : [full]
    })
}
