import {homedir, userInfo} from 'node:os'
import {fileURLToPath} from 'node:url'

/** The installed package's root (this file is compiled to dist/src/paths.js). */
export const packageRoot = fileURLToPath(new URL('../../', import.meta.url))

/** Where the built-in manifest templates and the `skycap init` scaffold live. */
export const templatesDir = fileURLToPath(new URL('../../templates/', import.meta.url))

/**
 * The user's home folder: $HOME, else (unset or empty: a CI step, `env -i`) the password database's. Not os.homedir()
 * alone: it answers an empty HOME with "", and a cache under the relative ".cache" went into the folder skycap ran
 * in (the repository, which then had untracked files).
 */
export function homeFolder(): string {
  if (process.env.HOME) return process.env.HOME
  try {
    const home = userInfo().homedir
    if (home) return home
  } catch {
    // No entry for this uid (a container run with -u 12345): as Node answers.
  }
  return homedir()
}
