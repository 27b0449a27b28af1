import {existsSync, realpathSync, statSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {createHash} from 'node:crypto'
import {basename, dirname, isAbsolute, join, posix, relative, resolve, sep} from 'node:path'

import {resolveEnvironment, unknownServiceError} from '../config/environment.js'
import {configFilePath, displayPath, namedFolders, openRepository, parseConfig, readSkycapYaml} from '../config/load.js'
import {resolvesOutside} from '../config/confinement.js'
import type {Environment, LoadedConfig} from '../config/types.js'
import {BUILD_ARG_VARIABLES, type BuildArgsView, undefinedVariableMessage} from '../config/templated.js'
import {loadValidator} from '../config/validate.js'
import {BuildFailedError, ConfigError, formatLocation, InterruptedError, UnreachableError, UserError} from '../errors.js'
import {parseTarget} from '../vcs/target.js'
import {checkImages, type ImageCheck} from '../registry/images.js'
import {checkTag, imageTagFor, serviceImages} from '../render/images.js'
import {loadTemplateEngine, renderTemplate} from '../render/templates.js'
import type {Reporter} from '../ui/output.js'
import type {Revision, Vcs} from '../vcs/vcs.js'
import {type Builder, type BuilderName, chooseBuilder, type ImageBuild, pastableCommand, StepFailed, type StepIO} from './builder.js'
import {commandBuilder} from './command.js'
import {execaRunner, type ProcessRunner} from './process.js'
import {buildInputs} from './inputs.js'
import {type BuildSource, copyWorkTree, exportRevision, type WorkTreeSource} from './source.js'

export interface BuildOptions {
  /** The environment whose registry, imageTag and images apply (default: skycap.yaml's defaultEnvironment). */
  environment?: string
  /** The revision to build, as typed (default: the work tree's parent); not with `workTree`. */
  revision?: string
  /** Build the work tree as it is; with uncommitted changes the tag is `<short>-dirty-<content hash>`. */
  workTree?: boolean
  configPath?: string
  cwd?: string
  /** Only these services (default: every service with a `build:` block). */
  services?: string[]
  /** Build and push even when the registry already has the image. */
  force?: boolean
  /** The builder tool (default: docker buildx, else docker build + push, else podman). */
  builder?: BuilderName
  /** Builds run at once (default: the number of CPUs). */
  jobs?: number
  /**
   * false: build into the builder's local image store and push nothing, and ask no registry (skycap up on a cluster
   * without a registry, which then loads the images with kind/k3d/minikube). Default true.
   */
  push?: boolean
  /** The registry host/path the images are named under instead of the environment's (skycap up: the local registry). */
  registry?: string
  /**
   * Warn when the work tree's revision is built while it has uncommitted changes (they are not in its images).
   * Default true; deploy --build says the same in its own warnings.
   */
  warnUncommitted?: boolean
  /**
   * deploy --build: the image references the deploy rendered, per service. The build reads skycap.yaml as committed
   * (and `revision.dirty` false); a work tree whose skycap.yaml (registry, imageTag) or state changes the tag would
   * have the build push one image and the deploy ask for another. Refused before anything is built.
   */
  expectImages?: Record<string, string>
  /** What to run again once a failed build or push is fixed, in the hint (default `build again`; skycap up: `run skycap up again`). */
  again?: string
  /** Whether the command has --force, named when an image is skipped (skycap up has none). Default true. */
  forceFlag?: boolean
}

export interface BuildDeps {
  reporter?: Reporter
  /** Each line of build output, prefixed with its service (`web    | ...`); dropped when absent. */
  output?: (line: string) => void
  /** Runs the builders' processes (a fake in unit tests). */
  run?: ProcessRunner
  fetch?: typeof fetch
  signal?: AbortSignal
}

/** One service's image after a build. */
export interface BuiltImage {
  service: string
  image: string
  /** The manifest digest the registry reports (null when it reports none). */
  digest: string | null
  result: 'built' | 'skipped'
}

/** What `skycap build` did. */
export interface BuildReport {
  app: string
  environment: string
  revision: {sha: string; short: string; subject: string}
  /** `revision`: a clean export of the commit; `work-tree`: the work tree's files as they are. */
  source: 'revision' | 'work-tree'
  /** The tag every built image got. */
  tag: string
  /** The builder tool used; null when nothing needed one. */
  builder: string | null
  images: BuiltImage[]
  durationMs: number
}

/**
 * `[ENV@]REV` split: a spec with `@` is ENV@REV (or @REV); a bare word is a revision, except with `--work-tree`
 * (which builds no revision), where it is the environment. A revision with `--work-tree` is refused (exit 2).
 */
export function parseBuildTarget(spec: string | undefined, options: {workTree?: boolean} = {}): {environment?: string; revision?: string} {
  if (spec === undefined || spec === '') return {}
  if (!spec.includes('@') && options.workTree) return {environment: parseTarget(spec).environment}
  // A stand-in environment checks a bare or @REV; its errors name what was typed, not the stand-in.
  const typed = (standIn: string) => {
    try {
      return parseTarget(standIn)
    } catch (error) {
      if (!(error instanceof UserError) || standIn === spec) throw error
      throw new UserError(error.message.replace(`"${standIn}"`, `"${spec}"`), {hint: error.hint, cause: error})
    }
  }
  if (!spec.includes('@')) {
    typed(`env@${spec}`)
    return {revision: spec}
  }
  const target = typed(spec.startsWith('@') ? `env${spec}` : spec)
  if (options.workTree && target.revision !== undefined) throw workTreeWithRevision(target.revision)
  return {...(spec.startsWith('@') ? {} : {environment: target.environment}), ...(target.revision === undefined ? {} : {revision: target.revision})}
}

function workTreeWithRevision(revision: string): UserError {
  return new UserError(`--work-tree builds the work tree, not revision "${revision}"`, {hint: 'Drop the revision (skycap build ENV --work-tree), or drop --work-tree to build a commit.'})
}

/**
 * Builds and pushes the images of every service with `build:` (or `options.services`) for one environment at one
 * revision, tagged exactly as deploy computes them: from a clean export of the revision, or from the work tree
 * (`workTree`). An image the registry already has is skipped unless `force`. With docker build and podman, pushes
 * start only once every build passed, so a failed build pushes nothing. Errors: BuildFailedError (exit 1, the
 * builder's last lines), NoBuilderError (2), UnreachableError (4, a registry that cannot be asked), UserError and
 * ConfigError (2). The temporary folder is removed before this returns.
 */
export async function buildImages(options: BuildOptions, deps: BuildDeps = {}): Promise<BuildReport> {
  const started = Date.now()
  deps.reporter?.phase?.('build')
  const run = deps.run ?? execaRunner
  const file = configFilePath({configPath: options.configPath, cwd: options.cwd})
  if (!existsSync(dirname(file))) throw new ConfigError(`cannot read ${file}: its folder does not exist`, undefined, {hint: 'Check the path given to --config.'})
  if (options.workTree && options.revision !== undefined) throw workTreeWithRevision(options.revision)
  const vcs = await openRepository(file)
  const push = options.push ?? true
  // A commit's clean export needs no status of the work tree (which can take long in a big one), except to warn
  // that the work tree's own revision is built without its uncommitted changes. That status only feeds the warning:
  // it runs beside the export (a second resolve, whose failure the first one reports), not before it.
  const ofWorkTree = options.revision === undefined || options.revision === 'HEAD' || options.revision === '.'
  const uncommitted =
    !options.workTree && ofWorkTree && options.warnUncommitted !== false
      ? vcs.resolve(options.revision, {workTree: true}).then(
          (r) => r.dirty,
          () => false,
        )
      : Promise.resolve(false)
  const revision = await resolveForBuild(vcs, options.revision, options.workTree ?? false, options.environment === undefined ? file : undefined)
  let source: BuildSource
  try {
    // A clean work tree is its revision, and gets its tag: built from the revision's export, as `build ENV@HEAD` would
    // (a copy of the work tree kept what .gitattributes' export-ignore leaves out, under the same tag).
    const copying = options.workTree && revision.dirty ? copyWorkTree(vcs, await configPaths(vcs, file)) : exportRevision(vcs, revision.sha)
    // After the copy's first process has started: what loads then runs while it works.
    setImmediate(() => loadAhead(push && deps.fetch === undefined))
    source = await copying.catch((error: unknown) => {
      // A Ctrl-C reaches git and tar too (the terminal signals the whole group), maybe before skycap's own handler.
      const signal = (error as {signal?: string}).signal
      if (deps.signal?.aborted || signal === 'SIGINT' || signal === 'SIGTERM' || signal === 'SIGHUP') {
        throw new InterruptedError(`interrupted while ${options.workTree && revision.dirty ? 'copying the work tree' : `exporting ${revision.short}`}; nothing was built or pushed`, {cause: error})
      }
      throw error
    })
    // A SIGINT sent to skycap alone (a CI runner cancelling the job) lets git finish the export: stop before building.
    if (deps.signal?.aborted) {
      source.remove()
      throw new InterruptedError(`interrupted while ${options.workTree && revision.dirty ? 'copying the work tree' : `exporting ${revision.short}`}; nothing was built or pushed`)
    }
  } finally {
    // Said before anything else the build reports (the revision's skycap.yaml may be what fails next).
    if (await uncommitted) {
      deps.reporter?.warn(
        `the work tree has uncommitted changes (untracked files count); they are not in the images of ${revision.short}, a clean export of the commit: commit them, or build them with --work-tree`,
      )
    }
  }
  try {
    const loaded = await configIn(source, vcs, file, revision, options.workTree ?? false)
    const chosen = environmentFor(loaded, options.environment)
    const env = options.registry ? {...chosen, registry: options.registry} : chosen
    await loadTemplateEngine()
    const tag = source.copy
      ? checkTag(`${revision.short}-dirty-${await dirtyHash(source.copy, loaded, env, source.dir, vcs.root, deps.signal)}`, loaded.show(loaded.file))
      : imageTagFor(loaded, env, revision)
    // A registry given for this build (skycap up's local one) takes every built image, one naming ghcr.io too.
    const images = serviceImages(env, tag, options.registry !== undefined)
    const wanted = buildableServices(loaded, env, options.services)
    const builds = wanted.map((service) => ({...imageBuild(loaded, env, service, images[service] as string, tag, revision), push}))
    const differing = builds.filter((b) => options.expectImages?.[b.service] !== undefined && options.expectImages[b.service] !== b.image)
    if (differing.length) throw tagsDiffer(differing, options.expectImages ?? {}, revision)
    const report: BuildReport = {
      app: loaded.config.app,
      environment: env.name,
      revision: {sha: revision.sha, short: revision.short, subject: revision.subject},
      source: options.workTree ? 'work-tree' : 'revision',
      tag,
      builder: null,
      images: [],
      durationMs: 0,
    }
    const reporter = deps.reporter
    // The builder is looked for while the registry is asked (its probes are read-only docker processes, about 40 ms
    // each), and its answer counts only if something is built: a build with nothing to do, or whose registry cannot
    // be reached, stops the probes and ends as it would without a builder (a docker whose daemon hangs would hold it
    // otherwise). build.command needs none.
    const probing = new AbortController()
    const lookup = builds.some((b) => !b.command) ? chooseBuilder(options.builder, run, probing.signal) : undefined
    // Its failure (no builder) matters only when it is awaited below; until then it is no unhandled rejection.
    lookup?.catch(() => {})
    let existing: Map<string, ImageCheck>
    try {
      // Images that stay local are always built (the builder's cache makes an unchanged one quick): no registry to ask.
      existing = push
        ? await registryState(
            builds.map((b) => b.image),
            deps.fetch,
          )
        : new Map<string, ImageCheck>()
    } catch (error) {
      probing.abort()
      throw error
    }
    // Services that build one image alike (skycap.yaml refuses them unalike) are one build: the first one's.
    const toBuild = builds.filter((b, i) => (options.force || existing.get(b.image)?.state !== 'present') && builds.findIndex((x) => x.image === b.image) === i)
    const sameAs = (b: ImageBuild) => builds.find((x) => x.image === b.image && x !== b && toBuild.includes(x))
    for (const b of builds.filter((x) => !toBuild.includes(x))) {
      const first = sameAs(b)
      reporter?.info(
        first
          ? `${b.service}: ${b.image} is ${first.service}'s image; built once`
          : `${b.service}: ${b.image} is in the registry; skipped${options.forceFlag === false ? '' : ' (--force builds it again)'}`,
      )
    }
    let builder: Builder | undefined
    const needsBuilder = toBuild.some((b) => !b.command)
    if (!needsBuilder) probing.abort()
    if (needsBuilder) {
      builder = await (lookup as Promise<Builder>)
      report.builder = builder.name
      checkPlatforms(loaded, toBuild, builder)
    } else if (toBuild.length) {
      report.builder = 'command'
    }
    const jobs = Math.max(1, options.jobs ?? availableParallelism())
    if (toBuild.length) {
      const what = `${toBuild.map((b) => b.service).join(', ')} at ${options.workTree ? `the work tree (${tag})` : revision.short}`
      reporter?.info(`Building ${what}${builder ? ` with ${builder.name}` : ''}, ${Math.min(jobs, toBuild.length)} at a time`)
    }
    const width = Math.max(0, ...toBuild.map((b) => b.service.length))
    const io = (b: ImageBuild): StepIO => ({run, signal: deps.signal, onLine: (line) => deps.output?.(`${b.service.padEnd(width)} | ${line}`)})
    const builderOf = (b: ImageBuild): Builder => (b.command ? commandBuilder : (builder as Builder))
    // buildx --push and build.command push as they build: what they finished is in the registry whatever fails later.
    const pushesWhileBuilding = (b: ImageBuild): boolean => push && !builderOf(b).push
    // What failed, as a command to run here: the paths of the build folder (removed when the build ends) are the repository's.
    const pastable = (ran: NonNullable<StepFailed['ran']>) => pastableCommand(ran, source.dir, vcs.root, options.cwd ?? process.cwd())
    const inRegistry = async (list: ImageBuild[]) => {
      const found = await checkImages(
        list.map((b) => b.image),
        {fetch: deps.fetch},
      )
      if (found.some((r) => r.state === 'unknown')) throw new Error('the registry did not answer')
      return list.filter((b) => found.find((r) => r.image === b.image)?.state === 'present')
    }
    const ignored = (failed: ImageBuild[]) =>
      ignoredNote(
        vcs,
        failed.map((b) => ({service: b.service, context: relative(source.dir, b.context)})),
      )
    await inParallel(toBuild, jobs, (b) => builderOf(b).build(b, io(b)), deps.signal, 'build', {
      pushesWhileBuilding,
      workTree: options.workTree ?? false,
      pastable,
      inRegistry,
      ignored,
      again: options.again,
    })
    await inParallel(
      toBuild.filter((b) => push && builderOf(b).push),
      jobs,
      (b) => (builderOf(b).push as NonNullable<Builder['push']>)(b, io(b)),
      deps.signal,
      'push',
      {pushesWhileBuilding: () => false, workTree: options.workTree ?? false, again: options.again},
    )
    const after =
      push && toBuild.length
        ? await registryState(
            toBuild.map((b) => b.image),
            deps.fetch,
          )
        : new Map<string, ImageCheck>()
    const isBuilt = (b: ImageBuild) => toBuild.includes(b) || sameAs(b) !== undefined
    const stateOf = (b: ImageBuild) => (isBuilt(b) ? after : existing).get(b.image)
    // Every build passed: one whose image the registry lacks (a build.command that exited 0 without pushing) fails the
    // run, which names them all and the images pushed beside them (docker pushed those once every build passed).
    const missing = push ? builds.filter((b) => isBuilt(b) && stateOf(b)?.state !== 'present') : []
    if (missing.length) {
      const pushed = toBuild.filter((b) => !missing.includes(b) && stateOf(b)?.state === 'present')
      const names = (list: ImageBuild[]) => list.map((b) => b.service).join(', ')
      const pushedNote = pushed.length ? `; ${names(pushed)} ${pushed.length === 1 ? 'was' : 'were'} pushed` : ''
      const what = missing.length === 1 ? `${missing[0]?.image} is` : `their images are`
      throw new BuildFailedError(`${names(missing)}: the build passed but ${what} not in the registry${pushedNote}`, {
        hint: missing.some((b) => b.command)
          ? 'build.command must push the image named by $SKYCAP_IMAGE.'
          : 'Check that the builder pushes where skycap reads (registry in skycap.yaml, docker login).',
        details: {
          service: missing[0]?.service,
          image: missing[0]?.image,
          missing: missing.map((b) => ({service: b.service, image: b.image})),
          pushed: pushed.map((b) => ({service: b.service, image: b.image, digest: stateOf(b)?.digest ?? null})),
        },
      })
    }
    for (const b of builds) report.images.push({service: b.service, image: b.image, digest: stateOf(b)?.digest ?? null, result: isBuilt(b) ? 'built' : 'skipped'})
    report.durationMs = Date.now() - started
    return report
  } finally {
    source.remove()
  }
}

/**
 * Starts loading, while git works (the process waits on it), what the steps after it need: the YAML library, the
 * schema's validator, LiquidJS, execa and the builders' modules, and Node's HTTP client (`fetch` loads and compiles
 * undici on its first use, about 40 ms, which the first registry request paid). Nothing here has an effect but
 * loading; a failure is left to the step that needs the module.
 */
function loadAhead(registry: boolean): void {
  const loads: Array<Promise<unknown>> = [
    import('yaml'),
    loadValidator(),
    loadTemplateEngine(),
    import('execa'),
    import('node:readline'),
    import('./buildx.js'),
    import('./docker.js'),
    import('./podman.js'),
  ]
  for (const load of loads) load.catch(() => {})
  // A data: URL goes through fetch without a connection: undici is loaded and its fetch compiled, nothing is sent.
  if (registry) setImmediate(() => fetch('data:,').catch(() => {}))
}

/**
 * The revision, with a hint for `skycap build prod` (a bare word is a revision): only when no environment was given
 * (`configFile` is then skycap.yaml's path) and the word is an environment of the work tree's skycap.yaml.
 */
async function resolveForBuild(vcs: Vcs, rev: string | undefined, workTree: boolean, configFile: string | undefined): Promise<Revision> {
  try {
    return await vcs.resolve(rev, {workTree})
  } catch (error) {
    if (error instanceof UserError && rev !== undefined && configFile !== undefined && (await namesEnvironment(configFile, rev))) {
      throw new UserError(error.message, {
        hint: `${error.hint ?? ''} skycap build takes [ENV@]REV, and ${rev} is an environment: for it at HEAD write ${rev}@HEAD.`.trim(),
        details: error.details,
      })
    }
    throw error
  }
}

/**
 * Whether `word` is an environment of skycap.yaml as the work tree has it. When the file cannot be read or parsed:
 * whether it could be one (an environment name that is not a hexadecimal revision id).
 */
async function namesEnvironment(file: string, word: string): Promise<boolean> {
  try {
    const {parse} = await import('yaml')
    const environments = (parse(readSkycapYaml(file, displayPath(file)), {logLevel: 'silent'}) as {environments?: unknown} | null)?.environments
    if (environments !== null && typeof environments === 'object') return Object.hasOwn(environments, word)
  } catch {
    // Unreadable: guessed from the word alone below.
  }
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(word) && !/^[0-9a-f]+$/.test(word)
}

/** skycap.yaml and the folders it names (templates, config folders), relative to the repository root: what reading it needs. */
async function configPaths(vcs: Vcs, file: string): Promise<string[]> {
  const dir = relative(vcs.root, realpathSync(dirname(file)))
  const inRepo = (path: string) =>
    relative(vcs.root, resolve(vcs.root, dir, path))
      .split(sep)
      .join(posix.sep)
  let text = ''
  try {
    text = readSkycapYaml(file, displayPath(file))
  } catch {
    // Unreadable: configIn says so.
  }
  return [inRepo(basename(file)), ...(await namedFolders(text)).map(([, folder]) => inRepo(folder)).filter((p) => !p.startsWith('..') && !isAbsolute(p))]
}

/**
 * The dirty tag's hash: of the files every build of the environment reads (each context and Dockerfile, as the work
 * tree has them; the whole work tree for a `build.command`, a program that may read anything) and of their build:
 * blocks (a changed build arg is another image). So two different dirty states of what is built never share a tag,
 * and an edit elsewhere (a README, a template) keeps it. Copies those files into the build's folder.
 */
async function dirtyHash(copy: WorkTreeSource['copy'], loaded: LoadedConfig, env: Environment, dir: string, root: string, signal: AbortSignal | undefined): Promise<string> {
  const services = buildableServices(loaded, env, undefined)
  const paths = services.flatMap((s) => (loaded.config.services[s]?.build?.command ? [''] : buildInputs(loaded, s).flatMap((p) => repositoryPaths(relative(dir, p), root))))
  const files = await copy([...new Set(paths)], signal)
  const blocks = JSON.stringify(services.map((s) => [s, loaded.config.services[s]?.build]))
  return createHash('sha256').update(files).update('\0').update(blocks).digest('hex').slice(0, 12)
}

/** A path of the repository (`/`-separated) and, when a link on the way leads elsewhere in it, where it leads. */
function repositoryPaths(path: string, root: string): string[] {
  const own = path.split(sep).join(posix.sep)
  let real: string | undefined
  try {
    real = relative(root, realpathSync(join(root, path)))
      .split(sep)
      .join(posix.sep)
  } catch {
    // Missing: imageBuild says so.
  }
  return real === undefined || real === own || real.startsWith('..') || isAbsolute(real) ? [own] : [own, real]
}

/** skycap.yaml as it lies in the build's source (the exported revision or the copied work tree). */
async function configIn(source: BuildSource, vcs: Vcs, file: string, revision: Revision, workTree: boolean): Promise<LoadedConfig> {
  const userDir = dirname(file)
  const inRepo = relative(vcs.root, join(realpathSync(userDir), basename(file)))
  const sourceFile = join(source.dir, inRepo)
  const sourceDir = dirname(sourceFile)
  const at = workTree ? '' : ` (at ${revision.short})`
  const show = (path: string): string => {
    const rel = relative(source.dir, path)
    return rel.startsWith('..') || isAbsolute(rel) ? displayPath(path) : `${displayPath(join(userDir, relative(sourceDir, path)))}${at}`
  }
  if (!existsSync(sourceFile)) {
    throw new UserError(
      `${displayPath(file)} is not in ${workTree ? 'the files the work tree build sees (is it ignored?)' : `${revision.short} (${revision.input})`}: there is nothing to build from`,
      {
        hint: `Commit ${basename(file)} with the Dockerfiles, then build that revision.`,
        details: {revision: revision.sha, file: displayPath(file)},
      },
    )
  }
  return parseConfig(readSkycapYaml(sourceFile, show(sourceFile)), sourceFile, show, source.dir)
}

/**
 * The environment named, else the default one. With neither, any environment whose images are the same as every
 * other's will do (one registry and imageTag for all); otherwise the user must name one.
 */
function environmentFor(loaded: LoadedConfig, name: string | undefined): Environment {
  const {config} = loaded
  if (name !== undefined || config.defaultEnvironment !== undefined) return resolveEnvironment(loaded, (name ?? config.defaultEnvironment) as string)
  const envs = Object.keys(config.environments).map((n) => resolveEnvironment(loaded, n))
  const key = (e: Environment) => JSON.stringify([e.registry, e.imageTag, Object.entries(e.services).map(([s, svc]) => [s, svc.image])])
  const first = envs[0] as Environment
  if (envs.every((e) => key(e) === key(first))) return first
  throw new UserError('the environments push different images (registry, imageTag or image differ) and no environment was named', {
    hint: `Name one: skycap build ENV@REV (environments: ${envs.map((e) => e.name).join(', ')}), or set defaultEnvironment.`,
  })
}

/** The services to build: those named (each must have build:), else every one with build:. */
function buildableServices(loaded: LoadedConfig, env: Environment, named: string[] | undefined): string[] {
  const all = Object.keys(env.services)
  const buildable = all.filter((s) => loaded.config.services[s]?.build)
  const shown = loaded.show(loaded.file)
  for (const name of named ?? []) {
    if (!env.services[name]) throw unknownServiceError(loaded, name)
    if (!buildable.includes(name)) {
      // A service may run the image another one builds (docs/build.md): that one is what to build.
      const image = env.services[name]?.image
      const builtBy = buildable.filter((s) => env.services[s]?.image === image)
      throw new UserError(`service "${name}" has no build: block in ${shown}; its image (${image}) is ${builtBy.length ? `built by ${builtBy.join(', ')}` : 'not built by skycap'}`, {
        hint: builtBy.length
          ? `Build ${builtBy.length === 1 ? 'it' : 'them'}: -s ${builtBy.join(' -s ')}.`
          : buildable.length
            ? `Services with build: ${buildable.join(', ')}.`
            : 'Add build: to the service (see docs/build.md).',
      })
    }
  }
  if (!buildable.length)
    throw new UserError(`no service in ${shown} has a build: block; there is nothing to build`, {hint: 'Add build: {context: ., dockerfile: Dockerfile} to a service (see docs/build.md).'})
  return named?.length ? [...new Set(named)] : buildable
}

/** One service's build with its paths checked inside the source and its args rendered. */
/** deploy --build's refusal when the build would tag other images than the deploy rendered (`expectImages`). */
function tagsDiffer(builds: Array<{service: string; image: string}>, expected: Record<string, string>, revision: Revision): UserError {
  const list = builds.map((b) => `${b.service}: the build tags ${b.image}, the deploy wants ${expected[b.service]}`).join('; ')
  return new UserError(`the build of ${revision.short} would push other images than this deploy runs (${list}); nothing was built or deployed`, {
    hint: `The build reads skycap.yaml as committed in ${revision.short}, with revision.dirty false; the deploy read the work tree's. Commit skycap.yaml (its registry or imageTag changed), or make the imageTag the same for a dirty work tree, then run it again.`,
    details: {images: builds.map((b) => ({service: b.service, built: b.image, deployed: expected[b.service]}))},
  })
}

function imageBuild(loaded: LoadedConfig, env: Environment, service: string, image: string, tag: string, revision: Revision): Omit<ImageBuild, 'push'> {
  const spec = loaded.config.services[service]?.build ?? {}
  const shown = loaded.show(loaded.file)
  const problem = (key: string, message: string, hint: string): ConfigError => {
    const pos = loaded.locate(['services', service, 'build', key])
    return new ConfigError(message, {file: shown, line: pos?.line, column: pos?.column}, {hint})
  }
  const context = resolve(loaded.dir, spec.context ?? relative(loaded.dir, loaded.root))
  if (!existsSync(context) || !statSync(context).isDirectory()) {
    throw problem('context', `services.${service}.build.context: folder "${spec.context}" does not exist in what is built`, 'Commit the folder, or fix build.context (relative to skycap.yaml).')
  }
  // What is built is the export of the revision (or the copy of the work tree): a committed link to a folder or
  // Dockerfile elsewhere on this machine would bring that machine's files into an image tagged with the commit.
  const outside = (key: string, what: string, path: string) => {
    const real = resolvesOutside(loaded.root, path)
    if (real !== undefined) {
      throw problem(
        key,
        `services.${service}.build: ${what} ${loaded.show(path)} leads outside the repository (to ${real}); only the repository's own files are built`,
        `Put the ${what} in the repository, or point build.${key} at one there (links must stay inside the repository).`,
      )
    }
  }
  outside('context', 'context', context)
  const base = {service, image, tag, context, args: [] as Array<[string, string]>, platforms: spec.platforms ?? []}
  if (spec.command) return {...base, command: spec.command}
  const dockerfile = resolve(context, spec.dockerfile ?? 'Dockerfile')
  if (!existsSync(dockerfile) || !statSync(dockerfile).isFile()) {
    throw problem('dockerfile', `services.${service}.build: ${loaded.show(dockerfile)} does not exist`, 'Commit the Dockerfile, or set build.dockerfile (relative to build.context).')
  }
  outside('dockerfile', 'Dockerfile', dockerfile)
  // Exactly what BUILD_ARG_VARIABLES lists (skycap.yaml's check refuses any other variable, at the value).
  const view: BuildArgsView = {revision: {sha: revision.sha, short: revision.short}, image, tag}
  const args = Object.entries(spec.args ?? {}).map(([name, value]): [string, string] => {
    try {
      return [name, renderTemplate(String(value), `${shown} (services.${service}.build.args.${name})`, view)]
    } catch (error) {
      throw buildArgError(loaded, ['services', service, 'build', 'args', name], error)
    }
  })
  return {...base, dockerfile, ...(spec.target ? {target: spec.target} : {}), args}
}

/**
 * A build arg that failed to render, located at its value in skycap.yaml (the template engine counts lines and
 * columns inside the string), with the variables build args get.
 */
function buildArgError(loaded: LoadedConfig, path: string[], error: unknown): unknown {
  if (!(error instanceof ConfigError)) return error
  const pos = loaded.locate(path)
  const inner = error.location ? error.message.slice(formatLocation(error.location).length + 2) : error.message
  const variable = error.details?.variable
  const message = typeof variable === 'string' ? undefinedVariableMessage('build args', variable, BUILD_ARG_VARIABLES) : inner
  return new ConfigError(
    `${path.join('.')}: ${message}`,
    {file: loaded.show(loaded.file), line: pos?.line, column: pos?.column},
    {
      hint: `Build args can use ${BUILD_ARG_VARIABLES.map((v) => `{{ ${v} }}`).join(', ')} (docs/build.md).`,
      details: error.details,
      cause: error,
    },
  )
}

/** docker build makes one platform: a service asking for several needs buildx or podman. */
function checkPlatforms(loaded: LoadedConfig, builds: ImageBuild[], builder: Builder): void {
  if (builder.multiPlatform) return
  const multi = builds.find((b) => !b.command && b.platforms.length > 1)
  if (!multi) return
  const pos = loaded.locate(['services', multi.service, 'build', 'platforms'])
  throw new ConfigError(
    `services.${multi.service}.build.platforms lists ${multi.platforms.length} platforms, but ${builder.name} builds one`,
    {file: loaded.show(loaded.file), line: pos?.line, column: pos?.column},
    {hint: 'Install docker buildx (apt-get install docker-buildx) or use --builder podman, or list one platform.'},
  )
}

/** The registry's answer for each image; a registry that cannot be asked is exit 4 before anything is built. */
async function registryState(images: string[], doFetch: typeof fetch | undefined): Promise<Map<string, ImageCheck>> {
  const results = await checkImages(images, {fetch: doFetch})
  const unknown = results.filter((r) => r.state === 'unknown')
  if (unknown.length) {
    throw new UnreachableError(`cannot ask the registry about ${unknown.map((u) => `${u.image} (${u.detail})`).join('; ')}; nothing was built or pushed`, {
      hint: 'Check the registry in skycap.yaml (or the environment), that it runs, and docker login.',
      details: {images: unknown},
    })
  }
  return new Map(results.map((r) => [r.image, r]))
}

/** What a failed step printed, for the message: its first error line if it scrolled out, its last lines, or that it printed nothing. */
function failureLines(f: {service: string; lastLines: string[]; firstError?: string}): string {
  if (!f.lastLines.length) return ' (it printed nothing)'
  const shown = (lines: string[]) => lines.map((l) => `\n  ${f.service} | ${l}`).join('')
  if (f.firstError === undefined) return `; its last lines:${shown(f.lastLines)}`
  return `; its first error line:${shown([f.firstError])}\n${f.service}: and its last lines:${shown(f.lastLines)}`
}

/**
 * For a failed build: the files the VCS ignores in each context (a few, and how many), which no build gets, since a
 * commit's image must be reproducible from the commit (docs/build.md). A Dockerfile that copies `dist/` from a
 * gitignored build output failed with `"/dist" not found`, and nothing said dist/ was there but left out.
 */
async function ignoredNote(vcs: Vcs, builds: Array<{service: string; context: string}>): Promise<string> {
  const seen = new Set<string>()
  const parts: string[] = []
  for (const {service, context} of builds) {
    const path = context.split(sep).join(posix.sep)
    if (seen.has(path)) continue
    seen.add(path)
    // Folders first: a build's output (dist/, node_modules/) is what a Dockerfile most often looks for.
    const files = (await vcs.ignoredFiles([path])).sort((a, b) => Number(b.endsWith('/')) - Number(a.endsWith('/')))
    if (!files.length) continue
    const shown = files.slice(0, 3).join(', ') + (files.length > 3 ? ` and ${files.length - 3} more` : '')
    parts.push(
      `${service}'s context (${path || '.'}) has ${files.length} ${files.length === 1 ? 'path' : 'paths'} ${vcs.kind === 'hg' ? 'Mercurial' : vcs.kind} ignores, which no build gets: ${shown}`,
    )
  }
  if (!parts.length) return ''
  return ` ${parts.join('; ')}. A build sees only what a commit would hold, so that a commit's image can be built again from the commit: build such files in the Dockerfile (a RUN step) or with build.command (docs/build.md).`
}

/** The hint's end: the commands that failed, to run here (`docker build` … with the repository's paths). */
function ranHere(failures: Array<{service: string; command?: string}>): string {
  const commands = failures.filter((f) => f.command !== undefined)
  if (!commands.length) return ''
  if (commands.length === 1) return ` What failed, to run here: ${commands[0]?.command}`
  return ` What failed, to run here: ${commands.map((f) => `${f.service}: ${f.command}`).join('; ')}`
}

/**
 * Runs `step` for every build, `jobs` at a time. Every started step finishes; no new one starts after a failure.
 * Failures are one BuildFailedError carrying each failed service's last lines.
 */
async function inParallel(
  builds: ImageBuild[],
  jobs: number,
  step: (b: ImageBuild) => Promise<void>,
  signal: AbortSignal | undefined,
  what: 'build' | 'push',
  {
    pushesWhileBuilding,
    workTree,
    pastable,
    inRegistry,
    ignored,
    again = 'build again',
  }: {
    pushesWhileBuilding: (b: ImageBuild) => boolean
    workTree: boolean
    pastable?: (ran: NonNullable<StepFailed['ran']>) => string
    /** Of the builds that pushed as they built, those whose image the registry has: asked only when the step ends in a failure or a Ctrl-C. */
    inRegistry?: (builds: ImageBuild[]) => Promise<ImageBuild[]>
    /** What the failed builds' contexts hold that the VCS ignores (the hint's end), or ''. */
    ignored?: (builds: ImageBuild[]) => Promise<string>
    again?: string
  } = {
    pushesWhileBuilding: () => false,
    workTree: false,
  },
): Promise<void> {
  // `interrupted`: the step failed once the signal had come (docker and a build.command exit on it): cut off, not a
  // failure of its own.
  const failed: Array<{build: ImageBuild; error: unknown; interrupted: boolean}> = []
  const finished: ImageBuild[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < builds.length && !failed.length && !signal?.aborted) {
      const b = builds[next++] as ImageBuild
      try {
        await step(b)
        finished.push(b)
      } catch (error) {
        failed.push({build: b, error, interrupted: signal?.aborted ?? false})
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(jobs, builds.length)}, worker))
  if (!signal?.aborted && !failed.length) return
  const names = (list: ImageBuild[]) => list.map((b) => b.service).join(', ')
  const was = (list: ImageBuild[]) => (list.length === 1 ? 'was' : 'were')
  // What finished pushing as it built, as the registry has it: a build.command that exits 0 may not have pushed (it
  // was said "pushed as it built" all the same).
  const finishedPushing = finished.filter(pushesWhileBuilding)
  const confirmed = finishedPushing.length && inRegistry ? await inRegistry(finishedPushing).catch(() => undefined) : finishedPushing
  const pushed = confirmed ?? []
  const notPushed = confirmed ? finishedPushing.filter((b) => !pushed.includes(b)) : []
  const pushedNote = [
    pushed.length ? `${names(pushed)} ${was(pushed)} pushed as ${pushed.length === 1 ? 'it' : 'they'} built` : '',
    notPushed.length ? `${names(notPushed)} built but ${notPushed.length === 1 ? 'its image is' : 'their images are'} not in the registry` : '',
    !confirmed && finishedPushing.length ? `${names(finishedPushing)} built and pushed as ${finishedPushing.length === 1 ? 'it' : 'they'} built (the registry did not answer to confirm it)` : '',
  ]
    .filter(Boolean)
    .join('; ')
  if (signal?.aborted) {
    // A step that had failed before the Ctrl-C failed: named so, not as cut off by it.
    const failedBefore = failed.filter((f) => !f.interrupted)
    const failedNote = failedBefore.length ? `${failedBefore.map((f) => `${f.build.service} had failed (${f.error instanceof StepFailed ? f.error.message : String(f.error)})`).join(', ')}` : undefined
    const ended = new Set([...finished, ...failedBefore.map((f) => f.build)])
    if (what === 'build') {
      // An interrupted buildx --push or build.command may have pushed before it stopped.
      const cut = builds.slice(0, next).filter((b) => pushesWhileBuilding(b) && !ended.has(b))
      const cutNote = cut.length ? `${names(cut)} stopped while building and may have pushed` : undefined
      // docker and podman push only once every build passed: what they built or were building is not in the registry.
      const cutLocal = builds.slice(0, next).filter((b) => !pushesWhileBuilding(b) && !ended.has(b))
      const builtLocal = finished.filter((b) => !pushesWhileBuilding(b))
      const unstarted = builds.slice(next)
      const said = [
        failedNote,
        pushedNote,
        cutNote,
        builtLocal.length ? `${names(builtLocal)} ${was(builtLocal)} built, not pushed` : '',
        cutLocal.length ? `${names(cutLocal)} stopped while building` : '',
        unstarted.length ? `${names(unstarted)} ${was(unstarted)} not built (not started)` : '',
      ].filter(Boolean)
      const mayHavePushed = pushed.length > 0 || cut.length > 0 || (!confirmed && finishedPushing.length > 0)
      throw new InterruptedError(`interrupted during the build; ${[...said, ...(mayHavePushed ? [] : ['nothing was pushed'])].join('; ')}`)
    }
    // Each push by name: done, cut off (the registry may have it), or never started ("some images may have been pushed").
    // A push the Ctrl-C stopped fails (docker exits on the signal): cut off all the same.
    const cutPushes = builds.slice(0, next).filter((b) => !ended.has(b))
    const unstarted = builds.slice(next)
    const said = [
      failedNote ?? '',
      finished.length ? `${names(finished)} ${was(finished)} pushed` : '',
      cutPushes.length ? `${names(cutPushes)} stopped while pushing and may be in the registry` : '',
      unstarted.length ? `${names(unstarted)} ${was(unstarted)} not pushed` : '',
    ].filter(Boolean)
    throw new InterruptedError(`interrupted during the push; ${said.join('; ') || 'nothing was pushed'}`)
  }
  if (!failed.length) return
  const stepFailures = failed.map(({build, error}) => {
    if (!(error instanceof StepFailed)) throw error
    return {
      service: build.service,
      image: build.image,
      step: error.step,
      exitCode: error.exitCode,
      ...(error.notFound ? {notFound: error.ran?.argv[0] ?? error.step} : {}),
      lastLines: error.lastLines,
      ...(error.firstError === undefined ? {} : {firstError: error.firstError}),
      ...(pastable && error.ran ? {command: pastable(error.ran)} : {}),
    }
  })
  const text = stepFailures
    .map((f) => `${f.service}: ${f.step} ${'notFound' in f ? `could not start: ${f.notFound} was not found (is it installed, on PATH?)` : `exited ${f.exitCode}`}${failureLines(f)}`)
    .join('\n')
  const result =
    what === 'build'
      ? pushedNote
        ? `${pushedNote}; nothing else was pushed`
        : 'nothing was pushed'
      : // The pushes that finished are in the registry (a CI job re-run skips them): said, where only the failed ones were.
        `the images listed were not pushed${finished.length ? `; ${names(finished)} ${was(finished)} pushed` : ''}`
  // With --jobs below the number of images, those still queued never start once one failed: say which.
  const queued = builds.slice(next).map((b) => b.service)
  const unstarted = queued.length ? `; ${queued.join(', ')} ${queued.length === 1 ? 'was' : 'were'} not ${what === 'build' ? 'built' : 'pushed'} (not started after the failure)` : ''
  const ignoredHere = what === 'build' && ignored ? await ignored(failed.map((f) => f.build)).catch(() => '') : ''
  throw new BuildFailedError(`${what} of ${stepFailures.map((f) => f.service).join(', ')} failed; ${result}${unstarted}\n${text}`, {
    hint:
      what === 'build'
        ? // A work-tree build (--work-tree, skycap up) takes the fix as it is; a revision's build only once it is committed.
          `Fix the build, ${workTree ? 'then' : 'commit, and'} ${again}.${ignoredHere}${ranHere(stepFailures)}`
        : stepFailures.some((f) => !('notFound' in f) && /server gave HTTP response to HTTPS client/.test(failureLines(f)))
          ? // A plain-HTTP registry (a local one): not a login problem.
            `The registry speaks plain HTTP and the builder asked it over HTTPS: mark it insecure for the builder (podman: an [[registry]] entry with insecure = true in /etc/containers/registries.conf; docker: "insecure-registries" in /etc/docker/daemon.json; docs/build.md), then ${again}.`
          : `Check registry access (docker login) and ${again}.`,
    details: {failures: stepFailures},
  })
}
