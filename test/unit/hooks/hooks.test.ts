import {PassThrough} from 'node:stream'

import {expect} from 'chai'

import {HookRunningError, KubectlError} from '../../../src/errors.js'

import {resolveEnvironment} from '../../../src/config/environment.js'
import {parseConfig} from '../../../src/config/load.js'
import {ConfigErrors} from '../../../src/errors.js'
import {cleanupHookJobs, DeployHooks, HookFailedError, type HookJob, hooksNotUndone, hooksNotUndoneBy, planHooks, refuseBesideRunningHooks, runningHooks} from '../../../src/hooks/hooks.js'
import {buildJob, jobName, podTemplateOf, runJob, shownCommand} from '../../../src/hooks/job.js'
import {couldNotRunHint} from '../../../src/tasks/run.js'
import type {KubeObject} from '../../../src/render/objects.js'
import type {ReleaseRecord} from '../../../src/release/store.js'
import {historyNote} from '../../../src/ui/tables.js'
import {fakeKubectl} from '../../helpers/fake-kubectl.js'
import {memoryReporter} from '../../../src/ui/output.js'

const CONFIG = `app: shop
services:
  web: {image: web, port: 8080}
hooks:
  predeploy:
    - {name: migrate, service: web, command: [bin/rails, db:migrate], timeout: 5m, env: {VERBOSE: 1}}
environments:
  staging: {namespace: shop-staging}
  prod:
    namespace: shop-prod
    hooks: {predeploy: [], postdeploy: [{name: smoke, service: web, command: [bin/smoke]}]}
`

const deployment: KubeObject = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {name: 'web'},
  spec: {
    template: {
      metadata: {labels: {'app.kubernetes.io/name': 'web', 'app.kubernetes.io/instance': 'shop-staging'}, annotations: {'skycap.dev/revision': 'abc'}},
      spec: {
        nodeSelector: {pool: 'a'},
        volumes: [{name: 'config', configMap: {name: 'web-config-1234567890'}}],
        containers: [
          {
            name: 'web',
            image: 'reg/web:abc',
            args: ['serve'],
            ports: [{containerPort: 8080}],
            env: [
              {name: 'VERBOSE', value: '0'},
              {name: 'RAILS_ENV', value: 'production'},
            ],
            envFrom: [{secretRef: {name: 'db'}}],
            readinessProbe: {httpGet: {path: '/healthz', port: 8080}},
            livenessProbe: {httpGet: {path: '/healthz', port: 8080}},
            lifecycle: {preStop: {sleep: {seconds: 5}}},
            resources: {requests: {cpu: '100m'}},
            volumeMounts: [{name: 'config', mountPath: '/etc/skycap/config', readOnly: true}],
          },
        ],
      },
    },
  },
}

describe('hooks: configuration', () => {
  it('an environment list replaces the app list for its phase; the others inherit', async () => {
    const loaded = await parseConfig(CONFIG, '/tmp/x/skycap.yaml')
    expect(resolveEnvironment(loaded, 'staging').hooks.predeploy.map((h) => h.name)).to.deep.equal(['migrate'])
    expect(resolveEnvironment(loaded, 'prod').hooks).to.deep.equal({predeploy: [], postdeploy: [{name: 'smoke', service: 'web', command: ['bin/smoke']}]})
  })

  it('refuses an unknown service, a duplicate name and an empty command, with their lines', async () => {
    const bad = CONFIG.replace('command: [bin/smoke]}]}', 'command: [bin/smoke]}, {name: smoke, service: api, command: []}]}')
    const error = await parseConfig(bad, '/tmp/x/skycap.yaml').then(
      () => undefined,
      (e: unknown) => e as ConfigErrors,
    )
    expect(error).to.be.instanceOf(ConfigErrors)
    expect(error?.message).to.match(/skycap\.yaml:\d+:\d+: environments\.prod\.hooks\.postdeploy\.1\.command must have at least 1 item/)
    const semantic = (await parseConfig(bad.replace('command: []', 'command: [x]'), '/tmp/x/skycap.yaml').catch((e: Error) => e)) as Error
    expect(semantic.message).to.include('environments.prod.hooks.postdeploy[1] (smoke) names an unknown service "api"; known: web')
    expect(semantic.message).to.include('environments.prod.hooks.postdeploy: two hooks are named "smoke"')
  })

  it("a name that is not a DNS label is told the hook name's own limit, 30 characters (it said 63)", async () => {
    const error = (await parseConfig(CONFIG.replace('name: migrate', 'name: Migrate_DB'), '/tmp/x/skycap.yaml').catch((e: Error) => e)) as Error
    expect(error.message).to.include(
      'hooks.predeploy.0.name is "Migrate_DB" but must be a DNS label: lowercase letters, digits and \'-\', starting and ending with a letter or digit, at most 30 characters (it names a Job beside the app and environment)',
    )
  })

  it('refuses a postdeploy hook named like a predeploy hook an environment runs (they shared one Job), at the postdeploy one', async () => {
    const same = CONFIG.replace('hooks: {predeploy: [], postdeploy: [{name: smoke, service: web, command: [bin/smoke]}]}', 'hooks: {postdeploy: [{name: migrate, service: web, command: [bin/smoke]}]}')
    const error = (await parseConfig(same, '/tmp/x/skycap.yaml').catch((e: Error) => e)) as Error
    expect(error.message).to.match(
      /skycap\.yaml:\d+:\d+: environments\.prod\.hooks\.postdeploy\[0\]: "migrate" is also the name of a hook in hooks\.predeploy; a hook's Job is named after it, so the two would share one Job: give them different names$/,
    )
    // Each phase's own list of another environment: no clash.
    await parseConfig(CONFIG, '/tmp/x/skycap.yaml')
  })

  it('plans nothing with --skip-hooks, checks timeouts and pod templates otherwise', async () => {
    const env = resolveEnvironment(await parseConfig(CONFIG, '/tmp/x/skycap.yaml'), 'staging')
    expect(await planHooks(env, [deployment], true)).to.deep.equal([])
    expect((await planHooks(env, [deployment], false)).map((p) => [p.phase, p.hook.name, p.timeoutMs])).to.deep.equal([['predeploy', 'migrate', 300_000]])
    expect(() => podTemplateOf([], 'web')).to.throw('service web renders no Deployment')
  })

  it("finds a blue-green service's pod template in its slot's Deployment, the one its Service selects (skycap run of a recorded blue-green release said web renders no Deployment)", () => {
    const slot = (name: string, image: string) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {name, labels: {'skycap.dev/slot': name.split('-')[1] as string}},
      spec: {template: {spec: {containers: [{name: 'web', image}]}}},
    })
    const service = (selected: string) => ({apiVersion: 'v1', kind: 'Service', metadata: {name: 'web'}, spec: {selector: {'skycap.dev/slot': selected}}})
    const image = (objects: object[]) => podTemplateOf(objects as KubeObject[], 'web').spec.containers[0]?.image
    expect(image([slot('web-blue', 'web:1')])).to.equal('web:1')
    expect(image([slot('web-blue', 'web:1'), slot('web-green', 'web:2'), service('green')])).to.equal('web:2')
    expect(image([slot('web-blue', 'web:1'), slot('web-green', 'web:2'), service('blue')])).to.equal('web:1')
    // A Deployment named after the service wins; two slots and no Service to choose: none is guessed.
    expect(image([slot('web-blue', 'web:1'), {...slot('web-blue', 'web:3'), metadata: {name: 'web'}}])).to.equal('web:3')
    expect(() => podTemplateOf([slot('web-blue', 'web:1'), slot('web-green', 'web:2')] as KubeObject[], 'web')).to.throw('service web renders no Deployment')
    // A Deployment of another service that happens to be named web-blue, without the slot label, is not taken.
    expect(() => podTemplateOf([{...slot('web-blue', 'x'), metadata: {name: 'web-blue'}}] as KubeObject[], 'web')).to.throw('service web renders no Deployment')
  })
})

