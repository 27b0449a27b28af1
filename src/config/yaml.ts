import type {Document, LineCounter} from 'yaml'

import {ConfigError} from '../errors.js'

/**
 * `doc.toJS()`, with the yaml library's guard against alias expansion ("billion laughs": a few lines whose aliases
 * expand to gigabytes; it throws a ReferenceError after maxAliasCount, default 100) reported as invalid input at
 * the first alias instead of a crash. `yaml` is the module the caller loaded (kept out of start-up).
 */
export function documentData(yaml: typeof import('yaml'), doc: Document.Parsed, file: string, lineCounter: LineCounter): unknown {
  try {
    return doc.toJS()
  } catch (error) {
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
}
