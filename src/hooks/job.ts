import {InterruptedError, KubectlError, UserError} from '../errors.js'
import {callTimeout, type ContactEvent, OutageWait, POLL_CALL_MS} from '../kubectl/outage.js'
import type {Kubectl, StreamingProcess} from '../kubectl/kubectl.js'
import type {KubeObject} from '../render/objects.js'
import {SLOT_LABEL} from '../strategies/strategy.js'
import {explainBackOffs} from '../resources/pull-events.js'
import {IMAGE_PROBLEMS, NOT_STARTED, podProblem, podWaitReason, PullErrors, startErrorMessage} from '../resources/status.js'
import {abortableSleep, waitAtMost} from '../sleep.js'
import {nodeCrypto} from '../builtins.js'
import {shellWord} from '../ui/shell-word.js'

/**
 * Labels of the Jobs skycap runs beside a release (hooks, `skycap run`). Not the app's labels: a hook pod must not
 * join the Service's endpoints, show up in `skycap logs`, or be pruned as an object the release no longer renders.
 */
export const JOB_LABELS = {
  of: 'skycap.dev/job-of',
  environment: 'skycap.dev/environment',
  kind: 'skycap.dev/job-kind',
  name: 'skycap.dev/job',
  release: 'skycap.dev/release',
  hook: 'skycap.dev/hook',
} as const

interface Container {
  name: string
  image?: string
  command?: string[]
  args?: string[]
  env?: Array<{name: string; value?: string}>
  [key: string]: unknown
}

/** The part of a Deployment a Job is made from. */
export interface PodTemplate {
  metadata?: {labels?: Record<string, string>; annotations?: Record<string, string>}
  spec: {containers: Container[]; restartPolicy?: string; [key: string]: unknown}
}

export interface JobSpec {
  /** The Job's name (a DNS label: see jobName). */
  name: string
  /** The service's pod template, as the release renders it. */
  template: PodTemplate
  /** The container that runs the command (default: the one named after the service, else the first). */
  service: string
  command: string[]
  env?: Record<string, string | number | boolean>
  /** Replaces the container's image (`run --rev`). */
  image?: string
  timeoutMs: number
  labels: Record<string, string>
  /** stdin and a terminal for `run -it`. */
  tty?: boolean
  /** stdin without a terminal, for `run -i` fed from a pipe or a file. */
  stdin?: boolean
}

/** The pod template of the service's Deployment among rendered (or recorded) objects. */
export function podTemplateOf(objects: KubeObject[], service: string): PodTemplate {
  // A recorded release of a blue-green service has its slot's Deployment (web-blue), not one named after the service:
  // `skycap run web` of such a release said web renders no Deployment. The slot its Service selects, if both are there.
  const slots = objects.filter((o) => o.kind === 'Deployment' && (o.metadata.name === `${service}-blue` || o.metadata.name === `${service}-green`) && o.metadata.labels?.[SLOT_LABEL])
  const selected = (objects.find((o) => o.kind === 'Service' && o.metadata.name === service)?.spec as {selector?: Record<string, string>} | undefined)?.selector?.[SLOT_LABEL]
  const deployment =
    objects.find((o) => o.kind === 'Deployment' && o.metadata.name === service) ?? slots.find((o) => o.metadata.labels?.[SLOT_LABEL] === selected) ?? (slots.length === 1 ? slots[0] : undefined)
  const template = (deployment?.spec as {template?: PodTemplate} | undefined)?.template
  if (!template?.spec?.containers?.length)
    throw new UserError(`service ${service} renders no Deployment with a container to run a command in`, {hint: 'Hooks and run use the pod template of the Deployment named after the service.'})
  return template
}

/**
 * A Job name of at most 63 characters (its pods carry it as a label value): the parts joined, the front cut and a
 * hash of the whole added when too long, so two names never collide.
 */
export function jobName(...parts: string[]): string {
  const full = parts.join('-')
  if (full.length <= 63) return full
  const hash = nodeCrypto().createHash('sha256').update(full).digest('hex').slice(0, 8)
  return `${full.slice(0, 54).replace(/-+$/, '')}-${hash}`
}

/**
 * A Job running `command` in the service's container of `template`: same image, env, envFrom, volumes and resources;
 * no probes or lifecycle (a one-off command is never "ready"), never restarted, stopped by the cluster at the timeout.
 */
