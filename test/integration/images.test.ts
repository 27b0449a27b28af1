import {expect} from 'chai'

import {checkImages} from '../../src/registry/images.js'
import {TestApp} from './app.js'
import {kubectl, useNamespace} from './harness.js'
import {LocalRegistry} from './registry.js'

describe('image check against a real registry (docker-registry on 127.0.0.1)', function () {
  let registry: LocalRegistry
  before(async () => {
    registry = await LocalRegistry.start()
  })
  after(() => registry?.stop())

  it('tells present, missing and unreachable images apart', async () => {
    await registry.push('shop/web', 'abc')
    const results = await checkImages([`${registry.host}/shop/web:abc`, `${registry.host}/shop/web:nope`, `${registry.host}/shop/api:abc`, '127.0.0.1:1/x/y:z'])
    expect(results.map((r) => r.state)).to.deep.equal(['present', 'missing', 'missing', 'unknown'])
  })

  describe('deploy', () => {
    const ns = useNamespace('images')
    let app: TestApp
    beforeEach(async () => {
      app = await TestApp.create(ns.name)
      await app.change((t) => t.replace('registry: example.invalid/itapp', `registry: ${registry.host}/itapp`), 'local registry')
    })
    afterEach(() => app.remove())

    it('refuses a missing image before applying anything (exit 2), and deploys once CI pushed it', async () => {
      const sha = await app.repo.git('rev-parse', 'HEAD')
      await registry.push('itapp/web', sha)
      const r = await app.json(['deploy', 'test'])
      expect(r.exitCode).to.equal(2)
      expect(r.doc.error.message).to.equal(`1 image does not exist: ${registry.host}/itapp/worker:${sha}; nothing was changed`)
      expect((await kubectl(['get', 'deployments,configmaps,services', '-l', 'app.kubernetes.io/part-of=itapp', '-o', 'name'], {namespace: ns.name})).stdout.trim()).to.equal('')
      await registry.push('itapp/worker', sha)
      const ok = await app.cli(['deploy', 'test'])
      expect(ok.exitCode, ok.stderr).to.equal(0)
      expect(ok.stderr).to.contain('Checking 2 images in their registries')
    })
  })
})
