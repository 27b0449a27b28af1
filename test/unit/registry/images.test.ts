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
    // Anything else (a registry that answered 500): as before.
    expect(uncheckedImagesHint([{image: 'ghcr.io/acme/web:abc', cause: 'error'}])).to.match(/^Fix registry access \(docker login\)\. --skip-image-check/)
  })
})
