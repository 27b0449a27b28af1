import {type Kubectl, kubectlCommand} from '../kubectl/kubectl.js'
import {callTimeout, type ContactEvent, OutageWait} from '../kubectl/outage.js'
import type {KubeObject} from '../render/objects.js'
import {nodeCrypto, nodeZlib} from '../builtins.js'
import {InterruptedError, KubectlError, UserError} from '../errors.js'
import {packManifests} from './pack.js'

export {MAX_PARTS, packManifests, PART_BYTES, UNRECORDABLE_HINT, unrecordableNote} from './pack.js'

/** One entry of an environment's history, kept in the cluster as a ConfigMap; its manifests (which may hold Secrets) in Secrets. */
/** Where a blue-green or canary rollout of one service ended, as history shows it. */
export interface RolloutSummary {
  type: 'blueGreen' | 'canary'
  phase: string
  /** blueGreen: the slot the Service selects. */
  slot?: string
  /** canary: the weight in force, the step reached and the steps' count. */
  weight?: number
  step?: number
  steps?: number
  /** canary: its promotion had begun (the service's Deployment takes the release); an abort is too late. */
  promoting?: true
}

export interface ReleaseRecord {
  number: number
  app: string
  environment: string
  action: 'deploy' | 'rollback' | 'scale' | 'restart'
  /** interrupted: stopped (SIGINT/SIGTERM) after apply began; what was applied stays as it was. */
  result: 'succeeded' | 'failed' | 'interrupted'
  revision: {sha: string; short: string; subject: string; author?: string} | null
  images: Record<string, string>
  /** replicas per service as skycap.yaml said at this release (a deploy keeps scaled counts while these are unchanged). */
  configuredReplicas: Record<string, number>
  user: string
  ciJob?: string
  startedAt: string
  finishedAt: string
  durationMs: number
  /** For a rollback: the release it restored. For a failed deploy: the release automatic rollback restored. */
  rolledBackTo?: number
  /** For a rollback: the release that ran when it started (the failed one, for an automatic rollback). */
  rolledBackFrom?: number
  /** For a rollback: started by skycap after a failed deploy, or by a person with `skycap rollback`. */
  trigger?: 'automatic' | 'manual'
  /** For a failed deploy: the number of the rollback entry that followed it. */
  rollbackRelease?: number
  /**
   * Set when read, never stored: no entry of `rollbackRelease` is in history (its rollback is under way, or was stopped
   * before its record: a deploy killed between the two). history named a rollback that never happened.
   */
  rollbackMissing?: true
  /** For a failed deploy or rollback: the resource that failed (kind/name); `message` says why. */
  failed?: string
  /** Live replica counts kept instead of the recorded ones (rollback), by service. */
  keptReplicas?: Record<string, number>
  /** For scale: what changed. */
  scale?: {
    service: string
    from: number
    to: number
    /** Forced over the HorizontalPodAutoscaler `hpa`, which sets its own count again. */
    force?: boolean
    hpa?: string
  }
  /** For restart: the services whose pods it replaced, and the Deployment that serves each (a blue-green slot's). */
  restart?: {services: string[]; deployments: string[]}
  message?: string
  /** Hooks this deploy ran, in order (absent in records written before hooks existed). */
  hooks?: HookRecord[]
  /** The deploy was run with --skip-hooks. */
  skipHooks?: boolean
  /** Postdeploy hooks that never ran: the deploy ended before its canary finished, and another command finished it. */
  postdeployNotRun?: string[]
  /** The environment requires green GitHub checks and the deploy was run with --ignore-checks. */
  ignoreChecks?: boolean
  /**
   * A deploy of the work tree (ENV, ENV@HEAD) with uncommitted changes: its skycap.yaml, templates and config files
   * were deployed as they were, which no commit holds; `revision` is the commit they were made on.
   */
  uncommitted?: boolean
  /** Blue-green and canary services of this deploy: where each rollout ended (absent for rolling-only deploys). */
  rollouts?: Record<string, RolloutSummary>
  /** `deploy --reason`: why, as the deployer said it (it was kept only in the lock, while the deploy ran). */
  reason?: string
}

