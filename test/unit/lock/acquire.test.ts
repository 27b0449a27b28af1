import {expect} from 'chai'

import {ExitCode, InterruptedError, LockedError, NamespaceMissingError} from '../../../src/errors.js'
import {whoAmI} from '../../../src/identity.js'
import {Kubectl, type ProcessRunner} from '../../../src/kubectl/kubectl.js'
import {acquireLock, durationText, type LockInfo, lockStatus} from '../../../src/lock/lease.js'
import {lockLine} from '../../../src/ui/tables.js'

describe('lock acquire', () => {
  /** A kubectl whose every call fails as the API server answers a Lease created in a namespace that does not exist. */
  function noNamespace() {
    const calls: string[][] = []
    const runner: ProcessRunner = async (_file, argv) => {
      calls.push(argv)
      return {exitCode: 1, stdout: '', stderr: 'Error from server (NotFound): error when creating "STDIN": namespaces "shop-dev" not found\n'}
    }
    return {kubectl: new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, context: 'kind-dev', namespace: 'shop-dev'}), calls}
  }

  it('in a namespace that does not exist yet: exit 2 saying so and that the first deploy creates it; nothing is created', async () => {
    const {kubectl, calls} = noNamespace()
    const error = (await acquireLock(kubectl, {app: 'shop', environment: 'dev', reason: 'by hand', durationSeconds: 3600}).catch((e: unknown) => e)) as NamespaceMissingError
    expect(error).to.be.instanceOf(NamespaceMissingError)
    expect(error.exitCode).to.equal(ExitCode.INVALID)
    expect(error.code).to.equal('namespace_not_found')
    expect(error.message).to.equal('cannot lock dev: its namespace shop-dev does not exist yet (nothing was deployed there); nothing was changed')
    expect(error.hint).to.equal(
      'The first `skycap deploy dev` creates the namespace and holds the lock while it runs. To keep deploys out before that, create the namespace and lock it: `kubectl create namespace shop-dev --context kind-dev`.',
    )
    expect(error.details).to.deep.equal({environment: 'dev', namespace: 'shop-dev'})
    // One create, no retry, and no namespace made behind the user's back.
    expect(calls).to.have.length(1)
    expect(calls[0]?.slice(-3)).to.deep.equal(['create', '-f', '-'])
  })
})

describe('lock acquire through an API server that stops answering', () => {
  it('a create the outage cut off after it went through: made again (AlreadyExists), and the Lease with this lock id is ours (it was not made again; made again, its own Lease read as another holder’s)', async () => {
    const calls: string[] = []
    let created: string | undefined
    const runner: ProcessRunner = async (_file, argv, options) => {
      const verb = argv.find((a) => !a.startsWith('-') && !['c', 'shop-dev'].includes(a)) as string
      calls.push(verb)
      if (verb === 'create' && created === undefined) {
        created = options.input
        return {exitCode: 1, stdout: '', stderr: 'error: Post "https://10.0.0.1:6443/apis/coordination.k8s.io/v1/namespaces/shop-dev/leases": unexpected EOF'}
      }
      if (verb === 'create') return {exitCode: 1, stdout: '', stderr: 'Error from server (AlreadyExists): leases.coordination.k8s.io "skycap-lock-shop" already exists'}
      return {exitCode: 0, stdout: created ?? '', stderr: ''}
    }
    const kubectl = new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, context: 'c', namespace: 'shop-dev'}).waitingOut({
      deadline: Date.now() + 60_000,
      clock: Date.now,
      intervalMs: 1,
    })
    const lock = await acquireLock(kubectl, {app: 'shop', environment: 'dev', reason: 'deploy', durationSeconds: 60})
    expect(lock.id).to.equal(JSON.parse(created as string).metadata.annotations['skycap.dev/lock-id'])
    expect(calls).to.deep.equal(['create', 'create', 'get'])
  })
})

