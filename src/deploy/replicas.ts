// How many replicas each Deployment gets: what skycap.yaml says, what runs, and what a `skycap scale` left. Shared by
// deploy, diff and scale; apart from deploy.ts so that scale loads none of what deploying needs (render, build).
import type {Environment} from '../config/types.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import {isDeployOrRollback, type StoredRelease} from '../release/store.js'
import type {KubeObject} from '../render/objects.js'
import type {PreparedRelease} from '../render/prepare.js'
import {selectedSlot, type Slot, strategyOf} from '../strategies/strategy.js'

/** How long deploy, rollback, scale and rollout control watch a rollout by default (`--timeout`, deploy.timeout). */
export const DEFAULT_TIMEOUT_MS = 10 * 60_000

/** replicas from skycap.yaml per service for this environment. */
export function configuredReplicas(env: Environment): Record<string, number> {
  return Object.fromEntries(Object.entries(env.services).map(([n, s]) => [n, s.replicas ?? 1]))
}

/**
 * Live replicas of the app's Deployments, by name; `serving`: the blue-green slot each live Service selects, by
 * service (absent: counts not read from the cluster, where servingCount falls back to the larger slot).
 */
export type LiveCounts = Map<string, number> & {readonly serving?: ReadonlyMap<string, Slot>}

/** Live replicas of the app's Deployments, by name, and the slot each blue-green Service selects (one kubectl call). */
export async function liveDeployments(kubectl: Kubectl, selector: string): Promise<LiveCounts> {
  const list = await kubectl.json<{items: Array<KubeObject & {spec?: {replicas?: number}}>}>(['get', 'deployments,services', '-l', selector])
  const counts = new Map(list.items.filter((o) => o.kind === 'Deployment').map((d) => [d.metadata.name, d.spec?.replicas ?? 1]))
  const serving = new Map(list.items.flatMap((o): Array<[string, Slot]> => (o.kind === 'Service' && selectedSlot(o) ? [[o.metadata.name, selectedSlot(o) as Slot]] : [])))
  return Object.assign(counts, {serving})
}

/**
 * The live size of a blue-green service: the count of the slot its Service selects (`<service>-blue` or `-green`),
 * else, when the Service selects no slot that exists (or was not read), the larger slot's; undefined when neither
 * slot's Deployment exists. The other slot may be kept at the count it served with (scaleDownDelay), or at 0: a
 * `skycap scale` during the delay changed the serving slot only, and a rollback that brought the kept slot back at its
 * own count cut the serving pods from 6 to 4.
 */
export function servingCount(service: string, live: LiveCounts): number | undefined {
  const slots = [live.get(`${service}-blue`), live.get(`${service}-green`)].filter((n): n is number => n !== undefined)
  return selectedCount(service, live) ?? (slots.length ? Math.max(...slots) : undefined)
}

/** The count of the blue-green slot the live Service of `service` selects; undefined when it selects none that exists. */
function selectedCount(service: string, live: LiveCounts): number | undefined {
  const selected = live.serving?.get(service)
  return selected === undefined ? undefined : live.get(`${service}-${selected}`)
}

/** The Deployments a rendered HorizontalPodAutoscaler scales, by name. */
function hpaTargets(prepared: PreparedRelease): Set<string> {
  return new Set(
    prepared.objects
      .filter((r) => r.object.kind === 'HorizontalPodAutoscaler')
      .map((r) => (r.object as {spec?: {scaleTargetRef?: {kind?: string; name?: string}}}).spec?.scaleTargetRef)
      .filter((ref) => ref?.kind === undefined || ref.kind === 'Deployment')
      .map((ref) => String(ref?.name)),
  )
}

/** A Deployment of a template (not a service of skycap.yaml) whose count its template sets: `replicas: 2`. */
function templateCount(object: KubeObject, service: string | undefined): number | undefined {
  return object.kind === 'Deployment' && !service ? (object.spec as {replicas?: number} | undefined)?.replicas : undefined
}

