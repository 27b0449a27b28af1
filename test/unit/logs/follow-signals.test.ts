import {expect} from 'chai'
import {execa} from 'execa'

import {logsKubectlProgram} from '../../helpers/fake-kubectl.js'
import {cliPath, TempRepo} from '../../helpers/repo.js'

// `skycap logs -f` is meant to run until it is stopped: a signal is how it ends, not a failure (docs/logs.md and the
// exit-code table say exit 0, as `port-forward` and `up` end). The real process gets a real signal here.
describe('skycap logs -f, run as a process, stopped by a signal', function () {
  this.timeout(60_000)
  let repo: TempRepo
  let kubectl: string
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
    // A pod that prints two lines, one of them noise the app's filters hide, and then keeps following.
    kubectl = logsKubectlProgram(repo.dir, ['started', 'GET /healthz 200'])
  })
  after(() => repo.remove())

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`${signal} ends it with exit 0, after the lines and the count of hidden ones`, async () => {
      const child = execa('node', [cliPath, 'logs', 'web', '-e', 'test', '-f'], {
        cwd: repo.dir,
        env: {NO_COLOR: '1', CI: '', GITHUB_ACTIONS: '', GITLAB_CI: '', SKYCAP_ENV: '', SKYCAP_KUBECTL: kubectl},
        reject: false,
      })
      let out = ''
      await new Promise<void>((resolve) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8')
          if (out.includes('web-1 │ started')) resolve()
        })
      })
      child.kill(signal)
      const r = await child
      expect(r.signal, r.stderr).to.equal(undefined)
      expect(r.exitCode, r.stderr).to.equal(0)
      expect(r.stdout).to.equal('web-1 │ started')
      expect(r.stderr).to.contain(`Received ${signal}: stopping (again to force quit)`)
      expect(r.stderr).to.contain("1 line hidden by skycap.yaml's logs.exclude (--no-filters shows them)")
    })
  }
})
