// The built CLI against real containers: the test app (test/app/server) on the cluster's real node (kubelet +
// containerd + kube-proxy, see test/cluster/README.md). Probes are real HTTP requests, crashes are real processes
// exiting, logs are what the process printed, Services are kube-proxy's iptables rules.
import {once} from 'node:events'
import {mkdirSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'
import {expect} from 'chai'
import {execa} from 'execa'

import {cliPath} from '../helpers/repo.js'
import {TestApp} from './app.js'
import {captureOutput, httpGet, kubectl, realNode, registryHostsDir, serviceAnswers, tagTestAppImage, useNamespace, waitFor} from './harness.js'

const ENV = (v: string, extra: string) => (text: string) => text.replace('env: {APP_VERSION: v1}', `env: {APP_VERSION: ${v}, ${extra}}`)

/** A second service for test/fixtures/real-app: the test app without a port, noisy (a DEBUG line every 50 ms). */
const WORKER = [
  '  worker:',
  '    image: app',
  '    replicas: 1',
  '    env: {APP_VERSION: w1, APP_NOISE: 50ms}',
  '    resources: {requests: {cpu: 10m, memory: 16Mi}}',
  '    terminationGracePeriodSeconds: 2',
  '    nodeSelector: {skycap.test/real-node: "true"}',
  '    tolerations: [{key: skycap.test/real-node, operator: Exists, effect: NoSchedule}]',
  '    podTemplate:',
  '      spec: {dnsPolicy: Default, automountServiceAccountToken: false}',
  '',
].join('\n')

/** A service `side` on a kwok node (added to skycap.yaml's services), crash-looping with `crash` (kwok's behaviour label). */
const sideService = (crash: boolean) => (text: string) =>
  text.replace(
    'environments:\n',
    `  side:\n    image: app\n    replicas: 1\n    resources: {requests: {cpu: 10m, memory: 16Mi}}\n${crash ? '    labels: {sim.kwok.test/behavior: crashloop}\n' : ''}environments:\n`,
  )

describe('real node: the test app in real containers', function () {
  const ns = useNamespace('real')
  let app: TestApp
  // Each test makes its app itself, not in a hook: without a real node every test fails with realNode()'s message
  // (a failing beforeEach would leave the other tests unreported).
  function realIt(title: string, test: () => Promise<void>) {
    it(title, async () => {
      app = await TestApp.createReal(ns.name, 'rlnode')
      try {
        await test()
      } finally {
        app.remove()
      }
    })
  }

  /** Tags the image for HEAD, as a CI job would push it, and deploys with --json. */
  async function deploy(args: string[] = []) {
    await tagTestAppImage(await app.repo.git('rev-parse', 'HEAD'))
    return app.json(['deploy', 'test', ...args])
  }

  async function pods(): Promise<any[]> {
    return (await app.get(['pods', '-l', 'app.kubernetes.io/name=web'])).items
  }

  async function serviceUrl(): Promise<string> {
    const svc = await app.get(['service', 'web'])
    return `http://${svc.spec.clusterIP}:${svc.spec.ports[0].port}/`
  }

  realIt('a deploy becomes ready through a real HTTP readiness probe, on the real node', async () => {
    // /healthz answers 503 for the first 3 s: the pod may only turn Ready after that.
    app.repo.write('config/web/app.properties', 'greeting=hello\nready_after=3s\n')
    await app.repo.commit('slow to become ready')
    const r = await deploy()
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.doc.result).to.include({result: 'succeeded', release: 1})
    const [pod, ...others] = await pods()
    expect(others).to.have.length(0)
    expect(pod.spec.nodeName).to.equal(realNode().node)
    const started = Date.parse(pod.status.containerStatuses[0].state.running.startedAt)
    const ready = Date.parse(pod.status.conditions.find((c: any) => c.type === 'Ready').lastTransitionTime)
    // Both are whole seconds: 3 s of failing probes leave at least 2 s between them.
    expect(ready - started, `started ${pod.status.containerStatuses[0].state.running.startedAt}, ready ${ready}`).to.be.at.least(2000)
    expect(pod.status.containerStatuses[0]).to.include({ready: true, restartCount: 0})
    const events = (await kubectl(['get', 'events', '--field-selector', `involvedObject.name=${pod.metadata.name},reason=Unhealthy`, '-o', 'name'], {namespace: ns.name})).stdout
    expect(events, 'the kubelet logged failed readiness probes while the app was starting').to.not.equal('')
    const answer = await httpGet(`http://${pod.status.podIP}:8080/`)
    expect(answer).to.deep.equal({status: 200, body: `version=v1 greeting=hello host=${pod.metadata.name}\n`})
  })

  realIt(
    '`lock release --force` during a deploy and a second deploy meanwhile: each is recorded under a number of its own (they shared one); a replaced rollout fails and is not rolled back; two services, twice each',
    async () => {
      // Two services move in every deploy: web (slow to become ready) and worker.
      await app.change((text) => text.replace('\nenvironments:', `\n${WORKER}environments:`), 'and a worker')
      expect((await deploy()).exitCode).to.equal(0)
      const revisions = async () => Promise.all(['web', 'worker'].map(async (d) => (await app.get(['deployment', d])).metadata.annotations['skycap.dev/revision'] as string))
      for (const round of [1, 2]) {
        // Slow to become ready: the first deploy is still watching when the lock is taken from it.
        app.repo.write('config/web/app.properties', `greeting=round${round}\nready_after=6s\n`)
        const sha = await app.repo.commit(`round ${round}: slow to become ready`)
        await tagTestAppImage(sha)
        const before = (await app.json(['history', 'test'])).doc.result.releases[0].number as number
        const first = app.json(['deploy', 'test'])
        await waitFor('the first deploy to hold the lock', async () => (await app.json(['lock', 'status', 'test'])).doc.result.lock !== null, {timeoutMs: 60_000, intervalMs: 200})
        expect((await app.cli(['lock', 'release', 'test', '--force'])).exitCode).to.equal(0)
        const [a, b] = await Promise.all([first, app.json(['deploy', 'test'])])
        expect(a.exitCode, `round ${round}: ${a.stderr}`).to.equal(0)
        expect(b.exitCode, `round ${round}: ${b.stderr}`).to.equal(0)
        // Whichever recorded second took the next number, and said so.
        const numbers = [a.doc.result.release as number, b.doc.result.release as number].sort((x, y) => x - y)
        expect(numbers, `round ${round}`).to.deep.equal([before + 1, before + 2])
        const said = [a, b].filter((r) => r.stderr.includes(`release ${before + 1} of test was recorded by another command while this deploy ran`))
        expect(said, `round ${round}: ${a.stderr}\n${b.stderr}`).to.have.length(1)
        expect(said[0]?.stderr).to.include(`this deploy is recorded as release ${before + 2}`)
        // --json says it too: the number taken, beside the one recorded.
        expect([a, b].map((r) => `${r.doc.result.release} ${r.doc.result.renumberedFrom}`).sort(), `round ${round}`).to.deep.equal([`${before + 1} undefined`, `${before + 2} ${before + 1}`])
        const releases = (await app.json(['history', 'test'])).doc.result.releases as Array<{number: number; result: string; revision: {sha: string}}>
        expect(
          releases.slice(0, 3).map((r) => `${r.number} ${r.result} ${r.revision.sha === sha}`),
          `round ${round}`,
        ).to.deep.equal([`${before + 2} succeeded true`, `${before + 1} succeeded true`, `${before} succeeded false`])
        expect((await app.json(['lock', 'status', 'test'])).doc.result.lock, `round ${round}: the lock is free again`).to.equal(null)
        expect(await revisions(), `round ${round}: what the cluster runs`).to.deep.equal([sha, sha])
      }
      // Two revisions: the second deploy's rollout replaces the first's, which fails as replaced (its watch passed on the
      // other's pods, exit 0) and is not rolled back (that would undo the second's); the cluster runs the second's.
      for (const round of [3, 4]) {
        app.repo.write('config/web/app.properties', `greeting=round${round}\nready_after=6s\n`)
        const first = await app.repo.commit(`round ${round}: first`)
        await tagTestAppImage(first)
        app.repo.write('config/web/app.properties', `greeting=round${round}b\nready_after=2s\n`)
        const second = await app.repo.commit(`round ${round}: second`)
        await tagTestAppImage(second)
        const before = (await app.json(['history', 'test'])).doc.result.releases[0].number as number
        const a = app.json(['deploy', `test@${first}`])
        await waitFor('the first deploy to hold the lock', async () => (await app.json(['lock', 'status', 'test'])).doc.result.lock !== null, {timeoutMs: 60_000, intervalMs: 200})
        expect((await app.cli(['lock', 'release', 'test', '--force'])).exitCode).to.equal(0)
        const [replaced, b] = await Promise.all([a, app.json(['deploy', `test@${second}`])])
        expect(b.exitCode, `round ${round}: ${b.stderr}`).to.equal(0)
        expect(replaced.exitCode, `round ${round}: ${replaced.stderr}`).to.equal(1)
        expect(replaced.doc.error.message).to.match(
          new RegExp(`^release \\d+ of test failed: Deployment/(web|worker): replaced while this rollout ran: it now runs revision ${second.slice(0, 12)}, applied by another command`),
        )
        expect(replaced.doc.error.message).to.contain('not rolled back (the lock of test was taken by another command (released by hand): a rollback would undo what it deployed)')
        expect(await revisions(), `round ${round}: the second's release runs, both services`).to.deep.equal([second, second])
        const releases = (await app.json(['history', 'test'])).doc.result.releases as Array<{number: number; result: string; revision: {sha: string}}>
        const recorded = releases.filter((r) => r.number > before).map((r) => `${r.result} ${r.revision.sha === first ? 'first' : r.revision.sha === second ? 'second' : '?'}`)
        expect(recorded.sort(), `round ${round}`).to.deep.equal(['failed first', 'succeeded second'])
        expect(new Set(releases.map((r) => r.number)).size).to.equal(releases.length)
      }
    },
  )

  realIt('a release whose /healthz fails is never ready, is explained and rolled back; / answers the old version throughout', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    const url = await serviceUrl()
    await serviceAnswers(url, /^version=v1 /)
    await app.change(ENV('v2', 'APP_HEALTHZ: fail'), 'v2 is unhealthy')
    // Requests through the Service during the whole deploy and rollback.
    const answers: string[] = []
    let polling = true
    const poller = (async () => {
      while (polling) {
        answers.push(
          await httpGet(url).then(
            (a) => a.body,
            (e: Error) => `error: ${e.message}`,
          ),
        )
        await new Promise((res) => setTimeout(res, 200))
      }
    })()
    // The real kubelet starts v2, its probe fails and says so, and the rollback must succeed: 15 s was tight under load.
    const r = await deploy(['--timeout', '30s'])
    polling = false
    await poller
    expect(r.exitCode, r.stderr).to.equal(70)
    expect(r.doc.error.code).to.equal('timeout')
    const report = r.doc.error.details.report
    expect(report.failures[0].message).to.match(/readiness check does not pass/)
    expect(report.failures[0].events.map((e: {message: string}) => e.message).join('\n')).to.match(/Readiness probe failed: HTTP probe failed with statuscode: 503/)
    expect(report.failures[0].events.find((e: {reason: string}) => e.reason === 'Unhealthy')).to.include({type: 'Warning'})
    // The never-ready container's own last lines (a timeout showed none): what the app printed, its probe requests and
    // DEBUG lines hidden by the filters (the last 25 may hold nothing else).
    const logs = report.failures[0].logs[0]
    expect(logs, JSON.stringify(report.failures[0])).to.include({container: 'web', previous: false})
    expect(logs.lines.length + logs.hidden, JSON.stringify(logs)).to.be.greaterThan(0)
    expect(report.rollback).to.deep.include({to: 1, result: 'succeeded'})
    expect(answers.length, 'requests sent during the deploy').to.be.at.least(20)
    expect(
      answers.filter((a) => !a.startsWith('version=v1 ')),
      'answers that were not v1',
    ).to.deep.equal([])
    const after = await httpGet(url)
    expect(after.body).to.match(/^version=v1 /)
    // The rolled-back v2 pod may still be terminating (graceful shutdown on the kubelet): wait until it is gone.
    const versions = async () => (await pods()).map((p) => p.spec.containers[0].env.find((e: any) => e.name === 'APP_VERSION').value)
    await waitFor('the v2 pod to be gone after the rollback', async () => (await versions()).join() === 'v1', {timeoutMs: 60_000, intervalMs: 500})
    expect(await versions()).to.deep.equal(['v1'])
  })

  realIt('a release whose process exits 1 fails at its first exit, before any back-off; the report shows the crashed instance’s own last lines', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    await app.change(ENV('v2', 'APP_EXIT: "1"'), 'v2 exits at start')
    const r = await deploy(['--timeout', '2m'])
    expect(r.exitCode, r.stderr).to.equal(1)
    expect(r.doc.error.code).to.equal('deploy_failed')
    // The exit is seen as the kubelet reports it (`terminated`, or restarted): a CrashLoopBackOff, and its BackOff
    // event, may not have come yet.
    expect(r.doc.error.message).to.match(/Deployment\/web: container web of pod web-\S+ (exited|is in CrashLoopBackOff) \(exit code 1, Error(; restarted (once|\d+ times))?\)/)
    const failure = r.doc.error.details.report.failures[0]
    const logs = failure.logs[0]
    expect(logs, JSON.stringify(failure)).to.include({container: 'web'})
    const text = logs.lines.join('\n')
    // printed by the crashed process itself, on stderr; its DEBUG line is noise (logs.exclude)
    expect(text).to.contain('fatal: configured to exit 1 at start (version=v2)')
    expect(text).to.contain('starting skycap test app version=v2')
    expect(text).to.not.contain('DEBUG')
    expect(logs.hidden).to.be.at.least(1)
    expect(r.doc.error.details.report.rollback).to.deep.include({to: 1, result: 'succeeded'})
    expect((await httpGet(await serviceUrl())).body).to.match(/^version=v1 /)
  })

  realIt('two services crash-looping for real are failing in every `status --json` between and during their back-offs (it said progressing, no problem, for a second at each crash)', async () => {
    await app.change((text) => text.replace('\nenvironments:', `\n${WORKER}environments:`), 'and a worker')
    expect((await deploy()).exitCode).to.equal(0)
    await app.change((text) => text.replace('env: {APP_VERSION: v1}', 'env: {APP_VERSION: v2, APP_EXIT: "3"}').replace('APP_VERSION: w1,', 'APP_VERSION: w2, APP_EXIT: "3",'), 'v2: both exit 3')
    const failed = await deploy(['--timeout', '2m', '--no-rollback'])
    expect(failed.exitCode, failed.stderr).to.equal(1)
    // From the deploy's failure on, both crash-loop (each in CrashLoopBackOff once already). Two loops of status
    // calls back to back, until replies in the moments between two back-offs (the crashed container `Error`, or
    // just restarted) were seen for both services: each reply says failing, with the crash.
    const between = new Set<string>()
    const replies: string[] = []
    const started = Date.now()
    const poll = async () => {
      while (between.size < 2 && Date.now() - started < 150_000) {
        const r = await app.json(['status', 'test'])
        expect(r.exitCode, r.stderr).to.equal(0)
        for (const service of ['web', 'worker']) {
          const line = r.doc.result.services.find((x: {service: string}) => x.service === service)
          replies.push(`${service}: ${line.state} ${line.problem}`)
          expect(line, JSON.stringify(line)).to.include({state: 'failing', waiting: null})
          expect(line.problem).to.match(new RegExp(`^container ${service} of pod ${service}-\\S+ is (in CrashLoopBackOff|crash-looping) \\(exit code 3, Error; restarted (once|\\d+ times)\\)$`))
          if (line.problem.includes('crash-looping')) between.add(service)
        }
      }
    }
    await Promise.all([poll(), poll()])
    expect([...between].sort(), replies.join('\n')).to.deep.equal(['web', 'worker'])
  })

  realIt(
    'a worker without a healthcheck whose process exits 3 at start fails the deploy fast with its fatal line, and is rolled back (it was "1/1 ready … is live" in 3 s, or waited its timeout with events only)',
    async () => {
      await app.change((text) => text.replace('\nenvironments:', `\n${WORKER}environments:`), 'and a worker')
      expect((await deploy()).exitCode).to.equal(0)
      await app.change((text) => text.replace('APP_VERSION: w1,', 'APP_VERSION: w2, APP_EXIT: "3",'), 'w2 exits 3 at start')
      const started = Date.now()
      const r = await deploy(['--timeout', '45s'])
      expect(r.exitCode, r.stderr).to.equal(1)
      expect(Date.now() - started, 'failed fast, not at its timeout').to.be.below(30_000)
      const failure = r.doc.error.details.report.failures[0]
      expect(failure.ref, r.stderr).to.equal('Deployment/worker')
      expect(failure.message).to.match(/^container worker of pod worker-\S+ (exited|is in CrashLoopBackOff) \(exit code 3, Error/)
      const lines = failure.logs.flatMap((l: {lines: string[]}) => l.lines).join('\n')
      expect(lines, JSON.stringify(failure)).to.contain('fatal: configured to exit 3 at start (version=w2)')
      expect(r.doc.error.details.report.rollback).to.deep.include({to: 1, result: 'succeeded'})
    },
  )

  realIt(
    'two services failing a few seconds apart (one on a kwok node at once, web on the real node once its process has crashed twice) are both named in one report (only the first was, the other said interrupted)',
    async () => {
      await app.change(sideService(false), 'a side service on a kwok node')
      expect((await deploy()).exitCode).to.equal(0)
      await app.change((text) => sideService(true)(ENV('v2', 'APP_EXIT: "1"')(text.replace(/ {2}side:\n( {4}.*\n)+/, ''))), 'v2: both crash')
      const r = await deploy(['--timeout', '2m'])
      expect(r.exitCode, r.stderr).to.equal(1)
      const report = r.doc.error.details.report
      expect(report.failures.map((f: {ref: string}) => f.ref).sort(), r.stderr).to.deep.equal(['Deployment/side', 'Deployment/web'])
      expect(report.interrupted ?? []).to.deep.equal([])
      expect(r.doc.error.message).to.match(/^release 2 of test failed: Deployment\/(side|web): .*; also Deployment\/(side|web)/)
      expect(report.rollback).to.deep.include({to: 1, result: 'succeeded'})
    },
  )

  realIt(
    'a service whose readiness check never passes, while another crash-loops: the crash is blamed, and web, still rolling out, is shown with its Unhealthy warnings and its log lines (it said only "interrupted"); twice',
    async () => {
      await app.change(sideService(false), 'a side service on a kwok node')
      expect((await deploy()).exitCode).to.equal(0)
      let good = 1
      for (const version of ['v2', 'v3']) {
        await app.change(
          (text) => sideService(true)(text.replace(/env: \{APP_VERSION: v\d\}/, `env: {APP_VERSION: ${version}, APP_HEALTHZ: fail}`).replace(/ {2}side:\n( {4}.*\n)+/, '')),
          `${version}: side crashes, web never ready`,
        )
        const r = await deploy(['--timeout', '2m'])
        expect(r.exitCode, r.stderr).to.equal(1)
        const report = r.doc.error.details.report
        expect(
          report.failures.map((f: {ref: string}) => f.ref),
          r.stderr,
        ).to.deep.equal(['Deployment/side'])
        const web = report.interrupted.find((i: {ref: string}) => i.ref === 'Deployment/web')
        expect(web, JSON.stringify(report.interrupted)).to.not.equal(undefined)
        expect(web.message).to.contain('readiness check does not pass')
        expect(web.events.map((e: {reason: string}) => e.reason)).to.include('Unhealthy')
        expect(web.events.every((e: {type: string}) => e.type === 'Warning')).to.equal(true)
        expect(web.logs.flatMap((l: {lines: string[]}) => l.lines).join('\n')).to.contain(`starting skycap test app version=${version}`)
        expect(r.stderr).to.match(/⏸ Deployment\/web: still rolling out when the release failed, with warnings: .*\n {2}Events:\n( {4}.*\n)* {4}Warning Unhealthy: Readiness probe failed/)
        // Its progress line says side's failure stopped it: nobody interrupted anything.
        expect(r.stderr).to.match(/⏸ Deployment\/web: stopped when Deployment\/side failed \(/)
        expect(r.stderr).to.not.include('interrupted (')
        expect(report.rollback).to.deep.include({to: good, result: 'succeeded'})
        await app.change((text) => sideService(false)(text.replace(', APP_HEALTHZ: fail', '').replace(/ {2}side:\n( {4}.*\n)+/, '')), `${version}: both fixed`)
        const fixed = await deploy()
        expect(fixed.exitCode, fixed.stderr).to.equal(0)
        good = fixed.doc.result.release
      }
    },
  )

  realIt("a release whose command is not in the image: the report says it cannot start, in the runtime's words (not a crash with exit code 128), with no logs to show; rolled back", async () => {
    expect((await deploy()).exitCode).to.equal(0)
    await app.change((text) => text.replace('    image: app\n', '    image: app\n    command: ["/nope"]\n'), 'v2 runs a command the image lacks')
    const r = await deploy(['--timeout', '2m'])
    expect(r.exitCode, r.stderr).to.equal(1)
    expect(r.doc.error.message).to.match(
      /^release 2 of test failed: Deployment\/web: container web of pod web-\S+ cannot start \((StartError|RunContainerError)\): exec: "\/nope": stat \/nope: no such file or directory( \(restarted (once|\d+ times)\))?; rolled back to release 1 /,
    )
    const failure = r.doc.error.details.report.failures[0]
    expect(failure.logs).to.deep.equal([])
    expect(failure.events.map((e: {reason: string}) => e.reason)).to.include('Failed')
    expect(r.doc.error.details.report.rollback).to.deep.include({to: 1, result: 'succeeded'})
    const history = (await app.json(['history', 'test'])).doc.result.releases
    expect(history[1].message).to.match(/^Deployment\/web: container web of pod web-\S+ cannot start \((StartError|RunContainerError)\): exec: "\/nope"/)
  })

  realIt('skycap logs -f shows the request lines while requests come in, without the noise', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    const [pod] = await pods()
    const proc = execa('node', [cliPath, 'logs', 'web', '-e', 'test', '-f'], {cwd: app.repo.dir, env: {NO_COLOR: '1'}, reject: false, stdin: 'ignore'})
    try {
      const out = captureOutput(proc.stdout)
      const marker = `/marker-${Date.now()}`
      // Keep asking until the follower has picked the line up (it starts with the last 10 lines, then follows).
      await waitFor(
        'the request line in skycap logs -f',
        async () => {
          await httpGet(`http://${pod.status.podIP}:8080${marker}`)
          return out.text.includes(`GET ${marker} from`)
        },
        {timeoutMs: 30_000, intervalMs: 1000},
      )
      // The probe (every second) and the heartbeat (every 2 s) have been logging all along.
      await new Promise((res) => setTimeout(res, 2500))
      const raw = (await kubectl(['logs', pod.metadata.name], {namespace: ns.name})).stdout
      expect(raw).to.contain('GET /healthz 200').and.contain('DEBUG heartbeat')
      expect(out.text).to.not.contain('/healthz')
      expect(out.text).to.not.contain('DEBUG')
      expect(out.text).to.match(new RegExp(`${pod.metadata.name}.*request \\d+: GET ${marker} from`))
    } finally {
      proc.kill('SIGINT')
      await proc
    }
  })

  realIt('skycap logs -f shows the pods a scale adds from their first line, for two services scaled at once, twice', async () => {
    // Noisy pods (a hidden DEBUG line every 50 ms): by the time a poll finds a new pod, it has written more than the
    // 10 lines -f starts with, so a tail would cut its start-up lines off.
    await app.change((text) => ENV('v1', 'APP_NOISE: 50ms')(text).replace('\nenvironments:', `\n${WORKER}environments:`), 'noisy web, and a worker')
    expect((await deploy()).exitCode).to.equal(0)
    const podsOf = async (service: string): Promise<any[]> => (await app.get(['pods', '-l', `app.kubernetes.io/name=${service}`])).items
    const version = {web: 'v1', worker: 'w1'}
    const initial = [...(await podsOf('web')), ...(await podsOf('worker'))]
    const seen = new Set<string>(initial.map((p) => p.metadata.name))
    const proc = execa('node', [cliPath, 'logs', 'web', 'worker', '-e', 'test', '-f'], {cwd: app.repo.dir, env: {NO_COLOR: '1'}, reject: false, stdin: 'ignore'})
    try {
      const out = captureOutput(proc.stdout)
      // The follower has started once a request to each pod shows up in it.
      for (const p of initial) {
        const marker = `/marker-${p.metadata.name}`
        await waitFor(
          `the request line of ${p.metadata.name}`,
          async () => {
            await httpGet(`http://${p.status.podIP}:8080${marker}`)
            return new RegExp(`${p.metadata.name} │ request \\d+: GET ${marker} from`).test(out.text)
          },
          {timeoutMs: 30_000, intervalMs: 1000},
        )
      }
      const added: Array<{service: 'web' | 'worker'; name: string}> = []
      for (const replicas of [2, 3]) {
        await kubectl(['scale', 'deployment/web', 'deployment/worker', `--replicas=${replicas}`], {namespace: ns.name})
        const now = await waitFor(`${replicas} running pods of each service`, async () => {
          const running = async (service: 'web' | 'worker') => (await podsOf(service)).filter((p) => p.status.containerStatuses?.[0]?.state?.running && !p.metadata.deletionTimestamp)
          const lists = {web: await running('web'), worker: await running('worker')}
          if (lists.web.length !== replicas || lists.worker.length !== replicas) return undefined
          return (['web', 'worker'] as const).flatMap((service) => lists[service].filter((p) => !seen.has(p.metadata.name)).map((p) => ({service, name: p.metadata.name as string})))
        })
        expect(now, `the pods the scale to ${replicas} added`).to.have.length(2)
        for (const {service, name} of now) {
          seen.add(name)
          added.push({service, name})
          await out.waitFor(`${name} │ starting skycap test app version=${version[service]} `)
          await out.waitFor(`${name} │ listening on :8080`)
        }
      }
      // Each added pod's start-up line, once, under its own name.
      expect(added).to.have.length(4)
      for (const {name} of added)
        expect(
          out.text.split('\n').filter((l) => l.startsWith(`${name} │ starting skycap test app`)),
          name,
        ).to.have.length(1)
      // web's own filter (^DEBUG) hides web's heartbeats, not worker's.
      expect(out.text).to.not.match(/^web-\S+ │ DEBUG/m)
      expect(out.text).to.match(/^worker-\S+ │ DEBUG heartbeat/m)
    } finally {
      proc.kill('SIGINT')
      await proc
    }
    expect((await proc).exitCode).to.equal(0)
  })

  realIt('skycap logs -f of three noisy pods of two services for over 30 s: each stream runs once, every line once and in order', async () => {
    await app.change((text) => ENV('v1', 'APP_NOISE: 50ms')(text).replace('replicas: 1', 'replicas: 2').replace('\nenvironments:', `\n${WORKER}environments:`), 'noisy web x2, and a worker')
    expect((await deploy()).exitCode).to.equal(0)
    const names = [...(await app.get(['pods', '-l', 'app.kubernetes.io/name in (web,worker)'])).items].map((p: any) => p.metadata.name as string)
    expect(names).to.have.length(3)
    // --verbose traces every kubectl call on stderr: the test counts the `logs` streams started.
    const proc = execa('node', [cliPath, 'logs', 'web', 'worker', '-e', 'test', '-f', '--no-filters', '--verbose'], {cwd: app.repo.dir, env: {NO_COLOR: '1'}, reject: false, stdin: 'ignore'})
    const out = captureOutput(proc.stdout)
    const err = captureOutput(proc.stderr)
    const beats = (pod: string) => [...out.text.matchAll(new RegExp(`^${pod} │ DEBUG heartbeat (\\d+)$`, 'gm'))].map((m) => Number(m[1]))
    try {
      const first = await waitFor('a heartbeat of every pod', () => names.every((n) => beats(n).length > 0) && new Map(names.map((n) => [n, beats(n)[0] as number])), {
        timeoutMs: 30_000,
        intervalMs: 200,
      })
      // 40 s of lines (800 heartbeats at 50 ms), past kubectl's --request-timeout of 30 s.
      await waitFor('40 s of heartbeats from every pod', () => names.every((n) => (beats(n).at(-1) as number) - (first.get(n) as number) >= 800), {timeoutMs: 90_000, intervalMs: 500})
    } finally {
      proc.kill('SIGINT')
    }
    const r = await proc
    expect(r.exitCode, err.text).to.equal(0)
    for (const pod of names) {
      const seq = beats(pod)
      const gaps = seq.flatMap((n, i) => (i > 0 && n !== (seq[i - 1] as number) + 1 ? [`${seq[i - 1]} -> ${n}`] : []))
      expect(gaps, `${pod}: heartbeats missing or repeated`).to.deep.equal([])
      const streams = err.text.split('\n').filter((l) => l.includes(` logs ${pod} `))
      expect(streams, `${pod}: its kubectl logs -f started once, never restarted`).to.have.length(1)
    }
  })

  realIt('after a deploy that changes the config file, the Service ClusterIP answers with the new value', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    const url = await serviceUrl()
    // kube-proxy programs a new Service a moment after its pods are Ready: wait for the app's own line (serviceAnswers).
    expect((await serviceAnswers(url, / greeting=/)).body).to.match(/greeting=hello /)
    const value = `changed-${Date.now()}`
    app.repo.write('config/web/app.properties', `greeting=${value}\n`)
    await app.repo.commit('new greeting')
    const r = await deploy()
    expect(r.exitCode, r.stderr).to.equal(0)
    // The old pod leaves the endpoints as it terminates; kube-proxy follows within a second or two.
    const answers = await waitFor(
      'ten answers in a row with the new value',
      async () => {
        const got = await Promise.all(Array.from({length: 10}, () => httpGet(url).then((a) => a.body)))
        return got.every((b) => b.includes(`greeting=${value} `)) && got
      },
      {timeoutMs: 60_000, intervalMs: 500},
    )
    expect(answers).to.have.length(10)
  })

  realIt('a registry the node cannot reach for a while is waited for: two services come up once it answers, and the deploy succeeds', async () => {
    // A registry address that refuses connections until the test forwards it to the real registry: the node's pulls
    // fail with "connection refused" (ErrImagePull, then ImagePullBackOff) and the kubelet retries after 10 s.
    const reserve = net.createServer().listen(0, '127.0.0.1')
    await once(reserve, 'listening')
    const port = (reserve.address() as net.AddressInfo).port
    await new Promise((r) => reserve.close(r))
    const flaky = `127.0.0.1:${port}`
    const hosts = join(registryHostsDir(), flaky)
    mkdirSync(hosts, {recursive: true})
    writeFileSync(join(hosts, 'hosts.toml'), `server = "http://${flaky}"\n[host."http://${flaky}"]\n  capabilities = ["pull", "resolve"]\n`)
    const [registryHost, ...path] = realNode().repository.split('/')
    const [host, registryPort] = (registryHost as string).split(':')
    let proxy: net.Server | undefined
    try {
      await app.change(
        (text) => text.replace(/registry: .*/, `registry: ${flaky}/${path.join('/')}`).replace('\nenvironments:', `\n${WORKER}environments:`),
        'web and a worker from a registry that is down',
      )
      await tagTestAppImage(await app.repo.git('rev-parse', 'HEAD'))
      // skycap's own image check would find the registry down (exit 4): the node's view is what this is about.
      const deploying = app.json(['deploy', 'test', '--skip-image-check', '--timeout', '2m'])
      // Both pods have failed to pull (the node tried, and was refused) before the registry comes back.
      await waitFor(
        'both pods to fail their pulls with connection refused',
        async () => {
          const all = (await app.get(['pods'])).items as any[]
          const refused = all.filter(
            (p) => /connection refused/.test(p.status?.containerStatuses?.[0]?.state?.waiting?.message ?? '') || p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff',
          )
          return refused.length >= 2 && refused
        },
        {timeoutMs: 60_000, intervalMs: 250},
      )
      // Both in back-off (which says only "Back-off pulling image"): `skycap status` looks once, sees no error, and
      // reads it from the kubelet's events: progressing, and why, not failing.
      await waitFor(
        'both pods in ImagePullBackOff',
        async () => {
          const all = (await app.get(['pods'])).items as any[]
          return all.filter((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff').length >= 2
        },
        {timeoutMs: 60_000, intervalMs: 250},
      )
      const status = await app.json(['status', 'test'])
      expect(status.exitCode, status.stderr).to.equal(0)
      for (const service of ['web', 'worker']) {
        const line = status.doc.result.services.find((x: any) => x.service === service)
        expect(line, JSON.stringify(status.doc.result.services)).to.include({state: 'progressing', problem: null})
        expect(line.waiting).to.match(/cannot pull its image yet \((?:ErrImagePull|ImagePullBackOff): [^\n]*connection refused[^\n]*\); the node keeps trying$/)
      }
      proxy = net.createServer((client) => {
        const upstream = net.connect(Number(registryPort), host)
        client.on('error', () => upstream.destroy())
        upstream.on('error', () => client.destroy())
        client.pipe(upstream).pipe(client)
      })
      proxy.listen(port, '127.0.0.1')
      await once(proxy, 'listening')
      const r = await deploying
      expect(r.exitCode, r.stderr).to.equal(0)
      expect(r.doc.result).to.include({result: 'succeeded'})
      // While it waited, the progress said why, with the runtime's words.
      expect(r.stderr).to.match(/cannot pull its image yet \((?:ErrImagePull|ImagePullBackOff): [^\n]*connection refused[^\n]*\); the node keeps trying until the deadline/)
      for (const service of ['web', 'worker']) {
        const [pod] = (await app.get(['pods', '-l', `app.kubernetes.io/name=${service}`])).items
        expect(pod.status.containerStatuses[0], service).to.include({ready: true})
        expect(pod.spec.containers[0].image).to.match(new RegExp(`^${flaky.replace('.', '\\.')}/`))
      }
    } finally {
      proxy?.close()
      rmSync(hosts, {recursive: true, force: true})
    }
  })

  realIt('scale to 3 gives three pods on the real node that answer, through their IPs and the Service', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    const r = await app.cli(['scale', 'web', '3', '-e', 'test'])
    expect(r.exitCode, r.stderr).to.equal(0)
    const list = await waitFor('three ready pods', async () => {
      const l = await pods()
      return l.length === 3 && l.every((p) => p.status.containerStatuses?.[0]?.ready) && l
    })
    const names = list.map((p) => p.metadata.name).sort()
    for (const p of list) {
      expect(p.spec.nodeName).to.equal(realNode().node)
      expect((await httpGet(`http://${p.status.podIP}:8080/`)).body).to.equal(`version=v1 greeting=hello host=${p.metadata.name}\n`)
    }
    // kube-proxy spreads new connections at random over the endpoints it has synced (within a second or two).
    const url = await serviceUrl()
    const hosts = new Set<string>()
    await waitFor(
      'the Service to reach all three pods',
      async () => {
        hosts.add(/host=(\S+)/.exec((await httpGet(url)).body)?.[1] ?? '')
        return hosts.size === 3
      },
      {timeoutMs: 60_000, intervalMs: 100},
    ).catch((e: Error) => expect.fail(`${e.message}; answered: ${[...hosts].join(', ')}`))
    expect([...hosts].sort()).to.deep.equal(names)
  })
})

