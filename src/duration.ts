import {UserError} from './errors.js'

/**
 * A duration skycap accepts: one or more `<number><unit>` parts with units h, m and s (`90s`, `5m`, `1h30m`, `1.5h`),
 * greater than zero. Bare numbers are refused (parse-duration reads `10` as 10 ms) and so is `ms`: every duration
 * skycap takes is a deploy, lock or log window, where milliseconds are a typo. Also the skycap.yaml schema's pattern.
 */
export const DURATION_PATTERN = '^(?!(0+(\\.0+)?[hms])+$)([0-9]+(\\.[0-9]+)?[hms])+$'

/** What DURATION_PATTERN allows, in words (error messages and the schema's x-message). */
export const DURATION_RULE = 'a duration greater than zero with a unit (h, m or s), such as 90s, 5m or 1h30m; bare numbers and ms are not accepted'

/** The longest duration skycap waits: Node's timers hold at most 2^31-1 ms (about 24.8 days). */
export const MAX_DURATION_MS = 2_147_483_647

/**
 * The longest look-back (`logs --since`): kubectl parses it as a Go duration, which holds at most 2562047h. No timer
 * holds it, so Node's limit (MAX_DURATION_MS) has nothing to do with it.
 */
export const MAX_LOOKBACK_MS = 2_562_047 * 3_600_000

/**
 * Parses "90s", "5m", "1h30m" into milliseconds; `what` names the flag or key in errors (exit 2). A wait (the
 * default) is at most MAX_DURATION_MS; a look-back (`{lookBack: true}`: how far back logs go) is no wait.
 */
export async function parseDuration(text: string, what = 'duration', {lookBack = false}: {lookBack?: boolean} = {}): Promise<number> {
  const value = text.trim()
  if (!new RegExp(DURATION_PATTERN).test(value)) throw new UserError(`${what} is "${text}" but must be ${DURATION_RULE}`, {hint: durationHint(value)})
  const {default: parse} = await import('parse-duration')
  const ms = (parse as unknown as (s: string) => number | null | undefined)(value)
  // The pattern admits only what parse-duration reads as h/m/s; this guards against a library change.
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms <= 0) throw new UserError(`${what} is "${text}" but must be ${DURATION_RULE}`)
  if (lookBack && ms > MAX_LOOKBACK_MS) throw new UserError(`${what} is "${text}", further back than kubectl reads (at most ${MAX_LOOKBACK_MS / 3_600_000}h)`, {hint: 'Leave it out for all lines.'})
  if (!lookBack && ms > MAX_DURATION_MS) throw new UserError(tooLong(what, text), {hint: 'Write a shorter one, e.g. 1h or 24h.'})
  return ms
}

/** The message for a duration over MAX_DURATION_MS. */
export function tooLong(what: string, text: string): string {
  return `${what} is "${text}", longer than skycap supports (at most ${Math.floor(MAX_DURATION_MS / 3_600_000)}h)`
}

function durationHint(value: string): string {
  if (/^[0-9]+(\.[0-9]+)?$/.test(value) && Number(value) > 0) return `Add a unit: ${value}s for seconds, ${value}m for minutes.`
  if (/^[0-9.]+ms$/.test(value)) return 'Write seconds instead, e.g. 1s.'
  // Zero: a flag's zero is what leaving it out does (no wait), or meaningless (a timeout); a key's, the same.
  if (/^(0+(\.0*)?[hms]?)+$/.test(value)) return 'Leave it out for the default; zero is not a duration here.'
  const days = /^([0-9]+(?:\.[0-9]+)?)(d|w)$/.exec(value)
  if (days) return `Write hours: ${Number(days[1]) * (days[2] === 'd' ? 24 : 168)}h.`
  return 'Write it like 90s, 5m or 1h30m.'
}
