// podman: a single-platform build is an image, several platforms a manifest list; pushed after every build passed.
import {type Builder, buildFlags, runStep} from './builder.js'

/** `podman build` + `podman push` (or `podman manifest push --all` for several platforms). */
export const podmanBuilder: Builder = {
  name: 'podman',
  multiPlatform: true,
  async build(b, io) {
    const output = b.platforms.length > 1 ? ['--manifest', b.image] : ['--tag', b.image]
    await runStep(io, 'podman', ['build', ...output, ...buildFlags(b, {platforms: true}), b.context])
  },
  async push(b, io) {
    if (b.platforms.length > 1) await runStep(io, 'podman', ['manifest', 'push', '--all', b.image, `docker://${b.image}`])
    else await runStep(io, 'podman', ['push', b.image])
  },
}
