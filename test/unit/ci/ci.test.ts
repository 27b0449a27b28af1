import {expect} from 'chai'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'

import {CiOutput, ciOutput} from '../../../src/ci/output.js'
import {asDeployReport, deploySummary, failureSummary} from '../../../src/ci/summary.js'
import {ciSystem, errorAnnotation, sectionEnd, sectionName, sectionStart, workflowCommand} from '../../../src/ci/workflow.js'
import type {DeployReport} from '../../../src/deploy/deploy.js'
import {ConfigError, ConfigErrors, DeployFailedError, UserError} from '../../../src/errors.js'
import {ciJobUrl, ciUser, whoAmI} from '../../../src/identity.js'
import type {ReleaseRecord} from '../../../src/release/store.js'
import {memoryReporter, progressMode, stderrReporter} from '../../../src/ui/output.js'
import {historyTable} from '../../../src/ui/tables.js'
import {runCli} from '../../helpers/repo.js'

const GITHUB = {GITHUB_ACTIONS: 'true', GITHUB_ACTOR: 'octocat', GITHUB_SERVER_URL: 'https://github.example', GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '991'}
const AT = new Date('2026-12-01T00:00:10Z')

function report(overrides: Partial<DeployReport> = {}): DeployReport {
  return {
    app: 'shop',
    environment: 'staging',
    context: 'kind-x',
    namespace: 'shop-staging',
    release: 7,
    revision: {sha: 'a'.repeat(40), short: 'aaaaaaa', subject: 'Fix | the cart'},
    images: {web: 'reg.example/shop/web:aaaa'},
    result: 'succeeded',
    durationMs: 41_600,
    applied: [],
    pruned: [],
    failures: [],
    ...overrides,
  }
}

function output(env: NodeJS.ProcessEnv, command = 'deploy', cwd = '/work/repo'): {ci: CiOutput; lines: string[]} {
  const lines: string[] = []
  const ci = ciOutput({command, env, write: (l) => lines.push(l), clock: () => AT, cwd})
  if (!ci) throw new Error('no CI detected')
  return {ci, lines}
}

describe('CI systems', () => {
  it('detects GitHub Actions and GitLab CI from their variables, nothing else', () => {
    expect(ciSystem({GITHUB_ACTIONS: 'true'})).to.equal('github')
    expect(ciSystem({GITLAB_CI: 'true'})).to.equal('gitlab')
    expect(ciSystem({CI: 'true'})).to.equal(undefined)
    expect(ciOutput({command: 'deploy', env: {CI: 'true', BUILDKITE: 'true'}})).to.equal(undefined)
  })

  it('records the person the CI ran the job for, and the job URL', () => {
    expect(ciUser(GITHUB)).to.equal('octocat')
    expect(whoAmI({...GITHUB, USER: 'runner'})).to.equal(`octocat@${hostname()}`)
    expect(whoAmI({...GITHUB, USER: 'runner', SKYCAP_USER: 'me'})).to.equal(`me@${hostname()}`)
    expect(whoAmI({GITLAB_CI: 'true', GITLAB_USER_LOGIN: 'alice', USER: 'root'})).to.equal(`alice@${hostname()}`)
    expect(ciUser({BUILDKITE_BUILD_CREATOR: 'Bo'})).to.equal('Bo')
    expect(ciUser({CIRCLE_USERNAME: 'cy'})).to.equal('cy')
    // GITHUB_ACTOR outside Actions (a leftover in a shell) is not trusted.
    expect(ciUser({GITHUB_ACTOR: 'octocat'})).to.equal(undefined)
    expect(whoAmI({USER: 'dev'})).to.equal(`dev@${hostname()}`)
    expect(ciJobUrl(GITHUB)).to.equal('https://github.example/acme/shop/actions/runs/991')
    expect(ciJobUrl({GITLAB_CI: 'true', CI_JOB_URL: 'https://gitlab.example/acme/shop/-/jobs/5'})).to.equal('https://gitlab.example/acme/shop/-/jobs/5')
    // GitHub's variables outside GitHub Actions (a GitLab job or a shell that has them) name no job: a GitLab job
    // recorded a GitHub run's URL.
    const stray = {GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '555', GITHUB_SERVER_URL: 'https://github.com'}
    expect(ciJobUrl({...stray, GITLAB_CI: 'true', CI_JOB_URL: 'https://gitlab.example/acme/shop/-/jobs/5'})).to.equal('https://gitlab.example/acme/shop/-/jobs/5')
    expect(ciJobUrl(stray)).to.equal(undefined)
  })
})

