import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {resolveEnvironment} from '../../../src/config/environment.js'
import {loadConfig} from '../../../src/config/load.js'
import {status} from '../../../src/deploy/inspect.js'
import {connect} from '../../../src/env/connect.js'
import {ExitCode, UserError} from '../../../src/errors.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {fakeKubectlFactory} from '../../helpers/fake-kubectl.js'
import {TempRepo} from '../../helpers/repo.js'

// `connect` with checkContextOnFirstCall (status, history, lock, scale, logs, rollout control): no `kubectl config
// get-contexts` before the work; an unknown context is found by the first call, and reported as before.
describe('the kube context checked on the first call', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.fromFixture('shop')
  })
  after(() => repo.remove())

  const NS = ['--context', 'staging-cluster', '--namespace', 'shop-staging', '--request-timeout=30s']
  const NO_CONTEXT = {exitCode: 1, stderr: 'error: context "staging-cluster" does not exist'}

  it('an unknown context: both calls status makes at once fail, the contexts are listed once, exit 2 naming the environment', async () => {
    const fake = fakeKubectlFactory([
      {
        argv: [...NS, 'get', 'deployments,replicasets,pods,services', '-l', 'app.kubernetes.io/part-of=shop,app.kubernetes.io/managed-by=skycap,skycap.dev/environment=staging', '-o', 'json'],
        result: NO_CONTEXT,
      },
      {argv: [...NS, 'get', 'configmaps', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=staging', '-o', 'json'], result: NO_CONTEXT},
      {argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'kind-dev\nprod-eu\n'}},
    ])
    const error = await status({environment: 'staging', configPath: `${repo.dir}/skycap.yaml`}, fake.factory, memoryReporter()).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).to.be.instanceOf(UserError)
    expect((error as UserError).message).to.equal('kube context "staging-cluster" of environment staging is not in your kubeconfig; nothing was changed')
    expect((error as UserError).hint).to.contain('Known contexts: kind-dev, prod-eu.')
    expect((error as UserError).exitCode).to.equal(ExitCode.INVALID)
    expect(fake.remaining()).to.equal(0)
    expect(fake.calls.filter((c) => c.argv.includes('get-contexts'))).to.have.length(1)
  })

  it('a kubeconfig kubectl cannot read: its own error, not "not in your kubeconfig"', async () => {
    const fake = fakeKubectlFactory([
      {
        argv: [...NS, 'get', 'deployments,replicasets,pods,services', '-l', 'app.kubernetes.io/part-of=shop,app.kubernetes.io/managed-by=skycap,skycap.dev/environment=staging', '-o', 'json'],
        result: NO_CONTEXT,
      },
      {argv: [...NS, 'get', 'configmaps', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=staging', '-o', 'json'], result: NO_CONTEXT},
      {
        argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'],
        result: {exitCode: 1, stderr: 'error: error loading config file "/root/.kube/config": yaml: line 3: mapping values are not allowed in this context'},
      },
    ])
    const error = await status({environment: 'staging', configPath: `${repo.dir}/skycap.yaml`}, fake.factory, memoryReporter()).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(String((error as Error).message)).not.to.contain('not in your kubeconfig; nothing was changed')
    expect(String((error as Error).message)).to.contain('loading config file')
  })

  it('an environment without a context and a kubeconfig kubectl cannot read: kubectl\'s words, not "no current context"', async () => {
    const unreadable = 'error: error loading config file "/tmp/kc": yaml: line 1: did not find expected node content'
    const fake = fakeKubectlFactory([{argv: ['--request-timeout=30s', 'config', 'current-context'], result: {exitCode: 1, stderr: unreadable}}])
    const error = (await status({environment: 'dev', configPath: `${repo.dir}/skycap.yaml`}, fake.factory, memoryReporter()).catch((e: unknown) => e)) as UserError
    expect(error).to.be.instanceOf(UserError)
    expect(error.message).to.equal('kubectl cannot use the kubeconfig: error loading config file "/tmp/kc": yaml: line 1: did not find expected node content')
    expect(error.hint).to.contain('KUBECONFIG lists the files kubectl reads')
    expect(error.exitCode).to.equal(ExitCode.INVALID)
  })

  it('an environment without a context on a current context no kubeconfig file defines: exit 2 naming it, where it came from and the files, with use-context and the environment\'s context as the ways out (deploy said exit 1 "see the kubectl message above", status to fix a context skycap.yaml does not name)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skycap-connect-'))
    const kubeconfig = join(dir, 'kc')
    writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\ncurrent-context: old-cluster\n')
    const saved = process.env.KUBECONFIG
    process.env.KUBECONFIG = kubeconfig
    try {
      const OLD = ['--context', 'old-cluster', '--namespace', 'shop-dev', '--request-timeout=30s']
      // kubectl says it in both ways: `get` of a namespaced kind, and (deploy's first call) `get namespace`.
      const unknown = {exitCode: 1, stderr: 'Error in configuration: context was not found for specified context: old-cluster'}
      const fake = fakeKubectlFactory([
        {argv: ['--request-timeout=30s', 'config', 'current-context'], result: {stdout: 'old-cluster\n'}},
        {
          argv: [...OLD, 'get', 'deployments,replicasets,pods,services', '-l', 'app.kubernetes.io/part-of=shop,app.kubernetes.io/managed-by=skycap,skycap.dev/environment=dev', '-o', 'json'],
          result: {exitCode: 1, stderr: 'error: context "old-cluster" does not exist'},
        },
        {argv: [...OLD, 'get', 'configmaps', '-l', 'skycap.dev/release-of=shop,skycap.dev/environment=dev', '-o', 'json'], result: unknown},
        {argv: ['--request-timeout=30s', 'config', 'get-contexts', '-o', 'name'], result: {stdout: 'kind-dev\nprod eu\n'}},
      ])
      const error = (await status({environment: 'dev', configPath: `${repo.dir}/skycap.yaml`}, fake.factory, memoryReporter()).catch((e: unknown) => e)) as UserError
      expect(error).to.be.instanceOf(UserError)
      expect(error.exitCode).to.equal(ExitCode.INVALID)
      expect(error.message).to.equal(
        `the kubeconfig's current context "old-cluster" (current-context of ${kubeconfig}) is not defined in the kubeconfig file ${kubeconfig}; environment dev names no context of its own; nothing was changed`,
      )
      expect(error.hint).to.equal('Make a known one current (`kubectl config use-context kind-dev`; known: kind-dev, prod eu), or set environments.dev.context in skycap.yaml.')
      expect(fake.remaining()).to.equal(0)
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG
      else process.env.KUBECONFIG = saved
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('an environment without a context: the warning once per reporter (promote and abort connect twice in one run)', async () => {
    const env = resolveEnvironment(await loadConfig({cwd: repo.dir}), 'dev')
    const current = {argv: ['--request-timeout=30s', 'config', 'current-context'], result: {stdout: 'kind-dev\n'}}
    const fake = fakeKubectlFactory([current, current, current])
    const one = memoryReporter()
    await connect(env, fake.factory, one)
    await connect(env, fake.factory, one)
    expect(one.warnings).to.deep.equal(['environment dev names no kube context; using the current one: kind-dev'])
    const other = memoryReporter()
    await connect(env, fake.factory, other)
    expect(other.warnings).to.have.length(1)
  })
})
