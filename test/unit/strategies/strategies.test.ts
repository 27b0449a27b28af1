import {expect} from 'chai'

import {InterruptedError} from '../../../src/errors.js'
import {Kubectl, type ProcessRunner} from '../../../src/kubectl/kubectl.js'
import {deploymentStatus} from '../../helpers/fake-kubectl.js'
import type {KubeObject} from '../../../src/render/objects.js'
import {blueGreen, replacing} from '../../../src/strategies/blue-green.js'
import {canary, runCanaries, runCanary, setRouteWeights} from '../../../src/strategies/canary.js'
import {runChecks} from '../../../src/strategies/checks.js'
import {placedObjects, refuseSecondRollout, rollOutRelease, SCALE_DOWN_LOCK_WAIT_MS, scaleDownOldSlots} from '../../../src/strategies/rollout.js'
import {markStrategies, missingSlot, missingSlotNote, noSlotNote, serviceUnits, SLOT_LABEL, type StrategyContext, TEMPLATE_ANNOTATION, templateHash} from '../../../src/strategies/strategy.js'
import type {ServiceConfig} from '../../../src/config/types.js'
import type {ReleaseRecord} from '../../../src/release/store.js'
import {followAppliedSlots, forgetLeftBlueGreen, mayHaveBlueGreenState, rolloutSummaries} from '../../../src/strategies/state.js'
import {historyNote} from '../../../src/ui/tables.js'
import {rolloutStatusLines} from '../../../src/ui/rollout.js'
import type {RolloutStatusReport} from '../../../src/strategies/control.js'

const LABELS = {'app.kubernetes.io/name': 'web', 'app.kubernetes.io/instance': 'shop-prod'}

function deployment(image = 'web:2', replicas = 3): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name: 'web', labels: {...LABELS}},
    spec: {replicas, selector: {matchLabels: {...LABELS}}, template: {metadata: {labels: {...LABELS}}, spec: {containers: [{name: 'web', image}]}}},
  }
}
const service: KubeObject = {apiVersion: 'v1', kind: 'Service', metadata: {name: 'web', labels: {...LABELS}}, spec: {selector: {...LABELS}, ports: [{port: 8080}]}}
const svc = (strategy: ServiceConfig['strategy']): Record<string, ServiceConfig> => ({web: {image: 'web', strategy}})

/** `o` as service `name`'s (in `slot`, for a blue-green Deployment and the Service selecting it), as the cluster has it. */
function labelled(o: KubeObject, name: string, slot?: string): KubeObject {
  const labels = {...LABELS, 'app.kubernetes.io/name': name}
  const spec = o.spec as Record<string, unknown>
  const selector = {...labels, ...(slot ? {[SLOT_LABEL]: slot} : {})}
  if (o.kind === 'Service') return {...o, metadata: {name, labels}, spec: {...spec, selector}}
  return {...o, metadata: {name: slot ? `${name}-${slot}` : name, labels, annotations: {[TEMPLATE_ANNOTATION]: 'old'}}, spec: {...spec, selector: {matchLabels: labels}}}
}

/** web and api blue-green, shop a canary of one 50% step. */
const BLUE_GREEN_WEB_API_CANARY_SHOP: Record<string, ServiceConfig> = {
  web: {image: 'web', strategy: {type: 'blueGreen'}},
  api: {image: 'api', strategy: {type: 'blueGreen'}},
  shop: {image: 'shop', strategy: {type: 'canary', steps: [{setWeight: 50}]}},
}
/** What runs of them before the deploy: web and api in blue (release 1), shop's stable Deployment. */
const liveWebApiShop = () => [
  labelled(service, 'web', 'blue'),
  labelled(deployment('web:1'), 'web', 'blue'),
  labelled(service, 'api', 'blue'),
  labelled(deployment('api:1'), 'api', 'blue'),
  labelled(service, 'shop'),
  labelled(deployment('shop:1'), 'shop'),
]

/** The rollout state last written for `service` (a merge patch of the state ConfigMap). */
function lastState(calls: string[][], service: string) {
  return JSON.parse(
    calls
      .filter((c) => c[0] === 'patch' && c[1] === 'configmap')
      .map((c) => JSON.parse(c.at(-1) as string).data[service] as string | undefined)
      .filter(Boolean)
      .at(-1) as string,
  )
}

function unitOf(strategy: ServiceConfig['strategy'], objects = [deployment(), service]) {
  const {units, rest} = serviceUnits(markStrategies(objects, svc(strategy)))
  expect(rest).to.deep.equal([])
  return units[0] as NonNullable<(typeof units)[0]>
}

/** A fake kubectl at the process boundary: answers by a function of the argv (without --context, --namespace, --request-timeout). */
type Answer = {exitCode?: number; stdout?: string; stderr?: string; signal?: string}
function fake(answer: (argv: string[], signal?: AbortSignal) => Answer | Promise<Answer>) {
  const calls: string[][] = []
  const runner: ProcessRunner = async (_file, argv, options) => {
    const args = argv.filter((a, i) => !['--context', '--namespace'].includes(a) && !['--context', '--namespace'].includes(argv[i - 1] ?? '') && !a.startsWith('--request-timeout'))
    calls.push(args)
    const a = await answer(args, options.signal)
    return {exitCode: a.exitCode ?? 0, stdout: a.stdout ?? '', stderr: a.stderr ?? '', ...(a.signal ? {signal: a.signal} : {})}
  }
  return {kubectl: new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, context: 'c', namespace: 'n'}), calls}
}

function context(kubectl: Kubectl, extra: Partial<StrategyContext> = {}): StrategyContext {
  const infos: string[] = []
  return {
    kubectl,
    namespace: 'n',
    app: 'shop',
    environment: 'prod',
    release: 7,
    reporter: {info: (m: string) => infos.push(m), warn: () => undefined} as unknown as StrategyContext['reporter'],
    config: {app: 'shop', services: {}, environments: {}},
    deadline: Date.now() + 60_000,
    clock: Date.now,
    ...extra,
  }
}

/** rollOutRelease's options for a deploy of release 5 of shop to prod, in the fake's context. */
function releaseOf(ctx: StrategyContext, objects: KubeObject[], services: Record<string, ServiceConfig>): Parameters<typeof rollOutRelease>[0] {
  const {kubectl, reporter, config, deadline} = ctx
  return {kubectl, objects, selector: 'a=b', deadline, title: 't', reporter, config, app: 'shop', environment: 'prod', namespace: 'n', release: 5, services, intervalMs: 1}
}

