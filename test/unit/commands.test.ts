import {expect} from 'chai'
import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {fixturesDir, parseJson, repoRoot, runCli, TempRepo} from '../helpers/repo.js'

describe('command wiring (built CLI)', function () {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.fromFixture('shop')
  })
  after(() => repo.remove())

  it('--version prints the package version', async () => {
    const r = await runCli(['--version'])
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'))
    expect(r.exitCode).to.equal(0)
    expect(r.stdout).to.contain(`skycap/${pkg.version}`)
  })

  it('answers --version (-v, version) and --help without oclif exactly as oclif does', async () => {
    const slow = {SKYCAP_NO_FAST_PATH: '1', COLUMNS: '80'}
    for (const flag of ['--version', '-v', 'version', '--help', '-h']) {
      const fast = await runCli([flag])
      const viaOclif = await runCli([flag], {env: slow})
      expect(fast.exitCode, flag).to.equal(0)
      expect(viaOclif.exitCode, flag).to.equal(0)
      expect(fast.stdout, flag).to.equal(viaOclif.stdout)
    }
    expect((await runCli(['--help'])).stdout).to.match(/deploy +Deploy ENV at a revision/)
    // -h is oclif's too (package.json additionalHelpFlags), so it works after a command as well.
    const deployHelp = await runCli(['deploy', '-h'])
    expect(deployHelp.exitCode).to.equal(0)
    expect(deployHelp.stdout).to.contain('$ skycap deploy')
  })

  it("answers each command's help without oclif exactly as oclif does (--help, -h, help CMD)", async function () {
    this.timeout(120_000)
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {hidden?: boolean}>}
    const ids = Object.entries(manifest.commands)
      .filter(([, c]) => !c.hidden)
      .map(([id]) => id.split(':'))
    expect(ids.length).to.be.at.least(20)
    const slow = {SKYCAP_NO_FAST_PATH: '1', COLUMNS: '80'}
    for (const words of ids) {
      const fast = await runCli([...words, '--help'])
      const viaOclif = await runCli([...words, '--help'], {env: slow})
      expect(fast.exitCode, words.join(' ')).to.equal(0)
      expect(fast.stdout, words.join(' ')).to.equal(viaOclif.stdout)
      expect(fast.stdout, words.join(' ')).to.include('USAGE\n  $ skycap')
    }
    for (const args of [
      ['lock', 'acquire', '-h'],
      ['help', 'lock', 'acquire'],
      ['help', 'deploy'],
    ]) {
      const fast = await runCli(args)
      expect(fast.stdout, args.join(' ')).to.equal((await runCli(args, {env: slow})).stdout)
    }
    // A topic, or a command that does not exist, is oclif's to answer.
    expect((await runCli(['lock', '--help'])).stdout).to.include('lock acquire')
    expect((await runCli(['deplyo', '--help'])).exitCode).to.equal(2)
  })

  it('render prints YAML on stdout and warnings on stderr', async () => {
    const r = await runCli(['render', 'staging'], {cwd: repo.dir})
    expect(r.exitCode).to.equal(0)
    expect(r.stdout).to.match(/^apiVersion: v1\nkind: ConfigMap/)
    expect(r.stdout.split('\n---\n')).to.have.length(8)
    expect(r.stderr).to.not.contain('apiVersion')
  })

  it('render --json prints one document with images and objects', async () => {
    const r = await runCli(['render', 'prod@HEAD', '--json'], {cwd: repo.dir})
    expect(r.exitCode).to.equal(0)
    const doc = parseJson(r.stdout)
    expect(doc.ok).to.equal(true)
    expect(doc.result.environment).to.equal('prod')
    expect(doc.result.namespace).to.equal('shop')
    expect(doc.result.context).to.equal('prod-cluster')
    expect(doc.result.revision.sha).to.match(/^[0-9a-f]{40}$/)
    expect(doc.result.images.cache).to.equal('redis:7.2')
    expect(doc.result.objects.map((o: {kind: string}) => o.kind)).to.include('HorizontalPodAutoscaler')
    expect(r.stderr).to.equal('')
  })

  it('render --output-dir writes one file per object', async () => {
    const out = mkdtempSync(join(tmpdir(), 'skycap-out-'))
    const r = await runCli(['render', 'dev', '--output-dir', out], {cwd: repo.dir})
    expect(r.exitCode).to.equal(0)
    const files = r.stdout.trim().split('\n')
    expect(files).to.have.length(8)
    expect(files[0]).to.match(/001-configmap-web-config-[0-9a-f]{10}\.yaml$/)
    expect(existsSync(files[7] as string)).to.equal(true)
  })

  it('render --output-dir onto a file exits 2, naming the path, with a JSON error', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'skycap-out-')), 'out')
    writeFileSync(file, '')
    for (const path of [file, join(file, 'sub')]) {
      const r = await runCli(['render', 'dev', '--output-dir', path], {cwd: repo.dir})
      expect(r.exitCode, r.stderr).to.equal(2)
      expect(r.stderr).to.contain(`--output-dir ${path}`).and.contain(`${file} is a file, not a folder`).and.contain('Pass a folder path')
      expect(r.stderr).to.not.contain('EEXIST').and.not.contain('ENOTDIR')
      const json = await runCli(['render', 'dev', '--output-dir', path, '--json'], {cwd: repo.dir})
      expect(json.exitCode).to.equal(2)
      expect(parseJson(json.stdout).error.code).to.equal('invalid_input')
    }
  })

  it('init --dir onto a file exits 2, naming the path', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'skycap-init-')), 'shop')
    writeFileSync(file, '')
    const r = await runCli(['init', '--dir', file, '--json'])
    expect(r.exitCode).to.equal(2)
    expect(parseJson(r.stdout).error).to.include({code: 'invalid_input', message: `--dir ${file} is a file, not a folder; nothing was written`})
  })

  it('config schema prints the schema, and the {ok, result} envelope with --json', async () => {
    const plain = await runCli(['config', 'schema'])
    expect(plain.exitCode).to.equal(0)
    const schema = JSON.parse(plain.stdout)
    expect(schema.$schema).to.match(/json-schema\.org/)
    const r = await runCli(['config', 'schema', '--json'])
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(parseJson(r.stdout)).to.deep.equal({ok: true, result: schema})
  })

  it('scale refuses a replica count above the int32 maximum with exit 2', async () => {
    const r = await runCli(['scale', 'web', '99999999999999999999', '-e', 'staging', '--json'], {cwd: repo.dir})
    expect(r.exitCode).to.equal(2)
    expect(parseJson(r.stdout).error.message).to.equal('replicas must be at most 2147483647, the largest count Kubernetes accepts, not "99999999999999999999"')
    const word = await runCli(['scale', 'web', 'many', '-e', 'staging'], {cwd: repo.dir})
    expect(word.exitCode).to.equal(2)
    expect(word.stderr).to.contain('replicas must be a whole number of 0 or more, not "many"')
  })

  const invalidInputs: Array<[string, string[], RegExp]> = [
    ['an unknown environment', ['render', 'qa'], /unknown environment "qa"[\s\S]*dev, staging, prod/],
    ['an unknown revision', ['render', 'staging@nope'], /unknown revision "nope"/],
    ['a malformed target', ['render', 'staging@a b'], /"staging@a b" is not a valid target/],
    ['an unknown service', ['render', 'staging', '--service', 'api'], /unknown service "api"/],
    ['an unknown flag', ['render', 'staging', '--frobnicate'], /unknown flag --frobnicate/],
    // The release to roll back to is --to's: said so (it was only "see --help").
    ['a release given as a second argument of rollback', ['rollback', 'staging', '4'], /Unexpected argument: 4\n.*goes with --to: skycap rollback staging --to 4/],
  ]
  for (const [what, args, message] of invalidInputs) {
    it(`exits 2 for ${what}, with a message and a JSON error`, async () => {
      const r = await runCli(args, {cwd: repo.dir})
      expect(r.exitCode).to.equal(2)
      expect(r.stderr).to.match(message)
      expect(r.stdout).to.equal('')
      const j = await runCli([...args, '--json'], {cwd: repo.dir})
      expect(j.exitCode).to.equal(2)
      const doc = parseJson(j.stdout)
      expect(doc).to.deep.include({ok: false, exitCode: 2})
      expect(`${doc.error.message}\n${doc.error.hint ?? ''}`).to.match(message)
    })
  }

  it("config show prints an environment's settings with its overrides merged (YAML, and --json); an unknown environment is exit 2", async () => {
    const config = join(fixturesDir, 'shop', 'skycap.yaml')
    const r = await runCli(['config', 'show', 'dev', '--config', config])
    expect(r.exitCode, r.stderr).to.equal(0)
    const {parse} = await import('yaml')
    const shown = parse(r.stdout) as {environment: string; namespace: string; services: Record<string, {replicas?: number; env?: Record<string, string>; command?: string[]}>}
    expect(shown).to.include({environment: 'dev', namespace: 'shop-dev'})
    // dev's services: {web: {replicas: 1, env: {LOG_LEVEL: debug}}} over web's replicas 2 and env: merged key by key.
    expect(shown.services.web).to.deep.include({replicas: 1, env: {LOG_LEVEL: 'debug', CART_URL: 'http://cart:9090'}, command: ['node', 'server.js']})
    const j = parseJson((await runCli(['config', 'show', '-e', 'prod', '--json', '--config', config])).stdout)
    expect(j.result).to.deep.include({environment: 'prod', protected: true, context: 'prod-cluster', registry: 'registry.example.com/shop'})
    expect(j.result.services.web).to.deep.include({replicas: 3, resources: {requests: {cpu: '100m', memory: '128Mi'}, limits: {memory: '512Mi'}}})
    const bad = await runCli(['config', 'show', 'prd', '--config', config])
    expect(bad.exitCode).to.equal(2)
    expect(bad.stderr).to.contain('unknown environment "prd"').and.contain('prod')
    expect(bad.stdout).to.equal('')
  })

  it('config validate lists every problem with file:line:column and exits 2', async () => {
    const r = await runCli(['config', 'validate', '--config', join(fixturesDir, 'invalid', 'skycap.yaml')])
    expect(r.exitCode).to.equal(2)
    expect(r.stderr).to.contain('invalid/skycap.yaml:2:6: app is "Shop_App" but must be a DNS label')
    expect(r.stderr).to.contain('invalid/skycap.yaml:6:5: unknown key "replica" in services.web')
    expect(r.stderr).to.contain('invalid/skycap.yaml:7:11: services.web.port must be a whole number, not string "8080"')
    expect(r.stderr).to.contain('invalid/skycap.yaml:10:5: environments.staging is missing the required key "namespace"')
    const j = parseJson((await runCli(['config', 'validate', '--json', '--config', join(fixturesDir, 'invalid', 'skycap.yaml')])).stdout)
    expect(j.error.errors).to.have.length(4)
    expect(j.error.errors[0]).to.include({line: 2, column: 6})
  })

  it('--json: a template error has its file, line and column in error.errors, as skycap.yaml errors do', async () => {
    const app = await TempRepo.fromFixture('shop')
    try {
      app.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  host: {{ values.hots }}\n')
      const r = await runCli(['render', 'staging', '--json'], {cwd: app.dir})
      expect(r.exitCode).to.equal(2)
      const {error} = parseJson(r.stdout)
      expect(error).to.deep.include({code: 'invalid_config', details: {variable: 'values.hots'}})
      expect(error.errors).to.deep.equal([{message: error.message, file: 'deploy/extra.yaml', line: 6, column: 12}])
    } finally {
      app.remove()
    }
  })

  it('config validate counts in words that agree: 1 service, environment staging', async () => {
    const app = await TempRepo.withFiles({
      'skycap.yaml': 'app: one\nservices:\n  web: {image: web, healthcheck: {port: 80}, resources: {requests: {cpu: 10m}}}\nenvironments: {staging: {namespace: one}}\n',
    })
    try {
      const r = await runCli(['config', 'validate'], {cwd: app.dir})
      expect(r.stdout).to.equal(`${join(app.dir, 'skycap.yaml')} is valid: app one, 1 service, environment staging`)
    } finally {
      app.remove()
    }
  })

  it('config validate accepts the example app', async () => {
    const r = await runCli(['config', 'validate', '--json'], {cwd: repo.dir})
    expect(r.exitCode).to.equal(0)
    expect(parseJson(r.stdout).result.environments.map((e: {name: string}) => e.name)).to.deep.equal(['dev', 'staging', 'prod'])
  })

  it('init scaffolds a config that renders, and never overwrites', async () => {
    const app = new TempRepo('skycap-init-')
    await app.git('init', '-q', '-b', 'main')
    const r = await runCli(['init', '--app', 'demo'], {cwd: app.dir})
    expect(r.exitCode).to.equal(0)
    expect(r.stdout).to.contain('created skycap.yaml')
    // No Dockerfile: web's build: line is commented out, and init says what that means.
    expect(r.stderr).to.contain('web has no build: block (commented out in skycap.yaml): this folder has no Dockerfile')
    expect(r.stderr).to.contain('Next: commit, then `skycap render staging`')
    expect(r.stderr).to.contain("set registry: and each environment's context: in skycap.yaml (registry.example.com/…, staging-cluster and prod-cluster are placeholders)")
    await app.commit('scaffold')
    const rendered = await runCli(['render', 'staging@HEAD', '--json'], {cwd: app.dir})
    expect(rendered.exitCode, rendered.stdout).to.equal(0)
    expect(parseJson(rendered.stdout).result.objects.map((o: {kind: string}) => o.kind)).to.deep.equal(['ConfigMap', 'Service', 'Deployment', 'Ingress'])
    const again = await runCli(['init'], {cwd: app.dir})
    expect(again.exitCode).to.equal(2)
    expect(again.stderr).to.contain('already exists; nothing was written')
    app.remove()
  })

  it('init outside a repository says to make one before the commit', async () => {
    const dir = new TempRepo('skycap-init-norepo-')
    try {
      const r = await runCli(['init', '--app', 'demo'], {cwd: dir.dir})
      expect(r.exitCode, r.stderr).to.equal(0)
      expect(r.stderr).to.contain('is in no repository, and skycap maps revisions to images through one: `git init` (or `hg init`) there and commit')
      expect(r.stderr).to.not.contain('Next: commit')
    } finally {
      dir.remove()
    }
  })
})
