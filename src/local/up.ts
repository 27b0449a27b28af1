import {join} from 'node:path'

import {LOCAL_ENVIRONMENT} from '../config/environment.js'
import type {Environment, LoadedConfig} from '../config/types.js'
import {checkImagesExist, deploy, type DeployReport} from '../deploy/deploy.js'
import {CREATED_BY, type KubectlFactory, namespaceExists, openEnvironment} from '../env/connect.js'
import {parseDuration} from '../duration.js'
import {prepareRelease} from '../render/prepare.js'
import {InterruptedError, SkycapError, UserError} from '../errors.js'
import {type Kubectl, kubectlCommand} from '../kubectl/kubectl.js'
import {streamLogs} from '../logs/stream.js'
import type {Reporter} from '../ui/output.js'
import {runPhase} from '../ui/phases.js'
import {chooseCluster, type ClusterChoice, imageDelivery, type ImageDelivery} from './clusters.js'
import {choosePort, forwardAlive, portFree, reconnectForward, startForward, stopForward, waitListening} from './forwards.js'
import type {DeliveredImages, ImagePhase} from './images.js'
import {checkLocalRegistry, pullReference} from './registry.js'
import {type ForwardState, markUpRunning, readState, saveState, stateFile, stoppedByDown, type UpState} from './state.js'
import type {ToolRunner} from './tool.js'
import {watchInputs} from './watch.js'

export interface UpOptions {
  /** Default `local` (derived when skycap.yaml has none). */
  environment?: string
  configPath?: string
  cwd?: string
  /** kind, k3d, minikube, ctlptl or a kube context. */
  cluster?: string
  /** Return once the app is up; forwards stay in the background. */
  detach?: boolean
  watch?: boolean
  /** `SERVICE=PORT` local ports. */
  ports?: string[]
  timeout?: string
  /** Do not ask the registries about the images up did not build (deploy's --skip-image-check). */
  skipImageCheck?: boolean
}

export interface UpDeps {
  kubectl: KubectlFactory
  tools: ToolRunner
  images: ImagePhase
  reporter: Reporter
  /** Where merged logs go (without --detach). */
  out: NodeJS.WritableStream
  colour: boolean
  confirm?: (summary: string) => Promise<boolean>
  signal?: AbortSignal
  /** The process environment (for the state folder); default process.env. */
  env?: NodeJS.ProcessEnv
  /** HTTP for the local registry's check (tests); default Node's fetch. */
  fetch?: typeof fetch
}

/** One phase of up, as printed and in --json. */
export interface Phase {
  phase: 'cluster' | 'registry' | 'images' | 'deploy' | 'forwards'
  ms: number
  detail: string
}

export interface ServiceUrl {
  service: string
  url: string
  port: number
  localPort: number
  /** A forward of an earlier up, kept. */
  reused: boolean
}

/** What up did, for the summary and --json. */
export interface UpReport {
  app: string
  environment: string
  /** Not declared in skycap.yaml: derived (docs/local.md). */
  derived: boolean
  context: string
  namespace: string
  cluster: {source: ClusterChoice['source']; why: string; created?: {tool: string; name: string}}
  /** built: the image of every service with build: (by service); skipped: those the registry had already. */
  images: {delivery: ImageDelivery['mode']; registry: string | null; built: Record<string, string>; skipped: string[]}
  release: number | null
  urls: ServiceUrl[]
  phases: Phase[]
  stateFile: string
  detached: boolean
}