/** What one hook did in a release. */
export interface HookRecord {
  name: string
  phase: 'predeploy' | 'postdeploy'
  result: 'succeeded' | 'failed' | 'timed-out' | 'interrupted'
  durationMs: number
  /** The command's exit code, when it ran to an end. */
  exitCode?: number
  /** The Job it ran as (kept for its logs until later hooks replace it). */
  job: string
  /** The API server refused the Job (a quota, an admission policy): the command never ran. */
  refused?: boolean
}

/** A record and, for deploys and rollbacks, the manifests it applied. */
export interface StoredRelease {
  record: ReleaseRecord
  /** The record's object name (ConfigMap, or Secret in the pre-0.2 layout), as read from the cluster. */
  name?: string
  /**
   * Read from the cluster and decompressed on the first call (a release's manifests may be megabytes: only those a
   * command uses are read).
   */
  manifests(): Promise<KubeObject[]>
  hasManifests: boolean
}

const LABEL_APP = 'skycap.dev/release-of'
const LABEL_ENV = 'skycap.dev/environment'
/** The labels every release record carries: whose app and environment it records. */
export const RELEASE_LABELS = {app: LABEL_APP, environment: LABEL_ENV} as const
const LABEL_NUMBER = 'skycap.dev/release'
const LABEL_PART = 'skycap.dev/part'
/** A label on every object of one write of a record: what a write cut short by a taken number had made is found by it. */
const LABEL_WRITE = 'skycap.dev/write'
/** Records written before 0.2: one Secret holding the record and the manifests. Still read, never written. */
const LEGACY_SECRET_TYPE = 'skycap.dev/release.v1'
const MANIFESTS_SECRET_TYPE = 'skycap.dev/release-manifests.v1'

/** The label selector of an environment's release records. */
export function releaseSelector(app: string, environment: string): string {
  return `${LABEL_APP}=${app},${LABEL_ENV}=${environment}`
}

interface StoredObject {
  kind?: string
  type?: string
  metadata: {name: string; labels?: Record<string, string>}
  data?: Record<string, string>
}

/**
 * A stored record, parsed; one that is not JSON (edited or cut by hand) is named with what to do, instead of a bare
 * JSON error from every command that reads the history.
 */
function parseRecord<T>(text: string, o: StoredObject, kubectl: Kubectl): T {
  try {
    const record: unknown = JSON.parse(text)
    const wrong = notARecord(record)
    if (wrong) throw new Error(`not a release record: ${wrong}`)
    return record as T
  } catch (error) {
    const kind = (o.kind ?? 'configmap').toLowerCase()
    throw new UserError(`the release record ${o.kind ?? 'ConfigMap'}/${o.metadata.name} is not readable (${(error as Error).message}); nothing was changed`, {
      // With the namespace and the context: pasted where another context is current, the command finds the record.
      hint: `Look at it with \`${kubectl.shown(`get ${kind} ${o.metadata.name} -o yaml`)}\`. ${dropRecordHint(o, kind, kubectl)}`,
    })
  }
}

/**
 * What makes parsed JSON no release record, in the fields every reader of the history uses; undefined when it is one.
 * JSON of another shape (`{"number": "five"}`, `null`, edited by hand) crashed `history` with a TypeError, and other
 * commands skipped it without a word.
 */
function notARecord(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return `${value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value}, not an object`
  const r = value as Record<string, unknown>
  const shown = (v: unknown) => (v === undefined ? 'missing' : JSON.stringify(v).slice(0, 40))
  if (!Number.isSafeInteger(r.number) || (r.number as number) < 1) return `number is ${shown(r.number)}, not a whole number from 1`
  // Of another type when present; left out, a field is shown as unknown (records written by hand or by tests).
  for (const key of ['action', 'result', 'user', 'startedAt'] as const) if (r[key] !== undefined && typeof r[key] !== 'string') return `${key} is ${shown(r[key])}, not a string`
  if (r.durationMs !== undefined && typeof r.durationMs !== 'number') return `durationMs is ${shown(r.durationMs)}, not a number`
  const revision = r.revision as Record<string, unknown> | null | undefined
  if (revision !== null && revision !== undefined && (typeof revision !== 'object' || typeof revision.short !== 'string' || typeof revision.sha !== 'string'))
    return `revision is ${shown(revision)}, not an object with sha and short`
  for (const key of ['images', 'configuredReplicas'] as const)
    if (r[key] !== undefined && (r[key] === null || typeof r[key] !== 'object' || Array.isArray(r[key]))) return `${key} is ${shown(r[key])}, not an object`
  return undefined
}

