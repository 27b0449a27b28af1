import {expect} from 'chai'
import {mkdtempSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type AppNames, appNames, complete, type CompletionCommand, shellWord} from '../../../src/completion/complete.js'

const env = {name: 'env', char: 'e', aliases: ['environment'], takesValue: true}
const COMMANDS: CompletionCommand[] = [
  {
    id: 'deploy',
    summary: 'Deploy ENV',
    args: ['target'],
    flags: [env, {name: 'timeout', takesValue: true, description: 'Time limit, e.g. 90s. Exit 70.'}, {name: 'yes', char: 'y', takesValue: false}, {name: 'config', takesValue: true}],
  },
  {id: 'logs', summary: 'Stream logs', args: ['service'], variadic: true, flags: [env, {name: 'follow', char: 'f', takesValue: false}]},
  {id: 'promote', args: ['environment', 'service'], flags: [env]},
  {id: 'scale', args: ['service', 'replicas'], flags: [env]},
  {
    id: 'build',
    args: ['target'],
    flags: [
      {name: 'builder', takesValue: true, options: ['buildx', 'docker', 'podman']},
      {name: 'service', char: 's', takesValue: true},
      {name: 'work-tree', takesValue: false},
    ],
  },
  {id: 'lock acquire', summary: 'Take the lock', args: ['environment'], flags: [env]},
  {id: 'lock status', summary: 'Show the lock', args: ['environment'], flags: [env]},
  {id: 'help', args: ['command'], variadic: true, flags: []},
  {id: 'completion', args: ['shell'], argOptions: {shell: ['bash', 'zsh', 'fish']}, flags: []},
  {id: 'run', args: ['service'], flags: [env, {name: 'interactive', char: 'i', takesValue: false}, {name: 'tty', char: 't', takesValue: false}]},
]
const NAMES: AppNames = {environments: ['dev', 'staging', 'prod'], services: ['web', 'worker']}

/** The candidate values for `words`, and the --config path names() was asked for. */
async function values(...words: string[]): Promise<{values: string[] | 'files'; asked: Array<string | undefined>}> {
  const asked: Array<string | undefined> = []
  const result = await complete(COMMANDS, words, async (configPath) => {
    asked.push(configPath)
    return NAMES
  })
  return {values: result.kind === 'files' ? 'files' : result.candidates.map((c) => c.value), asked}
}

