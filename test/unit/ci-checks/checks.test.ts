import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {checkStates, checksRepository, ChecksNotGreenError, judgeChecks, requireGreenChecks} from '../../../src/ci-checks/checks.js'
import {repositoryFromRemote} from '../../../src/github/api.js'
import {commitChecks, rateLimitRetry} from '../../../src/ci-checks/github.js'
import {resolveEnvironment} from '../../../src/config/environment.js'
import {parseConfig} from '../../../src/config/load.js'
import {ExitCode, UnreachableError} from '../../../src/errors.js'
import {openVcs} from '../../../src/vcs/vcs.js'
import {rejectsWithUserError, userError} from '../../helpers/errors.js'
import {TempHgRepo} from '../../helpers/hg.js'
import {TempRepo} from '../../helpers/repo.js'
import {checkRun, commitStatus, GithubApiServer, RATE_LIMIT_RESET} from '../../helpers/github-api.js'

const SHA = 'a'.repeat(40)

describe('requireChecks: which checks are green', () => {
  it('a status is green only when success; a check run only when completed with success, neutral or skipped', () => {
    const states = checkStates(
      [commitStatus('ci/test', 'success'), commitStatus('ci/lint', 'pending'), commitStatus('ci/e2e', 'error')],
      [
        checkRun('build', 'completed', 'success'),
        checkRun('docs', 'completed', 'skipped'),
        checkRun('optional', 'completed', 'neutral'),
        checkRun('unit', 'in_progress'),
        checkRun('queued', 'queued'),
        checkRun('flaky', 'completed', 'timed_out'),
        checkRun('manual', 'completed', 'action_required'),
      ],
    )
    expect(states.map((s) => [s.kind, s.name, s.state, s.green])).to.deep.equal([
      ['status', 'ci/test', 'success', true],
      ['status', 'ci/lint', 'pending', false],
      ['status', 'ci/e2e', 'error', false],
      ['check-run', 'build', 'success', true],
      ['check-run', 'docs', 'skipped', true],
      ['check-run', 'optional', 'neutral', true],
      ['check-run', 'unit', 'in_progress', false],
      ['check-run', 'queued', 'queued', false],
      ['check-run', 'flaky', 'timed_out', false],
      ['check-run', 'manual', 'action_required', false],
    ])
    expect(states[0]?.url).to.equal('https://ci.example.com/ci/test')
    expect(states[3]?.url).to.equal('https://github.com/acme/shop/runs/build')
  })

  it('leaves out the names in ignore (the deploy job itself)', () => {
    const states = checkStates([commitStatus('ci/test', 'success')], [checkRun('deploy', 'in_progress'), checkRun('build', 'completed', 'success')], ['deploy'])
    expect(states.map((s) => s.name)).to.deep.equal(['ci/test', 'build'])
  })

  it('refuses a failing revision, naming each check, its state and URL; exit 2, code checks_not_green', () => {
    const checks = checkStates([commitStatus('ci/test', 'failure')], [checkRun('build', 'completed', 'success'), checkRun('lint', 'in_progress')])
    const error = userError(() => judgeChecks({repository: 'acme/shop', sha: SHA, checks}, 'aaaaaaa'))
    expect(error).to.be.instanceOf(ChecksNotGreenError)
    expect(error.code).to.equal('checks_not_green')
    expect(error.message).to.equal(
      'revision aaaaaaa is not green on GitHub (acme/shop): ci/test failure (https://ci.example.com/ci/test), lint in_progress (https://github.com/acme/shop/runs/lint); nothing was changed',
    )
    expect(error.hint).to.equal('Fix the failing checks and deploy a green revision; --ignore-checks deploys anyway (recorded in history).')
    expect((error.details as {checks: unknown[]}).checks).to.have.length(3)
  })

  it('refuses a pending revision and says to wait; refuses a revision without any check; passes an all-green one', () => {
    const pending = userError(() => judgeChecks({repository: 'acme/shop', sha: SHA, checks: checkStates([commitStatus('ci/test', 'pending')], [])}, 'aaaaaaa'))
    expect(pending.message).to.contain('ci/test pending')
    expect(pending.hint).to.match(/^Wait for this check to finish, then deploy again/)
    const none = userError(() => judgeChecks({repository: 'acme/shop', sha: SHA, checks: []}, 'aaaaaaa'))
    expect(none.message).to.match(/^revision aaaaaaa has no commit status or check run on GitHub \(acme\/shop\)/)
    expect(() => judgeChecks({repository: 'acme/shop', sha: SHA, checks: checkStates([commitStatus('ci/test', 'success')], [checkRun('b', 'completed', 'success')])}, 'aaaaaaa')).to.not.throw()
  })
})