describe('lock acquire interrupted (Ctrl-C reaches kubectl too)', () => {
  /** A kubectl whose create dies of the SIGINT after the API server made the Lease; `deleteFails`: the release cannot reach it. */
  function stoppedCreate(deleteFails = false) {
    const calls: string[] = []
    let lease: string | undefined
    const runner: ProcessRunner = async (_file, argv, options) => {
      const verb = argv.find((a) => !a.startsWith('-') && !['c', 'shop-dev'].includes(a)) as string
      calls.push(verb)
      if (verb === 'create') {
        lease = options.input
        return {exitCode: -1, stdout: '', stderr: '', signal: 'SIGINT'}
      }
      if (verb === 'get') return {exitCode: 0, stdout: lease ?? '', stderr: ''}
      if (deleteFails) return {exitCode: 1, stdout: '', stderr: 'Unable to connect to the server: dial tcp 10.0.0.1:6443: connect: connection refused'}
      lease = undefined
      return {exitCode: 0, stdout: '', stderr: ''}
    }
    return {kubectl: new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, context: 'c', namespace: 'shop-dev', retries: 0}), calls, held: () => lease}
  }

  it('a create the signal stopped after it went through: the Lease is released by its id, and the error says nothing was changed (it stayed held for a minute)', async () => {
    for (let round = 1; round <= 3; round++) {
      const {kubectl, calls, held} = stoppedCreate()
      const error = (await acquireLock(kubectl, {app: 'shop', environment: 'dev', reason: 'deploy', durationSeconds: 60}).catch((e: unknown) => e)) as InterruptedError
      expect(error).to.be.instanceOf(InterruptedError)
      expect(error.message).to.equal('interrupted while taking the lock of dev; nothing was changed')
      expect(calls).to.deep.equal(['create', 'get', 'delete'])
      expect(held()).to.equal(undefined)
    }
  })

  it('when the release cannot be made either, says the lock may be held until it expires, and how to free it', async () => {
    const {kubectl, held} = stoppedCreate(true)
    const error = (await acquireLock(kubectl, {app: 'shop', environment: 'dev', reason: 'deploy', durationSeconds: 60}).catch((e: unknown) => e)) as InterruptedError
    expect(error).to.be.instanceOf(InterruptedError)
    expect(error.message).to.match(/^interrupted while taking the lock of dev; nothing was changed, but the lock may be held until it expires \(60s\): cannot reach the cluster's API server/)
    expect(error.hint).to.equal('`skycap lock status dev` shows it; `skycap lock release dev --force` frees it once you know no command holds it.')
    expect(held()).to.not.equal(undefined)
  })
})

