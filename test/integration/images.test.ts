import {expect} from 'chai'

import {chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

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
      app = await TestApp.create(ns.name, 'itimages')
      await app.change((t) => t.replace('registry: example.invalid/itimages', `registry: ${registry.host}/itimages`), 'local registry')
    })
    afterEach(() => app.remove())

    it('refuses a missing image before applying anything (exit 2), and deploys once CI pushed it', async () => {
      const sha = await app.repo.git('rev-parse', 'HEAD')
      await registry.push('itimages/web', sha)
      const r = await app.json(['deploy', 'test'])
      expect(r.exitCode).to.equal(2)
      expect(r.doc.error.message).to.equal(`1 image does not exist: ${registry.host}/itimages/worker:${sha}; nothing was changed`)
      expect((await kubectl(['get', 'deployments,configmaps,services', '-l', 'app.kubernetes.io/part-of=itimages', '-o', 'name'], {namespace: ns.name})).stdout.trim()).to.equal('')
      await registry.push('itimages/worker', sha)
      const ok = await app.cli(['deploy', 'test'])
      expect(ok.exitCode, ok.stderr).to.equal(0)
      expect(ok.stderr).to.contain('Checking 2 images in their registries')
    })
  })

  describe('rollback', () => {
    const ns = useNamespace('images-rollback')
    let app: TestApp
    beforeEach(async () => {
      app = await TestApp.create(ns.name, 'itimages')
    })
    afterEach(() => app.remove())

    it('refuses a release whose images were deleted from the registry before changing anything (exit 2), and rolls back with --skip-image-check', async () => {
      // Release 1 from repositories of their own (the test registry's images share one manifest, so a repository is
      // removed whole); release 2 from others.
      await app.change((t) => t.replace('registry: example.invalid/itimages', `registry: ${registry.host}/gone`), 'old registry')
      const old = await app.repo.git('rev-parse', 'HEAD')
      for (const s of ['web', 'worker']) await registry.push(`gone/${s}`, old)
      expect((await app.cli(['deploy', 'test'])).exitCode).to.equal(0)
      await app.change((t) => t.replace(`registry: ${registry.host}/gone`, `registry: ${registry.host}/itimages`), 'new registry')
      const sha = await app.repo.git('rev-parse', 'HEAD')
      for (const s of ['web', 'worker']) await registry.push(`itimages/${s}`, sha)
      expect((await app.cli(['deploy', 'test'])).exitCode).to.equal(0)
      rmSync(join((registry as any).dir, 'data/docker/registry/v2/repositories/gone'), {recursive: true, force: true})
      const images = async () => (await kubectl(['get', 'deployments', '-o', 'jsonpath={.items[*].spec.template.spec.containers[0].image}'], {namespace: ns.name})).stdout
      const before = await images()
      const r = await app.json(['rollback', 'test', '--yes'])
      expect(r.exitCode, r.stderr).to.equal(2)
      expect(r.doc.error.message).to.equal(
        `cannot roll test back to release 1: its images are not in the registry (deleted since, or never pushed: deployed with --skip-image-check): ${registry.host}/gone/web:${old}, ${registry.host}/gone/worker:${old}; nothing was changed`,
      )
      expect(r.doc.error.hint).to.contain('--skip-image-check')
      // Before, it was applied: the Deployments were left pointing at images no node could pull.
      expect(await images()).to.equal(before)
      const history = await app.json(['history', 'test'])
      expect(history.doc.result.releases.map((x: any) => x.number)).to.deep.equal([2, 1])
      const forced = await app.cli(['rollback', 'test', '--yes', '--skip-image-check'])
      expect(forced.exitCode, forced.stderr).to.equal(0)
      expect(await images()).to.contain(`${registry.host}/gone/web:${old}`)
    })
  })

  describe('a registry that asks for credentials (htpasswd)', () => {
    const user = {name: 'ci', password: 's3cret-pw'}
    let secured: LocalRegistry
    let dir: string
    let path: string | undefined
    before(async () => {
      secured = await LocalRegistry.start(user)
      await secured.push('shop/web', 'abc')
      dir = mkdtempSync(join(tmpdir(), 'skycap-docker-'))
      // A credential helper as docker-credential-helpers define it: the server URL on stdin, JSON on stdout.
      const helper = join(dir, 'docker-credential-skycaptest')
      writeFileSync(
        helper,
        `#!/bin/sh\nread url\nif [ "$url" = "${secured.host}" ]; then printf '{"ServerURL":"%s","Username":"${user.name}","Secret":"${user.password}"}' "$url"; else echo "credentials not found in native keychain"; exit 1; fi\n`,
      )
      chmodSync(helper, 0o755)
      path = process.env.PATH
      process.env.PATH = `${dir}:${path}`
    })
    after(() => {
      process.env.PATH = path
      secured?.stop()
      rmSync(dir, {recursive: true, force: true})
    })
    const dockerConfig = (content: unknown) => {
      const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`)
      writeFileSync(file, JSON.stringify(content))
      return file
    }
    const images = () => [`${secured.host}/shop/web:abc`, `${secured.host}/shop/web:nope`]

    it('without credentials: unknown, and the detail says to log in', async () => {
      const [r] = await checkImages(images(), {dockerConfig: join(dir, 'none.json')})
      expect(r).to.include({state: 'unknown'})
      expect(r?.detail).to.contain(`${secured.host} refused access (HTTP 401); log in with docker login ${secured.host}`)
    })

    it('with an auths entry: present and missing told apart; a wrong password is refused', async () => {
      const good = dockerConfig({auths: {[secured.host]: {auth: Buffer.from(`${user.name}:${user.password}`).toString('base64')}}})
      expect((await checkImages(images(), {dockerConfig: good})).map((r) => r.state)).to.deep.equal(['present', 'missing'])
      const bad = dockerConfig({auths: {[secured.host]: {auth: Buffer.from(`${user.name}:wrong`).toString('base64')}}})
      expect((await checkImages(images(), {dockerConfig: bad})).map((r) => r.state)).to.deep.equal(['unknown', 'unknown'])
    })

    it('through a credential helper, per host (credHelpers) or for all (credsStore)', async () => {
      for (const content of [{credHelpers: {[secured.host]: 'skycaptest'}}, {credsStore: 'skycaptest'}]) {
        const results = await checkImages(images(), {dockerConfig: dockerConfig(content)})
        expect(
          results.map((r) => r.state),
          JSON.stringify(content),
        ).to.deep.equal(['present', 'missing'])
      }
    })

    describe('deploy', () => {
      const ns = useNamespace('images-auth')
      let app: TestApp
      beforeEach(async () => {
        app = await TestApp.create(ns.name, 'itimages')
        await app.change((t) => t.replace('registry: example.invalid/itimages', `registry: ${secured.host}/itimages`), 'secured registry')
      })
      afterEach(() => app.remove())

      it('exits 4 when the registry refuses, and deploys with DOCKER_CONFIG naming a credential helper; the secret is never printed', async () => {
        const sha = await app.repo.git('rev-parse', 'HEAD')
        await secured.push('itimages/web', sha)
        await secured.push('itimages/worker', sha)
        const env = {PATH: process.env.PATH as string, DOCKER_CONFIG: join(dir, 'empty')}
        const refused = await app.json(['deploy', 'test'], {env})
        expect(refused.exitCode).to.equal(4)
        expect(refused.doc.error.message).to.contain('refused access (HTTP 401)')
        expect(refused.doc.error.hint).to.equal(
          `Log in: docker login ${secured.host} (skycap reads docker's credentials). --skip-image-check deploys without asking the registry (the nodes must still pull the images).`,
        )
        mkdirSync(join(dir, 'helper'), {recursive: true})
        writeFileSync(join(dir, 'helper', 'config.json'), JSON.stringify({credHelpers: {[secured.host]: 'skycaptest'}}))
        const ok = await app.json(['deploy', 'test'], {env: {...env, DOCKER_CONFIG: join(dir, 'helper')}})
        expect(ok.exitCode, ok.stderr).to.equal(0)
        expect(`${ok.stdout}${ok.stderr}${refused.stdout}${refused.stderr}`).to.not.contain(user.password)
      })
    })
  })
})
