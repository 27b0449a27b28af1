import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {classify, Kubectl, type ProcessRunner} from '../../../src/kubectl/kubectl.js'
import type {ContactEvent} from '../../../src/kubectl/outage.js'
import {
  adoptedNote,
  claimedElsewhere,
  claimedError,
  claimedNote,
  renderedOrigin,
  dryRunApply,
  applyInPhases,
  findPrunable,
  prune,
  pruneLive,
  pruningNote,
  refusedObjects,
  restoreConfig,
  rejectedObjects,
  takenFromOthers,
  unprunedNote,
  withRejectedObjects,
} from '../../../src/deploy/apply.js'
import {changedObjects, redactSecrets} from '../../../src/deploy/diff.js'
import {applyAndWatch} from '../../../src/deploy/rollout.js'
import {watchRollout} from '../../../src/deploy/watch.js'
import type {SkycapConfig} from '../../../src/config/types.js'
import {ApiServerUnreachableError, ExitCode, InterruptedError, KubectlError, LockedError, UserError} from '../../../src/errors.js'
import {acquireLock, releaseLock} from '../../../src/lock/lease.js'
import {chooseRelease, hgRevisionNote, keptCountsNote, nothingToRollBackLine} from '../../../src/deploy/rollback.js'
import {TempHgRepo} from '../../helpers/hg.js'
import {TempRepo} from '../../helpers/repo.js'
import {checkRecordable, runningRevision, whatRuns} from '../../../src/deploy/deploy.js'
import {
  contentOf,
  listReleases,
  MAX_PARTS,
  packManifests,
  PART_BYTES,
  type ReleaseRecord,
  releasesToDrop,
  renumberedNote,
  saveRelease,
  type StoredRelease,
  unrecordableNote,
} from '../../../src/release/store.js'
import type {KubeObject} from '../../../src/render/objects.js'
import {deploymentStatus, type Expectation, fakeKubectl} from '../../helpers/fake-kubectl.js'

