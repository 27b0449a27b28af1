import {expect} from 'chai'
import {execa} from 'execa'
import net from 'node:net'
import {join} from 'node:path'
import {PassThrough} from 'node:stream'
import {pathToFileURL} from 'node:url'

import {splitCommand} from '../../../commands/_command-line.js'
import {classify, cutGoValues, Kubectl, type ProcessRunner, type RunOptions} from '../../../src/kubectl/kubectl.js'
import {UserError} from '../../../src/errors.js'
import {execInService} from '../../../src/tasks/exec.js'
import {portForward} from '../../../src/tasks/port-forward.js'
import type {Reporter} from '../../../src/ui/output.js'
import {choosePod, forwardTarget} from '../../../src/tasks/pods.js'
import {canListen} from '../../../src/net/ports.js'
import {configuredPort, parsePorts} from '../../../src/tasks/port-forward.js'
import {fakeKubectl, quietSpawner} from '../../helpers/fake-kubectl.js'
import {repoRoot, TempRepo} from '../../helpers/repo.js'

const pod = (name: string, created: string, ready: boolean, deleting = false) => ({
  kind: 'Pod',
  metadata: {name, creationTimestamp: created, ...(deleting ? {deletionTimestamp: created} : {})},
  // A sidecar (a native one: an init container that runs beside the others) and a one-off init container.
  spec: {initContainers: [{name: 'migrate-wait'}, {name: 'envoy', restartPolicy: 'Always'}], containers: [{name: 'web'}, {name: 'metrics'}]},
  status: {conditions: [{type: 'Ready', status: ready ? 'True' : 'False'}]},
})
const SELECTOR = 'app.kubernetes.io/instance=shop-staging,app.kubernetes.io/name=web'

describe('tasks: command lines', () => {
  it('splits at the first --, keeps the command untouched, and reads -it as -i -t', () => {
    expect(splitCommand(['web', '-it', '-e', 'prod', '--', 'bin/console', '--', '-it'])).to.deep.equal({own: ['web', '-i', '-t', '-e', 'prod'], command: ['bin/console', '--', '-it']})
    expect(splitCommand(['web'])).to.deep.equal({own: ['web'], command: []})
  })

  it('ports are [LOCAL:]REMOTE', () => {
    expect(parsePorts('8080')).to.deep.equal({local: 8080, remote: 8080})
    expect(parsePorts('5433:5432')).to.deep.equal({local: 5433, remote: 5432})
    expect(parsePorts('0:80')).to.deep.equal({local: 0, remote: 80})
    for (const bad of ['', 'http', '70000', '1:2:3', ':80', '80:0']) expect(() => parsePorts(bad), bad).to.throw('is not [LOCAL:]REMOTE ports')
    // No ports given: the service's one port in skycap.yaml, locally the same; several or none, which to forward.
    expect(configuredPort('web', {image: 'web', port: 8080})).to.deep.equal({local: 8080, remote: 8080})
    expect(configuredPort('cache', {image: 'redis', ports: [{name: 'redis', port: 6379}]})).to.deep.equal({local: 6379, remote: 6379})
    expect(() => configuredPort('worker', {image: 'worker'})).to.throw('worker has no port in skycap.yaml: say which to forward')
    expect(() =>
      configuredPort('api', {
        image: 'api',
        ports: [
          {name: 'http', port: 80},
          {name: 'grpc', port: 9090},
        ],
      }),
    ).to.throw('api has 2 ports (http 80, grpc 9090): say which to forward')
  })
})

describe('tasks: does stdin bring input', () => {
  const probe = async (stdin: 'pipe' | 'ignore' | {file: string}, env: Record<string, string>) => {
    const module = pathToFileURL(join(repoRoot, 'dist/src/tasks/stdin.js')).href
    const code = `import(${JSON.stringify(module)}).then((m) => console.log(m.stdinBringsInput()))`
    // A file as the shell's `< file` gives it: the descriptor itself, not a pipe fed from it.
    const r =
      typeof stdin === 'object'
        ? await execa('sh', ['-c', 'exec node --input-type=module -e "$1" < "$2"', 'sh', code, stdin.file], {env})
        : await execa('node', ['--input-type=module', '-e', code], {stdin, env, ...(stdin === 'pipe' ? {input: 'x'} : {})})
    return r.stdout
  }

  it('a non-empty file or a pipe does (a pipe not under CI); /dev/null, an empty file and a pipe under CI do not', async () => {
    const repo = new TempRepo('skycap-stdin-')
    try {
      repo.write('input.sql', 'select 1;\n')
      repo.write('empty', '')
      expect(await probe({file: join(repo.dir, 'input.sql')}, {CI: ''})).to.equal('true')
      expect(await probe('pipe', {CI: ''})).to.equal('true')
      expect(await probe('pipe', {CI: 'true'})).to.equal('false')
      expect(await probe({file: join(repo.dir, 'empty')}, {CI: ''})).to.equal('false')
      expect(await probe('ignore', {CI: ''})).to.equal('false')
    } finally {
      repo.remove()
    }
  })
})