describe('strategies', () => {
  describe('markStrategies', () => {
    it('leaves services without a strategy alone, gives rolling ones their surge, marks blue-green and canary', () => {
      expect(markStrategies([deployment()], {web: {image: 'web'}})[0]).to.deep.equal(deployment())
      const rolling = markStrategies([deployment()], svc({type: 'rolling', maxSurge: '50%', maxUnavailable: 0}))[0] as KubeObject
      expect((rolling.spec as {strategy: unknown}).strategy).to.deep.equal({type: 'RollingUpdate', rollingUpdate: {maxSurge: '50%', maxUnavailable: 0}})
      const bg = markStrategies([deployment()], svc({type: 'blueGreen', preview: true}))[0] as KubeObject
      expect(JSON.parse(bg.metadata.annotations?.['skycap.dev/strategy'] ?? '')).to.deep.equal({type: 'blueGreen', preview: true})
    })
  })

  describe('blueGreen.place', () => {
    const live = (entries: KubeObject[]) => new Map(entries.map((o) => [`${o.kind}/${o.metadata.name}`, o]))
    const liveService = (slot: string) => ({...service, spec: {...(service.spec as object), selector: {...LABELS, [SLOT_LABEL]: slot}}})

    it('a first deploy goes to blue, and the new Service selects it at once', () => {
      const p = blueGreen.place(unitOf({type: 'blueGreen'}), live([]))
      expect(p.slot).to.equal('blue')
      expect(p.first.map((o) => `${o.kind}/${o.metadata.name}`)).to.deep.equal(['Deployment/web-blue', 'Service/web'])
      const d = p.first[0] as KubeObject
      expect((d.spec as {selector: {matchLabels: Record<string, string>}}).selector.matchLabels[SLOT_LABEL]).to.equal('blue')
      expect(d.metadata.annotations?.[TEMPLATE_ANNOTATION]).to.equal(templateHash(markStrategies([deployment()], svc({type: 'blueGreen'}))[0] as KubeObject))
    })

    it('with blue serving, the release goes to green; the Service switches only later, and blue is kept', () => {
      const blue = {...deployment('web:1'), metadata: {name: 'web-blue', labels: LABELS, annotations: {[TEMPLATE_ANNOTATION]: 'old'}}}
      const p = blueGreen.place(unitOf({type: 'blueGreen', preview: true}), live([liveService('blue'), blue]))
      expect([p.slot, p.previousSlot]).to.deep.equal(['green', 'blue'])
      expect(p.first.map((o) => o.metadata.name)).to.deep.equal(['web-green', 'web-preview'])
      expect(p.later.map((o) => [o.metadata.name, (o.spec as {selector: Record<string, string>}).selector[SLOT_LABEL]])).to.deep.equal([
        ['web', 'green'],
        ['web-preview', 'blue'],
      ])
      expect(p.keep.map((o) => o.metadata.name)).to.deep.equal(['web-blue'])
    })

    it('a Service patched by hand to a slot no Deployment has (purple, or a deleted slot): no slot is active, the slot up is the one that served, and the switch says which selector it replaces; twice', () => {
      const at = (name: string, replicas: number) => ({
        ...deployment('web:1'),
        metadata: {name, labels: LABELS, annotations: {[TEMPLATE_ANNOTATION]: 'old'}},
        spec: {...(deployment().spec as object), replicas},
      })
      for (const [selector, objects, slot, previous] of [
        ['purple', [at('web-blue', 0), at('web-green', 2)], 'blue', 'green'],
        ['green', [at('web-blue', 2)], 'blue', undefined],
      ] as const) {
        const p = blueGreen.place(unitOf({type: 'blueGreen'}), live([liveService(selector), ...objects]))
        expect([p.slot, p.previousSlot, p.replacedSelector], selector).to.deep.equal([slot, previous, selector])
        expect(
          p.later.map((o) => [o.metadata.name, (o.spec as {selector: Record<string, string>}).selector[SLOT_LABEL]]),
          selector,
        ).to.deep.equal([['web', slot]])
      }
      // A slot that exists is no hand-set selector.
      expect(blueGreen.place(unitOf({type: 'blueGreen'}), live([liveService('green'), at('web-green', 2)])).replacedSelector).to.equal(undefined)
    })

    it('the switch line of a Service whose selected slot has no Deployment: another slot replaces the hand-set one; the slot it names, brought up, replaces nothing (it said "to blue (replacing skycap.dev/slot=blue, set by hand …)")', () => {
      const line = (selector: string, objects: KubeObject[]) => {
        const p = blueGreen.place(unitOf({type: 'blueGreen'}), live([liveService(selector), ...objects]))
        return `web to ${p.slot}${replacing(p)}`
      }
      // No slot Deployment at all (both deleted, or a first deploy that never made one): the deploy brings up blue.
      expect(line('purple', [])).to.equal('web to blue (replacing skycap.dev/slot=purple, set by hand: no Deployment web-purple existed)')
      expect(line('green', [])).to.equal('web to blue (replacing skycap.dev/slot=green, set by hand: no Deployment web-green existed)')
      expect(line('blue', [])).to.equal('web to blue (Service web selected it while no Deployment web-blue existed: it sent traffic to no pod)')
      expect(line('blue', [deployment('web:1')])).to.equal('web to blue (Service web selected it while no Deployment web-blue existed: it sent traffic to no pod)')
    })

    it('missingSlot, missingSlotNote and noSlotNote: a selector naming a slot no Deployment has is said with the slots that exist and the fixes; one without a slot label is the no-slot case', () => {
      const shown = (args: string) => `kubectl ${args} -n shop --context prod`
      expect(missingSlot(liveService('purple'), ['blue', 'green'])).to.equal('purple')
      expect(missingSlot(liveService('green'), ['blue'])).to.equal('green')
      expect(missingSlot(liveService('green'), ['green'])).to.equal(undefined)
      expect(missingSlot(service, ['blue'])).to.equal(undefined)
      expect(missingSlot(undefined, [])).to.equal(undefined)
      expect(missingSlotNote('web', 'purple', ['blue', 'green'], {deploy: 'skycap deploy prod', assumed: 'green', shown})).to.deep.equal({
        problem: 'Service web selects skycap.dev/slot=purple (set by hand?), a slot with no Deployment web-purple: it sends traffic to no pod (the slots that exist are web-blue and web-green)',
        fix: '`skycap deploy prod` puts it back on the slot it brings up, or `kubectl patch service web -p \'{"spec":{"selector":{"skycap.dev/slot":"green"}}}\' -n shop --context prod` selects web-green again',
      })
      // The state's slot gone too: the one that exists; none: only the deploy.
      expect(missingSlotNote('web', 'green', ['blue'], {deploy: 'skycap deploy prod', assumed: 'green', shown}).fix).to.contain('"skycap.dev/slot":"blue"')
      expect(missingSlotNote('web', 'green', [], {deploy: 'skycap deploy prod', shown})).to.deep.equal({
        problem: 'Service web selects skycap.dev/slot=green (set by hand?), a slot with no Deployment web-green: it sends traffic to no pod (neither web-blue nor web-green exists)',
        fix: '`skycap deploy prod` puts it back on the slot it brings up',
      })
      expect(noSlotNote('web', liveService('purple'), 'green', 'status shows')).to.equal(undefined)
      expect(noSlotNote('web', service, 'green', 'status shows')).to.contain('selects no blue-green slot')
    })

    it('a redeploy of what the serving slot runs keeps the preview on the idle slot (it moved it onto the serving one); with no idle slot, the serving one', () => {
      const unit = unitOf({type: 'blueGreen', preview: true})
      const hash = templateHash(unit.deployment)
      const green = {...deployment(), metadata: {name: 'web-green', labels: LABELS, annotations: {[TEMPLATE_ANNOTATION]: hash}}}
      const blue = {...deployment('web:1'), metadata: {name: 'web-blue', labels: LABELS, annotations: {[TEMPLATE_ANNOTATION]: 'old'}}}
      const selects = (objects: KubeObject[]) => objects.filter((o) => o.kind === 'Service').map((o) => [o.metadata.name, (o.spec as {selector: Record<string, string>}).selector[SLOT_LABEL]])
      const p = blueGreen.place(unit, live([liveService('green'), green, blue]))
      expect([p.slot, p.previousSlot]).to.deep.equal(['green', undefined])
      expect(selects(p.first)).to.deep.equal([['web-preview', 'blue']])
      expect(selects(p.recorded)).to.deep.equal([
        ['web', 'green'],
        ['web-preview', 'blue'],
      ])
      const alone = blueGreen.place(unit, live([liveService('green'), green]))
      expect(selects(alone.recorded)).to.deep.equal([
        ['web', 'green'],
        ['web-preview', 'green'],
      ])
    })

    it('a rollback to the release the idle slot still runs reuses that slot, at the serving size when it was scaled to 0', () => {
      const unit = unitOf({type: 'blueGreen'})
      const hash = templateHash(unit.deployment)
      const green = {...deployment(), metadata: {name: 'web-green', labels: LABELS, annotations: {[TEMPLATE_ANNOTATION]: hash}}, spec: {...(deployment().spec as object), replicas: 0}}
      const blue = {...deployment('web:1', 5), metadata: {name: 'web-blue', labels: LABELS, annotations: {[TEMPLATE_ANNOTATION]: 'other'}}}
      const recorded = {...unit.deployment, spec: {...(unit.deployment.spec as object), replicas: 0}}
      const p = blueGreen.place({...unit, deployment: recorded}, live([liveService('blue'), blue, green]))
      expect(p.slot).to.equal('green')
      expect((p.first[0]?.spec as {replicas: number}).replicas).to.equal(5)
    })
  })

  describe('canary.place', () => {
    it('a first deploy or an unchanged template is a plain apply; otherwise a canary at 0 replicas beside the stable one', () => {
      const unit = unitOf({type: 'canary', steps: [{setWeight: 20}]})
      expect(canary.place(unit, new Map()).later).to.deep.equal([])
      const old = {...deployment('web:1'), metadata: {name: 'web', labels: LABELS, annotations: {[TEMPLATE_ANNOTATION]: 'old'}}}
      const p = canary.place(unit, new Map([['Deployment/web', old]]))
      expect(p.first.map((o) => o.metadata.name)).to.deep.equal(['web-canary', 'web'])
      expect((p.first[0]?.spec as {replicas: number}).replicas).to.equal(0)
      expect(p.first[0]?.metadata.labels?.['skycap.dev/track']).to.equal('canary')
      expect(p.later.map((o) => o.metadata.name)).to.deep.equal(['web'])
    })
  })

  describe('setRouteWeights', () => {
    it('rewrites the rules that send to the service, and only those', async () => {
      const route = {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: {name: 'r'},
        spec: {rules: [{backendRefs: [{name: 'web', port: 8080}]}, {backendRefs: [{name: 'api', port: 80}]}]},
      }
      const {kubectl, calls} = fake((argv) => (argv[0] === 'get' ? {stdout: JSON.stringify(route)} : {}))
      const unit = unitOf({type: 'canary', trafficRouting: {gatewayAPI: {httpRoute: 'r'}}})
      await setRouteWeights(unit, 30, context(kubectl))
      const patch = calls.find((c) => c[0] === 'patch') as string[]
      expect(patch.slice(0, 4)).to.deep.equal(['patch', 'httproutes.gateway.networking.k8s.io', 'r', '--type'])
      expect(JSON.parse(patch.at(-1) as string).spec.rules).to.deep.equal([
        {
          backendRefs: [
            {name: 'web-stable', port: 8080, weight: 70},
            {name: 'web-canary', port: 8080, weight: 30},
          ],
        },
        {backendRefs: [{name: 'api', port: 80}]},
      ])
    })
  })

  describe('runChecks', () => {
    const pod = (restarts = 0, ready = true) => ({metadata: {name: 'web-green-1'}, status: {containerStatuses: [{name: 'web', ready, restartCount: restarts}]}})
    const target = {service: 'web', podSelector: 'a=b', deployment: deployment(), serviceName: 'web', port: 8080}

    it('fails on a restarted pod before any configured check runs', async () => {
      const {kubectl, calls} = fake((argv) => (argv[1] === 'events' ? {stdout: JSON.stringify({items: []})} : argv[0] === 'logs' ? {stdout: ''} : {stdout: JSON.stringify({items: [pod(2)]})}))
      const f = await runChecks([{http: {path: '/'}}], target, context(kubectl))
      expect(f?.message).to.equal('container web of pod web-green-1 restarted 2 times')
      expect(calls.map((c) => c[0]).filter((c) => c !== 'logs' && c !== 'get')).to.deep.equal([])
      expect(
        calls.some((c) => c[1] === '--raw'),
        'no http check ran',
      ).to.equal(false)
    })

    it('a container killed after it was ready (a liveness probe) is reported with its exit, the probe events and its last lines, not as "not ready"', async () => {
      const killed = {
        metadata: {name: 'web-green-1'},
        status: {containerStatuses: [{name: 'web', ready: false, restartCount: 1, lastState: {terminated: {exitCode: 2, reason: 'Error'}}}]},
      }
      const event = {type: 'Warning', reason: 'Unhealthy', message: 'Liveness probe failed: HTTP probe failed with statuscode: 503', count: 3, involvedObject: {kind: 'Pod', name: 'web-green-1'}}
      const {kubectl, calls} = fake((argv) => {
        if (argv[1] === 'events') return {stdout: JSON.stringify({items: [event]})}
        if (argv[0] === 'logs') return {stdout: 'starting\nGET /healthz 503\n'}
        return {stdout: JSON.stringify({items: [killed]})}
      })
      const f = await runChecks([], target, context(kubectl))
      expect(f?.ref).to.equal('check/pods web')
      expect(f?.message).to.equal('container web of pod web-green-1 restarted once (last exit code 2, Error) and is not ready')
      expect(f?.events.map((e) => `${e.reason}: ${e.message}`)).to.deep.equal(['Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 503'])
      expect(calls.find((c) => c[0] === 'logs')).to.include('--previous')
      expect(f?.logs[0]).to.include({pod: 'web-green-1', container: 'web', previous: true})
      expect(f?.logs[0]?.lines).to.deep.equal(['starting', 'GET /healthz 503'])
    })

    it('http: GETs every new pod through the API server proxy; a 503 fails with the status', async () => {
      const {kubectl, calls} = fake((argv) =>
        argv[1] === '--raw' ? {exitCode: 1, stderr: 'Error from server (ServiceUnavailable): the server is currently unable to handle the request'} : {stdout: JSON.stringify({items: [pod()]})},
      )
      const f = await runChecks([{http: {path: '/healthz'}}], target, context(kubectl))
      expect(calls[1]).to.deep.equal(['get', '--raw', '/api/v1/namespaces/n/pods/web-green-1:8080/proxy/healthz'])
      expect(f?.ref).to.equal('check/http web')
      expect(f?.message).to.match(/^GET \/healthz on pod web-green-1 answered 503 \(expected 200\)/)
    })

    it('prometheus: the first sample against the threshold; no data fails unless noData: pass', async () => {
      const {kubectl} = fake(() => ({stdout: JSON.stringify({items: [pod()]})}))
      const answer = (result: unknown[]) => (async () => new Response(JSON.stringify({status: 'success', data: {resultType: 'vector', result}}))) as unknown as typeof fetch
      const check = {prometheus: {address: 'http://prom:9090/', query: 'up', threshold: {max: 0.1}}}
      expect(await runChecks([check], target, context(kubectl, {fetch: answer([{value: [1, '0.05']}])}))).to.equal(undefined)
      expect((await runChecks([check], target, context(kubectl, {fetch: answer([{value: [1, '0.5']}])})))?.message).to.equal('up = 0.5, outside max 0.1')
      expect((await runChecks([check], target, context(kubectl, {fetch: answer([])})))?.message).to.match(/no data/)
      expect(await runChecks([{prometheus: {...check.prometheus, noData: 'pass'}}], target, context(kubectl, {fetch: answer([])}))).to.equal(undefined)
    })
  })

  describe('placedObjects (what skycap diff compares)', () => {
    it('a blue-green service as the deploy leaves it: the slot Deployment and the switched Service, not a Deployment named after the service', async () => {
      const blueGreenLive = {...markStrategies([deployment()], svc({type: 'blueGreen'}))[0], metadata: {name: 'web-blue', labels: LABELS}} as KubeObject
      const hash = templateHash(markStrategies([deployment()], svc({type: 'blueGreen'}))[0] as KubeObject)
      blueGreenLive.metadata.annotations = {[TEMPLATE_ANNOTATION]: hash}
      const selecting = {...service, spec: {...(service.spec as object), selector: {...LABELS, [SLOT_LABEL]: 'blue'}}}
      const {kubectl, calls} = fake(() => ({stdout: JSON.stringify({items: [blueGreenLive, selecting]})}))
      const placed = await placedObjects(kubectl, [deployment(), service], svc({type: 'blueGreen'}), 'a=b')
      expect(placed.map((o) => `${o.kind}/${o.metadata.name}`)).to.deep.equal(['Deployment/web-blue', 'Service/web'])
      expect((placed[1]?.spec as {selector: Record<string, string>}).selector[SLOT_LABEL]).to.equal('blue')
      expect(calls).to.deep.equal([['get', 'deployments,services', '-l', 'a=b', '-o', 'json']])
      // A canary's stable Deployment carries its strategy and template hash, as the deploy applies it.
      const canaryPlaced = await placedObjects(kubectl, [deployment(), service], svc({type: 'canary', steps: [{setWeight: 20}]}), 'a=b')
      expect(canaryPlaced.map((o) => `${o.kind}/${o.metadata.name}`)).to.deep.equal(['Deployment/web', 'Service/web'])
      expect(Object.keys(canaryPlaced[0]?.metadata.annotations ?? {})).to.include.members(['skycap.dev/strategy', TEMPLATE_ANNOTATION])
    })

    it('rolling services only: marked with their surge, and no cluster read', async () => {
      const {kubectl, calls} = fake(() => ({exitCode: 1}))
      const placed = await placedObjects(kubectl, [deployment(), service], svc({type: 'rolling', maxSurge: 1}), 'a=b')
      expect((placed[0]?.spec as {strategy?: unknown}).strategy).to.deep.include({type: 'RollingUpdate'})
      expect(calls).to.deep.equal([])
    })
  })

  describe('refuseSecondRollout', () => {
    it('refuses a deploy of a release with a canary while a canary a killed CLI left is still under way; a release without one is not asked about it', async () => {
      const unit = unitOf({type: 'canary', steps: [{pause: {}}]})
      const paused = {type: 'canary', phase: 'paused', release: 4, weight: 20, step: 1, steps: 2, unit, startedBy: 'x', startedAt: '', updatedAt: ''}
      const {kubectl, calls} = fake((argv) =>
        argv[0] === 'get' && argv[1] === 'configmap' ? {stdout: JSON.stringify({data: {web: JSON.stringify(paused)}})} : {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`},
      )
      const live = new Map([['web', 2]])
      const error = await refuseSecondRollout({kubectl, app: 'shop', environment: 'prod', services: svc({type: 'canary', steps: [{pause: {}}]}), live}).then(
        () => undefined,
        (e: Error) => e,
      )
      expect(error?.message).to.equal('the canary of web (release 4, paused at 20%) in prod is still under way; nothing was changed')
      expect(calls).to.deep.equal([['get', 'configmap', 'skycap-rollout-shop', '-o', 'json', '--ignore-not-found']])
      calls.length = 0
      await refuseSecondRollout({kubectl, app: 'shop', environment: 'prod', services: svc({type: 'rolling'}), live})
      expect(calls).to.deep.equal([])
    })

    it('refuses a release that makes the service rolling while its canary Deployment runs (the strategy removed from skycap.yaml since)', async () => {
      const unit = unitOf({type: 'canary', steps: [{pause: {}}]})
      const paused = {type: 'canary', phase: 'paused', release: 4, weight: 20, step: 1, steps: 2, unit, startedBy: 'x', startedAt: '', updatedAt: ''}
      const {kubectl, calls} = fake((argv) =>
        argv[0] === 'get' && argv[1] === 'configmap' ? {stdout: JSON.stringify({data: {web: JSON.stringify(paused)}})} : {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`},
      )
      const error = await refuseSecondRollout({
        kubectl,
        app: 'shop',
        environment: 'prod',
        services: svc({type: 'rolling'}),
        live: new Map([
          ['web', 1],
          ['web-canary', 1],
        ]),
      }).then(
        () => undefined,
        (e: Error) => e,
      )
      expect(error?.message).to.equal('the canary of web (release 4, paused at 20%) in prod is still under way; nothing was changed')
      expect(calls).to.have.length(1)
    })
  })
})

describe('a release with blue-green and canary services', () => {
  const named = (o: KubeObject, name: string): KubeObject => {
    const labels = {...LABELS, 'app.kubernetes.io/name': name}
    const spec = o.spec as Record<string, unknown>
    if (o.kind === 'Service') return {...o, metadata: {name, labels}, spec: {...spec, selector: labels}}
    return {...o, metadata: {name, labels}, spec: {...spec, selector: {matchLabels: labels}, template: {metadata: {labels}, spec: (spec.template as {spec: unknown}).spec}}}
  }
  const ready = (name: string, replicas: number) => deploymentStatus(name, replicas)

  it('a blue-green slot failing its checks fails the release without starting the canaries, whose Deployments go', async () => {
    const services: Record<string, ServiceConfig> = {web: {image: 'web', strategy: {type: 'blueGreen'}}, api: {image: 'api', strategy: {type: 'canary', steps: [{setWeight: 50}, {pause: {}}]}}}
    const blue = {...named(deployment('web:1'), 'web-blue'), metadata: {name: 'web-blue', labels: LABELS, annotations: {[TEMPLATE_ANNOTATION]: 'old'}}}
    const liveApi = {...named(deployment('api:1'), 'api'), metadata: {name: 'api', labels: {...LABELS, 'app.kubernetes.io/name': 'api'}, annotations: {[TEMPLATE_ANNOTATION]: 'old'}}}
    const liveWeb = {...service, spec: {...(service.spec as object), selector: {...LABELS, [SLOT_LABEL]: 'blue'}}}
    const {kubectl, calls} = fake((argv) => {
      if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: ''}
      if (argv[0] === 'get' && argv[1] === 'deployments,services') return {stdout: JSON.stringify({items: [liveWeb, blue, liveApi, named(service, 'api')]})}
      if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) return {stdout: JSON.stringify({items: [ready('web-green', 3), ready('api-canary', 0), ready('api', 3)]})}
      // The new slot has no pods: its checks fail.
      if (argv[0] === 'get' && argv[1] === 'pods') return {stdout: JSON.stringify({items: []})}
      if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
      return {}
    })
    const result = await rollOutRelease(releaseOf(context(kubectl), [deployment(), service, named(deployment(), 'api'), named(service, 'api')], services))
    expect(result.outcome).to.equal('failed')
    expect(result.failures.map((f) => f.ref)).to.deep.equal(['check/pods web'])
    expect(
      calls.filter((c) => c[0] === 'scale'),
      'the canary never took traffic',
    ).to.deep.equal([])
    expect(calls.filter((c) => c[0] === 'delete').map((c) => c.filter((a) => a.startsWith('deployment/')))).to.deep.include(['deployment/api-canary'])
    expect(lastState(calls, 'api')).to.include({type: 'canary', phase: 'aborted', weight: 0, message: 'not started: release 5 failed before it (check/pods web)'})
    // The state no longer says web-green is coming up: it was removed.
    const web = calls.filter((c) => c[0] === 'patch' && c[1] === 'configmap').map((c) => JSON.parse(c.at(-1) as string).data.web as string | undefined)
    expect(JSON.parse(web.filter(Boolean).at(-1) as string))
      .to.include({phase: 'failed', activeSlot: 'blue', message: 'web-green failed its checks and was removed'})
      .and.not.have.any.keys('previousSlot', 'scaleDownAt')
  })
})

