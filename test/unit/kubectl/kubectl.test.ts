import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'

import {ExitCode, InterruptedError, KubectlError, UnreachableError, UserError} from '../../../src/errors.js'
import {PassThrough} from 'node:stream'

import {classify, execaRunner, Kubectl} from '../../../src/kubectl/kubectl.js'
import {fakeKubectl} from '../../helpers/fake-kubectl.js'

describe('kubectl wrapper', () => {
  it('adds --context, --namespace and --request-timeout in one place, in that order', async () => {
    const fake = fakeKubectl([{argv: ['--context', 'prod', '--namespace', 'shop', '--request-timeout=30s', 'get', 'pods', '-o', 'json'], result: {stdout: '{"items":[]}'}}], {
      context: 'prod',
      namespace: 'shop',
    })
    expect(await fake.kubectl.json(['get', 'pods'])).to.deep.equal({items: []})
  })

  it('starts a stream (logs -f) with no request timeout: kubectl applies it to the whole response, and a 30 s one ended every stream after 30 s', () => {
    const spawned: string[][] = []
    const kubectl = new Kubectl({
      context: 'prod',
      namespace: 'shop',
      spawner: (_file, argv) => {
        spawned.push(argv)
        return {stdout: new PassThrough(), done: Promise.resolve({exitCode: 0, stdout: '', stderr: ''}), kill: () => undefined}
      },
    })
    kubectl.spawn(['logs', 'web-1', '-c', 'web', '--follow'])
    expect(spawned).to.deep.equal([['--context', 'prod', '--namespace', 'shop', '--request-timeout=0', 'logs', 'web-1', '-c', 'web', '--follow']])
  })

  it("a context whose cluster no kubeconfig file defines: exit 2 naming the cluster, not an API server to reach on localhost:8080 (kubectl's fallback)", async () => {
    const refused = {exitCode: 1, stderr: 'The connection to the server localhost:8080 was refused - did you specify the right host or port?\n'}
    const view = ['--context', 'prod eu', '--request-timeout=30s', 'config', 'view', '--minify', '-o', 'json']
    const get = ['--context', 'prod eu', '--namespace', 'shop', '--request-timeout=30s', 'get', 'pods']
    const missing = fakeKubectl(
      [
        {argv: get, result: refused},
        {argv: view, result: {exitCode: 1, stderr: 'error: cannot locate cluster gone-cluster\n'}},
      ],
      {context: 'prod eu', namespace: 'shop'},
    )
    const error = (await missing.kubectl.run(['get', 'pods']).catch((e: unknown) => e)) as UserError
    expect(error).to.be.instanceOf(UserError)
    expect(error.exitCode).to.equal(ExitCode.INVALID)
    expect(error.message).to.match(
      /^kube context "prod eu" names cluster "gone-cluster", which no kubeconfig file defines \(.+\); kubectl fell back to localhost:8080 and reached nothing; nothing was changed$/,
    )
    expect(error.hint).to.contain("`kubectl config set-context 'prod eu' --cluster NAME`")
    // A cluster that is defined and a server that is down on localhost:8080 all the same: unreachable, as before.
    const down = fakeKubectl(
      [
        {argv: get, result: refused},
        {argv: view, result: {stdout: '{"clusters": [{"name": "local"}]}'}},
      ],
      {context: 'prod eu', namespace: 'shop'},
    )
    const unreachable = await down.kubectl.run(['get', 'pods']).catch((e: unknown) => e)
    expect(unreachable).to.be.instanceOf(UnreachableError)
    expect((unreachable as UnreachableError).exitCode).to.equal(ExitCode.UNREACHABLE)
    expect(down.remaining()).to.equal(0)
  })

  it('leaves out --namespace for cluster-scoped calls', async () => {
    const fake = fakeKubectl([{argv: ['--context', 'prod', '--request-timeout=30s', 'get', 'namespace', 'shop']}], {context: 'prod', namespace: 'shop'})
    await fake.kubectl.run(['get', 'namespace', 'shop'], {namespaced: false})
    expect(fake.remaining()).to.equal(0)
  })

  it('retries a named transient error, then succeeds', async () => {
    const argv = ['--request-timeout=30s', 'get', 'pods']
    const fake = fakeKubectl([
      {argv, result: {exitCode: 1, stderr: 'Error from server: etcdserver: request timed out'}},
      {argv, result: {stdout: 'ok'}},
    ])
    expect((await fake.kubectl.run(['get', 'pods'])).stdout).to.equal('ok')
  })

  it('does not repeat a transient error whose attempt took 10 s or more (kubectl had retried by itself: three attempts against a hung API server were 2.5 minutes of silence); a quick one is repeated twice', async () => {
    let now = 0
    const attempts = (tookMs: number) => {
      let calls = 0
      const kubectl = new Kubectl({
        binary: 'kubectl',
        runner: async () => (calls++, (now += tookMs), {exitCode: 1, stdout: '', stderr: 'Unable to connect to the server: net/http: TLS handshake timeout'}),
        sleep: async () => undefined,
        clock: () => now,
      })
      return {kubectl, calls: () => calls}
    }
    const slow = attempts(50_000)
    const error = await slow.kubectl.run(['get', 'pods']).catch((e: unknown) => e as Error)
    expect(error).to.be.instanceOf(UnreachableError)
    expect(slow.calls(), 'one kubectl, not three').to.equal(1)
    const quick = attempts(200)
    expect(await quick.kubectl.run(['get', 'pods']).catch((e: unknown) => e)).to.be.instanceOf(UnreachableError)
    expect(quick.calls(), 'a hiccup: tried three times').to.equal(3)
  })

  it('says a get the API server has left unanswered for slowReadMs, while it waits (kubectl said nothing for about 50 s); not a quick get, a watch, a change, nor while an outage is waited out', async () => {
    const said: string[] = []
    const kubectl = (tookMs: number) =>
      new Kubectl({
        binary: 'kubectl',
        context: 'prod',
        runner: async () => (await new Promise((r) => setTimeout(r, tookMs)), {exitCode: 0, stdout: '{}', stderr: ''}),
        onSlowRead: (m) => said.push(m),
        slowReadMs: 30,
      })
    await kubectl(120).run(['get', 'deployments'])
    expect(said).to.deep.equal(['the API server (context prod) has not answered for 0s; still waiting: kubectl gives up by itself within about a minute (Ctrl-C stops)'])
    said.length = 0
    await kubectl(5).run(['get', 'deployments'])
    await kubectl(120).run(['get', 'pods', '-w'])
    await kubectl(120).run(['patch', 'deployment', 'web', '-p', '{}'])
    await kubectl(120)
      .waitingOut({deadline: Date.now() + 60_000, clock: Date.now, intervalMs: 1})
      .run(['get', 'deployments'])
    expect(said, 'none of these').to.deep.equal([])
  })

  it('a kubectl stopped for its time is an API server that did not answer (exit 4), not retried; one that waits out an outage ends by its deadline', async () => {
    const given: Array<number | undefined> = []
    const stopped = new Kubectl({
      binary: 'kubectl',
      runner: async (_file, _args, options) => (given.push(options.timeoutMs), {exitCode: -1, stdout: '', stderr: 'Command timed out after 5000 milliseconds: kubectl get pods', timedOut: true}),
      sleep: async () => undefined,
    })
    const error = await stopped.run(['get', 'pods'], {timeoutMs: 5000}).catch((e: unknown) => e as Error)
    expect(error).to.be.instanceOf(UnreachableError)
    expect((error as UnreachableError).exitCode).to.equal(ExitCode.UNREACHABLE)
    expect((error as Error).message).to.contain('no answer within 5s')
    expect(given).to.deep.equal([5000])
    // Waiting out an outage: each attempt is given the time left to the deadline (a stopped API server held one call a
    // minute past the deploy's --timeout); past it, the unreachable error.
    let now = 0
    given.length = 0
    const waiting = new Kubectl({
      binary: 'kubectl',
      runner: async (_file, _args, options) => (given.push(options.timeoutMs), (now += options.timeoutMs ?? 0), {exitCode: -1, stdout: '', stderr: '', timedOut: true}),
      sleep: async () => undefined,
    }).waitingOut({deadline: 40_000, clock: () => now, intervalMs: 1})
    const late = await waiting.run(['patch', 'service', 'web', '-p', '{}']).catch((e: unknown) => e as Error)
    expect(late).to.be.instanceOf(UnreachableError)
    expect(given[0]).to.equal(40_000)
    expect(now).to.be.below(40_000 + 2 * 2000 + 1)
    expect((late as Error).message).to.match(/it has not answered for 4\ds, and the time is up$/)
  })

  it('does not retry other errors, nor non-idempotent calls', async () => {
    const fake = fakeKubectl([{argv: ['--request-timeout=30s', 'create', '-f', '-'], result: {exitCode: 1, stderr: 'Error from server: etcdserver: request timed out'}}])
    try {
      await fake.kubectl.run(['create', '-f', '-'], {idempotent: false})
      expect.fail('expected an error')
    } catch (error) {
      expect(error).to.be.instanceOf(KubectlError)
    }
    expect(fake.calls).to.have.length(1)
  })

  const cases: Array<[string, string, string, number]> = [
    ['Error from server (NotFound): deployments.apps "web" not found', 'kubectl_not_found', 'KubectlError', ExitCode.FAILED],
    ['Error from server (Forbidden): deployments.apps is forbidden: User "x" cannot list', 'kubectl_forbidden', 'KubectlError', ExitCode.FAILED],
    ['Error from server (AlreadyExists): leases.coordination.k8s.io "l" already exists', 'kubectl_already_exists', 'KubectlError', ExitCode.FAILED],
    ['Error from server (Conflict): Operation cannot be fulfilled: the object has been modified', 'kubectl_conflict', 'KubectlError', ExitCode.FAILED],
    ['The Service "bad" is invalid: spec.ports[0].port: Invalid value: 99999', 'kubectl_invalid', 'KubectlError', ExitCode.INVALID],
    ['error: context "nope" does not exist', 'kubectl_no_context', 'KubectlError', ExitCode.INVALID],
    [
      'Error from server: failed to create typed patch object (shop/pins; /v1, Kind=Secret): .stringData.PIN: expected string, got &value.valueUnstructured{Value:(redacted)}',
      'kubectl_invalid',
      'KubectlError',
      ExitCode.INVALID,
    ],
    ['Unable to connect to the server: dial tcp 127.0.0.1:6443: connect: connection refused', 'unreachable', 'ApiServerUnreachableError', ExitCode.UNREACHABLE],
    // client-go's --request-timeout, run out before any answer (an etcd that stalled): exit 1, "see the message above".
    [
      'error when creating "STDIN": Post "https://127.0.0.1:6443/apis/coordination.k8s.io/v1/namespaces/shop/leases?fieldManager=kubectl-create": context deadline exceeded',
      'unreachable',
      'ApiServerUnreachableError',
      ExitCode.UNREACHABLE,
    ],
  ]
  it('a credential plugin that fails, or a user without credentials, is a sign-in to redo (exit 4), not a network to check', () => {
    const plugin = classify(
      ['get', 'namespace', 'shop'],
      'E1207 14:01:02.123 memcache.go:265] couldn\'t get current server API group list: Get "https://10.0.0.1/api?timeout=32s": getting credentials: exec: executable gke-gcloud-auth-plugin failed with exit code 1"',
      'prod',
    )
    expect(plugin.exitCode).to.equal(ExitCode.UNREACHABLE)
    expect(plugin.message).to.equal('kubectl could not get credentials (context prod): exec: executable gke-gcloud-auth-plugin failed with exit code 1')
    expect(plugin.hint).to.contain('sign in again').and.not.contain('VPN')
    // kubectl writes the prompt to stdout: its stderr is this line alone.
    const prompt = classify(['get', 'namespace', 'shop'], 'error: EOF\n', 'prod')
    expect(prompt.exitCode).to.equal(ExitCode.UNREACHABLE)
    expect(prompt.message).to.equal("the kubeconfig's user (context prod) has no credentials (kubectl asked for a user name)")
  })

  it('a refusal in a namespace says the namespace may not exist yet; one at the cluster scope says a namespaced user never gets it; both point to docs/rbac.md', () => {
    const inNamespace = classify(
      ['get', 'configmaps'],
      'Error from server (Forbidden): configmaps is forbidden: User "system:serviceaccount:rb-app:dev" cannot list resource "configmaps" in API group "" in the namespace "rb-missing"',
      'rb',
    )
    expect(inNamespace.hint).to.contain('in namespace rb-missing (or rb-missing does not exist yet: a cluster admin creates it, with your RoleBinding in it)').and.contain('docs/rbac.md')
    const cluster = classify(
      ['get', 'crd'],
      'Error from server (Forbidden): customresourcedefinitions.apiextensions.k8s.io "widgets.x.test" is forbidden: User "dev" cannot get resource "customresourcedefinitions" in API group "apiextensions.k8s.io" at the cluster scope',
      'rb',
    )
    expect(cluster.hint).to.contain('cluster-scoped').and.contain('docs/rbac.md')
  })

  for (const [stderr, code, type, exit] of cases) {
    it(`classifies "${stderr.slice(0, 40)}..." as ${code}`, () => {
      const e = classify(['get', 'x'], stderr, 'prod')
      expect(e.constructor.name).to.equal(type)
      expect(e.code).to.equal(code)
      expect(e.exitCode).to.equal(exit)
      expect(e.hint).to.be.a('string').and.not.equal('')
    })
  }

  it('a kind the cluster does not serve is invalid input (exit 2) saying which kind, with the definition to install', () => {
    const e = classify(['apply', '-f', '-'], 'error: unable to recognize "STDIN": no matches for kind "Widget" in version "x.test/v1"\nensure CRDs are installed first', 'prod')
    expect(e.exitCode).to.equal(ExitCode.INVALID)
    expect(e.message).to.equal('kubectl apply failed (context prod): the cluster does not serve kind Widget in version x.test/v1')
    expect(e.hint).to.equal('Install the CustomResourceDefinition of Widget (x.test/v1) in the cluster first, or add it to the templates; nothing was changed.')
  })

  it('a built-in kind under a version Kubernetes removed names the version it is served as, not a definition to install', () => {
    const e = classify(
      ['apply', '-f', '-'],
      'error: resource mapping not found for name: "web" namespace: "" from "STDIN": no matches for kind "Deployment" in version "apps/v1beta1"\nensure CRDs are installed first',
      'prod',
    )
    expect(e.exitCode).to.equal(ExitCode.INVALID)
    expect(e.message).to.equal('kubectl apply failed (context prod): the cluster does not serve kind Deployment in version apps/v1beta1')
    expect(e.hint).to.equal('Write apiVersion: apps/v1 in its template: Deployment is served as apps/v1, and apps/v1beta1 is no longer; nothing was changed.')
    const ingress = classify(['apply', '-f', '-'], 'no matches for kind "Ingress" in version "extensions/v1beta1"', 'prod')
    expect(ingress.hint).to.match(/^Write apiVersion: networking\.k8s\.io\/v1 in its template: Ingress is served as networking\.k8s\.io\/v1, and extensions\/v1beta1 is no longer/)
  })

  it('a namespace being deleted says so and to wait, not that RBAC permission is missing', () => {
    const e = classify(
      ['apply', '-f', '-'],
      'Error from server (Forbidden): error when creating "STDIN": secrets "creds" is forbidden: unable to create new content in namespace shop because it is being terminated',
      'prod',
    )
    expect(e.message).to.equal('kubectl apply failed (context prod): namespace shop is being deleted, and takes no new objects until it is gone')
    expect(e.hint).to.equal('Wait until `kubectl get namespace shop --context prod` finds it no more (deleting what was in it can take a minute), then run this again; nothing was changed.')
    expect(e.hint).to.not.contain('RBAC')
  })

  it("an API server that is down while kubectl create validates (it downloads the schema first) is unreachable, without kubectl's advice to turn validation off", () => {
    const stderr =
      'error: error validating "STDIN": error validating data: failed to download openapi: Get "https://127.0.0.1:6443/openapi/v2?timeout=32s": dial tcp 127.0.0.1:6443: connect: connection refused; if you choose to ignore these errors, turn validation off with --validate=false'
    const e = classify(['create', '-f', '-'], stderr, 'prod')
    expect(e.exitCode).to.equal(ExitCode.UNREACHABLE)
    expect(e.message).to.equal("cannot reach the cluster's API server (context prod): dial tcp 127.0.0.1:6443: connect: connection refused")
  })

  it('names the context when the cluster is unreachable', () => {
    const e = classify(['get', 'pods'], 'Unable to connect to the server: dial tcp: lookup x: no such host', 'prod-cluster')
    expect(e).to.be.instanceOf(UnreachableError)
    expect(e.message).to.contain('(context prod-cluster)')
  })
})

