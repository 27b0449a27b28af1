// Rollouts of canaries when things go wrong (Ctrl-C at a pause, promote and abort at once, failed promotions), on the
// real control plane with several services moving at once and every scenario repeated in one test (rollouts.test.ts
// says why the rollout tests are three files).
import {expect} from 'chai'
import {execa} from 'execa'

import {cliPath} from '../helpers/repo.js'
import {ApiServerProxy} from './apiserver-proxy.js'
import {TestApp} from './app.js'
import {kubectl, testCluster, uniqueName, useNamespace, waitFor} from './harness.js'
import {DEPLOY, expectRunning, quadHelpers, quadKit, SERVICES} from './rollouts-kit.js'

const APP = 'quadc'

describe('rollouts you can trust: canaries (real cluster, four services)', function () {
  this.timeout(900_000)
  const {quad, canaries, quadApp} = quadKit(APP)
  const ns = useNamespace('rollouts-canary')
  let app: TestApp
  beforeEach(async () => {
    app = await quadApp(ns.name)
  })
  afterEach(() => app.remove())
  const {roundOf, deployInterruptedWhen, bothPaused} = quadHelpers(() => app)

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
      const state = JSON.parse((await kubectl(['get', 'configmap', `skycap-rollout-${APP}`, '-o', 'json'], {namespace: ns.name})).stdout).data
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
      const data = JSON.parse((await kubectl(['get', 'configmap', `skycap-rollout-${APP}`, '-o', 'json'], {namespace: ns.name})).stdout).data
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
      const data = JSON.parse((await kubectl(['get', 'configmap', `skycap-rollout-${APP}`, '-o', 'json'], {namespace: ns.name})).stdout).data
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
        const data = JSON.parse((await kubectl(['get', 'configmap', `skycap-rollout-${APP}`, '-o', 'json'], {namespace: ns.name})).stdout).data
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
})
