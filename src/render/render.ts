import {LOCAL_ENVIRONMENT, servicePorts as portsOf, unknownServiceError} from '../config/environment.js'
import {existsSync, readdirSync, readFileSync, realpathSync, statSync} from 'node:fs'
import {join, resolve} from 'node:path'

import type {ConfigWarning, Environment, HealthCheck, LoadedConfig, PodTemplatePatch, ServiceConfig} from '../config/types.js'
import {checkLink, isHidden, resolvesOutside, templatesBesideConfig} from '../config/confinement.js'
import {describeValue} from '../config/validate.js'
import {documentData, errorOffset} from '../config/yaml.js'
import {ConfigError, ConfigErrors, formatLocation, type SourceLocation} from '../errors.js'
import type {Revision} from '../vcs/vcs.js'
import {readError} from '../folders.js'
import {templatesDir} from '../paths.js'
import {CONFIG_MOUNT_PATH, readConfigFiles} from './configmap.js'
import {imageTagFor, serviceImages} from './images.js'
import {ANNOTATIONS, CLUSTER_SCOPED, contentNamedConfigMap, type KubeObject, LABELS, type RenderedObject, sortForApply} from './objects.js'
import {secretDataProblems} from './secrets.js'
import {closest} from '../suggest.js'
import {autoscalerWarnings} from '../strategies/autoscalers.js'
import {deploymentStrategy} from '../strategies/strategy.js'
import {patchPodTemplate} from './strategic-merge.js'
import {loadTemplateEngine, readTemplateFile, renderTemplate} from './templates.js'

/** Everything `render` produced for one environment at one revision. */
export interface RenderResult {
  app: string
  environment: Environment
  revision: Revision
  /** Image reference per service. */
  images: Record<string, string>
  /** Objects in apply order. */
  objects: RenderedObject[]
  /** Files of the templates folder that look like manifests but are not read (`x.json`, `ingress.ymal`). */
  warnings: ConfigWarning[]
}

export interface RenderOptions {
  /** Render only these services' built-in objects (and no repository templates). */
  services?: string[]
  /** Full image references by service that replace the revision's (skycap up: images built from the work tree). */
  images?: Record<string, string>
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** Renders the manifests of `env` at `revision`. Pure: reads files, never talks to a cluster. */
export async function renderEnvironment(loaded: LoadedConfig, env: Environment, revision: Revision, options: RenderOptions = {}): Promise<RenderResult> {
  try {
    return await renderFiles(loaded, env, revision, options)
  } catch (error) {
    // A template, a config file or a folder of them skycap may not read: named, with what to do (exit 2, not 1).
    throw readError(error, loaded.show)
  }
}

async function renderFiles(loaded: LoadedConfig, env: Environment, revision: Revision, options: RenderOptions): Promise<RenderResult> {
  await Promise.all([loadTemplateEngine(), loadYaml()])
  const {config, dir} = loaded
  const shownConfig = loaded.show(loaded.file)

  for (const name of options.services ?? []) {
    if (!env.services[name]) {
      throw unknownServiceError(loaded, name)
    }
  }

  const images = {...serviceImages(env, imageTagFor(loaded, env, revision)), ...options.images}

  const common = {
    [LABELS.partOf]: config.app,
    [LABELS.managedBy]: 'skycap',
    [LABELS.environment]: env.name,
  }
  const objects: RenderedObject[] = []
  const wanted = options.services ? new Set(options.services) : undefined
  const builtin = builtinTemplates()

  for (const [name, svc] of Object.entries(env.services)) {
    if (wanted && !wanted.has(name)) continue
    const labels = {[LABELS.name]: name, [LABELS.instance]: `${config.app}-${env.name}`, ...common, ...(svc.labels ?? {})}
    const selector = {[LABELS.name]: name, [LABELS.instance]: `${config.app}-${env.name}`}
    let configMapName: string | undefined
    if (svc.config !== undefined) {
      const files = readConfigFiles(resolve(dir, svc.config), env.config ? resolve(dir, env.config, name) : undefined, {root: loaded.root, shownFile: shownConfig, show: loaded.show})
      configMapName = contentNamedConfigMap(name, files.hash)
      const cm: KubeObject = {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: configMapName, labels}}
      if (Object.keys(files.data).length) cm.data = files.data
      if (Object.keys(files.binaryData).length) cm.binaryData = files.binaryData
      objects.push({object: cm, source: `${svc.config}/`, service: name})
    }
    const view = serviceView(name, svc, images[name] as string, labels, selector, configMapName, revision)
    for (const t of builtin) {
      if (t.file.endsWith('service.yaml') && view.servicePorts.length === 0) continue
      for (const object of parseBuiltin(renderTemplate(t.text, t.file, {service: view, app: config.app}), t.shown)) {
        if (object.kind === 'Deployment' && svc.podTemplate) applyPodTemplate(object, svc.podTemplate)
        const rolling = object.kind === 'Deployment' ? deploymentStrategy(svc) : undefined
        if (rolling) (object.spec as Record<string, unknown>).strategy = rolling
        objects.push({object, source: t.shown, service: name})
      }
    }
  }

