import {classify, type Kubectl} from '../kubectl/kubectl.js'
import type {KubeObject} from '../render/objects.js'

const DIFF = ['diff', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-']

/** The objects a diff touches, as Kind/name, from the `diff -u -N LIVE MERGED` header lines. */
export function changedObjects(diff: string): string[] {
  const out: string[] = []
  for (const m of diff.matchAll(/^diff -u -N \S+\/LIVE-\d+\/(\S+) /gm)) {
    // <group.>version.Kind.namespace.name
    const parts = (m[1] as string).split('.')
    const name = parts.at(-1)
    const kind = parts.at(-3)
    if (name && kind) out.push(`${kind}/${name}`)
  }
  return out
}

/**
 * Replaces Secret values in a diff with "(redacted)" (kubectl masks most, this makes sure). A value may span lines
 * (a block scalar such as a PEM key): every line indented deeper than the keys of data/stringData is dropped.
 */
export function redactSecrets(diff: string): string {
  const out: string[] = []
  let inSecret = false
  let inData = false
  let keyIndent = 0
  for (const line of diff.split('\n')) {
    const indent = /^[-+ ]( *)/.exec(line)?.[1]?.length ?? 0
    if (line.startsWith('diff -u -N')) {
      inSecret = /[/.]v1\.Secret\./.test(line)
      inData = false
    } else if (inSecret && /^[-+ ](data|stringData):/.test(line)) {
      inData = true
      keyIndent = 0
    } else if (inSecret && inData && indent > 0 && /^[-+ ] *[^ ]/.test(line)) {
      if (keyIndent === 0) keyIndent = indent
      if (indent > keyIndent) continue
      out.push(line.replace(/^([-+ ] +[^:]+:).*$/, '$1 (redacted)'))
      continue
    } else if (/^[-+ ][^ ]/.test(line)) {
      inData = false
    }
    out.push(line)
  }
  return out.join('\n')
}

/** Runs kubectl diff of `objects` against the cluster (one call): the unified diff, redacted. */
export async function diffObjects(kubectl: Kubectl, objects: KubeObject[]): Promise<string> {
  const r = await kubectl.run(DIFF, {input: JSON.stringify({apiVersion: 'v1', kind: 'List', items: objects}), allowFailure: true})
  // kubectl diff: 0 no differences, 1 differences, >1 an error.
  if (r.exitCode > 1 || r.exitCode < 0) {
    throw classify(DIFF, r.stderr, kubectl.context)
  }
  return redactSecrets(r.stdout)
}

/** One line per object a deploy would create or change, for the protected-environment prompt. */
export async function changeSummary(kubectl: Kubectl, objects: KubeObject[]): Promise<string> {
  const changed = changedObjects(await diffObjects(kubectl, objects))
  if (changed.length === 0) return 'No changes to the objects (the rollout re-applies them).'
  return `Changes: ${changed.join(', ')}`
}
