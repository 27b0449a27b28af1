import {existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync, writeFileSync} from 'node:fs'
import {basename, dirname, join, relative, resolve, sep} from 'node:path'

import {parse} from 'yaml'

import {isSymbolicLink} from '../config/confinement.js'
import {CONFIG_FILES} from '../config/load.js'
import {ConfigError, UserError} from '../errors.js'
import {ensureWritableFolder, fileInTheWay, fileInTheWayError, writeError} from '../folders.js'
import {templatesDir} from '../paths.js'
import {pipelineBranchOf} from '../vcs/git.js'
import {repositoryAround, repositoryRoot} from '../vcs/vcs.js'
import {appOf, PIPELINE_FILES, pipelinePlan, type PipelineSystem, pipelineText, unreadableEnvironments} from './pipeline.js'

export interface InitResult {
  app: string
  written: string[]
  skipped: string[]
  /** When init writes skycap.yaml: whether the folder has a Dockerfile, so web's `build:` line is active (else commented out). */
  dockerfile?: boolean
  /**
   * With --ci: the pipeline file, the environments it deploys on main and on a tag (one of them may be absent), and
   * whether it builds (a service of skycap.yaml has `build:`).
   */
  pipeline?: {system: PipelineSystem; file: string; staging?: string; prod?: string; build: boolean; branch?: string}
}

/** The scaffold's `build:` line for web, in place of `__BUILD__`: active when the folder has a Dockerfile (docs/build.md). */
const BUILD_LINES = {
  active: [
    "    # `skycap build` builds this folder's Dockerfile (context: the folder of skycap.yaml) and pushes the image as",
    '    # <registry>/web:<tag>; `skycap up` builds it for the local cluster. dockerfile, target, args: docs/build.md.',
    '    build: {context: .}',
  ],
  commented: [
    '    # Uncomment once this folder has a Dockerfile (or set context, relative to skycap.yaml, and dockerfile, relative',
    '    # to the context, to where one is): then `skycap build` builds it and pushes <registry>/web:<tag>, and',
    '    # `skycap up` builds it for the local cluster.',
    '    # build: {context: .}',
  ],
}

/** What init says when the skycap.yaml it wrote builds nothing. */
export const NO_DOCKERFILE_MESSAGE = 'web has no build: block (commented out in skycap.yaml): this folder has no Dockerfile, so `skycap build` has nothing to build until you add one and uncomment it.'

/** Whether `dir` has a regular file named exactly `Dockerfile` (not `dockerfile` on a case-insensitive disk). */
function hasDockerfile(dir: string): boolean {
  try {
    return readdirSync(dir).includes('Dockerfile') && statSync(join(dir, 'Dockerfile')).isFile()
  } catch {
    // No folder yet (init creates it), or a file in the way: refused below.
    return false
  }
}

/** `path` with its links resolved, also when it does not exist yet (init --dir creates it): its nearest existing folder's. */
function realPath(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    const parent = dirname(path)
    return parent === path ? path : join(realPath(parent), basename(path))
  }
}

/** A path as messages show it: relative to the current folder when it is inside it (as src/config/load.ts shows skycap.yaml). */
function shownPath(file: string): string {
  const rel = relative(process.cwd(), file)
  return rel && !rel.startsWith('..') ? rel : file
}

/**
 * The longest app name the scaffold takes: its staging namespace and the app.kubernetes.io/instance label are
 * `<app>-staging`, and Kubernetes allows 63 characters in each.
 */
const MAX_APP_NAME = 63 - '-staging'.length

/** A DNS label made from a folder name: "My_Shop" -> "my-shop". */
export function appNameFrom(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_APP_NAME)
    .replace(/-+$/, '')
  return name || 'app'
}

/** `name` as a YAML value that reads back as that string: `2024`, `true` or `null` quoted, or they were a number, a boolean, nothing. */
function yamlString(name: string): string {
  return parse(name) === name ? name : JSON.stringify(name)
}

/**
 * `skycap init`: writes the scaffold from templates/init into `dir`, and with `ci` the pipeline of that CI system
 * (templates/ci). Never overwrites a file. In an app that has a skycap.yaml already, `ci` adds only the pipeline.
 */
