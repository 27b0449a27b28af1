// skycap down ENV of a deployed environment, at the kubectl process boundary: the selectors it reads and deletes by,
// the refusal without --yes off a terminal, the protected environment's typed name, the dry run, and the namespace
// deleted only when a deploy created it and nothing else is in it.
import {expect} from 'chai'
import {join} from 'node:path'

import {PRUNE_RESOURCES} from '../../../src/deploy/apply.js'
import {InterruptedError, KubectlError} from '../../../src/errors.js'
import {downEnvironment} from '../../../src/teardown/down.js'
import {stateFile, upRanFor, writeState} from '../../../src/local/state.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {type Expectation, fakeKubectlFactory} from '../../helpers/fake-kubectl.js'
import {rejectsWithUserError} from '../../helpers/errors.js'
import {TempRepo} from '../../helpers/repo.js'

describe('skycap down ENV: a deployed environment', function () {
  this.timeout(20_000)
  const BOUND = ['--context', 'kind-x', '--namespace', 'shop', '--request-timeout=30s']
  const CLUSTER = ['--context', 'kind-x', '--request-timeout=30s']
  const SELECTOR = (env: string) => `app.kubernetes.io/part-of=itapp,app.kubernetes.io/managed-by=skycap,skycap.dev/environment=${env}`
  const OURS = {'app.kubernetes.io/part-of': 'itapp', 'app.kubernetes.io/managed-by': 'skycap', 'skycap.dev/environment': 'test'}
  const INSPECTED = 'configmaps,secrets,deployments.apps,statefulsets.apps,daemonsets.apps,services,jobs.batch,cronjobs.batch,pods'
  let repo: TempRepo
  let file: string
  beforeEach(async () => {
    repo = await TempRepo.clusterApp('kind-x', 'shop')
    file = join(repo.dir, 'skycap.yaml')
  })
  afterEach(() => repo.remove())

  const list = (items: unknown[]) => ({stdout: JSON.stringify({items})})
  const contexts: Expectation = {argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'kind-x\n'}}
  const nsExists = (exists = true): Expectation => ({argv: [...CLUSTER, 'get', 'namespace', 'shop', '--ignore-not-found', '-o', 'name'], result: {stdout: exists ? 'namespace/shop\n' : ''}})
  const WEB = {kind: 'Deployment', metadata: {name: 'web-blue', labels: OURS}}
  const WEB_SVC = {kind: 'Service', metadata: {name: 'web', labels: OURS}}
  const DB = {kind: 'StatefulSet', metadata: {name: 'db', labels: OURS}, spec: {volumeClaimTemplates: [{metadata: {name: 'data'}}]}}
  const HOOK = {kind: 'Job', metadata: {name: 'itapp-migrate-3', labels: {'skycap.dev/job-of': 'itapp', 'skycap.dev/environment': 'test'}}}
  const record = (n: number) => ({
    kind: 'ConfigMap',
    metadata: {name: `itapp-test-${n}`, labels: {'skycap.dev/release-of': 'itapp', 'skycap.dev/environment': 'test', 'skycap.dev/release': String(n)}},
  })
  /** The five reads of what this app and environment has in the namespace. */
  const inventory = (env: string, own: unknown[], jobs: unknown[], records: unknown[], state: boolean, claims: unknown[] = []): Expectation[] => [
    {argv: [...BOUND, 'get', PRUNE_RESOURCES, '-l', SELECTOR(env), '-o', 'json'], result: list(own)},
    {argv: [...BOUND, 'get', 'jobs.batch', '-l', `skycap.dev/job-of=itapp,skycap.dev/environment=${env}`, '-o', 'json'], result: list(jobs)},
    {argv: [...BOUND, 'get', 'configmaps', '-l', `skycap.dev/release-of=itapp,skycap.dev/environment=${env}`, '-o', 'json'], result: list(records)},
    {
      argv: [...BOUND, 'get', 'configmaps,secrets', '-l', `skycap.dev/rollout-of=itapp,skycap.dev/environment=${env}`, '-o', 'json'],
      result: list(state ? [{kind: 'ConfigMap', metadata: {name: 'skycap-rollout-itapp'}}] : []),
    },
    {argv: [...BOUND, 'get', 'persistentvolumeclaims', '-o', 'json'], result: list(claims)},
  ]
  type Lease = {metadata: {annotations: Record<string, string>}}
  let lease: Lease | undefined
  const lock: Expectation = {argv: [...BOUND, 'create', '-f', '-'], input: (i) => (lease = JSON.parse(i as string))}
  const unlock: Expectation[] = [
    {argv: [...BOUND, 'get', 'lease', 'skycap-lock-itapp', '-o', 'json', '--ignore-not-found'], result: () => ({stdout: JSON.stringify({...lease, spec: {}})})},
    {argv: [...BOUND, 'delete', 'lease', 'skycap-lock-itapp', '--ignore-not-found']},
  ]
  /** Each delete of what is this app and environment's: as a server dry run (`dry`), or for real. */
  const deletesOnce = (env: string, dry: boolean): Expectation[] => {
    const after = (wait: string[]) => (dry ? ['--dry-run=server'] : wait)
    return [
      {argv: [...BOUND, 'delete', 'jobs.batch', '-l', `skycap.dev/job-of=itapp,skycap.dev/environment=${env}`, '--ignore-not-found', ...after(['--wait=true', '--timeout=120s'])]},
      {argv: [...BOUND, 'delete', PRUNE_RESOURCES, '-l', SELECTOR(env), '--ignore-not-found', ...after(['--wait=true', '--timeout=120s'])]},
      {argv: [...BOUND, 'delete', 'configmaps,secrets', '-l', `skycap.dev/release-of=itapp,skycap.dev/environment=${env}`, '--ignore-not-found', ...after(['--wait=false'])]},
      {argv: [...BOUND, 'delete', 'configmaps,secrets', '-l', `skycap.dev/rollout-of=itapp,skycap.dev/environment=${env}`, '--ignore-not-found', ...after(['--wait=false'])]},
    ]
  }
  /** The server dry runs of every delete (a right the identity lacks refuses the down before anything goes), then the deletes. */
  const deletes = (env: string): Expectation[] => [...deletesOnce(env, true), ...deletesOnce(env, false)]
  /** The whole run of a confirmed down of test, up to the namespace's decision: the reads, the lock, the deletes, the unlock. */
  const takenDown = (seen: Expectation[]): Expectation[] => [contexts, nsExists(), ...seen, lock, ...seen, ...deletes('test'), ...unlock]
  const annotated = (createdBy?: string): Expectation => ({
    argv: [...CLUSTER, 'get', 'namespace', 'shop', '-o', 'json'],
    result: {stdout: JSON.stringify({metadata: {name: 'shop', annotations: createdBy ? {'skycap.dev/created-by': createdBy} : {}}})},
  })
  const inNamespace = (items: unknown[]): Expectation => ({argv: [...BOUND, 'get', INSPECTED, '-o', 'json'], result: list(items)})
  const leases = (names = ''): Expectation => ({argv: [...BOUND, 'get', 'leases', '-o', 'name'], result: {stdout: names}})
  const ROOT_CA = {kind: 'ConfigMap', metadata: {name: 'kube-root-ca.crt'}}
  /** The calls that change something. */
  const changes = (calls: Array<{argv: string[]}>) => calls.filter((c) => c.argv.some((a) => a === 'delete' || a === 'create' || a === 'apply' || a === 'patch'))

  it('--yes: deletes every kind a deploy prunes, the hook Jobs, the records and the state by this app and environment, under the lock; then the namespace a deploy created and that holds nothing else', async () => {
    const seen = inventory('test', [WEB, WEB_SVC], [HOOK], [record(1), record(2)], true)
    const fake = fakeKubectlFactory([...takenDown(seen), annotated('deploy'), inNamespace([ROOT_CA]), leases(), {argv: [...CLUSTER, 'delete', 'namespace', 'shop', '--wait=true', '--timeout=120s']}])
    const report = await downEnvironment({environment: 'test', configPath: file, yes: true}, {kubectl: fake.factory, reporter: memoryReporter()})
    expect(fake.remaining()).to.equal(0)
    expect(lease?.metadata.annotations).to.deep.include({'skycap.dev/reason': 'down test'})
    expect(report).to.deep.include({
      result: 'deleted',
      objects: {Deployment: 1, Service: 1, Job: 1},
      releaseRecords: 2,
      rolloutState: true,
      namespaceDeleted: true,
      namespaceKept: null,
      claimsKept: [],
    })
    expect(report.names).to.deep.equal(['Deployment/web-blue', 'Service/web', 'Job/itapp-migrate-3'])
  })

  it('off a terminal without --yes: exit 2 naming --yes, nothing changed and no lock taken', async () => {
    const fake = fakeKubectlFactory([contexts, nsExists(), ...inventory('test', [WEB], [], [record(1)], false)])
    const error = await rejectsWithUserError(downEnvironment({environment: 'test', configPath: file}, {kubectl: fake.factory, reporter: memoryReporter()}))
    expect(error.exitCode).to.equal(2)
    expect(error.message).to.contain('there is no terminal to confirm on; nothing was changed')
    expect(error.hint).to.contain('skycap down test --yes')
    expect(fake.remaining()).to.equal(0)
    expect(changes(fake.calls)).to.deep.equal([])
  })

  it('--json on a terminal without --yes: says that --json asks nothing', async () => {
    const fake = fakeKubectlFactory([contexts, nsExists(), ...inventory('test', [WEB], [], [], false)])
    const error = await rejectsWithUserError(downEnvironment({environment: 'test', configPath: file}, {kubectl: fake.factory, reporter: memoryReporter(), noQuestions: 'json'}))
    expect(error.message).to.contain('with --json skycap asks no questions')
    expect(changes(fake.calls)).to.deep.equal([])
  })

  it('a protected environment asks for its name, naming app, context, namespace and the counts; another answer changes nothing', async () => {
    const asked: Array<{summary: string; answer?: string}> = []
    const fake = fakeKubectlFactory([contexts, nsExists(), ...inventory('guarded', [WEB, WEB_SVC], [], [record(1), record(2), record(3)], true)])
    const confirm = async (summary: string, answer?: string) => (asked.push({summary, answer}), false)
    const error = await rejectsWithUserError(downEnvironment({environment: 'guarded', configPath: file}, {kubectl: fake.factory, reporter: memoryReporter(), confirm}))
    expect(error.message).to.equal('down cancelled; nothing was changed')
    expect(asked).to.have.length(1)
    expect(asked[0]?.answer).to.equal('guarded')
    expect(asked[0]?.summary).to.equal(
      'Take itapp down from PROTECTED guarded (context kind-x, namespace shop)? This deletes 2 objects (1 Deployment, 1 Service), 3 release records and the rollout state',
    )
    expect(changes(fake.calls)).to.deep.equal([])
  })

  it('an environment that is not protected asks for "yes"', async () => {
    const asked: Array<string | undefined> = []
    const fake = fakeKubectlFactory([contexts, nsExists(), ...inventory('test', [WEB], [], [], false)])
    await rejectsWithUserError(
      downEnvironment({environment: 'test', configPath: file}, {kubectl: fake.factory, reporter: memoryReporter(), confirm: async (_s, answer) => (asked.push(answer), false)}),
    )
    expect(asked).to.deep.equal(['yes'])
  })

  it('--dry-run lists what would go and changes nothing (no lock, no question)', async () => {
    const fake = fakeKubectlFactory([contexts, nsExists(), ...inventory('test', [WEB, WEB_SVC], [HOOK], [record(1)], false)])
    const reporter = memoryReporter()
    const report = await downEnvironment({environment: 'test', configPath: file, dryRun: true}, {kubectl: fake.factory, reporter})
    expect(fake.remaining()).to.equal(0)
    expect(changes(fake.calls)).to.deep.equal([])
    expect(report).to.deep.include({result: 'planned', releaseRecords: 1, rolloutState: false, namespaceDeleted: false})
    expect(reporter.lines.join('\n')).to.contain('would delete Job/itapp-migrate-3')
  })

  it('nothing deployed (no namespace, or nothing of this app and environment in it): exit 0, nothing deleted', async () => {
    let fake = fakeKubectlFactory([contexts, nsExists(false)])
    let report = await downEnvironment({environment: 'test', configPath: file, yes: true}, {kubectl: fake.factory, reporter: memoryReporter()})
    expect(report.result).to.equal('nothing-deployed')
    fake = fakeKubectlFactory([contexts, nsExists(), ...inventory('test', [], [], [], false)])
    report = await downEnvironment({environment: 'test', configPath: file, yes: true}, {kubectl: fake.factory, reporter: memoryReporter()})
    expect(report.result).to.equal('nothing-deployed')
    expect(fake.remaining()).to.equal(0)
    expect(changes(fake.calls)).to.deep.equal([])
  })

  it('keeps a namespace no deploy created, naming the kubectl command that deletes it', async () => {
    const seen = inventory('test', [WEB], [], [], false)
    const fake = fakeKubectlFactory([...takenDown(seen), annotated()])
    const report = await downEnvironment({environment: 'test', configPath: file, yes: true}, {kubectl: fake.factory, reporter: memoryReporter()})
    expect(fake.remaining()).to.equal(0)
    expect(report.namespaceDeleted).to.equal(false)
    expect(report.namespaceKept).to.equal("skycap's deploy did not create it (no skycap.dev/created-by=deploy); `kubectl delete namespace shop --context kind-x` deletes it once nothing needs it")
  })

  it('keeps a namespace a deploy created that another environment, a hand-made object or a lock still uses', async () => {
    const other = {kind: 'Deployment', metadata: {name: 'web-2', labels: {...OURS, 'skycap.dev/environment': 'guarded'}}}
    const handMade = {kind: 'ConfigMap', metadata: {name: 'team-notes'}}
    const seen = inventory('test', [WEB], [], [], false)
    const fake = fakeKubectlFactory([...takenDown(seen), annotated('deploy'), inNamespace([ROOT_CA, other, handMade]), leases('lease.coordination.k8s.io/skycap-lock-billing\n')])
    const report = await downEnvironment({environment: 'test', configPath: file, yes: true}, {kubectl: fake.factory, reporter: memoryReporter()})
    expect(fake.remaining()).to.equal(0)
    expect(report.namespaceKept).to.equal(
      'environment guarded of this app runs there; it holds objects skycap did not deploy (ConfigMap/team-notes); a lock is held there (lease.coordination.k8s.io/skycap-lock-billing); `kubectl delete namespace shop --context kind-x` deletes it once nothing needs it',
    )
  })

  it("never deletes a StatefulSet's PersistentVolumeClaims: names them, and keeps the namespace for them", async () => {
    const claims = [
      {kind: 'PersistentVolumeClaim', metadata: {name: 'data-db-0'}},
      {kind: 'PersistentVolumeClaim', metadata: {name: 'data-db-1'}},
      {kind: 'PersistentVolumeClaim', metadata: {name: 'data-dbx-0'}},
      {kind: 'PersistentVolumeClaim', metadata: {name: 'cache', labels: OURS}},
    ]
    const seen = inventory('test', [DB], [], [], false, claims)
    const fake = fakeKubectlFactory([...takenDown(seen), annotated('deploy'), inNamespace([]), leases()])
    const report = await downEnvironment({environment: 'test', configPath: file, yes: true}, {kubectl: fake.factory, reporter: memoryReporter()})
    expect(fake.remaining()).to.equal(0)
    expect(report.claimsKept).to.deep.equal(['data-db-0', 'data-db-1', 'cache'])
    expect(report.namespaceKept).to.contain('it holds the PersistentVolumeClaims data-db-0, data-db-1, cache (data)')
    expect(fake.calls.some((c) => c.argv.includes('persistentvolumeclaims') && c.argv.includes('delete'))).to.equal(false)
  })

  it('Ctrl-C between two deletes: exit 130 saying what was deleted and what was not; the lock is released', async () => {
    const controller = new AbortController()
    const seen = inventory('test', [WEB], [HOOK], [record(1)], false)
    const [jobs] = deletesOnce('test', false)
    const fake = fakeKubectlFactory([contexts, nsExists(), ...seen, lock, ...seen, ...deletesOnce('test', true), {...(jobs as Expectation), result: () => (controller.abort(), {})}, ...unlock])
    const error = await downEnvironment({environment: 'test', configPath: file, yes: true}, {kubectl: fake.factory, reporter: memoryReporter(), signal: controller.signal}).catch(
      (e: unknown) => e as InterruptedError,
    )
    if (!(error instanceof InterruptedError)) throw new Error('expected an InterruptedError')
    expect(error.exitCode).to.equal(130)
    expect(error.message).to.equal('down of test interrupted: deleted its hook and run Jobs; not deleted: its objects, its release records, its rollout state')
    expect(fake.remaining()).to.equal(0)
    expect(fake.calls.some((c) => c.argv.includes('delete') && c.argv.includes(PRUNE_RESOURCES) && !c.argv.includes('--dry-run=server'))).to.equal(false)
  })

  it('a delete the identity may not make (its Role and a LimitRange) refuses the down before anything is deleted: the server dry runs come first (it deleted the Deployments, then failed, saying none of it)', async () => {
    const seen = inventory('test', [WEB], [], [record(1)], true)
    const [jobsDry, objectsDry] = deletesOnce('test', true)
    const forbidden = {
      exitCode: 1,
      stderr:
        'Error from server (Forbidden): limitranges "defaults" is forbidden: User "system:serviceaccount:ci:deployer" cannot delete resource "limitranges" in API group "" in the namespace "shop"\n',
    }
    const fake = fakeKubectlFactory([contexts, nsExists(), ...seen, lock, ...seen, jobsDry as Expectation, {...(objectsDry as Expectation), result: forbidden}, ...unlock])
    const error = await downEnvironment({environment: 'test', configPath: file, yes: true}, {kubectl: fake.factory, reporter: memoryReporter()}).then(
      () => undefined,
      (e: unknown) => e,
    )
    if (!(error instanceof KubectlError)) throw new Error('expected a KubectlError')
    expect(error.exitCode).to.equal(1)
    expect(error.code).to.equal('kubectl_forbidden')
    expect(error.message).to.match(/^down of test refused before anything was deleted: the API server would not delete its objects: .*limitranges "defaults" is forbidden/)
    expect(error.hint).to.equal('The identity skycap runs as may not delete every kind this environment holds (docs/rbac.md); nothing was changed.')
    expect(fake.remaining(), 'the lock released').to.equal(0)
    expect(changes(fake.calls).filter((c) => !c.argv.includes('--dry-run=server') && !c.argv.includes('lease') && !c.argv.includes('create'))).to.deep.equal([])
  })

  it('a delete that fails part-way says what went and what did not, as a Ctrl-C does', async () => {
    const seen = inventory('test', [WEB], [], [record(1)], true)
    const [jobs, objects] = deletesOnce('test', false)
    const refused = {exitCode: 1, stderr: 'Error from server (InternalError): Internal error occurred: etcd is unhappy\n'}
    const fake = fakeKubectlFactory([contexts, nsExists(), ...seen, lock, ...seen, ...deletesOnce('test', true), jobs as Expectation, {...(objects as Expectation), result: refused}, ...unlock])
    const error = await downEnvironment({environment: 'test', configPath: file, yes: true}, {kubectl: fake.factory, reporter: memoryReporter()}).then(
      () => undefined,
      (e: unknown) => e,
    )
    if (!(error instanceof KubectlError)) throw new Error('expected a KubectlError')
    expect(error.message).to.match(/^down of test failed part-way: deleted its hook and run Jobs; not deleted: its objects, its release records, its rollout state: /)
    expect(error.details).to.deep.include({deleted: ['its hook and run Jobs'], notDeleted: ['its objects', 'its release records', 'its rollout state']})
    expect(fake.remaining()).to.equal(0)
  })

  it('says the claims of a StatefulSet whose retention policy deletes them go with it (it said they were kept, never deleted), and keeps no namespace for them', async () => {
    const claims = [
      {kind: 'PersistentVolumeClaim', metadata: {name: 'data-db-0'}},
      {kind: 'PersistentVolumeClaim', metadata: {name: 'data-keep-0'}},
    ]
    const deleting = {...DB, spec: {...DB.spec, persistentVolumeClaimRetentionPolicy: {whenDeleted: 'Delete', whenScaled: 'Retain'}}}
    const keeping = {
      kind: 'StatefulSet',
      metadata: {name: 'keep', labels: OURS},
      spec: {volumeClaimTemplates: [{metadata: {name: 'data'}}], persistentVolumeClaimRetentionPolicy: {whenDeleted: 'Retain'}},
    }
    const seen = inventory('test', [deleting, keeping], [], [], false, claims)
    const fake = fakeKubectlFactory([...takenDown(seen), annotated('deploy'), inNamespace([]), leases()])
    const reporter = memoryReporter()
    const report = await downEnvironment({environment: 'test', configPath: file, yes: true}, {kubectl: fake.factory, reporter})
    expect(fake.remaining()).to.equal(0)
    expect(report.claimsKept).to.deep.equal(['data-keep-0'])
    expect(report.claimsDeleted).to.deep.equal(['data-db-0'])
    expect(report.namespaceKept).to.contain('it holds the PersistentVolumeClaims data-keep-0 (data)').and.not.contain('data-db-0')
  })

  it('a cluster that does not answer is exit 4, nothing changed', async () => {
    const refused = {exitCode: 1, stderr: 'The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?\n'}
    const fake = fakeKubectlFactory([contexts, ...Array.from({length: 5}, () => ({...nsExists(), result: refused}))])
    const error = await downEnvironment({environment: 'test', configPath: file, yes: true}, {kubectl: fake.factory, reporter: memoryReporter()}).catch((e: unknown) => e as {exitCode?: number})
    expect((error as {exitCode?: number}).exitCode).to.equal(4)
    expect(changes(fake.calls)).to.deep.equal([])
  })

  it("an environment skycap up brought up here (its state) stays up's to take down; any other is a deployed one", () => {
    const cache = new TempRepo()
    try {
      const env = {XDG_CACHE_HOME: cache.dir}
      expect(upRanFor(file, 'test', env)).to.equal(false)
      writeState(stateFile(file, 'test', env), {version: 1, app: 'itapp', environment: 'test', configFile: file, context: 'kind-x', namespace: 'shop', createdNamespace: true, forwards: []})
      expect(upRanFor(file, 'test', env)).to.equal(true)
      expect(upRanFor(file, 'guarded', env)).to.equal(false)
    } finally {
      cache.remove()
    }
  })

  it('an unknown environment is exit 2 with did-you-mean, before any kubectl call', async () => {
    const fake = fakeKubectlFactory([])
    const error = await rejectsWithUserError(downEnvironment({environment: 'tset', configPath: file, yes: true}, {kubectl: fake.factory, reporter: memoryReporter()}))
    expect(error.exitCode).to.equal(2)
    expect(`${error.message} ${error.hint}`).to.contain('test')
    expect(fake.calls).to.deep.equal([])
  })
})
