import type {ServiceConfig, SkycapConfig, StrategyConfig} from '../config/types.js'
import type {FailureReport} from '../deploy/explain.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import {LABELS, type KubeObject} from '../render/objects.js'
import type {Reporter} from '../ui/output.js'
import {nodeCrypto} from '../builtins.js'

/**
 * How a new release replaces the old one, per service. The deploy (and rollback) hands its objects to
 * rollOutRelease (rollout.ts), which asks each service's strategy where its objects go before the first apply
 * (place) and what happens once they are ready (complete: checks, the traffic switch, canary steps).
 */
export interface Strategy {
  readonly type: StrategyConfig['type']
  /** The unit's objects as the first apply phase has them, and the live objects pruning must keep. */
  place(unit: ServiceUnit, live: LiveObjects): Placement
  /** After the first phase is ready: checks and traffic. Failures stop the release (nothing switched). */
  complete(placements: Placement[], context: StrategyContext): Promise<FailureReport[]>
}

/** One service's Deployment (and Service, when it has ports) under a strategy other than the plain apply. */
export interface ServiceUnit {
  service: string
  strategy: StrategyConfig
  deployment: KubeObject
  /** The Service named after the service, when it has one. */
  serviceObject?: KubeObject
}

export interface Placement {
  unit: ServiceUnit
  /** Applied in the first phase and watched until ready. */
  first: KubeObject[]
  /** Applied when the strategy completes (the Service switched to the new slot). */
  later: KubeObject[]
  /** What the release record holds for this unit: the objects as they are once it completed. */
  recorded: KubeObject[]
  /** Live objects of the unit prune must leave alone (the old slot, kept for an instant rollback). */
  keep: KubeObject[]
  /** The release goes in at 0 replicas (the service is scaled to 0): no pods to check, no traffic to move. */
  stopped?: boolean
  /** blueGreen: the slot that gets the release, and the one serving before. */
  slot?: Slot
  previousSlot?: Slot
  /** blueGreen: the slot label the live Service's selector gave, set by hand, which no Deployment had (the switch replaces it). */
  replacedSelector?: string
}

export type Slot = 'blue' | 'green'

/** The app's live Deployments and Services in the environment, by `Kind/name`. */
export type LiveObjects = Map<string, KubeObject>

export interface StrategyContext {
  kubectl: Kubectl
  namespace: string
  app: string
  environment: string
  /** The number of the release (deploy or rollback entry) being rolled out. */
  release: number | null
  reporter: Reporter
  config: SkycapConfig
  deadline: number
  clock: () => number
  signal?: AbortSignal
  intervalMs?: number
  fetch?: typeof fetch
}

/** On a blue-green or canary Deployment: the service's `strategy:` as JSON (so a rollback needs no skycap.yaml). */
export const STRATEGY_ANNOTATION = 'skycap.dev/strategy'
/** The hash of a Deployment's spec before a strategy placed it: a slot that runs it already need not change. */
export const TEMPLATE_ANNOTATION = 'skycap.dev/template-hash'
/** The slot label of blue-green Deployments, their pods and the Service selecting one of them. */
export const SLOT_LABEL = 'skycap.dev/slot'

/** The slot a blue-green Service selects (undefined: not a Service, or no slot in its selector). */
export function selectedSlot(service: KubeObject | undefined): Slot | undefined {
  const slot = (service?.spec as {selector?: Record<string, string>} | undefined)?.selector?.[SLOT_LABEL]
  return slot === 'blue' || slot === 'green' ? slot : undefined
}

/**
 * The live Service named `service` (undefined: none), and the slot it selects (undefined: none in its selector).
 * A blue-green Service whose selector lost its slot (edited by hand) selects the pods of both slots.
 */
export async function servedSlot(kubectl: Kubectl, service: string): Promise<{object?: KubeObject; slot?: Slot}> {
  const r = await kubectl.run(['get', 'service', service, '-o', 'json', '--ignore-not-found'])
  if (!r.stdout.trim()) return {}
  const object = JSON.parse(r.stdout) as KubeObject
  return {object, slot: selectedSlot(object)}
}

/** The value a Service's selector gives the slot label as it is set, a hand-set one (`purple`) too; undefined: none. */
export function selectorSlot(service: KubeObject | undefined): string | undefined {
  return (service?.spec as {selector?: Record<string, string>} | undefined)?.selector?.[SLOT_LABEL]
}

