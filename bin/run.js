#!/usr/bin/env node
// skycap's entry point. Four things happen before oclif loads:
// - An older Node gets one clear sentence instead of a syntax or engine error from deep inside a dependency.
// - Node's module compile cache is turned on (Node >= 22.1), in a directory skycap owns: modules are compiled from
//   the cache on later runs instead of from source (docs/runtime.md; SKYCAP_NO_COMPILE_CACHE=1 turns it off).
// - `skycap --version` (`-v`, `version`) and `skycap --help` are answered without loading oclif, whose modules take about 150 ms to
//   load: the version from package.json, the root help from dist/help.txt, which `npm run build` renders with oclif
//   itself (a unit test keeps the two outputs identical); so is each command's help (dist/help/, same test).
// - A command named by its words runs from its file in the bundle without oclif's Config.load; everything else (a
//   topic, a typo, help flags, help and version) goes through oclif's execute. SKYCAP_NO_FAST_PATH=1 turns all three
//   shortcuts off.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(
    `Error: skycap needs Node.js 22.13 or newer (the 22 and 24 LTS lines); this is v${process.versions.node}.\n` +
      '  Install Node 24 (or 22), or from a clone run it through scripts/node.sh, which fetches one (docs/runtime.md).\n',
  )
  process.exit(1)
}

// Built-ins through process.getBuiltinModule, not `import`: Node makes an ES module facade of each imported built-in,
// which for node:fs loads its streams and promises (about 5 ms of every run, --version too).
const {existsSync, mkdirSync, readFileSync} = process.getBuiltinModule('node:fs')
const module = process.getBuiltinModule('node:module')
const {homedir, userInfo} = process.getBuiltinModule('node:os')
const {dirname, isAbsolute, join} = process.getBuiltinModule('node:path')

/**
 * Whether `dir` is there, made level by level if it was not: Node's own recursive mkdir (enableCompileCache makes
 * its folder with it) loops forever where mkdir answers ENOENT under a folder that exists (XDG_CACHE_HOME=/proc/x
 * hung every command).
 */
const madeFolder = (dir) => {
  if (existsSync(dir)) return true
  if (dirname(dir) === dir || !madeFolder(dirname(dir))) return false
  try {
    mkdirSync(dir)
  } catch {
    return existsSync(dir)
  }
  return true
}

if (!process.env.SKYCAP_NO_COMPILE_CACHE) {
  // Fails quietly (a read-only home, no home at all): the cache is an optimisation, never a reason to stop.
  try {
    // An empty HOME: the password database's home (os.homedir() answers "", and ".cache" was the current folder).
    const home = process.env.HOME || userInfo().homedir || homedir()
    const dir = join(process.env.XDG_CACHE_HOME || join(home, '.cache'), 'skycap', 'compile-cache')
    if (isAbsolute(dir) && madeFolder(dir)) module.enableCompileCache(dir)
  } catch {
    // Without it every module compiles from source, as before Node 22.
  }
}

// simple-git's debug output (`DEBUG=*`, `DEBUG=simple-git*`) prints the whole environment of every git it starts,
// tokens included (GITHUB_TOKEN, a notify webhook's): it stays off whatever DEBUG asks for (docs/reliability.md).
if (process.env.DEBUG) process.env.DEBUG += ',-simple-git*'

const given = process.argv.slice(2)
// `-v --json` and `--version --json` are `version --json` (oclif's own --version printed the plain line).
const args = given.length === 2 && given.includes('--json') && given.some((a) => a === '-v' || a === '--version') ? ['version', '--json'] : given
const root = new URL('../', import.meta.url)
const pjson = () => JSON.parse(readFileSync(new URL('package.json', root), 'utf8'))
const version = () => {
  const {name, version} = pjson()
  return `${name}/${version} ${process.platform}-${process.arch} node-${process.version}`
}
/**
 * Writes `text` to stdout and ends the process once it is written: exit 0, or exit 1 saying so when the write failed
 * (`skycap --help > /dev/full` exited 0 without a word: the error came after process.exit). A reader that went away
 * (`| head -1`, EPIPE) is no failure, as for every command (commands/_base.ts).
 */
