import {unknownServiceError, withFlag} from '../config/environment.js'
import {DeployFailedError, InterruptedError, TimeoutError, UserError} from '../errors.js'
import {parseDuration} from '../duration.js'
import {LOCK_RELEASED} from '../lock/lease.js'
import {inPlaceEntry, watchAndRecord, whileLocked} from '../release/in-place.js'
import {listReleases, saveRelease} from '../release/store.js'
import {deployedServices, notInFileWarning} from '../tasks/pods.js'
import type {DeployDeps} from '../deploy/deploy.js'
import {DEFAULT_TIMEOUT_MS} from '../deploy/replicas.js'
import {appSelector, connect, openEnvironment} from '../env/connect.js'
import {refuseUnwatchable} from '../deploy/watch.js'
import {rolloutsOf} from '../strategies/state.js'
import {notDeployedError, readServingDeployment, refuseCanaryUnderWay, SCALE_ACTION} from '../strategies/serving.js'

export interface ScaleOptions {
  service: string
  /** The pod count, as typed on the command line or as a number; checked by parseReplicas. */
  replicas: string | number
  environment?: string
  configPath?: string
  force?: boolean
  dryRun?: boolean
  timeout?: string
  waitForLock?: string
}

export interface ScaleReport {
  environment: string
  service: string
  from: number
  to: number
  /** planned: --dry-run, or stopped before the scale was made; unchanged: the service already had that count (nothing done or recorded). */
  result: 'succeeded' | 'planned' | 'unchanged' | 'failed' | 'timed-out' | 'interrupted'
  release: number | null
  /** The release number another command recorded while this one ran (its lock released by hand); this one took `release`. */
  renumberedFrom?: number
  /** The HorizontalPodAutoscaler of the service, if any, and what it does with the new count. */
  hpa?: {name: string; note: string}
  /** Scaled over that HPA with --force: it sets its own count again. */
  force?: true
}

/** The largest replica count Kubernetes accepts (spec.replicas is an int32). */
export const MAX_REPLICAS = 2_147_483_647

/** A replica count from the command line (digits) or code (a number): a whole number from 0 to MAX_REPLICAS. */
export function parseReplicas(replicas: string | number): number {
  if (typeof replicas === 'string') {
    if (!/^\d+$/.test(replicas)) {
      throw new UserError(`replicas must be a whole number of 0 or more, not "${replicas}"`, {hint: 'Give the number of pods, e.g. `skycap scale web 3`; 0 stops the service.'})
    }
  } else if (!Number.isInteger(replicas) || replicas < 0) {
    throw new UserError(`replicas must be a whole number of 0 or more, not "${replicas}"`)
  }
  // Compared as a BigInt: Number("99999999999999999999") is already rounded.
  if (BigInt(replicas) > BigInt(MAX_REPLICAS)) {
    throw new UserError(`replicas must be at most ${MAX_REPLICAS}, the largest count Kubernetes accepts, not "${replicas}"`, {
      hint: `Pass a whole number from 0 to ${MAX_REPLICAS}.`,
    })
  }
  return Number(replicas)
}

/** A HorizontalPodAutoscaler's fields that scale reads. */
interface Hpa {
  metadata: {name: string}
  spec?: {scaleTargetRef?: {kind?: string; name?: string}; minReplicas?: number; maxReplicas?: number}
}

/**
 * What an HPA does with a scale of `service` from `from` to `to`: whether it undoes it, and what to say. Kubernetes
 * disables an HPA whose target has 0 replicas (ScalingDisabled) unless its minReplicas is 0 (HPAScaleToZero): a scale
 * to 0 stays, and one from 0 hands the service back to the HPA at that count (it was refused without --force, so a
 * nightly scale to zero needed --force both ways).
 */
function hpaTakes(hpa: Hpa, service: string, from: number, to: number): {undoes: boolean; note: string} {
  const name = hpa.metadata.name
  const min = hpa.spec?.minReplicas ?? 1
  const max = hpa.spec?.maxReplicas
  const bounds = `between its minReplicas ${min} and maxReplicas ${max ?? '?'}`
  if (min > 0 && to === 0) return {undoes: false, note: `the HorizontalPodAutoscaler ${name} leaves ${service} at 0 (Kubernetes disables autoscaling at 0 replicas) until it is scaled up again`}
  if (min > 0 && from === 0) {
    const set = to < min ? min : max !== undefined && to > max ? max : undefined
    return {
      undoes: false,
      note: `the HorizontalPodAutoscaler ${name} takes ${service} over again from ${to}${set !== undefined ? ` and sets it to ${set}` : ''}, keeping it ${bounds}`,
    }
  }
  return {undoes: true, note: `${service} is managed by the HorizontalPodAutoscaler ${name}: it sets its own count again (${bounds}) within seconds, undoing this scale (--force)`}
}

