import {environmentInCommand, unknownServiceError, withFlag} from '../config/environment.js'
import {connect, type KubectlFactory, openEnvironment} from '../env/connect.js'
import type {AttachedOutput} from '../kubectl/kubectl.js'
import {SkycapError, UserError} from '../errors.js'
import {startErrorMessage} from '../resources/status.js'
import type {Reporter} from '../ui/output.js'
import {shownCommand} from '../hooks/job.js'
import {choosePodObject, runningContainers} from './pods.js'

export interface ExecOptions {
  service: string
  /** The command: the words after SERVICE (`leading`), then those after `--`. */
  command: string[]
  /** The words between SERVICE and `--`, already at the start of `command`. */
  leading?: string[]
  environment?: string
  configPath?: string
  /** A pod of the service (default: its oldest ready pod). */
  pod?: string
  /** A container of that pod (default: the service's own, named after it). */
  container?: string
  /** Pass stdin through (-i). */
  stdin?: boolean
  /** Allocate a terminal (-t). */
  tty?: boolean
  /** --json: the command's output goes to stderr, stdout carries the one JSON document. */
  json?: boolean
}

export interface ExecResult {
  environment: string
  service: string
  pod: string
  container: string
  /** The command's exit code: skycap exits with it. */
  exitCode: number
}

/** `skycap exec SERVICE -- COMMAND`: runs the command in a running pod of the service, on this terminal. */
export async function execInService(
  options: ExecOptions,
  deps: {
    kubectl: KubectlFactory
    reporter: Reporter
    terminal: boolean
    /** Whether skycap's stdin brings input (a file, or a pipe outside CI): without -i it is not passed on, and said so. */
    pipedStdin?: boolean
    /**
     * Where the command's output goes when not straight to skycap's stdout and stderr (under GitHub Actions: streams
     * that stop workflow commands in it, as `run` and `logs` do). Not with -t: a terminal is handed over whole.
     */
    output?: AttachedOutput
  },
): Promise<ExecResult> {
  const {loaded, env} = await openEnvironment({configPath: options.configPath, environment: options.environment, repository: false, envFlagOnly: true})
  const app = loaded.config.app
  // A service dropped from the work tree's skycap.yaml may still run (deployed before): its pods decide, below.
  const unknown = env.services[options.service] ? undefined : unknownServiceError(loaded, options.service, 'skycap exec SERVICE', withFlag(options.environment))
  if (unknown && Object.hasOwn(loaded.config.environments, options.service)) throw unknown
  const misplaced = environmentInCommand(loaded, options.service, options.leading ?? [], options.command.slice((options.leading ?? []).length), 'exec')
  if (misplaced) throw misplaced
  if (options.command.length === 0) throw new UserError('no command given', {hint: `Put it after --: skycap exec ${options.service} -- bin/console`})
  if (options.tty && !deps.terminal) throw new UserError('--tty needs a terminal on stdin', {hint: 'Run it from an interactive shell, or drop -t.'})
  // `skycap exec db -- psql < dump.sql` without -i: kubectl exec reads nothing, and the command ran without its input.
  if (deps.pipedStdin && !options.stdin) deps.reporter.warn(`stdin is not passed to the command without -i (skycap exec ${options.service} -i -- …)`)
  const {kubectl} = await connect(env, deps.kubectl, deps.reporter)
  const chosen = await choosePodObject(kubectl, app, env.name, options.service, {wanted: options.pod, unknown})
  const pod = chosen.metadata.name
  const container = options.container ?? options.service
  const containers = runningContainers(chosen)
  // kubectl says only "container x is not valid for pod y" (or, with the default, nothing of which exist).
  if (!containers.includes(container)) {
    throw new UserError(`container "${container}" is not in pod ${pod} of ${options.service} (${env.name})`, {
      hint: `Its containers: ${containers.join(', ') || 'none'}; choose one with -c${options.container === undefined ? ' (the default is the one named after the service)' : ''}.`,
    })
  }
  const where = container === options.service ? '' : ` (container ${container})`
  deps.reporter.info(`Running ${shownCommand(options.command)} in pod ${pod}${where} of ${options.service} (${env.name})`)
  const r = await kubectl.attached(['exec', pod, '-c', container, ...(options.stdin ? ['-i'] : []), ...(options.tty ? ['-t'] : []), '--', ...options.command], {
    stdoutToStderr: options.json ?? false,
    teeStderr: true,
    // kubectl's raw error is said once, in skycap's error below, which quotes its cause.
    hideError: (line) => execStartFailure(line) !== undefined,
    ...(deps.output && !options.tty ? {output: deps.output} : {}),
  })
  const notStarted = r.exitCode !== 0 ? execStartFailure(r.stderr) : undefined
  if (notStarted)
    throw new SkycapError(`${options.command[0]} in pod ${pod}${where} of ${options.service} (${env.name}) could not run: ${notStarted}`, {
      hint: `The command is not in ${container === options.service ? `${options.service}'s image` : `container ${container}'s image`}, or not executable there: check its name, or give its full path.`,
    })
  return {environment: env.name, service: options.service, pod, container, exitCode: r.exitCode}
}

/**
 * kubectl's own error when the runtime could not start the command (not in the image, not executable): its exit code
 * (1) is kubectl's, not the command's. kubectl prints it last; a command that ran and failed ends kubectl's stderr
 * with `command terminated with exit code N` instead, whatever the command itself wrote before.
 */
export function execStartFailure(stderr: string): string | undefined {
  const last = stderr.trimEnd().split('\n').at(-1) ?? ''
  const failed = last.startsWith('error: ') && /OCI runtime exec failed|failed to exec in container|executable file not found/.test(last)
  return failed ? startErrorMessage(last) : undefined
}
