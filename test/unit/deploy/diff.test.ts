import {expect} from 'chai'

import {diffObjects} from '../../../src/deploy/diff.js'
import {diff} from '../../../src/deploy/inspect.js'
import {ExitCode, exitCodeOf, SkycapError} from '../../../src/errors.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {fakeKubectl, fakeKubectlFactory, type Expectation} from '../../helpers/fake-kubectl.js'
import {TempRepo} from '../../helpers/repo.js'

const DIFF = ['diff', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-']
const NS = ['--context', 'staging-cluster', '--namespace', 'shop-staging', '--request-timeout=30s']

/** What `skycap diff` exits with when kubectl fails this way at the namespace lookup. */
async function diffFailure(repo: TempRepo, stderr: string): Promise<SkycapError> {
  const calls: Expectation[] = [
    {argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'staging-cluster\n'}},
    {argv: ['--context', 'staging-cluster', '--request-timeout=30s', 'get', 'namespace', 'shop-staging', '--ignore-not-found', '-o', 'name'], result: {exitCode: 1, stderr}},
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
    const error = await diffFailure(repo, 'Error from server (Forbidden): namespaces "shop-staging" is forbidden: User "dev" cannot get resource "namespaces"')
    expect(exitCodeOf(error)).to.equal(ExitCode.INVALID)
    expect(error.code).to.equal('kubectl_forbidden')
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
    const text = await diffObjects(fake.kubectl, [])
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
    const text = await diffObjects(fake.kubectl, [])
    expect(text).to.not.match(/BEGIN|MIIE|END PRIVATE|admin/)
    expect(text).to.contain('+  key.pem: (redacted)')
    expect(text).to.contain('+  user: (redacted)')
    expect(text).to.contain(' kind: Secret')
  })
})
