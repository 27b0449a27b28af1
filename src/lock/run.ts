import {connect, type KubectlFactory, openEnvironment} from '../env/connect.js'
import {parseDuration} from '../duration.js'
import {UserError} from '../errors.js'
import {whoAmI} from '../identity.js'
import type {Reporter} from '../ui/output.js'
import {acquireLock, type LockInfo, lockStatus, releaseLock} from './lease.js'

export interface LockCommandOptions {
  action: 'status' | 'acquire' | 'release'
  environment?: string
  configPath?: string
  force?: boolean
  reason?: string
  duration?: string
}

/** `skycap lock status|acquire|release ENV`. */
export async function runLock(options: LockCommandOptions, factory: KubectlFactory, reporter: Reporter): Promise<{environment: string; lock: LockInfo | null; released?: boolean}> {
  const {loaded, env} = await openEnvironment({...options, repository: false, connectionOnly: {command: `lock ${options.action}`, reporter}})
  const ms = options.action === 'acquire' ? await parseDuration(options.duration ?? '1h', '--duration') : 0
  const {kubectl} = await connect(env, factory, reporter, {checkContextOnFirstCall: true})
  const app = loaded.config.app
  if (options.action === 'status') return {environment: env.name, lock: (await lockStatus(kubectl, app)) ?? null}
  if (options.action === 'acquire') {
    const lock = await acquireLock(kubectl, {
      app,
      environment: env.name,
      reason: options.reason ?? 'held by hand (skycap lock acquire)',
      durationSeconds: Math.ceil(ms / 1000),
      waitFlag: false,
      byHand: true,
    })
    return {environment: env.name, lock}
  }
  const current = await lockStatus(kubectl, app)
  if (!current) return {environment: env.name, lock: null, released: false}
  // Environments that share a namespace share its lock: releasing it as another one (without --force) is a mistake.
  if (!options.force && !current.expired && current.environment !== undefined && current.environment !== env.name) {
    throw new UserError(`the lock in namespace ${env.namespace} was taken for environment ${current.environment}, not ${env.name} (they share the namespace, and its lock); nothing was changed`, {
      hint: `Release it as ${current.environment} (skycap lock release ${current.environment}), or pass --force if its holder is gone or done with it.`,
    })
  }
  if (!options.force && !current.expired) {
    // A lock taken by hand has no process to release it: allow its holder to release it by identity.
    if (current.holder !== whoAmI()) {
      throw new UserError(`${env.name}'s lock is held by ${current.holder}${current.reason ? ` (${current.reason})` : ''}, not by you`, {
        hint: `Pass --force if its holder is gone or done with it: skycap lock release ${env.name} --force.`,
      })
    }
    // Yours, but held by a command that runs (a deploy in another terminal or CI job): it releases the lock itself.
    if (current.heldBy === 'command') {
      throw new UserError(`${env.name}'s lock is held by a skycap command of yours that has not ended (${current.reason}${current.ciJob ? `; job ${current.ciJob}` : ''}); nothing was changed`, {
        hint: `It is released when that command ends. If it is gone (killed, its machine down): skycap lock release ${env.name} --force; otherwise the lock expires at ${current.expiresAt}.`,
      })
    }
  }
  await releaseLock(kubectl, app, {force: true})
  return {environment: env.name, lock: current, released: true}
}
