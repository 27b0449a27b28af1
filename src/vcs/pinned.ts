// A checkout without VCS metadata (a CI workspace, a build context without .git) whose revision SKYCAP_REVISION
// names: the work tree is that revision's tree, and no other revision can be read.
import {cpSync, existsSync, lstatSync, mkdirSync, readdirSync} from 'node:fs'
import {join, posix, relative, sep} from 'node:path'

import {UserError} from '../errors.js'
import {checkRevisionInput} from './target.js'
import type {Revision, RevisionSummary, Vcs} from './vcs.js'

export class PinnedCheckout implements Vcs {
  readonly kind = 'none'

  constructor(
    /** The folder that holds skycap.yaml: the checkout's files. */
    readonly root: string,
    /** SKYCAP_REVISION, a full id. */
    private readonly id: string,
    /** Which VCS the id comes from (skycap.yaml's `vcs:`), for the length of the short id. */
    private readonly from: 'git' | 'hg',
  ) {}

  async remoteUrl(): Promise<string | undefined> {
    // Without metadata there is no remote; GITHUB_REPOSITORY or skycap.yaml names the repository instead.
    return undefined
  }

  async resolve(rev?: string): Promise<Revision> {
    const input = rev ?? this.id
    checkRevisionInput(input)
    if (!this.names(input)) throw this.cannot(`name revision "${input}"`)
    // The work tree is taken as the revision's tree: without metadata nothing can tell a change in it.
    return {input, sha: this.id, short: this.id.slice(0, this.from === 'hg' ? 12 : 7), subject: '', author: '', dirty: false, atHead: true}
  }

  async extract(id: string, paths: string[], into: string): Promise<string[]> {
    this.only(id, 'read the files of another revision')
    const written: string[] = []
    for (const path of new Set(paths)) {
      if (!existsSync(join(this.root, path))) continue
      cpSync(join(this.root, path), join(into, path), {recursive: true, verbatimSymlinks: true})
      written.push(...filesUnder(this.root, path))
    }
    return [...new Set(written)].sort()
  }

  async exportTree(id: string, into: string): Promise<void> {
    this.only(id, 'export another revision')
    mkdirSync(into, {recursive: true})
    cpSync(this.root, into, {recursive: true, verbatimSymlinks: true})
  }

  async isTracked(path: string): Promise<boolean> {
    // Without metadata every file of the checkout counts as the revision's.
    return existsSync(join(this.root, path))
  }

  async workTreeFiles(): Promise<string[]> {
    return filesUnder(this.root, '').sort()
  }

  async ignoredFiles(): Promise<string[]> {
    // No VCS metadata: nothing is ignored.
    return []
  }

  async between(from: string, to: string): Promise<RevisionSummary[]> {
    throw this.cannot(`list the revisions between ${from} and ${to}`)
  }

  /** Whether `rev` names SKYCAP_REVISION: the id, a prefix of it (4 digits or more), HEAD or `.`. */
  private names(rev: string): boolean {
    const r = rev.toLowerCase()
    return r === 'head' || r === '.' || (r.length >= 4 && /^[0-9a-f]+$/.test(r) && this.id.startsWith(r))
  }

  private only(id: string, what: string): void {
    if (id !== this.id) throw this.cannot(what)
  }

  private cannot(what: string): UserError {
    return new UserError(`${this.root} has no git or Mercurial repository, so skycap cannot ${what}: only SKYCAP_REVISION (${this.id.slice(0, 12)}) is known`, {
      hint: 'Run skycap in a clone with history for older revisions (a CI checkout with .git or .hg, fetched deep enough), or name no revision to use SKYCAP_REVISION.',
      details: {SKYCAP_REVISION: this.id, root: this.root},
    })
  }
}

/** The files (and links) under `path` of `root`, relative to `root` with forward slashes; none when it is missing. */
export function filesUnder(root: string, path: string): string[] {
  const full = join(root, path)
  const stat = lstatSync(full, {throwIfNoEntry: false})
  if (!stat) return []
  if (!stat.isDirectory()) return [relative(root, full).split(sep).join(posix.sep)]
  return readdirSync(full).flatMap((name) => filesUnder(root, path ? join(path, name) : name))
}
