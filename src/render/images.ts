import {isDomain} from '../config/image-reference.js'
import type {Environment, LoadedConfig} from '../config/types.js'
import {ConfigError} from '../errors.js'
import type {Revision} from '../vcs/vcs.js'
import {renderTemplate} from './templates.js'

/** True when `image` is a full reference (has a tag or digest) and is used exactly as written. */
export function isFullReference(image: string): boolean {
  const lastSegment = image.slice(image.lastIndexOf('/') + 1)
  return image.includes('@') || lastSegment.includes(':')
}

/** Whether `image` starts with a registry host (`ghcr.io/acme/web`, `localhost:5000/web`), as Docker tells one. */
function namesRegistryHost(image: string): boolean {
  const slash = image.indexOf('/')
  return slash >= 0 && isDomain(image.slice(0, slash))
}

/**
 * The image reference a service runs at a revision: `<registry>/<image>:<tag>`, or the full reference as is. An image
 * that names its registry host (`ghcr.io/acme/web`) gets the tag but not `registry:` in front (it became
 * `registry.example.com/shop/ghcr.io/acme/web:<sha>`, and `localhost:5000/web` an invalid reference).
 */
export function imageReference(image: string, tag: string, registry?: string, everyImage = false): string {
  if (isFullReference(image)) return image
  const repo = registry && (everyImage || !namesRegistryHost(image)) ? `${registry.replace(/\/+$/, '')}/${image}` : image
  return `${repo}:${tag}`
}

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/

/** Checks a rendered image tag against the registry's tag grammar. */
export function checkTag(tag: string, file: string): string {
  if (!TAG.test(tag)) {
    throw new ConfigError(
      `imageTag renders to "${tag}", which is not a valid image tag (letters, digits, '_', '.', '-'; at most 128)`,
      {file},
      {
        hint: 'Change imageTag in skycap.yaml, e.g. "{{ revision.sha }}" or "git-{{ revision.short }}".',
      },
    )
  }
  return tag
}

/** The tag images get at `revision` in `env`: its imageTag rendered (default the full SHA), checked. Call loadTemplateEngine() first. */
export function imageTagFor(loaded: LoadedConfig, env: Environment, revision: Revision): string {
  const shown = loaded.show(loaded.file)
  return checkTag(env.imageTag ? renderTemplate(env.imageTag, `${shown} (imageTag)`, {revision}) : revision.sha, shown)
}

/**
 * The image reference of each service of `env` tagged `tag`: what deploy runs and build pushes. `everyImage`: the
 * registry goes in front of images that name a host too (skycap up's local registry: a work-tree build of
 * `ghcr.io/acme/web` is pushed there, never to ghcr.io).
 */
export function serviceImages(env: Environment, tag: string, everyImage = false): Record<string, string> {
  return Object.fromEntries(Object.entries(env.services).map(([name, svc]) => [name, imageReference(svc.image, tag, env.registry, everyImage)]))
}