describe('kubectl: a cluster that cannot be reached', () => {
  // What kubectl prints, verbatim, when the API server is down, killed mid-request, or off the network.
  const klog =
    'E1130 14:37:08.782026   10391 memcache.go:265] "Unhandled Error" err="couldn\'t get current server API group list: Get \\"https://127.0.0.1:6443/api?timeout=30s\\": dial tcp 127.0.0.1:6443: connect: connection refused"'
  const unreachable: Array<[string, string, RegExp]> = [
    ['server down', 'The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?', /: the connection to the server 127\.0\.0\.1:6443 was refused$/],
    [
      'server down, with client-go log lines',
      `${klog}\n${klog}\nThe connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?`,
      /: the connection to the server 127\.0\.0\.1:6443 was refused$/,
    ],
    ['only client-go log lines', klog, /: couldn't get current server API group list: .*connection refused$/],
    ['TLS handshake timeout', 'Unable to connect to the server: net/http: TLS handshake timeout', /: net\/http: TLS handshake timeout$/],
    ['i/o timeout', 'Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout', /: dial tcp 10\.0\.0\.1:6443: i\/o timeout$/],
    ['no route to host', 'Unable to connect to the server: dial tcp 10.0.0.1:6443: connect: no route to host', /no route to host$/],
    [
      'killed mid-request (EOF)',
      'error: Get "https://127.0.0.1:6443/api/v1/namespaces/shop/pods?limit=500": EOF',
      /: Get "https:\/\/127\.0\.0\.1:6443\/api\/v1\/namespaces\/shop\/pods\?limit=500": EOF$/,
    ],
    ['killed mid-request (unexpected EOF)', 'Unable to connect to the server: unexpected EOF', /: unexpected EOF$/],
    [
      'killed between requests',
      'error: Get "https://127.0.0.1:6443/api/v1/namespaces/shop/pods": dial tcp 127.0.0.1:6443: connect: connection refused - error from a previous attempt: read tcp 127.0.0.1:50000->127.0.0.1:6443: read: connection reset by peer',
      /error from a previous attempt/,
    ],
    ['EOF alone', 'EOF', /: EOF$/],
    // As kubectl printed them when the test's proxy cut the connection mid-answer (scale reads the object first).
    [
      'cut while the answer was read',
      `E1206 11:40:31.296299   30507 request.go:1196] "Unexpected error when reading response body" err="unexpected EOF"\nerror: unexpected error when reading response body. Please retry. Original error: unexpected EOF`,
      /\): unexpected error when reading response body\. Please retry\. Original error: unexpected EOF$/,
    ],
    [
      'cut while the answer was read, by scale',
      `E1206 11:40:31.296299   30507 request.go:1196] "Unexpected error when reading response body" err="unexpected EOF"\nerror: no objects passed to scale unexpected error when reading response body. Please retry. Original error: unexpected EOF`,
      /\): unexpected error when reading response body\. Please retry\. Original error: unexpected EOF$/,
    ],
    [
      'cut while the request was sent',
      'error: Patch "https://127.0.0.1:6443/api/v1/namespaces/shop/services/web?fieldManager=kubectl-patch": write tcp 127.0.0.1:50000->127.0.0.1:6443: write: broken pipe',
      /write: broken pipe$/,
    ],
  ]
  for (const [what, stderr, message] of unreachable) {
    it(`exit 4 naming the context: ${what}`, async () => {
      const argv = ['--context', 'prod', '--namespace', 'shop', '--request-timeout=30s', 'get', 'pods']
      // Transient ones are retried first (retries: 2): three identical answers.
      const fake = fakeKubectl(
        [0, 1, 2].map(() => ({argv, result: {exitCode: 1, stderr}})),
        {context: 'prod', namespace: 'shop'},
      )
      const error = await fake.kubectl.run(['get', 'pods']).then(
        () => expect.fail('expected an error'),
        (e: unknown) => e,
      )
      expect(error).to.be.instanceOf(UnreachableError)
      const e = error as UnreachableError
      expect(e.exitCode).to.equal(ExitCode.UNREACHABLE)
      expect(e.message).to.match(/^cannot reach the cluster's API server \(context prod\): /)
      expect(e.message).to.match(message)
      expect(e.message, 'one line, without client-go log prefixes').to.not.match(/\n|E1130|memcache\.go/)
      expect(e.hint).to.contain('kubectl cluster-info --context prod')
    })
  }

  const answered: Array<[string, string]> = [
    [
      'a webhook that is down',
      'Error from server (InternalError): Internal error occurred: failed calling webhook "v.example.com": Post "https://hook.default.svc:443/validate": dial tcp 10.96.0.9:443: connect: connection refused',
    ],
    ['a kubelet that is down', 'Error from server: Get "https://10.0.0.3:10250/containerLogs/shop/web-1/web": dial tcp 10.0.0.3:10250: connect: connection refused'],
  ]
  for (const [what, stderr] of answered) {
    it(`is not exit 4 when the API server answered: ${what}`, () => {
      const e = classify(['get', 'x'], stderr, 'prod')
      expect(e).to.be.instanceOf(KubectlError)
      expect(e.exitCode).to.equal(ExitCode.FAILED)
    })
  }
})

