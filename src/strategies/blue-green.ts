import {parseDuration} from '../duration.js'
import type {FailureReport} from '../deploy/explain.js'
import {whoAmI} from '../identity.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import type {KubeObject} from '../render/objects.js'
import {abortableSleep} from '../sleep.js'
import {runChecks} from './checks.js'
import {readState, type ServiceRolloutState, writeServiceState} from './state.js'
import {
  checkFailure,
  existingSlots,
  missingSlot,
  type Placement,
  replicasOf,
  selectedSlot,
  servedSlot,
  stoppedNote,
  SLOT_LABEL,
  type Slot,
  type Strategy,
  type StrategyContext,
  TEMPLATE_ANNOTATION,
  templateHash,
  withLabels,
} from './strategy.js'

export const DEFAULT_SCALE_DOWN_DELAY = '5m'

/**
 * Blue-green: two Deployments per service, `<service>-blue` and `<service>-green`; the Service selects one slot by
 * its label. The idle slot gets the release at full size; the Service switches only once every new pod is ready and
 * the checks pass. The slot served before stays up for scaleDownDelay (rollback is a switch back), then goes to 0.
 */
export const blueGreen: Strategy = {
  type: 'blueGreen',
  place(unit, live) {
    const {service} = unit
    const liveService = live.get(`Service/${service}`)
    // A selector set by hand to a slot no Deployment has (`purple`, or a slot deleted) serves nothing: no slot is active,
    // as when it selects none, and none is kept or scaled down as the one that served.
    const handSet = missingSlot(
      liveService,
      existingSlots(service, (d) => live.has(`Deployment/${d}`)),
    )
    const active = handSet === undefined ? selectedSlot(liveService) : undefined
    const hash = unit.deployment.metadata.annotations?.[TEMPLATE_ANNOTATION] ?? templateHash(unit.deployment)
    const runsIt = (slot: Slot) => live.get(`Deployment/${service}-${slot}`)?.metadata.annotations?.[TEMPLATE_ANNOTATION] === hash
    const other = (slot: Slot | undefined): Slot => (slot === 'blue' ? 'green' : 'blue')
    // A redeploy of what the active slot runs changes nothing; anything else goes to the idle slot.
    const slot: Slot = active && runsIt(active) ? active : other(active)
    const activeDeployment = active ? live.get(`Deployment/${service}-${active}`) : undefined
    // A rollback records the live count of a slot scaled to zero: the slot comes back at the serving size.
    const replicas = replicasOf(unit.deployment) || replicasOf(activeDeployment)
    const base = withLabels(unit.deployment, `${service}-${slot}`, {[SLOT_LABEL]: slot})
    const deployment = {...base, metadata: {...base.metadata, annotations: {...base.metadata.annotations, [TEMPLATE_ANNOTATION]: hash}}, spec: {...(base.spec as object), replicas}}
    const switched = unit.serviceObject ? withLabels(unit.serviceObject, service, {[SLOT_LABEL]: slot}) : undefined
    // A Service that serves no one slot (its selector has none, or one set by hand that no Deployment has): the other
    // slot, if up, is the one that served before; it goes after the switch, or stayed up for good.
    const otherLive = live.get(`Deployment/${service}-${other(slot)}`)
    const previousSlot = active ? (active !== slot ? active : undefined) : liveService && otherLive && replicasOf(otherLive) > 0 ? other(slot) : undefined
    const preview = unit.strategy.preview && unit.serviceObject ? (s: Slot) => withLabels(unit.serviceObject as KubeObject, `${service}-preview`, {[SLOT_LABEL]: s}) : undefined
    const kept = previousSlot ? live.get(`Deployment/${service}-${previousSlot}`) : live.get(`Deployment/${service}-${other(slot)}`)
    // The preview selects the slot being checked, and the idle one after the switch. A redeploy of what the active slot
    // runs checks and switches nothing: the preview stays on the idle slot (it was moved onto the serving one, and a
    // rollback to the same manifests was then a change, recorded).
    const idle = slot === active && live.has(`Deployment/${service}-${other(slot)}`) ? other(slot) : undefined
    return {
      unit,
      slot,
      ...(previousSlot ? {previousSlot} : {}),
      ...(handSet !== undefined ? {replacedSelector: handSet} : {}),
      ...(replicas === 0 ? {stopped: true} : {}),
      // A Service that exists keeps selecting what it selects until the switch; a new one selects the new slot.
      first: [deployment, ...(preview ? [preview(idle ?? slot)] : []), ...(switched && !liveService ? [switched] : [])],
      later: [...(switched ? [switched] : []), ...(preview && previousSlot ? [preview(previousSlot)] : [])],
      recorded: [deployment, ...(switched ? [switched] : []), ...(preview ? [preview(previousSlot ?? idle ?? slot)] : [])],
      keep: kept ? [kept, ...configMapsOf(kept)] : [],
    }
  },

  async complete(placements, context) {
    // A service scaled to 0 has no pods to check and no traffic to move: its Service switches to the new slot, which
    // `skycap scale` then starts (a check of nothing would fail the release of a service that is simply stopped).
    const stopped = placements.filter((p) => p.stopped)
    for (const p of stopped) context.reporter.info(stoppedNote(p.unit.service))
    // Every service's checks first: one failing stops all switches, and the other services' checks, which ran on to
    // their end (a smoke-test Job for minutes) before the release could fail. Stopped, they are no failure of their
    // own: the report names the check that failed.
    const failed = new AbortController()
    const signal = context.signal ? AbortSignal.any([context.signal, failed.signal]) : failed.signal
    const stoppedByAnother = () => failed.signal.aborted && !context.signal?.aborted
    const failures = (
      await Promise.all(
        placements
          .filter((p) => !stopped.includes(p))
          .map(async (p) => {
            const port = (p.unit.serviceObject?.spec as {ports?: Array<{port: number}>} | undefined)?.ports?.[0]?.port
            const target = {
              service: p.unit.service,
              podSelector: selectorOf(p.first[0] as KubeObject),
              deployment: p.first[0] as KubeObject,
              ...(p.unit.strategy.preview && p.unit.serviceObject ? {preview: `${p.unit.service}-preview`} : {}),
              ...(p.unit.serviceObject ? {serviceName: p.unit.service} : {}),
              ...(port ? {port: targetPortOf(p.unit.serviceObject as KubeObject) ?? port} : {}),
            }
            try {
              const failure = await runChecks(p.unit.strategy.checks ?? [], target, {...context, signal})
              if (!failure || stoppedByAnother()) return undefined
              failed.abort()
              return failure
            } catch (error) {
              if (stoppedByAnother()) return undefined
              throw error
            }
          }),
      )
    ).filter((f): f is FailureReport => f !== undefined)
    if (failures.length) {
      await removeNewSlots(placements, context, failures)
      return failures
    }
    const later = placements.flatMap((p) => p.later)
    const recordSwitches = async (switched: Placement[]) => {
      const before = switched.some((p) => !p.previousSlot) ? (await readState(context.kubectl, context.app)).services : {}
      await Promise.all(switched.map((p) => recordSwitch(p, context, before[p.unit.service])))
    }
    let unswitched: FailureReport[]
    try {
      if (later.length) {
        context.reporter.info(`Switching ${placements.map((p) => `${p.unit.service} to ${p.slot}${replacing(p)}`).join(', ')}`)
        await applyObjects(context.kubectl, later, context.signal)
      }
      unswitched = await waitForEndpoints(placements, context)
      if (!unswitched.length) await recordSwitches(placements)
    } catch (error) {
      // A Ctrl-C or SIGTERM during the switch, while the endpoints move or while the switch is recorded: the Services
      // that select their new slot (asked of the cluster: a kubectl stopped mid-apply may have switched some) are
      // recorded as switched. The state named the old slot as serving (status, rollout status, the release's record),
      // and it was never scaled down.
      if (later.length && context.signal?.aborted) {
        const switched = async (p: Placement) => p.unit.serviceObject !== undefined && (await servedSlot(context.kubectl, p.unit.service)).slot === p.slot
        const flags = await Promise.all(placements.map((p) => switched(p).catch(() => false)))
        await recordSwitches(placements.filter((_, i) => flags[i])).catch(() => undefined)
      }
      throw error
    }
    return unswitched
  },
}

