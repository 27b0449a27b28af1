import type {LoadedConfig} from '../config/types.js'
import {ApiServerUnreachableError, formatLocation, InterruptedError, KubectlError, OwnedElsewhereError, SkycapError, type SourceLocation} from '../errors.js'
import {describeOwner, ownershipOf} from '../env/ownership.js'
import {cutGoValues, type Kubectl, kubectlCommand} from '../kubectl/kubectl.js'
import type {OutageOptions} from '../kubectl/outage.js'
import {closest} from '../suggest.js'
import {CLUSTER_SCOPED, CONFIG_KINDS, isContentNamed, type KubeObject, LABELS, type RenderedObject} from '../render/objects.js'

// Server-side apply as manager "skycap": no last-applied annotation, and fields other managers own (an HPA's
// replicas, a mesh's sidecar annotations) are not fought over unless skycap sets them.
const APPLY = ['apply', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-']
// How long a definition may take to be served (the API server establishes a new one in about a second).
const ESTABLISHED_TIMEOUT = '60s'

function list(objects: KubeObject[]): string {
  return JSON.stringify({apiVersion: 'v1', kind: 'List', items: objects})
}

interface CustomResourceDefinition extends KubeObject {
  spec?: {group?: string; scope?: string; names?: {kind?: string}; versions?: Array<{name?: string; served?: boolean}>}
  status?: {conditions?: Array<{type?: string; status?: string}>}
}

/** The rendered CustomResourceDefinitions that define `object`'s kind (its group and kind), by name. */
function definitionOf(object: KubeObject, crds: CustomResourceDefinition[]): CustomResourceDefinition | undefined {
  const slash = object.apiVersion.indexOf('/')
  if (slash === -1) return undefined
  const group = object.apiVersion.slice(0, slash)
  return crds.find((crd) => crd.spec?.group === group && crd.spec?.names?.kind === object.kind)
}

/**
 * The custom resources in `objects` whose CustomResourceDefinition is in `objects` too, each with its definition's
 * name. kubectl cannot map such a kind until the API server serves it: a first deploy's dry run of the resource
 * fails ("no matches for kind"), and so does its apply in the same call as the definition.
 */
export function customResourcesOfRendered(objects: KubeObject[]): Array<{object: KubeObject; definition: string}> {
  const crds = objects.filter((o): o is CustomResourceDefinition => o.kind === 'CustomResourceDefinition' && o.apiVersion.startsWith('apiextensions.k8s.io/'))
  if (crds.length === 0) return []
  return objects.flatMap((object) => {
    const crd = definitionOf(object, crds)
    return crd ? [{object, definition: crd.metadata.name}] : []
  })
}

/** Names per `kubectl get`: within the burst of kubectl's client-side rate limit, a missing one's namespace check too. */
const NAMES_PER_GET = 5
/** `kubectl get` processes at once: each has a rate limit of its own. */
const GETS_AT_ONCE = 4

/**
 * The objects `kubectl get REFS` finds (cluster-scoped unless `namespaced`), none of them an error when missing.
 * kubectl gets each name with a request of its own (and asks for the namespace after each one missing) under a
 * client-side limit of 5 requests a second past a burst of 10: one process for all of a large release waited about
 * 0.2 s per object (10 s for 75 objects). Up to five names per process, four processes at once. `refused` answers a
 * group kubectl refuses (an unknown kind); the others are kept.
 */
async function getExisting(kubectl: Kubectl, refs: string[], namespaced = false, refused?: (error: unknown) => KubeObject[], managedFields = false): Promise<KubeObject[]> {
  const groups: string[][] = []
  for (let i = 0; i < refs.length; i += NAMES_PER_GET) groups.push(refs.slice(i, i + NAMES_PER_GET))
  const get = async (names: string[]): Promise<KubeObject[]> => {
    // With --ignore-not-found kubectl prints nothing when none exists, one object for one name, a List for several.
    const out = (await kubectl.run(['get', ...names, '--ignore-not-found', '-o', 'json', ...(managedFields ? ['--show-managed-fields'] : [])], {namespaced})).stdout.trim()
    if (out === '') return []
    const found = JSON.parse(out) as KubeObject & {items?: KubeObject[]}
    return found.kind === 'List' ? (found.items ?? []) : [found]
  }
  const found: KubeObject[][] = new Array(groups.length)
  let next = 0
  const worker = async () => {
    while (next < groups.length) {
      const i = next++
      found[i] = await get(groups[i] as string[]).catch((error: unknown) => {
        if (refused) return refused(error)
        throw error
      })
    }
  }
  await Promise.all(Array.from({length: Math.min(GETS_AT_ONCE, groups.length)}, worker))
  return found.flat()
}

/** Whether every field `wanted` sets has that value in `live` (fields the API server adds, defaults, do not count). */
function setIn(wanted: unknown, live: unknown): boolean {
  // The API server leaves out a field at its zero value (`globalDefault: false`).
  if (live === undefined && (wanted === false || wanted === 0 || wanted === '' || wanted === null || (typeof wanted === 'object' && Object.keys(wanted as object).length === 0))) return true
  if (Array.isArray(wanted)) return Array.isArray(live) && live.length === wanted.length && wanted.every((w, i) => setIn(w, live[i]))
  if (wanted !== null && typeof wanted === 'object') {
    return live !== null && typeof live === 'object' && !Array.isArray(live) && Object.entries(wanted).every(([k, v]) => setIn(v, (live as Record<string, unknown>)[k]))
  }
  return wanted === live
}

/**
 * The cluster-scoped objects of the release that another environment (or another app) deployed and that this deploy
 * would change: a ClusterRoleBinding whose subjects name the other environment's namespace, a definition of another
 * version. The release's cluster-scoped objects are asked by name (getExisting), only when it has some. Objects the environments share
 * as they are (the same CustomResourceDefinition) are not named.
 */
export async function takenFromOthers(kubectl: Kubectl, objects: KubeObject[], app: string, environment: string): Promise<Array<{ref: string; owner: string}>> {
  const shared = objects.filter((o) => CLUSTER_SCOPED.has(o.kind) && o.kind !== 'Namespace')
  if (shared.length === 0) return []
  const resource = (o: KubeObject) => (o.apiVersion.includes('/') ? `${o.kind.toLowerCase()}.${o.apiVersion.split('/')[0]}` : o.kind.toLowerCase())
  const live = await getExisting(
    kubectl,
    shared.map((o) => `${resource(o)}/${o.metadata.name}`),
  )
  return shared.flatMap((o) => {
    const found = live.find((l) => l.kind === o.kind && l.metadata.name === o.metadata.name)
    const labels = found?.metadata.labels ?? {}
    if (!found || labels[LABELS.managedBy] !== 'skycap') return []
    const owner = labels[LABELS.partOf] !== app ? `app ${labels[LABELS.partOf]}` : labels[LABELS.environment] !== environment ? `environment ${labels[LABELS.environment]}` : undefined
    if (owner === undefined) return []
    const {metadata: _wanted, ...wanted} = o
    const {metadata: _live, ...rest} = found
    return setIn(wanted, rest) ? [] : [{ref: `${o.kind}/${o.metadata.name}`, owner}]
  })
}

/** `kind.group/name` as kubectl get takes it (`deployment.apps/web`, `configmap/web-config`). */
function resourceRef(o: KubeObject): string {
  return `${o.apiVersion.includes('/') ? `${o.kind.toLowerCase()}.${o.apiVersion.split('/')[0]}` : o.kind.toLowerCase()}/${o.metadata.name}`
}

/** Where an object `claimedElsewhere` names comes from: a template (or a service in skycap.yaml), or a recorded release. */
export type Origin = {file: string; line?: number; column?: number} | {release: number}

/**
 * What `claimedElsewhere` found: objects of another app or environment, objects skycap did not deploy, and this app
 * and environment's own (with their managedFields: src/deploy/drift.ts reads what kubectl set by hand in them).
 */
export interface Claims {
  /** `tool`: the object is another tool's (its app.kubernetes.io/managed-by names it: Helm, Argo CD), not a skycap app's. */
  others: Array<{ref: string; owner: string; tool?: string} & Origin>
  unmanaged: Array<{ref: string} & Origin>
  mine: KubeObject[]
  /** The live objects of `unmanaged`, with their managedFields (what a hand `kubectl apply` set in them). */
  unmanagedLive: KubeObject[]
}

/**
 * The release's namespaced objects that exist in the namespace but are not this app and environment's: several apps
 * (or two environments) may share a namespace, and server-side apply as manager skycap with --force-conflicts takes
 * over whatever it is given, so another app's Service would silently select this app's pods, and be pruned by it
 * later. The release's namespaced objects are asked by name (getExisting). Custom resources whose definition the release brings are left
 * out (their kind may not be served yet); a group of names kubectl refuses (an unknown kind) finds nothing here: the dry run
 * that follows says what is wrong with it.
 */
export async function claimedElsewhere(kubectl: Kubectl, objects: KubeObject[], app: string, environment: string, origin: (o: KubeObject) => Origin): Promise<Claims> {
  const custom = customResourcesOfRendered(objects)
  const newKinds = new Set(custom.map((r) => r.object))
  const mine = objects.filter((o) => !CLUSTER_SCOPED.has(o.kind) && !newKinds.has(o))
  // Namespaced custom resources whose definition the release brings: asked on their own (their kind may not be served
  // yet, which finds nothing), so another app's resource of the same name is refused too (it was taken over unsaid).
  const namespacedCustom = custom
    .filter((r) => (objects.find((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name === r.definition) as CustomResourceDefinition | undefined)?.spec?.scope === 'Namespaced')
    .map((r) => r.object)
  const claims: Claims = {others: [], unmanaged: [], mine: [], unmanagedLive: []}
  if (mine.length === 0 && namespacedCustom.length === 0) return claims
  const refused = (error: unknown): KubeObject[] => {
    if (error instanceof KubectlError && error.kind !== 'unreachable') return []
    throw error
  }
  const [builtIn, customLive] = await Promise.all([
    mine.length ? getExisting(kubectl, mine.map(resourceRef), true, refused, true) : [],
    namespacedCustom.length ? getExisting(kubectl, namespacedCustom.map(resourceRef), true, refused, true) : [],
  ])
  const live = [...builtIn, ...customLive]
  for (const found of live) {
    const owner = ownershipOf(found, app, environment)
    if (owner.owner === 'this') {
      claims.mine.push(found)
      continue
    }
    const ref = `${found.kind}/${found.metadata.name}`
    const at = origin(found)
    // An object another tool says it manages (Helm's managed-by: Helm) is that tool's: taken over with a warning that
    // called it made by hand, its labels replaced, and the tool's next run fought over it. Refused as another app's.
    const tool = found.metadata.labels?.[LABELS.managedBy]
    if (owner.owner === 'unmanaged' && typeof tool === 'string' && tool !== '') claims.others.push({ref, owner: `${tool}, not skycap (${LABELS.managedBy}: ${tool})`, tool, ...at})
    else if (owner.owner === 'unmanaged') {
      claims.unmanaged.push({ref, ...at})
      claims.unmanagedLive.push(found)
    } else claims.others.push({ref, owner: describeOwner(owner, app), ...at})
  }
  return claims
}

/** Where a rendered object was written: its template's file and line, or its service in skycap.yaml. */
export function renderedOrigin(rendered: RenderedObject[], loaded: Pick<LoadedConfig, 'file' | 'show' | 'locate'>): (o: KubeObject) => Origin {
  return (o) => {
    const r = rendered.find((x) => x.object.kind === o.kind && x.object.metadata.name === o.metadata.name)
    if (r === undefined) return {file: loaded.show(loaded.file)}
    if (r.service === undefined) return {file: r.source, ...(r.line === undefined ? {} : {line: r.line})}
    const at = loaded.locate(['services', r.service])
    return {file: loaded.show(loaded.file), ...(at ? {line: at.line, column: at.column} : {})}
  }
}

function originText(o: Origin): string {
  return 'release' in o ? `recorded in release ${o.release}` : `rendered from ${formatLocation(o)}`
}

/** Each object of another app or environment, with its owner and where it comes from. */
function claimedList(claims: Claims): string {
  return claims.others.map((c) => `${c.ref} (${c.owner}; ${originText(c)})`).join(', ')
}

/**
 * The refusal for objects of another app or environment `claimedElsewhere` found: exit 2, before any change. A
 * rollback (`rollbackTo`, the release it re-applies) meets them when another app took the names after that release.
 */
export function claimedError(claims: Claims, app: string, environment: string, where: {namespace: string; context?: string}, rollbackTo?: number, meanwhile = false): OwnedElsewhereError {
  const {namespace} = where
  const list = claimedList(claims)
  const one = claims.others.length === 1
  const it = one ? 'it' : 'them'
  const action = rollbackTo === undefined ? 'deploy' : 'rollback'
  const when = meanwhile ? ` since this ${action} was validated (while it waited for its lock or its confirmation)` : ''
  const tools = claims.others.filter((c) => c.tool !== undefined)
  const whose = whoseClaims(claims)
  // How an object another tool manages is handed to skycap: out of the tool first, then without its label.
  const handOver = tools.length
    ? ` To hand ${tools.length === 1 ? `${tools[0]?.ref} to skycap` : 'those another tool manages to skycap'}, take ${tools.length === 1 ? 'it' : 'them'} out of ${[...new Set(tools.map((t) => t.tool))].join(' and ')} first (Helm: the annotation helm.sh/resource-policy: keep, then helm uninstall), then remove the label: \`${kubectlCommand(`label ${tools.map((t) => t.ref.toLowerCase()).join(' ')} ${LABELS.managedBy}-`, where)}\`.`
    : ''
  return new OwnedElsewhereError(
    `${list} in namespace ${namespace} ${one ? 'belongs' : 'belong'} to ${whose}${when}; this ${action} of ${app} ${environment} would take ${it} over; nothing was changed`,
    {
      hint:
        tools.length === claims.others.length
          ? `${handOver.trim()} Or give ${it} another name in ${app}'s templates.`
          : `${
              rollbackTo === undefined
                ? `Give ${it} another name in ${app}'s templates (metadata.name, or the service's name), or deploy ${environment} to a namespace of its own (environments.${environment}.namespace). Apps and environments can share a namespace only with different object names.`
                : `Another app or environment deployed ${it} after release ${rollbackTo}: roll back to a release without ${it} (skycap history ${environment}), or deploy a revision that names ${it} otherwise.`
            }${handOver}`,
      details: {namespace, claimed: claims.others},
    },
  )
}

/** Whose the claimed objects are, in words: another app or environment, another tool (Helm), or some of each. */
function whoseClaims(claims: Claims): string {
  const tools = claims.others.filter((c) => c.tool !== undefined).length
  return tools === 0 ? 'another app or environment' : tools === claims.others.length ? 'another tool' : 'another app, environment or tool'
}

/**
 * The claims looked at again under the lock, right before the first change: the check at validation ran before the
 * lock and the confirmation, and another app's deploy (its lock is its own), or another environment's that this one
 * waited for, could take the names meanwhile: this one then applied over its objects (a Service's selector, a
 * ConfigMap's values) and later pruned them. Refused as at validation; an object made by hand meanwhile (`seen`:
 * those validation found) is said as taken over.
 */
export async function refuseClaimedMeanwhile(
  kubectl: Kubectl,
  objects: KubeObject[],
  at: {app: string; environment: string; namespace: string; origin: (o: KubeObject) => Origin; seen: Set<string>; rollbackTo?: number},
  warn: (message: string) => void,
): Promise<void> {
  const claims = await claimedElsewhere(kubectl, objects, at.app, at.environment, at.origin)
  if (claims.others.length) throw claimedError(claims, at.app, at.environment, {namespace: at.namespace, context: kubectl.context}, at.rollbackTo, true)
  const fresh = claims.unmanaged.filter((c) => !at.seen.has(c.ref))
  if (fresh.length) warn(`${adoptedNote({...claims, unmanaged: fresh}, at.app, at.environment, at.rollbackTo === undefined ? 'this deploy' : 'this rollback')} (made since it was validated)`)
}

/** diff's warning for objects of another app or environment: what a deploy would refuse. */
export function claimedNote(claims: Claims, namespace: string): string {
  const list = claimedList(claims)
  return `a deploy would be refused: ${list} in namespace ${namespace} ${claims.others.length === 1 ? 'belongs' : 'belong'} to ${whoseClaims(claims)}; give ${claims.others.length === 1 ? 'it' : 'them'} another name, or the environment a namespace of its own`
}

/** The warning for objects skycap did not deploy that this deploy (diff: `a deploy`) takes over. */
export function adoptedNote(claims: Claims, app: string, environment: string, who = 'this deploy'): string {
  const list = claims.unmanaged.map((c) => `${c.ref} (${'release' in c ? `release ${c.release}` : formatLocation(c)})`).join(', ')
  return `${who} takes over objects skycap did not deploy: ${list}; from now on they are ${app} ${environment}'s, and a later deploy that no longer renders them deletes them`
}

/** The warning for objects `takenFromOthers` found. */
export function takenNote(taken: Array<{ref: string; owner: string}>, environment: string): string {
  const list = taken.map((t) => `${t.ref} (${t.owner})`).join(', ')
  return `this deploy of ${environment} changes cluster-scoped objects another deploy applied: ${list}; from now on they are ${environment}'s version there too. Name them per environment (metadata.name: x-{{ env.name }}) unless the environments mean to share them`
}

/**
 * Of the custom resources whose definition this deploy applies, those the API server cannot validate yet: their
 * definition is not established there, or does not serve their version (a version this deploy adds). One get of
 * the definitions, only when there are such resources.
 */
export async function notYetServed(kubectl: Kubectl, objects: KubeObject[]): Promise<Array<{object: KubeObject; definition: string}>> {
  const resources = customResourcesOfRendered(objects)
  if (resources.length === 0) return []
  const names = [...new Set(resources.map((r) => r.definition))]
  const live = (await getExisting(kubectl, ['customresourcedefinitions.apiextensions.k8s.io', ...names])) as CustomResourceDefinition[]
  const served = (r: {object: KubeObject; definition: string}) => {
    const crd = live.find((c) => c.metadata.name === r.definition)
    const established = crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
    const version = r.object.apiVersion.slice(r.object.apiVersion.indexOf('/') + 1)
    return established === true && (crd?.spec?.versions ?? []).some((v) => v.name === version && v.served !== false)
  }
  return resources.filter((r) => !served(r))
}

/**
 * Validates every object with the API server without changing anything (one call). A custom resource whose
 * definition this deploy creates (or gives its version) cannot be validated before that definition is applied: it is
 * left out and returned, and the API server judges it when it is applied, right after its definition.
 */
export async function dryRunApply(kubectl: Kubectl, objects: KubeObject[], mode: 'server' | 'client'): Promise<{deferred: string[]}> {
  if (objects.length === 0) return {deferred: []}
  const deferred = new Set((await notYetServed(kubectl, objects)).map((r) => r.object))
  const checked = objects.filter((o) => !deferred.has(o))
  // Without the namespace the server cannot dry-run namespaced objects; client mode still checks the schema.
  const flags = mode === 'server' ? ['--dry-run=server'] : ['--dry-run=client', '--validate=strict']
  if (checked.length) {
    const argv = [...(mode === 'server' ? APPLY : APPLY.filter((a) => !a.startsWith('--server-side') && !a.startsWith('--field-manager') && !a.startsWith('--force-conflicts'))), ...flags]
    // kubectl checks a List's fields itself (the server serves no kind List) and names a kind and a path only:
    // rejectedObjects traces those to the objects. (Asking the server again object by object named them, but its
    // refusal quotes the value it got, a Secret's included.)
    await kubectl.run(argv, {input: list(checked)})
  }
  return {deferred: [...deferred].map((o) => `${o.kind}/${o.metadata.name}`)}
}

/** How a deploy says which custom resources the dry run left to the apply. */
export function deferredNote(deferred: string[]): string {
  return `Not validated before applying: ${deferred.join(', ')} (the CustomResourceDefinition this deploy applies does not serve ${deferred.length === 1 ? 'its kind' : 'their kinds'} yet; the API server judges ${deferred.length === 1 ? 'it' : 'them'} when applied, right after the definition)`
}

/** An object the API server refused, and where it was written: a template file, or its service in skycap.yaml. */
export interface RejectedObject extends SourceLocation {
  ref: string
  /** The API server's words about this object (its line of kubectl's output), when kubectl names it on one. */
  message?: string
  /** The podTemplate key of skycap.yaml the refusal is about (`environments.stage.services.web.podTemplate.spec.x`). */
  field?: string
  /** A pod spec field close to it. */
  suggestion?: string
}

/**
 * The objects kubectl's refusal names (`Service "extra" is invalid`, `deployments.apps "web"`), each with kubectl's
 * words about it when it names it on a line of its own, in the order of `objects`.
 */
export function refusedObjects(stderr: string, objects: KubeObject[]): Array<{object: KubeObject; message?: string}> {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  // `Service "x" is invalid`, `deployments.apps "web"`, and server-side apply's type errors:
  // `failed to create typed patch object (shop/extra; /v1, Kind=ConfigMap)`.
  const named = (object: KubeObject) =>
    new RegExp(`\\b${escape(object.kind)}(?:e?s)?(?:\\.[\\w.-]+)? "${escape(object.metadata.name)}"|\\((?:[\\w.-]*/)?${escape(object.metadata.name)}; [^;)]*\\bKind=${escape(object.kind)}\\)`, 'i')
  const lines = stderr.split('\n')
  // A kind kubectl cannot map is named by kind and version only ("no matches for kind "Widget" in version "x.io/v1"").
  const unmapped = [...stderr.matchAll(/no matches for kind "([^"]+)" in version "([^"]+)"/g)].map((m) => `${m[2]}|${m[1]}`)
  const notServed = (object: KubeObject) => unmapped.includes(`${object.apiVersion}|${object.kind}`)
  const refused = objects.filter((object) => named(object).test(stderr))
  if (refused.length === 0 && unmapped.length) return objects.filter(notServed).map((object) => ({object, message: `the cluster does not serve kind ${object.kind} in version ${object.apiVersion}`}))
  if (refused.length === 0) return schemaRefusals(stderr, objects)
  return refused.map((object) => {
    // Each refused object has its own line ("Error from server (Invalid): error when creating "STDIN": Service "x" is invalid: …").
    const index = lines.findIndex((l) => named(object).test(l))
    const mention = index === -1 ? null : named(object).exec(lines[index] as string)
    // Its causes follow on lines of their own ("* spec.ports[0].port: Invalid value: 70000: ...").
    const causes: string[] = []
    for (let i = index + 1; index !== -1 && i < lines.length && /^\s*\* /.test(lines[i] as string) && causes.length < 5; i++) causes.push((lines[i] as string).trim().replace(/^\* /, ''))
    const head = mention ? mention.input.slice(mention.index).trim().replace(/:\s*$/, '') : undefined
    return head === undefined ? {object} : {object, message: cutGoValues(causes.length ? `${head}: ${causes.join('; ')}` : head)}
  })
}

/**
 * kubectl's own schema check (a client dry run, a List) names a kind and a path, not an object:
 * `ValidationError(Deployment.spec.template.spec.containers[0]): unknown field "imagee" in …` or
 * `ValidationError(Deployment.spec.replicas): invalid type for …: got "string", expected "integer"`. The objects
 * named are those of that kind that have that field there (with a value of the type it got), in the order of
 * `objects`.
 */
function schemaRefusals(stderr: string, objects: KubeObject[]): Array<{object: KubeObject; message: string}> {
  const found: Array<{object: KubeObject; message: string}> = []
  // Several are listed as `[ValidationError(…): …, ValidationError(…): …]; if you choose to ignore …`.
  for (const m of stderr.matchAll(/ValidationError\(([A-Za-z0-9]+)((?:\.[\w-]+(?:\[\d+\])*)*)\): (.*?)(?=, ValidationError\(|\]?; if you choose|\]?\n|\]?$)/g)) {
    const [, kind, dotted, said] = m as unknown as [string, string, string, string]
    const path = dotted
      .split('.')
      .filter(Boolean)
      .flatMap((part) => {
        const [name, ...indexes] = part.split('[')
        return [name as string, ...indexes.map((i) => Number(i.replace(']', '')))]
      })
    const unknownField = /^unknown field "([^"]+)"/.exec(said)?.[1]
    const got = /got "(\w+)"/.exec(said)?.[1]
    const valueAt = (object: KubeObject, at: Array<string | number>): unknown =>
      at.reduce<unknown>((v, key) => (v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[key] : undefined), object)
    const matches = (object: KubeObject): boolean => {
      if (object.kind !== kind) return false
      if (unknownField !== undefined) {
        const parent = valueAt(object, path)
        return parent !== null && typeof parent === 'object' && Object.hasOwn(parent, unknownField)
      }
      const value = valueAt(object, path)
      if (value === undefined) return false
      const type = Array.isArray(value)
        ? 'array'
        : value === null
          ? 'null'
          : typeof value === 'object'
            ? 'map'
            : typeof value === 'number'
              ? Number.isInteger(value)
                ? 'integer'
                : 'number'
              : typeof value
      return got === undefined || got === type || (got === 'number' && type === 'integer')
    }
    for (const object of objects) if (matches(object) && !found.some((f) => f.object === object)) found.push({object, message: cutGoValues(`ValidationError(${kind}${dotted}): ${said.trim()}`)})
  }
  return found
}

