import {expect} from 'chai'
import {cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {execa} from 'execa'

import {repoRoot, runCli, TempRepo} from '../helpers/repo.js'

// bin/run.js runs a command it finds by its file without oclif's Config.load (commands/_run.ts, docs/startup.md);
// SKYCAP_NO_FAST_PATH=1 sends everything through oclif's execute. Both must behave the same.
describe('bin/run.js: commands run without oclif Config.load', function () {
  this.timeout(120_000)
  let repo: TempRepo
  let home: string
  before(async () => {
    repo = await TempRepo.fromFixture('shop')
    home = mkdtempSync(join(tmpdir(), 'skycap-direct-'))
  })
  after(() => {
    repo.remove()
    rmSync(home, {recursive: true, force: true})
  })

  // No cluster here: commands that reach one stop at the kubeconfig, the same way both ways.
  const cases = [
    ['config', 'validate'],
    ['config', 'validate', '--json'],
    ['config', 'validate', '--bogus'],
    ['config', 'validate', '--config', '/nonexistent/skycap.yaml'],
    ['render', 'staging'],
    ['render', 'nope'],
    ['render', '-e', 'prod', '--json'],
    ['lock', 'status', 'staging', '--json'],
    ['scale', 'web'],
    ['scale', 'web', 'x', '-e', 'dev'],
    ['deploy', 'staging', '--timeout', '10'],
    ['history', 'dev', '-e'],
    ['status', 'prod', '--verbose'],
    ['logs'],
    ['down', 'foo'],
    ['down', '--json'],
    ['rollout', 'status'],
    ['build', 'staging', '--jobs', 'x'],
    ['init', '--ci', 'foo'],
    ['completion', 'bash'],
    ['complete', '--', 'skycap', 'dep'],
    ['version', '--json'],
    ['help', 'lock'],
    ['lock'],
    ['deplyo', 'prod'],
  ]

  it('prints the same, exits the same, as through oclif', async () => {
    const env = {XDG_CACHE_HOME: home, HOME: home, KUBECONFIG: join(home, 'no-kubeconfig')}
    // Progress lines of plain mode start with a time. The stack --verbose prints is compared without its frames:
    // V8's async frames depend on which awaited promise had settled (it once had one frame less under load).
    const strip = (s: string) =>
      s
        .replaceAll(/^\d{4}-\d\d-\d\dT[\d:.]+Z /gm, '')
        .replaceAll(/^ +at .*\n?/gm, '    at …\n')
        .replaceAll(/( +at …\n)+/g, '    at …\n')
    for (const args of cases) {
      const direct = await runCli(args, {cwd: repo.dir, env})
      const oclif = await runCli(args, {cwd: repo.dir, env: {...env, SKYCAP_NO_FAST_PATH: '1'}})
      expect({exitCode: direct.exitCode, stdout: direct.stdout, stderr: strip(direct.stderr)}, args.join(' ')).to.deep.equal({
        exitCode: oclif.exitCode,
        stdout: oclif.stdout,
        stderr: strip(oclif.stderr),
      })
    }
  })

  it("reads nothing of oclif's Config: a copy whose oclif manifest lists no command still runs config validate and render", async () => {
    const copy = mkdtempSync(join(tmpdir(), 'skycap-direct-cli-'))
    try {
      for (const part of ['bin', 'dist', 'templates', 'package.json']) cpSync(join(repoRoot, part), join(copy, part), {recursive: true})
      symlinkSync(join(repoRoot, 'node_modules'), join(copy, 'node_modules'), 'dir')
      const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: object}
      writeFileSync(join(copy, 'oclif.manifest.json'), JSON.stringify({...manifest, commands: {}}))
      const run = (args: string[], env: Record<string, string> = {}) =>
        execa('node', [join(copy, 'bin', 'run.js'), ...args], {cwd: repo.dir, reject: false, env: {XDG_CACHE_HOME: home, NO_COLOR: '1', ...env}})
      // Through oclif the command is unknown: the manifest is what oclif reads.
      const viaOclif = await run(['config', 'validate'], {SKYCAP_NO_FAST_PATH: '1'})
      expect(viaOclif.exitCode, viaOclif.stderr).to.equal(2)
      expect(viaOclif.stderr).to.include('is not a skycap command')
      for (const args of [
        ['config', 'validate'],
        ['render', 'staging'],
      ]) {
        const r = await run(args)
        expect(r.exitCode, r.stderr).to.equal(0)
      }
      expect((await run(['config', 'validate'])).stdout).to.match(/skycap\.yaml is valid: app shop/)
      // An oclif hook this path would not run (here an `init` that is not skycap's own) sends every command through oclif.
      const pjson = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')) as {oclif: {hooks: Record<string, string>}}
      pjson.oclif.hooks.init = './dist/commands/_not-found.js'
      writeFileSync(join(copy, 'package.json'), JSON.stringify(pjson))
      const withHook = await run(['config', 'validate'])
      expect(withHook.exitCode, withHook.stderr).to.equal(2)
      expect(withHook.stderr).to.include('is not a skycap command')
    } finally {
      rmSync(copy, {recursive: true, force: true})
    }
  })

  it("runs through oclif every command whose source reads more of oclif's Config than its bin", async () => {
    const dir = join(repoRoot, 'commands')
    const sources = readdirSync(dir, {recursive: true, encoding: 'utf8'}).filter((f) => f.endsWith('.ts') && !f.split('/').some((p) => p.startsWith('_')))
    expect(sources.length).to.be.greaterThan(20)
    const direct: string[] = []
    for (const file of sources) {
      const source = readFileSync(join(dir, file), 'utf8')
      const readsConfig = [...source.matchAll(/this\.config\b(\.\w+)?/g)].some((m) => m[1] !== '.bin')
      const {default: Cmd} = (await import(pathToFileURL(join(repoRoot, 'dist', 'commands', file.replace(/\.ts$/, '.js'))).href)) as {default: {runsWithoutOclifConfig?: boolean}}
      if (Cmd.runsWithoutOclifConfig === true) {
        expect(readsConfig, `${file} reads this.config but runs without oclif's Config`).to.equal(false)
        direct.push(file)
      }
    }
    // The two that read it (help, version) and complete, which is no SkycapCommand, are the only ones left out.
    expect(sources.filter((f) => !direct.includes(f)).sort()).to.deep.equal(['complete.ts', 'help.ts', 'version.ts'])
  })
})
