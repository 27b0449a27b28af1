// podman: a single-platform build is an image, several platforms a manifest list; pushed after every build passed.
import {type Builder, buildFlags, type ImageBuild, runStep} from './builder.js'

/**
 * Without podman's layer cache when the build has build args or platforms: podman 4.3 (Debian 12) reuses a cached
 * layer across a changed --build-arg (`ENV X=$ARG` kept the previous commit's value, and the new tag got the old
 * image) and across platforms (a two-platform --manifest of a FROM scratch image got one image, labelled with the
 * wrong platform). --layers=false neither reads nor writes that cache, so each such build is its own; a build
 * without either keeps the cache (its inputs are the Dockerfile and the context, which the cache does compare).
 */
export function podmanCacheFlags(b: ImageBuild): string[] {
  return b.args.length || b.platforms.length ? ['--layers=false'] : []
}

/** `podman build` + `podman push` (or `podman manifest push --all` for several platforms). */
export const podmanBuilder: Builder = {
  name: 'podman',
  multiPlatform: true,
  async build(b, io) {
    const output = b.platforms.length > 1 ? ['--manifest', b.image] : ['--tag', b.image]
    await runStep(io, 'podman', ['build', ...output, ...podmanCacheFlags(b), ...buildFlags(b, {platforms: true}), b.context])
  },
  async push(b, io) {
    if (b.platforms.length > 1) await runStep(io, 'podman', ['manifest', 'push', '--all', b.image, `docker://${b.image}`])
    else await runStep(io, 'podman', ['push', b.image])
  },
}