/**
 * The rendered objects kubectl's refusal names, each with the file it came from: a repository template's file, or
 * for skycap's own objects (a service's Deployment, Service, config) the service in skycap.yaml with its line. Empty
 * when the refusal names none of them.
 */
export function rejectedObjects(stderr: string, rendered: RenderedObject[], loaded: Pick<LoadedConfig, 'file' | 'show' | 'locate'> & {config?: unknown}, environment?: string): RejectedObject[] {
  const sources = new Map(rendered.map((r) => [r.object, r]))
  return refusedObjects(
    stderr,
    rendered.map((r) => r.object),
  ).map(({object, message}) => {
    const ref = `${object.kind}/${object.metadata.name}`
    const said = message ? {message} : {}
    const {source, line, service} = sources.get(object) as RenderedObject
    if (service === undefined) return {ref, file: source, ...(line === undefined ? {} : {line}), ...said}
    const field = podTemplateField(message ?? stderr, service, loaded, environment)
    const at = field?.at ?? loaded.locate(['services', service])
    return {
      ref,
      file: loaded.show(loaded.file),
      ...(at ? {line: at.line, column: at.column} : {}),
      ...said,
      ...(field ? {field: field.path, ...(field.suggestion ? {suggestion: field.suggestion} : {})} : {}),
    }
  })
}

