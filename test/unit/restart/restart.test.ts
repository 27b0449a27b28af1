import {expect} from 'chai'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {DeployFailedError, OwnedElsewhereError, TimeoutError} from '../../../src/errors.js'
import {restart} from '../../../src/restart/restart.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {WATCH_RESOURCES} from '../../../src/resources/kinds.js'
import {type Expectation, fakeKubectlFactory} from '../../helpers/fake-kubectl.js'
import {rejectsWithUserError} from '../../helpers/errors.js'
import {TempRepo} from '../../helpers/repo.js'

describe('skycap restart: the whole kubectl sequence', function () {
  this.timeout(20_000)
  const BOUND = ['--context', 'kind-x', '--namespace', 'shop', '--request-timeout=30s']
  const SELECTOR = 'app.kubernetes.io/part-of=itapp,app.kubernetes.io/managed-by=skycap,skycap.dev/environment=test'
  const UNWATCHED = {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'name'], result: {stdout: ''}}
  const OURS = {'app.kubernetes.io/part-of': 'itapp', 'app.kubernetes.io/managed-by': 'skycap', 'skycap.dev/environment': 'test'}
  const NOW = Date.parse('2026-12-01T10:00:00.123Z')
  /** A Deployment of the app at `generation`, observed by its controller, `ready` of `replicas` pods ready. */
  const deployment = (name: string, replicas: number, ready = replicas, generation = 2, labels: Record<string, string> | undefined = OURS) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name, uid: `uid-${name}`, generation, labels, annotations: {'deployment.kubernetes.io/revision': String(generation - 1)}},
    spec: {replicas},
    status: {observedGeneration: generation, replicas, updatedReplicas: replicas, readyReplicas: ready, availableReplicas: ready},
  })
  const PATCH = ['--type=merge', '-p', JSON.stringify({spec: {template: {metadata: {annotations: {'kubectl.kubernetes.io/restartedAt': '2026-12-01T10:00:00.123Z'}}}}})]
  let repo: TempRepo
  let file: string
  beforeEach(async () => {
    repo = await TempRepo.clusterApp('kind-x', 'shop')
    file = join(repo.dir, 'skycap.yaml')
  })
  afterEach(() => repo.remove())

  type Lease = {metadata: {annotations: Record<string, string>}}
  const getState = (state?: Record<string, unknown>): Expectation => ({
    argv: [...BOUND, 'get', 'configmap', 'skycap-rollout-itapp', '-o', 'json', '--ignore-not-found'],
    result: {stdout: state ? JSON.stringify(state) : ''},
  })
  const getDeployment = (name: string, object: unknown): Expectation => ({argv: [...BOUND, 'get', 'deployment', name, '-o', 'json'], result: {stdout: JSON.stringify(object)}})
  const notFound = (name: string): Expectation => ({
    argv: [...BOUND, 'get', 'deployment', name, '-o', 'json'],
    result: {exitCode: 1, stderr: `Error from server (NotFound): deployments.apps "${name}" not found\n`},
  })
  const records: Expectation = {argv: [...BOUND, 'get', 'configmaps', '-l', 'skycap.dev/release-of=itapp,skycap.dev/environment=test', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}}
  const lock = (onLock: (lease: Lease) => void): Expectation => ({argv: [...BOUND, 'create', '-f', '-'], input: (i) => onLock(JSON.parse(i as string))})
  const unlock = (lease: () => Lease | undefined): Expectation[] => [
    {argv: [...BOUND, 'get', 'lease', 'skycap-lock-itapp', '-o', 'json', '--ignore-not-found'], result: () => ({stdout: JSON.stringify({...lease(), spec: {}})})},
    {argv: [...BOUND, 'delete', 'lease', 'skycap-lock-itapp', '--ignore-not-found']},
  ]
  const watch = (...items: unknown[]): Expectation => ({argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items})}})
  /** The kubectl calls that would change something: none may be made by a refused restart. */
  const changes = (calls: Array<{argv: string[]}>) => calls.map((c) => c.argv.slice(BOUND.length)).filter((a) => a[0] === 'patch')
  const run = (services: string[], fake: ReturnType<typeof fakeKubectlFactory>, extra: {dryRun?: boolean; timeout?: string; clock?: () => number} = {}) =>
    restart(
      {services, environment: 'test', configPath: file, dryRun: extra.dryRun, timeout: extra.timeout},
      {kubectl: fake.factory, reporter: memoryReporter(), intervalMs: 1, clock: extra.clock ?? (() => NOW)},
    )

  it('web and worker: locks, reads both, patches both with one restartedAt, watches them in one get per poll, records a restart entry, unlocks', async () => {
    let lease: Lease | undefined
    let record: Record<string, unknown> | undefined
    const fake = fakeKubectlFactory([
      lock((l) => (lease = l)),
      getState(),
      getDeployment('web', deployment('web', 2)),
      getDeployment('worker', deployment('worker', 1)),
      records,
      UNWATCHED,
      {argv: [...BOUND, 'patch', 'deployment', 'web', ...PATCH]},
      {argv: [...BOUND, 'patch', 'deployment', 'worker', ...PATCH]},
      // The first poll: the controller has not observed the patched template yet; the second: both rolled.
      watch(deployment('web', 2, 2, 3), {...deployment('worker', 1, 1, 3), status: {observedGeneration: 2, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}}),
      watch(deployment('web', 2, 2, 3), deployment('worker', 1, 1, 3)),
      {
        argv: [...BOUND, 'create', '-f', '-'],
        input: (i) => {
          const item = JSON.parse(i as string).items[0]
          expect(item.metadata.labels).to.include({'skycap.dev/release': '1', 'skycap.dev/result': 'succeeded'})
          record = JSON.parse(item.data.release)
        },
      },
      ...unlock(() => lease),
    ])
    const report = await run(['web', 'worker'], fake)
    expect(fake.remaining()).to.equal(0)
    expect(lease?.metadata.annotations).to.deep.include({'skycap.dev/reason': 'restart web, worker'})
    expect(report).to.deep.equal({
      environment: 'test',
      services: [
        {service: 'web', deployment: 'web', replicas: 2},
        {service: 'worker', deployment: 'worker', replicas: 1},
      ],
      skipped: [],
      result: 'succeeded',
      release: 1,
    })
    expect(record).to.deep.include({action: 'restart', result: 'succeeded', restart: {services: ['web', 'worker'], deployments: ['web', 'worker']}})
  })

  it('--dry-run reads without the lock and patches nothing; without SERVICE every deployed service, one at 0 replicas skipped and said', async () => {
    const fake = fakeKubectlFactory([getState(), getDeployment('web', deployment('web', 2)), getDeployment('worker', deployment('worker', 0))])
    const reporter = memoryReporter()
    const report = await restart({services: [], environment: 'test', configPath: file, dryRun: true}, {kubectl: fake.factory, reporter})
    expect(fake.remaining()).to.equal(0)
    expect(report).to.deep.include({result: 'planned', release: null, services: [{service: 'web', deployment: 'web', replicas: 2}], skipped: [{service: 'worker', reason: 'scaled to 0'}]})
    expect(reporter.lines.join('\n')).to.contain('worker in test is scaled to 0: it has no pods to restart')
  })

  it('a blue-green service: the slot its Service selects is patched and watched', async () => {
    writeFileSync(file, readFileSync(file, 'utf8').replace('    replicas: 2\n', '    replicas: 2\n    strategy: {type: blueGreen}\n'))
    const state = {data: {web: JSON.stringify({type: 'blueGreen', release: 4, phase: 'completed', activeSlot: 'green', previousSlot: 'blue', scaledDown: true})}}
    let lease: Lease | undefined
    const fake = fakeKubectlFactory([
      lock((l) => (lease = l)),
      getState(state),
      {
        argv: [...BOUND, 'get', 'service', 'web', '-o', 'json', '--ignore-not-found'],
        result: {stdout: JSON.stringify({apiVersion: 'v1', kind: 'Service', metadata: {name: 'web'}, spec: {selector: {...OURS, 'skycap.dev/slot': 'green'}}})},
      },
      getDeployment('web-green', deployment('web-green', 2)),
      records,
      UNWATCHED,
      {argv: [...BOUND, 'patch', 'deployment', 'web-green', ...PATCH]},
      watch(deployment('web-green', 2, 2, 3)),
      {argv: [...BOUND, 'create', '-f', '-']},
      ...unlock(() => lease),
    ])
    const report = await run(['web'], fake)
    expect(fake.remaining()).to.equal(0)
    expect(report).to.deep.include({result: 'succeeded', services: [{service: 'web', deployment: 'web-green', replicas: 2}]})
  })

  it('an unknown service (did-you-mean, after asking what runs) or an environment given as one: exit 2, nothing read under a lock, nothing patched', async () => {
    const fake = fakeKubectlFactory([
      {argv: [...BOUND, 'get', 'deployments', '-l', 'app.kubernetes.io/instance=itapp-test,skycap.dev/environment=test', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      records,
    ])
    const error = await rejectsWithUserError(run(['web', 'wrker'], fake))
    expect(fake.remaining()).to.equal(0)
    expect(error.exitCode).to.equal(2)
    expect(error.message).to.equal('unknown service "wrker"; did you mean "worker"?')
    expect(changes(fake.calls)).to.deep.equal([])
    const none = fakeKubectlFactory([])
    const env = await rejectsWithUserError(restart({services: ['guarded'], configPath: file}, {kubectl: none.factory, reporter: memoryReporter()}))
    expect(env.message).to.equal('guarded is an environment, not a service of app itapp; did you mean `skycap restart -e guarded`?')
    expect(none.calls).to.deep.equal([])
  })

  it('one service of two refused (its canary under way, not deployed, another app owns it, paused by hand): exit 2 before either is patched, the lock released', async () => {
    writeFileSync(file, readFileSync(file, 'utf8').replace('    replicas: 1\n', '    replicas: 1\n    strategy: {type: canary, steps: [{setWeight: 25}, {pause: {}}]}\n'))
    const canary = {data: {worker: JSON.stringify({type: 'canary', release: 9, phase: 'paused', step: 1, steps: 2, weight: 25})}}
    const cases: Array<[string, Expectation[], string]> = [
      ['canary', [getState(canary)], 'the canary of worker (release 9, paused at 25%, step 2/2) in test is still under way; nothing was changed'],
      ['not deployed', [getState(), getDeployment('web', deployment('web', 2)), notFound('worker')], 'service worker is not deployed in test (namespace shop)'],
      [
        'owned elsewhere',
        [getState(), getDeployment('web', deployment('web', 2)), getDeployment('worker', deployment('worker', 1, 1, 2, {...OURS, 'app.kubernetes.io/part-of': 'alpha'}))],
        'Deployment/worker in namespace shop belongs to app alpha (environment test), not to itapp test; nothing was changed',
      ],
      [
        'paused',
        [getState(), getDeployment('web', deployment('web', 2)), getDeployment('worker', {...deployment('worker', 1), spec: {replicas: 1, paused: true}})],
        'Deployment/worker in namespace shop is paused (kubectl rollout pause): the controller rolls out nothing while it is paused, so this restart of test would wait until its timeout; nothing was changed',
      ],
    ]
    for (const [what, reads, message] of cases) {
      let lease: Lease | undefined
      const fake = fakeKubectlFactory([lock((l) => (lease = l)), ...reads, ...unlock(() => lease)])
      const error = await rejectsWithUserError(run(['web', 'worker'], fake))
      expect(fake.remaining(), what).to.equal(0)
      expect(error.exitCode, what).to.equal(2)
      expect(error.message, what).to.equal(message)
      if (what === 'owned elsewhere') expect(error).to.be.instanceOf(OwnedElsewhereError)
      if (what === 'paused') expect(error.hint).to.equal('Resume it with `kubectl rollout resume deployment/worker -n shop --context kind-x`, then run the restart again.')
      if (what === 'canary') expect(error.hint).to.equal('Finish it first with `skycap rollout resume test` (then `skycap promote test worker`) or `skycap abort test worker`, then restart worker.')
      expect(changes(fake.calls), what).to.deep.equal([])
    }
  })

  it('every service at 0 replicas: nothing patched or recorded, result unchanged', async () => {
    let lease: Lease | undefined
    const fake = fakeKubectlFactory([
      lock((l) => (lease = l)),
      getState(),
      getDeployment('web', deployment('web', 0)),
      getDeployment('worker', deployment('worker', 0)),
      records,
      ...unlock(() => lease),
    ])
    const report = await run([], fake)
    expect(fake.remaining()).to.equal(0)
    expect(report).to.deep.include({result: 'unchanged', release: null, services: []})
    expect(report.skipped.map((s) => s.service)).to.deep.equal(['web', 'worker'])
  })

  it('new pods that never get ready: exit 70, recorded as failed, and the hint says there is no rollback and where to look', async () => {
    let lease: Lease | undefined
    let now = NOW
    const fake = fakeKubectlFactory([
      lock((l) => (lease = l)),
      getState(),
      getDeployment('web', deployment('web', 2)),
      records,
      UNWATCHED,
      {argv: [...BOUND, 'patch', 'deployment', 'web', ...PATCH]},
      // 1 of 2 ready when the minute is up.
      {...watch(deployment('web', 2, 1, 3)), result: () => ((now += 120_000), {stdout: JSON.stringify({items: [deployment('web', 2, 1, 3)]})})},
      {argv: [...BOUND, 'create', 'configmap', 'skycap-clock', '--dry-run=server', '-o', 'jsonpath={.metadata.creationTimestamp}'], result: () => ({stdout: new Date(now).toISOString()})},
      {argv: [...BOUND, 'get', 'events', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      {argv: [...BOUND, 'create', '-f', '-'], input: (i) => expect(JSON.parse(i as string).items[0].metadata.labels).to.include({'skycap.dev/result': 'failed'})},
      ...unlock(() => lease),
    ])
    const error = (await run(['web'], fake, {timeout: '1m', clock: () => now}).catch((e: unknown) => e)) as TimeoutError
    expect(fake.remaining()).to.equal(0)
    expect(error).to.be.instanceOf(TimeoutError)
    expect(error.exitCode).to.equal(70)
    expect(error.message).to.equal('the new pods of web in test were not ready in time')
    expect(error.hint).to.contain('skycap does not roll back a restart').and.contain('`skycap logs web -e test`').and.contain('`skycap status test`').and.contain('a Secret')
    expect(error.details?.report).to.deep.include({result: 'timed-out', release: 1})
    expect(error).to.not.be.instanceOf(DeployFailedError)
  })
})
