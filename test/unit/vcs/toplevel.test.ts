import {mkdirSync, mkdtempSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {expect} from 'chai'
import {execa} from 'execa'

import {openGit, topLevelOf} from '../../../src/vcs/git.js'
import {TempRepo} from '../../helpers/repo.js'

/** What git itself says is the work tree's top folder from `dir`; undefined when it finds none. */
async function gitTopLevel(dir: string, env: Record<string, string> = {}): Promise<string | undefined> {
  const r = await execa('git', ['rev-parse', '--show-toplevel'], {cwd: dir, reject: false, env})
  return r.exitCode === 0 ? r.stdout.trim() : undefined
}

// skycap finds the work tree's top folder without a git process where it can be sure of git's answer, and asks git
// everywhere else. Each case compares with what git prints.
describe('the repository root without a git process (topLevelOf)', function () {
  this.timeout(30_000)
  let repo: TempRepo
  const saved: Record<string, string | undefined> = {}
  const setEnv = (name: string, value: string | undefined) => {
    if (!(name in saved)) saved[name] = process.env[name]
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }

  beforeEach(async () => {
    repo = await TempRepo.withFiles({'skycap.yaml': 'app: a\n', 'deploy/web.yaml': 'kind: ConfigMap\n'})
  })
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
      delete saved[name]
    }
    repo.remove()
  })

  it("is git's answer from the root and from a folder below it", async () => {
    for (const dir of [repo.dir, join(repo.dir, 'deploy')]) {
      const expected = await gitTopLevel(dir)
      expect(expected, dir).to.be.a('string')
      expect(topLevelOf(dir), dir).to.equal(expected)
    }
  })

  it("is git's answer (links resolved) when reached through a symbolic link", async () => {
    const links = mkdtempSync(join(tmpdir(), 'skycap-links-'))
    try {
      const link = join(links, 'app')
      symlinkSync(repo.dir, link)
      expect(topLevelOf(join(link, 'deploy'))).to.equal(await gitTopLevel(join(link, 'deploy')))
    } finally {
      rmSync(links, {recursive: true, force: true})
    }
  })

  it('leaves git to answer inside .git, for a linked work tree, an empty .git folder or core.worktree', async () => {
    expect(topLevelOf(join(repo.dir, '.git', 'refs'))).to.equal(undefined)

    const other = join(mkdtempSync(join(tmpdir(), 'skycap-wt-')), 'linked')
    try {
      await repo.git('worktree', 'add', '-q', other)
      expect(topLevelOf(other), 'a .git file').to.equal(undefined)
      // openGit still finds it, through git.
      expect((await openGit(other))?.root).to.equal(await gitTopLevel(other))
    } finally {
      await repo.git('worktree', 'remove', '--force', other)
    }

    // An empty .git folder is no repository to git, which goes on upward.
    mkdirSync(join(repo.dir, 'deploy', 'nested', '.git'), {recursive: true})
    expect(topLevelOf(join(repo.dir, 'deploy', 'nested'))).to.equal(undefined)
    expect((await openGit(join(repo.dir, 'deploy', 'nested')))?.root).to.equal(await gitTopLevel(join(repo.dir, 'deploy', 'nested')))
    rmSync(join(repo.dir, 'deploy', 'nested'), {recursive: true})

    const tree = mkdtempSync(join(tmpdir(), 'skycap-worktree-'))
    try {
      await repo.git('config', 'core.worktree', tree)
      expect(topLevelOf(repo.dir), 'core.worktree').to.equal(undefined)
      expect((await openGit(repo.dir))?.root).to.equal(await gitTopLevel(repo.dir))
    } finally {
      await repo.git('config', '--unset', 'core.worktree')
      rmSync(tree, {recursive: true, force: true})
    }
    for (const [key, value] of [
      ['core.bare', 'true'],
      ['include.path', 'other.config'],
      ['extensions.worktreeConfig', 'true'],
    ] as const) {
      await repo.git('config', key, value)
      expect(topLevelOf(repo.dir), key).to.equal(undefined)
      expect((await openGit(repo.dir))?.root, key).to.equal(await gitTopLevel(repo.dir))
      await repo.git('config', '--unset', key)
    }
    expect(topLevelOf(repo.dir)).to.equal(await gitTopLevel(repo.dir))
  })

  it('leaves git to answer when a GIT_ variable could place the repository elsewhere', async () => {
    const expected = await gitTopLevel(join(repo.dir, 'deploy'))
    expect(expected).to.be.a('string')
    for (const [name, value] of [
      ['GIT_DIR', join(repo.dir, '.git')],
      ['GIT_WORK_TREE', repo.dir],
      ['GIT_CEILING_DIRECTORIES', repo.dir],
      ['GIT_CONFIG_COUNT', '0'],
    ] as const) {
      setEnv(name, value)
      expect(topLevelOf(join(repo.dir, 'deploy')), name).to.equal(undefined)
      // Asked through simple-git, which leaves GIT_ variables out of its children's environment (as before).
      expect((await openGit(join(repo.dir, 'deploy')))?.root, name).to.equal(expected)
      setEnv(name, undefined)
    }
  })

  it('finds nothing where git finds nothing', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'skycap-no-repo-'))
    try {
      expect(await gitTopLevel(bare)).to.equal(undefined)
      expect(topLevelOf(bare)).to.equal(undefined)
      expect(await openGit(bare)).to.equal(undefined)
    } finally {
      rmSync(bare, {recursive: true, force: true})
    }
  })
})