  const warnings: ConfigWarning[] = []
  if (!wanted) {
    const context = templateContext(loaded, env, revision, images)
    const partials = {root: templatesFolder(loaded), show: loaded.show}
    for (const t of repositoryTemplates(loaded, env, warnings)) {
      for (const {object, line} of parseManifests(renderTemplate(t.text, t.shown, context, partials, missingValue(loaded, env)), t.shown)) {
        const existing = object.metadata?.labels ?? {}
        refuseOtherOwner(object, existing, common, {file: t.shown, line})
        refuseReservedName(object, {file: t.shown, line})
        object.metadata.labels = {...common, ...existing}
        labelPodTemplates(object, common)
        objects.push({object, source: t.shown, line})
      }
    }
  }

  const errors: ConfigError[] = []
  const seen = new Map<string, RenderedObject>()
  for (const r of objects) {
    const o = r.object
    if (!CLUSTER_SCOPED.has(o.kind)) {
      if (o.metadata.namespace !== undefined && o.metadata.namespace !== env.namespace) {
        errors.push(
          new ConfigError(
            `${o.kind}/${o.metadata.name} sets namespace "${o.metadata.namespace}", but environment ${env.name} deploys into "${env.namespace}"`,
            {file: r.source, line: r.line},
            {hint: 'Remove metadata.namespace; skycap sets it.'},
          ),
        )
      }
      // name and namespace first, so the YAML reads the way kubectl prints it.
      const {name, namespace: _ns, ...rest} = o.metadata
      o.metadata = {name, namespace: env.namespace, ...rest}
    }
    for (const problem of secretDataProblems(o)) {
      errors.push(new ConfigError(problem, {file: r.source, line: r.line}, {hint: 'Put base64 (e.g. `printf %s VALUE | base64`) under data, or the plain value under stringData.'}))
    }
    const key = `${o.apiVersion.split('/')[0]}|${o.kind}|${o.metadata.name}`
    const first = seen.get(key)
    if (first === undefined) seen.set(key, r)
    else {
      // skycap's own objects come first: the second is a repository template's, which can be renamed.
      const where = {file: r.source, line: r.line}
      errors.push(
        first.service !== undefined
          ? new ConfigError(`${o.kind}/${o.metadata.name} is rendered twice: skycap makes it for service ${first.service} of skycap.yaml`, where, {
              hint: "Rename the object in the template, or remove it: skycap names each service's Deployment and Service after the service.",
            })
          : new ConfigError(`${o.kind}/${o.metadata.name} is rendered twice (also by ${formatLocation({file: first.source, line: first.line})})`, where, {hint: 'Give each object a unique name.'}),
      )
    }
  }
  // Each problem's hint, once: the terminal and --json show the hint of the whole error, not of its parts.
  if (errors.length) throw new ConfigErrors(errors, [...new Set(errors.map((e) => e.hint).filter((h) => h !== undefined))].join(' ') || undefined, {app: loaded.config.app, environment: env.name})

  warnings.push(...autoscalerWarnings(objects, env.services))
  return {app: config.app, environment: env, revision, images, objects: sortForApply(objects), warnings}
}

/** Applies a service's `podTemplate` (checked when skycap.yaml was loaded) to its Deployment's pod template. */
function applyPodTemplate(deployment: KubeObject, patch: PodTemplatePatch): void {
  const spec = deployment.spec as {template: Record<string, unknown>}
  spec.template = patchPodTemplate(spec.template, patch as Record<string, unknown>)
}

