import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {expect} from 'chai'
import {execa} from 'execa'

import {Kubectl} from '../../src/kubectl/kubectl.js'
import {runCli, TempRepo} from '../helpers/repo.js'
import {testCluster, useNamespace} from './harness.js'

// An environment without `context:` runs on the kubeconfig's current context. skycap reads it from the kubeconfig's
// files where it can be sure of kubectl's answer (src/kubectl/kubeconfig.ts), and asks kubectl otherwise; both must
// give what `kubectl config current-context` prints.
describe('the current context of an environment without context: (kubeconfig read by skycap, checked against kubectl)', function () {
  const ns = useNamespace('kubeconfig')
  let repo: TempRepo
  let dir: string

  beforeEach(async () => {
    repo = await TempRepo.clusterApp(testCluster().context, ns.name, 'cluster-app', {}, 'itkube')
    // The test environment names no context.
    repo.write('skycap.yaml', readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8').replace(`context: ${testCluster().context}\n    namespace`, 'namespace'))
    await repo.commit('no context')
    dir = repo.dir
  })
  afterEach(() => repo?.remove())

  /** Kubeconfig files made from the test cluster's own: as kubectl writes it, quoted, as JSON, and after one without a current context. */
  async function variants(): Promise<Record<string, string>> {
    const {kubeconfig, context} = testCluster()
    const text = readFileSync(kubeconfig, 'utf8')
    expect(text).to.match(new RegExp(`^current-context: ${context}$`, 'm'))
    const write = (name: string, content: string) => {
      const path = join(dir, `kubeconfig-${name}`)
      writeFileSync(path, content)
      return path
    }
    const json = (await execa('kubectl', ['config', 'view', '--raw', '-o', 'json'], {env: {KUBECONFIG: kubeconfig}})).stdout
    const unset = write('unset', text.replace(/^current-context: .*$/m, 'current-context: ""'))
    const nulled = write('null', text.replace(/^current-context: .*$/m, 'current-context: null'))
    return {
      plain: kubeconfig,
      quoted: write('quoted', text.replace(/^current-context: .*$/m, `current-context: "${context}"`)),
      json: write('json', json),
      'after an unset one': `${unset}:${kubeconfig}`,
      // kubectl takes a null as unset and goes on to the next file (skycap read the context "null").
      'after a null one': `${nulled}:${kubeconfig}`,
      // kubectl reads the first of two YAML documents.
      'two documents': write('documents', `${text}---\n${text.replace(/^current-context: .*$/m, 'current-context: other')}`),
    }
  }

  it('is what kubectl says, for each way a kubeconfig can be written, with a kubectl process only where skycap cannot be sure', async () => {
    const saved = process.env.KUBECONFIG
    try {
      for (const [name, path] of Object.entries(await variants())) {
        const expected = (await execa('kubectl', ['config', 'current-context'], {env: {KUBECONFIG: path}})).stdout.trim()
        expect(expected, name).to.equal(testCluster().context)
        process.env.KUBECONFIG = path
        const kubectl = new Kubectl()
        expect(await kubectl.currentContext(), name).to.equal(expected)
        // JSON, a null and a second document are left to kubectl; the others are read without it.
        expect(kubectl.spawned, name).to.equal(['json', 'after a null one', 'two documents'].includes(name) ? 1 : 0)
      }
    } finally {
      process.env.KUBECONFIG = saved
    }
  })

  it('a current context no kubeconfig file defines, or a context whose cluster none defines: exit 2 from every command, saying which and what to do (deploy said exit 1 "see the kubectl message above", status to fix a context skycap.yaml does not name, and a missing cluster was "cannot reach … localhost:8080 … check your VPN")', async () => {
    const {kubeconfig, context} = testCluster()
    const text = readFileSync(kubeconfig, 'utf8')
    const oldCurrent = join(dir, 'kubeconfig-old-current')
    writeFileSync(oldCurrent, text.replace(/^current-context: .*$/m, 'current-context: old-cluster'))
    // The context names a cluster that only another file (not in KUBECONFIG) defined.
    const noCluster = join(dir, 'kubeconfig-no-cluster')
    writeFileSync(noCluster, text.replace(new RegExp(`^(\\s+cluster: )${context}$`, 'm'), '$1gone-cluster'))
    for (const args of [
      ['deploy', 'test', '--yes'],
      ['diff', 'test'],
      ['status', 'test'],
      ['history', 'test'],
      ['lock', 'status', 'test'],
      ['rollback', 'test', '--yes'],
      ['scale', 'web', '2', '-e', 'test'],
    ]) {
      const old = await runCli(args, {cwd: dir, env: {KUBECONFIG: oldCurrent}})
      expect(old.exitCode, `${args.join(' ')}: ${old.stderr}`).to.equal(2)
      expect(old.stderr, args.join(' ')).to.contain(
        `Error: the kubeconfig's current context "old-cluster" (current-context of ${oldCurrent}) is not defined in the kubeconfig file ${oldCurrent}; environment test names no context of its own; nothing was changed`,
      )
      expect(old.stderr, args.join(' ')).to.contain(`Make a known one current (\`kubectl config use-context ${context}\`; known: ${context}), or set environments.test.context in skycap.yaml.`)
      const missing = await runCli(args, {cwd: dir, env: {KUBECONFIG: noCluster}})
      expect(missing.exitCode, `${args.join(' ')}: ${missing.stderr}`).to.equal(2)
      expect(missing.stderr, args.join(' ')).to.contain(
        `Error: kube context "${context}" names cluster "gone-cluster", which no kubeconfig file defines (${noCluster}); kubectl fell back to localhost:8080`,
      )
      expect(missing.stderr, args.join(' ')).not.to.contain('VPN')
    }
  })

  it('skycap lock status and scale run on it with no `kubectl config current-context`, and with one for a JSON kubeconfig', async () => {
    const {json} = await variants()
    for (const [kubeconfig, asked] of [
      [testCluster().kubeconfig, false],
      [json as string, true],
    ] as const) {
      for (const args of [
        ['lock', 'status', 'test', '--verbose'],
        ['scale', 'worker', '1', '-e', 'test', '--verbose'],
      ]) {
        const r = await runCli(args, {cwd: dir, env: {KUBECONFIG: kubeconfig}})
        const what = `${args.join(' ')} (${asked ? 'JSON' : 'YAML'} kubeconfig)`
        // scale of a service that was never deployed is refused (exit 2) after it has looked in the cluster.
        expect(r.exitCode, `${what}: ${r.stderr}`).to.be.oneOf(args[0] === 'scale' ? [0, 2] : [0])
        expect(r.stderr, what).to.contain(`environment test names no kube context; using the current one: ${testCluster().context}`)
        const calls = r.stderr.split('\n').filter((l) => l.startsWith('$ '))
        expect(
          calls.some((c) => c.includes('config current-context')),
          what,
        ).to.equal(asked)
        // Every call to the cluster is pinned to that context.
        const toCluster = calls.filter((c) => !c.includes(' config '))
        expect(toCluster.length, what).to.be.greaterThan(0)
        for (const c of toCluster) expect(c, what).to.contain(`--context ${testCluster().context}`)
      }
    }
  })
})