/**
 * Whether skycap.yaml's replicas for a service ask for a change of its running count: `undefined` when they do not
 * (the live count stays), else why, as the deploy says it (`skycap.yaml's replicas changed`, or, for the count a
 * rollback set from the release it returned to, `skycap.yaml's replicas; the rollback to release 4 ran that
 * release's`).
 */
export type CountChange = (service: string, configured: number) => string | undefined

/**
 * skycap.yaml's count of a service changed when it differs from what the release that runs recorded. A rollback
 * recorded the counts of the release it returned to, which are not the work tree's: after `skycap scale worker 8`
 * and a rollback (which kept 8), a deploy of an unchanged skycap.yaml (`worker 3` since release 5) said `worker 8 → 3
 * (skycap.yaml's replicas changed)` and undid the scale. So after a rollback a count the operator set (one the
 * rollback kept, or a `skycap scale` since) stays while skycap.yaml says what the newest deploy before it recorded;
 * a count the rollback set from the release it returned to is replaced by skycap.yaml's when they differ.
 */
export function countChange(releases: StoredRelease[]): CountChange {
  // The release that runs now (a failed deploy changed nothing lasting).
  const at = releases.findIndex((r) => isDeployOrRollback(r.record) && r.record.result === 'succeeded')
  const runs = releases[at]?.record
  const previous = runs?.configuredReplicas ?? {}
  const changed = "skycap.yaml's replicas changed"
  if (runs?.action !== 'rollback') return (service, configured) => (previous[service] === configured ? undefined : changed)
  const line = releases.slice(at + 1).find((r) => r.record.action === 'deploy' && r.record.result === 'succeeded')?.record.configuredReplicas ?? {}
  const scaledSince = new Set(releases.slice(0, at).flatMap((r) => (r.record.scale ? [r.record.scale.service] : [])))
  const kept = Object.keys(runs.keptReplicas ?? {})
  const operators = (service: string) => scaledSince.has(service) || kept.some((name) => name === service || name === `${service}-blue` || name === `${service}-green`)
  return (service, configured) => {
    if (previous[service] === configured || (line[service] === configured && operators(service))) return undefined
    return line[service] === configured ? `skycap.yaml's replicas; the rollback to release ${runs.rolledBackTo ?? '?'} ran that release's` : changed
  }
}

/**
 * A `skycap scale` survives deploys: while skycap.yaml's replicas for a service are unchanged (countChange), the
 * Deployment keeps its live count. An HPA-managed Deployment always keeps its live count, a template's too (a
 * template's count otherwise is the template's, as `kubectl apply` has it).
 */
export function keepScaledReplicas(prepared: PreparedRelease, env: Environment, releases: StoredRelease[], live: LiveCounts, reset: boolean): KubeObject[] {
  const change = countChange(releases)
  const scaled = hpaTargets(prepared)
  return prepared.objects.map(({object, service}) => {
    if (object.kind !== 'Deployment') return object
    const name = object.metadata.name
    if (!service) {
      // A template's Deployment under an HPA: a deploy reset it to the template's count, unsaid.
      const liveCount = live.get(name)
      return liveCount === undefined || !scaled.has(name) || templateCount(object, service) === undefined ? object : {...object, spec: {...(object.spec as object), replicas: liveCount}}
    }
    const liveCount = runningCount(name, service, env, live)
    if (liveCount === undefined) return object
    const configured = env.services[service]?.replicas ?? 1
    const keepLive = scaled.has(name) || (!reset && change(service, configured) === undefined)
    if (!keepLive) return object
    return {...object, spec: {...(object.spec as object), replicas: liveCount}}
  })
}

/**
 * The running count of the Deployment `name` of `service`; undefined when none runs. A blue-green service runs as
 * <name>-blue and <name>-green: its count is that of the slot its Service selects. A Deployment `name` left beside
 * the slots (a switch from rolling whose release failed after the switch) serves nothing then: its count was taken
 * first, and a redeploy put the scaled api-blue back at that Deployment's 2, unsaid. While the Service selects no slot
 * (a switch from rolling that failed before it), the Deployment `name` serves, else the larger slot.
 */