describe('two blue-green services, one failing its checks', () => {
  it('the other’s checks stop at once (a long query cancelled), no switch, both new slots go; the report names the failed check only; three times (the release waited for the other checks to end)', async () => {
    const services: Record<string, ServiceConfig> = {
      web: {image: 'web', strategy: {type: 'blueGreen'}},
      api: {image: 'api', strategy: {type: 'blueGreen', checks: [{prometheus: {address: 'http://prometheus:9090', query: 'errors'}}]}},
    }
    const live = [labelled(service, 'web', 'blue'), labelled(deployment('web:1'), 'web', 'blue'), labelled(service, 'api', 'blue'), labelled(deployment('api:1'), 'api', 'blue')]
    const objects = [deployment(), service, labelled(deployment('api:2'), 'api'), labelled(service, 'api')].map((o) =>
      o.kind === 'Deployment' ? {...o, metadata: {name: o.metadata.name, labels: o.metadata.labels}} : o,
    )
    for (let round = 1; round <= 3; round++) {
      let cancelled = false
      // api's query answers only when cancelled; bounded, so the old code fails instead of hanging.
      const fetch = ((_url: string, init: {signal: AbortSignal | null}) =>
        new Promise((_resolve, reject) => {
          const give = () => ((cancelled = init.signal?.aborted === true), reject(new Error('the query was cancelled')))
          init.signal?.addEventListener('abort', give, {once: true})
          setTimeout(give, 5000)
        })) as unknown as typeof globalThis.fetch
      const {kubectl, calls} = fake((argv) => {
        if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: ''}
        if (argv[0] === 'get' && argv[1] === 'deployments,services') return {stdout: JSON.stringify({items: live})}
        if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) return {stdout: JSON.stringify({items: [deploymentStatus('web-green', 3), deploymentStatus('api-green', 3)]})}
        if (argv[0] === 'get' && argv[1] === 'pods') {
          // web's new pod restarted after it became ready: its pod check fails; api's is fine.
          const web = !(argv[3] as string).includes('app.kubernetes.io/name=api')
          return {stdout: JSON.stringify({items: [{metadata: {name: web ? 'web-green-1' : 'api-green-1'}, status: {containerStatuses: [{name: 'app', ready: true, restartCount: web ? 1 : 0}]}}]})}
        }
        if (argv[0] === 'get' && argv[1] === 'events') return {stdout: JSON.stringify({items: []})}
        if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
        return {}
      })
      const said: string[] = []
      const reporter = {info: (m: string) => said.push(m), warn: (m: string) => said.push(m)} as unknown as StrategyContext['reporter']
      const started = Date.now()
      const result = await rollOutRelease({...releaseOf(context(kubectl, {reporter}), objects, services), fetch})
      expect(Date.now() - started, `round ${round}: ended by web's failure, not by api's query`).to.be.below(4000)
      expect(cancelled, `round ${round}: api's query was cancelled`).to.equal(true)
      expect(result.outcome, `round ${round}`).to.equal('failed')
      expect(
        result.failures.map((f) => f.ref),
        `round ${round}`,
      ).to.deep.equal(['check/pods web'])
      expect(
        said.filter((m) => m.startsWith('Switching')),
        `round ${round}: no switch`,
      ).to.deep.equal([])
      expect(
        calls.filter((c) => c[0] === 'delete').flatMap((c) => c.filter((a) => a.startsWith('deployment/'))),
        `round ${round}`,
      ).to.have.members(['deployment/web-green', 'deployment/api-green'])
      expect(lastState(calls, 'web'), `round ${round}`).to.include({phase: 'failed', activeSlot: 'blue'})
      expect(lastState(calls, 'api'), `round ${round}`).to.include({phase: 'aborted', activeSlot: 'blue'})
    }
  })
})

describe('a release that fails before its switch (a slot not ready, another service failing)', () => {
  const status = deploymentStatus
  /** What the cluster answers a `get`: web-green never becomes ready (a probe answering 503), api-green is ready. */
  const clusterAnswer = (argv: string[], live: object[]) => {
    if (argv[1] === 'configmap') return {stdout: ''}
    if (argv[1] === 'deployments,services') return {stdout: JSON.stringify({items: live})}
    if (argv[1]?.startsWith('deployments,replicasets')) return {stdout: JSON.stringify({items: [status('web-green', 3, 0), status('api-green', 3, 3), status('shop-canary', 0, 0)]})}
    if (argv[1] === 'events') return {stdout: JSON.stringify({items: []})}
    return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
  }

  it('a SIGTERM or a kubectl failure while the new slots are removed leaves the failure to record and roll back from (the deploy ended there: failed release applied, unrecorded, not rolled back)', async () => {
    for (const how of ['SIGTERM to the group', 'SIGTERM to skycap', 'kubectl refused'] as const) {
      const services = BLUE_GREEN_WEB_API_CANARY_SHOP
      const live = liveWebApiShop()
      const abort = new AbortController()
      let deleted = false
      const {kubectl} = fake((argv) => {
        if (argv[0] === 'get') return clusterAnswer(argv, live)
        // The removal of the new slots: kubectl dies of the group's SIGTERM, or skycap's own handler aborts, or the
        // state cannot be written.
        if (argv[0] === 'delete' && how === 'SIGTERM to the group') return {exitCode: 1, signal: 'SIGTERM'}
        if (argv[0] === 'delete' && how === 'SIGTERM to skycap') abort.abort()
        if (argv[0] === 'delete') deleted = true
        if (argv[0] === 'patch' && deleted && how === 'kubectl refused') return {exitCode: 1, stderr: 'Error from server (Forbidden): configmaps "skycap-rollout-shop" is forbidden'}
        return {}
      })
      const warnings: string[] = []
      const reporter = {info: () => undefined, warn: (m: string) => warnings.push(m)} as unknown as StrategyContext['reporter']
      const objects = [deployment(), service, labelled(deployment('api:2'), 'api'), labelled(service, 'api'), labelled(deployment('shop:2'), 'shop'), labelled(service, 'shop')].map((o) =>
        o.kind === 'Deployment' ? {...o, metadata: {name: o.metadata.name.replace(/-blue$/, ''), labels: o.metadata.labels}} : o,
      )
      const ctx = context(kubectl, {reporter, deadline: Date.now() - 1})
      const result = await rollOutRelease({...releaseOf(ctx, objects, services), deadline: Date.now() - 1, signal: abort.signal})
      expect(result.outcome, how).to.equal('timeout')
      expect(
        result.failures.map((f) => f.ref),
        how,
      ).to.deep.equal(['Deployment/web-green'])
      expect(warnings.length, `${how}: ${warnings.join('; ')}`).to.equal(how === 'kubectl refused' ? 1 : 0)
    }
  })

  it('removes every new slot and unstarted canary, and the state says which slot failed and which went because of it (it said "coming up" for slots the rollback pruned)', async () => {
    const services = BLUE_GREEN_WEB_API_CANARY_SHOP
    const live = liveWebApiShop()
    const {kubectl, calls} = fake((argv) => {
      return argv[0] === 'get' ? clusterAnswer(argv, live) : {}
    })
    const objects = [deployment(), service, labelled(deployment('api:2'), 'api'), labelled(service, 'api'), labelled(deployment('shop:2'), 'shop'), labelled(service, 'shop')].map((o) =>
      o.kind === 'Deployment' ? {...o, metadata: {name: o.metadata.name.replace(/-blue$/, ''), labels: o.metadata.labels}} : o,
    )
    const infos: string[] = []
    const reporter = {info: (m: string) => infos.push(m), warn: () => undefined} as unknown as StrategyContext['reporter']
    const ctx = context(kubectl, {reporter, deadline: Date.now() - 1})
    const result = await rollOutRelease({...releaseOf(ctx, objects, services), deadline: Date.now() - 1})
    expect(result.outcome).to.equal('timeout')
    expect(result.failures.map((f) => f.ref)).to.deep.equal(['Deployment/web-green'])
    const deleted = calls.filter((c) => c[0] === 'delete').flatMap((c) => c.filter((a) => a.startsWith('deployment/')))
    expect(deleted).to.have.members(['deployment/web-green', 'deployment/api-green', 'deployment/shop-canary'])
    const written = (name: string) => lastState(calls, name)
    expect(written('web')).to.include({phase: 'failed', activeSlot: 'blue', release: 5, message: 'web-green did not become ready and was removed'}).and.not.have.any.keys('previousSlot', 'scaleDownAt')
    expect(written('api')).to.include({phase: 'aborted', activeSlot: 'blue', message: 'api-green was removed without taking traffic: release 5 failed (Deployment/web-green)'})
    expect(rolloutStatusLines({environment: 'prod', services: {web: written('web'), api: written('api')}, lock: null})).to.not.include('coming up')
    expect(infos).to.include('Removing deployment/web-green, deployment/api-green: they received no traffic')
    expect(infos).to.include('Not starting the canary of shop: release 5 failed before it (Deployment/web-green); removing deployment/shop-canary')
    // The canary that never started reads aborted for this release (it kept its last rollout, as if this one had none).
    expect(written('shop')).to.include({type: 'canary', phase: 'aborted', release: 5, weight: 0, message: 'not started: release 5 failed before it (Deployment/web-green)'})
  })

  it('a slot that failed its checks is "failed"; the other service’s slot, removed because of it, is "aborted"', async () => {
    const services: Record<string, ServiceConfig> = {web: {image: 'web', strategy: {type: 'blueGreen'}}, api: {image: 'api', strategy: {type: 'blueGreen'}}}
    const live = [labelled(service, 'web', 'blue'), labelled(deployment('web:1'), 'web', 'blue'), labelled(service, 'api', 'blue'), labelled(deployment('api:1'), 'api', 'blue')]
    const pod = (name: string) => ({metadata: {name}, status: {containerStatuses: [{name: 'c', ready: true, restartCount: 0}]}})
    const {kubectl, calls} = fake((argv) => {
      if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: ''}
      if (argv[0] === 'get' && argv[1] === 'deployments,services') return {stdout: JSON.stringify({items: live})}
      if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) return {stdout: JSON.stringify({items: [status('web-green', 3, 3), status('api-green', 3, 3)]})}
      // web's new pods are not there any more when checked; api's are.
      if (argv[0] === 'get' && argv[1] === 'pods') return {stdout: JSON.stringify({items: argv[3]?.includes('name=api') ? [pod('api-green-1')] : []})}
      if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
      return {}
    })
    const objects = [deployment(), service, labelled(deployment('api:2'), 'api'), labelled(service, 'api')].map((o) =>
      o.kind === 'Deployment' ? {...o, metadata: {name: o.metadata.name.replace(/-blue$/, ''), labels: o.metadata.labels}} : o,
    )
    const result = await rollOutRelease(releaseOf(context(kubectl), objects, services))
    expect(result.failures.map((f) => f.ref)).to.deep.equal(['check/pods web'])
    const states = calls.filter((c) => c[0] === 'patch' && c[1] === 'configmap').map((c) => JSON.parse(c.at(-1) as string).data as Record<string, string>)
    const last = (name: string) =>
      JSON.parse(
        states
          .map((d) => d[name])
          .filter(Boolean)
          .at(-1) as string,
      )
    expect(last('web')).to.include({phase: 'failed', message: 'web-green failed its checks and was removed'})
    expect(last('api')).to.include({phase: 'aborted', message: 'api-green was removed without taking traffic: release 5 failed (check/pods web)'})
  })
})

describe('blue-green and canary services scaled to 0', () => {
  it('a deploy switches the blue-green Service to the new slot at 0 and puts the canary’s release in stable at 0: no checks, no steps (the slot failed "no pods of the new release", the canary came up at 1)', async () => {
    const services: Record<string, ServiceConfig> = {web: {image: 'web', strategy: {type: 'blueGreen'}}, api: {image: 'api', strategy: {type: 'canary', steps: [{setWeight: 50}, {pause: {}}]}}}
    const at0 = (o: KubeObject, name: string, hash: string): KubeObject => {
      const labels = {...LABELS, 'app.kubernetes.io/name': name.replace(/-blue$/, '')}
      const spec = o.spec as Record<string, unknown>
      return {...o, metadata: {name, labels, annotations: {[TEMPLATE_ANNOTATION]: hash}}, spec: {...spec, replicas: 0, selector: {matchLabels: labels}}}
    }
    const apiObjects = (o: KubeObject): KubeObject => {
      const labels = {...LABELS, 'app.kubernetes.io/name': 'api'}
      const spec = o.spec as Record<string, unknown>
      if (o.kind === 'Service') return {...o, metadata: {name: 'api', labels}, spec: {...spec, selector: labels}}
      return {...o, metadata: {name: 'api', labels}, spec: {...spec, selector: {matchLabels: labels}, template: {metadata: {labels}, spec: (spec.template as {spec: unknown}).spec}}}
    }
    const liveWeb = {...service, spec: {...(service.spec as object), selector: {...LABELS, [SLOT_LABEL]: 'blue'}}}
    const ready = (name: string) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {name, generation: 1, annotations: {'deployment.kubernetes.io/revision': '1'}},
      spec: {replicas: 0},
      status: {observedGeneration: 1},
    })
    const {kubectl, calls} = fake((argv) => {
      if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: ''}
      if (argv[0] === 'get' && argv[1] === 'deployments,services')
        return {stdout: JSON.stringify({items: [liveWeb, at0(deployment('web:1'), 'web-blue', 'old'), at0(apiObjects(deployment('api:1')), 'api', 'old'), apiObjects(service)]})}
      if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) return {stdout: JSON.stringify({items: [ready('web-green'), ready('api')]})}
      if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
      return {}
    })
    const infos: string[] = []
    const reporter = {info: (m: string) => infos.push(m), warn: () => undefined} as unknown as StrategyContext['reporter']
    const ctx = context(kubectl, {reporter})
    const zero = (o: KubeObject): KubeObject => ({...o, spec: {...(o.spec as object), replicas: 0}})
    const result = await rollOutRelease(releaseOf(ctx, [zero(deployment()), service, zero(apiObjects(deployment('api:2'))), apiObjects(service)], services))
    expect(result.outcome, JSON.stringify(result.failures)).to.equal('ready')
    const applied = calls.filter((c) => c[0] === 'apply').map((c) => c.join(' '))
    expect(applied.length).to.be.greaterThan(0)
    expect(
      calls.filter((c) => c[0] === 'get' && ['pods', 'endpointslices'].includes(c[1] ?? '')),
      'nothing to check or wait for',
    ).to.deep.equal([])
    expect(
      calls.filter((c) => c[0] === 'scale'),
      'the canary never scales',
    ).to.deep.equal([])
    const names = result.recorded.map((o) => `${o.kind}/${o.metadata.name}`)
    expect(names).to.include.members(['Deployment/web-green', 'Service/web', 'Deployment/api'])
    expect(names).to.not.include('Deployment/api-canary')
    const webService = result.recorded.find((o) => o.kind === 'Service' && o.metadata.name === 'web') as KubeObject
    expect((webService.spec as {selector: Record<string, string>}).selector[SLOT_LABEL]).to.equal('green')
    expect(result.recorded.filter((o) => o.kind === 'Deployment').map((o) => (o.spec as {replicas: number}).replicas)).to.deep.equal([0, 0])
    expect(infos).to.include('  web: at 0 replicas: no checks or traffic steps; the release runs once `skycap scale web N` starts it')
    expect(infos).to.include('  api: at 0 replicas: no checks or traffic steps; the release runs once `skycap scale api N` starts it')
  })
})

