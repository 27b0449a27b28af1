// Kubernetes' rules for label and annotation keys and label values (apimachinery's validation), checked where they
// are written, so a mistake is named at its line in skycap.yaml, not by the API server at deploy time.

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** Why `key` is not a label or annotation key (`[prefix/]name`), or undefined. */
export function keyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/')
  const prefix = slash === -1 ? undefined : key.slice(0, slash)
  const name = slash === -1 ? key : key.slice(slash + 1)
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return `its prefix "${prefix}" is not a DNS subdomain (lowercase letters, digits, '-' and '.')`
  if (name.length === 0 || name.length > 63) return `its name part must be 1 to 63 characters`
  if (!NAME.test(name)) return "its name part may hold letters, digits, '-', '_' and '.', and must start and end with a letter or digit"
  return undefined
}

/** Why `value` is not a label value, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63) return `it is ${value.length} characters; Kubernetes allows 63`
  if (value !== '' && !NAME.test(value)) return "a label value may hold letters, digits, '-', '_' and '.', and must start and end with a letter or digit"
  return undefined
}

/**
 * The labels skycap sets on what it deploys and finds its objects by: whose an object is (part-of, managed-by,
 * environment) and which service's pods a selector picks (name, instance). A service's `labels` cannot set them.
 */
export const SKYCAP_LABELS = ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/part-of', 'app.kubernetes.io/managed-by'] as const

/** Whether `key` is one of skycap's own labels (SKYCAP_LABELS, or any `skycap.dev/` key). */
export function isSkycapLabel(key: string): boolean {
  return (SKYCAP_LABELS as readonly string[]).includes(key) || key.startsWith('skycap.dev/')
}
