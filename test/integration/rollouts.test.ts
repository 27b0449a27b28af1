// Rollouts and rollbacks when things go wrong, on the real control plane, with several services moving at once and
// every scenario repeated in one test: single-service happy paths hide the races these guard against. This file:
// failures, rollbacks, replica counts, Ctrl-C and the lock; rollouts-canary.test.ts and rollouts-bluegreen.test.ts the
// strategies (as one file they took 47 minutes, the least a run of the integration files in parallel could take; the
// helpers are in rollouts-kit.ts).
import {expect} from 'chai'
import {execa} from 'execa'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {cliPath} from '../helpers/repo.js'
import {ApiServerProxy} from './apiserver-proxy.js'
import {TestApp} from './app.js'
import {asDeployer, kubeconfigAs, kubectl, testCluster, uniqueName, useNamespace, waitFor} from './harness.js'
import {ctrlCDuring, denyDeployments, DEPLOY, expectRunning, PRUNE_LISTING, quadHelpers, quadKit, replicaNotes} from './rollouts-kit.js'

const APP = 'quad'

describe('rollouts you can trust (real cluster, four services)', function () {
  this.timeout(900_000)
  const {quad, quadApp} = quadKit(APP)
  const ns = useNamespace('rollouts')
  let app: TestApp
  beforeEach(async () => {
    app = await quadApp(ns.name)
  })
  afterEach(() => app.remove())
  const {roundOf, deployInterruptedWhen} = quadHelpers(() => app)

  it('one service crash-loops while the others roll: it alone is blamed (summary, --json, history); the automatic rollback succeeds and is its own entry; three times', async () => {
    const first = await app.json([...DEPLOY, 'test'])
    expect(first.exitCode, first.stderr).to.equal(0)
    let good = 1
    let expected = 2
    for (let round = 1; round <= 3; round++) {
      await app.change(() => quad(ns.name, round, 'api'), `round ${round}: api crashes`)
      const r = await app.json([...DEPLOY, 'test', '--timeout', '3m'])
      expect(r.exitCode, r.stderr).to.equal(1)
      const report = r.doc.error.details.report
      expect(report.release).to.equal(expected)
      expect(
        report.failures.map((f: any) => f.ref),
        JSON.stringify(report.failures),
      ).to.deep.equal(['Deployment/api'])
      expect(r.doc.error.message).to.match(new RegExp(`^release ${expected} of test failed: Deployment/api: container api of pod api-\\S+ is in CrashLoopBackOff`))
      expect(r.doc.error.message).to.contain(`; rolled back to release ${good} (recorded as release ${expected + 1})`)
      expect(r.doc.error.message).to.not.contain('failed too')
      for (const i of report.interrupted) expect(i.ref).to.not.equal('Deployment/api')
      expect(report.rollback).to.deep.include({to: good, release: expected + 1, result: 'succeeded'})
      await expectRunning(app, 0)

      const history = (await app.json(['history', 'test'])).doc.result.releases
      const failed = history.find((x: any) => x.number === expected)
      expect(failed).to.include({action: 'deploy', result: 'failed', failed: 'Deployment/api', rollbackRelease: expected + 1})
      expect(failed.message).to.match(/^Deployment\/api: container api of pod api-\S+ is in CrashLoopBackOff/)
      const rollback = history.find((x: any) => x.number === expected + 1)
      expect(rollback).to.include({action: 'rollback', trigger: 'automatic', result: 'succeeded', rolledBackFrom: expected, rolledBackTo: good})
      expect(rollback.durationMs).to.be.a('number').and.above(0)
      good = expected + 1
      expected += 2
    }
    // The human summary: the crashed service with ✖, the others not marked as failed.
    await app.change(() => quad(ns.name, 9, 'api'), 'round 9: api crashes')
    const human = await app.cli([...DEPLOY, 'test', '--timeout', '3m'])
    expect(human.exitCode).to.equal(1)
    expect(human.stderr).to.match(/✖ Deployment\/api: container api of pod/)
    for (const other of ['web', 'worker', 'cache']) expect(human.stderr).to.not.match(new RegExp(`✖ Deployment/${other}`))
    const table = await app.cli(['history', 'test'])
    expect(table.stdout).to.match(/automatic rollback from \d+ to release \d+/)
  })

  it('a ResourceQuota that refuses worker’s pods (it alone is BestEffort) while web, api and cache roll: the deploy fails on it in the quota’s words and rolls back, a scale fails saying how to go back, status says why (it waited for its timeout, saying neither); twice', async () => {
    // worker without requests is BestEffort: the quota counts its pods alone, so the others roll freely.
    const text = (round: number, replicas: Record<string, number> = {}) => quad(ns.name, round, undefined, '', replicas).replace(/( {2}worker:\n(?: {4}.*\n)*?) {4}resources: .*\n/, '$1')
    await app.change(() => text(0), 'worker best-effort')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await kubectl(['create', 'quota', 'q', '--hard=pods=3', '--scopes=BestEffort'], {namespace: ns.name})
    await waitFor('the quota to count worker’s pods', async () => (await kubectl(['get', 'resourcequota', 'q', '-o', 'jsonpath={.status.used.pods}'], {namespace: ns.name})).stdout === '2')
    const words = /the ResourceQuota q refuses more pods \(requested: pods=1, used: pods=3, limited: pods=3\)/
    try {
      let good = 1
      let release = 2
      for (let round = 1; round <= 2; round++) {
        await app.change(() => text(round, {worker: 6}), `round ${round}: worker 6 pods, above the quota`)
        // A timeout would exit 70: the quota fails it long before.
        const r = await app.json([...DEPLOY, 'test', '--timeout', '4m'])
        expect(r.exitCode, r.stderr).to.equal(1)
        const report = r.doc.error.details.report
        expect(
          report.failures.map((f: any) => f.ref),
          JSON.stringify(report.failures),
        ).to.deep.equal(['Deployment/worker'])
        expect(r.doc.error.message).to.match(
          new RegExp(
            `^release ${release} of test failed: Deployment/worker: cannot create its pods \\(.*\\): ${words.source}; rolled back to release ${good} \\(recorded as release ${release + 1}\\)`,
          ),
        )
        await expectRunning(app, 0)
        good = release + 1
        release += 2

        // A scale above the quota: failed in its words, with the quota to look at and the way back.
        const scaled = await app.json(['scale', 'worker', '4', '-e', 'test', '--timeout', '4m'])
        expect(scaled.exitCode, scaled.stderr).to.equal(1)
        expect(scaled.doc.error.message).to.match(new RegExp(`^scaling worker failed: cannot create its pods \\(3/4 updated, 3 ready\\): ${words.source}$`))
        expect(scaled.doc.error.hint).to.contain(`describe resourcequota q -n ${ns.name}`).and.contain('`skycap scale worker 2 -e test` goes back')
        const status = (await app.json(['status', 'test'])).doc.result.services
        expect(status.find((x: any) => x.service === 'worker')).to.deep.include({state: 'failing', ready: 3, desired: 4, waiting: null})
        expect(status.find((x: any) => x.service === 'worker').problem).to.match(new RegExp(`^cannot create its pods: ${words.source}$`))
        for (const other of ['web', 'api', 'cache']) expect(status.find((x: any) => x.service === other).state).to.equal('ready')
        expect((await app.json(['history', 'test'])).doc.result.releases[0]).to.deep.include({action: 'scale', result: 'failed', scale: {service: 'worker', from: 2, to: 4}})
        const back = await app.cli(['scale', 'worker', '2', '-e', 'test'])
        expect(back.exitCode, back.stderr).to.equal(0)
        // Two scale entries; a failed deploy returns to the rollback entry still.
        release += 2
        await expectRunning(app, 0)
      }
    } finally {
      await kubectl(['delete', 'resourcequota', 'q'], {namespace: ns.name})
    }
  })

  it('two Deployments paused by hand while their rollout waits on unready pods fail the release at once, named as paused (it waited for the timeout); twice', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const notReady = (text: string) =>
      ['web', 'api'].reduce((t, name) => t.replace(`  ${name}:\n    image: ${name}`, `  ${name}:\n    labels: {sim.kwok.test/behavior: not-ready}\n    image: ${name}`), text)
    for (let round = 1; round <= 2; round++) {
      await app.change(() => notReady(quad(ns.name, round)), `round ${round}: web and api never ready`)
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '5m', '--json'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
      let err = ''
      let paused: Promise<unknown> | undefined
      child.stderr?.on('data', (d) => {
        err += d
        // Once both have their new ReplicaSet (the rollout is under way), pause them as a hand would.
        if (!paused && /Deployment\/web: 0\/2 updated|Deployment\/web: 1\/2 updated/.test(err) && /Deployment\/api: [01]\/2 updated/.test(err))
          paused = Promise.all(['web', 'api'].map((name) => kubectl(['rollout', 'pause', `deployment/${name}`], {namespace: ns.name})))
      })
      const r = await child
      expect(paused, err).to.not.equal(undefined)
      await paused
      // Failed by the watch (exit 1), not at the timeout (exit 70); the rollback over the paused Deployments cannot roll
      // either, and says why.
      expect(r.exitCode, err).to.equal(1)
      const report = JSON.parse(r.stdout).error.details.report
      const failures = report.failures.map((f: any) => `${f.ref}: ${f.message}`)
      for (const name of ['web', 'api'])
        expect(failures.join('\n') + report.interrupted.map((f: any) => `${f.ref}: ${f.message}`).join('\n')).to.contain(
          `Deployment/${name}: paused (kubectl rollout pause): the controller rolls out nothing until \`kubectl rollout resume deployment/${name} -n ${ns.name} --context ${testCluster().context}\``,
        )
      expect(err).to.contain('paused (kubectl rollout pause)')
      // status says the pause first (it showed only what the unready pods waited for).
      const status = (await app.json(['status', 'test'])).doc.result.services
      for (const name of ['web', 'api']) expect(status.find((x: any) => x.service === name).waiting, name).to.match(/^paused \(kubectl rollout pause\)/)
      // Resumed, a fix rolls out.
      for (const name of ['web', 'api']) expect((await kubectl(['rollout', 'resume', `deployment/${name}`], {namespace: ns.name})).exitCode).to.equal(0)
      await app.change(() => quad(ns.name, round), `round ${round}: fixed`)
      const fixed = await app.cli([...DEPLOY, 'test', '--timeout', '3m'])
      expect(fixed.exitCode, fixed.stderr).to.equal(0)
      await expectRunning(app, round)
    }
  })

  it('a fix deployed over a crash-looping release succeeds; twice', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (let round = 1; round <= 2; round++) {
      await app.change(() => quad(ns.name, round * 10, 'api'), `round ${round}: api crashes`)
      const broken = await app.json([...DEPLOY, 'test', '--no-rollback', '--timeout', '3m'])
      expect(broken.exitCode, broken.stderr).to.equal(1)
      expect(broken.doc.error.details.report.failures.map((f: any) => f.ref)).to.deep.equal(['Deployment/api'])
      expect(broken.doc.error.message).to.contain('not rolled back (--no-rollback)')
      // status says api fails and why, and blames nothing else (it said "progressing" for as long as api crashed).
      const states = async () => {
        const s = await app.json(['status', 'test'])
        return Object.fromEntries(s.doc.result.services.map((x: any) => [x.service, x.state === 'failing' ? x.problem : x.state]))
      }
      const failing = await waitFor('status to say api fails', async () => {
        const now = await states()
        return /^container api of pod api-\S+ is in CrashLoopBackOff/.test(now.api ?? '') ? now : undefined
      })
      for (const service of ['web', 'worker', 'cache']) expect(failing[service], JSON.stringify(failing)).to.be.oneOf(['ready', 'progressing'])
      expect((await app.cli(['status', 'test'])).stdout).to.match(/\napi: container api of pod api-\S+ is in CrashLoopBackOff/)
      await app.change(() => quad(ns.name, round * 10 + 1), `round ${round}: the fix`)
      const fix = await app.json([...DEPLOY, 'test', '--timeout', '3m'])
      expect(fix.exitCode, `${fix.stderr}\n${JSON.stringify(fix.doc.error ?? {})}`).to.equal(0)
      await expectRunning(app, round * 10 + 1)
      await waitFor('status to say every service is ready', async () => Object.values(await states()).every((s) => s === 'ready'))
    }
  })

  it('template and replica counts changed together, with two services crash-looping: the rollback, and a fix over a --no-rollback release, are judged by the new ReplicaSets; twice', async () => {
    // The Deployment controller handles a change of replicas before the new template: it reports the generation as
    // observed while its revision annotation still names the ReplicaSet before (crash-looping here). Judged by that
    // annotation, the rollback and the fix failed, blaming pods of the release they replace.
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    let good = 0
    for (let round = 1; round <= 2; round++) {
      await app.change(() => quad(ns.name, round * 10, ['api', 'worker'], '', {api: 3, worker: 1}), `round ${round}: api and worker crash, with new counts`)
      const rolled = await app.json([...DEPLOY, 'test', '--timeout', '3m'])
      expect(rolled.exitCode, rolled.stderr).to.equal(1)
      // The deploy stops at the first failure: api, worker or both are blamed, never web or cache.
      const blamed = (r: any): string[] => r.doc.error.details.report.failures.map((f: any) => f.ref)
      const report = rolled.doc.error.details.report
      expect(blamed(rolled)).to.have.length.above(0)
      for (const ref of blamed(rolled)) expect(['Deployment/api', 'Deployment/worker']).to.include(ref)
      expect(report.rollback, JSON.stringify(report.rollback)).to.deep.include({result: 'succeeded'})
      await expectRunning(app, good)

      await app.change(() => quad(ns.name, round * 10 + 1, ['api', 'worker'], '', {api: 1, worker: 3}), `round ${round}: they crash again, left running`)
      const broken = await app.json([...DEPLOY, 'test', '--no-rollback', '--timeout', '3m'])
      expect(broken.exitCode, broken.stderr).to.equal(1)
      expect(blamed(broken)).to.have.length.above(0)
      for (const ref of blamed(broken)) expect(['Deployment/api', 'Deployment/worker']).to.include(ref)

      good = round * 10 + 2
      await app.change(() => quad(ns.name, good, undefined, '', {web: 3, api: 3, worker: 2}), `round ${round}: the fix, with new counts`)
      const fix = await app.json([...DEPLOY, 'test', '--timeout', '3m'])
      expect(fix.exitCode, `${fix.stderr}\n${JSON.stringify(fix.doc.error ?? {})}`).to.equal(0)
      await expectRunning(app, good)
    }
  })

  it('a StatefulSet rolls back away from crash-looping pods (its controller waits for them: skycap replaces them); twice', async () => {
    const db = (crash: boolean, round: number) =>
      [
        'apiVersion: apps/v1',
        'kind: StatefulSet',
        'metadata: {name: db}',
        'spec:',
        '  serviceName: db',
        '  replicas: 2',
        '  selector: {matchLabels: {app: db}}',
        '  template:',
        `    metadata: {labels: {app: db${crash ? ', sim.kwok.test/behavior: crashloop' : ''}}}`,
        `    spec: {containers: [{name: db, image: example.invalid/db:1, env: [{name: ROUND, value: "${round}"}]}]}`,
      ].join('\n')
    app.repo.write('deploy/db.yaml', db(false, 0))
    await app.repo.commit('db')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (let round = 1; round <= 2; round++) {
      app.repo.write('deploy/db.yaml', db(true, round))
      await app.repo.commit(`db crashes ${round}`)
      // Plain progress lines (not --json, which is silent) show the replacement.
      const r = await app.cli([...DEPLOY, 'test', '--timeout', '3m'])
      expect(r.exitCode, r.stderr).to.equal(1)
      expect(r.stderr).to.match(/✖ StatefulSet\/db: container db of pod db-\d is in CrashLoopBackOff/)
      expect(r.stderr).to.match(/StatefulSet\/db: deleting db-\d+ of an older revision/)
      expect(r.stderr).to.match(/; rolled back to release \d+ \(recorded as release \d+\)/)
      const sts = await app.get(['statefulset', 'db'])
      expect(sts.status.currentRevision).to.equal(sts.status.updateRevision)
      expect(sts.status.readyReplicas).to.equal(2)
      expect(sts.spec.template.spec.containers[0].env[0].value).to.equal('0')
    }
    // A manual rollback away from a crash-looping StatefulSet left by --no-rollback.
    app.repo.write('deploy/db.yaml', db(true, 7))
    await app.repo.commit('db crashes again')
    expect((await app.cli([...DEPLOY, 'test', '--no-rollback', '--timeout', '3m'])).exitCode).to.equal(1)
    const back = await app.json(['rollback', 'test', '--timeout', '3m'])
    expect(back.exitCode, back.stderr).to.equal(0)
    expect((await app.get(['statefulset', 'db'])).status.readyReplicas).to.equal(2)
  })

  it('rollback keeps the live replica counts after a scale and says so; --reset-replicas restores the release’s', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change(() => quad(ns.name, 1), 'round 1')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    expect((await app.cli(['scale', 'web', '4', '-e', 'test'])).exitCode).to.equal(0)
    const r = await app.cli(['rollback', 'test'])
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.stderr).to.contain("Keeping the live replica counts: web 4 (release 1 had 2); --reset-replicas restores the release's")
    await expectRunning(app, 0)
    expect((await app.get(['deployment', 'web'])).spec.replicas).to.equal(4)
    const history = (await app.json(['history', 'test'])).doc.result.releases
    expect(history[0]).to.include({action: 'rollback', trigger: 'manual', result: 'succeeded', rolledBackFrom: 2, rolledBackTo: 1})
    expect(history[0].keptReplicas).to.deep.equal({web: 4})
    const reset = await app.json(['rollback', 'test', '--to', '2', '--reset-replicas'])
    expect(reset.exitCode, reset.stderr).to.equal(0)
    await expectRunning(app, 1)
    expect((await app.get(['deployment', 'web'])).spec.replicas).to.equal(2)
  })

  it('a rollback undoes the count a failed --no-rollback deploy set from its skycap.yaml (it kept the lowered count), and keeps the other services’ scales; twice', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (const [round, scaled] of [
      [1, 4],
      [2, 5],
    ] as const) {
      expect((await app.cli(['scale', 'web', String(scaled), '-e', 'test'])).exitCode).to.equal(0)
      expect((await app.cli(['scale', 'worker', '3', '-e', 'test'])).exitCode).to.equal(0)
      // skycap.yaml now says web: 1, and api crash-loops: the deploy fails and, with --no-rollback, leaves web at 1.
      await app.change(() => quad(ns.name, round, 'api', '', {web: 1}), `round ${round}: web 1, api crashes`)
      const failed = await app.cli([...DEPLOY, 'test', '--no-rollback', '--timeout', '3m'])
      expect(failed.exitCode, failed.stderr).to.equal(1)
      expect(failed.stderr).to.contain(`Changing the running replica counts: web ${scaled} → 1`)
      await waitFor('web at 1, observed', async () => {
        const d = await app.get(['deployment', 'web'])
        return d.spec.replicas === 1 && d.status.observedGeneration === d.metadata.generation
      })
      const r = await app.cli(['rollback', 'test'])
      expect(r.exitCode, r.stderr).to.equal(0)
      expect(r.stderr).to.contain(`Restoring the replica counts release `)
      expect(r.stderr).to.match(new RegExp(`Restoring the replica counts release \\d+ set from its skycap.yaml: web 1 → ${scaled}`))
      expect(r.stderr).to.contain('Keeping the live replica counts: worker 3')
      await waitFor(`web back at ${scaled} and worker at 3, ready`, async () => {
        const [web, worker] = [await app.get(['deployment', 'web']), await app.get(['deployment', 'worker'])]
        return (
          [web, worker].every((d) => d.status.observedGeneration === d.metadata.generation && d.status.readyReplicas === d.spec.replicas) && web.spec.replicas === scaled && worker.spec.replicas === 3
        )
      })
      const history = (await app.json(['history', 'test'])).doc.result.releases
      expect(history[0]).to.include({action: 'rollback', trigger: 'manual', result: 'succeeded'})
      expect(history[0].keptReplicas).to.deep.equal({worker: 3})
      // Back to skycap.yaml's counts for the next round.
      await app.change(() => quad(ns.name, round + 10), `round ${round}: fixed`)
      expect((await app.cli([...DEPLOY, 'test', '--reset-replicas'])).exitCode).to.equal(0)
    }
  })

  it('a roll-forward after a rollback keeps the scales the rollback kept and one made since (it said `worker 5 → 3 (skycap.yaml’s replicas changed)` of a skycap.yaml nobody changed), and replaces a count the rollback set from the release it returned to, saying so; twice', async () => {
    const raised = {web: 3, api: 3, worker: 3, cache: 2}
    let round = 0
    for (const pass of [1, 2]) {
      await app.change(() => quad(ns.name, ++round), `pass ${pass}: the first counts`)
      const first = await app.json([...DEPLOY, 'test', '--reset-replicas'])
      expect(first.exitCode, first.stderr).to.equal(0)
      const target = first.doc.result.release
      await app.change(() => quad(ns.name, ++round, undefined, '', raised), `pass ${pass}: every count raised`)
      expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
      for (const [service, n] of [
        ['web', 4],
        ['worker', 5],
      ] as const)
        expect((await app.cli(['scale', service, String(n), '-e', 'test'])).exitCode).to.equal(0)
      const back = await app.cli(['rollback', 'test', '--to', String(target)])
      expect(back.exitCode, back.stderr).to.equal(0)
      expect(back.stderr).to.match(/Keeping the live replica counts: (web 4 \(release \d+ had 2\), worker 5|worker 5 \(release \d+ had 2\), web 4)/)
      expect(back.stderr).to.match(/Restoring the replica counts release \d+ set from its skycap.yaml: (api 3 → 2, cache 2 → 1|cache 2 → 1, api 3 → 2)/)
      expect((await app.cli(['scale', 'api', '4', '-e', 'test'])).exitCode).to.equal(0)
      // A new commit whose skycap.yaml says what the deploy before the rollback said (every template rolls).
      await app.change(() => quad(ns.name, ++round, undefined, '', raised), `pass ${pass}: rolled forward`)
      for (const {stderr, keeping, changing} of await replicaNotes(app)) {
        for (const kept of ['web 4 (skycap.yaml says 3)', 'api 4 (skycap.yaml says 3)', 'worker 5 (skycap.yaml says 3)']) expect(keeping, stderr).to.contain(kept)
        expect(changing, stderr).to.have.length(1)
        expect(changing[0]).to.match(new RegExp(`hanging the running replica counts: cache 1 → 2 \\(skycap.yaml's replicas; the rollback to release ${target} ran that release's\\)$`))
      }
      await waitFor(`pass ${pass}: web 4, api 4, worker 5, cache 2, observed`, async () => {
        const ds = (await app.get<{items: any[]}>(['deployments'])).items
        const want: Record<string, number> = {web: 4, api: 4, worker: 5, cache: 2}
        return ds.length === 4 && ds.every((d) => d.spec.replicas === want[d.metadata.name] && d.status.observedGeneration === d.metadata.generation && d.status.readyReplicas === d.spec.replicas)
      })
    }
  })

  it('eleven scales do not push a deploy out of reach of rollback --to (history.keep counts deploys and rollbacks)', async () => {
    await app.change(() => quad(ns.name, 0, undefined, 'history: {keep: 2}'), 'keep 2')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change(() => quad(ns.name, 1, undefined, 'history: {keep: 2}'), 'round 1')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (let i = 0; i < 11; i++) {
      const s = await app.cli(['scale', 'worker', String(i % 2 === 0 ? 3 : 2), '-e', 'test'])
      expect(s.exitCode, s.stderr).to.equal(0)
    }
    const history = (await app.json(['history', 'test'])).doc.result.releases
    expect(history.filter((x: any) => x.action === 'scale')).to.have.length(11)
    expect(history.filter((x: any) => x.action === 'deploy').map((x: any) => x.number)).to.deep.equal([2, 1])
    const r = await app.json(['rollback', 'test', '--to', '1'])
    expect(r.exitCode, r.stderr).to.equal(0)
    await expectRunning(app, 0)
  })

  it('a rollback the cluster refuses is reported as failed, saying what still runs', async () => {
    const good = await app.repo.git('rev-parse', 'HEAD')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    // From now on the API server refuses the images of the first release: the automatic rollback cannot apply.
    const policy = await denyDeployments(ns.name, 'no-old-images', `!object.spec.template.spec.containers.exists(c, c.image.endsWith('${good}'))`, 'images of the first release are banned')
    try {
      await app.change(() => quad(ns.name, 1, 'api'), 'api crashes')
      const bad = await app.repo.git('rev-parse', 'HEAD')
      // The policy takes a moment to reach the admission chain: wait until the server refuses a dry run of an old image.
      await waitFor('the admission policy to be active', async () => {
        const probe = await kubectl(['create', 'deployment', 'probe', `--image=example.invalid/quad/web:${good}`, '--dry-run=server'], {namespace: ns.name, reject: false})
        return probe.exitCode !== 0 && probe.stderr.includes('banned')
      })
      const r = await app.json([...DEPLOY, 'test', '--timeout', '3m'])
      expect(r.exitCode, r.stderr).to.equal(1)
      expect(r.doc.error.message).to.match(/the rollback to release 1 failed too \(Deployment\/\w+: refused by the API server: .*images of the first release are banned.*\); now running: /s)
      // api asks for the crashing revision, none of whose pods is ready; the first release's pods still serve.
      expect(r.doc.error.message).to.match(new RegExp(`now running: api ${bad.slice(0, 7)} 0/2 ready \\(\\d pods? of ${good.slice(0, 7)} still runs?, \\d ready\\), cache`))
      const history = (await app.json(['history', 'test'])).doc.result.releases
      expect(history[0]).to.include({number: 3, action: 'rollback', trigger: 'automatic', result: 'failed', rolledBackFrom: 2, rolledBackTo: 1})
      expect(history[0].message).to.contain('now running: api')
    } finally {
      await kubectl(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', policy, '--ignore-not-found'])
    }
  })

  it('an apply the API server refuses part-way (one service, after the dry run passed): the others were applied, so the release is recorded as failed, blames that service and is rolled back; three times', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    // An admission check that lets dry runs through (as webhooks that skip dryRun requests do) refuses worker at
    // rounds 1 to 3: the server dry run passes, then the apply of the Deployments is refused for worker alone.
    const banned =
      "!request.dryRun && object.metadata.name in ['worker', 'probe'] && object.spec.template.spec.containers.exists(c, has(c.env) && c.env.exists(e, e.name == 'ROUND' && e.value in ['1', '2', '3']))"
    const policy = await denyDeployments(ns.name, 'no-worker-rounds', `!(${banned})`, 'worker rounds 1 to 3 are banned')
    try {
      // The policy takes a moment to reach the admission chain: wait until it refuses a (real) create of a probe.
      const probe = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {name: 'probe'},
        spec: {replicas: 0, selector: {matchLabels: {p: 'x'}}, template: {metadata: {labels: {p: 'x'}}, spec: {containers: [{name: 'x', image: 'x', env: [{name: 'ROUND', value: '1'}]}]}}},
      }
      await waitFor('the admission policy to be active', async () => {
        const r = await kubectl(['create', '-f', '-'], {namespace: ns.name, input: JSON.stringify(probe), reject: false})
        if (r.exitCode === 0) await kubectl(['delete', 'deployment', 'probe', '--wait=false'], {namespace: ns.name})
        return r.exitCode !== 0 && r.stderr.includes('banned')
      })
      let good = 1
      for (let round = 1, release = 2; round <= 3; round++, release += 2) {
        await app.change(() => quad(ns.name, round), `round ${round}: worker is refused`)
        const r = await app.json([...DEPLOY, 'test', '--timeout', '3m'])
        expect(r.exitCode, r.stderr).to.equal(1)
        expect(r.doc.error.code).to.equal('deploy_failed')
        expect(r.doc.error.message).to.match(new RegExp(`^release ${release} of test failed: Deployment/worker: refused by the API server: .*worker rounds 1 to 3 are banned`))
        expect(r.doc.error.message).to.contain(`; rolled back to release ${good} (recorded as release ${release + 1})`)
        expect(r.doc.error.message).to.not.contain('nothing was changed')
        const report = r.doc.error.details.report
        expect(report.failures.map((f: any) => f.ref)).to.deep.equal(['Deployment/worker'])
        expect(report.rollback).to.deep.include({to: good, release: release + 1, result: 'succeeded'})
        await expectRunning(app, 0)
        // web, api and cache were applied at this round, and the rollback returned them (a new generation each time);
        // worker was refused and never changed.
        const generations = Object.fromEntries((await app.get(['deployments'])).items.map((d: any) => [d.metadata.name, d.metadata.generation]))
        expect(generations).to.deep.equal({api: 1 + 2 * round, cache: 1 + 2 * round, web: 1 + 2 * round, worker: 1})
        const history = (await app.json(['history', 'test'])).doc.result.releases
        expect(history.slice(0, 2).map((x: any) => [x.number, x.action, x.result])).to.deep.equal([
          [release + 1, 'rollback', 'succeeded'],
          [release, 'deploy', 'failed'],
        ])
        expect(history[1]).to.include({failed: 'Deployment/worker', rollbackRelease: release + 1})
        expect((await kubectl(['get', 'lease', 'skycap-lock-quad', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
        good = release + 1
      }
    } finally {
      await kubectl(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', policy, '--ignore-not-found'])
    }
  })

  it('Ctrl-C while kubectl apply runs (a slow API server) leaves services half-applied: exit 130 naming the environment, the release recorded as interrupted, the lock released; three times', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    // Every request to the API server takes a while: the apply of four Deployments (one request each, in name order:
    // api, cache, web, worker) lasts seconds, and a Ctrl-C once api has changed lands while kubectl applies the others.
    const proxy = await ApiServerProxy.start(uniqueName('slow-apply'), {delayMs: 400})
    const env = {NO_COLOR: '1', CI: 'true', KUBECONFIG: proxy.kubeconfig}
    try {
      for (let round = 1; round <= 3; round++) {
        await app.change(() => quad(ns.name, round).replaceAll(testCluster().context, proxy.context), `round ${round}: through a slow API server`)
        const child = execa('node', [cliPath, ...DEPLOY, 'test'], {cwd: app.repo.dir, reject: false, detached: true, env})
        let err = ''
        child.stderr?.on('data', (d) => (err += d))
        await waitFor('the apply to start', () => err.includes(`Deploying release ${round + 1}`), {timeoutMs: 120_000, intervalMs: 50})
        await waitFor('api to be applied', async () => (await roundOf('api')) === String(round), {timeoutMs: 60_000, intervalMs: 50})
        // What a terminal does on Ctrl-C: SIGINT to every process of the foreground group (skycap and its kubectl).
        process.kill(-(child.pid as number), 'SIGINT')
        const r = await child
        expect(r.exitCode, err).to.equal(130)
        expect(await roundOf('worker'), 'the apply was cut before worker').to.equal('0')
        expect(err).to.contain('Error: deploy of test interrupted; the lock was released and the rollout left as it was')
        expect(err).to.contain('Check `skycap status test`')
        const history = (await app.json(['history', 'test'], {env})).doc.result.releases
        expect(history.map((x: any) => [x.number, x.action, x.result])).to.deep.equal([
          [round + 1, 'deploy', 'interrupted'],
          ...Array.from({length: round - 1}, (_, i) => [round - i, 'deploy', 'interrupted']),
          [1, 'deploy', 'succeeded'],
        ])
        expect((await kubectl(['get', 'lease', 'skycap-lock-quad', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
      }
      // skycap rollback returns every service to the last release that succeeded.
      const back = await app.json(['rollback', 'test', '--timeout', '3m'], {env})
      expect(back.exitCode, back.stderr).to.equal(0)
      expect(back.doc.result.revision.sha).to.equal(await app.repo.git('rev-parse', 'HEAD~3'))
      await expectRunning(app, 0)
    } finally {
      proxy.stop()
    }
  })

  it('Ctrl-C once every service is ready, while skycap lists what to prune (a slow API server): the live release is still recorded, deploy and rollback alike; exit 130 saying so; three times', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const proxy = await ApiServerProxy.start(uniqueName('slow-prune'), {delayMs: 400})
    const env = {NO_COLOR: '1', CI: 'true', KUBECONFIG: proxy.kubeconfig}
    const history = async () => ((await app.json(['history', 'test'], {env})).doc.result.releases as any[]).map((x) => [x.number, x.action, x.result])
    try {
      for (let round = 1; round <= 3; round++) {
        await app.change(() => quad(ns.name, round).replaceAll(testCluster().context, proxy.context), `round ${round}: through a slow API server`)
        const err = await ctrlCDuring(app, PRUNE_LISTING, [...DEPLOY, 'test'], env)
        await expectRunning(app, round)
        expect((await history())[0], err).to.deep.equal([round + 1, 'deploy', 'succeeded'])
        expect(err).to.match(new RegExp(`^Error: release ${round + 1} of test is live and recorded \\([0-9a-f]{7}\\); interrupted while pruning`, 'm'))
        expect((await kubectl(['get', 'lease', 'skycap-lock-quad', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
      }
      // A rollback, interrupted the same way, is recorded too: it returns to round 2.
      const err = await ctrlCDuring(app, PRUNE_LISTING, ['rollback', 'test'], env)
      await expectRunning(app, 2)
      expect((await history())[0], err).to.deep.equal([5, 'rollback', 'succeeded'])
      expect(err).to.match(/^Error: test is back at release 3 \([0-9a-f]{7}\), recorded as release 5; interrupted while pruning/m)
    } finally {
      proxy.stop()
    }
  })

  it("Ctrl-C while skycap reads a crashed container's logs for the report (a slow API server): the failed release is still recorded, exit 130; three times", async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const proxy = await ApiServerProxy.start(uniqueName('slow-logs'), {delayMs: 400})
    const env = {NO_COLOR: '1', CI: 'true', KUBECONFIG: proxy.kubeconfig}
    try {
      for (let round = 1, release = 2; round <= 3; round++, release += 2) {
        await app.change(() => quad(ns.name, round, 'api').replaceAll(testCluster().context, proxy.context), `round ${round}: api crashes`)
        const err = await ctrlCDuring(app, / logs api-\S+ -c api /, [...DEPLOY, 'test', '--timeout', '3m'], env)
        const history = (await app.json(['history', 'test'], {env})).doc.result.releases
        const failed = history.find((x: any) => x.number === release)
        expect(failed, err).to.include({action: 'deploy', result: 'failed', failed: 'Deployment/api'})
        expect(err).to.match(new RegExp(`^Error: release ${release} of test failed \\(Deployment/api: container api of pod api-\\S+ is in CrashLoopBackOff`, 'm'))
        // The Ctrl-C came before the automatic rollback began: its entry says it applied nothing.
        expect(err).to.contain('the rollback to release 1 was interrupted before the rollback applied anything')
        const rollback = history.find((x: any) => x.number === release + 1)
        expect(rollback, err).to.include({action: 'rollback', result: 'interrupted'})
        expect(rollback.message).to.match(/^interrupted before the rollback applied anything(; now running: |$)/)
        expect((await kubectl(['get', 'lease', 'skycap-lock-quad', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
      }
    } finally {
      proxy.stop()
    }
  })

  it('Ctrl-C during the automatic rollback: exit 130, saying the rollback was not watched to the end; both entries recorded', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change(() => quad(ns.name, 1, 'api'), 'api crashes')
    const {exitCode, err} = await deployInterruptedWhen((e) => e.includes('Rolling back to release 1'))
    expect(exitCode, err).to.equal(130)
    expect(err, err).to.match(
      /release 2 of test failed \(Deployment\/api: .*\); the rollback to release 1 was interrupted(: the rollback was applied and not watched to the end| while the rollback was being applied \(part of it may be live\)| before the rollback applied anything)/,
    )
    const history = (await app.json(['history', 'test'])).doc.result.releases
    expect(history.map((x: any) => [x.number, x.action, x.result])).to.deep.equal([
      [3, 'rollback', 'interrupted'],
      [2, 'deploy', 'failed'],
      [1, 'deploy', 'succeeded'],
    ])
    expect((await kubectl(['get', 'lease', 'skycap-lock-quad', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
    expect(err).to.contain("finishes the job (it keeps the live replica counts; add --reset-replicas for release 1's)")
    // skycap rollback finishes the job.
    const back = await app.json(['rollback', 'test'])
    expect(back.exitCode, back.stderr).to.equal(0)
    await expectRunning(app, 0)
  })

  it('scales and a rollback that waited for a lock held by hand: each record starts when it took the lock, not when it began waiting, so history reads in the order things happened', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change(() => quad(ns.name, 1), 'round 1')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    expect((await app.cli(['lock', 'acquire', 'test', '--reason', 'maintenance'])).exitCode).to.equal(0)
    const waiting = [
      app.cli(['scale', 'web', '3', '-e', 'test', '--wait-for-lock', '2m']),
      app.cli(['scale', 'api', '3', '-e', 'test', '--wait-for-lock', '2m']),
      app.cli(['rollback', 'test', '--wait-for-lock', '2m']),
    ]
    await new Promise((resolve) => setTimeout(resolve, 8000))
    const freed = Date.now()
    expect((await app.cli(['lock', 'release', 'test'])).exitCode).to.equal(0)
    for (const r of await Promise.all(waiting)) expect(r.exitCode, r.stderr).to.equal(0)
    const releases = (await app.json(['history', 'test'])).doc.result.releases.filter((r: any) => r.number > 2)
    expect(releases.map((r: any) => r.action).sort()).to.deep.equal(['rollback', 'scale', 'scale'])
    for (const r of releases) {
      expect(Date.parse(r.startedAt), `release ${r.number} (${r.action}) started ${r.startedAt}, before the lock was free`).to.be.at.least(freed)
      expect(r.durationMs, `release ${r.number} (${r.action}): ${r.durationMs} ms counts the wait`).to.be.below(Date.parse(r.finishedAt) - freed + 1)
    }
    const starts = releases.map((r: any) => Date.parse(r.startedAt))
    expect(starts, 'newest first').to.deep.equal([...starts].sort((a, b) => b - a))
  })

  it('a SIGKILLed deploy frees the environment within about a minute (the lease is short and renewed while a deploy runs)', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change(() => quad(ns.name, 1).replace('    port: 8080\n', '    port: 8080\n    labels: {sim.kwok.test/behavior: not-ready}\n'), 'web never ready')
    const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '10m'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
    let err = ''
    child.stderr?.on('data', (d) => (err += d))
    await waitFor('the watch to start', () => err.includes('Rolling out'), {timeoutMs: 60_000})
    // Held for longer than one lease: the heartbeat renews it.
    await new Promise((r) => setTimeout(r, 70_000))
    const held = await app.json(['lock', 'status', 'test'])
    expect(held.doc.result.lock, 'still held by the running deploy after 70 s').to.include({expired: false})
    child.kill('SIGKILL')
    await child
    const killedAt = Date.now()
    const lock = await waitFor(
      'the lock to expire',
      async () => {
        const s = await app.json(['lock', 'status', 'test'])
        return s.doc.result.lock?.expired ? s.doc.result.lock : undefined
      },
      {timeoutMs: 90_000, intervalMs: 2000},
    )
    expect(Date.parse(lock.expiresAt) - killedAt).to.be.below(61_000)
    await app.change(() => quad(ns.name, 2), 'fixed')
    const next = await app.json([...DEPLOY, 'test'])
    expect(next.exitCode, next.stderr).to.equal(0)
  })

  it('five concurrent deploys with --wait-for-lock: five distinct, contiguous, complete records', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change(() => quad(ns.name, 1), 'round 1')
    const runs = await Promise.all(Array.from({length: 5}, (_, i) => app.json([...DEPLOY, 'test', '--wait-for-lock', '5m', '--reason', `run ${i}`])))
    for (const r of runs) expect(r.exitCode, r.stderr).to.equal(0)
    expect(runs.map((r) => r.doc.result.release).sort()).to.deep.equal([2, 3, 4, 5, 6])
    const history = (await app.json(['history', 'test'])).doc.result.releases
    expect(history.map((x: any) => [x.number, x.action, x.result])).to.deep.equal([6, 5, 4, 3, 2, 1].map((n) => [n, 'deploy', 'succeeded']))
    // Complete: each can be returned to.
    const back = await app.json(['rollback', 'test', '--to', '3'])
    expect(back.exitCode, back.stderr).to.equal(0)
  })

  it('a scale that happens while a deploy waits for the lock is kept by that deploy', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change(() => quad(ns.name, 1), 'round 1')
    expect((await app.cli(['lock', 'acquire', 'test', '--reason', 'maintenance'])).exitCode).to.equal(0)
    const waiting = app.json([...DEPLOY, 'test', '--wait-for-lock', '5m'])
    // The deploy has validated (and read the live counts once) and now waits.
    await waitFor('the deploy to wait for the lock', async () => {
      const lease = await app.get(['lease', 'skycap-lock-quad'])
      return lease.metadata.annotations['skycap.dev/reason'] === 'maintenance'
    })
    await new Promise((r) => setTimeout(r, 3000))
    await kubectl(['scale', 'deployment', 'web', '--replicas=4'], {namespace: ns.name})
    expect((await app.cli(['lock', 'release', 'test'])).exitCode).to.equal(0)
    const r = await waiting
    expect(r.exitCode, r.stderr).to.equal(0)
    await expectRunning(app, 1)
    expect((await app.get(['deployment', 'web'])).spec.replicas).to.equal(4)
  })

  it('a release with a config folder just under 1 MiB is deployed, recorded (in several Secret parts) and can be returned to', async () => {
    // Base64 of random bytes: text that gzip cannot shrink much, 960 000 characters.
    app.repo.write('config/web/blob.txt', randomBytes(720_000).toString('base64'))
    await app.change((t) => t.replace('image: web\n', 'image: web\n    config: config/web\n'), 'a large config file')
    const r = await app.json([...DEPLOY, 'test'])
    expect(r.exitCode, r.stderr).to.equal(0)
    const parts = await app.get<{items: any[]}>(['secrets', '-l', `skycap.dev/release-of=quad,skycap.dev/release=${r.doc.result.release}`])
    expect(parts.items.length).to.be.above(1)
    await app.change(() => quad(ns.name, 1), 'round 1, no config')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const back = await app.json(['rollback', 'test'])
    expect(back.exitCode, back.stderr).to.equal(0)
    const web = await app.get(['deployment', 'web'])
    const cm = await app.get(['configmap', web.spec.template.spec.volumes[0].configMap.name])
    expect(cm.data['blob.txt']).to.have.length(960_000)
  })

  it('a user with the view role (no Secret access) runs history and status', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change(() => quad(ns.name, 1), 'round 1')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await kubectl(['create', 'serviceaccount', 'viewer'], {namespace: ns.name})
    await kubectl(['create', 'rolebinding', 'viewer-views', '--clusterrole=view', `--serviceaccount=${ns.name}:viewer`], {namespace: ns.name})
    const dir = mkdtempSync(join(tmpdir(), 'skycap-view-'))
    try {
      const kubeconfig = await kubeconfigAs(ns.name, 'viewer', dir)
      const env = {KUBECONFIG: kubeconfig}
      // The control: this user may not read Secrets.
      const secrets = await execa(testCluster().kubectlPath, ['--kubeconfig', kubeconfig, '-n', ns.name, 'get', 'secrets'], {reject: false})
      expect(secrets.exitCode).to.not.equal(0)
      expect(secrets.stderr).to.match(/forbidden/)
      const history = await waitFor('the role binding to take effect', async () => {
        const r = await app.json(['history', 'test'], {env})
        return r.exitCode === 0 ? r : undefined
      })
      expect(history.doc.result.releases.map((x: any) => [x.number, x.action, x.result])).to.deep.equal([
        [2, 'deploy', 'succeeded'],
        [1, 'deploy', 'succeeded'],
      ])
      const status = await app.json(['status', 'test'], {env})
      expect(status.exitCode, status.stderr).to.equal(0)
      expect(status.doc.result.lastRelease).to.include({number: 2})
      expect(status.doc.result.services.map((x: any) => x.service).sort()).to.deep.equal(['api', 'cache', 'web', 'worker'])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it("a CI service account with docs/rbac.md's deployer Role (nothing cluster-wide) deploys, prunes, records and rolls back; a listing it may not make does not cost the record", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skycap-ci-role-'))
    try {
      // The Role exactly as the docs write it.
      const {role, kubeconfig} = await asDeployer(ns.name, 'ci', dir)
      const env = {KUBECONFIG: kubeconfig}
      // The control: no cluster-wide read (namespaces are cluster-scoped).
      const namespaces = await execa(testCluster().kubectlPath, ['--kubeconfig', kubeconfig, 'get', 'namespace', ns.name], {reject: false})
      expect(namespaces.stderr).to.match(/forbidden/)
      await waitFor('the role binding to take effect', async () => (await app.cli(['lock', 'status', 'test'], {env})).exitCode === 0)
      app.repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {a: "1"}\n')
      await app.repo.commit('extra')
      const first = await app.cli([...DEPLOY, 'test'], {env})
      expect(first.exitCode, first.stderr).to.equal(0)
      rmSync(join(app.repo.dir, 'deploy', 'extra.yaml'))
      await app.change(() => quad(ns.name, 1), 'round 1, no extra')
      const second = await app.cli([...DEPLOY, 'test'], {env})
      expect(second.exitCode, second.stderr).to.equal(0)
      expect(second.stderr).to.contain('Pruning 1 object no longer rendered: ConfigMap/extra')
      const back = await app.cli(['rollback', 'test', '--skip-image-check'], {env})
      expect(back.exitCode, back.stderr).to.equal(0)
      // Without the right to list ResourceQuotas (a Role written before skycap pruned them): the release is recorded,
      // and what it prunes is the rest, the kinds it may not list named (it failed the deploy after the apply, and the
      // release went unrecorded; then the whole prune was undone).
      await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: role.replace(/ {2}- apiGroups: \[''\]\n {4}resources: \[resourcequotas, limitranges\]\n.*\n/, '')})
      await app.change(() => quad(ns.name, 2), 'round 2')
      await waitFor(
        'the narrower Role to take effect',
        async () => (await execa(testCluster().kubectlPath, ['--kubeconfig', kubeconfig, '-n', ns.name, 'get', 'resourcequotas'], {reject: false})).exitCode !== 0,
      )
      const narrow = await app.cli([...DEPLOY, 'test'], {env})
      expect(narrow.exitCode, narrow.stderr).to.equal(0)
      expect(narrow.stderr).to.match(/your user may not list (ResourceQuota, LimitRange|LimitRange, ResourceQuota), so objects of those kinds the release no longer renders are not pruned/)
      const history = await app.json(['history', 'test'], {env})
      expect(history.doc.result.releases.slice(0, 4).map((x: any) => [x.action, x.result])).to.deep.equal([
        ['deploy', 'succeeded'],
        ['rollback', 'succeeded'],
        ['deploy', 'succeeded'],
        ['deploy', 'succeeded'],
      ])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('a protected first deploy asks before creating anything: "no" leaves no namespace, "yes" deploys', async () => {
    const guarded = `${ns.name}-guarded`
    const onTerminal = async (answer: string) => {
      const child = execa('script', ['-qec', `node ${cliPath} ${DEPLOY.join(' ')} guarded`, '/dev/null'], {cwd: app.repo.dir, reject: false, env: {CI: '', TERM: 'xterm', NO_COLOR: '1'}})
      let screen = ''
      child.stdout?.on('data', (d) => (screen += d))
      await waitFor('the prompt', () => screen.includes('Type "yes" to continue:'), {timeoutMs: 60_000})
      // Asked before anything exists: not even the namespace.
      expect((await kubectl(['get', 'namespace', guarded, '--ignore-not-found', '-o', 'name'])).stdout.trim()).to.equal('')
      child.stdin?.write(`${answer}\n`)
      const r = await child
      return {exitCode: r.exitCode, screen}
    }
    try {
      for (let i = 0; i < 2; i++) {
        const declined = await onTerminal('no')
        expect(declined.exitCode, declined.screen).to.equal(2)
        expect(declined.screen).to.match(new RegExp(`First deploy of quad [0-9a-f]{7} to PROTECTED guarded \\(context \\S+\\): namespace ${guarded} will be created with 7 objects:`))
        expect(declined.screen).to.contain('+ Deployment/api')
        expect(declined.screen).to.contain('deploy cancelled; nothing was changed')
        expect((await kubectl(['get', 'namespace', guarded, '--ignore-not-found', '-o', 'name'])).stdout.trim()).to.equal('')
      }
      const confirmed = await onTerminal('yes')
      expect(confirmed.exitCode, confirmed.screen).to.equal(0)
      expect((await kubectl(['get', 'deployment', 'api', '-o', 'jsonpath={.status.readyReplicas}'], {namespace: guarded})).stdout).to.equal('2')
    } finally {
      await kubectl(['delete', 'namespace', guarded, '--ignore-not-found', '--wait=false'])
    }
  })
})
