import {expect} from 'chai'
import {execa} from 'execa'
import {cpSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {SHALLOW_HINT} from '../../../src/vcs/git.js'
import {openVcs} from '../../../src/vcs/vcs.js'
import {rejectsWithUserError} from '../../helpers/errors.js'
import {fixturesDir, parseJson, runCli, TempRepo} from '../../helpers/repo.js'

const ID = '0123456789abcdef0123456789abcdef01234567'

describe('SKYCAP_REVISION: a checkout without VCS metadata', function () {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skycap-pinned-'))
    cpSync(join(fixturesDir, 'shop'), dir, {recursive: true})
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('is the revision when none is named, or when HEAD, . or a prefix of it is', async () => {
    const vcs = await openVcs(dir, {pinned: ID.toUpperCase()})
    expect(vcs.kind).to.equal('none')
    for (const rev of [undefined, 'HEAD', '.', ID.slice(0, 7), ID]) {
      expect(await vcs.resolve(rev), String(rev)).to.deep.include({sha: ID, short: ID.slice(0, 7), subject: '', author: '', dirty: false, atHead: true})
    }
    // Mercurial's short ids are 12 digits; `vcs: hg` says which the id is.
    expect((await (await openVcs(dir, {pinned: ID, kind: 'hg'})).resolve()).short).to.equal(ID.slice(0, 12))
  })

  it('says that other revisions, their files and ranges need a repository', async () => {
    const vcs = await openVcs(dir, {pinned: ID})
    const other = await rejectsWithUserError(vcs.resolve('HEAD~1'))
    expect(other.message).to.contain('has no git or Mercurial repository, so skycap cannot name revision "HEAD~1": only SKYCAP_REVISION (0123456789ab) is known')
    expect(other.hint).to.contain('clone with history')
    const files = await rejectsWithUserError(vcs.extract('f'.repeat(40), ['deploy'], join(dir, 'x')))
    expect(files.message).to.contain('cannot read the files of another revision')
    const range = await rejectsWithUserError(vcs.between(ID, 'f'.repeat(40)))
    expect(range.message).to.contain('cannot list the revisions between')
  })

  it('exports and lists the checkout itself as the revision’s tree', async () => {
    const vcs = await openVcs(dir, {pinned: ID})
    const out = mkdtempSync(join(tmpdir(), 'skycap-pinned-export-'))
    await vcs.exportTree(ID, out)
    expect(readFileSync(join(out, 'skycap.yaml'), 'utf8')).to.equal(readFileSync(join(dir, 'skycap.yaml'), 'utf8'))
    rmSync(out, {recursive: true, force: true})
    const files = await vcs.workTreeFiles()
    expect(files).to.include('skycap.yaml')
    expect(await vcs.extract(ID, ['skycap.yaml'], join(dir, 'copy'))).to.deep.equal(['skycap.yaml'])
    expect(await vcs.isTracked('skycap.yaml')).to.equal(true)
  })

  it('refuses a SKYCAP_REVISION that is not a full id', async () => {
    const e = await rejectsWithUserError(openVcs(dir, {pinned: 'abc1234'}))
    expect(e.message).to.equal('SKYCAP_REVISION "abc1234" is not a full revision id')
    expect(e.hint).to.contain('40-hex-digit')
  })

  it('renders from the checkout with the id as image tag (the CLI, no .git)', async () => {
    const r = await runCli(['render', 'staging', '--json'], {cwd: dir, env: {SKYCAP_REVISION: ID}})
    expect(r.exitCode, r.stderr).to.equal(0)
    const doc = parseJson(r.stdout)
    expect(doc.result.revision.sha).to.equal(ID)
    expect(JSON.stringify(doc.result)).to.contain(`:${ID}`)
    const old = await runCli(['render', 'staging@HEAD~1', '--json'], {cwd: dir, env: {SKYCAP_REVISION: ID}})
    expect(old.exitCode).to.equal(2)
    expect(parseJson(old.stdout).error.message).to.contain('only SKYCAP_REVISION')
    const none = await runCli(['render', 'staging', '--json'], {cwd: dir})
    expect(none.exitCode).to.equal(2)
    expect(parseJson(none.stdout).error.message).to.contain('is not inside a git or Mercurial repository')
  })
})

describe('SKYCAP_REVISION in a repository, and shallow clones (real git)', function () {
  let origin: TempRepo
  let ids: string[]
  let side: string
  let clone: string
  before(async () => {
    origin = await TempRepo.fromFixture('shop')
    ids = [await origin.git('rev-parse', 'HEAD')]
    await origin.git('checkout', '-q', '-b', 'side')
    origin.write('side.txt', 'side\n')
    side = await origin.commit('on a side branch')
    await origin.git('checkout', '-q', 'main')
    for (const n of [1, 2]) {
      origin.write('notes.txt', `${n}\n`)
      ids.push(await origin.commit(`commit ${n}`))
    }
    clone = mkdtempSync(join(tmpdir(), 'skycap-shallow-'))
    await execa('git', ['clone', '-q', '--depth', '1', '--no-single-branch', `file://${origin.dir}`, clone])
  })
  after(() => {
    origin.remove()
    rmSync(clone, {recursive: true, force: true})
  })

  it('names the default revision; one the repository lacks is an error', async () => {
    const vcs = await openVcs(origin.dir, {pinned: ids[1]})
    expect(await vcs.resolve()).to.deep.include({sha: ids[1], atHead: false, subject: 'commit 1'})
    expect((await vcs.resolve('HEAD')).sha).to.equal(ids[2])
    const missing = await rejectsWithUserError((await openVcs(origin.dir, {pinned: ID})).resolve())
    expect(missing.message).to.equal(`SKYCAP_REVISION ${ID} is not in the git repository at ${(await openVcs(origin.dir)).root}`)
  })

  it('says a shallow clone lacks older revisions, and how to fetch them', async () => {
    const vcs = await openVcs(clone, {pinned: ''})
    expect((await vcs.resolve()).sha).to.equal(ids[2])
    for (const rev of ['HEAD~1', ids[0] as string]) {
      const e = await rejectsWithUserError(vcs.resolve(rev))
      expect(e.message, rev).to.contain(`unknown revision "${rev}"`)
      expect(e.message, rev).to.contain(SHALLOW_HINT)
    }
    const pinned = await rejectsWithUserError((await openVcs(clone, {pinned: ids[0]})).resolve())
    expect(pinned.message).to.contain(`SKYCAP_REVISION ${ids[0]} is not in the git repository`)
    expect(pinned.message).to.contain('git fetch --unshallow (or --deepen=N)')
    const range = await rejectsWithUserError(vcs.between(ids[0] as string, ids[2] as string))
    expect(range.message).to.contain(SHALLOW_HINT)
  })

  it('says a range that reaches the shallow boundary is incomplete', async () => {
    const vcs = await openVcs(clone, {pinned: ''})
    // Both tips are in the clone, but not what lies between them and their common ancestor.
    expect((await origin.git('rev-list', `${side}..main`)).split('\n')).to.have.length(2)
    const e = await rejectsWithUserError(vcs.between(side, 'HEAD'))
    expect(e.message).to.equal(`the history between ${side.slice(0, 7)} and ${(ids[2] as string).slice(0, 7)} is incomplete: ${SHALLOW_HINT}`)
    await execa('git', ['fetch', '-q', '--unshallow'], {cwd: clone})
    expect((await vcs.between(side, 'HEAD')).map((r) => r.sha)).to.deep.equal([ids[1], ids[2]])
  })
})