/**
 * How to drop an unreadable record from the history: with its manifests, by its labels, when it has them (deleting
 * the record alone left its manifests, and the next deploy's record collided with them).
 */
function dropRecordHint(o: StoredObject, kind: string, kubectl: Kubectl): string {
  const labels = o.metadata.labels ?? {}
  const [app, environment, number] = [labels[LABEL_APP], labels[LABEL_ENV], labels[LABEL_NUMBER]]
  if (!app || !environment || !number) return `Deleting it (\`${kubectl.shown(`delete ${kind} ${o.metadata.name}`)}\`) drops that one entry from the history.`
  return `Deleting it with its manifests (\`${kubectl.shown(`delete configmaps,secrets -l ${releaseSelector(app, environment)},${LABEL_NUMBER}=${number}`)}\`) drops that one entry from the history.`
}

/**
 * Release records of app/env, newest first. A record is a ConfigMap (readable with the `view` role: it holds no Secret
 * values); the manifests it applied are in Secrets beside it. With `manifests` (deploy, diff, rollback, run), which
 * releases have all their manifests' parts is read from a listing of those Secrets' names and labels, without their
 * data (the API server's table; a history of big releases is tens of MB); a release's manifests are read when asked
 * for. History and status never need Secret access.
 */
export async function listReleases(kubectl: Kubectl, app: string, environment: string, options: {manifests?: boolean} = {}): Promise<StoredRelease[]> {
  const withManifests = options.manifests ?? true
  const selector = releaseSelector(app, environment)
  const [list, secrets] = await Promise.all([kubectl.json<{items: StoredObject[]}>(['get', 'configmaps', '-l', selector]), withManifests ? listSecrets(kubectl, selector) : []])
  // Records of the pre-0.2 layout are Secrets holding the record and its manifests: read whole, as they were.
  const legacy = secrets.some((s) => s.type === LEGACY_SECRET_TYPE)
  const items = legacy ? [...list.items, ...(await kubectl.json<{items: StoredObject[]}>(['get', 'secrets', '-l', selector])).items] : list.items
  // Whether every part 0 … expected-1 of a release is listed with data, of its record's write when the record names
  // one: a Secret someone made with the same labels (a backup copy, one without data) neither completes nor spoils it.
  const complete = (number: number, expected: number, write: string | undefined): boolean => {
    const parts = new Set(secrets.filter((x) => x.type === MANIFESTS_SECRET_TYPE && x.number === number && x.data > 0 && (write === undefined || x.write === write)).map((x) => x.part))
    return expected > 0 && Array.from({length: expected}, (_, i) => i).every((i) => parts.has(i))
  }
  const out: StoredRelease[] = []
  for (const o of items) {
    if (o.kind === 'Secret' && o.type === LEGACY_SECRET_TYPE && o.data?.release) {
      const record = parseRecord<ReleaseRecord>(Buffer.from(o.data.release, 'base64').toString('utf8'), o, kubectl)
      const raw = o.data.manifests
      out.push({
        record,
        name: o.metadata.name,
        hasManifests: Boolean(raw),
        manifests: async () => (raw ? (JSON.parse(nodeZlib().gunzipSync(Buffer.from(raw, 'base64')).toString('utf8')) as KubeObject[]) : []),
      })
    } else if (o.kind === 'ConfigMap' && o.data?.release) {
      const record = parseRecord<ReleaseRecord & {manifestParts?: number}>(o.data.release, o, kubectl)
      const expected = record.manifestParts ?? 0
      const write = o.metadata.labels?.[LABEL_WRITE]
      let read: Promise<KubeObject[]> | undefined
      out.push({
        record,
        name: o.metadata.name,
        hasManifests: withManifests && complete(record.number, expected, write),
        manifests: () => (read ??= readManifests(kubectl, selector, record.number, expected, environment, write)),
      })
    }
  }
  linkRollbacks(out.map((r) => r.record))
  return out.sort((a, b) => b.record.number - a.record.number)
}

