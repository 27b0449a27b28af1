// The integration run (docs/testing.md). Its files run at once in worker processes (mocha's --parallel), against the
// one test cluster the global setup (test/integration/hooks.ts) starts in mocha's own process. Each test makes its own
// namespaces and each file its own app name (test/integration/app.ts), so files share no object. The tests wait for
// the cluster most of the time: on 2 cores the files' own times add up to about 109 minutes; two workers took 56,
// three take about 47 (the load average 5 rather than 4; docs/testing.md).
//
// The files that take longest start first, so that the last to start are short ones: the run ends with its busiest
// worker. SKYCAP_IT_JOBS sets the number of workers (default 3); 1 runs the files one after another in mocha's own
// process, its output as it comes (a worker's output shows when its file ends).
'use strict'
/* global require, module, process, __dirname */
/* eslint-disable @typescript-eslint/no-require-imports -- mocha loads its config with require() */
const fs = require('node:fs')
const path = require('node:path')

// The longest files on the CI host, longest first (minutes, two workers: 19, 15, 14, 14, 12, 9, 7, 6, 3, 1, 1, 1). The
// rollout tests are three files (rollouts-kit.ts): as one they took 47 minutes, the most a run with more workers could
// take.
const LONGEST_FIRST = ['rollouts', 'hardening', 'rollouts-canary', 'rollouts-bluegreen', 'deploy', 'strategies', 'hooks-tasks', 'real-node', 'local', 'sharing', 'notify', 'smoke']

const dir = path.join(__dirname, 'dist/test/integration')
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.test.js')) : []
const rank = (f) => {
  const i = LONGEST_FIRST.indexOf(f.replace(/\.test\.js$/, ''))
  return i < 0 ? LONGEST_FIRST.length : i
}
files.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))

const jobs = Number(process.env.SKYCAP_IT_JOBS || 3)

module.exports = {
  spec: files.length ? files.map((f) => path.join('dist/test/integration', f)) : ['dist/test/integration/**/*.test.js'],
  require: ['dist/test/integration/hooks.js'],
  timeout: 180000,
  reporter: './test/reporter.cjs',
  'forbid-only': true,
  'forbid-pending': true,
  ...(jobs > 1 ? {parallel: true, jobs} : {}),
}
