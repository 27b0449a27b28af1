import type {Environment} from '../config/types.js'
import {parseDuration} from '../duration.js'
import {InterruptedError, TimeoutError} from '../errors.js'
import {ciJobUrl, whoAmI} from '../identity.js'
import type {Reporter} from '../ui/output.js'
import type {DeployEvent, EventFacts, NotifyEventName} from './event.js'
import {githubTarget} from './github.js'
import {gitlabTarget} from './gitlab.js'
import {redact} from '../redact.js'
import {NotifyRequestError, type Send, sender} from './request.js'
import {slackTarget} from './slack.js'
import {webhookTarget} from './webhook.js'

/** One place notifications go (Slack, a webhook, GitHub or GitLab deployments). */
export interface NotifyTarget {
  readonly name: 'slack' | 'webhook' | 'github' | 'gitlab'
  /** Values no message may show: its URL, tokens, header values. */
  readonly secrets: string[]
  send(event: DeployEvent, send: Send): Promise<void>
}

/** A target, or why it cannot be used in this run (a variable that is not set). */
export type TargetSetup = {target: NotifyTarget; warning?: undefined} | {warning: string; target?: undefined}

/** A notification that did not go out (also in the --json report's `notifications`). */
export interface NotifyWarning {
  target: NotifyTarget['name']
  event?: NotifyEventName
  message: string
}

export const DEFAULT_NOTIFY_TIMEOUT_MS = 10_000

/**
 * Sends a deploy's or rollback's events to its environment's targets. `send` returns at once: each target gets its
 * events in order, all targets at the same time, while the deploy goes on. `settle` waits for what is still on its
 * way, at most the time limit, so a slow or dead endpoint delays the command by its timeout at most. A failure is a
 * warning, never an error.
 */
export interface Notifier {
  send(facts: EventFacts): void
  /** The command stopped on `error`: a release that was started and got no end yet is notified as failed. */
  failUnfinished(error: unknown): void
  /**
   * Waits for the events sent, at most the timeout from now, and no longer once `signal` aborts (a Ctrl-C or a
   * cancelled CI job while a successful deploy waited for a slow endpoint: it sat out the whole timeout, and a second
   * signal then failed the deploy); returns the warnings of the whole run. A signal that came before the wait began
   * (the command stopped on it) does not cut the wait: its failed event still goes out.
   */
  settle(signal?: AbortSignal): Promise<NotifyWarning[]>
}

export interface NotifierOptions {
  app: string
  reporter: Reporter
  fetch?: typeof fetch
  env?: NodeJS.ProcessEnv
  clock?: () => number
  /** The git remote origin's URL (notify.github's repository when neither skycap.yaml nor GITHUB_REPOSITORY names it). */
  remoteUrl?: () => Promise<string | undefined>
  /** The signal of a wait of `ms` (each request's time limit, settle's): tests count and end them; real timers otherwise. */
  timeout?: (ms: number) => AbortSignal
}

/** The notifier of environment `env` (its notify: merged over the app's); one that does nothing when none is configured. */
export async function openNotifier(env: Environment, options: NotifierOptions): Promise<Notifier> {
  const config = env.notify ?? {}
  const vars = options.env ?? process.env
  const named: Array<[NotifyTarget['name'], TargetSetup | undefined]> = [
    ['slack', config.slack ? slackTarget(config.slack, vars) : undefined],
    ['webhook', config.webhook ? webhookTarget(config.webhook, vars) : undefined],
    ['github', config.github && (await githubTarget(config.github, vars, env.protected, options.remoteUrl))],
    ['gitlab', config.gitlab && gitlabTarget(config.gitlab, vars)],
  ]
  const setups = named.flatMap(([name, s]) => (s ? [{name, ...s}] : []))
  const warnings: NotifyWarning[] = []
  const warn = (w: NotifyWarning) => {
    warnings.push(w)
    options.reporter.warn(w.message)
  }
  // A target left out (its variable unset, say): named, with no event (none was tried).
  for (const s of setups) if (s.warning) warn({target: s.name, message: s.warning})
  const targets = setups.flatMap((s) => (s.target ? [s.target] : []))
  const timeoutMs = config.timeout ? await parseDuration(config.timeout, 'notify.timeout') : DEFAULT_NOTIFY_TIMEOUT_MS
  const stop = new AbortController()
  const chains = new Map(targets.map((t) => [t, Promise.resolve()]))
  const sends = new Map(targets.map((t) => [t, sender({fetch: options.fetch ?? fetch, timeoutMs, signal: stop.signal, secrets: t.secrets, timeout: options.timeout})]))
  const clock = options.clock ?? Date.now
  const base = {app: options.app, environment: env.name, user: whoAmI(vars), url: ciJobUrl(vars) ?? null, environmentUrl: config.environmentUrl ?? null}
  /** Releases started and not ended. */
  const open = new Map<number, EventFacts>()

  const notifier: Notifier = {
    send(facts) {
      const event: DeployEvent = {...facts, ...base, timestamp: new Date(clock()).toISOString()}
      if (facts.event === 'started') open.set(facts.release, facts)
      else open.delete(facts.release)
      for (const [target, chain] of chains) {
        const send = sends.get(target) as Send
        const next = chain.then(() =>
          target.send(event, send).catch((error: unknown) => {
            // The sender redacted its own messages, the host left readable; anything else is redacted here.
            const why = error instanceof NotifyRequestError ? error.message : redact((error as Error).message, target.secrets)
            // Unanswered in time is not undelivered: the server may have the request and be slow to answer it.
            const outcome = /no answer (within|yet)/.test(why) ? 'may not have been delivered' : 'was not delivered'
            warn({
              target: target.name,
              event: event.event,
              message: `notify.${target.name}: the ${event.event} event of release ${event.release} ${outcome} (${why}); the ${event.action} is not affected`,
            })
          }),
        )
        chains.set(target, next)
      }
    },
    failUnfinished(error) {
      const result = error instanceof InterruptedError ? 'interrupted' : error instanceof TimeoutError ? 'timed-out' : 'failed'
      for (const started of [...open.values()]) notifier.send({...started, event: 'failed', result, reason: (error as Error).message.split('\n')[0] ?? ''})
    },
    async settle(signal) {
      const deadline = options.timeout?.(timeoutMs)
      deadline?.addEventListener('abort', () => stop.abort())
      // A real timer keeps the process alive until the deadline (AbortSignal.timeout's does not).
      const timer = deadline ? undefined : setTimeout(() => stop.abort(), timeoutMs)
      const interrupted = () => stop.abort('skycap stopped waiting for notifications when interrupted (Ctrl-C or a signal)')
      const waited = signal?.aborted ? undefined : signal
      waited?.addEventListener('abort', interrupted, {once: true})
      await Promise.all(chains.values())
      waited?.removeEventListener('abort', interrupted)
      clearTimeout(timer)
      return warnings
    },
  }
  return notifier
}
