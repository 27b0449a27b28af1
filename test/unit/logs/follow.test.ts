import {expect} from 'chai'
import {getEventListeners} from 'node:events'
import {join} from 'node:path'
import {PassThrough, Writable} from 'node:stream'

import {watchRollout} from '../../../src/deploy/watch.js'
import {Kubectl, type ProcessRunner, type ProcessSpawner} from '../../../src/kubectl/kubectl.js'
import {streamLogs} from '../../../src/logs/stream.js'
import type {SkycapError} from '../../../src/errors.js'
import type {Reporter} from '../../../src/ui/output.js'
import {fakeKubectlFactory} from '../../helpers/fake-kubectl.js'
import {TempRepo} from '../../helpers/repo.js'

const quiet: Reporter = {info: () => undefined, warn: () => undefined} as unknown as Reporter

const pod = (name: string) => ({
  metadata: {name, labels: {'app.kubernetes.io/name': 'web'}},
  spec: {containers: [{name: 'web'}]},
  status: {containerStatuses: [{name: 'web', state: {running: {}}}]},
})

/** `kubectl logs -f` processes that record their argv and, like execa, end when the signal they were given fires. */
function followers(spawned: string[]): ProcessSpawner {
  return (_file, argv, options) => {
    spawned.push(argv.join(' '))
    const stdout = new PassThrough()
    let finish: () => void = () => undefined
    const done = new Promise<{exitCode: number; stdout: string; stderr: string}>((resolve) => {
      finish = () => {
        stdout.end()
        resolve({exitCode: 0, stdout: '', stderr: ''})
      }
    })
    options.signal?.addEventListener('abort', finish, {once: true})
    return {stdout, done, kill: finish}
  }
}

describe('logs -f: listeners and the signal', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
  })
  after(() => repo.remove())

  it('holds a constant number of abort listeners however many polls run (no MaxListenersExceededWarning)', async () => {
    const POLLS = 40
    const listeners: number[] = []
    const stop = new AbortController()
    const runner: ProcessRunner = async (_file, argv, options) => {
      if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
      expect(argv).to.include.members(['get', 'pods'])
      // Counted at every poll's `kubectl get pods`, on the signal skycap hands to kubectl.
      listeners.push(options.signal ? getEventListeners(options.signal, 'abort').length : -1)
      if (listeners.length === POLLS) stop.abort()
      return {exitCode: 0, stdout: JSON.stringify({items: [pod('web-1'), pod('web-2')]}), stderr: ''}
    }
    const spawned: string[] = []
    const spawner = followers(spawned)
    const out = new Writable({write: (_c, _e, cb) => cb()})
    await streamLogs(
      {services: ['web'], follow: true, configPath: join(repo.dir, 'skycap.yaml'), pollMs: 1},
      {kubectl: (o) => new Kubectl({...o, runner, spawner}), reporter: quiet, out, colour: false, signal: stop.signal},
    )
    expect(spawned, 'one follower per pod, none started after the stop').to.have.length(2)
    expect(listeners).to.have.length(POLLS)
    expect(new Set(listeners.slice(1)), `listeners per poll: ${listeners.join(',')}`).to.have.property('size', 1)
    expect(listeners.at(-1)).to.be.at.most(2)
    expect(getEventListeners(stop.signal, 'abort'), 'the caller’s signal is left as it was').to.have.length(0)
  })

  it('a signal aborted before the streams start: returns without following any pod (skycap up hands it the signal a Ctrl-C during its last phase aborted)', async () => {
    const stop = new AbortController()
    stop.abort()
    const runner: ProcessRunner = async (_file, argv) => {
      if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
      return {exitCode: 0, stdout: JSON.stringify({items: [pod('web-1')]}), stderr: ''}
    }
    const spawned: string[] = []
    const spawner = followers(spawned)
    const out = new Writable({write: (_c, _e, cb) => cb()})
    const streaming = streamLogs(
      {services: ['web'], follow: true, configPath: join(repo.dir, 'skycap.yaml'), pollMs: 1},
      {kubectl: (o) => new Kubectl({...o, runner, spawner}), reporter: quiet, out, colour: false, signal: stop.signal},
    )
    const ended = await Promise.race([streaming.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 3000).unref())])
    expect(ended, 'streamLogs returned').to.equal(true)
    expect(spawned, 'no pod followed').to.deep.equal([])
  })

  it('a signal that aborts while the first pod listing runs: -f ends quietly (its kubectl stopped by the signal was exit 130 for skycap up stopped by down)', async () => {
    const stop = new AbortController()
    const runner: ProcessRunner = async (_file, argv) => {
      if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
      // The signal arrives while kubectl lists the pods, and stops it.
      stop.abort()
      return {exitCode: -1, stdout: '', stderr: '', signal: 'SIGTERM'}
    }
    const spawned: string[] = []
    const out = new Writable({write: (_c, _e, cb) => cb()})
    const run = (follow: boolean) =>
      streamLogs(
        {services: ['web'], follow, configPath: join(repo.dir, 'skycap.yaml'), pollMs: 1},
        {kubectl: (o) => new Kubectl({...o, runner, spawner: followers(spawned)}), reporter: quiet, out, colour: false, signal: stop.signal},
      )
    await run(true)
    expect(spawned, 'no pod followed').to.deep.equal([])
    // Without -f it stays an interruption: the logs asked for were not shown.
    const error = await run(false).catch((e: unknown) => e)
    expect(error).to.have.property('exitCode', 130)
  })
})

