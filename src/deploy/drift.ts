// What a deploy or rollback cannot change in the live objects it applies over: fields set by hand with kubectl, which
// server-side apply as manager skycap keeps (it removes only fields it owns), and Deployments paused by hand, which
// roll out nothing. Read from the live objects `claimedElsewhere` gets (with their managedFields).
import {UserError} from '../errors.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import type {KubeObject} from '../render/objects.js'

/** One manager's entry of `metadata.managedFields`. */
interface ManagedFields {
  manager?: string
  operation?: string
  subresource?: string
  time?: string
  fieldsV1?: FieldSet
}

type FieldSet = {[key: string]: FieldSet}

/**
 * A hand `kubectl apply` without --server-side: kubectl's server-side apply as skycap takes its fields over (it
 * migrates the client-side apply manager's fields to its own) and then removes those the release does not set, so
 * they do not stay (the warning named them, and the deploy removed them).
 */
const CLIENT_SIDE = new Set(['kubectl-client-side-apply', 'before-first-apply'])

/** Fields of a live object that one kubectl command set and the applied object does not: they stay after the apply. */
export interface HandSet {
  /** `Deployment/web` */
  ref: string
  /** `kubectl-set`, `kubectl-edit`, `kubectl-patch`, … */
  manager: string
  /** `spec.template.spec.containers[web].env[DEBUG]` */
  fields: string[]
}

/**
 * Fields set by hand that are nobody's concern: `kubectl rollout restart`'s annotation (restarts the pods, and a deploy
 * rolls them anyway), the replica count (`kubectl scale`: kept by design, see keepScaledReplicas), a pause, and a hand
 * `kubectl apply`'s record of itself.
 */
const IGNORED: string[][] = [
  ['f:spec', 'f:replicas'],
  // `kubectl rollout pause`: refused or warned of on its own (refusePaused, pausedNote).
  ['f:spec', 'f:paused'],
  ['f:metadata', 'f:annotations', 'f:kubectl.kubernetes.io/last-applied-configuration'],
  ['f:spec', 'f:template', 'f:metadata', 'f:annotations', 'f:kubectl.kubernetes.io/restartedAt'],
]

