// Mercurial behind the Vcs interface: the `hg` command through execa, with an argument array, in plain mode.
import {existsSync, lstatSync, mkdirSync, readlinkSync} from 'node:fs'
import {join} from 'node:path'

import {UserError} from '../errors.js'
import {linkTargetInRepository} from './git.js'
import {filesUnder} from './pinned.js'
import {checkRevisionInput} from './target.js'
import type {ResolveOptions, Revision, RevisionSummary, Vcs} from './vcs.js'
import {oneLine} from '../one-line.js'

/** What a Mercurial revision can be, for hints. */
const HG_REVISION_FORMS = 'a changeset id (full or short), revision number, tag, bookmark, branch, tip, ., .~N or a revset'

const NULL_ID = '0'.repeat(40)
/** The id Mercurial gives the working directory (`wdir()`): not a changeset, so no image can exist for it. */
const WDIR_ID = 'f'.repeat(40)

/** The output of one hg command; `code` is its exit status. */
interface HgResult {
  stdout: string
  stderr: string
  code: number
}

/**
 * The Mercurial repository whose root is `root`: the folder where .hg was found (symlinks resolved), as `hg root`
 * would say, without the hg process (Python's start-up is most of an hg call's cost).
 */
export function openHg(root: string, pinned?: string): HgVcs {
  return new HgVcs(root, pinned)
}

/**
 * Runs `hg ARGS` in `cwd`. HGPLAIN turns off what a user's hgrc could change in the output (aliases, defaults,
 * localized messages, verbose or quiet modes, pager); extensions stay on, since reading the repository may need them
 * (largefiles, share). --noninteractive: hg never waits for an answer.
 */
async function hg(cwd: string, args: string[]): Promise<HgResult> {
  const {execa} = await import('execa')
  const env: NodeJS.ProcessEnv = {...process.env, HGPLAIN: '1', HGENCODING: 'utf-8'}
  delete env.HGPLAINEXCEPT
  const r = await execa('hg', ['--noninteractive', '--pager', 'never', ...args], {cwd, env, extendEnv: false, reject: false, maxBuffer: 1024 * 1024 * 1024})
  if (r.code === 'ENOENT') {
    throw new UserError(`hg (Mercurial) is not installed, and ${cwd} is a Mercurial repository`, {
      hint: 'Install Mercurial (apt-get install mercurial, brew install mercurial, pip install mercurial), or set `vcs: git` in skycap.yaml if the folder also holds a git repository.',
    })
  }
  const result = {stdout: String(r.stdout), stderr: String(r.stderr), code: r.exitCode ?? -1}
  // An hgrc hg cannot parse (the repository's .hg/hgrc, the user's, the system's) fails every hg command alike.
  const unreadable = result.code !== 0 ? /^(?:abort: )?(config error at .*)$/m.exec(result.stderr) : null
  if (unreadable) {
    throw new UserError(`hg cannot read its configuration, so skycap cannot read the Mercurial repository at ${cwd}: ${unreadable[1]}`, {
      hint: 'Fix that line of that file (`hg root` there says the same), then run skycap again.',
    })
  }
  return result
}

/** hg's own message, first line, without "abort: ". */
function hgMessage(r: HgResult): string {
  const line = r.stderr.split('\n').find((l) => l.trim()) ?? `hg exited with ${r.code}`
  return line.replace(/^abort:\s*/, '').trim()
}

/** One changeset as CHANGESET_TEMPLATE prints it. */
interface HgChangeset {
  node: string
  user: string
  desc: string
  /** "yes" when it is the work tree's parent (`.`). */
  parent: string
}

/** One JSON object per line: the fields skycap reads, and whether the changeset is `.` (one process, not two). */
const CHANGESET_TEMPLATE = "{dict(node, user, desc, parent=ifcontains(rev, revset('.'), 'yes', 'no'))|json}\n"

/** The changesets of `hg log -T CHANGESET_TEMPLATE`. */
function changesets(stdout: string): HgChangeset[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as HgChangeset)
}

/** A `path:` pattern: a file or folder relative to the root, matched literally (never a glob or regexp). */
function literal(path: string): string {
  return `path:${path}`
}

/**
 * skycap's git spellings, in Mercurial: HEAD is `.` (the work tree's parent), so `HEAD~2` and `HEAD^` mean in an hg
 * repository what they mean in a git one. Anything else is Mercurial's own syntax.
 */
export function hgRevision(rev: string): string {
  return rev.replace(/^HEAD(?=$|[~^])/, '.')
}

export class HgVcs implements Vcs {
  readonly kind = 'hg'

  constructor(
    readonly root: string,
    /** SKYCAP_REVISION: what resolve() means with no revision. */
    private readonly pinned?: string,
  ) {}

