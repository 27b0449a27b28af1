import {expect} from 'chai'

import type {KubeObject} from '../../../src/render/objects.js'
import {statusOf, watchResources} from '../../../src/resources/kinds.js'
import {ClusterSnapshot} from '../../../src/resources/status.js'

// Live objects as the API server reports them, reduced to the fields the watch reads.
const desired = (kind: string, name: string): KubeObject => ({apiVersion: 'apps/v1', kind, metadata: {name}})
const crashing = (name: string, owner: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {name, labels, ownerReferences: [{uid: owner}]},
  status: {phase: 'Running', containerStatuses: [{name: 'c', restartCount: 3, state: {waiting: {reason: 'CrashLoopBackOff'}}, lastState: {terminated: {exitCode: 1}}}]},
})
const ready = (name: string, owner: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {name, labels, ownerReferences: [{uid: owner}]},
  status: {phase: 'Running', conditions: [{type: 'Ready', status: 'True'}], containerStatuses: [{name: 'c', ready: true, state: {running: {}}}]},
})
// A pod template as the server keeps it; the controller copies it into the ReplicaSet with its pod-template-hash.
const template = (image: string, hash?: string) => ({
  metadata: {labels: {app: 'web', ...(hash ? {'pod-template-hash': hash} : {})}},
  spec: {containers: [{name: 'c', image}]},
})
const rs = (name: string, revision: string, image = 'web:new', owner = 'd') => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: {name, uid: name, annotations: {'deployment.kubernetes.io/revision': revision}, ownerReferences: [{uid: owner}]},
  spec: {template: template(image, name.slice(name.lastIndexOf('-') + 1))},
})

function deployment(generation: number, observed: number, revision: string, status: Record<string, unknown> = {}, image = 'web:new') {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name: 'web', uid: 'd', generation, annotations: {'deployment.kubernetes.io/revision': revision}},
    spec: {replicas: 2, template: template(image)},
    status: {observedGeneration: observed, replicas: 3, updatedReplicas: 1, readyReplicas: 2, availableReplicas: 2, ...status},
  }
}

const judge = (kind: string, items: object[]) => statusOf(desired(kind, 'web'), new ClusterSnapshot(items as KubeObject[]))

