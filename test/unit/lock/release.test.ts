import {expect} from 'chai'

import {LockedError, UserError} from '../../../src/errors.js'
import {whoAmI} from '../../../src/identity.js'
import {acquireLock} from '../../../src/lock/lease.js'
import {runLock} from '../../../src/lock/run.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {fakeKubectl, fakeKubectlFactory} from '../../helpers/fake-kubectl.js'
import {TempRepo} from '../../helpers/repo.js'

/** itapp's lock in namespace shop, held by `holder`; `heldBy` is the annotation skycap writes (none: an older skycap). */
function lease(holder: string, heldBy?: 'hand' | 'command', reason = 'deploy test@abc1234') {
  const now = Date.now()
  return JSON.stringify({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: 'skycap-lock-itapp',
      resourceVersion: '7',
      annotations: {'skycap.dev/reason': reason, 'skycap.dev/lock-id': 'other', 'skycap.dev/environment': 'test', 'skycap.dev/ci-job': '', ...(heldBy ? {'skycap.dev/held-by': heldBy} : {})},
    },
    spec: {holderIdentity: holder, leaseDurationSeconds: 60, acquireTime: new Date(now).toISOString(), renewTime: new Date(now).toISOString()},
  })
}

describe("skycap lock release, and the hint of a lock that is one's own", function () {
  this.timeout(20_000)
  const BOUND = ['--context', 'kind-x', '--namespace', 'shop', '--request-timeout=30s']
  const GET = [...BOUND, 'get', 'lease', 'skycap-lock-itapp', '-o', 'json', '--ignore-not-found']
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.clusterApp('kind-x', 'shop')
  })
  afterEach(() => repo.remove())
  const release = (factory: ReturnType<typeof fakeKubectlFactory>['factory'], force = false) =>
    runLock({action: 'release', environment: 'test', configPath: `${repo.dir}/skycap.yaml`, force}, factory, memoryReporter())

  it("one's own lock taken by hand, or by an older skycap that did not say: released without --force", async () => {
    for (const heldBy of ['hand', undefined] as const) {
      const fake = fakeKubectlFactory([
        {argv: GET, result: {stdout: lease(whoAmI(), heldBy, 'maintenance')}},
        {argv: GET, result: {stdout: lease(whoAmI(), heldBy, 'maintenance')}},
        {argv: [...BOUND, 'delete', 'lease', 'skycap-lock-itapp', '--ignore-not-found']},
      ])
      expect(await release(fake.factory)).to.deep.include({released: true})
      expect(fake.remaining()).to.equal(0)
    }
  })

  it('one held by a command of ones own that has not ended (a deploy in another terminal or CI job): refused without --force, nothing deleted', async () => {
    const fake = fakeKubectlFactory([{argv: GET, result: {stdout: lease(whoAmI(), 'command')}}])
    const error = (await release(fake.factory).catch((e: unknown) => e)) as UserError
    expect(error).to.be.instanceOf(UserError)
    expect(error.message).to.equal("test's lock is held by a skycap command of yours that has not ended (deploy test@abc1234); nothing was changed")
    expect(error.hint).to.match(/^It is released when that command ends\. If it is gone \(killed, its machine down\): skycap lock release test --force; otherwise the lock expires at /)
    expect(fake.remaining()).to.equal(0)
    // --force releases it.
    const forced = fakeKubectlFactory([
      {argv: GET, result: {stdout: lease(whoAmI(), 'command')}},
      {argv: GET, result: {stdout: lease(whoAmI(), 'command')}},
      {argv: [...BOUND, 'delete', 'lease', 'skycap-lock-itapp', '--ignore-not-found']},
    ])
    expect(await release(forced.factory, true)).to.deep.include({released: true})
  })

  it("a refused deploy's hint says `lock release` without --force only for one's own lock taken by hand", async () => {
    const hint = async (holder: string, heldBy?: 'hand' | 'command') => {
      const {kubectl} = fakeKubectl(
        [
          {argv: ['--request-timeout=30s', 'create', '-f', '-'], result: {exitCode: 1, stderr: 'Error from server (AlreadyExists): leases.coordination.k8s.io "skycap-lock-itapp" already exists'}},
          {argv: ['--request-timeout=30s', 'get', 'lease', 'skycap-lock-itapp', '-o', 'json', '--ignore-not-found'], result: {stdout: lease(holder, heldBy)}},
        ],
        {},
      )
      const error = (await acquireLock(kubectl, {app: 'itapp', environment: 'test', reason: 'deploy', durationSeconds: 60}).catch((e: unknown) => e)) as LockedError
      expect(error).to.be.instanceOf(LockedError)
      return error.hint ?? ''
    }
    expect(await hint(whoAmI(), 'hand')).to.contain(`or, if you are done with it (it is yours, ${whoAmI()}): skycap lock release test. The lock expires at`)
    // A deploy of one's own (another terminal; another CI job of the same actor on the same host) is not "yours to release".
    expect(await hint(whoAmI(), 'command')).to.contain('or, if its holder is gone or done with it: skycap lock release test --force.')
    expect(await hint('someone@else', 'hand')).to.contain('skycap lock release test --force.')
  })
})
