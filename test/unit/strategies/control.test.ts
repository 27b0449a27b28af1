import {expect} from 'chai'
import {join} from 'node:path'

import {SkycapError} from '../../../src/errors.js'
import {Kubectl, type ProcessRunner} from '../../../src/kubectl/kubectl.js'
import {requestRollout} from '../../../src/strategies/control.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {TempRepo} from '../../helpers/repo.js'

/**
 * The rollout state ConfigMap and the lock as the API server keeps them, for a promote that meets an abort another
 * command runs: the lock is held by that command, which takes the requests and returns the canaries to stable.
 */
function cluster(timeline: (reads: number, data: Record<string, string>) => void, services = ['web']) {
  const data: Record<string, string> = Object.fromEntries(
    services.map((service) => [service, JSON.stringify({type: 'canary', release: 3, phase: 'paused', step: 1, steps: 2, weight: 50, startedBy: 'a', startedAt: 't', updatedAt: 't', unit: {service}})]),
  )
  let reads = 0
  const now = new Date().toISOString()
  const lease = {
    metadata: {name: 'skycap-lock-itapp', annotations: {'skycap.dev/reason': 'rollout resume test'}},
    spec: {holderIdentity: 'abort@elsewhere', leaseDurationSeconds: 60, acquireTime: now, renewTime: now},
  }
  const runner: ProcessRunner = async (_file, argv) => {
    const args = argv.filter((a, i) => !['--context', '--namespace'].includes(a) && !['--context', '--namespace'].includes(argv[i - 1] ?? '') && !a.startsWith('--request-timeout'))
    if (args[0] === 'get' && args[1] === 'configmap') {
      const shown = JSON.stringify({data})
      if (Object.keys(data).some((key) => key.endsWith('.request')) || reads > 0) timeline(++reads, data)
      return {exitCode: 0, stdout: shown, stderr: ''}
    }
    if (args[0] === 'patch' && args[1] === 'configmap') {
      for (const [key, value] of Object.entries((JSON.parse(args.at(-1) as string) as {data: Record<string, string | null>}).data)) {
        if (value === null) delete data[key]
        else data[key] = value
      }
      return {exitCode: 0, stdout: '', stderr: ''}
    }
    if (args[0] === 'get' && args[1] === 'lease') return {exitCode: 0, stdout: JSON.stringify(lease), stderr: ''}
    return {exitCode: 1, stdout: '', stderr: `unexpected: ${args.join(' ')}`}
  }
  return {data, factory: (options: {context?: string; namespace?: string}) => new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, ...options})}
}

describe('promote while another command runs an abort of the same canary', function () {
  this.timeout(20_000)
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.clusterApp('kind-x', 'shop')
  })
  afterEach(() => repo.remove())

  it('waits while the abort brings stable back (request taken, phase not yet aborted) and says the promote was not done; it said "promoted"', async () => {
    const state = (data: Record<string, string>) => JSON.parse(data.web as string) as Record<string, unknown>
    const {data, factory} = cluster((reads, d) => {
      // The holder takes the request and begins its abort; the phase changes only once stable is back, polls later.
      if (reads === 1) {
        delete d['web.request']
        d.web = JSON.stringify({...state(d), aborting: {ref: 'abort web', message: 'aborted by skycap abort during the pause at step 2'}})
      }
      if (reads === 4) {
        const {aborting: _aborting, ...rest} = state(d)
        d.web = JSON.stringify({...rest, phase: 'aborted', weight: 0})
      }
    })
    const reporter = memoryReporter()
    const error = await requestRollout('promote', {environment: 'test', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: factory, reporter}).then(
      (r) => new Error(`it reported ${JSON.stringify(r)}`),
      (e: Error) => e,
    )
    expect(error, error.message).to.be.instanceOf(SkycapError)
    expect(error.message).to.equal('the promote of web in test was not done: another request (an abort given at the same time) came first, and the canary was aborted')
    expect(state(data).phase).to.equal('aborted')
  })

  it('a promote of worker while an abort of web (the same release) is under way waits for the release: worker aborted because of it is "not done" (it said "promoted"); each moment of the race', async function () {
    this.timeout(90_000)
    // The deploy takes worker's promote at once; web's abort (asked just before) is read a poll later, and worker is
    // stopped because of it polls after that: the promote's check may come in any of those moments.
    for (const gap of [0, 1, 2]) {
      const json = (d: Record<string, string>, service: string) => JSON.parse(d[service] as string) as Record<string, unknown>
      let at = 0
      const {data, factory} = cluster(
        (reads, d) => {
          if (reads === 1) {
            delete d['worker.request']
            d.worker = JSON.stringify({...json(d, 'worker'), phase: 'progressing', step: 2})
            d['web.request'] = 'abort'
            at = 1
          }
          if (at && reads === at + 1 + gap && d['web.request']) {
            delete d['web.request']
            d.web = JSON.stringify({...json(d, 'web'), aborting: {ref: 'abort web', message: 'aborted by skycap abort during the pause at step 2'}})
          }
          if (at && reads === at + 2 + gap && json(d, 'web').aborting) {
            const {aborting: _a, ...rest} = json(d, 'web')
            d.web = JSON.stringify({...rest, phase: 'aborted', weight: 0, message: 'aborted by skycap abort during the pause at step 2'})
          }
          if (at && reads === at + 3 + gap && json(d, 'worker').phase === 'progressing') {
            const message = 'aborted because web failed (abort web), which fails the release'
            d.worker = JSON.stringify({...json(d, 'worker'), aborting: {ref: 'abort worker', message}})
          }
          if (at && reads === at + 4 + gap && json(d, 'worker').aborting) {
            const {aborting, ...rest} = json(d, 'worker')
            d.worker = JSON.stringify({...rest, phase: 'aborted', weight: 0, message: (aborting as {message: string}).message})
          }
        },
        ['web', 'worker'],
      )
      const error = await requestRollout('promote', {environment: 'test', service: 'worker', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: factory, reporter: memoryReporter()}).then(
        (r) => new Error(`gap ${gap}: it reported ${JSON.stringify(r)}`),
        (e: Error) => e,
      )
      expect(error, error.message).to.be.instanceOf(SkycapError)
      expect(error.message, `gap ${gap}`).to.equal(
        'the promote of worker in test was not done: the canary was aborted after all, back to stable (aborted because web failed (abort web), which fails the release)',
      )
      expect(json(data, 'worker').phase).to.equal('aborted')
    }
  })

  it('an abort that comes as the promotion began: the canary completes, its request is cleared, and the abort says it was not done and how to go back', async () => {
    const state = (data: Record<string, string>) => JSON.parse(data.web as string) as Record<string, unknown>
    const {data, factory} = cluster((reads, d) => {
      // The holder promotes to the end and clears the request left (its last state write).
      if (reads === 1) {
        delete d['web.request']
        d.web = JSON.stringify({...state(d), phase: 'completed', step: 2, weight: 100})
      }
    })
    const error = await requestRollout('abort', {environment: 'test', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: factory, reporter: memoryReporter()}).then(
      (r) => new Error(`it reported ${JSON.stringify(r)}`),
      (e: Error) => e,
    )
    expect(error, error.message).to.be.instanceOf(SkycapError)
    expect(error.message).to.equal('the abort of web in test was not done: the canary was promoted to the end first (its promotion had begun, or a promote given at the same time came first)')
    expect((error as SkycapError).hint).to.equal('`skycap rollback test` returns the release before it; `skycap history test` shows the releases.')
    expect(data).to.not.have.property('web.request')
  })
})
