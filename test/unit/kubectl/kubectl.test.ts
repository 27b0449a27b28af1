import {expect} from 'chai'

import {ExitCode, KubectlError, UnreachableError} from '../../../src/errors.js'
import {classify} from '../../../src/kubectl/kubectl.js'
import {fakeKubectl} from '../../helpers/fake-kubectl.js'

describe('kubectl wrapper', () => {
  it('adds --context, --namespace and --request-timeout in one place, in that order', async () => {
    const fake = fakeKubectl([{argv: ['--context', 'prod', '--namespace', 'shop', '--request-timeout=30s', 'get', 'pods', '-o', 'json'], result: {stdout: '{"items":[]}'}}], {
      context: 'prod',
      namespace: 'shop',
    })
    expect(await fake.kubectl.json(['get', 'pods'])).to.deep.equal({items: []})
  })

  it('leaves out --namespace for cluster-scoped calls', async () => {
    const fake = fakeKubectl([{argv: ['--context', 'prod', '--request-timeout=30s', 'get', 'namespace', 'shop']}], {context: 'prod', namespace: 'shop'})
    await fake.kubectl.run(['get', 'namespace', 'shop'], {namespaced: false})
    expect(fake.remaining()).to.equal(0)
  })

  it('retries a named transient error, then succeeds', async () => {
    const argv = ['--request-timeout=30s', 'get', 'pods']
    const fake = fakeKubectl([
      {argv, result: {exitCode: 1, stderr: 'Error from server: etcdserver: request timed out'}},
      {argv, result: {stdout: 'ok'}},
    ])
    expect((await fake.kubectl.run(['get', 'pods'])).stdout).to.equal('ok')
  })

  it('does not retry other errors, nor non-idempotent calls', async () => {
    const fake = fakeKubectl([{argv: ['--request-timeout=30s', 'create', '-f', '-'], result: {exitCode: 1, stderr: 'Error from server: etcdserver: request timed out'}}])
    try {
      await fake.kubectl.run(['create', '-f', '-'], {idempotent: false})
      expect.fail('expected an error')
    } catch (error) {
      expect(error).to.be.instanceOf(KubectlError)
    }
    expect(fake.calls).to.have.length(1)
  })

  const cases: Array<[string, string, string, number]> = [
    ['Error from server (NotFound): deployments.apps "web" not found', 'kubectl_not_found', 'KubectlError', ExitCode.FAILED],
    ['Error from server (Forbidden): deployments.apps is forbidden: User "x" cannot list', 'kubectl_forbidden', 'KubectlError', ExitCode.FAILED],
    ['Error from server (AlreadyExists): leases.coordination.k8s.io "l" already exists', 'kubectl_already_exists', 'KubectlError', ExitCode.FAILED],
    ['Error from server (Conflict): Operation cannot be fulfilled: the object has been modified', 'kubectl_conflict', 'KubectlError', ExitCode.FAILED],
    ['The Service "bad" is invalid: spec.ports[0].port: Invalid value: 99999', 'kubectl_invalid', 'KubectlError', ExitCode.INVALID],
    ['error: context "nope" does not exist', 'kubectl_no_context', 'KubectlError', ExitCode.INVALID],
    ['Unable to connect to the server: dial tcp 127.0.0.1:6443: connect: connection refused', 'unreachable', 'UnreachableError', ExitCode.UNREACHABLE],
  ]
  for (const [stderr, code, type, exit] of cases) {
    it(`classifies "${stderr.slice(0, 40)}..." as ${code}`, () => {
      const e = classify(['get', 'x'], stderr, 'prod')
      expect(e.constructor.name).to.equal(type)
      expect(e.code).to.equal(code)
      expect(e.exitCode).to.equal(exit)
      expect(e.hint).to.be.a('string').and.not.equal('')
    })
  }

  it('names the context when the cluster is unreachable', () => {
    const e = classify(['get', 'pods'], 'Unable to connect to the server: dial tcp: lookup x: no such host', 'prod-cluster')
    expect(e).to.be.instanceOf(UnreachableError)
    expect(e.message).to.contain('(context prod-cluster)')
  })
})
