import {classify, type Kubectl} from '../kubectl/kubectl.js'
import {ANNOTATIONS, type KubeObject} from '../render/objects.js'
import {findPrunable, notYetServed, type Prunable} from './apply.js'
import {configMapChanges, replacedConfigMaps} from './config-diff.js'

const ANNOTATION = ANNOTATIONS.revision
const DIFF = ['diff', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-']

/** One object's part of a `kubectl diff`: the object as Kind/name and its lines after kubectl's `diff -u -N` header. */
export interface ObjectDiff {
  object: string
  lines: string[]
}

// kubectl names each object's temporary file <group.>version.Kind.namespace.name (namespace empty when cluster-scoped).
const HEADER = /^diff -u -N \S+\/LIVE-[^/\s]+\/(\S+) \S+$/
const FILE_NAME = /^(?:.+?\.)?v\d+(?:alpha\d+|beta\d+)?\.([A-Za-z0-9]+)\.([a-z0-9-]*)\.(.+)$/

/** Splits kubectl diff output per object; lines before the first header are dropped. */
export function objectDiffs(diff: string): ObjectDiff[] {
  const out: ObjectDiff[] = []
  for (const line of diff.split('\n')) {
    const file = HEADER.exec(line)?.[1]
    if (file !== undefined) {
      const m = FILE_NAME.exec(file)
      out.push({object: m ? `${m[1]}/${m[3]}` : file, lines: []})
    } else {
      out.at(-1)?.lines.push(line)
    }
  }
  return out
}

/** The objects a diff touches, as Kind/name, from kubectl's `diff -u -N LIVE MERGED` header lines. */
export function changedObjects(diff: string): string[] {
  return objectDiffs(diff).map((d) => d.object)
}

// What moves on every deploy without changing what runs: skycap's revision annotation in an object's
// metadata.annotations (indented 4; the pod template's annotations are deeper, so a change there still counts) and
// metadata.generation, which the server maintains.
const BOOKKEEPING = [new RegExp(`^ {4}${ANNOTATION.replace(/[./]/g, '\\$&')}: `), /^ {2}generation: \d+$/]

/** What the server's dry run of a create fills in on a new object's metadata: not what the deploy will give it. */
const DRY_RUN_CREATED = [/^\+ {2}uid: /, /^\+ {2}creationTimestamp: /, /^\+ {2}generation: \d+$/, /^\+ {2}resourceVersion: /]

/** Whether the only lines an object's diff changes are skycap's revision bookkeeping. */
export function onlyRevisionChanged(d: ObjectDiff): boolean {
  const changed = d.lines.filter((line, i) => /^[-+]/.test(line) && !(i < 2 && /^(---|\+\+\+) /.test(line)))
  return changed.length > 0 && changed.every((line) => BOOKKEEPING.some((re) => re.test(line.slice(1))))
}

/** What `skycap diff` shows and counts: objects that only move the revision dropped, headers naming the objects. */
export interface ReadableDiff {
  /** A unified diff with `--- Kind/name (live)` and `+++ Kind/name (after deploy)` headers; empty when nothing changes. */
  diff: string
  changed: string[]
  /** Objects whose only difference is skycap's revision bookkeeping: not listed, not a change. */
  revisionOnly: string[]
  /** Objects the deploy would prune (no longer rendered); also in `changed`. Absent when there is none. */
  pruned?: string[]
}

/** Turns (redacted) kubectl diff output into what a user reads. */
export function readableDiff(raw: string): ReadableDiff {
  const {sections, changed, revisionOnly} = readableSections(raw)
  const out = sections.flatMap((s) => s.lines)
  return {diff: out.length ? `${out.join('\n')}\n` : '', changed, revisionOnly}
}

/** readableDiff's sections, one per changed object (`added`: not in the cluster yet), before they are joined. */
function readableSections(raw: string): {sections: Array<{object: string; added: boolean; lines: string[]}>; changed: string[]; revisionOnly: string[]} {
  const sections: Array<{object: string; added: boolean; lines: string[]}> = []
  const changed: string[] = []
  const revisionOnly: string[] = []
  for (const d of objectDiffs(raw)) {
    if (onlyRevisionChanged(d)) {
      revisionOnly.push(d.object)
      continue
    }
    changed.push(d.object)
    // An object not in the cluster yet: one hunk from nothing. Its header said "(live)", and the server's dry run of
    // the create gave it a uid and a creation time, which no deploy will have. kubectl masks a Secret's values by
    // writing both sides again, a missing live one as the line `null`: that hunk is one from nothing too.
    const fromNull = /^@@ -1 \+1,\d+ @@/.test(d.lines[2] ?? '') && d.lines[3] === '-null'
    const isNew = fromNull || d.lines[2]?.startsWith('@@ -0,0 ') === true
    const from = fromNull ? [...d.lines.slice(0, 2), d.lines[2]!.replace(/^@@ -1 /, '@@ -0,0 '), ...d.lines.slice(4)] : d.lines
    let lines = from.map((line, i) =>
      i === 0 && line.startsWith('--- ') ? `--- ${d.object} ${isNew ? '(not in the cluster yet)' : '(live)'}` : i === 1 && line.startsWith('+++ ') ? `+++ ${d.object} (after deploy)` : line,
    )
    if (isNew) {
      const kept = lines.filter((line, i) => i < 3 || !DRY_RUN_CREATED.some((re) => re.test(line)))
      const dropped = lines.length - kept.length
      lines = kept.map((line, i) => (i === 2 ? line.replace(/^@@ -0,0 \+1,(\d+) @@/, (_, n: string) => `@@ -0,0 +1,${Number(n) - dropped} @@`) : line))
    }
    sections.push({object: d.object, added: isNew, lines: lines.at(-1) === '' ? lines.slice(0, -1) : lines})
  }
  return {sections, changed, revisionOnly}
}

/** The line `diff` prints, and the confirmation shows, when nothing but the revision would change. */
export function noChangesLine(revisionOnly: string[]): string {
  if (revisionOnly.length === 0) return 'No changes'
  return `No changes (${revisionOnly.join(', ')}: only the ${ANNOTATION} annotation would move; no pods restart)`
}

/**
 * Replaces Secret values in a diff with "(redacted)" (kubectl masks most, this makes sure). A value may span lines
 * (a block scalar such as a PEM key): every line indented deeper than the keys of data/stringData is dropped.
 * A Secret once applied with client-side `kubectl apply` also holds its values in the
 * `kubectl.kubernetes.io/last-applied-configuration` annotation, which kubectl does not mask: that value goes too,
 * and so does its JSON line where a hunk starts below the annotation's key.
 */
export function redactSecrets(diff: string): string {
  const out: string[] = []
  let inSecret = false
  let inData = false
  let keyIndent = 0
  // Indent of the last-applied annotation's key while its (possibly multi-line) value is being dropped.
  let lastApplied: number | undefined
  for (const line of diff.split('\n')) {
    const indent = /^[-+ ]( *)/.exec(line)?.[1]?.length ?? 0
    if (lastApplied !== undefined) {
      if (/^[-+ ] *[^ ]/.test(line) && indent > lastApplied) continue
      lastApplied = undefined
    }
    if (inSecret && LAST_APPLIED.test(line)) {
      lastApplied = indent
      out.push(line.replace(LAST_APPLIED, '$1 (redacted)'))
      continue
    }
    if (inSecret && /^[-+ ] *\{.*"kind" *: *"Secret"/.test(line)) {
      out.push(line.replace(/^([-+ ] *).*$/, '$1(redacted)'))
      continue
    }
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

const LAST_APPLIED = /^([-+ ] *["']?kubectl\.kubernetes\.io\/last-applied-configuration["']?:).*$/

/**
 * Runs kubectl diff of `objects` against the cluster (one call): redacted, without revision-only changes. With
 * `configFiles`, a new content-named ConfigMap that replaces one the deploy prunes is shown as the changes of its
 * files (src/deploy/config-diff.ts; one more kubectl call), not whole.
 */
export async function diffObjects(kubectl: Kubectl, objects: KubeObject[], prune?: {selector: string; keep: KubeObject[]}, options: {configFiles?: boolean} = {}): Promise<ReadableDiff> {
  // kubectl cannot diff a custom resource whose definition the release brings (its kind is not served yet): it is new.
  const unserved = new Set((await notYetServed(kubectl, objects)).map((r) => r.object))
  const compared = objects.filter((o) => !unserved.has(o))
  // KUBECTL_EXTERNAL_DIFF would replace `diff -u -N`, whose output this parses. The objects the deploy would prune
  // (what `prune.keep` lacks) are asked at the same time: kubectl diff does not see what is no longer rendered.
  const [r, prunable] = await Promise.all([
    kubectl.run(DIFF, {input: JSON.stringify({apiVersion: 'v1', kind: 'List', items: compared}), allowFailure: true, env: {KUBECTL_EXTERNAL_DIFF: ''}}),
    prune === undefined ? ({refs: [], claims: {}} as Prunable) : findPrunable(kubectl, prune.selector, prune.keep),
  ])
  const pruned = prunable.refs
  // kubectl diff: 0 no differences, 1 differences, >1 an error.
  if (r.exitCode > 1 || r.exitCode < 0) {
    throw classify(DIFF, r.stderr, kubectl.context, kubectl.namespace)
  }
  const {sections, changed, revisionOnly} = readableSections(redactSecrets(r.stdout))
  const pairs = options.configFiles
    ? replacedConfigMaps(
        compared,
        sections.filter((s) => s.added).map((s) => s.object),
        pruned,
      )
    : []
  const files = await configMapChanges(kubectl, pairs)
  const replacedBy = new Map(pairs.filter((p) => files.has(`ConfigMap/${p.next.metadata.name}`)).map((p) => [`ConfigMap/${p.previous}`, `ConfigMap/${p.next.metadata.name}`]))
  const shown = sections.flatMap((s) => files.get(s.object) ?? s.lines)
  const diff = shown.length ? `${shown.join('\n')}\n` : ''
  const added = [...unserved].map((o) => `${o.kind}/${o.metadata.name}`)
  const lines = [
    ...added.map((ref) => `+ ${ref} (new: its CustomResourceDefinition comes with this release)`),
    ...pruned.map((ref) => `- ${ref} (pruned: ${replacedBy.has(ref) ? `replaced by ${replacedBy.get(ref)}` : 'no longer rendered'}${prunable.claims[ref] ? `; ${prunable.claims[ref]}` : ''})`),
  ]
  if (lines.length === 0) return {diff, changed, revisionOnly}
  return {diff: `${diff}${lines.join('\n')}\n`, changed: [...changed, ...added, ...pruned], revisionOnly, ...(pruned.length ? {pruned} : {})}
}

/** One line naming the objects a deploy would create or change, for the protected-environment prompt. */
export async function changeSummary(kubectl: Kubectl, objects: KubeObject[], prune?: {selector: string; keep: KubeObject[]}): Promise<string> {
  const {changed, revisionOnly, pruned = []} = await diffObjects(kubectl, objects, prune)
  if (changed.length === 0) return `${noChangesLine(revisionOnly)}; the rollout re-applies the objects.`
  const kept = changed.filter((ref) => !pruned.includes(ref))
  return [kept.length ? `Changes: ${kept.join(', ')}` : '', pruned.length ? `Pruned once live: ${pruned.join(', ')}` : ''].filter(Boolean).join('\n')
}
