import {expect} from 'chai'
import {execa} from 'execa'
import {cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative} from 'node:path'

import {displayPath, loadConfig} from '../../../src/config/load.js'
import {ConfigErrors} from '../../../src/errors.js'
import {prepareRelease, REVISION_FOLDER_PREFIX} from '../../../src/render/prepare.js'
import {toYaml} from '../../../src/render/serialize.js'
import {clearTemplateCache} from '../../../src/render/templates.js'
import {formatWarning} from '../../../src/ui/output.js'
import {rejectsWithUserError} from '../../helpers/errors.js'
import {cliPath, fixturesDir, parseJson, runCli, TempRepo} from '../../helpers/repo.js'

/** Every file under `dir` (but .git) with its bytes, to prove a render left the work tree as it was. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name)
      if (name === '.git') continue
      if (statSync(full).isDirectory()) walk(full)
      else out[relative(dir, full)] = readFileSync(full).toString('base64')
    }
  }
  walk(dir)
  return out
}

async function renderYaml(repo: TempRepo, target: string): Promise<string> {
  clearTemplateCache()
  const prepared = await prepareRelease({target, cwd: repo.dir})
  return toYaml(prepared.objects.map((r) => r.object))
}

/**
 * skycap's temporary folders go to os.tmpdir(): pointed at a folder of the test's own (for this process and the CLI
 * runs given `tmp.dir`), it shows after each test that none was left behind.
 */
function useOwnTmpdir(): {readonly dir: string} {
  let dir = ''
  let saved: string | undefined
  before(() => {
    saved = process.env.TMPDIR
    dir = mkdtempSync(join(tmpdir(), 'skycap-prepare-test-'))
    process.env.TMPDIR = dir
  })
  after(() => {
    if (saved === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = saved
    rmSync(dir, {recursive: true, force: true})
  })
  afterEach(() => {
    expect(
      readdirSync(dir).filter((f) => f.startsWith(REVISION_FOLDER_PREFIX)),
      'temporary folders left behind',
    ).to.deep.equal([])
  })
  return {
    get dir() {
      return dir
    },
  }
}

const BINARY = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a])