describe('hooks: the Job', () => {
  it('is the service container with the command, without probes, lifecycle, ports or the app labels', () => {
    const job = buildJob({
      name: 'shop-staging-migrate-7',
      template: podTemplateOf([deployment], 'web'),
      service: 'web',
      command: ['bin/rails', 'db:migrate'],
      env: {VERBOSE: 1},
      timeoutMs: 90_500,
      labels: {'skycap.dev/job-kind': 'hook'},
    }) as any
    expect(job.spec).to.include({backoffLimit: 0, activeDeadlineSeconds: 91})
    expect(job.spec.template.metadata).to.deep.equal({labels: {'skycap.dev/job-kind': 'hook', 'skycap.dev/job': 'shop-staging-migrate-7'}, annotations: {'skycap.dev/revision': 'abc'}})
    const spec = job.spec.template.spec
    expect(spec).to.include({restartPolicy: 'Never'})
    expect(spec.nodeSelector).to.deep.equal({pool: 'a'})
    expect(spec.volumes).to.have.length(1)
    expect(spec.containers).to.deep.equal([
      {
        name: 'web',
        image: 'reg/web:abc',
        command: ['bin/rails', 'db:migrate'],
        env: [
          {name: 'RAILS_ENV', value: 'production'},
          {name: 'VERBOSE', value: '1'},
        ],
        envFrom: [{secretRef: {name: 'db'}}],
        resources: {requests: {cpu: '100m'}},
        volumeMounts: [{name: 'config', mountPath: '/etc/skycap/config', readOnly: true}],
      },
    ])
    const tty = buildJob({name: 'x', template: podTemplateOf([deployment], 'web'), service: 'web', command: ['sh'], image: 'reg/web:def', timeoutMs: 1000, labels: {}, tty: true}) as any
    expect(tty.spec.template.spec.containers[0]).to.include({image: 'reg/web:def', stdin: true, stdinOnce: true, tty: true})
    const piped = buildJob({name: 'x', template: podTemplateOf([deployment], 'web'), service: 'web', command: ['psql'], timeoutMs: 1000, labels: {}, stdin: true}) as any
    expect(piped.spec.template.spec.containers[0]).to.include({stdin: true, stdinOnce: true})
    expect(piped.spec.template.spec.containers[0]).to.not.have.property('tty')
  })

  it('run -i from a pipe: once the container runs, its logs are followed and stdin is fed beside them; the outcome waits for both', async () => {
    const job = buildJob({name: 'j9', template: podTemplateOf([deployment], 'web'), service: 'web', command: ['psql'], timeoutMs: 60_000, labels: {}, stdin: true})
    const pod = (state: object, phase = 'Running') => ({kind: 'Pod', metadata: {name: 'j9-abc', creationTimestamp: 't'}, status: {phase, containerStatuses: [{name: 'web', state}]}})
    const list = (...items: object[]) => ({stdout: JSON.stringify({items: [{kind: 'Job', metadata: {name: 'j9'}}, ...items]})})
    const get = ['--request-timeout=30s', 'get', 'jobs,pods', '-l', 'skycap.dev/job=j9', '-o', 'json']
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'create', '-f', '-']},
      {argv: get, result: list(pod({running: {}}))},
      {argv: get, result: list(pod({terminated: {exitCode: 0, reason: 'Completed'}}, 'Succeeded'))},
    ])
    const {PassThrough} = await import('node:stream')
    ;(fake.kubectl as any).spawner = () => {
      const stdout = new PassThrough()
      stdout.end('INSERT 0 1\n')
      return {stdout, done: Promise.resolve({exitCode: 0, stdout: '', stderr: ''}), kill() {}}
    }
    const fed: string[] = []
    let feedDone = false
    const chunks: string[] = []
    const outcome = await runJob(fake.kubectl, job, {
      onOutput: (c) => chunks.push(c.toString()),
      feed: async (p, c) => {
        fed.push(`${p}/${c}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
        feedDone = true
      },
      deadline: Date.now() + 60_000,
      intervalMs: 1,
    })
    expect(outcome).to.include({result: 'succeeded', exitCode: 0})
    expect(fed).to.deep.equal(['j9-abc/web'])
    expect(feedDone, 'the outcome waited for the feed').to.equal(true)
    expect(chunks.join('')).to.equal('INSERT 0 1\n')
  })

  it('follows the Job through an API server that stops answering for a while (said when lost and back) to its exit code', async () => {
    const job = buildJob({name: 'j2', template: podTemplateOf([deployment], 'web'), service: 'web', command: ['x'], timeoutMs: 60_000, labels: {}})
    const pod = (state: object, phase = 'Running') => ({kind: 'Pod', metadata: {name: 'j2-abc', creationTimestamp: 't'}, status: {phase, containerStatuses: [{name: 'web', state}]}})
    const list = (...items: object[]) => ({stdout: JSON.stringify({items: [{kind: 'Job', metadata: {name: 'j2'}}, ...items]})})
    const get = ['--request-timeout=30s', 'get', 'jobs,pods', '-l', 'skycap.dev/job=j2', '-o', 'json']
    const refused = {exitCode: 1, stderr: 'The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?'}
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'create', '-f', '-']},
      {argv: get, result: list(pod({waiting: {reason: 'ContainerCreating'}}, 'Pending'))},
      {argv: get, result: refused},
      {argv: get, result: refused},
      {argv: get, result: list(pod({terminated: {exitCode: 0, reason: 'Completed'}}, 'Succeeded'))},
    ])
    const events: string[] = []
    const outcome = await runJob(fake.kubectl, job, {deadline: Date.now() + 60_000, intervalMs: 1, onContact: (e) => events.push(e.lost ? `lost: ${e.reason}` : 'back')})
    expect(outcome).to.deep.include({job: 'j2', result: 'succeeded', exitCode: 0})
    expect(events).to.deep.equal(['lost: the connection to the server 10.0.0.1:6443 was refused', 'back'])
    expect(fake.remaining()).to.equal(0)
  })

  it('names stay DNS labels of at most 63 characters and do not collide when cut', () => {
    expect(jobName('shop', 'staging', 'migrate', '12')).to.equal('shop-staging-migrate-12')
    const a = jobName('a'.repeat(30), 'production-eu', 'migrate-the-database', '100')
    const b = jobName('a'.repeat(30), 'production-eu', 'migrate-the-database', '101')
    expect(a).to.have.length.at.most(63)
    expect(a).to.match(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
    expect(a).to.not.equal(b)
  })

  it('follows the Job: streams once the container started, returns its exit code (exact kubectl calls)', async () => {
    const job = buildJob({name: 'j1', template: podTemplateOf([deployment], 'web'), service: 'web', command: ['x'], timeoutMs: 60_000, labels: {}})
    const pod = (state: object, phase = 'Running') => ({kind: 'Pod', metadata: {name: 'j1-abc', creationTimestamp: 't'}, status: {phase, containerStatuses: [{name: 'web', state}]}})
    const list = (...items: object[]) => ({stdout: JSON.stringify({items: [{kind: 'Job', metadata: {name: 'j1'}}, ...items]})})
    const get = ['--request-timeout=30s', 'get', 'jobs,pods', '-l', 'skycap.dev/job=j1', '-o', 'json']
    const fake = fakeKubectl([
      {
        argv: ['--request-timeout=30s', 'create', '-f', '-'],
        input: (i) => expect(JSON.parse(i as string).metadata.name).to.equal('j1'),
        result: {exitCode: 1, stderr: 'Error from server (AlreadyExists): jobs.batch "j1" already exists'},
      },
      {argv: ['--request-timeout=30s', 'delete', 'job', 'j1', '--ignore-not-found', '--wait=true']},
      {argv: ['--request-timeout=30s', 'create', '-f', '-']},
      {argv: get, result: list(pod({waiting: {reason: 'ContainerCreating'}}, 'Pending'))},
      {argv: get, result: list(pod({terminated: {exitCode: 3, reason: 'Error'}}, 'Failed'))},
    ])
    const spawned: string[][] = []
    const {PassThrough} = await import('node:stream')
    ;(fake.kubectl as any).spawner = (_file: string, argv: string[]) => {
      spawned.push(argv)
      const stdout = new PassThrough()
      stdout.end('migrating\n')
      return {stdout, done: Promise.resolve({exitCode: 0, stdout: '', stderr: ''}), kill() {}}
    }
    const chunks: string[] = []
    const outcome = await runJob(fake.kubectl, job, {onOutput: (c) => chunks.push(c.toString()), deadline: Date.now() + 60_000, intervalMs: 1})
    expect(outcome).to.deep.equal({job: 'j1', result: 'failed', message: 'exited 3', exitCode: 3, pod: 'j1-abc'})
    expect(spawned).to.deep.equal([['--request-timeout=0', 'logs', 'j1-abc', '-c', 'web', '--follow']])
    expect(chunks.join('')).to.equal('migrating\n')
    expect(fake.remaining()).to.equal(0)
  })

  it('fails fast on an image that cannot be pulled, and times out at the deadline', async () => {
    const job = buildJob({name: 'j2', template: podTemplateOf([deployment], 'web'), service: 'web', command: ['x'], timeoutMs: 60_000, labels: {}})
    const get = ['--request-timeout=30s', 'get', 'jobs,pods', '-l', 'skycap.dev/job=j2', '-o', 'json']
    const pulling = {
      stdout: JSON.stringify({
        items: [{kind: 'Pod', metadata: {name: 'j2-x'}, status: {phase: 'Pending', containerStatuses: [{name: 'web', state: {waiting: {reason: 'ErrImagePull', message: 'not found'}}}]}}],
      }),
    }
    const fake = fakeKubectl([{argv: ['--request-timeout=30s', 'create', '-f', '-']}, {argv: get, result: pulling}])
    expect(await runJob(fake.kubectl, job, {deadline: Date.now() + 60_000, intervalMs: 1})).to.include({
      result: 'failed',
      message: 'container web of pod j2-x is in ErrImagePull: not found',
      cause: 'image',
    })
    const slow = fakeKubectl([{argv: ['--request-timeout=30s', 'create', '-f', '-']}, {argv: get, result: {stdout: '{"items":[]}'}}])
    expect(await runJob(slow.kubectl, job, {deadline: 0, intervalMs: 1})).to.include({result: 'timed-out', message: 'did not finish in time (no pod was started)'})
  })

  it('a pod the Job deadline stopped is a timeout, not the exit code its killed process left (real node: exit 2)', async () => {
    const job = buildJob({name: 'j4', template: podTemplateOf([deployment], 'web'), service: 'web', command: ['x'], timeoutMs: 5_000, labels: {}})
    const get = ['--request-timeout=30s', 'get', 'jobs,pods', '-l', 'skycap.dev/job=j4', '-o', 'json']
    // What Kubernetes 1.33 shows once activeDeadlineSeconds has passed: the Job's FailureTarget condition (its Failed
    // condition comes later), and a pod whose process the kubelet stopped with SIGTERM.
    const killed = {kind: 'Pod', metadata: {name: 'j4-x', creationTimestamp: 't'}, status: {phase: 'Failed', containerStatuses: [{name: 'web', state: {terminated: {exitCode: 2, reason: 'Error'}}}]}}
    const condition = (type: string) => ({
      kind: 'Job',
      metadata: {name: 'j4'},
      status: {conditions: [{type, status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline'}]},
    })
    for (const type of ['FailureTarget', 'Failed']) {
      const fake = fakeKubectl([{argv: ['--request-timeout=30s', 'create', '-f', '-']}, {argv: get, result: {stdout: JSON.stringify({items: [condition(type), killed]})}}])
      ;(fake.kubectl as any).spawner = () => ({stdout: new PassThrough().end(), done: Promise.resolve({exitCode: 0, stdout: '', stderr: ''}), kill() {}})
      expect(await runJob(fake.kubectl, job, {onOutput: () => {}, deadline: Date.now() + 60_000, intervalMs: 1}), type).to.deep.equal({
        job: 'j4',
        result: 'timed-out',
        message: 'Job was active longer than specified deadline',
        pod: 'j4-x',
      })
    }
  })

  it('a Job deleted while its command runs is a failure at once, not a wait until the timeout', async () => {
    const job = buildJob({name: 'j7', template: podTemplateOf([deployment], 'web'), service: 'web', command: ['x'], timeoutMs: 600_000, labels: {}})
    const get = ['--request-timeout=30s', 'get', 'jobs,pods', '-l', 'skycap.dev/job=j7', '-o', 'json']
    const running = {kind: 'Pod', metadata: {name: 'j7-x', creationTimestamp: 't'}, status: {phase: 'Running', containerStatuses: [{name: 'web', state: {running: {}}}]}}
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'create', '-f', '-']},
      {argv: get, result: {stdout: JSON.stringify({items: [{kind: 'Job', metadata: {name: 'j7'}}, running]})}},
      {argv: get, result: {stdout: '{"items":[]}'}},
      {argv: get, result: {stdout: '{"items":[]}'}},
    ])
    expect(await runJob(fake.kubectl, job, {deadline: Date.now() + 600_000, intervalMs: 1})).to.deep.equal({
      job: 'j7',
      result: 'failed',
      message: "job j7 was deleted before its command finished (kubectl delete, or its namespace's deletion); its exit code is unknown",
      pod: 'j7-x',
      cause: 'deleted',
    })
  })

  it('a Job deleted while its command runs, its pod seen stopped by the deletion in the first poll without the Job: deleted, not the exit code of the SIGTERM (real node: exit 2)', async () => {
    const job = buildJob({name: 'j8', template: podTemplateOf([deployment], 'web'), service: 'web', command: ['x'], timeoutMs: 600_000, labels: {}})
    const get = ['--request-timeout=30s', 'get', 'jobs,pods', '-l', 'skycap.dev/job=j8', '-o', 'json']
    const running = {kind: 'Pod', metadata: {name: 'j8-x', creationTimestamp: 't'}, status: {phase: 'Running', containerStatuses: [{name: 'web', state: {running: {}}}]}}
    // As the real node shows it (kubectl delete jobs at 17:57:10): the deletionTimestamp is the end of the pod's grace
    // period, 30 s after the deletion was asked for.
    const stopped = (finishedAt: string) => ({
      kind: 'Pod',
      metadata: {name: 'j8-x', creationTimestamp: 't', deletionTimestamp: '2026-12-03T17:57:40Z', deletionGracePeriodSeconds: 30},
      status: {phase: 'Failed', containerStatuses: [{name: 'web', state: {terminated: {exitCode: 2, reason: 'Error', finishedAt}}}]},
    })
    const deleted = {
      job: 'j8',
      result: 'failed',
      message: "job j8 was deleted before its command finished (kubectl delete, or its namespace's deletion); its exit code is unknown",
      pod: 'j8-x',
      cause: 'deleted',
    }
    const jobItem = {kind: 'Job', metadata: {name: 'j8'}}
    const foreground = {kind: 'Job', metadata: {name: 'j8', deletionTimestamp: '2026-12-03T17:57:10Z'}}
    // The Job gone (background deletion), or still there being deleted (foreground): the pod ended at or after the deletion.
    for (const [holder, finishedAt] of [
      [undefined, '2026-12-03T17:57:10Z'],
      [undefined, '2026-12-03T17:57:11Z'],
      [foreground, '2026-12-03T17:57:11Z'],
    ] as const) {
      const fake = fakeKubectl([
        {argv: ['--request-timeout=30s', 'create', '-f', '-']},
        {argv: get, result: {stdout: JSON.stringify({items: [jobItem, running]})}},
        {argv: get, result: {stdout: JSON.stringify({items: [...(holder ? [holder] : []), stopped(finishedAt)]})}},
      ])
      ;(fake.kubectl as any).spawner = () => ({stdout: new PassThrough().end(), done: Promise.resolve({exitCode: 0, stdout: '', stderr: ''}), kill() {}})
      expect(await runJob(fake.kubectl, job, {onOutput: () => {}, deadline: Date.now() + 600_000, intervalMs: 1}), `${holder ? 'foreground' : 'background'} ${finishedAt}`).to.deep.equal(deleted)
    }
    // A command that ended before the deletion began (the Job deleted after it finished) keeps its exit code.
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'create', '-f', '-']},
      {argv: get, result: {stdout: JSON.stringify({items: [jobItem, running]})}},
      {argv: get, result: {stdout: JSON.stringify({items: [stopped('2026-12-03T17:57:08Z')]})}},
    ])
    ;(fake.kubectl as any).spawner = () => ({stdout: new PassThrough().end(), done: Promise.resolve({exitCode: 0, stdout: '', stderr: ''}), kill() {}})
    expect(await runJob(fake.kubectl, job, {onOutput: () => {}, deadline: Date.now() + 600_000, intervalMs: 1})).to.deep.equal({
      job: 'j8',
      result: 'failed',
      message: 'exited 2',
      exitCode: 2,
      pod: 'j8-x',
    })
  })

  it('a timeout whose pod never ran says why (not scheduled), not only the Job deadline', async () => {
    const job = buildJob({name: 'j6', template: podTemplateOf([deployment], 'web'), service: 'web', command: ['x'], timeoutMs: 5_000, labels: {}})
    const get = ['--request-timeout=30s', 'get', 'jobs,pods', '-l', 'skycap.dev/job=j6', '-o', 'json']
    const unscheduled = {
      kind: 'Pod',
      metadata: {name: 'j6-x', creationTimestamp: 't'},
      status: {
        phase: 'Pending',
        conditions: [{type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}],
      },
    }
    const jobAt = {kind: 'Job', metadata: {name: 'j6'}, status: {conditions: [{type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline'}]}}
    const fake = fakeKubectl([{argv: ['--request-timeout=30s', 'create', '-f', '-']}, {argv: get, result: {stdout: JSON.stringify({items: [jobAt, unscheduled]})}}])
    expect(await runJob(fake.kubectl, job, {deadline: Date.now() + 60_000, intervalMs: 1})).to.include({
      result: 'timed-out',
      message: "Job was active longer than specified deadline (the command never started: pod j6-x is not scheduled: 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.)",
    })
    // skycap's own clock, the pod still being created.
    const creating = {kind: 'Pod', metadata: {name: 'j6-y', creationTimestamp: 't'}, status: {phase: 'Pending', containerStatuses: [{name: 'web', state: {waiting: {reason: 'ContainerCreating'}}}]}}
    const slow = fakeKubectl([{argv: ['--request-timeout=30s', 'create', '-f', '-']}, {argv: get, result: {stdout: JSON.stringify({items: [{kind: 'Job', metadata: {name: 'j6'}}, creating]})}}])
    expect(await runJob(slow.kubectl, job, {deadline: 0, intervalMs: 1})).to.include({
      result: 'timed-out',
      message: 'did not finish in time (the command never started: container web is ContainerCreating)',
    })
  })

  it('a command the container cannot start (not in the image) is a failure with the runtime message, not exit 128', async () => {
    const job = buildJob({name: 'j5', template: podTemplateOf([deployment], 'web'), service: 'web', command: ['/nope'], timeoutMs: 60_000, labels: {}})
    const get = ['--request-timeout=30s', 'get', 'jobs,pods', '-l', 'skycap.dev/job=j5', '-o', 'json']
    const message =
      'failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/nope": stat /nope: no such file or directory: unknown'
    const pod = {
      kind: 'Pod',
      metadata: {name: 'j5-x', creationTimestamp: 't'},
      status: {phase: 'Failed', containerStatuses: [{name: 'web', state: {terminated: {exitCode: 128, reason: 'StartError', message}}}]},
    }
    const fake = fakeKubectl([{argv: ['--request-timeout=30s', 'create', '-f', '-']}, {argv: get, result: {stdout: JSON.stringify({items: [{kind: 'Job', metadata: {name: 'j5'}}, pod]})}}])
    ;(fake.kubectl as any).spawner = () => ({stdout: new PassThrough().end(), done: Promise.resolve({exitCode: 0, stdout: '', stderr: ''}), kill() {}})
    expect(await runJob(fake.kubectl, job, {onOutput: () => {}, deadline: Date.now() + 60_000, intervalMs: 1})).to.deep.equal({
      job: 'j5',
      result: 'failed',
      message: 'the command could not start (StartError): exec: "/nope": stat /nope: no such file or directory',
      pod: 'j5-x',
      cause: 'start',
    })
  })

  it("run's hint for a command that could not run makes sense: the image lacks the command, or the Job kept (--keep) or deleted (it named a Job already gone)", () => {
    const {kubectl} = fakeKubectl([])
    const run = {job: 'shop-test-run-web-abc123', image: 'registry.example/web:1', keep: false}
    expect(couldNotRunHint(kubectl, 'start', run)).to.equal('The command is not in registry.example/web:1, or not executable there: check its name, or give its full path.')
    const gone = couldNotRunHint(kubectl, undefined, run)
    expect(gone).to.match(/^Its Job is deleted: run it again with --keep to keep the Job, then `kubectl .*describe job <name>` \(the name it prints\) shows its events\.$/)
    expect(gone).to.not.include(run.job)
    expect(couldNotRunHint(kubectl, undefined, {...run, keep: true})).to.match(/^`kubectl .*describe job shop-test-run-web-abc123` shows its events \(--keep kept the Job\)\.$/)
    expect(couldNotRunHint(kubectl, 'image', run)).to.match(/^The node cannot pull registry.example\/web:1/)
  })

  it('a Ctrl-C that stops a poll\'s kubectl (the terminal signals the whole group) is the interrupted outcome, not an error (run --keep said "kubectl was stopped")', async () => {
    const job = buildJob({name: 'j6', template: podTemplateOf([deployment], 'web'), service: 'web', command: ['x'], timeoutMs: 60_000, labels: {}})
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'create', '-f', '-']},
      {argv: ['--request-timeout=30s', 'get', 'jobs,pods', '-l', 'skycap.dev/job=j6', '-o', 'json'], result: {exitCode: 130, signal: 'SIGINT'}},
    ])
    expect(await runJob(fake.kubectl, job, {deadline: Date.now() + 60_000, intervalMs: 1})).to.deep.equal({job: 'j6', result: 'interrupted', message: 'interrupted; job j6 was stopped'})
    expect(fake.remaining()).to.equal(0)
  })

  it('a Job the API server refuses to create is a refused outcome for hooks; a refusal after it was created stays an error', async () => {
    const job = buildJob({name: 'j3', template: podTemplateOf([deployment], 'web'), service: 'web', command: ['x'], timeoutMs: 60_000, labels: {}})
    const create = ['--request-timeout=30s', 'create', '-f', '-']
    const quota = {exitCode: 1, stderr: 'Error from server (Forbidden): error when creating "STDIN": jobs.batch "j3" is forbidden: exceeded quota: no-jobs\n'}
    const refused = fakeKubectl([{argv: create, result: quota}])
    expect(await runJob(refused.kubectl, job, {deadline: Date.now() + 60_000, intervalMs: 1, refusalIsOutcome: true})).to.deep.equal({
      job: 'j3',
      result: 'failed',
      message: 'the API server refused its Job: Error from server (Forbidden): error when creating "STDIN": jobs.batch "j3" is forbidden: exceeded quota: no-jobs',
      refused: true,
    })
    // Without the option (skycap run), the kubectl error, with its quota hint.
    const plain = fakeKubectl([{argv: create, result: quota}])
    const error = (await runJob(plain.kubectl, job, {deadline: Date.now() + 60_000, intervalMs: 1}).catch((e: unknown) => e)) as KubectlError
    expect(error).to.be.instanceOf(KubectlError)
    expect(error.hint).to.contain('ResourceQuota')
    // Created, then no right to watch its pods: the hook may be running, so that is not "refused".
    const later = fakeKubectl([
      {argv: create},
      {
        argv: ['--request-timeout=30s', 'get', 'jobs,pods', '-l', 'skycap.dev/job=j3', '-o', 'json'],
        result: {exitCode: 1, stderr: 'Error from server (Forbidden): pods is forbidden: User "x" cannot list resource "pods"'},
      },
    ])
    const after = await runJob(later.kubectl, job, {deadline: Date.now() + 60_000, intervalMs: 1, refusalIsOutcome: true}).catch((e: unknown) => e)
    expect(after).to.be.instanceOf(KubectlError)
  })

  it('cleans up hook Jobs of releases older than the newest three, but not one still running (a migration a Ctrl-C left to finish)', async () => {
    const jobs = [4, 5, 6, 7, 8].map((n) => ({
      kind: 'Job',
      metadata: {name: `h-${n}`, labels: {'skycap.dev/release': String(n)}},
      status: n === 4 ? {active: 1} : {succeeded: 1, conditions: [{type: 'Complete', status: 'True'}]},
    }))
    const fake = fakeKubectl([
      {
        argv: ['--request-timeout=30s', 'get', 'jobs', '-l', 'skycap.dev/job-of=shop,skycap.dev/environment=staging,skycap.dev/job-kind=hook', '-o', 'json'],
        result: {stdout: JSON.stringify({items: jobs})},
      },
      {argv: ['--request-timeout=30s', 'delete', 'jobs', 'h-5', 'h-6', '--ignore-not-found', '--wait=false', '--cascade=background']},
    ])
    expect(await cleanupHookJobs(fake.kubectl, 'shop', 'staging', 9)).to.deep.equal(['h-5', 'h-6'])
    // Given the list the deploy read under its lock, it does not list them again (one kubectl call less).
    const given = fakeKubectl([{argv: ['--request-timeout=30s', 'delete', 'jobs', 'h-5', 'h-6', '--ignore-not-found', '--wait=false', '--cascade=background']}])
    expect(await cleanupHookJobs(given.kubectl, 'shop', 'staging', 9, jobs as unknown as HookJob[])).to.deep.equal(['h-5', 'h-6'])
    expect(given.remaining()).to.equal(0)
  })
})

describe('hooks: a hook an interrupted deploy left running', () => {
  const list = ['--request-timeout=30s', 'get', 'jobs', '-l', 'skycap.dev/job-of=shop,skycap.dev/environment=staging,skycap.dev/job-kind=hook', '-o', 'json']
  const hookJob = (release: number, status: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    kind: 'Job',
    metadata: {name: `shop-staging-migrate-${release}`, labels: {'skycap.dev/release': String(release), 'skycap.dev/hook': 'migrate'}, ...extra},
    status,
  })
  const jobs = [
    hookJob(3, {succeeded: 1, conditions: [{type: 'Complete', status: 'True'}]}),
    hookJob(4, {failed: 1, conditions: [{type: 'Failed', status: 'True'}]}),
    // Being deleted: gone in a moment, not a reason to wait.
    hookJob(5, {active: 1}, {deletionTimestamp: '2026-12-04T10:00:00Z'}),
    // Its pod failed and the Job makes another (backoffLimit): no pod active, still not ended.
    hookJob(7, {active: 0, failed: 1, startTime: '2026-12-04T10:01:00Z'}),
    hookJob(6, {active: 1, startTime: '2026-12-04T10:00:00Z'}),
  ]

  it('finds the Jobs that have not ended (no Complete or Failed condition, not being deleted), oldest release first', async () => {
    const fake = fakeKubectl([{argv: list, result: {stdout: JSON.stringify({items: jobs})}}])
    expect(await runningHooks(fake.kubectl, 'shop', 'staging')).to.deep.equal([
      {job: 'shop-staging-migrate-6', hook: 'migrate', release: 6, startedAt: '2026-12-04T10:00:00Z'},
      {job: 'shop-staging-migrate-7', hook: 'migrate', release: 7, startedAt: '2026-12-04T10:01:00Z'},
    ])
  })

  it('refuses a deploy with hooks beside one still running (exit 3, hook_running, what to type); warns a deploy that runs none (--skip-hooks, or none configured), once', async () => {
    const running = {items: [hookJob(6, {active: 1, startTime: '2026-12-04T10:00:00Z'})]}
    const fake = fakeKubectl([{argv: ['--context', 'kind-x', '--namespace', 'shop-staging', ...list], result: {stdout: JSON.stringify(running)}}], {namespace: 'shop-staging', context: 'kind-x'})
    const error = await refuseBesideRunningHooks(fake.kubectl, 'shop', 'staging', {skipHooks: false, hasHooks: true, reporter: memoryReporter()}).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(HookRunningError)
    const e = error as HookRunningError
    expect([e.exitCode, e.code]).to.deep.equal([3, 'hook_running'])
    expect(e.message).to.equal(
      'hook migrate of release 6 (job shop-staging-migrate-6, started 2026-12-04T10:00:00Z) is still running: an earlier deploy of staging (interrupted, or out of time) left it to finish, and this deploy would run its hooks again beside it; nothing was changed',
    )
    expect(e.hint).to.equal(
      'Wait for it to end (`kubectl logs -f job/shop-staging-migrate-6 -n shop-staging --context kind-x` follows it) or stop it (`kubectl delete job shop-staging-migrate-6 -n shop-staging --context kind-x`), then deploy again; --skip-hooks deploys now without running hooks.',
    )
    const answer = {argv: list, result: {stdout: JSON.stringify(running)}}
    const warned = async (options: {skipHooks: boolean; hasHooks: boolean; quiet?: boolean}) => {
      const reporter = memoryReporter()
      const k = fakeKubectl([answer])
      await refuseBesideRunningHooks(k.kubectl, 'shop', 'staging', {...options, reporter})
      expect(k.remaining()).to.equal(0)
      return reporter.warnings
    }
    const said = (why: string) => [
      `hook migrate of release 6 (job shop-staging-migrate-6, started 2026-12-04T10:00:00Z) is still running (an earlier deploy left it to finish); this deploy runs no hooks (${why}) and rolls out beside it`,
    ]
    expect(await warned({skipHooks: true, hasHooks: true})).to.deep.equal(said('--skip-hooks'))
    // Hooks removed from skycap.yaml while a migration runs: it rolled out beside it without a word.
    expect(await warned({skipHooks: false, hasHooks: false})).to.deep.equal(said('none configured'))
    // The second look, under the lock: refuses, but does not warn again.
    expect(await warned({skipHooks: true, hasHooks: true, quiet: true})).to.deep.equal([])
    // A deploy that runs no hooks asks only when a recent release left one running (interrupted, out of time).
    const none = fakeKubectl([])
    const ran = (result: 'succeeded' | 'interrupted') => ({record: {hooks: [{name: 'migrate', phase: 'predeploy', result, durationMs: 1, job: 'j'}]} as unknown as ReleaseRecord})
    await refuseBesideRunningHooks(none.kubectl, 'shop', 'staging', {skipHooks: false, hasHooks: false, reporter: memoryReporter(), releases: [ran('succeeded')]})
    await refuseBesideRunningHooks(none.kubectl, 'shop', 'staging', {skipHooks: true, hasHooks: true, reporter: memoryReporter(), releases: []})
    expect(none.calls).to.deep.equal([])
    const asked = fakeKubectl([answer])
    await refuseBesideRunningHooks(asked.kubectl, 'shop', 'staging', {skipHooks: false, hasHooks: false, reporter: memoryReporter(), releases: [ran('succeeded'), ran('interrupted')]})
    expect(asked.remaining()).to.equal(0)
    expect(fake.remaining()).to.equal(0)
  })
})

/** A predeploy hook whose deploy was interrupted (Ctrl-C) as soon as its Job was created, with kubectl bound as given. */
async function interruptedPredeploy(bound: {context?: string; namespace?: string} = {}) {
  const loaded = await parseConfig(CONFIG, '/tmp/x/skycap.yaml')
  const env = resolveEnvironment(loaded, 'staging')
  const flags = [...(bound.context ? ['--context', bound.context] : []), ...(bound.namespace ? ['--namespace', bound.namespace] : []), '--request-timeout=30s']
  const fake = fakeKubectl(
    [
      {argv: [...flags, 'get', 'jobs', '-l', 'skycap.dev/job-of=shop,skycap.dev/environment=staging,skycap.dev/job-kind=hook', '-o', 'json'], result: {stdout: '{"items":[]}'}},
      {argv: [...flags, 'create', '-f', '-']},
    ],
    bound,
  )
  const controller = new AbortController()
  controller.abort()
  const hooks = new DeployHooks(
    await planHooks(env, [deployment], false),
    {kubectl: fake.kubectl, app: 'shop', environment: 'staging', release: 4, objects: [deployment], config: loaded.config, reporter: memoryReporter(), signal: controller.signal},
    false,
  )
  const error = (await hooks.predeploy().catch((e: unknown) => e)) as HookFailedError
  return {error, hooks, fake}
}

describe('hooks: Ctrl-C during a predeploy hook', () => {
  it('says the Job goes on running (it is not stopped), and the failure is an interruption', async () => {
    const {error, hooks, fake} = await interruptedPredeploy()
    expect(error).to.be.instanceOf(HookFailedError)
    expect(error.interrupted).to.equal(true)
    expect(error.message).to.equal(
      "predeploy hook migrate was interrupted: skycap stopped following it; its job shop-staging-migrate-4 was not stopped and goes on running; release 4 was not rolled out (the running release's workloads are untouched)",
    )
    expect(error.message).to.not.include('was stopped;')
    expect(error.hint).to.include('kubectl logs -f job/shop-staging-migrate-4')
    expect(hooks.recordFields().hooks?.[0]).to.include({name: 'migrate', result: 'interrupted', job: 'shop-staging-migrate-4'})
    expect(fake.remaining()).to.equal(0)
  })

  it("a Ctrl-C that stops the cleanup before the first Job, or the Job's create, is the same interruption (it escaped as an error and the deploy recorded nothing)", async () => {
    const loaded = await parseConfig(CONFIG, '/tmp/x/skycap.yaml')
    const env = resolveEnvironment(loaded, 'staging')
    const list = ['--request-timeout=30s', 'get', 'jobs', '-l', 'skycap.dev/job-of=shop,skycap.dev/environment=staging,skycap.dev/job-kind=hook', '-o', 'json']
    const sigint = {exitCode: 130, signal: 'SIGINT' as const}
    const run = async (script: Array<{argv: string[]; result?: Record<string, unknown>}>) => {
      const fake = fakeKubectl(script)
      const hooks = new DeployHooks(
        await planHooks(env, [deployment], false),
        {kubectl: fake.kubectl, app: 'shop', environment: 'staging', release: 4, objects: [deployment], config: loaded.config, reporter: memoryReporter()},
        false,
      )
      const error = (await hooks.predeploy().catch((e: unknown) => e)) as HookFailedError
      expect(fake.remaining()).to.equal(0)
      return {error, hooks}
    }
    const cleanup = await run([{argv: list, result: sigint}])
    expect(cleanup.error).to.be.instanceOf(HookFailedError)
    expect(cleanup.error.interrupted).to.equal(true)
    expect(cleanup.error.message).to.equal(
      "predeploy hook migrate was interrupted: interrupted before it started (no job was created); release 4 was not rolled out (the running release's workloads are untouched)",
    )
    expect(cleanup.error.hint).to.equal('No hook ran; deploy again.')
    expect(cleanup.hooks.recordFields()).to.deep.equal({})
    const create = await run([
      {argv: list, result: {stdout: '{"items":[]}'}},
      {argv: ['--request-timeout=30s', 'create', '-f', '-'], result: sigint},
    ])
    expect(create.error.interrupted).to.equal(true)
    expect(create.error.message).to.equal(
      "predeploy hook migrate was interrupted: interrupted while its job shop-staging-migrate-4 was being created (it may have been, and then runs on); release 4 was not rolled out (the running release's workloads are untouched)",
    )
    expect(create.error.hint).to.include('kubectl logs -f job/shop-staging-migrate-4')
    expect(create.hooks.recordFields().hooks?.[0]).to.include({name: 'migrate', result: 'interrupted', job: 'shop-staging-migrate-4'})
  })

  it("names kubectl commands with the environment's namespace and context (a bare `kubectl logs job/…` looked in the default namespace)", async () => {
    const {error} = await interruptedPredeploy({context: 'staging-ctx', namespace: 'shop-staging'})
    expect(error.hint).to.include('`kubectl logs -f job/shop-staging-migrate-4 -n shop-staging --context staging-ctx` follows the hook')
  })
})

describe('hooks: a predeploy hook past its timeout', () => {
  it('says it ran past its timeout (not only the Job deadline’s words) and the hint says how to give it longer', async () => {
    const loaded = await parseConfig(CONFIG, '/tmp/x/skycap.yaml')
    const env = resolveEnvironment(loaded, 'staging')
    const get = ['--request-timeout=30s', 'get', 'jobs,pods', '-l', 'skycap.dev/job=shop-staging-migrate-4', '-o', 'json']
    const deadline = {type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline'}
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'get', 'jobs', '-l', 'skycap.dev/job-of=shop,skycap.dev/environment=staging,skycap.dev/job-kind=hook', '-o', 'json'], result: {stdout: '{"items":[]}'}},
      {argv: ['--request-timeout=30s', 'create', '-f', '-']},
      {argv: get, result: {stdout: JSON.stringify({items: [{kind: 'Job', metadata: {name: 'shop-staging-migrate-4'}, status: {conditions: [deadline]}}]})}},
    ])
    const hooks = new DeployHooks(
      await planHooks(env, [deployment], false),
      {kubectl: fake.kubectl, app: 'shop', environment: 'staging', release: 4, objects: [deployment], config: loaded.config, reporter: memoryReporter()},
      false,
    )
    const error = (await hooks.predeploy().catch((e: unknown) => e)) as HookFailedError
    expect(error).to.be.instanceOf(HookFailedError)
    expect(error.message).to.equal('predeploy hook migrate failed (did not finish within its timeout of 5m (no pod was started)); release 4 was not rolled out (the running release is untouched)')
    expect(error.hint).to.match(/[Rr]aise the hook's timeout in skycap\.yaml \(`timeout:`, default 10m\)/)
    expect(hooks.recordFields().hooks?.[0]).to.include({name: 'migrate', result: 'timed-out'})
  })

  it('of a first release says there was none before it (it said "the running release is untouched" of none)', async () => {
    const loaded = await parseConfig(CONFIG, '/tmp/x/skycap.yaml')
    const env = resolveEnvironment(loaded, 'staging')
    const deadline = {type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline'}
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'get', 'jobs', '-l', 'skycap.dev/job-of=shop,skycap.dev/environment=staging,skycap.dev/job-kind=hook', '-o', 'json'], result: {stdout: '{"items":[]}'}},
      {argv: ['--request-timeout=30s', 'create', '-f', '-']},
      {
        argv: ['--request-timeout=30s', 'get', 'jobs,pods', '-l', 'skycap.dev/job=shop-staging-migrate-1', '-o', 'json'],
        result: {stdout: JSON.stringify({items: [{kind: 'Job', metadata: {name: 'shop-staging-migrate-1'}, status: {conditions: [deadline]}}]})},
      },
    ])
    const context = {kubectl: fake.kubectl, app: 'shop', environment: 'staging', release: 1, first: true, objects: [deployment], config: loaded.config, reporter: memoryReporter()}
    const error = (await new DeployHooks(await planHooks(env, [deployment], false), context, false).predeploy().catch((e: unknown) => e)) as HookFailedError
    expect(error.message).to.equal(
      'predeploy hook migrate failed (did not finish within its timeout of 5m (no pod was started)); release 1 was not rolled out (no release of staging has succeeded before it)',
    )
  })
})

describe('hooks: a predeploy hook that failed through no fault of its command', () => {
  /** `events`: the answer to the one `kubectl get events` of pull failures, asked after the first poll. */
  const failedBy = async (items: object[][], events?: object[], create?: {exitCode: number; stderr: string}) => {
    const loaded = await parseConfig(CONFIG, '/tmp/x/skycap.yaml')
    const env = resolveEnvironment(loaded, 'staging')
    const get = ['--request-timeout=30s', 'get', 'jobs,pods', '-l', 'skycap.dev/job=shop-staging-migrate-4', '-o', 'json']
    const polls = items.map((list) => ({argv: get, result: {stdout: JSON.stringify({items: list})}}))
    const asked = events
      ? [{argv: ['--request-timeout=30s', 'get', 'events', '--field-selector', 'involvedObject.kind=Pod,reason=Failed', '-o', 'json'], result: {stdout: JSON.stringify({items: events})}}]
      : []
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'get', 'jobs', '-l', 'skycap.dev/job-of=shop,skycap.dev/environment=staging,skycap.dev/job-kind=hook', '-o', 'json'], result: {stdout: '{"items":[]}'}},
      {argv: ['--request-timeout=30s', 'create', '-f', '-'], ...(create ? {result: create} : {})},
      ...polls.slice(0, 1),
      ...asked,
      ...polls.slice(1),
    ])
    const reporter = memoryReporter()
    const hooks = new DeployHooks(
      await planHooks(env, [deployment], false),
      {kubectl: fake.kubectl, app: 'shop', environment: 'staging', release: 4, objects: [deployment], config: loaded.config, reporter, intervalMs: 1},
      false,
    )
    const error = (await hooks.predeploy().catch((e: unknown) => e)) as HookFailedError
    expect(error).to.be.instanceOf(HookFailedError)
    expect(fake.remaining()).to.equal(0)
    return error
  }
  const job = {kind: 'Job', metadata: {name: 'shop-staging-migrate-4'}}

  it('an image the node cannot pull: the hint names the image and how to get it there, not "fix the command"', async () => {
    const pulling = {
      kind: 'Pod',
      metadata: {name: 'm-x', uid: 'p1', creationTimestamp: 't'},
      status: {phase: 'Pending', containerStatuses: [{name: 'web', state: {waiting: {reason: 'ImagePullBackOff', message: 'Back-off pulling image "reg/web:abc"'}}}]},
    }
    // The back-off does not say what failed; the kubelet's event does (not found: it will not pass).
    const notFound = 'Failed to pull image "reg/web:abc": rpc error: code = NotFound desc = failed to pull and unpack image "reg/web:abc": reg/web:abc: not found'
    const event = {reason: 'Failed', message: notFound, involvedObject: {kind: 'Pod', name: 'm-x', uid: 'p1', fieldPath: 'spec.containers{web}'}}
    const error = await failedBy([[job, pulling]], [event])
    expect(error.message).to.equal(
      `predeploy hook migrate failed (container web of pod m-x is in ImagePullBackOff: Back-off pulling image "reg/web:abc"; the last pull error: ${notFound}); release 4 was not rolled out (the running release is untouched)`,
    )
    expect(error.hint).to.equal(
      "The hook runs in its service's image of this release (reg/web:abc), which the node cannot pull: push it (skycap build), or fix the registry credentials (imagePullSecrets), and deploy again. --skip-hooks deploys without hooks.",
    )
    expect(error.jsonHint).to.equal(error.hint)
  })

  it('a Job the API server refused (a Role without create on jobs): the hint asks for the right, not to fix the command or describe a Job never made', async () => {
    const forbidden =
      'Error from server (Forbidden): error when creating "STDIN": jobs.batch is forbidden: User "system:serviceaccount:shop:ci" cannot create resource "jobs" in API group "batch" in the namespace "shop-staging"\n'
    const error = await failedBy([], undefined, {exitCode: 1, stderr: forbidden})
    expect(error.message).to.match(/^predeploy hook migrate failed \(the API server refused its Job: Error from server \(Forbidden\)/)
    expect(error.hint).to.equal('Your user may not create Jobs in the namespace, which hooks run as: ask a cluster admin for create on jobs (docs/rbac.md), or deploy with --skip-hooks.')
    expect(error.jsonHint).to.equal(error.hint)
  })

  it('a Job deleted while it ran: the hint does not send the user to its logs (they went with it)', async () => {
    const running = {kind: 'Pod', metadata: {name: 'm-x', creationTimestamp: 't'}, status: {phase: 'Pending'}}
    const error = await failedBy([[job, running], [], []])
    expect(error.message).to.match(/^predeploy hook migrate failed \(job shop-staging-migrate-4 was deleted before its command finished/)
    expect(error.hint).to.not.include('kubectl logs')
    expect(error.hint).to.not.include('kubectl describe job')
    expect(error.hint).to.equal(
      'Its Job went while the command ran, with its output and exit code; find out what deleted it (`kubectl get events`), and deploy again. --skip-hooks deploys without hooks.',
    )
  })
})

describe('hooks: a long command on the progress line', () => {
  it('is cut at 200 characters, saying how much was left out; a short one is shown whole', () => {
    expect(shownCommand(['bin/rails', 'db:migrate'])).to.equal('bin/rails db:migrate')
    const long = ['seed', ...Array.from({length: 1500}, (_, i) => `--item=${'x'.repeat(200)}${i}`)]
    const shown = shownCommand(long)
    const whole = long.join(' ')
    expect(shown).to.equal(`${whole.slice(0, 200)}… (${whole.length - 200} more characters)`)
    expect(shownCommand(['x'.repeat(200)])).to.equal('x'.repeat(200))
  })

  it('shows each argument as a shell reads it back: one with spaces or quotes is quoted', () => {
    expect(shownCommand(['/bin/sh', '-c', "echo 'hi' && exit 3"])).to.equal(`/bin/sh -c 'echo '\\''hi'\\'' && exit 3'`)
    expect(shownCommand(['/app', 'say', 'AddUsers: migrating', 'ERROR: relation users already exists'])).to.equal("/app say 'AddUsers: migrating' 'ERROR: relation users already exists'")
  })
})

describe('hooks: records', () => {
  const record = (n: number, hooks?: ReleaseRecord['hooks'], skipHooks?: boolean): ReleaseRecord => ({
    number: n,
    app: 'shop',
    environment: 'staging',
    action: 'deploy',
    result: 'succeeded',
    revision: {sha: 'a'.repeat(40), short: 'aaaaaaa', subject: 'subject'},
    images: {},
    configuredReplicas: {},
    user: 'u',
    startedAt: '',
    finishedAt: '',
    durationMs: 0,
    ...(hooks ? {hooks} : {}),
    ...(skipHooks ? {skipHooks} : {}),
  })

  it('history notes the hooks and --skip-hooks; a record without them reads as before', () => {
    expect(historyNote(record(3, [{name: 'migrate', phase: 'predeploy', result: 'succeeded', durationMs: 4200, exitCode: 0, job: 'j'}]))).to.equal('subject; hooks: migrate succeeded 4s')
    expect(historyNote(record(4, undefined, true))).to.equal('subject; hooks skipped')
    expect(historyNote(record(2))).to.equal('subject')
    // deploy --reason is kept with the release (it was in the lock only, gone once the deploy ended).
    expect(historyNote({...record(5), reason: 'hotfix for #12'})).to.equal('subject; reason: hotfix for #12')
  })

  it('a rollback says which hooks it does not undo', () => {
    expect(hooksNotUndone([record(2)])).to.equal(undefined)
    expect(hooksNotUndone([record(3, [{name: 'migrate', phase: 'predeploy', result: 'succeeded', durationMs: 1, job: 'j'}]), record(2)])).to.equal(
      'hooks are not undone by a rollback: migrate (release 3) ran and what it changed (a migration, say) stays as it is',
    )
    // Ctrl-C during a hook leaves its Job running: it is named too (it was left out).
    expect(hooksNotUndone([record(5, [{name: 'migrate', phase: 'predeploy', result: 'interrupted', durationMs: 1, job: 'j'}])])).to.equal(
      'hooks are not undone by a rollback: migrate (release 5, left running when its deploy was interrupted) ran and what it changed (a migration, say) stays as it is',
    )
    // A hook its timeout stopped ran, maybe half-way: named too.
    expect(hooksNotUndone([record(6, [{name: 'migrate', phase: 'predeploy', result: 'timed-out', durationMs: 1, job: 'j'}])])).to.equal(
      'hooks are not undone by a rollback: migrate (release 6, stopped at its timeout, maybe half-way) ran and what it changed (a migration, say) stays as it is',
    )
    // A hook that failed is said to have failed, with its exit code when known (release 8's migrate exited 3 and was
    // listed as if it ran), after those that ran; one whose container never ended has no exit code to give.
    const hook = (name: string, result: 'succeeded' | 'failed' | 'timed-out', exitCode?: number) => ({
      name,
      phase: 'predeploy' as const,
      result,
      durationMs: 1,
      job: 'j',
      ...(exitCode === undefined ? {} : {exitCode}),
    })
    expect(hooksNotUndone([record(8, [hook('migrate', 'failed', 3)]), record(9, [hook('migrate', 'timed-out')])])).to.equal(
      'hooks are not undone by a rollback: migrate (release 9, stopped at its timeout, maybe half-way) ran and what it changed (a migration, say) stays as it is; migrate (release 8, failed with exit code 3: what it did before failing stays)',
    )
    expect(hooksNotUndone([record(8, [hook('migrate', 'failed', 3)]), record(9, [hook('migrate', 'failed'), hook('seed', 'succeeded', 0), hook('smoke', 'succeeded', 0)])])).to.equal(
      'hooks are not undone by a rollback: seed (release 9), smoke (release 9) ran and what they changed (a migration, say) stays as it is; migrate (release 8, failed with exit code 3: what it did before failing stays); migrate (release 9, failed: what it did before failing, if anything, stays)',
    )
  })

  it("the automatic rollback names the hooks of every release it leaves behind, not only the failed one's", () => {
    const rec = (number: number, result: ReleaseRecord['result'], hooks: ReleaseRecord['hooks']) => ({number, result, hooks}) as ReleaseRecord
    const earlier = [
      {record: rec(2, 'interrupted', [{name: 'migrate', phase: 'predeploy', result: 'interrupted', durationMs: 1, job: 'j2'}])},
      {record: rec(1, 'succeeded', [{name: 'migrate', phase: 'predeploy', result: 'succeeded', durationMs: 1, job: 'j1'}])},
    ]
    const failed = rec(3, 'failed', [{name: 'smoke', phase: 'postdeploy', result: 'failed', durationMs: 1, job: 'j3', exitCode: 4}])
    expect(hooksNotUndoneBy(1, earlier, failed)).to.equal(
      'hooks are not undone by a rollback: migrate (release 2, left running when its deploy was interrupted) ran and what it changed (a migration, say) stays as it is; smoke (release 3, failed with exit code 4: what it did before failing stays)',
    )
    // Rolled back to the release just before: the failed one's only, as before.
    expect(hooksNotUndoneBy(2, earlier, failed)).to.equal('hooks are not undone by a rollback: smoke (release 3, failed with exit code 4: what it did before failing stays)')
  })
})
