import {existsSync, lstatSync, readdirSync, readlinkSync, realpathSync, type Stats, statSync} from 'node:fs'
import {basename, dirname, isAbsolute, join, relative, resolve} from 'node:path'

import {DURATION_PATTERN, parseDuration, tooLong} from '../duration.js'
import {ConfigError, ConfigErrors, UserError} from '../errors.js'
import {readError} from '../folders.js'
import {openVcs, type Vcs, type VcsChoice} from '../vcs/vcs.js'
import {isFullReference} from '../render/images.js'
import {checkPatch, POD_TEMPLATE_MERGE_KEYS} from '../render/strategic-merge.js'
import {didYouMean, didYouMeanOrKnown} from '../suggest.js'
import {deepMerge, LOCAL_ENVIRONMENT} from './environment.js'
import {isHidden, isInside, resolvesOutside, templatesBesideConfig} from './confinement.js'
import {CONFIG_KEY, CONFIG_KEY_RULE, DEFAULT_MAX_REPLICAS, formatBytes, LIMITS, readWithinLimit, tooLargeError} from './limits.js'
import {readConfigCache, writeConfigCache} from './cache.js'
import {noteLoadedApp} from './loaded-app.js'
import {loadValidator, validateAgainstSchema} from './validate.js'
import {checkTemplatedValues, imageTagValues} from './templated.js'
import {decodeUtf8} from './utf8.js'
import {imageProblem, registryProblem} from './image-reference.js'
import {isSkycapLabel, keyProblem, labelValueProblem} from './labels.js'
import {documentData, errorOffset} from './yaml.js'
import type {BuildSpec, ConfigWarning, EnvironmentConfig, HookConfig, LoadedConfig, ServiceConfig, SkycapConfig} from './types.js'

export const CONFIG_FILE = 'skycap.yaml'
/** The names skycap.yaml may have, in the order a folder is searched. */
export const CONFIG_FILES = [CONFIG_FILE, 'skycap.yml'] as const

