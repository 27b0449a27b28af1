import {relative, resolve} from 'node:path'

import type {LoadedConfig} from '../config/types.js'

/**
 * The paths (absolute) a service's build reads: its context (default the repository root) and, for a Dockerfile
 * build, the Dockerfile and the `.dockerignore` BuildKit reads beside it (`<Dockerfile>.dockerignore`).
 */
export function buildInputs(loaded: LoadedConfig, service: string): string[] {
  const spec = loaded.config.services[service]?.build ?? {}
  const context = resolve(loaded.dir, spec.context ?? relative(loaded.dir, loaded.root))
  if (spec.command) return [context]
  const dockerfile = resolve(context, spec.dockerfile ?? 'Dockerfile')
  return [context, dockerfile, `${dockerfile}.dockerignore`]
}
