import {rmSync} from 'node:fs'
import {LOCAL_ENVIRONMENT} from '../config/environment.js'
import {CREATED_BY, type KubectlFactory, namespaceExists, openEnvironment} from '../env/connect.js'
import {deleteOwn, othersIn} from '../teardown/teardown.js'
import type {Reporter} from '../ui/output.js'
import type {ClusterTool} from './cluster-tool.js'
import {CLUSTER_TOOLS} from './clusters.js'
import {InterruptedError} from '../errors.js'
import {removeContainer} from './docker.js'
import {stopForward} from './forwards.js'
import {abortableSleep} from '../sleep.js'
import {claimStop, readState, removeState, runningUps, stateFile, upAlive} from './state.js'
import type {ToolRunner} from './tool.js'
import {createdByUp} from './up.js'

export interface DownOptions {
  environment?: string
  configPath?: string
  cwd?: string
  /** Also delete a cluster that up created (never one it found). */
  cluster?: boolean
}

export interface DownDeps {
  kubectl: KubectlFactory
  tools: ToolRunner
  reporter: Reporter
  env?: NodeJS.ProcessEnv
  /** Ctrl-C while down waits for an up it stopped: it ends, having deleted nothing. */
  signal?: AbortSignal
}

/** What down removed, and what it left because up did not make it. */
export interface DownReport {
  app: string
  environment: string
  context: string | null
  stoppedForwards: string[]
  deletedNamespace: string | null
  /** The namespace whose objects and records of this app and environment were deleted, the namespace itself kept. */
  deletedObjectsIn: string | null
  deletedCluster: string | null
  /** Left alone, with why. */
  kept: string[]
}

/**
 * How long down waits for a skycap up it stopped to end: a redeploy or a build it interrupts ends within seconds; a
 * cluster being created (kind, k3d) is seen through first, and the up stops after it.
 */
const UP_STOP_MS = 120_000

