import {expect} from 'chai'
import type {KubeObject} from '../../../src/render/objects.js'

import {status} from '../../../src/deploy/inspect.js'
import {currentReplicaSet} from '../../../src/resources/replicasets.js'
import {RECOVERED_AFTER_MS} from '../../../src/resources/status.js'
import {statusTable} from '../../../src/ui/tables.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {fakeKubectlFactory} from '../../helpers/fake-kubectl.js'
import {TempRepo} from '../../helpers/repo.js'

const NS = ['--context', 'staging-cluster', '--namespace', 'shop-staging', '--request-timeout=30s']
const SELECTOR = 'app.kubernetes.io/part-of=shop,app.kubernetes.io/managed-by=skycap,skycap.dev/environment=staging'
const OLD_SHA = '1111111111111111111111111111111111111111'
const NEW_SHA = '2222222222222222222222222222222222222222'

// Shaped like `kubectl get deployments,replicasets -o json` during a stuck rollout: web's revision 2 (image :new)
// has no ready pod, revision 1's pod is still ready. The pod templates carry the server's defaults.
function template(image: string, hash?: string) {
  return {
    metadata: {creationTimestamp: null, labels: {'app.kubernetes.io/name': 'web', 'app.kubernetes.io/instance': 'shop-staging', ...(hash ? {'pod-template-hash': hash} : {})}},
    spec: {containers: [{name: 'web', image, imagePullPolicy: 'IfNotPresent', resources: {}}], restartPolicy: 'Always', dnsPolicy: 'ClusterFirst'},
  }
}

function deployment(name: string, revision: string, sha: string, image: string, status: object) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      uid: `uid-${name}`,
      generation: Number(revision),
      creationTimestamp: '2026-01-01T00:00:00Z',
      annotations: {'deployment.kubernetes.io/revision': revision, 'skycap.dev/revision': sha},
    },
    spec: {replicas: 1, template: template(image)},
    // Observed by the controller unless `status` says otherwise.
    status: {observedGeneration: Number(revision), ...status},
  }
}