describe('logs -f: pods and containers that start while following', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
  })
  after(() => repo.remove())

  it('starts the containers running at the start with --tail, and shows those that start later from their first line', async () => {
    const stop = new AbortController()
    let polls = 0
    const worker = (name: string) => ({...pod(name), metadata: {name, labels: {'app.kubernetes.io/name': 'worker'}}})
    const creating = (p: ReturnType<typeof pod>) => ({...p, status: {containerStatuses: [{name: 'web', state: {waiting: {reason: 'ContainerCreating'}}}]}})
    // Poll 1: web-1 runs, worker-1 is being created. Poll 2: worker-1 runs, and a scale added web-2 and worker-2.
    const runner: ProcessRunner = async (_file, argv) => {
      if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
      polls++
      if (polls === 4) stop.abort()
      const items = polls === 1 ? [pod('web-1'), creating(worker('worker-1'))] : [pod('web-1'), worker('worker-1'), pod('web-2'), worker('worker-2')]
      return {exitCode: 0, stdout: JSON.stringify({items}), stderr: ''}
    }
    const spawned: string[] = []
    await streamLogs(
      {services: ['web', 'worker'], follow: true, tail: 10, configPath: join(repo.dir, 'skycap.yaml'), pollMs: 1},
      {kubectl: (o) => new Kubectl({...o, runner, spawner: followers(spawned)}), reporter: quiet, out: new Writable({write: (_c, _e, cb) => cb()}), colour: false, signal: stop.signal},
    )
    expect(spawned.map((a) => a.slice(a.indexOf(' logs ') + 1)).sort()).to.deep.equal([
      'logs web-1 -c web --timestamps --follow --tail=10',
      'logs web-2 -c web --timestamps --follow',
      'logs worker-1 -c web --timestamps --follow',
      'logs worker-2 -c web --timestamps --follow',
    ])
  })
})

describe('logs --since', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
  })
  after(() => repo.remove())

  it('passes a look-back longer than a wait may be (30 days) to kubectl in seconds', async () => {
    const runner: ProcessRunner = async (_file, argv) => {
      if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
      return {exitCode: 0, stdout: JSON.stringify({items: [pod('web-1')]}), stderr: ''}
    }
    const spawned: string[] = []
    const spawner: ProcessSpawner = (_file, argv) => {
      spawned.push(argv.slice(argv.indexOf('logs')).join(' '))
      const stdout = new PassThrough()
      stdout.end('2026-12-01T00:00:00.000000000Z old line\n')
      // Like a process, done once its output was read.
      const done = new Promise<{exitCode: number; stdout: string; stderr: string}>((resolve) => stdout.once('end', () => resolve({exitCode: 0, stdout: '', stderr: ''})))
      return {stdout, done, kill: () => undefined}
    }
    let out = ''
    const sink = new Writable({write: (c, _e, cb) => ((out += String(c)), cb())})
    await streamLogs({services: ['web'], since: '720h', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: (o) => new Kubectl({...o, runner, spawner}), reporter: quiet, out: sink, colour: false})
    expect(spawned).to.deep.equal(['logs web-1 -c web --timestamps --since=2592000s'])
    expect(out).to.equal('web-1 │ old line\n')
  })
})

