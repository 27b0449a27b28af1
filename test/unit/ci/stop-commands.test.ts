import {expect} from 'chai'
import {execa} from 'execa'
import {closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ciOutput} from '../../../src/ci/output.js'
import {commandsStopped, resumeCommands, untrustedStream} from '../../../src/ci/stop-commands.js'
import {UserError} from '../../../src/errors.js'
import {logsKubectlProgram} from '../../helpers/fake-kubectl.js'
import {cliPath, runCli, TempRepo} from '../../helpers/repo.js'

const GITHUB = {GITHUB_ACTIONS: 'true'}

/**
 * What the GitHub runner makes of a log, line by line: the workflow commands it processes. After
 * `::stop-commands::TOKEN` it processes none until a line `::TOKEN::`; `::` after leading spaces, or `##[` anywhere,
 * is a command.
 */
function processed(lines: string[]): string[] {
  const commands: string[] = []
  let token: string | undefined
  for (const line of lines) {
    const trimmed = line.trimStart()
    if (token !== undefined) {
      if (trimmed === `::${token}::`) token = undefined
      continue
    }
    const stop = /^::stop-commands::(.+)$/.exec(trimmed)
    if (stop) token = stop[1]
    else if (trimmed.startsWith('::') || line.includes('##[')) commands.push(line)
  }
  expect(token, 'the log ends with workflow commands processed again').to.equal(undefined)
  return commands
}

/** A stream that keeps what is written to it, in order, beside what `also` writes. */
function sink(): {stream: NodeJS.WritableStream; text: () => string; line: (l: string) => void} {
  let text = ''
  const stream = {
    write: (chunk: string | Uint8Array) => {
      text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
      return true
    },
  } as unknown as NodeJS.WritableStream
  return {stream, text: () => text, line: (l) => (text += `${l}\n`)}
}

/** The tokens of the stopped regions in `lines`, each checked to be ended by its own `::TOKEN::`. */
function regions(lines: string[]): Array<{token: string; inside: string[]}> {
  const found: Array<{token: string; inside: string[]}> = []
  lines.forEach((line, i) => {
    const token = /^::stop-commands::([0-9a-f]{32})$/.exec(line)?.[1]
    if (!token) return
    const end = lines.indexOf(`::${token}::`, i)
    expect(end, `${line} is ended`).to.be.greaterThan(i)
    found.push({token, inside: lines.slice(i + 1, end)})
  })
  return found
}

