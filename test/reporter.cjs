// Mocha reporter: mocha's spec output, plus one JSON line of totals appended to the file named by
// SKYCAP_TEST_COUNTS (when set), e.g. {"run":"unit (Node 24.22.3)","passed":12,"failed":0,"pending":0}.
// .ci/run sums these lines into its final "N passed, N failed" line.
/* global require, module, process */
/* eslint-disable @typescript-eslint/no-require-imports -- mocha loads reporters with require() */
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const Mocha = require('mocha')

const {EVENT_RUN_END} = Mocha.Runner.constants

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
    runner.once(EVENT_RUN_END, () => {
      const s = this.stats
      const line = {run: `${runName()} (Node ${process.versions.node})`, passed: s.passes, failed: s.failures, pending: s.pending}
      fs.appendFileSync(target, JSON.stringify(line) + '\n')
    })
  }
}

module.exports = CountingSpec
