import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {expect} from 'chai'

import {openVcs} from '../../../src/vcs/vcs.js'
import {setEnvironment} from '../../helpers/env.js'
import {runCli, TempRepo} from '../../helpers/repo.js'

// simple-git leaves every GIT_ variable out of the git it runs; the git processes skycap starts itself (archive,
// ls-tree, cat-file, ls-files) must do the same, or with GIT_DIR set a revision resolved in skycap.yaml's repository
// would be read from another one.
describe('git with GIT_DIR and GIT_WORK_TREE set to another repository', function () {
  this.timeout(60_000)
  let restore: () => void
  let app: TempRepo
  let other: TempRepo
  let out: string
  let plain: Awaited<ReturnType<typeof runCli>>
  let head: string

  before(async () => {
    app = await TempRepo.fromFixture('shop')
    other = await TempRepo.withFiles({'skycap.yaml': 'app: other\n', 'other.txt': 'not the app\n'})
    out = mkdtempSync(join(tmpdir(), 'skycap-git-env-'))
    head = await app.git('rev-parse', 'HEAD')
    // A later commit, so that rendering `head` reads its files from git rather than from the work tree.
    app.write('deploy/ingress.yaml', `${readFileSync(join(app.dir, 'deploy', 'ingress.yaml'), 'utf8')}# later\n`)
    await app.commit('later')
    plain = await runCli(['render', `staging@${head}`], {cwd: app.dir})
    restore = setEnvironment({GIT_DIR: join(other.dir, '.git'), GIT_WORK_TREE: other.dir})
  })

  after(() => {
    restore()
    app.remove()
    other.remove()
    rmSync(out, {recursive: true, force: true})
  })

  it('resolves, exports, extracts and lists files of the repository skycap.yaml is in', async () => {
    const vcs = await openVcs(app.dir)
    expect((await vcs.resolve(head)).sha).to.equal(head)

    await vcs.exportTree(head, join(out, 'export'))
    expect(readFileSync(join(out, 'export', 'skycap.yaml'), 'utf8')).to.equal(readFileSync(join(app.dir, 'skycap.yaml'), 'utf8'))
    expect(readdirSync(join(out, 'export'))).to.not.include('other.txt')

    await vcs.extract(head, ['skycap.yaml'], join(out, 'extract'))
    expect(readFileSync(join(out, 'extract', 'skycap.yaml'), 'utf8')).to.equal(readFileSync(join(app.dir, 'skycap.yaml'), 'utf8'))

    const files = await vcs.workTreeFiles()
    expect(files).to.include('skycap.yaml').and.not.include('other.txt')
  })

  it("renders a revision of skycap.yaml's repository the same as without the variables", async () => {
    expect(plain.exitCode, plain.stderr).to.equal(0)
    const withVariables = await runCli(['render', `staging@${head}`], {cwd: app.dir, env: {GIT_DIR: join(other.dir, '.git'), GIT_WORK_TREE: other.dir}})
    expect(withVariables.exitCode, withVariables.stderr).to.equal(0)
    expect(withVariables.stdout).to.equal(plain.stdout)
  })
})

describe('DEBUG=* (someone debugging a CI job)', function () {
  this.timeout(60_000)
  it('never prints the environment simple-git gives its git, tokens included', async () => {
    const app = await TempRepo.fromFixture('shop')
    try {
      for (const debug of ['*', 'simple-git*', 'simple-git:*']) {
        const r = await runCli(['render', 'staging'], {cwd: app.dir, env: {DEBUG: debug, GITHUB_TOKEN: 'SECRET_TOKEN_4711'}})
        expect(r.exitCode, r.stderr).to.equal(0)
        expect(r.stderr).not.to.contain('SECRET_TOKEN_4711')
        expect(r.stderr).not.to.contain('[SPAWN]')
      }
      // Other debug output still comes (oclif's is not on the direct path: this asks for it through execute).
      const oclif = await runCli(['render', 'staging'], {cwd: app.dir, env: {DEBUG: '*', SKYCAP_NO_FAST_PATH: '1', GITHUB_TOKEN: 'SECRET_TOKEN_4711'}})
      expect(oclif.stderr).to.match(/oclif/)
      expect(oclif.stderr).not.to.contain('SECRET_TOKEN_4711')
    } finally {
      app.remove()
    }
  })
})