describe('older revisions render from the revision (real git)', function () {
  this.timeout(60_000)
  let repo: TempRepo
  let old: string
  let oldYaml: string
  let newYaml: string
  const tmp = useOwnTmpdir()

  before(async () => {
    repo = await TempRepo.fromFixture('shop')
    writeFileSync(join(repo.dir, 'config/web/logo.bin'), BINARY)
    repo.write('config/staging/web/nested/ignored.txt', 'a sub-folder of a config folder is not a key\n')
    old = await repo.commit('old: binary config file, nested override folder')
    oldYaml = await renderYaml(repo, 'staging')

    const yaml = readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')
    repo.write(
      'skycap.yaml',
      yaml.replace('LOG_LEVEL: info', 'LOG_LEVEL: warn').replace('services: {web: {replicas: 1}}\n    config: config/staging', 'services: {web: {replicas: 4}}\n    config: config/staging'),
    )
    repo.write('deploy/ingress.yaml', readFileSync(join(repo.dir, 'deploy/ingress.yaml'), 'utf8').replace('  annotations:\n', '  annotations:\n    new: "yes"\n'))
    repo.write('config/web/app.properties', 'new=1\n')
    repo.write('config/staging/web/features.json', '{"new": true}\n')
    writeFileSync(join(repo.dir, 'config/web/logo.bin'), Buffer.from([0x01, 0x02, 0xff]))
    await repo.commit('new: env value, replicas, template, config files')
    newYaml = await renderYaml(repo, 'staging')
  })
  after(() => repo.remove())

  it('ENV@<old> renders exactly what HEAD rendered when it was the old commit; ENV@HEAD the new', async () => {
    expect(newYaml).to.not.equal(oldYaml)
    const before = snapshot(repo.dir)
    expect(await renderYaml(repo, `staging@${old.slice(0, 10)}`)).to.equal(oldYaml)
    expect(await renderYaml(repo, 'staging@HEAD')).to.equal(newYaml)
    expect(await renderYaml(repo, '@HEAD~1')).to.equal(oldYaml)
    expect(snapshot(repo.dir)).to.deep.equal(before)
    expect(await repo.git('status', '--porcelain')).to.equal('')
  })

  it('a service the revision lacks is named at that revision, at HEAD too (uncommitted changes said); without a revision, as before', async () => {
    const head = (await repo.git('rev-parse', 'HEAD')).slice(0, 7)
    const message = (target: string) =>
      prepareRelease({target, cwd: repo.dir, services: ['nope']}).then(
        () => 'rendered',
        (e: Error) => e.message,
      )
    expect(await message(`staging@${old.slice(0, 10)}`)).to.equal(`unknown service "nope" at ${old.slice(0, 7)}`)
    expect(await message('staging@HEAD')).to.equal(`unknown service "nope" at ${head} (HEAD)`)
    expect(await message('staging')).to.equal('unknown service "nope"')
    repo.write('untracked.txt', 'x\n')
    try {
      expect(await message('staging@HEAD')).to.equal(`unknown service "nope" at ${head} (HEAD) with uncommitted changes`)
    } finally {
      rmSync(join(repo.dir, 'untracked.txt'))
    }
  })

  it('reads skycap.yaml, templates, binary and nested config files of the revision', async () => {
    const prepared = await prepareRelease({target: `staging@${old}`, cwd: repo.dir})
    expect(prepared.revision.sha).to.equal(old)
    const objects = prepared.objects.map((r) => r.object) as any[]
    const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'web')
    expect(deployment.spec.replicas).to.equal(1)
    expect(deployment.spec.template.spec.containers[0].env).to.deep.include({name: 'LOG_LEVEL', value: 'info'})
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('web-config-'))
    expect(cm.binaryData).to.deep.equal({'logo.bin': BINARY.toString('base64')})
    expect(cm.data['app.properties']).to.equal(readFileSync(join(fixturesDir, 'shop/config/web/app.properties'), 'utf8'))
    expect(cm.data['features.json']).to.equal(readFileSync(join(fixturesDir, 'shop/config/staging/web/features.json'), 'utf8'))
    expect(Object.keys(cm.data)).to.not.include('ignored.txt')
    const ingress = objects.find((o) => o.kind === 'Ingress')
    expect(ingress.metadata.annotations).to.not.have.property('new')
    expect(prepared.objects.find((r) => r.object.kind === 'Ingress')?.source).to.equal(`${displayPath(join(repo.dir, 'deploy/ingress.yaml'))} (at ${old.slice(0, 7)})`)
    expect(prepared.warnings.map((w) => w.message).join('\n')).to.not.contain('changed since')
  })

  it('a dirty work tree does not leak into an older revision, and earns no warning there', async () => {
    const yaml = readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')
    try {
      // Even a broken skycap.yaml and template in the work tree: the revision's are used.
      repo.write('skycap.yaml', `${yaml}\nnot: [valid\n`)
      repo.write('deploy/ingress.yaml', '{{ nope }')
      repo.write('config/web/app.properties', 'dirty=1\n')
      const before = snapshot(repo.dir)
      const prepared = await prepareRelease({target: `prod@${old}`, cwd: repo.dir, refuseDirtyProtected: true})
      expect(prepared.revision.dirty).to.equal(false)
      expect(prepared.warnings.map((w) => w.message).join('\n')).to.not.contain('uncommitted')
      clearTemplateCache()
      expect(await renderYaml(repo, `staging@${old}`)).to.equal(oldYaml)
      expect(snapshot(repo.dir)).to.deep.equal(before)
      // At HEAD the work tree is what renders, so its dirt is refused for a protected environment, as before.
      const e = await rejectsWithUserError(prepareRelease({target: 'prod@HEAD', cwd: repo.dir, refuseDirtyProtected: true}))
      expect(e.message).to.contain('invalid YAML')
      await repo.git('checkout', '--', 'skycap.yaml', 'deploy/ingress.yaml')
      const dirty = await rejectsWithUserError(prepareRelease({target: 'prod@HEAD', cwd: repo.dir, refuseDirtyProtected: true}))
      expect(dirty.message).to.equal('the work tree has uncommitted changes and prod is protected')
    } finally {
      await repo.git('checkout', '--', '.')
    }
    expect(await repo.git('status', '--porcelain')).to.equal('')
  })

  it('runs in the built CLI: render ENV@<old> prints the old manifests', async () => {
    const r = await runCli(['render', `staging@${old.slice(0, 8)}`], {cwd: repo.dir, env: {TMPDIR: tmp.dir}})
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.stdout.trim()).to.equal(oldYaml.trim())
    expect(r.stderr).to.not.contain(tmp.dir)
    expect(await repo.git('status', '--porcelain')).to.equal('')
  })
})

