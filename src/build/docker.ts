// docker build, then docker push once every build of the run has passed: a failed build pushes nothing.
import {type Builder, buildFlags, runStep} from './builder.js'

/** `docker build` + `docker push` (the daemon's own builder; one platform). */
export const dockerBuilder: Builder = {
  name: 'docker',
  multiPlatform: false,
  async build(b, io) {
    await runStep(io, 'docker', ['build', '--tag', b.image, ...buildFlags(b, {platforms: true}), b.context])
  },
  async push(b, io) {
    await runStep(io, 'docker', ['push', b.image])
  },
}
