import type {QuitOutcome} from '../src/release/quit-at-once.js'

/**
 * A second Ctrl-C quits before the first one's clean-up: once the apply has begun, the release runs without a record
 * (history and `rollback` do not know it), which the general note did not say.
 */
export const DEPLOY_QUIT_NOTE = (done?: QuitOutcome) => `what the first signal was undoing is left as it is: ${quitNote(done)}`

/** What a quit at once did before it quit: the release's record (written, or the deploy's waited for) and the lock. */
export function quitNote(done?: QuitOutcome): string {
  const unrecorded = 'it may run unrecorded (`skycap history` lacks it; `skycap status` shows what runs, and the next deploy records what it applies)'
  const lockLeft = 'a lock this command took expires within about a minute'
  if (done?.cutShort) return `the release's record and the lock's release were cut short (${done.cutShort}): if the release was applied, ${unrecorded}, and ${lockLeft}`
  const record = done?.record
  const recorded =
    record === undefined
      ? 'the release was not applied'
      : record.recorded
        ? `release ${record.number} is recorded${record.interrupted ? ' as interrupted' : ''} (\`skycap history\`; \`skycap status\` shows what runs)`
        : `the release's record was not written (${record.reason}): ${unrecorded}`
  const lock = done?.lockReleased === undefined ? '' : done.lockReleased ? ', and the lock was released' : `, and ${lockLeft}`
  return `${recorded}${lock}`
}
