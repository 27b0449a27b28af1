import {chmodSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, truncateSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {expect} from 'chai'
import {execa} from 'execa'

import {buildImages, type BuildOptions, parseBuildTarget} from '../../../src/build/build.js'
import {pastableCommand} from '../../../src/build/builder.js'
import {execaRunner, KILL_AFTER_MS, OutputLines, type ProcessRunner, type RunOptions} from '../../../src/build/process.js'
import {BuildFailedError, ExitCode, type SkycapError} from '../../../src/errors.js'
import {TempHgRepo} from '../../helpers/hg.js'
import {setEnvironment} from '../../helpers/env.js'
import {TempRepo} from '../../helpers/repo.js'
import {memoryReporter} from '../../../src/ui/output.js'

const REGISTRY = '127.0.0.1:5000'

/** A registry at the process boundary: HEAD of a manifest answers from `images` (reference → digest). */
function fakeRegistry(images = new Map<string, string>(), options: {down?: boolean} = {}) {
  const fetch = (async (url: string | URL) => {
    if (options.down) throw new TypeError('fetch failed')
    const m = /^http:\/\/([^/]+)\/v2\/(.+)\/manifests\/(.+)$/.exec(String(url))
    const ref = m ? `${m[1]}/${m[2]}:${m[3]}` : ''
    const digest = images.get(ref)
    return new Response(null, {status: digest ? 200 : 404, headers: digest ? {'docker-content-digest': digest} : {}})
  }) as typeof globalThis.fetch
  return {images, fetch}
}

/** `docker version …`, `docker buildx version`, `podman version …`: how a builder is looked for. */
const isProbe = (argv: string[]) => argv.includes('version')

interface Call {
  argv: string[]
  options: RunOptions
}

/**
 * Builder processes at the boundary: `answer` decides each call's exit code and output; a push (docker push, podman
 * push, buildx --push) that succeeds puts the image into the registry, as the real tools do.
 */
function fakeRunner(
  registry: Map<string, string>,
  answer: (argv: string[], options: RunOptions) => {exitCode?: number; lines?: string[]; missing?: boolean; delayMs?: number} | undefined = () => undefined,
) {
  const calls: Call[] = []
  let running = 0
  let most = 0
  const run: ProcessRunner = async (program, args, options = {}) => {
    const argv = [program, ...args]
    calls.push({argv, options})
    // Concurrency of the build and push steps (the builder probes run before them, two at once).
    const step = argv[1] === 'build' || argv[1] === 'push'
    if (step) running++
    most = Math.max(most, running)
    const a = answer(argv, options) ?? {}
    await new Promise((r) => setTimeout(r, a.delayMs ?? 5))
    const lines = a.lines ?? [`ran ${argv.slice(0, 3).join(' ')}`]
    const output = new OutputLines()
    for (const l of lines) {
      output.push(l)
      options.onLine?.(l)
    }
    if (step) running--
    const exitCode = a.missing ? -1 : (a.exitCode ?? 0)
    if (exitCode === 0) {
      const pushed = argv[1] === 'push' ? argv[2] : argv[2] === 'build' && argv.includes('--push') ? argv[argv.indexOf('--tag') + 1] : argv[1] === 'manifest' ? argv[4] : undefined
      if (pushed) registry.set(pushed, `sha256:${String(registry.size).padStart(64, '0')}`)
    }
    return {exitCode, missing: a.missing ?? false, ...(a.missing ? {lastLines: [`${program}: not found`]} : output.result())}
  }
  return {run, calls, most: () => most}
}

/** docker with a daemon and without buildx (this machine's case). */
const dockerOnly = (argv: string[]) => (argv[1] === 'buildx' && argv[2] === 'version' ? {exitCode: 1, lines: ["docker: 'buildx' is not a docker command."]} : undefined)

const SKYCAP_YAML = (services: string, extra = '') => `app: shop
registry: ${REGISTRY}/team
defaultEnvironment: staging
services:
${services}
environments:
  staging: {namespace: shop-staging}
${extra}`

describe('a failed build step as a command to run here', () => {
  const folder = '/tmp/skycap-build-Ab12'
  it("names the repository's files, relative to where skycap ran, quoted for a POSIX shell", () => {
    const argv = ['docker', 'build', '--tag', 'r.example/shop/web:abc', '--file', `${folder}/app/Dockerfile`, '--build-arg', "MSG=it's me", `${folder}/app`]
    expect(pastableCommand({argv}, folder, '/repo', '/repo/deploy')).to.equal("docker build --tag r.example/shop/web:abc --file ../app/Dockerfile --build-arg 'MSG=it'\\''s me' ../app")
    expect(pastableCommand({argv: ['docker', 'build', '--tag', 'x', folder]}, folder, '/repo', '/repo')).to.equal('docker build --tag x .')
    // A folder whose name only starts like the build folder is left alone.
    expect(pastableCommand({argv: ['ls', `${folder}x/y`]}, folder, '/repo', '/repo')).to.equal(`ls ${folder}x/y`)
  })

  it('build.command: runs in its context (a subshell cd) with its variables, the paths in them absolute', () => {
    const ran = {argv: ['./build.sh', '--out', `${folder}/app/out`], cwd: `${folder}/app`, env: {SKYCAP_IMAGE: 'r/web:t', SKYCAP_CONTEXT: `${folder}/app`}}
    expect(pastableCommand(ran, folder, '/repo', '/repo')).to.equal('(cd app && SKYCAP_IMAGE=r/web:t SKYCAP_CONTEXT=/repo/app ./build.sh --out out)')
  })
})

describe('builder processes', () => {
  it("an interrupt stops the builder and what it started (its process group): a shell's sleep held the output open and skycap waited for it", async function () {
    this.timeout(20_000)
    const controller = new AbortController()
    const dir = mkdtempSync(join(tmpdir(), 'skycap-group-'))
    const pidFile = join(dir, 'sleep.pid')
    try {
      const started = Date.now()
      const run = execaRunner('sh', ['-c', `echo start; sleep 30 & echo $! > ${pidFile}; wait`], {
        onLine: (line) => {
          if (line === 'start') setTimeout(() => controller.abort(), 300)
        },
        signal: controller.signal,
      })
      const result = await run
      expect(Date.now() - started, 'returned soon after the interrupt').to.be.below(10_000)
      expect(result.exitCode).to.not.equal(0)
      const pid = Number(readFileSync(pidFile, 'utf8'))
      let alive = true
      for (let i = 0; i < 50 && alive; i++) {
        try {
          process.kill(pid, 0)
          await new Promise((resolve) => setTimeout(resolve, 100))
        } catch {
          alive = false
        }
      }
      expect(alive, 'the sleep the shell started is gone').to.equal(false)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('the builder process runner: what ignores SIGTERM', () => {
  it('an interrupted builder that traps SIGTERM (and the sleep it started, holding the output open) gets SIGKILL after KILL_AFTER_MS', async function () {
    this.timeout(30_000)
    const controller = new AbortController()
    const started = Date.now()
    const result = await execaRunner('sh', ['-c', 'trap "" TERM INT HUP; echo start; sleep 25'], {
      onLine: (line) => {
        if (line === 'start') setTimeout(() => controller.abort(), 200)
      },
      signal: controller.signal,
    })
    const took = Date.now() - started
    expect(took, 'ended by SIGKILL, not by the sleep').to.be.below(KILL_AFTER_MS + 5000)
    expect(took).to.be.at.least(KILL_AFTER_MS)
    expect(result.exitCode).to.not.equal(0)
  })
})

describe('skycap build (engine)', () => {
  let repo: TempRepo
  afterEach(() => repo?.remove())

  async function build(options: BuildOptions, registry = fakeRegistry(), answer?: Parameters<typeof fakeRunner>[1]) {
    const runner = fakeRunner(registry.images, answer)
    const output: string[] = []
    const report = await buildImages({cwd: repo.dir, ...options}, {run: runner.run, fetch: registry.fetch, output: (l) => output.push(l)})
    return {report, runner, output, registry}
  }

  async function failure(promise: Promise<unknown>): Promise<SkycapError> {
    try {
      await promise
    } catch (error) {
      return error as SkycapError
    }
    throw new Error('expected an error')
  }

  it('docker build + push: exact argv, build args rendered, every push after every build, digests reported, a service without build untouched', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML(
        [
          '  web:',
          '    image: web',
          '    build: {target: prod, args: {REV: "{{ revision.sha }}", IMG: "{{ image }}", N: 3}}',
          '  worker:',
          '    image: worker',
          '    build: {context: worker, dockerfile: Containerfile}',
          '  redis:',
          '    image: redis:7.2',
        ].join('\n'),
      ),
      Dockerfile: 'FROM scratch\n',
      'worker/Containerfile': 'FROM scratch\n',
    })
    const sha = await repo.git('rev-parse', 'HEAD')
    const {report, runner} = await build({}, fakeRegistry(), dockerOnly)
    const web = `${REGISTRY}/team/web:${sha}`
    const worker = `${REGISTRY}/team/worker:${sha}`
    const steps = runner.calls.map((c) => c.argv).filter((a) => a[1] === 'build' || a[1] === 'push')
    const context = steps.find((a) => a.includes(web) && a[1] === 'build')?.at(-1) as string
    expect(context).to.match(/skycap-build-/)
    expect(steps).to.deep.equal([
      ['docker', 'build', '--tag', web, '--file', join(context, 'Dockerfile'), '--target', 'prod', '--build-arg', `REV=${sha}`, '--build-arg', `IMG=${web}`, '--build-arg', 'N=3', context],
      ['docker', 'build', '--tag', worker, '--file', join(context, 'worker', 'Containerfile'), join(context, 'worker')],
      ['docker', 'push', web],
      ['docker', 'push', worker],
    ])
    expect(report).to.include({app: 'shop', environment: 'staging', source: 'revision', tag: sha, builder: 'docker'})
    expect(report.images.map((i) => [i.service, i.image, i.result])).to.deep.equal([
      ['web', web, 'built'],
      ['worker', worker, 'built'],
    ])
    expect(report.images.every((i) => /^sha256:/.test(i.digest ?? ''))).to.equal(true)
    expect(existsSync(context), 'the export is removed afterwards').to.equal(false)
  })

  it('two services that build one image alike are one build and one push, both reported with its digest', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML(['  web:', '    image: app', '    build: {target: prod}', '  worker:', '    image: app', '    build: {target: prod}'].join('\n')),
      Dockerfile: 'FROM scratch\n',
    })
    const sha = await repo.git('rev-parse', 'HEAD')
    const reporter = memoryReporter()
    const registry = fakeRegistry()
    const runner = fakeRunner(registry.images, dockerOnly)
    const report = await buildImages({cwd: repo.dir}, {run: runner.run, fetch: registry.fetch, reporter})
    const image = `${REGISTRY}/team/app:${sha}`
    const steps = runner.calls.map((c) => c.argv.slice(0, 3)).filter((a) => a[1] === 'build' || a[1] === 'push')
    expect(steps).to.deep.equal([
      ['docker', 'build', '--tag'],
      ['docker', 'push', image],
    ])
    const [web, worker] = report.images
    expect([web?.result, worker?.result]).to.deep.equal(['built', 'built'])
    expect(worker?.digest)
      .to.equal(web?.digest)
      .and.match(/^sha256:/)
    expect(reporter.lines).to.include(`worker: ${image} is web's image; built once`)
  })

  it('push: false (skycap up without a registry) builds into the local store under the given registry name: no push, no registry asked; buildx loads instead of pushing; a command gets SKYCAP_PUSH=false', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}\n  tool:\n    image: tool\n    build: {command: [make, image]}'),
      Dockerfile: 'FROM scratch\n',
    })
    const sha = await repo.git('rev-parse', 'HEAD')
    // A registry that is down: push: false must never ask it.
    const down = fakeRegistry(new Map(), {down: true})
    const docker = await build({push: false, registry: 'localhost:5001'}, down, dockerOnly)
    const web = `localhost:5001/web:${sha}`
    const steps = docker.runner.calls.filter((c) => ['build', 'push', 'make'].includes(c.argv[1] as string) || c.argv[0] === 'make')
    expect(steps.map((c) => c.argv.slice(0, 3))).to.deep.equal([
      ['docker', 'build', '--tag'],
      ['make', 'image'],
    ])
    expect(steps[0]?.argv[3]).to.equal(web)
    expect(steps[1]?.options.env).to.include({SKYCAP_IMAGE: `localhost:5001/tool:${sha}`, SKYCAP_PUSH: 'false'})
    expect(docker.report.images.map((i) => [i.service, i.image, i.result, i.digest])).to.deep.equal([
      ['web', web, 'built', null],
      ['tool', `localhost:5001/tool:${sha}`, 'built', null],
    ])
    const buildx = await build({push: false, services: ['web']}, down)
    const bx = buildx.runner.calls.find((c) => c.argv[2] === 'build')
    expect(bx?.argv.slice(0, 5)).to.deep.equal(['docker', 'buildx', 'build', '--load', '--tag'])
    expect(bx?.argv[5]).to.equal(`${REGISTRY}/team/web:${sha}`)
  })

  it('chooses docker buildx when it is there: one step with --push and every platform', async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {platforms: [linux/amd64, linux/arm64]}'), Dockerfile: 'FROM scratch\n'})
    const sha = await repo.git('rev-parse', 'HEAD')
    const {report, runner} = await build({})
    const ref = `${REGISTRY}/team/web:${sha}`
    const builds = runner.calls.filter((c) => c.argv[2] === 'build')
    expect(builds).to.have.length(1)
    const ctx = builds[0]?.argv.at(-1) as string
    expect(builds[0]?.argv).to.deep.equal(['docker', 'buildx', 'build', '--push', '--tag', ref, '--file', join(ctx, 'Dockerfile'), '--platform', 'linux/amd64,linux/arm64', ctx])
    expect(runner.calls.some((c) => c.argv[1] === 'push')).to.equal(false)
    expect(report.builder).to.equal('buildx')
  })

  it('falls back to podman without a docker daemon; several platforms make a manifest list pushed with --all; build args or platforms build without the layer cache', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML(
        '  web:\n    image: web\n    build: {platforms: [linux/amd64, linux/arm64]}\n  api:\n    image: api\n    build: {}\n  greeter:\n    image: greeter\n    build: {args: {GREETING: "{{ revision.short }}"}}',
      ),
      Dockerfile: 'FROM scratch\n',
    })
    const sha = await repo.git('rev-parse', 'HEAD')
    const noDaemon = (argv: string[]) =>
      argv[0] === 'docker' ? {exitCode: 1, lines: ['Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?']} : undefined
    const {report, runner} = await build({}, fakeRegistry(), noDaemon)
    const web = `${REGISTRY}/team/web:${sha}`
    const api = `${REGISTRY}/team/api:${sha}`
    const podman = runner.calls.map((c) => c.argv).filter((a) => a[0] === 'podman' && a[1] !== 'version')
    const ctx = podman[0]?.at(-1) as string
    const greeter = `${REGISTRY}/team/greeter:${sha}`
    // podman 4.3's layer cache kept a changed build arg's old value, and gave two platforms one mislabelled image.
    expect(podman).to.deep.equal([
      ['podman', 'build', '--manifest', web, '--layers=false', '--file', join(ctx, 'Dockerfile'), '--platform', 'linux/amd64,linux/arm64', ctx],
      ['podman', 'build', '--tag', api, '--file', join(ctx, 'Dockerfile'), ctx],
      ['podman', 'build', '--tag', greeter, '--layers=false', '--file', join(ctx, 'Dockerfile'), '--build-arg', `GREETING=${sha.slice(0, 7)}`, ctx],
      ['podman', 'manifest', 'push', '--all', web, `docker://${web}`],
      ['podman', 'push', api],
      ['podman', 'push', greeter],
    ])
    expect(report.builder).to.equal('podman')
  })

  it('--builder docker refuses several platforms before building (exit 2, file:line)', async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {platforms: [linux/amd64, linux/arm64]}'), Dockerfile: 'FROM scratch\n'})
    const registry = fakeRegistry()
    const runner = fakeRunner(registry.images)
    const error = await failure(buildImages({cwd: repo.dir, builder: 'docker'}, {run: runner.run, fetch: registry.fetch}))
    expect(error.exitCode).to.equal(ExitCode.INVALID)
    expect(error.message).to.match(/skycap\.yaml:7:\d+ \(at [0-9a-f]{7}\): services\.web\.build\.platforms lists 2 platforms, but docker builds one/)
    expect(runner.calls.filter((c) => c.argv[1] === 'build')).to.have.length(0)
  })

  it('no builder: exit 2 naming what was looked for and why, and what to install, or that the docker daemon does not answer', async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}'), Dockerfile: 'FROM scratch\n'})
    const registry = fakeRegistry()
    const runner = fakeRunner(registry.images, (argv) => (argv[0] === 'docker' ? {exitCode: 1, lines: ['Cannot connect to the Docker daemon']} : {missing: true}))
    const error = await failure(buildImages({cwd: repo.dir}, {run: runner.run, fetch: registry.fetch}))
    expect(error.exitCode).to.equal(ExitCode.INVALID)
    expect(error.code).to.equal('no_builder')
    expect(error.message).to.include('docker buildx (docker buildx version: Cannot connect to the Docker daemon)')
    expect(error.message).to.include('docker build + push (docker version: Cannot connect to the Docker daemon)')
    expect(error.message).to.include('podman (podman version: podman is not installed)')
    // docker is there and its daemon is not: the hint is about the daemon, not about installing docker.
    expect(error.hint).to.match(/^docker is installed, but its daemon does not answer at /)
    expect(error.hint).to.include('is dockerd running').and.include('install podman').and.not.include('Install Docker')
    const forced = await failure(buildImages({cwd: repo.dir, builder: 'buildx'}, {run: runner.run, fetch: registry.fetch}))
    expect(forced.message).to.match(/^no image builder found for --builder buildx: looked for docker buildx/)
    expect(forced.hint).to.include('docker-buildx')
    const restore = setEnvironment({DOCKER_HOST: 'unix:///run/elsewhere.sock'})
    try {
      const docker = await failure(buildImages({cwd: repo.dir, builder: 'docker'}, {run: runner.run, fetch: registry.fetch}))
      expect(docker.message).to.equal('no image builder found for --builder docker: looked for docker build + push (docker version: Cannot connect to the Docker daemon)')
      expect(docker.hint).to.equal(
        'docker is installed, but its daemon does not answer at DOCKER_HOST=unix:///run/elsewhere.sock: is dockerd running (systemctl start docker, or Docker Desktop), and may this user use its socket? Set DOCKER_HOST to a daemon elsewhere, or choose --builder podman.',
      )
    } finally {
      restore()
    }
    // No docker at all: what to install.
    const nothing = fakeRunner(registry.images, () => ({missing: true}))
    const none = await failure(buildImages({cwd: repo.dir}, {run: nothing.run, fetch: registry.fetch}))
    expect(none.hint).to.include('apt-get install docker.io')
  })

  it("says why a builder is not there with the line that tells (not docker's pointer to --help), or that it printed nothing", async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}'), Dockerfile: 'FROM scratch\n'})
    const registry = fakeRegistry()
    const runner = fakeRunner(registry.images, (argv) =>
      argv[1] === 'buildx'
        ? {exitCode: 1, lines: ['docker: unknown command: docker buildx', '', "Run 'docker --help' for more information"]}
        : argv[0] === 'podman'
          ? {exitCode: 125, lines: []}
          : undefined,
    )
    const buildx = await failure(buildImages({cwd: repo.dir, builder: 'buildx'}, {run: runner.run, fetch: registry.fetch}))
    expect(buildx.message).to.equal('no image builder found for --builder buildx: looked for docker buildx (docker buildx version: docker: unknown command: docker buildx)')
    const podman = await failure(buildImages({cwd: repo.dir, builder: 'podman'}, {run: runner.run, fetch: registry.fetch}))
    expect(podman.message).to.equal('no image builder found for --builder podman: looked for podman (podman version: exit 125 (it printed nothing))')
  })

  it('a failed step that printed nothing says so; an error line that scrolled out of the last lines is kept (the real process runner)', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML(
        [
          '  silent:',
          '    image: silent',
          "    build: {command: [sh, -c, 'exit 3']}",
          '  chatty:',
          '    image: chatty',
          '    build: {command: [sh, -c, \'echo start; echo "error: boom"; for i in $(seq 1 30); do echo line $i; done; exit 4\']}',
        ].join('\n'),
      ),
    })
    const registry = fakeRegistry()
    const error = await failure(buildImages({cwd: repo.dir}, {run: execaRunner, fetch: registry.fetch}))
    expect(error).to.be.instanceOf(BuildFailedError)
    expect(error.message).to.match(/\nsilent: sh exited 3 \(it printed nothing\)(\n|$)/)
    expect(error.message).to.match(/\nchatty: sh exited 4; its first error line:\n {2}chatty \| error: boom\nchatty: and its last lines:\n {2}chatty \| line 11\n/)
    expect((error.details?.failures as any[]).find((f) => f.service === 'silent').lastLines).to.deep.equal([])
    expect((error.details?.failures as any[]).find((f) => f.service === 'chatty').firstError).to.equal('error: boom')
  })

  it('a failed build exits 1 with its last lines, lets the running build finish, starts no other and pushes nothing', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML(['a', 'b', 'c', 'd'].map((s) => `  ${s}:\n    image: ${s}\n    build: {}`).join('\n')),
      Dockerfile: 'FROM scratch\n',
    })
    const lines = Array.from({length: 30}, (_, i) => `step ${i}`)
    const registry = fakeRegistry()
    const runner = fakeRunner(registry.images, (argv) =>
      argv[1] === 'build' && argv[3]?.includes('/team/b:') ? {exitCode: 1, lines: [...lines, 'COPY failed: no such file'], delayMs: 0} : argv[1] === 'build' ? {delayMs: 50} : dockerOnly(argv),
    )
    const error = await failure(buildImages({cwd: repo.dir, jobs: 2}, {run: runner.run, fetch: registry.fetch}))
    expect(error).to.be.instanceOf(BuildFailedError)
    expect(error.exitCode).to.equal(ExitCode.FAILED)
    expect(error.message).to.match(/^build of b failed; nothing was pushed; c, d were not built \(not started after the failure\)\nb: docker build exited 1; its last lines:\n {2}b \| step 11\n/)
    expect(error.message).to.match(/ {2}b \| COPY failed: no such file$/)
    // The build ran in a temporary export; the command to run here builds the repository's own folder.
    expect(error.hint).to.match(new RegExp(`^Fix the build, commit, and build again\\. What failed, to run here: docker build --tag ${REGISTRY}/team/b:[0-9a-f]{40} --file Dockerfile \\.$`))
    expect((error.details?.failures as any[])[0].lastLines).to.have.length(20)
    const started = runner.calls.filter((c) => c.argv[1] === 'build').map((c) => c.argv[3]?.split('/').at(-1)?.split(':')[0])
    expect(started, 'a and b ran at once; nothing started after b failed').to.deep.equal(['a', 'b'])
    expect(runner.calls.filter((c) => c.argv[1] === 'push')).to.have.length(0)
    expect(registry.images.size).to.equal(0)
  })

  it('a push a plain-HTTP registry refuses (the builder asked over HTTPS) says to mark it insecure for the builder, not to log in', async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  a:\n    image: a\n    build: {}'), Dockerfile: 'FROM scratch\n'})
    const registry = fakeRegistry()
    const refused = `Error: trying to reuse blob sha256:0 at destination: pinging container registry ${REGISTRY}: Get "https://${REGISTRY}/v2/": http: server gave HTTP response to HTTPS client`
    const runner = fakeRunner(registry.images, (argv) => (argv[1] === 'push' ? {exitCode: 125, lines: [refused]} : dockerOnly(argv)))
    const error = await failure(buildImages({cwd: repo.dir}, {run: runner.run, fetch: registry.fetch}))
    expect(error.message).to.match(/^push of a failed/)
    expect(error.hint).to.match(/^The registry speaks plain HTTP and the builder asked it over HTTPS: mark it insecure for the builder \(podman: .*registries\.conf; docker: "insecure-registries"/)
  })

  it('a Ctrl-C during docker push says which images were pushed, which push it cut off, and which never started (it said "some images may have been pushed")', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML(['a', 'b', 'c'].map((s) => `  ${s}:\n    image: ${s}\n    build: {}`).join('\n')),
      Dockerfile: 'FROM scratch\n',
    })
    const registry = fakeRegistry()
    const controller = new AbortController()
    // One push at a time: a is pushed, the Ctrl-C comes while b pushes (it fails as docker does when signalled), c never starts.
    const runner = fakeRunner(registry.images, (argv) => {
      if (argv[1] === 'push' && argv[2]?.includes('/team/b:')) {
        controller.abort()
        return {exitCode: 130, delayMs: 10}
      }
      return dockerOnly(argv)
    })
    const error = await failure(buildImages({cwd: repo.dir, jobs: 1}, {run: runner.run, fetch: registry.fetch, signal: controller.signal}))
    expect(error.exitCode).to.equal(ExitCode.INTERRUPTED)
    expect(error.message).to.equal('interrupted during the push; a was pushed; b stopped while pushing and may be in the registry; c was not pushed')
    expect([...registry.images.keys()].map((k) => k.split('/').at(-1)?.split(':')[0])).to.deep.equal(['a'])
  })

  it('a builder that pushes as it builds (build.command, buildx): a failure or a Ctrl-C says which images are in the registry, never "nothing was pushed"; the hint asks for a commit only when a revision was built', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML(['quick', 'slow'].map((s) => `  ${s}:\n    image: ${s}\n    build: {command: [make, ${s}]}`).join('\n')),
    })
    const sha = await repo.git('rev-parse', 'HEAD')
    const registry = fakeRegistry()
    const controller = new AbortController()
    // quick builds and pushes its image; slow fails (or is stopped by a Ctrl-C) after quick is done.
    const runner = (slow: () => {exitCode: number}) =>
      fakeRunner(registry.images, (argv) => {
        if (argv[1] === 'quick') {
          registry.images.set(`${REGISTRY}/team/quick:${sha}`, `sha256:${'1'.repeat(64)}`)
          return {delayMs: 0}
        }
        return {delayMs: 50, ...slow()}
      })
    const failed = await failure(buildImages({cwd: repo.dir, jobs: 2}, {run: runner(() => ({exitCode: 2})).run, fetch: registry.fetch}))
    expect(failed).to.be.instanceOf(BuildFailedError)
    expect(failed.message).to.match(/^build of slow failed; quick was pushed as it built; nothing else was pushed\nslow: make slow exited 2/)
    // What failed, to run here: build.command with the variables it got, the context the repository's own folder.
    expect(failed.hint).to.equal(
      `Fix the build, commit, and build again. What failed, to run here: SKYCAP_IMAGE=${REGISTRY}/team/slow:${sha} SKYCAP_IMAGE_TAG=${sha} SKYCAP_SERVICE=slow SKYCAP_CONTEXT=${realpathSync(repo.dir)} SKYCAP_PUSH=true make slow`,
    )
    // The work tree as it is (--work-tree, skycap up): the fix needs no commit.
    const dirty = await failure(buildImages({cwd: repo.dir, jobs: 2, workTree: true}, {run: runner(() => ({exitCode: 2})).run, fetch: registry.fetch}))
    expect(dirty.hint).to.match(/^Fix the build, then build again\. What failed, to run here: SKYCAP_IMAGE=\S+ .* make slow$/)
    registry.images.clear()
    const interrupted = await failure(
      buildImages(
        {cwd: repo.dir, jobs: 2},
        {
          run: runner(() => {
            controller.abort()
            return {exitCode: -1}
          }).run,
          fetch: registry.fetch,
          signal: controller.signal,
        },
      ),
    )
    expect(interrupted.exitCode).to.equal(ExitCode.INTERRUPTED)
    expect(interrupted.message).to.equal('interrupted during the build; quick was pushed as it built; slow stopped while building and may have pushed')
  })

  it('a failure or a Ctrl-C says what the registry has, not what the builder claimed: a build.command that exited 0 without pushing, a build that had failed before the Ctrl-C, the pushes done before a failed push', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML(['quick', 'slow'].map((s) => `  ${s}:\n    image: ${s}\n    build: {command: [make, ${s}]}`).join('\n')),
    })
    const registry = fakeRegistry()
    // quick exits 0 without pushing (it was said "pushed as it built"); slow fails.
    const unpushed = fakeRunner(registry.images, (argv) => (argv[1] === 'quick' ? {delayMs: 0} : {delayMs: 50, exitCode: 2}))
    const failed = await failure(buildImages({cwd: repo.dir, jobs: 2}, {run: unpushed.run, fetch: registry.fetch}))
    expect(failed.message).to.match(/^build of slow failed; quick built but its image is not in the registry; nothing else was pushed\nslow: make slow exited 2/)
    // slow fails at once; the Ctrl-C comes while quick still runs: slow had failed (it was "stopped while building").
    const controller = new AbortController()
    const late = fakeRunner(registry.images, (argv) => {
      if (argv[1] === 'slow') return {delayMs: 0, exitCode: 3}
      setTimeout(() => controller.abort(), 30)
      return {delayMs: 80, exitCode: 130}
    })
    const interrupted = await failure(buildImages({cwd: repo.dir, jobs: 2}, {run: late.run, fetch: registry.fetch, signal: controller.signal}))
    expect(interrupted.exitCode).to.equal(ExitCode.INTERRUPTED)
    expect(interrupted.message).to.equal('interrupted during the build; slow had failed (make slow exited 3); quick stopped while building and may have pushed')

    // docker push: a is pushed, b's push fails; the message said only that the images listed were not pushed.
    repo.remove()
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML(['a', 'b'].map((s) => `  ${s}:\n    image: ${s}\n    build: {}`).join('\n')),
      Dockerfile: 'FROM scratch\n',
    })
    const pushes = fakeRunner(registry.images, (argv) => (argv[1] === 'push' && argv[2]?.includes('/team/b:') ? {exitCode: 1, lines: ['received unexpected HTTP status: 500']} : dockerOnly(argv)))
    const pushFailed = await failure(buildImages({cwd: repo.dir, jobs: 1}, {run: pushes.run, fetch: registry.fetch}))
    expect(pushFailed.message).to.match(/^push of b failed; the images listed were not pushed; a was pushed\n/)
  })

  it('skips images the registry has (with their digest), --force builds them; an unreachable registry is exit 4 before anything is built', async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}\n  api:\n    image: api\n    build: {}'), Dockerfile: 'FROM scratch\n'})
    const sha = await repo.git('rev-parse', 'HEAD')
    const registry = fakeRegistry(new Map([[`${REGISTRY}/team/web:${sha}`, 'sha256:' + 'a'.repeat(64)]]))
    const first = await build({}, registry, dockerOnly)
    expect(first.report.images.map((i) => [i.service, i.result, i.digest === 'sha256:' + 'a'.repeat(64)])).to.deep.equal([
      ['web', 'skipped', true],
      ['api', 'built', false],
    ])
    expect(first.runner.calls.filter((c) => c.argv[1] === 'build').map((c) => c.argv[3])).to.deep.equal([`${REGISTRY}/team/api:${sha}`])
    const again = await build({}, registry, dockerOnly)
    expect(again.report.images.map((i) => i.result)).to.deep.equal(['skipped', 'skipped'])
    expect(again.report.builder, 'no builder is chosen when nothing is built').to.equal(null)
    // The builder may be probed while the registry is asked (docker version, docker buildx version); nothing else runs.
    expect(again.runner.calls.filter((c) => !isProbe(c.argv))).to.deep.equal([])
    const forced = await build({force: true, services: ['web']}, registry, dockerOnly)
    expect(forced.report.images.map((i) => [i.service, i.result])).to.deep.equal([['web', 'built']])
    // The skip names --force only for a command that has it (skycap up has none).
    for (const forceFlag of [true, false]) {
      const reporter = memoryReporter()
      await buildImages({cwd: repo.dir, forceFlag}, {run: fakeRunner(registry.images, dockerOnly).run, fetch: registry.fetch, reporter})
      expect(
        reporter.lines.filter((l) => l.includes('is in the registry; skipped')),
        String(forceFlag),
      ).to.deep.equal(['web', 'api'].map((s) => `${s}: ${REGISTRY}/team/${s}:${sha} is in the registry; skipped${forceFlag ? ' (--force builds it again)' : ''}`))
    }

    const down = fakeRegistry(new Map(), {down: true})
    const runner = fakeRunner(down.images)
    const error = await failure(buildImages({cwd: repo.dir}, {run: runner.run, fetch: down.fetch}))
    expect(error.exitCode).to.equal(ExitCode.UNREACHABLE)
    expect(error.message).to.include(`cannot reach ${REGISTRY}`).and.include('nothing was built or pushed')
    expect(
      runner.calls.filter((c) => !isProbe(c.argv)),
      'nothing but the builder probes ran',
    ).to.deep.equal([])
  })

  it('probes for the builder while the registry is asked, not after its answer', async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}'), Dockerfile: 'FROM scratch\n'})
    const registry = fakeRegistry()
    const events: string[] = []
    const slow = (async (url: string | URL, init?: RequestInit) => {
      events.push('registry asked')
      await new Promise((r) => setTimeout(r, 100))
      events.push('registry answered')
      return registry.fetch(url, init)
    }) as typeof globalThis.fetch
    const runner = fakeRunner(registry.images, (argv) => {
      events.push(argv.slice(0, 2).join(' '))
      return argv[1] === 'buildx' ? {exitCode: 1, lines: ['docker: unknown command: docker buildx']} : undefined
    })
    const report = await buildImages({cwd: repo.dir}, {run: runner.run, fetch: slow})
    expect(report.builder).to.equal('docker')
    expect(events.indexOf('docker version')).to.be.below(events.indexOf('registry answered'))
    expect(events.indexOf('docker buildx')).to.be.below(events.indexOf('registry answered'))
    expect(events.indexOf('docker build')).to.be.above(events.indexOf('registry answered'))
  })

  it('stops the builder probes when nothing is to be built: a docker that never answers holds neither a build of images the registry has nor an unreachable registry', async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}'), Dockerfile: 'FROM scratch\n'})
    const sha = await repo.git('rev-parse', 'HEAD')
    // Each probe takes a minute (past this test's timeout) unless it is stopped.
    const hanging = () => {
      const runner = fakeRunner(new Map())
      const run: ProcessRunner = async (program, args, options = {}) => {
        if (!args.includes('version')) return runner.run(program, args, options)
        runner.calls.push({argv: [program, ...args], options})
        await new Promise((r) => {
          const timer = setTimeout(r, 60_000)
          options.signal?.addEventListener('abort', () => (clearTimeout(timer), r(undefined)))
        })
        return {exitCode: options.signal?.aborted ? -1 : 0, missing: false, lastLines: []}
      }
      return {run, calls: runner.calls}
    }
    const present = fakeRegistry(new Map([[`${REGISTRY}/team/web:${sha}`, 'sha256:' + 'a'.repeat(64)]]))
    const skipped = hanging()
    const report = await buildImages({cwd: repo.dir}, {run: skipped.run, fetch: present.fetch})
    expect(report.images.map((i) => i.result)).to.deep.equal(['skipped'])
    const down = hanging()
    const error = await failure(buildImages({cwd: repo.dir}, {run: down.run, fetch: fakeRegistry(new Map(), {down: true}).fetch}))
    expect(error.exitCode).to.equal(ExitCode.UNREACHABLE)
    await new Promise((r) => setTimeout(r, 50))
    expect(skipped.calls, 'the probes started').to.have.length.above(0)
    expect(down.calls, 'the probes started').to.have.length.above(0)
    for (const call of [...skipped.calls, ...down.calls]) expect(call.options.signal?.aborted, call.argv.join(' ')).to.equal(true)
  })

  it('runs at most --jobs builds at once and prefixes every output line with its service', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML(['one', 'two', 'three', 'four', 'five'].map((s) => `  ${s}:\n    image: ${s}\n    build: {}`).join('\n')),
      Dockerfile: 'FROM scratch\n',
    })
    for (const jobs of [1, 2, 3]) {
      const {runner, output, report} = await build({jobs, force: true}, fakeRegistry(), dockerOnly)
      expect(runner.most(), `--jobs ${jobs}`).to.equal(jobs)
      expect(report.images).to.have.length(5)
      expect(output.filter((l) => /^one {3}\| ran docker build/.test(l))).to.have.length(1)
      expect(output.filter((l) => /^three \| ran docker push/.test(l))).to.have.length(1)
    }
  })

  it('build.command runs in the context with SKYCAP_IMAGE; one that does not push is a failed build', async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {context: app, command: [make, image]}'), 'app/Makefile': 'image:\n'})
    const sha = await repo.git('rev-parse', 'HEAD')
    const ref = `${REGISTRY}/team/web:${sha}`
    const registry = fakeRegistry()
    const pushes = (argv: string[], options: RunOptions) => {
      if (argv[0] === 'make') registry.images.set(options.env?.SKYCAP_IMAGE as string, 'sha256:' + 'c'.repeat(64))
      return undefined
    }
    const {report, runner} = await build({}, registry, pushes)
    expect(runner.calls.map((c) => c.argv)).to.deep.equal([['make', 'image']], 'no builder is probed for a command')
    const call = runner.calls[0] as Call
    expect(call.options.env).to.include({SKYCAP_IMAGE: ref, SKYCAP_IMAGE_TAG: sha, SKYCAP_SERVICE: 'web'})
    expect(call.options.cwd).to.match(/skycap-build-.*\/app$/)
    expect(report.builder).to.equal('command')
    expect(report.images[0]).to.include({result: 'built', digest: 'sha256:' + 'c'.repeat(64)})

    const lazy = fakeRegistry()
    const runner2 = fakeRunner(lazy.images)
    const error = await failure(buildImages({cwd: repo.dir}, {run: runner2.run, fetch: lazy.fetch}))
    expect(error.exitCode).to.equal(ExitCode.FAILED)
    expect(error.message).to.equal(`web: the build passed but ${ref} is not in the registry`)
    expect(error.hint).to.include('$SKYCAP_IMAGE')

    // A command whose program is not there never ran: said so, not "exited -1".
    const absent = await failure(build({}, fakeRegistry(), (argv) => (argv[0] === 'make' ? {missing: true} : undefined)))
    expect(absent.exitCode).to.equal(ExitCode.FAILED)
    expect(absent.message).to.match(/\nweb: make image could not start: make was not found \(is it installed, on PATH\?\)/)
  })

  it('a build.command that exits 0 without pushing beside a docker build: the failure names every image missing and those pushed (docker pushed web once every build passed)', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML(
        '  web:\n    image: web\n    build: {}\n  worker:\n    image: worker\n    build: {command: [make, image]}\n  cron:\n    image: cron\n    build: {command: [make, cron]}',
      ),
      Dockerfile: 'FROM scratch\n',
    })
    const sha = await repo.git('rev-parse', 'HEAD')
    const registry = fakeRegistry()
    const error = await failure(build({}, registry, dockerOnly))
    expect(error).to.be.instanceOf(BuildFailedError)
    expect(error.message).to.equal('worker, cron: the build passed but their images are not in the registry; web was pushed')
    expect(registry.images.has(`${REGISTRY}/team/web:${sha}`)).to.equal(true)
    expect(error.details).to.deep.include({
      service: 'worker',
      missing: [
        {service: 'worker', image: `${REGISTRY}/team/worker:${sha}`},
        {service: 'cron', image: `${REGISTRY}/team/cron:${sha}`},
      ],
      pushed: [{service: 'web', image: `${REGISTRY}/team/web:${sha}`, digest: registry.images.get(`${REGISTRY}/team/web:${sha}`)}],
    })
  })

  it('a Ctrl-C during docker builds names what was built and not pushed, what it stopped, and what never started', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML(['a', 'b', 'c'].map((s) => `  ${s}:\n    image: ${s}\n    build: {dockerfile: ${s}.Dockerfile}`).join('\n')),
      'a.Dockerfile': 'FROM scratch\n',
      'b.Dockerfile': 'FROM scratch\n',
      'c.Dockerfile': 'FROM scratch\n',
    })
    const controller = new AbortController()
    // --jobs 1: a builds, b is stopped mid-way by the Ctrl-C, c never starts.
    const runner = fakeRunner(new Map(), (argv) => {
      if (dockerOnly(argv)) return dockerOnly(argv)
      if (argv[1] === 'build' && argv.some((a) => a.endsWith('b.Dockerfile'))) {
        setTimeout(() => controller.abort(), 10)
        return {delayMs: 40, exitCode: 130}
      }
      return undefined
    })
    const registry = fakeRegistry()
    const interrupted = await failure(buildImages({cwd: repo.dir, jobs: 1}, {run: runner.run, fetch: registry.fetch, signal: controller.signal}))
    expect(interrupted.exitCode).to.equal(ExitCode.INTERRUPTED)
    expect(interrupted.message).to.equal('interrupted during the build; a was built, not pushed; b stopped while building; c was not built (not started); nothing was pushed')
    expect(registry.images.size).to.equal(0)
  })

  it('builds a clean export of the revision: uncommitted and ignored files never reach it; older revisions build their own files', async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}'), Dockerfile: 'FROM scratch\n', 'msg.txt': 'one\n', '.gitignore': 'secret.env\n'})
    const first = await repo.git('rev-parse', 'HEAD')
    repo.write('msg.txt', 'two\n')
    const second = await repo.commit('two')
    repo.write('msg.txt', 'uncommitted\n')
    repo.write('secret.env', 'TOKEN=x\n')
    repo.write('untracked.txt', 'new\n')
    const seen: Record<string, string[]> = {}
    const look = (argv: string[]) => {
      if (argv[1] === 'build') {
        const ctx = argv.at(-1) as string
        seen[argv[3] as string] = [readFileSync(join(ctx, 'msg.txt'), 'utf8'), String(existsSync(join(ctx, 'secret.env'))), String(existsSync(join(ctx, 'untracked.txt')))]
      }
      return dockerOnly(argv)
    }
    await build({revision: 'HEAD'}, fakeRegistry(), look)
    await build({revision: first.slice(0, 7)}, fakeRegistry(), look)
    expect(seen).to.deep.equal({
      [`${REGISTRY}/team/web:${second}`]: ['two\n', 'false', 'false'],
      [`${REGISTRY}/team/web:${first}`]: ['one\n', 'false', 'false'],
    })
  })

  it("warns that the work tree's uncommitted changes are not in the images of its revision; not for another revision, --work-tree or a clean tree (git and Mercurial)", async function () {
    this.timeout(120_000)
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}'), Dockerfile: 'FROM scratch\n', 'msg.txt': 'one\n'})
    const first = await repo.git('rev-parse', 'HEAD')
    repo.write('msg.txt', 'two\n')
    await repo.commit('two')
    const warnings = async (options: BuildOptions, dir = repo.dir) => {
      const reporter = memoryReporter()
      const registry = fakeRegistry()
      await buildImages({cwd: dir, ...options}, {run: fakeRunner(registry.images, dockerOnly).run, fetch: registry.fetch, reporter})
      return reporter.warnings
    }
    expect(await warnings({}), 'a clean work tree').to.deep.equal([])
    repo.write('msg.txt', 'uncommitted\n')
    const short = (await repo.git('rev-parse', 'HEAD')).slice(0, 7)
    const said = `the work tree has uncommitted changes (untracked files count); they are not in the images of ${short}, a clean export of the commit: commit them, or build them with --work-tree`
    expect(await warnings({})).to.deep.equal([said])
    expect(await warnings({revision: 'HEAD'})).to.deep.equal([said])
    expect(await warnings({revision: first.slice(0, 7)}), 'another revision').to.deep.equal([])
    expect(await warnings({workTree: true}), '--work-tree builds them').to.deep.equal([])
    expect(await warnings({warnUncommitted: false}), 'deploy --build warns itself').to.deep.equal([])
    const hg = await TempHgRepo.init()
    try {
      hg.write('skycap.yaml', SKYCAP_YAML('  web:\n    image: web\n    build: {}'))
      hg.write('Dockerfile', 'FROM scratch\n')
      hg.write('msg.txt', 'one\n')
      await hg.commit('one')
      expect(await warnings({}, hg.dir), 'a clean hg work tree').to.deep.equal([])
      hg.write('msg.txt', 'uncommitted\n')
      expect((await warnings({}, hg.dir))[0]).to.match(/^the work tree has uncommitted changes .* not in the images of [0-9a-f]{12}, /)
    } finally {
      hg.remove()
    }
  })

  it("the work tree's status (only for the warning) runs beside the export, not before it", async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}'), Dockerfile: 'FROM scratch\n'})
    repo.write('Dockerfile', 'FROM scratch\nLABEL uncommitted=yes\n')
    // A git first on PATH that logs when each status and archive starts and ends; a status takes 600 ms.
    const realGit = (await execa('sh', ['-c', 'command -v git'])).stdout.trim()
    const shim = mkdtempSync(join(tmpdir(), 'skycap-git-slow-status-'))
    const log = join(shim, 'calls.log')
    writeFileSync(
      join(shim, 'git'),
      `#!/bin/sh
case " $* " in *" status "*) what=status ;; *" archive "*) what=archive ;; *) exec '${realGit}' "$@" ;; esac
echo "start $what" >>'${log}'
[ "$what" = status ] && sleep 0.6
'${realGit}' "$@"; rc=$?
echo "end $what" >>'${log}'
exit $rc
`,
    )
    chmodSync(join(shim, 'git'), 0o755)
    const restore = setEnvironment({PATH: `${shim}:${process.env.PATH ?? ''}`})
    try {
      const reporter = memoryReporter()
      const registry = fakeRegistry()
      await buildImages({cwd: repo.dir}, {run: fakeRunner(registry.images, dockerOnly).run, fetch: registry.fetch, reporter})
      const calls = readFileSync(log, 'utf8').trim().split('\n')
      expect(calls.indexOf('end archive'), calls.join(', ')).to.be.below(calls.indexOf('end status'))
      expect(reporter.warnings, 'the warning is still given').to.have.length(1)
      expect(reporter.warnings[0]).to.match(/^the work tree has uncommitted changes/)
    } finally {
      restore()
      rmSync(shim, {recursive: true, force: true})
    }
  })

  it("a Ctrl-C that stops the export (the terminal signals git too) is an interruption that says nothing was built or pushed, not git's own words", async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}'), Dockerfile: 'FROM scratch\n'})
    const realGit = (await execa('sh', ['-c', 'command -v git'])).stdout.trim()
    const shim = mkdtempSync(join(tmpdir(), 'skycap-git-interrupted-'))
    // git archive dies of SIGINT, as it does when the terminal signals the whole process group.
    writeFileSync(join(shim, 'git'), `#!/bin/sh\ncase " $* " in *" archive "*) kill -INT $$; sleep 5 ;; esac\nexec '${realGit}' "$@"\n`)
    chmodSync(join(shim, 'git'), 0o755)
    const restore = setEnvironment({PATH: `${shim}:${process.env.PATH ?? ''}`})
    try {
      const calls: string[][] = []
      const error = await failure(
        build({revision: 'HEAD'}, fakeRegistry(), (argv) => {
          calls.push(argv)
          return dockerOnly(argv)
        }),
      )
      expect(error.exitCode).to.equal(ExitCode.INTERRUPTED)
      expect(error.message).to.match(/^interrupted while exporting [0-9a-f]{7}; nothing was built or pushed$/)
      expect(calls.filter((argv) => argv[1] === 'build' || argv[1] === 'push')).to.deep.equal([])
    } finally {
      restore()
      rmSync(shim, {recursive: true, force: true})
    }
  })

  it('a SIGINT to skycap alone during the export (a CI runner cancelling the job; git finishes): stopped before any build, said as the export (it built on and said "interrupted during the build")', async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}'), Dockerfile: 'FROM scratch\n'})
    const realGit = (await execa('sh', ['-c', 'command -v git'])).stdout.trim()
    const shim = mkdtempSync(join(tmpdir(), 'skycap-git-cancelled-'))
    // The archive takes 300 ms and ends normally; the cancel comes while it runs.
    writeFileSync(join(shim, 'git'), `#!/bin/sh\ncase " $* " in *" archive "*) sleep 0.3 ;; esac\nexec '${realGit}' "$@"\n`)
    chmodSync(join(shim, 'git'), 0o755)
    const restore = setEnvironment({PATH: `${shim}:${process.env.PATH ?? ''}`})
    try {
      const registry = fakeRegistry()
      const runner = fakeRunner(registry.images, dockerOnly)
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 100)
      const error = await failure(buildImages({cwd: repo.dir, revision: 'HEAD'}, {run: runner.run, fetch: registry.fetch, signal: controller.signal}))
      expect(error.exitCode).to.equal(ExitCode.INTERRUPTED)
      expect(error.message).to.match(/^interrupted while exporting [0-9a-f]{7}; nothing was built or pushed$/)
      expect(runner.calls.filter((c) => c.argv[1] === 'build' || c.argv[1] === 'push')).to.deep.equal([])
    } finally {
      restore()
      rmSync(shim, {recursive: true, force: true})
    }
  })

  it("exports a commit's files as committed, whatever this machine's core.autocrlf would do to them on checkout", async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}'), Dockerfile: 'FROM scratch\n', 'run.sh': '#!/bin/sh\necho hi\n'})
    await repo.git('config', 'core.autocrlf', 'true')
    const seen: string[] = []
    await build({revision: 'HEAD'}, fakeRegistry(), (argv) => {
      if (argv[1] === 'build') seen.push(readFileSync(join(argv.at(-1) as string, 'run.sh'), 'utf8'))
      return dockerOnly(argv)
    })
    expect(seen).to.deep.equal(['#!/bin/sh\necho hi\n'])
  })

  it('--work-tree: uncommitted changes get <short>-dirty-<hash> (one tag per content), a clean work tree the revision tag; ignored files stay out', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}'),
      Dockerfile: 'FROM scratch\n',
      'msg.txt': 'one\n',
      '.gitignore': 'secret.env\n',
      '.gitattributes': 'docs export-ignore\n',
      'docs/notes.txt': 'not in images\n',
    })
    const sha = await repo.git('rev-parse', 'HEAD')
    const contexts: Array<[string, string, boolean, boolean]> = []
    const docs: boolean[] = []
    const look = (argv: string[]) => {
      if (argv[1] === 'build') {
        const ctx = argv.at(-1) as string
        contexts.push([argv[3] as string, readFileSync(join(ctx, 'msg.txt'), 'utf8'), existsSync(join(ctx, 'secret.env')), existsSync(join(ctx, 'untracked.txt'))])
        docs.push(existsSync(join(ctx, 'docs')))
      }
      return dockerOnly(argv)
    }
    const clean = await build({workTree: true}, fakeRegistry(), look)
    expect(clean.report.tag).to.equal(sha)
    expect(clean.report.source).to.equal('work-tree')
    // A clean work tree is built as its revision is: what export-ignore leaves out stays out under the revision's tag.
    await build({revision: 'HEAD'}, fakeRegistry(), look)
    expect(docs).to.deep.equal([false, false])
    contexts.pop()
    repo.write('msg.txt', 'dirty\n')
    repo.write('secret.env', 'TOKEN=x\n')
    repo.write('untracked.txt', 'new\n')
    const a = await build({workTree: true}, fakeRegistry(), look)
    const b = await build({workTree: true}, fakeRegistry(), look)
    repo.write('msg.txt', 'dirtier\n')
    const c = await build({workTree: true}, fakeRegistry(), look)
    expect(a.report.tag).to.match(new RegExp(`^${sha.slice(0, 7)}-dirty-[0-9a-f]{12}$`))
    expect(b.report.tag, 'the same work tree, the same tag').to.equal(a.report.tag)
    expect(c.report.tag)
      .to.match(/-dirty-/)
      .and.not.equal(a.report.tag)
    expect(contexts).to.deep.equal([
      [`${REGISTRY}/team/web:${sha}`, 'one\n', false, false],
      [`${REGISTRY}/team/web:${a.report.tag}`, 'dirty\n', false, true],
      [`${REGISTRY}/team/web:${a.report.tag}`, 'dirty\n', false, true],
      [`${REGISTRY}/team/web:${c.report.tag}`, 'dirtier\n', false, true],
    ])
    // The copy of a dirty work tree leaves out what export-ignore leaves out of a commit's export.
    expect(docs).to.deep.equal([false, false, false, false, false])
    const error = await failure(build({workTree: true, revision: 'HEAD~1'}))
    expect(error.exitCode).to.equal(ExitCode.INVALID)
    expect(error.message).to.include('--work-tree builds the work tree')
  })

  it('--work-tree reads, copies and hashes only what the builds read: a file of 2 GiB or an edit outside every context changes nothing, an edit inside or of a build arg makes a new tag', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {context: web, dockerfile: ../docker/web.Dockerfile, args: {MSG: one}}\n  api:\n    image: api\n    build: {context: api}'),
      'web/msg.txt': 'one\n',
      'api/Dockerfile': 'FROM scratch\n',
      'docker/web.Dockerfile': 'FROM scratch\n',
      'docker/web.Dockerfile.dockerignore': 'x\n',
      'deploy/web.yaml': 'kind: ConfigMap\n',
      'README.md': 'hi\n',
    })
    // Sparse: no disk, but 2.5 GB to read. It made the build fail with Node's "File size (2621440000) is greater than 2 GiB".
    writeFileSync(join(repo.dir, 'huge.img'), '')
    truncateSync(join(repo.dir, 'huge.img'), 2500 * 1024 * 1024)
    repo.write('web/msg.txt', 'two\n')
    const seen: string[][] = []
    const look = (argv: string[]) => {
      if (argv[1] === 'build') {
        const root = join(argv.at(-1) as string, '..')
        seen.push(['huge.img', 'README.md', 'web/msg.txt', 'api/Dockerfile', 'docker/web.Dockerfile', 'docker/web.Dockerfile.dockerignore'].filter((f) => existsSync(join(root, f))))
      }
      return dockerOnly(argv)
    }
    const a = await build({workTree: true, services: ['web']}, fakeRegistry(), look)
    expect(seen).to.deep.equal([['web/msg.txt', 'api/Dockerfile', 'docker/web.Dockerfile', 'docker/web.Dockerfile.dockerignore']])
    // The tag covers every built service of the environment, whichever are built now.
    expect((await build({workTree: true}, fakeRegistry(), dockerOnly)).report.tag).to.equal(a.report.tag)
    repo.write('README.md', 'edited\n')
    repo.write('deploy/web.yaml', 'kind: ConfigMap # edited\n')
    expect((await build({workTree: true}, fakeRegistry(), dockerOnly)).report.tag, 'an edit outside every build').to.equal(a.report.tag)
    repo.write('api/Dockerfile', 'FROM scratch\nLABEL a=b\n')
    const api = (await build({workTree: true}, fakeRegistry(), dockerOnly)).report.tag
    expect(api, 'an edit in a context').to.not.equal(a.report.tag)
    repo.write('docker/web.Dockerfile', 'FROM scratch\nLABEL a=b\n')
    const dockerfile = (await build({workTree: true}, fakeRegistry(), dockerOnly)).report.tag
    expect(dockerfile, 'an edit of a Dockerfile outside its context').to.not.equal(api)
    repo.write('skycap.yaml', readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8').replace('MSG: one', 'MSG: two'))
    expect((await build({workTree: true}, fakeRegistry(), dockerOnly)).report.tag, 'a changed build arg').to.not.equal(dockerfile)
  })

  it('a failed build whose context has files git ignores names them (a few, and how many): a gitignored dist/ the Dockerfile copies failed with "/dist" not found and nothing more', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {context: web}\n  api:\n    image: api\n    build: {context: api}'),
      '.gitignore': 'dist/\n*.log\n',
      'web/Dockerfile': 'FROM scratch\nCOPY dist/ /dist/\n',
      'api/Dockerfile': 'FROM scratch\n',
    })
    for (const f of ['web/dist/app.js', 'web/dist/app.css', 'web/a.log', 'web/b.log', 'web/c.log', 'api/x.log']) repo.write(f, 'x\n')
    const failing = (argv: string[]) => (argv[1] === 'build' && argv.at(-1)?.endsWith('/web') ? {exitCode: 1, lines: ['ERROR: failed to compute cache key: "/dist" not found']} : dockerOnly(argv))
    for (const options of [{}, {workTree: true}]) {
      const error = await failure(build(options, fakeRegistry(), failing))
      expect(error, String(error)).to.be.instanceOf(BuildFailedError)
      // api built: its ignored x.log is not named.
      expect(error.hint).to.include(
        "web's context (web) has 4 paths git ignores, which no build gets: web/dist/, web/a.log, web/b.log and 1 more. A build sees only what a commit would hold, so that a commit's image can be built again from the commit: build such files in the Dockerfile (a RUN step) or with build.command (docs/build.md).",
      )
      expect(error.hint).to.not.include('api')
    }
    // A context without ignored files: the hint as before.
    rmSync(join(repo.dir, 'web', 'dist'), {recursive: true})
    for (const f of ['a', 'b', 'c']) rmSync(join(repo.dir, 'web', `${f}.log`))
    const plain = await failure(build({}, fakeRegistry(), failing))
    expect(plain.hint).to.match(/^Fix the build, commit, and build again\. What failed/)
  })

  it("uses the environment's registry and imageTag, exactly as deploy renders them", async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}', `  local:\n    namespace: shop-local\n    registry: localhost:5001\n    imageTag: "dev-{{ revision.short }}"\n`),
      Dockerfile: 'FROM scratch\n',
    })
    const sha = await repo.git('rev-parse', 'HEAD')
    const local = await build({environment: 'local'}, fakeRegistry(), dockerOnly)
    expect(local.report.images[0]?.image).to.equal(`localhost:5001/web:dev-${sha.slice(0, 7)}`)
    const staging = await build({}, fakeRegistry(), dockerOnly)
    expect(staging.report.images[0]?.image).to.equal(`${REGISTRY}/team/web:${sha}`)
    const {prepareRelease} = await import('../../../src/render/prepare.js')
    expect((await prepareRelease({target: 'local', cwd: repo.dir})).images).to.deep.equal({web: local.report.images[0]?.image})
  })

  it('refuses what cannot be built, before building: unknown service, a service without build, nothing buildable, a missing Dockerfile', async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {dockerfile: missing.Dockerfile}\n  redis:\n    image: redis:7.2\n  side:\n    image: web'),
    })
    const unknown = await failure(build({services: ['nope']}))
    // A service that runs another's built image: that one is named (it said "not built by skycap").
    const side = await failure(build({services: ['side']}))
    expect([side.message.replace(/ in .*;/, ' in skycap.yaml;'), side.hint]).to.deep.equal(['service "side" has no build: block in skycap.yaml; its image (web) is built by web', 'Build it: -s web.'])
    expect(unknown.message).to.equal('unknown service "nope"')
    const plain = await failure(build({services: ['redis']}))
    expect(plain.message).to.match(/^service "redis" has no build: block in \S*skycap\.yaml \(at [0-9a-f]{7}\); its image \(redis:7\.2\) is not built by skycap$/)
    const missing = await failure(build({}, fakeRegistry(), dockerOnly))
    expect(missing.exitCode).to.equal(ExitCode.INVALID)
    expect(missing.message).to.match(/skycap\.yaml:\d+:\d+ \(at [0-9a-f]{7}\): services\.web\.build: \S*missing\.Dockerfile \(at [0-9a-f]{7}\) does not exist/)
    repo.write('skycap.yaml', SKYCAP_YAML('  redis:\n    image: redis:7.2'))
    await repo.commit('no builds')
    const nothing = await failure(build({}))
    expect(nothing.message).to.match(/^no service in \S*skycap\.yaml .* has a build: block/)
  })

  it("refuses a context or Dockerfile that leads outside the repository (a committed link, an absolute or ../ path): this machine's files never reach a commit's image", async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'skycap-elsewhere-'))
    writeFileSync(join(elsewhere, 'Dockerfile'), 'FROM scratch\nCOPY secret /secret\n')
    writeFileSync(join(elsewhere, 'secret'), 'HOST-SECRET\n')
    try {
      const cases: Array<[string, Record<string, string>, RegExp]> = [
        ['{context: linkctx}', {}, /services\.web\.build: context \S*linkctx \(at [0-9a-f]{7}\) leads outside the repository \(to \/\S+\); only the repository's own files are built$/],
        [`{dockerfile: ${join(elsewhere, 'Dockerfile')}}`, {Dockerfile: 'FROM scratch\n'}, /services\.web\.build: Dockerfile \S+ leads outside the repository/],
        [`{dockerfile: ${'../'.repeat(12)}${join(elsewhere, 'Dockerfile').slice(1)}}`, {Dockerfile: 'FROM scratch\n'}, /services\.web\.build: Dockerfile \S+ leads outside the repository/],
        ['{dockerfile: linked.Dockerfile}', {}, /services\.web\.build: Dockerfile \S*linked\.Dockerfile \(at [0-9a-f]{7}\) leads outside the repository/],
      ]
      for (const [spec, files, expected] of cases) {
        repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML(`  web:\n    image: web\n    build: ${spec}`), ...files})
        symlinkSync(elsewhere, join(repo.dir, 'linkctx'))
        symlinkSync(join(elsewhere, 'Dockerfile'), join(repo.dir, 'linked.Dockerfile'))
        await repo.commit('links')
        const calls: string[][] = []
        const error = await failure(
          build({}, fakeRegistry(), (argv) => {
            calls.push(argv)
            return dockerOnly(argv)
          }),
        )
        expect(error.exitCode, spec).to.equal(ExitCode.INVALID)
        expect(error.message, spec).to.match(expected)
        expect(error.hint).to.match(/links must stay inside the repository/)
        expect(
          calls.filter((argv) => argv[1] === 'build' || argv[1] === 'push'),
          spec,
        ).to.deep.equal([])
      }
    } finally {
      rmSync(elsewhere, {recursive: true, force: true})
    }
  })

  it('a build arg whose render fails is reported at its value in skycap.yaml, with the variables build args get', async () => {
    // `tag` is a build arg's variable, so skycap.yaml's check lets it pass; the render finds tag.first has no `nope`.
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build:\n      args: {GREETING: "{{ tag.first.nope }}"}'), Dockerfile: 'FROM scratch\n'})
    const error = await failure(build({}, fakeRegistry(), dockerOnly))
    expect(error.exitCode).to.equal(ExitCode.INVALID)
    expect(error.message).to.match(
      /^\S*skycap\.yaml:8:24 \(at [0-9a-f]{7}\): services\.web\.build\.args\.GREETING: template uses undefined variable "tag\.first"; build args can use revision\.sha, revision\.short, image and tag$/,
    )
    expect(error.hint).to.equal('Build args can use {{ revision.sha }}, {{ revision.short }}, {{ image }}, {{ tag }} (docs/build.md).')
  })

  it('an unknown revision: the hint to write ENV@HEAD only for a bare word that is an environment, never when ENV@ was given', async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}'), Dockerfile: 'FROM scratch\n'})
    const bareEnvironment = await failure(build({revision: 'staging'}))
    expect(bareEnvironment.message).to.match(/^unknown revision "staging"/)
    expect(bareEnvironment.hint).to.match(/skycap build takes \[ENV@\]REV, and staging is an environment: for it at HEAD write staging@HEAD\.$/)
    // skycap build staging@nope (or -e staging nope): the word is the revision, and the hint says nothing of environments.
    for (const revision of ['nope', 'staging']) {
      const withEnvironment = await failure(build({environment: 'staging', revision}))
      expect(withEnvironment.message).to.match(new RegExp(`^unknown revision "${revision}"`))
      expect(withEnvironment.hint).to.not.contain('[ENV@]REV')
    }
    // A bare word that is no environment (a typo, a short id a shallow clone lacks) is only a revision.
    for (const revision of ['nope', 'e59c888']) expect((await failure(build({revision}))).hint).to.not.contain('[ENV@]REV')
  })
})