/**
 * What a switch replaces besides a slot: a selector set by hand to a slot no Deployment had (it served nothing). One
 * that names the slot the deploy brings up (its Deployment deleted, or never made) is not replaced: it said
 * `Switching api to blue (replacing skycap.dev/slot=blue, set by hand: …)`, and skycap may have set it.
 */
export function replacing(p: Placement): string {
  if (p.replacedSelector === undefined) return ''
  const missing = `no Deployment ${p.unit.service}-${p.replacedSelector} existed`
  return p.replacedSelector === p.slot
    ? ` (Service ${p.unit.service} selected it while ${missing}: it sent traffic to no pod)`
    : ` (replacing ${SLOT_LABEL}=${p.replacedSelector}, set by hand: ${missing})`
}

/** The label selector of a Deployment's pods. */
function selectorOf(deployment: KubeObject): string {
  const labels = (deployment.spec as {selector: {matchLabels: Record<string, string>}}).selector.matchLabels
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
}

function targetPortOf(service: KubeObject): number | undefined {
  const port = (service.spec as {ports?: Array<{targetPort?: number | string}>}).ports?.[0]?.targetPort
  return typeof port === 'number' ? port : undefined
}

/** The ConfigMaps a live Deployment mounts: they stay while the slot does (config is per release). */
function configMapsOf(deployment: KubeObject): KubeObject[] {
  const volumes = (deployment.spec as {template?: {spec?: {volumes?: Array<{configMap?: {name?: string}}>}}}).template?.spec?.volumes ?? []
  return volumes.flatMap((v) => (v.configMap?.name ? [{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: v.configMap.name}}] : []))
}

