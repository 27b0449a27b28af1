import {deployFirst, unknownServiceError, withFlag} from '../config/environment.js'
import {connect, type KubectlFactory, namespaceExists, openEnvironment} from '../env/connect.js'
import {parseDuration} from '../duration.js'
import {InterruptedError, KubectlError, NamespaceMissingError, SkycapError, UserError} from '../errors.js'
import type {StreamingProcess} from '../kubectl/kubectl.js'
import {LABELS} from '../render/objects.js'
import {abortableSleep} from '../sleep.js'
import type {Reporter} from '../ui/output.js'
import {LogChunkProcessor} from './chunks.js'
import {configuredExcludes, hiddenNote, lineFilter} from './filter.js'
import type {FormatOptions} from './format.js'
import {OutageWait, POLL_CALL_MS, reportContact} from '../kubectl/outage.js'
import {containerStarted, deployedServices, notInFileWarning, podStart, type PodObject, type PodStart, whyNoPods} from '../tasks/pods.js'

export interface LogsOptions {
  services: string[]
  all?: boolean
  environment?: string
  configPath?: string
  follow?: boolean
  since?: string
  tail?: number
  grep?: string[]
  exclude?: string[]
  container?: string
  previous?: boolean
  timestamps?: boolean
  noFilters?: boolean
  json?: boolean
  /** At most this many log streams at once (like stern's --max-log-requests). */
  maxStreams?: number
  /** How often -f looks for new and deleted pods. */
  pollMs?: number
  /** The kube context to use instead of the environment's (skycap up --cluster). */
  context?: string
}

export interface LogsDeps {
  kubectl: KubectlFactory
  reporter: Reporter
  out: NodeJS.WritableStream
  colour: boolean
  signal?: AbortSignal
}

export interface LogsSummary {
  environment: string
  pods: string[]
  shown: number
  hidden: number
}

interface Pod {
  name: string
  service: string
  containers: string[]
  /** Its init containers: -c takes them too (kubectl logs does). */
  initContainers: string[]
  /** The init container it is stuck in, or why it has not started (podStart). */
  start: PodStart
  /** Containers that have started at least once (a stream of the others would fail). */
  started: Set<string>
  /** Each container's restart count: with --previous, a higher one means a new previous container to show. */
  restarts: Map<string, number>
  deleting: boolean
}

interface Stream {
  key: string
  pod: Pod
  container: string
  proc?: StreamingProcess
  /** Filters and formats this stream's output; remembers the last timestamp for reconnects. */
  processor: LogChunkProcessor
  ended: boolean
  /** The container's restart count when this stream started (--previous shows that restart's container). */
  restarts?: number
  /** Without -f: output kept until this stream's turn (the streams before it have ended), and whether it has ended. */
  held?: {chunks: Buffer[]; bytes: number; done: boolean}
  /** -f: the restart count of the container whose start (`+`), and whose end (`-`), was said last. */
  saidStart?: number
  saidEnd?: number
}

/** Without -f, the output a stream keeps while it waits for its turn before its kubectl is paused. */
const HELD_BYTES = 1024 * 1024

