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
  /** Builds `services` from the work tree; returns the full image reference of each, by service. */
  build(request: ImageRequest): Promise<Record<string, string>>
}

/** Until skycap build lands here, no service has `build:`: up deploys the images the revision names. */
export const noBuilds: ImagePhase = {
  buildable: () => [],
  inputs: () => [],
  build: async () => ({}),
}
