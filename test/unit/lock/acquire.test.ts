import {expect} from 'chai'

import {ExitCode, NamespaceMissingError} from '../../../src/errors.js'
import {Kubectl, type ProcessRunner} from '../../../src/kubectl/kubectl.js'
import {acquireLock} from '../../../src/lock/lease.js'

describe('lock acquire', () => {
  /** A kubectl whose every call fails as the API server answers a Lease created in a namespace that does not exist. */
  function noNamespace() {
    const calls: string[][] = []
    const runner: ProcessRunner = async (_file, argv) => {
      calls.push(argv)
      return {exitCode: 1, stdout: '', stderr: 'Error from server (NotFound): error when creating "STDIN": namespaces "shop-dev" not found\n'}
    }
    return {kubectl: new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, context: 'kind-dev', namespace: 'shop-dev'}), calls}
  }

  it('in a namespace that does not exist yet: exit 2 saying so and that the first deploy creates it; nothing is created', async () => {
    const {kubectl, calls} = noNamespace()
    const error = (await acquireLock(kubectl, {app: 'shop', environment: 'dev', reason: 'by hand', durationSeconds: 3600}).catch((e: unknown) => e)) as NamespaceMissingError
    expect(error).to.be.instanceOf(NamespaceMissingError)
    expect(error.exitCode).to.equal(ExitCode.INVALID)
    expect(error.code).to.equal('namespace_not_found')
    expect(error.message).to.equal('cannot lock dev: its namespace shop-dev does not exist yet (nothing was deployed there); nothing was changed')
    expect(error.hint).to.equal(
      'The first `skycap deploy dev` creates the namespace and holds the lock while it runs. To keep deploys out before that, create the namespace and lock it: kubectl create namespace shop-dev --context kind-dev.',
    )
    expect(error.details).to.deep.equal({environment: 'dev', namespace: 'shop-dev'})
    // One create, no retry, and no namespace made behind the user's back.
    expect(calls).to.have.length(1)
    expect(calls[0]?.slice(-3)).to.deep.equal(['create', '-f', '-'])
  })
})
