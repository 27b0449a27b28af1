import {createHash, type Hash} from 'node:crypto'
import {lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync} from 'node:fs'
import {open} from 'node:fs/promises'
import {dirname, join} from 'node:path'

import {InterruptedError, UserError} from '../errors.js'
import {temporaryFolder as makeTemporaryFolder} from '../folders.js'
import type {Vcs} from '../vcs/vcs.js'

/** Where the files a build sees are written (os.tmpdir()/skycap-build-XXXXXX); removed when the build ends. */
export const BUILD_FOLDER_PREFIX = 'skycap-build-'

/** The files of one build, in a temporary folder laid out as the repository. */
export interface BuildSource {
  dir: string
  /** For a copy of the work tree: copies more of it (WorkTreeSource). */
  copy?: (paths: string[], signal?: AbortSignal) => Promise<string>
  remove(): void
}

function temporaryFolder(): {dir: string; remove(): void} {
  const dir = makeTemporaryFolder(BUILD_FOLDER_PREFIX)
  return {dir, remove: () => rmSync(dir, {recursive: true, force: true})}
}

/** A clean export of the tree at revision `id`: uncommitted files never reach an image tagged with a commit. */
export async function exportRevision(vcs: Vcs, id: string): Promise<BuildSource> {
  const folder = temporaryFolder()
  try {
    await vcs.exportTree(id, folder.dir)
  } catch (error) {
    folder.remove()
    throw error
  }
  return folder
}

/** A copy of some of the work tree's files; `copy` adds more. */
export interface WorkTreeSource extends BuildSource {
  /**
   * Copies the files under `paths` (relative to the repository root, `/`-separated; a folder takes what lies in it)
   * that are not copied yet, and returns a hash (12 hex digits) of every file under them: path, mode and content.
   */
  copy: (paths: string[], signal?: AbortSignal) => Promise<string>
}

/**
 * The work tree's buildable files (tracked, and untracked but not ignored: what the VCS lists) under `paths` (the
 * files skycap.yaml needs to be read: itself, the templates and config folders), copied into a temporary folder laid
 * out as the repository. Only what a build reads is copied and hashed (its context and Dockerfile, `copy`): a big
 * file elsewhere in the work tree is neither read nor copied, and an edit outside every build context does not
 * change the dirty tag. Files are streamed, never read whole (Node reads no file of 2 GiB or more at once).
 */
export async function copyWorkTree(vcs: Vcs, paths: string[]): Promise<WorkTreeSource> {
  const files = await vcs.workTreeFiles()
  const folder = temporaryFolder()
  const copied = new Set<string>()
  const copy = async (under: string[], signal?: AbortSignal): Promise<string> => {
    const hash = createHash('sha256')
    for (const path of files.filter((f) => under.some((p) => isUnder(f, p)))) {
      const from = join(vcs.root, path)
      const to = join(folder.dir, path)
      const stat = lstatSync(from)
      const fresh = !copied.has(path)
      copied.add(path)
      if (fresh) mkdirSync(dirname(to), {recursive: true})
      if (stat.isSymbolicLink()) {
        const link = readlinkSync(from)
        hash.update(`${path}\0l\0${link}\0`)
        if (fresh) symlinkSync(link, to)
      } else if (stat.isFile()) {
        const executable = (stat.mode & 0o111) !== 0
        hash.update(`${path}\0${executable ? 'x' : 'f'}\0${stat.size}\0`)
        await copyHashing(from, fresh ? to : undefined, executable, hash, signal)
      }
    }
    return hash.digest('hex').slice(0, 12)
  }
  try {
    await copy(paths)
  } catch (error) {
    folder.remove()
    throw error
  }
  return {...folder, copy}
}

/** Whether `file` is `path`, lies under it, or lies above it (a link on the way to it must be copied too). */
function isUnder(file: string, path: string): boolean {
  return path === '' || file === path || file.startsWith(`${path}/`) || path.startsWith(`${file}/`)
}

/** Streams `from` into the hash and, when `to` is given, into that file. */
async function copyHashing(from: string, to: string | undefined, executable: boolean, hash: Hash, signal: AbortSignal | undefined): Promise<void> {
  const input = await open(from, 'r')
  const output = to === undefined ? undefined : await open(to, 'w', executable ? 0o755 : 0o644)
  try {
    const chunk = Buffer.allocUnsafe(1 << 20)
    for (;;) {
      const {bytesRead} = await input.read(chunk, 0, chunk.length)
      if (bytesRead === 0) break
      if (signal?.aborted) throw new InterruptedError('interrupted while copying the work tree; nothing was built or pushed')
      const data = chunk.subarray(0, bytesRead)
      hash.update(data)
      if (output) await output.write(data)
    }
  } catch (error) {
    if (error instanceof InterruptedError) throw error
    throw new UserError(`cannot copy ${from} for the work tree build: ${(error as Error).message}`, {hint: 'Check the file (its permissions, the free space of the temporary folder).', cause: error})
  } finally {
    await input.close()
    await output?.close()
  }
}
