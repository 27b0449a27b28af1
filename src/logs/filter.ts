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

/** One alternation per kind: a single regex test per line, however many patterns there are. */
function combine(patterns: string[], flag: string): RegExp | undefined {
  if (patterns.length === 0) return undefined
  for (const p of patterns) {
    try {
      new RegExp(p)
    } catch (error) {
      throw new UserError(`${flag} "${p}" is not a valid regular expression: ${(error as Error).message}`, {hint: 'Patterns use JavaScript regular expression syntax.'})
    }
  }
  return new RegExp(patterns.map((p) => `(?:${p})`).join('|'))
}

/** Builds the filter; --grep patterns must all match (each is its own regex). */
export function lineFilter(spec: FilterSpec): LineFilter {
  const exclude = combine([...spec.configured, ...spec.exclude], '--exclude')
  const greps = spec.grep.map((g) => combine([g], '--grep') as RegExp)
  const filter: LineFilter = {
    hidden: 0,
    keep(line) {
      if ((exclude && exclude.test(line)) || greps.some((g) => !g.test(line))) {
        filter.hidden++
        return false
      }
      return true
    },
  }
  return filter
}
