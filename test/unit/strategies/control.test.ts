import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'

import {SkycapError} from '../../../src/errors.js'
import {Kubectl, type ProcessRunner} from '../../../src/kubectl/kubectl.js'
import {canariesEnded, requestRollout, rolloutStatus} from '../../../src/strategies/control.js'
import {rolloutStatusLines} from '../../../src/ui/rollout.js'
import {checkFailure} from '../../../src/strategies/strategy.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {clearDeployUnderWay} from '../../../src/strategies/state.js'
import {deploymentStatus, fakeKubectl} from '../../helpers/fake-kubectl.js'
import {TempRepo} from '../../helpers/repo.js'

/** kubectl's argv without what every call carries (--context, --namespace, --request-timeout). */
function withoutConnection(argv: string[]): string[] {
  return argv.filter((a, i) => !['--context', '--namespace'].includes(a) && !['--context', '--namespace'].includes(argv[i - 1] ?? '') && !a.startsWith('--request-timeout'))
}

/**
 * The rollout state ConfigMap and the lock as the API server keeps them, for a promote that meets an abort another
 * command runs: the lock is held by that command, which takes the requests and returns the canaries to stable.
 */
function cluster(timeline: (reads: number, data: Record<string, string>) => void, services = ['web']) {
  const data: Record<string, string> = Object.fromEntries(
    services.map((service) => [service, JSON.stringify({type: 'canary', release: 3, phase: 'paused', step: 1, steps: 2, weight: 50, startedBy: 'a', startedAt: 't', updatedAt: 't', unit: {service}})]),
  )
  let reads = 0
  const now = new Date().toISOString()
  const lease = {
    metadata: {name: 'skycap-lock-itapp', annotations: {'skycap.dev/reason': 'rollout resume test'}},
    spec: {holderIdentity: 'abort@elsewhere', leaseDurationSeconds: 60, acquireTime: now, renewTime: now},
  }
  const runner: ProcessRunner = async (_file, argv) => {
    const args = withoutConnection(argv)
    if (args[0] === 'get' && args[1] === 'configmap') {
      const shown = JSON.stringify({data})
      if (Object.keys(data).some((key) => key.endsWith('.request')) || reads > 0) timeline(++reads, data)
      return {exitCode: 0, stdout: shown, stderr: ''}
    }
    if (args[0] === 'patch' && args[1] === 'configmap') {
      for (const [key, value] of Object.entries((JSON.parse(args.at(-1) as string) as {data: Record<string, string | null>}).data)) {
        if (value === null) delete data[key]
        else data[key] = value
      }
      return {exitCode: 0, stdout: '', stderr: ''}
    }
    if (args[0] === 'get' && args[1] === 'lease') return {exitCode: 0, stdout: JSON.stringify(lease), stderr: ''}
    return {exitCode: 1, stdout: '', stderr: `unexpected: ${args.join(' ')}`}
  }
  return {data, factory: (options: {context?: string; namespace?: string}) => new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, ...options})}
}