describe('requireChecks: which repository', () => {
  it('reads owner/name from https, ssh and scp-like remotes', () => {
    expect(repositoryFromRemote('https://github.com/acme/shop.git')).to.equal('acme/shop')
    expect(repositoryFromRemote('https://x-access-token:abc@github.com/acme/shop')).to.equal('acme/shop')
    expect(repositoryFromRemote('git@github.com:acme/shop.git')).to.equal('acme/shop')
    expect(repositoryFromRemote('ssh://git@github.example.com:2222/acme/shop.git/')).to.equal('acme/shop')
    expect(repositoryFromRemote('/srv/git/shop')).to.equal(undefined)
    expect(repositoryFromRemote('https://github.com/shop')).to.equal(undefined)
  })

  it('takes skycap.yaml first, then GITHUB_REPOSITORY, then the remote origin; none is exit 2 saying where to set it', async () => {
    const remote = async () => 'git@github.com:from/remote.git'
    expect(await checksRepository({repository: 'from/config', ignore: []}, {GITHUB_REPOSITORY: 'from/env'}, remote)).to.equal('from/config')
    expect(await checksRepository({ignore: []}, {GITHUB_REPOSITORY: 'from/env'}, remote)).to.equal('from/env')
    expect(await checksRepository({ignore: []}, {}, remote)).to.equal('from/remote')
    const none = await rejectsWithUserError(checksRepository({ignore: []}, {}, async () => undefined))
    expect(none.message).to.contain('no remote origin')
    expect(none.hint).to.contain('requireChecks: {repository: owner/name}')
  })

  it('reads the remote from real repositories: git origin, Mercurial default path, none', async () => {
    const git = await TempRepo.withFiles({'a.txt': 'a'})
    const hg = await TempHgRepo.init()
    try {
      expect(await (await openVcs(git.dir)).remoteUrl()).to.equal(undefined)
      await git.git('remote', 'add', 'origin', 'https://github.com/acme/shop.git')
      expect(await (await openVcs(git.dir)).remoteUrl()).to.equal('https://github.com/acme/shop.git')
      expect(await (await openVcs(hg.dir)).remoteUrl()).to.equal(undefined)
      writeFileSync(join(hg.dir, '.hg', 'hgrc'), '[paths]\ndefault = ssh://git@github.com/acme/shop.git\n')
      expect(repositoryFromRemote((await (await openVcs(hg.dir)).remoteUrl()) ?? '')).to.equal('acme/shop')
    } finally {
      git.remove()
      hg.remove()
    }
  })

  it('is on per environment: the top level, an environment override, false in one environment', async () => {
    const text = [
      'app: shop',
      'requireChecks: {repository: acme/shop, ignore: [deploy]}',
      'services: {web: {image: web}}',
      'environments:',
      '  prod: {namespace: shop}',
      '  staging: {namespace: st, requireChecks: false}',
      '  qa: {namespace: qa, requireChecks: true}',
      '  other: {namespace: ot, requireChecks: {ignore: [e2e]}}',
      '',
    ].join('\n')
    const loaded = await parseConfig(text, '/tmp/x/skycap.yaml', (p) => p)
    expect(resolveEnvironment(loaded, 'prod').requireChecks).to.deep.equal({repository: 'acme/shop', ignore: ['deploy']})
    expect(resolveEnvironment(loaded, 'staging').requireChecks).to.equal(undefined)
    expect(resolveEnvironment(loaded, 'qa').requireChecks).to.deep.equal({repository: 'acme/shop', ignore: ['deploy']})
    expect(resolveEnvironment(loaded, 'other').requireChecks).to.deep.equal({ignore: ['e2e']})
  })

  it('skycap.yaml refuses a repository that is not owner/name, at its line', async () => {
    const text = ['app: shop', 'requireChecks: {repository: shop}', 'services: {web: {image: web}}', 'environments: {prod: {namespace: shop}}', ''].join('\n')
    const error = await rejectsWithUserError(parseConfig(text, '/tmp/x/skycap.yaml', (p) => p))
    expect(error.message).to.equal('/tmp/x/skycap.yaml:2:29: requireChecks.repository is "shop" but must be owner/name of a GitHub repository')
  })
})