export function scaffold(dir: string, app?: string, ci?: PipelineSystem): InitResult {
  const target = resolve(dir)
  // skycap.yml counts as well: a skycap.yaml beside it would be the one every command reads.
  const configFile = CONFIG_FILES.map((name) => join(target, name)).find((file) => existsSync(file)) ?? join(target, 'skycap.yaml')
  const existing = existsSync(configFile)
  if (existing && !ci) {
    throw new UserError(`${configFile} already exists; nothing was written`, {hint: 'Edit it, or run `skycap config validate` to check it; `skycap init --ci github` adds a pipeline.'})
  }
  // An app that has a skycap.yaml already is named there (init --ci only adds the pipeline).
  const name = existing ? (app ?? appOf(readFileSync(configFile, 'utf8')) ?? appNameFrom(basename(target))) : checkedName(app ?? appNameFrom(basename(target)))
  const source = join(templatesDir, 'init')
  const dockerfile = existing ? undefined : hasDockerfile(target)
  const config = existing
    ? undefined
    : readFileSync(join(source, 'skycap.yaml'), 'utf8')
        .replace('__BUILD__', BUILD_LINES[dockerfile ? 'active' : 'commented'].join('\n'))
        .replaceAll(/(?<=: )__APP__$/gm, yamlString(name))
        .replaceAll('__APP__', name)
  const files: Array<{rel: string; dest: string; text: () => string}> =
    config === undefined
      ? []
      : walk(source).map((file) => {
          const rel = relative(source, file)
          return {rel, dest: join(target, rel), text: () => (rel === 'skycap.yaml' ? config : readFileSync(file, 'utf8'))}
        })
  let pipeline: InitResult['pipeline']
  if (ci) {
    const {template, path} = PIPELINE_FILES[ci]
    // The pipeline of the skycap.yaml there is, or of the one init writes.
    const text = config ?? readFileSync(configFile, 'utf8')
    // One that cannot be read would get a pipeline for the scaffold's staging and prod, environments it may not have.
    const problem = config === undefined ? unreadableEnvironments(text) : undefined
    if (problem) {
      throw new ConfigError(
        `${problem.message}; no pipeline was written`,
        {file: shownPath(configFile), line: problem.line, column: problem.column},
        {hint: `Fix skycap.yaml (\`skycap config validate\` says what is wrong), then run \`skycap init --ci ${ci}\` again: the pipeline deploys the environments it names.`},
      )
    }
    // GitHub and GitLab read the pipeline at the repository's root only: an app in a folder of it (a monorepo) gets it
    // there, its steps run in the app's folder. Before, it went beside skycap.yaml, where no CI system reads it.
    const root = repositoryRoot(target)
    const appDir = root ? relative(root, realPath(target)).split(sep).join('/') : ''
    const dest = join(root && appDir ? root : target, path)
    const plan = {...pipelinePlan(text, ci === 'github' ? pipelineBranchOf(target) : 'main'), ...(appDir ? {appDir} : {})}
    const file = relative(target, dest).split(sep).join('/')
    pipeline = {system: ci, file, ...(plan.staging ? {staging: plan.staging} : {}), ...(plan.prod ? {prod: plan.prod} : {}), build: plan.build, ...(ci === 'github' ? {branch: plan.branch} : {})}
    files.push({rel: file, dest, text: () => pipelineText(readFileSync(join(templatesDir, 'ci', template), 'utf8'), plan)})
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
  // A link to nowhere where a file goes: existsSync says no, the exclusive write says EEXIST, after the files before it.
  for (const {rel, dest} of files) {
    if (existsSync(dest) || !isSymbolicLink(dest)) continue
    throw new UserError(`${shownPath(dest)} is a symbolic link to ${readlinkSync(dest)}, which does not exist; nothing was written`, {
      hint: `Remove the link (init writes ${rel} there), or create what it points to.`,
    })
  }
  ensureWritableFolder(dir, '--dir')
  const written: string[] = []
  const skipped: string[] = existing ? [basename(configFile)] : []
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
  return {app: name, written, skipped, ...(dockerfile === undefined ? {} : {dockerfile}), ...(pipeline ? {pipeline} : {})}
}

/**
 * What init says once it wrote skycap.yaml: commit, then render. Outside a repository, first `git init`: skycap reads
 * revisions from the repository, and `render` there would only say so.
 */
export function nextStepMessage(dir: string): string {
  const render = '`skycap render staging` to see what staging would get'
  // The scaffold's registry and contexts are examples: build and deploy need the real ones first.
  const placeholders = " Before the first build or deploy, set registry: and each environment's context: in skycap.yaml (registry.example.com/…, staging-cluster and prod-cluster are placeholders)."
  if (repositoryAround(dir) !== undefined) return `Next: commit, then ${render}.${placeholders}`
  return `Next: ${resolve(dir)} is in no repository, and skycap maps revisions to images through one: \`git init\` (or \`hg init\`) there and commit, then ${render}.${placeholders}`
}

/** What `init --ci` says about the pipeline it wrote: which environment deploys when, and what to set up. */
export function pipelineMessage(pipeline: NonNullable<InitResult['pipeline']>): string {
  const {staging, prod, system, file} = pipeline
  // GitHub's pipeline names the branch; GitLab's runs on the project's default branch, whatever it is called.
  const main = pipeline.branch ?? 'the default branch'
  const approval = system === 'github' ? `after an approval: give the ${prod} environment required reviewers` : 'or by hand: when: manual'
  const onTag = prod ? `${prod} on a tag (${approval})` : ''
  const deploys =
    staging && prod
      ? `${staging} on ${main} and ${onTag}`
      : staging
        ? `${staging} on ${main} (skycap.yaml has no protected environment to deploy on a tag)`
        : `${onTag}; nothing on ${main} (skycap.yaml has no unprotected environment)`
  const builds = pipeline.build ? '' : '; it builds no image (no service in skycap.yaml has a build: block), so each deploy needs its images in the registry already'
  return `The pipeline deploys ${deploys}${builds}; set its secrets as the comments at the top of ${file} say.`
}

function checkedName(name: string): string {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    throw new UserError(`"${name}" is not a valid app name`, {hint: "Use a DNS label: lowercase letters, digits and '-', e.g. --app shop."})
  }
  if (name.length > MAX_APP_NAME) {
    throw new UserError(`the app name "${name}" has ${name.length} characters; the scaffold's staging namespace ${name}-staging would have ${name.length + 8}, and Kubernetes allows 63`, {
      hint: `Use at most ${MAX_APP_NAME} characters, e.g. --app ${appNameFrom(name)}.`,
    })
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
