// The version-control systems skycap reads revisions from, behind one interface: git today (src/git/), Mercurial next.
// Everything that needs a revision, a commit's files or the state of the work tree asks a Vcs, never git directly.
import {existsSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {isTracked, repositoryRoot, resolveRevision, type Revision} from '../git/revision.js'
import {extractTree} from '../git/tree.js'

export type {Revision} from '../git/revision.js'

export type VcsKind = 'git' | 'hg'

/** A repository, opened at its root. */
export interface Vcs {
  readonly kind: VcsKind
  /** The repository's top folder, as the VCS spells it (symlinks resolved). */
  readonly root: string
  /** Resolves what the user typed (id, short id, tag, branch, HEAD~N / `.~1`, ...; default the work tree's parent). */
  resolve(rev?: string): Promise<Revision>
  /** Writes the files under `paths` (relative to the root) as they are at revision `id` into `into`; returns them. */
  extract(id: string, paths: string[], into: string): Promise<string[]>
  /** Writes the whole tree at revision `id` into the folder `into` (created if missing): a clean export. */
  exportTree(id: string, into: string): Promise<void>
  /** Whether `path` (relative to the root) is tracked. */
  isTracked(path: string): Promise<boolean>
  /** The work tree's files that a build can see: tracked ones and untracked ones that are not ignored, relative to the root, sorted. */
  workTreeFiles(): Promise<string[]>
}

/** Opens the repository that holds `dir`. */
export async function openVcs(dir: string): Promise<Vcs> {
  return new GitVcs(await repositoryRoot(dir))
}

class GitVcs implements Vcs {
  readonly kind = 'git'
  constructor(readonly root: string) {}

  resolve(rev?: string): Promise<Revision> {
    return resolveRevision(this.root, rev)
  }

  extract(id: string, paths: string[], into: string): Promise<string[]> {
    return extractTree(this.root, id, paths, into)
  }

  async exportTree(id: string, into: string): Promise<void> {
    mkdirSync(into, {recursive: true})
    const {execa} = await import('execa')
    // `git archive` writes the committed tree (honouring export-ignore), never the index or the work tree.
    await execa('git', ['archive', '--format=tar', id], {cwd: this.root}).pipe('tar', ['-x', '-f', '-', '-C', into])
  }

  isTracked(path: string): Promise<boolean> {
    return isTracked(this.root, path)
  }

  async workTreeFiles(): Promise<string[]> {
    const {execa} = await import('execa')
    const r = await execa('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {cwd: this.root})
    // A tracked file deleted in the work tree is listed by --cached; a build cannot see it.
    return [...new Set(r.stdout.split('\0').filter(Boolean))].filter((p) => existsSync(join(this.root, p))).sort()
  }
}
