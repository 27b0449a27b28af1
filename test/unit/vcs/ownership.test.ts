import {chownSync, mkdirSync, renameSync} from 'node:fs'
import {join} from 'node:path'

import {expect} from 'chai'
import {execa} from 'execa'

import {UserError} from '../../../src/errors.js'
import {openVcs} from '../../../src/vcs/vcs.js'
import {TempRepo} from '../../helpers/repo.js'

// The classic CI container: the checkout belongs to one user, the job runs as another, and git (2.35.2 and later)
// refuses the repository. Only root can give a folder to another user, so the test runs only as root (as CI here does).
describe("a repository another user owns (git's safe.directory)", function () {
  this.timeout(30_000)
  let repo: TempRepo
  /** The work tree: a path as runners and laptops have them, with a space and a # (the hint must paste as one word). */
  let top: string
  let sha: string

  beforeEach(async function () {
    if (process.geteuid?.() !== 0) this.skip()
    repo = await TempRepo.withFiles({'skycap.yaml': 'app: a\n', 'deploy/web.yaml': 'kind: ConfigMap\n'})
    sha = (await repo.git('rev-parse', 'HEAD')).trim()
    top = join(repo.dir, 'my app #1')
    mkdirSync(top)
    for (const name of ['.git', 'skycap.yaml', 'deploy']) renameSync(join(repo.dir, name), join(top, name))
    chownSync(top, 4242, 4242)
    chownSync(join(top, '.git'), 4242, 4242)
  })
  afterEach(() => repo?.remove())

  it('says git refuses it, whose it is, and the safe.directory command, not "not inside a repository"', async function () {
    // What git says to this user; a machine whose git config marks every folder safe (safe.directory=*) cannot show it.
    const git = await execa('git', ['rev-parse', '--show-toplevel'], {cwd: top, reject: false})
    if (!git.stderr.includes('dubious ownership')) this.skip()
    const error = await openVcs(join(top, 'deploy')).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).to.be.instanceOf(UserError)
    const {message, hint, exitCode} = error as UserError
    expect(message).to.equal(`git refuses to read the repository at ${top}: it belongs to another user (owner uid 4242, skycap runs as uid 0)`)
    expect(hint).to.include(`git config --global --add safe.directory '${top}';`)
    expect(exitCode).to.equal(2)
  })

  it('still reads the folder as a checkout when SKYCAP_REVISION names the revision', async () => {
    const vcs = await openVcs(top, {pinned: sha})
    expect(vcs.kind).to.equal('none')
    expect((await vcs.resolve()).sha).to.equal(sha)
  })
})