describe('a canary promoted between its pauses', () => {
  it('a promote taken while the canary scaled continues past the next pause (it was dropped, and the pause waited for another)', async () => {
    const steps = [{setWeight: 50}, {setWeight: 75}, {pause: {}}]
    const unit = unitOf({type: 'canary', steps})
    const readyDeployment = (name: string, replicas: number) => deploymentStatus(name, replicas)
    const pod = {metadata: {name: 'web-canary-1'}, status: {containerStatuses: [{name: 'web', ready: true, restartCount: 0}]}}
    // `skycap promote` writes its request while the first step scales the canary; the canary clears it when it takes it.
    let requested = false
    let cleared = false
    // Without the promote the pause would wait for ever: the signal ends the test's wait after 3 s (kubectl, as
    // execa runs it, refuses to start once the signal fired).
    const stop = AbortSignal.timeout(3000)
    const {kubectl, calls} = fake((argv) => {
      if (stop.aborted) throw new Error('interrupted')
      if (argv[0] === 'scale') requested = true
      // Cleared once it was given (a new canary's first state write clears a request left from an earlier rollout).
      if (argv[0] === 'patch' && argv.at(-1)?.includes('"web.request":null') && requested) cleared = true
      if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: JSON.stringify({data: requested && !cleared ? {'web.request': 'promote'} : {}})}
      if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) return {stdout: JSON.stringify({items: [readyDeployment('web-canary', 2), readyDeployment('web', 3)]})}
      if (argv[0] === 'get' && argv[1] === 'pods') return {stdout: JSON.stringify({items: [pod]})}
      if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
      return {}
    })
    const infos: string[] = []
    const ctx = context(kubectl, {signal: stop, intervalMs: 1, reporter: {info: (m: string) => infos.push(m), warn: () => undefined} as unknown as StrategyContext['reporter']})
    const failure = await runCanary(unit, ctx).catch((error: Error) => checkFailureOf(error))
    expect(failure, infos.join('\n')).to.equal(undefined)
    expect(stop.aborted).to.equal(false)
    expect(infos).to.include('  web: promoted past the pause at step 3 (promote was given before it)')
    expect(calls.filter((c) => c[0] === 'delete').map((c) => c[2])).to.deep.equal(['web-canary'])
  })
})

describe('a canary aborted', () => {
  const steps = [{setWeight: 50}, {pause: {}}]
  const states = (calls: string[][]) =>
    calls
      .filter((c) => c[0] === 'patch' && c[1] === 'configmap')
      .map((c) => JSON.parse(c.at(-1) as string).data.web as string | null | undefined)
      .filter((t): t is string => typeof t === 'string')
      .map((t) => JSON.parse(t) as {phase: string; aborting?: {ref: string; message: string}})

  it('says the abort is under way before it brings stable back, in the write that clears its request (a promote polling the state saw neither, and said "promoted"), and the phase changes only at the end', async () => {
    const order: string[] = []
    let requested = false
    const {kubectl, calls} = fake((argv) => {
      const data = argv[0] === 'patch' ? (JSON.parse(argv.at(-1) as string).data as Record<string, string | null>) : {}
      const parts = [...(data.web ? [JSON.parse(data.web).aborting ? 'aborting' : 'state'] : []), ...(requested && 'web.request' in data ? ['request'] : [])]
      order.push(argv[0] === 'patch' ? `patch ${parts.join('+')}` : argv.slice(0, 3).join(' '))
      // `skycap abort` during the pause.
      if (argv[0] === 'patch' && argv.at(-1)?.includes('paused')) requested = true
      if (argv[0] === 'patch' && argv.at(-1)?.includes('"web.request":null')) requested = false
      if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: JSON.stringify({data: requested ? {'web.request': 'abort'} : {}})}
      if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) return {stdout: JSON.stringify({items: [deploymentStatus('web-canary', 2), deploymentStatus('web', 3)]})}
      if (argv[0] === 'get' && argv[1] === 'pods')
        return {stdout: JSON.stringify({items: [{metadata: {name: 'web-canary-1'}, status: {containerStatuses: [{name: 'web', ready: true, restartCount: 0}]}}]})}
      if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
      return {}
    })
    const failure = await runCanary(unitOf({type: 'canary', steps}), context(kubectl, {intervalMs: 1}))
    expect(failure?.ref).to.equal('abort web')
    // The abort's request is cleared once, with the mark: never before it, in a write of its own.
    expect(
      order.filter((o) => o.includes('request')),
      order.join('\n'),
    ).to.deep.equal(['patch aborting+request'])
    expect(order.indexOf('patch aborting+request'), order.join('\n')).to.be.below(order.lastIndexOf('scale deployment web'))
    const saved = states(calls)
    expect(saved.slice(-3).map((st) => [st.phase, st.aborting?.ref ?? null])).to.deep.equal([
      ['paused', null],
      ['paused', 'abort web'],
      ['aborted', null],
    ])
  })

  it('a promote taken in a pause leaves the pause in the write that clears its request: the request gone and the phase still paused read as done before an abort of the release was marked', async () => {
    let requested = false
    const {kubectl, calls} = fake((argv) => {
      // `skycap promote` during the pause.
      if (argv[0] === 'patch' && argv.at(-1)?.includes('paused')) requested = true
      if (argv[0] === 'patch' && argv.at(-1)?.includes('"web.request":null')) requested = false
      if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: JSON.stringify({data: requested ? {'web.request': 'promote'} : {}})}
      if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) return {stdout: JSON.stringify({items: [deploymentStatus('web-canary', 2), deploymentStatus('web', 3)]})}
      if (argv[0] === 'get' && argv[1] === 'pods')
        return {stdout: JSON.stringify({items: [{metadata: {name: 'web-canary-1'}, status: {containerStatuses: [{name: 'web', ready: true, restartCount: 0}]}}]})}
      if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
      return {}
    })
    expect(await runCanary(unitOf({type: 'canary', steps}), context(kubectl, {intervalMs: 1}))).to.equal(undefined)
    const patches = calls.filter((c) => c[0] === 'patch').map((c) => JSON.parse(c.at(-1) as string).data as Record<string, string | null>)
    const paused = patches.findIndex((d) => d.web?.includes('"paused"'))
    const cleared = patches.slice(paused).filter((d) => 'web.request' in d)
    expect(cleared.map((d) => [d.web ? JSON.parse(d.web).phase : null, d['web.request']])).to.deep.equal([
      ['progressing', null],
      ['completed', null],
    ])
  })

  it('resumed after a Ctrl-C stopped its abort half-way: finishes the abort, never scaling the canary up again (it ran the steps again and paused)', async () => {
    // Running the steps again would pause for a promote that never comes: the signal ends that wait after 5 s
    // (kubectl, as execa runs it, refuses to start once the signal fired).
    const stop = AbortSignal.timeout(5000)
    const {kubectl, calls} = fake((argv) => {
      if (stop.aborted) throw new Error('interrupted')
      if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: JSON.stringify({data: {}})}
      if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) return {stdout: JSON.stringify({items: [deploymentStatus('web-canary', 2), deploymentStatus('web', 3)]})}
      if (argv[0] === 'get' && argv[1] === 'pods')
        return {stdout: JSON.stringify({items: [{metadata: {name: 'web-canary-1'}, status: {containerStatuses: [{name: 'web', ready: true, restartCount: 0}]}}]})}
      if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
      return {}
    })
    const unit = unitOf({type: 'canary', steps})
    const resumed = {
      type: 'canary' as const,
      release: 7,
      phase: 'paused' as const,
      startedBy: 'a',
      startedAt: 't',
      updatedAt: 't',
      step: 1,
      steps: 2,
      weight: 50,
      aborting: {ref: 'abort web', message: 'aborted by skycap abort during the pause at step 2'},
      unit,
    }
    const failure = await runCanary(unit, context(kubectl, {intervalMs: 1, signal: stop}), resumed).catch((error: Error) => checkFailureOf(error))
    expect([failure?.ref, failure?.message]).to.deep.equal(['abort web', 'aborted by skycap abort during the pause at step 2'])
    expect(calls.filter((c) => c[0] === 'scale').map((c) => c.join(' '))).to.deep.equal(['scale deployment web --replicas=3'])
    expect(calls.filter((c) => c[0] === 'delete').map((c) => c[2])).to.deep.equal(['web-canary'])
    expect(states(calls).at(-1)).to.include({phase: 'aborted'})
    expect(states(calls).at(-1)).not.to.have.property('aborting')
  })
})

describe('a canary promoted', () => {
  const steps = [{setWeight: 50}]
  const states = (calls: string[][]) =>
    calls
      .filter((c) => c[0] === 'patch' && c[1] === 'configmap')
      .map((c) => JSON.parse(c.at(-1) as string).data.web as string | null | undefined)
      .filter((t): t is string => typeof t === 'string')
      .map((t) => JSON.parse(t) as {phase: string; promoting?: boolean})
  const cluster = (request: () => string | undefined, onCall: (argv: string[]) => void = () => undefined) =>
    fake((argv) => {
      onCall(argv)
      if (argv[0] === 'get' && argv[1] === 'configmap') {
        const r = request()
        return {stdout: JSON.stringify({data: r ? {'web.request': r} : {}})}
      }
      if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) return {stdout: JSON.stringify({items: [deploymentStatus('web-canary', 2), deploymentStatus('web', 3)]})}
      if (argv[0] === 'get' && argv[1] === 'pods')
        return {stdout: JSON.stringify({items: [{metadata: {name: 'web-canary-1'}, status: {containerStatuses: [{name: 'web', ready: true, restartCount: 0}]}}]})}
      if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
      return {}
    })

  it('saves that its promotion began before the Deployment takes the release, and clears it when done', async () => {
    const {kubectl, calls} = cluster(() => undefined)
    expect(await runCanary(unitOf({type: 'canary', steps}), context(kubectl, {intervalMs: 1}))).to.equal(undefined)
    const order = calls
      .map((c) => (c[0] === 'patch' && c[1] === 'configmap' ? `state ${JSON.stringify(states([c])[0]?.promoting ?? null)}` : c[0]))
      .filter((c): c is string => c === 'apply' || c?.startsWith('state') === true)
    const apply = order.indexOf('apply')
    expect(order[apply - 1], order.join('\n')).to.equal('state true')
    expect(states(calls).at(-1)).to.include({phase: 'completed'}).and.not.have.property('promoting')
  })

  it('a Ctrl-C that came while its last step ran: no promotion begins (the other canary of a release began its own after the Ctrl-C)', async () => {
    const stop = new AbortController()
    // The Ctrl-C lands as the step's last call (the stable Deployment scaled down to its share) is made.
    const {kubectl, calls} = cluster(
      () => undefined,
      (argv) => argv[0] === 'scale' && argv[2] === 'web' && stop.abort(),
    )
    const error = await runCanary(unitOf({type: 'canary', steps}), context(kubectl, {intervalMs: 1, signal: stop.signal})).then(
      () => undefined,
      (e: Error) => e,
    )
    expect(stop.signal.aborted).to.equal(true)
    expect(error?.message).to.equal('interrupted before the promotion of web')
    expect(calls.filter((c) => c[0] === 'apply')).to.deep.equal([])
    expect(states(calls).some((st) => st.promoting)).to.equal(false)
  })

  it('resumed after a Ctrl-C stopped its promotion: finishes it, whatever abort was asked since (an abort "returned to stable" by scaling up a Deployment that ran the release)', async () => {
    const request: string | undefined = 'abort'
    const {kubectl, calls} = cluster(() => request)
    const unit = unitOf({type: 'canary', steps})
    const resumed = {type: 'canary' as const, release: 7, phase: 'progressing' as const, startedBy: 'a', startedAt: 't', updatedAt: 't', step: 1, steps: 1, weight: 50, promoting: true as const, unit}
    const failure = await runCanary(unit, context(kubectl, {intervalMs: 1}), resumed)
    expect(failure).to.equal(undefined)
    expect(calls.filter((c) => c[0] === 'apply')).to.have.length(1)
    expect(calls.filter((c) => c[0] === 'scale')).to.deep.equal([])
    expect(calls.filter((c) => c[0] === 'delete').map((c) => c[2])).to.deep.equal(['web-canary'])
    // The abort's request is cleared with the completed state: it must not act on the next rollout.
    expect(calls.some((c) => c[0] === 'patch' && (c.at(-1) as string).includes('"web.request":null'))).to.equal(true)
    expect(states(calls).at(-1)).to.include({phase: 'completed'})
  })
})

describe('a canary aborted during a step, and requests left from an earlier rollout', () => {
  const pod = {metadata: {name: 'web-canary-1'}, status: {containerStatuses: [{name: 'web', ready: true, restartCount: 0}]}}
  /** A cluster where every Deployment is ready; `request()` is the service's request in the state ConfigMap, cleared by a patch. */
  const cluster = (request: () => string | undefined, clear: () => void, onCall: (argv: string[]) => void = () => undefined) =>
    fake((argv) => {
      onCall(argv)
      if (argv[0] === 'patch' && argv.at(-1)?.includes('"web.request":null')) clear()
      if (argv[0] === 'get' && argv[1] === 'configmap') {
        const r = request()
        return {stdout: JSON.stringify({data: r ? {'web.request': r} : {}})}
      }
      if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) return {stdout: JSON.stringify({items: [deploymentStatus('web-canary', 3), deploymentStatus('web', 3)]})}
      if (argv[0] === 'get' && argv[1] === 'pods') return {stdout: JSON.stringify({items: [pod]})}
      if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
      return {}
    })
  const promoted = (calls: string[][]) => calls.some((c) => c[0] === 'apply')

  it('an abort given while the last step’s analysis runs stops the analysis and aborts: never promoted (it waited for the analysis, and the abort was never read)', async () => {
    for (let round = 1; round <= 3; round++) {
      let requested = false
      let queried = false
      const {kubectl, calls} = cluster(
        () => (requested ? 'abort' : undefined),
        () => (requested = false),
      )
      // A query that answers only when its request is cancelled: the analysis runs until the abort stops it. Bounded,
      // so the old code fails instead of hanging.
      const fetch = ((_url: string, init: {signal: AbortSignal | null}) =>
        new Promise((_resolve, reject) => {
          queried = true
          requested = true
          const give = () => reject(new Error('the query was cancelled'))
          init.signal?.addEventListener('abort', give, {once: true})
          setTimeout(give, 5000)
        })) as unknown as typeof globalThis.fetch
      const steps = [{setWeight: 50}, {analysis: {checks: [{prometheus: {address: 'http://prometheus:9090', query: 'errors'}}]}}]
      const started = Date.now()
      const failure = await runCanary(unitOf({type: 'canary', steps}), context(kubectl, {intervalMs: 1, fetch}))
      expect(queried, `round ${round}`).to.equal(true)
      expect(failure, `round ${round}`).to.deep.include({ref: 'abort web', message: 'aborted by skycap abort during the analysis of step 2'})
      expect(Date.now() - started, `round ${round}: stopped by the abort, not by the query's end`).to.be.below(4000)
      expect(promoted(calls), `round ${round}: promoted`).to.equal(false)
      expect(
        calls.filter((c) => c[0] === 'scale').map((c) => c.slice(2).join(' ')),
        `round ${round}`,
      ).to.deep.equal(['web-canary --replicas=2', 'web --replicas=1', 'web --replicas=3'])
      expect(
        calls.filter((c) => c[0] === 'delete').map((c) => c[2]),
        `round ${round}`,
      ).to.deep.equal(['web-canary'])
      expect(lastState(calls, 'web'), `round ${round}`).to.include({phase: 'aborted', weight: 0})
      expect(requested, `round ${round}: the request was cleared`).to.equal(false)
    }
  })

  it('an abort given during the only step (the default setWeight 100) is acted on: never promoted (it was read only before the step)', async () => {
    for (let round = 1; round <= 3; round++) {
      let requested = false
      const {kubectl, calls} = cluster(
        () => (requested ? 'abort' : undefined),
        () => (requested = false),
        // `skycap abort` as the canary is scaled up.
        (argv) => (requested ||= argv[0] === 'scale' && argv[2] === 'web-canary'),
      )
      const failure = await runCanary(unitOf({type: 'canary'}), context(kubectl, {intervalMs: 1}))
      expect(failure?.ref, `round ${round}`).to.equal('abort web')
      expect(failure?.message, `round ${round}`).to.match(/^aborted by skycap abort (during step 1 \(weight 100%\)|before the promotion)$/)
      expect(promoted(calls), `round ${round}: promoted`).to.equal(false)
      expect(lastState(calls, 'web'), `round ${round}`).to.include({phase: 'aborted'})
    }
  })

  it('a new canary drops a request left from an earlier rollout (an abort it would have acted on at its first step); a resumed one acts on it', async () => {
    let left: string | undefined = 'abort'
    const fresh = cluster(
      () => left,
      () => (left = undefined),
    )
    const failure = await runCanary(unitOf({type: 'canary', steps: [{setWeight: 50}]}), context(fresh.kubectl, {intervalMs: 1}))
    expect(failure).to.equal(undefined)
    expect(promoted(fresh.calls)).to.equal(true)
    // Dropped by the canary's first state write, in the same patch.
    const first = JSON.parse(fresh.calls.find((c) => c[0] === 'patch')?.at(-1) as string).data
    expect(first).to.have.property('web.request', null)
    expect(JSON.parse(first.web)).to.include({phase: 'progressing', step: 0})
    expect(lastState(fresh.calls, 'web')).to.include({phase: 'completed'})

    // `skycap abort` with nobody running the canary (a killed CLI): the request is written, then the rollout resumed.
    let pending: string | undefined = 'abort'
    const resumed = cluster(
      () => pending,
      () => (pending = undefined),
    )
    const state = {type: 'canary' as const, release: 7, phase: 'paused' as const, startedBy: 'x', startedAt: 't', updatedAt: 't', step: 0, steps: 1, weight: 50}
    const aborted = await runCanary(unitOf({type: 'canary', steps: [{setWeight: 50}]}), context(resumed.kubectl, {intervalMs: 1}), state)
    expect(aborted?.ref).to.equal('abort web')
    expect(promoted(resumed.calls)).to.equal(false)
  })
})