/** The fields of a pod spec (Kubernetes 1.33), for "did you mean" of one the API server does not know. */
const POD_SPEC_FIELDS = [
  'activeDeadlineSeconds',
  'affinity',
  'automountServiceAccountToken',
  'containers',
  'dnsConfig',
  'dnsPolicy',
  'enableServiceLinks',
  'ephemeralContainers',
  'hostAliases',
  'hostIPC',
  'hostNetwork',
  'hostPID',
  'hostUsers',
  'hostname',
  'imagePullSecrets',
  'initContainers',
  'nodeName',
  'nodeSelector',
  'os',
  'overhead',
  'preemptionPolicy',
  'priority',
  'priorityClassName',
  'readinessGates',
  'resourceClaims',
  'resources',
  'restartPolicy',
  'runtimeClassName',
  'schedulerName',
  'schedulingGates',
  'securityContext',
  'serviceAccount',
  'serviceAccountName',
  'setHostnameAsFQDN',
  'shareProcessNamespace',
  'subdomain',
  'terminationGracePeriodSeconds',
  'tolerations',
  'topologySpreadConstraints',
  'volumes',
]

/**
 * The key of a service's `podTemplate` (the environment's, else the service's) that the API server refused as a field
 * it does not know (`.spec.template.spec.bogusField: field not declared in schema`): the refusal named the service's
 * line, although the field was written in a podTemplate an environment adds forty lines below.
 */
