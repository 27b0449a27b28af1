import {existsSync, watch} from 'node:fs'
import {isAbsolute, join, relative, resolve, sep} from 'node:path'

import type {Environment, LoadedConfig} from '../config/types.js'
import type {Reporter} from '../ui/output.js'
import type {ImagePhase} from './images.js'

/** What a batch of file changes asks for. */
export interface Change {
  /** The changed files, relative to skycap.yaml's folder. */
  files: string[]
  /** Services whose build reads a changed file. */
  rebuild: string[]
}

/** The files and folders whose changes matter, and which services' builds read each. */
export interface WatchedInputs {
  /** skycap.yaml: a change rebuilds every service (build args, contexts) and redeploys. */
  config: string
  /** skycap.yaml, templates and config folders: a change redeploys. */
  deploy: string[]
  /** Build inputs per service: a change rebuilds that service, then redeploys. */
  builds: Record<string, string[]>
}

/** What `up --watch` watches for env (absolute paths). */
export function watchedInputs(loaded: LoadedConfig, env: Environment, images: ImagePhase): WatchedInputs {
  const at = (p: string) => resolve(loaded.dir, p)
  const deployInputs = [loaded.file, at(loaded.config.templates ?? 'deploy')]
  if (env.config) deployInputs.push(at(env.config))
  for (const svc of Object.values(env.services)) if (svc.config) deployInputs.push(at(svc.config))
  const builds: Record<string, string[]> = {}
  for (const service of images.buildable(loaded, env)) builds[service] = images.inputs(loaded, env, service)
  return {config: loaded.file, deploy: deployInputs, builds}
}

const inside = (file: string, path: string) => {
  const r = relative(path, file)
  return r === '' || (!r.startsWith('..') && !isAbsolute(r))
}

/**
 * Classifies changed files (absolute); undefined when none of them matters. `hidden`: changed files a build cannot see
 * (ignored by the VCS, as `.gitignore`d files stay out of a work-tree build): they rebuild nothing.
 */
export function classifyChange(files: string[], inputs: WatchedInputs, dir: string, hidden: ReadonlySet<string> = new Set()): Change | undefined {
  const builds = (f: string, paths: string[]) => !hidden.has(f) && paths.some((p) => inside(f, p))
  const relevant = files.filter((f) => !f.split(sep).includes('.git') && (inputs.deploy.some((p) => inside(f, p)) || Object.values(inputs.builds).some((ps) => builds(f, ps))))
  if (relevant.length === 0) return undefined
  const rebuild = Object.entries(inputs.builds)
    .filter(([, paths]) => relevant.includes(inputs.config) || relevant.some((f) => builds(f, paths)))
    .map(([s]) => s)
    .sort()
  return {files: relevant.map((f) => relative(dir, f)).sort(), rebuild}
}

/**
 * The changed files under a build input that exist but that a build cannot see (ignored: a compiler's output, a log,
 * node_modules): a tool that keeps writing them made every quiet 300 ms a rebuild and a new release. A deleted file
 * still counts (whether it was ignored cannot be told any more). Asks the VCS only when such a file changed.
 */
async function hiddenFiles(files: string[], inputs: WatchedInputs, visible: () => Promise<string[]>): Promise<Set<string>> {
  const candidates = files.filter((f) => existsSync(f) && Object.values(inputs.builds).some((ps) => ps.some((p) => inside(f, p))))
  if (!candidates.length) return new Set()
  let seen: Set<string>
  try {
    seen = new Set(await visible())
  } catch {
    return new Set() // No answer from the VCS: every change counts, as before.
  }
  return new Set(candidates.filter((f) => !seen.has(f)))
}

/** What a work-tree build of the repository at `root` copies (absolute paths). */
async function visibleFiles(root: string): Promise<string[]> {
  const {openVcs} = await import('../vcs/vcs.js')
  // Joined to the watched root (the VCS spells its root with symlinks resolved; the watcher's paths do not).
  return (await (await openVcs(root)).workTreeFiles()).map((f) => join(root, f))
}

/**
 * Watches the repository until `signal` aborts; after a quiet 300 ms following changes that matter, calls
 * `onChange` (never two at once: changes during a redeploy make the next one). A change to skycap.yaml first calls
 * `reload` (which reads it again, or answers undefined when it cannot) and watches what the new one names: a new
 * config folder, template folder or build context needs no restart.
 */
export async function watchInputs(
  loaded: LoadedConfig,
  env: Environment,
  images: ImagePhase,
  options: {
    reporter: Reporter
    signal?: AbortSignal
    onChange: (change: Change) => Promise<void>
    reload?: () => Promise<{loaded: LoadedConfig; env: Environment} | undefined>
    /** The files (absolute) a work-tree build can see now; default: the VCS's (tracked, and untracked not ignored). */
    visibleFiles?: () => Promise<string[]>
    quietMs?: number
  },
): Promise<void> {
  if (options.signal?.aborted) return
  let inputs = watchedInputs(loaded, env, images)
  const root = loaded.root
  const pending = new Set<string>()
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()
  const flush = () => {
    const files = [...pending]
    pending.clear()
    running = running.then(async () => {
      // Changes queued behind a redeploy that Ctrl-C stopped: nothing more is started.
      if (options.signal?.aborted) return
      if (options.reload && files.includes(inputs.config)) {
        const fresh = await options.reload()
        // An invalid skycap.yaml was reported by reload; nothing is deployed until it is fixed.
        if (!fresh) return
        inputs = watchedInputs(fresh.loaded, fresh.env, images)
      }
      const change = classifyChange(files, inputs, loaded.dir, await hiddenFiles(files, inputs, options.visibleFiles ?? (() => visibleFiles(root))))
      if (change) await options.onChange(change)
    })
  }
  const watcher = watch(root, {recursive: true}, (_event, name) => {
    if (!name) return
    pending.add(join(root, name.toString()))
    clearTimeout(timer)
    timer = setTimeout(flush, options.quietMs ?? 300)
  })
  options.reporter.info(`Watching ${relative(process.cwd(), root) || '.'} for changes to skycap.yaml, templates, config folders and build inputs`)
  await new Promise<void>((done) => {
    if (options.signal?.aborted) return done()
    options.signal?.addEventListener('abort', () => done(), {once: true})
  })
  clearTimeout(timer)
  watcher.close()
  await running
}
