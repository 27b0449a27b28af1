import {PassThrough, Transform} from 'node:stream'
import {StringDecoder} from 'node:string_decoder'

import {ApiServerUnreachableError, InterruptedError, KubectlError, type KubectlFailureKind, UnreachableError, UserError} from '../errors.js'
import {homeFolder} from '../paths.js'
import {SecretRedactor} from './redact.js'
import {shellWord} from '../ui/shell-word.js'
import {currentContextFromFiles, kubeconfigFiles} from './kubeconfig.js'
import {callTimeout, OutageWait, type OutageOptions, sharedContact} from './outage.js'

/** What a finished child process left behind. */
export interface ProcessResult {
  exitCode: number
  stdout: string
  stderr: string
  /** The signal that killed the process (it then has no exit code of its own). */
  signal?: string
  /** Killed for its timeoutMs. */
  timedOut?: boolean
}

export interface RunOptions {
  input?: string
  /**
   * kubectl is stopped after this long, and its call taken as unanswered (exit 4, or waited out with the outage): a
   * stopped API server held a call for a minute of TLS handshake timeouts, past every deadline of the deploy.
   */
  timeoutMs?: number
  signal?: AbortSignal
  env?: Record<string, string>
  /** 'inherit': the child uses skycap's terminal (exec -it, attach, port-forward); nothing is captured. */
  stdio?: 'inherit'
  /** With stdio 'inherit': the child's stdout goes to skycap's stderr (--json keeps stdout for its one document). */
  stdoutToStderr?: boolean
  /**
   * With stdio 'inherit': the child's stderr is shown as it comes and its last 16 KiB returned (port-forward reads
   * why it ended, exec why its command never started); not all of it: an exec may write for hours.
   */
  teeStderr?: boolean
  /**
   * With teeStderr: kubectl's own `error: …` lines for which it is true are not shown (they are still returned): skycap
   * says them in its own words (exec of a command the image lacks showed kubectl's raw OCI error, then skycap's).
   */
  hideError?: (line: string) => boolean
  /** With stdio 'inherit': only stdin is the terminal's; stdout is dropped and stderr's tail returned, not shown. */
  inputOnly?: boolean
  /**
   * With stdio 'inherit' (not a terminal): the child's stdout and stderr are written to these streams instead of
   * skycap's own (under GitHub Actions, streams that stop workflow commands in a pod's output: src/ci/stop-commands.ts).
   */
  output?: AttachedOutput
}

/** Where an attached child's stdout and stderr go when not straight to skycap's own. */
export interface AttachedOutput {
  out: NodeJS.WritableStream
  err: NodeJS.WritableStream
}

/** Spawns a program with an argument array (never a shell). Injected so unit tests can assert the exact argv. */
export type ProcessRunner = (file: string, args: string[], options: RunOptions) => Promise<ProcessResult>

/**
 * Passes a child's stderr through as it comes, but for its `error: …` lines that `hide` picks. Only a line that starts
 * (or may yet start) with `error: ` is held until its end; any other text goes on at once (a prompt has no newline).
 */
export function hidingErrors(hide: (line: string) => boolean): Transform {
  const decoder = new StringDecoder('utf8')
  const ERROR = 'error: '
  let held = ''
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      let text = held + decoder.write(chunk)
      held = ''
      let out = ''
      for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n')) {
        const line = text.slice(0, end + 1)
        if (!(line.startsWith(ERROR) && hide(line.replace(/\r?\n$/, '')))) out += line
        text = text.slice(end + 1)
      }
      if (text.startsWith(ERROR) || ERROR.startsWith(text)) held = text
      else out += text
      if (out) this.push(out)
      done()
    },
    flush(done) {
      const rest = held + decoder.end()
      if (rest && !(rest.startsWith(ERROR) && hide(rest))) this.push(rest)
      done()
    },
  })
}

/** How much of an attached child's stderr (teeStderr) is kept. */
const STDERR_TAIL = 16 * 1024

/**
 * kubectl's environment: skycap's, without the user's kubectl preferences, plus `extra`, plus HOME when it is unset or empty (a CI step or `env -i`). kubectl
 * then looked for `.kube/config` and wrote its `.kube/cache` relative to the folder skycap ran in: a deploy from the
 * repository left an untracked `.kube/` there, and the next deploy of a protected environment refused the dirty work
 * tree. The user's home comes from the password database, as a login would have set HOME.
 */
export function kubectlEnv(extra?: Record<string, string>): Record<string, string> {
  // KUBERC=off: a user's kubectl preferences (~/.kube/kuberc, on by default since kubectl 1.34) set defaults for the
  // flags a command leaves out: `get` printing JSON where skycap reads the table, `delete --interactive` waiting for
  // a yes that never comes, so a deploy pruned nothing. skycap's calls are its own.
  const own = {KUBERC: 'off', ...extra}
  if (process.env.HOME) return own
  const home = homeFolder()
  return home ? {HOME: home, ...own} : own
}

/**
 * Writes what `from` reads to `to` as it comes, pausing while `to` is full (an exec may write for hours). A reader of
 * `to` that went away (`skycap exec web -- cat big | head -1`: EPIPE) closes `from`, so that the child's next write
 * fails as it would on that pipe itself and it ends; waiting for a `drain` that never came held skycap and the child
 * for ever.
 */
