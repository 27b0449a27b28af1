import type {RequestReport, ResumeReport, RolloutStatusReport} from '../strategies/control.js'

/** `skycap rollout status`: one line per service (strategy, phase, slots or weight and step) and the lock. */
export function rolloutStatusLines(r: RolloutStatusReport, now = Date.now()): string {
  const lines = Object.entries(r.services).map(([name, s]) => {
    // A deploy under way whose canary has not started: the last canary is an older release's, said as such.
    if (s.phase === 'pending') {
      const last = s.last ? `; the last canary was release ${s.last.release ?? '?'}'s, ${s.last.phase}${s.last.phase === 'completed' ? '' : ` at ${canaryStep(s.last)}`}` : ''
      return `${name}: canary pending, release ${s.release ?? '?'} deploying (by ${s.startedBy} since ${s.startedAt}); ${s.message ?? ''}${last}${s.request ? `; ${s.request} requested` : ''}`
    }
    const where =
      s.type === 'blueGreen'
        ? `active slot ${s.activeSlot}${!s.previousSlot ? '' : s.phase === 'progressing' ? `, ${s.previousSlot} coming up (not serving)` : `, previous ${s.previousSlot} ${s.scaledDown ? 'scaled to 0' : keptUntil(s.scaleDownAt, now, r)}`}`
        : canaryStopped(s.phase)
          ? s.message?.startsWith('not started')
            ? ''
            : `stopped at ${canaryStep(s)}, ${s.promoting ? `while ${name} took the release (${s.runsNow ? `rolled back since: ${name} runs ${s.runsNow.slice(0, 7)}` : 'it runs it'})` : 'all traffic on stable'}`
          : `weight ${s.weight ?? 0}%, ${canaryStep(s)}${s.pausedUntil ? ` (paused until ${s.pausedUntil})` : ''}`
    // An abort under way (a `skycap abort`, a failed step) reads as `progressing` until stable is back: say so.
    const aborting = s.aborting
      ? `; aborting, all traffic going back to stable (${s.aborting.message})`
      : s.promoting && (s.phase === 'progressing' || s.phase === 'paused')
        ? `; promoting: ${name} is taking the release (too late to abort; \`skycap rollout resume\` finishes it if nobody runs it)`
        : ''
    return `${name}: ${s.type} ${s.phase}, release ${s.release ?? '?'}${where ? `, ${where}` : ''}${aborting}${s.request ? `; ${s.request} requested` : ''}${s.message ? `; ${s.message}` : ''}${s.selected ? `\n  warning: ${s.selected.note}` : ''}`
  })
  if (!lines.length) lines.push(`${r.environment} has no blue-green or canary rollout on record${r.deploying ? ` (release ${r.deploying.release} is being deployed)` : ''}`)
  lines.push(r.lock ? `lock held by ${r.lock.holder} (${r.lock.reason})${r.lock.expired ? ', expired' : ''}` : 'lock free')
  return lines.join('\n')
}

/**
 * `kept until T` for an old blue-green slot whose scale-down waits; once T is past with the lock free, no deploy is
 * going to scale it down (one interrupted in its `scaleDownDelay`): said as left up, with the command that ends it
 * (it read "kept until" a time already past).
 */
function keptUntil(at: string | undefined, now: number, r: RolloutStatusReport): string {
  const due = at === undefined ? Number.NaN : Date.parse(at)
  if (r.lock || !(due < now)) return `kept until ${at}`
  return `left up since ${at}, its scale-down not done (\`skycap rollout resume ${r.environment}\` or the next deploy scales it to 0)`
}

/**
 * A canary aborted or failed (or never started) has no weight in force: its traffic went back to stable. Shown as
 * `weight 0%, step 2/3`, it read as a canary still at step 2 that takes none.
 */
export function canaryStopped(phase: string): boolean {
  return phase === 'aborted' || phase === 'failed'
}

/** `step 2/3`: the step a canary is at (or stopped at), counted from 1. */
export function canaryStep(s: {step?: number; steps?: number}): string {
  return `step ${Math.min((s.step ?? 0) + 1, s.steps ?? 0)}/${s.steps ?? 0}`
}

export function resumeLine(r: ResumeReport): string {
  const done = r.resumed.length ? `finished the canary of ${r.resumed.join(', ')} (release ${r.release ?? '?'})` : `nothing to resume in ${r.environment}`
  return `${done}${r.scaledDown.length ? `; scaled ${r.scaledDown.join(', ')} to 0` : ''}`
}

export function requestLine(r: RequestReport): string {
  return `${r.action === 'promote' ? 'promoted' : 'aborted'} ${r.services.join(', ')} in ${r.environment} (${r.handledBy === 'this command' ? 'done by this command' : `done by ${r.handledBy}`})`
}
