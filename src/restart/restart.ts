import {unknownServiceError, withFlag} from '../config/environment.js'
import {DeployFailedError, InterruptedError, TimeoutError, UserError} from '../errors.js'
import {parseDuration} from '../duration.js'
import {LOCK_RELEASED} from '../lock/lease.js'
import {inPlaceEntry, watchAndRecord, whileLocked} from '../release/in-place.js'
import {listReleases, type ReleaseRecord, saveRelease} from '../release/store.js'
import {deployedServices, notInFileWarning} from '../tasks/pods.js'
import type {DeployDeps} from '../deploy/deploy.js'
import type {FailureReport} from '../deploy/explain.js'
import {pausedRefusal} from '../deploy/drift.js'
import {DEFAULT_TIMEOUT_MS} from '../deploy/replicas.js'
import {appSelector, connect, openEnvironment} from '../env/connect.js'
import {refuseUnwatchable} from '../deploy/watch.js'
import {rolloutsOf} from '../strategies/state.js'
import {notDeployedError, readServingDeployment, refuseCanaryUnderWay, RESTART_ACTION, type ServedDeployment} from '../strategies/serving.js'

export interface RestartOptions {
  /** The services to restart; none: every service of the environment that is deployed. */
  services: string[]
  environment?: string
  configPath?: string
  dryRun?: boolean
  timeout?: string
  waitForLock?: string
}

/** A service restarted, through the Deployment that serves it (a blue-green service's active slot). */
export interface RestartedService {
  service: string
  deployment: string
  replicas: number
}

/** A service a restart of every service left alone, and why. */
export interface SkippedService {
  service: string
  reason: 'scaled to 0' | 'not deployed'
}

export interface RestartReport {
  environment: string
  services: RestartedService[]
  skipped: SkippedService[]
  /** planned: --dry-run; unchanged: nothing to restart (every service skipped; nothing recorded). */
  result: 'succeeded' | 'planned' | 'unchanged' | 'failed' | 'timed-out' | 'interrupted'
  release: number | null
  /** The release number another command recorded while this one ran (its lock released by hand); this one took `release`. */
  renumberedFrom?: number
}

/** The pod template annotation `kubectl rollout restart` sets: a new value is a new template, so new pods. */
export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt'

/** What restarting says of a skipped service. */
function skippedNote(s: SkippedService, environment: string): string {
  return s.reason === 'scaled to 0' ? `${s.service} in ${environment} is scaled to 0: it has no pods to restart` : `${s.service} is not deployed in ${environment}: nothing to restart`
}

/**
 * `skycap restart [SERVICE...]`: new pods for the services, as `kubectl rollout restart` makes them (a new
 * restartedAt annotation in each pod template), watched until ready and recorded. Nothing is rolled back: the new
 * pods run the same release as the old ones.
 */
