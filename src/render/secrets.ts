import type {KubeObject} from './objects.js'

/**
 * Copies of `objects` in which every Secret's `data` and `stringData` value reads `(redacted: N bytes)`; keys are kept.
 * For output only (stdout, --json): the objects given are never changed, so what deploy applies keeps its values.
 */
export function redactSecretValues(objects: readonly KubeObject[]): KubeObject[] {
  return objects.map((o) => {
    if (o.kind !== 'Secret') return o
    const copy: KubeObject = {...o}
    if (isRecord(o.data)) copy.data = redactValues(o.data, (v) => Buffer.from(v, 'base64').length)
    if (isRecord(o.stringData)) copy.stringData = redactValues(o.stringData, (v) => Buffer.byteLength(v, 'utf8'))
    return copy
  })
}

/** How many of `objects` are Secrets with values that redactSecretValues hides. */
export function countSecretsWithValues(objects: readonly KubeObject[]): number {
  return objects.filter((o) => o.kind === 'Secret' && [o.data, o.stringData].some((v) => isRecord(v) && Object.keys(v).length > 0)).length
}

/** Whether `value` is base64 as the API server decodes a Secret's `data` (padded standard alphabet; line breaks ignored). */
export function isBase64(value: string): boolean {
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(value.replace(/[\r\n]/g, ''))
}

/**
 * What is wrong with a Secret's `data` values: each must be a base64 string. Caught at render time, the error names
 * the object and key; from kubectl it would be exit 1 naming neither. Messages never contain the values.
 */
export function secretDataProblems(object: KubeObject): string[] {
  if (object.kind !== 'Secret' || !isRecord(object.data)) return []
  const problems: string[] = []
  for (const [key, value] of Object.entries(object.data)) {
    if (value === null || value === undefined) continue
    const what =
      typeof value !== 'string' ? `a ${Array.isArray(value) ? 'list' : typeof value === 'object' ? 'mapping' : typeof value}, not a base64 string` : isBase64(value) ? undefined : 'not valid base64'
    if (what) problems.push(`Secret/${object.metadata.name} data.${key} is ${what}`)
  }
  return problems
}

function redactValues(values: Record<string, unknown>, bytes: (value: string) => number): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => {
      if (typeof value !== 'string') return [key, '(redacted)']
      const n = bytes(value)
      return [key, `(redacted: ${n} ${n === 1 ? 'byte' : 'bytes'})`]
    }),
  )
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
