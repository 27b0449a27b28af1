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