describe('real node: the cluster keeps kwok workloads off it', function () {
  const ns = useNamespace('realkeep')

  it('the real node is Ready, labelled and tainted; a pod without the toleration goes to a fake node', async () => {
    const {node} = realNode()
    const n = JSON.parse((await kubectl(['get', 'node', node, '-o', 'json'])).stdout)
    expect(n.metadata.labels['skycap.test/real-node']).to.equal('true')
    expect(n.spec.taints).to.deep.include({key: 'skycap.test/real-node', value: 'true', effect: 'NoSchedule'})
    expect(n.metadata.annotations?.['kwok.x-k8s.io/node']).to.equal(undefined)
    expect(n.status.nodeInfo.containerRuntimeVersion).to.match(/^containerd:\/\//)
    expect(n.status.conditions.find((c: any) => c.type === 'Ready').status).to.equal('True')
    await kubectl(['create', 'deployment', 'plain', '--image=example.invalid/plain:1', '--replicas=4'], {namespace: ns.name})
    await kubectl(['rollout', 'status', 'deployment/plain', '--timeout=60s'], {namespace: ns.name})
    const list = JSON.parse((await kubectl(['get', 'pods', '-o', 'json'], {namespace: ns.name})).stdout).items
    expect(list).to.have.length(4)
    for (const p of list) expect(p.spec.nodeName).to.not.equal(node)
  })
})
