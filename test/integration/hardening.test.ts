// Issue 11 ("Hardening") on the real control plane: Secret values in kubectl's errors, an API server that goes
// away, Ctrl-C to the process group during validation, and a long `logs -f`. See docs/reliability.md.
import {expect} from 'chai'
import {execa} from 'execa'
import {existsSync} from 'node:fs'
import {join} from 'node:path'

import {cliPath} from '../helpers/repo.js'
import {ApiServerProxy} from './apiserver-proxy.js'
import {CRASH, NOT_READY, TestApp} from './app.js'
import {appendLog, kubectl, podLogFiles, useNamespace, waitFor} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']
const useContext = (context: string) => (text: string) => text.replace(/context: .*\n {4}namespace/g, `context: ${context}\n    namespace`)

/**
 * skycap.yaml of round N: `base` with web and a new api service blue-green (scaleDownDelay 1s), and with `canaryShop` a
 * canary shop (setWeight 50, a 2 s pause), each pod template carrying ROUND=N, so that every round moves each of them.
 */
const blueGreenRounds =
  (base: string, options: {apiReplicas: number; canaryShop?: boolean}) =>
  (round: number): string => {
    const blueGreen = '    strategy: {type: blueGreen, scaleDownDelay: 1s}\n'
    const shop = `  shop:\n    image: shop\n    replicas: 2\n    port: 7070\n    strategy: {type: canary, steps: [{setWeight: 50}, {pause: {duration: 2s}}]}\n    env: {ROUND: "${round}"}\n    resources: {requests: {cpu: 10m, memory: 16Mi}}\n`
    return base
      .replace(
        'services:\n  web:\n',
        `services:\n  api:\n    image: api\n    replicas: ${options.apiReplicas}\n    port: 9090\n${blueGreen}    env: {ROUND: "${round}"}\n    resources: {requests: {cpu: 10m, memory: 16Mi}}\n` +
          `${options.canaryShop ? shop : ''}  web:\n`,
      )
      .replace('    port: 8080\n', `    port: 8080\n${blueGreen}    env: {ROUND: "${round}"}\n`)
  }