function forward(from: (NodeJS.ReadableStream & {destroy?: () => void}) | null | undefined, to: NodeJS.WritableStream & {destroyed?: boolean}): void {
  if (!from) return
  const stop = () => {
    from.removeListener('data', onData)
    from.destroy?.()
  }
  const onData = (chunk: Buffer) => {
    if (to.destroyed) return stop()
    if (!to.write(chunk)) {
      from.pause()
      to.once('drain', () => from.resume())
    }
  }
  from.on('data', onData)
  to.once('error', stop)
}

/** The real runner: execa, no shell, no rejection on a non-zero exit. */
export const execaRunner: ProcessRunner = async (file, args, options) => {
  const {execa} = await import('execa')
  try {
    let tail = ''
    const r =
      options.stdio === 'inherit'
        ? await (() => {
            const output = options.inputOnly ? undefined : options.output
            const hide = options.teeStderr && !options.inputOnly ? options.hideError : undefined
            const child = execa(file, args, {
              stdio: options.inputOnly
                ? ['inherit', 'ignore', 'pipe']
                : output
                  ? ['inherit', 'pipe', 'pipe']
                  : ['inherit', options.stdoutToStderr ? 2 : 'inherit', hide ? 'pipe' : options.teeStderr ? ['pipe', 'inherit'] : 'inherit'],
              buffer: false,
              reject: false,
              env: kubectlEnv(options.env),
              cancelSignal: options.signal,
            })
            const stderr = hide && child.stderr ? child.stderr.pipe(hidingErrors(hide)) : child.stderr
            if (output) {
              // Written as they come, each chunk whole (the stream's own write stops workflow commands first).
              forward(child.stdout, output.out)
              forward(stderr, output.err)
            } else if (hide) forward(stderr, process.stderr)
            child.stderr?.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString('utf8')).slice(-STDERR_TAIL)))
            return child
          })()
        : // No input: stdin is /dev/null, not a pipe left open. A kubeconfig user without credentials makes kubectl ask
          // "Please enter Username:" on stdin, and it waited for ever (status printed nothing, a deploy hung).
          await execa(file, args, {
            ...(options.input === undefined ? {stdin: 'ignore' as const} : {input: options.input}),
            timeout: options.timeoutMs,
            cancelSignal: options.signal,
            reject: false,
            stripFinalNewline: false,
            env: kubectlEnv(options.env),
          })
    if (r.failed && r.exitCode === undefined) {
      if ((r as {code?: string}).code === 'ENOENT') throw Object.assign(new Error(`${file}: not found`), {code: 'ENOENT'})
      // A kubectl that execa killed for its timeoutMs is a timeout, not an interruption: no signal then.
      return {exitCode: -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr || r.message), ...(r.timedOut ? {timedOut: true} : {signal: r.signal})}
    }
    return {exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: options.stdio === 'inherit' ? tail.replace(/\r?\n$/, '') : String(r.stderr ?? '')}
  } catch (error) {
    if ((error as {code?: string}).code === 'ENOENT') {
      throw new UnreachableError(`kubectl was not found ("${file}")`, {hint: 'Install kubectl (https://kubernetes.io/docs/tasks/tools/) or set SKYCAP_KUBECTL to its path.'})
    }
    throw error
  }
}

/** A long-running child (kubectl logs -f) whose stdout is read as it comes. */
export interface StreamingProcess {
  stdout: NodeJS.ReadableStream
  /** Resolves when the process exits (stderr collected). */
  done: Promise<ProcessResult>
  kill(): void
}

export type ProcessSpawner = (file: string, args: string[], options: {signal?: AbortSignal}) => StreamingProcess

/** The real spawner: execa without buffering stdout (memory stays bounded on a fast stream). */
export const execaSpawner: ProcessSpawner = (file, args, options) => {
  const stdout = new PassThrough()
  let killed = false
  // Wrapped in an object: a subprocess is thenable, and returning it from then() would wait for its exit.
  const child = import('execa').then(({execa}) => ({
    proc: execa(file, args, {buffer: {stdout: false, stderr: true}, reject: false, stdin: 'ignore', cancelSignal: options.signal, encoding: 'utf8', env: kubectlEnv()}),
  }))
  const done = child.then(async ({proc}) => {
    if (killed) proc.kill()
    proc.stdout.pipe(stdout)
    const r = await proc
    return {exitCode: r.exitCode ?? -1, stdout: '', stderr: String(r.stderr || '')}
  })
  return {
    stdout,
    done,
    kill() {
      killed = true
      void child.then(({proc}) => proc.kill())
    },
  }
}

export interface KubectlOptions {
  /** The kubectl binary (default: SKYCAP_KUBECTL or "kubectl" on PATH). */
  binary?: string
  /** Kube context; passed on every call so an environment can never reach another cluster. */
  context?: string
  namespace?: string
  /** Passed as --request-timeout (default 30s). */
  requestTimeout?: string
  runner?: ProcessRunner
  spawner?: ProcessSpawner
  /** Called with every argv before it runs (for --verbose). */
  trace?: (argv: string[]) => void
  /** Retries for the transient errors below (default 2). */
  retries?: number
  sleep?: (ms: number) => Promise<void>
  /** Milliseconds now (default Date.now): how long an attempt took. */
  clock?: () => number
  /**
   * Told once a `get` has gone unanswered for `slowReadMs` (default 15 s), with a line to show: kubectl itself says
   * nothing until it gives up, about 50 s later against an API server that takes connections and answers nothing.
   * Not while an outage is waited out (OutageWait says that itself).
   */
  onSlowRead?: (message: string) => void
  slowReadMs?: number
}

