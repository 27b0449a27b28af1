import {expect} from 'chai'
import {execa} from 'execa'
import {chmodSync, existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'

import {Kubectl} from '../../../src/kubectl/kubectl.js'
import {portForward} from '../../../src/tasks/port-forward.js'
import type {Reporter} from '../../../src/ui/output.js'
import {TempRepo} from '../../helpers/repo.js'

const pod = (name: string, created: string, state: 'ready' | 'not ready' | 'terminating' = 'ready') => ({
  kind: 'Pod',
  metadata: {name, creationTimestamp: created, ...(state === 'terminating' ? {deletionTimestamp: '2026-12-06T00:00:00Z'} : {})},
  spec: {containers: [{name: 'web', ports: [{name: 'http', containerPort: 9090}]}]},
  status: {conditions: [{type: 'Ready', status: state === 'not ready' ? 'False' : 'True'}]},
})

/**
 * A kubectl program: the pods of web are what `pods.json` in `dir` says as it changes; `get pod NAME --watch` prints
 * that pod whenever it changes (and fails NotFound once it is gone); port-forward runs until stopped. Each process
 * writes `PID what` to `log` (and `PID stopping what` when stopped, 300 ms before it exits); with a file `slow`, a pod
 * listing takes 3 s; with a file `forbidden`, the watch is refused.
 */
function kubectlProgram(dir: string): string {
  const path = join(dir, 'fake-kubectl.mjs')
  const service = {kind: 'Service', metadata: {name: 'web'}, spec: {ports: [{port: 8080, targetPort: 'http'}]}}
  writeFileSync(
    path,
    `#!/usr/bin/env node
import fs from 'node:fs'
const dir = ${JSON.stringify(dir)}
const a = process.argv.slice(2)
const log = (what) => fs.appendFileSync(dir + '/log', process.pid + ' ' + what + '\\n')
const pods = () => JSON.parse(fs.readFileSync(dir + '/pods.json', 'utf8'))
const out = (o) => process.stdout.write(JSON.stringify(o))
// Stopped, it takes a moment to exit (kubectl closes its connections), and says so first.
const stoppable = (what) =>
  process.on('SIGTERM', () => {
    log('stopping ' + what)
    setTimeout(() => process.exit(143), 300)
  })
if (a.includes('get-contexts') || a.includes('current-context')) process.stdout.write('it-context\\n')
else if (a.includes('services')) out({items: [${JSON.stringify(service)}]})
else if (a.includes('pods')) {
  log('list')
  if (fs.existsSync(dir + '/slow')) {
    stoppable('list')
    await new Promise((r) => setTimeout(r, 3000))
  }
  out({items: pods()})
} else if (a.includes('deployments,statefulsets')) out({items: [{spec: {replicas: 2}}]})
else if (a.includes('--watch')) {
  const name = a[a.indexOf('pod') + 1]
  log('watch ' + name)
  if (fs.existsSync(dir + '/forbidden')) {
    process.stderr.write('Error from server (Forbidden): pods "' + name + '" is forbidden: User "dev" cannot watch resource "pods"\\n')
    process.exit(1)
  }
  stoppable('watch ' + name)
  let last = ''
  const tick = () => {
    const p = pods().find((p) => p.metadata.name === name)
    if (!p) {
      process.stderr.write('Error from server (NotFound): pods "' + name + '" not found\\n')
      process.exit(1)
    }
    const text = JSON.stringify(p, null, 4)
    if (text !== last) process.stdout.write(text + '\\n')
    last = text
  }
  tick()
  setInterval(tick, 50)
} else if (a.includes('service')) out(${JSON.stringify(service)})
else if (a.includes('pod')) out(pods().find((p) => p.metadata.name === a[a.indexOf('pod') + 1]))
else if (a.includes('port-forward')) {
  const what = 'port-forward ' + a.slice(a.indexOf('port-forward') + 1, a.indexOf('port-forward') + 3).join(' ')
  log(what)
  stoppable(what)
  setInterval(() => undefined, 1000)
} else {
  process.stderr.write('unexpected: ' + a.join(' ') + '\\n')
  process.exit(1)
}
`,
  )
  chmodSync(path, 0o755)
  return path
}

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('port-forward moves to the newest ready pod when its pod goes (kubectl as a process)', function () {
  this.timeout(60_000)
  let repo: TempRepo
  let program: string
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
    program = kubectlProgram(repo.dir)
  })
  after(() => repo.remove())
  /** The fake kubectl processes that run now, as ps lists them. */
  const running = async () =>
    (await execa('ps', ['-eo', 'pid=,args='])).stdout
      .split('\n')
      .filter((l) => l.includes(program))
      .map((l) => Number(l.trim().split(/\s+/)[0]))
      .sort()
  beforeEach(() => {
    for (const f of ['log', 'slow', 'forbidden']) rmSync(join(repo.dir, f), {force: true})
  })
  // A test that failed midway may have left its forward running: not the next test's to find.
  afterEach(async () => {
    for (const pid of await running()) process.kill(pid, 'SIGKILL')
  })

  const setPods = (...pods: object[]) => writeFileSync(join(repo.dir, 'pods.json'), JSON.stringify(pods))
  const log = () => (existsSync(join(repo.dir, 'log')) ? readFileSync(join(repo.dir, 'log'), 'utf8').trim().split('\n') : [])
  /** The processes that logged `what` (or, with `start`, a line that starts with it). */
  const pidsOf = (what: string, start = false) =>
    log().flatMap((l) => {
      const said = l.slice(l.indexOf(' ') + 1)
      return (start ? said.startsWith(what) : said === what) ? [Number(l.slice(0, l.indexOf(' ')))] : []
    })
  const start = async (signal: AbortSignal, clock?: {now: number}) => {
    const said: string[] = []
    const reporter = {info: (m: string) => said.push(m), warn: (m: string) => said.push(`warning: ${m}`)} as unknown as Reporter
    const local = await freePort()
    const result = portForward(
      {service: 'web', ports: `${local}:8080`, configPath: join(repo.dir, 'skycap.yaml')},
      {
        kubectl: (o) => new Kubectl({...o, binary: program}),
        reporter,
        signal,
        ...(clock
          ? {
              clock: () => clock.now,
              sleep: async (ms: number) => {
                clock.now += ms * 20
              },
            }
          : {}),
      },
    )
    // Rejections are looked at by each test; this keeps an early one from being unhandled meanwhile.
    result.catch(() => undefined)
    return {said, local, result}
  }

  it('moves the forward when its pod terminates, stops being ready or is deleted, says so once each time, and leaves no kubectl behind', async () => {
    setPods(pod('web-1', 't1'))
    const stop = new AbortController()
    const {said, local, result} = await start(stop.signal)
    const forwardTo = (name: string) => `port-forward pod/${name} ${local}:9090`
    await until('the first forward and its watch', () => pidsOf(forwardTo('web-1')).length === 1 && pidsOf('watch web-1').length === 1)
    expect(await running()).to.deep.equal([...pidsOf(forwardTo('web-1')), ...pidsOf('watch web-1')].sort())
    expect(said).to.deep.equal([`Forwarding 127.0.0.1:${local} to service/web port 8080 (pod/web-1) in test (namespace it-ns); Ctrl-C stops`])
    // A rollout: the new pod is ready, then the old one terminates; and then twice more, for each way a pod goes.
    const steps: Array<{pods: object[]; from: string; to: string; line: string}> = [
      {pods: [pod('web-1', 't1', 'terminating'), pod('web-2', 't2')], from: 'web-1', to: 'web-2', line: 'forwarding to pod/web-2 now (pod/web-1 is terminating)'},
      {pods: [pod('web-2', 't2', 'not ready'), pod('web-3', 't3')], from: 'web-2', to: 'web-3', line: 'forwarding to pod/web-3 now (pod/web-2 is not ready)'},
      {pods: [pod('web-4', 't4')], from: 'web-3', to: 'web-4', line: 'forwarding to pod/web-4 now (pod/web-3 is gone)'},
    ]
    for (const step of steps) {
      const before = said.length
      setPods(...step.pods)
      await until(`the forward to ${step.to}`, () => pidsOf(forwardTo(step.to)).length === 1 && pidsOf(`watch ${step.to}`).length === 1)
      expect(said.slice(before), step.to).to.deep.equal([step.line])
      // The old forward and its watch were stopped before the new one started (and have exited: only the new pair runs).
      const at = (what: string) => log().findIndex((l) => l.endsWith(` ${what}`))
      expect(at(`stopping ${forwardTo(step.from)}`), step.to).to.be.within(0, at(forwardTo(step.to)))
      if (step.from !== 'web-3') expect(at(`stopping watch ${step.from}`), step.to).to.be.within(0, at(forwardTo(step.to)))
      expect(await running(), step.to).to.deep.equal([...pidsOf(forwardTo(step.to)), ...pidsOf(`watch ${step.to}`)].sort())
    }
    expect(pidsOf('port-forward', true), 'one forward per pod').to.have.length(4)
    stop.abort()
    expect(await result).to.deep.include({target: 'pod/web-4', local, remote: 8080})
    expect(await running(), 'after Ctrl-C').to.deep.equal([])
  })

  it('Ctrl-C while it chooses the next pod ends it (no error) with no kubectl left and no new forward started', async () => {
    setPods(pod('web-1', 't1'))
    const stop = new AbortController()
    const {said, local, result} = await start(stop.signal)
    await until('the forward', () => pidsOf(`port-forward pod/web-1 ${local}:9090`).length === 1 && pidsOf('watch web-1').length === 1)
    const listed = pidsOf('list').length
    writeFileSync(join(repo.dir, 'slow'), '')
    setPods(pod('web-1', 't1', 'terminating'), pod('web-2', 't2'))
    await until('the pods listed for the move', () => pidsOf('list').length > listed)
    stop.abort()
    expect(await result).to.deep.include({target: 'pod/web-1', local})
    expect(await running(), `after Ctrl-C; ${log().join('; ')}`).to.deep.equal([])
    // The listing was stopped, not waited for (it was, up to kubectl's request timeout).
    expect(
      log().filter((l) => l.endsWith('stopping list')),
      log().join('; '),
    ).to.have.length(1)
    expect(pidsOf('port-forward', true)).to.have.length(1)
    expect(said.slice(1)).to.deep.equal([])
  })

  it('a watch RBAC forbids is not tried again: the forward goes on unwatched, as kubectl alone', async () => {
    setPods(pod('web-1', 't1'))
    writeFileSync(join(repo.dir, 'forbidden'), '')
    const stop = new AbortController()
    const {local, result} = await start(stop.signal)
    await until('the forward', () => pidsOf(`port-forward pod/web-1 ${local}:9090`).length === 1 && pidsOf('watch web-1').length === 1)
    await new Promise((r) => setTimeout(r, 1500))
    expect(pidsOf('watch web-1')).to.have.length(1)
    expect(await running()).to.deep.equal(pidsOf(`port-forward pod/web-1 ${local}:9090`))
    stop.abort()
    expect(await result).to.deep.include({target: 'pod/web-1', local})
    expect(await running(), 'after Ctrl-C').to.deep.equal([])
  })

  it('a pod that goes with no other ready: the forward stops, waits for one within the window, and its error leaves no kubectl behind', async () => {
    setPods(pod('web-1', 't1'))
    const {said, local, result} = await start(new AbortController().signal, {now: 0})
    await until('the forward', () => pidsOf(`port-forward pod/web-1 ${local}:9090`).length === 1 && pidsOf('watch web-1').length === 1)
    setPods(pod('web-1', 't1', 'terminating'))
    const error = await result.then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect(error?.message).to.equal('no pod of web runs in test')
    expect(said.slice(1)).to.deep.equal(['warning: pod/web-1 is terminating and no other pod of web is ready; waiting up to 60 s for one'])
    expect(await running(), 'after the error').to.deep.equal([])
  })
})