describe('completion candidates', () => {
  it('completes command words and topics, then the commands of a topic, with summaries', async () => {
    expect((await values('')).values).to.deep.equal(['deploy', 'logs', 'promote', 'scale', 'build', 'lock', 'help', 'completion', 'run'])
    expect((await values('lock', '')).values).to.deep.equal(['acquire', 'status'])
    const result = await complete(COMMANDS, ['lock', ''], async () => NAMES)
    expect(result).to.deep.equal({
      kind: 'words',
      candidates: [
        {value: 'acquire', description: 'Take the lock'},
        {value: 'status', description: 'Show the lock'},
      ],
    })
    expect((await values('help', 'lock', '')).values).to.deep.equal(['acquire', 'status'])
    expect((await values('nope', '')).values).to.deep.equal([])
  })

  it('gives a topic the description of its topic, as a command its summary', async () => {
    const topics = [{id: 'lock', summary: "Inspect or take an environment's lock."}]
    for (const words of [[''], ['help', '']]) {
      const result = await complete(COMMANDS, words, async () => NAMES, topics)
      expect(result.kind === 'words' && result.candidates.find((c) => c.value === 'lock'), words.join(' ')).to.deep.equal({value: 'lock', description: "Inspect or take an environment's lock."})
      expect(result.kind === 'words' && result.candidates.find((c) => c.value === 'deploy'), words.join(' ')).to.deep.equal({value: 'deploy', description: 'Deploy ENV'})
    }
  })

  it('completes environment names where an environment goes, reading skycap.yaml only then', async () => {
    expect(await values('deploy', '')).to.deep.equal({values: ['dev', 'staging', 'prod'], asked: [undefined]})
    expect((await values('lock', 'acquire', '')).values).to.deep.equal(['dev', 'staging', 'prod'])
    expect((await values('logs', 'web', '-e', '')).values).to.deep.equal(['dev', 'staging', 'prod'])
    expect((await values('logs', '--env', '')).values).to.deep.equal(['dev', 'staging', 'prod'])
    expect((await values('promote', '')).values).to.deep.equal(['dev', 'staging', 'prod'])
    // ENV@REV: the revision part is the user's.
    expect((await values('deploy', 'prod@')).values).to.deep.equal([])
    expect((await values('deploy', 'prod', '')).asked).to.deep.equal([])
  })

  it('completes service names where a service goes, shifting past the environment when -e is given', async () => {
    expect((await values('logs', '')).values).to.deep.equal(['web', 'worker'])
    expect((await values('logs', 'web', '-f', '')).values, 'logs takes several').to.deep.equal(['web', 'worker'])
    expect((await values('scale', '')).values).to.deep.equal(['web', 'worker'])
    expect((await values('scale', 'web', '')).values, 'replicas: nothing to offer').to.deep.equal([])
    expect((await values('promote', 'prod', '')).values).to.deep.equal(['web', 'worker'])
    expect((await values('promote', '-e', 'prod', '')).values).to.deep.equal(['web', 'worker'])
    expect((await values('build', '-s', '')).values).to.deep.equal(['web', 'worker'])
    expect((await values('run', '-it', '')).values, '-it takes no value').to.deep.equal(['web', 'worker'])
  })

  // `skycap build test` builds the revision named test: its environments complete as whole targets, ENV@HEAD.
  it("completes build's first argument as ENV@HEAD (its bare word is a revision), and as ENV with --work-tree", async () => {
    expect((await values('build', '')).values).to.deep.equal(['dev@HEAD', 'staging@HEAD', 'prod@HEAD'])
    expect((await values('build', '--work-tree', '')).values).to.deep.equal(['dev', 'staging', 'prod'])
    expect((await values('build', 'prod@')).values, 'the revision is the user').to.deep.equal([])
    expect((await values('deploy', '')).values).to.deep.equal(['dev', 'staging', 'prod'])
  })

  it('completes the root flags before a command, and --help after a topic (it offered the commands for `skycap --`)', async () => {
    for (const typed of ['-', '--', '--v']) {
      const root = await complete(COMMANDS, [typed], async () => NAMES)
      expect(root.kind === 'words' && root.candidates.map((c) => c.value), typed).to.deep.equal(['--help', '--version'])
    }
    const topic = await complete(COMMANDS, ['lock', '--'], async () => NAMES)
    expect(topic.kind === 'words' && topic.candidates.map((c) => c.value)).to.deep.equal(['--help'])
    const commands = await complete(COMMANDS, [''], async () => NAMES)
    expect(commands.kind === 'words' && commands.candidates.map((c) => c.value))
      .to.include('deploy')
      .and.not.include('--help')
  })

  it('completes the flags of the command, option values, and files for --config', async () => {
    const flags = await complete(COMMANDS, ['deploy', '--'], async () => NAMES)
    expect(flags.kind === 'words' && flags.candidates).to.deep.equal(
      [
        {value: '--env', description: undefined},
        {value: '--environment', description: undefined},
        {value: '--timeout', description: 'Time limit, e.g. 90s'},
        {value: '--yes', description: undefined},
        {value: '--config', description: undefined},
        {value: '--help', description: 'Show help'},
      ].map((c) => (c.description === undefined ? {value: c.value} : c)),
    )
    expect((await values('build', '--builder', '')).values).to.deep.equal(['buildx', 'docker', 'podman'])
    const shells = await values('completion', '')
    expect(shells.values, 'an argument with a fixed list').to.deep.equal(['bash', 'zsh', 'fish'])
    expect(shells.asked, 'no skycap.yaml read for it').to.deep.equal([])
    expect((await values('deploy', '--config', '')).values).to.equal('files')
    expect((await values('deploy', '--timeout', '')).values).to.deep.equal([])
    expect((await values('run', 'web', '--', '')).values, 'after --: the command is the user').to.deep.equal([])
  })

  it('completes the value in the same word as the flag (--env=st, -e=st, --service=, --builder=, --config=), as whole words', async () => {
    const result = await complete(COMMANDS, ['deploy', '--env=st'], async () => NAMES)
    expect(result).to.deep.equal({
      kind: 'words',
      candidates: ['dev', 'staging', 'prod'].map((value) => ({value: `--env=${value}`, description: 'environment'})),
    })
    expect((await values('deploy', '--environment=')).values).to.deep.equal(['--environment=dev', '--environment=staging', '--environment=prod'])
    expect((await values('logs', '-e=p')).values).to.deep.equal(['-e=dev', '-e=staging', '-e=prod'])
    expect((await values('build', '--service=w')).values).to.deep.equal(['--service=web', '--service=worker'])
    expect((await values('build', '-s=')).values).to.deep.equal(['-s=web', '-s=worker'])
    expect((await values('build', '--builder=d')).values).to.deep.equal(['--builder=buildx', '--builder=docker', '--builder=podman'])
    expect((await values('deploy', '--config=sky')).values).to.equal('files')
    expect((await values('deploy', '--yes=')).values, 'a flag without a value').to.deep.equal([])
    expect((await values('deploy', '--nope=x')).values, 'an unknown flag').to.deep.equal([])
    expect((await values('deploy', '--timeout=9')).values, 'a value with nothing to offer').to.deep.equal([])
    // The words before keep working as before: --env=prod given, the argument is the revision.
    expect((await values('logs', '--env=prod', '')).values).to.deep.equal(['web', 'worker'])
    expect((await values('deploy', '--config=other/skycap.yaml', '--env=')).asked).to.deep.equal(['other/skycap.yaml'])
  })

  it('reads the names from the skycap.yaml given with --config', async () => {
    expect((await values('deploy', '--config', 'other/skycap.yaml', '')).asked).to.deep.equal(['other/skycap.yaml'])
    expect((await values('deploy', '--config=other/skycap.yaml', '')).asked).to.deep.equal(['other/skycap.yaml'])
  })
})

