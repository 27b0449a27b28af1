import {expect} from 'chai'

import {UserError} from '../../../src/errors.js'
import {configuredExcludes, hiddenNote, lineFilter} from '../../../src/logs/filter.js'
import {formatLine, podColour} from '../../../src/logs/format.js'
import {splitTimestamp} from '../../../src/logs/lines.js'
import {literalPattern, LogChunkProcessor} from '../../../src/logs/chunks.js'
import {takenInTurn} from '../../../src/logs/stream.js'
import type {SkycapConfig} from '../../../src/config/types.js'

describe('log filtering', () => {
  it('hides lines matching any exclude and counts them', () => {
    const f = lineFilter({configured: ['GET /healthz', 'kube-probe/'], exclude: ['^DEBUG '], grep: []})
    const lines = ['GET /healthz 200', 'GET /cart 200', 'DEBUG x', 'kube-probe/1.33', 'ERROR boom']
    expect(lines.filter((l) => f.keep(l))).to.deep.equal(['GET /cart 200', 'ERROR boom'])
    expect(f.hidden).to.equal(3)
  })

  it('requires every --grep to match', () => {
    const f = lineFilter({configured: [], exclude: [], grep: ['ERROR', 'payment']})
    expect(['ERROR payment failed', 'ERROR cart', 'payment ok'].filter((l) => f.keep(l))).to.deep.equal(['ERROR payment failed'])
  })

  it('combines app and per-service filters without duplicates', () => {
    const config = {logs: {exclude: ['a', 'b']}, services: {web: {image: 'w', logs: {exclude: ['b', 'c']}}, worker: {image: 'x'}}} as unknown as SkycapConfig
    expect(configuredExcludes(config, ['web', 'worker'])).to.deep.equal(['a', 'b', 'c'])
    expect(configuredExcludes(config, ['worker'])).to.deep.equal(['a', 'b'])
  })

  it('rejects an invalid --exclude with exit 2', () => {
    expect(() => lineFilter({configured: [], exclude: ['(x'], grep: []})).to.throw(UserError, '--exclude "(x" is not a valid regular expression')
  })

  it('keeps patterns with groups apart: duplicate group names and backreferences work as each pattern alone', () => {
    const spec = {configured: ['(?<w>a)\\k<w>'], exclude: ['(?<w>b)\\k<w>', '(c)\\1', 'plain'], grep: []}
    const lines = ['aa', 'ab', 'bb', 'cc', 'c', 'plain text', 'keep']
    const f = lineFilter(spec)
    expect(lines.filter((l) => f.keep(l))).to.deep.equal(['ab', 'c', 'keep'])
    const p = new LogChunkProcessor(spec, {service: 'web', pod: 'web-1', container: 'web'}, {colour: false, showContainer: false, timestamps: false, json: false})
    expect(String(p.pushBytes(Buffer.from(`${lines.join('\n')}\n`)))).to.equal('web-1 │ ab\nweb-1 │ c\nweb-1 │ keep\n')
    expect(p.push(`${lines.join('\n')}\n`)).to.equal('web-1 │ ab\nweb-1 │ c\nweb-1 │ keep\n')
  })
})

describe('log lines', () => {
  it('splits the kubectl --timestamps prefix off, and leaves other lines alone', () => {
    expect(splitTimestamp('2026-11-22T03:49:18.123456789Z hello world')).to.deep.equal({timestamp: '2026-11-22T03:49:18.123456789Z', message: 'hello world'})
    expect(splitTimestamp('hello world')).to.deep.equal({timestamp: '', message: 'hello world'})
  })

  it('prefixes with pod (and container when asked), colour per pod only when enabled', () => {
    const line = {service: 'web', pod: 'web-abc', container: 'web', timestamp: '2026-01-01T00:00:00Z', message: 'hi'}
    expect(formatLine(line, {colour: false, showContainer: false, timestamps: false, json: false})).to.equal('web-abc │ hi')
    expect(formatLine(line, {colour: false, showContainer: true, timestamps: true, json: false})).to.equal('web-abc web │ 2026-01-01T00:00:00Z hi')
    expect(formatLine(line, {colour: true, showContainer: false, timestamps: false, json: false})).to.equal(`\u001B[${podColour('web-abc')}mweb-abc\u001B[39m │ hi`)
    expect(JSON.parse(formatLine(line, {colour: false, showContainer: false, timestamps: false, json: true}))).to.deep.equal(line)
  })

  it('gives a pod the same colour every time, and spreads pods over colours', () => {
    expect(podColour('web-abc')).to.equal(podColour('web-abc'))
    const colours = new Set(Array.from({length: 40}, (_, i) => podColour(`web-${i}`)))
    expect(colours.size).to.be.greaterThan(5)
  })
})

