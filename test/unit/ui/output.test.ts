import {expect} from 'chai'

import {progressMode, terminalColumns} from '../../../src/ui/output.js'

describe('progress mode: listr2 only on a terminal with a usable width', () => {
  const env = {TERM: 'xterm'}

  it('is interactive on a terminal with a width', () => {
    expect(progressMode({env, stderrIsTTY: true, columns: 80})).to.equal('interactive')
  })

  it('is plain on a terminal that reports 0 columns or none (script, docker -t, some CI runners)', () => {
    expect(progressMode({env, stderrIsTTY: true, columns: 0})).to.equal('plain')
    expect(progressMode({env, stderrIsTTY: true, columns: undefined})).to.equal('plain')
    expect(progressMode({env, stderrIsTTY: true, columns: 12})).to.equal('plain')
  })

  it('is plain without a terminal, in CI, and with --json (progress on stderr, the document on stdout)', () => {
    expect(progressMode({env, stderrIsTTY: false, columns: 80})).to.equal('plain')
    expect(progressMode({env: {CI: 'true'}, stderrIsTTY: true, columns: 80})).to.equal('plain')
    expect(progressMode({json: true, env, stderrIsTTY: true, columns: 80})).to.equal('plain')
  })

  it('measures the narrower terminal: listr2 writes to stderr but lays out by stdout', () => {
    expect(terminalColumns({columns: 100}, {isTTY: true, columns: 0})).to.equal(0)
    expect(terminalColumns({columns: 0}, {isTTY: false})).to.equal(0)
    expect(terminalColumns({columns: 100}, {isTTY: false})).to.equal(100)
    expect(terminalColumns({columns: 100}, {isTTY: true, columns: 90})).to.equal(90)
    expect(terminalColumns({}, {isTTY: false})).to.equal(undefined)
  })
})
