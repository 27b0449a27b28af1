import {expect} from 'chai'

import {diffObjects, noChangesLine} from '../../../src/deploy/diff.js'
import {diff} from '../../../src/deploy/release-diff.js'
import {ExitCode, exitCodeOf, SkycapError} from '../../../src/errors.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {fakeKubectl, fakeKubectlFactory, type Expectation} from '../../helpers/fake-kubectl.js'
import {TempRepo} from '../../helpers/repo.js'

const DIFF = ['diff', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-']
const NS = ['--context', 'staging-cluster', '--namespace', 'shop-staging', '--request-timeout=30s']

/** What `skycap diff` exits with when kubectl fails this way at the namespace lookup. */
async function diffFailure(repo: TempRepo, stderr: string, then: Expectation[] = []): Promise<SkycapError> {
  const calls: Expectation[] = [
    {argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'staging-cluster\n'}},
    {argv: ['--context', 'staging-cluster', '--request-timeout=30s', 'get', 'namespace', 'shop-staging', '--ignore-not-found', '-o', 'name'], result: {exitCode: 1, stderr}},
    ...then,
  ]
  const {factory} = fakeKubectlFactory(calls)
  try {
    await diff({target: 'staging', configPath: `${repo.dir}/skycap.yaml`}, factory, memoryReporter())
  } catch (error) {
    return error as SkycapError
  }
  throw new Error('diff did not fail')
}

describe('skycap diff: exit codes of failures (1 means "changes")', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.fromFixture('shop')
  })
  after(() => repo.remove())

  it('an RBAC denial exits 2, not 1, and keeps kubectl code and hint', async () => {
    // No right to read namespaces (cluster-scoped; a namespaced Role cannot grant it): the namespace is taken as there,
    // and the next call, refused too, is the one said.
    const forbidden = {exitCode: 1, stderr: 'Error from server (Forbidden): configmaps is forbidden: User "dev" cannot list resource "configmaps" in the namespace "shop-staging"'}
    const error = await diffFailure(repo, 'Error from server (Forbidden): namespaces "shop-staging" is forbidden: User "dev" cannot get resource "namespaces"', [
      {argv: [...NS, 'get', 'configmaps', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=staging', '-o', 'json'], result: forbidden},
      {argv: [...NS, 'get', 'deployments,services', '-l', 'app.kubernetes.io/part-of=shop,app.kubernetes.io/managed-by=skycap,skycap.dev/environment=staging', '-o', 'json'], result: forbidden},
    ])
    expect(exitCodeOf(error)).to.equal(ExitCode.INVALID)
    expect(error.code, error.message).to.equal('kubectl_forbidden')
    expect(error.message).to.contain('Forbidden')
    expect(error.hint).to.contain('RBAC')
  })

  it('an unreachable cluster keeps exit 4', async () => {
    const error = await diffFailure(repo, 'Unable to connect to the server: dial tcp 10.0.0.1:443: i/o timeout')
    expect(exitCodeOf(error)).to.equal(ExitCode.UNREACHABLE)
  })

  it('kubectl diff failing (exit above 1) is classified, not reported as changes', async () => {
    const fake = fakeKubectl([{argv: [...NS, ...DIFF], result: {exitCode: 2, stderr: 'Unable to connect to the server: dial tcp: lookup cluster: no such host'}}], {
      context: 'staging-cluster',
      namespace: 'shop-staging',
    })
    let caught: unknown
    await diffObjects(fake.kubectl, []).catch((error: unknown) => (caught = error))
    expect(exitCodeOf(caught)).to.equal(ExitCode.UNREACHABLE)
  })

  it('kubectl diff exit 1 is "changes", returned as the redacted diff', async () => {
    const out = 'diff -u -N /tmp/LIVE-1/v1.Secret.shop.db /tmp/MERGED-1/v1.Secret.shop.db\n data:\n+  password: c2VjcmV0\n'
    const fake = fakeKubectl([{argv: [...NS, ...DIFF], result: {exitCode: 1, stdout: out}}], {context: 'staging-cluster', namespace: 'shop-staging'})
    const {diff: text} = await diffObjects(fake.kubectl, [])
    expect(text).to.contain('+  password: (redacted)')
    expect(text).to.not.contain('c2VjcmV0')
  })

  it('redacts multi-line (block scalar) Secret values, not only the key line', async () => {
    const out = [
      'diff -u -N /tmp/LIVE-1/v1.Secret.shop.tls /tmp/MERGED-1/v1.Secret.shop.tls',
      ' apiVersion: v1',
      ' stringData:',
      '+  key.pem: |',
      '+    -----BEGIN PRIVATE KEY-----',
      '+    MIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
      '+    -----END PRIVATE KEY-----',
      '+  user: admin',
      ' kind: Secret',
    ].join('\n')
    const fake = fakeKubectl([{argv: [...NS, ...DIFF], result: {exitCode: 1, stdout: out}}], {context: 'staging-cluster', namespace: 'shop-staging'})
    const {diff: text} = await diffObjects(fake.kubectl, [])
    expect(text).to.not.match(/BEGIN|MIIE|END PRIVATE|admin/)
    expect(text).to.contain('+  key.pem: (redacted)')
    expect(text).to.contain('+  user: (redacted)')
    expect(text).to.contain(' kind: Secret')
  })
})