describe('tasks: choosing the pod', () => {
  it('picks the oldest ready pod of the service in the environment, never one being deleted', async () => {
    const items = [pod('web-b', '2026-01-02', true), pod('web-a', '2026-01-01', true, true), pod('web-c', '2026-01-01', true), pod('web-d', '2025-01-01', false)]
    const fake = fakeKubectl([{argv: ['--request-timeout=30s', 'get', 'pods', '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items})}}])
    expect(await choosePod(fake.kubectl, 'shop', 'staging', 'web')).to.equal('web-c')
  })

  it("a blue-green service with both slots up (the old one kept for an instant rollback): the oldest ready pod of the slot its Service selects (exec took the old slot's, which serves nothing)", async () => {
    const slot = (p: ReturnType<typeof pod>, s: string) => ({...p, metadata: {...p.metadata, labels: {'skycap.dev/slot': s}}})
    const items = [slot(pod('web-blue-1', '2026-01-01', true), 'blue'), slot(pod('web-green-2', '2026-01-03', true), 'green'), slot(pod('web-green-1', '2026-01-02', true), 'green')]
    const pods = {argv: ['--request-timeout=30s', 'get', 'pods', '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items})}}
    const service = (selected: string | undefined) => ({
      argv: ['--request-timeout=30s', 'get', 'service', 'web', '-o', 'json'],
      result: {stdout: JSON.stringify({kind: 'Service', metadata: {name: 'web'}, spec: {selector: selected ? {'skycap.dev/slot': selected} : {}}})},
    })
    for (const [selected, want] of [
      ['green', 'web-green-1'],
      ['blue', 'web-blue-1'],
      [undefined, 'web-blue-1'],
    ] as const) {
      const fake = fakeKubectl([pods, service(selected)])
      expect(await choosePod(fake.kubectl, 'shop', 'staging', 'web'), String(selected)).to.equal(want)
      expect(fake.remaining()).to.equal(0)
    }
    // One slot up (or no slots): no Service read.
    const one = fakeKubectl([{...pods, result: {stdout: JSON.stringify({items: items.slice(1)})}}])
    expect(await choosePod(one.kubectl, 'shop', 'staging', 'web')).to.equal('web-green-1')
  })

  it('refuses --pod that is not one of the service pods in this environment, and says when none is ready', async () => {
    const items = [pod('web-b', '2026-01-02', false)]
    const answer = {stdout: JSON.stringify({items})}
    const argv = ['--request-timeout=30s', 'get', 'pods', '-l', SELECTOR, '-o', 'json']
    const fake = fakeKubectl([
      {argv, result: answer},
      {argv, result: answer},
      {argv, result: answer},
    ])
    expect(await choosePod(fake.kubectl, 'shop', 'staging', 'web', {wanted: 'web-b'})).to.equal('web-b')
    const other = await choosePod(fake.kubectl, 'shop', 'staging', 'web', {wanted: 'api-x'}).catch((e: Error) => e)
    expect((other as Error).message).to.equal('pod api-x is not a pod of web in staging')
    const none = await choosePod(fake.kubectl, 'shop', 'staging', 'web').catch((e: Error) => e)
    expect((none as Error).message).to.equal('no ready pod of web in staging (1 pod, none ready)')
  })

  it('with no pod at all, says whether the service is scaled to 0 or not deployed, and what to run', async () => {
    const argv = ['--request-timeout=30s', 'get', 'pods', '-l', SELECTOR, '-o', 'json']
    const workloads = ['--request-timeout=30s', 'get', 'deployments,statefulsets', '-l', SELECTOR, '-o', 'json']
    const noPods = {argv, result: {stdout: '{"items":[]}'}}
    const answer = async (result: object) => {
      const fake = fakeKubectl([noPods, {argv: workloads, result}])
      const error = (await choosePod(fake.kubectl, 'shop', 'staging', 'web').catch((e: Error) => e)) as UserError
      expect(fake.remaining()).to.equal(0)
      expect(error.exitCode).to.equal(2)
      return [error.message, error.hint]
    }
    // A blue-green service: both slots at 0.
    const slots = {
      stdout: JSON.stringify({
        items: [
          {kind: 'Deployment', spec: {replicas: 0}},
          {kind: 'Deployment', spec: {replicas: 0}},
        ],
      }),
    }
    expect(await answer(slots)).to.deep.equal(['web is scaled to 0 in staging: no pod of it runs', 'Scale it up first: skycap scale web 1 -e staging.'])
    expect(await answer({stdout: '{"items":[]}'})).to.deep.equal(['web is not deployed in staging: no pod of it runs', 'Deploy it first: skycap deploy staging@<revision>.'])
    // Pods asked for but not created yet, or the workloads cannot be read: no guess.
    const starting = {stdout: JSON.stringify({items: [{kind: 'Deployment', spec: {replicas: 2}}]})}
    expect(await answer(starting)).to.deep.equal(['no pod of web runs in staging', '`skycap status staging` shows why; wait for its pods to start.'])
    expect(await answer({exitCode: 1, stderr: 'Error from server (Forbidden): deployments.apps is forbidden'})).to.deep.equal([
      'no pod of web runs in staging',
      '`skycap status staging` shows why; wait for its pods to start.',
    ])
  })

  it('forwards through the service own Service when it has one, else to a pod; to its newest ready pod either way', async () => {
    const svcArgv = ['--request-timeout=30s', 'get', 'services', '-l', SELECTOR, '-o', 'json']
    const podsArgv = ['--request-timeout=30s', 'get', 'pods', '-l', SELECTOR, '-o', 'json']
    const withService = fakeKubectl([
      {argv: svcArgv, result: {stdout: JSON.stringify({items: [{kind: 'Service', metadata: {name: 'web'}}]})}},
      {argv: podsArgv, result: {stdout: JSON.stringify({items: [pod('web-2', 't2', true), pod('web-1', 't1', true), pod('web-3', 't3', false)]})}},
    ])
    // The Service as listed comes back with it: the port behind it is read from it, not asked again.
    expect(await forwardTarget(withService.kubectl, 'shop', 'staging', 'web')).to.deep.equal({target: 'service/web', pod: 'web-2', serviceObject: {kind: 'Service', metadata: {name: 'web'}}})
    // A Service with no ready pod behind it (scaled to 0): said at once, as exec says it (kubectl waited 30 s, then
    // failed with "watch closed before UntilWithoutRetry timeout").
    const empty = fakeKubectl([
      {argv: svcArgv, result: {stdout: JSON.stringify({items: [{kind: 'Service', metadata: {name: 'web'}}]})}},
      {argv: podsArgv, result: {stdout: JSON.stringify({items: [pod('web-1', 't', false)]})}},
    ])
    const none = await forwardTarget(empty.kubectl, 'shop', 'staging', 'web').catch((e: Error) => e)
    expect((none as Error).message).to.equal('no ready pod of web in staging (1 pod, none ready)')
    expect((none as {exitCode?: number}).exitCode).to.equal(2)
    const without = fakeKubectl([
      {argv: svcArgv, result: {stdout: '{"items":[]}'}},
      {argv: ['--request-timeout=30s', 'get', 'pods', '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: [pod('web-1', 't', true)]})}},
    ])
    expect(await forwardTarget(without.kubectl, 'shop', 'staging', 'web')).to.deep.equal({target: 'pod/web-1', pod: 'web-1'})
  })

  it("a service the work tree's skycap.yaml lacks: its pods when it still runs (deployed before), else the unknown-service error", async () => {
    const svcArgv = ['--request-timeout=30s', 'get', 'services', '-l', SELECTOR, '-o', 'json']
    const podsArgv = ['--request-timeout=30s', 'get', 'pods', '-l', SELECTOR, '-o', 'json']
    const unknown = new UserError('unknown service "web"')
    const running = fakeKubectl([
      {argv: svcArgv, result: {stdout: JSON.stringify({items: [{kind: 'Service', metadata: {name: 'web'}}]})}},
      {argv: podsArgv, result: {stdout: JSON.stringify({items: [pod('web-1', 't', true)]})}},
    ])
    expect(await forwardTarget(running.kubectl, 'shop', 'staging', 'web', 8080, unknown)).to.deep.include({target: 'service/web', pod: 'web-1'})
    const gone = fakeKubectl([
      {argv: svcArgv, result: {stdout: '{"items":[]}'}},
      {argv: podsArgv, result: {stdout: JSON.stringify({items: [pod('web-1', 't', true, true)]})}},
    ])
    expect(await forwardTarget(gone.kubectl, 'shop', 'staging', 'web', 8080, unknown).catch((e: Error) => e)).to.equal(unknown)
    // Without `unknown`, a service with no pod is "not deployed" (one more call, for its workloads).
    const idle = fakeKubectl([
      {argv: podsArgv, result: {stdout: '{"items":[]}'}},
      {argv: ['--request-timeout=30s', 'get', 'deployments,statefulsets', '-l', SELECTOR, '-o', 'json'], result: {stdout: '{"items":[]}'}},
    ])
    expect(await choosePod(idle.kubectl, 'shop', 'staging', 'web').catch((e: Error) => e.message)).to.equal('web is not deployed in staging: no pod of it runs')
    expect(await choosePod(fakeKubectl([{argv: podsArgv, result: {stdout: '{"items":[]}'}}]).kubectl, 'shop', 'staging', 'web', {unknown}).catch((e: Error) => e)).to.equal(unknown)
  })
})

describe('kubectl rejections in one sentence', () => {
  const DUMP =
    'spec.template: Invalid value: core.PodTemplateSpec{ObjectMeta:v1.ObjectMeta{Name:"", Labels:map[string]string{"a":"b}"}}, Spec:core.PodSpec{Volumes:[]core.Volume(nil), Containers:[]core.Container{core.Container{Name:"m"}}}}'

  it('a changed template Job: one sentence, and a hint to put {{ revision.short }} in its name', () => {
    const error = classify(
      ['apply', '--server-side', '-f', '-', '--dry-run=server'],
      `Error from server (Invalid): error when applying patch:\nJob.batch "migrate" is invalid: ${DUMP}: field is immutable\n`,
      'prod',
    )
    expect(error.message).to.equal('kubectl apply --dry-run=server failed (context prod): the Job "migrate" cannot be changed in place (spec.template is immutable once created)')
    expect(error.hint).to.include('name: migrate-{{ revision.short }}')
    expect(error.exitCode).to.equal(2)
    const selector = classify(['apply'], `The Deployment "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"a":"b"}}: field is immutable`)
    expect(selector.message).to.equal('kubectl apply failed: the Deployment "web" cannot be changed in place (spec.selector is immutable once created)')
    expect(selector.hint).to.match(/^Delete Deployment\/web/)
  })

  it("a StatefulSet's volumeClaimTemplates changed: delete it without its pods and volumes, not outright or under a new name (its data)", () => {
    const text =
      'The StatefulSet "db" is invalid: spec.volumeClaimTemplates: Invalid value: [{"name":"data","Spec":{"AccessModes":["ReadWriteOnce"],"Resources":{"Requests":{"storage":"2Gi"}}}}]: field is immutable\n'
    const error = classify(['apply', '--server-side', '-f', '-', '--dry-run=server'], text, 'prod', 'shop')
    expect(error.message).to.equal('kubectl apply --dry-run=server failed (context prod): the StatefulSet "db" cannot be changed in place (spec.volumeClaimTemplates is immutable once created)')
    expect(error.hint).to.equal(
      'Delete StatefulSet/db without its pods and volumes (`kubectl delete statefulset db --cascade=orphan -n shop --context prod`), then deploy again: the new StatefulSet takes them over. Its volumes keep their size: grow each PersistentVolumeClaim itself (its storage class must allow expansion). A new name would start on new, empty volumes; nothing was changed.',
    )
    expect(error.exitCode).to.equal(2)
  })

  it('a changed Secret that sets immutable: true is an invalid change (exit 2), not a missing RBAC permission', () => {
    const error = classify(['apply', '--server-side', '-f', '-', '--dry-run=server'], 'The Secret "db" is invalid: data: Forbidden: field is immutable when `immutable` is set\n', 'prod')
    expect(error.message).to.equal('kubectl apply --dry-run=server failed (context prod): the Secret "db" cannot be changed in place (it sets immutable: true, so its data cannot change)')
    expect(error.hint).to.equal('Delete Secret/db so it is created again, or give it a new name; nothing was changed.')
    expect(error.exitCode).to.equal(2)
    // Several fields refused at once: the server lists them (it was read as a missing RBAC permission).
    const listed = classify(
      ['apply', '--server-side', '-f', '-'],
      'The Secret "imm" is invalid: \n* immutable: Forbidden: field is immutable when `immutable` is set\n* data: Forbidden: field is immutable when `immutable` is set\n',
      'prod',
    )
    expect([listed.message, listed.exitCode]).to.deep.equal(['kubectl apply failed (context prod): the Secret "imm" cannot be changed in place (it sets immutable: true, so it cannot change)', 2])
  })

  it('Go value dumps are cut to their type, whatever the message', () => {
    expect(cutGoValues(`x: ${DUMP}: bad`)).to.equal('x: spec.template: Invalid value: core.PodTemplateSpec{…}: bad')
    expect(cutGoValues('a []core.EnvVar{core.EnvVar{Name:"}"}} b map[string]string{"k":"v"} c')).to.equal('a []core.EnvVar{…} b map[string]string{…} c')
    expect(cutGoValues('no dump {here}')).to.equal('no dump {here}')
    const other = classify(['apply'], `Error from server (Invalid): The Pod "p" is invalid: ${DUMP}: something else`)
    expect(other.message).to.not.include('ObjectMeta')
  })
})

describe('tasks: --json keeps stdout for its one document', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.clusterApp('it-context', 'it-ns')
  })
  after(() => repo.remove())
  const quiet = {info: () => undefined, warn: () => undefined} as unknown as Reporter

  /** A kubectl whose attached command (exec, port-forward) is recorded with the options it ran with. */
  function recording(attachedExit = {exitCode: 0, stderr: ''}, services: object[] = [{kind: 'Service', metadata: {name: 'web'}}]) {
    const attached: Array<{argv: string[]; options: RunOptions}> = []
    const runner: ProcessRunner = async (_file, argv, options) => {
      if (argv.includes('get-contexts') || argv.includes('current-context')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
      if (argv.includes('get') && argv.includes('pods')) return {exitCode: 0, stdout: JSON.stringify({items: [pod('web-1', 't', true)]}), stderr: ''}
      if (argv.includes('get') && argv.includes('services')) return {exitCode: 0, stdout: JSON.stringify({items: services}), stderr: ''}
      if (argv.includes('get') && argv.includes('service')) return {exitCode: 0, stdout: '{}', stderr: ''}
      if (options.stdio === 'inherit') attached.push({argv, options})
      return {exitCode: attachedExit.exitCode, stdout: '', stderr: attachedExit.stderr}
    }
    return {attached, factory: (o: {context?: string; namespace?: string}) => new Kubectl({...o, runner, spawner: quietSpawner})}
  }

  it('exec --json and port-forward --json send what kubectl prints on stdout to stderr; without --json it stays on stdout', async () => {
    const configPath = join(repo.dir, 'skycap.yaml')
    for (const json of [true, false]) {
      const k = recording()
      await execInService({service: 'web', command: ['/app', 'whoami'], configPath, json}, {kubectl: k.factory, reporter: quiet, terminal: false})
      await portForward({service: 'web', ports: '18080:8080', configPath, json}, {kubectl: k.factory, reporter: quiet})
      expect(k.attached.map((a) => a.argv.find((w) => w === 'exec' || w === 'port-forward'))).to.deep.equal(['exec', 'port-forward'])
      for (const a of k.attached) expect(Boolean(a.options.stdoutToStderr), `${a.argv.join(' ')} json=${json}`).to.equal(json)
    }
  })

  it('exec hands its output streams to kubectl when given (under GitHub Actions), never with -t (a terminal is handed over whole)', async () => {
    const configPath = join(repo.dir, 'skycap.yaml')
    const output = {out: new PassThrough(), err: new PassThrough()}
    const k = recording()
    await execInService({service: 'web', command: ['env'], configPath}, {kubectl: k.factory, reporter: quiet, terminal: false, output})
    await execInService({service: 'web', command: ['env'], configPath}, {kubectl: k.factory, reporter: quiet, terminal: false})
    await execInService({service: 'web', command: ['sh'], configPath, stdin: true, tty: true}, {kubectl: k.factory, reporter: quiet, terminal: true, output})
    expect(k.attached.map((a) => a.options.output)).to.deep.equal([output, undefined, undefined])
  })

  it("exec of a command the image lacks says so (exit 1), where kubectl only printed the runtime error and --json said it ran; the command's own failure keeps its code", async () => {
    const configPath = join(repo.dir, 'skycap.yaml')
    // What kubectl prints (and exits 1 with) on containerd when the command is not in the image.
    const oci =
      'error: Internal error occurred: Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "4f1c": OCI runtime exec failed: exec failed: unable to start container process: exec: "/nope": stat /nope: no such file or directory: unknown\n'
    const k = recording({exitCode: 1, stderr: oci})
    const error = await execInService({service: 'web', command: ['/nope', 'x'], configPath, json: true}, {kubectl: k.factory, reporter: quiet, terminal: false}).catch((e: unknown) => e)
    expect((error as Error).message).to.equal('/nope in pod web-1 of web (test) could not run: exec: "/nope": stat /nope: no such file or directory')
    expect((error as {exitCode?: number}).exitCode).to.equal(1)
    expect((error as {hint?: string}).hint).to.equal("The command is not in web's image, or not executable there: check its name, or give its full path.")
    expect(k.attached[0]?.options.teeStderr, "kubectl's stderr is read as well as shown").to.equal(true)
    // kubectl's raw error is not shown as well: the error above quotes it (it was printed twice).
    const hide = k.attached[0]?.options.hideError
    expect(hide?.(oci.trimEnd())).to.equal(true)
    expect(hide?.('command terminated with exit code 3')).to.equal(false)
    // A command that ran and failed, whatever it printed, exits with its own code.
    const own = recording({exitCode: 3, stderr: 'error: OCI runtime exec failed is what my script prints\ncommand terminated with exit code 3\n'})
    const ran = await execInService({service: 'web', command: ['/app/check'], configPath}, {kubectl: own.factory, reporter: quiet, terminal: false})
    expect(ran.exitCode).to.equal(3)
  })

  it('exec -c runs in the container named, a sidecar too; one the pod does not run is exit 2 before kubectl exec, listing those it does', async () => {
    const configPath = join(repo.dir, 'skycap.yaml')
    for (const [container, expected] of [
      [undefined, 'web'],
      ['metrics', 'metrics'],
      ['envoy', 'envoy'],
    ] as const) {
      const k = recording()
      const r = await execInService({service: 'web', command: ['ls'], configPath, ...(container ? {container} : {})}, {kubectl: k.factory, reporter: quiet, terminal: false})
      expect(r.container).to.equal(expected)
      expect(k.attached[0]?.argv.slice(k.attached[0].argv.indexOf('exec'))).to.deep.equal(['exec', 'web-1', '-c', expected, '--', 'ls'])
    }
    for (const container of ['migrate-wait', 'nginx']) {
      const k = recording()
      const error = await execInService({service: 'web', command: ['ls'], configPath, container}, {kubectl: k.factory, reporter: quiet, terminal: false}).catch((e: unknown) => e)
      expect((error as Error).message).to.equal(`container "${container}" is not in pod web-1 of web (test)`)
      expect((error as {exitCode?: number}).exitCode).to.equal(2)
      expect((error as {hint?: string}).hint).to.equal('Its containers: envoy, web, metrics; choose one with -c.')
      expect(k.attached).to.deep.equal([])
    }
  })

  it('port-forward on a local port in use is exit 2 before any kubectl call, naming the address and another port', async () => {
    const busy = net.createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    const port = (busy.address() as net.AddressInfo).port
    try {
      const k = recording()
      const calls: string[][] = []
      const error = await portForward({service: 'web', ports: `${port}:8080`, configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: (o) => (calls.push([]), k.factory(o)), reporter: quiet}).catch(
        (e: unknown) => e,
      )
      expect((error as Error).message).to.equal(`127.0.0.1:${port} is already in use on this machine`)
      expect((error as {exitCode?: number}).exitCode).to.equal(2)
      // The next port up that is free now (port + 1 unless something else took it meanwhile: it was asserted, and
      // flaked when another test's socket had it).
      const hint = (error as {hint?: string}).hint ?? ''
      const suggested = Number(/^Choose another local port \(skycap port-forward web (\d+):8080\), or 0:8080 for any free one\.$/.exec(hint)?.[1])
      expect(suggested, hint).to.be.greaterThan(port)
      const free = net.createServer()
      await new Promise<void>((resolve, reject) => free.once('error', reject).listen(suggested, '127.0.0.1', resolve))
      free.close()
      expect(calls, 'no kubectl made').to.deep.equal([])
    } finally {
      busy.close()
    }
  })

  it('port-forward --address that is no IP address, or not one of this machine: exit 2 before any kubectl call (a host name was "already in use", and with port 0 a kubectl failure, exit 1)', async () => {
    const refused = async (address: string, ports = '0:8080') => {
      const calls: string[][] = []
      const error = (await portForward({service: 'web', ports, address, configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: (o) => (calls.push([]), recording().factory(o)), reporter: quiet}).catch(
        (e: unknown) => e,
      )) as UserError
      expect(calls, `${address}: no kubectl made`).to.deep.equal([])
      expect(error.exitCode, address).to.equal(2)
      return [error.message, error.hint]
    }
    const notIp = (bad: string, given = bad) => [
      `--address ${JSON.stringify(given)}: "${bad}" is not an IP address or localhost; nothing was forwarded`,
      'Give IP addresses or localhost, comma separated, as kubectl port-forward takes them: e.g. --address 127.0.0.1, or --address 0.0.0.0 for every interface.',
    ]
    expect(await refused('nope.invalid')).to.deep.equal(notIp('nope.invalid'))
    expect(await refused('nope.invalid', '18099:8080')).to.deep.equal(notIp('nope.invalid'))
    expect(await refused('999.1.1.1')).to.deep.equal(notIp('999.1.1.1'))
    expect(await refused('127.0.0.1,web')).to.deep.equal(notIp('web', '127.0.0.1,web'))
    expect((await refused('127.0.0.1,'))[0]).to.equal('--address "127.0.0.1,": an empty address; nothing was forwarded')
    // TEST-NET-3 (RFC 5737): never an address of this machine.
    expect(await refused('203.0.113.7')).to.deep.equal([
      '203.0.113.7 is not an address of this machine, so nothing can listen on it; nothing was forwarded',
      'Give one of its addresses with --address (the default is 127.0.0.1), or 0.0.0.0 for every interface.',
    ])
    // localhost and a list kubectl takes are passed on, without spaces (kubectl refused " 127.0.0.1", exit 1).
    for (const [address, given] of [
      ['localhost', 'localhost'],
      ['127.0.0.1, localhost', '127.0.0.1,localhost'],
      [' 127.0.0.1', '127.0.0.1'],
    ] as Array<[string, string]>) {
      const k = recording()
      const said: string[] = []
      const r = await portForward(
        {service: 'web', ports: '0:8080', address, configPath: join(repo.dir, 'skycap.yaml')},
        {kubectl: k.factory, reporter: {info: (m: string) => said.push(m), warn: () => undefined} as unknown as Reporter},
      )
      expect(r.local, address).to.be.greaterThan(0)
      expect(k.attached[0]?.argv.slice(-2), address).to.deep.equal(['--address', given])
      expect(said[0], address).to.match(given.includes(',') ? /^Forwarding port \d+ of 127\.0\.0\.1, localhost to / : new RegExp(`^Forwarding ${given.replaceAll('.', '\\.')}:\\d+ to `))
    }
  })

  it('port-forward suggests a local port that is free now, not the next one up when that is another forward’s', async () => {
    const servers = [net.createServer(), net.createServer()]
    await new Promise<void>((resolve) => servers[0]?.listen(0, '127.0.0.1', resolve))
    const port = (servers[0]?.address() as net.AddressInfo).port
    // The next port up is taken too (a second forward); port + 1 may be taken by someone else already: then the test is moot.
    const second = await new Promise<boolean>((resolve) => {
      servers[1]?.once('error', () => resolve(false))
      servers[1]?.listen(port + 1, '127.0.0.1', () => resolve(true))
    })
    try {
      const error = await portForward({service: 'web', ports: `${port}:8080`, configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: recording().factory, reporter: quiet}).catch((e: unknown) => e)
      const suggested = Number(/port-forward web (\d+):8080/.exec((error as {hint?: string}).hint ?? '')?.[1])
      expect(suggested, (error as {hint?: string}).hint).to.be.above(port + (second ? 1 : 0))
      expect(await canListen('127.0.0.1', suggested)).to.equal(true)
    } finally {
      for (const s of servers) s.close()
    }
  })

  it('port-forward to a port the Service does not have is exit 2 before any forward, naming its ports', async () => {
    const k = recording(undefined, [{kind: 'Service', metadata: {name: 'web'}, spec: {ports: [{port: 8080}, {port: 9090}]}}])
    const error = await portForward({service: 'web', ports: '0:9999', configPath: join(repo.dir, 'skycap.yaml')}, {kubectl: k.factory, reporter: quiet}).catch((e: unknown) => e)
    expect((error as Error).message).to.equal('the Service web in test has no port 9999; nothing was forwarded')
    expect((error as {exitCode?: number}).exitCode).to.equal(2)
    expect((error as {hint?: string}).hint).to.equal('Its ports are 8080, 9090: e.g. skycap port-forward web 8080.')
    expect(k.attached).to.deep.equal([])
  })

  it('port-forward reconnects when a forward that was running ends (its pod replaced), and reports one that fails at once', async () => {
    let now = 0
    const forwards: string[][] = []
    const warnings: string[] = []
    // How many pod listings the API server refuses after the next forward ends (restarted while it was lost).
    let refusals = 0
    let refusalsAfterForward = 0
    // The first forward runs 30 s and loses its pod (exit 1), the second ends with Ctrl-C.
    const answers: Array<{exitCode: number; ms: number; stderr?: string}> = [
      {exitCode: 1, ms: 30_000},
      {exitCode: 0, ms: 1000},
    ]
    const runner: ProcessRunner = async (_file, argv, options) => {
      if (argv.includes('get-contexts') || argv.includes('current-context')) return {exitCode: 0, stdout: 'it-context\n', stderr: ''}
      // The Service's port 8080 is its pods' port named http, 9090: a forward to a pod needs 9090. Listed as read alone.
      const svc = {kind: 'Service', metadata: {name: 'web'}, spec: {ports: [{port: 8080, targetPort: 'http'}]}}
      if (argv.includes('services')) return {exitCode: 0, stdout: JSON.stringify({items: [svc]}), stderr: ''}
      if (argv.includes('pods')) {
        if (refusals > 0 && refusals--) return {exitCode: 1, stdout: '', stderr: 'The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?'}
        return {exitCode: 0, stdout: JSON.stringify({items: [pod('web-1', 't', true)]}), stderr: ''}
      }
      if (argv.includes('service')) return {exitCode: 0, stdout: JSON.stringify(svc), stderr: ''}
      if (argv.includes('pod')) return {exitCode: 0, stdout: JSON.stringify({spec: {containers: [{ports: [{name: 'http', containerPort: 9090}]}]}}), stderr: ''}
      expect(options.stdio).to.equal('inherit')
      expect(options.teeStderr, 'kubectl says on stderr why it ended').to.equal(true)
      forwards.push(argv.slice(argv.indexOf('port-forward')))
      refusals = refusalsAfterForward
      refusalsAfterForward = 0
      const a = answers.shift() ?? {exitCode: 1, ms: 10}
      now += a.ms
      return {exitCode: a.exitCode, stdout: '', stderr: a.stderr ?? ''}
    }
    const infos: string[] = []
    const reporter = {info: (m: string) => infos.push(m), warn: (m: string) => warnings.push(m)} as unknown as Reporter
    const configPath = join(repo.dir, 'skycap.yaml')
    const factory = (o: {context?: string; namespace?: string}) => new Kubectl({...o, runner, spawner: quietSpawner})
    const sleep = async (ms: number) => {
      now += ms
    }
    // Local port 0: skycap picks the free port itself, so the result names it (it said 0) and the reconnect keeps it
    // (kubectl would pick another; such a forward used to end instead).
    const any = await portForward({service: 'web', ports: '0:8080', configPath}, {kubectl: factory, reporter, clock: () => now, sleep})
    expect(any.local).to.be.greaterThan(0)
    expect(forwards.map((f) => f[2])).to.deep.equal([`${any.local}:9090`, `${any.local}:9090`])
    answers.unshift({exitCode: 1, ms: 30_000}, {exitCode: 0, ms: 1000})
    forwards.length = 0
    const ok = await portForward({service: 'web', ports: '0:8080'.replace('0:', `${await freePort()}:`), configPath}, {kubectl: factory, reporter, clock: () => now, sleep})
    // Each forward names the newest ready pod: behind the Service, kubectl may pick one the rollout replaces next.
    expect(ok.target).to.equal('pod/web-1')
    expect(
      forwards.map((f) =>
        f
          .slice(1, 3)
          .join(' ')
          .replace(/^(\S+) \d+:/, '$1 :'),
      ),
    ).to.deep.equal(['pod/web-1 :9090', 'pod/web-1 :9090'])
    // kubectl's "lost connection to pod" a few seconds after the start (a quick deploy) is a loss too.
    answers.length = 0
    answers.push({exitCode: 1, ms: 2000, stderr: 'E1202 portforward.go:424] ... network namespace for sandbox is closed\nerror: lost connection to pod\n'}, {exitCode: 0, ms: 1000})
    forwards.length = 0
    warnings.length = 0
    infos.length = 0
    await portForward({service: 'web', ports: `${await freePort()}:8080`, configPath}, {kubectl: factory, reporter, clock: () => now, sleep})
    expect(forwards).to.have.length(2)
    expect(infos.slice(1), 'the reconnect says which pod it forwards to').to.deep.equal(['forwarding to pod/web-1 again'])
    expect(infos[0]).to.match(/^Forwarding 127\.0\.0\.1:\d+ to service\/web port 8080 \(pod\/web-1\) in test \(namespace it-ns\); Ctrl-C stops$/)
    expect(warnings).to.have.length(1)
    expect(warnings).to.deep.equal(['kubectl port-forward to pod/web-1 ended (exit 1; was its pod replaced?); reconnecting to a ready pod of web'])
    // Mid-rollout the pod reconnected to goes too, at once: tried again (not reported) while the window lasts...
    answers.length = 0
    answers.push({exitCode: 1, ms: 30_000}, {exitCode: 1, ms: 200}, {exitCode: 1, ms: 200}, {exitCode: 0, ms: 1000})
    forwards.length = 0
    warnings.length = 0
    await portForward({service: 'web', ports: `${await freePort()}:8080`, configPath}, {kubectl: factory, reporter, clock: () => now, sleep})
    expect(forwards).to.have.length(4)
    expect(warnings, 'one loss, one warning').to.have.length(1)
    // The API server does not answer for a few seconds after the loss (the pod listing refused three times): waited
    // for within the window too, then the forward goes on.
    answers.length = 0
    answers.push({exitCode: 1, ms: 30_000}, {exitCode: 0, ms: 1000})
    refusalsAfterForward = 3
    forwards.length = 0
    await portForward({service: 'web', ports: `${await freePort()}:8080`, configPath}, {kubectl: factory, reporter, clock: () => now, sleep})
    expect(refusals).to.equal(0)
    expect(forwards).to.have.length(2)
    // ...and given up once it is over, saying so.
    answers.push({exitCode: 1, ms: 30_000}, ...Array.from({length: 400}, () => ({exitCode: 1, ms: 200})))
    const lost = await portForward({service: 'web', ports: `${await freePort()}:8080`, configPath}, {kubectl: factory, reporter, clock: () => now, sleep}).catch((e: Error) => e)
    expect((lost as Error).message).to.equal('the forward to web was lost and not re-established within 60 s (kubectl port-forward to pod/web-1 ended with exit code 1)')
    // Failing at once (the remote port is wrong, kubectl refused): reported, not retried.
    answers.length = 0
    forwards.length = 0
    const fast = await portForward({service: 'web', ports: `${await freePort()}:8080`, configPath}, {kubectl: factory, reporter, clock: () => now, sleep}).catch((e: Error) => e)
    expect((fast as Error).message).to.equal('kubectl port-forward to pod/web-1 ended with exit code 1')
    expect(forwards).to.have.length(1)
  })

  it('the process runner sends the child stdout to stderr when asked', async () => {
    const url = pathToFileURL(join(repoRoot, 'dist', 'src', 'kubectl', 'kubectl.js')).href
    const script = `import {execaRunner} from ${JSON.stringify(url)}; await execaRunner(process.execPath, ['-e', 'console.log("from the child")'], {stdio: 'inherit', stdoutToStderr: true})`
    const r = await execa(process.execPath, ['--input-type=module', '-e', script], {reject: false})
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.stdout).to.equal('')
    expect(r.stderr).to.equal('from the child')
  })

  /**
   * A module script that runs `child` (node -e) through the process runner with output streams that stop workflow
   * commands, as `exec` under GitHub Actions does, and prints the runner's result on stderr as `result {...}`.
   */
  function runnerWithOutputScript(child: string): string {
    const kubectlUrl = pathToFileURL(join(repoRoot, 'dist', 'src', 'kubectl', 'kubectl.js')).href
    const stopUrl = pathToFileURL(join(repoRoot, 'dist', 'src', 'ci', 'stop-commands.js')).href
    return [
      `import {execaRunner} from ${JSON.stringify(kubectlUrl)}`,
      `import {untrustedStream} from ${JSON.stringify(stopUrl)}`,
      `process.stdout.on('error', () => undefined)`,
      `const output = {out: untrustedStream(process.stdout, process.env, {markers: process.stderr}), err: untrustedStream(process.stderr)}`,
      `const r = await execaRunner(process.execPath, ['-e', ${JSON.stringify(child)}], {stdio: 'inherit', teeStderr: true, output})`,
      `process.stderr.write('result ' + JSON.stringify(r) + '\\n')`,
    ].join('\n')
  }

  it("the process runner writes the child's output to the streams given (exec under GitHub Actions): its workflow commands are stopped, stdout stays byte for byte, stderr's tail is returned", async () => {
    const child = 'process.stdout.write("::add-mask::hunter2\\nrow 1\\n"); console.error("::error::from the pod"); process.exit(3)'
    const script = runnerWithOutputScript(child)
    const r = await execa(process.execPath, ['--input-type=module', '-e', script], {reject: false, env: {GITHUB_ACTIONS: 'true'}, stripFinalNewline: false})
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.stdout).to.equal('::add-mask::hunter2\nrow 1\n')
    const lines = r.stderr.split('\n')
    const token = /^::stop-commands::([0-9a-f]{32})$/.exec(lines[0] ?? '')?.[1]
    expect(token, r.stderr).to.be.a('string')
    expect(lines.slice(1)).to.deep.equal(['::error::from the pod', `result ${JSON.stringify({exitCode: 3, stdout: '', stderr: '::error::from the pod'})}`, `::${token}::`, ''])
  })

  it('the process runner with output streams ends when the reader of its stdout goes away (| head): the child is stopped, not waited for', async () => {
    // 20 MB in 64 KiB writes: far more than a pipe holds once head has gone.
    const child = 'const b = Buffer.alloc(65536, 120); let n = 0; const w = () => { while (n++ < 320) if (!process.stdout.write(b)) return process.stdout.once("drain", w) }; w()'
    const script = runnerWithOutputScript(child)
    const r = await execa('bash', ['-c', 'timeout 20 node --input-type=module -e "$SCRIPT" | head -c 10 >/dev/null'], {reject: false, timeout: 30_000, env: {GITHUB_ACTIONS: 'true', SCRIPT: script}})
    expect(r.timedOut, r.stderr).to.equal(false)
    const result = JSON.parse(/^result (.*)$/m.exec(r.stderr)?.[1] ?? 'null')
    expect(result, r.stderr).to.not.equal(null)
    expect(result.exitCode, r.stderr).to.not.equal(0)
    expect(r.stderr, 'the region is ended').to.match(/^::[0-9a-f]{32}::$/m)
  })

  it("exec's runner hides kubectl's start error (skycap says it in its own error), not the command's own stderr, and returns it whole; with output streams too", async () => {
    const kubectlUrl = pathToFileURL(join(repoRoot, 'dist', 'src', 'kubectl', 'kubectl.js')).href
    const execUrl = pathToFileURL(join(repoRoot, 'dist', 'src', 'tasks', 'exec.js')).href
    const oci =
      'error: Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "4f1c": OCI runtime exec failed: exec failed: unable to start container process: exec: "/nope": stat /nope: no such file or directory: unknown'
    // The command's own lines (one an `error: ` line of its own, one a prompt without a newline, in pieces), then
    // kubectl's error in two writes.
    const child = [
      'const w = (s) => new Promise((r) => process.stderr.write(s, r)); const pause = () => new Promise((r) => setTimeout(r, 30))',
      `await w("error: my own\\n"); await pause(); await w("err"); await pause(); await w("no newline? "); await pause()`,
      `await w(${JSON.stringify(oci.slice(0, 40))}); await pause(); await w(${JSON.stringify(oci.slice(40) + '\n')}); process.exit(1)`,
    ].join('; ')
    for (const streams of [false, true]) {
      const script = [
        `import {execaRunner} from ${JSON.stringify(kubectlUrl)}`,
        `import {execStartFailure} from ${JSON.stringify(execUrl)}`,
        streams ? `const output = {out: process.stdout, err: process.stderr}` : `const output = undefined`,
        `const r = await execaRunner(process.execPath, ['--input-type=module', '-e', ${JSON.stringify(child)}], {stdio: 'inherit', teeStderr: true, hideError: (l) => execStartFailure(l) !== undefined, ...(output ? {output} : {})})`,
        `console.log(JSON.stringify(r))`,
      ].join('\n')
      const r = await execa(process.execPath, ['--input-type=module', '-e', script], {reject: false, stripFinalNewline: false})
      expect(r.exitCode, r.stderr).to.equal(0)
      expect(r.stderr, `output streams: ${streams}`).to.equal('error: my own\nerrno newline? ')
      expect(JSON.parse(r.stdout)).to.deep.equal({exitCode: 1, stdout: '', stderr: `error: my own\nerrno newline? ${oci}`})
    }
  })

  it('the process runner shows the child stderr and returns it too when asked (port-forward reads why kubectl ended)', async () => {
    const url = pathToFileURL(join(repoRoot, 'dist', 'src', 'kubectl', 'kubectl.js')).href
    const child = 'console.error("error: lost connection to pod"); process.exit(1)'
    const script = `import {execaRunner} from ${JSON.stringify(url)}; const r = await execaRunner(process.execPath, ['-e', ${JSON.stringify(child)}], {stdio: 'inherit', teeStderr: true}); console.log(JSON.stringify(r))`
    const r = await execa(process.execPath, ['--input-type=module', '-e', script], {reject: false})
    expect(r.exitCode, r.stderr).to.equal(0)
    expect(r.stderr).to.equal('error: lost connection to pod')
    expect(JSON.parse(r.stdout)).to.deep.include({exitCode: 1, stderr: 'error: lost connection to pod'})
  })
})

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
