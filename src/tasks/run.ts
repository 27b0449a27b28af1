import {deployFirst, environmentInCommand, unknownServiceError, withFlag} from '../config/environment.js'

import {connect, type KubectlFactory, openEnvironment} from '../env/connect.js'
import {parseDuration} from '../duration.js'
import {InterruptedError, SkycapError, TimeoutError, UserError} from '../errors.js'
import {buildJob, containerImage as imageOf, deleteJobs, JOB_LABELS, type JobOutcome, jobName, podTemplateOf, runJob, shownCommand} from '../hooks/job.js'
import {acquireLock, keepLockAlive, LEASE_SECONDS, releaseOwnLock} from '../lock/lease.js'
import {prepareRelease} from '../render/prepare.js'
import {isDeployOrRollback, lastGood, listReleases, unsucceededAfter} from '../release/store.js'
import type {Reporter} from '../ui/output.js'
import {nodeCrypto} from '../builtins.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import {checkImages} from '../registry/images.js'
import {reportContact} from '../kubectl/outage.js'

export interface RunTaskOptions {
  service: string
  /** The command: the words after SERVICE (`leading`), then those after `--`. */
  command: string[]
  /** The words between SERVICE and `--`, already at the start of `command`. */
  leading?: string[]
  environment?: string
  configPath?: string
  /** Run with the images of this revision (the deployed release's config and env). */
  rev?: string
  /** -t: stdin and a terminal (a console). */
  tty?: boolean
  /** -i: stdin; with a terminal on stdin, a console (as -t); from a pipe or a file, fed to the command. */
  stdin?: boolean
  /** Leave the Job and its pod behind (for `kubectl logs`). */
  keep?: boolean
  /** Hold the environment's deploy lock while it runs. */
  lock?: boolean
  /** How long the command may run, e.g. 30m (default 1h). */
  timeout?: string
}

export interface RunTaskDeps {
  kubectl: KubectlFactory
  reporter: Reporter
  /** Where the command's output goes. */
  out: NodeJS.WritableStream
  /** Whether skycap's stdin is a terminal (`--tty` needs one). */
  terminal: boolean
  /** Whether skycap's stdin brings input (a file, or a pipe outside CI): without -i it is not passed on, and said so. */
  pipedStdin?: boolean
  signal?: AbortSignal
  clock?: () => number
  intervalMs?: number
  /** Told the Job once it is about to be created, with the command that deletes it (for a quit that cannot wait). */
  onJob?: (job: string, deleteCommand: string) => void
}

export interface RunTaskResult {
  environment: string
  service: string
  job: string
  pod: string | null
  /** The release whose pod template ran the command. */
  release: number
  image: string
  /** The command's exit code: skycap exits with it. */
  exitCode: number
  kept: boolean
}

export const DEFAULT_RUN_TIMEOUT_MS = 60 * 60_000

/**
 * `skycap run SERVICE -- COMMAND`: a one-off Job from the service's pod template at the deployed release (or with
 * the images of --rev), its output streamed, its exit code returned, the Job removed afterwards unless `keep`.
 */