/**
 * A failed deploy is recorded before its automatic rollback, naming the entry that rollback will be (its number + 1).
 * The rollback's own record says which release it rolled back from; when it took a later number (another command
 * recorded one meanwhile, after a `lock release --force`), that is the link: the stored one named another entry. A
 * stored link to an entry that is not a rollback from this release (the rollback was never recorded, killed before
 * it) is dropped.
 */
export function linkRollbacks(records: ReleaseRecord[]): void {
  const byNumber = new Map(records.map((r) => [r.number, r]))
  for (const r of records) {
    if (r.rollbackRelease === undefined) continue
    const rollback = records.find((x) => x.action === 'rollback' && x.trigger === 'automatic' && x.rolledBackFrom === r.number)
    if (rollback) r.rollbackRelease = rollback.number
    else if (byNumber.has(r.rollbackRelease)) delete r.rollbackRelease
    else r.rollbackMissing = true
  }
}

/** A release manifests' Secret as the listing names it: its type, release number and part. */
interface ListedSecret {
  name: string
  type: string
  number: number
  part: number
  /** How many data keys it holds (the table's DATA). */
  data: number
  write?: string
}

/**
 * The release Secrets of a selector, by name, type and labels only: `kubectl get` in its table form, which the API
 * server answers without the Secrets' data (`-o name` or `-o json` fetch every Secret whole). A row is NAME TYPE DATA
 * AGE LABELS; labels hold no spaces.
 */
async function listSecrets(kubectl: Kubectl, selector: string): Promise<ListedSecret[]> {
  const {stdout} = await kubectl.run(['get', 'secrets', '-l', selector, '--show-labels', '--no-headers'])
  const out: ListedSecret[] = []
  for (const line of stdout.split('\n')) {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 3) continue
    const labels = new Map(fields[fields.length - 1]!.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const))
    out.push({name: fields[0]!, type: fields[1]!, data: Number(fields[2]), number: Number(labels.get(LABEL_NUMBER)), part: Number(labels.get(LABEL_PART) ?? 0), write: labels.get(LABEL_WRITE)})
  }
  return out
}

/** A release's manifests, from its parts; parts that went missing since the listing are said, not read as none. */
async function readManifests(kubectl: Kubectl, selector: string, number: number, expected: number, environment: string, write?: string): Promise<KubeObject[]> {
  if (expected === 0) return []
  const list = await kubectl.json<{items: StoredObject[]}>(['get', 'secrets', '-l', `${selector},${LABEL_NUMBER}=${number}`])
  // One Secret per part (a copy of one with the same labels is the same part), of the record's write.
  const byPart = new Map<number, string>()
  for (const o of list.items) {
    const part = Number(o.metadata.labels?.[LABEL_PART] ?? 0)
    if (o.type !== MANIFESTS_SECRET_TYPE || !o.data?.manifests || (write !== undefined && o.metadata.labels?.[LABEL_WRITE] !== write) || byPart.has(part)) continue
    byPart.set(part, o.data.manifests)
  }
  const mine = Array.from({length: expected}, (_, i) => byPart.get(i))
    .filter((data): data is string => data !== undefined)
    .map((data) => ({data}))
  if (mine.length !== expected) {
    throw new UserError(`the manifests of release ${number} of ${environment} are incomplete (${mine.length} of ${expected} parts): they were deleted while this command ran`, {
      hint: `\`skycap history ${environment}\` lists the releases; run the command again.`,
    })
  }
  return JSON.parse(
    nodeZlib()
      .gunzipSync(Buffer.concat(mine.map((m) => Buffer.from(m.data, 'base64'))))
      .toString('utf8'),
  ) as KubeObject[]
}

