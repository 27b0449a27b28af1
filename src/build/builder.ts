import {join, relative} from 'node:path'

import {NoBuilderError} from '../errors.js'
import {shellWord} from '../ui/shell-word.js'
import {ERROR_LINE, HELP_POINTER, type ProcessRunner, type RunOptions, type RunResult} from './process.js'

/** The builder tools skycap drives (`--builder`); services with `build.command` use their own. */
export const BUILDER_NAMES = ['buildx', 'docker', 'podman'] as const
export type BuilderName = (typeof BUILDER_NAMES)[number]

/** One image to build, with every path absolute and every template rendered. */
export interface ImageBuild {
  service: string
  /** The full reference to tag and push: `<registry>/<image>:<tag>`. */
  image: string
  tag: string
  context: string
  dockerfile?: string
  target?: string
  args: Array<[string, string]>
  platforms: string[]
  command?: string[]
  /** false: leave the image in the builder's local store (skycap up loads it into a cluster without a registry). */
  push: boolean
}

/** What a step needs to run a process and show its output. */
export interface StepIO {
  run: ProcessRunner
  onLine: (line: string) => void
  signal?: AbortSignal
}

/** A tool that builds images. */
export interface Builder {
  readonly name: BuilderName | 'command'
  /** Whether one build can make an image for several platforms. */
  readonly multiPlatform: boolean
  build(b: ImageBuild, io: StepIO): Promise<void>
  /** Pushes what build made; absent when build pushes itself (buildx --push, a custom command). */
  push?(b: ImageBuild, io: StepIO): Promise<void>
}

/** A builder's process exited non-zero. */
export class StepFailed extends Error {
  constructor(
    readonly step: string,
    readonly exitCode: number,
    readonly lastLines: string[],
    /** The first error line of its output when it is not among lastLines (it scrolled out). */
    readonly firstError?: string,
    /** What ran: the program and its arguments, the folder it ran in, the variables added to its environment. */
    readonly ran?: {argv: string[]; cwd?: string; env?: Record<string, string>},
    /** The program was not found (no such file on PATH): it never ran. */
    readonly notFound = false,
  ) {
    super(`${step} ${notFound ? 'could not start: not found' : `exited ${exitCode}`}`)
  }
}

/** Runs one step of a build; throws StepFailed when it exits non-zero. */
export async function runStep(io: StepIO, program: string, args: string[], options: Omit<RunOptions, 'onLine' | 'signal'> = {}): Promise<void> {
  const r = await io.run(program, args, {...options, onLine: io.onLine, signal: io.signal})
  if (r.exitCode !== 0) {
    const lastLines = trimBlank(r.lastLines)
    const firstError = r.firstError !== undefined && !lastLines.includes(r.firstError) ? r.firstError : undefined
    throw new StepFailed(stepName(program, args), r.exitCode, lastLines, firstError, {argv: [program, ...args], cwd: options.cwd, env: options.env}, r.missing)
  }
}

/** `lines` without the blank lines at their start and end. */
function trimBlank(lines: string[]): string[] {
  const first = lines.findIndex((l) => l.trim() !== '')
  if (first === -1) return []
  const last = lines.findLastIndex((l) => l.trim() !== '')
  return lines.slice(first, last + 1)
}

/**
 * Why a tool failed, in one line: its first line that reads as an error (`docker: unknown command: docker buildx`,
 * not the `Run 'docker --help'` after it), else its last non-blank line, else its exit code and that it printed nothing.
 */
export function failureReason(r: RunResult): string {
  const lines = r.lastLines.map((l) => l.trim()).filter((l) => l !== '' && !HELP_POINTER.test(l))
  return r.firstError?.trim() ?? lines.find((l) => ERROR_LINE.test(l)) ?? lines.at(-1) ?? `exit ${r.exitCode} (it printed nothing)`
}

/** `docker build`, `docker buildx build`, `podman manifest push`: the program and its leading subcommand words. */
function stepName(program: string, args: string[]): string {
  const words = [program]
  for (const a of args.slice(0, 2)) {
    if (!/^[a-z]+$/.test(a)) break
    words.push(a)
  }
  return words.join(' ')
}

/** The flags docker build, docker buildx build and podman build share, in a fixed order. */
export function buildFlags(b: ImageBuild, options: {platforms: boolean}): string[] {
  const flags: string[] = []
  if (b.dockerfile) flags.push('--file', b.dockerfile)
  if (b.target) flags.push('--target', b.target)
  for (const [name, value] of b.args) flags.push('--build-arg', `${name}=${value}`)
  if (options.platforms && b.platforms.length) flags.push('--platform', b.platforms.join(','))
  return flags
}

/** What choosing a builder found out about one candidate. */
interface Probe {
  name: string
  ok: boolean
  /** The program is not installed. */
  missing: boolean
  why: string
}