describe('log chunk processing', () => {
  const ts = (s: number) => `2026-11-22T03:49:${String(s).padStart(2, '0')}.000000000Z`
  const spec = {configured: ['GET /healthz', '^DEBUG '], exclude: [], grep: []}
  const source = {service: 'web', pod: 'web-1', container: 'web'}
  const plain = {colour: false, showContainer: false, timestamps: false, json: false}
  const input = [`${ts(1)} start`, `${ts(2)} GET /healthz 200`, `${ts(2)} DEBUG cache`, `${ts(3)} café ✓`, 'no timestamp', `${ts(4)} last`].join('\n') + '\n'

  it('bytes and text give the same output, whatever the chunk boundaries (UTF-8 split included)', () => {
    const text = new LogChunkProcessor(spec, source, plain).push(input)
    expect(text).to.equal('web-1 │ start\nweb-1 │ café ✓\nweb-1 │ no timestamp\nweb-1 │ last\n')
    const bytes = Buffer.from(input)
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const p = new LogChunkProcessor(spec, source, plain)
      const out = Buffer.concat([p.pushBytes(bytes.subarray(0, cut)), p.pushBytes(bytes.subarray(cut)), p.flushBytes()].filter((b): b is Buffer => b !== undefined))
      expect(out.toString('utf8'), `cut at ${cut}`).to.equal(text)
      expect([p.shown, p.hidden]).to.deep.equal([4, 2])
    }
  })

  it('gives the same output from three chunks read into one reused buffer (a chunk without a newline included)', () => {
    const text = new LogChunkProcessor(spec, source, plain).push(input)
    const bytes = Buffer.from(input)
    const scratch = Buffer.alloc(bytes.length)
    for (let a = 1; a < bytes.length; a += 5) {
      for (let b = a + 1; b < bytes.length; b += 11) {
        const p = new LogChunkProcessor(spec, source, plain)
        const outs: Array<Buffer | undefined> = []
        for (const [from, to] of [
          [0, a],
          [a, b],
          [b, bytes.length],
        ] as const) {
          // Like a read loop: the same buffer is overwritten for every chunk, and output is copied out at once.
          scratch.fill(0)
          bytes.copy(scratch, 0, from, to)
          const out = p.pushBytes(scratch.subarray(0, to - from))
          outs.push(out && Buffer.from(out))
        }
        outs.push(p.flushBytes())
        expect(Buffer.concat(outs.filter((o): o is Buffer => o !== undefined)).toString('utf8'), `cuts at ${a}, ${b}`).to.equal(text)
      }
    }
  })

  it('keeps the last timestamp and, after a reconnect, skips the lines already shown', () => {
    const p = new LogChunkProcessor({configured: [], exclude: [], grep: []}, source, plain)
    p.pushBytes(Buffer.from(`${ts(1)} a\n${ts(2)} b\n${ts(2)} c\n`))
    expect(p.lastTs).to.equal(ts(2))
    p.resume()
    // kubectl logs --since-time=<ts(2)> repeats the lines at ts(2).
    const again = p.pushBytes(Buffer.from(`${ts(2)} b\n${ts(2)} c\n${ts(3)} d\n`))
    expect(again?.toString()).to.equal('web-1 │ d\n')
  })

  it('with --timestamps, --json and non-ASCII patterns', () => {
    expect(new LogChunkProcessor(spec, source, {...plain, timestamps: true}).pushBytes(Buffer.from(`${ts(1)} start\n`))?.toString()).to.equal(`web-1 │ ${ts(1)} start\n`)
    const json = JSON.parse(new LogChunkProcessor(spec, source, {...plain, json: true}).pushBytes(Buffer.from(`${ts(1)} start\n`))?.toString() as string)
    expect(json).to.deep.equal({service: 'web', pod: 'web-1', container: 'web', timestamp: ts(1), message: 'start'})
    const p = new LogChunkProcessor({configured: ['café'], exclude: [], grep: []}, source, plain)
    expect(p.pushBytes(Buffer.from(input))?.toString()).to.not.contain('café')
    expect(p.hidden).to.equal(1)
  })
})

