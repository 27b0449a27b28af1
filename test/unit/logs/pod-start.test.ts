import {expect} from 'chai'
import {join} from 'node:path'
import {PassThrough, Writable} from 'node:stream'

import type {SkycapError} from '../../../src/errors.js'
import {Kubectl, type ProcessRunner, type ProcessSpawner} from '../../../src/kubectl/kubectl.js'
import {streamLogs, type LogsOptions} from '../../../src/logs/stream.js'
import type {Reporter} from '../../../src/ui/output.js'
import {TempRepo} from '../../helpers/repo.js'

const labels = (service: string) => ({'app.kubernetes.io/name': service})

/** worker-1, stuck in its init container migrate, which exits 1 and is restarted (Init:CrashLoopBackOff). */
const initFailing = {
  metadata: {name: 'worker-1', labels: labels('worker')},
  spec: {initContainers: [{name: 'migrate'}], containers: [{name: 'worker'}]},
  status: {
    phase: 'Pending',
    initContainerStatuses: [{name: 'migrate', state: {waiting: {reason: 'CrashLoopBackOff'}}, lastState: {terminated: {exitCode: 1, reason: 'Error'}}, restartCount: 3}],
    containerStatuses: [{name: 'worker', state: {waiting: {reason: 'PodInitializing'}}}],
  },
}