// `kubectl diff --server-side` output as kubectl 1.33 printed it against the test cluster after an empty commit
// (`git commit --allow-empty`): GNU `diff -u -N` over two temporary folders; the annotation and generation move.
const LIVE = '/tmp/LIVE-3269718015'
const MERGED = '/tmp/MERGED-1301786151'
function objectDiff(file: string, hunk: string[]): string[] {
  return [`diff -u -N ${LIVE}/${file} ${MERGED}/${file}`, `--- ${LIVE}/${file}\t2026-11-30 14:53:27.145295144 +0000`, `+++ ${MERGED}/${file}\t2026-11-30 14:53:27.149295144 +0000`, ...hunk]
}
const REVISION_HUNK = [
  '@@ -3,9 +3,9 @@',
  ' metadata:',
  '   annotations:',
  '     deployment.kubernetes.io/revision: "1"',
  '-    skycap.dev/revision: 42b869d740b488e72adb9ee1ffcdfe412bfde415',
  '+    skycap.dev/revision: ea5b286dffe3d20938e48d11bdb19088f3b30381',
  '   creationTimestamp: "2026-11-30T14:53:24Z"',
  '-  generation: 1',
  '+  generation: 2',
  '   labels:',
  '     app.kubernetes.io/instance: itapp-test',
  '     app.kubernetes.io/managed-by: skycap',
]
const REVISION_ONLY = (name: string) => objectDiff(`apps.v1.Deployment.probe.${name}`, REVISION_HUNK)
const REPLICAS = objectDiff('apps.v1.Deployment.probe.worker', [
  ...REVISION_HUNK,
  '@@ -18,7 +18,7 @@',
  '   uid: 29b76d9d-8a2c-496b-900c-c32b3013f3b7',
  ' spec:',
  '   progressDeadlineSeconds: 600',
  '-  replicas: 1',
  '+  replicas: 3',
  '   revisionHistoryLimit: 10',
  '   selector:',
  '     matchLabels:',
])

