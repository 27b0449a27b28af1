// Blue-green and canary through the built CLI on the real node: traffic is counted with real requests through the
// Service's ClusterIP (the machine routes ClusterIPs through the real node's kube-proxy) while the rollout runs.
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {expect} from 'chai'
import {execa, type ResultPromise} from 'execa'

import {cliPath} from '../helpers/repo.js'
import {TestApp} from './app.js'
import {httpGet, kubectl, serviceAnswers, tagTestAppImage, useNamespace, waitFor} from './harness.js'

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
      app = await TestApp.createReal(ns.name, 'rlstrat')
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

  /**
   * Waits until the Service's traffic can only reach the pods it should: every pod its selector matches is Ready and
   * none is terminating, its EndpointSlices list exactly those pods as ready, and kube-proxy (which syncs at most once a
   * second here, test/cluster/node.sh) has had time to follow. The test app has no SIGTERM handler, so a pod leaves at
   * once while kube-proxy may still send it connections: sampling before this measures the cluster catching up.
   */
  async function settled(name = 'web'): Promise<void> {
    const selector = Object.entries((await app.get(['service', name])).spec.selector as Record<string, string>)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')
    await waitFor(
      `the pods behind Service ${name} to be ready, none terminating, and its endpoints to be exactly them`,
      async () => {
        const pods = (await app.get(['pods', '-l', selector])).items as any[]
        if (pods.some((p) => p.metadata.deletionTimestamp || !p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'))) return false
        const slices = (await app.get(['endpointslices', '-l', `kubernetes.io/service-name=${name}`])).items as any[]
        const endpoints = slices.flatMap((sl) => sl.endpoints ?? [])
        if (endpoints.some((e: any) => e.conditions?.terminating || e.conditions?.ready === false)) return false
        const served = endpoints.map((e: any) => e.targetRef?.name).sort()
        return JSON.stringify(served) === JSON.stringify(pods.map((p) => p.metadata.name).sort())
      },
      {timeoutMs: 120_000, intervalMs: 500},
    )
    await new Promise((res) => setTimeout(res, 2500))
  }

  async function selectedSlot(): Promise<string | undefined> {
    return (await app.get(['service', 'web'])).spec.selector['skycap.dev/slot']
  }

  async function replicas(deployment: string): Promise<number | undefined> {
    const r = await kubectl(['get', 'deployment', deployment, '-o', 'jsonpath={.spec.replicas}', '--ignore-not-found'], {namespace: ns.name})
    return r.stdout === '' ? undefined : Number(r.stdout)
  }

  realIt('blue-green: all old before the switch, all new after, no failed request; old slot kept then scaled down; rollback switches back in seconds; a failing check never gets traffic', async () => {
    // scaleDownDelay outlasts the 8 s below, the rollback's dry run and its start, on a loaded CI machine too: the rollback
    // must find blue still up.
    await app.change(STRATEGY('{type: blueGreen, scaleDownDelay: 40s, preview: true, checks: [{http: {path: /, expect: {body: "greeting=hello"}}}]}'), 'blue-green')
    const first = await deploy()
    expect(first.exitCode, first.stderr).to.equal(0)
    expect(await selectedSlot()).to.equal('blue')
    expect(await replicas('web-blue')).to.equal(2)
    expect(await replicas('web'), 'no plain Deployment').to.equal(undefined)
    const url = await serviceUrl()
    await serviceAnswers(url, /^version=v1 /)

    // v2: the deploy brings green up, checks it, switches, then waits out scaleDownDelay.
    await app.change(VERSION('v2'), 'v2')
    await tag()
    const traffic = new Traffic(url)
    const deploying = background(['deploy', 'test'])
    const switchedAt = await waitFor('the Service to select green', async () => (await selectedSlot()) === 'green' && Date.now(), {timeoutMs: 180_000, intervalMs: 100})
    // The preview Service selected green (the idle slot) before the switch; now it selects blue, the idle one.
    expect((await app.get(['service', 'web-preview'])).spec.selector['skycap.dev/slot']).to.equal('blue')
    // kube-proxy follows the EndpointSlices within a second or two; the deploy waited for the slices already. The answers
    // from 5 s after the switch on are judged, so this leaves about 3 s of them.
    await new Promise((res) => setTimeout(res, 8000))
    expect(await replicas('web-blue'), 'the old slot is kept up during scaleDownDelay').to.equal(2)

    // Its dry run says what the rollback then does: no slot pruned (the one rolled back from is scaled to 0 after).
    const dry = await app.json(['rollback', 'test', '--dry-run'])
    expect(dry.exitCode, dry.stderr).to.equal(0)
    expect(dry.doc.result.pruned, dry.stderr).to.deep.equal([])
    // Rollback while blue is still up: a switch back.
    const rollbackStarted = Date.now()
    const rolling = background(['rollback', 'test'])
    const backAt = await waitFor('the Service to select blue again', async () => (await selectedSlot()) === 'blue' && Date.now(), {timeoutMs: 60_000, intervalMs: 100})
    await new Promise((res) => setTimeout(res, 8000))
    await traffic.stop()
    const [deployed, rolled] = await Promise.all([deploying, rolling])
    expect(deployed.exitCode, deployed.stderr).to.equal(0)
    expect(rolled.exitCode, rolled.stderr).to.equal(0)
    const before = traffic.versions(0, switchedAt - 1500)
    const after = traffic.versions(switchedAt + 5000, rollbackStarted)
    const back = traffic.versions(backAt + 5000)
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

    // v4: a lock taken by hand right after the switch (a hotfix window). The deploy is not held up by it: once
    // scaleDownDelay is over it leaves blue up, says so, and exits 0 (it waited silently for the lock to expire).
    app.repo.write('config/web/app.properties', 'greeting=hello\n')
    await app.repo.commit('v4 greets again')
    await app.change(VERSION('v4'), 'v4')
    await tag()
    const hotfix = background(['deploy', 'test'])
    let progress = ''
    hotfix.stderr?.on('data', (chunk: Buffer) => {
      progress += chunk.toString()
    })
    // The release is live and recorded, the deploy's lock released: it waits out scaleDownDelay.
    await waitFor('the deploy to keep web-blue for an instant rollback', async () => progress.includes('Keeping web-blue for an instant rollback'), {timeoutMs: 180_000, intervalMs: 100})
    expect(await selectedSlot()).to.equal('green')
    const held = await app.json(['lock', 'acquire', 'test', '--reason', 'hotfix window', '--duration', '3m'])
    expect(held.exitCode, held.stderr).to.equal(0)
    const live = await hotfix
    expect(live.exitCode, live.stderr).to.equal(0)
    expect(live.stderr).to.match(/not scaling web-blue to 0: test is locked by .* \(hotfix window\), held until \S+; the next deploy, rollback or `skycap rollout resume test` scales it down/)
    expect(live.stderr, 'no wait for a lock taken by hand').to.not.contain('waiting for it')
    const doc = JSON.parse(live.stdout)
    expect(doc.result.scaleDownLeft.slots).to.deep.equal(['web-blue'])
    expect(doc.result.scaleDownLeft.reason).to.match(/^test is locked by .* \(hotfix window\)$/)
    expect(doc.result, 'nothing scaled').to.not.have.property('scaledDown')
    expect((await app.json(['lock', 'status', 'test'])).doc.result.lock, 'it ended while the lock was still held').to.include({reason: 'hotfix window', expired: false})
    expect(await replicas('web-blue'), 'blue left up').to.equal(2)
    expect(await replicas('web-green')).to.equal(2)
    // Once the lock is free, `rollout resume` scales the slot left behind down.
    expect((await app.json(['lock', 'release', 'test'])).exitCode).to.equal(0)
    const resumed = await app.json(['rollout', 'resume', 'test'])
    expect(resumed.exitCode, resumed.stderr).to.equal(0)
    expect(resumed.doc.result.scaledDown).to.deep.equal(['web-blue'])
    expect(await replicas('web-blue')).to.equal(0)
    expect(await selectedSlot()).to.equal('green')
  })

  async function rolloutState(): Promise<Record<string, any>> {
    const r = await kubectl(['get', 'configmap', 'skycap-rollout-rlstrat', '-o', 'json', '--ignore-not-found'], {namespace: ns.name})
    if (!r.stdout) return {}
    const data = JSON.parse(r.stdout).data ?? {}
    return Object.fromEntries(
      Object.entries(data)
        .filter(([k]) => !k.includes('.'))
        .map(([k, v]) => [k, JSON.parse(v as string)]),
    )
  }

  async function pausedAt(weight: number): Promise<void> {
    await waitFor(
      `the canary paused at ${weight}%`,
      async () => {
        const web = (await rolloutState()).web
        return web?.phase === 'paused' && web.weight === weight
      },
      {timeoutMs: 180_000, intervalMs: 500},
    )
  }

  /** `count` answers through the Service, as versions. */
  /**
   * The version each of `count` requests through the Service got. A request that got no answer is asked again, twice
   * at most, half a second apart: these samples are about which release answers (canary by replicas does not promise
   * that no request fails: docs/notes.md), and on a loaded machine kube-proxy has once sent one of 40 requests to a
   * pod that had just left after `settled()`. One that stays unanswered is still counted as an error.
   */
  async function sample(url: string, count: number): Promise<string[]> {
    const ask = () =>
      httpGet(url).then(
        (a) => /^version=(\S+)/.exec(a.body)?.[1] ?? `status ${a.status}`,
        (e: Error) => `error: ${e.message}`,
      )
    const out: string[] = []
    for (let i = 0; i < count; i++) {
      let answer = await ask()
      for (let again = 0; again < 2 && answer.startsWith('error: '); again++) {
        await new Promise((res) => setTimeout(res, 500))
        answer = await ask()
      }
      out.push(answer)
    }
    return out
  }

  const share = (answers: string[], v: string) => answers.filter((a) => a === v).length / answers.length

  realIt(
    'canary by replicas: the split follows the weights; pause {} waits for promote from another process and survives a killed CLI (rollout resume); a failed http check and an abort from another process return all traffic to stable',
    async () => {
      await app.change(STRATEGY('{type: canary, steps: [{setWeight: 25}, {pause: {}}, {setWeight: 50}, {pause: {}}], checks: [{http: {path: /, expect: {body: "greeting=hello"}}}]}', 4), 'canary')
      const first = await deploy()
      expect(first.exitCode, first.stderr).to.equal(0)
      expect(await replicas('web')).to.equal(4)
      const url = await serviceUrl()
      await serviceAnswers(url, /^version=v1 /)

      // v2: 25% (1 canary pod of 4), paused until promote.
      await app.change(VERSION('v2'), 'v2')
      await tag()
      const traffic = new Traffic(url)
      const p1 = background(['deploy', 'test'])
      await pausedAt(25)
      expect(await replicas('web-canary')).to.equal(1)
      expect(await replicas('web')).to.equal(3)
      await settled()
      const at25 = await sample(url, 120)
      const status = await app.json(['rollout', 'status', 'test'])
      expect(status.doc.result.services.web).to.include({type: 'canary', phase: 'paused', weight: 25, step: 1, steps: 4, release: 2})
      // A second process promotes; the first goes on to 50%.
      const promoted = await app.json(['promote', 'test'])
      expect(promoted.exitCode, promoted.stderr).to.equal(0)
      await pausedAt(50)
      expect(await replicas('web-canary')).to.equal(2)
      expect(await replicas('web')).to.equal(2)
      await settled()
      const at50 = await sample(url, 120)
      console.log(`      canary split: at 25% ${Math.round(share(at25, 'v2') * 100)}% v2 of ${at25.length}; at 50% ${Math.round(share(at50, 'v2') * 100)}% v2 of ${at50.length}`)
      expect(share(at25, 'v2')).to.be.within(0.08, 0.45)
      expect(share(at25, 'v1') + share(at25, 'v2'), 'every request answered').to.equal(1)
      expect(share(at50, 'v2')).to.be.within(0.3, 0.7)
      expect(share(at50, 'v1') + share(at50, 'v2')).to.equal(1)

      // The CLI is killed during the pause: the rollout stays as it is, and `rollout resume` takes it over once the
      // lock expires; a promote from a third process ends it.
      p1.kill('SIGKILL')
      await p1
      const p2 = background(['rollout', 'resume', 'test'])
      await waitFor(
        'rollout resume to hold the lock',
        async () => {
          const lease = await kubectl(['get', 'lease', 'skycap-lock-rlstrat', '-o', 'json', '--ignore-not-found'], {namespace: ns.name})
          return lease.stdout !== '' && /rollout resume/.test(JSON.parse(lease.stdout).metadata.annotations['skycap.dev/reason'] ?? '')
        },
        {timeoutMs: 120_000, intervalMs: 1000},
      )
      expect(await replicas('web-canary'), 'the pause survived the killed CLI').to.equal(2)
      const promoted2 = await app.json(['promote', 'test'])
      expect(promoted2.exitCode, promoted2.stderr).to.equal(0)
      const resumed = await p2
      expect(resumed.exitCode, resumed.stderr).to.equal(0)
      expect(JSON.parse(resumed.stdout).result).to.include({release: 2}).and.have.property('resumed').that.deep.equals(['web'])
      expect(await replicas('web-canary'), 'the canary is gone').to.equal(undefined)
      expect(await replicas('web')).to.equal(4)
      const history = await app.json(['history', 'test'])
      expect(JSON.stringify(history.doc.result)).to.match(/"number":2[^}]*"result":"succeeded"|"result":"succeeded"[^}]*"number":2/)
      await settled()
      expect([...new Set(await sample(url, 40))], 'after the promotion').to.deep.equal(['v2'])
      await traffic.stop()
      console.log(`      canary v2: ${traffic.answers.length} requests during the rollout, ${traffic.failed().length} failed`)

      // v3 fails its http check at 25%: aborted, everything stable (v2) again, exit 1.
      app.repo.write('config/web/app.properties', 'greeting=bonjour\n')
      await app.repo.commit('v3 greets otherwise')
      await app.change(VERSION('v3'), 'v3')
      const failed = await deploy()
      expect(failed.exitCode, failed.stderr).to.equal(1)
      expect(failed.doc.error.message).to.match(/check\/http web: GET \/ on pod web-canary-\S+ answered 200, body not matching/)
      expect(await replicas('web-canary')).to.equal(undefined)
      expect(await replicas('web')).to.equal(4)
      expect((await rolloutState()).web).to.include({phase: 'failed', weight: 0})
      await settled()
      expect([...new Set(await sample(url, 40))], 'after the failed check').to.deep.equal(['v2'])

      // v4 (greeting back): abort from another process during the first pause.
      app.repo.write('config/web/app.properties', 'greeting=hello\n')
      await app.repo.commit('hello again')
      await app.change(VERSION('v4'), 'v4')
      await tag()
      const p3 = background(['deploy', 'test'])
      await pausedAt(25)
      const aborted = await app.json(['abort', 'test'])
      expect(aborted.exitCode, aborted.stderr).to.equal(0)
      const p3done = await p3
      expect(p3done.exitCode, p3done.stderr).to.equal(1)
      expect(JSON.parse(p3done.stdout).error.message).to.match(/aborted by skycap abort/)
      expect(await replicas('web-canary')).to.equal(undefined)
      expect(await replicas('web')).to.equal(4)
      await settled()
      expect([...new Set(await sample(url, 40))], 'after the abort').to.deep.equal(['v2'])

      // v4 again, stopped by Ctrl-C at the pause (recorded as interrupted, the lock released): nobody runs the rollout,
      // so `abort` continues it itself, returns all traffic to stable and replaces the interrupted record.
      const p4 = background(['deploy', 'test'])
      await pausedAt(25)
      p4.kill('SIGINT')
      const p4done = await p4
      expect(p4done.exitCode, p4done.stderr).to.equal(130)
      // The next step named is one that works while the canary waits (a deploy is refused until it is done).
      expect(JSON.parse(p4done.stdout).error.hint).to.contain('skycap rollout resume test')
      const interrupted = (await app.json(['history', 'test'])).doc.result.releases[0]
      expect(interrupted).to.include({result: 'interrupted'})
      const abortedHere = await app.json(['abort', 'test'])
      expect(abortedHere.exitCode, abortedHere.stderr).to.equal(0)
      expect(abortedHere.stderr).to.contain('Nobody runs the rollout now: continuing it here')
      expect(await replicas('web-canary')).to.equal(undefined)
      expect(await replicas('web')).to.equal(4)
      const after = (await app.json(['history', 'test'])).doc.result.releases
      expect(after[0]).to.include({number: interrupted.number, result: 'failed'})
      expect(
        after.filter((r: {number: number}) => r.number === interrupted.number),
        'one record of that release',
      ).to.have.length(1)
      await settled()
      expect([...new Set(await sample(url, 40))], 'after the abort of the interrupted deploy').to.deep.equal(['v2'])

      // v5: its canary pods never pass their readiness probe. An abort from another process while the first step waits
      // for them is acted on at once, twice in a row: it was read only between steps, so the deploy waited out its
      // timeout, and an abort during the last step was never read (the canary was promoted).
      await app.change((t) => VERSION('v5')(t).replace('APP_VERSION: v5', 'APP_VERSION: v5, APP_HEALTHZ: fail'), 'v5 never ready')
      await tag()
      for (const round of [1, 2]) {
        const p5 = background(['deploy', 'test', '--timeout', '5m'])
        await waitFor(`round ${round}: the canary's pod running, not ready`, async () => {
          const pods = (await app.get(['pods', '-l', 'skycap.dev/track=canary'])).items as any[]
          return pods.some((pod) => pod.status?.containerStatuses?.[0]?.state?.running && !pod.metadata.deletionTimestamp)
        })
        const asked = Date.now()
        const abortedInStep = await app.json(['abort', 'test'])
        expect(abortedInStep.exitCode, `round ${round}: ${abortedInStep.stderr}`).to.equal(0)
        const p5done = await p5
        const tookMs = Date.now() - asked
        expect(p5done.exitCode, `round ${round}: ${p5done.stderr}`).to.equal(1)
        expect(JSON.parse(p5done.stdout).error.message, `round ${round}`).to.contain('aborted by skycap abort during step 1 (weight 25%)')
        // Well within the 5 minutes the step would have waited for pods that never become ready.
        expect(tookMs, `round ${round}: the deploy ended ${tookMs} ms after the abort was asked`).to.be.below(60_000)
        expect(await replicas('web-canary'), `round ${round}`).to.equal(undefined)
        expect(await replicas('web'), `round ${round}`).to.equal(4)
        expect((await rolloutState()).web, `round ${round}`).to.include({phase: 'aborted', weight: 0})
        await settled()
        expect([...new Set(await sample(url, 40))], `round ${round}: after the abort during the step`).to.deep.equal(['v2'])
      }
    },
  )

  realIt('canary through a Gateway API HTTPRoute: skycap writes the weights; a Prometheus analysis gates the step', async () => {
    const dir = JSON.parse((await execa('go', ['mod', 'download', '-json', 'sigs.k8s.io/gateway-api@v1.2.1'], {cwd: '/tmp'})).stdout).Dir as string
    await kubectl(['apply', '--server-side', '-f', join(dir, 'config/crd/standard/gateway.networking.k8s.io_httproutes.yaml')])
    // The API server serves the new kind once the CRD is established (its status is empty for a moment).
    await waitFor('the HTTPRoute kind to be served', () =>
      kubectl(['get', 'httproutes.gateway.networking.k8s.io'], {namespace: ns.name}).then(
        () => true,
        () => false,
      ),
    )
    const route = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: {name: 'web-route'},
      spec: {parentRefs: [{name: 'gw'}], rules: [{backendRefs: [{name: 'web', port: 8080}]}, {matches: [{path: {type: 'PathPrefix', value: '/other'}}], backendRefs: [{name: 'other', port: 80}]}]},
    }
    await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: JSON.stringify(route)})
    // A small server speaking Prometheus's query API: the error rate it answers is what the test sets.
    let errorRate = '0.01'
    const queries: string[] = []
    const prometheus = http.createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x')
      queries.push(`${u.pathname} ${u.searchParams.get('query')}`)
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({status: 'success', data: {resultType: 'vector', result: [{metric: {}, value: [Date.now() / 1000, errorRate]}]}}))
    })
    await new Promise<void>((res) => prometheus.listen(0, '127.0.0.1', res))
    const address = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`
    try {
      const analysis = `{analysis: {checks: [{prometheus: {address: "${address}", query: "sum(rate(errors[1m]))", threshold: {max: 0.05}}}]}}`
      await app.change(STRATEGY(`{type: canary, trafficRouting: {gatewayAPI: {httpRoute: web-route}}, steps: [{setWeight: 30}, ${analysis}, {pause: {}}]}`, 2), 'canary via HTTPRoute')
      expect((await deploy()).exitCode).to.equal(0)
      const weights = async () => (await app.get(['httproute', 'web-route'])).spec.rules.map((r: any) => r.backendRefs.map((b: any) => `${b.name}:${b.port}:${b.weight ?? 1}`).join(','))
      // First deploy: no canary; the route is untouched until a canary runs.
      expect(await weights()).to.deep.equal(['web:8080:1', 'other:80:1'])

      await app.change(VERSION('v2'), 'v2')
      await tag()
      const p = background(['deploy', 'test'])
      await pausedAt(30)
      expect(await weights()).to.deep.equal(['web-stable:8080:70,web-canary:8080:30', 'other:80:1'])
      expect(queries).to.deep.equal(['/api/v1/query sum(rate(errors[1m]))'])
      // Exact weights: the stable side keeps all its pods, the canary has its share (rounded up).
      expect(await replicas('web')).to.equal(2)
      expect(await replicas('web-canary')).to.equal(1)
      const stableSvc = await app.get(['service', 'web-stable'])
      expect(stableSvc.spec.selector['skycap.dev/track']).to.equal('stable')
      expect((await app.json(['promote', 'test'])).exitCode).to.equal(0)
      const done = await p
      expect(done.exitCode, done.stderr).to.equal(0)
      expect(await weights()).to.deep.equal(['web-stable:8080:100,web-canary:8080:0', 'other:80:1'])

      // v3: the analysis sees a 50% error rate and aborts; the route sends everything to stable.
      errorRate = '0.5'
      await app.change(VERSION('v3'), 'v3')
      const failed = await deploy()
      expect(failed.exitCode, failed.stderr).to.equal(1)
      expect(failed.doc.error.message).to.contain('check/prometheus web: sum(rate(errors[1m])) = 0.5, outside max 0.05')
      expect(await weights()).to.deep.equal(['web-stable:8080:100,web-canary:8080:0', 'other:80:1'])
      expect(await replicas('web-canary')).to.equal(undefined)
    } finally {
      prometheus.close()
    }
  })

  realIt("blue-green gated by a smoke-test Job from the pod template: exit 0 lets the switch happen; exit 3 stops it, with the Job's output in the report", async () => {
    const job = (code: string) => `{type: blueGreen, scaleDownDelay: 5s, checks: [{job: {command: [/app, exit, "${code}"], timeout: 2m}}]}`
    await app.change(STRATEGY(job('0'), 1), 'blue-green with a smoke test')
    expect((await deploy()).exitCode).to.equal(0)
    await app.change(VERSION('v2'), 'v2')
    const ok = await deploy()
    expect(ok.exitCode, ok.stderr).to.equal(0)
    expect(await selectedSlot()).to.equal('green')
    const status = await app.json(['status', 'test'])
    expect(status.doc.result.services[0]).to.deep.include({service: 'web', state: 'ready', ready: 1})
    expect(status.doc.result.services[0].rollout).to.include({type: 'blueGreen', activeSlot: 'green', previousSlot: 'blue', release: 2})
    // skycap run takes the pod template of the slot that serves (it said web renders no Deployment).
    const ran = await app.cli(['run', 'web', '--', '/app', 'say', 'from-the-slot'])
    expect(ran.exitCode, ran.stderr).to.equal(0)
    expect(ran.stdout).to.contain('from-the-slot')
    expect(ran.stderr).to.contain('in web (release 2, ')
    // skycap scale acts on the active slot; the next deploy brings the new slot up at that count.
    const scaled = await app.cli(['scale', 'web', '2', '-e', 'test'])
    expect(scaled.exitCode, scaled.stderr).to.equal(0)
    expect(scaled.stderr).to.include('Scaling web (Deployment web-green, the active slot) in test from 1 to 2')
    expect(await replicas('web-green')).to.equal(2)
    await app.change((t) => VERSION('v3')(t.replace(job('0'), job('3'))), 'v3 fails its smoke test')
    const failed = await deploy()
    expect(failed.exitCode, failed.stderr).to.equal(1)
    // The Job's pod exits 3: the watch reports the failed container (or the Job's own Failed condition if seen first).
    expect(failed.doc.error.message).to.match(/check\/job web: job web-check-\S+ /)
    const failure = failed.doc.error.details.report.failures[0]
    expect(failure.logs.map((l: any) => l.lines.join('\n')).join('\n')).to.contain('smoke test of version=v3: exit 3')
    expect(await selectedSlot(), 'the Service stayed on green').to.equal('green')
    expect(await replicas('web-blue'), 'the failed slot is removed').to.equal(undefined)
    const jobs = await app.get(['jobs'])
    expect(
      jobs.items.filter((j: any) => !j.metadata.deletionTimestamp).map((j: any) => j.metadata.name),
      'check Jobs are deleted',
    ).to.deep.equal([])
    await app.change((t) => t.replace(job('3'), job('0')), 'v3 passes its smoke test')
    const fixed = await deploy()
    expect(fixed.exitCode, fixed.stderr).to.equal(0)
    expect(await selectedSlot()).to.equal('blue')
    expect(await replicas('web-blue'), 'the new slot comes up at the scaled count').to.equal(2)
    expect((await app.json(['status', 'test'])).doc.result.services[0]).to.deep.include({service: 'web', state: 'ready', ready: 2})
  })

  realIt('blue-green with two services at once, twice: one failing check switches neither; then both switch, no request fails on either', async () => {
    // api: a copy of web (same image and config), its own Deployments and Service.
    await app.change((t) => {
      const web = /\n {2}web:\n[\s\S]*?(?=\nenvironments:)/.exec(t)?.[0] ?? ''
      return t.replace(web, `${web}${web.replace('\n  web:\n', '\n  api:\n')}`)
    }, 'api beside web')
    const strategy = '{type: blueGreen, scaleDownDelay: 5s, checks: [{http: {path: /, expect: {body: "greeting=hello"}}}]}'
    await app.change((t) => t.replaceAll('    replicas: 1\n', `    replicas: 1\n    strategy: ${strategy}\n`), 'both blue-green')
    expect((await deploy()).exitCode).to.equal(0)
    const urls = {web: await serviceUrl('web'), api: await serviceUrl('api')}
    for (const url of Object.values(urls)) await serviceAnswers(url, /^version=v1 /)
    const traffic = {web: new Traffic(urls.web), api: new Traffic(urls.api)}
    const slot = async (svc: string) => (await app.get(['service', svc])).spec.selector['skycap.dev/slot']
    const settle = () => Promise.all([settled('web'), settled('api')])
    const versions = async () => ({web: [...new Set(await sample(urls.web, 20))], api: [...new Set(await sample(urls.api, 20))]})
    let serving = 'v1'
    for (const round of [2, 3]) {
      const slots = {web: await slot('web'), api: await slot('api')}
      // api's new slot greets otherwise (its env wins over the config file): its check fails, so nothing switches.
      await app.change((t) => t.replace(/APP_VERSION: v\d+\}/g, `APP_VERSION: v${round}}`).replace(/(\n {2}api:\n[\s\S]*?env: \{)/, '$1APP_GREETING: bonjour, '), `v${round}, api broken`)
      const failed = await deploy(['--timeout', '3m'])
      expect(failed.exitCode, failed.stderr).to.equal(1)
      expect(failed.doc.error.message).to.match(/check\/http api: /)
      expect({web: await slot('web'), api: await slot('api')}, `round ${round}: nothing switched`).to.deep.equal(slots)
      await settle()
      expect(await versions()).to.deep.equal({web: [serving], api: [serving]})
      await app.change((t) => t.replace('APP_GREETING: bonjour, ', ''), `v${round}, api fixed`)
      const ok = await deploy(['--timeout', '3m'])
      expect(ok.exitCode, ok.stderr).to.equal(0)
      const other = (x: string) => (x === 'blue' ? 'green' : 'blue')
      expect({web: await slot('web'), api: await slot('api')}, `round ${round}: both switched`).to.deep.equal({web: other(slots.web), api: other(slots.api)})
      serving = `v${round}`
      await settle()
      expect(await versions()).to.deep.equal({web: [serving], api: [serving]})
    }
    await Promise.all([traffic.web.stop(), traffic.api.stop()])
    console.log(`      two services: ${traffic.web.answers.length} + ${traffic.api.answers.length} requests, ${traffic.web.failed().length + traffic.api.failed().length} failed`)
    expect([...traffic.web.failed(), ...traffic.api.failed()]).to.deep.equal([])
    expect(traffic.web.answers.length).to.be.at.least(40)
  })

  realIt(
    'web and api blue-green, shop a canary: a web slot whose probe never passes fails the release, neither Service switches, both new slots and the canary go and the state says which failed; Ctrl-C while the canary’s pods start leaves it to rollout resume',
    async () => {
      // api and shop: copies of web (same image and config), their own Deployments and Services.
      await app.change((t) => {
        const web = /\n {2}web:\n[\s\S]*?(?=\nenvironments:)/.exec(t)?.[0] ?? ''
        return t.replace(web, `${web}${web.replace('\n  web:\n', '\n  api:\n')}${web.replace('\n  web:\n', '\n  shop:\n')}`)
      }, 'api and shop beside web')
      const blueGreen = '{type: blueGreen, scaleDownDelay: 5s}'
      const strategies = [blueGreen, blueGreen, '{type: canary, steps: [{setWeight: 50}, {pause: {duration: 5s}}]}']
      await app.change((t) => {
        let i = 0
        return t.replaceAll('    replicas: 1\n', () => `    replicas: 2\n    strategy: ${strategies[i++]}\n`)
      }, 'two blue-green, one canary')
      expect((await deploy()).exitCode).to.equal(0)
      const urls = {web: await serviceUrl('web'), api: await serviceUrl('api'), shop: await serviceUrl('shop')}
      for (const url of Object.values(urls)) await serviceAnswers(url, /^version=v1 /)
      const slot = async (svc: string) => (await app.get(['service', svc])).spec.selector['skycap.dev/slot']
      /** Sets every service's version, and `extra` env of one service (by its block in skycap.yaml) only. */
      const release = (v: string, service?: string, extra?: string) =>
        app.change(
          (t) => {
            // The extra env of the release before goes.
            const text = t.replace(/env: \{[^}]*APP_VERSION: v\d+\}/g, `env: {APP_VERSION: ${v}}`)
            return service ? text.replace(new RegExp(`(\\n {2}${service}:\\n[\\s\\S]*?env: \\{)`), `$1${extra}, `) : text
          },
          `${v}${service ? ` ${service} ${extra}` : ''}`,
        )

      // v2: web's new pods never pass their readiness probe (503), api's are ready at once.
      await release('v2', 'web', 'APP_HEALTHZ: fail')
      await tag()
      const traffic = {web: new Traffic(urls.web), api: new Traffic(urls.api)}
      // api-green must be ready within it on the real node (it was blamed too once it was not).
      const failed = await deploy(['--timeout', '45s'])
      await Promise.all([traffic.web.stop(), traffic.api.stop()])
      expect(failed.exitCode, failed.stderr).to.equal(70)
      expect(failed.doc.error.message).to.match(/Deployment\/web-green: still not ready/)
      expect({web: await slot('web'), api: await slot('api')}, 'nothing switched').to.deep.equal({web: 'blue', api: 'blue'})
      expect({web: await replicas('web-green'), api: await replicas('api-green'), canary: await replicas('shop-canary')}, 'no new slot or canary left').to.deep.equal({
        web: undefined,
        api: undefined,
        canary: undefined,
      })
      const state = await rolloutState()
      expect(state.web).to.include({phase: 'failed', activeSlot: 'blue', release: 2, message: 'web-green did not become ready and was removed'})
      expect(state.api).to.include({phase: 'aborted', activeSlot: 'blue', release: 2, message: 'api-green was removed without taking traffic: release 2 failed (Deployment/web-green)'})
      const status = await app.cli(['rollout', 'status', 'test'])
      expect(status.stdout).to.not.contain('coming up')
      for (const [name, t] of Object.entries(traffic)) {
        expect(t.failed(), `${name}: failed requests`).to.deep.equal([])
        expect([...new Set(t.versions())], `${name}: the failed release never answered`).to.deep.equal(['v1'])
        expect(t.answers.length).to.be.at.least(20)
      }

      // v3: shop's canary pods take 20 s to become ready; Ctrl-C while they start.
      await release('v3', 'shop', 'APP_READY_AFTER: 20s')
      await tag()
      const p = background(['deploy', 'test'])
      await waitFor('the canary’s pod to be running, not ready', async () => {
        const pods = (await app.get(['pods', '-l', 'skycap.dev/track=canary'])).items as any[]
        return pods.some((pod) => pod.status?.containerStatuses?.[0]?.state?.running)
      })
      p.kill('SIGINT')
      const stopped = await p
      expect(stopped.exitCode, stopped.stderr).to.equal(130)
      expect((await rolloutState()).shop, 'not aborted, not failed: left for rollout resume').to.include({phase: 'progressing', step: 0, release: 4, weight: 0})
      // The step is put back to the weight recorded (0%): its pod, becoming ready after skycap exited, would have taken
      // traffic unchecked while the state said 0%.
      expect(await replicas('shop-canary'), 'put back to the weight recorded before the step').to.equal(0)
      expect(stopped.stderr).to.contain('shop: stopped during the step to 50%: back to 0% (canary 0, stable 2 pods), as recorded')
      expect((await app.json(['history', 'test'])).doc.result.releases[0]).to.include({number: 4, result: 'interrupted'})
      const resumed = await app.json(['rollout', 'resume', 'test'])
      expect(resumed.exitCode, resumed.stderr).to.equal(0)
      expect(resumed.doc.result).to.include({release: 4}).and.have.property('resumed').that.deep.equals(['shop'])
      expect(await replicas('shop-canary')).to.equal(undefined)
      expect(await replicas('shop')).to.equal(2)
      const recorded = (await app.json(['history', 'test'])).doc.result.releases[0]
      expect(recorded).to.include({number: 4, result: 'succeeded'})
      // The record written over the interrupted one says where each rollout ended, as a deploy's does (it had none).
      expect(recorded.rollouts?.shop, JSON.stringify(recorded)).to.include({type: 'canary', phase: 'completed'})
      expect((await app.cli(['history', 'test'])).stdout).to.match(/^4\s+deploy\s+succeeded\s.*shop: canary at 100%.*\(completed\)/m)
      await settled('shop')
      expect([...new Set(await sample(urls.shop, 20))], 'shop after the resume').to.deep.equal(['v3'])
    },
  )
})