function runningCount(name: string, service: string, env: Environment, live: LiveCounts): number | undefined {
  if (env.services[service]?.strategy?.type !== 'blueGreen') return live.get(name)
  return selectedCount(name, live) ?? live.get(name) ?? servingCount(name, live)
}

/**
 * The Deployments whose count `keepScaledReplicas` kept from the cluster over skycap.yaml's, said by the deploy as a
 * rollback says it: `web 0 (skycap.yaml says 1)`; undefined when every count is skycap.yaml's.
 */
export function keptReplicasNote(prepared: PreparedRelease, env: Environment, objects: KubeObject[]): string | undefined {
  const kept = prepared.objects.flatMap(({object, service, source}) => {
    if (object.kind !== 'Deployment') return []
    const placed = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === object.metadata.name)
    const count = (placed?.spec as {replicas?: number} | undefined)?.replicas
    const configured = service ? (env.services[service]?.replicas ?? 1) : templateCount(object, service)
    if (count === undefined || configured === undefined || count === configured) return []
    return [`${object.metadata.name} ${count} (${service ? 'skycap.yaml' : source} says ${configured})`]
  })
  return kept.length ? `Keeping the live replica counts: ${kept.join(', ')}, as scaled (or set by an HPA); --reset-replicas applies skycap.yaml's` : undefined
}

/**
 * The Deployments whose running count this deploy changes though skycap.yaml's did not ask it to be kept: a count
 * set by `skycap scale` that a changed `replicas:` (or --reset-replicas) replaces, said before it happens (`web 3 → 2
 * (skycap.yaml's replicas)`); a deploy that kept a count said so, one that overrode it said nothing. Undefined when none.
 */
export function replacedReplicasNote(prepared: PreparedRelease, env: Environment, objects: KubeObject[], live: LiveCounts, reset: boolean, releases: StoredRelease[] = []): string | undefined {
  const placedCount = (name: string) => (objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name)?.spec as {replicas?: number} | undefined)?.replicas
  const change = countChange(releases)
  const why = (service: string) => (reset ? '--reset-replicas: skycap.yaml' : (change(service, env.services[service]?.replicas ?? 1) ?? "skycap.yaml's replicas changed"))
  const changed = prepared.objects.flatMap(({object, service}) => {
    // Canary services place their counts themselves (steps). A blue-green service's count goes to the slot the deploy
    // brings up: the serving one when only the count changed (a failed release leaves it there), else the idle one,
    // which serves once switched.
    const strategy = strategyOf(env.services[service ?? '']).type
    if (object.kind !== 'Deployment' || !service || strategy === 'canary') return []
    const name = object.metadata.name
    const running = runningCount(name, service, env, live)
    const count = placedCount(name) ?? 1
    const where = strategy === 'blueGreen' ? ' (on the blue-green slot this deploy brings up)' : ''
    return running === undefined || running === count ? [] : [{text: `${name} ${running} → ${count}${where}`, why: why(service)}]
  })
  // A template's count replaces one changed by hand (`kubectl scale`), as `kubectl apply` of the template would.
  const templates = prepared.objects.flatMap(({object, service, source}) => {
    const running = live.get(object.metadata.name)
    const count = templateCount(object, service) === undefined ? undefined : placedCount(object.metadata.name)
    return running === undefined || count === undefined || running === count ? [] : [`${object.metadata.name} ${running} → ${count} (${source}'s replicas)`]
  })
  if (!changed.length && !templates.length) return undefined
  const reasons = [...new Set(changed.map((c) => c.why))]
  const services = reasons.map((r) => `${changed.flatMap((c) => (c.why === r ? [c.text] : [])).join(', ')} (${r})`)
  return `Changing the running replica counts: ${[...services, ...templates].join('; ')}`
}
