import type {ErrorObject, ValidateFunction} from 'ajv'

import {skycapSchema} from './schema.js'

/** One schema violation: where (key path), optionally the offending key, and a sentence. */
export interface SchemaProblem {
  path: (string | number)[]
  key?: string
  message: string
}

let compiled: ValidateFunction | undefined

async function validator(): Promise<ValidateFunction> {
  if (!compiled) {
    const {Ajv} = await import('ajv')
    const ajv = new Ajv({allErrors: true, verbose: true, strict: true, allowUnionTypes: true})
    ajv.addKeyword({keyword: 'x-message', schemaType: 'string'})
    compiled = ajv.compile(skycapSchema)
  }
  return compiled
}


/** Validates parsed skycap.yaml data against the schema; returns problems in the user's words. */
export function validateAgainstSchema(data: unknown): SchemaProblem[] {
  if (!compiled) throw new Error('validateAgainstSchema called before loadValidator()')
  if (compiled(data)) return []
  return toProblems(compiled.errors ?? [])
}

/** Compiles the schema (once). */
// Ajv is loaded on first use; commands that never read the config (e.g. --version) do not pay for it.
export async function loadValidator(): Promise<void> {
  await validator()
}

function toProblems(errors: ErrorObject[]): SchemaProblem[] {
  const problems: SchemaProblem[] = []
  const seen = new Set<string>()
  for (const e of errors) {
    // allErrors reports the failing branches of propertyNames/if-then too; keep the first per place and keyword.
    if (e.keyword === 'propertyNames') continue
    const path = pointerToPath(e.instancePath)
    const where = path.length === 0 ? 'the top level' : path.join('.')
    let problem: SchemaProblem
    const badName = (e as {propertyName?: string}).propertyName
    if (badName !== undefined) {
      // A key under services/environments that is not a DNS label.
      const rule = (e.parentSchema as {'x-message'?: string})['x-message'] ?? 'a valid name'
      problem = {path, key: badName, message: `${where}: "${badName}" is not a valid name; it must be ${rule}`}
      const id = `${path.join('.')}|${badName}|name`
      if (!seen.has(id)) {
        seen.add(id)
        problems.push(problem)
      }
      continue
    }
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = String((e.params as {additionalProperty: string}).additionalProperty)
        const allowed = Object.keys((e.parentSchema as {properties?: object}).properties ?? {})
        problem = {
          path,
          key,
          message: allowed.length
            ? `unknown key "${key}" in ${where}; allowed keys: ${allowed.filter((k) => k !== '$schema').join(', ')}`
            : `unknown key "${key}" in ${where}`,
        }
        break
      }
      case 'required': {
        const missing = (e.params as {missingProperty: string}).missingProperty
        problem = {path, message: `${where} is missing the required key "${missing}"`}
        break
      }
      case 'type':
        problem = {path, message: `${where} must be ${article((e.params as {type: string | string[]}).type)}, not ${describe(e.data)}`}
        break
      case 'pattern':
        problem = {path, message: `${where} is "${String(e.data)}" but must be ${(e.parentSchema as {'x-message'?: string})['x-message'] ?? `matching ${e.schema}`}`}
        break
      case 'enum':
        problem = {path, message: `${where} is ${JSON.stringify(e.data)} but must be one of: ${(e.schema as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`}
        break
      case 'minimum':
      case 'maximum':
        problem = {path, message: `${where} is ${String(e.data)} but must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${String(e.schema)}`}
        break
      case 'minProperties':
        problem = {path, message: `${where} must have at least ${String(e.schema)} entr${e.schema === 1 ? 'y' : 'ies'}`}
        break
      case 'maxProperties':
        problem = {path, message: `${where} must have at most ${String(e.schema)} entr${e.schema === 1 ? 'y' : 'ies'}`}
        break
      case 'minLength':
        problem = {path, message: `${where} must not be empty`}
        break
      case 'maxLength':
        problem = {path, message: `${where} must be at most ${String(e.schema)} characters`}
        break
      case 'minItems':
        problem = {path, message: `${where} must have at least ${String(e.schema)} item${e.schema === 1 ? '' : 's'}`}
        break
      default:
        problem = {path, message: `${where} ${e.message ?? 'is invalid'}`}
    }
    const id = `${problem.path.join('.')}|${problem.key ?? ''}|${e.keyword}`
    if (!seen.has(id)) {
      seen.add(id)
      problems.push(problem)
    }
  }
  return problems
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return []
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s))
}

function article(type: string | string[]): string {
  const types = Array.isArray(type) ? type : [type]
  return types.map((t) => (t === 'object' ? 'a mapping' : t === 'array' ? 'a list' : t === 'integer' ? 'a whole number' : `a ${t}`)).join(' or ')
}

function describe(value: unknown): string {
  if (value === null) return 'empty (null)'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return `${typeof value} ${JSON.stringify(value)}`
}