export function buildJob(spec: JobSpec): KubeObject {
  const containers = spec.template.spec.containers
  const main = containers.find((c) => c.name === spec.service) ?? (containers[0] as Container)
  const extraEnv = Object.entries(spec.env ?? {}).map(([name, value]) => ({name, value: String(value)}))
  const env = [...(main.env ?? []).filter((e) => !(spec.env && e.name in spec.env)), ...extraEnv]
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const {readinessProbe, livenessProbe, startupProbe, lifecycle, ports, args, ...kept} = main
  const container: Container = {...kept, command: spec.command, ...(env.length ? {env} : {}), ...(spec.image ? {image: spec.image} : {})}
  if (spec.tty) Object.assign(container, {stdin: true, stdinOnce: true, tty: true})
  else if (spec.stdin) Object.assign(container, {stdin: true, stdinOnce: true})
  const labels = {...spec.labels, [JOB_LABELS.name]: spec.name}
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {name: spec.name, labels},
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: Math.max(1, Math.ceil(spec.timeoutMs / 1000)),
      template: {
        metadata: {labels, ...(spec.template.metadata?.annotations ? {annotations: spec.template.metadata.annotations} : {})},
        spec: {...spec.template.spec, containers: [container], restartPolicy: 'Never'},
      },
    },
  }
}

/** The image a Job built by buildJob runs. */
export function containerImage(job: KubeObject): string {
  return (job.spec as {template: PodTemplate}).template.spec.containers[0]?.image ?? ''
}

/** Of a command shown on one line, at most this many characters. */
const SHOWN_COMMAND_CHARS = 200

/**
 * A command for a progress line: its words joined, cut at SHOWN_COMMAND_CHARS with how much was left out (a hook
 * with 1,500 long arguments printed 315 KB on its "Running" line). The Job runs it whole.
 */
export function shownCommand(command: string[]): string {
  // Each argument as a shell would read it back: `(/app exit 3 == 2026 AddUsers: migrating …)` could not be told from
  // separate words.
  const text = command.map(shellWord).join(' ')
  if (text.length <= SHOWN_COMMAND_CHARS) return text
  return `${text.slice(0, SHOWN_COMMAND_CHARS)}… (${text.length - SHOWN_COMMAND_CHARS} more characters)`
}

/** How a Job ended. */
export interface JobOutcome {
  job: string
  result: 'succeeded' | 'failed' | 'timed-out' | 'interrupted'
  /** The command's exit code, when it ran to an end. */
  exitCode?: number
  /** One sentence: why it failed. */
  message: string
  /** The pod that ran it. */
  pod?: string
  /** The API server refused the Job: nothing ran. */
  refused?: boolean
  /**
   * Why it failed, when it was not the command: `deleted` (the Job went while it ran: no output or exit code will
   * come), `image` (the node cannot pull the image: the command never ran), `creating` (a Ctrl-C stopped the
   * Job's create: it may or may not exist), `start` (the runtime could not start the command: not in the image, not
   * executable). The hints differ.
   */
  cause?: 'deleted' | 'image' | 'creating' | 'start'
}

export interface RunJobOptions {
  /** Called with the container's output as it comes (from `kubectl logs -f`). */
  onOutput?: (chunk: Buffer) => void
  /** Extra `kubectl logs` flags (e.g. --timestamps for a filtered stream). */
  logFlags?: string[]
  /** When the pod runs, instead of following its logs: attach to it (run -it). */
  attach?: (pod: string, container: string) => Promise<void>
  /** When the pod runs, beside following its logs: pass skycap's stdin to it (run -i from a pipe). */
  feed?: (pod: string, container: string) => Promise<void>
  deadline: number
  clock?: () => number
  signal?: AbortSignal
  intervalMs?: number
  /**
   * A Job the API server refuses to create (a ResourceQuota, an admission policy, RBAC) as a failed outcome with
   * `refused` instead of the kubectl error (hooks: a failed hook). Only the create: what fails later stays an error.
   */
  refusalIsOutcome?: boolean
  /** Told when the API server stops answering while the Job runs, and when it answers again (OutageWait). */
  onContact?: (event: ContactEvent) => void
}

interface LivePod extends KubeObject {
  status?: {
    phase?: string
    containerStatuses?: Array<{name: string; state?: {running?: object; terminated?: {exitCode?: number; reason?: string; message?: string; finishedAt?: string}}}>
  }
}

/**
 * Creates the Job and follows it to its end: its output streamed once the container has started, its exit code
 * read from the pod. A Job of that name left by an interrupted run of the same release is replaced.
 */
