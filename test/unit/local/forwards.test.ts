import {expect} from 'chai'
import {chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {execa} from 'execa'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {choosePort, forwardAlive, listening, portFree, reconnectForward, startForward, stopForward, waitListening} from '../../../src/local/forwards.js'
import type {ForwardState} from '../../../src/local/state.js'
import {repoRoot} from '../../helpers/repo.js'

// A stand-in for kubectl as the supervisor calls it. `get services` and `get pods` answer from the file `pods` beside
// it (the ready pods of web, one name per line, oldest first; web-1 when there is none); `get pod NAME --watch`
// prints the pod, and prints it again terminating once its name leaves that file; `port-forward pod/NAME LOCAL:REMOTE`
// listens on LOCAL, answers `hello from NAME`, and on SIGTERM takes 400 ms to let go of the port (as kubectl closing
// its connections does), or, when stubborn, ignores SIGTERM altogether.
const FAKE = (stubborn: boolean) => `#!${process.execPath}
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const args = process.argv.slice(2)
const words = args.filter((a, i) => !a.startsWith('-') && !['--context', '--namespace', '--address', '-l', '-o'].includes(args[i - 1]))
const file = path.join(__dirname, 'pods')
const pods = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\\n').filter(Boolean) : ['web-1'])
const pod = (name, extra) => ({kind: 'Pod', metadata: {name, creationTimestamp: '2026-01-01T00:00:' + String(Number(name.split('-')[1]) % 60).padStart(2, '0') + 'Z', ...extra}, status: {conditions: [{type: 'Ready', status: 'True'}]}})
const print = (o) => process.stdout.write(JSON.stringify(o, null, 4) + '\\n')
const service = {kind: 'Service', metadata: {name: 'web'}, spec: {ports: [{port: 80}]}}
if (words[0] === 'get' && words[1] === 'services') {
  print({kind: 'List', items: [service]})
} else if (words[0] === 'get' && words[1] === 'service') {
  print(service)
} else if (words[0] === 'get' && words[1] === 'pods') {
  print({kind: 'List', items: pods().map((n) => pod(n))})
} else if (words[0] === 'get' && words[1] === 'pod' && args.includes('--watch')) {
  const name = words[2]
  print(pod(name))
  const timer = setInterval(() => {
    if (pods().includes(name)) return
    print(pod(name, {deletionTimestamp: '2026-01-01T00:01:00Z'}))
    clearInterval(timer)
    setInterval(() => undefined, 1000)
  }, 50)
} else if (words[0] === 'port-forward') {
  const target = words[1].replace(/^pod\\//, '')
  const ports = args.find((a) => /^\\d+:\\d+$/.test(a))
  // A client that goes at once (a check that something listens) resets its connection: not the end of the forward.
  const server = net.createServer((c) => (c.on('error', () => undefined), c.end('hello from ' + target + '\\n'))).listen(Number(ports.split(':')[0]), '127.0.0.1', () => console.log('Forwarding from 127.0.0.1:' + ports.replace(':', ' -> ')))
  process.on('SIGTERM', () => ${stubborn ? 'undefined' : 'setTimeout(() => server.close(() => process.exit(0)), 400)'})
  setInterval(() => undefined, 1000)
} else {
  console.error('unexpected: ' + args.join(' '))
  process.exit(1)
}
`

/** What 127.0.0.1:`port` answers (one connection), or the error. */
function answer(port: number): Promise<string> {
  return new Promise((resolve) => {
    let text = ''
    const socket = net.connect({host: '127.0.0.1', port})
    socket.on('data', (chunk) => (text += String(chunk)))
    socket.once('end', () => resolve(text.trim()))
    socket.once('error', (error) => resolve(`error: ${error.message}`))
  })
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!condition() && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
}

describe('skycap up: stopping a port-forward', function () {
  this.timeout(30_000)
  let dir: string
  const started: ForwardState[] = []

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'skycap-forward-'))
    for (const [name, stubborn] of [
      ['kubectl', false],
      ['stubborn-kubectl', true],
    ] as const) {
      writeFileSync(join(dir, name), FAKE(stubborn))
      chmodSync(join(dir, name), 0o755)
    }
  })

  // Every test starts with web-1 alone.
  beforeEach(() => rmSync(join(dir, 'pods'), {force: true}))

  after(async () => {
    for (const f of started) if (forwardAlive(f)) process.kill(-f.pid, 'SIGKILL')
    rmSync(dir, {recursive: true, force: true})
  })

  async function forward(binary: string): Promise<ForwardState> {
    const localPort = await choosePort(20000 + Math.floor(Math.random() * 20000), new Set())
    const spec = {kubectl: join(dir, binary), context: 'test', namespace: 'ns', app: 'shop', environment: 'local', service: 'web', port: 80, localPort}
    const log = join(dir, `${binary}-${localPort}.log`)
    const f: ForwardState = {service: 'web', port: 80, localPort, pid: await startForward(spec, log), log}
    started.push(f)
    expect(await waitListening(localPort, 10_000), 'the forward listens').to.equal(true)
    return f
  }

  it('returns once the supervisor and its kubectl have ended: the port is free at once, twice in a row', async () => {
    for (let round = 0; round < 2; round++) {
      const f = await forward('kubectl')
      expect(await stopForward(f)).to.equal(true)
      expect(forwardAlive(f), 'the supervisor has ended').to.equal(false)
      expect(await listening(f.localPort), 'nothing listens on the port').to.equal(false)
      expect(await portFree(f.localPort), 'the port can be bound again').to.equal(true)
      expect(await stopForward(f), 'a second stop finds nothing to stop').to.equal(false)
    }
  })

  it("stops the supervisor a skycap installed elsewhere started (npx, a project's own): it was not taken for one, and kept its port for good", async () => {
    // Another install: the same build in another folder (its dist/src), started as startForward starts one.
    const other = join(dir, 'other-install')
    cpSync(join(repoRoot, 'dist', 'src'), join(other, 'src'), {recursive: true})
    cpSync(join(repoRoot, 'package.json'), join(other, 'package.json'))
    symlinkSync(join(repoRoot, 'node_modules'), join(other, 'node_modules'), 'dir')
    const localPort = await choosePort(20000 + Math.floor(Math.random() * 20000), new Set())
    const spec = {kubectl: join(dir, 'kubectl'), context: 'test', namespace: 'ns', app: 'shop', environment: 'local', service: 'web', port: 80, localPort}
    const log = join(dir, 'other.log')
    const child = execa(process.execPath, [join(other, 'src', 'local', 'forwards.js'), JSON.stringify(spec)], {detached: true, stdio: 'ignore', cleanup: false, reject: false})
    child.catch(() => undefined)
    child.nodeChildProcess.unref()
    const f: ForwardState = {service: 'web', port: 80, localPort, pid: child.pid as number, log}
    started.push(f)
    expect(await waitListening(localPort, 10_000), 'the forward listens').to.equal(true)
    expect(forwardAlive(f), "another install's supervisor is a forward").to.equal(true)
    expect(await stopForward(f)).to.equal(true)
    expect(await listening(localPort), 'nothing listens on the port').to.equal(false)
  })

  it('a reconnect returns once the new kubectl forwards (up returned while the old one was still going, and the first request could fail)', async () => {
    const f = await forward('kubectl')
    for (let round = 0; round < 2; round++) {
      expect(await reconnectForward(f, 10_000), `round ${round}: ${readFileSync(f.log, 'utf8')}`).to.equal(true)
      // The old kubectl takes 400 ms to let go of the port: the new one forwards by now.
      expect(await listening(f.localPort), `round ${round}: the port answers at once`).to.equal(true)
      expect(readFileSync(f.log, 'utf8').match(/forwarding to pod\/web-1 now \(skycap up deployed a new release\)/g)).to.have.length(round + 1)
    }
    expect(await stopForward(f)).to.equal(true)
    expect(await reconnectForward(f, 1000), 'a stopped forward does not reconnect').to.equal(false)
  })

  it('follows the pods: a new pod ready and the old one terminating (a deploy or restart by hand, not up’s), the forward moves to the new one before the old one goes; twice', async () => {
    const f = await forward('kubectl')
    expect(await answer(f.localPort), readFileSync(f.log, 'utf8')).to.equal('hello from web-1')
    for (const [from, to] of [
      ['web-1', 'web-2'],
      ['web-2', 'web-3'],
    ] as const) {
      // The rolling update: the new pod ready beside the old one, then the old one terminating.
      writeFileSync(join(dir, 'pods'), `${from}\n${to}\n`)
      await new Promise((r) => setTimeout(r, 300))
      expect(await answer(f.localPort), `${to} is ready, ${from} still serves`).to.equal(`hello from ${from}`)
      writeFileSync(join(dir, 'pods'), `${to}\n`)
      await waitFor(() => readFileSync(f.log, 'utf8').includes(`forwarding to pod/${to} now (pod/${from} is terminating)`))
      let said = ''
      await waitFor(() => {
        void answer(f.localPort).then((a) => (said = a))
        return said === `hello from ${to}`
      })
      expect(said, readFileSync(f.log, 'utf8')).to.equal(`hello from ${to}`)
    }
    expect(readFileSync(f.log, 'utf8'), readFileSync(f.log, 'utf8')).to.not.match(/ended \(exit|trying again/)
    expect(await stopForward(f)).to.equal(true)
    expect(await listening(f.localPort), 'nothing listens on the port').to.equal(false)
  })

  it('a service with no ready pod is tried again, saying so, and forwarded to once one is ready (up’s deploy failed, or the pods are still starting); up’s move asked meanwhile is said then', async () => {
    writeFileSync(join(dir, 'pods'), '\n')
    const localPort = await choosePort(20000 + Math.floor(Math.random() * 20000), new Set())
    const log = join(dir, 'waiting.log')
    const spec = {kubectl: join(dir, 'kubectl'), context: 'test', namespace: 'ns', app: 'shop', environment: 'local', service: 'web', port: 80, localPort}
    const f: ForwardState = {service: 'web', port: 80, localPort, pid: await startForward(spec, log), log}
    started.push(f)
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('trying again in 2 s'))
    expect(readFileSync(log, 'utf8')).to.match(/ no pod of web runs in local; trying again in 2 s\n/)
    expect(await listening(localPort), 'nothing forwards yet').to.equal(false)
    // up's redeploy asks it to move while it waits: kept, and said once a pod is ready (up waited its 10 s for nothing).
    const moved = reconnectForward(f, 10_000)
    await new Promise((r) => setTimeout(r, 300))
    writeFileSync(join(dir, 'pods'), 'web-4\n')
    expect(await moved, readFileSync(log, 'utf8')).to.equal(true)
    expect(await waitListening(localPort, 10_000), 'the forward listens once a pod is ready').to.equal(true)
    expect(await answer(localPort)).to.equal('hello from web-4')
    expect(await stopForward(f)).to.equal(true)
  })

  it('a supervisor killed outright (SIGKILL) left its kubectl holding the port: stopping the forward stops that kubectl', async () => {
    const f = await forward('kubectl')
    process.kill(f.pid, 'SIGKILL')
    await waitFor(() => !forwardAlive(f))
    expect(await listening(f.localPort), 'the orphaned kubectl still forwards').to.equal(true)
    expect(await stopForward(f), 'something was stopped').to.equal(true)
    let free = false
    for (let i = 0; i < 40 && !free; i++) free = await portFree(f.localPort).then((ok) => ok || new Promise((r) => setTimeout(() => r(false), 50)))
    expect(free, 'the port is free again').to.equal(true)
    expect(await stopForward(f), 'nothing left to stop').to.equal(false)
  })

  it('kills a supervisor whose kubectl does not end within the grace time, kubectl with it', async () => {
    const f = await forward('stubborn-kubectl')
    const t0 = Date.now()
    expect(await stopForward(f, 500)).to.equal(true)
    expect(Date.now() - t0).to.be.below(5000)
    expect(forwardAlive(f)).to.equal(false)
    // SIGKILL is delivered at once but the kernel closes the socket as the process is reaped: allow a moment.
    let free = false
    for (let i = 0; i < 40 && !free; i++) free = await portFree(f.localPort).then((ok) => ok || new Promise((r) => setTimeout(() => r(false), 50)))
    expect(free, 'the stubborn kubectl was killed with its supervisor').to.equal(true)
  })
})