export interface CallOptions extends RunOptions {
  /** Add --namespace (default true). */
  namespaced?: boolean
  /** Return the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean
  /** Safe to repeat on a transient error (default true). */
  idempotent?: boolean
  /**
   * Asked once: not repeated on a transient error, nor waited for through an outage. For a question whose answer only
   * adds to an error already certain (`abort ENV nosuch` asks the cluster for a canary left of that name): an
   * unreachable API server cost the retries' 30 s before "unknown service".
   */
  once?: boolean
}

// Transient apiserver/etcd hiccups worth one more try; anything else is reported at once.
//
// Not when the attempt took SLOW_ATTEMPT_MS or more: kubectl had retried by itself. Against an API server that takes
// connections and answers nothing, one kubectl call spends about 50 s on TLS handshake timeouts (client-go's
// discovery tries again and again), and two more attempts made `skycap status` silent for 2.5 minutes before exit 4.
const SLOW_ATTEMPT_MS = 10_000
const TRANSIENT = [
  /etcdserver: (request timed out|leader changed)/,
  /the server is currently unable to handle the request/,
  /TLS handshake timeout/,
  /connection reset by peer/,
  /http2: client connection lost/,
  /net\/http: request canceled while waiting for connection/,
]

// A kubectl that died of one of these was interrupted (by the user or our own signal handling), not refused.
const INTERRUPTS = new Set(['SIGINT', 'SIGTERM', 'SIGHUP'])
/** kubectl verbs that change the cluster (an interrupted one may have changed part of what it was given). */
/** How an InterruptedError of a kubectl call the Ctrl-C stopped begins. */
export const KUBECTL_STOPPED = 'interrupted; kubectl was stopped'

const CHANGING_VERBS = new Set([
  'apply',
  'create',
  'replace',
  'patch',
  'delete',
  'scale',
  'rollout',
  'label',
  'annotate',
  'set',
  'run',
  'exec',
  'attach',
  'cp',
  'drain',
  'cordon',
  'uncordon',
  'taint',
  'edit',
  'autoscale',
  'expose',
])

/**
 * `kubectl ARGS -n NAMESPACE --context CONTEXT` as a user can paste it into a shell: the namespace and context as
 * words a shell reads as one (a context named `my ctx`). `args` is shell text already (names, selectors). Every
 * kubectl command a hint or message shows is built here (test/unit/kubectl/hints.test.ts finds those that are not):
 * without --context, a pasted command runs against whatever context is current then (`kubectl delete …` too).
 */
export function kubectlCommand(args: string, where: {context?: string; namespace?: string}): string {
  return `kubectl ${args}${where.namespace ? ` -n ${shellWord(where.namespace)}` : ''}${where.context ? ` --context ${shellWord(where.context)}` : ''}`
}

/** The one place that spawns kubectl. */
export class Kubectl {
  readonly binary: string
  readonly context?: string
  readonly namespace?: string
  private readonly requestTimeout: string
  private readonly runner: ProcessRunner
  private readonly spawner: ProcessSpawner
  private readonly trace?: (argv: string[]) => void
  private readonly retries: number
  private readonly sleep: (ms: number) => Promise<void>
  private readonly clock: () => number
  private readonly onSlowRead?: (message: string) => void
  private readonly slowReadMs: number
  /** How many kubectl processes this instance spawned (benchmarks print it). */
  spawned = 0
  /**
   * The error to throw when kubectl says this instance's context does not exist, in place of kubectl's own (set by
   * `connect` when it did not check the context before the first call: its error names the contexts there are).
   */
  unknownContext?: () => Promise<Error>
  /** kubectl is the real one, found on PATH: its kubeconfig can be read without it (currentContext). */
  private readonly plainKubectl: boolean
  /**
   * Set by waitingOut: every call that may be repeated waits out an API server that stops answering, until the
   * deadline, or for `eachCallMs` from the call's start (waitingEachUpTo).
   */
  private outage?: OutageOptions & {eachCallMs?: number}