/** `skycap up [ENV]`: a cluster, a registry, the work tree's images, a deploy, port-forwards; then logs or watch. */
export async function up(options: UpOptions, deps: UpDeps): Promise<UpReport> {
  const {reporter} = deps
  const opened = () => openEnvironment({configPath: options.configPath, cwd: options.cwd, environment: options.environment ?? LOCAL_ENVIRONMENT, upContext: false})
  // let: under --watch a changed skycap.yaml is read again (builds and deploys use the new one).
  let {loaded, env} = await opened()
  // up deploys images built from the work tree, uncommitted changes and all: never to a protected environment (it
  // built and pushed them to its registry, then asked, or refused naming a --yes up does not have).
  if (env.protected)
    throw new UserError(`${env.name} is protected, and skycap up deploys images built from the work tree; nothing was built or deployed`, {
      hint: `Deploy a commit CI built: skycap deploy ${env.name}@<revision>. skycap up is for an environment of your own (the derived \`local\`, or one without protected: true).`,
    })
  const wantedPorts = parsePorts(options.ports ?? [], env)
  // Refused before any phase (deploy would read it only after the cluster, the registry and the images).
  if (options.timeout !== undefined) await parseDuration(options.timeout, '--timeout')
  const file = stateFile(loaded.file, env.name, deps.env)
  const previous = readState(file)
  await checkWantedPorts(wantedPorts, previous)
  // The templates rendered once before any phase, so a template error (a value the environment lacks, YAML that does
  // not parse) costs no cluster and no build. The images are not built yet: the revision's tags stand in for them
  // (`images: {}` also keeps the dirty-tree warning out, as the deploy's own render does); the deploy renders again
  // with the built ones.
  const prepared = await prepareRelease({target: env.name, configPath: loaded.file, images: {}})
  // The images up does not build (redis:7.2, a service without build:) are asked of their registries here, before
  // any phase: a missing one stopped up only at its deploy, after every build. A service that runs an image up
  // builds is not asked. The deploy then asks no registry again.
  if (!options.skipImageCheck) {
    const buildable = new Set(deps.images.buildable(loaded, env))
    const built = new Set([...buildable].map((s) => prepared.images[s]))
    await checkImagesExist(prepared, {reporter, fetch: deps.fetch}, (s) => !buildable.has(s) && !built.has(prepared.images[s]), true)
  }
  // Marked running from here to the end: a `skycap down` meanwhile stops this up before it takes the app down.
  const unmark = markUpRunning(file)
  try {
    return await session()
  } catch (error) {
    const by = stoppedByDown(file)
    if (by !== undefined && (deps.signal?.aborted || error instanceof InterruptedError))
      throw new InterruptedError(`skycap down (pid ${by}) stopped this up: ${(error as Error).message}`, {
        hint: `skycap down removes what up made; run skycap up again to bring ${loaded.config.app} ${env.name} back.`,
        cause: error,
      })
    throw error
  } finally {
    unmark()
  }

  async function session(): Promise<UpReport> {
    const phases: Phase[] = []
    let release: number | null = null
    const phase = async <T>(name: Phase['phase'], run: () => Promise<T>, detail: (value: T) => string): Promise<T> => {
      // A Ctrl-C the last phase finished despite (a rollout already done, a build already built): go no further.
      if (deps.signal?.aborted) throw interruptedBefore(name, phases, release)
      // A spinner only where nothing else writes meanwhile: cluster creation, builds and deploy print their own lines.
      const r = await runPhase(reporter, name, run, detail, {spinner: name === 'registry' || name === 'forwards'})
      phases.push({phase: name, ms: r.ms, detail: detail(r.value)})
      return r.value
    }

    const choice = await phase(
      'cluster',
      () => chooseCluster({env, cluster: options.cluster, kubectl: deps.kubectl, tools: deps.tools, info: (l) => reporter.info(l)}),
      (c) => `${c.context}: ${c.why}`,
    )
    const kubectl = deps.kubectl({context: choice.context, namespace: env.namespace})
    // A cluster up created before stays recorded (down --cluster deletes it) as long as up keeps using it.
    const createdCluster = choice.created ?? (previous?.createdCluster?.context === choice.context ? previous.createdCluster : undefined)
    // The last up of this environment went to another context, or another namespace (skycap.yaml's namespace or the
    // app's name changed): its forwards reached that one and kept doing so ("kept", serving the old release).
    const moved = previous && (previous.context !== choice.context || previous.namespace !== env.namespace)
    if (previous && moved) {
      // The new cluster answers before the last up's state is given up: an up that cannot reach it leaves the last
      // one's forwards running and its state (what down deletes) as it was.
      await namespaceExists(kubectl, env.namespace)
      await Promise.all(previous.forwards.map((f) => stopForward(f)))
      const left = previous.createdNamespace
        ? `; namespace ${previous.namespace} that it created there stays, with what runs in it (\`${kubectlCommand(`delete namespace ${previous.namespace}`, {context: previous.context})}\` deletes it)`
        : ''
      const where = previous.context !== choice.context ? `context ${previous.context}` : `namespace ${previous.namespace}`
      const now = previous.context !== choice.context ? choice.context : `namespace ${env.namespace}`
      reporter.warn(`the last skycap up of ${env.name} used ${where}; its forwards were stopped, and \`skycap down\` now acts on ${now}${left}`)
    }
    // Recorded before anything else can fail: a cluster up created is down --cluster's to delete.
    const state: UpState = {
      version: 1,
      app: loaded.config.app,
      environment: env.name,
      configFile: loaded.file,
      context: choice.context,
      namespace: env.namespace,
      createdNamespace: previous && !moved ? previous.createdNamespace : false,
      ...(createdCluster ? {createdCluster} : {}),
      forwards: previous && !moved ? previous.forwards.filter(forwardAlive) : [],
    }
    // Every write takes in the forwards another up at once recorded meanwhile: the forwards phase then keeps them.
    const save = () => saveState(file, state, forwardAlive)
    save()

    const delivery = await phase(
      'registry',
      async () => {
        const d = await imageDelivery(choice, deps.kubectl, deps.tools)
        // Said here, naming where the registry comes from, rather than by the images phase's registry check.
        if (d.mode === 'registry' && deps.images.buildable(loaded, env).length)
          await checkLocalRegistry(d.hosting, {context: choice.context, container: createdCluster?.registryContainer}, {fetch: deps.fetch})
        return d
      },
      (d) => describeDelivery(d, env),
    )

    let built: Record<string, string> = {}
    let skipped: string[] = []
    const cycle = async (services: string[]) => {
      built = {...built, ...(await deliverImages(loaded, env, services, delivery, deps)).images}
      release = (await deployPhase(loaded, env, choice, kubectl, state, built, options, deps).finally(() => save())).release
    }
    await phase(
      'images',
      async () => {
        const delivered = await deliverImages(loaded, env, deps.images.buildable(loaded, env), delivery, deps)
        ;({images: built, skipped} = delivered)
        return delivered
      },
      ({images, skipped: had}) => {
        const list = (entries: Array<[string, string]>) => entries.map(([s, i]) => `${s} ${i}`).join(', ')
        const made = Object.entries(images).filter(([s]) => !had.includes(s))
        const kept = Object.entries(images).filter(([s]) => had.includes(s))
        if (!made.length && !kept.length) return 'no service has build: (images as skycap.yaml names them)'
        return [...(made.length ? [`built ${list(made)}`] : []), ...(kept.length ? [`in the registry already ${list(kept)}`] : [])].join('; ')
      },
    )
    const deployed = await phase(
      'deploy',
      // Written even when the deploy fails: a namespace it created is then down's to delete.
      () => deployPhase(loaded, env, choice, kubectl, state, built, options, deps, true).finally(() => save()),
      (r) => `release ${r.release} of ${r.app} ${r.environment} in namespace ${r.namespace}`,
    )
    release = deployed.release
    save()
    const urls = await phase(
      'forwards',
      () => forward(env, choice.context, state, wantedPorts, join(file, '..'), deps),
      (u) => (u.length ? u.map((x) => `${x.service} ${x.url}${x.reused ? ' (kept)' : ''}`).join(', ') : 'no service has a port'),
    )
    save()
    for (const u of urls) reporter.info(`${u.service}: ${u.url}`)

    const report = (): UpReport => ({
      app: loaded.config.app,
      environment: env.name,
      derived: env.derived ?? false,
      context: choice.context,
      namespace: env.namespace,
      cluster: {source: choice.source, why: choice.why, ...(createdCluster ? {created: {tool: createdCluster.tool, name: createdCluster.name}} : {})},
      images: {delivery: delivery.mode, registry: delivery.mode === 'registry' ? delivery.hosting.host : null, built, skipped},
      release,
      urls,
      phases,
      stateFile: file,
      detached: options.detach ?? false,
    })
    if (options.detach) {
      reporter.info(`${loaded.config.app} ${env.name} is up; the forwards run in the background until \`skycap down${env.name === LOCAL_ENVIRONMENT ? '' : ` ${env.name}`}\``)
      return report()
    }

    // Attached: merged logs (and --watch) until Ctrl-C, which stops the forwards and leaves the app running.
    reporter.info(`Logs of every service follow; Ctrl-C stops the forwards and leaves ${env.name} running`)
    let redeployInterrupted: Error | undefined
    // Recorded so that `skycap down` stops this process first (SIGTERM, as a Ctrl-C).
    state.attached = [...(state.attached ?? []).filter((pid) => pid !== process.pid), process.pid]
    save()
    try {
      const logs = streamLogs(
        {services: [], all: true, environment: env.name, configPath: loaded.file, follow: true, tail: 10, context: choice.context},
        {kubectl: deps.kubectl, reporter, out: deps.out, colour: deps.colour, signal: deps.signal},
      )
      const watching = options.watch
        ? watchInputs(loaded, env, deps.images, {
            reporter,
            signal: deps.signal,
            reload: async () => {
              try {
                ;({loaded, env} = await opened())
                return {loaded, env}
              } catch (error) {
                reporter.warn(`${(error as Error).message}; still watching with the skycap.yaml read before (fix it and save again)`)
                return undefined
              }
            },
            onChange: async (change) => {
              reporter.info(
                `change: ${change.files.slice(0, 3).join(', ')}${change.files.length > 3 ? ` and ${change.files.length - 3} more` : ''} → ${change.rebuild.length ? `rebuild ${change.rebuild.join(', ')} and ` : ''}redeploy`,
              )
              const started = Date.now()
              try {
                await cycle(change.rebuild)
                await Promise.all(state.forwards.map((f) => reconnectForward(f, 10_000, deps.signal)))
                reporter.info(`✔ redeployed release ${release} (${((Date.now() - started) / 1000).toFixed(1)}s)`)
              } catch (error) {
                // Ctrl-C during a redeploy ends up with the deploy's interruption (exit 130, said below), not a warning
                // and exit 0 as if the redeploy had been seen through.
                if (deps.signal?.aborted || error instanceof InterruptedError) redeployInterrupted = error as Error
                else reporter.warn(`redeploy failed: ${(error as Error).message}`)
              }
            },
          })
        : Promise.resolve()
      await Promise.all([logs, watching])
    } finally {
      await Promise.all(state.forwards.map((f) => stopForward(f)))
      state.forwards = []
      state.attached = (state.attached ?? []).filter((pid) => pid !== process.pid)
      save()
      const by = stoppedByDown(file)
      reporter.info(
        by === undefined
          ? `Forwards stopped; ${loaded.config.app} ${env.name} keeps running (\`skycap down\` removes it)`
          : `Forwards stopped; skycap down (pid ${by}) is taking ${loaded.config.app} ${env.name} down`,
      )
    }
    if (redeployInterrupted) {
      const cause = redeployInterrupted
      throw new InterruptedError(`up --watch interrupted during a redeploy: ${cause.message}`, {
        hint: cause instanceof SkycapError && cause.hint ? cause.hint : `\`skycap status ${env.name}\` shows what runs; save a file or run skycap up again to redeploy.`,
        cause,
      })
    }
    return report()
  }
}