describe('logs without -f: container after container', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
  })
  after(() => repo.remove())

  it('keeps each container whole and in order while their kubectl run at once (lines of two pods came interleaved); three rounds, one log larger than what a waiting stream keeps', async () => {
    const ts = (i: number) => `2026-12-01T00:00:${String(i % 60).padStart(2, '0')}.000000000Z`
    const big = 30_000
    for (const round of [1, 2, 3]) {
      const runner: ProcessRunner = async (_file, argv) => {
        if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
        return {exitCode: 0, stdout: JSON.stringify({items: [pod('web-1'), pod('web-2'), pod('web-3')]}), stderr: ''}
      }
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
      // web-1 writes slowly; web-2 at once and ends first; web-3 writes over a MiB at once (its kubectl is paused).
      const scripts: Record<string, (stdout: PassThrough) => Promise<void>> = {
        'web-1': async (stdout) => {
          for (let i = 0; i < 5; i++) {
            stdout.write(`${ts(i)} one ${i}\n`)
            await sleep(5 * round)
          }
        },
        'web-2': async (stdout) => {
          for (let i = 0; i < 5; i++) stdout.write(`${ts(i)} two ${i}\n`)
        },
        'web-3': async (stdout) => {
          const lines: string[] = []
          for (let i = 0; i < big; i++) lines.push(`${ts(i)} three ${i} ${'x'.repeat(40)}\n`)
          stdout.write(lines.join(''))
        },
      }
      const spawner: ProcessSpawner = (_file, argv) => {
        const name = argv[argv.indexOf('logs') + 1] as string
        const stdout = new PassThrough()
        const done = new Promise<{exitCode: number; stdout: string; stderr: string}>((resolve) => stdout.once('end', () => resolve({exitCode: 0, stdout: '', stderr: ''})))
        void (scripts[name] as (s: PassThrough) => Promise<void>)(stdout).then(() => stdout.end())
        return {stdout, done, kill: () => stdout.end()}
      }
      const chunks: string[] = []
      const sink = new Writable({write: (c, _e, cb) => (chunks.push(String(c)), cb())})
      await streamLogs({services: ['web'], configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: (o) => new Kubectl({...o, runner, spawner}), reporter: quiet, out: sink, colour: false})
      const pods = chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.slice(0, l.indexOf(' ')))
      // One run per pod, in the order of the listing: web-1's five lines, web-2's five, then all of web-3's.
      const runs = pods.filter((p, i) => p !== pods[i - 1])
      expect(runs, `round ${round}`).to.deep.equal(['web-1', 'web-2', 'web-3'])
      expect(pods.length, `round ${round}`).to.equal(10 + big)
    }
  })
})

describe('logs: the services named', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
  })
  after(() => repo.remove())

  const sink = () => new Writable({write: (_c, _e, cb) => cb()})
  const DEPLOYMENTS = [
    '--context',
    'it-context',
    '--namespace',
    'it-ns',
    '--request-timeout=30s',
    'get',
    'deployments',
    '-l',
    'app.kubernetes.io/instance=itapp-test,skycap.dev/environment=test',
    '-o',
    'json',
  ]
  const deployment = (service: string) => ({kind: 'Deployment', metadata: {name: service, labels: {'app.kubernetes.io/name': service}}})
  const RECORDS = ['--context', 'it-context', '--namespace', 'it-ns', '--request-timeout=30s', 'get', 'configmaps', '-l', 'skycap.dev/release-of=itapp,skycap.dev/environment=test', '-o', 'json']
  const record = (images: Record<string, string>) => ({
    kind: 'ConfigMap',
    metadata: {name: 'skycap-release-itapp.test-1', labels: {}},
    data: {release: JSON.stringify({number: 1, app: 'itapp', environment: 'test', action: 'deploy', result: 'succeeded', images})},
  })

  it('an unknown service named beside --all is exit 2 with did-you-mean (it used to be ignored), once the cluster has no Deployment of it', async () => {
    const fake = fakeKubectlFactory([
      {argv: DEPLOYMENTS, result: {stdout: JSON.stringify({items: [deployment('web'), deployment('worker')]})}},
      // The services of the release that runs: a Deployment is a service's only when that release has it.
      {argv: RECORDS, result: {stdout: JSON.stringify({items: [record({web: 'web:1', worker: 'worker:1'})]})}},
    ])
    const error = await streamLogs({services: ['wbe'], all: true, configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: fake.factory, reporter: quiet, out: sink(), colour: false}).catch(
      (e: unknown) => e,
    )
    expect((error as Error).message).to.equal('unknown service "wbe"; did you mean "web"?')
    expect((error as {exitCode?: number}).exitCode).to.equal(2)
    expect(fake.remaining()).to.equal(0)
  })

  it("an environment's name where a service goes is exit 2 before any kubectl call", async () => {
    const fake = fakeKubectlFactory([])
    const error = await streamLogs({services: ['test'], configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: fake.factory, reporter: quiet, out: sink(), colour: false}).catch((e: unknown) => e)
    expect((error as {exitCode?: number}).exitCode).to.equal(2)
    expect((error as Error).message).to.match(/^test is an environment, not a service/)
    expect(fake.calls).to.deep.equal([])
  })
})

