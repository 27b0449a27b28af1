// Rollouts of blue-green services when things go wrong (signals at the switch, slots changed by hand, scales during
// scaleDownDelay, minReadySeconds), on the real control plane with several services moving at once and every scenario
// repeated in one test (rollouts.test.ts says why the rollout tests are three files).
import {expect} from 'chai'
import {execa} from 'execa'

import {cliPath} from '../helpers/repo.js'
import {TestApp} from './app.js'
import {kubectl, useNamespace, waitFor} from './harness.js'
import {DEPLOY, quadKit, replicaNotes} from './rollouts-kit.js'

const APP = 'quadb'

describe('rollouts you can trust: blue-green (real cluster, four services)', function () {
  this.timeout(900_000)
  const {quad, blueGreenQuad, quadApp} = quadKit(APP)
  const ns = useNamespace('rollouts-bluegreen')
  let app: TestApp
  beforeEach(async () => {
    app = await quadApp(ns.name)
  })
  afterEach(() => app.remove())

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