/**
 * The app's labels on the pods (and CronJob Jobs) a repository template's workload makes. The deploy watch finds
 * pods by these labels in one `kubectl get`; without them a crash-looping StatefulSet from deploy/ would only be
 * noticed at the timeout, and its failure report would have no logs. Labels the template sets itself win.
 */
function labelPodTemplates(object: KubeObject, common: Record<string, string>): void {
  type Template = {metadata?: {labels?: Record<string, string>}; spec?: {template?: Template}}
  const spec = (object as {spec?: {template?: Template; jobTemplate?: Template}}).spec
  if (!spec || typeof spec !== 'object') return
  const templates: Template[] = []
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(object.kind) && spec.template) templates.push(spec.template)
  if (object.kind === 'CronJob' && spec.jobTemplate) {
    templates.push(spec.jobTemplate)
    if (spec.jobTemplate.spec?.template) templates.push(spec.jobTemplate.spec.template)
  }
  for (const t of templates) {
    if (!t || typeof t !== 'object') continue
    t.metadata = {...t.metadata, labels: {...common, ...(t.metadata?.labels ?? {})}}
  }
}

/** Names skycap gives its own objects in the namespace: release records, the lock, the rollout state. */
const RESERVED_PREFIXES = ['skycap-release-', 'skycap-lock-', 'skycap-rollout-']

/** A template's object named like skycap's own (a release record, the lock) would be taken for it, or stop it being written. */
function refuseReservedName(object: KubeObject, at: SourceLocation): void {
  const prefix = RESERVED_PREFIXES.find((p) => object.metadata.name.startsWith(p))
  if (prefix === undefined) return
  throw new ConfigError(`${object.kind}/${object.metadata.name}: names starting with ${prefix} are skycap's own (release records, the deploy lock, the rollout state)`, at, {
    hint: 'Give the object another name.',
  })
}

/**
 * A template's object may repeat skycap's ownership labels (a manifest moved from elsewhere often names its app),
 * but not give them other values: skycap tells by them whose an object is, so the next deploy would take its own
 * object for another app's and refuse it, and never prune it. (Its pod template's labels are the template's own.)
 */
function refuseOtherOwner(object: KubeObject, labels: Record<string, unknown>, common: Record<string, string>, at: SourceLocation): void {
  for (const [key, value] of Object.entries(common)) {
    if (labels[key] === undefined || labels[key] === value) continue
    throw new ConfigError(
      `${object.kind}/${object.metadata.name} sets the label ${key}: ${String(labels[key])}; skycap sets it to ${value} (it tells whose an object is, for the deploy's ownership check and pruning)`,
      at,
      {hint: `Remove the label ${key} from the template (or give it the value ${value}); skycap adds it to every object it deploys.`},
    )
  }
}

/** What the built-in templates see as `service`: skycap.yaml's service, spelled the way Kubernetes wants it. */
function serviceView(name: string, svc: ServiceConfig, image: string, labels: Record<string, string>, selector: Record<string, string>, configMap: string | undefined, revision: Revision) {
  const ports = portsOf(svc)
  const containerPorts = ports.map((p) => ({...(p.name ? {name: p.name} : {}), containerPort: p.targetPort ?? p.port, protocol: p.protocol ?? 'TCP'}))
  const servicePorts = ports.map((p) => ({...(p.name ? {name: p.name} : {}), port: p.port, targetPort: p.targetPort ?? p.port, protocol: p.protocol ?? 'TCP'}))
  const defaultPort = ports[0]?.targetPort ?? ports[0]?.port
  const preStop = svc.lifecycle?.preStop
  const env = Object.entries(svc.env ?? {}).map(([k, v]) => ({name: k, value: String(v)}))
  const envFrom = (svc.envFrom ?? []).map((e) => (e.secret ? {secretRef: {name: e.secret}} : {configMapRef: {name: e.configMap}}))
  // Unset fields are null, not undefined: `{% if %}` on an undefined variable costs Liquid a thrown and caught error.
  return {
    name,
    image,
    replicas: svc.replicas ?? 1,
    labels,
    annotations: {[ANNOTATIONS.revision]: revision.sha, ...(svc.annotations ?? {})},
    selector,
    podLabels: labels,
    command: svc.command ?? null,
    args: svc.args ?? null,
    containerPorts: containerPorts.length ? containerPorts : null,
    servicePorts,
    env: env.length ? env : null,
    envFrom: envFrom.length ? envFrom : null,
    // skycap's own default period for readiness: a deploy sees a ready pod sooner than with Kubernetes' 10 s.
    readinessProbe: svc.healthcheck ? probe(svc.healthcheck, defaultPort, 5) : null,
    livenessProbe: svc.liveness ? probe(svc.liveness, defaultPort) : null,
    startupProbe: svc.startup ? probe(svc.startup, defaultPort) : null,
    lifecycle: preStop ? {preStop: preStop.sleep !== undefined ? {sleep: {seconds: preStop.sleep}} : handler(preStop, defaultPort)} : null,
    containerSecurityContext: svc.containerSecurityContext ?? null,
    resources: svc.resources ? normalizeResources(svc.resources) : null,
    configMap: configMap ?? null,
    configMountPath: CONFIG_MOUNT_PATH,
    terminationGracePeriodSeconds: svc.terminationGracePeriodSeconds ?? null,
    minReadySeconds: svc.minReadySeconds ?? null,
    serviceAccountName: svc.serviceAccountName ?? null,
    securityContext: svc.securityContext ?? null,
    nodeSelector: svc.nodeSelector && Object.keys(svc.nodeSelector).length ? svc.nodeSelector : null,
    affinity: svc.affinity ?? null,
    tolerations: svc.tolerations?.length ? svc.tolerations : null,
  }
}