describe('kubectl: waitingOut, an API server that stops answering waited for call by call', () => {
  const refused = {exitCode: 1, stderr: 'The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?'}
  const eof = {exitCode: 1, stderr: 'error: Get "https://127.0.0.1:6443/api/v1/namespaces/shop/services": EOF'}
  const patch = ['--request-timeout=30s', 'patch', 'service', 'web', '-p', '{}']
  /** A clock that moves by each sleep: the waits are counted, not slept. */
  const fakeTime = () => {
    let now = 0
    const slept: number[] = []
    return {clock: () => now, slept, advance: (ms: number) => ((now += ms), slept.push(ms))}
  }

  it('waits through refused and EOF answers, says so once each way, then returns the answer', async () => {
    const time = fakeTime()
    const fake = fakeKubectl([
      {argv: patch, result: refused},
      {argv: patch, result: eof},
      {argv: patch, result: () => (time.advance(1500), {stdout: 'service/web patched'})},
    ])
    const events: string[] = []
    const kubectl = fake.kubectl.waitingOut({deadline: 60_000, clock: time.clock, intervalMs: 1, onContact: (e) => events.push(e.lost ? `lost: ${e.reason}` : `back after ${e.afterMs}`)})
    expect((await kubectl.run(['patch', 'service', 'web', '-p', '{}'])).stdout).to.equal('service/web patched')
    expect(events).to.deep.equal(['lost: the connection to the server 127.0.0.1:6443 was refused', 'back after 1500'])
    expect(fake.remaining()).to.equal(0)
  })

  it('past its deadline the unreachable error is thrown (exit 4), saying how long and that the time is up', async () => {
    const time = fakeTime()
    const fake = fakeKubectl([
      {argv: patch, result: refused},
      {argv: patch, result: () => (time.advance(61_000), refused)},
    ])
    const kubectl = fake.kubectl.waitingOut({deadline: 60_000, clock: time.clock, intervalMs: 1})
    const error = await kubectl.run(['patch', 'service', 'web', '-p', '{}']).then(
      () => expect.fail('expected an error'),
      (e: unknown) => e,
    )
    expect(error).to.be.instanceOf(UnreachableError)
    expect((error as UnreachableError).exitCode).to.equal(ExitCode.UNREACHABLE)
    expect((error as Error).message).to.match(/it has not answered for 61s, and the time is up$/)
  })

  it('a Ctrl-C during the wait ends it at once: the call is not made again, its error is thrown (the command then exits 130)', async () => {
    const fake = fakeKubectl([{argv: patch, result: refused}])
    const controller = new AbortController()
    // A real clock and a long interval: without the signal, this call would wait its first 10 s and ask again.
    const kubectl = fake.kubectl.waitingOut({deadline: Date.now() + 60_000, clock: Date.now, intervalMs: 10_000, signal: controller.signal})
    const started = Date.now()
    setTimeout(() => controller.abort(), 50)
    const error = await kubectl.run(['patch', 'service', 'web', '-p', '{}']).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(UnreachableError)
    expect(Date.now() - started, 'ended by the Ctrl-C, not by the wait').to.be.below(5000)
    expect(fake.calls.length, 'not asked again after the Ctrl-C').to.equal(1)
  })

  it('waitingEachUpTo: each call gets that long from its start, past the deadline given first', async () => {
    const time = fakeTime()
    time.advance(120_000)
    const fake = fakeKubectl([{argv: patch, result: refused}, {argv: patch}])
    const kubectl = fake.kubectl.waitingOut({deadline: 60_000, clock: time.clock, intervalMs: 1}).waitingEachUpTo(30_000)
    await kubectl.run(['patch', 'service', 'web', '-p', '{}'])
    expect(fake.remaining()).to.equal(0)
    // Without it, the deadline already passed: the first refusal is the error.
    const late = fakeKubectl([{argv: patch, result: refused}])
    const error = await late.kubectl
      .waitingOut({deadline: 60_000, clock: time.clock, intervalMs: 1})
      .run(['patch', 'service', 'web', '-p', '{}'])
      .catch((e: unknown) => e)
    expect(error).to.be.instanceOf(UnreachableError)
  })

  it('does not wait for a call marked idempotent: false, for other errors, or in a copy made atOnce; withNamespace keeps the wait', async () => {
    const time = fakeTime()
    const options = {deadline: 60_000, clock: time.clock, intervalMs: 1}
    const create = ['--request-timeout=30s', 'create', '-f', '-']
    const once = fakeKubectl([{argv: create, result: refused}])
    expect(
      await once.kubectl
        .waitingOut(options)
        .run(['create', '-f', '-'], {idempotent: false})
        .catch((e: unknown) => e),
    ).to.be.instanceOf(UnreachableError)
    const forbidden = fakeKubectl([{argv: patch, result: {exitCode: 1, stderr: 'Error from server (Forbidden): services "web" is forbidden: User "ci" cannot patch resource'}}])
    expect(
      await forbidden.kubectl
        .waitingOut(options)
        .run(['patch', 'service', 'web', '-p', '{}'])
        .catch((e: unknown) => e),
    ).to.have.property('kind', 'forbidden')
    const plain = fakeKubectl([{argv: patch, result: refused}])
    expect(
      await plain.kubectl
        .waitingOut(options)
        .atOnce()
        .run(['patch', 'service', 'web', '-p', '{}'])
        .catch((e: unknown) => e),
    ).to.be.instanceOf(UnreachableError)
    const namespaced = fakeKubectl([{argv: ['--namespace', 'shop', ...patch], result: refused}, {argv: ['--namespace', 'shop', ...patch]}])
    await namespaced.kubectl.waitingOut(options).withNamespace('shop').run(['patch', 'service', 'web', '-p', '{}'])
    expect([once.calls.length, forbidden.calls.length, plain.calls.length, namespaced.remaining()]).to.deep.equal([1, 1, 1, 0])
  })

  it('a call that allows failure (a cleanup) waits too, and past the deadline returns what kubectl said instead of throwing', async () => {
    const time = fakeTime()
    const del = ['--request-timeout=30s', 'delete', 'deployment', 'web-green']
    const fake = fakeKubectl([
      {argv: del, result: refused},
      {argv: del, result: {stdout: 'deployment.apps "web-green" deleted'}},
      {argv: del, result: refused},
      {argv: del, result: () => (time.advance(61_000), eof)},
      {argv: del, result: {exitCode: 1, stderr: 'Error from server (Forbidden): deployments.apps "web-green" is forbidden'}},
    ])
    const kubectl = fake.kubectl.waitingOut({deadline: 60_000, clock: time.clock, intervalMs: 1})
    const args = ['delete', 'deployment', 'web-green']
    expect((await kubectl.run(args, {allowFailure: true})).stdout).to.equal('deployment.apps "web-green" deleted')
    expect(await kubectl.run(args, {allowFailure: true})).to.include({exitCode: 1, stderr: eof.stderr})
    expect(await kubectl.run(args, {allowFailure: true}), 'an answer from the server is returned at once').to.have.property('exitCode', 1)
    expect(fake.remaining()).to.equal(0)
  })

  it('calls that lose the server together say so once, and once that it answers again', async () => {
    const time = fakeTime()
    const get = (name: string) => ['--request-timeout=30s', 'get', 'service', name]
    // Answered in the order the calls reach the fake: web and api refused, web refused again, then both answered.
    const fake = fakeKubectl([
      {argv: get('web'), result: refused},
      {argv: get('api'), result: refused},
      {argv: get('web'), result: () => (time.advance(2000), {stdout: 'web'})},
      {argv: get('api'), result: {stdout: 'api'}},
    ])
    const events: boolean[] = []
    const kubectl = fake.kubectl.waitingOut({deadline: 60_000, clock: time.clock, intervalMs: 1, onContact: (e) => events.push(e.lost)})
    const answers = await Promise.all([kubectl.run(['get', 'service', 'web']), kubectl.run(['get', 'service', 'api'])])
    expect(answers.map((a) => a.stdout)).to.deep.equal(['web', 'api'])
    expect(events).to.deep.equal([true, false])
  })
})

