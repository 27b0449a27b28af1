import {ConfigError} from '../errors.js'

/** True when `image` is a full reference (has a tag or digest) and is used exactly as written. */
export function isFullReference(image: string): boolean {
  const lastSegment = image.slice(image.lastIndexOf('/') + 1)
  return image.includes('@') || lastSegment.includes(':')
}

/** The image reference a service runs at a revision: `<registry>/<image>:<tag>`, or the full reference as is. */
export function imageReference(image: string, tag: string, registry?: string): string {
  if (isFullReference(image)) return image
  const repo = registry ? `${registry.replace(/\/+$/, '')}/${image}` : image
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