describe('GitHub workflow commands and GitLab sections', () => {
  it('escapes messages and properties as @actions/core does', () => {
    expect(workflowCommand('error', {file: 'a,b:c.yaml', line: 3, col: undefined, title: '100%'}, 'one\ntwo\r 50%')).to.equal('::error file=a%2Cb%3Ac.yaml,line=3,title=100%25::one%0Atwo%0D 50%25')
    expect(errorAnnotation('t', 'm')).to.equal('::error title=t::m')
  })

  it('writes GitLab section markers with the unix time and a safe, numbered name', () => {
    expect(sectionName('Rolling out shop/web!', 3)).to.equal('skycap_3_rolling_out_shop_web')
    expect(sectionStart('skycap_1_validate', 'validate', AT)).to.equal('\u001B[0Ksection_start:1796083210:skycap_1_validate[collapsed=true]\r\u001B[0Kvalidate')
    expect(sectionEnd('skycap_1_validate', AT)).to.equal('\u001B[0Ksection_end:1796083210:skycap_1_validate\r\u001B[0K')
  })
})

describe('CiOutput', () => {
  it('folds each phase into one ::group::, closes the last before the result', () => {
    const {ci, lines} = output(GITHUB)
    const inner = memoryReporter()
    const reporter = ci.wrap({...inner, mode: 'plain'})
    reporter.phase?.('validate')
    reporter.phase?.('deploy')
    reporter.info('Deploying release 1')
    reporter.phase?.(null)
    reporter.phase?.(null)
    reporter.phase?.('rollback')
    ci.endPhase()
    ci.endPhase()
    expect(lines).to.deep.equal(['::group::validate', '::endgroup::', '::group::deploy', '::endgroup::', '::group::rollback', '::endgroup::'])
    expect(inner.lines).to.deep.equal(['Deploying release 1'])
  })

  it('annotates each warning once, after the last group, where a folded group does not hide it (GitHub only)', () => {
    const slack = 'notify.slack: the started event of release 4 was not delivered (hooks.slack.com answered HTTP 500); the deploy is not affected'
    const {ci, lines} = output(GITHUB)
    const inner = memoryReporter()
    const reporter = ci.wrap({...inner, mode: 'plain'})
    reporter.phase?.('validate')
    reporter.warn('notify.webhook: HOOK_URL is not set; the webhook is not called')
    reporter.phase?.('deploy')
    reporter.warn(slack)
    reporter.warn('two\nlines')
    reporter.warn(slack)
    ci.finished(undefined)
    expect(inner.warnings).to.have.length(4)
    expect(lines).to.deep.equal([
      '::group::validate',
      '::endgroup::',
      '::group::deploy',
      '::endgroup::',
      '::warning title=skycap deploy::notify.webhook: HOOK_URL is not set; the webhook is not called',
      `::warning title=skycap deploy::${slack}`,
      '::warning title=skycap deploy::two%0Alines',
    ])
    const failing = output(GITHUB)
    failing.ci.wrap({...memoryReporter(), mode: 'plain'}).warn('a warning')
    failing.ci.failed(new UserError('boom'))
    expect(failing.lines).to.deep.equal(['::warning title=skycap deploy::a warning', '::error title=skycap deploy failed::boom'])
    const gitlab = output({GITLAB_CI: 'true'})
    gitlab.ci.wrap({...memoryReporter(), mode: 'plain'}).warn('a warning')
    gitlab.ci.finished(undefined)
    expect(gitlab.lines).to.deep.equal([])
  })

  it("text that is not skycap's own (an event's message, a pod's log line) cannot issue workflow commands: stop-commands around it", () => {
    const {ci, lines} = output(GITHUB)
    const reporter = ci.wrap({mode: 'plain', info: (m) => lines.push(m), warn: (m) => lines.push(`warning: ${m}`)})
    const failure = '✖ Deployment/web: crashed\n  Events:\n    Warning Injected: looks normal\n::error title=forged::x\n  Last 1 log lines of web-1/web:\n    ::stop-commands::pwned'
    reporter.info('Deploying release 1')
    reporter.info(failure)
    reporter.warn('a request to GET /##[error]x failed')
    expect(lines[0]).to.equal('Deploying release 1')
    const token = /^::stop-commands::([0-9a-f]{32})$/.exec(lines[1] as string)?.[1]
    expect(token, lines[1]).to.be.a('string')
    expect(lines.slice(2, 4)).to.deep.equal([failure, `::${token}::`])
    const second = /^::stop-commands::([0-9a-f]{32})$/.exec(lines[4] as string)?.[1]
    expect(second).to.be.a('string').and.not.equal(token)
    expect(lines.slice(5)).to.deep.equal(['warning: a request to GET /##[error]x failed', `::${second}::`])
    const gitlab = output({GITLAB_CI: 'true'})
    const onGitlab = gitlab.ci.wrap({mode: 'plain', info: (m) => gitlab.lines.push(m), warn: () => {}})
    onGitlab.info(failure)
    expect(gitlab.lines).to.deep.equal([failure])
    // GitLab: a section marker in such text (a hook's output, a pod's log) closed skycap's section, or opened a
    // collapsed one hiding the rollback and the error: printed as text. Colours stay.
    gitlab.lines.length = 0
    onGitlab.info('migrate │ \u001b[0Ksection_end:1796443139:skycap_2_deploy\r\u001b[0K \u001b[31mred\u001b[39m')
    expect(gitlab.lines).to.deep.equal(['migrate │ ^[[0Ksection_end:1796443139:skycap_2_deploy\r^[[0K \u001b[31mred\u001b[39m'])
  })

  it('opens no group for a silent reporter', () => {
    const {ci, lines} = output(GITHUB)
    ci.wrap(stderrReporter('silent')).phase?.('validate')
    ci.endPhase()
    expect(lines).to.deep.equal([])
  })

  it('under --json, whose progress is plain lines on stderr, phases fold as without it', () => {
    const {ci, lines} = output(GITHUB)
    const mode = progressMode({json: true, env: GITHUB, stderrIsTTY: false})
    expect(mode).to.equal('plain')
    ci.wrap(stderrReporter(mode)).phase?.('validate')
    ci.endPhase()
    expect(lines).to.deep.equal(['::group::validate', '::endgroup::'])
  })

  it('GitLab: collapsed sections, no annotations and no summary file', () => {
    const {ci, lines} = output({GITLAB_CI: 'true', GITHUB_STEP_SUMMARY: '/nonexistent/x'})
    const reporter = ci.wrap({...memoryReporter(), mode: 'plain'})
    reporter.phase?.('validate')
    reporter.phase?.('deploy')
    ci.failed(new UserError('boom'))
    expect(lines).to.deep.equal([
      sectionStart('skycap_1_validate', 'validate', AT),
      sectionEnd('skycap_1_validate', AT),
      sectionStart('skycap_2_deploy', 'deploy', AT),
      sectionEnd('skycap_2_deploy', AT),
    ])
  })

  it('annotates config errors with the file relative to the checkout, line and column', () => {
    const {ci} = output({...GITHUB, GITHUB_WORKSPACE: '/work/repo'}, 'render', '/work/repo/app')
    const errors = new ConfigErrors([
      new ConfigError('services.web.replicas must be a whole number', {file: 'skycap.yaml', line: 26, column: 15}),
      new ConfigError('unknown key', {file: 'deploy/web.yaml (at 3f2c1ab)', line: 4}),
      new ConfigError('no file'),
    ])
    expect(ci.annotations(errors)).to.deep.equal([
      '::error file=app/skycap.yaml,line=26,col=15,title=skycap render%3A invalid configuration::services.web.replicas must be a whole number',
      '::error file=app/deploy/web.yaml,line=4,title=skycap render%3A invalid configuration::unknown key',
      '::error title=skycap render%3A invalid configuration::no file',
    ])
  })

  it('annotates each failed resource of a failed deploy and its rollback; anything else once', () => {
    const {ci} = output(GITHUB)
    const failed = report({
      result: 'failed',
      failures: [
        {ref: 'Deployment/web', message: 'container web is in CrashLoopBackOff', events: [], logs: []},
        {ref: 'Deployment/worker', message: 'not ready', events: [], logs: []},
      ],
      rollback: {to: 6, release: 8, result: 'failed', reason: 'timed out', failures: [{ref: 'Deployment/web', message: 'still crashing', events: [], logs: []}]},
    })
    expect(ci.annotations(new DeployFailedError('release 7 failed', {details: {report: failed}}))).to.deep.equal([
      '::error title=skycap deploy staging%3A Deployment/web failed::container web is in CrashLoopBackOff',
      '::error title=skycap deploy staging%3A Deployment/worker failed::not ready',
      '::error title=skycap deploy staging%3A Deployment/web failed::still crashing',
    ])
    expect(ci.annotations(new UserError('staging is locked\nby bob'))).to.deep.equal(['::error title=skycap deploy failed::staging is locked%0Aby bob'])
  })

  describe('job summary', () => {
    let dir: string
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'skycap-ci-'))
    })
    afterEach(() => rmSync(dir, {recursive: true, force: true}))

    it('appends a deploy summary to $GITHUB_STEP_SUMMARY after what is there', () => {
      const file = join(dir, 'summary.md')
      writeFileSync(file, 'earlier step\n')
      const {ci, lines} = output({...GITHUB, GITHUB_STEP_SUMMARY: file})
      ci.finished(report())
      ci.finished({releases: []})
      ci.finished(report({result: 'planned', release: null}))
      const text = readFileSync(file, 'utf8')
      expect(text.startsWith('earlier step\n### ✅ skycap deploy: shop staging release 7 succeeded\n')).to.equal(true)
      expect(text).to.contain('| Revision | `aaaaaaa` Fix \\| the cart |').and.contain('| Result | succeeded in 42s |').and.contain('| web | `reg.example/shop/web:aaaa` |')
      expect(text).to.contain('| Job | [https://github.example/acme/shop/actions/runs/991](https://github.example/acme/shop/actions/runs/991) |')
      expect(text.match(/###/g)).to.have.length(1)
      expect(lines).to.deep.equal([])
    })

    it('a failed deploy: result, rollback and what failed; another failure: its message and hint', () => {
      const file = join(dir, 'summary.md')
      const {ci, lines} = output({...GITHUB, GITHUB_STEP_SUMMARY: file})
      const failed = report({
        result: 'failed',
        failures: [{ref: 'Deployment/web', message: 'CrashLoopBackOff', events: [], logs: []}],
        rollback: {to: 6, release: 8, result: 'succeeded', failures: []},
      })
      ci.failed(new DeployFailedError('release 7 of staging failed', {details: {report: failed}}))
      ci.failed(new UserError('staging is locked by bob', {hint: 'Wait.'}))
      const text = readFileSync(file, 'utf8')
      expect(text).to.contain('### ❌ skycap deploy: shop staging release 7 failed').and.contain('| Rollback | rolled back to release 6 (recorded as release 8) |')
      expect(text).to.contain('- `Deployment/web`: CrashLoopBackOff').and.contain('> release 7 of staging failed')
      expect(text).to.contain('### ❌ skycap deploy failed\n\n> staging is locked by bob\n\nWait.\n')
      expect(lines.filter((l) => l.startsWith('::error'))).to.have.length(2)
    })

    it('a summary file that cannot be written is a warning line and a ::warning annotation, not a failure', () => {
      const {ci, lines} = output({...GITHUB, GITHUB_STEP_SUMMARY: join(dir, 'missing', 'summary.md')})
      ci.finished(report())
      expect(lines).to.have.length(2)
      expect(lines[0]).to.match(/^warning: could not write the job summary to .*missing\/summary\.md: ENOENT/)
      expect(lines[1]).to.match(/^::warning title=skycap deploy::could not write the job summary to .*missing\/summary\.md: ENOENT/)
    })
  })

  it('summaries are pure Markdown of the report', () => {
    expect(asDeployReport({releases: []})).to.equal(undefined)
    expect(asDeployReport(report())).to.not.equal(undefined)
    expect(deploySummary('rollback', report({rollback: {to: null, release: null, result: 'skipped', reason: '--no-rollback', failures: []}}))).to.contain(
      '| Rollback | not rolled back (--no-rollback) |',
    )
    // An interrupted rollback reads as the terminal's error does, without "interrupted: interrupted".
    expect(deploySummary('deploy', report({rollback: {to: 6, release: 8, result: 'interrupted', reason: 'interrupted before the rollback applied anything', failures: []}}))).to.contain(
      '| Rollback | the rollback to release 6 was interrupted before the rollback applied anything |',
    )
    expect(failureSummary('build', 'a\nb')).to.equal('### ❌ skycap build failed\n\n> a\n> b\n\n')
    // An error quotes what the user wrote (a key, a value): text too. A raw <details> folded the rest of the summary away.
    expect(failureSummary('deploy', 'skycap.yaml:4:1: unknown key "<details>" in the top level', {hint: 'Fix <it> & retry'})).to.equal(
      '### ❌ skycap deploy failed\n\n> skycap.yaml:4:1: unknown key "&lt;details&gt;" in the top level\n\nFix &lt;it&gt; &amp; retry\n\n',
    )
    // A manual rollback names the release it returned to; requireChecks' verdict (or its absence) is in the table.
    const back = deploySummary('rollback', report({rolledBackTo: 4, release: 7}))
    expect(back).to.contain('| Rolled back to | release 4 |').and.contain('| Release | 7 |')
    expect(back).to.not.contain('| Checks |')
    // One to what already runs rolled nothing back: it says so.
    const already = deploySummary('rollback', report({rolledBackTo: 4, release: null, result: 'unchanged'}))
    expect(already).to.contain('| Runs already | release 4 |').and.contain('⏭️ skycap rollback').and.not.contain('Rolled back to')
    // Release 6 runs what release 4 ran: the row names release 6 as what runs (it said release 4).
    expect(deploySummary('rollback', report({rolledBackTo: 4, runningRelease: 6, release: null, result: 'unchanged'}))).to.contain('| Runs already | release 6 (the same as release 4) |')
    expect(deploySummary('deploy', report({ignoreChecks: true}))).to.contain('| Checks | not asked (--ignore-checks) |')
    const green = {
      repository: 'acme/shop',
      sha: 'a'.repeat(40),
      checks: [
        {name: 'ci', kind: 'check-run', state: 'success', url: null, green: true},
        {name: 'lint', kind: 'status', state: 'success', url: null, green: true},
      ],
    } as const
    expect(deploySummary('deploy', report({checks: {...green, checks: [...green.checks]}}))).to.contain('| Checks | 2 green on GitHub (acme/shop) |')
    // A commit subject is text, never HTML.
    const html = deploySummary('deploy', report({revision: {sha: 'a'.repeat(40), short: 'aaaaaaa', subject: '<b>bold</b> & <img src=x>'}}))
    expect(html).to.contain('&lt;b&gt;bold&lt;/b&gt; &amp; &lt;img src=x&gt;').and.not.contain('<b>')
  })
})

