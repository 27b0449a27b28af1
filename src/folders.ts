import {accessSync, constants, mkdirSync, mkdtempSync, statSync, type Stats} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'

import {ConfigError, UserError} from './errors.js'

/** The file that keeps `folder` from being a folder: `folder` itself or one of its parents; undefined when none is. */
export function fileInTheWay(folder: string): string | undefined {
  let current = resolve(folder)
  for (;;) {
    const stat = statIfExists(current)
    if (stat) return stat.isDirectory() ? undefined : current
    const parent = dirname(current)
    if (parent === current) return undefined
    current = parent
  }
}

/** The UserError for a file where `flag` needs a folder. */
export function fileInTheWayError(flag: string, folder: string, blocker: string): UserError {
  const what = blocker === resolve(folder) ? `${flag} ${folder} is a file, not a folder` : `${flag} ${folder}: ${blocker} is a file, not a folder`
  return new UserError(`${what}; nothing was written`, {
    hint: `Pass a folder path (skycap creates missing folders), or move ${blocker} away.`,
    details: {path: folder, file: blocker},
  })
}

/**
 * Creates `folder` and its missing parents and checks that skycap can write into it. A file in the way, a folder
 * skycap may not write to, or a path that cannot be created is a UserError (exit 2) naming the path.
 */
export function ensureWritableFolder(folder: string, flag: string): void {
  let blocker: string | undefined
  try {
    blocker = fileInTheWay(folder)
  } catch (error) {
    throw writeError(error, flag, folder)
  }
  if (blocker) throw fileInTheWayError(flag, folder, blocker)
  try {
    makeFolders(resolve(folder))
    accessSync(folder, constants.W_OK | constants.X_OK)
  } catch (error) {
    throw writeError(error, flag, folder)
  }
}

const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS'])
const UNUSABLE_PATH = new Set(['ENOENT', 'ENOTDIR', 'EEXIST', 'EISDIR', 'ENAMETOOLONG', 'ELOOP', 'EINVAL'])

/** An fs error met while writing into `folder`, as a UserError when the path is the problem; any other error unchanged. */
export function writeError(error: unknown, flag: string, folder: string): unknown {
  const code = errorCode(error)
  if (code === undefined) return error
  // Node's messages read "EACCES: permission denied, open '/x/y'"; keep the middle part.
  const reason = /^[A-Z]+: ([^,]+)/.exec((error as Error).message)?.[1] ?? code
  if (NOT_WRITABLE.has(code)) {
    return new UserError(`cannot write into ${flag} ${folder}: ${reason} (${code})`, {
      hint: 'Choose a folder you can write to, or change its permissions.',
      details: {path: folder, code},
      cause: error,
    })
  }
  if (UNUSABLE_PATH.has(code)) {
    return new UserError(`cannot create ${flag} ${folder}: ${reason} (${code})`, {
      hint: 'Pass a folder path that can be created, e.g. ./out.',
      details: {path: folder, code},
      cause: error,
    })
  }
  return error
}

/**
 * A new folder `prefix`XXXXXX in the system's temporary folder (TMPDIR, else /tmp). One that cannot be made (TMPDIR
 * missing, not writable, read-only) is a UserError naming TMPDIR; it was Node's "ENOENT: …, mkdtemp", exit 1.
 */
export function temporaryFolder(prefix: string): string {
  const base = tmpdir()
  try {
    return mkdtempSync(join(base, prefix))
  } catch (error) {
    const code = errorCode(error)
    if (code === undefined) throw error
    const reason = /^[A-Z]+: ([^,]+)/.exec((error as Error).message)?.[1] ?? code
    const from = process.env.TMPDIR ? `TMPDIR (${base})` : base
    throw new UserError(`cannot create a temporary folder in ${from}: ${reason} (${code})`, {
      hint: `skycap copies files there for a while; ${process.env.TMPDIR ? 'point TMPDIR at a folder you can write to, or unset it' : `make ${base} writable, or set TMPDIR to a folder you can write to`}.`,
      details: {path: base, code},
      cause: error,
    })
  }
}

const NOT_READABLE = new Set(['EACCES', 'EPERM'])

/**
 * A file or folder of the repository skycap may not read (a template, a config file, skycap.yaml, their folders), as
 * a ConfigError (exit 2) naming it as `show` shows paths; any other error unchanged. It was Node's own
 * "EACCES: permission denied, open '/x/y'", exit 1, with no word on what to do.
 */
export function readError(error: unknown, show: (path: string) => string = (path) => path): unknown {
  const code = errorCode(error)
  const path = (error as {path?: unknown} | undefined)?.path
  if (code === undefined || !NOT_READABLE.has(code) || typeof path !== 'string') return error
  const folder = /^[A-Z]+: [^,]+, (scandir|opendir)/.test((error as Error).message)
  const user = process.geteuid === undefined ? 'this user' : `uid ${process.geteuid()}`
  // Not "chmod a+r": a template or config file may hold a Secret's values.
  return new ConfigError(
    `permission denied (${code}): skycap, running as ${user}, cannot read this ${folder ? 'folder' : 'file'}`,
    {file: show(path)},
    {
      hint: `Give ${user} ${folder ? 'read and search' : 'read'} access to it (\`ls -l${folder ? 'd' : ''} ${show(path)}\` shows its owner and mode), or run skycap as its owner.`,
      details: {path: show(path), code},
      cause: error,
    },
  )
}

// Not mkdirSync({recursive: true}): on Node 20, 22.23 and 24.22 alike it loops forever on a path it cannot create under an existing folder,
// e.g. /proc/x, where mkdir fails with ENOENT.
/** Creates `folder` and its missing parents (with `mode`, less the umask); throws what mkdir throws. */
export function makeFolders(folder: string, mode?: number): void {
  if (statIfExists(folder)) return
  const parent = dirname(folder)
  if (parent !== folder) makeFolders(parent, mode)
  try {
    mkdirSync(folder, mode)
  } catch (error) {
    if (errorCode(error) !== 'EEXIST' || !statIfExists(folder)?.isDirectory()) throw error
  }
}

function statIfExists(path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch (error) {
    const code = errorCode(error)
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw error
  }
}

function errorCode(error: unknown): string | undefined {
  const code = (error as {code?: unknown} | undefined)?.code
  return typeof code === 'string' ? code : undefined
}
