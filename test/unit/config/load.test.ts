import {expect} from 'chai'
import {checkConfig} from '../../../src/config/check.js'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {resolveEnvironment} from '../../../src/config/environment.js'
import {findConfigFile, loadConfig, parseConfig} from '../../../src/config/load.js'
import {skycapSchema} from '../../../src/config/schema.js'
import {addSkycapKeywords, AJV_OPTIONS} from '../../../src/config/standalone.js'
import {loadValidator, validatorKind} from '../../../src/config/validate.js'
import {ConfigErrors, ExitCode, UserError} from '../../../src/errors.js'
import {renderEnvironment} from '../../../src/render/render.js'
import {openVcs} from '../../../src/vcs/vcs.js'
import {fixturesDir, repoRoot, TempRepo} from '../../helpers/repo.js'

const VALID = `app: shop
services:
  web:
    image: web
    port: 8080
    healthcheck: {path: /healthz}
    resources: {requests: {cpu: 100m}}
environments:
  staging:
    namespace: shop-staging
`

async function errorsOf(text: string, file = '/tmp/x/skycap.yaml'): Promise<ConfigErrors> {
  try {
    await parseConfig(text, file)
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigErrors)
    expect((error as ConfigErrors).exitCode).to.equal(ExitCode.INVALID)
    return error as ConfigErrors
  }
  throw new Error('expected the config to be rejected')
}

