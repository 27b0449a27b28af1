// git behind the Vcs interface: simple-git for questions, execa for the byte streams (archive, cat-file).
import {existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {basename, dirname, isAbsolute, join, posix} from 'node:path'

import type {SimpleGit} from 'simple-git'

import {UserError} from '../errors.js'
import {shellWord} from '../ui/shell-word.js'
import {checkRevisionInput, REVISION_FORMS} from './target.js'
import type {ResolveOptions, Revision, RevisionSummary, Vcs} from './vcs.js'
import {oneLine} from '../one-line.js'

/** The git repository that holds `dir`, or undefined when there is none. */
export async function openGit(dir: string, pinned?: string): Promise<GitVcs | undefined> {
  // Most repositories are found without a git process (and without loading simple-git): see topLevelOf.
  const known = topLevelOf(dir)
  if (known !== undefined) return new GitVcs(known, pinned)
  try {
    const root = (await (await client(dir)).raw(['rev-parse', '--show-toplevel'])).trim()
    return root ? new GitVcs(root, pinned) : undefined
  } catch (error) {
    // With SKYCAP_REVISION the folder is read as a checkout without metadata (src/vcs/pinned.ts), as before.
    const refused = pinned === undefined ? dubiousOwnership(error) : undefined
    if (refused !== undefined) throw refused
    return undefined
  }
}

/**
 * git's refusal of a repository another user owns (git 2.35.2 and later; the classic CI container, whose checkout
 * belongs to the runner's user while the job runs as root, or the reverse) as a UserError; undefined for any other
 * error. Without it skycap said the folder "is not inside a git or Mercurial repository".
 */
function dubiousOwnership(error: unknown): UserError | undefined {
  const text = error instanceof Error ? error.message : String(error)
  const at = /detected dubious ownership in repository at '([^']*)'/.exec(text)?.[1]
  if (at === undefined) return undefined
  let owner = ''
  try {
    owner = ` (owner uid ${statSync(at).uid}, skycap runs as uid ${process.geteuid?.() ?? '?'})`
  } catch {
    // The uids only explain; git's refusal is the error.
  }
  return new UserError(`git refuses to read the repository at ${at}: it belongs to another user${owner}`, {
    hint: `Mark it safe for this user (git config --global --add safe.directory ${shellWord(at)}; in a CI container the job's user may differ from the checkout's), or run skycap as the user who owns it.`,
    details: {repository: at, reason: 'dubious_ownership'},
  })
}

/** simple-git at `baseDir`. */
async function client(baseDir: string): Promise<SimpleGit> {
  const {simpleGit} = await import('simple-git')
  // onExit: false: a git command is done when its output is closed. simple-git's default also starts a 50 ms timer
  // when git exits (for commands whose children keep the output open; none of skycap's), and that timer kept
  // skycap's process alive: `config validate` ended 50 ms after its work did.
  return simpleGit({baseDir, completion: {onClose: true, onExit: false}})
}

/**
 * execa's options for a git process skycap starts itself (for the byte streams simple-git is not made for): in `cwd`,
 * in the environment simple-git gives its git, without any `GIT_` variable, so that `GIT_DIR` or `GIT_WORK_TREE`
 * never make it read another repository than the one skycap's questions (through simple-git) were answered from.
 */
function inRepository(cwd: string): {cwd: string; env: NodeJS.ProcessEnv; extendEnv: false} {
  return {cwd, env: Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toUpperCase().startsWith('GIT_'))), extendEnv: false}
}

/**
 * Environment variables that change where git finds a repository, its work tree or its configuration: with any of
 * them set, git itself is asked.
 */
const DISCOVERY_ENV = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_COMMON_DIR',
  'GIT_OBJECT_DIRECTORY',
  'GIT_CEILING_DIRECTORIES',
  'GIT_DISCOVERY_ACROSS_FILESYSTEM',
  'GIT_CONFIG',
  'GIT_CONFIG_PARAMETERS',
  'GIT_CONFIG_COUNT',
]

/**
 * The work tree's top folder as `git rev-parse --show-toplevel` prints it, found by reading the file system, or
 * undefined whenever git's answer could differ, so that git is asked instead. A git process and simple-git's modules
 * cost about 12 ms, which every command that reads skycap.yaml paid to learn the folder its files must stay inside.
 *
 * Read here only in the common case: from the real path of `dir` upward, on one file system, the first folder with a
 * `.git` folder that looks like a repository to git (HEAD, objects/, refs/), owned with its work tree by this user
 * (git refuses others' repositories unless safe.directory says so), whose config sets no core.worktree, no
 * core.bare = true, no extensions.worktreeConfig and includes no other file. Anything else (a `.git` file of a
 * linked work tree or submodule, `dir` inside `.git`, the variables above, root under sudo): undefined.
 */
