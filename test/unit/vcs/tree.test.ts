import {expect} from 'chai'
import {existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {openVcs, type Vcs} from '../../../src/vcs/vcs.js'
import {TempHgRepo} from '../../helpers/hg.js'
import {TempRepo} from '../../helpers/repo.js'

interface Repository {
  dir: string
  write(path: string, content: string): void
  commit(message: string): Promise<string>
  ignore(pattern: string): void
  remove(): void
}

const makers: Array<[string, () => Promise<Repository>]> = [
  [
    'git',
    async () => {
      const repo = new TempRepo()
      await repo.git('init', '-q', '-b', 'main')
      return {dir: repo.dir, write: (p, c) => repo.write(p, c), commit: (m) => repo.commit(m), ignore: (p) => repo.write('.gitignore', `${p}\n`), remove: () => repo.remove()}
    },
  ],
  [
    'Mercurial',
    async () => {
      const repo = await TempHgRepo.init()
      return {dir: repo.dir, write: (p, c) => repo.write(p, c), commit: (m) => repo.commit(m), ignore: (p) => repo.write('.hgignore', `syntax: glob\n${p}\n`), remove: () => repo.remove()}
    },
  ],
]

/** Every file under `dir`, relative, sorted. */
function listed(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix))
    .flatMap((name) => {
      const path = prefix ? `${prefix}/${name}` : name
      return statSync(join(dir, path)).isDirectory() ? listed(dir, path) : [path]
    })
    .sort()
}

for (const [name, make] of makers) {
  describe(`files of a revision, without a checkout (real ${name})`, function () {
    // An hg call starts Python: slow on a loaded machine.
    this.timeout(120_000)
    let repo: Repository
    let vcs: Vcs
    let into: string
    let first: string
    let second: string
    before(async () => {
      repo = await make()
      repo.write(':(top)conf-b/a.txt', 'a folder whose name looks like pathspec magic\n')
      repo.write('conf-*/star.txt', 'a folder whose name is a glob\n')
      repo.write('conf-b/b.txt', 'b\n')
      repo.write('deep/er/still/c.txt', 'c\n')
      writeFileSync(join(repo.dir, 'deep/bin'), Buffer.from([0, 255, 10, 13]))
      repo.write('deep/run.sh', '#!/bin/sh\n')
      const {chmodSync} = await import('node:fs')
      chmodSync(join(repo.dir, 'deep/run.sh'), 0o755)
      symlinkSync('../deep/er/still/c.txt', join(repo.dir, 'conf-b/link.txt'))
      first = await repo.commit('first')
      repo.write('deep/er/still/c.txt', 'changed\n')
      second = await repo.commit('second')
      vcs = await openVcs(repo.dir, {pinned: ''})
    })
    beforeEach(() => {
      into = mkdtempSync(join(tmpdir(), 'skycap-tree-test-'))
    })
    afterEach(() => rmSync(into, {recursive: true, force: true}))
    after(() => repo.remove())

    it('copies nested and binary files byte for byte, with their modes, as they were in the revision', async () => {
      expect(await vcs.extract(first, ['deep'], into)).to.deep.equal(['deep/bin', 'deep/er/still/c.txt', 'deep/run.sh'])
      expect(readFileSync(join(into, 'deep/bin'))).to.deep.equal(Buffer.from([0, 255, 10, 13]))
      expect(readFileSync(join(into, 'deep/er/still/c.txt'), 'utf8')).to.equal('c\n')
      expect(statSync(join(into, 'deep/run.sh')).mode & 0o111).to.not.equal(0)
      expect(statSync(join(into, 'deep/bin')).mode & 0o111).to.equal(0)
    })

    it('reads a path as a name, never as a pattern; a path the revision lacks copies nothing', async () => {
      // Read as pathspec magic, ":(top)conf-b" would be conf-b; read as a glob, "conf-*" would be conf-b too.
      expect(await vcs.extract(first, [':(top)conf-b'], into)).to.deep.equal([':(top)conf-b/a.txt'])
      expect(await vcs.extract(first, ['conf-*'], into)).to.deep.equal(['conf-*/star.txt'])
      expect(await vcs.extract(first, ['no/such/folder'], into)).to.deep.equal([])
      expect(listed(into)).to.deep.equal([':(top)conf-b/a.txt', 'conf-*/star.txt'])
    })

    it('keeps a link a link, and copies its target from the same revision', async () => {
      expect(await vcs.extract(first, ['conf-b'], into)).to.deep.equal(['conf-b/b.txt', 'conf-b/link.txt', 'deep/er/still/c.txt'])
      expect(readlinkSync(join(into, 'conf-b/link.txt'))).to.equal('../deep/er/still/c.txt')
      expect(readFileSync(join(into, 'conf-b/link.txt'), 'utf8')).to.equal('c\n')
    })

    it('exports the whole tree of a revision, without VCS metadata or uncommitted files', async () => {
      repo.write('uncommitted.txt', 'not in any revision\n')
      repo.write('deep/er/still/c.txt', 'uncommitted change\n')
      await vcs.exportTree(second, join(into, 'export'))
      const files = listed(join(into, 'export'))
      expect(files).to.include.members(['conf-b/b.txt', 'deep/bin', 'deep/er/still/c.txt'])
      expect(files.filter((f) => /^\.(git|hg)|hg_archival|uncommitted/.test(f))).to.deep.equal([])
      expect(readFileSync(join(into, 'export/deep/er/still/c.txt'), 'utf8')).to.equal('changed\n')
    })

    it('lists the work tree a build sees: tracked and untracked files, not ignored or deleted ones', async () => {
      repo.ignore('*.log')
      repo.write('build.log', 'ignored\n')
      repo.write('fresh.txt', 'untracked\n')
      rmSync(join(repo.dir, 'conf-b/b.txt'))
      const files = await vcs.workTreeFiles()
      expect(files).to.include.members(['fresh.txt', 'deep/bin', 'conf-b/link.txt'])
      expect(files).to.not.include.members(['build.log'])
      expect(files).to.not.include('conf-b/b.txt')
      expect(files).to.deep.equal([...files].sort())
      expect(await vcs.isTracked('deep/bin')).to.equal(true)
      expect(await vcs.isTracked('fresh.txt')).to.equal(false)
      expect(await vcs.isTracked('conf-*')).to.equal(true)
      expect(existsSync(join(repo.dir, 'conf-b/b.txt'))).to.equal(false)
    })
  })
}

