/**
 * Secret values must never reach a terminal, a log line or a JSON report, and kubectl's errors quote what it was
 * given: `expected string, got &value.valueUnstructured{Value:98765432101}` for a number in a Secret's stringData.
 * A SecretRedactor knows the values of the Secrets in one kubectl call's input and removes them from its output.
 */

import {isBase64} from '../render/secrets.js'

export const REDACTED = '(redacted)'

// Shorter values are removed only where kubectl quotes them ("ab"): replacing every "1" or "on" in an error
// message would make it unreadable, and a value that short is no secret from anyone who guesses.
const MIN_BARE_LENGTH = 4

// Go dumps a value it could not convert as `&value.valueUnstructured{Value:<%#v of the value>}`.
const DUMP = 'valueUnstructured{Value:'

/** Removes the values of the Secrets a kubectl call was given from that call's output. */
export class SecretRedactor {
  /** Longest first, so a value that contains another is removed whole. */
  private readonly bare: string[]
  private readonly quoted: string[]

  constructor(
    values: Iterable<string>,
    /** Whether the input held a Secret with values at all (value dumps are then removed whole). */
    readonly active: boolean,
  ) {
    const unique = [...new Set(values)].filter((v) => v.length > 0).sort((a, b) => b.length - a.length)
    this.bare = unique.filter((v) => v.length >= MIN_BARE_LENGTH)
    this.quoted = unique.filter((v) => v.length < MIN_BARE_LENGTH).map((v) => JSON.stringify(v))
  }

  /** The Secrets' values in `input` (a JSON object or List, as skycap sends with `-f -`); none for anything else. */
  static forInput(input: string | undefined): SecretRedactor {
    if (input === undefined || !input.includes('"Secret"')) return new SecretRedactor([], false)
    let parsed: unknown
    try {
      parsed = JSON.parse(input)
    } catch {
      return new SecretRedactor([], false)
    }
    const values: string[] = []
    let active = false
    for (const secret of secretsIn(parsed)) {
      for (const field of ['data', 'stringData'] as const) {
        const entries = secret[field]
        if (!isRecord(entries)) continue
        for (const value of Object.values(entries)) {
          active = true
          values.push(...printedForms(value, field))
        }
      }
    }
    return new SecretRedactor(values, active)
  }

  /** `text` without the values; unchanged when the call had no Secret values. */
  redact(text: string): string {
    if (!this.active || text === '') return text
    let out = redactDumps(text)
    for (const v of this.bare) out = out.replaceAll(v, REDACTED)
    for (const q of this.quoted) out = out.replaceAll(q, `"${REDACTED}"`)
    return out
  }
}

function* secretsIn(value: unknown): Generator<Record<string, unknown>> {
  if (!isRecord(value)) return
  if (value.kind === 'Secret') yield value
  if (Array.isArray(value.items)) for (const item of value.items) yield* secretsIn(item)
}

/**
 * The ways kubectl or the API server may print a value: as given, escaped as in a quoted Go or JSON string, line
 * by line for a multi-line value, base64-encoded (the server turns stringData into data) or decoded (data is
 * base64), and a number also in Go's %v float form (9.8765432101e+10). Maps and lists: every value inside.
 */
function printedForms(value: unknown, field: 'data' | 'stringData'): string[] {
  if (value === null || value === undefined) return []
  if (Array.isArray(value)) return value.flatMap((v) => printedForms(v, field))
  if (isRecord(value)) return Object.values(value).flatMap((v) => printedForms(v, field))
  if (typeof value === 'number') return [String(value), goFloat(value)]
  if (typeof value !== 'string') return [String(value)]
  const forms = [value, JSON.stringify(value).slice(1, -1), ...value.split(/\r?\n/).filter((l) => l.trim().length >= MIN_BARE_LENGTH)]
  if (field === 'stringData') forms.push(Buffer.from(value, 'utf8').toString('base64'))
  else {
    const decoded = decodedText(value)
    if (decoded !== undefined) forms.push(...printedForms(decoded, 'data'))
  }
  return forms
}

/** The text a base64 value stands for, when it is base64 of UTF-8 text. */
function decodedText(value: string): string | undefined {
  if (!isBase64(value)) return undefined
  const bytes = Buffer.from(value, 'base64')
  const text = bytes.toString('utf8')
  return Buffer.from(text, 'utf8').equals(bytes) && text !== value ? text : undefined
}

/** How Go's %v prints a float64: exponent form from 1e21 up, or for the shortest %g (two-digit exponent). */
function goFloat(n: number): string {
  return n
    .toExponential()
    .replace('e+', 'e+0')
    .replace('e-', 'e-0')
    .replace(/e([+-])0(\d\d)/, 'e$1$2')
}

/** Replaces what every `valueUnstructured{Value:…}` dump holds, braces and quoted strings inside included. */
function redactDumps(text: string): string {
  let out = ''
  let from = 0
  for (let at = text.indexOf(DUMP); at !== -1; at = text.indexOf(DUMP, from)) {
    const start = at + DUMP.length
    let depth = 1
    let i = start
    for (; i < text.length && depth > 0; i++) {
      const c = text[i]
      if (c === '"') {
        // Skip a quoted string (a brace inside a value must not end the dump).
        for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++
      } else if (c === '{') depth++
      else if (c === '}') depth--
    }
    // i is past the closing brace (or at the end of a cut-off dump).
    out += `${text.slice(from, start)}${REDACTED}${depth === 0 ? '}' : ''}`
    from = i
  }
  return out + text.slice(from)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