function podTemplateField(
  said: string,
  service: string,
  loaded: Pick<LoadedConfig, 'locate'> & {config?: unknown},
  environment: string | undefined,
): {path: string; at?: {line: number; column: number}; suggestion?: string} | undefined {
  // kubectl's own validation (`ValidationError(Deployment.spec.template.spec): unknown field "x" in …PodSpec`), or
  // the server's (`.spec.template.spec.x: field not declared in schema`). A field inside a list item is not looked for.
  const client = /ValidationError\(\w+\.spec\.template\.([\w.]+)\): unknown field "([\w-]+)"/.exec(said)
  const field = client ? `${client[1]}.${client[2]}` : /\.spec\.template\.([\w.-]+): field not declared in schema/.exec(said)?.[1]
  if (!field) return undefined
  const keys = field.split('.')
  const places = [...(environment ? [['environments', environment, 'services', service, 'podTemplate']] : []), ['services', service, 'podTemplate']]
  for (const place of places) {
    // Written there (locate names the nearest line of a path that goes on beyond the file).
    const written = [...place, ...keys].reduce<unknown>((value, key) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), loaded.config)
    const at = written === undefined ? undefined : loaded.locate([...place, ...keys])
    if (!at) continue
    const last = keys.at(-1) as string
    const suggestion = keys.length === 2 && keys[0] === 'spec' ? closest(last, POD_SPEC_FIELDS) : undefined
    return {path: [...place, ...keys].join('.'), at, ...(suggestion ? {suggestion} : {})}
  }
  return undefined
}