function replicaSet(owner: string, hash: string, revision: string, sha: string, image: string, replicas: number, ready: number, created = '2026-01-01T00:00:00Z') {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${owner}-${hash}`,
      uid: `uid-${owner}-${hash}`,
      creationTimestamp: created,
      annotations: {'deployment.kubernetes.io/revision': revision, 'skycap.dev/revision': sha},
      ownerReferences: [{apiVersion: 'apps/v1', kind: 'Deployment', name: owner, uid: `uid-${owner}`, controller: true}],
    },
    spec: {replicas, template: template(image, hash)},
    status: {replicas, ...(ready ? {readyReplicas: ready, availableReplicas: ready} : {}), observedGeneration: 1},
  }
}

/** A release record of shop's staging: a deploy of `sha` that succeeded, unless `extra` says otherwise. */
function releaseRecord(number: number, sha: string, extra: object = {}) {
  return {
    number,
    app: 'shop',
    environment: 'staging',
    action: 'deploy',
    result: 'succeeded',
    revision: {sha, short: sha.slice(0, 7), subject: 'new'},
    images: {},
    configuredReplicas: {},
    user: 'ann',
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T00:01:00Z',
    durationMs: 60000,
    ...extra,
  }
}

const stuck = [
  // The Deployment counts the old ready pod as ready: readyReplicas 1.
  deployment('web', '2', NEW_SHA, 'web:new', {replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 1}),
  replicaSet('web', 'aaaa', '1', OLD_SHA, 'web:old', 1, 1),
  replicaSet('web', 'bbbb', '2', NEW_SHA, 'web:new', 1, 0),
  deployment('worker', '1', NEW_SHA, 'worker:new', {replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}),
  replicaSet('worker', 'cccc', '1', NEW_SHA, 'worker:new', 1, 1),
]

describe('skycap status: ready pods per revision', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.fromFixture('shop')
  })
  after(() => repo.remove())

  const LEASE = [...NS, 'get', 'lease', 'skycap-lock-shop', '-o', 'json', '--ignore-not-found']
  const JOBS = [...NS, 'get', 'jobs', '-l', 'skycap.dev/job-of=shop,skycap.dev/environment=staging,skycap.dev/job-kind=hook', '-o', 'json']

  /**
   * `events`: the pull failures `kubectl get events` answers, expected only when a back-off's error is not known.
   * `underWay`: what the Lease and the hook Jobs answer (none by default).
   */
  async function statusOf(
    items: object[],
    records: object[] = [],
    events?: object[],
    underWay: {lease?: Partial<{stdout: string; exitCode: number; stderr: string}>; jobs?: object[]; rollouts?: Record<string, string>} = {},
    reporter = memoryReporter(),
  ) {
    const configMaps = records.map((r) => ({kind: 'ConfigMap', metadata: {name: `skycap-release-shop-staging-${(r as {number: number}).number}`, labels: {}}, data: {release: JSON.stringify(r)}}))
    // A service without a Deployment of its name (cache, in most of these): the rollout state says whether a
    // blue-green slot serves it.
    const deployments = items.filter((o) => (o as KubeObject).kind === 'Deployment').map((o) => (o as KubeObject).metadata.name)
    // A canary's Deployment: its state is read whatever skycap.yaml says of the service's strategy.
    const stateRead = ['web', 'worker', 'cache'].some((name) => !deployments.includes(name)) || deployments.some((name) => name.endsWith('-canary'))
    const fake = fakeKubectlFactory([
      {argv: [...NS, 'get', 'deployments,replicasets,pods,services', '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({apiVersion: 'v1', kind: 'List', items})}},
      {argv: [...NS, 'get', 'configmaps', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=staging', '-o', 'json'], result: {stdout: JSON.stringify({items: configMaps})}},
      ...(events ? [{argv: [...NS, 'get', 'events', '--field-selector', 'involvedObject.kind=Pod,reason=Failed', '-o', 'json'], result: {stdout: JSON.stringify({items: events})}}] : []),
      ...(stateRead
        ? [{argv: [...NS, 'get', 'configmap', 'skycap-rollout-shop', '-o', 'json', '--ignore-not-found'], result: {stdout: underWay.rollouts ? JSON.stringify({data: underWay.rollouts}) : ''}}]
        : []),
      {argv: LEASE, result: underWay.lease ?? {stdout: ''}},
      {argv: JOBS, result: {stdout: JSON.stringify({items: underWay.jobs ?? []})}},
    ])
    const result = await status({environment: 'staging', configPath: `${repo.dir}/skycap.yaml`}, fake.factory, reporter, () => Date.parse('2026-01-01T00:10:00Z'))
    expect(fake.remaining(), 'one get of deployments, replicasets and pods, one of releases (and one of events), one of the lock, one of hook Jobs').to.equal(0)
    return result
  }

  it('says what is under way: the deploy holding the lock (its reason names the revision) and a hook Job an earlier deploy left running', async () => {
    const lease = (renewed: string) => ({
      stdout: JSON.stringify({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {name: 'skycap-lock-shop', annotations: {'skycap.dev/reason': 'deploy staging@2222222', 'skycap.dev/lock-id': 'abc', 'skycap.dev/environment': 'staging'}},
        spec: {holderIdentity: 'ana@ci-7', leaseDurationSeconds: 60, acquireTime: '2026-01-01T00:09:00.000000Z', renewTime: renewed},
      }),
    })
    const migrate = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {name: 'shop-staging-4-migrate', labels: {'skycap.dev/release': '4', 'skycap.dev/hook': 'migrate'}},
      status: {startTime: '2026-01-01T00:08:00Z', active: 1},
    }
    const done = {...migrate, metadata: {name: 'shop-staging-3-migrate', labels: {'skycap.dev/release': '3', 'skycap.dev/hook': 'migrate'}}, status: {conditions: [{type: 'Complete', status: 'True'}]}}
    const result = await statusOf(stuck, [], undefined, {lease: lease('2026-01-01T00:09:50.000000Z'), jobs: [done, migrate]})
    expect(result.lock).to.deep.include({holder: 'ana@ci-7', reason: 'deploy staging@2222222', expiresAt: '2026-01-01T00:10:50.000Z', expired: false})
    expect(result.runningHooks).to.deep.equal([{job: 'shop-staging-4-migrate', hook: 'migrate', release: 4, startedAt: '2026-01-01T00:08:00Z'}])
    const lines = statusTable(result).split('\n')
    expect(lines[1]).to.equal('locked by ana@ci-7 since 2026-01-01T00:09:00.000Z (deploy staging@2222222); expires 2026-01-01T00:10:50.000Z')
    expect(lines[2]).to.equal('hook migrate of release 4 is still running (job shop-staging-4-migrate, started 2026-01-01T00:08:00Z)')
    expect(lines[3]).to.match(/^SERVICE\s+STATE/)
    // An expired lease is no lock (the next deploy takes it over); nothing under way leaves the table as it was.
    const idle = await statusOf(stuck, [], undefined, {lease: lease('2026-01-01T00:05:00.000000Z')})
    expect(idle.lock).to.equal(null)
    expect(idle.runningHooks).to.deep.equal([])
    expect(statusTable(idle).split('\n')[1]).to.match(/^SERVICE\s+STATE/)
  })

  it("a service scaled to 0 reads 'scaled to 0' in the table, as logs and exec say it ('ready 0/0' read as up); --json's state stays ready", () => {
    const row = (desired: number, ready: number, state: 'ready' | 'progressing') => ({
      service: 'worker',
      state,
      ready,
      desired,
      revision: 'a'.repeat(40),
      image: 'w',
      problem: null,
      waiting: null,
      old: null,
      age: '1m',
    })
    const table = (services: unknown[]) => statusTable({environment: 'prod', context: 'c', namespace: 'n', services: services as never, lastRelease: null})
    expect(table([row(0, 0, 'ready')])).to.match(/\nworker\s+scaled to 0\s+0\/0\s/)
    // On its way down it is progressing; a service with pods is ready as before.
    expect(table([row(0, 1, 'progressing')])).to.match(/\nworker\s+progressing\s+1\/0\s/)
    expect(table([row(2, 2, 'ready')])).to.match(/\nworker\s+ready\s+2\/2\s/)
  })

  it('a user who may not read Leases or Jobs still gets the status, without the lines it could not read', async () => {
    const forbidden = {exitCode: 1, stderr: 'Error from server (Forbidden): leases.coordination.k8s.io "skycap-lock-shop" is forbidden: User "viewer" cannot get resource "leases"'}
    const result = await statusOf(stuck, [], undefined, {lease: forbidden})
    expect(result).to.not.have.property('lock')
    expect(result.services.find((s) => s.service === 'web')).to.deep.include({state: 'progressing'})
    expect(statusTable(result).split('\n')[1]).to.match(/^SERVICE\s+STATE/)
  })

  it("AGE is how long the revision that runs has run: its ReplicaSet's, or a rollback's pods' (it was the Deployment's, made at the first deploy)", async () => {
    const ready = {replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
    const firstDeploy = (d: ReturnType<typeof deployment>) => ({...d, metadata: {...d.metadata, creationTimestamp: '2025-11-01T00:00:00Z'}})
    // web runs revision 3, deployed 7 minutes ago; worker was rolled back 2 minutes ago to the ReplicaSet of its
    // revision 1 (made a month ago, scaled up again by the controller, which notes revision-history).
    const reused = replicaSet('worker', 'cccc', '3', OLD_SHA, 'worker:new', 1, 1, '2025-12-01T00:00:00Z')
    const items = [
      firstDeploy(deployment('web', '3', NEW_SHA, 'web:new', ready)),
      replicaSet('web', 'aaaa', '1', OLD_SHA, 'web:old', 0, 0, '2025-11-01T00:00:00Z'),
      replicaSet('web', 'bbbb', '3', NEW_SHA, 'web:new', 1, 1, '2026-01-01T00:03:00Z'),
      firstDeploy(deployment('worker', '3', OLD_SHA, 'worker:new', ready)),
      {...reused, metadata: {...reused.metadata, annotations: {...reused.metadata.annotations, 'deployment.kubernetes.io/revision-history': '1'}}},
      ...['00:08:00', '00:08:30'].map((t, i) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {name: `worker-cccc-${i}`, creationTimestamp: `2026-01-01T${t}Z`, ownerReferences: [{kind: 'ReplicaSet', name: 'worker-cccc', uid: 'uid-worker-cccc', controller: true}]},
        status: {phase: 'Running', containerStatuses: [{name: 'worker', ready: true, restartCount: 0, state: {running: {}}}]},
      })),
    ]
    const result = await statusOf(items)
    expect(result.services.map((x) => [x.service, x.age])).to.deep.equal([
      ['web', '7m'],
      ['worker', '2m'],
      ['cache', null],
    ])
    expect(
      statusTable(result)
        .split('\n')
        .find((l) => l.startsWith('worker ')),
    ).to.match(/\s2m$/)
  })

  it('a stuck rollout: the new revision 0/1 ready, the old revision 1 ready, progressing', async () => {
    const result = await statusOf(stuck)
    const web = result.services.find((s) => s.service === 'web')
    expect(web).to.deep.include({revision: NEW_SHA, image: 'web:new', ready: 0, desired: 1, updated: 1, state: 'progressing', age: '10m'})
    expect(web?.old).to.deep.equal({pods: 1, ready: 1, revision: OLD_SHA})
    const worker = result.services.find((s) => s.service === 'worker')
    expect(worker).to.deep.include({ready: 1, desired: 1, old: null, state: 'ready'})
    expect(result.services.find((s) => s.service === 'cache')).to.deep.include({state: 'not deployed', old: null})
  })

  it('the table shows READY of the new revision and the old pods with their revision', async () => {
    const lines = statusTable(await statusOf(stuck)).split('\n')
    expect(lines[1]).to.match(/^SERVICE\s+STATE\s+READY\s+REVISION\s+OLD\s+AGE$/)
    expect(lines.find((l) => l.startsWith('web '))).to.match(/^web\s+progressing\s+0\/1\s+2222222\s+1\/1 ready \(1111111\)\s+10m$/)
    expect(lines.find((l) => l.startsWith('worker '))).to.match(/^worker\s+ready\s+1\/1\s+2222222\s+-\s+10m$/)
  })

  it('a scale after a failed deploy: the header shows the scale and, beside it, the failed deploy', async () => {
    const record = (number: number, action: string, result: string, extra: object = {}) => releaseRecord(number, NEW_SHA, {action, result, ...extra})
    const records = [
      record(7, 'deploy', 'succeeded'),
      record(8, 'deploy', 'failed', {failed: 'Deployment/web'}),
      record(9, 'scale', 'succeeded', {scale: {service: 'worker', from: 1, to: 3}}),
      record(10, 'scale', 'succeeded', {scale: {service: 'worker', from: 3, to: 2}}),
    ]
    const result = await statusOf(stuck, records)
    expect(result.lastRelease).to.deep.include({number: 10, action: 'scale'})
    expect(result.lastDeploy).to.deep.include({number: 8, action: 'deploy', result: 'failed'})
    expect(statusTable(result).split('\n')[0]).to.equal(
      'staging (context staging-cluster, namespace shop-staging); last release: 10 (scale, succeeded, 2222222); last deploy: 8 (deploy, failed, 2222222)',
    )
    // Without a scale on top, the last release is the deploy and is named once.
    const plain = await statusOf(stuck, records.slice(0, 2))
    expect(plain.lastDeploy).to.equal(plain.lastRelease)
    expect(statusTable(plain).split('\n')[0]).to.equal('staging (context staging-cluster, namespace shop-staging); last release: 8 (deploy, failed, 2222222)')
  })

  it('a revision no release recorded that runs (a deploy killed after its apply) is said, with the rollback to the last release recorded', async () => {
    const record = (number: number, sha: string) => releaseRecord(number, sha)
    const reporter = memoryReporter()
    // Releases 6 and 7 of OLD_SHA; web and worker ask for NEW_SHA, which no release has.
    const killed = await statusOf(stuck, [record(7, OLD_SHA), record(6, OLD_SHA)], undefined, {}, reporter)
    expect(killed.unrecorded).to.deep.equal([
      {service: 'web', revision: NEW_SHA},
      {service: 'worker', revision: NEW_SHA},
    ])
    expect(reporter.warnings).to.include(
      'web, worker run 2222222, which no release in history deployed: a deploy stopped after it applied and before it recorded (killed?). `skycap rollback staging --to 7` returns to the last release recorded; a rollback without --to goes to the one before it',
    )
    // A deploy of that revision holds the lock (paused at a canary step): under way, said so, with no rollback advice
    // (it said "killed?" and named a rollback while the deploy ran). A lock by hand, or expired, is no deploy under way.
    const lease = (heldBy: string, renewed = '2026-01-01T00:09:50.000000Z') => ({
      stdout: JSON.stringify({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: 'skycap-lock-shop',
          annotations: {'skycap.dev/reason': 'deploy staging@2222222', 'skycap.dev/lock-id': 'abc', 'skycap.dev/environment': 'staging', 'skycap.dev/held-by': heldBy},
        },
        spec: {holderIdentity: 'ana@ci-7', leaseDurationSeconds: 60, acquireTime: '2026-01-01T00:09:00.000000Z', renewTime: renewed},
      }),
    })
    const live = memoryReporter()
    const running = await statusOf(stuck, [record(7, OLD_SHA), record(6, OLD_SHA)], undefined, {lease: lease('command')}, live)
    expect(running.unrecorded).to.equal(undefined)
    expect(running.deploying).to.deep.equal([
      {service: 'web', revision: NEW_SHA},
      {service: 'worker', revision: NEW_SHA},
    ])
    expect(live.warnings.filter((w) => w.includes('no release'))).to.deep.equal([])
    expect(live.lines).to.include(
      'web, worker run 2222222, which the deploy under way is rolling out (deploy staging@2222222, by ana@ci-7 since 2026-01-01T00:09:00.000Z); it is recorded when that deploy ends',
    )
    for (const [heldBy, renewed] of [
      ['hand', undefined],
      ['command', '2026-01-01T00:05:00.000000Z'],
    ] as const) {
      const said = memoryReporter()
      const stopped = await statusOf(stuck, [record(7, OLD_SHA), record(6, OLD_SHA)], undefined, {lease: lease(heldBy, renewed)}, said)
      expect(stopped.unrecorded, heldBy).to.have.length(2)
      expect(
        said.warnings.some((w) => w.includes('which no release in history deployed')),
        heldBy,
      ).to.equal(true)
    }
    // Recorded (the last release's revision, or an earlier one still in history): nothing said.
    const quiet = memoryReporter()
    const recorded = await statusOf(stuck, [record(7, OLD_SHA), record(6, NEW_SHA)], undefined, {}, quiet)
    expect(recorded.unrecorded).to.equal(undefined)
    expect(quiet.warnings.filter((w) => w.includes('no release'))).to.deep.equal([])
  })

  it('a service the work tree makes rolling but a blue-green slot serves (a rollback to a release where it was blue-green) is found in its slot, not "not deployed"', async () => {
    const slot = {...stuck[0], metadata: {...(stuck[0] as KubeObject).metadata, name: 'web-blue'}}
    const result = await statusOf([slot], [], undefined, {rollouts: {web: JSON.stringify({type: 'blueGreen', release: 5, phase: 'completed', activeSlot: 'blue'})}})
    const web = result.services.find((x) => x.service === 'web')
    expect(web?.state).to.not.equal('not deployed')
    expect(web?.rollout).to.include({type: 'blueGreen', activeSlot: 'blue'})
    expect(result.services.find((x) => x.service === 'cache')?.state).to.equal('not deployed')
  })

  it('a canary under way shows in STATE (its stable Deployment alone looks ready)', () => {
    const base = {service: 'web', revision: OLD_SHA, image: 'web:old', ready: 3, desired: 3, updated: 3, old: null, age: '1m', state: 'ready' as const, problem: null, waiting: null}
    const table = (rollout?: {type: string; phase: string; weight?: number}) =>
      statusTable({environment: 'staging', context: 'c', namespace: 'n', services: [{...base, ...(rollout ? {rollout} : {})}], lastRelease: null})
        .split('\n')
        .find((l) => l.startsWith('web '))
    expect(table({type: 'canary', phase: 'paused', weight: 25})).to.match(/^web\s+canary 25% \(paused\)\s+3\/3\s+1111111/)
    expect(table({type: 'canary', phase: 'progressing', weight: 50})).to.match(/^web\s+canary 50% \(progressing\)\s/)
    expect(table({type: 'canary', phase: 'completed', weight: 100})).to.match(/^web\s+ready\s/)
    expect(table()).to.match(/^web\s+ready\s/)
  })

  it("a canary under way is progressing in --json too, not its stable Deployment's ready; done, it is the stable one's state again", async () => {
    const ready = {replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
    const items = [
      deployment('web', '1', OLD_SHA, 'web:old', ready),
      replicaSet('web', 'aaaa', '1', OLD_SHA, 'web:old', 1, 1),
      deployment('web-canary', '1', NEW_SHA, 'web:new', ready),
      replicaSet('web-canary', 'dddd', '1', NEW_SHA, 'web:new', 1, 1),
      ...stuck.slice(3),
    ]
    const canary = (phase: string) => ({rollouts: {web: JSON.stringify({type: 'canary', release: 2, phase, step: 1, weight: 25})}})
    const paused = (await statusOf(items, [], undefined, canary('paused'))).services.find((x) => x.service === 'web')
    expect(paused).to.deep.include({state: 'progressing', revision: OLD_SHA})
    expect(paused?.canary).to.include({revision: NEW_SHA, state: 'ready'})
    const done = (await statusOf(items.slice(0, 2).concat(stuck.slice(3)), [], undefined, canary('completed'))).services.find((x) => x.service === 'web')
    expect(done).to.deep.include({state: 'ready'})
    expect(done?.canary).to.equal(undefined)
  })

  it('a canary under way whose strategy left skycap.yaml since (every service deployed) is still seen: its Deployment makes status read the state', async () => {
    const ready = {replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
    const items = [
      deployment('web', '1', OLD_SHA, 'web:old', ready),
      deployment('web-canary', '1', NEW_SHA, 'web:new', ready),
      replicaSet('web-canary', 'dddd', '1', NEW_SHA, 'web:new', 1, 1),
      ...stuck.slice(3),
      deployment('cache', '1', OLD_SHA, 'cache:old', ready),
    ]
    const result = await statusOf(items, [], undefined, {rollouts: {web: JSON.stringify({type: 'canary', release: 2, phase: 'paused', step: 1, weight: 25})}})
    const web = result.services.find((x) => x.service === 'web')
    expect(web).to.deep.include({state: 'progressing'})
    expect(web?.canary).to.include({revision: NEW_SHA})
  })

  it('a blue-green service runs on the slot its Service selects, when the state still names the other (a SIGKILL between the switch and its record)', async () => {
    const ready = {replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
    const service = (slot: string) => ({apiVersion: 'v1', kind: 'Service', metadata: {name: 'web'}, spec: {selector: {'app.kubernetes.io/name': 'web', 'skycap.dev/slot': slot}}})
    const items = [
      deployment('web-blue', '1', OLD_SHA, 'web:old', ready),
      replicaSet('web-blue', 'aaaa', '1', OLD_SHA, 'web:old', 1, 1),
      deployment('web-green', '1', NEW_SHA, 'web:new', ready),
      replicaSet('web-green', 'bbbb', '1', NEW_SHA, 'web:new', 1, 1),
      ...stuck.slice(3),
    ]
    const stale = {rollouts: {web: JSON.stringify({type: 'blueGreen', release: 5, phase: 'progressing', activeSlot: 'blue'})}}
    const switched = (await statusOf([...items, service('green')], [], undefined, stale)).services.find((x) => x.service === 'web')
    expect(switched).to.deep.include({revision: NEW_SHA, image: 'web:new'})
    expect(switched?.rollout).to.include({activeSlot: 'green', previousSlot: 'blue'})
    // A Service that selects no slot: the state's slot, as before.
    const unknown = (await statusOf(items, [], undefined, stale)).services.find((x) => x.service === 'web')
    expect(unknown).to.deep.include({revision: OLD_SHA})
  })

  it('a new revision whose pods crash or cannot pull their image is failing, says why, and a deleted pod is not judged', async () => {
    const pod = (rs: string, name: string, waiting: object, extra: object = {}) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {name, ownerReferences: [{apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: `uid-${rs}`, controller: true}], ...extra},
      status: {phase: 'Running', containerStatuses: [{name: 'web', ready: false, restartCount: 4, state: {waiting}, lastState: {terminated: {exitCode: 1, reason: 'Error'}}}]},
    })
    const withUid = (rs: ReturnType<typeof replicaSet>) => ({...rs, metadata: {...rs.metadata, uid: `uid-${rs.metadata.name}`}})
    const crash = {reason: 'CrashLoopBackOff'}
    const items = [
      ...stuck.slice(0, 1),
      withUid(replicaSet('web', 'aaaa', '1', OLD_SHA, 'web:old', 1, 1)),
      withUid(replicaSet('web', 'bbbb', '2', NEW_SHA, 'web:new', 1, 0)),
      // A crashing pod of the old revision, and one of the new on its way out: neither is what runs next.
      pod('web-aaaa', 'web-aaaa-1', crash),
      pod('web-bbbb', 'web-bbbb-0', crash, {deletionTimestamp: '2026-01-01T00:09:00Z'}),
      pod('web-bbbb', 'web-bbbb-1', crash),
      // Evicted: Failed until collected, already replaced by its ReplicaSet.
      {...pod('web-bbbb', 'web-bbbb-2', {}), status: {phase: 'Failed', reason: 'Evicted'}},
      deployment('worker', '1', NEW_SHA, 'worker:new', {replicas: 1, updatedReplicas: 1, readyReplicas: 0}),
      withUid(replicaSet('worker', 'cccc', '1', NEW_SHA, 'worker:new', 1, 0)),
      pod('worker-cccc', 'worker-cccc-1', {reason: 'ImagePullBackOff', message: 'Back-off pulling image "worker:new"'}),
    ]
    // The back-off's error was not seen: its pod's events are asked, and they hold nothing about it.
    const result = await statusOf(items, [], [])
    expect(result.services.find((s) => s.service === 'web')).to.deep.include({
      state: 'failing',
      problem: 'container web of pod web-bbbb-1 is in CrashLoopBackOff (exit code 1, Error; restarted 4 times)',
      ready: 0,
    })
    expect(result.services.find((s) => s.service === 'worker')).to.deep.include({
      state: 'failing',
      problem: 'container web of pod worker-cccc-1 is in ImagePullBackOff: Back-off pulling image "worker:new"',
    })
    const lines = statusTable(result).split('\n')
    expect(lines.find((l) => l.startsWith('web '))).to.match(/^web\s+failing\s+0\/1\s/)
    expect(lines.slice(-2)).to.deep.equal([
      'web: container web of pod web-bbbb-1 is in CrashLoopBackOff (exit code 1, Error; restarted 4 times)',
      'worker: container web of pod worker-cccc-1 is in ImagePullBackOff: Back-off pulling image "worker:new"',
    ])
    // An evicted pod alone does not make a service fail.
    const evicted = {...pod('worker-cccc', 'worker-cccc-0', {}), status: {phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.'}}
    const worker = [
      deployment('worker', '1', NEW_SHA, 'worker:new', {replicas: 1, updatedReplicas: 1, readyReplicas: 1}),
      withUid(replicaSet('worker', 'cccc', '1', NEW_SHA, 'worker:new', 1, 1)),
      evicted,
    ]
    expect((await statusOf(worker)).services.find((s) => s.service === 'worker')).to.deep.include({state: 'ready', problem: null})
    // Without the pods' problems: a stuck rollout, no line under the table.
    expect(
      statusTable(await statusOf(stuck))
        .split('\n')
        .at(-1),
    ).to.match(/^cache\s+not deployed/)
  })

  it('a crash loop is failing between two back-offs too: crashed again (Error) or just restarted, not ready; one crash is not a loop', async () => {
    const withUid = (rs: ReturnType<typeof replicaSet>) => ({...rs, metadata: {...rs.metadata, uid: `uid-${rs.metadata.name}`}})
    const pod = (rs: string, name: string, container: object) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {name, ownerReferences: [{apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: `uid-${rs}`, controller: true}]},
      status: {phase: 'Running', containerStatuses: [{name: 'web', ready: false, ...container}]},
    })
    const error = (exitCode: number) => ({terminated: {exitCode, reason: 'Error'}})
    // What kubectl showed of one container through a crash loop, poll by poll: `Error` at each crash, then
    // CrashLoopBackOff while the kubelet waits, then running again (not ready) for a moment.
    const phases: Array<[string, object, string | null]> = [
      ['first crash', {restartCount: 0, state: error(3)}, null],
      ['restarted once, runs', {restartCount: 1, state: {running: {}}, lastState: error(3)}, null],
      ['second crash', {restartCount: 1, state: error(3), lastState: error(3)}, 'is crash-looping (exit code 3, Error; restarted once)'],
      ['back-off', {restartCount: 1, state: {waiting: {reason: 'CrashLoopBackOff'}}, lastState: error(3)}, 'is in CrashLoopBackOff (exit code 3, Error; restarted once)'],
      ['restarted twice, runs', {restartCount: 2, state: {running: {}}, lastState: error(3)}, 'is crash-looping (exit code 3, Error; restarted 2 times)'],
      // No readiness check: ready as soon as it runs, for the half second before it exits again (kubelet 1.37). The
      // status clock is 00:10:00.
      ['restarted once, ready a moment', {ready: true, restartCount: 1, state: {running: {startedAt: '2026-01-01T00:09:59Z'}}, lastState: error(3)}, null],
      [
        'restarted twice, ready a moment',
        {ready: true, restartCount: 2, state: {running: {startedAt: '2026-01-01T00:09:59Z'}}, lastState: error(3)},
        'is crash-looping (exit code 3, Error; restarted 2 times)',
      ],
      ['restarted, not started yet', {restartCount: 5, state: {waiting: {reason: 'ContainerCreating'}}, lastState: error(3)}, 'is crash-looping (exit code 3, Error; restarted 5 times)'],
      ['crashed again, restart 5', {restartCount: 5, state: error(2), lastState: error(3)}, 'is crash-looping (exit code 2, Error; restarted 5 times)'],
      [
        'cannot start again',
        {
          restartCount: 3,
          state: {terminated: {exitCode: 128, reason: 'StartError', message: 'failed to create containerd task: exec: "/nope": stat /nope: no such file or directory: unknown'}},
          lastState: {terminated: {exitCode: 128, reason: 'StartError'}},
        },
        'cannot start (StartError): exec: "/nope": stat /nope: no such file or directory (restarted 3 times)',
      ],
    ]
    // Both services at once, each at another phase of its loop, every phase in turn.
    for (let i = 0; i < phases.length; i++) {
      const [webPhase, webContainer, webProblem] = phases[i]!
      const [workerPhase, workerContainer, workerProblem] = phases[(i + 3) % phases.length]!
      const items = [
        deployment('web', '1', NEW_SHA, 'web:new', {replicas: 1, updatedReplicas: 1, readyReplicas: 0}),
        withUid(replicaSet('web', 'aaaa', '1', NEW_SHA, 'web:new', 1, 0)),
        pod('web-aaaa', 'web-aaaa-1', webContainer),
        deployment('worker', '1', NEW_SHA, 'worker:new', {replicas: 1, updatedReplicas: 1, readyReplicas: 0}),
        withUid(replicaSet('worker', 'cccc', '1', NEW_SHA, 'worker:new', 1, 0)),
        pod('worker-cccc', 'worker-cccc-1', workerContainer),
      ]
      const result = await statusOf(items)
      for (const [service, podName, phase, problem] of [
        ['web', 'web-aaaa-1', webPhase, webProblem],
        ['worker', 'worker-cccc-1', workerPhase, workerProblem],
      ] as const) {
        const s = result.services.find((x) => x.service === service)
        if (problem === null) expect(s, `${service}: ${phase}`).to.deep.include({state: 'progressing', problem: null})
        else expect(s, `${service}: ${phase}`).to.deep.include({state: 'failing', problem: `container web of pod ${podName} ${problem}`, waiting: null})
      }
    }
    // Ready again after its restarts (the loop ended): not failing.
    const recovered = [
      deployment('web', '1', NEW_SHA, 'web:new', {replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}),
      withUid(replicaSet('web', 'aaaa', '1', NEW_SHA, 'web:new', 1, 1)),
      pod('web-aaaa', 'web-aaaa-1', {ready: true, restartCount: 5, state: {running: {}}, lastState: error(3)}),
    ]
    expect((await statusOf(recovered)).services.find((x) => x.service === 'web')).to.deep.include({state: 'ready', problem: null})
    // Ready for longer than RECOVERED_AFTER_MS: recovered; for less: still in its loop.
    for (const [startedAt, state] of [
      [new Date(Date.parse('2026-01-01T00:10:00Z') - RECOVERED_AFTER_MS).toISOString(), 'ready'],
      [new Date(Date.parse('2026-01-01T00:10:00Z') - RECOVERED_AFTER_MS + 1000).toISOString(), 'failing'],
    ] as const) {
      recovered[2] = pod('web-aaaa', 'web-aaaa-1', {ready: true, restartCount: 5, state: {running: {startedAt}}, lastState: error(3)})
      expect(
        (await statusOf(recovered)).services.find((x) => x.service === 'web'),
        startedAt,
      ).to.have.property('state', state)
    }
  })

  it('a pull in back-off is judged by its last error from the events: a registry that refuses is waited for, a missing image fails', async () => {
    const withUid = (rs: ReturnType<typeof replicaSet>) => ({...rs, metadata: {...rs.metadata, uid: `uid-${rs.metadata.name}`}})
    const pod = (name: string, uid: string, container: object) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {name, uid, ownerReferences: [{apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'worker-cccc', uid: 'uid-worker-cccc', controller: true}]},
      status: {phase: 'Pending', containerStatuses: [{name: 'worker', ready: false, restartCount: 0, ...container}]},
    })
    const backOff = {state: {waiting: {reason: 'ImagePullBackOff', message: 'Back-off pulling image "worker:new"'}}}
    const items = [
      ...stuck.slice(0, 3),
      deployment('worker', '1', NEW_SHA, 'worker:new', {replicas: 1, updatedReplicas: 1}),
      withUid(replicaSet('worker', 'cccc', '1', NEW_SHA, 'worker:new', 1, 0)),
      pod('worker-cccc-1', 'pod-1', backOff),
    ]
    const event = (uid: string, message: string, at: string, fieldPath = 'spec.containers{worker}') => ({
      kind: 'Event',
      reason: 'Failed',
      message,
      involvedObject: {kind: 'Pod', name: 'worker-cccc-1', uid, fieldPath},
      lastTimestamp: at,
    })
    const refused = 'Failed to pull image "worker:new": failed to resolve reference "worker:new": dial tcp 10.0.0.1:5000: connect: connection refused'
    const missing = 'Failed to pull image "worker:new": rpc error: code = NotFound desc = failed to pull and unpack image "worker:new": not found'
    const others = [
      // The kubelet's second event of the same failure, another container of the pod, an earlier pod of the same name.
      event('pod-1', 'Error: ErrImagePull', '2026-01-01T00:09:59Z'),
      event('pod-1', missing, '2026-01-01T00:09:58Z', 'spec.initContainers{migrate}'),
      event('pod-0', missing, '2026-01-01T00:09:58Z'),
    ]
    const passing = await statusOf(items, [], [event('pod-1', missing, '2026-01-01T00:05:00Z'), event('pod-1', refused, '2026-01-01T00:09:30.5Z'), ...others])
    const waiting = `container worker of pod worker-cccc-1 cannot pull its image yet (ImagePullBackOff: Back-off pulling image "worker:new"; the last pull error: ${refused}); the node keeps trying`
    expect(passing.services.find((s) => s.service === 'worker')).to.deep.include({state: 'progressing', problem: null, waiting})
    expect(statusTable(passing).split('\n').at(-1)).to.equal(`worker: ${waiting}`)
    const lasting = await statusOf(items, [], [event('pod-1', refused, '2026-01-01T00:05:00Z'), event('pod-1', missing, '2026-01-01T00:09:30Z'), ...others])
    expect(lasting.services.find((s) => s.service === 'worker')).to.deep.include({
      state: 'failing',
      problem: `container worker of pod worker-cccc-1 is in ImagePullBackOff: Back-off pulling image "worker:new"; the last pull error: ${missing}`,
      waiting: null,
    })
    // The error itself in this look (ErrImagePull): no events are asked.
    const pulling = await statusOf([...items.slice(0, 5), pod('worker-cccc-1', 'pod-1', {state: {waiting: {reason: 'ErrImagePull', message: refused}}})])
    expect(pulling.services.find((s) => s.service === 'worker')).to.deep.include({
      state: 'progressing',
      waiting: `container worker of pod worker-cccc-1 cannot pull its image yet (ErrImagePull: ${refused}); the node keeps trying`,
    })
    // Why else a new pod is not ready: its readiness check, or no node for it.
    const running = pod('worker-cccc-1', 'pod-1', {state: {running: {startedAt: '2026-01-01T00:09:00Z'}}})
    expect((await statusOf([...items.slice(0, 5), running])).services.find((s) => s.service === 'worker')).to.deep.include({
      state: 'progressing',
      waiting: 'container worker of pod worker-cccc-1 runs but its readiness check does not pass',
    })
    const unscheduled = {
      ...running,
      status: {phase: 'Pending', conditions: [{type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.'}]},
    }
    const result = await statusOf([...items.slice(0, 5), unscheduled])
    expect(result.services.find((s) => s.service === 'worker')).to.deep.include({state: 'progressing', waiting: 'pod worker-cccc-1 is not scheduled: 0/3 nodes are available: 3 Insufficient cpu.'})
    // web's new pod is not there yet: progressing without a reason; a ready service has none either.
    expect(result.services.find((s) => s.service === 'web')).to.deep.include({state: 'progressing', waiting: null})
  })

  it('is not ready before the controller observed a scale, nor while a scale-down leaves more pods than desired', async () => {
    const scaledDown = (generation: number, observed: number, rsReplicas: number) =>
      [
        {
          ...deployment('web', '2', NEW_SHA, 'web:new', {replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, observedGeneration: observed}),
          spec: {replicas: 1, template: template('web:new')},
        },
        replicaSet('web', 'bbbb', '2', NEW_SHA, 'web:new', rsReplicas, rsReplicas),
      ].map((o, i) => (i === 0 ? {...o, metadata: {...o.metadata, generation}} : o))
    const web = async (items: object[]) => (await statusOf(items)).services.find((s) => s.service === 'web')
    // `kubectl scale --replicas=1` of 3 ready pods, not yet observed: it said "ready 3/1".
    expect(await web(scaledDown(5, 4, 3))).to.deep.include({state: 'progressing', ready: 3, desired: 1})
    expect(await web(scaledDown(5, 5, 3))).to.deep.include({state: 'progressing'})
    expect(await web(scaledDown(5, 5, 1))).to.deep.include({state: 'ready', ready: 1, desired: 1})
  })

  it('minReadySeconds: new pods ready but not yet available keep the old ones up, and the line under the table says why', async () => {
    const ready = (name: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {name, ownerReferences: [{apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-bbbb', uid: 'uid-web-bbbb', controller: true}]},
      status: {phase: 'Running', conditions: [{type: 'Ready', status: 'True'}], containerStatuses: [{name: 'web', ready: true, restartCount: 0, state: {running: {}}}]},
    })
    const rollout = (minReadySeconds: number | undefined, available: number) => {
      const live = deployment('web', '2', NEW_SHA, 'web:new', {replicas: 4, updatedReplicas: 2, readyReplicas: 4, availableReplicas: 2 + available})
      const fresh = replicaSet('web', 'bbbb', '2', NEW_SHA, 'web:new', 2, 2)
      return [
        {...live, spec: {replicas: 2, ...(minReadySeconds === undefined ? {} : {minReadySeconds}), template: template('web:new')}},
        replicaSet('web', 'aaaa', '1', OLD_SHA, 'web:old', 2, 2),
        {...fresh, metadata: {...fresh.metadata, uid: 'uid-web-bbbb'}, status: {...fresh.status, availableReplicas: available}},
        ready('web-bbbb-1'),
        ready('web-bbbb-2'),
      ]
    }
    const waiting = await statusOf(rollout(10, 0))
    const line = '2 ready pods not available yet: a pod counts once ready for 10s (minReadySeconds)'
    expect(waiting.services.find((s) => s.service === 'web')).to.deep.include({state: 'progressing', ready: 2, waiting: line})
    expect(statusTable(waiting).split('\n')).to.include(`web: ${line}`)
    expect((await statusOf(rollout(10, 1))).services.find((s) => s.service === 'web')?.waiting).to.equal('1 ready pod not available yet: a pod counts once ready for 10s (minReadySeconds)')
    // Without minReadySeconds nothing is said of it.
    expect((await statusOf(rollout(undefined, 0))).services.find((s) => s.service === 'web')).to.deep.include({state: 'progressing', waiting: null})
  })

  it('a ResourceQuota that refuses the pods of a scale: failing with its words once it stands and nothing leaves, progressing with them before (it said progressing, with neither)', async () => {
    // `skycap scale web 3` of 2 pods under `--hard=pods=…` full; the clock reads 00:10:00.
    const refused = (since: string, leaving = false) => {
      const live = deployment('web', '2', NEW_SHA, 'web:new', {replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, unavailableReplicas: 1})
      const rs = replicaSet('web', 'bbbb', '2', NEW_SHA, 'web:new', 2, 2)
      const failure = {
        type: 'ReplicaFailure',
        status: 'True',
        reason: 'FailedCreate',
        lastTransitionTime: since,
        message: 'pods "web-bbbb-x7k2p" is forbidden: exceeded quota: q, requested: pods=1, used: pods=4, limited: pods=4',
      }
      const pod = (name: string, gone?: string) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {name, ...(gone ? {deletionTimestamp: gone} : {}), ownerReferences: [{uid: gone ? 'uid-worker-cccc' : 'uid-web-bbbb'}]},
        status: {phase: 'Running', conditions: [{type: 'Ready', status: 'True'}], containerStatuses: [{name: 'web', ready: true, state: {running: {}}}]},
      })
      return [
        {...live, spec: {replicas: 3, template: template('web:new')}},
        {...rs, metadata: {...rs.metadata, uid: 'uid-web-bbbb'}, spec: {...rs.spec, replicas: 3}, status: {...rs.status, conditions: [failure]}},
        pod('web-bbbb-1'),
        pod('web-bbbb-2'),
        ...(leaving ? [pod('worker-cccc-1', '2026-01-01T00:09:59Z')] : []),
      ]
    }
    const words = 'the ResourceQuota q refuses more pods (requested: pods=1, used: pods=4, limited: pods=4)'
    const web = async (items: object[]) => (await statusOf(items)).services.find((s) => s.service === 'web')
    expect(await web(refused('2026-01-01T00:09:00Z'))).to.deep.include({state: 'failing', ready: 2, desired: 3, problem: `cannot create its pods: ${words}`, waiting: null})
    // Refused a moment ago, or while a pod of the app is on its way out (it may make room): a reason to wait.
    expect(await web(refused('2026-01-01T00:09:58Z'))).to.deep.include({state: 'progressing', problem: null, waiting: words})
    expect(await web(refused('2026-01-01T00:09:00Z', true))).to.deep.include({state: 'progressing', problem: null, waiting: `${words}; pods on their way out may make room`})
  })

  it('a finished rollout whose old ReplicaSet is scaled to 0 has no old pods', async () => {
    const done = [
      deployment('web', '2', NEW_SHA, 'web:new', {replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}),
      replicaSet('web', 'aaaa', '1', OLD_SHA, 'web:old', 0, 0),
      replicaSet('web', 'bbbb', '2', NEW_SHA, 'web:new', 1, 1),
    ]
    const web = (await statusOf(done)).services.find((s) => s.service === 'web')
    expect(web).to.deep.include({ready: 1, desired: 1, old: null, state: 'ready'})
  })

  it('the new ReplicaSet needs both the revision annotation and the pod template', () => {
    const d = deployment('web', '2', NEW_SHA, 'web:new', {})
    const matching = replicaSet('web', 'bbbb', '2', NEW_SHA, 'web:new', 1, 0)
    expect(currentReplicaSet(d, [replicaSet('web', 'aaaa', '1', OLD_SHA, 'web:old', 1, 1), matching])).to.equal(matching)
    // The controller has not yet made the new one: the old template under the new revision number is not it.
    expect(currentReplicaSet(d, [replicaSet('web', 'aaaa', '2', OLD_SHA, 'web:old', 1, 1)])).to.equal(undefined)
    expect(currentReplicaSet(d, [replicaSet('web', 'bbbb', '1', NEW_SHA, 'web:new', 1, 1)])).to.equal(undefined)
  })
})