describe('kubectl: interrupted', () => {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    it(`a kubectl killed by ${signal} (Ctrl-C to the process group) is an interruption (130), not "kubectl failed"`, async () => {
      const argv = ['--request-timeout=30s', 'apply', '-f', '-']
      const fake = fakeKubectl([{argv, result: {exitCode: -1, signal, stderr: `Command was killed with ${signal} (User interruption with CTRL-C): kubectl apply -f -`}}])
      const error = await fake.kubectl.run(['apply', '-f', '-'], {allowFailure: true}).then(
        () => expect.fail('expected an error'),
        (e: unknown) => e,
      )
      expect(error).to.be.instanceOf(InterruptedError)
      expect((error as InterruptedError).exitCode).to.equal(ExitCode.INTERRUPTED)
      expect(fake.calls, 'not retried').to.have.length(1)
    })
  }

  it('an interrupted apply says to look at what was applied; an interrupted read does not claim anything was', async () => {
    const killed = {exitCode: -1, signal: 'SIGINT', stderr: 'Command was killed with SIGINT'}
    const fake = fakeKubectl([
      {argv: ['--request-timeout=30s', 'apply', '-f', '-'], result: killed},
      {argv: ['--request-timeout=30s', 'get', 'leases', '-o', 'json'], result: killed},
    ])
    const hints: unknown[] = []
    for (const args of [
      ['apply', '-f', '-'],
      ['get', 'leases', '-o', 'json'],
    ])
      hints.push(((await fake.kubectl.run(args).catch((e: unknown) => e)) as InterruptedError).hint)
    expect(hints).to.deep.equal(['Check `skycap status` to see what was applied.', 'Check `skycap status` to see what runs.'])
  })

  it('a kubectl that exited 1 (not killed) stays a kubectl failure', async () => {
    const fake = fakeKubectl([{argv: ['--request-timeout=30s', 'get', 'pods'], result: {exitCode: 1, stderr: 'error: the server doesn\'t have a resource type "podz"'}}])
    const error = await fake.kubectl.run(['get', 'pods']).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(KubectlError)
  })
})

