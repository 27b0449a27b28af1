import {expect} from 'chai'
import {execa} from 'execa'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {repoRoot} from '../../helpers/repo.js'

// test/reporter.cjs, run by real mocha on a throwaway test file: the totals line .ci/run sums and the failures it names.
describe('the test reporter: what .ci/run names of a failure', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skycap-reporter-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('keeps the last lines of a long message (a command’s output first, the assertion last), and none of a short one', async () => {
    const output = Array.from({length: 60}, (_, i) => `line ${i + 1} of what the deploy said`).join('\n')
    writeFileSync(
      join(dir, 'sample.test.cjs'),
      `const assert = require('node:assert')
it('short', () => assert.strictEqual(1, 2))
it('long', () => { throw new Error(${JSON.stringify(`round 3:\n${output}\n`)} + ': expected 4 to equal +0') })
it('passes', () => {})
`,
    )
    const counts = join(dir, 'counts')
    const r = await execa(join(repoRoot, 'node_modules', '.bin', 'mocha'), ['--reporter', join(repoRoot, 'test', 'reporter.cjs'), join(dir, 'sample.test.cjs')], {
      cwd: dir,
      reject: false,
      env: {SKYCAP_TEST_COUNTS: counts},
    })
    expect(r.exitCode, r.stdout + r.stderr).to.equal(2)
    const line = JSON.parse(readFileSync(counts, 'utf8').trim())
    expect(line).to.include({passed: 1, failed: 2, pending: 0})
    const [short, long] = line.failures
    expect(short.title).to.equal('short')
    expect(short.tail).to.deep.equal([])
    expect(long.title).to.equal('long')
    expect(long.error).to.have.length(300)
    expect(long.error).to.match(/^round 3: line 1 of what the deploy said line 2/)
    expect(long.tail).to.have.length(40)
    expect(long.tail.at(-1)).to.equal(': expected 4 to equal +0')
    expect(long.tail.at(-2)).to.equal('line 60 of what the deploy said')
  })
})