/** A Kubernetes probe from a skycap health check (healthcheck, liveness, startup). */
function probe(check: HealthCheck, defaultPort: number | undefined, defaultPeriodSeconds?: number): Record<string, unknown> {
  const fields = {
    initialDelaySeconds: check.initialDelaySeconds,
    periodSeconds: check.periodSeconds ?? defaultPeriodSeconds,
    timeoutSeconds: check.timeoutSeconds,
    failureThreshold: check.failureThreshold,
  }
  return {...handler(check, defaultPort), ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined))}
}

/** The action of a probe or hook: exec `command`, HTTP GET `path`, or a TCP check on the port alone. */
function handler(action: {command?: string[]; path?: string; port?: number}, defaultPort: number | undefined): Record<string, unknown> {
  const port = action.port ?? defaultPort
  return action.command ? {exec: {command: action.command}} : action.path ? {httpGet: {path: action.path, port}} : {tcpSocket: {port}}
}

function normalizeResources(r: NonNullable<ServiceConfig['resources']>): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {}
  for (const [k, list] of Object.entries(r)) {
    if (!list) continue
    out[k] = Object.fromEntries(Object.entries(list).map(([name, q]) => [name, String(q)]))
  }
  return out
}

/** Where a value the derived `local` lacks goes: it has no `environments.local` to add it to (docs/local.md). */
function missingValue(loaded: LoadedConfig, env: Environment): ((key: string) => string) | undefined {
  if (!env.derived) return undefined
  const from = loaded.config.defaultEnvironment
  const values = from === undefined ? 'no values (skycap.yaml sets no defaultEnvironment)' : `the values of ${from} (defaultEnvironment)`
  const where = from === undefined ? '' : `add it under environments.${from}.values, or `
  return (key) => `${env.name} has no value ${key}: it is derived (docs/local.md) and takes ${values}; ${where}declare environments.${env.name} with its values in skycap.yaml`
}

/** The variables repository templates see. */
function templateContext(loaded: LoadedConfig, env: Environment, revision: Revision, images: Record<string, string>) {
  const services: Record<string, unknown> = {}
  for (const [name, svc] of Object.entries(env.services)) {
    services[name] = {name, image: images[name], replicas: svc.replicas ?? 1, port: svc.port ?? svc.ports?.[0]?.port ?? null, ports: portsOf(svc)}
  }
  return {
    app: loaded.config.app,
    env: {name: env.name, namespace: env.namespace, context: env.context ?? null, protected: env.protected},
    values: env.values,
    revision: {sha: revision.sha, short: revision.short, subject: revision.subject},
    services,
  }
}

interface TemplateFile {
  file: string
  shown: string
  text: string
}

let builtinCache: TemplateFile[] | undefined

function builtinTemplates(): TemplateFile[] {
  if (!builtinCache) {
    const dir = join(templatesDir, 'manifests')
    builtinCache = readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => ({file: join(dir, f), shown: `templates/manifests/${f}`, text: readFileSync(join(dir, f), 'utf8')}))
  }
  return builtinCache
}