describe('log chunk processing: literal patterns', () => {
  const ts = (s: number) => `2026-11-22T03:49:${String(s).padStart(2, '0')}.000000000Z`
  const source = {service: 'web', pod: 'web-1', container: 'web'}
  const plain = {colour: false, showContainer: false, timestamps: false, json: false}
  const run = (spec: {configured: string[]; exclude?: string[]; grep?: string[]}, input: string, format = plain) => {
    const p = new LogChunkProcessor({exclude: [], grep: [], ...spec}, source, format)
    const out = Buffer.concat([p.pushBytes(Buffer.from(input)), p.flushBytes()].filter((b): b is Buffer => b !== undefined)).toString('utf8')
    return {out, shown: p.shown, hidden: p.hidden}
  }
  /** What the regex path (push on text) prints for the same input: the literal path must agree with it. */
  const byRegex = (spec: {configured: string[]; exclude?: string[]; grep?: string[]}, input: string, format = plain) => {
    const p = new LogChunkProcessor({exclude: [], grep: [], ...spec}, source, format)
    return p.push(input) + p.flush()
  }

  it('takes plain strings, optionally anchored, as literals and leaves anything with regex syntax to the regex', () => {
    expect(literalPattern('GET /healthz')).to.include({anchored: false})
    expect(literalPattern('^DEBUG ')).to.include({anchored: true})
    for (const p of ['GET /health.', 'a|b', 'x$', '^', '', 'a\\.b', 'a{2}', '(x)', 'café', 'tab\there']) expect(literalPattern(p), p).to.equal(undefined)
  })

  it('does not hide a line for a literal found only in its timestamp', () => {
    const input = `${ts(1)} start\n${ts(2)} at 03:49 sharp\n`
    expect(run({configured: ['03:49']}, input).out).to.equal('web-1 │ start\n')
    expect(run({configured: ['03:49']}, input, {...plain, timestamps: true}).out).to.equal(`web-1 │ ${ts(1)} start\n`)
    expect(run({configured: [], grep: ['03:49']}, input).out).to.equal('web-1 │ at 03:49 sharp\n')
  })

  it('matches an anchored literal at the start of the message only, after the timestamp', () => {
    const input = `${ts(1)} DEBUG a\nDEBUG b\nx DEBUG c\n${ts(2)} DEBUGGER d\nDEBU\n`
    expect(run({configured: ['^DEBUG ']}, input).out).to.equal('web-1 │ x DEBUG c\nweb-1 │ DEBUGGER d\nweb-1 │ DEBU\n')
    expect(run({configured: [], grep: ['^DEBUG']}, input).out).to.equal('web-1 │ DEBUG a\nweb-1 │ DEBUG b\nweb-1 │ DEBUGGER d\n')
  })

  it('falls back to the regex for a pattern with metacharacters, alongside literals', () => {
    const input = 'GET /healthy 200\nGET /health\nGET /healthz 200\nPOST /orders 201\nERROR boom\n'
    const spec = {configured: ['GET /health.', '^ERROR'], grep: ['/']}
    expect(run(spec, input).out).to.equal('web-1 │ GET /health\nweb-1 │ POST /orders 201\n')
    expect(run(spec, input).out).to.equal(byRegex(spec, input))
  })

  it('finds a literal at the very end of a last line without a newline (flushBytes)', () => {
    expect(run({configured: ['GET /healthz']}, 'keep\nGET /healthz')).to.deep.equal({out: 'web-1 │ keep\n', shown: 1, hidden: 1})
    expect(run({configured: [], grep: ['healthz']}, 'keep\nGET /healthz')).to.deep.equal({out: 'web-1 │ GET /healthz\n', shown: 1, hidden: 1})
  })

  it('finds a literal after many false candidates of its rarest byte, and agrees with the regex everywhere', () => {
    const input = `${'z'.repeat(40)}qz end\n${'z'.repeat(40)}\nqz\n${ts(1)} zzqzz\nno\n`
    expect(run({configured: ['qz']}, input).out).to.equal(`web-1 │ ${'z'.repeat(40)}\nweb-1 │ no\n`)
    const lines = ['GET /healthz 200', 'x GET /healthz', 'DEBUG a', 'DEBUGDEBUG ', 'healthz healthz', 'é GET /healthz ✓', 'GET /health', '']
    const text = lines.flatMap((l, i) => [l, `${ts(i)} ${l}`]).join('\n') + '\n'
    const specs = [{configured: ['GET /healthz', '^DEBUG ']}, {configured: ['healthz'], grep: ['GET']}, {configured: [], grep: ['^DEBUG', 'DEBUG ']}, {configured: ['z h', '^x ']}]
    for (const spec of specs) for (const format of [plain, {...plain, timestamps: true}]) expect(run(spec, text, format).out, JSON.stringify(spec)).to.equal(byRegex(spec, text, format))
  })
})