/** Finds skycap.yaml in `from` or a parent directory. */
export function findConfigFile(from: string): string | undefined {
  let dir = resolve(from)
  for (;;) {
    for (const name of CONFIG_FILES) {
      const candidate = join(dir, name)
      // A link to nowhere is found too (existsSync follows links): "no skycap.yaml found" hid it.
      if (existsSync(candidate) || lstatSync(candidate, {throwIfNoEntry: false})?.isSymbolicLink()) return candidate
    }
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/** skycap.yaml that is a folder: the one --config named (`configPath`), or one found from the working folder. */
function folderGiven(file: string, configPath: string | undefined): ConfigError {
  return new ConfigError(`${file} is a folder, not a skycap.yaml file`, undefined, {
    hint: configPath ? `Give --config the file itself, e.g. --config ${join(configPath, CONFIG_FILE)}.` : `Rename or remove the folder ${file}; skycap.yaml must be a file.`,
  })
}

/** The path of skycap.yaml: the explicit `configPath`, or the nearest one from `cwd` upward. */
export function configFilePath(options: {configPath?: string; cwd?: string; configGiven?: boolean} = {}): string {
  const cwd = options.cwd ?? process.cwd()
  const file = options.configPath ? resolve(cwd, options.configPath) : findConfigFile(cwd)
  // Said before anything looks for the repository from it: `render --config some/folder` said its parent folder was
  // no git or Mercurial repository.
  if (options.configPath && file && statSync(file, {throwIfNoEntry: false})?.isDirectory()) throw folderGiven(file, (options.configGiven ?? true) ? options.configPath : undefined)
  if (!file) {
    throw new ConfigError(`no ${CONFIG_FILE} found in ${cwd} or any parent directory`, undefined, {
      hint: 'Run `skycap init` in your application repository, or pass --config PATH.',
    })
  }
  return file
}

/**
 * The folders skycap.yaml's text names (templates, default `deploy`, and config folders), each with its key, as
 * written (relative to skycap.yaml), so they can be copied before the config is validated (validation checks that they
 * exist). Text that does not parse names none; validation reports it.
 */
export async function namedFolders(text: string): Promise<Array<[string, string]>> {
  const {parse} = await import('yaml')
  let data: unknown
  try {
    data = parse(text, {merge: true})
  } catch {
    return []
  }
  const named: Array<[string, unknown]> = [['templates', field(data, 'templates') ?? 'deploy']]
  for (const [name, svc] of entries(field(data, 'services'))) named.push([`services.${name}.config`, field(svc, 'config')])
  for (const [envName, env] of entries(field(data, 'environments'))) {
    named.push([`environments.${envName}.config`, field(env, 'config')])
    for (const [name, svc] of entries(field(env, 'services'))) named.push([`environments.${envName}.services.${name}.config`, field(svc, 'config')])
  }
  return named.filter((pair): pair is [string, string] => typeof pair[1] === 'string' && pair[1] !== '')
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined
}

function entries(value: unknown): Array<[string, unknown]> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.entries(value) : []
}

/** Loads and validates skycap.yaml: the explicit `configPath`, or the nearest one from `cwd` upward. */
export async function loadConfig(options: {configPath?: string; cwd?: string; repository?: boolean; root?: string; configGiven?: boolean} = {}): Promise<LoadedConfig> {
  // `configGiven`: whether the user passed --config (render and deploy hand on the path they found either way).
  const given = options.configGiven ?? options.configPath !== undefined
  const file = configFilePath(options)
  let text: string
  try {
    text = readSkycapYaml(file, displayPath(file))
  } catch (error) {
    if (error instanceof ConfigError) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EISDIR') throw folderGiven(file, given ? options.configPath : undefined)
    const unreadable = readError(error, displayPath)
    if (unreadable instanceof ConfigError) throw unreadable
    const hint = given ? 'Check the path given to --config.' : 'Check the file and its permissions.'
    const link = lstatSync(file, {throwIfNoEntry: false})?.isSymbolicLink() ? readlinkSync(file) : undefined
    if (code === 'ENOENT' && link !== undefined) {
      throw new ConfigError(`${file} is a symbolic link to ${link}, which does not exist`, undefined, {hint: "Point the link at the app's skycap.yaml, or replace it with the file."})
    }
    if (code === 'ENOENT') throw new ConfigError(`${file} does not exist`, undefined, {hint})
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`, undefined, {hint})
  }
  // The folder templates and config folders must stay in. Without the repository (commands that read no templates or
  // config files), nothing is confined to it. `root`: the caller opened the repository already (render, deploy).
  const root = options.repository === false ? null : (options.root ?? (await configRoot(dirname(file), await declaredVcs(text))))
  // skycap.yaml itself stays in the repository, as its templates and config files do: a committed link to a file of
  // the machine (/etc/passwd) was read, and a YAML error then quoted its first line.
  if (root !== null) refuseLinkOutside(file, root, displayPath)
  // Commands that read no templates (history, status, lock, scale, logs) open no repository, for speed; a link is
  // confined all the same (only then is the repository looked for): an error quoted /etc/passwd's first line to a CI
  // log when a pull request's skycap.yaml linked to it.
  else if (lstatSync(file, {throwIfNoEntry: false})?.isSymbolicLink()) refuseLinkOutside(file, await configRoot(dirname(file), await declaredVcs(text)), displayPath)
  // A file read before, unchanged, whose checks on the file system still pass, is not parsed again (src/config/cache.ts).
  const dir = dirname(file)
  const cached = readConfigCache(file, text, root, displayPath(file), (config) => fileChecksPass(config, dir, root))
  // Said each time (the file system, not the text): not kept in the cache.
  const unread = given ? [] : unreadBeside(file, displayPath)
  if (cached) {
    noteLoadedApp(cached.config.app)
    return {...cached, file, dir, root: root ?? dir, show: displayPath, warnings: [...cached.warnings, ...unread]}
  }
  const loaded = await parseConfig(text, file, displayPath, root)
  writeConfigCache(file, text, root, loaded)
  return unread.length > 0 ? {...loaded, warnings: [...loaded.warnings, ...unread]} : loaded
}

/** skycap.yml beside the skycap.yaml found: edits made to it were never deployed, without a word. */
function unreadBeside(file: string, displayPath: (file: string) => string): ConfigWarning[] {
  if (basename(file) !== CONFIG_FILE) return []
  const other = join(dirname(file), 'skycap.yml')
  if (!existsSync(other)) return []
  return [{message: `${displayPath(other)} is not read: skycap reads ${CONFIG_FILE} when a folder has both. Move what it says into ${CONFIG_FILE} and remove it`, file: displayPath(file)}]
}

/**
 * skycap.yaml itself stays in the repository (`root`: its work tree, or the folder a revision's files were written to),
 * as its templates and config files do: a committed link to a file of the machine (/etc/passwd) was read, and a YAML
 * error then quoted its first line.
 */
export function refuseLinkOutside(file: string, root: string, show: (path: string) => string): void {
  const outside = resolvesOutside(root, file)
  if (outside === undefined) return
  throw new ConfigError(`${show(file)} is a link to ${outside}, outside the repository`, undefined, {
    hint: 'skycap.yaml must be a file of the repository (as templates and config files are): commit the file itself, or a link inside the repository.',
  })
}

/** skycap.yaml's text, refused unread when it is larger than LIMITS.skycapYaml. */
export function readSkycapYaml(file: string, shown: string): string {
  const tooLarge = (size: number) =>
    tooLargeError('the file', size, LIMITS.skycapYaml, 'skycap.yaml describes services and environments; keep data in config folders or templates, not in values.', {file: shown})
  return decodeUtf8(readWithinLimit(file, LIMITS.skycapYaml, tooLarge), 'the file', shown)
}

/**
 * The folder templates and config folders must stay inside: the work tree of the repository holding skycap.yaml;
 * outside a repository (`skycap config validate` of a bare folder), skycap.yaml's own folder.
 */
async function configRoot(dir: string, kind: VcsChoice): Promise<string> {
  try {
    return (await openVcs(dir, {kind})).root
  } catch (error) {
    if (error instanceof UserError) return dir
    throw error
  }
}

/**
 * skycap.yaml's `vcs:`, read from its text before the config is validated: the repository is opened first, to read
 * the config at a revision. Auto when the key is absent or the text does not parse (validation reports that).
 */
export async function declaredVcs(text: string): Promise<VcsChoice> {
  if (!/\bvcs\b/.test(text)) return 'auto'
  const {parse} = await import('yaml')
  try {
    const value = (parse(text, {logLevel: 'silent'}) as {vcs?: unknown} | null)?.vcs
    return value === 'git' || value === 'hg' ? value : 'auto'
  } catch {
    return 'auto'
  }
}

/** The repository that holds skycap.yaml `file`, of the kind its `vcs:` names (an unreadable file: auto). */
export async function openRepository(file: string): Promise<Vcs> {
  let kind: VcsChoice = 'auto'
  try {
    kind = await declaredVcs(readSkycapYaml(file, displayPath(file)))
  } catch {
    // Reading it again, loadConfig says what is wrong with it.
  }
  return openVcs(dirname(file), {kind})
}

/**
 * Parses and validates skycap.yaml text; `file` is where it lies, to resolve relative paths; `show` turns `file` and
 * the paths beside it into what messages print; `root` is the folder templates and config folders must stay inside
 * (null: the repository was not opened, for commands that read neither; nothing is checked against it).
 */
export async function parseConfig(text: string, file: string, show: (path: string) => string = displayPath, root: string | null = dirname(file)): Promise<LoadedConfig> {
  const {LineCounter, parseDocument, isMap, isPair, isScalar, isSeq, visit, YAMLParseError} = await import('yaml')
  const lineCounter = new LineCounter()
  // uniqueKeys: false, checked below: the yaml library compares each key with every earlier one of its mapping, so
  // a mapping of 100,000 keys took minutes.
  // merge: YAML 1.1's `<<: *anchor` (one service's settings reused by another), as templates and docker compose read it;
  // without it the key was an unknown key "<<".
  const doc = parseDocument(text, {lineCounter, prettyErrors: false, uniqueKeys: false, merge: true})
  const shown = show(file)

  visit(doc, {
    Map(_, map) {
      // Each key's first offset: the second names the key and the line of the first.
      const keys = new Map<string, number>()
      for (const item of map.items) {
        if (!isScalar(item.key)) continue
        const key = `${typeof item.key.value}:${String(item.key.value)}`
        const first = keys.get(key)
        if (first !== undefined && item.key.range) {
          const message = `key ${JSON.stringify(String(item.key.value))} is written twice in one mapping (first on line ${lineCounter.linePos(first).line}); keep one`
          doc.errors.push(new YAMLParseError([item.key.range[0], item.key.range[1]], 'DUPLICATE_KEY', message))
        }
        if (first === undefined) keys.set(key, item.key.range?.[0] ?? 0)
      }
    },
  })
  // A tag the yaml library does not know (`!Ref Foo`) is a warning there, and its value was read as plain text.
  for (const w of doc.warnings)
    if (w.code === 'TAG_RESOLVE_FAILED') doc.errors.push(new YAMLParseError(w.pos, w.code, `${firstLine(w.message)}: skycap.yaml has no custom tags; write the value itself`))
  if (doc.errors.length > 0) {
    // The parser's first error, not the ones that follow from it: one tab gave eleven lines. Keys written twice and
    // unknown tags are each an error of its own, found after the parse.
    const own = new Set(['DUPLICATE_KEY', 'TAG_RESOLVE_FAILED'])
    const parsed = doc.errors.filter((e) => !own.has(e.code)).sort((a, b) => errorOffset(text, a) - errorOffset(text, b))
    const shownErrors = parsed.length ? parsed.slice(0, 1) : doc.errors
    const more = parsed.length - 1
    throw new ConfigErrors(
      shownErrors.map((e) => {
        const pos = lineCounter.linePos(errorOffset(text, e))
        // The yaml library's own words for a second document advise its API (parseAllDocuments).
        const what =
          e.code === 'MULTIPLE_DOCS'
            ? 'a second document starts here; skycap.yaml is one document (remove the --- line and what follows, or merge them)'
            : e.code === 'TAB_AS_INDENT'
              ? 'a tab indents this line; YAML indents with spaces only'
              : firstLine(e.message)
        return new ConfigError(`invalid YAML: ${what}`, {file: shown, line: pos.line, column: pos.col})
      }),
      `Fix the YAML syntax in ${shown}${more > 0 ? ` (the parser found ${more} more ${more === 1 ? 'error' : 'errors'} after this one, which may follow from it)` : ''}.`,
    )
  }

  // Each mapping's keys, indexed the first time a path goes through it: a lookup per service stays cheap for many services.
  const indexes = new WeakMap<object, Map<string, import('yaml').Pair>>()
  const pairIn = (map: import('yaml').YAMLMap, key: string): import('yaml').Pair | undefined => {
    let index = indexes.get(map)
    if (!index) {
      index = new Map()
      for (const item of map.items) if (isPair(item) && isScalar(item.key) && !index.has(String(item.key.value))) index.set(String(item.key.value), item)
      indexes.set(map, index)
    }
    return index.get(key)
  }
  /** The nodes along `path`, as far as it exists: [node at path[0..0], ..., pair that holds the last]. */
  const walk = (path: readonly (string | number)[]): {nodes: unknown[]; pair?: import('yaml').Pair} => {
    const nodes: unknown[] = [doc.contents]
    let pair: import('yaml').Pair | undefined
    for (const key of path) {
      const node = nodes[nodes.length - 1]
      pair = undefined
      let next: unknown
      if (isMap(node)) {
        pair = pairIn(node, String(key))
        next = pair?.value
      } else if (isSeq(node) && typeof key === 'number') {
        next = node.items[key]
      }
      if (next === undefined || next === null) break
      nodes.push(next)
    }
    return {nodes, pair: nodes.length === path.length + 1 ? pair : undefined}
  }
  const position = (range: readonly number[] | null | undefined) => {
    if (!range) return undefined
    const pos = lineCounter.linePos(range[0] as number)
    return {line: pos.line, column: pos.col}
  }
  const locate = (path: readonly (string | number)[]): {line: number; column: number} | undefined => {
    // As far as the path exists, so a missing key points at its parent.
    const {nodes} = walk(path)
    for (let n = nodes.length - 1; n >= 0; n--) {
      const pos = position((nodes[n] as {range?: number[]} | undefined)?.range)
      if (pos) return pos
    }
    return undefined
  }
  /** The position of a key itself (for unknown keys), not its value. */
  const locateKey = (parent: readonly (string | number)[], key: string): {line: number; column: number} | undefined => {
    const {pair} = walk([...parent, key])
    return (isScalar(pair?.key) ? position(pair.key.range) : undefined) ?? locate(parent)
  }

  const data = documentData(await import('yaml'), doc, shown, lineCounter)
  // `!!binary …` as the whole file: its bytes were checked as a mapping, a hundred "unknown key" lines of Buffer methods.
  if (ArrayBuffer.isView(data))
    throw new ConfigErrors([new ConfigError('the top level must be a mapping, not binary data (!!binary)', {file: shown, line: 1, column: 1})], `Fix ${shown}: it starts with app: and environments:.`)
  // `x-base: &base {…}` under services, as docker compose users write anchors, was deployed as a service (or, without
  // an image, refused as one missing its image). Said before the schema's checks, at the key.
  const servicesData = (data as {services?: unknown} | null)?.services
  const extensions = servicesData !== null && typeof servicesData === 'object' && !Array.isArray(servicesData) ? Object.keys(servicesData).filter((k) => k.startsWith('x-')) : []
  if (extensions.length)
    throw new ConfigErrors(
      extensions.map((name) => {
        const pos = locateKey(['services'], name)
        const message = `services.${name}: a name starting with x- reads as an extension key, which skycap ignores only at the top level; here it would be deployed as a service`
        return new ConfigError(message, {file: shown, line: pos?.line, column: pos?.column})
      }),
      `Move the anchor to a top-level key (\`x-${extensions[0]?.slice(2)}: &${extensions[0]?.slice(2) || 'defaults'} {…}\` beside services:), or rename the service.`,
      appOf(data),
    )
  await loadValidator()
  const problems = validateAgainstSchema(data)
  if (problems.length > 0) {
    throw new ConfigErrors(
      problems.map((p) => {
        const pos = p.key === undefined ? locate(p.path) : locateKey(p.path, p.key)
        return new ConfigError(p.message, {file: shown, line: pos?.line, column: pos?.column})
      }),
      `Fix ${shown} (\`skycap config schema\` prints the JSON Schema of every key; editors with the YAML extension complete from it).`,
      appOf(data),
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
  const folders: Folders = {dir, root: root ?? undefined, shownRoot: root === null ? '' : show(root), config}
  if (config.defaultEnvironment !== undefined && !config.environments[config.defaultEnvironment]) {
    at(['defaultEnvironment'], `defaultEnvironment "${config.defaultEnvironment}" is not an environment${didYouMeanOrKnown(config.defaultEnvironment, envNames)}`)
  }
  const withPorts = new Set<string>()
  for (const [name, svc] of Object.entries(config.services)) {
    checkService(svc, svc, ['services', name], at, folders)
    if (hasPorts(svc)) withPorts.add(name)
  }
  for (const [envName, env] of Object.entries(config.environments)) {
    const ceiling = env.maxReplicas ?? DEFAULT_MAX_REPLICAS
    for (const [svcName, svc] of Object.entries(config.services)) {
      const override = env.services?.[svcName]
      const replicas = override?.replicas ?? svc.replicas ?? 1
      if (replicas <= ceiling) continue
      const path = override?.replicas !== undefined ? ['environments', envName, 'services', svcName, 'replicas'] : ['services', svcName, 'replicas']
      at(
        path,
        `${path.join('.')} is ${replicas}, above the ceiling of ${ceiling} replicas per service in environment ${envName}; raise environments.${envName}.maxReplicas (default ${DEFAULT_MAX_REPLICAS}) if ${replicas} is meant`,
      )
    }
    for (const [svcName, override] of Object.entries(env.services ?? {})) {
      if (!config.services[svcName]) {
        at(['environments', envName, 'services', svcName], `environments.${envName}.services.${svcName} overrides an unknown service${didYouMeanOrKnown(svcName, serviceNames)}`)
        continue
      }
      const merged = deepMerge(config.services[svcName], override) as ServiceConfig
      checkService(override, merged, ['environments', envName, 'services', svcName], at, folders)
      if (hasPorts(merged)) withPorts.add(svcName)
    }
    if (env.config !== undefined) checkFolder(env.config, ['environments', envName, 'config'], at, folders, servicesWithConfig(config, env))
    // Every object gets app.kubernetes.io/instance: <app>-<env>, and a label value has at most 63 characters.
    const instance = `${config.app}-${envName}`
    if (instance.length > 63) {
      at(
        ['environments', envName],
        `environments.${envName}: the label app.kubernetes.io/instance "${instance}" (app-environment) is ${instance.length} characters; Kubernetes allows 63. Shorten the app or environment name`,
      )
    }
  }
  checkSharedImages(config, at)
  const hookLists: Array<[(string | number)[], HookConfig[] | undefined]> = [
    [['hooks', 'predeploy'], config.hooks?.predeploy],
    [['hooks', 'postdeploy'], config.hooks?.postdeploy],
    ...Object.entries(config.environments).flatMap(([e, env]): Array<[(string | number)[], HookConfig[] | undefined]> => [
      [['environments', e, 'hooks', 'predeploy'], env.hooks?.predeploy],
      [['environments', e, 'hooks', 'postdeploy'], env.hooks?.postdeploy],
    ]),
  ]
  for (const [path, list] of hookLists) {
    const seen = new Set<string>()
    list?.forEach((hook, i) => {
      if (!config.services[hook.service])
        at([...path, i, 'service'], `${path.join('.')}[${i}] (${hook.name}) names an unknown service "${hook.service}"${didYouMeanOrKnown(hook.service, serviceNames)}`)
      if (seen.has(hook.name)) at([...path, i, 'name'], `${path.join('.')}: two hooks are named "${hook.name}"`)
      seen.add(hook.name)
    })
  }
  // A hook's Job is named after the hook and the release, whatever its phase: a predeploy and a postdeploy hook of one
  // name made one Job, the second replacing the first (whose output was then gone). Checked per environment, with the
  // lists it runs (its own, else the app's).
  const reported = new Set<string>()
  for (const [envName, env] of Object.entries(config.environments)) {
    const pre = env.hooks?.predeploy ? ['environments', envName, 'hooks', 'predeploy'] : ['hooks', 'predeploy']
    const post = env.hooks?.postdeploy ? ['environments', envName, 'hooks', 'postdeploy'] : ['hooks', 'postdeploy']
    const names = new Set((env.hooks?.predeploy ?? config.hooks?.predeploy ?? []).map((h) => h.name))
    ;(env.hooks?.postdeploy ?? config.hooks?.postdeploy ?? []).forEach((hook, i) => {
      const key = `${post.join('.')}[${i}]`
      if (!names.has(hook.name) || reported.has(key)) return
      reported.add(key)
      at(
        [...post, i, 'name'],
        `${post.join('.')}[${i}]: "${hook.name}" is also the name of a hook in ${pre.join('.')}; a hook's Job is named after it, so the two would share one Job: give them different names`,
      )
    })
  }
  for (const name of withPorts) {
    // A Kubernetes Service's name is a DNS-1035 label: it starts with a letter.
    if (/^[0-9]/.test(name)) at(['services', name], `services.${name}: a service with ports gets a Kubernetes Service named "${name}", and a Service name must start with a letter`)
  }
  // Without a templates key, a problem of the default deploy/ folder is the file's, at no line of it (it was put at
  // the first key, `app:`).
  const atTemplates: At = config.templates !== undefined ? at : (_path, message) => errors.push(new ConfigError(message, {file: shown}))
  checkTemplatesFolder(config, ['templates'], atTemplates, folders)
  for (const path of regexPaths(config)) {
    const value = doc.getIn(path) as string
    try {
      new RegExp(value)
    } catch (error) {
      at(path, `${path.join('.')} is not a valid regular expression: ${(error as Error).message}`)
    }
  }
  for (const [path, template] of imageTagValues(config)) {
    if (template !== undefined && !/\{\{\s*revision\.(sha|short)\b/.test(template)) {
      at(path, `${path.join('.')} must use {{ revision.sha }} or {{ revision.short }}; otherwise every revision gets the same image`)
    }
  }
  for (const [name, svc] of Object.entries(config.services)) if (svc.build) checkBuild(svc, ['services', name], at, folders)
  for (const [path, value, problem] of imageValues(config)) {
    const why = problem(value)
    if (why !== undefined) at(path, `${path.join('.')} "${value}" is not a valid image ${path.at(-1) === 'registry' ? 'registry' : 'reference'}: ${why}`)
  }
  for (const problem of await checkTemplatedValues(config)) at(problem.path, problem.message)
  for (const [path, text] of durationValues(config)) {
    const ms = await parseDuration(text, path.join('.')).catch(() => undefined)
    if (ms === undefined) at(path, tooLong(path.join('.'), text))
  }
  if (errors.length > 0) throw new ConfigErrors(errors, `Fix ${shown}.`, {app: config.app})

  const warnings: ConfigWarning[] = []
  // Kubernetes' own namespaces: an app, its release records and its lock among the cluster's system objects.
  for (const [name, env] of Object.entries(config.environments)) {
    if (!/^kube-(system|public|node-lease)$/.test(env.namespace ?? '')) continue
    const pos = locate(['environments', name, 'namespace'])
    warnings.push({
      message: `environment "${name}" deploys into ${env.namespace}, a namespace of Kubernetes itself: give the app a namespace of its own`,
      file: shown,
      line: pos?.line,
      column: pos?.column,
    })
  }
  // `env: {DB_PASS: "${DB_PASS}"}` (docker compose and kamal read the shell's variable there): the container got the
  // text itself, without a word. Kubernetes expands only `$(VAR)`, from the container's own variables.
  const envPaths: Array<[(string | number)[], Record<string, unknown> | undefined]> = [
    ...Object.entries(config.services).map(([name, svc]) => [['services', name, 'env'], svc.env] as [(string | number)[], Record<string, unknown> | undefined]),
    ...Object.entries(config.environments).flatMap(([envName, env]) =>
      Object.entries(env.services ?? {}).map(([name, svc]) => [['environments', envName, 'services', name, 'env'], svc.env] as [(string | number)[], Record<string, unknown> | undefined]),
    ),
  ]
  for (const [path, vars] of envPaths) {
    for (const [key, value] of Object.entries(vars ?? {})) {
      const variable = typeof value === 'string' ? /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(value)?.[1] : undefined
      if (variable === undefined) continue
      const pos = locate([...path, key])
      warnings.push({
        message: `${path.join('.')}.${key} has \${${variable}}, which skycap does not expand: the container gets the text as written. Put a secret in a Secret (envFrom: [{secret: …}]); a plain value, write it here`,
        file: shown,
        line: pos?.line,
        column: pos?.column,
      })
    }
  }
  // One line per service, or, for more than three, one line naming them (a 20-service app opened every deploy with
  // 29 of these lines), at the first one's place.
  const services = Object.entries(config.services)
  const perService = (names: string[], one: (name: string) => string, many: (count: number, list: string) => string) => {
    if (names.length === 0) return
    // At the service's name (its first key was named: `web:` at 16:3, the warning at 17:5).
    const pos = locateKey(['services'], names[0] as string)
    if (names.length <= 3) {
      for (const name of names) {
        const at = locateKey(['services'], name)
        warnings.push({message: one(name), file: shown, line: at?.line, column: at?.column})
      }
      return
    }
    const list = names.length > 9 ? `${names.slice(0, 8).join(', ')} and ${names.length - 8} more` : names.join(', ')
    warnings.push({message: many(names.length, list), file: shown, line: pos?.line, column: pos?.column})
  }
  perService(
    services.filter(([, svc]) => !svc.resources?.requests && !svc.resources?.limits).map(([name]) => name),
    (name) => `service "${name}" has no resource requests or limits; the scheduler cannot place it well`,
    (count, list) => `${count} services have no resource requests or limits (${list}); the scheduler cannot place them well`,
  )
  perService(
    services.filter(([, svc]) => !svc.healthcheck).map(([name]) => name),
    (name) => `service "${name}" has no healthcheck; skycap can only tell that its pods run, not that they serve`,
    (count, list) => `${count} services have no healthcheck (${list}); skycap can only tell that their pods run, not that they serve`,
  )
  // Here, not in loadConfig alone: a skycap.yaml read from an older revision (render, deploy, build of ENV@REV) is the
  // command's too, and a lock refusal's job summary did not name its app.
  noteLoadedApp(config.app)
  return {config, file, dir, root: root ?? dir, warnings, locate, show}
}

type At = (path: (string | number)[], message: string) => void

/** Every `image` (of a service and of an environment's override) and `registry` of `config`, with its check. */
function imageValues(config: SkycapConfig): Array<[string[], string, (value: string) => string | undefined]> {
  const values: Array<[string[], string, (value: string) => string | undefined]> = []
  if (config.registry !== undefined) values.push([['registry'], config.registry, registryProblem])
  for (const [name, svc] of Object.entries(config.services)) values.push([['services', name, 'image'], svc.image, imageProblem])
  for (const [envName, env] of Object.entries(config.environments)) {
    if (env.registry !== undefined) values.push([['environments', envName, 'registry'], env.registry, registryProblem])
    for (const [name, svc] of Object.entries(env.services ?? {})) if (svc?.image !== undefined) values.push([['environments', envName, 'services', name, 'image'], svc.image, imageProblem])
  }
  return values
}

/**
 * Whether the checks parseConfig makes on the file system (config folders exist and stay in the repository, the
 * templates folder stays in it, build contexts lie inside it) pass for `config`, which parseConfig accepted before:
 * a cached read is used only then, and a change is found by parsing again, with its errors.
 */
function fileChecksPass(config: SkycapConfig, dir: string, root: string | null): boolean {
  let failed = false
  const at: At = () => {
    failed = true
  }
  const folders: Folders = {dir, root: root ?? undefined, shownRoot: '', config}
  const named: Array<string | undefined> = Object.values(config.services).map((svc) => svc.config)
  for (const env of Object.values(config.environments)) {
    named.push(...Object.values(env.services ?? {}).map((svc) => svc.config))
    if (env.config !== undefined) checkFolder(env.config, [], at, folders, servicesWithConfig(config, env))
  }
  for (const folder of named) if (folder !== undefined) checkFolder(folder, [], at, folders)
  checkTemplatesFolder(config, [], at, folders)
  for (const svc of Object.values(config.services)) if (svc.build) checkBuild(svc, [], at, folders)
  return !failed
}

const PROBES = ['healthcheck', 'liveness', 'startup'] as const

/** The keys each strategy type reads (docs/strategies.md). */
const STRATEGY_KEYS: Record<string, string[]> = {rolling: ['maxSurge', 'maxUnavailable'], blueGreen: ['scaleDownDelay', 'preview', 'checks'], canary: ['steps', 'trafficRouting', 'checks']}

/** Kubernetes' terminationGracePeriodSeconds when a pod sets none. */
const DEFAULT_GRACE_SECONDS = 30

/**
 * Checks what the schema cannot: combinations of keys. `svc` is the service or an environment's override of it,
 * `merged` what the environment deploys (the service itself for a service); a key the override sets is checked as
 * merged, so an override cannot combine with the service's keys into something Kubernetes refuses.
 */
function checkService(svc: Partial<ServiceConfig>, merged: ServiceConfig, path: string[], at: At, folders: Folders): void {
  const where = path.join('.')
  // The Services a strategy adds are named after the service, and a Service's name has at most 63 characters.
  const name = path.at(-1) as string
  const strategy = merged.strategy
  const added = !hasPorts(merged) ? [] : strategy?.type === 'blueGreen' && strategy.preview ? ['preview'] : strategy?.type === 'canary' && strategy.trafficRouting ? ['stable', 'canary'] : []
  const tooLong = added.map((suffix) => `${name}-${suffix}`).filter((n) => n.length > 63)
  if (tooLong.length && (svc.strategy !== undefined || svc === merged)) {
    at(
      [...path, 'strategy'],
      `${where}.strategy: its ${strategy?.type} rollout makes the Service ${tooLong.map((n) => `"${n}"`).join(' and ')} (${tooLong[0]?.length} characters); a Service name has at most 63. Shorten the service's name`,
    )
  }
  // Keys of another type's strategy were accepted and ignored: a rolling service's checks never ran. Checked where
  // they are written, against the type the service ends with (an environment may switch the type; the keys it
  // inherits for the other type are then unused, and cannot be removed there).
  const type = strategy?.type ?? 'rolling'
  for (const key of Object.keys(svc.strategy ?? {})) {
    if (key === 'type' || STRATEGY_KEYS[type]?.includes(key)) continue
    const owners = Object.entries(STRATEGY_KEYS)
      .filter(([, keys]) => keys.includes(key))
      .map(([t]) => t)
    at([...path, 'strategy', key], `${where}.strategy: a ${type} rollout has no ${key}${owners.length ? ` (a key of ${owners.join(' and ')})` : ''}; remove it, or set the type it belongs to`)
  }
  for (const [key, value] of Object.entries(svc.labels ?? {})) {
    const problem = keyProblem(key) ?? labelValueProblem(value)
    if (isSkycapLabel(key)) {
      at([...path, 'labels', key], `${where}.labels: ${key} is skycap's own label (it tells whose an object is, and which pods a service's selector picks); remove it, skycap sets it`)
    } else if (problem !== undefined) at([...path, 'labels', key], `${where}.labels: "${key}: ${value}" is not a Kubernetes label: ${problem}`)
  }
  for (const key of Object.keys(svc.annotations ?? {})) {
    const problem = keyProblem(key)
    if (problem !== undefined) at([...path, 'annotations', key], `${where}.annotations: "${key}" is not a Kubernetes annotation key: ${problem}`)
  }
  if (svc.port !== undefined && svc.ports !== undefined) {
    at([...path, 'ports'], `${where} has both port and ports; use one of them`)
  } else if (svc !== merged && merged.port !== undefined && merged.ports !== undefined) {
    // An environment's ports over the service's port (or the other way round) gave the Service the ports while
    // templates got the port as services.<name>.port, one the Service does not serve.
    const key = svc.ports !== undefined ? 'ports' : 'port'
    at([...path, key], `${where} sets ${key} and the service sets ${key === 'ports' ? 'port' : 'ports'}: after merging it has both; use the same key in both places (ports for several)`)
  }
  const names = new Set<string>()
  const several = (svc.ports?.length ?? 0) > 1
  for (const [i, p] of (svc.ports ?? []).entries()) {
    const name = p.name ?? ''
    // One unnamed among named ones passed every check and the dry run, and the deploy's apply was refused.
    if (several && p.name === undefined)
      at([...path, 'ports', i], `${where}.ports[${i}] has no name; a Service with several ports needs a name on each (the API server refuses it at apply: spec.ports[${i}].name: Required value)`)
    else if (names.has(name)) at([...path, 'ports', i], `${where}.ports[${i}]: port names must be unique${name ? ` ("${name}" repeats)` : '; name the ports when there are several'}`)
    names.add(name)
  }
  // A Service refuses two ports with the same port and protocol; skycap makes a container port of every entry's
  // target, and a container listing one port twice loses one in apply's merge, keyed by containerPort.
  const servicePorts = new Map<string, number>()
  const containerPorts = new Map<string, number>()
  for (const [i, p] of (svc.ports ?? []).entries()) {
    const protocol = p.protocol ?? 'TCP'
    const target = p.targetPort ?? p.port
    const samePort = servicePorts.get(`${p.port}/${protocol}`)
    const sameTarget = containerPorts.get(`${target}/${protocol}`)
    if (samePort !== undefined) {
      at([...path, 'ports', i, 'port'], `${where}.ports[${i}]: port ${p.port}/${protocol} repeats ports[${samePort}]; a Service's ports must differ in port or protocol`)
    } else if (sameTarget !== undefined) {
      at(
        [...path, 'ports', i],
        `${where}.ports[${i}]: targetPort ${target}/${protocol} repeats ports[${sameTarget}]; each entry becomes a container port, and a container's ports must differ in number or protocol`,
      )
    }
    if (samePort === undefined) servicePorts.set(`${p.port}/${protocol}`, i)
    if (sameTarget === undefined) containerPorts.set(`${target}/${protocol}`, i)
  }
  checkPodFields(svc, merged, path, at)
  if (svc.config !== undefined) checkFolder(svc.config, [...path, 'config'], at, folders)
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

/**
 * A `build:` block: a Dockerfile build or a command, for an image skycap tags. The context is checked as a path
 * only: it is read from the revision being built, not from the work tree other commands read skycap.yaml from.
 */
function checkBuild(svc: ServiceConfig, path: string[], at: At, folders: Folders): void {
  const where = `${path.join('.')}.build`
  const spec = svc.build as BuildSpec
  if (isFullReference(svc.image)) {
    at(
      [...path, 'image'],
      `${path.join('.')}: image "${svc.image}" is a full reference (it has a tag or digest), but the service has build:; give the name only (e.g. ${svc.image.replace(/[:@].*$/, '')}) so skycap tags each build with its revision`,
    )
  }
  if (spec.command) {
    const docker = (['dockerfile', 'target', 'args', 'platforms'] as const).filter((k) => spec[k] !== undefined)
    if (docker.length)
      at([...path, 'build', docker[0] as string], `${where}: command replaces the Dockerfile build; remove ${docker.join(', ')} (the command gets SKYCAP_IMAGE and builds as it likes)`)
  }
  const context = spec.context
  if (context !== undefined && folders.root !== undefined && (isAbsolute(context) || !isInside(folders.root, resolve(existsSync(folders.dir) ? realpathSync(folders.dir) : folders.dir, context)))) {
    at(
      [...path, 'build', 'context'],
      `${where}.context "${context}" is outside the repository; a build context is exported from the revision, so it must lie inside the repository (relative to skycap.yaml)`,
    )
  }
}

/** Where a skycap.yaml's relative paths start (`dir`) and the repository they must stay inside (none: not checked). */
interface Folders {
  dir: string
  root: string | undefined
  shownRoot: string
  /** The file's settings, for checks that need more than one folder (an environment's config folder in a service's). */
  config?: SkycapConfig
}

/**
 * Services with `build:` that push the same image (one `image:`, in the base or an environment) must build it alike:
 * one tag cannot hold two builds. Two Dockerfile targets under one image name were both pushed under one tag, the
 * last one winning, and a service ran the other's image. Identical builds are one build (skycap build builds it once).
 */
function checkSharedImages(config: SkycapConfig, at: (path: (string | number)[], message: string) => void): void {
  const said = new Set<string>()
  const scopes: Array<[string | undefined, Record<string, {image?: string} | undefined>]> = [
    [undefined, {}],
    ...Object.entries(config.environments).map(([name, env]): [string, Record<string, {image?: string} | undefined>] => [name, env.services ?? {}]),
  ]
  for (const [envName, overrides] of scopes) {
    const byImage = new Map<string, string>()
    for (const [name, svc] of Object.entries(config.services)) {
      if (!svc.build) continue
      const image = overrides[name]?.image ?? svc.image
      const first = byImage.get(image)
      if (first === undefined) {
        byImage.set(image, name)
        continue
      }
      if (canonical(config.services[first]?.build) === canonical(svc.build) || said.has(`${first}/${name}`)) continue
      said.add(`${first}/${name}`)
      const where = envName === undefined ? '' : ` in environment ${envName}`
      at(
        overrides[name]?.image !== undefined ? ['environments', envName as string, 'services', name, 'image'] : ['services', name, 'image'],
        `services ${first} and ${name} both build image "${image}"${where}, with different build: blocks; one tag cannot hold both builds (the last pushed would run as both). Give ${name} an image of its own, or drop its build: to run ${first}'s image`,
      )
    }
  }
}

/** A value as JSON with its keys sorted: two build: blocks written in another key order are the same. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  )
}

function hasPorts(svc: Partial<ServiceConfig>): boolean {
  return svc.port !== undefined || (svc.ports?.length ?? 0) > 0
}

/**
 * A config folder: a service's (its files are the ConfigMap's keys; a folder in it is not read), or, with `services`
 * (those with `config:` there), an environment's (a folder per such service, whose files override keys).
 */
function checkFolder(folder: string, path: (string | number)[], at: At, folders: Folders, services?: ServicesWithConfig): void {
  const environmentFolders = new Set(Object.values(folders.config?.environments ?? {}).flatMap((e) => (e.config === undefined ? [] : [resolve(folders.dir, e.config)])))
  const full = resolve(folders.dir, folder)
  if (!existsSync(full)) {
    at(path, `${path.join('.')}: folder "${folder}" does not exist (relative to skycap.yaml)`)
  } else if (!statSync(full).isDirectory()) {
    at(path, `${path.join('.')}: "${folder}" is a file; config must name a folder whose files become ConfigMap keys`)
  } else {
    if (checkInsideRepository(folder, path, at, folders)) checkFolderEntries(folder, full, path, at, services, environmentFolders, folders.dir)
  }
}

/** What a config folder holds that would be silently left out of every ConfigMap. */
function checkFolderEntries(folder: string, full: string, path: (string | number)[], at: At, services?: ServicesWithConfig, environmentFolders = new Set<string>(), dir = ''): void {
  let names: string[]
  try {
    names = readdirSync(full).sort()
  } catch {
    return // unreadable: render says so
  }
  const where = path.join('.')
  // A service's folder: its ConfigMap's size, as render counts it (file names and contents).
  let bytes = 0
  for (const name of names) {
    if (isHidden(name)) continue
    // undefined: a dangling link, a loop of links or an unreadable entry, which render reports.
    const stat = statOrUndefined(join(full, name))
    if (stat === undefined) continue
    const isFolder = stat.isDirectory()
    if (services === undefined) {
      // An environment's config folder may lie inside a service's (config: config, and config/staging).
      if (isFolder && !environmentFolders.has(resolve(full, name)))
        at(path, `${where}: "${folder}/${name}" is a folder; a config folder's files become ConfigMap keys and the folders in it are not read (move its files up, or into a folder of their own)`)
      else if (!isFolder) checkKeyName(`${folder}/${name}`, where, path, at)
      if (stat.isFile() && stat.size > LIMITS.configFile)
        at(
          path,
          `${where}: config file "${folder}/${name}" is ${formatBytes(stat.size, LIMITS.configFile)}; the limit is ${formatBytes(LIMITS.configFile)} (move large files into the image or a volume)`,
        )
      else if (stat.isFile()) bytes += name.length + stat.size
    } else if (isFolder && services.withConfig.includes(name)) {
      // A service's folder of overrides: its files become keys too.
      let files: string[] = []
      try {
        files = readdirSync(join(full, name)).sort()
      } catch {
        // unreadable: render says so
      }
      for (const file of files) if (!isHidden(file) && isDirectoryOrUnknown(join(full, name, file)) === false) checkKeyName(`${folder}/${name}/${file}`, where, path, at)
      // The service's ConfigMap in this environment is its folder's files with these over them: counted as render
      // counts it (config validate passed a folder that only the environment's files pushed over the limit).
      const base = services.folderOf[name]
      if (base !== undefined) {
        const merged = new Map([...fileSizes(resolve(dir, base)), ...fileSizes(join(full, name))])
        const size = [...merged].reduce((n, [key, bytes]) => n + key.length + bytes, 0)
        if (size > LIMITS.configMap)
          at(
            path,
            `${where}: the ConfigMap of config folder "${base}" with "${folder}/${name}" (file names and contents) is ${formatBytes(size, LIMITS.configMap)}; the limit is ${formatBytes(LIMITS.configMap)} (move large files into the image or a volume)`,
          )
      }
    } else if (!isFolder) {
      // A file named after a service that has config: render names it, at the file (a folder was meant).
      if (!services.withConfig.includes(name))
        at(path, `${where}: "${folder}/${name}" is a file; an environment's config folder holds a folder per service (${folder}/<service>/${name}), whose files override that service's keys`)
    } else if (!services.withConfig.includes(name)) {
      const named = services.withConfig.length ? ` (its folders are named after the services with a config: folder: ${services.withConfig.join(', ')})` : ''
      at(
        path,
        services.all.includes(name)
          ? `${where}: folder "${folder}/${name}" is not read, as service ${name} has no config: folder (give it one, or remove this folder)`
          : `${where}: folder "${folder}/${name}" is not read, as no service is named ${name}${didYouMean(name, services.withConfig)}${named}`,
      )
    }
  }
  // Kubernetes refuses a ConfigMap over 1 MiB: deploy said so at its render, config validate not at all.
  if (bytes > LIMITS.configMap)
    at(
      path,
      `${where}: the ConfigMap of config folder "${folder}" (file names and contents) is ${formatBytes(bytes, LIMITS.configMap)}; the limit is ${formatBytes(LIMITS.configMap)} (move large files into the image or a volume)`,
    )
}

/** A folder's regular files (not hidden) and their sizes; none when it cannot be read (render says why). */
function fileSizes(folder: string): Map<string, number> {
  const out = new Map<string, number>()
  let names: string[]
  try {
    names = readdirSync(folder)
  } catch {
    return out
  }
  for (const name of names) {
    const stat = isHidden(name) ? undefined : statOrUndefined(join(folder, name))
    if (stat?.isFile()) out.set(name, stat.size)
  }
  return out
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch {
    return undefined
  }
}

/** A config file whose name no ConfigMap key may have (a space, an accent): render refused it with no line. */
function checkKeyName(file: string, where: string, path: (string | number)[], at: At): void {
  if (!CONFIG_KEY.test(basename(file))) at(path, `${where}: config file "${file}" cannot be a ConfigMap key (${CONFIG_KEY_RULE}); rename it`)
}

function isDirectoryOrUnknown(path: string): boolean | undefined {
  try {
    return statSync(path).isDirectory()
  } catch {
    return undefined
  }
}

/** The services of an environment whose config: names a folder (and that folder's path, from skycap.yaml's folder). */
interface ServicesWithConfig {
  withConfig: string[]
  all: string[]
  folderOf: Record<string, string>
}

/** The services of `env` whose config: names a folder, for its config folder's check. */
function servicesWithConfig(config: SkycapConfig, env: EnvironmentConfig): ServicesWithConfig {
  const all = Object.keys(config.services)
  const folderOf: Record<string, string> = {}
  for (const name of all) {
    const folder = env.services?.[name]?.config ?? config.services[name]?.config
    if (folder !== undefined) folderOf[name] = folder
  }
  return {all, withConfig: Object.keys(folderOf), folderOf}
}

/**
 * The templates folder as render reads it: the `templates` key's folder exists, it stays in the repository, and each
 * folder in it is named for an environment (deploy/<env>/). An absent `deploy` folder is fine: no templates.
 */
function checkTemplatesFolder(config: SkycapConfig, path: (string | number)[], at: At, folders: Folders): void {
  // Commands that read no templates (status, lock, rollback: loaded without the repository) are not held up by a
  // stray folder; outside a repository (SKYCAP_REVISION without .git) render checks the folder itself.
  if (folders.root === undefined) return
  const templates = config.templates ?? 'deploy'
  const full = resolve(folders.dir, templates)
  if (!existsSync(full)) {
    if (config.templates !== undefined) at(path, `templates: folder "${templates}" does not exist (relative to skycap.yaml); create it or remove the key`)
    return
  }
  // Outside the repository: one error, and its folders are not read (`templates: /etc` listed all of /etc).
  if (!checkInsideRepository(templates, path, at, folders)) return
  if (!statSync(full).isDirectory()) {
    at(path, `templates: "${templates}" is a file; templates must name a folder (its *.yaml for every environment, <env>/*.yaml for one)`)
    return
  }
  if (realpathSync(full) === realpathSync(folders.dir)) {
    at(path, templatesBesideConfig(templates))
    return
  }
  let names: string[]
  try {
    names = readdirSync(full)
  } catch {
    return // unreadable: render says so
  }
  const known = Object.keys(config.environments)
  for (const name of names.sort()) {
    if (Object.hasOwn(config.environments, name) || name === LOCAL_ENVIRONMENT) {
      const nested = nestedManifest(join(full, name))
      if (nested !== undefined)
        at(
          path,
          `templates: ${templates}/${name}/${nested} is in a folder inside ${templates}/${name}/, whose templates are only the files directly in it: it is not read, and an object it deployed would be pruned; move it into ${templates}/${name}/ itself, or out of ${templates}/ if it is no manifest`,
        )
      continue
    }
    if (isHidden(name)) continue
    let folder = false
    try {
      folder = statSync(join(full, name)).isDirectory()
    } catch {
      // a dangling link: render reports it
    }
    if (folder)
      at(
        path,
        `templates: folder "${templates}/${name}" does not match any environment${didYouMean(name, known)}; folders under ${templates}/ hold one environment's templates (known: ${known.join(', ')})`,
      )
  }
}

/**
 * The first YAML file (its path under `dir`) in a folder inside an environment's templates folder: such files are not
 * read (a manifest moved into `deploy/prod/app/` was dropped without a word, and the next deploy pruned its object).
 * Folders of partials only (`.liquid`) are fine.
 */
function nestedManifest(dir: string): string | undefined {
  const first = (at: string, depth: number): string | undefined => {
    let names: string[]
    try {
      names = readdirSync(at).sort()
    } catch {
      return undefined // not a folder, or unreadable: render says so
    }
    for (const name of names) {
      if (isHidden(name)) continue
      const file = join(at, name)
      let stat
      try {
        stat = statSync(file)
      } catch {
        continue // a dangling link: render reports it
      }
      if (stat.isDirectory() && depth < 8) {
        const found = first(file, depth + 1)
        if (found !== undefined) return `${name}/${found}`
      } else if (depth > 0 && stat.isFile() && /\.ya?ml$/.test(name)) return name
    }
    return undefined
  }
  return first(dir, 0)
}

/**
 * A templates or config folder must resolve (links followed) inside the repository: a deploy ships nothing else.
 * False when it does not (and `at` was told).
 */
function checkInsideRepository(folder: string, path: (string | number)[], at: At, folders: Folders): boolean {
  const full = resolve(folders.dir, folder)
  if (!existsSync(full) || folders.root === undefined) return true
  const outside = resolvesOutside(folders.root, full)
  if (outside === undefined) return true
  at(
    path,
    `${path.join('.')}: folder "${folder}" ${outside === full ? 'is' : `resolves to ${outside},`} outside the repository ${folders.shownRoot}; skycap reads templates and config files only from inside it`,
  )
  return false
}

/** Keys whose values are durations (the schema checks their form; their size is checked here). */
const DURATION_KEYS = new Set(['timeout', 'scaleDownDelay', 'duration'])

/** Every duration in skycap.yaml with its path: deploy.timeout, hooks' and notify's timeouts, strategy delays and pauses. */
function durationValues(value: unknown, path: (string | number)[] = []): Array<[(string | number)[], string]> {
  if (Array.isArray(value)) return value.flatMap((v, i) => durationValues(v, [...path, i]))
  if (typeof value !== 'object' || value === null) return []
  return Object.entries(value).flatMap(([k, v]): Array<[(string | number)[], string]> =>
    DURATION_KEYS.has(k) && typeof v === 'string' && new RegExp(DURATION_PATTERN).test(v.trim()) ? [[[...path, k], v]] : durationValues(v, [...path, k]),
  )
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

/** The app a skycap.yaml that failed its schema names, when `app` is a string. */
function appOf(data: unknown): {app: string} | undefined {
  const app = (data as {app?: unknown} | null)?.app
  return typeof app === 'string' && app !== '' ? {app} : undefined
}