  constructor(options: KubectlOptions = {}) {
    this.binary = options.binary ?? process.env.SKYCAP_KUBECTL ?? 'kubectl'
    this.plainKubectl = options.binary === undefined && process.env.SKYCAP_KUBECTL === undefined && options.runner === undefined
    this.context = options.context
    this.namespace = options.namespace
    this.requestTimeout = options.requestTimeout ?? '30s'
    this.runner = options.runner ?? execaRunner
    this.spawner = options.spawner ?? execaSpawner
    this.trace = options.trace
    this.retries = options.retries ?? 2
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)))
    this.clock = options.clock ?? Date.now
    this.onSlowRead = options.onSlowRead
    this.slowReadMs = options.slowReadMs ?? 15_000
  }

  /**
   * The kubeconfig's current context, as `kubectl config current-context` prints it. Read from the kubeconfig's
   * files when the answer is certain (src/kubectl/kubeconfig.ts), which spares a kubectl process; asked of kubectl
   * otherwise, and always when kubectl is not the plain one on PATH (SKYCAP_KUBECTL, a runner in tests).
   */
  async currentContext(): Promise<string> {
    if (this.plainKubectl) {
      const found = currentContextFromFiles()
      if (found !== undefined) return found
    }
    return (await this.run(['config', 'current-context'], {namespaced: false})).stdout.trim()
  }

  /** A copy bound to another namespace. */
  withNamespace(namespace: string): Kubectl {
    return this.copy({namespace})
  }

  /**
   * A copy whose calls wait out an API server that stops answering (refused, EOF, reset, timed out), each until the
   * outage's deadline, and are then made again, as the watches do: for the steps of a rollout after its apply (a
   * blue-green switch, a canary's scale, the rollout state), which otherwise ended the deploy at the first refused
   * call, exit 4, with traffic half moved, no record and no rollback. Only calls that may be repeated wait (not
   * those marked `idempotent: false`). Concurrent calls that lose the server together say so once (sharedContact).
   */
  waitingOut(outage: OutageOptions): Kubectl {
    return this.copy({outage: {...outage, ...(outage.onContact ? {onContact: sharedContact(outage.onContact)} : {})}})
  }

  /**
   * A copy of a kubectl given by waitingOut whose calls each wait up to `ms` from their start, whatever its deadline
   * (a canary's pause may outlast the deploy's timeout, and each of its waits gets that long); as it is otherwise.
   */
  waitingEachUpTo(ms: number): Kubectl {
    return this.outage ? this.copy({outage: {...this.outage, eachCallMs: ms}}) : this
  }

  /** A copy whose calls fail at once when the API server does not answer: for a poll loop that waits out an outage itself (OutageWait). */
  atOnce(): Kubectl {
    return this.outage ? this.copy({outage: undefined}) : this
  }

  private copy(changes: {namespace?: string; outage?: Kubectl['outage']}): Kubectl {
    const copy = new Kubectl({
      binary: this.binary,
      context: this.context,
      namespace: 'namespace' in changes ? changes.namespace : this.namespace,
      requestTimeout: this.requestTimeout,
      runner: this.runner,
      spawner: this.spawner,
      trace: this.trace,
      retries: this.retries,
      sleep: this.sleep,
      clock: this.clock,
      onSlowRead: this.onSlowRead,
      slowReadMs: this.slowReadMs,
    })
    copy.unknownContext = this.unknownContext
    const outage = 'outage' in changes ? changes.outage : this.outage
    if (outage) copy.outage = outage
    return copy
  }

  /** The full argv for `args`: --context, --namespace and --request-timeout are added here and only here. */
  argv(args: string[], namespaced = true, requestTimeout = this.requestTimeout): string[] {
    const out: string[] = []
    if (this.context) out.push('--context', this.context)
    if (namespaced && this.namespace) out.push('--namespace', this.namespace)
    out.push(`--request-timeout=${requestTimeout}`)
    return [...out, ...args]
  }

  /**
   * `args` as a command for a hint, with this instance's namespace and context: one the user can paste where another
   * context is current (a hint's bare `kubectl logs job/…` looked in the default namespace and found nothing).
   */
  shown(args: string): string {
    return kubectlCommand(args, this)
  }

  /** The namespace a call is made in (none for a call that is not namespaced). */
  private namespaceOf(options: CallOptions): string | undefined {
    return (options.namespaced ?? true) ? this.namespace : undefined
  }

  /** Runs kubectl; throws a classified KubectlError on failure unless allowFailure. */
  async run(args: string[], options: CallOptions = {}): Promise<ProcessResult> {
    if (!this.outage || options.idempotent === false || options.once) return this.runOnce(args, options)
    const {eachCallMs, ...outage} = this.outage
    const deadline = eachCallMs === undefined ? outage.deadline : outage.clock() + eachCallMs
    const wait = new OutageWait({...outage, deadline, ...(options.signal ? {signal: options.signal} : {})})
    // A call that allows failure waits too (a cleanup's delete), and past the deadline returns what kubectl said.
    let unanswered: ProcessResult | undefined
    try {
      return await wait.untilAnswered(async () => {
        // Each attempt ends by the deadline, whatever kubectl would wait for (a stopped API server).
        const result = await this.runOnce(args, {...options, timeoutMs: options.timeoutMs ?? callTimeout(deadline, outage.clock)})
        if (result.exitCode === 0 || !options.allowFailure) return result
        const error = classify(args, result.stderr, this.context, this.namespaceOf(options))
        if (!(error instanceof ApiServerUnreachableError)) return result
        unanswered = result
        throw error
      })
    } catch (error) {
      if (unanswered && error instanceof ApiServerUnreachableError) return unanswered
      throw error
    }
  }

  private async runOnce(args: string[], options: CallOptions): Promise<ProcessResult> {
    const argv = this.argv(args, options.namespaced ?? true)
    // What kubectl prints may quote the Secrets it was given: every result leaves here without their values.
    const redactor = SecretRedactor.forInput(options.input)
    for (let attempt = 0; ; attempt++) {
      this.trace?.([this.binary, ...argv])
      this.spawned++
      const started = this.clock()
      const ran = await this.whileNoticingSlowReads(args, () => this.runner(this.binary, argv, options))
      const slow = this.clock() - started >= SLOW_ATTEMPT_MS
      // Stopped for its time: the API server did not answer (classified as unreachable, as kubectl's own timeouts are).
      const raw = ran.timedOut ? {...ran, exitCode: -1, stderr: `Unable to connect to the server: no answer within ${Math.round((options.timeoutMs ?? 0) / 1000)}s`} : ran
      const result = {...raw, stdout: redactor.redact(raw.stdout), stderr: redactor.redact(raw.stderr)}
      // Ctrl-C reaches the whole process group: kubectl dies of the SIGINT, perhaps before our own handler has run.
      if (result.exitCode !== 0 && (options.signal?.aborted || INTERRUPTS.has(result.signal ?? ''))) {
        // Only a call that changes the cluster may have left part of its change behind (a dry run changes nothing).
        const changes = CHANGING_VERBS.has(args.find((a) => !a.startsWith('-')) ?? '') && !args.some((a) => a.startsWith('--dry-run'))
        throw new InterruptedError(`${KUBECTL_STOPPED}${result.signal ? ` (${result.signal})` : ''}`, {
          hint: changes ? 'Check `skycap status` to see what was applied.' : 'Check `skycap status` to see what runs.',
        })
      }
      if (result.exitCode === 0 || options.allowFailure) return result
      const transient = TRANSIENT.some((re) => re.test(result.stderr))
      if (transient && !slow && (options.idempotent ?? true) && !options.once && attempt < this.retries && !options.signal?.aborted) {
        await this.sleep(500 * 2 ** attempt)
        continue
      }
      const error = classify(args, result.stderr, this.context, this.namespaceOf(options))
      if (this.unknownContext && error instanceof KubectlError && error.kind === 'no_context') throw await this.unknownContext()
      if (error instanceof ApiServerUnreachableError && /localhost:8080/.test(result.stderr)) throw (await this.missingCluster()) ?? error
      throw error
    }
  }

  /** Runs `call`; a plain `get` (not a watch) still running after slowReadMs is said, once (onSlowRead). */
  private async whileNoticingSlowReads<T>(args: string[], call: () => Promise<T>): Promise<T> {
    const notice = this.onSlowRead
    if (!notice || this.outage || args[0] !== 'get' || args.some((a) => a === '-w' || a === '--watch' || a.startsWith('--watch='))) return call()
    const where = this.context ? `context ${this.context}` : 'the current kube context'
    const seconds = Math.round(this.slowReadMs / 1000)
    const timer = setTimeout(
      () => notice(`the API server (${where}) has not answered for ${seconds}s; still waiting: kubectl gives up by itself within about a minute (Ctrl-C stops)`),
      this.slowReadMs,
    )
    timer.unref()
    try {
      return await call()
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Why kubectl tried localhost:8080, when it is that the context's cluster is in no kubeconfig file: kubectl then
   * falls back to that address without a word, and skycap said the API server was down (check the VPN). Undefined
   * for any other reason.
   */
  private async missingCluster(): Promise<UserError | undefined> {
    const r = await this.runner(this.binary, this.argv(['config', 'view', '--minify', '-o', 'json'], false), {}).catch(() => undefined)
    const cluster = /cannot locate cluster (\S+)/.exec(r?.stderr ?? '')?.[1]
    if (cluster === undefined) return undefined
    const context = this.context ? `kube context "${this.context}"` : 'the current kube context'
    const files = kubeconfigFiles()
    return new UserError(
      `${context} names cluster "${cluster}", which no kubeconfig file defines (${files.join(', ')}); kubectl fell back to localhost:8080 and reached nothing; nothing was changed`,
      {
        hint: `Add the cluster to the kubeconfig (get the credentials again: gcloud/aws/az get-credentials), point the context at a defined one (\`kubectl config set-context ${this.context ? shellWord(this.context) : '--current'} --cluster NAME\`; \`kubectl config get-clusters\` lists them), or use another context.`,
        details: {context: this.context, cluster, files},
      },
    )
  }

  /**
   * Runs kubectl on skycap's own terminal (exec, attach, port-forward): what it prints goes straight to the user, and
   * its exit code (the remote command's, for exec) is returned rather than thrown.
   */
  async attached(
    args: string[],
    options: {signal?: AbortSignal; stdoutToStderr?: boolean; teeStderr?: boolean; hideError?: (line: string) => boolean; inputOnly?: boolean; output?: AttachedOutput} = {},
  ): Promise<ProcessResult> {
    const argv = this.argv(args)
    this.trace?.([this.binary, ...argv])
    this.spawned++
    const {stdoutToStderr, teeStderr, hideError, inputOnly, output} = options
    return this.runner(this.binary, argv, {
      stdio: 'inherit',
      signal: options.signal,
      ...(stdoutToStderr ? {stdoutToStderr} : {}),
      ...(teeStderr ? {teeStderr} : {}),
      ...(hideError ? {hideError} : {}),
      ...(inputOnly ? {inputOnly} : {}),
      ...(output ? {output} : {}),
    })
  }

  /**
   * Starts a long-running kubectl (logs -f) without waiting for it. With no request timeout: kubectl applies it to
   * the whole response, so a 30 s one ended every `logs -f` after 30 s (as k9s found: derailed/k9s#1381).
   */
  spawn(args: string[], options: {signal?: AbortSignal} = {}): StreamingProcess {
    const argv = this.argv(args, true, '0')
    this.trace?.([this.binary, ...argv])
    this.spawned++
    return this.spawner(this.binary, argv, options)
  }

  /** Runs kubectl with `-o json` appended and parses the output. */
  async json<T>(args: string[], options: CallOptions = {}): Promise<T> {
    const r = await this.run([...args, '-o', 'json'], options)
    return JSON.parse(r.stdout) as T
  }
}

// kubectl's words when it cannot talk to the API server: down (refused), killed mid-request (EOF, reset),
// firewalled or off the VPN (timeouts, no route), or a wrong address. "Error from server" means it did answer.
const UNREACHABLE = [
  /Unable to connect to the server/,
  /The connection to the server \S+ was refused/,
  /connection refused/,
  /TLS handshake timeout/,
  /i\/o timeout/,
  /no route to host/,
  /network is unreachable/,
  /no such host/,
  /connection reset by peer/,
  /http2: client connection lost/,
  /server sent GOAWAY/,
  /"https?:\/\/[^"]+": (unexpected )?EOF\s*$/m,
  /^(error: )?(unexpected )?EOF\s*$/m,
  // Cut while the answer's body was read (a large `get -o json`): client-go's "unexpected error when reading response
  // body. Please retry. Original error: unexpected EOF". It was read as a refusal (exit 1) and ended a rollout's step
  // that waits out an outage.
  /error when reading response body/,
  /write: broken pipe/,
  /dial tcp/,
  // client-go's own --request-timeout ran out before any answer (`Post "https://…/leases": context deadline exceeded`):
  // the API server did not answer, as a refused connection. It was exit 1 with "see the kubectl message above".
  /^(error: )?.*(Get|Post|Put|Patch|Delete) "https?:\/\/[^"]+": context deadline exceeded/m,
]

