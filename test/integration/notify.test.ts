// Notifications (docs/notify.md): the built CLI deploys to the test cluster and tells a recording HTTP server in this
// process, which speaks for a webhook, Slack, the GitHub Deployments API and the GitLab Deployments API, and can
// answer errors or not at all.
import {expect} from 'chai'
import http from 'node:http'
import type {AddressInfo} from 'node:net'

import {CRASH, NOT_READY, TestApp} from './app.js'
import {kubectl, useNamespace, waitFor} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']

/** Values that must reach only the header they belong in, never a body, a warning or the terminal. */
const SECRETS = {slack: '/services/T0SKY/B0CAP/slackSecret42', github: 'ghs_githubSecret42', gitlab: 'glpat-gitlabSecret42', hook: 'hookSecret42', query: 'hookQuerySecret42'}

interface Recorded {
  target: 'webhook' | 'slack' | 'github' | 'gitlab'
  method: string
  path: string
  headers: http.IncomingHttpHeaders
  raw: string
  body: any
}

/** The recording server: `mode` ok answers like the real services, 500 fails every request, hang never answers. */
class RecordingServer {
  readonly requests: Recorded[] = []
  mode: 'ok' | '500' | 'hang' = 'ok'
  /** Deployment ids, by API. */
  private readonly ids = {github: 100, gitlab: 200}
  private readonly server = http.createServer((req, res) => {
    let raw = ''
    req.setEncoding('utf8')
    req.on('data', (d: string) => (raw += d))
    req.on('end', () => this.answer(req, res, raw))
  })

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
  }

  get base(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
  }

  /** What the CLI gets in its environment to reach this server. */
  env(): Record<string, string> {
    return {
      IT_SLACK_URL: `${this.base}/slack${SECRETS.slack}`,
      IT_HOOK_URL: `${this.base}/hooks/deploy?token=${SECRETS.query}`,
      IT_HOOK_TOKEN: SECRETS.hook,
      GITHUB_TOKEN: SECRETS.github,
      GITHUB_REPOSITORY: 'acme/itnotify',
      GITHUB_API_URL: `${this.base}/github`,
      GITHUB_SERVER_URL: 'https://github.example',
      // The job URL (log_url, the webhook's url) is GitHub's only under GitHub Actions.
      GITHUB_ACTIONS: 'true',
      GITHUB_RUN_ID: '777',
      GITHUB_ACTOR: 'alice',
      SKYCAP_USER: 'alice',
      GITLAB_TOKEN: SECRETS.gitlab,
      CI_API_V4_URL: `${this.base}/gitlab/api/v4`,
      CI_PROJECT_ID: '42',
    }
  }

  of(target: Recorded['target']): Recorded[] {
    return this.requests.filter((r) => r.target === target)
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, raw: string): void {
    const path = req.url ?? ''
    const target = path.startsWith('/slack/') ? 'slack' : path.startsWith('/hooks/') ? 'webhook' : path.startsWith('/github/') ? 'github' : 'gitlab'
    this.requests.push({target, method: req.method ?? '', path, headers: req.headers, raw, body: JSON.parse(raw)})
    if (this.mode === 'hang') return
    if (this.mode === '500') {
      // Slack and the webhook echo what they were sent (as some servers do): the URL's path and query, the token.
      const echo = target === 'slack' || target === 'webhook' ? ` at ${path} for ${String(req.headers.authorization)}` : ''
      res.writeHead(500, {'Content-Type': 'text/plain'}).end(`upstream exploded${echo}`)
      return
    }
    const creates = req.method === 'POST' && /\/deployments$/.test(path)
    const id = creates && (target === 'github' || target === 'gitlab') ? this.ids[target]++ : 1
    res.writeHead(creates ? 201 : 200, {'Content-Type': 'application/json'}).end(target === 'slack' ? 'ok' : JSON.stringify({id}))
  }
}

const NOTIFY = `notify:
  environmentUrl: https://test.itnotify.example
  slack: {webhookEnv: IT_SLACK_URL}
  webhook:
    url: \${env:IT_HOOK_URL}
    headers: {Authorization: "Bearer \${env:IT_HOOK_TOKEN}", X-Team: platform}
  github: {deployments: true}
  gitlab: {deployments: true}
`

