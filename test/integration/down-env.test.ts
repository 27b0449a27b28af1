// skycap down ENV against a real control plane: two apps in one namespace, each with a rolling, a blue-green and a
// canary service; taking one down removes all of its objects, records and state and leaves the other's objects and a
// hand-made ConfigMap exactly as they were (same resourceVersions); the next deploy is a first deploy.
import {expect} from 'chai'
import {execa} from 'execa'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {cliPath} from '../helpers/repo.js'

import {NOT_READY, TestApp} from './app.js'
import {asDeployer, kubectl, uniqueName, useNamespace, waitFor} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']
const SIDE = (name: string) => `  ${name}:\n    image: side\n    replicas: 1\n    resources: {requests: {cpu: 10m, memory: 16Mi}}\nenvironments:\n`
/** web blue-green, worker canary, side rolling. */
const STRATEGIES = (text: string) =>
  text
    .replace('  web:\n    image: web\n', '  web:\n    image: web\n    strategy: {type: blueGreen, scaleDownDelay: 1s}\n')
    .replace('  worker:\n    image: worker\n', '  worker:\n    image: worker\n    strategy: {type: canary, steps: [{setWeight: 50}, {pause: {duration: 1s}}]}\n')
    .replace('environments:\n', SIDE('side'))
/** The same three strategies under other names, for the second app in the namespace. */
const OTHER = (text: string) =>
  text
    .replace('  web:\n    image: web\n', '  api:\n    image: web\n    strategy: {type: blueGreen, scaleDownDelay: 1s}\n')
    .replace('  worker:\n    image: worker\n', '  queue:\n    image: worker\n    strategy: {type: canary, steps: [{setWeight: 50}, {pause: {duration: 1s}}]}\n')
    .replace('environments:\n', SIDE('bside'))
const KINDS = 'configmaps,secrets,services,serviceaccounts,deployments.apps,statefulsets.apps,jobs.batch,leases.coordination.k8s.io'

type Item = {kind: string; metadata: {name: string; resourceVersion: string; labels?: Record<string, string>}}