const NS = ['--context', 'kind-x', '--namespace', 'shop', '--request-timeout=30s']
const opts = {context: 'kind-x', namespace: 'shop'}
const APPLY = ['apply', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-']
/** The prune's one get, of every kind skycap prunes, by the selector `sel`. */
const PRUNE_LIST = [
  ...NS,
  'get',
  'configmaps,secrets,services,serviceaccounts,deployments.apps,statefulsets.apps,daemonsets.apps,jobs.batch,cronjobs.batch,ingresses.networking.k8s.io,horizontalpodautoscalers.autoscaling,poddisruptionbudgets.policy,networkpolicies.networking.k8s.io,roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io,resourcequotas,limitranges',
  '-l',
  'sel',
  '-o',
  'json',
]

function obj(kind: string, name: string, extra: Record<string, unknown> = {}): KubeObject {
  return {apiVersion: kind === 'Deployment' ? 'apps/v1' : 'v1', kind, metadata: {name, namespace: 'shop'}, ...extra}
}

const objects = [obj('ConfigMap', 'web-config-1'), obj('Service', 'web'), obj('Deployment', 'web'), obj('Deployment', 'worker'), obj('Secret', 's')]

describe('deploy phases: exact kubectl argv', () => {
  it('server dry run: one call with every object', async () => {
    const fake = fakeKubectl([{argv: [...NS, ...APPLY, '--dry-run=server'], input: (i) => expect(JSON.parse(i as string).items).to.have.length(5)}], opts)
    await dryRunApply(fake.kubectl, objects, 'server')
    expect(fake.remaining()).to.equal(0)
  })

  it("server dry run refused by kubectl's own check of the List (a kind and a path): one call, the objects named from it, and no --validate=false advice (a second call as a stream named them, but the server's refusal quotes the value, a Secret's too)", async () => {
    const listCheck =
      'error: error validating "STDIN": error validating data: ValidationError(Deployment.spec.template.spec): unknown field "bogusField" in io.k8s.api.core.v1.PodSpec; if you choose to ignore these errors, turn validation off with --validate=false'
    const fake = fakeKubectl([{argv: [...NS, ...APPLY, '--dry-run=server'], input: (i) => expect(JSON.parse(i as string).kind).to.equal('List'), result: {exitCode: 1, stderr: listCheck}}], opts)
    const withField = objects.map((o) => (o.metadata.name === 'worker' && o.kind === 'Deployment' ? {...o, spec: {template: {spec: {bogusField: 1}}}} : o))
    const error = (await dryRunApply(fake.kubectl, withField, 'server').catch((e: unknown) => e)) as KubectlError
    expect(fake.remaining()).to.equal(0)
    expect(error).to.be.instanceOf(KubectlError)
    expect(error.kind).to.equal('invalid')
    expect(error.message).to.equal(
      'kubectl apply --dry-run=server failed (context kind-x): error validating "STDIN": error validating data: ValidationError(Deployment.spec.template.spec): unknown field "bogusField" in io.k8s.api.core.v1.PodSpec',
    )
    const rendered = withField.map((object) => ({object, source: 'skycap.yaml'}))
    expect(rejectedObjects(error.stderr, rendered, {file: 'skycap.yaml', show: (f: string) => f, locate: () => undefined}).map((r) => r.ref)).to.deep.equal(['Deployment/worker'])
  })

  it("kubectl's own schema check names a kind and a path: the objects of that kind with that field there (of the type it got) are named", () => {
    const stderr =
      'error: error validating "STDIN": error validating data: [ValidationError(Deployment.spec.replicas): invalid type for io.k8s.api.apps.v1.DeploymentSpec.replicas: got "string", expected "integer", ValidationError(Deployment.spec.template.spec.containers[0]): unknown field "imagee" in io.k8s.api.core.v1.Container, ValidationError(ConfigMap): unknown field "dta" in io.k8s.api.core.v1.ConfigMap]; if you choose to ignore these errors, turn validation off with --validate=false'
    const deployment = (name: string, replicas: unknown, container: Record<string, unknown>) => obj('Deployment', name, {spec: {replicas, template: {spec: {containers: [container]}}}})
    const candidates = [
      deployment('fine', 2, {name: 'x', image: 'x'}),
      deployment('typed', '2', {name: 'x', image: 'x'}),
      deployment('typo', 1, {name: 'x', imagee: 'x'}),
      obj('ConfigMap', 'ok', {data: {}}),
      obj('ConfigMap', 'bad', {dta: {}}),
    ]
    expect(refusedObjects(stderr, candidates).map((r) => `${r.object.kind}/${r.object.metadata.name}: ${r.message}`)).to.deep.equal([
      'Deployment/typed: ValidationError(Deployment.spec.replicas): invalid type for io.k8s.api.apps.v1.DeploymentSpec.replicas: got "string", expected "integer"',
      'Deployment/typo: ValidationError(Deployment.spec.template.spec.containers[0]): unknown field "imagee" in io.k8s.api.core.v1.Container',
      'ConfigMap/bad: ValidationError(ConfigMap): unknown field "dta" in io.k8s.api.core.v1.ConfigMap',
    ])
    // One alone, as a List of one object gives it.
    expect(
      refusedObjects(
        'error: error validating "STDIN": error validating data: ValidationError(ConfigMap): unknown field "dta" in io.k8s.api.core.v1.ConfigMap; if you choose to ignore these errors, turn validation off with --validate=false',
        candidates,
      ).map((r) => r.object.metadata.name),
    ).to.deep.equal(['bad'])
  })

  it('dry run without the namespace: client-side with strict schema validation', async () => {
    const fake = fakeKubectl([{argv: [...NS, 'apply', '-f', '-', '--dry-run=client', '--validate=strict']}], opts)
    await dryRunApply(fake.kubectl, objects, 'client')
  })

  it('apply: config kinds first, then the rest: two calls for any number of services', async () => {
    const fake = fakeKubectl(
      [
        {argv: [...NS, ...APPLY], input: (i) => expect(JSON.parse(i as string).items.map((o: KubeObject) => o.kind)).to.deep.equal(['ConfigMap', 'Secret'])},
        {argv: [...NS, ...APPLY], input: (i) => expect(JSON.parse(i as string).items.map((o: KubeObject) => o.kind)).to.deep.equal(['Service', 'Deployment', 'Deployment'])},
      ],
      opts,
    )
    const {applied, stopped} = await applyInPhases(fake.kubectl, objects)
    expect(stopped).to.equal(undefined)
    expect(applied).to.deep.equal(['ConfigMap/web-config-1', 'Secret/s', 'Service/web', 'Deployment/web', 'Deployment/worker'])
  })

  it('a CustomResourceDefinition and a resource of it: the dry run leaves the resource out while its kind is not served; the apply waits for the definition', async () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: {name: 'widgets.x.test'},
      spec: {group: 'x.test', names: {kind: 'Widget'}, versions: [{name: 'v1', served: true}]},
    }
    const widget = {apiVersion: 'x.test/v1', kind: 'Widget', metadata: {name: 'main', namespace: 'shop'}}
    const all = [crd, obj('ConfigMap', 'c'), obj('Deployment', 'web'), widget]
    const GET = ['--context', 'kind-x', '--request-timeout=30s', 'get', 'customresourcedefinitions.apiextensions.k8s.io', 'widgets.x.test', '--ignore-not-found', '-o', 'json']
    const kinds = (i: unknown) => JSON.parse(i as string).items.map((o: KubeObject) => o.kind)
    const fake = fakeKubectl(
      [
        {argv: GET, result: {stdout: ''}},
        {argv: [...NS, ...APPLY, '--dry-run=server'], input: (i) => expect(kinds(i)).to.deep.equal(['CustomResourceDefinition', 'ConfigMap', 'Deployment'])},
        // Established and serving v1: the next dry run checks the Widget too.
        {argv: GET, result: {stdout: JSON.stringify({...crd, status: {conditions: [{type: 'Established', status: 'True'}]}})}},
        {argv: [...NS, ...APPLY, '--dry-run=server'], input: (i) => expect(kinds(i)).to.deep.equal(['CustomResourceDefinition', 'ConfigMap', 'Deployment', 'Widget'])},
        {argv: [...NS, ...APPLY], input: (i) => expect(kinds(i)).to.deep.equal(['CustomResourceDefinition', 'ConfigMap'])},
        {argv: ['--context', 'kind-x', '--request-timeout=30s', 'wait', '--for=condition=Established', '--timeout=60s', 'customresourcedefinitions.apiextensions.k8s.io/widgets.x.test']},
        {argv: [...NS, ...APPLY], input: (i) => expect(kinds(i)).to.deep.equal(['Deployment', 'Widget'])},
      ],
      opts,
    )
    expect(await dryRunApply(fake.kubectl, all, 'server')).to.deep.equal({deferred: ['Widget/main']})
    expect(await dryRunApply(fake.kubectl, all, 'server')).to.deep.equal({deferred: []})
    expect((await applyInPhases(fake.kubectl, all)).applied).to.deep.equal(['CustomResourceDefinition/widgets.x.test', 'ConfigMap/c', 'Deployment/web', 'Widget/main'])
    expect(fake.remaining()).to.equal(0)
  })

  it('cluster-scoped objects of another environment: one get; named only when this deploy changes them (server defaults and zero values left out count as the same)', async () => {
    const labels = (environment: string) => ({'app.kubernetes.io/managed-by': 'skycap', 'app.kubernetes.io/part-of': 'shop', 'skycap.dev/environment': environment})
    const pc = {apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: {name: 'high'}, value: 10, globalDefault: false}
    const crb = {apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: {name: 'nodes'}, subjects: [{kind: 'ServiceAccount', name: 'default', namespace: 'shop-prod'}]}
    const live = {
      kind: 'List',
      items: [
        {...pc, globalDefault: undefined, preemptionPolicy: 'PreemptLowerPriority', metadata: {name: 'high', labels: labels('staging')}},
        {...crb, subjects: [{...crb.subjects[0], namespace: 'shop-staging'}], metadata: {name: 'nodes', labels: labels('staging')}},
      ],
    }
    const fake = fakeKubectl(
      [
        {
          argv: [
            '--context',
            'kind-x',
            '--request-timeout=30s',
            'get',
            'priorityclass.scheduling.k8s.io/high',
            'clusterrolebinding.rbac.authorization.k8s.io/nodes',
            '--ignore-not-found',
            '-o',
            'json',
          ],
          result: {stdout: JSON.stringify(live)},
        },
      ],
      opts,
    )
    expect(await takenFromOthers(fake.kubectl, [pc, obj('ConfigMap', 'c'), crb], 'shop', 'prod')).to.deep.equal([{ref: 'ClusterRoleBinding/nodes', owner: 'environment staging'}])
    // Without cluster-scoped objects: no call at all.
    expect(await takenFromOthers(fake.kubectl, [obj('ConfigMap', 'c')], 'shop', 'prod')).to.deep.equal([])
    expect(fake.remaining()).to.equal(0)
  })

  it('objects of the release another app or environment deployed in the namespace, or nobody through skycap: one get, each named with its owner and file', async () => {
    const labels = (app: string, env: string) => ({'app.kubernetes.io/part-of': app, 'app.kubernetes.io/managed-by': 'skycap', 'skycap.dev/environment': env})
    const svc = obj('Service', 'web')
    const cm = obj('ConfigMap', 'settings')
    const dep = obj('Deployment', 'api')
    const mine = obj('Deployment', 'worker')
    const crd = {apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: {name: 'widgets.example.com'}, spec: {group: 'example.com', names: {kind: 'Widget'}}}
    const widget = {apiVersion: 'example.com/v1', kind: 'Widget', metadata: {name: 'w'}}
    const rendered = [
      {object: svc, source: 'deploy/web.yaml', line: 3},
      {object: cm, source: 'deploy/settings.yaml', line: 1},
      {object: dep, source: 'templates/manifests/deployment.yaml', service: 'api'},
      {object: mine, source: 'templates/manifests/deployment.yaml', service: 'worker'},
      {object: crd as KubeObject, source: 'deploy/crd.yaml', line: 1},
      {object: widget as KubeObject, source: 'deploy/crd.yaml', line: 9},
    ]
    const loaded = {file: '/r/skycap.yaml', show: () => 'skycap.yaml', locate: (path: Array<string | number>) => (path[1] === 'api' ? {file: '/r/skycap.yaml', line: 7, column: 3} : undefined)}
    const live = {
      kind: 'List',
      items: [
        {...svc, metadata: {name: 'web', labels: labels('alpha', 'test')}},
        {...cm, metadata: {name: 'settings'}},
        {...dep, metadata: {name: 'api', labels: labels('beta', 'staging')}},
        {...mine, metadata: {name: 'worker', labels: labels('beta', 'test')}},
      ],
    }
    // Cluster-scoped objects and custom resources whose definition comes with the release are not asked for.
    const fake = fakeKubectl(
      [
        {
          argv: [...NS, 'get', 'service/web', 'configmap/settings', 'deployment.apps/api', 'deployment.apps/worker', '--ignore-not-found', '-o', 'json', '--show-managed-fields'],
          result: {stdout: JSON.stringify(live)},
        },
      ],
      opts,
    )
    const claims = await claimedElsewhere(
      fake.kubectl,
      rendered.map((r) => r.object),
      'beta',
      'test',
      renderedOrigin(rendered, loaded),
    )
    expect(claims).to.deep.equal({
      others: [
        {ref: 'Service/web', owner: 'app alpha (environment test)', file: 'deploy/web.yaml', line: 3},
        {ref: 'Deployment/api', owner: 'environment staging of this app', file: 'skycap.yaml', line: 7, column: 3},
      ],
      unmanaged: [{ref: 'ConfigMap/settings', file: 'deploy/settings.yaml', line: 1}],
      // This app and environment's own, as read (with their managedFields), for src/deploy/drift.ts.
      mine: [live.items[3]],
      // The objects it takes over, as read: what a hand `kubectl apply` set in them.
      unmanagedLive: [live.items[1]],
    })
    const error = claimedError(claims, 'beta', 'test', {namespace: 'shared', context: 'kind-x'})
    expect(error.exitCode).to.equal(ExitCode.INVALID)
    expect(error.code).to.equal('owned_elsewhere')
    expect(error.message).to.equal(
      'Service/web (app alpha (environment test); rendered from deploy/web.yaml:3), Deployment/api (environment staging of this app; rendered from skycap.yaml:7:3) in namespace shared belong to another app or environment; this deploy of beta test would take them over; nothing was changed',
    )
    expect(error.hint).to.contain('deploy test to a namespace of its own (environments.test.namespace)')
    expect(claimedNote(claims, 'shared')).to.equal(
      'a deploy would be refused: Service/web (app alpha (environment test); rendered from deploy/web.yaml:3), Deployment/api (environment staging of this app; rendered from skycap.yaml:7:3) in namespace shared belong to another app or environment; give them another name, or the environment a namespace of its own',
    )
    expect(adoptedNote(claims, 'beta', 'test', 'a deploy')).to.match(/^a deploy takes over objects skycap did not deploy: ConfigMap\/settings/)
    expect(adoptedNote(claims, 'beta', 'test')).to.equal(
      "this deploy takes over objects skycap did not deploy: ConfigMap/settings (deploy/settings.yaml:1); from now on they are beta test's, and a later deploy that no longer renders them deletes them",
    )
    expect(fake.remaining()).to.equal(0)
    // A rollback's objects come from a recorded release: said so, and the hint is a rollback's.
    const again = fakeKubectl(
      [
        {
          argv: [...NS, 'get', 'service/web', 'configmap/settings', '--ignore-not-found', '-o', 'json', '--show-managed-fields'],
          result: {stdout: JSON.stringify({kind: 'List', items: live.items.slice(0, 2)})},
        },
      ],
      opts,
    )
    const recorded = await claimedElsewhere(again.kubectl, [svc, cm], 'beta', 'test', () => ({release: 4}))
    expect(recorded).to.deep.equal({
      others: [{ref: 'Service/web', owner: 'app alpha (environment test)', release: 4}],
      unmanaged: [{ref: 'ConfigMap/settings', release: 4}],
      mine: [],
      unmanagedLive: [live.items[1]],
    })
    const refusal = claimedError(recorded, 'beta', 'test', {namespace: 'shared'}, 4)
    expect(refusal.message).to.equal(
      'Service/web (app alpha (environment test); recorded in release 4) in namespace shared belongs to another app or environment; this rollback of beta test would take it over; nothing was changed',
    )
    expect(refusal.hint).to.equal('Another app or environment deployed it after release 4: roll back to a release without it (skycap history test), or deploy a revision that names it otherwise.')
    expect(adoptedNote(recorded, 'beta', 'test', 'this rollback')).to.match(/^this rollback takes over objects skycap did not deploy: ConfigMap\/settings \(release 4\);/)
    // A get kubectl refuses (a kind it does not know): nothing found here, the dry run says what is wrong; unreachable is thrown.
    const refused = fakeKubectl(
      [{argv: [...NS, 'get', 'service/web', '--ignore-not-found', '-o', 'json', '--show-managed-fields'], result: {exitCode: 1, stderr: 'error: the server doesn\'t have a resource type "service"'}}],
      opts,
    )
    expect(await claimedElsewhere(refused.kubectl, [svc], 'beta', 'test', renderedOrigin(rendered, loaded))).to.deep.equal({others: [], unmanaged: [], mine: [], unmanagedLive: []})
    const down = fakeKubectl(
      [
        {
          argv: [...NS, 'get', 'service/web', '--ignore-not-found', '-o', 'json', '--show-managed-fields'],
          result: {exitCode: 1, stderr: 'The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?'},
        },
      ],
      opts,
    )
    await claimedElsewhere(down.kubectl, [svc], 'beta', 'test', renderedOrigin(rendered, loaded)).then(
      () => expect.fail('an unreachable API server is thrown'),
      (e: unknown) => expect(e).to.be.instanceOf(ApiServerUnreachableError),
    )
  })

  it("a large release is asked in groups of five names, four kubectl processes at once (one process for all waited out kubectl's rate limit: 0.2 s an object); a group kubectl refuses finds nothing, the others still count", async () => {
    const configMaps = Array.from({length: 12}, (_, i) => ({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: `c${i}`}}))
    const calls: string[][] = []
    let running = 0
    let most = 0
    const runner: ProcessRunner = async (_file, argv) => {
      const names = argv.filter((a) => a.startsWith('configmap/'))
      calls.push(names)
      most = Math.max(most, ++running)
      await new Promise((r) => setTimeout(r, 5))
      running--
      // c5..c9 come back as a kind kubectl does not know; c11 is another app's; the rest are unmanaged or missing.
      if (names.includes('configmap/c5')) return {exitCode: 1, stdout: '', stderr: 'error: the server doesn\'t have a resource type "configmap"'}
      const items = names
        .filter((n) => n !== 'configmap/c3')
        .map((n) => ({
          kind: 'ConfigMap',
          metadata: {
            name: n.slice('configmap/'.length),
            ...(n === 'configmap/c11' ? {labels: {'app.kubernetes.io/managed-by': 'skycap', 'app.kubernetes.io/part-of': 'alpha', 'skycap.dev/environment': 'test'}} : {}),
          },
        }))
      return {exitCode: 0, stdout: JSON.stringify({kind: 'List', items}), stderr: ''}
    }
    const claims = await claimedElsewhere(new Kubectl({binary: 'kubectl', runner, ...opts}), configMaps, 'beta', 'test', () => ({release: 1}))
    expect(calls.map((c) => c.length)).to.deep.equal([5, 5, 2])
    expect(calls.flat()).to.have.members(configMaps.map((c) => `configmap/${c.metadata.name}`))
    expect(most, 'kubectl processes at once').to.equal(3)
    expect(claims.unmanaged.map((c) => c.ref)).to.deep.equal(['ConfigMap/c0', 'ConfigMap/c1', 'ConfigMap/c2', 'ConfigMap/c4', 'ConfigMap/c10'])
    expect(claims.others).to.deep.equal([{ref: 'ConfigMap/c11', owner: 'app alpha (environment test)', release: 1}])
  })

  it('apply: a call the API server fails part-way stops there: the rollout failed (blaming the objects kubectl names, else kubectl apply), nothing is watched', async () => {
    const config = {app: 'shop', services: {web: {image: 'web'}}} as unknown as SkycapConfig
    const reporter = {mode: 'silent', info: () => undefined, warn: () => undefined} as const
    const refusals: Array<[string, string[]]> = [
      [
        'Error from server (Forbidden): error when applying patch:\nfor: "STDIN": deployments.apps "worker" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=4, limited: pods=4',
        ['Deployment/worker', 'refused by the API server: deployments.apps "worker" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=4, limited: pods=4'],
      ],
      [
        'Error from server (InternalError): Internal error occurred: resource quota evaluation timed out',
        ['kubectl apply', 'kubectl apply failed (context kind-x): Error from server (InternalError): Internal error occurred: resource quota evaluation timed out'],
      ],
    ]
    for (const [stderr, [ref, message]] of refusals) {
      // The config call succeeded; the second stops with kubectl's error, and no get of a watch follows.
      const fake = fakeKubectl([{argv: [...NS, ...APPLY]}, {argv: [...NS, ...APPLY], result: {exitCode: 1, stderr}}], opts)
      const r = await applyAndWatch({kubectl: fake.kubectl, objects, selector: 'app=shop', deadline: Date.now() + 60_000, title: 'Rolling out', reporter, config})
      expect(fake.remaining()).to.equal(0)
      expect(r.outcome).to.equal('failed')
      expect(r.applied).to.deep.equal(['ConfigMap/web-config-1', 'Secret/s'])
      expect(r.failures.map((f) => [f.ref, f.message])).to.deep.equal([[ref, message]])
    }
  })

  it('prune: one get by label, ignoring owned objects, then one delete', async () => {
    const live = {
      items: [obj('ConfigMap', 'web-config-1'), obj('ConfigMap', 'web-config-0'), obj('Deployment', 'old'), {...obj('Job', 'cron-123'), metadata: {name: 'cron-123', ownerReferences: [{uid: 'x'}]}}],
    }
    const fake = fakeKubectl(
      [
        {
          argv: PRUNE_LIST,
          result: {stdout: JSON.stringify(live)},
        },
        {argv: [...NS, 'delete', '--ignore-not-found', '--wait=false', 'ConfigMap/web-config-0', 'Deployment/old']},
      ],
      opts,
    )
    const {refs, claims} = await findPrunable(fake.kubectl, 'sel', objects)
    expect(refs).to.deep.equal(['ConfigMap/web-config-0', 'Deployment/old'])
    expect(claims).to.deep.equal({})
    await prune(fake.kubectl, refs)
  })

  it("prune of a StatefulSet (renamed, or no longer rendered) says what becomes of its volumes' claims: they stay, or go with it", async () => {
    const sts = (name: string, spec: object) => ({...obj('StatefulSet', name), spec})
    const live = {
      items: [
        sts('db', {volumeClaimTemplates: [{metadata: {name: 'data'}}, {metadata: {name: 'wal'}}]}),
        sts('cache', {volumeClaimTemplates: [{metadata: {name: 'data'}}], persistentVolumeClaimRetentionPolicy: {whenDeleted: 'Delete', whenScaled: 'Retain'}}),
        sts('plain', {}),
      ],
    }
    const fake = fakeKubectl([{argv: PRUNE_LIST, result: {stdout: JSON.stringify(live)}}], opts)
    const {refs, claims} = await findPrunable(fake.kubectl, 'sel', objects)
    expect(refs).to.deep.equal(['StatefulSet/cache', 'StatefulSet/db', 'StatefulSet/plain'])
    expect(pruningNote(refs, undefined, claims)).to.equal(
      'Pruning 3 objects no longer rendered: StatefulSet/cache, StatefulSet/db, StatefulSet/plain; StatefulSet/db: its PersistentVolumeClaims data-db-*, wal-db-* stay, with their data, unused unless a StatefulSet of this name comes back (a renamed one starts on new volumes); delete them with kubectl once nothing needs them; StatefulSet/cache: its PersistentVolumeClaims data-cache-* go with it (persistentVolumeClaimRetentionPolicy.whenDeleted: Delete), and their data',
    )
  })

  it('watch: one get per poll for all services; fails fast on CrashLoopBackOff', async () => {
    const dep = (name: string) => ({
      ...obj('Deployment', name),
      metadata: {name, uid: `u-${name}`, generation: 2, annotations: {'deployment.kubernetes.io/revision': '2'}},
      spec: {replicas: 1, template: {metadata: {labels: {app: name}}}},
      status: {observedGeneration: 2, replicas: 1, updatedReplicas: 1, availableReplicas: 0},
    })
    const rs = {
      ...obj('ReplicaSet', 'web-abc'),
      metadata: {name: 'web-abc', uid: 'rs1', annotations: {'deployment.kubernetes.io/revision': '2'}, ownerReferences: [{uid: 'u-web'}]},
      spec: {template: {metadata: {labels: {app: 'web', 'pod-template-hash': 'abc'}}}},
    }
    const crashing = {
      ...obj('Pod', 'web-abc-1'),
      metadata: {name: 'web-abc-1', ownerReferences: [{uid: 'rs1'}]},
      status: {phase: 'Running', containerStatuses: [{name: 'web', restartCount: 4, state: {waiting: {reason: 'CrashLoopBackOff'}}, lastState: {terminated: {exitCode: 2, reason: 'Error'}}}]},
    }
    const get = [...NS, 'get', 'deployments,replicasets,statefulsets,daemonsets,jobs,pods', '-l', 'sel', '-o', 'json']
    const fake = fakeKubectl(
      [
        {argv: get, result: {stdout: JSON.stringify({items: [dep('web'), dep('worker'), rs]})}},
        {argv: get, result: {stdout: JSON.stringify({items: [dep('web'), dep('worker'), rs, crashing]})}},
      ],
      opts,
    )
    const result = await watchRollout({
      kubectl: fake.kubectl,
      objects: [obj('Deployment', 'web'), obj('Deployment', 'worker'), obj('Service', 'web')],
      selector: 'sel',
      deadline: Date.now() + 60_000,
      intervalMs: 1,
    })
    expect(result.outcome).to.equal('failed')
    const web = result.statuses.find((s) => s.ref === 'Deployment/web')
    expect(web?.message).to.equal('container web of pod web-abc-1 is in CrashLoopBackOff (exit code 2, Error; restarted 4 times)')
    expect(web?.failing).to.deep.equal([{pod: 'web-abc-1', container: 'web', previous: true}])
    expect(fake.calls).to.have.length(2)

    // A second service failing a poll later: within failureGraceMs it is named too (it was left as interrupted).
    const rsWorker = {
      ...rs,
      metadata: {...rs.metadata, name: 'worker-def', uid: 'rs2', ownerReferences: [{uid: 'u-worker'}]},
      spec: {template: {metadata: {labels: {app: 'worker', 'pod-template-hash': 'def'}}}},
    }
    const workerCrashing = {...crashing, metadata: {name: 'worker-def-1', ownerReferences: [{uid: 'rs2'}]}}
    // web's container restarted meanwhile: running, not ready (its failure stands: the release failed).
    const restarted = {...crashing, status: {phase: 'Running', containerStatuses: [{name: 'web', restartCount: 5, state: {running: {}}, lastState: {terminated: {exitCode: 2, reason: 'Error'}}}]}}
    for (const failureGraceMs of [0, 3]) {
      const later = fakeKubectl(
        [
          {argv: get, result: {stdout: JSON.stringify({items: [dep('web'), dep('worker'), rs, rsWorker, crashing]})}},
          ...(failureGraceMs
            ? [
                {argv: get, result: {stdout: JSON.stringify({items: [dep('web'), dep('worker'), rs, rsWorker, restarted]})}},
                {argv: get, result: {stdout: JSON.stringify({items: [dep('web'), dep('worker'), rs, rsWorker, restarted, workerCrashing]})}},
              ]
            : []),
        ],
        opts,
      )
      // A clock that stands still: the grace ends by its count of polls, not by how fast this machine makes them (on a
      // busy one, 3 ms passed before the third poll and worker was left out).
      const now = Date.now()
      const both = await watchRollout({
        kubectl: later.kubectl,
        objects: [obj('Deployment', 'web'), obj('Deployment', 'worker')],
        selector: 'sel',
        deadline: now + 60_000,
        clock: () => now,
        intervalMs: 1,
        failureGraceMs,
      })
      expect(both.outcome).to.equal('failed')
      expect(
        both.statuses.filter((s) => s.state === 'failed').map((s) => s.ref),
        `grace ${failureGraceMs}`,
      ).to.deep.equal(failureGraceMs ? ['Deployment/web', 'Deployment/worker'] : ['Deployment/web'])
      expect(later.remaining()).to.equal(0)
    }
  })

  it('watch: a service whose controller had not begun on it when the first failure came gets the grace from when it began, up to six graces (with 35 services, three that crash-looped with the first were left out)', async () => {
    const dep = (name: string, observed: number) => ({
      ...obj('Deployment', name),
      metadata: {name, uid: `u-${name}`, generation: 2, annotations: {'deployment.kubernetes.io/revision': '2'}},
      spec: {replicas: 1, template: {metadata: {labels: {app: name}}}},
      status: {observedGeneration: observed, replicas: 1, updatedReplicas: observed === 2 ? 1 : 0, availableReplicas: 0},
    })
    const rs = (name: string) => ({
      ...obj('ReplicaSet', `${name}-abc`),
      metadata: {name: `${name}-abc`, uid: `rs-${name}`, annotations: {'deployment.kubernetes.io/revision': '2'}, ownerReferences: [{uid: `u-${name}`}]},
      spec: {template: {metadata: {labels: {app: name, 'pod-template-hash': 'abc'}}}},
    })
    const crashing = (name: string) => ({
      ...obj('Pod', `${name}-abc-1`),
      metadata: {name: `${name}-abc-1`, ownerReferences: [{uid: `rs-${name}`}]},
      status: {phase: 'Running', containerStatuses: [{name, restartCount: 4, state: {waiting: {reason: 'CrashLoopBackOff'}}, lastState: {terminated: {exitCode: 2, reason: 'Error'}}}]},
    })
    const get = [...NS, 'get', 'deployments,replicasets,statefulsets,daemonsets,jobs,pods', '-l', 'sel', '-o', 'json']
    let t = 0
    // Each poll at a time of its own (grace 10): web fails at 0; worker's controller has not seen its spec at 15 (past
    // the grace from the first failure), begins at 20 and its pod crash-loops at 29, within 10 of its start.
    const poll = (at: number, items: object[]) => ({argv: get, result: () => ((t = at), {stdout: JSON.stringify({items})})})
    const web = [dep('web', 2), rs('web'), crashing('web')]
    const late = fakeKubectl(
      [
        poll(0, [...web, dep('worker', 1)]),
        poll(15, [...web, dep('worker', 1)]),
        poll(20, [...web, dep('worker', 2), rs('worker')]),
        poll(29, [...web, dep('worker', 2), rs('worker'), crashing('worker')]),
      ],
      opts,
    )
    const objects = [obj('Deployment', 'web'), obj('Deployment', 'worker')]
    const both = await watchRollout({kubectl: late.kubectl, objects, selector: 'sel', deadline: 1_000, clock: () => t, intervalMs: 1, failureGraceMs: 10})
    expect(late.remaining()).to.equal(0)
    expect(both.statuses.map((s) => `${s.ref} ${s.state}`)).to.deep.equal(['Deployment/web failed', 'Deployment/worker failed'])

    // Begun and merely starting: its grace ends 10 after it began (not at the cap).
    const starting = fakeKubectl(
      [poll(0, [...web, dep('worker', 1)]), poll(15, [...web, dep('worker', 2), rs('worker')]), poll(24, [...web, dep('worker', 2), rs('worker')]), poll(25, [...web, dep('worker', 2), rs('worker')])],
      opts,
    )
    const left = await watchRollout({kubectl: starting.kubectl, objects, selector: 'sel', deadline: 1_000, clock: () => t, intervalMs: 1, failureGraceMs: 10})
    expect(starting.remaining()).to.equal(0)
    expect(left.outcome).to.equal('failed')
    expect(left.statuses.map((s) => `${s.ref} ${s.state}`)).to.deep.equal(['Deployment/web failed', 'Deployment/worker pending'])

    // Never begun: the report waits no longer than six graces from the first failure.
    const never = fakeKubectl([poll(0, [...web, dep('worker', 1)]), poll(30, [...web, dep('worker', 1)]), poll(59, [...web, dep('worker', 1)]), poll(60, [...web, dep('worker', 1)])], opts)
    const capped = await watchRollout({kubectl: never.kubectl, objects, selector: 'sel', deadline: 1_000, clock: () => t, intervalMs: 1, failureGraceMs: 10})
    expect(never.remaining()).to.equal(0)
    expect(capped.outcome).to.equal('failed')
    expect(capped.statuses.find((s) => s.ref === 'Deployment/worker')).to.include({state: 'pending', message: 'waiting for the controller to see the new spec', unstarted: true})
  })

  it('watch: a ResourceQuota that refuses the pods fails the rollout once it stood QUOTA_GRACE_MS with nothing moving, or as long again as it stood before pods last left; the wait said its words (it waited for the timeout saying neither)', async () => {
    const dep = (ready: number) => ({
      ...obj('Deployment', 'worker'),
      metadata: {name: 'worker', uid: 'u-worker', generation: 3, annotations: {'deployment.kubernetes.io/revision': '2'}},
      spec: {replicas: 3, template: {metadata: {labels: {app: 'worker'}}}},
      status: {observedGeneration: 3, replicas: ready, updatedReplicas: ready, readyReplicas: ready, availableReplicas: ready, unavailableReplicas: 3 - ready},
    })
    const failure = {type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'pods "worker-abc-x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2'}
    const rs = (replicas: number, refused = true) => ({
      ...obj('ReplicaSet', 'worker-abc'),
      metadata: {name: 'worker-abc', uid: 'rs1', generation: 2, annotations: {'deployment.kubernetes.io/revision': '2'}, ownerReferences: [{uid: 'u-worker'}]},
      spec: {replicas: 3, template: {metadata: {labels: {app: 'worker', 'pod-template-hash': 'abc'}}}},
      status: {replicas, readyReplicas: replicas, observedGeneration: 2, ...(refused ? {conditions: [failure]} : {})},
    })
    // A pod of another service on its way out: it may make room.
    const leaving = {...obj('Pod', 'web-1'), metadata: {name: 'web-1', deletionTimestamp: '2026-12-07T10:00:00Z', ownerReferences: [{uid: 'rs-web'}]}}
    const get = [...NS, 'get', 'deployments,replicasets,statefulsets,daemonsets,jobs,pods', '-l', 'sel', '-o', 'json']
    let t = 0
    const poll = (at: number, items: object[]) => ({argv: get, result: () => ((t = at), {stdout: JSON.stringify({items})})})
    const watch = (fake: ReturnType<typeof fakeKubectl>) =>
      watchRollout({kubectl: fake.kubectl, objects: [obj('Deployment', 'worker')], selector: 'sel', deadline: 600_000, clock: () => t, intervalMs: 1})
    const words = 'the ResourceQuota q refuses more pods (requested: pods=1, used: pods=2, limited: pods=2)'

    // A scale of 2 to 3: refused from the first look, nothing moves; failed 10 s later, in the quota's words.
    const scale = fakeKubectl([poll(0, [dep(2), rs(2)]), poll(5_000, [dep(2), rs(2)]), poll(9_999, [dep(2), rs(2)]), poll(10_000, [dep(2), rs(2)])], opts)
    const seen: string[] = []
    const failed = await watchRollout({
      kubectl: scale.kubectl,
      objects: [obj('Deployment', 'worker')],
      selector: 'sel',
      deadline: 600_000,
      clock: () => t,
      intervalMs: 1,
      onUpdate: (s) => seen.push(s[0]?.message ?? ''),
    })
    expect(scale.remaining()).to.equal(0)
    expect(failed.outcome).to.equal('failed')
    expect(failed.statuses[0]).to.include({state: 'failed', message: `cannot create its pods (2/3 updated, 2 ready): ${words}`})
    expect(seen[0]).to.equal(`2/3 updated, 2 ready; ${words}`)

    // The rollout moves (a pod more, the refusal counted again from there), a pod leaves at 14 s after it stood 14 s:
    // failed 14 s after that (the ReplicaSet controller's back-off), not 10.
    const moving = fakeKubectl(
      [poll(0, [dep(1), rs(1)]), poll(6_000, [dep(2), rs(2)]), poll(20_000, [dep(2), rs(2), leaving]), poll(30_000, [dep(2), rs(2)]), poll(33_999, [dep(2), rs(2)]), poll(34_000, [dep(2), rs(2)])],
      opts,
    )
    const late = await watch(moving)
    expect(moving.remaining()).to.equal(0)
    expect(late.statuses[0]).to.include({state: 'failed'})

    // Room made before the grace ended: the refusal clears and the rollout is ready.
    const room = fakeKubectl([poll(0, [dep(2), rs(2)]), poll(9_000, [dep(2), rs(2)]), poll(9_500, [dep(3), rs(3, false)])], opts)
    expect((await watch(room)).outcome).to.equal('ready')
    expect(room.remaining()).to.equal(0)
  })

  describe('watch: a new pod whose container exits, without a readiness check (the real kubelet showed it running and ready for half a second, and kept it `terminated`, not CrashLoopBackOff, for most of its back-off)', () => {
    const T = Date.parse('2026-12-07T10:00:00Z')
    const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
    const dep = (available: number) => ({
      ...obj('Deployment', 'worker'),
      metadata: {name: 'worker', uid: 'u-worker', generation: 2, annotations: {'deployment.kubernetes.io/revision': '2'}},
      spec: {replicas: 1, template: {metadata: {labels: {app: 'worker'}}}},
      status: {observedGeneration: 2, replicas: 1, updatedReplicas: 1, readyReplicas: available, availableReplicas: available, ...(available ? {} : {unavailableReplicas: 1})},
    })
    const rs = {
      ...obj('ReplicaSet', 'worker-abc'),
      metadata: {name: 'worker-abc', uid: 'rs1', annotations: {'deployment.kubernetes.io/revision': '2'}, ownerReferences: [{uid: 'u-worker'}]},
      spec: {template: {metadata: {labels: {app: 'worker', 'pod-template-hash': 'abc'}}}},
    }
    const pod = (container: Record<string, unknown>, ready: boolean, probe = false) => ({
      ...obj('Pod', 'worker-abc-1'),
      metadata: {name: 'worker-abc-1', uid: 'p1', ownerReferences: [{uid: 'rs1'}]},
      spec: {restartPolicy: 'Always', containers: [{name: 'worker', ...(probe ? {readinessProbe: {httpGet: {path: '/healthz', port: 8080}}} : {})}]},
      status: {phase: 'Running', conditions: [{type: 'Ready', status: ready ? 'True' : 'False'}], containerStatuses: [{name: 'worker', ready, restartCount: 0, ...container}]},
    })
    const running = (startedAt: number) => ({state: {running: {startedAt: iso(startedAt)}}})
    const get = [...NS, 'get', 'deployments,replicasets,statefulsets,daemonsets,jobs,pods', '-l', 'sel', '-o', 'json']
    /** Polls, each read at the clock time given beside it. */
    async function watch(polls: Array<[number, unknown[]]>) {
      const times = polls.map(([at]) => at)
      const fake = fakeKubectl(
        polls.map(([, items]) => ({argv: get, result: () => ({stdout: JSON.stringify({items})})})),
        opts,
      )
      const messages: string[] = []
      const result = await watchRollout({
        kubectl: fake.kubectl,
        objects: [obj('Deployment', 'worker')],
        selector: 'sel',
        deadline: T + 45_000,
        intervalMs: 1,
        // The time of the last poll answered (of the first before it).
        clock: () => times[Math.max(0, fake.calls.length - 1)] ?? T,
        onUpdate: (s) => messages.push(s[0]?.message ?? ''),
      })
      return {result, messages, left: fake.remaining()}
    }

    it('ready a moment after it started, then restarted: failed at the restart with the crashed instance’s logs to show (it was “1/1 ready … is live” in 3 s)', async () => {
      const crashed = {restartCount: 1, lastState: {terminated: {exitCode: 3, reason: 'Error'}}}
      const {result, messages} = await watch([
        [T + 1500, [dep(1), rs, pod(running(T + 500), true)]],
        [T + 2500, [dep(1), rs, pod({...running(T + 2200), ...crashed}, true)]],
      ])
      expect(messages[0]).to.equal('1/1 ready; container worker of pod worker-abc-1 has no readiness check: ready once it has run 3 s without exiting')
      expect(result.outcome, messages.join('\n')).to.equal('failed')
      expect(result.statuses[0]).to.deep.include({
        message: 'container worker of pod worker-abc-1 exited (exit code 3, Error; restarted once)',
        failing: [{pod: 'worker-abc-1', container: 'worker', previous: true}],
      })
    })

    it('exited and kept `terminated` through its back-off: failed at once with its own logs (it waited the whole timeout, “still not ready”, with events only)', async () => {
      const terminated = {state: {terminated: {exitCode: 3, reason: 'Error', startedAt: iso(T), finishedAt: iso(T)}}, restartCount: 1, lastState: {terminated: {exitCode: 3, reason: 'Error'}}}
      const {result, left} = await watch([[T + 1500, [dep(0), rs, pod(terminated, false)]]])
      expect(result.outcome).to.equal('failed')
      expect(left).to.equal(0)
      expect(result.statuses[0]).to.deep.include({
        message: 'container worker of pod worker-abc-1 exited (exit code 3, Error; restarted once)',
        failing: [{pod: 'worker-abc-1', container: 'worker', previous: false}],
      })
      // Its first exit, before any restart, as well.
      const first = await watch([[T + 1500, [dep(0), rs, pod({state: {terminated: {exitCode: 3, reason: 'Error'}}}, false)]]])
      expect(first.result.statuses[0]?.message).to.equal('container worker of pod worker-abc-1 exited (exit code 3, Error)')
    })

    it('a healthy one is ready once it has run 3 s (by its startedAt), at the first poll after; one with a readiness check, or started 3 s before the watch, at once', async () => {
      const settling = await watch([
        [T + 1200, [dep(1), rs, pod(running(T), true)]],
        [T + 2200, [dep(1), rs, pod(running(T), true)]],
        [T + 3000, [dep(1), rs, pod(running(T), true)]],
      ])
      expect(settling.result.outcome).to.equal('ready')
      expect(settling.messages).to.have.length(3)
      expect(settling.messages[2]).to.equal('1/1 ready')
      const probed = await watch([[T + 1200, [dep(1), rs, pod(running(T + 1000), true, true)]]])
      expect(probed.result.outcome).to.equal('ready')
      // A redeploy that changes no pod: the pod that runs since long before is ready at once, and a restart of it
      // long ago (it has run steadily since) is not this rollout's crash.
      const old = await watch([[T + 60_000, [dep(1), rs, pod({...running(T), restartCount: 2, lastState: {terminated: {exitCode: 1, reason: 'Error'}}}, true)]]])
      expect(old.result.outcome).to.equal('ready')
      // A node whose clock is a minute ahead of this machine's: not held (nor failed) until this clock catches up.
      const ahead = await watch([[T, [dep(1), rs, pod({...running(T + 60_000), restartCount: 1, lastState: {terminated: {exitCode: 1, reason: 'Error'}}}, true)]]])
      expect(ahead.result.outcome).to.equal('ready')
    })
  })

  it('watch: a pull that fails for a passing reason (registry refused, 503) waits, its back-off too; one that will not pass (not found) fails at once', async () => {
    const dep = {
      ...obj('Deployment', 'web'),
      metadata: {name: 'web', uid: 'u-web', generation: 2, annotations: {'deployment.kubernetes.io/revision': '2'}},
      spec: {replicas: 1, template: {metadata: {labels: {app: 'web'}}}},
    }
    const rollingOut = {...dep, status: {observedGeneration: 2, replicas: 1, updatedReplicas: 1, availableReplicas: 0}}
    const done = {...dep, status: {observedGeneration: 2, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}}
    const rs = {
      ...obj('ReplicaSet', 'web-abc'),
      metadata: {name: 'web-abc', uid: 'rs1', annotations: {'deployment.kubernetes.io/revision': '2'}, ownerReferences: [{uid: 'u-web'}]},
      spec: {template: {metadata: {labels: {app: 'web', 'pod-template-hash': 'abc'}}}},
    }
    const pod = (state: Record<string, unknown>, ready = false) => ({
      ...obj('Pod', 'web-abc-1'),
      metadata: {name: 'web-abc-1', uid: 'p1', ownerReferences: [{uid: 'rs1'}]},
      status: {phase: ready ? 'Running' : 'Pending', conditions: [{type: 'Ready', status: ready ? 'True' : 'False'}], containerStatuses: [{name: 'web', ready, state}]},
    })
    const refused =
      'failed to pull and unpack image "reg.example/web:abc": failed to resolve reference "reg.example/web:abc": failed to do request: Head "https://reg.example/v2/web/manifests/abc": dial tcp 10.0.0.9:443: connect: connection refused'
    const backOff = 'Back-off pulling image "reg.example/web:abc"'
    const get = [...NS, 'get', 'deployments,replicasets,statefulsets,daemonsets,jobs,pods', '-l', 'sel', '-o', 'json']
    const polls = (...items: unknown[][]) => items.map((i) => ({argv: get, result: {stdout: JSON.stringify({items: i})}}))
    const watch = (fake: ReturnType<typeof fakeKubectl>, onUpdate?: (s: Array<{ref: string; message: string}>) => void) =>
      watchRollout({kubectl: fake.kubectl, objects: [obj('Deployment', 'web')], selector: 'sel', deadline: Date.now() + 60_000, intervalMs: 1, ...(onUpdate ? {onUpdate} : {})})

    // Refused, then the back-off (which does not say why), then a 503, then the registry answers: ready.
    const messages: string[] = []
    const passing = fakeKubectl(
      polls(
        [rollingOut, rs, pod({waiting: {reason: 'ErrImagePull', message: refused}})],
        [rollingOut, rs, pod({waiting: {reason: 'ImagePullBackOff', message: backOff}})],
        [rollingOut, rs, pod({waiting: {reason: 'ErrImagePull', message: 'unexpected status from HEAD request: 503 Service Unavailable'}})],
        [done, rs, pod({running: {}}, true)],
      ),
      opts,
    )
    const ok = await watch(passing, (s) => messages.push(s[0]?.message ?? ''))
    expect(ok.outcome, messages.join('\n')).to.equal('ready')
    expect(messages[0]).to.equal(`1/1 updated, 0 ready; container web of pod web-abc-1 cannot pull its image yet (ErrImagePull: ${refused}); the node keeps trying until the deadline`)
    expect(messages[1]).to.contain(`(ImagePullBackOff: ${backOff}; the last pull error: ${refused})`)

    // Not found will not pass: failed at the first poll that shows it, its back-off too (with the error it follows).
    const notFound = 'failed to pull and unpack image "reg.example/web:abc": failed to resolve reference "reg.example/web:abc": reg.example/web:abc: not found'
    const lasting = await watch(fakeKubectl(polls([rollingOut, rs, pod({waiting: {reason: 'ErrImagePull', message: notFound}})]), opts))
    expect(lasting.outcome).to.equal('failed')
    expect(lasting.statuses[0]?.message).to.equal(`container web of pod web-abc-1 is in ErrImagePull: ${notFound}`)
    // A back-off whose error no poll saw (it came and went between two): the pod's events say what the pull failed
    // of, asked once. Refused: waited for (the next back-off asks nothing); events that say nothing: failed as before.
    const events = (message: string) => ({
      argv: [...NS, 'get', 'events', '--field-selector', 'involvedObject.kind=Pod,reason=Failed', '-o', 'json'],
      result: {stdout: JSON.stringify({items: message ? [{reason: 'Failed', message, involvedObject: {kind: 'Pod', name: 'web-abc-1', uid: 'p1', fieldPath: 'spec.containers{web}'}}] : []})},
    })
    const inBackOff = [rollingOut, rs, pod({waiting: {reason: 'ImagePullBackOff', message: backOff}})]
    const [first, second, third] = polls(inBackOff, inBackOff, [done, rs, pod({running: {}}, true)])
    const explained = fakeKubectl([first!, events(`Failed to pull image "reg.example/web:abc": ${refused}`), second!, third!], opts)
    messages.length = 0
    expect((await watch(explained, (s) => messages.push(s[0]?.message ?? ''))).outcome, messages.join('\n')).to.equal('ready')
    expect(messages[0]).to.contain(`cannot pull its image yet (ImagePullBackOff: ${backOff}; the last pull error: Failed to pull image "reg.example/web:abc": ${refused})`)
    expect(explained.remaining()).to.equal(0)
    const unseen = await watch(fakeKubectl([...polls(inBackOff), events('')], opts))
    expect(unseen.outcome).to.equal('failed')
    expect(unseen.statuses[0]?.message).to.equal(`container web of pod web-abc-1 is in ImagePullBackOff: ${backOff}`)
    // Unauthorized with a 503 in the same message: the lasting cause wins.
    const denied = await watch(fakeKubectl(polls([rollingOut, rs, pod({waiting: {reason: 'ErrImagePull', message: '401 Unauthorized (after 503 Service Unavailable)'}})]), opts))
    expect(denied.outcome).to.equal('failed')
  })

  it('watch: a get whose kubectl died of a Ctrl-C before skycap saw the signal is an interruption, not an error', async () => {
    const get = [...NS, 'get', 'deployments,replicasets,statefulsets,daemonsets,jobs,pods', '-l', 'sel', '-o', 'json']
    for (const signal of ['SIGINT', 'SIGTERM']) {
      const fake = fakeKubectl([{argv: get, result: {exitCode: -1, signal}}], opts)
      const result = await watchRollout({
        kubectl: fake.kubectl,
        objects: [obj('Deployment', 'web'), obj('Deployment', 'worker')],
        selector: 'sel',
        deadline: Date.now() + 60_000,
        signal: new AbortController().signal,
      })
      expect(result.outcome).to.equal('interrupted')
      expect(result.statuses.map((s) => [s.ref, s.state])).to.deep.equal([
        ['Deployment/web', 'pending'],
        ['Deployment/worker', 'pending'],
      ])
    }
  })

  it('watch: an API server that stops answering is waited for until the deadline, said when lost and when back; refused credentials are not', async () => {
    const get = [...NS, 'get', 'deployments,replicasets,statefulsets,daemonsets,jobs,pods', '-l', 'sel', '-o', 'json']
    const refused = {exitCode: 1, stderr: 'The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?'}
    const eof = {exitCode: 1, stderr: 'error: Get "https://10.0.0.1:6443/api/v1/namespaces/shop/pods": EOF'}
    const ready = {stdout: JSON.stringify({items: [deploymentStatus('web', 1), deploymentStatus('worker', 2)]})}
    const objects = [obj('Deployment', 'web'), obj('Deployment', 'worker')]
    // Three polls unanswered (EOF, then refused), then both Deployments ready: the watch goes on to 'ready'.
    const events: ContactEvent[] = []
    const back = fakeKubectl(
      [
        {argv: get, result: eof},
        {argv: get, result: refused},
        {argv: get, result: refused},
        {argv: get, result: ready},
      ],
      opts,
    )
    const result = await watchRollout({kubectl: back.kubectl, objects, selector: 'sel', deadline: Date.now() + 60_000, intervalMs: 1, onContact: (e) => events.push(e)})
    expect(result.outcome).to.equal('ready')
    expect(back.remaining()).to.equal(0)
    expect(events).to.have.length(2)
    expect(events[0]).to.deep.equal({lost: true, reason: 'Get "https://10.0.0.1:6443/api/v1/namespaces/shop/pods": EOF'})
    expect(events[1]).to.include({lost: false})

    // Never back: past the deadline it is the unreachable error (exit 4), saying how long and what to do.
    // Each poll takes 0.7 s of the test's clock: about 14 fit before the deadline, each given the time left.
    let polls = 0
    let now = 1_000_000
    const given: number[] = []
    const runner: ProcessRunner = async (_file, _args, options) => (polls++, given.push(options.timeoutMs ?? 0), (now += 700), {stdout: '', ...refused})
    const gone = new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, ...opts})
    const clock = () => now
    const error = await watchRollout({kubectl: gone, objects, selector: 'sel', deadline: now + 10_000, clock, intervalMs: 1}).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).to.be.instanceOf(ApiServerUnreachableError)
    expect((error as ApiServerUnreachableError).exitCode).to.equal(ExitCode.UNREACHABLE)
    expect((error as Error).message).to.match(
      /^cannot reach the cluster's API server \(context kind-x\): the connection to the server 10\.0\.0\.1:6443 was refused; it has not answered for \d+s, and the time is up$/,
    )
    expect((error as ApiServerUnreachableError).hint).to.contain('`skycap status` shows what runs')
    expect(polls).to.be.within(12, 16)
    // A poll ends by the deadline (at least 2 s), and within 30 s: a stopped API server held one for a minute.
    expect(given[0]).to.equal(10_000)
    expect(given.at(-1)).to.equal(2000)
    expect(given.every((ms, i) => i === 0 || ms <= (given[i - 1] as number))).to.equal(true)

    // Credentials refused mid-watch will not pass by waiting: thrown at once.
    const denied = fakeKubectl([{argv: get, result: {exitCode: 1, stderr: 'error: You must be logged in to the server (Unauthorized)'}}], opts)
    const refusedCredentials = await watchRollout({kubectl: denied.kubectl, objects, selector: 'sel', deadline: Date.now() + 60_000, intervalMs: 1}).catch((e: unknown) => e)
    expect((refusedCredentials as Error).message).to.equal('the cluster refused your credentials (context kind-x)')
  })

  it('apply: an API server that stops answering is waited for until the deadline and the phase applied again (it ended the deploy half-applied, unrecorded)', async () => {
    const refused = {exitCode: 1, stderr: 'The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?'}
    const eof = {exitCode: 1, stderr: 'error: Post "https://10.0.0.1:6443/apis/apps/v1/namespaces/shop/deployments/web?fieldManager=skycap": EOF'}
    const kinds = (i: unknown) => JSON.parse(i as string).items.map((o: KubeObject) => o.kind)
    const events: ContactEvent[] = []
    const back = fakeKubectl(
      [
        {argv: [...NS, ...APPLY], input: (i) => expect(kinds(i)).to.deep.equal(['ConfigMap', 'Secret'])},
        // The second phase's apply meets the outage twice, then is made again, whole.
        {argv: [...NS, ...APPLY], result: eof},
        {argv: [...NS, ...APPLY], result: refused},
        {argv: [...NS, ...APPLY], input: (i) => expect(kinds(i)).to.deep.equal(['Service', 'Deployment', 'Deployment'])},
      ],
      opts,
    )
    const outage = {deadline: Date.now() + 60_000, clock: Date.now, intervalMs: 1, onContact: (e: ContactEvent) => events.push(e)}
    const {applied, stopped} = await applyInPhases(back.kubectl, objects, undefined, undefined, outage)
    expect([applied, stopped]).to.deep.equal([['ConfigMap/web-config-1', 'Secret/s', 'Service/web', 'Deployment/web', 'Deployment/worker'], undefined])
    expect(back.remaining()).to.equal(0)
    expect(events.map((e) => e.lost)).to.deep.equal([true, false])

    // Never back: past the deadline, the unreachable error (exit 4) saying for how long.
    let now = 1_000_000
    const clock = () => (now += 700)
    const runner: ProcessRunner = async () => ({stdout: '', ...refused})
    const gone = new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, ...opts})
    const error = await applyInPhases(gone, objects, undefined, undefined, {deadline: now + 10_000, clock, intervalMs: 1}).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).to.be.instanceOf(ApiServerUnreachableError)
    expect((error as Error).message).to.match(/was refused; it has not answered for \d+s, and the time is up$/)

    // Anything else is not waited for: a refusal of the objects stops the phase at once, as before.
    const invalid = fakeKubectl([{argv: [...NS, ...APPLY], result: {exitCode: 1, stderr: 'The ConfigMap "web-config-1" is invalid: data: Too long'}}], opts)
    const refusedObjects = await applyInPhases(invalid.kubectl, objects, undefined, undefined, outage)
    expect(refusedObjects.stopped).to.be.instanceOf(KubectlError)
    expect(refusedObjects.applied).to.deep.equal([])
  })

  it('prune: an API server that stops answering is returned, not thrown (the record is still written; the next deploy prunes)', async () => {
    const refused = {exitCode: 1, stderr: 'The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?'}
    const list = {stdout: JSON.stringify({items: [obj('Service', 'old'), obj('Service', 'web')]})}
    const fake = fakeKubectl(
      [
        {
          argv: PRUNE_LIST,
          result: list,
        },
        {argv: [...NS, 'delete', '--ignore-not-found', '--wait=false', 'Service/old'], result: refused},
      ],
      opts,
    )
    const announced: string[][] = []
    const result = await pruneLive(fake.kubectl, 'sel', [obj('Service', 'web')], (refs) => announced.push(refs))
    expect(announced).to.deep.equal([['Service/old']])
    expect(result.pruned).to.deep.equal([])
    expect(result.unpruned).to.be.instanceOf(ApiServerUnreachableError)
    expect(unprunedNote(result.unpruned as ApiServerUnreachableError)).to.equal(
      'could not prune what the release no longer renders: the API server does not answer (the connection to the server 10.0.0.1:6443 was refused); the next deploy prunes it',
    )
    // A refusal (a Role without `list` on a kind skycap prunes) is returned too: it threw, and the live release went
    // unrecorded.
    const forbidden = {
      exitCode: 1,
      stdout: '',
      stderr: 'Error from server (Forbidden): resourcequotas is forbidden: User "system:serviceaccount:shop:ci" cannot list resource "resourcequotas" in API group "" in the namespace "shop"',
    }
    // Since then the other kinds are listed again without it, and pruned; the kind is named (test/unit/deploy/prune.test.ts).
    const rest = PRUNE_LIST.map((a) => (a.includes(',') ? a.replace(',resourcequotas', '') : a))
    const denied = await pruneLive(
      fakeKubectl([{argv: PRUNE_LIST, result: forbidden}, {argv: rest, result: list}, {argv: [...NS, 'delete', '--ignore-not-found', '--wait=false', 'Service/old']}], opts).kubectl,
      'sel',
      [obj('Service', 'web')],
    )
    expect(denied).to.deep.equal({pruned: ['Service/old'], unlisted: ['ResourceQuota']})
    // A refusal that names none of the kinds is the refusal it was, returned.
    const all = {...forbidden, stderr: 'Error from server (Forbidden): User "x" cannot use this API server'}
    const none = await pruneLive(fakeKubectl([{argv: PRUNE_LIST, result: all}], opts).kubectl, 'sel', [obj('Service', 'web')])
    expect(unprunedNote(none.unpruned as KubectlError)).to.match(
      /^could not prune what the release no longer renders: kubectl get .* failed.*: .*; the release is recorded, and what it no longer renders stays until a deploy may prune it$/,
    )
  })

  it('lock: create; when held and unexpired, exit 3 naming the holder', async () => {
    const now = Date.parse('2026-11-22T10:00:00Z')
    const held = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {name: 'skycap-lock-shop', resourceVersion: '7', annotations: {'skycap.dev/reason': 'deploy prod@abc1234', 'skycap.dev/lock-id': 'other'}},
      spec: {holderIdentity: 'ana@ci-7', leaseDurationSeconds: 600, acquireTime: '2026-11-22T09:58:00.000000Z', renewTime: '2026-11-22T09:58:00.000000Z'},
    }
    const fake = fakeKubectl(
      [
        {
          argv: [...NS, 'create', '-f', '-'],
          result: {exitCode: 1, stderr: 'Error from server (AlreadyExists): leases.coordination.k8s.io "skycap-lock-shop" already exists'},
          input: (i) => expect(JSON.parse(i as string).spec).to.include({leaseDurationSeconds: 300, acquireTime: '2026-11-22T10:00:00.000000Z'}),
        },
        {argv: [...NS, 'get', 'lease', 'skycap-lock-shop', '-o', 'json', '--ignore-not-found'], result: {stdout: JSON.stringify(held)}},
      ],
      opts,
    )
    try {
      await acquireLock(fake.kubectl, {app: 'shop', environment: 'prod', reason: 'deploy', durationSeconds: 300, clock: () => now})
      expect.fail('expected LockedError')
    } catch (error) {
      expect(error).to.be.instanceOf(LockedError)
      expect((error as LockedError).exitCode).to.equal(3)
      expect((error as LockedError).message).to.equal('prod is locked by ana@ci-7 since 2026-11-22T09:58:00.000Z (deploy prod@abc1234)')
    }
  })

  it('lock: an expired lease is taken over with replace at the seen resourceVersion', async () => {
    const now = Date.parse('2026-11-22T10:00:00Z')
    const expired = {
      metadata: {name: 'skycap-lock-shop', resourceVersion: '7', annotations: {}},
      spec: {holderIdentity: 'gone@host', leaseDurationSeconds: 60, renewTime: '2026-11-22T09:00:00.000000Z'},
    }
    const fake = fakeKubectl(
      [
        {argv: [...NS, 'create', '-f', '-'], result: {exitCode: 1, stderr: 'Error from server (AlreadyExists): already exists'}},
        {argv: [...NS, 'get', 'lease', 'skycap-lock-shop', '-o', 'json', '--ignore-not-found'], result: {stdout: JSON.stringify(expired)}},
        {argv: [...NS, 'replace', '-f', '-'], input: (i) => expect(JSON.parse(i as string).metadata.resourceVersion).to.equal('7')},
      ],
      opts,
    )
    const lock = await acquireLock(fake.kubectl, {app: 'shop', environment: 'prod', reason: 'deploy', durationSeconds: 300, clock: () => now})
    expect(lock.expired).to.equal(false)
  })

  it('unlock: deletes only the lease this process took', async () => {
    const lease = {metadata: {name: 'skycap-lock-shop', annotations: {'skycap.dev/lock-id': 'mine'}}, spec: {holderIdentity: 'me@host', leaseDurationSeconds: 60, renewTime: new Date().toISOString()}}
    const get = {argv: [...NS, 'get', 'lease', 'skycap-lock-shop', '-o', 'json', '--ignore-not-found'], result: {stdout: JSON.stringify(lease)}}
    const other = fakeKubectl([get], opts)
    expect(await releaseLock(other.kubectl, 'shop', {id: 'not-mine'})).to.equal(false)
    const mine = fakeKubectl([get, {argv: [...NS, 'delete', 'lease', 'skycap-lock-shop', '--ignore-not-found']}], opts)
    expect(await releaseLock(mine.kubectl, 'shop', {id: 'mine'})).to.equal(true)
  })
})

