// Hooks, run, exec and port-forward through the built CLI, against the test app in real containers (test/app: its
// one-off commands `app say|exit|write|whoami|console` stand in for migrations and consoles; the image has no shell).
import {expect} from 'chai'
import {execa} from 'execa'
import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Readable} from 'node:stream'

import {cliPath} from '../helpers/repo.js'
import {TestApp} from './app.js'
import {captureOutput, httpGet, kubectl, realNode, serviceAnswers, tagTestAppImage, useNamespace, waitFor} from './harness.js'

/** A host folder every pod of the real node mounts at /data (hostPath): what a hook writes there, the app reads. */
const WITH_DATA = (dir: string) => (text: string) =>
  text
    .replace(
      'spec: {dnsPolicy: Default, automountServiceAccountToken: false}',
      `spec: {dnsPolicy: Default, automountServiceAccountToken: false, volumes: [{name: data, hostPath: {path: ${dir}, type: Directory}}], containers: [{name: web, volumeMounts: [{name: data, mountPath: /data}]}]}`,
    )
    .replace('env: {APP_VERSION: v1}', 'env: {APP_VERSION: v1, APP_DATA_FILE: /data/schema}')
const HOOKS = (yaml: string) => (text: string) => text.replace('\nenvironments:', `\nhooks:\n${yaml}\nenvironments:`)
const VERSION = (v: string) => (text: string) => text.replace(/APP_VERSION: v1/, `APP_VERSION: ${v}`)