describe('logs of several services: each service its own filters', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
  })
  after(() => repo.remove())

  it("hides web's DEBUG lines (its logs.exclude) and not worker's, with or without -f, in text and --json", async () => {
    const worker = (name: string) => ({...pod(name), metadata: {name, labels: {'app.kubernetes.io/name': 'worker'}}})
    const lines = ['2026-12-01T00:00:01.000000000Z DEBUG heartbeat 1', '2026-12-01T00:00:02.000000000Z GET /healthz 200', '2026-12-01T00:00:03.000000000Z served\n'].join('\n')
    for (const follow of [false, true])
      for (const json of [false, true]) {
        const stop = new AbortController()
        let polls = 0
        const runner: ProcessRunner = async (_file, argv) => {
          if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
          if (++polls === 3) stop.abort()
          return {exitCode: 0, stdout: JSON.stringify({items: [pod('web-1'), worker('worker-1')]}), stderr: ''}
        }
        const spawner: ProcessSpawner = () => {
          const stdout = new PassThrough()
          stdout.end(lines)
          const done = new Promise<{exitCode: number; stdout: string; stderr: string}>((resolve) => stdout.once('end', () => resolve({exitCode: 0, stdout: '', stderr: ''})))
          return {stdout, done, kill: () => undefined}
        }
        let out = ''
        const sink = new Writable({write: (c, _e, cb) => ((out += String(c)), cb())})
        const summary = await streamLogs(
          {services: ['web', 'worker'], follow, json, configPath: join(repo.dir, 'skycap.yaml'), pollMs: 1},
          {kubectl: (o) => new Kubectl({...o, runner, spawner}), reporter: quiet, out: sink, colour: false, signal: stop.signal},
        )
        const shown = json
          ? out
              .trim()
              .split('\n')
              .map((l) => `${JSON.parse(l).pod} │ ${JSON.parse(l).message}`)
          : out.trim().split('\n')
        expect(shown.sort(), `follow ${follow}, json ${json}`).to.deep.equal(['web-1 │ served', 'worker-1 │ DEBUG heartbeat 1', 'worker-1 │ served'])
        expect(summary.hidden).to.equal(3)
      }
  })
})

describe('logs -f of a crash-looping container', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
  })
  after(() => repo.remove())

  it('shows its lines once, though its stderr line is timestamped before the stdout line above it (it repeated two lines at every poll)', async () => {
    // What kubectl logs answered for a real crashed container (test app, exit 3): the stderr line "fatal" is stamped
    // a few µs before the stdout line written ahead of it. Each -f stream ends at once (the container is dead).
    const lines = [
      '2026-12-02T14:42:48.549424704Z starting skycap test app version=c1 pid=1',
      '2026-12-02T14:42:48.549595698Z config read',
      '2026-12-02T14:42:48.549548478Z fatal: configured to exit 3 at start (version=c1)',
    ]
    for (const json of [false, true]) {
      const stop = new AbortController()
      let polls = 0
      const runner: ProcessRunner = async (_file, argv) => {
        if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
        if (++polls === 8) stop.abort()
        return {exitCode: 0, stdout: JSON.stringify({items: [pod('crash-1')]}), stderr: ''}
      }
      const spawner: ProcessSpawner = (_file, argv) => {
        // As the API server does: --since-time counts in whole seconds, so the same second comes back.
        const since = argv.find((a) => a.startsWith('--since-time='))?.slice(13, 32)
        const stdout = new PassThrough()
        stdout.end(`${lines.filter((l) => !since || l.slice(0, 19) >= since).join('\n')}\n`)
        const done = new Promise<{exitCode: number; stdout: string; stderr: string}>((resolve) => stdout.once('end', () => resolve({exitCode: 0, stdout: '', stderr: ''})))
        return {stdout, done, kill: () => undefined}
      }
      let out = ''
      const sink = new Writable({write: (c, _e, cb) => ((out += String(c)), cb())})
      await streamLogs(
        {services: ['web'], follow: true, tail: 10, json, configPath: join(repo.dir, 'skycap.yaml'), pollMs: 1},
        {kubectl: (o) => new Kubectl({...o, runner, spawner}), reporter: quiet, out: sink, colour: false, signal: stop.signal},
      )
      const messages = json
        ? out
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l).message)
        : out
            .trim()
            .split('\n')
            .map((l) => l.split(' │ ')[1])
      expect(messages, `json ${json}`).to.deep.equal(['starting skycap test app version=c1 pid=1', 'config read', 'fatal: configured to exit 3 at start (version=c1)'])
      expect(polls).to.equal(8)
    }
  })
})

describe('rollout watch: listeners', () => {
  it('removes its sleep listener after every poll', async () => {
    const POLLS = 30
    const signal = new AbortController().signal
    const counts: number[] = []
    let now = 0
    const runner: ProcessRunner = async (_file, _argv, options) => {
      counts.push(getEventListeners(options.signal as AbortSignal, 'abort').length)
      now += 1000
      return {exitCode: 0, stdout: '{"items":[]}', stderr: ''}
    }
    const r = await watchRollout({
      kubectl: new Kubectl({runner}),
      objects: [{apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'web'}}],
      selector: 'app=x',
      deadline: POLLS * 1000,
      clock: () => now,
      intervalMs: 0,
      signal,
    })
    expect(r.outcome).to.equal('timeout')
    expect(counts).to.have.length(POLLS)
    expect(new Set(counts)).to.deep.equal(new Set([0]))
    expect(getEventListeners(signal, 'abort')).to.have.length(0)
  })
})

