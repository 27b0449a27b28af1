// Mocha reporter: mocha's spec output, plus one JSON line of totals appended to the file named by
// SKYCAP_TEST_COUNTS (when set), e.g. {"run":"unit (Node 24.22.3)","passed":12,"failed":1,"pending":0,
// "failures":[{"title":"suite test","error":"AssertionError: expected 1 to equal 2","tail":[]}]}.
// .ci/run sums these lines into its final "N passed, N failed" line, and names the failed tests just above it (a CI log
// is often read from its tail only, far below mocha's own list of failures).
/* global require, module, process */
/* eslint-disable @typescript-eslint/no-require-imports -- mocha loads reporters with require() */
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const Mocha = require('mocha')

const {EVENT_RUN_END, EVENT_TEST_FAIL} = Mocha.Runner.constants

// An error's message on one line, at most 300 characters: enough to tell a failure from another.
function firstLine(err) {
  const text = String((err && (err.message || err)) || 'no message')
  const name = err && err.name && err.name !== 'Error' ? `${err.name}: ` : ''
  return (name + text.replace(/\s+/g, ' ').trim()).slice(0, 300)
}

// The last lines of a long message (a test that puts the command's output first ends with its assertion; the one-line
// form cut it off): up to 40 lines of 300 characters, none when the one line already holds the whole message.
function tailLines(err) {
  const text = String((err && (err.message || err)) || '')
  if (text.replace(/\s+/g, ' ').trim().length <= 300) return []
  return text
    .trimEnd()
    .split('\n')
    .slice(-40)
    .map((line) => line.slice(0, 300))
}

// Which run this is, from `--config .mocharc.<run>.json`; "mocha" when there is none.
function runName() {
  const i = process.argv.findIndex((a) => a === '--config' || a.startsWith('--config='))
  if (i < 0) return 'mocha'
  const file = process.argv[i].includes('=') ? process.argv[i].split('=')[1] : process.argv[i + 1]
  const m = /\.mocharc\.([^.]+)\./.exec(path.basename(file || ''))
  return m ? m[1] : path.basename(file || 'mocha')
}

class CountingSpec extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options)
    const target = process.env.SKYCAP_TEST_COUNTS
    if (!target) return
    const failures = []
    runner.on(EVENT_TEST_FAIL, (test, err) => failures.push({title: test.fullTitle(), error: firstLine(err), tail: tailLines(err)}))
    runner.once(EVENT_RUN_END, () => {
      const s = this.stats
      const line = {run: `${runName()} (Node ${process.versions.node})`, passed: s.passes, failed: s.failures, pending: s.pending, failures}
      fs.appendFileSync(target, JSON.stringify(line) + '\n')
    })
  }
}

module.exports = CountingSpec
