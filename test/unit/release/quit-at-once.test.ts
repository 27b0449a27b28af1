import {expect} from 'chai'

import {QuitAtOnce} from '../../../src/release/quit-at-once.js'

/** A write the test settles by hand, counting how often it was started. */
function pendingWrite() {
  let resolve!: (number: number) => void
  let reject!: (error: Error) => void
  const promise = new Promise<number>((res, rej) => {
    resolve = res
    reject = rej
  })
  const write = {started: 0, resolve, reject, run: () => (write.started++, promise)}
  return write
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('a quit at once (a second Ctrl-C): the record and the lock first', () => {
  it('nothing applied and no lock held: nothing to wait for', () => {
    expect(new QuitAtOnce().quit()).to.equal(undefined)
  })

  it('armed, the deploy not yet recording: the quit writes the record as interrupted, then releases the lock; the deploy’s own write never starts, and only one record is written', async () => {
    const guard = new QuitAtOnce()
    const steps: string[] = []
    guard.holdLock(async () => void steps.push('lock released'))
    const quitWrite = pendingWrite()
    guard.arm(() => (steps.push('quit record'), quitWrite.run()))
    const quitting = guard.quit()
    expect(quitting).to.not.equal(undefined)
    // The deploy's flow reaches its own write meanwhile (the first Ctrl-C's clean-up): it must not write a second one.
    let ownStarted = false
    let ownSettled = false
    void guard
      .own(async () => {
        ownStarted = true
        return 9
      })
      .finally(() => (ownSettled = true))
    quitWrite.resolve(7)
    expect(await quitting).to.deep.equal({record: {recorded: true, number: 7, interrupted: true}, lockReleased: true})
    await tick()
    expect(ownStarted, 'the deploy wrote a second record').to.equal(false)
    expect(ownSettled, 'the deploy went on past its record').to.equal(false)
    expect(steps).to.deep.equal(['quit record', 'lock released'])
    expect(quitWrite.started).to.equal(1)
  })

  it('the deploy’s own write under way: the quit waits for it (no second write) and says it was recorded as it ended', async () => {
    const guard = new QuitAtOnce()
    const armed = pendingWrite()
    guard.arm(armed.run)
    const own = pendingWrite()
    const written = guard.own(own.run)
    const quitting = guard.quit()
    let done = false
    void quitting?.then(() => (done = true))
    await tick()
    expect(done, 'the quit ended before the record was written').to.equal(false)
    own.resolve(5)
    expect(await written).to.equal(5)
    expect(await quitting).to.deep.equal({record: {recorded: true, number: 5, interrupted: false}})
    expect(armed.started, 'a second record').to.equal(0)
  })

  it('a record that cannot be written is said with why; a lock that cannot be released is said too', async () => {
    const guard = new QuitAtOnce()
    guard.holdLock(() => Promise.reject(new Error('the server is gone')))
    guard.arm(() => Promise.reject(new Error('Unable to connect to the server: dial tcp 127.0.0.1:6443: connect: connection refused\nmore')))
    expect(await guard.quit()).to.deep.equal({
      record: {recorded: false, reason: 'Unable to connect to the server: dial tcp 127.0.0.1:6443: connect: connection refused'},
      lockReleased: false,
    })
  })

  it('once the deploy released its lock itself, a quit does not release it again; a lock held before anything was applied is released', async () => {
    const guard = new QuitAtOnce()
    let releases = 0
    guard.holdLock(async () => void releases++)
    expect(await guard.quit()).to.deep.equal({lockReleased: true})
    guard.holdLock(undefined)
    expect(guard.quit()).to.equal(undefined)
    expect(releases).to.equal(1)
  })
})