export async function runJob(given: Kubectl, job: KubeObject, options: RunJobOptions): Promise<JobOutcome> {
  // The poll below waits out an outage itself, poll by poll (OutageWait).
  const kubectl = given.atOnce()
  const clock = options.clock ?? Date.now
  const name = job.metadata.name
  const input = JSON.stringify(job)
  const create = () =>
    kubectl.run(['create', '-f', '-'], {input, idempotent: false}).catch((error: unknown) => {
      if (!(options.refusalIsOutcome && error instanceof KubectlError && (error.kind === 'forbidden' || error.kind === 'invalid'))) throw error
      const why = error.stderr.split('\n').find((l) => l.trim() !== '') ?? error.message
      return {job: name, result: 'failed', message: `the API server refused its Job: ${why.trim()}`, refused: true} satisfies JobOutcome
    })
  let created
  try {
    try {
      created = await create()
    } catch (error) {
      if (!(error instanceof KubectlError) || error.kind !== 'already_exists') throw error
      await kubectl.run(['delete', 'job', name, '--ignore-not-found', '--wait=true'])
      created = await create()
    }
  } catch (error) {
    // A Ctrl-C that stopped the create (the terminal signals the whole group): an interruption like one seen while
    // following the Job, which the deploy records; it escaped as an error and no release was recorded. The request
    // may have reached the API server, so the Job may run.
    if (error instanceof InterruptedError || options.signal?.aborted)
      return {job: name, result: 'interrupted', message: `interrupted while its job ${name} was being created (it may have been, and then runs on)`, cause: 'creating'}
    throw error
  }
  if ('refused' in created) return created
  const container = ((job.spec as {template: PodTemplate}).template.spec.containers[0] as Container).name
  let stream: StreamingProcess | undefined
  let attached: Promise<void> | undefined
  let fed: Promise<void> | undefined
  let streamEnded: Promise<unknown> | undefined
  let pod: LivePod | undefined
  const outcome = (result: JobOutcome['result'], message: string, exitCode?: number, cause?: JobOutcome['cause']): JobOutcome => ({
    job: name,
    result,
    message,
    ...(exitCode === undefined ? {} : {exitCode}),
    ...(pod ? {pod: pod.metadata.name} : {}),
    ...(cause ? {cause} : {}),
  })
  // Polls in a row that did not find the Job (created above): someone deleted it (kubectl delete job, the namespace).
  let gone = 0
  // What the pod's last pull failed of: its back-off that follows does not say (PullErrors).
  const pulls = new PullErrors()
  // The Job runs on while the API server does not answer: waited for, until the deadline.
  const outage = new OutageWait({deadline: options.deadline, clock, intervalMs: options.intervalMs ?? 1000, signal: options.signal, onContact: options.onContact})
  try {
    for (;;) {
      if (options.signal?.aborted) return outcome('interrupted', `interrupted; job ${name} was stopped`)
      let list: {items: LivePod[]}
      const polledAt = clock()
      try {
        list = await kubectl.json<{items: LivePod[]}>(['get', 'jobs,pods', '-l', `${JOB_LABELS.name}=${name}`], {signal: options.signal, timeoutMs: callTimeout(options.deadline, clock, POLL_CALL_MS)})
        await explainBackOffs(kubectl, pulls, list.items, options.signal)
      } catch (error) {
        // A Ctrl-C that stopped this poll's kubectl (the terminal signals the whole group): the same interruption as
        // one seen between two polls, not an error of its own (`run --keep` said "kubectl was stopped").
        if (error instanceof InterruptedError || options.signal?.aborted) return outcome('interrupted', `interrupted; job ${name} was stopped`)
        await outage.failed(error, polledAt)
        continue
      }
      outage.answered()
      pulls.observe(list.items)
      const live = list.items.find((o) => o.kind === 'Job') as (KubeObject & {status?: {conditions?: Array<{type: string; status: string; reason?: string; message?: string}>}}) | undefined
      // Its pod went with it, so no exit code will come: this waited until the timeout (10m for a hook, 1h for run)
      // and then said "did not finish in time".
      gone = live ? 0 : gone + 1
      const newest = list.items.filter((o) => o.kind === 'Pod').sort((a, b) => String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)))[0]
      pod = newest ?? pod
      // The deletion also stops the pod: a process that exits at once on SIGTERM can be seen terminated (the server's
      // exit 2) in the very poll that first misses the Job, and that exit code was reported as the command's.
      if (gone >= 2 || ((!live || live.metadata.deletionTimestamp) && newest && killedByDeletion(newest, container))) {
        return outcome('failed', `job ${name} was deleted before its command finished (kubectl delete, or its namespace's deletion); its exit code is unknown`, undefined, 'deleted')
      }
      const state = pod?.status?.containerStatuses?.find((c) => c.name === container)?.state
      if (pod && (state?.running || state?.terminated) && !stream && !attached) {
        if (options.attach && state.running) attached = options.attach(pod.metadata.name, container)
        else if (options.onOutput) {
          stream = kubectl.spawn(['logs', pod.metadata.name, '-c', container, '--follow', ...(options.logFlags ?? [])])
          stream.stdout.on('data', (chunk: Buffer) => options.onOutput?.(chunk))
          // The end of its stdout, not the process's exit: the last chunks may still be on their way then.
          const {stdout} = stream
          streamEnded = new Promise((resolve) => stdout.once('end', resolve))
          if (options.feed && state.running) fed = options.feed(pod.metadata.name, container)
        }
      }
      const terminated = state?.terminated
      const conditions = live?.status?.conditions ?? []
      // The Job's deadline stopped the pod: its process died of the kubelet's SIGTERM, and its exit code (2 for a Go
      // program, 143 for a shell) is not the command's answer. Kubernetes 1.31+ sets FailureTarget first, Failed later.
      const deadline = conditions.find((c) => (c.type === 'Failed' || c.type === 'FailureTarget') && c.status === 'True' && c.reason === 'DeadlineExceeded')
      if (deadline) {
        if (terminated) await waitAtMost(attached ?? Promise.all([streamEnded, fed]), 10_000, options.signal)
        return outcome('timed-out', `${deadline.message ?? 'the Job ran past its deadline'}${neverStarted(pod, container)}`)
      }
      if (terminated && (pod?.status?.phase === 'Succeeded' || pod?.status?.phase === 'Failed')) {
        await waitAtMost(attached ?? Promise.all([streamEnded, fed]), 10_000, options.signal)
        if (terminated.reason && NOT_STARTED.has(terminated.reason))
          return outcome('failed', `the command could not start (${terminated.reason}): ${startErrorMessage(terminated.message)}`, undefined, 'start')
        const code = terminated.exitCode ?? -1
        return code === 0 ? outcome('succeeded', 'exited 0', 0) : outcome('failed', `exited ${code}${terminated.reason && terminated.reason !== 'Error' ? ` (${terminated.reason})` : ''}`, code)
      }
      const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True')
      if (failed) return outcome('failed', failed.message ?? failed.reason ?? 'the Job failed')
      const problem = pod ? podProblem(pod) : undefined
      if (problem) return outcome('failed', problem.message, undefined, problem.reason && IMAGE_PROBLEMS.has(problem.reason) ? 'image' : undefined)
      if (clock() > options.deadline) return outcome('timed-out', `did not finish in time${neverStarted(pod, container)}`)
      await abortableSleep(options.intervalMs ?? 1000, options.signal)
    }
  } finally {
    stream?.kill()
  }
}

