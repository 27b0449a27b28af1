// Rollouts and rollbacks when things go wrong, on the real control plane, with several services moving at once and
// every scenario repeated in one test: single-service happy paths hide the races these guard against.
import {expect} from 'chai'
import {execa} from 'execa'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {cliPath, repoRoot, TempRepo} from '../helpers/repo.js'
import {ApiServerProxy} from './apiserver-proxy.js'
import {TestApp} from './app.js'
import {kubeconfigAs, kubectl, testCluster, uniqueName, useNamespace, waitFor} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']
const SERVICES = ['web', 'api', 'worker', 'cache']

/**
 * A four-service app; `round` changes every pod template (all services roll), `crash` makes one (or several)
 * crash-loop, `replicas` changes services' counts (web, api and worker have 2, cache 1).
 */
function quad(namespace: string, round: number, crash?: string | string[], extra = '', replicas: Record<string, number> = {}): string {
  const crashing = new Set([crash ?? []].flat())
  const svc = (name: string, body: string) =>
    `  ${name}:\n    ${replicas[name] === undefined ? body : body.replace(/replicas: \d+/, `replicas: ${replicas[name]}`)}\n    env: {ROUND: "${round}"}\n    resources: {requests: {cpu: 10m, memory: 16Mi}}\n` +
    (crashing.has(name) ? '    labels: {sim.kwok.test/behavior: crashloop}\n' : '')
  return [
    'app: quad',
    'registry: example.invalid/quad',
    'defaultEnvironment: test',
    extra,
    'services:',
    svc('web', 'image: web\n    replicas: 2\n    port: 8080').trimEnd(),
    svc('api', 'image: api\n    replicas: 2\n    port: 9090').trimEnd(),
    svc('worker', 'image: worker\n    replicas: 2').trimEnd(),
    svc('cache', 'image: redis:7.2\n    replicas: 1\n    port: 6379').trimEnd(),
    'environments:',
    `  test: {context: ${testCluster().context}, namespace: ${namespace}}`,
    `  guarded: {context: ${testCluster().context}, namespace: ${namespace}-guarded, protected: true}`,
    '',
  ].join('\n')
}

/** The quad app's text with web and api blue-green (scaleDownDelay 1s). */
function blueGreenQuad(namespace: string, round: number, crash?: string): string {
  return ['api', 'web'].reduce(
    (t, name) => t.replace(`  ${name}:\n    image: ${name}`, `  ${name}:\n    strategy: {type: blueGreen, scaleDownDelay: 1s}\n    image: ${name}`),
    quad(namespace, round, crash),
  )
}

/** The quad app's text with web and api as canaries of these steps. */
function canaries(text: string, steps: string): string {
  return ['api', 'web'].reduce((t, name) => t.replace(`  ${name}:\n    image: ${name}`, `  ${name}:\n    strategy: {type: canary, steps: ${steps}}\n    image: ${name}`), text)
}

async function quadApp(namespace: string): Promise<TestApp> {
  const repo = new TempRepo('skycap-quad-')
  await repo.git('init', '-q', '-b', 'main')
  repo.write('skycap.yaml', quad(namespace, 0))
  await repo.commit('round 0')
  return new TestApp(repo, namespace)
}

/** Every Deployment ready, at the ROUND the given release set, observed by the controller. */
async function expectRunning(app: TestApp, round: number): Promise<void> {
  await waitFor(`every service at round ${round} and ready`, async () => {
    const list = await app.get<{items: any[]}>(['deployments'])
    return (
      list.items.length === SERVICES.length &&
      list.items.every(
        (d) =>
          d.status.observedGeneration === d.metadata.generation &&
          d.status.readyReplicas === d.spec.replicas &&
          d.status.updatedReplicas === d.spec.replicas &&
          d.status.replicas === d.spec.replicas &&
          d.spec.template.spec.containers[0].env.find((e: any) => e.name === 'ROUND')?.value === String(round),
      )
    )
  })
}

/**
 * A ValidatingAdmissionPolicy (and its binding to `namespace`) that refuses Deployments for which `expression` is
 * false, with `message`; returns its name, for the delete.
 */
async function denyDeployments(namespace: string, prefix: string, expression: string, message: string): Promise<string> {
  const policy = uniqueName(prefix)
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingAdmissionPolicy',
          metadata: {name: policy},
          spec: {
            failurePolicy: 'Fail',
            matchConstraints: {resourceRules: [{apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments']}]},
            validations: [{expression, message}],
          },
        },
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingAdmissionPolicyBinding',
          metadata: {name: policy},
          spec: {policyName: policy, validationActions: ['Deny'], matchResources: {namespaceSelector: {matchLabels: {'kubernetes.io/metadata.name': namespace}}}},
        },
      ],
    }),
  })
  return policy
}

/**
 * `deploy --dry-run`, then the deploy, which must succeed: of each, its stderr and the replica lines it printed (the
 * dry run's `Dry run: keeping …`/`Dry run: changing …`, the deploy's `Keeping …`/`Changing …`).
 */
async function replicaNotes(app: TestApp): Promise<Array<{stderr: string; keeping: string; changing: string[]}>> {
  const dry = await app.cli([...DEPLOY, 'test', '--dry-run'])
  expect(dry.exitCode, dry.stderr).to.equal(0)
  const deployed = await app.cli([...DEPLOY, 'test'])
  expect(deployed.exitCode, deployed.stderr).to.equal(0)
  return [dry.stderr, deployed.stderr].map((stderr) => {
    const lines = stderr.split('\n')
    return {stderr, keeping: lines.find((l) => /[Kk]eeping the live replica counts:/.test(l)) ?? '', changing: lines.filter((l) => /[Cc]hanging the running replica counts:/.test(l))}
  })
}

/** The kubectl that lists the app's objects of every prunable kind, once a release is live. */
const PRUNE_LISTING = / get configmaps,secrets,services,serviceaccounts,deployments\.apps,/

/**
 * Runs skycap with --verbose, which prints each kubectl command line as it starts it, and sends Ctrl-C to its process
 * group 300 ms after the one `kubectlArgs` matches started (through a slow API server, while it runs); fails unless
 * skycap exits 130. Returns its stderr.
 */
async function ctrlCDuring(app: TestApp, kubectlArgs: RegExp, args: string[], env: Record<string, string>): Promise<string> {
  const child = execa('node', [cliPath, ...args, '--verbose'], {cwd: app.repo.dir, reject: false, detached: true, env})
  let err = ''
  let sent = false
  child.stderr?.on('data', (d) => {
    err += d
    if (!sent && kubectlArgs.test(err)) {
      sent = true
      setTimeout(() => process.kill(-(child.pid as number), 'SIGINT'), 300)
    }
  })
  const r = await child
  expect(sent, err).to.equal(true)
  expect(r.exitCode, err).to.equal(130)
  return err
}