describe('skycap diff: revision bookkeeping is not a change; headers name objects', () => {
  const run = async (stdout: string) => {
    const fake = fakeKubectl([{argv: [...NS, ...DIFF], result: {exitCode: stdout ? 1 : 0, stdout}}], {context: 'staging-cluster', namespace: 'shop-staging'})
    return diffObjects(fake.kubectl, [])
  }

  it('drops objects whose only changed lines are skycap.dev/revision and metadata.generation', async () => {
    const r = await run([...REVISION_ONLY('web'), ...REVISION_ONLY('cache'), ''].join('\n'))
    expect(r).to.deep.equal({diff: '', changed: [], revisionOnly: ['Deployment/web', 'Deployment/cache']})
    expect(noChangesLine(r.revisionOnly)).to.equal('No changes (Deployment/web, Deployment/cache: only the skycap.dev/revision annotation would move; no pods restart)')
    expect(noChangesLine([])).to.equal('No changes')
  })

  it('keeps an object with a real change, whole (its revision line too), under a header naming it', async () => {
    const r = await run([...REVISION_ONLY('web'), ...REPLICAS, ''].join('\n'))
    expect(r.changed).to.deep.equal(['Deployment/worker'])
    expect(r.revisionOnly).to.deep.equal(['Deployment/web'])
    expect(r.diff).to.equal(['--- Deployment/worker (live)', '+++ Deployment/worker (after deploy)', ...REPLICAS.slice(3), ''].join('\n'))
    expect(r.diff).to.not.contain('/tmp/')
  })

  it('a revision change inside a pod template (deeper than metadata.annotations) is a change', async () => {
    const podTemplate = objectDiff('apps.v1.Deployment.probe.web', [
      '@@ -40,7 +40,7 @@',
      '     metadata:',
      '       annotations:',
      '-        skycap.dev/revision: 42b869d740b488e72adb9ee1ffcdfe412bfde415',
      '+        skycap.dev/revision: ea5b286dffe3d20938e48d11bdb19088f3b30381',
    ])
    expect((await run(podTemplate.join('\n'))).changed).to.deep.equal(['Deployment/web'])
  })

  it('a new object (LIVE is empty) is a change; names with dots, groups and cluster-scoped objects are read', async () => {
    const created = objectDiff('networking.k8s.io.v1.Ingress.probe.shop.example.com', ['@@ -0,0 +1,3 @@', '+apiVersion: networking.k8s.io/v1', '+kind: Ingress', '+metadata:'])
    const clusterScoped = objectDiff('rbac.authorization.k8s.io.v1.ClusterRole..reader', ['@@ -1,3 +1,3 @@', '-  verbs: [get]', '+  verbs: [get, list]'])
    const r = await run([...created, ...clusterScoped].join('\n'))
    expect(r.changed).to.deep.equal(['Ingress/shop.example.com', 'ClusterRole/reader'])
    expect(r.diff).to.contain('--- Ingress/shop.example.com (not in the cluster yet)\n+++ Ingress/shop.example.com (after deploy)\n@@ -0,0 +1,3 @@\n')
  })

  it("a new object's diff leaves out the uid and creation time the server's dry run of the create gave it (as kubectl diff prints one)", async () => {
    const created = objectDiff('v1.ConfigMap.probe.newcm', [
      '@@ -0,0 +1,9 @@',
      '+apiVersion: v1',
      '+data:',
      '+  a: "1"',
      '+kind: ConfigMap',
      '+metadata:',
      '+  creationTimestamp: "2026-12-05T10:52:45Z"',
      '+  name: newcm',
      '+  namespace: probe',
      '+  uid: f2e6ead1-51f4-41af-943f-41c192b7ca08',
    ])
    const r = await run(created.join('\n'))
    expect(r.diff).to.equal(
      [
        '--- ConfigMap/newcm (not in the cluster yet)',
        '+++ ConfigMap/newcm (after deploy)',
        '@@ -0,0 +1,7 @@',
        '+apiVersion: v1',
        '+data:',
        '+  a: "1"',
        '+kind: ConfigMap',
        '+metadata:',
        '+  name: newcm',
        '+  namespace: probe',
        '',
      ].join('\n'),
    )
  })

  it('a new Secret (kubectl masks its values and writes the missing live side as `null`) is not in the cluster yet, as a ConfigMap', async () => {
    const created = objectDiff('v1.Secret.probe.creds', [
      '@@ -1 +1,8 @@',
      '-null',
      '+apiVersion: v1',
      '+data:',
      "+  password: '***'",
      '+kind: Secret',
      '+metadata:',
      '+  creationTimestamp: "2026-12-07T07:58:48Z"',
      '+  name: creds',
      '+  uid: ddcb9c1d-73be-43f3-9458-b714bc169b61',
    ])
    const r = await run(created.join('\n'))
    expect(r.changed).to.deep.equal(['Secret/creds'])
    expect(r.diff).to.equal(
      [
        '--- Secret/creds (not in the cluster yet)',
        '+++ Secret/creds (after deploy)',
        '@@ -0,0 +1,6 @@',
        '+apiVersion: v1',
        '+data:',
        '+  password: (redacted)',
        '+kind: Secret',
        '+metadata:',
        '+  name: creds',
        '',
      ].join('\n'),
    )
  })

  it('still redacts Secret values, and a Secret whose only change is its data is listed', async () => {
    const secret = objectDiff('v1.Secret.probe.db', ['@@ -1,4 +1,4 @@', ' apiVersion: v1', ' data:', '-  password: c2VjcmV0', '+  password: bmV3c2VjcmV0', ' kind: Secret'])
    const r = await run([...REVISION_ONLY('web'), ...secret, ''].join('\n'))
    expect(r.changed).to.deep.equal(['Secret/db'])
    expect(r.diff).to.contain('--- Secret/db (live)').and.contain('-  password: (redacted)').and.contain('+  password: (redacted)')
    expect(r.diff).to.not.contain('c2VjcmV0').and.not.contain('bmV3c2VjcmV0')
  })

  it('asks kubectl for its own diff program, whatever KUBECTL_EXTERNAL_DIFF says', async () => {
    const fake = fakeKubectl([{argv: [...NS, ...DIFF], result: {exitCode: 0, stdout: ''}}], {context: 'staging-cluster', namespace: 'shop-staging'})
    let env: Record<string, string> | undefined
    const run = fake.kubectl.run.bind(fake.kubectl)
    fake.kubectl.run = async (args, options = {}) => {
      env = options.env
      return run(args, options)
    }
    await diffObjects(fake.kubectl, [])
    expect(env).to.deep.equal({KUBECTL_EXTERNAL_DIFF: ''})
  })
})
