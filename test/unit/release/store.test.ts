import {expect} from 'chai'

import {isDeployOrRollback, lastGood, linkRollbacks, type ReleaseRecord, releasesToDrop, runningServices, type StoredRelease, unsucceededAfter} from '../../../src/release/store.js'
import {historyTable} from '../../../src/ui/tables.js'

const entry = (number: number, fields: Partial<ReleaseRecord>): ReleaseRecord =>
  ({number, action: 'deploy', result: 'succeeded', user: 'ana', startedAt: '2026-12-05T10:00:00Z', durationMs: 1000, ...fields}) as ReleaseRecord

describe('release history: the link from a failed deploy to its automatic rollback', () => {
  it('follows the rollback that took a later number (another deploy recorded number + 1 meanwhile); it named that deploy', () => {
    const records = [
      entry(1, {}),
      entry(2, {result: 'failed', rollbackRelease: 3}),
      entry(3, {result: 'succeeded'}),
      entry(4, {action: 'rollback', trigger: 'automatic', rolledBackFrom: 2, rolledBackTo: 1}),
    ]
    linkRollbacks(records)
    expect(records[1]?.rollbackRelease).to.equal(4)
  })

  it('keeps a link that is right, and one to an entry not listed (the rollback still running, or dropped by history.keep)', () => {
    const records = [
      entry(5, {result: 'failed', rollbackRelease: 6}),
      entry(6, {action: 'rollback', trigger: 'automatic', rolledBackFrom: 5, rolledBackTo: 4}),
      entry(7, {result: 'failed', rollbackRelease: 8}),
    ]
    linkRollbacks(records)
    expect(records.map((r) => r.rollbackRelease)).to.deep.equal([6, undefined, 8])
    // Not listed: history says so (a deploy killed before its rollback was recorded read as rolled back).
    expect(records.map((r) => r.rollbackMissing)).to.deep.equal([undefined, undefined, true])
    expect(historyTable([records[2] as ReleaseRecord])).to.contain('rollback: release 8 (not in history: under way, or stopped before its record)')
    expect(historyTable([records[0] as ReleaseRecord]))
      .to.contain('rollback: release 6')
      .and.not.contain('not in history')
  })

  it('drops a link to an entry that is no rollback of this release (the rollback was killed before it was recorded; the next deploy took its number)', () => {
    const records = [
      entry(2, {result: 'failed', rollbackRelease: 3}),
      entry(3, {}),
      // a manual rollback from 2 is not the automatic one the link names
      entry(4, {action: 'rollback', trigger: 'manual', rolledBackFrom: 2, rolledBackTo: 1}),
    ]
    linkRollbacks(records)
    expect(records[0]).to.not.have.property('rollbackRelease')
  })
})

describe('release history: restart entries', () => {
  const stored = (record: ReleaseRecord): StoredRelease => ({record, hasManifests: isDeployOrRollback(record), manifests: async () => []})
  const records = [
    entry(4, {action: 'restart', restart: {services: ['web', 'api'], deployments: ['web', 'api-green']}, images: {web: 'w:2', api: 'a:2'}}),
    entry(3, {action: 'restart', result: 'failed', restart: {services: ['web'], deployments: ['web']}, message: 'container web of pod web-1 is waiting: CreateContainerConfigError'}),
    entry(2, {images: {web: 'w:2', api: 'a:2'}}),
    entry(1, {images: {web: 'w:1'}}),
  ]

  it('is no release to return to, nor what runs: rollback returns to the deploy before the last one, and the newest deploy runs', () => {
    const releases = records.map(stored)
    expect(lastGood(releases)?.record.number).to.equal(2)
    expect(lastGood(releases, 2)?.record.number).to.equal(1)
    expect([...runningServices(releases)]).to.deep.equal(['web', 'api'])
    expect(unsucceededAfter(releases, 2)).to.equal(undefined)
  })

  it('never counts against history.keep, and goes with the deploys older than the oldest kept', () => {
    // keep 1: deploy 2 and the one before it that ran other images (1) stay, and so do the restarts after them.
    expect(releasesToDrop([...records, entry(0, {action: 'restart'})], 1)).to.deep.equal([0])
  })

  it('history names the services restarted, and why one failed', () => {
    const table = historyTable(records.slice(0, 2)).split('\n')
    expect(table[1]).to.match(/^4 +restart +succeeded .* web, api$/)
    expect(table[2]).to.match(/^3 +restart +failed .* web; container web of pod web-1 is waiting: CreateContainerConfigError$/)
  })
})
