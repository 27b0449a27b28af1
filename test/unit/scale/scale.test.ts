import {expect} from 'chai'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {InterruptedError, OwnedElsewhereError, TimeoutError, UserError} from '../../../src/errors.js'
import {MAX_REPLICAS, parseReplicas, scale} from '../../../src/scale/scale.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {WATCH_RESOURCES} from '../../../src/resources/kinds.js'
import {fakeKubectl, fakeKubectlFactory} from '../../helpers/fake-kubectl.js'
import {rejectsWithUserError, userError} from '../../helpers/errors.js'
import {TempRepo} from '../../helpers/repo.js'

describe('scale replicas', () => {
  it('accepts whole numbers from 0 to the int32 maximum', () => {
    expect(parseReplicas('0')).to.equal(0)
    expect(parseReplicas('5')).to.equal(5)
    expect(parseReplicas('2147483647')).to.equal(2147483647)
    expect(parseReplicas(3)).to.equal(3)
    expect(MAX_REPLICAS).to.equal(2 ** 31 - 1)
  })

  for (const input of ['abc', '-1', '1.5', '', ' 3', '1e3', '0x10']) {
    it(`refuses "${input}" as not a whole number`, () => {
      expect(userError(() => parseReplicas(input)).message).to.equal(`replicas must be a whole number of 0 or more, not "${input}"`)
    })
  }

  it('refuses numbers that are not whole or negative', () => {
    expect(userError(() => parseReplicas(-1)).message).to.equal('replicas must be a whole number of 0 or more, not "-1"')
    expect(userError(() => parseReplicas(Number.NaN)).message).to.equal('replicas must be a whole number of 0 or more, not "NaN"')
  })

  for (const input of ['2147483648', '99999999999999999999', 2 ** 31, Number.MAX_SAFE_INTEGER + 2]) {
    it(`refuses ${input}, above what Kubernetes accepts`, () => {
      const error = userError(() => parseReplicas(input))
      expect(error.message).to.equal(`replicas must be at most 2147483647, the largest count Kubernetes accepts, not "${input}"`)
      expect(error.hint).to.equal('Pass a whole number from 0 to 2147483647.')
    })
  }

  it('is checked by scale() before reading config or calling kubectl', async () => {
    const fake = fakeKubectl([])
    let error: unknown
    try {
      await scale({service: 'web', replicas: '99999999999999999999', configPath: '/nonexistent/skycap.yaml'}, {kubectl: () => fake.kubectl, reporter: memoryReporter()})
    } catch (e) {
      error = e
    }
    expect(error).to.be.instanceOf(UserError)
    expect((error as Error).message).to.contain('must be at most 2147483647')
    expect(fake.calls).to.deep.equal([])
  })
})