describe('two canaries of one release, one of which fails', () => {
  const services: Record<string, ServiceConfig> = {
    shop: {image: 'shop', strategy: {type: 'canary', steps: [{setWeight: 50}]}},
    cart: {image: 'cart', strategy: {type: 'canary', steps: [{setWeight: 50}, {pause: {}}]}},
  }
  const release = [labelled(deployment('shop:2'), 'shop'), labelled(service, 'shop'), labelled(deployment('cart:2'), 'cart'), labelled(service, 'cart')].map((o) =>
    o.kind === 'Deployment' ? {...o, metadata: {name: o.metadata.name, labels: o.metadata.labels}} : o,
  )
  const live = new Map([labelled(deployment('shop:1'), 'shop'), labelled(deployment('cart:1'), 'cart')].map((o) => [`Deployment/${o.metadata.name}`, o]))
  const placements = () => {
    const {units} = serviceUnits(markStrategies(release, services))
    return units.map((u) => canary.place(u, live))
  }

  for (const [where, cartReady] of [
    ['paused for a promote nobody will give', 2],
    ['waiting for its pods, which never become ready', 0],
  ] as const) {
    it(`the other, ${where}, is aborted back to stable at once, three times over (it ran on, and the deploy waited)`, async () => {
      for (let round = 1; round <= 3; round++) {
        // Bounded: on the old code cart waits for ever; the signal ends it (as a Ctrl-C would) and the test fails.
        const stop = AbortSignal.timeout(5000)
        const {kubectl, calls} = fake((argv) => {
          if (stop.aborted) throw new Error('interrupted')
          if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: JSON.stringify({data: {}})}
          if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets'))
            return {stdout: JSON.stringify({items: [deploymentStatus('shop-canary', 2), deploymentStatus('shop', 3), deploymentStatus('cart-canary', 2, cartReady), deploymentStatus('cart', 3)]})}
          if (argv[0] === 'get' && argv[1] === 'pods') {
            // shop's canary pod restarted after it became ready: its check fails.
            const shop = (argv[3] as string).includes('app.kubernetes.io/name=shop')
            return {
              stdout: JSON.stringify({items: [{metadata: {name: shop ? 'shop-canary-1' : 'cart-canary-1'}, status: {containerStatuses: [{name: 'app', ready: true, restartCount: shop ? 1 : 0}]}}]}),
            }
          }
          if (argv[0] === 'get' && argv[1] === 'events') return {stdout: JSON.stringify({items: []})}
          if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
          return {}
        })
        const started = Date.now()
        const failures = await canary.complete(placements(), context(kubectl, {intervalMs: 1, signal: stop}))
        expect(Date.now() - started, `round ${round}`).to.be.below(4000)
        expect(
          failures.map((f) => f.ref),
          `round ${round}: the failure that failed the release first`,
        ).to.deep.equal(['check/pods shop', 'abort cart'])
        expect(failures[1]?.message, `round ${round}`).to.equal('aborted because shop failed (check/pods shop), which fails the release')
        expect(
          calls.some((c) => c[0] === 'apply'),
          `round ${round}: neither promoted`,
        ).to.equal(false)
        expect(
          calls.filter((c) => c[0] === 'delete').flatMap((c) => c[2]),
          `round ${round}`,
        ).to.have.members(['shop-canary', 'cart-canary'])
        expect(
          calls.filter((c) => c[0] === 'scale' && c[2] === 'cart').map((c) => c[3]),
          `round ${round}: cart's stable back to its size`,
        ).to.include('--replicas=3')
        expect(lastState(calls, 'shop'), `round ${round}`).to.include({phase: 'failed'})
        expect(lastState(calls, 'cart'), `round ${round}`).to.include({phase: 'aborted', weight: 0})
      }
    })
  }
})

describe('a canary whose new pods are not ready', () => {
  const steps = [{setWeight: 50}, {pause: {}}]
  const patched = (calls: string[][]) => calls.filter((c) => c[0] === 'patch' && c[1] === 'configmap').map((c) => JSON.parse(c.at(-1) as string).data.web as string | undefined)
  /** shop's and cart's requests as the state ConfigMap holds them: a patch that clears one takes it; its data as read. */
  const requestsOf = (requests: Record<string, string>) => ({
    take(data: Record<string, unknown>) {
      for (const name of ['shop', 'cart']) if (Object.hasOwn(data, `${name}.request`) && data[`${name}.request`] === null) delete requests[name]
    },
    read: () => ({stdout: JSON.stringify({data: Object.fromEntries(Object.entries(requests).map(([k, v]) => [`${k}.request`, v]))})}),
  })
  /** Both canaries aborted by their own abort (`message`): both requests taken, neither promoted, both states aborted. */
  function expectBothAborted(failures: Array<{ref: string; message: string}>, calls: string[][], requests: Record<string, string>, message: string, round: number) {
    expect(failures.map((f) => [f.ref, f.message]).sort(), `round ${round}`).to.deep.equal([
      ['abort cart', message],
      ['abort shop', message],
    ])
    expect(requests, `round ${round}: both requests taken`).to.deep.equal({})
    expect(
      calls.some((c) => c[0] === 'apply'),
      `round ${round}: neither promoted`,
    ).to.equal(false)
    for (const name of ['shop', 'cart']) expect(lastState(calls, name), `round ${round} ${name}`).to.include({phase: 'aborted', weight: 0})
  }

  it('`skycap abort ENV` of both, resumed at their pause by the abort itself: each is aborted by its own request, whichever is first (one that came second was "aborted because shop failed"); three times', async () => {
    const paused = {steps: [{setWeight: 50}, {pause: {}}]}
    const both: Record<string, ServiceConfig> = {shop: {image: 'shop', strategy: {type: 'canary', ...paused}}, cart: {image: 'cart', strategy: {type: 'canary', ...paused}}}
    for (let round = 1; round <= 3; round++) {
      // One write asked both (writeRequest); each abort clears its own. The slow one this round: its first write waits.
      const requests: Record<string, string> = {shop: 'abort', cart: 'abort'}
      const held = requestsOf(requests)
      const slow = round === 2 ? 'shop' : 'cart'
      let delayed = false
      const {kubectl, calls} = fake(async (args) => {
        if (args[0] === 'patch') {
          const data = JSON.parse(args.at(-1) as string).data as Record<string, unknown>
          held.take(data)
          if (!delayed && Object.hasOwn(data, slow)) {
            delayed = true
            await new Promise((r) => setTimeout(r, 100))
          }
          return {}
        }
        if (args[0] === 'get' && args[1] === 'configmap') return held.read()
        if (args[0] === 'get' && args[1]?.startsWith('deployments,replicasets'))
          return {stdout: JSON.stringify({items: ['shop', 'cart'].flatMap((n) => [deploymentStatus(`${n}-canary`, 2), deploymentStatus(n, 3)])})}
        if (args[0] === 'get' && (args[1] === 'pods' || args[1] === 'events')) return {stdout: JSON.stringify({items: []})}
        if (args[0] === 'get') return {exitCode: 1, stderr: `unexpected ${args.join(' ')}`}
        return {}
      })
      const objects = [labelled(deployment('shop:2'), 'shop'), labelled(service, 'shop'), labelled(deployment('cart:2'), 'cart'), labelled(service, 'cart')]
      const {units} = serviceUnits(markStrategies(objects, both))
      const state = {type: 'canary' as const, release: 7, phase: 'paused' as const, startedBy: 'x', startedAt: 't', updatedAt: 't', step: 1, steps: 2, weight: 50}
      const failures = await runCanaries(
        units.map((unit) => ({unit, state: {...state}})),
        context(kubectl, {intervalMs: 1}),
      )
      expect(delayed, `round ${round}: ${slow}'s first write was slow`).to.equal(true)
      expectBothAborted(failures, calls, requests, 'aborted by skycap abort at step 2', round)
    }
  })

  it('`skycap abort ENV` of both while each runs a step’s analysis: the one the other’s abort stopped before its poll read its own request reads it once more, and is aborted by it (it was "aborted because cart failed"); three times', async () => {
    const analysed = {steps: [{setWeight: 50}, {analysis: {checks: [{prometheus: {address: 'http://prometheus:9090', query: 'errors'}}]}}]}
    const both: Record<string, ServiceConfig> = {shop: {image: 'shop', strategy: {type: 'canary', ...analysed}}, cart: {image: 'cart', strategy: {type: 'canary', ...analysed}}}
    for (let round = 1; round <= 3; round++) {
      // Empty until both analyses run; then one write asks both (writeRequest), and each abort clears its own.
      const requests: Record<string, string> = {}
      const held = requestsOf(requests)
      let queries = 0
      let answeredWithRequests = 0
      const {kubectl, calls} = fake(async (args, signal) => {
        if (args[0] === 'patch') {
          held.take(JSON.parse(args.at(-1) as string).data as Record<string, unknown>)
          return {}
        }
        if (args[0] === 'get' && args[1] === 'configmap') {
          // The first poll that finds the requests is answered. Any other poll (it carries the step's signal) waits
          // until the first canary's abort stops it, as a kubectl still reading is killed then: the other canary's
          // step is stopped by the release's failure, whether in its poll or in its sleep between two, before it read
          // its own request. The read after the step carries no signal and is answered.
          if (Object.keys(requests).length > 0 && signal && answeredWithRequests++ > 0) {
            await new Promise<void>((resolve) => {
              if (signal.aborted) resolve()
              signal.addEventListener('abort', () => resolve(), {once: true})
              setTimeout(resolve, 3000)
            })
            if (signal.aborted) return {exitCode: -1, signal: 'SIGTERM'}
          }
          return held.read()
        }
        if (args[0] === 'get' && args[1]?.startsWith('deployments,replicasets'))
          return {stdout: JSON.stringify({items: ['shop', 'cart'].flatMap((n) => [deploymentStatus(`${n}-canary`, 2), deploymentStatus(n, 3)])})}
        if (args[0] === 'get' && args[1] === 'pods') {
          const name = (args[3] as string).includes('app.kubernetes.io/name=shop') ? 'shop' : 'cart'
          return {stdout: JSON.stringify({items: [{metadata: {name: `${name}-canary-1`}, status: {containerStatuses: [{name, ready: true, restartCount: 0}]}}]})}
        }
        if (args[0] === 'get' && args[1] === 'events') return {stdout: JSON.stringify({items: []})}
        if (args[0] === 'get') return {exitCode: 1, stderr: `unexpected ${args.join(' ')}`}
        return {}
      })
      // A query that answers only when its step is stopped; the second one to start asks both aborts.
      const fetch = ((_url: string, init: {signal: AbortSignal | null}) =>
        new Promise((_resolve, reject) => {
          if (++queries === 2) Object.assign(requests, {shop: 'abort', cart: 'abort'})
          const give = () => reject(new Error('the query was cancelled'))
          init.signal?.addEventListener('abort', give, {once: true})
          setTimeout(give, 5000)
        })) as unknown as typeof globalThis.fetch
      const objects = [labelled(deployment('shop:2'), 'shop'), labelled(service, 'shop'), labelled(deployment('cart:2'), 'cart'), labelled(service, 'cart')]
      const release = objects.map((o) => (o.kind === 'Deployment' ? {...o, metadata: {name: o.metadata.name, labels: o.metadata.labels}} : o))
      const live = new Map([labelled(deployment('shop:1'), 'shop'), labelled(deployment('cart:1'), 'cart')].map((o) => [`Deployment/${o.metadata.name}`, o]))
      const {units} = serviceUnits(markStrategies(release, both))
      const started = Date.now()
      const failures = await canary.complete(
        units.map((u) => canary.place(u, live)),
        context(kubectl, {intervalMs: 1, fetch}),
      )
      expect(queries, `round ${round}: both analyses ran`).to.equal(2)
      expect(Date.now() - started, `round ${round}`).to.be.below(2500)
      expectBothAborted(failures, calls, requests, 'aborted by skycap abort during the analysis of step 2', round)
    }
  })

  it('stopped (Ctrl-C, SIGTERM) while they come up: no abort, nothing recorded as failed, the step kept for `rollout resume` (it aborted and blamed the canary)', async () => {
    const controller = new AbortController()
    const {kubectl, calls} = fake((argv) => {
      // The signal comes while the canary is scaled up and its pods start.
      if (argv[0] === 'scale') controller.abort()
      if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: JSON.stringify({data: {}})}
      if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) return {stdout: JSON.stringify({items: [deploymentStatus('web-canary', 2, 0)]})}
      if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
      return {}
    })
    const error = await runCanary(unitOf({type: 'canary', steps}), context(kubectl, {signal: controller.signal, intervalMs: 1})).then(
      (f) => new Error(`returned ${JSON.stringify(f)}`),
      (e: Error) => e,
    )
    expect(error).to.be.instanceOf(InterruptedError)
    // The step is put back to the weight before it (none, at the first step): no canary pod takes traffic unrecorded.
    expect(calls.filter((c) => c[0] === 'scale').map((c) => c.join(' '))).to.deep.equal([
      'scale deployment web-canary --replicas=2',
      'scale deployment web --replicas=3',
      'scale deployment web-canary --replicas=0',
    ])
    expect(calls.filter((c) => c[0] === 'delete')).to.deep.equal([])
    const states = patched(calls)
      .filter(Boolean)
      .map((t) => JSON.parse(t as string) as {phase: string; step: number})
    expect(states.map((st) => st.phase)).to.deep.equal(['progressing'])
    expect(states.at(-1)?.step).to.equal(0)
  })

  it('stopped during a step, some canary pods ready: the step is put back to the weight recorded before it, so the state says what serves (it said 0% while they took traffic); at the first step and a later one, by replicas and by a route', async () => {
    // web has 4 replicas. [the step's weight, the weight before it (0: the first step), the route, the put-back calls]
    const cases: Array<[number, number, boolean, string[]]> = [
      [50, 0, false, ['scale deployment web --replicas=4', 'scale deployment web-canary --replicas=0']],
      [75, 0, false, ['scale deployment web --replicas=4', 'scale deployment web-canary --replicas=0']],
      [50, 25, false, ['scale deployment web --replicas=3', 'scale deployment web-canary --replicas=1']],
      [50, 25, true, ['patch httproutes.gateway.networking.k8s.io shop', 'scale deployment web --replicas=4', 'scale deployment web-canary --replicas=1']],
    ]
    for (const [weight, before, routed, putBack] of cases) {
      const when = `${before}% -> ${weight}%${routed ? ' (route)' : ''}`
      const controller = new AbortController()
      const route = {
        metadata: {name: 'shop'},
        spec: {
          rules: [
            {
              backendRefs: [
                {name: 'web-stable', weight: 100 - before},
                {name: 'web-canary', weight: before},
              ],
            },
          ],
        },
      }
      const {kubectl, calls} = fake((argv) => {
        if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: JSON.stringify({data: {}})}
        if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) {
          // The watch's first look: one canary pod ready, the others starting, and the signal comes.
          controller.abort()
          return {stdout: JSON.stringify({items: [deploymentStatus('web-canary', 3, 1)]})}
        }
        if (argv[0] === 'get' && argv[1] === 'httproutes.gateway.networking.k8s.io') return {stdout: JSON.stringify(route)}
        if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
        return {}
      })
      const strategy: ServiceConfig['strategy'] = {type: 'canary', steps: [{setWeight: 25}, {setWeight: weight}, {pause: {}}], ...(routed ? {trafficRouting: {gatewayAPI: {httpRoute: 'shop'}}} : {})}
      const resumed = before ? ({type: 'canary', release: 7, phase: 'progressing', startedBy: 'a', startedAt: 't', updatedAt: 't', step: 1, steps: 3, weight: before} as const) : undefined
      const unit = unitOf(strategy, [deployment('web:2', 4), service])
      const error = await runCanary(
        before ? unit : {...unit, strategy: {...strategy, steps: [{setWeight: weight}, {pause: {}}]}},
        context(kubectl, {signal: controller.signal, intervalMs: 1}),
        resumed && {...resumed},
      ).then(
        (f) => new Error(`returned ${JSON.stringify(f)}`),
        (e: Error) => e,
      )
      expect(error, when).to.be.instanceOf(InterruptedError)
      expect(
        calls.filter((c) => c[0] === 'delete'),
        `${when}: not aborted`,
      ).to.deep.equal([])
      const changes = calls.filter((c) => c[0] === 'scale' || (c[0] === 'patch' && c[1] !== 'configmap')).map((c) => (c[0] === 'scale' ? c : c.slice(0, 3)).join(' '))
      const stepUp = `scale deployment web-canary --replicas=${routed ? Math.ceil((4 * weight) / 100) : Math.round((4 * weight) / 100)}`
      expect(changes, when).to.deep.equal([stepUp, ...putBack])
      if (routed) {
        const patched = JSON.parse(calls.find((c) => c[0] === 'patch' && c[1]?.startsWith('httproutes'))?.at(-1) as string)
        expect(
          patched.spec.rules[0].backendRefs.map((r: {weight: number}) => r.weight),
          when,
        ).to.deep.equal([100 - before, before])
      }
      const saved = lastState(calls, 'web')
      expect(saved, when).to.include({phase: 'progressing', step: before ? 1 : 0, weight: before})
    }
  })

  it('stopped during a step, and the put-back refused: the deploy still stops as interrupted, saying the canary may take traffic and what to do', async () => {
    const controller = new AbortController()
    const warnings: string[] = []
    const {kubectl} = fake((argv) => {
      if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: JSON.stringify({data: {}})}
      if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) {
        controller.abort()
        return {stdout: JSON.stringify({items: [deploymentStatus('web-canary', 2, 1)]})}
      }
      if (argv[0] === 'scale' && argv[2] === 'web') return {exitCode: 1, stderr: 'Error from server (Forbidden): deployments.apps "web" is forbidden'}
      if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
      return {}
    })
    const ctx = context(kubectl, {signal: controller.signal, intervalMs: 1})
    ctx.reporter.warn = (m: string) => warnings.push(m)
    const error = await runCanary(unitOf({type: 'canary', steps: [{setWeight: 50}]}, [deployment('web:2', 4), service]), ctx).then(
      (f) => new Error(`returned ${JSON.stringify(f)}`),
      (e: Error) => e,
    )
    expect(error).to.be.instanceOf(InterruptedError)
    expect(warnings).to.have.length(1)
    expect(warnings[0]).to.match(
      /^web: stopped during the step to 50%, and could not put it back to 0% \(.*forbidden.*\): the canary's ready pods may take traffic; `skycap rollout resume prod` runs the step again, `skycap abort prod web` returns to stable$/,
    )
  })

  it('not ready in time: the abort’s report has the canary’s events, read before the canary is deleted (it had only the watch’s sentence)', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z')
    // Each look at the clock is a minute later: the wait for the canary runs out after its first poll.
    const clock = () => (now += 61_000)
    const event = {type: 'Warning', reason: 'Unhealthy', message: 'Readiness probe failed: HTTP probe failed with statuscode: 503', involvedObject: {kind: 'Deployment', name: 'web-canary'}}
    const order: string[] = []
    const {kubectl} = fake((argv) => {
      order.push(argv[0] === 'get' ? `get ${argv[1]}` : (argv[0] as string))
      if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: JSON.stringify({data: {}})}
      if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) return {stdout: JSON.stringify({items: [deploymentStatus('web-canary', 2, 0), deploymentStatus('web', 3, 3)]})}
      if (argv[0] === 'get' && argv[1] === 'events') return {stdout: JSON.stringify({items: [event]})}
      if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
      return {}
    })
    const failure = await runCanary(unitOf({type: 'canary', steps}), context(kubectl, {clock, deadline: now + 60_000, intervalMs: 1}))
    expect(failure?.ref).to.equal('Deployment/web-canary')
    expect(failure?.message).to.match(/^still not ready: 0\/2 updated|^still not ready: 2\/2 updated, 0 ready/)
    expect(failure?.events.map((e) => `${e.reason}: ${e.message}`)).to.deep.equal(['Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503'])
    expect(order.indexOf('get events'), 'explained before the canary is deleted').to.be.within(0, order.indexOf('delete'))
  })
})

