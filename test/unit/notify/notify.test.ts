import {expect} from 'chai'
import http from 'node:http'
import type {AddressInfo} from 'node:net'

import {parseConfig} from '../../../src/config/load.js'
import {resolveEnvironment} from '../../../src/config/environment.js'
import {ConfigErrors} from '../../../src/errors.js'
import {type DeployEvent, describeEvent, webhookBody} from '../../../src/notify/event.js'
import {githubDeployment, githubStatus} from '../../../src/notify/github.js'
import {gitlabDeployment} from '../../../src/notify/gitlab.js'
import {openNotifier} from '../../../src/notify/notifier.js'
import {redact} from '../../../src/redact.js'
import {sender} from '../../../src/notify/request.js'
import {slackBody} from '../../../src/notify/slack.js'
import {expandVariables} from '../../../src/notify/webhook.js'
import {memoryReporter} from '../../../src/ui/output.js'

const REV = {sha: '3f2c1ab0000000000000000000000000000000aa', short: '3f2c1ab', subject: 'Fix <the> cart & checkout'}
const OLD = {sha: '1a2b3c40000000000000000000000000000000bb', short: '1a2b3c4', subject: 'Older'}

function event(over: Partial<DeployEvent> = {}): DeployEvent {
  return {
    event: 'started',
    action: 'deploy',
    app: 'shop',
    environment: 'staging',
    release: 4,
    revision: REV,
    fromRevision: OLD,
    user: 'alice@ci',
    result: 'running',
    url: 'https://ci.example/jobs/7',
    environmentUrl: 'https://staging.shop.example',
    timestamp: '2026-12-01T00:00:00.000Z',
    ...over,
  }
}

/** A fetch that records requests and answers with `answer(n)` (n counts from 0). */
function recordingFetch(answer: (n: number, init: RequestInit) => Promise<Response> | Response = () => new Response('{"id": 11}', {status: 201})) {
  const requests: Array<{url: string; method: string; headers: Record<string, string>; body: any}> = []
  const fake = (async (url: string, init: RequestInit) => {
    requests.push({url, method: String(init.method), headers: init.headers as Record<string, string>, body: JSON.parse(String(init.body))})
    return answer(requests.length - 1, init)
  }) as unknown as typeof fetch
  return {fetch: fake, requests}
}

/** A fetch that never answers; it rejects as fetch does when its signal aborts. */
const silentFetch = (async (_url: string, init: RequestInit) =>
  new Promise((_, reject) => {
    if (init.signal?.aborted) reject(init.signal.reason)
    init.signal?.addEventListener('abort', () => reject(init.signal?.reason))
  })) as unknown as typeof fetch

async function environment(notify: string, env = 'staging') {
  const text = `app: shop\nservices:\n  web: {image: web}\n${notify}\nenvironments:\n  staging: {namespace: shop-staging}\n  prod:\n    namespace: shop-prod\n    protected: true\n    notify:\n      slack: {webhookEnv: PROD_SLACK}\n      github: {deployments: false}\n`
  return resolveEnvironment(await parseConfig(text, '/tmp/x/skycap.yaml'), env)
}

describe('notifications: payloads', () => {
  it('the webhook body carries the documented fields and a message', () => {
    const body = webhookBody(event({event: 'failed', result: 'timed-out', reason: 'Deployment/web: not ready'}))
    expect(body).to.deep.equal({
      ...event({event: 'failed', result: 'timed-out', reason: 'Deployment/web: not ready'}),
      message: 'shop release 4 to staging timed out: 3f2c1ab Fix <the> cart & checkout: Deployment/web: not ready (alice@ci)',
    })
    expect(Object.keys(body)).to.include.members(['event', 'app', 'environment', 'release', 'revision', 'fromRevision', 'user', 'result', 'url'])
  })

  it('each event reads as one line', () => {
    expect(describeEvent(event())).to.equal('shop release 4 to staging started: 3f2c1ab Fix <the> cart & checkout (from 1a2b3c4) (alice@ci)')
    expect(describeEvent(event({fromRevision: null}))).to.equal('shop release 4 to staging started: 3f2c1ab Fix <the> cart & checkout (alice@ci)')
    expect(describeEvent(event({fromRevision: REV}))).to.equal('shop release 4 to staging started: 3f2c1ab Fix <the> cart & checkout (again: the revision that runs) (alice@ci)')
    expect(describeEvent(event({event: 'succeeded', result: 'succeeded'}))).to.equal('shop release 4 to staging succeeded: 3f2c1ab Fix <the> cart & checkout (alice@ci)')
    expect(describeEvent(event({event: 'rolled-back', action: 'rollback', trigger: 'automatic', release: 5, revision: OLD, fromRevision: REV, rolledBackTo: 3, result: 'succeeded'}))).to.equal(
      'shop release 5 to staging: rolled back to release 3 (1a2b3c4 Older) from 3f2c1ab (alice@ci)',
    )
    expect(describeEvent(event({action: 'rollback', trigger: 'manual', rolledBackTo: 2, revision: OLD}))).to.equal(
      'shop release 4 to staging started: rolling back to release 2 (1a2b3c4 Older) (alice@ci)',
    )
    expect(describeEvent(event({event: 'failed', action: 'rollback', rolledBackTo: 2, revision: OLD, result: 'interrupted'}))).to.equal(
      'shop release 4 to staging was interrupted (a rollback to release 2): 1a2b3c4 Older (alice@ci)',
    )
  })

  it('Slack gets the line with &, < and > escaped (no links or mentions from a commit subject), and the job link', () => {
    expect(slackBody(event({event: 'succeeded', result: 'succeeded'}))).to.deep.equal({
      text: ':white_check_mark: shop release 4 to staging succeeded: 3f2c1ab Fix &lt;the&gt; cart &amp; checkout (alice@ci) · <https://ci.example/jobs/7|CI job> · <https://staging.shop.example|staging>',
    })
    expect(slackBody(event({url: null, environmentUrl: null})).text).to.equal(':rocket: shop release 4 to staging started: 3f2c1ab Fix &lt;the&gt; cart &amp; checkout (from 1a2b3c4) (alice@ci)')
  })

  it('GitHub: a deployment of the revision to the environment, statuses with log and environment URLs', () => {
    expect(githubDeployment(event(), true)).to.deep.equal({
      ref: REV.sha,
      environment: 'staging',
      description: 'skycap deploy release 4',
      auto_merge: false,
      required_contexts: [],
      production_environment: true,
      payload: {app: 'shop', release: 4, action: 'deploy'},
    })
    expect(githubStatus(event())).to.deep.include({state: 'in_progress', log_url: 'https://ci.example/jobs/7', environment_url: 'https://staging.shop.example', auto_inactive: true})
    expect(githubStatus(event({event: 'succeeded'})).state).to.equal('success')
    expect(githubStatus(event({event: 'failed'})).state).to.equal('failure')
    expect(githubStatus(event({event: 'rolled-back'})).state).to.equal('success')
    const bare = githubStatus(event({url: null, environmentUrl: null, reason: 'x'.repeat(300), event: 'failed'}))
    expect(bare).to.not.have.any.keys('log_url', 'environment_url')
    expect((bare.description as string).length).to.equal(140)
  })

  it("GitLab: the pipeline's branch or tag when it built this revision, else the revision itself", () => {
    expect(gitlabDeployment(event(), {CI_COMMIT_SHA: REV.sha, CI_COMMIT_REF_NAME: 'main'})).to.deep.equal({environment: 'staging', sha: REV.sha, ref: 'main', tag: false, status: 'running'})
    expect(gitlabDeployment(event({event: 'succeeded'}), {CI_COMMIT_SHA: REV.sha, CI_COMMIT_REF_NAME: 'v1.2.0', CI_COMMIT_TAG: 'v1.2.0'})).to.deep.include({
      ref: 'v1.2.0',
      tag: true,
      status: 'success',
    })
    expect(gitlabDeployment(event({event: 'rolled-back', revision: OLD}), {CI_COMMIT_SHA: REV.sha, CI_COMMIT_REF_NAME: 'main'})).to.deep.include({
      ref: OLD.sha,
      sha: OLD.sha,
      tag: false,
      status: 'success',
    })
  })

  it('${env:NAME} takes a variable; unset ones are named', () => {
    expect(expandVariables('Bearer ${env:TOKEN}', {TOKEN: 's3cret'})).to.deep.equal({value: 'Bearer s3cret', unset: [], used: ['s3cret']})
    expect(expandVariables('${env:A}-${env:B}', {A: 'a'}).unset).to.deep.equal(['B'])
    expect(expandVariables('$5 {x}', {}).value).to.equal('$5 {x}')
  })
})

