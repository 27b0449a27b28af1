import {expect} from 'chai'

import {Kubectl, type ProcessRunner} from '../../../src/kubectl/kubectl.js'
import {keepLockAlive} from '../../../src/lock/lease.js'

describe('lock heartbeat', () => {
  // The renewal's patch carries the time, so this runner answers by the verb, not by the exact argv.
  // 0 renewed, 1 the test of the lock id failed (not ours), 4 the API server did not answer.
  function renewals(answers: number[]) {
    const calls: string[][] = []
    const runner: ProcessRunner = async (_file, argv) => {
      calls.push(argv)
      const answer = answers[Math.min(calls.length - 1, answers.length - 1)] as number
      if (answer === 4) return {exitCode: 1, stdout: '', stderr: 'The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?'}
      return {exitCode: answer, stdout: '', stderr: answer === 0 ? '' : 'The request is invalid: the server rejected our request due to an error in our request'}
    }
    return {kubectl: new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, context: 'c', namespace: 'n'}), calls}
  }
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

  it('renews the lease at every beat with a JSON patch that tests the lock id, until stopped', async () => {
    const {kubectl, calls} = renewals([0])
    const beat = keepLockAlive(kubectl, 'shop', 'my-id', {intervalMs: 10})
    // Three beats, however slow the machine (a fixed 60 ms saw two on a loaded one).
    for (let waited = 0; calls.length < 3 && waited < 5000; waited += 10) await wait(10)
    beat.stop()
    const made = calls.length
    expect(made).to.be.at.least(3)
    for (const argv of calls) {
      expect(argv.slice(0, 9)).to.deep.equal(['--context', 'c', '--namespace', 'n', '--request-timeout=30s', 'patch', 'lease', 'skycap-lock-shop', '--type=json'])
      expect(JSON.parse(argv.at(-1) as string)[0]).to.deep.equal({op: 'test', path: '/metadata/annotations/skycap.dev~1lock-id', value: 'my-id'})
    }
    await wait(40)
    expect(calls.length, 'no beat after stop()').to.equal(made)
  })

  it('says once when the lock is no longer ours, and stops renewing', async () => {
    const {kubectl, calls} = renewals([0, 1])
    let lost = 0
    const beat = keepLockAlive(kubectl, 'shop', 'my-id', {intervalMs: 10, onLost: () => lost++})
    for (let waited = 0; lost === 0 && waited < 5000; waited += 10) await wait(10)
    await wait(40)
    beat.stop()
    expect(lost).to.equal(1)
    expect(calls).to.have.length(2)
  })

  it('an API server that does not answer is no lost lock: renewed again every retry until it answers, then at the beat', async () => {
    // Unanswered three times, then renewed: never "no longer ours", and the retries come at retryMs, not the beat.
    const {kubectl, calls} = renewals([4, 4, 4, 0])
    let lost = 0
    const started = Date.now()
    const beat = keepLockAlive(kubectl, 'shop', 'my-id', {intervalMs: 200, retryMs: 5, onLost: () => lost++})
    for (let waited = 0; calls.length < 4 && waited < 5000; waited += 5) await wait(5)
    // The beat at 200 ms, then three retries 5 ms apart, the last one renewed: well before the 800 ms that retries at
    // the beat would take (waited for, not timed to the millisecond: a loaded machine is slower).
    expect(Date.now() - started).to.be.below(790)
    await wait(20)
    beat.stop()
    expect(lost).to.equal(0)
    expect(calls.length).to.equal(4)
    const made = calls.length
    await wait(60)
    expect(calls.length, 'no retry after stop()').to.equal(made)
  })
})
