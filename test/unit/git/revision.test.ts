import {expect} from 'chai'
import {execa} from 'execa'

import {UserError} from '../../../src/errors.js'
import {changedSince, parseTarget, resolveRevision} from '../../../src/git/revision.js'
import {prepareRelease} from '../../../src/render/prepare.js'
import {TempRepo} from '../../helpers/repo.js'
import {rejectsWithUserError} from '../../helpers/errors.js'

describe('revision specs', () => {
  it('splits ENV@REV', () => {
    expect(parseTarget('prod@v1.2.0')).to.deep.equal({environment: 'prod', revision: 'v1.2.0'})
    expect(parseTarget('staging')).to.deep.equal({environment: 'staging'})
    expect(parseTarget('prod@HEAD~2')).to.deep.equal({environment: 'prod', revision: 'HEAD~2'})
    expect(parseTarget('prod@feature/x@y')).to.deep.equal({environment: 'prod', revision: 'feature/x@y'})
  })

  it('uses the default environment when none is given', () => {
    expect(parseTarget(undefined, 'staging')).to.deep.equal({environment: 'staging'})
    expect(parseTarget('@abc123', 'staging')).to.deep.equal({environment: 'staging', revision: 'abc123'})
  })

  it('rejects malformed specs with exit 2', () => {
    for (const bad of ['Prod', 'prod@', '@', 'prod@-rf', 'pr od', 'prod@a b']) {
      expect(() => parseTarget(bad), bad).to.throw(UserError)
    }
    expect(() => parseTarget(undefined)).to.throw(UserError, 'no environment given')
  })
})

describe('revision resolution (real git)', function () {
  let repo: TempRepo
  let first: string
  let second: string
  let third: string

  before(async () => {
    repo = new TempRepo()
    await repo.git('init', '-q', '-b', 'main')
    repo.write('a.txt', '1')
    first = await repo.commit('first')
    repo.write('a.txt', '2')
    second = await repo.commit('second')
    await repo.git('tag', 'v1.0.0')
    await repo.git('branch', 'release')
    repo.write('a.txt', '3')
    third = await repo.commit('third')
  })
  after(() => repo.remove())

  it('resolves HEAD, HEAD~N, branches, tags, full and short SHAs', async () => {
    expect((await resolveRevision(repo.dir)).sha).to.equal(third)
    expect((await resolveRevision(repo.dir, 'HEAD~2')).sha).to.equal(first)
    expect((await resolveRevision(repo.dir, 'release')).sha).to.equal(second)
    expect((await resolveRevision(repo.dir, 'v1.0.0')).sha).to.equal(second)
    expect((await resolveRevision(repo.dir, first)).sha).to.equal(first)
    const short = await resolveRevision(repo.dir, second.slice(0, 8))
    expect(short).to.deep.include({sha: second, short: second.slice(0, 7), subject: 'second', dirty: false})
  })

  it('rejects an unknown revision', async () => {
    const e = await rejectsWithUserError(resolveRevision(repo.dir, 'no-such-branch'))
    expect(e.message).to.contain('unknown revision "no-such-branch"')
  })

  it('rejects an ambiguous short SHA and lists candidates', async () => {
    // 1500 commits in one `git fast-import` process: two of them almost surely share a 4-hex-digit prefix.
    const amb = new TempRepo()
    await amb.git('init', '-q', '-b', 'main')
    let stream = ''
    for (let i = 0; i < 1500; i++) {
      const msg = `c${i}`
      stream += `commit refs/heads/main\ncommitter T <t@t> ${1700000000 + i} +0000\ndata ${msg.length}\n${msg}\n\n`
    }
    await execa('git', ['fast-import', '--quiet'], {cwd: amb.dir, input: stream})
    const shas = (await amb.git('rev-list', 'main')).split('\n')
    const seen = new Set<string>()
    const prefix = shas.map((s) => s.slice(0, 4)).find((p) => (seen.has(p) ? true : (seen.add(p), false)))
    expect(prefix, 'found two commits with the same prefix').to.be.a('string')
    const e = await rejectsWithUserError(resolveRevision(amb.dir, prefix))
    expect(e.message).to.contain(`revision "${prefix}" is ambiguous`)
    expect(e.hint).to.contain('Use more characters of the SHA')
    amb.remove()
  })

  it('marks HEAD dirty when there are uncommitted changes, but not an older revision', async () => {
    repo.write('a.txt', 'changed')
    expect((await resolveRevision(repo.dir, 'HEAD')).dirty).to.equal(true)
    expect((await resolveRevision(repo.dir, 'HEAD~1')).dirty).to.equal(false)
    await repo.git('checkout', '--', 'a.txt')
    expect((await resolveRevision(repo.dir, 'HEAD')).dirty).to.equal(false)
  })

  it('rejects a directory that is not a git repository', async () => {
    const plain = new TempRepo()
    const e = await rejectsWithUserError(resolveRevision(plain.dir))
    expect(e.message).to.contain('is not inside a git repository')
    plain.remove()
  })

  it('never passes an option-looking revision to git', async () => {
    const e = await rejectsWithUserError(resolveRevision(repo.dir, '--output=/tmp/x'))
    expect(e.message).to.contain('is not a revision')
  })
})

describe('deploy inputs of an older revision (work tree vs REV)', function () {
  this.timeout(20_000)
  let repo: TempRepo
  let first: string
  beforeEach(async () => {
    repo = await TempRepo.fromFixture('shop')
    first = await repo.git('rev-parse', 'HEAD')
  })
  afterEach(() => repo.remove())

  it('lists changed, added and untracked files under the given paths only', async () => {
    repo.write('config/web/app.properties', 'changed=1\n')
    repo.write('README.txt', 'outside the deploy inputs\n')
    await repo.commit('second')
    repo.write('deploy/new.yaml', 'kind: ConfigMap\n')
    expect(await changedSince(repo.dir, first, ['skycap.yaml', 'deploy', 'config/web'])).to.deep.equal(['config/web/app.properties', 'deploy/new.yaml'])
    expect(await changedSince(repo.dir, 'HEAD', ['skycap.yaml'])).to.deep.equal([])
  })

  it('an older revision with changed config: a protected deploy refuses (exit 2), render warns', async () => {
    repo.write('config/web/app.properties', 'changed=1\n')
    await repo.commit('second')
    const e = await rejectsWithUserError(prepareRelease({target: `prod@${first.slice(0, 8)}`, cwd: repo.dir, refuseDirtyProtected: true}))
    expect(e.message).to.contain(`config/web/app.properties changed since ${first.slice(0, 7)}, and prod is protected`)
    expect(e.hint).to.contain(`git switch --detach ${first.slice(0, 7)}`)
    const rendered = await prepareRelease({target: `staging@${first.slice(0, 8)}`, cwd: repo.dir, refuseDirtyProtected: true})
    expect(rendered.warnings.map((w) => w.message)).to.include(
      `config/web/app.properties changed since ${first.slice(0, 7)}: the manifests are rendered from the work tree, the images are those of ${first.slice(0, 7)}`,
    )
  })

  it('an older revision whose deploy inputs did not change deploys anywhere without a warning', async () => {
    repo.write('src/app.js', 'code only\n')
    await repo.commit('code')
    const prepared = await prepareRelease({target: `prod@${first.slice(0, 8)}`, cwd: repo.dir, refuseDirtyProtected: true})
    expect(prepared.revision.sha).to.equal(first)
    expect(prepared.warnings.filter((w) => w.message.includes('changed since'))).to.deep.equal([])
  })
})
