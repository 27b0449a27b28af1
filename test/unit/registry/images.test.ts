import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {checkImages, uncheckedImagesHint} from '../../../src/registry/images.js'

describe('registry image check: a registry that cannot be asked', () => {
  let dir: string
  let dockerConfig: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skycap-docker-config-'))
    dockerConfig = join(dir, 'config.json')
    writeFileSync(dockerConfig, '{}')
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('says why: the connection refused (a registry that is down), or no answer in time, not undici\'s bare "fetch failed"', async () => {
    // A port nothing listens on: real sockets, real fetch.
    const closed = net.createServer().listen(0, '127.0.0.1')
    await new Promise((r) => closed.once('listening', r))
    const port = (closed.address() as net.AddressInfo).port
    await new Promise((r) => closed.close(r))
    const [down] = await checkImages([`127.0.0.1:${port}/team/web:1`], {dockerConfig})
    expect(down).to.deep.equal({image: `127.0.0.1:${port}/team/web:1`, state: 'unknown', cause: 'unreachable', detail: `cannot reach 127.0.0.1:${port}: ECONNREFUSED`})

    // A registry that accepts the connection and never answers.
    const held: net.Socket[] = []
    const silent = net.createServer((socket) => held.push(socket)).listen(0, '127.0.0.1')
    await new Promise((r) => silent.once('listening', r))
    const silentPort = (silent.address() as net.AddressInfo).port
    try {
      const [slow] = await checkImages([`127.0.0.1:${silentPort}/team/web:1`], {dockerConfig, timeoutMs: 200})
      expect(slow?.detail).to.equal(`cannot reach 127.0.0.1:${silentPort}: no answer within 0.2s`)
    } finally {
      for (const socket of held) socket.destroy()
      await new Promise((r) => silent.close(r))
    }
  })

  it('names a port Node\'s fetch refuses without connecting (6000, 6665-6669: ports browsers block), not just "bad port"', async () => {
    for (const port of [6000, 6667]) {
      const [blocked] = await checkImages([`127.0.0.1:${port}/team/web:1`], {dockerConfig})
      expect(blocked?.detail).to.equal(`cannot reach 127.0.0.1:${port}: Node's fetch refuses this port (one of the ports browsers block, such as 6000 or 6665-6669); serve it on another port`)
    }
  })
})

describe('the image check: the hint when the registry cannot say whether it has the images', () => {
  it("by what went wrong: the scaffold's placeholder host, a host that does not answer, a refused login", () => {
    expect(uncheckedImagesHint([{image: 'registry.example.com/gapp/web:abc', cause: 'unreachable'}])).to.equal(
      "The registry host registry.example.com is a placeholder (skycap init writes one): set registry: in skycap.yaml (or the environment's) to your registry. --skip-image-check deploys without asking the registry (the nodes must still pull the images).",
    )
    expect(
      uncheckedImagesHint([
        {image: 'ghcr.io/acme/web:abc', cause: 'refused'},
        {image: 'registry.internal:5000/acme/worker:abc', cause: 'unreachable'},
      ]),
    ).to.equal(
      "Check registry: in skycap.yaml and that registry.internal:5000 can be reached from here; log in: docker login ghcr.io (skycap reads docker's credentials). --skip-image-check deploys without asking the registry (the nodes must still pull the images).",
    )
    // Docker Hub, for an image written without a host: named as such, not registry: in skycap.yaml (it does not apply).
    expect(
      uncheckedImagesHint([
        {image: 'redis:7.2', cause: 'unreachable'},
        {image: 'registry.internal:5000/acme/web:abc', cause: 'unreachable'},
      ]),
    ).to.equal(
      "Check registry: in skycap.yaml and that registry.internal:5000 can be reached from here; Docker Hub (registry-1.docker.io) cannot be reached from here, where redis:7.2 is (an image without a registry host); check this machine's network or proxy. --skip-image-check deploys without asking the registry (the nodes must still pull the images).",
    )
    // Anything else (a registry that answered 500): as before.
    expect(uncheckedImagesHint([{image: 'ghcr.io/acme/web:abc', cause: 'error'}])).to.match(/^Fix registry access \(docker login\)\. --skip-image-check/)
  })
})