/** `skycap down [ENV]`: stops up's forwards, deletes the namespace up created, and with `cluster` the cluster it created. */
export async function down(options: DownOptions, deps: DownDeps): Promise<DownReport> {
  const {loaded, env} = await openEnvironment({configPath: options.configPath, cwd: options.cwd, environment: options.environment ?? LOCAL_ENVIRONMENT, upContext: false})
  const file = stateFile(loaded.file, env.name, deps.env)
  let state = readState(file)
  // Every up still running is stopped first, as its Ctrl-C would: one attached to the logs (under --watch it went on
  // redeploying into the namespace deleted below, recreating it), and one still building or deploying (it deployed
  // the app again after down had said it was gone).
  const attached = new Set((state?.attached ?? []).filter((pid) => pid !== process.pid && upAlive(pid)))
  const running = [...new Set([...attached, ...runningUps(file)])]
  if (!state && running.length === 0) {
    deps.reporter.info(`skycap up has not run for ${loaded.config.app} ${env.name} here (no ${file}): nothing to take down`)
    return emptyReport(loaded.config.app, env.name)
  }
  for (const pid of running) {
    const which = attached.has(pid) ? `that follows ${loaded.config.app} ${env.name} (pid ${pid})` : `that is still bringing ${loaded.config.app} ${env.name} up (pid ${pid})`
    // Another down at once has signalled it already: a second SIGTERM is a second Ctrl-C, and the up quit at once.
    if (!claimStop(file, pid)) {
      if (upAlive(pid)) deps.reporter.info(`Another skycap down is stopping the skycap up ${which}; waiting for it to end`)
      continue
    }
    deps.reporter.info(`Stopping the skycap up ${which}`)
    try {
      process.kill(pid, 'SIGTERM')
    } catch {
      // Ended meanwhile.
    }
  }
  const until = Date.now() + UP_STOP_MS
  while (running.some(upAlive) && Date.now() < until && !deps.signal?.aborted) await abortableSleep(100, deps.signal)
  if (deps.signal?.aborted) {
    const left = running.filter(upAlive)
    throw new InterruptedError(`interrupted while waiting for skycap up (pid ${left.join(', ') || running.join(', ')}) to stop; nothing was deleted${left.length ? ' (it goes on stopping)' : ''}`, {
      hint: `Run skycap down${env.name === LOCAL_ENVIRONMENT ? '' : ` ${env.name}`} again.`,
    })
  }
  const left = running.filter(upAlive)
  if (left.length) deps.reporter.warn(`skycap up (pid ${left.join(', ')}) did not end within ${UP_STOP_MS / 1000} s; going on without it`)
  // They stopped their forwards and wrote the state as they ended (an up stopped early may have written it first).
  if (running.length) state = readState(file) ?? state
  if (!state) {
    deps.reporter.info(`The skycap up of ${loaded.config.app} ${env.name} stopped before it had chosen a cluster: nothing to take down`)
    return emptyReport(loaded.config.app, env.name)
  }
  const report: DownReport = {...emptyReport(loaded.config.app, env.name), context: state.context}
  const stopped = await Promise.all(state.forwards.map((f) => stopForward(f)))
  state.forwards.forEach((f, i) => stopped[i] && report.stoppedForwards.push(`${f.service} 127.0.0.1:${f.localPort}`))
  // Their output files go with them (they were left, and the next up's forwards appended to them).
  for (const f of state.forwards) rmSync(f.log, {force: true})
  if (report.stoppedForwards.length) deps.reporter.info(`Stopped forwards: ${report.stoppedForwards.join(', ')}`)

  const deleteCluster = options.cluster && state.createdCluster
  if (deleteCluster) {
    const created = state.createdCluster!
    const tool = CLUSTER_TOOLS.find((t) => t.name === created.tool) as ClusterTool
    deps.reporter.info(`Deleting cluster ${created.name} (${created.tool}), which skycap up created`)
    await tool.delete(deps.tools, created.name)
    if (created.registryContainer && created.tool === 'kind') await removeContainer(deps.tools, created.registryContainer)
    report.deletedCluster = created.context
  } else {
    if (options.cluster) report.kept.push(`cluster ${state.context}: skycap up found it, it did not create it`)
    const kubectl = deps.kubectl({context: state.context, namespace: state.namespace})
    if (state.createdNamespace && (await namespaceExists(kubectl, state.namespace))) {
      if (!(await createdByUp(kubectl, state.namespace))) report.kept.push(`namespace ${state.namespace}: it does not carry ${CREATED_BY}=up`)
      else {
        // Another app's up (or another environment) may have deployed into the namespace this up created: its
        // workloads and records would go with the namespace. Then only this app and environment's objects go.
        const {others, unmanaged} = await othersIn(kubectl, loaded.config.app, env.name)
        if (others.length === 0 && unmanaged.length === 0) {
          deps.reporter.info(`Deleting namespace ${state.namespace} (context ${state.context}), which skycap up created`)
          await kubectl.run(['delete', 'namespace', state.namespace, '--wait=true', '--timeout=120s'], {namespaced: false})
          report.deletedNamespace = state.namespace
        } else {
          // Objects made by hand or by another tool (a Secret someone created there) went with the namespace unsaid.
          const handMade = unmanaged.length ? `objects skycap did not deploy (${unmanaged.slice(0, 5).join(', ')}${unmanaged.length > 5 ? ', …' : ''})` : undefined
          const sharing = [...(others.length ? [`${others.join(', ')} also use${others.length === 1 ? 's' : ''}`] : []), ...(handMade ? [`also holds ${handMade}`] : [])]
          deps.reporter.info(`Deleting ${loaded.config.app} ${env.name}'s objects and records in namespace ${state.namespace}, which ${sharing.join(', and which ')}`)
          await deleteOwn(kubectl, loaded.config.app, env.name)
          report.deletedObjectsIn = state.namespace
          if (others.length) report.kept.push(`namespace ${state.namespace}: ${others.join(', ')} ${others.length === 1 ? 'runs' : 'run'} there too (delete it by hand once nothing needs it)`)
          else report.kept.push(`namespace ${state.namespace}: it holds ${handMade} (delete it by hand once nothing needs it)`)
        }
      }
    } else if (!state.createdNamespace) {
      // An up that stopped before its deploy (a template error, say) created nothing: there is nothing to keep. Asked
      // only to say which; a cluster that is gone (a deleted kind cluster) must not keep down from clearing its state.
      const exists = await namespaceExists(kubectl, state.namespace).catch(() => undefined)
      if (exists === undefined) report.kept.push(`namespace ${state.namespace}: skycap up did not create it (the cluster did not answer, so whether it exists is not known)`)
      else if (exists) {
        // The namespace stays, but what this app and environment deployed there goes, as in a namespace up created
        // that others share: it kept running, and down said "nothing deleted".
        if ((await othersIn(kubectl, loaded.config.app, env.name)).own) {
          deps.reporter.info(`Deleting ${loaded.config.app} ${env.name}'s objects and records in namespace ${state.namespace}, which existed before skycap up`)
          await deleteOwn(kubectl, loaded.config.app, env.name)
          report.deletedObjectsIn = state.namespace
          report.kept.push(`namespace ${state.namespace}: it existed before skycap up`)
        } else report.kept.push(`namespace ${state.namespace}: it existed before skycap up (\`skycap status ${env.name}\` shows what runs there)`)
      } else deps.reporter.info(`Namespace ${state.namespace} does not exist (skycap up did not get as far as creating it): nothing to delete`)
    }
  }
  for (const k of report.kept) deps.reporter.info(`Kept ${k}`)
  removeState(file)
  return report
}

function emptyReport(app: string, environment: string): DownReport {
  return {app, environment, context: null, stoppedForwards: [], deletedNamespace: null, deletedObjectsIn: null, deletedCluster: null, kept: []}
}