describe('logs without -f: a pod deleted between the listing and its logs', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
  })
  after(() => repo.remove())

  /** Lists web-old and web-new; web-old's logs answer `stderr` with exit 1, as kubectl does. */
  async function logsWith(stderr: string, failing = ['web-old']): Promise<{warnings: string[]; out: string}> {
    const runner: ProcessRunner = async (_file, argv) => {
      if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
      return {exitCode: 0, stdout: JSON.stringify({items: [pod('web-old'), pod('web-new')]}), stderr: ''}
    }
    const spawner: ProcessSpawner = (_file, argv) => {
      const stdout = new PassThrough()
      const gone = failing.some((name) => argv.includes(name))
      if (!gone) stdout.write('2026-12-01T00:00:00.000000000Z serving\n')
      stdout.end()
      // Like a process, done once its output was read.
      const done = new Promise<{exitCode: number; stdout: string; stderr: string}>((resolve) => stdout.once('end', () => resolve({exitCode: gone ? 1 : 0, stdout: '', stderr: gone ? stderr : ''})))
      return {stdout, done, kill: () => undefined}
    }
    const warnings: string[] = []
    const reporter = {info: () => undefined, warn: (m: string) => warnings.push(m)} as unknown as Reporter
    let out = ''
    const sink = new Writable({
      write: (c, _e, cb) => {
        out += String(c)
        cb()
      },
    })
    await streamLogs({services: ['web'], follow: false, configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: (o) => new Kubectl({...o, runner, spawner}), reporter, out: sink, colour: false})
    return {warnings, out}
  }

  it('skips the deleted pod quietly and shows the others', async () => {
    const r = await logsWith('Error from server (NotFound): pods "web-old" not found\n')
    expect(r.warnings).to.deep.equal([])
    expect(r.out).to.contain('serving')
  })

  it('still warns about any other failure to read a pod’s logs', async () => {
    const r = await logsWith('Error from server (BadRequest): container "web" in pod "web-old" is waiting to start: ContainerCreating\n')
    expect(r.warnings).to.have.length(1)
    expect(r.warnings[0]).to.contain('web-old/web').and.contain('waiting to start')
    expect(r.out).to.contain('serving')
  })

  // kwok's pods (and a kubelet that lost its log files) answer "no logs found" for every container: it was a warning
  // each, nothing on stdout, and exit 0.
  it('fails (exit 1) when no container’s log could be read, naming the first error; a pod gone too is no exception', async () => {
    for (const stderr of ['Error from server (BadRequest): no logs found for container "web"\n', 'Error from server (NotFound): pods "web-old" not found\n']) {
      const error = await logsWith(stderr, ['web-old', 'web-new']).then(
        () => undefined,
        (e: unknown) => e as {message: string; exitCode: number; hint?: string},
      )
      if (stderr.includes('NotFound')) {
        // Both pods gone between the listing and their logs: nothing to read, and nothing failed to be read.
        expect(error).to.equal(undefined)
        continue
      }
      expect(error?.exitCode).to.equal(1)
      expect(error?.message).to.equal('no log of web in test could be read: Error from server (BadRequest): no logs found for container "web"')
      expect(error?.hint).to.contain('skycap status test')
    }
  })
})