/** Ctrl-C between two phases: what the phases before it did, and that what is deployed keeps running. */
function interruptedBefore(name: Phase['phase'], done: Phase[], release: number | null): InterruptedError {
  const after = done.length ? ` (done: ${done.map((p) => p.phase).join(', ')})` : ''
  const state = release === null ? 'nothing was deployed' : `release ${release} is deployed and keeps running; no forward was started or stopped`
  return new InterruptedError(`interrupted before the ${name} phase${after}; ${state}`, {
    hint: release === null ? 'Run skycap up again.' : 'Run skycap up again to forward its ports, or skycap down to remove it.',
  })
}

function describeDelivery(d: ImageDelivery, env: Environment): string {
  if (d.mode === 'registry') return `local registry ${d.hosting.host}`
  if (d.mode === 'load') return `no registry: images are loaded with ${d.tool.name} into cluster ${d.cluster}`
  if (d.mode === 'shared') return "the cluster's nodes share this machine's docker images"
  return `the cluster advertises no local registry: images go to ${env.name}'s registry`
}

/** Builds `services` and brings the images to the cluster; returns the reference the cluster pulls, by service. */
async function deliverImages(loaded: LoadedConfig, env: Environment, services: string[], delivery: ImageDelivery, deps: UpDeps): Promise<DeliveredImages> {
  if (services.length === 0) return {images: {}, skipped: []}
  const registry = delivery.mode === 'registry' ? delivery.hosting.host : undefined
  const push = delivery.mode === 'registry' || delivery.mode === 'configured'
  const {images, skipped} = await deps.images.build({loaded, env, services, registry, push, reporter: deps.reporter, signal: deps.signal})
  if (delivery.mode === 'load') await delivery.tool.loadImages(deps.tools, delivery.cluster, Object.values(images))
  if (delivery.mode !== 'registry') return {images, skipped}
  return {images: Object.fromEntries(Object.entries(images).map(([s, i]) => [s, pullReference(i, delivery.hosting)])), skipped}
}