/**
 * The other namespaces holding release records of app/env, with the newest number in each: an environment whose
 * `namespace` changed in skycap.yaml left its objects and history in the old one. One call across namespaces
 * (table form: names only), and one for those namespaces' phase; a user who may not list ConfigMaps cluster-wide
 * gets none.
 */
export async function recordedElsewhere(kubectl: Kubectl, app: string, environment: string, namespace: string): Promise<Array<{namespace: string; newest: number}>> {
  const r = await kubectl.run(['get', 'configmaps', '--all-namespaces', '-l', releaseSelector(app, environment), '--show-labels', '--no-headers'], {allowFailure: true})
  if (r.exitCode !== 0) return []
  const newest = new Map<string, number>()
  for (const line of r.stdout.split('\n')) {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 3 || fields[0] === namespace) continue
    const number = Number(/(?:^|,)skycap\.dev\/release=(\d+)(?:,|$)/.exec(fields.at(-1) ?? '')?.[1] ?? 0)
    newest.set(fields[0]!, Math.max(newest.get(fields[0]!) ?? 0, number))
  }
  if (newest.size === 0) return []
  // A namespace being deleted runs nothing for long: not named (a user who may not read namespaces gets them all).
  const namespaces = await kubectl
    .json<{items?: Array<{metadata: {name: string}; status?: {phase?: string}}>; metadata: {name: string}; status?: {phase?: string}}>(['get', 'namespaces', ...newest.keys(), '--ignore-not-found'])
    .catch(() => undefined)
  const listed = namespaces === undefined ? undefined : (namespaces.items ?? [namespaces])
  const terminating = new Set((listed ?? []).filter((n) => n.status?.phase === 'Terminating').map((n) => n.metadata.name))
  return [...newest]
    .filter(([ns]) => !terminating.has(ns))
    .map(([ns, n]) => ({namespace: ns, newest: n}))
    .sort((a, b) => a.namespace.localeCompare(b.namespace))
}

/** The warning of a first release in `namespace` when the environment's history is in others (recordedElsewhere). */
export function elsewhereNote(environment: string, namespace: string, elsewhere: Array<{namespace: string; newest: number}>, context: string | undefined): string {
  const where = elsewhere.map((e) => `${e.namespace} (up to release ${e.newest})`).join(', ')
  const one = elsewhere.length === 1
  const it = one ? 'it' : 'them'
  return `${environment} has releases recorded in namespace${one ? '' : 's'} ${where}, not in ${namespace}: what they deployed still runs there, and this deploy to ${namespace} (environments.${environment}.namespace) leaves ${it} as ${one ? 'it is' : 'they are'}, with ${one ? 'its' : 'their'} history. Once nothing uses ${it}, delete ${it} (\`${kubectlCommand(`delete namespace ${elsewhere.map((e) => e.namespace).join(' ')}`, {context})}\`, if nothing else is there)`
}

/**
 * A deploy or a rollback: an entry that applied manifests. A scale or a restart entry changed the pods of what ran
 * (their count, or new pods of the same template) and is never what runs, nor a release to return to.
 */
export function isDeployOrRollback(record: Pick<ReleaseRecord, 'action'>): boolean {
  return record.action !== 'scale' && record.action !== 'restart'
}

/** A succeeded deploy or rollback with its manifests: something a rollback can return to. */
export function isGood(r: StoredRelease): boolean {
  return r.record.result === 'succeeded' && isDeployOrRollback(r.record) && r.hasManifests
}

/** The newest succeeded deploy or rollback, optionally below `before`. */
export function lastGood(releases: StoredRelease[], before?: number): StoredRelease | undefined {
  return releases.find((r) => isGood(r) && (before === undefined || r.record.number < before))
}

/**
 * The services of the release that runs (the newest deploy or rollback, its images' keys): a service that is not in
 * the work tree's skycap.yaml runs when it is one of these and its Deployment is there (a template's Deployment, with
 * whatever labels it carries, is none).
 */
export function runningServices(releases: StoredRelease[]): Set<string> {
  return new Set(Object.keys(releases.find((r) => isDeployOrRollback(r.record))?.record.images ?? {}))
}