describe('registry image check: credentials go only to a registry that asks for them', () => {
  let dir: string
  let dockerConfig: string
  const basic = Buffer.from('ci:s3cret').toString('base64')
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skycap-docker-config-'))
    dockerConfig = join(dir, 'config.json')
    writeFileSync(dockerConfig, JSON.stringify({credHelpers: {'reg.internal:5000': 'fake'}}))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  /** A registry at the process boundary: answers each request by `answer`, and records the URL and Authorization of each. */
  function registry(answer: (url: string, authorization: string | undefined) => Response) {
    const seen: Array<{url: string; authorization?: string}> = []
    const fetch = (async (input: string | URL, init?: RequestInit) => {
      const authorization = (init?.headers as Record<string, string> | undefined)?.Authorization
      seen.push({url: String(input), ...(authorization ? {authorization} : {})})
      return answer(String(input), authorization)
    }) as typeof globalThis.fetch
    const helperRuns: string[] = []
    const runHelper = async (program: string, serverUrl: string) => {
      helperRuns.push(`${program} ${serverUrl}`)
      return {exitCode: 0, stdout: JSON.stringify({Username: 'ci', Secret: 's3cret'})}
    }
    return {seen, helperRuns, options: {fetch, dockerConfig, runHelper, insecure: []}}
  }
  const manifest = 'https://reg.internal:5000/v2/team/web/manifests/1'
  const present = () => new Response(null, {status: 200, headers: {'docker-content-digest': 'sha256:abc'}})

  it('a registry that answers without asking never sees them, and the credential helper never runs', async () => {
    const r = registry(present)
    const [check] = await checkImages(['reg.internal:5000/team/web:1'], r.options)
    expect(check).to.deep.equal({image: 'reg.internal:5000/team/web:1', state: 'present', digest: 'sha256:abc'})
    expect(r.seen).to.deep.equal([{url: manifest}])
    expect(r.helperRuns).to.deep.equal([])
  })

  it('Basic: sent after the challenge, once the helper gave them', async () => {
    const r = registry((_url, authorization) => (authorization === `Basic ${basic}` ? present() : new Response(null, {status: 401, headers: {'www-authenticate': 'Basic realm="skycap-test"'}})))
    const [check] = await checkImages(['reg.internal:5000/team/web:1'], r.options)
    expect(check?.state).to.equal('present')
    expect(r.seen).to.deep.equal([{url: manifest}, {url: manifest, authorization: `Basic ${basic}`}])
    expect(r.helperRuns).to.deep.equal(['docker-credential-fake reg.internal:5000'])
  })

  it('Bearer: the credentials go to the realm for a token, and the token to the registry; a realm that refuses falls back to Basic', async () => {
    const challenge = 'Bearer realm="https://auth.internal/token",service="reg.internal:5000"'
    const token = registry((url, authorization) => {
      if (url.startsWith('https://auth.internal/token')) return Response.json({token: 'tok'})
      return authorization === 'Bearer tok' ? present() : new Response(null, {status: 401, headers: {'www-authenticate': challenge}})
    })
    expect((await checkImages(['reg.internal:5000/team/web:1'], token.options))[0]?.state).to.equal('present')
    expect(token.seen).to.deep.equal([
      {url: manifest},
      {url: 'https://auth.internal/token?service=reg.internal%3A5000&scope=repository%3Ateam%2Fweb%3Apull', authorization: `Basic ${basic}`},
      {url: manifest, authorization: 'Bearer tok'},
    ])

    const refusingRealm = registry((url, authorization) => {
      if (url.startsWith('https://auth.internal/token')) return new Response(null, {status: 403})
      return authorization === `Basic ${basic}` ? present() : new Response(null, {status: 401, headers: {'www-authenticate': challenge}})
    })
    expect((await checkImages(['reg.internal:5000/team/web:1'], refusingRealm.options))[0]?.state).to.equal('present')
    expect(refusingRealm.seen.map((s) => s.authorization)).to.deep.equal([undefined, `Basic ${basic}`, `Basic ${basic}`])
  })
})
