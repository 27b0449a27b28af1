/**
 * What a quit at once (a second Ctrl-C) still does before the process ends: record the release and release the lock.
 *
 * From the moment a deploy may change the cluster until it records the release, a second Ctrl-C used to end the
 * process at once: the release ran unrecorded, `history` lacked it and `rollback` went back past it (to the release
 * before the one it replaced), and the lock held the environment for up to a minute. The command now asks this guard
 * before it quits (for at most QUIT_WAIT_MS; a third signal quits without waiting): the release is recorded as
 * interrupted, or the deploy's own write of its record, when under way, is waited for; then the lock is released.
 * Only one record is ever written: once a quit has begun its write, the deploy's own write does not start.
 */

/** How long a quit at once waits for the record and the lock (a third signal quits without waiting). */
export const QUIT_WAIT_MS = 5_000

/** What became of the release's record. `interrupted`: the quit wrote it so; otherwise the deploy's own write did. */
export type QuitRecordOutcome = {recorded: true; number: number; interrupted: boolean} | {recorded: false; reason: string}

/** What a quit at once did: the record (absent when there was none to write) and the lock (absent when none was held). */
export interface QuitOutcome {
  record?: QuitRecordOutcome
  lockReleased?: boolean
  /** Not finished within QUIT_WAIT_MS, or cut short by a third signal: `why` says which. */
  cutShort?: string
}

type RecordState = {kind: 'idle'} | {kind: 'armed'; write: () => Promise<number>} | {kind: 'own'; done: Promise<QuitRecordOutcome>} | {kind: 'quitting'; done: Promise<QuitRecordOutcome>}

export class QuitAtOnce {
  private record: RecordState = {kind: 'idle'}
  private lock?: () => Promise<unknown>

  /** From now on a quit records the release with `write` (which returns the number it was recorded as). */
  arm(write: () => Promise<number>): void {
    if (this.record.kind === 'idle' || this.record.kind === 'armed') this.record = {kind: 'armed', write}
  }

  /** The lock this command holds, and how to release it; undefined once the command has released it itself. */
  holdLock(release: (() => Promise<unknown>) | undefined): void {
    this.lock = release
  }

  /**
   * The deploy's own write of its record. A quit that comes during it waits for it; after a quit has begun its own
   * write, this one never starts (it would be a second record of one release) and never settles: the process is
   * about to exit.
   */
  own(write: () => Promise<number>): Promise<number> {
    if (this.record.kind === 'quitting') return new Promise<number>(() => undefined)
    const written = write()
    this.record = {kind: 'own', done: settled(written, false)}
    return written
  }

  /** Called by a quit at once: undefined when there is nothing to do (nothing applied, no lock held). */
  quit(): Promise<QuitOutcome> | undefined {
    const record = this.recordOnQuit()
    const lock = this.lock
    if (record === undefined && lock === undefined) return undefined
    return (async () => {
      const outcome: QuitOutcome = {}
      if (record) outcome.record = await record
      if (lock) {
        outcome.lockReleased = await lock().then(
          () => true,
          () => false,
        )
      }
      return outcome
    })()
  }

  private recordOnQuit(): Promise<QuitRecordOutcome> | undefined {
    switch (this.record.kind) {
      case 'idle':
        return undefined
      case 'armed': {
        const done = settled(this.record.write(), true)
        this.record = {kind: 'quitting', done}
        return done
      }
      default:
        return this.record.done
    }
  }
}

function settled(write: Promise<number>, interrupted: boolean): Promise<QuitRecordOutcome> {
  return write.then(
    (number): QuitRecordOutcome => ({recorded: true, number, interrupted}),
    (error: unknown): QuitRecordOutcome => ({recorded: false, reason: (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? ''}),
  )
}
