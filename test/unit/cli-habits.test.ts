import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {execa} from 'execa'

import {parseJson, repoRoot, runCli, TempRepo} from '../helpers/repo.js'

/** The habits of kubectl, helm and skaffold (issue 17, part 5), through the built CLI on the shop fixture. */
describe('CLI habits (built CLI)', function () {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.fromFixture('shop')
  })
  after(() => repo.remove())
  const cli = (...args: string[]) => runCli(args, {cwd: repo.dir})

  describe('help and version', () => {
    it('`help CMD` and `help TOPIC CMD` print what `CMD --help` prints', async () => {
      for (const words of [['deploy'], ['lock', 'acquire'], ['config', 'validate'], ['lock']]) {
        const viaHelp = await cli('help', ...words)
        const viaFlag = await cli(...words, '--help')
        expect(viaHelp.exitCode, words.join(' ')).to.equal(0)
        expect(viaHelp.stdout, words.join(' '))
          .to.equal(viaFlag.stdout)
          .and.contain(`$ skycap ${words.join(' ')}`)
      }
      const root = await cli('help')
      expect(root.exitCode).to.equal(0)
      expect(root.stdout)
        .to.match(/deploy +Deploy ENV at a revision/)
        .and.match(/completion +Print the shell completion script/)
    })

    it('`help` of a mistyped command exits 2 with the closest command', async () => {
      const r = await cli('help', 'lock', 'aquire')
      expect(r.exitCode).to.equal(2)
      expect(r.stderr).to.contain('lock aquire is not a skycap command; did you mean skycap lock acquire?')
      expect(r.stdout).to.equal('')
      const extra = await cli('help', 'lock', 'acquire', 'extra')
      expect(extra.exitCode).to.equal(2)
      expect(extra.stderr).to.contain('help takes a command\'s name; "extra" is not part of skycap lock acquire').and.contain('Run `skycap help lock acquire`')
    })

    it('`version`, `-v` and `--version` print the same line', async () => {
      const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'))
      const outputs = await Promise.all([cli('version'), cli('-v'), cli('--version')])
      for (const r of outputs) expect(r.exitCode).to.equal(0)
      expect(outputs[0]?.stdout).to.match(new RegExp(`^skycap/${pkg.version.replaceAll('.', '\\.')} \\S+ node-v\\d+`))
      expect(outputs.map((r) => r.stdout)).to.deep.equal(Array(3).fill(outputs[0]?.stdout))
      const json = await cli('version', '--json')
      expect(parseJson(json.stdout).result).to.include({name: 'skycap', version: pkg.version, node: process.version})
      // -v --json and --version --json are the same document (they printed the plain line).
      for (const argv of [
        ['-v', '--json'],
        ['--json', '--version'],
      ])
        expect(parseJson((await cli(...argv)).stdout), argv.join(' ')).to.deep.equal(parseJson(json.stdout))
    })
  })

  describe('did you mean', () => {
    it('a mistyped command exits 2 naming the closest one, in one JSON document with --json', async () => {
      for (const [typed, said] of [
        [['deplyo'], 'deplyo is not a skycap command; did you mean skycap deploy?'],
        [['deplyo', 'prod', '--yes'], 'deplyo is not a skycap command; did you mean skycap deploy?'],
        [['lock', 'aquire', 'prod'], 'lock aquire is not a skycap command; did you mean skycap lock acquire?'],
        [['frobnicate'], 'frobnicate is not a skycap command'],
      ] as const) {
        const r = await cli(...typed)
        expect(r.exitCode, typed.join(' ')).to.equal(2)
        expect(r.stderr).to.contain(said).and.contain('Run `skycap --help` for the list of commands.')
      }
      const json = await cli('deplyo', '--json')
      expect(json.exitCode).to.equal(2)
      expect(parseJson(json.stdout)).to.deep.include({ok: false, exitCode: 2})
      expect(parseJson(json.stdout).error).to.deep.include({code: 'invalid_input', message: 'deplyo is not a skycap command; did you mean skycap deploy?'})
    })

    it("a topic given flags but no command exits 2 naming its commands (it printed the topic's help, exit 0); a word after a command that takes none is said so", async () => {
      for (const typed of [
        ['lock', '--bogus'],
        ['lock', '--json', '-x'],
        ['config', '-q'],
      ]) {
        const r = await cli(...typed)
        expect(r.exitCode, typed.join(' ')).to.equal(2)
        expect(r.stdout, typed.join(' ')).to.not.contain('USAGE')
      }
      const lock = await cli('lock', '--bogus')
      expect(lock.stderr).to.contain('Error: lock --bogus: lock is a group of commands; name one of them first: lock acquire, lock release, lock status').and.contain('Run `skycap lock --help`')
      const json = await cli('lock', '--json', '-x')
      expect(parseJson(json.stdout).error).to.deep.include({
        code: 'invalid_input',
        message: 'lock --json -x: lock is a group of commands; name one of them first: lock acquire, lock release, lock status',
      })
      // The topic alone, or with a help flag, is still its help.
      for (const typed of [['lock'], ['lock', '--help'], ['lock', '-h']]) {
        const r = await cli(...typed)
        expect([r.exitCode, r.stdout.includes('lock acquire')], typed.join(' ')).to.deep.equal([0, true])
      }
      const sub = await cli('lock', 'bogus')
      expect(sub.exitCode).to.equal(2)
      expect(sub.stderr).to.contain('lock bogus is not a skycap command').and.contain("lock's commands: lock acquire, lock release, lock status (`skycap lock --help`).")
      const extra = await cli('version', 'extra')
      expect(extra.exitCode).to.equal(2)
      expect(extra.stderr).to.contain('skycap version takes no arguments; extra is not one').and.contain('Run `skycap version --help`')
      // A topic's command that takes none (it said "config validate is not a skycap command").
      for (const command of ['config validate', 'config schema']) {
        const r = await cli(...command.split(' '), 'extra')
        expect(r.exitCode, command).to.equal(2)
        expect(r.stderr).to.contain(`skycap ${command} takes no arguments; extra is not one`).and.contain(`Run \`skycap ${command} --help\``)
      }
    })

    it('a repeatable flag takes one value each time: the argument after it is the command\'s (`build -s web test@HEAD~1` said unknown service "test@HEAD~1"; `logs --grep GET web` took web as a second pattern)', async () => {
      const render = await cli('render', '-s', 'web', 'staging', '--json')
      expect(render.exitCode, render.stderr).to.equal(0)
      expect(parseJson(render.stdout).result).to.include({environment: 'staging'})
      // The environment is read as one (greedy, it was a second service: unknown service "stagin@HEAD").
      const build = await cli('build', '-s', 'web', 'stagin@HEAD', '--json')
      expect(build.exitCode).to.equal(2)
      expect(parseJson(build.stdout).error.message).to.match(/^unknown environment "stagin"/)
      // The service after --grep's pattern is the service (checked before any cluster is asked).
      const logs = await cli('logs', '--grep', 'GET', 'wbe', '-e', 'staging', '--json')
      expect(logs.exitCode).to.equal(2)
      expect(parseJson(logs.stdout).error.message).to.equal('unknown service "wbe"; did you mean "web"?')
    })

    it('a mistyped flag exits 2 naming the closest flag of that command', async () => {
      const r = await cli('deploy', 'staging', '--dry-rn')
      expect(r.exitCode).to.equal(2)
      expect(r.stderr).to.contain('unknown flag --dry-rn; did you mean --dry-run?').and.contain('See `skycap deploy --help` for its flags.')
      const lock = await cli('lock', 'acquire', 'staging', '--reasn', 'x')
      expect(lock.stderr).to.contain('unknown flag --reasn; did you mean --reason?').and.contain('skycap lock acquire --help')
      // kamal's and kubectl's flags, typed out of habit: what skycap calls them (-d suggested --dry-run, -m nothing).
      for (const [args, said] of [
        [['lock', 'acquire', 'staging', '-m', 'x'], 'unknown flag -m; did you mean --reason? (kamal writes the lock message with -m)'],
        [['deploy', '-d', 'staging'], 'unknown flag -d; did you mean -e ENV? (kamal names the destination with -d; skycap calls it the environment)'],
        [['deploy', 'staging', '--version=v2'], 'unknown flag --version; the revision goes with the environment: ENV@REV (skycap deploy prod@v1.4.0)'],
        [['status', '-n', 'shop'], "unknown flag -n; the namespace comes from the environment (skycap.yaml's environments.<env>.namespace): name the environment with -e ENV"],
        // kubectl's flags for where to connect (it said only "unknown flag --context").
        ...(['--context', '--kubeconfig', '--cluster'] as const).map(
          (flag) =>
            [
              ['status', 'staging', flag, 'prod ctx'],
              `unknown flag ${flag}; the kube context comes from the environment (skycap.yaml's environments.<env>.context), else it is the kubeconfig's current one (\`kubectl config use-context NAME\`); for another kubeconfig file, run with KUBECONFIG=FILE`,
            ] as const,
        ),
        [['deploy', 'staging', '--context=prod'], 'unknown flag --context; the kube context comes from the environment'],
      ] as const) {
        const habit = await cli(...args)
        expect(habit.exitCode, args.join(' ')).to.equal(2)
        expect(habit.stderr, args.join(' ')).to.contain(said)
      }
      const json = await cli('render', 'staging', '--show-secret', '--json')
      expect(json.exitCode).to.equal(2)
      expect(parseJson(json.stdout).error.message).to.equal('unknown flag --show-secret; did you mean --show-secrets?')
      // A mistyped letter: the long flag it starts (-v → --verbose), never another letter one edit away (-e).
      expect((await cli('status', '-v')).stderr).to.contain('unknown flag -v; did you mean --verbose?')
      expect((await cli('deploy', '-x')).stderr)
        .to.contain('unknown flag -x')
        .and.not.contain('did you mean')
      // A letter in the wrong case: the flag of that letter (-E gave no suggestion: --env was not alone in starting with e).
      for (const args of [
        ['deploy', '-E', 'staging'],
        ['status', '-E', 'staging'],
        ['logs', 'web', '-E', 'staging'],
      ]) {
        const wrongCase = await cli(...args)
        expect(wrongCase.exitCode, args.join(' ')).to.equal(2)
        expect(wrongCase.stderr, args.join(' ')).to.contain('unknown flag -E; did you mean --env?')
      }
    })

    it('a mistyped environment or service exits 2 naming the closest one', async () => {
      const env = await cli('render', 'prdo')
      expect(env.exitCode).to.equal(2)
      expect(env.stderr).to.contain('unknown environment "prdo"; did you mean "prod"?')
      const flag = await cli('render', '-e', 'stagign')
      expect(flag.stderr).to.contain('unknown environment "stagign"; did you mean "staging"?')
      const service = await cli('render', 'staging', '--service', 'wokrer')
      expect(service.exitCode).to.equal(2)
      expect(service.stderr).to.contain('unknown service "wokrer"; did you mean "worker"?').and.contain('Services of shop: web, worker, cache.')
      const logs = await cli('logs', 'wbe', '-e', 'staging', '--json')
      expect(logs.exitCode).to.equal(2)
      expect(parseJson(logs.stdout).error.message).to.equal('unknown service "wbe"; did you mean "web"?')
    })

    it('an environment given where a service goes says how to pass it', async () => {
      for (const [argv, usage] of [
        [['logs', 'prod'], 'skycap logs SERVICE -e prod'],
        [['scale', 'staging', '3'], 'skycap scale SERVICE N -e staging'],
        [['restart', 'staging'], 'skycap restart -e staging'],
        [['exec', 'prod', '--', 'sh'], 'skycap exec SERVICE -e prod'],
      ] as const) {
        const r = await cli(...argv)
        expect(r.exitCode, argv.join(' ')).to.equal(2)
        expect(r.stderr).to.contain(`${argv[1]} is an environment, not a service of app shop; did you mean \`${usage}\`?`).and.contain('Services of shop: web, worker, cache.')
      }
    })

    it('flags typed before the command: exit 2 with the command line as skycap reads it (JSON with --json), not "--json is not a skycap command"', async () => {
      const json = await cli('--json', 'deploy', 'staging')
      expect(json.exitCode).to.equal(2)
      expect(parseJson(json.stdout).error).to.include({message: 'flags go after the command: --json came before deploy', hint: 'Run `skycap deploy staging --json`.'})
      for (const [argv, message, line] of [
        [['--config', 'skycap.yaml', 'status'], '--config skycap.yaml came before status', 'skycap status --config skycap.yaml'],
        [['-e', 'staging', '--verbose', 'lock', 'status'], '-e staging --verbose came before lock status', 'skycap lock status -e staging --verbose'],
        [['--verbose', 'run', 'web', '--', 'ls'], '--verbose came before run', 'skycap run web --verbose -- ls'],
      ] as const) {
        const r = await cli(...argv)
        expect(r.exitCode, argv.join(' ')).to.equal(2)
        expect(r.stderr, argv.join(' ')).to.contain(`Error: flags go after the command: ${message}\n  Run \`${line}\`.`)
      }
      expect((await cli('-x')).stderr).to.contain('-x is not a skycap command')
    })

    it('a switch given a value (--dry-run=false from a pipeline input, --json=true) is exit 2 naming the switch, not the next argument or an environment "true"', async () => {
      for (const [argv, name, value] of [
        [['deploy', 'staging', '--dry-run=false'], 'dry-run', 'false'],
        [['status', '--json=false'], 'json', 'false'],
        [['status', 'staging', '--verbose=1'], 'verbose', '1'],
      ] as const) {
        const r = await cli(...argv)
        expect(r.exitCode, argv.join(' ')).to.equal(2)
        expect(r.stderr, argv.join(' ')).to.contain(`Error: --${name} takes no value (it was given "${value}"): it is on when given and off when left out`)
      }
      // --json=true asked for JSON: the refusal is one JSON document on stdout (it printed none, and jq got nothing).
      for (const argv of [
        ['status', '--json=true'],
        ['deploy', 'staging', '--json=1'],
      ]) {
        const r = await cli(...argv)
        expect(r.exitCode, argv.join(' ')).to.equal(2)
        const doc = JSON.parse(r.stdout)
        expect(doc).to.deep.include({ok: false, exitCode: 2})
        expect(doc.error.message).to.match(/^--json takes no value \(it was given "(true|1)"\)/)
      }
      // A flag that takes a value keeps its = form, and a word after -- is the command's.
      const valued = await cli('status', '--env=prdo')
      expect(valued.stderr).to.contain('unknown environment "prdo"')
    })

    it('an environment typed after the service of run or exec is refused, not run in the default environment as part of the command', async () => {
      for (const [argv, hint] of [
        [['run', 'web', 'prod', '--', 'ls', '-l'], 'skycap run web -e prod -- ls -l'],
        [['run', 'web', 'prod', 'ls'], 'skycap run web -e prod -- ls'],
        [['exec', 'web', 'staging', '--', 'sh'], 'skycap exec web -e staging -- sh'],
        [['exec', 'web', '-e', 'staging', 'prod', '--', 'sh'], 'skycap exec web -e prod -- sh'],
      ] as const) {
        const r = await cli(argv[0], '--json', ...argv.slice(1))
        expect(r.exitCode, argv.join(' ')).to.equal(2)
        const error = parseJson(r.stdout).error
        expect(error.message, argv.join(' ')).to.equal(`"${argv[2] === '-e' ? 'prod' : argv[2]}" after the service is an environment of shop, not the start of the command; nothing was run`)
        expect(error.hint).to.contain(`Give the environment with -e: ${hint}.`)
      }
    })

    it('an environment where the service goes, beside another environment, is two environments (no did-you-mean -e)', async () => {
      for (const [argv, usage] of [
        [['logs', '-e', 'staging', 'prod'], 'skycap logs SERVICE'],
        [['scale', '-e', 'staging', 'prod', '2'], 'skycap scale SERVICE N'],
        [['exec', '--env', 'staging', 'prod', '--', 'sh'], 'skycap exec SERVICE'],
        [['run', '-e', 'staging', 'prod', '--', 'sh'], 'skycap run SERVICE'],
        [['port-forward', '-e', 'staging', 'prod', '8080'], 'skycap port-forward SERVICE PORTS'],
      ] as const) {
        const r = await cli(...argv)
        expect(r.exitCode, argv.join(' ')).to.equal(2)
        expect(r.stderr, argv.join(' '))
          .to.contain('two environments given: "prod" where the service goes and "staging" with -e')
          .and.contain(`\`${usage} -e staging\` or \`${usage} -e prod\``)
          .and.not.contain('did you mean')
      }
      for (const argv of [
        ['promote', '-e', 'staging', 'prod'],
        ['abort', 'staging', 'prod'],
      ]) {
        const r = await cli(...argv)
        expect(r.exitCode, argv.join(' ')).to.equal(2)
        expect(r.stderr, argv.join(' ')).to.contain('two environments given: "prod" where the service goes and "staging" as the environment')
      }
    })

    it('an empty environment, target, service or flag value is refused, never read as the default', async () => {
      for (const [argv, message] of [
        [['status', '-e', ''], '-e/--env is empty: name an environment'],
        [['deploy', '--env=', '--dry-run'], '-e/--env is empty: name an environment'],
        [['status', ''], 'the ENV argument is empty: name an environment'],
        [['render', ' '], 'the ENV[@REV] argument is empty: name an environment'],
        [['logs', '', '-e', 'dev'], 'the SERVICE argument is empty: name a service'],
        [['config', 'validate', '--config='], '--config is empty: name a skycap.yaml'],
        [['render', 'dev', '-o', ''], '--output-dir is empty: name a folder'],
        [['init', '--dir='], '--dir is empty: name a folder'],
        // Every other flag too: `--to "$TO"` with TO unset rolled back to the previous release.
        [['rollback', 'dev', '--to='], '--to is empty'],
        [['exec', 'web', '-e', 'dev', '--pod', '', '--', 'true'], '--pod is empty'],
        [['logs', 'web', '-e', 'dev', '-c', ''], '-c/--container is empty'],
        [['logs', 'web', '-e', 'dev', '--grep', 'x', '--exclude', ' '], '--exclude is empty'],
        [['render', 'dev', '-s', ''], '-s/--service is empty'],
        [['up', '--cluster='], '--cluster is empty'],
        [['lock', 'acquire', 'dev', '--reason='], '--reason is empty'],
      ] as Array<[string[], string]>) {
        const r = await runCli(argv, {cwd: repo.dir, env: {KUBECONFIG: '/nonexistent'}})
        expect(r.exitCode, argv.join(' ')).to.equal(2)
        expect(r.stderr, argv.join(' ')).to.contain(message)
      }
      const json = parseJson((await cli('status', '-e', '', '--json')).stdout) as {error: {code: string; hint: string}}
      expect(json.error.code).to.equal('invalid_input')
      expect(json.error.hint).to.contain('an unset variable in a script never picks the default')
    })

    it("oclif's parse errors are skycap's: exit 2, code invalid_input, one line, a hint naming the help", async () => {
      for (const [argv, message] of [
        [['logs', 'web', '-e', 'dev', '--tail', 'abc'], '--tail: expected an integer but received: abc'],
        [['logs', 'web', '-e', 'dev', '--tail', '-5'], '--tail: expected an integer greater than or equal to 0'],
        // Beyond what a number holds exactly: kubectl refused it per pod, and skycap exited 0 with no logs.
        [['logs', 'web', '-e', 'dev', '--tail', '99999999999999999999'], '--tail: expected an integer less than or equal to 9007199254740991'],
        [['logs', 'web', '-e', 'dev', '--max-log-requests', '0'], '--max-log-requests: expected an integer greater than or equal to 1'],
        [['completion', 'zsh2'], 'Expected zsh2 to be one of: bash, zsh, fish; did you mean "zsh"?'],
        [['scale'], 'Missing 2 required args: service (Service name from skycap.yaml), replicas (Number of pods)'],
        [['completion'], 'Missing 1 required arg: shell (The shell whose script to print; one of bash|zsh|fish)'],
        [['init', '--ci', 'gitlb'], 'Expected --ci=gitlb to be one of: github, gitlab; did you mean "gitlab"?'],
        [['status', '-e', 'dev', '-e', 'dev'], 'Flag --env can only be specified once'],
      ] as Array<[string[], string]>) {
        const r = await runCli([...argv, '--json'], {cwd: repo.dir, env: {KUBECONFIG: '/nonexistent'}})
        expect(r.exitCode, argv.join(' ')).to.equal(2)
        const doc = parseJson(r.stdout) as {error: {code: string; message: string; hint: string}}
        expect(doc.error.code, argv.join(' ')).to.equal('invalid_input')
        expect(doc.error.message, argv.join(' ')).to.contain(message).and.not.contain('See more help')
        expect(doc.error.hint, argv.join(' ')).to.match(/^See `skycap \S+ --help` for its arguments and flags\.$/)
      }
      // Flags that contradict each other: --watch was dropped without a word, exit 0.
      const both = await runCli(['up', '--detach', '--watch'], {cwd: repo.dir, env: {KUBECONFIG: '/nonexistent'}})
      expect(both.exitCode).to.equal(2)
      expect(both.stderr).to.contain('--detach returns once the app is up, and --watch stays to rebuild on changes: give one of them; nothing was started')
    })

    it('an environment in capitals gets the lowercase name; a bare @ names no revision', async () => {
      const upper = await cli('status', 'DEV')
      expect(upper.exitCode).to.equal(2)
      expect(upper.stderr).to.contain('"DEV" is not a valid target; did you mean "dev"?')
      // Only names skycap.yaml has: WEB is a service (no suggestion), STAGIN is near staging.
      expect((await cli('status', '-e', 'WEB')).stderr).to.contain('"WEB" is not a valid target\n')
      expect((await cli('render', 'STAGIN@HEAD')).stderr).to.contain('"STAGIN@HEAD" is not a valid target; did you mean "staging@HEAD"?')
      const at = await cli('render', '@')
      expect(at.exitCode).to.equal(2)
      expect(at.stderr).to.contain('"@" names no revision after @')
      for (const argv of [
        ['render', 'staging@'],
        ['render', '-e', 'staging', '@'],
      ]) {
        const r = await cli(...argv)
        expect(r.exitCode, argv.join(' ')).to.equal(2)
        expect(r.stderr, argv.join(' ')).to.contain('names no revision after @')
      }
    })

    it('ENV@REV (or ENV@) given to a command that takes no revision: use ENV, and the flag that takes a revision where the command has one', async () => {
      for (const [argv, hint] of [
        [['status', 'dev@'], 'Use dev.'],
        [['status', '-e', 'dev@HEAD'], 'Use dev.'],
        [['history', 'dev@v1.2'], 'Use dev.'],
        [['rollback', 'dev@HEAD~1'], 'Use dev, and the revision with --to (--to HEAD~1).'],
        [['run', 'web', '-e', 'dev@HEAD', '--', 'true'], 'Use dev, and the revision with --rev (--rev HEAD).'],
      ] as Array<[string[], string]>) {
        const r = await runCli([...argv.slice(0, argv.indexOf('--') === -1 ? argv.length : argv.indexOf('--')), '--json', ...(argv.includes('--') ? argv.slice(argv.indexOf('--')) : [])], {
          cwd: repo.dir,
          env: {KUBECONFIG: '/nonexistent'},
        })
        expect(r.exitCode, argv.join(' ')).to.equal(2)
        const doc = parseJson(r.stdout) as {error: {message: string; hint: string}}
        const given = argv.find((a) => a.includes('@'))
        expect(doc.error, argv.join(' ')).to.deep.include({message: `this command takes an environment, not ENV@REV ("${given}")`, hint})
      }
    })

    it('an unknown environment from SKYCAP_ENV says it comes from there', async () => {
      const r = await runCli(['status'], {cwd: repo.dir, env: {SKYCAP_ENV: 'prdo'}})
      expect(r.exitCode).to.equal(2)
      expect(r.stderr).to.contain('unknown environment "prdo"; did you mean "prod"?').and.contain('It comes from SKYCAP_ENV="prdo": set that to one of them, or unset it.')
    })

    it('a lock (or any duration) longer than skycap can wait is refused before the cluster is asked', async () => {
      const r = await runCli(['lock', 'acquire', 'dev', '--duration', '999999999h'], {cwd: repo.dir, env: {KUBECONFIG: '/nonexistent'}})
      expect(r.exitCode).to.equal(2)
      expect(r.stderr).to.contain('--duration is "999999999h", longer than skycap supports (at most 596h)')
    })

    it('a service where the environment goes says it is a service', async () => {
      for (const argv of [
        ['promote', 'web'],
        ['status', 'web'],
        ['rollback', 'web'],
        ['history', '-e', 'worker'],
        ['render', 'cache'],
      ]) {
        const r = await cli(...argv)
        expect(r.exitCode, argv.join(' ')).to.equal(2)
        const name = argv.at(-1) as string
        expect(r.stderr, argv.join(' '))
          .to.contain(`unknown environment "${name}": ${name} is a service of app shop, not an environment`)
          .and.contain('Known environments in skycap.yaml: dev, staging, prod.')
      }
      // The commands that take [ENV] [SERVICE] say how to name the service: with -e.
      for (const argv of [
        ['promote', 'web'],
        ['abort', 'worker'],
        ['rollout', 'status', 'web'],
        ['rollout', 'resume', 'cache'],
      ]) {
        const r = await cli(...argv)
        const name = argv.at(-1) as string
        expect(r.stderr, argv.join(' ')).to.contain(`not an environment; did you mean \`skycap ${argv.slice(0, -1).join(' ')} ${name} -e staging\`?`)
      }
      expect((await cli('status', 'web')).stderr, 'status takes no service').to.not.contain('did you mean')
    })

    it('a mistyped skycap.yaml key exits 2 naming the closest allowed key, at its line', async () => {
      const text = readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')
      repo.write('skycap.yaml', text.replace('    replicas: 1\n    args:', '    replcas: 1\n    args:'))
      try {
        const r = await cli('config', 'validate')
        expect(r.exitCode).to.equal(2)
        expect(r.stderr).to.match(/skycap\.yaml:21:5: unknown key "replcas" in services\.worker \(did you mean "replicas"\?\); allowed keys: /)
      } finally {
        repo.write('skycap.yaml', text)
      }
    })
  })

  describe('--json errors', () => {
    it('logs --json, which prints one object per line, prints its error as one line too (it was an indented document)', async () => {
      const r = await cli('logs', 'nosuch', '--json')
      expect(r.exitCode).to.equal(2)
      const lines = r.stdout.split('\n')
      expect(lines, r.stdout).to.have.length(1)
      expect(JSON.parse(lines[0] as string)).to.deep.include({ok: false, exitCode: 2})
      // Other commands keep the one indented document.
      const status = await cli('status', 'nosuch-env', '--json')
      expect(status.exitCode).to.equal(2)
      expect(status.stdout.split('\n').length).to.be.greaterThan(3)
    })

    it("a command that takes no revision, given no environment, names skycap.yaml's environments (the hint spoke of ENV@REV)", async () => {
      const other = new TempRepo('skycap-noenv-')
      try {
        other.write('skycap.yaml', 'app: shop\nservices:\n  web: {image: web}\nenvironments:\n  staging: {namespace: s}\n  prod: {namespace: p}\n')
        const r = await runCli(['status'], {cwd: other.dir, env: {SKYCAP_ENV: ''}})
        expect(r.exitCode).to.equal(2)
        expect(r.stderr).to.contain('Error: no environment given').and.contain("Name one of skycap.yaml's (staging, prod) as ENV or with -e ENV, or set defaultEnvironment")
        // Commands whose arguments are services take it with -e only: the hint offered them ENV (`logs web prod`).
        for (const argv of [
          ['logs', 'web', 'prod'],
          ['scale', 'web', '2'],
          ['exec', 'web', '--', 'ls'],
        ]) {
          const flagOnly = await runCli(argv, {cwd: other.dir, env: {SKYCAP_ENV: ''}})
          expect(flagOnly.exitCode, argv.join(' ')).to.equal(2)
          expect(flagOnly.stderr, argv.join(' ')).to.contain("Name one of skycap.yaml's (staging, prod) with -e ENV, or set defaultEnvironment")
        }
      } finally {
        other.remove()
      }
    })
  })

  describe('-e/--env', () => {
    it('every command that takes an environment accepts -e, --env and --environment', () => {
      const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {
        commands: Record<string, {args: Record<string, unknown>; flags: Record<string, {char?: string; aliases?: string[]}>}>
      }
      const takingEnvironment = Object.entries(manifest.commands).filter(([, c]) => 'environment' in c.args || 'target' in c.args || 'env' in c.flags)
      expect(takingEnvironment.map(([id]) => id).sort()).to.include.members([
        'abort',
        'build',
        'deploy',
        'diff',
        'down',
        'exec',
        'history',
        'lock:acquire',
        'lock:release',
        'lock:status',
        'logs',
        'port-forward',
        'promote',
        'render',
        'rollback',
        'rollout:resume',
        'rollout:status',
        'run',
        'scale',
        'status',
        'up',
      ])
      for (const [id, command] of takingEnvironment) {
        expect(command.flags.env, id).to.deep.include({char: 'e', aliases: ['environment']})
      }
    })

    it('render takes the environment as the argument or as -e/--env/--environment, and a revision beside -e', async () => {
      const environments = []
      for (const argv of [['prod'], ['-e', 'prod'], ['--env', 'prod'], ['--environment=prod'], ['-e', 'prod', '@HEAD'], ['-e', 'prod', 'HEAD'], ['prod@HEAD', '-e', 'prod'], ['-e', 'prod', 'prod']]) {
        const r = await cli('render', ...argv, '--json')
        expect(r.exitCode, `${argv.join(' ')}: ${r.stdout}`).to.equal(0)
        environments.push(parseJson(r.stdout).result.environment)
      }
      expect(environments).to.deep.equal(Array(8).fill('prod'))
    })

    it('two different environments, as the argument and with -e, exit 2 before anything else', async () => {
      for (const argv of [
        ['render', 'staging@HEAD', '-e', 'prod'],
        ['status', 'staging', '-e', 'prod'],
        ['lock', 'release', 'staging', '--env', 'prod'],
        ['build', 'staging@HEAD', '-e', 'prod'],
      ]) {
        const r = await cli(...argv)
        expect(r.exitCode, argv.join(' ')).to.equal(2)
        expect(r.stderr).to.contain('two environments given: "staging" as the argument and "prod" with -e')
        expect(r.stderr).to.not.contain('kubeconfig')
      }
    })

    it('-e and, where the revision goes, the name of another environment: two environments, with @NAME for a revision so named', async () => {
      for (const argv of [
        ['render', '-e', 'prod', 'staging'],
        ['deploy', 'staging', '--env', 'prod'],
        ['diff', '--environment=prod', 'staging'],
      ]) {
        const r = await cli(...argv)
        expect(r.exitCode, argv.join(' ')).to.equal(2)
        expect(r.stderr, argv.join(' ')).to.contain('two environments given: "staging" as the argument and "prod" with -e').and.contain('For the revision named staging, write @staging.')
        expect(r.stderr).to.not.contain('unknown revision').and.not.contain('kubeconfig')
      }
      // @staging is the revision named staging (here a branch): rendered for prod.
      await execa('git', ['branch', 'staging'], {cwd: repo.dir})
      try {
        const r = await cli('render', '-e', 'prod', '@staging', '--json')
        expect(r.exitCode, r.stderr).to.equal(0)
        expect(parseJson(r.stdout).result.environment).to.equal('prod')
      } finally {
        await execa('git', ['branch', '-D', 'staging'], {cwd: repo.dir})
      }
    })
    // -e's help says "default: SKYCAP_ENV or defaultEnvironment"; render, diff, deploy and build ignored SKYCAP_ENV.
    it('SKYCAP_ENV is the environment when none is named; the argument and -e win over it', async () => {
      const render = (variable: string, ...argv: string[]) => runCli(['render', ...argv, '--json'], {cwd: repo.dir, env: {SKYCAP_ENV: variable}})
      const cases: Array<[string[], string]> = [
        [[], 'prod'],
        [['@HEAD'], 'prod'],
        [['staging'], 'staging'],
        [['staging@HEAD'], 'staging'],
        [['-e', 'staging'], 'staging'],
      ]
      for (const [argv, expected] of cases) {
        const r = await render('prod', ...argv)
        expect(r.exitCode, `${argv.join(' ')}: ${r.stderr}`).to.equal(0)
        expect(parseJson(r.stdout).result.environment, argv.join(' ')).to.equal(expected)
      }
      const unknown = await render('nosuch')
      expect(unknown.exitCode).to.equal(2)
      expect(parseJson(unknown.stdout).error.message).to.contain('unknown environment "nosuch"')
      // build too (it used defaultEnvironment's registry and tag without a word); -e wins over the variable.
      const build = await runCli(['build', 'HEAD', '--json'], {cwd: repo.dir, env: {SKYCAP_ENV: 'nosuch'}})
      expect(build.exitCode).to.equal(2)
      expect(parseJson(build.stdout).error.message).to.contain('unknown environment "nosuch"')
      const named = await runCli(['build', 'HEAD', '-e', 'staging', '--json'], {cwd: repo.dir, env: {SKYCAP_ENV: 'nosuch'}})
      expect(parseJson(named.stdout).error?.message ?? '').to.not.contain('nosuch')
    })
  })

  it('up and down: -e says their default is local, not SKYCAP_ENV or defaultEnvironment (which they do not read)', async () => {
    for (const command of ['up', 'down']) {
      const help = (await cli(command, '--help')).stdout.replace(/\s+/g, ' ')
      expect(help, command).to.contain('-e, --env=ENV Environment (default: local; SKYCAP_ENV and defaultEnvironment do not apply).')
    }
  })

  it('each lock command shows only its own flags', async () => {
    const help = async (action: string) => (await cli('lock', action, '--help')).stdout
    const [acquire, release, status] = await Promise.all([help('acquire'), help('release'), help('status')])
    expect(acquire).to.contain('--reason').and.contain('--duration').and.not.contain('--force')
    expect(release).to.contain('--force').and.not.contain('--reason').and.not.contain('--duration')
    expect(status).to.not.contain('--force').and.not.contain('--reason').and.not.contain('--duration')
    for (const text of [acquire, release, status]) expect(text).to.contain('-e, --env=ENV')
    const r = await cli('lock', 'status', 'staging', '--force')
    expect(r.exitCode).to.equal(2)
    expect(r.stderr).to.contain('unknown flag --force')
  })

  it("scale web=3 (kubectl's and compose's habit) says to give the two words; another missing argument keeps the help hint", async () => {
    const r = await cli('scale', 'worker=0', '-e', 'staging')
    expect(r.exitCode).to.equal(2)
    expect(r.stderr).to.contain('Missing 1 required arg: replicas').and.contain('Give the service and the count as two words: `skycap scale worker 0`.')
    const plain = await cli('scale', 'worker', '-e', 'staging')
    expect(plain.stderr).to.contain('See `skycap scale --help` for its arguments and flags.')
  })

  it('scale 3 says 3 is not a service, and scale worker 3 api 2 that scale takes one service at a time, with the two commands (the parser said "Missing 1 required arg: replicas" and "Unexpected arguments: api, 2")', async () => {
    const count = await cli('scale', '3', '-e', 'staging')
    expect(count.exitCode).to.equal(2)
    expect(count.stderr).to.contain('Error: 3 is not a service: give the service and the count\n  `skycap scale SERVICE 3`, e.g. `skycap scale web 3`.')
    const two = await cli('scale', 'worker', '3', 'api', '2', '-e', 'staging', '--timeout', '5m', '--json')
    expect(two.exitCode).to.equal(2)
    expect(JSON.parse(two.stdout).error).to.deep.include({
      message: 'scale takes one service at a time, not worker 3 api 2',
      hint: 'Run one scale per service: `skycap scale worker 3 -e staging --timeout 5m --json`, then `skycap scale api 2 -e staging --timeout 5m --json`.',
    })
  })

  it('a duration without a unit exits 2 naming the units, with -e too', async () => {
    const r = await cli('lock', 'acquire', '-e', 'staging', '--duration', '10')
    expect(r.exitCode).to.equal(2)
    expect(r.stderr).to.contain('--duration is "10" but must be a duration greater than zero with a unit (h, m or s)').and.contain('Add a unit: 10s for seconds, 10m for minutes.')
  })
})