describe('promote while another command runs an abort of the same canary', function () {
  this.timeout(20_000)
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.clusterApp('kind-x', 'shop')
  })
  afterEach(() => repo.remove())

  it('waits while the abort brings stable back (request taken, phase not yet aborted) and says the promote was not done; it said "promoted"', async () => {
    const state = (data: Record<string, string>) => JSON.parse(data.web as string) as Record<string, unknown>
    const {data, factory} = cluster((reads, d) => {
      // The holder takes the request and begins its abort; the phase changes only once stable is back, polls later.
      if (reads === 1) {
        delete d['web.request']
        d.web = JSON.stringify({...state(d), aborting: {ref: 'abort web', message: 'aborted by skycap abort during the pause at step 2'}})
      }
      if (reads === 4) {
        const {aborting: _aborting, ...rest} = state(d)
        d.web = JSON.stringify({...rest, phase: 'aborted', weight: 0})
      }
    })
    const reporter = memoryReporter()
    const error = await requestRollout('promote', {environment: 'test', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: factory, reporter}).then(
      (r) => new Error(`it reported ${JSON.stringify(r)}`),
      (e: Error) => e,
    )
    expect(error, error.message).to.be.instanceOf(SkycapError)
    expect(error.message).to.equal('the promote of web in test was not done: another request (an abort given at the same time) came first, and the canary was aborted')
    expect(state(data).phase).to.equal('aborted')
  })

  it('a promote of worker while an abort of web (the same release) is under way waits for the release: worker aborted because of it is "not done" (it said "promoted"); each moment of the race', async function () {
    this.timeout(90_000)
    // The deploy takes worker's promote at once; web's abort (asked just before) is read a poll later, and worker is
    // stopped because of it polls after that: the promote's check may come in any of those moments.
    for (const gap of [0, 1, 2]) {
      const json = (d: Record<string, string>, service: string) => JSON.parse(d[service] as string) as Record<string, unknown>
      let at = 0
      const {data, factory} = cluster(
        (reads, d) => {
          if (reads === 1) {
            delete d['worker.request']
            d.worker = JSON.stringify({...json(d, 'worker'), phase: 'progressing', step: 2})
            d['web.request'] = 'abort'
            at = 1
          }
          if (at && reads === at + 1 + gap && d['web.request']) {
            delete d['web.request']
            d.web = JSON.stringify({...json(d, 'web'), aborting: {ref: 'abort web', message: 'aborted by skycap abort during the pause at step 2'}})
          }
          if (at && reads === at + 2 + gap && json(d, 'web').aborting) {
            const {aborting: _a, ...rest} = json(d, 'web')
            d.web = JSON.stringify({...rest, phase: 'aborted', weight: 0, message: 'aborted by skycap abort during the pause at step 2'})
          }
          if (at && reads === at + 3 + gap && json(d, 'worker').phase === 'progressing') {
            const message = 'aborted because web failed (abort web), which fails the release'
            d.worker = JSON.stringify({...json(d, 'worker'), aborting: {ref: 'abort worker', message}})
          }
          if (at && reads === at + 4 + gap && json(d, 'worker').aborting) {
            const {aborting, ...rest} = json(d, 'worker')
            d.worker = JSON.stringify({...rest, phase: 'aborted', weight: 0, message: (aborting as {message: string}).message})
          }
        },
        ['web', 'worker'],
      )
      const error = await requestRollout('promote', {environment: 'test', service: 'worker', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: factory, reporter: memoryReporter()}).then(
        (r) => new Error(`gap ${gap}: it reported ${JSON.stringify(r)}`),
        (e: Error) => e,
      )
      expect(error, error.message).to.be.instanceOf(SkycapError)
      expect(error.message, `gap ${gap}`).to.equal(
        'the promote of worker in test was not done: the canary was aborted after all, back to stable (aborted because web failed (abort web), which fails the release)',
      )
      expect(json(data, 'worker').phase).to.equal('aborted')
    }
  })

  it('a promote taken before an abort of another canary of its release was even asked waits until its canary is past the pause (its promotion begun): not done when the abort came first, promoted when the promotion did (it said "promoted" at the take)', async () => {
    const json = (d: Record<string, string>, service: string) => JSON.parse(d[service] as string) as Record<string, unknown>
    const promote = async (timeline: (reads: number, d: Record<string, string>) => void) => {
      const {data, factory} = cluster(timeline, ['web', 'worker'])
      const outcome = await requestRollout('promote', {environment: 'test', service: 'worker', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: factory, reporter: memoryReporter()}).then(
        (r) => r,
        (e: Error) => e,
      )
      return {outcome, data}
    }
    // The deploy takes worker's promote (the last pause left), runs its checks, ends its steps; web's abort is asked
    // only then, and worker is stopped because of it before its promotion begins.
    const aborted = await promote((reads, d) => {
      if (reads === 1) {
        delete d['worker.request']
        d.worker = JSON.stringify({...json(d, 'worker'), phase: 'progressing'})
      }
      if (reads === 2) d.worker = JSON.stringify({...json(d, 'worker'), step: 2})
      if (reads === 3) d.web = JSON.stringify({...json(d, 'web'), aborting: {ref: 'abort web', message: 'aborted by skycap abort during the pause at step 2'}})
      if (reads === 4) d.worker = JSON.stringify({...json(d, 'worker'), phase: 'aborted', weight: 0, message: 'aborted because web failed (abort web), which fails the release'})
    })
    expect(aborted.outcome).to.be.instanceOf(SkycapError)
    expect((aborted.outcome as Error).message).to.match(/^the promote of worker in test was not done: the canary was aborted after all, back to stable/)
    // The promotion begins first: from then on an abort is too late, and the promote was done.
    const promoted = await promote((reads, d) => {
      if (reads === 1) {
        delete d['worker.request']
        d.worker = JSON.stringify({...json(d, 'worker'), phase: 'progressing'})
      }
      if (reads === 2) d.worker = JSON.stringify({...json(d, 'worker'), step: 2})
      if (reads === 3) d.worker = JSON.stringify({...json(d, 'worker'), promoting: true})
    })
    expect(promoted.outcome, String(promoted.outcome)).to.not.be.instanceOf(Error)
    expect(promoted.outcome).to.deep.include({action: 'promote', services: ['worker']})
    expect(json(promoted.data, 'worker')).to.include({promoting: true})
  })

  it('an abort that comes as the promotion began: the canary completes, its request is cleared, and the abort says it was not done and how to go back', async () => {
    const state = (data: Record<string, string>) => JSON.parse(data.web as string) as Record<string, unknown>
    const {data, factory} = cluster((reads, d) => {
      // The holder promotes to the end and clears the request left (its last state write).
      if (reads === 1) {
        delete d['web.request']
        d.web = JSON.stringify({...state(d), phase: 'completed', step: 2, weight: 100})
      }
    })
    const error = await requestRollout('abort', {environment: 'test', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: factory, reporter: memoryReporter()}).then(
      (r) => new Error(`it reported ${JSON.stringify(r)}`),
      (e: Error) => e,
    )
    expect(error, error.message).to.be.instanceOf(SkycapError)
    expect(error.message).to.equal('the abort of web in test was not done: the canary was promoted to the end first (its promotion had begun, or a promote given at the same time came first)')
    expect((error as SkycapError).hint).to.equal('`skycap rollback test` returns the release before it; `skycap history test` shows the releases.')
    expect(data).to.not.have.property('web.request')
  })
})