async function probe(run: ProcessRunner, name: string, program: string, args: string[], signal?: AbortSignal): Promise<Probe> {
  const r = await run(program, args, signal ? {signal} : {})
  const why = r.missing ? `${program} is not installed` : failureReason(r)
  return {name, ok: r.exitCode === 0, missing: r.missing, why: `${stepName(program, args)}: ${why}`}
}

/**
 * The builder to use: `requested`, or the first that works of docker buildx, docker build + push (a reachable
 * daemon) and podman. None: a NoBuilderError (exit 2) naming what was looked for and what to install. `signal` stops
 * the probes (the builder is no longer needed).
 */
export async function chooseBuilder(requested: BuilderName | undefined, run: ProcessRunner, signal?: AbortSignal): Promise<Builder> {
  const {buildxBuilder} = await import('./buildx.js')
  const {dockerBuilder} = await import('./docker.js')
  const {podmanBuilder} = await import('./podman.js')
  const daemon = () => probe(run, 'docker build + push', 'docker', ['version', '--format', '{{.Server.Version}}'], signal)
  const buildx = () => probe(run, 'docker buildx', 'docker', ['buildx', 'version'], signal)
  const podman = () => probe(run, 'podman', 'podman', ['version', '--format', '{{.Client.Version}}'], signal)
  const found: Probe[] = []
  const attempt = async (check: () => Promise<Probe>): Promise<boolean> => {
    const p = await check()
    found.push(p)
    return p.ok
  }
  if (requested === 'buildx' && (await attempt(buildx))) return buildxBuilder
  if (requested === 'docker' && (await attempt(daemon))) return dockerBuilder
  if (requested === 'podman' && (await attempt(podman))) return podmanBuilder
  if (requested === undefined) {
    const [d, x] = await Promise.all([daemon(), buildx()])
    found.push(x, d)
    if (d.ok && x.ok) return buildxBuilder
    if (d.ok) return dockerBuilder
    if (await attempt(podman)) return podmanBuilder
  }
  const looked = found.map((p) => `${p.name} (${p.why})`).join('; ')
  throw new NoBuilderError(`no image builder found${requested ? ` for --builder ${requested}` : ''}: looked for ${looked}`, {
    hint: noBuilderHint(
      requested,
      found.find((p) => p.name === 'docker build + push'),
    ),
    details: {requested: requested ?? 'auto', lookedFor: found.map(({name, why}) => ({builder: name, why}))},
  })
}

/**
 * What to do when no builder works. When docker is installed but `docker version` found no daemon, the daemon is
 * what is missing (not docker): say where docker looked (DOCKER_HOST), not what to install.
 */
function noBuilderHint(requested: BuilderName | undefined, daemon: Probe | undefined): string {
  if (requested === 'buildx') return 'Install the docker buildx plugin (Debian: apt-get install docker-buildx; Docker Desktop has it), or choose --builder docker or podman.'
  if (requested === 'podman') return 'Install podman (Debian: apt-get install podman), or choose --builder buildx or docker.'
  if (daemon && !daemon.missing) {
    const where = process.env.DOCKER_HOST ? `at DOCKER_HOST=${process.env.DOCKER_HOST}` : 'at its default socket (unix:///var/run/docker.sock, or the current docker context)'
    return `docker is installed, but its daemon does not answer ${where}: is dockerd running (systemctl start docker, or Docker Desktop), and may this user use its socket? Set DOCKER_HOST to a daemon elsewhere${requested ? ', or choose --builder podman' : ', or install podman (apt-get install podman), or give the service a build.command'}.`
  }
  return 'Install Docker and start its daemon (Debian: apt-get install docker.io docker-buildx; or Docker Desktop), or podman (apt-get install podman); or give the service a build.command. DOCKER_HOST names a daemon elsewhere.'
}

/**
 * A failed step as a command to paste in a shell in `cwd`: paths inside the build folder (a temporary copy that is
 * removed when the build ends) become the same paths in the repository at `root`, relative to where the command runs
 * (absolute in the variables); a step that ran in another folder or with added variables (build.command) gets them in
 * front, in a subshell.
 */
export function pastableCommand(ran: NonNullable<StepFailed['ran']>, folder: string, root: string, cwd: string): string {
  const inRepo = (word: string, from?: string): string => {
    const at = word.indexOf(folder)
    const rest = at === -1 ? undefined : word.slice(at + folder.length)
    if (rest === undefined || (rest !== '' && !rest.startsWith('/'))) return word
    const path = join(root, rest)
    return word.slice(0, at) + (from === undefined ? path : relative(from, path) || '.')
  }
  const dir = ran.cwd === undefined ? cwd : inRepo(ran.cwd)
  const words = ran.argv.map((w) => shellWord(inRepo(w, dir)))
  const env = Object.entries(ran.env ?? {}).map(([k, v]) => `${k}=${shellWord(inRepo(v))}`)
  const line = [...env, ...words].join(' ')
  const cd = relative(cwd, dir)
  return cd === '' ? line : `(cd ${shellWord(cd)} && ${line})`
}
