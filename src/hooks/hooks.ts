import type {Environment, HookConfig, SkycapConfig} from '../config/types.js'
import {parseDuration} from '../duration.js'
import {DeployFailedError, HookRunningError, InterruptedError} from '../errors.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import {LogChunkProcessor} from '../logs/chunks.js'
import {configuredExcludes} from '../logs/filter.js'
import type {KubeObject} from '../render/objects.js'
import type {HookRecord, ReleaseRecord} from '../release/store.js'
import type {Reporter} from '../ui/output.js'
import type {FailureReport} from '../deploy/explain.js'
import {buildJob, containerImage, deleteJobs, JOB_LABELS, type JobOutcome, jobName, podTemplateOf, runJob, shownCommand} from './job.js'
import {reportContact} from '../kubectl/outage.js'

export type HookPhase = 'predeploy' | 'postdeploy'

/** A hook checked before anything changes: its timeout parsed, its service's pod template found. */
export interface PlannedHook {
  phase: HookPhase
  hook: HookConfig
  timeoutMs: number
}

export const DEFAULT_HOOK_TIMEOUT_MS = 10 * 60_000
/** Hook Jobs of this many newest releases stay for their logs (`kubectl logs job/<name>`); older ones are deleted. */
export const KEEP_HOOK_RELEASES = 3
/** Lines of a failed hook's output kept for the report. */
const LAST_LINES = 25

/** The environment's hooks, validated against the rendered objects; none with --skip-hooks. */
export async function planHooks(env: Environment, objects: KubeObject[], skip: boolean): Promise<PlannedHook[]> {
  if (skip) return []
  const out: PlannedHook[] = []
  for (const phase of ['predeploy', 'postdeploy'] as const) {
    for (const [i, hook] of env.hooks[phase].entries()) {
      podTemplateOf(objects, hook.service)
      const timeoutMs = hook.timeout === undefined ? DEFAULT_HOOK_TIMEOUT_MS : await parseDuration(hook.timeout, `hooks.${phase}[${i}].timeout`)
      out.push({phase, hook, timeoutMs})
    }
  }
  return out
}

export interface HookContext {
  kubectl: Kubectl
  app: string
  environment: string
  release: number
  objects: KubeObject[]
  config: SkycapConfig
  reporter: Reporter
  signal?: AbortSignal
  clock?: () => number
  intervalMs?: number
  /**
   * The deploy's own deadline (its --timeout, counted from the release's start), which a hook does not outlive: it
   * ran on to its own timeout (10 m by default) under `deploy --timeout 20s`. `timeout` names it in messages.
   */
  deadline?: {at: number; timeout: string}
  /** No release of the environment succeeded before this one: a failed predeploy hook leaves no running release. */
  first?: boolean
  /** The environment's hook Jobs as the deploy read them under its lock (the cleanup need not list them again). */
  hookJobs?: HookJob[]
  /** A hook's Job runs (its name), or ended (undefined); one a Ctrl-C left running is not said to have ended. */
  onJob?: (job: string | undefined) => void
}

/** What a quit at once (a second Ctrl-C) leaves while hook Job `job` runs (the deploy command adds what became of the record). */
export function hookLeftRunningNote(job: string): string {
  return `hook job ${job} goes on running in the cluster; \`skycap status\` shows the hook, and a deploy is refused while it runs`
}

/** A hook that failed: its record and the report a deploy shows (its last output lines). */
export class HookFailedError extends DeployFailedError {
  constructor(
    readonly failure: FailureReport,
    message: string,
    hint: string,
    jsonHint?: string,
    /** Ctrl-C during the hook: the release is recorded as interrupted, not failed. */
    readonly interrupted = false,
    /** The deploy's --timeout ran out during the hook (exit 70, as a rollout that ran out of time). */
    readonly deployTimedOut = false,
  ) {
    super(message, {hint, jsonHint})
  }
}

