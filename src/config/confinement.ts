import {lstatSync, readlinkSync, realpathSync} from 'node:fs'
import {isAbsolute, relative, sep} from 'node:path'

import {ConfigError} from '../errors.js'

/**
 * skycap reads templates and config files from the repository only: a deploy must not ship a file of the machine
 * it runs on (`config: /etc`, a committed link to /etc/shadow). `root` is the work tree (git or Mercurial) that holds skycap.yaml,
 * or, for an older revision, the temporary folder the commit's files were written to.
 */

/** Whether `path` is `root` or lies under it; both must already be real paths. */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))
}

/** Where the existing `path` really lies (links resolved) when that is outside `root`; undefined when inside. */
export function resolvesOutside(root: string, path: string): string | undefined {
  const real = realpathSync(path)
  return isInside(realpathSync(root), real) ? undefined : real
}

/** Whether `path` is a symbolic link (one to nowhere included); false when nothing is there. */
export function isSymbolicLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink()
  } catch {
    return false
  }
}

/**
 * Checks an entry of a config or templates folder: a symbolic link is allowed only when it resolves inside `root`.
 * A link that points outside, or nowhere, is a ConfigError naming the link (`shown`) and its target.
 */
export function checkLink(root: string, path: string, shown: string, shownRoot: string): void {
  if (!lstatSync(path).isSymbolicLink()) return
  const target = readlinkSync(path)
  let outside: string | undefined
  try {
    outside = resolvesOutside(root, path)
  } catch {
    throw new ConfigError(`symbolic link to ${target}, which does not exist`, {file: shown}, {hint: 'Remove the link or commit the file it should point to.', details: {link: shown, target}})
  }
  if (outside !== undefined) {
    throw new ConfigError(
      `symbolic link to ${target}${outside === target ? '' : ` (${outside})`}, outside the repository ${shownRoot}; skycap reads only files inside it`,
      {file: shown},
      {hint: 'Copy the file into the repository instead of linking to it, or remove the link.', details: {link: shown, target, resolved: outside}},
    )
  }
}

/** Hidden files and folders (.git, .github, an editor's .something.yaml) in the templates folder are not read. */
export function isHidden(name: string): boolean {
  return name.startsWith('.')
}

/** Why the folder of skycap.yaml cannot be the templates folder. */
export function templatesBesideConfig(templates: string): string {
  return `templates: "${templates}" is the folder of skycap.yaml, whose YAML files (skycap.yaml itself, a CI pipeline, a compose file) would all be read as manifests; put the templates in a folder of their own (default deploy/) and name it here`
}
