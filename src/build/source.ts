import {createHash} from 'node:crypto'
import {lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'

import {temporaryFolder as makeTemporaryFolder} from '../folders.js'
import type {Vcs} from '../vcs/vcs.js'

/** Where the files a build sees are written (os.tmpdir()/skycap-build-XXXXXX); removed when the build ends. */
export const BUILD_FOLDER_PREFIX = 'skycap-build-'

/** The files of one build, in a temporary folder laid out as the repository. */
export interface BuildSource {
  dir: string
  /** For a copied work tree: a hash of every file's path, mode and content (12 hex digits). */
  contentHash?: string
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

/**
 * A copy of the work tree's buildable files (tracked, and untracked but not ignored: what the VCS lists), and the
 * hash of exactly what was copied, so two different dirty states never share a tag.
 */
export async function copyWorkTree(vcs: Vcs): Promise<BuildSource> {
  const files = await vcs.workTreeFiles()
  const folder = temporaryFolder()
  const hash = createHash('sha256')
  try {
    for (const path of files) {
      const from = join(vcs.root, path)
      const to = join(folder.dir, path)
      const stat = lstatSync(from)
      mkdirSync(dirname(to), {recursive: true})
      if (stat.isSymbolicLink()) {
        const link = readlinkSync(from)
        hash.update(`${path}\0l\0${link}\0`)
        symlinkSync(link, to)
      } else if (stat.isFile()) {
        const content = readFileSync(from)
        const executable = (stat.mode & 0o111) !== 0
        hash.update(`${path}\0${executable ? 'x' : 'f'}\0${content.length}\0`).update(content)
        writeFileSync(to, content, {mode: executable ? 0o755 : 0o644})
      }
    }
  } catch (error) {
    folder.remove()
    throw error
  }
  return {...folder, contentHash: hash.digest('hex').slice(0, 12)}
}