/** kubectl's refusal of objects, with the objects it names and their files in the details (`rejected`) and the hint. */
export function withRejectedObjects(
  error: unknown,
  rendered: RenderedObject[],
  loaded: Pick<LoadedConfig, 'file' | 'show' | 'locate'> & {config?: unknown},
  environment?: string,
  adopted: ReadonlySet<string> = new Set(),
): unknown {
  if (!(error instanceof KubectlError) || error.kind !== 'invalid') return error
  const rejected = rejectedObjects(error.stderr, rendered, loaded, environment)
  if (!rejected.length) return error
  // Several objects refused: each with the API server's words about it (the message says the first only).
  const several = rejected.length > 1 && rejected.some((r) => r.message)
  const words = (r: RejectedObject) => (several && r.message ? `: ${r.message.replace(/^(?:The )?[A-Za-z]\w*(?:\.[\w.-]+)? "[^"]+" is invalid: /, '')}` : '')
  const where = rejected.map((r) => `${r.ref} (${formatLocation(r)}${r.field ? `, ${r.field}${r.suggestion ? `: did you mean ${r.suggestion}?` : ''}` : ''})${words(r)}`).join(several ? '; ' : ', ')
  // An object a hand `kubectl apply` made keeps what that apply set merged into the release's (an old port of a
  // Service, without a name beside the new one) until skycap owns it: no change to skycap.yaml can fix that.
  const handApplied = rejected.filter((r) => adopted.has(r.ref)).map((r) => r.ref)
  const [was, it] = handApplied.length === 1 ? ['was', 'it'] : ['were', 'them']
  const takeOver = handApplied.length
    ? ` ${handApplied.join(', ')} ${was} not deployed by skycap: what a hand \`kubectl apply\` set stays merged into ${it} until the first deploy owns ${it}; if the refusal is about fields the release does not set, delete ${it} so the deploy creates ${it} whole.`
    : ''
  // Specific advice (a Job changed in place: give it a new name per release) is kept, after where to follow it.
  const advice = error.advice
  return new KubectlError(error.kind, error.message, error.args, error.stderr, {
    // kubectl names the objects; the hint names where each was written.
    hint: `${advice ? `${where}${several ? '. ' : ': '}${several ? advice : `${advice.charAt(0).toLowerCase()}${advice.slice(1)}`}; nothing was changed.` : `Fix ${where}; nothing was changed.`}${takeOver}`,
    jsonHint: error.jsonHint,
    details: {...error.details, rejected},
    cause: error.cause,
    ...(advice === undefined ? {} : {advice}),
  })
}

