import {ApiServerUnreachableError} from '../errors.js'
import {abortableSleep} from '../sleep.js'

/** The API server stopped answering (with kubectl's reason), or answers again after `afterMs` without. */
export type ContactEvent = {lost: true; reason: string} | {lost: false; afterMs: number}

export interface OutageOptions {
  /** Epoch ms after which an API server that does not answer fails the poll loop. */
  deadline: number
  clock: () => number
  /** The poll loop's own interval: the first wait after a failed poll, doubled each time up to 5 s. */
  intervalMs: number
  signal?: AbortSignal
  onContact?: (event: ContactEvent) => void
}

/** The shortest time a kubectl call is given, however near its deadline: one round trip to a server that answers. */
export const MIN_CALL_MS = 2000

/** The longest a poll's kubectl call may take: past it the API server is taken as not answering (said, then waited out). */
export const POLL_CALL_MS = 30_000

/** The time a kubectl call started now may take, to end by `deadline` (at least MIN_CALL_MS; a poll's at most `cap`). */
export function callTimeout(deadline: number, clock: () => number = Date.now, cap = Number.POSITIVE_INFINITY): number {
  return Math.max(MIN_CALL_MS, Math.min(cap, deadline - clock()))
}

/** The longest wait between two polls while the API server does not answer. */
const LOST_POLL_MAX_MS = 5000

/**
 * Lets a poll loop (a rollout watch, a hook's Job) wait out an API server that stops answering, until its deadline,
 * as `kubectl rollout status` does: what was applied goes on in the cluster meanwhile, and giving up at the first
 * refused connection would leave it unwatched, unrecorded and without its rollback.
 */
export class OutageWait {
  private since?: number
  private polls = 0

  constructor(private readonly options: OutageOptions) {}

  /** When the deadline is (epoch ms): a poll's own call ends by it (callTimeout). */
  get deadline(): number {
    return this.options.deadline
  }

  /**
   * A poll failed with `error`. An API server that does not answer is waited for (this sleeps, then the caller polls
   * again); past the deadline, or any other error, is thrown. `startedAt`: when the failed call began, from which the
   * outage counts (a call to a stopped server hangs before it fails: "not answered for 0s" after a 50 s stop).
   */
  async failed(error: unknown, startedAt?: number): Promise<void> {
    if (!(error instanceof ApiServerUnreachableError)) throw error
    const {clock, deadline} = this.options
    if (this.since === undefined) {
      this.since = Math.min(startedAt ?? clock(), clock())
      this.options.onContact?.({lost: true, reason: error.reason})
    }
    if (clock() >= deadline) throw lostUntilDeadline(error, clock() - this.since)
    await abortableSleep(Math.min(this.options.intervalMs * 2 ** this.polls++, LOST_POLL_MAX_MS, Math.max(0, deadline - clock())), this.options.signal)
  }

  /**
   * Calls `first` until the API server answers it, each unanswered call waited for as failed() does; after a call
   * that was cut off, `again` instead (a write made again over what the cut-off one may have left). Once the signal
   * fired, before a call or during the wait after it, the error is thrown as it is, with no call made again: a call
   * that carries no signal (a state write that finishes after a first Ctrl-C) could otherwise hang until kubectl's
   * request timeout, and a Ctrl-C during an outage must end the command (exit 130), not outlast it.
   */
  async untilAnswered<T>(first: () => Promise<T>, again: () => Promise<T> = first): Promise<T> {
    for (let call = first; ; call = again) {
      const startedAt = this.options.clock()
      try {
        const result = await call()
        this.answered()
        return result
      } catch (error) {
        if (this.options.signal?.aborted) throw error
        await this.failed(error, startedAt)
        if (this.options.signal?.aborted) throw error
      }
    }
  }

  /** A poll was answered: says so if the API server had stopped answering. */
  answered(): void {
    if (this.since === undefined) return
    this.options.onContact?.({lost: false, afterMs: this.options.clock() - this.since})
    this.since = undefined
    this.polls = 0
  }
}

/** The API server did not answer again before the deadline: what was applied meanwhile is not known. */
function lostUntilDeadline(error: ApiServerUnreachableError, lostMs: number): ApiServerUnreachableError {
  return new ApiServerUnreachableError(`${error.message}; it has not answered for ${Math.round(lostMs / 1000)}s, and the time is up`, error.reason, {
    hint:
      'What was applied goes on in the cluster without skycap watching it. Once the API server answers, `skycap status` shows what runs; the lock expires on its own within a minute.' +
      (error.hint ? ` ${error.hint}` : ''),
  })
}

/**
 * onContact for several calls that may wait at once (a blue-green switch's services polled together): the first that
 * loses the server says so, and the first answer after it says it answers again; the others are not repeated.
 */
export function sharedContact(onContact: (event: ContactEvent) => void): (event: ContactEvent) => void {
  let lost = false
  return (event) => {
    if (event.lost === lost) return
    lost = event.lost
    onContact(event)
  }
}

/** Says that the API server stopped answering, or answers again, as it happens: a long silence is not a hang. */
export function reportContact(
  reporter: {warn(message: string): void; info(message: string): void},
  event: ContactEvent,
  meanwhile = 'what was applied goes on in the cluster, and skycap keeps asking until its timeout',
): void {
  if (event.lost) reporter.warn(`the API server does not answer (${event.reason}); ${meanwhile}`)
  else reporter.info(`  the API server answers again, after ${Math.max(1, Math.round(event.afterMs / 1000))}s without`)
}