describe('the watch judges only fresh state', () => {
  describe('Deployment', () => {
    it('before the controller observed the applied generation, a crashing ReplicaSet its annotation still names does not fail it', () => {
      // A rollback away from revision 2 (crashing): generation 3 applied, the controller has seen only 2.
      const s = judge('Deployment', [deployment(3, 2, '2'), rs('web-bad', '2', 'web:bad'), rs('web-good', '1'), crashing('web-bad-1', 'web-bad'), ready('web-good-1', 'web-good')])
      expect(s.state).to.equal('pending')
      expect(s.message).to.equal('waiting for the controller to see the new spec')
    })

    it('once observed, crashing pods of the old ReplicaSet do not fail it; the new ones are judged', () => {
      // The controller reused the good ReplicaSet as revision 3; the crashing one is on its way out.
      const items = [deployment(3, 3, '3'), rs('web-bad', '2', 'web:bad'), rs('web-good', '3'), crashing('web-bad-1', 'web-bad'), ready('web-good-1', 'web-good')]
      const s = judge('Deployment', items)
      expect(s.state).to.equal('pending')
      // Ready counts the new ReplicaSet's pods (1), not the Deployment's readyReplicas (2, the old ones too).
      expect(s.message).to.equal('1/2 updated, 1 ready, 2 old still running')
      const failing = judge('Deployment', [...items.slice(0, 3), crashing('web-good-2', 'web-good')])
      expect(failing.state).to.equal('failed')
      expect(failing.message).to.contain('web-good-2')
    })

    it('a change of template and replicas: observed while the annotation still names the release before, its crashing pods do not fail it', () => {
      // As the test cluster's controller reports it: the scaling is handled first, generation 5 observed, revision
      // still 4 (the crash-looping release a --no-rollback deploy left), the new ReplicaSet not created yet.
      const before = [deployment(5, 5, '4', {replicas: 2, updatedReplicas: 0}), rs('web-bad', '4', 'web:bad'), crashing('web-bad-1', 'web-bad'), crashing('web-bad-2', 'web-bad')]
      for (let poll = 0; poll < 2; poll++) {
        const s = judge('Deployment', before)
        expect(s.state).to.equal('pending')
        expect(s.message).to.equal('waiting for the controller to create the new ReplicaSet')
        expect(s.related).to.deep.equal([{kind: 'Deployment', name: 'web', uid: 'd'}])
      }
      // Its progress deadline, exceeded by the crashing ReplicaSet, is not this rollout's either.
      const deadline = {type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-bad" has timed out progressing.'}
      expect(judge('Deployment', [deployment(5, 5, '4', {conditions: [deadline]}), rs('web-bad', '4', 'web:bad')]).state).to.equal('pending')
      // Once the new ReplicaSet exists under revision 5, its pods are judged: ready, then crashing.
      const after = [deployment(5, 5, '5', {replicas: 3, updatedReplicas: 1}), rs('web-bad', '4', 'web:bad'), rs('web-good', '5'), crashing('web-bad-1', 'web-bad'), ready('web-good-1', 'web-good')]
      expect(judge('Deployment', after)).to.deep.include({state: 'pending', message: '1/2 updated, 1 ready, 2 old still running'})
      expect(judge('Deployment', [...after, crashing('web-good-2', 'web-good')]).state).to.equal('failed')
    })

    it('the pods, read fresher than the Deployment status, never show more ready new pods than updated ones ("0/1 updated, 1 ready" was said)', () => {
      // The controller has not yet counted the new ReplicaSet's pods in the Deployment's status: 0 updated, 1 old.
      const stale = [deployment(3, 3, '3', {replicas: 2, updatedReplicas: 0}), rs('web-old', '2'), rs('web-new', '3'), ready('web-old-1', 'web-old'), ready('web-new-1', 'web-new')]
      expect(judge('Deployment', stale)).to.deep.include({state: 'pending', message: '1/2 updated, 1 ready, 1 old still running'})
      const fresh = [deployment(3, 3, '3', {replicas: 3, updatedReplicas: 1}), rs('web-old', '2'), rs('web-new', '3'), ready('web-new-1', 'web-new'), ready('web-new-2', 'web-new')]
      expect(judge('Deployment', fresh)).to.deep.include({state: 'pending', message: '2/2 updated, 2 ready, 1 old still running'})
    })

    it('minReadySeconds: ready pods that do not count as available yet are waited for, and the message says why; a crash meanwhile fails it', () => {
      const waiting = {...deployment(3, 3, '3', {replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 0, unavailableReplicas: 2})}
      const withMin = {...waiting, spec: {...waiting.spec, minReadySeconds: 6}}
      const items = [withMin, rs('web-new', '3'), ready('web-new-1', 'web-new'), ready('web-new-2', 'web-new')]
      expect(judge('Deployment', items)).to.deep.include({state: 'pending', message: '2/2 updated, 2 ready, 0 available (a pod counts once ready for 6s, minReadySeconds)'})
      // Without minReadySeconds a lag of availableReplicas is not explained that way.
      expect(judge('Deployment', [waiting, ...items.slice(1)]).message).to.equal('2/2 updated, 2 ready')
      expect(judge('Deployment', [withMin, rs('web-new', '3'), ready('web-new-1', 'web-new'), crashing('web-new-2', 'web-new')]).state).to.equal('failed')
      const available = {...withMin, status: {...withMin.status, availableReplicas: 2, unavailableReplicas: 0}}
      expect(judge('Deployment', [available, ...items.slice(1)])).to.deep.include({state: 'ready', message: '2/2 ready'})
    })

    it('a ReplicaSet of the revision with the Deployment’s template, its pod-template-hash aside, is the current one', () => {
      // No ReplicaSet of revision 4 (not a state the controller leaves once it observed it): no pod is judged, the
      // Deployment's status decides. Revision 4 with another template: the annotation is stale, nothing is judged.
      // Revision 4 with the Deployment's template: its pods are judged.
      const d = deployment(4, 4, '4', {replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2})
      expect(judge('Deployment', [d, rs('web-a', '3'), crashing('web-a-1', 'web-a')]).state).to.equal('ready')
      expect(judge('Deployment', [d, rs('web-a', '4', 'web:other'), crashing('web-a-1', 'web-a')]).state).to.equal('pending')
      expect(judge('Deployment', [d, rs('web-a', '4'), crashing('web-a-1', 'web-a')]).state).to.equal('failed')
    })

    it('paused by hand (kubectl rollout pause) before its new ReplicaSet or mid-way fails it, naming the resume; one already rolled out is ready', () => {
      const pause = (d: ReturnType<typeof deployment>) => ({...d, spec: {...d.spec, paused: true}})
      // The controller observed the paused Deployment's new template and makes no ReplicaSet for it.
      const before = judge('Deployment', [pause(deployment(5, 5, '4', {replicas: 2, updatedReplicas: 0})), rs('web-old', '4', 'web:old')])
      expect(before).to.deep.include({state: 'failed', message: 'paused (kubectl rollout pause): the controller rolls out nothing until `kubectl rollout resume deployment/web`'})
      // Paused mid-way: one new pod of two, and the controller scales no further.
      const midway = judge('Deployment', [pause(deployment(3, 3, '3')), rs('web-old', '2', 'web:old'), rs('web-new', '3'), ready('web-new-1', 'web-new')])
      expect(midway.state).to.equal('failed')
      expect(midway.message).to.contain('kubectl rollout resume deployment/web')
      // Not paused, the same states are waited for.
      expect(judge('Deployment', [deployment(3, 3, '3'), rs('web-old', '2', 'web:old'), rs('web-new', '3'), ready('web-new-1', 'web-new')]).state).to.equal('pending')
      // Already rolled out (a rollback to the template that runs): nothing to wait for.
      const done = pause(deployment(4, 4, '4', {replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2}))
      expect(judge('Deployment', [done, rs('web-new', '4'), ready('web-new-1', 'web-new'), ready('web-new-2', 'web-new')]).state).to.equal('ready')
      // Before the controller saw the spec, nothing is judged, paused or not.
      expect(judge('Deployment', [pause(deployment(6, 5, '4')), rs('web-old', '4', 'web:old')]).state).to.equal('pending')
    })

    it('a progress deadline exceeded by an earlier ReplicaSet is not this rollout’s', () => {
      const stale = {type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-bad" has timed out progressing.'}
      expect(judge('Deployment', [deployment(3, 3, '3', {conditions: [stale]}), rs('web-bad', '2', 'web:bad'), rs('web-good', '3')]).state).to.equal('pending')
      const mine = {...stale, message: 'ReplicaSet "web-good" has timed out progressing.'}
      const s = judge('Deployment', [deployment(3, 3, '3', {conditions: [mine]}), rs('web-bad', '2', 'web:bad'), rs('web-good', '3')])
      expect(s.state).to.equal('failed')
      expect(s.message).to.equal('exceeded its progress deadline: ReplicaSet "web-good" has timed out progressing.')
    })

    it('a pod of the current ReplicaSet being deleted (a scale-down) that its SIGTERM left Failed does not fail it; one not being deleted does', () => {
      // Scaling web from 1 to 0 on the real node: the Go app exits 2 on SIGTERM, the kubelet marks its pod Failed
      // before the controller's status says 0 replicas.
      const exited = (deleting: boolean) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {name: 'web-good-1', ownerReferences: [{uid: 'web-good'}], ...(deleting ? {deletionTimestamp: '2026-12-02T17:05:27Z'} : {})},
        status: {phase: 'Failed', containerStatuses: [{name: 'c', state: {terminated: {exitCode: 2, reason: 'Error'}}}]},
      })
      const scaledDown = (deleting: boolean) => [
        {...deployment(4, 4, '3', {replicas: 1, updatedReplicas: 1, readyReplicas: 0, availableReplicas: 0}), spec: {replicas: 0, template: template('web:new')}},
        rs('web-good', '3'),
        exited(deleting),
      ]
      expect(judge('Deployment', scaledDown(true))).to.deep.include({state: 'pending', message: '1/0 updated, 0 ready'})
      expect(judge('Deployment', scaledDown(false))).to.deep.include({state: 'failed', message: 'pod web-good-1 failed'})
    })
  })

  describe('StatefulSet', () => {
    const sts = (generation: number, observed: number, status: Record<string, unknown>) => ({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: {name: 'web', uid: 's', generation},
      spec: {replicas: 2},
      status: {observedGeneration: observed, ...status},
    })

    it('pods of an older revision that crash do not fail it, and are handed back for deletion (they block the controller)', () => {
      const status = {updateRevision: 'web-good', currentRevision: 'web-bad', replicas: 2, readyReplicas: 1, updatedReplicas: 1}
      const items = [sts(3, 3, status), ready('web-0', 's', {'controller-revision-hash': 'web-good'}), crashing('web-1', 's', {'controller-revision-hash': 'web-bad'})]
      const s = judge('StatefulSet', items)
      expect(s.state).to.equal('pending')
      expect(s.replace).to.deep.equal(['web-1'])
    })

    it('a crashing pod of the update revision fails it', () => {
      const status = {updateRevision: 'web-bad', currentRevision: 'web-good', replicas: 2, readyReplicas: 1, updatedReplicas: 1}
      const s = judge('StatefulSet', [sts(2, 2, status), ready('web-0', 's', {'controller-revision-hash': 'web-good'}), crashing('web-1', 's', {'controller-revision-hash': 'web-bad'})])
      expect(s.state).to.equal('failed')
      expect(s.message).to.contain('web-1')
    })

    it('judges nothing before the controller observed the generation', () => {
      const status = {updateRevision: 'web-bad', currentRevision: 'web-good'}
      expect(judge('StatefulSet', [sts(3, 2, status), crashing('web-1', 's', {'controller-revision-hash': 'web-bad'})]).state).to.equal('pending')
    })
  })

  describe('DaemonSet', () => {
    const ds = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: {name: 'web', uid: 'ds', generation: 3},
      status: {observedGeneration: 3, desiredNumberScheduled: 2, updatedNumberScheduled: 1, numberAvailable: 1, numberReady: 1, numberUnavailable: 1},
    }
    const revision = (hash: string, n: number) => ({
      apiVersion: 'apps/v1',
      kind: 'ControllerRevision',
      revision: n,
      metadata: {name: `web-${hash}`, labels: {'controller-revision-hash': hash}, ownerReferences: [{uid: 'ds'}]},
    })

    it('the current revision is the ControllerRevision with the highest number; older crashing pods do not fail it', () => {
      const items = [ds, revision('bad', 2), revision('good', 3), ready('web-a', 'ds', {'controller-revision-hash': 'good'}), crashing('web-b', 'ds', {'controller-revision-hash': 'bad'})]
      expect(judge('DaemonSet', items).state).to.equal('pending')
      const flipped = [ds, revision('bad', 4), revision('good', 3), ready('web-a', 'ds', {'controller-revision-hash': 'good'}), crashing('web-b', 'ds', {'controller-revision-hash': 'bad'})]
      expect(judge('DaemonSet', flipped).state).to.equal('failed')
    })

    it('the poll asks for ControllerRevisions only when a DaemonSet is watched', () => {
      expect(watchResources([desired('Deployment', 'web')])).to.not.contain('controllerrevisions')
      expect(watchResources([desired('DaemonSet', 'web')])).to.match(/,controllerrevisions$/)
    })
  })
})