/** What applying did: the objects applied, and the apply call that stopped part-way, if one did. */
export interface AppliedPhases {
  applied: string[]
  /**
   * Why a kubectl apply stopped: the API server refused objects that passed the dry run, or a signal stopped it.
   * Some objects of that call may be live: the release has begun, and is recorded and rolled back as a failed one.
   */
  stopped?: KubectlError | InterruptedError
}

/**
 * Applies in two phases (config, then everything else): two kubectl calls however many services. `afterConfig`
 * runs between them (predeploy hooks: they see the release's config, and a failure stops the workloads).
 * With `outage`, an API server that stops answering is waited for until its deadline and the call made again (a
 * server-side apply of the same objects changes nothing twice); without, or past the deadline, it is thrown.
 */
export async function applyInPhases(kubectl: Kubectl, objects: KubeObject[], signal?: AbortSignal, afterConfig?: () => Promise<void>, outage?: Omit<OutageOptions, 'signal'>): Promise<AppliedPhases> {
  const config = objects.filter((o) => CONFIG_KINDS.has(o.kind))
  const rest = objects.filter((o) => !CONFIG_KINDS.has(o.kind))
  const applied: string[] = []
  const calls = outage ? kubectl.waitingOut({...outage, ...(signal ? {signal} : {})}) : kubectl
  // The definitions are applied with the config; their custom resources with the rest, once the API server serves
  // their kinds (kubectl maps a kind when it reads its input, so the two cannot share a call).
  const definitions = [...new Set(customResourcesOfRendered(objects).map((r) => r.definition))]
  for (const phase of [config, rest]) {
    if (phase === rest && definitions.length) {
      try {
        await calls.run(['wait', '--for=condition=Established', `--timeout=${ESTABLISHED_TIMEOUT}`, ...definitions.map((d) => `customresourcedefinitions.apiextensions.k8s.io/${d}`)], {
          namespaced: false,
          signal,
        })
      } catch (error) {
        if (error instanceof KubectlError || error instanceof InterruptedError) return {applied, stopped: error}
        throw error
      }
    }
    if (phase === rest) await afterConfig?.()
    if (phase.length === 0) continue
    try {
      await calls.run(APPLY, {input: list(phase), signal})
    } catch (error) {
      if (error instanceof KubectlError || error instanceof InterruptedError) return {applied, stopped: error}
      throw error
    }
    applied.push(...phase.map((o) => `${o.kind}/${o.metadata.name}`))
  }
  return {applied}
}

/** The config a running release's pods read or run with: put back when a predeploy hook fails (restoreConfig). */
const RESTORED_KINDS = new Set(['Secret', 'ConfigMap', 'ServiceAccount', 'Role', 'RoleBinding'])

/**
 * The config objects `applied` changed from what the running release has (`changed`: the running release's versions)
 * and those it added that a running pod could read (`added`: refs).
 */
