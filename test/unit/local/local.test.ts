import {expect} from 'chai'
import {readdirSync, readFileSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'

import {resolveEnvironment} from '../../../src/config/environment.js'
import {loadConfig} from '../../../src/config/load.js'
import {choosePort, listening, portFree} from '../../../src/local/forwards.js'
import {parseRegistryHosting, pullReference} from '../../../src/local/registry.js'
import {readState, saveState, stateFile, writeState} from '../../../src/local/state.js'
import {parsePorts, up, type UpDeps} from '../../../src/local/up.js'
import {classifyChange, watchedInputs, watchInputs} from '../../../src/local/watch.js'
import {type ImagePhase, workTreeBuilds} from '../../../src/local/images.js'
import {ExitCode, InterruptedError, UnreachableError, UserError} from '../../../src/errors.js'
import {toolRunner} from '../../../src/local/tool.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {fakeKubectlFactory} from '../../helpers/fake-kubectl.js'
import {setEnvironment} from '../../helpers/env.js'
import {openEnvironment} from '../../../src/env/connect.js'
import {prepareRelease} from '../../../src/render/prepare.js'
import {runCli, TempRepo} from '../../helpers/repo.js'

/** up's dependencies for a test that must stop before any build: no tool runs, no image is built, state under `cache`. */
function stoppingUpDeps(kubectl: UpDeps['kubectl'], cache: string, more: Partial<UpDeps> = {}): UpDeps {
  return {
    kubectl,
    tools: toolRunner({runner: async () => Promise.reject(new Error('no tool may run')), installed: () => false}),
    images: {
      buildable: () => ['web', 'api'],
      inputs: () => [],
      build: async () => {
        throw new Error('nothing may be built')
      },
    },
    reporter: memoryReporter(),
    out: process.stdout,
    colour: false,
    env: {XDG_CACHE_HOME: cache},
    // The local registry answers (GET /v2/).
    fetch: async () => new Response('{}', {status: 200}),
    ...more,
  }
}

/** A fake kubectl for the cluster and registry phases: context kind-dev, current and local, advertising `hosting`. */
function kindDevWithRegistry(hosting: string) {
  const view = {'current-context': 'kind-dev', contexts: [{name: 'kind-dev', context: {cluster: 'kind-dev'}}], clusters: [{name: 'kind-dev', cluster: {server: 'https://127.0.0.1:6443'}}]}
  return fakeKubectlFactory([
    {argv: ['--request-timeout=30s', 'config', 'view', '-o', 'json'], result: {stdout: JSON.stringify(view)}},
    {
      argv: ['--context', 'kind-dev', '--request-timeout=30s', 'get', 'configmap', 'local-registry-hosting', '--namespace', 'kube-public', '-o', 'json'],
      result: {stdout: JSON.stringify({data: {'localRegistryHosting.v1': hosting}})},
    },
  ])
}

describe('skycap up: the parts', () => {
  it('derives `local` when skycap.yaml has none: <app>-local, one replica, not protected; a declared one is used as written', async () => {
    const repo = await TempRepo.localApp()
    try {
      // web waits 20 s before a new pod counts as available: prod keeps that, the derived local does not.
      repo.write('skycap.yaml', readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8').replace(/( {2}web:\n)/, '$1    minReadySeconds: 20\n'))
      const loaded = await loadConfig({cwd: repo.dir})
      const env = resolveEnvironment(loaded, 'local')
      expect(env).to.include({name: 'local', namespace: 'localapp-local', protected: false, derived: true})
      expect(env.context).to.equal(undefined)
      expect(Object.fromEntries(Object.entries(env.services).map(([n, s]) => [n, [s.replicas, s.minReadySeconds]]))).to.deep.equal({web: [1, 0], api: [1, undefined]})
      expect(resolveEnvironment(loaded, 'prod').services.web?.minReadySeconds).to.equal(20)
      expect(resolveEnvironment(loaded, 'prod').derived).to.equal(undefined)
      expect(() => resolveEnvironment(loaded, 'staging')).to.throw('unknown environment "staging"')
    } finally {
      repo.remove()
    }
  })

  it('reads local-registry-hosting (KEP-1755) and maps pushed images to what the runtime pulls', async () => {
    expect(await parseRegistryHosting('host: "localhost:5001"\nhelp: "https://kind.sigs.k8s.io/docs/user/local-registry/"\n')).to.deep.equal({
      host: 'localhost:5001',
      help: 'https://kind.sigs.k8s.io/docs/user/local-registry/',
    })
    expect(await parseRegistryHosting('help: no host')).to.equal(undefined)
    expect(await parseRegistryHosting(': [')).to.equal(undefined)
    expect(await parseRegistryHosting(undefined)).to.equal(undefined)
    const hosting = {host: 'localhost:5000', hostFromContainerRuntime: 'registry:5000'}
    expect(pullReference('localhost:5000/web:abc', hosting)).to.equal('registry:5000/web:abc')
    expect(pullReference('redis:7', hosting)).to.equal('redis:7')
  })

  it('stable local ports: the service port (8000+ below 1024), the next free one past taken ports', async () => {
    const free = (busy: number[]) => async (p: number) => !busy.includes(p)
    expect(await choosePort(8080, new Set(), free([]))).to.equal(8080)
    expect(await choosePort(80, new Set(), free([]))).to.equal(8080)
    expect(await choosePort(8080, new Set([8080]), free([8081]))).to.equal(8082)
    // Real sockets: a port something listens on is not free.
    const server = net.createServer().listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    const port = (server.address() as net.AddressInfo).port
    expect(await portFree(port)).to.equal(false)
    expect(await listening(port)).to.equal(true)
    expect(await choosePort(port, new Set())).to.not.equal(port)
    await new Promise((r) => server.close(r))
    expect(await listening(port)).to.equal(false)
  })

  it('--port SERVICE=PORT is checked before anything happens', async () => {
    const repo = await TempRepo.localApp()
    try {
      const env = resolveEnvironment(await loadConfig({cwd: repo.dir}), 'local')
      expect([...parsePorts(['web=9000'], env)]).to.deep.equal([['web', 9000]])
      expect(() => parsePorts(['web:9000'], env)).to.throw('--port "web:9000" is not SERVICE=PORT (a port from 1 to 65535); nothing was changed')
      expect(() => parsePorts(['web=70000'], env)).to.throw('is not SERVICE=PORT')
      expect(() => parsePorts(['db=5432'], env)).to.throw('--port names unknown service "db"; nothing was changed')
    } finally {
      repo.remove()
    }
  })

  it('a bad --timeout is refused before any phase: no cluster is looked for, nothing is built or written', async () => {
    const repo = await TempRepo.localApp()
    const cache = new TempRepo()
    try {
      const fake = fakeKubectlFactory([])
      const images: ImagePhase = {
        buildable: () => ['web', 'api'],
        inputs: () => [],
        build: async () => {
          throw new Error('nothing may be built')
        },
      }
      const deps = {
        kubectl: fake.factory,
        tools: toolRunner({runner: async () => Promise.reject(new Error('no tool may run')), installed: () => true}),
        images,
        reporter: memoryReporter(),
        out: process.stdout,
        colour: false,
        env: {XDG_CACHE_HOME: cache.dir},
      }
      const error = (await up({cwd: repo.dir, timeout: '10'}, deps).catch((e: unknown) => e)) as UserError
      expect(error).to.be.instanceOf(UserError)
      expect(error.message).to.contain('--timeout is "10" but must be a duration greater than zero with a unit')
      expect(fake.calls).to.have.length(0)
      expect(readdirSync(cache.dir), 'no state file').to.deep.equal([])
    } finally {
      repo.remove()
      cache.remove()
    }
  })

  it('a Ctrl-C during a phase that finishes anyway stops up before the next one (exit 130): nothing is deployed', async () => {
    const repo = await TempRepo.localApp()
    const cache = new TempRepo()
    try {
      // The cluster and registry phases only: a deploy would ask kubectl more, and the fake refuses any other call.
      const fake = kindDevWithRegistry('host: "localhost:5001"\n')
      const controller = new AbortController()
      const images: ImagePhase = {
        buildable: () => ['web', 'api'],
        inputs: () => [],
        // The builds were done when Ctrl-C came: they return their images.
        build: async () => {
          controller.abort()
          return {images: {web: 'localhost:5001/localapp-web:abc', api: 'localhost:5001/localapp-api:abc'}, skipped: []}
        },
      }
      const deps = stoppingUpDeps(fake.factory, cache.dir, {images, signal: controller.signal})
      const error = (await up({cwd: repo.dir, cluster: 'kind-dev'}, deps).catch((e: unknown) => e)) as InterruptedError
      expect(error, String(error)).to.be.instanceOf(InterruptedError)
      expect(error.message).to.equal('interrupted before the deploy phase (done: cluster, registry, images); nothing was deployed')
      expect(fake.remaining()).to.equal(0)
    } finally {
      repo.remove()
      cache.remove()
    }
  })

  it("an up on another context that does not answer leaves the last up's state and forwards as they were (down deleted nothing after it)", async () => {
    const repo = await TempRepo.localApp()
    const cache = new TempRepo()
    try {
      const loaded = await loadConfig({cwd: repo.dir})
      const file = stateFile(loaded.file, 'local', {XDG_CACHE_HOME: cache.dir})
      const before = {version: 1, app: 'localapp', environment: 'local', configFile: loaded.file, context: 'kind-old', namespace: 'localapp-local', createdNamespace: true, forwards: []} as const
      writeState(file, {...before, forwards: []})
      const written = readState(file)
      const view = {'current-context': 'kind-dev', contexts: [{name: 'kind-dev', context: {cluster: 'kind-dev'}}], clusters: [{name: 'kind-dev', cluster: {server: 'https://127.0.0.1:1'}}]}
      const fake = fakeKubectlFactory([
        {argv: ['--request-timeout=30s', 'config', 'view', '-o', 'json'], result: {stdout: JSON.stringify(view)}},
        {
          argv: ['--context', 'kind-dev', '--request-timeout=30s', 'get', 'namespace', 'localapp-local', '--ignore-not-found', '-o', 'name'],
          result: {exitCode: 1, stderr: 'The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?'},
        },
      ])
      const error = (await up({cwd: repo.dir, cluster: 'kind-dev'}, stoppingUpDeps(fake.factory, cache.dir)).catch((e: unknown) => e)) as UnreachableError
      expect(error.exitCode, String(error)).to.equal(ExitCode.UNREACHABLE)
      expect(readState(file)).to.deep.equal(written).and.to.include({context: 'kind-old', createdNamespace: true})
      expect(fake.remaining()).to.equal(0)
    } finally {
      repo.remove()
      cache.remove()
    }
  })

  it('refuses a protected environment before anything (it built and pushed work-tree images to its registry, then refused naming a --yes up does not have)', async () => {
    const repo = await TempRepo.localApp()
    const cache = new TempRepo()
    try {
      const fake = fakeKubectlFactory([])
      const error = (await up({cwd: repo.dir, environment: 'prod'}, stoppingUpDeps(fake.factory, cache.dir)).catch((e: unknown) => e)) as UserError
      expect(error.exitCode).to.equal(ExitCode.INVALID)
      expect(error.message).to.equal('prod is protected, and skycap up deploys images built from the work tree; nothing was built or deployed')
      expect(error.hint).to.contain('skycap deploy prod@<revision>')
      expect(fake.remaining()).to.equal(0)
    } finally {
      repo.remove()
      cache.remove()
    }
  })

  it("an up whose namespace changed (skycap.yaml's namespace, the app's name) stops the last up's forwards to the old one and says the old namespace stays (they kept serving the old release)", async () => {
    const repo = await TempRepo.localApp()
    const cache = new TempRepo()
    try {
      const loaded = await loadConfig({cwd: repo.dir})
      const file = stateFile(loaded.file, 'local', {XDG_CACHE_HOME: cache.dir})
      writeState(file, {version: 1, app: 'localapp', environment: 'local', configFile: loaded.file, context: 'kind-dev', namespace: 'old-ns', createdNamespace: true, forwards: []})
      const view = {'current-context': 'kind-dev', contexts: [{name: 'kind-dev', context: {cluster: 'kind-dev'}}], clusters: [{name: 'kind-dev', cluster: {server: 'https://127.0.0.1:6443'}}]}
      // A Ctrl-C once the cluster answered: up stops before its next phase, with its state written.
      const stop = new AbortController()
      const fake = fakeKubectlFactory([
        {argv: ['--request-timeout=30s', 'config', 'view', '-o', 'json'], result: {stdout: JSON.stringify(view)}},
        {
          argv: ['--context', 'kind-dev', '--request-timeout=30s', 'get', 'namespace', 'localapp-local', '--ignore-not-found', '-o', 'name'],
          result: () => {
            stop.abort()
            return {stdout: ''}
          },
        },
      ])
      const reporter = memoryReporter()
      const error = (await up({cwd: repo.dir, cluster: 'kind-dev'}, stoppingUpDeps(fake.factory, cache.dir, {reporter, signal: stop.signal})).catch((e: unknown) => e)) as Error
      expect(error.message).to.match(/interrupted/)
      expect(reporter.warnings).to.include(
        'the last skycap up of local used namespace old-ns; its forwards were stopped, and `skycap down` now acts on namespace localapp-local; namespace old-ns that it created there stays, with what runs in it (`kubectl delete namespace old-ns --context kind-dev` deletes it)',
      )
      expect(readState(file)).to.include({namespace: 'localapp-local', createdNamespace: false}).and.to.have.property('forwards').that.deep.equals([])
    } finally {
      repo.remove()
      cache.remove()
    }
  })

  it('a failed build of up says to run skycap up again (it said "then build again", a command up does not suggest)', async () => {
    const repo = await TempRepo.withFiles({
      'skycap.yaml': 'app: shop\nservices:\n  web:\n    image: web\n    build: {command: [sh, -c, "exit 3"]}\nenvironments:\n  dev: {namespace: shop-dev}\n',
    })
    try {
      for (const [name, again] of [
        ['local', 'run skycap up again'],
        ['dev', 'run skycap up dev again'],
      ] as const) {
        const loaded = await loadConfig({cwd: repo.dir})
        const env = resolveEnvironment(loaded, name)
        const error = (await workTreeBuilds.build({loaded, env, services: ['web'], push: false, reporter: memoryReporter()}).catch((e: unknown) => e)) as UserError
        expect(error.hint, String(error)).to.match(new RegExp(`^Fix the build, then ${again}\\. What failed, to run here: `))
      }
    } finally {
      repo.remove()
    }
  })

  it("status, logs, history, deploy, diff and run of the derived local run on the context the last up used, not the kubeconfig's current one", async () => {
    const repo = await TempRepo.localApp()
    const cache = new TempRepo()
    const restore = setEnvironment({XDG_CACHE_HOME: cache.dir})
    try {
      const loaded = await loadConfig({cwd: repo.dir})
      expect((await openEnvironment({cwd: repo.dir, environment: 'local'})).env.context).to.equal(undefined)
      writeState(stateFile(loaded.file, 'local'), {
        version: 1,
        app: 'localapp',
        environment: 'local',
        configFile: loaded.file,
        context: 'kind-up',
        namespace: 'localapp-local',
        createdNamespace: true,
        forwards: [],
      })
      expect((await openEnvironment({cwd: repo.dir, environment: 'local'})).env.context).to.equal('kind-up')
      // deploy, diff and run --rev read the environment through prepareRelease: they said "names no kube context;
      // using the current one" and went to the kubeconfig's current context.
      expect((await prepareRelease({cwd: repo.dir, target: 'local'})).environment.context).to.equal('kind-up')
      expect((await prepareRelease({cwd: repo.dir, target: 'local@HEAD'})).environment.context).to.equal('kind-up')
      // up and down read the state themselves; a declared environment keeps its own context.
      expect((await openEnvironment({cwd: repo.dir, environment: 'local', upContext: false})).env.context).to.equal(undefined)
      expect((await openEnvironment({cwd: repo.dir, environment: 'prod'})).env.context).to.equal(loaded.config.environments.prod?.context)
    } finally {
      restore()
      repo.remove()
      cache.remove()
    }
  })

  it('a local registry that does not answer stops up in the registry phase (exit 4), naming where it comes from: nothing is built or deployed', async () => {
    const repo = await TempRepo.localApp()
    const cache = new TempRepo()
    try {
      const fake = kindDevWithRegistry('host: "localhost:5001"\nhelp: "https://kind.sigs.k8s.io/docs/user/local-registry/"\n')
      const asked: string[] = []
      const refused = async (url: string | URL | Request) => {
        asked.push(String(url))
        throw Object.assign(new TypeError('fetch failed'), {cause: {code: 'ECONNREFUSED'}})
      }
      // stoppingUpDeps' build throws: the registry phase must stop up before it.
      const error = (await up({cwd: repo.dir, cluster: 'kind-dev'}, stoppingUpDeps(fake.factory, cache.dir, {fetch: refused as typeof fetch})).catch((e: unknown) => e)) as UnreachableError
      expect(error, String(error)).to.be.instanceOf(UnreachableError)
      expect(error.exitCode).to.equal(ExitCode.UNREACHABLE)
      expect(asked).to.deep.equal(['http://localhost:5001/v2/'])
      expect(error.message).to.equal(
        'the local registry localhost:5001 does not answer (ECONNREFUSED): the registry context kind-dev advertises (ConfigMap local-registry-hosting in kube-public); nothing was built or deployed',
      )
      expect(error.hint)
        .to.include('docker start')
        .and.include('`kubectl delete configmap local-registry-hosting -n kube-public --context kind-dev`')
        .and.include('https://kind.sigs.k8s.io/docs/user/local-registry/')
      expect(error.hint).not.to.include('skycap.yaml')
      expect(fake.remaining()).to.equal(0)
    } finally {
      repo.remove()
      cache.remove()
    }
  })

  it('an image up does not build (a service without build:) missing from its registry stops up before any phase: it was said at the deploy, after every build', async () => {
    const repo = await TempRepo.localApp()
    const cache = new TempRepo()
    try {
      const text = readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')
      // cache runs an image nobody built; side runs web's, which up builds (not asked).
      repo.write('skycap.yaml', text.replace('environments:', '  cache:\n    image: cache:7\n  side:\n    image: localapp-web\nenvironments:'))
      await repo.commit("a cache, and a side service on web's image")
      const asked: string[] = []
      const registry = (async (url: string | URL | Request) => (asked.push(String(url)), new Response(null, {status: 404}))) as typeof fetch
      const fake = fakeKubectlFactory([])
      const error = (await up({cwd: repo.dir}, stoppingUpDeps(fake.factory, cache.dir, {fetch: registry})).catch((e: unknown) => e)) as UserError
      expect(error, String(error)).to.be.instanceOf(UserError)
      expect(error.message).to.equal('1 image does not exist: cache:7; nothing was changed')
      // A local environment's hint: up builds what has build:, CI is not the way out (it said "has CI built and pushed").
      expect(error.hint).to.match(/^cache has no build: block, so skycap up does not build it: give it one \(build: \{context: \.\} with a Dockerfile; docs\/build\.md\)/)
      expect(error.hint).to.not.contain('CI')
      expect(
        asked.every((u) => u.includes('/cache/')),
        asked.join(', '),
      ).to.equal(true)
      expect(fake.calls, 'no cluster was looked for').to.have.length(0)
      // With --skip-image-check nothing is asked: up goes on to its phases (here, the cluster's).
      asked.length = 0
      await up({cwd: repo.dir, skipImageCheck: true}, stoppingUpDeps(fake.factory, cache.dir, {fetch: registry})).catch(() => undefined)
      expect(asked).to.deep.equal([])
    } finally {
      repo.remove()
      cache.remove()
    }
  })

  it('a --port another program listens on is refused before any phase: no cluster is looked for, nothing is built or written', async () => {
    const repo = await TempRepo.localApp()
    const cache = new TempRepo()
    const server = net.createServer().listen(0, '127.0.0.1')
    try {
      await new Promise((r) => server.once('listening', r))
      const port = (server.address() as net.AddressInfo).port
      const fake = fakeKubectlFactory([])
      const deps = stoppingUpDeps(fake.factory, cache.dir)
      const error = (await up({cwd: repo.dir, ports: [`web=${port}`]}, deps).catch((e: unknown) => e)) as UserError
      expect(error, String(error)).to.be.instanceOf(UserError)
      expect(error.message).to.equal(`--port web=${port}: 127.0.0.1:${port} is in use by another program; nothing was changed`)
      expect(error.hint).to.contain(`Stop what listens on 127.0.0.1:${port}`)
      expect(fake.calls).to.have.length(0)
      expect(readdirSync(cache.dir), 'no state file').to.deep.equal([])
    } finally {
      await new Promise((r) => server.close(r))
      repo.remove()
      cache.remove()
    }
  })

  it('a template that does not render is refused before any phase: no cluster is looked for, nothing is built or written', async () => {
    const repo = await TempRepo.localApp()
    const cache = new TempRepo()
    try {
      await repo.commit('app')
      repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {host: "{{ values.host }}"}\n')
      const fake = fakeKubectlFactory([])
      const deps = stoppingUpDeps(fake.factory, cache.dir)
      const error = (await up({cwd: repo.dir}, deps).catch((e: unknown) => e)) as UserError
      expect(error, String(error)).to.be.instanceOf(UserError)
      expect(error.message).to.contain('deploy/extra.yaml').and.contain('host')
      expect(fake.calls).to.have.length(0)
      expect(readdirSync(cache.dir), 'no state file').to.deep.equal([])
    } finally {
      repo.remove()
      cache.remove()
    }
  })

  it('the derived `local` takes the values of defaultEnvironment, so the repository templates render', async () => {
    const repo = await TempRepo.fromFixture('shop')
    try {
      const loaded = await loadConfig({cwd: repo.dir})
      expect(resolveEnvironment(loaded, 'local').values).to.deep.equal({host: 'staging.shop.example.com'})
      const rendered = await runCli(['render', 'local'], {cwd: repo.dir})
      expect(rendered.exitCode, rendered.stderr).to.equal(0)
      expect(rendered.stdout).to.contain('host: staging.shop.example.com').and.contain('namespace: shop-local')
    } finally {
      repo.remove()
    }
  })

  it('--watch: which changed files redeploy, which rebuild a service, which are ignored', async () => {
    const repo = await TempRepo.localApp()
    try {
      const loaded = await loadConfig({cwd: repo.dir})
      const env = resolveEnvironment(loaded, 'local')
      const images: ImagePhase = {
        buildable: () => ['api', 'web'],
        inputs: (_l, _e, s) => (s === 'web' ? [`${repo.dir}/web-src`] : [`${repo.dir}/api-src`]),
        build: async () => ({images: {}, skipped: []}),
      }
      const inputs = watchedInputs(loaded, env, images)
      const at = (p: string) => `${loaded.dir}/${p}`
      expect(classifyChange([at('config/web/app.properties')], inputs, loaded.dir)).to.deep.equal({files: ['config/web/app.properties'], rebuild: []})
      expect(classifyChange([at('web-src/main.go')], inputs, loaded.dir)).to.deep.equal({files: ['web-src/main.go'], rebuild: ['web']})
      // skycap.yaml may change build args or contexts: every service rebuilds.
      expect(classifyChange([at('skycap.yaml')], inputs, loaded.dir)).to.deep.equal({files: ['skycap.yaml'], rebuild: ['api', 'web']})
      expect(classifyChange([at('README.md'), at('.git/index'), at('config/webby')], inputs, loaded.dir)).to.equal(undefined)
    } finally {
      repo.remove()
    }
  })

  it('--watch: a file the VCS ignores in a build context rebuilds nothing (a tool that keeps writing its output there), a source file does', async function () {
    this.timeout(20_000)
    const repo = await TempRepo.localApp()
    const controller = new AbortController()
    try {
      repo.write('.gitignore', '*.log\nbuild-output/\n')
      await repo.commit('ignore logs')
      const loaded = await loadConfig({cwd: repo.dir})
      const env = resolveEnvironment(loaded, 'local')
      const changes: Array<{files: string[]; rebuild: string[]}> = []
      const watching = watchInputs(loaded, env, workTreeBuilds, {reporter: memoryReporter(), signal: controller.signal, quietMs: 100, onChange: async (c) => void changes.push(c)})
      const settle = () => new Promise((r) => setTimeout(r, 700))
      await settle()
      // Three rounds of a compiler's output and a log in the build context (app/): nothing to rebuild or deploy.
      for (let i = 0; i < 3; i++) {
        repo.write('app/debug.log', `line ${i}\n`)
        repo.write(`app/build-output/out-${i}.o`, 'x')
        await settle()
      }
      expect(changes).to.deep.equal([])
      // A file the build copies (tracked, or untracked and not ignored): every service built from app/ rebuilds.
      repo.write('app/message.txt', 'edited\n')
      repo.write('app/new-file.txt', 'new\n')
      await settle()
      expect(changes).to.deep.equal([{files: ['app/message.txt', 'app/new-file.txt'], rebuild: ['api', 'web']}])
      controller.abort()
      await watching
    } finally {
      controller.abort()
      repo.remove()
    }
  })

  it('keeps its state per skycap.yaml and environment under $XDG_CACHE_HOME/skycap/up', async () => {
    const repo = new TempRepo()
    try {
      const env = {XDG_CACHE_HOME: repo.dir}
      const file = stateFile('/src/shop/skycap.yaml', 'local', env)
      expect(file.startsWith(`${repo.dir}/skycap/up/local-`)).to.equal(true)
      expect(stateFile('/src/other/skycap.yaml', 'local', env)).to.not.equal(file)
      expect(readState(file)).to.equal(undefined)
      writeState(file, {version: 1, app: 'shop', environment: 'local', configFile: '/src/shop/skycap.yaml', context: 'kind-skycap', namespace: 'shop-local', createdNamespace: true, forwards: []})
      expect(readState(file)).to.include({context: 'kind-skycap', createdNamespace: true})
    } finally {
      repo.remove()
    }
  })

  it('two ups at once: a write keeps the live forwards the other up recorded meanwhile, so down stops them and the next up keeps their URLs', async () => {
    const repo = new TempRepo()
    try {
      const file = stateFile('/src/shop/skycap.yaml', 'local', {XDG_CACHE_HOME: repo.dir})
      const base = {version: 1 as const, app: 'shop', environment: 'local', configFile: '/src/shop/skycap.yaml', context: 'kind-skycap', namespace: 'shop-local', createdNamespace: true}
      const fwd = (service: string, localPort: number, pid: number) => ({service, port: 8080, localPort, pid, log: `/tmp/${service}.log`})
      // Both ups read the file when it had no forwards; the first then wrote its two (worker's has ended since).
      const second = {...base, forwards: [] as ReturnType<typeof fwd>[]}
      writeState(file, {...base, forwards: [fwd('web', 8080, 101), fwd('api', 8081, 102), fwd('worker', 8082, 103)]})
      const alive = (f: {pid: number}) => f.pid !== 103
      // The second up's write after its deploy: the first's live forwards stay recorded, and in its state.
      saveState(file, second, alive)
      expect(readState(file)?.forwards.map((f) => [f.service, f.localPort])).to.deep.equal([
        ['web', 8080],
        ['api', 8081],
      ])
      expect(second.forwards.map((f) => f.pid)).to.deep.equal([101, 102])
      // Its own forward of a service wins; a forward of another context or namespace is not taken in.
      writeState(file, {...base, forwards: [fwd('web', 8080, 201)]})
      const own = {...base, forwards: [fwd('web', 8090, 301)]}
      expect(saveState(file, own, () => true).forwards.map((f) => f.pid)).to.deep.equal([301])
      writeState(file, {...base, context: 'kind-other', forwards: [fwd('web', 8080, 401)]})
      expect(saveState(file, {...base, forwards: []}, () => true).forwards).to.deep.equal([])
      expect(readState(file)?.forwards).to.deep.equal([])
    } finally {
      repo.remove()
    }
  })
})
