import {expect} from 'chai'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {execa} from 'execa'

import {eagerValidator} from '../../src/config/standalone.js'
import {cliPath, repoRoot, TempRepo} from '../helpers/repo.js'

// Records, through Node's module hooks, every file a run of the CLI loads (ES modules and require()).
const RECORD = `data:text/javascript,${encodeURIComponent(`import {registerHooks} from 'node:module'
import {appendFileSync} from 'node:fs'
registerHooks({load(url, context, next) {
  if (url.startsWith('file:') || url.startsWith('node:')) appendFileSync(process.env.SKYCAP_TEST_LOADED, url + '\\n')
  return next(url, context)
}})`)}`

/** The files of the package (paths from its root) that `skycap ARGS` loads. */
async function loadedFiles(args: string[], cwd: string, env: Record<string, string> = {}): Promise<string[]> {
  const {urls, exitCode, stderr} = await loadedUrls(args, cwd, env)
  expect(exitCode, stderr).to.equal(0)
  return urls.filter((url) => url.startsWith('file:')).map((url) => relative(repoRoot, fileURLToPath(url)))
}

/** Every module (file: and node: URLs) `skycap ARGS` loads, whatever it exits with. */
async function loadedUrls(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{urls: string[]; exitCode: number | undefined; stderr: string}> {
  const dir = mkdtempSync(join(tmpdir(), 'skycap-bundle-test-'))
  try {
    const list = join(dir, 'loaded')
    const r = await execa(process.execPath, ['--import', RECORD, cliPath, ...args], {cwd, reject: false, env: {SKYCAP_TEST_LOADED: list, XDG_CACHE_HOME: dir, NO_COLOR: '1', ...env}})
    return {urls: [...new Set(readFileSync(list, 'utf8').trim().split('\n'))], exitCode: r.exitCode, stderr: r.stderr}
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

/** Every JavaScript file of the bundle, relative to dist/cli. */
function bundleFiles(): string[] {
  return readdirSync(join(repoRoot, 'dist', 'cli'), {recursive: true, encoding: 'utf8'}).filter((f) => f.endsWith('.js'))
}

interface Metafile {
  outputs: Record<string, {inputs: Record<string, unknown>}>
}

/** The npm packages whose code a file of the bundle holds. */
function packagesIn(file: string): string[] {
  const meta = JSON.parse(readFileSync(join(repoRoot, 'dist', 'cli-meta.json'), 'utf8')) as Metafile
  const inputs = Object.keys(meta.outputs[file]?.inputs ?? {})
  return inputs.map((i) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(i)?.[1]).filter((p): p is string => p !== undefined)
}

describe('the bundle (dist/cli, scripts/bundle.mjs)', function () {
  this.timeout(60_000)
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.fromFixture('shop')
  })
  after(() => repo.remove())

  it('config validate runs from the bundle: no module of dist/src or node_modules but the generated validator', async () => {
    const files = await loadedFiles(['config', 'validate'], repo.dir)
    expect(files).to.include('bin/run.js')
    expect(files).to.include('dist/cli/commands/config/validate.js')
    expect(files).to.include('dist/src/config/validator.generated.js')
    // The generated validator require()s Ajv's run-time helpers (ucs2length) from the package's dependencies.
    const outside = files.filter((f) => !f.startsWith('dist/cli/') && f !== 'bin/run.js' && f !== 'dist/src/config/validator.generated.js' && !f.startsWith('node_modules/ajv/'))
    expect(outside).to.deep.equal([])
    expect(files.length, files.join('\n')).to.be.below(30)
    // The repository's root is read from the file system (src/vcs/git.ts, topLevelOf): no simple-git, no git process.
    expect(files.flatMap(packagesIn)).not.to.include('simple-git')
  })

  it('deploy --help loads only bin/run.js (the help rendered at build time), and through oclif none of the heavy modules: yaml, liquidjs, simple-git, listr2, ajv, execa', async () => {
    expect(await loadedFiles(['deploy', '--help'], repo.dir)).to.deep.equal(['bin/run.js'])
    const files = await loadedFiles(['deploy', '--help'], repo.dir, {SKYCAP_NO_FAST_PATH: '1'})
    // oclif renders a command's help from the manifest; the command's own module need not load.
    expect(files).to.include('dist/cli/oclif.js')
    const heavy = files.flatMap(packagesIn).filter((p) => ['yaml', 'liquidjs', 'simple-git', 'listr2', 'ajv', 'execa'].includes(p))
    expect(heavy).to.deep.equal([])
    // oclif itself is in the bundle.
    expect(files.flatMap(packagesIn)).to.include('@oclif/core')
    expect(files.filter((f) => f.startsWith('node_modules/'))).to.deep.equal([])
  })

  it('commands that only read the cluster (status, history, lock status, scale, restart, logs) open no repository and load neither node:crypto nor node:zlib', async () => {
    // No cluster here: kubectl finds no current context (exit 2; exit 4 where kubectl is not installed), after
    // everything before the first kubectl call has loaded.
    const env = {KUBECONFIG: join(repo.dir, 'no-such-kubeconfig')}
    for (const args of [
      ['status', 'dev'],
      ['history', 'dev'],
      ['lock', 'status', 'dev'],
      ['scale', 'web', '2', '-e', 'dev'],
      ['restart', 'web', '-e', 'dev'],
      ['logs', 'web', '-e', 'dev'],
    ]) {
      const {urls, exitCode, stderr} = await loadedUrls(args, repo.dir, env)
      expect(exitCode, `${args.join(' ')}: ${stderr}`).to.be.oneOf([2, 4])
      expect(stderr, args.join(' ')).to.match(/no current context|kubectl/)
      const files = urls.filter((u) => u.startsWith('file:')).map((u) => relative(repoRoot, fileURLToPath(u)))
      expect(files.flatMap(packagesIn), args.join(' ')).to.include('execa').and.not.include('simple-git')
      expect(
        urls.filter((u) => ['node:crypto', 'node:zlib'].includes(u)),
        args.join(' '),
      ).to.deep.equal([])
    }
    // The control: a command that renders hashes its config files.
    const render = await loadedUrls(['render', 'dev'], repo.dir)
    expect(render.exitCode, render.stderr).to.equal(0)
    expect(render.urls).to.include('node:crypto')
  })

  it('a command that only reads the cluster, run again on an unchanged skycap.yaml, loads neither the YAML library nor the validator', async () => {
    const cacheHome = mkdtempSync(join(tmpdir(), 'skycap-bundle-cache-'))
    try {
      const env = {KUBECONFIG: join(repo.dir, 'no-such-kubeconfig'), XDG_CACHE_HOME: cacheHome}
      const runs = []
      for (let i = 0; i < 2; i++) runs.push(await loadedUrls(['lock', 'status', 'dev'], repo.dir, env))
      const [first, second] = runs as [Awaited<ReturnType<typeof loadedUrls>>, Awaited<ReturnType<typeof loadedUrls>>]
      const files = (urls: string[]) => urls.filter((u) => u.startsWith('file:')).map((u) => relative(repoRoot, fileURLToPath(u)))
      expect(files(first.urls).flatMap(packagesIn)).to.include('yaml')
      expect(files(first.urls)).to.include('dist/src/config/validator.generated.js')
      expect(files(second.urls).flatMap(packagesIn)).to.include('execa').and.not.include('yaml')
      expect(files(second.urls)).not.to.include('dist/src/config/validator.generated.js')
      // The same answer both times (no cluster here: no current context).
      expect([second.exitCode, second.stderr]).to.deep.equal([first.exitCode, first.stderr])
    } finally {
      rmSync(cacheHome, {recursive: true, force: true})
    }
  })

  it("imports Node's built-ins without ES module facades: --version and config validate load no fs streams", async () => {
    // A facade reads every export of the built-in once: for node:fs that loaded its streams, on every run.
    const hook = `data:text/javascript,${encodeURIComponent(`process.on('exit', () => process.getBuiltinModule('node:fs').writeFileSync(process.env.SKYCAP_TEST_LOADED, process.moduleLoadList.join('\\n')))`)}`
    const dir = mkdtempSync(join(tmpdir(), 'skycap-bundle-test-'))
    try {
      for (const args of [['--version'], ['config', 'validate']]) {
        const list = join(dir, 'loaded')
        const r = await execa(process.execPath, ['--import', hook, cliPath, ...args], {cwd: repo.dir, reject: false, env: {SKYCAP_TEST_LOADED: list, XDG_CACHE_HOME: dir}})
        expect(r.exitCode, r.stderr).to.equal(0)
        const loaded = readFileSync(list, 'utf8').split('\n')
        expect(loaded, args.join(' ')).to.include('NativeModule fs')
        expect(loaded, args.join(' ')).not.to.include('NativeModule internal/fs/streams')
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
    // Every chunk's static imports of built-ins became require() calls (scripts/bundle.mjs, builtinRequires).
    for (const file of bundleFiles()) expect(readFileSync(join(repoRoot, 'dist', 'cli', file), 'utf8'), file).not.to.match(/\bimport[^;]*from\s*"node:/)
  })

  it("evaluates only the part of oclif a command uses: config validate loads none of the built-ins of oclif's Config, parser stdin, performance marks or debug output; lock status creates no process.stdin", async () => {
    // oclif's index required all of oclif when its chunk loaded (scripts/lazy-requires.mjs), and the `debug` package
    // loaded node:tty for a logger that writes nothing without DEBUG (commands/_run.ts).
    const hook = `data:text/javascript,${encodeURIComponent(`process.on('exit', () => process.getBuiltinModule('node:fs').writeFileSync(process.env.SKYCAP_TEST_LOADED, process.moduleLoadList.join('\\n')))`)}`
    const dir = mkdtempSync(join(tmpdir(), 'skycap-bundle-test-'))
    try {
      const list = join(dir, 'loaded')
      const run = async (env: Record<string, string>) => {
        const r = await execa(process.execPath, ['--import', hook, cliPath, 'config', 'validate'], {cwd: repo.dir, reject: false, env: {SKYCAP_TEST_LOADED: list, XDG_CACHE_HOME: dir, ...env}})
        expect(r.exitCode, r.stderr).to.equal(0)
        return {loaded: readFileSync(list, 'utf8').split('\n'), stderr: r.stderr}
      }
      const {loaded} = await run({})
      expect(loaded).to.include('NativeModule fs')
      for (const builtin of ['readline', 'perf_hooks', 'child_process', 'tty']) expect(loaded).not.to.include(`NativeModule ${builtin}`)
      // execa compared every stdio value with process.stdin, which made Node create that stream (fs streams for
      // /dev/null) on each command that runs kubectl (scripts/bundle.mjs, SOURCE_PATCHES).
      const lock = await execa(process.execPath, ['--import', hook, cliPath, 'lock', 'status', 'dev'], {
        cwd: repo.dir,
        reject: false,
        stdin: 'ignore',
        env: {SKYCAP_TEST_LOADED: list, XDG_CACHE_HOME: dir, KUBECONFIG: join(repo.dir, 'no-such-kubeconfig')},
      })
      expect(lock.exitCode, lock.stderr).to.be.oneOf([2, 4])
      expect(readFileSync(list, 'utf8').split('\n')).to.include('NativeModule child_process').and.not.include('NativeModule internal/fs/streams')
      // With DEBUG, oclif's own debug lines are there as before.
      const debug = await run({DEBUG: 'oclif:*'})
      expect(debug.stderr).to.match(/oclif:skycap:config:validate init version/)
      expect(debug.loaded).to.include('NativeModule tty')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('every file of the bundle loads: chunks that are imported only on some paths (listr2, log-update) too', async () => {
    // A chunk that throws while loading can go unseen: listr2's renderer failing left a deploy without its live view.
    const files = bundleFiles()
    expect(files.length).to.be.greaterThan(50)
    const script = `const failed = []
for (const f of ${JSON.stringify(files)}) {
  try { await import(new URL(f, ${JSON.stringify(pathToFileURL(join(repoRoot, 'dist', 'cli')).href + '/')})) } catch (e) { failed.push(f + ': ' + e.message) }
}
console.log(JSON.stringify(failed))`
    const r = await execa(process.execPath, ['--input-type=module', '-e', script], {cwd: repoRoot})
    expect(JSON.parse(r.stdout)).to.deep.equal([])
  })

  it('oclif sorts command ids by code unit (scripts/bundle.mjs), which orders every id as localeCompare did', () => {
    const ids = Object.keys((JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}).commands)
    expect(ids.length).to.be.above(20)
    const byUnit = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    expect(byUnit).to.deep.equal([...ids].sort((a, b) => a.localeCompare(b)))
    // The patch is in the bundle (a build with an @oclif/core that no longer has the line fails).
    const chunks = join(repoRoot, 'dist', 'cli', 'chunks')
    const oclif = readdirSync(chunks).filter((f) => readFileSync(join(chunks, f), 'utf8').includes('.sort((a,b)=>a.id<b.id?-1:a.id>b.id?1:0)'))
    expect(oclif).to.have.length(1)
  })

  it('the manifest points oclif at the bundled commands', () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {relativePath: string[]}>}
    const paths = Object.values(manifest.commands).map((c) => c.relativePath.join('/'))
    expect(paths).to.include('dist/cli/commands/config/validate.js')
    expect(paths.filter((p) => !p.startsWith('dist/cli/commands/'))).to.deep.equal([])
  })
})

describe('eagerValidator: the generated validator compiled with its module', () => {
  const code = 'const schema11 = {};function validate10(data, {instancePath=""}={}){let errors = 0;return errors === 0;}'
  const exports = 'export const validate = validate10;export default validate10;'

  it('wraps the function in parentheses and moves the exports after it', () => {
    const out = eagerValidator(exports + code)
    expect(out).to.equal('const schema11 = {};var validate10 = (function validate10(data, {instancePath=""}={}){let errors = 0;return errors === 0;});\n' + exports + '\n')
  })

  it('leaves code of another shape as it is', () => {
    expect(eagerValidator(code)).to.equal(code)
    expect(eagerValidator(exports + code + 'function validate10(){}')).to.equal(exports + code + 'function validate10(){}')
  })

  it('the wrapped module still validates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skycap-eager-'))
    try {
      const file = join(dir, 'v.mjs')
      writeFileSync(file, eagerValidator(exports + 'function validate10(data){validate10.errors = null;return typeof data === "object";}'))
      const mod = (await import(file)) as {default: (d: unknown) => boolean; validate: (d: unknown) => boolean}
      expect(mod.default({})).to.equal(true)
      expect(mod.validate(1)).to.equal(false)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
