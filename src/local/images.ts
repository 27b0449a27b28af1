import {relative, resolve} from 'node:path'

import {LOCAL_REGISTRY_VARIABLE} from '../config/environment.js'
import type {Environment, LoadedConfig} from '../config/types.js'
import {UserError} from '../errors.js'
import type {Reporter} from '../ui/output.js'

/** What skycap up asks of the image phase: build the work tree's images of some services. */
export interface ImageRequest {
  loaded: LoadedConfig
  env: Environment
  /** The services to build (each has `build:`). */
  services: string[]
  /** Push under this registry host instead of the environment's registry (the local registry); undefined: the environment's. */
  registry?: string
  /** Push to the registry; false leaves the images in the local docker (to be loaded, or shared with the cluster). */
  push: boolean
  reporter: Reporter
  signal?: AbortSignal
}

/**
 * The seam between skycap up and `skycap build --work-tree` (src/build/): which services build, from which files,
 * and the build itself. Unit tests pass a fake.
 */
export interface ImagePhase {
  /** The services of `env` that have `build:`. */
  buildable(loaded: LoadedConfig, env: Environment): string[]
  /** The folders (absolute) a service's build reads: a change there rebuilds it under --watch. */
  inputs(loaded: LoadedConfig, env: Environment, service: string): string[]
  /** Builds `services` from the work tree; returns the full image reference of each, by service. */
  build(request: ImageRequest): Promise<Record<string, string>>
}

/**
 * `skycap build --work-tree` (src/build/) as up's image phase: pushes to the local registry (the derived `local`
 * environment) or the environment's own registry (a declared one, as written).
 */
export const workTreeBuilds: ImagePhase = {
  buildable: (loaded, env) => Object.keys(env.services).filter((s) => loaded.config.services[s]?.build),
  inputs(loaded, _env, service) {
    const spec = loaded.config.services[service]?.build ?? {}
    const context = resolve(loaded.dir, spec.context ?? relative(loaded.dir, loaded.root))
    return [context, resolve(context, spec.dockerfile ?? 'Dockerfile')]
  },
  async build(request) {
    if (!request.push) {
      throw new UserError(`this cluster has no registry, and skycap build cannot yet build ${request.services.join(', ')} without pushing; nothing was changed`, {
        hint: 'Use a cluster with a local registry (skycap up --cluster kind creates one; ctlptl and k3d clusters have one), or advertise yours with the local-registry-hosting ConfigMap (docs/local.md).',
      })
    }
    const {buildImages} = await import('../build/build.js')
    // The derived `local` environment pushes to the local registry (src/config/environment.ts); only for this build:
    // the services up does not build keep skycap.yaml's registry when deploy renders them.
    const previous = process.env[LOCAL_REGISTRY_VARIABLE]
    if (request.registry && request.env.derived) process.env[LOCAL_REGISTRY_VARIABLE] = request.registry
    try {
      const report = await buildImages(
        {environment: request.env.name, workTree: true, configPath: request.loaded.file, services: request.services},
        {reporter: request.reporter, output: (line) => request.reporter.info(line), signal: request.signal},
      )
      return Object.fromEntries(report.images.map((i) => [i.service, i.image]))
    } finally {
      if (previous === undefined) delete process.env[LOCAL_REGISTRY_VARIABLE]
      else process.env[LOCAL_REGISTRY_VARIABLE] = previous
    }
  },
}