describe('skycap down ENV (cluster)', function () {
  this.timeout(900_000)
  const ns = useNamespace('down-env')
  let app: TestApp
  let other: TestApp
  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'itdown')
    other = await TestApp.create(ns.name, 'itdownb')
    await app.change(STRATEGIES, 'three strategies')
    await other.change(OTHER, 'three strategies, other names')
  })
  afterEach(() => {
    app.remove()
    other.remove()
  })

  const items = async (namespace: string): Promise<Item[]> => JSON.parse((await kubectl(['get', KINDS, '-o', 'json'], {namespace})).stdout).items as Item[]
  const ofApp = (item: Item, name: string) => {
    const l = item.metadata.labels ?? {}
    return (
      l['app.kubernetes.io/part-of'] === name ||
      l['skycap.dev/release-of'] === name ||
      l['skycap.dev/rollout-of'] === name ||
      l['skycap.dev/job-of'] === name ||
      item.metadata.name === `skycap-lock-${name}`
    )
  }
  const versions = (list: Item[]) => Object.fromEntries(list.map((i) => [`${i.kind}/${i.metadata.name}`, i.metadata.resourceVersion]))

  it('takes one app out of a shared namespace, twice: all of its objects, records and state go, the other app and a hand-made ConfigMap stay as they were, and the next deploy is a first one', async () => {
    // Twice, so each app has an old blue-green slot and a finished canary.
    for (const round of [1, 2]) {
      for (const a of [app, other]) {
        a.repo.write('config/web/app.properties', `round=${round}\n`)
        await a.repo.commit(`round ${round}`)
        const r = await a.cli([...DEPLOY, 'test'])
        expect(r.exitCode, r.stderr).to.equal(0)
      }
    }
    await kubectl(['create', 'configmap', 'team-notes', '--from-literal=a=b'], {namespace: ns.name})
    for (const _round of [1, 2]) {
      // Settled first (the old blue-green slot scaled down after its delay): the other app's objects change no more.
      await waitFor('the blue-green slots settled', async () => {
        const list = JSON.parse((await kubectl(['get', 'deployments.apps', '-o', 'json'], {namespace: ns.name})).stdout).items as Array<{
          metadata: {generation: number}
          status?: {observedGeneration?: number}
        }>
        return list.every((d) => d.status?.observedGeneration === d.metadata.generation)
      })
      await new Promise((resolve) => setTimeout(resolve, 2000))
      const before = await items(ns.name)
      const mine = before.filter((i) => ofApp(i, 'itdown'))
      const kept = versions(before.filter((i) => !ofApp(i, 'itdown')))
      expect(mine.map((i) => i.kind)).to.include.members(['Deployment', 'Service', 'ConfigMap', 'Secret'])
      expect(Object.keys(kept)).to.include.members(['ConfigMap/team-notes', 'Service/api', 'Deployment/bside'])

      const r = await app.json(['down', 'test', '--yes'])
      expect(r.exitCode, r.stderr).to.equal(0)
      expect(r.doc.result).to.deep.include({app: 'itdown', environment: 'test', namespace: ns.name, result: 'deleted', rolloutState: true, namespaceDeleted: false, claimsKept: []})
      expect(r.doc.result.releaseRecords).to.be.greaterThan(0)
      expect(r.doc.result.names).to.include.members(['Deployment/side', 'Service/web'])
      // The namespace was made by hand (useNamespace), and the other app runs there.
      expect(r.doc.result.namespaceKept).to.contain(`kubectl delete namespace ${ns.name}`)

      const after = await waitFor('the app and its pods gone', async () => {
        const list = await items(ns.name)
        const pods = (await kubectl(['get', 'pods', '-l', 'app.kubernetes.io/part-of=itdown', '-o', 'name'], {namespace: ns.name})).stdout.trim()
        return !list.some((i) => ofApp(i, 'itdown')) && pods === '' && list
      })
      expect(versions(after)).to.deep.equal(kept)
      const history = await app.json(['history', 'test'])
      expect(history.exitCode, history.stderr).to.equal(0)
      expect(history.doc.result.releases).to.deep.equal([])
      const status = await app.json(['status', 'test'])
      expect(status.exitCode, status.stderr).to.equal(0)
      expect(status.doc.result.lastRelease).to.equal(null)
      expect(status.doc.result.services.filter((s: {ready?: number}) => (s.ready ?? 0) > 0)).to.deep.equal([])

      // The next deploy is a first one, and works.
      const again = await app.json([...DEPLOY, 'test'])
      expect(again.exitCode, again.stderr).to.equal(0)
      expect(again.doc.result.release).to.equal(1)
    }
  })

  it('deletes the namespace its first deploy created once nothing else is in it; a redeploy creates it again', async () => {
    const fresh = uniqueName('down-env-own')
    const own = await TestApp.create(fresh, 'itdown')
    try {
      // A predeploy hook: its Job carries skycap's job labels, not the app's, and goes too.
      await own.change(
        (t) => STRATEGIES(t).replace('\nenvironments:', '\nhooks:\n  predeploy:\n    - {name: migrate, service: worker, command: [/bin/true], timeout: 2m}\nenvironments:'),
        'three strategies, a hook',
      )
      const first = await own.cli([...DEPLOY, 'test'])
      expect(first.exitCode, first.stderr).to.equal(0)
      expect((await kubectl(['get', 'jobs.batch', '-l', 'skycap.dev/job-of=itdown', '-o', 'name'], {namespace: fresh})).stdout.trim()).to.equal('job.batch/itdown-test-migrate-1')
      const annotation = await kubectl(['get', 'namespace', fresh, '-o', 'jsonpath={.metadata.annotations.skycap\\.dev/created-by}'])
      expect(annotation.stdout).to.equal('deploy')
      const dry = await own.json(['down', 'test', '--dry-run'])
      expect(dry.exitCode, dry.stderr).to.equal(0)
      expect(dry.doc.result.result).to.equal('planned')
      expect(dry.doc.result.names).to.include('Job/itdown-test-migrate-1')
      expect((await kubectl(['get', 'deployment', 'side', '-o', 'name'], {namespace: fresh})).stdout.trim()).to.equal('deployment.apps/side')
      // Off a terminal, without --yes: exit 2, nothing changed.
      const refused = await own.cli(['down', 'test'])
      expect(refused.exitCode).to.equal(2)
      expect(refused.stderr).to.contain('--yes')
      const r = await own.cli(['down', 'test', '--yes'])
      expect(r.exitCode, r.stderr).to.equal(0)
      expect(r.stdout, r.stderr).to.match(
        /^itdown test: deleted \d+ objects \(.*Deployment.*, 1 Job.*\), 1 release record and the rollout state in namespace \S+ \(context [^)]+\); namespace deleted\n?$/,
      )
      await waitFor('the namespace gone', async () => (await kubectl(['get', 'namespace', fresh], {reject: false})).exitCode !== 0, {timeoutMs: 120_000})
      // Nothing deployed, as before a first deploy.
      for (const command of ['history', 'status']) {
        const r = await own.json([command, 'test'])
        expect(r.doc.ok ? (r.doc.result.releases ?? []).length + (r.doc.result.lastRelease ? 1 : 0) : r.doc.error.code, `${command}: ${r.stdout}`).to.be.oneOf([0, 'namespace_not_found'])
      }
      const nothing = await own.cli(['down', 'test', '--yes'])
      expect(nothing.exitCode, nothing.stderr).to.equal(0)
      expect(nothing.stdout).to.contain('nothing deployed')
      const again = await own.json([...DEPLOY, 'test'])
      expect(again.exitCode, again.stderr).to.equal(0)
      expect(again.doc.result.release).to.equal(1)
    } finally {
      own.remove()
      await kubectl(['delete', 'namespace', fresh, '--wait=false', '--ignore-not-found'], {reject: false})
    }
  })

  it("a CI service account with docs/rbac.md's deployer Role, in an environment holding a LimitRange it may not delete: refused before anything is deleted (it deleted the Deployments, then failed); an admin's down then takes it all", async () => {
    app.repo.write('deploy/limits.yaml', 'apiVersion: v1\nkind: LimitRange\nmetadata: {name: defaults}\nspec:\n  limits: [{type: Container, defaultRequest: {cpu: 10m}}]\n')
    await app.repo.commit('a LimitRange')
    const deployed = await app.cli([...DEPLOY, 'test'])
    expect(deployed.exitCode, deployed.stderr).to.equal(0)
    const dir = mkdtempSync(join(tmpdir(), 'skycap-down-role-'))
    try {
      const env = {KUBECONFIG: (await asDeployer(ns.name, 'ci', dir)).kubeconfig}
      await waitFor('the role binding to take effect', async () => (await app.cli(['lock', 'status', 'test'], {env})).exitCode === 0)
      const mine = async () => versions((await items(ns.name)).filter((i) => ofApp(i, 'itdown')))
      const before = await mine()
      expect(Object.keys(before)).to.include.members(['Deployment/side', 'Service/web'])
      const refused = await app.json(['down', 'test', '--yes'], {env})
      expect(refused.exitCode, refused.stderr).to.equal(1)
      expect(refused.doc.error.message).to.match(/^down of test refused before anything was deleted: the API server would not delete its objects: .*limitranges "defaults" is forbidden/)
      expect(refused.doc.error.hint).to.contain('nothing was changed')
      expect(await mine(), 'every object, record and state as it was; the lock released').to.deep.equal(before)
      expect((await kubectl(['get', 'limitrange', 'defaults', '-o', 'name'], {namespace: ns.name})).stdout.trim()).to.equal('limitrange/defaults')
      const down = await app.json(['down', 'test', '--yes'])
      expect(down.exitCode, down.stderr).to.equal(0)
      expect(down.doc.result.names).to.include('LimitRange/defaults')
      expect((await items(ns.name)).filter((i) => ofApp(i, 'itdown'))).to.deep.equal([])
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('takes the deploy lock: exit 3 while another holds it, and with --wait-for-lock it waits for it', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    expect((await app.cli(['lock', 'acquire', 'test', '--reason', 'a deploy'])).exitCode).to.equal(0)
    const locked = await app.cli(['down', 'test', '--yes'])
    expect(locked.exitCode, locked.stderr).to.equal(3)
    expect((await app.get(['deployment', 'side'])).metadata.name).to.equal('side')
    // A Ctrl-C while it waits for the lock: exit 130, nothing deleted.
    const child = execa('node', [cliPath, 'down', 'test', '--yes', '--wait-for-lock', '60s'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', SKYCAP_ENV: ''}})
    let err = ''
    child.stderr?.on('data', (d) => (err += d))
    await waitFor('down waiting for the lock', () => err.includes('waiting for it'), {timeoutMs: 60_000, intervalMs: 20})
    child.kill('SIGINT')
    const stopped = await child
    expect(stopped.exitCode, err).to.equal(130)
    expect(err).to.contain('stopped waiting for the lock of test')
    expect(err).to.contain('nothing was changed')
    expect((await app.get(['deployment', 'side'])).metadata.name).to.equal('side')
    const waiting = app.cli(['down', 'test', '--yes', '--wait-for-lock', '60s'])
    await new Promise((resolve) => setTimeout(resolve, 3000))
    expect((await app.cli(['lock', 'release', 'test'])).exitCode).to.equal(0)
    const r = await waiting
    expect(r.exitCode, r.stderr).to.equal(0)
    await waitFor('the app gone', async () => (await kubectl(['get', 'deployments.apps', '-l', 'app.kubernetes.io/part-of=itdown', '-o', 'name'], {namespace: ns.name})).stdout.trim() === '')
  })

  it('waits with --wait-for-lock while a deploy holds the lock, then takes down what that deploy left', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    // A release whose web never gets ready: the deploy holds the lock until its timeout and rollback.
    await app.change(NOT_READY, 'web never ready')
    const deploying = app.cli([...DEPLOY, 'test', '--timeout', '15s'])
    await waitFor('the deploy holding the lock', async () => (await kubectl(['get', 'lease', 'skycap-lock-itdown', '-o', 'name'], {namespace: ns.name, reject: false})).exitCode === 0)
    const refused = await app.cli(['down', 'test', '--yes'])
    expect(refused.exitCode, refused.stderr).to.equal(3)
    const r = await app.json(['down', 'test', '--yes', '--wait-for-lock', '3m'])
    expect(r.exitCode, r.stderr).to.equal(0)
    expect((await deploying).exitCode).to.not.equal(0)
    expect(r.doc.result.result).to.equal('deleted')
    expect(r.doc.result.releaseRecords).to.equal(3)
    await waitFor('the app gone', async () => (await kubectl(['get', `${KINDS},pods`, '-l', 'app.kubernetes.io/part-of=itdown', '-o', 'name'], {namespace: ns.name})).stdout.trim() === '')
    expect((await kubectl(['get', 'configmaps', '-l', 'skycap.dev/release-of=itdown', '-o', 'name'], {namespace: ns.name})).stdout.trim()).to.equal('')
  })
})