describe('abort ENV of two canaries a Ctrl-C left, with nobody running the rollout', function () {
  this.timeout(30_000)
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.clusterApp('kind-x', 'shop')
  })
  afterEach(() => repo.remove())

  /**
   * The API server of an app whose web and worker canaries (release 3) wait in a pause, the deploy that ran them gone:
   * the rollout state, the lease, the pending release and the records as kubectl would answer; every call recorded.
   */
  function stoppedRelease() {
    const unit = (service: string) => ({
      service,
      strategy: {type: 'canary', steps: [{setWeight: 50}, {pause: {}}]},
      deployment: deploymentStatus(service, 2),
    })
    const data: Record<string, string> = Object.fromEntries(
      ['web', 'worker'].map((service) => [
        service,
        JSON.stringify({type: 'canary', release: 3, phase: 'paused', step: 1, steps: 2, weight: 50, startedBy: 'a', startedAt: 't', updatedAt: 't', unit: unit(service)}),
      ]),
    )
    const record = {number: 3, app: 'itapp', environment: 'test', action: 'deploy', result: 'interrupted', user: 'a', startedAt: new Date().toISOString(), finishedAt: '', durationMs: 0}
    const pending = gzipSync(JSON.stringify({record, keep: 10})).toString('base64')
    let lease: object | undefined
    const saved: Array<Record<string, unknown>> = []
    const runner: ProcessRunner = async (_file, argv, options) => {
      const args = withoutConnection(argv)
      const ok = (stdout = '') => ({exitCode: 0, stdout, stderr: ''})
      const [verb, what] = args
      if (verb === 'get' && what === 'configmap') return ok(JSON.stringify({data}))
      if (verb === 'patch' && what === 'configmap') {
        for (const [key, value] of Object.entries((JSON.parse(args.at(-1) as string) as {data: Record<string, string | null>}).data)) {
          if (value === null) delete data[key]
          else data[key] = value
        }
        return ok()
      }
      if (verb === 'get' && what === 'lease') return ok(lease ? JSON.stringify(lease) : '')
      if ((verb === 'create' || verb === 'replace') && JSON.parse(options.input as string).kind === 'Lease') {
        lease = JSON.parse(options.input as string)
        return ok()
      }
      if (verb === 'delete' && what === 'lease') {
        lease = undefined
        return ok()
      }
      if (verb === 'get' && what === 'secret') return ok(JSON.stringify({data: {release: pending}}))
      if (verb === 'get' && (what === 'configmaps' || what === 'secrets')) return ok(JSON.stringify({items: []}))
      if (verb === 'get' && what?.startsWith('deployments,')) return ok(JSON.stringify({items: [deploymentStatus('web', 2), deploymentStatus('worker', 2)]}))
      if ((verb === 'create' || verb === 'apply') && options.input) {
        const list = JSON.parse(options.input as string) as {items?: Array<{kind: string; data?: {release?: string}}>}
        for (const item of list.items ?? []) if (item.kind === 'ConfigMap' && item.data?.release) saved.push(JSON.parse(item.data.release))
        return ok()
      }
      if (['scale', 'delete', 'patch'].includes(verb as string)) return ok()
      return {exitCode: 1, stdout: '', stderr: `unexpected: ${args.join(' ')}`}
    }
    return {data, saved, factory: (options: {context?: string; namespace?: string}) => new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, ...options})}
  }

  it('names both aborted canaries in its message, --json and the release record (it named the first alone); each time', async () => {
    for (let round = 1; round <= 3; round++) {
      const {data, saved, factory} = stoppedRelease()
      const reporter = memoryReporter()
      const report = await requestRollout('abort', {environment: 'test', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: factory, reporter})
      const states = Object.fromEntries(['web', 'worker'].map((s) => [s, JSON.parse(data[s] as string) as {phase: string; weight: number}]))
      expect([states.web?.phase, states.worker?.phase], `round ${round}: both returned to stable`).to.deep.equal(['aborted', 'aborted'])
      expect(
        Object.keys(data).filter((k) => k.endsWith('.request')),
        'no request left',
      ).to.deep.equal([])
      expect(report.services).to.deep.equal(['web', 'worker'])
      expect(report.canaries).to.deep.equal({
        web: {phase: 'aborted', message: 'aborted by skycap abort at step 2'},
        worker: {phase: 'aborted', message: 'aborted by skycap abort at step 2'},
      })
      expect(report.message).to.match(/^the canaries of (web, worker|worker, web) in test were aborted by skycap abort at step 2; (web, worker|worker, web) are stable again/)
      expect(reporter.lines.join('\n')).to.contain(report.message)
      const failed = saved.at(-1) as {result: string; message: string; number: number}
      expect(failed).to.include({number: 3, result: 'failed'})
      expect(failed.message).to.match(/^abort (web|worker): aborted by skycap abort at step 2; abort (web|worker): aborted by skycap abort at step 2; the canary was aborted: /)
      expect(failed.message).to.contain('abort web:').and.contain('abort worker:')
    }
  })
})

