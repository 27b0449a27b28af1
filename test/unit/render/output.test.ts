import {expect} from 'chai'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {umask} from 'node:process'

import {UserError} from '../../../src/errors.js'
import {writeError} from '../../../src/folders.js'
import type {KubeObject} from '../../../src/render/objects.js'
import {runRender} from '../../../src/render/run.js'
import {redactSecretValues} from '../../../src/render/secrets.js'
import {OBJECT_FILE_PATTERN, writeObjects} from '../../../src/render/serialize.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {TempRepo} from '../../helpers/repo.js'
import {rejectsWithUserError} from '../../helpers/errors.js'

const SECRET_TEMPLATE = `apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
data:
  password: aHVudGVyMg==
stringData:
  url: postgres://app:hunter2@db:5432/shop
`

function configMap(name: string): KubeObject {
  return {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name}, data: {a: '1'}}
}

describe('render --output-dir', () => {
  let tmp: string
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'skycap-output-'))
  })
  afterEach(() => rmSync(tmp, {recursive: true, force: true}))

  it('refuses a path that is a regular file, naming it, and writes nothing', async () => {
    const file = join(tmp, 'out')
    writeFileSync(file, 'keep me')
    const error = await rejectsWithUserError(() => writeObjects(file, [configMap('a')]))
    expect(error.message).to.equal(`--output-dir ${file} is a file, not a folder; nothing was written`)
    expect(error.hint).to.contain('Pass a folder path')
    expect(readFileSync(file, 'utf8')).to.equal('keep me')
  })

  it('refuses a path under a regular file (ENOTDIR), naming the file in the way', async () => {
    const file = join(tmp, 'out')
    writeFileSync(file, '')
    const error = await rejectsWithUserError(() => writeObjects(join(file, 'manifests'), [configMap('a')]))
    expect(error.message).to.equal(`--output-dir ${join(file, 'manifests')}: ${file} is a file, not a folder; nothing was written`)
    expect(error.details).to.deep.equal({path: join(file, 'manifests'), file})
  })

  it('turns a permission error into exit 2 naming the folder', () => {
    // Built from the error Node raises: a real unwritable folder cannot be made for root, who writes anywhere.
    const denied = Object.assign(new Error("EACCES: permission denied, mkdir '/srv/locked/out'"), {code: 'EACCES'})
    const error = writeError(denied, '--output-dir', '/srv/locked/out') as UserError
    expect(error).to.be.instanceOf(UserError)
    expect(error.message).to.equal('cannot write into --output-dir /srv/locked/out: permission denied (EACCES)')
    expect(error.hint).to.contain('change its permissions')
    const other = new Error('boom')
    expect(writeError(other, '--output-dir', '/srv/x')).to.equal(other)
  })

  it('creates missing folders', async () => {
    const {files} = await writeObjects(join(tmp, 'a', 'b'), [configMap('a')])
    expect(files).to.deep.equal([join(tmp, 'a', 'b', '001-configmap-a.yaml')])
    expect(existsSync(files[0] as string)).to.equal(true)
  })

  it('removes the files of an earlier render that this one does not write, and nothing else', async () => {
    const first = await writeObjects(tmp, [configMap('web-config-1111111111'), configMap('worker-config-2222222222')])
    for (const other of ['README.md', 'kustomization.yaml', '01-notes.yaml', '001-notes.yml', '001-Secret-x.yaml']) writeFileSync(join(tmp, other), 'mine')
    mkdirSync(join(tmp, '001-configmap-folder.yaml'))
    const second = await writeObjects(tmp, [configMap('web-config-3333333333'), configMap('worker-config-2222222222')])
    expect(second.removed).to.deep.equal([first.files[0]])
    expect(readdirSync(tmp).sort()).to.deep.equal([
      '001-Secret-x.yaml',
      '001-configmap-folder.yaml',
      '001-configmap-web-config-3333333333.yaml',
      '001-notes.yml',
      '002-configmap-worker-config-2222222222.yaml',
      '01-notes.yaml',
      'README.md',
      'kustomization.yaml',
    ])
  })

  it("a folder or link where an object's file goes: refused before anything is removed or written (a half-rendered folder was left)", async () => {
    const first = await writeObjects(tmp, [configMap('a'), configMap('b'), configMap('c')])
    const before = Object.fromEntries(first.files.map((f) => [f, readFileSync(f, 'utf8')]))
    rmSync(join(tmp, '002-configmap-b.yaml'))
    mkdirSync(join(tmp, '002-configmap-b.yaml'))
    let error = await rejectsWithUserError(() => writeObjects(tmp, [configMap('x'), configMap('b')]))
    expect(error.message).to.equal(`--output-dir ${tmp}: 002-configmap-b.yaml is a folder, where skycap writes an object's file; nothing was written`)
    expect(error.hint).to.equal(`Move ${join(tmp, '002-configmap-b.yaml')} away, or pass another folder.`)
    expect(readdirSync(tmp).sort()).to.deep.equal(['001-configmap-a.yaml', '002-configmap-b.yaml', '003-configmap-c.yaml'])
    expect(readFileSync(join(tmp, '001-configmap-a.yaml'), 'utf8')).to.equal(before[join(tmp, '001-configmap-a.yaml')])
    // A link would be written through, to wherever it points.
    rmSync(join(tmp, '002-configmap-b.yaml'), {recursive: true})
    writeFileSync(join(tmp, 'elsewhere'), 'keep me')
    symlinkSync('elsewhere', join(tmp, '002-configmap-b.yaml'))
    error = await rejectsWithUserError(() => writeObjects(tmp, [configMap('x'), configMap('b')]))
    expect(error.message).to.contain('002-configmap-b.yaml is a symbolic link, where skycap writes')
    expect(readFileSync(join(tmp, 'elsewhere'), 'utf8')).to.equal('keep me')
  })

  it("writes a Secret's file readable by its owner only, also over a file of an earlier render; other files as the umask says", async () => {
    const secret: KubeObject = {apiVersion: 'v1', kind: 'Secret', metadata: {name: 'db'}, stringData: {PASSWORD: 'hunter22'}}
    const mode = (f: string) => statSync(f).mode & 0o777
    const old = umask(0o022)
    try {
      const {files} = await writeObjects(tmp, [secret, configMap('a')])
      expect(files.map(mode)).to.deep.equal([0o600, 0o644])
      chmodSync(files[0] as string, 0o644)
      await writeObjects(tmp, [secret, configMap('a')])
      expect(mode(files[0] as string)).to.equal(0o600)
    } finally {
      umask(old)
    }
  })

  it('names every file it writes so that a later render recognises it', async () => {
    const objects: KubeObject[] = [
      configMap('web-config-0123456789'),
      {apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: {name: 'web'}},
      {apiVersion: 'v1', kind: 'Service', metadata: {name: 'my.dotted-name'}},
    ]
    const {files} = await writeObjects(tmp, objects)
    for (const f of files) expect(OBJECT_FILE_PATTERN.test(f.slice(tmp.length + 1)), f).to.equal(true)
  })
})

