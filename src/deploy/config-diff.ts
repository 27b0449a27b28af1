import type {Kubectl} from '../kubectl/kubectl.js'
import {isContentNamed, type KubeObject} from '../render/objects.js'

/**
 * A service's config-folder ConfigMap is named after its content (`web-config-<hash>`), so a changed file makes a new
 * ConfigMap and the old one is pruned: `kubectl diff` shows the new one whole, as if nothing had been there, and the
 * old one as pruned. A one-character change in a 780 KB file printed the file twice over, on one line. `skycap diff`
 * pairs the two instead and shows what changed in the files: this module.
 */

/** A new content-named ConfigMap and the live one of the same service it replaces (the one the deploy prunes). */
export interface ReplacedConfigMap {
  next: KubeObject
  previous: string
}

/**
 * The new content-named ConfigMaps (`added`: refs not in the cluster yet) paired with the live one of the same name
 * stem that the deploy prunes; a stem with more than one such live ConfigMap is left unpaired (which one runs?).
 */
export function replacedConfigMaps(objects: KubeObject[], added: string[], pruned: string[]): ReplacedConfigMap[] {
  const stem = (name: string) => name.replace(/-[0-9a-f]{10}$/, '')
  const out: ReplacedConfigMap[] = []
  for (const next of objects) {
    if (next.kind !== 'ConfigMap' || !isContentNamed(next.metadata.name) || !added.includes(`ConfigMap/${next.metadata.name}`)) continue
    const candidates = pruned.filter((ref) => ref.startsWith('ConfigMap/') && isContentNamed(ref.slice(10)) && stem(ref.slice(10)) === stem(next.metadata.name))
    if (candidates.length === 1) out.push({next, previous: (candidates[0] as string).slice(10)})
  }
  return out
}

interface ConfigData {
  data?: Record<string, string>
  binaryData?: Record<string, string>
}

/** A line longer than this is shown around its first change (or its start), not whole. */
const LONG_LINE = 240

/**
 * The diff of each pair's files, as the section that replaces the new ConfigMap's in `skycap diff` (one `kubectl get`
 * for every live one). A pair whose live ConfigMap cannot be read (gone meanwhile) is left out: kubectl's view stays.
 */
export async function configMapChanges(kubectl: Kubectl, pairs: ReplacedConfigMap[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  if (pairs.length === 0) return out
  const r = await kubectl.run(['get', 'configmaps', ...pairs.map((p) => p.previous), '--ignore-not-found', '-o', 'json'], {allowFailure: true})
  if (r.exitCode !== 0) return out
  let live: Array<KubeObject & ConfigData>
  try {
    const parsed = JSON.parse(r.stdout || '{"items":[]}') as {items?: Array<KubeObject & ConfigData>; kind?: string}
    // One name asked: kubectl answers with the object itself, not a List.
    live = parsed.items ?? (parsed.kind === 'ConfigMap' ? [parsed as KubeObject & ConfigData] : [])
  } catch {
    return out
  }
  const {structuredPatch} = await import('diff')
  for (const pair of pairs) {
    const before = live.find((o) => o.metadata.name === pair.previous)
    if (!before) continue
    const after = pair.next as KubeObject & ConfigData
    const lines = [`--- ConfigMap/${pair.previous} (live)`, `+++ ConfigMap/${pair.next.metadata.name} (after deploy: replaces ConfigMap/${pair.previous}; its files' changes)`]
    const keys = [...new Set([...Object.keys(before.data ?? {}), ...Object.keys(after.data ?? {})])].sort()
    for (const key of keys) {
      const [a, b] = [before.data?.[key], after.data?.[key]]
      if (a === b) continue
      const patch = structuredPatch(key, key, a ?? '', b ?? '', '', '', {context: 3})
      const what = a === undefined ? ' (new file)' : b === undefined ? ' (removed)' : ''
      for (const hunk of patch.hunks) {
        // An empty range starts at the line before it, as diff -u writes it (-0,0 for a new file).
        const range = (start: number, count: number) => `${count === 0 ? start - 1 : start},${count}`
        lines.push(`@@ -${range(hunk.oldStart, hunk.oldLines)} +${range(hunk.newStart, hunk.newLines)} @@ ${key}${what}`)
        lines.push(...clipLongLines(hunk.lines.filter((l) => !l.startsWith('\\'))))
      }
    }
    const binary = [...new Set([...Object.keys(before.binaryData ?? {}), ...Object.keys(after.binaryData ?? {})])].sort()
    for (const key of binary) {
      const [a, b] = [before.binaryData?.[key], after.binaryData?.[key]]
      if (a === b) continue
      const size = (v: string | undefined) => (v === undefined ? 'none' : `${Buffer.from(v, 'base64').length} bytes`)
      lines.push(`@@ ${key} (binary) @@`, a === undefined ? `+ (new file, ${size(b)})` : b === undefined ? `- (removed, ${size(a)})` : `~ (changed: ${size(a)} → ${size(b)})`)
    }
    out.set(`ConfigMap/${pair.next.metadata.name}`, lines)
  }
  return out
}

/**
 * Hunk lines with the long ones cut to a window: a removed line and the added line that follows it in the same run
 * (the usual one-line change) around their first differing character, any other from its start.
 */
export function clipLongLines(lines: string[]): string[] {
  const out = [...lines]
  for (let i = 0; i < lines.length;) {
    if (!lines[i]?.startsWith('-')) {
      out[i] = clip(lines[i] as string, 0)
      i++
      continue
    }
    let j = i
    while (lines[j]?.startsWith('-')) j++
    let k = j
    while (lines[k]?.startsWith('+')) k++
    for (let n = i; n < k; n++) {
      const line = lines[n] as string
      const partner = n < j ? lines[j + (n - i)] : lines[i + (n - j)]
      const paired = partner !== undefined && (n < j ? n - i < k - j : n - j < j - i)
      out[n] = clip(line, paired ? firstDifference(line.slice(1), partner.slice(1)) : 0)
    }
    i = k
  }
  return out
}

function firstDifference(a: string, b: string): number {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  return i
}

/** `line` (its first character is the diff's mark) cut to about LONG_LINE characters around `at` in its text. */
function clip(line: string, at: number): string {
  const text = line.slice(1)
  if (text.length <= LONG_LINE) return line
  const start = Math.max(0, at - 80)
  const end = Math.min(text.length, start + LONG_LINE)
  return `${line[0]}${start > 0 ? '…' : ''}${text.slice(start, end)}${end < text.length ? '…' : ''} (a line of ${text.length} characters, cut${start > 0 ? ` from character ${start + 1}` : ''})`
}
