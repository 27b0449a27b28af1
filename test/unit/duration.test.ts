import {expect} from 'chai'
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {PassThrough} from 'node:stream'

import {parseConfig} from '../../src/config/load.js'
import {deploy} from '../../src/deploy/deploy.js'
import {rollback} from '../../src/deploy/rollback.js'
import {parseDuration} from '../../src/duration.js'
import {ConfigErrors, ExitCode, exitCodeOf, UserError} from '../../src/errors.js'
import {runLock} from '../../src/lock/run.js'
import {streamLogs} from '../../src/logs/stream.js'
import {scale} from '../../src/scale/scale.js'
import {memoryReporter} from '../../src/ui/output.js'
import {fakeKubectlFactory} from '../helpers/fake-kubectl.js'
import {parseJson, runCli, TempRepo} from '../helpers/repo.js'

const REFUSED = ['10', '90', '0', '0s', '0m0s', '0.0h', '5ms', '1500ms', '', 'abc', '1d', '10 s', '-5m', '1e3s', 'm']

/** The error `run` fails with; fails the test when it succeeds or throws something other than exit 2. */
async function refusal(run: () => Promise<unknown>): Promise<UserError> {
  try {
    await run()
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(UserError)
    expect(exitCodeOf(error)).to.equal(ExitCode.INVALID)
    return error as UserError
  }
  throw new Error('expected exit 2')
}

