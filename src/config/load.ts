import {existsSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'

import {ConfigError, ConfigErrors} from '../errors.js'
import {loadValidator, validateAgainstSchema} from './validate.js'
import {documentData} from './yaml.js'
import type {ConfigWarning, LoadedConfig, SkycapConfig} from './types.js'

export const CONFIG_FILE = 'skycap.yaml'

/** Finds skycap.yaml in `from` or a parent directory. */
export function findConfigFile(from: string): string | undefined {
  let dir = resolve(from)
  for (;;) {
    for (const name of [CONFIG_FILE, 'skycap.yml']) {
      const candidate = join(dir, name)
      if (existsSync(candidate)) return candidate
    }
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/** Loads and validates skycap.yaml: the explicit `configPath`, or the nearest one from `cwd` upward. */
export async function loadConfig(options: {configPath?: string; cwd?: string} = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd()
  const file = options.configPath ? resolve(cwd, options.configPath) : findConfigFile(cwd)
  if (!file) {
    throw new ConfigError(`no ${CONFIG_FILE} found in ${cwd} or any parent directory`, undefined, {
      hint: 'Run `skycap init` in your application repository, or pass --config PATH.',
    })
  }
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`, undefined, {hint: 'Check the path given to --config.'})
  }
  return parseConfig(text, file)
}

/** Parses and validates skycap.yaml text; `file` is used in messages and to resolve relative paths. */
export async function parseConfig(text: string, file: string): Promise<LoadedConfig> {
  const {LineCounter, parseDocument, isMap, isPair, isScalar} = await import('yaml')
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {lineCounter, prettyErrors: false, uniqueKeys: true})
  const shown = displayPath(file)

  if (doc.errors.length > 0) {
    throw new ConfigErrors(
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0])
        return new ConfigError(`invalid YAML: ${firstLine(e.message)}`, {file: shown, line: pos.line, column: pos.col})
      }),
      `Fix the YAML syntax in ${shown}.`,
    )
  }

  const locate = (path: readonly (string | number)[]): {line: number; column: number} | undefined => {
    // Walk down as far as the path exists, so a missing key points at its parent.
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true)
      const range = (node as {range?: [number, number, number]} | undefined)?.range
      if (range) {
        const pos = lineCounter.linePos(range[0])
        return {line: pos.line, column: pos.col}
      }
    }
    return undefined
  }
  /** The position of a key itself (for unknown keys), not its value. */
  const locateKey = (parent: readonly (string | number)[], key: string): {line: number; column: number} | undefined => {
    const node = parent.length === 0 ? doc.contents : doc.getIn(parent, true)
    if (isMap(node)) {
      for (const item of node.items) {
        if (isPair(item) && isScalar(item.key) && String(item.key.value) === key && item.key.range) {
          const pos = lineCounter.linePos(item.key.range[0])
          return {line: pos.line, column: pos.col}
        }
      }
    }
    return locate(parent)
  }

  const data = documentData(await import('yaml'), doc, shown, lineCounter)
  await loadValidator()
  const problems = validateAgainstSchema(data)
  if (problems.length > 0) {
    throw new ConfigErrors(
      problems.map((p) => {
        const pos = p.key === undefined ? locate(p.path) : locateKey(p.path, p.key)
        return new ConfigError(p.message, {file: shown, line: pos?.line, column: pos?.column})
      }),
      `Fix ${shown} (the JSON Schema skycap.schema.json lists every key; editors with the YAML extension complete it).`,
    )
  }

  const config = data as SkycapConfig
  const dir = dirname(file)
  const errors: ConfigError[] = []
  const at = (path: (string | number)[], message: string) => {
    const pos = locate(path)
    errors.push(new ConfigError(message, {file: shown, line: pos?.line, column: pos?.column}))
  }

  const envNames = Object.keys(config.environments)
  const serviceNames = Object.keys(config.services)
  if (config.defaultEnvironment !== undefined && !config.environments[config.defaultEnvironment]) {
    at(['defaultEnvironment'], `defaultEnvironment "${config.defaultEnvironment}" is not an environment; known: ${envNames.join(', ')}`)
  }
  for (const [name, svc] of Object.entries(config.services)) {
    checkService(svc, ['services', name], at, dir)
  }
  for (const [envName, env] of Object.entries(config.environments)) {
    for (const [svcName, override] of Object.entries(env.services ?? {})) {
      if (!config.services[svcName]) {
        at(['environments', envName, 'services', svcName], `environments.${envName}.services.${svcName} overrides an unknown service; known: ${serviceNames.join(', ')}`)
        continue
      }
      checkService(override, ['environments', envName, 'services', svcName], at, dir)
    }
    if (env.config !== undefined) checkFolder(env.config, ['environments', envName, 'config'], at, dir)
  }
  for (const path of regexPaths(config)) {
    const value = doc.getIn(path) as string
    try {
      new RegExp(value)
    } catch (error) {
      at(path, `${path.join('.')} is not a valid regular expression: ${(error as Error).message}`)
    }
  }
  if (config.imageTag !== undefined && !/\{\{\s*revision\.(sha|short)\b/.test(config.imageTag)) {
    at(['imageTag'], 'imageTag must use {{ revision.sha }} or {{ revision.short }}; otherwise every revision gets the same image')
  }
  if (errors.length > 0) throw new ConfigErrors(errors, `Fix ${shown}.`)

  const warnings: ConfigWarning[] = []
  for (const [name, svc] of Object.entries(config.services)) {
    const pos = locate(['services', name])
    if (!svc.resources?.requests && !svc.resources?.limits) {
      warnings.push({message: `service "${name}" has no resource requests or limits; the scheduler cannot place it well`, file: shown, line: pos?.line, column: pos?.column})
    }
    if (!svc.healthcheck) {
      warnings.push({message: `service "${name}" has no healthcheck; skycap can only tell that its pods run, not that they serve`, file: shown, line: pos?.line, column: pos?.column})
    }
  }
  return {config, file, dir, warnings, locate}
}

type At = (path: (string | number)[], message: string) => void

function checkService(svc: Partial<import('./types.js').ServiceConfig>, path: string[], at: At, dir: string): void {
  if (svc.port !== undefined && svc.ports !== undefined) {
    at([...path, 'ports'], `${path.join('.')} has both port and ports; use one of them`)
  }
  const names = new Set<string>()
  for (const [i, p] of (svc.ports ?? []).entries()) {
    const name = p.name ?? ''
    if (names.has(name)) at([...path, 'ports', i], `${path.join('.')}.ports[${i}]: port names must be unique${name ? ` ("${name}" repeats)` : '; name the ports when there are several'}`)
    names.add(name)
  }
  const hc = svc.healthcheck
  if (hc) {
    if (hc.command && (hc.path !== undefined || hc.port !== undefined)) {
      at([...path, 'healthcheck'], `${path.join('.')}.healthcheck: give either command, or path/port, not both`)
    } else if (!hc.command && hc.port === undefined && svc.port === undefined && !svc.ports?.length && path[0] === 'services') {
      at([...path, 'healthcheck'], `${path.join('.')}.healthcheck needs a port (or command), and the service has no port to default to`)
    }
  }
  if (svc.config !== undefined) checkFolder(svc.config, [...path, 'config'], at, dir)
}

function checkFolder(folder: string, path: (string | number)[], at: At, dir: string): void {
  const full = resolve(dir, folder)
  if (!existsSync(full)) {
    at(path, `${path.join('.')}: folder "${folder}" does not exist (relative to skycap.yaml)`)
  } else if (!statSync(full).isDirectory()) {
    at(path, `${path.join('.')}: "${folder}" is a file; config must name a folder whose files become ConfigMap keys`)
  }
}

function regexPaths(config: SkycapConfig): (string | number)[][] {
  const paths: (string | number)[][] = []
  config.logs?.exclude?.forEach((_, i) => paths.push(['logs', 'exclude', i]))
  for (const [name, svc] of Object.entries(config.services)) svc.logs?.exclude?.forEach((_, i) => paths.push(['services', name, 'logs', 'exclude', i]))
  return paths
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message
}

/** A path as the user would type it: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file)
  return rel && !rel.startsWith('..') ? rel : file
}
