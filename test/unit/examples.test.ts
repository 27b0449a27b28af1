// Every example in every command's --help must be a command line that skycap accepts: it goes through oclif's flag
// parser with the command's own flags and arguments, then through the checks the command makes of its argument
// before doing anything (ENV@REV, build's [ENV@]REV with --work-tree). Nothing is run, read or sent.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {type Command, Flags, Parser} from '@oclif/core'
import {expect} from 'chai'

import {splitCommand} from '../../commands/_command-line.js'
import {targetOf} from '../../commands/_environment.js'
import {parseBuildTarget} from '../../src/build/build.js'
import {parseTarget} from '../../src/vcs/target.js'
import {repoRoot} from '../helpers/repo.js'

type CommandClass = typeof Command & {baseFlags?: Record<string, unknown>; enableJsonFlag?: boolean}

/** The words of an example as a shell would pass them to skycap: quotes removed, cut at a pipe, redirection or comment. */
export function exampleArgv(example: string): {env: Record<string, string>; argv: string[]} {
  const words: string[] = []
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g
  for (let m = re.exec(example); m; m = re.exec(example)) {
    const bare = m[3]
    if (bare !== undefined && (/^(\||\|\||&&|;|>|>>|2>)$/.test(bare) || bare.startsWith('#'))) break
    words.push(m[1] ?? m[2] ?? (bare as string))
  }
  const env: Record<string, string> = {}
  while (words[0] && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) {
    const [name, ...value] = (words.shift() as string).split('=')
    env[name as string] = value.join('=')
  }
  return {env, argv: words}
}

/** What the command checks of its parsed input before it acts: the target of the commands that take ENV@REV. */
async function checkInput(id: string, args: Record<string, unknown>, flags: Record<string, unknown>): Promise<void> {
  const target = args.target as string | undefined
  if (id === 'build') parseBuildTarget(target, {workTree: flags['work-tree'] as boolean | undefined})
  if (id === 'deploy' || id === 'render' || id === 'diff') parseTarget(await targetOf(target, flags.environment as string | undefined), 'default-environment')
}

describe("every command's --help examples parse", () => {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {examples?: Array<string | {command: string}>}>}

  it('splits an example as a shell would', () => {
    expect(exampleArgv('SKYCAP_ENV=staging skycap scale worker 0')).to.deep.equal({env: {SKYCAP_ENV: 'staging'}, argv: ['skycap', 'scale', 'worker', '0']})
    expect(exampleArgv('skycap lock acquire --reason "database migration" # note').argv).to.deep.equal(['skycap', 'lock', 'acquire', '--reason', 'database migration'])
    expect(exampleArgv('skycap render prod --json | jq .result').argv).to.deep.equal(['skycap', 'render', 'prod', '--json'])
  })

  it('build refuses a revision with --work-tree before it reads anything (what the old example did)', () => {
    expect(() => parseBuildTarget('staging@HEAD', {workTree: true})).to.throw('--work-tree builds the work tree, not revision "HEAD"')
  })

  for (const [id, entry] of Object.entries(manifest.commands)) {
    const examples = (entry.examples ?? []).map((e) => (typeof e === 'string' ? e : e.command))
    if (!examples.length) continue
    it(`${id.replaceAll(':', ' ')}: ${examples.length} example${examples.length === 1 ? '' : 's'}`, async () => {
      const module = (await import(pathToFileURL(join(repoRoot, 'dist', 'commands', ...id.split(':'))).href + '.js')) as {default: CommandClass}
      const C = module.default
      for (const example of examples) {
        const {env, argv} = exampleArgv(example.replaceAll('<%= config.bin %>', 'skycap'))
        for (const name of Object.keys(env)) expect(name, example).to.match(/^SKYCAP_/)
        expect(argv[0], example).to.equal('skycap')
        // `skycap -v` is answered before any command is chosen (bin/run.js), as `skycap version`.
        if (id === 'version' && argv.length === 2 && argv[1] === '-v') continue
        const words = id.split(':')
        expect(argv.slice(1, 1 + words.length), example).to.deep.equal(words)
        const {own} = splitCommand(argv.slice(1 + words.length))
        const flags = {...(C.enableJsonFlag ? {json: Flags.boolean()} : {}), ...C.baseFlags, ...C.flags}
        let parsed: {args: Record<string, unknown>; flags: Record<string, unknown>}
        try {
          parsed = (await Parser.parse(own, {args: C.args, flags: flags as never, strict: C.strict})) as typeof parsed
        } catch (error) {
          throw new Error(`${example}: ${(error as Error).message}`, {cause: error})
        }
        try {
          await checkInput(id, parsed.args, parsed.flags)
        } catch (error) {
          throw new Error(`${example}: ${(error as Error).message}`, {cause: error})
        }
      }
    })
  }
})