describe('a rollout’s new pods that exit, and containers without a readiness check (the watch’s clock given)', () => {
  const T = Date.parse('2026-12-07T10:00:00Z')
  const at = (kind: string, items: object[], now: number) => statusOf(desired(kind, 'web'), new ClusterSnapshot(items as KubeObject[], undefined, now))
  const sts = (status: Record<string, unknown>) => ({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {name: 'web', uid: 's', generation: 2},
    spec: {replicas: 1},
    status: {observedGeneration: 2, replicas: 1, readyReplicas: 1, updatedReplicas: 1, currentRevision: 'web-2', updateRevision: 'web-2', ...status},
  })
  const pod = (spec: Record<string, unknown>, container: Record<string, unknown>, init: object[] = []) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {name: 'web-0', labels: {'controller-revision-hash': 'web-2'}, ownerReferences: [{uid: 's'}]},
    spec,
    status: {phase: 'Running', conditions: [{type: 'Ready', status: 'True'}], initContainerStatuses: init, containerStatuses: [{name: 'web', ready: true, restartCount: 0, ...container}]},
  })
  const running = {state: {running: {startedAt: '2026-12-07T10:00:00Z'}}}

  it('a StatefulSet’s pod without a readiness check settles 3 s; with one it is ready at once; without the clock (status) as before', () => {
    const bare = [sts({}), pod({containers: [{name: 'web'}]}, running)]
    expect(at('StatefulSet', bare, T + 1000)).to.deep.include({state: 'pending', settlesAt: T + 3000})
    expect(at('StatefulSet', bare, T + 3000)).to.deep.include({state: 'ready', message: '1/1 ready'})
    expect(judge('StatefulSet', bare).state).to.equal('ready')
    expect(at('StatefulSet', [sts({}), pod({containers: [{name: 'web', readinessProbe: {exec: {command: ['true']}}}]}, running)], T + 1000).state).to.equal('ready')
  })

  it('an init container that failed fails it, one done (exit 0) does not; a Job’s pod (restartPolicy Never) that exited is the Job’s to judge', () => {
    const done = {name: 'migrate', state: {terminated: {exitCode: 0, reason: 'Completed'}}}
    expect(at('StatefulSet', [sts({}), pod({}, running, [done])], T + 5000).state).to.equal('ready')
    const failed = at('StatefulSet', [sts({readyReplicas: 0}), pod({}, {state: {waiting: {reason: 'PodInitializing'}}}, [{...done, state: {terminated: {exitCode: 1, reason: 'Error'}}}])], T + 5000)
    expect(failed).to.deep.include({state: 'failed', message: 'container migrate of pod web-0 exited (exit code 1, Error)'})
    const job = {apiVersion: 'batch/v1', kind: 'Job', metadata: {name: 'web', uid: 'j'}, spec: {completions: 1}, status: {}}
    const jobPod = {...pod({restartPolicy: 'Never'}, {state: {terminated: {exitCode: 0, reason: 'Completed'}}}), metadata: {name: 'web-x', ownerReferences: [{uid: 'j'}]}}
    expect(at('Job', [job, jobPod], T + 5000).state).to.equal('pending')
  })
})