/** Runs one deploy's hooks phase by phase and remembers what they did for the release record. */
export class DeployHooks {
  readonly records: HookRecord[] = []
  private cleaned = false
  /** Whether the last hook that failed ran out of the deploy's time (its --timeout), not of its own. */
  deployTimedOut = false
  /** Set when a Ctrl-C ended the phase: with the Job it left (maybe) running, none when it came before any Job. */
  interrupted?: {job?: string}
  /** Why the last hook failed when it was not its command (JobOutcome.cause), and the image it ran. */
  private lastFailure: {cause?: JobOutcome['cause']; image: string; neverStarted?: string; refused?: boolean} = {image: ''}

  constructor(
    private readonly planned: PlannedHook[],
    private readonly context: HookContext,
    private readonly skipped: boolean,
  ) {}

  /** The names of the hooks planned for `phase`, in order. */
  names(phase: HookPhase): string[] {
    return this.planned.filter((p) => p.phase === phase).map((p) => p.hook.name)
  }

  /** What the release record says about hooks. */
  recordFields(): Pick<ReleaseRecord, 'hooks' | 'skipHooks'> {
    return {...(this.records.length ? {hooks: this.records} : {}), ...(this.skipped ? {skipHooks: true} : {})}
  }

  /** The predeploy hooks, in order; throws HookFailedError at the first that fails (the workloads are not applied). */
  async predeploy(): Promise<void> {
    const failure = await this.run('predeploy')
    if (failure) {
      const job = this.records.at(-1)?.job
      const shown = (args: string) => this.context.kubectl.shown(args)
      // A first deploy has no running release to leave untouched.
      const untouched = this.context.first ? `no release of ${this.context.environment} has succeeded before it` : 'the running release is untouched'
      if (this.interrupted) {
        // Its config is not put back after a Ctrl-C (the deploy names what differs): its workloads are what is untouched.
        const workloads = this.context.first ? untouched : "the running release's workloads are untouched"
        const hook = failure.ref.slice('hook/'.length)
        const left = this.interrupted.job
        throw new HookFailedError(
          failure,
          `predeploy hook ${hook} was interrupted: ${failure.message}; release ${this.context.release} was not rolled out (${workloads})`,
          left
            ? `\`${shown(`logs -f job/${left}`)}\` follows the hook to its end; deploy again once it is done (a deploy before then is refused, exit 3, rather than run the hook a second time beside it).`
            : 'No hook ran; deploy again.',
          undefined,
          true,
        )
      }
      const message = `predeploy hook ${failure.ref.slice('hook/'.length)} failed (${failure.message}); release ${this.context.release} was not rolled out (${untouched})`
      if (this.deployTimedOut && this.lastFailure.neverStarted) {
        // More time does not help a pod that cannot be scheduled, and the next deploy waited for the Job to end.
        const hint = `Fix what keeps its pod from starting (\`${shown(`describe pods -l job-name=${job}`)}\`), delete the job (\`${shown(`delete job ${job}`)}\`: a deploy is refused while it runs), and deploy again.`
        throw new HookFailedError(failure, message, hint, hint, false, true)
      }
      if (this.deployTimedOut) {
        const hint = `Give the deploy more time (--timeout, or deploy.timeout in skycap.yaml: it counts the hooks too), and deploy again once the job is done (\`${shown(`logs -f job/${job}`)}\` follows it).`
        throw new HookFailedError(failure, message, hint, hint, false, true)
      }
      const skip = '--skip-hooks deploys without hooks.'
      const {cause, image, refused} = this.lastFailure
      // The Job was never made (a Role without create on jobs, a Job the API server finds invalid): there is no job to
      // describe and nothing wrong with the command, as the hint said.
      if (refused) {
        const hint = /forbidden/i.test(failure.message)
          ? `Your user may not create Jobs in the namespace, which hooks run as: ask a cluster admin for create on jobs (docs/rbac.md), or deploy with --skip-hooks.`
          : `Fix the hook in skycap.yaml so the API server takes its Job (the message says what it refused), and deploy again; ${skip}`
        throw new HookFailedError(failure, message, hint, hint)
      }
      // Neither is the command's fault, and the Job's logs have nothing to say: the hint says what is.
      if (cause === 'deleted') {
        const hint = `Its Job went while the command ran, with its output and exit code; find out what deleted it (\`${shown('get events')}\`), and deploy again. ${skip}`
        throw new HookFailedError(failure, message, hint, hint)
      }
      if (cause === 'image') {
        const hint = `The hook runs in its service's image of this release (${image}), which the node cannot pull: push it (skycap build), or fix the registry credentials (imagePullSecrets), and deploy again. ${skip}`
        throw new HookFailedError(failure, message, hint, hint)
      }
      const next =
        this.records.at(-1)?.result === 'timed-out'
          ? `raise the hook's timeout in skycap.yaml (\`timeout:\`, default 10m) if it needs longer, or fix what held it up, and deploy again; ${skip}`
          : `fix the command or the code, and deploy again; ${skip}`
      // The Job's deadline deletes its pod, and the pod's logs with it: `kubectl logs job/…` finds nothing then.
      const all = this.records.at(-1)?.result === 'timed-out' ? 'its pod went at the deadline, with its logs' : `\`${shown(`logs job/${job}`)}\` for all of it`
      throw new HookFailedError(
        failure,
        message,
        failure.logs.length
          ? `Read its output above (${all}), ${next}`
          : `It printed nothing; \`${shown(`describe job/${job}`)}\` and its pod's events say why. ${next[0]?.toUpperCase()}${next.slice(1)}`,
        // A hook that printed nothing has no lines there: --json says what text mode says.
        failure.logs.length
          ? `Its last output lines are in details.report.failures[0].logs (${all}); ${next}`
          : `It printed nothing; \`${shown(`describe job/${job}`)}\` and its pod's events say why. ${next[0]?.toUpperCase()}${next.slice(1)}`,
      )
    }
  }