  async resolve(rev?: string, options: ResolveOptions = {}): Promise<Revision> {
    const input = rev ?? this.pinned ?? '.'
    checkRevisionInput(input)
    // Modified, added, removed, missing and unknown (not ignored) files: what `git status --porcelain` lists.
    const status = () => this.run(['status', '-mardu'])
    const wanted = options.workTree !== false
    // The work tree's changes matter only at `.`: asked alongside the log when the input names it (no wait), after the
    // log otherwise, and only when the revision is `.` after all (an older ENV@REV spares a Python start-up).
    const spellsDot = rev === undefined || hgRevision(rev) === '.'
    const [changeset, early] = await Promise.all([this.changeset(input, rev === undefined && this.pinned !== undefined), wanted && spellsDot ? status() : undefined])
    const sha = changeset.node
    const atHead = changeset.parent === 'yes'
    const changes = wanted && atHead ? (early ?? (await status())).stdout : ''
    return {input, sha, short: sha.slice(0, 12), subject: firstLine(changeset.desc), author: oneLine(changeset.user), dirty: changes.trim().length > 0, atHead}
  }

  async extract(id: string, paths: string[], into: string): Promise<string[]> {
    const node = await this.nodeOf(id)
    const written = new Set<string>()
    let wanted = [...new Set(paths)]
    // A few rounds follow links to links; a cycle ends when no new path is found.
    for (let round = 0; wanted.length > 0 && round < 8; round++) {
      mkdirSync(into, {recursive: true})
      // One hg process a round (Python's start-up is most of its cost): archive writes what the patterns match, and
      // the folder says what that was. --no-decode: the files as committed, as git's extract writes blobs;
      // ui.archivemeta: no .hg_archival.txt.
      const args = ['archive', '--config', 'ui.archivemeta=false', '-r', node, '-t', 'files', '--no-decode', ...wanted.flatMap((p) => ['-I', literal(p)]), '--', into]
      const r = await hg(this.root, args)
      // Patterns that match nothing at the revision: hg aborts before writing (exit 255) and there is nothing to read.
      if (r.code === 255 && /no files match/i.test(r.stderr)) break
      if (r.code !== 0) throw new Error(`hg archive failed in ${this.root}: ${hgMessage(r)}`)
      const files = wanted.flatMap((p) => filesUnder(into, p)).filter((p) => !written.has(p))
      const next: string[] = []
      for (const file of files) {
        written.add(file)
        const at = join(into, file)
        if (!lstatSync(at).isSymbolicLink()) continue
        const inRepo = linkTargetInRepository(file, readlinkSync(at))
        if (inRepo !== undefined) next.push(inRepo)
      }
      wanted = [...new Set(next)].filter((p) => !written.has(p))
    }
    return [...written].sort()
  }

  async exportTree(id: string, into: string): Promise<void> {
    const node = await this.nodeOf(id)
    mkdirSync(into, {recursive: true})
    // The committed tree (subrepositories left out), never the work tree; ui.archivemeta: no .hg_archival.txt.
    await this.run(['archive', '--config', 'ui.archivemeta=false', '-r', node, '-t', 'files', '--', into])
  }

  async isTracked(path: string): Promise<boolean> {
    // Tracked in the work tree: committed or added (git's "in the index").
    const r = await this.run(['files', '-0', '--', literal(path)], [0, 1])
    return r.stdout.length > 0
  }

  async workTreeFiles(): Promise<string[]> {
    // Modified, added, clean and unknown: every file a build can see (not removed, missing or ignored ones).
    const r = await this.run(['status', '-macu', '--no-status', '--print0'])
    return [...new Set(r.stdout.split('\0').filter(Boolean))].filter((p) => existsSync(join(this.root, p))).sort()
  }

  async ignoredFiles(paths: string[]): Promise<string[]> {
    const r = await this.run(['status', '-i', '--no-status', '--print0', '--', ...paths.map((p) => literal(p || '.'))])
    return [...new Set(r.stdout.split('\0').filter(Boolean))].sort()
  }

  async between(from: string, to: string): Promise<RevisionSummary[]> {
    const [a, b] = [await this.nodeOf(from), await this.nodeOf(to)]
    // Both are full ids (40 hex digits), so the revset holds nothing the user typed. --hidden: a release recorded at a
    // changeset that was amended since is still in the repository, as obsolete.
    const r = await this.run(['log', '--hidden', '-r', `sort(only(${b}, ${a}), rev)`, '-T', CHANGESET_TEMPLATE])
    return changesets(r.stdout).map((c) => ({sha: c.node, short: c.node.slice(0, 12), subject: firstLine(c.desc), author: oneLine(c.user)}))
  }

  async remoteUrl(): Promise<string | undefined> {
    // `hg paths default` exits 1 when the repository has no default path.
    const r = await hg(this.root, ['paths', 'default'])
    return r.code === 0 ? r.stdout.trim() || undefined : undefined
  }

  /** The full node `rev` names. */
  private async nodeOf(rev: string): Promise<string> {
    if (/^[0-9a-f]{40}$/.test(rev)) return rev
    checkRevisionInput(rev)
    return (await this.changeset(rev)).node
  }