describe('requireChecks: the GitHub API (a local server speaking it)', () => {
  let api: GithubApiServer
  beforeEach(async () => {
    api = await GithubApiServer.start()
  })
  afterEach(() => api.close())
  const ask = (sha: string, options: {token?: string; timeoutMs?: number; base?: string} = {}) =>
    commitChecks({base: options.base ?? api.url, token: options.token ?? api.token, timeoutMs: options.timeoutMs}, api.repository, sha)

  it('reads statuses and check runs with the token, following the pages GitHub links', async () => {
    const runs = Array.from({length: 230}, (_, i) => checkRun(`job-${i}`, 'completed', 'success'))
    api.commits.set(SHA, {statuses: [commitStatus('ci/test', 'success')], checkRuns: runs})
    const found = await ask(SHA)
    expect(found.statuses.map((s) => s.context)).to.deep.equal(['ci/test'])
    expect(found.checkRuns.map((r) => r.name)).to.deep.equal(runs.map((r) => r.name))
    expect(api.requests.filter((r) => r.path.includes('check-runs'))).to.have.length(3)
    expect(api.requests.every((r) => r.authorization === 'Bearer test-token')).to.equal(true)
    // One User-Agent line, the same as notifications send (src/identity.ts).
    for (const r of api.requests) expect(r.userAgents, r.path).to.deep.equal(['skycap'])
  })

  it('a refused token is exit 4 saying what to set; an unknown commit is exit 2 saying to push it', async () => {
    api.commits.set(SHA, {statuses: []})
    const refused = await ask(SHA, {token: 'wrong'}).catch((e: unknown) => e as UnreachableError)
    expect(refused).to.be.instanceOf(UnreachableError)
    expect((refused as UnreachableError).exitCode).to.equal(ExitCode.UNREACHABLE)
    expect((refused as UnreachableError).message).to.equal('GitHub refused to show the checks of acme/shop (HTTP 401: Bad credentials); nothing was changed')
    expect((refused as UnreachableError).hint).to.match(/^Set GITHUB_TOKEN to a token that can read acme\/shop's commit statuses and checks/)
    expect(JSON.stringify(refused)).to.not.contain('wrong')
    const unknown = await rejectsWithUserError(ask('b'.repeat(40)))
    expect(unknown.message).to.contain(`GitHub has no commit ${'b'.repeat(40)} in acme/shop (HTTP 422: No commit found for SHA`)
    expect(unknown.hint).to.match(/^Push the commit/)
  })

  it('a rate limit is exit 4 saying when to try again, not that the token is wrong (primary: 403 with the reset time; secondary: 429 with retry-after)', async () => {
    api.commits.set(SHA, {rateLimited: 'primary'})
    const primary = await ask(SHA).catch((e: unknown) => e as UnreachableError)
    expect(primary).to.be.instanceOf(UnreachableError)
    expect((primary as UnreachableError).exitCode).to.equal(ExitCode.UNREACHABLE)
    expect((primary as UnreachableError).message).to.equal(
      "GitHub's API rate limit stopped skycap from reading the checks of acme/shop (HTTP 403: API rate limit exceeded for installation ID 4242.); nothing was changed",
    )
    expect((primary as UnreachableError).hint).to.equal(
      `Deploy again after ${new Date(RATE_LIMIT_RESET * 1000).toISOString().replace('.000Z', 'Z')}: the token is not at fault; --ignore-checks deploys without asking GitHub (recorded in history).`,
    )
    api.commits.set(SHA, {rateLimited: 'secondary'})
    const secondary = await ask(SHA).catch((e: unknown) => e as UnreachableError)
    expect((secondary as UnreachableError).message).to.match(/^GitHub's API rate limit stopped skycap from reading the checks of acme\/shop \(HTTP 429: You have exceeded a secondary rate limit/)
    expect((secondary as UnreachableError).hint).to.match(/^Deploy again in 60s or later: the token is not at fault/)
    // A 403 that is no rate limit is still the token's.
    expect(rateLimitRetry({status: 403, headers: new Headers({'x-ratelimit-remaining': '4999'})}, 'Resource not accessible by integration')).to.equal(undefined)
  })

  it('a slow API times out and an unreachable one fails, both exit 4 naming the API and --ignore-checks', async () => {
    api.commits.set(SHA, {statuses: [], delayMs: 2000})
    const slow = await ask(SHA, {timeoutMs: 200}).catch((e: unknown) => e as UnreachableError)
    expect(slow).to.be.instanceOf(UnreachableError)
    expect((slow as UnreachableError).message).to.equal(`cannot reach the GitHub API at ${api.url} to read the checks (no answer within 0.2s); nothing was changed`)
    expect((slow as UnreachableError).hint).to.contain('--ignore-checks')
    const gone = await GithubApiServer.start()
    await gone.close()
    const closed = await ask(SHA, {base: gone.url}).catch((e: unknown) => e as UnreachableError)
    expect(closed).to.be.instanceOf(UnreachableError)
    expect((closed as UnreachableError).message).to.equal(`cannot reach the GitHub API at ${gone.url} to read the checks (ECONNREFUSED); nothing was changed`)
  })

  it('a server error is exit 4; no GITHUB_TOKEN is exit 2 before any request', async () => {
    api.commits.set(SHA, {httpStatus: 502})
    const failed = await ask(SHA).catch((e: unknown) => e as UnreachableError)
    expect(failed).to.be.instanceOf(UnreachableError)
    expect((failed as UnreachableError).message).to.contain('(HTTP 502: Server Error)')
    api.requests.length = 0
    const noToken = await rejectsWithUserError(
      requireGreenChecks({ignore: []}, {sha: SHA, short: 'aaaaaaa'}, {env: {GITHUB_REPOSITORY: 'acme/shop', GITHUB_API_URL: api.url}, remoteUrl: async () => undefined}),
    )
    expect(noToken.message).to.equal('requireChecks: GITHUB_TOKEN is not set, so the checks of aaaaaaa in acme/shop cannot be read; nothing was changed')
    // An empty one (GitHub Actions' value of a secret that does not exist) is said to be empty.
    const emptyToken = await rejectsWithUserError(
      requireGreenChecks({ignore: []}, {sha: SHA, short: 'aaaaaaa'}, {env: {GITHUB_TOKEN: '', GITHUB_REPOSITORY: 'acme/shop', GITHUB_API_URL: api.url}, remoteUrl: async () => undefined}),
    )
    expect(emptyToken.message).to.match(/^requireChecks: GITHUB_TOKEN is empty \(a CI secret that does not exist comes as an empty value\), so the checks/)
    expect(api.requests).to.deep.equal([])
  })

  it("an error answer that quotes the request's token (a proxy's, an Enterprise page) is redacted; an answer that is not JSON is the API failing (exit 4), not 'no checks' (exit 2)", async () => {
    const token = 'ghs_SECRETTOKEN123456'
    const echo = (async (_url: string | URL | Request, init?: RequestInit) =>
      new Response(JSON.stringify({message: `oops ${new Headers(init?.headers).get('authorization')}\n${'x'.repeat(400)}`}), {status: 500})) as typeof fetch
    for (const status of [500, 401]) {
      const answer = (async (url: string | URL | Request, init?: RequestInit) => {
        const r = await echo(url, init)
        return new Response(await r.text(), {status})
      }) as typeof fetch
      const error = (await commitChecks({base: 'http://127.0.0.1:9', token, fetch: answer}, 'acme/shop', SHA).catch((e: unknown) => e)) as UnreachableError
      expect(error.exitCode, String(status)).to.equal(ExitCode.UNREACHABLE)
      expect(JSON.stringify({message: error.message, hint: error.hint, details: error.details})).to.not.contain('SECRETTOKEN')
      expect(error.message).to.contain('oops Bearer ***')
      expect(error.message.length, 'the quote is cut').to.be.below(400)
    }
    const html = (async () => new Response('<html>hi</html>', {status: 200, headers: {'content-type': 'text/html'}})) as typeof fetch
    const page = (await commitChecks({base: 'http://127.0.0.1:9', token, fetch: html}, 'acme/shop', SHA).catch((e: unknown) => e)) as UnreachableError
    expect(page).to.be.instanceOf(UnreachableError)
    expect(page.message).to.equal('the GitHub API at http://127.0.0.1:9 answered the checks of acme/shop with something that is not JSON (HTTP 200, text/html); nothing was changed')
    expect(page.hint).to.contain('GITHUB_API_URL')
  })

  it('requireGreenChecks returns the verdict of an all-green revision and refuses one with a failure', async () => {
    api.commits.set(SHA, {statuses: [commitStatus('ci/test', 'success')], checkRuns: [checkRun('deploy', 'in_progress'), checkRun('build', 'completed', 'success')]})
    const context = {env: api.env(), remoteUrl: async () => undefined}
    const verdict = await requireGreenChecks({ignore: ['deploy']}, {sha: SHA, short: 'aaaaaaa'}, context)
    expect(verdict).to.deep.include({repository: 'acme/shop', sha: SHA})
    expect(verdict.checks.map((c) => c.name)).to.deep.equal(['ci/test', 'build'])
    const refused = await rejectsWithUserError(requireGreenChecks({ignore: []}, {sha: SHA, short: 'aaaaaaa'}, context))
    expect(refused.message).to.contain('deploy in_progress (https://github.com/acme/shop/runs/deploy)')
  })
})