/** The normal deploy path, pointed at the chosen context, with the built images; marks a namespace it created. */
async function deployPhase(
  loaded: LoadedConfig,
  env: Environment,
  choice: ClusterChoice,
  kubectl: Kubectl,
  state: UpState,
  images: Record<string, string>,
  options: UpOptions,
  deps: UpDeps,
  /** The images up does not build were asked of their registries before the first phase (a redeploy asks again: skycap.yaml may have changed). */
  imagesChecked = false,
): Promise<DeployReport> {
  const existed = await namespaceExists(kubectl, env.namespace)
  const deploying = deploy(
    {
      target: env.name,
      configPath: loaded.file,
      context: choice.context,
      images,
      // Images built a moment ago exist; the others are checked as on any deploy, unless they were before the first phase.
      skipImageCheck: options.skipImageCheck || imagesChecked || Object.keys(env.services).every((s) => s in images),
      timeout: options.timeout,
      reason: `skycap up ${env.name}`,
      waitFlag: false,
      again: env.name === LOCAL_ENVIRONMENT ? 'skycap up' : `skycap up ${env.name}`,
    },
    {kubectl: deps.kubectl, reporter: deps.reporter, confirm: deps.confirm, signal: deps.signal},
  )
  let report: DeployReport
  try {
    report = await deploying
  } catch (error) {
    // A deploy that failed after it created the namespace (it is made before the apply) leaves it to `skycap down`
    // all the same; marking it must not hide the deploy's own error.
    if (!existed) await markCreated(kubectl, env.namespace, state).catch(() => undefined)
    throw error
  }
  if (!existed) await markCreated(kubectl, env.namespace, state)
  else if (!state.createdNamespace) {
    // The state file is gone (a cleared cache) but the namespace says up made it.
    state.createdNamespace = await createdByUp(kubectl, env.namespace)
  }
  return report
}