/** A deploy that a predeploy hook stopped (failed or interrupted) before anything was rolled out: its pods never ran. */
export function stoppedBeforeRollout(r: StoredRelease): boolean {
  return r.record.hooks?.some((h) => h.phase === 'predeploy' && h.result !== 'succeeded') === true
}

/**
 * The newest deploy or rollback after release `number` (other than `except`) that did not succeed: interrupted, or
 * failed without a rollback; what it applied may be what runs. Not one a predeploy hook stopped before its rollout.
 */
export function unsucceededAfter(releases: StoredRelease[], number: number, except?: number): ReleaseRecord | undefined {
  return releases.find((r) => isDeployOrRollback(r.record) && r.record.result !== 'succeeded' && r.record.number > number && r.record.number !== except && !stoppedBeforeRollout(r))?.record
}

/** The release number after every recorded one: read after taking the lock, so no two writers get the same. */
export function nextReleaseNumber(releases: StoredRelease[]): number {
  return releases.reduce((max, r) => Math.max(max, r.record.number), 0) + 1
}

/**
 * The release whose manifests a record runs: a rollback runs those of the release it restored (followed through
 * earlier rollbacks), everything else its own.
 */
export function contentOf(release: StoredRelease, releases: StoredRelease[]): number {
  let record = release.record
  const seen = new Set<number>()
  while (record.action === 'rollback' && record.rolledBackTo !== undefined && !seen.has(record.number)) {
    seen.add(record.number)
    const to = releases.find((r) => r.record.number === record.rolledBackTo)
    if (!to) return record.rolledBackTo
    record = to.record
  }
  return record.number
}

/**
 * A record's object name, its manifests' parts `-part<K>` after it. App and environment are DNS labels, so the dot
 * keeps `shop` + `eu-test` apart from `shop-eu` + `test`; records are found by their labels, so those that
 * earlier builds named `skycap-release-<app>-<env>-<N>` are read, replaced and dropped as before.
 */
function objectName(app: string, environment: string, number: number): string {
  return `skycap-release-${app}.${environment}-${number}`
}

/**
 * How long a record's write waits for an API server that stops answering: well within the lock's lease (60 s,
 * renewed every 20 s), so the release number is still this process's when the write gets through.
 */
export const RECORD_OUTAGE_MS = 30_000

/** What the API server's silence during a record's write means (reportContact's `meanwhile`). */
export const RECORD_MEANWHILE = `the release runs; skycap records it once it answers again (for up to ${RECORD_OUTAGE_MS / 1000}s)`

/**
 * How often a record is numbered again when its number turns out taken (each time past every number the records and
 * manifest parts then carry: a further taken number means another command is recording at the same moment).
 */
const RENUMBER_TRIES = 3

export interface SaveOptions {
  /** The name of the record of the same number this one is written over (rollout resume, after a deploy recorded as interrupted). */
  replace?: string
  /** Told when the API server stops answering during the write, and when it answers again. */
  onContact?: (event: ContactEvent) => void
  clock?: () => number
  /** The first wait after an unanswered write (1 s), doubled each time up to 5 s. */
  intervalMs?: number
  /**
   * Told when the record's number was taken by another command meanwhile (its lock was released by hand, and a second
   * deploy numbered its release from the same history): the record is written under the next free number instead.
   */
  /** `leftover`: no record has that number, only manifests of one deleted by hand. */
  onRenumbered?: (taken: number, number: number, why: RenumberedWhy) => void
  /** The label value that marks one write's objects (random; fixed in tests). */
  writeId?: () => string
}

/**
 * Writes a record and its manifests with `kubectl create`, never over another one (after an
 * outage or a Ctrl-C cut the create off: with apply, over what it may have written), and drops records beyond
 * `keep`. The manifest Secrets go first and the record last, so a record never names manifests that are not there.
 * Callers hold the environment's lock and numbered the record from releases read under it.
 */