const printAndExit = (text) => {
  process.stdout.on('error', () => {})
  process.stdout.write(text, (error) => {
    if (error && error.code !== 'EPIPE') {
      process.stderr.write(`Error: the output on stdout was lost: ${error.message}\n`)
      process.exit(1)
    }
    process.exit(0)
  })
}
/** Help rendered at build time, printed (then the process ends); false when there is none (not built, or not a command: oclif answers). */
const printHelp = (file) => {
  let help
  try {
    help = readFileSync(new URL(file, root), 'utf8')
  } catch {
    return false
  }
  // The build's own Node and platform are in a rendered VERSION section; this run's go there instead.
  printAndExit(help.replace(/^(VERSION\n {2})\S+ \S+ node-\S+$/m, (_, head) => head + version()))
  return true
}
/** Whether the fast path answers (its output is being written, and the process ends once it is). */
const answeredAtOnce = () => {
  if (process.env.SKYCAP_NO_FAST_PATH) return false
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-v' || args[0] === 'version')) {
    printAndExit(`${version()}\n`)
    return true
  }
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h') && printHelp('dist/help.txt')) return true
  // A command's help (`skycap deploy --help`, `-h`, `skycap help deploy`): rendered by oclif at build time into
  // dist/help/ (scripts/render-help.mjs); a topic, a typo or anything else goes through oclif.
  const helpOf = args.at(-1) === '--help' || args.at(-1) === '-h' ? args.slice(0, -1) : args[0] === 'help' ? args.slice(1) : []
  return helpOf.length > 0 && helpOf.every((word) => /^[a-z][a-z-]*$/.test(word)) && printHelp(`dist/help/${helpOf.join(' ')}.txt`)
}
const answered = answeredAtOnce()

/**
 * The command the arguments name, found by its file in the bundle (`lock status dev` is dist/cli/commands/lock/
 * status.js, with argv [dev]); undefined for a help flag anywhere before `--` (oclif prints the help), a topic, a
 * typo, or anything else oclif has to work out.
 */
const commandFile = () => {
  const end = args.indexOf('--')
  const own = end === -1 ? args : args.slice(0, end)
  if (own.includes('--help') || own.includes('-h')) return undefined
  const words = []
  for (const arg of args) {
    if (words.length === 3 || !/^[a-z][a-z-]*$/.test(arg)) break
    words.push(arg)
  }
  for (let n = words.length; n > 0; n--) {
    const url = new URL(`dist/cli/commands/${words.slice(0, n).join('/')}.js`, root)
    if (existsSync(url)) return {url, id: words.slice(0, n).join(':'), argv: args.slice(n)}
  }
  return undefined
}

// oclif checks the Node version against its own engines when it loads, with semver (about 10 ms of regular
// expressions); the check above is skycap's.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'
// The bundle of oclif and every command (scripts/bundle.mjs, run by `npm run build`; docs/startup.md). A command
// found by its file runs without oclif's Config.load (runCommand, commands/_run.ts) unless it needs oclif's Config.
const command = process.env.SKYCAP_NO_FAST_PATH || answered ? undefined : commandFile()
// Not a top-level await: once a reader of stdout has gone (`skycap lock --help | head -1`), oclif's final flush waits
// for a 'drain' that never comes. Awaited at the top level, Node then ended with "unsettled top-level await" and exit
// 13; this way the process ends when its work is done, with the exit code the command set.
const run = async () => {
  const [{execute, runCommand}, Command] = await Promise.all([import('../dist/cli/oclif.js'), command && import(command.url).then((m) => m.default)])
  if (!(command && (await runCommand(Command, command.id, command.argv, pjson())))) await execute({dir: import.meta.url, args})
}
if (!answered) run()