describe('a command of a topic under GitHub Actions', function () {
  this.timeout(60_000)
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skycap-ci-topic-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  // oclif's id is "lock:acquire"; the annotation and the summary name the command as it is typed.
  for (const path of ['direct', 'through oclif']) {
    it(`names it as typed, "skycap lock acquire", in the annotation and the job summary (${path})`, async () => {
      const summary = join(dir, 'summary.md')
      const env = {GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary, ...(path === 'direct' ? {} : {SKYCAP_NO_FAST_PATH: '1'})}
      const r = await runCli(['lock', 'acquire', 'dev'], {cwd: dir, env})
      expect(r.exitCode).to.equal(2)
      expect(r.stderr).to.contain('::error title=skycap lock acquire%3A invalid configuration::no skycap.yaml found')
      expect(r.stderr).to.not.contain('lock%3Aacquire')
      expect(readFileSync(summary, 'utf8')).to.match(/^### ❌ skycap lock acquire failed: environment dev\n/)
    })

    it(`an error that quotes a workflow command is printed between stop-commands (${path})`, async () => {
      const env = {GITHUB_ACTIONS: 'true', ...(path === 'direct' ? {} : {SKYCAP_NO_FAST_PATH: '1'})}
      writeFileSync(join(dir, 'skycap.yaml'), 'app: x\nservices: {web: {image: web}}\nenvironments: {dev: {namespace: d}}\n')
      const r = await runCli(['status', 'x\n::error::forged'], {cwd: dir, env})
      expect(r.exitCode).to.equal(2)
      const lines = r.stderr.split('\n')
      const at = lines.indexOf('::error::forged" is not a valid target')
      const token = /^::stop-commands::([0-9a-f]{32})$/.exec(lines[at - 2] as string)?.[1]
      expect(token, r.stderr).to.be.a('string')
      expect(lines[at - 1]).to.equal('Error: "x')
      expect(lines[at + 2]).to.equal(`::${token}::`)
    })
  }
})

describe('history with CI jobs', () => {
  const record = (n: number, ciJob?: string): ReleaseRecord => ({
    number: n,
    app: 'shop',
    environment: 'staging',
    action: 'deploy',
    result: 'succeeded',
    revision: {sha: 'b'.repeat(40), short: 'bbbbbbb', subject: 'subject'},
    images: {},
    configuredReplicas: {},
    user: 'octocat@runner',
    ...(ciJob ? {ciJob} : {}),
    startedAt: '2026-12-01T00:00:00.123Z',
    finishedAt: '',
    durationMs: 1000,
  })

  it('shows a JOB column when a release has a CI job URL, and none otherwise', () => {
    const withJob = historyTable([record(2, 'https://github.example/acme/shop/actions/runs/991'), record(1)]).split('\n')
    expect(withJob[0]).to.match(/^RELEASE\s+ACTION\s+RESULT\s+REVISION\s+USER\s+STARTED\s+DURATION\s+JOB\s+NOTE$/)
    expect(withJob[1]).to.contain('octocat@runner').and.contain('https://github.example/acme/shop/actions/runs/991')
    expect(withJob[2]).to.match(/1s\s+-\s+subject$/)
    expect(historyTable([record(1)]).split('\n')[0]).to.not.contain('JOB')
    // A record without user, start or duration (written by hand) is a row with '-' there (history crashed).
    const bare = {number: 3, action: 'deploy', result: 'succeeded', revision: null} as unknown as ReleaseRecord
    expect(historyTable([bare]).split('\n')[1]).to.match(/^3\s+deploy\s+succeeded\s+-\s+-\s+-\s+-\s*$/)
  })

  it('a recorded subject or user with control characters (an older record, an edit) is printed without them', () => {
    const old = {...record(1), user: 'eve\u001b[8m', revision: {sha: 'b'.repeat(40), short: 'bbbbbbb', subject: 'fix \u001b]0;PWNED\u0007\rhidden'}}
    const out = historyTable([old])
    expect([...out].filter((c) => c !== '\n' && (c < ' ' || c === '\u007f'))).to.deep.equal([])
    expect(out.split('\n')[1])
      .to.contain('eve [8m')
      .and.satisfy((line: string) => line.endsWith('fix  ]0;PWNED hidden'))
  })
})