// client-go's log lines (`E1130 14:37:08.782026   10391 memcache.go:265] ...`): noise before kubectl's own message.
const KLOG = /^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ [\w.-]+:\d+\] /

/** The hint of a refused object when kubectl's message holds no more specific advice. */
const FIX_OBJECT_HINT = 'Fix the object in its template or in skycap.yaml; nothing was changed.'

/** Turns kubectl's stderr into a typed error with a next step. */
export function classify(args: readonly string[], stderr: string, context?: string, namespace?: string): KubectlError | UnreachableError | UserError {
  const text = stderr.trim()
  const lines = text.split('\n').filter((l) => l.trim() && !KLOG.test(l))
  const first = lines[0] ?? `kubectl ${args[0] ?? ''} failed`
  const where = context ? ` (context ${context})` : ''
  // kubectl says it in two ways: `get namespace x` "Error in configuration: context was not found for specified context".
  if (/context "([^"]+)" does not exist|no context exists with the name|context was not found for specified context/.test(text)) {
    return new KubectlError('no_context', `kube context "${context}" is not in your kubeconfig`, args, text, {
      hint: 'No kubeconfig file (KUBECONFIG, else ~/.kube/config) defines it: `kubectl config get-contexts` lists those that do. Nothing was changed.',
    })
  }
  // The kubeconfig, or a certificate or key file it names, that kubectl cannot read or parse: a local file to fix (exit
  // 2), not the cluster's failure ("See the kubectl message above", exit 1). Nothing reached the cluster.
  const kubeconfig = /error loading config file "[^"]*": .*|(?:Error in configuration|invalid configuration):\s*(?:\[|\*\s*)?(unable to read .*? due to [^,;\]\n]*)/.exec(text)
  if (kubeconfig) {
    const reason = (kubeconfig[1] ?? kubeconfig[0]).trim()
    const user = process.geteuid ? `uid ${process.geteuid()}` : 'the user running skycap'
    const fix = /permission denied/.test(reason)
      ? `Make the file it names readable by ${user}, or point KUBECONFIG at one that is`
      : 'Fix the file it names (KUBECONFIG lists the files kubectl reads, else ~/.kube/config)'
    return new UserError(`kubectl cannot use the kubeconfig${where}: ${reason}`, {hint: `${fix}; nothing was changed.`, details: {context}})
  }
  // The kubeconfig's credential plugin (users[].exec: gcloud, aws, kubelogin) failed: an expired sign-in or a plugin
  // not installed, said as a network problem before ("cannot reach the cluster's API server … check your VPN").
  const plugin = /getting credentials: ([^"\n]*)/.exec(text)
  if (plugin) {
    return new UnreachableError(`kubectl could not get credentials${where}: ${(plugin[1] as string).trim()}`, {
      hint: `The credential plugin the kubeconfig's user runs (users[].exec) failed: sign in again with its tool (gcloud auth login, aws sso login, az login, kubelogin …) or install it; \`${kubectlCommand('get namespaces', {context})}\` shows its own output.`,
    })
  }
  // A kubeconfig user with no credentials: kubectl asks for a user name (on stdout) and reads stdin, which is empty
  // (execaRunner): "error: EOF" is all its stderr says.
  if (/Please enter Username/.test(text) || text === 'error: EOF') {
    return new UnreachableError(`the kubeconfig's user${where} has no credentials (kubectl asked for a user name)`, {
      hint: `Give the context's user a token, a client certificate or a credential plugin (\`${kubectlCommand('config view --minify', {context})}\` shows what it has), or use another context.`,
    })
  }
  const answered = /^Error from server|failed calling webhook/m.test(text)
  // A server that answers 404 to the namespace lookup is not a Kubernetes API server (a wrong address or proxy).
  if ((!answered && UNREACHABLE.some((re) => re.test(text))) || /the server could not find the requested resource \(get namespaces/.test(text)) {
    const reason = unreachableReason(text, lines)
    return new ApiServerUnreachableError(`cannot reach the cluster's API server${where}: ${reason}`, reason, {
      hint: `Check that the cluster is up, that you are on its network or VPN, and that the server address of ${context ? `context ${context}` : 'the current context'} in your kubeconfig is right (\`${kubectlCommand('cluster-info', {context})}\`).`,
    })
  }
  if (/provide credentials|Unauthorized|must be logged in/i.test(text)) {
    return new UnreachableError(`the cluster refused your credentials${where}`, {hint: 'Log in again (refresh your kubeconfig credentials) and retry.'})
  }
  let kind: KubectlFailureKind = 'other'
  const seeMessage = 'See the kubectl message above.'
  let hint = seeMessage
  // A Secret or ConfigMap with `immutable: true` says "data: Forbidden: field is immutable when `immutable` is set":
  // an invalid change, not a missing RBAC permission (its "Forbidden" read as one, exit 1).
  // With several fields refused, the server lists them ("is invalid: \n* immutable: Forbidden: …\n* data: …"): that
  // was read as RBAC too.
  const immutable = /(?:The )?([A-Z]\w*)(?:\.[\w.]+)? "([^"]+)" is invalid: \s*(?:\* )?([\w.[\]]+): (?:Invalid value: [\s\S]*?|Forbidden: )field is immutable( when `immutable` is set)?/.exec(text)
  if (immutable) {
    const [, objectKind, name, field, flagged] = immutable
    // A StatefulSet's data: deleted outright, every pod stops at once; renamed, it starts on new, empty volumes (its
    // claims are named after it). Deleted with --cascade=orphan, its pods and claims stay for the new one to take over.
    const advice =
      objectKind === 'Job'
        ? `Give the Job a new name per release, e.g. name: ${name}-{{ revision.short }} in its template, or run it as a skycap hook (docs/hooks.md)`
        : objectKind === 'StatefulSet'
          ? `Delete StatefulSet/${name} without its pods and volumes (\`${kubectlCommand(`delete statefulset ${name} --cascade=orphan`, {context, namespace})}\`), then deploy again: the new StatefulSet takes them over${/volumeClaimTemplates/.test(text) ? '. Its volumes keep their size: grow each PersistentVolumeClaim itself (its storage class must allow expansion)' : ''}. A new name would start on new, empty volumes`
          : `Delete ${objectKind}/${name} so it is created again, or give it a new name`
    const why = flagged ? (field === 'immutable' ? 'it sets immutable: true, so it cannot change' : `it sets immutable: true, so its ${field} cannot change`) : `${field} is immutable once created`
    return new KubectlError('invalid', `kubectl ${verb(args)} failed${where}: the ${objectKind} "${name}" cannot be changed in place (${why})`, args, text, {
      hint: `${advice}; nothing was changed.`,
      advice,
    })
  }
  // A kind the API server does not serve (its CustomResourceDefinition is not installed): kubectl cannot map it and
  // says so before it sends anything ("unable to recognize …: no matches for kind "Widget" in version "x.io/v1"").
  const unmapped = /no matches for kind "([^"]+)" in version "([^"]+)"/.exec(text)
  if (unmapped) {
    const [, kindName, version] = unmapped as unknown as [string, string, string]
    // A built-in kind under a version Kubernetes removed (apps/v1beta1): no definition to install, a line to change.
    const current = Object.hasOwn(BUILT_IN_VERSIONS, kindName) ? BUILT_IN_VERSIONS[kindName] : undefined
    const advice =
      current && current !== version
        ? `Write apiVersion: ${current} in its template: ${kindName} is served as ${current}, and ${version} is no longer`
        : `Install the CustomResourceDefinition of ${kindName} (${version}) in the cluster first, or add it to the templates`
    return new KubectlError('invalid', `kubectl ${verb(args)} failed${where}: the cluster does not serve kind ${kindName} in version ${version}`, args, text, {
      hint: `${advice}; nothing was changed.`,
      advice,
    })
  }
  // A namespace being deleted refuses new objects with "Forbidden": no missing RBAC permission, and it passes.
  const terminating = /unable to create new content in namespace (\S+) because it is being terminated/.exec(text)
  if (terminating) {
    const going = terminating[1] as string
    return new KubectlError('forbidden', `kubectl ${verb(args)} failed${where}: namespace ${going} is being deleted, and takes no new objects until it is gone`, args, text, {
      hint: `Wait until \`${kubectlCommand(`get namespace ${going}`, {context})}\` finds it no more (deleting what was in it can take a minute), then run this again; nothing was changed.`,
    })
  }
  if (/exceeded quota/.test(text)) {
    kind = 'forbidden'
    hint = `A ResourceQuota of the namespace does not leave room for this (\`${kubectlCommand('describe resourcequota', {context, namespace})}\` shows it); raise it or free room.`
  } else if (/\(Forbidden\)|forbidden/i.test(text)) {
    kind = 'forbidden'
    const namespace = /in the namespace "([^"]+)"/.exec(text)?.[1]
    hint = /at the cluster scope/.test(text)
      ? 'It is a cluster-scoped object or list: a user whose rights are a Role in the namespace can never have it. A cluster admin applies such objects (take them out of the templates), or grants a ClusterRole; docs/rbac.md.'
      : `Your user lacks RBAC permission for this${namespace ? ` in namespace ${namespace} (or ${namespace} does not exist yet: a cluster admin creates it, with your RoleBinding in it)` : ''}; ask a cluster admin or use another context. docs/rbac.md lists what each command needs.`
  } else if (/\(AlreadyExists\)|already exists/.test(text)) kind = 'already_exists'
  else if (/\(Conflict\)|the object has been modified|Apply failed with \d+ conflict/.test(text)) {
    kind = 'conflict'
    hint = 'Someone changed the object at the same time; retry.'
  } else if (/\(NotFound\)|not found|doesn't have a resource type/.test(text)) kind = 'not_found'
  else if (/\(Invalid\)|is invalid|error validating|unknown field|error parsing|BadRequest|strict decoding error|failed to create typed patch object|expected \w+, got /.test(text)) {
    // Server-side apply reports a value of the wrong type (a number in stringData) as "failed to create typed patch object".
    kind = 'invalid'
    hint = FIX_OBJECT_HINT
  } else if (/timed out|Timeout|deadline exceeded/.test(text)) kind = 'timeout'
  // Validation errors list their causes on the following lines ("* spec.ports[0].port: Invalid value: ...").
  const causes = text
    .split('\n')
    .filter((l) => /^\s*\* /.test(l))
    .slice(0, 5)
    .map((l) => l.trim().replace(/^\* /, ''))
  // kubectl's own schema check ends with advice to turn validation off (--validate=false), a flag skycap has not.
  const said = first
    .replace(/^error: /i, '')
    .replace(/;? ?if you choose to ignore these errors, turn validation off with --validate=false\s*$/, '')
    .replace(/:\s*$/, '')
  const detail = cutGoValues(`${said}${causes.length ? `: ${causes.join('; ')}` : ''}`)
  // The terminal shows the message just above the hint; a --json reader finds it in the error's message.
  const jsonHint = hint === seeMessage ? "The reason is kubectl's own message, at the end of this error's message." : undefined
  return new KubectlError(kind, `kubectl ${verb(args)} failed${where}: ${detail}`, args, text, {hint, jsonHint})
}