export async function saveRelease(kubectl: Kubectl, record: ReleaseRecord, manifests: KubeObject[] | undefined, existing: StoredRelease[], keep: number, options: SaveOptions = {}): Promise<number> {
  const parts = manifests ? packManifests(manifests) : []
  let history = existing
  for (let tries = 0; ; tries++) {
    const write = options.writeId?.() ?? nodeCrypto().randomBytes(6).toString('hex')
    try {
      await writeRecord(kubectl, record, parts, write, options)
      break
    } catch (error) {
      if (options.replace || !(error instanceof KubectlError && error.kind === 'already_exists') || tries >= RENUMBER_TRIES) throw error
      // The number is taken: under the lock no other command could have taken it, so the lock was released by hand
      // while this one ran (`skycap lock release --force`) and another command recorded a release of that number, or
      // a record was deleted by hand and its manifests were left. What this write made (a manifest part that record
      // lacks would be read as its own; kubectl goes on after a refused item, so the record itself, when only a
      // leftover part was in the way) goes, and the record is written under the next free number, from the history
      // as it is now.
      await kubectl.run(
        ['delete', 'configmaps,secrets', '--ignore-not-found', '--wait=false', '-l', `${releaseSelector(record.app, record.environment)},${LABEL_NUMBER}=${record.number},${LABEL_WRITE}=${write}`],
        {
          allowFailure: true,
        },
      )
      // Past every number a record or a manifest part carries: several records deleted by hand in a row leave a
      // number taken per record, and trying them one by one would run out of tries after the apply.
      const selector = releaseSelector(record.app, record.environment)
      const [now, parts] = await Promise.all([listReleases(kubectl, record.app, record.environment, {manifests: false}), listSecrets(kubectl, selector)])
      history = now
      const taken = record.number
      const leftover = parts.reduce((max, s) => (Number.isSafeInteger(s.number) ? Math.max(max, s.number) : max), 0)
      const number = Math.max(nextReleaseNumber(history), taken + 1, leftover + 1)
      record = {...record, number, ...(record.rollbackRelease === undefined ? {} : {rollbackRelease: record.rollbackRelease + number - taken})}
      options.onRenumbered?.(taken, number, history.some((r) => r.record.number === taken) ? 'recorded' : 'leftover')
    }
  }
  const drop = releasesToDrop([record, ...history.map((r) => r.record).filter((r) => r.number !== record.number)], keep)
  if (drop.length) {
    // Records, their manifest parts, and records of the pre-0.2 layout, by label: one call.
    // --wait=false: kubectl otherwise polls for each object to be gone, rate-limited (five records a second: lowering
    // history.keep from 30 to 5 held a deploy's "is live" line back 20 s); records have no finalizers to wait for.
    await kubectl.run(['delete', 'configmaps,secrets', '--ignore-not-found', '--wait=false', '-l', `${releaseSelector(record.app, record.environment)},${LABEL_NUMBER} in (${drop.join(',')})`], {
      allowFailure: true,
    })
  }
  return record.number
}

/** Why a record took the next number: another command recorded that one, or a deleted record's manifests are left. */
export type RenumberedWhy = 'recorded' | 'leftover'

/** The warning of a command whose record took the next number (saveRelease's onRenumbered). */
export function renumberedNote(environment: string, command: string, taken: number, number: number, why: RenumberedWhy = 'recorded'): string {
  if (why === 'leftover') {
    // A record deleted by hand without its manifests: no other command ran, nothing was released by hand.
    const past = number > taken + 1 ? `, the first number no record or manifest of ${environment} carries` : ''
    return `the manifests of release ${taken} of ${environment} are still in the cluster without its record (deleted by hand?); this ${command} is recorded as release ${number}${past}`
  }
  return `release ${taken} of ${environment} was recorded by another command while this ${command} ran (its lock was released by hand: \`skycap lock release --force\`); this ${command} is recorded as release ${number}`
}