describe('a canary whose pods crash after they became ready', () => {
  it('restarted during the pause: aborted before promotion, with the restarts in the report (the crash-looping release was promoted to every replica)', async () => {
    let podReads = 0
    const pod = (restarts: number) => ({
      metadata: {name: 'web-canary-1-a'},
      status: {containerStatuses: [{name: 'web', ready: restarts === 0, restartCount: restarts, lastState: restarts ? {terminated: {exitCode: 2, reason: 'Error'}} : {}}]},
    })
    // Running the steps again would pause for a promote that never comes: the signal ends that wait after 5 s
    // (kubectl, as execa runs it, refuses to start once the signal fired).
    const stop = AbortSignal.timeout(5000)
    const {kubectl, calls} = fake((argv) => {
      if (stop.aborted) throw new Error('interrupted')
      if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: JSON.stringify({data: {}})}
      if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) return {stdout: JSON.stringify({items: [deploymentStatus('web-canary', 2), deploymentStatus('web', 3)]})}
      // Ready and never restarted when the step's checks look; restarted twice by the end of the pause.
      if (argv[0] === 'get' && argv[1] === 'pods') return {stdout: JSON.stringify({items: [pod(podReads++ === 0 ? 0 : 2)]})}
      if (argv[0] === 'get' && argv[1] === 'events') return {stdout: JSON.stringify({items: []})}
      if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
      return {}
    })
    const failure = await runCanary(unitOf({type: 'canary', steps: [{setWeight: 50}, {pause: {duration: '1s'}}]}), context(kubectl, {intervalMs: 1}))
    expect(failure?.ref).to.equal('check/pods web')
    expect(failure?.message).to.equal('container web of pod web-canary-1-a restarted 2 times (last exit code 2, Error) and is not ready')
    expect(
      calls.filter((c) => c[0] === 'apply'),
      'the stable Deployment never took the release',
    ).to.deep.equal([])
    expect(calls.filter((c) => c[0] === 'scale').map((c) => c.join(' '))).to.include('scale deployment web --replicas=3')
  })
})

/** A thrown error as the test reports it (the canary returns failures; an interruption throws). */
function checkFailureOf(error: Error): {ref: string; message: string} {
  return {ref: 'thrown', message: error.message}
}

describe('blue-green state after an automatic rollback', () => {
  const stateOf = (services: Record<string, unknown>) => ({stdout: JSON.stringify({data: Object.fromEntries(Object.entries(services).map(([k, v]) => [k, JSON.stringify(v)]))})})
  const base = {type: 'blueGreen', phase: 'completed', startedBy: 'u', startedAt: 't', updatedAt: 't'}
  // The deploy switched web to green, then another service failed and the rollback re-applied release 3's objects.
  const switched = {...base, release: 4, activeSlot: 'green', previousSlot: 'blue', scaleDownAt: '2026-01-01T00:00:00.000Z'}
  const serviceSelecting = (slot: string) => ({...service, spec: {...(service.spec as object), selector: {...LABELS, [SLOT_LABEL]: slot}}})
  const patches = (calls: string[][]) => calls.filter((c) => c[0] === 'patch' && c[1] === 'configmap').map((c) => JSON.parse(c.at(-1) as string) as {data: Record<string, string | null>})

  it('the state follows the slot the re-applied Service selects, with nothing left to scale down', async () => {
    const {kubectl, calls} = fake((argv) => (argv[0] === 'get' && argv[1] === 'configmap' ? stateOf({web: switched, api: {...base, type: 'canary', release: 4, phase: 'failed'}}) : {}))
    const changed = await followAppliedSlots(kubectl, 'shop', 'prod', [serviceSelecting('blue'), deployment()], 5, {clock: () => Date.parse('2026-01-01T00:00:00Z'), user: 'u'})
    expect(changed).to.deep.equal(['web'])
    const written = JSON.parse(patches(calls)[0]?.data.web as string)
    expect(written).to.include({type: 'blueGreen', release: 5, phase: 'completed', activeSlot: 'blue'})
    expect(written).to.not.have.any.keys('previousSlot', 'scaleDownAt')
  })

  it('leaves the state alone when the failed release never switched the Service', async () => {
    const {kubectl, calls} = fake((argv) => (argv[0] === 'get' && argv[1] === 'configmap' ? stateOf({web: {...base, release: 3, activeSlot: 'blue'}}) : {}))
    expect(await followAppliedSlots(kubectl, 'shop', 'prod', [serviceSelecting('blue')], 5, {clock: Date.now, user: 'u'})).to.deep.equal([])
    expect(patches(calls)).to.deep.equal([])
  })

  it('the scale-down never stops the slot the live Service selects, whatever the state says', async () => {
    const {kubectl, calls} = fake((argv) => {
      if (argv[0] === 'get' && argv[1] === 'configmap') return stateOf({web: switched})
      if (argv[0] === 'get' && argv[1] === 'service') return {stdout: JSON.stringify(serviceSelecting('blue'))}
      if (argv[0] === 'get' && argv[1] === 'lease') return {stdout: ''}
      return {}
    })
    const warnings: string[] = []
    const reporter = {info: () => undefined, warn: (m: string) => warnings.push(m)} as unknown as StrategyContext['reporter']
    const {scaled} = await scaleDownOldSlots(kubectl, {services: svc({type: 'blueGreen'}), app: 'shop', environment: 'prod', reporter, clock: () => Date.parse('2026-01-01T00:05:00Z')})
    expect(scaled).to.deep.equal([])
    expect(calls.filter((c) => c[0] === 'scale')).to.deep.equal([])
    expect(warnings.join('\n')).to.include('not scaling web-blue to 0: Service/web selects it')
    expect(JSON.parse(patches(calls)[0]?.data.web as string))
      .to.include({activeSlot: 'blue'})
      .and.not.have.any.keys('previousSlot', 'scaleDownAt')
  })
})

