import {expect} from 'chai'
import {mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {extractTree} from '../../../src/git/tree.js'
import {TempRepo} from '../../helpers/repo.js'

describe('extractTree: files of a commit, without a checkout (real git)', () => {
  let repo: TempRepo
  let into: string
  let first: string
  before(async () => {
    repo = new TempRepo()
    await repo.git('init', '-q', '-b', 'main')
    repo.write(':(top)conf-b/a.txt', 'a folder whose name looks like pathspec magic\n')
    repo.write('conf-b/b.txt', 'b\n')
    repo.write('deep/er/still/c.txt', 'c\n')
    writeFileSync(join(repo.dir, 'deep/bin'), Buffer.from([0, 255, 10, 13]))
    symlinkSync('../deep/er/still/c.txt', join(repo.dir, 'conf-b/link.txt'))
    first = await repo.commit('first')
    repo.write('deep/er/still/c.txt', 'changed\n')
    await repo.commit('second')
  })
  beforeEach(() => {
    into = mkdtempSync(join(tmpdir(), 'skycap-tree-test-'))
  })
  afterEach(() => rmSync(into, {recursive: true, force: true}))
  after(() => repo.remove())

  it('copies nested and binary files byte for byte, as they were in the commit', async () => {
    expect(await extractTree(repo.dir, first, ['deep'], into)).to.deep.equal(['deep/bin', 'deep/er/still/c.txt'])
    expect(readFileSync(join(into, 'deep/bin'))).to.deep.equal(Buffer.from([0, 255, 10, 13]))
    expect(readFileSync(join(into, 'deep/er/still/c.txt'), 'utf8')).to.equal('c\n')
  })

  it('reads a path as a name, never as a pattern; a path the commit lacks copies nothing', async () => {
    // Read as pathspec magic, ":(top)conf-b" would be conf-b.
    expect(await extractTree(repo.dir, first, [':(top)conf-b'], into)).to.deep.equal([':(top)conf-b/a.txt'])
    expect(await extractTree(repo.dir, first, ['no/such/folder'], into)).to.deep.equal([])
  })

  it('keeps a link a link, and copies its target from the same commit', async () => {
    expect(await extractTree(repo.dir, first, ['conf-b'], into)).to.deep.equal(['conf-b/b.txt', 'conf-b/link.txt', 'deep/er/still/c.txt'])
    expect(readlinkSync(join(into, 'conf-b/link.txt'))).to.equal('../deep/er/still/c.txt')
    expect(readFileSync(join(into, 'conf-b/link.txt'), 'utf8')).to.equal('c\n')
  })
})
