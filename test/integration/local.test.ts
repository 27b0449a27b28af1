// skycap up / down against the test cluster's real node as "the local cluster": the tests point up at its context
// with --cluster, and advertise the cluster's registry (127.0.0.1) with the standard local-registry-hosting ConfigMap,
// as ctlptl or kind's recipe would. up builds the fixture's images for real (the real node's dockerd, FROM scratch
// with the test app's static binary), pushes them there, deploys them on the real node, and every URL it prints is
// asked for real: the answer comes from the container.
import {expect} from 'chai'
import {execa} from 'execa'
import {copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {cliPath, repoRoot, TempRepo} from '../helpers/repo.js'
import {captureOutput, dockerHost, kubectl, realNode, serviceAnswers, testCluster, waitFor} from './harness.js'

const NAMESPACE = 'localapp-local'

/** Whether something listens on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({host: '127.0.0.1', port})
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  })
}

describe('skycap up / down: the whole app locally, on the real node', function () {
  this.timeout(600_000)
  let origin: TempRepo
  let clone: string
  let cache: string
  let bin: string
  let registryHost: string
  const env = () => ({NO_COLOR: '1', XDG_CACHE_HOME: cache, DOCKER_HOST: dockerHost()})

  before(async function () {
    // The test app's static binary, built once as test/cluster/node.sh builds it; the fixture's Dockerfile copies it.
    bin = mkdtempSync(join(tmpdir(), 'skycap-local-bin-'))
    await execa('go', ['build', '-trimpath', '-ldflags', '-s -w -X main.version=1', '-o', bin, './server'], {
      cwd: join(repoRoot, 'test', 'app'),
      env: {CGO_ENABLED: '0', GOFLAGS: '', GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local'},
    })
  })
  after(() => rmSync(bin, {recursive: true, force: true}))

  const cli = (args: string[]) => execa('node', [cliPath, ...args], {cwd: clone, env: env(), reject: false, timeout: 300_000})
  const json = async (args: string[]) => {
    const r = await cli([...args, '--json'])
    try {
      return {...r, doc: JSON.parse(r.stdout)}
    } catch {
      throw new Error(`not one JSON document (exit ${r.exitCode}):\n${r.stdout}\n${r.stderr}`)
    }
  }

  /** `skycap up --watch` on the test cluster, started; its stderr captured. */
  const watching = () => {
    const proc = execa('node', [cliPath, 'up', '--watch', '--cluster', testCluster().context], {cwd: clone, env: env(), reject: false})
    return {proc, err: captureOutput(proc.stderr)}
  }

  beforeEach(async () => {
    const {repository} = realNode()
    const {context} = testCluster()
    origin = await TempRepo.clusterApp(context, 'unused', 'local-app', {REGISTRY: repository})
    copyFileSync(join(bin, 'server'), join(origin.dir, 'app', 'server'))
    await origin.commit('the binary')
    // A fresh clone, as a developer gets it.
    clone = mkdtempSync(join(tmpdir(), 'skycap-local-clone-'))
    await execa('git', ['clone', '-q', origin.dir, clone])
    cache = mkdtempSync(join(tmpdir(), 'skycap-local-cache-'))
    // The cluster advertises its registry like a ctlptl- or kind-made one (KEP-1755).
    registryHost = repository.slice(0, repository.indexOf('/'))
    const host = registryHost
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'local-registry-hosting', namespace: 'kube-public'}, data: {'localRegistryHosting.v1': `host: "${host}"\n`}}),
    })
    await kubectl(['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=true'])
  })

  afterEach(async () => {
    await cli(['down'])
    await kubectl(['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=false'], {reject: false})
    await kubectl(['delete', 'configmap', 'local-registry-hosting', '--namespace', 'kube-public', '--ignore-not-found'], {reject: false})
    origin.remove()
    rmSync(clone, {recursive: true, force: true})
    rmSync(cache, {recursive: true, force: true})
  })

  /** `skycap up --detach` started and 2 s into a deploy that waits for good: web's pod never becomes ready (uncommitted: up builds the work tree). */
  const deploying = async () => {
    writeFileSync(join(clone, 'config/web/app.properties'), 'greeting=stuck\nhealthz=fail\n')
    const proc = execa('node', [cliPath, 'up', '--detach', '--cluster', testCluster().context], {cwd: clone, env: env(), reject: false})
    const err = captureOutput(proc.stderr)
    try {
      await err.waitFor(/Deploying release 1/, 240_000)
    } catch (error) {
      proc.kill('SIGKILL')
      throw error
    }
    await new Promise((resolve) => setTimeout(resolve, 2000))
    return {proc, err}
  }

  /** GETs `url` until its body matches `re` (a forward reconnects to a new pod within a second or two). */
  const answer = async (url: string, re: RegExp) => (await serviceAnswers(url, re, {times: 1})).body

  it('up --detach from a fresh clone deploys, forwards, answers on every URL; an uncommitted config change then up again changes the answer; down removes what up made and nothing else', async () => {
    const {context} = testCluster()
    // Something up must leave alone: a namespace of its own in the same cluster.
    await kubectl(['create', 'namespace', 'localapp-bystander'], {reject: false})
    try {
      const r = await json(['up', '--detach', '--cluster', context])
      expect(r.exitCode, r.stderr).to.equal(0)
      const report = r.doc.result
      expect(report).to.include({app: 'localapp', environment: 'local', derived: true, context, namespace: NAMESPACE, detached: true})
      expect(report.cluster.source).to.equal('flag')
      expect(report.images).to.include({delivery: 'registry', registry: registryHost})
      // Built from the (clean) work tree and pushed to the local registry; the Deployments run exactly those.
      const sha = await origin.git('rev-parse', 'HEAD')
      expect(report.images.built).to.deep.equal({web: `${registryHost}/localapp-web:${sha}`, api: `${registryHost}/localapp-api:${sha}`})
      expect(report.phases.map((p: any) => p.phase)).to.deep.equal(['cluster', 'registry', 'images', 'deploy', 'forwards'])
      expect(report.urls.map((u: any) => u.service).sort()).to.deep.equal(['api', 'web'])
      // Derived `local`: one replica per service, whatever skycap.yaml says (api has 2).
      const deployments = JSON.parse((await kubectl(['get', 'deployments', '-o', 'json'], {namespace: NAMESPACE})).stdout).items
      expect(Object.fromEntries(deployments.map((d: any) => [d.metadata.name, d.spec.replicas]))).to.deep.equal({api: 1, web: 1})
      expect(Object.fromEntries(deployments.map((d: any) => [d.metadata.name, d.spec.template.spec.containers[0].image]))).to.deep.equal(report.images.built)
      const pods = JSON.parse((await kubectl(['get', 'pods', '-o', 'json'], {namespace: NAMESPACE})).stdout).items
      const urls = Object.fromEntries(report.urls.map((u: any) => [u.service, u.url]))
      // The real containers answer through the forwards: their version and the pod's host name.
      const web = await answer(urls.web, /^version=web-v1 greeting=hello /)
      const api = await answer(urls.api, /^version=api-v1 greeting=from-api /)
      expect(pods.map((p: any) => p.metadata.name)).to.include(/host=(\S+)/.exec(web)?.[1])
      expect(pods.map((p: any) => p.metadata.name)).to.include(/host=(\S+)/.exec(api)?.[1])
      // The forwards outlive the CLI (--detach).
      for (const u of report.urls) expect(await listening(u.localPort), `${u.service} forward`).to.equal(true)

      // An uncommitted change to a config file, then up again: same URLs, the new answer.
      writeFileSync(join(clone, 'config/web/app.properties'), 'greeting=changed-locally\n')
      const again = await json(['up', '--detach', '--cluster', context])
      expect(again.exitCode, again.stderr).to.equal(0)
      expect(again.doc.result.urls.map((u: any) => [u.service, u.url, u.reused])).to.have.deep.members(report.urls.map((u: any) => [u.service, u.url, true]))
      expect(again.doc.result.release).to.equal(report.release + 1)
      // The work tree is dirty now: its images get a dirty tag, never the commit's.
      expect(again.doc.result.images.built.web).to.match(new RegExp(`^${registryHost}/localapp-web:${sha.slice(0, 7)}-dirty-[0-9a-f]+$`))
      await answer(urls.web, /^version=web-v1 greeting=changed-locally /)
      await answer(urls.api, /^version=api-v1 greeting=from-api /)
      // Nothing changed since: the images are in the local registry, and up says so (it said "built").
      const third = await json(['up', '--detach', '--cluster', context])
      expect(third.exitCode, third.stderr).to.equal(0)
      expect([...third.doc.result.images.skipped].sort()).to.deep.equal(['api', 'web'])
      expect(third.doc.result.images.built).to.deep.equal(again.doc.result.images.built)
      expect(third.doc.result.phases.find((p: any) => p.phase === 'images').detail).to.match(/^in the registry already (web|api) /)

      // down: the forwards stop, the namespace up created goes; the bystander namespace and the registry ConfigMap stay.
      const d = await json(['down'])
      expect(d.exitCode, d.stderr).to.equal(0)
      expect(d.doc.result).to.include({deletedNamespace: NAMESPACE, deletedCluster: null})
      expect(d.doc.result.stoppedForwards).to.have.length(2)
      await waitFor('the forwards to stop', async () => !(await listening(report.urls[0].localPort)) && !(await listening(report.urls[1].localPort)), {timeoutMs: 10_000})
      expect((await kubectl(['get', 'namespace', NAMESPACE, '--ignore-not-found', '-o', 'name'])).stdout.trim()).to.equal('')
      expect((await kubectl(['get', 'namespace', 'localapp-bystander', '-o', 'name'])).stdout.trim()).to.equal('namespace/localapp-bystander')
      expect((await kubectl(['get', 'configmap', 'local-registry-hosting', '-n', 'kube-public', '-o', 'name'])).stdout.trim()).to.equal('configmap/local-registry-hosting')
      // The work tree is as the developer left it.
      expect(readFileSync(join(clone, 'config/web/app.properties'), 'utf8')).to.equal('greeting=changed-locally\n')
    } finally {
      await kubectl(['delete', 'namespace', 'localapp-bystander', '--wait=false', '--ignore-not-found'], {reject: false})
    }
  })

  it('up’s forwards of web and api follow pods replaced by other means than up (kubectl rollout restart of both at once, twice): a request loop through each URL fails at most one short run at each move, then answers from the new pod; each forward’s log says the move (it stayed on the old pod until a request failed, then waited a second)', async () => {
    const r = await json(['up', '--detach', '--cluster', testCluster().context])
    expect(r.exitCode, r.stderr).to.equal(0)
    const services = ['web', 'api'] as const
    const url = Object.fromEntries(r.doc.result.urls.map((u: any) => [u.service, u.url])) as Record<string, string>
    const log = (service: string) => readFileSync(join(dirname(r.doc.result.stateFile), `localapp-local-${service}.forward.log`), 'utf8')
    const podsOf = async (service: string) =>
      (JSON.parse((await kubectl(['get', 'pods', '-l', `app.kubernetes.io/name=${service}`, '-o', 'json'], {namespace: NAMESPACE})).stdout).items as any[])
        .filter((p) => !p.metadata.deletionTimestamp)
        .map((p) => p.metadata.name as string)
    // A request every 200 ms through each of up's forwards, all along: when it was sent and which pod answered.
    const answers: Record<string, Array<{at: number; host?: string; error?: string}>> = {web: [], api: []}
    let looping = true
    const loops = services.map(async (service) => {
      while (looping) {
        const at = Date.now()
        try {
          const body = await (await fetch(url[service] as string, {signal: AbortSignal.timeout(2000)})).text()
          answers[service]?.push({at, host: /host=(\S+)/.exec(body)?.[1]})
        } catch (error) {
          answers[service]?.push({at, error: String((error as Error).cause ?? error)})
        }
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    })
    try {
      for (const service of services) await waitFor(`an answer through the forward of ${service}`, () => answers[service]?.at(-1)?.host !== undefined, {timeoutMs: 30_000})
      for (let round = 1; round <= 2; round++) {
        const old = Object.fromEntries(await Promise.all(services.map(async (s) => [s, (await podsOf(s))[0]] as const)))
        const roundStart = Date.now()
        // Both at once, as a deploy of the environment by hand replaces them.
        const restarted = await kubectl(['rollout', 'restart', 'deployment/web', 'deployment/api'], {namespace: NAMESPACE})
        expect(restarted.exitCode, restarted.stderr).to.equal(0)
        for (const service of services) {
          const done = await kubectl(['rollout', 'status', `deployment/${service}`, '--timeout=120s'], {namespace: NAMESPACE})
          expect(done.exitCode, done.stderr).to.equal(0)
        }
        for (const service of services) {
          const now = await podsOf(service)
          expect(now, `round ${round} ${service}`).to.have.length(1)
          expect(now[0], `round ${round} ${service}`).to.not.equal(old[service])
          // The move, said before any request had to fail on the old pod.
          await waitFor(`round ${round}: the forward of ${service} to move to ${now[0]}`, () => log(service).includes(`forwarding to pod/${now[0]} now (pod/${old[service]} is terminating)`), {
            timeoutMs: 20_000,
            intervalMs: 100,
          })
          // The line is said as kubectl starts again on the local port: a request in the next moment may still be
          // refused (CI saw one). The move ends with the new pod's first answer; from then on every answer is its.
          const said = Date.now()
          const all = answers[service] ?? []
          const first = await waitFor(`round ${round}: an answer of ${service} from ${now[0]}`, () => all.find((a) => a.at > said && a.host === now[0]), {timeoutMs: 10_000, intervalMs: 100})
          const after = first.at
          await waitFor(`round ${round}: five answers of ${service} after the move`, () => all.filter((a) => a.at > after).length >= 5, {timeoutMs: 10_000, intervalMs: 100})
          const later = all.filter((a) => a.at > after)
          expect(
            later.map((a) => a.host ?? a.error),
            `round ${round} ${service}`,
          ).to.deep.equal(later.map(() => now[0]))
          // What fails is the move alone: requests sent while kubectl restarts on the local port (about 200 ms).
          const during = all.filter((a) => a.at >= roundStart && a.at <= after)
          const failed = during.filter((a) => a.error)
          const failures = `round ${round} ${service}: ${failed.length} of ${during.length} requests failed: ${JSON.stringify(failed)}\n${log(service)}`
          if (failed.length) {
            const start = during.indexOf(failed[0] as (typeof during)[number])
            const last = during.indexOf(failed.at(-1) as (typeof during)[number])
            expect(last - start + 1, `one run of failures: ${failures}`).to.equal(failed.length)
            expect((failed.at(-1)?.at ?? 0) - (failed[0]?.at ?? 0), failures).to.be.at.most(3000)
          }
        }
      }
      for (const service of services) expect(log(service), service).to.not.match(/trying again|ended \(exit|was stopped;/)
    } finally {
      looping = false
      await Promise.all(loops)
    }
  })

  it("down keeps a namespace that existed before up, and deletes the app's objects and records in it (its Deployments kept running after 'nothing deleted')", async () => {
    const {context} = testCluster()
    await kubectl(['create', 'namespace', NAMESPACE])
    await kubectl(['create', 'configmap', 'team-notes', '--namespace', NAMESPACE])
    const r = await json(['up', '--detach', '--cluster', context])
    expect(r.exitCode, r.stderr).to.equal(0)
    const d = await json(['down'])
    expect(d.exitCode, d.stderr).to.equal(0)
    expect(d.doc.result.deletedNamespace).to.equal(null)
    expect(d.doc.result.deletedObjectsIn).to.equal(NAMESPACE)
    expect(d.doc.result.kept).to.deep.equal([`namespace ${NAMESPACE}: it existed before skycap up`])
    expect((await kubectl(['get', 'namespace', NAMESPACE, '-o', 'name'])).stdout.trim()).to.equal(`namespace/${NAMESPACE}`)
    // What up deployed and recorded is gone; what was there before stays.
    const left = (await kubectl(['get', 'deployments,services,configmaps,secrets', '--namespace', NAMESPACE, '-o', 'name'])).stdout.trim().split('\n').sort()
    expect(left).to.deep.equal(['configmap/kube-root-ca.crt', 'configmap/team-notes'])
    for (const u of r.doc.result.urls) expect(await listening(u.localPort)).to.equal(false)
  })

  it('Ctrl-C of up during its deploy (exit 130) says to run skycap up again: a deploy of local has no image of the work tree, and a first release nothing to roll back to', async () => {
    const {proc, err} = await deploying()
    try {
      proc.kill('SIGINT')
      const r = await proc
      expect(r.exitCode, err.text).to.equal(130)
      expect(err.text).to.include('Check `skycap status local`; run `skycap up` again.')
      expect(err.text).to.not.include('deploy again or roll back')
    } finally {
      proc.kill('SIGKILL')
    }
  })

  it('a first up whose deploy fails still leaves the namespace it created to down', async () => {
    const {context} = testCluster()
    // web never becomes ready (its readiness probe asks a port nothing listens on): the deploy times out after
    // creating the namespace.
    const file = join(clone, 'skycap.yaml')
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('healthcheck: {path: /healthz, periodSeconds: 1, failureThreshold: 1}', 'healthcheck: {path: /healthz, port: 9, periodSeconds: 1, failureThreshold: 1}'),
    )
    const r = await json(['up', '--detach', '--cluster', context, '--timeout', '20s'])
    expect(r.exitCode, r.stderr).to.equal(70)
    expect((await kubectl(['get', 'namespace', NAMESPACE, '-o', 'jsonpath={.metadata.annotations.skycap\\.dev/created-by}'])).stdout).to.equal('up')
    const d = await json(['down'])
    expect(d.exitCode, d.stderr).to.equal(0)
    expect(d.doc.result.deletedNamespace).to.equal(NAMESPACE)
  })

  it('down while up --watch runs stops that up first (its watch redeployed into the namespace down deleted, recreating it)', async () => {
    const {proc, err} = watching()
    try {
      await err.waitFor(/Watching /, 240_000)
      const d = await json(['down'])
      expect(d.exitCode, d.stderr).to.equal(0)
      expect(d.stderr).to.match(/Stopping the skycap up that follows localapp local \(pid \d+\)/)
      expect(d.doc.result.deletedNamespace).to.equal(NAMESPACE)
      const r = await proc
      expect(r.exitCode, err.text).to.equal(0)
      // Not "keeps running": down is taking it away.
      expect(err.text).to.match(/Forwards stopped; skycap down \(pid \d+\) is taking localapp local down/)
      // A change saved now redeploys nothing: no up is watching, and the namespace stays gone.
      writeFileSync(join(clone, 'config/web/app.properties'), 'greeting=after down\n')
      await new Promise((resolve) => setTimeout(resolve, 3000))
      expect((await kubectl(['get', 'namespace', NAMESPACE, '--ignore-not-found', '-o', 'name'])).stdout).to.equal('')
    } finally {
      proc.kill('SIGKILL')
    }
  })

  it('down while up is still deploying stops that up first (it deployed the app again after down said it was gone); logs and scale then point at skycap up', async () => {
    const {proc, err} = await deploying()
    try {
      const d = await json(['down'])
      expect(d.exitCode, d.stderr).to.equal(0)
      expect(d.stderr).to.match(/Stopping the skycap up that is still bringing localapp local up \(pid \d+\)/)
      expect(d.doc.result.deletedNamespace, d.stderr).to.equal(NAMESPACE)
      const r = await proc
      expect(r.exitCode, err.text).to.equal(130)
      expect(err.text).to.match(/skycap down \(pid \d+\) stopped this up: /)
      // Nothing brings it back: the namespace stays gone.
      await new Promise((resolve) => setTimeout(resolve, 3000))
      expect((await kubectl(['get', 'namespace', NAMESPACE, '--ignore-not-found', '-o', 'name'])).stdout).to.equal('')
      // The way back is skycap up (a deploy of local asks for images nobody built).
      for (const args of [
        ['logs', 'web', '-e', 'local'],
        ['scale', 'web', '2', '-e', 'local'],
      ]) {
        const x = await json(args)
        expect(x.exitCode, x.stderr).to.equal(2)
        expect(x.doc.error.hint, args.join(' ')).to.equal('Deploy it first: skycap up.')
      }
    } finally {
      proc.kill('SIGKILL')
    }
  })

  it('Ctrl-C of up --watch during a redeploy is exit 130, said as such (it was exit 0), and starts none of the changes queued behind it', async () => {
    const {proc, err} = watching()
    try {
      await err.waitFor(/Watching /, 240_000)
      // web's new pod never becomes ready: the redeploy waits for it.
      writeFileSync(join(clone, 'config/web/app.properties'), 'greeting=stuck\nhealthz=fail\n')
      await err.waitFor('change: config/web/app.properties → redeploy', 30_000)
      await err.waitFor(/Deploying release 2/, 60_000)
      // A change saved meanwhile is queued behind the redeploy (past the watcher's quiet 300 ms).
      writeFileSync(join(clone, 'config/web/app.properties'), 'greeting=queued\n')
      await new Promise((resolve) => setTimeout(resolve, 2000))
      proc.kill('SIGINT')
      const r = await proc
      expect(r.exitCode, err.text).to.equal(130)
      expect(err.text).to.include('up --watch interrupted during a redeploy: deploy of local interrupted')
      expect(err.text).to.include('Forwards stopped')
      expect(err.text).to.not.include('redeploy failed')
      expect(err.text.match(/change: /g), err.text).to.have.length(1)
      const releases = JSON.parse((await cli(['history', 'local', '--json'])).stdout).result.releases
      expect(releases.map((x: {number: number; result: string}) => `${x.number} ${x.result}`)).to.deep.equal(['2 interrupted', '1 succeeded'])
    } finally {
      proc.kill('SIGKILL')
    }
  })

  it('up --watch redeploys on an uncommitted config change, printing the trigger; Ctrl-C stops the forwards and leaves the app running', async () => {
    const {context} = testCluster()
    const proc = execa('node', [cliPath, 'up', '--watch', '--cluster', context], {cwd: clone, env: env(), reject: false})
    const err = captureOutput(proc.stderr)
    const out = captureOutput(proc.stdout)
    try {
      const text = await err.waitFor(/Watching /, 240_000)
      const url = /web: (http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1] as string
      expect(url, text).to.be.a('string')
      await answer(url, /^version=web-v1 greeting=hello /)
      writeFileSync(join(clone, 'config/web/app.properties'), 'greeting=watched\n')
      await err.waitFor('change: config/web/app.properties → redeploy', 30_000)
      await err.waitFor(/redeployed release 2/, 240_000)
      await answer(url, /^version=web-v1 greeting=watched /)
      // A build input changes: that rebuilds (both services build from app/), with a dirty tag, then redeploys.
      writeFileSync(join(clone, 'app/message.txt'), 'changed under --watch\n')
      await err.waitFor('change: app/message.txt → rebuild api, web and redeploy', 30_000)
      await err.waitFor(/redeployed release 3/, 240_000)
      const images = JSON.parse((await kubectl(['get', 'deployments', '-o', 'json'], {namespace: NAMESPACE})).stdout).items.map((d: any) => d.spec.template.spec.containers[0].image)
      for (const image of images) expect(image).to.match(/-dirty-[0-9a-f]+$/)
      await answer(url, /^version=web-v1 greeting=watched /)
      // skycap.yaml moves web's config to a new folder: read again, deployed, and the new folder is watched from now on.
      mkdirSync(join(clone, 'config/web2'))
      writeFileSync(join(clone, 'config/web2/app.properties'), 'greeting=moved\n')
      writeFileSync(join(clone, 'skycap.yaml'), readFileSync(join(clone, 'skycap.yaml'), 'utf8').replace('config: config/web\n', 'config: config/web2\n'))
      await err.waitFor(/change: [^\n]*skycap\.yaml → rebuild api, web and redeploy/, 30_000)
      await err.waitFor(/redeployed release 4/, 240_000)
      await answer(url, /^version=web-v1 greeting=moved /)
      writeFileSync(join(clone, 'config/web2/app.properties'), 'greeting=in the new folder\n')
      await err.waitFor('change: config/web2/app.properties → redeploy', 30_000)
      await err.waitFor(/redeployed release 5/, 240_000)
      await answer(url, /^version=web-v1 greeting=in the new folder /)
      // The merged logs of the real containers arrive on stdout (the app logs each request).
      await out.waitFor(/GET \//, 30_000)
      proc.kill('SIGINT')
      const r = await proc
      expect(r.exitCode, err.text).to.equal(0)
      expect(err.text).to.include('Forwards stopped')
      const port = Number(new URL(url).port)
      expect(await listening(port)).to.equal(false)
      // The app keeps running.
      const deployments = JSON.parse((await kubectl(['get', 'deployments', '-o', 'json'], {namespace: NAMESPACE})).stdout).items
      expect(deployments.map((d: any) => d.status.readyReplicas)).to.deep.equal([1, 1])
    } finally {
      proc.kill('SIGKILL')
    }
  })
})
