// A service's own build command (build.command): it receives the reference and must build and push it itself.
import {type Builder, runStep} from './builder.js'

/**
 * Runs build.command in the context with SKYCAP_IMAGE (and the tag, service, context, and SKYCAP_PUSH=false when the
 * image is to stay local) in its environment.
 */
export const commandBuilder: Builder = {
  name: 'command',
  multiPlatform: true,
  async build(b, io) {
    const [program, ...args] = b.command as [string, ...string[]]
    await runStep(io, program, args, {cwd: b.context, env: {SKYCAP_IMAGE: b.image, SKYCAP_IMAGE_TAG: b.tag, SKYCAP_SERVICE: b.service, SKYCAP_CONTEXT: b.context, SKYCAP_PUSH: String(b.push)}})
  },
}
