import {expect} from 'chai'

import {TestApp} from './app.js'
import {useNamespace} from './harness.js'

/** `-e/--env` on the commands that reach the cluster (issue 17, part 5): the same results as the positional form. */
describe('-e/--env against a real cluster', function () {
  const ns = useNamespace('habits')
  let app: TestApp
  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'ithabits')
  })
  afterEach(() => app.remove())

  it('deploy -e, status/history --env and lock -e act on the environment the positional names', async () => {
    const deployed = await app.json(['deploy', '-e', 'test', '@HEAD', '--skip-image-check'])
    expect(deployed.exitCode, deployed.stderr).to.equal(0)
    expect(deployed.doc.result).to.include({result: 'succeeded', release: 1, environment: 'test', namespace: ns.name})

    const [byArgument, byFlag] = await Promise.all([app.json(['status', 'test']), app.json(['status', '--env', 'test'])])
    expect(byFlag.exitCode, byFlag.stderr).to.equal(0)
    const summary = (doc: {result?: {services: Array<{service: string; revision: string; ready: number}>}}) => doc.result?.services.map((s) => [s.service, s.revision, s.ready])
    expect(summary(byArgument.doc)).to.have.length(2)
    expect(summary(byFlag.doc)).to.deep.equal(summary(byArgument.doc))
    const history = await app.json(['history', '-e', 'test'])
    expect(history.doc.result.releases.map((r: {number: number; action: string}) => [r.number, r.action])).to.deep.equal([[1, 'deploy']])

    expect((await app.json(['lock', 'acquire', '-e', 'test', '--reason', 'maintenance', '--duration', '5m'])).exitCode).to.equal(0)
    const held = await app.json(['lock', 'status', '--env', 'test'])
    expect(held.doc.result.lock).to.include({reason: 'maintenance', expired: false})
    const refused = await app.cli(['lock', 'release', 'test', '-e', 'other'])
    expect(refused.exitCode).to.equal(2)
    expect((await app.json(['lock', 'status', 'test'])).doc.result.lock, 'a refused release leaves the lock').to.include({reason: 'maintenance'})
    expect((await app.json(['lock', 'release', '-e', 'test'])).exitCode).to.equal(0)
    expect((await app.json(['lock', 'status', 'test'])).doc.result.lock).to.equal(null)
  })
})
