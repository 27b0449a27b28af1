import {existsSync, realpathSync, statSync} from 'node:fs'
import {dirname, extname, resolve, sep} from 'node:path'
import type {FS, Liquid, Template} from 'liquidjs'

import {isInside} from '../config/confinement.js'
import {LIMITS, readWithinLimit, TEMPLATE_LIMITS, tooLargeError} from '../config/limits.js'
import {decodeUtf8} from '../config/utf8.js'
import {ConfigError, formatLocation, type SourceLocation} from '../errors.js'
import {readError} from '../folders.js'

/** The folder `{% include %}`, `{% render %}` and `{% layout %}` find files in, and how messages show paths. */
export interface Partials {
  root: string
  show: (path: string) => string
}

let LiquidClass: typeof Liquid | undefined
/** One engine per partials root; '' for templates that include nothing (built-in ones, imageTag). */
const engines = new Map<string, Liquid>()
/**
 * The files includes read, by their text, as messages show them: an error's token carries the text it was parsed
 * from, and only the tags of an included file carry its path (an undefined variable in one was said at the including
 * file, with the included file's line).
 */
const includedTexts = new Map<string, string>()
/** Parsed templates by file, with the text they were parsed from: `up --watch` renders a file again after it changed. */
const parsed = new Map<string, {text: string; templates: Template[]}>()

/** Loads the template engine (once); render calls after it are synchronous. */
export async function loadTemplateEngine(): Promise<void> {
  LiquidClass ??= (await import('liquidjs')).Liquid
}

function engineFor(partials: Partials | undefined): Liquid {
  if (!LiquidClass) throw new Error('renderTemplate called before loadTemplateEngine()')
  const key = partials?.root ?? ''
  let engine = engines.get(key)
  if (!engine) {
    // strictVariables: a typo such as {{ values.hots }} is an error naming the file, not an empty string.
    // lenientIf: `{% if values.debug %}` may test a value that is not set.
    // root: LiquidJS looks partials up in the current directory by default, so output depended on where skycap ran
    // and `{% include "/etc/shadow" %}` read that file. Rooted at the templates folder (none for skycap's own
    // templates), with LiquidJS's realpath check, nothing outside it is read.
    // locale: LiquidJS defaults to the machine's (LANG), so `date: "%B"` gave "März" on one laptop and "March" in CI;
    // manifests are the same wherever they are rendered. Set, it also spares ICU's date formatter at start (~10 ms).
    engine = new LiquidClass({
      locale: 'en-US',
      strictVariables: true,
      strictFilters: true,
      lenientIf: true,
      ownPropertyOnly: true,
      cache: false,
      // A huge loop or a string doubled in a loop is an error at its place, not a render that runs for minutes.
      renderLimit: TEMPLATE_LIMITS.renderTime,
      memoryLimit: TEMPLATE_LIMITS.renderMemory,
      root: partials ? [partials.root] : [],
      fs: partials ? confinedFs(partials) : confinedFs({root: '', show: (p) => p}),
      // Every {{ }} output passes here: a mapping rendered "[object Object]" into the manifest without a word.
      outputEscape: refuseMappings,
    })
    guardArithmetic(engine)
    engines.set(key, engine)
  }
  return engine
}

/**
 * `{{ services.web }}`, `{{ values }}`: a mapping, which JavaScript writes as "[object Object]" (a manifest that
 * deploys with that text in it). Refused at its place; a list, a string, a number pass as LiquidJS writes them.
 */
function refuseMappings(value: unknown): string {
  // `{{ services.worker.port }}` of a service without a port: written as nothing (`port: ` is null to YAML), and
  // kubectl's refusal did not name the template. A value unset on purpose passes a filter (`| default: 80`).
  if (value === null) throw new NullOutputError('this outputs a value that is not set (null), which would be written as nothing')
  if (isMapping(value)) throw new MappingOutputError('this outputs a mapping, which would be written as "[object Object]"')
  // `{{ services.web.ports }}`: a list of mappings, written "[object Object][object Object]" as silently.
  if (Array.isArray(value) && value.flat(Infinity).some(isMapping)) throw new MappingOutputError('this outputs a list of mappings, each of which would be written as "[object Object]"')
  // Handed on unchanged: LiquidJS writes what this returns as it wrote the value (a list joined, a number as text).
  return value as string
}