describe('config loading', () => {
  it('loads a valid file without warnings', async () => {
    const loaded = await parseConfig(VALID, '/tmp/x/skycap.yaml')
    expect(loaded.config.app).to.equal('shop')
    expect(loaded.warnings).to.deep.equal([])
  })

  it('reports an unknown key with file, line, column and the allowed keys', async () => {
    const e = await errorsOf(VALID.replace('    port: 8080', '    port: 8080\n    replica: 2'))
    expect(e.errors).to.have.length(1)
    expect(e.errors[0]?.location).to.deep.include({line: 6, column: 5})
    expect(e.message).to.contain('skycap.yaml:6:5: unknown key "replica" in services.web (did you mean "replicas"?); allowed keys: image, replicas, port')
  })

  it('suggests the closest allowed key, and none when no key is close', async () => {
    const near = await errorsOf(VALID.replace('    port: 8080', '    port: 8080\n    replcas: 2'))
    expect(near.message).to.contain('unknown key "replcas" in services.web (did you mean "replicas"?); allowed keys:')
    const far = await errorsOf(VALID.replace('    port: 8080', '    port: 8080\n    sidecar: x'))
    expect(far.message).to.contain('unknown key "sidecar" in services.web; allowed keys:').and.not.contain('did you mean')
  })

  it('reports an unknown top-level key', async () => {
    const e = await errorsOf(`${VALID}registy: foo\n`)
    expect(e.message).to.match(/:11:1: unknown key "registy" in the top level \(did you mean "registry"\?\); allowed keys: app, registry/)
    // The schema is named by the command that prints it: a user's repository has no skycap.schema.json.
    expect(e.hint).to.equal('Fix /tmp/x/skycap.yaml (`skycap config schema` prints the JSON Schema of every key; editors with the YAML extension complete from it).')
  })

  it('reports a wrong type at the value', async () => {
    const e = await errorsOf(VALID.replace('port: 8080', 'port: "eighty"'))
    expect(e.message).to.contain(':5:11: services.web.port must be a whole number, not string "eighty"')
  })

  it('reports a missing required key at its parent', async () => {
    const e = await errorsOf(VALID.replace('    namespace: shop-staging\n', '    context: foo\n'))
    expect(e.message).to.contain(':10:5: environments.staging is missing the required key "namespace"')
    // Every key missing at one place in one line (they came one per run), each place on its own.
    const both = await errorsOf('environments:\n  staging: {}\nservices:\n  web: {port: 80}\n')
    expect(both.message).to.contain('1:1: the top level is missing the required key "app"\n')
    expect(both.message).to.contain('environments.staging is missing the required key "namespace"')
    const two = await errorsOf('environments:\n  staging: {namespace: x}\n')
    expect(two.message).to.contain('1:1: the top level is missing the required keys "app", "services"')
    expect(two.message.match(/missing the required/g)).to.have.length(1)
  })

  it('names the DNS-label rule for a bad app name', async () => {
    const e = await errorsOf(VALID.replace('app: shop', 'app: My_Shop'))
    expect(e.message).to.contain(`:1:6: app is "My_Shop" but must be a DNS label`)
    // A character that does not show (a lone carriage return at the end of a line) is written out.
    const cr = await errorsOf(VALID.replace('app: shop\n', 'app: "shop\\r"\n'))
    expect(cr.message).to.contain(`:1:6: app is "shop\\r" but must be a DNS label`)
  })

  it('rejects a service name that is not a DNS label', async () => {
    const e = await errorsOf(VALID.replace('  web:', '  Web_1:'))
    expect(e.message).to.contain(`:3:3: services: "Web_1" is not a valid name`)
  })

  it('collects several errors at once', async () => {
    const e = await errorsOf(VALID.replace('port: 8080', 'port: 0').replace('app: shop', 'app: 5'))
    expect(e.errors.length).to.equal(2)
  })

  it('lists several errors by line, as a reader meets them, not in the order the checks found them', async () => {
    // The schema reports the top level's unknown key before services.web's wrong port, and app's type last.
    const e = await errorsOf(`${VALID.replace('port: 8080', 'port: 0').replace('app: shop', 'app: 5')}notifi: {}\n`)
    expect(e.errors.map((x) => x.location?.line)).to.deep.equal([1, 5, 11])
    expect(e.message.split('\n').map((l) => l.replace(/^.*?skycap\.yaml:(\d+):.*$/, '$1'))).to.deep.equal(['1', '5', '11'])
  })

  it('reports YAML syntax errors with their position', async () => {
    const e = await errorsOf('app: shop\nservices: [\n')
    expect(e.message).to.match(/skycap\.yaml:\d+:\d+: invalid YAML/)
  })

  it('an item indented one space too far is reported on its line, not at the comments above it (it said the first comment line)', async () => {
    const text = VALID.replace('    port: 8080\n', '    # the port\n    # the Service\n\n     port: 8080\n')
    const e = await errorsOf(text)
    expect(e.message).to.equal('/tmp/x/skycap.yaml:8:6: invalid YAML: All mapping items must start at the same column')
    // And in a rendered template.
    const repo = await TempRepo.fromFixture('shop')
    try {
      repo.write('deploy/x.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  # labels\n   labels: {a: b}\n')
      const loaded = await loadConfig({cwd: repo.dir})
      const error = await renderEnvironment(loaded, resolveEnvironment(loaded, 'staging'), await (await openVcs(repo.dir)).resolve()).catch((x: unknown) => x as Error)
      expect((error as Error).message).to.match(/\/deploy\/x\.yaml:6:4: rendered template is not valid YAML: All mapping items must start at the same column$/)
    } finally {
      repo.remove()
    }
  })

  it('YAML merge keys reuse one service\'s settings in another (they were an unknown key "<<")', async () => {
    const text = VALID.replace('environments:\n', '  api:\n    <<: *web\n    image: api\n    port: 9090\nenvironments:\n').replace('  web:\n', '  web: &web\n')
    const loaded = await parseConfig(text, '/tmp/x/skycap.yaml')
    expect(loaded.config.services.api).to.deep.include({image: 'api', port: 9090, healthcheck: {path: '/healthz'}, resources: {requests: {cpu: '100m'}}})
    expect(loaded.config.services.web).to.deep.include({image: 'web', port: 8080})
    // A merged mapping is checked as the service it makes: a wrong value in the anchor is an error of each.
    const e = await errorsOf(text.replace('    port: 8080\n', '    port: 8080\n    replicas: -1\n'))
    expect(e.errors.map((x) => x.message.replace(/^.*?: /, ''))).to.have.length(2)
  })

  it('a top-level x- key holds anchors, as in docker compose (it was an unknown key); elsewhere, or without the dash, it is unknown', async () => {
    const text = `app: shop\nx-defaults: &defaults\n  healthcheck: {path: /healthz}\n  resources: {requests: {cpu: 100m}}\nservices:\n  web: {<<: *defaults, image: web, port: 8080}\n  api: {<<: *defaults, image: api, port: 9090}\nenvironments:\n  staging: {namespace: shop-staging}\n`
    const loaded = await parseConfig(text, '/tmp/x/skycap.yaml')
    expect(loaded.config.services.api).to.deep.include({image: 'api', healthcheck: {path: '/healthz'}})
    expect(loaded.warnings).to.deep.equal([])
    const e = await errorsOf(text.replace('x-defaults', 'xdefaults'))
    expect(e.errors[0]?.message).to.match(/unknown key "xdefaults" in the top level; allowed keys: app, .*, environments, and x-… keys \(ignored, for anchors\)$/)
    const inService = await errorsOf(text.replace('image: api,', 'image: api, x-note: 1,'))
    expect(inService.errors[0]?.message).to.match(/unknown key "x-note" in services\.api; allowed keys: (?!.*x-…)/)
    // As a key under services, as compose users write anchors: it was deployed as a service. Said at it, with where
    // the anchor goes (with or without an image of its own).
    for (const base of ['{image: base, port: 1}', '{healthcheck: {path: /healthz}}']) {
      const under = await errorsOf(`app: shop\nservices:\n  x-base: &b ${base}\n  web: {<<: *b, image: web, port: 8080}\nenvironments:\n  staging: {namespace: shop-staging}\n`)
      expect(under.errors.map((x) => x.message)).to.deep.equal([
        '/tmp/x/skycap.yaml:3:3: services.x-base: a name starting with x- reads as an extension key, which skycap ignores only at the top level; here it would be deployed as a service',
      ])
      expect(under.hint).to.equal('Move the anchor to a top-level key (`x-base: &base {…}` beside services:), or rename the service.')
    }
  })

  it('one tab is one error, named as a tab, with how many the parser found after it (it gave eleven lines)', async () => {
    const e = await errorsOf(VALID.replace('    port: 8080\n', '\tport: 8080\n'))
    expect(e.errors.map((x) => x.message)).to.deep.equal(['/tmp/x/skycap.yaml:5:1: invalid YAML: a tab indents this line; YAML indents with spaces only'])
    expect(e.hint).to.match(/^Fix the YAML syntax in \/tmp\/x\/skycap\.yaml \(the parser found \d+ more errors? after this one, which may follow from it\)\.$/)
    // Keys written twice are each an error of their own.
    const twice = await errorsOf(VALID.replace('    port: 8080\n', '    port: 8080\n    port: 8081\n    image: x\n'))
    expect(twice.errors).to.have.length(2)
    expect(twice.hint).to.equal('Fix the YAML syntax in /tmp/x/skycap.yaml.')
  })

  it("a second YAML document (a --- line) is named as such, not as the yaml library's advice to call parseAllDocuments", async () => {
    const e = await errorsOf(`${VALID}---\napp: other\n`)
    expect(e.message).to.equal('/tmp/x/skycap.yaml:11:1: invalid YAML: a second document starts here; skycap.yaml is one document (remove the --- line and what follows, or merge them)')
  })

  it('a --config that does not exist says so, without fs jargon', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skycap-none-'))
    try {
      await loadConfig({cwd: dir, configPath: 'nope.yaml'})
      expect.fail('expected an error')
    } catch (error) {
      expect((error as UserError).exitCode).to.equal(ExitCode.INVALID)
      expect((error as UserError).message).to.equal(`${join(dir, 'nope.yaml')} does not exist`)
      expect((error as UserError).hint).to.equal('Check the path given to --config.')
    }
  })

  it('rejects duplicate keys', async () => {
    const e = await errorsOf(VALID.replace('    port: 8080', '    port: 8080\n    port: 9090'))
    expect(e.message).to.contain('invalid YAML')
    expect(e.message).to.match(/:6:\d+:/)
  })

  it('rejects overrides of unknown services, listing the known ones', async () => {
    const e = await errorsOf(`${VALID}    services: {api: {replicas: 2}}\n`)
    expect(e.message).to.contain('environments.staging.services.api overrides an unknown service; known: web')
    expect(e.errors[0]?.location?.line).to.equal(11)
    const typo = await errorsOf(`${VALID}    services: {wbe: {replicas: 2}}\n`)
    expect(typo.message).to.contain('environments.staging.services.wbe overrides an unknown service; did you mean "web"?')
  })

  it('rejects defaultEnvironment that names no environment', async () => {
    const e = await errorsOf(`defaultEnvironment: prod\n${VALID}`)
    expect(e.message).to.contain('skycap.yaml:1:21: defaultEnvironment "prod" is not an environment; known: staging')
  })

  it('does not echo a binary file or a long value into the message', async () => {
    const binary = await errorsOf('\u007fELF\u0002\u0001\u0001\u0000\u0000\ufffd\ufffd')
    expect(binary.message).to.contain('the top level must be a mapping, not binary data (is this file YAML?)').and.not.contain('ELF')
    const long = await errorsOf(VALID.replace('    port: 8080', `    port: 8080\n    replicas: "${'y'.repeat(200)}"`))
    expect(long.message)
      .to.contain(`services.web.replicas must be a whole number, not string "${'y'.repeat(75)}…"`)
      .and.not.contain('y'.repeat(100))
  })

  it('refuses a duration longer than skycap supports, where config validate sees it', async () => {
    const e = await errorsOf(`${VALID}notify: {timeout: 999999h}\ndeploy: {timeout: 10m}\n`)
    expect(e.message).to.contain('notify.timeout is "999999h", longer than skycap supports (at most 596h)')
    expect(e.errors).to.have.length(1)
  })

  it('names the closest environment when defaultEnvironment is mistyped', async () => {
    const e = await errorsOf(`defaultEnvironment: stagign\n${VALID}`)
    // The one environment there is: named once, not "did you mean "staging"?; known: staging".
    expect(e.message).to.contain('defaultEnvironment "stagign" is not an environment; did you mean "staging"?')
    expect(e.message).to.not.contain('known:')
    // With several, the close one and the others.
    const two = await errorsOf(`defaultEnvironment: stagign
${VALID.replace('environments:\n', 'environments:\n  prod: {namespace: p}\n')}`)
    expect(two.message).to.contain('defaultEnvironment "stagign" is not an environment; did you mean "staging"?; known: ')
  })

  it('checks the templates folder as render reads it: the named folder exists, each folder in it is an environment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skycap-templates-'))
    const file = join(dir, 'skycap.yaml')
    const missing = await errorsOf(`templates: nope\n${VALID}`, file)
    expect(missing.message).to.contain('skycap.yaml:1:12: templates: folder "nope" does not exist (relative to skycap.yaml); create it or remove the key')
    // No templates key and no deploy/ folder: no templates, nothing to say.
    await parseConfig(VALID, file)
    mkdirSync(join(dir, 'deploy', 'stagin'), {recursive: true})
    mkdirSync(join(dir, 'deploy', 'staging'))
    writeFileSync(join(dir, 'deploy', 'extra.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n')
    const unknown = await errorsOf(VALID, file)
    expect(unknown.message).to.contain('templates: folder "deploy/stagin" does not match any environment; did you mean "staging"?')
    expect(unknown.errors).to.have.length(1)
    // Without a templates key, at no line of the file (it was put at the first key, app:).
    expect(unknown.errors[0]?.location).to.deep.equal({file})
    expect(unknown.message.startsWith(`${file}: templates: folder`)).to.equal(true)
  })

  it('a templates folder outside the repository is one error, its folders not listed; a templates "folder" that is a file is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skycap-templates-'))
    const file = join(dir, 'skycap.yaml')
    const outside = await errorsOf(`templates: /etc\n${VALID}`, file)
    expect(outside.errors.map((e) => e.message)).to.deep.equal([`${file}:1:12: templates: folder "/etc" is outside the repository ${dir}; skycap reads templates and config files only from inside it`])
    writeFileSync(join(dir, 'manifests.yaml'), '')
    const notFolder = await errorsOf(`templates: manifests.yaml\n${VALID}`, file)
    expect(notFolder.message).to.equal(`${file}:1:12: templates: "manifests.yaml" is a file; templates must name a folder (its *.yaml for every environment, <env>/*.yaml for one)`)
    writeFileSync(join(dir, 'deploy'), '')
    expect((await errorsOf(VALID, file)).message).to.equal(`${file}: templates: "deploy" is a file; templates must name a folder (its *.yaml for every environment, <env>/*.yaml for one)`)
  })

  it('rejects a config folder that does not exist', async () => {
    const e = await errorsOf(VALID.replace('    port: 8080', '    port: 8080\n    config: nope'))
    expect(e.message).to.contain(':6:13: services.web.config: folder "nope" does not exist')
  })

  it("refuses what a config folder holds that no ConfigMap would get: a folder in a service's, a file or an unknown service's folder in an environment's", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skycap-config-folders-'))
    for (const f of [
      'config/web/a.txt',
      'config/web/sub/b.txt',
      'config/web/.hidden/c',
      'config/staging/web/a.txt',
      'config/staging/wbe/x.txt',
      'config/staging/worker/x.txt',
      'config/staging/stray.txt',
    ]) {
      mkdirSync(join(dir, f, '..'), {recursive: true})
      writeFileSync(join(dir, f), 'x')
    }
    const text =
      'app: shop\nservices:\n  web:\n    image: web\n    config: config/web\n  worker:\n    image: worker\nenvironments:\n  staging:\n    namespace: shop-staging\n    config: config/staging\n'
    const file = join(dir, 'skycap.yaml')
    const e = await errorsOf(text, file)
    expect(e.message.split('\n')).to.deep.equal([
      `${file}:5:13: services.web.config: "config/web/sub" is a folder; a config folder's files become ConfigMap keys and the folders in it are not read (move its files up, or into a folder of their own)`,
      `${file}:11:13: environments.staging.config: "config/staging/stray.txt" is a file; an environment's config folder holds a folder per service (config/staging/<service>/stray.txt), whose files override that service's keys`,
      `${file}:11:13: environments.staging.config: folder "config/staging/wbe" is not read, as no service is named wbe; did you mean "web"? (its folders are named after the services with a config: folder: web)`,
      `${file}:11:13: environments.staging.config: folder "config/staging/worker" is not read, as service worker has no config: folder (give it one, or remove this folder)`,
    ])
    // An environment's folder inside a service's (config: config, and config/staging) is the environment's.
    rmSync(join(dir, 'config/web/sub'), {recursive: true})
    rmSync(join(dir, 'config/staging/wbe'), {recursive: true})
    rmSync(join(dir, 'config/staging/stray.txt'))
    writeFileSync(file, text.replace('config: config/web', 'config: config').replace('  worker:\n    image: worker\n', ''))
    rmSync(join(dir, 'config/staging/worker'), {recursive: true})
    rmSync(join(dir, 'config/web'), {recursive: true})
    await parseConfig(text.replace('config: config/web', 'config: config').replace('  worker:\n    image: worker\n', ''), file)
  })

  it('refuses a config folder whose ConfigMap Kubernetes would refuse (over 1000 KiB of names and contents): deploy said so at its render, config validate not at all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skycap-config-size-'))
    try {
      mkdirSync(join(dir, 'config/web'), {recursive: true})
      // Two files that each fit, and together do not; a hidden file is not counted.
      writeFileSync(join(dir, 'config/web/a.bin'), Buffer.alloc(600 * 1024))
      writeFileSync(join(dir, 'config/web/b.bin'), Buffer.alloc(500 * 1024))
      writeFileSync(join(dir, 'config/web/.big'), Buffer.alloc(2000 * 1024))
      const text = 'app: shop\nservices:\n  web:\n    image: web\n    config: config/web\nenvironments:\n  staging: {namespace: shop-staging}\n'
      const file = join(dir, 'skycap.yaml')
      const e = await errorsOf(text, file)
      expect(e.message).to.equal(
        `${file}:5:13: services.web.config: the ConfigMap of config folder "config/web" (file names and contents) is 1100 KiB (1126410 bytes); the limit is 1000 KiB (1024000 bytes) (move large files into the image or a volume)`,
      )
      writeFileSync(join(dir, 'config/web/b.bin'), Buffer.alloc(300 * 1024))
      await parseConfig(text, file)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it("refuses a config file whose name no ConfigMap key may have, in a service's folder and in an environment's (render refused it later, with no line)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skycap-config-keys-'))
    const long = `${'a'.repeat(250)}.txt`
    for (const f of ['config/web/my file.txt', 'config/web/ok.txt', 'config/web/.hidden file', `config/web/${long}`, 'config/staging/web/café.txt', 'config/staging/web/fine.json']) {
      mkdirSync(join(dir, f, '..'), {recursive: true})
      writeFileSync(join(dir, f), 'x')
    }
    const text = 'app: shop\nservices:\n  web:\n    image: web\n    config: config/web\nenvironments:\n  staging:\n    namespace: shop-staging\n    config: config/staging\n'
    const file = join(dir, 'skycap.yaml')
    const e = await errorsOf(text, file)
    expect(e.message.split('\n')).to.deep.equal([
      `${file}:5:13: services.web.config: config file "config/web/${long}" cannot be a ConfigMap key (allowed: letters, digits, '-', '_', '.', at most 253 of them); rename it`,
      `${file}:5:13: services.web.config: config file "config/web/my file.txt" cannot be a ConfigMap key (allowed: letters, digits, '-', '_', '.', at most 253 of them); rename it`,
      `${file}:9:13: environments.staging.config: config file "config/staging/web/café.txt" cannot be a ConfigMap key (allowed: letters, digits, '-', '_', '.', at most 253 of them); rename it`,
    ])
    rmSync(join(dir, `config/web/${long}`))
    rmSync(join(dir, 'config/web/my file.txt'))
    rmSync(join(dir, 'config/staging/web/café.txt'))
    await parseConfig(text, file)
    rmSync(dir, {recursive: true, force: true})
  })

  it('names YAML\'s odd values for what they are: .inf and .nan, dates and binary (it said "number null" and "a mapping"); an unknown tag is an error (its value was read as text)', async () => {
    const envOf = async (value: string) => (await errorsOf(VALID.replace('    port: 8080', `    port: 8080\n    env: {A: ${value}}`))).message
    expect(await envOf('.inf')).to.contain("services.web.env.A must be a string or a number or a boolean, not number Infinity (YAML's .inf or .nan: quote it for the text)")
    expect(await envOf('.nan')).to.contain("not number NaN (YAML's .inf or .nan: quote it for the text)")
    expect(await envOf('!!timestamp 2001-12-14')).to.contain('not a date (quote it for the text)')
    expect(await envOf('!!binary aGVsbG8=')).to.contain('not binary data (!!binary)')
    expect(await envOf('!Ref Foo')).to.match(/:6:14: invalid YAML: Unresolved tag: !Ref: skycap\.yaml has no custom tags; write the value itself/)
    // A plain date-like text stays text (YAML 1.2 core schema), and passes.
    await parseConfig(VALID.replace('    port: 8080', '    port: 8080\n    env: {A: 2001-12-14}'), '/tmp/x/skycap.yaml')
  })

  it('rejects an invalid log regex', async () => {
    const e = await errorsOf(`${VALID}logs: {exclude: ['(unclosed']}\n`)
    expect(e.message).to.contain('logs.exclude.0 is not a valid regular expression')
  })

  it('rejects port and ports together', async () => {
    const e = await errorsOf(VALID.replace('    port: 8080', '    port: 8080\n    ports: [{port: 9090}]'))
    expect(e.message).to.contain('services.web has both port and ports')
  })

  it("rejects a strategy key of another type where it is written (a rolling service's checks were accepted and never ran); an environment may switch the type", async () => {
    const e = await errorsOf(
      VALID.replace('    port: 8080', '    port: 8080\n    strategy: {type: rolling, checks: [{http: {path: /}}], steps: [{setWeight: 10}]}') +
        '  prod:\n    namespace: p\n    services: {web: {strategy: {type: canary, preview: true}}}\n',
    )
    expect(e.errors.map((x) => x.message.replace(/^\S+skycap\.yaml:/, ''))).to.deep.equal([
      '6:39: services.web.strategy: a rolling rollout has no checks (a key of blueGreen and canary); remove it, or set the type it belongs to',
      '6:67: services.web.strategy: a rolling rollout has no steps (a key of canary); remove it, or set the type it belongs to',
      '14:56: environments.prod.services.web.strategy: a canary rollout has no preview (a key of blueGreen); remove it, or set the type it belongs to',
    ])
    // A blue-green service that an environment makes rolling keeps its (unused) keys there: not an error.
    await parseConfig(
      VALID.replace('    port: 8080', '    port: 8080\n    strategy: {type: blueGreen, preview: true, scaleDownDelay: 1m}') +
        '  local:\n    namespace: l\n    services: {web: {strategy: {type: rolling}}}\n',
      '/tmp/x/skycap.yaml',
    )
  })

  it("rejects an environment's ports over the service's port, and its port over the service's ports (the Service served the ports, templates got the port)", async () => {
    const ports = await errorsOf(`${VALID}    services: {web: {ports: [{name: http, port: 80, targetPort: 8080}]}}\n`)
    expect(ports.message).to.match(
      /skycap\.yaml:11:29: environments\.staging\.services\.web sets ports and the service sets port: after merging it has both; use the same key in both places \(ports for several\)$/,
    )
    const port = await errorsOf(`${VALID.replace('    port: 8080', '    ports: [{port: 8080}]')}    services: {web: {port: 80}}\n`)
    expect(port.message).to.match(/skycap\.yaml:11:\d+: environments\.staging\.services\.web sets port and the service sets ports: after merging it has both/)
    // The same key in both places passes.
    await parseConfig(`${VALID}    services: {web: {port: 80}}\n`, '/tmp/x/skycap.yaml')
  })

  it('refuses an image or registry that no registry would take, at its line, and takes the forms Docker takes', async () => {
    const e = await errorsOf(
      `registry: Registry.Example.com:5000/Shop\n${VALID.replace('image: web', 'image: NGINX:Latest')}  prod:\n    namespace: p\n    registry: localhost:5000//x\n    services: {web: {image: 'redis:.bad'}}\n`,
    )
    expect(e.errors.map((x) => x.message)).to.deep.equal([
      '/tmp/x/skycap.yaml:1:11: registry "Registry.Example.com:5000/Shop" is not a valid image registry: the registry must be lower case ("Shop"; registries refuse capitals in repository names)',
      '/tmp/x/skycap.yaml:5:12: services.web.image "NGINX:Latest" is not a valid image reference: the name must be lower case ("NGINX"; registries refuse capitals in repository names)',
      '/tmp/x/skycap.yaml:14:15: environments.prod.registry "localhost:5000//x" is not a valid image registry: the registry has an empty part (a leading, trailing or doubled \'/\')',
      `/tmp/x/skycap.yaml:15:29: environments.prod.services.web.image "redis:.bad" is not a valid image reference: the tag ".bad" is not one (letters, digits, '_', '.', '-', not starting with '.' or '-'; at most 128)`,
    ])
    for (const image of ['redis:7.2', 'ghcr.io/acme/web', 'localhost:5000/shop/web:v1', 'a__b/c-d.e', `web@sha256:${'a'.repeat(64)}`, 'Registry.Example.com/web', '[::1]:5000/web'])
      await parseConfig(VALID.replace('image: web', `image: '${image}'`), '/tmp/x/skycap.yaml')
    for (const registry of ['localhost:5000', 'ghcr.io/acme/', 'acme']) await parseConfig(`registry: ${registry}\n${VALID}`, '/tmp/x/skycap.yaml')
    const digest = await errorsOf(VALID.replace('image: web', 'image: web@sha256:abc'))
    expect(digest.message).to.contain('the digest "sha256:abc" is not one')
  })

  it('rejects an imageTag that does not depend on the revision', async () => {
    const e = await errorsOf(`imageTag: latest\n${VALID}`)
    expect(e.message).to.contain('imageTag must use {{ revision.sha }} or {{ revision.short }}')
  })

  it('warns (does not fail) about a service without resources or health check', async () => {
    // At the service's name, not its first key (which is a line below in block style).
    const loaded = await parseConfig(`${VALID.replace('services:', 'services:\n  worker:\n    image: worker')}`, '/tmp/x/skycap.yaml')
    const messages = loaded.warnings.map((w) => `${w.line}:${w.column}: ${w.message}`)
    expect(messages).to.deep.equal([
      '3:3: service "worker" has no resource requests or limits; the scheduler cannot place it well',
      '3:3: service "worker" has no healthcheck; skycap can only tell that its pods run, not that they serve',
    ])
  })

  it('more than three services without resources or health check: one warning each, naming them, at the first (a 20-service app had 29 lines)', async () => {
    const bare = Array.from({length: 10}, (_, i) => `  s${i}: {image: s${i}}`).join('\n')
    const loaded = await parseConfig(`${VALID.replace('services:', `services:\n${bare}`)}`, '/tmp/x/skycap.yaml')
    expect(loaded.warnings.map((w) => `${w.line}: ${w.message}`)).to.deep.equal([
      '3: 10 services have no resource requests or limits (s0, s1, s2, s3, s4, s5, s6, s7 and 2 more); the scheduler cannot place them well',
      '3: 10 services have no healthcheck (s0, s1, s2, s3, s4, s5, s6, s7 and 2 more); skycap can only tell that their pods run, not that they serve',
    ])
    const four = Array.from({length: 4}, (_, i) => `  s${i}: {image: s${i}}`).join('\n')
    const fewer = await parseConfig(`${VALID.replace('services:', `services:\n${four}`)}`, '/tmp/x/skycap.yaml')
    expect(fewer.warnings.map((w) => w.message)).to.deep.equal([
      '4 services have no resource requests or limits (s0, s1, s2, s3); the scheduler cannot place them well',
      '4 services have no healthcheck (s0, s1, s2, s3); skycap can only tell that their pods run, not that they serve',
    ])
  })

  it('warns about ${VAR} in an env value, which skycap does not expand (the container got the text); $(VAR) and plain values are fine', async () => {
    const text = VALID.replace('    port: 8080\n', '    port: 8080\n    env: {DB_PASS: "${DB_PASS}", URL: "http://$(HOST):80", MODE: plain}\n').replace(
      '    namespace: shop-staging\n',
      '    namespace: shop-staging\n    services: {web: {env: {TOKEN: "x-${TOKEN}"}}}\n',
    )
    const loaded = await parseConfig(text, '/tmp/x/skycap.yaml')
    expect(loaded.warnings.map((w) => `${w.line}: ${w.message}`)).to.deep.equal([
      '6: services.web.env.DB_PASS has ${DB_PASS}, which skycap does not expand: the container gets the text as written. Put a secret in a Secret (envFrom: [{secret: …}]); a plain value, write it here',
      '12: environments.staging.services.web.env.TOKEN has ${TOKEN}, which skycap does not expand: the container gets the text as written. Put a secret in a Secret (envFrom: [{secret: …}]); a plain value, write it here',
    ])
  })

  it("warns about an environment in one of Kubernetes' own namespaces (kube-system), at its namespace key", async () => {
    const loaded = await parseConfig(`${VALID}  ops:\n    namespace: kube-system\n  pub:\n    namespace: kube-public\n  fine:\n    namespace: kube-apps\n`, '/tmp/x/skycap.yaml')
    expect(loaded.warnings.map((w) => `${w.line}:${w.column}: ${w.message}`)).to.deep.equal([
      '12:16: environment "ops" deploys into kube-system, a namespace of Kubernetes itself: give the app a namespace of its own',
      '14:16: environment "pub" deploys into kube-public, a namespace of Kubernetes itself: give the app a namespace of its own',
    ])
  })

  it('config validate warns about a protected environment without a context, at its protected key; not one with a context, nor an unprotected one; a deploy does not', async () => {
    const text = `${VALID}  prod:\n    namespace: shop\n    protected: true\n  prod-eu:\n    context: eu\n    namespace: shop\n    protected: true\n  qa:\n    namespace: shop-qa\n    protected: false\n`
    const dir = mkdtempSync(join(tmpdir(), 'skycap-protected-'))
    try {
      writeFileSync(join(dir, 'skycap.yaml'), text)
      const check = await checkConfig({configPath: join(dir, 'skycap.yaml')})
      expect(check.warnings.map((w) => `${w.line}:${w.column}: ${w.message}`)).to.deep.equal([
        '13:16: environment "prod" is protected but names no context: it deploys to whichever kube context is current where skycap runs (`--yes` asks nothing); give it `context:` unless your pipeline chooses the cluster on purpose (KUBECONFIG)',
      ])
      expect((await parseConfig(text, join(dir, 'skycap.yaml'))).warnings, 'loading (every command) says nothing').to.deep.equal([])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('config validate warns about two environments with one namespace on one context, not on different contexts; a deploy does not', async () => {
    const text = `${VALID}  qa:\n    namespace: shop-staging\n  prod:\n    context: a\n    namespace: shop\n  prod2:\n    context: b\n    namespace: shop\n  prod3:\n    context: a\n    namespace: shop\n`
    const dir = mkdtempSync(join(tmpdir(), 'skycap-shared-ns-'))
    try {
      writeFileSync(join(dir, 'skycap.yaml'), text)
      const check = await checkConfig({configPath: join(dir, 'skycap.yaml')})
      const shared = "their services' objects have the same names, so each one's deploy is refused the other's (owned_elsewhere); give each environment a namespace of its own"
      expect(check.warnings.filter((w) => w.message.startsWith('environments')).map((w) => `${w.line}:${w.column}: ${w.message}`)).to.deep.equal([
        `12:16: environments "staging" and "qa" both deploy to namespace shop-staging on the current kube context: ${shared}`,
        `21:16: environments "prod" and "prod3" both deploy to namespace shop on context a: ${shared}`,
      ])
      // What every command reads (a deploy shows these warnings) does not carry it.
      expect((await parseConfig(text, join(dir, 'skycap.yaml'))).warnings.filter((w) => w.message.startsWith('environments'))).to.deep.equal([])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it("refuses a service's labels that are skycap's own or not Kubernetes labels, and annotation keys Kubernetes refuses, at their line", async () => {
    const e = await errorsOf(
      VALID.replace(
        '    port: 8080\n',
        '    port: 8080\n    labels: {app.kubernetes.io/part-of: other, skycap.dev/environment: prod, app.kubernetes.io/instance: x, "bad key!": x, team: "has space", ok: fine}\n    annotations: {"bad key!": x, example.com/fine: "any value at all"}\n',
      ),
    )
    const own = "is skycap's own label (it tells whose an object is, and which pods a service's selector picks); remove it, skycap sets it"
    const rule = "may hold letters, digits, '-', '_' and '.', and must start and end with a letter or digit"
    expect(e.message.split('\n')).to.deep.equal([
      `/tmp/x/skycap.yaml:6:41: services.web.labels: app.kubernetes.io/part-of ${own}`,
      `/tmp/x/skycap.yaml:6:72: services.web.labels: skycap.dev/environment ${own}`,
      `/tmp/x/skycap.yaml:6:106: services.web.labels: app.kubernetes.io/instance ${own}`,
      `/tmp/x/skycap.yaml:6:121: services.web.labels: "bad key!: x" is not a Kubernetes label: its name part ${rule}`,
      `/tmp/x/skycap.yaml:6:130: services.web.labels: "team: has space" is not a Kubernetes label: a label value ${rule}`,
      `/tmp/x/skycap.yaml:7:31: services.web.annotations: "bad key!" is not a Kubernetes annotation key: its name part ${rule}`,
    ])
  })

  it("refuses a service whose name is too long for the Services its strategy adds (blue-green's preview, a canary's stable and canary)", async () => {
    const long = 's'.repeat(56)
    const bg = await errorsOf(VALID.replaceAll('web', long).replace('    port: 8080\n', '    port: 8080\n    strategy: {type: blueGreen, preview: true}\n'))
    expect(bg.message).to.match(
      new RegExp(`:6:15: services\\.${long}\\.strategy: its blueGreen rollout makes the Service "${long}-preview" \\(64 characters\\); a Service name has at most 63\\. Shorten the service's name$`),
    )
    // Without preview, or with a name that fits, nothing is said.
    await parseConfig(VALID.replaceAll('web', long).replace('    port: 8080\n', '    port: 8080\n    strategy: {type: blueGreen}\n'), '/tmp/x/skycap.yaml')
    await parseConfig(VALID.replaceAll('web', long.slice(1)).replace('    port: 8080\n', '    port: 8080\n    strategy: {type: blueGreen, preview: true}\n'), '/tmp/x/skycap.yaml')
  })

  it('finds skycap.yaml in a parent directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skycap-find-'))
    writeFileSync(join(dir, 'skycap.yaml'), VALID)
    mkdirSync(join(dir, 'a', 'b'), {recursive: true})
    expect(findConfigFile(join(dir, 'a', 'b'))).to.equal(join(dir, 'skycap.yaml'))
    const loaded = await loadConfig({cwd: join(dir, 'a', 'b')})
    expect(loaded.dir).to.equal(dir)
  })

  it('warns that a skycap.yml beside skycap.yaml is not read, from the cache too, but not when --config names the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skycap-both-'))
    try {
      writeFileSync(join(dir, 'skycap.yaml'), VALID)
      expect((await loadConfig({cwd: dir})).warnings).to.deep.equal([])
      writeFileSync(join(dir, 'skycap.yml'), VALID.replace('8080', '9090'))
      // The second load comes from the cache of the unchanged text: the warning is not cached with it.
      for (const load of [1, 2]) {
        const warnings = (await loadConfig({cwd: dir})).warnings.map((w) => w.message)
        expect(warnings, `load ${load}`).to.have.length(1)
        expect(warnings[0]).to.match(/skycap\.yml is not read: skycap reads skycap\.yaml when a folder has both\. Move what it says into skycap\.yaml and remove it$/)
      }
      expect((await loadConfig({cwd: dir, configPath: 'skycap.yaml'})).warnings).to.deep.equal([])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('says what to do when there is no skycap.yaml', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skycap-none-'))
    try {
      await loadConfig({cwd: dir})
      expect.fail('expected an error')
    } catch (error) {
      expect((error as UserError).exitCode).to.equal(ExitCode.INVALID)
      expect((error as UserError).message).to.contain('no skycap.yaml found')
      expect((error as UserError).hint).to.contain('skycap init')
    }
  })

  it('deep-merges per-environment overrides; lists replace', async () => {
    const loaded = await loadConfig({configPath: join(fixturesDir, 'shop', 'skycap.yaml')})
    const prod = resolveEnvironment(loaded, 'prod')
    expect(prod.services.web?.replicas).to.equal(3)
    expect(prod.services.web?.resources).to.deep.equal({requests: {cpu: '100m', memory: '128Mi'}, limits: {memory: '512Mi'}})
    const dev = resolveEnvironment(loaded, 'dev')
    expect(dev.services.web?.env).to.deep.equal({LOG_LEVEL: 'debug', CART_URL: 'http://cart:9090'})
    expect(loaded.config.services.web?.replicas, 'the base config is not mutated').to.equal(2)
  })

  it('names the known environments for an unknown one (exit 2)', async () => {
    const loaded = await loadConfig({configPath: join(fixturesDir, 'shop', 'skycap.yaml')})
    expect(() => resolveEnvironment(loaded, 'qa'))
      .to.throw(UserError, 'unknown environment "qa"')
      .with.property('hint')
      .that.contains('dev, staging, prod')
  })

  it('ships the same JSON Schema it validates with', () => {
    const shipped = JSON.parse(readFileSync(join(repoRoot, 'skycap.schema.json'), 'utf8'))
    expect(shipped).to.deep.equal(JSON.parse(JSON.stringify(skycapSchema)))
  })

  it('validates with the validator generated at build time, which reports what a run-time compile reports', async () => {
    await loadValidator()
    expect(validatorKind).to.equal('generated')
    type Validate = {(data: unknown): boolean; errors?: unknown}
    const generated = ((await import('../../../src/config/validator.generated.js' as string)) as {default: Validate}).default
    const {Ajv} = await import('ajv')
    const ajv = new Ajv(AJV_OPTIONS)
    addSkycapKeywords(ajv)
    const compiled = ajv.compile(skycapSchema)
    const inputs = [
      {app: 'Shop', services: {}, environments: {}},
      {app: 'shop', services: {web: {image: 'web', replicas: -1, bogus: 1, healthcheck: {path: 3}}}, environments: {staging: {namespace: 'Bad_NS'}}},
      {app: 'shop', services: {'Bad Name': {image: 'web'}}, environments: {s: {namespace: 's', protected: 'yes'}}},
      {app: 'shop', services: {web: {image: 'web', port: 8080}}, environments: {s: {namespace: 's'}}},
    ]
    for (const input of inputs) {
      expect(generated(input), JSON.stringify(input)).to.equal(compiled(input))
      expect(generated.errors ?? null).to.deep.equal(compiled.errors ?? null)
    }
    expect(compiled(inputs[1]), 'the inputs include invalid ones').to.equal(false)
  })
})
