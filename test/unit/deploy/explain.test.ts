import {expect} from 'chai'

import {failureEvent, formatEvent, formatFailure} from '../../../src/deploy/explain.js'
import {classify} from '../../../src/kubectl/kubectl.js'

describe('failure reports: events as objects (--json) and as lines (terminal)', () => {
  it('keeps type, reason, Kind/name, count, last seen and message; the terminal line is as before', () => {
    const e = failureEvent({
      type: 'Warning',
      reason: 'Unhealthy',
      message: 'Readiness probe failed: HTTP probe failed with statuscode: 503',
      count: 7,
      involvedObject: {kind: 'Pod', name: 'web-5d8-abcde'},
      lastTimestamp: '2026-12-01T00:10:00Z',
    })
    expect(e).to.deep.equal({
      type: 'Warning',
      reason: 'Unhealthy',
      object: 'Pod/web-5d8-abcde',
      count: 7,
      lastSeen: '2026-12-01T00:10:00Z',
      message: 'Readiness probe failed: HTTP probe failed with statuscode: 503',
    })
    expect(formatEvent(e)).to.equal('Warning Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503 (x7) [web-5d8-abcde]')
    const text = formatFailure({ref: 'Deployment/web', message: 'not ready', events: [e], logs: []})
    expect(text).to.equal('✖ Deployment/web: not ready\n  Events:\n    Warning Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503 (x7) [web-5d8-abcde]')
  })

  it('reads the events.k8s.io fields (series, eventTime) when the old ones are empty; no time is null', () => {
    const e = failureEvent({type: 'Normal', reason: 'Scheduled', involvedObject: {name: 'web-1'}, series: {count: 3, lastObservedTime: '2026-12-01T00:11:00Z'}, eventTime: '2026-12-01T00:01:00Z'})
    expect(e).to.include({object: 'web-1', count: 3, lastSeen: '2026-12-01T00:11:00Z', message: ''})
    expect(failureEvent({reason: 'X'})).to.deep.equal({type: 'Normal', reason: 'X', object: '', count: 1, lastSeen: null, message: ''})
  })

  it('a kubectl failure whose hint points at the message above has a JSON hint that does not', () => {
    const e = classify(['get', 'widgets'], 'error: something odd happened', 'prod')
    expect(e.hint).to.equal('See the kubectl message above.')
    expect(e.jsonHint).to.equal("The reason is kubectl's own message, at the end of this error's message.")
    expect(classify(['apply', '-f', '-'], 'Error from server (Forbidden): pods is forbidden', 'prod').jsonHint).to.equal(undefined)
  })
})