describe('Secret values in render output', () => {
  const secret: KubeObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {name: 'db'},
    data: {password: 'aHVudGVyMg==', empty: ''},
    stringData: {url: 'postgres://app:hunter2@db/shop', pin: '7'},
  }

  it('replaces each data/stringData value with its size and keeps the keys', () => {
    const [redacted] = redactSecretValues([secret])
    expect(redacted).to.deep.equal({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {name: 'db'},
      data: {password: '(redacted: 7 bytes)', empty: '(redacted: 0 bytes)'},
      stringData: {url: '(redacted: 30 bytes)', pin: '(redacted: 1 byte)'},
    })
  })

  it('never changes the objects it is given (what deploy applies)', () => {
    const objects = [secret, configMap('a')]
    const before = structuredClone(objects)
    const redacted = redactSecretValues(objects)
    expect(objects).to.deep.equal(before)
    expect(redacted[0]).to.not.equal(secret)
    expect(redacted[1]).to.equal(objects[1])
  })

  describe('runRender', () => {
    let repo: TempRepo
    let out: string
    before(async () => {
      repo = await TempRepo.fromFixture('shop')
      repo.write('deploy/secret.yaml', SECRET_TEMPLATE)
      await repo.commit('a secret')
      out = mkdtempSync(join(tmpdir(), 'skycap-output-'))
    })
    after(() => {
      repo.remove()
      rmSync(out, {recursive: true, force: true})
    })
    const options = () => ({target: 'staging', configPath: join(repo.dir, 'skycap.yaml')})
    const secretOf = (objects: Array<{kind: string; manifest: unknown}>) => objects.find((o) => o.kind === 'Secret')?.manifest as KubeObject

    it('redacts stdout and the JSON summary by default, and says so on stderr', async () => {
      const reporter = memoryReporter()
      const result = await runRender(options(), reporter)
      expect(result.yaml).to.contain('password: "(redacted: 7 bytes)"').and.contain('url: "(redacted: 35 bytes)"')
      expect(result.yaml).to.not.contain('aHVudGVyMg==').and.not.contain('hunter2')
      expect(JSON.stringify(result.summary)).to.not.contain('aHVudGVyMg==').and.not.contain('hunter2')
      expect(secretOf(result.summary.objects).data).to.deep.equal({password: '(redacted: 7 bytes)'})
      expect(reporter.warnings.join('\n')).to.contain('the values of 1 Secret are redacted on stdout; --show-secrets prints them')
    })

    it('prints the values with showSecrets', async () => {
      const reporter = memoryReporter()
      const result = await runRender({...options(), showSecrets: true}, reporter)
      expect(result.yaml).to.contain('password: aHVudGVyMg==').and.contain('url: postgres://app:hunter2@db:5432/shop')
      expect(secretOf(result.summary.objects).stringData).to.deep.equal({url: 'postgres://app:hunter2@db:5432/shop'})
      expect(reporter.warnings.join('\n')).to.not.contain('redacted')
    })

    it('writes the real values to --output-dir files, and keeps the JSON summary redacted', async () => {
      const reporter = memoryReporter()
      const result = await runRender({...options(), outputDir: out}, reporter)
      const file = result.files?.find((f) => f.endsWith('-secret-db.yaml')) as string
      expect(readFileSync(file, 'utf8')).to.contain('password: aHVudGVyMg==').and.contain('url: postgres://app:hunter2@db:5432/shop')
      expect(JSON.stringify(result.summary)).to.not.contain('hunter2')
      expect(result.summary.removed).to.deep.equal([])
    })

    it('reports on stderr how many stale files it removed from --output-dir', async () => {
      repo.write('config/web/app.properties', 'port=8080\ngreeting=Hallo\n')
      await repo.commit('config change')
      const reporter = memoryReporter()
      const result = await runRender({...options(), outputDir: out}, reporter)
      expect(result.summary.removed).to.have.length(1)
      expect(result.summary.removed?.[0]).to.match(/-configmap-web-config-[0-9a-f]{10}\.yaml$/)
      expect(readdirSync(out).filter((f) => f.includes('configmap-web-config'))).to.have.length(1)
      expect(reporter.lines).to.include(`removed 1 stale file of an earlier render from ${out}`)
    })

    it('refuses an --output-dir inside the templates folder, writing nothing (the next render read its files as templates, Secrets in plain text)', async () => {
      for (const dir of [join(repo.dir, 'deploy'), join(repo.dir, 'deploy', 'staging', 'out'), 'deploy/prod']) {
        const cwd = process.cwd()
        process.chdir(repo.dir)
        try {
          const error = await rejectsWithUserError(runRender({...options(), outputDir: dir}, memoryReporter()))
          expect(error.message).to.match(
            new RegExp(`^--output-dir ${dir} is inside the templates folder \\S+/deploy: its files would be read as templates by the next render, Secrets in plain text; nothing was written$`),
          )
        } finally {
          process.chdir(cwd)
        }
      }
      expect(existsSync(join(repo.dir, 'deploy', 'staging'))).to.equal(false)
      expect(readdirSync(join(repo.dir, 'deploy')).filter((f) => OBJECT_FILE_PATTERN.test(f))).to.deep.equal([])
    })
  })
})