/**
 * Why a file of the templates folder that is not read looks like a manifest that was meant to be: a JSON manifest
 * (kubectl reads those), or an extension one typo from YAML's (`ymal`, `YAML`). Undefined for anything else (a
 * partial such as `_labels.liquid`, a README, an editor's backup `x.yaml~`).
 */
export function unreadManifest(name: string): string | undefined {
  const dot = name.lastIndexOf('.')
  if (dot <= 0) return undefined
  const base = name.slice(0, dot)
  const ext = name.slice(dot + 1)
  if (ext === 'json') return `JSON is YAML: rename it ${base}.yaml to deploy it`
  const near = ext.toLowerCase() === 'xml' || !/^[a-z]+$/i.test(ext) ? undefined : closest(ext, ['yaml', 'yml'])
  if (near === undefined) return undefined
  return `did you mean ${base}.${near}?`
}

/** deploy/*.yaml for every environment, then deploy/<env>/*.yaml; each file and folder inside the repository. */
function repositoryTemplates(loaded: LoadedConfig, env: Environment, warnings: ConfigWarning[] = []): TemplateFile[] {
  const folder = loaded.config.templates ?? 'deploy'
  const root = templatesFolder(loaded)
  if (!existsSync(root)) {
    if (loaded.config.templates !== undefined) {
      const pos = loaded.locate(['templates'])
      throw new ConfigError(`templates folder "${folder}" does not exist`, {file: loaded.show(loaded.file), line: pos?.line, column: pos?.column}, {hint: 'Create it or remove the templates key.'})
    }
    return []
  }
  const shownRoot = loaded.show(loaded.root)
  const outside = resolvesOutside(loaded.root, root)
  if (outside !== undefined) throw new ConfigError(`templates folder "${folder}" resolves to ${outside}, outside the repository ${shownRoot}`, {file: loaded.show(loaded.file)})
  if (realpathSync(root) === realpathSync(loaded.dir)) throw new ConfigError(templatesBesideConfig(folder), {file: loaded.show(loaded.file), ...loaded.locate(['templates'])})
  const entries = (dir: string) =>
    readdirSync(dir)
      .filter((f) => !isHidden(f))
      .sort()
      .map((f) => {
        const file = join(dir, f)
        checkLink(loaded.root, file, loaded.show(file), shownRoot)
        return {name: f, file, stat: statSync(file)}
      })
  const out: TemplateFile[] = []
  const list = (dir: string) =>
    entries(dir)
      .filter((e) => {
        if (!e.stat.isFile()) return false
        if (/\.ya?ml$/.test(e.name)) return true
        // A deployed object whose file was renamed to .json would be pruned by the next deploy without a word.
        const why = unreadManifest(e.name)
        if (why) warnings.push({message: `not read: templates are *.yaml and *.yml files (${why})`, file: loaded.show(e.file)})
        return false
      })
      .map(({file}) => {
        const shown = loaded.show(file)
        return {file, shown, text: readTemplateFile(file, shown)}
      })
  out.push(...list(root))
  for (const sub of entries(root)) {
    if (!sub.stat.isDirectory()) continue
    // `local` need not be declared (skycap up derives it), and its folder holds its templates all the same.
    if (!loaded.config.environments[sub.name] && sub.name !== LOCAL_ENVIRONMENT) {
      throw new ConfigError(
        `template folder "${folder}/${sub.name}" does not match any environment`,
        {file: loaded.show(sub.file)},
        {
          hint: `Folders under ${folder}/ hold templates for one environment; known: ${Object.keys(loaded.config.environments).join(', ')}.`,
        },
      )
    }
    if (sub.name === env.name) out.push(...list(sub.file))
  }
  return out
}

/** The templates folder of `loaded` (absolute), which `{% include %}`, `{% render %}` and `{% layout %}` are rooted at. */
export function templatesFolder(loaded: LoadedConfig): string {
  return resolve(loaded.dir, loaded.config.templates ?? 'deploy')
}

let yamlModule: typeof import('yaml') | undefined

