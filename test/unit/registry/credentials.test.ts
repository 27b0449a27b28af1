import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type HelperRunner, registryCredentials} from '../../../src/registry/credentials.js'

const b64 = (s: string) => Buffer.from(s).toString('base64')

describe('registry credentials from the Docker config', () => {
  let dir: string
  let calls: Array<[string, string]>
  // The helper side of the protocol: what `docker-credential-<name> get` prints for a server URL.
  const helper =
    (store: Record<string, {Username: string; Secret: string}>): HelperRunner =>
    async (program, url) => {
      calls.push([program, url])
      const hit = store[url]
      return hit ? {exitCode: 0, stdout: JSON.stringify({ServerURL: url, ...hit})} : {exitCode: 1, stdout: 'credentials not found in native keychain'}
    }
  const config = (content: unknown) => {
    const file = join(dir, 'config.json')
    writeFileSync(file, JSON.stringify(content))
    return file
  }
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skycap-docker-config-'))
    calls = []
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('reads an auths entry, also under https:// and for Docker Hub under its v1 index URL', async () => {
    const file = config({auths: {'r.example': {auth: b64('a:1')}, 'https://s.example': {auth: b64('b:2')}, 'https://index.docker.io/v1/': {auth: b64('c:3')}}})
    expect(await registryCredentials('r.example', {configPath: file})).to.equal(b64('a:1'))
    expect(await registryCredentials('s.example', {configPath: file})).to.equal(b64('b:2'))
    expect(await registryCredentials('registry-1.docker.io', {configPath: file})).to.equal(b64('c:3'))
    expect(await registryCredentials('other.example', {configPath: file})).to.equal(undefined)
  })

  it("asks the host's credHelpers entry first, then auths, then credsStore, once each", async () => {
    const file = config({credsStore: 'desktop', credHelpers: {'ecr.example': 'ecr-login'}, auths: {'r.example': {auth: b64('a:1')}, 'store.example': {}}})
    const runHelper = helper({'ecr.example': {Username: 'AWS', Secret: 'tok'}, 'store.example': {Username: 'u', Secret: 'p'}})
    expect(await registryCredentials('ecr.example', {configPath: file, runHelper})).to.equal(b64('AWS:tok'))
    expect(await registryCredentials('r.example', {configPath: file, runHelper})).to.equal(b64('a:1'))
    expect(await registryCredentials('store.example', {configPath: file, runHelper})).to.equal(b64('u:p'))
    expect(await registryCredentials('none.example', {configPath: file, runHelper})).to.equal(undefined)
    expect(calls).to.deep.equal([
      ['docker-credential-ecr-login', 'ecr.example'],
      ['docker-credential-desktop', 'store.example'],
      ['docker-credential-desktop', 'none.example'],
    ])
  })

  it('never runs a helper whose name could be a path, and survives a missing helper or bad output', async () => {
    const runHelper = helper({})
    expect(await registryCredentials('r.example', {configPath: config({credsStore: '../../bin/sh'}), runHelper})).to.equal(undefined)
    expect(calls).to.deep.equal([])
    const missing: HelperRunner = async () => {
      throw Object.assign(new Error('spawn docker-credential-x ENOENT'), {code: 'ENOENT'})
    }
    expect(await registryCredentials('r.example', {configPath: config({credsStore: 'x'}), runHelper: missing})).to.equal(undefined)
    const garbage: HelperRunner = async () => ({exitCode: 0, stdout: 'not json'})
    expect(await registryCredentials('r.example', {configPath: config({credsStore: 'x'}), runHelper: garbage})).to.equal(undefined)
    expect(await registryCredentials('r.example', {configPath: join(dir, 'absent.json')})).to.equal(undefined)
    writeFileSync(join(dir, 'broken.json'), '{')
    expect(await registryCredentials('r.example', {configPath: join(dir, 'broken.json')})).to.equal(undefined)
  })
})