  /** The one changeset `rev` names; a clear error when it names none or several. */
  private async changeset(rev: string, pinned = false): Promise<HgChangeset> {
    const spelled = hgRevision(rev)
    // -l 2: enough to tell one changeset from several.
    const r = await this.run(['log', '-r', spelled, '-l', '2', '-T', CHANGESET_TEMPLATE], [0, 255])
    if (r.code !== 0) throw await this.unresolved(rev, r, pinned)
    const found = changesets(r.stdout)
    const first = found[0]
    if (!first) throw new UserError(`revision "${rev}" names no changeset in ${this.root}`, {hint: `Give ${HG_REVISION_FORMS} that names one changeset.`, details: {revision: rev}})
    if (found.length > 1) {
      throw new UserError(`revision "${rev}" names several changesets in ${this.root}`, {
        hint: `Name one changeset: a changeset id, or a revset such as last(${spelled}) or max(${spelled}).`,
        details: {revision: rev},
      })
    }
    if (first.node === WDIR_ID || first.node === NULL_ID) {
      if (pinned) throw this.pinnedMissing(rev)
      if (first.node === WDIR_ID) {
        throw new UserError(`revision "${rev}" is the working directory, not a changeset`, {hint: 'Name a committed changeset (`.` is the one the work tree is at).', details: {revision: rev}})
      }
      const unborn = spelled === '.'
      throw new UserError(`revision "${rev}" is the null revision: ${unborn ? `the work tree of ${this.root} has no parent changeset` : `it lies before the first changeset of ${this.root}`}`, {
        hint: unborn ? 'Commit, or `hg update` to a changeset, then name it.' : 'Name a changeset that exists (`hg log` lists them).',
        details: {revision: rev},
      })
    }
    return first
  }

  /** The error for a revision hg could not resolve: ambiguous prefix, unknown name, revset syntax. */
  private async unresolved(rev: string, r: HgResult, pinned: boolean): Promise<UserError> {
    const said = hgMessage(r)
    // A prefix of several ids; hg says "ambiguous identifier" of other input too (a quoted string), where its words tell more.
    if (/ambiguous/i.test(said) && /^[0-9a-f]+$/i.test(rev)) {
      const candidates = await this.candidates(rev)
      return new UserError(`revision "${rev}" is ambiguous: it matches ${candidates.length > 1 ? candidates.length : 'several'} changesets`, {
        hint: `Use more characters of the changeset id${candidates.length ? ` (${candidates.slice(0, 5).join(', ')})` : ''}.`,
        details: {revision: rev, candidates},
      })
    }
    // An obsolete changeset (evolve, `hg commit --amend` with obsolescence markers): hg knows it, hides it, and says what
    // replaced it.
    const hidden = /^hidden revision '[^']*' (.*)$/.exec(said)
    if (hidden) {
      return new UserError(`revision "${rev}" is hidden in ${this.root}: it is obsolete (hg: it ${hidden[1]})`, {
        hint: `Name the changeset that replaced it; \`hg log --hidden -r ${rev}\` shows the obsolete one.`,
        details: {revision: rev, hg: said},
      })
    }
    if (pinned) return this.pinnedMissing(rev)
    if (/parse error|syntax error|not a function|unknown identifier|takes|expects/i.test(said) && !/unknown revision/i.test(said)) {
      return new UserError(`revision "${rev}" is not a valid Mercurial revision or revset: ${said}`, {hint: `Give ${HG_REVISION_FORMS}.`, details: {revision: rev}})
    }
    if (!/unknown revision/i.test(said)) {
      // A revset that failed for its own reason (a tag or bookmark that does not exist, a remote revset without a
      // path): hg's words say what.
      return new UserError(`revision "${rev}" names no changeset in ${this.root}: hg: ${said}`, {hint: `Give ${HG_REVISION_FORMS} that exists locally.`, details: {revision: rev, hg: said}})
    }
    return new UserError(`unknown revision "${rev}" in ${this.root}`, {
      hint: `Give ${HG_REVISION_FORMS} that exists locally (hg pull first if CI built it elsewhere).`,
      details: {revision: rev, hg: said},
    })
  }

  private pinnedMissing(id: string): UserError {
    return new UserError(`SKYCAP_REVISION ${id} is not in the Mercurial repository at ${this.root}`, {
      hint: 'Check out the revision CI built (hg pull -r ID), or unset SKYCAP_REVISION.',
      details: {revision: id},
    })
  }

  /** The changesets whose id starts with `prefix` (for an ambiguous short id). */
  private async candidates(prefix: string): Promise<string[]> {
    if (!/^[0-9a-f]{1,39}$/i.test(prefix)) return []
    const r = await this.run(['log', '-r', 'all()', '-T', '{node}\n'], [0, 255])
    return r.stdout.split('\n').filter((n) => n && n.startsWith(prefix.toLowerCase()))
  }

  /** Runs hg in the repository; an exit status outside `ok` is an error naming the command. */
  private async run(args: string[], ok: number[] = [0]): Promise<HgResult> {
    const r = await hg(this.root, args)
    if (!ok.includes(r.code)) throw new Error(`hg ${args[0]} failed in ${this.root}: ${hgMessage(r)}`)
    return r
  }
}

function firstLine(text: string): string {
  return oneLine(text.split('\n')[0] ?? '')
}
