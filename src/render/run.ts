import {formatWarning, type Reporter} from '../ui/output.js'
import {prepareRelease} from './prepare.js'
import {toYaml, writeObjects} from './serialize.js'

export interface RenderRunOptions {
  target?: string
  configPath?: string
  services?: string[]
  outputDir?: string
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
  }
}

/** `skycap render`: the manifests of ENV@REV on stdout or in a folder. */
export async function runRender(options: RenderRunOptions, reporter: Reporter): Promise<RenderRunResult> {
  const prepared = await prepareRelease({target: options.target, configPath: options.configPath, services: options.services})
  for (const w of prepared.warnings) reporter.warn(formatWarning(w))
  const objects = prepared.objects.map((r) => r.object)
  const summary: RenderRunResult['summary'] = {
    app: prepared.app,
    environment: prepared.environment.name,
    namespace: prepared.environment.namespace,
    context: prepared.environment.context ?? null,
    revision: {sha: prepared.revision.sha, short: prepared.revision.short, subject: prepared.revision.subject, dirty: prepared.revision.dirty},
    images: prepared.images,
    objects: prepared.objects.map((r) => ({kind: r.object.kind, name: r.object.metadata.name, namespace: r.object.metadata.namespace, source: r.source, manifest: r.object})),
  }
  if (options.outputDir) {
    const files = await writeObjects(options.outputDir, objects)
    reporter.info(`wrote ${files.length} files to ${options.outputDir}`)
    return {files, summary: {...summary, files}}
  }
  return {yaml: await toYaml(objects), summary}
}