async function applyObjects(kubectl: Kubectl, objects: KubeObject[], signal?: AbortSignal): Promise<void> {
  await kubectl.run(['apply', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-'], {input: JSON.stringify({apiVersion: 'v1', kind: 'List', items: objects}), signal})
}

/**
 * The new slots of a release that failed before its switch (a slot that did not become ready or failed its checks,
 * or another service that failed) never took traffic: they go (their Deployments are deleted), and the state of each
 * service says why: its own slot failed (`failed`), or it was removed because of another service (`aborted`).
 */
export async function removeNewSlots(placements: Placement[], context: StrategyContext, failures: FailureReport[]): Promise<void> {
  const removed = placements.filter((p) => p.previousSlot)
  const names = removed.map((p) => `deployment/${p.unit.service}-${p.slot}`)
  if (!names.length) return
  context.reporter.info(`Removing ${names.join(', ')}: ${names.length === 1 ? 'it' : 'they'} received no traffic`)
  await context.kubectl.run(['delete', '--ignore-not-found', '--wait=false', ...names], {allowFailure: true})
  for (const p of removed) {
    const deployment = `${p.unit.service}-${p.slot}`
    const own = failures.find((f) => f.ref === `Deployment/${deployment}` || (f.ref.startsWith('check/') && f.ref.endsWith(` ${p.unit.service}`)))
    const others = [...new Set(failures.filter((f) => f !== own).map((f) => f.ref))]
    const message = own
      ? `${deployment} ${own.ref.startsWith('check/') ? 'failed its checks' : 'did not become ready'} and was removed`
      : `${deployment} was removed without taking traffic: release ${context.release ?? '?'} failed (${others.join(', ')})`
    await writeServiceState(context.kubectl, context.app, context.environment, p.unit.service, {
      ...slotState(context.release, context.clock(), p.previousSlot as Slot, {}),
      phase: own ? 'failed' : 'aborted',
      message,
    })
  }
}

/**
 * After the switch, until each Service's endpoints are the new slot's pods only (kube-proxy follows the
 * EndpointSlices): the deploy reports the switch once the cluster made it.
 */
async function waitForEndpoints(placements: Placement[], context: StrategyContext): Promise<FailureReport[]> {
  // A slot at 0 replicas has no endpoints to wait for.
  const switched = placements.filter((p) => p.unit.serviceObject && !p.stopped)
  const deadline = Math.min(context.deadline, context.clock() + 60_000)
  type Slice = KubeObject & {endpoints?: Array<{targetRef?: {name?: string}; conditions?: {ready?: boolean}}>}
  type Pod = KubeObject
  for (;;) {
    const pending: string[] = []
    for (const p of switched) {
      const [slices, pods] = await Promise.all([
        context.kubectl.json<{items: Slice[]}>(['get', 'endpointslices', '-l', `kubernetes.io/service-name=${p.unit.service}`], {signal: context.signal}),
        context.kubectl.json<{items: Pod[]}>(['get', 'pods', '-l', selectorOf(p.first[0] as KubeObject)], {signal: context.signal}),
      ])
      const fresh = new Set(pods.items.map((x) => x.metadata.name))
      const ready = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false)
      if (ready.length === 0 || ready.some((e) => !fresh.has(e.targetRef?.name ?? ''))) pending.push(p.unit.service)
    }
    if (!pending.length) return []
    if (context.clock() >= deadline) return pending.map((s) => checkFailure(`Service/${s}`, 'its endpoints did not move to the new slot in time'))
    await abortableSleep(500, context.signal)
  }
}

/** `before`: the service's state before this rollout, whose scale-down a rollout that keeps the active slot leaves due. */
async function recordSwitch(p: Placement, context: StrategyContext, before: ServiceRolloutState | undefined): Promise<void> {
  const now = context.clock()
  const delayMs = await parseDuration(p.unit.strategy.scaleDownDelay ?? DEFAULT_SCALE_DOWN_DELAY, 'strategy.scaleDownDelay')
  // Without this a redeploy of what the active slot runs forgot the other slot still up (kept for rollback, or left
  // by a rollout stopped before its switch), and nothing ever scaled it down.
  const due = p.previousSlot
    ? {previousSlot: p.previousSlot, scaleDownAt: new Date(now + delayMs).toISOString()}
    : before?.type === 'blueGreen' && before.activeSlot === p.slot && before.previousSlot && before.scaleDownAt && !before.scaledDown
      ? {previousSlot: before.previousSlot, scaleDownAt: before.scaleDownAt}
      : {}
  await writeServiceState(context.kubectl, context.app, context.environment, p.unit.service, slotState(context.release, now, p.slot as Slot, due))
}

function slotState(release: number | null, now: number, activeSlot: Slot, due: {previousSlot?: Slot; scaleDownAt?: string}): ServiceRolloutState {
  const at = new Date(now).toISOString()
  return {type: 'blueGreen', release, phase: 'completed', startedBy: whoAmI(), startedAt: at, updatedAt: at, activeSlot, ...due}
}

/**
 * Before a rollout (deploy or rollback) brings up the idle slot of blue-green services: the state names that slot,
 * its scale-down due at once. A rollout stopped before its switch (SIGTERM, Ctrl-C, a killed CLI) left the slot at
 * full size while the state still said it was scaled to 0, and nothing scaled it down; now `rollout status` says it
 * is coming up, and the next deploy, rollback or `rollout resume` scales it down (scaleDownOldSlots).
 */
export async function recordSlotsComingUp(placements: Placement[], context: Pick<StrategyContext, 'kubectl' | 'app' | 'environment' | 'release' | 'clock'>): Promise<void> {
  const now = context.clock()
  const rising = placements.filter((p) => p.previousSlot)
  for (const p of rising) {
    const deployment = `${p.unit.service}-${p.slot}`
    await writeServiceState(context.kubectl, context.app, context.environment, p.unit.service, {
      ...slotState(context.release, now, p.previousSlot as Slot, {previousSlot: p.slot as Slot, scaleDownAt: new Date(now).toISOString()}),
      phase: 'progressing',
      message: `${deployment} is coming up for release ${context.release ?? '?'}; if this rollout stops before its switch, the next deploy, rollback or \`skycap rollout resume\` scales it to 0`,
    })
  }
}