describe('a held lock, said to people', () => {
  const now = Date.parse('2026-11-22T10:00:00Z')
  const lease = (annotations: Record<string, string>) => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {name: 'skycap-lock-shop', resourceVersion: '7', annotations: {'skycap.dev/reason': 'migration', 'skycap.dev/lock-id': 'other', ...annotations}},
    spec: {holderIdentity: 'octocat@runner-1', leaseDurationSeconds: 3600, acquireTime: '2026-11-22T09:58:00.000000Z', renewTime: '2026-11-22T09:58:00.000000Z'},
  })
  /** A kubectl for which the lock exists already and is held by `held`. */
  function heldBy(held: unknown) {
    const runner: ProcessRunner = async (_file, argv) =>
      argv.includes('create')
        ? {exitCode: 1, stdout: '', stderr: 'Error from server (AlreadyExists): leases.coordination.k8s.io "skycap-lock-shop" already exists'}
        : {exitCode: 0, stdout: JSON.stringify(held), stderr: ''}
    return new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, context: 'c', namespace: 'shop-staging'})
  }
  const JOB = 'https://github.com/o/r/actions/runs/555'

  it("the refused deploy's error names the CI job that holds the lock", async () => {
    const error = (await acquireLock(heldBy(lease({'skycap.dev/ci-job': JOB})), {app: 'shop', environment: 'staging', reason: 'deploy', durationSeconds: 60, clock: () => now}).catch(
      (e: unknown) => e,
    )) as LockedError
    expect(error).to.be.instanceOf(LockedError)
    expect(error.message).to.equal(`staging is locked by octocat@runner-1 since 2026-11-22T09:58:00.000Z (migration); job ${JOB}`)
    expect((error.details?.lock as LockInfo).ciJob).to.equal(JOB)
    // Without a job (taken outside CI), nothing is added.
    const local = (await acquireLock(heldBy(lease({'skycap.dev/ci-job': ''})), {app: 'shop', environment: 'staging', reason: 'deploy', durationSeconds: 60, clock: () => now}).catch(
      (e: unknown) => e,
    )) as LockedError
    expect(local.message).to.equal('staging is locked by octocat@runner-1 since 2026-11-22T09:58:00.000Z (migration)')
  })

  it("one's own lock (taken by hand) is released without --force, and the hint says so", async () => {
    const mine = {...lease({}), spec: {...lease({}).spec, holderIdentity: whoAmI()}}
    const error = (await acquireLock(heldBy(mine), {app: 'shop', environment: 'staging', reason: 'deploy', durationSeconds: 60, clock: () => now}).catch((e: unknown) => e)) as LockedError
    expect(error).to.be.instanceOf(LockedError)
    expect(error.hint).to.contain(`or, if you are done with it (it is yours, ${whoAmI()}): skycap lock release staging. The lock expires at`)
    expect(error.hint).not.to.contain('--force')
    // Someone else's: --force, as before.
    const theirs = (await acquireLock(heldBy(lease({})), {app: 'shop', environment: 'staging', reason: 'deploy', durationSeconds: 60, clock: () => now}).catch((e: unknown) => e)) as LockedError
    expect(theirs.hint).to.contain('skycap lock release staging --force')
  })

  it('a reason with line breaks (written by anyone) is said on one line: no line of it can pass for a workflow command', async () => {
    const lock = (await lockStatus(heldBy(lease({'skycap.dev/reason': 'maint\n::endgroup::\r\n::error file=x::fake'})), 'shop', () => now)) as LockInfo
    expect(lock.reason).to.equal('maint ::endgroup:: ::error file=x::fake')
    expect(lockLine({environment: 'staging', lock}).split('\n')).to.have.length(1)
    // And one written by skycap is stored on one line.
    let created: string | undefined
    const runner: ProcessRunner = async (_file, argv, options) => {
      if (argv.includes('create')) created = String(options?.input ?? '')
      return {exitCode: 0, stdout: '', stderr: ''}
    }
    const kubectl = new Kubectl({binary: 'kubectl', runner, context: 'c', namespace: 'shop-staging'})
    await acquireLock(kubectl, {app: 'shop', environment: 'staging', reason: 'a\n::error::b', durationSeconds: 60})
    expect(JSON.parse(created as string).metadata.annotations['skycap.dev/reason']).to.equal('a ::error::b')
  })

  it('a lock taken for another environment that shares the namespace says whose it is; one taken for this one says nothing more', async () => {
    const lock = (await lockStatus(heldBy(lease({'skycap.dev/environment': 'test'})), 'shop', () => now)) as LockInfo
    expect(lock.environment).to.equal('test')
    expect(lockLine({environment: 'test2', lock})).to.equal('test2 is locked by octocat@runner-1 since 2026-11-22T09:58:00.000Z (migration), for environment test; expires 2026-11-22T10:58:00.000Z')
    expect(lockLine({environment: 'test', lock})).to.equal('test is locked by octocat@runner-1 since 2026-11-22T09:58:00.000Z (migration); expires 2026-11-22T10:58:00.000Z')
    const error = (await acquireLock(heldBy(lease({'skycap.dev/environment': 'test'})), {app: 'shop', environment: 'test2', reason: 'deploy', durationSeconds: 60, clock: () => now}).catch(
      (e: unknown) => e,
    )) as LockedError
    expect(error.message).to.equal('test2 is locked by octocat@runner-1 since 2026-11-22T09:58:00.000Z (migration), for environment test')
  })

  it('lock status names the CI job too', async () => {
    const lock = (await lockStatus(heldBy(lease({'skycap.dev/ci-job': JOB})), 'shop', () => now)) as LockInfo
    expect(lockLine({environment: 'staging', lock})).to.equal(`staging is locked by octocat@runner-1 since 2026-11-22T09:58:00.000Z (migration); job ${JOB}; expires 2026-11-22T10:58:00.000Z`)
    expect(lockLine({environment: 'staging', lock: {...lock, ciJob: undefined}})).to.equal(
      'staging is locked by octocat@runner-1 since 2026-11-22T09:58:00.000Z (migration); expires 2026-11-22T10:58:00.000Z',
    )
  })
})

