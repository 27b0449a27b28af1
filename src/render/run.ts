import {existsSync, realpathSync} from 'node:fs'
import {basename, dirname, join, resolve} from 'node:path'

import {isInside} from '../config/confinement.js'
import {configFilePath} from '../config/load.js'
import {InterruptedError, UserError} from '../errors.js'
import {UNRECORDABLE_HINT, unrecordableNote} from '../release/pack.js'
import {formatWarning, plural, type Reporter} from '../ui/output.js'
import {prepareRelease} from './prepare.js'
import {countSecretsWithValues, redactSecretValues} from './secrets.js'
import {toYaml, writeObjects} from './serialize.js'

export interface RenderRunOptions {
  target?: string
  configPath?: string
  services?: string[]
  outputDir?: string
  /** Print Secret values on stdout and in --json; they are redacted otherwise. Files in outputDir always hold them. */
  showSecrets?: boolean
  /** Ctrl-C: stops before anything is printed or written, and removes a revision's temporary files (prepareRelease). */
  signal?: AbortSignal
}

/** What `skycap render` returns: the YAML (or the files written) and a summary for --json. */
export interface RenderRunResult {
  yaml?: string
  files?: string[]
  summary: {
    app: string
    environment: string
    namespace: string
    context: string | null
    revision: {sha: string; short: string; subject: string; dirty: boolean}
    images: Record<string, string>
    objects: Array<{kind: string; name: string; namespace?: string; source: string; manifest: unknown}>
    files?: string[]
    /** Files of an earlier render removed from outputDir. */
    removed?: string[]
  }
}

/** `skycap render`: the manifests of ENV@REV on stdout or in a folder. */
export async function runRender(options: RenderRunOptions, reporter: Reporter): Promise<RenderRunResult> {
  const prepared = await prepareRelease({target: options.target, configPath: options.configPath, services: options.services, signal: options.signal})
  if (options.signal?.aborted) throw new InterruptedError('interrupted; nothing was printed or written')
  for (const w of prepared.warnings) reporter.warn(formatWarning(w))
  const objects = prepared.objects.map((r) => r.object)
  // Of the whole release only: a part of it (-s) says nothing of what deploy records.
  const unrecordable = options.services?.length ? undefined : unrecordableNote(objects)
  if (unrecordable) reporter.warn(`deploy would refuse this release: ${unrecordable}. ${UNRECORDABLE_HINT}`)
  // Redacted copies for the terminal and the JSON report only; `objects` keep their values for the files.
  const shown = options.showSecrets ? objects : redactSecretValues(objects)
  const secrets = options.showSecrets ? 0 : countSecretsWithValues(objects)
  const summary: RenderRunResult['summary'] = {
    app: prepared.app,
    environment: prepared.environment.name,
    namespace: prepared.environment.namespace,
    context: prepared.environment.context ?? null,
    revision: {sha: prepared.revision.sha, short: prepared.revision.short, subject: prepared.revision.subject, dirty: prepared.revision.dirty},
    images: prepared.images,
    objects: prepared.objects.map((r, i) => ({kind: r.object.kind, name: r.object.metadata.name, namespace: r.object.metadata.namespace, source: r.source, manifest: shown[i]})),
  }
  if (options.outputDir) {
    refuseOutputInTemplates(options.outputDir, resolve(dirname(configFilePath({configPath: options.configPath})), prepared.loaded.config.templates ?? 'deploy'))
    const {files, removed} = await writeObjects(options.outputDir, objects)
    if (removed.length > 0) reporter.info(`removed ${plural(removed.length, 'stale file')} of an earlier render from ${options.outputDir}`)
    reporter.info(`wrote ${plural(files.length, 'file')} to ${options.outputDir}`)
    return {files, summary: {...summary, files, removed}}
  }
  if (secrets > 0) reporter.warn(`the values of ${plural(secrets, 'Secret')} are redacted on stdout; --show-secrets prints them, --output-dir writes them to files`)
  return {yaml: await toYaml(shown), summary}
}

/**
 * `render -o deploy/staging` wrote the rendered manifests (Secrets in plain text) into the templates folder: the next
 * render read them as templates ("rendered twice"), and an earlier render's files there were removed as stale.
 */
function refuseOutputInTemplates(outputDir: string, templates: string): void {
  if (!existsSync(templates)) return
  if (!isInside(realpathSync(templates), realPathOf(resolve(outputDir)))) return
  throw new UserError(`--output-dir ${outputDir} is inside the templates folder ${templates}: its files would be read as templates by the next render, Secrets in plain text; nothing was written`, {
    hint: 'Pass a folder outside the templates folder (e.g. rendered/, ignored by git).',
    details: {path: outputDir},
  })
}

/** The real path of `path`, whose last parts may not exist yet (a folder --output-dir creates). */
function realPathOf(path: string): string {
  if (existsSync(path)) return realpathSync(path)
  const parent = dirname(path)
  return parent === path ? path : join(realPathOf(parent), basename(path))
}
