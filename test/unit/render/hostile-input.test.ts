import {expect} from 'chai'
import {appendFileSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {resolveEnvironment} from '../../../src/config/environment.js'
import {loadConfig} from '../../../src/config/load.js'
import {type ConfigError, ConfigErrors, ExitCode} from '../../../src/errors.js'
import {openVcs} from '../../../src/vcs/vcs.js'
import {renderEnvironment} from '../../../src/render/render.js'
import {clearTemplateCache} from '../../../src/render/templates.js'
import {TempRepo} from '../../helpers/repo.js'

/** The error a render of `env` throws, with how long it took; fails the test when it is not exit 2. */
async function renderFailure(repo: TempRepo, env = 'staging'): Promise<{message: string; ms: number}> {
  const started = Date.now()
  try {
    clearTemplateCache()
    const loaded = await loadConfig({cwd: repo.dir})
    await renderEnvironment(loaded, resolveEnvironment(loaded, env), await (await openVcs(repo.dir)).resolve())
  } catch (error) {
    expect((error as ConfigError).exitCode, String((error as Error).stack)).to.equal(ExitCode.INVALID)
    const message = error instanceof ConfigErrors ? error.errors.map((e) => e.message).join('\n') : (error as Error).message
    return {message, ms: Date.now() - started}
  }
  throw new Error('expected the render to fail')
}

// "Billion laughs": nine levels of nine aliases, 9^9 strings if expanded.
const BOMB = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...'bcdefghi'.split('').map((x, i) => `${x}: &${x} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n')

describe('hostile input: exit 2 with file and line, quickly', () => {
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.fromFixture('shop')
  })
  afterEach(() => repo.remove())

  it('a YAML alias bomb in skycap.yaml', async () => {
    repo.write('skycap.yaml', `${BOMB}\n`)
    const {message, ms} = await renderFailure(repo)
    expect(message).to.match(/\/skycap\.yaml:2:\d+: YAML aliases expand to too much data \(a "billion laughs" document\)$/)
    expect(ms).to.be.below(5000)
  })

  it('a YAML alias bomb in a repository template', async () => {
    repo.write('deploy/bomb.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n${BOMB.replace(/^a:/, 'x:')}\n`)
    const {message} = await renderFailure(repo)
    expect(message).to.match(/\/deploy\/bomb\.yaml:5:\d+: YAML aliases expand to too much data/)
  })

  it('a merge key whose value is no mapping, in skycap.yaml and in a template (exit 1 without a file or line: "Merge sources must be maps")', async () => {
    const original = readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')
    for (const merged of ['5', '*scalar', '[*scalar]']) {
      repo.write('skycap.yaml', `x-scalar: &scalar web\n${original.replace(/^services:\n/m, `services:\n  bad:\n    image: bad\n    <<: ${merged}\n`)}`)
      const line = 1 + original.split('\n').findIndex((l) => l === 'services:') + 4
      const {message} = await renderFailure(repo)
      expect(message, `${merged}: ${message}`).to.match(new RegExp(`/skycap\\.yaml:${line}:9: invalid YAML: a merge key \\(<<\\) takes a mapping, an alias of one \\(\\*name\\), or a list of them$`))
    }
    repo.write('skycap.yaml', original)
    repo.write('deploy/merge.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: merge}\ndata: {<<: 5}\n')
    const {message} = await renderFailure(repo)
    expect(message).to.match(/\/deploy\/merge\.yaml:4:12: invalid YAML: a merge key \(<<\) takes a mapping/)
  })

  it('binary data (!!binary) as the whole skycap.yaml: one line, not a hundred "unknown key" lines of Buffer methods', async () => {
    repo.write('skycap.yaml', '!!binary aGVsbG8=\n')
    const {message} = await renderFailure(repo)
    expect(message).to.match(/\/skycap\.yaml:1:1: the top level must be a mapping, not binary data \(!!binary\)$/)
  })

  // Flow mappings `{a: {a: … 1}}`, `levels` deep under `x:`.
  const nested = (levels: number) => `${'{a: '.repeat(levels)}1${'}'.repeat(levels)}`

  it('mappings nested 700 deep in a template (render crashed with "Maximum call stack size exceeded", exit 1), and 150 deep', async () => {
    for (const levels of [700, 150]) {
      repo.write('deploy/deep.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\nx: ${nested(levels)}\n`)
      const {message} = await renderFailure(repo)
      // The document is level 1, x's mapping level 2: the 101st level starts after 99 `{a: ` of x.
      expect(message).to.match(new RegExp(`/deploy/deep\\.yaml:4:${4 + 99 * 4}: mappings and lists nest more than 100 levels deep here$`))
    }
    // 99 under x (100 with the document): rendered.
    repo.write('deploy/deep.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\nx: ${nested(99)}\n`)
    clearTemplateCache()
    const loaded = await loadConfig({cwd: repo.dir})
    const rendered = await renderEnvironment(loaded, resolveEnvironment(loaded, 'staging'), await (await openVcs(repo.dir)).resolve())
    expect(JSON.stringify(rendered)).to.contain('"name":"deep"')
  })

  it('an error in an included file is said at its line there, with the file that includes it (it was said at the including file, with the line of the included one)', async () => {
    repo.write('deploy/cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels:\n{% include "_labels.liquid" %}\n')
    for (const [body, said] of [
      ['    a: b\n    host: {{ values.hostt }}\n', '2:\\d+: template uses undefined variable "values\\.hostt"'],
      ['    a: b\n    x: {{ 1 | nofilter }}\n', '2:\\d+: template uses unknown filter "nofilter"'],
      ['\n    x: {% if x %}\n', '2:\\d+: template error: tag \\{% if x %\\} not closed'],
    ]) {
      repo.write('deploy/_labels.liquid', body as string)
      const {message} = await renderFailure(repo)
      expect(message, message).to.match(new RegExp(`/deploy/_labels\\.liquid:${said} \\(included by \\S*deploy/cm\\.yaml\\)$`))
    }
    // An error of the including file itself is said as before.
    repo.write('deploy/_labels.liquid', '    a: b\n')
    repo.write('deploy/cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels:\n{% include "_labels.liquid" %}\n    c: {{ values.nope }}\n')
    const {message} = await renderFailure(repo)
    expect(message, message).to.match(/\/deploy\/cm\.yaml:7:\d+: template uses undefined variable "values\.nope"$/)
  })

  it('a template that includes itself, directly or through another file (exit 2 with "Maximum call stack size exceeded" and a hint about syntax)', async () => {
    repo.write('deploy/loop.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loop}\ndata:\n  x: "{% include \'_part.yaml\' %}"\n')
    for (const [part, other] of [
      ['a{% include "_part.yaml" %}', undefined],
      ['a{% include "_other.yaml" %}', 'b\n{% include "_part.yaml" %}'],
    ] as const) {
      repo.write('deploy/_part.yaml', part)
      if (other) repo.write('deploy/_other.yaml', other)
      const {message} = await renderFailure(repo)
      // The stack runs out at any include of the loop: the error names one of them.
      const at = other ? '_(part|other)\\.yaml:\\d+:\\d+' : '_part\\.yaml:1:2'
      // Where the stack runs out differs between Node versions and runs: in a file another includes, that is said too.
      expect(message, message).to.match(
        new RegExp(`/deploy/${at}: template error: includes nest deeper than the stack allows here; does a file include itself, directly or through other files\\?( \\(included by \\S+\\))?$`),
      )
    }
    // A recursion that stops renders.
    repo.write('deploy/_part.yaml', '{% if n > 0 %}{{ n }}{% assign n = n | minus: 1 %}{% include "_part.yaml" %}{% endif %}')
    repo.write('deploy/loop.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loop}\ndata:\n  x: "{% assign n = 3 %}{% include \'_part.yaml\' %}"\n')
    rmSync(join(repo.dir, 'deploy/_other.yaml'))
    clearTemplateCache()
    const loaded = await loadConfig({cwd: repo.dir})
    const rendered = await renderEnvironment(loaded, resolveEnvironment(loaded, 'staging'), await (await openVcs(repo.dir)).resolve())
    expect(JSON.stringify(rendered)).to.contain('"x":"321"')
  })

  it("a service's podTemplate nested 700 deep in skycap.yaml (config validate passed it, render crashed)", async () => {
    repo.write('skycap.yaml', readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8').replace(/^services:\n/m, `services:\n  deep:\n    image: deep\n    podTemplate: {spec: {x: ${nested(700)}}}\n`))
    const {message} = await renderFailure(repo)
    expect(message).to.match(/\/skycap\.yaml:\d+:\d+: mappings and lists nest more than 100 levels deep here$/)
  })

  it('a template looping over a huge range, or doubling a string, stops at its place (it ran for minutes and took gigabytes)', async () => {
    repo.write('deploy/loop.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loop}\ndata:\n  x: "{% for i in (1..100000000) %}x{% endfor %}"\n')
    const range = await renderFailure(repo)
    expect(range.message).to.match(/\/deploy\/loop\.yaml:5:\d+: template builds more than 50,000,000 items or characters \(a range or a string\); it was stopped$/)
    expect(range.ms).to.be.below(5000)
    repo.write(
      'deploy/loop.yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loop}\ndata:\n  x: "{% assign s = \'ab\' %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}"\n',
    )
    expect((await renderFailure(repo)).message).to.match(/\/deploy\/loop\.yaml:5:\d+: template builds more than 50,000,000 items/)
    rmSync(join(repo.dir, 'deploy/loop.yaml'))
    // imageTag goes through the same engine.
    repo.write('skycap.yaml', readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8').replace(/^app: (.*)$/m, 'app: $1\nimageTag: "{{ revision.short }}{% for i in (1..100000000) %}{% endfor %}"'))
    expect((await renderFailure(repo)).message).to.match(/skycap\.yaml \(imageTag\):1:\d+: template builds more than 50,000,000 items/)
  })

  it('a template still rendering after 10 s is stopped at its place', async () => {
    // Loops over an array assigned once, with a body that prints nothing: nothing the memory limit counts (a sort of
    // 2000 items is counted: on a fast machine that limit came first), so only the time stops it.
    repo.write(
      'deploy/slow.yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: slow}\ndata:\n  x: "{% assign a = (1..3000) %}{% for i in a %}{% for j in a %}{% for k in a %}{% if k == 0 %}x{% endif %}{% endfor %}{% endfor %}{% endfor %}"\n',
    )
    const {message, ms} = await renderFailure(repo)
    expect(message).to.match(/\/deploy\/slow\.yaml:5:\d+: template took more than 10s to render; it was stopped$/)
    expect(ms).to.be.below(20_000)
  }).timeout(30_000)

  it('an alias without its anchor names the file', async () => {
    repo.write('deploy/alias.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: *nothing}\n')
    const {message} = await renderFailure(repo)
    expect(message).to.match(/\/deploy\/alias\.yaml(:\d+:\d+)?: /)
  })

  for (const [what, value] of [
    ['invalid base64', 'not base64!'],
    ['base64 without its padding', 'c2VjcmV0MQ'],
    ['a number', '98765432101'],
    ['a mapping', '{nested: s3cret-value}'],
  ] as const) {
    it(`a Secret's data value that is ${what}: named, its value not shown`, async () => {
      repo.write('deploy/secret.yaml', `apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata:\n  OK: c2VjcmV0\n  PASSWORD: ${value}\n`)
      const {message} = await renderFailure(repo)
      expect(message).to.match(/\/deploy\/secret\.yaml:1: Secret\/db data\.PASSWORD is (not valid base64|a (number|mapping), not a base64 string)$/)
      // Only the refused key is named (the temporary folder's random name could hold "OK"), and never its value.
      const said = message.replaceAll(repo.dir, '<repo>')
      expect(said).to.not.contain('OK')
      expect(said).to.not.contain(value.replace(/^\{nested: /, '').replace(/\}$/, ''))
    })
  }

  it('a template that is not UTF-8 (Latin-1 "café") names the file, line, column and byte; it rendered "caf\ufffd"', async () => {
    writeFileSync(join(repo.dir, 'deploy/extra.yaml'), Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {greeting: "café"}\n', 'latin1'))
    expect((await renderFailure(repo)).message).to.match(/\/deploy\/extra\.yaml:4:22: the template is not UTF-8 text \(byte 0xE9\)$/)
    writeFileSync(join(repo.dir, 'deploy/extra.yaml'), Buffer.from('\ufeffapiVersion: v1\n', 'utf16le'))
    expect((await renderFailure(repo)).message).to.match(/\/deploy\/extra\.yaml: the template is UTF-16 text, not UTF-8$/)
  })

  it('a skycap.yaml that is not UTF-8 is refused at the byte, before it is parsed', async () => {
    appendFileSync(join(repo.dir, 'skycap.yaml'), Buffer.from('# caf\xe9\n', 'latin1'))
    const lines = (await renderFailure(repo)).message
    expect(lines).to.match(/\/skycap\.yaml:\d+:6: the file is not UTF-8 text \(byte 0xE9\)$/)
  })

  it('UTF-8 text, a byte-order mark and a U+FFFD the file really holds still render', async () => {
    writeFileSync(join(repo.dir, 'deploy/extra.yaml'), '\ufeffapiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {greeting: "café \ufffd ☕"}\n')
    clearTemplateCache()
    const loaded = await loadConfig({configPath: join(repo.dir, 'skycap.yaml')})
    const r = await renderEnvironment(loaded, resolveEnvironment(loaded, 'staging'), await (await openVcs(repo.dir)).resolve())
    expect(r.objects.find((o) => o.object.metadata.name === 'extra')?.object.data).to.deep.equal({greeting: 'café \ufffd ☕'})
  })

  it("a file (or a link to nowhere) where the environment's config folder has a service's folder: exit 2 naming it, not readdir's ENOTDIR", async () => {
    repo.write('config/staging/worker', 'concurrency=8\n')
    expect((await renderFailure(repo)).message).to.match(
      /\/config\/staging\/worker: is a file, not a folder: an environment's config folder holds a folder per service, whose files replace or add that service's keys$/,
    )
    rmSync(join(repo.dir, 'config/staging/worker'))
    symlinkSync('gone', join(repo.dir, 'config/staging/worker'))
    expect((await renderFailure(repo)).message).to.match(/\/config\/staging\/worker: symbolic link to gone, which does not exist$/)
  })

  it('valid base64 in data (with line breaks) renders', async () => {
    repo.write('deploy/secret.yaml', `apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata:\n  A: c2VjcmV0\n  B: |\n    c2VjcmV0c2Vj\n    cmV0\n`)
    clearTemplateCache()
    const loaded = await loadConfig({configPath: join(repo.dir, 'skycap.yaml')})
    const r = await renderEnvironment(loaded, resolveEnvironment(loaded, 'staging'), await (await openVcs(repo.dir)).resolve())
    expect(r.objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`)).to.include('Secret/db')
  })
})