export async function runTask(options: RunTaskOptions, deps: RunTaskDeps): Promise<RunTaskResult> {
  const clock = deps.clock ?? Date.now
  const {loaded, env} = await openEnvironment({configPath: options.configPath, environment: options.environment, revisionFlag: '--rev', envFlagOnly: true})
  const app = loaded.config.app
  // A service the work tree's skycap.yaml lacks may still be the deployed release's (removed since), or --rev's: the
  // release (or the revision's skycap.yaml) decides, below; said as unknown when neither has it.
  const unknown = env.services[options.service] ? undefined : unknownServiceError(loaded, options.service, 'skycap run SERVICE', withFlag(options.environment))
  if (unknown && Object.hasOwn(loaded.config.environments, options.service)) throw unknown
  const misplaced = environmentInCommand(loaded, options.service, options.leading ?? [], options.command.slice((options.leading ?? []).length), 'run')
  if (misplaced) throw misplaced
  if (options.command.length === 0) throw new UserError('no command given', {hint: `Put it after --: skycap run ${options.service} -- bin/rails db:migrate`})
  if (options.tty && !deps.terminal) throw new UserError('--tty needs a terminal on stdin', {hint: 'Run it from an interactive shell; -i alone passes piped input.'})
  const onTerminal = Boolean(options.tty || (options.stdin && deps.terminal))
  const feed = Boolean(options.stdin && !onTerminal)
  if (deps.pipedStdin && !options.stdin) deps.reporter.warn(`stdin is not passed to the command without -i (skycap run ${options.service} -i -- …)`)
  const timeoutMs = options.timeout !== undefined ? await parseDuration(options.timeout, '--timeout') : DEFAULT_RUN_TIMEOUT_MS
  const image =
    options.rev !== undefined ? (await prepareRelease({target: `${env.name}@${options.rev}`, configPath: options.configPath, services: [options.service]})).images[options.service] : undefined
  if (image !== undefined) {
    // The image of --rev, asked of its registry as deploy asks: a missing one was a Job whose pod failed with
    // ErrImagePull (exit 1, "could not run"). A registry that cannot answer leaves it to the cluster.
    const [check] = await checkImages([image])
    if (check?.state === 'missing') {
      throw new UserError(`the image of ${options.service} at ${options.rev} does not exist: ${image}; nothing was run`, {
        hint: `Build and push it first: skycap build ${env.name}@${options.rev} (or has CI built it?).`,
      })
    }
  }
  const {kubectl} = await connect(env, deps.kubectl, deps.reporter)
  const releases = await listReleases(kubectl, app, env.name)
  const release = lastGood(releases)
  if (!release && unknown && options.rev === undefined) throw unknown
  // Releases that did not succeed may run all the same (a first deploy whose postdeploy hook failed is not rolled
  // back, there being nothing to go back to): said as such, not "nothing is deployed".
  if (!release && releases.some((r) => isDeployOrRollback(r.record)))
    throw new UserError(`no release of ${app} in ${env.name} has succeeded yet: run uses the pod template of the newest successful release`, {
      hint: `\`skycap history ${env.name}\` shows why the releases failed; deploy one that succeeds (${deployFirst(env.name)}).`,
    })
  if (!release) throw new UserError(`nothing of ${app} is deployed to ${env.name} yet: run uses the deployed release's pod template`, {hint: `Deploy first: ${deployFirst(env.name)}`})
  // A newer deploy or rollback that did not succeed (interrupted, failed without a rollback) may be what runs: the
  // pod template is the last successful release's all the same, said (it was silent).
  const newer = unsucceededAfter(releases, release.record.number)
  if (newer)
    deps.reporter.warn(
      `run uses the pod template of release ${release.record.number} (${release.record.revision?.short ?? '?'}), the newest that succeeded; release ${newer.number}, after it, ${newer.result === 'interrupted' ? 'was interrupted' : newer.result}, and what runs may be that one's`,
    )
  const manifests = await release.manifests()
  // A service added to skycap.yaml since: said as such, not as a service that "renders no Deployment".
  if (!(options.service in (release.record.images ?? {})) && !manifests.some((o) => o.kind === 'Deployment' && o.metadata.name === options.service)) {
    if (unknown && options.rev === undefined) throw unknown
    throw new UserError(`${options.service} is not in release ${release.record.number}, the one deployed to ${env.name}: run uses the deployed release's pod template`, {
      hint: `Deploy it first (${deployFirst(env.name)}); \`skycap history ${env.name}\` shows what was deployed.`,
    })
  }
  const template = podTemplateOf(manifests, options.service)
  const name = jobName(app, env.name, 'run', options.service, nodeCrypto().randomBytes(3).toString('hex'))
  const job = buildJob({
    name,
    template,
    service: options.service,
    command: options.command,
    image,
    timeoutMs,
    tty: onTerminal,
    stdin: feed,
    labels: {[JOB_LABELS.of]: app, [JOB_LABELS.environment]: env.name, [JOB_LABELS.kind]: 'run', [JOB_LABELS.release]: String(release.record.number)},
  })
  const containerImage = imageOf(job)
  const lock = options.lock
    ? await acquireLock(kubectl, {
        app,
        environment: env.name,
        reason: `skycap run ${options.service} -- ${options.command.join(' ')}`.slice(0, 200),
        durationSeconds: LEASE_SECONDS,
        signal: deps.signal,
        waitFlag: false,
      })
    : undefined
  const heartbeat = lock ? keepLockAlive(kubectl, app, lock.id, {onLost: () => deps.reporter.warn(`the lock of ${env.name} is no longer held by this run`)}) : undefined
  deps.reporter.info(`Running ${shownCommand(options.command)} in ${options.service} (release ${release.record.number}, ${containerImage}) as job ${name}`)
  deps.onJob?.(name, kubectl.shown(`delete job ${name}`))
  try {
    const outcome = await runJob(kubectl, job, {
      deadline: clock() + timeoutMs,
      clock,
      signal: deps.signal,
      intervalMs: deps.intervalMs,
      onContact: (event) => reportContact(deps.reporter, event),
      ...(onTerminal
        ? {
            attach: async (pod: string, container: string) => {
              await kubectl.attached(['attach', pod, '-c', container, '-i', '-t'])
            },
          }
        : {onOutput: (chunk: Buffer) => deps.out.write(chunk)}),
      // The output comes from the logs, whole; the attach only carries stdin (its copy of the output is dropped).
      ...(feed ? {feed: (pod: string, container: string) => feedStdin(kubectl, pod, container, deps)} : {}),
    })
    if (outcome.exitCode === undefined) {
      const where = `${shownCommand(options.command)} in ${options.service} (job ${name})`
      // Without --keep the Job goes below (its pod and the command with it); with --keep nothing stops it.
      if (outcome.result === 'interrupted')
        throw options.keep
          ? new InterruptedError(`interrupted; ${where} goes on running in the cluster (--keep leaves its Job), up to its --timeout`, {
              hint: `Follow it with \`${kubectl.shown(`logs -f job/${name}`)}\`, or stop it with \`${kubectl.shown(`delete job ${name}`)}\`.`,
            })
          : new InterruptedError(`interrupted; ${where} was stopped`)
      if (outcome.result === 'timed-out') {
        // runJob's own clock says "did not finish in time (…)"; the cluster's deadline says why in its words.
        const why = outcome.message.replace(/^did not finish in time ?/, '').replace(/^\((.*)\)$/, '$1')
        throw new TimeoutError(`${where} did not finish within --timeout ${options.timeout ?? '1h'}${why ? ` (${why})` : ''}`, {hint: 'Raise --timeout for a long task.'})
      }
      throw new SkycapError(`${where} could not run: ${outcome.message}`, {hint: couldNotRunHint(kubectl, outcome.cause, {job: name, image: containerImage, keep: options.keep ?? false})})
    }
    return {
      environment: env.name,
      service: options.service,
      job: name,
      pod: outcome.pod ?? null,
      release: release.record.number,
      image: containerImage,
      exitCode: outcome.exitCode,
      kept: options.keep ?? false,
    }
  } finally {
    if (!options.keep) await deleteJobs(kubectl, [name])
    heartbeat?.stop()
    if (lock) await releaseOwnLock(kubectl, app, lock.id, (m) => deps.reporter.warn(m))
  }
}

