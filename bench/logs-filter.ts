/**
 * The child process of bench/logs.ts: skycap's log path over one file. A file of its own so that its start-up loads
 * only what that path needs (the grep side loads nothing either).
 *
 *   node dist/bench/logs-filter.js FILE|- colour|plain      (output on stdout, figures as one JSON line on stderr)
 */
import {closeSync, openSync, readSync, writeSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {LogChunkProcessor} from '../src/logs/chunks.js'

/** skycap.yaml's excludes; grep gets the same alternation. */
export const PATTERNS = ['GET /healthz', '^DEBUG ']
export const POD = 'web-7d9c8b6f5d-x2k4q'

export interface FilterResult {
  lines: number
  shown: number
  /** Wall time of the read/filter/format/write loop, without process start-up and imports. */
  loopMs: number
}

/** Child mode: skycap's per-chunk log path over `file` (or stdin when `file` is "-") to stdout; prints one JSON line to stderr. */
export async function filterFile(file: string, colour: boolean): Promise<void> {
  // The same processor src/logs/stream.ts feeds with each chunk of `kubectl logs` output.
  const processor = new LogChunkProcessor({configured: PATTERNS, exclude: [], grep: []}, {service: 'web', pod: POD, container: 'web'}, {colour, showContainer: false, timestamps: false, json: false})
  const t0 = performance.now()
  if (file === '-') {
    // As stream.ts: 'data' events from a pipe, writes to stdout with back-pressure.
    const write = (text: Buffer | undefined) => {
      if (text && !process.stdout.write(text)) {
        process.stdin.pause()
        process.stdout.once('drain', () => process.stdin.resume())
      }
    }
    await new Promise<void>((resolve, reject) => {
      process.stdin.on('data', (chunk: Buffer) => write(processor.pushBytes(chunk)))
      process.stdin.on('end', () => {
        write(processor.flushBytes())
        resolve()
      })
      process.stdin.on('error', reject)
    })
  } else {
    // 64 KiB blocks, the size a pipe from kubectl delivers; grep reads its file the same way.
    // stdout is the output file, opened (and truncated) by the parent, as it is for grep.
    const input = openSync(file, 'r')
    const output = 1
    const block = Buffer.allocUnsafe(64 * 1024)
    const write = (text: Buffer | undefined) => {
      if (text) writeSync(output, text)
    }
    for (let n; (n = readSync(input, block, 0, block.length, null)) > 0;) write(processor.pushBytes(block.subarray(0, n)))
    write(processor.flushBytes())
    closeSync(input)
  }
  const result: FilterResult = {lines: processor.shown + processor.hidden, shown: processor.shown, loopMs: performance.now() - t0}
  console.error(JSON.stringify(result))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await filterFile(process.argv[2] as string, process.argv[3] === 'colour')
