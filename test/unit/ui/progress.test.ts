import {expect} from 'chai'

import {listrRolloutView} from '../../../src/ui/progress.js'
import type {ResourceStatus} from '../../../src/resources/status.js'

const status = (ref: string, state: ResourceStatus['state'], message: string): ResourceStatus => ({ref, state, message, related: [], failing: []})

/** Resolves with `p`'s outcome, or with "still waiting" after `ms` (a hang detector, not a timing assertion). */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined
  const waited = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still waiting'), ms)))
  const outcome = await Promise.race([p.then(() => 'finished'), waited])
  clearTimeout(timer)
  return outcome
}

describe('listr2 rollout view', () => {
  // A redeploy whose objects are all ready at the first poll reports before listr2 has started a task.
  it('finishes when every resource was settled before listr2 ran its tasks', async () => {
    const view = await listrRolloutView('Waiting', ['Deployment/web', 'Deployment/worker'])
    view.update([status('Deployment/web', 'ready', '2/2 ready'), status('Deployment/worker', 'failed', 'crash')])
    expect(await settledWithin(view.finish(), 10_000)).to.equal('finished')
  })

  it('finishes when it stops before a resource was reported', async () => {
    const view = await listrRolloutView('Waiting', ['Deployment/web'])
    expect(await settledWithin(view.finish(), 10_000)).to.equal('finished')
  })

  // listr2's own SIGINT handler ends the process with 127 once its tasks settle (listr2 11: after they settle; 9: at
  // once), before the command's handler has released the lock and exited 130 (commands/_base.ts abortOnSignals).
  it('leaves Ctrl-C to the command: it adds no SIGINT or SIGTERM listener of its own', async () => {
    const before = {SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM')}
    const view = await listrRolloutView('Waiting', ['Deployment/web', 'Deployment/worker'])
    const added = (signal: 'SIGINT' | 'SIGTERM') => process.listeners(signal).filter((l) => !before[signal].includes(l)).length
    try {
      expect({SIGINT: added('SIGINT'), SIGTERM: added('SIGTERM')}).to.deep.equal({SIGINT: 0, SIGTERM: 0})
    } finally {
      await view.finish()
    }
  })
})