/** The version Kubernetes serves each built-in kind of a manifest at (the older beta versions were removed). */
const BUILT_IN_VERSIONS: Record<string, string> = {
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  ReplicaSet: 'apps/v1',
  Ingress: 'networking.k8s.io/v1',
  IngressClass: 'networking.k8s.io/v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  CronJob: 'batch/v1',
  Job: 'batch/v1',
  PodDisruptionBudget: 'policy/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
  Role: 'rbac.authorization.k8s.io/v1',
  RoleBinding: 'rbac.authorization.k8s.io/v1',
  ClusterRole: 'rbac.authorization.k8s.io/v1',
  ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
  PriorityClass: 'scheduling.k8s.io/v1',
  StorageClass: 'storage.k8s.io/v1',
  CustomResourceDefinition: 'apiextensions.k8s.io/v1',
  Service: 'v1',
  ConfigMap: 'v1',
  Secret: 'v1',
  ServiceAccount: 'v1',
  PersistentVolumeClaim: 'v1',
}

function verb(args: readonly string[]): string {
  // A dry run says so: "kubectl apply failed" of the validate phase read as if something had been applied.
  const dryRun = args.find((a) => a.startsWith('--dry-run'))
  return `${args
    .filter((a) => !a.startsWith('-'))
    .slice(0, 2)
    .join(' ')}${dryRun ? ` ${dryRun}` : ''}`
}