describe('logs -f: --container and --previous', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
  })
  after(() => repo.remove())

  /** A follower that prints `lines` and ends (exit 1 with `stderr` when given), as kubectl logs --previous does. */
  function ending(spawned: string[], answer: (argv: string[]) => {lines: string; exitCode: number; stderr: string}): ProcessSpawner {
    return (_file, argv) => {
      spawned.push(argv.join(' '))
      const {lines, exitCode, stderr} = answer(argv)
      const stdout = new PassThrough()
      stdout.end(lines)
      return {stdout, done: Promise.resolve({exitCode, stdout: '', stderr}), kill: () => undefined}
    }
  }

  it('-f with a container no pod has is exit 2 at once, as without -f (it used to wait silently forever)', async () => {
    const runner: ProcessRunner = async (_file, argv) => {
      if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
      return {exitCode: 0, stdout: JSON.stringify({items: [pod('web-1')]}), stderr: ''}
    }
    const spawned: string[] = []
    const error = await streamLogs(
      {services: ['web'], follow: true, container: 'nope', configPath: join(repo.dir, 'skycap.yaml'), pollMs: 1},
      {
        kubectl: (o) => new Kubectl({...o, runner, spawner: ending(spawned, () => ({lines: '', exitCode: 0, stderr: ''}))}),
        reporter: quiet,
        out: new Writable({write: (_c, _e, cb) => cb()}),
        colour: false,
      },
    ).catch((e: unknown) => e)
    expect((error as Error).message).to.equal('no pod of web has a container "nope"')
    expect((error as {exitCode?: number}).exitCode).to.equal(2)
    expect(spawned).to.deep.equal([])
  })

  it('-f with a container that the pods appearing later lack is exit 2 once they appear (it used to wait silently forever)', async () => {
    // No pod at the start (scaled to 0); from the third poll on, pods of web and worker that have no container "nope".
    let polls = 0
    const runner: ProcessRunner = async (_file, argv) => {
      if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
      // Why no pod runs at the start (said with the "waiting" line): the services' workloads, scaled to 0.
      if (argv.includes('deployments,statefulsets')) return {exitCode: 0, stdout: JSON.stringify({items: [{kind: 'Deployment', spec: {replicas: 0}}]}), stderr: ''}
      if (argv.includes('namespace')) return {exitCode: 0, stdout: 'namespace/it-ns\n', stderr: ''}
      polls++
      // A safety stop for the code before the fix: it never ends on its own.
      if (polls > 50) throw new Error('still polling after 50 polls')
      const worker = {...pod('worker-1'), metadata: {name: 'worker-1', labels: {'app.kubernetes.io/name': 'worker'}}}
      return {exitCode: 0, stdout: JSON.stringify({items: polls >= 3 ? [pod('web-1'), worker] : []}), stderr: ''}
    }
    const spawned: string[] = []
    const error = await streamLogs(
      {services: ['web', 'worker'], follow: true, container: 'nope', configPath: join(repo.dir, 'skycap.yaml'), pollMs: 1},
      {
        kubectl: (o) => new Kubectl({...o, runner, spawner: ending(spawned, () => ({lines: '', exitCode: 0, stderr: ''}))}),
        reporter: quiet,
        out: new Writable({write: (_c, _e, cb) => cb()}),
        colour: false,
      },
    ).catch((e: unknown) => e)
    expect((error as Error).message).to.equal('no pod of web, worker has a container "nope"')
    expect((error as {exitCode?: number}).exitCode).to.equal(2)
    expect((error as {hint?: string}).hint).to.equal('Containers: web.')
    expect(polls, 'stopped at the first poll that listed pods').to.equal(3)
    expect(spawned).to.deep.equal([])
  })

  it('-f --previous reads each previous container once (again after a new restart), and warns once for a pod without one', async () => {
    const stop = new AbortController()
    let polls = 0
    // web-1 restarted once, then (from the 6th poll) a second time; web-2 never did.
    const withRestarts = (name: string, restarts: number) => ({
      ...pod(name),
      status: {containerStatuses: [{name: 'web', state: {running: {}}, restartCount: restarts, ...(restarts ? {lastState: {terminated: {exitCode: 2}}} : {})}]},
    })
    const runner: ProcessRunner = async (_file, argv) => {
      if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
      polls++
      if (polls === 10) stop.abort()
      return {exitCode: 0, stdout: JSON.stringify({items: [withRestarts('web-1', polls >= 6 ? 2 : 1), withRestarts('web-2', 0)]}), stderr: ''}
    }
    const spawned: string[] = []
    const spawner = ending(spawned, (argv) =>
      argv.includes('web-2')
        ? {lines: '', exitCode: 1, stderr: 'Error from server (BadRequest): previous terminated container "web" in pod "web-2" not found\n'}
        : {lines: `2026-01-01T00:00:0${spawned.length}Z crashed ${spawned.length}\n`, exitCode: 0, stderr: ''},
    )
    const warnings: string[] = []
    const reporter = {info: () => undefined, warn: (m: string) => warnings.push(m)} as unknown as Reporter
    const out: string[] = []
    await streamLogs(
      {services: ['web'], follow: true, previous: true, configPath: join(repo.dir, 'skycap.yaml'), pollMs: 1},
      {kubectl: (o) => new Kubectl({...o, runner, spawner}), reporter, out: new Writable({write: (c, _e, cb) => (out.push(String(c)), cb())}), colour: false, signal: stop.signal},
    )
    expect(spawned.map((a) => a.split(' ').find((w) => w.startsWith('web-')))).to.deep.equal(['web-1', 'web-2', 'web-1'])
    expect(warnings).to.deep.equal(['web-2/web has no previous (crashed) container to show'])
  })

  it('--previous without -f: no container with an earlier run anywhere is exit 1, saying so; one with it is shown', async () => {
    for (const restarted of [[], ['web-1']]) {
      const runner: ProcessRunner = async (_file, argv) => {
        if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
        return {exitCode: 0, stdout: JSON.stringify({items: [pod('web-1'), pod('web-2')]}), stderr: ''}
      }
      // Done once its output was read, as a process is (without -f skycap ends when every kubectl has ended).
      const spawner: ProcessSpawner = (_file, argv) => {
        const shown = restarted.some((name) => argv.includes(name))
        const stdout = new PassThrough()
        const done = new Promise<{exitCode: number; stdout: string; stderr: string}>((resolve) =>
          stdout.once('end', () =>
            resolve(
              shown
                ? {exitCode: 0, stdout: '', stderr: ''}
                : {exitCode: 1, stdout: '', stderr: `Error from server (BadRequest): previous terminated container "web" in pod "${argv.find((a) => a.startsWith('web-'))}" not found\n`},
            ),
          ),
        )
        stdout.end(shown ? '2026-01-01T00:00:00.000000000Z crashed\n' : '')
        return {stdout, done, kill: () => undefined}
      }
      const out: string[] = []
      const outcome = await streamLogs(
        {services: ['web'], previous: true, configPath: join(repo.dir, 'skycap.yaml')},
        {kubectl: (o) => new Kubectl({...o, runner, spawner}), reporter: quiet, out: new Writable({write: (c, _e, cb) => (out.push(String(c)), cb())}), colour: false},
      ).then(
        () => 'shown',
        (e: {message: string; exitCode: number}) => `${e.exitCode}: ${e.message}`,
      )
      expect(outcome).to.equal(restarted.length ? 'shown' : '1: no container of web in test has a previous (crashed) run to show')
      expect(out.join('').includes('crashed'), JSON.stringify(out)).to.equal(restarted.length > 0)
    }
  })

  it('no pods and no namespace: nothing was deployed there, exit 2 as scale and lock say it; no pods in a namespace that exists: exit 1, saying whether it is scaled to 0 or not deployed', async () => {
    const deployment = (replicas: number) => ({metadata: {labels: {'app.kubernetes.io/name': 'web'}}, spec: {replicas}})
    for (const [namespace, workloads, exitCode, said, hint] of [
      ['', [], 2, 'no logs of web in test: its namespace it-ns does not exist yet (nothing was deployed there)', undefined],
      ['namespace/it-ns\n', [], 1, 'no pods of web in test (namespace it-ns): web is not deployed', 'Deploy it first: skycap deploy test@<revision>.'],
      ['namespace/it-ns\n', [deployment(0)], 1, 'no pods of web in test (namespace it-ns): web is scaled to 0', 'Scale it up first: skycap scale web 1 -e test.'],
      [
        'namespace/it-ns\n',
        [deployment(2)],
        1,
        'no pods of web in test (namespace it-ns): web has no pod running yet',
        '`skycap status test` shows its replicas; `skycap logs web -f -e test` waits for pods.',
      ],
      // Workloads that cannot be read: said as before.
      ['namespace/it-ns\n', undefined, 1, 'no pods of web in test (namespace it-ns)', 'Not deployed, or scaled to 0? `skycap status test` shows its replicas.'],
      // Rights that end at the namespace: namespaces cannot be read, and it is said as before.
      [undefined, [], 1, 'no pods of web in test (namespace it-ns): web is not deployed', undefined],
    ] as const) {
      const runner: ProcessRunner = async (_file, argv) => {
        if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
        if (argv.includes('namespace') && namespace === undefined) {
          return {exitCode: 1, stdout: '', stderr: 'Error from server (Forbidden): namespaces "it-ns" is forbidden: User "nobody" cannot get resource "namespaces"'}
        }
        if (argv.includes('namespace')) return {exitCode: 0, stdout: namespace ?? '', stderr: ''}
        if (argv.includes('deployments,statefulsets')) {
          return workloads ? {exitCode: 0, stdout: JSON.stringify({items: workloads}), stderr: ''} : {exitCode: 1, stdout: '', stderr: 'Error from server (Forbidden): deployments.apps is forbidden'}
        }
        return {exitCode: 0, stdout: JSON.stringify({items: []}), stderr: ''}
      }
      const out = new Writable({write: (_c, _e, cb) => cb()})
      const error = (await streamLogs({services: ['web'], configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: (o) => new Kubectl({...o, runner}), reporter: quiet, out, colour: false}).then(
        () => undefined,
        (e: unknown) => e,
      )) as SkycapError
      expect(error.message).to.equal(said)
      expect(error.exitCode).to.equal(exitCode)
      if (hint) expect(error.hint).to.equal(hint)
    }
  })
  it('-f in an environment whose namespace does not exist: exit 2 as without -f (it said "waiting for some" and waited for ever)', async () => {
    let lists = 0
    const runner: ProcessRunner = async (_file, argv) => {
      if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
      if (argv.includes('namespace')) return {exitCode: 0, stdout: '', stderr: ''}
      if (argv.includes('deployments,statefulsets')) return {exitCode: 0, stdout: JSON.stringify({items: []}), stderr: ''}
      // A safety stop for the code before the fix: it never ends on its own.
      if (++lists > 20) throw new Error('still polling after 20 polls')
      return {exitCode: 0, stdout: JSON.stringify({items: []}), stderr: ''}
    }
    const error = (await streamLogs(
      {services: ['web'], follow: true, configPath: join(repo.dir, 'skycap.yaml'), pollMs: 1},
      {kubectl: (o) => new Kubectl({...o, runner}), reporter: quiet, out: new Writable({write: (_c, _e, cb) => cb()}), colour: false},
    ).catch((e: unknown) => e)) as SkycapError
    expect(error.message).to.equal('no logs of web in test: its namespace it-ns does not exist yet (nothing was deployed there)')
    expect(error.exitCode).to.equal(2)
    expect(lists).to.equal(1)
  })
})

