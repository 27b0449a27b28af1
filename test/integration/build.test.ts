// `skycap build` for real: the built CLI drives the real node's dockerd (docker build + docker push, and docker buildx
// built from its Go module) and Debian's podman, pushes to the cluster's registry, and deploys the result on the real
// node. The images are FROM scratch: the test app's static Go binary and a small text file, so no base image is pulled.
import {copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {gunzipSync} from 'node:zlib'
import net from 'node:net'
import {expect} from 'chai'
import {execa} from 'execa'

import {TempHgRepo} from '../helpers/hg.js'
import {repoRoot, runCli} from '../helpers/repo.js'
import {TestApp} from './app.js'
import {buildxPluginDir, dockerHost, httpGet, realNode, uniqueName, useNamespace, waitFor} from './harness.js'

const DOCKERFILE = ['FROM scratch', 'COPY server /app', 'COPY message.txt /message.txt', 'ARG GREETING=none', 'ENV APP_GREETING=$GREETING', 'USER 65534:65534', 'ENTRYPOINT ["/app"]', ''].join('\n')

const MANIFEST_TYPES = 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json'

/** The files of an image as the registry serves it: every layer's tar, later layers winning. */
async function imageFiles(image: string): Promise<Map<string, string>> {
  const slash = image.indexOf('/')
  const colon = image.lastIndexOf(':')
  const base = `http://${image.slice(0, slash)}/v2/${image.slice(slash + 1, colon)}`
  const res = await fetch(`${base}/manifests/${image.slice(colon + 1)}`, {headers: {Accept: MANIFEST_TYPES}})
  if (!res.ok) throw new Error(`GET the manifest of ${image}: HTTP ${res.status}`)
  const manifest = (await res.json()) as {layers: Array<{digest: string}>}
  const files = new Map<string, string>()
  for (const layer of manifest.layers) {
    const blob = Buffer.from(await (await fetch(`${base}/blobs/${layer.digest}`)).arrayBuffer())
    const tar = gunzipSync(blob)
    // ustar: a 512-byte header (name at 0, size in octal at 124, type at 156), the content padded to 512 bytes.
    for (let at = 0; at + 512 <= tar.length;) {
      const name = tar
        .subarray(at, at + 100)
        .toString('utf8')
        .replace(/\0.*$/s, '')
      if (!name) break
      const size = parseInt(
        tar
          .subarray(at + 124, at + 136)
          .toString('utf8')
          .replace(/\0.*$/s, '')
          .trim() || '0',
        8,
      )
      const type = String.fromCharCode(tar[at + 156] ?? 0)
      if (type === '0' || type === '\0') files.set(name.replace(/^\.?\//, ''), tar.subarray(at + 512, at + 512 + Math.min(size, 4096)).toString('utf8'))
      at += 512 + Math.ceil(size / 512) * 512
    }
  }
  return files
}

/** The environment variables of an image's config, as the registry serves it. */
async function imageEnv(image: string): Promise<string[]> {
  const slash = image.indexOf('/')
  const colon = image.lastIndexOf(':')
  const base = `http://${image.slice(0, slash)}/v2/${image.slice(slash + 1, colon)}`
  const res = await fetch(`${base}/manifests/${image.slice(colon + 1)}`, {headers: {Accept: MANIFEST_TYPES}})
  if (!res.ok) throw new Error(`GET the manifest of ${image}: HTTP ${res.status}`)
  const manifest = (await res.json()) as {config: {digest: string}}
  const config = (await (await fetch(`${base}/blobs/${manifest.config.digest}`)).json()) as {config?: {Env?: string[]}}
  return config.config?.Env ?? []
}

/** Whether the registry has `image` (repository:tag). */
async function inRegistry(image: string): Promise<boolean> {
  const slash = image.indexOf('/')
  const colon = image.lastIndexOf(':')
  const res = await fetch(`http://${image.slice(0, slash)}/v2/${image.slice(slash + 1, colon)}/manifests/${image.slice(colon + 1)}`, {method: 'HEAD', headers: {Accept: MANIFEST_TYPES}})
  return res.ok
}

/** What a first build of the revision reports, whichever builder: exit 0, the builder, the tag, web built with a digest. */
function expectBuilt(first: Awaited<ReturnType<TestApp['json']>>, builder: string, ref: string, sha: string): void {
  expect(first.exitCode, first.stderr).to.equal(0)
  expect(first.doc.result.images).to.have.length(1)
  expect(first.doc.result).to.include({builder, tag: sha})
  expect(first.doc.result.images[0]).to.include({service: 'web', image: ref, result: 'built'})
  expect(first.doc.result.images[0].digest).to.match(/^sha256:[0-9a-f]{64}$/)
}

describe('real node: skycap build', function () {
  const ns = useNamespace('build')
  let bin: string
  let app: TestApp

  before(async function () {
    // The test app's static binary, built once like test/cluster/up.sh builds it.
    bin = mkdtempSync(join(tmpdir(), 'skycap-build-bin-'))
    await execa('go', ['build', '-trimpath', '-ldflags', '-s -w -X main.version=1', '-o', bin, './server'], {
      cwd: join(repoRoot, 'test', 'app'),
      env: {CGO_ENABLED: '0', GOFLAGS: '', GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local'},
    })
  })
  after(() => rmSync(bin, {recursive: true, force: true}))

  /** The real-node fixture with `web` built from a Dockerfile (and `services` more), committed. */
  async function makeApp(extra: (text: string) => string = (t) => t): Promise<{image: string; env: Record<string, string>}> {
    app = await TestApp.createReal(ns.name, 'rlbuild')
    const image = uniqueName('built')
    copyFileSync(join(bin, 'server'), join(app.repo.dir, 'server'))
    app.repo.write('Dockerfile', DOCKERFILE)
    app.repo.write('message.txt', 'committed\n')
    await app.change((t) => extra(t.replace('    image: app\n', `    image: ${image}\n    build:\n      args: {GREETING: "built-{{ revision.short }}"}\n`)), 'build web')
    return {image, env: {DOCKER_HOST: dockerHost()}}
  }

  /** What web's pod answers, once it runs on the real node. */
  async function webAnswer(): Promise<string> {
    const pod = (await app.get(['pods', '-l', 'app.kubernetes.io/name=web'])).items[0]
    expect(pod.spec.nodeName).to.equal(realNode().node)
    return waitFor('the pod to answer', async () => {
      const r = await httpGet(`http://${pod.status.podIP}:8080/`).catch(() => undefined)
      return r?.status === 200 ? r.body : undefined
    })
  }

  function buildIt(title: string, test: () => Promise<void>) {
    it(title, async () => {
      try {
        await test()
      } finally {
        app?.remove()
      }
    })
  }

  buildIt('builds and pushes a revision, skips it the second time, and deploy runs the image on the real node; deploy --build builds a new commit', async () => {
    const {image, env} = await makeApp()
    const sha = await app.repo.git('rev-parse', 'HEAD')
    const ref = `${realNode().repository}/${image}:${sha}`
    const first = await app.json(['build', 'test@HEAD'], {env})
    expectBuilt(first, 'docker', ref, sha)
    expect(first.doc.result).to.include({source: 'revision'})
    expect(await inRegistry(ref)).to.equal(true)

    const second = await app.json(['build', 'test@HEAD'], {env})
    expect(second.exitCode, second.stderr).to.equal(0)
    expect(second.doc.result.images[0]).to.include({result: 'skipped', digest: first.doc.result.images[0].digest})

    const deployed = await app.json(['deploy', 'test'], {env})
    expect(deployed.exitCode, deployed.stderr).to.equal(0)
    expect(deployed.doc.result.images).to.deep.equal({web: ref})
    const answer = await webAnswer()
    expect(answer).to.include(`greeting=built-${sha.slice(0, 7)}`)

    // A new commit: deploy --build builds it first (the registry lacks it), then rolls it out.
    app.repo.write('message.txt', 'second commit\n')
    const next = await app.repo.commit('second')
    // --json: the build's output stays on stderr, and the document says what was built, with its digest.
    const built = await app.json(['deploy', 'test', '--build'], {env})
    expect(built.exitCode, built.stderr).to.equal(0)
    expect(built.stderr).to.match(/web \| .*Successfully tagged/)
    expect(await inRegistry(`${realNode().repository}/${image}:${next}`)).to.equal(true)
    expect(built.doc.result.build).to.include({source: 'revision', tag: next, builder: 'docker'})
    expect(built.doc.result.build.images).to.have.length(1)
    expect(built.doc.result.build.images[0]).to.include({service: 'web', image: `${realNode().repository}/${image}:${next}`, result: 'built'})
    expect(built.doc.result.build.images[0].digest).to.match(/^sha256:[0-9a-f]{64}$/)
    const answers = await waitFor('the new pod to answer', async () => {
      const pods = (await app.get(['pods', '-l', 'app.kubernetes.io/name=web'])).items.filter((p: any) => p.status.podIP && !p.metadata.deletionTimestamp)
      const bodies = await Promise.all(
        pods.map((p: any) =>
          httpGet(`http://${p.status.podIP}:8080/`).then(
            (r) => r.body,
            () => '',
          ),
        ),
      )
      return bodies.length === 1 && bodies[0]?.includes(`greeting=built-${next.slice(0, 7)}`) ? bodies : undefined
    })
    expect(answers).to.have.length(1)
  })

  buildIt('in a Mercurial repository: skycap build test@. then skycap deploy test, the image tagged with the changeset, running on the real node', async () => {
    const {image, env} = await makeApp()
    // The same app as a Mercurial repository: its files (not .git) committed with real hg.
    const hg = await TempHgRepo.init()
    try {
      cpSync(app.repo.dir, hg.dir, {recursive: true, filter: (from) => !from.split('/').includes('.git')})
      const node = await hg.commit('the app, in Mercurial')
      const ref = `${realNode().repository}/${image}:${node}`
      const built = await runCli(['build', 'test@.', '--json'], {cwd: hg.dir, env})
      expect(built.exitCode, built.stderr).to.equal(0)
      expect(JSON.parse(built.stdout).result.images[0]).to.include({service: 'web', image: ref, result: 'built'})
      expect(await inRegistry(ref)).to.equal(true)
      const deployed = await runCli(['deploy', 'test', '--json'], {cwd: hg.dir, env})
      expect(deployed.exitCode, deployed.stderr).to.equal(0)
      expect(JSON.parse(deployed.stdout).result.images).to.deep.equal({web: ref})
      const answer = await webAnswer()
      // build.args rendered {{ revision.short }}: Mercurial's 12-digit short id.
      expect(answer).to.include(`greeting=built-${node.slice(0, 12)}`)
    } finally {
      hg.remove()
    }
  })

  buildIt('--work-tree builds uncommitted changes under a dirty tag; a build of HEAD does not contain them; a service without build is untouched', async () => {
    const {image, env} = await makeApp((t) =>
      t.replace('environments:\n', 'environments:\n').replace('services:\n', 'services:\n  cache:\n    image: cache\n    nodeSelector: {skycap.test/real-node: "true"}\n'),
    )
    const sha = await app.repo.git('rev-parse', 'HEAD')
    const short = sha.slice(0, 7)
    app.repo.write('message.txt', 'uncommitted one\n')
    const dirty1 = await app.json(['build', 'test', '--work-tree'], {env})
    expect(dirty1.exitCode, dirty1.stderr).to.equal(0)
    const tag1 = dirty1.doc.result.tag as string
    expect(tag1).to.match(new RegExp(`^${short}-dirty-[0-9a-f]{12}$`))
    expect(dirty1.doc.result.source).to.equal('work-tree')
    expect(dirty1.doc.result.images.map((i: any) => i.service)).to.deep.equal(['web'])
    expect((await imageFiles(`${realNode().repository}/${image}:${tag1}`)).get('message.txt')).to.equal('uncommitted one\n')

    app.repo.write('message.txt', 'uncommitted two\n')
    const dirty2 = await app.json(['build', 'test', '--work-tree'], {env})
    expect(dirty2.exitCode, dirty2.stderr).to.equal(0)
    expect(dirty2.doc.result.tag)
      .to.match(/-dirty-/)
      .and.not.equal(tag1)
    expect((await imageFiles(`${realNode().repository}/${image}:${dirty2.doc.result.tag}`)).get('message.txt')).to.equal('uncommitted two\n')

    // The same work tree again: the same tag, already there.
    const again = await app.json(['build', 'test', '--work-tree'], {env})
    expect(again.doc.result.tag).to.equal(dirty2.doc.result.tag)
    expect(again.doc.result.images[0].result).to.equal('skipped')

    const head = await app.json(['build', 'test@HEAD'], {env})
    expect(head.exitCode, head.stderr).to.equal(0)
    expect(head.doc.result.tag).to.equal(sha)
    // The uncommitted change is not in it, and the build says so.
    expect(head.stderr).to.contain(`warning: the work tree has uncommitted changes (untracked files count); they are not in the images of ${short}`)
    expect(dirty1.stderr).to.not.contain('they are not in the images')
    const files = await imageFiles(`${realNode().repository}/${image}:${sha}`)
    expect(files.get('message.txt')).to.equal('committed\n')
    expect(files.has('app')).to.equal(true)
    // cache has no build: nothing was pushed under its name, whatever the tag.
    const tags = await fetch(`http://${realNode().repository.split('/')[0]}/v2/${realNode().repository.split('/')[1]}/cache/tags/list`)
    expect(tags.status).to.equal(404)
    const named = await app.cli(['build', 'test@HEAD', '-s', 'cache'], {env})
    expect(named.exitCode).to.equal(2)
    expect(named.stderr).to.include('service "cache" has no build: block')
  })

  buildIt('a failed build exits 1 with the builder\u2019s last lines and pushes nothing, also for the service that built', async () => {
    const {image, env} = await makeApp((t) =>
      t.replace('services:\n', `services:\n  broken:\n    image: ${uniqueName('broken')}\n    build: {dockerfile: broken.Dockerfile}\n    nodeSelector: {skycap.test/real-node: "true"}\n`),
    )
    app.repo.write('broken.Dockerfile', 'FROM scratch\nCOPY no-such-file /x\n')
    const sha = await app.repo.commit('broken dockerfile')
    const r = await app.json(['build', 'test@HEAD'], {env})
    expect(r.exitCode, r.stderr).to.equal(1)
    expect(r.doc.error.code).to.equal('build_failed')
    expect(r.doc.error.message).to.match(/build of broken failed; nothing was pushed/)
    expect(r.doc.error.message).to.match(/broken \| .*no-such-file/)
    const failure = r.doc.error.details.failures[0]
    expect(failure).to.include({service: 'broken', exitCode: 1})
    expect(failure.lastLines.join('\n')).to.include('no-such-file')
    // The hint names what failed as a command to run here, on the repository's own files (the build ran in a
    // temporary export, which is gone): pasted, it fails the same way.
    expect(failure.command).to.match(/^docker (buildx )?build .*--file broken\.Dockerfile(?: .*)? \.$/)
    expect(r.doc.error.hint).to.include(`What failed, to run here: ${failure.command}`)
    const pasted = await execa('sh', ['-c', failure.command], {cwd: app.repo.dir, env, reject: false, all: true})
    expect(pasted.exitCode, pasted.all).to.not.equal(0)
    expect(pasted.all).to.include('no-such-file')
    expect(await inRegistry(`${realNode().repository}/${image}:${sha}`), 'web built, but nothing is pushed when a build fails').to.equal(false)
    const plain = await app.cli(['build', 'test@HEAD'], {env})
    expect(plain.exitCode).to.equal(1)
    expect(plain.stderr).to.match(/Error: build of broken failed/)
  })

  buildIt('a build.command that exits 0 without pushing, beside a docker build: exit 1 naming the image missing and the one pushed, as the registry has them', async () => {
    const {image, env} = await makeApp((t) => t.replace('services:\n', `services:\n  lazy:\n    image: ${uniqueName('lazy')}\n    build: {command: [sh, -c, 'echo built $SKYCAP_IMAGE']}\n`))
    const sha = await app.repo.git('rev-parse', 'HEAD')
    const r = await app.json(['build', 'test@HEAD'], {env})
    expect(r.exitCode, r.stderr).to.equal(1)
    expect(r.doc.error.message).to.match(/^lazy: the build passed but \S+ is not in the registry; web was pushed$/)
    expect(r.doc.error.details.missing.map((m: any) => m.service)).to.deep.equal(['lazy'])
    expect(r.doc.error.details.pushed.map((p: any) => p.service)).to.deep.equal(['web'])
    expect(await inRegistry(`${realNode().repository}/${image}:${sha}`), 'docker pushed web once every build passed').to.equal(true)
    expect(r.doc.error.hint).to.include('$SKYCAP_IMAGE')
  })

  buildIt('no builder found exits 2 naming what was looked for; an unreachable registry exits 4 before building', async () => {
    await makeApp()
    // A PATH with node, git and tar only: no docker, no podman.
    const tools = mkdtempSync(join(tmpdir(), 'skycap-no-builder-'))
    for (const tool of ['git', 'tar']) symlinkSync((await execa('sh', ['-c', `command -v ${tool}`])).stdout, join(tools, tool))
    const none = await app
      .json(['build', 'test@HEAD'], {env: {DOCKER_HOST: 'unix:///nonexistent/docker.sock', PATH: `${dirname(process.execPath)}:${tools}`}})
      .finally(() => rmSync(tools, {recursive: true, force: true}))
    expect(none.exitCode, none.stdout).to.equal(2)
    expect(none.doc.error.code).to.equal('no_builder')
    expect(none.doc.error.message).to.include('docker buildx').and.include('docker build + push').and.include('podman')
    expect(none.doc.error.hint).to.include('apt-get install docker.io')

    // A port nothing listens on (port 9 was one Node's fetch refuses without connecting: no connection was tried).
    const closed = net.createServer().listen(0, '127.0.0.1')
    await new Promise((r) => closed.once('listening', r))
    const port = (closed.address() as net.AddressInfo).port
    await new Promise((r) => closed.close(r))
    await app.change((t) => t.replace(/registry: .*/, `registry: 127.0.0.1:${port}/skycap-test`), 'unreachable registry')
    const down = await app.json(['build', 'test@HEAD'], {env: {DOCKER_HOST: dockerHost()}})
    expect(down.exitCode, down.stdout).to.equal(4)
    expect(down.doc.error.code).to.equal('unreachable')
    expect(down.doc.error.message).to.include(`cannot reach 127.0.0.1:${port}: ECONNREFUSED`).and.include('nothing was built or pushed')
  })

  buildIt('podman (Debian\u2019s): chosen when no docker daemon answers; builds, pushes with the digest, skips the second time, and deploy runs the image on the real node', async () => {
    const {image} = await makeApp()
    const sha = await app.repo.git('rev-parse', 'HEAD')
    const ref = `${realNode().repository}/${image}:${sha}`
    // podman's own settings, as a user has them: the test registry speaks plain http; storage in a folder of this test.
    const dir = mkdtempSync(join(tmpdir(), 'skycap-podman-'))
    const registryHost = realNode().repository.split('/')[0]
    writeFileSync(join(dir, 'registries.conf'), `[[registry]]\nlocation = "${registryHost}"\ninsecure = true\n`)
    writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`)
    const env = {DOCKER_HOST: 'unix:///nonexistent/docker.sock', CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf')}
    try {
      const first = await app.json(['build', 'test@HEAD'], {env})
      expectBuilt(first, 'podman', ref, sha)
      const files = await imageFiles(ref)
      expect(files.get('message.txt')).to.equal('committed\n')
      expect(files.has('app')).to.equal(true)

      const second = await app.json(['build', 'test@HEAD', '--builder', 'podman'], {env})
      expect(second.exitCode, second.stderr).to.equal(0)
      expect(second.doc.result.images[0]).to.include({result: 'skipped', digest: first.doc.result.images[0].digest})

      const deployed = await app.json(['deploy', 'test'], {env})
      expect(deployed.exitCode, deployed.stderr).to.equal(0)
      const answer = await webAnswer()
      expect(answer).to.include(`greeting=built-${sha.slice(0, 7)}`)

      // A commit that changes no file the image copies: only the build arg differs. podman 4.3's layer cache gave
      // the new tag the old image (the same digest, APP_GREETING of the first commit); skycap builds it without.
      app.repo.write('NOTES.md', 'not in the image\n')
      const next = await app.repo.commit('notes')
      const third = await app.json(['build', 'test@HEAD'], {env})
      expectBuilt(third, 'podman', `${realNode().repository}/${image}:${next}`, next)
      expect(third.doc.result.images[0].digest).to.not.equal(first.doc.result.images[0].digest)
      expect(await imageEnv(`${realNode().repository}/${image}:${next}`)).to.include(`APP_GREETING=built-${next.slice(0, 7)}`)
    } finally {
      await execa('podman', ['rmi', '--all', '--force'], {env: {...process.env, ...env}, reject: false})
      rmSync(dir, {recursive: true, force: true})
    }
  })

  buildIt('docker buildx (chosen when the plugin is there): builds and pushes in one step with the digest, skips the second time; a failed build pushes nothing', async () => {
    const {image} = await makeApp()
    const sha = await app.repo.git('rev-parse', 'HEAD')
    const ref = `${realNode().repository}/${image}:${sha}`
    // A docker config whose cli-plugins holds docker-buildx, as `apt-get install docker-buildx` or Docker Desktop gives.
    const config = mkdtempSync(join(tmpdir(), 'skycap-buildx-'))
    mkdirSync(join(config, 'cli-plugins'))
    symlinkSync(join(buildxPluginDir(), 'docker-buildx'), join(config, 'cli-plugins', 'docker-buildx'))
    const env = {DOCKER_HOST: dockerHost(), DOCKER_CONFIG: config}
    try {
      const first = await app.json(['build', 'test@HEAD'], {env})
      expectBuilt(first, 'buildx', ref, sha)
      expect((await imageFiles(ref)).get('message.txt')).to.equal('committed\n')
      const second = await app.json(['build', 'test@HEAD'], {env})
      expect(second.doc.result.images[0]).to.include({result: 'skipped', digest: first.doc.result.images[0].digest})

      app.repo.write('Dockerfile', 'FROM scratch\nCOPY no-such-file /x\n')
      const broken = await app.repo.commit('a broken Dockerfile')
      const failed = await app.json(['build', 'test@HEAD'], {env})
      expect(failed.exitCode, failed.stderr).to.equal(1)
      expect(failed.doc.error.details.failures[0]).to.include({service: 'web', step: 'docker buildx build', exitCode: 1})
      expect(failed.doc.error.details.failures[0].lastLines.join('\n')).to.include('no-such-file')
      expect(await inRegistry(`${realNode().repository}/${image}:${broken}`)).to.equal(false)
    } finally {
      rmSync(config, {recursive: true, force: true})
    }
  })

  buildIt('several services build in parallel (--jobs 3) with prefixed output, twice', async () => {
    const services = ['alpha', 'bravo', 'charlie']
    const {env} = await makeApp((t) =>
      t.replace(
        'services:\n',
        `services:\n${services.map((s) => `  ${s}:\n    image: ${uniqueName(s)}\n    build: {dockerfile: ${s}.Dockerfile}\n    nodeSelector: {skycap.test/real-node: "true"}\n`).join('')}`,
      ),
    )
    for (const s of services) app.repo.write(`${s}.Dockerfile`, `FROM scratch\nCOPY message.txt /${s}.txt\nLABEL service=${s}\n`)
    for (const round of [1, 2]) {
      app.repo.write('message.txt', `round ${round}\n`)
      await app.repo.commit(`round ${round}`)
      const r = await app.cli(['build', 'test@HEAD', '--jobs', '3', '--json'], {env})
      expect(r.exitCode, r.stderr).to.equal(0)
      const doc = JSON.parse(r.stdout).result
      expect(doc.images.map((i: any) => [i.service, i.result])).to.have.deep.members([...services, 'web'].map((s) => [s, 'built']))
      expect(new Set(doc.images.map((i: any) => i.digest)).size, 'each service its own image').to.equal(4)
      for (const i of doc.images) expect((await imageFiles(i.image)).size).to.be.greaterThan(0)
      for (const s of services) expect((await imageFiles(doc.images.find((i: any) => i.service === s).image)).get(`${s}.txt`)).to.equal(`round ${round}\n`)
    }
    // Without --json the output streams on stderr, each line prefixed with its service.
    app.repo.write('message.txt', 'round 3\n')
    await app.repo.commit('round 3')
    const shown = await app.cli(['build', 'test@HEAD', '-j', '3'], {env})
    expect(shown.exitCode, shown.stderr).to.equal(0)
    for (const s of [...services, 'web']) expect(shown.stderr).to.match(new RegExp(`^${s} *\\| Successfully tagged`, 'm'))
    expect(shown.stdout.split('\n')[0]).to.match(/^SERVICE +IMAGE +DIGEST +RESULT$/)
    expect(shown.stdout.match(/ built$/gm)).to.have.length(4)
  })
})
