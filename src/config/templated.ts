// The values of skycap.yaml that are templates themselves (build.args, imageTag), checked when skycap.yaml is read:
// each gets a few variables, not the manifest templates' ones, and a mistake is reported at the value, not at
// build time inside the string.
import type {Liquid} from 'liquidjs'

import type {SkycapConfig} from './types.js'

/**
 * What a build arg's template is rendered with (src/build/build.ts builds it from this shape): the revision's ids,
 * the full image reference and the tag. No environment: a tag names one image for every environment.
 */
export interface BuildArgsView {
  revision: {sha: string; short: string}
  image: string
  tag: string
}

/** The variables of BuildArgsView, in the order messages list them. */
export const BUILD_ARG_VARIABLES = ['revision.sha', 'revision.short', 'image', 'tag'] as const

/** The variables an imageTag template gets: the fields of the revision (src/vcs/vcs.ts Revision). */
export const IMAGE_TAG_VARIABLES = ['revision.sha', 'revision.short', 'revision.input', 'revision.subject', 'revision.author', 'revision.dirty', 'revision.atHead'] as const

/** One templated value with a problem: its path in skycap.yaml and what is wrong. */
export interface TemplateProblem {
  path: Array<string | number>
  message: string
}

/** A value that has Liquid markup; only these load the template engine. */
function isTemplate(value: unknown): value is string {
  return typeof value === 'string' && (value.includes('{{') || value.includes('{%'))
}

/** The imageTag values of `config` (top level and per environment) with their paths; undefined where none is set. */
export function imageTagValues(config: SkycapConfig): Array<[string[], string | undefined]> {
  return [[['imageTag'], config.imageTag], ...Object.entries(config.environments ?? {}).map(([name, env]): [string[], string | undefined] => [['environments', name, 'imageTag'], env?.imageTag])]
}

/** The templated values of `config` with the variables each gets. */
function templatedValues(config: SkycapConfig): Array<{path: Array<string | number>; text: string; what: string; variables: readonly string[]}> {
  const values: Array<{path: Array<string | number>; text: string; what: string; variables: readonly string[]}> = []
  for (const [path, text] of imageTagValues(config)) if (isTemplate(text)) values.push({path, text, what: 'imageTag', variables: IMAGE_TAG_VARIABLES})
  for (const [service, svc] of Object.entries(config.services ?? {})) {
    for (const [name, text] of Object.entries(svc?.build?.args ?? {})) {
      if (isTemplate(text)) values.push({path: ['services', service, 'build', 'args', name], text, what: 'build args', variables: BUILD_ARG_VARIABLES})
    }
  }
  return values
}

/** `a, b and c`. */
function listed(names: readonly string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`
}

/** The message for a variable a templated value does not get. */
export function undefinedVariableMessage(what: string, variable: string, variables: readonly string[]): string {
  return `template uses undefined variable "${variable}"; ${what} can use ${listed(variables)}`
}

let engine: Liquid | undefined

/**
 * Checks every templated value of skycap.yaml (build.args, imageTag): its Liquid syntax and filters, and that it uses
 * only the variables it gets. Statically: a variable in a branch that a render would skip is checked too.
 */
export async function checkTemplatedValues(config: SkycapConfig): Promise<TemplateProblem[]> {
  const values = templatedValues(config)
  if (!values.length) return []
  if (!engine) {
    const {Liquid} = await import('liquidjs')
    engine = new Liquid({strictFilters: true, strictVariables: true, ownPropertyOnly: true})
  }
  const problems: TemplateProblem[] = []
  for (const {path, text, what, variables} of values) {
    const where = path.join('.')
    let used: string[][]
    try {
      const analysis = engine.analyzeSync(engine.parse(text), {partials: false})
      used = Object.values(analysis.globals)
        .flat()
        .map((v) => v.segments.map((s) => (typeof s === 'object' ? '[]' : String(s))))
    } catch (error) {
      const message = String((error as Error).message ?? error).replace(/, (file|line|col):.*$/s, '')
      const filter = /undefined filter: (\S+)/.exec(message)
      problems.push({path, message: filter ? `${where}: template uses unknown filter "${filter[1]}"` : `${where}: template error: ${message}`})
      continue
    }
    const include = /\{%-?\s*(include|render|layout)\b/.exec(text)
    if (include) problems.push({path, message: `${where}: template uses {% ${include[1]} %}, but a value of skycap.yaml cannot include files (only the templates folder's templates can)`})
    const reported = new Set<string>()
    for (const segments of used) {
      const name = undefinedPrefix(segments, variables)
      if (name === undefined || reported.has(name)) continue
      reported.add(name)
      problems.push({path, message: `${where}: ${undefinedVariableMessage(what, name, variables)}`})
    }
  }
  return problems
}

/**
 * The part of a variable's path that the value does not get (`nope`, `revision.nope`), or undefined when every
 * segment names something it gets. Past a leaf (`tag.size`) the render decides.
 */
function undefinedPrefix(segments: string[], variables: readonly string[]): string | undefined {
  for (let n = 1; n <= segments.length; n++) {
    const prefix = segments.slice(0, n).join('.')
    if (variables.includes(prefix)) return undefined
    if (!variables.some((v) => v.startsWith(`${prefix}.`))) return prefix
  }
  return undefined
}