  /** The postdeploy hooks, in order; the failure of the first that fails (the deploy then rolls back). */
  async postdeploy(): Promise<FailureReport | undefined> {
    return this.run('postdeploy')
  }

  private async run(phase: HookPhase): Promise<FailureReport | undefined> {
    const hooks = this.planned.filter((p) => p.phase === phase)
    if (hooks.length === 0) return undefined
    const ctx = this.context
    const clock = ctx.clock ?? Date.now
    if (!this.cleaned) {
      try {
        await cleanupHookJobs(ctx.kubectl, ctx.app, ctx.environment, ctx.release, ctx.hookJobs)
      } catch (error) {
        // Ctrl-C before the first hook's Job was made: nothing ran; an interruption the deploy records as such (it
        // escaped as an error, and no release was recorded).
        if (!(error instanceof InterruptedError || ctx.signal?.aborted)) throw error
        this.interrupted = {}
        return {ref: `hook/${(hooks[0] as PlannedHook).hook.name}`, message: 'interrupted before it started (no job was created)', events: [], logs: []}
      }
    }
    this.cleaned = true
    for (const {hook, timeoutMs} of hooks) {
      const started = clock()
      const name = jobName(ctx.app, ctx.environment, hook.name, String(ctx.release))
      const job = buildJob({
        name,
        template: podTemplateOf(ctx.objects, hook.service),
        service: hook.service,
        command: hook.command,
        env: hook.env,
        timeoutMs,
        labels: {[JOB_LABELS.of]: ctx.app, [JOB_LABELS.environment]: ctx.environment, [JOB_LABELS.kind]: 'hook', [JOB_LABELS.hook]: hook.name, [JOB_LABELS.release]: String(ctx.release)},
      })
      ctx.reporter.info(`Running ${phase} hook ${hook.name} (${shownCommand(hook.command)}) as job ${name}`)
      const processor = new LogChunkProcessor(
        {configured: configuredExcludes(ctx.config, [hook.service]), exclude: [], grep: []},
        {service: hook.service, pod: hook.name, container: hook.service},
        {colour: false, showContainer: false, timestamps: false, json: false},
      )
      const last: string[] = []
      let partial = ''
      // Shown with the hook's name in front; kept without it, as a rollout's failure keeps its pods' lines (--json
      // had "migrate │ …" in one and the bare line in the other).
      const prefix = `${hook.name} │ `
      const show = (text: Buffer | undefined) => {
        if (!text) return
        const lines = (partial + text.toString('utf8')).split('\n')
        partial = lines.pop() ?? ''
        for (const line of lines) {
          ctx.reporter.info(line)
          last.push(line.startsWith(prefix) ? line.slice(prefix.length) : line)
          if (last.length > LAST_LINES) last.shift()
        }
      }
      const deployFirst = ctx.deadline !== undefined && ctx.deadline.at < started + timeoutMs
      ctx.onJob?.(name)
      const outcome = await runJob(ctx.kubectl, job, {
        onOutput: (chunk) => show(processor.pushBytes(chunk)),
        logFlags: ['--timestamps'],
        deadline: deployFirst ? (ctx.deadline?.at as number) : started + timeoutMs,
        clock,
        signal: ctx.signal,
        intervalMs: ctx.intervalMs,
        // A Job the API server refuses (a ResourceQuota, an admission policy, RBAC): the hook did not run, so it
        // failed, and the deploy goes on as for any failed hook (predeploy: recorded, nothing rolled out; postdeploy:
        // rolled back and recorded). Anything else (the cluster unreachable, Ctrl-C) stays the error it was.
        refusalIsOutcome: true,
        onContact: (event) => reportContact(ctx.reporter, event),
      })
      show(processor.flushBytes())
      show(partial ? Buffer.from('\n') : undefined)
      const record: HookRecord = {
        name: hook.name,
        phase,
        result: outcome.result,
        durationMs: clock() - started,
        job: name,
        ...(outcome.exitCode === undefined ? {} : {exitCode: outcome.exitCode}),
        ...(outcome.refused ? {refused: true} : {}),
      }
      this.records.push(record)
      if (outcome.result === 'interrupted') this.interrupted = {job: name}
      else ctx.onJob?.(undefined)
      // The Job's own deadline (activeDeadlineSeconds) is the hook's timeout: it stopped the pod if it was first.
      this.deployTimedOut = outcome.result === 'timed-out' && deployFirst && !/deadline/i.test(outcome.message)
      // Why its command never ran (a pod never scheduled), when it did not: the deploy's timeout said only that.
      const never = /\(the command never started: (.*)\)$/s.exec(outcome.message)?.[1]
      this.lastFailure = {...(outcome.cause ? {cause: outcome.cause} : {}), image: containerImage(job), ...(never ? {neverStarted: never} : {}), ...(outcome.refused ? {refused: true} : {})}
      if (outcome.result === 'succeeded') {
        ctx.reporter.info(`${phase} hook ${hook.name} succeeded (${Math.round(record.durationMs / 1000)}s)`)
        continue
      }
      // The failed Job stays for its logs, until later releases push it out. Ctrl-C leaves the Job running: a
      // migration is left to finish (or reach its timeout) rather than be killed half-way.
      return {
        ref: `hook/${hook.name}`,
        message:
          outcome.result === 'interrupted'
            ? outcome.cause === 'creating'
              ? outcome.message
              : `skycap stopped following it; its job ${name} was not stopped and goes on running`
            : this.deployTimedOut
              ? `did not finish within the deploy's ${ctx.deadline?.timeout}${this.lastFailure.neverStarted ? ` (the command never started: ${this.lastFailure.neverStarted})` : ''}; its job ${name} goes on ${this.lastFailure.neverStarted ? 'waiting' : 'running'} up to the hook's own timeout of ${hook.timeout ?? '10m'}`
              : outcome.result === 'timed-out'
                ? timedOut(hook.timeout, outcome.message)
                : outcome.message,
        events: [],
        logs: last.length ? [{pod: outcome.pod ?? name, container: hook.service, previous: false, lines: last, hidden: processor.hidden}] : [],
      }
    }
    return undefined
  }
}

