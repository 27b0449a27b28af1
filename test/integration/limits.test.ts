import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {symlinkSync} from 'node:fs'
import {join} from 'node:path'

import {TestApp} from './app.js'
import {kubectl, useNamespace} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']

describe('input limits (real cluster)', function () {
  const ns = useNamespace('limits')
  let app: TestApp
  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'itlimits')
  })
  afterEach(() => app.remove())

  /** The app's objects in the namespace: none when a refused deploy changed nothing. */
  const objects = async () =>
    (await kubectl(['get', 'deployments,services,configmaps,leases', '-o', 'name'], {namespace: ns.name})).stdout
      .trim()
      .split('\n')
      .filter((n) => n && !n.endsWith('/kube-root-ca.crt'))

  it('limits: replicas 99999999999 exits 2 and creates nothing', async () => {
    await app.change((t) => t.replace('replicas: 2', 'replicas: 99999999999'), 'huge')
    const r = await app.cli([...DEPLOY, 'test'])
    expect(r.exitCode, r.stderr).to.equal(2)
    expect(r.stderr).to.match(/skycap\.yaml:11:15: services\.web\.replicas is 99999999999 but must be at most 2147483647/)
    expect(await objects()).to.deep.equal([])
  })

  it('limits: config ../.. and a link to a file outside the repository exit 2 and change nothing', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const before = await objects()
    await app.change((t) => t.replace('config: config/web', 'config: ../..'), 'config out')
    let r = await app.cli([...DEPLOY, 'test'])
    expect(r.exitCode, r.stderr).to.equal(2)
    expect(r.stderr).to.match(/skycap\.yaml:\d+:13: services\.web\.config: folder "\.\.\/\.\." is outside the repository/)
    await app.change((t) => t.replace('config: ../..', 'config: config/web'), 'config back')
    symlinkSync('/etc/hostname', join(app.repo.dir, 'config/web/hostname'))
    await app.repo.commit('link out')
    r = await app.cli([...DEPLOY, 'test'])
    expect(r.exitCode, r.stderr).to.equal(2)
    expect(r.stderr).to.contain('config/web/hostname: symbolic link to /etc/hostname, outside the repository')
    expect(await objects()).to.deep.equal(before)
    const history = await app.json(['history', 'test'])
    expect(history.doc.result.releases).to.have.length(1)
  })

  it('limits: scale web 5000 is refused without --force; with --force it scales above the ceiling', async () => {
    await app.change((t) => t.replace('  test:\n', '  test:\n    maxReplicas: 4\n'), 'ceiling 4')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const refused = await app.cli(['scale', 'web', '5000', '-e', 'test'])
    expect(refused.exitCode, refused.stderr).to.equal(2)
    expect(refused.stderr).to.contain('5000 replicas is above the ceiling of 4 per service in test; nothing was changed')
    expect((await app.get(['deployment', 'web'])).spec.replicas).to.equal(2)
    const forced = await app.cli(['scale', 'web', '5', '-e', 'test', '--force'])
    expect(forced.exitCode, forced.stderr).to.equal(0)
    expect(forced.stderr).to.contain('5 replicas is above the ceiling of 4 per service in test; scaling anyway (--force)')
    expect((await app.get(['deployment', 'web'])).spec.replicas).to.equal(5)
  })

  it('limits: a release too large to record (nine services with 900 KB config files): render and diff warn naming the largest objects, deploy exits 2 and creates nothing', async () => {
    const services = Array.from({length: 9}, (_, i) => `big${i + 1}`)
    for (const name of services) app.repo.write(`config/${name}/blob`, randomBytes(675_000).toString('base64'))
    const block = services.map((name) => `  ${name}:\n    image: web\n    replicas: 1\n    resources: {requests: {cpu: 10m, memory: 16Mi}}\n    config: config/${name}\n`).join('')
    await app.change((t) => t.replace('\nenvironments:', `\n${block}environments:`), 'nine big config folders')
    const warning =
      /warning: deploy would refuse this release: the release's manifests take \d+\.\d MB compressed, more than the 5\.6 MB skycap can record for rollback \(largest, uncompressed: ConfigMap\/big\d-config-[0-9a-f]+ \(0\.9 MB\), ConfigMap\/big\d-config-[0-9a-f]+ \(0\.9 MB\), ConfigMap\/big\d-config-[0-9a-f]+ \(0\.9 MB\)\)\. Move large files out of config folders/
    const render = await app.cli(['render', 'test'])
    expect(render.exitCode, render.stderr).to.equal(0)
    expect(render.stderr).to.match(warning)
    // A part of the release (-s) says nothing of what a deploy records.
    const part = await app.cli(['render', 'test', '-s', 'big1'])
    expect(part.stderr).to.not.contain('deploy would refuse')
    const diff = await app.cli(['diff', 'test'])
    expect(diff.stderr).to.match(warning)
    const r = await app.cli([...DEPLOY, 'test'])
    expect(r.exitCode, r.stderr).to.equal(2)
    expect(r.stderr).to.match(
      /Error: the release's manifests take \d+\.\d MB compressed, more than the 5\.6 MB skycap can record for rollback \(largest, uncompressed: ConfigMap\/big\d-config-[0-9a-f]+ \(0\.9 MB\), .*\); nothing was changed/,
    )
    expect(await objects()).to.deep.equal([])
  })
})