export async function restart(input: RestartOptions, deps: DeployDeps): Promise<RestartReport> {
  const clock = deps.clock ?? Date.now
  const {loaded, env} = await openEnvironment({configPath: input.configPath, environment: input.environment, repository: false, envFlagOnly: true})
  const app = loaded.config.app
  const named = [...new Set(input.services)]
  // A service dropped from the work tree's skycap.yaml may still run (a rollback to a release that had it): the
  // release that runs decides, below. An environment's name is a mix-up, said at once.
  const unknown = new Map<string, UserError>()
  for (const service of named) {
    if (env.services[service]) continue
    const error = unknownServiceError(loaded, service, 'skycap restart', withFlag(input.environment))
    if (Object.hasOwn(loaded.config.environments, service)) throw error
    unknown.set(service, error)
  }
  const timeoutText = input.timeout ?? loaded.config.deploy?.timeout
  const timeoutMs = timeoutText !== undefined ? await parseDuration(timeoutText, input.timeout !== undefined ? '--timeout' : 'deploy.timeout') : DEFAULT_TIMEOUT_MS
  const waitMs = input.waitForLock !== undefined ? await parseDuration(input.waitForLock, '--wait-for-lock') : 0
  const {kubectl} = await connect(env, deps.kubectl, deps.reporter, {checkContextOnFirstCall: true})
  if (unknown.size) {
    // Without an answer (no cluster at hand) a name the file lacks is the typo it most likely is.
    const running = await deployedServices(kubectl, app, env.name).catch(() => new Set<string>())
    const typo = [...unknown].find(([service]) => !running.has(service))
    if (typo) throw typo[1]
  }
  const services = named.length ? named : Object.keys(env.services)
  const names = services.join(', ')
  // Every service is read and checked before any is restarted, under the lock (and without one for --dry-run): a
  // refusal of one changes nothing.
  const inspect = async () => {
    const rollouts = await rolloutsOf(kubectl, app, env.services, {always: true})
    for (const service of services) refuseCanaryUnderWay(service, env.name, rollouts[service], RESTART_ACTION)
    const targets: Array<RestartedService & {object: ServedDeployment}> = []
    const skipped: SkippedService[] = []
    for (const service of services) {
      const {target, deployment} = await readServingDeployment(kubectl, {app, environment: env, service, state: rollouts[service]}, deps.reporter, RESTART_ACTION)
      if (!deployment) {
        if (named.length) throw unknown.get(service) ?? notDeployedError(service, env)
        skipped.push({service, reason: 'not deployed'})
        continue
      }
      const replicas = deployment.spec?.replicas ?? 1
      if (replicas === 0) skipped.push({service, reason: 'scaled to 0'})
      else targets.push({service, deployment: target, replicas, object: deployment})
    }
    // A Deployment paused by hand rolls out nothing: the restart would wait out its --timeout and fail.
    const paused = targets.filter((t) => (t.object.spec as {paused?: boolean} | undefined)?.paused === true).map((t) => t.deployment)
    if (paused.length) throw pausedRefusal(paused, env.name, kubectl, 'restart')
    for (const s of skipped) (named.length ? deps.reporter.warn : deps.reporter.info).call(deps.reporter, skippedNote(s, env.name))
    return {targets, skipped}
  }
  const reportOf = (targets: RestartedService[], skipped: SkippedService[], result: RestartReport['result']): RestartReport => ({
    environment: env.name,
    services: targets.map(({service, deployment, replicas}) => ({service, deployment, replicas})),
    skipped,
    result,
    release: null,
  })
  if (input.dryRun) {
    const {targets, skipped} = await inspect()
    return reportOf(targets, skipped, targets.length ? 'planned' : 'unchanged')
  }

  return whileLocked(kubectl, {app, environment: env, reason: `restart ${names}`, what: `restart ${names}`, waitMs}, deps, async (quitAtOnce): Promise<RestartReport> => {
    // --timeout and the record's start count from here: waiting for the lock is not the restart's time.
    const started = clock()
    const deadline = started + timeoutMs
    const {targets, skipped} = await inspect()
    // The records too, before anything changes: an unreadable one stops the restart here. So does a watch the user
    // may not make.
    const [releases] = await Promise.all([
      listReleases(kubectl, app, env.name, {manifests: false}),
      targets.length
        ? refuseUnwatchable(
            kubectl,
            targets.map((t) => t.object),
            appSelector(app, env.name),
            `the restart of ${names} in ${env.name}`,
          )
        : undefined,
    ])
    const report = reportOf(targets, skipped, 'planned')
    // Nothing to restart (every service scaled to 0 or not deployed): no history entry.
    if (!targets.length) return {...report, result: 'unchanged'}
    for (const t of targets) if (unknown.has(t.service)) deps.reporter.warn(notInFileWarning(t.service))
    const restarted = targets.map((t) => t.service)
    const restartRecord = (failures: FailureReport[] = [], message?: string): Omit<ReleaseRecord, 'result'> => ({
      ...inPlaceEntry(releases, {app, environment: env, action: 'restart', started, clock}),
      restart: {services: restarted, deployments: targets.map((t) => t.deployment)},
      ...(failures[0] ? {failed: failures[0].ref, message: failures[0].message} : message ? {message} : {}),
    })
    const keep = loaded.config.history?.keep ?? 10
    // From the first patch on, a quit at once (a second Ctrl-C) records the restart as interrupted.
    quitAtOnce.arm(() => saveRelease(kubectl, {...restartRecord(), result: 'interrupted'}, undefined, releases, keep))
    const slots = targets.filter((t) => t.deployment !== t.service).map((t) => `Deployment ${t.deployment}`)
    deps.reporter.info(`Restarting ${restarted.join(', ')}${slots.length ? ` (${slots.join(', ')}, the active slot${slots.length > 1 ? 's' : ''})` : ''} in ${env.name}`)
    // Events last seen before the restart are not about it.
    const began = {at: clock(), clock}
    // Milliseconds too (RFC 3339 allows them): two restarts within a second would set the same value, and the second
    // would make no new pods (kubectl's own seconds have that gap).
    const patch = JSON.stringify({spec: {template: {metadata: {annotations: {[RESTARTED_AT]: new Date(clock()).toISOString()}}}}})
    for (const [i, t] of targets.entries()) {
      try {
        await kubectl.run(['patch', 'deployment', t.deployment, '--type=merge', '-p', patch])
      } catch (error) {
        if (i === 0) throw error
        // The ones before were restarted: recorded as failed, so history has them.
        const message = `restarted ${restarted.slice(0, i).join(', ')}, then the patch of Deployment/${t.deployment} failed: ${(error as Error).message.split('\n')[0]}`
        await quitAtOnce.own(() => saveRelease(kubectl, {...restartRecord([], message), result: 'failed'}, undefined, releases, keep))
        throw error
      }
    }
    const {outcome, failures} = await watchAndRecord(
      kubectl,
      {app, environment: env, command: 'restart', objects: targets.map((t) => t.object), services: restarted, config: loaded.config, deadline, began, releases, record: restartRecord},
      deps,
      quitAtOnce,
      report,
    )
    const failing = [...new Set(failures.map((f) => targets.find((t) => f.ref === `Deployment/${t.deployment}`)?.service ?? restarted[0]))]
    const logs = (failing.length ? failing : restarted).map((s) => `\`skycap logs ${s} -e ${env.name}\``).join(', ')
    const notBack = `skycap does not roll back a restart: the new pods run the same release as the old ones, so the cause is outside the manifests (a Secret or a ConfigMap changed by hand, a dependency). The old pods still ready keep serving; ${logs} and \`skycap status ${env.name}\` show what the new ones do`
    if (outcome === 'interrupted')
      throw new InterruptedError(`restarting ${restarted.join(', ')} in ${env.name} interrupted; ${LOCK_RELEASED}`, {
        // The templates were changed and recorded; only the wait for the new pods stopped.
        hint: `The new pods go on starting without skycap watching: \`skycap status ${env.name}\` shows how far they got.`,
        details: {report, failures},
      })
    if (outcome === 'timeout')
      throw new TimeoutError(`the new pods of ${restarted.join(', ')} in ${env.name} were not ready in time`, {
        hint: `${notBack}. Raise --timeout if they are slow to start, or read the reasons above.`,
        jsonHint: `${notBack}. Raise --timeout if they are slow to start, or read the reasons in details.report.failures (message, events, logs).`,
        details: {report, failures},
      })
    if (outcome !== 'ready')
      throw new DeployFailedError(`restarting ${failing.join(', ')} in ${env.name} failed: ${failures[0]?.message ?? outcome}`, {
        hint: `${notBack}; the events and logs above say why.`,
        jsonHint: `${notBack}; the events and logs of what failed are in details.report.failures.`,
        details: {report, failures},
      })
    return report
  })
}
