// The version-control systems skycap reads revisions from, behind one interface: git (src/vcs/git.ts), Mercurial
// (src/vcs/hg.ts), and a checkout without metadata that SKYCAP_REVISION names (src/vcs/pinned.ts).
// Everything that needs a revision, a commit's files or the state of the work tree asks a Vcs, never a VCS directly.
import {existsSync, realpathSync, statSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'

import {UserError} from '../errors.js'

/** What opened the repository: git, Mercurial, or none (a checkout without metadata that SKYCAP_REVISION names). */
export type VcsKind = 'git' | 'hg' | 'none'

/** The `vcs:` key of skycap.yaml: which repository to read revisions from. */
export type VcsChoice = 'auto' | 'git' | 'hg'

export interface ResolveOptions {
  /** Look for uncommitted changes (default true). */
  workTree?: boolean
}

/** A revision resolved to its commit (git) or changeset (Mercurial). */
export interface Revision {
  /** What the user typed (default "HEAD" in git, "." in Mercurial, the id when SKYCAP_REVISION stands in). */
  input: string
  /** The full id: a git commit SHA or a Mercurial changeset node, 40 hex digits. */
  sha: string
  /** The id as the VCS abbreviates it: 7 digits in git (what CI scripts use), 12 in Mercurial (as `hg log` shows). */
  short: string
  /** First line of the message; empty when unknown (SKYCAP_REVISION without a repository). */
  subject: string
  /** Who wrote it, "Name <email>"; empty when unknown. */
  author: string
  /** True when the input names the work tree's revision and the work tree has uncommitted changes. */
  dirty: boolean
  /** True when the revision is the one the work tree was checked out from. */
  atHead: boolean
}

/** One revision of a range, as `between` lists it. */
export type RevisionSummary = Pick<Revision, 'sha' | 'short' | 'subject' | 'author'>

/** A repository, opened at its root. */
export interface Vcs {
  readonly kind: VcsKind
  /** The repository's top folder, as the VCS spells it (symlinks resolved). */
  readonly root: string
  /**
   * Resolves what the user typed (id, short id, tag, branch, HEAD~N / `.~1`, ...; default the work tree's parent).
   * `workTree: false` skips looking for uncommitted changes (`dirty` is then false): a status can take long in a big
   * work tree, and a clean export of a commit does not need it.
   */
  resolve(rev?: string, options?: ResolveOptions): Promise<Revision>
  /** Writes the files under `paths` (relative to the root) as they are at revision `id` into `into`; returns them. */
  extract(id: string, paths: string[], into: string): Promise<string[]>
  /** Writes the whole tree at revision `id` into the folder `into` (created if missing): a clean export. */
  exportTree(id: string, into: string): Promise<void>
  /** Whether `path` (relative to the root) is tracked. */
  isTracked(path: string): Promise<boolean>
  /** The work tree's files that a build can see: tracked ones and untracked ones that are not ignored, relative to the root, sorted. */
  workTreeFiles(): Promise<string[]>
  /**
   * The work tree's ignored files under `paths` (relative to the root, `/`-separated; '' for all), which no build
   * sees: a folder wholly ignored is one entry ending in `/` where the VCS says so (git), sorted.
   */
  ignoredFiles(paths: string[]): Promise<string[]>
  /** The revisions in `to` that `from` lacks (git's `from..to`, Mercurial's `only(to, from)`), oldest first. */
  between(from: string, to: string): Promise<RevisionSummary[]>
  /** Where the repository was cloned from (git's remote origin, Mercurial's default path); undefined when none. */
  remoteUrl(): Promise<string | undefined>
}

export interface OpenOptions {
  /** skycap.yaml's `vcs:` (default auto: the repository nearest to `dir`). */
  kind?: VcsChoice
  /** The full id CI checked out (default $SKYCAP_REVISION): the revision when none is named, even without a repository. */
  pinned?: string
}

/** Opens the repository that holds `dir`: git or Mercurial as skycap.yaml's `vcs:` says (auto: the nearer one). */
export async function openVcs(dir: string, options: OpenOptions = {}): Promise<Vcs> {
  const kind = options.kind ?? 'auto'
  const pinned = pinnedRevision(options.pinned ?? process.env.SKYCAP_REVISION)
  const found = {git: findUp(dir, '.git'), hg: findUp(dir, '.hg', true)}
  // Both in one folder (hg-git, a mirror): git, unless skycap.yaml says `vcs: hg`.
  const chosen = kind !== 'auto' ? kind : found.hg !== undefined && (found.git === undefined || found.hg.length > found.git.length) ? 'hg' : 'git'
  if (chosen === 'hg') {
    const {openHg} = await import('./hg.js')
    if (found.hg !== undefined) return openHg(found.hg, pinned)
  } else {
    const {openGit} = await import('./git.js')
    // Asked even when no .git was seen: GIT_DIR and friends can place a repository anywhere.
    const git = await openGit(dir, pinned)
    if (git) return git
  }
  const {PinnedCheckout} = await import('./pinned.js')
  if (pinned !== undefined) return new PinnedCheckout(existsSync(dir) ? realpathSync(dir) : resolve(dir), pinned, kind === 'hg' ? 'hg' : 'git')
  const which = kind === 'auto' ? 'a git or Mercurial' : kind === 'git' ? 'a git' : 'a Mercurial'
  throw new UserError(`${dir} is not inside ${which} repository`, {
    hint:
      kind === 'auto'
        ? 'skycap maps revisions to images through the repository; run it in your application repository (git init or hg init, then commit), or set SKYCAP_REVISION to the full id CI checked out.'
        : `skycap.yaml says \`vcs: ${kind}\`; run skycap in that repository, set \`vcs: auto\`, or set SKYCAP_REVISION to the full id CI checked out.`,
    details: {dir, vcs: kind},
  })
}

/** SKYCAP_REVISION, checked: a full id (40 hex digits), lower case; undefined when unset or empty. */
export function pinnedRevision(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const id = value.trim().toLowerCase()
  if (!/^[0-9a-f]{40}$/.test(id)) {
    throw new UserError(`SKYCAP_REVISION "${value}" is not a full revision id`, {
      hint: 'Set it to the 40-hex-digit id CI checked out (git rev-parse HEAD, or hg log -r . -T "{node}"), or unset it.',
      details: {SKYCAP_REVISION: value},
    })
  }
  return id
}

/** Whether `dir` (or a folder above it) holds a git or Mercurial repository, as openVcs would find it without asking git. */
export function repositoryAround(dir: string): VcsKind | undefined {
  const found = {git: findUp(dir, '.git'), hg: findUp(dir, '.hg', true)}
  if (found.hg !== undefined && (found.git === undefined || found.hg.length > found.git.length)) return 'hg'
  return found.git === undefined ? undefined : 'git'
}

/** The root of the repository `dir` is in (the nearer of git's and Mercurial's, as repositoryAround), or undefined. */
export function repositoryRoot(dir: string): string | undefined {
  const found = [findUp(dir, '.git'), findUp(dir, '.hg', true)].filter((f): f is string => f !== undefined)
  return found.sort((a, b) => b.length - a.length)[0]
}

/** The nearest folder from `dir` upward that holds `name` (`folder`: only as a directory). */
function findUp(dir: string, name: string, folder = false): string | undefined {
  let at = resolve(dir)
  for (;;) {
    const candidate = join(at, name)
    if (existsSync(candidate) && (!folder || statSync(candidate).isDirectory())) return realpathSync(at)
    const parent = dirname(at)
    if (parent === at) return undefined
    at = parent
  }
}