describe('canariesEnded: what ended the canaries of a release', () => {
  it('names each, those ended for one reason together, in the order they failed', () => {
    const f = (ref: string, message: string) => checkFailure(ref, message)
    expect(canariesEnded([f('abort web', 'aborted by skycap abort at step 1')], 'test')).to.equal('the canary of web in test was aborted by skycap abort at step 1')
    expect(canariesEnded([f('abort web', 'aborted by skycap abort at step 1'), f('abort api', 'aborted by skycap abort at step 1')], 'test')).to.equal(
      'the canaries of web, api in test were aborted by skycap abort at step 1',
    )
    expect(
      canariesEnded(
        [
          f('Deployment/web-canary', 'still not ready'),
          f('abort api', 'aborted because web failed (Deployment/web-canary), which fails the release'),
          f('abort shop', 'aborted by skycap abort at step 2'),
        ],
        'prod',
      ),
    ).to.equal(
      'a canary in prod was aborted: Deployment/web-canary: still not ready; the canary of api in prod was aborted because web failed (Deployment/web-canary), which fails the release; the canary of shop in prod was aborted by skycap abort at step 2',
    )
  })
})

describe('rollout status while a deploy is under way, before its canary starts', function () {
  this.timeout(20_000)
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.clusterApp('kind-x', 'shop')
    const file = join(repo.dir, 'skycap.yaml')
    repo.write('skycap.yaml', readFileSync(file, 'utf8').replace('  web:\n    image: web\n', '  web:\n    strategy: {type: canary, steps: [{setWeight: 50}]}\n    image: web\n'))
    await repo.commit('web is a canary')
  })
  afterEach(() => repo.remove())

  /** The state (web's last canary, release 2, completed) and the lease as the API server has them. */
  function cluster(data: Record<string, string>, lease: {id: string; renewed: number} | undefined, live: Record<string, string> = {}, reads: string[] = []) {
    const runner: ProcessRunner = async (_file, argv) => {
      const args = withoutConnection(argv)
      reads.push(args.slice(0, 3).join(' '))
      if (args[0] === 'get' && args[1] === 'configmap') return {exitCode: 0, stdout: JSON.stringify({data}), stderr: ''}
      // A Deployment and the revision it runs (its skycap.dev/revision annotation).
      if (args[0] === 'get' && args[1] === 'deployment' && live[args[2] as string])
        return {exitCode: 0, stdout: JSON.stringify({metadata: {name: args[2], annotations: {'skycap.dev/revision': live[args[2] as string]}}}), stderr: ''}
      if (args[0] === 'get' && args[1] === 'lease') {
        if (!lease) return {exitCode: 0, stdout: '', stderr: ''}
        const at = new Date(lease.renewed).toISOString()
        const annotations = {'skycap.dev/reason': 'deploy test@abc1234', 'skycap.dev/lock-id': lease.id, 'skycap.dev/held-by': 'command'}
        return {
          exitCode: 0,
          stdout: JSON.stringify({metadata: {name: 'skycap-lock-itapp', annotations}, spec: {holderIdentity: 'ana@ci', leaseDurationSeconds: 60, acquireTime: at, renewTime: at}}),
          stderr: '',
        }
      }
      return {exitCode: 1, stdout: '', stderr: `unexpected: ${args.join(' ')}`}
    }
    return (options: {context?: string; namespace?: string}) => new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, ...options})
  }
  const last = {type: 'canary', release: 2, phase: 'completed', step: 1, steps: 1, weight: 100, startedBy: 'bo', startedAt: 't0', updatedAt: 't1'}
  const deploying = (lockId: string) => JSON.stringify({release: 3, lockId, startedBy: 'ana@ci', startedAt: '2026-12-06T01:00:00.000Z'})
  const status = async (data: Record<string, string>, lease?: {id: string; renewed: number}) =>
    rolloutStatus({environment: 'test', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: cluster(data, lease), reporter: memoryReporter()})

  it('a canary whose promotion failed says its Deployment runs the release until it is rolled back, then what it runs (it said "it runs it" of a release the rollback had undone)', async () => {
    const release = 'b'.repeat(40)
    const unit = {service: 'web', strategy: {type: 'canary'}, deployment: {kind: 'Deployment', metadata: {name: 'web', annotations: {'skycap.dev/revision': release}}}}
    const failed = {...last, release: 3, phase: 'failed', step: 0, weight: 0, promoting: true, message: 'Deployment/web: timed out', unit}
    const shown = async (runs: string | undefined) => {
      const reads: string[] = []
      const report = await rolloutStatus(
        {environment: 'test', configPath: join(repo.dir, 'skycap.yaml')},
        {kubectl: cluster({web: JSON.stringify(failed)}, undefined, runs ? {web: runs} : {}, reads), reporter: memoryReporter()},
      )
      return {report, line: rolloutStatusLines(report).split('\n')[0], reads}
    }
    const before = await shown('a'.repeat(40))
    expect(before.report.services.web).to.include({runsNow: 'a'.repeat(40)})
    expect(before.line).to.equal('web: canary failed, release 3, stopped at step 1/1, while web took the release (rolled back since: web runs aaaaaaa); Deployment/web: timed out')
    const still = await shown(release)
    expect(still.report.services.web).to.not.have.property('runsNow')
    expect(still.line).to.equal('web: canary failed, release 3, stopped at step 1/1, while web took the release (it runs it); Deployment/web: timed out')
    // Unreadable (gone, refused): as the state says.
    expect((await shown(undefined)).line).to.contain('(it runs it)')
    // Read for such a canary alone.
    const completedReads: string[] = []
    const completed = await rolloutStatus(
      {environment: 'test', configPath: join(repo.dir, 'skycap.yaml')},
      {kubectl: cluster({web: JSON.stringify({...last, unit})}, undefined, {web: 'a'.repeat(40)}, completedReads), reporter: memoryReporter()},
    )
    expect(completed.services.web).to.not.have.property('runsNow')
    expect(completedReads.filter((r) => r.startsWith('get deployment'))).to.deep.equal([])
    expect(before.reads.filter((r) => r.startsWith('get deployment'))).to.deep.equal(['get deployment web'])
  })

  it('says the release under way has no canary yet, beside the last one (it showed release 2’s finished canary as current)', async () => {
    const report = await status({web: JSON.stringify(last), 'release.deploying': deploying('L1')}, {id: 'L1', renewed: Date.now()})
    expect(report.deploying).to.deep.equal({release: 3, startedBy: 'ana@ci', startedAt: '2026-12-06T01:00:00.000Z'})
    expect(report.services.web).to.include({type: 'canary', release: 3, phase: 'pending'})
    expect(report.services.web?.last).to.deep.include({release: 2, phase: 'completed', weight: 100})
    expect(rolloutStatusLines(report).split('\n')[0]).to.equal(
      "web: canary pending, release 3 deploying (by ana@ci since 2026-12-06T01:00:00.000Z); no canary of release 3 has started yet (its deploy validates, runs its hooks or applies it); the last canary was release 2's, completed",
    )
    // A first canary: nothing on record before it.
    const first = await status({'release.deploying': deploying('L1')}, {id: 'L1', renewed: Date.now()})
    expect(first.services.web).to.include({release: 3, phase: 'pending'}).and.not.have.property('last')
  })

  it('shows the canary of the release under way once it started, and the last one as it is when no deploy holds the lock (gone, expired, or another command’s)', async () => {
    const started = {...last, release: 3, phase: 'progressing', step: 0, weight: 0}
    const shown = await status({web: JSON.stringify(started), 'release.deploying': deploying('L1')}, {id: 'L1', renewed: Date.now()})
    expect(shown.services.web).to.include({release: 3, phase: 'progressing'})
    for (const lease of [undefined, {id: 'L1', renewed: Date.now() - 120_000}, {id: 'L2', renewed: Date.now()}]) {
      const report = await status({web: JSON.stringify(last), 'release.deploying': deploying('L1')}, lease)
      expect(report.services.web, JSON.stringify(lease)).to.include({release: 2, phase: 'completed'})
      expect(report, JSON.stringify(lease)).to.not.have.property('deploying')
    }
  })

  it('the marker is removed as its deploy ends, by one patch that removes it only while it is that deploy’s; another’s, or none, stays as it is', async () => {
    const mine = {release: 3, lockId: 'L1', startedBy: 'ana@ci', startedAt: '2026-12-06T01:00:00.000Z'}
    const argv = [
      ...['--context', 'kind-x', '--namespace', 'shop', '--request-timeout=30s'],
      ...['patch', 'configmap', 'skycap-rollout-itapp', '--type', 'json', '-p'],
      JSON.stringify([
        {op: 'test', path: '/data/release.deploying', value: deploying('L1')},
        {op: 'remove', path: '/data/release.deploying'},
      ]),
    ]
    // What the API server answers when the test fails (another deploy's marker) or the key is gone; no ConfigMap.
    const invalid = {exitCode: 1, stderr: 'The request is invalid: the server rejected our request due to an error in our request'}
    const missing = {exitCode: 1, stderr: 'Error from server (NotFound): configmaps "skycap-rollout-itapp" not found'}
    for (const [result, removed] of [
      [{}, true],
      [invalid, false],
      [missing, false],
    ] as const) {
      const fake = fakeKubectl([{argv, result}], {context: 'kind-x', namespace: 'shop'})
      expect(await clearDeployUnderWay(fake.kubectl, 'itapp', mine), JSON.stringify(result)).to.equal(removed)
      expect(fake.remaining()).to.equal(0)
    }
    // Anything else is said to the caller (which warns: the deploy goes on).
    const forbidden = fakeKubectl([{argv, result: {exitCode: 1, stderr: 'Error from server (Forbidden): configmaps "skycap-rollout-itapp" is forbidden'}}], {context: 'kind-x', namespace: 'shop'})
    const error = await clearDeployUnderWay(forbidden.kubectl, 'itapp', mine).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).to.be.instanceOf(SkycapError)
  })
})

