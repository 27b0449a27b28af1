import {expect} from 'chai'
import {execa} from 'execa'
import {chmodSync, existsSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {cliPath, parseJson, TempRepo} from '../helpers/repo.js'

// docs/json.md: --json prints exactly one document on stdout. A second signal (Ctrl-C twice, or a CI job cancelled with
// TERM then TERM) quits at once, and stdout was empty.
describe('a quit at once (a second signal)', function () {
  this.timeout(60_000)
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
    // A kubectl that does not answer and ignores the TERM the first signal's stop sends it: the command still waits
    // when the second signal comes.
    writeFileSync(join(repo.dir, 'kubectl'), `#!/bin/bash\ntrap '' INT TERM\ntouch '${join(repo.dir, 'called')}'\nsleep 20 &\nwait\n`)
    chmodSync(join(repo.dir, 'kubectl'), 0o755)
  })
  after(() => repo.remove())

  /** Runs the CLI with `args`, and sends `signal` twice: once it waits for kubectl, and once it said it got the first. */
  async function quitTwice(args: string[], signal: 'SIGINT' | 'SIGTERM') {
    rmSync(join(repo.dir, 'called'), {force: true})
    const child = execa('node', [cliPath, ...args], {
      cwd: repo.dir,
      env: {NO_COLOR: '1', CI: '', GITHUB_ACTIONS: '', GITLAB_CI: '', SKYCAP_ENV: '', SKYCAP_KUBECTL: join(repo.dir, 'kubectl')},
      reject: false,
    })
    let err = ''
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')))
    // The first signal once skycap waits for kubectl (its signal handlers are in place by then).
    while (!existsSync(join(repo.dir, 'called'))) await new Promise((resolve) => setTimeout(resolve, 20))
    child.kill(signal)
    while (!err.includes(`Received ${signal}`)) await new Promise((resolve) => setTimeout(resolve, 20))
    child.kill(signal)
    return child
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`--json, ${signal} twice: one JSON document, ok false, exit 130, saying what was left`, async () => {
      const r = await quitTwice(['scale', 'web', '3', '-e', 'test', '--json'], signal)
      expect(r.exitCode, r.stderr).to.equal(130)
      expect(r.stderr).to.contain(`Quit at once (${signal}):`)
      const document = parseJson(r.stdout)
      expect(document).to.deep.include({ok: false, exitCode: 130})
      expect(document.error.code).to.equal('interrupted')
      expect(document.error.message).to.match(new RegExp(`^Quit at once \\(${signal}\\): `))
    })
  }

  it('a command that takes no lock (diff) does not speak of one when it quits', async () => {
    const r = await quitTwice(['diff', 'test'], 'SIGINT')
    expect(r.exitCode, r.stderr).to.equal(130)
    expect(r.stderr)
      .to.contain('Quit at once (SIGINT): what the first signal was stopping ends with skycap (it takes no lock and changes nothing in the cluster)')
      .and.not.contain('lock this command took')
  })
})