describe('deploy --build', () => {
  it('is refused with --dry-run before anything runs (a dry run changes nothing, a build pushes)', async () => {
    const repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}'), Dockerfile: 'FROM scratch\n'})
    try {
      const {deploy} = await import('../../../src/deploy/deploy.js')
      const {fakeKubectlFactory} = await import('../../helpers/fake-kubectl.js')
      const {memoryReporter} = await import('../../../src/ui/output.js')
      const fake = fakeKubectlFactory([])
      let error: SkycapError | undefined
      await deploy({target: 'staging', cwd: repo.dir, dryRun: true, build: {}}, {kubectl: fake.factory, reporter: memoryReporter()}).catch((e: SkycapError) => (error = e))
      expect(error?.exitCode).to.equal(ExitCode.INVALID)
      expect(error?.message).to.equal('--build pushes images, and --dry-run changes nothing')
    } finally {
      repo.remove()
    }
  })
})

describe('deploy --build with requireChecks', () => {
  it('asks for green checks before it builds: a revision CI has not approved gets no image pushed', async () => {
    const repo = await TempRepo.withFiles({'skycap.yaml': SKYCAP_YAML('  web:\n    image: web\n    build: {}', 'requireChecks: true\n'), Dockerfile: 'FROM scratch\n'})
    const restore = setEnvironment({GITHUB_TOKEN: undefined, GITHUB_REPOSITORY: 'acme/shop'})
    try {
      const {deploy} = await import('../../../src/deploy/deploy.js')
      const {fakeKubectlFactory} = await import('../../helpers/fake-kubectl.js')
      const {memoryReporter} = await import('../../../src/ui/output.js')
      const asked: string[] = []
      const registry = fakeRegistry()
      const fetch = ((url: string | URL, init?: RequestInit) => {
        asked.push(String(url))
        return registry.fetch(url, init)
      }) as typeof globalThis.fetch
      let error: SkycapError | undefined
      await deploy({target: 'staging', cwd: repo.dir, build: {}}, {kubectl: fakeKubectlFactory([]).factory, reporter: memoryReporter(), fetch}).catch((e: SkycapError) => (error = e))
      expect(error?.exitCode).to.equal(ExitCode.INVALID)
      expect(error?.message).to.match(/^requireChecks: GITHUB_TOKEN is not set/)
      expect(asked, 'the build did not start: no registry was asked').to.deep.equal([])
    } finally {
      restore()
      repo.remove()
    }
  })
})

