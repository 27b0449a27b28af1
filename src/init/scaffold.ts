import {existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {basename, dirname, join, relative, resolve} from 'node:path'

import {UserError} from '../errors.js'
import {ensureWritableFolder, fileInTheWay, fileInTheWayError, writeError} from '../folders.js'
import {templatesDir} from '../paths.js'
import {PIPELINE_FILES, pipelinePlan, type PipelineSystem, pipelineText} from './pipeline.js'

export interface InitResult {
  app: string
  written: string[]
  skipped: string[]
  /** With --ci: the pipeline file, and the environments it deploys on main and on a tag (one of them may be absent). */
  pipeline?: {system: PipelineSystem; file: string; staging?: string; prod?: string}
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

/**
 * `skycap init`: writes the scaffold from templates/init into `dir`, and with `ci` the pipeline of that CI system
 * (templates/ci). Never overwrites a file. In an app that has a skycap.yaml already, `ci` adds only the pipeline.
 */
export function scaffold(dir: string, app?: string, ci?: PipelineSystem): InitResult {
  const target = resolve(dir)
  const configFile = join(target, 'skycap.yaml')
  const existing = existsSync(configFile)
  if (existing && !ci) {
    throw new UserError(`${configFile} already exists; nothing was written`, {hint: 'Edit it, or run `skycap config validate` to check it; `skycap init --ci github` adds a pipeline.'})
  }
  const name = existing ? (app ?? appNameFrom(basename(target))) : checkedName(app ?? appNameFrom(basename(target)))
  const source = join(templatesDir, 'init')
  const files: Array<{rel: string; dest: string; text: () => string}> = existing
    ? []
    : walk(source).map((file) => {
        const rel = relative(source, file)
        return {rel, dest: join(target, rel), text: () => (rel === 'skycap.yaml' ? readFileSync(file, 'utf8').replaceAll('__APP__', name) : readFileSync(file, 'utf8'))}
      })
  let pipeline: InitResult['pipeline']
  if (ci) {
    const {template, path} = PIPELINE_FILES[ci]
    const plan = pipelinePlan(existing ? readFileSync(configFile, 'utf8') : undefined)
    pipeline = {system: ci, file: path, ...(plan.staging ? {staging: plan.staging} : {}), ...(plan.prod ? {prod: plan.prod} : {})}
    files.push({rel: path, dest: join(target, path), text: () => pipelineText(readFileSync(join(templatesDir, 'ci', template), 'utf8'), plan)})
  }
  // A file where init needs a folder (--dir itself, or e.g. config/) is refused before anything is written.
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
  const skipped: string[] = existing ? ['skycap.yaml'] : []
  for (const {rel, dest, text} of files) {
    if (existsSync(dest)) {
      skipped.push(rel)
      continue
    }
    ensureWritableFolder(dirname(dest), '--dir')
    try {
      writeFileSync(dest, text(), {flag: 'wx'})
    } catch (error) {
      throw writeError(error, '--dir', dir)
    }
    written.push(rel)
  }
  return {app: name, written, skipped, ...(pipeline ? {pipeline} : {})}
}

/** What `init --ci` says about the pipeline it wrote: which environment deploys when, and what to set up. */
export function pipelineMessage(pipeline: NonNullable<InitResult['pipeline']>): string {
  const {staging, prod, system, file} = pipeline
  const approval = system === 'github' ? `after an approval: give the ${prod} environment required reviewers` : 'or by hand: when: manual'
  const onTag = prod ? `${prod} on a tag (${approval})` : ''
  const deploys =
    staging && prod
      ? `${staging} on main and ${onTag}`
      : staging
        ? `${staging} on main (skycap.yaml has no protected environment to deploy on a tag)`
        : `${onTag}; nothing on main (skycap.yaml has no unprotected environment)`
  return `The pipeline deploys ${deploys}; set its secrets as the comments at the top of ${file} say.`
}

function checkedName(name: string): string {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) {
    throw new UserError(`"${name}" is not a valid app name`, {hint: "Use a DNS label: lowercase letters, digits and '-', e.g. --app shop."})
  }
  return name
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => {
      const full = join(dir, f)
      return statSync(full).isDirectory() ? walk(full) : [full]
    })
}
