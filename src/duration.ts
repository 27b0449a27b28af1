import {UserError} from './errors.js'

/** Parses "90s", "5m", "1h30m" into milliseconds with parse-duration; `what` names the flag or key in errors. */
export async function parseDuration(text: string, what = 'duration'): Promise<number> {
  const {default: parse} = await import('parse-duration')
  const ms = (parse as unknown as (s: string) => number | null | undefined)(text)
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw new UserError(`${what} "${text}" is not a duration`, {hint: 'Write it like 90s, 5m or 1h30m.'})
  }
  return ms
}
