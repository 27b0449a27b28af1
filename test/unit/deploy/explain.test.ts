import {expect} from 'chai'

import {EVENTS_LAG_MS, explainFailures, explainRollout, failureEvent, formatEvent, formatFailure} from '../../../src/deploy/explain.js'
import {rolloutReport} from '../../../src/deploy/rollout.js'
import {lineFilter} from '../../../src/logs/filter.js'
import {ClusterSnapshot} from '../../../src/resources/status.js'
import {statusOf} from '../../../src/resources/kinds.js'
import {fakeKubectl} from '../../helpers/fake-kubectl.js'
import {classify} from '../../../src/kubectl/kubectl.js'

/** The API server's clock, asked beside the events of a failure. */
const CLOCK = ['create', 'configmap', 'skycap-clock', '--dry-run=server', '-o', 'jsonpath={.metadata.creationTimestamp}']

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

  it('a container without a readiness check that exited during the rollout (`terminated`, no CrashLoopBackOff yet): the report has its own last lines (it had events only)', async () => {
    const exited = {state: {terminated: {exitCode: 3, reason: 'Error'}}, lastState: {terminated: {exitCode: 3, reason: 'Error'}}}
    for (const [container, previous] of [
      [exited, false],
      [{state: {running: {startedAt: '2026-12-02T10:00:30Z'}}, lastState: exited.lastState}, true],
    ] as const) {
      const {deployment, rs, pod} = rollout('worker', 4, {phase: 'Running', containerStatuses: [{name: 'worker', ready: previous, restartCount: 1, ...container}]})
      const status = statusOf(deployment, new ClusterSnapshot([deployment, rs, pod], undefined, Date.parse('2026-12-02T10:00:31Z')))
      expect(status).to.deep.include({state: 'failed', message: 'container worker of pod worker-new-x exited (exit code 3, Error; restarted once)'})
      const back = {
        type: 'Warning',
        reason: 'BackOff',
        message: 'Back-off restarting failed container worker',
        involvedObject: {kind: 'Pod', name: 'worker-new-x'},
        lastTimestamp: '2026-12-02T10:00:30Z',
      }
      const logs = ['--request-timeout=30s', 'logs', 'worker-new-x', '-c', 'worker', '--tail=25']
      const fake = fakeKubectl([
        {argv: ['--request-timeout=30s', 'get', 'events', '-o', 'json'], result: {stdout: JSON.stringify({items: [back]})}},
        {argv: previous ? [...logs, '--previous'] : logs, result: {stdout: 'starting skycap test app version=w2\nfatal: configured to exit 3 at start\n'}},
      ])
      const [report] = await explainFailures(fake.kubectl, [status], () => lineFilter({configured: [], exclude: [], grep: []}))
      expect(report?.logs).to.deep.equal([{pod: 'worker-new-x', container: 'worker', previous, lines: ['starting skycap test app version=w2', 'fatal: configured to exit 3 at start'], hidden: 0}])
      expect(formatFailure(report!)).to.contain('    fatal: configured to exit 3 at start')
    }
  })

  it("only the events of this rollout: the Deployment's scaling of the release before is left out (it was among the five shown)", async () => {
    const {deployment, rs, pod} = rollout('web', 4, {
      phase: 'Running',
      containerStatuses: [{name: 'web', ready: false, restartCount: 3, state: {waiting: {reason: 'CrashLoopBackOff'}}, lastState: {terminated: {exitCode: 1}}}],
    })
    const status = statusOf(deployment, new ClusterSnapshot([deployment, rs, pod]))
    expect(status.eventsSince).to.equal('2026-12-02T10:00:00Z')
    const event = (reason: string, name: string, at: string, type = 'Normal', kind = 'Deployment') => ({type, reason, message: reason, involvedObject: {kind, name}, lastTimestamp: at})
    const events = [
      event('ScalingReplicaSet', 'web', '2026-12-02T09:30:00Z'),
      event('ScalingReplicaSet', 'web', '2026-12-02T10:00:00Z'),
      event('BackOff', 'web-new-x', '2026-12-02T10:00:30Z', 'Warning', 'Pod'),
    ]
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'get', 'events', '-o', 'json'], result: {stdout: JSON.stringify({items: events})}},
      {argv: ['--request-timeout=30s', 'logs', 'web-new-x', '-c', 'web', '--tail=25', '--previous'], result: {stdout: 'boom\n'}},
    ])
    const [report] = await explainFailures(fake.kubectl, [{...status, state: 'failed'}], () => lineFilter({configured: [], exclude: [], grep: []}))
    expect(report?.events.map((e) => `${e.reason} ${e.lastSeen}`)).to.deep.equal(['ScalingReplicaSet 2026-12-02T10:00:00Z', 'BackOff 2026-12-02T10:00:30Z'])
  })

  it("only the events of its own objects: not an HPA or Service of the same name, not a pod of that name deleted since (an HPA's warnings were listed as the Deployment's)", async () => {
    const {deployment, rs, pod} = rollout('web', 4, {
      phase: 'Running',
      containerStatuses: [{name: 'web', ready: false, restartCount: 3, state: {waiting: {reason: 'CrashLoopBackOff'}}, lastState: {terminated: {exitCode: 1}}}],
    })
    const live = {...pod, metadata: {...pod.metadata, uid: 'p-now'}}
    const status = statusOf(deployment, new ClusterSnapshot([deployment, rs, live]))
    expect(status.related).to.deep.equal([
      {kind: 'Deployment', name: 'web', uid: 'd-web'},
      {kind: 'ReplicaSet', name: 'web-new', uid: 'r-web-4'},
      {kind: 'Pod', name: 'web-new-x', uid: 'p-now'},
    ])
    const event = (reason: string, kind: string, name: string, uid: string | undefined, at: string) => ({
      type: 'Warning',
      reason,
      message: reason,
      involvedObject: {kind, name, ...(uid ? {uid} : {})},
      lastTimestamp: at,
    })
    const events = [
      event('FailedGetResourceMetric', 'HorizontalPodAutoscaler', 'web', 'h-web', '2026-12-02T10:00:20Z'),
      event('FailedToUpdateEndpoint', 'Endpoints', 'web', undefined, '2026-12-02T10:00:21Z'),
      event('Failed', 'Pod', 'web-new-x', 'p-before', '2026-12-02T10:00:22Z'),
      event('FailedCreate', 'ReplicaSet', 'web-new', 'r-web-4', '2026-12-02T10:00:23Z'),
      event('BackOff', 'Pod', 'web-new-x', 'p-now', '2026-12-02T10:00:30Z'),
      event('Unhealthy', 'Pod', 'web-new-x', undefined, '2026-12-02T10:00:31Z'),
    ]
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'get', 'events', '-o', 'json'], result: {stdout: JSON.stringify({items: events})}},
      {argv: ['--request-timeout=30s', 'logs', 'web-new-x', '-c', 'web', '--tail=25', '--previous'], result: {stdout: 'boom\n'}},
    ])
    const [report] = await explainFailures(fake.kubectl, [{...status, state: 'failed'}], () => lineFilter({configured: [], exclude: [], grep: []}))
    expect(fake.remaining()).to.equal(0)
    expect(report?.events.map((e) => `${e.object} ${e.reason}`)).to.deep.equal(['ReplicaSet/web-new FailedCreate', 'Pod/web-new-x BackOff', 'Pod/web-new-x Unhealthy'])
  })

  it("only events seen since the rollout began, by the API server's clock whichever way this one is off: a rollout repeated within the hour reuses its ReplicaSet, whose events of the first time were listed", async () => {
    const {deployment, rs, pod} = rollout('web', 6, {
      phase: 'Running',
      containerStatuses: [{name: 'web', ready: false, restartCount: 3, state: {waiting: {reason: 'CrashLoopBackOff'}}, lastState: {terminated: {exitCode: 1}}}],
    })
    // The ReplicaSet of the first round (10:00:00), brought back by the second, which began at 10:20:00 server time.
    const status = statusOf(deployment, new ClusterSnapshot([deployment, rs, pod]))
    // The API server writes creationTimestamp (at an event's first time); the reporter writes lastTimestamp by its clock.
    const event = (reason: string, kind: string, name: string, at: string, first = at) => ({
      type: 'Normal',
      reason,
      message: reason,
      involvedObject: {kind, name},
      lastTimestamp: at,
      metadata: {creationTimestamp: first},
    })
    const events = [
      event('SuccessfulCreate', 'ReplicaSet', 'web-new', '2026-12-02T10:00:01Z'),
      event('SuccessfulDelete', 'ReplicaSet', 'web-new', '2026-12-02T10:01:10Z'),
      event('ScalingReplicaSet', 'Deployment', 'web', '2026-12-02T10:01:09Z'),
      event('ScalingReplicaSet', 'Deployment', 'web', '2026-12-02T10:20:01Z', '2026-12-02T10:00:00Z'),
      event('Created', 'Pod', 'web-new-x', '2026-12-02T10:20:02Z'),
      {...event('BackOff', 'Pod', 'web-new-x', '2026-12-02T10:20:30Z'), type: 'Warning'},
      // Another app's pod on a node whose clock is an hour ahead: its time does not move the start.
      event('Pulled', 'Pod', 'other-1', '2026-12-02T11:20:25Z', '2026-12-02T10:20:25Z'),
    ]
    const serverStart = Date.parse('2026-12-02T10:20:00Z')
    for (const off of [-300_000, 0, 420_000]) {
      // This machine's clock is `off` ms ahead of the server's; the events are read 31 s after the rollout began.
      const clock = () => serverStart + off + 31_000
      const fake = fakeKubectl([
        // The API server's clock: 31 s after the start, server time.
        {argv: ['--request-timeout=30s', ...CLOCK], result: {stdout: '2026-12-02T10:20:31Z'}},
        {argv: ['--request-timeout=30s', 'get', 'events', '-o', 'json'], result: {stdout: JSON.stringify({items: events})}},
        {argv: ['--request-timeout=30s', 'logs', 'web-new-x', '-c', 'web', '--tail=25', '--previous'], result: {stdout: 'boom\n'}},
      ])
      const [report] = await explainFailures(fake.kubectl, [{...status, state: 'failed'}], () => lineFilter({configured: [], exclude: [], grep: []}), {at: serverStart + off, clock})
      expect(
        report?.events.map((e) => `${e.reason} ${e.lastSeen}`),
        `clock off by ${off} ms`,
      ).to.deep.equal(['ScalingReplicaSet 2026-12-02T10:20:01Z', 'Created 2026-12-02T10:20:02Z', 'BackOff 2026-12-02T10:20:30Z'])
    }
  })

  it("the API server's clock puts the start right when no event is recent: the previous rollout's rollback 2 s before is not this rollout's (a watch that gave the others 10 s to fail had listed it); without that clock, the events decide", async () => {
    const {deployment, rs, pod} = rollout('web', 6, {
      phase: 'Running',
      containerStatuses: [{name: 'web', ready: false, restartCount: 3, state: {waiting: {reason: 'CrashLoopBackOff'}}, lastState: {terminated: {exitCode: 1}}}],
    })
    const status = statusOf(deployment, new ClusterSnapshot([deployment, rs, pod]))
    const event = (reason: string, at: string, type = 'Normal') => ({
      type,
      reason,
      message: reason,
      involvedObject: {kind: 'Deployment', name: 'web'},
      lastTimestamp: at,
      metadata: {creationTimestamp: at},
    })
    // The rollback of the deploy before scaled the failed ReplicaSet down at 10:19:58; this rollout began at 10:20:00
    // and its last event is of 10:20:01; the events are read 12 s later (the grace for the others to fail).
    const events = [event('ScalingReplicaSet', '2026-12-02T10:19:58Z'), event('ScalingReplicaSet', '2026-12-02T10:20:01Z'), event('BackOff', '2026-12-02T10:20:01Z', 'Warning')]
    const serverStart = Date.parse('2026-12-02T10:20:00Z')
    for (const answer of [{stdout: '2026-12-02T10:20:12Z'}, {exitCode: 1, stdout: '', stderr: 'Error from server (Forbidden)'}]) {
      const fake = fakeKubectl([
        {argv: ['--request-timeout=30s', ...CLOCK], result: answer},
        {argv: ['--request-timeout=30s', 'get', 'events', '-o', 'json'], result: {stdout: JSON.stringify({items: events})}},
        {argv: ['--request-timeout=30s', 'logs', 'web-new-x', '-c', 'web', '--tail=25', '--previous'], result: {stdout: 'boom\n'}},
      ])
      const [report] = await explainFailures(fake.kubectl, [{...status, state: 'failed'}], () => lineFilter({configured: [], exclude: [], grep: []}), {
        at: serverStart,
        clock: () => serverStart + 12_000,
      })
      const seen = report?.events.map((e) => e.lastSeen)
      if (answer.exitCode === undefined) expect(seen).to.deep.equal(['2026-12-02T10:20:01Z', '2026-12-02T10:20:01Z'])
      else expect(seen, 'the events alone put the start 11 s early').to.deep.equal(['2026-12-02T10:19:58Z', '2026-12-02T10:20:01Z', '2026-12-02T10:20:01Z'])
    }
  })

  it('a container seen failed before the kubelet posted its Failed event: the events are read again, once, after a second (CI showed Scheduled, Pulled, Created and not why)', async () => {
    const {deployment, rs, pod} = rollout('web', 2, {
      phase: 'Pending',
      containerStatuses: [{name: 'web', ready: false, restartCount: 0, state: {waiting: {reason: 'RunContainerError', message: 'exec: "/nope": stat /nope: no such file or directory'}}}],
    })
    const status = statusOf(deployment, new ClusterSnapshot([deployment, rs, pod]))
    expect(status.state).to.equal('failed')
    const event = (reason: string, at: string, type = 'Normal') => ({type, reason, message: reason, involvedObject: {kind: 'Pod', name: 'web-new-x'}, lastTimestamp: at})
    const before = [event('Scheduled', '2026-12-02T10:00:01Z'), event('Pulled', '2026-12-02T10:00:02Z'), event('Created', '2026-12-02T10:00:02Z')]
    const after = [...before, event('Failed', '2026-12-02T10:00:02Z', 'Warning')]
    const read = {argv: ['--request-timeout=30s', 'get', 'events', '-o', 'json']}
    const fake = fakeKubectl([
      {...read, result: {stdout: JSON.stringify({items: before})}},
      {...read, result: {stdout: JSON.stringify({items: after})}},
    ])
    const started = Date.now()
    const [report] = await explainFailures(fake.kubectl, [status], () => lineFilter({configured: [], exclude: [], grep: []}))
    expect(Date.now() - started).to.be.at.least(EVENTS_LAG_MS - 50)
    expect(fake.remaining()).to.equal(0)
    expect(report?.events.map((e) => e.reason)).to.deep.equal(['Scheduled', 'Pulled', 'Created', 'Failed'])
  })

  it('still without a Warning after the second read: the report goes with what there is (no third read, no wait for a resource only pending)', async () => {
    const {deployment, rs, pod} = rollout('web', 2, {
      phase: 'Running',
      containerStatuses: [{name: 'web', ready: false, restartCount: 1, state: {waiting: {reason: 'CrashLoopBackOff'}}, lastState: {terminated: {exitCode: 1}}}],
    })
    const status = statusOf(deployment, new ClusterSnapshot([deployment, rs, pod]))
    const read = {argv: ['--request-timeout=30s', 'get', 'events', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}}
    const logs = {argv: ['--request-timeout=30s', 'logs', 'web-new-x', '-c', 'web', '--tail=25', '--previous'], result: {stdout: 'boom\n'}}
    const fake = fakeKubectl([read, read, logs])
    const [report] = await explainFailures(fake.kubectl, [{...status, state: 'failed'}], () => lineFilter({configured: [], exclude: [], grep: []}))
    expect(fake.remaining()).to.equal(0)
    expect(report?.events).to.deep.equal([])
    const pending = fakeKubectl([read])
    const [timedOut] = await explainFailures(pending.kubectl, [{...status, state: 'pending', failing: []}], () => lineFilter({configured: [], exclude: [], grep: []}))
    expect(pending.remaining()).to.equal(0)
    expect(timedOut?.message).to.match(/^still not ready: /)
  })

  it('a timeout shows the logs of the containers that run but never got ready (it showed none: an app that never gets ready says why there)', async () => {
    const {deployment, rs, pod} = rollout('api', 2, {
      phase: 'Running',
      conditions: [{type: 'Ready', status: 'False'}],
      containerStatuses: [{name: 'api', ready: false, restartCount: 0, state: {running: {startedAt: '2026-12-02T10:00:05Z'}}}],
    })
    const status = statusOf(deployment, new ClusterSnapshot([deployment, rs, pod]))
    expect(status.state).to.equal('pending')
    expect(status.message).to.contain('container api of pod api-new-x runs but its readiness check does not pass')
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'get', 'events', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      {argv: ['--request-timeout=30s', 'logs', 'api-new-x', '-c', 'api', '--tail=25'], result: {stdout: 'starting\nwaiting for the database at db:5432\n'}},
    ])
    const [report] = await explainFailures(fake.kubectl, [status], () => lineFilter({configured: [], exclude: [], grep: []}))
    expect(fake.remaining()).to.equal(0)
    expect(report?.message).to.match(/^still not ready: /)
    expect(report?.logs).to.deep.equal([{pod: 'api-new-x', container: 'api', previous: false, lines: ['starting', 'waiting for the database at db:5432'], hidden: 0}])
  })

  it('a Ctrl-C that stops kubectl logs (the terminal signals the whole group) leaves the report without those lines; it does not stop the report', async () => {
    const status = {
      ref: 'Deployment/worker',
      state: 'failed' as const,
      message: 'container worker of pod worker-1 is in CrashLoopBackOff',
      related: [
        {kind: 'Deployment', name: 'worker'},
        {kind: 'Pod', name: 'worker-1'},
      ],
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
    const status = {ref: 'Deployment/web', state: 'failed' as const, message: 'not ready', related: [{kind: 'Pod', name: 'web-1'}], failing: []}
    const event = (reason: string, at: string) => ({type: reason === 'Unhealthy' ? 'Warning' : 'Normal', reason, message: reason, involvedObject: {kind: 'Pod', name: 'web-1'}, lastTimestamp: at})
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

    // Within one second the two precisions do not compare: the order the API server wrote them in (resourceVersion)
    // decides. A BackOff last seen at :22Z was listed before the SuccessfulCreate and the Scheduled (:22.036771Z) of
    // the pod it was about.
    const written = (reason: string, at: {lastTimestamp?: string; eventTime?: string}, version: string) => ({
      type: reason === 'BackOff' ? 'Warning' : 'Normal',
      reason,
      message: reason,
      involvedObject: {kind: 'Pod', name: 'web-1'},
      metadata: {resourceVersion: version},
      ...at,
    })
    const second = fakeKubectl([
      {
        argv: ['--request-timeout=30s', 'get', 'events', '-o', 'json'],
        result: {
          stdout: JSON.stringify({
            items: [
              written('BackOff', {lastTimestamp: '2026-12-07T00:34:22Z'}, '1300'),
              written('SuccessfulCreate', {lastTimestamp: '2026-12-07T00:34:22Z'}, '998'),
              written('Scheduled', {eventTime: '2026-12-07T00:34:22.036771Z'}, '1001'),
              written('Pulled', {lastTimestamp: '2026-12-07T00:34:21Z'}, '2000'),
            ],
          }),
        },
      },
    ])
    const [ordered] = await explainFailures(second.kubectl, [status], () => lineFilter({configured: [], exclude: [], grep: []}))
    expect(ordered?.events.map((e) => e.reason)).to.deep.equal(['Pulled', 'SuccessfulCreate', 'Scheduled', 'BackOff'])
  })

  it('a failing container that printed nothing gets one line saying so, not an empty "Last 0 log lines" block', () => {
    const text = formatFailure({ref: 'Deployment/web', message: 'crash', events: [], logs: [{pod: 'web-1', container: 'web', previous: true, lines: [], hidden: 0}]})
    expect(text).to.equal('✖ Deployment/web: crash\n  No log lines from web-1/web (previous, crashed container).')
    const shown = formatFailure({ref: 'Deployment/web', message: 'crash', events: [], logs: [{pod: 'web-1', container: 'web', previous: false, lines: ['boom'], hidden: 2}]})
    expect(shown).to.equal('✖ Deployment/web: crash\n  Last log line of web-1/web, 2 hidden by filters:\n    boom')
  })

  it('what was still rolling out when another service failed: its warnings and its unready containers\' logs from the same events read; one merely starting says nothing (a readiness check that never passed read as plain "interrupted")', async () => {
    const crashed = rollout('worker', 3, {
      phase: 'Running',
      containerStatuses: [{name: 'worker', ready: false, restartCount: 2, state: {waiting: {reason: 'CrashLoopBackOff'}}, lastState: {terminated: {exitCode: 1}}}],
    })
    const unready = rollout('web', 3, {
      phase: 'Running',
      conditions: [{type: 'Ready', status: 'False'}],
      containerStatuses: [{name: 'web', ready: false, restartCount: 0, state: {running: {startedAt: '2026-12-02T10:00:05Z'}}}],
    })
    const starting = rollout('api', 3, {phase: 'Pending', containerStatuses: [{name: 'api', ready: false, restartCount: 0, state: {waiting: {reason: 'ContainerCreating'}}}]})
    const snapshot = new ClusterSnapshot([crashed, unready, starting].flatMap((r) => [r.deployment, r.rs, r.pod]))
    const [worker, web, api] = [crashed, unready, starting].map((r) => statusOf(r.deployment, snapshot))
    expect([worker?.state, web?.state, api?.state]).to.deep.equal(['failed', 'pending', 'pending'])
    const event = (reason: string, pod: string, at: string, type = 'Warning') => ({type, reason, message: `${reason} of ${pod}`, involvedObject: {kind: 'Pod', name: pod}, lastTimestamp: at})
    const events = [
      event('BackOff', 'worker-new-x', '2026-12-02T10:00:20Z'),
      event('Scheduled', 'web-new-x', '2026-12-02T10:00:01Z', 'Normal'),
      event('Unhealthy', 'web-new-x', '2026-12-02T10:00:09Z'),
      // of the release before (its ReplicaSet is older than this rollout's): not about this rollout
      event('Unhealthy', 'web-new-x', '2026-12-02T09:00:00Z'),
      event('Scheduled', 'api-new-x', '2026-12-02T10:00:02Z', 'Normal'),
    ]
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'get', 'events', '-o', 'json'], result: {stdout: JSON.stringify({items: events})}},
      {argv: ['--request-timeout=30s', 'logs', 'worker-new-x', '-c', 'worker', '--tail=25', '--previous'], result: {stdout: 'boom\n'}},
      {argv: ['--request-timeout=30s', 'logs', 'web-new-x', '-c', 'web', '--tail=25'], result: {stdout: 'GET /healthz 503\nwaiting for redis\n'}},
    ])
    const filter = () => lineFilter({configured: ['GET /healthz'], exclude: [], grep: []})
    const {failures, moving} = await explainRollout(fake.kubectl, [worker!], [web!, api!], filter)
    expect(fake.remaining()).to.equal(0)
    expect(failures.map((f) => [f.ref, f.events.map((e) => e.reason), f.logs.flatMap((l) => l.lines)])).to.deep.equal([['Deployment/worker', ['BackOff'], ['boom']]])
    expect(moving.map((m) => [m.ref, m.events.map((e) => `${e.reason} ${e.lastSeen}`), m.logs])).to.deep.equal([
      ['Deployment/web', ['Unhealthy 2026-12-02T10:00:09Z'], [{pod: 'web-new-x', container: 'web', previous: false, lines: ['waiting for redis'], hidden: 1}]],
    ])
    const text = rolloutReport({failures, interrupted: [...moving, {ref: 'Deployment/api', message: api!.message}]}).join('\n')
    expect(text).to.match(/^✖ Deployment\/worker: container worker of pod worker-new-x is in CrashLoopBackOff/)
    expect(text).to.contain(
      `\n⏸ Deployment/web: still rolling out when the release failed, with warnings: ${web!.message}\n  Events:\n    Warning Unhealthy: Unhealthy of web-new-x [web-new-x]\n  Last log line of web-new-x/web, 1 hidden by filters:\n    waiting for redis`,
    )
    expect(text).to.not.contain('Deployment/api')
  })

  it('a kubectl failure whose hint points at the message above has a JSON hint that does not', () => {
    const e = classify(['get', 'widgets'], 'error: something odd happened', 'prod')
    expect(e.hint).to.equal('See the kubectl message above.')
    expect(e.jsonHint).to.equal("The reason is kubectl's own message, at the end of this error's message.")
    expect(classify(['apply', '-f', '-'], 'Error from server (Forbidden): pods is forbidden', 'prod').jsonHint).to.equal(undefined)
  })
})

/** A Deployment `name` at revision `n` mid-rollout (one pod of its new ReplicaSet, with `podStatus`, one old pod). */
function rollout(name: string, n: number, podStatus: Record<string, unknown>) {
  const labels = {app: name}
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name, uid: `d-${name}`, generation: n, annotations: {'deployment.kubernetes.io/revision': String(n)}},
    spec: {replicas: 1, selector: {matchLabels: labels}, template: {metadata: {labels}, spec: {containers: [{name, image: `${name}:${n}`}]}}},
    status: {observedGeneration: n, replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 1},
  }
  const rs = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${name}-new`,
      uid: `r-${name}-${n}`,
      creationTimestamp: '2026-12-02T10:00:00Z',
      annotations: {'deployment.kubernetes.io/revision': String(n)},
      ownerReferences: [{uid: `d-${name}`}],
    },
    spec: {template: {metadata: {labels}, spec: {containers: [{name, image: `${name}:${n}`}]}}},
  }
  const pod = {apiVersion: 'v1', kind: 'Pod', metadata: {name: `${name}-new-x`, ownerReferences: [{uid: `r-${name}-${n}`}]}, status: podStatus}
  return {deployment, rs, pod}
}
