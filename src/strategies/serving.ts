// The Deployment that serves a service, for the commands that act on it in place (`skycap scale`, `skycap restart`):
// found through the rollout state and the live Service, refused while a canary is under way, and checked to be this
// app's and environment's before anything changes.
import {deployFirst} from '../config/environment.js'
import {KubectlError, OwnedElsewhereError, UserError} from '../errors.js'
import {describeOwner, ownershipOf} from '../env/ownership.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import type {KubeObject} from '../render/objects.js'
import type {Reporter} from '../ui/output.js'
import {servingDeployment, type ServiceRolloutState} from './state.js'
import {existingSlots, missingSlotNote, noSlotNote, selectorSlot, servedSlot, type Slot} from './strategy.js'

/** How a command that acts on a service's serving Deployment names what it does in its messages. */
export interface ServiceAction {
  /** The command and its verb: `scale`, `restart`. */
  verb: string
  /** `scaled`, `restarted` */
  done: string
  /** `scales`, `restarts` */
  does: string
}

export const SCALE_ACTION: ServiceAction = {verb: 'scale', done: 'scaled', does: 'scales'}
export const RESTART_ACTION: ServiceAction = {verb: 'restart', done: 'restarted', does: 'restarts'}

/** A live Deployment, as far as these commands read it. */
export type ServedDeployment = KubeObject & {spec?: {replicas?: number}}

/**
 * A service whose canary is left mid-way (paused, progressing, aborting or promoting, on record) is not scaled or
 * restarted: the canary's steps, its abort and its promotion size both Deployments from the count they read, so
 * `rollout resume` or `skycap abort` undid a scale (shop back to 4 pods while history said 3 -> 6), and the count
 * scaled "from" was the canary-reduced stable one; a restart would restart one side of a canary that is being judged.
 * Asked under the lock, as deploy's refuseSecondRollout asks, so a canary started meanwhile is seen.
 */
export function refuseCanaryUnderWay(service: string, environment: string, state: Omit<ServiceRolloutState, 'unit'> | undefined, action: ServiceAction): void {
  if (state?.type !== 'canary' || (state.phase !== 'progressing' && state.phase !== 'paused')) return
  const doing = state.aborting ? 'aborting' : state.promoting ? 'promoting' : state.phase
  const step = state.step !== undefined && state.steps !== undefined ? `, step ${Math.min(state.step + 1, state.steps)}/${state.steps}` : ''
  throw new UserError(`the canary of ${service} (release ${state.release ?? '?'}, ${doing} at ${state.weight ?? 0}%${step}) in ${environment} is still under way; nothing was changed`, {
    hint: `Finish it first with \`skycap rollout resume ${environment}\` (then \`skycap promote ${environment} ${service}\`) or \`skycap abort ${environment} ${service}\`, then ${action.verb} ${service}.`,
    details: {
      environment,
      service,
      canary: {
        release: state.release,
        phase: state.phase,
        step: state.step ?? null,
        steps: state.steps ?? null,
        weight: state.weight ?? 0,
        ...(state.aborting ? {aborting: true} : {}),
        ...(state.promoting ? {promoting: true} : {}),
      },
    },
  })
}

/**
 * The Deployment that serves `service`: for a blue-green one, the slot its live Service selects. The state names the
 * slot it recorded, which is not the one serving after a SIGKILL between the switch and the state's write (scale then
 * scaled the idle slot, and the next scale-down undid it); the state's slot is the answer only when the Service
 * selects none. `selected`: the slot label the Service's selector gives, when the target is that slot's Deployment
 * (a hand-set `purple` too: its Deployment, missing, refuses the command with missingSlotRefusal).
 */
