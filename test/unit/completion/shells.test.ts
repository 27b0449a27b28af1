import {expect} from 'chai'
import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'

import {cliPath, TempRepo} from '../../helpers/repo.js'

/**
 * The completion scripts loaded in the real shells (bash, and zsh and fish from Debian, which test/cluster/build.sh
 * installs), each completing in a copy of the shop fixture (environments dev, staging, prod; services web, worker,
 * cache) through the built CLI found on PATH as `skycap`.
 */
describe('shell completion in real bash, zsh and fish (built CLI)', function () {
  let repo: TempRepo
  let bin: string
  before(async () => {
    repo = await TempRepo.fromFixture('shop')
    bin = mkdtempSync(join(tmpdir(), 'skycap-bin-'))
    writeFileSync(join(bin, 'skycap'), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`)
    chmodSync(join(bin, 'skycap'), 0o755)
  })
  after(() => {
    repo.remove()
    rmSync(bin, {recursive: true, force: true})
  })

  /** Runs `script` in `shell` (no user rc files) in the app folder, with the CLI on PATH; fails on a non-zero exit. */
  async function shell(name: string, args: string[], script: string, timeout = 60_000): Promise<string> {
    const which = await execa('sh', ['-c', `command -v ${name}`], {reject: false})
    if (which.exitCode !== 0) throw new Error(`${name} is not installed: test/cluster/build.sh installs it (Debian package ${name})`)
    const r = await execa(name, [...args, script], {cwd: repo.dir, env: {PATH: `${bin}:${process.env.PATH}`, NO_COLOR: '1'}, reject: false, timeout})
    expect(r.exitCode, `${name}: ${r.stderr}`).to.equal(0)
    return r.stdout
  }

  const bashCase = (...words: string[]) =>
    `COMP_WORDS=(skycap ${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length}; COMP_LINE="\${COMP_WORDS[*]}"; COMP_POINT=\${#COMP_LINE}
_skycap_complete; echo "[$(IFS=,; echo "\${COMPREPLY[*]}")]"`

  it('bash: `complete -p` names the function, which completes environments, services, commands and flags', async () => {
    const script = [
      'source <(skycap completion bash)',
      'complete -p skycap',
      bashCase('deploy', ''),
      bashCase('deploy', 'st'),
      bashCase('logs', ''),
      bashCase('logs', 'web', '-e', 'pr'),
      bashCase('lock', ''),
      bashCase('deploy', '--dry'),
      bashCase('depl'),
    ].join('\n')
    const out = (await shell('bash', ['--norc', '--noprofile', '-c'], script)).split('\n')
    expect(out).to.deep.equal(['complete -F _skycap_complete skycap', '[dev,staging,prod]', '[staging]', '[web,worker,cache]', '[prod]', '[acquire,release,status]', '[--dry-run]', '[deploy]'])
  })

  it('zsh: after compinit the script registers _skycap for skycap, and it offers environments and services', async () => {
    // compadd is captured (a function shadows the builtin): it prints the words the script offers.
    const call = (...words: string[]) => `words=(skycap ${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length + 1}; _skycap; print -r -- "--"`
    const script = [
      'autoload -Uz compinit && compinit -u -D',
      'eval "$(skycap completion zsh)"',
      'print -r -- "registered: $_comps[skycap]"',
      'compadd() { local name=${@[-1]}; print -r -- "${(j:,:)${(@P)name}}" }',
      call('deploy', ''),
      call('logs', ''),
      call('promote', '-e', 'prod', ''),
      call('rollout', ''),
    ].join('\n')
    const out = (await shell('zsh', ['-f', '-c'], script)).split('\n')
    expect(out).to.deep.equal(['registered: _skycap', 'dev,staging,prod', '--', 'web,worker,cache', '--', 'web,worker,cache', '--', 'resume,status', '--'])
  })

  it('zsh: in an interactive zsh on a pseudo-terminal (zpty), TAB lists environments and services', async function () {
    this.timeout(120_000)
    // Each session types a line and TAB into a real zle, then reads the terminal until the last candidate shows; a
    // completion that does not work never shows it and the shell is killed by the timeout (the test fails).
    const session = (line: string, last: string) => `zpty z zsh -f -i
zpty -w z 'PS1="> "; autoload -Uz compinit && compinit -u -D; eval "$(skycap completion zsh)"; echo RE""ADY'
zpty -r z out '*READY*'
zpty -w -n z $'${line}\\t'
zpty -r z out '*${last}*'
print -r -- "$out"
zpty -d z`
    const script = ['zmodload zsh/zpty', session('skycap deploy ', 'staging -- environment'), 'print -- "==="', session('skycap logs -e prod ', 'worker -- service')].join('\n')
    const out = (await shell('zsh', ['-f', '-c'], script, 90_000)).replaceAll(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replaceAll('\r', '')
    const [environments, services] = out.split('===')
    expect(environments).to.contain('dev -- environment').and.contain('prod -- environment').and.contain('staging -- environment')
    expect(services).to.contain('cache -- service').and.contain('web -- service').and.contain('worker -- service').and.not.contain('environment')
  })

  it('fish: `complete -C` offers environments and services with their descriptions', async () => {
    const script = ['skycap completion fish | source', "complete -C 'skycap deploy '", 'echo x', "complete -C 'skycap logs w'", 'echo x', "complete -C 'skycap status --env s'"].join('; ')
    const out = (await shell('fish', ['--no-config', '-c'], script)).split('\n')
    expect(out).to.deep.equal(['dev\tenvironment', 'prod\tenvironment', 'staging\tenvironment', 'x', 'web\tservice', 'worker\tservice', 'x', 'staging\tenvironment'])
  })
})
