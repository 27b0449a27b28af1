import type {Liquid, Template} from 'liquidjs'

import {ConfigError} from '../errors.js'

let engine: Liquid | undefined
const parsed = new Map<string, Template[]>()

async function liquid(): Promise<Liquid> {
  if (!engine) {
    const {Liquid} = await import('liquidjs')
    // strictVariables: a typo such as {{ values.hots }} is an error naming the file, not an empty string.
    // lenientIf: `{% if values.debug %}` may test a value that is not set.
    engine = new Liquid({strictVariables: true, strictFilters: true, lenientIf: true, ownPropertyOnly: true, cache: false})
  }
  return engine
}

/** Loads the template engine (once); render calls after it are synchronous. */
export async function loadTemplateEngine(): Promise<void> {
  await liquid()
}

/** Renders template `text` (from `file`, for messages) with `context`. Parsed templates are cached by file. */
export function renderTemplate(text: string, file: string, context: object): string {
  if (!engine) throw new Error('renderTemplate called before loadTemplateEngine()')
  try {
    let tpl = parsed.get(file)
    if (!tpl) {
      tpl = engine.parse(text, file)
      parsed.set(file, tpl)
    }
    return engine.renderSync(tpl, context) as string
  } catch (error) {
    throw templateError(error, file)
  }
}

/** Forgets parsed templates (tests change template files between renders). */
export function clearTemplateCache(): void {
  parsed.clear()
}

function templateError(error: unknown, file: string): ConfigError {
  const e = error as {message?: string; name?: string; token?: {getPosition?: () => [number, number]}}
  const message = String(e.message ?? error)
  const pos = e.token?.getPosition?.()
  const where = {file, line: pos?.[0], column: pos?.[1]}
  const undefinedVar = /undefined variable: ([^,]+)/.exec(message)
  if (undefinedVar) {
    return new ConfigError(`template uses undefined variable "${undefinedVar[1]}"`, where, {
      hint: 'Templates can use app, env.name, env.namespace, env.context, values.*, revision.sha, revision.short, services.<name>.image (see README "Templates"); add the value under environments.<env>.values.',
      details: {variable: undefinedVar[1]},
    })
  }
  const undefinedFilter = /undefined filter: (\S+)/.exec(message)
  if (undefinedFilter) {
    return new ConfigError(`template uses unknown filter "${undefinedFilter[1]}"`, where, {hint: 'See https://liquidjs.com/filters/overview.html for the filters LiquidJS has.'})
  }
  return new ConfigError(`template error: ${message.replace(/, (file|line|col):.*$/, '')}`, where, {hint: 'Check the {{ }} and {% %} syntax (LiquidJS).'})
}