/** The slots of `service` whose Deployments exist (`has`: whether a Deployment of that name does). */
export function existingSlots(service: string, has: (deployment: string) => boolean): Slot[] {
  return (['blue', 'green'] as const).filter((slot) => has(`${service}-${slot}`))
}

/**
 * The slot label a blue-green Service selects when no Deployment has it (patched by hand to `purple`, or to a slot
 * whose Deployment is gone): it sends traffic to no pod. Undefined when it selects an existing slot (`slots`), none,
 * or there is no Service.
 */
export function missingSlot(object: KubeObject | undefined, slots: readonly Slot[]): string | undefined {
  const value = selectorSlot(object)
  return value !== undefined && !(slots as readonly string[]).includes(value) ? value : undefined
}

/**
 * The warning for a blue-green service whose live Service selects no slot: it sends traffic to the pods of both
 * (the old release's too), and `status` and `scale` go by the slot the rollout state names (`assumed`). Undefined
 * when the Service selects a slot (one with no Deployment: missingSlotNote), or does not exist.
 */
export function noSlotNote(service: string, object: KubeObject | undefined, assumed: Slot, doing: string): string | undefined {
  if (!object || selectorSlot(object) !== undefined) return undefined
  return `Service ${service} selects no blue-green slot (its selector has no ${SLOT_LABEL}: edited by hand?), so it sends traffic to the pods of both ${service}-blue and ${service}-green; ${doing} ${service}-${assumed}, the slot the rollout state names. The next deploy or rollback selects one slot again`
}

/**
 * What `status` and `scale` say of a blue-green Service whose selector names a slot no Deployment has (missingSlot):
 * the value, the slots that exist, and the fixes: a deploy, or `kubectl patch` back to the slot the rollout state
 * names (`assumed`, when its Deployment exists; else an existing one). `deploy`: the deploy command (deployFirst); `shown` turns kubectl arguments into a command
 * to paste (Kubectl.shown).
 */
export function missingSlotNote(service: string, value: string, slots: readonly Slot[], fix: {deploy: string; assumed?: Slot; shown: (args: string) => string}): {problem: string; fix: string} {
  const existing = slots.length ? `the slots that exist are ${slots.map((s) => `${service}-${s}`).join(' and ')}` : `neither ${service}-blue nor ${service}-green exists`
  const back = fix.assumed && slots.includes(fix.assumed) ? fix.assumed : slots[0]
  const patch = back ? `, or \`${fix.shown(`patch service ${service} -p '{"spec":{"selector":{"${SLOT_LABEL}":"${back}"}}}'`)}\` selects ${service}-${back} again` : ''
  return {
    problem: `Service ${service} selects ${SLOT_LABEL}=${value} (set by hand?), a slot with no Deployment ${service}-${value}: it sends traffic to no pod (${existing})`,
    fix: `\`${fix.deploy}\` puts it back on the slot it brings up${patch}`,
  }
}

/** For a blue-green slot's Deployment (`web-blue`), the other slot's (`web-green`); undefined for any other object. */
export function otherSlotDeployment(object: KubeObject): string | undefined {
  const slot = object.metadata.labels?.[SLOT_LABEL]
  if (object.kind !== 'Deployment' || (slot !== 'blue' && slot !== 'green')) return undefined
  return object.metadata.name.replace(/-(blue|green)$/, slot === 'blue' ? '-green' : '-blue')
}
/** The track label of canary pods (stable pods have none). */
export const TRACK_LABEL = 'skycap.dev/track'

/** The service's strategy as skycap.yaml says (rolling when absent). */
export function strategyOf(svc: ServiceConfig | undefined): StrategyConfig {
  return svc?.strategy ?? {type: 'rolling'}
}

/**
 * The Deployment's spec.strategy of a rolling service that sets maxSurge or maxUnavailable; undefined otherwise
 * (Kubernetes' defaults). Render puts it in the Deployment, so render and diff show what deploy applies.
 */