describe('the note on hidden lines', () => {
  const ts = (s: number) => `2026-11-22T03:49:${String(s).padStart(2, '0')}.000000000Z`
  const source = {service: 'web', pod: 'web-1', container: 'web'}
  const plain = {colour: false, showContainer: false, timestamps: false, json: false}
  const lines = ['GET /healthz 200', 'heartbeat 1', 'heartbeat 12', 'DEBUG x', 'ERROR boom'].map((l, i) => `${ts(i)} ${l}`).join('\n') + '\n'

  it('counts the lines a configured exclude hid apart from those --grep and --exclude hid, on the bytes and the text paths', () => {
    for (const spec of [
      {configured: ['GET /healthz'], exclude: ['^DEBUG'], grep: ['heartbeat 1$|healthz|DEBUG|boom']},
      {configured: ['GET /health.'], exclude: ['DEBUG'], grep: ['heartbeat 1$|healthz|DEBUG|boom']},
    ]) {
      const bytes = new LogChunkProcessor(spec, source, plain)
      bytes.pushBytes(Buffer.from(lines))
      const text = new LogChunkProcessor(spec, source, plain)
      text.push(lines)
      const json = new LogChunkProcessor(spec, source, {...plain, json: true})
      json.pushBytes(Buffer.from(lines))
      // healthz: configured; heartbeat 12: --grep; DEBUG: --exclude.
      for (const p of [bytes, text, json]) expect([p.shown, p.hidden, p.hiddenConfigured], JSON.stringify(spec)).to.deep.equal([2, 3, 1])
    }
  })

  it('names the filter that hid them, and offers --no-filters only for the configured ones', () => {
    // 77 lines all hidden by --grep were said "hidden by filters (--no-filters shows the configured ones)".
    expect(hiddenNote(77, 0, {grep: ['heartbeat 1$']})).to.equal('77 lines hidden by --grep')
    expect(hiddenNote(2, 0, {grep: ['a'], exclude: ['b']})).to.equal('2 lines hidden by --grep/--exclude')
    expect(hiddenNote(1, 1, {})).to.equal("1 line hidden by skycap.yaml's logs.exclude (--no-filters shows them)")
    expect(hiddenNote(80, 3, {exclude: ['x']})).to.equal("80 lines hidden: 77 by --exclude, 3 by skycap.yaml's logs.exclude (--no-filters shows those)")
    expect(hiddenNote(0, 0, {grep: ['a']})).to.equal(undefined)
  })
})

describe('log streams past --max-log-requests', () => {
  it('are handed to the services in turn: each one first pod, then each one second, so every service is followed', () => {
    const pods = ['web-1', 'web-2', 'web-3', 'api-1', 'worker-1', 'worker-2'].map((name) => ({name, service: name.replace(/-\d$/, '')}))
    expect(takenInTurn(pods).map((p) => p.name)).to.deep.equal(['web-1', 'api-1', 'worker-1', 'web-2', 'worker-2', 'web-3'])
    expect(takenInTurn([])).to.deep.equal([])
  })
})
