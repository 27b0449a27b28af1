import {expect} from 'chai'
import type {ProcessRunner} from '../../../src/build/process.js'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'

import {ciOutput} from '../../../src/ci/output.js'
import {deploy, interruptedHint} from '../../../src/deploy/deploy.js'
import {ExitCode, type KubectlError, type UserError} from '../../../src/errors.js'
import type {RolloutSummary} from '../../../src/release/store.js'
import {WATCH_RESOURCES} from '../../../src/resources/kinds.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {deploymentStatus, fakeKubectlFactory, type Expectation} from '../../helpers/fake-kubectl.js'
import {TempRepo} from '../../helpers/repo.js'

const BOUND = ['--context', 'kind-x', '--namespace', 'shop', '--request-timeout=30s']
/** The API server's clock, asked beside the events of a failure (src/deploy/explain.ts): refused here, the events decide. */
const CLOCK = {
  argv: [...BOUND, 'create', 'configmap', 'skycap-clock', '--dry-run=server', '-o', 'jsonpath={.metadata.creationTimestamp}'],
  result: {exitCode: 1, stdout: '', stderr: 'Error from server (Forbidden): configmaps is forbidden'},
}
const CLUSTER = ['--context', 'kind-x', '--request-timeout=30s']
const APPLY = ['apply', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-']
const SELECTOR = 'app.kubernetes.io/part-of=itapp,app.kubernetes.io/managed-by=skycap,skycap.dev/environment=test'
const PRUNE =
  'configmaps,secrets,services,serviceaccounts,deployments.apps,statefulsets.apps,daemonsets.apps,jobs.batch,cronjobs.batch,ingresses.networking.k8s.io,horizontalpodautoscalers.autoscaling,poddisruptionbudgets.policy,networkpolicies.networking.k8s.io,roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io,resourcequotas,limitranges'

/** What one `create -f -` of a release record sends: the record (a ConfigMap) and the manifest parts (Secrets). */
function recorded(input: string | undefined) {
  const items = (JSON.parse(input as string) as {items: Array<{kind: string; type?: string; metadata: {name: string; labels: Record<string, string>}; data: Record<string, string>}>}).items
  const configMap = items.find((i) => i.kind === 'ConfigMap')
  if (!configMap) throw new Error('no record ConfigMap')
  return {configMap, record: JSON.parse(configMap.data.release as string), parts: items.filter((i) => i.kind === 'Secret')}
}

const kinds = (input: string | undefined) => (JSON.parse(input as string) as {items: Array<{kind: string}>}).items.map((o) => o.kind)

/** A Deployment as the API server reports it once its rollout is done. */
const readyDeployment = (name: string, replicas: number) => deploymentStatus(name, replicas)

/** Release 1 (a record as skycap wrote them before 0.2: one Secret with record and manifests) and a web Deployment
 * whose new pod crash-loops, for the crash-loop tests. */
function crashLoop() {
  const good = [{apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'web', namespace: 'shop'}, spec: {replicas: 2}}]
  const release1 = {
    kind: 'Secret',
    type: 'skycap.dev/release.v1',
    metadata: {name: 'skycap-release-itapp-test-1'},
    data: {
      release: Buffer.from(
        JSON.stringify({number: 1, app: 'itapp', environment: 'test', action: 'deploy', result: 'succeeded', revision: {sha: 'a'.repeat(40), short: 'aaaaaaa', subject: 'one'}, images: {}}),
      ).toString('base64'),
      manifests: gzipSync(JSON.stringify(good)).toString('base64'),
    },
  }
  const crashing = {
    items: [
      {
        ...readyDeployment('web', 2),
        metadata: {name: 'web', uid: 'd1', generation: 2, annotations: {'deployment.kubernetes.io/revision': '2'}},
        spec: {replicas: 2, template: {metadata: {labels: {app: 'web'}}}},
        status: {observedGeneration: 2, replicas: 3, updatedReplicas: 1},
      },
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {name: 'web-2', uid: 'rs2', annotations: {'deployment.kubernetes.io/revision': '2'}, ownerReferences: [{uid: 'd1'}]},
        spec: {template: {metadata: {labels: {app: 'web', 'pod-template-hash': '2'}}}},
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {name: 'web-2-abc', ownerReferences: [{uid: 'rs2'}]},
        status: {containerStatuses: [{name: 'web', restartCount: 3, state: {waiting: {reason: 'CrashLoopBackOff'}}, lastState: {terminated: {exitCode: 1, reason: 'Error'}}}]},
      },
      readyDeployment('worker', 1),
    ],
  }
  return {good, release1, crashing}
}

/**
 * The calls that read a history of one record in the pre-0.2 layout: the ConfigMap records (none), the listing of the
 * Secrets (which shows the old type); then (`read`) those Secrets whole.
 */
