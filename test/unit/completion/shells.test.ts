import {expect} from 'chai'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'

import {cliPath, repoRoot, TempRepo} from '../../helpers/repo.js'

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
      bashCase('--'),
    ].join('\n')
    const out = (await shell('bash', ['--norc', '--noprofile', '-c'], script)).split('\n')
    expect(out).to.deep.equal([
      'complete -F _skycap_complete skycap',
      '[dev,staging,prod]',
      '[staging]',
      '[web,worker,cache]',
      '[prod]',
      '[acquire,release,status]',
      '[--dry-run]',
      '[deploy]',
      '[--help,--version]',
    ])
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

  /**
   * Each line typed into an interactive `shell` on a pseudo-terminal (zpty), TAB pressed, then the line as the shell
   * left it (run as `echo LINEX: … ENDX`): what a user gets. A TAB that completes nothing leaves the line as typed.
   */
  async function typed(start: string, setup: string, lines: string[]): Promise<string[]> {
    const script = `zmodload zsh/zpty
zpty z ${start}
zpty -w z '${setup}; echo RE""ADY'
zpty -r z out '*READY*'
for line in ${lines.map((l) => `'${l}'`).join(' ')}; do
  zpty -w -n z "$line"$'\t'
  zpty -w -n z $'\x01echo LINE""X: \x05 END""X\n'
  zpty -r z out '*LINEX:*ENDX*'
  print -r -- "\${\${out##*LINEX: }%%ENDX*}"
done
zpty -d z`
    return (await shell('zsh', ['-f', '-c'], script, 90_000)).split('\n').map((l) => l.trimEnd())
  }

  // --flag=value, for each flag whose values complete: environments, services, option values, file names.
  const FLAG_EQUALS = [
    ['skycap deploy --env=st', 'skycap deploy --env=staging'],
    ['skycap deploy --environment=pr', 'skycap deploy --environment=prod'],
    ['skycap logs -e=st', 'skycap logs -e=staging'],
    ['skycap render -s=wo', 'skycap render -s=worker'],
    ['skycap build --service=wo', 'skycap build --service=worker'],
    ['skycap build --builder=d', 'skycap build --builder=docker'],
    ['skycap init --ci=gitl', 'skycap init --ci=gitlab'],
    ['skycap deploy --config=sky', 'skycap deploy --config=skycap.yaml'],
    ['skycap render --output-dir=de', 'skycap render --output-dir=deploy/'],
    ['skycap status --config=skycap.yaml --env=pr', 'skycap status --config=skycap.yaml --env=prod'],
  ]

  it('bash: on a pseudo-terminal (zpty), TAB completes the value of --flag=value (readline splits it at the =)', async function () {
    this.timeout(120_000)
    const out = await typed(
      'bash --norc --noprofile -i',
      'PS1="> "; source <(skycap completion bash)',
      FLAG_EQUALS.map(([line]) => line as string),
    )
    expect(out).to.deep.equal(FLAG_EQUALS.map(([, completed]) => completed))
  })

  it('zsh: on a pseudo-terminal (zpty), TAB completes the value of --flag=value', async function () {
    this.timeout(120_000)
    const setup = 'PS1="> "; bindkey -e; autoload -Uz compinit && compinit -u -D; eval "$(skycap completion zsh)"'
    const out = await typed(
      'zsh -f -i',
      setup,
      FLAG_EQUALS.map(([line]) => line as string),
    )
    // zsh takes back the / after a folder when the next thing typed is a space.
    expect(out).to.deep.equal(FLAG_EQUALS.map(([, completed]) => (completed as string).replace(/\/$/, '')))
  })

  it('bash and zsh: names come from a --config typed with a backslash or quotes (as both shells hand the word over)', async () => {
    mkdirSync(join(repo.dir, 'my app'), {recursive: true})
    writeFileSync(join(repo.dir, 'my app/skycap.yaml'), 'app: other\nservices:\n  api: {image: api}\nenvironments:\n  qa: {namespace: other-qa}\n')
    try {
      const bash = ['source <(skycap completion bash)', bashCase('status', '--config', 'my\\ app/skycap.yaml', ''), bashCase('status', '--config', '"my app/skycap.yaml"', '')].join('\n')
      expect((await shell('bash', ['--norc', '--noprofile', '-c'], bash)).split('\n')).to.deep.equal(['[qa]', '[qa]'])
      const call = (...words: string[]) => `words=(skycap ${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length + 1}; _skycap; print -r -- "--"`
      const zsh = [
        'autoload -Uz compinit && compinit -u -D',
        'eval "$(skycap completion zsh)"',
        'compadd() { local name=${@[-1]}; print -r -- "${(j:,:)${(@P)name}}" }',
        call('status', '--config', 'my\\ app/skycap.yaml', ''),
      ].join('\n')
      expect((await shell('zsh', ['-f', '-c'], zsh)).split('\n')).to.deep.equal(['qa', '--'])
    } finally {
      rmSync(join(repo.dir, 'my app'), {recursive: true, force: true})
    }
  })

  it('bash and zsh: the completion functions, called with the words as each shell splits --env=, offer the values', async () => {
    const bash = ['source <(skycap completion bash)', bashCase('deploy', '--env', '=', 'st'), bashCase('deploy', '--env', '='), bashCase('render', '-s', '=', 'w')].join('\n')
    expect((await shell('bash', ['--norc', '--noprofile', '-c'], bash)).split('\n')).to.deep.equal(['[staging]', '[dev,staging,prod]', '[web,worker]'])
    const call = (...words: string[]) => `words=(skycap ${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length + 1}; _skycap; print -r -- "--"`
    const zsh = [
      'autoload -Uz compinit && compinit -u -D',
      'eval "$(skycap completion zsh)"',
      'compadd() { local name=${@[-1]}; print -r -- "${(j:,:)${(@P)name}}" }',
      call('deploy', '--env=st'),
      call('logs', '-e='),
    ].join('\n')
    expect((await shell('zsh', ['-f', '-c'], zsh)).split('\n')).to.deep.equal(['dev,staging,prod', '--', 'dev,staging,prod', '--'])
  })

  it('fish: `complete -C` offers environments and services with their descriptions', async () => {
    const script = ['skycap completion fish | source', "complete -C 'skycap deploy '", 'echo x', "complete -C 'skycap logs w'", 'echo x', "complete -C 'skycap status --env s'"].join('; ')
    const out = (await shell('fish', ['--no-config', '-c'], script)).split('\n')
    expect(out).to.deep.equal(['dev\tenvironment', 'prod\tenvironment', 'staging\tenvironment', 'x', 'web\tservice', 'worker\tservice', 'x', 'staging\tenvironment'])
  })

  it('fish: every command and topic offered comes with its summary, the topics with their description in package.json', async () => {
    const out = (await shell('fish', ['--no-config', '-c'], "skycap completion fish | source; complete -C 'skycap '; echo x; complete -C 'skycap help '")).split('\n')
    const topics = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {oclif: {topics: Record<string, {description: string}>}}).oclif.topics
    for (const part of out.join('\n').split('\nx\n')) {
      const lines = part.split('\n').filter(Boolean)
      expect(lines.length).to.be.greaterThan(20)
      for (const line of lines) expect(line, 'a word without a description').to.match(/^[a-z-]+\t\S/)
      for (const [topic, {description}] of Object.entries(topics)) expect(lines).to.include(`${topic}\t${description}`)
    }
  })

  it('fish: `complete -C` completes the value of --flag=value, as the whole word', async () => {
    const lines = FLAG_EQUALS.map(([line]) => `complete -C '${line}'`)
    const out = (await shell('fish', ['--no-config', '-c'], ['skycap completion fish | source', ...lines.flatMap((l) => [l, 'echo x'])].join('; '))).split('\n')
    const words = (line: string) => line.split('\t')[0]
    const groups = out
      .join('\n')
      .split('\nx')
      .map((g) => g.split('\n').filter(Boolean).map(words))
    expect(groups.slice(0, FLAG_EQUALS.length)).to.deep.equal(FLAG_EQUALS.map(([, completed]) => [(completed as string).split(' ').at(-1)]))
  })
})
