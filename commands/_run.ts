import {type Command, execute, flush, handle, type Interfaces} from '@oclif/core'
import {setLogger} from '@oclif/core/logger'

/**
 * What bin/run.js imports from the bundle (as dist/cli/oclif.js): oclif's `execute`, and `runCommand`, which runs a
 * command bin/run.js found by its file without oclif's `Config.load` (reading package.json and the manifest, the
 * root plugin, the theme: about 10-15 ms of every run, with oclif's main loop around it; docs/startup.md).
 */
export {execute}

/** A command class as bin/run.js imports it from dist/cli/commands/. */
type CommandClass = (new (argv: string[], config: Interfaces.Config) => Command) & {
  id?: string
  args?: Record<string, unknown>
  strict?: boolean
  runsWithoutOclifConfig?: boolean
}

/**
 * The part of oclif's Config that oclif's Command, its flag parser and skycap's commands read, as `Config.load`
 * would set it for skycap (no plugins, no hooks but command_not_found, which only runs for an unknown command; no
 * theme: skycap sets none in package.json, and a personal ~/.config/skycap/theme.json is not read on this path).
 */
/** What runCommand reads of package.json. */
interface PackageJson {
  name: string
  version: string
  oclif?: {hooks?: Record<string, unknown>; plugins?: string[]}
}

function commandConfig(Cmd: CommandClass, id: string, pjson: PackageJson): Interfaces.Config {
  // As oclif's Config.scopedEnvVarKey for the bin `skycap` (no bin aliases).
  const key = (k: string) =>
    ['skycap', k]
      .map((p) => p.replaceAll('@', '').replaceAll(/[/-]/g, '_'))
      .join('_')
      .toUpperCase()
  const config = {
    bin: 'skycap',
    name: pjson.name,
    version: pjson.version,
    pjson,
    platform: process.platform,
    arch: process.arch,
    topicSeparator: ' ',
    userAgent: `${pjson.name}/${pjson.version} ${process.platform}-${process.arch} node-${process.version}`,
    theme: undefined,
    runHook: async () => ({successes: [], failures: []}),
    // Command.init reads the command line's id through these (for a deprecated alias); this one command is all
    // there is to find.
    commandIDs: [id],
    findCommand: (wanted: string) => (wanted === id ? Cmd : undefined),
    scopedEnvVarKey: key,
    scopedEnvVarKeys: (k: string) => [key(k)],
    scopedEnvVar: (k: string) => process.env[key(k)],
    scopedEnvVarTrue: (k: string) => ['1', 'true'].includes(process.env[key(k)] ?? ''),
  }
  return config as unknown as Interfaces.Config
}

/** oclif's Logger interface, writing nothing. */
function silentLogger(namespace: string): Interfaces.Logger {
  const none = () => {}
  return {namespace, child: (ns, delimiter = ':') => silentLogger(`${namespace}${delimiter}${ns}`), debug: none, error: none, info: none, trace: none, warn: none}
}

/**
 * Runs `Cmd` (command `id`, e.g. `lock:status`) on `argv` as oclif's `execute` would once it has found it: the
 * command's own error handling, then oclif's `handle` for what escapes it (the exit code) and `flush`. Returns false,
 * running nothing, for a command that reads more of oclif's Config than commandConfig has (help, version,
 * complete), and when package.json declares an oclif hook or plugin this path would not run: bin/run.js then goes
 * through `execute`.
 */
export async function runCommand(Cmd: CommandClass, id: string, argv: string[], pjson: PackageJson): Promise<boolean> {
  if (Cmd.runsWithoutOclifConfig !== true) return false
  const {hooks = {}, plugins = []} = pjson.oclif ?? {}
  // skycap's own hooks: command_not_found runs only for an unknown command, init only acts on a topic (_topic.ts);
  // a command found by its file meets neither.
  const own: Record<string, unknown> = {command_not_found: './dist/commands/_not-found.js', init: './dist/commands/_topic.js'}
  if (Object.entries(hooks).some(([hook, file]) => own[hook] !== file) || plugins.length > 0) return false
  // A word after a command that takes no arguments: oclif reads it as part of the command's id (`down foo` is the
  // unknown command "down foo", with a suggestion); leave it to oclif.
  const [next] = argv
  if (next !== undefined && !next.startsWith('-') && Cmd.strict !== false && Object.keys(Cmd.args ?? {}).length === 0) return false
  Cmd.id = id
  // oclif's debug lines appear only with DEBUG=…; without it, a logger that writes nothing spares loading the `debug`
  // package (and node:tty) on every run. execute sets oclif's own for the other paths.
  if (!process.env.DEBUG) setLogger({root: '', logger: silentLogger('oclif')})
  try {
    // _run is oclif's own: init, parse (through this.parse), run, catch, finally, the JSON result.
    await (new Cmd(argv, commandConfig(Cmd, id, pjson)) as unknown as {_run(): Promise<unknown>})._run()
    await flush()
  } catch (error) {
    await handle(error instanceof Error ? error : new Error(String(error)))
  }
  return true
}
