import {expect} from 'chai'
import {execa} from 'execa'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import type {Readable} from 'node:stream'
import {join} from 'node:path'

import {cliPath} from '../helpers/repo.js'
import {CRASH, NOT_READY, TestApp} from './app.js'
import {Kubectl} from '../../src/kubectl/kubectl.js'
import {acquireLock, lockStatus, releaseLock, renewLock} from '../../src/lock/lease.js'
import {appendLog, captureOutput, kubectl, podLogFiles, testCluster, useNamespace, waitFor} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']

describe('skycap deploy (real cluster)', function () {
  const ns = useNamespace('deploy')
  let app: TestApp
  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'itdeploy')
  })
  afterEach(() => app.remove())

  it('first deploy: applies, waits for ready, records release 1, status shows the revision', async () => {
    const sha = await app.repo.git('rev-parse', 'HEAD')
    const r = await app.json([...DEPLOY, 'test'])
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.doc.result).to.include({result: 'succeeded', release: 1, environment: 'test', namespace: ns.name})
    expect(r.doc.result.applied).to.include.members(['Deployment/web', 'Deployment/worker', 'Service/web'])
    const web = await app.get(['deployment', 'web'])
    expect(web.status.readyReplicas).to.equal(2)
    expect(web.spec.template.spec.containers[0].image).to.equal(`example.invalid/itdeploy/web:${sha}`)
    const status = await app.json(['status', 'test'])
    expect(status.doc.result.services).to.deep.include({
      service: 'web',
      revision: sha,
      image: `example.invalid/itdeploy/web:${sha}`,
      ready: 2,
      desired: 2,
      updated: 2,
      old: null,
      age: status.doc.result.services[0].age,
      state: 'ready',
      problem: null,
      waiting: null,
    })
    const history = await app.json(['history', 'test'])
    expect(history.doc.result.releases.map((x: any) => [x.number, x.action, x.result, x.revision.sha])).to.deep.equal([[1, 'deploy', 'succeeded', sha]])
    expect(await kubectl(['get', 'lease', 'skycap-lock-itdeploy', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).to.have.property('stdout', '')
    // An image set by hand keeps skycap's revision annotation: status says so (its row named the revision as running).
    expect(status.stderr).to.not.contain('set by hand')
    await kubectl(['set', 'image', 'deployment/web', 'web=example.invalid/itdeploy/web:hotfix'], {namespace: ns.name})
    const hand = await app.json(['status', 'test'])
    expect(hand.exitCode, hand.stderr).to.equal(0)
    expect(hand.stderr).to.contain(
      `warning: web runs example.invalid/itdeploy/web:hotfix, not example.invalid/itdeploy/web:${sha}, which its revision ${sha.slice(0, 7)} was deployed with: set by hand (\`kubectl set image\`?); \`skycap diff test\` shows it, and the next deploy or rollback puts the release's image back`,
    )
    expect(hand.doc.result.services.find((x: any) => x.service === 'web')).to.include({image: 'example.invalid/itdeploy/web:hotfix', recordedImage: `example.invalid/itdeploy/web:${sha}`})
    expect(hand.doc.result.services.find((x: any) => x.service === 'worker')).to.not.have.property('recordedImage')
  })

  it('a record deleted by hand without its manifests: the next deploys record one entry each, under the next number, saying why (it left a phantom record beside its own and blamed another command); twice', async () => {
    const records = async (number: number) => (await kubectl(['get', 'configmaps', '-l', `skycap.dev/release-of=itdeploy,skycap.dev/release=${number}`, '-o', 'name'], {namespace: ns.name})).stdout
    expect((await app.json([...DEPLOY, 'test'])).exitCode).to.equal(0)
    let expected = 2
    for (const round of [1, 2]) {
      // The newest record goes, its manifests stay: what the old hint of an unreadable record had users do.
      const newest = expected - 1
      await kubectl(['delete', 'configmap', '-l', `skycap.dev/release-of=itdeploy,skycap.dev/release=${newest}`], {namespace: ns.name})
      await app.change((t) => t.replace('\nenvironments:', `\n# round ${round}\nenvironments:`), `round ${round}`)
      const r = await app.json([...DEPLOY, 'test'])
      expect(r.exitCode, r.stderr).to.equal(0)
      expect(r.doc.result.release, r.stderr).to.equal(expected)
      // No record is left, so the deploy numbers from 1; the record goes past every number a manifest part carries.
      const past = expected > 2 ? ', the first number no record or manifest of test carries' : ''
      expect(r.stderr).to.contain(`warning: the manifests of release 1 of test are still in the cluster without its record (deleted by hand?); this deploy is recorded as release ${expected}${past}`)
      expect(r.stderr.match(/without its record/g), r.stderr).to.have.length(1)
      expect(r.stderr).to.not.contain('recorded by another command')
      expect(await records(newest), `round ${round}: no record ${newest} beside ${expected}`).to.equal('')
      const history = await app.json(['history', 'test'])
      expect(history.doc.result.releases[0], JSON.stringify(history.doc.result.releases)).to.include({number: expected, action: 'deploy', result: 'succeeded'})
      expect(history.doc.result.releases.map((x: any) => x.number)).to.not.include(newest)
      expected++
    }
  })

  it('every record deleted by hand, the manifests of four releases left: the next deploy is recorded past them in one try (it took one number per try and failed after the apply on the fourth); twice', async () => {
    for (const n of [1, 2, 3, 4]) {
      await app.change((t) => t.replace('\nenvironments:', `\n# deploy ${n}\nenvironments:`), `deploy ${n}`)
      const r = await app.json([...DEPLOY, 'test'])
      expect(r.exitCode, r.stderr).to.equal(0)
    }
    let expected = 5
    for (const round of [1, 2]) {
      await kubectl(['delete', 'configmap', '-l', 'skycap.dev/release-of=itdeploy'], {namespace: ns.name})
      await app.change((t) => t.replace('\nenvironments:', `\n# round ${round}\nenvironments:`), `round ${round}`)
      const r = await app.json([...DEPLOY, 'test'])
      expect(r.exitCode, r.stderr).to.equal(0)
      expect(r.doc.result.release, r.stderr).to.equal(expected)
      expect(r.stderr).to.contain(
        `warning: the manifests of release 1 of test are still in the cluster without its record (deleted by hand?); this deploy is recorded as release ${expected}, the first number no record or manifest of test carries`,
      )
      expect(r.stderr.match(/without its record/g), r.stderr).to.have.length(1)
      const history = await app.json(['history', 'test'])
      expect(history.doc.result.releases.map((x: any) => [x.number, x.result])).to.deep.equal([[expected, 'succeeded']])
      expected++
    }
  })

  it('a quick second Ctrl-C during the rollout of web and worker: the release is recorded as interrupted and the lock released before the quit, and rollback returns to the release it replaced (it went back past it); twice', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    let good = 1
    for (const round of [1, 2]) {
      await app.change((t) => t.replace('    labels: {sim.kwok.test/behavior: not-ready}\n', '').replace('\nenvironments:', `\n# good ${round}\nenvironments:`), `round ${round}: good`)
      expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
      good++
      await app.change((t) => NOT_READY(t).replace('\nenvironments:', `\n# stuck ${round}\nenvironments:`), `round ${round}: web never ready`)
      const child = execa('node', [cliPath, ...DEPLOY, 'test'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      await waitFor('the rollout to start', () => err.includes('Rolling out'), {timeoutMs: 60_000, intervalMs: 20})
      child.kill('SIGINT')
      await new Promise((resolve) => setTimeout(resolve, 20))
      child.kill('SIGINT')
      const r = await child
      expect(r.exitCode, err).to.equal(130)
      expect(err.trimEnd().split('\n').at(-1), err).to.match(
        new RegExp(`^Quit at once \\(SIGINT\\): what the first signal was undoing is left as it is: release ${good + 1} is recorded( as interrupted)? .*, and the lock was released$`),
      )
      expect(err).to.contain('Quitting (SIGINT): recording the release and releasing the lock first')
      // The next command need not wait for the lock to expire (a deploy was refused for up to a minute).
      expect((await kubectl(['get', 'lease', 'skycap-lock-itdeploy', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
      const history = (await app.json(['history', 'test'])).doc.result.releases
      expect(
        history.slice(0, 2).map((x: any) => `${x.number} ${x.result}`),
        err,
      ).to.deep.equal([`${good + 1} interrupted`, `${good} succeeded`])
      // The release before the interrupted one is what a rollback returns to (without its record: the one before that).
      const dry = await app.cli(['rollback', 'test', '--dry-run', '--skip-image-check'])
      expect(dry.exitCode, dry.stderr).to.equal(0)
      expect(dry.stderr).to.match(new RegExp(`Dry run: would roll test back to release ${good} \\(`))
      // The next deploy's number follows it: one record per release.
      good++
    }
    // history -n: the newest entries only, saying how many are left out.
    const limited = await app.json(['history', 'test', '-n', '2'])
    expect(limited.doc.result.releases.map((x: any) => x.number)).to.deep.equal([5, 4])
    expect(limited.doc.result.more).to.equal(3)
    const table = await app.cli(['history', 'test', '-n', '2'])
    expect(table.stdout.trim().split('\n'), table.stdout).to.have.length(3)
    expect(table.stderr).to.contain('3 older entries not shown (-n 2)')
  })

  it('a quick second Ctrl-C during a rollback (and a scale): each is recorded as interrupted and the lock released before the quit (they were unrecorded, the lock held a minute)', async () => {
    // web takes 6 s to become available in every release: the rollback's rollout lasts that long.
    await app.change((t) => t.replace('    port: 8080\n', '    port: 8080\n    minReadySeconds: 6\n'), 'web slow to be available')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change((t) => t.replace('\nenvironments:', '\n# second\nenvironments:'), 'second')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const quit = async (args: string[], started: string) => {
      const child = execa('node', [cliPath, ...args], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      await waitFor(started, () => err.includes(started), {timeoutMs: 60_000, intervalMs: 20})
      child.kill('SIGINT')
      await new Promise((resolve) => setTimeout(resolve, 20))
      child.kill('SIGINT')
      const r = await child
      expect(r.exitCode, err).to.equal(130)
      // Whichever came first, the quit or the first signal's own clean-up, the lock is gone and the entry recorded.
      expect((await kubectl(['get', 'lease', 'skycap-lock-itdeploy', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout, err).to.equal('')
      return err
    }
    const quitLine = (err: string) => err.split('\n').filter((l) => l.startsWith('Quit at once'))
    const rollback = await quit(['rollback', 'test', '--skip-image-check'], 'Rolling out')
    for (const line of quitLine(rollback))
      expect(line, rollback).to.match(/^Quit at once \(SIGINT\): what the first signal was undoing is left as it is: release 3 is recorded( as interrupted)? .*, and the lock was released$/)
    const scale = await quit(['scale', 'web', '4', '-e', 'test'], 'Scaling web')
    for (const line of quitLine(scale)) expect(line, scale).to.match(/^Quit at once \(SIGINT\): .*release 4 is recorded( as interrupted)? .*, and the lock was released$/)
    // One of the two at least went the quit's way (the 20 ms between the signals is shorter than any clean-up).
    expect([...quitLine(rollback), ...quitLine(scale)], `${rollback}\n${scale}`).to.have.length.above(0)
    const history = (await app.json(['history', 'test'])).doc.result.releases
    expect(history.slice(0, 2).map((x: any) => `${x.number} ${x.action}`)).to.deep.equal(['4 scale', '3 rollback'])
    expect(history[1].result).to.be.oneOf(['interrupted', 'succeeded'])
  })

  it('a Ctrl-C while the watch gives the others time to fail: the failure already seen is still named in the error, --json and history (they said only "interrupted"); twice', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (const round of [1, 2]) {
      await app.change(
        (t) =>
          (round === 1 ? CRASH(t).replace('    replicas: 1\n', '    replicas: 1\n    labels: {sim.kwok.test/behavior: not-ready}\n') : t).replace(
            '\nenvironments:',
            `\n# round ${round}\nenvironments:`,
          ),
        `round ${round}: web crashes, worker is never ready`,
      )
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--json'], {cwd: app.repo.dir, reject: false, detached: true, env: {NO_COLOR: '1', CI: 'true'}})
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      // web has failed; the watch gives worker (never ready) time to fail too: the Ctrl-C lands in that wait.
      await waitFor('web to fail', () => err.includes('✖ Deployment/web'), {timeoutMs: 120_000, intervalMs: 50}).catch(async (error: Error) => {
        child.kill()
        const r = await child
        throw new Error(`${error.message}; the deploy (exit ${r.exitCode}) wrote:\n${err}\n${r.stdout}\n${r.stderr}`)
      })
      process.kill(-(child.pid as number), 'SIGINT')
      const r = await child
      expect(r.exitCode, err).to.equal(130)
      const doc = JSON.parse(r.stdout)
      expect(doc.error.message, err).to.match(/^deploy of test interrupted after Deployment\/web: container web of pod web-\S+ is /)
      expect(doc.error.details.report.failures.map((f: {ref: string}) => f.ref)).to.deep.equal(['Deployment/web'])
      expect(doc.error.details.report.interrupted.map((i: {ref: string}) => i.ref)).to.include('Deployment/worker')
      const [newest] = (await app.json(['history', 'test'])).doc.result.releases
      expect(newest, `round ${round}`).to.include({number: round + 1, result: 'interrupted', failed: 'Deployment/web'})
      expect(newest.message).to.match(/^Deployment\/web: container web of pod web-/)
    }
  })

  it('a config-file change rolls the pods and prunes the old ConfigMap', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const before = (await app.get(['configmaps'])).items.map((c: any) => c.metadata.name).filter((n: string) => n.startsWith('web-config-'))
    app.repo.write('config/web/app.properties', 'greeting=changed\n')
    await app.repo.commit('config')
    const r = await app.json([...DEPLOY, 'test'])
    expect(r.exitCode, r.stderr).to.equal(0)
    const after = (await app.get(['configmaps'])).items.map((c: any) => c.metadata.name).filter((n: string) => n.startsWith('web-config-'))
    expect(after).to.have.length(1)
    expect(after[0]).to.not.equal(before[0])
    expect(r.doc.result.pruned).to.deep.equal([`ConfigMap/${before[0]}`])
    const web = await app.get(['deployment', 'web'])
    expect(web.spec.template.spec.volumes[0].configMap.name).to.equal(after[0])
    expect(web.metadata.annotations['deployment.kubernetes.io/revision']).to.equal('2')
  })

  it('a crash-looping revision fails fast, rolls back automatically, exits 1; status shows the previous revision', async () => {
    const good = await app.repo.git('rev-parse', 'HEAD')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    // What the crashed containers printed: the failure report shows it, without the app's noise.
    const logs = await podLogFiles(ns.name)
    await appendLog(logs.previous, ['GET /healthz 200', 'DEBUG pool warm', 'panic: cannot reach the database'])
    await app.change(CRASH, 'crash')
    const r = await app.json([...DEPLOY, 'test', '--timeout', '2m'])
    expect(r.exitCode).to.equal(1)
    expect(r.doc.ok).to.equal(false)
    expect(r.doc.error.code).to.equal('deploy_failed')
    expect(r.doc.error.message, r.doc.error.message).to.match(/Deployment\/web: container web of pod web-\S+ is in CrashLoopBackOff \(exit code 1, Error; restarted (once|\d+ times)\)/)
    expect(r.doc.error.message).to.contain('rolled back to release 1')
    const report = r.doc.error.details.report
    expect(report.rollback).to.deep.include({to: 1, result: 'succeeded'})
    // --json's progress on stderr: one line says the rollback and the release it returns to (there were two).
    expect(
      r.stderr
        .split('\n')
        .filter((l: string) => l.includes('Rolling back'))
        .map((l: string) => l.replace(/^\S+ /, '')),
    ).to.deep.equal([`Rolling back to release 1 (${good.slice(0, 7)}) as release 3`])
    const backOff = report.failures[0].events.find((e: {reason: string}) => e.reason === 'BackOff')
    expect(backOff, JSON.stringify(report.failures[0].events)).to.include({type: 'Warning'})
    expect(backOff.object).to.match(/^Pod\/web-/)
    expect(backOff.count).to.be.a('number').and.at.least(1)
    expect(Date.parse(backOff.lastSeen)).to.be.above(Date.now() - 10 * 60_000)
    expect(backOff.message).to.contain('Back-off restarting failed container')
    expect(r.doc.error.hint).to.not.match(/above/i)
    expect(report.failures[0].logs[0], JSON.stringify(report.failures[0])).to.deep.include({container: 'web', previous: true, hidden: 2})
    expect(report.failures[0].logs[0].lines.join('\n')).to.contain('panic: cannot reach the database').and.not.contain('healthz')
    const status = await app.json(['status', 'test'])
    const web = status.doc.result.services.find((s: any) => s.service === 'web')
    expect(web).to.include({revision: good, state: 'ready', ready: 2})
    const history = await app.json(['history', 'test'])
    // The automatic rollback is an entry of its own, linked from the failed release.
    expect(history.doc.result.releases.map((x: any) => [x.number, x.action, x.result, x.rolledBackTo ?? null, x.rollbackRelease ?? null])).to.deep.equal([
      [3, 'rollback', 'succeeded', 1, null],
      [2, 'deploy', 'failed', null, 3],
      [1, 'deploy', 'succeeded', null, null],
    ])
    // The human output explains the failure on stderr.
    app.repo.write('config/web/app.properties', 'greeting=again\n')
    await app.repo.commit('again')
    const human = await app.cli([...DEPLOY, 'test', '--no-rollback'])
    expect(human.exitCode, human.stderr).to.equal(1)
    expect(human.stderr).to.contain('✖ Deployment/web')
    expect(human.stderr).to.contain('Events:')
    expect(human.stderr).to.contain('not rolled back (--no-rollback)')
    // The next failure rolls back past release 4, which served before it but failed: said, not silent.
    app.repo.write('config/web/app.properties', 'greeting=once more\n')
    await app.repo.commit('once more')
    const past = await app.cli([...DEPLOY, 'test'])
    expect(past.exitCode, past.stderr).to.equal(1)
    expect(past.stderr).to.match(/Rolling back to release 3 \(\w+\) as release 6 \(release 4, after it, failed: a rollback returns only to a release that succeeded\)/)
    expect(
      past.stderr.split('\n').filter((l) => l.includes('Rolling back')),
      past.stderr,
    ).to.have.length(1)
  })

  it("failure reports list only this rollout's events about the failing objects: not the HPA of the same name the release before had, not a first round's in a second (two services failing, two rounds)", async () => {
    const hpa = (name: string) =>
      [
        'apiVersion: autoscaling/v2',
        'kind: HorizontalPodAutoscaler',
        `metadata: {name: ${name}}`,
        'spec:',
        `  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ${name}}`,
        '  minReplicas: 1',
        '  maxReplicas: 5',
        '  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]',
      ].join('\n')
    app.repo.write('deploy/hpa.yaml', `${hpa('web')}\n---\n${hpa('worker')}\n`)
    await app.repo.commit('hpa')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    // No metrics server: the HPAs post warnings about web and worker (by name) every sync, through both rounds.
    await waitFor('the HPAs to post warnings', async () => {
      const events = JSON.parse((await kubectl(['get', 'events', '-o', 'json'], {namespace: ns.name})).stdout).items as any[]
      const names = new Set(events.filter((e) => e.type === 'Warning' && e.involvedObject.kind === 'HorizontalPodAutoscaler').map((e) => e.involvedObject.name))
      return names.has('web') && names.has('worker')
    })
    rmSync(join(app.repo.dir, 'deploy'), {recursive: true})
    await app.change((text) => CRASH(text).replace('    image: worker\n', '    image: worker\n    labels: {sim.kwok.test/behavior: crashloop}\n'), 'no hpa, both crash')
    const earlier = new Set<string>()
    for (const round of [1, 2]) {
      // The first round's rollback (`Scaled down replica set …`) seconds before the second begins: it was listed then.
      if (round === 2) await new Promise((resolve) => setTimeout(resolve, 3000))
      const began = Date.now()
      // The controller posts an HPA's warnings a few times, then at most every few minutes: one such warning about
      // each HPA while this rollout runs, as the controller writes it, stands in for them.
      for (const name of ['web', 'worker']) {
        const at = new Date(began + 20_000).toISOString().replace(/\.\d+Z$/, 'Z')
        const event = {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: {name: `${name}.hpa-round-${round}`},
          involvedObject: {apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name, namespace: ns.name},
          type: 'Warning',
          reason: 'FailedGetResourceMetric',
          message: 'failed to get cpu utilization: unable to get metrics for resource cpu',
          source: {component: 'horizontal-pod-autoscaler'},
          firstTimestamp: at,
          lastTimestamp: at,
          count: 1,
        }
        const created = await kubectl(['create', '-f', '-'], {namespace: ns.name, input: JSON.stringify(event)})
        expect(created.exitCode, created.stderr).to.equal(0)
      }
      const r = await app.json([...DEPLOY, 'test', '--timeout', '2m'])
      expect(r.exitCode, r.stderr).to.equal(1)
      const report = r.doc.error.details.report
      expect(report.rollback, `round ${round}`).to.deep.include({to: round === 1 ? 1 : 3, result: 'succeeded'})
      const failures = report.failures as Array<{ref: string; events: Array<{object: string; reason: string; lastSeen: string | null}>}>
      expect(failures.map((f) => f.ref).sort(), `round ${round}`).to.deep.equal(['Deployment/web', 'Deployment/worker'])
      const objects: string[] = []
      for (const f of failures) {
        const said = `round ${round}, ${f.ref}: ${JSON.stringify(f.events)}`
        expect(
          f.events.some((e) => e.reason === 'BackOff'),
          said,
        ).to.equal(true)
        const name = f.ref.split('/')[1]
        for (const e of f.events) {
          expect(e.object, said).to.match(new RegExp(`^(Deployment/${name}|(ReplicaSet|Pod)/${name}-.*)$`))
          // The test and the cluster share a clock: a second's rounding of the events' times.
          expect(Date.parse(e.lastSeen ?? ''), said).to.be.at.least(began - 1000)
          expect(earlier.has(e.object) && e.object.startsWith('Pod/'), said).to.equal(false)
          objects.push(e.object)
        }
      }
      for (const o of objects) earlier.add(o)
    }
  })

  it('abort and promote of a service neither in skycap.yaml nor left on the cluster: exit 2, unknown service with the services, before and after a first deploy', async () => {
    for (const when of ['no namespace yet', 'deployed']) {
      if (when === 'deployed') expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
      const aborted = await app.cli(['abort', 'test', 'nosuch'])
      expect(aborted.exitCode, `${when}: ${aborted.stderr}`).to.equal(2)
      expect(aborted.stderr, when).to.contain('unknown service "nosuch"').and.contain('Services of itdeploy: web, worker.').and.not.contain('could not ask the cluster')
      const promoted = await app.json(['promote', 'test', 'wrker'])
      expect(promoted.exitCode, `${when}: ${promoted.stderr}`).to.equal(2)
      expect(promoted.doc.error, when).to.deep.include({message: 'unknown service "wrker"; did you mean "worker"?', hint: 'Services of itdeploy: web, worker.'})
    }
  })

  it('exits 70 when the rollout does not finish within --timeout, and rolls back', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change(NOT_READY, 'never ready')
    // worker's healthy rollout and the rollback get the same time: 12 s was tight on a loaded CI machine.
    const r = await app.json([...DEPLOY, 'test', '--timeout', '25s'])
    expect(r.exitCode).to.equal(70)
    expect(r.doc.error.code).to.equal('timeout')
    expect(r.doc.error.message).to.contain('did not become ready in time')
    expect(r.doc.error.details.report.rollback).to.deep.include({to: 1, result: 'succeeded'})
    expect(r.doc.error.details.report.failures[0].message).to.match(/still not ready: .*readiness check does not pass/)
  })

  it('two concurrent deploys: exactly one proceeds, the other exits 3 naming the holder', async () => {
    // A new revision, so the winner rolls out new pods and holds the lock for seconds, not only for a no-op apply.
    app.repo.write('config/web/app.properties', `greeting=concurrent ${Date.now()}\n`)
    await app.repo.commit('a change for both to deploy')
    const [a, b] = await Promise.all([app.cli([...DEPLOY, 'test']), app.cli([...DEPLOY, 'test'])])
    const codes = [a.exitCode, b.exitCode].sort()
    expect(codes).to.deep.equal([0, 3])
    const loser = a.exitCode === 3 ? a : b
    expect(loser.stderr).to.match(/test is locked by \S+@\S+ since/)
    expect(loser.stderr).to.contain('--wait-for-lock')
  })

  it('--wait-for-lock waits for a held lock; lock acquire/status/release work by hand', async () => {
    const held = await app.json(['lock', 'acquire', 'test', '--reason', 'maintenance'])
    expect(held.exitCode, held.stderr).to.equal(0)
    const status = await app.json(['lock', 'status', 'test'])
    expect(status.doc.result.lock).to.include({reason: 'maintenance', expired: false})
    const locked = await app.cli([...DEPLOY, 'test'])
    expect(locked.exitCode).to.equal(3)
    expect(locked.stderr).to.contain('(maintenance)')
    // Taken by hand by this user: released without --force, and the hint says so.
    expect(locked.stderr).to.match(/or, if you are done with it \(it is yours, \S+\): skycap lock release test\. The lock expires at/)
    const waiting = app.cli([...DEPLOY, 'test', '--wait-for-lock', '1m'])
    await new Promise((r) => setTimeout(r, 3000))
    expect((await app.cli(['lock', 'release', 'test'])).exitCode).to.equal(0)
    expect((await waiting).exitCode).to.equal(0)
  })

  it('lock acquire before the first deploy (no namespace yet): exit 2 saying so, and no namespace is created; diff lists what a deploy creates, and names an object the schema refuses', async () => {
    const missing = `${ns.name}-none`
    await app.change((text) => text.replaceAll(`namespace: ${ns.name}`, `namespace: ${missing}`), 'a namespace not created yet')
    const r = await app.json(['lock', 'acquire', 'test'])
    expect(r.exitCode, r.stderr).to.equal(2)
    expect(r.doc.error).to.deep.include({code: 'namespace_not_found', message: `cannot lock test: its namespace ${missing} does not exist yet (nothing was deployed there); nothing was changed`})
    expect(r.doc.error.hint).to.contain('The first `skycap deploy test` creates the namespace')
    // A scale there says what it could not scale, not how to lock the environment by hand.
    const scaled = await Promise.all(['web', 'worker'].map((service) => app.json(['scale', service, '3', '-e', 'test'])))
    expect(scaled.map((s) => [s.exitCode, s.doc.error.code, s.doc.error.message])).to.deep.equal(
      ['web', 'worker'].map((service) => [2, 'namespace_not_found', `cannot scale ${service} in test: its namespace ${missing} does not exist yet (nothing was deployed there); nothing was changed`]),
    )
    expect(scaled[0]?.doc.error.hint).to.equal('Deploy it first: skycap deploy test.')
    // diff lists what the first deploy creates; an object the cluster's schema refuses is named first (exit 2),
    // as the deploy's dry run refuses it (diff listed it, exit 1, and the deploy then failed).
    const first = await app.json(['diff', 'test'])
    expect(first.exitCode, first.stderr).to.equal(1)
    expect(first.doc.result.diff).to.match(new RegExp(`^namespace ${missing} does not exist yet: a deploy creates it and \\d+ objects:`))
    app.repo.write('deploy/bad.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo}\ndta: {a: b}\n')
    const refused = await app.json(['diff', 'test'])
    expect(refused.exitCode, refused.stderr).to.equal(2)
    expect(refused.doc.error.details.rejected.map((r: {ref: string; file: string; line: number}) => `${r.ref} ${r.file}:${r.line}`)).to.deep.equal(['ConfigMap/typo deploy/bad.yaml:5'])
    expect(refused.doc.error.hint).to.contain('Fix ConfigMap/typo (deploy/bad.yaml:5); nothing was changed.')
    expect((await kubectl(['get', 'namespace', missing, '--ignore-not-found', '-o', 'name'])).stdout).to.equal('')
  })

  // SIGHUP: a closed terminal or a dropped SSH session (it killed skycap at once: lock held, release unrecorded).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`${signal} during the watch releases the lock and exits 130`, async () => {
      await app.change(NOT_READY, 'never ready')
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '5m'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      await waitFor('the watch to start', () => err.includes('Rolling out'), {timeoutMs: 60_000})
      await waitFor('the lock to be held', async () => (await kubectl(['get', 'lease', 'skycap-lock-itdeploy', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout.trim() !== '')
      child.kill(signal)
      const r = await child
      expect(r.exitCode, err).to.equal(130)
      expect(err).to.contain(`Received ${signal}`)
      expect(err).to.contain('interrupted')
      expect((await kubectl(['get', 'lease', 'skycap-lock-itdeploy', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
      // Apply had started: the release is in history, as interrupted.
      const history = await app.json(['history', 'test'])
      expect(history.doc.result.releases.map((x: any) => [x.number, x.action, x.result])).to.deep.equal([[1, 'deploy', 'interrupted']])
    })
  }

  it("lock release without --force refuses a running deploy's lock of one's own (it freed it), and frees a lock taken by hand", async () => {
    await app.change(NOT_READY, 'never ready')
    const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '5m'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1'}})
    let err = ''
    child.stderr?.on('data', (d) => (err += d))
    try {
      await waitFor('the watch to start', () => err.includes('Rolling out'), {timeoutMs: 60_000})
      const lease = async () => (await kubectl(['get', 'lease', 'skycap-lock-itdeploy', '--ignore-not-found', '-o', 'json'], {namespace: ns.name})).stdout.trim()
      expect(JSON.parse(await lease()).metadata.annotations['skycap.dev/held-by']).to.equal('command')
      for (let round = 1; round <= 2; round++) {
        const refused = await app.json(['lock', 'release', 'test'])
        expect(refused.exitCode, `round ${round}: ${refused.stderr}`).to.equal(2)
        expect(refused.doc.error.message).to.match(/^test's lock is held by a skycap command of yours that has not ended \(deploy test@[0-9a-f]{7}\); nothing was changed$/)
        expect(JSON.parse(await lease()).metadata.annotations['skycap.dev/held-by'], 'the lock is still there').to.equal('command')
      }
      // The refused deploy beside it: its hint names --force, not a plain release.
      const second = await app.cli([...DEPLOY, 'test'])
      expect(second.exitCode).to.equal(3)
      expect(second.stderr).to.contain('skycap lock release test --force')
    } finally {
      child.kill('SIGINT')
      await child
    }
    expect((await app.json(['lock', 'acquire', 'test'])).exitCode).to.equal(0)
    expect(JSON.parse((await kubectl(['get', 'lease', 'skycap-lock-itdeploy', '-o', 'json'], {namespace: ns.name})).stdout).metadata.annotations['skycap.dev/held-by']).to.equal('hand')
    expect((await app.json(['lock', 'release', 'test'])).exitCode).to.equal(0)
    expect((await kubectl(['get', 'lease', 'skycap-lock-itdeploy', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
  })

  it('a deploy whose output reader goes away (| head) finishes: recorded, the lock released, exit 0 (it exited 1 after the apply, unrecorded, the lock held)', async () => {
    for (let round = 1; round <= 2; round++) {
      app.repo.write('config/web/app.properties', `greeting=round ${round}\n`)
      await app.repo.commit(`round ${round}`)
      const child = execa('node', [cliPath, ...DEPLOY, 'test'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1'}})
      // As `skycap deploy test 2>&1 | head -1`: the pipes close once the first line came.
      await new Promise<void>((resolve) => child.stderr?.once('data', () => resolve()))
      child.stderr?.destroy()
      child.stdout?.destroy()
      const r = await child
      expect(r.exitCode, `round ${round}`).to.equal(0)
      const history = await app.json(['history', 'test'])
      expect(history.doc.result.releases[0]).to.include({number: round, action: 'deploy', result: 'succeeded'})
      expect((await kubectl(['get', 'lease', 'skycap-lock-itdeploy', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
    }
  })

  it('a deploy of a work tree with uncommitted changes deploys them and is recorded so (history named only the commit)', async () => {
    app.repo.write('config/web/app.properties', 'greeting=not committed\n')
    const dirty = await app.cli([...DEPLOY, 'test'])
    expect(dirty.exitCode, dirty.stderr).to.equal(0)
    expect(dirty.stderr).to.match(
      /warning: the work tree has uncommitted changes \(untracked files count\): its skycap\.yaml, templates and config files are used as they are, with the images of [0-9a-f]{7}/,
    )
    const configMaps = await app.get(['configmaps', '-l', 'app.kubernetes.io/name=web'])
    expect(configMaps.items.map((c: any) => c.data['app.properties'])).to.include('greeting=not committed\n')
    await app.repo.commit('now committed')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const history = await app.json(['history', 'test'])
    expect(history.doc.result.releases.map((r: any) => [r.number, r.uncommitted ?? false])).to.deep.equal([
      [2, false],
      [1, true],
    ])
    const table = await app.cli(['history', 'test'])
    expect(table.stdout.split('\n').find((line) => /^1 /.test(line))).to.match(/uncommitted changes$/)
  })

  it('scale waits for ready, is recorded, and survives the next deploy (until replicas change in skycap.yaml)', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const s = await app.json(['scale', 'web', '4', '-e', 'test'])
    expect(s.exitCode, s.stderr).to.equal(0)
    expect(s.doc.result).to.include({from: 2, to: 4, result: 'succeeded'})
    expect((await app.get(['deployment', 'web'])).status.readyReplicas).to.equal(4)
    app.repo.write('config/web/app.properties', 'greeting=again\n')
    await app.repo.commit('config only')
    // A dry run says it too (it said nothing of the counts).
    const dryKept = await app.cli([...DEPLOY, 'test', '--dry-run'])
    expect(dryKept.exitCode, dryKept.stderr).to.equal(0)
    expect(dryKept.stderr).to.contain('Dry run: keeping the live replica counts: web 4 (skycap.yaml says 2)')
    const kept = await app.cli([...DEPLOY, 'test'])
    expect(kept.exitCode).to.equal(0)
    expect(kept.stderr + kept.stdout, 'the deploy says it keeps the scaled count').to.contain(
      "Keeping the live replica counts: web 4 (skycap.yaml says 2), as scaled (or set by an HPA); --reset-replicas applies skycap.yaml's",
    )
    expect((await app.get(['deployment', 'web'])).spec.replicas, 'scale survives a deploy').to.equal(4)
    // Scaling web and worker to the counts they have, twice at once: nothing is scaled or recorded (each was "web 4 -> 4").
    for (let round = 0; round < 2; round++) {
      const same = await Promise.all([app.cli(['scale', 'web', '4', '-e', 'test', '--wait-for-lock', '1m']), app.cli(['scale', 'worker', '1', '-e', 'test', '--wait-for-lock', '1m'])])
      expect(same.map((r) => [r.exitCode, r.stdout])).to.deep.equal([
        [0, 'web in test is already at 4; nothing was changed'],
        [0, 'worker in test is already at 1; nothing was changed'],
      ])
    }
    const history = await app.json(['history', 'test'])
    expect(history.doc.result.releases.map((x: any) => x.action)).to.deep.equal(['deploy', 'scale', 'deploy'])
    await app.change((t) => t.replace('replicas: 2', 'replicas: 3'), 'replicas in config')
    expect((await app.cli([...DEPLOY, 'test', '--dry-run'])).stderr).to.contain("Dry run: changing the running replica counts: web 4 → 3 (skycap.yaml's replicas changed)")
    expect((await app.get(['deployment', 'web'])).spec.replicas, 'a dry run changes nothing').to.equal(4)
    const changed = await app.cli([...DEPLOY, 'test'])
    expect(changed.exitCode).to.equal(0)
    expect(changed.stderr + changed.stdout).to.not.contain('Keeping the live replica counts')
    // Said, as keeping one is (scaled 4 went to 3 without a word).
    expect(changed.stderr).to.contain("Changing the running replica counts: web 4 → 3 (skycap.yaml's replicas changed)")
    expect((await app.get(['deployment', 'web'])).spec.replicas, 'a changed replicas in skycap.yaml wins').to.equal(3)
    const unknown = await app.cli(['scale', 'api', '2', '-e', 'test'])
    expect(unknown.exitCode).to.equal(2)
    expect(unknown.stderr).to.contain('unknown service "api"')
  })

  it('two scales behind a held lock, twice: each says it waits, reads its count once it holds the lock, and its --timeout starts then', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (const round of [1, 2]) {
      const held = await app.json(['lock', 'acquire', 'test', '--reason', `maintenance ${round}`])
      expect(held.exitCode, held.stderr).to.equal(0)
      const want = {web: 2 + round, worker: round}
      const scales = Object.entries(want).map(([service, n]) => {
        const child = execa('node', [cliPath, 'scale', service, String(n), '-e', 'test', '--wait-for-lock', '2m', '--timeout', '20s', '--json'], {
          cwd: app.repo.dir,
          reject: false,
          env: {NO_COLOR: '1'},
        })
        const out = {child, err: ''}
        child.stderr?.on('data', (d) => (out.err += d))
        return out
      })
      for (const s of scales)
        await waitFor('the scale to say it waits', () => new RegExp(`test is locked by .*\\(maintenance ${round}\\); waiting for it \\(up to \\d+s more\\)`).test(s.err), {timeoutMs: 60_000})
      // While they wait, the counts change behind their backs; and they wait longer than their --timeout (20 s: the
      // scales must then succeed within it, on a loaded CI machine too).
      const behind = {web: round, worker: 3 + round}
      for (const [service, n] of Object.entries(behind)) await kubectl(['scale', `deployment/${service}`, `--replicas=${n}`], {namespace: ns.name})
      await new Promise((r) => setTimeout(r, 22_000))
      expect((await app.cli(['lock', 'release', 'test'])).exitCode).to.equal(0)
      const results = await Promise.all(scales.map((s) => s.child))
      results.forEach((r, i) => expect(r.exitCode, scales[i]?.err).to.equal(0))
      expect(results.map((r) => JSON.parse(r.stdout).result).map((x: any) => [x.service, x.from, x.to, x.result])).to.deep.equal([
        ['web', behind.web, want.web, 'succeeded'],
        ['worker', behind.worker, want.worker, 'succeeded'],
      ])
      for (const [service, n] of Object.entries(want)) {
        const d = await app.get(['deployment', service])
        expect([d.spec.replicas, d.status.readyReplicas, d.status.observedGeneration], service).to.deep.equal([n, n, d.metadata.generation])
      }
    }
    const scaleEntries = (await app.json(['history', 'test'])).doc.result.releases.filter((x: any) => x.action === 'scale')
    expect(scaleEntries.map((x: any) => x.result)).to.deep.equal(['succeeded', 'succeeded', 'succeeded', 'succeeded'])
  })

  it('refuses a kube context that is not in the kubeconfig, before anything changes', async () => {
    await app.change((t) => t.replace(/context: .*\n {4}namespace/, 'context: no-such-context\n    namespace'), 'wrong context')
    const r = await app.cli([...DEPLOY, 'test'])
    expect(r.exitCode).to.equal(2)
    expect(r.stderr).to.contain('kube context "no-such-context" of environment test is not in your kubeconfig; nothing was changed')
    expect((await kubectl(['get', 'all', '-o', 'name'], {namespace: ns.name})).stdout.trim()).to.equal('')
    // The commands that only read the cluster (and scale, lock) check the context on their first kubectl call, one
    // kubectl process less: the same refusal, with the contexts there are, and still nothing changed.
    for (const args of [
      ['status', 'test'],
      ['lock', 'acquire', 'test'],
      ['scale', 'web', '2', '-e', 'test'],
      ['logs', 'web', '-e', 'test', '--tail', '1'],
    ]) {
      const read = await app.cli(args)
      expect(read.exitCode, args.join(' ')).to.equal(2)
      expect(read.stderr, args.join(' ')).to.contain('kube context "no-such-context" of environment test is not in your kubeconfig; nothing was changed')
      expect(read.stderr, args.join(' ')).to.match(/Known contexts: .+/)
    }
    expect((await kubectl(['get', 'all,leases', '-o', 'name'], {namespace: ns.name})).stdout.trim()).to.equal('')
  })

  it('invalid objects are caught by the server dry run and nothing is applied; deploy and diff name their template and line', async () => {
    app.repo.write('deploy/bad.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports: [{port: 99999}]\n')
    await app.repo.commit('bad')
    const r = await app.cli([...DEPLOY, 'test'])
    expect(r.exitCode, r.stderr).to.equal(2)
    expect(r.stderr, r.stderr).to.match(/Invalid value: 99999|must be between 1 and 65535/)
    expect(r.stderr, r.stderr).to.contain('Fix Service/bad (deploy/bad.yaml:1); nothing was changed.')
    // The diff of the same release: exit 2 (not 1, "changes"), the same hint, and the objects with their files in --json.
    const diff = await app.cli(['diff', 'test'])
    expect(diff.exitCode, diff.stderr).to.equal(2)
    expect(diff.stderr, diff.stderr).to.contain('Fix Service/bad (deploy/bad.yaml:1); nothing was changed.')
    app.repo.write('deploy/bad.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: typed}\ndata: {a: 1}\n')
    const json = await app.json(['diff', 'test'])
    expect(json.exitCode, json.stderr).to.equal(2)
    expect(json.doc.error.details.rejected).to.deep.equal([{ref: 'ConfigMap/typed', file: 'deploy/bad.yaml', line: 5, message: json.doc.error.details.rejected[0].message}])
    expect(json.doc.error.details.rejected[0].message).to.match(/\.data\.a: expected string/)
    // A field the kind lacks: kubectl's own check of the List named the kind only ("ValidationError(ConfigMap):
    // unknown field …", with kubectl's hint to pass --validate=false); the deploy now names the object and its file.
    app.repo.write('deploy/bad.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo}\ndta: {a: b}\n')
    await app.repo.commit('a field the kind lacks')
    const typo = await app.json([...DEPLOY, 'test'])
    expect(typo.exitCode, typo.stderr).to.equal(2)
    expect(typo.doc.error.details.rejected.map((r: {ref: string; file: string; line: number}) => `${r.ref} ${r.file}:${r.line}`)).to.deep.equal(['ConfigMap/typo deploy/bad.yaml:5'])
    expect(typo.doc.error.message).to.match(/dta/)
    expect(typo.doc.error.message).to.not.contain('--validate=false')
    // The same in a service's podTemplate: named at the key in skycap.yaml, with the pod spec field it is close to.
    rmSync(join(app.repo.dir, 'deploy/bad.yaml'))
    await app.change((t) => t.replace('    image: worker\n', '    image: worker\n    podTemplate:\n      spec: {automountServiceAcountToken: true}\n'), 'a pod field that does not exist')
    // The key's value is on the line after `podTemplate:`, at column 43 (it named the service's first line).
    const key = app.config.split('\n').indexOf('    podTemplate:') + 2
    const pod = await app.cli([...DEPLOY, 'test'])
    expect(pod.exitCode, pod.stderr).to.equal(2)
    expect(pod.stderr, pod.stderr).to.contain(
      `Fix Deployment/worker (skycap.yaml:${key}:43, services.worker.podTemplate.spec.automountServiceAcountToken: did you mean automountServiceAccountToken?); nothing was changed.`,
    )
    // An environment's podTemplate: named there.
    await app.change(
      (t) =>
        t
          .replace('    podTemplate:\n      spec: {automountServiceAcountToken: true}\n', '')
          .replace(/( {2}test:\n(?: {4}.*\n)*)/, '$1    services:\n      worker:\n        podTemplate: {spec: {bogusField: 1}}\n'),
      'a pod field that does not exist, in the environment',
    )
    const inEnv = await app.cli(['diff', 'test'])
    expect(inEnv.exitCode, inEnv.stderr).to.equal(2)
    const envKey = app.config.split('\n').findIndex((l) => l.includes('bogusField')) + 1
    expect(inEnv.stderr, inEnv.stderr).to.match(
      new RegExp(`Fix Deployment/worker \\(skycap\\.yaml:${envKey}:\\d+, environments\\.test\\.services\\.worker\\.podTemplate\\.spec\\.bogusField\\); nothing was changed\\.`),
    )
    expect((await kubectl(['get', 'deployments,services,configmaps', '-l', 'app.kubernetes.io/part-of=itdeploy', '-o', 'name'], {namespace: ns.name})).stdout.trim()).to.equal('')
  })

  it('a Deployment paused by hand refuses deploy and rollback before any change (the deploy waited for its timeout); fields kubectl set by hand are named by diff, deploy and rollback; twice', async () => {
    const generations = async () => (await app.get(['deployments'])).items.map((d: any) => `${d.metadata.name} ${d.metadata.generation}`)
    const numbers = async () => (await app.json(['history', 'test'])).doc.result.releases.map((x: any) => x.number)
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    app.repo.write('config/web/app.properties', 'greeting=two\n')
    await app.repo.commit('two')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (const round of [1, 2]) {
      const ok = (r: {exitCode?: number; stderr: string}) => expect(r.exitCode, r.stderr).to.equal(0)
      ok(await kubectl(['rollout', 'pause', 'deployment/web'], {namespace: ns.name}))
      ok(await kubectl(['set', 'env', 'deployment/worker', `DEBUG=${round}`], {namespace: ns.name}))
      app.repo.write('config/web/app.properties', `greeting=round${round}\n`)
      await app.repo.commit(`round ${round}`)
      const [before, recorded] = [await generations(), await numbers()]
      const diff = await app.cli(['diff', 'test'])
      expect(diff.exitCode, diff.stderr).to.equal(1)
      expect(diff.stderr).to.contain(`a deploy would be refused: Deployment/web in namespace ${ns.name} is paused (kubectl rollout pause)`)
      expect(diff.stderr).to.contain(
        'a deploy keeps fields set by hand with kubectl, which the release does not set: Deployment/worker spec.template.spec.containers[worker].env[DEBUG] (set by kubectl-set)',
      )
      for (const command of [
        [...DEPLOY, 'test'],
        ['rollback', 'test', '--skip-image-check'],
      ]) {
        const refused = await app.cli(command, {timeout: 60_000})
        expect(refused.exitCode, refused.stderr).to.equal(2)
        expect(refused.stderr).to.contain(
          `Deployment/web in namespace ${ns.name} is paused (kubectl rollout pause): the controller rolls out nothing while it is paused, so this ${command[0]} of test would wait until its timeout; nothing was changed`,
        )
        expect(refused.stderr).to.contain(`kubectl rollout resume deployment/web -n ${ns.name} --context ${testCluster().context}`)
      }
      expect(await generations()).to.deep.equal(before)
      expect(await numbers()).to.deep.equal(recorded)
      const waiting = async () => (await app.json(['status', 'test'])).doc.result.services.find((x: any) => x.service === 'web').waiting
      expect(await waiting()).to.equal(
        `paused (kubectl rollout pause): it rolls out nothing, and a deploy or rollback that would roll it is refused, until \`kubectl rollout resume deployment/web -n ${ns.name} --context ${testCluster().context}\``,
      )
      ok(await kubectl(['rollout', 'resume', 'deployment/web'], {namespace: ns.name}))
      expect(await waiting()).to.equal(null)
      const deployed = await app.cli([...DEPLOY, 'test'])
      ok(deployed)
      expect(deployed.stderr).to.contain(
        'this deploy keeps fields set by hand with kubectl, which the release does not set: Deployment/worker spec.template.spec.containers[worker].env[DEBUG] (set by kubectl-set)',
      )
      const env = async () => (await app.get(['deployment', 'worker'])).spec.template.spec.containers[0].env ?? []
      expect(await env()).to.deep.include({name: 'DEBUG', value: String(round)})
      const rolledBack = await app.cli(['rollback', 'test', '--skip-image-check'])
      ok(rolledBack)
      expect(rolledBack.stderr).to.contain('this rollback keeps fields set by hand with kubectl')
      // Removed by hand, as the warning says: named no more.
      ok(await kubectl(['set', 'env', 'deployment/worker', 'DEBUG-'], {namespace: ns.name}))
      const clean = await app.cli(['diff', 'test'])
      expect(clean.stderr).not.to.contain('set by hand')
      expect(clean.stderr).not.to.contain('paused')
    }
  })

  it('prunes a removed service', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change((t) => t.replace(/ {2}worker:\n( {4}.*\n)+/, ''), 'drop worker')
    // The deploy's dry run names what it would prune (it said only "objects validated", and --json had pruned: []).
    const preview = await app.json([...DEPLOY, 'test', '--dry-run'])
    expect(preview.exitCode, preview.stderr).to.equal(0)
    expect(preview.doc.result.pruned).to.deep.equal(['Deployment/worker'])
    expect(preview.stderr).to.contain('Dry run: would prune 1 object no longer rendered: Deployment/worker')
    expect((await app.get(['deployment', 'worker'])).metadata.name).to.equal('worker')
    const r = await app.json([...DEPLOY, 'test'])
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.doc.result.pruned).to.deep.equal(['Deployment/worker'])
    expect(r.stderr).to.contain('Pruning 1 object no longer rendered: Deployment/worker')
    await waitFor('worker to go', async () => (await kubectl(['get', 'deployment', 'worker', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout.trim() === '')
    // A rollback prunes as a deploy does, and says so before (it deleted the service without a word).
    expect((await app.cli(['rollback', 'test', '--to', '1'])).exitCode).to.equal(0)
    expect((await app.cli(['scale', 'web', '3'])).exitCode).to.equal(0)
    // Its dry run names it too (it said nothing, and --json had pruned: []).
    const dry = await app.json(['rollback', 'test', '--to', '2', '--dry-run'])
    expect(dry.exitCode, dry.stderr).to.equal(0)
    expect(dry.doc.result.pruned).to.deep.equal(['Deployment/worker'])
    expect(dry.stderr).to.contain('Dry run: would prune 1 object release 2 did not have: Deployment/worker')
    // And what it would do besides: the release it returns to, the live count it keeps, what it would change.
    expect(dry.stderr).to.match(/Dry run: would roll test back to release 2 \([0-9a-f]{7}\) as a new release\n/)
    expect(dry.stderr, dry.stderr).to.contain("Dry run: keeping the live replica counts: web 3 (release 2 had 2); --reset-replicas restores the release's\n")
    expect(dry.stderr).to.contain('Dry run: would create or change Deployment/web\n')
    expect(dry.stderr).to.contain('Dry run: 3 objects validated by the API server; nothing was changed')
    expect((await kubectl(['get', 'deployment', 'worker', '-o', 'name'], {namespace: ns.name})).stdout.trim()).to.equal('deployment.apps/worker')
    const again = await app.json(['rollback', 'test', '--to', '2'])
    expect(again.exitCode, again.stderr).to.equal(0)
    expect(again.doc.result.pruned).to.deep.equal(['Deployment/worker'])
    expect(again.stderr).to.contain('Pruning 1 object release 2 did not have: Deployment/worker')
  })

  it('rollback after the same commit was deployed twice (a CI job run again) returns to the commit before, not to the same manifests', async () => {
    const first = await app.repo.git('rev-parse', 'HEAD')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    app.repo.write('config/web/app.properties', 'greeting=two\n')
    await app.repo.commit('two')
    for (let i = 0; i < 2; i++) expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    // Release 3 runs what release 2 ran: --to either changes nothing, and the result names release 3 as what runs (it
    // said "test runs release 2" of --to 2), with the one it would have returned to, in text and --json.
    const two = (await app.repo.git('rev-parse', 'HEAD')).slice(0, 7)
    for (const [to, line, json] of [
      ['2', `nothing to roll back: test runs release 3 (${two}), the same as release 2`, {runningRelease: 3, rolledBackTo: 2}],
      ['3', `nothing to roll back: test runs release 3 (${two})`, {runningRelease: 3, rolledBackTo: 3}],
    ] as const) {
      const text = await app.cli(['rollback', 'test', '--to', to])
      expect(text.exitCode, text.stderr).to.equal(0)
      expect(text.stdout.trim()).to.equal(line)
      expect(text.stderr).to.contain(`Release 3 of test is what runs${to === '2' ? ' (a deploy of what release 2 ran)' : ''}: nothing was changed or recorded`)
      expect((await app.json(['rollback', 'test', '--to', to])).doc.result).to.include({result: 'unchanged', release: null, ...json})
    }
    const r = await app.json(['rollback', 'test'])
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.stderr).to.contain('release 1 (')
    expect(r.doc.result).to.include({result: 'succeeded', release: 4})
    expect(r.doc.result.revision.sha).to.equal(first)
    const web = await app.get(['deployment', 'web'])
    expect(web.metadata.annotations['skycap.dev/revision']).to.equal(first)
    expect((await app.get(['configmap', web.spec.template.spec.volumes[0].configMap.name])).data['app.properties']).to.not.contain('greeting=two')
    // Releases 2 and 3 ran the same manifests; after a rollback --to 3, a --to 2 returns to what runs: nothing is
    // changed or recorded (it recorded a rollback that changed nothing, while --to 3 said it ran), and its dry run says so.
    expect((await app.cli(['rollback', 'test', '--to', '3'])).exitCode).to.equal(0)
    const generations = async () => (await app.get(['deployments'])).items.map((d: any) => `${d.metadata.name} ${d.metadata.generation}`)
    const before = await generations()
    for (const extra of [['--dry-run'], []]) {
      const same = await app.json(['rollback', 'test', '--to', '2', ...extra])
      expect(same.exitCode, same.stderr).to.equal(0)
      expect(same.doc.result.result, same.stderr).to.equal('unchanged')
      expect(same.doc.result).to.include({runningRelease: 5, rolledBackTo: 2})
      expect(same.stderr).to.contain('Release 5 of test is what runs (a rollback to release 3, which ran what release 2 ran)')
    }
    expect(await generations()).to.deep.equal(before)
    expect((await app.json(['history', 'test'])).doc.result.releases[0].number).to.equal(5)
  })

  it('rollback --to a chosen release, by number and by revision', async () => {
    const first = await app.repo.git('rev-parse', 'HEAD')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    app.repo.write('config/web/app.properties', 'greeting=two\n')
    const second = await app.repo.commit('two')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const r = await app.json(['rollback', 'test', '--to', '1'])
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.doc.result).to.include({result: 'succeeded', release: 3})
    // One line says the rollback, the watch's title says what rolls out (it said "Rolling back to release 1" twice).
    expect(r.stderr.split('\n').filter((l) => /back to release/.test(l))).to.have.length(1)
    expect(r.stderr).to.contain(`Rolling test back to release 1 (${first.slice(0, 7)}) as release 3`)
    expect(r.stderr).to.contain(`Rolling out itdeploy test@${first.slice(0, 7)} again (release 1)`)
    expect((await app.get(['deployment', 'web'])).metadata.annotations['skycap.dev/revision']).to.equal(first)
    // --to what already runs, as it runs: nothing applied, nothing recorded (it re-applied it as a new entry).
    const generations = async () => (await app.get(['deployments'])).items.map((d: any) => `${d.metadata.name} ${d.metadata.generation}`)
    const before = await generations()
    const same = await app.json(['rollback', 'test', '--to', '1'])
    expect(same.exitCode, same.stderr).to.equal(0)
    expect(same.doc.result).to.include({result: 'unchanged', release: null, rolledBackTo: 1, runningRelease: 3})
    expect(same.stderr).to.contain('Release 3 of test is what runs (a rollback to release 1): nothing was changed or recorded')
    const plain = await app.cli(['rollback', 'test', '--to', '1'])
    expect(plain.stdout.trim()).to.equal(`nothing to roll back: test runs release 3 (${first.slice(0, 7)}), the same as release 1`)
    const dry = await app.json(['rollback', 'test', '--to', '1', '--dry-run'])
    expect(dry.exitCode, dry.stderr).to.equal(0)
    expect(dry.doc.result).to.include({result: 'unchanged', release: null, rolledBackTo: 1, runningRelease: 3})
    expect(dry.stderr).to.contain('Dry run: Release 3 of test is what runs (a rollback to release 1): the rollback would change and record nothing')
    expect(await generations()).to.deep.equal(before)
    const numbers = async () => (await app.json(['history', 'test'])).doc.result.releases.map((x: any) => x.number)
    expect(await numbers()).to.deep.equal([3, 2, 1])
    // Two rollbacks to one release at once (the second waits for the lock): one returns to it, the other finds it
    // running and changes nothing; twice, to each release.
    for (const [to, revision, recorded] of [
      ['2', second, 4],
      ['1', first, 5],
    ] as const) {
      const pair = await Promise.all([0, 1].map(() => app.json(['rollback', 'test', '--to', to, '--wait-for-lock', '2m'])))
      for (const x of pair) expect(x.exitCode, x.stderr).to.equal(0)
      expect(pair.map((x) => x.doc.result.result).sort()).to.deep.equal(['succeeded', 'unchanged'])
      expect(pair.map((x) => x.doc.result.release).sort()).to.deep.equal([recorded, null])
      expect((await app.get(['deployment', 'web'])).metadata.annotations['skycap.dev/revision']).to.equal(revision)
      expect((await numbers())[0]).to.equal(recorded)
    }
    // A field of the release changed by hand since is a difference: the rollback puts it back, as a release of its own.
    const image = (await app.get(['deployment', 'web'])).spec.template.spec.containers[0].image
    expect((await kubectl(['set', 'image', 'deployment/web', 'web=example.invalid/by-hand:1'], {namespace: ns.name})).exitCode).to.equal(0)
    const repaired = await app.json(['rollback', 'test', '--to', '1'])
    expect(repaired.exitCode, repaired.stderr).to.equal(0)
    expect(repaired.doc.result).to.include({result: 'succeeded', release: 6})
    expect((await app.get(['deployment', 'web'])).spec.template.spec.containers[0].image).to.equal(image)
    const back = await app.json(['rollback', 'test', '--to', second.slice(0, 8)])
    expect(back.exitCode, back.stderr).to.equal(0)
    expect((await app.get(['deployment', 'web'])).metadata.annotations['skycap.dev/revision']).to.equal(second)
    // A branch, tag or HEAD~N of the checkout names the commit a release deployed.
    const byRef = await app.json(['rollback', 'test', '--to', 'HEAD~1'])
    expect(byRef.exitCode, byRef.stderr).to.equal(0)
    expect((await app.get(['deployment', 'web'])).metadata.annotations['skycap.dev/revision']).to.equal(first)
    const bad = await app.cli(['rollback', 'test', '--to', '99'])
    expect(bad.exitCode).to.equal(2)
    expect(bad.stderr).to.contain('no successful release of test matches "99"')
  })

  it('rollback to a release whose Deployments set minReadySeconds not shorter than the timeout: exit 2 before anything changes', async () => {
    await app.change((t) => t.replace('    port: 8080\n', '    port: 8080\n    minReadySeconds: 3\n'), 'web waits 3 s')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change((t) => t.replace('    minReadySeconds: 3\n', ''), 'no wait')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const before = await app.get(['deployment', 'web'])
    const r = await app.json(['rollback', 'test', '--timeout', '3s'])
    expect(r.exitCode, r.stderr).to.equal(2)
    expect(r.doc.error.message).to.equal('minReadySeconds of web (3s) in test is not shorter than --timeout 3s: its new pods could never count as available in time; nothing was changed')
    expect(r.doc.error.hint).to.equal('Give the rollback more time (--timeout, or deploy.timeout in skycap.yaml) or lower minReadySeconds and deploy.')
    // Nothing changed: the same Deployment generation, no release 3, no lock left.
    expect((await app.get(['deployment', 'web'])).metadata.generation).to.equal(before.metadata.generation)
    const history = await app.json(['history', 'test'])
    expect(history.doc.result.releases.map((x: any) => x.number)).to.deep.equal([2, 1])
    expect(await kubectl(['get', 'lease', 'skycap-lock-itdeploy', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).to.have.property('stdout', '')
    const ok = await app.cli(['rollback', 'test', '--timeout', '1m'])
    expect(ok.exitCode, ok.stderr).to.equal(0)
  })

  it('a rollback that waited for the lock while a deploy recorded a release is refused, not taken one release too far back; twice', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    app.repo.write('config/web/app.properties', 'greeting=second\n')
    await app.repo.commit('second')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (let round = 1; round <= 2; round++) {
      // minReadySeconds keeps the deploy's rollout (and its lock) going on kwok's instantly ready pods: long enough for
      // the rollback's process to start and reach the lock on a loaded CI machine.
      await app.change((t) => t.replace(/\n {2}web:\n(?: {4}minReadySeconds: \d+\n)?/, `\n  web:\n    minReadySeconds: ${12 + round}\n`), `round ${round}`)
      const before = (await app.json(['history', 'test'])).doc.result.releases[0].number as number
      const deploying = execa('node', [cliPath, ...DEPLOY, 'test'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1'}})
      const deployErr = captureOutput(deploying.stderr as Readable)
      // Past the lock: the rollback started now reads the history before the deploy records its release.
      await deployErr.waitFor(`Deploying release ${before + 1}`, 60_000)
      const rollback = execa('node', [cliPath, 'rollback', 'test', '--wait-for-lock', '2m', '--skip-image-check', '--json'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1'}})
      const [deployed, refused] = await Promise.all([deploying, rollback])
      expect(deployed.exitCode, deployErr.text).to.equal(0)
      expect(refused.stderr, 'the rollback waited for the lock').to.contain('waiting for it')
      expect(refused.exitCode, refused.stderr).to.equal(2)
      expect(JSON.parse(refused.stdout).error.message).to.match(
        new RegExp(
          `^release ${before + 1} of test \\(a deploy that succeeded\\) was recorded while this rollback waited for the lock, so release ${before - 1} is no longer the one before the current; nothing was changed$`,
        ),
      )
      // Nothing was rolled back: the deploy's release runs and is the newest record.
      const newest = (await app.json(['history', 'test'])).doc.result.releases[0]
      expect(newest).to.include({number: before + 1, action: 'deploy', result: 'succeeded'})
      expect((await app.get(['deployment', 'web'])).spec.minReadySeconds).to.equal(12 + round)
    }
  })

  it('rollback past a succeeded release whose manifest Secret was deleted says so; a stray copy of a part spoils nothing', async () => {
    for (const greeting of ['one', 'two', 'three']) {
      app.repo.write('config/web/app.properties', `greeting=${greeting}\n`)
      await app.repo.commit(greeting)
      expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    }
    // A backup copy of release 3's manifests beside it: release 3 still counts (it made 3 "lost").
    const part = JSON.parse((await kubectl(['get', 'secret', 'skycap-release-itdeploy.test-3', '-o', 'json'], {namespace: ns.name})).stdout)
    const copy = {apiVersion: 'v1', kind: 'Secret', type: part.type, metadata: {name: 'backup-of-3', labels: part.metadata.labels}, data: part.data}
    await kubectl(['create', '-f', '-'], {namespace: ns.name, input: JSON.stringify(copy)})
    expect((await app.json(['rollback', 'test', '--dry-run', '--skip-image-check'])).doc.result.rolledBackTo).to.equal(2)
    // Release 2's Secret deleted by hand: the rollback goes past it to 1, and says so.
    await kubectl(['delete', 'secret', 'skycap-release-itdeploy.test-2'], {namespace: ns.name})
    const back = await app.json(['rollback', 'test', '--skip-image-check'])
    expect(back.exitCode, back.stderr).to.equal(0)
    expect(back.doc.result.rolledBackTo).to.equal(1)
    expect(back.stderr).to.contain('release 2 succeeded but has lost its manifests (the Secrets that hold them are gone or incomplete): rolling back past it to release 1')
  })

  it("a template's Deployment labelled like a service (name and instance) is no service: no status row, scale and logs say unknown", async () => {
    app.repo.write(
      'deploy/side.yaml',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: side\n  labels: {app.kubernetes.io/name: side, app.kubernetes.io/instance: itdeploy-test}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: side}}\n  template:\n    metadata: {labels: {app: side}}\n    spec: {containers: [{name: side, image: side}]}\n',
    )
    await app.repo.commit('a side Deployment')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const status = await app.json(['status', 'test'])
    expect(status.doc.result.services.map((x: {service: string}) => x.service)).to.deep.equal(['web', 'worker'])
    for (const args of [
      ['scale', 'side', '2', '-e', 'test'],
      ['logs', 'side', '-e', 'test'],
    ]) {
      const r = await app.json(args)
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).to.equal(2)
      expect(r.doc.error.message).to.match(/^unknown service "side"/)
    }
    expect((await app.get(['deployment', 'side'])).spec.replicas).to.equal(1)
  })

  it("a template's Deployment under a rendered HPA keeps its live count; one scaled by hand goes back to its template's, said", async () => {
    const side = (name: string) =>
      `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ${name}}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: ${name}}}\n  template:\n    metadata: {labels: {app: ${name}}}\n    spec: {containers: [{name: ${name}, image: ${name}}]}\n`
    app.repo.write('deploy/api.yaml', side('api'))
    app.repo.write('deploy/admin.yaml', side('admin'))
    app.repo.write(
      'deploy/hpa.yaml',
      'apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: api}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}\n  minReplicas: 1\n  maxReplicas: 5\n  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]\n',
    )
    await app.repo.commit('template Deployments')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    for (let round = 1; round <= 2; round++) {
      // The HPA's count (here set by hand for it) and a hand `kubectl scale` of the other.
      await kubectl(['scale', 'deployment/api', '--replicas=4'], {namespace: ns.name})
      await kubectl(['scale', 'deployment/admin', '--replicas=3'], {namespace: ns.name})
      app.repo.write('README.md', `round ${round}`)
      await app.repo.commit(`round ${round}`)
      const r = await app.cli([...DEPLOY, 'test'])
      expect(r.exitCode, r.stderr).to.equal(0)
      expect(r.stderr).to.contain('Keeping the live replica counts: api 4 (deploy/api.yaml says 2)')
      expect(r.stderr).to.contain("Changing the running replica counts: admin 3 → 2 (deploy/admin.yaml's replicas)")
      expect([(await app.get(['deployment', 'api'])).spec.replicas, (await app.get(['deployment', 'admin'])).spec.replicas]).to.deep.equal([4, 2])
    }
  })

  it('taking over objects a hand `kubectl apply` made: diff and deploy say the keys the deploy removes; a Service whose old port stays merged is refused naming that cause', async () => {
    const settings = (data: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {${data}}\n`
    await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: settings('A: "1", OLD_FLAG: "yes"')})
    app.repo.write('deploy/settings.yaml', settings('A: "1"'))
    await app.repo.commit('settings')
    const diff = await app.cli(['diff', 'test'])
    expect(diff.stderr).to.contain('a deploy removes fields a hand `kubectl apply` set that the release does not set: ConfigMap/settings data.OLD_FLAG')
    const r = await app.cli([...DEPLOY, 'test'])
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.stderr).to.contain('this deploy removes fields a hand `kubectl apply` set that the release does not set: ConfigMap/settings data.OLD_FLAG')
    expect((await app.get(['configmap', 'settings'])).data).to.deep.equal({A: '1'})
    // Taken over now: nothing more to say.
    expect((await app.cli(['diff', 'test'])).stderr).to.not.contain('kubectl apply` set')
    // A Service made by hand on port 80 (no name), which the release puts on another port: both ports are merged, and the
    // API server asks for names. Nothing in skycap.yaml fixes that: the hint says why, and to delete it.
    await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: 'apiVersion: v1\nkind: Service\nmetadata: {name: side}\nspec:\n  selector: {app: side}\n  ports: [{port: 80, targetPort: 8080}]\n'})
    app.repo.write('deploy/side.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: side}\nspec:\n  selector: {app: side}\n  ports: [{port: 8080}]\n')
    await app.repo.commit('side')
    const refused = await app.cli([...DEPLOY, 'test'])
    expect(refused.exitCode, refused.stderr).to.equal(2)
    expect(refused.stderr).to.contain('Service/side was not deployed by skycap: what a hand `kubectl apply` set stays merged into it until the first deploy owns it')
    expect((await app.get(['service', 'side'])).spec.ports.map((p: {port: number}) => p.port)).to.deep.equal([80])
  })

  it("a user's kubectl preferences (~/.kube/kuberc: get prints JSON, delete asks first) leave skycap's calls alone: it prunes, and rolls back", async () => {
    const home = mkdtempSync(join(tmpdir(), 'skycap-kuberc-'))
    try {
      mkdirSync(join(home, '.kube'))
      // The alpha format, which kubectl 1.33 reads with KUBECTL_KUBERC=true and 1.34 and later (the test cluster's 1.37)
      // read by default; both were seen to apply it to the call by hand below.
      writeFileSync(
        join(home, '.kube', 'kuberc'),
        'apiVersion: kubectl.config.k8s.io/v1alpha1\nkind: Preference\noverrides:\n- command: get\n  flags:\n  - name: output\n    default: json\n- command: delete\n  flags:\n  - name: interactive\n    default: "true"\n',
      )
      const env = {HOME: home, KUBECTL_KUBERC: 'true'}
      // The preferences do apply to kubectl run by hand.
      const byHand = await execa('kubectl', ['get', 'namespace', ns.name], {env, reject: false})
      expect(byHand.stdout).to.match(/^\{/)
      expect((await app.cli([...DEPLOY, 'test'], {env})).exitCode).to.equal(0)
      await app.change((t) => t.replace(/\n {2}worker:\n(?: {4}.*\n)+/, '\n'), 'no worker')
      const pruned = await app.json([...DEPLOY, 'test'], {env})
      expect(pruned.exitCode, pruned.stderr).to.equal(0)
      expect(pruned.doc.result.pruned).to.include('Deployment/worker')
      expect((await kubectl(['get', 'deployment', 'worker', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
      const back = await app.json(['rollback', 'test', '--skip-image-check'], {env})
      expect(back.exitCode, back.stderr).to.equal(0)
      expect(back.doc.result.rolledBackTo).to.equal(1)
      expect((await app.get(['deployment', 'worker'])).metadata.name).to.equal('worker')
    } finally {
      rmSync(home, {recursive: true, force: true})
    }
  })

  it('diff: exit 1 with changes before a deploy, 0 after it, 1 again after a change', async () => {
    const before = await app.cli(['diff', 'test'])
    expect(before.exitCode).to.equal(1)
    expect(before.stdout).to.contain('--- Deployment/web (not in the cluster yet)')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const same = await app.cli(['diff', 'test'])
    expect(same.exitCode, same.stdout + same.stderr).to.equal(0)
    expect(same.stdout).to.equal('No changes')
    await app.change((t) => t.replace('replicas: 1', 'replicas: 2'), 'two workers')
    const changed = await app.json(['diff', 'test'])
    expect(changed.exitCode).to.equal(1)
    // A new commit is a new image tag for every service; only worker's replicas changed besides.
    expect(changed.doc.result.changed).to.deep.equal(['Deployment/web', 'Deployment/worker'])
    expect(changed.doc.result.diff).to.match(/-\s+replicas: 1\n\+\s+replicas: 2/)
  })

  it('diff of a changed config file shows the changes of its files against the ConfigMap it replaces, a long line around its change (it showed the new ConfigMap whole and the old as pruned)', async () => {
    const long = (mark: string) => `{"rules":[${Array.from({length: 400}, (_, i) => `{"id":${i === 200 ? mark : i}}`).join(',')}]}`
    app.repo.write('config/web/rules.json', long('200'))
    await app.repo.commit('rules')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const live = (await kubectl(['get', 'configmaps', '-o', 'name'], {namespace: ns.name})).stdout.match(/web-config-[0-9a-f]{10}/)?.[0]
    app.repo.write('config/web/app.properties', 'greeting=hello\nfarewell=bye\n')
    app.repo.write('config/web/rules.json', long('20000'))
    app.repo.write('config/web/extra.txt', 'new file\n')
    await app.repo.commit('config changed')
    const r = await app.cli(['diff', 'test'])
    expect(r.exitCode, r.stderr).to.equal(1)
    const next = r.stdout.match(/\+\+\+ ConfigMap\/(web-config-[0-9a-f]{10}) /)?.[1]
    expect(next, r.stdout).to.be.a('string').and.not.equal(live)
    const section = r.stdout.slice(r.stdout.indexOf(`--- ConfigMap/${live} (live)`))
    // The long line is shown around its change: from 80 characters before the first that differs.
    const [before, after] = [long('200'), long('20000')]
    let from = 0
    while (before[from] === after[from]) from++
    from -= 80
    const cut = (line: string) => `…${line.slice(from, from + 240)}… (a line of ${line.length} characters, cut from character ${from + 1})`
    expect(section.split('\n').slice(0, 12).join('\n'), r.stdout).to.equal(
      [
        `--- ConfigMap/${live} (live)`,
        `+++ ConfigMap/${next} (after deploy: replaces ConfigMap/${live}; its files' changes)`,
        '@@ -1,1 +1,2 @@ app.properties',
        ' greeting=hello',
        '+farewell=bye',
        '@@ -0,0 +1,1 @@ extra.txt (new file)',
        '+new file',
        '@@ -1,1 +1,1 @@ rules.json',
        `-${cut(before)}`,
        `+${cut(after)}`,
        `- ConfigMap/${live} (pruned: replaced by ConfigMap/${next})`,
      ].join('\n'),
    )
    expect(r.stdout).to.not.contain(`--- ConfigMap/${next} (not in the cluster yet)`)
    const json = await app.json(['diff', 'test'])
    expect(json.doc.result.changed).to.include.members([`ConfigMap/${next}`, `ConfigMap/${live}`])
    expect(json.doc.result.pruned).to.deep.equal([`ConfigMap/${live}`])
  })

  it('a protected environment without a terminal and without --yes is refused with exit 2', async () => {
    const r = await app.cli([...DEPLOY, 'guarded'])
    expect(r.exitCode).to.equal(2)
    expect(r.stderr).to.contain('guarded is protected and there is no terminal to confirm on; nothing was changed')
    // On a terminal (a real pseudo-terminal), --json asks no questions either, and says that (it said "no terminal").
    const pty =
      'import os, pty, sys\npid, fd = pty.fork()\nif pid == 0:\n    os.execvp(sys.argv[1], sys.argv[1:])\nout = b""\nwhile True:\n    try:\n        data = os.read(fd, 4096)\n    except OSError:\n        break\n    if not data:\n        break\n    out += data\n_, status = os.waitpid(pid, 0)\nsys.stdout.write(out.decode(errors="replace"))\nsys.exit(os.waitstatus_to_exitcode(status))\n'
    const onTerminal = await execa('python3', ['-c', pty, 'node', cliPath, ...DEPLOY, 'guarded', '--json'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', SKYCAP_ENV: ''}})
    expect(onTerminal.exitCode, onTerminal.stdout).to.equal(2)
    // The terminal shows stdout and stderr as one stream: the JSON document is in it.
    expect(onTerminal.stdout).to.contain('"message": "guarded is protected, and with --json skycap asks no questions; nothing was changed"')
    expect(onTerminal.stdout).to.contain('"hint": "Add --yes to deploy guarded with --json."')
    expect(onTerminal.stdout).to.not.contain('no terminal')
    // The same with stderr to a log (`2>deploy.log`, as json.md suggests): it said there was no terminal.
    const logged = await execa('python3', ['-c', pty, 'sh', '-c', `exec node ${cliPath} ${DEPLOY.join(' ')} guarded --json 2>/dev/null`], {
      cwd: app.repo.dir,
      reject: false,
      env: {NO_COLOR: '1', SKYCAP_ENV: ''},
    })
    expect(logged.exitCode, logged.stdout).to.equal(2)
    expect(logged.stdout).to.contain('"message": "guarded is protected, and with --json skycap asks no questions; nothing was changed"')
    const yes = await app.cli([...DEPLOY, 'guarded', '--yes'])
    expect(yes.exitCode, yes.stderr).to.equal(0)
  })

  it('on a terminal, a protected deploy shows the target and the changes and asks; "no" changes nothing, "yes" deploys with live progress', async () => {
    // `script` gives the CLI a real pseudo-terminal (stdin and stderr are TTYs); we answer the prompt through it.
    const onTerminal = async (answer: string, command = `${DEPLOY.join(' ')} guarded`) => {
      const child = execa('script', ['-qec', `node ${cliPath} ${command}`, '/dev/null'], {cwd: app.repo.dir, reject: false, env: {CI: '', TERM: 'xterm', NO_COLOR: '1'}})
      let screen = ''
      child.stdout?.on('data', (d) => (screen += d))
      await waitFor('the prompt', () => screen.includes('Type "yes" to continue:'), {timeoutMs: 60_000})
      child.stdin?.write(`${answer}\n`)
      const r = await child
      return {exitCode: r.exitCode, screen}
    }
    const declined = await onTerminal('no')
    expect(declined.exitCode, declined.screen).to.equal(2)
    expect(declined.screen).to.match(/Deploy itdeploy [0-9a-f]{7} to PROTECTED guarded \(context \S+, namespace deploy-\S+\)\?/)
    expect(declined.screen).to.contain('Changes: ')
    expect(declined.screen).to.contain('deploy cancelled; nothing was changed')
    expect((await kubectl(['get', 'deployments,services,configmaps,leases', '-l', 'app.kubernetes.io/part-of=itdeploy', '-o', 'name'], {namespace: ns.name})).stdout.trim()).to.equal('')
    const confirmed = await onTerminal('yes')
    expect(confirmed.exitCode, confirmed.screen).to.equal(0)
    expect(confirmed.screen).to.contain('deployed itdeploy guarded@')
    expect(confirmed.screen).to.match(/Deployment\/web/)
    expect((await app.get(['deployment', 'web'])).status.readyReplicas).to.equal(2)
    // The rollback's question names the namespace too, as the deploy's does (it named the context alone).
    const rollback = await onTerminal('no', 'rollback guarded --to 1')
    expect(rollback.exitCode, rollback.screen).to.equal(2)
    expect(rollback.screen).to.match(/Roll back PROTECTED guarded \(context \S+, namespace deploy-\S+\) to release 1 /)
  })

  it('--reset-replicas undoes a skycap scale at the next deploy', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    expect((await app.cli(['scale', 'web', '3', '-e', 'test'])).exitCode).to.equal(0)
    const r = await app.cli([...DEPLOY, 'test', '--reset-replicas'])
    expect(r.exitCode, r.stderr).to.equal(0)
    const web = await app.get(['deployment', 'web'])
    expect(web.spec.replicas).to.equal(2)
  })

  it('a crash-looping StatefulSet from deploy/ fails fast, by its pods, not at the timeout', async () => {
    app.repo.write(
      'deploy/db.yaml',
      [
        'apiVersion: apps/v1',
        'kind: StatefulSet',
        'metadata: {name: db}',
        'spec:',
        '  serviceName: db',
        '  replicas: 1',
        '  selector: {matchLabels: {app: db}}',
        '  template:',
        '    metadata: {labels: {app: db, sim.kwok.test/behavior: crashloop}}',
        '    spec: {containers: [{name: db, image: example.invalid/db:1}]}',
      ].join('\n'),
    )
    await app.repo.commit('db')
    const started = Date.now()
    const r = await app.json([...DEPLOY, 'test', '--timeout', '3m', '--no-rollback'])
    expect(r.exitCode, r.stderr).to.equal(1)
    expect(Date.now() - started, 'failed fast, long before --timeout').to.be.below(90_000)
    const failure = r.doc.error.details.report.failures.find((f: any) => f.ref === 'StatefulSet/db')
    expect(failure?.message, JSON.stringify(r.doc.error)).to.match(/container db of pod db-0 is in CrashLoopBackOff/)
    // status has rows for services only: the hint names the kubectl that shows the StatefulSet.
    expect(r.doc.error.hint).to.match(new RegExp(`\\(services only: \`kubectl get statefulset/db -n ${ns.name} --context \\S+\` shows StatefulSet/db\\)\\.$`))
  })

  it('a Ctrl-C while a first deploy takes its lock leaves no namespace and no held lock behind (the Lease kubectl made as it died stayed held); three moments', async () => {
    const fresh = `${ns.name}-int`
    try {
      await app.change((t) => t.replace(`namespace: ${ns.name}\n`, `namespace: ${fresh}\n`), 'new namespace')
      for (const delayMs of [0, 30, 80]) {
        const child = execa('node', [cliPath, ...DEPLOY, 'test', '--verbose'], {cwd: app.repo.dir, reject: false, detached: true, env: {NO_COLOR: '1'}})
        let err = ''
        child.stderr?.on('data', (d) => (err += d))
        // The Lease's create, in the namespace (the namespace's own create, annotated, is not), right after the server's dry run.
        await waitFor('the lock to be taken', () => /\$ \S*kubectl .*--namespace \S+ .*create -f -\n/.test(err), {timeoutMs: 60_000, intervalMs: 5}).catch(async (error: Error) => {
          child.kill()
          throw new Error(`${error.message}; the deploy wrote:\n${err}`)
        })
        await new Promise((resolve) => setTimeout(resolve, delayMs))
        process.kill(-(child.pid as number), 'SIGINT')
        const r = await child
        expect(r.exitCode, `${delayMs} ms: ${err}`).to.equal(130)
        expect(err, `${delayMs} ms: ${err}`).to.match(/Error: interrupted (while taking the lock of test; nothing was changed|before deploying test; nothing was changed and the lock was released)\n/)
        expect(err).to.contain(`Deleting namespace ${fresh} again: nothing was deployed`)
        expect((await kubectl(['get', 'namespace', fresh, '--ignore-not-found', '-o', 'name'])).stdout.trim(), `${delayMs} ms`).to.equal('')
      }
      // Nothing held: the next deploy goes through at once.
      const next = await app.cli([...DEPLOY, 'test'])
      expect(next.exitCode, next.stderr).to.equal(0)
    } finally {
      await kubectl(['delete', 'namespace', fresh, '--ignore-not-found', '--wait=false'])
    }
  })

  it('a first deploy into a new namespace that the server rejects leaves no namespace behind (exit 2)', async () => {
    const fresh = `${ns.name}-new`
    try {
      await app.change((t) => t.replace(`namespace: ${ns.name}\n`, `namespace: ${fresh}\n`), 'new namespace')
      app.repo.write('deploy/bad.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports: [{port: 99999}]\n')
      await app.repo.commit('bad')
      const r = await app.cli([...DEPLOY, 'test'])
      expect(r.exitCode, r.stderr).to.equal(2)
      expect(r.stderr).to.match(/Invalid value: 99999|must be between 1 and 65535/)
      // Gone, not terminating, once the refused deploy ends: a deploy run again at once was refused by the namespace
      // being deleted ("unable to create new content").
      expect((await kubectl(['get', 'namespace', fresh, '--ignore-not-found', '-o', 'name'])).stdout.trim()).to.equal('')
      // --dry-run into a namespace that does not exist creates nothing at all.
      app.repo.write('deploy/bad.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n')
      await app.repo.commit('fine')
      const dry = await app.json([...DEPLOY, 'test', '--dry-run'])
      expect(dry.exitCode, dry.stderr).to.equal(0)
      expect(dry.doc.result).to.include({result: 'planned', release: null})
      expect((await kubectl(['get', 'namespace', fresh, '--ignore-not-found', '-o', 'name'])).stdout.trim()).to.equal('')
      const fixed = await app.cli([...DEPLOY, 'test'])
      expect(fixed.exitCode, fixed.stderr).to.equal(0)
    } finally {
      await kubectl(['delete', 'namespace', fresh, '--ignore-not-found', '--wait=false'])
    }
  })

  it("a first deploy rejected while another began to use the namespace it created keeps that namespace (it deleted it, with that deploy's release)", async () => {
    const fresh = `${ns.name}-race`
    try {
      await app.change((t) => t.replace(`namespace: ${ns.name}\n`, `namespace: ${fresh}\n`), 'race namespace')
      // Many objects make the server dry run take seconds; the Service's port makes it fail at its end.
      const many = Array.from({length: 1000}, (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: many-${i}}\ndata: {i: "${i}"}\n`).join('---\n')
      app.repo.write('deploy/many.yaml', many)
      app.repo.write('deploy/bad.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports: [{port: 99999}]\n')
      await app.repo.commit('slow and bad')
      const rejected = app.cli([...DEPLOY, 'test'])
      await waitFor('the deploy to create its namespace', async () => (await kubectl(['get', 'namespace', fresh, '--ignore-not-found', '-o', 'name'])).stdout.trim() !== '', {timeoutMs: 60_000})
      // Someone else starts to use it meanwhile: here the lock another deploy takes first.
      const lock = await app.cli(['lock', 'acquire', 'test', '--reason', 'another deploy'])
      expect(lock.exitCode, lock.stderr).to.equal(0)
      const r = await rejected
      expect(r.exitCode, r.stderr).to.equal(2)
      expect(r.stderr).to.match(new RegExp(`Keeping namespace ${fresh}, made by this deploy: another deploy is using it now \\(lease\\.coordination\\.k8s\\.io/`))
      expect(r.stderr).to.not.include('Deleting namespace')
      expect((await kubectl(['get', 'namespace', fresh, '-o', 'jsonpath={.status.phase}'])).stdout).to.equal('Active')
      expect(JSON.parse((await app.cli(['lock', 'status', 'test', '--json'])).stdout).result.lock).to.include({reason: 'another deploy'})
    } finally {
      await kubectl(['delete', 'namespace', fresh, '--ignore-not-found', '--wait=false'])
    }
  })

  it("a predeploy hook whose pod is never scheduled, past the deploy's --timeout: says why the command never started and to delete the job (it said only 'give the deploy more time')", async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change(
      (t) =>
        t
          .replace('\nenvironments:', '\nhooks:\n  predeploy:\n    - {name: migrate, service: worker, command: [migrate]}\nenvironments:')
          .replace('    healthcheck: {command: [/bin/true]}\n', '    healthcheck: {command: [/bin/true]}\n    podTemplate: {spec: {nodeSelector: {skycap.test/no-such-node: "true"}}}\n'),
      'a migration whose pod no node takes',
    )
    try {
      const r = await app.json([...DEPLOY, 'test', '--timeout', '15s'])
      expect(r.exitCode, r.stderr).to.equal(70)
      expect(r.doc.error.message).to.match(
        /^predeploy hook migrate failed \(did not finish within the deploy's --timeout 15s \(the command never started: pod \S+ is not scheduled: .*\); its job (\S+) goes on waiting up to the hook's own timeout of 10m\); release 2 was not rolled out/,
      )
      const job = r.doc.error.details.report.hooks[0].job
      expect(r.doc.error.hint).to.contain(`describe pods -l job-name=${job}`).and.contain(`delete job ${job}`).and.not.contain('more time')
      // The running release is untouched.
      expect((await app.get(['deployment', 'worker'])).spec.template.spec.nodeSelector).to.equal(undefined)
    } finally {
      await kubectl(['delete', 'jobs', '-l', 'skycap.dev/job-kind=hook', '--wait=false'], {namespace: ns.name})
    }
  })

  it('deploy --dry-run validates with the server and changes nothing', async () => {
    const r = await app.json([...DEPLOY, 'test', '--dry-run'])
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.doc.result.applied).to.include.members(['Deployment/web', 'Service/web'])
    expect((await kubectl(['get', 'deployments,services,configmaps,secrets,leases', '-l', 'app.kubernetes.io/part-of=itdeploy', '-o', 'name'], {namespace: ns.name})).stdout.trim()).to.equal('')
  })

  it('scale is refused while an HPA manages the service, --force overrides (warned, and said in history); to 0 and back from 0 need no --force (the HPA is disabled at 0), twice', async () => {
    app.repo.write(
      'deploy/hpa.yaml',
      [
        'apiVersion: autoscaling/v2',
        'kind: HorizontalPodAutoscaler',
        'metadata: {name: web}',
        'spec:',
        '  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}',
        '  minReplicas: 1',
        '  maxReplicas: 5',
        '  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]',
      ].join('\n'),
    )
    await app.repo.commit('hpa')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const refused = await app.cli(['scale', 'web', '3', '-e', 'test'])
    expect(refused.exitCode).to.equal(2)
    expect(refused.stderr).to.contain('web is managed by the HorizontalPodAutoscaler web')
    expect((await app.get(['deployment', 'web'])).spec.replicas).to.equal(2)
    const forced = await app.json(['scale', 'web', '3', '-e', 'test', '--force'])
    expect(forced.exitCode, forced.stderr).to.equal(0)
    expect(forced.doc.result).to.include({from: 2, to: 3, force: true})
    expect(forced.stderr).to.contain('warning: web is managed by the HorizontalPodAutoscaler web: it sets its own count again (between its minReplicas 1 and maxReplicas 5) within seconds')
    expect((await app.cli(['history', 'test'])).stdout).to.contain('web 2 -> 3 (--force; the HPA web sets its own count)')

    // A nightly scale to zero and back, twice, without --force: Kubernetes disables the HPA at 0 replicas (it said "it
    // would undo the change", which it does not).
    const hpaCondition = async () =>
      (await app.get<{status?: {conditions?: Array<{type: string; status: string; reason: string}>}}>(['hpa', 'web'])).status?.conditions?.find((c) => c.type === 'ScalingActive')
    for (let round = 0; round < 2; round++) {
      const down = await app.cli(['scale', 'web', '0', '-e', 'test'])
      expect(down.exitCode, down.stderr).to.equal(0)
      expect(down.stdout).to.match(/^scaled web in test from \d+ to 0; the HorizontalPodAutoscaler web leaves web at 0 \(Kubernetes disables autoscaling at 0 replicas\) until it is scaled up again$/)
      await waitFor('the HPA to disable itself at 0', async () => (await hpaCondition())?.reason === 'ScalingDisabled')
      expect((await app.get(['deployment', 'web'])).spec.replicas).to.equal(0)
      const up = await app.cli(['scale', 'web', '2', '-e', 'test'])
      expect(up.exitCode, up.stderr).to.equal(0)
      expect(up.stdout).to.equal('scaled web in test from 0 to 2; the HorizontalPodAutoscaler web takes web over again from 2, keeping it between its minReplicas 1 and maxReplicas 5')
      await waitFor('the HPA to act again', async () => (await hpaCondition())?.reason !== 'ScalingDisabled')
    }
    // Other counts are still refused.
    const again = await app.cli(['scale', 'web', '4', '-e', 'test'])
    expect(again.exitCode).to.equal(2)
    expect(again.stderr).to.contain('web is managed by the HorizontalPodAutoscaler web; it would undo the change')
  })

  it('a lock is renewed only by its holder (the JSON patch test is atomic on the server)', async () => {
    const c = testCluster()
    const k = new Kubectl({binary: c.kubectlPath, context: c.context, namespace: ns.name})
    const lock = await acquireLock(k, {app: 'itdeploy', environment: 'test', reason: 'renew test', durationSeconds: 30, clock: () => Date.now() - 20_000})
    const later = Date.now()
    expect(await renewLock(k, 'itdeploy', lock.id, () => later)).to.equal(true)
    const renewed = await lockStatus(k, 'itdeploy')
    expect(Date.parse(renewed?.expiresAt ?? '')).to.be.closeTo(later + 30_000, 1000)
    expect(await renewLock(k, 'itdeploy', 'someone-else')).to.equal(false)
    expect(await releaseLock(k, 'itdeploy', {id: lock.id})).to.equal(true)
    expect(await renewLock(k, 'itdeploy', lock.id)).to.equal(false)
  })
})
