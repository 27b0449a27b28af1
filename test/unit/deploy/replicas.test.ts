import {expect} from 'chai'

import type {Environment} from '../../../src/config/types.js'
import {keepScaledReplicas, keptReplicasNote, replacedReplicasNote} from '../../../src/deploy/replicas.js'
import type {PreparedRelease} from '../../../src/render/prepare.js'
import type {KubeObject} from '../../../src/render/objects.js'

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