describe('a failed predeploy hook: the config it applied put back', () => {
  const secret = (name: string, value: string, immutable = false) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {name, namespace: 'shop'},
    stringData: {v: value},
    ...(immutable ? {immutable: true} : {}),
  })
  it("each object alone when the one call is refused: the others went back, the immutable one is named (the whole was said 'not put back'); none of the server's words about a Secret", async () => {
    const applied: string[][] = []
    const runner: ProcessRunner = async (_file, argv, options) => {
      const items = (JSON.parse(String(options?.input)) as {items: Array<{metadata: {name: string}}>}).items.map((i) => i.metadata.name)
      applied.push(items)
      if (items.includes('imm'))
        return {
          exitCode: 1,
          stdout: '',
          stderr: 'The Secret "imm" is invalid: \n* immutable: Forbidden: field is immutable when `immutable` is set\n* data: Forbidden: field is immutable when `immutable` is set\n',
        }
      return {exitCode: 0, stdout: '', stderr: ''}
    }
    const kubectl = new Kubectl({binary: 'kubectl', runner, namespace: 'shop', sleep: async () => undefined})
    // A config folder's content-named ConfigMap is read by no running pod: not named; a template's fixed-name one is.
    const failed = [
      secret('db', 'new'),
      secret('imm', 'v4', true),
      secret('fresh', 'x'),
      {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'web-config-0123456789'}, data: {}},
      {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'newcm'}, data: {}},
    ]
    const running = [secret('db', 'old'), secret('imm', 'v1')]
    const result = await restoreConfig(kubectl, failed as KubeObject[], running as KubeObject[])
    expect(result).to.deep.equal({restored: ['Secret/db'], added: ['Secret/fresh', 'ConfigMap/newcm'], refused: [{ref: 'Secret/imm', immutable: true}]})
    expect(applied).to.deep.equal([['db', 'imm'], ['db'], ['imm']])
    // A first release (nothing ran before): what it applied is all new, named (a ConfigMap is read by nothing running).
    applied.length = 0
    expect(await restoreConfig(kubectl, failed as KubeObject[], [])).to.deep.equal({restored: [], added: ['Secret/db', 'Secret/imm', 'Secret/fresh', 'ConfigMap/newcm'], refused: []})
    expect(applied).to.deep.equal([])
    // Nothing changed, nothing applied.
    expect(await restoreConfig(kubectl, running as KubeObject[], running as KubeObject[])).to.deep.equal({restored: [], added: [], refused: []})
    expect(applied).to.deep.equal([])
  })
})

