// The kubeconfig's current context, read from its files where the answer is certain: one kubectl process (`kubectl
// config current-context`, 40-70 ms) less for every command on an environment that names no context.
import {existsSync, readFileSync} from 'node:fs'
import {homeFolder} from '../paths.js'
import {delimiter, join} from 'node:path'

/** Larger kubeconfig files are left to kubectl (no regular expression over megabytes). */
const MAX_BYTES = 4 * 1024 * 1024

/** The kubeconfig files kubectl reads: the paths of KUBECONFIG in order, else ~/.kube/config. */
export function kubeconfigFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean)
  return listed.length > 0 ? [...new Set(listed)] : [join(env.HOME || homeFolder(), '.kube', 'config')]
}

/**
 * Why kubectl knows no context at all, when it is that none of its files exists (kubectl skips missing ones without a
 * word): `KUBECONFIG names /x/kc, which does not exist`. Undefined when one of them exists.
 */
export function noKubeconfigNote(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const files = kubeconfigFiles(env)
  if (files.some((file) => existsSync(file))) return undefined
  const listed = files.join(', ')
  if (!env.KUBECONFIG) return `${listed} does not exist`
  return `KUBECONFIG names ${listed}, which ${files.length === 1 ? 'does' : 'do'} not exist`
}

/**
 * The current context as `kubectl config current-context` prints it, read from the kubeconfig files as kubectl
 * finds them: the paths of KUBECONFIG in order (missing files skipped), else ~/.kube/config; the first file that
 * sets `current-context` wins. Undefined whenever kubectl's answer could differ or kubectl should say why there is
 * none: no file sets it, a file cannot be read, or one is written in a way this reader does not follow (JSON, a
 * quoted key, escapes, a comment, anchors, a duplicated key): kubectl is asked then.
 */
export function currentContextFromFiles(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return currentContextSource(env)?.context
}

/**
 * The current context and the file that sets it, read as currentContextFromFiles reads them (undefined where it
 * leaves the answer to kubectl): an error about a current context no file defines names where it came from.
 */
export function currentContextSource(env: NodeJS.ProcessEnv = process.env): {context: string; file: string} | undefined {
  for (const file of kubeconfigFiles(env)) {
    let text: string
    try {
      const bytes = readFileSync(file)
      if (bytes.length > MAX_BYTES) return undefined
      text = bytes.toString('utf8')
    } catch (error) {
      // A missing file is skipped by kubectl too; anything else (a folder, no permission) is kubectl's to explain.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
      return undefined
    }
    // A second YAML document (`---`, or `...` ending the first): which of them kubectl reads is kubectl's to say.
    if (/^(---|\.\.\.)\s*$/m.test(text.replace(/^---\s*\n/, ''))) return undefined
    if (!text.includes('current-context')) continue
    const found = [...text.matchAll(/^current-context:(.*)$/gm)]
    // The key in another form (JSON, quoted, indented under something else) or twice: kubectl decides.
    if (found.length !== 1 || text.split('current-context').length !== 2) return undefined
    const value = scalar((found[0]?.[1] ?? '').trim())
    if (value === undefined) return undefined
    // An empty one does not count: kubectl goes on to the next file.
    if (value !== '') return {context: value, file}
  }
  return undefined
}

/** A YAML scalar as kubectl's writer emits it (plain, '…', or "…" without escapes); undefined for anything else. */
function scalar(raw: string): string | undefined {
  if (raw === '') return ''
  const single = /^'((?:[^']|'')*)'$/.exec(raw)
  if (single) return (single[1] as string).replaceAll("''", "'")
  const double = /^"([^"\\]*)"$/.exec(raw)
  if (double) return double[1] as string
  // A plain null, boolean or number is no string to YAML: `current-context: null` is unset to kubectl, which takes the
  // next file's (this read "null"); kubectl decides these.
  if (/^(~|null|true|false|yes|no|on|off|[-+]?[0-9][0-9_.:eExXoObB+-]*|[-+]?\.(inf|nan))$/i.test(raw)) return undefined
  // Plain: the characters context names use (kind-x, gke_p_z_n, arn:aws:eks:…:cluster/n, user@cluster, a.b.c).
  return /^[A-Za-z0-9_][A-Za-z0-9_.@:/+=-]*$/.test(raw) ? raw : undefined
}
