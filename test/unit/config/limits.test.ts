import {expect} from 'chai'
import {mkdirSync, rmSync, symlinkSync, truncateSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {loadConfig, parseConfig} from '../../../src/config/load.js'
import {DEFAULT_MAX_REPLICAS, LIMITS} from '../../../src/config/limits.js'
import {ConfigError, ConfigErrors, ExitCode} from '../../../src/errors.js'
import {prepareRelease} from '../../../src/render/prepare.js'
import {clearTemplateCache} from '../../../src/render/templates.js'
import {scale} from '../../../src/scale/scale.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {rejectsWithUserError} from '../../helpers/errors.js'
import {fakeKubectl, fakeKubectlFactory} from '../../helpers/fake-kubectl.js'
import {runCli, TempRepo} from '../../helpers/repo.js'

const FILE = '/tmp/x/skycap.yaml'

/** A skycap.yaml with one service `web` whose body lines are `web`, and environments `envs`. */
function config(web: string[], envs = ['  prod: {namespace: shop}']): string {
  return ['app: shop', 'services:', '  web:', '    image: web', ...web.map((l) => `    ${l}`), 'environments:', ...envs, ''].join('\n')
}

/** The messages parseConfig refuses `text` with (exit 2). */
async function problems(text: string): Promise<string[]> {
  const error = await rejectsWithUserError(parseConfig(text, FILE, (p) => p))
  expect(error.exitCode).to.equal(ExitCode.INVALID)
  return error instanceof ConfigErrors ? error.errors.map((e) => e.message) : [error.message]
}

describe('input limits: numbers in skycap.yaml', () => {
  it('replicas: 99999999999 is refused at its line (it wrapped to 1215752191 in the cluster)', async () => {
    expect(await problems(config(['replicas: 99999999999']))).to.deep.equal([`${FILE}:5:15: services.web.replicas is 99999999999 but must be at most 2147483647`])
  })

  it('replicas above the int32 range in an environment override, and negative, are refused', async () => {
    const text = config([], ['  prod:', '    namespace: shop', '    services: {web: {replicas: 2147483648}}', '  dev: {namespace: dev, services: {web: {replicas: -1}}}'])
    expect(await problems(text)).to.deep.equal([
      `${FILE}:8:32: environments.prod.services.web.replicas is 2147483648 but must be at most 2147483647`,
      `${FILE}:9:52: environments.dev.services.web.replicas is -1 but must be at least 0`,
    ])
  })

  it('ports outside 1..65535, a negative quantity and an env number that lost digits are refused', async () => {
    const text = config(['ports: [{name: http, port: 80, targetPort: 70000}]', 'resources: {requests: {cpu: -1}}', 'env: {ID: 12345678901234567890}'])
    expect(await problems(text)).to.deep.equal([
      `${FILE}:5:48: services.web.ports.0.targetPort is 70000 but must be at most 65535`,
      `${FILE}:6:33: services.web.resources.requests.cpu is -1 but must be at least 0`,
      `${FILE}:7:15: services.web.env.ID is 12345678901234567000 but must be at most 9007199254740991`,
    ])
  })

  it('maxReplicas itself is a whole number from 0 to the int32 maximum', async () => {
    expect(await problems(config([], ['  prod: {namespace: shop, maxReplicas: 3000000000}']))).to.deep.equal([
      `${FILE}:6:40: environments.prod.maxReplicas is 3000000000 but must be at most 2147483647`,
    ])
  })
})

describe('input limits: the replica ceiling per environment', () => {
  it(`refuses more than ${DEFAULT_MAX_REPLICAS} replicas by default, at the replicas line, for every environment`, async () => {
    expect(await problems(config(['replicas: 5000'], ['  prod: {namespace: shop}', '  dev: {namespace: dev}']))).to.deep.equal([
      `${FILE}:5:15: services.web.replicas is 5000, above the ceiling of 1000 replicas per service in environment prod; raise environments.prod.maxReplicas (default 1000) if 5000 is meant`,
      `${FILE}:5:15: services.web.replicas is 5000, above the ceiling of 1000 replicas per service in environment dev; raise environments.dev.maxReplicas (default 1000) if 5000 is meant`,
    ])
  })

  it("points at the environment's override, and the environment's own maxReplicas decides", async () => {
    const text = config(['replicas: 2'], ['  prod:', '    namespace: shop', '    maxReplicas: 10', '    services: {web: {replicas: 11}}'])
    expect(await problems(text)).to.deep.equal([
      `${FILE}:10:32: environments.prod.services.web.replicas is 11, above the ceiling of 10 replicas per service in environment prod; raise environments.prod.maxReplicas (default 1000) if 11 is meant`,
    ])
  })

  it('a raised ceiling allows the count, and the environment carries its ceiling', async () => {
    const loaded = await parseConfig(config(['replicas: 5000'], ['  prod: {namespace: shop, maxReplicas: 5000}']), FILE)
    const {resolveEnvironment} = await import('../../../src/config/environment.js')
    expect(resolveEnvironment(loaded, 'prod').maxReplicas).to.equal(5000)
  })
})

describe('input limits: what the API server would refuse, caught at config load', () => {
  it('two ports with the same port and protocol; the same port over TCP and UDP is fine', async () => {
    const text = config(['ports:', '  - {name: http, port: 80, targetPort: 8080}', '  - {name: alt, port: 80, targetPort: 8081}'])
    expect(await problems(text)).to.deep.equal([`${FILE}:7:27: services.web.ports[1]: port 80/TCP repeats ports[0]; a Service's ports must differ in port or protocol`])
    await parseConfig(config(['ports:', '  - {name: dns, port: 53}', '  - {name: dns-udp, port: 53, protocol: UDP}']), FILE)
  })

  it('several ports, one without a name: said at config load (it passed every check and the dry run, and the apply was refused)', async () => {
    const text = config(['ports:', '  - {name: grpc, port: 9090}', '  - {port: 80, targetPort: 8080}'])
    expect(await problems(text)).to.deep.equal([
      `${FILE}:7:9: services.web.ports[1] has no name; a Service with several ports needs a name on each (the API server refuses it at apply: spec.ports[1].name: Required value)`,
    ])
    // One port needs no name.
    await parseConfig(config(['ports:', '  - {port: 80, targetPort: 8080}']), FILE)
  })

  it('two ports with the same target port and protocol', async () => {
    const text = config(['ports:', '  - {name: http, port: 80, targetPort: 8080}', '  - {name: alt, port: 8080}'])
    expect(await problems(text)).to.deep.equal([
      `${FILE}:7:9: services.web.ports[1]: targetPort 8080/TCP repeats ports[0]; each entry becomes a container port, and a container's ports must differ in number or protocol`,
    ])
  })

  it('duplicate ports in an environment override are found too', async () => {
    const text = config(['ports: [{name: a, port: 80}]'], ['  prod:', '    namespace: shop', '    services: {web: {ports: [{name: a, port: 81}, {name: b, port: 81, protocol: TCP}]}}'])
    expect(await problems(text)).to.deep.equal([`${FILE}:9:67: environments.prod.services.web.ports[1]: port 81/TCP repeats ports[0]; a Service's ports must differ in port or protocol`])
  })

  it('port names that are not IANA service names, and env names with "="', async () => {
    const text = config(['ports: [{name: "80", port: 80}, {name: a--b, port: 81}]', 'env: {"A=B": x}'])
    expect(await problems(text)).to.deep.equal([
      `${FILE}:5:20: services.web.ports.0.name is "80" but must be an IANA service name: lowercase letters, digits and '-', at least one letter, no '--', starting and ending with a letter or digit`,
      `${FILE}:5:44: services.web.ports.1.name is "a--b" but must be an IANA service name: lowercase letters, digits and '-', at least one letter, no '--', starting and ending with a letter or digit`,
      `${FILE}:6:11: services.web.env: "A=B" is not a valid name; it must be printable ASCII characters other than '='`,
    ])
  })

  it('a service with ports whose name starts with a digit (a Service name must start with a letter)', async () => {
    const text = 'app: shop\nservices:\n  1web: {image: web, port: 80}\n  2worker: {image: w}\nenvironments:\n  prod: {namespace: shop}\n'
    expect(await problems(text)).to.deep.equal([`${FILE}:3:9: services.1web: a service with ports gets a Kubernetes Service named "1web", and a Service name must start with a letter`])
  })

  it('an app-environment instance label longer than 63 characters', async () => {
    const text = `app: ${'a'.repeat(40)}\nservices: {web: {image: web}}\nenvironments:\n  ${'e'.repeat(30)}: {namespace: shop}\n`
    const [message] = await problems(text)
    expect(message).to.match(/^\/tmp\/x\/skycap\.yaml:4:\d+: environments\.e+: the label app\.kubernetes\.io\/instance "a+-e+" \(app-environment\) is 71 characters; Kubernetes allows 63/)
  })

  it('duplicate keys are still refused at the repeated key (checked in linear time)', async () => {
    expect(await problems('app: shop\napp: shop\n')).to.deep.equal([`${FILE}:2:1: invalid YAML: key "app" is written twice in one mapping (first on line 1); keep one`])
    expect(await problems(config(['env: {A: "1", B: "2", A: "3"}']))).to.deep.equal([`${FILE}:5:27: invalid YAML: key "A" is written twice in one mapping (first on line 5); keep one`])
  })
})

describe('input limits: sizes', function () {
  this.timeout(30_000)
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': config(['config: config/web', 'port: 80']),
      'config/web/app.properties': 'a=1\n',
      'deploy/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n',
    })
    clearTemplateCache()
  })
  afterEach(() => repo.remove())

  it(`a skycap.yaml over ${LIMITS.skycapYaml} bytes is refused before it is read, naming the file, its size and the limit`, async () => {
    const file = join(repo.dir, 'skycap.yaml')
    // A sparse file: 2 GiB on stat, nothing on disk; reading it would take seconds and 2 GiB of memory.
    truncateSync(file, 2 * 1024 ** 3)
    const error = await rejectsWithUserError(loadConfig({configPath: file}))
    expect(error).to.be.instanceOf(ConfigError)
    expect(error.message).to.equal(`${file}: the file is 2 GiB (2147483648 bytes); the limit is 512 KiB (524288 bytes)`)
  })

  it('a --config that never ends (/dev/zero: size 0 on stat) is refused at the limit, not read until memory runs out', async () => {
    const error = await rejectsWithUserError(loadConfig({configPath: '/dev/zero'}))
    expect(error.message).to.equal('/dev/zero: the file is not a regular file and goes on past the limit of 512 KiB (524288 bytes)')
    expect(error.details).to.deep.equal({size: null, limit: LIMITS.skycapYaml})
  })

  it('a skycap.yaml of exactly the limit is read', async () => {
    const file = join(repo.dir, 'skycap.yaml')
    const text = config(['port: 80'])
    writeFileSync(file, text + '#'.repeat(LIMITS.skycapYaml - text.length - 1) + '\n')
    expect((await loadConfig({configPath: file})).config.app).to.equal('shop')
  })

  it('a config file over its limit, and a config folder whose ConfigMap would be over 1000 KiB: errors of skycap.yaml, at the config key (config validate says them too)', async () => {
    truncateSync(join(repo.dir, 'config/web/app.properties'), LIMITS.configFile + 1)
    let error = await rejectsWithUserError(prepareRelease({target: 'prod', configPath: join(repo.dir, 'skycap.yaml')}))
    expect(error.message).to.match(/skycap\.yaml:\d+:\d+: services\.web\.config: config file "config\/web\/app\.properties" is 1000 KiB \(1024001 bytes\); the limit is 1000 KiB \(1024000 bytes\)/)
    truncateSync(join(repo.dir, 'config/web/app.properties'), 600 * 1024)
    writeFileSync(join(repo.dir, 'config/web/b.properties'), Buffer.alloc(500 * 1024, 'b'))
    error = await rejectsWithUserError(prepareRelease({target: 'prod', configPath: join(repo.dir, 'skycap.yaml')}))
    expect(error.message).to.match(
      /skycap\.yaml:\d+:\d+: services\.web\.config: the ConfigMap of config folder "config\/web" \(file names and contents\) is 1100 KiB \(1126426 bytes\); the limit is 1000 KiB \(1024000 bytes\)/,
    )
    // Each folder fits, the service's with the environment's overrides does not: an error of skycap.yaml at the
    // environment's config key, so config validate says it too (only render said it, without a line).
    rmSync(join(repo.dir, 'config/web/b.properties'))
    writeFileSync(join(repo.dir, 'skycap.yaml'), config(['config: config/web', 'port: 80'], ['  prod: {namespace: shop, config: config/prod}']))
    mkdirSync(join(repo.dir, 'config/prod/web'), {recursive: true})
    writeFileSync(join(repo.dir, 'config/prod/web/b.properties'), Buffer.alloc(500 * 1024, 'b'))
    const expected =
      /skycap\.yaml:\d+:\d+: environments\.prod\.config: the ConfigMap of config folder "config\/web" with "config\/prod\/web" \(file names and contents\) is 1100 KiB \(1126426 bytes\); the limit is 1000 KiB \(1024000 bytes\)/
    error = await rejectsWithUserError(prepareRelease({target: 'prod', configPath: join(repo.dir, 'skycap.yaml')}))
    expect(error.message).to.match(expected)
    error = await rejectsWithUserError(loadConfig({configPath: join(repo.dir, 'skycap.yaml')}))
    expect(error.message).to.match(expected)
    // A file of the environment's that replaces one of the service's counts once: 600 KiB replaced by 500 KiB fits.
    rmSync(join(repo.dir, 'config/prod/web/b.properties'))
    writeFileSync(join(repo.dir, 'config/prod/web/app.properties'), Buffer.alloc(500 * 1024, 'a'))
    expect((await loadConfig({configPath: join(repo.dir, 'skycap.yaml')})).config.app).to.equal('shop')
  })

  it(`a template over ${LIMITS.template} bytes, and an included one`, async () => {
    truncateSync(join(repo.dir, 'deploy/cm.yaml'), LIMITS.template + 1)
    let error = await rejectsWithUserError(prepareRelease({target: 'prod', configPath: join(repo.dir, 'skycap.yaml')}))
    expect(error.message).to.match(/\/deploy\/cm\.yaml: template \/.*\/deploy\/cm\.yaml is 256 KiB \(262145 bytes\); the limit is 256 KiB \(262144 bytes\)$/)
    writeFileSync(join(repo.dir, 'deploy/cm.yaml'), '{% include "big.txt" %}')
    writeFileSync(join(repo.dir, 'deploy/big.txt'), '')
    truncateSync(join(repo.dir, 'deploy/big.txt'), LIMITS.template + 1)
    clearTemplateCache()
    error = await rejectsWithUserError(prepareRelease({target: 'prod', configPath: join(repo.dir, 'skycap.yaml')}))
    expect(error.message).to.match(/template \/.*\/deploy\/big\.txt is 256 KiB \(262145 bytes\); the limit is 256 KiB/)
  })
})

