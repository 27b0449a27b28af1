import {existsSync, realpathSync, rmSync} from 'node:fs'
import {basename, dirname, isAbsolute, join, posix, relative, sep} from 'node:path'

import {resolveEnvironment, unknownServiceError} from '../config/environment.js'
import {configFilePath, displayPath, loadConfig, namedFolders, openRepository, parseConfig, readSkycapYaml, refuseLinkOutside} from '../config/load.js'
import type {ConfigWarning, Environment, LoadedConfig} from '../config/types.js'
import {ConfigError, InterruptedError, UserError} from '../errors.js'
import {temporaryFolder} from '../folders.js'
import {onUpContext} from '../local/state.js'
import {parseTarget, targetRevision} from '../vcs/target.js'
import type {Revision, Vcs} from '../vcs/vcs.js'
import {renderEnvironment, type RenderResult} from './render.js'

export interface PrepareOptions {
  /** `ENV[@REV]` as typed. */
  target?: string
  configPath?: string
  cwd?: string
  services?: string[]
  /** Refuse a dirty tree at HEAD for protected environments (deploy); render and diff only warn. */
  refuseDirtyProtected?: boolean
  /** Images built from the work tree, by service (skycap up): they replace the revision's, so a dirty tree is no warning. */
  images?: Record<string, string>
  /**
   * Aborted by Ctrl-C: an older revision's extraction stops at its next step and its temporary folder is removed (the
   * command must catch the signal for that: killed by it, no `finally` runs).
   */
  signal?: AbortSignal
}

/** A rendered release, ready to validate, diff or apply. */
export interface PreparedRelease extends RenderResult {
  /** The config as read; for an older revision its `file` and `dir` were in a temporary folder that is gone. */
  loaded: LoadedConfig
  warnings: ConfigWarning[]
  /** The repository the revision was resolved in (diff lists the commits between the running release and this one). */
  vcs?: Vcs
}

/**
 * Untracked files make the work tree dirty, as modified ones do (docs/vcs.md: `git status --porcelain`, `hg status
 * -mardu`): at HEAD they may be templates or config files that would be rendered, or code the images lack.
 */
export const UNTRACKED_COUNT = 'Untracked files count (git status and hg status list them): commit, delete or ignore them (.gitignore, .hgignore).'

/** Where the temporary copies of an older revision's files go (os.tmpdir()/skycap-rev-XXXXXX). */
export const REVISION_FOLDER_PREFIX = 'skycap-rev-'

/**
 * Config → environment → revision → rendered objects: the validate phase shared by render, diff and deploy.
 * At HEAD, skycap.yaml, the templates and the config files are read from the work tree; at an older revision from
 * the commit (copied into a temporary folder that is removed before this returns), so the manifests are the
 * revision's own.
 */
export async function prepareRelease(options: PrepareOptions): Promise<PreparedRelease> {
  const file = configFilePath({configPath: options.configPath, cwd: options.cwd})
  if (!existsSync(dirname(file))) throw new ConfigError(`cannot read ${file}: its folder does not exist`, undefined, {hint: 'Check the path given to --config.'})
  const vcs = await openRepository(file)
  const revision = await vcs.resolve(targetRevision(options.target))
  const prepared = revision.atHead ? await prepareFromWorkTree(file, revision, options, vcs.root) : await prepareFromRevision(file, revision, options, vcs)
  // deploy, diff and run of the derived `local` go to the cluster up used, as status and logs do (they went to the
  // kubeconfig's current context, which may be another by then).
  return {...prepared, environment: onUpContext(prepared.environment, file), vcs}
}

/**
 * Everything from the work tree of the repository at `root` (opened once, by the caller). `untracked`: REV is not
 * the work tree's, but the repository (`untracked`: git or Mercurial) does not track skycap.yaml, so REV has no
 * skycap.yaml to read: the work tree's is used with a warning, and a protected deploy refuses that mix.
 */
async function prepareFromWorkTree(file: string, revision: Revision, options: PrepareOptions, root: string, untracked?: Vcs['kind']): Promise<PreparedRelease> {
  const loaded = await loadConfig({configPath: file, root, configGiven: options.configPath !== undefined})
  const env = environmentOf(loaded, options.target)
  const shown = loaded.show(loaded.file)
  const warnings = [...loaded.warnings]
  if (untracked) {
    const message = `${shown} is not tracked by ${untracked === 'hg' ? 'Mercurial' : untracked}, so ${revision.short} has no skycap.yaml: the manifests are rendered from the work tree, the images are those of ${revision.short}`
    if (env.protected && options.refuseDirtyProtected) {
      throw new UserError(`${message}; ${env.name} is protected`, {
        hint: `Commit ${shown} (and the templates and config folders) so revisions carry them, or use \`skycap rollback ${env.name} --to ${revision.short}\` for a recorded release.`,
        details: {revision: revision.sha, file: shown},
      })
    }
    warnings.push({message, file: shown})
  }
  if (revision.dirty && !options.images) {
    if (env.protected && options.refuseDirtyProtected) {
      throw new UserError(`the work tree has uncommitted changes and ${env.name} is protected`, {
        hint: `No image exists for uncommitted code: commit and push, let CI build the new commit, then deploy ${env.name}@<its sha> (${revision.short} is the commit before your changes). ${UNTRACKED_COUNT}`,
      })
    }
    // About the work tree, not skycap.yaml: no file (the warning was shown as "skycap.yaml: …").
    warnings.push({
      message: `the work tree has uncommitted changes (untracked files count): its skycap.yaml, templates and config files are used as they are, with the images of ${revision.short} (built from the last commit, not from the changes)`,
    })
  }
  // ENV@HEAD (run --rev HEAD): a service the work tree lacks is said to be missing at that revision, as at any other
  // (the release deployed may still have it; a plain `skycap run` would take it from there).
  const missing = !untracked && targetRevision(options.target) !== undefined ? options.services?.find((name) => !env.services[name]) : undefined
  if (missing !== undefined) throw unknownServiceError(loaded, missing, undefined, undefined, `${revisionShown(revision)}${revision.dirty ? ' with uncommitted changes' : ''}`)
  const result = await renderEnvironment(loaded, env, revision, {services: options.services, images: options.images})
  return {...result, loaded, warnings: [...warnings, ...result.warnings]}
}

