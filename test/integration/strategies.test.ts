// Blue-green and canary through the built CLI on the real node: traffic is counted with real requests through the
// Service's ClusterIP (the machine routes ClusterIPs through the real node's kube-proxy) while the rollout runs.
import {expect} from 'chai'
import {execa, type ResultPromise} from 'execa'

import {cliPath} from '../helpers/repo.js'
import {TestApp} from './app.js'
import {httpGet, kubectl, tagTestAppImage, useNamespace, waitFor} from './harness.js'

/** Every answer of the Service during a rollout, with when it was asked. */
class Traffic {
  readonly answers: Array<{at: number; body: string}> = []
  private running = true
  private readonly loop: Promise<void>

  constructor(readonly url: string) {
    this.loop = (async () => {
      while (this.running) {
        const at = Date.now()
        const body = await httpGet(url, 2000).then(
          (a) => (a.status === 200 ? a.body : `status ${a.status}`),
          (e: Error) => `error: ${e.message}`,
        )
        this.answers.push({at, body})
        await new Promise((res) => setTimeout(res, 50))
      }
    })()
  }

  async stop(): Promise<void> {
    this.running = false
    await this.loop
  }

  versions(from = 0, to = Infinity): string[] {
    return this.answers.filter((a) => a.at >= from && a.at < to).map((a) => /^version=(\S+)/.exec(a.body)?.[1] ?? a.body)
  }

  failed(): string[] {
    return this.answers.filter((a) => !a.body.startsWith('version=')).map((a) => a.body)
  }
}

const VERSION = (v: string) => (text: string) => text.replace(/APP_VERSION: v\d+/, `APP_VERSION: ${v}`)
const STRATEGY =
  (strategy: string, replicas = 2) =>
  (text: string) =>
    text.replace('    replicas: 1\n', `    replicas: ${replicas}\n    strategy: ${strategy}\n`)