describe('objects the API server refused, and their files', () => {
  const rendered = [
    {object: obj('Deployment', 'web'), source: 'templates/manifests/deployment.yaml', service: 'web'},
    {object: obj('Deployment', 'web-admin'), source: 'templates/manifests/deployment.yaml', service: 'web-admin'},
    {object: obj('Service', 'extra'), source: 'deploy/extra.yaml', line: 1},
    {object: obj('ConfigMap', 'settings'), source: 'deploy/extra.yaml', line: 9},
    {object: obj('Ingress', 'site'), source: 'deploy/ingress.yaml'},
  ]
  const loaded = {file: '/repo/skycap.yaml', show: () => 'skycap.yaml', locate: (path: readonly (string | number)[]) => (path[1] === 'web' ? {line: 7, column: 5} : undefined)}

  it('finds each object kubectl names, by kind (or resource and group) and exact name, with its template or its service in skycap.yaml', () => {
    expect(rejectedObjects('The Service "extra" is invalid: spec.ports[0].port: Invalid value: 70000', rendered, loaded)).to.deep.equal([
      {ref: 'Service/extra', file: 'deploy/extra.yaml', line: 1, message: 'Service "extra" is invalid: spec.ports[0].port: Invalid value: 70000'},
    ])
    expect(rejectedObjects('Error from server (Invalid): deployments.apps "web" is invalid: spec.template...', rendered, loaded)).to.deep.equal([
      {ref: 'Deployment/web', file: 'skycap.yaml', line: 7, column: 5, message: 'deployments.apps "web" is invalid: spec.template...'},
    ])
    expect(rejectedObjects('Deployment.apps "web-admin" is invalid', rendered, loaded)).to.deep.equal([
      {ref: 'Deployment/web-admin', file: 'skycap.yaml', message: 'Deployment.apps "web-admin" is invalid'},
    ])
    expect(rejectedObjects('ingresses.networking.k8s.io "site" is invalid', rendered, loaded).map((r) => r.ref)).to.deep.equal(['Ingress/site'])
    expect(rejectedObjects('error validating data: unknown field "spec.foo"', rendered, loaded)).to.deep.equal([])
  })

  it("server-side apply's type error names the object as (namespace/name; version, Kind=…): found, at its template's line", () => {
    const stderr = 'Error from server: failed to create typed patch object (shop/settings; /v1, Kind=ConfigMap): .data.a: expected string, got &value.valueUnstructured{Value:1}'
    expect(rejectedObjects(stderr, rendered, loaded).map((r) => [r.ref, r.file, r.line])).to.deep.equal([['ConfigMap/settings', 'deploy/extra.yaml', 9]])
    // Another kind of the same name is not it.
    expect(rejectedObjects(stderr.replace('Kind=ConfigMap', 'Kind=Secret'), rendered, loaded)).to.deep.equal([])
  })

  it("the hint of a refused apply or diff names each object's file and line, not 'its template or skycap.yaml'", () => {
    const stderr = 'The Service "extra" is invalid: spec.ports[0].port: Invalid value: 70000\nfor: "STDIN": deployments.apps "web" is invalid: spec.replicas'
    const refused = new KubectlError('invalid', 'kubectl apply failed', ['apply'], stderr, {hint: 'Fix the object in its template or in skycap.yaml; nothing was changed.'})
    const error = withRejectedObjects(refused, rendered, loaded) as KubectlError
    // Each with the API server's words about it: the message says the first one only.
    expect(error.hint).to.equal('Fix Deployment/web (skycap.yaml:7:5): spec.replicas; Service/extra (deploy/extra.yaml:1): spec.ports[0].port: Invalid value: 70000; nothing was changed.')
    expect(error.exitCode).to.equal(ExitCode.INVALID)
    // One object refused: as before, where it is.
    const one = new KubectlError('invalid', 'kubectl apply failed', ['apply'], 'The Service "extra" is invalid: spec.ports[0].port: Invalid value: 70000', {hint: 'x'})
    expect((withRejectedObjects(one, rendered, loaded) as KubectlError).hint).to.equal('Fix Service/extra (deploy/extra.yaml:1); nothing was changed.')
    // An object a hand `kubectl apply` made, which this deploy takes over: its old fields may be the cause.
    const adopted = withRejectedObjects(one, rendered, loaded, undefined, new Set(['Service/extra'])) as KubectlError
    expect(adopted.hint).to.equal(
      'Fix Service/extra (deploy/extra.yaml:1); nothing was changed. Service/extra was not deployed by skycap: what a hand `kubectl apply` set stays merged into it until the first deploy owns it; if the refusal is about fields the release does not set, delete it so the deploy creates it whole.',
    )
  })

  it("a pod spec field the server does not know is named where the podTemplate writes it (the environment's, else the service's), with a close field", () => {
    const stderr = 'Error from server: failed to create typed patch object (shop/web; apps/v1, Kind=Deployment): .spec.template.spec.automountServiceAcountToken: field not declared in schema'
    const refused = new KubectlError('invalid', 'kubectl apply failed', ['apply'], stderr, {hint: 'Fix the object in its template or in skycap.yaml; nothing was changed.'})
    // The environment's podTemplate writes it at line 46; the service is at line 7.
    const keys = (path: readonly (string | number)[]) => path.join('.')
    const at: Record<string, {line: number; column: number}> = {
      'services.web': {line: 7, column: 5},
      'environments.stage.services.web.podTemplate.spec.automountServiceAcountToken': {line: 46, column: 11},
    }
    const config = {
      services: {web: {podTemplate: {spec: {}}}},
      environments: {stage: {services: {web: {podTemplate: {spec: {automountServiceAcountToken: true}}}}}, prod: {}},
    }
    const withField = {...loaded, config, locate: (path: readonly (string | number)[]) => at[keys(path)]}
    const error = withRejectedObjects(refused, rendered, withField, 'stage') as KubectlError
    expect(error.hint).to.equal(
      'Fix Deployment/web (skycap.yaml:46:11, environments.stage.services.web.podTemplate.spec.automountServiceAcountToken: did you mean automountServiceAccountToken?); nothing was changed.',
    )
    // In another environment, the service's own podTemplate has it; not written anywhere: the service's line, as before.
    at['services.web.podTemplate.spec.automountServiceAcountToken'] = {line: 12, column: 7}
    config.services.web.podTemplate.spec = {automountServiceAcountToken: true}
    expect((withRejectedObjects(refused, rendered, withField, 'prod') as KubectlError).hint).to.contain('(skycap.yaml:12:7, services.web.podTemplate.spec.automountServiceAcountToken: did you mean')
    // kubectl's own validation says it otherwise (as the deploy's dry run met it on the test cluster).
    const client = new KubectlError(
      'invalid',
      'kubectl apply --dry-run=server failed',
      ['apply'],
      'error validating "STDIN": error validating data: ValidationError(Deployment.spec.template.spec): unknown field "automountServiceAcountToken" in io.k8s.api.core.v1.PodSpec',
    )
    // It names the object by the field its spec has.
    const typo = [{...rendered[0]!, object: {...rendered[0]!.object, spec: {template: {spec: {automountServiceAcountToken: true}}}}}, ...rendered.slice(1)]
    expect((withRejectedObjects(client, typo, withField, 'stage') as KubectlError).hint).to.contain(
      '(skycap.yaml:46:11, environments.stage.services.web.podTemplate.spec.automountServiceAcountToken: did you mean automountServiceAccountToken?)',
    )
    // Not written in the environment nor the service (the locator names the nearest line of any path): the service's line.
    const serviceOnly = {...loaded, config: {services: {web: {}}, environments: {prod: {}}}, locate: (path: readonly (string | number)[]) => at[keys(path)] ?? at['services.web']}
    expect((withRejectedObjects(refused, rendered, serviceOnly, 'prod') as KubectlError).hint).to.equal('Fix Deployment/web (skycap.yaml:7:5); nothing was changed.')
  })

  it("a Job changed in place: the hint keeps the advice to rename it per release, after the Job's file and line", () => {
    const stderr = 'The Job "migrate" is invalid: spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable'
    const refused = classify(['apply', '-f', '-'], stderr) as KubectlError
    const rendered = [{object: {apiVersion: 'batch/v1', kind: 'Job', metadata: {name: 'migrate'}}, source: 'deploy/migrate.yaml', line: 3}]
    const error = withRejectedObjects(refused, rendered, loaded) as KubectlError
    expect(error.hint).to.equal(
      'Job/migrate (deploy/migrate.yaml:3): give the Job a new name per release, e.g. name: migrate-{{ revision.short }} in its template, or run it as a skycap hook (docs/hooks.md); nothing was changed.',
    )
  })

  it('a refused object whose causes follow on lines of their own: one message with them', () => {
    const stderr =
      'The Service "extra" is invalid: \n* spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive\n* spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive\n'
    expect(rejectedObjects(stderr, rendered, loaded)[0]?.message).to.equal(
      'Service "extra" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive; spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    )
  })

  it('two refused objects: each with its own line of kubectl output (each annotation says why that object was refused)', () => {
    const stderr = [
      'Error from server (Invalid): error when creating "STDIN": Service "extra" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
      'for: "STDIN": error when patching "STDIN": Deployment.apps "web" is invalid: spec.template.spec.containers[0].resources.requests: Invalid value: "50m": must be less than or equal to cpu limit of 10m',
    ].join('\n')
    expect(rejectedObjects(stderr, rendered, loaded).map((r) => [r.ref, r.message])).to.deep.equal([
      ['Deployment/web', 'Deployment.apps "web" is invalid: spec.template.spec.containers[0].resources.requests: Invalid value: "50m": must be less than or equal to cpu limit of 10m'],
      ['Service/extra', 'Service "extra" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive'],
    ])
  })
})

describe('what runs, said after a failed rollback', () => {
  it('names the revision each Deployment asks for with the ready pods of that revision alone, and the pods of the revision before that still run', async () => {
    // The controller's revision number and the pod template tell the Deployment's current ReplicaSet from older ones.
    const template = (image: string) => ({metadata: {labels: {app: 'shop'}}, spec: {containers: [{image}]}})
    const deployment = (name: string, uid: string, replicas: number, status: object) => ({
      kind: 'Deployment',
      metadata: {name, uid, annotations: {'skycap.dev/revision': 'cc4403a0000', 'deployment.kubernetes.io/revision': '3'}},
      spec: {replicas, template: template('shop:cc4403a')},
      status,
    })
    const replicaSet = (name: string, owner: string, revision: string, replicas: number, readyReplicas: number) => ({
      kind: 'ReplicaSet',
      metadata: {name, annotations: {'skycap.dev/revision': revision, 'deployment.kubernetes.io/revision': revision === 'cc4403a0000' ? '3' : '2'}, ownerReferences: [{uid: owner}]},
      spec: {replicas, template: {metadata: {labels: {app: 'shop', 'pod-template-hash': name}}, spec: {containers: [{image: `shop:${revision.slice(0, 7)}`}]}}},
      status: {replicas, readyReplicas},
    })
    const items = [
      // web's rollback is stuck: its new pod never got ready, the pod of the revision before serves.
      deployment('web', 'u-web', 1, {replicas: 2, updatedReplicas: 1, readyReplicas: 1}),
      replicaSet('web-new', 'u-web', 'cc4403a0000', 1, 0),
      replicaSet('web-old', 'u-web', '9e1d2c40000', 1, 1),
      replicaSet('web-older', 'u-web', '1111111', 0, 0),
      deployment('worker', 'u-worker', 2, {replicas: 2, updatedReplicas: 2, readyReplicas: 2}),
      replicaSet('worker-new', 'u-worker', 'cc4403a0000', 2, 2),
    ]
    const fake = fakeKubectl([{argv: [...NS, 'get', 'deployments,replicasets', '-l', 'app=shop', '-o', 'json'], result: {stdout: JSON.stringify({items})}}], opts)
    expect(await whatRuns(fake.kubectl, 'app=shop')).to.equal('web cc4403a 0/1 ready (1 pod of 9e1d2c4 still runs, 1 ready), worker cc4403a 2/2 ready')
  })
})

describe('diff output', () => {
  const diff = [
    'diff -u -N /tmp/LIVE-1/apps.v1.Deployment.shop.web /tmp/MERGED-2/apps.v1.Deployment.shop.web',
    '-  replicas: 1',
    '+  replicas: 2',
    'diff -u -N /tmp/LIVE-3/v1.Secret.shop.db /tmp/MERGED-4/v1.Secret.shop.db',
    ' data:',
    '-  password: c2VjcmV0',
    '+  password: bmV3c2VjcmV0',
    ' kind: Secret',
  ].join('\n')

  it('lists the changed objects', () => {
    expect(changedObjects(diff)).to.deep.equal(['Deployment/web', 'Secret/db'])
  })

  it('redacts Secret values and keeps the rest readable', () => {
    const out = redactSecrets(diff)
    expect(out).to.not.contain('c2VjcmV0')
    expect(out).to.not.contain('bmV3c2VjcmV0')
    expect(out).to.contain('-  password: (redacted)')
    expect(out).to.contain('+  replicas: 2')
    expect(out).to.contain(' kind: Secret')
  })

  // A Secret applied before with client-side `kubectl apply` keeps its values in this annotation, which kubectl diff
  // does not mask: `skycap diff` on adopting skycap printed the old password in the context lines.
  const lastApplied = '{"apiVersion":"v1","kind":"Secret","metadata":{"annotations":{},"name":"db","namespace":"shop"},"stringData":{"PASSWORD":"OldPassw0rd55"}}'
  it('redacts the last-applied-configuration annotation of a Secret, also from a hunk that starts below its key', () => {
    const withKey = [
      'diff -u -N /tmp/LIVE-3/v1.Secret.shop.db /tmp/MERGED-4/v1.Secret.shop.db',
      ' metadata:',
      '   annotations:',
      '     kubectl.kubernetes.io/last-applied-configuration: |',
      `       ${lastApplied}`,
      '-    old: a',
      '+    owner: b',
      '   creationTimestamp: "2026-12-03T11:56:02Z"',
    ].join('\n')
    const out = redactSecrets(withKey)
    expect(out).to.not.contain('OldPassw0rd55')
    expect(out).to.contain('     kubectl.kubernetes.io/last-applied-configuration: (redacted)')
    expect(out).to.contain('+    owner: b')
    expect(out).to.contain('   creationTimestamp: "2026-12-03T11:56:02Z"')
    const belowKey = ['diff -u -N /tmp/LIVE-3/v1.Secret.shop.db /tmp/MERGED-4/v1.Secret.shop.db', '@@ -9,4 +9,5 @@', `       ${lastApplied}`, '     other: x', '+  labels:'].join('\n')
    const out2 = redactSecrets(belowKey)
    expect(out2).to.not.contain('OldPassw0rd55')
    expect(out2).to.contain('       (redacted)')
    expect(out2).to.contain('+  labels:')
  })

  it('keeps the last-applied-configuration annotation of other kinds', () => {
    const deployment = [
      'diff -u -N /tmp/LIVE-1/apps.v1.Deployment.shop.web /tmp/MERGED-2/apps.v1.Deployment.shop.web',
      '     kubectl.kubernetes.io/last-applied-configuration: |',
      '       {"kind":"Deployment"}',
    ].join('\n')
    expect(redactSecrets(deployment)).to.equal(deployment)
  })
})

describe('release records: history.keep', () => {
  const stored = (number: number, result: 'succeeded' | 'failed') => ({record: {number, result, action: 'deploy'} as ReleaseRecord, hasManifests: result === 'succeeded', manifests: async () => []})
  const record = (number: number, result: 'succeeded' | 'failed') =>
    ({number, app: 'shop', environment: 'prod', action: 'deploy', result, images: {}, user: 'u', startedAt: '', finishedAt: '', durationMs: 0}) as ReleaseRecord

  it('writes the record, then deletes the oldest beyond keep in one call, never the newest good release', async () => {
    // Releases 1..5, of which only 1 succeeded; keep 3, writing failed release 6.
    const existing = [5, 4, 3, 2].map((n) => stored(n, 'failed')).concat([stored(1, 'succeeded')])
    const fake = fakeKubectl(
      [
        // create, never apply: a record is never written over another one.
        {argv: [...NS, 'create', '-f', '-'], input: (i) => expect(JSON.parse(i as string).items[0].metadata).to.deep.include({name: 'skycap-release-shop.prod-6'})},
        {argv: [...NS, 'delete', 'configmaps,secrets', '--ignore-not-found', '--wait=false', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=prod,skycap.dev/release in (2,3)']},
      ],
      opts,
    )
    await saveRelease(fake.kubectl, record(6, 'failed'), undefined, existing, 3)
    expect(fake.remaining()).to.equal(0)
  })

  it('a number another command recorded meanwhile (the lock released by hand): what this write made under it goes, and the record takes the next free number', async () => {
    const taken = {exitCode: 1, stderr: 'Error from server (AlreadyExists): error when creating "STDIN": configmaps "skycap-release-shop.prod-6" already exists'}
    const written: Array<{name: string; labels: Record<string, string>; release?: ReleaseRecord}> = []
    const sent = (i: string | undefined) => {
      for (const o of JSON.parse(i as string).items) written.push({name: o.metadata.name, labels: o.metadata.labels, release: o.data.release ? JSON.parse(o.data.release) : undefined})
    }
    // The other deploy's record 6, and meanwhile a 7 (a scale): this one becomes 8.
    const now = [7, 6].map((n) => ({kind: 'ConfigMap', metadata: {name: `skycap-release-shop.prod-${n}`, labels: {}}, data: {release: JSON.stringify(record(n, 'succeeded'))}}))
    const fake = fakeKubectl(
      [
        {argv: [...NS, 'create', '-f', '-'], input: sent, result: taken},
        {argv: [...NS, 'delete', 'configmaps,secrets', '--ignore-not-found', '--wait=false', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=prod,skycap.dev/release=6,skycap.dev/write=w1']},
        {argv: [...NS, 'get', 'configmaps', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=prod', '-o', 'json'], result: {stdout: JSON.stringify({items: now})}},
        {argv: [...NS, 'get', 'secrets', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=prod', '--show-labels', '--no-headers'], result: {stdout: ''}},
        {argv: [...NS, 'create', '-f', '-'], input: sent},
      ],
      opts,
    )
    const renumbered: string[] = []
    let w = 0
    const failed = {...record(6, 'failed'), rollbackRelease: 7}
    const number = await saveRelease(fake.kubectl, failed, [obj('ConfigMap', 'c')], [stored(5, 'succeeded')], 10, {
      onRenumbered: (from, to, why) => renumbered.push(`${from}->${to} ${why}`),
      writeId: () => `w${++w}`,
    })
    expect(fake.remaining()).to.equal(0)
    expect(number).to.equal(8)
    // Record 6 is there: another command's, not a deleted record's leftover manifests.
    expect(renumbered).to.deep.equal(['6->8 recorded'])
    expect(written.map((x) => `${x.name} ${x.labels['skycap.dev/release']} ${x.labels['skycap.dev/write']}`)).to.deep.equal([
      'skycap-release-shop.prod-6 6 w1',
      'skycap-release-shop.prod-6 6 w1',
      'skycap-release-shop.prod-8 8 w2',
      'skycap-release-shop.prod-8 8 w2',
    ])
    // The rollback entry it names moves with it.
    expect(written[3]?.release).to.include({number: 8, rollbackRelease: 9})
  })

  it('records 6 to 9 deleted by hand, their manifests left: the record goes past every number a manifest part carries in one try (it took one number per try and failed after the fourth)', async () => {
    const taken = {exitCode: 1, stderr: 'Error from server (AlreadyExists): secrets "skycap-release-shop.prod-6" already exists'}
    const names: string[] = []
    const sent = (i: string | undefined) => {
      for (const o of JSON.parse(i as string).items) names.push(o.metadata.name)
    }
    const row = (n: number, part = 0) =>
      `skycap-release-shop.prod-${n}${part ? `-part${part}` : ''}   skycap.dev/release-manifests   1   5m   skycap.dev/environment=prod,skycap.dev/part=${part},skycap.dev/release=${n},skycap.dev/release-of=shop,skycap.dev/write=old${n}`
    const fake = fakeKubectl(
      [
        {argv: [...NS, 'create', '-f', '-'], input: sent, result: taken},
        {argv: [...NS, 'delete', 'configmaps,secrets', '--ignore-not-found', '--wait=false', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=prod,skycap.dev/release=6,skycap.dev/write=w1']},
        {argv: [...NS, 'get', 'configmaps', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=prod', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
        {
          argv: [...NS, 'get', 'secrets', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=prod', '--show-labels', '--no-headers'],
          result: {stdout: [row(6), row(7), row(8), row(9), row(9, 1)].join('\n') + '\n'},
        },
        {argv: [...NS, 'create', '-f', '-'], input: sent},
      ],
      opts,
    )
    const renumbered: string[] = []
    let w = 0
    const number = await saveRelease(fake.kubectl, record(6, 'succeeded'), [obj('ConfigMap', 'c')], [], 10, {
      onRenumbered: (from, to, why) => renumbered.push(`${from}->${to} ${why}`),
      writeId: () => `w${++w}`,
    })
    expect(fake.remaining()).to.equal(0)
    expect(number).to.equal(10)
    expect(renumbered).to.deep.equal(['6->10 leftover'])
    expect(names.slice(-2)).to.deep.equal(['skycap-release-shop.prod-10', 'skycap-release-shop.prod-10'])
    expect(renumberedNote('prod', 'deploy', 6, 10, 'leftover')).to.equal(
      'the manifests of release 6 of prod are still in the cluster without its record (deleted by hand?); this deploy is recorded as release 10, the first number no record or manifest of prod carries',
    )
    expect(renumberedNote('prod', 'deploy', 6, 7, 'leftover')).to.equal(
      'the manifests of release 6 of prod are still in the cluster without its record (deleted by hand?); this deploy is recorded as release 7',
    )
  })

  it('a taken number is tried again at most three times, and never for a record that replaces another (rollout resume)', async () => {
    const taken = {exitCode: 1, stderr: 'Error from server (AlreadyExists): configmaps "x" already exists'}
    const list = {argv: [...NS, 'get', 'configmaps', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=prod', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}}
    const parts = {argv: [...NS, 'get', 'secrets', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=prod', '--show-labels', '--no-headers'], result: {stdout: ''}}
    const round = (n: number) => [
      {argv: [...NS, 'create', '-f', '-'], result: taken},
      {argv: [...NS, 'delete', 'configmaps,secrets', '--ignore-not-found', '--wait=false', '-l', `skycap.dev/release-of=shop,skycap.dev/environment=prod,skycap.dev/release=${n},skycap.dev/write=w`]},
      list,
      parts,
    ]
    const fake = fakeKubectl([...round(6), ...round(7), ...round(8), {argv: [...NS, 'create', '-f', '-'], result: taken}], opts)
    const error = await saveRelease(fake.kubectl, record(6, 'failed'), undefined, [], 10, {writeId: () => 'w'}).then(
      () => expect.fail('a fourth taken number should fail'),
      (e: unknown) => e as Error,
    )
    expect(fake.remaining()).to.equal(0)
    expect(error.message).to.contain('already exists')
    const replacing = fakeKubectl([{argv: [...NS, ...APPLY], result: taken}], opts)
    const refused = await saveRelease(replacing.kubectl, record(6, 'succeeded'), undefined, [], 10, {replace: 'skycap-release-shop.prod-6'}).catch((e: unknown) => e as Error)
    expect(replacing.remaining()).to.equal(0)
    expect((refused as Error).message).to.contain('already exists')
  })

  it('replace (rollout resume writing the outcome of a deploy recorded as interrupted) applies over the same name, deleting nothing first', async () => {
    // The name of the record it replaces, whichever layout wrote it (earlier builds joined app and environment with '-').
    for (const name of ['skycap-release-shop.prod-3', 'skycap-release-shop-prod-3']) {
      const fake = fakeKubectl(
        [
          {
            argv: [...NS, 'apply', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-'],
            input: (i) => expect(JSON.parse(i as string).items.map((o: KubeObject) => `${o.kind}/${o.metadata.name}`)).to.deep.equal([`Secret/${name}`, `Secret/${name}-part1`, `ConfigMap/${name}`]),
          },
        ],
        opts,
      )
      const big = Array.from({length: 400}, (_, i) => ({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: `c${i}`}, data: {x: randomBytes(2048).toString('base64')}}))
      await saveRelease(fake.kubectl, record(3, 'succeeded'), big, [stored(2, 'succeeded'), stored(1, 'succeeded')], 3, {replace: name})
      expect(fake.remaining()).to.equal(0)
    }
  })

  it('names records so that two apps whose app and environment names join alike (shop + eu-test, shop-eu + test) do not collide', async () => {
    const names: string[] = []
    for (const [app, environment] of [
      ['shop', 'eu-test'],
      ['shop-eu', 'test'],
    ] as const) {
      const fake = fakeKubectl([{argv: [...NS, 'create', '-f', '-'], input: (i) => void names.push(JSON.parse(i as string).items[0].metadata.name)}], opts)
      await saveRelease(fake.kubectl, {...record(1, 'succeeded'), app, environment}, undefined, [], 3)
    }
    expect(names).to.deep.equal(['skycap-release-shop.eu-test-1', 'skycap-release-shop-eu.test-1'])
  })

  it('a record whose kubectl dies of a Ctrl-C (the terminal signals the whole group) is written again over what it may have written; only once', async () => {
    const sent: string[] = []
    const interrupted = {exitCode: -1, stderr: '', signal: 'SIGINT'}
    const fake = fakeKubectl(
      [
        {argv: [...NS, 'create', '-f', '-'], input: (i) => sent.push(i as string), result: interrupted},
        {argv: [...NS, ...APPLY], input: (i) => sent.push(i as string)},
      ],
      opts,
    )
    await saveRelease(fake.kubectl, record(3, 'succeeded'), undefined, [stored(2, 'succeeded')], 3)
    expect(fake.remaining()).to.equal(0)
    expect(sent[1]).to.equal(sent[0])
    // Stopped again: the second Ctrl-C is the user's last word.
    const twice = fakeKubectl(
      [
        {argv: [...NS, 'create', '-f', '-'], result: interrupted},
        {argv: [...NS, ...APPLY], result: interrupted},
      ],
      opts,
    )
    const error = await saveRelease(twice.kubectl, record(3, 'succeeded'), undefined, [], 3).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(InterruptedError)
  })

  it('an API server that stops answering during the write is waited for (up to 30 s, within the lock) and the record written again with apply; it ended a live release unrecorded', async () => {
    const refused = {exitCode: 1, stderr: 'The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?'}
    const eof = {exitCode: 1, stderr: 'error: Post "https://10.0.0.1:6443/api/v1/namespaces/shop/configmaps": EOF'}
    const sent: string[] = []
    const fake = fakeKubectl(
      [
        {argv: [...NS, 'create', '-f', '-'], input: (i) => sent.push(i as string), result: eof},
        {argv: [...NS, ...APPLY], input: (i) => sent.push(i as string), result: refused},
        {argv: [...NS, ...APPLY], input: (i) => sent.push(i as string)},
      ],
      opts,
    )
    const events: ContactEvent[] = []
    await saveRelease(fake.kubectl, record(3, 'succeeded'), undefined, [stored(2, 'succeeded')], 3, {intervalMs: 1, onContact: (e) => events.push(e)})
    expect(fake.remaining()).to.equal(0)
    expect(new Set(sent).size, 'the same record each time').to.equal(1)
    expect(events.map((e) => e.lost)).to.deep.equal([true, false])
    // Not back within 30 s: the unreachable error, for the deploy to say the release runs unrecorded.
    let now = 1_000_000
    const clock = () => (now += 4_000)
    const runner: ProcessRunner = async () => ({stdout: '', ...refused})
    const gone = new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, ...opts})
    const error = await saveRelease(gone, record(3, 'succeeded'), undefined, [], 3, {intervalMs: 1, clock}).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(ApiServerUnreachableError)
    expect((error as Error).message).to.match(/it has not answered for (2[89]|3\d)s, and the time is up$/)
  })

  it('deletes nothing while the count is within keep', async () => {
    const fake = fakeKubectl([{argv: [...NS, 'create', '-f', '-']}], opts)
    await saveRelease(fake.kubectl, record(3, 'succeeded'), [], [stored(2, 'succeeded'), stored(1, 'succeeded')], 3)
    expect(fake.remaining()).to.equal(0)
  })

  const rec = (number: number, action: ReleaseRecord['action'], result: ReleaseRecord['result'] = 'succeeded') => ({...record(number, 'succeeded'), action, result}) as ReleaseRecord

  it('scale entries never count against keep: eleven scales leave every deploy within keep', () => {
    const records = [rec(1, 'deploy'), rec(2, 'deploy'), ...Array.from({length: 11}, (_, i) => rec(3 + i, 'scale'))]
    expect(releasesToDrop(records, 2)).to.deep.equal([])
    expect(releasesToDrop(records, 1)).to.deep.equal([1, 3])
  })

  it('scale entries older than the oldest kept deploy or rollback go, and beyond 10 per kept release', () => {
    const records = [rec(1, 'deploy'), rec(2, 'scale'), rec(3, 'deploy'), rec(4, 'rollback'), rec(5, 'scale')]
    expect(releasesToDrop(records, 2)).to.deep.equal([1, 2])
    const many = [rec(1, 'deploy'), ...Array.from({length: 12}, (_, i) => rec(2 + i, 'scale'))]
    expect(releasesToDrop(many, 1)).to.deep.equal([2, 3])
  })

  it('keeps the newest successful deploy or rollback beyond keep; rollbacks count like deploys', () => {
    const records = [rec(1, 'deploy'), rec(2, 'deploy', 'failed'), rec(3, 'rollback'), rec(4, 'deploy', 'failed'), rec(5, 'deploy', 'failed')]
    expect(releasesToDrop(records, 2)).to.deep.equal([1, 2])
  })

  it('keeps the release skycap rollback returns to: failed deploys, each rolled back to the same release, no longer push it out', () => {
    const ran = (r: ReleaseRecord, sha: string, images: Record<string, string> = {web: `web:${sha}`}) => ({...r, revision: {sha, short: sha.slice(0, 7), subject: ''}, images})
    // 1 ran a, 2 ran b; then three failed deploys of c, each followed by its rollback to 2.
    const records = [ran(rec(1, 'deploy'), 'a'), ran(rec(2, 'deploy'), 'b'), ...[3, 5, 7].flatMap((n) => [ran(rec(n, 'deploy', 'failed'), 'c'), ran(rec(n + 1, 'rollback'), 'b')])]
    expect(releasesToDrop(records, 3)).to.deep.equal([2, 3, 4, 5])
    // The same revision with other images (a registry or imageTag change) is another release to return to.
    const retagged = [ran(rec(1, 'deploy'), 'b', {web: 'old/web:b'}), ...records.slice(1)]
    expect(releasesToDrop(retagged, 3)).to.deep.equal([2, 3, 4, 5])
    // Nothing before the newest success ran anything else: only keep and the newest success stay.
    const same = records.map((r) => (r.number === 1 ? ran(r, 'b') : r))
    expect(releasesToDrop(same, 3)).to.deep.equal([1, 2, 3, 4, 5])
  })
})

describe('release records: layout', () => {
  const record = (number: number) =>
    ({number, app: 'shop', environment: 'prod', action: 'deploy', result: 'succeeded', images: {}, user: 'u', startedAt: '', finishedAt: '', durationMs: 0}) as ReleaseRecord
  const objects = (bytes: number) => [{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'big'}, data: {blob: randomBytes(bytes).toString('base64')}}] as KubeObject[]

  it('manifests too large for one Secret are split into parts and read back whole', async () => {
    const manifests = objects(1_000_000)
    let sent: {items: Array<{kind: string; type?: string; metadata: {name: string; labels: Record<string, string>}; data: Record<string, string>}>} | undefined
    const save = fakeKubectl([{argv: [...NS, 'create', '-f', '-'], input: (i) => (sent = JSON.parse(i as string))}], opts)
    await saveRelease(save.kubectl, record(4), manifests, [], 10)
    const secrets = sent?.items.filter((i) => i.kind === 'Secret') ?? []
    expect(secrets.length).to.equal(packManifests(manifests).length).and.be.above(1)
    for (const p of secrets) expect(Buffer.from(p.data.manifests as string, 'base64').length).to.be.at.most(PART_BYTES)
    // The record comes last: it never names parts that were not created before it.
    expect(sent?.items.at(-1)?.kind).to.equal('ConfigMap')
    const selector = 'skycap.dev/release-of=shop,skycap.dev/environment=prod'
    const items = sent?.items ?? []
    const secretsOf = (parts: typeof items) => JSON.stringify({items: parts})
    // The listing is the API server's table: names, types and labels, never the data.
    const table = (parts: typeof items) =>
      parts
        .map(
          (p) =>
            `${p.metadata.name}   ${p.type}   1      3s    ${Object.entries(p.metadata.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(',')}\n`,
        )
        .join('')
    const listing = (parts: typeof items): Expectation[] => [
      {argv: [...NS, 'get', 'configmaps', '-l', selector, '-o', 'json'], result: {stdout: JSON.stringify({items: items.filter((i) => i.kind === 'ConfigMap')})}},
      {argv: [...NS, 'get', 'secrets', '-l', selector, '--show-labels', '--no-headers'], result: {stdout: table(parts)}},
    ]
    const read = {argv: [...NS, 'get', 'secrets', '-l', `${selector},skycap.dev/release=4`, '-o', 'json'], result: {stdout: secretsOf([...secrets].reverse())}}
    const list = fakeKubectl([...listing(secrets), read], opts)
    const [stored] = await listReleases(list.kubectl, 'shop', 'prod')
    expect(stored?.hasManifests).to.equal(true)
    // Listed, not read: the data comes with the first call of manifests(), once.
    expect(list.remaining()).to.equal(1)
    expect(await stored?.manifests()).to.deep.equal(manifests)
    expect(await stored?.manifests()).to.deep.equal(manifests)
    expect(list.remaining()).to.equal(0)
    // A copy of a part with the same labels (a backup someone made), and a Secret of the type without data: neither
    // spoils the release (it was taken as lost, and rollback went past it without a word).
    const [first] = secrets
    const copy = {...first!, metadata: {...first!.metadata, name: `${first!.metadata.name}-backup`}}
    const empty = {...first!, metadata: {...first!.metadata, name: 'empty', labels: {...first!.metadata.labels, 'skycap.dev/part': '1'}}, data: {}}
    const tableOf = (parts: typeof items) => table(parts).replace(/^(empty\s+\S+\s+)1/m, (_, row: string) => `${row}0`)
    const spare = fakeKubectl(
      [listing(secrets)[0]!, {...listing(secrets)[1]!, result: {stdout: tableOf([...secrets, copy, empty])}}, {...read, result: {stdout: secretsOf([copy, empty, ...secrets])}}],
      opts,
    )
    const [kept] = await listReleases(spare.kubectl, 'shop', 'prod')
    expect(kept?.hasManifests).to.equal(true)
    expect(await kept?.manifests()).to.deep.equal(manifests)
    // An empty one in place of a missing part does not complete it.
    const hollow = fakeKubectl([listing(secrets)[0]!, {...listing(secrets)[1]!, result: {stdout: tableOf([secrets[0]!, empty, ...secrets.slice(2)])}}], opts)
    expect((await listReleases(hollow.kubectl, 'shop', 'prod'))[0]?.hasManifests).to.equal(false)
    // A part missing from the listing (deleted by hand): the release has no manifests to return to.
    const short = fakeKubectl(listing(secrets.slice(1)), opts)
    expect((await listReleases(short.kubectl, 'shop', 'prod'))[0]?.hasManifests).to.equal(false)
    // A part deleted between the listing and the read: said, not read as a release of no objects.
    const gone = fakeKubectl([...listing(secrets), {...read, result: {stdout: secretsOf(secrets.slice(1))}}], opts)
    const error = await (await listReleases(gone.kubectl, 'shop', 'prod'))[0]?.manifests().catch((e: unknown) => e)
    expect(error).to.be.instanceOf(UserError)
    expect((error as UserError).message).to.equal(`the manifests of release 4 of prod are incomplete (${secrets.length - 1} of ${secrets.length} parts): they were deleted while this command ran`)
  })

  it('history and status read records without Secrets; a record whose parts are missing has no manifests', async () => {
    const cm = {kind: 'ConfigMap', metadata: {name: 'skycap-release-shop-prod-1', labels: {}}, data: {release: JSON.stringify({...record(1), manifestParts: 2})}}
    const reader = fakeKubectl(
      [{argv: [...NS, 'get', 'configmaps', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=prod', '-o', 'json'], result: {stdout: JSON.stringify({items: [cm]})}}],
      opts,
    )
    const [read] = await listReleases(reader.kubectl, 'shop', 'prod', {manifests: false})
    expect(read?.record.number).to.equal(1)
    expect(read?.hasManifests).to.equal(false)
  })

  it('an unreadable record (cut or edited by hand) is named with how to look at it and drop it, not a bare JSON error', async () => {
    const good = {kind: 'ConfigMap', metadata: {name: 'skycap-release-shop-prod-1', labels: {}}, data: {release: JSON.stringify(record(1))}}
    const broken = {kind: 'ConfigMap', metadata: {name: 'skycap-release-shop-prod-99', labels: {}}, data: {release: '{"number":99,"broken'}}
    const reader = fakeKubectl(
      [{argv: [...NS, 'get', 'configmaps', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=prod', '-o', 'json'], result: {stdout: JSON.stringify({items: [good, broken]})}}],
      opts,
    )
    const error = (await listReleases(reader.kubectl, 'shop', 'prod', {manifests: false}).catch((e: unknown) => e)) as UserError
    expect(error).to.be.instanceOf(UserError)
    expect(error.message).to.match(/^the release record ConfigMap\/skycap-release-shop-prod-99 is not readable \(.*JSON.*\); nothing was changed$/)
    expect(error.hint).to.equal(
      'Look at it with `kubectl get configmap skycap-release-shop-prod-99 -o yaml -n shop --context kind-x`. Deleting it (`kubectl delete configmap skycap-release-shop-prod-99 -n shop --context kind-x`) drops that one entry from the history.',
    )
    // With its labels (as skycap writes it), the hint deletes the record with its manifests: the record alone left
    // them, and the next deploy's record collided with them.
    const labelled = {...broken, metadata: {...broken.metadata, labels: {'skycap.dev/release-of': 'shop', 'skycap.dev/environment': 'prod', 'skycap.dev/release': '99'}}}
    const second = fakeKubectl(
      [{argv: [...NS, 'get', 'configmaps', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=prod', '-o', 'json'], result: {stdout: JSON.stringify({items: [good, labelled]})}}],
      opts,
    )
    const withManifests = (await listReleases(second.kubectl, 'shop', 'prod', {manifests: false}).catch((e: unknown) => e)) as UserError
    expect(withManifests.hint).to.equal(
      'Look at it with `kubectl get configmap skycap-release-shop-prod-99 -o yaml -n shop --context kind-x`. Deleting it with its manifests (`kubectl delete configmaps,secrets -l skycap.dev/release-of=shop,skycap.dev/environment=prod,skycap.dev/release=99 -n shop --context kind-x`) drops that one entry from the history.',
    )
  })

  it('a record that is JSON of another shape (edited by hand) is unreadable the same way: `history` crashed with a TypeError, other commands skipped it', async () => {
    const good = {kind: 'ConfigMap', metadata: {name: 'skycap-release-shop-prod-1', labels: {}}, data: {release: JSON.stringify(record(1))}}
    for (const [text, why] of [
      ['{"number":"five"}', 'number is "five", not a whole number from 1'],
      ['null', 'null, not an object'],
      ['[1]', 'a list, not an object'],
      [JSON.stringify({...record(5), user: 7}), 'user is 7, not a string'],
      [JSON.stringify({...record(5), revision: {sha: 'abc'}}), 'revision is {"sha":"abc"}, not an object with sha and short'],
      [JSON.stringify({...record(5), images: 'web:1'}), 'images is "web:1", not an object'],
    ]) {
      const edited = {kind: 'ConfigMap', metadata: {name: 'skycap-release-shop-prod-5', labels: {}}, data: {release: text}}
      const reader = fakeKubectl(
        [{argv: [...NS, 'get', 'configmaps', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=prod', '-o', 'json'], result: {stdout: JSON.stringify({items: [good, edited]})}}],
        opts,
      )
      const error = (await listReleases(reader.kubectl, 'shop', 'prod', {manifests: false}).catch((e: unknown) => e)) as UserError
      expect(error, text).to.be.instanceOf(UserError)
      expect(error.message).to.equal(`the release record ConfigMap/skycap-release-shop-prod-5 is not readable (not a release record: ${why}); nothing was changed`)
    }
  })

  it('a deploy whose manifests cannot be recorded is refused before anything is applied (exit 2)', () => {
    expect(() => checkRecordable(objects(1_000_000))).to.not.throw()
    let caught: {exitCode?: number; message?: string} | undefined
    try {
      checkRecordable(objects(PART_BYTES * MAX_PARTS))
    } catch (error) {
      caught = error as typeof caught
    }
    expect(caught?.exitCode).to.equal(2)
    expect(caught?.message).to.match(
      /^the release's manifests take \d+\.\d MB compressed, more than the 5\.6 MB skycap can record for rollback \(largest, uncompressed: ConfigMap\/big \(\d+\.\d MB\)\); nothing was changed$/,
    )
    // The objects that take the most room are named, largest first, three at most (it named none).
    const several = [
      ...objects(PART_BYTES * 3).map((o) => ({...o, metadata: {name: 'rules'}})),
      ...objects(PART_BYTES * 4).map((o) => ({...o, metadata: {name: 'geo'}})),
      ...objects(PART_BYTES * 2).map((o) => ({...o, metadata: {name: 'words'}})),
      ...objects(1000).map((o) => ({...o, metadata: {name: 'small'}})),
    ]
    expect(unrecordableNote(several)).to.match(/\(largest, uncompressed: ConfigMap\/geo \(3\.7 MB\), ConfigMap\/rules \(2\.8 MB\), ConfigMap\/words \(1\.9 MB\)\)$/)
    // Well under the limit, nothing is compressed to tell.
    expect(unrecordableNote(objects(1_000_000))).to.equal(undefined)
  })
})

describe('rollback: which release "the one before" is', () => {
  // The UserError chooseRelease rejects with.
  const rejection = async (choosing: Promise<unknown>): Promise<UserError> => {
    try {
      await choosing
    } catch (error) {
      expect(error).to.be.instanceOf(UserError)
      return error as UserError
    }
    throw new Error('chooseRelease chose a release')
  }
  // Each release runs its own image unless `image` says otherwise (a rollback to N runs N's).
  const stored = (number: number, action: ReleaseRecord['action'], result: ReleaseRecord['result'], rolledBackTo?: number, image = `web:${rolledBackTo ?? number}`, replicas = 2) => ({
    record: {number, action, result, ...(rolledBackTo ? {rolledBackTo} : {}), revision: {sha: `${number}`.repeat(40).slice(0, 40), short: '', subject: ''}} as ReleaseRecord,
    hasManifests: result === 'succeeded' && action !== 'scale',
    manifests: async () => [obj('Deployment', 'web', {spec: {replicas, template: {spec: {containers: [{name: 'web', image}]}}}}), obj('Service', 'web')],
  })

  it('skips releases that run the same manifests as the current one (one commit deployed twice), whatever their replica counts', async () => {
    // 5 and 4 deployed what 3 did (4 after a scale to 5 replicas); 2 ran something else.
    const releases = [stored(5, 'deploy', 'succeeded', undefined, 'web:3'), stored(4, 'deploy', 'succeeded', undefined, 'web:3', 5), stored(3, 'deploy', 'succeeded'), stored(2, 'deploy', 'succeeded')]
    expect((await chooseRelease(releases, undefined, 'prod')).record.number).to.equal(2)
    // Nothing else before: refused, as with a single release.
    expect((await rejection(chooseRelease(releases.slice(0, 3), undefined, 'prod'))).message).to.contain('prod has no earlier successful release to roll back to')
    // Never deployed: said so, with the command that deploys it (the hint named `history`, which says only that nothing is recorded).
    const never = await rejection(chooseRelease([], undefined, 'qa'))
    expect([never.message, never.hint]).to.deep.equal(['qa has no releases yet: there is nothing to roll back', 'Deploy it first: `skycap deploy qa`.'])
    expect((await rejection(chooseRelease([], undefined, 'local'))).hint).to.equal('Deploy it first: `skycap up`.')
    // A current release without its manifests cannot be compared: the one before is taken, as before.
    const unknown = [{...stored(5, 'deploy', 'succeeded', undefined, 'web:3'), hasManifests: false}, stored(4, 'deploy', 'succeeded', undefined, 'web:3')] as StoredRelease[]
    expect((await chooseRelease(unknown, undefined, 'prod')).record.number).to.equal(4)
  })

  it("the kept counts' line says what the release had, from its Deployments (a canary's Service after its Deployment gave 'had 1')", async () => {
    const manifests = [obj('Service', 'web'), obj('Deployment', 'web', {spec: {replicas: 3}}), obj('Deployment', 'shop', {spec: {replicas: 5}}), obj('Service', 'shop')]
    expect(keptCountsNote({web: 2, shop: 4}, manifests, 8)).to.equal("Keeping the live replica counts: web 2 (release 8 had 3), shop 4 (release 8 had 5); --reset-replicas restores the release's")
    // A template's Deployment that sets no count: the release had none of its own (it said "had 1").
    const template = [...manifests, obj('Deployment', 'api', {spec: {template: {}}})]
    expect(keptCountsNote({api: 4}, template, 8)).to.equal("Keeping the live replica counts: api 4 (release 8 set no count); --reset-replicas restores the release's")
  })

  it('is the release before the current one', async () => {
    const releases = [stored(3, 'deploy', 'succeeded'), stored(2, 'scale', 'succeeded'), stored(1, 'deploy', 'succeeded')]
    expect((await chooseRelease(releases, undefined, 'prod')).record.number).to.equal(1)
  })

  it('after an automatic rollback to 2, is 1: not 2 again, not the rollback entry', async () => {
    const releases = [stored(4, 'rollback', 'succeeded', 2), stored(3, 'deploy', 'failed'), stored(2, 'deploy', 'succeeded'), stored(1, 'deploy', 'succeeded')]
    expect(contentOf(releases[0] as StoredRelease, releases)).to.equal(2)
    expect((await chooseRelease(releases, undefined, 'prod')).record.number).to.equal(1)
  })

  it('after a failed deploy that was not rolled back, is the newest good release, a rollback entry included', async () => {
    const releases = [stored(6, 'deploy', 'failed'), stored(5, 'rollback', 'succeeded', 1), stored(4, 'deploy', 'failed'), stored(1, 'deploy', 'succeeded')]
    expect((await chooseRelease(releases, undefined, 'prod')).record.number).to.equal(5)
  })

  it("notifications' fromRevision is the revision that ran: not a release whose hook failed before its rollout, nor a failed first deploy", async () => {
    const sha = (n: number) => `${n}`.repeat(40).slice(0, 40)
    // 7's predeploy hook failed (not rolled out); 6 ran. A scale is never it.
    expect(runningRevision([stored(8, 'scale', 'succeeded'), stored(7, 'deploy', 'failed'), stored(6, 'deploy', 'succeeded')] as StoredRelease[])?.sha).to.equal(sha(6))
    // After an automatic rollback, its entry runs.
    expect(runningRevision([stored(4, 'rollback', 'succeeded', 2), stored(3, 'deploy', 'failed'), stored(2, 'deploy', 'succeeded')] as StoredRelease[])?.sha).to.equal(sha(4))
    // A first deploy that failed, or was interrupted: nothing ran before.
    expect(runningRevision([stored(2, 'deploy', 'interrupted'), stored(1, 'deploy', 'failed')] as StoredRelease[])).to.equal(null)
  })

  it('--to a release that cannot be returned to says what it is and names ones that can (exit 2)', async () => {
    const scaled = {...stored(3, 'scale', 'succeeded'), record: {...stored(3, 'scale', 'succeeded').record, scale: {service: 'web', from: 4, to: 3}}}
    const releases = [stored(5, 'deploy', 'succeeded'), stored(4, 'deploy', 'failed'), scaled, stored(2, 'deploy', 'succeeded'), {...stored(1, 'deploy', 'succeeded'), hasManifests: false}]
    const refused = async (to: string) => {
      try {
        await chooseRelease(releases, to, 'prod')
      } catch (error) {
        expect(error).to.be.instanceOf(UserError)
        return `${(error as UserError).message} | ${(error as UserError).hint}`
      }
      throw new Error(`--to ${to} was accepted`)
    }
    expect(await refused('3')).to.equal(
      'release 3 of prod is a scale entry (web 4 -> 3), which has no manifests of its own: it cannot be rolled back to | Roll back to a deploy or rollback that succeeded, e.g. --to 2; `skycap history prod` lists them.',
    )
    expect(await refused('4')).to.match(/^release 4 of prod is a deploy that failed: it cannot be rolled back to \| /)
    expect(await refused('1')).to.match(/^release 1 of prod has lost its manifests \(the Secrets that hold them are gone or incomplete\): /)
    expect(await refused('9')).to.match(/^no successful release of prod matches "9" \| /)
  })

  it('--to names no release that runs what runs now, and a branch or HEAD~N it resolved is shown as typed', async () => {
    const scaled = {...stored(4, 'scale', 'succeeded'), record: {...stored(4, 'scale', 'succeeded').record, scale: {service: 'web', from: 1, to: 3}}}
    // 5 is a rollback to 3: 5 and 3 run what runs now, so the hint names 2 and 1 (it named 5, 3 and 2).
    const releases = [stored(5, 'rollback', 'succeeded', 3), scaled, stored(3, 'deploy', 'succeeded'), stored(2, 'deploy', 'succeeded'), stored(1, 'deploy', 'succeeded')]
    expect((await rejection(chooseRelease(releases, '4', 'prod'))).hint).to.contain('e.g. --to 2 or --to 1;')
    const head3 = 'abcdef0123456789abcdef0123456789abcdef01'
    const never = await rejection(chooseRelease(releases, head3, 'prod', 'HEAD~3'))
    expect(never.message).to.contain('no successful release of prod matches "HEAD~3" (abcdef0)')
    // A revision no release ran (or whose releases history.keep dropped): deploying it is the way to run it again.
    expect(never.hint).to.equal('`skycap history prod` lists the releases; roll back to a number or a revision that succeeded, or deploy that revision as a new release: `skycap deploy prod@HEAD~3`.')
    expect((await rejection(chooseRelease(releases, '99', 'prod', '99'))).message).to.match(/^no successful release of prod matches "99"$/)
    // Mercurial's short ids are 12 digits, as hg log shows them.
    expect((await rejection(chooseRelease(releases, head3, 'prod', '.~3', {short: head3.slice(0, 12)}))).message).to.contain('no successful release of prod matches ".~3" (abcdef012345)')
  })

  it('--to a revision whose only deploys failed says so, and names releases that can be returned to (it said only "no successful release matches")', async () => {
    const head = 'f'.repeat(40)
    const failedAt = (number: number, result: ReleaseRecord['result']) => ({
      ...stored(number, 'deploy', result),
      record: {...stored(number, 'deploy', result).record, revision: {sha: head, short: '', subject: ''}},
    })
    const releases = [failedAt(4, 'interrupted'), failedAt(3, 'failed'), stored(2, 'deploy', 'succeeded'), stored(1, 'deploy', 'succeeded')]
    const error = await rejection(chooseRelease(releases, head, 'prod', 'HEAD'))
    expect(error.message).to.equal('no successful release of prod matches "HEAD" (fffffff): it was deployed, but release 4 (deploy) was interrupted, release 3 (deploy) failed')
    expect(error.hint).to.equal('Roll back to a deploy or rollback that succeeded, e.g. --to 2 or --to 1; `skycap history prod` lists them.')
  })

  it('--to a revision deployed from a clean tree and again with uncommitted changes takes the clean release (it took the newest, whose files no commit has); --to N takes N', async () => {
    const sha = 'e'.repeat(40)
    const at = (number: number, uncommitted: boolean) => ({
      ...stored(number, 'deploy', 'succeeded'),
      record: {...stored(number, 'deploy', 'succeeded').record, revision: {sha, short: '', subject: ''}, ...(uncommitted ? {uncommitted: true} : {})},
    })
    const releases = [stored(4, 'deploy', 'succeeded'), at(3, true), at(2, false), stored(1, 'deploy', 'succeeded')]
    expect((await chooseRelease(releases, sha.slice(0, 7), 'prod')).record.number).to.equal(2)
    expect((await chooseRelease(releases, '3', 'prod')).record.number).to.equal(3)
    // Only ever deployed with uncommitted changes: that one, as before (the rollback's line says so).
    expect((await chooseRelease([stored(4, 'deploy', 'succeeded'), at(3, true)], sha.slice(0, 7), 'prod')).record.number).to.equal(3)
  })

  it('the releases a refusal suggests are one per revision and images: a commit deployed twice is offered once', async () => {
    // 3 and 2 deployed one commit (a CI job run again); 4 failed.
    const twice = (number: number) => ({...stored(number, 'deploy', 'succeeded'), record: {...stored(number, 'deploy', 'succeeded').record, revision: {sha: 'c'.repeat(40), short: '', subject: ''}}})
    const releases = [stored(5, 'deploy', 'succeeded'), stored(4, 'deploy', 'failed'), twice(3), twice(2), stored(1, 'deploy', 'succeeded')]
    expect((await rejection(chooseRelease(releases, '4', 'prod'))).hint).to.equal('Roll back to a deploy or rollback that succeeded, e.g. --to 3 or --to 1; `skycap history prod` lists them.')
  })

  it('--to a name the checkout could not resolve says why (hg missing), with what to do', async () => {
    const releases = [stored(2, 'deploy', 'succeeded'), stored(1, 'deploy', 'succeeded')]
    const failure = new UserError('hg (Mercurial) is not installed, and /app is a Mercurial repository', {hint: 'Install Mercurial (apt-get install mercurial).'})
    const error = await rejection(chooseRelease(releases, '.~1', 'prod', '.~1', {failure}))
    expect(error.message).to.equal('no successful release of prod matches ".~1", and the checkout cannot resolve it: hg (Mercurial) is not installed, and /app is a Mercurial repository')
    expect(error.hint).to.match(/^Install Mercurial \(apt-get install mercurial\)\. `skycap history prod` lists the releases/)
  })

  it('--to a release history.keep dropped says so and names ones that can (it said "no successful release matches")', async () => {
    const releases = [stored(5, 'deploy', 'succeeded'), stored(4, 'deploy', 'succeeded'), stored(3, 'deploy', 'succeeded')]
    const error = await rejection(chooseRelease(releases, '1', 'prod'))
    expect(error.message).to.equal('release 1 of prod is no longer in its history (the oldest kept is release 3; history.keep says how many are kept): it cannot be rolled back to')
    expect(error.hint).to.equal('Roll back to a deploy or rollback that succeeded, e.g. --to 4 or --to 3; `skycap history prod` lists them.')
    // Above the newest: no such release, as before.
    expect((await rejection(chooseRelease(releases, '9', 'prod'))).message).to.equal('no successful release of prod matches "9"')
  })

  it('a rollback entry can be the target of --to', async () => {
    const releases = [stored(5, 'deploy', 'succeeded'), stored(4, 'rollback', 'succeeded', 2), stored(2, 'deploy', 'succeeded')]
    expect((await chooseRelease(releases, '4', 'prod')).record.number).to.equal(4)
  })

  it('refuses when nothing else ran before', async () => {
    const releases = [stored(2, 'rollback', 'succeeded', 1), stored(1, 'deploy', 'succeeded')]
    expect((await rejection(chooseRelease(releases, undefined, 'prod'))).message).to.contain('prod has no earlier successful release to roll back to')
  })

  it('a rollback that changed nothing names the release that runs, and the one it would have returned to when another (it named release 5 as running while release 6 ran)', () => {
    const revision = {sha: 'a'.repeat(40), short: 'aaaaaaa', subject: ''}
    expect(nothingToRollBackLine({environment: 'test', revision, rolledBackTo: 5, runningRelease: 6})).to.equal('nothing to roll back: test runs release 6 (aaaaaaa), the same as release 5')
    expect(nothingToRollBackLine({environment: 'test', revision, rolledBackTo: 6, runningRelease: 6})).to.equal('nothing to roll back: test runs release 6 (aaaaaaa)')
  })

  it('--to N refused in a Mercurial checkout where N is a local revision: says --to takes a release number, and how to name the changeset (real hg)', async function () {
    this.timeout(60_000)
    const hg = await TempHgRepo.init()
    const git = await TempRepo.withFiles({'a.txt': 'a\n'})
    try {
      const ids: string[] = []
      for (const n of [0, 1, 2]) {
        hg.write('f', `${n}\n`)
        ids.push(await hg.commit(`c${n}`))
      }
      // Releases 3 and 4 deployed hg's revisions 0 and 1; release 2 failed; release 1 is gone from history.
      const at = (number: number, result: ReleaseRecord['result'], sha: string) => ({
        ...stored(number, 'deploy', result),
        record: {...stored(number, 'deploy', result).record, revision: {sha, short: sha.slice(0, 12), subject: ''}},
      })
      const releases = [at(4, 'succeeded', ids[1] as string), at(3, 'succeeded', ids[0] as string), at(2, 'failed', ids[2] as string)]
      const note = async (to: string, dir = hg.dir) => {
        const error = await rejection(chooseRelease(releases, to, 'prod'))
        return (await hgRevisionNote(error, {dir, kind: undefined, to, releases, environment: 'prod'})) as UserError
      }
      const short = (i: number) => (ids[i] as string).slice(0, 12)
      // 0 names no release; hg's revision 0 is the changeset release 3 deployed.
      const zero = await note('0')
      expect(zero).to.be.instanceOf(UserError)
      expect(zero.message).to.equal(
        `no successful release of prod matches "0"; --to 0 is a release number (\`skycap history prod\` lists them), not Mercurial's local revision 0 (changeset ${short(0)})`,
      )
      expect(zero.hint).to.equal(
        `To return to that changeset, give its id: \`skycap rollback prod --to ${short(0)}\` (release 3 deployed it). \`skycap history prod\` lists the releases; roll back to a number or a revision that succeeded.`,
      )
      // Release 2 failed; hg's revision 2 was never deployed with success: the deploy that deploys it.
      const two = await note('2')
      expect(two.message).to.match(/^release 2 of prod is a deploy that failed: it cannot be rolled back to; --to 2 is a release number/)
      expect(two.hint).to.match(new RegExp(`^No release of prod deployed that changeset: \`skycap deploy prod@${short(2)}\` deploys it\\. Roll back to a deploy or rollback that succeeded`))
      // A number that is no hg revision, a checkout of git: the refusal as it was.
      for (const [to, dir] of [
        ['7', hg.dir],
        ['0', git.dir],
      ] as const) {
        const plain = await rejection(chooseRelease(releases, to, 'prod'))
        expect(await hgRevisionNote(plain, {dir, kind: undefined, to, releases, environment: 'prod'}), `${to} in ${dir}`).to.equal(plain)
      }
      // Not a plain number: never asked of hg.
      const named = await rejection(chooseRelease(releases, 'abc', 'prod'))
      expect(await hgRevisionNote(named, {dir: hg.dir, kind: undefined, to: 'abc', releases, environment: 'prod'})).to.equal(named)
    } finally {
      hg.remove()
      git.remove()
    }
  })
})