/** What to do next when a run's command could not run (`cause`: runJob's), for a Job that `keep` keeps or not. */
export function couldNotRunHint(kubectl: Kubectl, cause: JobOutcome['cause'], run: {job: string; image: string; keep: boolean}): string {
  if (cause === 'deleted') return `Its Job went while the command ran, with its output and exit code; find out what deleted it (\`${kubectl.shown('get events')}\`), and run it again.`
  if (cause === 'image') return `The node cannot pull ${run.image}: push it (skycap build), or fix the registry credentials (imagePullSecrets), and run it again.`
  if (cause === 'start') return `The command is not in ${run.image}, or not executable there: check its name, or give its full path.`
  // Without --keep the Job is deleted as the run ends, its events with it: the hint named a Job that was gone.
  return run.keep
    ? `\`${kubectl.shown(`describe job ${run.job}`)}\` shows its events (--keep kept the Job).`
    : `Its Job is deleted: run it again with --keep to keep the Job, then \`${kubectl.shown('describe job <name>')}\` (the name it prints) shows its events.`
}

/** `kubectl attach -i` for the input alone; a refusal (no `pods/attach` right, say) is a warning: the Job runs on. */
async function feedStdin(kubectl: Kubectl, pod: string, container: string, deps: RunTaskDeps): Promise<void> {
  const r = await kubectl.attached(['attach', pod, '-c', container, '-i', '-q'], {inputOnly: true, ...(deps.signal ? {signal: deps.signal} : {})})
  const why = r.stderr.trimEnd().split('\n').at(-1) ?? ''
  if (r.exitCode !== 0 && /^(error|Error from server)/.test(why)) deps.reporter.warn(`stdin could not be passed to the command: ${why}`)
}