describe('durations need a unit', () => {
  it('reads h, m and s, alone, combined and with decimals', async () => {
    expect(await parseDuration('90s')).to.equal(90_000)
    expect(await parseDuration('5m')).to.equal(300_000)
    expect(await parseDuration('1h30m')).to.equal(5_400_000)
    expect(await parseDuration('1.5h')).to.equal(5_400_000)
    expect(await parseDuration('2m30s')).to.equal(150_000)
    expect(await parseDuration('0.5s')).to.equal(500)
  })

  it('refuses bare numbers, zero, ms and anything else with the flag, the value and the units', async () => {
    for (const text of REFUSED) {
      const e = await refusal(() => parseDuration(text, '--timeout'))
      expect(e.message, text).to.contain(`--timeout is "${text}"`).and.contain('(h, m or s)').and.contain('greater than zero')
    }
  })

  it('tells how to fix a bare number and an ms value', async () => {
    expect((await refusal(() => parseDuration('10', '--timeout'))).hint).to.equal('Add a unit: 10s for seconds, 10m for minutes.')
    expect((await refusal(() => parseDuration('500ms', '--since'))).hint).to.contain('seconds')
    // The hints say what docs/cli-behaviour.md says: leave a zero out, write days as hours.
    for (const zero of ['0', '0s', '0m0s', '0.0h'])
      expect((await refusal(() => parseDuration(zero, '--wait-for-lock'))).hint, zero).to.equal('Leave it out for the default; zero is not a duration here.')
    expect((await refusal(() => parseDuration('1d', '--duration'))).hint).to.equal('Write hours: 24h.')
    expect((await refusal(() => parseDuration('2w', '--duration'))).hint).to.equal('Write hours: 336h.')
    expect((await refusal(() => parseDuration('10 s', '--timeout'))).hint).to.equal('Write it like 90s, 5m or 1h30m.')
  })

  it('a look-back (logs --since) is no wait: longer than 596h is read, up to what kubectl takes', async () => {
    expect(await parseDuration('720h', '--since', {lookBack: true})).to.equal(720 * 3_600_000)
    expect((await refusal(() => parseDuration('720h', '--timeout'))).message).to.contain('longer than skycap supports')
    const beyond = await refusal(() => parseDuration('2562048h', '--since', {lookBack: true}))
    expect(beyond.message).to.equal('--since is "2562048h", further back than kubectl reads (at most 2562047h)')
    expect(beyond.hint).to.equal('Leave it out for all lines.')
  })

  describe('skycap.yaml deploy.timeout (schema, with file:line:column)', () => {
    const config = (timeout: string) => `app: shop\ndeploy:\n  timeout: ${timeout}\nservices:\n  web: {image: web}\nenvironments:\n  staging: {namespace: s}\n`
    async function configError(timeout: string): Promise<string> {
      try {
        await parseConfig(config(timeout), '/tmp/x/skycap.yaml')
      } catch (error) {
        expect(error).to.be.instanceOf(ConfigErrors)
        expect((error as ConfigErrors).exitCode).to.equal(ExitCode.INVALID)
        return (error as ConfigErrors).message
      }
      throw new Error(`deploy.timeout ${timeout} was accepted`)
    }

    it('rejects a number, a unit-less string, zero and ms at the value', async () => {
      expect(await configError('10')).to.contain('skycap.yaml:3:12: deploy.timeout is number 10 but must be a duration greater than zero with a unit (h, m or s)')
      expect(await configError('"10"')).to.contain('skycap.yaml:3:12: deploy.timeout is "10" but must be a duration')
      expect(await configError('0s')).to.contain('deploy.timeout is "0s" but must be a duration greater than zero')
      expect(await configError('500ms')).to.contain('bare numbers and ms are not accepted')
    })

    it('accepts 90s, 10m and 1h30m', async () => {
      for (const t of ['90s', '10m', '1h30m']) expect((await parseConfig(config(t), '/tmp/x/skycap.yaml')).config.deploy?.timeout).to.equal(t)
    })
  })

  describe('every entry point refuses before calling kubectl', () => {
    let repo: TempRepo
    let configPath: string
    before(async () => {
      repo = await TempRepo.fromFixture('shop')
      configPath = `${repo.dir}/skycap.yaml`
    })
    after(() => repo.remove())

    /** Runs `use` with a kubectl that fails the test on any call, and returns the exit-2 error. */
    async function refusedWithoutKubectl(use: (factory: ReturnType<typeof fakeKubectlFactory>['factory']) => Promise<unknown>): Promise<UserError> {
      const fake = fakeKubectlFactory([])
      const e = await refusal(() => use(fake.factory))
      expect(fake.calls, 'no kubectl call').to.deep.equal([])
      return e
    }

    it('deploy --timeout and --wait-for-lock', async () => {
      const deps = (kubectl: ReturnType<typeof fakeKubectlFactory>['factory']) => ({kubectl, reporter: memoryReporter()})
      const cwd = repo.dir
      expect((await refusedWithoutKubectl((k) => deploy({target: 'staging', configPath, cwd, timeout: '10'}, deps(k)))).message).to.contain('--timeout is "10"')
      expect((await refusedWithoutKubectl((k) => deploy({target: 'staging', configPath, cwd, timeout: '10s', waitForLock: '0'}, deps(k)))).message).to.contain('--wait-for-lock is "0"')
      // An empty value is refused too, not taken for "no flag".
      expect((await refusedWithoutKubectl((k) => deploy({target: 'staging', configPath, cwd, timeout: ''}, deps(k)))).message).to.contain('--timeout is ""')
    })

    it('rollback --timeout and --wait-for-lock', async () => {
      const deps = (kubectl: ReturnType<typeof fakeKubectlFactory>['factory']) => ({kubectl, reporter: memoryReporter()})
      expect((await refusedWithoutKubectl((k) => rollback({environment: 'staging', configPath, timeout: '600'}, deps(k)))).message).to.contain('--timeout is "600"')
      expect((await refusedWithoutKubectl((k) => rollback({environment: 'staging', configPath, waitForLock: '5ms'}, deps(k)))).message).to.contain('--wait-for-lock is "5ms"')
    })

    it('scale --timeout and --wait-for-lock', async () => {
      const deps = (kubectl: ReturnType<typeof fakeKubectlFactory>['factory']) => ({kubectl, reporter: memoryReporter()})
      expect((await refusedWithoutKubectl((k) => scale({service: 'web', replicas: 2, environment: 'staging', configPath, timeout: '30'}, deps(k)))).message).to.contain('--timeout is "30"')
      expect((await refusedWithoutKubectl((k) => scale({service: 'web', replicas: 2, environment: 'staging', configPath, waitForLock: '0m'}, deps(k)))).message).to.contain('--wait-for-lock is "0m"')
    })

    it('lock acquire --duration', async () => {
      const e = await refusedWithoutKubectl((k) => runLock({action: 'acquire', environment: 'staging', configPath, duration: '3600'}, k, memoryReporter()))
      expect(e.message).to.contain('--duration is "3600"')
    })

    it('logs --since', async () => {
      const deps = (kubectl: ReturnType<typeof fakeKubectlFactory>['factory']) => ({kubectl, reporter: memoryReporter(), out: new PassThrough(), colour: false})
      const e = await refusedWithoutKubectl((k) => streamLogs({services: ['web'], environment: 'staging', configPath, since: '10'}, deps(k)))
      expect(e.message).to.contain('--since is "10"')
      const empty = await refusedWithoutKubectl((k) => streamLogs({services: ['web'], environment: 'staging', configPath, since: ''}, deps(k)))
      expect(empty.message).to.contain('--since is ""')
    })
  })

  describe('built CLI', () => {
    let repo: TempRepo
    before(async () => {
      repo = await TempRepo.fromFixture('shop')
    })
    after(() => repo.remove())

    it('exits 2 naming the flag, the value and the units, with --json too', async () => {
      const cases: Array<[string[], string]> = [
        [['deploy', 'staging', '--timeout', '10'], '--timeout is "10"'],
        [['deploy', 'staging', '--wait-for-lock', '0s'], '--wait-for-lock is "0s"'],
        [['deploy', 'staging', '--timeout='], '--timeout is ""'],
        [['rollback', 'staging', '--timeout', '5ms'], '--timeout is "5ms"'],
        [['scale', 'web', '2', '-e', 'staging', '--timeout', '60'], '--timeout is "60"'],
        [['lock', 'acquire', 'staging', '--duration', '3600'], '--duration is "3600"'],
        [['logs', 'web', '-e', 'staging', '--since', '10'], '--since is "10"'],
      ]
      for (const [argv, said] of cases) {
        const r = await runCli(argv, {cwd: repo.dir})
        expect(r.exitCode, `${argv.join(' ')}: ${r.stderr}`).to.equal(2)
        expect(r.stderr).to.contain(said).and.contain('(h, m or s)')
        expect(r.stderr, 'refused before looking for the kube context').to.not.contain('kubeconfig')
      }
      const json = await runCli(['deploy', 'staging', '--timeout', '10', '--json'], {cwd: repo.dir})
      expect(json.exitCode).to.equal(2)
      expect(parseJson(json.stdout).error).to.deep.include({code: 'invalid_input', hint: 'Add a unit: 10s for seconds, 10m for minutes.'})
    })

    it('logs --since 720h (30 days, more than a wait may be) passes the command line check', async () => {
      const r = await runCli(['logs', 'web', '-e', 'staging', '--since', '720h'], {cwd: repo.dir})
      expect(r.stderr).to.not.contain('--since')
      // It goes on to the kube context (which this fixture's environment does not have).
      expect(r.stderr).to.contain('context')
    })

    it('a refused duration comes before anything else: no warning about the work tree, no CI group', async () => {
      repo.write('uncommitted.txt', 'x\n')
      try {
        for (const argv of [
          ['deploy', 'staging', '--timeout', '10'],
          ['run', 'web', '-e', 'staging', '--timeout', '10', '--', 'true'],
          ['up', '--timeout', '10'],
        ]) {
          const r = await runCli(argv, {cwd: repo.dir, env: {GITHUB_ACTIONS: 'true'}})
          expect(r.exitCode, `${argv.join(' ')}: ${r.stderr}`).to.equal(2)
          expect(r.stderr.split('\n').filter((l) => l.trim() !== '')[0], argv.join(' ')).to.contain('--timeout is "10"')
          expect(r.stderr).to.not.contain('::group::')
        }
      } finally {
        rmSync(join(repo.dir, 'uncommitted.txt'))
      }
    })

    it('config validate exits 2 for a unit-less deploy.timeout, at its line', async () => {
      repo.write('skycap.yaml', readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8').replace('defaultEnvironment: staging', 'defaultEnvironment: staging\ndeploy: {timeout: 600}'))
      const r = await runCli(['config', 'validate'], {cwd: repo.dir})
      expect(r.exitCode, r.stderr).to.equal(2)
      expect(r.stderr).to.match(/skycap\.yaml:6:\d+: deploy\.timeout is number 600 but must be a duration greater than zero with a unit/)
    })
  })
})
