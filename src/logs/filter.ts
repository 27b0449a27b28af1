import type {LoadedConfig} from '../config/types.js'
import {UserError} from '../errors.js'

/** Which log lines to show: those matching every --grep and none of the excludes. */
export interface LineFilter {
  /** True when the line is shown. */
  keep(line: string): boolean
  /** How many lines `keep` hid so far. */
  hidden: number
}

export interface FilterSpec {
  /** Patterns from skycap.yaml (logs.exclude, services.<name>.logs.exclude); off with --no-filters. */
  configured: string[]
  /** --exclude */
  exclude: string[]
  /** --grep */
  grep: string[]
}

/** The configured noise filters for some services: app-level plus each service's own. */
export function configuredExcludes(config: LoadedConfig['config'], services: string[]): string[] {
  const out = [...(config.logs?.exclude ?? [])]
  for (const s of services) out.push(...(config.services[s]?.logs?.exclude ?? []))
  return [...new Set(out)]
}

// A capturing group, a backreference or a named group: combining such patterns into one alternation would
// renumber `\1` or duplicate a group name (a SyntaxError), so they keep a regex of their own.
const GROUPS = /\((?!\?(?::|=|!|<=|<!))|\\[1-9]|\\k</

/** Checks every pattern; `flag` names where it came from in the error. */
function compile(pattern: string, flag: string): RegExp {
  try {
    return new RegExp(pattern)
  } catch (error) {
    throw new UserError(`${flag} "${pattern}" is not a valid regular expression: ${(error as Error).message}`, {hint: 'Patterns use JavaScript regular expression syntax.'})
  }
}

/**
 * Exclude patterns as few regexes as possible: one alternation for all (a single test per line, however many
 * patterns), plus one each for patterns with groups. Throws a UserError (exit 2) for an invalid pattern.
 */
export function excludeRegexes(patterns: string[], flag = '--exclude'): RegExp[] {
  for (const p of patterns) compile(p, flag)
  const plain = patterns.filter((p) => !GROUPS.test(p))
  const grouped = patterns.filter((p) => GROUPS.test(p))
  return [...(plain.length ? [new RegExp(plain.map((p) => `(?:${p})`).join('|'))] : []), ...grouped.map((p) => new RegExp(p))]
}

/** Builds the filter; --grep patterns must all match (each is its own regex). */
export function lineFilter(spec: FilterSpec): LineFilter {
  const excludes = excludeRegexes([...spec.configured, ...spec.exclude])
  const greps = spec.grep.map((g) => compile(g, '--grep'))
  const filter: LineFilter = {
    hidden: 0,
    keep(line) {
      if (excludes.some((r) => r.test(line)) || greps.some((g) => !g.test(line))) {
        filter.hidden++
        return false
      }
      return true
    },
  }
  return filter
}

/**
 * The note on the lines the filters hid, naming which hid them: --grep/--exclude, given on the command line, or
 * skycap.yaml's logs.exclude, the only ones --no-filters shows (it was offered for 77 lines that --grep alone hid).
 */
export function hiddenNote(hidden: number, configured: number, flags: {grep?: string[]; exclude?: string[]}): string | undefined {
  if (hidden === 0) return undefined
  const lines = (n: number) => `${n} line${n === 1 ? '' : 's'}`
  const given = [flags.grep?.length ? '--grep' : '', flags.exclude?.length ? '--exclude' : ''].filter(Boolean).join('/') || 'filters'
  const yaml = "skycap.yaml's logs.exclude"
  if (configured === 0) return `${lines(hidden)} hidden by ${given}`
  if (configured >= hidden) return `${lines(hidden)} hidden by ${yaml} (--no-filters shows them)`
  return `${lines(hidden)} hidden: ${hidden - configured} by ${given}, ${configured} by ${yaml} (--no-filters shows those)`
}