describe('skycap scale: the whole kubectl sequence', function () {
  this.timeout(20_000)
  const BOUND = ['--context', 'kind-x', '--namespace', 'shop', '--request-timeout=30s']
  const SELECTOR = 'app.kubernetes.io/part-of=itapp,app.kubernetes.io/managed-by=skycap,skycap.dev/environment=test'
  const UNWATCHED = {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'name'], result: {stdout: ''}}
  /** skycap's labels for itapp's environment test (the Deployments it deployed there). */
  const OURS = {'app.kubernetes.io/part-of': 'itapp', 'app.kubernetes.io/managed-by': 'skycap', 'skycap.dev/environment': 'test'}
  const web = (replicas: number, ready: number) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name: 'web', uid: 'd1', generation: 2, labels: OURS, annotations: {'deployment.kubernetes.io/revision': '1'}},
    spec: {replicas},
    status: {observedGeneration: 2, replicas, updatedReplicas: replicas, readyReplicas: ready, availableReplicas: ready},
  })
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.clusterApp('kind-x', 'shop')
  })
  afterEach(() => repo.remove())

  type Lease = {metadata: {annotations: Record<string, string>}}
  /** The rollout state's read: none (`state` undefined), or that ConfigMap. Made whatever skycap.yaml's strategies. */
  const getState = (state?: Record<string, unknown>) => ({
    argv: [...BOUND, 'get', 'configmap', 'skycap-rollout-itapp', '-o', 'json', '--ignore-not-found'],
    result: {stdout: state ? JSON.stringify(state) : ''},
  })
  /** The calls of `scale web 3` up to the scale itself: lock (`onLock` sees the Lease), no rollout state, Deployment at 2, no HPA, no records. */
  const lockReadScale = (onLock: (lease: Lease) => void) => [
    {argv: [...BOUND, 'create', '-f', '-'], input: (i: string | undefined) => onLock(JSON.parse(i as string))},
    getState(),
    {argv: [...BOUND, 'get', 'deployment', 'web', '-o', 'json'], result: {stdout: JSON.stringify(web(2, 2))}},
    {argv: [...BOUND, 'get', 'horizontalpodautoscalers', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
    {argv: [...BOUND, 'get', 'configmaps', '-l', 'skycap.dev/release-of=itapp,skycap.dev/environment=test', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
    // Beside the records: whether the user may list what the watch lists (refused, nothing has changed yet).
    UNWATCHED,
    {argv: [...BOUND, 'scale', 'deployment/web', '--replicas=3']},
  ]
  /** The release of the lock `lease()` took. */
  const unlock = (lease: () => Lease | undefined) => [
    {argv: [...BOUND, 'get', 'lease', 'skycap-lock-itapp', '-o', 'json', '--ignore-not-found'], result: () => ({stdout: JSON.stringify({...lease(), spec: {}})})},
    {argv: [...BOUND, 'delete', 'lease', 'skycap-lock-itapp', '--ignore-not-found']},
  ]

  it('locks, then reads the Deployment and the HPAs, scales, watches in one get per poll, records, unlocks', async () => {
    let lease: Lease | undefined
    const fake = fakeKubectlFactory([
      ...lockReadScale((l) => (lease = l)),
      {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: [web(3, 3)]})}},
      {
        argv: [...BOUND, 'create', '-f', '-'],
        input: (i) => expect(JSON.parse(i as string).items[0].metadata.labels).to.include({'skycap.dev/release': '1', 'skycap.dev/result': 'succeeded'}),
      },
      ...unlock(() => lease),
    ])
    const report = await scale({service: 'web', replicas: '3', environment: 'test', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: fake.factory, reporter: memoryReporter(), intervalMs: 1})
    expect(fake.remaining()).to.equal(0)
    expect(report).to.deep.include({from: 2, to: 3, result: 'succeeded', release: 1})
  })

  it('an API server that does not answer the record of a scale: waited for, in words that fit a scale (it said "the release runs")', async () => {
    let lease: Lease | undefined
    const fake = fakeKubectlFactory([
      ...lockReadScale((l) => (lease = l)),
      {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: [web(3, 3)]})}},
      {argv: [...BOUND, 'create', '-f', '-'], result: {exitCode: 1, stderr: 'The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?'}},
      {argv: [...BOUND, 'apply', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-']},
      ...unlock(() => lease),
    ])
    const reporter = memoryReporter()
    const report = await scale({service: 'web', replicas: '3', environment: 'test', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: fake.factory, reporter, intervalMs: 1})
    expect(fake.remaining()).to.equal(0)
    expect(report).to.deep.include({result: 'succeeded', release: 1})
    expect(reporter.warnings).to.deep.equal([
      'the API server does not answer (the connection to the server 10.0.0.1:6443 was refused); the new counts stand; skycap records the scale once it answers again (for up to 30s)',
    ])
  })

  it('a service already at that count (read under the lock): nothing scaled, nothing recorded, the lock released; --dry-run says so too', async () => {
    let lease: Lease | undefined
    const fake = fakeKubectlFactory([...lockReadScale((l) => (lease = l)).slice(0, 5), ...unlock(() => lease)])
    const options = {service: 'web', replicas: '2', environment: 'test', configPath: join(repo.dir, 'skycap.yaml')}
    const report = await scale(options, {kubectl: fake.factory, reporter: memoryReporter(), intervalMs: 1})
    expect(fake.remaining()).to.equal(0)
    expect(report).to.deep.include({from: 2, to: 2, result: 'unchanged', release: null})
    const dry = fakeKubectlFactory(lockReadScale(() => undefined).slice(1, 4))
    expect(await scale({...options, dryRun: true}, {kubectl: dry.factory, reporter: memoryReporter()})).to.deep.include({result: 'unchanged'})
  })

  it('before the first deploy (no namespace): exit 2 naming the service and the deploy to run, not how to lock by hand', async () => {
    const fake = fakeKubectlFactory([
      {argv: [...BOUND, 'create', '-f', '-'], result: {exitCode: 1, stderr: 'Error from server (NotFound): error when creating "STDIN": namespaces "shop" not found\n'}},
    ])
    const error = await scale({service: 'web', replicas: '3', environment: 'test', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: fake.factory, reporter: memoryReporter()}).catch(
      (e: unknown) => e,
    )
    expect(fake.remaining()).to.equal(0)
    expect(error).to.deep.include({code: 'namespace_not_found', exitCode: 2, hint: 'Deploy it first: skycap deploy test.'})
    expect((error as Error).message).to.equal('cannot scale web in test: its namespace shop does not exist yet (nothing was deployed there); nothing was changed')
  })

  it("--timeout counts from when the lock is held: an hour spent waiting for it is not the scale's time", async () => {
    let lease: Lease | undefined
    let now = Date.parse('2026-12-01T10:00:00Z')
    const fake = fakeKubectlFactory([
      // The lock is created an hour after the command started (as after a long --wait-for-lock).
      ...lockReadScale((l) => ((now += 3_600_000), (lease = l))),
      // Not ready at the first poll, ready at the second: a deadline taken at the start would have passed between them.
      {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: [web(3, 2)]})}},
      {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: [web(3, 3)]})}},
      {argv: [...BOUND, 'create', '-f', '-']},
      ...unlock(() => lease),
    ])
    const report = await scale(
      {service: 'web', replicas: '3', environment: 'test', configPath: join(repo.dir, 'skycap.yaml'), timeout: '1m'},
      {kubectl: fake.factory, reporter: memoryReporter(), intervalMs: 1, clock: () => now},
    )
    expect(fake.remaining()).to.equal(0)
    expect(report).to.deep.include({from: 2, to: 3, result: 'succeeded', release: 1})
  })

  it('a scale that times out is recorded as failed and reported as timed-out (exit 70), not as planned', async () => {
    let lease: Lease | undefined
    let now = Date.parse('2026-12-01T10:00:00Z')
    const fake = fakeKubectlFactory([
      ...lockReadScale((l) => (lease = l)),
      // Still 2 of 3 ready when the minute is up.
      {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: () => ((now += 120_000), {stdout: JSON.stringify({items: [web(3, 2)]})})},
      // The API server's clock, asked beside the events (src/deploy/explain.ts).
      {argv: [...BOUND, 'create', 'configmap', 'skycap-clock', '--dry-run=server', '-o', 'jsonpath={.metadata.creationTimestamp}'], result: {stdout: new Date(now).toISOString()}},
      {argv: [...BOUND, 'get', 'events', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      {
        argv: [...BOUND, 'create', '-f', '-'],
        input: (i) => expect(JSON.parse(i as string).items[0].metadata.labels).to.include({'skycap.dev/release': '1', 'skycap.dev/result': 'failed'}),
      },
      ...unlock(() => lease),
    ])
    const error = (await scale(
      {service: 'web', replicas: '3', environment: 'test', configPath: join(repo.dir, 'skycap.yaml'), timeout: '1m'},
      {kubectl: fake.factory, reporter: memoryReporter(), intervalMs: 1, clock: () => now},
    ).catch((e: unknown) => e)) as TimeoutError
    expect(fake.remaining()).to.equal(0)
    expect(error).to.be.instanceOf(TimeoutError)
    expect(error.exitCode).to.equal(70)
    expect(error.details?.report).to.deep.include({from: 2, to: 3, result: 'timed-out', release: 1})
  })

  it('interrupted, then the lock cannot be released (the API server stopped answering): a warning that it expires, and the error no longer says it was released', async () => {
    const refused = {exitCode: 1, stderr: 'The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?'}
    const getLease = [...BOUND, 'get', 'lease', 'skycap-lock-itapp', '-o', 'json', '--ignore-not-found']
    for (const released of [true, false]) {
      let lease: Lease | undefined
      const controller = new AbortController()
      const fake = fakeKubectlFactory([
        ...lockReadScale((l) => (lease = l)),
        // Ctrl-C during the watch: the scale is recorded as interrupted, then the lock is released (or not).
        {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: () => (controller.abort(), {stdout: JSON.stringify({items: [web(3, 2)]})})},
        {argv: [...BOUND, 'create', '-f', '-']},
        ...(released ? unlock(() => lease) : [{argv: getLease, result: refused}]),
      ])
      const reporter = memoryReporter()
      const error = (await scale(
        {service: 'web', replicas: '3', environment: 'test', configPath: join(repo.dir, 'skycap.yaml')},
        {kubectl: fake.factory, reporter, intervalMs: 1, signal: controller.signal},
      ).catch((e: unknown) => e)) as InterruptedError
      expect(fake.remaining(), `released: ${released}`).to.equal(0)
      expect(error).to.be.instanceOf(InterruptedError)
      expect(error.exitCode).to.equal(130)
      expect(error.details?.report, 'the report is kept').to.deep.include({result: 'interrupted', release: 1})
      // What to do next (it said nothing after the message).
      expect(error.hint).to.match(/^web goes on to 3 replicas without skycap watching: `skycap status test` shows how far it got; `skycap scale web \d+ -e test` goes back\.$/)
      if (released) {
        expect(error.message).to.equal('scaling web in test interrupted; the lock was released')
        expect(reporter.warnings.join('\n')).to.not.contain('could not release the lock')
      } else {
        expect(error.message).to.equal('scaling web in test interrupted; the lock could not be released (it expires on its own within 60s)')
        expect(reporter.warnings.join('\n')).to.match(/could not release the lock: cannot reach the cluster's API server .*; it expires on its own within 60s$/)
      }
    }
  })

  const webService = (slot?: string) => ({
    argv: [...BOUND, 'get', 'service', 'web', '-o', 'json', '--ignore-not-found'],
    result: {stdout: JSON.stringify({apiVersion: 'v1', kind: 'Service', metadata: {name: 'web'}, spec: {selector: {...OURS, ...(slot ? {'skycap.dev/slot': slot} : {})}}})},
  })

  it('a blue-green service: the slot its Service selects is read, scaled and watched', async () => {
    const file = join(repo.dir, 'skycap.yaml')
    writeFileSync(file, readFileSync(file, 'utf8').replace('    replicas: 2\n', '    replicas: 2\n    strategy: {type: blueGreen}\n'))
    const green = (replicas: number, ready: number) => ({...web(replicas, ready), metadata: {...web(replicas, ready).metadata, name: 'web-green'}})
    const state = {data: {web: JSON.stringify({type: 'blueGreen', release: 4, phase: 'completed', activeSlot: 'green', previousSlot: 'blue', scaledDown: true})}}
    let lease: {metadata: {annotations: Record<string, string>}} | undefined
    const fake = fakeKubectlFactory([
      {argv: [...BOUND, 'create', '-f', '-'], input: (i) => (lease = JSON.parse(i as string))},
      getState(state),
      webService('green'),
      {argv: [...BOUND, 'get', 'deployment', 'web-green', '-o', 'json'], result: {stdout: JSON.stringify(green(2, 2))}},
      {argv: [...BOUND, 'get', 'horizontalpodautoscalers', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      {argv: [...BOUND, 'get', 'configmaps', '-l', 'skycap.dev/release-of=itapp,skycap.dev/environment=test', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      UNWATCHED,
      {argv: [...BOUND, 'scale', 'deployment/web-green', '--replicas=3']},
      {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: [green(3, 3)]})}},
      {argv: [...BOUND, 'create', '-f', '-']},
      {argv: [...BOUND, 'get', 'lease', 'skycap-lock-itapp', '-o', 'json', '--ignore-not-found'], result: () => ({stdout: JSON.stringify({...lease, spec: {}})})},
      {argv: [...BOUND, 'delete', 'lease', 'skycap-lock-itapp', '--ignore-not-found']},
    ])
    const reporter = memoryReporter()
    const report = await scale({service: 'web', replicas: '3', environment: 'test', configPath: file}, {kubectl: fake.factory, reporter, intervalMs: 1})
    expect(fake.remaining()).to.equal(0)
    expect(report).to.deep.include({from: 2, to: 3, result: 'succeeded'})
    expect(reporter.lines.join('\n')).to.include('Scaling web (Deployment web-green, the active slot) in test from 2 to 3')
  })

  it('a blue-green service whose state still names the old slot (a SIGKILL between the switch and its record): the slot the Service selects is scaled, not the idle one', async () => {
    const file = join(repo.dir, 'skycap.yaml')
    writeFileSync(file, readFileSync(file, 'utf8').replace('    replicas: 2\n', '    replicas: 2\n    strategy: {type: blueGreen}\n'))
    const blue = {...web(2, 2), metadata: {...web(2, 2).metadata, name: 'web-blue'}}
    const stale = {data: {web: JSON.stringify({type: 'blueGreen', release: 4, phase: 'progressing', activeSlot: 'green', previousSlot: 'blue'})}}
    for (const [service, slot] of [
      [webService('blue'), 'blue'],
      [webService(), 'green'],
    ] as const) {
      const fake = fakeKubectlFactory([
        getState(stale),
        service,
        {argv: [...BOUND, 'get', 'deployment', `web-${slot}`, '-o', 'json'], result: {stdout: JSON.stringify({...blue, metadata: {...blue.metadata, name: `web-${slot}`}})}},
        {argv: [...BOUND, 'get', 'horizontalpodautoscalers', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      ])
      const reporter = memoryReporter()
      const report = await scale({service: 'web', replicas: '3', environment: 'test', configPath: file, dryRun: true}, {kubectl: fake.factory, reporter})
      expect(fake.remaining(), slot).to.equal(0)
      expect(report, slot).to.deep.include({from: 2, to: 3, result: 'planned'})
    }
  })

  it('a blue-green Service patched by hand to a slot no Deployment has (purple, or a deleted slot): refused (exit 2) naming the selector, the slots that exist and the fixes; nothing scaled', async () => {
    const file = join(repo.dir, 'skycap.yaml')
    writeFileSync(file, readFileSync(file, 'utf8').replace('    replicas: 2\n', '    replicas: 2\n    strategy: {type: blueGreen}\n'))
    const state = {data: {web: JSON.stringify({type: 'blueGreen', release: 4, phase: 'completed', activeSlot: 'green', previousSlot: 'blue', scaledDown: true})}}
    for (const [slot, exists, said] of [
      ['purple', 'deployment.apps/web-blue\ndeployment.apps/web-green\n', 'the slots that exist are web-blue and web-green'],
      ['blue', 'deployment.apps/web-green\n', 'the slots that exist are web-green'],
    ] as const) {
      const fake = fakeKubectlFactory([
        getState(state),
        webService(slot),
        {argv: [...BOUND, 'get', 'deployment', `web-${slot}`, '-o', 'json'], result: {exitCode: 1, stderr: `Error from server (NotFound): deployments.apps "web-${slot}" not found\n`}},
        {argv: [...BOUND, 'get', 'deployments', 'web-blue', 'web-green', '--ignore-not-found', '-o', 'name'], result: {stdout: exists}},
      ])
      const error = await rejectsWithUserError(scale({service: 'web', replicas: '3', environment: 'test', configPath: file, dryRun: true}, {kubectl: fake.factory, reporter: memoryReporter()}))
      expect(fake.remaining(), slot).to.equal(0)
      expect(error.exitCode).to.equal(2)
      expect(error.message).to.equal(
        `Service web selects skycap.dev/slot=${slot} (set by hand?), a slot with no Deployment web-${slot}: it sends traffic to no pod (${said}); web is not scaled, nothing was changed`,
      )
      expect(error.hint).to.equal(
        `\`skycap deploy test\` puts it back on the slot it brings up, or \`kubectl patch service web -p '{"spec":{"selector":{"skycap.dev/slot":"green"}}}' -n shop --context kind-x\` selects web-green again; then scale web.`,
      )
      expect(error.details).to.deep.include({environment: 'test', service: 'web', selected: slot})
    }
  })

  it('a service whose canary is left mid-way (paused, progressing, aborting, promoting): refused under the lock before it reads or scales the Deployment, exit 2; --dry-run says so too', async () => {
    const file = join(repo.dir, 'skycap.yaml')
    writeFileSync(file, readFileSync(file, 'utf8').replace('    replicas: 2\n', '    replicas: 2\n    strategy: {type: canary, steps: [{setWeight: 25}, {pause: {}}, {setWeight: 50}, {pause: {}}]}\n'))
    const canary = {type: 'canary', release: 9, startedBy: 'ana', startedAt: '2026-12-01T10:00:00Z', updatedAt: '2026-12-01T10:00:00Z', steps: 4, weight: 25}
    const cases: Array<[Record<string, unknown>, string]> = [
      [{phase: 'paused', step: 1}, 'release 9, paused at 25%, step 2/4'],
      [{phase: 'progressing', step: 2}, 'release 9, progressing at 25%, step 3/4'],
      [{phase: 'paused', step: 1, aborting: {ref: 'abort web', message: 'aborted by skycap abort'}}, 'release 9, aborting at 25%, step 2/4'],
      [{phase: 'progressing', step: 4, promoting: true}, 'release 9, promoting at 25%, step 4/4'],
    ]
    // The worker's canary, completed, is no reason to refuse anything; web's is.
    const canaryState = (state: Record<string, unknown>) => getState({data: {web: JSON.stringify({...canary, ...state}), worker: JSON.stringify({...canary, phase: 'completed'})}})
    for (const [state, said] of cases) {
      let lease: Lease | undefined
      // The state is read once the lock is held, and nothing after it but the lock's release: no get of the Deployment,
      // no scale.
      const fake = fakeKubectlFactory([{argv: [...BOUND, 'create', '-f', '-'], input: (i) => (lease = JSON.parse(i as string))}, canaryState(state), ...unlock(() => lease)])
      const error = await rejectsWithUserError(scale({service: 'web', replicas: '6', environment: 'test', configPath: file}, {kubectl: fake.factory, reporter: memoryReporter(), intervalMs: 1}))
      expect(fake.remaining(), said).to.equal(0)
      expect(fake.calls.map((c) => c.argv.slice(BOUND.length, BOUND.length + 2).join(' '))).to.not.include('scale deployment/web')
      expect(error.exitCode).to.equal(2)
      expect(error.message).to.equal(`the canary of web (${said}) in test is still under way; nothing was changed`)
      expect(error.hint).to.equal('Finish it first with `skycap rollout resume test` (then `skycap promote test web`) or `skycap abort test web`, then scale web.')
      expect(error.details).to.deep.include({environment: 'test', service: 'web'})
      const dry = fakeKubectlFactory([canaryState(state)])
      const dryError = await rejectsWithUserError(scale({service: 'web', replicas: '6', environment: 'test', configPath: file, dryRun: true}, {kubectl: dry.factory, reporter: memoryReporter()}))
      expect(dryError.message).to.equal(error.message)
      expect(dry.remaining()).to.equal(0)
    }
    // The canary's strategy since removed from skycap.yaml (web is rolling in the work tree): still under way, refused.
    writeFileSync(file, readFileSync(file, 'utf8').replace(/ {4}strategy: .*\n/, ''))
    const dry = fakeKubectlFactory([canaryState({phase: 'paused', step: 1})])
    const error = await rejectsWithUserError(scale({service: 'web', replicas: '6', environment: 'test', configPath: file, dryRun: true}, {kubectl: dry.factory, reporter: memoryReporter()}))
    expect(error.message).to.equal('the canary of web (release 9, paused at 25%, step 2/4) in test is still under way; nothing was changed')
    expect(dry.remaining()).to.equal(0)
  })

  it('a canary that ended (completed, aborted, failed) does not stop the scale of its service', async () => {
    const file = join(repo.dir, 'skycap.yaml')
    writeFileSync(file, readFileSync(file, 'utf8').replace('    replicas: 2\n', '    replicas: 2\n    strategy: {type: canary, steps: [{setWeight: 25}, {pause: {}}]}\n'))
    for (const phase of ['completed', 'aborted', 'failed']) {
      const state = {data: {web: JSON.stringify({type: 'canary', release: 9, phase, step: 1, steps: 2, weight: phase === 'completed' ? 100 : 0})}}
      let lease: Lease | undefined
      const [create, , ...rest] = lockReadScale((l) => (lease = l))
      const fake = fakeKubectlFactory([
        create as (typeof rest)[number],
        getState(state),
        ...rest,
        {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: [web(3, 3)]})}},
        {argv: [...BOUND, 'create', '-f', '-']},
        ...unlock(() => lease),
      ])
      const report = await scale({service: 'web', replicas: '3', environment: 'test', configPath: file}, {kubectl: fake.factory, reporter: memoryReporter(), intervalMs: 1})
      expect(fake.remaining(), phase).to.equal(0)
      expect(report, phase).to.deep.include({from: 2, to: 3, result: 'succeeded'})
    }
  })

  it('a service the work tree makes rolling but a blue-green slot serves (a rollback to a release where it was blue-green): its slot is found through the state and scaled (it was "not deployed")', async () => {
    const green = {...web(2, 2), metadata: {...web(2, 2).metadata, name: 'web-green'}}
    const state = {data: {web: JSON.stringify({type: 'blueGreen', release: 4, phase: 'completed', activeSlot: 'green'})}}
    const fake = fakeKubectlFactory([
      getState(state),
      webService('green'),
      {argv: [...BOUND, 'get', 'deployment', 'web-green', '-o', 'json'], result: {stdout: JSON.stringify(green)}},
      {argv: [...BOUND, 'get', 'horizontalpodautoscalers', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
    ])
    const reporter = memoryReporter()
    const report = await scale({service: 'web', replicas: '3', environment: 'test', configPath: join(repo.dir, 'skycap.yaml'), dryRun: true}, {kubectl: fake.factory, reporter})
    expect(fake.remaining()).to.equal(0)
    expect(report).to.deep.include({from: 2, to: 3, result: 'planned'})
  })

  it('a Deployment of that name another app or environment deployed in the namespace, or made by hand: refused before any change, the lock released (exit 2)', async () => {
    const cases: Array<[Record<string, string> | undefined, string, string]> = [
      [{...OURS, 'app.kubernetes.io/part-of': 'alpha'}, 'belongs to app alpha (environment test), not to itapp test', 'run skycap scale from the repository (or environment) that owns it'],
      [{...OURS, 'skycap.dev/environment': 'guarded'}, 'belongs to environment guarded of this app, not to itapp test', 'run skycap scale from the repository (or environment) that owns it'],
      [undefined, 'belongs to no skycap app (it was not deployed by skycap', 'deploy itapp test first (skycap deploy test), or scale that Deployment with kubectl'],
    ]
    for (const [labels, said, hint] of cases) {
      let lease: {metadata: {annotations: Record<string, string>}} | undefined
      const theirs = {...web(2, 2), metadata: {...web(2, 2).metadata, labels}}
      const fake = fakeKubectlFactory([
        {argv: [...BOUND, 'create', '-f', '-'], input: (i) => (lease = JSON.parse(i as string))},
        getState(),
        {argv: [...BOUND, 'get', 'deployment', 'web', '-o', 'json'], result: {stdout: JSON.stringify(theirs)}},
        {argv: [...BOUND, 'get', 'lease', 'skycap-lock-itapp', '-o', 'json', '--ignore-not-found'], result: () => ({stdout: JSON.stringify({...lease, spec: {}})})},
        {argv: [...BOUND, 'delete', 'lease', 'skycap-lock-itapp', '--ignore-not-found']},
      ])
      const error = await scale(
        {service: 'web', replicas: '3', environment: 'test', configPath: join(repo.dir, 'skycap.yaml')},
        {kubectl: fake.factory, reporter: memoryReporter(), intervalMs: 1},
      ).then(
        () => undefined,
        (e: unknown) => e as OwnedElsewhereError,
      )
      expect(error, said).to.be.instanceOf(OwnedElsewhereError)
      expect(error?.exitCode).to.equal(2)
      expect(error?.code).to.equal('owned_elsewhere')
      expect(error?.message).to.equal(`Deployment/web in namespace shop ${said}${labels ? '' : ': no app.kubernetes.io/managed-by=skycap label), not to itapp test'}; nothing was changed`)
      expect(error?.hint).to.contain(hint)
      expect(fake.remaining(), said).to.equal(0)
    }
  })

  it('an HPA on the service (read under the lock): refused before any change, the lock released (exit 2)', async () => {
    const hpa = {metadata: {name: 'web-hpa'}, spec: {scaleTargetRef: {kind: 'Deployment', name: 'web'}}}
    let lease: {metadata: {annotations: Record<string, string>}} | undefined
    const fake = fakeKubectlFactory([
      {argv: [...BOUND, 'create', '-f', '-'], input: (i) => (lease = JSON.parse(i as string))},
      getState(),
      {argv: [...BOUND, 'get', 'deployment', 'web', '-o', 'json'], result: {stdout: JSON.stringify(web(2, 2))}},
      {argv: [...BOUND, 'get', 'horizontalpodautoscalers', '-o', 'json'], result: {stdout: JSON.stringify({items: [hpa]})}},
      {argv: [...BOUND, 'get', 'lease', 'skycap-lock-itapp', '-o', 'json', '--ignore-not-found'], result: () => ({stdout: JSON.stringify({...lease, spec: {}})})},
      {argv: [...BOUND, 'delete', 'lease', 'skycap-lock-itapp', '--ignore-not-found']},
    ])
    const error = await rejectsWithUserError(scale({service: 'web', replicas: 3, environment: 'test', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: fake.factory, reporter: memoryReporter()}))
    expect(fake.remaining()).to.equal(0)
    expect(error.message).to.equal('web is managed by the HorizontalPodAutoscaler web-hpa; it would undo the change')
  })

  it('an HPA on the service: a scale to 0, and from 0, goes through without --force (Kubernetes disables the HPA at 0), saying what the HPA does; other counts are refused, and an HPA with minReplicas 0 refuses both', async () => {
    const hpa = (minReplicas?: number) => ({
      metadata: {name: 'web-hpa'},
      spec: {scaleTargetRef: {kind: 'Deployment', name: 'web'}, ...(minReplicas === undefined ? {} : {minReplicas}), maxReplicas: 5},
    })
    // --dry-run: the same reads (rollout state, Deployment, HPAs), no lock.
    const dry = async (from: number, to: number, autoscaler: object) => {
      const fake = fakeKubectlFactory([
        getState(),
        {argv: [...BOUND, 'get', 'deployment', 'web', '-o', 'json'], result: {stdout: JSON.stringify(web(from, from))}},
        {argv: [...BOUND, 'get', 'horizontalpodautoscalers', '-o', 'json'], result: {stdout: JSON.stringify({items: [autoscaler]})}},
      ])
      const run = scale({service: 'web', replicas: to, environment: 'test', configPath: join(repo.dir, 'skycap.yaml'), dryRun: true}, {kubectl: fake.factory, reporter: memoryReporter()})
      const done = await run.then(
        (report) => ({report, error: undefined}),
        (error: unknown) => ({report: undefined, error: error as UserError}),
      )
      expect(fake.remaining()).to.equal(0)
      return done
    }
    const down = await dry(2, 0, hpa())
    expect(down.report).to.deep.include({from: 2, to: 0, result: 'planned'})
    expect(down.report?.hpa).to.deep.equal({name: 'web-hpa', note: 'the HorizontalPodAutoscaler web-hpa leaves web at 0 (Kubernetes disables autoscaling at 0 replicas) until it is scaled up again'})
    expect(down.report?.force).to.equal(undefined)
    const up = await dry(0, 3, hpa(2))
    expect(up.report?.hpa?.note).to.equal('the HorizontalPodAutoscaler web-hpa takes web over again from 3, keeping it between its minReplicas 2 and maxReplicas 5')
    expect((await dry(0, 9, hpa(2))).report?.hpa?.note).to.equal(
      'the HorizontalPodAutoscaler web-hpa takes web over again from 9 and sets it to 5, keeping it between its minReplicas 2 and maxReplicas 5',
    )
    expect((await dry(2, 3, hpa())).error?.message).to.equal('web is managed by the HorizontalPodAutoscaler web-hpa; it would undo the change')
    // minReplicas 0 (HPAScaleToZero): the HPA goes on at 0, and would undo either.
    expect((await dry(2, 0, hpa(0))).error?.message).to.equal('web is managed by the HorizontalPodAutoscaler web-hpa; it would undo the change')
    expect((await dry(0, 2, hpa(0))).error?.message).to.equal('web is managed by the HorizontalPodAutoscaler web-hpa; it would undo the change')
  })

  it('--force over an HPA: warned that the HPA sets its own count, and recorded with force and the HPA (history said "web 2 -> 12 succeeded")', async () => {
    const hpa = {metadata: {name: 'web-hpa'}, spec: {scaleTargetRef: {kind: 'Deployment', name: 'web'}, minReplicas: 1, maxReplicas: 10}}
    let lease: Lease | undefined
    let record: {scale?: object} | undefined
    const calls = lockReadScale((l) => (lease = l))
    calls[3] = {argv: [...BOUND, 'get', 'horizontalpodautoscalers', '-o', 'json'], result: {stdout: JSON.stringify({items: [hpa]})}}
    const fake = fakeKubectlFactory([
      ...calls,
      {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: [web(3, 3)]})}},
      {argv: [...BOUND, 'create', '-f', '-'], input: (i) => (record = JSON.parse(JSON.parse(i as string).items[0].data.release))},
      ...unlock(() => lease),
    ])
    const reporter = memoryReporter()
    const report = await scale({service: 'web', replicas: '3', environment: 'test', configPath: join(repo.dir, 'skycap.yaml'), force: true}, {kubectl: fake.factory, reporter, intervalMs: 1})
    expect(fake.remaining()).to.equal(0)
    const note = 'web is managed by the HorizontalPodAutoscaler web-hpa: it sets its own count again (between its minReplicas 1 and maxReplicas 10) within seconds, undoing this scale (--force)'
    expect(reporter.warnings).to.deep.equal([note])
    expect(report).to.deep.include({result: 'succeeded', force: true, hpa: {name: 'web-hpa', note}})
    expect(record?.scale).to.deep.equal({service: 'web', from: 2, to: 3, force: true, hpa: 'web-hpa'})
  })
})