/**
 * A hook that ran past its `timeout`, named as such: the Job deadline's own words ("Job was active longer than
 * specified deadline") did not say which limit it was, and the hint said to fix the command.
 */
function timedOut(timeout: string | undefined, why: string): string {
  const detail = why.replace(/^(did not finish in time|Job was active longer than specified deadline) ?/, '').replace(/^\((.*)\)$/, '$1')
  return `did not finish within its timeout of ${timeout ?? '10m'}${detail ? ` (${detail})` : ''}`
}

/** A hook Job of an earlier deploy that has not finished: a Ctrl-C left it running (Ctrl-C never stops a hook). */
export interface RunningHook {
  job: string
  hook: string
  release: number
  startedAt?: string
}

export type HookJob = KubeObject & {status?: {conditions?: Array<{type: string; status: string}>; startTime?: string}}

/** Whether a Job has not ended yet: no Complete or Failed condition, and not being deleted. */
const unfinished = (job: HookJob): boolean => !job.metadata.deletionTimestamp && !(job.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')

/** The app's hook Jobs in the environment (one get). */
async function listHookJobs(kubectl: Kubectl, app: string, environment: string): Promise<HookJob[]> {
  return (await kubectl.json<{items: HookJob[]}>(['get', 'jobs', '-l', `${JOB_LABELS.of}=${app},${JOB_LABELS.environment}=${environment},${JOB_LABELS.kind}=hook`])).items
}

/** The app's hook Jobs in the environment that have not ended, oldest release first. */
export async function runningHooks(kubectl: Kubectl, app: string, environment: string): Promise<RunningHook[]> {
  return runningOf(await listHookJobs(kubectl, app, environment))
}

function runningOf(jobs: HookJob[]): RunningHook[] {
  return jobs
    .filter(unfinished)
    .map((j) => ({
      job: j.metadata.name,
      hook: j.metadata.labels?.[JOB_LABELS.hook] ?? j.metadata.name,
      release: Number(j.metadata.labels?.[JOB_LABELS.release]),
      ...(j.status?.startTime ? {startedAt: j.status.startTime} : {}),
    }))
    .sort((a, b) => a.release - b.release)
}

/**
 * Refuses a deploy that would run hooks while a hook of an earlier deploy still runs (exit 3, as a held lock): a
 * deploy Ctrl-C'd during its migration (or out of --timeout) leaves that Job running, and the next deploy ran the
 * migration a second time beside it. A deploy that runs no hooks (--skip-hooks, or none configured now) is not
 * refused, but warned, naming the Job (`quiet`: not warned, for the second look under the lock).
 */
export async function refuseBesideRunningHooks(
  kubectl: Kubectl,
  app: string,
  environment: string,
  options: {skipHooks: boolean; hasHooks: boolean; reporter: Reporter; quiet?: boolean; releases?: Array<{record: ReleaseRecord}>},
): Promise<HookJob[] | undefined> {
  // A deploy that runs no hooks only warns, and only a hook its recent releases left running can be there to warn
  // of: without one, no kubectl call (every deploy of an app without hooks made one).
  const runsHooks = options.hasHooks && !options.skipHooks
  if (!runsHooks && options.releases && !options.releases.slice(0, KEEP_HOOK_RELEASES + 2).some((r) => r.record.hooks?.some((h) => h.result === 'interrupted' || h.result === 'timed-out')))
    return undefined
  // Returned: read under the lock, the list serves the cleanup of old hook Jobs too (HookContext.hookJobs).
  const jobs = await listHookJobs(kubectl, app, environment)
  const running = runningOf(jobs)
  if (running.length === 0) return jobs
  const shown = running.map((r) => `${r.hook} of release ${r.release} (job ${r.job}${r.startedAt ? `, started ${r.startedAt}` : ''})`).join(', ')
  const first = running[0] as RunningHook
  const one = running.length === 1
  if (options.skipHooks || !options.hasHooks) {
    if (!options.quiet)
      options.reporter.warn(
        `${one ? 'hook' : 'hooks'} ${shown} ${one ? 'is' : 'are'} still running (an earlier deploy left ${one ? 'it' : 'them'} to finish); this deploy runs no hooks (${options.skipHooks ? '--skip-hooks' : 'none configured'}) and rolls out beside ${one ? 'it' : 'them'}`,
      )
    return jobs
  }
  throw new HookRunningError(
    `${one ? 'hook' : 'hooks'} ${shown} ${one ? 'is' : 'are'} still running: an earlier deploy of ${environment} (interrupted, or out of time) left ${one ? 'it' : 'them'} to finish, and this deploy would run its hooks again beside ${one ? 'it' : 'them'}; nothing was changed`,
    {
      hint: `Wait for it to end (\`${kubectl.shown(`logs -f job/${first.job}`)}\` follows it) or stop it (\`${kubectl.shown(`delete job ${running.map((r) => r.job).join(' ')}`)}\`), then deploy again; --skip-hooks deploys now without running hooks.`,
      details: {running},
    },
  )
}

/**
 * Deletes the hook Jobs of releases older than the newest KEEP_HOOK_RELEASES before `release` (one list, one delete;
 * `listed`: the list the deploy read under its lock, which spares the get).
 */
export async function cleanupHookJobs(kubectl: Kubectl, app: string, environment: string, release: number, listed?: HookJob[]): Promise<string[]> {
  const jobs = listed ?? (await listHookJobs(kubectl, app, environment))
  // A Job still running (a migration a Ctrl-C left to finish, as hooks.md promises) is kept until it ends.
  const old = jobs.filter((j) => Number(j.metadata.labels?.[JOB_LABELS.release]) <= release - KEEP_HOOK_RELEASES && !unfinished(j)).map((j) => j.metadata.name)
  await deleteJobs(kubectl, old)
  return old
}

/**
 * What a rollback cannot undo, in one sentence: the hooks the releases being left behind ran (a migration stays
 * migrated), and those that failed, said as failed (with their exit code when known: they were listed as if they
 * ran, a migration that exited 3 among them). Undefined when they ran none.
 */
export function hooksNotUndone(left: ReleaseRecord[]): string | undefined {
  const hooks = left.flatMap((r) =>
    (r.hooks ?? []).filter((h) => (h.result === 'succeeded' || h.result === 'failed' || h.result === 'interrupted' || h.result === 'timed-out') && !h.refused).map((h) => ({r, h})),
  )
  // An interrupted hook's Job was left running (Ctrl-C does not stop it): it may well have finished its migration.
  const ran = hooks
    .filter(({h}) => h.result !== 'failed')
    .map(
      ({r, h}) =>
        `${h.name} (release ${r.number}${h.result === 'interrupted' ? ', left running when its deploy was interrupted' : h.result === 'timed-out' ? ', stopped at its timeout, maybe half-way' : ''})`,
    )
  const failed = hooks
    .filter(({h}) => h.result === 'failed')
    .map(({r, h}) =>
      h.exitCode === undefined
        ? `${h.name} (release ${r.number}, failed: what it did before failing, if anything, stays)`
        : `${h.name} (release ${r.number}, failed with exit code ${h.exitCode}: what it did before failing stays)`,
    )
  if (ran.length + failed.length === 0) return undefined
  const said = [...(ran.length ? [`${ran.join(', ')} ran and what ${ran.length === 1 ? 'it' : 'they'} changed (a migration, say) stays as it is`] : []), ...failed]
  return `hooks are not undone by a rollback: ${said.join('; ')}`
}

/**
 * The automatic rollback's sentence: the hooks of every release it leaves behind (those after release `to`, and the
 * failed one), not only the failed one's: a migration an interrupted release in between left running stays migrated
 * too (a manual rollback named them all; the automatic one named the failed release's only).
 */
export function hooksNotUndoneBy(to: number, earlier: Array<{record: ReleaseRecord}>, failed: ReleaseRecord): string | undefined {
  return hooksNotUndone([...earlier.filter((r) => r.record.number > to && r.record.number !== failed.number).map((r) => r.record), failed].sort((a, b) => a.number - b.number))
}
