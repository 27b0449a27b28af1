import {expect} from 'chai'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'

import {repoRoot} from '../helpers/repo.js'

const cpu = process.arch === 'arm64' ? 'arm64' : 'x64'

// scripts/node.sh with fakes at the process boundary: a `node` that reports a chosen version and an `npm` that records
// its arguments and "downloads" a tarball that is not the pinned build. The real download runs in .ci/run.
describe('scripts/node.sh: which Node runs, and what it installs', () => {
  let dir: string
  let bin: string
  let cache: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skycap-node-sh-'))
    bin = join(dir, 'bin')
    cache = join(dir, 'cache')
    mkdirSync(bin)
    const script = (name: string, body: string) => {
      writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`)
      chmodSync(join(bin, name), 0o755)
    }
    // Called as `npm pack --silent --pack-destination DIR SPEC`; prints the tarball's name as npm does.
    script('npm', `echo "$*" >> ${join(dir, 'npm-calls')}\ncd "$4" && echo not-node > x && tar -czf fake.tgz x && rm x && echo fake.tgz`)
    script('node', 'echo "${FAKE_NODE_VERSION}"')
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  const run = (machineNode: string, args: string[]) =>
    execa('bash', [join(repoRoot, 'scripts', 'node.sh'), ...args], {
      reject: false,
      env: {PATH: `${bin}:/usr/bin:/bin`, FAKE_NODE_VERSION: machineNode, SKYCAP_NODE_CACHE: cache, HOME: dir},
    })
  const npmCalls = () => (existsSync(join(dir, 'npm-calls')) ? readFileSync(join(dir, 'npm-calls'), 'utf8').trim().split('\n') : [])

  it("takes the machine's Node when it is of the line asked for, and installs nothing", async () => {
    for (const [version, args] of [
      ['24.1.0', ['--line', '24', '--bin']],
      ['22.13.0', ['--line', '22', '--bin']],
      ['22.13.0', ['--bin']],
      ['26.0.0', ['--bin']],
    ] as const) {
      const r = await run(version, [...args])
      expect(r.exitCode, `${version} ${args.join(' ')}`).to.equal(0)
      expect(r.stdout, `${version} ${args.join(' ')}`).to.equal(bin)
    }
    expect(npmCalls()).to.deep.equal([])
  })

  it('fetches the pinned build when the machine has another line or an older 22, and refuses a tarball whose integrity differs', async () => {
    for (const [version, args, wanted] of [
      ['20.19.0', ['--bin'], `node-linux-${cpu}@24.22.3`],
      ['22.12.0', ['--bin'], `node-linux-${cpu}@24.22.3`],
      ['26.0.0', ['--line', '24', '--bin'], `node-linux-${cpu}@24.22.3`],
      ['24.1.0', ['--line', '22', '--bin'], `node-linux-${cpu}@22.23.5`],
    ] as const) {
      const r = await run(version, [...args])
      expect(r.exitCode, `${version} ${args.join(' ')}`).to.equal(3)
      expect(r.stdout).to.equal('')
      expect(r.stderr).to.contain(`${wanted}: integrity sha512-`)
      expect(r.stderr).to.contain('differs from the pinned')
      expect(npmCalls().pop()).to.match(new RegExp(`^pack --silent --pack-destination \\S+ ${wanted.replaceAll('.', '\\.')}$`))
    }
    // Nothing was unpacked into the cache, and no scratch folder was left behind.
    expect(readdirSync(cache)).to.deep.equal([])
  })

  it('runs the command with the chosen Node first on PATH', async () => {
    const r = await run('24.1.0', ['sh', '-c', 'command -v node'])
    expect(r.exitCode).to.equal(0)
    expect(r.stdout).to.equal(join(bin, 'node'))
  })

  it('refuses a line skycap does not support, and a call without a command', async () => {
    const unsupported = await run('24.1.0', ['--line', '20', 'true'])
    expect(unsupported.exitCode).to.equal(2)
    expect(unsupported.stderr).to.contain('--line 20: skycap supports Node 22 and 24')
    const nothing = await run('24.1.0', [])
    expect(nothing.exitCode).to.equal(2)
    expect(nothing.stderr).to.contain('usage: scripts/node.sh')
  })
})