/** worker-1, which the scheduler cannot place. */
const unschedulable = {
  metadata: {name: 'worker-1', labels: labels('worker')},
  spec: {containers: [{name: 'worker'}]},
  status: {
    phase: 'Pending',
    conditions: [{type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 node(s) had untolerated taint.'}],
  },
}

const webRunning = {
  metadata: {name: 'web-1', labels: labels('web')},
  spec: {containers: [{name: 'web'}]},
  status: {phase: 'Running', containerStatuses: [{name: 'web', state: {running: {}}}]},
}

describe('logs: pods that have not started', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
  })
  after(() => repo.remove())

  /**
   * Runs logs against `pods` (a function of the poll's number: what changes while -f follows); every kubectl logs
   * prints two lines of its container and ends (with -f after 5 polls).
   */
  async function logs(options: Partial<LogsOptions>, listed: object[] | ((poll: number) => object[])) {
    const pods = typeof listed === 'function' ? listed : () => listed
    const stop = new AbortController()
    let polls = 0
    const runner: ProcessRunner = async (_file, argv) => {
      if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
      if (argv.includes('namespace')) return {exitCode: 0, stdout: 'namespace/it-ns\n', stderr: ''}
      if (++polls >= 5) stop.abort()
      return {exitCode: 0, stdout: JSON.stringify({items: pods(polls)}), stderr: ''}
    }
    const spawned: string[] = []
    const spawner: ProcessSpawner = (_file, argv) => {
      spawned.push(argv.slice(argv.indexOf('logs')).join(' '))
      const container = argv[argv.indexOf('-c') + 1]
      const stdout = new PassThrough()
      stdout.end(`2026-12-01T00:00:01.000000000Z ${container} line 1\n2026-12-01T00:00:02.000000000Z ${container} line 2\n`)
      return {stdout, done: new Promise((resolve) => stdout.once('end', () => resolve({exitCode: 0, stdout: '', stderr: ''}))), kill: () => undefined}
    }
    const said: string[] = []
    const reporter = {info: (m: string) => said.push(`info: ${m}`), warn: (m: string) => said.push(`warning: ${m}`)} as unknown as Reporter
    let out = ''
    const sink = new Writable({write: (c, _e, cb) => ((out += String(c)), cb())})
    const error = await streamLogs(
      {services: ['worker'], configPath: join(repo.dir, 'skycap.yaml'), environment: 'test', pollMs: 1, ...options},
      {kubectl: (o) => new Kubectl({...o, runner, spawner}), reporter, out: sink, colour: false, signal: stop.signal},
    ).then(
      () => undefined,
      (e: unknown) => e as SkycapError,
    )
    return {error, spawned, said, out}
  }

  it('a pod stuck in a failing init container: its lines, prefixed with it, and a warning naming it with the command that shows it alone (it said "container worker is waiting to start: PodInitializing")', async () => {
    const r = await logs({}, [initFailing])
    expect(r.error).to.equal(undefined)
    expect(r.spawned).to.deep.equal(['logs worker-1 -c migrate --timestamps'])
    expect(r.out).to.equal('worker-1 migrate │ migrate line 1\nworker-1 migrate │ migrate line 2\n')
    expect(r.said).to.deep.equal([
      'warning: worker-1 of worker has not started: its init container migrate failed (3 restarts); its lines follow (`skycap logs worker -c migrate -p -e test` shows the run before)',
    ])
  })

  it('-f: the same, followed (it said nothing)', async () => {
    // Restarted again from the 3rd poll: said once all the same, not at each restart's count.
    const restarted = {...initFailing, status: {...initFailing.status, initContainerStatuses: [{...initFailing.status.initContainerStatuses[0], restartCount: 4}]}}
    const r = await logs({follow: true, tail: 10}, (poll) => [poll >= 3 ? restarted : initFailing])
    expect(r.error).to.equal(undefined)
    expect(r.spawned[0]).to.equal('logs worker-1 -c migrate --timestamps --follow --tail=10')
    expect(r.out).to.equal('worker-1 migrate │ migrate line 1\nworker-1 migrate │ migrate line 2\n')
    expect(r.said.filter((s) => s.includes('init container'))).to.have.length(1)
  })

  it('-c and -p -c take an init container (they were exit 2, "no pod of worker has a container"), and -c of none lists them marked as init', async () => {
    const c = await logs({container: 'migrate'}, [initFailing])
    expect(c.error).to.equal(undefined)
    expect(c.spawned).to.deep.equal(['logs worker-1 -c migrate --timestamps'])
    expect(c.out).to.contain('worker-1 migrate │ migrate line 1')
    const p = await logs({container: 'migrate', previous: true}, [initFailing])
    expect(p.error).to.equal(undefined)
    expect(p.spawned).to.deep.equal(['logs worker-1 -c migrate --timestamps --previous'])
    // -c of the container that waits for it: exit 1 as no pod running, saying what holds it up.
    const waiting = await logs({container: 'worker'}, [initFailing])
    expect(waiting.spawned).to.deep.equal([])
    expect(waiting.error?.message).to.equal(
      'no pods of worker running in test (namespace it-ns): worker-1 of worker has not started: its init container migrate failed (`skycap logs worker -c migrate -e test` shows it)',
    )
    const none = await logs({container: 'nope'}, [initFailing])
    expect(none.error?.message).to.equal('no pod of worker has a container "nope"')
    expect(none.error?.hint).to.equal('Containers: worker, migrate (init).')
  })

  it('a Pending pod is said with the scheduler\'s reason, and is exit 1 as "no pod running yet" when no pod has logs (it printed nothing, exit 0)', async () => {
    const r = await logs({}, [unschedulable])
    expect(r.spawned).to.deep.equal([])
    expect(r.error?.message).to.equal(
      'no pods of worker running in test (namespace it-ns): worker-1 of worker has not started: Pending (Unschedulable: 0/1 nodes are available: 1 node(s) had untolerated taint.)',
    )
    expect(r.error?.exitCode).to.equal(1)
  })

  it('beside a service that runs: its lines, and a warning for the Pending pod, exit 0; -f says it once (it said nothing)', async () => {
    const r = await logs({services: ['web', 'worker']}, [webRunning, unschedulable])
    expect(r.error).to.equal(undefined)
    expect(r.spawned).to.deep.equal(['logs web-1 -c web --timestamps'])
    expect(r.said).to.deep.equal(['warning: worker-1 of worker has not started: Pending (Unschedulable: 0/1 nodes are available: 1 node(s) had untolerated taint.)'])
    const f = await logs({follow: true}, [unschedulable])
    expect(f.error).to.equal(undefined)
    expect(f.spawned).to.deep.equal([])
    expect(f.said).to.deep.equal(['warning: worker-1 of worker has not started: Pending (Unschedulable: 0/1 nodes are available: 1 node(s) had untolerated taint.)'])
  })

  it('a container waiting on its image: the reason', async () => {
    const pod = {...unschedulable, status: {phase: 'Pending', containerStatuses: [{name: 'worker', state: {waiting: {reason: 'ImagePullBackOff', message: 'Back-off pulling image "worker:nope"'}}}]}}
    const r = await logs({}, [pod])
    expect(r.error?.message).to.equal(
      'no pods of worker running in test (namespace it-ns): worker-1 of worker has not started: container worker is waiting (ImagePullBackOff: Back-off pulling image "worker:nope")',
    )
  })
})
