import {expect} from 'chai'

import {checkRun, commitStatus, GithubApiServer} from '../helpers/github-api.js'
import {TestApp} from './app.js'
import {kubectl, testCluster, useNamespace} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']
const REQUIRE = (text: string) => text.replace('defaultEnvironment: test\n', 'defaultEnvironment: test\nrequireChecks: {ignore: [deploy]}\n')

/** What a refused deploy must leave as it was: the workloads, the release records, the lock. */
async function clusterState(namespace: string): Promise<string> {
  const list = JSON.parse((await kubectl(['get', 'deployments,services,configmaps,secrets,leases', '-o', 'json'], {namespace})).stdout) as {
    items: Array<{kind: string; metadata: {name: string; resourceVersion: string; generation?: number}; spec?: {template?: {spec?: {containers?: Array<{image: string}>}}}}>
  }
  return list.items
    .map((o) => `${o.kind}/${o.metadata.name} rv=${o.metadata.resourceVersion} gen=${o.metadata.generation ?? '-'} ${o.spec?.template?.spec?.containers?.map((c) => c.image).join(',') ?? ''}`)
    .sort()
    .join('\n')
}

describe('requireChecks: deploy only what CI approved (a local GitHub API, real cluster)', function () {
  const ns = useNamespace('checks')
  let app: TestApp
  let api: GithubApiServer
  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'itchecks')
    api = await GithubApiServer.start()
  })
  afterEach(async () => {
    app.remove()
    await api.close()
  })

  it('deploys a green revision; refuses failing, pending, unknown-token, slow and unreachable answers with the cluster unchanged; --ignore-checks deploys and is in history', async function () {
    this.timeout(240_000)
    const green = await app.change(REQUIRE, 'require checks')
    // The deploy job's own check run is still running while it deploys: requireChecks.ignore leaves it out.
    api.commits.set(green, {statuses: [commitStatus('ci/test', 'success')], checkRuns: [checkRun('build', 'completed', 'success'), checkRun('deploy', 'in_progress')]})
    const first = await app.json([...DEPLOY, `test@${green}`], {env: api.env()})
    expect(first.exitCode, first.stderr).to.equal(0)
    expect(first.doc.result.checks).to.deep.include({repository: 'acme/shop', sha: green})
    expect(first.doc.result.checks.checks.map((c: {name: string; green: boolean}) => [c.name, c.green])).to.deep.equal([
      ['ci/test', true],
      ['build', true],
    ])
    expect(first.stderr).to.match(/Checking the GitHub statuses and check runs of [0-9a-f]{7}/)
    expect(api.requests.map((r) => r.path)).to.include.members([`/repos/acme/shop/commits/${green}/status?per_page=100`, `/repos/acme/shop/commits/${green}/check-runs?per_page=100`])
    expect(api.requests.every((r) => r.authorization === 'Bearer test-token')).to.equal(true)

    app.repo.write('config/web/app.properties', 'greeting=unapproved\n')
    const next = await app.repo.commit('a change CI has not approved')
    const before = await clusterState(ns.name)
    const target = `test@${next}`
    const gone = await GithubApiServer.start()
    await gone.close()
    const closedUrl = gone.url
    const refusals: Array<{setup: () => void; env?: Record<string, string>; exitCode: number; code: string; message: RegExp; hint: RegExp}> = [
      {
        setup: () => api.commits.set(next, {statuses: [commitStatus('ci/test', 'failure')], checkRuns: [checkRun('build', 'completed', 'success')]}),
        exitCode: 2,
        code: 'checks_not_green',
        message: /is not green on GitHub \(acme\/shop\): ci\/test failure \(https:\/\/ci\.example\.com\/ci\/test\); nothing was changed$/,
        hint: /^Fix the failing checks/,
      },
      {
        setup: () => api.commits.set(next, {checkRuns: [checkRun('build', 'completed', 'success'), checkRun('e2e', 'queued')]}),
        exitCode: 2,
        code: 'checks_not_green',
        message: /e2e queued \(https:\/\/github\.com\/acme\/shop\/runs\/e2e\)/,
        hint: /^Wait for this check to finish/,
      },
      {setup: () => api.commits.set(next, {}), exitCode: 2, code: 'checks_not_green', message: /has no commit status or check run on GitHub/, hint: /--ignore-checks/},
      {setup: () => api.commits.delete(next), exitCode: 2, code: 'invalid_input', message: /GitHub has no commit [0-9a-f]{40} in acme\/shop \(HTTP 422/, hint: /^Push the commit/},
      {
        setup: () => api.commits.set(next, {checkRuns: [checkRun('build', 'completed', 'success')]}),
        env: {GITHUB_TOKEN: 'revoked'},
        exitCode: 4,
        code: 'unreachable',
        message: /GitHub refused to show the checks of acme\/shop \(HTTP 401: Bad credentials\)/,
        hint: /^Set GITHUB_TOKEN/,
      },
      {
        setup: () => undefined,
        env: {GITHUB_TOKEN: ''},
        exitCode: 2,
        code: 'invalid_input',
        message: /GITHUB_TOKEN is empty \(a CI secret that does not exist comes as an empty value\)/,
        hint: /Export GITHUB_TOKEN/,
      },
      {
        setup: () => api.commits.set(next, {checkRuns: [checkRun('build', 'completed', 'success')], delayMs: 15_000}),
        exitCode: 4,
        code: 'unreachable',
        message: /cannot reach the GitHub API at http:\/\/127\.0\.0\.1:\d+ to read the checks \(no answer within 10s\)/,
        hint: /--ignore-checks/,
      },
      {setup: () => undefined, env: {GITHUB_API_URL: closedUrl}, exitCode: 4, code: 'unreachable', message: /\(ECONNREFUSED\); nothing was changed$/, hint: /GITHUB_API_URL/},
    ]
    for (const [i, refusal] of refusals.entries()) {
      refusal.setup()
      const r = await app.json([...DEPLOY, target], {env: api.env(refusal.env)})
      const said = `refusal ${i}: ${JSON.stringify(r.doc.error)}`
      expect(r.exitCode, said).to.equal(refusal.exitCode)
      expect(r.doc.error.code, said).to.equal(refusal.code)
      expect(r.doc.error.message, said).to.match(refusal.message)
      expect(r.doc.error.hint, said).to.match(refusal.hint)
      expect(await clusterState(ns.name), said).to.equal(before)
    }
    // --dry-run asks too.
    api.commits.set(next, {statuses: [commitStatus('ci/test', 'failure')]})
    const dry = await app.json([...DEPLOY, target, '--dry-run'], {env: api.env()})
    expect(dry.exitCode).to.equal(2)
    expect(dry.doc.error.details.checks[0]).to.deep.equal({kind: 'status', name: 'ci/test', state: 'failure', url: 'https://ci.example.com/ci/test', green: false})

    const asked = api.requests.length
    const ignored = await app.json([...DEPLOY, target, '--ignore-checks'], {env: api.env()})
    expect(ignored.exitCode, ignored.stderr).to.equal(0)
    expect(ignored.doc.result).to.include({release: 2, ignoreChecks: true})
    expect(ignored.stderr).to.contain('--ignore-checks: deploying')
    expect(api.requests.length, 'requests with --ignore-checks').to.equal(asked)
    const history = await app.json(['history', 'test'])
    expect(history.doc.result.releases.map((x: {number: number; ignoreChecks?: boolean}) => [x.number, x.ignoreChecks ?? false])).to.deep.equal([
      [2, true],
      [1, false],
    ])
    const table = await app.cli(['history', 'test'])
    expect(table.stdout.split('\n').find((l) => /^2 /.test(l))).to.contain('checks ignored')
    expect(table.stdout.split('\n').find((l) => /^1 /.test(l))).to.not.contain('checks ignored')
    const web = await app.get(['deployment', 'web'])
    expect(web.spec.template.spec.containers[0].image).to.equal(`example.invalid/itchecks/web:${next}`)
  })

  it('finds the repository from the git remote origin, and an environment with requireChecks: false asks nothing', async function () {
    this.timeout(120_000)
    const other = `${ns.name}-open`
    const open = `  open:\n    context: ${testCluster().context}\n    namespace: ${other}\n    requireChecks: false\n`
    const sha = await app.change((text) => REQUIRE(text).replace('  guarded:\n', `${open}  guarded:\n`), 'require checks')
    await app.repo.git('remote', 'add', 'origin', 'git@github.com:acme/shop.git')
    api.commits.set(sha, {checkRuns: [checkRun('build', 'completed', 'success')]})
    const env = api.env({GITHUB_REPOSITORY: ''})
    const r = await app.json([...DEPLOY, `test@${sha}`], {env})
    expect(r.exitCode, JSON.stringify(r.doc.error ?? {})).to.equal(0)
    expect(r.doc.result.checks.repository).to.equal('acme/shop')
    expect(api.requests.some((q) => q.path.startsWith(`/repos/acme/shop/commits/${sha}/check-runs`))).to.equal(true)
    const asked = api.requests.length
    // Uncommitted changes at HEAD: what would be rendered is not what CI checked.
    app.repo.write('config/web/app.properties', 'greeting=uncommitted\n')
    const dirty = await app.json([...DEPLOY, 'test'], {env})
    expect(dirty.exitCode).to.equal(2)
    expect(dirty.doc.error.message).to.equal('the work tree has uncommitted changes, and test deploys only what CI approved (requireChecks); nothing was changed')
    expect(api.requests.length).to.equal(asked)
    try {
      const unchecked = await app.json([...DEPLOY, `open@${sha}`], {env})
      expect(unchecked.exitCode, JSON.stringify(unchecked.doc.error ?? {})).to.equal(0)
      expect(unchecked.doc.result.checks).to.equal(undefined)
      expect(api.requests.length).to.equal(asked)
    } finally {
      await kubectl(['delete', 'namespace', other, '--wait=false', '--ignore-not-found'], {reject: false})
    }
  })
})
