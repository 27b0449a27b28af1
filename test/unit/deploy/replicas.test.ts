import {expect} from 'chai'

import type {Environment} from '../../../src/config/types.js'
import {keepScaledReplicas, keptReplicasNote, liveDeployments, replacedReplicasNote} from '../../../src/deploy/replicas.js'
import type {ReleaseRecord, StoredRelease} from '../../../src/release/store.js'
import type {PreparedRelease} from '../../../src/render/prepare.js'
import type {KubeObject} from '../../../src/render/objects.js'
import {fakeKubectl} from '../../helpers/fake-kubectl.js'

describe('deploy: replica counts it changes', () => {
  const deployment = (name: string, replicas: number): KubeObject => ({apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name}, spec: {replicas}})
  const prepared = {objects: ['web', 'api', 'shop'].map((s) => ({object: deployment(s, 1), service: s}))} as unknown as PreparedRelease
  const env = {services: {web: {}, api: {}, shop: {strategy: {type: 'canary'}}}} as unknown as Environment

  it("says a running count the deploy replaces (a scaled count a changed replicas: or --reset-replicas overrides); not a count it keeps, nor a canary's", () => {
    const placed = [deployment('web', 3), deployment('api', 2), deployment('shop', 5)]
    const live = new Map([
      ['web', 4],
      ['api', 2],
      ['shop', 1],
    ])
    expect(replacedReplicasNote(prepared, env, placed, live, false)).to.equal("Changing the running replica counts: web 4 → 3 (skycap.yaml's replicas changed)")
    expect(replacedReplicasNote(prepared, env, placed, live, true)).to.equal('Changing the running replica counts: web 4 → 3 (--reset-replicas: skycap.yaml)')
    expect(replacedReplicasNote(prepared, env, placed, new Map([['api', 2]]), false)).to.equal(undefined)
  })
  it('a blue-green service is said too (a failed deploy left it unsaid): its count is that of the slot the deploy brings up, from the larger live slot', () => {
    const bg = {services: {web: {strategy: {type: 'blueGreen'}}, api: {}, shop: {strategy: {type: 'canary'}}}} as unknown as Environment
    const placed = [deployment('web', 1), deployment('api', 1), deployment('shop', 1)]
    const live = new Map([
      ['web-blue', 0],
      ['web-green', 4],
      ['api', 3],
      ['shop', 5],
    ])
    expect(replacedReplicasNote(prepared, bg, placed, live, false)).to.equal(
      "Changing the running replica counts: web 4 → 1 (on the blue-green slot this deploy brings up), api 3 → 1 (skycap.yaml's replicas changed)",
    )
    expect(replacedReplicasNote(prepared, bg, [deployment('web', 4), deployment('api', 3), deployment('shop', 1)], live, false)).to.equal(undefined)
  })
  it('a blue-green service beside a Deployment left by a switch from rolling that failed after the switch: the slot its Service selects decides (the leftover’s 2 replaced the scaled 3, unsaid)', async () => {
    // One kubectl call reads the counts and the slot each Service selects.
    const selector = 'app.kubernetes.io/part-of=shop'
    const slotted = (name: string, slot?: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {name},
      spec: {selector: {'app.kubernetes.io/name': name, ...(slot ? {'skycap.dev/slot': slot} : {})}},
    })
    const {kubectl} = fakeKubectl([
      {
        argv: ['--request-timeout=30s', 'get', 'deployments,services', '-l', selector, '-o', 'json'],
        result: {stdout: JSON.stringify({items: [deployment('api', 2), deployment('api-blue', 3), deployment('web', 1), slotted('api', 'blue'), slotted('web')]})},
      },
    ])
    const live = await liveDeployments(kubectl, selector)
    expect([...live]).to.deep.equal([
      ['api', 2],
      ['api-blue', 3],
      ['web', 1],
    ])
    expect([...(live.serving ?? [])]).to.deep.equal([['api', 'blue']])
    const bg = {services: {api: {replicas: 2, strategy: {type: 'blueGreen'}}, web: {}}} as unknown as Environment
    const apiOnly = {objects: [{object: deployment('api', 2), service: 'api'}]} as unknown as PreparedRelease
    const ran = [{record: {number: 1, action: 'deploy', result: 'succeeded', configuredReplicas: {api: 2, web: 1}} as unknown as ReleaseRecord}] as StoredRelease[]
    const placed = keepScaledReplicas(apiOnly, bg, ran, live, false)
    expect((placed[0]?.spec as {replicas: number}).replicas).to.equal(3)
    expect(keptReplicasNote(apiOnly, bg, placed)).to.equal("Keeping the live replica counts: api 3 (skycap.yaml says 2), as scaled (or set by an HPA); --reset-replicas applies skycap.yaml's")
    expect(replacedReplicasNote(apiOnly, bg, placed, live, false)).to.equal(undefined)
    // A count that goes down is said from the serving slot's.
    const reset = keepScaledReplicas(apiOnly, bg, ran, live, true)
    expect(replacedReplicasNote(apiOnly, bg, reset, live, true)).to.equal(
      'Changing the running replica counts: api 3 → 2 (on the blue-green slot this deploy brings up) (--reset-replicas: skycap.yaml)',
    )
    // A switch that failed before the Service selected a slot: the Deployment named after the service still serves.
    const unswitched = Object.assign(new Map(live), {serving: new Map()})
    expect((keepScaledReplicas(apiOnly, bg, ran, unswitched, false)[0]?.spec as {replicas: number}).replicas).to.equal(2)
  })
  describe('after a rollback, which recorded the counts of the release it returned to', () => {
    const record = (number: number, action: ReleaseRecord['action'], configured: Record<string, number>, extra: Partial<ReleaseRecord> = {}) =>
      ({record: {number, action, result: 'succeeded', configuredReplicas: configured, ...extra} as unknown as ReleaseRecord}) as StoredRelease
    // skycap.yaml has said worker 3 since release 5; release 4 said 1. web stays 2 throughout.
    const deploys = [record(5, 'deploy', {web: 2, worker: 3}), record(4, 'deploy', {web: 2, worker: 1})]
    const rollback = (extra: Partial<ReleaseRecord> = {}) => record(7, 'rollback', {web: 2, worker: 1}, {rolledBackTo: 4, rolledBackFrom: 5, ...extra})
    const scale = (number: number, service: string, from: number, to: number) => record(number, 'scale', {}, {scale: {service, from, to}})
    const work = (worker: number) => ({services: {web: {replicas: 2}, worker: {replicas: worker}}}) as unknown as Environment
    const rendered = (worker: number) => ({objects: [deployment('web', 2), deployment('worker', worker)].map((object) => ({object, service: object.metadata.name}))}) as unknown as PreparedRelease
    const counts = (objects: KubeObject[]) => Object.fromEntries(objects.map((o) => [o.metadata.name, (o.spec as {replicas: number}).replicas]))

    it('a scale the rollback kept, or one since, stays while skycap.yaml says what the last deploy did (a roll-forward said `worker 8 → 3 (skycap.yaml’s replicas changed)` and undid it)', () => {
      const live = new Map([
        ['web', 4],
        ['worker', 8],
      ])
      for (const history of [
        // `skycap scale worker 8` before the rollback, which kept it (and web's 4).
        [rollback({keptReplicas: {web: 4, worker: 8}}), scale(6, 'worker', 3, 8), ...deploys],
        // A rollback --reset-replicas, then `skycap scale worker 8` and `skycap scale web 4` after it.
        [scale(9, 'web', 2, 4), scale(8, 'worker', 1, 8), rollback(), ...deploys],
      ]) {
        const placed = keepScaledReplicas(rendered(3), work(3), history, live, false)
        expect(counts(placed), JSON.stringify(history.map((r) => r.record.number))).to.deep.equal({web: 4, worker: 8})
        expect(replacedReplicasNote(rendered(3), work(3), placed, live, false, history)).to.equal(undefined)
        expect(keptReplicasNote(rendered(3), work(3), placed)).to.equal(
          "Keeping the live replica counts: web 4 (skycap.yaml says 2), worker 8 (skycap.yaml says 3), as scaled (or set by an HPA); --reset-replicas applies skycap.yaml's",
        )
        // skycap.yaml changed since the last deploy: its count replaces the scale, said so.
        const changed = keepScaledReplicas(rendered(5), work(5), history, live, false)
        expect(counts(changed)).to.deep.equal({web: 4, worker: 5})
        expect(replacedReplicasNote(rendered(5), work(5), changed, live, false, history)).to.equal("Changing the running replica counts: worker 8 → 5 (skycap.yaml's replicas changed)")
      }
    })

    it('a count the rollback set from the release it returned to is replaced by skycap.yaml’s, said as such (not as a change of skycap.yaml); one changed since is said as a change', () => {
      const live = new Map([
        ['web', 2],
        ['worker', 1],
      ])
      const history = [rollback(), ...deploys]
      const placed = keepScaledReplicas(rendered(3), work(3), history, live, false)
      expect(counts(placed)).to.deep.equal({web: 2, worker: 3})
      expect(replacedReplicasNote(rendered(3), work(3), placed, live, false, history)).to.equal(
        "Changing the running replica counts: worker 1 → 3 (skycap.yaml's replicas; the rollback to release 4 ran that release's)",
      )
      // web's skycap.yaml count changed too: two services, each with its reason.
      const both = {services: {web: {replicas: 1}, worker: {replicas: 3}}} as unknown as Environment
      const web1 = {objects: [deployment('web', 1), deployment('worker', 3)].map((object) => ({object, service: object.metadata.name}))} as unknown as PreparedRelease
      const placedBoth = keepScaledReplicas(web1, both, history, live, false)
      expect(replacedReplicasNote(web1, both, placedBoth, live, false, history)).to.equal(
        "Changing the running replica counts: web 2 → 1 (skycap.yaml's replicas changed); worker 1 → 3 (skycap.yaml's replicas; the rollback to release 4 ran that release's)",
      )
    })
  })
  describe("a template's Deployment (not a service of skycap.yaml)", () => {
    const hpa = (name: string): KubeObject => ({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: {name},
      spec: {scaleTargetRef: {apiVersion: 'apps/v1', kind: 'Deployment', name}},
    })
    const unset: KubeObject = {apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'cron'}, spec: {}}
    const templated = {
      objects: [
        {object: deployment('web', 1), service: 'web'},
        {object: deployment('api', 2), source: 'deploy/api.yaml'},
        {object: hpa('api'), source: 'deploy/api.yaml'},
        {object: deployment('admin', 2), source: 'deploy/admin.yaml'},
        {object: unset, source: 'deploy/cron.yaml'},
      ],
    } as unknown as PreparedRelease
    const plain = {services: {web: {}}} as unknown as Environment
    const live = new Map([
      ['web', 1],
      ['api', 4],
      ['admin', 3],
      ['cron', 5],
    ])

    it('keeps its live count when a rendered HPA scales it, and says so with its template', () => {
      const placed = keepScaledReplicas(templated, plain, [], live, false)
      const count = (name: string) => (placed.find((o) => o.kind === 'Deployment' && o.metadata.name === name)?.spec as {replicas?: number}).replicas
      expect([count('web'), count('api'), count('admin'), count('cron')]).to.deep.equal([1, 4, 2, undefined])
      expect(keptReplicasNote(templated, plain, placed)).to.equal(
        "Keeping the live replica counts: api 4 (deploy/api.yaml says 2), as scaled (or set by an HPA); --reset-replicas applies skycap.yaml's",
      )
    })
    it("says a count changed by hand that its template's replicas replace; not one the template does not set", () => {
      const placed = keepScaledReplicas(templated, plain, [], live, false)
      expect(replacedReplicasNote(templated, plain, placed, live, false)).to.equal("Changing the running replica counts: admin 3 → 2 (deploy/admin.yaml's replicas)")
      const scaledWeb = new Map([...live, ['web', 3]])
      expect(replacedReplicasNote(templated, plain, keepScaledReplicas(templated, plain, [], scaledWeb, true), scaledWeb, true)).to.equal(
        "Changing the running replica counts: web 3 → 1 (--reset-replicas: skycap.yaml); admin 3 → 2 (deploy/admin.yaml's replicas)",
      )
    })
  })
})
