import {expect} from 'chai'

import {withReplicas} from '../../../src/deploy/deploy.js'
import {asPlaced, capacity, keptCountsNote, placedSlots, restoredCountsNote, undoneOf} from '../../../src/deploy/rollback.js'
import {Kubectl, type ProcessRunner} from '../../../src/kubectl/kubectl.js'
import type {ReleaseRecord, StoredRelease} from '../../../src/release/store.js'
import type {KubeObject} from '../../../src/render/objects.js'
import {placedRelease} from '../../../src/strategies/rollout.js'
import {STRATEGY_ANNOTATION, TEMPLATE_ANNOTATION} from '../../../src/strategies/strategy.js'

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

  it('during scaleDownDelay, after `skycap scale` of the serving slots, the slots kept for the rollback come back at the serving counts (they came back at their own, and the switch cut api from 6 pods to 4)', () => {
    // api-green and web-green ran release 2 at 4 and 2, kept for an instant rollback; blue serves release 3, scaled.
    const recorded = [deployment('api-green', 4, {'skycap.dev/slot': 'green'}), deployment('web-green', 2, {'skycap.dev/slot': 'green'}), deployment('worker', 1)]
    const counts = (pairs: Array<[string, number]>, serving: Array<[string, 'blue' | 'green']>) => Object.assign(new Map(pairs), {serving: new Map(serving)})
    const live = counts(
      [
        ['api-blue', 6],
        ['api-green', 4],
        ['web-blue', 5],
        ['web-green', 2],
        ['worker', 1],
      ],
      [
        ['api', 'blue'],
        ['web', 'blue'],
      ],
    )
    const {objects, kept} = capacity(recorded, live, false)
    expect(replicas(objects)).to.deep.equal({'api-green': 6, 'web-green': 5, worker: 1})
    expect(kept).to.deep.equal({'api-green': 6, 'web-green': 5})
    expect(keptCountsNote(kept, recorded, 2)).to.equal("Keeping the live replica counts: api-green 6 (release 2 had 4), web-green 5 (release 2 had 2); --reset-replicas restores the release's")
    // Scaled down during the delay: the serving count still decides (not the larger slot, the one kept).
    const lowered = counts(
      [
        ['api-blue', 2],
        ['api-green', 4],
      ],
      [['api', 'blue']],
    )
    expect(capacity([recorded[0] as KubeObject], lowered, false).kept).to.deep.equal({'api-green': 2})
    // --reset-replicas restores the release's counts.
    expect(replicas(capacity(recorded, live, true).objects)).to.deep.equal({'api-green': 4, 'web-green': 2, worker: 1})
  })
})