describe('the old slots’ scale-down after a live, recorded release', () => {
  const stateOf = (services: Record<string, unknown>) => ({stdout: JSON.stringify({data: Object.fromEntries(Object.entries(services).map(([k, v]) => [k, JSON.stringify(v)]))})})
  const switched = {
    type: 'blueGreen',
    phase: 'completed',
    startedBy: 'u',
    startedAt: 't',
    updatedAt: 't',
    release: 4,
    activeSlot: 'green',
    previousSlot: 'blue',
    scaleDownAt: '2026-01-01T00:00:00.000Z',
  }
  const serviceSelecting = (slot: string) => ({...service, spec: {...(service.spec as object), selector: {...LABELS, [SLOT_LABEL]: slot}}})
  const REFUSED = 'The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?'
  const patches = (calls: string[][]) => calls.filter((c) => c[0] === 'patch' && c[1] === 'configmap').map((c) => JSON.parse(c.at(-1) as string) as {data: Record<string, string | null>})
  /** A clock that moves `stepMs` with every kubectl call: an outage of `n` calls lasts `n` steps. */
  const run = async (answer: (argv: string[], n: number) => {exitCode?: number; stdout?: string; stderr?: string} | undefined, stepMs = 1000) => {
    let now = Date.parse('2026-01-01T00:05:00Z')
    let n = 0
    const {kubectl, calls} = fake((argv) => {
      now += stepMs
      const own = answer(argv, n++)
      if (own) return own
      if (argv[0] === 'get' && argv[1] === 'configmap') return stateOf({web: switched})
      if (argv[0] === 'get' && argv[1] === 'service') return {stdout: JSON.stringify(serviceSelecting('green'))}
      if (argv[0] === 'get' && argv[1] === 'lease') return {stdout: ''}
      return {}
    })
    const said: string[] = []
    const reporter = {info: (m: string) => said.push(m), warn: (m: string) => said.push(`warn: ${m}`)} as unknown as StrategyContext['reporter']
    // The waits between two looks at a held lock move the clock, not the test's time.
    const slept: number[] = []
    const sleep = async (ms: number) => {
      slept.push(ms)
      now += ms
    }
    const {scaled, left} = await scaleDownOldSlots(kubectl, {services: svc({type: 'blueGreen'}), app: 'shop', environment: 'prod', reporter, clock: () => now, intervalMs: 1, sleep})
    return {scaled, left, calls, said, slept}
  }
  const EXISTS = 'Error from server (AlreadyExists): leases.coordination.k8s.io "skycap-lock-shop" already exists'
  /** The lock as `get lease` shows it: taken at 00:05:00 for `seconds`, by hand or by a running command. */
  const heldLease = (heldBy: 'hand' | 'command', reason: string, seconds: number) => ({
    stdout: JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {name: 'skycap-lock-shop', annotations: {'skycap.dev/reason': reason, 'skycap.dev/lock-id': 'theirs', 'skycap.dev/environment': 'prod', 'skycap.dev/held-by': heldBy}},
      spec: {holderIdentity: 'ana@laptop', leaseDurationSeconds: seconds, acquireTime: '2026-01-01T00:05:00.000000Z', renewTime: '2026-01-01T00:05:00.000000Z'},
    }),
  })

  it('a lock taken by hand is not waited for: one line leaves the old slot to the next deploy, rollback or rollout resume, and the result says so (the deploy sat silent until the lock expired)', async () => {
    const {scaled, left, calls, said, slept} = await run((argv) => {
      if (argv[0] === 'create') return {exitCode: 1, stderr: EXISTS}
      if (argv[0] === 'get' && argv[1] === 'lease') return heldLease('hand', 'hotfix window', 180)
      return undefined
    })
    const line = 'prod is locked by ana@laptop since 2026-01-01T00:05:00.000Z (hotfix window)'
    expect(said).to.deep.equal([`warn: not scaling web-blue to 0: ${line}, held until 2026-01-01T00:08:00.000Z; the next deploy, rollback or \`skycap rollout resume prod\` scales it down`])
    expect(slept, 'no wait for the lock').to.deep.equal([])
    expect(
      calls.filter((c) => c[0] === 'create'),
      'one try',
    ).to.have.length(1)
    expect(
      calls.filter((c) => c[0] === 'scale' || c[0] === 'patch' || c[0] === 'delete' || c[0] === 'replace'),
      'nothing changed, their lock kept',
    ).to.deep.equal([])
    expect(scaled).to.deep.equal([])
    expect(left).to.deep.equal({slots: ['web-blue'], reason: line})
  })

  it('a lock a command holds is waited for, briefly and saying so: taken once it is free, left when it is not free in time', async () => {
    for (const freeAfterLooks of [3, Infinity]) {
      let looks = 0
      const {scaled, left, calls, said, slept} = await run((argv) => {
        if (argv[0] === 'create') return looks >= freeAfterLooks ? {} : {exitCode: 1, stderr: EXISTS}
        if (argv[0] === 'get' && argv[1] === 'lease') return ++looks > freeAfterLooks ? {stdout: ''} : heldLease('command', 'scale test', 60)
        return undefined
      })
      const waiting = said.filter((m) => m.includes('waiting for it'))
      expect(waiting, `one waiting line (free after ${freeAfterLooks} looks)`).to.deep.equal([
        `Scaling web-blue to 0: prod is locked by ana@laptop since 2026-01-01T00:05:00.000Z (scale test); waiting for it (up to ${SCALE_DOWN_LOCK_WAIT_MS / 1000 - 2}s more)`,
      ])
      expect(
        slept.reduce((a, b) => a + b, 0),
        'never longer than the scale-down waits for a lock',
      ).to.be.at.most(SCALE_DOWN_LOCK_WAIT_MS)
      if (freeAfterLooks === 3) {
        expect(scaled).to.deep.equal(['web-blue'])
        expect(calls.filter((c) => c[0] === 'scale')).to.deep.equal([['scale', 'deployment', 'web-blue', '--replicas=0']])
        expect(left).to.equal(undefined)
      } else {
        expect(scaled).to.deep.equal([])
        expect(calls.filter((c) => c[0] === 'scale')).to.deep.equal([])
        expect(said.at(-1)).to.equal(
          'warn: not scaling web-blue to 0: prod is locked by ana@laptop since 2026-01-01T00:05:00.000Z (scale test); the next deploy, rollback or `skycap rollout resume prod` scales it down',
        )
        expect(left?.slots).to.deep.equal(['web-blue'])
      }
    }
  })

  it('waits out an API server that stops answering (the release is live and recorded), then scales the old slot down (it exited 4 after a successful deploy)', async () => {
    // The second to fifth calls (the lock's take, the state read under it) find no server.
    const {scaled, calls, said} = await run((_argv, n) => (n >= 1 && n <= 4 ? {exitCode: 1, stderr: REFUSED} : undefined))
    expect(scaled).to.deep.equal(['web-blue'])
    expect(calls.filter((c) => c[0] === 'scale')).to.deep.equal([['scale', 'deployment', 'web-blue', '--replicas=0']])
    expect(JSON.parse(patches(calls).at(-1)?.data.web as string)).to.include({scaledDown: true})
    expect(said.filter((m) => m.startsWith('warn: the API server does not answer'))).to.have.length(1)
    expect(said.join('\n')).to.match(/the release is live and recorded; skycap scales the old slots down once it answers \(each step waits up to 60s\)/)
    expect(said).to.include('Scaled web-blue to 0')
  })

  it('an API server that does not answer in time is a warning, not a failed deploy; the slot is left for the next scale-down', async () => {
    // From the scale on, nothing answers; each refused call takes 15 s.
    let down = false
    const {scaled, calls, said} = await run((argv) => {
      down ||= argv[0] === 'scale'
      return down ? {exitCode: 1, stderr: REFUSED} : undefined
    }, 15_000)
    expect(scaled).to.deep.equal([])
    expect(patches(calls), 'nothing says web-blue was scaled down').to.deep.equal([])
    expect(said.join('\n')).to.match(
      /warn: could not scale the old blue-green slots down: the API server does not answer \(the connection to the server 10\.0\.0\.1:6443 was refused\); the next deploy, rollback or `skycap rollout resume` scales them down/,
    )
  })

  it('an old slot at 0 already (scaled to 0 before the deploy) is not waited for: nothing is kept for a rollback (the deploy waited out scaleDownDelay, saying it kept it)', async () => {
    const later = {...switched, scaleDownAt: '2026-01-01T01:00:00.000Z'}
    for (const replicas of [0, 2]) {
      const {kubectl, calls} = fake((argv) => {
        if (argv[0] === 'get' && argv[1] === 'configmap') return stateOf({web: later})
        // One name: kubectl prints the object itself, not a List.
        if (argv[0] === 'get' && argv[1] === 'deployments') return {stdout: JSON.stringify({metadata: {name: 'web-blue'}, spec: {replicas}})}
        if (argv[0] === 'get' && argv[1] === 'service') return {stdout: JSON.stringify(serviceSelecting('green'))}
        if (argv[0] === 'get' && argv[1] === 'lease') return {stdout: ''}
        return {}
      })
      const said: string[] = []
      const reporter = {info: (m: string) => said.push(m), warn: (m: string) => said.push(`warn: ${m}`)} as unknown as StrategyContext['reporter']
      // At 2 replicas the wait is cut short by the signal (it would last an hour).
      const stop = new AbortController()
      setTimeout(() => stop.abort(), 50)
      const now = Date.parse('2026-01-01T00:05:00Z')
      const {scaled, left} = await scaleDownOldSlots(kubectl, {services: svc({type: 'blueGreen'}), app: 'shop', environment: 'prod', reporter, clock: () => now, signal: stop.signal})
      if (replicas === 0) {
        expect(said.join('\n')).to.not.contain('for an instant rollback')
        expect(scaled, 'not said to be scaled: it was at 0').to.deep.equal([])
        expect(JSON.parse(patches(calls).at(-1)?.data.web as string)).to.include({scaledDown: true})
      } else {
        expect(said).to.include('Keeping web-blue for an instant rollback until 2026-01-01T01:00:00.000Z')
        expect(calls.filter((c) => c[0] === 'scale')).to.deep.equal([])
        // The Ctrl-C that cut the wait short leaves the slot up, said and in --json (it exited 0 without a word).
        expect(said).to.include('warn: interrupted while keeping web-blue for an instant rollback: it stays up; the next deploy, rollback or `skycap rollout resume prod` scales it down')
        expect(left).to.deep.equal({slots: ['web-blue'], reason: 'interrupted during scaleDownDelay'})
      }
    }
  })

  it('a scale the API server refuses is a warning, and the state does not say the slot went (it said scaledDown, and nothing scaled it down again)', async () => {
    const forbidden = 'Error from server (Forbidden): deployments.apps "web-blue" is forbidden: User "ci" cannot patch resource "deployments/scale"'
    const {scaled, calls, said} = await run((argv) => (argv[0] === 'scale' ? {exitCode: 1, stderr: forbidden} : undefined))
    expect(scaled).to.deep.equal([])
    expect(patches(calls)).to.deep.equal([])
    expect(said.find((m) => m.startsWith('warn: could not scale web-blue to 0:'))).to.match(/forbidden.*; the next deploy, rollback or `skycap rollout resume` tries again$/)
  })
})

describe('a blue-green rollout stopped before it recorded its switch (SIGTERM, Ctrl-C, a killed CLI)', () => {
  const stateOf = (services: Record<string, unknown>) => ({stdout: JSON.stringify({data: Object.fromEntries(Object.entries(services).map(([k, v]) => [k, JSON.stringify(v)]))})})
  const patches = (calls: string[][]) => calls.filter((c) => c[0] === 'patch' && c[1] === 'configmap').map((c) => JSON.parse(c.at(-1) as string) as {data: Record<string, string | null>})
  const serviceSelecting = (slot: string) => ({...service, spec: {...(service.spec as object), selector: {...LABELS, [SLOT_LABEL]: slot}}})
  const base = {type: 'blueGreen', startedBy: 'u', startedAt: 't', updatedAt: 't'}
  // A rollback to release 3 was bringing web-green up while web-blue served.
  const comingUp = {...base, release: 5, phase: 'progressing', activeSlot: 'blue', previousSlot: 'green', scaleDownAt: '2026-01-01T00:00:00.000Z', message: 'web-green is coming up for release 5'}
  const scaleDown = async (serving: string) => {
    const {kubectl, calls} = fake((argv) => {
      if (argv[0] === 'get' && argv[1] === 'configmap') return stateOf({web: comingUp})
      if (argv[0] === 'get' && argv[1] === 'service') return {stdout: JSON.stringify(serviceSelecting(serving))}
      if (argv[0] === 'get' && argv[1] === 'lease') return {stdout: ''}
      return {}
    })
    const reporter = {info: () => undefined, warn: () => undefined} as unknown as StrategyContext['reporter']
    const {scaled} = await scaleDownOldSlots(kubectl, {services: svc({type: 'blueGreen'}), app: 'shop', environment: 'prod', reporter, clock: () => Date.parse('2026-01-01T00:05:00Z')})
    return {scaled, calls, written: JSON.parse(patches(calls).at(-1)?.data.web as string)}
  }

  it('a rollout records the slot it brings up, not serving and due for scale-down at once, before it applies anything', async () => {
    const blue = {...deployment('web:1'), metadata: {name: 'web-blue', labels: LABELS, annotations: {[TEMPLATE_ANNOTATION]: 'old'}}}
    const {kubectl, calls} = fake((argv) => {
      if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: ''}
      if (argv[0] === 'get' && argv[1] === 'deployments,services') return {stdout: JSON.stringify({items: [serviceSelecting('blue'), blue]})}
      if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets')) {
        const status = {observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3}
        return {stdout: JSON.stringify({items: [{apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'web-green', generation: 1}, spec: {replicas: 3}, status}]})}
      }
      // The new slot has no pods: its checks fail (where the rollout ends does not matter here).
      if (argv[0] === 'get' && argv[1] === 'pods') return {stdout: JSON.stringify({items: []})}
      if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
      return {}
    })
    const now = Date.parse('2026-01-01T00:00:00Z')
    await rollOutRelease({...releaseOf(context(kubectl), [deployment(), service], svc({type: 'blueGreen'})), clock: () => now})
    const recorded = calls.findIndex((c) => c[0] === 'patch' && c[1] === 'configmap')
    expect(recorded).to.be.within(
      0,
      calls.findIndex((c) => c[0] === 'apply'),
    )
    expect(JSON.parse(patches(calls)[0]?.data.web as string)).to.include({
      type: 'blueGreen',
      release: 5,
      phase: 'progressing',
      activeSlot: 'blue',
      previousSlot: 'green',
      scaleDownAt: '2026-01-01T00:00:00.000Z',
    })
  })

  it('rollout status says the slot is coming up, not that it is scaled to 0', () => {
    const line = rolloutStatusLines({environment: 'prod', services: {web: comingUp as never}, lock: null})
    expect(line).to.include('web: blueGreen progressing, release 5, active slot blue, green coming up (not serving); web-green is coming up for release 5')
    expect(line).to.not.include('scaled to 0')
  })

  it('rollout status says an old slot whose scale-down time has passed with no deploy under way is left up, with the command that ends it (it said "kept until" a past time)', () => {
    const kept = {type: 'blueGreen', phase: 'succeeded', release: 6, activeSlot: 'green', previousSlot: 'blue', scaleDownAt: '2026-01-01T00:05:00.000Z'}
    const at = (iso: string, lock: RolloutStatusReport['lock'] = null) => rolloutStatusLines({environment: 'prod', services: {web: kept as never}, lock}, Date.parse(iso))
    // Before the time: kept until then.
    expect(at('2026-01-01T00:04:00.000Z')).to.include('web: blueGreen succeeded, release 6, active slot green, previous blue kept until 2026-01-01T00:05:00.000Z\n')
    // After it, the lock free: nothing will scale it down by itself.
    expect(at('2026-01-01T00:06:00.000Z')).to.include('previous blue left up since 2026-01-01T00:05:00.000Z, its scale-down not done (`skycap rollout resume prod` or the next deploy scales it to 0)')
    // After it with the deploy still holding the lock (about to scale it down): still "kept until".
    const lock = {holder: 'ci@runner', reason: 'deploy prod@abc', expired: false} as unknown as RolloutStatusReport['lock']
    expect(at('2026-01-01T00:06:00.000Z', lock)).to.include('previous blue kept until 2026-01-01T00:05:00.000Z')
  })

  it('rollout status says a canary is aborting, not only in --json', () => {
    const aborting = {type: 'canary', phase: 'progressing', release: 7, weight: 50, step: 1, steps: 3, aborting: {ref: 'abort', message: 'aborted by skycap abort'}}
    const line = rolloutStatusLines({environment: 'prod', services: {shop: aborting as never}, lock: null})
    expect(line).to.include('shop: canary progressing, release 7, weight 50%, step 2/3; aborting, all traffic going back to stable (aborted by skycap abort)')
    expect(rolloutStatusLines({environment: 'prod', services: {shop: {...aborting, aborting: undefined} as never}, lock: null})).to.not.include('aborting')
    const promoting = rolloutStatusLines({environment: 'prod', services: {shop: {...aborting, aborting: undefined, promoting: true} as never}, lock: null})
    expect(promoting).to.include('shop: canary progressing, release 7, weight 50%, step 2/3; promoting: shop is taking the release (too late to abort;')
  })

  it('rollout status and history of a canary that was aborted, failed or never started show no weight: "weight 0%, step 2/3" read as a canary at step 2', () => {
    const aborted = {type: 'canary', phase: 'aborted', release: 7, weight: 0, step: 1, steps: 3, message: 'aborted by skycap abort during step 2 (weight 50%)'}
    const line = (s: object) => rolloutStatusLines({environment: 'prod', services: {shop: s as never}, lock: null}).split('\n')[0]
    expect(line(aborted)).to.equal('shop: canary aborted, release 7, stopped at step 2/3, all traffic on stable; aborted by skycap abort during step 2 (weight 50%)')
    const notStarted = {...aborted, step: 0, message: 'not started: release 7 failed before it (Deployment/web-green)'}
    expect(line(notStarted)).to.equal('shop: canary aborted, release 7; not started: release 7 failed before it (Deployment/web-green)')
    // A promotion that failed: the service's Deployment runs the release, no stable to go back to.
    const promotion = {...aborted, phase: 'failed', step: 2, promoting: true, message: 'Deployment/shop: timed out'}
    expect(line(promotion)).to.equal('shop: canary failed, release 7, stopped at step 3/3, while shop took the release (it runs it); Deployment/shop: timed out')
    // Under way and done, the weight as before.
    expect(line({...aborted, phase: 'paused', weight: 50, message: undefined})).to.equal('shop: canary paused, release 7, weight 50%, step 2/3')
    expect(line({...aborted, phase: 'completed', weight: 100, step: 3, message: undefined})).to.equal('shop: canary completed, release 7, weight 100%, step 3/3')
    const record = (phase: string) =>
      ({
        number: 7,
        action: 'deploy',
        result: 'failed',
        user: 'u',
        startedAt: 't',
        durationMs: 1,
        revision: {subject: 's'},
        rollouts: {api: {type: 'canary', phase, weight: 0, step: 1, steps: 3}},
      }) as unknown as ReleaseRecord
    expect(historyNote(record('aborted'))).to.equal('s; api: canary stopped at step 2/3 (aborted)')
    expect(historyNote(record('paused'))).to.equal('s; api: canary at 0%, step 2/3 (paused)')
  })

  it('stopped before the switch: the next scale-down stops the slot that came up, and the state says so', async () => {
    const {scaled, calls, written} = await scaleDown('blue')
    expect(scaled).to.deep.equal(['web-green'])
    expect(calls.filter((c) => c[0] === 'scale')).to.deep.equal([['scale', 'deployment', 'web-green', '--replicas=0']])
    expect(written).to.include({phase: 'aborted', activeSlot: 'blue', previousSlot: 'green', scaledDown: true, message: 'release 5 stopped before its switch; web-green scaled to 0'})
  })

  it('stopped after the switch: the slot that came up serves, and the one that served before is stopped', async () => {
    const {scaled, calls, written} = await scaleDown('green')
    expect(scaled).to.deep.equal(['web-blue'])
    expect(calls.filter((c) => c[0] === 'scale')).to.deep.equal([['scale', 'deployment', 'web-blue', '--replicas=0']])
    expect(written).to.include({phase: 'completed', activeSlot: 'green', previousSlot: 'blue', scaledDown: true})
  })

  it('stopped during the switch or while the endpoints move: the state names the new slot as serving (status and the record named the old one); stopped during the switch, as the live Service says', async () => {
    const unit = unitOf({type: 'blueGreen'})
    const blue = {...deployment('web:1'), metadata: {name: 'web-blue', labels: LABELS, annotations: {[TEMPLATE_ANNOTATION]: 'old'}}}
    const p = blueGreen.place(
      unit,
      new Map<string, KubeObject>([
        ['Service/web', serviceSelecting('blue')],
        ['Deployment/web-blue', blue],
      ]),
    )
    expect([p.slot, p.previousSlot]).to.deep.equal(['green', 'blue'])
    // `apply reached the server`: kubectl was killed after the API server took the Service's new selector.
    for (const when of ['endpoints', 'apply', 'apply reached the server'] as const) {
      const abort = new AbortController()
      const {kubectl, calls} = fake((argv) => {
        if (argv[0] === 'get' && argv[1] === 'configmap') return stateOf({web: comingUp})
        if (argv[0] === 'get' && argv[1] === 'service') return {stdout: JSON.stringify(serviceSelecting(when === 'apply' ? 'blue' : 'green'))}
        // A cancelled CI job: the group's SIGTERM kills the kubectl of that moment, and skycap's handler aborts.
        if ((when === 'endpoints' && argv[0] === 'get' && argv[1] === 'endpointslices') || (when !== 'endpoints' && argv[0] === 'apply')) {
          abort.abort()
          return {exitCode: 1, signal: 'SIGTERM'}
        }
        // The new slot's pod is ready: its checks pass, and the switch is applied.
        if (argv[0] === 'get' && argv[1] === 'pods') return {stdout: JSON.stringify({items: [{metadata: {name: 'p1'}, status: {containerStatuses: [{name: 'web', ready: true, restartCount: 0}]}}]})}
        return argv[0] === 'get' ? {stdout: JSON.stringify({items: []})} : {}
      })
      const error = await blueGreen.complete([p], context(kubectl, {signal: abort.signal})).catch((e: unknown) => e)
      expect(error, when).to.be.instanceOf(InterruptedError)
      const written = patches(calls).map((x) => JSON.parse(x.data.web as string))
      if (when === 'apply') expect(written, 'the Service still selects blue: nothing is said to have switched').to.deep.equal([])
      else expect(written.at(-1), when).to.include({phase: 'completed', activeSlot: 'green', previousSlot: 'blue', release: 7})
    }
  })

  it('a redeploy of what the active slot runs keeps the other slot due for scale-down (it forgot it, and the slot stayed up)', async () => {
    const unit = unitOf({type: 'blueGreen'})
    const blue = {...deployment(), metadata: {name: 'web-blue', labels: LABELS, annotations: {[TEMPLATE_ANNOTATION]: templateHash(unit.deployment)}}}
    const p = blueGreen.place(
      unit,
      new Map<string, KubeObject>([
        ['Service/web', serviceSelecting('blue')],
        ['Deployment/web-blue', blue],
      ]),
    )
    expect([p.slot, p.previousSlot]).to.deep.equal(['blue', undefined])
    const {kubectl, calls} = fake((argv) => {
      if (argv[0] === 'get' && argv[1] === 'configmap') return stateOf({web: comingUp})
      if (argv[0] === 'get' && argv[1] === 'endpointslices') return {stdout: JSON.stringify({items: [{endpoints: [{targetRef: {name: 'p1'}, conditions: {ready: true}}]}]})}
      if (argv[0] === 'get' && argv[1] === 'pods') return {stdout: JSON.stringify({items: [{metadata: {name: 'p1'}}]})}
      return {}
    })
    expect(await blueGreen.complete([p], context(kubectl))).to.deep.equal([])
    expect(JSON.parse(patches(calls).at(-1)?.data.web as string)).to.include({phase: 'completed', activeSlot: 'blue', previousSlot: 'green', scaleDownAt: comingUp.scaleDownAt})
  })
})