describe('hardening (real cluster)', function () {
  const ns = useNamespace('harden')
  let app: TestApp
  let proxy: ApiServerProxy | undefined
  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'ithard')
  })
  afterEach(() => {
    app.remove()
    proxy?.stop()
    proxy = undefined
  })

  /** api, web and worker, read from the cluster directly: each Deployment observed, updated and available at `sha`. */
  const expectRevisionEverywhere = async (sha: string, round: string) => {
    for (const name of ['api', 'web', 'worker']) {
      const d = await app.get(['deployment', name])
      expect(d.metadata.annotations['skycap.dev/revision'], `${round} ${name}`).to.equal(sha)
      expect(d.status.observedGeneration, `${round} ${name}`).to.equal(d.metadata.generation)
      expect([d.status.updatedReplicas, d.status.availableReplicas], `${round} ${name}`).to.deep.equal([d.spec.replicas, d.spec.replicas])
    }
  }
  /** Two deploys recorded as succeeded, newest first, through the proxy; the lock released by both. */
  const expectTwoReleases = async (shas: string[]) => {
    const history = await app.json(['history', 'test'], {env: {KUBECONFIG: (proxy as ApiServerProxy).kubeconfig}})
    expect(history.doc.result.releases.map((x: any) => [x.number, x.action, x.result, x.revision.sha])).to.deep.equal([
      [2, 'deploy', 'succeeded', shas[1]],
      [1, 'deploy', 'succeeded', shas[0]],
    ])
    expect(await kubectl(['get', 'lease', 'skycap-lock-ithard', '--ignore-not-found', '-o', 'name'], {namespace: ns.name}), 'both deploys released the lock').to.have.property('stdout', '')
  }

  // Unquoted in a repository template: YAML reads a number and a mapping, and the API server refuses both for
  // stringData, quoting what it got.
  const secrets: Array<[string, string, RegExp[]]> = [
    ['a number', 'PIN: 98765432101', [/9\.?8765432101/]],
    ['a mapping', 'CONF: {password: 24681357900, user: admin-7319}', [/2\.?4681357900/, /admin-7319/]],
  ]
  for (const [what, entry, leaks] of secrets) {
    it(`hardening: a Secret's stringData value that is ${what} appears in no output of deploy (plain, --json, --verbose) or diff`, async () => {
      app.repo.write('deploy/secret.yaml', `apiVersion: v1\nkind: Secret\nmetadata:\n  name: pins\nstringData:\n  ${entry}\n`)
      await app.repo.commit('a secret')
      const runs = {
        deploy: await app.cli([...DEPLOY, 'test']),
        'deploy --json': await app.cli([...DEPLOY, 'test', '--json']),
        'deploy --verbose': await app.cli([...DEPLOY, 'test', '--verbose']),
        diff: await app.cli(['diff', 'test']),
        'diff --json': await app.cli(['diff', 'test', '--json']),
        'diff --verbose': await app.cli(['diff', 'test', '--verbose']),
      }
      for (const [name, r] of Object.entries(runs)) {
        const output = `${r.stdout}\n${r.stderr}`
        // Refused by the server dry run: invalid input, nothing changed, and a message that says what is wrong.
        expect(r.exitCode, `${name}:\n${output}`).to.equal(2)
        expect(output, name).to.match(/Secret|stringData/)
        for (const leak of leaks) expect(output, `${name} shows the value:\n${output}`).to.not.match(leak)
      }
      expect(JSON.parse(runs['deploy --json'].stdout)).to.deep.include({ok: false, exitCode: 2})
      expect(JSON.parse(runs['diff --json'].stdout)).to.deep.include({ok: false, exitCode: 2})
      expect((await kubectl(['get', 'secret', 'pins', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
    })
  }

  it('hardening: diff of a Secret applied before with client-side kubectl apply shows neither its old nor its new value (the last-applied annotation holds them)', async () => {
    const old = {apiVersion: 'v1', kind: 'Secret', metadata: {name: 'legacy', namespace: ns.name}, stringData: {TOKEN: 'oldLegacyValue-4711'}}
    await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: JSON.stringify(old)})
    app.repo.write('deploy/secret.yaml', 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: legacy\nstringData:\n  TOKEN: newSkycapValue-4712\n')
    await app.repo.commit('take over the secret')
    for (const args of [
      ['diff', 'test'],
      ['diff', 'test', '--json'],
      ['diff', 'test', '--verbose'],
    ]) {
      const r = await app.cli(args)
      const output = `${r.stdout}\n${r.stderr}`
      expect(r.exitCode, `${args.join(' ')}:\n${output}`).to.equal(1)
      expect(output).to.contain('Secret/legacy')
      expect(output).to.contain('kubectl.kubernetes.io/last-applied-configuration: (redacted)')
      for (const leak of [/oldLegacyValue/, /newSkycapValue/, /b2xkTGVnYWN5VmFsdWUtNDcxMQ/]) expect(output, `${args.join(' ')} shows a value:\n${output}`).to.not.match(leak)
    }
  })

  it('hardening: with HOME empty (a CI step), deploy leaves no .kube/ in the repository and the next deploy sees a clean work tree', async () => {
    // kubectl keeps its cache under $HOME/.kube; with HOME empty it wrote ./.kube/cache, untracked, into the repository.
    const first = await app.cli([...DEPLOY, 'test'], {env: {HOME: ''}})
    expect(first.exitCode, first.stderr).to.equal(0)
    expect(existsSync(join(app.repo.dir, '.kube')), '.kube/ in the repository').to.equal(false)
    expect(await app.repo.git('status', '--porcelain')).to.equal('')
    const second = await app.cli([...DEPLOY, 'test'], {env: {HOME: ''}})
    expect(second.exitCode, second.stderr).to.equal(0)
    expect(second.stderr).to.not.contain('uncommitted changes')
  })

  it('hardening: an API server that went down: status, history, lock status and deploy exit 4 naming the context', async () => {
    proxy = await ApiServerProxy.start('harden-down')
    await app.change(useContext(proxy.context), 'through the proxy')
    const env = {KUBECONFIG: proxy.kubeconfig}
    const up = await app.cli(['status', 'test'], {env})
    expect(up.exitCode, `the context works while the server is up:\n${up.stderr}`).to.equal(0)
    proxy.kill()
    for (const args of [
      ['status', 'test'],
      ['history', 'test'],
      ['lock', 'status', 'test'],
      [...DEPLOY, 'test'],
    ]) {
      const r = await app.cli(args, {env})
      expect(r.exitCode, `${args.join(' ')}:\n${r.stderr}`).to.equal(4)
      expect(r.stderr).to.match(/^Error: cannot reach the cluster's API server \(context harden-down\): the connection to the server 127\.0\.0\.1:\d+ was refused\n/m)
      expect(r.stderr).to.contain('kubectl cluster-info --context harden-down')
      const json = await app.json(args, {env})
      expect(json.doc, args.join(' ')).to.deep.include({ok: false, exitCode: 4})
      expect(json.doc.error.code).to.equal('unreachable')
    }
  })

  it('hardening: the API server dies during a deploy (EOF, then refused) and does not come back before the timeout: exit 4, naming the release left unrecorded and the rollback that returns to the one before', async () => {
    proxy = await ApiServerProxy.start('harden-dies')
    await app.change((t) => useContext('harden-dies')(t), 'through the proxy')
    const first = await execa('node', [cliPath, ...DEPLOY, 'test'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true', KUBECONFIG: proxy.kubeconfig}})
    expect(first.exitCode, first.stderr).to.equal(0)
    await app.change((t) => NOT_READY(t), 'never ready')
    const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '15s'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true', KUBECONFIG: proxy.kubeconfig}})
    let err = ''
    child.stderr?.on('data', (d) => (err += d))
    await waitFor('the watch to start', () => err.includes('Rolling out'), {timeoutMs: 60_000})
    proxy.kill()
    const r = await child
    expect(r.exitCode, err).to.equal(4)
    expect(err).to.match(/the API server does not answer \(.+\); what was applied goes on in the cluster, and skycap keeps asking until its timeout/)
    // The release may be live and is not recorded: said, with the rollback that returns to release 1 (without --to,
    // rollback would go back past it). It said only "what was applied goes on in the cluster".
    expect(err).to.match(
      /^Error: release 2 of test \([0-9a-f]{7}\) may be live and is not recorded: cannot reach the cluster's API server \(context harden-dies\): .+; it has not answered for \d+s, and the time is up$/m,
    )
    expect(err).to.contain(
      'Once the API server answers, `skycap status test` shows what runs, and the next deploy records what it applies; `skycap rollback test --to 1` returns to the release it replaced',
    )
  })

  it('hardening: the API server stops answering during a rollout of three services, twice (5 s, then 24 s across a lock renewal): each deploy waits, says so, keeps its lock and succeeds', async function () {
    this.timeout(240_000)
    proxy = await ApiServerProxy.start('harden-blip')
    const base = useContext('harden-blip')(app.config)
    // Three services whose new pods count as available only after minReadySeconds: the rollout is still moving when
    // the API server goes away, and the controller finishes it while skycap cannot look.
    const threeSlow = (seconds: number, round: number) =>
      base
        .replace('services:\n  web:\n', `services:\n  api:\n    image: api\n    replicas: 2\n    minReadySeconds: ${seconds}\n    resources: {requests: {cpu: 10m, memory: 16Mi}}\n  web:\n`)
        .replace('    port: 8080\n', `    port: 8080\n    minReadySeconds: ${seconds}\n`)
        .replace('    healthcheck: {command: [/bin/true]}\n', `    healthcheck: {command: [/bin/true]}\n    minReadySeconds: ${seconds}\n`)
        .concat(`# round ${round}\n`)
    const shas: string[] = []
    for (const [round, outageMs] of [
      [1, 5_000],
      [2, 24_000],
    ] as const) {
      const sha = await app.change(() => threeSlow(10, round), `round ${round}`)
      shas.push(sha)
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '2m'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true', KUBECONFIG: proxy.kubeconfig}})
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      await waitFor('the watch to start', () => err.includes('Rolling out'), {timeoutMs: 60_000})
      proxy.kill()
      await new Promise((r) => setTimeout(r, outageMs))
      await proxy.revive()
      const r = await child
      expect(r.exitCode, `round ${round}:\n${err}`).to.equal(0)
      expect(err, `round ${round}`).to.match(/the API server does not answer \(.+\); what was applied goes on in the cluster/)
      expect(err, `round ${round}`).to.match(/the API server answers again, after \d+s without/)
      // Round 2's outage spans the lock's first renewal (20 s after it was taken): failed, retried, not "lost".
      expect(err, `round ${round}`).not.to.contain('no longer held')
      // Judged from the cluster itself, not through the proxy: every Deployment's controller saw this revision through.
      await expectRevisionEverywhere(sha, `round ${round}`)
    }
    await expectTwoReleases(shas)
  })

  it('hardening: the API server hangs (takes connections, answers nothing) through a rollout of web and worker and past --timeout 25s, twice: the deploy ends near its timeout, not when the server answers again, and says how long it went unanswered (it said 0s)', async function () {
    this.timeout(300_000)
    proxy = await ApiServerProxy.start('harden-hang')
    const base = useContext('harden-hang')(app.config)
    for (const round of [1, 2]) {
      // Both services slow to become available: the watch is still polling when the server hangs.
      await app.change(
        () =>
          base
            .replace('    port: 8080\n', '    port: 8080\n    minReadySeconds: 20\n')
            .replace('    healthcheck: {command: [/bin/true]}\n', '    healthcheck: {command: [/bin/true]}\n    minReadySeconds: 20\n') + `# round ${round}\n`,
        `round ${round}`,
      )
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '25s'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true', KUBECONFIG: proxy.kubeconfig}})
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      await waitFor('the watch to start', () => err.includes('Rolling out'), {timeoutMs: 60_000})
      const hungAt = Date.now()
      proxy.hang()
      let ended = 0
      void child.then(() => (ended = Date.now()))
      // The server stays hung for 90 s: the deploy must not wait for it.
      await waitFor('the deploy to end', () => ended > 0, {timeoutMs: 90_000, intervalMs: 200}).catch(() => undefined)
      proxy.resume()
      const r = await child
      const took = (ended || Date.now()) - hungAt
      expect(r.exitCode, `round ${round}:\n${err}`).to.equal(4)
      // Its 25 s, the watch's last poll stopped at the deadline, and the lock's release within 10 s a call.
      expect(took, `round ${round}: ended ${took} ms after the hang\n${err}`).to.be.below(65_000)
      expect(err, `round ${round}`).to.match(/the API server does not answer \(.+\); what was applied goes on in the cluster/)
      const [, unanswered] = /it has not answered for (\d+)s, and the time is up/.exec(err) ?? []
      expect(Number(unanswered), `round ${round}:\n${err}`).to.be.at.least(10)
      // The lock, not released through the hung server, is taken off for the next round.
      await kubectl(['delete', 'lease', 'skycap-lock-ithard', '--ignore-not-found'], {namespace: ns.name})
    }
  })

  it('hardening: the API server hangs as the automatic rollback of a crash-looping release begins, twice: the rollback fails at its own deadline and the error says the failed release was not rolled back (it exited 4, "what was applied goes on")', async function () {
    this.timeout(400_000)
    proxy = await ApiServerProxy.start('harden-hang-rb')
    const base = useContext('harden-hang-rb')(app.config)
    const through = {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true', KUBECONFIG: proxy.kubeconfig}}
    for (const round of [1, 2]) {
      await app.change(() => `${base}# good ${round}\n`, `round ${round}: good`)
      const good = await execa('node', [cliPath, ...DEPLOY, 'test'], through)
      expect(good.exitCode, good.stderr).to.equal(0)
      const before = (await execa('node', [cliPath, 'history', 'test', '--json'], through)).stdout
      const last = JSON.parse(before).result.releases[0].number as number
      await app.change(() => `${CRASH(base)}# crash ${round}\n`, `round ${round}: web crash-loops`)
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '20s'], through)
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      await waitFor('the automatic rollback to begin', () => err.includes('Rolling back to release'), {timeoutMs: 90_000, intervalMs: 50})
      proxy.hang()
      let ended = 0
      void child.then(() => (ended = Date.now()))
      await waitFor('the deploy to end', () => ended > 0, {timeoutMs: 150_000, intervalMs: 200}).catch(() => undefined)
      proxy.resume()
      const r = await child
      expect(r.exitCode, `round ${round}:\n${err}`).to.equal(1)
      expect(err, `round ${round}`).to.match(
        new RegExp(`Error: release ${last + 1} of test failed: Deployment/web: .*; the rollback to release ${last} failed too \\(the API server: cannot reach the cluster's API server`),
      )
      await kubectl(['delete', 'lease', 'skycap-lock-ithard', '--ignore-not-found'], {namespace: ns.name})
    }
  })

  it('hardening: the API server stops answering while the release of three services is applied, twice: each deploy waits, applies it once it answers, and succeeds (it exited 4 half-applied, unrecorded)', async function () {
    this.timeout(240_000)
    // A slow link: each apply takes a few seconds, so the outage begun at "Deploying release" meets it.
    proxy = await ApiServerProxy.start('harden-apply', {delayMs: 300})
    const base = useContext('harden-apply')(app.config)
    const three = (round: number) =>
      base.replace('services:\n  web:\n', `services:\n  api:\n    image: api\n    replicas: 2\n    resources: {requests: {cpu: 10m, memory: 16Mi}}\n  web:\n`).concat(`# round ${round}\n`)
    const shas: string[] = []
    for (const [round, afterMs] of [
      [1, 0],
      [2, 400],
    ] as const) {
      const sha = await app.change(() => three(round), `round ${round}`)
      shas.push(sha)
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '2m'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true', KUBECONFIG: proxy.kubeconfig}})
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      await waitFor('the release to be applied', () => err.includes('Deploying release'), {timeoutMs: 120_000})
      await new Promise((r) => setTimeout(r, afterMs))
      proxy.kill()
      await new Promise((r) => setTimeout(r, 6_000))
      await proxy.revive()
      const r = await child
      expect(r.exitCode, `round ${round}:\n${err}`).to.equal(0)
      // Lost while applying (not in the watch that follows), then the apply made again: the rollout after it.
      const lost = err.indexOf('skycap applies the release once it answers again')
      expect(lost, `round ${round}:\n${err}`).to.be.above(err.indexOf('Deploying release'))
      expect(err.indexOf('Rolling out'), `round ${round}:\n${err}`).to.be.above(lost)
      expect(err, `round ${round}`).to.match(/the API server answers again, after \d+s without/)
      await expectRevisionEverywhere(sha, `round ${round}`)
    }
    await expectTwoReleases(shas)
  })

  it('hardening: the API server stops answering as a deploy prunes a removed service, twice: the release is recorded once it answers (it exited 4, live and unrecorded), and what was not pruned the next deploy prunes', async function () {
    this.timeout(240_000)
    proxy = await ApiServerProxy.start('harden-record', {delayMs: 300})
    const base = useContext('harden-record')(app.config)
    const extra = (name: string) => `  ${name}:\n    image: ${name}\n    replicas: 1\n    resources: {requests: {cpu: 10m, memory: 16Mi}}\n`
    const withServices = (names: string[], round: number) => base.replace('services:\n', `services:\n${names.map(extra).join('')}`).concat(`# round ${round}\n`)
    const env = {KUBECONFIG: proxy.kubeconfig}
    await app.change(() => withServices(['api', 'cache'], 0), 'api and cache')
    const first = await app.cli([...DEPLOY, 'test'], {env})
    expect(first.exitCode, first.stderr).to.equal(0)
    const shas: string[] = []
    for (const [round, kept] of [
      [1, ['cache']],
      [2, []],
    ] as const) {
      const sha = await app.change(() => withServices([...kept], round), `round ${round}`)
      shas.push(sha)
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '2m'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true', ...env}})
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      await waitFor('the prune', () => err.includes('Pruning'), {timeoutMs: 120_000})
      proxy.kill()
      await new Promise((r) => setTimeout(r, 6_000))
      await proxy.revive()
      const r = await child
      expect(r.exitCode, `round ${round}:\n${err}`).to.equal(0)
      expect(err, `round ${round}`).to.contain('the release runs; skycap records it once it answers again')
      expect(err, `round ${round}`).to.match(/the API server answers again, after \d+s without/)
      expect(err, `round ${round}`).to.match(new RegExp(`Release ${round + 1} of ithard test is live`))
    }
    const history = await app.json(['history', 'test'], {env})
    expect(history.doc.result.releases.map((x: any) => [x.number, x.action, x.result, x.revision.sha])).to.deep.equal([
      [3, 'deploy', 'succeeded', shas[1]],
      [2, 'deploy', 'succeeded', shas[0]],
      [1, 'deploy', 'succeeded', history.doc.result.releases[2].revision.sha],
    ])
    // What a cut-off prune left (each round's prune met the outage), the next deploy prunes.
    await app.change(() => withServices([], 3), 'round 3')
    const last = await app.cli([...DEPLOY, 'test'], {env})
    expect(last.exitCode, last.stderr).to.equal(0)
    const left = await kubectl(['get', 'deployments', '-o', 'jsonpath={.items[*].metadata.name}'], {namespace: ns.name})
    expect(left.stdout.split(' ').sort()).to.deep.equal(['web', 'worker'])
    expect(await kubectl(['get', 'lease', 'skycap-lock-ithard', '--ignore-not-found', '-o', 'name'], {namespace: ns.name}), 'every deploy released the lock').to.have.property('stdout', '')
  })

  it('hardening: the API server stops answering as blue-green web and api switch, then as canary shop pauses: each deploy waits, makes the step again once it answers, and completes every service (it exited 4, traffic half moved, unrecorded)', async function () {
    this.timeout(300_000)
    proxy = await ApiServerProxy.start('harden-switch', {delayMs: 100})
    const base = useContext('harden-switch')(app.config)
    const env = {KUBECONFIG: proxy.kubeconfig}
    // Every service's pod template changes each round (ROUND): blue-green goes to the other slot, the canary steps.
    const release = blueGreenRounds(base, {apiReplicas: 2, canaryShop: true})
    const shas = [await app.change(() => release(0), 'round 0')]
    const first = await app.cli([...DEPLOY, 'test'], {env})
    expect(first.exitCode, first.stderr).to.equal(0)
    for (const [round, cutAt] of [
      [1, 'Switching api to green, web to green'],
      // Its pause asks for a promote or an abort every second: a call the 6 s outage surely meets.
      [2, 'shop: paused at 50%'],
      [3, 'Switching api to green, web to green'],
    ] as const) {
      const sha = await app.change(() => release(round), `round ${round}`)
      shas.push(sha)
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '2m'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true', ...env}})
      let err = ''
      // Cut the moment the line arrives, while its step runs: polled every 500 ms, the cut came late enough under
      // CI's load to meet a later step, or none (the record's own wait then said what was lost).
      let cut = false
      const live = proxy
      child.stderr?.on('data', (d) => {
        err += d
        if (!cut && err.includes(cutAt)) {
          live.kill()
          cut = true
        }
      })
      await waitFor(`"${cutAt}"`, () => cut, {timeoutMs: 150_000, intervalMs: 50}).catch((error: Error) => {
        throw new Error(`${error.message}; the deploy said:\n${err}`)
      })
      await new Promise((r) => setTimeout(r, 6_000))
      await proxy.revive()
      const r = await child
      expect(r.exitCode, `round ${round}:\n${err}`).to.equal(0)
      // Met by the step itself (the switch, the canary's scale), not by a watch: the rollout's own words, after the cut.
      const lost = err.indexOf('skycap takes the rollout on once it answers, until its timeout')
      expect(lost, `round ${round}:\n${err}`).to.be.above(err.indexOf(cutAt))
      expect(err, `round ${round}`).to.match(/the API server answers again, after \d+s without/)
      // Read from the cluster, not through skycap: each Service selects the slot whose Deployment runs this revision,
      // observed by its controller with every pod available; shop runs it with its canary gone.
      for (const service of ['web', 'api']) {
        const slot = (await app.get(['service', service])).spec.selector['skycap.dev/slot']
        expect(slot, `round ${round} ${service}`).to.equal(round % 2 ? 'green' : 'blue')
        const d = await app.get(['deployment', `${service}-${slot}`])
        expect(d.metadata.annotations['skycap.dev/revision'], `round ${round} ${service}-${slot}`).to.equal(sha)
        expect(d.status.observedGeneration, `round ${round} ${service}-${slot}`).to.equal(d.metadata.generation)
        expect(d.status.availableReplicas, `round ${round} ${service}-${slot}`).to.equal(2)
      }
      const shop = await app.get(['deployment', 'shop'])
      expect(shop.metadata.annotations['skycap.dev/revision'], `round ${round} shop`).to.equal(sha)
      expect((await kubectl(['get', 'deployment', 'shop-canary', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout, `round ${round}: the canary is gone`).to.equal('')
      const status = await app.json(['rollout', 'status', 'test'], {env})
      expect(status.doc.result.services.web, `round ${round}`).to.include({phase: 'completed', activeSlot: round % 2 ? 'green' : 'blue', release: round + 1})
      expect(status.doc.result.services.api, `round ${round}`).to.include({phase: 'completed', activeSlot: round % 2 ? 'green' : 'blue', release: round + 1})
      expect(status.doc.result.services.shop, `round ${round}`).to.include({phase: 'completed', weight: 100, release: round + 1})
    }
    const history = await app.json(['history', 'test'], {env})
    expect(history.doc.result.releases.map((x: any) => [x.number, x.action, x.result, x.revision.sha])).to.deep.equal([4, 3, 2, 1].map((n) => [n, 'deploy', 'succeeded', shas[n - 1]]))
    expect(await kubectl(['get', 'lease', 'skycap-lock-ithard', '--ignore-not-found', '-o', 'name'], {namespace: ns.name}), 'every deploy released the lock').to.have.property('stdout', '')
  })

  it('hardening: Ctrl-C while a deploy waits out an API server that stopped answering: before the apply it ends at once (exit 130, the lock left to expire, said so); at the blue-green switch the release is recorded as interrupted once the server answers, and the lock released', async function () {
    this.timeout(420_000)
    proxy = await ApiServerProxy.start('harden-stop', {delayMs: 100})
    const base = useContext('harden-stop')(app.config)
    const env = {KUBECONFIG: proxy.kubeconfig}
    const release = blueGreenRounds(base, {apiReplicas: 1})
    await app.change(() => release(0), 'round 0')
    const first = await app.cli([...DEPLOY, 'test'], {env})
    expect(first.exitCode, first.stderr).to.equal(0)
    /**
     * Round `round`'s deploy, stopped by a Ctrl-C once it waits for the server it lost after `cutAt`; `meanwhile` runs
     * after the Ctrl-C (it may bring the server back); the server is back once the deploy has ended.
     */
    const interrupt = async (round: number, cutAt: string, meanwhile: (err: () => string, revive: () => Promise<void>) => Promise<void>) => {
      let revived = false
      const revive = async () => {
        if (!revived) await proxy?.revive()
        revived = true
      }
      await app.change(() => release(round), `round ${round}`)
      // --wait-for-lock: a deploy stopped while the server did not answer could not release its lock; it expires.
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '3m', '--wait-for-lock', '2m'], {
        cwd: app.repo.dir,
        reject: false,
        detached: true,
        env: {NO_COLOR: '1', CI: 'true', ...env},
      })
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      const said = (what: string, seen: () => boolean) =>
        waitFor(what, seen, {timeoutMs: 150_000}).catch((error: Error) => {
          throw new Error(`${error.message}; the deploy said:\n${err}`)
        })
      await said(`"${cutAt}"`, () => err.includes(cutAt))
      proxy?.kill()
      // The deploy is waiting for the server (it says so), not failing: the Ctrl-C lands in that wait.
      await said('the outage to be met', () => err.includes('the API server does not answer'))
      const sent = Date.now()
      process.kill(-(child.pid as number), 'SIGINT')
      await meanwhile(() => err, revive)
      const r = await child
      await revive()
      expect(r.exitCode, `round ${round}, Ctrl-C after "${cutAt}":\n${err}`).to.equal(130)
      return {err, tookMs: Date.now() - sent}
    }

    // Before the apply: nothing to record, so it ends at once; the lock could not be released, and it says so.
    const before = await interrupt(1, 'Deploying release', async () => undefined)
    // Before, the wait asked the server again after the Ctrl-C (a call that hangs rather than being refused kept the
    // user waiting up to kubectl's 30 s request timeout); well under the 5 s between two asks.
    expect(before.tookMs, `exit ${before.tookMs} ms after the Ctrl-C:\n${before.err}`).to.be.below(5000)
    expect(before.err).to.match(/^Error: interrupted/m)
    expect(before.err).to.match(/could not release the lock: .*; it expires on its own within 60s/)
    expect(before.err, 'it said the lock was released when it was not').to.not.contain('the lock was released')

    // At the switch: the release was applied, so it is recorded (the server is back within the 30 s the record waits),
    // then the lock is released, and the error says so. The deploy waits for round 1's lock to expire first.
    const atSwitch = await interrupt(2, 'Switching api to green, web to green', async (err, revive) => {
      await waitFor('the record to wait for the server', () => err().includes('skycap records it once it answers again'), {timeoutMs: 30_000})
      await revive()
    })
    expect(atSwitch.err).to.match(/^Error: deploy of test interrupted; the lock was released and the rollout left as it was/m)
    expect(atSwitch.err).to.not.contain('could not release the lock')
    const history = await app.json(['history', 'test'], {env})
    expect(history.doc.result.releases.map((x: any) => [x.number, x.result])).to.deep.equal([
      [2, 'interrupted'],
      [1, 'succeeded'],
    ])
    expect(await kubectl(['get', 'lease', 'skycap-lock-ithard', '--ignore-not-found', '-o', 'name'], {namespace: ns.name}), 'released after the record').to.have.property('stdout', '')

    // Nothing is left held for good: a deploy once the server answers converges, each Service selecting the slot that
    // runs the last revision, observed by its controller.
    const sha = await app.change(() => release(9), 'after the outages')
    const last = await app.cli([...DEPLOY, 'test'], {env})
    expect(last.exitCode, last.stderr).to.equal(0)
    for (const [service, want] of [
      ['web', 2],
      ['api', 1],
    ] as const) {
      const slot = (await app.get(['service', service])).spec.selector['skycap.dev/slot']
      const d = await app.get(['deployment', `${service}-${slot}`])
      expect(d.metadata.annotations['skycap.dev/revision'], service).to.equal(sha)
      expect(d.status.observedGeneration, service).to.equal(d.metadata.generation)
      expect([d.spec.replicas, d.status.availableReplicas], service).to.deep.equal([want, want])
    }
    expect(await kubectl(['get', 'lease', 'skycap-lock-ithard', '--ignore-not-found', '-o', 'name'], {namespace: ns.name}), 'the last deploy released the lock').to.have.property('stdout', '')
  })

  it('hardening: Ctrl-C to the process group during validation exits 130 every time, and changes nothing', async () => {
    // Requests to the API server take a while (a slow link), so every Ctrl-C lands while a kubectl of the validation
    // runs: kubectl dies of the SIGINT too, at the same moment as skycap gets it.
    proxy = await ApiServerProxy.start('harden-slow', {delayMs: 300})
    await app.change(useContext('harden-slow'), 'through a slow proxy')
    for (const delayMs of [0, 300, 700, 1200, 2000]) {
      const child = execa('node', [cliPath, ...DEPLOY, 'test'], {cwd: app.repo.dir, reject: false, detached: true, env: {NO_COLOR: '1', CI: 'true', KUBECONFIG: proxy.kubeconfig}})
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      await waitFor('validation to start', () => err.includes('Validating'), {timeoutMs: 60_000})
      await new Promise((r) => setTimeout(r, delayMs))
      // What a terminal does on Ctrl-C: SIGINT to every process of the foreground group (skycap and its kubectl).
      process.kill(-(child.pid as number), 'SIGINT')
      const r = await child
      expect(r.exitCode, `Ctrl-C ${delayMs} ms into validation:\n${err}`).to.equal(130)
      expect(err).to.contain('Received SIGINT')
      expect(err).to.match(/^Error: interrupted/m)
      expect(err, 'still validating when interrupted').to.not.contain('Deploying release')
      expect(err).to.not.match(/kubectl [a-z ]*failed|Command was killed/)
    }
    const left = await kubectl(['get', 'deployments,services,configmaps,secrets,leases', '-l', 'app.kubernetes.io/part-of=ithard', '-o', 'name'], {namespace: ns.name})
    expect(left.stdout.trim(), 'nothing was changed').to.equal('')
    expect((await kubectl(['get', 'lease', 'skycap-lock-ithard', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
  })

  it('hardening: logs -f through an API server that stops answering for a while: it says so, waits, and follows again from the last line shown, twice', async function () {
    this.timeout(180_000)
    proxy = await ApiServerProxy.start('harden-logs')
    await app.change(useContext(proxy.context), 'through the proxy')
    const env = {NO_COLOR: '1', KUBECONFIG: proxy.kubeconfig}
    const files = await podLogFiles(ns.name)
    await appendLog(files.current, ['starting web'])
    expect((await app.cli([...DEPLOY, 'test'], {env})).exitCode).to.equal(0)
    const child = execa('node', [cliPath, 'logs', 'web', '-f'], {cwd: app.repo.dir, reject: false, env})
    let out = ''
    let err = ''
    child.stdout?.on('data', (d) => (out += d))
    child.stderr?.on('data', (d) => (err += d))
    const count = (line: string) => (out.match(new RegExp(`│ ${line}$`, 'gm')) ?? []).length
    await waitFor('lines of both pods', () => count('starting web') >= 2, {timeoutMs: 60_000})
    for (const round of [1, 2]) {
      proxy.kill()
      await waitFor(`round ${round}: the lost API server said`, () => (err.match(/the API server does not answer/g) ?? []).length >= round, {timeoutMs: 30_000})
      // Written while skycap cannot read: shown once the API server answers again, from where each stream stopped.
      await appendLog(files.current, [`during outage ${round}`])
      await new Promise((r) => setTimeout(r, 3000))
      await proxy.revive()
      await waitFor(`round ${round}: back`, () => (err.match(/the API server answers again/g) ?? []).length >= round, {timeoutMs: 30_000})
      await appendLog(files.current, [`after outage ${round}`])
      await waitFor(`round ${round}: both lines of both pods`, () => count(`during outage ${round}`) >= 2 && count(`after outage ${round}`) >= 2, {timeoutMs: 30_000})
    }
    child.kill('SIGINT')
    const r = await child
    expect(r.exitCode, err).to.equal(0)
    // Each line once per pod: a resumed stream starts after the last line it showed, not from the --tail again.
    for (const line of ['starting web', 'during outage 1', 'after outage 1', 'during outage 2', 'after outage 2']) expect(count(line), `${line}\n${out}`).to.equal(2)
    expect(err).to.match(/warning: the API server does not answer \(.+\); skycap keeps asking and follows again once it answers \(Ctrl-C to stop\)/)
  })

  it('hardening: logs -f over many polls holds its listeners: no MaxListenersExceededWarning', async () => {
    const files = await podLogFiles(ns.name)
    await appendLog(files.current, ['starting web'])
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    // --verbose prints each poll's `kubectl get pods`, so the test knows how many polls ran (one per 2 s).
    const child = execa('node', [cliPath, 'logs', 'web', '-f', '--verbose'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1'}})
    let out = ''
    let err = ''
    child.stdout?.on('data', (d) => (out += d))
    child.stderr?.on('data', (d) => (err += d))
    const polls = () => err.split('\n').filter((l) => / get pods -l /.test(l)).length
    await waitFor('lines of both pods', () => (out.match(/│ starting web/g) ?? []).length >= 2, {timeoutMs: 60_000})
    // Node warns at the 11th listener on one signal; before the fix each poll left one behind.
    await waitFor('20 polls', () => polls() >= 20, {timeoutMs: 120_000, intervalMs: 1000})
    await appendLog(files.current, ['still following'])
    await waitFor('a line written after the polls', () => (out.match(/│ still following/g) ?? []).length >= 2, {timeoutMs: 30_000})
    child.kill('SIGINT')
    const r = await child
    expect(r.exitCode, err).to.equal(0)
    expect(err).to.not.match(/MaxListenersExceededWarning|memory leak/)
  })
})