/** A revision as a message names it: its short id, and what was typed when that was not a prefix of the id. */
function revisionShown(revision: Revision): string {
  return revision.sha.startsWith(revision.input) ? revision.short : `${revision.short} (${revision.input})`
}

async function prepareFromRevision(file: string, revision: Revision, options: PrepareOptions, vcs: Vcs): Promise<PreparedRelease> {
  const root = vcs.root
  const userDir = dirname(file)
  // git and hg name paths from the repository root with forward slashes; realpath because they resolved the root's links.
  const configPath = relative(root, join(realpathSync(userDir), basename(file)))
    .split(sep)
    .join(posix.sep)
  const folder = temporaryFolder(REVISION_FOLDER_PREFIX)
  const revFile = join(folder, configPath)
  const revDir = dirname(revFile)
  // Messages name a file as it lies in the work tree, marked with the revision: never the temporary folder.
  const show = (path: string): string => {
    const inFolder = relative(folder, path)
    return inFolder.startsWith('..') || isAbsolute(inFolder) ? displayPath(path) : `${displayPath(join(userDir, relative(revDir, path)))} (at ${revision.short})`
  }
  const stopIfInterrupted = () => {
    if (options.signal?.aborted) throw new InterruptedError(`interrupted while reading ${revision.short}'s files; nothing was rendered`)
  }
  try {
    await vcs.extract(revision.sha, [configPath], folder)
    stopIfInterrupted()
    if (!existsSync(revFile)) {
      if (await vcs.isTracked(configPath)) {
        throw new UserError(`${displayPath(file)} does not exist at ${revision.short} (${revision.input}): skycap cannot render that revision`, {
          hint: `Deploy a revision that has ${basename(file)}, or one recorded earlier with \`skycap rollback\`.`,
          details: {revision: revision.sha, file: displayPath(file)},
        })
      }
      return await prepareFromWorkTree(file, revision, options, vcs.root, vcs.kind)
    }
    refuseLinkOutside(revFile, folder, show)
    const text = readSkycapYaml(revFile, show(revFile))
    await vcs.extract(revision.sha, await inputFolders(text, posix.dirname(configPath), show(revFile), revision), folder)
    stopIfInterrupted()
    const loaded = await parseConfig(text, revFile, show, folder)
    const env = environmentOf(loaded, options.target)
    const missing = options.services?.find((name) => !env.services[name])
    if (missing !== undefined) {
      throw unknownServiceError(loaded, missing, undefined, undefined, revisionShown(revision))
    }
    const result = await renderEnvironment(loaded, env, revision, {services: options.services, images: options.images})
    return {...result, loaded, warnings: [...loaded.warnings, ...result.warnings]}
  } finally {
    rmSync(folder, {recursive: true, force: true})
  }
}

/** The environment `target` names (or skycap.yaml's default one). */
function environmentOf(loaded: LoadedConfig, target: string | undefined): Environment {
  return resolveEnvironment(loaded, parseTarget(target, loaded.config.defaultEnvironment, Object.keys(loaded.config.environments)).environment)
}

/**
 * The folders skycap.yaml's text names (templates, config folders), relative to the repository root, so they can be
 * copied from the revision before the config is validated (validation checks that they exist). Text that does not
 * parse names none; validation reports it. A folder outside the repository has no revision: an error.
 */
async function inputFolders(text: string, configDir: string, shownFile: string, revision: Revision): Promise<string[]> {
  const folders: string[] = []
  for (const [key, value] of await namedFolders(text)) {
    const inRepo = posix.normalize(posix.join(configDir, value.split(sep).join(posix.sep)))
    if (isAbsolute(value) || inRepo.startsWith('..')) {
      throw new UserError(`${shownFile}: ${key} "${value}" is outside the repository, so it cannot be read at ${revision.short}`, {
        hint: 'Keep templates and config folders inside the repository (relative to skycap.yaml), or deploy from a checkout of the revision.',
        details: {revision: revision.sha, key, folder: value},
      })
    }
    folders.push(inRepo)
  }
  return [...new Set(folders)]
}