/** Parses rendered multi-document YAML into objects, each with the line it starts on; empty documents are skipped. */
function parseManifests(text: string, file: string): Array<{object: KubeObject; line?: number}> {
  const YAML = yamlModule as typeof import('yaml')
  const lineCounter = new YAML.LineCounter()
  // prettyErrors: false, or each message ends with "at line 5, column 1:" after the position skycap gives it.
  // merge: YAML 1.1's `<<: *anchor`, as kubectl reads manifests (without it the key stayed a literal "<<").
  const docs = YAML.parseAllDocuments(text, {lineCounter, prettyErrors: false, merge: true})
  const out: Array<{object: KubeObject; line?: number}> = []
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length) {
      const e = doc.errors[0] as import('yaml').YAMLError
      throw new ConfigError(
        `rendered template is not valid YAML: ${e.message.split('\n')[0]}`,
        {file, ...positionOf(lineCounter, errorOffset(text, e))},
        {
          hint: 'Line numbers are of the rendered text; quote inserted values with `| json`.',
        },
      )
    }
    const value = documentData(YAML, doc, file, lineCounter)
    if (value === null || value === undefined) continue
    const line = positionOf(lineCounter, doc.contents?.range?.[0]).line
    // A List (what `kubectl get -o yaml` writes) is its items, as kubectl apply takes it: each one checked,
    // namespaced and labelled like a document of its own, at its own line in the List (the List's line when the
    // items are not a plain sequence of the document, an alias say).
    const list = value as {kind?: unknown; items?: unknown}
    if (list.kind === 'List' && Array.isArray(list.items)) {
      const items: unknown[] = list.items
      const nodes = doc.get('items', true)
      const itemNodes = YAML.isSeq(nodes) ? nodes.items : []
      items.forEach((item, i) => {
        const at = itemNodes.length === items.length ? (positionOf(lineCounter, (itemNodes[i] as {range?: [number, number, number]} | undefined)?.range?.[0]).line ?? line) : line
        out.push({object: checkObject(item, {file, line: at}), line: at})
      })
    } else out.push({object: checkObject(value, {file, line}), line})
  }
  return out
}

/** Line and column of `offset` in the rendered text, when there is one. */
function positionOf(lineCounter: import('yaml').LineCounter, offset: number | undefined): {line?: number; column?: number} {
  if (offset === undefined) return {}
  const {line, col} = lineCounter.linePos(offset)
  return {line, column: col}
}

/**
 * The built-in templates are JSON (which is also YAML): JSON.parse reads them several times faster than a YAML
 * parser. They are skycap's own, so one that does not render JSON is a bug in skycap, not in the user's input.
 */
function parseBuiltin(text: string, file: string): KubeObject[] {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new Error(`built-in template ${file} rendered invalid JSON (${(error as Error).message}); this is a bug in skycap, please report it`, {cause: error})
  }
  return [checkObject(value, {file})]
}

/** `value`, a rendered document at `where`, as a Kubernetes object; refused, saying what it lacks, when it is not one. */
function checkObject(value: unknown, where: SourceLocation): KubeObject {
  const hint = 'Each document (between --- lines) is one object with apiVersion, kind and metadata.name; line numbers are of the rendered text.'
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`a template document must be a Kubernetes object (a mapping), not ${describeValue(value)}`, where, {hint})
  }
  const o = value as KubeObject
  const fields: Array<[string, unknown]> = [
    ['apiVersion', o.apiVersion],
    ['kind', o.kind],
    ['metadata.name', typeof o.metadata === 'object' && o.metadata !== null ? o.metadata.name : undefined],
  ]
  const wrong = fields.filter(([, v]) => typeof v !== 'string' || v === '')
  if (wrong.length) {
    const missing = wrong.filter(([, v]) => v === undefined || v === null || v === '')
    const typed = wrong.filter((w) => !missing.includes(w))
    const problems = [...(missing.length ? [`it has no ${missing.map(([k]) => k).join(', no ')}`] : []), ...typed.map(([k, v]) => `${k} is ${describeValue(v)}, not a string`)]
    throw new ConfigError(`a rendered object needs apiVersion, kind and metadata.name: ${problems.join('; ')}`, where, {
      hint: typed.length ? 'Quote the value (a number or boolean a template inserts: `{{ x | json }}`); line numbers are of the rendered text.' : hint,
    })
  }
  if (!NAME.test(o.metadata.name) || o.metadata.name.length > 253) {
    throw new ConfigError(`${o.kind} name "${o.metadata.name}" is not a valid Kubernetes name (lowercase letters, digits, '-', '.')`, where, {
      hint: 'Rename it: at most 253 characters, starting and ending with a letter or digit.',
    })
  }
  return o
}

/** Loads the YAML library once (kept out of start-up). */
export async function loadYaml(): Promise<void> {
  yamlModule ??= await import('yaml')
}