describe('Ctrl-C while an older revision is read (real git)', function () {
  this.timeout(120_000)
  const tmp = useOwnTmpdir()

  it('render and diff ENV@<old> stopped by SIGINT mid-extraction exit 130 and leave no temporary folder behind', async () => {
    const repo = await TempRepo.fromFixture('shop')
    try {
      // A large file in the templates folder: extracting the revision takes long enough to be caught in the middle.
      writeFileSync(join(repo.dir, 'deploy/blob.bin'), Buffer.alloc(300 * 1024 * 1024))
      const old = await repo.commit('a large file in deploy/')
      rmSync(join(repo.dir, 'deploy/blob.bin'))
      await repo.commit('without it')
      for (const command of ['render', 'diff']) {
        const child = execa('node', [cliPath, command, `staging@${old.slice(0, 8)}`], {cwd: repo.dir, reject: false, env: {NO_COLOR: '1', TMPDIR: tmp.dir}})
        const deadline = Date.now() + 30_000
        while (!readdirSync(tmp.dir).some((f) => f.startsWith(REVISION_FOLDER_PREFIX)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
        expect(
          readdirSync(tmp.dir).some((f) => f.startsWith(REVISION_FOLDER_PREFIX)),
          `${command}: its temporary folder appeared`,
        ).to.equal(true)
        child.kill('SIGINT')
        const r = await child
        expect([r.exitCode, r.signal], `${command}:\n${r.stderr}`).to.deep.equal([130, undefined])
        expect(r.stderr, command).to.contain('Received SIGINT: stopping (temporary files are removed)')
        expect(r.stdout, command).to.equal('')
        // useOwnTmpdir's afterEach checks the folder once more, after both commands.
        expect(
          readdirSync(tmp.dir).filter((f) => f.startsWith(REVISION_FOLDER_PREFIX)),
          command,
        ).to.deep.equal([])
      }
    } finally {
      repo.remove()
    }
  })
})

describe('an untracked file at HEAD (real git)', function () {
  this.timeout(60_000)
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.fromFixture('shop')
    repo.write('newfile.txt', 'not part of the app\n')
  })
  after(() => repo.remove())

  // docs/vcs.md: an untracked file makes the work tree dirty (git status --porcelain, hg status -mardu); it may be a
  // template or config file that would be rendered. The rule stays; the warning is about the work tree, not skycap.yaml.
  it('warns about the work tree without naming skycap.yaml, and a protected deploy refuses saying untracked files count', async () => {
    const prepared = await prepareRelease({target: 'staging', cwd: repo.dir})
    expect(prepared.revision.dirty).to.equal(true)
    const [warning] = prepared.warnings.map(formatWarning)
    expect(warning).to.match(
      /^the work tree has uncommitted changes \(untracked files count\): its skycap\.yaml, templates and config files are used as they are, with the images of [0-9a-f]{7} \(built from the last commit, not from the changes\)$/,
    )
    const e = await rejectsWithUserError(prepareRelease({target: 'prod', cwd: repo.dir, refuseDirtyProtected: true}))
    expect(e.message).to.equal('the work tree has uncommitted changes and prod is protected')
    expect(e.hint).to.contain('Untracked files count (git status and hg status list them): commit, delete or ignore them')
    const r = await runCli(['render', 'staging'], {cwd: repo.dir})
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.stderr).to.contain('the work tree has uncommitted changes (untracked files count)').and.not.contain('skycap.yaml:')
  })
})