/** Runs deploy --build of staging in a repository with this skycap.yaml; it must fail before any builder ran or any push. */
async function refusedBeforeBuild(skycapYaml: string, kubectlScript: Parameters<typeof import('../../helpers/fake-kubectl.js').fakeKubectlFactory>[0] = []): Promise<SkycapError | undefined> {
  const repo = await TempRepo.withFiles({'skycap.yaml': skycapYaml, Dockerfile: 'FROM scratch\n'})
  try {
    const {deploy} = await import('../../../src/deploy/deploy.js')
    const {fakeKubectlFactory} = await import('../../helpers/fake-kubectl.js')
    const {memoryReporter} = await import('../../../src/ui/output.js')
    const registry = fakeRegistry()
    const runner = fakeRunner(registry.images, dockerOnly)
    let error: SkycapError | undefined
    const deps = {kubectl: fakeKubectlFactory(kubectlScript).factory, reporter: memoryReporter(), fetch: registry.fetch, buildRun: runner.run}
    await deploy({target: 'staging', cwd: repo.dir, build: {}}, deps).catch((e: SkycapError) => (error = e))
    expect(
      runner.calls.map((c) => c.argv.join(' ')),
      'no builder ran',
    ).to.deep.equal([])
    expect([...registry.images.keys()], 'nothing was pushed').to.deep.equal([])
    return error
  } finally {
    repo.remove()
  }
}

