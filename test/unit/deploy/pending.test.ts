import {expect} from 'chai'

import {pendingCommits, pendingLines} from '../../../src/deploy/pending.js'
import type {ReleaseRecord, StoredRelease} from '../../../src/release/store.js'
import {openVcs} from '../../../src/vcs/vcs.js'
import {TempHgRepo} from '../../helpers/hg.js'
import {TempRepo} from '../../helpers/repo.js'

/** A stored release of `sha` as history keeps it; only what pendingCommits reads matters. */
function release(number: number, sha: string | null, extra: Partial<ReleaseRecord> = {}): StoredRelease {
  const record = {
    number,
    action: 'deploy',
    result: 'succeeded',
    revision: sha ? {sha, short: sha.slice(0, 7), subject: ''} : null,
    ...extra,
  } as ReleaseRecord
  return {record, hasManifests: true, manifests: async () => []}
}

const subjects = (list: Array<{subject: string}>) => list.map((c) => c.subject)

describe('the commits between the running release and a revision (skycap diff)', () => {
  describe('in git (real repository)', () => {
    let repo: TempRepo
    const shas: Record<string, string> = {}
    before(async () => {
      repo = await TempRepo.fromFixture('shop')
      shas.base = await repo.git('rev-parse', 'HEAD')
      for (const name of ['add login', 'fix login', 'faster search']) shas[name] = await repo.commit(name)
      await repo.git('checkout', '-q', '-b', 'other', shas.base as string)
      shas.other = await repo.commit('on another branch')
      await repo.git('checkout', '-q', 'main')
    })
    after(() => repo.remove())

    it('lists what a deploy adds, oldest first, from the newest succeeded release (newest first in the records)', async () => {
      const vcs = await openVcs(repo.dir)
      // Release 3 failed and release 2 was a scale: the running revision is release 1's.
      const releases = [release(3, shas['faster search'] as string, {result: 'failed'}), release(2, shas.base as string, {action: 'scale'}), release(1, shas.base as string)]
      const revision = await vcs.resolve('main')
      const {pending, warning} = await pendingCommits(vcs, releases, revision)
      expect(warning).to.equal(undefined)
      expect(pending?.running).to.deep.equal({release: 1, sha: shas.base, short: (shas.base as string).slice(0, 7)})
      expect(subjects(pending?.adding ?? [])).to.deep.equal(['add login', 'fix login', 'faster search'])
      expect(pending?.removing).to.deep.equal([])
      const lines = pendingLines(pending!, 'staging', revision)
      // Release 3 may have left what it applied (no rollback followed it): the head says so, as the diff may show none.
      expect(pending?.after).to.deep.equal({release: 3, short: (shas['faster search'] as string).slice(0, 7), result: 'failed'})
      expect(lines[0]).to.equal(
        `staging's last good release is 1 (${(shas.base as string).slice(0, 7)}); release 3 (${(shas['faster search'] as string).slice(0, 7)}) after it failed, and what it applied may be live; deploying ${revision.short} adds 3 commits:`,
      )
      expect(lines.slice(1)).to.deep.equal(['faster search', 'fix login', 'add login'].map((s) => `  ${(shas[s] as string).slice(0, 7)} ${s} (Skycap Test)`))
    })

    it('a succeeded release whose manifest Secrets were deleted by hand still runs: not named as one that failed', async () => {
      const vcs = await openVcs(repo.dir)
      const revision = await vcs.resolve('main')
      const lost = {...release(2, shas['add login'] as string), hasManifests: false}
      const {pending} = await pendingCommits(vcs, [lost, release(1, shas.base as string)], revision)
      expect(pending?.running.release).to.equal(2)
      expect(pending?.after).to.equal(undefined)
      expect(pendingLines(pending!, 'staging', revision)[0]).to.match(/^staging runs release 2 \(\w+\); deploying \w+ adds 2 commits:$/)
    })

    it('after an interrupted deploy of the same revision: "the same revision" of the last good one would contradict a diff without changes, so the interrupted one is named; a failed predeploy hook (nothing rolled out) is not', async () => {
      const vcs = await openVcs(repo.dir)
      const revision = await vcs.resolve('main')
      const base = (shas.base as string).slice(0, 7)
      const interrupted = await pendingCommits(vcs, [release(8, revision.sha, {result: 'interrupted'}), release(7, shas.base as string)], revision)
      expect(pendingLines(interrupted.pending!, 'test', revision)[0]).to.equal(
        `test's last good release is 7 (${base}); release 8 (${revision.short}) after it was interrupted, and what it applied may be live; deploying ${revision.short} adds 3 commits:`,
      )
      const hookFailed = release(8, revision.sha, {result: 'failed', failed: 'hook/migrate', hooks: [{name: 'migrate', phase: 'predeploy', result: 'failed', durationMs: 1, job: 'j'}]})
      const untouched = await pendingCommits(vcs, [hookFailed, release(7, shas.base as string)], revision)
      expect(untouched.pending?.after).to.equal(undefined)
      expect(pendingLines(untouched.pending!, 'test', revision)[0]).to.equal(`test runs release 7 (${base}); deploying ${revision.short} adds 3 commits:`)
      // Rolled back automatically: the rollback entry is the last good release, nothing after it.
      const rolledBack = await pendingCommits(
        vcs,
        [release(9, shas.base as string, {action: 'rollback', rolledBackTo: 7}), release(8, revision.sha, {result: 'failed'}), release(7, shas.base as string)],
        revision,
      )
      expect(rolledBack.pending?.after).to.equal(undefined)
    })

    it('lists what going back takes away, and both sides for another branch', async () => {
      const vcs = await openVcs(repo.dir)
      const back = await pendingCommits(vcs, [release(4, shas['faster search'] as string)], await vcs.resolve(shas['add login']))
      expect(subjects(back.pending?.adding ?? [])).to.deep.equal([])
      expect(subjects(back.pending?.removing ?? [])).to.deep.equal(['fix login', 'faster search'])
      const revision = await vcs.resolve('other')
      const across = await pendingCommits(vcs, [release(4, shas['fix login'] as string)], revision)
      expect(subjects(across.pending?.adding ?? [])).to.deep.equal(['on another branch'])
      expect(subjects(across.pending?.removing ?? [])).to.deep.equal(['add login', 'fix login'])
      expect(pendingLines(across.pending!, 'prod', revision, 1)).to.deep.equal([
        `prod runs release 4 (${(shas['fix login'] as string).slice(0, 7)}); deploying ${revision.short} adds 1 commit:`,
        `  ${(shas.other as string).slice(0, 7)} on another branch (Skycap Test)`,
        'and takes away 2 commits:',
        `  ${(shas['fix login'] as string).slice(0, 7)} fix login (Skycap Test)`,
        '  … and 1 older',
      ])
    })

    it('says nothing before the first deploy, "the same revision" for the running one, and warns when the history cannot answer', async () => {
      const vcs = await openVcs(repo.dir)
      const revision = await vcs.resolve('main')
      expect(await pendingCommits(vcs, [], revision)).to.deep.equal({})
      expect(await pendingCommits(vcs, [release(1, null)], revision)).to.deep.equal({})
      const same = await pendingCommits(vcs, [release(5, revision.sha)], revision)
      expect(pendingLines(same.pending!, 'dev', revision)).to.deep.equal([`dev runs release 5 (${revision.short}): ${revision.short} is the same revision`])
      // Deployed from a commit this clone never fetched.
      const unknown = 'f'.repeat(40)
      const {pending, warning} = await pendingCommits(vcs, [release(6, unknown)], revision)
      expect(pending).to.equal(undefined)
      expect(warning).to.match(/^cannot list the commits between release 6 \(fffffff\) and [0-9a-f]{7}: /)
      expect((await pendingCommits(undefined, [release(6, unknown)], revision)).warning).to.contain(': no repository')
    })
  })

  it('in Mercurial (real hg): the same, through only()', async () => {
    const repo = await TempHgRepo.init()
    try {
      repo.write('a.txt', 'one\n')
      const first = await repo.commit('first')
      repo.write('a.txt', 'two\n')
      await repo.commit('second')
      repo.write('a.txt', 'three\n')
      await repo.commit('third')
      const vcs = await openVcs(repo.dir)
      const {pending} = await pendingCommits(vcs, [release(1, first)], await vcs.resolve('tip'))
      expect(subjects(pending?.adding ?? [])).to.deep.equal(['second', 'third'])
    } finally {
      repo.remove()
    }
  })
})
