// skycap in CI pipelines (issue 17, part 1): the GitHub Actions and GitLab CI logs, the job summary, the CI user and
// job URL in history, and the pipelines `skycap init --ci` writes, run step by step against the test cluster.
import {expect} from 'chai'
import {execa} from 'execa'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse} from 'yaml'

import {cliPath, runCli, TempRepo} from '../helpers/repo.js'
import {CRASH, NOT_READY, TestApp} from './app.js'
import {kubectl, testCluster, useNamespace, waitFor} from './harness.js'
import {LocalRegistry} from './registry.js'

const DEPLOY = ['deploy', '--skip-image-check']
const RUN_URL = 'https://github.example/acme/shop/actions/runs/4242'
const JOB_URL = 'https://gitlab.example/acme/shop/-/jobs/77'

/** The variables GitHub Actions sets on a job (those skycap reads), with the summary file in `summary`. */
function githubEnv(workspace: string, summary: string): Record<string, string> {
  return {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_ACTOR: 'octocat',
    GITHUB_SERVER_URL: 'https://github.example',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_RUN_ID: '4242',
    GITHUB_WORKSPACE: workspace,
    GITHUB_STEP_SUMMARY: summary,
  }
}

function gitlabEnv(): Record<string, string> {
  return {CI: 'true', GITLAB_CI: 'true', GITLAB_USER_LOGIN: 'alice', CI_JOB_URL: JOB_URL}
}

/** The workflow-command lines of a log (`::group::`, `::error ...`), in order. */
function workflowCommands(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('::'))
}