describe('why a pod fails, in one sentence', () => {
  it('a command the runtime cannot start (not in the image) is said so, with the runtime’s words, not as a crash with exit code 128 or the runtime’s whole message; no logs are asked for', () => {
    // As containerd reports it on the real node: the restarts are the runtime's attempts, 128 its exit code.
    const startError = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {name: 'web-new-1', ownerReferences: [{uid: 'web-new'}]},
      status: {
        phase: 'Running',
        containerStatuses: [
          {
            name: 'web',
            restartCount: 1,
            state: {waiting: {reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container=web pod=web-new-1_ns(uid)'}},
            lastState: {
              terminated: {
                exitCode: 128,
                reason: 'StartError',
                message:
                  'failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/nope": stat /nope: no such file or directory: unknown',
              },
            },
          },
        ],
      },
    }
    const s = judge('Deployment', [deployment(2, 2, '2'), rs('web-new', '2'), startError])
    expect(s.state).to.equal('failed')
    expect(s.message).to.equal('container web of pod web-new-1 cannot start (StartError): exec: "/nope": stat /nope: no such file or directory (restarted once)')
    expect(s.failing).to.deep.equal([])
    // Seen first, before the kubelet backs off: the same sentence, from the waiting state.
    const [status] = startError.status.containerStatuses
    const running = {
      ...startError,
      status: {...startError.status, containerStatuses: [{...status, restartCount: 0, state: {waiting: {reason: 'RunContainerError', message: status?.lastState.terminated.message}}, lastState: {}}]},
    }
    const first = judge('Deployment', [deployment(2, 2, '2'), rs('web-new', '2'), running])
    expect([first.state, first.message, first.failing]).to.deep.equal([
      'failed',
      'container web of pod web-new-1 cannot start (RunContainerError): exec: "/nope": stat /nope: no such file or directory',
      [],
    ])
    // A command that started and exited is a crash, as before, with its logs.
    const crashed = judge('Deployment', [deployment(2, 2, '2'), rs('web-new', '2'), crashing('web-new-1', 'web-new')])
    expect(crashed.message).to.equal('container c of pod web-new-1 is in CrashLoopBackOff (exit code 1; restarted 3 times)')
    expect(crashed.failing).to.deep.equal([{pod: 'web-new-1', container: 'c', previous: true}])
  })

  it('a container that crashed once and was restarted before any back-off: the wait says it crashed, with its exit code, and the report would show the crashed instance’s lines (it said only “runs but its readiness check does not pass”)', () => {
    const restarted = (state: object) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {name: 'web-new-1', ownerReferences: [{uid: 'web-new'}]},
      status: {
        phase: 'Running',
        conditions: [{type: 'Ready', status: 'False'}],
        containerStatuses: [{name: 'web', ready: false, restartCount: 1, state, lastState: {terminated: {exitCode: 3, reason: 'Error'}}}],
      },
    })
    const s = judge('Deployment', [deployment(2, 2, '2'), rs('web-new', '2'), restarted({running: {startedAt: '2026-12-04T10:00:05Z'}})])
    expect(s.state).to.equal('pending')
    expect(s.message).to.equal('1/2 updated, 0 ready, 2 old still running; container web of pod web-new-1 exited (exit code 3, Error) and was restarted once; it runs again, not ready yet')
    expect(s.waiting).to.deep.equal([{pod: 'web-new-1', container: 'web', previous: true}])
    const starting = judge('Deployment', [deployment(2, 2, '2'), rs('web-new', '2'), restarted({waiting: {reason: 'ContainerCreating'}})])
    expect(starting.message).to.match(/; container web of pod web-new-1 exited \(exit code 3, Error\) and was restarted once; it is starting again$/)
    // Never restarted: as before.
    const plain = {...restarted({running: {}}), status: {phase: 'Running', containerStatuses: [{name: 'web', ready: false, restartCount: 0, state: {running: {}}}]}}
    const waiting = judge('Deployment', [deployment(2, 2, '2'), rs('web-new', '2'), plain])
    expect(waiting.message).to.match(/; container web of pod web-new-1 runs but its readiness check does not pass$/)
    expect(waiting.waiting).to.deep.equal([{pod: 'web-new-1', container: 'web', previous: false}])
  })

  it('a new pod whose readiness check fails beside a ready old one: 0 ready (the Deployment’s readyReplicas counted the old pod, and “1/1 updated, 1 ready” read as if the new one were ready)', () => {
    const notReady = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {name: 'web-new-1', ownerReferences: [{uid: 'web-new'}]},
      status: {phase: 'Running', conditions: [{type: 'Ready', status: 'False'}], containerStatuses: [{name: 'web', ready: false, restartCount: 0, state: {running: {}}}]},
    }
    const d = {...deployment(2, 2, '2', {replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 1}), spec: {replicas: 1, template: template('web:new')}}
    const s = judge('Deployment', [d, rs('web-old', '1', 'web:old'), rs('web-new', '2'), ready('web-old-1', 'web-old'), notReady])
    expect(s.message).to.equal('1/1 updated, 0 ready, 1 old still running; container web of pod web-new-1 runs but its readiness check does not pass')
  })

  it('a Deployment another command applied its own revision to (the lock released by hand) is failed as replaced: its pods are not this rollout’s (their readiness passed it as this release’s)', () => {
    const withRevision = (o: object, sha: string) => ({
      ...o,
      metadata: {...(o as {metadata: object}).metadata, annotations: {...((o as {metadata: {annotations?: object}}).metadata.annotations ?? {}), 'skycap.dev/revision': sha}},
    })
    const mine = {...desired('Deployment', 'web'), metadata: {name: 'web', annotations: {'skycap.dev/revision': 'a'.repeat(40)}}}
    const live = withRevision({...deployment(3, 3, '3', {replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2}), spec: {replicas: 2, template: template('web:new')}}, 'b'.repeat(40))
    const s = statusOf(mine, new ClusterSnapshot([live, rs('web-new', '3'), ready('web-new-1', 'web-new'), ready('web-new-2', 'web-new')] as KubeObject[]))
    expect([s.state, s.message]).to.deep.equal(['failed', `replaced while this rollout ran: it now runs revision ${'b'.repeat(12)}, applied by another command (was the lock released by hand?)`])
    // Its own revision: ready, as before.
    const own = statusOf(mine, new ClusterSnapshot([withRevision(live, 'a'.repeat(40)), rs('web-new', '3'), ready('web-new-1', 'web-new'), ready('web-new-2', 'web-new')] as KubeObject[]))
    expect(own.state).to.equal('ready')
  })
})