describe('rollout status of blue-green services whose Service was changed by hand', function () {
  this.timeout(20_000)
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.clusterApp('kind-x', 'shop')
  })
  afterEach(() => repo.remove())

  const state = (activeSlot: string, phase = 'completed', previousSlot?: string) =>
    JSON.stringify({type: 'blueGreen', release: 4, phase, startedBy: 'a', startedAt: 't', updatedAt: 't', activeSlot, ...(previousSlot ? {previousSlot, scaledDown: true} : {})})
  const serviceSelecting = (name: string, slot?: string) => ({kind: 'Service', metadata: {name}, spec: {selector: {'app.kubernetes.io/name': name, ...(slot ? {'skycap.dev/slot': slot} : {})}}})
  const deployment = (name: string) => ({kind: 'Deployment', metadata: {name}, spec: {}})
  /** The state and, for the one read of live objects, `live` (undefined: the read is refused). */
  async function shown(data: Record<string, string>, live: object[] | undefined) {
    const reads: string[][] = []
    const runner: ProcessRunner = async (_file, argv) => {
      const args = withoutConnection(argv)
      if (args[0] === 'get' && args[1] === 'configmap') return {exitCode: 0, stdout: JSON.stringify({data}), stderr: ''}
      if (args[0] === 'get' && args[1] === 'lease') return {exitCode: 0, stdout: '', stderr: ''}
      reads.push(args)
      if (!live) return {exitCode: 1, stdout: '', stderr: 'Error from server (Forbidden): services "web" is forbidden'}
      return {exitCode: 0, stdout: JSON.stringify({kind: 'List', items: live}), stderr: ''}
    }
    const kubectl = (options: {context?: string; namespace?: string}) => new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, ...options})
    const report = await rolloutStatus({environment: 'test', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl, reporter: memoryReporter()})
    return {report, text: rolloutStatusLines(report), reads}
  }

  it('says a Service switched to the other slot, to a slot no Deployment has, or to none, in one read; not one whose switch to the slot coming up is under way, nor when the read is refused', async () => {
    const slots = ['web-blue', 'web-green', 'api-blue', 'api-green', 'cart-blue', 'shop-blue', 'shop-green'].map(deployment)
    const data = {web: state('green', 'completed', 'blue'), api: state('blue'), cart: state('blue'), shop: state('blue', 'progressing', 'green')}
    const {report, text, reads} = await shown(data, [serviceSelecting('web', 'blue'), serviceSelecting('api'), serviceSelecting('cart', 'purple'), serviceSelecting('shop', 'green'), ...slots])
    expect(reads).to.have.length(1)
    expect(reads[0]?.slice(0, 13)).to.have.members(['get', ...['web', 'api', 'cart', 'shop'].flatMap((n) => [`service/${n}`, `deployment/${n}-blue`, `deployment/${n}-green`])])
    expect(report.services.web?.selected).to.deep.equal({
      slot: 'blue',
      note: 'Service web selects web-blue, not web-green as the rollout state says (switched by hand?): web-blue takes the traffic, and status, scale and the next deploy or rollback go by the Service',
    })
    expect(report.services.api?.selected?.slot).to.equal(null)
    expect(report.services.api?.selected?.note).to.match(/^Service api selects no blue-green slot .*; rollout status shows api-blue, the slot the rollout state names/)
    expect(report.services.cart?.selected?.slot).to.equal('purple')
    expect(report.services.cart?.selected?.note).to.contain(
      'Service cart selects skycap.dev/slot=purple (set by hand?), a slot with no Deployment cart-purple: it sends traffic to no pod (the slots that exist are cart-blue)',
    )
    // shop's switch to green, the slot coming up, is under way: not said.
    expect(report.services.shop).to.not.have.property('selected')
    expect(text.split('\n')).to.include(`  warning: ${report.services.web?.selected?.note}`)
    // The recorded slots stay as the state has them.
    expect(report.services.web).to.include({activeSlot: 'green', previousSlot: 'blue'})

    // Agreeing Services, a Service that does not exist, a refused read: nothing said.
    const agreed = await shown({web: state('green'), api: state('blue')}, [serviceSelecting('web', 'green'), ...slots])
    expect(agreed.report.services.web).to.not.have.property('selected')
    expect(agreed.report.services.api).to.not.have.property('selected')
    expect(agreed.text).to.not.contain('warning:')
    const refused = await shown({web: state('green')}, undefined)
    expect(refused.reads).to.have.length(1)
    expect(refused.report.services.web).to.not.have.property('selected')
    // No blue-green service: no read.
    const none = await shown({web: JSON.stringify({type: 'canary', release: 2, phase: 'completed', step: 1, steps: 1, weight: 100, startedBy: 'a', startedAt: 't', updatedAt: 't'})}, [])
    expect(none.reads).to.deep.equal([])
  })
})