/**
 * A pod being deleted whose command ended once the deletion began (timestamps have whole seconds: the same second
 * counts as after). A command that had ended before (a Job deleted after its end) keeps its exit code. The pod's
 * deletionTimestamp is when its grace period ends (the deletion's time plus deletionGracePeriodSeconds, 30 s by
 * default), not when the deletion was asked for.
 */
function killedByDeletion(pod: LivePod, container: string): boolean {
  const deleted = pod.metadata.deletionTimestamp
  const terminated = pod.status?.containerStatuses?.find((c) => c.name === container)?.state?.terminated
  if (typeof deleted !== 'string' || !terminated) return false
  const began = Date.parse(deleted) - (Number(pod.metadata.deletionGracePeriodSeconds) || 0) * 1000
  return terminated.finishedAt === undefined || Date.parse(terminated.finishedAt) >= began
}

/**
 * Why the command never ran, for a timeout: no pod, or a pod whose container never started (not scheduled, still
 * being created); '' once it ran. A timeout with no output said only "Job was active longer than specified deadline".
 */
function neverStarted(pod: LivePod | undefined, container: string): string {
  if (!pod) return ' (no pod was started)'
  const status = pod.status?.containerStatuses?.find((c) => c.name === container) as {state?: {running?: object; terminated?: object; waiting?: {reason?: string}}} | undefined
  if (status?.state?.running || status?.state?.terminated) return ''
  const why = podWaitReason(pod) ?? (status?.state?.waiting?.reason ? `container ${container} is ${status.state.waiting.reason}` : `pod ${pod.metadata.name} is ${pod.status?.phase ?? 'Pending'}`)
  return ` (the command never started: ${why})`
}

/** Deletes Jobs (and their pods) by name, without waiting. */
export async function deleteJobs(kubectl: Kubectl, names: string[]): Promise<void> {
  if (names.length) await kubectl.run(['delete', 'jobs', ...names, '--ignore-not-found', '--wait=false', '--cascade=background'], {allowFailure: true})
}