export function configChanges(applied: KubeObject[], running: KubeObject[]): {changed: KubeObject[]; added: string[]} {
  const before = new Map(running.filter((o) => RESTORED_KINDS.has(o.kind)).map((o) => [objectRef(o), o]))
  const mine = applied.filter((o) => RESTORED_KINDS.has(o.kind))
  const changed = mine.flatMap((o) => {
    const was = before.get(objectRef(o))
    return was && JSON.stringify(was) !== JSON.stringify(o) ? [was] : []
  })
  // A new content-named ConfigMap (`web-config-<hash>`, every config folder's) is read by no running pod: not worth a
  // word. A template's ConfigMap of a fixed name is named, as a Secret is (a hook's failure left it unsaid).
  const added = mine.filter((o) => !before.has(objectRef(o)) && !(o.kind === 'ConfigMap' && isContentNamed(o.metadata.name))).map(objectRef)
  return {changed, added}
}

const objectRef = (o: KubeObject) => `${o.kind}/${o.metadata.name}`

/**
 * After a predeploy hook failed: the config objects applied before it (a fixed-name Secret, a Role) changed what the
 * running release reads, though it was said untouched. Those the running release has (`running`, its recorded
 * manifests) are applied again as it has them, in one call; those new with this release are named, left for the next
 * deploy to prune (they may have existed before, made by hand). When the call is refused (a Secret made immutable by
 * the failed release), each is applied alone to tell which went back and which did not: one refusal read as all of
 * them not put back, and the rollback it offered could not put that one back either.
 */
export async function restoreConfig(
  kubectl: Kubectl,
  applied: KubeObject[],
  running: KubeObject[],
  signal?: AbortSignal,
): Promise<{restored: string[]; added: string[]; refused: Array<{ref: string; immutable: boolean}>}> {
  const ref = objectRef
  const {changed, added} = configChanges(applied, running)
  const refused: Array<{ref: string; immutable: boolean}> = []
  try {
    if (changed.length) await kubectl.run(APPLY, {input: list(changed), signal})
  } catch (error) {
    if (!(error instanceof KubectlError) || error.kind !== 'invalid') throw error
    for (const o of changed) {
      // Only whether it is immutable is said of a refusal: the server's words may quote a Secret's value.
      await kubectl.run(APPLY, {input: list([o]), signal}).catch((e: unknown) => {
        if (!(e instanceof KubectlError) || e.kind !== 'invalid') throw e
        refused.push({ref: ref(o), immutable: /field is immutable/.test(e.stderr)})
      })
    }
  }
  return {restored: changed.map(ref).filter((r) => !refused.some((x) => x.ref === r)), added, refused}
}

// Kinds skycap prunes, as kubectl names their resources. PersistentVolumeClaims are never pruned (data), nor objects
// owned by others, nor cluster-scoped objects and custom resources (see leftInPlace).
const PRUNED: Array<[kind: string, resource: string]> = [
  ['ConfigMap', 'configmaps'],
  ['Secret', 'secrets'],
  ['Service', 'services'],
  ['ServiceAccount', 'serviceaccounts'],
  ['Deployment', 'deployments.apps'],
  ['StatefulSet', 'statefulsets.apps'],
  ['DaemonSet', 'daemonsets.apps'],
  ['Job', 'jobs.batch'],
  ['CronJob', 'cronjobs.batch'],
  ['Ingress', 'ingresses.networking.k8s.io'],
  ['HorizontalPodAutoscaler', 'horizontalpodautoscalers.autoscaling'],
  ['PodDisruptionBudget', 'poddisruptionbudgets.policy'],
  ['NetworkPolicy', 'networkpolicies.networking.k8s.io'],
  ['Role', 'roles.rbac.authorization.k8s.io'],
  ['RoleBinding', 'rolebindings.rbac.authorization.k8s.io'],
  ['ResourceQuota', 'resourcequotas'],
  ['LimitRange', 'limitranges'],
]
/** Every kind skycap prunes, as one `kubectl get` or `delete` argument. */
export const PRUNE_RESOURCES = PRUNED.map(([, resource]) => resource).join(',')
const PRUNED_KINDS = new Set(PRUNED.map(([kind]) => kind))

/**
 * What the release before had and `keep` no longer renders, of the kinds skycap does not prune (cluster-scoped
 * objects, custom resources, PersistentVolumeClaims): left in place, for the deploy to name.
 */
export function leftInPlace(before: KubeObject[], keep: KubeObject[]): string[] {
  const id = (o: KubeObject) => `${o.apiVersion.split('/').length > 1 ? o.apiVersion.split('/')[0] : ''}|${o.kind}/${o.metadata.name}`
  const wanted = new Set(keep.map(id))
  return before
    .filter((o) => !PRUNED_KINDS.has(o.kind) && !wanted.has(id(o)))
    .map((o) => `${o.kind}/${o.metadata.name}`)
    .sort()
}

/** The warning naming what leftInPlace found; `why` says why they are not rendered now. */
export function leftInPlaceNote(left: string[], why = 'no longer rendered'): string {
  return `${why}, left in place: ${left.join(', ')} (skycap prunes no cluster-scoped objects, custom resources or PersistentVolumeClaims; delete them with kubectl once nothing uses them)`
}

/**
 * What `findPrunable` found: the objects, and for a StatefulSet among them that made PersistentVolumeClaims, what
 * becomes of them (by ref). Renaming a StatefulSet pruned the old one without a word, and its volumes stayed unused.
 */
export interface Prunable {
  refs: string[]
  claims: Record<string, string>
  /** Kinds the user may not list (a Role such as the built-in `edit`, without roles): nothing of them is pruned. */
  unlisted?: string[]
}

/** The warning of kinds findPrunable could not list: what the release no longer renders of them stays. */
export function unlistedNote(kinds: string[]): string {
  return `your user may not list ${kinds.join(', ')}, so objects of ${kinds.length === 1 ? 'that kind' : 'those kinds'} the release no longer renders are not pruned (docs/rbac.md: grant list, or delete them with kubectl)`
}