describe('kubectl: how the real runner reports a killed process', () => {
  it('reports the signal of a process killed by SIGINT', async () => {
    const r = await execaRunner(process.execPath, ['-e', "process.kill(process.pid, 'SIGINT')"], {})
    expect(r).to.include({exitCode: -1, signal: 'SIGINT'})
  })

  it('gives a call without input an empty stdin, so a prompt (kubectl asking for a user name) ends at once, not never', async () => {
    // What kubectl does for a kubeconfig user without credentials: "Please enter Username:", then reads stdin.
    const prompt = "process.stderr.write('Please enter Username: '); process.stdin.on('data', () => {}); process.stdin.on('end', () => { console.error('error: EOF'); process.exit(1) })"
    const r = await execaRunner(process.execPath, ['-e', prompt], {timeoutMs: 10_000})
    expect(r).to.include({exitCode: 1})
    expect(r.stderr).to.contain('error: EOF')
    // Input still reaches a call that has some (kubectl apply -f -).
    expect((await execaRunner(process.execPath, ['-e', 'process.stdin.pipe(process.stdout)'], {input: 'kind: List\n'})).stdout).to.equal('kind: List\n')
  })

  it('reports no signal for a process it killed for its timeout (a timeout, not an interruption)', async () => {
    const r = await execaRunner(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], {timeoutMs: 200})
    expect(r.exitCode).to.equal(-1)
    expect(r.signal).to.equal(undefined)
  })
})

