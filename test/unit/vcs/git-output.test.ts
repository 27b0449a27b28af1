import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'

import {expect} from 'chai'
import {execa} from 'execa'

import {prepareRelease} from '../../../src/render/prepare.js'
import {openVcs} from '../../../src/vcs/vcs.js'
import {TempRepo} from '../../helpers/repo.js'

// simple-git's completion plugin waits 50 ms more for a command that wrote nothing on stdout or stderr; a clean
// `git status --porcelain` did, on every render and deploy. A `git` first on PATH records what each call printed.
describe('git commands skycap runs through simple-git', function () {
  this.timeout(30_000)
  let shim: string
  let log: string
  let savedPath: string | undefined

  before(async () => {
    const realGit = (await execa('sh', ['-c', 'command -v git'])).stdout.trim()
    shim = mkdtempSync(join(tmpdir(), 'skycap-git-shim-'))
    log = join(shim, 'calls.tsv')
    writeFileSync(
      join(shim, 'git'),
      `#!/bin/sh
out=$(mktemp) err=$(mktemp)
'${realGit}' "$@" >"$out" 2>"$err"; rc=$?
printf '%s\\t%s\\t%s\\n' "$(wc -c <"$out")" "$(wc -c <"$err")" "$*" >>'${log}'
cat "$out"; cat "$err" >&2; rm -f "$out" "$err"; exit $rc
`,
    )
    chmodSync(join(shim, 'git'), 0o755)
    savedPath = process.env.PATH
    process.env.PATH = `${shim}${delimiter}${savedPath ?? ''}`
  })

  after(() => {
    process.env.PATH = savedPath
    rmSync(shim, {recursive: true, force: true})
  })

  /** Each call since the log was emptied: bytes on stdout and stderr, and the arguments. */
  const calls = (): Array<{out: number; err: number; args: string}> =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [out, err, args] = line.split('\t')
        return {out: Number(out), err: Number(err), args: args as string}
      })

  it('leave no timer behind that would keep skycap running once its work is done', async () => {
    const repo = await TempRepo.fromFixture('shop')
    try {
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
      const before = timers()
      const vcs = await openVcs(repo.dir)
      await vcs.resolve()
      await vcs.resolve('HEAD')
      // simple-git's default started a 50 ms timer as each git exited: `config validate` ended 50 ms after its work.
      // (At most: a timer an earlier test left may end meanwhile; the suite's order put one here.)
      expect(timers()).to.be.at.most(before)
    } finally {
      repo.remove()
    }
  })

  it('each prints something when render reads a clean work tree, and dirtiness is still seen', async () => {
    const repo = await TempRepo.fromFixture('shop')
    try {
      writeFileSync(log, '')
      const release = await prepareRelease({configPath: join(repo.dir, 'skycap.yaml'), target: 'staging'})
      expect(release.revision.dirty).to.equal(false)
      const clean = calls()
      for (const c of clean) expect(c.out + c.err, `git ${c.args}`).to.be.greaterThan(0)
      expect(clean.map((c) => c.args)).to.include('status --porcelain=v2 --branch')
      // The root is read from the file system (topLevelOf), and the work tree's revision takes one `git log` beside
      // the status: two git processes in all.
      expect(clean.map((c) => c.args).sort()).to.deep.equal(['log --no-show-signature -1 --format=%H%x00%an <%ae>%x00%s HEAD', 'status --porcelain=v2 --branch'])

      writeFileSync(log, '')
      const vcs = await openVcs(repo.dir)
      expect((await vcs.resolve('HEAD')).dirty).to.equal(false)
      expect((await vcs.resolve()).dirty).to.equal(false)
      repo.write('untracked.txt', 'new\n')
      expect((await vcs.resolve()).dirty, 'an untracked file').to.equal(true)
      rmSync(join(repo.dir, 'untracked.txt'))
      repo.write('skycap.yaml', `${readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')}# changed\n`)
      expect((await vcs.resolve('HEAD')).dirty, 'a modified file').to.equal(true)
      for (const c of calls()) expect(c.out + c.err, `git ${c.args}`).to.be.greaterThan(0)
      // An older revision is never dirty (the work tree is not its tree).
      await repo.commit('two')
      repo.write('untracked.txt', 'new\n')
      writeFileSync(log, '')
      expect((await vcs.resolve('HEAD~1')).dirty).to.equal(false)
      expect(await vcs.between('HEAD', 'HEAD')).to.deep.equal([])
      for (const c of calls()) expect(c.out + c.err, `git ${c.args}`).to.be.greaterThan(0)
    } finally {
      repo.remove()
    }
  })
})
