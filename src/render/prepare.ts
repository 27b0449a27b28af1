import {resolveEnvironment} from '../config/environment.js'
import {loadConfig} from '../config/load.js'
import type {ConfigWarning, LoadedConfig} from '../config/types.js'
import {UserError} from '../errors.js'
import {parseTarget, resolveRevision} from '../git/revision.js'
import {renderEnvironment, type RenderResult} from './render.js'

export interface PrepareOptions {
  /** `ENV[@REV]` as typed. */
  target?: string
  configPath?: string
  cwd?: string
  services?: string[]
  /** Refuse a dirty tree at HEAD for protected environments (deploy); render and diff only warn. */
  refuseDirtyProtected?: boolean
}

/** A rendered release, ready to validate, diff or apply. */
export interface PreparedRelease extends RenderResult {
  loaded: LoadedConfig
  warnings: ConfigWarning[]
}

/** Config → environment → revision → rendered objects: the validate phase shared by render, diff and deploy. */
export async function prepareRelease(options: PrepareOptions): Promise<PreparedRelease> {
  const loaded = await loadConfig({configPath: options.configPath, cwd: options.cwd})
  const target = parseTarget(options.target, loaded.config.defaultEnvironment)
  const env = resolveEnvironment(loaded, target.environment)
  const revision = await resolveRevision(loaded.dir, target.revision)
  const warnings = [...loaded.warnings]
  if (revision.dirty) {
    if (env.protected && options.refuseDirtyProtected) {
      throw new UserError(`the work tree has uncommitted changes and ${env.name} is protected`, {
        hint: `No image exists for uncommitted code: commit and push, let CI build ${revision.short}..., then deploy ${env.name}@<sha>.`,
      })
    }
    warnings.push({message: `the work tree has uncommitted changes; ${revision.short} images were built from the last commit, not from them`, file: loaded.file})
  }
  const result = await renderEnvironment(loaded, env, revision, {services: options.services})
  return {...result, loaded, warnings}
}