describe('notifications: requests', () => {
  it('an HTTP error names the host and status, never the URL path or a secret the server echoes', async () => {
    const {fetch} = recordingFetch(() => new Response('bad token hunter22 for /services/T0/B0/XYZ', {status: 500, statusText: 'Internal Server Error'}))
    const send = sender({fetch, timeoutMs: 1000, signal: new AbortController().signal, secrets: ['https://hooks.slack.com/services/T0/B0/XYZ', 'hunter22', '/services/T0/B0/XYZ']})
    const error = await send({method: 'POST', url: 'https://hooks.slack.com/services/T0/B0/XYZ', body: {}}).catch((e: Error) => e)
    expect((error as Error).message).to.equal('hooks.slack.com answered HTTP 500 Internal Server Error: bad token *** for ***')
  })

  it('an unreachable server and a time limit are said in words', async () => {
    const refused = (async () => {
      throw Object.assign(new TypeError('fetch failed'), {cause: {code: 'ECONNREFUSED'}})
    }) as unknown as typeof fetch
    const send = (fake: typeof fetch) => sender({fetch: fake, timeoutMs: 50, signal: new AbortController().signal, secrets: []})
    expect(((await send(refused)({method: 'POST', url: 'http://127.0.0.1:9/x', body: {}}).catch((e) => e)) as Error).message).to.equal('127.0.0.1:9: cannot reach it (ECONNREFUSED)')
    expect(((await send(silentFetch)({method: 'POST', url: 'http://127.0.0.1:9/x', body: {}}).catch((e) => e)) as Error).message).to.equal('127.0.0.1:9: no answer within 0.05s')
  })

  it('a header value with a line break (from a variable) is said to be one, naming the header, never its value; fetch is not called', async () => {
    const {fetch, requests} = recordingFetch(() => new Response('ok'))
    const send = sender({fetch, timeoutMs: 1000, signal: new AbortController().signal, secrets: []})
    const error = (await send({method: 'POST', url: 'http://127.0.0.1:9/x', headers: {'X-Token': 'abc\ndefSecret'}, body: {}}).catch((e: Error) => e)) as Error
    expect(error.message).to.equal('127.0.0.1:9: header X-Token has a line break or another character HTTP cannot send (check the variables its value is made of)')
    expect(requests).to.deep.equal([])
  })

  it('a header value with a line break or spaces at its ends (a token read from a file) is sent without them, as fetch sends it', async () => {
    const {fetch, requests} = recordingFetch(() => new Response('ok'))
    const send = sender({fetch, timeoutMs: 1000, signal: new AbortController().signal, secrets: []})
    await send({method: 'POST', url: 'http://127.0.0.1:9/x', headers: {authorization: 'Bearer ghp_abc\n', 'X-Team': ' \tstore front\r\n'}, body: {}})
    expect(requests[0]?.headers).to.deep.include({authorization: 'Bearer ghp_abc', 'X-Team': 'store front'})
  })

  it('a TLS certificate Node refuses says so and what to do, after its code (it read as a host that cannot be reached)', async () => {
    // Node's fetch rejects as undici does: TypeError "fetch failed" with the TLS error as its cause.
    const failing = (code: string, message: string) =>
      (async () => {
        throw Object.assign(new TypeError('fetch failed'), {cause: Object.assign(new Error(message), {code})})
      }) as unknown as typeof fetch
    const send = (fake: typeof fetch) => sender({fetch: fake, timeoutMs: 1000, signal: new AbortController().signal, secrets: []})
    const message = async (code: string, text: string) => ((await send(failing(code, text))({method: 'POST', url: 'https://hooks.internal:8443/x', body: {}}).catch((e) => e)) as Error).message
    expect(await message('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate')).to.equal(
      "hooks.internal:8443: cannot reach it (DEPTH_ZERO_SELF_SIGNED_CERT: its TLS certificate is not signed by a CA that Node trusts; put the CA's certificate (PEM) in a file and point NODE_EXTRA_CA_CERTS at it)",
    )
    expect(await message('UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unable to get local issuer certificate')).to.contain(
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY: its TLS certificate is not signed by a CA that Node trusts',
    )
    expect(await message('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames")).to.equal(
      'hooks.internal:8443: cannot reach it (ERR_TLS_CERT_ALTNAME_INVALID: its TLS certificate is for another host name)',
    )
    expect(await message('CERT_HAS_EXPIRED', 'certificate has expired')).to.contain('(CERT_HAS_EXPIRED: its TLS certificate has expired)')
    expect(await message('ECONNRESET', 'socket hang up')).to.equal('hooks.internal:8443: cannot reach it (ECONNRESET)')
  })

  it('redact replaces every secret, the longest first', () => {
    expect(redact('a abcdef b abcd c', ['abcd', 'abcdef', 'ab'])).to.equal('a *** b *** c')
  })
})

describe('notifications: the notifier', () => {
  const vars = {PROD_SLACK: 'https://hooks.slack.test/services/P/R/OD', GITHUB_TOKEN: 'ghp_token123', GITHUB_REPOSITORY: 'acme/shop', GITHUB_API_URL: 'http://gh.test/api', USER: 'bob'}

  it("an environment's notify: is merged over the app's, key by key", async () => {
    const prod = await environment('notify:\n  github: {deployments: true}\n  webhook: {url: "https://hooks.example/x"}', 'prod')
    expect(prod.notify).to.deep.equal({github: {deployments: false}, webhook: {url: 'https://hooks.example/x'}, slack: {webhookEnv: 'PROD_SLACK'}})
    const staging = await environment('', 'staging')
    expect(staging.notify).to.equal(undefined)
  })

  it("an environment's webhook replaces the app's whole: the app's headers (its token) never go to the environment's URL", async () => {
    const text = [
      'app: shop',
      'services:\n  web: {image: web}',
      'notify:\n  timeout: 5s\n  github: {deployments: true, repository: acme/shop}',
      '  webhook: {url: "https://tracker.example/hook", headers: {Authorization: "Bearer ${env:TRACKER_TOKEN}"}}',
      'environments:\n  prod:\n    namespace: p\n    notify:\n      webhook: {url: "https://pager.example/hook", headers: {X-Env: prod}}',
    ].join('\n')
    const prod = resolveEnvironment(await parseConfig(text, '/tmp/x/skycap.yaml'), 'prod')
    expect(prod.notify).to.deep.equal({timeout: '5s', github: {deployments: true, repository: 'acme/shop'}, webhook: {url: 'https://pager.example/hook', headers: {'X-Env': 'prod'}}})
    // Before, the headers merged: the tracker's token went to the pager, and the pager was not called while TRACKER_TOKEN was unset.
    const {fetch, requests} = recordingFetch(() => new Response('{}'))
    const reporter = memoryReporter()
    const notifier = await openNotifier({...prod, notify: {...prod.notify, github: {deployments: false}}}, {app: 'shop', reporter, fetch, env: {USER: 'bob'}})
    notifier.send({action: 'deploy', release: 1, revision: REV, fromRevision: null, event: 'started', result: 'running'})
    expect(await notifier.settle()).to.deep.equal([])
    expect(requests.map((r) => [r.url, r.headers])).to.deep.equal([['https://pager.example/hook', {'Content-Type': 'application/json', 'User-Agent': 'skycap', 'X-Env': 'prod'}]])
  })

  it("GitHub's repository as requireChecks finds it: the remote origin when GITHUB_REPOSITORY is not set; a GITHUB_REPOSITORY that is not owner/name is a warning", async () => {
    const env = await environment('notify:\n  github: {deployments: true}', 'staging')
    const {fetch, requests} = recordingFetch()
    const {GITHUB_REPOSITORY: _, ...noRepository} = vars
    const fromRemote = await openNotifier(env, {app: 'shop', reporter: memoryReporter(), fetch, env: noRepository, remoteUrl: async () => 'git@github.com:octo/shop-repo.git'})
    fromRemote.send({action: 'deploy', release: 1, revision: REV, fromRevision: null, event: 'started', result: 'running'})
    expect(await fromRemote.settle()).to.deep.equal([])
    expect(requests.map((r) => r.url)).to.deep.equal(['http://gh.test/api/repos/octo/shop-repo/deployments', 'http://gh.test/api/repos/octo/shop-repo/deployments/11/statuses'])
    requests.length = 0
    const noRemote = await openNotifier(env, {app: 'shop', reporter: memoryReporter(), fetch, env: noRepository, remoteUrl: async () => undefined})
    expect((await noRemote.settle()).map((w) => w.message)).to.deep.equal([
      'notify.github: GITHUB_REPOSITORY (or notify.github.repository, or a remote origin on GitHub) is not set; no GitHub deployment is recorded',
    ])
    const notOwnerName = await openNotifier(env, {app: 'shop', reporter: memoryReporter(), fetch, env: {...vars, GITHUB_REPOSITORY: 'acme'}})
    expect((await notOwnerName.settle()).map((w) => w.message)).to.deep.equal(['notify.github: GITHUB_REPOSITORY is "acme", not owner/name; no GitHub deployment is recorded'])
    expect(requests).to.deep.equal([])
  })

  it('sends each target its events in order, all targets at once; GitHub creates one deployment and sets its statuses', async () => {
    const env = await environment('notify:\n  github: {deployments: true}\n  webhook: {url: "https://hooks.example/x", headers: {X-Token: "${env:GITHUB_TOKEN}"}}', 'staging')
    const {fetch, requests} = recordingFetch()
    const reporter = memoryReporter()
    const notifier = await openNotifier(env, {app: 'shop', reporter, fetch, env: vars, clock: () => 0})
    const facts = {action: 'deploy', release: 4, revision: REV, fromRevision: OLD} as const
    notifier.send({...facts, event: 'started', result: 'running'})
    notifier.send({...facts, event: 'succeeded', result: 'succeeded'})
    expect(await notifier.settle()).to.deep.equal([])
    const github = requests.filter((r) => r.url.startsWith('http://gh.test'))
    expect(github.map((r) => `${r.method} ${r.url} ${r.body.state ?? ''}`)).to.deep.equal([
      'POST http://gh.test/api/repos/acme/shop/deployments ',
      'POST http://gh.test/api/repos/acme/shop/deployments/11/statuses in_progress',
      'POST http://gh.test/api/repos/acme/shop/deployments/11/statuses success',
    ])
    expect(github[0]?.headers).to.include({authorization: 'Bearer ghp_token123', accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28'})
    const hooks = requests.filter((r) => r.url === 'https://hooks.example/x')
    expect(hooks.map((r) => r.body.event)).to.deep.equal(['started', 'succeeded'])
    expect(hooks[0]?.headers).to.include({'X-Token': 'ghp_token123'})
    expect(hooks[1]?.body).to.deep.include({
      app: 'shop',
      environment: 'staging',
      release: 4,
      user: `bob@${(await import('node:os')).hostname()}`,
      result: 'succeeded',
      timestamp: '1970-01-01T00:00:00.000Z',
    })
    for (const r of hooks) expect(JSON.stringify(r.body)).to.not.contain('ghp_token123')
  })

  it('a target that fails is a warning naming it and the event, without its URL; the others are still sent', async () => {
    const env = await environment('notify:\n  github: {deployments: true}', 'prod')
    const {fetch, requests} = recordingFetch((_, init) => (String(init.body).includes('"text"') ? new Response('no_service', {status: 404}) : new Response('{"id": 3}', {status: 201})))
    const reporter = memoryReporter()
    const notifier = await openNotifier(env, {app: 'shop', reporter, fetch, env: {...vars, PROD_SLACK: vars.PROD_SLACK}})
    notifier.send({action: 'deploy', release: 9, revision: REV, fromRevision: null, event: 'started', result: 'running'})
    notifier.failUnfinished(new Error('kubectl apply: forbidden\nmore'))
    const warnings = await notifier.settle()
    expect(warnings.map((w) => [w.target, w.event])).to.deep.equal([
      ['slack', 'started'],
      ['slack', 'failed'],
    ])
    expect(warnings[1]?.message).to.equal('notify.slack: the failed event of release 9 was not delivered (hooks.slack.test answered HTTP 404: no_service); the deploy is not affected')
    expect(reporter.warnings).to.deep.equal(warnings.map((w) => w.message))
    for (const w of reporter.warnings) expect(w).to.not.contain('/services/')
    // github: false in prod, so only Slack was asked.
    expect(requests.map((r) => r.url)).to.deep.equal([vars.PROD_SLACK, vars.PROD_SLACK])
    expect(requests[1]?.body.text).to.contain('failed: 3f2c1ab Fix &lt;the&gt; cart &amp; checkout: kubectl apply: forbidden (')
  })

  it('settle waits at most the timeout for a server that never answers, then warns', async () => {
    const env = await environment('notify:\n  timeout: 1s\n  webhook: {url: "http://hooks.test/x"}\n  github: {deployments: true}', 'staging')
    // Each wait (a request's time limit, settle's) ends when the test ends it.
    const waits: AbortController[] = []
    const timeout = () => {
      waits.push(new AbortController())
      return (waits.at(-1) as AbortController).signal
    }
    const notifier = await openNotifier(env, {app: 'shop', reporter: memoryReporter(), fetch: silentFetch, env: vars, timeout})
    notifier.send({action: 'deploy', release: 1, revision: REV, fromRevision: null, event: 'started', result: 'running'})
    notifier.send({action: 'deploy', release: 1, revision: REV, fromRevision: null, event: 'succeeded', result: 'succeeded'})
    const settled = notifier.settle()
    // settle's wait, then each target's started request: settle's ending alone ends the command's wait.
    while (waits.length < 3) await new Promise((resolve) => setTimeout(resolve, 5))
    waits[0]?.abort()
    const warnings = await settled
    expect(waits.map((w) => w.signal.aborted)).to.deep.equal([true, false, false])
    expect(warnings.map((w) => `${w.target} ${w.event}`).sort()).to.deep.equal(['github started', 'github succeeded', 'webhook started', 'webhook succeeded'])
    // Unanswered is not undelivered: the server may have the request (it said "was not delivered"). What was never
    // sent was not delivered, and neither said "no answer within 1s": it was settle's wait that ended.
    for (const w of warnings.filter((x) => x.event === 'started'))
      expect(w.message).to.match(/ may not have been delivered \(\S+: no answer yet \(skycap stopped waiting for notifications 1s after the end\)\); the deploy is not affected$/)
    for (const w of warnings.filter((x) => x.event === 'succeeded'))
      expect(w.message).to.match(/ was not delivered \(\S+: not sent \(skycap stopped waiting for notifications 1s after the end\)\); the deploy is not affected$/)
  })

  it('settle stops waiting at a signal that comes during its wait (a Ctrl-C after a successful deploy), not at one that came before', async () => {
    const env = await environment('notify:\n  timeout: 1s\n  webhook: {url: "http://hooks.test/x"}', 'staging')
    const waits: AbortController[] = []
    const timeout = () => {
      waits.push(new AbortController())
      return (waits.at(-1) as AbortController).signal
    }
    const succeeded = async (signal: AbortSignal) => {
      const notifier = await openNotifier(env, {app: 'shop', reporter: memoryReporter(), fetch: silentFetch, env: vars, timeout})
      notifier.send({action: 'deploy', release: 1, revision: REV, fromRevision: null, event: 'succeeded', result: 'succeeded'})
      return notifier.settle(signal)
    }
    // During the wait: the wait ends at the signal (neither settle's nor the request's time limit ended).
    const ctrlC = new AbortController()
    const settled = succeeded(ctrlC.signal)
    while (waits.length < 2) await new Promise((resolve) => setTimeout(resolve, 5))
    ctrlC.abort()
    const warnings = await settled
    expect(waits.map((w) => w.signal.aborted)).to.deep.equal([false, false])
    expect(warnings.map((w) => w.message)).to.deep.equal([
      'notify.webhook: the succeeded event of release 1 may not have been delivered (hooks.test: no answer yet (skycap stopped waiting for notifications when interrupted (Ctrl-C or a signal))); the deploy is not affected',
    ])
    // Before the wait (the deploy stopped on it): its events still get the whole time limit.
    waits.length = 0
    const before = new AbortController()
    before.abort()
    let done = false
    const late = succeeded(before.signal).then((w) => ((done = true), w))
    while (waits.length < 2) await new Promise((resolve) => setTimeout(resolve, 5))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(done, 'settle returned before its time limit').to.equal(false)
    waits[0]?.abort()
    expect((await late).map((w) => w.message)[0]).to.contain('skycap stopped waiting for notifications 1s after the end')
  })

  it('a variable that is not set is one warning up front, and the target is left out', async () => {
    const env = await environment('notify:\n  slack: {webhookEnv: NOPE_URL}\n  gitlab: {deployments: true}\n  webhook: {url: "https://x.test/${env:HOOK_PATH}"}', 'staging')
    const reporter = memoryReporter()
    const {fetch, requests} = recordingFetch()
    const notifier = await openNotifier(env, {app: 'shop', reporter, fetch, env: {}})
    notifier.send({action: 'deploy', release: 1, revision: REV, fromRevision: null, event: 'started', result: 'running'})
    const warnings = await notifier.settle()
    expect(warnings.map((w) => [w.target, w.event])).to.deep.equal([
      ['slack', undefined],
      ['webhook', undefined],
      ['gitlab', undefined],
    ])
    expect(warnings.map((w) => w.message)).to.deep.equal([
      'notify.slack: NOPE_URL is not set; no Slack message is sent',
      'notify.webhook: HOOK_PATH is not set; the webhook is not called',
      'notify.gitlab: GITLAB_TOKEN (or CI_JOB_TOKEN) and CI_PROJECT_ID (or notify.gitlab.project) are not set; no GitLab deployment is recorded',
    ])
    expect(requests).to.deep.equal([])
  })

  it('a variable set to "" (a CI secret that does not exist) is said to be empty, not unset', async () => {
    const env = await environment('notify:\n  slack: {webhookEnv: NOPE_URL}\n  github: {deployments: true}\n  webhook: {url: "https://x.test/${env:HOOK_PATH}"}', 'staging')
    const {fetch, requests} = recordingFetch()
    const notifier = await openNotifier(env, {app: 'shop', reporter: memoryReporter(), fetch, env: {NOPE_URL: '', HOOK_PATH: '', GITHUB_TOKEN: ''}})
    expect((await notifier.settle()).map((w) => w.message)).to.deep.equal([
      'notify.slack: NOPE_URL is empty (a CI secret that does not exist comes as an empty value); no Slack message is sent',
      'notify.webhook: HOOK_PATH is empty (a CI secret that does not exist comes as an empty value); the webhook is not called',
      'notify.github: GITHUB_REPOSITORY (or notify.github.repository, or a remote origin on GitHub) is not set, GITHUB_TOKEN is empty (a CI secret that does not exist comes as an empty value); no GitHub deployment is recorded',
    ])
    expect(requests).to.deep.equal([])
  })

  it('a variable that holds no http(s) URL is one warning up front naming it, without its value, and the target is left out', async () => {
    const env = await environment('notify:\n  slack: {webhookEnv: SLACK_URL}\n  webhook: {url: "${env:HOOK_BASE}/deploys"}', 'staging')
    const reporter = memoryReporter()
    const {fetch, requests} = recordingFetch()
    const notifier = await openNotifier(env, {app: 'shop', reporter, fetch, env: {SLACK_URL: 'T0SKY/B0CAP/slackSecret42', HOOK_BASE: 'ftp://hooks.test'}})
    notifier.send({action: 'deploy', release: 1, revision: REV, fromRevision: null, event: 'started', result: 'running'})
    notifier.send({action: 'deploy', release: 1, revision: REV, fromRevision: null, event: 'succeeded', result: 'succeeded'})
    const warnings = await notifier.settle()
    expect(warnings).to.deep.equal([
      {
        target: 'slack',
        message:
          "notify.slack: SLACK_URL does not hold an http:// or https:// URL (its value is not shown: it may be a secret); no Slack message is sent. Set it to the incoming webhook's URL, https://hooks.slack.com/services/…",
      },
      {target: 'webhook', message: 'notify.webhook: the URL made of HOOK_BASE is not an http:// or https:// URL (its value is not shown: it may be a secret); the webhook is not called'},
    ])
    expect(requests).to.deep.equal([])
  })

  it('GitLab: creates the deployment running, then updates it; the job token when there is no GITLAB_TOKEN', async () => {
    const env = await environment('notify:\n  gitlab: {deployments: true, project: group/shop}', 'staging')
    const {fetch, requests} = recordingFetch()
    const notifier = await openNotifier(env, {app: 'shop', reporter: memoryReporter(), fetch, env: {CI_JOB_TOKEN: 'jobtok', CI_API_V4_URL: 'http://gl.test/api/v4/'}})
    notifier.send({action: 'deploy', release: 2, revision: REV, fromRevision: null, event: 'started', result: 'running'})
    notifier.send({action: 'deploy', release: 2, revision: REV, fromRevision: null, event: 'failed', result: 'failed'})
    expect(await notifier.settle()).to.deep.equal([])
    expect(requests.map((r) => `${r.method} ${r.url} ${r.body.status}`)).to.deep.equal([
      'POST http://gl.test/api/v4/projects/group%2Fshop/deployments running',
      'PUT http://gl.test/api/v4/projects/group%2Fshop/deployments/11 failed',
    ])
    expect(requests[0]?.headers).to.include({'JOB-TOKEN': 'jobtok'})
  })
})

describe('notifications: skycap.yaml', () => {
  it('a Slack webhook URL written in the file is an error that says why, and the URL is not repeated', async () => {
    const url = 'https://hooks.slack.com/services/T0/B0/SECRETXYZ'
    for (const notify of [`notify:\n  slack: {webhook: "${url}"}`, `notify:\n  slack: {webhookEnv: "${url}"}`, `notify:\n  slack: "${url}"`]) {
      const error = await parseConfig(`app: shop\nservices:\n  web: {image: web}\n${notify}\nenvironments:\n  staging: {namespace: s}\n`, '/tmp/x/skycap.yaml').catch((e) => e)
      expect(error).to.be.instanceOf(ConfigErrors)
      const message = (error as ConfigErrors).errors.map((e) => e.message).join('\n')
      expect(message).to.not.contain('SECRETXYZ')
      expect(message).to.match(/notify\.slack/)
    }
    const error = (await parseConfig(`app: shop\nservices:\n  web: {image: web}\nnotify:\n  slack: {webhook: "${url}"}\nenvironments:\n  staging: {namespace: s}\n`, '/tmp/x/skycap.yaml').catch(
      (e) => e,
    )) as ConfigErrors
    expect(
      error.errors.map((e) => e.message),
      error.message,
    ).to.include(
      '/tmp/x/skycap.yaml:5:20: notify.slack.webhook: a Slack webhook URL is a secret and must not be written in skycap.yaml; put it in an environment variable (a CI secret) and name that: webhookEnv: SLACK_WEBHOOK_URL',
    )
  })

  it('an unknown key under notify.slack lists only the keys accepted, not the refused webhook', async () => {
    const error = (await parseConfig(
      'app: shop\nservices:\n  web: {image: web}\nnotify:\n  slack: {webhookEnv: SLACK_URL, webhok: x}\nenvironments:\n  staging: {namespace: s}\n',
      '/tmp/x/skycap.yaml',
    ).catch((e) => e)) as ConfigErrors
    expect(error.errors.map((e) => e.message)).to.deep.equal(['/tmp/x/skycap.yaml:5:34: unknown key "webhok" in notify.slack; allowed keys: webhookEnv'])
  })

  it('a webhook URL with credentials is refused at its line, unquoted, saying where credentials go; an @ after the host is fine', async () => {
    const file = (url: string, where = 'top') =>
      where === 'top'
        ? `app: shop\nservices:\n  web: {image: web}\nnotify:\n  webhook:\n    url: "${url}"\nenvironments:\n  staging: {namespace: s}\n`
        : `app: shop\nservices:\n  web: {image: web}\nenvironments:\n  staging:\n    namespace: s\n    notify:\n      webhook: {url: "${url}"}\n`
    const refused = async (url: string, where = 'top') => ((await parseConfig(file(url, where), '/tmp/x/skycap.yaml').catch((e) => e)) as ConfigErrors).errors?.map((e) => e.message)
    const rule =
      'the URL has credentials (user:password@ before the host), which a request cannot carry (fetch refuses such a URL) and which would put a secret in skycap.yaml (its value is not shown); send them in a header from an environment variable instead, e.g. headers: {Authorization: "Basic ${env:DEPLOY_HOOK_AUTH}"} with DEPLOY_HOOK_AUTH holding base64 of user:password'
    expect(await refused('https://user:pw-Secret7@hooks.example.com/deploys')).to.deep.equal([`/tmp/x/skycap.yaml:6:10: notify.webhook.url: ${rule}`])
    expect(await refused('http://token@hooks.example.com')).to.deep.equal([`/tmp/x/skycap.yaml:6:10: notify.webhook.url: ${rule}`])
    expect(await refused('https://${env:HOOK_USER}:${env:HOOK_PW}@hooks.example.com/x', 'env')).to.deep.equal([`/tmp/x/skycap.yaml:8:22: environments.staging.notify.webhook.url: ${rule}`])
    for (const url of ['https://hooks.example.com/deploys?by=alice@example.com', 'https://hooks.example.com/a@b', '${env:HOOK_URL}'])
      expect(((await parseConfig(file(url), '/tmp/x/skycap.yaml')).config.notify?.webhook || undefined)?.url).to.equal(url)
  })

  it("an environment turns off the app's Slack or webhook with false (nothing sent, no warning of its unset variable); true is refused at its line", async () => {
    const text = (env: string) =>
      `app: shop\nservices:\n  web: {image: web}\nnotify:\n  slack: {webhookEnv: TEAM_SLACK}\n  webhook: {url: "\${env:HOOK_URL}"}\nenvironments:\n  dev:\n    namespace: d\n    notify: ${env}\n`
    const dev = resolveEnvironment(await parseConfig(text('{slack: false, webhook: false}'), '/tmp/x/skycap.yaml'), 'dev')
    expect(dev.notify).to.deep.include({slack: false, webhook: false})
    const {fetch, requests} = recordingFetch()
    const notifier = await openNotifier(dev, {app: 'shop', reporter: memoryReporter(), fetch, env: {}})
    notifier.send({action: 'deploy', release: 1, revision: REV, fromRevision: null, event: 'started', result: 'running'})
    expect(await notifier.settle()).to.deep.equal([])
    expect(requests).to.deep.equal([])
    const refused = ((await parseConfig(text('{slack: true, webhook: true}'), '/tmp/x/skycap.yaml').catch((e) => e)) as ConfigErrors).errors.map((e) => e.message)
    expect(refused).to.deep.equal([
      '/tmp/x/skycap.yaml:10:21: environments.dev.notify.slack: true turns nothing on: give {webhookEnv: NAME}, or false to send nothing to Slack here',
      '/tmp/x/skycap.yaml:10:36: environments.dev.notify.webhook: true turns nothing on: give {url: …}, or false to call no webhook here',
    ])
  })

  it('a webhook URL with an unclosed ${env: and an environmentUrl with credentials are refused at their lines, unquoted', async () => {
    const text = (notify: string) => `app: shop\nservices:\n  web: {image: web}\nnotify:\n${notify}\nenvironments:\n  staging: {namespace: s}\n`
    const refused = async (notify: string) => ((await parseConfig(text(notify), '/tmp/x/skycap.yaml').catch((e) => e)) as ConfigErrors).errors?.map((e) => e.message)
    const unclosed =
      '/tmp/x/skycap.yaml:5:18: notify.webhook.url must be a URL in which ${env:NAME} names an environment variable (a $ before { must start ${env:NAME} and end with }) (its value is not shown: it may be a secret)'
    expect(await refused('  webhook: {url: "${env:HOOK_URL"}')).to.deep.equal([unclosed])
    expect(await refused('  webhook: {url: "https://hooks.example.com/${env:HOOK_PATH"}')).to.deep.equal([unclosed])
    const shown = await refused('  environmentUrl: "https://u:Secret7@staging.example"')
    expect(shown).to.deep.equal([
      '/tmp/x/skycap.yaml:5:19: notify.environmentUrl: the URL has credentials (user:password@ before the host), which every notification would show (its value is not shown); give the address people visit',
    ])
    expect(
      ((await parseConfig(text('  environmentUrl: "https://staging.example/?by=a@b"\n  webhook: {url: "https://x.test/${env:P}/$1"}'), '/tmp/x/skycap.yaml')).config.notify?.webhook || undefined)?.url,
    ).to.equal('https://x.test/${env:P}/$1')
  })

  it('header values may only use ${env:NAME}; a bare duration is refused', async () => {
    const error = (await parseConfig(
      'app: shop\nservices:\n  web: {image: web}\nnotify:\n  timeout: 10\n  webhook: {url: "https://x.test", headers: {Authorization: "Bearer ${TOKEN}"}}\nenvironments:\n  staging: {namespace: s}\n',
      '/tmp/x/skycap.yaml',
    ).catch((e) => e)) as ConfigErrors
    const messages = error.errors.map((e) => e.message.replace(/^\S+: /, ''))
    expect(messages.some((m) => m.startsWith('notify.timeout is number 10 but must be a duration'))).to.equal(true)
    expect(messages).to.include(
      'notify.webhook.headers.Authorization must be text in which ${env:NAME} names an environment variable (a $ before { must start ${env:NAME}) (its value is not shown: it may be a secret)',
    )
  })
})

/** A local HTTP server that records each request (raw headers included) and answers with `answer`. */
/** `answer` undefined: the server takes the request and never answers (a hung endpoint). */
async function recordingServer(answer: (req: http.IncomingMessage) => {status: number; body: string} | undefined) {
  const requests: Array<{url: string; rawHeaders: string[]; headers: http.IncomingHttpHeaders}> = []
  const server = http.createServer((req, res) => {
    requests.push({url: req.url ?? '', rawHeaders: req.rawHeaders, headers: req.headers})
    req.resume()
    req.on('end', () => {
      const answered = answer(req)
      if (answered) res.writeHead(answered.status, {'Content-Type': 'text/plain'}).end(answered.body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const close = async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  return {base, requests, close}
}

/** The values of header `name` (any case) as sent, one per line it was sent on. */
function sentHeader(rawHeaders: string[], name: string): string[] {
  return rawHeaders.flatMap((h, i) => (i % 2 === 0 && h.toLowerCase() === name ? [rawHeaders[i + 1] as string] : []))
}

describe('notifications: a recording HTTP server', () => {
  const facts = {action: 'deploy', release: 3, revision: REV, fromRevision: null, event: 'started', result: 'running'} as const

  async function warningsOf(notify: string, env: NodeJS.ProcessEnv): Promise<string[]> {
    const reporter = memoryReporter()
    const notifier = await openNotifier(await environment(notify), {app: 'shop', reporter, env})
    notifier.send(facts)
    const warnings = (await notifier.settle()).map((w) => w.message)
    expect(reporter.warnings).to.deep.equal(warnings)
    return warnings
  }

  it("a Slack webhook's path, echoed whole or in part, is never in a warning", async () => {
    const server = await recordingServer((req) => ({status: 400, body: `bad url ${req.url}; token slackSecret42 unknown; {"url":"${String(req.url).replaceAll('/', '\\/')}"}`}))
    try {
      const warnings = await warningsOf('notify:\n  slack: {webhookEnv: SLACK_URL}', {SLACK_URL: `${server.base}/slack/services/T0/B0/slackSecret42`})
      expect(server.requests.map((r) => r.url)).to.deep.equal(['/slack/services/T0/B0/slackSecret42'])
      expect(warnings).to.have.length(1)
      expect(warnings[0]).to.equal(
        `notify.slack: the started event of release 3 was not delivered (${server.base.slice(7)} answered HTTP 400 Bad Request: bad url ***; token *** unknown; {"url":"***"}); the deploy is not affected`,
      )
      expect(warnings[0]).to.not.match(/slackSecret42|services/)
    } finally {
      await server.close()
    }
  })

  it("a webhook's query values, userinfo and header values echoed by the server are never in a warning", async () => {
    const server = await recordingServer((req) => ({
      status: 403,
      body: `denied ${req.url} token=QSECRET QSECRET for ${String(req.headers['x-api-key'])} and ${String(req.headers.authorization)} (hdrSecret9)`,
    }))
    try {
      const notify = `notify:\n  webhook:\n    url: "\${env:HOOK_URL}?token=\${env:HOOK_TOKEN}&team=storefront"\n    headers: {X-Api-Key: "literalKey77", Authorization: "Bearer \${env:HOOK_BEARER}"}`
      const warnings = await warningsOf(notify, {HOOK_URL: `${server.base}/hooks/deploy`, HOOK_TOKEN: 'QSECRET', HOOK_BEARER: 'hdrSecret9'})
      expect(server.requests.map((r) => r.url)).to.deep.equal(['/hooks/deploy?token=QSECRET&team=storefront'])
      expect(warnings[0]).to.equal(
        `notify.webhook: the started event of release 3 was not delivered (${server.base.slice(7)} answered HTTP 403 Forbidden: denied *** *** *** for *** and *** (***)); the deploy is not affected`,
      )
      for (const secret of ['QSECRET', 'storefront', 'literalKey77', 'hdrSecret9', '/hooks/deploy']) expect(warnings[0]).to.not.contain(secret)
    } finally {
      await server.close()
    }
  })

  it('Basic credentials in a header: the header, the user:password pair and the password are hidden', async () => {
    const basic = Buffer.from('bob:pw-Secret7').toString('base64')
    const server = await recordingServer(() => ({status: 401, body: `no ${basic} (bob:pw-Secret7, pw-Secret7)`}))
    try {
      const warnings = await warningsOf('notify:\n  webhook: {url: "${env:HOOK_URL}", headers: {Authorization: "Basic ${env:HOOK_AUTH}"}}', {HOOK_URL: `${server.base}/x`, HOOK_AUTH: basic})
      expect(warnings[0]).to.contain('answered HTTP 401 Unauthorized: no *** (***, ***)')
    } finally {
      await server.close()
    }
  })

  it('GitHub and GitLab tokens echoed by the API are hidden; their API paths are not secrets and stay readable', async () => {
    const server = await recordingServer((req) => ({
      status: 422,
      body: `${req.url} refused ${String(req.headers.authorization ?? req.headers['private-token'])} ${String(req.url).startsWith('/gh/') ? 'ghp_tok3n99' : 'glpat-tok3n88'}`,
    }))
    try {
      const warnings = await warningsOf('notify:\n  github: {deployments: true, repository: acme/shop}\n  gitlab: {deployments: true, project: 7}', {
        GITHUB_TOKEN: 'ghp_tok3n99',
        GITHUB_API_URL: `${server.base}/gh`,
        GITLAB_TOKEN: 'glpat-tok3n88',
        CI_API_V4_URL: `${server.base}/gl`,
      })
      expect(warnings.sort()).to.deep.equal([
        `notify.github: the started event of release 3 was not delivered (${server.base.slice(7)} answered HTTP 422 Unprocessable Entity: /gh/repos/acme/shop/deployments refused *** ***); the deploy is not affected`,
        `notify.gitlab: the started event of release 3 was not delivered (${server.base.slice(7)} answered HTTP 422 Unprocessable Entity: /gl/projects/7/deployments refused *** ***); the deploy is not affected`,
      ])
    } finally {
      await server.close()
    }
  })

  it("GitHub's answer keeps what is no secret readable: skycap's name, the media type and API version skycap sent", async () => {
    let body = ''
    const server = await recordingServer((req) => {
      body = JSON.stringify({message: 'Validation Failed', description: 'skycap deploy release 3', sent: [req.headers.accept, req.headers['x-github-api-version'], req.headers.authorization]})
      return {status: 422, body}
    })
    try {
      const warnings = await warningsOf('notify:\n  github: {deployments: true, repository: acme/shop}', {GITHUB_TOKEN: 'ghp_tok3n99', GITHUB_API_URL: `${server.base}/gh`})
      expect(server.requests[0]?.headers['user-agent']).to.equal('skycap')
      expect(warnings).to.deep.equal([
        `notify.github: the started event of release 3 was not delivered (${server.base.slice(7)} answered HTTP 422 Unprocessable Entity: ${body.replace('Bearer ghp_tok3n99', '***')}); the deploy is not affected`,
      ])
      expect(warnings[0]).to.contain('application/vnd.github+json').and.contain('2022-11-28').and.not.contain('ghp_tok3n99')
    } finally {
      await server.close()
    }
  })

  it('a long answer is redacted before it is shortened: a secret across the cut does not leak in part', async () => {
    const server = await recordingServer((req) => ({status: 500, body: `${'x'.repeat(190)} ${req.url}`}))
    try {
      const warnings = await warningsOf('notify:\n  slack: {webhookEnv: SLACK_URL}', {SLACK_URL: `${server.base}/services/T0/B0/slackSecret42`})
      expect(warnings[0]).to.contain(`${'x'.repeat(190)} ***)`)
      expect(warnings[0]).to.not.match(/services|slackS/)
    } finally {
      await server.close()
    }
  })

  it('every request carries exactly one User-Agent: skycap (GitHub too), and a webhook header of the same name in any case replaces it', async () => {
    const server = await recordingServer(() => ({status: 201, body: '{"id": 5}'}))
    try {
      const env = {GITHUB_TOKEN: 'ghp_x1234', GITHUB_REPOSITORY: 'acme/shop', GITHUB_API_URL: `${server.base}/gh`, HOOK_URL: `${server.base}/hook`, SLACK_URL: `${server.base}/slack/T/B/C`}
      expect(await warningsOf('notify:\n  github: {deployments: true}\n  slack: {webhookEnv: SLACK_URL}\n  webhook: {url: "${env:HOOK_URL}"}', env)).to.deep.equal([])
      expect(server.requests).to.have.length(4)
      for (const r of server.requests) {
        expect(sentHeader(r.rawHeaders, 'user-agent'), r.url).to.deep.equal(['skycap'])
        expect(sentHeader(r.rawHeaders, 'content-type'), r.url).to.deep.equal(['application/json'])
      }
      server.requests.length = 0
      expect(await warningsOf('notify:\n  webhook: {url: "${env:HOOK_URL}", headers: {user-agent: "acme-deployer", CONTENT-TYPE: "application/vnd.acme+json"}}', env)).to.deep.equal([])
      expect(sentHeader(server.requests[0]?.rawHeaders ?? [], 'user-agent')).to.deep.equal(['acme-deployer'])
      expect(sentHeader(server.requests[0]?.rawHeaders ?? [], 'content-type')).to.deep.equal(['application/vnd.acme+json'])
    } finally {
      await server.close()
    }
  })
})

describe('notifications: an endpoint that hangs', () => {
  it('a failed deploy that rolls back waits for it once at its end, not once per event; the events cut off or never sent say so, not "no answer within 10s"', async () => {
    const server = await recordingServer(() => undefined)
    // Every wait (each request's time limit, settle's) is counted, and ends only when the test ends it.
    const waits: Array<{ms: number; end: () => void}> = []
    const timeout = (ms: number) => {
      const c = new AbortController()
      waits.push({ms, end: () => c.abort()})
      return c.signal
    }
    const arrived = async (n: number) => {
      while (server.requests.length < n) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    try {
      const reporter = memoryReporter()
      const options = {app: 'shop', reporter, env: {USER: 'bob'}, timeout}
      const notifier = await openNotifier(await environment(`notify:\n  webhook: {url: "${server.base}/hook"}`), options)
      const deploy = {action: 'deploy', release: 4, revision: REV, fromRevision: OLD} as const
      notifier.send({...deploy, event: 'started', result: 'running'})
      await arrived(1)
      // The deploy runs while started waits its 10 s, unanswered.
      waits[0]?.end()
      while (reporter.warnings.length < 1) await new Promise((resolve) => setTimeout(resolve, 5))
      notifier.send({...deploy, event: 'failed', result: 'failed', reason: 'Deployment/web: crash loop'})
      notifier.send({action: 'rollback', trigger: 'automatic', release: 5, revision: OLD, fromRevision: REV, rolledBackTo: 3, event: 'rolled-back', result: 'succeeded'})
      await arrived(2)
      const settled = notifier.settle()
      // The end: one wait of the timeout (settle's), whatever the number of events still queued.
      expect(waits.map((w) => w.ms)).to.deep.equal([10_000, 10_000, 10_000])
      waits[2]?.end()
      const warnings = await settled
      expect(server.requests.map((r) => r.url)).to.deep.equal(['/hook', '/hook'])
      const host = server.base.slice('http://'.length)
      expect(warnings.map((w) => w.message)).to.deep.equal([
        `notify.webhook: the started event of release 4 may not have been delivered (${host}: no answer within 10s); the deploy is not affected`,
        `notify.webhook: the failed event of release 4 may not have been delivered (${host}: no answer yet (skycap stopped waiting for notifications 10s after the end)); the deploy is not affected`,
        `notify.webhook: the rolled-back event of release 5 was not delivered (${host}: not sent (skycap stopped waiting for notifications 10s after the end)); the rollback is not affected`,
      ])
      expect(reporter.warnings).to.deep.equal(warnings.map((w) => w.message))
    } finally {
      await server.close()
    }
  })
})

describe('notifications: credentials in a URL', () => {
  it('from a variable: one warning up front that says so and where they go, nothing is sent, the URL is not shown', async () => {
    const {fetch, requests} = recordingFetch()
    const reporter = memoryReporter()
    const url = 'http://bob:pw-Secret7@hooks.test/hook'
    const notifier = await openNotifier(await environment('notify:\n  webhook: {url: "${env:HOOK_URL}"}\n  slack: {webhookEnv: SLACK_URL}'), {
      app: 'shop',
      reporter,
      fetch,
      env: {HOOK_URL: url, SLACK_URL: url},
    })
    notifier.send({action: 'deploy', release: 1, revision: REV, fromRevision: null, event: 'started', result: 'running'})
    expect((await notifier.settle()).map((w) => w.message)).to.deep.equal([
      'notify.slack: the URL in SLACK_URL has credentials (user:password@ before the host), which a request cannot carry; no Slack message is sent',
      'notify.webhook: the URL made of HOOK_URL has credentials (user:password@ before the host), which a request cannot carry; the webhook is not called. Send them in a header from an environment variable instead: headers: {Authorization: "Basic ${env:DEPLOY_HOOK_AUTH}"}',
    ])
    expect(requests).to.deep.equal([])
  })

  it('a request with one says so in words, without the URL', async () => {
    const {fetch, requests} = recordingFetch()
    const send = sender({fetch, timeoutMs: 1000, signal: new AbortController().signal, secrets: []})
    const error = (await send({method: 'POST', url: 'https://bob:pw-Secret7@hooks.test/x', body: {}}).catch((e: unknown) => e)) as Error
    expect(error.message).to.equal('hooks.test: the URL has credentials (user:password@ before the host), which a request cannot carry')
    expect(requests).to.deep.equal([])
  })
})