describe('rollback: a count the release that runs set from its skycap.yaml is undone with it', () => {
  const record = (number: number, action: ReleaseRecord['action'], result: ReleaseRecord['result'], configured: Record<string, number>, extra: Partial<ReleaseRecord> = {}) =>
    ({record: {number, action, result, configuredReplicas: configured, ...extra} as ReleaseRecord}) as StoredRelease
  const web = (n: number) => deployment('web', n, {'app.kubernetes.io/name': 'web'})
  const worker = (n: number) => deployment('worker', n, {'app.kubernetes.io/name': 'worker'})

  it('a failed --no-rollback deploy whose replicas: 1 replaced web’s 3: the rollback restores 3 (it kept 1), and says so', () => {
    // Release 1 ran web at 3 (skycap.yaml said 3); release 2 said 1, applied it, and failed without a rollback.
    const history = [record(2, 'deploy', 'failed', {web: 1, worker: 1}), record(1, 'deploy', 'succeeded', {web: 3, worker: 1})]
    const undone = undoneOf(history, history[1]!.record)
    const {objects, kept, restored} = capacity(
      [web(3), worker(1)],
      new Map([
        ['web', 1],
        ['worker', 2],
      ]),
      false,
      undone,
    )
    expect(replicas(objects)).to.deep.equal({web: 3, worker: 2})
    expect(restored).to.deep.equal({web: 1})
    // worker's 2 was not the failed release's (it said 1): a scale, kept.
    expect(kept).to.deep.equal({worker: 2})
    expect(restoredCountsNote(restored, objects, 2)).to.equal('Restoring the replica counts release 2 set from its skycap.yaml: web 1 → 3')
  })

  it('a scale between the release returned to and the failed one is what ran before it; a scale since the failed one, or no change of skycap.yaml, is kept', () => {
    const scale = (number: number, service: string, from: number, to: number) => record(number, 'scale', 'succeeded', {}, {scale: {service, from, to}})
    // 1 said web 2, then `skycap scale web 4` (2), then 3 said web 1 and failed.
    let history = [record(3, 'deploy', 'failed', {web: 1}), scale(2, 'web', 2, 4), record(1, 'deploy', 'succeeded', {web: 2})]
    let result = capacity([web(2)], new Map([['web', 1]]), false, undoneOf(history, history[2]!.record))
    expect(replicas(result.objects)).to.deep.equal({web: 4})
    expect(result.restored).to.deep.equal({web: 1})
    // `skycap scale web 1` after the failed deploy: the operator's count, kept.
    history = [scale(4, 'web', 1, 1), ...history]
    result = capacity([web(2)], new Map([['web', 1]]), false, undoneOf(history, history[3]!.record))
    expect([replicas(result.objects), result.kept, result.restored]).to.deep.equal([{web: 1}, {web: 1}, {}])
    // The failed release said what the one returned to said: its count is no change of skycap.yaml; the live one is kept.
    history = [record(2, 'deploy', 'failed', {web: 1}), record(1, 'deploy', 'succeeded', {web: 1})]
    result = capacity([web(1)], new Map([['web', 3]]), false, undoneOf(history, history[1]!.record))
    expect([result.kept, result.restored]).to.deep.equal([{web: 3}, {}])
    // A deploy a predeploy hook stopped applied nothing: the release before it is the one that runs.
    history = [
      record(3, 'deploy', 'failed', {web: 1}, {hooks: [{phase: 'predeploy', result: 'failed'}]} as Partial<ReleaseRecord>),
      record(2, 'deploy', 'succeeded', {web: 1}),
      record(1, 'deploy', 'succeeded', {web: 1}),
    ]
    result = capacity([web(1)], new Map([['web', 1]]), false, undoneOf(history, history[2]!.record))
    expect([result.kept, result.restored]).to.deep.equal([{}, {}])
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

// A blue-green release recorded in one slot goes to the other when the recorded slot serves and runs another release
// (slots shifted by hand, a stale state): the count kept is said and recorded under the Deployment placed.
describe('rollback: a kept count of a blue-green slot placed elsewhere than recorded', () => {
  const slotLabels = (slot: string) => ({'app.kubernetes.io/name': 'web', 'skycap.dev/slot': slot})
  /** web's Deployment in `slot` running `image`, as recorded or live (template hash `hash`), and its Service selecting `serving`. */
  const slotDeployment = (slot: string, image: string, replicas: number): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name: `web-${slot}`, labels: slotLabels(slot), annotations: {[STRATEGY_ANNOTATION]: JSON.stringify({type: 'blueGreen'})}},
    spec: {replicas, selector: {matchLabels: slotLabels(slot)}, template: {metadata: {labels: slotLabels(slot)}, spec: {containers: [{name: 'web', image}]}}},
  })
  const webService = (slot: string): KubeObject => ({apiVersion: 'v1', kind: 'Service', metadata: {name: 'web', labels: {'app.kubernetes.io/name': 'web'}}, spec: {selector: slotLabels(slot)}})
  const withHash = (o: KubeObject, hash: string): KubeObject => ({...o, metadata: {...o.metadata, annotations: {...o.metadata.annotations, [TEMPLATE_ANNOTATION]: hash}}})
  /** A kubectl whose one answer is the app's live Deployments and Services. */
  const liveCluster = (items: KubeObject[]) => {
    const runner: ProcessRunner = async () => ({exitCode: 0, stdout: JSON.stringify({items}), stderr: ''})
    return new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, context: 'c', namespace: 'n'})
  }

  it('release 1 recorded in web-blue, while web-blue serves release 3 (shifted back by hand) at 3: the rollback places web-green, and says and records web-green 3', async () => {
    const recorded = [withHash(slotDeployment('blue', 'web:1', 2), 'release-1'), webService('blue')]
    const live = [withHash(slotDeployment('blue', 'web:3', 3), 'release-3'), withHash(slotDeployment('green', 'web:4', 0), 'release-4'), webService('blue')]
    const {objects, kept} = capacity(
      recorded,
      new Map([
        ['web-blue', 3],
        ['web-green', 0],
      ]),
      false,
    )
    expect(kept).to.deep.equal({'web-blue': 3})
    const placed = await placedRelease(liveCluster(live), objects, undefined, 'a=b')
    expect(placed.objects.filter((o) => o.kind === 'Deployment').map((o) => `${o.metadata.name} ${(o.spec as {replicas: number}).replicas}`)).to.deep.equal(['web-green 3'])
    const moved = placedSlots(objects, placed.objects)
    expect([...moved]).to.deep.equal([['web-blue', 'web-green']])
    // It said `web-blue 3` and recorded `web-blue=3`, while it placed web-green and scaled web-blue to 0 after the switch.
    expect(keptCountsNote(kept, recorded, 1, moved)).to.equal("Keeping the live replica counts: web-green 3 (release 1 had 2); --reset-replicas restores the release's")
    expect(asPlaced(kept, moved)).to.deep.equal({'web-green': 3})
    expect(restoredCountsNote({'web-blue': 3}, objects, 5, moved)).to.equal('Restoring the replica counts release 5 set from its skycap.yaml: web-green 3 → 3')
  })

  it('a release placed in the slot it was recorded in keeps its name; a rolling Deployment is never renamed', async () => {
    const recorded = [withHash(slotDeployment('blue', 'web:1', 2), 'release-1'), webService('blue'), deployment('worker', 1)]
    // green serves release 2: release 1 goes back to blue, where it was recorded.
    const live = [withHash(slotDeployment('blue', 'web:1', 0), 'release-1'), withHash(slotDeployment('green', 'web:2', 3), 'release-2'), webService('green'), deployment('worker', 4)]
    const {objects, kept} = capacity(
      recorded,
      new Map([
        ['web-blue', 0],
        ['web-green', 3],
        ['worker', 4],
      ]),
      false,
    )
    const moved = placedSlots(objects, (await placedRelease(liveCluster(live), objects, undefined, 'a=b')).objects)
    expect(moved.size).to.equal(0)
    expect(asPlaced(kept, moved)).to.deep.equal({'web-blue': 3, worker: 4})
    expect(keptCountsNote(kept, recorded, 1, moved)).to.equal("Keeping the live replica counts: web-blue 3 (release 1 had 2), worker 4 (release 1 had 1); --reset-replicas restores the release's")
  })
})