describe('notifications (a recording server; kwok)', function () {
  this.timeout(600_000)
  const ns = useNamespace('notify')
  let app: TestApp
  let server: RecordingServer
  beforeEach(async () => {
    server = new RecordingServer()
    await server.start()
    app = await TestApp.create(ns.name, 'itnotify')
    await app.change((text) => `${text}${NOTIFY}`, 'notify')
  })
  afterEach(async () => {
    app.remove()
    await server.stop()
  })

  /** Nothing secret in any body; each secret only in the header it belongs in. */
  function expectNoSecretInBodies(): void {
    for (const r of server.requests) for (const secret of Object.values(SECRETS)) expect(r.raw, `${r.target} ${r.path}`).to.not.contain(secret)
    for (const r of server.of('github')) expect(r.headers.authorization).to.equal(`Bearer ${SECRETS.github}`)
    for (const r of server.of('gitlab')) expect(r.headers['private-token']).to.equal(SECRETS.gitlab)
    for (const r of server.of('webhook')) expect(r.headers).to.include({authorization: `Bearer ${SECRETS.hook}`, 'x-team': 'platform'})
  }

  function expectNoSecretIn(text: string): void {
    for (const secret of Object.values(SECRETS)) expect(text).to.not.contain(secret)
    expect(text).to.not.contain('/slack/')
    expect(text).to.not.contain('/hooks/deploy')
  }

  it('a deploy, a failing deploy that rolls back, and a rollback send their events in order, with the documented bodies, to all four', async () => {
    const job = 'https://github.example/acme/itnotify/actions/runs/777'
    const first = await app.repo.git('rev-parse', 'HEAD')
    const ok = await app.cli([...DEPLOY, 'test'], {env: server.env()})
    expect(ok.exitCode, ok.stderr).to.equal(0)
    expect(ok.stderr).to.not.contain('notify.')

    const hooks = () => server.of('webhook').map((r) => r.body)
    const base = {app: 'itnotify', environment: 'test', url: job, environmentUrl: 'https://test.itnotify.example'}
    expect(hooks().map((b) => [b.event, b.action, b.release, b.result])).to.deep.equal([
      ['started', 'deploy', 1, 'running'],
      ['succeeded', 'deploy', 1, 'succeeded'],
    ])
    for (const body of hooks()) {
      expect(body).to.deep.include({...base, fromRevision: null})
      expect(body.revision).to.deep.include({sha: first, short: first.slice(0, 7), subject: 'notify'})
      expect(body.user).to.match(/^alice/)
      expect(Number.isNaN(Date.parse(body.timestamp)), body.timestamp).to.equal(false)
      expect(body.message).to.match(new RegExp(`^itnotify release 1 to test (started|succeeded): ${first.slice(0, 7)} notify`))
    }

    await app.change(CRASH, 'crash')
    const crashed = await app.repo.git('rev-parse', 'HEAD')
    const failed = await app.json([...DEPLOY, 'test', '--timeout', '2m'], {env: server.env()})
    expect(failed.exitCode, failed.stderr).to.equal(1)
    expect(failed.doc.error.details.report.rollback).to.deep.include({to: 1, release: 3, result: 'succeeded'})
    expect(failed.doc.error.details.report.notifications).to.equal(undefined)

    const rolledBack = await app.json(['rollback', 'test', '--to', '2'], {env: server.env()})
    // Release 2 failed: rollback refuses it, before any lock or notification.
    expect(rolledBack.exitCode).to.equal(2)
    // Release 1 is what runs again (the automatic rollback returned to it): a rollback to it changes and records
    // nothing, and sends nothing.
    const sent = server.requests.length
    const same = await app.json(['rollback', 'test', '--to', '1'], {env: server.env()})
    expect(same.exitCode, same.stderr).to.equal(0)
    expect(same.doc.result).to.include({result: 'unchanged'})
    expect(server.requests.length, 'nothing sent for an unchanged rollback').to.equal(sent)
    // Changed by hand since, web is a difference: the manual rollback puts it back, and notifies.
    expect((await kubectl(['set', 'image', 'deployment/web', 'web=example.invalid/by-hand:1'], {namespace: ns.name})).exitCode).to.equal(0)
    const manual = await app.json(['rollback', 'test', '--to', '1'], {env: server.env()})
    expect(manual.exitCode, manual.stderr).to.equal(0)
    expect(manual.doc.result).to.include({result: 'succeeded', release: 4})

    expect(hooks().map((b) => [b.event, b.action, b.trigger ?? null, b.release, b.revision.sha, b.fromRevision?.sha ?? null, b.rolledBackTo ?? null, b.result])).to.deep.equal([
      ['started', 'deploy', null, 1, first, null, null, 'running'],
      ['succeeded', 'deploy', null, 1, first, null, null, 'succeeded'],
      ['started', 'deploy', null, 2, crashed, first, null, 'running'],
      ['failed', 'deploy', null, 2, crashed, first, null, 'failed'],
      ['rolled-back', 'rollback', 'automatic', 3, first, crashed, 1, 'succeeded'],
      ['started', 'rollback', 'manual', 4, first, first, 1, 'running'],
      ['rolled-back', 'rollback', 'manual', 4, first, first, 1, 'succeeded'],
    ])
    expect(hooks()[3].reason).to.match(/^Deployment\/web: container web of pod web-\S+ is in CrashLoopBackOff/)
    for (const body of hooks()) expect(body).to.deep.include(base)

    // Slack: one message per event, in the same order.
    const slack = server.of('slack').map((r) => r.body.text as string)
    expect(slack.map((t) => t.split(' ')[0])).to.deep.equal([':rocket:', ':white_check_mark:', ':rocket:', ':x:', ':leftwards_arrow_with_hook:', ':rocket:', ':leftwards_arrow_with_hook:'])
    expect(slack[3]).to.contain(`itnotify release 2 to test failed: ${crashed.slice(0, 7)} crash: Deployment/web`)
    expect(slack[4]).to.contain(`<${job}|CI job>`)

    // GitHub: a deployment per release (the automatic rollback's of the revision that runs again), then its statuses.
    expect(
      server.of('github').map((r) => `${r.method} ${r.path.replace('/github/repos/acme/itnotify', '')} ${r.body.ref ?? r.body.state}${r.body.environment ? ` ${r.body.environment}` : ''}`),
    ).to.deep.equal([
      `POST /deployments ${first} test`,
      'POST /deployments/100/statuses in_progress',
      'POST /deployments/100/statuses success',
      `POST /deployments ${crashed} test`,
      'POST /deployments/101/statuses in_progress',
      'POST /deployments/101/statuses failure',
      `POST /deployments ${first} test`,
      'POST /deployments/102/statuses success',
      `POST /deployments ${first} test`,
      'POST /deployments/103/statuses in_progress',
      'POST /deployments/103/statuses success',
    ])
    for (const r of server.of('github').filter((r) => r.body.state)) expect(r.body).to.deep.include({log_url: job, environment_url: 'https://test.itnotify.example'})
    expect(server.of('github')[0]?.body).to.deep.include({auto_merge: false, required_contexts: [], production_environment: false})

    // GitLab: created running (or, for the automatic rollback, with its result), then updated.
    expect(server.of('gitlab').map((r) => `${r.method} ${r.path.replace('/gitlab/api/v4/projects/42', '')} ${r.body.status}${r.body.sha ? ` ${r.body.sha}` : ''}`)).to.deep.equal([
      `POST /deployments running ${first}`,
      'PUT /deployments/200 success',
      `POST /deployments running ${crashed}`,
      'PUT /deployments/201 failed',
      `POST /deployments success ${first}`,
      `POST /deployments running ${first}`,
      'PUT /deployments/203 success',
    ])
    expectNoSecretInBodies()
  })

  it('an automatic rollback that fails itself sends failed for the deploy, then failed for the rollback', async () => {
    const first = await app.repo.git('rev-parse', 'HEAD')
    const ok = await app.cli([...DEPLOY, 'test'], {env: server.env()})
    expect(ok.exitCode, ok.stderr).to.equal(0)
    const stuck = await app.change(NOT_READY, 'never ready')
    // A quota of no pods in the namespace while release 2 waits, so release 1's pods, deleted then, cannot come back
    // when the rollback needs them. (Cordoning the simulated nodes did the same, and starved the tests running beside.)
    const deploying = app.json([...DEPLOY, 'test', '--timeout', '20s'], {env: server.env()})
    try {
      await waitFor('release 2 to have a pod', async () => (await app.get(['pods', '-l', 'sim.kwok.test/behavior=not-ready'])).items.length > 0 || undefined)
      await kubectl(['create', 'quota', 'no-pods', '--hard=pods=0'], {namespace: ns.name})
      await kubectl(['delete', 'pods', '-l', 'app.kubernetes.io/name=web,sim.kwok.test/behavior!=not-ready', '--wait=false'], {namespace: ns.name})
      const failed = await deploying
      // Timed out (exit 70, docs/cli-behaviour.md), then rolled back, and the rollback did not succeed.
      expect(failed.exitCode, failed.stderr).to.equal(70)
      expect(failed.doc.error.details.report.rollback).to.deep.include({to: 1, release: 3})
      expect(failed.doc.error.details.report.rollback.result).to.not.equal('succeeded')
    } finally {
      await deploying.catch(() => undefined)
      await kubectl(['delete', 'quota', 'no-pods', '--ignore-not-found'], {namespace: ns.name})
    }
    const hooks = server.of('webhook').map((r) => r.body)
    expect(hooks.map((b) => [b.event, b.action, b.trigger ?? null, b.release, b.revision.sha, b.result])).to.deep.equal([
      ['started', 'deploy', null, 1, first, 'running'],
      ['succeeded', 'deploy', null, 1, first, 'succeeded'],
      ['started', 'deploy', null, 2, stuck, 'running'],
      ['failed', 'deploy', null, 2, stuck, 'timed-out'],
      ['failed', 'rollback', 'automatic', 3, first, 'failed'],
    ])
    expect(server.of('slack').map((r) => String(r.body.text).split(' ')[0])).to.deep.equal([':rocket:', ':white_check_mark:', ':rocket:', ':x:', ':x:'])
    expect(server.of('github').map((r) => r.body.state ?? `create ${r.body.ref}`)).to.deep.equal([
      `create ${first}`,
      'in_progress',
      'success',
      `create ${stuck}`,
      'in_progress',
      'failure',
      `create ${first}`,
      'failure',
    ])
    expectNoSecretInBodies()
  })

  it('a server answering 500 gives a warning per target and event, and the deploy succeeds; twice', async () => {
    server.mode = '500'
    for (let round = 1; round <= 2; round++) {
      const r = await app.json([...DEPLOY, 'test'], {env: server.env()})
      expect(r.exitCode, r.stderr).to.equal(0)
      for (const target of ['slack', 'webhook', 'github', 'gitlab'])
        for (const event of ['started', 'succeeded'])
          expect(r.stderr)
            .to.contain(`warning: notify.${target}: the ${event} event of release ${round} was not delivered (127.0.0.1:`)
            .and.contain(
              `answered HTTP 500 Internal Server Error: upstream exploded${target === 'slack' ? ' at *** for undefined' : target === 'webhook' ? ' at *** for ***' : ''}); the deploy is not affected`,
            )
      expect(r.doc.result.notifications).to.have.length(8)
      expectNoSecretIn(r.stderr)
      expectNoSecretIn(JSON.stringify(r.doc))
      await app.change((text) => text, `round ${round}`)
    }
    // GitHub and GitLab: the start created no deployment, so the end tries again to create one (and fails again).
    expect(server.of('github').map((r) => r.path)).to.deep.equal(Array(4).fill('/github/repos/acme/itnotify/deployments'))
    expectNoSecretInBodies()
  })

  it('a server that never answers: warnings after notify.timeout, the deploy succeeds, --json lists them', async () => {
    server.mode = 'hang'
    await app.change((text) => text.replace('notify:\n', 'notify:\n  timeout: 2s\n'), 'a short notify timeout')
    const r = await app.json([...DEPLOY, 'test'], {env: server.env()})
    expect(r.exitCode, r.stderr).to.equal(0)
    const undelivered = r.doc.result.notifications as Array<{target: string; event: string; message: string}>
    expect(undelivered.map((n) => `${n.target} ${n.event}`).sort()).to.deep.equal([
      'github started',
      'github succeeded',
      'gitlab started',
      'gitlab succeeded',
      'slack started',
      'slack succeeded',
      'webhook started',
      'webhook succeeded',
    ])
    // Each says whether its own 2s ran out, or the wait at the deploy's end (2s too) cut it short or left it unsent.
    const stopped = 'skycap stopped waiting for notifications 2s after the end'
    for (const n of undelivered) {
      // Unsent is undelivered; unanswered may have been delivered.
      expect(n.message).to.contain(n.message.includes(': not sent (') ? ' was not delivered (' : ' may not have been delivered (')
      expect(n.message).to.match(new RegExp(`\\(127\\.0\\.0\\.1:\\d+: (no answer within 2s|no answer yet \\(${stopped}\\)|not sent \\(${stopped}\\))\\); the deploy is not affected$`))
    }
    expectNoSecretIn(JSON.stringify(r.doc))
    expectNoSecretIn(r.stderr)
    // Every target was asked for the start (the end goes out only when the start's request timed out before the
    // notifier's own deadline: a deploy that outlasts 2s).
    for (const target of ['slack', 'webhook', 'github', 'gitlab'] as const) expect(server.of(target).length, target).to.be.within(1, 2)
  })
})