export async function servingTarget(
  kubectl: Kubectl,
  service: string,
  state: Omit<ServiceRolloutState, 'unit'> | undefined,
  reporter: Reporter,
  action: ServiceAction,
): Promise<{target: string; selected?: string}> {
  if (state?.type !== 'blueGreen') return {target: servingDeployment(service, state)}
  const served = await servedSlot(kubectl, service)
  const note = state.activeSlot ? noSlotNote(service, served.object, state.activeSlot, `this ${action.verb} ${action.does}`) : undefined
  if (note) reporter.warn(note)
  const selected = selectorSlot(served.object)
  if (selected !== undefined) return {target: `${service}-${selected}`, selected}
  return {target: servingDeployment(service, {type: 'blueGreen', activeSlot: served.slot ?? state.activeSlot})}
}

/**
 * The refusal of a command whose blue-green Service selects a slot no Deployment has (patched by hand): acting on the
 * slot the state names would change pods that take no traffic. Asked only on that path: which slots exist (one call).
 */
async function missingSlotRefusal(kubectl: Kubectl, service: string, selected: string, environment: string, assumed: Slot | undefined, action: ServiceAction): Promise<UserError> {
  const names = (await kubectl.run(['get', 'deployments', `${service}-blue`, `${service}-green`, '--ignore-not-found', '-o', 'name'])).stdout.split('\n').map((l) => l.trim().replace(/^[^/]*\//, ''))
  const slots = existingSlots(service, (d) => names.includes(d))
  const {problem, fix} = missingSlotNote(service, selected, slots, {deploy: deployFirst(environment), assumed, shown: (args) => kubectl.shown(args)})
  return new UserError(`${problem}; ${service} is not ${action.done}, nothing was changed`, {hint: `${fix}; then ${action.verb} ${service}.`, details: {environment, service, selected, slots}})
}

/** The refusal of a service whose Deployment is not there. */
export function notDeployedError(service: string, environment: {name: string; namespace: string}): UserError {
  return new UserError(`service ${service} is not deployed in ${environment.name} (namespace ${environment.namespace})`, {hint: `Deploy it first: ${deployFirst(environment.name)}.`})
}

/**
 * The live Deployment that serves `service` (servingTarget), refused when another app or environment (or no skycap
 * app) owns it: several apps, or two environments, may share a namespace. `deployment` is undefined when there is
 * none (not deployed); a blue-green Service that selects a slot with no Deployment is refused instead.
 */
export async function readServingDeployment(
  kubectl: Kubectl,
  target: {app: string; environment: {name: string; namespace: string}; service: string; state: Omit<ServiceRolloutState, 'unit'> | undefined},
  reporter: Reporter,
  action: ServiceAction,
): Promise<{target: string; deployment: ServedDeployment | undefined}> {
  const {app, environment: env, service, state} = target
  const {target: name, selected} = await servingTarget(kubectl, service, state, reporter, action)
  let deployment: ServedDeployment
  try {
    deployment = await kubectl.json<ServedDeployment>(['get', 'deployment', name])
  } catch (error) {
    if (!(error instanceof KubectlError && error.kind === 'not_found')) throw error
    if (selected !== undefined) throw await missingSlotRefusal(kubectl, service, selected, env.name, state?.activeSlot, action)
    return {target: name, deployment: undefined}
  }
  const owner = ownershipOf(deployment, app, env.name)
  if (owner.owner !== 'this') {
    throw new OwnedElsewhereError(`Deployment/${name} in namespace ${env.namespace} belongs to ${describeOwner(owner, app)}, not to ${app} ${env.name}; nothing was changed`, {
      hint:
        owner.owner === 'unmanaged'
          ? `skycap ${action.does} only what it deployed: deploy ${app} ${env.name} first (${deployFirst(env.name)}), or ${action.verb} that Deployment with kubectl.`
          : `skycap ${action.does} only what it deployed for ${app} ${env.name}: run skycap ${action.verb} from the repository (or environment) that owns it.`,
      details: {environment: env.name, namespace: env.namespace, deployment: name, owner},
    })
  }
  return {target: name, deployment}
}
