import {buildInputs} from '../build/inputs.js'
import {LOCAL_ENVIRONMENT} from '../config/environment.js'
import type {Environment, LoadedConfig} from '../config/types.js'
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
  /** Builds `services` from the work tree: the full image reference of each, by service, and those it skipped. */
  build(request: ImageRequest): Promise<DeliveredImages>
}

/** The image of each service built for up, and which of them the registry had already (not built again). */
export interface DeliveredImages {
  images: Record<string, string>
  skipped: string[]
}

/**
 * `skycap build --work-tree` (src/build/) as up's image phase: pushes to the local registry (the derived `local`
 * environment) or the environment's own registry (a declared one, as written); without a registry the images stay in
 * the local docker and up loads them into the cluster (kind load, k3d image import, minikube image load).
 */
export const workTreeBuilds: ImagePhase = {
  buildable: (loaded, env) => Object.keys(env.services).filter((s) => loaded.config.services[s]?.build),
  inputs: (loaded, _env, service) => buildInputs(loaded, service),
  async build(request) {
    const {buildImages} = await import('../build/build.js')
    // The derived `local` environment is named under the local registry; a declared environment keeps its own.
    // Only the built images: the services up does not build keep skycap.yaml's registry when deploy renders them.
    const registry = request.registry && request.env.derived ? request.registry : undefined
    const report = await buildImages(
      {
        environment: request.env.name,
        workTree: true,
        configPath: request.loaded.file,
        services: request.services,
        push: request.push,
        forceFlag: false,
        again: `run skycap up${request.env.name === LOCAL_ENVIRONMENT ? '' : ` ${request.env.name}`} again`,
        ...(registry ? {registry} : {}),
      },
      {reporter: request.reporter, output: (line) => request.reporter.info(line), signal: request.signal},
    )
    return {images: Object.fromEntries(report.images.map((i) => [i.service, i.image])), skipped: report.images.filter((i) => i.result === 'skipped').map((i) => i.service)}
  },
}