describe('deploy --build with an image it does not build', () => {
  it('a protected environment nobody can confirm (no terminal, no --yes) is refused before the build: it pushed the images, then refused', async () => {
    const error = await refusedBeforeBuild(SKYCAP_YAML('  web:\n    image: web\n    build: {}').replace('staging: {namespace: shop-staging}', 'staging: {namespace: shop-staging, protected: true}'))
    expect(error?.exitCode).to.equal(ExitCode.INVALID)
    expect(error?.message).to.equal('staging is protected and there is no terminal to confirm on; nothing was changed')
  })

  it('checks that image before it builds: a deploy that cannot happen pushes nothing', async () => {
    const error = await refusedBeforeBuild(SKYCAP_YAML(`  web:\n    image: web\n    build: {}\n  cache:\n    image: ${REGISTRY}/other/cache:7.2`))
    expect(error?.exitCode).to.equal(ExitCode.INVALID)
    expect(error?.message).to.equal(`1 image does not exist: ${REGISTRY}/other/cache:7.2; nothing was changed`)
    // A fixed tag: no build of a revision makes it (the hint asked whether CI had built the revision).
    expect(error?.hint).to.match(/^cache names an image whose tag no revision makes: set image: in skycap.yaml to a tag the registry has, or push it there\./)
  })
})

