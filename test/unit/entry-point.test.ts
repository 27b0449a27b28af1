import {expect} from 'chai'
import {existsSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'

import {cliPath, runCli, TempRepo} from '../helpers/repo.js'

/** Every file under `dir`, recursively (Node keeps its cache in a subdirectory per Node version). */
const filesUnder = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir, {recursive: true, withFileTypes: true})
        .filter((e) => e.isFile())
        .map((e) => e.name)
    : []

describe('bin/run.js: the runtime it starts on', () => {
  let cacheHome: string
  beforeEach(() => {
    cacheHome = mkdtempSync(join(tmpdir(), 'skycap-entry-'))
  })
  afterEach(() => rmSync(cacheHome, {recursive: true, force: true}))

  it('keeps the module compile cache in $XDG_CACHE_HOME/skycap/compile-cache', async () => {
    // A topic's help goes through oclif (a command's is printed from dist/help/ without loading it).
    const r = await runCli(['lock', '--help'], {env: {XDG_CACHE_HOME: cacheHome}})
    expect(r.exitCode).to.equal(0)
    // The bundle's files (dist/cli: the entry, oclif's chunk, the command) were compiled and cached.
    expect(filesUnder(join(cacheHome, 'skycap', 'compile-cache')).length).to.be.at.least(3)
    expect(readdirSync(cacheHome)).to.deep.equal(['skycap'])
  })

  it('writes no cache with SKYCAP_NO_COMPILE_CACHE=1, and prints the same', async () => {
    const cached = await runCli(['lock', '--help'], {env: {XDG_CACHE_HOME: cacheHome}})
    rmSync(join(cacheHome, 'skycap'), {recursive: true, force: true})
    const uncached = await runCli(['lock', '--help'], {env: {XDG_CACHE_HOME: cacheHome, SKYCAP_NO_COMPILE_CACHE: '1'}})
    expect(uncached.exitCode).to.equal(0)
    expect(uncached.stdout).to.equal(cached.stdout)
    expect(existsSync(join(cacheHome, 'skycap'))).to.equal(false)
  })

  it('runs when the cache directory cannot be created (a file is in its way)', async () => {
    // A topic's help: oclif and the bundle load (and would be cached).
    const r = await runCli(['config', '--help'], {env: {XDG_CACHE_HOME: cliPath}})
    expect(r.exitCode).to.equal(0)
    expect(r.stdout).to.contain('config validate  Check skycap.yaml')
    expect(r.stderr).to.equal('')
  })

  it('runs when mkdir cannot create the cache folder under one that exists (/proc), instead of hanging', async function () {
    if (!existsSync('/proc/self')) this.skip()
    // Node's recursive mkdir loops forever on ENOENT under an existing folder: render (the config cache too) hung.
    const repo = await TempRepo.fromFixture('shop')
    try {
      const r = await runCli(['render', 'staging'], {cwd: repo.dir, env: {XDG_CACHE_HOME: '/proc/skycap-no-such-folder'}, timeout: 15_000})
      expect(r.exitCode, r.stderr).to.equal(0)
      expect(r.stdout).to.contain('kind: Deployment')
      expect(r.stderr).to.equal('')
    } finally {
      repo.remove()
    }
  })

  // The version check must run before anything a newer Node is needed for; an older Node is simulated by reporting
  // another version before bin/run.js starts (the machine's own Node may well be new).
  for (const version of ['20.19.0', '22.12.0']) {
    it(`refuses Node ${version} with one sentence naming the supported lines, exit 1`, async () => {
      const pretend = `data:text/javascript,Object.defineProperty(process.versions,"node",{value:"${version}"})`
      const r = await execa(process.execPath, ['--import', pretend, cliPath, 'render', 'staging'], {reject: false, env: {XDG_CACHE_HOME: cacheHome}})
      expect(r.exitCode).to.equal(1)
      expect(r.stdout).to.equal('')
      expect(r.stderr).to.contain(`skycap needs Node.js 22.13 or newer (the 22 and 24 LTS lines); this is v${version}.`)
      expect(r.stderr).to.contain('scripts/node.sh')
      expect(existsSync(join(cacheHome, 'skycap')), 'nothing ran before the check').to.equal(false)
    })
  }

  // dist/help.txt is rendered by the Node that built it; the package may run on the other line.
  it('--help names the Node it runs on, as --version does, not the Node of the build', async () => {
    const pretend = 'data:text/javascript,Object.defineProperty(process,"version",{value:"v26.1.2"})'
    for (const flag of ['--help', '--version']) {
      const r = await execa(process.execPath, ['--import', pretend, cliPath, flag], {reject: false})
      expect(r.exitCode, flag).to.equal(0)
      expect(r.stdout, flag).to.match(/^(VERSION\n {2})?skycap\/\S+ \S+ node-v26\.1\.2$/m)
    }
  })

  it('starts on Node 22.13', async () => {
    const pretend = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"22.13.0"})'
    const r = await execa(process.execPath, ['--import', pretend, cliPath, '--version'], {reject: false})
    expect(r.exitCode).to.equal(0)
    expect(r.stdout).to.match(/^skycap\/\S+ /)
  })

  // `skycap render staging | kubectl apply -f -` where kubectl stops early, `skycap lock --help | head -1`: oclif's
  // last flush of stdout then waits for a 'drain' that never comes; at the top level of bin/run.js that ended in
  // "unsettled top-level await" and exit 13.
  it("exits with the command's own code when the reader of its stdout has gone", async () => {
    const repo = await TempRepo.fromFixture('shop')
    try {
      for (const [args, code] of [
        ['lock --help', 0],
        ['help lock', 0],
        ['render staging', 0],
        ['config validate --json', 0],
        ['render nope', 2],
      ] as const) {
        // `true` exits at once, before Node has started: every write to the pipe fails with EPIPE.
        const r = await execa('bash', ['-c', `"$0" "$1" ${args} | true; echo "\${PIPESTATUS[0]}"`, process.execPath, cliPath], {cwd: repo.dir, env: {XDG_CACHE_HOME: cacheHome}})
        expect({exit: r.stdout.trim(), unsettled: r.stderr.includes('unsettled')}, args).to.deep.equal({exit: String(code), unsettled: false})
      }
    } finally {
      repo.remove()
    }
  })

  // `skycap diff > f` of no changes on a full disk exited 1, which for diff says "there are changes".
  it('a command whose exit 1 means something (diff) exits 2 when its stdout is lost, and keeps an error code above 1', async () => {
    const guard = new URL('../../commands/_lost-output.js', import.meta.url).href
    const exits: Record<string, number> = {}
    for (const own of [0, 1, 4, 70]) {
      for (const diffLike of [true, false]) {
        const script = `const g = await import(${JSON.stringify(guard)}); g.keepGoingWithoutReaders(); ${diffLike ? 'g.lostOutputExitsWith(2);' : ''} process.stdout.write('x'.repeat(10)); setTimeout(() => process.exit(${own}), 50)`
        const r = await execa('bash', ['-c', `"$0" --input-type=module -e "$1" > /dev/full`, process.execPath, script], {reject: false})
        exits[`${diffLike ? 'diff' : 'other'} ${own}`] = r.exitCode ?? -1
      }
    }
    expect(exits).to.deep.equal({'diff 0': 2, 'diff 1': 2, 'diff 4': 4, 'diff 70': 70, 'other 0': 1, 'other 1': 1, 'other 4': 4, 'other 70': 70})
  })

  // A full disk (ENOSPC) crashed with oclif's throw: 48 KB of the bundle's source and a stack, exit 1.
  it("a stdout that cannot be written (/dev/full) is one line on stderr and exit 1, or the command's own failure code", async () => {
    const repo = await TempRepo.fromFixture('shop')
    try {
      for (const [args, code] of [
        ['render staging', 1],
        ['config validate --json', 1],
        ['render nope --json', 2],
        // Help and the version, printed before oclif loads or by oclif itself, exited 0 without a word.
        ['--help', 1],
        ['deploy --help', 1],
        ['help deploy', 1],
        ['-v', 1],
        ['version', 1],
        ['lock', 1],
        ['lock --help', 1],
        ['help', 1],
      ] as const) {
        const r = await execa('bash', ['-c', `"$0" "$1" ${args} > /dev/full`, process.execPath, cliPath], {cwd: repo.dir, env: {XDG_CACHE_HOME: cacheHome}, reject: false})
        expect(r.exitCode, `${args}: ${r.stderr}`).to.equal(code)
        expect(r.stderr, args).to.not.match(/\bat \S+ \(|node:internal|Node\.js v/)
        // A failure's JSON document is written as the process exits: the write's error comes too late to be said.
        if (code === 1) {
          expect(r.stderr.split('\n').at(-1), args).to.match(/^Error: the output on stdout was lost: ENOSPC: no space left on device, write(; the command's own work went on to its end)?$/)
          expect(r.stderr.match(/was lost/g), args).to.have.lengthOf(1)
        }
      }
    } finally {
      repo.remove()
    }
  })
})