function legacyRecords(record: {metadata: {name: string}}, step: 'list' | 'read' = 'list'): Expectation[] {
  const selector = 'skycap.dev/release-of=itapp,skycap.dev/environment=test'
  if (step === 'read') return [{argv: [...BOUND, 'get', 'secrets', '-l', selector, '-o', 'json'], result: {stdout: JSON.stringify({items: [record]})}}]
  return [
    {argv: [...BOUND, 'get', 'configmaps', '-l', selector, '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
    {argv: [...BOUND, 'get', 'secrets', '-l', selector, '--show-labels', '--no-headers'], result: {stdout: `${record.metadata.name}   skycap.dev/release.v1   2      5m    ${selector}\n`}},
  ]
}

/**
 * Before a first release in a namespace: whether the environment's history is in another one (its namespace changed
 * in skycap.yaml); none here.
 */
const ELSEWHERE: Expectation = {
  argv: [...BOUND, 'get', 'configmaps', '--all-namespaces', '-l', 'skycap.dev/release-of=itapp,skycap.dev/environment=test', '--show-labels', '--no-headers'],
  result: {stdout: ''},
}

/** Before the dry run of a deploy to a namespace that exists, one get of the release's objects: whose they are there. */
const OWNERS = [...BOUND, 'get', 'configmap/web-config-10dfb46eef', 'service/web', 'deployment.apps/web', 'deployment.apps/worker', '--ignore-not-found', '-o', 'json', '--show-managed-fields']

/** Under the lock, once: the list each poll of the watch makes, which a Role may not grant (nothing has changed yet). */
const UNWATCHED: Expectation = {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'name'], result: {stdout: ''}}

describe('skycap deploy: the whole kubectl sequence of a first deploy', function () {
  this.timeout(20_000)
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.clusterApp('kind-x', 'shop')
  })
  afterEach(() => repo.remove())

  it('validates, creates the namespace, locks, applies in two calls, watches in one, records, unlocks', async () => {
    let lease: {metadata: {annotations: Record<string, string>}} | undefined
    const script: Expectation[] = [
      {argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'other\nkind-x\n'}},
      {argv: [...CLUSTER, 'get', 'namespace', 'shop', '--ignore-not-found', '-o', 'name'], result: {stdout: ''}},
      ELSEWHERE,
      {argv: [...CLUSTER, 'create', '-f', '-'], input: (i) => expect(JSON.parse(i as string).metadata).to.deep.equal({name: 'shop', annotations: {'skycap.dev/created-by': 'deploy'}})},
      {argv: [...BOUND, ...APPLY, '--dry-run=server'], input: (i) => expect(kinds(i)).to.deep.equal(['ConfigMap', 'Service', 'Deployment', 'Deployment'])},
      {argv: [...BOUND, 'create', '-f', '-'], input: (i) => (lease = JSON.parse(i as string))},
      // Under the lock: the release number and the live replica counts are read again.
      {argv: [...BOUND, 'get', 'configmaps', '-l', 'skycap.dev/release-of=itapp,skycap.dev/environment=test', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      // Which releases have their manifests: the Secrets' names and labels, without their data.
      {argv: [...BOUND, 'get', 'secrets', '-l', 'skycap.dev/release-of=itapp,skycap.dev/environment=test', '--show-labels', '--no-headers'], result: {stdout: ''}},
      {argv: [...BOUND, 'get', 'deployments,services', '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      // Whose the release's objects are, asked under the lock: another app's deploy may have made them since validation.
      {argv: OWNERS, result: {stdout: ''}},
      // And whether the user may list what the watch lists (refused, nothing has changed yet).
      UNWATCHED,
      {argv: [...BOUND, ...APPLY], input: (i) => expect(kinds(i)).to.deep.equal(['ConfigMap'])},
      {argv: [...BOUND, ...APPLY], input: (i) => expect(kinds(i)).to.deep.equal(['Service', 'Deployment', 'Deployment'])},
      {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: [readyDeployment('web', 2), readyDeployment('worker', 1)]})}},
      {argv: [...BOUND, 'get', PRUNE, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      {
        argv: [...BOUND, 'create', '-f', '-'],
        input: (i) => {
          const {configMap, record, parts} = recorded(i)
          expect(configMap.metadata.name).to.equal('skycap-release-itapp.test-1')
          expect(record).to.include({number: 1, result: 'succeeded', manifestParts: 1, reason: 'first of many'})
          expect(parts.map((p) => [p.type, p.metadata.name, p.metadata.labels['skycap.dev/part']])).to.deep.equal([['skycap.dev/release-manifests.v1', 'skycap-release-itapp.test-1', '0']])
        },
      },
      {argv: [...BOUND, 'get', 'lease', 'skycap-lock-itapp', '-o', 'json', '--ignore-not-found'], result: () => ({stdout: JSON.stringify({...lease, spec: {}})})},
      {argv: [...BOUND, 'delete', 'lease', 'skycap-lock-itapp', '--ignore-not-found']},
    ]
    const fake = fakeKubectlFactory(script)
    const reporter = memoryReporter()
    // --reason goes into the lock and, since this session, into the release's record.
    const report = await deploy({target: 'test', cwd: repo.dir, skipImageCheck: true, reason: 'first of many'}, {kubectl: fake.factory, reporter, intervalMs: 1})
    expect(fake.remaining(), 'every scripted call made').to.equal(0)
    expect(report).to.include({result: 'succeeded', release: 1, namespace: 'shop', context: 'kind-x'})
    expect(reporter.lines).to.include('Deploying release 1: 4 objects')
    expect(lease?.metadata.annotations['skycap.dev/reason']).to.equal('first of many')
  })

  it("a Ctrl-C that stops validation's first reads (kubectl dies of it first) says the deploy was in validation and changed nothing", async () => {
    const script: Expectation[] = [
      {argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'kind-x\n'}},
      {argv: [...CLUSTER, 'get', 'namespace', 'shop', '--ignore-not-found', '-o', 'name'], result: {exitCode: -1, signal: 'SIGINT', stderr: ''}},
    ]
    const fake = fakeKubectlFactory(script)
    const error = await deploy({target: 'test', cwd: repo.dir, skipImageCheck: true}, {kubectl: fake.factory, reporter: memoryReporter(), intervalMs: 1}).then(
      () => undefined,
      (e: unknown) => e as UserError,
    )
    expect(fake.remaining()).to.equal(0)
    expect(error?.exitCode).to.equal(ExitCode.INTERRUPTED)
    expect(error?.message).to.equal('interrupted during validation of test; nothing was changed')
  })

  it('a user who may apply but not list what the watch lists is refused under the lock, before anything changes (the release went live unrecorded)', async () => {
    let lease: {metadata: {annotations: Record<string, string>}} | undefined
    const refused = 'Error from server (Forbidden): replicasets.apps is forbidden: User "system:serviceaccount:shop:ci" cannot list resource "replicasets" in API group "apps" in the namespace "shop"'
    const script: Expectation[] = [
      {argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'kind-x\n'}},
      {argv: [...CLUSTER, 'get', 'namespace', 'shop', '--ignore-not-found', '-o', 'name'], result: {stdout: ''}},
      ELSEWHERE,
      {argv: [...CLUSTER, 'create', '-f', '-'], input: (i) => expect(JSON.parse(i as string).metadata).to.deep.equal({name: 'shop', annotations: {'skycap.dev/created-by': 'deploy'}})},
      {argv: [...BOUND, ...APPLY, '--dry-run=server']},
      {argv: [...BOUND, 'create', '-f', '-'], input: (i) => (lease = JSON.parse(i as string))},
      {argv: [...BOUND, 'get', 'configmaps', '-l', 'skycap.dev/release-of=itapp,skycap.dev/environment=test', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      {argv: [...BOUND, 'get', 'secrets', '-l', 'skycap.dev/release-of=itapp,skycap.dev/environment=test', '--show-labels', '--no-headers'], result: {stdout: ''}},
      {argv: [...BOUND, 'get', 'deployments,services', '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      {argv: OWNERS, result: {stdout: ''}},
      {...UNWATCHED, result: {exitCode: 1, stderr: refused}},
      // No apply: the lock goes, and the namespace this deploy made goes with it (nothing was changed).
      {argv: [...BOUND, 'get', 'lease', 'skycap-lock-itapp', '-o', 'json', '--ignore-not-found'], result: () => ({stdout: JSON.stringify({...lease, spec: {}})})},
      {argv: [...BOUND, 'delete', 'lease', 'skycap-lock-itapp', '--ignore-not-found']},
      {argv: [...CLUSTER, 'delete', 'namespace', 'shop', '--ignore-not-found', '--wait=false']},
    ]
    const fake = fakeKubectlFactory(script)
    const error = await deploy({target: 'test', cwd: repo.dir, skipImageCheck: true}, {kubectl: fake.factory, reporter: memoryReporter(), intervalMs: 1}).then(
      () => undefined,
      (e: unknown) => e as KubectlError,
    )
    expect(fake.remaining(), 'every scripted call made').to.equal(0)
    expect(error?.exitCode).to.equal(ExitCode.FAILED)
    expect(error?.message).to.match(/^release \w{7} of test cannot be followed: .*cannot list resource "replicasets".*; nothing was changed/)
    expect(error?.hint).to.contain('skycap lists deployments,replicasets,statefulsets,daemonsets,jobs,pods to follow a rollout (docs/rbac.md has the Role)')
  })

  it('images the registry lacks: nothing changes, and the hint says to build them (skycap build ENV@REV, deploy --build) for services with build:', async () => {
    const text = readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')
    repo.write('skycap.yaml', text.replace('    image: web\n', '    image: web\n    build: {}\n'))
    const sha = await repo.commit('web is built by skycap')
    const short = sha.slice(0, 7)
    const script: Expectation[] = [
      {argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'kind-x\n'}},
      {argv: [...CLUSTER, 'get', 'namespace', 'shop', '--ignore-not-found', '-o', 'name'], result: {stdout: ''}},
      ELSEWHERE,
    ]
    const fake = fakeKubectlFactory(script)
    const registry = (async () => new Response(null, {status: 404})) as typeof fetch
    const error = await deploy({target: 'test', cwd: repo.dir}, {kubectl: fake.factory, reporter: memoryReporter(), fetch: registry}).then(
      () => undefined,
      (e: unknown) => e as UserError,
    )
    expect(fake.remaining()).to.equal(0)
    expect(error?.message).to.equal(`2 images do not exist: example.invalid/itapp/web:${sha}, example.invalid/itapp/worker:${sha}; nothing was changed`)
    expect(error?.hint).to.equal(
      `Build and push web with \`skycap build test@${short}\`, or deploy with --build (\`skycap deploy test@${short} --build\`), or wait for CI to build ${short}. worker has no build: block: has CI built and pushed ${short}? Wait for it, or deploy a revision that was built.`,
    )
    // A fixed tag (not the revision's): no build or CI run of a revision makes it (it asked whether CI had built ${short}).
    repo.write('skycap.yaml', readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8').replace('    image: worker\n', '    image: worker:nope\n'))
    await repo.commit('a fixed tag')
    const fixed = await deploy({target: 'test', cwd: repo.dir}, {kubectl: fakeKubectlFactory(script).factory, reporter: memoryReporter(), fetch: registry}).then(
      () => undefined,
      (e: unknown) => e as UserError,
    )
    expect(fixed?.hint).to.match(/^worker names an image whose tag no revision makes: set image: in skycap.yaml to a tag the registry has, or push it there\. Build and push web /)
  })

  it("--build with a service without build: that runs a built service's image: that image is not checked before the build pushes it (deploy --build of such an app always stopped, exit 2)", async () => {
    const text = readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')
    repo.write('skycap.yaml', text.replace('    image: web\n', '    image: web\n    build: {}\n').replace('    image: worker\n', '    image: web\n'))
    repo.write('Dockerfile', 'FROM scratch\n')
    await repo.commit('worker runs web')
    const asked: string[] = []
    const registry = (async (url: string | URL) => (asked.push(String(url)), new Response(null, {status: 404}))) as typeof fetch
    const calls: string[][] = []
    // The build itself fails: what matters is that it was reached.
    const run = (async (program: string, args: string[]) => {
      calls.push([program, ...args])
      return args.includes('build') && !args.includes('version') ? {exitCode: 1, missing: false, lastLines: ['failed on purpose']} : {exitCode: 0, missing: false, lastLines: []}
    }) as unknown as ProcessRunner
    const fake = fakeKubectlFactory([{argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'kind-x\n'}}])
    const error = await deploy({target: 'test', cwd: repo.dir, build: {}}, {kubectl: fake.factory, reporter: memoryReporter(), fetch: registry, buildRun: run}).then(
      () => undefined,
      (e: unknown) => e as UserError,
    )
    expect(error?.message).to.match(/^build of web failed; nothing was pushed/)
    expect(calls.some((c) => c.includes('build') && !c.includes('version'))).to.equal(true)
  })

  it('--build refuses, before building, when the build would tag other images than the deploy renders (an uncommitted imageTag, revision.dirty)', async () => {
    const text = readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')
    const withBuild = text.replace('    image: web\n', '    image: web\n    build: {}\n')
    repo.write('skycap.yaml', withBuild)
    repo.write('Dockerfile', 'FROM scratch\n')
    const sha = await repo.commit('web is built by skycap')
    const short = sha.slice(0, 7)
    for (const dirty of [false, true]) {
      let built = sha
      let wanted = `v2-${short}`
      if (dirty) {
        // A committed imageTag: only the work tree's state (a file changed) makes the deploy's tag differ.
        repo.write('skycap.yaml', `imageTag: "{{ revision.short }}{% if revision.dirty %}-d{% endif %}"\n${withBuild}`)
        built = (await repo.commit('dirty tags')).slice(0, 7)
        wanted = `${built}-d`
        repo.write('Dockerfile', 'FROM scratch\n# changed\n')
      } else repo.write('skycap.yaml', `imageTag: "v2-{{ revision.short }}"\n${withBuild}`)
      const calls: string[][] = []
      const fake = fakeKubectlFactory([{argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'kind-x\n'}}])
      const registry = (async () => new Response(null, {status: 404})) as typeof fetch
      const run = (async (program: string, args: string[]) => {
        calls.push([program, ...args])
        return {exitCode: 0, missing: false, lastLines: []}
      }) as unknown as ProcessRunner
      const error = await deploy({target: 'test', cwd: repo.dir, build: {}, skipImageCheck: true}, {kubectl: fake.factory, reporter: memoryReporter(), fetch: registry, buildRun: run}).then(
        () => undefined,
        (e: unknown) => e as UserError,
      )
      expect(fake.remaining()).to.equal(0)
      expect(error?.exitCode).to.equal(2)
      expect(error?.message).to.match(
        new RegExp(
          `^the build of [0-9a-f]{7} would push other images than this deploy runs \\(web: the build tags example\\.invalid/itapp/web:${built}, the deploy wants example\\.invalid/itapp/web:${wanted}\\); nothing was built or deployed$`,
        ),
      )
      expect(error?.hint).to.match(/^The build reads skycap\.yaml as committed in [0-9a-f]{7}, with revision\.dirty false; the deploy read the work tree's\./)
      expect(calls).to.deep.equal([])
    }
  })

  it('minReadySeconds not shorter than the timeout: refused before any kubectl call, naming the services and the timeout', async () => {
    const text = readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')
    repo.write('skycap.yaml', text.replace('    image: web\n', '    image: web\n    minReadySeconds: 300\n').replace('    image: worker\n', '    image: worker\n    minReadySeconds: 30\n'))
    await repo.commit('web waits 5 minutes')
    const refused = async (timeout?: string) => {
      const fake = fakeKubectlFactory([])
      const error = await deploy({target: 'test', cwd: repo.dir, skipImageCheck: true, timeout}, {kubectl: fake.factory, reporter: memoryReporter()}).then(
        () => undefined,
        (e: unknown) => e as UserError,
      )
      expect(fake.remaining()).to.equal(0)
      return error
    }
    const error = await refused('5m')
    expect([error?.exitCode, error?.message]).to.deep.equal([
      2,
      'minReadySeconds of web (300s) in test is not shorter than --timeout 5m: its new pods could never count as available in time; nothing was changed',
    ])
    expect(error?.hint).to.equal('Give the deploy more time (--timeout, or deploy.timeout in skycap.yaml) or lower minReadySeconds.')
    expect((await refused('30s'))?.message).to.match(/^minReadySeconds of web \(300s\), worker \(30s\) in test is not shorter than --timeout 30s:/)
  })

  it('deletes the namespace it created when the server rejects an object, and takes no lock', async () => {
    const script: Expectation[] = [
      {argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'kind-x\n'}},
      {argv: [...CLUSTER, 'get', 'namespace', 'shop', '--ignore-not-found', '-o', 'name'], result: {stdout: ''}},
      ELSEWHERE,
      {argv: [...CLUSTER, 'create', '-f', '-'], input: (i) => expect(JSON.parse(i as string).metadata).to.deep.equal({name: 'shop', annotations: {'skycap.dev/created-by': 'deploy'}})},
      {argv: [...BOUND, ...APPLY, '--dry-run=server'], result: {exitCode: 1, stderr: 'The Service "web" is invalid: spec.ports[0].port: Invalid value: 99999'}},
      {argv: [...CLUSTER, 'delete', 'namespace', 'shop', '--ignore-not-found', '--wait=true', '--timeout=30s']},
    ]
    const fake = fakeKubectlFactory(script)
    let caught: {exitCode?: number; message?: string} | undefined
    await deploy({target: 'test', cwd: repo.dir, skipImageCheck: true}, {kubectl: fake.factory, reporter: memoryReporter()}).catch((error: unknown) => (caught = error as typeof caught))
    expect(fake.remaining()).to.equal(0)
    expect(caught?.exitCode).to.equal(2)
    expect(caught?.message).to.contain('Invalid value: 99999')
  })

  it('a namespace another deploy created meanwhile is used, and not deleted on failure', async () => {
    const script: Expectation[] = [
      {argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'kind-x\n'}},
      {argv: [...CLUSTER, 'get', 'namespace', 'shop', '--ignore-not-found', '-o', 'name'], result: {stdout: ''}},
      ELSEWHERE,
      {
        argv: [...CLUSTER, 'create', '-f', '-'],
        input: (i) => expect(JSON.parse(i as string).metadata).to.deep.equal({name: 'shop', annotations: {'skycap.dev/created-by': 'deploy'}}),
        result: {exitCode: 1, stderr: 'Error from server (AlreadyExists): namespaces "shop" already exists'},
      },
      {argv: [...BOUND, ...APPLY, '--dry-run=server'], result: {exitCode: 1, stderr: 'The Service "web" is invalid: spec.ports[0].port: Invalid value: 99999'}},
    ]
    const fake = fakeKubectlFactory(script)
    let caught: {exitCode?: number} | undefined
    await deploy({target: 'test', cwd: repo.dir, skipImageCheck: true}, {kubectl: fake.factory, reporter: memoryReporter()}).catch((error: unknown) => (caught = error as typeof caught))
    expect(fake.remaining()).to.equal(0)
    expect(caught?.exitCode).to.equal(2)
  })

  it('a crash loop: events and the logs of the crashed container, the lock renewed, the last release re-applied and watched, the failure recorded', async () => {
    const {good, release1, crashing} = crashLoop()
    const events = {
      items: [{type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container', involvedObject: {kind: 'Pod', name: 'web-2-abc'}, count: 4, lastTimestamp: '2026-11-22T10:00:00Z'}],
    }
    let lease: {metadata: {annotations: Record<string, string>}} | undefined
    const script: Expectation[] = [
      {argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'kind-x\n'}},
      {argv: [...CLUSTER, 'get', 'namespace', 'shop', '--ignore-not-found', '-o', 'name'], result: {stdout: 'namespace/shop\n'}},
      // Before the lock, the records only (no manifests): the replica rule needs nothing more.
      {argv: [...BOUND, 'get', 'configmaps', '-l', 'skycap.dev/release-of=itapp,skycap.dev/environment=test', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      {argv: [...BOUND, 'get', 'deployments,services', '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      ELSEWHERE,
      {argv: OWNERS, result: {stdout: ''}},
      {argv: [...BOUND, ...APPLY, '--dry-run=server']},
      {argv: [...BOUND, 'create', '-f', '-'], input: (i) => (lease = JSON.parse(i as string))},
      ...legacyRecords(release1),
      {argv: [...BOUND, 'get', 'deployments,services', '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: [readyDeployment('web', 3)]})}},
      // Whose the release's objects are, asked again under the lock (another app may have deployed them meanwhile).
      {argv: OWNERS, result: {stdout: ''}},
      // And whether the user may list what the watch lists (refused, nothing has changed yet).
      UNWATCHED,
      // Then the Secrets of the old layout, whole (the live Deployments were asked meanwhile).
      ...legacyRecords(release1, 'read'),
      {argv: [...BOUND, ...APPLY]},
      {argv: [...BOUND, ...APPLY]},
      {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify(crashing)}},
      // Explain: one events call, then the crashed (previous) container's last 25 lines, filtered by logs.exclude.
      CLOCK,
      {argv: [...BOUND, 'get', 'events', '-o', 'json'], result: {stdout: JSON.stringify(events)}},
      {argv: [...BOUND, 'logs', 'web-2-abc', '-c', 'web', '--tail=25', '--previous'], result: {stdout: 'GET /healthz 200\npanic: no database\n'}},
      // The lease is renewed (and found still this deploy's) before the failed release is recorded.
      {
        argv: [...BOUND, 'patch', 'lease', 'skycap-lock-itapp', '--type=json', '-p', 'PATCH'],
      },
      // The failed release is recorded before the rollback starts, naming the rollback entry that follows.
      {
        argv: [...BOUND, 'create', '-f', '-'],
        input: (i) => {
          const {configMap, record, parts} = recorded(i)
          expect(configMap.metadata.labels).to.include({'skycap.dev/release': '2', 'skycap.dev/result': 'failed'})
          expect(parts).to.deep.equal([])
          expect(record).to.include({
            failed: 'Deployment/web',
            rollbackRelease: 3,
            message: 'Deployment/web: container web of pod web-2-abc is in CrashLoopBackOff (exit code 1, Error; restarted 3 times)',
          })
        },
      },
      // The rollback keeps the replica count that ran before the deploy (3, scaled), not the recorded 2.
      {argv: [...BOUND, ...APPLY], input: (i) => expect(JSON.parse(i as string).items).to.deep.equal([{...good[0], spec: {replicas: 3}}])},
      {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: [readyDeployment('web', 2)]})}},
      {argv: [...BOUND, 'get', PRUNE, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      {
        argv: [...BOUND, 'create', '-f', '-'],
        input: (i) => {
          const {configMap, record, parts} = recorded(i)
          expect(configMap.metadata.labels).to.include({'skycap.dev/release': '3', 'skycap.dev/result': 'succeeded'})
          expect(record).to.include({action: 'rollback', trigger: 'automatic', rolledBackFrom: 2, rolledBackTo: 1, manifestParts: 1})
          expect(parts).to.have.length(1)
        },
      },
      {argv: [...BOUND, 'get', 'lease', 'skycap-lock-itapp', '-o', 'json', '--ignore-not-found'], result: () => ({stdout: JSON.stringify({...lease, spec: {}})})},
      {argv: [...BOUND, 'delete', 'lease', 'skycap-lock-itapp', '--ignore-not-found']},
    ]
    // The renewal's patch carries a lock id and a time: compare its shape, not its bytes.
    const patchCall = script.find((c) => c.argv.includes('patch')) as Expectation
    const fake = fakeKubectlFactory(script)
    const seen: string[][] = []
    const factory: typeof fake.factory = (o) => {
      const k = fake.factory(o)
      const run = k.run.bind(k)
      k.run = async (args, options) => {
        seen.push(args)
        if (args[0] === 'patch') {
          const patch = JSON.parse(args[args.length - 1] as string)
          expect(patch[0]).to.deep.equal({op: 'test', path: '/metadata/annotations/skycap.dev~1lock-id', value: lease?.metadata.annotations['skycap.dev/lock-id']})
          expect(patch[1]).to.include({op: 'replace', path: '/spec/renewTime'})
          patchCall.argv = k.argv(args)
        }
        return run(args, options)
      }
      return k
    }
    let caught:
      | {
          exitCode?: number
          message?: string
          details?: {report: {failures: Array<{logs: Array<{lines: string[]; hidden: number; previous: boolean}>; events: unknown[]}>; rollback: unknown}}
          jsonHint?: string
          hint?: string
        }
      | undefined
    const reporter = memoryReporter()
    await deploy({target: 'test', cwd: repo.dir, skipImageCheck: true}, {kubectl: factory, reporter, intervalMs: 1}).catch((error: unknown) => (caught = error as typeof caught))
    expect(fake.remaining(), `calls made: ${seen.map((a) => a.join(' ')).join('\n')}`).to.equal(0)
    // A call out of order is swallowed by the renewal's and the record's own handling: it would show as a warning.
    expect(reporter.warnings).to.deep.equal([])
    expect(caught?.exitCode).to.equal(1)
    expect(caught?.message).to.match(
      /^release 2 of test failed: Deployment\/web: container web of pod web-2-abc is in CrashLoopBackOff \(exit code 1, Error; restarted 3 times\); rolled back to release 1 \(recorded as release 3\)$/,
    )
    const failure = caught?.details?.report.failures[0]
    expect(failure?.events).to.deep.equal([{type: 'Warning', reason: 'BackOff', object: 'Pod/web-2-abc', count: 4, lastSeen: '2026-11-22T10:00:00Z', message: 'Back-off restarting failed container'}])
    expect(caught?.hint).to.match(/above/)
    expect(caught?.jsonHint).to.equal('The events and logs of what failed are in details.report.failures; `skycap status test` shows what runs now.')
    expect(failure?.logs).to.deep.equal([{pod: 'web-2-abc', container: 'web', previous: true, lines: ['panic: no database'], hidden: 1}])
    expect(caught?.details?.report.rollback).to.deep.include({to: 1, release: 3, result: 'succeeded'})
  })
  it("in a CI log, each explanation is unfolded: the deploy's between its group and the rollback's, a failed rollback's after its group", async () => {
    const {release1, crashing} = crashLoop()
    // The kubelet's back-off warning is there (with none, the report reads the events again a second later).
    const backOff = JSON.stringify({items: [{type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container', involvedObject: {kind: 'Pod', name: 'web-2-abc'}}]})
    let lease: {metadata: {annotations: Record<string, string>}} | undefined
    const script: Expectation[] = [
      {argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'kind-x\n'}},
      {argv: [...CLUSTER, 'get', 'namespace', 'shop', '--ignore-not-found', '-o', 'name'], result: {stdout: 'namespace/shop\n'}},
      {argv: [...BOUND, 'get', 'configmaps', '-l', 'skycap.dev/release-of=itapp,skycap.dev/environment=test', '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      {argv: [...BOUND, 'get', 'deployments,services', '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: []})}},
      ELSEWHERE,
      {argv: OWNERS, result: {stdout: ''}},
      {argv: [...BOUND, ...APPLY, '--dry-run=server']},
      {argv: [...BOUND, 'create', '-f', '-'], input: (i) => (lease = JSON.parse(i as string))},
      ...legacyRecords(release1),
      {argv: [...BOUND, 'get', 'deployments,services', '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: [readyDeployment('web', 2)]})}},
      // Whose the release's objects are, asked again under the lock (another app may have deployed them meanwhile).
      {argv: OWNERS, result: {stdout: ''}},
      // And whether the user may list what the watch lists (refused, nothing has changed yet).
      UNWATCHED,
      // Then the Secrets of the old layout, whole (the live Deployments were asked meanwhile).
      ...legacyRecords(release1, 'read'),
      {argv: [...BOUND, ...APPLY]},
      {argv: [...BOUND, ...APPLY]},
      {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify(crashing)}},
      CLOCK,
      {argv: [...BOUND, 'get', 'events', '-o', 'json'], result: {stdout: backOff}},
      {argv: [...BOUND, 'logs', 'web-2-abc', '-c', 'web', '--tail=25', '--previous'], result: {stdout: 'panic: no database\n'}},
      {argv: [...BOUND, 'patch', 'lease', 'skycap-lock-itapp', '--type=json', '-p', 'PATCH']},
      {argv: [...BOUND, 'create', '-f', '-']},
      // The rollback crashes too.
      {argv: [...BOUND, ...APPLY]},
      {argv: [...BOUND, 'get', WATCH_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify(crashing)}},
      CLOCK,
      {argv: [...BOUND, 'get', 'events', '-o', 'json'], result: {stdout: backOff}},
      {argv: [...BOUND, 'logs', 'web-2-abc', '-c', 'web', '--tail=25', '--previous'], result: {stdout: 'panic: still no database\n'}},
      {argv: [...BOUND, 'get', 'deployments,services', '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify(crashing)}},
      {argv: [...BOUND, 'create', '-f', '-']},
      {argv: [...BOUND, 'get', 'lease', 'skycap-lock-itapp', '-o', 'json', '--ignore-not-found'], result: () => ({stdout: JSON.stringify({...lease, spec: {}})})},
      {argv: [...BOUND, 'delete', 'lease', 'skycap-lock-itapp', '--ignore-not-found']},
    ]
    const patchCall = script.find((c) => c.argv.includes('patch')) as Expectation
    const fake = fakeKubectlFactory(script)
    const factory: typeof fake.factory = (o) => {
      const k = fake.factory(o)
      const run = k.run.bind(k)
      k.run = async (args, options) => {
        if (args[0] === 'patch') patchCall.argv = k.argv(args)
        return run(args, options)
      }
      return k
    }
    // One log, as a GitHub Actions job shows it: the progress lines and skycap's group lines, in order.
    const log: string[] = []
    const ci = ciOutput({command: 'deploy', env: {GITHUB_ACTIONS: 'true'}, write: (l) => log.push(l)})
    if (!ci) throw new Error('no CI detected')
    const reporter = ci.wrap({mode: 'plain', info: (m) => log.push(...m.split('\n')), warn: (m) => log.push(`warning: ${m}`)})
    const error = await deploy({target: 'test', cwd: repo.dir, skipImageCheck: true}, {kubectl: factory, reporter, intervalMs: 1}).then(
      () => expect.fail('the deploy should fail'),
      (e: unknown) => e as Error,
    )
    ci.failed(error)
    expect(fake.remaining()).to.equal(0)
    expect(
      log.filter((l) => l.startsWith('warning: ')),
      'a call out of order shows as a warning',
    ).to.deep.equal([])
    const at = (line: string, from = 0) => {
      const i = log.indexOf(line, from)
      expect(i, `${line} in\n${log.join('\n')}`).to.be.greaterThan(-1)
      return i
    }
    const explanation = (lines: string) => log.findIndex((l) => l.includes(lines))
    const deployGroup = at('::group::deploy')
    const deployEnd = at('::endgroup::', deployGroup)
    const rollbackGroup = at('::group::rollback')
    const rollbackEnd = at('::endgroup::', rollbackGroup)
    const deployExplained = explanation('panic: no database')
    const rollbackExplained = explanation('panic: still no database')
    expect(deployExplained).to.be.greaterThan(deployEnd).and.lessThan(rollbackGroup)
    expect(rollbackExplained).to.be.greaterThan(rollbackEnd)
    expect(log.slice(rollbackEnd + 1).filter((l) => l.startsWith('::group::'))).to.deep.equal([])
    expect(log.at(-1)).to.match(/^::error title=skycap deploy test%3A Deployment\/web failed::/)
    // One line says the rollback and the release it returns to; the watch's heading names what it watches.
    expect(log.filter((l) => /Rolling back/.test(l))).to.deep.equal(['Rolling back to release 1 (aaaaaaa) as release 3'])
    expect(log.slice(rollbackGroup)).to.include('Rolling out itapp test@aaaaaaa again (release 1)')
  })
})

describe('skycap deploy: the hint after an interrupted deploy', () => {
  it('names a canary this release left mid-way (a deploy is refused until it is done), and only then', () => {
    const left = interruptedHint('test', {shop: {type: 'canary', phase: 'paused', weight: 25, step: 1, steps: 3}, web: {type: 'blueGreen', phase: 'completed', slot: 'blue'}})
    expect(left).to.equal(
      'The canary of shop (at 25%) is left mid-way: `skycap rollout resume test` goes on with it (or `skycap promote`, `skycap abort`), `skycap rollout status test` shows where it stands; a deploy is refused until it is done.',
    )
    expect(interruptedHint('test', {shop: {type: 'canary', phase: 'progressing', step: 0, steps: 3}})).to.contain('The canary of shop (at 0%) is left mid-way')
    // One whose promotion had begun: a resume finishes it, an abort is too late (the hint offered the abort alike).
    expect(interruptedHint('test', {shop: {type: 'canary', phase: 'progressing', weight: 50, step: 1, steps: 1, promoting: true}, api: {type: 'canary', phase: 'paused', weight: 50}})).to.equal(
      'The canary of shop (promoting), api (at 50%) is left mid-way: `skycap rollout resume test` goes on with it (or `skycap promote`, `skycap abort` (an abort is too late for shop: its promotion had begun)), `skycap rollout status test` shows where it stands; a deploy is refused until it is done.',
    )
    // A canary service whose canary never started (no state of this release), or one done or aborted: nothing to resume.
    const none: Array<Record<string, RolloutSummary>> = [{}, {shop: {type: 'canary', phase: 'aborted'}}, {shop: {type: 'canary', phase: 'completed', weight: 100}}]
    for (const rollouts of none) {
      expect(interruptedHint('test', rollouts)).to.equal('Check `skycap status test`; deploy again or roll back.')
    }
    // skycap up's deploy: a deploy of local has no images of the work tree, and its first release nothing to roll back to.
    expect(interruptedHint('local', {}, 'skycap up')).to.equal('Check `skycap status local`; run `skycap up` again.')
  })
})