// What kubectl 1.32/1.33 print, as seen when skycap runs as a user who may not read them (a CI job as another user
// than the one whose kubeconfig it got). Nothing reaches the cluster: a local file to fix, exit 2, not "See the
// kubectl message above", exit 1.
describe('kubectl: a kubeconfig (or a file it names) kubectl cannot use', () => {
  const uid = process.geteuid ? `uid ${process.geteuid()}` : 'the user running skycap'
  const cases = [
    {
      what: 'the kubeconfig itself, unreadable',
      stderr: 'error: error loading config file "/ci/kubeconfig": open /ci/kubeconfig: permission denied',
      reason: 'error loading config file "/ci/kubeconfig": open /ci/kubeconfig: permission denied',
      hint: `Make the file it names readable by ${uid}, or point KUBECONFIG at one that is; nothing was changed.`,
    },
    {
      what: 'a client certificate it names, unreadable (get)',
      stderr:
        'Error in configuration: \n* unable to read client-cert /home/a/pki/admin.crt for prod due to open /home/a/pki/admin.crt: permission denied\n* unable to read client-key /home/a/pki/admin.key for prod due to open /home/a/pki/admin.key: permission denied',
      reason: 'unable to read client-cert /home/a/pki/admin.crt for prod due to open /home/a/pki/admin.crt: permission denied',
      hint: `Make the file it names readable by ${uid}, or point KUBECONFIG at one that is; nothing was changed.`,
    },
    {
      what: 'a client certificate it names, unreadable (config view)',
      stderr:
        'error: invalid configuration: [unable to read client-cert /home/a/pki/admin.crt for prod due to open /home/a/pki/admin.crt: permission denied, unable to read client-key /k for prod due to open /k: permission denied]',
      reason: 'unable to read client-cert /home/a/pki/admin.crt for prod due to open /home/a/pki/admin.crt: permission denied',
      hint: `Make the file it names readable by ${uid}, or point KUBECONFIG at one that is; nothing was changed.`,
    },
    {
      what: 'a kubeconfig that is not YAML',
      stderr: 'error: error loading config file "/ci/kubeconfig": yaml: line 3: did not find expected node content',
      reason: 'error loading config file "/ci/kubeconfig": yaml: line 3: did not find expected node content',
      hint: 'Fix the file it names (KUBECONFIG lists the files kubectl reads, else ~/.kube/config); nothing was changed.',
    },
  ]
  for (const {what, stderr, reason, hint} of cases) {
    it(what, () => {
      const e = classify(['get', 'deployments'], stderr, 'prod')
      expect(e.message).to.equal(`kubectl cannot use the kubeconfig (context prod): ${reason}`)
      expect(e.hint).to.equal(hint)
      expect(e.exitCode).to.equal(ExitCode.INVALID)
    })
  }
})