describe('strategies on the real node: blue-green and canary with counted requests', function () {
  this.timeout(600_000)
  const ns = useNamespace('strat')
  let app: TestApp

  function realIt(title: string, test: () => Promise<void>) {
    it(title, async () => {
      app = await TestApp.createReal(ns.name)
      try {
        await test()
      } finally {
        app.remove()
      }
    })
  }

  async function tag() {
    await tagTestAppImage(await app.repo.git('rev-parse', 'HEAD'))
  }

  async function deploy(args: string[] = []) {
    await tag()
    return app.json(['deploy', 'test', ...args])
  }

  /** The CLI in the background, --json, for steps that wait (scaleDownDelay, pauses). */
  function background(args: string[]): ResultPromise<{reject: false; stdin: 'ignore'; cwd: string; env: Record<string, string>}> {
    return execa('node', [cliPath, ...args, '--json'], {cwd: app.repo.dir, env: {NO_COLOR: '1'}, reject: false, stdin: 'ignore'})
  }

  async function serviceUrl(name = 'web'): Promise<string> {
    const svc = await app.get(['service', name])
    return `http://${svc.spec.clusterIP}:${svc.spec.ports[0].port}/`
  }

  async function selectedSlot(): Promise<string | undefined> {
    return (await app.get(['service', 'web'])).spec.selector['skycap.dev/slot']
  }

  async function replicas(deployment: string): Promise<number | undefined> {
    const r = await kubectl(['get', 'deployment', deployment, '-o', 'jsonpath={.spec.replicas}', '--ignore-not-found'], {namespace: ns.name})
    return r.stdout === '' ? undefined : Number(r.stdout)
  }

  realIt('blue-green: all old before the switch, all new after, no failed request; old slot kept then scaled down; rollback switches back in seconds; a failing check never gets traffic', async () => {
    await app.change(STRATEGY('{type: blueGreen, scaleDownDelay: 25s, preview: true, checks: [{http: {path: /, expect: {body: "greeting=hello"}}}]}'), 'blue-green')
    const first = await deploy()
    expect(first.exitCode, first.stderr).to.equal(0)
    expect(await selectedSlot()).to.equal('blue')
    expect(await replicas('web-blue')).to.equal(2)
    expect(await replicas('web'), 'no plain Deployment').to.equal(undefined)
    const url = await serviceUrl()
    await waitFor('the Service to answer v1', async () => (await httpGet(url).catch(() => ({body: ''}))).body.startsWith('version=v1 '))

    // v2: the deploy brings green up, checks it, switches, then waits out scaleDownDelay.
    await app.change(VERSION('v2'), 'v2')
    await tag()
    const traffic = new Traffic(url)
    const deploying = background(['deploy', 'test'])
    const switchedAt = await waitFor('the Service to select green', async () => (await selectedSlot()) === 'green' && Date.now(), {timeoutMs: 180_000, intervalMs: 100})
    // The preview Service selected green (the idle slot) before the switch; now it selects blue, the idle one.
    expect((await app.get(['service', 'web-preview'])).spec.selector['skycap.dev/slot']).to.equal('blue')
    // kube-proxy follows the EndpointSlices within a second or two; the deploy waited for the slices already.
    await new Promise((res) => setTimeout(res, 6000))
    expect(await replicas('web-blue'), 'the old slot is kept up during scaleDownDelay').to.equal(2)

    // Rollback while blue is still up: a switch back.
    const rollbackStarted = Date.now()
    const rolling = background(['rollback', 'test'])
    const backAt = await waitFor('the Service to select blue again', async () => (await selectedSlot()) === 'blue' && Date.now(), {timeoutMs: 60_000, intervalMs: 100})
    await new Promise((res) => setTimeout(res, 6000))
    await traffic.stop()
    const [deployed, rolled] = await Promise.all([deploying, rolling])
    expect(deployed.exitCode, deployed.stderr).to.equal(0)
    expect(rolled.exitCode, rolled.stderr).to.equal(0)
    const before = traffic.versions(0, switchedAt - 1500)
    const after = traffic.versions(switchedAt + 4000, rollbackStarted)
    const back = traffic.versions(backAt + 4000)
    console.log(
      `      blue-green: ${traffic.answers.length} requests, ${before.length} before the switch, ${after.length} after, ${back.length} after the rollback (${backAt - rollbackStarted} ms to switch back), ${traffic.failed().length} failed`,
    )
    expect(traffic.failed(), 'failed requests').to.deep.equal([])
    expect(before.length).to.be.at.least(10)
    expect([...new Set(before)], 'answers before the switch').to.deep.equal(['v1'])
    expect(after.length).to.be.at.least(10)
    expect([...new Set(after)], 'answers after the switch').to.deep.equal(['v2'])
    expect(back.length).to.be.at.least(10)
    expect([...new Set(back)], 'answers after the rollback').to.deep.equal(['v1'])
    expect(backAt - rollbackStarted, 'rollback is a switch: seconds, not a rollout').to.be.below(15_000)
    // Both processes waited out scaleDownDelay: green (rolled back from) went to 0, blue serves with 2.
    expect(await replicas('web-green')).to.equal(0)
    expect(await replicas('web-blue')).to.equal(2)

    // v3 fails its http check (another greeting): green comes up, is checked, never selected, and goes.
    app.repo.write('config/web/app.properties', 'greeting=bonjour\n')
    await app.repo.commit('v3 greets otherwise')
    await app.change(VERSION('v3'), 'v3')
    const traffic3 = new Traffic(url)
    const failed = await deploy(['--timeout', '3m'])
    await traffic3.stop()
    expect(failed.exitCode, failed.stderr).to.equal(1)
    expect(failed.doc.error.message).to.match(/check\/http web: GET \/ on pod web-green-\S+ answered 200, body not matching \/greeting=hello\//)
    expect(await selectedSlot()).to.equal('blue')
    expect(await replicas('web-green'), 'the failed slot is removed').to.equal(undefined)
    expect(traffic3.failed()).to.deep.equal([])
    expect([...new Set(traffic3.versions())], 'a failed slot never gets traffic').to.deep.equal(['v1'])
    expect(traffic3.answers.length).to.be.at.least(10)
  })
})