describe('input limits: templates and config files come from the repository only', function () {
  this.timeout(60_000)
  let repo: TempRepo
  const prepare = (cwd?: string) => prepareRelease({target: 'prod', configPath: join(repo.dir, 'app', 'skycap.yaml'), cwd})
  beforeEach(async () => {
    repo = await TempRepo.withFiles({
      'app/skycap.yaml': config(['config: config/web', 'port: 80']),
      'app/config/web/app.properties': 'a=1\n',
      'app/deploy/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {v: "{% include "part.txt" %}"}\n',
      'app/deploy/part.txt': 'from-the-templates-folder',
      'shared/settings.ini': 'shared=1\n',
    })
    clearTemplateCache()
  })
  afterEach(() => repo.remove())
  const file = () => join(repo.dir, 'app', 'skycap.yaml')
  const edit = (web: string[], envs?: string[]) => writeFileSync(file(), config(web, envs))

  it('config: ../.. and config: /etc are refused at their line, naming the repository', async () => {
    edit(['config: ../..'], ['  prod: {namespace: shop, config: /etc}'])
    const error = await rejectsWithUserError(loadConfig({configPath: file()}))
    const messages = (error as ConfigErrors).errors.map((e) => e.message)
    expect(messages[0]).to.match(/skycap\.yaml:5:13: services\.web\.config: folder "\.\.\/\.\." is outside the repository \/.+; skycap reads templates and config files only from inside it$/)
    expect(messages[1]).to.match(/skycap\.yaml:7:35: environments\.prod\.config: folder "\/etc" is outside the repository/)
  })

  it('a config folder inside the repository but beside skycap.yaml is fine', async () => {
    edit(['config: ../shared'])
    const release = await prepare()
    const cm = release.objects.find((o) => o.object.kind === 'ConfigMap' && o.service === 'web')
    expect((cm?.object as unknown as {data: Record<string, string>}).data).to.deep.equal({'settings.ini': 'shared=1\n'})
  })

  it('templates: outside the repository is refused, and so is a config folder that is a link out of it', async () => {
    symlinkSync('/etc', join(repo.dir, 'app/etc-link'))
    edit(['config: etc-link'])
    writeFileSync(file(), `templates: ../..\n${config(['config: etc-link'])}`)
    const messages = ((await rejectsWithUserError(loadConfig({configPath: file()}))) as ConfigErrors).errors.map((e) => e.message)
    expect(messages[0]).to.match(/skycap\.yaml:1:12: templates: folder "\.\.\/\.\." is outside the repository/)
    expect(messages[1]).to.match(/skycap\.yaml:6:13: services\.web\.config: folder "etc-link" resolves to \/etc, outside the repository/)
  })

  it('a committed link to /etc/hostname in a config folder is refused, naming the link and its target', async () => {
    symlinkSync('/etc/hostname', join(repo.dir, 'app/config/web/hostname'))
    await repo.commit('link out')
    const error = await rejectsWithUserError(prepare())
    expect(error.message).to.match(/config\/web\/hostname: symbolic link to \/etc\/hostname, outside the repository .+; skycap reads only files inside it$/)
    expect(error.hint).to.contain('Copy the file into the repository')
  })

  it('at an older revision (files from the commit), the link is refused as well', async () => {
    symlinkSync('/etc/hostname', join(repo.dir, 'app/config/web/hostname'))
    await repo.commit('link out')
    await repo.commit('later')
    const error = await rejectsWithUserError(prepareRelease({target: 'prod@HEAD~1', configPath: file()}))
    expect(error.message).to.match(/config\/web\/hostname \(at [0-9a-f]{7}\): symbolic link to \/etc\/hostname, outside the repository/)
  })

  it('a link to a file inside the repository is followed', async () => {
    symlinkSync('../../../shared/settings.ini', join(repo.dir, 'app/config/web/settings.ini'))
    await repo.commit('link in')
    for (const target of ['prod', 'prod@HEAD']) {
      const release = await prepareRelease({target, configPath: file()})
      const cm = release.objects.find((o) => o.object.kind === 'ConfigMap' && o.service === 'web')
      expect((cm?.object as unknown as {data: Record<string, string>}).data['settings.ini']).to.equal('shared=1\n')
    }
  })

  it('a dangling link is refused, not a crash', async () => {
    symlinkSync('nowhere', join(repo.dir, 'app/config/web/gone'))
    const error = await rejectsWithUserError(prepare())
    expect(error.message).to.match(/config\/web\/gone: symbolic link to nowhere, which does not exist$/)
  })

  it('{% include %} finds files in the templates folder wherever skycap runs, and nothing outside it', async () => {
    const other = await TempRepo.withFiles({'part.txt': 'from-the-current-directory', shadow: 'secret'})
    const cwd = process.cwd()
    try {
      process.chdir(other.dir)
      const release = await prepare(other.dir)
      const cm = release.objects.find((o) => o.object.metadata.name === 'x')
      expect((cm?.object as unknown as {data: Record<string, string>}).data.v).to.equal('from-the-templates-folder')
      for (const include of ['shadow', `${other.dir}/shadow`, '../../shared/settings.ini', './../skycap.yaml', '/etc/hostname']) {
        writeFileSync(join(repo.dir, 'app/deploy/cm.yaml'), `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {v: "{% include "${include}" %}"}\n`)
        clearTemplateCache()
        const error = await rejectsWithUserError(prepare(other.dir))
        expect(error.message, include).to.match(
          new RegExp(`deploy/cm\\.yaml:4:\\d+: template includes "${include.replace(/[./]/g, '\\$&')}", which is not a file of the templates folder .*app/deploy$`),
        )
      }
    } finally {
      process.chdir(cwd)
      other.remove()
    }
  })

  it('a template that links out of the repository is refused', async () => {
    symlinkSync('/etc/hostname', join(repo.dir, 'app/deploy/host.yaml'))
    const error = await rejectsWithUserError(prepare())
    expect(error.message).to.match(/deploy\/host\.yaml: symbolic link to \/etc\/hostname, outside the repository/)
  })
})