describe('skycap under GitHub Actions and GitLab CI (real cluster)', function () {
  const ns = useNamespace('ci')
  let app: TestApp
  let dir: string
  let summary: string
  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'itci')
    dir = mkdtempSync(join(tmpdir(), 'skycap-ci-summary-'))
    summary = join(dir, 'step-summary.md')
    writeFileSync(summary, '')
  })
  afterEach(() => {
    app.remove()
    rmSync(dir, {recursive: true, force: true})
  })

  it('GitHub Actions: phases in groups and a job summary; a failing deploy annotates the failed resource and summarises the rollback; history shows the pusher and the run', async () => {
    const short = (await app.repo.git('rev-parse', 'HEAD')).slice(0, 7)
    const subject = await app.repo.git('log', '-1', '--format=%s')
    const ok = await app.cli([...DEPLOY, 'test'], {env: githubEnv(app.repo.dir, summary)})
    expect(ok.exitCode, ok.stderr).to.equal(0)
    expect(workflowCommands(ok.stderr)).to.deep.equal(['::group::validate', '::endgroup::', '::group::deploy', '::endgroup::'])
    const lines = ok.stderr.split('\n')
    const inside = (text: string, group: string) => {
      const at = lines.findIndex((l) => l.includes(text))
      const start = lines.indexOf(`::group::${group}`)
      return at > start && at < lines.indexOf('::endgroup::', start)
    }
    expect(inside('Validating itci test@', 'validate'), ok.stderr).to.equal(true)
    expect(inside('Release 1 of itci test is live', 'deploy'), ok.stderr).to.equal(true)
    expect(ok.stdout).to.contain('deployed itci test@')
    let text = readFileSync(summary, 'utf8')
    expect(text).to.contain('### ✅ skycap deploy: itci test release 1 succeeded').and.contain(`| Revision | \`${short}\` ${subject} |`)
    expect(text).to.contain(`| web | \`example.invalid/itci/web:`).and.contain(`| worker | \`example.invalid/itci/worker:`)
    expect(text).to.contain(`| Job | [${RUN_URL}](${RUN_URL}) |`)

    await app.change(CRASH, 'crash')
    const failed = await app.cli([...DEPLOY, 'test', '--timeout', '2m'], {env: githubEnv(app.repo.dir, summary)})
    expect(failed.exitCode, failed.stderr).to.equal(1)
    const commands = workflowCommands(failed.stderr)
    expect(commands.slice(0, 6)).to.deep.equal(['::group::validate', '::endgroup::', '::group::deploy', '::endgroup::', '::group::rollback', '::endgroup::'])
    expect(commands.slice(6), failed.stderr).to.have.length(1)
    expect(commands[6]).to.match(/^::error title=skycap deploy test%3A Deployment\/web failed::container web of pod web-\S+ is in CrashLoopBackOff/)
    // The error itself comes after the last group, where the log shows it unfolded.
    expect(failed.stderr.indexOf('Error: release 2 of test failed')).to.be.greaterThan(failed.stderr.lastIndexOf('::endgroup::'))
    text = readFileSync(summary, 'utf8')
    expect(text.indexOf('### ❌ skycap deploy: itci test release 2 failed')).to.be.greaterThan(text.indexOf('release 1 succeeded'))
    expect(text)
      .to.contain('| Rollback | rolled back to release 1 (recorded as release 3) |')
      .and.match(/- `Deployment\/web`: container web of pod web-\S+ is in CrashLoopBackOff/)

    const history = await app.json(['history', 'test'])
    // The result's time is the failed release's, as history has it (it counted the rollback too).
    const failedMs = history.doc.result.releases.find((r: any) => r.number === 2).durationMs
    expect(text).to.contain(`| Result | failed in ${Math.round(failedMs / 1000)}s |`)
    expect(history.doc.result.releases.map((r: any) => [r.number, r.action, r.user, r.ciJob])).to.deep.equal([
      [3, 'rollback', `octocat@${hostname()}`, RUN_URL],
      [2, 'deploy', `octocat@${hostname()}`, RUN_URL],
      [1, 'deploy', `octocat@${hostname()}`, RUN_URL],
    ])
    const table = (await app.cli(['history', 'test'])).stdout.split('\n')
    expect(table[0]).to.match(/\bUSER\b.*\bJOB\b.*\bNOTE$/)
    expect(table[3]).to.contain(`octocat@${hostname()}`).and.contain(RUN_URL)
  })

  it('GitHub Actions: a manual rollback folds its checks (the images among them) into a validate group before its rollback group, as a deploy does', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change((t) => t.replace('\nenvironments:', '\n# v2\nenvironments:').replace('replicas: 2', 'replicas: 3'), 'v2')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const back = await app.cli(['rollback', 'test'], {env: githubEnv(app.repo.dir, summary)})
    expect(back.exitCode, back.stderr).to.equal(0)
    const lines = back.stderr.split('\n').filter((l) => l !== '')
    // Nothing before the first group: the image check and its warnings were printed unfolded before `rollback`.
    expect(lines[0], back.stderr).to.equal('::group::validate')
    expect(workflowCommands(back.stderr).slice(0, 4)).to.deep.equal(['::group::validate', '::endgroup::', '::group::rollback', '::endgroup::'])
    const checking = lines.findIndex((l) => /Checking release 1's \d+ images? in (its|their) registr/.test(l))
    expect(checking, back.stderr).to.be.greaterThan(0).and.below(lines.indexOf('::endgroup::'))
    expect(readFileSync(summary, 'utf8')).to.contain('### ✅ skycap rollback: itci test release 3 succeeded')
  })

  it("a lock taken in a GitHub Actions job shows the job's URL in lock status and in the error of the deploy it refuses", async () => {
    const held = await app.cli(['lock', 'acquire', '-e', 'test', '--reason', 'migration'], {env: githubEnv(app.repo.dir, summary)})
    expect(held.exitCode, held.stderr).to.equal(0)
    expect(held.stdout).to.match(new RegExp(`^test is locked by octocat@\\S+ since \\S+ \\(migration\\); job ${RUN_URL}; expires \\S+$`))
    const status = await app.cli(['lock', 'status', 'test'])
    expect(status.stdout).to.contain(`(migration); job ${RUN_URL}; expires `)
    expect((await app.json(['lock', 'status', 'test'])).doc.result.lock.ciJob).to.equal(RUN_URL)
    const refused = await app.cli([...DEPLOY, 'test'])
    expect(refused.exitCode).to.equal(3)
    expect(refused.stderr).to.match(new RegExp(`Error: test is locked by octocat@\\S+ since \\S+ \\(migration\\); job ${RUN_URL}\n`))
  })

  it('GitHub Actions: a commit subject or lock reason written as a workflow command (##[error]…) reaches history, status and lock status only inside a stopped region', async () => {
    app.repo.write('README.md', 'x')
    await app.repo.commit('##[error]injected')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    expect((await app.cli(['lock', 'acquire', '-e', 'test', '--reason', '##[error]spoofed'])).exitCode).to.equal(0)
    const env = githubEnv(app.repo.dir, summary)
    for (const [args, text] of [
      [['history', 'test'], '##[error]injected'],
      [['history', 'test', '--json'], '##[error]injected'],
      [['lock', 'status', 'test'], '##[error]spoofed'],
      [['lock', 'status', 'test', '--json'], '##[error]spoofed'],
    ] as const) {
      const r = await app.cli([...args], {env})
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).to.equal(0)
      expect(r.stdout).to.contain(text)
      // The markers on stderr (stdout is the command's result, for a pipe): a region stopped before, ended after.
      const token = /^::stop-commands::([0-9a-f]{32})$/m.exec(r.stderr)?.[1]
      expect(token, `${args.join(' ')}: ${r.stderr}`).to.be.a('string')
      expect(r.stderr.trimEnd().split('\n').at(-1)).to.equal(`::${token}::`)
    }
    expect((await app.cli(['lock', 'release', 'test'])).exitCode).to.equal(0)
  })

  it('GitHub Actions: a config or template error is an annotation on its file, line and column; nothing is applied', async () => {
    await app.change((t) => t.replace('    replicas: 2\n', '    replicas: two\n'), 'typo')
    const lines = app.config.split('\n')
    const line = lines.findIndex((l) => l === '    replicas: two') + 1
    const column = (lines[line - 1] as string).indexOf('two') + 1
    const r = await app.cli([...DEPLOY, 'test'], {env: githubEnv(app.repo.dir, summary)})
    expect(r.exitCode, r.stderr).to.equal(2)
    expect(workflowCommands(r.stderr)).to.deep.equal([
      '::group::validate',
      '::endgroup::',
      `::error file=skycap.yaml,line=${line},col=${column},title=skycap deploy%3A invalid configuration::services.web.replicas must be a whole number, not string "two"`,
    ])
    // The summary names the app and the environment (a job that deploys several said only "skycap deploy failed").
    expect(readFileSync(summary, 'utf8'))
      .to.contain('### ❌ skycap deploy failed: app itci, environment test\n')
      .and.contain(`> skycap.yaml:${line}:${column}: services.web.replicas must be a whole number`)
    expect((await kubectl(['get', 'deployments', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')

    // A template's error points at the template's line.
    app.repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata:\n  x: "{{ values.missing }}"\n')
    await app.change((t) => t.replace('    replicas: two\n', '    replicas: 2\n').replace('defaultEnvironment: test\n', 'defaultEnvironment: test\ntemplates: deploy\n'), 'a template')
    const template = await app.cli([...DEPLOY, 'test'], {env: githubEnv(app.repo.dir, summary)})
    expect(template.exitCode, template.stderr).to.equal(2)
    expect(workflowCommands(template.stderr)[2]).to.equal(
      '::error file=deploy/extra.yaml,line=5,col=10,title=skycap deploy%3A invalid configuration::template uses undefined variable "values.missing"',
    )
    // Each failure's summary names the app and the environment (a template's and the API server's named only the environment).
    const lastSummary = () => `### ${readFileSync(summary, 'utf8').split('### ').at(-1)}`
    expect(lastSummary()).to.match(/^### ❌ skycap deploy failed: app itci, environment test\n/)

    // An object the API server refuses in the dry run: annotated on the template it came from, at its document's line.
    app.repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: extra}\nspec:\n  ports: [{port: 70000}]\n')
    await app.repo.commit('a port out of range')
    const refused = await app.cli([...DEPLOY, 'test'], {env: githubEnv(app.repo.dir, summary)})
    expect(refused.exitCode, refused.stderr).to.equal(2)
    const [annotation] = workflowCommands(refused.stderr).filter((l) => l.startsWith('::error'))
    // The annotation carries the server's words about that object (each refused object its own).
    expect(annotation).to.match(/^::error file=deploy\/extra\.yaml,line=1,title=skycap deploy%3A the API server refused Service\/extra::Service "extra" is invalid.*70000/)
    expect(lastSummary()).to.match(/^### ❌ skycap deploy failed: app itci, environment test\n/)

    // skycap's own Deployment refused for what skycap.yaml says of the service: annotated on that service's line.
    app.repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: extra}\nspec:\n  ports: [{port: 80}]\n')
    await app.change(
      (t) =>
        t.replace(
          '    healthcheck: {command: [/bin/true]}\n    resources: {requests: {cpu: 10m, memory: 16Mi}}',
          '    healthcheck: {command: [/bin/true]}\n    resources: {requests: {cpu: "2"}, limits: {cpu: "1"}}',
        ),
      'requests above limits',
    )
    // The line after `  worker:`: where the service's settings start.
    const worker = app.config.split('\n').indexOf('  worker:') + 2
    const service = await app.cli([...DEPLOY, 'test'], {env: githubEnv(app.repo.dir, summary)})
    expect(service.exitCode, service.stderr).to.equal(2)
    const [onService] = workflowCommands(service.stderr).filter((l) => l.startsWith('::error'))
    expect(onService).to.match(
      new RegExp(`^::error file=skycap\\.yaml,line=${worker},col=5,title=skycap deploy%3A the API server refused Deployment/worker::Deployment(\\.apps)? "worker" is invalid.*cpu limit`, 'i'),
    )
    expect((await kubectl(['get', 'deployments', '-o', 'name'], {namespace: ns.name})).stdout).to.equal('')
  })

  it('a second Ctrl-C quits at once and still closes the open GitHub group or GitLab section', async () => {
    await app.change(NOT_READY, 'never ready')
    for (const [name, env] of [
      ['github', githubEnv(app.repo.dir, summary)],
      ['gitlab', gitlabEnv()],
    ] as const) {
      const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '5m'], {cwd: app.repo.dir, reject: false, env: {NO_COLOR: '1', GITHUB_ACTIONS: '', GITLAB_CI: '', ...env}})
      let err = ''
      let again = false
      child.stderr?.on('data', (d) => {
        err += d
        // The second Ctrl-C as soon as the first is seen: while the deploy records the interruption and releases the lock.
        if (!again && err.includes('Received SIGINT')) {
          again = true
          child.kill('SIGINT')
        }
      })
      await waitFor(`${name}: the watch to start`, () => err.includes('Rolling out'), {timeoutMs: 60_000})
      child.kill('SIGINT')
      const r = await child
      expect(err, 'quit before the interruption was reported').not.to.contain('deploy of test interrupted')
      expect(r.exitCode, err).to.equal(130)
      // What it leaves is said, after the group is closed (it ended without a word): the release is recorded and the
      // lock released first (the release was left unrecorded, the lock to expire).
      expect(err.trimEnd().split('\n').at(-1), err).to.match(
        /^Quit at once \(SIGINT\): what the first signal was undoing is left as it is: release \d+ is recorded( as interrupted)? \(`skycap history`; `skycap status` shows what runs\), and the lock was released$/,
      )
      if (name === 'github') {
        const groups = workflowCommands(err).filter((l) => l.startsWith('::group::') || l === '::endgroup::')
        expect(groups.at(-1), err).to.equal('::endgroup::')
        expect(groups.filter((l) => l === '::endgroup::').length).to.equal(groups.filter((l) => l.startsWith('::group::')).length)
      } else {
        const markers = [...err.matchAll(/section_(start|end):\d+:([\w.-]+)/g)].map((m) => `${m[1]} ${m[2]}`)
        expect(markers.at(-1), err).to.equal('end skycap_2_deploy')
        expect(markers.filter((m) => m.startsWith('end')).length).to.equal(markers.filter((m) => m.startsWith('start')).length)
      }
      // The forced quit left the lock to expire; take it off for the next round.
      await kubectl(['delete', 'lease', 'skycap-lock-itci', '--ignore-not-found'], {namespace: ns.name})
    }
  })

  it('GitLab CI: phases in collapsed sections; the GitLab user and job URL in history', async () => {
    const before = Math.floor(Date.now() / 1000)
    const r = await app.cli([...DEPLOY, 'test'], {env: gitlabEnv()})
    expect(r.exitCode, r.stderr).to.equal(0)
    const markers = [...r.stderr.matchAll(/\u001B\[0Ksection_(start|end):(\d+):([\w.-]+)(\[collapsed=true\])?\r\u001B\[0K(.*)/g)].map((m) => ({
      kind: m[1],
      at: Number(m[2]),
      name: m[3],
      collapsed: Boolean(m[4]),
      header: m[5],
    }))
    expect(markers.map((m) => [m.kind, m.name, m.collapsed, m.header])).to.deep.equal([
      ['start', 'skycap_1_validate', true, 'validate'],
      ['end', 'skycap_1_validate', false, ''],
      ['start', 'skycap_2_deploy', true, 'deploy'],
      ['end', 'skycap_2_deploy', false, ''],
    ])
    const times = markers.map((m) => m.at)
    expect(times[0]).to.be.at.least(before)
    expect([...times].sort((a, b) => a - b)).to.deep.equal(times)
    expect(r.stderr).to.not.contain('::group::')
    const history = await app.json(['history', 'test'])
    expect(history.doc.result.releases[0]).to.deep.include({user: `alice@${hostname()}`, ciJob: JOB_URL})
  })
})

/** The skycap commands of a pipeline file: each line of a GitHub `run:` or a GitLab `script:` that starts with `skycap `. */
function skycapSteps(scripts: unknown[]): string[] {
  return scripts
    .flatMap((s) => String(s).split('\n'))
    .map((l) => l.trim())
    .filter((l) => l.startsWith('skycap '))
}

describe('the pipelines skycap init --ci writes (real cluster)', function () {
  const staging = useNamespace('pipe-staging')
  const prod = useNamespace('pipe-prod')
  let registry: LocalRegistry
  let repo: TempRepo
  let dir: string
  before(async () => {
    registry = await LocalRegistry.start()
  })
  after(() => registry?.stop())
  beforeEach(async () => {
    // The fixture app with the environments a team has (staging, and a protected prod), images in a registry, and a
    // build: block per service, as CI would build them.
    repo = await TempRepo.clusterApp(testCluster().context, staging.name, 'cluster-app', {}, 'itci')
    const file = join(repo.dir, 'skycap.yaml')
    const text = readFileSync(file, 'utf8')
      .replace('registry: example.invalid/itci', `registry: ${registry.host}/itci`)
      .replace('defaultEnvironment: test', 'defaultEnvironment: staging')
      .replace('  test:\n', '  staging:\n')
      .replace(`  guarded:\n    context: ${testCluster().context}\n    namespace: ${staging.name}\n`, `  prod:\n    context: ${testCluster().context}\n    namespace: ${prod.name}\n`)
      .replaceAll('    replicas: ', '    build: {context: .}\n    replicas: ')
    expect(text).to.contain(`  prod:\n    context: ${testCluster().context}\n    namespace: ${prod.name}\n    protected: true`)
    writeFileSync(file, text)
    repo.write('Dockerfile', 'FROM scratch\n')
    await repo.commit('staging and prod')
    dir = mkdtempSync(join(tmpdir(), 'skycap-pipeline-'))
  })
  afterEach(() => {
    repo.remove()
    rmSync(dir, {recursive: true, force: true})
  })

  /** Runs each step as the CI shell would: these are plain words, so splitting on spaces is what the shell does. */
  async function runSteps(steps: string[], env: Record<string, string>) {
    const results = []
    for (const step of steps) {
      expect(step, 'a pipeline step with shell syntax').to.match(/^[\w@./ -]+$/)
      const r = await runCli(step.split(/ +/).slice(1), {cwd: repo.dir, env})
      expect(r.exitCode, `${step}:\n${r.stderr}`).to.equal(0)
      results.push(r)
    }
    return results
  }

  it('the GitHub workflow and the GitLab pipeline are valid YAML whose skycap steps build, deploy staging and deploy the protected prod', async () => {
    const github = await runCli(['init', '--ci', 'github'], {cwd: repo.dir})
    expect(github.exitCode, github.stderr).to.equal(0)
    expect(github.stdout.trim()).to.equal('created .github/workflows/deploy.yml')
    expect(github.stderr).to.contain('skipped skycap.yaml (exists)').and.contain('deploys staging on main and prod on a tag')
    const gitlab = await runCli(['init', '--ci', 'gitlab'], {cwd: repo.dir})
    expect(gitlab.stdout.trim(), gitlab.stderr).to.equal('created .gitlab-ci.yml')
    const sha = await repo.commit('pipelines')
    await registry.push('itci/web', sha)
    await registry.push('itci/worker', sha)

    const workflow = parse(readFileSync(join(repo.dir, '.github/workflows/deploy.yml'), 'utf8'))
    expect(workflow.on.push).to.deep.equal({branches: ['main'], tags: ['v*']})
    expect(workflow.jobs['deploy-staging']).to.deep.include({
      if: "github.ref == 'refs/heads/main'",
      needs: 'build',
      environment: 'staging',
      concurrency: {group: 'deploy-staging', 'cancel-in-progress': false},
    })
    expect(workflow.jobs['deploy-prod']).to.deep.include({
      if: "startsWith(github.ref, 'refs/tags/')",
      needs: 'build',
      environment: 'prod',
      concurrency: {group: 'deploy-prod', 'cancel-in-progress': false},
    })
    const githubSteps = Object.values(workflow.jobs as Record<string, {steps: Array<{run?: string}>}>).map((job) => skycapSteps(job.steps.map((s) => s.run ?? '')))
    // One build per environment deployed (each may push to a registry, with a tag, of its own).
    expect(githubSteps).to.deep.equal([['skycap build staging@HEAD', 'skycap build prod@HEAD'], ['skycap deploy staging --yes'], ['skycap deploy prod --yes']])
    const summary = join(dir, 'summary.md')
    const [build] = await runSteps(githubSteps.flat(), githubEnv(repo.dir, summary))
    // Both images are in the registry at this commit: build pushes nothing, and says so.
    expect(build?.stdout).to.match(new RegExp(`web\\s+${registry.host}/itci/web:${sha}\\s+sha256:[0-9a-f]{64}\\s+skipped`))
    for (const [env, ns] of [
      ['staging', staging.name],
      ['prod', prod.name],
    ] as const) {
      const history = await runCli(['history', env, '--json'], {cwd: repo.dir})
      expect(JSON.parse(history.stdout).result.releases.map((r: any) => [r.number, r.result, r.revision.sha, r.user, r.ciJob])).to.deep.equal([[1, 'succeeded', sha, `octocat@${hostname()}`, RUN_URL]])
      const web = JSON.parse((await kubectl(['get', 'deployment', 'web', '-o', 'json'], {namespace: ns})).stdout)
      expect(web.status.readyReplicas).to.equal(2)
      expect(web.spec.template.spec.containers[0].image).to.equal(`${registry.host}/itci/web:${sha}`)
    }
    expect(readFileSync(summary, 'utf8').match(/^### ✅ skycap deploy: itci (staging|prod) release 1 succeeded$/gm)).to.have.length(2)

    const pipeline = parse(readFileSync(join(repo.dir, '.gitlab-ci.yml'), 'utf8')) as Record<string, {script?: string[]; resource_group?: string; rules?: unknown[]}>
    expect(pipeline.stages).to.deep.equal(['build', 'deploy'])
    expect(pipeline['deploy-staging']).to.deep.include({resource_group: 'deploy-staging', rules: [{if: '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'}]})
    expect(pipeline['deploy-prod']).to.deep.include({resource_group: 'deploy-prod', rules: [{if: '$CI_COMMIT_TAG =~ /^v/'}, {if: '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH', when: 'manual'}]})
    const jobs = Object.entries(pipeline).filter(([name, job]) => !name.startsWith('.') && job && typeof job === 'object' && 'script' in job)
    const gitlabSteps = jobs.map(([, job]) => skycapSteps(job.script ?? []))
    expect(gitlabSteps).to.deep.equal([['skycap build staging@HEAD', 'skycap build prod@HEAD'], ['skycap deploy staging --yes'], ['skycap deploy prod --yes']])
    await runSteps(gitlabSteps.flat(), gitlabEnv())
    for (const env of ['staging', 'prod']) {
      const history = await runCli(['history', env, '--json'], {cwd: repo.dir})
      expect(JSON.parse(history.stdout).result.releases[0]).to.deep.include({number: 2, result: 'succeeded', user: `alice@${hostname()}`, ciJob: JOB_URL})
    }
  })
})
