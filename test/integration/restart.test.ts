import {expect} from 'chai'
import {execa} from 'execa'

import {cliPath} from '../helpers/repo.js'
import {TestApp} from './app.js'
import {kubectl, useNamespace, waitFor} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']
/** web blue-green (the slot its Service selects is restarted), worker rolling. */
const BLUE_GREEN_WEB = (text: string) => text.replace('  web:\n    image: web\n', '  web:\n    image: web\n    strategy: {type: blueGreen, scaleDownDelay: 1s}\n')

describe('skycap restart (cluster)', function () {
  this.timeout(600_000)
  const ns = useNamespace('restart')
  let app: TestApp
  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'itrestart')
  })
  afterEach(() => app.remove())

  /** A Deployment once its controller has observed its newest generation: its revision and pod template hash. */
  async function rolled(name: string): Promise<{revision: string; pods: string[]}> {
    const d = await waitFor(`Deployment ${name} observed`, async () => {
      const live = await app.get(['deployment', name])
      return live.status?.observedGeneration >= live.metadata.generation && live.status?.updatedReplicas === live.spec.replicas && live.status?.replicas === live.spec.replicas && live
    })
    const pods = await app.get([
      'pods',
      '-l',
      Object.entries(d.spec.selector.matchLabels as Record<string, string>)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    ])
    return {
      revision: d.metadata.annotations['deployment.kubernetes.io/revision'],
      pods: pods.items
        .filter((p: any) => !p.metadata.deletionTimestamp)
        .map((p: any) => p.metadata.name)
        .sort(),
    }
  }

  it('restarts a rolling and a blue-green service at once, twice: new pods for both, recorded, and rollback still returns to the release before the last deploy', async () => {
    await app.change(BLUE_GREEN_WEB, 'web blue-green')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    app.repo.write('config/web/app.properties', 'greeting=second\n')
    await app.repo.commit('second release')
    const second = await app.json([...DEPLOY, 'test'])
    expect(second.exitCode, second.stderr).to.equal(0)
    const slot = (await app.get(['service', 'web'])).spec.selector['skycap.dev/slot']
    expect(slot).to.be.oneOf(['blue', 'green'])
    for (const round of [1, 2]) {
      const before = {web: await rolled(`web-${slot}`), worker: await rolled('worker')}
      const r = await app.json(['restart', 'web', 'worker', '-e', 'test'])
      expect(r.exitCode, r.stderr).to.equal(0)
      expect(r.doc.result).to.deep.include({
        environment: 'test',
        result: 'succeeded',
        release: 2 + round,
        skipped: [],
        services: [
          {service: 'web', deployment: `web-${slot}`, replicas: 2},
          {service: 'worker', deployment: 'worker', replicas: 1},
        ],
      })
      const text = await app.cli(['history', 'test'])
      expect(text.stdout.split('\n')[1], `round ${round}`).to.match(new RegExp(`^${2 + round} +restart +succeeded .* web, worker$`))
      const after = {web: await rolled(`web-${slot}`), worker: await rolled('worker')}
      for (const service of ['web', 'worker'] as const) {
        expect(after[service].revision, `${service}, round ${round}: a new ReplicaSet`).to.not.equal(before[service].revision)
        expect(
          after[service].pods.filter((p) => before[service].pods.includes(p)),
          `${service}, round ${round}: no old pod left`,
        ).to.deep.equal([])
      }
      expect((await app.get(['service', 'web'])).spec.selector['skycap.dev/slot'], 'the Service still selects the slot restarted').to.equal(slot)
    }
    const history = await app.json(['history', 'test'])
    expect(history.doc.result.releases.map((x: any) => [x.number, x.action, x.result, x.restart?.services ?? null])).to.deep.equal([
      [4, 'restart', 'succeeded', ['web', 'worker']],
      [3, 'restart', 'succeeded', ['web', 'worker']],
      [2, 'deploy', 'succeeded', null],
      [1, 'deploy', 'succeeded', null],
    ])
    // The restart annotation is no change of the release: diff finds nothing, and a deploy of the same commit neither
    // names it as set by hand nor rolls the pods again.
    const diff = await app.cli(['diff', 'test'])
    expect(diff.exitCode, diff.stdout + diff.stderr).to.equal(0)
    const again = await app.cli([...DEPLOY, 'test'])
    expect(again.exitCode, again.stderr).to.equal(0)
    expect(again.stderr).to.not.contain('restartedAt').and.not.contain('set by hand')
    const rollback = await app.json(['rollback', 'test', '--yes'])
    expect(rollback.exitCode, rollback.stderr).to.equal(0)
    expect(rollback.doc.result).to.deep.include({rolledBackTo: 1})
  })

  it('waits for a lock another holds with --wait-for-lock, is refused without (exit 3); an unknown service is exit 2 and patches nothing', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const held = await app.json(['lock', 'acquire', 'test', '--reason', 'maintenance'])
    expect(held.exitCode, held.stderr).to.equal(0)
    const refused = await app.cli(['restart', 'worker', '-e', 'test'])
    expect(refused.exitCode, refused.stderr).to.equal(3)
    const child = execa('node', [cliPath, 'restart', 'worker', '-e', 'test', '--wait-for-lock', '2m', '--json'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1'}})
    let err = ''
    child.stderr?.on('data', (d) => (err += d))
    await waitFor('the restart to say it waits', () => /test is locked by .*\(maintenance\); waiting for it/.test(err), {timeoutMs: 60_000})
    expect((await app.cli(['lock', 'release', 'test'])).exitCode).to.equal(0)
    const waited = await child
    expect(waited.exitCode, waited.stderr).to.equal(0)
    expect(JSON.parse(waited.stdout).result).to.deep.include({result: 'succeeded', release: 2})

    const web = await app.get(['deployment', 'web'])
    const unknown = await app.cli(['restart', 'web', 'wrker', '-e', 'test'])
    expect(unknown.exitCode).to.equal(2)
    expect(unknown.stderr).to.contain('unknown service "wrker"; did you mean "worker"?')
    const still = await app.get(['deployment', 'web'])
    expect(still.metadata.generation, 'web not patched').to.equal(web.metadata.generation)
    expect(still.spec.template.metadata.annotations?.['kubectl.kubernetes.io/restartedAt']).to.equal(undefined)
    expect((await app.json(['history', 'test'])).doc.result.releases.map((x: any) => x.action)).to.deep.equal(['restart', 'deploy'])
    expect((await kubectl(['get', 'lease', 'skycap-lock-itrestart', '--ignore-not-found', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
  })
})
