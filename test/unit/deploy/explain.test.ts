import {expect} from 'chai'

import {explainFailures, failureEvent, formatEvent, formatFailure} from '../../../src/deploy/explain.js'
import {lineFilter} from '../../../src/logs/filter.js'
import {ClusterSnapshot} from '../../../src/resources/status.js'
import {statusOf} from '../../../src/resources/kinds.js'
import {fakeKubectl} from '../../helpers/fake-kubectl.js'
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

  it("only the events of this rollout: the Deployment's scaling of the release before is left out (it was among the five shown)", async () => {
    const labels = {app: 'web'}
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {name: 'web', uid: 'd1', generation: 4, annotations: {'deployment.kubernetes.io/revision': '4'}},
      spec: {replicas: 1, selector: {matchLabels: labels}, template: {metadata: {labels}, spec: {containers: [{name: 'web', image: 'web:4'}]}}},
      status: {observedGeneration: 4, replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 1},
    }
    const rs = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {name: 'web-new', uid: 'r4', creationTimestamp: '2026-12-02T10:00:00Z', annotations: {'deployment.kubernetes.io/revision': '4'}, ownerReferences: [{uid: 'd1'}]},
      spec: {template: {metadata: {labels}, spec: {containers: [{name: 'web', image: 'web:4'}]}}},
    }
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {name: 'web-new-x', ownerReferences: [{uid: 'r4'}]},
      status: {phase: 'Running', containerStatuses: [{name: 'web', ready: false, restartCount: 3, state: {waiting: {reason: 'CrashLoopBackOff'}}, lastState: {terminated: {exitCode: 1}}}]},
    }
    const status = statusOf(deployment, new ClusterSnapshot([deployment, rs, pod]))
    expect(status.eventsSince).to.equal('2026-12-02T10:00:00Z')
    const event = (reason: string, name: string, at: string) => ({type: 'Normal', reason, message: reason, involvedObject: {kind: 'Deployment', name}, lastTimestamp: at})
    const events = [event('ScalingReplicaSet', 'web', '2026-12-02T09:30:00Z'), event('ScalingReplicaSet', 'web', '2026-12-02T10:00:00Z'), event('BackOff', 'web-new-x', '2026-12-02T10:00:30Z')]
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'get', 'events', '-o', 'json'], result: {stdout: JSON.stringify({items: events})}},
      {argv: ['--request-timeout=30s', 'logs', 'web-new-x', '-c', 'web', '--tail=25', '--previous'], result: {stdout: 'boom\n'}},
    ])
    const [report] = await explainFailures(fake.kubectl, [{...status, state: 'failed'}], () => lineFilter({configured: [], exclude: [], grep: []}))
    expect(report?.events.map((e) => `${e.reason} ${e.lastSeen}`)).to.deep.equal(['ScalingReplicaSet 2026-12-02T10:00:00Z', 'BackOff 2026-12-02T10:00:30Z'])
  })

  it('a Ctrl-C that stops kubectl logs (the terminal signals the whole group) leaves the report without those lines; it does not stop the report', async () => {
    const status = {
      ref: 'Deployment/worker',
      state: 'failed' as const,
      message: 'container worker of pod worker-1 is in CrashLoopBackOff',
      related: ['worker', 'worker-1'],
      failing: [{pod: 'worker-1', container: 'worker', previous: true}],
    }
    const backOff = {type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container', involvedObject: {kind: 'Pod', name: 'worker-1'}, lastTimestamp: '2026-12-02T10:00:30Z'}
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'get', 'events', '-o', 'json'], result: {stdout: JSON.stringify({items: [backOff]})}},
      {argv: ['--request-timeout=30s', 'logs', 'worker-1', '-c', 'worker', '--tail=25', '--previous'], result: {exitCode: -1, signal: 'SIGINT'}},
    ])
    const reports = await explainFailures(fake.kubectl, [status], () => lineFilter({configured: [], exclude: [], grep: []}))
    expect(fake.remaining()).to.equal(0)
    expect(reports.map((r) => [r.ref, r.message, r.events.map((e) => e.reason), r.logs])).to.deep.equal([[status.ref, status.message, ['BackOff'], []]])
  })

  it('orders events by time, whether or not the API server wrote microseconds (as text, 10:00:00.5Z came before 10:00:00Z)', async () => {
    const status = {ref: 'Deployment/web', state: 'failed' as const, message: 'not ready', related: ['web-1'], failing: []}
    const event = (reason: string, at: string) => ({type: 'Normal', reason, message: reason, involvedObject: {kind: 'Pod', name: 'web-1'}, lastTimestamp: at})
    const events = [
      event('Scheduled', '2026-12-02T09:59:59Z'),
      event('Pulled', '2026-12-02T10:00:00Z'),
      event('Started', '2026-12-02T10:00:00.500000Z'),
      event('Killing', '2026-12-02T10:00:01Z'),
      event('Created', '2026-12-02T09:59:59.900000Z'),
      event('Unhealthy', '2026-12-02T10:00:02Z'),
    ]
    const fake = fakeKubectl([{argv: ['--request-timeout=30s', 'get', 'events', '-o', 'json'], result: {stdout: JSON.stringify({items: events})}}])
    const [report] = await explainFailures(fake.kubectl, [status], () => lineFilter({configured: [], exclude: [], grep: []}))
    expect(report?.events.map((e) => e.reason)).to.deep.equal(['Created', 'Pulled', 'Started', 'Killing', 'Unhealthy'])
  })

  it('a failing container that printed nothing gets one line saying so, not an empty "Last 0 log lines" block', () => {
    const text = formatFailure({ref: 'Deployment/web', message: 'crash', events: [], logs: [{pod: 'web-1', container: 'web', previous: true, lines: [], hidden: 0}]})
    expect(text).to.equal('✖ Deployment/web: crash\n  No log lines from web-1/web (previous, crashed container).')
    const shown = formatFailure({ref: 'Deployment/web', message: 'crash', events: [], logs: [{pod: 'web-1', container: 'web', previous: false, lines: ['boom'], hidden: 2}]})
    expect(shown).to.equal('✖ Deployment/web: crash\n  Last 1 log lines of web-1/web, 2 hidden by filters:\n    boom')
  })

  it('a kubectl failure whose hint points at the message above has a JSON hint that does not', () => {
    const e = classify(['get', 'widgets'], 'error: something odd happened', 'prod')
    expect(e.hint).to.equal('See the kubectl message above.')
    expect(e.jsonHint).to.equal("The reason is kubectl's own message, at the end of this error's message.")
    expect(classify(['apply', '-f', '-'], 'Error from server (Forbidden): pods is forbidden', 'prod').jsonHint).to.equal(undefined)
  })
})
