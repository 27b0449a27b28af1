import {expect} from 'chai'

import {findPrunable, PRUNE_RESOURCES, pruneLive, unlistedNote} from '../../../src/deploy/apply.js'
import {KubectlError} from '../../../src/errors.js'
import {fakeKubectl} from '../../helpers/fake-kubectl.js'

const BOUND = ['--context', 'kind-x', '--namespace', 'shop', '--request-timeout=30s']
const SELECTOR = 'app.kubernetes.io/part-of=itapp,app.kubernetes.io/managed-by=skycap,skycap.dev/environment=test'
/** What kubectl says, with the lists it could make on stdout, when a Role lets it list some of the kinds and not others. */
const refused = (...resources: Array<[string, string]>) =>
  resources
    .map(
      ([resource, group]) =>
        `Error from server (Forbidden): ${resource} is forbidden: User "system:serviceaccount:shop:dev" cannot list resource "${resource}" in API group "${group}" in the namespace "shop"`,
    )
    .join('\n')
const cache = (kind: string) => ({apiVersion: kind === 'Service' ? 'v1' : 'apps/v1', kind, metadata: {name: 'cache'}})
const web = {apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'web'}}

describe('pruning with a Role that lists only some kinds (the built-in edit: no roles, rolebindings)', () => {
  const without = PRUNE_RESOURCES.split(',')
    .filter((r) => !r.startsWith('roles.') && !r.startsWith('rolebindings.'))
    .join(',')

  it('lists again without the kinds refused, prunes the rest, and names what it could not list', async () => {
    const fake = fakeKubectl(
      [
        {
          argv: [...BOUND, 'get', PRUNE_RESOURCES, '-l', SELECTOR, '-o', 'json'],
          result: {exitCode: 1, stderr: refused(['roles', 'rbac.authorization.k8s.io'], ['rolebindings', 'rbac.authorization.k8s.io'])},
        },
        {argv: [...BOUND, 'get', without, '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: [web, cache('Service'), cache('Deployment')]})}},
        {argv: [...BOUND, 'delete', '--ignore-not-found', '--wait=false', 'Deployment/cache', 'Service/cache']},
      ],
      {context: 'kind-x', namespace: 'shop'},
    )
    const pruning = await pruneLive(fake.kubectl, SELECTOR, [web])
    expect(pruning).to.deep.equal({pruned: ['Deployment/cache', 'Service/cache'], unlisted: ['Role', 'RoleBinding']})
    expect(fake.remaining()).to.equal(0)
    expect(unlistedNote(['Role', 'RoleBinding'])).to.equal(
      'your user may not list Role, RoleBinding, so objects of those kinds the release no longer renders are not pruned (docs/rbac.md: grant list, or delete them with kubectl)',
    )
  })

  it('a refusal that names no kind it lists, or every kind, is the error it was', async () => {
    const other = fakeKubectl([{argv: [...BOUND, 'get', PRUNE_RESOURCES, '-l', SELECTOR, '-o', 'json'], result: {exitCode: 1, stderr: refused(['pods', ''])}}], {context: 'kind-x', namespace: 'shop'})
    const error = await findPrunable(other.kubectl, SELECTOR, [web]).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(KubectlError).and.have.property('kind', 'forbidden')
    expect(other.remaining()).to.equal(0)
  })
})