export function deploymentStrategy(svc: ServiceConfig): {type: 'RollingUpdate'; rollingUpdate: Record<string, string | number>} | undefined {
  const strategy = strategyOf(svc)
  if (strategy.type !== 'rolling' || (strategy.maxSurge === undefined && strategy.maxUnavailable === undefined)) return undefined
  return {
    type: 'RollingUpdate',
    rollingUpdate: {...(strategy.maxSurge !== undefined ? {maxSurge: strategy.maxSurge} : {}), ...(strategy.maxUnavailable !== undefined ? {maxUnavailable: strategy.maxUnavailable} : {})},
  }
}

/** Marks the built-in Deployments of blue-green and canary services, and gives rolling ones maxSurge/maxUnavailable. */
export function markStrategies(objects: KubeObject[], services: Record<string, ServiceConfig>): KubeObject[] {
  return objects.map((o) => {
    if (o.kind !== 'Deployment') return o
    const svc = services[o.metadata.name]
    if (!svc || o.metadata.labels?.[LABELS.name] !== o.metadata.name) return o
    const strategy = strategyOf(svc)
    if (strategy.type === 'rolling') {
      const spec = deploymentStrategy(svc)
      return spec ? {...o, spec: {...(o.spec as object), strategy: spec}} : o
    }
    return {...o, metadata: {...o.metadata, annotations: {...o.metadata.annotations, [STRATEGY_ANNOTATION]: JSON.stringify(strategy)}}}
  })
}

/** The units of `objects` whose Deployment carries a blue-green or canary strategy; everything else is applied as it is. */
export function serviceUnits(objects: KubeObject[]): {units: ServiceUnit[]; rest: KubeObject[]} {
  const units: ServiceUnit[] = []
  const taken = new Set<KubeObject>()
  for (const o of objects) {
    const text = o.kind === 'Deployment' ? o.metadata.annotations?.[STRATEGY_ANNOTATION] : undefined
    if (!text) continue
    const service = o.metadata.labels?.[LABELS.name] ?? o.metadata.name
    const strategy = JSON.parse(text) as StrategyConfig
    // The Service named after the service, and a preview Service of an earlier placement (made again when wanted).
    const serviceObject = objects.find((s) => s.kind === 'Service' && s.metadata.name === service)
    for (const s of objects.filter((x) => x.kind === 'Service' && (x.metadata.name === service || x.metadata.name === `${service}-preview`))) taken.add(s)
    taken.add(o)
    units.push({service, strategy, deployment: o, ...(serviceObject ? {serviceObject} : {})})
  }
  return {units, rest: objects.filter((o) => !taken.has(o))}
}

/** A Deployment's spec hash, taken before any slot or track label is added. */
export function templateHash(deployment: KubeObject): string {
  const spec = {...(deployment.spec as Record<string, unknown>)}
  delete spec.replicas
  return nodeCrypto().createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16)
}

/** A copy of `o` with extra labels on its metadata, its selector and its pod template (Deployments), or its selector (Services). */
export function withLabels(o: KubeObject, name: string, labels: Record<string, string>): KubeObject {
  const spec = (o.spec ?? {}) as {selector?: Record<string, unknown> & {matchLabels?: Record<string, string>}; template?: {metadata?: {labels?: Record<string, string>}}}
  const meta = {...o.metadata, name, labels: {...o.metadata.labels, ...labels}}
  if (o.kind === 'Service') return {...o, metadata: meta, spec: {...spec, selector: {...(spec.selector as Record<string, string>), ...labels}}}
  return {
    ...o,
    metadata: meta,
    spec: {
      ...spec,
      selector: {...spec.selector, matchLabels: {...spec.selector?.matchLabels, ...labels}},
      template: {...spec.template, metadata: {...spec.template?.metadata, labels: {...spec.template?.metadata?.labels, ...labels}}},
    },
  }
}

/** `spec.replicas` of a Deployment (1 when unset). */
export function replicasOf(o: KubeObject | undefined): number {
  return ((o?.spec as {replicas?: number} | undefined)?.replicas ?? 1) as number
}

/** What the deploy says of a blue-green or canary service it places at 0 replicas. */
export function stoppedNote(service: string): string {
  return `  ${service}: at 0 replicas: no checks or traffic steps; the release runs once \`skycap scale ${service} N\` starts it`
}

/** A FailureReport for a check or a strategy step, which has no events or logs of its own. */
export function checkFailure(ref: string, message: string): FailureReport {
  return {ref, message, events: [], logs: []}
}
