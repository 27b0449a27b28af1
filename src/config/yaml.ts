import type {Document, LineCounter} from 'yaml'

import {ConfigError} from '../errors.js'

/**
 * `doc.toJS()`, with the yaml library's guard against alias expansion ("billion laughs": a few lines whose aliases
 * expand to gigabytes; it throws a ReferenceError after maxAliasCount, default 100) reported as invalid input at
 * the first alias instead of a crash. `yaml` is the module the caller loaded (kept out of start-up).
 */
export function documentData(yaml: typeof import('yaml'), doc: Document.Parsed, file: string, lineCounter: LineCounter): unknown {
  let value: unknown
  try {
    value = doc.toJS()
  } catch (error) {
    if (error instanceof Error && /^Merge sources must be map/.test(error.message)) throw badMerge(yaml, doc, file, lineCounter)
    if (!(error instanceof ReferenceError) || !/alias/i.test(error.message)) throw error
    let offset: number | undefined
    yaml.visit(doc, {
      Alias(_, node) {
        offset = node.range?.[0]
        return yaml.visit.BREAK
      },
    })
    const pos = offset === undefined ? undefined : lineCounter.linePos(offset)
    const excessive = /Excessive alias count/.test(error.message)
    throw new ConfigError(
      excessive ? 'YAML aliases expand to too much data (a "billion laughs" document)' : `invalid YAML: ${error.message}`,
      {file, line: pos?.line, column: pos?.col},
      {
        hint: excessive ? 'Use fewer aliases (*name) to large anchors, or write the values out.' : 'Define each anchor (&name) before its aliases (*name).',
      },
    )
  }
  if (nesting(value, MAX_NESTING) > MAX_NESTING) {
    // Where: the first mapping or list below the limit, in the document as written.
    let offset: number | undefined
    yaml.visit(doc, (_, node, path) => {
      if (yaml.isCollection(node) && path.filter((p) => yaml.isCollection(p)).length >= MAX_NESTING) {
        offset = node.range?.[0]
        return yaml.visit.BREAK
      }
      return undefined
    })
    const pos = offset === undefined ? undefined : lineCounter.linePos(offset)
    throw new ConfigError(
      `mappings and lists nest more than ${MAX_NESTING} levels deep here`,
      {file, line: pos?.line, column: pos?.col},
      {
        hint: 'Kubernetes objects nest a few dozen levels at most; is a value repeated into itself?',
      },
    )
  }
  return value
}

/**
 * A merge key (`<<: 5`, `<<: *scalar`) whose value is no mapping: the yaml library threw "Merge sources must be maps
 * or map aliases" out of toJS, which ended skycap with exit 1 and no file or line. Said at the first such key.
 */
function badMerge(yaml: typeof import('yaml'), doc: Document.Parsed, file: string, lineCounter: LineCounter): ConfigError {
  const mapping = (node: unknown): boolean => yaml.isMap(node) || (yaml.isAlias(node) && yaml.isMap(node.resolve(doc)))
  let offset: number | undefined
  yaml.visit(doc, {
    Pair(_, pair) {
      // With `merge: true` a merge key's value is the library's merge symbol (a quoted "<<" stays a string).
      if (!yaml.isScalar(pair.key) || typeof pair.key.value !== 'symbol') return undefined
      const value = pair.value
      if (mapping(value) || (yaml.isSeq(value) && value.items.every(mapping))) return undefined
      offset = (yaml.isNode(value) ? value.range?.[0] : undefined) ?? pair.key.range?.[0]
      return yaml.visit.BREAK
    },
  })
  const pos = offset === undefined ? undefined : lineCounter.linePos(offset)
  return new ConfigError(
    'invalid YAML: a merge key (<<) takes a mapping, an alias of one (*name), or a list of them',
    {file, line: pos?.line, column: pos?.col},
    {hint: 'Merge an anchored mapping (`<<: *defaults` where `defaults: &defaults {…}`), or write the keys out.'},
  )
}

/**
 * How deep a document's mappings and lists may nest. The yaml library turns a document of about 700 levels into a
 * "Maximum call stack size exceeded" when render prints it; Kubernetes objects nest about 20 deep, CRD schemas a few
 * dozen.
 */
export const MAX_NESTING = 100

/** The nesting depth of a parsed value (a scalar is 0), counted no further than just past `limit`. */
function nesting(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null) return 0
  if (limit < 0) return 1
  let deepest = 0
  for (const child of Array.isArray(value) ? value : Object.values(value)) {
    deepest = Math.max(deepest, nesting(child, limit - 1))
    if (deepest > limit) break
  }
  return deepest + 1
}

/**
 * Where a YAML syntax error is, as the offset to report. The yaml library reports an item indented wrongly
 * (BAD_INDENT) at the start of the comment lines above it (skycap.yaml:28:1, a comment, for a mistake on line 32):
 * from a position on a blank or comment-only line, the first character of the next line that has content.
 */
export function errorOffset(text: string, error: {code: string; pos: [number, number]}): number {
  const reported = error.pos[0]
  if (error.code !== 'BAD_INDENT') return reported
  let start = text.lastIndexOf('\n', reported - 1) + 1
  while (start < text.length) {
    const end = text.indexOf('\n', start)
    const line = text.slice(start, end === -1 ? text.length : end)
    const first = line.search(/\S/)
    if (first !== -1 && line[first] !== '#') return start + first
    if (end === -1) break
    start = end + 1
  }
  return reported
}
