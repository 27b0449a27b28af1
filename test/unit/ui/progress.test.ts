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
})