describe('Mercurial: the hg processes a read takes', function () {
  this.timeout(120_000)
  const savedPath = process.env.PATH
  let repo: TempHgRepo
  let bin: string
  before(async () => {
    repo = await TempHgRepo.init()
    repo.write('skycap.yaml', 'app: a\n')
    repo.write('deploy/web.yaml', 'kind: x\n')
    repo.write('config/web/app.properties', 'a=1\n')
    symlinkSync('web/app.properties', join(repo.dir, 'config/link.properties'))
    await repo.commit('first')
    // A real hg behind a wrapper that writes down each subcommand (the third argument, after --noninteractive --pager never).
    bin = mkdtempSync(join(tmpdir(), 'skycap-hg-calls-'))
    const {execa} = await import('execa')
    const real = (await execa('sh', ['-c', 'command -v hg'])).stdout.trim()
    writeFileSync(join(bin, 'hg'), `#!/bin/sh\necho "$4" >> "${join(bin, 'calls')}"\nexec "${real}" "$@"\n`, {mode: 0o755})
    process.env.PATH = `${bin}:${savedPath}`
  })
  after(() => {
    process.env.PATH = savedPath
    rmSync(bin, {recursive: true, force: true})
    repo.remove()
  })

  it("reads a revision's files with one hg process a round (Python start-up is most of each call)", async () => {
    const vcs = await openVcs(repo.dir, {pinned: ''})
    const node = (await vcs.resolve('.', {workTree: false})).sha
    writeFileSync(join(bin, 'calls'), '')
    const into = mkdtempSync(join(tmpdir(), 'skycap-tree-test-'))
    try {
      expect(await vcs.extract(node, ['skycap.yaml'], into)).to.deep.equal(['skycap.yaml'])
      expect(await vcs.extract(node, ['deploy', 'config/link.properties', 'nothing/here'], into)).to.deep.equal(['config/link.properties', 'config/web/app.properties', 'deploy/web.yaml'])
      expect(await vcs.extract(node, ['nothing/here'], into)).to.deep.equal([])
      expect(readFileSync(join(into, 'config/link.properties'), 'utf8')).to.equal('a=1\n')
    } finally {
      rmSync(into, {recursive: true, force: true})
    }
    // skycap.yaml: one; the folders: one, and one more for the link's target; nothing matched: one.
    expect(readFileSync(join(bin, 'calls'), 'utf8').split('\n').filter(Boolean)).to.deep.equal(['archive', 'archive', 'archive', 'archive'])
  })

  it("asks for the work tree's changes only when the revision is `.`", async () => {
    const vcs = await openVcs(repo.dir, {pinned: ''})
    repo.write('skycap.yaml', 'app: b\n')
    await repo.commit('second')
    repo.write('uncommitted.txt', 'x\n')
    const calls = () => readFileSync(join(bin, 'calls'), 'utf8').split('\n').filter(Boolean)
    try {
      writeFileSync(join(bin, 'calls'), '')
      expect(await vcs.resolve('.~1')).to.deep.include({atHead: false, dirty: false})
      expect(calls()).to.deep.equal(['log'])
      // A name for `.` that does not spell it: the status comes after the log says so.
      writeFileSync(join(bin, 'calls'), '')
      expect(await vcs.resolve('default')).to.deep.include({atHead: true, dirty: true})
      expect(calls()).to.deep.equal(['log', 'status'])
      writeFileSync(join(bin, 'calls'), '')
      expect(await vcs.resolve()).to.deep.include({atHead: true, dirty: true})
      expect(calls().sort()).to.deep.equal(['log', 'status'])
    } finally {
      rmSync(join(repo.dir, 'uncommitted.txt'))
    }
  })
})