function ignored(path: string[]): boolean {
  return IGNORED.some((rule) => rule.length === path.length && rule.every((key, i) => key === path[i]))
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/**
 * The part of `value` that field-set key `key` names (`f:name` a field, `k:{"name":"web"}` the list item with those
 * keys, `v:"x"` a set's member, `i:0` a position), and how it reads in a path; `undefined` when `value` lacks it.
 */
function step(key: string, value: unknown): {part: unknown; label: string} {
  const kind = key.slice(0, 2)
  const rest = key.slice(2)
  if (kind === 'f:') {
    const part = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[rest] : undefined
    return {part, label: `.${rest}`}
  }
  if (kind === 'k:') {
    let wanted: Record<string, unknown> = {}
    try {
      wanted = JSON.parse(rest) as Record<string, unknown>
    } catch {
      return {part: undefined, label: `[${rest}]`}
    }
    const part = Array.isArray(value) ? value.find((item) => Object.entries(wanted).every(([k, v]) => sameJson((item as Record<string, unknown> | null)?.[k], v))) : undefined
    return {part, label: `[${Object.values(wanted).map(String).join(',')}]`}
  }
  if (kind === 'v:') {
    let wanted: unknown
    try {
      wanted = JSON.parse(rest)
    } catch {
      return {part: undefined, label: `[${rest}]`}
    }
    return {part: Array.isArray(value) && value.some((item) => sameJson(item, wanted)) ? wanted : undefined, label: `[${String(wanted)}]`}
  }
  if (kind === 'i:') return {part: Array.isArray(value) ? value[Number(rest)] : undefined, label: `[${rest}]`}
  return {part: undefined, label: `.${key}`}
}

/** Whether `set` (at `keys`) holds a field not IGNORED: a map holding only the restart annotation is not named. */
function named(set: FieldSet, keys: string[]): boolean {
  const children = Object.keys(set).filter((key) => key !== '.')
  return children.length === 0 ? !ignored(keys) : children.some((key) => !ignored([...keys, key]) && named(set[key] as FieldSet, [...keys, key]))
}

/** The fields of `set` that `applied` does not set, as paths (a missing item or map is named whole, not by its fields). */
function notApplied(set: FieldSet, applied: unknown, keys: string[], labels: string, out: string[]): void {
  for (const [key, child] of Object.entries(set)) {
    if (key === '.') continue
    const path = [...keys, key]
    if (ignored(path)) continue
    const {part, label} = step(key, applied)
    const shown = `${labels}${label}`
    // A field the release lacks is named by what it holds (`env[DEBUG]`, not `env`): down to its list items, named whole.
    const within = key.startsWith('f:') && Object.keys(child).some((k) => k !== '.')
    if (part === undefined && !within) {
      if (named(child, path)) out.push(shown.replace(/^\./, ''))
    } else notApplied(child, part, path, shown, out)
  }
}

/**
 * The fields of each live object that a kubectl command (`kubectl set env`, `edit`, `patch`, `label`, `annotate`, a
 * hand `apply --server-side`) set and the object skycap applies over it does not: server-side apply keeps them, so a deploy or a
 * rollback leaves them as they are (a field both set is skycap's again after the apply, and is not named). Only
 * kubectl's managers count: controllers (an HPA, a service mesh) write their own fields on purpose, and a status or
 * scale subresource is not the object's spec.
 */
export function handSetFields(live: KubeObject[], applied: KubeObject[]): HandSet[] {
  return live.flatMap((object) => {
    const wanted = asServed(applied.find((a) => a.kind === object.kind && a.metadata.name === object.metadata.name))
    if (!wanted) return []
    const entries = ((object.metadata as {managedFields?: ManagedFields[]}).managedFields ?? []).filter(
      (m) => m.manager !== undefined && /^kubectl(-|$)/.test(m.manager) && !CLIENT_SIDE.has(m.manager) && m.subresource === undefined && m.fieldsV1,
    )
    return entries.flatMap((entry) => {
      const fields: string[] = []
      notApplied(entry.fieldsV1 as FieldSet, wanted, [], '', fields)
      return fields.length ? [{ref: `${object.kind}/${object.metadata.name}`, manager: entry.manager as string, fields}] : []
    })
  })
}

/** `set` without what any of `others` holds: the fields only its manager owns. */
function ownedAlone(set: FieldSet, others: FieldSet[]): FieldSet {
  const out: FieldSet = {}
  for (const [key, child] of Object.entries(set)) {
    const theirs = others.map((o) => o[key]).filter((o): o is FieldSet => o !== undefined)
    if (theirs.length === 0) out[key] = child
    else if (key !== '.') {
      const rest = ownedAlone(child, theirs)
      if (Object.keys(rest).some((k) => k !== '.')) out[key] = rest
    }
  }
  return out
}

/**
 * An object as the API server keeps it, for comparing with the fields of the live one: a Secret's `stringData` is
 * written into `data` (managedFields own `data.<key>`), so a key the release gives in stringData was said removed.
 */
function asServed(object: KubeObject | undefined): KubeObject | undefined {
  const stringData = object?.kind === 'Secret' ? (object as {stringData?: Record<string, unknown>}).stringData : undefined
  if (!object || !stringData) return object
  return {...object, data: {...((object as {data?: Record<string, unknown>}).data ?? {}), ...stringData}} as KubeObject
}

/**
 * The fields a hand `kubectl apply` (client-side) set in a live object that the object skycap applies does not set,
 * and no other manager holds: kubectl hands them over to skycap as it applies and removes them then. Its dry run does
 * not (the hand-over is a write of its own), so `skycap diff` showed an adopted ConfigMap's key as staying while the
 * deploy deleted it. Said by diff and deploy instead.
 */
export function handAppliedRemovals(live: KubeObject[], applied: KubeObject[]): HandSet[] {
  return live.flatMap((object) => {
    const wanted = asServed(applied.find((a) => a.kind === object.kind && a.metadata.name === object.metadata.name))
    if (!wanted) return []
    const entries = ((object.metadata as {managedFields?: ManagedFields[]}).managedFields ?? []).filter((m) => m.subresource === undefined && m.fieldsV1)
    const others = entries.filter((m) => !CLIENT_SIDE.has(m.manager ?? '') && m.manager !== 'skycap').map((m) => m.fieldsV1 as FieldSet)
    const fields: string[] = []
    for (const entry of entries.filter((m) => CLIENT_SIDE.has(m.manager ?? '') && m.operation === 'Update')) notApplied(ownedAlone(entry.fieldsV1 as FieldSet, others), wanted, [], '', fields)
    return fields.length ? [{ref: `${object.kind}/${object.metadata.name}`, manager: 'kubectl apply', fields: [...new Set(fields)]}] : []
  })
}

/** The note for `handAppliedRemovals`' findings: what the deploy (diff: `a deploy`) removes, which no diff shows. */
export function handAppliedNote(found: HandSet[], who = 'this deploy'): string {
  const fields = found.map((f) => `${f.ref} ${f.fields.slice(0, 4).join(', ')}${f.fields.length > 4 ? `, … (${f.fields.length} in all)` : ''}`).join('; ')
  return `${who} removes fields a hand \`kubectl apply\` set that the release does not set: ${fields} (kubectl hands them to skycap as it applies, which its dry run and diff do not show); set them in the templates or skycap.yaml to keep them`
}

/** The warning for `handSetFields`' findings: what stays, by which command, and how to remove it or make it skycap's. */
export function handSetNote(found: HandSet[], kubectl: Pick<Kubectl, 'shown'>, who = 'this deploy'): string {
  const fields = found.map((f) => `${f.ref} ${f.fields.slice(0, 4).join(', ')}${f.fields.length > 4 ? `, … (${f.fields.length} in all)` : ''} (set by ${f.manager})`).join('; ')
  return `${who} keeps fields set by hand with kubectl, which the release does not set: ${fields}. skycap changes only the fields its manifests set; remove these with kubectl (\`${kubectl.shown('set env deployment/NAME VAR-')}\`, \`${kubectl.shown('edit deployment/NAME')}\`), or set them in skycap.yaml or the templates to make them the release's`
}

/** Deployments of the release paused by hand (`kubectl rollout pause`), by name. */
function pausedOf(live: KubeObject[], applied: KubeObject[]): string[] {
  const applies = (o: KubeObject) => applied.some((a) => a.kind === 'Deployment' && a.metadata.name === o.metadata.name)
  return live.filter((o) => o.kind === 'Deployment' && (o.spec as {paused?: boolean} | undefined)?.paused === true && applies(o)).map((o) => o.metadata.name)
}

function pausedText(paused: string[], kubectl: Pick<Kubectl, 'shown' | 'namespace'>): {what: string; resume: string} {
  const one = paused.length === 1
  return {
    what: `${paused.map((name) => `Deployment/${name}`).join(', ')} in namespace ${kubectl.namespace} ${one ? 'is' : 'are'} paused (kubectl rollout pause): the controller rolls out nothing while ${one ? 'it is' : 'they are'} paused`,
    resume: `resume ${one ? 'it' : 'them'} with ${paused.map((name) => `\`${kubectl.shown(`rollout resume deployment/${name}`)}\``).join(', ')}`,
  }
}

/**
 * A deploy (or rollback) over a Deployment paused by hand would wait for a rollout that never comes until its
 * timeout, then roll back: refused before any change, exit 2.
 */
export function refusePaused(live: KubeObject[], applied: KubeObject[], environment: string, kubectl: Pick<Kubectl, 'shown' | 'namespace'>, action: 'deploy' | 'rollback'): void {
  const paused = pausedOf(live, applied)
  if (paused.length) throw pausedRefusal(paused, environment, kubectl, action)
}

/** The refusal of a change that the Deployments `paused` (by hand) would make wait until its timeout. */
export function pausedRefusal(paused: string[], environment: string, kubectl: Pick<Kubectl, 'shown' | 'namespace'>, action: 'deploy' | 'rollback' | 'restart'): UserError {
  const {what, resume} = pausedText(paused, kubectl)
  return new UserError(`${what}, so this ${action} of ${environment} would wait until its timeout; nothing was changed`, {
    hint: `${resume.charAt(0).toUpperCase()}${resume.slice(1)}, then run the ${action} again.`,
    details: {paused},
  })
}

/** diff's warning for the Deployments a deploy would refuse as paused; undefined when none is. */
export function pausedNote(live: KubeObject[], applied: KubeObject[], kubectl: Pick<Kubectl, 'shown' | 'namespace'>): string | undefined {
  const paused = pausedOf(live, applied)
  if (!paused.length) return undefined
  const {what, resume} = pausedText(paused, kubectl)
  return `a deploy would be refused: ${what}; ${resume}`
}