/** Objects of this app and environment in the namespace that `keep` no longer has (one call). */
export async function findPrunable(kubectl: Kubectl, selector: string, keep: KubeObject[]): Promise<Prunable> {
  const wanted = new Set(keep.map((o) => `${o.kind}/${o.metadata.name}`))
  // A kind the user may not list (the built-in `edit` role lists no roles or rolebindings) refused the whole list:
  // diff and --dry-run failed while the deploy itself went through, pruning nothing. Listed again without the kinds
  // kubectl names as refused; any other refusal is the error it was.
  let resources = PRUNED
  const unlisted: string[] = []
  let live: {items: KubeObject[]}
  for (;;) {
    try {
      live = await kubectl.json<{items: KubeObject[]}>(['get', resources.map(([, r]) => r).join(','), '-l', selector])
      break
    } catch (error) {
      const refused = error instanceof KubectlError && error.kind === 'forbidden' ? refusedLists(error.stderr, resources) : []
      if (!refused.length || refused.length === resources.length) throw error
      unlisted.push(...refused.map(([kind]) => kind))
      resources = resources.filter((r) => !refused.includes(r))
    }
  }
  const pruned = live.items.filter((o) => !(o.metadata as {ownerReferences?: unknown[]}).ownerReferences?.length && !wanted.has(`${o.kind}/${o.metadata.name}`))
  const claims: Record<string, string> = {}
  for (const o of pruned) {
    const note = o.kind === 'StatefulSet' ? claimsNote(o) : undefined
    if (note) claims[`${o.kind}/${o.metadata.name}`] = note
  }
  return {refs: pruned.map((o) => `${o.kind}/${o.metadata.name}`).sort(), claims, ...(unlisted.length ? {unlisted} : {})}
}

/** The entries of `resources` whose list kubectl's message says was refused ("cannot list resource "roles" in API group "rbac…""). */
function refusedLists(stderr: string, resources: typeof PRUNED): typeof PRUNED {
  const named = [...stderr.matchAll(/cannot list resource "([^"]+)" in API group "([^"]*)"/g)].map(([, resource, group]) => (group ? `${resource}.${group}` : resource))
  return resources.filter(([, resource]) => named.includes(resource))
}

/** What becomes of the PersistentVolumeClaims a pruned StatefulSet made from its volumeClaimTemplates. */
function claimsNote(statefulSet: KubeObject): string | undefined {
  const spec = statefulSet.spec as {volumeClaimTemplates?: Array<{metadata?: {name?: string}}>; persistentVolumeClaimRetentionPolicy?: {whenDeleted?: string}} | undefined
  const names = (spec?.volumeClaimTemplates ?? []).map((t) => `${t.metadata?.name ?? '?'}-${statefulSet.metadata.name}-*`)
  if (!names.length) return undefined
  // Each template makes one claim per pod (data-db-0, data-db-1, …).
  const list = `its PersistentVolumeClaims ${names.join(', ')}`
  return spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted === 'Delete'
    ? `${list} go with it (persistentVolumeClaimRetentionPolicy.whenDeleted: Delete), and their data`
    : `${list} stay, with their data, unused unless a StatefulSet of this name comes back (a renamed one starts on new volumes); delete them with kubectl once nothing needs them`
}

/** Deletes the given kind/name refs in one call. */
export async function prune(kubectl: Kubectl, refs: string[]): Promise<void> {
  if (refs.length) await kubectl.run(['delete', '--ignore-not-found', '--wait=false', ...refs])
}

/**
 * Prunes what `keep` no longer has, once a release is live. Ctrl-C reaches the kubectl that lists or deletes too: the
 * interruption is returned, not thrown, so that the live release is still recorded; what was not pruned, the next
 * deploy or rollback prunes. An API server that stops answering is returned too (`unpruned`), and so is a refusal (no right to list a kind it prunes), for the same reason:
 * the record's write waits for it, pruning does not.
 */
export async function pruneLive(
  kubectl: Kubectl,
  selector: string,
  keep: KubeObject[],
  announce?: (refs: string[], claims: Record<string, string>) => void,
): Promise<{pruned: string[]; interrupted?: InterruptedError; unpruned?: SkycapError; unlisted?: string[]}> {
  try {
    const {refs: pruned, claims, unlisted} = await findPrunable(kubectl, selector, keep)
    if (pruned.length) announce?.(pruned, claims)
    await prune(kubectl, pruned)
    return {pruned, ...(unlisted ? {unlisted} : {})}
  } catch (error) {
    if (error instanceof InterruptedError) return {pruned: [], interrupted: error}
    // Nor does a refusal stop the record: a deployer Role without `list` on one kind skycap prunes (resourcequotas)
    // left a live release unrecorded, its number taken again by the next deploy.
    if (error instanceof SkycapError) return {pruned: [], unpruned: error}
    throw error
  }
}

/** The line said before pruning (deploys and rollbacks alike: a rollback deleted whole services without a word). */
export function pruningNote(refs: string[], why = 'no longer rendered', claims: Record<string, string> = {}): string {
  const volumes = Object.entries(claims).map(([ref, note]) => `; ${ref}: ${note}`)
  return `Pruning ${refs.length} ${refs.length === 1 ? 'object' : 'objects'} ${why}: ${refs.join(', ')}${volumes.join('')}`
}

/** The warning for a prune the API server did not answer. */
export function unprunedNote(error: SkycapError): string {
  if (error instanceof ApiServerUnreachableError) return `could not prune what the release no longer renders: the API server does not answer (${error.reason}); the next deploy prunes it`
  return `could not prune what the release no longer renders: ${error.message.split('\n')[0]}${error.hint ? ` (${error.hint})` : ''}; the release is recorded, and what it no longer renders stays until a deploy may prune it`
}