// The start of a Go value the API server prints with %#v: `core.PodTemplateSpec{`, `[]core.Container{`, `map[string]string{`.
const GO_VALUE = /(?:\[\])*(?:map\[[\w.]+\])?\*?[a-z][\w]*\.[A-Z]\w*\{|(?:\[\])+[\w.]+\{|map\[[\w.]+\][\w.*]+\{/g

/** Replaces each Go value dump in a message (kilobytes of `core.PodSpec{Volumes:[]core.Volume{...}}`) by its type. */
export function cutGoValues(text: string): string {
  let out = ''
  let from = 0
  for (const m of text.matchAll(GO_VALUE)) {
    if (m.index < from) continue
    let depth = 0
    let i = m.index + m[0].length - 1
    let quoted = false
    for (; i < text.length; i++) {
      const c = text[i]
      if (quoted) {
        if (c === '\\') i++
        else if (c === '"') quoted = false
      } else if (c === '"') quoted = true
      else if (c === '{') depth++
      else if (c === '}' && --depth === 0) break
    }
    out += `${text.slice(from, m.index)}${m[0].slice(0, -1)}{…}`
    from = i + 1
  }
  return out + text.slice(from)
}

/** kubectl's one-line summary of why it could not connect, without its boilerplate. */
function unreachableReason(text: string, lines: string[]): string {
  const summary = lines.find((l) => /^(Unable to connect to the server|The connection to the server)/.test(l)) ?? lines[0]
  // Only client-go log lines: their err="..." says what happened.
  const reason = summary ?? /err="((?:[^"\\]|\\.)*)"/.exec(text)?.[1]?.replaceAll('\\"', '"') ?? 'no answer'
  // A create or apply without --server-side first downloads the API's schema to validate against: kubectl then
  // wraps the failure in its advice to turn validation off, which is no advice for an API server that is down.
  const validating = /failed to download openapi: Get "[^"]*": (.*?)(?:; if you choose to ignore these errors.*)?$/.exec(reason)
  if (validating) return validating[1] as string
  return reason
    .replace(/^error: /i, '')
    .replace(/^no objects passed to \w+ (?=unexpected error when reading)/, '')
    .replace(/^Unable to connect to the server: /, '')
    .replace(/ - did you specify the right host or port\?$/, '')
    .replace(/^The connection/, 'the connection')
}
