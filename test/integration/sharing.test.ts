// Several apps, and several environments of one app, in one namespace: skycap changes only what it deployed for the
// app and environment it is given (deploy, scale, down), on the test cluster.
import {expect} from 'chai'
import {execa} from 'execa'

import {cliPath} from '../helpers/repo.js'
import {TestApp} from './app.js'
import {kubectl, testCluster, uniqueName, waitFor} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']

/** The cluster-app fixture as app `name`, its services renamed (web → `${prefix}web`, worker → `${prefix}worker`). */
async function appNamed(namespace: string, name: string, prefix = ''): Promise<TestApp> {
  const app = await TestApp.create(namespace, 'itshare')
  await app.change((t) => t.replace('app: itshare', `app: ${name}`).replace('  web:\n', `  ${prefix}web:\n`).replace('  worker:\n', `  ${prefix}worker:\n`), `app ${name}`)
  return app
}

describe('apps and environments sharing a namespace (real cluster)', function () {
  let namespace: string
  const apps: TestApp[] = []
  beforeEach(async () => {
    namespace = uniqueName('sharing')
    await kubectl(['create', 'namespace', namespace])
  })
  afterEach(async () => {
    for (const app of apps.splice(0)) app.remove()
    await kubectl(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found'], {reject: false})
  })

  it("two apps deploy at once, twice; neither's deploy, scale or template takes the other's objects, and an object made by hand is taken over with a warning", async function () {
    this.timeout(400_000)
    const alpha = await appNamed(namespace, 'alpha')
    const beta = await appNamed(namespace, 'beta', 'b')
    apps.push(alpha, beta)
    const selectorOf = async (service: string) => (await alpha.get(['service', service])).spec.selector
    for (const round of [1, 2]) {
      const inRound = (t: string) => (t.includes('ROUND') ? t.replace(/ROUND: "\d+"/, `ROUND: "${round}"`) : t.replace('    replicas: 2\n', `    replicas: 2\n    env: {ROUND: "${round}"}\n`))
      await alpha.change(inRound, `alpha round ${round}`)
      await beta.change(inRound, `beta round ${round}`)
      const [a, b] = await Promise.all([alpha.json([...DEPLOY, 'test']), beta.json([...DEPLOY, 'test'])])
      expect(a.exitCode, a.stderr).to.equal(0)
      expect(b.exitCode, b.stderr).to.equal(0)
      expect(a.stderr + b.stderr).to.not.contain('takes over')
      for (const [app, web] of [
        [alpha, 'web'],
        [beta, 'bweb'],
      ] as const) {
        const d = await app.get(['deployment', web])
        expect(d.metadata.generation).to.equal(d.status.observedGeneration)
        expect(d.spec.template.spec.containers[0].env).to.deep.include({name: 'ROUND', value: String(round)})
      }
    }
    const before = await selectorOf('web')
    expect(before).to.deep.equal({'app.kubernetes.io/name': 'web', 'app.kubernetes.io/instance': 'alpha-test'})

    // beta's template brings a Service named web: alpha's. Refused before any change, naming owner and file.
    beta.repo.write('deploy/web.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app.kubernetes.io/name: bweb}\n  ports: [{port: 80, targetPort: 8080}]\n')
    await beta.repo.commit('a Service named web')
    // diff says so first.
    const diffed = await beta.cli(['diff', 'test'])
    expect(diffed.stderr).to.contain('a deploy would be refused: Service/web (app alpha (environment test); rendered from deploy/web.yaml:1)')
    const taken = await beta.json([...DEPLOY, 'test'])
    expect(taken.exitCode, taken.stderr).to.equal(2)
    expect(taken.doc.error.code).to.equal('owned_elsewhere')
    expect(taken.doc.error.message).to.match(
      /^Service\/web \(app alpha \(environment test\); rendered from deploy\/web\.yaml:1\) in namespace \S+ belongs to another app or environment; this deploy of beta test would take it over; nothing was changed$/,
    )
    expect(await selectorOf('web')).to.deep.equal(before)
    expect((await alpha.get(['service', 'web'])).metadata.labels['app.kubernetes.io/part-of']).to.equal('alpha')
    const betaHistory = await beta.json(['history', 'test'])
    expect(betaHistory.doc.result.releases.map((r: {number: number}) => r.number)).to.deep.equal([2, 1])

    // scale from beta's repository of a service named like alpha's: beta declares web too now.
    await beta.change((t) => t.replace('  bworker:\n', '  web:\n    image: web\n    replicas: 1\n  bworker:\n'), 'a web service too')
    const scaled = await beta.json(['scale', 'web', '5', '-e', 'test'])
    expect(scaled.exitCode, scaled.stderr).to.equal(2)
    expect(scaled.doc.error.code).to.equal('owned_elsewhere')
    expect(scaled.doc.error.message).to.contain('Deployment/web in namespace')
    expect(scaled.doc.error.message).to.contain('belongs to app alpha (environment test), not to beta test; nothing was changed')
    expect((await alpha.get(['deployment', 'web'])).spec.replicas).to.equal(2)
    // And beta's deploy of that web is refused as well (alpha's Deployment, alpha's Service).
    const both = await beta.json([...DEPLOY, 'test'])
    expect(both.exitCode, both.stderr).to.equal(2)
    expect(both.doc.error.message).to.contain('Deployment/web (app alpha (environment test); rendered from skycap.yaml:')
    expect((await alpha.get(['deployment', 'web'])).metadata.labels['app.kubernetes.io/part-of']).to.equal('alpha')

    // An object made by hand that beta's template names: taken over, with a warning naming it and its file.
    await kubectl(['create', 'configmap', 'settings', '--from-literal=owner=platform'], {namespace})
    await beta.change((t) => t.replace('  web:\n    image: web\n    replicas: 1\n', ''), 'no web service')
    beta.repo.write('deploy/web.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {owner: beta}\n')
    await beta.repo.commit('settings')
    // Another tool's first (Helm's label): refused, not taken over with a warning that called it made by hand (its
    // labels were replaced, and Helm's next upgrade fought over it); the hint says how to hand it over.
    await kubectl(['label', 'configmap', 'settings', 'app.kubernetes.io/managed-by=Helm'], {namespace})
    expect((await beta.cli(['diff', 'test'])).stderr).to.contain(
      'a deploy would be refused: ConfigMap/settings (Helm, not skycap (app.kubernetes.io/managed-by: Helm); rendered from deploy/web.yaml:1) in namespace',
    )
    const helmed = await beta.json([...DEPLOY, 'test'])
    expect(helmed.exitCode, helmed.stderr).to.equal(2)
    expect(helmed.doc.error.code).to.equal('owned_elsewhere')
    expect(helmed.doc.error.message).to.match(
      /^ConfigMap\/settings \(Helm, not skycap .*\) in namespace \S+ belongs to another tool; this deploy of beta test would take it over; nothing was changed$/,
    )
    expect(helmed.doc.error.hint).to.equal(
      `To hand ConfigMap/settings to skycap, take it out of Helm first (Helm: the annotation helm.sh/resource-policy: keep, then helm uninstall), then remove the label: \`kubectl label configmap/settings app.kubernetes.io/managed-by- -n ${namespace} --context ${testCluster().context}\`. Or give it another name in beta's templates.`,
    )
    expect((await beta.get(['configmap', 'settings'])).data).to.deep.equal({owner: 'platform'})
    await kubectl(['label', 'configmap', 'settings', 'app.kubernetes.io/managed-by-'], {namespace})
    expect((await beta.cli(['diff', 'test'])).stderr).to.contain('a deploy takes over objects skycap did not deploy: ConfigMap/settings (deploy/web.yaml:1)')
    const adopted = await beta.json([...DEPLOY, 'test'])
    expect(adopted.exitCode, adopted.stderr).to.equal(0)
    expect(adopted.stderr).to.contain('this deploy takes over objects skycap did not deploy: ConfigMap/settings (deploy/web.yaml:1)')
    const settings = await beta.get(['configmap', 'settings'])
    expect(settings.data).to.deep.equal({owner: 'beta'})
    expect(settings.metadata.labels['app.kubernetes.io/part-of']).to.equal('beta')
    // alpha's objects are as alpha left them.
    expect(await selectorOf('web')).to.deep.equal(before)
    const status = await alpha.json(['status', 'test'])
    expect(status.doc.result.services.map((s: {service: string; state: string}) => `${s.service} ${s.state}`)).to.deep.equal(['web ready', 'worker ready'])

    // A rollback re-applies a recorded release: once beta no longer renders settings (release 4 prunes it) and alpha
    // has taken the name, rolling beta back to release 3, which brought it, is refused as a deploy would be.
    beta.repo.write('deploy/web.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bsettings}\ndata: {owner: beta}\n')
    await beta.repo.commit('bsettings')
    const moved = await beta.json([...DEPLOY, 'test'])
    expect(moved.exitCode, moved.stderr).to.equal(0)
    expect(moved.doc.result.release).to.equal(4)
    alpha.repo.write('deploy/settings.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {owner: alpha}\n')
    await alpha.repo.commit('settings')
    const took = await alpha.json([...DEPLOY, 'test'])
    expect(took.exitCode, took.stderr).to.equal(0)
    expect(took.stderr).to.not.contain('takes over')
    const back = await beta.json(['rollback', 'test', '--to', '3', '--skip-image-check'])
    expect(back.exitCode, back.stderr).to.equal(2)
    expect(back.doc.error.code).to.equal('owned_elsewhere')
    expect(back.doc.error.message).to.match(
      /^ConfigMap\/settings \(app alpha \(environment test\); recorded in release 3\) in namespace \S+ belongs to another app or environment; this rollback of beta test would take it over; nothing was changed$/,
    )
    expect(back.doc.error.hint).to.contain('roll back to a release without it (skycap history test)')
    expect((await alpha.get(['configmap', 'settings'])).data).to.deep.equal({owner: 'alpha'})
    expect((await beta.get(['configmap', 'bsettings'])).data).to.deep.equal({owner: 'beta'})
    expect((await beta.json(['history', 'test'])).doc.result.releases[0].number).to.equal(4)
  })

  it("an app's deploy that waited for its lock while another app deployed the same names, each way round: refused under the lock, nothing of the other's changed (it applied over them, and later pruned them)", async function () {
    this.timeout(400_000)
    const alpha = await appNamed(namespace, 'alpha')
    const beta = await appNamed(namespace, 'beta')
    apps.push(alpha, beta)
    // Both apps have web and worker. Each round in a namespace of its own, named in both skycap.yaml files.
    const spaces: string[] = []
    try {
      for (const [round, [waiter, other]] of (
        [
          [alpha, beta],
          [beta, alpha],
        ] as const
      ).entries()) {
        const ns = uniqueName('claimed')
        spaces.push(ns)
        await kubectl(['create', 'namespace', ns])
        for (const app of [alpha, beta]) await app.change((t) => t.replaceAll(/namespace: \S+/g, `namespace: ${ns}`), `round ${round}`)
        const get = async (ref: string) => JSON.parse((await kubectl(['get', ref, '-o', 'json'], {namespace: ns})).stdout)
        const held = await waiter.cli(['lock', 'acquire', 'test', '--reason', `round ${round}`])
        expect(held.exitCode, held.stderr).to.equal(0)
        // Validated now, while nothing of the other app is there; then it waits for its lock (it says so).
        const child = execa('node', [cliPath, ...DEPLOY, 'test', '--wait-for-lock', '2m', '--json'], {cwd: waiter.repo.dir, reject: false, env: {NO_COLOR: '1'}})
        let err = ''
        child.stderr?.on('data', (d) => (err += d))
        await waitFor('the deploy to wait for its lock', () => new RegExp(`test is locked by .*\\(round ${round}\\); waiting for it`).test(err), {timeoutMs: 90_000})
        const theirs = await other.json([...DEPLOY, 'test'])
        expect(theirs.exitCode, theirs.stderr).to.equal(0)
        const refs = ['service/web', 'deployment/web', 'deployment/worker']
        const before = await Promise.all(refs.map(async (ref) => (await get(ref)).metadata))
        expect((await waiter.cli(['lock', 'release', 'test'])).exitCode).to.equal(0)
        const refused = await child
        expect(refused.exitCode, err).to.equal(2)
        const error = JSON.parse(refused.stdout).error
        expect(error.code).to.equal('owned_elsewhere')
        const [mine, owner] = round === 0 ? ['alpha', 'beta'] : ['beta', 'alpha']
        expect(error.message).to.contain(
          `belong to another app or environment since this deploy was validated (while it waited for its lock or its confirmation); this deploy of ${mine} test would take them over; nothing was changed`,
        )
        // The other app's objects are its own still, unchanged (read from the cluster).
        const after = await Promise.all(refs.map(async (ref) => (await get(ref)).metadata))
        for (const [i, m] of after.entries()) {
          expect(m.labels['app.kubernetes.io/part-of'], refs[i]).to.equal(owner)
          expect(m.resourceVersion, refs[i]).to.equal(before[i]?.resourceVersion)
        }
        expect((await get('service/web')).spec.selector).to.deep.equal({'app.kubernetes.io/name': 'web', 'app.kubernetes.io/instance': `${owner}-test`})
        // Nothing recorded for the refused deploy, and its lock is free.
        expect((await waiter.json(['history', 'test'])).doc.result.releases).to.deep.equal([])
        expect((await waiter.json(['lock', 'status', 'test'])).doc.result.lock).to.equal(null)
      }
    } finally {
      for (const ns of spaces) await kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found'], {reject: false})
    }
  })

  it("two environments of one app in one namespace: the second is refused the first's objects, and their shared lock says whose it is and is not released as the other", async function () {
    this.timeout(200_000)
    // The fixture's test and guarded (protected) environments name the same namespace.
    const app = await TestApp.create(namespace, 'itshare')
    apps.push(app)
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const second = await app.json([...DEPLOY, 'guarded', '--yes'])
    expect(second.exitCode, second.stderr).to.equal(2)
    expect(second.doc.error.code).to.equal('owned_elsewhere')
    expect(second.doc.error.message).to.contain('Deployment/web (environment test of this app; rendered from skycap.yaml:')
    expect((await app.get(['deployment', 'web'])).metadata.labels['skycap.dev/environment']).to.equal('test')

    const held = await app.cli(['lock', 'acquire', 'test', '--reason', 'incident on test'])
    expect(held.exitCode, held.stderr).to.equal(0)
    const status = await app.cli(['lock', 'status', 'guarded'])
    expect(status.stdout).to.match(/^guarded is locked by \S+ since \S+ \(incident on test\), for environment test; expires /)
    const wrong = await app.json(['lock', 'release', 'guarded'])
    expect(wrong.exitCode, wrong.stderr).to.equal(2)
    expect(wrong.doc.error.message).to.equal(`the lock in namespace ${namespace} was taken for environment test, not guarded (they share the namespace, and its lock); nothing was changed`)
    expect(wrong.doc.error.hint).to.equal('Release it as test (skycap lock release test), or pass --force if its holder is gone or done with it.')
    expect((await app.json(['lock', 'status', 'test'])).doc.result.lock).to.include({environment: 'test', reason: 'incident on test'})
    // (A deploy of guarded is refused before the lock, for test's objects; a scale takes the lock first.)
    const blocked = await app.json(['scale', 'web', '3', '-e', 'guarded'])
    expect(blocked.exitCode, blocked.stderr).to.equal(3)
    expect(blocked.doc.error.message).to.match(/^guarded is locked by \S+ since \S+ \(incident on test\), for environment test$/)
    const released = await app.cli(['lock', 'release', 'test'])
    expect(released.exitCode, released.stderr).to.equal(0)
    expect((await app.json(['lock', 'status', 'test'])).doc.result.lock).to.equal(null)
  })

  it("an environment renamed in skycap.yaml (same namespace): diff says a deploy is refused for whose objects they are, not the server's immutable selector (whose advice deleted a serving Deployment)", async function () {
    this.timeout(300_000)
    const app = await TestApp.create(namespace, 'itshare')
    apps.push(app)
    const first = await app.json([...DEPLOY, 'test'])
    expect(first.exitCode, first.stderr).to.equal(0)
    await app.change((t) => t.replace('defaultEnvironment: test', 'defaultEnvironment: qa').replace('\n  test:\n', '\n  qa:\n'), 'test is called qa now')
    for (const command of ['diff', 'deploy']) {
      const r = await app.json(command === 'diff' ? ['diff', 'qa'] : [...DEPLOY, 'qa'])
      expect(r.exitCode, r.stderr).to.equal(2)
      expect(r.doc.error.code, command).to.equal('owned_elsewhere')
      expect(r.doc.error.message, `${command}: ${r.doc.error.message}`).to.match(
        /^.*Deployment\/web \(environment test of this app; rendered from skycap\.yaml:\d+:\d+\).* in namespace \S+ belong to another app or environment; this deploy of itshare qa would take them over; nothing was changed$/,
      )
      expect(r.doc.error.message + (r.doc.error.hint ?? '')).to.not.contain('immutable')
    }
    const web = await app.get(['deployment', 'web'])
    expect(web.metadata.labels['skycap.dev/environment']).to.equal('test')
    expect(web.metadata.generation).to.equal(1)
  })

  it('an environment moved to another namespace in skycap.yaml: diff and the first deploy there say the old one still runs it and holds its history', async function () {
    this.timeout(300_000)
    // An app name of its own: other tests' namespaces hold releases of itshare test too, and would be named.
    const appName = uniqueName('mover')
    const app = await appNamed(namespace, appName)
    apps.push(app)
    const leaving = uniqueName('leaving')
    expect((await app.json([...DEPLOY, 'test'])).exitCode).to.equal(0)
    expect((await app.json([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const moved = uniqueName('moved')
    try {
      await app.change((t) => t.replaceAll(`namespace: ${namespace}`, `namespace: ${moved}`), 'test moves to another namespace')
      const said = `test has releases recorded in namespace ${namespace} (up to release 2), not in ${moved}: what they deployed still runs there, and this deploy to ${moved} (environments.test.namespace) leaves it as it is, with its history. Once nothing uses it, delete it (\`kubectl delete namespace ${namespace} --context ${testCluster().context}\`, if nothing else is there)`
      // A namespace being deleted is not named: one held in Terminating by a finalizer on a record of the app.
      await kubectl(['create', 'namespace', leaving])
      const held = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {name: 'held', finalizers: ['skycap.test/hold'], labels: {'skycap.dev/release-of': appName, 'skycap.dev/environment': 'test', 'skycap.dev/release': '7'}},
        data: {},
      }
      await kubectl(['apply', '-f', '-'], {namespace: leaving, input: JSON.stringify(held)})
      await kubectl(['delete', 'namespace', leaving, '--wait=false'])
      await waitFor('the namespace to be terminating', async () => JSON.parse((await kubectl(['get', 'namespace', leaving, '-o', 'json'])).stdout).status.phase === 'Terminating')
      const diffed = await app.cli(['diff', 'test'])
      expect(diffed.stderr, diffed.stderr).to.contain(said)
      expect(diffed.stderr).to.not.contain(leaving)
      const deployed = await app.json([...DEPLOY, 'test'])
      expect(deployed.exitCode, deployed.stderr).to.equal(0)
      expect(deployed.stderr).to.contain(said)
      expect(deployed.doc.result.release).to.equal(1)
      // Said once: the second deploy there finds its own history.
      const again = await app.json([...DEPLOY, 'test'])
      expect(again.exitCode, again.stderr).to.equal(0)
      expect(again.stderr).to.not.contain('has releases recorded in namespace')
      // The old copy is as it was.
      expect((await kubectl(['get', 'deployment', 'web', '-o', 'name'], {namespace})).stdout).to.equal('deployment.apps/web\n')
    } finally {
      await kubectl(['delete', 'namespace', moved, '--wait=false', '--ignore-not-found'], {reject: false})
      await kubectl(['patch', 'configmap', 'held', '--type=merge', '-p', '{"metadata":{"finalizers":null}}'], {namespace: leaving, reject: false})
    }
  })

  it("down of an up whose namespace another app's up deployed into: only its own objects and records go, the other app runs on", async function () {
    this.timeout(300_000)
    const {context} = testCluster()
    const local = `  local:\n    context: ${context}\n    namespace: ${namespace}-dev\n`
    const alpha = await appNamed(namespace, 'alpha')
    const beta = await appNamed(namespace, 'beta', 'b')
    apps.push(alpha, beta)
    for (const app of [alpha, beta]) await app.change((t) => t.replace('environments:\n', `environments:\n${local}`), 'a local environment')
    try {
      const first = await alpha.json(['up', '--detach', '--skip-image-check'])
      expect(first.exitCode, first.stderr).to.equal(0)
      const second = await beta.json(['up', '--detach', '--skip-image-check'])
      expect(second.exitCode, second.stderr).to.equal(0)
      const down = await alpha.json(['down'])
      expect(down.exitCode, down.stderr).to.equal(0)
      expect(down.doc.result.deletedNamespace).to.equal(null)
      expect(down.doc.result.kept).to.deep.equal([`namespace ${namespace}-dev: app beta (environment local) runs there too (delete it by hand once nothing needs it)`])
      const left = await kubectl(['get', 'deployments,configmaps', '-o', 'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}'], {namespace: `${namespace}-dev`})
      const names = left.stdout.split('\n').filter(Boolean)
      expect(names).to.include.members(['bweb', 'bworker'])
      expect(names.filter((n) => n === 'web' || n === 'worker' || n.startsWith('web-config-') || n.startsWith('skycap-release-alpha.'))).to.deep.equal([])
      expect(names.some((n) => n.startsWith('skycap-release-beta.local-'))).to.equal(true)
      const status = await beta.json(['status', 'local'])
      expect(status.doc.result.services.map((s: {service: string; state: string}) => `${s.service} ${s.state}`)).to.deep.equal(['bweb ready', 'bworker ready'])
      expect((await beta.json(['down'])).exitCode).to.equal(0)
    } finally {
      // The forwards up left running go even when an assertion failed before the downs.
      for (const app of [alpha, beta]) await app.cli(['down'])
      await kubectl(['delete', 'namespace', `${namespace}-dev`, '--wait=false', '--ignore-not-found'], {reject: false})
    }
  })
})
