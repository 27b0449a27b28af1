import {expect} from 'chai'

import {waitAtMost} from '../../src/sleep.js'

describe('waitAtMost', () => {
  it('leaves no timer behind once the work ends first (a 10 s timer kept `skycap run` alive after its command exited 0)', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    // Counted once mocha has armed its own test timer (after the test's first await).
    await new Promise((resolve) => setImmediate(resolve))
    const before = timers()
    await waitAtMost(Promise.resolve(), 60_000)
    expect(timers()).to.equal(before)
    // Work that does not end within the limit: waited for the limit only.
    const started = Date.now()
    await waitAtMost(new Promise(() => {}), 50)
    expect(Date.now() - started).to.be.below(5_000)
    // An abort ends the wait and its timer.
    const controller = new AbortController()
    const waiting = waitAtMost(new Promise(() => {}), 60_000, controller.signal)
    controller.abort()
    await waiting
    expect(timers()).to.equal(before)
  })
})