export function topLevelOf(dir: string): string | undefined {
  if (DISCOVERY_ENV.some((name) => process.env[name] !== undefined)) return undefined
  const uid = process.geteuid?.()
  if (uid === undefined || (uid === 0 && process.env.SUDO_UID !== undefined)) return undefined
  let at: string
  let device: number
  try {
    at = realpathSync(dir)
    device = statSync(at).dev
  } catch {
    return undefined
  }
  for (;;) {
    if (basename(at) === '.git') return undefined
    const dotGit = join(at, '.git')
    const found = lstatSync(dotGit, {throwIfNoEntry: false})
    if (found) {
      if (!found.isDirectory() || found.uid !== uid || statSync(at).uid !== uid) return undefined
      if (!['HEAD', 'objects', 'refs'].every((part) => existsSync(join(dotGit, part)))) return undefined
      let config: string
      try {
        config = readFileSync(join(dotGit, 'config'), 'utf8')
      } catch {
        return undefined
      }
      // core.worktree, extensions.worktreeConfig (a config.worktree file may set it), core.bare set true (`bare` alone
      // means true), an include or includeIf: git's answer could differ.
      if (/^\s*(worktree\s*=|worktreeconfig\b|bare\s*(=\s*(true|yes|on|1)\s*)?$|\[\s*include)/im.test(config)) return undefined
      return at
    }
    const parent = dirname(at)
    if (parent === at) return undefined
    let parentDevice: number
    try {
      parentDevice = statSync(parent).dev
    } catch {
      return undefined
    }
    // git stops at a file system's boundary unless told otherwise.
    if (parentDevice !== device) return undefined
    at = parent
  }
}

/**
 * The branch a pipeline deploys from: the remote `origin`'s default branch as the clone recorded it
 * (`refs/remotes/origin/HEAD`), else `master` when that is the branch checked out, else `main`. Read from the
 * repository's files (`init` runs no git); a linked work tree or anything unusual gives `main`.
 */
export function pipelineBranchOf(dir: string): string {
  const top = topLevelOf(dir)
  const read = (path: string) => {
    try {
      return top ? readFileSync(join(top, '.git', path), 'utf8').trim() : ''
    } catch {
      return ''
    }
  }
  const origin = /^ref: refs\/remotes\/origin\/(\S+)$/.exec(read('refs/remotes/origin/HEAD'))?.[1]
  if (origin && origin !== 'HEAD') return origin
  return read('HEAD') === 'ref: refs/heads/master' ? 'master' : 'main'
}

/** What a shallow clone's errors add: why the revision is missing, and the command that fetches it. */
export const SHALLOW_HINT = 'this is a shallow clone; fetch more history: git fetch --unshallow (or --deepen=N)'

export class GitVcs implements Vcs {
  readonly kind = 'git'
  /** simple-git, loaded on the first question: a command that needs only the root (config validate) never loads it. */
  private client?: Promise<SimpleGit>

  constructor(
    readonly root: string,
    /** SKYCAP_REVISION: what resolve() means with no revision. */
    private readonly pinned?: string,
  ) {}

  /** `git ARGS` in the root, through simple-git: its stdout. */
  private async raw(args: string[]): Promise<string> {
    this.client ??= client(this.root)
    return (await this.client).raw(args)
  }

  async resolve(rev?: string, options: ResolveOptions = {}): Promise<Revision> {
    const input = rev ?? this.pinned ?? 'HEAD'
    checkRevisionInput(input)
    // Every git command here prints something: simple-git waits 50 ms more for a command that wrote nothing at all
    // (its completion plugin), which a clean `git status --porcelain` did on every render and deploy.
    // --branch: the `# branch.…` header lines are always there; a changed or untracked file is any other line.
    // `git log` calls say --no-show-signature: with log.showSignature set (common with signed commits), git printed
    // "Good "git" signature for …" before the format, which became part of the id, the author and the commit list.
    const status = () => (options.workTree === false ? Promise.resolve('') : this.raw(['status', '--porcelain=v2', '--branch']))
    const isDirty = (text: string) => text.split('\n').some((line) => line !== '' && !line.startsWith('# '))
    if (input === 'HEAD') {
      // The work tree's own revision (render, diff and deploy of ENV): its id, author and subject come from one
      // `git log`, at the same time as the status.
      const [meta, text] = await Promise.all([this.raw(['log', '--no-show-signature', '-1', '--format=%H%x00%an <%ae>%x00%s', 'HEAD']).catch(() => undefined), status()])
      const [sha = '', author = '', subject = ''] = (meta ?? '').trim().split('\0')
      // No commit yet, or something else git refused: commitOf says what, as for any other revision.
      if (!/^[0-9a-f]{40}$/.test(sha)) await this.commitOf(input, rev === undefined && this.pinned !== undefined)
      else return {input, sha, short: sha.slice(0, 7), subject: oneLine(subject), author: oneLine(author), dirty: isDirty(text), atHead: true}
    }
    const sha = await this.commitOf(input, rev === undefined && this.pinned !== undefined)
    const [head, meta, text] = await Promise.all([
      input === 'HEAD'
        ? sha
        : this.raw(['rev-parse', '--verify', '--quiet', 'HEAD']).then(
            (s) => s.trim(),
            () => '',
          ),
      this.raw(['log', '--no-show-signature', '-1', '--format=%an <%ae>%x00%s', sha]),
      status(),
    ])
    const [author = '', subject = ''] = meta.trim().split('\0')
    const atHead = sha === head
    const dirty = atHead && isDirty(text)
    return {input, sha, short: sha.slice(0, 7), subject: oneLine(subject), author: oneLine(author), dirty, atHead}
  }

  extract(id: string, paths: string[], into: string): Promise<string[]> {
    return extractTree(this.root, id, paths, into)
  }

  async exportTree(id: string, into: string): Promise<void> {
    mkdirSync(into, {recursive: true})
    const {execa} = await import('execa')
    // `git archive` writes the committed tree (honouring export-ignore), never the index or the work tree. Through a
    // file beside the folder, not a pipe: execa's pipe carries every byte through Node, which took about twice as long
    // (140 against 90 ms for 16 MiB, bench/build.ts).
    const archive = `${into}.tar`
    try {
      // core.autocrlf off: files as committed, whatever this machine's git would do to line endings on checkout
      // (.gitattributes' own eol and filters, such as Git LFS's, apply as they do for every clone).
      await execa('git', ['-c', 'core.autocrlf=false', 'archive', '--format=tar', '-o', archive, id], inRepository(this.root))
      await execa('tar', ['-x', '-f', archive, '-C', into])
    } finally {
      rmSync(archive, {force: true})
    }
  }

  async isTracked(path: string): Promise<boolean> {
    // --literal-pathspecs: a path is a name, never a pattern; it goes after `--`, so it is never an option.
    const out = await this.raw(['--literal-pathspecs', 'ls-files', '-z', '--', path])
    return out.length > 0
  }

  async workTreeFiles(): Promise<string[]> {
    const {execa} = await import('execa')
    const r = await execa('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], inRepository(this.root))
    // A tracked file deleted in the work tree is listed by --cached; a build cannot see it.
    const files = [...new Set(r.stdout.split('\0').filter(Boolean))].filter((p) => existsSync(join(this.root, p))).sort()
    // What `git archive` leaves out (export-ignore, on a file or on a folder above it) stays out of the copy too, so
    // a work tree's image holds what a commit's would.
    const paths = [...new Set(files.flatMap((f) => f.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'))))]
    const attrs = await execa('git', ['check-attr', '-z', '--stdin', 'export-ignore'], {...inRepository(this.root), input: `${paths.join('\0')}\0`})
    const fields = attrs.stdout.split('\0')
    const ignored = new Set<string>()
    for (let i = 0; i + 2 < fields.length; i += 3) if (fields[i + 2] === 'set') ignored.add(fields[i] as string)
    if (ignored.size === 0) return files
    return files.filter((f) => !f.split('/').some((_, i, parts) => ignored.has(parts.slice(0, i + 1).join('/'))))
  }

  async ignoredFiles(paths: string[]): Promise<string[]> {
    const {execa} = await import('execa')
    // --directory: an ignored folder (dist/, node_modules/) is one line, not its thousands of files.
    const r = await execa('git', ['--literal-pathspecs', 'ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--directory', '--', ...paths.map((p) => p || '.')], inRepository(this.root))
    return [...new Set(r.stdout.split('\0').filter(Boolean))].sort()
  }

  async between(from: string, to: string): Promise<RevisionSummary[]> {
    const [a, b] = [await this.commitOf(from), await this.commitOf(to)]
    // The same revision: nothing between (and no `git log` that prints nothing, which simple-git waits 50 ms on).
    if (a === b) return []
    const out = await this.raw(['log', '--no-show-signature', '--reverse', '--format=%H%x00%an <%ae>%x00%s%x00', `${a}..${b}`])
    const fields = out.split('\0')
    const list: RevisionSummary[] = []
    for (let i = 0; i + 2 < fields.length; i += 3) {
      const sha = (fields[i] as string).trim()
      list.push({sha, short: sha.slice(0, 7), author: oneLine(fields[i + 1] as string), subject: oneLine(fields[i + 2] as string)})
    }
    // A shallow clone's history stops at its boundary commits: a range that reaches one is cut short, not complete.
    const boundary = await this.shallowBoundary()
    if (list.some((r) => boundary.has(r.sha))) {
      throw new UserError(`the history between ${a.slice(0, 7)} and ${b.slice(0, 7)} is incomplete: ${SHALLOW_HINT}`, {details: {from: a, to: b}})
    }
    return list
  }

  async remoteUrl(): Promise<string | undefined> {
    const url = await this.raw(['remote', 'get-url', 'origin']).catch(() => '')
    return url.trim() || undefined
  }

  /** The commit `rev` names; a clear error when it names none. `pinned`: the revision came from SKYCAP_REVISION. */
  private async commitOf(rev: string, pinned = false): Promise<string> {
    let sha: string
    try {
      // --end-of-options: nothing the user typed can be read as an option.
      sha = (await this.raw(['rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`])).trim()
    } catch (error) {
      const text = String((error as Error).message)
      if (/ambiguous/i.test(text)) {
        const candidates = await this.ambiguousCandidates(rev)
        throw new UserError(`revision "${rev}" is ambiguous: it matches ${candidates.length > 1 ? candidates.length : 'several'} commits or objects`, {
          hint: `Use more characters of the SHA${candidates.length ? ` (${candidates.slice(0, 5).join(', ')})` : ''}.`,
          details: {revision: rev, candidates},
        })
      }
      const unborn = rev === 'HEAD' && !pinned ? await this.unbornBranch() : undefined
      if (unborn !== undefined) {
        // A fresh `git init`: HEAD names a branch with no commit yet ("unknown revision HEAD" would send people to fetch).
        throw new UserError(`the git repository at ${this.root} has no commits yet (branch ${unborn} is empty)`, {
          hint: 'skycap maps commits to images: commit skycap.yaml with your templates and config (git add -A && git commit), then run it again.',
          details: {revision: rev, branch: unborn},
        })
      }
      const shallow = (await this.shallowBoundary()).size > 0
      const what = pinned ? `SKYCAP_REVISION ${rev} is not in the git repository at ${this.root}` : `unknown revision "${rev}" in ${this.root}`
      throw new UserError(shallow ? `${what}: ${SHALLOW_HINT}` : what, {
        hint: pinned ? 'Check out the revision CI built (or fetch it), or unset SKYCAP_REVISION.' : `Give ${REVISION_FORMS} that exists locally (git fetch first if CI built it from a remote branch).`,
        details: {revision: rev, shallow},
      })
    }
    if (!/^[0-9a-f]{40}$/.test(sha)) throw new UserError(`revision "${rev}" did not resolve to a commit`, {hint: 'Name a commit, branch or tag.'})
    return sha
  }

  private async ambiguousCandidates(prefix: string): Promise<string[]> {
    if (!/^[0-9a-f]{4,39}$/i.test(prefix)) return []
    try {
      // `git rev-parse --disambiguate` lists every object starting with the prefix.
      const out = await this.raw(['rev-parse', `--disambiguate=${prefix}`])
      return out.split('\n').filter(Boolean)
    } catch {
      return []
    }
  }

  /** The branch HEAD names when it has no commit yet (a fresh repository); undefined otherwise. */
  private async unbornBranch(): Promise<string | undefined> {
    try {
      const branch = (await this.raw(['symbolic-ref', '--short', 'HEAD'])).trim()
      // The branch exists once it has a commit; `show-ref` prints its id then, and fails (with a message) before.
      const exists = await this.raw(['show-ref', '--verify', `refs/heads/${branch}`]).then(
        () => true,
        () => false,
      )
      return branch && !exists ? branch : undefined
    } catch {
      return undefined
    }
  }

  /** The commits a shallow clone's history stops at (.git/shallow); empty for a complete clone. */
  private async shallowBoundary(): Promise<Set<string>> {
    try {
      const file = (await this.raw(['rev-parse', '--path-format=absolute', '--git-path', 'shallow'])).trim()
      return new Set(existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [])
    } catch {
      return new Set()
    }
  }
}

/** One file of a commit's tree, as `git ls-tree` lists it. */
interface TreeEntry {
  mode: string
  type: string
  object: string
  /** Relative to the repository root, with forward slashes. */
  path: string
}

const SYMLINK = '120000'

/**
 * Writes the files under `paths` (relative to the repository root `root`; files or folders) as they are in commit
 * `sha` into the folder `into`, laid out as in the repository. Nothing in the work tree, the index or the refs is
 * touched. Blobs are written as committed (no smudge or end-of-line filters). Symbolic links stay links; their
 * targets inside the repository are written too, so they resolve to the commit's files. Submodules are skipped.
 * Returns the paths written, sorted.
 */
async function extractTree(root: string, sha: string, paths: string[], into: string): Promise<string[]> {
  const written = new Set<string>()
  let wanted = [...new Set(paths)]
  // A few rounds follow links to links; a cycle ends when no new path is found.
  for (let round = 0; wanted.length > 0 && round < 8; round++) {
    const entries = (await listTree(root, sha, wanted)).filter((e) => !written.has(e.path) && e.type === 'blob')
    const blobs = await readBlobs(
      root,
      entries.map((e) => e.object),
    )
    const next: string[] = []
    entries.forEach((entry, i) => {
      const content = blobs[i] as Buffer
      const target = join(into, entry.path)
      mkdirSync(dirname(target), {recursive: true})
      if (entry.mode === SYMLINK) {
        const link = content.toString('utf8')
        symlinkSync(link, target)
        const inRepo = linkTargetInRepository(entry.path, link)
        if (inRepo !== undefined) next.push(inRepo)
      } else {
        writeFileSync(target, content, {mode: entry.mode === '100755' ? 0o755 : 0o644})
      }
      written.add(entry.path)
    })
    wanted = [...new Set(next)].filter((p) => !written.has(p))
  }
  return [...written].sort()
}

/** Where a link at `path` (relative to the root) points, relative to the root; undefined when outside. */
export function linkTargetInRepository(path: string, link: string): string | undefined {
  const inRepo = isAbsolute(link) ? undefined : posix.normalize(posix.join(posix.dirname(path), link))
  return inRepo !== undefined && !inRepo.startsWith('..') ? inRepo : undefined
}

async function listTree(root: string, sha: string, paths: string[]): Promise<TreeEntry[]> {
  // --literal-pathspecs: a folder named `:(top)x` in skycap.yaml is a name, not pathspec magic.
  const {execa} = await import('execa')
  const r = await execa('git', ['--literal-pathspecs', 'ls-tree', '-r', '-z', '--full-tree', sha, '--', ...paths], inRepository(root))
  const entries: TreeEntry[] = []
  for (const line of r.stdout.split('\0')) {
    const m = /^(\d+) (\w+) ([0-9a-f]+)\t(.+)$/s.exec(line)
    if (m) entries.push({mode: m[1] as string, type: m[2] as string, object: m[3] as string, path: m[4] as string})
  }
  return entries
}

/** The contents of `objects`, in order, from one `git cat-file --batch`. */
async function readBlobs(root: string, objects: string[]): Promise<Buffer[]> {
  if (objects.length === 0) return []
  const {execa} = await import('execa')
  const r = await execa('git', ['cat-file', '--batch'], {...inRepository(root), input: `${objects.join('\n')}\n`, encoding: 'buffer', maxBuffer: 1024 * 1024 * 1024})
  const out = Buffer.from(r.stdout)
  const blobs: Buffer[] = []
  let at = 0
  for (const object of objects) {
    // Each answer is "<object> <type> <size>\n<content>\n".
    const eol = out.indexOf(0x0a, at)
    const header = out.subarray(at, eol).toString('utf8')
    const size = Number(/^[0-9a-f]+ \w+ (\d+)$/.exec(header)?.[1])
    if (!Number.isInteger(size)) throw new Error(`git cat-file answered "${header}" for ${object}`)
    blobs.push(out.subarray(eol + 1, eol + 1 + size))
    at = eol + 1 + size + 1
  }
  return blobs
}