/** The report's fields for the HPA of the service (none without one). */
function hpaReport(hpa: {name: string; note: string; undoes: boolean} | undefined): Pick<ScaleReport, 'hpa' | 'force'> {
  return hpa ? {hpa: {name: hpa.name, note: hpa.note}, ...(hpa.undoes ? {force: true as const} : {})} : {}
}

/** `skycap scale SERVICE N`: scales, waits until ready, records it; later deploys keep the count. */
export async function scale(input: ScaleOptions, deps: DeployDeps): Promise<ScaleReport> {
  const clock = deps.clock ?? Date.now
  const options = {...input, replicas: parseReplicas(input.replicas)}
  const {loaded, env} = await openEnvironment({configPath: options.configPath, environment: options.environment, repository: false, envFlagOnly: true})
  const app = loaded.config.app
  // A service dropped from the work tree's skycap.yaml may still run (a rollback to a release that had it): its
  // Deployment decides, below. An environment's name is a mix-up, said at once.
  const unknown = env.services[options.service] ? undefined : unknownServiceError(loaded, options.service, 'skycap scale SERVICE N', withFlag(options.environment))
  if (unknown && Object.hasOwn(loaded.config.environments, options.service)) throw unknown
  if (options.replicas > env.maxReplicas) {
    const above = `${options.replicas} replicas is above the ceiling of ${env.maxReplicas} per service in ${env.name}`
    if (!options.force) {
      throw new UserError(`${above}; nothing was changed`, {
        hint: `Pass --force if ${options.replicas} is meant, or raise environments.${env.name}.maxReplicas in ${loaded.show(loaded.file)}.`,
        details: {replicas: options.replicas, maxReplicas: env.maxReplicas},
      })
    }
    deps.reporter.warn(`${above}; scaling anyway (--force)`)
  }
  const timeoutText = options.timeout ?? loaded.config.deploy?.timeout
  const timeoutMs = timeoutText !== undefined ? await parseDuration(timeoutText, options.timeout !== undefined ? '--timeout' : 'deploy.timeout') : DEFAULT_TIMEOUT_MS
  const waitMs = options.waitForLock !== undefined ? await parseDuration(options.waitForLock, '--wait-for-lock') : 0
  const {kubectl} = await connect(env, deps.kubectl, deps.reporter, {checkContextOnFirstCall: true})
  if (unknown) {
    // A name the file lacks: scaled only when it is a service of the release that runs and its Deployment is there.
    // Without an answer (no cluster at hand, a context not in the kubeconfig) it is the typo it most likely is:
    // unknown, with did-you-mean.
    const running = await deployedServices(kubectl, app, env.name).catch(() => new Set<string>())
    if (!running.has(options.service)) throw unknown
  }
  // What is scaled, from which count, and whether an HPA manages it: read under the lock (a deploy or a scale that held
  // it meanwhile may have changed each), and without one for --dry-run.
  const inspect = async () => {
    // A blue-green service is served by the slot its Service selects (web-blue or web-green): that one is scaled, and
    // the next deploy brings the new slot up at its count (keepScaledReplicas). The state is read whatever the work
    // tree's strategies say: a canary left mid-way whose strategy was since removed from skycap.yaml is still under
    // way, and a service the work tree makes rolling may be served by a blue-green slot (a rollback to a release where
    // it was blue-green).
    const rollouts = await rolloutsOf(kubectl, app, env.services, {always: true})
    const state = rollouts[options.service]
    refuseCanaryUnderWay(options.service, env.name, state, SCALE_ACTION)
    const {target, deployment} = await readServingDeployment(kubectl, {app, environment: env, service: options.service, state}, deps.reporter, SCALE_ACTION)
    if (!deployment) throw unknown ?? notDeployedError(options.service, env)
    const hpas = await kubectl.json<{items: Hpa[]}>(['get', 'horizontalpodautoscalers'])
    const hpa = hpas.items.find((h) => h.spec?.scaleTargetRef?.kind === 'Deployment' && h.spec.scaleTargetRef.name === target)
    const from = deployment.spec?.replicas ?? 1
    const autoscaled = hpa ? hpaTakes(hpa, options.service, from, options.replicas) : undefined
    if (hpa && autoscaled?.undoes && !options.force) {
      throw new UserError(`${options.service} is managed by the HorizontalPodAutoscaler ${hpa.metadata.name}; it would undo the change`, {
        hint: 'Change the HPA bounds in its template instead, or pass --force (the HPA sets its own count again within seconds); a scale to 0 and back needs neither.',
      })
    }
    return {target, deployment, from, hpa: hpa && autoscaled ? {name: hpa.metadata.name, note: autoscaled.note, undoes: autoscaled.undoes} : undefined}
  }
  if (options.dryRun) {
    const {from, hpa} = await inspect()
    return {
      environment: env.name,
      service: options.service,
      from,
      to: options.replicas,
      result: from === options.replicas ? 'unchanged' : 'planned',
      release: null,
      ...hpaReport(hpa),
    }
  }

  return whileLocked(
    kubectl,
    {app, environment: env, reason: `scale ${options.service} to ${options.replicas}`, what: `scale ${options.service}`, waitMs},
    deps,
    async (quitAtOnce): Promise<ScaleReport> => {
      // --timeout and the record's start and duration count from here: waiting for the lock is not the scale's time
      // (a deploy's record starts under the lock too).
      const started = clock()
      const deadline = started + timeoutMs
      // The records too, before anything changes: an unreadable one stops the scale here, not after it. So does a watch
      // the user may not make (the scale went through, then its watch was refused and no record was written).
      const {target, deployment, from, hpa} = await inspect()
      const [releases] = await Promise.all([
        listReleases(kubectl, app, env.name, {manifests: false}),
        from === options.replicas ? undefined : refuseUnwatchable(kubectl, [deployment], appSelector(app, env.name), `the scale of ${options.service} in ${env.name}`),
      ])
      const report: ScaleReport = {
        environment: env.name,
        service: options.service,
        from,
        to: options.replicas,
        result: 'planned',
        release: null,
        ...hpaReport(hpa),
      }
      // Already at that count: nothing to scale, and no history entry for it (each one said "web 3 -> 3").
      if (from === options.replicas) return {...report, result: 'unchanged'}
      if (unknown) deps.reporter.warn(notInFileWarning(options.service))
      const slot = target === options.service ? '' : ` (Deployment ${target}, the active slot)`
      // Forced over an HPA: said in history (it read "web 2 -> 12 succeeded" while the HPA had put it back to 10).
      const scaleRecord = () => ({
        ...inPlaceEntry(releases, {app, environment: env, action: 'scale', started, clock}),
        scale: {service: options.service, from, to: options.replicas, ...(hpa?.undoes ? {force: true, hpa: hpa.name} : {})},
      })
      // From the scale on, a quit at once (a second Ctrl-C) records it as interrupted (the new count stood unrecorded).
      quitAtOnce.arm(() => saveRelease(kubectl, {...scaleRecord(), result: 'interrupted'}, undefined, releases, loaded.config.history?.keep ?? 10))
      deps.reporter.info(`Scaling ${options.service}${slot} in ${env.name} from ${from} to ${options.replicas}`)
      if (hpa?.undoes) deps.reporter.warn(hpa.note)
      // Events last seen before the scale are not about it (a scale makes no new ReplicaSet to date them by).
      const began = {at: clock(), clock}
      await kubectl.run(['scale', `deployment/${target}`, `--replicas=${options.replicas}`])
      const {outcome, failures, statuses} = await watchAndRecord(
        kubectl,
        {app, environment: env, command: 'scale', objects: [deployment], services: [options.service], config: loaded.config, deadline, began, releases, record: scaleRecord},
        deps,
        quitAtOnce,
        report,
      )
      // The count stays set (and recorded) whatever the watch saw: the way back is a scale to where it was.
      const back = `\`skycap scale ${options.service} ${from} -e ${env.name}\` goes back`
      if (outcome === 'interrupted')
        throw new InterruptedError(`scaling ${options.service} in ${env.name} interrupted; ${LOCK_RELEASED}`, {
          // The count was set and recorded; only the wait for its pods stopped.
          hint: `${options.service} goes on to ${options.replicas} replicas without skycap watching: \`skycap status ${env.name}\` shows how far it got; ${back}.`,
          details: {report, failures},
        })
      // A ResourceQuota's refusal: which one, and how to look at it (it waited for the timeout, then said neither).
      const quota = statuses.find((s) => s.quota)?.quota?.refusal.quota
      const quotaHint = quota ? `\`${kubectl.shown(`describe resourcequota ${quota}`)}\` shows the quota: raise it or free room; ` : ''
      if (outcome === 'timeout')
        throw new TimeoutError(`${options.service} did not reach ${options.replicas} ready replicas in time`, {
          hint: `${quotaHint}${options.service} stays asked for ${options.replicas}: \`skycap status ${env.name}\` shows how far it got; ${back}.`,
          details: {report, failures},
        })
      if (outcome !== 'ready')
        throw new DeployFailedError(`scaling ${options.service} failed: ${failures[0]?.message ?? outcome}`, {
          hint: `${quotaHint}${options.service} stays asked for ${options.replicas}; ${back}.`,
          details: {report, failures},
        })
      return report
    },
  )
}