describe('input limits: skycap scale and the ceiling', function () {
  this.timeout(20_000)
  const BOUND = ['--context', 'kind-x', '--namespace', 'shop', '--request-timeout=30s']
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.clusterApp('kind-x', 'shop')
  })
  afterEach(() => repo.remove())

  it('refuses a count above the environment ceiling before calling kubectl (exit 2)', async () => {
    const fake = fakeKubectl([])
    const error = await rejectsWithUserError(
      scale({service: 'web', replicas: '5000', environment: 'test', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: () => fake.kubectl, reporter: memoryReporter()}),
    )
    expect(error.message).to.equal('5000 replicas is above the ceiling of 1000 per service in test; nothing was changed')
    expect(error.hint).to.match(/^Pass --force if 5000 is meant, or raise environments\.test\.maxReplicas in \S*skycap\.yaml\.$/)
    expect(fake.calls).to.deep.equal([])
  })

  it('--force scales above the ceiling, with a warning', async () => {
    const fake = fakeKubectlFactory([
      {argv: [...BOUND, 'get', 'configmap', 'skycap-rollout-itapp', '-o', 'json', '--ignore-not-found'], result: {stdout: ''}},
      {
        argv: [...BOUND, 'get', 'deployment', 'web', '-o', 'json'],
        result: {
          stdout: JSON.stringify({
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            metadata: {name: 'web', labels: {'app.kubernetes.io/part-of': 'itapp', 'app.kubernetes.io/managed-by': 'skycap', 'skycap.dev/environment': 'test'}},
            spec: {replicas: 2},
          }),
        },
      },
      {argv: [...BOUND, 'get', 'horizontalpodautoscalers', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
    ])
    const reporter = memoryReporter()
    const report = await scale({service: 'web', replicas: '5000', environment: 'test', force: true, dryRun: true, configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: fake.factory, reporter})
    expect(report).to.deep.include({from: 2, to: 5000, result: 'planned'})
    expect(reporter.warnings).to.deep.equal(['5000 replicas is above the ceiling of 1000 per service in test; scaling anyway (--force)'])
    expect(fake.remaining()).to.equal(0)
  })
})

