import {normalize, relative} from 'node:path'

import {resolveEnvironment} from '../config/environment.js'
import {loadConfig} from '../config/load.js'
import type {ConfigWarning, Environment, LoadedConfig} from '../config/types.js'
import {UserError} from '../errors.js'
import {changedSince, parseTarget, resolveRevision} from '../git/revision.js'
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

/** What a render reads besides the images: skycap.yaml, the templates folder and every config folder. */
function deployInputs(loaded: LoadedConfig, env: Environment): string[] {
  const paths = [relative(loaded.dir, loaded.file), loaded.config.templates ?? 'deploy']
  for (const svc of Object.values(env.services)) if (svc.config !== undefined) paths.push(svc.config)
  if (env.config !== undefined) paths.push(env.config)
  return [...new Set(paths.map((p) => normalize(p)))]
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
  // The manifests come from the work tree, the images from REV. For an older REV they may not match: skycap.yaml,
  // templates or config files may have changed since. Protected environments refuse that mix (deploy); others warn.
  if (!revision.atHead) {
    const changed = await changedSince(loaded.dir, revision.sha, deployInputs(loaded, env))
    if (changed.length) {
      const files = `${changed.slice(0, 5).join(', ')}${changed.length > 5 ? ` and ${changed.length - 5} more` : ''}`
      if (env.protected && options.refuseDirtyProtected) {
        throw new UserError(`${files} changed since ${revision.short}, and ${env.name} is protected: the manifests would not be those of ${revision.short}`, {
          hint: `Check out the revision (git switch --detach ${revision.short}) and deploy from there, or use \`skycap rollback ${env.name} --to ${revision.short}\` for a recorded release.`,
          details: {revision: revision.sha, changed},
        })
      }
      warnings.push({message: `${files} changed since ${revision.short}: the manifests are rendered from the work tree, the images are those of ${revision.short}`, file: loaded.file})
    }
  }
  const result = await renderEnvironment(loaded, env, revision, {services: options.services})
  return {...result, loaded, warnings}
}