describe('untrusted output under GitHub Actions (stop-commands)', () => {
  afterEach(() => expect(commandsStopped(), 'each test ends its stopped region').to.equal(false))

  it("a pod's lines are in a stopped region; skycap's own groups and annotations never are", () => {
    const log = sink()
    const ci = ciOutput({command: 'run', env: GITHUB, write: log.line})
    if (!ci) throw new Error('no CI detected')
    const reporter = ci.wrap({mode: 'plain', info: log.line, warn: (m) => log.line(`warning: ${m}`)})
    const out = untrustedStream(log.stream, GITHUB)
    reporter.phase?.('Connecting')
    reporter.info('Running rake in web')
    out.write('::error::boom\n')
    // A warning that quotes a workflow command while the region is open: no region of its own (a second stop is text).
    reporter.warn('event: ::warning::nested')
    out.write(Buffer.from('::add-mask::x\n##[error]old syntax\nno newline at the end'))
    // skycap's own ::endgroup:: ends the region first; the pod's next line opens a new one.
    reporter.phase?.(null)
    out.write('::error::after the group\n')
    ci.failed(new UserError('the task failed'))

    const lines = log.text().split('\n')
    expect(processed(lines)).to.deep.equal(['::group::Connecting', '::endgroup::', '::warning title=skycap run::event: ::warning::nested', '::error title=skycap run failed::the task failed'])
    const [first, second, ...more] = regions(lines)
    expect(more).to.deep.equal([])
    expect(first?.inside).to.deep.equal(['::error::boom', 'warning: event: ::warning::nested', '::add-mask::x', '##[error]old syntax', 'no newline at the end'])
    expect(second?.inside).to.deep.equal(['::error::after the group'])
    expect(second?.token, 'a fresh token per region').to.not.equal(first?.token)
    // The pod's line without a newline is ended before the region is: `::TOKEN::` starts a line.
    expect(log.text()).to.contain(`no newline at the end\n::${first?.token}::\n`)
  })

  it("stdout's text (a result a pipe may carry on: `run -- pg_dump | gzip`) is written unchanged; its markers go to stderr, the stop before the text and the end after it", () => {
    const order: string[] = []
    const stream = (name: string) => ({write: (chunk: string | Uint8Array) => order.push(`${name}: ${String(chunk).trimEnd()}`) > 0}) as unknown as NodeJS.WritableStream
    const stdout = stream('stdout')
    const out = untrustedStream(stdout, GITHUB, {markers: stream('stderr')})
    out.write('::error::boom\n')
    out.write(Buffer.from('-- a dump without a newline at the end'))
    resumeCommands()
    const token = /^stderr: ::stop-commands::([0-9a-f]{32})$/.exec(order[0] ?? '')?.[1]
    expect(token, order.join('\n')).to.be.a('string')
    expect(order).to.deep.equal([`stderr: ::stop-commands::${token}`, 'stdout: ::error::boom', 'stdout: -- a dump without a newline at the end', `stderr: ::${token}::`])
  })

  it("a region opened by stdout's text is ended on a line of its own when stderr's text then ended in the middle of one (`exec`: the pod's stdout, then its stderr)", () => {
    const stdout = sink()
    const stderr = sink()
    const out = untrustedStream(stdout.stream, GITHUB, {markers: stderr.stream})
    const err = untrustedStream(stderr.stream, GITHUB)
    out.write('hello\n')
    err.write('::error::partial')
    resumeCommands()
    const lines = stderr.text().split('\n')
    const [region, ...more] = regions(lines)
    expect(more).to.deep.equal([])
    expect(region?.inside).to.deep.equal(['::error::partial'])
    expect(stdout.text()).to.equal('hello\n')
  })

  it('a process that exits at once (process.exit: a second Ctrl-C) ends its open region on the way out', async () => {
    const module = new URL('../../../src/ci/stop-commands.js', import.meta.url).href
    const script = `const {untrustedStream} = await import(${JSON.stringify(module)}); untrustedStream(process.stdout, {GITHUB_ACTIONS: 'true'}).write('::error::boom'); process.exit(130)`
    const r = await execa('node', ['--input-type=module', '-e', script], {reject: false})
    expect(r.exitCode).to.equal(130)
    const lines = r.stdout.split('\n')
    expect(regions(lines).map((x) => x.inside)).to.deep.equal([['::error::boom']])
    expect(processed(lines)).to.deep.equal([])
  })

  it('outside GitHub Actions (GitLab, no CI) the stream is the same stream, written as it was', () => {
    for (const env of [{}, {GITLAB_CI: 'true'}, {GITHUB_ACTIONS: 'false'}]) {
      const log = sink()
      expect(untrustedStream(log.stream, env)).to.equal(log.stream)
    }
  })

  it('a file (`run -- pg_dump > dump.sql`) gets no markers: the runner never reads it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skycap-stop-'))
    try {
      const fd = openSync(join(dir, 'dump.sql'), 'w')
      const file = {fd, write: (chunk: string) => writeFileSync(fd, chunk) === undefined} as unknown as NodeJS.WritableStream
      expect(untrustedStream(file, GITHUB)).to.equal(file)
      closeSync(fd)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  describe('skycap logs, run as a process, with a kubectl whose pod prints workflow commands', function () {
    this.timeout(60_000)
    let repo: TempRepo
    let kubectl: string
    before(async () => {
      repo = await TempRepo.clusterApp('it-context', 'it-ns')
      // The pod's lines, with kubectl's --timestamps; the first line of any other call's answer.
      kubectl = logsKubectlProgram(repo.dir, ['::error::boom', '::add-mask::x', '##[error]old'])
    })
    after(() => repo.remove())

    const logs = (env: Record<string, string>, ...flags: string[]) => runCli(['logs', 'web', '-e', 'test', ...flags], {cwd: repo.dir, env: {SKYCAP_KUBECTL: kubectl, ...env}})

    it("GitHub Actions: the pod's lines unchanged on stdout, between ::stop-commands::TOKEN and ::TOKEN:: on stderr, a new token in each process", async () => {
      const tokens: string[] = []
      for (let run = 0; run < 2; run++) {
        const r = await logs(GITHUB)
        expect(r.exitCode, r.stderr).to.equal(0)
        expect(r.stdout.split('\n')).to.deep.equal(['web-1 │ ::error::boom', 'web-1 │ ::add-mask::x', 'web-1 │ ##[error]old'])
        const token = /^::stop-commands::([0-9a-f]{32})$/m.exec(r.stderr)?.[1]
        expect(token, r.stderr).to.be.a('string')
        expect(r.stderr.split('\n').filter((l) => l.startsWith('::'))).to.deep.equal([`::stop-commands::${token}`, `::${token}::`])
        tokens.push(token as string)
      }
      expect(tokens[1]).to.not.equal(tokens[0])
    })

    it('logs -f stopped by a Ctrl-C: the region is ended before skycap exits', async () => {
      const child = execa('node', [cliPath, 'logs', 'web', '-e', 'test', '-f'], {
        cwd: repo.dir,
        env: {NO_COLOR: '1', GITLAB_CI: '', GITHUB_STEP_SUMMARY: '', SKYCAP_ENV: '', SKYCAP_KUBECTL: kubectl, ...GITHUB},
        reject: false,
      })
      let out = ''
      await new Promise<void>((resolve) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8')
          if (out.includes('##[error]old')) resolve()
        })
      })
      child.kill('SIGINT')
      const r = await child
      expect(r.exitCode, r.stderr).to.equal(0)
      expect(r.stdout.split('\n')).to.deep.equal(['web-1 │ ::error::boom', 'web-1 │ ::add-mask::x', 'web-1 │ ##[error]old'])
      const token = /^::stop-commands::([0-9a-f]{32})$/m.exec(r.stderr)?.[1]
      expect(token, r.stderr).to.be.a('string')
      expect(r.stderr.trimEnd().split('\n').at(-1)).to.equal(`::${token}::`)
    })

    it('elsewhere the same lines without markers; --json lines get none either, and their `##[` is an escaped `#`', async () => {
      const plain = await logs({})
      expect(plain.exitCode, plain.stderr).to.equal(0)
      expect(plain.stdout.split('\n')).to.deep.equal(['web-1 │ ::error::boom', 'web-1 │ ::add-mask::x', 'web-1 │ ##[error]old'])
      const json = await logs(GITHUB, '--json')
      expect(json.exitCode, json.stderr).to.equal(0)
      const lines = json.stdout.split('\n')
      expect(lines.map((l) => (JSON.parse(l) as {message: string}).message)).to.deep.equal(['::error::boom', '::add-mask::x', '##[error]old'])
      expect(processed(lines)).to.deep.equal([])
      expect(json.stdout).to.not.contain('::stop-commands::')
    })
  })
})