/** `skycap logs`: every pod of the services, merged and prefixed, with the app's noise filters. */
export async function streamLogs(options: LogsOptions, deps: LogsDeps): Promise<LogsSummary> {
  const {loaded, env} = await openEnvironment({configPath: options.configPath, environment: options.environment, repository: false, envFlagOnly: true})
  const known = Object.keys(env.services)
  let services = options.all ? known : options.services
  if (services.length === 0) throw new UserError('name at least one service, or pass --all', {hint: `Services of ${loaded.config.app}: ${known.join(', ')}.`})
  // The services named are checked with --all too: `logs wbe --all` is a typo to point out, not one to drop quietly.
  // One the work tree's skycap.yaml lacks may still run (a rollback to a release that had it): its Deployments decide,
  // once connected. An environment's name is a mix-up, said at once.
  const unknown = [...new Set(options.services.filter((s) => !env.services[s]))]
  for (const s of unknown) if (Object.hasOwn(loaded.config.environments, s)) throw unknownServiceError(loaded, s, 'skycap logs SERVICE', withFlag(options.environment))
  const sinceSeconds = options.since !== undefined ? Math.ceil((await parseDuration(options.since, '--since', {lookBack: true})) / 1000) : undefined
  if (options.tail !== undefined && (!Number.isInteger(options.tail) || options.tail < -1)) throw new UserError(`--tail must be a whole number, not ${options.tail}`)
  // Each service's lines get the app's filters and that service's own: web's `^DEBUG ` must not hide worker's lines.
  const filterSpec = (service: string) => ({
    configured: options.noFilters ? [] : configuredExcludes(loaded.config, [service]),
    exclude: options.exclude ?? [],
    grep: options.grep ?? [],
  })
  // Checks every pattern up front (a bad --grep is exit 2 before anything streams).
  for (const s of services) lineFilter(filterSpec(s))
  const {kubectl} = await connect(options.context ? {...env, context: options.context} : env, deps.kubectl, deps.reporter, {checkContextOnFirstCall: true})
  if (unknown.length || options.all) {
    // Without an answer (no cluster at hand, a context not in the kubeconfig), a name the file lacks is the typo it
    // most likely is: unknown, with did-you-mean, as before this asked the cluster.
    const running = await deployedServices(kubectl, loaded.config.app, env.name).catch((error: unknown) => {
      if (unknown[0] !== undefined) throw unknownServiceError(loaded, unknown[0], 'skycap logs SERVICE', withFlag(options.environment))
      throw error
    })
    for (const s of unknown) if (!running.has(s)) throw unknownServiceError(loaded, s, 'skycap logs SERVICE', withFlag(options.environment))
    // As scale says it: what runs is not what the file describes, and will not be after the next deploy.
    for (const s of unknown) deps.reporter.warn(notInFileWarning(s))
    // --all: the services that run too (a rollback brought back one the file no longer has).
    if (options.all) services = [...new Set([...services, ...[...running].filter((s) => !env.services[s]).sort()])]
  }
  const selector = `${LABELS.instance}=${loaded.config.app}-${env.name},${LABELS.name} in (${services.join(',')})`
  const maxStreams = options.maxStreams ?? 50
  const controller = new AbortController()
  const stop = () => controller.abort()
  deps.signal?.addEventListener('abort', stop, {once: true})
  // Aborted before the streams start (a Ctrl-C during up's last phase): 'abort' has fired already.
  if (deps.signal?.aborted) stop()
  // `skycap logs | head` closes the pipe: stop quietly.
  const onOutError = (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') stop()
  }
  deps.out.on('error', onOutError)

  const streams = new Map<string, Stream>()
  // One listener stops every stream (one per stream would add up past Node's limit of 10 listeners).
  controller.signal.addEventListener('abort', () => {
    for (const st of streams.values()) if (!st.ended) st.proc?.kill()
  })
  const seenPods = new Set<string>()
  const paused = new Set<NodeJS.ReadableStream>()
  const resumePaused = () => {
    for (const p of paused) p.resume()
    paused.clear()
  }
  let warnedCap = false
  /**
   * -f says when a stream starts or ends after the first set, as stern does (`+ pod › container`, `- pod › container`):
   * it never said when pods came or went. On stderr, and not under --json, whose readers take objects and nothing else.
   * Once per container instance: a crash-looping container's stream is started again at every poll.
   */
  let sayStreams = false
  const sayStream = (sign: '+' | '-', st: Stream, why?: string) => {
    if (sign === '+' ? st.saidStart === st.restarts : st.saidEnd === st.saidStart) return
    if (sign === '+') st.saidStart = st.restarts
    else st.saidEnd = st.saidStart
    if (sayStreams && !options.json) deps.reporter.info(`${sign} ${st.pod.name} › ${st.container}${why ? ` (${why})` : ''}`)
  }
  const format: FormatOptions = {colour: deps.colour && !options.json, showContainer: false, timestamps: options.timestamps ?? false, json: options.json ?? false}

  /** The containers that were running at the first listing (pod/container): with -f, only they start with --tail. */
  const runningAtStart = new Set<string>()

  const startStream = (st: Stream, resume: boolean) => {
    const args = ['logs', st.pod.name, '-c', st.container, '--timestamps']
    if (options.follow) args.push('--follow')
    if (resume && st.processor.lastTs) {
      args.push(`--since-time=${st.processor.lastTs}`)
      st.processor.resume()
    } else {
      if (sinceSeconds !== undefined) args.push(`--since=${sinceSeconds}s`)
      // --tail is where the containers running at the start begin. A container that starts while -f follows (a new
      // pod of a deploy or a scale) wrote all of its lines since: a tail would cut its first lines (probes and
      // heartbeats written before the next poll count too, even the hidden ones), so it is shown from its first line.
      if (options.tail !== undefined && (!options.follow || runningAtStart.has(st.key))) args.push(`--tail=${options.tail}`)
    }
    if (options.previous) args.push('--previous')
    st.ended = false
    st.proc = kubectl.spawn(args)
    pump(st)
  }

  // Without -f the lines come container after container (docs/logs.md): every kubectl starts at once, and a stream's
  // output is kept until the streams started before it have ended (they were written as they arrived, interleaved).
  const ordered: Stream[] = []
  let turn = 0
  const pump = (st: Stream) => {
    const proc = st.proc as StreamingProcess
    const emit = (text: Buffer) => {
      if (!deps.out.write(text)) {
        // Back-pressure: stop reading kubectl until the terminal or pipe catches up (one drain listener for all).
        if (paused.size === 0) deps.out.once('drain', resumePaused)
        paused.add(proc.stdout)
        proc.stdout.pause()
      }
    }
    const write = (text: Buffer | undefined) => {
      if (!text || controller.signal.aborted) return
      const held = st.held
      if (!held || ordered[turn] === st || held.done) {
        emit(text)
        return
      }
      held.chunks.push(text)
      held.bytes += text.length
      // Its kubectl waits (the pipe fills) rather than skycap holding a whole log in memory.
      if (held.bytes > HELD_BYTES) proc.stdout.pause()
    }
    const ended = () => {
      if (!st.held || st.held.done) return
      st.held.done = true
      // Its turn has come and gone: the next streams' kept output follows, each whole, until one is still running.
      while (ordered[turn]?.held?.done) {
        const next = ordered[++turn]
        if (!next?.held) break
        for (const chunk of next.held.chunks.splice(0)) if (!controller.signal.aborted) deps.out.write(chunk)
        next.held.bytes = 0
        if (!paused.has(next.proc?.stdout as NodeJS.ReadableStream)) next.proc?.stdout.resume()
      }
    }
    if (!options.follow) {
      st.held = {chunks: [], bytes: 0, done: false}
      ordered.push(st)
    }
    proc.stdout.on('data', (chunk: Buffer) => write(st.processor.pushBytes(chunk)))
    proc.stdout.on('end', () => {
      write(st.processor.flushBytes())
      ended()
    })
    // A stream destroyed without an end (a kubectl stopped) does not hold up the streams after it. Not on the
    // process's exit: a paused stream's last output may still be in the pipe then.
    proc.stdout.on('close', ended)
  }

  const listPods = async (): Promise<Pod[]> => {
    const list = await kubectl.json<{items: PodObject[]}>(['get', 'pods', '-l', selector], {signal: controller.signal, timeoutMs: POLL_CALL_MS})
    return list.items.map((p) => {
      const statuses = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]
      return {
        name: p.metadata.name,
        service: p.metadata.labels?.[LABELS.name] ?? '',
        containers: (p.spec?.containers ?? []).map((c) => c.name),
        initContainers: (p.spec?.initContainers ?? []).map((c) => c.name),
        start: podStart(p),
        started: new Set(statuses.filter(containerStarted).map((c) => c.name)),
        restarts: new Map(statuses.map((c) => [c.name, c.restartCount ?? 0])),
        deleting: Boolean((p.metadata as {deletionTimestamp?: string}).deletionTimestamp),
      }
    })
  }

  /**
   * The containers of a pod to stream: -c's (an init container's too), else its containers, or, while it is stuck in
   * an init container that runs or failed, that one, as stern shows it (its containers have no log yet: kubectl said
   * only "waiting to start: PodInitializing", and -c of the init container was "no pod has a container").
   */
  const containersOf = (pod: Pod): string[] => {
    if (pod.start.notStarted) return []
    const init = pod.start.init
    if (options.container) {
      if (init && !pod.initContainers.includes(options.container)) return []
      return pod.containers.includes(options.container) || pod.initContainers.includes(options.container) ? [options.container] : []
    }
    return init ? [init.name] : pod.containers
  }

  // What was said of each pod that has not started (said again only when it changes, not at each restart's count).
  const saidStart = new Map<string, string>()
  /**
   * Pods that have not started, each with why (Pending: the scheduler's reason; a container's waiting reason), and
   * pods stuck in a failing init container, with the command that shows it alone. A Pending pod was skipped without
   * a word (exit 0, nothing printed). After the first listing of -f, only what is more than a step of every start.
   */
  const startNotes = (pods: Pod[], first: boolean): Array<{text: string; warn: boolean}> => {
    const notes: Array<{text: string; warn: boolean}> = []
    for (const pod of pods) {
      const {init, notStarted, transient} = pod.start
      let text: string | undefined
      let warn = true
      let key: string | undefined
      if (notStarted && (first || !transient)) key = text = `${pod.name} of ${pod.service} has not started: ${notStarted}`
      else if (init?.started && options.container && !pod.initContainers.includes(options.container)) {
        // -c of a container that waits for it: what holds it up, and the command that shows it (the reason was empty).
        key = `init ${init.name} ${init.failed}`
        text = `${pod.name} of ${pod.service} has not started: its init container ${init.name} ${init.failed ? 'failed' : 'runs'} (\`skycap logs ${pod.service} -c ${init.name} -e ${env.name}\` shows it)`
      } else if (init?.started && !options.container) {
        key = `init ${init.name} ${init.failed}`
        const alone = `skycap logs ${pod.service} -c ${init.name}${init.restarts > 0 ? ' -p' : ''} -e ${env.name}`
        text = init.failed
          ? `${pod.name} of ${pod.service} has not started: its init container ${init.name} failed${init.restarts > 0 ? ` (${init.restarts} ${init.restarts === 1 ? 'restart' : 'restarts'})` : ''}; its lines follow (\`${alone}\` shows ${init.restarts > 0 ? 'the run before' : 'them alone'})`
          : `${pod.name} of ${pod.service} runs its init container ${init.name}; its lines follow, then its containers'`
        warn = init.failed
      }
      if (!text || !key || saidStart.get(pod.name) === key) continue
      saidStart.set(pod.name, key)
      notes.push({text, warn})
    }
    return notes
  }
  const sayStart = (notes: Array<{text: string; warn: boolean}>) => {
    for (const n of notes) (n.warn ? deps.reporter.warn : deps.reporter.info).call(deps.reporter, n.text)
  }

  const sync = async (pods: Pod[]) => {
    // An init container's lines are prefixed with its name, as stern does: they are not the pod's own.
    const multi = pods.some((p) => p.containers.length > 1 || p.start.init?.started) || options.container !== undefined
    format.showContainer = multi
    const alive = new Set<string>()
    // Streams past --max-log-requests, per service: the warning names them (it named none, and whole services went
    // unfollowed without a word of which).
    const dropped = new Map<string, number>()
    // Streams taken service by service in turn (each one's first, then each one's second…): past the cap, every
    // service is still followed by one stream at least (a service scaled to 20 pods pushed whole services out; taken
    // pod by pod, web's pod of two containers took both streams of --max-log-requests 2 and left worker unfollowed).
    const wanted = pods.flatMap((pod) => containersOf(pod).map((container) => ({service: pod.service, pod, container})))
    for (const {pod, container} of takenInTurn(wanted)) {
      const key = `${pod.name}/${container}`
      alive.add(key)
      const existing = streams.get(key)
      if (existing && !existing.ended) continue
      if (!pod.started.has(container) && !options.previous) continue
      if (existing && existing.ended && (!options.follow || pod.deleting)) continue
      // A previous (terminated) container's log does not grow: show it again only once the container has
      // restarted since (a new previous container), not at every poll.
      if (existing && existing.ended && options.previous && (pod.restarts.get(container) ?? 0) <= (existing.restarts ?? 0)) continue
      const active = [...streams.values()].filter((s) => !s.ended).length
      if (active >= maxStreams) {
        dropped.set(pod.service, (dropped.get(pod.service) ?? 0) + 1)
        continue
      }
      const st = existing ?? {key, pod, container, processor: new LogChunkProcessor(filterSpec(pod.service), {service: pod.service, pod: pod.name, container}, format), ended: false}
      st.pod = pod
      st.restarts = pod.restarts.get(container) ?? 0
      streams.set(key, st)
      seenPods.add(pod.name)
      startStream(st, Boolean(existing))
      if (options.follow) sayStream('+', st)
      void st.proc?.done.then((r) => {
        // Ended already: stopped by sync below, which said why.
        const stopped = st.ended
        st.ended = true
        if (r.exitCode !== 0 && !controller.signal.aborted) reportStreamError(st, r.stderr)
        else if (options.follow && !stopped && !controller.signal.aborted) sayStream('-', st, 'container ended')
      })
    }
    if (dropped.size && !warnedCap) {
      warnedCap = true
      deps.reporter.warn(`more than ${maxStreams} log streams; not following ${streamsOf(dropped)} (name fewer services, narrow with --container, or raise --max-log-requests)`)
    }
    // Pods that are gone: stop their streams.
    for (const [key, st] of streams) {
      if (!alive.has(key) && !st.ended) {
        st.proc?.kill()
        st.ended = true
        if (options.follow) sayStream('-', st, pods.some((p) => p.name === st.pod.name) ? 'container ended' : 'pod gone')
      }
    }
  }

  let fatal: SkycapError | undefined
  // Containers already said to have no previous container (said once, not at every poll of -f).
  const noPrevious = new Set<string>()
  // Without -f: the streams whose kubectl failed (the first error of each said as a warning), and the first such error.
  const unreadable = new Set<string>()
  let firstUnreadable = ''
  const reportStreamError = (st: Stream, stderr: string) => {
    const text = stderr.trim().split('\n')[0] ?? ''
    if (/forbidden/i.test(stderr)) {
      fatal = new KubectlError('forbidden', `reading logs of ${st.pod.name} is forbidden: ${text}`, ['logs'], stderr, {hint: 'Your user needs RBAC permission for pods/log in this namespace.'})
      stop()
    } else if (options.previous && /previous terminated container .* not found|not found/i.test(stderr)) {
      if (!noPrevious.has(st.key)) deps.reporter.warn(`${st.pod.name}/${st.container} has no previous (crashed) container to show`)
      noPrevious.add(st.key)
      unreadable.add(st.key)
    } else if (!options.follow && !podGone(stderr, st.pod.name)) {
      deps.reporter.warn(`logs of ${st.pod.name}/${st.container}: ${text}`)
      unreadable.add(st.key)
      firstUnreadable ||= text
    }
  }

  // A container no pod has is a typo, with -f too (it would otherwise wait for it silently forever). Before any pod
  // exists there is nothing to compare with: -f checks the first listing that has pods (after a scale from 0 too).
  let containerChecked = !options.container
  const checkContainer = (pods: Pod[]) => {
    if (containerChecked || pods.length === 0) return
    containerChecked = true
    if (!pods.some((p) => p.containers.includes(options.container as string) || p.initContainers.includes(options.container as string))) {
      const inits = [...new Set(pods.flatMap((p) => p.initContainers))].map((c) => `${c} (init)`)
      throw new UserError(`no pod of ${services.join(', ')} has a container "${options.container}"`, {hint: `Containers: ${[...new Set(pods.flatMap((p) => p.containers)), ...inits].join(', ')}.`})
    }
  }

  try {
    let pods: Pod[]
    try {
      pods = await listPods()
    } catch (error) {
      // With -f, a Ctrl-C (or up's stop by `skycap down`) is how it ends, even while the first listing runs: its
      // kubectl stopped by the signal was reported as a failure (exit 130) instead.
      if (options.follow && controller.signal.aborted) return {environment: env.name, pods: [], shown: 0, hidden: 0}
      throw error
    }
    // Nothing was ever deployed there: the same answer as scale and lock give (exit 2), not "scaled to 0?"; with -f
    // too, which waited for ever for pods of a namespace that does not exist ("web is not deployed; waiting").
    // A user whose rights end at the namespace may not read namespaces: then it is said as before.
    if (pods.length === 0 && !(await namespaceExists(kubectl, env.namespace).catch(() => true))) {
      throw new NamespaceMissingError(`no logs of ${services.join(', ')} in ${env.name}: its namespace ${env.namespace} does not exist yet (nothing was deployed there)`, {
        hint: `Deploy it first: ${deployFirst(env.name)}.`,
        details: {environment: env.name, namespace: env.namespace},
      })
    }
    if (pods.length === 0 && !options.follow) {
      // Which case it is (scaled to 0, not deployed, not started yet), as port-forward and exec say it: one more get.
      const why = await whyNoPods(kubectl, loaded.config.app, env.name, services)
      throw new SkycapError(`no pods of ${services.join(', ')} in ${env.name} (namespace ${env.namespace})${why ? `: ${why.said}` : ''}`, {
        hint: why?.hint ?? `Not deployed, or scaled to 0? \`skycap status ${env.name}\` shows its replicas.`,
      })
    }
    checkContainer(pods)
    if (!options.follow) {
      // Some of the services named have no pod (one scaled to 0): said, as for all of them (it showed the others'
      // lines without a word of it, exit 0).
      const without = services.filter((s) => !pods.some((p) => p.service === s))
      if (without.length) {
        const why = await whyNoPods(kubectl, loaded.config.app, env.name, without)
        deps.reporter.warn(`no pods of ${without.join(', ')} in ${env.name}${why ? `: ${why.said}` : ''}`)
      }
      const wanted = pods.reduce((n, p) => n + containersOf(p).length, 0)
      if (wanted > maxStreams) {
        const perService = new Map<string, number>()
        for (const p of pods) if (containersOf(p).length) perService.set(p.service, (perService.get(p.service) ?? 0) + containersOf(p).length)
        throw new UserError(`${wanted} log streams needed (${streamsOf(perService)}), more than --max-log-requests ${maxStreams}`, {
          hint: 'Name fewer services, narrow with --container, or raise --max-log-requests.',
        })
      }
      // Pods that have not started: why, and, when no pod has a log to show, the exit of "no pod running yet" (exit 1).
      const notes = startNotes(pods, true)
      if (!pods.some((p) => containersOf(p).length > 0)) {
        throw new SkycapError(`no pods of ${services.join(', ')} running in ${env.name} (namespace ${env.namespace}): ${notes.map((n) => n.text).join('; ') || 'none has started'}`, {
          hint: `\`skycap status ${env.name}\` shows why; \`skycap logs ${services.join(' ')} -f -e ${env.name}\` waits for them to start.`,
        })
      }
      sayStart(notes)
      // Without -f: stream every container once (previous containers included when asked), then stop.
      for (const p of pods) for (const c of containersOf(p)) p.started.add(c)
      await sync(pods)
      await Promise.all([...streams.values()].map((s) => s.proc?.done))
      // Not one log could be read (each kubectl failed, or --previous found no earlier run anywhere): a failure, as
      // `kubectl logs` exits 1 (it exited 0 with a warning per container and nothing on stdout).
      if (!fatal && streams.size > 0 && [...streams.keys()].every((key) => unreadable.has(key))) {
        const previousOnly = !firstUnreadable
        throw new SkycapError(
          previousOnly
            ? `no container of ${services.join(', ')} in ${env.name} has a previous (crashed) run to show`
            : `no log of ${services.join(', ')} in ${env.name} could be read: ${firstUnreadable}`,
          {
            hint: previousOnly
              ? `Without --previous, \`skycap logs ${services.join(' ')} -e ${env.name}\` shows the running containers.`
              : `\`skycap status ${env.name}\` shows the state of its pods; --verbose shows each kubectl command.`,
          },
        )
      }
    } else {
      // Services without a pod, and why (scaled to 0, not deployed), as without -f: -f said nothing of a service
      // scaled to 0 beside others, and alone only "waiting" (for pods that come only with a scale-up).
      const without = services.filter((s) => !pods.some((p) => p.service === s))
      const why = without.length ? await whyNoPods(kubectl, loaded.config.app, env.name, without).catch(() => undefined) : undefined
      if (pods.length === 0) deps.reporter.info(`no pods of ${services.join(', ')} yet${why ? ` (${why.said})` : ''}; waiting for some (Ctrl-C to stop)`)
      else if (without.length) deps.reporter.warn(`no pods of ${without.join(', ')} in ${env.name}${why ? `: ${why.said}` : ''}; following the others, and those once they start`)
      sayStart(startNotes(pods, true))
      for (const p of pods) for (const c of p.started) runningAtStart.add(`${p.name}/${c}`)
      if (!controller.signal.aborted) await sync(pods)
      sayStreams = true
      // An API server that stops answering ends every `kubectl logs -f`; -f waits for it as stern does, and once it
      // answers, the streams start again from the last line each showed (--since-time).
      const outage = new OutageWait({
        deadline: Number.POSITIVE_INFINITY,
        clock: Date.now,
        intervalMs: options.pollMs ?? 2000,
        signal: controller.signal,
        onContact: (event) => reportContact(deps.reporter, event, 'skycap keeps asking and follows again once it answers (Ctrl-C to stop)'),
      })
      while (!controller.signal.aborted) {
        await abortableSleep(options.pollMs ?? 2000, controller.signal)
        if (controller.signal.aborted) break
        let pods: Pod[]
        const polledAt = Date.now()
        try {
          pods = await listPods()
        } catch (error) {
          // Ctrl-C reaches kubectl too, perhaps before our handler aborts: either way it is the end of -f, not a failure.
          if (controller.signal.aborted || error instanceof InterruptedError) break
          await outage.failed(error, polledAt)
          continue
        }
        outage.answered()
        // Stopped while listing: start no stream that would only be killed again.
        if (controller.signal.aborted) break
        checkContainer(pods)
        sayStart(startNotes(pods, false))
        await sync(pods)
      }
      for (const st of streams.values()) st.proc?.kill()
      await Promise.all([...streams.values()].map((s) => s.proc?.done.catch(() => undefined)))
    }
    if (fatal) throw fatal
  } finally {
    deps.signal?.removeEventListener('abort', stop)
    deps.out.off('error', onOutError)
    deps.out.off('drain', resumePaused)
    for (const st of streams.values()) if (!st.ended) st.proc?.kill()
  }
  const hidden = [...streams.values()].reduce((n, s) => n + s.processor.hidden, 0)
  const shown = [...streams.values()].reduce((n, s) => n + s.processor.shown, 0)
  const note = hiddenNote(
    hidden,
    [...streams.values()].reduce((n, s) => n + s.processor.hiddenConfigured, 0),
    options,
  )
  if (note) deps.reporter.info(note)
  return {environment: env.name, pods: [...seenPods].sort(), shown, hidden}
}

/**
 * kubectl's answer when a pod listed a moment ago was deleted before its logs were read (an old pod at the end of a
 * rollout): nothing to show and nothing wrong, so `logs` without -f skips it quietly.
 */
function podGone(stderr: string, pod: string): boolean {
  return stderr.includes(`pods "${pod}" not found`)
}

/** Streams per service, as a warning or an error lists them: "12 of web, 3 of api". */
function streamsOf(counts: Map<string, number>): string {
  return [...counts].map(([service, n]) => `${n} of ${service}`).join(', ')
}

/** Pods ordered one per service in turn, in the order the services first appear; a service's own pods keep their order. */
export function takenInTurn<T extends {service: string}>(pods: T[]): T[] {
  const byService = new Map<string, T[]>()
  for (const pod of pods) byService.set(pod.service, [...(byService.get(pod.service) ?? []), pod])
  const out: T[] = []
  for (let round = 0; out.length < pods.length; round++) for (const list of byService.values()) if (round < list.length) out.push(list[round] as T)
  return out
}