describe('input limits through the built CLI', function () {
  this.timeout(60_000)
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': config(['config: config/web']), 'config/web/app.properties': 'a=1\n'})
  })
  afterEach(() => repo.remove())

  it('config: ../.. exits 2 naming file:line', async () => {
    writeFileSync(join(repo.dir, 'skycap.yaml'), config(['config: ../..']))
    await repo.commit('out')
    const r = await runCli(['render', 'prod'], {cwd: repo.dir})
    expect(r.exitCode, r.stderr).to.equal(2)
    expect(r.stderr).to.match(/skycap\.yaml:5:13: services\.web\.config: folder "\.\.\/\.\." is outside the repository/)
    expect(r.stdout).to.equal('')
  })

  it('a committed link to /etc/hostname exits 2 naming the link and its target', async () => {
    symlinkSync('/etc/hostname', join(repo.dir, 'config/web/hostname'))
    await repo.commit('link')
    const r = await runCli(['render', 'prod', '--json'], {cwd: repo.dir})
    expect(r.exitCode, r.stderr).to.equal(2)
    const doc = JSON.parse(r.stdout)
    expect(doc.ok).to.equal(false)
    expect(doc.error.message).to.match(/config\/web\/hostname: symbolic link to \/etc\/hostname, outside the repository/)
    // config validate says the same (it passed the link: "is valid", exit 0).
    const validate = await runCli(['config', 'validate', '--json'], {cwd: repo.dir})
    expect(validate.exitCode, validate.stderr).to.equal(2)
    expect(JSON.parse(validate.stdout).error.message).to.match(/^config\/web\/hostname: symbolic link to \/etc\/hostname, outside the repository/)
    expect(JSON.parse(validate.stdout).error.hint).to.contain('Copy the file into the repository')
  })

  it('an oversized skycap.yaml exits 2 naming its size and the limit, without reading it', async () => {
    truncateSync(join(repo.dir, 'skycap.yaml'), 4 * 1024 ** 3)
    const r = await runCli(['config', 'validate'], {cwd: repo.dir, timeout: 20_000})
    expect(r.exitCode, r.stderr).to.equal(2)
    expect(r.stderr).to.contain('skycap.yaml: the file is 4 GiB (4294967296 bytes); the limit is 512 KiB (524288 bytes)')
  })
})