describe('rollouts you can trust (real cluster, four services)', function () {
  this.timeout(900_000)
  const ns = useNamespace('rollouts')
  let app: TestApp
  beforeEach(async () => {
    app = await quadApp(ns.name)
  })
  afterEach(() => app.remove())

  /** The ROUND a service's Deployment asks for (the release its template is of). */
  const roundOf = async (service: string) => (await app.get(['deployment', service])).spec.template.spec.containers[0].env.find((e: any) => e.name === 'ROUND')?.value

  /**
   * `deploy test` in the background, stopped by one Ctrl-C (a second forces quit) once its stderr says `when` does,
   * `delayMs` after that.
   */
  async function deployInterruptedWhen(when: (stderr: string) => boolean, delayMs = 0): Promise<{exitCode: number | undefined; err: string}> {
    const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '3m'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
    let err = ''
    let sent = false
    child.stderr?.on('data', (d) => {
      err += d
      if (sent || !when(err)) return
      if (delayMs === 0) sent = child.kill('SIGINT')
      else {
        sent = true
        setTimeout(() => child.kill('SIGINT'), delayMs)
      }
    })
    return {exitCode: (await child).exitCode, err}
  }

  /** Waits until the web and api canaries of `release` are both paused (`rollout status`). */
  async function bothPaused(when: string, release: number): Promise<void> {
    await waitFor(`${when}: both canaries of release ${release} paused`, async () => {
      const services = (await app.json(['rollout', 'status', 'test'])).doc.result.services
      return services.web?.phase === 'paused' && services.api?.phase === 'paused' && services.web.release === release && services.api.release === release
    })
  }

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

  /**
   * `scale api 5` while api's canary of `release` is left at its pause, at 50% (api 1 pod, api-canary 1): exit 2 naming
   * the canary and what finishes it; the Deployments keep their counts (observed) and nothing is recorded. `phase`:
   * `progressing` once a `rollout resume` stopped by Ctrl-C took it on again.
   */
  async function expectScaleRefused(release: number, phase = 'paused'): Promise<void> {
    const before = (await app.json(['history', 'test'])).doc.result.releases[0].number
    const refused = await app.json(['scale', 'api', '5', '-e', 'test'])
    expect(refused.exitCode, refused.stderr).to.equal(2)
    const state = JSON.stringify((await app.json(['rollout', 'status', 'test'])).doc.result.services.api)
    expect(refused.doc.error.message, state).to.equal(`the canary of api (release ${release}, ${phase} at 50%, step 2/2) in test is still under way; nothing was changed`)
    expect(refused.doc.error.hint).to.contain('`skycap rollout resume test`').and.contain('`skycap abort test api`')
    for (const [name, count] of [
      ['api', 1],
      ['api-canary', 1],
    ] as const) {
      const d = await app.get(['deployment', name])
      expect(d.spec.replicas, `${name} unchanged`).to.equal(count)
      expect(d.status.observedGeneration, `${name} observed as it was`).to.equal(d.metadata.generation)
    }
    expect((await app.json(['history', 'test'])).doc.result.releases[0].number, 'nothing recorded').to.equal(before)
  }

  it('Ctrl-C at a canary pause, then of rollout resume there, then abort: the canary returns to stable, the services that still run the release are named with the rollback that returns them; twice; scale of the canary service is refused while it is left mid-way (rollout resume or abort undid it), of another service not, and works once a resume finished it', async () => {
    const withCanary = (round: number) => quad(ns.name, round).replace('  api:\n    image: api', '  api:\n    strategy: {type: canary, steps: [{setWeight: 50}, {pause: {}}]}\n    image: api')
    await app.change(() => withCanary(0), 'api deploys as a canary')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (let round = 1; round <= 2; round++) {
      await app.change(() => withCanary(round), `round ${round}`)
      const {exitCode, err} = await deployInterruptedWhen((e) => e.includes('api: paused at 50%'))
      expect(exitCode, err).to.equal(130)
      expect(err).to.contain('skycap rollout resume test')
      const release = (await app.json(['history', 'test'])).doc.result.releases[0]
      expect(release).to.include({action: 'deploy', result: 'interrupted'})
      await expectScaleRefused(release.number)
      // rollout resume waits at the pause; Ctrl-C there names the canary it leaves paused (it said only "interrupted
      // while …").
      const resume = execa('node', [cliPath, 'rollout', 'resume', 'test'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
      let resumeErr = ''
      let resumeStopped = false
      resume.stderr?.on('data', (d) => {
        resumeErr += d
        if (!resumeStopped && resumeErr.includes('Resuming the canary of api')) resumeStopped = resume.kill('SIGINT')
      })
      expect((await resume).exitCode, resumeErr).to.equal(130)
      expect(resumeErr).to.contain(`rollout resume of test interrupted (`)
      expect(resumeErr).to.contain(`the canary of api stays where it stands, release ${release.number} still pending`)
      expect((await app.json(['history', 'test'])).doc.result.releases[0]).to.include({number: release.number, result: 'interrupted'})
      await expectScaleRefused(release.number, 'progressing')

      const aborted = await app.cli(['abort', 'test'])
      expect(aborted.exitCode, aborted.stderr).to.equal(0)
      expect(aborted.stderr).to.contain(`api is stable again; web, worker, cache still run release ${release.number}`)
      // Named by its service (it said "the canary of test was aborted: abort api: aborted by skycap abort …").
      expect(aborted.stderr).to.contain('the canary of api in test was aborted by skycap abort')
      expect(aborted.stderr).to.contain('`skycap rollback test` returns web, worker, cache to the release before')
      const after = (await app.json(['history', 'test'])).doc.result.releases[0]
      expect(after).to.include({number: release.number, result: 'failed'})
      expect(after.message).to.contain(`the canary was aborted: api is stable again; web, worker, cache still run release ${release.number}`)
      const api = await app.get(['deployment', 'api'])
      expect(api.spec.template.spec.containers[0].env.find((e: any) => e.name === 'ROUND').value, 'api is back on the release before').to.equal('0')

      // The rollback the message names returns the others too.
      const back = await app.json(['rollback', 'test'])
      expect(back.exitCode, back.stderr).to.equal(0)
      await expectRunning(app, 0)
    }

    // Once more, left at the pause: worker (rolling) is scaled meanwhile; api is not until a resume finished its canary.
    await app.change(() => withCanary(3), 'round 3')
    const {exitCode, err} = await deployInterruptedWhen((e) => e.includes('api: paused at 50%'))
    expect(exitCode, err).to.equal(130)
    const release = (await app.json(['history', 'test'])).doc.result.releases[0]
    await expectScaleRefused(release.number)
    // The canary's strategy then removed from skycap.yaml (api rolling in the work tree): the canary is still under way.
    // A deploy is refused before it changes anything (it went ahead and left api-canary taking half of api's traffic),
    // scale too, and status still shows it.
    await app.change(() => quad(ns.name, 3), 'api rolling again')
    const rolling = await app.json([...DEPLOY, 'test'])
    expect(rolling.exitCode, rolling.stderr).to.equal(2)
    expect(rolling.doc.error.message).to.equal(`the canary of api (release ${release.number}, paused at 50%) in test is still under way; nothing was changed`)
    expect((await app.json(['history', 'test'])).doc.result.releases[0].number, 'the refused deploy is not recorded').to.equal(release.number)
    // Its dry run says so too (it said "would deploy").
    const dry = await app.json([...DEPLOY, 'test', '--dry-run'])
    expect(dry.exitCode, dry.stderr).to.equal(2)
    expect(dry.doc.error.message).to.equal(rolling.doc.error.message)
    await expectScaleRefused(release.number)
    // A rollback too, its dry run as well: it kept api's canary-reduced count as "live" and left the state saying paused.
    for (const args of [
      ['rollback', 'test'],
      ['rollback', 'test', '--dry-run'],
    ]) {
      const back = await app.json(args)
      expect(back.exitCode, back.stderr).to.equal(2)
      expect(back.doc.error.message).to.equal(rolling.doc.error.message)
      expect(back.doc.error.hint).to.match(/^Abort it with `skycap abort test` \(its stable Deployment goes back to its full count\), then roll back again/)
    }
    expect((await app.json(['history', 'test'])).doc.result.releases[0].number, 'the refused rollback is not recorded').to.equal(release.number)
    const seen = (await app.json(['status', 'test'])).doc.result.services.find((x: any) => x.service === 'api')
    expect(seen).to.deep.include({state: 'progressing'})
    expect(seen.rollout).to.include({type: 'canary', phase: 'paused'})
    await app.change(() => withCanary(3), 'api a canary again')
    const worker = await app.json(['scale', 'worker', '3', '-e', 'test'])
    expect(worker.exitCode, worker.stderr).to.equal(0)
    expect(worker.doc.result).to.include({service: 'worker', from: 2, to: 3, result: 'succeeded'})
    expect((await app.get(['deployment', 'worker'])).spec.replicas).to.equal(3)
    const resume = execa('node', [cliPath, 'rollout', 'resume', 'test'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
    let resumeErr = ''
    resume.stderr?.on('data', (d) => (resumeErr += d))
    await waitFor('the resumed canary of api paused', async () => resumeErr.includes('api: paused at 50%'))
    const promoted = await app.cli(['promote', 'test', 'api'])
    expect(promoted.exitCode, promoted.stderr).to.equal(0)
    expect((await resume).exitCode, resumeErr).to.equal(0)
    const scaled = await app.json(['scale', 'api', '3', '-e', 'test'])
    expect(scaled.exitCode, scaled.stderr).to.equal(0)
    expect(scaled.doc.result).to.include({service: 'api', from: 2, to: 3, result: 'succeeded'})
    await waitFor('api at 3 ready replicas of round 3, no canary', async () => {
      const api = await app.get(['deployment', 'api'])
      const canaryLeft = (await app.get<{items: any[]}>(['deployments', '-l', 'skycap.dev/track=canary'])).items.length
      return api.spec.replicas === 3 && api.status.readyReplicas === 3 && (await roundOf('api')) === '3' && canaryLeft === 0
    })
    const last = (await app.json(['history', 'test'])).doc.result.releases[0]
    expect(last).to.include({action: 'scale', result: 'succeeded'})
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

  it('two canaries in one release, one crash-looping: the other (at its step, or paused for a promote) is aborted at once, and the release rolled back; twice (the deploy waited in that pause for ever)', async () => {
    const canaries = (round: number, crash?: string) =>
      quad(ns.name, round, crash)
        .replace('  web:\n    image: web', '  web:\n    strategy: {type: canary, steps: [{setWeight: 50}]}\n    image: web')
        .replace('  api:\n    image: api', '  api:\n    strategy: {type: canary, steps: [{setWeight: 50}, {pause: {}}]}\n    image: api')
    await app.change(() => canaries(0), 'web and api deploy as canaries')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (let round = 1; round <= 2; round++) {
      await app.change(() => canaries(round, 'web'), `round ${round}: web crashes`)
      // Bounded, so the old code fails instead of hanging: api's pause waited for a promote nobody gives.
      const r = await app.json([...DEPLOY, 'test', '--timeout', '3m'], {timeout: 240_000})
      expect(r.exitCode, r.stderr).to.equal(1)
      const report = r.doc.error.details.report
      expect(
        report.failures.map((f: any) => f.ref),
        JSON.stringify(report.failures),
      ).to.have.length(2)
      expect(report.failures[0].ref, 'web failed the release first').to.match(/web/)
      expect(report.failures[1]).to.include({ref: 'abort api'})
      expect(report.failures[1].message).to.match(/^aborted because web failed \(.+\), which fails the release$/)
      expect(report.rollback).to.include({result: 'succeeded'})
      // Read from the cluster once its controllers caught up: every Deployment back at round 0, no canary left.
      await expectRunning(app, 0)
      const state = JSON.parse((await kubectl(['get', 'configmap', 'skycap-rollout-quad', '-o', 'json'], {namespace: ns.name})).stdout).data
      expect(JSON.parse(state.api)).to.include({phase: 'aborted', weight: 0})
      expect(state).to.not.have.property('api.request')
      // The failed deploy's `rollout status` marker went with it (it stayed, ignored once the lock was gone).
      expect(state, `round ${round}`).to.not.have.property('release.deploying')
    }
  })

  it('Ctrl-C once two canaries began their promotion, then abort: too late, said (exit 1); the promotions are finished and the release recorded as it runs (the abort said "stable again" over Deployments running the release); twice', async () => {
    const withCanaries = (round: number) => canaries(quad(ns.name, round), '[{setWeight: 50}]')
    await app.change(() => withCanaries(0), 'web and api deploy as canaries')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (let round = 1; round <= 2; round++) {
      await app.change(() => withCanaries(round), `round ${round}`)
      const {exitCode, err} = await deployInterruptedWhen((e) => e.includes('web: promoting the release to web') && e.includes('api: promoting the release to api'))
      expect(exitCode, err).to.equal(130)
      const release = (await app.json(['history', 'test'])).doc.result.releases[0]
      expect(release, err).to.include({action: 'deploy', result: 'interrupted'})
      // A Ctrl-C ends the deploy too: its `rollout status` marker is removed with the lock's release.
      const data = JSON.parse((await kubectl(['get', 'configmap', 'skycap-rollout-quad', '-o', 'json'], {namespace: ns.name})).stdout).data
      expect(data, `round ${round}: ${err}`).to.not.have.property('release.deploying')
      // Each is still promoting, or its promotion ended in the moment between its line and the Ctrl-C taking effect
      // (kwok's pods are ready at once): CI saw web completed once. The abort is then of those still promoting.
      const status = (await app.json(['rollout', 'status', 'test'])).doc.result.services
      const promoting = ['web', 'api'].filter((service) => status[service]?.phase !== 'completed')
      for (const service of promoting) expect(status[service], `round ${round}: ${service}`).to.include({phase: 'progressing', promoting: true})

      const aborted = await app.json(['abort', 'test'])
      if (promoting.length) {
        expect(aborted.exitCode, `round ${round}: ${aborted.stderr}`).to.equal(1)
        expect(aborted.doc.error.message.replace('api, web', 'web, api')).to.equal(
          `the abort of ${promoting.join(', ')} in test was not done: the canary was promoted to the end first (its promotion had begun, or a promote given at the same time came first)`,
        )
        expect(aborted.doc.error.hint).to.contain('`skycap rollback test` returns the release before it')
      } else {
        expect(aborted.exitCode, `round ${round}: ${aborted.stderr}`).to.equal(2)
        expect(aborted.doc.error.message).to.equal('no canary of test is in progress; nothing to abort')
      }
      // What the cluster runs and what history says agree: the release, both canaries gone.
      await expectRunning(app, round)
      expect(await Promise.all(['web', 'api'].map(roundOf))).to.deep.equal([String(round), String(round)])
      expect((await app.get<{items: any[]}>(['deployments'])).items.map((d) => d.metadata.name).sort(), 'the canaries are gone').to.deep.equal([...SERVICES].sort())
      const after = (await app.json(['history', 'test'])).doc.result.releases[0]
      expect(after).to.include({number: release.number, result: 'succeeded'})
      const done = (await app.json(['rollout', 'status', 'test'])).doc.result.services
      for (const service of ['web', 'api']) expect(done[service], `round ${round}: ${service}`).to.include({phase: 'completed', weight: 100}).and.not.have.property('promoting')
      expect((await app.json(['lock', 'status', 'test'])).doc.result.lock, 'no lock left').to.equal(null)
    }
  })

  it('web leaves blue-green by a deploy (to canary) and by rollbacks (to canary, to rolling): status finds it and scale scales it; its blue-green state goes (status said "not deployed" and scale refused, for good); twice', async () => {
    const as = (round: number, strategy?: string) => quad(ns.name, round).replace('  web:\n    image: web', strategy ? `  web:\n    strategy: ${strategy}\n    image: web` : '  web:\n    image: web')
    const BG = '{type: blueGreen}'
    const CANARY = '{type: canary, steps: [{setWeight: 50}]}'
    const deploy = async (round: number, strategy?: string) => {
      await app.change(() => as(round, strategy), `round ${round}: web ${strategy ?? 'rolling'}`)
      const r = await app.json([...DEPLOY, 'test'])
      expect(r.exitCode, `round ${round}: ${r.stderr}`).to.equal(0)
      return r.doc.result.release as number
    }
    /** web runs as the Deployment named after it: status finds it ready, scale scales it, no blue-green state is left. */
    const expectPlainWeb = async (when: string, replicas: number) => {
      const status = (await app.json(['status', 'test'])).doc.result.services.find((x: {service: string}) => x.service === 'web')
      expect(status, when).to.include({state: 'ready'})
      expect((await app.json(['rollout', 'status', 'test'])).doc.result.services.web?.type, when).to.not.equal('blueGreen')
      const scaled = await app.json(['scale', 'web', String(replicas), '-e', 'test'])
      expect(scaled.exitCode, `${when}: ${scaled.stderr}`).to.equal(0)
      await waitFor(`${when}: web at ${replicas} ready`, async () => {
        const d = await app.get(['deployment', 'web'])
        return d.status.observedGeneration === d.metadata.generation && d.spec.replicas === replicas && d.status.readyReplicas === replicas
      })
    }
    let round = 0
    for (const pass of [1, 2]) {
      await deploy(++round, BG)
      const canary = await deploy(++round, CANARY)
      await expectPlainWeb(`pass ${pass}: deployed as a canary after blue-green`, 3)
      await deploy(++round, BG)
      const back = await app.json(['rollback', 'test', '--to', String(canary)])
      expect(back.exitCode, back.stderr).to.equal(0)
      await expectPlainWeb(`pass ${pass}: rolled back to the canary release`, 2)
      const rolling = await deploy(++round)
      await deploy(++round, BG)
      const toRolling = await app.json(['rollback', 'test', '--to', String(rolling)])
      expect(toRolling.exitCode, toRolling.stderr).to.equal(0)
      await expectPlainWeb(`pass ${pass}: rolled back to the rolling release`, 3)
      // A later rolling deploy, with no slot left to prune, finds it too.
      await deploy(++round)
      await expectPlainWeb(`pass ${pass}: deployed rolling again`, 2)
    }
  })

  it('status while a deploy holds the lock at a canary pause: worker and cache run its revision, said to be that deploy’s, under way, with no rollback advice (it said "killed?" and named a rollback); twice', async () => {
    const withCanaries = (round: number) => canaries(quad(ns.name, round), '[{setWeight: 50}, {pause: {}}]')
    await app.change(() => withCanaries(0), 'web and api deploy as canaries')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (let round = 1; round <= 2; round++) {
      const sha = await app.change(() => withCanaries(round), `round ${round}`)
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '3m'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      await waitFor(`round ${round}: both canaries paused`, () => err.includes('web: paused at 50%') && err.includes('api: paused at 50%'), {timeoutMs: 120_000, intervalMs: 100})
      const st = await app.json(['status', 'test'])
      expect(st.doc.result.unrecorded, st.stderr).to.equal(undefined)
      expect(st.doc.result.deploying.map((x: {service: string}) => x.service).sort()).to.deep.equal(['cache', 'worker'])
      expect(st.stderr).to.not.contain('which no release in history deployed').and.not.contain('skycap rollback')
      expect(st.stderr).to.match(
        new RegExp(
          `worker, cache run ${sha.slice(0, 7)}\\w*, which the deploy under way is rolling out \\(deploy test@${sha.slice(0, 7)}\\w*, by \\S+ since .*\\); it is recorded when that deploy ends`,
        ),
      )
      const promoted = await app.cli(['promote', 'test', '--full'])
      expect(promoted.exitCode, promoted.stderr).to.equal(0)
      expect((await child).exitCode, err).to.equal(0)
      // Recorded: nothing said of it any more.
      const after = await app.json(['status', 'test'])
      expect(after.doc.result).to.not.have.property('deploying')
      expect(after.doc.result).to.not.have.property('unrecorded')
    }
  })

  it('a Ctrl-C left two paused canaries; abort of one, then promote of the other (nobody runs the rollout): the release waits for both, the promote is not done, and the release is recorded failed from both (it was recorded from the first alone, then api was promoted into a failed release); twice', async () => {
    const withCanaries = (round: number) => canaries(quad(ns.name, round), '[{setWeight: 50}, {pause: {}}]')
    await app.change(() => withCanaries(0), 'web and api deploy as canaries')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (let round = 1; round <= 2; round++) {
      await app.change(() => withCanaries(round), `round ${round}`)
      const {exitCode, err} = await deployInterruptedWhen((e) => e.includes('web: paused at 50%') && e.includes('api: paused at 50%'))
      expect(exitCode, err).to.equal(130)
      const release = (await app.json(['history', 'test'])).doc.result.releases[0]
      expect(release).to.include({action: 'deploy', result: 'interrupted'})
      // A deploy meanwhile is refused before it says anything of a release (it printed "Deploying release N" first).
      const refused = await app.cli([...DEPLOY, 'test'])
      expect(refused.exitCode, refused.stderr).to.equal(2)
      expect(refused.stderr).to.match(/the canary of .* in test is still under way; nothing was changed/)
      expect(refused.stderr).to.not.contain('Deploying release')
      // Nor of the counts it would keep: the stable Deployment's is the canary's split, not a scale.
      expect(refused.stderr).to.not.contain('Keeping the live replica counts')
      expect((await app.json(['history', 'test'])).doc.result.releases[0].number, 'nothing recorded').to.equal(release.number)
      // status names each canary's pods and revision beside the stable Deployment's (it showed the stable one only).
      const st = await app.json(['status', 'test'])
      const web = st.doc.result.services.find((x: {service: string}) => x.service === 'web')
      expect(web.canary, JSON.stringify(web)).to.include({revision: release.revision.sha})
      expect(web.canary.ready).to.equal(web.canary.desired)
      expect(web.revision, 'the row is the stable one').to.not.equal(release.revision.sha)
      // Its state is not the stable Deployment's "ready": a script waiting for ready read a paused canary as done.
      expect(web.state, JSON.stringify(web)).to.equal('progressing')
      expect(web.rollout).to.include({type: 'canary', phase: 'paused'})
      expect((await app.cli(['status', 'test'])).stdout).to.match(new RegExp(`\\nweb: canary \\d+/\\d+ ready \\(${release.revision.short}\\) takes 50% of traffic; stable `))

      const aborted = await app.cli(['abort', 'test', 'web'])
      expect(aborted.exitCode, aborted.stderr).to.equal(0)
      expect(aborted.stderr).to.contain(`release ${release.number} is recorded once the canary of api is done too`)
      expect((await app.json(['history', 'test'])).doc.result.releases[0], 'not recorded from web alone').to.include({number: release.number, result: 'interrupted'})
      expect((await app.json(['rollout', 'status', 'test'])).doc.result.services.api).to.include({phase: 'paused'})

      const promoted = await app.json(['promote', 'test', 'api'])
      expect(promoted.exitCode, `round ${round}: ${promoted.stderr}`).to.equal(1)
      expect(promoted.doc.error.message).to.match(/^the promote of api in test was not done: the canary was aborted after all, back to stable \(aborted because web failed \(abort web\)/)
      // web and api back on the release before; the rolling services still run this one, as the record says.
      await waitFor(`round ${round}: web and api back on round 0`, async () => (await roundOf('web')) === '0' && (await roundOf('api')) === '0')
      expect(await roundOf('worker')).to.equal(String(round))
      const after = (await app.json(['history', 'test'])).doc.result.releases[0]
      expect(after).to.include({number: release.number, result: 'failed'})
      expect(after.message).to.match(/the canary was aborted: (web, api|api, web) are stable again; worker, cache still run release/)
      expect((await app.json(['lock', 'status', 'test'])).doc.result.lock, 'no lock left').to.equal(null)
      // The rollback the message names returns the others.
      expect((await app.json(['rollback', 'test'])).exitCode).to.equal(0)
      await expectRunning(app, 0)
    }
  })

  it('abort of one paused canary and promote of the other, at once, while the deploy runs: the release is aborted, and the promote is not done, or done only if api’s promotion began first and completes (it said "promoted", exit 0, of a canary the abort returned to stable); three times', async () => {
    const withCanaries = (round: number) => canaries(quad(ns.name, round), '[{setWeight: 50}, {pause: {}}]')
    await app.change(() => withCanaries(0), 'web and api deploy as canaries')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (let round = 1; round <= 3; round++) {
      await app.change(() => withCanaries(round), `round ${round}`)
      // Each round's deploy fails and is rolled back: two records a round.
      const release = (await app.json(['history', 'test'])).doc.result.releases[0].number + 1
      const deploying = execa('node', [cliPath, ...DEPLOY, 'test', '--json'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
      await bothPaused(`round ${round}`, release)
      const [aborted, promoted] = await Promise.all([app.json(['abort', 'test', 'web']), app.json(['promote', 'test', 'api'])])
      const deployed = await deploying
      expect(deployed.exitCode, `round ${round}: ${deployed.stderr}`).to.equal(1)
      expect(aborted.exitCode, `round ${round}: ${aborted.stderr}`).to.equal(0)
      // Two processes started at once: the abort's request may be written after api's promotion began (from then on
      // an abort is too late), and the promote is done. Never "promoted" of a canary the abort then returned to stable.
      const services = async () => (await app.json(['rollout', 'status', 'test'])).doc.result.services
      if (promoted.exitCode === 0) {
        expect(promoted.doc.result.canaries.api.phase, `round ${round}: promote said ${promoted.stdout}`).to.be.oneOf(['progressing', 'completed'])
        expect((await services()).api.phase, `round ${round}: promoted, then`).to.equal('completed')
      } else {
        expect(promoted.exitCode, `round ${round}: promote said ${promoted.stdout}`).to.equal(1)
        expect(promoted.doc.error.message, `round ${round}`).to.match(/^the promote of api in test was not done: the canary was aborted after all, back to stable \(aborted because web failed/)
        expect((await services()).api.phase, `round ${round}`).to.equal('aborted')
      }
      // The automatic rollback brought every service back to the one release that succeeded.
      await expectRunning(app, 0)
      expect((await services()).web.phase, `round ${round}`).to.equal('aborted')
    }
  })

  it('a canary promotion that fails (web paused by hand as it is promoted) and is rolled back: rollout status says what web runs since, the release before (it said "it runs it" of the rolled-back release); twice', async () => {
    const withCanaries = (round: number) => canaries(quad(ns.name, round), '[{setWeight: 50}, {pause: {}}]')
    await app.change(() => withCanaries(0), 'web and api deploy as canaries')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const revisionOf = async (name: string) => (await app.get(['deployment', name])).metadata.annotations['skycap.dev/revision'] as string
    const base = await revisionOf('web')
    // The release the automatic rollback returns to: the first, then the rollback before.
    let good = 1
    for (let round = 1; round <= 2; round++) {
      await app.change(() => withCanaries(round), `round ${round}`)
      const release = (await app.json(['history', 'test'])).doc.result.releases[0].number + 1
      const deploying = execa('node', [cliPath, ...DEPLOY, 'test', '--json', '--timeout', '3m'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
      await bothPaused(`round ${round}`, release)
      expect((await kubectl(['rollout', 'pause', 'deployment/web'], {namespace: ns.name})).exitCode).to.equal(0)
      expect((await app.json(['promote', 'test'])).exitCode).to.equal(0)
      const deployed = await deploying
      expect(deployed.exitCode, `round ${round}: ${deployed.stderr}`).to.equal(1)
      expect(deployed.stderr, `round ${round}`).to.contain('web: the promotion failed (paused (kubectl rollout pause)')
      const rollback = JSON.parse(deployed.stdout).error.details.report.rollback
      expect(rollback, `round ${round}`).to.include({to: good, result: 'succeeded'})
      good = rollback.release
      // The cluster first: every service back on round 0, web's Deployment asking for the release before.
      await expectRunning(app, 0)
      expect(await revisionOf('web')).to.equal(base)
      const web = (await app.json(['rollout', 'status', 'test'])).doc.result.services.web
      expect(web, `round ${round}`).to.include({phase: 'failed', release, promoting: true, runsNow: base})
      expect((await app.cli(['rollout', 'status', 'test'])).stdout, `round ${round}`).to.contain(
        `web: canary failed, release ${release}, stopped at step 2/2, while web took the release (rolled back since: web runs ${base.slice(0, 7)});`,
      )
      expect((await kubectl(['rollout', 'resume', 'deployment/web'], {namespace: ns.name})).exitCode).to.equal(0)
      await expectRunning(app, 0)
    }
  })

  it('abort ENV of two canaries, left paused by a Ctrl-C and while the deploy runs: every aborted canary is named in the message, --json and the history note (the first alone was), and both are back on stable; three times', async () => {
    const withCanaries = (round: number) => canaries(quad(ns.name, round), '[{setWeight: 50}, {pause: {}}]')
    await app.change(() => withCanaries(0), 'web and api deploy as canaries')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (let round = 1; round <= 3; round++) {
      await app.change(() => withCanaries(round), `round ${round}`)
      const number = (await app.json(['history', 'test'])).doc.result.releases[0].number + 1
      // Rounds 1 and 2: nobody runs the rollout (the abort does it itself); round 3: the deploy does, and rolls back.
      const running = round === 3
      const deploying = running ? execa('node', [cliPath, ...DEPLOY, 'test', '--json'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}}) : undefined
      if (running) {
        await bothPaused(`round ${round}`, number)
      } else {
        const {exitCode, err} = await deployInterruptedWhen((e) => e.includes('web: paused at 50%') && e.includes('api: paused at 50%'))
        expect(exitCode, err).to.equal(130)
      }

      const aborted = await app.json(['abort', 'test'])
      expect(aborted.exitCode, `round ${round}: ${aborted.stderr}`).to.equal(0)
      const result = aborted.doc.result
      expect([...result.services].sort()).to.deep.equal(['api', 'web'])
      for (const service of ['web', 'api']) {
        expect(result.canaries[service], `round ${round}: ${service}`).to.include({phase: 'aborted'})
        expect(result.canaries[service].message, `round ${round}: ${service}`).to.match(/^aborted by skycap abort /)
      }
      if (!running) {
        // What the abort did here names both (it said "the canary of web in test was aborted …" of web alone).
        expect(result.message, `round ${round}`).to.match(
          /^the canaries of (web, api|api, web) in test were aborted by skycap abort [^;]+; (web, api|api, web) are stable again; worker, cache still run release \d+$/,
        )
        expect(aborted.stderr).to.contain(result.message)
      } else {
        const deployed = await deploying
        expect(deployed?.exitCode, `round ${round}: ${deployed?.stderr}`).to.equal(1)
      }
      const record = (await app.json(['history', 'test'])).doc.result.releases.find((r: any) => r.number === number)
      expect(record, `round ${round}`).to.include({result: 'failed'})
      expect(record.message, `round ${round}: the note names both`).to.match(/abort web\b/)
      expect(record.message, `round ${round}: the note names both`).to.match(/abort api\b/)
      // Both really are back on stable: the release before, no canary Deployment, the state says so.
      await waitFor(`round ${round}: web and api back on round 0, no canary left`, async () => {
        const canaryLeft = (await app.get<{items: any[]}>(['deployments', '-l', 'skycap.dev/track=canary'])).items.length
        return (await roundOf('web')) === '0' && (await roundOf('api')) === '0' && canaryLeft === 0
      })
      const status = (await app.json(['rollout', 'status', 'test'])).doc.result.services
      expect([status.web.phase, status.api.phase, status.web.weight, status.api.weight], `round ${round}`).to.deep.equal(['aborted', 'aborted', 0, 0])
      // The rollback the abort names returns worker and cache (the running deploy rolled back itself).
      if (!running) expect((await app.json(['rollback', 'test'])).exitCode).to.equal(0)
      await expectRunning(app, 0)
      expect((await app.json(['lock', 'status', 'test'])).doc.result.lock, 'no lock left').to.equal(null)
    }
  })

  it('Ctrl-C during the first step of two canaries, at several moments: the saved weight is the split the ready pods make (it said 0% while the canary pods took traffic); a promote then runs the step again and finishes; three times', async () => {
    const withCanaries = (round: number) => canaries(quad(ns.name, round), '[{setWeight: 50}, {pause: {}}]')
    await app.change(() => withCanaries(0), 'web and api deploy as canaries')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    // As the canary pods are scaled, as they come up, once they are ready (or past the step).
    const delays = [0, 700, 2000]
    for (let round = 1; round <= 3; round++) {
      await app.change(() => withCanaries(round), `round ${round}`)
      const {exitCode, err} = await deployInterruptedWhen((e) => e.includes('web: weight 50%') && e.includes('api: weight 50%'), delays[round - 1])
      expect(exitCode, err).to.equal(130)
      const release = (await app.json(['history', 'test'])).doc.result.releases[0]
      expect(release, err).to.include({action: 'deploy', result: 'interrupted'})
      // A Ctrl-C ends the deploy too: its `rollout status` marker is removed with the lock's release.
      const data = JSON.parse((await kubectl(['get', 'configmap', 'skycap-rollout-quad', '-o', 'json'], {namespace: ns.name})).stdout).data
      expect(data, `round ${round}: ${err}`).to.not.have.property('release.deploying')
      const status = (await app.json(['rollout', 'status', 'test'])).doc.result.services
      for (const service of ['web', 'api']) {
        const state = status[service]
        expect(state, `round ${round}: ${service}`).to.include({release: release.number})
        expect(['progressing', 'paused'], `round ${round}: ${service}`).to.include(state.phase)
        // What serves once the controllers settle: the ready pods of each side (the Service selects both).
        const [canary, stable] = await waitFor(`round ${round}: ${service}'s Deployments settled`, async () => {
          const both = await Promise.all([app.get(['deployment', `${service}-canary`]), app.get(['deployment', service])])
          const settled = both.every((d) => d.status.observedGeneration === d.metadata.generation && (d.status.replicas ?? 0) === d.spec.replicas && (d.status.readyReplicas ?? 0) === d.spec.replicas)
          return settled && both
        })
        const ready = [canary.status.readyReplicas ?? 0, stable.status.readyReplicas ?? 0]
        const split = Math.round((100 * ready[0]) / (ready[0] + ready[1]))
        expect(state.weight, `round ${round}: ${service} (canary ${ready[0]}, stable ${ready[1]} ready pods; ${err})`).to.equal(split)
      }
      // The step runs again from where the state says, then the promotion (nobody runs the rollout: promote does it).
      const promoted = await app.json(['promote', 'test'], {timeout: 240_000})
      expect(promoted.exitCode, `round ${round}: ${promoted.stderr}`).to.equal(0)
      await expectRunning(app, round)
      expect((await app.json(['history', 'test'])).doc.result.releases[0]).to.include({number: release.number, result: 'succeeded'})
    }
  })

  it("a canary finished by promote after its deploy ended: the postdeploy hooks that deploy would have run are said and recorded as not run, its predeploy hook's record kept (it was recorded succeeded without a word, and without the hook that ran); twice", async () => {
    const hooks = 'hooks:\n  predeploy:\n    - {name: migrate, service: worker, command: ["true"]}\n  postdeploy:\n    - {name: smoke, service: worker, command: ["true"]}'
    const withCanary = (round: number) => canaries(quad(ns.name, round, undefined, hooks), '[{setWeight: 50}, {pause: {}}]')
    await app.change(() => withCanary(0), 'web and api deploy as canaries, with hooks')
    const first = await app.cli([...DEPLOY, 'test'])
    expect(first.exitCode, first.stderr).to.equal(0)
    for (let round = 1; round <= 2; round++) {
      await app.change(() => withCanary(round), `round ${round}`)
      const {exitCode, err} = await deployInterruptedWhen((e) => e.includes('web: paused at 50%') && e.includes('api: paused at 50%'))
      expect(exitCode, err).to.equal(130)
      const number = (await app.json(['history', 'test'])).doc.result.releases[0].number
      const promoted = await app.json(['promote', 'test', '--full'], {timeout: 240_000})
      expect(promoted.exitCode, promoted.stderr).to.equal(0)
      expect(promoted.stderr).to.contain(
        `the postdeploy hook smoke of release ${number} did not run: the deploy that runs it ended before its canary finished; run it by hand (\`skycap run SERVICE -- COMMAND\`)`,
      )
      const record = (await app.json(['history', 'test'])).doc.result.releases[0]
      expect(record).to.include({number, result: 'succeeded'})
      expect(record.postdeployNotRun).to.deep.equal(['smoke'])
      expect(record.hooks.map((h: any) => [h.name, h.phase, h.result])).to.deep.equal([['migrate', 'predeploy', 'succeeded']])
      expect((await app.cli(['history', 'test'])).stdout).to.match(/hooks: migrate succeeded \d+s, smoke did not run/)
    }
  })

  it('rollout status while a deploy validates and applies its release (a slow API server), before its canaries start: it names that release, not the last canaries as current; twice', async () => {
    const withCanaries = (round: number, context = testCluster().context) => canaries(quad(ns.name, round), '[{setWeight: 50}]').replaceAll(testCluster().context, context)
    await app.change(() => withCanaries(0), 'web and api deploy as canaries')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    // A first canary of each, completed: the last one `rollout status` showed as current during the next deploy.
    await app.change(() => withCanaries(100), 'a first canary')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const proxy = await ApiServerProxy.start(uniqueName('slow-deploy'), {delayMs: 300})
    const env = {NO_COLOR: '1', CI: 'true', KUBECONFIG: proxy.kubeconfig}
    try {
      for (let round = 1; round <= 2; round++) {
        await app.change(() => withCanaries(round, proxy.context), `round ${round}: through a slow API server`)
        const number = (await app.json(['history', 'test'], {env})).doc.result.releases[0].number + 1
        const child = execa('node', [cliPath, ...DEPLOY, 'test'], {cwd: app.repo.dir, reject: false, env})
        let err = ''
        let ended = false
        child.stderr?.on('data', (d) => (err += d))
        void child.then(() => (ended = true))
        // While it validates, before its lock: nothing in the cluster has changed or names the deploy (its number is
        // read under the lock). The last canaries are shown as what they are, release N - 1's, completed, and the
        // lock as free: not as a canary of the coming release.
        await waitFor(`round ${round}: validating`, () => err.includes('Validating '), {timeoutMs: 120_000, intervalMs: 50})
        let before = 0
        while (!err.includes('Deploying release') && !ended) {
          const [json, text] = await Promise.all([app.json(['rollout', 'status', 'test'], {env}), app.cli(['rollout', 'status', 'test'], {env})])
          if (json.doc.result.deploying || json.doc.result.lock) break
          for (const service of ['web', 'api']) expect(json.doc.result.services[service], `round ${round}: ${service}`).to.include({release: number - 1, phase: 'completed'})
          // Asked at the same time: it may have met the lock taken meanwhile.
          if (/^lock free$/m.test(text.stdout)) expect(text.stdout, `round ${round}`).to.match(new RegExp(`^web: canary completed, release ${number - 1}, weight 100%`, 'm'))
          if (!err.includes('Deploying release')) before++
        }
        await waitFor(`round ${round}: release ${number} under way`, () => err.includes(`Deploying release ${number}`), {timeoutMs: 120_000, intervalMs: 50})
        let pending = 0
        // Until the deploy ends, from its "Deploying release N": release N is named, never the last canaries (N - 1).
        while (!ended) {
          const status = await app.json(['rollout', 'status', 'test'], {env})
          const r = status.doc.result
          if (r.deploying) expect(r.deploying.release, `round ${round}`).to.equal(number)
          for (const service of ['web', 'api']) {
            const s = r.services[service]
            expect(s.release, `round ${round}: ${service}: ${JSON.stringify(s)}`).to.equal(number)
            if (s.phase !== 'pending') continue
            pending++
            expect(s.last, `round ${round}: ${service}`).to.include({release: number - 1, phase: 'completed'})
          }
          if (r.services.web.phase === 'pending') {
            const text = await app.cli(['rollout', 'status', 'test'], {env})
            if (!ended && text.stdout.includes(`release ${number} deploying`))
              expect(text.stdout).to.match(
                new RegExp(
                  `^web: canary pending, release ${number} deploying \\(by .+\\); no canary of release ${number} has started yet .*; the last canary was release ${number - 1}'s, completed$`,
                  'm',
                ),
              )
          }
        }
        expect((await child).exitCode, err).to.equal(0)
        expect(pending, `round ${round}: seen before the canaries started`).to.be.greaterThan(0)
        expect(before, `round ${round}: seen while it validated`).to.be.greaterThan(0)
        // Done: the lock is released, and the canaries of the release show as they ended.
        const done = await app.json(['rollout', 'status', 'test'], {env})
        expect(done.doc.result).to.not.have.property('deploying')
        expect(done.doc.result.services.web).to.include({release: number, phase: 'completed'})
        // The marker that named the release went with the deploy (it stayed in the ConfigMap, ignored): what
        // `kubectl get cm -o yaml` shows is the services' canaries.
        const data = JSON.parse((await kubectl(['get', 'configmap', 'skycap-rollout-quad', '-o', 'json'], {namespace: ns.name})).stdout).data
        expect(Object.keys(data).sort(), `round ${round}`).to.deep.equal(['api', 'web'])
      }
    } finally {
      proxy.stop()
    }
  })

  it('promote and abort given at once to a canary a Ctrl-C left: neither is refused by the lock the other took, and neither says it did what the other did; three times', async () => {
    const withCanaries = (round: number) => canaries(quad(ns.name, round), '[{setWeight: 50}, {pause: {}}]')
    await app.change(() => withCanaries(0), 'web and api deploy as canaries')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (let round = 1; round <= 3; round++) {
      await app.change(() => withCanaries(round), `round ${round}`)
      const {exitCode, err} = await deployInterruptedWhen((e) => e.includes('web: paused at 50%') && e.includes('api: paused at 50%'))
      expect(exitCode, err).to.equal(130)

      const [promoted, aborted] = await Promise.all([app.cli(['promote', 'test']), app.cli(['abort', 'test'])])
      for (const r of [promoted, aborted]) expect(r.stderr, 'refused by the lock the other command took').not.to.contain('is locked by')
      const canaries = (await app.json(['rollout', 'status', 'test'])).doc.result.services
      const phases: string[] = [canaries.web.phase, canaries.api.phase]
      // Each service does what the request written last for it says; a command whose request was not the one acted on
      // for some service says so (exit 1) and does not claim it.
      expect(
        phases.every((p) => p === 'aborted' || p === 'completed'),
        phases.join(', '),
      ).to.equal(true)
      const allAborted = phases.every((p) => p === 'aborted')
      const noneAborted = phases.every((p) => p === 'completed')
      expect(aborted.exitCode, `abort with canaries ${phases}: ${aborted.stdout}${aborted.stderr}`).to.equal(allAborted ? 0 : 1)
      expect(promoted.exitCode, `promote with canaries ${phases}: ${promoted.stdout}${promoted.stderr}`).to.equal(noneAborted ? 0 : 1)
      if (!allAborted) expect(aborted.stdout).not.to.contain('aborted web, api')
      if (!noneAborted) expect(promoted.stdout).not.to.contain('promoted web, api')
      expect((await app.json(['lock', 'status', 'test'])).doc.result.lock, 'no lock left').to.equal(null)
    }
  })

  it('blue-green and canary services scaled to 0 take new releases at 0 (no checks of nothing, no canary that scales them up) and start on the new release when scaled; twice', async () => {
    const strategies = (round: number) =>
      quad(ns.name, round)
        .replace('  web:\n    image: web', '  web:\n    strategy: {type: blueGreen, scaleDownDelay: 1s}\n    image: web')
        .replace('  api:\n    image: api', '  api:\n    strategy: {type: canary, steps: [{setWeight: 50}, {pause: {}}]}\n    image: api')
    await app.change(() => strategies(0), 'web blue-green, api canary')
    const first = await app.cli([...DEPLOY, 'test'])
    expect(first.exitCode, first.stderr).to.equal(0)
    for (const service of ['web', 'api']) expect((await app.cli(['scale', service, '0', '-e', 'test'])).exitCode).to.equal(0)
    const roundOf = (d: any) => d.spec.template.spec.containers[0].env.find((e: any) => e.name === 'ROUND')?.value
    const serving = async () => {
      const slot = (await app.get(['service', 'web'])).spec.selector['skycap.dev/slot']
      return app.get(['deployment', `web-${slot}`])
    }
    for (let round = 1; round <= 2; round++) {
      await app.change(() => strategies(round), `round ${round}`)
      // diff compares what the deploy leaves: web's idle slot and its Service, never a Deployment named web.
      const idle = (await app.get(['service', 'web'])).spec.selector['skycap.dev/slot'] === 'blue' ? 'green' : 'blue'
      const before = await app.json(['diff', 'test'])
      expect([before.exitCode, [...before.doc.result.changed].sort()], before.stderr).to.deep.equal([
        1,
        ['Deployment/api', 'Deployment/cache', `Deployment/web-${idle}`, 'Deployment/worker', 'Service/web'],
      ])
      const r = await app.cli([...DEPLOY, 'test', '--timeout', '2m'])
      expect(r.exitCode, r.stderr).to.equal(0)
      const after = await app.cli(['diff', 'test'])
      expect([after.exitCode, after.stdout], 'diff right after the deploy: nothing left to change').to.deep.equal([0, 'No changes'])
      expect(r.stderr).to.contain('web: at 0 replicas: no checks or traffic steps; the release runs once `skycap scale web N` starts it')
      expect(r.stderr).to.contain('api: at 0 replicas')
      const web = await serving()
      expect([roundOf(web), web.spec.replicas], 'the Service selects the slot with the release, at 0').to.deep.equal([String(round), 0])
      const api = await app.get(['deployment', 'api'])
      expect([roundOf(api), api.spec.replicas]).to.deep.equal([String(round), 0])
      const canaries = await app.get<{items: any[]}>(['deployments', '-l', 'skycap.dev/track=canary'])
      expect(canaries.items.map((d) => d.metadata.name)).to.deep.equal([])
      expect((await app.json(['history', 'test'])).doc.result.releases[0]).to.include({action: 'deploy', result: 'succeeded'})
    }
    for (const service of ['web', 'api']) {
      const scaled = await app.cli(['scale', service, '2', '-e', 'test'])
      expect(scaled.exitCode, scaled.stderr).to.equal(0)
    }
    await waitFor('web and api run round 2 with 2 ready pods each', async () => {
      const [web, api] = [await serving(), await app.get(['deployment', 'api'])]
      return [web, api].every((d) => roundOf(d) === '2' && d.status.observedGeneration === d.metadata.generation && d.status.readyReplicas === 2)
    })
    const scaled = await app.cli(['diff', 'test'])
    expect([scaled.exitCode, scaled.stdout], 'diff after the scales: a deploy keeps the counts').to.deep.equal([0, 'No changes'])
  })

  it('SIGTERM while a rollback brings the old blue-green slots of web and api back up: rollout status matches the Deployments, and rollout resume, the next rollback or the next deploy leaves no slot up that the Service does not select; three times', async () => {
    const blueGreen = (round: number, crash?: string) => blueGreenQuad(ns.name, round, crash)
    for (let round = 0; round <= 1; round++) {
      await app.change(() => blueGreen(round), `round ${round}: web and api blue-green`)
      const r = await app.cli([...DEPLOY, 'test'])
      expect(r.exitCode, r.stderr).to.equal(0)
    }
    /** What `rollout status` says of web and api, held against their Services and slot Deployments once the controller observed them. */
    const statusIsTrue = async (when: string) => {
      const status = await app.json(['rollout', 'status', 'test'])
      expect(status.exitCode, status.stderr).to.equal(0)
      for (const service of ['web', 'api']) {
        const said = status.doc.result.services[service]
        const serving = (await app.get(['service', service])).spec.selector['skycap.dev/slot']
        expect(said.activeSlot, `${when}: ${service}'s active slot (${JSON.stringify(said)})`).to.equal(serving)
        if (!said.previousSlot || !said.scaledDown) continue
        const kept = `${service}-${said.previousSlot}`
        await waitFor(`${kept} observed by its controller`, async () => {
          const d = await app.get(['deployment', kept])
          return d.status.observedGeneration === d.metadata.generation
        })
        expect((await app.get(['deployment', kept])).spec.replicas, `${when}: rollout status says ${kept} is scaled to 0 (${JSON.stringify(said)})`).to.equal(0)
      }
    }
    /** No slot the Service does not select has pods (or is asked for any), once the controller observed it. */
    const noIdleSlotUp = async (when: string) => {
      for (const service of ['web', 'api']) {
        const serving = (await app.get(['service', service])).spec.selector['skycap.dev/slot']
        const idle = `${service}-${serving === 'blue' ? 'green' : 'blue'}`
        await waitFor(
          `${when}: ${idle} observed at 0 replicas`,
          async () => {
            const d = await app.get(['deployment', idle])
            return d.status.observedGeneration === d.metadata.generation && d.spec.replicas === 0 && (d.status.replicas ?? 0) === 0
          },
          {timeoutMs: 30_000},
        )
      }
    }
    const recoveries = ['rollout resume', 'rollback', 'deploy'] as const
    for (const [i, recovery] of recoveries.entries()) {
      // Release 1 (round 0) is in blue at 0 replicas; green serves release 2: the rollback scales blue back up.
      const child = execa('node', [cliPath, 'rollback', 'test', '--to', '1', '--skip-image-check', '--timeout', '3m'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
      let err = ''
      let sent = false
      child.stderr?.on('data', (d) => {
        err += d
        // The watch's title: the slots were applied at full size, nothing is switched yet.
        if (!sent && err.includes('again (release 1)')) sent = child.kill('SIGTERM')
      })
      const r = await child
      expect(sent, err).to.equal(true)
      expect(r.exitCode, err).to.equal(130)
      // Stopped where meant: blue asked for at full size, green still serving.
      for (const service of ['web', 'api']) {
        expect((await app.get(['service', service])).spec.selector['skycap.dev/slot'], err).to.equal('green')
        expect((await app.get(['deployment', `${service}-blue`])).spec.replicas, err).to.equal(2)
      }
      await statusIsTrue(`after SIGTERM ${i + 1}`)
      const next =
        recovery === 'rollout resume'
          ? await app.cli(['rollout', 'resume', 'test'])
          : recovery === 'rollback'
            ? await app.cli(['rollback', 'test', '--skip-image-check'])
            : (await app.change(() => blueGreen(2), 'round 2'), await app.cli([...DEPLOY, 'test']))
      expect(next.exitCode, next.stderr).to.equal(0)
      await noIdleSlotUp(`after ${recovery}`)
      await statusIsTrue(`after ${recovery}`)
    }
  })

  it('an unchanged rollback (--to the release that runs) of web and api whose old slots a deploy left up (a lock taken by hand, a Ctrl-C during scaleDownDelay) scales those slots to 0, leaves the serving slots and rolling worker and cache alone, and records nothing; twice', async () => {
    const slotOf = async (service: string): Promise<string> => (await app.get(['service', service])).spec.selector['skycap.dev/slot']
    const other = (slot: string) => (slot === 'blue' ? 'green' : 'blue')
    /** Each Deployment's generation and replica count, once every one is observed by its controller and ready. */
    const observedDeployments = async (what: string): Promise<Record<string, string>> => {
      const list = await waitFor(what, async () => {
        const items = (await app.get<{items: any[]}>(['deployments'])).items
        const settled = items.every((d) => d.status.observedGeneration === d.metadata.generation && (d.status.readyReplicas ?? 0) === d.spec.replicas && (d.status.replicas ?? 0) === d.spec.replicas)
        return settled && items
      })
      return Object.fromEntries(list.map((d: any) => [d.metadata.name, `generation ${d.metadata.generation}, ${d.spec.replicas} replicas`]))
    }
    // Long enough to take a lock or press Ctrl-C while the deploy keeps the old slot.
    const slow = (round: number) => blueGreenQuad(ns.name, round).replaceAll('scaleDownDelay: 1s', 'scaleDownDelay: 8s')
    await app.change(() => slow(0), 'round 0: web and api blue-green')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (const [pass, leftBy] of (['lock', 'ctrl-c'] as const).entries()) {
      const round = pass + 1
      await app.change(() => slow(round), `round ${round}`)
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '3m', '--json'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      await waitFor(`round ${round}: the deploy keeps the old slots for an instant rollback`, () => /Keeping [^\n]* for an instant rollback/.test(err), {timeoutMs: 180_000, intervalMs: 100})
      if (leftBy === 'lock') {
        const held = await app.json(['lock', 'acquire', 'test', '--reason', 'hotfix window', '--duration', '3m'])
        expect(held.exitCode, held.stderr).to.equal(0)
      } else child.kill('SIGINT')
      const deployed = await child
      expect(deployed.exitCode, err).to.equal(0)
      const serving = {web: await slotOf('web'), api: await slotOf('api')}
      const left = [`web-${other(serving.web)}`, `api-${other(serving.api)}`]
      if (leftBy === 'lock') {
        expect(JSON.parse(deployed.stdout).result.scaleDownLeft.slots, err).to.have.members(left)
        expect((await app.json(['lock', 'release', 'test'])).exitCode).to.equal(0)
      }
      const before = await observedDeployments(`round ${round}: every Deployment observed and ready`)
      for (const name of left) expect(before[name], `${name} left up (${leftBy})`).to.match(/, 2 replicas$/)
      const history = (await app.json(['history', 'test'])).doc.result.releases.map((x: any) => x.number)
      const runs = history[0] as number

      const back = await app.json(['rollback', 'test', '--to', String(runs), '--skip-image-check'])
      expect(back.exitCode, back.stderr).to.equal(0)
      expect(back.doc.result, back.stderr).to.include({result: 'unchanged', release: null, rolledBackTo: runs, runningRelease: runs})
      expect(back.doc.result.scaledDown, back.stderr).to.have.members(left)
      expect(back.stderr).to.contain(`Release ${runs} of test is what runs: nothing was changed or recorded`)
      expect(back.stderr).to.match(new RegExp(`Scaled (${left[0]}, ${left[1]}|${left[1]}, ${left[0]}) to 0`))
      const after = await observedDeployments(`round ${round}: every Deployment observed after the rollback`)
      // The left slots at 0 with no pod; everything else as it was: the serving slots, worker, cache.
      for (const name of left) expect(after[name], name).to.match(/, 0 replicas$/)
      for (const name of Object.keys(before).filter((n) => !left.includes(n))) expect(after[name], name).to.equal(before[name])
      for (const service of ['web', 'api'] as const) {
        expect(await slotOf(service)).to.equal(serving[service])
        expect(after[`${service}-${serving[service]}`]).to.match(/, 2 replicas$/)
      }
      // Nothing recorded; the rollout state says the left slots were scaled down, the serving ones still active.
      expect((await app.json(['history', 'test'])).doc.result.releases.map((x: any) => x.number)).to.deep.equal(history)
      const state = (await app.json(['rollout', 'status', 'test'])).doc.result.services
      for (const service of ['web', 'api'] as const) {
        expect(state[service], service).to.include({phase: 'completed', release: runs, activeSlot: serving[service], previousSlot: other(serving[service]), scaledDown: true})
      }
    }
  })

  it('blue-green slots shifted back by hand (Service patched to the old slot, scaled up, the other to 0) for web and api: a rollback to the release recorded in the slot that now serves another says and records the counts it keeps under the slots it places (it named the recorded ones, which it scales to 0); twice', async () => {
    const slotOf = async (service: string): Promise<string> => (await app.get(['service', service])).spec.selector['skycap.dev/slot']
    // Releases 1 to 4 (rounds 0 to 3): 1 and 3 in blue, 2 and 4 in green, which serves.
    for (let round = 0; round <= 3; round++) {
      await app.change(() => blueGreenQuad(ns.name, round), `round ${round}: web and api blue-green`)
      const r = await app.cli([...DEPLOY, 'test'])
      expect(r.exitCode, r.stderr).to.equal(0)
    }
    for (let pass = 1; pass <= 2; pass++) {
      for (const service of ['web', 'api']) {
        expect(await slotOf(service)).to.equal('green')
        await waitFor(`pass ${pass}: ${service}-blue at 0, observed`, async () => {
          const d = await app.get(['deployment', `${service}-blue`])
          return d.status.observedGeneration === d.metadata.generation && d.spec.replicas === 0 && (d.status.replicas ?? 0) === 0
        })
      }
      // By hand, as a user returns to blue (release 3, or release 3's manifests) without skycap: blue up at 3, the
      // Service onto it, green to 0.
      for (const service of ['web', 'api']) {
        expect((await kubectl(['scale', 'deployment', `${service}-blue`, '--replicas=3'], {namespace: ns.name})).exitCode).to.equal(0)
        await waitFor(`pass ${pass}: ${service}-blue ready at 3`, async () => {
          const d = await app.get(['deployment', `${service}-blue`])
          return d.status.observedGeneration === d.metadata.generation && d.status.readyReplicas === 3
        })
        expect((await kubectl(['patch', 'service', service, '-p', '{"spec":{"selector":{"skycap.dev/slot":"blue"}}}'], {namespace: ns.name})).exitCode).to.equal(0)
        expect((await kubectl(['scale', 'deployment', `${service}-green`, '--replicas=0'], {namespace: ns.name})).exitCode).to.equal(0)
      }
      // rollout status says the Service serves blue, not the green its state records (it showed green as active).
      const shifted = await app.json(['rollout', 'status', 'test'])
      expect(shifted.exitCode, shifted.stderr).to.equal(0)
      const shiftedText = (await app.cli(['rollout', 'status', 'test'])).stdout
      for (const service of ['web', 'api']) {
        const note = `Service ${service} selects ${service}-blue, not ${service}-green as the rollout state says (switched by hand?): ${service}-blue takes the traffic, and status, scale and the next deploy or rollback go by the Service`
        expect(shifted.doc.result.services[service]).to.deep.include({activeSlot: 'green', selected: {slot: 'blue', note}})
        expect(shiftedText).to.contain(`\n  warning: ${note}`)
      }
      // Release 1 was recorded in blue; blue serves another release, so it goes to green: its dry run says so too.
      const dry = await app.json(['rollback', 'test', '--to', '1', '--skip-image-check', '--dry-run'])
      expect(dry.exitCode, dry.stderr).to.equal(0)
      expect(dry.stderr).to.match(/Dry run: keeping the live replica counts: (api|web)-green 3 \(release 1 had 2\), (web|api)-green 3 \(release 1 had 2\);/)
      const back = await app.json(['rollback', 'test', '--to', '1', '--skip-image-check'])
      expect(back.exitCode, back.stderr).to.equal(0)
      const note = back.stderr.split('\n').find((l: string) => l.includes('Keeping the live replica counts:')) ?? ''
      for (const service of ['web', 'api']) {
        expect(note, back.stderr).to.contain(`${service}-green 3 (release 1 had 2)`)
        expect(note).to.not.contain(`${service}-blue`)
        expect(await slotOf(service)).to.equal('green')
      }
      expect(back.stderr).to.match(/Scaled (web-blue, api-blue|api-blue, web-blue) to 0/)
      await waitFor(`pass ${pass}: the rollback observed`, async () => {
        for (const service of ['web', 'api']) {
          const [green, blue] = [await app.get(['deployment', `${service}-green`]), await app.get(['deployment', `${service}-blue`])]
          if (green.status.observedGeneration !== green.metadata.generation || green.status.readyReplicas !== 3 || green.spec.replicas !== 3) return false
          if (green.spec.template.spec.containers[0].env.find((e: any) => e.name === 'ROUND')?.value !== '0') return false
          if (blue.status.observedGeneration !== blue.metadata.generation || blue.spec.replicas !== 0 || (blue.status.replicas ?? 0) !== 0) return false
        }
        return true
      })
      const [entry] = (await app.json(['history', 'test'])).doc.result.releases
      expect(entry).to.include({action: 'rollback', result: 'succeeded', rolledBackTo: 1})
      expect(entry.keptReplicas).to.deep.equal({'web-green': 3, 'api-green': 3})
      const table = (await app.cli(['history', 'test'])).stdout
      expect(table).to.match(/kept replicas (web-green=3 api-green=3|api-green=3 web-green=3)/)
      // The rollback put the Services on green and recorded it: nothing to say.
      const agreed = await app.json(['rollout', 'status', 'test'])
      for (const service of ['web', 'api']) expect(agreed.doc.result.services[service], service).to.include({activeSlot: 'green'}).and.not.have.property('selected')
    }
  })

  it('blue-green web and api with no slot Deployment at all (both deleted by hand), web patched to purple, api to green, then left on blue: status says failing with no slot to patch back to, scale refuses, the dry run changes nothing, and the next deploy brings blue up and puts each Service on it (api left on blue is not said to be replaced); twice', async () => {
    const names = async () => (await app.get<{items: any[]}>(['deployments'])).items.map((d) => `${d.metadata.name} ${d.metadata.generation} ${d.spec.replicas}`).sort()
    await app.change(() => blueGreenQuad(ns.name, 0), 'round 0: web and api blue-green')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    // promote and abort act on canaries: a blue-green service is said as one (it was "no canary of test for web").
    for (const action of ['promote', 'abort']) {
      const refused = await app.json([action, 'test', 'web'])
      expect(refused.exitCode, refused.stderr).to.equal(2)
      expect(refused.doc.error.message).to.equal(`web is a blue-green service: skycap ${action} acts on canaries; nothing to ${action}`)
    }
    for (const [pass, apiSlot] of (['green', 'blue'] as const).entries()) {
      const round = pass + 1
      for (const service of ['web', 'api']) {
        const gone = await kubectl(['delete', 'deployment', `${service}-blue`, `${service}-green`, '--ignore-not-found', '--wait=true'], {namespace: ns.name})
        expect(gone.exitCode, gone.stderr).to.equal(0)
      }
      const selected = {web: 'purple', api: apiSlot}
      for (const service of ['web', 'api'] as const) {
        const patched = await kubectl(['patch', 'service', service, '-p', `{"spec":{"selector":{"skycap.dev/slot":"${selected[service]}"}}}`], {namespace: ns.name})
        expect(patched.exitCode, patched.stderr).to.equal(0)
      }
      const status = await app.json(['status', 'test'])
      expect(status.exitCode, status.stderr).to.equal(0)
      for (const service of ['web', 'api'] as const) {
        const said = status.doc.result.services.find((x: any) => x.service === service)
        expect(said.state, service).to.equal('failing')
        expect(said.problem).to.equal(
          `Service ${service} selects skycap.dev/slot=${selected[service]} (set by hand?), a slot with no Deployment ${service}-${selected[service]}: it sends traffic to no pod (neither ${service}-blue nor ${service}-green exists); \`skycap deploy test\` puts it back on the slot it brings up`,
        )
        expect(status.stderr).to.contain(`warning: ${said.problem}`)
      }
      for (const service of ['worker', 'cache']) expect(status.doc.result.services.find((x: any) => x.service === service).state).to.equal('ready')
      const [before, recorded] = [await names(), (await app.json(['history', 'test'])).doc.result.releases.length]
      for (const service of ['web', 'api'] as const) {
        for (const args of [[], ['--dry-run']]) {
          const refused = await app.cli(['scale', service, '3', '-e', 'test', ...args])
          expect(refused.exitCode, refused.stderr).to.equal(2)
          expect(refused.stderr).to.contain(`(neither ${service}-blue nor ${service}-green exists); ${service} is not scaled, nothing was changed`)
          expect(refused.stderr).to.contain(`\`skycap deploy test\` puts it back on the slot it brings up; then scale ${service}.`)
        }
      }
      const dry = await app.cli([...DEPLOY, 'test', '--dry-run'])
      expect(dry.exitCode, dry.stderr).to.equal(0)
      expect(await names()).to.deep.equal(before)
      expect((await app.json(['history', 'test'])).doc.result.releases.length).to.equal(recorded)
      await app.change(() => blueGreenQuad(ns.name, round), `round ${round}`)
      const next = await app.cli([...DEPLOY, 'test'])
      expect(next.exitCode, next.stderr).to.equal(0)
      expect(next.stderr).to.contain('web to blue (replacing skycap.dev/slot=purple, set by hand: no Deployment web-purple existed)')
      // Left on blue, whose Deployment the deploy makes again: nothing replaced (it said "to blue (replacing skycap.dev/slot=blue, set by hand …)").
      expect(next.stderr).to.contain(
        apiSlot === 'blue'
          ? 'api to blue (Service api selected it while no Deployment api-blue existed: it sent traffic to no pod)'
          : 'api to blue (replacing skycap.dev/slot=green, set by hand: no Deployment api-green existed)',
      )
      expect(next.stderr).to.not.match(/Scaled .* to 0/)
      await waitFor(`round ${round}: web-blue and api-blue ready, observed`, async () => {
        for (const service of ['web', 'api']) {
          const d = await app.get(['deployment', `${service}-blue`])
          if (d.status.observedGeneration !== d.metadata.generation || d.status.readyReplicas !== 2) return false
        }
        return true
      })
      const rollout = (await app.json(['rollout', 'status', 'test'])).doc.result.services
      for (const service of ['web', 'api'] as const) {
        expect((await app.get(['service', service])).spec.selector['skycap.dev/slot']).to.equal('blue')
        expect((await app.get<{items: any[]}>(['deployments', '-l', `app.kubernetes.io/name=${service}`])).items.map((d) => d.metadata.name)).to.deep.equal([`${service}-blue`])
        expect(rollout[service]).to.include({phase: 'completed', activeSlot: 'blue'})
        expect(rollout[service]).to.not.have.property('previousSlot')
      }
      const after = await app.json(['status', 'test'])
      expect(after.stderr).to.not.contain('a slot with no Deployment')
      for (const service of ['web', 'api']) expect(after.doc.result.services.find((x: any) => x.service === service).state).to.equal('ready')
    }
  })

  it('a cancelled CI job (SIGTERM to the process group) while a failed release removes its new blue-green slots: the failed release is recorded and its rollback said interrupted (it was neither recorded nor rolled back); the next deploy recovers; three times', async () => {
    const blueGreen = (round: number, crash?: string) => blueGreenQuad(ns.name, round, crash)
    await app.change(() => blueGreen(0), 'round 0: web and api blue-green')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    let round = 0
    for (let pass = 1; pass <= 3; pass++) {
      const before = (await app.json(['history', 'test'])).doc.result.releases[0].number
      await app.change(() => blueGreen(++round, 'worker'), `round ${round}: worker crashes`)
      // A CI runner signals the whole group: kubectl removing the slots dies of it too.
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '3m'], {cwd: app.repo.dir, reject: false, detached: true, env: {NO_COLOR: '1', CI: 'true'}})
      let err = ''
      let sent = false
      child.stderr?.on('data', (d) => {
        err += d
        if (!sent && /Removing deployment\/(web|api)-/.test(err)) sent = process.kill(-(child.pid as number), 'SIGTERM')
      })
      const r = await child
      expect(sent, err).to.equal(true)
      expect(r.exitCode, err).to.equal(130)
      const releases = (await app.json(['history', 'test'])).doc.result.releases
      expect(
        releases.slice(0, 2).map((x: any) => [x.number, x.action, x.result]),
        `pass ${pass}: ${err}`,
      ).to.deep.equal([
        [before + 2, 'rollback', 'interrupted'],
        [before + 1, 'deploy', 'failed'],
      ])
      expect(releases[1].failed).to.equal('Deployment/worker')
      expect(err).to.match(new RegExp(`release ${before + 1} of test failed \\(Deployment/worker: .*\\); the rollback to release \\d+ was interrupted`))
      expect((await app.json(['lock', 'status', 'test'])).doc.result.lock, 'no lock left').to.equal(null)
      // The next deploy (the crash fixed) goes through from there.
      await app.change(() => blueGreen(++round), `round ${round}: fixed`)
      const next = await app.cli([...DEPLOY, 'test'])
      expect(next.exitCode, next.stderr).to.equal(0)
      await waitFor(`pass ${pass}: worker at round ${round}`, async () => {
        const d = await app.get(['deployment', 'worker'])
        return d.status.observedGeneration === d.metadata.generation && d.status.readyReplicas === 2 && d.spec.template.spec.containers[0].env[0].value === String(round)
      })
    }
  })

  it('a cancelled CI job (SIGTERM to the process group) during or just after the blue-green switch: status, rollout status and the record name the slot the Service selects (they named the old one); three moments', async () => {
    const blueGreen = (round: number, crash?: string) => blueGreenQuad(ns.name, round, crash)
    let round = 0
    await app.change(() => blueGreen(round), 'round 0: web and api blue-green')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (const delayMs of [0, 150, 400]) {
      await app.change(() => blueGreen(++round), `round ${round}`)
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '3m'], {cwd: app.repo.dir, reject: false, detached: true, env: {NO_COLOR: '1', CI: 'true'}})
      let err = ''
      let sent = false
      child.stderr?.on('data', (d) => {
        err += d
        if (!sent && err.includes('Switching ')) {
          sent = true
          setTimeout(() => process.kill(-(child.pid as number), 'SIGTERM'), delayMs)
        }
      })
      const r = await child
      expect(sent, err).to.equal(true)
      // Interrupted (130), or done before the signal landed (0): either way what skycap says must be what serves.
      expect([0, 130], err).to.include(r.exitCode)
      const [status, rollout, history] = [await app.json(['status', 'test']), await app.json(['rollout', 'status', 'test']), await app.json(['history', 'test'])]
      for (const service of ['web', 'api']) {
        const slot = (await app.get(['service', service])).spec.selector['skycap.dev/slot']
        const revision = (await app.get(['deployment', `${service}-${slot}`])).metadata.annotations['skycap.dev/revision']
        const said = status.doc.result.services.find((x: any) => x.service === service)
        expect(said.revision, `${delayMs} ms: status of ${service} (Service selects ${slot}): ${err}`).to.equal(revision)
        expect(rollout.doc.result.services[service].activeSlot, `${delayMs} ms: rollout status of ${service}`).to.equal(slot)
        expect(history.doc.result.releases[0].rollouts[service].slot, `${delayMs} ms: the record of ${service}`).to.equal(slot)
      }
      // The next deploy goes on from there.
      await app.change(() => blueGreen(++round), `round ${round}`)
      const next = await app.cli([...DEPLOY, 'test'])
      expect(next.exitCode, next.stderr).to.equal(0)
    }
  })

  it('blue-green: an idle slot paused by hand refuses the deploy that goes to it, a field kubectl set on a slot is named by the deploy; with a preview, a redeploy of what runs keeps the preview on the idle slot and a rollback to it changes nothing; twice', async () => {
    const withPreview = (round: number) => blueGreenQuad(ns.name, round).replaceAll('strategy: {type: blueGreen, scaleDownDelay: 1s}', 'strategy: {type: blueGreen, scaleDownDelay: 1s, preview: true}')
    const slotOf = async (service: string): Promise<string> => (await app.get(['service', service])).spec.selector['skycap.dev/slot']
    const other = (slot: string) => (slot === 'blue' ? 'green' : 'blue')
    const generations = async () => (await app.get(['deployments'])).items.map((d: any) => `${d.metadata.name} ${d.metadata.generation}`)
    const numbers = async () => (await app.json(['history', 'test'])).doc.result.releases.map((x: any) => x.number)
    for (const round of [0, 1]) {
      await app.change(() => withPreview(round), `round ${round}`)
      expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    }
    for (const round of [2, 3]) {
      const idle = {web: other(await slotOf('web')), api: other(await slotOf('api'))}
      expect((await kubectl(['rollout', 'pause', `deployment/api-${idle.api}`], {namespace: ns.name})).exitCode).to.equal(0)
      expect((await kubectl(['set', 'env', `deployment/web-${idle.web}`, `HAND=${round}`], {namespace: ns.name})).exitCode).to.equal(0)
      await app.change(() => withPreview(round), `round ${round}`)
      const [before, recorded] = [await generations(), await numbers()]
      const refused = await app.cli([...DEPLOY, 'test'])
      expect(refused.exitCode, refused.stderr).to.equal(2)
      expect(refused.stderr).to.contain(`Deployment/api-${idle.api} in namespace ${ns.name} is paused (kubectl rollout pause)`)
      expect(await generations()).to.deep.equal(before)
      expect(await numbers()).to.deep.equal(recorded)
      expect((await kubectl(['rollout', 'resume', `deployment/api-${idle.api}`], {namespace: ns.name})).exitCode).to.equal(0)
      const deployed = await app.cli([...DEPLOY, 'test'])
      expect(deployed.exitCode, deployed.stderr).to.equal(0)
      expect(deployed.stderr).to.contain(
        `this deploy keeps fields set by hand with kubectl, which the release does not set: Deployment/web-${idle.web} spec.template.spec.containers[web].env[HAND] (set by kubectl-set)`,
      )
      expect((await kubectl(['set', 'env', `deployment/web-${idle.web}`, 'HAND-'], {namespace: ns.name})).exitCode).to.equal(0)
      // The same commit deployed again (a CI job run twice): into the serving slot, the previews on the idle ones.
      const again = await app.json([...DEPLOY, 'test'])
      expect(again.exitCode, again.stderr).to.equal(0)
      for (const service of ['web', 'api']) expect(await slotOf(`${service}-preview`), service).to.equal(other(await slotOf(service)))
      // A rollback to the first of the two changes and records nothing.
      const first = again.doc.result.release - 1
      const same = await app.json(['rollback', 'test', '--to', String(first)])
      expect(same.exitCode, same.stderr).to.equal(0)
      expect(same.doc.result, same.stderr).to.include({result: 'unchanged', rolledBackTo: first, runningRelease: first + 1})
      for (const service of ['web', 'api']) expect(await slotOf(`${service}-preview`), service).to.equal(other(await slotOf(service)))
    }
  })

  it('a blue-green Service whose selector lost its slot (edited by hand) is said by status and scale, which take the state’s slot; the next deploy selects one again; twice', async () => {
    await app.change(() => blueGreenQuad(ns.name, 0), 'round 0: web and api blue-green')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (let round = 1; round <= 2; round++) {
      await app.change(() => blueGreenQuad(ns.name, round), `round ${round}`)
      expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
      const slots: Record<string, string> = {}
      for (const service of ['web', 'api']) {
        slots[service] = (await app.get(['service', service])).spec.selector['skycap.dev/slot']
        const patched = await kubectl(['patch', 'service', service, '--type=json', '-p', '[{"op":"remove","path":"/spec/selector/skycap.dev~1slot"}]'], {namespace: ns.name})
        expect(patched.exitCode, patched.stderr).to.equal(0)
      }
      const status = await app.json(['status', 'test'])
      expect(status.exitCode, status.stderr).to.equal(0)
      for (const service of ['web', 'api']) {
        expect(status.stderr).to.contain(
          `Service ${service} selects no blue-green slot (its selector has no skycap.dev/slot: edited by hand?), so it sends traffic to the pods of both ${service}-blue and ${service}-green; status shows ${service}-${slots[service]}, the slot the rollout state names`,
        )
        const said = status.doc.result.services.find((x: any) => x.service === service)
        expect(said.revision).to.equal((await app.get(['deployment', `${service}-${slots[service]}`])).metadata.annotations['skycap.dev/revision'])
      }
      const rollout = await app.json(['rollout', 'status', 'test'])
      expect(rollout.exitCode, rollout.stderr).to.equal(0)
      for (const service of ['web', 'api']) {
        expect(rollout.doc.result.services[service].selected, service).to.deep.equal({
          slot: null,
          note: `Service ${service} selects no blue-green slot (its selector has no skycap.dev/slot: edited by hand?), so it sends traffic to the pods of both ${service}-blue and ${service}-green; rollout status shows ${service}-${slots[service]}, the slot the rollout state names. The next deploy or rollback selects one slot again`,
        })
      }
      const scaled = await app.cli(['scale', 'web', '3', '-e', 'test'])
      expect(scaled.exitCode, scaled.stderr).to.equal(0)
      expect(scaled.stderr).to.contain(`this scale scales web-${slots.web}, the slot the rollout state names`)
      expect((await app.get(['deployment', `web-${slots.web}`])).spec.replicas).to.equal(3)
      // The next deploy selects a slot again, and nothing is said any more.
      await app.change(() => blueGreenQuad(ns.name, round + 10), `round ${round}: fixed by a deploy`)
      const next = await app.cli([...DEPLOY, 'test'])
      expect(next.exitCode, next.stderr).to.equal(0)
      for (const service of ['web', 'api']) expect((await app.get(['service', service])).spec.selector['skycap.dev/slot']).to.be.oneOf(['blue', 'green'])
      expect((await app.cli(['status', 'test'])).stderr).to.not.contain('selects no blue-green slot')
      expect((await app.cli(['rollout', 'status', 'test'])).stdout).to.not.contain('warning:')
    }
  })

  it('blue-green Services patched by hand to a slot no Deployment has (web to purple, api to its deleted idle slot): status says so (failing, not "not deployed"), scale refuses (exit 2, nothing changed), and the next deploy puts them back on the slot it brings up, scaling down the slot that served, never a missing one; twice', async () => {
    const slotOf = async (service: string): Promise<string> => (await app.get(['service', service])).spec.selector['skycap.dev/slot']
    const other = (slot: string) => (slot === 'blue' ? 'green' : 'blue')
    const generations = async () => (await app.get(['deployments'])).items.map((d: any) => `${d.metadata.name} ${d.metadata.generation}`).sort()
    /** Every Deployment observed by its controller at the replicas it asks for, ready. */
    const observed = (what: string) =>
      waitFor(what, async () =>
        (await app.get<{items: any[]}>(['deployments'])).items.every(
          (d) => d.status.observedGeneration === d.metadata.generation && (d.status.readyReplicas ?? 0) === d.spec.replicas && (d.status.replicas ?? 0) === d.spec.replicas,
        ),
      )
    for (const round of [0, 1]) {
      await app.change(() => blueGreenQuad(ns.name, round), `round ${round}: web and api blue-green`)
      expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    }
    for (const round of [2, 3]) {
      await observed(`round ${round}: every Deployment observed and ready`)
      const serving = {web: await slotOf('web'), api: await slotOf('api')}
      // web selects a slot label no Deployment can have; api its idle slot, whose Deployment is deleted.
      expect((await kubectl(['patch', 'service', 'web', '-p', '{"spec":{"selector":{"skycap.dev/slot":"purple"}}}'], {namespace: ns.name})).exitCode).to.equal(0)
      expect((await kubectl(['delete', 'deployment', `api-${other(serving.api)}`, '--wait=true'], {namespace: ns.name})).exitCode).to.equal(0)
      expect((await kubectl(['patch', 'service', 'api', '-p', `{"spec":{"selector":{"skycap.dev/slot":"${other(serving.api)}"}}}`], {namespace: ns.name})).exitCode).to.equal(0)
      const selected = {web: 'purple', api: other(serving.api)}
      const exist = {web: `web-blue and web-green`, api: `api-${serving.api}`}
      const status = await app.json(['status', 'test'])
      expect(status.exitCode, status.stderr).to.equal(0)
      for (const service of ['web', 'api'] as const) {
        const problem = `Service ${service} selects skycap.dev/slot=${selected[service]} (set by hand?), a slot with no Deployment ${service}-${selected[service]}: it sends traffic to no pod (the slots that exist are ${exist[service]}); \`skycap deploy test\` puts it back on the slot it brings up, or \`kubectl patch service ${service} -p '{"spec":{"selector":{"skycap.dev/slot":"${serving[service]}"}}}' -n ${ns.name}`
        expect(status.stderr).to.contain(problem)
        const said = status.doc.result.services.find((x: any) => x.service === service)
        expect(said.state, service).to.equal('failing')
        expect(said.problem, service).to.contain(problem)
        expect(said.revision).to.equal((await app.get(['deployment', `${service}-${serving[service]}`])).metadata.annotations['skycap.dev/revision'])
      }
      expect(status.stderr).to.not.contain('selects no blue-green slot')
      // rollout status says it beside the slot the state records (it showed that slot as active, serving).
      const rollout = await app.json(['rollout', 'status', 'test'])
      expect(rollout.exitCode, rollout.stderr).to.equal(0)
      for (const service of ['web', 'api'] as const) {
        const said = rollout.doc.result.services[service]
        expect(said, service).to.include({activeSlot: serving[service]})
        expect(said.selected?.slot, service).to.equal(selected[service])
        expect(said.selected?.note, service).to.contain(
          `Service ${service} selects skycap.dev/slot=${selected[service]} (set by hand?), a slot with no Deployment ${service}-${selected[service]}: it sends traffic to no pod`,
        )
      }
      const [before, recorded] = [await generations(), (await app.json(['history', 'test'])).doc.result.releases.length]
      for (const service of ['web', 'api'] as const) {
        for (const args of [[], ['--dry-run']]) {
          const refused = await app.cli(['scale', service, '3', '-e', 'test', ...args])
          expect(refused.exitCode, refused.stderr).to.equal(2)
          expect(refused.stderr).to.contain(`Service ${service} selects skycap.dev/slot=${selected[service]} (set by hand?), a slot with no Deployment ${service}-${selected[service]}`)
          expect(refused.stderr).to.contain(`${service} is not scaled, nothing was changed`)
        }
      }
      expect(await generations()).to.deep.equal(before)
      expect((await app.json(['history', 'test'])).doc.result.releases.length).to.equal(recorded)
      // A new release: web and api come up in a slot and their Services are put back on it, the hand-set selector named.
      await app.change(() => blueGreenQuad(ns.name, round), `round ${round}`)
      const next = await app.cli([...DEPLOY, 'test'])
      expect(next.exitCode, next.stderr).to.equal(0)
      const now = {web: await slotOf('web'), api: await slotOf('api')}
      for (const service of ['web', 'api'] as const) {
        const missing = `no Deployment ${service}-${selected[service]} existed`
        // api's deleted slot may be the one the deploy brings up: that selector is not replaced.
        const how =
          now[service] === selected[service]
            ? `(Service ${service} selected it while ${missing}: it sent traffic to no pod)`
            : `(replacing skycap.dev/slot=${selected[service]}, set by hand: ${missing})`
        expect(next.stderr).to.contain(`${service} to ${now[service]} ${how}`)
        expect(next.stderr).to.not.match(new RegExp(`Scaled [^\\n]*${service}-${selected[service]}`))
      }
      // The slot that served before the patch, if the deploy brought up the other, goes to 0 after the switch; web-purple
      // and api's deleted slot never existed to scale.
      const scaledLine = next.stderr.split('\n').find((l) => /Scaled .* to 0/.test(l)) ?? ''
      for (const service of ['web', 'api'] as const) if (now[service] !== serving[service]) expect(scaledLine, next.stderr).to.contain(`${service}-${serving[service]}`)
      await observed(`round ${round}: the deploy observed`)
      for (const service of ['web', 'api'] as const) {
        const up = (await app.get<{items: any[]}>(['deployments', '-l', `app.kubernetes.io/name=${service}`])).items.filter((d) => d.spec.replicas > 0).map((d) => d.metadata.name)
        expect(up, service).to.deep.equal([`${service}-${now[service]}`])
        expect((await app.get(['deployment', `${service}-${now[service]}`])).spec.template.spec.containers[0].env.find((e: any) => e.name === 'ROUND')?.value).to.equal(String(round))
      }
      const after = await app.json(['status', 'test'])
      expect(after.stderr).to.not.contain('a slot with no Deployment')
      for (const service of ['web', 'api']) expect(after.doc.result.services.find((x: any) => x.service === service).state).to.be.oneOf(['ready', 'progressing'])
      const rolledOut = await app.json(['rollout', 'status', 'test'])
      for (const service of ['web', 'api'] as const) expect(rolledOut.doc.result.services[service], service).to.include({activeSlot: now[service]}).and.not.have.property('selected')
    }
  })

  it('a failed --no-rollback deploy that lowers the replicas of blue-green web and api and rolling worker lists all three in "Changing the running replica counts" (web and api: the slot it brings up, removed with the failed release); twice', async () => {
    const lowered = (round: number) =>
      ['api', 'web'].reduce(
        (t, name) => t.replace(`  ${name}:\n    image: ${name}`, `  ${name}:\n    strategy: {type: blueGreen, scaleDownDelay: 1s}\n    image: ${name}`),
        quad(ns.name, round, 'cache', '', {web: 1, api: 1, worker: 1}),
      )
    await app.change(() => blueGreenQuad(ns.name, 0), 'round 0: web and api blue-green')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (const [round, scaled] of [
      [1, 3],
      [2, 4],
    ] as const) {
      for (const service of ['web', 'api', 'worker']) expect((await app.cli(['scale', service, String(scaled), '-e', 'test'])).exitCode).to.equal(0)
      // Only the counts change for web, api and worker (same templates); cache crash-loops: the release fails.
      await app.change(() => lowered(0), `round ${round}: counts 1, cache crashes`)
      const failed = await app.cli([...DEPLOY, 'test', '--no-rollback', '--timeout', '2m'])
      expect(failed.exitCode, failed.stderr).to.equal(1)
      const line = failed.stderr.split('\n').find((l) => l.includes('Changing the running replica counts'))
      expect(line, failed.stderr).to.not.equal(undefined)
      for (const service of ['web', 'api']) expect(line).to.contain(`${service} ${scaled} → 1 (on the blue-green slot this deploy brings up)`)
      expect(line).to.contain(`worker ${scaled} → 1`)
      expect(line).to.contain("(skycap.yaml's replicas changed)")
      // What the line said happened: worker is at 1; web and api's new slots came up at 1 and, the release failed before
      // its switch, were removed; the slots that serve keep their count. Judged once observed.
      await waitFor(`round ${round}: worker at 1, the serving slots at ${scaled}, the new slots gone, observed`, async () => {
        const serving = [`web-${(await app.get(['service', 'web'])).spec.selector['skycap.dev/slot']}`, `api-${(await app.get(['service', 'api'])).spec.selector['skycap.dev/slot']}`]
        const ds = (await app.get<{items: any[]}>(['deployments'])).items
        const at = (name: string, n: number) =>
          ds.some((d) => d.metadata.name === name && d.spec.replicas === n && d.status.observedGeneration === d.metadata.generation && (d.status.replicas ?? 0) === n)
        const others = ds.filter((d) => /^(web|api)-/.test(d.metadata.name) && !serving.includes(d.metadata.name))
        return at('worker', 1) && serving.every((n) => at(n, scaled)) && others.every((d) => d.spec.replicas === 0)
      })
      // Back to the first counts, fixed, for the next round.
      await app.change(() => blueGreenQuad(ns.name, 0), `round ${round}: fixed`)
      const fixed = await app.cli([...DEPLOY, 'test', '--reset-replicas'])
      expect(fixed.exitCode, fixed.stderr).to.equal(0)
    }
  })

  it('a rollback during scaleDownDelay after `skycap scale` of the serving slots of web and api brings the kept slots up to the serving counts before it switches, and says so (dry run too); it switched to them at their own counts, api 6 pods to 4, without a word; twice', async () => {
    const slotOf = async (service: string): Promise<string> => (await app.get(['service', service])).spec.selector['skycap.dev/slot']
    const delayed = (round: number, delay: string) => blueGreenQuad(ns.name, round).replaceAll('scaleDownDelay: 1s', `scaleDownDelay: ${delay}`)
    let round = 0
    for (const [pass, api, web] of [
      [1, 6, 5],
      [2, 5, 3],
    ] as const) {
      // The release to return to, at skycap.yaml's counts (2), its slot scaled down 1 s after the switch.
      await app.change(() => delayed(++round, '1s'), `pass ${pass}: round ${round}`)
      const before = await app.cli([...DEPLOY, 'test', '--reset-replicas'])
      expect(before.exitCode, before.stderr).to.equal(0)
      const kept = {web: await slotOf('web'), api: await slotOf('api')}
      const target = (await app.json(['history', 'test'])).doc.result.releases[0].number
      // The release rolled back from keeps the old slots up for 40 s; meanwhile its serving slots are scaled.
      await app.change(() => delayed(++round, '40s'), `pass ${pass}: round ${round}`)
      const child = execa('node', [cliPath, ...DEPLOY, 'test'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
      let deployErr = ''
      child.stderr?.on('data', (d) => (deployErr += d))
      await waitFor(`pass ${pass}: the old slots kept for an instant rollback`, () => deployErr.includes('for an instant rollback'), {timeoutMs: 120_000})
      for (const [service, n] of [
        ['api', api],
        ['web', web],
      ] as const) {
        const scaled = await app.cli(['scale', service, String(n), '-e', 'test'])
        expect(scaled.exitCode, scaled.stderr).to.equal(0)
        expect(scaled.stderr).to.contain(`Deployment ${service}-${kept[service] === 'blue' ? 'green' : 'blue'}, the active slot`)
      }
      const expected = [`api-${kept.api} ${api} (release ${target} had 2)`, `web-${kept.web} ${web} (release ${target} had 2)`]
      const dry = await app.cli(['rollback', 'test', '--dry-run', '--skip-image-check'])
      expect(dry.exitCode, dry.stderr).to.equal(0)
      const dryLine = dry.stderr.split('\n').find((l) => l.includes('Dry run: keeping the live replica counts:')) ?? ''
      for (const text of expected) expect(dryLine, dry.stderr).to.contain(text)
      const back = await app.cli(['rollback', 'test', '--skip-image-check'])
      expect(back.exitCode, back.stderr).to.equal(0)
      const line = back.stderr.split('\n').find((l) => l.includes('Keeping the live replica counts:')) ?? ''
      for (const text of expected) expect(line, back.stderr).to.contain(text)
      // The kept slots came up to the serving counts before the switch.
      const switching = back.stderr.indexOf('Switching ')
      expect(switching, back.stderr).to.be.greaterThan(-1)
      expect(back.stderr.lastIndexOf(`Deployment/api-${kept.api}: ${api}/${api} ready`, switching), back.stderr).to.be.greaterThan(-1)
      expect(back.stderr.lastIndexOf(`Deployment/web-${kept.web}: ${web}/${web} ready`, switching), back.stderr).to.be.greaterThan(-1)
      // The deploy waiting out its delay leaves the slots to the rollback.
      const deployed = await child
      expect(deployed.exitCode, deployErr).to.equal(0)
      await waitFor(`pass ${pass}: the rollback's slots serve at ${api} and ${web}, the others at 0, observed`, async () => {
        const ds = (await app.get<{items: any[]}>(['deployments'])).items
        const at = (name: string, n: number) =>
          ds.some(
            (d) => d.metadata.name === name && d.spec.replicas === n && d.status.observedGeneration === d.metadata.generation && (d.status.readyReplicas ?? 0) === n && (d.status.replicas ?? 0) === n,
          )
        const other = (slot: string) => (slot === 'blue' ? 'green' : 'blue')
        return (
          (await slotOf('api')) === kept.api &&
          (await slotOf('web')) === kept.web &&
          at(`api-${kept.api}`, api) &&
          at(`web-${kept.web}`, web) &&
          at(`api-${other(kept.api)}`, 0) &&
          at(`web-${other(kept.web)}`, 0) &&
          at('worker', 2)
        )
      })
      const [entry] = (await app.json(['history', 'test'])).doc.result.releases
      expect(entry).to.include({action: 'rollback', result: 'succeeded'})
      expect(entry.keptReplicas).to.deep.equal({[`api-${kept.api}`]: api, [`web-${kept.web}`]: web})
    }
  })

  it('web and api switched from rolling to blue-green by a --no-rollback deploy that failed after the switch (a canary worker crashed) leave their plain Deployments beside the slots: a scale of the slots is kept by the next deploy, and a lowered count is said from the slot (the leftover’s 2 replaced the scaled 3, unsaid); twice', async () => {
    const canaryWorker = (text: string) => text.replace('  worker:\n    image: worker', '  worker:\n    strategy: {type: canary, steps: [{setWeight: 50}]}\n    image: worker')
    const slotted = (round: number, crash?: string, replicas: Record<string, number> = {}) =>
      ['api', 'web'].reduce(
        (t, name) => t.replace(`  ${name}:\n    image: ${name}`, `  ${name}:\n    strategy: {type: blueGreen, scaleDownDelay: 1s}\n    image: ${name}`),
        canaryWorker(quad(ns.name, round, crash, '', replicas)),
      )
    let round = 0
    for (const pass of [1, 2]) {
      await app.change(() => canaryWorker(quad(ns.name, ++round)), `pass ${pass}: web and api rolling`)
      const rolling = await app.cli([...DEPLOY, 'test', '--reset-replicas'])
      expect(rolling.exitCode, rolling.stderr).to.equal(0)
      // web and api switch to blue-green and take traffic on blue; then worker's canary crash-loops.
      await app.change(() => slotted(++round, 'worker'), `pass ${pass}: web and api blue-green, worker crashes`)
      const failed = await app.cli([...DEPLOY, 'test', '--no-rollback', '--timeout', '3m'])
      expect(failed.exitCode, failed.stderr).to.equal(1)
      expect(failed.stderr).to.match(/Switching (web to blue, api to blue|api to blue, web to blue)/)
      for (const service of ['web', 'api']) {
        expect((await app.get(['deployment', service])).spec.replicas, `pass ${pass}: ${service} left beside its slot`).to.equal(2)
        const scaled = await app.cli(['scale', service, '3', '-e', 'test'])
        expect(scaled.exitCode, scaled.stderr).to.equal(0)
        expect(scaled.stderr).to.contain(`(Deployment ${service}-blue, the active slot)`)
      }
      // Fixed: worker only changes; web keeps its count in pass 1, and skycap.yaml lowers it to 1 in pass 2.
      const lowered: Record<string, number> = pass === 2 ? {web: 1} : {}
      await app.change(() => slotted(round, undefined, lowered), `pass ${pass}: worker fixed`)
      const notes = await replicaNotes(app)
      for (const {stderr, keeping, changing} of notes) {
        expect(keeping, stderr).to.contain('api 3 (skycap.yaml says 2)')
        if (pass === 1) {
          expect(keeping, stderr).to.contain('web 3 (skycap.yaml says 2)')
          expect(changing, stderr).to.deep.equal([])
        } else expect(changing.join('\n'), stderr).to.contain('web 3 → 1 (on the blue-green slot this deploy brings up)')
        expect(stderr, 'the leftover Deployments are no count of the service').to.not.contain('api 2')
      }
      const web = pass === 2 ? 1 : 3
      let seen = ''
      // The release goes to green (a new commit): it comes up at the serving counts, the plain Deployments pruned.
      await waitFor(`pass ${pass}: web-green at ${web}, api-green at 3, the plain Deployments pruned, observed`, async () => {
        const ds = (await app.get<{items: any[]}>(['deployments'])).items
        seen = ds.map((d) => `${d.metadata.name} ${d.spec.replicas}/${d.status.readyReplicas ?? 0}`).join(', ')
        const at = (name: string, n: number) =>
          ds.some(
            (d) => d.metadata.name === name && d.spec.replicas === n && d.status.observedGeneration === d.metadata.generation && (d.status.readyReplicas ?? 0) === n && (d.status.replicas ?? 0) === n,
          )
        const serving = [(await app.get(['service', 'web'])).spec.selector['skycap.dev/slot'], (await app.get(['service', 'api'])).spec.selector['skycap.dev/slot']]
        return serving.every((slot) => slot === 'green') && at('web-green', web) && at('api-green', 3) && !ds.some((d) => d.metadata.name === 'web' || d.metadata.name === 'api')
      }).catch((error: Error) => {
        throw new Error(`${error.message}; last seen: ${seen}\n${notes[1]?.stderr}`)
      })
    }
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
    // The Role exactly as the docs write it: the first YAML block after "## Deployer".
    const doc = readFileSync(join(repoRoot, 'docs', 'rbac.md'), 'utf8')
    const role = /## Deployer[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc)?.[1] as string
    expect(role, 'the deployer Role in docs/rbac.md').to.contain('kind: Role')
    await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: role})
    await kubectl(['create', 'serviceaccount', 'ci'], {namespace: ns.name})
    await kubectl(['create', 'rolebinding', 'ci-deploys', '--role=skycap-deployer', `--serviceaccount=${ns.name}:ci`], {namespace: ns.name})
    const dir = mkdtempSync(join(tmpdir(), 'skycap-ci-role-'))
    try {
      const kubeconfig = await kubeconfigAs(ns.name, 'ci', dir)
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

  it('minReadySeconds: a pod that crashes after it became ready, while it waits to count as available, fails the release before web and api switch (worker rolling); pods that stay ready switch; twice', async () => {
    const waiting = (round: number) =>
      quad(ns.name, round)
        .replace('  web:\n    image: web', '  web:\n    strategy: {type: blueGreen, scaleDownDelay: 1s}\n    minReadySeconds: 12\n    image: web')
        .replace('  api:\n    image: api', '  api:\n    strategy: {type: blueGreen, scaleDownDelay: 1s}\n    minReadySeconds: 12\n    image: api')
        .replace('  worker:\n    image: worker', '  worker:\n    minReadySeconds: 12\n    image: worker')
    await app.change(() => waiting(0), 'round 0: minReadySeconds 12')
    const first = await app.cli([...DEPLOY, 'test'])
    expect(first.exitCode, first.stderr).to.equal(0)
    const slotOf = async (service: string): Promise<string> => (await app.get(['service', service])).spec.selector['skycap.dev/slot']
    for (let round = 1; round <= 2; round++) {
      const before = {web: await slotOf('web'), api: await slotOf('api')}
      const idle = before.web === 'blue' ? 'green' : 'blue'
      await app.change(() => waiting(round), `round ${round}`)
      const deploying = app.cli([...DEPLOY, 'test', '--timeout', '2m'])
      // A pod of web's new slot is ready (kwok), so it waits out its 12 s (time for this test to see it ready and crash it, under load too); then its container crashes, as a process
      // that fails a few seconds after start would.
      let pod = ''
      await waitFor(`a ready pod of web-${idle} at round ${round}`, async () => {
        const pods = (await app.get<{items: any[]}>(['pods', '-l', `skycap.dev/slot=${idle}`])).items.filter(
          (p) =>
            p.metadata.name.startsWith(`web-${idle}-`) &&
            !p.metadata.deletionTimestamp &&
            p.spec.containers[0].env.find((e: any) => e.name === 'ROUND')?.value === String(round) &&
            p.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'),
        )
        pod = pods[0]?.metadata.name ?? ''
        return pod !== ''
      })
      const crashed = {
        conditions: [
          {type: 'Ready', status: 'False'},
          {type: 'ContainersReady', status: 'False'},
        ],
        containerStatuses: [
          {
            name: 'web',
            image: 'example.invalid/quad/web',
            imageID: '',
            ready: false,
            started: false,
            restartCount: 1,
            lastState: {terminated: {exitCode: 3, reason: 'Error', startedAt: new Date(Date.now() - 3000).toISOString(), finishedAt: new Date().toISOString()}},
            state: {waiting: {reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container'}},
          },
        ],
      }
      await kubectl(['patch', 'pod', pod, '--subresource=status', '--type=merge', '-p', JSON.stringify({status: crashed})], {namespace: ns.name})
      const failed = await deploying
      expect(failed.exitCode, failed.stderr).to.equal(1)
      expect(failed.stderr).to.contain(`a pod counts once ready for 12s, minReadySeconds`)
      expect(failed.stderr).to.match(new RegExp(`Deployment/web-${idle}: container web of pod ${pod} is in CrashLoopBackOff \\(exit code 3`))
      expect({web: await slotOf('web'), api: await slotOf('api')}, 'neither Service switched').to.deep.equal(before)
      await waitFor(`the new slots of round ${round} removed, worker back at round ${round - 1}`, async () => {
        const names = (await app.get<{items: any[]}>(['deployments'])).items.map((d) => d.metadata.name)
        const worker = await app.get(['deployment', 'worker'])
        return (
          !names.includes(`web-${idle}`) &&
          !names.includes(`api-${idle}`) &&
          worker.status.observedGeneration === worker.metadata.generation &&
          worker.spec.template.spec.containers[0].env.find((e: any) => e.name === 'ROUND')?.value === String(round - 1)
        )
      })
      const history = (await app.json(['history', 'test'])).doc.result.releases
      expect(history.slice(0, 2).map((r: any) => [r.action, r.result])).to.deep.equal([
        ['rollback', 'succeeded'],
        ['deploy', 'failed'],
      ])
      // The same round again, its pods left alone: both Services switch once the new pods count as available.
      const done = await app.cli([...DEPLOY, 'test', '--timeout', '2m'])
      expect(done.exitCode, done.stderr).to.equal(0)
      expect(done.stderr).to.contain(`a pod counts once ready for 12s, minReadySeconds`)
      expect({web: await slotOf('web'), api: await slotOf('api')}, 'both Services switched').to.deep.equal({web: idle, api: idle})
      for (const service of ['web', 'api']) {
        const serving = await app.get(['deployment', `${service}-${idle}`])
        expect([serving.spec.minReadySeconds, serving.status.availableReplicas, serving.spec.template.spec.containers[0].env.find((e: any) => e.name === 'ROUND')?.value]).to.deep.equal([
          12,
          2,
          String(round),
        ])
      }
    }
  })
})
