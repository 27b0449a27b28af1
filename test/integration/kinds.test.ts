// Apps that are more than Deployments: a CustomResourceDefinition with resources of it, cluster-scoped objects, and
// the less common namespaced kinds of the repository's templates, deployed, changed and removed on the test cluster.
import {expect} from 'chai'

import {CRASH, TestApp} from './app.js'
import {kubectl, uniqueName, useNamespace} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']

/** A namespaced CustomResourceDefinition of kind Widget in `group`, serving `versions` (the first one stored). */
function widgetDefinition(group: string, versions: string[]): string {
  return [
    'apiVersion: apiextensions.k8s.io/v1',
    'kind: CustomResourceDefinition',
    `metadata: {name: widgets.${group}}`,
    'spec:',
    `  group: ${group}`,
    '  scope: Namespaced',
    '  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}',
    '  versions:',
    ...versions.map(
      (v, i) => `  - {name: ${v}, served: true, storage: ${i === 0}, schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer, minimum: 1}}}}}}}`,
    ),
    '',
  ].join('\n')
}

function widget(group: string, version: string, size: number): string {
  return `apiVersion: ${group}/${version}\nkind: Widget\nmetadata: {name: main}\nspec: {size: ${size}}\n`
}

describe('apps with more than Deployments (real cluster)', function () {
  const ns = useNamespace('kinds')
  let app: TestApp
  let group: string
  let marker: string
  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'itkinds')
    group = `${uniqueName('kinds')}.skycap.test`
    marker = ns.name
  })
  afterEach(async () => {
    app.remove()
    await kubectl(['delete', 'customresourcedefinition', `widgets.${group}`, '--ignore-not-found', '--wait=false'])
    await kubectl(['delete', 'clusterrole,clusterrolebinding,priorityclass', '-l', `kinds-test=${marker}`, '--ignore-not-found'])
  })

  it('a CustomResourceDefinition and a resource of it in one deploy: the resource is applied once its kind is served; diff and a new version too', async () => {
    app.repo.write('deploy/crd.yaml', widgetDefinition(group, ['v1']))
    app.repo.write('deploy/widget.yaml', widget(group, 'v1', 3))
    await app.repo.commit('a definition and a resource of it')
    // Before: the server dry run of the Widget failed ("no matches for kind"), and nothing could ever be deployed.
    const first = await app.json([...DEPLOY, 'test'])
    expect(first.exitCode, first.stderr).to.equal(0)
    expect(first.stderr).to.contain('Not validated before applying: Widget/main')
    expect(first.doc.result.applied).to.include.members([`CustomResourceDefinition/widgets.${group}`, 'Widget/main'])
    expect((await app.get([`widgets.${group}`, 'main'])).spec).to.deep.equal({size: 3})
    // Now the kind is served: the next diff and deploy validate it with the server like any object.
    const same = await app.cli(['diff', 'test'])
    expect(same.exitCode, same.stdout + same.stderr).to.equal(0)
    app.repo.write('deploy/widget.yaml', widget(group, 'v1', 0))
    await app.repo.commit('an invalid size')
    const invalid = await app.cli([...DEPLOY, 'test'])
    expect(invalid.exitCode, invalid.stderr).to.equal(2)
    expect(invalid.stderr).to.contain('Widget/main (deploy/widget.yaml:1)')
    // A version the release adds to the definition is not served yet either: diff says the resource is new, deploy applies it.
    app.repo.write('deploy/crd.yaml', widgetDefinition(group, ['v1', 'v2']))
    app.repo.write('deploy/widget.yaml', widget(group, 'v2', 5))
    await app.repo.commit('v2')
    const diff = await app.cli(['diff', 'test'])
    expect(diff.exitCode, diff.stderr).to.equal(1)
    expect(diff.stdout).to.contain('+ Widget/main (new: its CustomResourceDefinition comes with this release)')
    const second = await app.cli([...DEPLOY, 'test'])
    expect(second.exitCode, second.stderr).to.equal(0)
    expect((await app.get([`widgets.v2.${group}`, 'main'])).spec).to.deep.equal({size: 5})
  })

  it("a custom resource another app deployed, of a definition both bring: the second app's deploy is refused, nothing changed (it was taken over without a word)", async () => {
    app.repo.write('deploy/crd.yaml', widgetDefinition(group, ['v1']))
    app.repo.write('deploy/widget.yaml', widget(group, 'v1', 3))
    await app.repo.commit('a definition and a resource of it')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    // Another app in the namespace, its services named otherwise, bringing the same definition and a Widget "main".
    const other = await TestApp.create(ns.name, 'itkindsb')
    try {
      await other.change((t) => t.replace('  web:\n', '  bweb:\n').replace('  worker:\n', '  bworker:\n'), 'services of its own')
      other.repo.write('deploy/crd.yaml', widgetDefinition(group, ['v1']))
      other.repo.write('deploy/widget.yaml', widget(group, 'v1', 5))
      await other.repo.commit('the same definition, a Widget of the same name')
      for (const command of [
        ['diff', 'test'],
        [...DEPLOY, 'test', '--json'],
      ]) {
        const r = await other.cli(command)
        expect(r.stdout + r.stderr).to.contain('Widget/main (app itkinds (environment test); rendered from deploy/widget.yaml:1)')
        if (command[0] === 'deploy') {
          expect(r.exitCode, r.stderr).to.equal(2)
          expect(JSON.parse(r.stdout).error.code).to.equal('owned_elsewhere')
        }
      }
      const live = await app.get([`widgets.${group}`, 'main'])
      expect(live.spec).to.deep.equal({size: 3})
      expect(live.metadata.labels['app.kubernetes.io/part-of']).to.equal('itkinds')
    } finally {
      other.remove()
    }
  })

  it('a custom resource of a kind the cluster does not serve (no definition anywhere) is refused naming its file, exit 2', async () => {
    app.repo.write('deploy/widget.yaml', widget(group, 'v1', 3))
    await app.repo.commit('a resource without its definition')
    // Before: exit 1, "unable to recognize no matches for kind …" and "See the kubectl message above", no file.
    const r = await app.cli([...DEPLOY, 'test'])
    expect(r.exitCode, r.stderr).to.equal(2)
    expect(r.stderr).to.contain(`the cluster does not serve kind Widget in version ${group}/v1`)
    expect(r.stderr).to.contain(
      `Widget/main (deploy/widget.yaml:1): install the CustomResourceDefinition of Widget (${group}/v1) in the cluster first, or add it to the templates; nothing was changed.`,
    )
  })

  it('a second deploy without quotas, limits and cluster-scoped objects prunes the quota and limits of the namespace and names what it leaves in place', async () => {
    const cluster = `${ns.name}-reader`
    const marked = `labels: {kinds-test: ${ns.name}}`
    app.repo.write(
      'deploy/policy.yaml',
      [
        `apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: quota}\nspec: {hard: {pods: "50"}}`,
        `apiVersion: v1\nkind: LimitRange\nmetadata: {name: limits}\nspec: {limits: [{type: Container, defaultRequest: {cpu: 10m}}]}`,
        `apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: ${cluster}, ${marked}}\nvalue: 1000`,
        `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: ${cluster}, ${marked}}\nrules: [{apiGroups: [""], resources: [nodes], verbs: [get]}]`,
      ].join('\n---\n'),
    )
    await app.repo.commit('quota, limits, a priority class and a cluster role')
    const first = await app.cli([...DEPLOY, 'test'])
    expect(first.exitCode, first.stderr).to.equal(0)
    expect((await app.get(['resourcequotas,limitranges'])).items).to.have.length(2)
    app.repo.write('deploy/policy.yaml', '')
    await app.repo.commit('none of them')
    // diff names what the deploy will prune (kubectl diff sees only what is rendered: it used to say nothing of them).
    const diff = await app.json(['diff', 'test'])
    expect(diff.exitCode, diff.stderr).to.equal(1)
    expect(diff.doc.result.pruned).to.deep.equal(['LimitRange/limits', 'ResourceQuota/quota'])
    expect(diff.doc.result.diff).to.contain('- LimitRange/limits (pruned: no longer rendered)\n- ResourceQuota/quota (pruned: no longer rendered)\n')
    // Before: nothing was said, and the quota and the limits went on limiting the namespace.
    const second = await app.json([...DEPLOY, 'test'])
    expect(second.exitCode, second.stderr).to.equal(0)
    expect(second.doc.result.pruned).to.include.members(['LimitRange/limits', 'ResourceQuota/quota'])
    expect(second.doc.result.leftInPlace).to.deep.equal([`ClusterRole/${cluster}`, `PriorityClass/${cluster}`])
    expect(second.stderr).to.contain(`no longer rendered, left in place: ClusterRole/${cluster}, PriorityClass/${cluster} (skycap prunes no cluster-scoped objects`)
    expect((await app.get(['resourcequotas,limitranges'])).items).to.have.length(0)
    expect((await kubectl(['get', 'priorityclass', cluster, '-o', 'name'])).stdout.trim()).to.equal(`priorityclass.scheduling.k8s.io/${cluster}`)
  })

  it('a rollback (automatic, then skycap rollback) names what the release rolled back from brought that skycap never prunes (a CustomResourceDefinition, a ClusterRole); it stayed without a word', async () => {
    const cluster = `${ns.name}-left`
    const marked = `labels: {kinds-test: ${ns.name}}`
    const first = await app.cli([...DEPLOY, 'test'])
    expect(first.exitCode, first.stderr).to.equal(0)
    const brought = [
      widgetDefinition(group, ['v1']),
      `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: ${cluster}, ${marked}}\nrules: [{apiGroups: [""], resources: [nodes], verbs: [get]}]\n`,
    ].join('---\n')
    const left = [`ClusterRole/${cluster}`, `CustomResourceDefinition/widgets.${group}`]
    const note = `release 1 did not have, left in place: ${left.join(', ')} (skycap prunes no cluster-scoped objects`
    // A release that brings them and fails: the automatic rollback returns to release 1 and names them.
    app.repo.write('deploy/brought.yaml', brought)
    await app.change(CRASH, 'a definition, a cluster role, and web crashes')
    const failed = await app.json([...DEPLOY, 'test', '--timeout', '2m'])
    expect(failed.exitCode, failed.stderr).to.equal(1)
    expect(failed.doc.error.details.report.rollback).to.deep.include({to: 1, result: 'succeeded', leftInPlace: left})
    expect(failed.stderr).to.contain(note)
    expect((await kubectl(['get', 'clusterrole', cluster, '-o', 'name'])).stdout.trim()).to.equal(`clusterrole.rbac.authorization.k8s.io/${cluster}`)
    // The same release, healthy, then `skycap rollback` to release 1: named again, in --json's result too.
    await app.change((t) => t.replace('    labels: {sim.kwok.test/behavior: crashloop}\n', ''), 'web healthy')
    const healthy = await app.cli([...DEPLOY, 'test'])
    expect(healthy.exitCode, healthy.stderr).to.equal(0)
    expect(healthy.stderr).to.not.contain('left in place')
    const back = await app.json(['rollback', 'test', '--to', '1', '--yes'])
    expect(back.exitCode, back.stderr).to.equal(0)
    expect(back.doc.result.leftInPlace).to.deep.equal(left)
    expect(back.stderr).to.contain(note)
    // A rollback to the release that has them names nothing.
    const forth = await app.json(['rollback', 'test', '--to', '4', '--yes'])
    expect(forth.exitCode, forth.stderr).to.equal(0)
    expect(forth.doc.result).to.not.have.property('leftInPlace')
    expect(forth.stderr).to.not.contain('left in place')
  })

  it('a cluster-scoped object another environment deployed differently is named before it is changed; one shared as it is is not', async () => {
    const other = `${ns.name}-other`
    const name = `${ns.name}-nodes`
    const marked = `labels: {kinds-test: ${ns.name}}`
    try {
      await app.change((t) => `${t.trimEnd()}\n  other: {context: ${t.match(/context: (\S+)/)?.[1]}, namespace: ${other}}\n`, 'another environment')
      app.repo.write(
        'deploy/cluster.yaml',
        [
          `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: ${name}, ${marked}}\nrules: [{apiGroups: [""], resources: [nodes], verbs: [get]}]`,
          `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: ${name}, ${marked}}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${name}}\nsubjects: [{kind: ServiceAccount, name: default, namespace: "{{ env.namespace }}"}]`,
        ].join('\n---\n'),
      )
      await app.repo.commit('a cluster role and its binding')
      const first = await app.cli([...DEPLOY, 'test'])
      expect(first.exitCode, first.stderr).to.equal(0)
      expect(first.stderr).not.to.contain('another deploy applied')
      // Before: the other environment's deploy rebound the role to its own namespace without a word.
      const second = await app.cli([...DEPLOY, 'other'])
      expect(second.exitCode, second.stderr).to.equal(0)
      expect(second.stderr).to.contain(`this deploy of other changes cluster-scoped objects another deploy applied: ClusterRoleBinding/${name} (environment test);`)
      expect((await kubectl(['get', 'clusterrolebinding', name, '-o', 'jsonpath={.subjects[0].namespace}'])).stdout).to.equal(other)
      // The ClusterRole is the same in both: not named. The next deploy of other has nothing to say.
      expect(second.stderr).not.to.contain(`ClusterRole/${name}`)
      const again = await app.cli([...DEPLOY, 'other'])
      expect(again.stderr).not.to.contain('another deploy applied')
    } finally {
      await kubectl(['delete', 'namespace', other, '--ignore-not-found', '--wait=false'])
      await kubectl(['delete', 'clusterrolebinding', name, '--ignore-not-found'])
    }
  })
})
