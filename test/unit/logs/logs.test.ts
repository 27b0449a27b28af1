import {expect} from 'chai'

import {UserError} from '../../../src/errors.js'
import {configuredExcludes, lineFilter} from '../../../src/logs/filter.js'
import {formatLine, podColour} from '../../../src/logs/format.js'
import {LineBuffer, splitTimestamp} from '../../../src/logs/lines.js'
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
})

describe('log lines', () => {
  it('splits chunks into lines, keeping a partial line for the next chunk', () => {
    const b = new LineBuffer()
    expect(b.push('one\ntw')).to.deep.equal(['one'])
    expect(b.push('o\nthree\n')).to.deep.equal(['two', 'three'])
    expect(b.push('four')).to.deep.equal([])
    expect(b.flush()).to.deep.equal(['four'])
  })

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