/** One write of a record and its manifests' parts (see saveRelease); `write` labels every object it makes. */
async function writeRecord(kubectl: Kubectl, record: ReleaseRecord, parts: Buffer[], write: string, options: SaveOptions): Promise<void> {
  const labels = {[LABEL_APP]: record.app, [LABEL_ENV]: record.environment, [LABEL_NUMBER]: String(record.number), 'skycap.dev/result': record.result, [LABEL_WRITE]: write}
  const name = options.replace ?? objectName(record.app, record.environment, record.number)
  const items: object[] = parts.map((part, i) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    type: MANIFESTS_SECRET_TYPE,
    metadata: {name: i ? `${name}-part${i}` : name, labels: {...labels, [LABEL_PART]: String(i)}},
    data: {manifests: part.toString('base64')},
  }))
  items.push({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {name, labels},
    data: {release: JSON.stringify({...record, manifestParts: parts.length})},
  })
  // One call; kubectl creates the items in order and stops at none: a failure anywhere fails the whole save.
  // `replace`: the one record a later outcome replaces (rollout resume, after a deploy recorded as interrupted) is
  // applied over the same names, never deleted first (a record lost between the two would free its number).
  const apply = ['apply', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-']
  const input = JSON.stringify({apiVersion: 'v1', kind: 'List', items})
  // An API server that stops answering (a restart, a blip) is waited for: the release it would leave unrecorded runs.
  // The cut-off call may have written part of the record: it is written again over it, with apply.
  const clock = options.clock ?? Date.now
  const deadline = clock() + RECORD_OUTAGE_MS
  const waits = new OutageWait({deadline, clock, intervalMs: options.intervalMs ?? 1000, onContact: options.onContact})
  // Each call ends by the deadline, and within 15 s: one to a stopped API server hung past it (50 s), unsaid, and the
  // record was given up just as the server answered again. A write cut off is made again over what it left (apply).
  const timeoutMs = () => callTimeout(deadline, clock, 15_000)
  try {
    await waits.untilAnswered(
      () => kubectl.run(options.replace ? apply : ['create', '-f', '-'], {input, timeoutMs: timeoutMs()}),
      () => kubectl.run(apply, {input, timeoutMs: timeoutMs()}),
    )
  } catch (error) {
    // Ctrl-C reaches this kubectl too (the terminal signals the whole foreground group), and what happened must be
    // recorded all the same: written again, over whatever the stopped call wrote (under the lock, the number is this
    // process's). A second Ctrl-C quits at once.
    if (!(error instanceof InterruptedError) || options.replace) throw error
    await kubectl.run(apply, {input})
  }
}

/** What a record ran, to tell two apart: its revision and its images. */
export function ranKey(r: ReleaseRecord): string {
  return JSON.stringify([r.revision?.sha ?? null, Object.entries(r.images ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))])
}

/** Scale and restart entries kept per deploy or rollback kept. */
const SCALES_PER_RELEASE = 10

/**
 * The records to delete: deploys and rollbacks beyond the newest `keep`, scale and restart entries older than the
 * oldest deploy or rollback kept, and those beyond 10 × keep. Never deleted: the newest successful deploy or rollback, and
 * the newest successful one before it that ran another revision or other images, which `skycap rollback` returns to
 * (a run of failed deploys, each with its automatic rollback to the same release, pushed that one out, and rollback
 * then said there was no earlier release). Scale and restart entries never count against `keep`, so scaling cannot push a
 * rollback target out.
 */
export function releasesToDrop(records: ReleaseRecord[], keep: number): number[] {
  const sorted = [...records].sort((a, b) => b.number - a.number)
  const releases = sorted.filter((r) => isDeployOrRollback(r))
  const good = releases.filter((r) => r.result === 'succeeded')
  const newest = good[0]
  const before = newest && good.find((r) => r.number < newest.number && ranKey(r) !== ranKey(newest))
  const kept = new Set([...releases.slice(0, keep), ...(newest ? [newest] : []), ...(before ? [before] : [])].map((r) => r.number))
  const oldestKept = kept.size ? Math.min(...kept) : -Infinity
  const drop = releases.filter((r) => !kept.has(r.number)).map((r) => r.number)
  const scales = sorted.filter((r) => !isDeployOrRollback(r))
  scales.forEach((r, i) => {
    if (r.number < oldestKept || i >= keep * SCALES_PER_RELEASE) drop.push(r.number)
  })
  return drop.sort((a, b) => a - b)
}
