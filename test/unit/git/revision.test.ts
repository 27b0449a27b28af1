import {expect} from 'chai'
import {execa} from 'execa'

import {UserError} from '../../../src/errors.js'
import {parseTarget, resolveRevision, targetRevision} from '../../../src/git/revision.js'
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

  it('reads REV before the config is known (the default environment is not needed)', () => {
    expect(targetRevision('prod@v1.2.0')).to.equal('v1.2.0')
    expect(targetRevision('@HEAD~1')).to.equal('HEAD~1')
    expect(targetRevision('prod@feature/x@y')).to.equal('feature/x@y')
    for (const none of [undefined, '', 'prod']) expect(targetRevision(none), String(none)).to.equal(undefined)
    // Malformed specs name no revision here; parseTarget rejects them once skycap.yaml is read.
    for (const bad of ['Prod@v1', 'prod@', 'prod@a b', 'prod@-rf']) expect(targetRevision(bad), bad).to.equal(undefined)
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