describe('switching a service away from blue-green (to rolling or canary, by a deploy or a rollback)', () => {
  const bg = (slot: string) => JSON.stringify({type: 'blueGreen', release: 5, phase: 'completed', activeSlot: slot})
  const dep = (name: string): KubeObject => ({apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name}})

  it('forgets the blue-green state of every service the release keeps no slot of, and only of those (a later deploy with nothing to prune forgot nothing)', async () => {
    const {kubectl, calls} = fake((argv) =>
      argv[0] === 'get' ? {stdout: JSON.stringify({data: {web: bg('blue'), api: bg('green'), shop: JSON.stringify({type: 'canary', release: 5, phase: 'completed'})}})} : {},
    )
    // web is rolling (or canary) now: its own Deployment; api keeps its slot; shop is a canary.
    const gone = await forgetLeftBlueGreen(kubectl, 'shop', 'prod', [dep('web'), dep('api-green'), dep('api-blue'), dep('shop'), {apiVersion: 'v1', kind: 'Service', metadata: {name: 'web-blue'}}])
    expect(gone).to.deep.equal(['web'])
    expect(calls.filter((c) => c[0] === 'patch')).to.deep.equal([['patch', 'configmap', 'skycap-rollout-shop', '--type', 'merge', '-p', JSON.stringify({data: {web: null}})]])
    const none = fake((argv) => (argv[0] === 'get' ? {stdout: JSON.stringify({data: {api: bg('green')}})} : {}))
    expect(await forgetLeftBlueGreen(none.kubectl, 'shop', 'prod', [dep('api-blue')])).to.deep.equal([])
    expect(none.calls.filter((c) => c[0] === 'patch')).to.deep.equal([])
  })

  it('reads the state only for an app that is or was blue-green', () => {
    expect(mayHaveBlueGreenState({web: {strategy: {type: 'rolling'}}}, [{rollouts: {web: {type: 'canary', phase: 'completed'}}}, {}])).to.equal(false)
    expect(mayHaveBlueGreenState({web: {strategy: {type: 'blueGreen'}}}, [])).to.equal(true)
    expect(mayHaveBlueGreenState({web: {}}, [{}, {rollouts: {web: {type: 'blueGreen', phase: 'completed', slot: 'blue'}}}])).to.equal(true)
  })
})

describe('history of blue-green and canary releases', () => {
  const state = (data: Record<string, unknown>) => ({
    stdout: JSON.stringify({data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))}),
  })
  const base = {startedBy: 'u', startedAt: 't', updatedAt: 't'}

  it("records where this release's rollouts ended (slot, weight, step), ignores other releases' and an unreadable state, and history shows it", async () => {
    const {kubectl, calls} = fake((argv) =>
      argv.includes('skycap-rollout-shop')
        ? state({
            web: {...base, type: 'blueGreen', release: 7, phase: 'completed', activeSlot: 'green', previousSlot: 'blue'},
            api: {...base, type: 'canary', release: 7, phase: 'paused', weight: 25, step: 1, steps: 4},
            old: {...base, type: 'canary', release: 6, phase: 'completed', weight: 100, step: 4, steps: 4},
            'web.request': 'promote',
          })
        : {},
    )
    const services = {web: {strategy: {type: 'blueGreen'}}, api: {strategy: {type: 'canary'}}, db: {}}
    const rollouts = await rolloutSummaries(kubectl, 'shop', services, 7)
    expect(rollouts).to.deep.equal({
      web: {type: 'blueGreen', phase: 'completed', slot: 'green'},
      api: {type: 'canary', phase: 'paused', weight: 25, step: 1, steps: 4},
    })
    expect(calls).to.have.length(1)
    const record = {number: 7, action: 'deploy', result: 'succeeded', user: 'u', startedAt: 't', durationMs: 1, revision: {subject: 'ship it'}, rollouts} as unknown as ReleaseRecord
    expect(historyNote(record)).to.equal('ship it; web: blue-green, serving green (completed); api: canary at 25%, step 2/4 (paused)')
    // The commit's author by name (the address is in --json); none recorded (an older record, SKYCAP_REVISION), none said.
    expect(historyNote({...record, revision: {sha: 'a', short: 'a', subject: 'ship it', author: 'Zoë Ñandú <z@x.dev>'}, rollouts: undefined})).to.equal('ship it (Zoë Ñandú)')
    // Rolling-only services: no call at all; a state that cannot be read: no summary, never a failed deploy.
    const none = fake(() => ({}))
    expect(await rolloutSummaries(none.kubectl, 'shop', {db: {}}, 7)).to.deep.equal({})
    expect(none.calls).to.have.length(0)
    const broken = fake(() => ({exitCode: 1, stderr: 'error: the server was unable to return a response'}))
    expect(await rolloutSummaries(broken.kubectl, 'shop', services, 7)).to.deep.equal({})
  })
})

describe('an API server that stops answering after the apply (the switch, the endpoints, the canary’s steps)', () => {
  const REFUSED = 'The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?'
  const EOF = 'error: Get "https://10.0.0.1:6443/api/v1/namespaces/n/endpointslices": EOF'

  it('blue-green web and api, canary shop: each cut waited out, the switch and the scale made again, every service completed (it ended at the first refusal, exit 4, traffic half moved and unrecorded); three rounds', async () => {
    const services = BLUE_GREEN_WEB_API_CANARY_SHOP
    const live = liveWebApiShop()
    const objects = [deployment(), service, labelled(deployment('api:2'), 'api'), labelled(service, 'api'), labelled(deployment('shop:2'), 'shop'), labelled(service, 'shop')].map((o) =>
      o.kind === 'Deployment' ? {...o, metadata: {name: o.metadata.name, labels: o.metadata.labels}} : o,
    )
    // The pod a selector names: web-green-1, api-green-1, shop-canary-1 (ready, never restarted).
    const podOf = (selector: string) => {
      const name = /app\.kubernetes\.io\/name=(\w+)/.exec(selector)?.[1]
      const part = /skycap\.dev\/slot=(\w+)/.exec(selector)?.[1] ?? /skycap\.dev\/track=(\w+)/.exec(selector)?.[1] ?? 'stable'
      return {metadata: {name: `${name}-${part}-1`}, status: {containerStatuses: [{name: 'web', ready: true, restartCount: 0}]}}
    }
    for (const round of [1, 2, 3]) {
      // After "Switching …" and after the canary's "weight 50%", the next `cut` calls find no API server.
      // The first look at web's endpoints after the switch is cut too.
      let cut = 0
      let slicesCut = false
      const refused: string[] = []
      // The canary's reads of its requests during a step (each poll, at once: a refused one is read again at the next)
      // are left out, so that the calls cut are the same in every run.
      const listening = (argv: string[]) => argv[0] === 'get' && argv[1] === 'configmap'
      const {kubectl, calls} = fake((argv) => {
        if ((cut > 0 && !listening(argv)) || (slicesCut && argv[1] === 'endpointslices')) {
          if (cut > 0) cut--
          else slicesCut = false
          refused.push(argv.slice(0, 2).join(' '))
          return {exitCode: 1, stderr: cut % 2 ? REFUSED : EOF}
        }
        if (argv[0] === 'get' && argv[1] === 'configmap') return {stdout: ''}
        if (argv[0] === 'get' && argv[1] === 'deployments,services') return {stdout: JSON.stringify({items: live})}
        if (argv[0] === 'get' && argv[1]?.startsWith('deployments,replicasets'))
          return {stdout: JSON.stringify({items: [deploymentStatus('web-green', 3), deploymentStatus('api-green', 3), deploymentStatus('shop-canary', 0), deploymentStatus('shop', 3)]})}
        if (argv[0] === 'get' && argv[1] === 'pods') return {stdout: JSON.stringify({items: [podOf(argv[3] as string)]})}
        if (argv[0] === 'get' && argv[1] === 'endpointslices') {
          const name = (argv[3] as string).split('=')[1]
          return {stdout: JSON.stringify({items: [{endpoints: [{targetRef: {name: `${name}-green-1`}, conditions: {ready: true}}]}]})}
        }
        if (argv[0] === 'get') return {exitCode: 1, stderr: `unexpected ${argv.join(' ')}`}
        return {}
      })
      const said: string[] = []
      const reporter = {
        info: (m: string) => {
          said.push(m)
          if (m.startsWith('Switching ') || m.includes('shop: weight 50%')) cut = 1 + round
          if (m.startsWith('Switching ')) slicesCut = true
        },
        warn: (m: string) => said.push(`warn: ${m}`),
      } as unknown as StrategyContext['reporter']
      const result = await rollOutRelease(releaseOf(context(kubectl, {reporter}), objects, services))
      expect(result.outcome, said.join('\n')).to.equal('ready')
      expect(refused, `round ${round}`).to.deep.equal([...Array(round + 1).fill('apply --server-side'), 'get endpointslices', ...Array(round + 1).fill('scale deployment')])
      // The switch: both Services to green in one apply, made again until it was answered.
      const switched = calls.filter((c) => c[0] === 'apply').length
      expect(switched, `round ${round}: the release, the switch ${round + 2} times, the promotion`).to.be.at.least(round + 2)
      expect(
        calls.filter((c) => c[0] === 'scale' && c[2] === 'shop-canary'),
        `round ${round}`,
      ).to.have.length(round + 2)
      const written = (name: string) => lastState(calls, name)
      expect(written('web'), `round ${round}`).to.include({phase: 'completed', activeSlot: 'green', previousSlot: 'blue'})
      expect(written('api'), `round ${round}`).to.include({phase: 'completed', activeSlot: 'green', previousSlot: 'blue'})
      expect(written('shop'), `round ${round}`).to.include({phase: 'completed', weight: 100})
      // Said once per outage, each way.
      expect(
        said.filter((m) => m.startsWith('warn: the API server does not answer')),
        said.join('\n'),
      ).to.have.length(3)
      expect(
        said.filter((m) => /the API server answers again, after \d+s without/.test(m)),
        said.join('\n'),
      ).to.have.length(3)
      expect(said.find((m) => m.startsWith('warn:'))).to.match(/skycap takes the rollout on once it answers, until its timeout$/)
    }
  })
})