describe('deploy --build with a kube context the kubeconfig lacks', () => {
  it('says so before it builds: a misspelt context costs no build and no push', async () => {
    const yaml = SKYCAP_YAML('  web:\n    image: web\n    build: {}').replace('staging: {namespace: shop-staging}', 'staging: {namespace: shop-staging, context: stagin-cluster}')
    const error = await refusedBeforeBuild(yaml, [{argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'staging-cluster\n'}}])
    expect(error?.exitCode).to.equal(ExitCode.INVALID)
    expect(error?.message).to.equal('kube context "stagin-cluster" of environment staging is not in your kubeconfig; nothing was changed')
  })
})

describe('skycap build targets', () => {
  it('reads [ENV@]REV: ENV@REV, @REV, a bare word as a revision (the environment with --work-tree)', () => {
    expect(parseBuildTarget(undefined)).to.deep.equal({})
    expect(parseBuildTarget('prod@v1.4.0')).to.deep.equal({environment: 'prod', revision: 'v1.4.0'})
    expect(parseBuildTarget('@HEAD~1')).to.deep.equal({revision: 'HEAD~1'})
    expect(parseBuildTarget('3f2c1ab')).to.deep.equal({revision: '3f2c1ab'})
    expect(parseBuildTarget('prod')).to.deep.equal({revision: 'prod'})
    expect(parseBuildTarget('local', {workTree: true})).to.deep.equal({environment: 'local'})
    expect(() => parseBuildTarget('prod@-x')).to.throw('"-x" is not a revision')
    // What was typed, never the stand-in environment the check puts before a bare or @REV ("env@").
    expect(() => parseBuildTarget('@')).to.throw('"@" names no revision after @')
    expect(() => parseBuildTarget('a b')).to.throw('"a b" is not a valid target')
  })
})