describe('real node: hooks, run, exec and port-forward', function () {
  const ns = useNamespace('hooks')
  let app: TestApp
  const dirs: string[] = []
  function realIt(title: string, test: () => Promise<void>) {
    it(title, async () => {
      app = await TestApp.createReal(ns.name, 'rltasks')
      try {
        await test()
      } finally {
        app.remove()
        for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
      }
    })
  }

  function hostDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'skycap-hooks-'))
    // The app runs as nobody (65534).
    chmodSync(dir, 0o777)
    dirs.push(dir)
    return dir
  }

  async function deploy(args: string[] = []) {
    await tagTestAppImage(await app.repo.git('rev-parse', 'HEAD'))
    return app.json(['deploy', 'test', ...args])
  }

  /**
   * Deploys v1, then v2 with `hooks` (whose command runs until stopped), and Ctrl-C's that deploy once the hook's pod
   * runs; the stopped deploy's result.
   */
  /** `during`: looked at while the hook runs, before the Ctrl-C. */
  async function ctrlCDuringHook(hooks: string, during?: () => Promise<void>, changeMore?: () => void) {
    expect((await deploy()).exitCode).to.equal(0)
    changeMore?.()
    await app.change((t) => HOOKS(hooks)(VERSION('v2')(t)), 'v2 with a hook that runs on')
    await tagTestAppImage(await app.repo.git('rev-parse', 'HEAD'))
    const running = execa('node', [cliPath, 'deploy', 'test'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', SKYCAP_ENV: ''}})
    const hookPods = async () => JSON.parse((await kubectl(['get', 'pods', '-l', 'skycap.dev/job-kind=hook', '-o', 'json'], {namespace: ns.name})).stdout).items as any[]
    await waitFor('the hook to run', async () => (await hookPods()).some((p) => p.status?.phase === 'Running'), {timeoutMs: 120_000})
    try {
      await during?.()
    } finally {
      running.kill('SIGINT')
    }
    return running
  }

  /** Deploys without --json: the progress and the hooks' output on stderr. */
  async function deployText(args: string[] = []) {
    await tagTestAppImage(await app.repo.git('rev-parse', 'HEAD'))
    return app.cli(['deploy', 'test', ...args])
  }

  async function webPods(namespace = ns.name): Promise<any[]> {
    return JSON.parse((await kubectl(['get', 'pods', '-l', 'app.kubernetes.io/name=web', '-o', 'json'], {namespace})).stdout).items.filter((p: any) => !p.metadata.deletionTimestamp)
  }

  async function serviceUrl(path = '/'): Promise<string> {
    const svc = await app.get(['service', 'web'])
    return `http://${svc.spec.clusterIP}:${svc.spec.ports[0].port}${path}`
  }

  realIt('a predeploy hook runs before the workloads, in the pod template, and the new pods see what it wrote', async () => {
    const dir = hostDir()
    await app.change((t) => HOOKS('  predeploy:\n    - {name: migrate, service: web, command: [/app, write, /data/schema, schema-1], timeout: 2m}')(WITH_DATA(dir)(t)), 'with a migration')
    const r = await deployText()
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.stderr).to.match(/Running predeploy hook migrate \(\/app write \/data\/schema schema-1\) as job rltasks-test-migrate-1/)
    expect(r.stderr).to.include('migrate │ wrote /data/schema: schema-1')
    // The app reads the file once, at start: it answers what the hook wrote only if the hook ran before it started.
    const [pod] = await webPods()
    expect(await httpGet(`http://${pod.status.podIP}:8080/data`)).to.deep.equal({status: 200, body: 'schema-1\n'})
    const h = await app.json(['history', 'test'])
    expect(h.doc.result.releases[0]).to.include({number: 1, result: 'succeeded'})
    expect(h.doc.result.releases[0].hooks).to.have.length(1)
    expect(h.doc.result.releases[0].hooks[0]).to.include({name: 'migrate', phase: 'predeploy', result: 'succeeded', exitCode: 0, job: 'rltasks-test-migrate-1'})
    const text = await app.cli(['history', 'test'])
    expect(text.stdout).to.match(/hooks: migrate succeeded \d+s/)
    // The hook's Job stays for its logs, and its pod never joined the Service.
    const job = await app.get(['job', 'rltasks-test-migrate-1'])
    expect(job.spec.template.metadata.labels).to.not.have.property('app.kubernetes.io/name')
    // A rolling deploy does not wait for the endpoints controller: its addresses are judged once it has any.
    const addresses = await waitFor('the endpoints of web', async () => (await app.get(['endpoints', 'web'])).subsets?.[0]?.addresses as any[] | undefined)
    expect(addresses.map((a: any) => a.targetRef.name)).to.deep.equal([pod.metadata.name])
  })

  realIt("a predeploy hook whose command is not in the image: --json's hint says it printed nothing, as the text does (it pointed at empty logs)", async () => {
    await app.change(HOOKS('  predeploy:\n    - {name: migrate, service: web, command: [/bin/migrate, up]}'), 'a hook the image lacks')
    const r = await deploy()
    expect(r.exitCode, r.stderr).to.equal(1)
    expect(r.doc.error.details.report.failures[0].logs).to.deep.equal([])
    expect(r.doc.error.hint, r.doc.error.hint).to.match(/^It printed nothing; `kubectl [^`]*describe job\/rltasks-test-migrate-1[^`]*` and its pod's events say why\. Fix the command or the code/)
  })

  realIt('a failing predeploy hook stops the deploy: the running release stays untouched and answering, its Secret put back', async () => {
    const secret = (password: string, extra = '') => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: dbpass\nstringData:\n  password: ${password}\n${extra}`
    app.repo.write('deploy/secret.yaml', secret('first'))
    await app.repo.commit('a fixed-name Secret')
    expect((await deploy()).exitCode).to.equal(0)
    const url = await serviceUrl()
    await serviceAnswers(url, /^version=v1 /)
    const before = (await webPods()).map((p) => p.metadata.name)
    // The failed release changes the Secret and adds a Role: applied before the hook, with the rest of its config.
    app.repo.write('deploy/secret.yaml', secret('second', '---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: reader\nrules: []\n'))
    await app.change((t) => HOOKS('  predeploy:\n    - {name: migrate, service: web, command: [/app, exit, "3", "migration failed: table locked"]}')(VERSION('v2')(t)), 'v2 with a failing migration')
    const r = await deployText()
    expect(r.exitCode, r.stderr).to.equal(1)
    expect(r.stderr).to.include('migrate │ migration failed: table locked')
    expect(r.stderr).to.match(/Error: predeploy hook migrate failed \(exited 3\); release 2 was not rolled out \(the running release is untouched\)/)
    // The Secret the running release reads is its own again (it kept the failed release's); the new Role is named.
    expect(r.stderr).to.include('; Secret/dbpass, applied before the hook, was put back as release 1 has it; Role/reader, new with release 2, stays until the next deploy prunes it')
    const password = (await app.get(['secret', 'dbpass'])).data.password
    expect(Buffer.from(password, 'base64').toString()).to.equal('first')
    expect(r.stderr).to.not.match(/Rolling back/)
    const deployment = await app.get(['deployment', 'web'])
    expect(deployment.spec.template.spec.containers[0].env).to.deep.include({name: 'APP_VERSION', value: 'v1'})
    expect((await webPods()).map((p) => p.metadata.name)).to.deep.equal(before)
    expect((await httpGet(url)).body).to.match(/^version=v1 /)
    const h = await app.json(['history', 'test'])
    expect(h.doc.result.releases[0]).to.include({number: 2, result: 'failed', failed: 'hook/migrate'})
    expect(h.doc.result.releases[0].hooks[0]).to.include({name: 'migrate', result: 'failed', exitCode: 3})
    // --json carries the hook's last lines.
    await app.change((t) => t.replace('"3"', '"4"'), 'exit 4')
    const j = await deploy()
    expect(j.exitCode).to.equal(1)
    expect(j.doc.error.details.report.failures[0].logs[0].lines).to.include('migration failed: table locked')
    expect(j.doc.error.details.report.hooks[0]).to.include({name: 'migrate', result: 'failed', exitCode: 4})
  })

  realIt('a rollback after a predeploy hook failed before anything rolled out changes and records nothing (it recorded a rollback that changed nothing)', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    await app.change((t) => HOOKS('  predeploy:\n    - {name: migrate, service: web, command: [/app, exit, "3", "migration failed"]}')(VERSION('v2')(t)), 'v2 with a failing migration')
    expect((await deploy()).exitCode).to.equal(1)
    for (const dry of [true, false]) {
      const back = await app.json(['rollback', 'test', ...(dry ? ['--dry-run'] : [])])
      expect(back.exitCode, back.stderr).to.equal(0)
      expect(back.doc.result, back.stderr).to.include({result: 'unchanged', release: null, runningRelease: 1})
      expect(back.stderr).to.contain('Release 1 of test is what runs (release 2, a deploy that failed, left it running)')
    }
    const history = (await app.json(['history', 'test'])).doc.result.releases
    expect(history.map((x: any) => `${x.number} ${x.result}`)).to.deep.equal(['2 failed', '1 succeeded'])
  })

  realIt(
    'a failing predeploy hook of a blue-green service leaves its rollout state as it was (it said the idle slot was coming up, and rollout resume then scaled a slot that never came to 0); twice',
    async () => {
      await app.change((t) => t.replace('  web:\n    image: app\n', '  web:\n    strategy: {type: blueGreen, scaleDownDelay: 1s}\n    image: app\n'), 'web blue-green')
      expect((await deploy()).exitCode).to.equal(0)
      const webState = async () => JSON.parse((await app.get(['configmap', 'skycap-rollout-rltasks'])).data.web)
      const settled = await webState()
      expect(settled).to.include({type: 'blueGreen', phase: 'completed', activeSlot: 'blue'})
      for (const round of ['3', '4']) {
        await app.change(
          (t) => HOOKS(`  predeploy:\n    - {name: migrate, service: web, command: [/app, exit, "${round}", "migration failed"]}`)(t.replace(/APP_VERSION: v\d/, `APP_VERSION: v${round}`)),
          `v${round}: a failing migration`,
        )
        const r = await deploy()
        expect(r.exitCode, JSON.stringify(r.doc)).to.equal(1)
        expect(r.doc.error.message).to.match(/^predeploy hook migrate failed \(exited \d\); release \d+ was not rolled out/)
        expect(await webState(), `round ${round}`).to.deep.equal(settled)
        const status = await app.cli(['rollout', 'status', 'test'])
        expect(status.stdout, status.stdout).to.not.contain('coming up')
        const resumed = await app.cli(['rollout', 'resume', 'test'])
        expect(resumed.stderr, resumed.stderr).to.not.contain('scaled to 0')
        expect(await webState()).to.deep.equal(settled)
        await app.change((t) => t.replace(/\nhooks:\n.*\n.*\n/, '\n'), 'no hook')
      }
    },
  )

  realIt('a failing postdeploy hook fails the deploy and rolls it back; --skip-hooks deploys without it, recorded', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    await app.change((t) => HOOKS('  postdeploy:\n    - {name: smoke, service: web, command: [/app, exit, "4", "smoke test failed"]}')(VERSION('v2')(t)), 'v2 with a failing smoke test')
    const r = await deploy()
    expect(r.exitCode, JSON.stringify(r.doc)).to.equal(1)
    // The hook failed: said so, with its exit code (it was listed as if it ran to its end).
    expect(r.doc.error.message).to.match(
      /release 2 of test failed: hook\/smoke: exited 4; rolled back to release 1 \(recorded as release 3\); hooks are not undone by a rollback: smoke \(release 2, failed with exit code 4: what it did before failing stays\)/,
    )
    expect(r.doc.error.details.report.rollback).to.include({to: 1, result: 'succeeded'})
    const url = await serviceUrl()
    await waitFor('v1 to answer alone', async () => (await webPods()).length === 1 && /^version=v1 /.test((await httpGet(url)).body))
    // A hook Job the API server refuses (a ResourceQuota that allows none) is a failed hook too: rolled back, recorded;
    // its command never ran, so the rollback names no hook it cannot undo.
    await kubectl(['create', 'quota', 'no-jobs', '--hard=count/jobs.batch=0'], {namespace: ns.name})
    await waitFor('the quota to be counted', async () => (await kubectl(['get', 'resourcequota', 'no-jobs', '-o', 'jsonpath={.status.hard}'], {namespace: ns.name})).stdout !== '')
    await app.change((t) => t.replace('APP_VERSION: v2', 'APP_VERSION: v3'), 'v3, its hook Job refused')
    const q = await deploy()
    expect(q.exitCode, JSON.stringify(q.doc)).to.equal(1)
    expect(q.doc.error.message, q.doc.error.message).to.match(
      /release 4 of test failed: hook\/smoke: the API server refused its Job: .*exceeded quota: no-jobs.*; rolled back to release 3 \(recorded as release 5\)$/,
    )
    expect(q.doc.error.details.report.rollback).to.include({to: 3, result: 'succeeded'})
    const refused = (await app.json(['history', 'test'])).doc.result.releases[1]
    expect(refused).to.include({number: 4, result: 'failed', failed: 'hook/smoke'})
    expect(refused.hooks[0]).to.include({name: 'smoke', result: 'failed', refused: true})
    await kubectl(['delete', 'resourcequota', 'no-jobs'], {namespace: ns.name})
    await waitFor('v1 to answer alone again', async () => (await webPods()).length === 1 && /^version=v1 /.test((await httpGet(url)).body))
    const s = await deploy(['--skip-hooks'])
    expect(s.exitCode, JSON.stringify(s.doc)).to.equal(0)
    const h = await app.json(['history', 'test'])
    expect(h.doc.result.releases[0]).to.include({number: 6, result: 'succeeded', skipHooks: true})
    expect(h.doc.result.releases[0]).to.not.have.property('hooks')
  })

  realIt('a rollout that times out after a predeploy hook ran: rolled back, exit 70, naming the hook the rollback does not undo (said only on exit 1)', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    await app.change(
      (t) => HOOKS('  predeploy:\n    - {name: migrate, service: web, command: [/app, say, migrated]}')(t.replace('APP_VERSION: v1', 'APP_VERSION: v2, APP_HEALTHZ: fail')),
      'v2 never ready, after its migration',
    )
    // The hook's Job on the real node must finish within it first, and the rollback after: 30 s was tight under load.
    const r = await deploy(['--timeout', '50s'])
    expect(r.exitCode, JSON.stringify(r.doc)).to.equal(70)
    expect(r.doc.error.message).to.match(
      /^release 2 of test did not become ready in time \(.*\); rolled back to release 1 \(recorded as release 3\); hooks are not undone by a rollback: migrate \(release 2\)/,
    )
  })

  realIt("a hook past its own timeout: failed as such, and the hint does not send to `kubectl logs` of the pod the Job's deadline deleted", async () => {
    expect((await deploy()).exitCode).to.equal(0)
    // /app without arguments is the server: it prints its start line and runs on until the Job's deadline.
    await app.change((t) => HOOKS('  predeploy:\n    - {name: migrate, service: web, command: [/app], timeout: 20s}')(VERSION('v2')(t)), 'v2 with a migration past its timeout')
    const r = await deploy()
    expect(r.exitCode, JSON.stringify(r.doc)).to.equal(1)
    expect(r.doc.error.message).to.match(/^predeploy hook migrate failed \(did not finish within its timeout of 20s\b.*\); release 2 was not rolled out \(the running release is untouched\)$/)
    expect(r.doc.error.hint).to.include('its pod went at the deadline, with its logs').and.not.include('logs job/')
    expect(r.doc.error.details.report.failures[0].logs[0].lines.join('\n')).to.include('starting skycap test app version=v2')
    // What the hint no longer promised: the Job is there, its pod is not.
    const job = r.doc.error.details.report.hooks[0].job
    await waitFor('the deadline to delete the pod', async () => (await kubectl(['get', 'pods', '-l', `job-name=${job}`, '-o', 'name'], {namespace: ns.name})).stdout === '')
    expect((await kubectl(['get', 'job', job, '-o', 'name'], {namespace: ns.name})).stdout.trim()).to.equal(`job.batch/${job}`)
  })

  realIt("a hook does not outlive the deploy's --timeout: exit 70 when it runs out (it ran on to the hook's own 10m, exit 1)", async () => {
    expect((await deploy()).exitCode).to.equal(0)
    // /app without arguments is the server: the migration never ends.
    await app.change((t) => HOOKS('  predeploy:\n    - {name: migrate, service: web, command: [/app]}')(VERSION('v2')(t)), 'v2 with a migration that runs on')
    const r = await deploy(['--timeout', '20s'])
    expect(r.exitCode, JSON.stringify(r.doc)).to.equal(70)
    expect(r.doc.error.code).to.equal('timeout')
    expect(r.doc.error.message).to.match(
      /^predeploy hook migrate failed \(did not finish within the deploy's --timeout 20s; its job (\S+) goes on running up to the hook's own timeout of 10m\); release 2 was not rolled out \(the running release is untouched\)$/,
    )
    expect(r.doc.error.hint).to.include('Give the deploy more time')
    const latest = (await app.json(['history', 'test'])).doc.result.releases[0]
    expect(latest).to.include({number: 2, result: 'failed', failed: 'hook/migrate'})
    expect(latest.hooks[0]).to.include({name: 'migrate', result: 'timed-out'})
    await kubectl(['delete', 'jobs', '-l', 'skycap.dev/job-kind=hook', '--wait=false'], {namespace: ns.name})
  })

  realIt('Ctrl-C during a postdeploy hook: recorded as interrupted, never rolled back (it was recorded as failed, with a rollback the same Ctrl-C stopped)', async () => {
    // /app without arguments is the server: the smoke test runs until Ctrl-C.
    const r = await ctrlCDuringHook('  postdeploy:\n    - {name: smoke, service: web, command: [/app], timeout: 3m}')
    expect(r.exitCode, r.stderr).to.equal(130)
    expect(r.stderr).to.match(/deploy of test interrupted during its postdeploy hook smoke: release 2 is rolled out and runs, recorded as interrupted/)
    expect(r.stderr).to.not.match(/rolled back|rollback to release/)
    const releases = (await app.json(['history', 'test'])).doc.result.releases
    expect(releases.map((x: {number: number; result: string}) => `${x.number} ${x.result}`)).to.deep.equal(['2 interrupted', '1 succeeded'])
    const web = await app.get(['deployment', 'web'])
    expect(web.spec.template.spec.containers[0].env).to.deep.include({name: 'APP_VERSION', value: 'v2'})
    await kubectl(['delete', 'jobs', '-l', 'skycap.dev/job-kind=hook', '--wait=false'], {namespace: ns.name})
  })

  realIt('a second Ctrl-C during a predeploy hook quits at once naming the hook Job it leaves running, after recording the release as interrupted', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    await app.change((t) => HOOKS('  predeploy:\n    - {name: migrate, service: web, command: [/app], timeout: 3m}')(VERSION('v2')(t)), 'v2 with a hook that runs on')
    await tagTestAppImage(await app.repo.git('rev-parse', 'HEAD'))
    const running = execa('node', [cliPath, 'deploy', 'test'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', SKYCAP_ENV: ''}})
    const hookPods = async () => JSON.parse((await kubectl(['get', 'pods', '-l', 'skycap.dev/job-kind=hook', '-o', 'json'], {namespace: ns.name})).stdout).items as any[]
    try {
      await waitFor('the hook to run', async () => (await hookPods()).some((p) => p.status?.phase === 'Running'), {timeoutMs: 120_000})
    } finally {
      running.kill('SIGINT')
      await new Promise((resolve) => setTimeout(resolve, 100))
      running.kill('SIGINT')
    }
    const r = await running
    expect(r.exitCode, r.stderr).to.equal(130)
    // It said only that "what the first signal was undoing is left as it is"; then that release 2 was not recorded.
    expect(r.stderr).to.match(
      /Quit at once \(SIGINT\): hook job rltasks-test-migrate-2 goes on running in the cluster; `skycap status` shows the hook, and a deploy is refused while it runs; release 2 is recorded( as interrupted)? \(`skycap history`; `skycap status` shows what runs\), and the lock was released$/m,
    )
    const releases = (await app.json(['history', 'test'])).doc.result.releases
    expect(releases.map((x: {number: number; result: string}) => `${x.number} ${x.result}`)).to.deep.equal(['2 interrupted', '1 succeeded'])
    const jobs = JSON.parse((await kubectl(['get', 'jobs', '-l', 'skycap.dev/job-kind=hook', '-o', 'json'], {namespace: ns.name})).stdout).items as any[]
    expect(jobs.map((j) => j.metadata.name)).to.deep.equal(['rltasks-test-migrate-2'])
    await kubectl(['delete', 'jobs', '-l', 'skycap.dev/job-kind=hook', '--wait=false'], {namespace: ns.name})
  })

  realIt(
    "a deploy after one Ctrl-C'd during its predeploy hook is refused while that hook still runs (it ran the migration again beside it); --skip-hooks deploys; once the Job is gone the hooks run again",
    async () => {
      const job = 'rltasks-test-migrate-2'
      // A fixed-name Secret the release changes: applied before the hook and, after a Ctrl-C, not put back (the hook
      // may read it), so named (the message said the running release was untouched).
      const secret = (password: string) => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: dbpass\nstringData:\n  password: ${password}\n`
      app.repo.write('deploy/secret.yaml', secret('first'))
      await app.repo.commit('a fixed-name Secret')
      // /app without arguments is the server: the "migration" runs until its Job is deleted. While it runs, `status`
      // says the deploy holds the lock (its reason names the revision) and the hook runs.
      const during = async () => {
        const short = (await app.repo.git('rev-parse', '--short=7', 'HEAD')).trim()
        const during = (await app.json(['status', 'test'])).doc.result
        expect(during.lock).to.include({reason: `deploy test@${short}`, expired: false})
        expect(during.runningHooks.map((h: {job: string; release: number}) => `${h.job} ${h.release}`)).to.deep.equal([`${job} 2`])
        const text = (await app.cli(['status', 'test'])).stdout.split('\n')
        expect(text[1]).to.match(new RegExp(`^locked by \\S+ since \\S+ \\(deploy test@${short}\\); expires \\S+$`))
        expect(text[2]).to.match(new RegExp(`^hook migrate of release 2 is still running \\(job ${job}, started \\S+\\)$`))
      }
      const stopped = await ctrlCDuringHook('  predeploy:\n    - {name: migrate, service: web, command: [/app], timeout: 3m}', during, () => app.repo.write('deploy/secret.yaml', secret('second')))
      expect(stopped.exitCode, stopped.stderr).to.equal(130)
      expect(stopped.stderr).to.include('predeploy hook migrate was interrupted')
      expect(stopped.stderr).to.include(
        "release 2 was not rolled out (the running release's workloads are untouched); Secret/dbpass, applied before the hook, has release 2's content, not release 1's (not put back while the hook may read it: `skycap rollback test --to 1` puts back its content once the hook is done)",
      )
      expect(Buffer.from((await app.get(['secret', 'dbpass'])).data.password, 'base64').toString()).to.equal('second')
      expect(stopped.stderr).to.include('a deploy before then is refused, exit 3')
      // After the Ctrl-C: the lock released, the hook still running.
      const left = (await app.json(['status', 'test'])).doc.result
      expect(left.lock).to.equal(null)
      expect(left.runningHooks.map((h: {job: string}) => h.job)).to.deep.equal([job])
      // The next deploy, twice (the refusal changes nothing, so a second one meets the same): exit 3 before anything
      // changes: no release recorded, web still v1, the lock free, the migration still running, and no second one.
      for (const round of [1, 2]) {
        const again = await deploy()
        expect(again.exitCode, `round ${round}: ${again.stderr}`).to.equal(3)
        expect(again.doc.error.code).to.equal('hook_running')
        expect(again.doc.error.message).to.match(
          new RegExp(`^hook migrate of release 2 \\(job ${job}, started [-0-9T:Z]+\\) is still running: an earlier deploy of test \\(interrupted, or out of time\\) left it to finish`),
        )
        expect(again.doc.error.hint).to.include(`kubectl delete job ${job} -n ${ns.name}`)
        const releases = (await app.json(['history', 'test'])).doc.result.releases
        expect(releases.map((x: {number: number; result: string}) => `${x.number} ${x.result}`)).to.deep.equal(['2 interrupted', '1 succeeded'])
        expect((await app.get(['deployment', 'web'])).spec.template.spec.containers[0].env).to.deep.include({name: 'APP_VERSION', value: 'v1'})
        expect((await app.json(['lock', 'status', 'test'])).doc.result.lock).to.equal(null)
        const jobs = JSON.parse((await kubectl(['get', 'jobs', '-l', 'skycap.dev/job-kind=hook', '-o', 'json'], {namespace: ns.name})).stdout).items as any[]
        expect(jobs.map((j) => `${j.metadata.name} ${j.status?.active ?? 0}`)).to.deep.equal([`${job} 1`])
      }
      // --skip-hooks: deployed, with a warning that names the running Job.
      const skipped = await deploy(['--skip-hooks'])
      expect(skipped.exitCode, skipped.stderr).to.equal(0)
      expect(skipped.stderr).to.include(`hook migrate of release 2 (job ${job}, started`)
      expect(skipped.stderr).to.include('this deploy runs no hooks (--skip-hooks) and rolls out beside it')
      // The Job gone (stopped by hand, as the hint says), a migration that ends: the next deploy runs it.
      await kubectl(['delete', 'job', job, '--wait=true'], {namespace: ns.name})
      await app.change((t) => t.replace('command: [/app], timeout: 3m', 'command: [/app, say, migrated]'), 'a migration that ends')
      const after = await deploy()
      expect(after.exitCode, after.stderr).to.equal(0)
      const latest = (await app.json(['history', 'test'])).doc.result.releases[0]
      expect(latest).to.include({number: 4, result: 'succeeded'})
      expect(latest.hooks[0]).to.include({name: 'migrate', phase: 'predeploy', result: 'succeeded', job: 'rltasks-test-migrate-4'})
      await kubectl(['delete', 'jobs', '-l', 'skycap.dev/job-kind=hook', '--wait=false'], {namespace: ns.name})
    },
  )

  realIt(
    "run, exec, port-forward, status, logs and scale take their services from what is deployed: one the work tree's skycap.yaml dropped since still runs; --rev of a revision without it names that revision",
    async () => {
      // A second service, a copy of web: in the second commit only.
      const withTool = (t: string) => t.replace('\nenvironments:', `\n${t.slice(t.indexOf('  web:\n'), t.indexOf('environments:')).replace('  web:\n', '  tool:\n')}environments:`)
      const before = await app.repo.git('rev-parse', 'HEAD')
      const short = before.slice(0, 7)
      await app.change(withTool, 'with tool')
      expect((await deploy()).exitCode).to.equal(0)
      await app.change((t) => t.replace(/\n {2}tool:\n(?: {4}.*\n)+/, '\n'), 'tool dropped (not deployed)')
      expect(app.config).to.not.contain('tool:')
      const r = await app.cli(['run', 'tool', '--', '/app', 'say', 'from the release'])
      expect(r.exitCode, r.stderr).to.equal(0)
      expect(r.stdout).to.equal('from the release')
      // exec too: the pods of the deployed service decide, not the work tree.
      const inPod = await app.cli(['exec', 'tool', '--', '/app', 'say', 'from its pod'])
      expect(inPod.exitCode, inPod.stderr).to.equal(0)
      expect(inPod.stdout).to.equal('from its pod')
      // port-forward too: to the dropped service's Service, answered by its pod.
      const forward = execa('node', [cliPath, 'port-forward', 'tool', '0:8080'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1'}})
      try {
        const said = await captureOutput(forward.stderr as Readable).waitFor(/Forwarding 127\.0\.0\.1:(\d+) to service\/tool port 8080/, 60_000)
        const port = Number(/Forwarding 127\.0\.0\.1:(\d+) to/.exec(said)?.[1])
        const answer = await waitFor('the forward to tool', () => httpGet(`http://127.0.0.1:${port}/`).catch(() => undefined), {timeoutMs: 30_000})
        expect(answer.body).to.match(/^version=v1 .* host=tool-/)
      } finally {
        forward.kill('SIGINT')
      }
      expect((await forward).exitCode).to.equal(0)
      // status, logs and scale too (they knew only the file's services: status had no row for it, scale and logs said
      // "unknown service", as after a rollback that brought a dropped service back).
      const shown = await app.cli(['status', 'test'])
      expect(shown.exitCode, shown.stderr).to.equal(0)
      expect(shown.stdout).to.match(/^tool\s+ready\s+1\/1\s/m)
      expect(shown.stdout).to.contain('tool: runs but is not in this skycap.yaml')
      const row = (await app.json(['status', 'test'])).doc.result.services.find((x: {service: string}) => x.service === 'tool')
      expect(row).to.include({state: 'ready', ready: 1, notInConfig: true})
      const logs = await app.cli(['logs', 'tool', '--tail', '5'])
      expect(logs.exitCode, logs.stderr).to.equal(0)
      expect(logs.stderr).to.contain('tool is not in this skycap.yaml (a rollback to a release that had it runs it): the next deploy of this skycap.yaml prunes it')
      const scaled = await app.cli(['scale', 'tool', '2'])
      expect(scaled.exitCode, scaled.stderr).to.equal(0)
      expect(scaled.stderr).to.contain('tool is not in this skycap.yaml (a rollback to a release that had it runs it): the next deploy of this skycap.yaml prunes it')
      const tool = JSON.parse((await kubectl(['get', 'deployment', 'tool', '-o', 'json'], {namespace: ns.name})).stdout)
      expect([tool.spec.replicas, tool.status.readyReplicas]).to.deep.equal([2, 2])
      expect((await app.cli(['scale', 'tol', '2'])).exitCode).to.equal(2)
      const typoForward = await app.cli(['port-forward', 'tol', '0:8080', '--json'])
      expect(typoForward.exitCode).to.equal(2)
      expect(JSON.parse(typoForward.stdout).error.message).to.match(/^unknown service "tol"/)
      const typoExec = await app.cli(['exec', 'tol', '--json', '--', '/app', 'say', 'x'])
      expect(typoExec.exitCode).to.equal(2)
      expect(JSON.parse(typoExec.stdout).error.message).to.match(/^unknown service "tol"/)
      // --json goes before `--` (after it, it is the command's).
      const refused = async (service: string, args: string[]) => {
        const out = await app.cli(['run', service, ...args, '--json', '--', '/app', 'say', 'x'])
        expect(out.exitCode, out.stderr).to.equal(2)
        return JSON.parse(out.stdout).error as {message: string; hint: string}
      }
      expect(await refused('tool', ['--rev', before])).to.deep.include({message: `unknown service "tool" at ${short}`, hint: `Services of rltasks in the skycap.yaml of ${short}: web.`})
      expect((await refused('tool', ['--rev', 'HEAD~2'])).message).to.equal(`unknown service "tool" at ${short} (HEAD~2)`)
      const head = (await app.repo.git('rev-parse', 'HEAD')).slice(0, 7)
      expect((await refused('tool', ['--rev', 'HEAD'])).message).to.equal(`unknown service "tool" at ${head} (HEAD)`)
      // Neither the work tree nor the release has it: unknown, as before (exit 2, nothing run).
      expect((await refused('tol', [])).message).to.match(/^unknown service "tol"/)
      expect((await kubectl(['get', 'jobs', '-l', 'skycap.dev/job-kind=run', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
    },
  )

  realIt('run passes the exit code and output through, removes its Job (unless --keep), and -it works on a pseudo-terminal', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    const r = await app.cli(['run', 'web', '--', '/app', 'exit', '5', 'hello', 'world'])
    expect(r.exitCode, r.stderr).to.equal(5)
    expect(r.stdout, 'execa strips the last newline').to.equal('hello\nworld')
    await waitFor('the run Job to be deleted', async () => (await kubectl(['get', 'jobs', '-l', 'skycap.dev/job-kind=run', '-o', 'name'], {namespace: ns.name})).stdout === '')
    // --json goes before `--`: after it, it would be the command's.
    const kept = await app.cli(['run', 'web', '--keep', '--json', '--', '/app', 'whoami'])
    expect(kept.exitCode, kept.stderr).to.equal(0)
    const doc = JSON.parse(kept.stdout)
    expect(doc.result).to.include({exitCode: 0, kept: true, release: 1, service: 'web'})
    expect(kept.stderr).to.match(/^host=rltasks-test-run-web-\w+-\w+ version=v1$/m)
    expect((await kubectl(['get', 'job', doc.result.job, '-o', 'name'], {namespace: ns.name})).stdout.trim()).to.equal(`job.batch/${doc.result.job}`)
    // --lock: the environment's deploy lock is held while it runs, and released after.
    const locked = await app.cli(['run', 'web', '--lock', '--', '/app', 'say', 'under the lock'])
    expect(locked.exitCode, locked.stderr).to.equal(0)
    expect(locked.stdout).to.equal('under the lock')
    // Under GitHub Actions the pod's output is in a stopped region: its ::error:: is text, not an annotation
    // (docs/ci.md). stdout is the pod's output unchanged (it may be data piped on); the markers go to stderr.
    const injected = await app.cli(['run', 'web', '--', '/app', 'say', '::error::injected'], {env: {GITHUB_ACTIONS: 'true', CI: 'true'}})
    expect(injected.exitCode, injected.stderr).to.equal(0)
    expect(injected.stdout).to.equal('::error::injected')
    const token = /^::stop-commands::([0-9a-f]{32})$/m.exec(injected.stderr)?.[1]
    expect(token, injected.stderr).to.be.a('string')
    expect(injected.stderr.split('\n').filter((l) => l.startsWith('::'))).to.deep.equal([`::stop-commands::${token}`, `::${token}::`])
    expect(JSON.parse((await app.cli(['lock', 'status', 'test', '--json'])).stdout).result.lock).to.equal(null)
    // --rev: that revision's image (here a commit that was never deployed) with the deployed release's config and env.
    const next = await app.change((t) => `${t.trimEnd()}\n# a revision that is not deployed\n`, 'not deployed')
    await tagTestAppImage(next)
    const atRev = await app.cli(['run', 'web', '--rev', next.slice(0, 7), '--keep', '--json', '--', '/app', 'whoami'])
    expect(atRev.exitCode, atRev.stderr).to.equal(0)
    const revJob = JSON.parse(atRev.stdout).result.job
    const image = (await kubectl(['get', 'job', revJob, '-o', 'jsonpath={.spec.template.spec.containers[0].image}'], {namespace: ns.name})).stdout
    expect(image).to.match(new RegExp(`:${next}$`))
    expect(atRev.stderr).to.match(/ version=v1$/m)
    // -it: a real pseudo-terminal (Python's pty module) around the CLI. With --lock, while the console waits (the driver
    // holds it until the gate file exists), the lock is held and a deploy is refused with exit 3, changing nothing.
    const gate = join(mkdtempSync(join(tmpdir(), 'skycap-gate-')), 'open')
    const consoleRun = execa('python3', ['-c', PTY_DRIVER, 'node', cliPath, 'run', 'web', '-it', '--lock', '--', '/app', 'console'], {
      cwd: app.repo.dir,
      reject: false,
      timeout: 150_000,
      env: {NO_COLOR: '1', PTY_GATE: gate},
    })
    try {
      const holder = await waitFor('the console run to hold the lock', async () => JSON.parse((await app.cli(['lock', 'status', 'test', '--json'])).stdout).result.lock ?? undefined, {
        timeoutMs: 120_000,
        intervalMs: 1000,
      })
      expect(holder.reason).to.equal('skycap run web -- /app console')
      const generation = (await app.get(['deployment', 'web'])).metadata.generation
      const refused = await app.cli(['deploy', 'test', '--json'])
      expect(refused.exitCode, refused.stderr).to.equal(3)
      expect(JSON.parse(refused.stdout).error.code).to.equal('locked')
      expect((await app.get(['deployment', 'web'])).metadata.generation).to.equal(generation)
    } finally {
      writeFileSync(gate, '')
    }
    const pty = await consoleRun
    expect(JSON.parse((await app.cli(['lock', 'status', 'test', '--json'])).stdout).result.lock).to.equal(null)
    expect(pty.stdout).to.include('you said: hello (terminal: true)')
    expect(pty.stdout).to.include('bye (6)')
    expect(pty.exitCode, pty.stdout + pty.stderr).to.equal(6)
  })

  realIt('exec and port-forward reach the pod of the right environment (two environments, two namespaces); exec of a command the image lacks says so', async () => {
    const other = `${ns.name}-other`
    await kubectl(['create', 'namespace', other])
    try {
      await app.change(
        (t) => `${t.trimEnd()}\n  other:\n    context: ${/context: (\S+)/.exec(t)?.[1]}\n    namespace: ${other}\n    services: {web: {env: {APP_VERSION: other}}}\n`,
        'a second environment',
      )
      await tagTestAppImage(await app.repo.git('rev-parse', 'HEAD'))
      for (const env of ['test', 'other']) expect((await app.cli(['deploy', env])).exitCode).to.equal(0)
      const [testPod] = await webPods()
      const [otherPod] = await webPods(other)
      for (const [env, pod, version] of [
        ['test', testPod, 'v1'],
        ['other', otherPod, 'other'],
      ]) {
        const r = await app.cli(['exec', 'web', '-e', env, '--', '/app', 'whoami'])
        expect(r.exitCode, r.stderr).to.equal(0)
        expect(r.stdout).to.equal(`host=${pod.metadata.name} version=${version}`)
      }
      const failing = await app.cli(['exec', 'web', '-e', 'other', '--', '/app', 'exit', '9'])
      expect(failing.exitCode).to.equal(9)
      // Under GitHub Actions the pod's output is in a stopped region, as run's is: stdout unchanged, the markers on stderr.
      const injected = await app.cli(['exec', 'web', '-e', 'other', '--', '/app', 'say', '::error::injected'], {env: {GITHUB_ACTIONS: 'true', CI: 'true'}})
      expect(injected.exitCode, injected.stderr).to.equal(0)
      expect(injected.stdout).to.equal('::error::injected')
      const token = /^::stop-commands::([0-9a-f]{32})$/m.exec(injected.stderr)?.[1]
      expect(token, injected.stderr).to.be.a('string')
      expect(injected.stderr.split('\n').filter((l) => l.startsWith('::'))).to.deep.equal([`::stop-commands::${token}`, `::${token}::`])
      // A command the image lacks never ran: kubectl's runtime error was passed on as if it had, exit 1 and all.
      const missing = await app.cli(['exec', 'web', '-e', 'other', '--json', '--', '/nope'])
      expect(missing.exitCode, missing.stderr).to.equal(1)
      expect(JSON.parse(missing.stdout).error.message).to.match(/^\/nope in pod web-\S+ of web \(other\) could not run: exec: "\/nope": stat \/nope: no such file or directory$/)
      // Said once: skycap's error quotes kubectl's cause, and kubectl's raw error is not printed before it.
      const shown = await app.cli(['exec', 'web', '-e', 'other', '--', '/nope'])
      expect(shown.exitCode, shown.stderr).to.equal(1)
      expect(shown.stderr).to.match(/could not run: exec: "\/nope": stat \/nope: no such file or directory/)
      expect(shown.stderr, shown.stderr).to.not.match(/OCI runtime exec failed|^error: /m)
      const wrong = await app.cli(['exec', 'web', '-e', 'other', '--pod', testPod.metadata.name, '--', '/app', 'whoami'])
      expect(wrong.exitCode).to.equal(2)
      expect(wrong.stderr).to.include(`pod ${testPod.metadata.name} is not a pod of web in other`)
      for (const [env, pod, version] of [
        ['other', otherPod, 'other'],
        ['test', testPod, 'v1'],
      ]) {
        const port = await freePort()
        const forward = execa('node', [cliPath, 'port-forward', 'web', `${port}:8080`, '-e', env], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1'}})
        try {
          const answer = await waitFor(`the forward to ${env}`, () => httpGet(`http://127.0.0.1:${port}/`).catch(() => undefined), {timeoutMs: 30_000})
          expect(answer.body).to.equal(`version=${version} greeting=hello host=${pod.metadata.name}\n`)
        } finally {
          forward.kill('SIGINT')
        }
        const done = await forward
        expect(done.exitCode, done.stderr).to.equal(0)
        expect(done.stderr).to.match(new RegExp(`to service/web port 8080 \\(pod/web-\\S+\\) in ${env} `))
      }
    } finally {
      await kubectl(['delete', 'namespace', other, '--wait=false'], {reject: false})
    }
  })

  realIt('exec -c runs the command in a sidecar of the pod; a container the pod does not have is exit 2, naming those it has', async () => {
    // A sidecar of the same image, its server on another port, with a version of its own: whoami says where it ran.
    const sidecar = `{name: helper, image: ${realNode().image}, env: [{name: PORT, value: "9090"}, {name: APP_VERSION, value: sidecar}], resources: {requests: {cpu: 10m, memory: 16Mi}}}`
    await app.change(
      (t) => t.replace('spec: {dnsPolicy: Default, automountServiceAccountToken: false}', `spec: {dnsPolicy: Default, automountServiceAccountToken: false, containers: [${sidecar}]}`),
      'a sidecar',
    )
    const deployed = await deploy()
    expect(deployed.exitCode, deployed.stderr).to.equal(0)
    const [pod] = await webPods()
    const inSidecar = await app.cli(['exec', 'web', '-c', 'helper', '--', '/app', 'whoami'])
    expect(inSidecar.exitCode, inSidecar.stderr).to.equal(0)
    expect(inSidecar.stdout).to.equal(`host=${pod.metadata.name} version=sidecar`)
    expect(inSidecar.stderr).to.include(`in pod ${pod.metadata.name} (container helper) of web (test)`)
    const own = await app.cli(['exec', 'web', '--', '/app', 'whoami'])
    expect(own.stdout, own.stderr).to.equal(`host=${pod.metadata.name} version=v1`)
    const none = await app.cli(['exec', 'web', '-c', 'envoy', '--', '/app', 'whoami'])
    expect(none.exitCode, none.stderr).to.equal(2)
    expect(none.stderr).to.include(`container "envoy" is not in pod ${pod.metadata.name} of web (test)`)
    expect(none.stderr).to.include('Its containers: web, helper; choose one with -c.')
  })

  realIt('run: --timeout is exit 70 when the Job deadline stops the pod; a command the image lacks says so (exit 1); neither leaves a Job', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    // /app without arguments is the server: it runs until the deadline stops it (its SIGTERM exit code is 2).
    const slow = await app.cli(['run', 'web', '--timeout', '5s', '--json', '--', '/app'])
    expect(slow.exitCode, slow.stderr).to.equal(70)
    const doc = JSON.parse(slow.stdout)
    expect(doc.error.code).to.equal('timeout')
    expect(doc.error.message).to.match(/^\/app in web \(job \S+\) did not finish within --timeout 5s/)
    const missing = await app.cli(['run', 'web', '--', '/nope'])
    expect(missing.exitCode, missing.stderr).to.equal(1)
    expect(missing.stderr).to.match(/could not run: the command could not start \(StartError\): exec: "\/nope": stat \/nope: no such file or directory/)
    // The hint says what is wrong, not to describe a Job that is already deleted.
    expect(missing.stderr).to.match(/The command is not in \S+, or not executable there: check its name, or give its full path\./)
    expect(missing.stderr).to.not.include('describe job')
    await waitFor('the run Jobs to be deleted', async () => (await kubectl(['get', 'jobs', '-l', 'skycap.dev/job-kind=run', '-o', 'name'], {namespace: ns.name})).stdout === '')
  })

  realIt('run: a Job deleted while its command runs ends the run at once (exit 1, saying so), not at --timeout', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    // /app without arguments is the server: it runs until the Job is deleted.
    const started = Date.now()
    const running = app.cli(['run', 'web', '--timeout', '10m', '--', '/app'], {timeout: 180_000})
    const runPods = async () => (await kubectl(['get', 'pods', '-l', 'skycap.dev/job-kind=run', '-o', 'json'], {namespace: ns.name})).stdout
    await waitFor('the run pod to run', async () => JSON.parse(await runPods()).items.some((p: any) => p.status?.phase === 'Running'))
    await kubectl(['delete', 'jobs', '-l', 'skycap.dev/job-kind=run', '--wait=true'], {namespace: ns.name})
    const r = await running
    expect(r.exitCode, r.stderr).to.equal(1)
    expect(r.stderr).to.match(/\/app in web \(job (\S+)\) could not run: job \1 was deleted before its command finished/)
    // Not "kubectl describe job": there is no Job left to describe.
    expect(r.stderr).to.include('Its Job went while the command ran, with its output and exit code; find out what deleted it')
    expect(r.stderr).to.not.include('kubectl describe job')
    // Before, it waited for the --timeout (here 10 minutes; the mocha timeout would have ended it).
    expect(Date.now() - started).to.be.below(120_000)
  })

  realIt(
    'run --keep stopped with Ctrl-C says the command goes on in the cluster (it said "was stopped"), and it does; without --keep it is stopped; a double Ctrl-C names the Job it leaves running (it said nothing)',
    async () => {
      expect((await deploy()).exitCode).to.equal(0)
      const runPods = async () => JSON.parse((await kubectl(['get', 'pods', '-l', 'skycap.dev/job-kind=run', '-o', 'json'], {namespace: ns.name})).stdout).items as any[]
      {
        const running = execa('node', [cliPath, 'run', 'web', '--', '/app'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', SKYCAP_ENV: ''}})
        const said = await captureOutput(running.stderr as Readable).waitFor(/as job (\S+)/, 60_000)
        const job = /as job (\S+)/.exec(said)?.[1] as string
        await waitFor('the run pod to run', async () => (await runPods()).some((p) => p.metadata.labels?.['job-name'] === job && p.status?.phase === 'Running'))
        // Two Ctrl-Cs 20 ms apart: the second quits before the Job is deleted.
        running.kill('SIGINT')
        await new Promise((r) => setTimeout(r, 20))
        running.kill('SIGINT')
        const r = await running
        expect(r.exitCode, r.stderr).to.equal(130)
        // The Job the message names is there, running (the second Ctrl-C came before its deletion).
        const live = JSON.parse((await kubectl(['get', 'job', job, '-o', 'json'], {namespace: ns.name})).stdout)
        expect(live.status.active, r.stderr).to.equal(1)
        expect(r.stderr).to.include(`Quit at once (SIGINT): job ${job} goes on running in the cluster, up to its --timeout; stop it with \`kubectl delete job ${job} -n ${ns.name}`)
        await kubectl(['delete', 'job', job, '--wait=true'], {namespace: ns.name})
      }
      for (const keep of [true, false]) {
        // /app without arguments is the server: it runs until stopped.
        const running = execa('node', [cliPath, 'run', 'web', ...(keep ? ['--keep'] : []), '--', '/app'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', SKYCAP_ENV: ''}})
        // This run's own Job (a pod of an earlier run may still be going away).
        const said = await captureOutput(running.stderr as Readable).waitFor(/as job (\S+)/, 60_000)
        const job = /as job (\S+)/.exec(said)?.[1] as string
        await waitFor('the run pod to run', async () => (await runPods()).some((p) => p.metadata.labels?.['job-name'] === job && p.status?.phase === 'Running'))
        running.kill('SIGINT')
        const r = await running
        expect(r.exitCode, r.stderr).to.equal(130)
        if (keep) {
          expect(r.stderr).to.include(`interrupted; /app in web (job ${job}) goes on running in the cluster (--keep leaves its Job), up to its --timeout`)
          expect(r.stderr).to.include(`delete job ${job}`)
          const live = JSON.parse((await kubectl(['get', 'job', job, '-o', 'json'], {namespace: ns.name})).stdout)
          expect(live.status.active, 'the kept Job still runs').to.equal(1)
          await kubectl(['delete', 'job', job, '--wait=true'], {namespace: ns.name})
        } else {
          expect(r.stderr).to.match(/interrupted; \/app in web \(job \S+\) was stopped/)
          await waitFor('the run Job to be deleted', async () => (await kubectl(['get', 'jobs', '-l', 'skycap.dev/job-kind=run', '-o', 'name'], {namespace: ns.name})).stdout === '')
        }
      }
    },
  )

  realIt('run of a service added to skycap.yaml since the deployed release says it is not deployed yet (exit 2)', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    await app.change((t) => t.replace('\nenvironments:', '\n  cron: {image: app, port: 8080}\nenvironments:'), 'add cron')
    const r = await app.cli(['run', 'cron', '--', '/app', 'whoami'])
    expect(r.exitCode, r.stderr).to.equal(2)
    // It said "service cron renders no Deployment with a container to run a command in".
    expect(r.stderr).to.contain("Error: cron is not in release 1, the one deployed to test: run uses the deployed release's pod template")
    expect(r.stderr).to.contain('Deploy it first (skycap deploy test)')
  })

  realIt('run after a release that failed without a rollback uses the newest successful release, and says that the failed one may be what runs', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    const good = (await app.repo.git('rev-parse', 'HEAD')).slice(0, 7)
    await app.change((t) => t.replace('APP_VERSION: v1', 'APP_VERSION: v2, APP_EXIT: "1"'), 'v2 exits at start')
    const failed = await deploy(['--no-rollback', '--timeout', '2m'])
    expect(failed.exitCode, failed.stderr).to.equal(1)
    const r = await app.cli(['run', 'web', '--', '/app', 'say', 'hi'])
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.stdout).to.equal('hi')
    expect(r.stderr).to.contain(`run uses the pod template of release 1 (${good}), the newest that succeeded; release 2, after it, failed, and what runs may be that one's`)
    // A deploy its predeploy hook stopped rolled nothing out: not what runs (the warning named it, release 3).
    await app.change(HOOKS('  predeploy:\n    - {name: migrate, service: web, command: [/app, exit, "3", "migration failed"]}'), 'a failing migration')
    const stopped = await deploy(['--no-rollback', '--timeout', '2m'])
    expect(stopped.doc.error.message).to.contain('release 3 was not rolled out')
    const again = await app.cli(['run', 'web', '--', '/app', 'say', 'hi'])
    expect(again.exitCode, again.stderr).to.equal(0)
    expect(again.stderr).to.contain(`run uses the pod template of release 1 (${good}), the newest that succeeded; release 2, after it, failed, and what runs may be that one's`)
    expect(again.stderr).to.not.contain('release 3')
  })

  realIt('run --rev of a revision whose image was never pushed is exit 2 before any Job', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    const sha = await app.change((t) => t, 'not built')
    const r = await app.cli(['run', 'web', '--rev', 'HEAD', '--', '/app', 'whoami'])
    expect(r.exitCode, r.stderr).to.equal(2)
    // It was a Job whose pod failed with ErrImagePull: exit 1, "could not run".
    expect(r.stderr).to.match(new RegExp(`Error: the image of web at HEAD does not exist: \\S+:${sha}; nothing was run`))
    expect(r.stderr).to.not.contain('Running /app whoami')
  })

  realIt('run -i from a pipe feeds the command (its end too) and streams its output whole; without -i stdin is not passed, and that is said (run and exec)', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    for (let round = 1; round <= 2; round++) {
      const quit = await app.cli(['run', 'web', '-i', '--', '/app', 'console'], {input: `hello ${round}\nquit ${round + 3}\n`})
      expect(quit.exitCode, quit.stderr).to.equal(round + 3)
      expect(quit.stdout).to.equal(`you said: hello ${round} (terminal: false)\nbye (${round + 3})`)
      // No quit: the command ends when the input does (stdinOnce), exit 0.
      const eof = await app.cli(['run', 'web', '-i', '--json', '--', '/app', 'console'], {input: 'a\nb\n'})
      expect(eof.exitCode, eof.stderr).to.equal(0)
      expect(eof.stderr).to.contain('you said: a (terminal: false)\nyou said: b (terminal: false)')
      expect(JSON.parse(eof.stdout).result.exitCode).to.equal(0)
    }
    const dropped = await app.cli(['run', 'web', '--', '/app', 'say', 'hi'], {input: 'ignored\n', env: {CI: ''}})
    expect(dropped.exitCode, dropped.stderr).to.equal(0)
    expect(dropped.stderr).to.contain('stdin is not passed to the command without -i (skycap run web -i -- …)')
    expect(dropped.stdout).to.equal('hi')
    // exec: the same (kubectl exec without -i read nothing, and nothing said so); with -i the input arrives.
    const execDropped = await app.cli(['exec', 'web', '--', '/app', 'console'], {input: 'ignored\n', env: {CI: ''}})
    expect(execDropped.exitCode, execDropped.stderr).to.equal(0)
    expect(execDropped.stderr).to.contain('stdin is not passed to the command without -i (skycap exec web -i -- …)')
    const execFed = await app.cli(['exec', 'web', '-i', '--', '/app', 'console'], {input: 'fed\nquit 0\n', env: {CI: ''}})
    expect(execFed.exitCode, execFed.stderr).to.equal(0)
    expect(execFed.stdout).to.contain('you said: fed (terminal: false)')
    expect(execFed.stderr).to.not.contain('stdin is not passed')
    await waitFor('the run Jobs to be deleted', async () => (await kubectl(['get', 'jobs', '-l', 'skycap.dev/job-kind=run', '-o', 'name'], {namespace: ns.name})).stdout === '')
  })

  realIt('port-forward goes on with the new pod when a deploy replaces the one it forwarded to, on the port 0 chose (--json names it: it said 0, and such a forward ended)', async () => {
    expect((await deploy()).exitCode).to.equal(0)
    const forward = execa('node', [cliPath, 'port-forward', 'web', '0:8080', '--json'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1'}})
    const said = await captureOutput(forward.stderr as Readable).waitFor(/Forwarding 127\.0\.0\.1:(\d+) to service\/web port 8080/, 60_000)
    const port = Number(/Forwarding 127\.0\.0\.1:(\d+) to/.exec(said)?.[1])
    expect(port, said).to.be.greaterThan(0)
    try {
      const first = await waitFor('the forward', () => httpGet(`http://127.0.0.1:${port}/`).catch(() => undefined), {timeoutMs: 30_000})
      expect(first.body).to.match(/^version=v1 /)
      await app.change(VERSION('v2'), 'v2')
      expect((await deploy()).exitCode).to.equal(0)
      const second = await waitFor(
        'an answer of v2 through the same forward',
        async () => {
          const a = await httpGet(`http://127.0.0.1:${port}/`).catch(() => undefined)
          return a?.body.startsWith('version=v2 ') ? a : undefined
        },
        {timeoutMs: 60_000},
      ).catch(async (error: Error) => {
        forward.kill('SIGINT')
        const r = await forward
        throw new Error(`${error.message}; the forward (exit ${r.exitCode}) said:\n${r.stderr}`)
      })
      expect(second.status).to.equal(200)
    } finally {
      forward.kill('SIGINT')
    }
    const done = await forward
    expect(done.exitCode, done.stderr).to.equal(0)
    // The rolling update made the new pod ready before the old one terminated: the forward moved then, on stderr.
    expect(done.stderr).to.match(/forwarding to pod\/web-\S+ now \(pod\/web-\S+ is terminating\)/)
    expect(JSON.parse(done.stdout).result).to.include({local: port, remote: 8080})
  })

  realIt(
    'port-forward follows the service across two rolling deploys of 2 replicas: it moves to a new pod as the old one terminates, says so, and a request loop through it sees the new version',
    async () => {
      await app.change((t) => t.replace('replicas: 1', 'replicas: 2'), 'two replicas')
      expect((await deploy()).exitCode).to.equal(0)
      const forward = execa('node', [cliPath, 'port-forward', 'web', '0:8080', '--json'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1'}})
      const stderr = captureOutput(forward.stderr as Readable)
      const port = Number(
        /Forwarding 127\.0\.0\.1:(\d+) to service\/web port 8080 \(pod\/web-/.exec(await stderr.waitFor(/Forwarding 127\.0\.0\.1:\d+ to service\/web port 8080 \(pod\/web-\S+\)/, 60_000))?.[1],
      )
      // A request every 200 ms through the forward, all along: when it was sent and what came back.
      const answers: Array<{at: number; version?: string; host?: string; error?: string}> = []
      let looping = true
      const loop = (async () => {
        while (looping) {
          const at = Date.now()
          try {
            const body = await (await fetch(`http://127.0.0.1:${port}/`, {signal: AbortSignal.timeout(2000)})).text()
            answers.push({at, version: /^version=(\S+)/.exec(body)?.[1], host: /host=(\S+)/.exec(body)?.[1]})
          } catch (error) {
            answers.push({at, error: String((error as Error).cause ?? error)})
          }
          await new Promise((r) => setTimeout(r, 200))
        }
      })()
      const switches = () => [...stderr.text.matchAll(/forwarding to pod\/(web-\S+) now \(pod\/web-\S+ is terminating\)/g)].map((m) => m[1])
      try {
        await waitFor('an answer of v1 through the forward', () => answers.at(-1)?.version === 'v1', {timeoutMs: 30_000})
        for (const [from, to] of [
          ['v1', 'v2'],
          ['v2', 'v3'],
        ] as const) {
          const roundStart = Date.now()
          const switchesBefore = switches().length
          await app.change((t) => t.replace(`APP_VERSION: ${from}`, `APP_VERSION: ${to}`), to)
          const deployed = await deploy()
          expect(deployed.exitCode, JSON.stringify(deployed.doc)).to.equal(0)
          // The rollout is complete: the controller saw the new spec and both new pods are ready.
          const d = await app.get(['deployment', 'web'])
          expect(d.status.observedGeneration).to.equal(d.metadata.generation)
          expect([d.status.updatedReplicas, d.status.readyReplicas], to).to.deep.equal([2, 2])
          // Those of the old release are terminating by now (webPods leaves them out).
          const newPods = (await webPods()).map((p) => p.metadata.name)
          expect(newPods, to).to.have.length(2)
          // The move was said, to a pod of the new release, without waiting for a request to fail first.
          await waitFor(`the forward to move to a ${to} pod`, () => switches().length > switchesBefore && newPods.includes(switches().at(-1) as string), {timeoutMs: 10_000, intervalMs: 100})
          // The line is said as kubectl starts again on the local port: a request in the next moment may still be
          // refused (local.test.ts's forwards test saw one in CI). The move ends with a new pod's first answer.
          const seen = Date.now()
          const first = await waitFor(`an answer from a ${to} pod`, () => answers.find((a) => a.at > seen && newPods.includes(a.host as string)), {timeoutMs: 10_000, intervalMs: 100})
          const after = first.at
          await waitFor('five answers after the rollout', () => answers.filter((a) => a.at > after).length >= 5, {timeoutMs: 10_000, intervalMs: 100})
          const later = answers.filter((a) => a.at > after)
          expect(
            later.map((a) => a.version ?? a.error),
            to,
          ).to.deep.equal(later.map(() => to))
          expect(later.every((a) => newPods.includes(a.host as string))).to.equal(true)
          const round = answers.filter((a) => a.at >= roundStart && a.at <= after)
          const failed = round.filter((a) => a.error)
          // What fails is the switch alone: the request under way to the old pod, and those sent while kubectl restarts
          // on the local port (about 200 ms on a quiet test cluster, 0 to 1 failed request; CI under load saw 3, the
          // restart taking 900 ms). So the failures are one run of consecutive requests within a few seconds, none after.
          const said = `${failed.length} of ${round.length} requests failed during the rollout to ${to}: ${JSON.stringify(failed)}`
          if (failed.length) {
            const first = round.indexOf(failed[0] as (typeof round)[number])
            const last = round.indexOf(failed.at(-1) as (typeof round)[number])
            expect(last - first + 1, `one run of failures: ${said}`).to.equal(failed.length)
            expect((failed.at(-1)?.at ?? 0) - (failed[0]?.at ?? 0), said).to.be.at.most(3000)
          }
        }
      } finally {
        looping = false
        await loop
        forward.kill('SIGINT')
      }
      const done = await forward
      expect(done.exitCode, done.stderr).to.equal(0)
      expect(JSON.parse(done.stdout).result).to.include({local: port, remote: 8080})
      expect(done.stderr).to.not.include('reconnecting to a ready pod')
    },
  )

  realIt('a template Job changed in place is refused in one sentence that suggests {{ revision.short }} in its name', async () => {
    const job = (command: string) =>
      `apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      nodeSelector: {skycap.test/real-node: "true"}\n      tolerations: [{key: skycap.test/real-node, operator: Exists, effect: NoSchedule}]\n      dnsPolicy: Default\n      automountServiceAccountToken: false\n      containers: [{name: migrate, image: "{{ services.web.image }}", command: [/app, say, ${command}]}]\n`
    app.repo.write('deploy/migrate.yaml', job('one'))
    await app.repo.commit('a migration Job')
    const first = await deploy()
    expect(first.exitCode, JSON.stringify(first.doc)).to.equal(0)
    app.repo.write('deploy/migrate.yaml', job('two'))
    await app.repo.commit('the migration Job changed')
    const r = await deployText()
    expect(r.exitCode).to.equal(2)
    const [error, hint, ...rest] = r.stderr.slice(r.stderr.indexOf('Error: ')).trimEnd().split('\n')
    expect(error).to.match(/^Error: kubectl apply --dry-run=server failed \(context [^)]+\): the Job "migrate" cannot be changed in place \(spec\.template is immutable once created\)$/)
    expect(hint).to.include('name: migrate-{{ revision.short }}')
    expect(rest).to.deep.equal([])
    expect(r.stderr).to.not.match(/PodTemplateSpec|ObjectMeta/)
  })
})

// Runs argv[1:] on a pseudo-terminal: waits for kubectl attach's prompt, types two lines, echoes what it saw and
// exits with the child's exit code.
const PTY_DRIVER = `
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
seen = b''
def until(text, timeout):
    global seen
    end = time.time() + timeout
    while text not in seen:
        ready, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not ready:
            return False
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        seen += data
    return True
until(b"command prompt", 120)
time.sleep(1)
os.write(fd, b"hello\\r")
until(b"you said: hello", 30)
gate = os.environ.get("PTY_GATE")
while gate and not os.path.exists(gate):
    time.sleep(0.2)
os.write(fd, b"quit 6\\r")
until(b"\\x00never", 60)
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
`

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}
