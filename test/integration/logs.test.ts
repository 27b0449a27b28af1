import {expect} from 'chai'
import {execa} from 'execa'

import {mkdtempSync, rmSync} from 'node:fs'
import {appendFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {cliPath} from '../helpers/repo.js'
import {TestApp} from './app.js'
import {appendLog, criLine, kubeconfigAs, kubectl, podLogFiles, useNamespace, waitFor} from './harness.js'

const LINES = ['starting web', 'GET /healthz 200', 'DEBUG cache warm', 'GET /cart 200', 'ERROR payment failed']

describe('skycap logs (real cluster, pod logs from files)', function () {
  const ns = useNamespace('logs')
  let app: TestApp
  let files: {current: string; previous: string}
  let pods: string[]

  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'itlogs')
    files = await podLogFiles(ns.name)
    await appendLog(files.current, LINES)
    await appendLog(files.previous, ['panic: out of memory'])
    const r = await app.cli(['deploy', '--skip-image-check', 'test'])
    expect(r.exitCode, r.stderr).to.equal(0)
    pods = (await app.get(['pods', '-l', 'app.kubernetes.io/name=web'])).items.map((p: any) => p.metadata.name).sort()
    expect(pods).to.have.length(2)
    // kwok picks up the ClusterLogs object asynchronously.
    await waitFor('kwok to serve the log file', async () => (await kubectl(['logs', pods[0] as string], {namespace: ns.name, reject: false})).stdout.includes('starting web'), {timeoutMs: 30_000})
  })
  afterEach(() => app.remove())

  it('shows the lines of every pod, prefixed, with the configured noise hidden and counted', async () => {
    const r = await app.cli(['logs', 'web'])
    expect(r.exitCode, r.stderr).to.equal(0)
    for (const pod of pods) {
      expect(r.stdout).to.contain(`${pod} │ starting web`)
      expect(r.stdout).to.contain(`${pod} │ ERROR payment failed`)
    }
    expect(r.stdout).to.not.contain('GET /healthz')
    expect(r.stdout).to.not.contain('DEBUG cache warm')
    expect(r.stdout.trim().split('\n')).to.have.length(6)
    expect(r.stderr).to.contain("4 lines hidden by skycap.yaml's logs.exclude (--no-filters shows them)")
    expect(r.stdout).to.not.match(/\u001B\[/)
  })

  it('--no-filters, --grep and --exclude', async () => {
    const all = await app.cli(['logs', 'web', '--no-filters'])
    expect(all.stdout.trim().split('\n')).to.have.length(10)
    const grep = await app.cli(['logs', 'web', '--grep', 'ERROR|cart'])
    expect(
      grep.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' │ ')[1])
        .sort(),
    ).to.deep.equal(['ERROR payment failed', 'ERROR payment failed', 'GET /cart 200', 'GET /cart 200'])
    const exclude = await app.cli(['logs', 'web', '--exclude', '^ERROR'])
    expect(exclude.stdout).to.not.contain('ERROR')
    expect(exclude.stdout).to.contain('starting web')
  })

  it('--tail and --since', async () => {
    const tail = await app.cli(['logs', 'web', '--tail', '1', '--no-filters'])
    expect(
      tail.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' │ ')[1]),
    ).to.deep.equal(['ERROR payment failed', 'ERROR payment failed'])
    await appendFile(files.current, criLine('old line', 'stdout', new Date(Date.now() - 3_600_000)))
    await appendFile(files.current, criLine('fresh line'))
    const since = await app.cli(['logs', 'web', '--since', '1m', '--no-filters'])
    expect(since.stdout).to.contain('fresh line')
    expect(since.stdout).to.not.contain('old line')
  })

  it('--json prints one object per line', async () => {
    const r = await app.cli(['logs', 'web', '--json'])
    expect(r.exitCode).to.equal(0)
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines).to.have.length(6)
    expect(lines[0]).to.have.all.keys('service', 'pod', 'container', 'timestamp', 'message')
    expect(lines[0]).to.include({service: 'web', container: 'web'})
    expect(lines[0].timestamp).to.match(/^\d{4}-\d\d-\d\dT/)
  })

  it('--previous shows the crashed container', async () => {
    const r = await app.cli(['logs', 'web', '--previous'])
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.stdout).to.contain(`${pods[0]} │ panic: out of memory`)
  })

  it('-f follows appended lines and picks up a pod that appears later', async () => {
    const child = execa('node', [cliPath, 'logs', 'web', '-f', '--no-filters'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1'}})
    let out = ''
    child.stdout?.on('data', (d) => (out += d))
    await waitFor('both pods streaming', () => pods.every((p) => out.includes(`${p} │ starting web`)), {timeoutMs: 30_000})
    await appendLog(files.current, ['live line'])
    await waitFor('the appended line', () => pods.every((p) => out.includes(`${p} │ live line`)), {timeoutMs: 30_000})
    await kubectl(['scale', 'deployment/web', '--replicas=3'], {namespace: ns.name})
    const newPod = await waitFor('a third pod', async () => {
      const names = (await app.get(['pods', '-l', 'app.kubernetes.io/name=web'])).items.map((p: any) => p.metadata.name)
      return names.find((n: string) => !pods.includes(n))
    })
    await waitFor('the new pod in the stream', () => out.includes(`${newPod} │ live line`), {timeoutMs: 30_000})
    // No line is shown twice for a pod.
    for (const p of pods) expect(out.split('\n').filter((l) => l === `${p} │ live line`)).to.have.length(1)
    child.kill('SIGINT')
    const r = await child
    expect(r.exitCode).to.equal(0)
  })

  it('-f drops a deleted pod, keeps the filters on, and says on Ctrl-C how many lines it hid', async () => {
    // --verbose prints each poll's `kubectl get pods` as it starts, so the test knows when a poll has seen the deletion.
    const child = execa('node', [cliPath, 'logs', 'web', '-f', '--verbose'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1'}})
    let out = ''
    let err = ''
    child.stdout?.on('data', (d) => (out += d))
    child.stderr?.on('data', (d) => (err += d))
    const polls = () => err.split('\n').filter((l) => / get pods -l /.test(l)).length
    await waitFor('both pods streaming', () => pods.every((p) => out.includes(`${p} │ starting web`)), {timeoutMs: 30_000})
    await kubectl(['scale', 'deployment/web', '--replicas=1'], {namespace: ns.name})
    const gone = await waitFor('a pod to be deleted', async () => {
      const names = (await app.get(['pods', '-l', 'app.kubernetes.io/name=web'])).items.map((p: any) => p.metadata.name)
      return names.length === 1 ? pods.find((p) => !names.includes(p)) : undefined
    })
    const kept = pods.find((p) => p !== gone) as string
    // The follower stops a pod's stream when a poll no longer lists it. The next poll to start began after the deletion;
    // the one after it starts only once that one has finished: then write, and only the pod that is left may show it.
    const seen = polls()
    await waitFor('a poll that started after the deletion to finish', () => polls() >= seen + 2, {timeoutMs: 30_000, intervalMs: 200})
    await new Promise((r) => setTimeout(r, 500))
    await appendLog(files.current, ['after the scale-down', 'GET /healthz 200'])
    await waitFor('the line from the remaining pod', () => out.includes(`${kept} │ after the scale-down`), {timeoutMs: 30_000})
    await new Promise((r) => setTimeout(r, 1000))
    expect(out).to.not.contain(`${gone} │ after the scale-down`)
    expect(out).to.not.contain('GET /healthz')
    child.kill('SIGINT')
    const r = await child
    expect(r.exitCode, err).to.equal(0)
    expect(err).to.contain('Received SIGINT: stopping (again to force quit)')
    expect(err).to.not.contain('lock')
    expect(err).to.match(/\d+ lines hidden by skycap.yaml's logs.exclude \(--no-filters shows them\)/)
  })

  it('--all shows every service; --container picks one; --max-log-requests caps the streams', async () => {
    const all = await app.cli(['logs', '--all', '--no-filters'])
    expect(all.exitCode, all.stderr).to.equal(0)
    const workers = (await app.get(['pods', '-l', 'app.kubernetes.io/name=worker'])).items.map((p: any) => p.metadata.name)
    for (const pod of [...pods, ...workers]) expect(all.stdout).to.contain(`${pod} │ starting web`)
    const container = await app.cli(['logs', 'web', '--container', 'web'])
    expect(container.exitCode, container.stderr).to.equal(0)
    expect(container.stdout).to.contain(`${pods[0]} web │ starting web`)
    const none = await app.cli(['logs', 'web', '--container', 'sidecar'])
    expect(none.exitCode).to.equal(2)
    expect(none.stderr).to.contain('no pod of web has a container "sidecar"')
    const capped = await app.cli(['logs', 'web', '--max-log-requests', '1'])
    expect(capped.exitCode).to.equal(2)
    expect(capped.stderr).to.contain('2 log streams needed (2 of web), more than --max-log-requests 1')
    // Following past the cap: the warning says which services' streams are not followed (it named none).
    const child = execa('node', [cliPath, 'logs', '--all', '-f', '--no-filters', '--max-log-requests', '1'], {cwd: app.repo.dir, reject: false, timeout: 60_000, env: {NO_COLOR: '1'}})
    let err = ''
    child.stderr?.on('data', (d) => (err += d))
    await waitFor('the cap warning', () => err.includes('not following'), {timeoutMs: 30_000})
    child.kill('SIGINT')
    await child
    const total = pods.length + workers.length
    const [, listed] = /more than 1 log streams; not following (.*) \(name fewer services, narrow with --container, or raise --max-log-requests\)/.exec(err) ?? []
    const counts = (listed ?? '').split(', ').map((x) => /^(\d+) of (web|worker)$/.exec(x))
    expect(counts.every(Boolean), err).to.equal(true)
    expect(
      counts.reduce((n, m) => n + Number(m?.[1]), 0),
      err,
    ).to.equal(total - 1)
    // Streams go to the services in turn: with room for two, web's second pod is left, not worker (web's two pods took
    // both, and worker went unfollowed).
    const fair = execa('node', [cliPath, 'logs', '--all', '-f', '--no-filters', '--max-log-requests', String(total - 1)], {cwd: app.repo.dir, reject: false, timeout: 60_000, env: {NO_COLOR: '1'}})
    let fairErr = ''
    let fairOut = ''
    fair.stderr?.on('data', (d) => (fairErr += d))
    fair.stdout?.on('data', (d) => (fairOut += d))
    await waitFor('the cap warning and a worker line', () => fairErr.includes('not following') && workers.some((w: string) => fairOut.includes(`${w} │`)), {timeoutMs: 30_000})
    fair.kill('SIGINT')
    await fair
    expect(fairErr).to.contain(`more than ${total - 1} log streams; not following 1 of web (`)
  })

  it('ends cleanly when the reader of a pipe goes away (| head)', async () => {
    // As with `tail -f | head`, a follower learns that the reader left at its next write: head may exit after all
    // lines already written, so a line appended afterwards is what makes skycap notice (and it must then stop).
    const child = execa('bash', ['-c', `node ${cliPath} logs web -f --no-filters | head -2`], {cwd: app.repo.dir, reject: false, timeout: 60_000, env: {NO_COLOR: '1'}})
    let out = ''
    child.stdout?.on('data', (d) => (out += d))
    await waitFor('head to print its two lines', () => out.split('\n').filter(Boolean).length === 2, {timeoutMs: 30_000})
    await new Promise((r) => setTimeout(r, 500))
    await appendLog(files.current, ['a line after head left'])
    const r = await child
    expect(r.timedOut, 'skycap logs stopped after the reader left').to.equal(false)
    expect(r.stdout.split('\n')).to.have.length(2)
    expect(r.stderr).to.not.contain('EPIPE')
  })

  it('exits 2 for an unknown service, naming the known ones', async () => {
    const r = await app.cli(['logs', 'api'])
    expect(r.exitCode).to.equal(2)
    expect(r.stderr).to.contain('unknown service "api"')
    expect(r.stderr).to.contain('web, worker')
  })

  it('says so when the service has no pods (exit 1)', async () => {
    const scaled = await app.cli(['scale', 'web', '0'])
    expect(scaled.exitCode, scaled.stderr).to.equal(0)
    const r = await app.cli(['logs', 'web'])
    expect(r.exitCode).to.equal(1)
    // Scaled to 0, not undeployed: said so, with the command that scales it up (it asked "Not deployed, or scaled to 0?").
    expect(r.stderr).to.match(/no pods of web in test \(namespace [^)]+\): web is scaled to 0/)
    expect(r.stderr).to.contain('Scale it up first: skycap scale web 1 -e test.')
    // Named beside a service that has pods: the others' lines, and a warning for it (it said nothing, exit 0).
    const both = await app.cli(['logs', 'worker', 'web', '--tail', '5', '--no-filters'])
    expect(both.exitCode, both.stderr).to.equal(0)
    expect(both.stderr).to.match(/warning: no pods of web in test: web is scaled to 0/)
    expect(both.stdout).to.match(/^worker-/m)
    // With -f too: beside the others, and alone (it said only "waiting for some", and beside the others nothing).
    for (const [services, said] of [
      [['worker', 'web'], /warning: no pods of web in test: web is scaled to 0; following the others, and those once they start/],
      [['web'], /no pods of web yet \(web is scaled to 0\); waiting for some \(Ctrl-C to stop\)/],
    ] as const) {
      const child = execa('node', [cliPath, 'logs', ...services, '-f', '--no-filters'], {cwd: app.repo.dir, reject: false, timeout: 60_000, env: {NO_COLOR: '1'}})
      let err = ''
      child.stderr?.on('data', (d) => (err += d))
      await waitFor(`logs ${services.join(' ')} -f to say why web has no pods`, () => said.test(err), {timeoutMs: 30_000})
      child.kill('SIGINT')
      expect((await child).exitCode, err).to.equal(0)
    }
  })

  it('explains RBAC denials: no right to list pods, then no right to read their logs (exit 1)', async () => {
    // A kubeconfig whose context (the one skycap.yaml pins) authenticates as a service account with no rights.
    await kubectl(['create', 'serviceaccount', 'nobody'], {namespace: ns.name})
    const dir = mkdtempSync(join(tmpdir(), 'skycap-rbac-'))
    try {
      const env = {KUBECONFIG: await kubeconfigAs(ns.name, 'nobody', dir)}

      const noList = await app.cli(['logs', 'web'], {env})
      expect(noList.exitCode, noList.stderr).to.equal(1)
      expect(noList.stderr).to.match(/forbidden/i)
      expect(noList.stderr).to.contain('system:serviceaccount:')
      expect(noList.stderr).to.contain('RBAC')

      await kubectl(['create', 'role', 'pod-reader', '--verb=get,list,watch', '--resource=pods'], {namespace: ns.name})
      await kubectl(['create', 'rolebinding', 'nobody-reads-pods', '--role=pod-reader', `--serviceaccount=${ns.name}:nobody`], {namespace: ns.name})
      const noLogs = await waitFor('the role binding to take effect', async () => {
        const r = await app.cli(['logs', 'web'], {env})
        return r.stderr.includes('cannot list') ? undefined : r
      })
      expect(noLogs.exitCode, noLogs.stderr).to.equal(1)
      expect(noLogs.stderr).to.match(/reading logs of web-[a-z0-9-]+ is forbidden/)
      expect(noLogs.stderr).to.contain('pods/log')
      expect(noLogs.stdout).to.equal('')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
