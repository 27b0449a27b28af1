import {expect} from 'chai'
import {chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {execa} from 'execa'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {choosePort, forwardAlive, listening, portFree, reconnectForward, startForward, stopForward, waitListening} from '../../../src/local/forwards.js'
import type {ForwardState} from '../../../src/local/state.js'
import {repoRoot} from '../../helpers/repo.js'

// A stand-in for `kubectl port-forward service/x LOCAL:REMOTE`: listens on LOCAL; on SIGTERM it takes 400 ms to let go
// of the port (as kubectl closing its connections does), or, when stubborn, ignores SIGTERM altogether.
const FAKE = (stubborn: boolean) => `#!${process.execPath}
const net = require('node:net')
const ports = process.argv.find((a) => /^\\d+:\\d+$/.test(a))
const server = net.createServer((c) => c.end('hello\\n')).listen(Number(ports.split(':')[0]), '127.0.0.1', () => console.log('Forwarding from 127.0.0.1:' + ports.replace(':', ' -> ')))
process.on('SIGTERM', () => ${stubborn ? 'undefined' : 'setTimeout(() => server.close(() => process.exit(0)), 400)'})
setInterval(() => undefined, 1000)
`

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

  after(async () => {
    for (const f of started) if (forwardAlive(f)) process.kill(-f.pid, 'SIGKILL')
    rmSync(dir, {recursive: true, force: true})
  })

  async function forward(binary: string): Promise<ForwardState> {
    const localPort = await choosePort(20000 + Math.floor(Math.random() * 20000), new Set())
    const spec = {kubectl: join(dir, binary), context: 'test', namespace: 'ns', service: 'web', port: 80, localPort}
    const pid = await startForward(spec, join(dir, `${binary}.log`))
    const f: ForwardState = {service: 'web', port: 80, localPort, pid, log: join(dir, `${binary}.log`)}
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
    const spec = {kubectl: join(dir, 'kubectl'), context: 'test', namespace: 'ns', service: 'web', port: 80, localPort}
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
      expect(await reconnectForward(f, 10_000), `round ${round}`).to.equal(true)
      // The old kubectl takes 400 ms to let go of the port: the new one forwards by now.
      expect(await listening(f.localPort), `round ${round}: the port answers at once`).to.equal(true)
      expect(readFileSync(f.log, 'utf8').match(/reconnecting \(new release\)/g)).to.have.length(round + 1)
    }
    expect(await stopForward(f)).to.equal(true)
    expect(await reconnectForward(f, 1000), 'a stopped forward does not reconnect').to.equal(false)
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
