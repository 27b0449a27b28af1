// docker buildx: builds and pushes in one step (multi-platform images need it), nothing pushed when the build fails.
import {type Builder, buildFlags, runStep} from './builder.js'

/** `docker buildx build --push` (`--load` into the local docker when the image is not pushed). */
export const buildxBuilder: Builder = {
  name: 'buildx',
  multiPlatform: true,
  async build(b, io) {
    await runStep(io, 'docker', ['buildx', 'build', b.push ? '--push' : '--load', '--tag', b.image, ...buildFlags(b, {platforms: true}), b.context], {env: {BUILDX_NO_DEFAULT_ATTESTATIONS: '1'}})
  },
}
