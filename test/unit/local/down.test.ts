// skycap down with a recorded state: it deletes what up made (a namespace carrying up's annotation, a cluster up
// created, with the exact commands) and keeps the rest. kind cannot run here: a fake runner records its argv.
import {expect} from 'chai'
import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {PRUNE_RESOURCES} from '../../../src/deploy/apply.js'
import type {ProcessRunner} from '../../../src/kubectl/kubectl.js'
import {down} from '../../../src/local/down.js'
import {claimStop, readState, stateFile, writeState, type UpState} from '../../../src/local/state.js'
import {toolRunner} from '../../../src/local/tool.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {type Expectation, fakeKubectlFactory} from '../../helpers/fake-kubectl.js'
import {TempRepo} from '../../helpers/repo.js'

describe('skycap down: only what up made', () => {
  let repo: TempRepo
  let cache: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.localApp()
    cache = new TempRepo()
  })
  afterEach(() => {
    repo.remove()
    cache.remove()
  })

  const IN_NS = ['--context', 'kind-skycap', '--namespace', 'localapp-local', '--request-timeout=30s']
  /** What down reads to tell whose objects are in the namespace. */
  const INSPECTED = 'configmaps,secrets,deployments.apps,statefulsets.apps,daemonsets.apps,services,jobs.batch,cronjobs.batch,pods'
  const skycapLabels = (app: string, env: string) => ({'app.kubernetes.io/part-of': app, 'app.kubernetes.io/managed-by': 'skycap', 'skycap.dev/environment': env})
  let made = 0
  const theirs = (labels: Record<string, string>) => ({kind: 'ConfigMap', metadata: {name: `o${made++}`, labels}})
  // What Kubernetes makes in a namespace: no reason to keep it.
  const ROOT_CA = {kind: 'ConfigMap', metadata: {name: 'kube-root-ca.crt'}}
  const MADE_BY_CONTROLLER = {kind: 'Pod', metadata: {name: 'db-0', labels: {app: 'db'}, ownerReferences: [{kind: 'StatefulSet', name: 'db'}]}}
  // The namespace up made, what is in it (`listed`: the gets down makes and their answers), then the app's deletes.
  const keptBeside = (listed: Expectation[]): Expectation[] => [
    {argv: ['--context', 'kind-skycap', '--request-timeout=30s', 'get', 'namespace', 'localapp-local', '--ignore-not-found', '-o', 'name'], result: {stdout: 'namespace/localapp-local\n'}},
    {
      argv: ['--context', 'kind-skycap', '--request-timeout=30s', 'get', 'namespace', 'localapp-local', '-o', 'json'],
      result: {stdout: JSON.stringify({metadata: {annotations: {'skycap.dev/created-by': 'up'}}})},
    },
    ...listed,
    {
      argv: [
        ...IN_NS,
        'delete',
        PRUNE_RESOURCES,
        '-l',
        'app.kubernetes.io/part-of=localapp,app.kubernetes.io/managed-by=skycap,skycap.dev/environment=local',
        '--ignore-not-found',
        '--wait=true',
        '--timeout=120s',
      ],
    },
    {argv: [...IN_NS, 'delete', 'configmaps,secrets', '-l', 'skycap.dev/release-of=localapp,skycap.dev/environment=local', '--ignore-not-found', '--wait=false']},
    {argv: [...IN_NS, 'delete', 'configmaps,secrets', '-l', 'skycap.dev/rollout-of=localapp,skycap.dev/environment=local', '--ignore-not-found', '--wait=false']},
  ]

  function record(state: Partial<UpState>): void {
    const configFile = join(realpathSync(repo.dir), 'skycap.yaml')
    const full: UpState = {version: 1, app: 'localapp', environment: 'local', configFile, context: 'kind-skycap', namespace: 'localapp-local', createdNamespace: true, forwards: [], ...state}
    writeState(stateFile(configFile, 'local', {XDG_CACHE_HOME: cache.dir}), full)
  }

  function tools() {
    const argvs: string[] = []
    const runner: ProcessRunner = async (file, args) => (argvs.push([file, ...args].join(' ')), {exitCode: 0, stdout: '', stderr: ''})
    return {tools: toolRunner({runner, installed: () => true}), argvs}
  }

  it("deletes the namespace up created (it carries the annotation), and the forwards' output files", async () => {
    const log = join(cache.dir, 'localapp-local-web.forward.log')
    writeFileSync(log, 'Forwarding from 127.0.0.1:18080 -> 8080\n')
    // A forward whose kubectl has ended already (no such process).
    record({forwards: [{service: 'web', port: 8080, localPort: 18080, pid: 2 ** 22 + 1, log}]})
    const fake = fakeKubectlFactory([
      {argv: ['--context', 'kind-skycap', '--request-timeout=30s', 'get', 'namespace', 'localapp-local', '--ignore-not-found', '-o', 'name'], result: {stdout: 'namespace/localapp-local\n'}},
      {
        argv: ['--context', 'kind-skycap', '--request-timeout=30s', 'get', 'namespace', 'localapp-local', '-o', 'json'],
        result: {stdout: JSON.stringify({metadata: {annotations: {'skycap.dev/created-by': 'up'}}})},
      },
      // Whose objects are there: only this app's (its records, its Deployment) and one made by hand.
      {
        argv: [...IN_NS, 'get', INSPECTED, '-o', 'json'],
        result: {
          stdout: JSON.stringify({items: [theirs({'skycap.dev/release-of': 'localapp', 'skycap.dev/environment': 'local'}), theirs(skycapLabels('localapp', 'local')), ROOT_CA, MADE_BY_CONTROLLER]}),
        },
      },
      {argv: ['--context', 'kind-skycap', '--request-timeout=30s', 'delete', 'namespace', 'localapp-local', '--wait=true', '--timeout=120s']},
    ])
    const t = tools()
    const report = await down({cwd: repo.dir, cluster: true}, {kubectl: fake.factory, tools: t.tools, reporter: memoryReporter(), env: {XDG_CACHE_HOME: cache.dir}})
    expect(report).to.include({deletedNamespace: 'localapp-local', deletedCluster: null})
    expect(report.kept).to.deep.equal(['cluster kind-skycap: skycap up found it, it did not create it'])
    expect(t.argvs, 'a cluster up found is never deleted').to.deep.equal([])
    expect(existsSync(log), 'the forward log is gone').to.equal(false)
    expect(fake.remaining()).to.equal(0)
  })

  it("another app's up deployed into the namespace this up created: only this app and environment's objects and records go, the namespace stays", async () => {
    record({})
    const fake = fakeKubectlFactory(
      keptBeside([
        {
          argv: [...IN_NS, 'get', INSPECTED, '-o', 'json'],
          result: {
            stdout: JSON.stringify({
              items: [
                theirs(skycapLabels('localapp', 'local')),
                theirs(skycapLabels('other', 'local')),
                theirs({'skycap.dev/release-of': 'other', 'skycap.dev/environment': 'local'}),
                theirs({'skycap.dev/release-of': 'localapp', 'skycap.dev/environment': 'dev'}),
              ],
            }),
          },
        },
      ]),
    )
    const reporter = memoryReporter()
    const report = await down({cwd: repo.dir}, {kubectl: fake.factory, tools: tools().tools, reporter, env: {XDG_CACHE_HOME: cache.dir}})
    expect(report.deletedNamespace).to.equal(null)
    expect(report.kept).to.deep.equal(['namespace localapp-local: app other (environment local), environment dev of this app run there too (delete it by hand once nothing needs it)'])
    expect(reporter.lines.join('\n')).to.contain("Deleting localapp local's objects and records in namespace localapp-local, which app other (environment local), environment dev of this app also use")
    expect(fake.remaining()).to.equal(0)
  })

  it("objects made by hand in the namespace this up created keep it: only this app and environment's objects and records go, and down names them (they went with the namespace unsaid)", async () => {
    const notes = {kind: 'ConfigMap', metadata: {name: 'team-notes'}}
    const items = (list: unknown[]) => ({stdout: JSON.stringify({items: [theirs(skycapLabels('localapp', 'local')), ROOT_CA, ...list]})})
    for (const [listed, named] of [
      [
        [{argv: [...IN_NS, 'get', INSPECTED, '-o', 'json'], result: items([MADE_BY_CONTROLLER, notes, {kind: 'Secret', type: 'Opaque', metadata: {name: 'beta-db'}}])}],
        'ConfigMap/team-notes, Secret/beta-db',
      ],
      // A user who may not list Secrets gets the kinds read before (down failed as a whole otherwise).
      [
        [
          {argv: [...IN_NS, 'get', INSPECTED, '-o', 'json'], result: {exitCode: 1, stderr: 'Error from server (Forbidden): secrets is forbidden: User "dev" cannot list resource "secrets"'}},
          {argv: [...IN_NS, 'get', 'configmaps,deployments.apps,statefulsets.apps,daemonsets.apps,services', '-o', 'json'], result: items([notes])},
        ],
        'ConfigMap/team-notes',
      ],
    ] as Array<[Expectation[], string]>) {
      record({})
      const fake = fakeKubectlFactory(keptBeside(listed))
      const reporter = memoryReporter()
      const report = await down({cwd: repo.dir}, {kubectl: fake.factory, tools: tools().tools, reporter, env: {XDG_CACHE_HOME: cache.dir}})
      expect(report).to.include({deletedNamespace: null, deletedObjectsIn: 'localapp-local'})
      expect(report.kept).to.deep.equal([`namespace localapp-local: it holds objects skycap did not deploy (${named}) (delete it by hand once nothing needs it)`])
      expect(reporter.lines.join('\n')).to.contain(`Deleting localapp local's objects and records in namespace localapp-local, which also holds objects skycap did not deploy (${named})`)
      expect(fake.remaining()).to.equal(0)
    }
  })

  it('an up that stopped before it created the namespace: down says it does not exist, and keeps nothing', async () => {
    const exists = (name: string) => ({argv: ['--context', 'kind-skycap', '--request-timeout=30s', 'get', 'namespace', 'localapp-local', '--ignore-not-found', '-o', 'name'], result: {stdout: name}})
    for (const [answer, kept, said] of [
      [
        'unreachable',
        ['namespace localapp-local: skycap up did not create it (the cluster did not answer, so whether it exists is not known)'],
        'Kept namespace localapp-local: skycap up did not create it',
      ],
      ['', [], 'Namespace localapp-local does not exist (skycap up did not get as far as creating it): nothing to delete'],
      ['namespace/localapp-local\n', ['namespace localapp-local: it existed before skycap up (`skycap status local` shows what runs there)'], 'Kept namespace localapp-local: it existed before'],
    ] as Array<[string, string[], string]>) {
      record({createdNamespace: false})
      const fake = fakeKubectlFactory([
        answer === 'unreachable' ? {...exists(''), result: {exitCode: 1, stderr: 'The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?'}} : exists(answer),
        // A namespace that exists: whose objects are there (none of this app's).
        ...(answer.startsWith('namespace/') ? [{argv: [...IN_NS, 'get', INSPECTED, '-o', 'json'], result: {stdout: JSON.stringify({items: [ROOT_CA, theirs(skycapLabels('other', 'local'))]})}}] : []),
      ])
      const reporter = memoryReporter()
      const report = await down({cwd: repo.dir}, {kubectl: fake.factory, tools: tools().tools, reporter, env: {XDG_CACHE_HOME: cache.dir}})
      expect(report.deletedNamespace).to.equal(null)
      expect(report.kept).to.deep.equal(kept)
      expect(reporter.lines.join('\n')).to.contain(said)
      expect(fake.remaining()).to.equal(0)
      expect(readState(stateFile(join(realpathSync(repo.dir), 'skycap.yaml'), 'local', {XDG_CACHE_HOME: cache.dir})), 'the state is cleared').to.equal(undefined)
    }
  })

  it("a namespace that existed before up stays, but this app and environment's objects and records in it go (they kept running, and down said nothing deleted)", async () => {
    record({createdNamespace: false})
    const fake = fakeKubectlFactory(
      keptBeside([
        {
          argv: [...IN_NS, 'get', INSPECTED, '-o', 'json'],
          result: {
            stdout: JSON.stringify({
              items: [theirs(skycapLabels('localapp', 'local')), theirs({'skycap.dev/release-of': 'localapp', 'skycap.dev/environment': 'local'}), theirs(skycapLabels('other', 'local'))],
            }),
          },
        },
      ]).filter((e) => !e.argv.includes('json') || e.argv.includes(INSPECTED)),
    )
    const reporter = memoryReporter()
    const report = await down({cwd: repo.dir}, {kubectl: fake.factory, tools: tools().tools, reporter, env: {XDG_CACHE_HOME: cache.dir}})
    expect(report).to.include({deletedNamespace: null, deletedObjectsIn: 'localapp-local'})
    expect(report.kept).to.deep.equal(['namespace localapp-local: it existed before skycap up'])
    expect(reporter.lines.join('\n')).to.contain("Deleting localapp local's objects and records in namespace localapp-local, which existed before skycap up")
    expect(fake.remaining()).to.equal(0)
  })

  it('an up still starting (no state file yet, or one it writes as it stops): down stops it first, marks it stopped by down, then takes down what it recorded', async () => {
    const configFile = join(realpathSync(repo.dir), 'skycap.yaml')
    const file = stateFile(configFile, 'local', {XDG_CACHE_HOME: cache.dir})
    const full: UpState = {version: 1, app: 'localapp', environment: 'local', configFile, context: 'kind-skycap', namespace: 'localapp-local', createdNamespace: false, forwards: []}
    // A stand-in for an up between its start and its first state (an "up" argument, as /proc shows for skycap up): on
    // SIGTERM it writes what the real up writes as it ends, when told to, and what its mark then said.
    const upLike = (writes: boolean) => {
      const child = spawn(
        process.execPath,
        [
          '-e',
          `const fs = require('node:fs'); process.on('SIGTERM', () => { fs.writeFileSync(process.argv[1] + '.seen', fs.readFileSync(process.argv[1] + '.up-' + process.pid + '.down', 'utf8')); if (${writes}) fs.writeFileSync(process.argv[1], process.argv[2]); process.exit(130) }); setInterval(() => {}, 1000); process.send('ready')`,
          file,
          JSON.stringify(full),
          'up',
        ],
        {stdio: ['ignore', 'ignore', 'inherit', 'ipc']},
      )
      return new Promise<ChildProcess>((resolve) => child.once('message', () => resolve(child)))
    }
    mkdirSync(join(file, '..'), {recursive: true})
    for (const writes of [false, true]) {
      const child = await upLike(writes)
      writeFileSync(`${file}.up-${child.pid}`, '')
      // An ended up's mark is removed, not waited for.
      writeFileSync(`${file}.up-${2 ** 22 + 1}`, '')
      const ended = new Promise((resolve) => child.once('exit', resolve))
      const fake = fakeKubectlFactory(
        writes ? [{argv: ['--context', 'kind-skycap', '--request-timeout=30s', 'get', 'namespace', 'localapp-local', '--ignore-not-found', '-o', 'name'], result: {stdout: ''}}] : [],
      )
      const reporter = memoryReporter()
      const report = await down({cwd: repo.dir}, {kubectl: fake.factory, tools: tools().tools, reporter, env: {XDG_CACHE_HOME: cache.dir}})
      expect(await ended, 'the up was stopped (SIGTERM)').to.equal(130)
      expect(reporter.lines.join('\n')).to.contain(`Stopping the skycap up that is still bringing localapp local up (pid ${child.pid})`)
      expect(JSON.parse(readFileSync(`${file}.seen`, 'utf8')), 'its mark names the down that stopped it').to.deep.equal({stoppedBy: process.pid})
      expect(existsSync(`${file}.up-${2 ** 22 + 1}`), "an ended up's mark is cleared").to.equal(false)
      if (writes) {
        expect(report.context, 'the state it wrote as it stopped is what down acts on').to.equal('kind-skycap')
        expect(reporter.lines.join('\n')).to.contain('Namespace localapp-local does not exist (skycap up did not get as far as creating it)')
      } else {
        expect(report.context).to.equal(null)
        expect(reporter.lines.join('\n')).to.contain('The skycap up of localapp local stopped before it had chosen a cluster: nothing to take down')
      }
      expect(fake.remaining()).to.equal(0)
      expect(readState(file), 'the state is cleared').to.equal(undefined)
      rmSync(`${file}.up-${child.pid}`, {force: true})
    }
  })

  it('two downs at once: the second does not signal the up again (a second SIGTERM is a second Ctrl-C: the up quit at once, leaving the namespace it had just created unrecorded); it waits for it', async () => {
    const configFile = join(realpathSync(repo.dir), 'skycap.yaml')
    const file = stateFile(configFile, 'local', {XDG_CACHE_HOME: cache.dir})
    mkdirSync(join(file, '..'), {recursive: true})
    // An up that counts the SIGTERMs it gets, and ends 300 ms after the first.
    const child = spawn(
      process.execPath,
      [
        '-e',
        "let n = 0; process.on('SIGTERM', () => { n++; require('node:fs').writeFileSync(process.argv[1], String(n)); if (n === 1) setTimeout(() => process.exit(130), 300) }); setInterval(() => {}, 1000); process.send('ready')",
        `${file}.count`,
        'up',
      ],
      {stdio: ['ignore', 'ignore', 'inherit', 'ipc']},
    )
    await new Promise((resolve) => child.once('message', resolve))
    const ended = new Promise((resolve) => child.once('exit', resolve))
    writeFileSync(`${file}.up-${child.pid}`, '')
    // The other down (a live process: this test's parent) has claimed the stop; it signals the up itself.
    writeFileSync(`${file}.up-${child.pid}.down`, JSON.stringify({stoppedBy: process.ppid}))
    setTimeout(() => child.kill('SIGTERM'), 200)
    const reporter = memoryReporter()
    await down({cwd: repo.dir}, {kubectl: fakeKubectlFactory([]).factory, tools: tools().tools, reporter, env: {XDG_CACHE_HOME: cache.dir}})
    await ended
    expect(readFileSync(`${file}.count`, 'utf8'), 'one SIGTERM, from the other down').to.equal('1')
    expect(reporter.lines.join('\n')).to.contain(`Another skycap down is stopping the skycap up that is still bringing localapp local up (pid ${child.pid}); waiting for it to end`)
    // The claim of a down that has ended is taken over: this down signals.
    // No mark: an up that has ended is not signalled; a live one (attached, from a skycap before marks) is.
    expect(claimStop(file, 2 ** 22 + 2), 'ended').to.equal(false)
    expect(claimStop(file, process.pid), 'alive, without a mark').to.equal(true)
    writeFileSync(`${file}.up-${process.pid}`, '')
    writeFileSync(`${file}.up-${process.pid}.down`, JSON.stringify({stoppedBy: 2 ** 22 + 1}))
    expect(claimStop(file, process.pid)).to.equal(true)
    expect(JSON.parse(readFileSync(`${file}.up-${process.pid}.down`, 'utf8'))).to.deep.equal({stoppedBy: process.pid})
    rmSync(`${file}.up-${process.pid}`)
    rmSync(`${file}.up-${process.pid}.down`)
  })

  it('keeps a namespace without the annotation, even when the state says up created it', async () => {
    record({})
    const fake = fakeKubectlFactory([
      {argv: ['--context', 'kind-skycap', '--request-timeout=30s', 'get', 'namespace', 'localapp-local', '--ignore-not-found', '-o', 'name'], result: {stdout: 'namespace/localapp-local\n'}},
      {argv: ['--context', 'kind-skycap', '--request-timeout=30s', 'get', 'namespace', 'localapp-local', '-o', 'json'], result: {stdout: JSON.stringify({metadata: {}})}},
    ])
    const report = await down({cwd: repo.dir}, {kubectl: fake.factory, tools: tools().tools, reporter: memoryReporter(), env: {XDG_CACHE_HOME: cache.dir}})
    expect(report.deletedNamespace).to.equal(null)
    expect(report.kept).to.deep.equal(['namespace localapp-local: it does not carry skycap.dev/created-by=up'])
    // The state is gone: a second down has nothing to do.
    const again = await down({cwd: repo.dir}, {kubectl: fakeKubectlFactory([]).factory, tools: tools().tools, reporter: memoryReporter(), env: {XDG_CACHE_HOME: cache.dir}})
    expect(again).to.include({context: null, deletedNamespace: null})
  })

  it('--cluster deletes the kind cluster up created and the registry container it started: the exact commands', async () => {
    record({createdCluster: {tool: 'kind', name: 'skycap', context: 'kind-skycap', writeHosting: true, registryContainer: 'skycap-registry'}})
    const t = tools()
    const report = await down({cwd: repo.dir, cluster: true}, {kubectl: fakeKubectlFactory([]).factory, tools: t.tools, reporter: memoryReporter(), env: {XDG_CACHE_HOME: cache.dir}})
    expect(t.argvs).to.deep.equal(['kind delete cluster --name skycap', 'docker rm --force skycap-registry'])
    expect(report.deletedCluster).to.equal('kind-skycap')
  })
})