/** A plain object (what YAML and JSON make of a mapping), not a Date or another class's instance. */
function isMapping(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

class ArithmeticError extends Error {}
class MappingOutputError extends Error {}
class NullOutputError extends Error {}

/** LiquidJS's arithmetic filters, whose JavaScript results may be Infinity or NaN. */
const ARITHMETIC = ['abs', 'at_least', 'at_most', 'ceil', 'divided_by', 'floor', 'minus', 'plus', 'modulo', 'times', 'round']

/**
 * `{{ 4 | divided_by: 0 }}` rendered `Infinity`, `modulo: 0` and `"abc" | times: 2` rendered `NaN`, into a manifest
 * (Shopify's Liquid stops with "divided by 0"). Each arithmetic filter now refuses a result that is not a finite
 * number: the template's error then names the file, line and filter.
 */
function guardArithmetic(engine: Liquid): void {
  for (const name of ARITHMETIC) {
    const original = engine.filters[name]
    if (typeof original !== 'function') continue
    engine.registerFilter(name, function (this: unknown, ...args: unknown[]) {
      const result: unknown = (original as (...a: unknown[]) => unknown).apply(this, args)
      if (typeof result === 'number' && !Number.isFinite(result)) {
        const shown = args.map((a) => (typeof a === 'string' ? JSON.stringify(a) : String(a)))
        // LiquidJS reads what is not a number as 0 ('x', nil): a division by 0 all the same.
        const byZero = (name === 'divided_by' || name === 'modulo') && !Number(args[1])
        throw new ArithmeticError(
          `${shown[0]} | ${name}${shown.length > 1 ? `: ${shown.slice(1).join(', ')}` : ''} gives ${String(result)}${byZero ? ' (a division by 0)' : ''}, which no manifest field takes`,
        )
      }
      return result
    })
  }
}

/** Node's file system for LiquidJS, confined to `partials.root`, with the template size limit. */
function confinedFs(partials: Partials): FS {
  const contains = (root: string, file: string): boolean => {
    try {
      return root !== '' && isInside(realpathSync(root), realpathSync(file))
    } catch {
      return false
    }
  }
  const exists = (file: string): boolean => existsSync(file) && statSync(file).isFile()
  const read = (file: string): string => {
    const text = readTemplateFile(file, partials.show(file))
    includedTexts.set(text, partials.show(file))
    return text
  }
  return {
    exists: async (file) => exists(file),
    existsSync: exists,
    readFile: async (file) => read(file),
    readFileSync: read,
    resolve: (root, file, ext) => resolve(root, extname(file) ? file : file + ext),
    contains: async (root, file) => contains(root, file),
    containsSync: contains,
    dirname,
    sep,
  }
}

/** A template file's text, refused unread when it is larger than LIMITS.template. */
export function readTemplateFile(file: string, shown: string): string {
  const tooLarge = (size: number) => tooLargeError(`template ${shown}`, size, LIMITS.template, 'Split the template into several files, or move data into a config folder.', {file: shown})
  let bytes: Buffer
  try {
    bytes = readWithinLimit(file, LIMITS.template, tooLarge)
  } catch (error) {
    // Here too, not only at render's end: LiquidJS hands an include's ConfigError on as it is (templateError).
    throw readError(error, () => shown)
  }
  return decodeUtf8(bytes, 'the template', shown)
}

/**
 * Renders template `text` (from `file`, for messages) with `context`. Parsed templates are cached by file and text.
 * `partials`: where includes are found; without it a template can include nothing. `missingValue`: what to do about a
 * value the environment lacks, when `environments.<env>.values` is not the place (the derived `local`).
 */
export function renderTemplate(text: string, file: string, context: object, partials?: Partials, missingValue?: (key: string) => string): string {
  const engine = engineFor(partials)
  try {
    const key = `${partials?.root ?? ''}\0${file}`
    // Keyed by file but reused only for the same text: a long-running process (up --watch) renders the edited file,
    // not the text it first parsed (a changed template, imageTag or build arg was deployed as it was before).
    let entry = parsed.get(key)
    if (entry?.text !== text) {
      entry = {text, templates: engine.parse(text, file)}
      parsed.set(key, entry)
    }
    return engine.renderSync(entry.templates, context) as string
  } catch (error) {
    throw templateError(error, text, file, context, partials, missingValue)
  }
}

/** Forgets parsed templates (tests change template files between renders). */
export function clearTemplateCache(): void {
  parsed.clear()
  includedTexts.clear()
}

/**
 * The variables `context` gives a template, as the hint for an undefined variable lists them (docs style: after a
 * full path, its siblings as `.name`): `values.*` for the environment's values (any keys), `services.<name>.image`
 * for the map by service name (the keys of its entries), the leaves of the rest. Computed from the context the
 * template got, so the list is the truth for every kind of template (repository templates, imageTag, build args).
 */
export function contextVariables(context: object): string[] {
  const paths: string[][] = []
  const walk = (value: unknown, path: string[]): void => {
    if (path.length === 1 && path[0] === 'values') paths.push(['values', '*'])
    else if (path.length === 1 && path[0] === 'services' && isRecord(value)) {
      const keys = new Set(Object.values(value).flatMap((service) => (isRecord(service) ? Object.keys(service) : [])))
      for (const key of keys) paths.push(['services', '<name>', key])
    } else if (isRecord(value) && Object.keys(value).length > 0) {
      for (const [key, v] of Object.entries(value)) walk(v, [...path, key])
    } else paths.push(path)
  }
  for (const [key, value] of Object.entries(context)) walk(value, [key])
  const parent = (path: string[] | undefined) => path?.slice(0, -1).join('.')
  return paths.map((path, i) => (path.length > 1 && parent(path) === parent(paths[i - 1]) ? `.${path.at(-1)}` : path.join('.')))
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

type LiquidFailure = {message?: string; name?: string; token?: {getPosition?: () => [number, number]; input?: string; file?: string}; originalError?: unknown}

/**
 * The ConfigError of a failed render of `text` (from `file`): at the place the token of the error is, in an included
 * file when it is there (named so, with the file that includes it).
 */
function templateError(error: unknown, text: string, file: string, context: object, partials: Partials | undefined, missingValue?: (key: string) => string): ConfigError {
  const e = error as LiquidFailure
  if (e.originalError instanceof ConfigError) return e.originalError
  const token = e.token
  const included = token?.input === undefined || token.input === text ? undefined : (includedTexts.get(token.input) ?? (token.file && partials ? partials.show(token.file) : undefined))
  const pos = token?.getPosition?.()
  const where = {file: included ?? file, line: pos?.[0], column: pos?.[1]}
  const found = templateErrorAt(e, String(e.message ?? error), where, context, partials, missingValue)
  if (included === undefined || included === file || found.location === undefined) return found
  const said = found.message.slice(formatLocation(found.location).length + 2)
  return new ConfigError(`${said} (included by ${file.replace(/ \(at [^)]+\)$/, '')})`, found.location, {hint: found.hint, details: found.details})
}

function templateErrorAt(e: LiquidFailure, message: string, where: SourceLocation, context: object, partials: Partials | undefined, missingValue?: (key: string) => string): ConfigError {
  const undefinedVar = /undefined variable: ([^,]+)/.exec(message)
  if (undefinedVar) {
    // Repository templates (they get values) are documented in docs/configuration.md; imageTag and build args get less.
    // A missing value is named with the environment being rendered: the hint used to say `environments.<env>.values`.
    const env = (context as {env?: {name?: unknown}}).env?.name
    const key = undefinedVar[1]?.startsWith('values.') ? undefinedVar[1].slice('values.'.length) : undefined
    const add = key && typeof env === 'string' ? `; ${missingValue?.(key) ?? `${env} has no value ${key}: add it under environments.${env}.values in skycap.yaml`}` : ''
    const more = 'values' in context ? ` (docs/configuration.md, "What skycap renders")${add}.` : '.'
    return new ConfigError(`template uses undefined variable "${undefinedVar[1]}"`, where, {
      hint: `This template can use ${contextVariables(context).join(', ')}${more}`,
      details: {variable: undefinedVar[1]},
    })
  }
  const undefinedFilter = /undefined filter: ([^\s,]+)/.exec(message)
  if (undefinedFilter) {
    return new ConfigError(`template uses unknown filter "${undefinedFilter[1]}"`, where, {hint: 'See https://liquidjs.com/filters/overview.html for the filters LiquidJS has.'})
  }
  const lookup = /Failed to lookup "([^"]*)"/.exec(message)
  if (lookup) {
    const inside = partials ? `a file of the templates folder ${partials.show(partials.root)}` : 'possible here (only repository templates include files)'
    return new ConfigError(`template includes "${lookup[1]}", which is not ${inside}`, where, {
      hint: 'Include, render and layout find files in the templates folder only (links must stay inside the repository); name the file relative to it.',
      details: {include: lookup[1]},
    })
  }
  const limit = /(template render|memory alloc) limit exceeded/.exec(message)
  if (limit)
    return new ConfigError(
      limit[1] === 'template render'
        ? `template took more than ${TEMPLATE_LIMITS.renderTime / 1000}s to render; it was stopped`
        : `template builds more than ${TEMPLATE_LIMITS.renderMemory.toLocaleString('en-US')} items or characters (a range or a string); it was stopped`,
      where,
      {hint: 'A {% for %} over a huge range, or a value doubled in a loop? Templates describe manifests; keep data out of them.'},
    )
  // Only an include, render or layout recurses in Liquid: a file that includes itself, directly or through others,
  // ends in JavaScript's stack overflow (the error used to say "Maximum call stack size exceeded" and ask for syntax).
  if (e.originalError instanceof RangeError && /call stack/i.test(e.originalError.message))
    return new ConfigError('template error: includes nest deeper than the stack allows here; does a file include itself, directly or through other files?', where, {
      hint: 'Guard the include that goes round with {% if %} (so it stops), or remove it.',
    })
  if (e.originalError instanceof MappingOutputError)
    return new ConfigError(`template error: ${e.originalError.message}`, where, {hint: 'Add | json to write it as JSON (`{{ values.labels | json }}`), or name one of its keys.'})
  if (e.originalError instanceof NullOutputError)
    return new ConfigError(`template error: ${e.originalError.message}`, where, {
      hint: 'Give it a value, write what it stands for when unset (`| default: 80`), or leave the line out with {% if %}.',
    })
  if (e.originalError instanceof ArithmeticError)
    return new ConfigError(`template error: ${e.originalError.message}`, where, {
      hint: 'Guard the filter with {% if %} (a value of 0 is set, so | default does not replace it), or change the value it gets.',
    })
  return new ConfigError(`template error: ${message.replace(/, (file|line|col):.*$/, '')}`, where, {hint: 'Check the {{ }} and {% %} syntax (LiquidJS).'})
}
