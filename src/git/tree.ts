import {mkdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {dirname, isAbsolute, join, posix} from 'node:path'

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
export async function extractTree(root: string, sha: string, paths: string[], into: string): Promise<string[]> {
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
        const inRepo = isAbsolute(link) ? undefined : posix.normalize(posix.join(posix.dirname(entry.path), link))
        if (inRepo !== undefined && !inRepo.startsWith('..')) next.push(inRepo)
      } else {
        writeFileSync(target, content, {mode: entry.mode === '100755' ? 0o755 : 0o644})
      }
      written.add(entry.path)
    })
    wanted = [...new Set(next)].filter((p) => !written.has(p))
  }
  return [...written].sort()
}

async function listTree(root: string, sha: string, paths: string[]): Promise<TreeEntry[]> {
  const {execa} = await import('execa')
  // --literal-pathspecs: a folder named `:(top)x` in skycap.yaml is a name, not pathspec magic.
  const r = await execa('git', ['--literal-pathspecs', 'ls-tree', '-r', '-z', '--full-tree', sha, '--', ...paths], {cwd: root})
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
  const r = await execa('git', ['cat-file', '--batch'], {cwd: root, input: `${objects.join('\n')}\n`, encoding: 'buffer', maxBuffer: 1024 * 1024 * 1024})
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
