import {expect} from 'chai'
import {cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {displayPath} from '../../../src/config/load.js'
import {prepareRelease} from '../../../src/render/prepare.js'
import {toYaml} from '../../../src/render/serialize.js'
import {clearTemplateCache} from '../../../src/render/templates.js'
import {rejectsWithUserError} from '../../helpers/errors.js'
import {TempHgRepo} from '../../helpers/hg.js'
import {fixturesDir, parseJson, runCli} from '../../helpers/repo.js'
import {openVcs} from '../../../src/vcs/vcs.js'

async function renderYaml(dir: string, target: string): Promise<{yaml: string; sha: string; short: string}> {
  clearTemplateCache()
  const prepared = await prepareRelease({target, cwd: dir})
  return {yaml: await toYaml(prepared.objects.map((r) => r.object)), sha: prepared.revision.sha, short: prepared.revision.short}
}

describe('ENV@REV in a Mercurial repository (real hg)', function () {
  // Each render runs a few hg processes (Python start-up); a loaded machine makes five of them slow.
  this.timeout(90_000)
  let repo: TempHgRepo
  let old: string
  let oldYaml: string

  before(async () => {
    repo = await TempHgRepo.init()
    cpSync(join(fixturesDir, 'shop'), repo.dir, {recursive: true})
    old = await repo.commit('shop')
    oldYaml = (await renderYaml(repo.dir, 'staging')).yaml
    const file = join(repo.dir, 'skycap.yaml')
    writeFileSync(file, readFileSync(file, 'utf8').replace('services: {web: {replicas: 1}}', 'services: {web: {replicas: 4}}'))
    repo.write('config/web/app.properties', 'greeting=newer\n')
    repo.write('deploy/ingress.yaml', readFileSync(join(repo.dir, 'deploy/ingress.yaml'), 'utf8').replace('{{ values.host }}', 'new.{{ values.host }}'))
    await repo.commit('newer')
  })
  after(() => repo.remove())

  it('renders an older changeset from its own skycap.yaml, templates and config files, leaving the work tree alone', async () => {
    const now = await renderYaml(repo.dir, 'staging')
    expect(now.yaml).to.not.equal(oldYaml)
    expect(now.yaml).to.contain('replicas: 4').and.contain('greeting=newer').and.contain('new.staging.shop.example.com')
    for (const rev of ['.~1', 'HEAD~1', old.slice(0, 12), old, '0']) {
      const then = await renderYaml(repo.dir, `staging@${rev}`)
      expect(then.sha, rev).to.equal(old)
      expect(then.short, rev).to.equal(old.slice(0, 12))
      expect(then.yaml, rev).to.equal(oldYaml)
    }
    expect(oldYaml).to.contain(`registry.example.com/shop/web:${old}`)
    expect(await repo.hg('status')).to.equal('')
  })

  it('uses the repository skycap.yaml names: `vcs: git` in an hg repository is refused', async () => {
    const file = join(repo.dir, 'skycap.yaml')
    const text = readFileSync(file, 'utf8')
    try {
      writeFileSync(file, `vcs: git\n${text}`)
      const e = await rejectsWithUserError(prepareRelease({target: 'staging', cwd: repo.dir, configPath: file}))
      expect(e.message).to.contain('is not inside a git repository')
      expect(e.hint).to.contain('`vcs: git`')
      writeFileSync(file, `vcs: hg\n${text}`)
      expect((await renderYaml(repo.dir, 'staging@.~1')).sha).to.equal(old)
    } finally {
      writeFileSync(file, text)
    }
  })

  it('says when hg is not installed (exit 2, what to install)', async () => {
    // A PATH that holds node and nothing else.
    const bin = mkdtempSync(join(tmpdir(), 'skycap-no-hg-'))
    symlinkSync(process.execPath, join(bin, 'node'))
    try {
      const r = await runCli(['render', 'staging', '--json'], {cwd: repo.dir, env: {PATH: bin}})
      expect(r.exitCode).to.equal(2)
      const {error} = parseJson(r.stdout)
      expect(error.message).to.match(/^hg \(Mercurial\) is not installed, and .* is a Mercurial repository$/)
      expect(error.hint).to.contain('apt-get install mercurial')
    } finally {
      rmSync(bin, {recursive: true, force: true})
    }
  })

  it('an untracked skycap.yaml: an older changeset renders from the work tree with a warning naming Mercurial', async () => {
    const bare = await TempHgRepo.init()
    try {
      bare.write('a.txt', '1\n')
      const zero = await bare.commit('zero')
      bare.write('a.txt', '2\n')
      await bare.commit('one')
      cpSync(join(fixturesDir, 'shop'), bare.dir, {recursive: true})
      expect(await (await openVcs(bare.dir)).isTracked('skycap.yaml')).to.equal(false)
      const prepared = await prepareRelease({target: 'staging@.~1', cwd: bare.dir})
      expect(prepared.revision.sha).to.equal(zero)
      expect(prepared.warnings.map((w) => w.message)).to.include(
        `${displayPath(join(bare.dir, 'skycap.yaml'))} is not tracked by Mercurial, so ${zero.slice(0, 12)} has no skycap.yaml: the manifests are rendered from the work tree, the images are those of ${zero.slice(0, 12)}`,
      )
    } finally {
      bare.remove()
    }
  })

  it('SKYCAP_REVISION names the default changeset; one the repository lacks is an error', async () => {
    const vcs = await openVcs(repo.dir, {pinned: old})
    expect(await vcs.resolve()).to.deep.include({sha: old, atHead: false, subject: 'shop'})
    // All f's is what Mercurial calls the working directory: not a changeset either.
    for (const missing of ['0123456789abcdef0123456789abcdef01234567', 'f'.repeat(40)]) {
      const e = await rejectsWithUserError((await openVcs(repo.dir, {pinned: missing})).resolve())
      expect(e.message).to.equal(`SKYCAP_REVISION ${missing} is not in the Mercurial repository at ${vcs.root}`)
    }
    const wdir = await rejectsWithUserError(vcs.resolve('wdir()'))
    expect(wdir.message).to.equal('revision "wdir()" is the working directory, not a changeset')
  })
})