/** Annotates the namespace the deploy created (when it did) and remembers it in the state: down deletes it. */
async function markCreated(kubectl: Kubectl, namespace: string, state: UpState): Promise<void> {
  if (!(await namespaceExists(kubectl, namespace))) return
  await kubectl.run(['annotate', 'namespace', namespace, `${CREATED_BY}=up`, '--overwrite'], {namespaced: false})
  state.createdNamespace = true
}

/** Whether the namespace carries up's annotation (up created it). */
export async function createdByUp(kubectl: Kubectl, namespace: string): Promise<boolean> {
  const ns = await kubectl.json<{metadata: {annotations?: Record<string, string>}}>(['get', 'namespace', namespace], {namespaced: false})
  return ns.metadata.annotations?.[CREATED_BY] === 'up'
}

/** Starts (or keeps) a forward per service with a port; returns the URLs. */
async function forward(env: Environment, context: string, state: UpState, wanted: Map<string, number>, dir: string, deps: UpDeps): Promise<ServiceUrl[]> {
  const urls: ServiceUrl[] = []
  const kept: ForwardState[] = []
  const reconnecting: ForwardState[] = []
  const taken = new Set<number>()
  for (const [service, svc] of Object.entries(env.services)) {
    const port = svc.port ?? svc.ports?.find((p) => (p.protocol ?? 'TCP') === 'TCP')?.port
    if (port === undefined) continue
    const old = state.forwards.find((f) => f.service === service && f.port === port && (!wanted.has(service) || wanted.get(service) === f.localPort))
    if (old && forwardAlive(old)) {
      // Reattach to the new release's pods now rather than when the old pod goes (waited for below).
      reconnecting.push(old)
      kept.push(old)
      taken.add(old.localPort)
      urls.push({service, url: `http://127.0.0.1:${old.localPort}`, port, localPort: old.localPort, reused: true})
      continue
    }
    if (old) await stopForward(old)
    const localPort = wanted.get(service) ?? (await choosePort(port, taken))
    taken.add(localPort)
    const log = join(dir, `${state.app}-${env.name}-${service}.forward.log`)
    const pid = await startForward({kubectl: process.env.SKYCAP_KUBECTL ?? 'kubectl', context, namespace: env.namespace, app: state.app, environment: env.name, service, port, localPort}, log)
    kept.push({service, port, localPort, pid, log})
    urls.push({service, url: `http://127.0.0.1:${localPort}`, port, localPort, reused: false})
  }
  await Promise.all(state.forwards.filter((f) => !kept.includes(f)).map((f) => stopForward(f)))
  state.forwards = kept
  // A kept forward moves to the new release's newest ready pod (it may have followed the old pods' end already): up
  // returns once it forwards again.
  await Promise.all(reconnecting.map((f) => reconnectForward(f, 10_000, deps.signal)))
  // Each forward listens once kubectl has reached a pod.
  await Promise.all(
    kept.map(async (f) => {
      if (!(await waitListening(f.localPort, 30_000, deps.signal)) && !deps.signal?.aborted)
        deps.reporter.warn(`the forward of ${f.service} does not listen on 127.0.0.1:${f.localPort} yet; its output is in ${f.log}`)
    }),
  )
  return urls
}