describe('promote and abort of a service not in skycap.yaml: a canary left of that name is asked of the cluster once', function () {
  this.timeout(20_000)
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.clusterApp('kind-x', 'shop')
  })
  afterEach(() => repo.remove())

  /** A kubectl whose every call gets `answer`, counting the calls. */
  function answering(answer: {exitCode: number; stdout?: string; stderr?: string}) {
    const calls: string[][] = []
    const runner: ProcessRunner = async (_file, argv) => {
      calls.push(withoutConnection(argv))
      return {stdout: '', stderr: '', ...answer}
    }
    return {calls, factory: (options: {context?: string; namespace?: string}) => new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, ...options})}
  }

  const ask = (action: 'promote' | 'abort', service: string, factory: ReturnType<typeof answering>['factory']) =>
    requestRollout(action, {environment: 'test', service, configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: factory, reporter: memoryReporter()}).then(
      (r) => new Error(`it reported ${JSON.stringify(r)}`),
      (e: Error) => e,
    )

  it('an API server that does not answer: both said (not in skycap.yaml, the cluster not asked, with kubectl\'s reason), exit 4, one call (the retries cost 30 s before "unknown service")', async () => {
    for (const [action, stderr, reason] of [
      ['abort', 'The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?\n', 'the connection to the server 127.0.0.1:1 was refused'],
      ['promote', 'Unable to connect to the server: net/http: TLS handshake timeout\n', 'net/http: TLS handshake timeout'],
    ] as const) {
      const {calls, factory} = answering({exitCode: 1, stderr})
      const error = (await ask(action, 'wrker', factory)) as SkycapError
      expect(calls, action).to.deep.equal([['get', 'configmap', 'skycap-rollout-itapp', '-o', 'json', '--ignore-not-found']])
      expect(error.exitCode, error.message).to.equal(4)
      expect(error.code).to.equal('unreachable')
      expect(error.message).to.equal(
        `unknown service "wrker": it is not in skycap.yaml, and skycap could not ask the cluster of test whether a canary of that name is left from an earlier skycap.yaml: cannot reach the cluster's API server (context kind-x): ${reason}`,
      )
      expect(error.hint).to.match(
        new RegExp(
          `^Did you mean \`worker\`\\? Services of itapp in skycap\\.yaml: web, worker\\. If a canary of wrker is left in test, \`skycap ${action} test wrker\` reaches it once the cluster answers\\. Check that the cluster is up`,
        ),
      )
      expect(error.details).to.deep.include({service: 'wrker', known: ['web', 'worker']})
    }
  })

  it('refused credentials are exit 4 and a forbidden read exit 1, each with both said; a name far from any service gets no suggestion', async () => {
    const refused = (await ask('abort', 'nosuch', answering({exitCode: 1, stderr: 'error: You must be logged in to the server (Unauthorized)\n'}).factory)) as SkycapError
    expect([refused.exitCode, refused.message]).to.deep.equal([
      4,
      'unknown service "nosuch": it is not in skycap.yaml, and skycap could not ask the cluster of test whether a canary of that name is left from an earlier skycap.yaml: the cluster refused your credentials (context kind-x)',
    ])
    expect(refused.hint).to.match(
      /^Services of itapp in skycap\.yaml: web, worker\. If a canary of nosuch is left in test, `skycap abort test nosuch` reaches it once the cluster answers\. Log in again/,
    )
    const forbidden = (await ask(
      'promote',
      'nosuch',
      answering({exitCode: 1, stderr: 'Error from server (Forbidden): configmaps "skycap-rollout-itapp" is forbidden: User "dev" cannot get resource "configmaps"\n'}).factory,
    )) as SkycapError
    expect(forbidden.exitCode).to.equal(1)
    expect(forbidden.message).to.match(
      /^unknown service "nosuch": it is not in skycap\.yaml, and skycap could not ask the cluster of test whether a canary of that name is left from an earlier skycap\.yaml: .*forbidden/,
    )
  })

  it('a cluster that answers without such a canary: exit 2, unknown service with the services and did-you-mean, as before', async () => {
    for (const stdout of ['', JSON.stringify({data: {web: JSON.stringify({type: 'canary', release: 3, phase: 'paused', unit: {service: 'web'}})}})]) {
      const {calls, factory} = answering({exitCode: 0, stdout})
      const error = (await ask('abort', 'wrker', factory)) as SkycapError
      expect(calls).to.have.length(1)
      expect([error.exitCode, error.message, error.hint]).to.deep.equal([2, 'unknown service "wrker"; did you mean "worker"?', 'Services of itapp: web, worker.'])
    }
  })
})