describe('skycap build in a Mercurial repository (real hg)', function () {
  // Every hg call starts Python: slow on a loaded machine.
  this.timeout(120_000)
  let repo: TempHgRepo
  afterEach(() => repo?.remove())

  it('builds a clean export of the changeset (hg archive), tagged with its full id; an older changeset builds its own files; --work-tree gets a dirty tag from the hg short id', async () => {
    repo = await TempHgRepo.init()
    repo.write('skycap.yaml', SKYCAP_YAML('  web:\n    image: web\n    build: {}\n  redis:\n    image: redis:7.2'))
    repo.write('Dockerfile', 'FROM scratch\n')
    repo.write('msg.txt', 'one\n')
    const first = await repo.commit('one')
    repo.write('msg.txt', 'two\n')
    const second = await repo.commit('two')
    repo.write('msg.txt', 'uncommitted\n')
    const seen: Record<string, [string, boolean]> = {}
    const look = (argv: string[]) => {
      if (argv[1] === 'build') {
        const ctx = argv.at(-1) as string
        seen[argv[3] as string] = [readFileSync(join(ctx, 'msg.txt'), 'utf8'), existsSync(join(ctx, '.hg_archival.txt')) || existsSync(join(ctx, '.hg'))]
      }
      return dockerOnly(argv)
    }
    const run = async (options: BuildOptions) => {
      const registry = fakeRegistry()
      const runner = fakeRunner(registry.images, look)
      return buildImages({cwd: repo.dir, ...options}, {run: runner.run, fetch: registry.fetch, output: () => undefined})
    }
    const atTip = await run({revision: '.'})
    await run({revision: '.~1'})
    const dirty = await run({workTree: true})
    const dirtyImage = dirty.images.find((s) => s.service === 'web')?.image ?? ''
    expect(seen[`${REGISTRY}/team/web:${second}`]).to.deep.equal(['two\n', false])
    expect(seen[`${REGISTRY}/team/web:${first}`]).to.deep.equal(['one\n', false])
    expect(dirtyImage).to.match(new RegExp(`^${REGISTRY}/team/web:${second.slice(0, 12)}-dirty-[0-9a-f]+$`))
    expect(seen[dirtyImage]).to.deep.equal(['uncommitted\n', false])
    // redis has no build: never built, in any of the three runs.
    expect(Object.keys(seen).some((ref) => ref.includes('redis'))).to.equal(false)
    expect(atTip.images.map((s) => [s.service, s.result])).to.deep.equal([['web', 'built']])
  })
})