describe('revision inputs that cannot be rendered (real git)', function () {
  this.timeout(60_000)
  const tmp = useOwnTmpdir()
  let repo: TempRepo
  let bare: string
  beforeEach(async () => {
    repo = new TempRepo()
    await repo.git('init', '-q', '-b', 'main')
    repo.write('README.md', 'before skycap\n')
    bare = await repo.commit('no skycap.yaml yet')
    cpSync(join(fixturesDir, 'shop'), repo.dir, {recursive: true})
    await repo.commit('adopt skycap')
  })
  afterEach(() => repo.remove())

  it('a revision without skycap.yaml: exit 2 naming the revision and the file', async () => {
    const e = await rejectsWithUserError(prepareRelease({target: `staging@${bare.slice(0, 9)}`, cwd: repo.dir}))
    expect(e.message).to.contain(`skycap.yaml does not exist at ${bare.slice(0, 7)} (${bare.slice(0, 9)})`)
    const r = await runCli(['render', 'staging@HEAD~1', '--json'], {cwd: repo.dir, env: {TMPDIR: tmp.dir}})
    expect(r.exitCode).to.equal(2)
    const doc = parseJson(r.stdout)
    expect(doc.error.message).to.contain(`skycap.yaml does not exist at ${bare.slice(0, 7)} (HEAD~1)`)
    expect(JSON.stringify(doc)).to.not.contain(REVISION_FOLDER_PREFIX)
  })

  it('an invalid skycap.yaml at the revision: its position, named skycap.yaml (at <short>)', async () => {
    const yaml = readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')
    repo.write('skycap.yaml', yaml.replace('    replicas: 2\n', '    replicas: two\n'))
    const broken = await repo.commit('broken')
    repo.write('skycap.yaml', yaml)
    await repo.commit('fixed')
    const lines = yaml.split('\n')
    const line = lines.indexOf('    replicas: 2') + 1
    const e = await rejectsWithUserError(prepareRelease({target: `staging@${broken}`, cwd: repo.dir}))
    expect(e).to.be.instanceOf(ConfigErrors)
    const problem = `services.web.replicas must be a whole number, not string "two"`
    expect(e.message).to.equal(`${displayPath(join(repo.dir, 'skycap.yaml'))}:${line}:15 (at ${broken.slice(0, 7)}): ${problem}`)
    // In the repository, as users run it: the path is relative, and never the temporary folder's.
    const r = await runCli(['render', `staging@${broken.slice(0, 12)}`], {cwd: repo.dir, env: {TMPDIR: tmp.dir}})
    expect(r.exitCode).to.equal(2)
    expect(r.stderr)
      .to.contain(`skycap.yaml:${line}:15 (at ${broken.slice(0, 7)}): ${problem}`)
      .and.not.contain(REVISION_FOLDER_PREFIX)
    // The work tree's skycap.yaml is valid, and HEAD renders.
    expect((await prepareRelease({target: 'staging', cwd: repo.dir})).objects.length).to.be.greaterThan(0)
  })

  it('a template error at the revision names the template (at <short>) with its line', async () => {
    repo.write('deploy/ingress.yaml', 'kind: Ingress\nmetadata:\n  name: {{ values.nope }}\n')
    const broken = await repo.commit('broken template')
    await repo.git('revert', '--no-edit', 'HEAD')
    clearTemplateCache()
    const e = await rejectsWithUserError(prepareRelease({target: `staging@${broken}`, cwd: repo.dir}))
    expect(e.message).to.match(new RegExp(`^${displayPath(join(repo.dir, 'deploy'))}/ingress\\.yaml:3:\\d+ \\(at ${broken.slice(0, 7)}\\): template uses undefined variable "values.nope"`))
  })

  it('a config folder outside the repository cannot be read at a revision: exit 2 naming it', async () => {
    const yaml = readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')
    repo.write('skycap.yaml', yaml.replace('config: config/worker', 'config: ../elsewhere'))
    await repo.commit('outside')
    await repo.git('commit', '-q', '--allow-empty', '-m', 'later')
    const e = await rejectsWithUserError(prepareRelease({target: 'staging@HEAD~1', cwd: repo.dir}))
    expect(e.message).to.contain('skycap.yaml (at ').and.contain('services.worker.config "../elsewhere" is outside the repository')
  })

  it('symbolic links in a config folder resolve to the revision’s files', async () => {
    repo.write('shared/common.properties', 'old=1\n')
    symlinkSync('../../shared/common.properties', join(repo.dir, 'config/web/common.properties'))
    const linked = await repo.commit('link')
    repo.write('shared/common.properties', 'new=1\n')
    await repo.commit('change the shared file')
    const prepared = await prepareRelease({target: `staging@${linked}`, cwd: repo.dir})
    const cm = prepared.objects.map((r) => r.object as any).find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('web-config-'))
    expect(cm.data['common.properties']).to.equal('old=1\n')
  })
})

