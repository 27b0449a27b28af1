import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {fixturesDir} from '../helpers/repo.js'

import {TestApp} from './app.js'
import {useNamespace} from './harness.js'

describe('deploy ENV@REV of an older revision (real cluster)', function () {
  const ns = useNamespace('rev')
  let app: TestApp
  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'itrev')
  })
  afterEach(() => app.remove())

  it('applies the revision’s skycap.yaml and config files, not the work tree’s, even to a protected environment', async () => {
    const old = await app.repo.git('rev-parse', 'HEAD')
    const newer = await app.change((text) => text.replace('    replicas: 2\n', '    replicas: 3\n    env: {GREETING: new}\n'), 'three replicas, an env value')
    app.repo.write('config/web/app.properties', 'greeting=new\n')
    const latest = await app.repo.commit('new config file')
    expect(newer).to.not.equal(latest)

    const first = await app.json(['deploy', 'guarded', '--yes', '--skip-image-check'])
    expect(first.exitCode, first.stderr).to.equal(0)
    const live = await app.get(['deployment', 'web'])
    expect(live.spec.replicas).to.equal(3)
    expect(live.spec.template.spec.containers[0].env).to.deep.equal([{name: 'GREETING', value: 'new'}])

    const r = await app.json(['deploy', 'guarded@HEAD~2', '--yes', '--skip-image-check'])
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.stderr).to.not.contain('changed since')
    expect(r.doc.result.revision.sha).to.equal(old)
    const web = await app.get(['deployment', 'web'])
    expect(web.spec.replicas).to.equal(2)
    expect(web.spec.template.spec.containers[0].env).to.equal(undefined)
    expect(web.spec.template.spec.containers[0].image).to.equal(`example.invalid/itrev/web:${old}`)
    const configMap = await app.get(['configmap', web.spec.template.spec.volumes[0].configMap.name])
    expect(configMap.data['app.properties']).to.equal(readFileSync(join(fixturesDir, 'cluster-app/config/web/app.properties'), 'utf8'))
    expect(await app.repo.git('status', '--porcelain')).to.equal('')
  })
})