/**
 * A --port another program listens on would give a URL that program answers (the forward's kubectl cannot bind it
 * and restarts forever): refused before any phase. The service's own forward of an earlier up may hold it.
 */
async function checkWantedPorts(wanted: Map<string, number>, previous: UpState | undefined): Promise<void> {
  for (const [service, port] of wanted) {
    const held = previous?.forwards.find((f) => f.localPort === port && forwardAlive(f))
    if (held?.service === service) continue
    if (!held && (await portFree(port))) continue
    const by = held ? `the forward of ${held.service} (skycap up ${previous?.environment})` : 'another program'
    throw new UserError(`--port ${service}=${port}: 127.0.0.1:${port} is in use by ${by}; nothing was changed`, {
      hint: held
        ? `Choose another port, or run skycap down ${previous?.environment} first.`
        : `Stop what listens on 127.0.0.1:${port}, or choose another port (without --port ${service}=…, up picks a free one).`,
    })
  }
}

/** `--port web=8081` flags, checked against the environment's services. */
export function parsePorts(flags: string[], env: Environment): Map<string, number> {
  const out = new Map<string, number>()
  for (const flag of flags) {
    const m = /^([^=]+)=(\d+)$/.exec(flag)
    const port = Number(m?.[2])
    if (!m || !Number.isInteger(port) || port < 1 || port > 65535)
      throw new UserError(`--port "${flag}" is not SERVICE=PORT (a port from 1 to 65535); nothing was changed`, {hint: 'Example: --port web=8081'})
    const service = m[1] as string
    if (!env.services[service]) throw new UserError(`--port names unknown service "${service}"; nothing was changed`, {hint: `Services: ${Object.keys(env.services).join(', ')}.`})
    out.set(service, port)
  }
  return out
}