describe('a skycap.yaml that git does not track (real git)', function () {
  this.timeout(60_000)
  useOwnTmpdir()
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.fromFixture('shop')
    await repo.git('rm', '-q', '--cached', 'skycap.yaml')
    repo.write('.gitignore', 'skycap.yaml\n')
    await repo.commit('skycap.yaml is generated, not committed')
    await repo.git('commit', '-q', '--allow-empty', '-m', 'later')
  })
  after(() => repo.remove())

  it('an older revision renders from the work tree with a warning; a protected deploy refuses', async () => {
    const prepared = await prepareRelease({target: 'staging@HEAD~1', cwd: repo.dir})
    const short = prepared.revision.short
    expect(prepared.warnings.map((w) => w.message)).to.include(
      `${displayPath(join(repo.dir, 'skycap.yaml'))} is not tracked by git, so ${short} has no skycap.yaml: the manifests are rendered from the work tree, the images are those of ${short}`,
    )
    const e = await rejectsWithUserError(prepareRelease({target: 'prod@HEAD~1', cwd: repo.dir, refuseDirtyProtected: true}))
    expect(e.message).to.contain('is not tracked by git').and.contain('prod is protected')
  })
})

// render, diff and deploy find skycap.yaml and hand its path on; the messages must still know whether --config named it.
describe('a skycap.yaml that is not a file, found without --config', function () {
  this.timeout(30_000)
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.fromFixture('shop')
    rmSync(join(repo.dir, 'skycap.yaml'))
  })
  afterEach(() => repo.remove())

  it('a folder named skycap.yaml: rename or remove it (no --config was given)', async () => {
    mkdirSync(join(repo.dir, 'skycap.yaml'))
    const error = await rejectsWithUserError(prepareRelease({target: 'staging', cwd: join(repo.dir, 'deploy')}))
    expect(error.message).to.equal(`${join(repo.dir, 'skycap.yaml')} is a folder, not a skycap.yaml file`)
    expect(error.hint).to.equal(`Rename or remove the folder ${join(repo.dir, 'skycap.yaml')}; skycap.yaml must be a file.`)
    // With --config, the hint is about the flag.
    const given = await rejectsWithUserError(prepareRelease({target: 'staging', cwd: repo.dir, configPath: 'skycap.yaml'}))
    expect(given.hint).to.match(/^Give --config the file itself/)
    // --config naming a folder outside any repository: the folder is said, not that its parent is no repository.
    const outside = mkdtempSync(join(tmpdir(), 'skycap-config-folder-'))
    try {
      const folder = await rejectsWithUserError(prepareRelease({target: 'staging', cwd: repo.dir, configPath: outside}))
      expect([folder.message, folder.hint]).to.deep.equal([`${outside} is a folder, not a skycap.yaml file`, `Give --config the file itself, e.g. --config ${join(outside, 'skycap.yaml')}.`])
    } finally {
      rmSync(outside, {recursive: true, force: true})
    }
  })

  it('a link to nowhere: found and named as a link (was "no skycap.yaml found in … or any parent directory")', async () => {
    symlinkSync('/nonexistent/skycap.yaml', join(repo.dir, 'skycap.yaml'))
    const error = await rejectsWithUserError(prepareRelease({target: 'staging', cwd: join(repo.dir, 'deploy')}))
    expect(error.message).to.equal(`${join(repo.dir, 'skycap.yaml')} is a symbolic link to /nonexistent/skycap.yaml, which does not exist`)
    expect(error.exitCode).to.equal(2)
  })

  it("a link to a file outside the repository, in the work tree or committed: refused unread (a YAML error quoted the machine's file)", async () => {
    const outside = mkdtempSync(join(tmpdir(), 'skycap-outside-'))
    try {
      const secret = join(outside, 'passwd')
      writeFileSync(secret, 'root:x:0:0:secret line\n')
      symlinkSync(secret, join(repo.dir, 'skycap.yaml'))
      const error = await rejectsWithUserError(prepareRelease({target: 'staging', cwd: repo.dir}))
      expect(error.message, error.message).to.match(/skycap\.yaml is a link to \S+passwd, outside the repository$/)
      expect(error.message + (error.hint ?? '')).to.not.contain('secret line')
      // Commands that open no repository (history, status, lock, scale, logs) refuse it too: they quoted its first line.
      const readOnly = await rejectsWithUserError(loadConfig({cwd: repo.dir, repository: false}))
      expect(readOnly.message, readOnly.message).to.match(/skycap\.yaml is a link to \S+passwd, outside the repository$/)
      expect(readOnly.message + (readOnly.hint ?? '')).to.not.contain('secret line')
      // A link inside the repository is read by them as before.
      rmSync(join(repo.dir, 'skycap.yaml'))
      mkdirSync(join(repo.dir, 'conf'))
      writeFileSync(join(repo.dir, 'conf', 'skycap.yaml'), readFileSync(join(fixturesDir, 'shop', 'skycap.yaml'), 'utf8'))
      symlinkSync(join('conf', 'skycap.yaml'), join(repo.dir, 'skycap.yaml'))
      expect((await loadConfig({cwd: repo.dir, repository: false})).config.app).to.equal('shop')
      rmSync(join(repo.dir, 'skycap.yaml'))
      rmSync(join(repo.dir, 'conf'), {recursive: true})
      symlinkSync(secret, join(repo.dir, 'skycap.yaml'))
      // Committed as a link, and rendered at that revision (from the commit's files, not the work tree).
      await repo.commit('skycap.yaml is a link')
      rmSync(join(repo.dir, 'skycap.yaml'))
      writeFileSync(join(repo.dir, 'skycap.yaml'), readFileSync(join(fixturesDir, 'shop', 'skycap.yaml'), 'utf8'))
      await repo.commit('skycap.yaml is a file again')
      const old = await rejectsWithUserError(prepareRelease({target: 'staging@HEAD~1', cwd: repo.dir}))
      expect(old.message, old.message).to.match(/is a link to \S+passwd, outside the repository$/)
      expect(old.message + (old.hint ?? '')).to.not.contain('secret line')
    } finally {
      rmSync(outside, {recursive: true, force: true})
    }
  })
})

describe('an older revision when the temporary folder cannot be made (TMPDIR)', function () {
  this.timeout(30_000)
  let repo: TempRepo
  const saved = process.env.TMPDIR
  beforeEach(async () => {
    repo = await TempRepo.fromFixture('shop')
    repo.write('deploy/ingress.yaml', `${readFileSync(join(repo.dir, 'deploy/ingress.yaml'), 'utf8')}# changed\n`)
    await repo.commit('second')
  })
  afterEach(() => {
    if (saved === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = saved
    repo.remove()
  })

  it('names TMPDIR and what to do, exit 2 (was "ENOENT: no such file or directory, mkdtemp …", exit 1)', async () => {
    process.env.TMPDIR = join(repo.dir, 'no-such-folder')
    const error = await rejectsWithUserError(prepareRelease({target: 'staging@HEAD~1', cwd: repo.dir}))
    expect(error.message).to.equal(`cannot create a temporary folder in TMPDIR (${join(repo.dir, 'no-such-folder')}): no such file or directory (ENOENT)`)
    expect(error.hint).to.equal('skycap copies files there for a while; point TMPDIR at a folder you can write to, or unset it.')
    expect(error.exitCode).to.equal(2)
  })
})
