// The grammar of image references that Docker, containerd and registries share (github.com/distribution/reference),
// so that skycap.yaml's `image` and `registry` values are refused when read, at their line, rather than by the
// registry check or the kubelet after a deploy has begun.

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const DOMAIN = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/
const NAME_MAX = 255

/** Whether the first part of a name is a registry host, as Docker decides it: it has a '.' or a ':', or is localhost. */
export function isDomain(part: string): boolean {
  return part.includes('.') || part.includes(':') || part === 'localhost'
}

/** Why the repository path `parts` is not one (a registry prefix or an image name), or undefined when it is. */
function pathProblem(parts: string[], what: string): string | undefined {
  const bad = parts.find((p) => !COMPONENT.test(p))
  if (bad === undefined) return undefined
  if (bad === '') return `${what} has an empty part (a leading, trailing or doubled '/')`
  if (COMPONENT.test(bad.toLowerCase())) return `${what} must be lower case ("${bad}"; registries refuse capitals in repository names)`
  return `"${bad}" is not a repository name part (lower-case letters and digits, separated by '.', '_', '__' or '-')`
}

/**
 * Why `image` (a service's `image`: a name under `registry`, or a full reference with a tag or digest) is not a valid
 * image reference, or undefined when it is.
 */
export function imageProblem(image: string): string | undefined {
  let name = image
  let tag: string | undefined
  let digest: string | undefined
  const at = name.indexOf('@')
  if (at !== -1) {
    digest = name.slice(at + 1)
    name = name.slice(0, at)
  }
  const colon = name.lastIndexOf(':')
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1)
    name = name.slice(0, colon)
  }
  if (digest !== undefined && !DIGEST.test(digest)) return `the digest "${digest}" is not one (algorithm:hex, e.g. sha256: and 64 hex digits)`
  if (tag !== undefined && !TAG.test(tag)) return `the tag "${tag}" is not one (letters, digits, '_', '.', '-', not starting with '.' or '-'; at most 128)`
  if (name.length > NAME_MAX) return `the name is ${name.length} characters; at most ${NAME_MAX}`
  const parts = name.split('/')
  if (parts.length > 1 && isDomain(parts[0] as string)) {
    if (!DOMAIN.test(parts[0] as string)) return `"${parts[0]}" is not a registry host[:port]`
    parts.shift()
  }
  return pathProblem(parts, 'the name')
}

/** Why `registry` (a prefix: host[:port] and optional path) is not one, or undefined when it is. */
export function registryProblem(registry: string): string | undefined {
  const parts = registry.replace(/\/+$/, '').split('/')
  const host = parts.shift() as string
  if (!isDomain(host) && parts.length === 0) return pathProblem([host], 'the registry')
  if (isDomain(host) && !DOMAIN.test(host)) return `"${host}" is not a registry host[:port]`
  return pathProblem(isDomain(host) ? parts : [host, ...parts], 'the registry')
}