describe('skycap build, run as a process, with a build.command that prints workflow commands', function () {
  this.timeout(60_000)

  it('GitHub Actions: the build output between ::stop-commands::TOKEN and ::TOKEN::, ended before the ::endgroup:: and the ::error of skycap', async () => {
    // A registry that has no image: the command "builds" without pushing, and skycap's check after it fails.
    const registry = createServer((_request, response) => {
      response.statusCode = 404
      response.end()
    })
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve))
    const {port} = registry.address() as AddressInfo
    const repo = await TempRepo.withFiles({
      'skycap.yaml': `app: shop\nregistry: localhost:${port}/team\nservices:\n  web:\n    image: web\n    build: {command: [sh, -c, 'echo "::error::boom"; echo "::add-mask::x"']}\nenvironments:\n  staging: {namespace: s}\n`,
    })
    try {
      const r = await runCli(['build', 'HEAD', '-e', 'staging'], {cwd: repo.dir, env: GITHUB})
      expect(r.exitCode, r.stderr).to.equal(1)
      const lines = r.stderr.split('\n')
      const [region, ...more] = regions(lines)
      expect(more).to.deep.equal([])
      expect(region?.inside.filter((l) => l.startsWith('web | '))).to.deep.equal(['web | ::error::boom', 'web | ::add-mask::x'])
      expect(processed(lines)).to.deep.equal(['::group::build', '::endgroup::', `::error title=skycap build failed::${lines.find((l) => l.startsWith('Error: '))?.slice(7)}`])
    } finally {
      repo.remove()
      registry.close()
    }
  })
})