describe('completion: names from skycap.yaml', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skycap-complete-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('reads the keys of services and environments from the nearest skycap.yaml, even an invalid one', async () => {
    writeFileSync(join(dir, 'skycap.yaml'), 'app: x\nservices:\n  web: {replcas: 2}\n  api: {}\nenvironments:\n  prod: {}\n  qa: {namespace: 3}\n')
    mkdirSync(join(dir, 'sub', 'deeper'), {recursive: true})
    expect(await appNames(join(dir, 'sub', 'deeper'))).to.deep.equal({services: ['web', 'api'], environments: ['prod', 'qa']})
  })

  it('gives no names, and no error, without a file, for broken YAML or a file that is not a mapping', async () => {
    expect(await appNames(dir, 'missing.yaml')).to.deep.equal({environments: [], services: []})
    writeFileSync(join(dir, 'skycap.yaml'), 'services: [\n')
    expect(await appNames(dir)).to.deep.equal({environments: [], services: []})
    writeFileSync(join(dir, 'skycap.yaml'), '- a\n- b\n')
    expect(await appNames(dir)).to.deep.equal({environments: [], services: []})
  })
})

describe('shellWord: a typed word as the shell would pass it', () => {
  it('drops quotes and backslash escapes, and expands a leading ~ to HOME', () => {
    expect(shellWord('my\\ app/skycap.yaml')).to.equal('my app/skycap.yaml')
    expect(shellWord('"my app/skycap.yaml"')).to.equal('my app/skycap.yaml')
    expect(shellWord("'my app'/x.yaml")).to.equal('my app/x.yaml')
    expect(shellWord('"a\\"b"')).to.equal('a"b')
    expect(shellWord('plain/skycap.yaml')).to.equal('plain/skycap.yaml')
    expect(shellWord('~/x/skycap.yaml')).to.equal(`${process.env.HOME}/x/skycap.yaml`)
    expect(shellWord('a~/b')).to.equal('a~/b')
  })
})