describe('a lock still held when --wait-for-lock runs out', () => {
  const held = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {name: 'skycap-lock-shop', resourceVersion: '7', annotations: {'skycap.dev/reason': 'deploy staging@abc1234', 'skycap.dev/lock-id': 'other'}},
    spec: {holderIdentity: 'ana@ci-7', leaseDurationSeconds: 60, acquireTime: '2026-11-22T09:59:50.000000Z', renewTime: '2026-11-22T09:59:50.000000Z'},
  }
  const runner: ProcessRunner = async (_file, argv) =>
    argv.includes('create') ? {exitCode: 1, stdout: '', stderr: 'Error from server (AlreadyExists): already exists'} : {exitCode: 0, stdout: JSON.stringify(held), stderr: ''}

  /** The hint after waiting `waitMs` (a clock that the sleeps move on; the lease is renewed meanwhile, never expires). */
  async function hintAfter(waitMs: number, waitFlag?: boolean, onWait?: (message: string) => void): Promise<string | undefined> {
    let now = Date.parse('2026-11-22T10:00:00Z')
    const kubectl = new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, context: 'c', namespace: 'n'})
    const clock = () => now
    held.spec.renewTime = '2026-11-22T09:59:50.000000Z'
    const sleep = async (ms: number) => {
      now += ms
      held.spec.renewTime = new Date(now).toISOString().replace('Z', '000Z')
    }
    const error = (await acquireLock(kubectl, {app: 'shop', environment: 'staging', reason: 'deploy', durationSeconds: 60, waitMs, clock, sleep, waitFlag, onWait}).catch(
      (e: unknown) => e,
    )) as LockedError
    expect(error).to.be.instanceOf(LockedError)
    return error.hint
  }

  it('suggests a longer wait than the one given, never the same 10m again', async () => {
    expect(await hintAfter(3_000)).to.match(
      /^It was still held after --wait-for-lock 3s: wait longer \(--wait-for-lock 10m\), or, if its holder is gone or done with it: skycap lock release staging --force\./,
    )
    expect(await hintAfter(10 * 60_000)).to.match(/^It was still held after --wait-for-lock 10m: wait longer \(--wait-for-lock 20m\), /)
    expect(await hintAfter(45 * 60_000)).to.match(/^It was still held after --wait-for-lock 45m: wait longer \(--wait-for-lock 1h30m\), /)
  })

  it('says once that it waits, naming the holder and how long it will wait (a silent wait looks like a hang)', async () => {
    const said: string[] = []
    await hintAfter(30_000, undefined, (m) => said.push(m))
    expect(said).to.deep.equal(['staging is locked by ana@ci-7 since 2026-11-22T09:59:50.000Z (deploy staging@abc1234); waiting for it (up to 30s more)'])
    const none: string[] = []
    await hintAfter(0, undefined, (m) => none.push(m))
    expect(none, 'no wait, nothing said: the error says it').to.deep.equal([])
  })

  it('without --wait-for-lock, suggests waiting', async () => {
    expect(await hintAfter(0)).to.match(/^Wait for it \(--wait-for-lock 10m\), or, if its holder is gone or done with it: /)
  })

  it('for a command without --wait-for-lock (lock acquire, run --lock), names no such flag', async () => {
    const hint = await hintAfter(0, false)
    expect(hint).to.match(/^Try again once it is released \(`skycap lock status staging` shows it\), or, if its holder is gone or done with it: skycap lock release staging --force\./)
    expect(hint).not.to.contain('--wait-for-lock')
  })

  it('durations are written as the flag takes them', () => {
    expect([1, 999, 3_000, 90_000, 600_000, 3_600_000, 5_400_000, 3_661_000].map(durationText)).to.deep.equal(['1s', '1s', '3s', '1m30s', '10m', '1h', '1h30m', '1h1m1s'])
  })
})