// The job summary of a failure names the app and the environment when they are known.
describe('the job summary of a command that fails validation', function () {
  this.timeout(60_000)

  it('names the app skycap.yaml names and the environment the command line names', async () => {
    const repo = await TempRepo.withFiles({'skycap.yaml': 'app: shop\nservices: {web: {image: web, replicas: many}}\nenvironments: {staging: {namespace: s}}\n'})
    try {
      const summary = join(repo.dir, '..', `${repo.dir.split('/').at(-1)}-summary.md`)
      const env = {GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary}
      const read = () => {
        const text = readFileSync(summary, 'utf8')
        rmSync(summary)
        return text
      }
      const validate = await runCli(['config', 'validate'], {cwd: repo.dir, env})
      expect(validate.exitCode, validate.stderr).to.equal(2)
      expect(read()).to.match(/^### ❌ skycap config validate failed: app shop\n/)
      const deploy = await runCli(['deploy', 'staging', '--yes'], {cwd: repo.dir, env})
      expect(deploy.exitCode, deploy.stderr).to.equal(2)
      expect(read()).to.match(/^### ❌ skycap deploy failed: app shop, environment staging\n/)
      // A failure after skycap.yaml was read (a template, a unit-less duration): the app it names too.
      repo.write('skycap.yaml', 'app: shop\ntemplates: deploy\nservices: {web: {image: web}}\nenvironments: {staging: {namespace: s}}\n')
      repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {x: "{{ values.missing }}"}\n')
      await repo.commit('a template')
      const template = await runCli(['deploy', 'staging', '--yes'], {cwd: repo.dir, env})
      expect(template.exitCode, template.stderr).to.equal(2)
      expect(template.stderr).to.contain('undefined variable "values.missing"')
      expect(read()).to.match(/^### ❌ skycap deploy failed: app shop, environment staging\n/)
      // The same at an older revision, whose skycap.yaml is read from the repository, not the work tree.
      repo.write('README.md', 'shop\n')
      await repo.commit('a readme')
      const older = await runCli(['deploy', 'staging@HEAD~1', '--yes'], {cwd: repo.dir, env})
      expect(older.exitCode, older.stderr).to.equal(2)
      expect(older.stderr).to.contain('undefined variable "values.missing"')
      expect(read()).to.match(/^### ❌ skycap deploy failed: app shop, environment staging\n/)
      // Refused before skycap.yaml is read: the environment the command line names.
      const unitless = await runCli(['deploy', 'staging', '--timeout', '10'], {cwd: repo.dir, env})
      expect(unitless.exitCode, unitless.stderr).to.equal(2)
      expect(read()).to.match(/^### ❌ skycap deploy failed: environment staging\n/)
      // YAML that does not parse names no app; the environment is the command line's.
      repo.write('skycap.yaml', 'app: [shop\n')
      await repo.commit('broken')
      const broken = await runCli(['deploy', '-e', 'staging', '--yes'], {cwd: repo.dir, env})
      expect(broken.exitCode, broken.stderr).to.equal(2)
      expect(read()).to.match(/^### ❌ skycap deploy failed: environment staging\n/)
    } finally {
      repo.remove()
    }
  })
})
