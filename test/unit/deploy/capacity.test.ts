import {expect} from 'chai'

import {withReplicas} from '../../../src/deploy/deploy.js'
import {capacity} from '../../../src/deploy/rollback.js'
import type {KubeObject} from '../../../src/render/objects.js'

const deployment = (name: string, replicas: number, labels: Record<string, string> = {}): KubeObject => ({apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name, labels}, spec: {replicas}})
const replicas = (objects: KubeObject[]) => Object.fromEntries(objects.map((o) => [o.metadata.name, (o.spec as {replicas: number}).replicas]))

// A rollback keeps the live replica counts (unless --reset-replicas): what it reports and records must be the count
// that runs afterwards.
describe('rollback: the live replica counts kept', () => {
  it('keeps a scaled count, and leaves one equal to the release as it is', () => {
    const {objects, kept} = capacity(
      [deployment('web', 2), deployment('worker', 1)],
      new Map([
        ['web', 5],
        ['worker', 1],
      ]),
      false,
    )
    expect(kept).to.deep.equal({web: 5})
    expect(replicas(objects)).to.deep.equal({web: 5, worker: 1})
    expect(capacity([deployment('web', 2)], new Map([['web', 5]]), true).kept, '--reset-replicas').to.deep.equal({})
  })

  it('a blue-green slot scaled to zero after its delay comes back at the size of the slot serving now, and says so', () => {
    const blue = deployment('web-blue', 1, {'skycap.dev/slot': 'blue'})
    const {objects, kept} = capacity(
      [blue],
      new Map([
        ['web-blue', 0],
        ['web-green', 3],
      ]),
      false,
    )
    expect(kept).to.deep.equal({'web-blue': 3})
    expect(replicas(objects)).to.deep.equal({'web-blue': 3})
    // Nothing serving on the other slot either: the live zero is what there is.
    expect(capacity([blue], new Map([['web-blue', 0]]), false).kept).to.deep.equal({'web-blue': 0})
  })
})

// The automatic rollback re-applies the last good release with the counts that ran before the deploy (withReplicas).
describe('automatic rollback: the replica counts', () => {
  it('a blue-green slot scaled to zero, or recorded at zero, comes back at the size of the slot serving now', () => {
    const blue = (n: number) => deployment('web-blue', n, {'skycap.dev/slot': 'blue'})
    const serving = new Map([
      ['web-blue', 0],
      ['web-green', 2],
    ])
    expect(replicas(withReplicas([blue(2)], serving))).to.deep.equal({'web-blue': 2})
    expect(replicas(withReplicas([blue(0)], new Map([['web-green', 2]]))), 'the slot no longer exists').to.deep.equal({'web-blue': 2})
    // Nothing serves on the other slot either, and other Deployments keep their live counts, zero included.
    expect(replicas(withReplicas([blue(2)], new Map([['web-blue', 0]])))).to.deep.equal({'web-blue': 0})
    expect(replicas(withReplicas([deployment('worker', 1)], new Map([['worker', 0]])))).to.deep.equal({worker: 0})
  })
})