// kubectl finds its kubeconfig and writes its cache under $HOME; with HOME unset it used `.kube/` of the folder skycap
// ran in (an untracked folder in the repository: the next protected deploy refused the dirty work tree).
describe('kubectl: HOME unset', () => {
  let dir: string
  let saved: string | undefined
  beforeEach(() => {
    saved = process.env.HOME
    dir = mkdtempSync(join(tmpdir(), 'skycap-home-'))
    writeFileSync(join(dir, 'kubectl'), '#!/bin/sh\nprintf "%s" "$HOME"\n', {mode: 0o755})
  })
  afterEach(() => {
    if (saved === undefined) delete process.env.HOME
    else process.env.HOME = saved
    rmSync(dir, {recursive: true, force: true})
  })

  for (const value of [undefined, '']) {
    it(`gives kubectl the user's home when HOME is ${value === undefined ? 'unset' : 'empty'}`, async () => {
      if (value === undefined) delete process.env.HOME
      else process.env.HOME = value
      const r = await execaRunner(join(dir, 'kubectl'), [], {})
      expect(r.stdout).to.equal(userInfo().homedir).and.not.equal('')
    })
  }

  it('leaves a HOME that is set as it is', async () => {
    process.env.HOME = dir
    expect((await execaRunner(join(dir, 'kubectl'), [], {})).stdout).to.equal(dir)
  })
})