describe('logs -f past --max-log-requests', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
  })
  after(() => repo.remove())

  it('shares the streams by service: each service one before any gets a second (a pod of two containers took both and left worker unfollowed)', async () => {
    const stop = new AbortController()
    const web = {
      metadata: {name: 'web-1', labels: {'app.kubernetes.io/name': 'web'}},
      spec: {containers: [{name: 'web'}, {name: 'proxy'}]},
      status: {
        containerStatuses: [
          {name: 'web', state: {running: {}}},
          {name: 'proxy', state: {running: {}}},
        ],
      },
    }
    const worker = {
      metadata: {name: 'worker-1', labels: {'app.kubernetes.io/name': 'worker'}},
      spec: {containers: [{name: 'worker'}]},
      status: {containerStatuses: [{name: 'worker', state: {running: {}}}]},
    }
    let polls = 0
    const runner: ProcessRunner = async (_file, argv) => {
      if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
      if (++polls === 3) stop.abort()
      return {exitCode: 0, stdout: JSON.stringify({items: [web, worker]}), stderr: ''}
    }
    const spawned: string[] = []
    const warnings: string[] = []
    const reporter = {info: () => undefined, warn: (m: string) => warnings.push(m)} as unknown as Reporter
    await streamLogs(
      {services: ['web', 'worker'], follow: true, maxStreams: 2, configPath: join(repo.dir, 'skycap.yaml'), pollMs: 1},
      {kubectl: (o) => new Kubectl({...o, runner, spawner: followers(spawned)}), reporter, out: new Writable({write: (_c, _e, cb) => cb()}), colour: false, signal: stop.signal},
    )
    expect(
      spawned.map((a) =>
        a
          .split(' ')
          .slice(a.split(' ').indexOf('logs') + 1, a.split(' ').indexOf('logs') + 4)
          .join(' '),
      ),
    ).to.deep.equal(['web-1 -c web', 'worker-1 -c worker'])
    expect(warnings).to.deep.equal(['more than 2 log streams; not following 1 of web (name fewer services, narrow with --container, or raise --max-log-requests)'])
  })
  it("-f says on stderr when a pod's stream starts and ends after the first set, as stern does (it never said), and not under --json", async () => {
    for (const json of [false, true]) {
      const stop = new AbortController()
      let polls = 0
      // web-1 at the start; web-2 from the 3rd poll; web-1 gone from the 6th.
      const runner: ProcessRunner = async (_file, argv) => {
        if (argv.includes('get-contexts')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
        if (++polls === 9) stop.abort()
        const items = [...(polls < 6 ? [pod('web-1')] : []), ...(polls >= 3 ? [pod('web-2')] : [])]
        return {exitCode: 0, stdout: JSON.stringify({items}), stderr: ''}
      }
      const said: string[] = []
      const reporter = {info: (m: string) => said.push(m), warn: (m: string) => said.push(`warning: ${m}`)} as unknown as Reporter
      // web-2's container has ended: its kubectl logs -f ends at once, exit 0.
      const follow = followers([])
      const spawner: ProcessSpawner = (file, argv, options) => {
        if (!argv.includes('web-2')) return follow(file, argv, options)
        const stdout = new PassThrough()
        stdout.end()
        return {stdout, done: Promise.resolve({exitCode: 0, stdout: '', stderr: ''}), kill: () => undefined}
      }
      let out = ''
      await streamLogs(
        {services: ['web'], follow: true, json, configPath: join(repo.dir, 'skycap.yaml'), pollMs: 1},
        {kubectl: (o) => new Kubectl({...o, runner, spawner}), reporter, out: new Writable({write: (c, _e, cb) => ((out += String(c)), cb())}), colour: false, signal: stop.signal},
      )
      // web-2's container ended once: said once, though its stream is started again at every poll.
      expect(said, `json: ${json}`).to.deep.equal(json ? [] : ['+ web-2 › web', '- web-2 › web (container ended)', '- web-1 › web (pod gone)'])
      expect(out).to.equal('')
    }
  })
})
