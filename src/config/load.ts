import {existsSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'

import {ConfigError, ConfigErrors} from '../errors.js'
import {checkPatch, POD_TEMPLATE_MERGE_KEYS} from '../render/strategic-merge.js'
import {deepMerge} from './environment.js'
import {loadValidator, validateAgainstSchema} from './validate.js'
import {documentData} from './yaml.js'
import type {ConfigWarning, LoadedConfig, ServiceConfig, SkycapConfig} from './types.js'

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

/** The path of skycap.yaml: the explicit `configPath`, or the nearest one from `cwd` upward. */
export function configFilePath(options: {configPath?: string; cwd?: string} = {}): string {
  const cwd = options.cwd ?? process.cwd()
  const file = options.configPath ? resolve(cwd, options.configPath) : findConfigFile(cwd)
  if (!file) {
    throw new ConfigError(`no ${CONFIG_FILE} found in ${cwd} or any parent directory`, undefined, {
      hint: 'Run `skycap init` in your application repository, or pass --config PATH.',
    })
  }
  return file
}

/** Loads and validates skycap.yaml: the explicit `configPath`, or the nearest one from `cwd` upward. */
export async function loadConfig(options: {configPath?: string; cwd?: string} = {}): Promise<LoadedConfig> {
  const file = configFilePath(options)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`, undefined, {hint: 'Check the path given to --config.'})
  }
  return parseConfig(text, file)
}

/**
 * Parses and validates skycap.yaml text; `file` is where it lies, to resolve relative paths; `show` turns `file` and
 * the paths beside it into what messages print.
 */
export async function parseConfig(text: string, file: string, show: (path: string) => string = displayPath): Promise<LoadedConfig> {
  const {LineCounter, parseDocument, isMap, isPair, isScalar} = await import('yaml')
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {lineCounter, prettyErrors: false, uniqueKeys: true})
  const shown = show(file)

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
    checkService(svc, svc, ['services', name], at, dir)
  }
  for (const [envName, env] of Object.entries(config.environments)) {
    for (const [svcName, override] of Object.entries(env.services ?? {})) {
      if (!config.services[svcName]) {
        at(['environments', envName, 'services', svcName], `environments.${envName}.services.${svcName} overrides an unknown service; known: ${serviceNames.join(', ')}`)
        continue
      }
      const merged = deepMerge(config.services[svcName], override) as ServiceConfig
      checkService(override, merged, ['environments', envName, 'services', svcName], at, dir)
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
  return {config, file, dir, warnings, locate, show}
}

type At = (path: (string | number)[], message: string) => void

const PROBES = ['healthcheck', 'liveness', 'startup'] as const

/** Kubernetes' terminationGracePeriodSeconds when a pod sets none. */
const DEFAULT_GRACE_SECONDS = 30

/**
 * Checks what the schema cannot: combinations of keys. `svc` is the service or an environment's override of it,
 * `merged` what the environment deploys (the service itself for a service); a key the override sets is checked as
 * merged, so an override cannot combine with the service's keys into something Kubernetes refuses.
 */
function checkService(svc: Partial<ServiceConfig>, merged: ServiceConfig, path: string[], at: At, dir: string): void {
  const where = path.join('.')
  if (svc.port !== undefined && svc.ports !== undefined) {
    at([...path, 'ports'], `${where} has both port and ports; use one of them`)
  }
  const names = new Set<string>()
  for (const [i, p] of (svc.ports ?? []).entries()) {
    const name = p.name ?? ''
    if (names.has(name)) at([...path, 'ports', i], `${where}.ports[${i}]: port names must be unique${name ? ` ("${name}" repeats)` : '; name the ports when there are several'}`)
    names.add(name)
  }
  checkPodFields(svc, merged, path, at)
  if (svc.config !== undefined) checkFolder(svc.config, [...path, 'config'], at, dir)
}

/** The pod template keys: probe forms, the preStop hook against the grace period, tolerations, the podTemplate patch. */
function checkPodFields(svc: Partial<ServiceConfig>, merged: ServiceConfig, path: string[], at: At): void {
  const where = path.join('.')
  const hasPort = merged.port !== undefined || (merged.ports?.length ?? 0) > 0
  for (const key of PROBES) {
    const probe = merged[key]
    if (!svc[key] || !probe) continue
    if (probe.command && (probe.path !== undefined || probe.port !== undefined)) {
      at([...path, key], `${where}.${key}: give either command, or path/port, not both${svc === merged ? '' : ' (after merging over the service)'}`)
    } else if (!probe.command && probe.port === undefined && !hasPort) {
      at([...path, key], `${where}.${key} needs a port (or command), and the service has no port to default to`)
    }
  }
  const preStop = merged.lifecycle?.preStop
  if (svc.lifecycle?.preStop && preStop) {
    const forms = [preStop.command && 'command', preStop.sleep !== undefined && 'sleep', preStop.path !== undefined && 'path'].filter(Boolean)
    if (forms.length !== 1) {
      at([...path, 'lifecycle', 'preStop'], `${where}.lifecycle.preStop: give exactly one of command, sleep or path${forms.length ? `, not ${forms.join(' and ')}` : ''}`)
    } else if (preStop.port !== undefined && preStop.path === undefined) {
      at([...path, 'lifecycle', 'preStop', 'port'], `${where}.lifecycle.preStop: port goes with path (an HTTP GET); Kubernetes runs no TCP pre-stop hook`)
    } else if (preStop.path !== undefined && preStop.port === undefined && !hasPort) {
      at([...path, 'lifecycle', 'preStop'], `${where}.lifecycle.preStop needs a port for path, and the service has no port to default to`)
    }
  }
  const sleep = preStop?.sleep
  const patchedGrace = merged.podTemplate?.spec?.terminationGracePeriodSeconds
  const grace = typeof patchedGrace === 'number' ? patchedGrace : (merged.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS)
  if (sleep !== undefined && sleep > grace && (svc.lifecycle?.preStop || svc.terminationGracePeriodSeconds !== undefined || svc.podTemplate)) {
    // Point at what this part of the file sets: the sleep, or the grace period that is too short for it.
    const key =
      svc.lifecycle?.preStop?.sleep !== undefined
        ? ['lifecycle', 'preStop', 'sleep']
        : svc.podTemplate?.spec?.terminationGracePeriodSeconds !== undefined
          ? ['podTemplate', 'spec', 'terminationGracePeriodSeconds']
          : ['terminationGracePeriodSeconds']
    at(
      [...path, ...key],
      `${where}: lifecycle.preStop.sleep (${sleep}s) is longer than terminationGracePeriodSeconds (${grace}s); Kubernetes refuses that. Raise terminationGracePeriodSeconds or sleep less`,
    )
  }
  for (const [i, t] of (svc.tolerations ?? []).entries()) {
    const here = [...path, 'tolerations', i]
    if (t.operator === 'Exists' && t.value !== undefined) at(here, `${where}.tolerations[${i}]: operator Exists matches any value; remove value or use operator Equal`)
    if (!t.key && t.operator !== 'Exists') at(here, `${where}.tolerations[${i}]: without a key the operator must be Exists (it tolerates every taint)`)
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') at(here, `${where}.tolerations[${i}]: tolerationSeconds applies to effect NoExecute only`)
  }
  if (svc.podTemplate) {
    for (const p of checkPatch(svc.podTemplate, POD_TEMPLATE_MERGE_KEYS)) {
      const full = [...path, 'podTemplate', ...p.path]
      at(
        full,
        `${full
          .map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`))
          .join('')
          .slice(1)}: ${p.message}`,
      )
    }
  }
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
