// Bundles the compiled CLI (dist/commands, dist/src and the dependencies they import) into dist/cli with esbuild, so
// a command loads a handful of files instead of several hundred modules from node_modules (docs/startup.md).
//
//   node scripts/bundle.mjs        (run by `npm run build`, after tsc and before `oclif manifest`)
//
// - One entry per command file that oclif finds (package.json oclif.commands.globPatterns, under dist/commands), so a
//   command added to commands/ is bundled with no change here, plus dist/cli/oclif.js (commands/_run.ts), which
//   bin/run.js imports for oclif's `execute` and for `runCommand` (a command run without oclif's Config.load). Code splitting puts what several entries share (oclif, commands/_base, src/) into dist/cli/chunks/, one
//   copy each: the commands and bin/run.js see the same @oclif/core.
// - Imports that are already dynamic (`await import('yaml')`, listr2, simple-git, liquidjs, ajv's validator) stay
//   dynamic: each becomes its own chunk, loaded only by the commands that reach it.
// - `import.meta.url` in dist/src and dist/commands is replaced by the URL that file has in dist/ (found from the
//   bundle's own URL), so paths computed from it (templates/, the generated validator, the port-forward keeper run as
//   a child process) point where they did before bundling.
import {parse} from 'acorn'
import {build} from 'esbuild'
import {existsSync, globSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join, relative} from 'node:path'
import process from 'node:process'
import {fileURLToPath} from 'node:url'

import {lazyRequires} from './lazy-requires.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const out = join(dist, 'cli')
const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const commandsDir = join(dist, 'commands')

// The same selection oclif makes with the pattern strategy.
const patterns = pjson.oclif.commands.globPatterns
const include = patterns.filter((p) => !p.startsWith('!'))
const exclude = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1))
const commands = globSync('**/*.js', {cwd: commandsDir})
  .filter((f) => include.some((p) => matches(f, p)) && !exclude.some((p) => matches(f, p)))
  .sort()
if (commands.length === 0) throw new Error(`no command files under ${relative(root, commandsDir)}: run tsc first`)

function matches(file, pattern) {
  const re = new RegExp(
    '^' +
      pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '(?:.*/)?')
        .replace(/\*/g, '[^/]*') +
      '$',
  )
  return re.test(file)
}

const URL_MODULE = 'skycap:dist-url'
const distUrls = {
  name: 'dist-urls',
  setup(b) {
    b.onResolve({filter: /^skycap:/}, (args) => ({path: args.path, namespace: 'skycap'}))
    b.onLoad({filter: /.*/, namespace: 'skycap'}, (args) => {
      if (args.path === URL_MODULE) {
        return {
          loader: 'js',
          contents: `const here = import.meta.url
const root = here.slice(0, here.lastIndexOf('/dist/cli/') + 1)
/** The URL a file of the package (path from its root) has; the bundle lives in <root>/dist/cli/. */
export const distUrl = (path) => new URL(path, root).href
`,
        }
      }
      return undefined
    })
    b.onLoad({filter: /[/\\]dist[/\\](src|commands)[/\\].*\.js$/}, (args) => {
      const source = readFileSync(args.path, 'utf8')
      if (!source.includes('import.meta.url')) return undefined
      const path = relative(root, args.path).split('\\').join('/')
      const contents = `import {distUrl as __distUrl} from '${URL_MODULE}'\n` + source.replaceAll('import.meta.url', `__distUrl(${JSON.stringify(path)})`)
      return {loader: 'js', contents}
    })
  },
}

// esbuild gives the chunk of a CommonJS package that is imported dynamically only a default export (the package's
// module.exports), where Node's own import() also has its named exports (`const {parse} = await import('yaml')`).
// Such an import goes through a small ES module instead that names each export, read from the package here.
const CJS_NAMES = 'skycap-cjs:'
const cjsDynamicImports = {
  name: 'cjs-dynamic-imports',
  setup(b) {
    b.onResolve({filter: /^[@a-z]/}, async (args) => {
      if (args.kind !== 'dynamic-import' || args.namespace === 'skycap-cjs') return undefined
      const resolved = await b.resolve(args.path, {kind: 'import-statement', resolveDir: args.resolveDir, namespace: 'skycap-cjs'})
      if (resolved.errors.length > 0 || !isCommonJs(resolved.path)) return undefined
      return {path: CJS_NAMES + args.path, namespace: 'skycap-cjs', pluginData: {resolveDir: args.resolveDir}}
    })
    b.onLoad({filter: /.*/, namespace: 'skycap-cjs'}, (args) => {
      const specifier = args.path.slice(CJS_NAMES.length)
      const names = Object.keys(createRequire(join(args.pluginData.resolveDir, 'x.js'))(specifier)).filter((k) => k !== 'default' && /^[A-Za-z_$][\w$]*$/.test(k))
      // As Node does: the default export is module.exports, also for a module marked __esModule.
      const contents = [`import * as __cjs from ${JSON.stringify(specifier)}`, `export default __cjs.__esModule ? __cjs : __cjs.default`, `export const {${names.join(', ')}} = __cjs`].join('\n')
      return {loader: 'js', contents, resolveDir: args.pluginData.resolveDir}
    })
  },
}

// oclif sorts the commands of its manifest with localeCompare on every run: the first call sets up ICU's collator,
// about 5 ms of a command's start. Command ids are lower-case words (ASCII letters, digits, '-', ' ' and ':'), for
// which code-unit order is the same (a unit test compares the two for every id), so they are compared as strings.
const OCLIF_SORT = {
  file: /[/\\]node_modules[/\\]@oclif[/\\]core[/\\]lib[/\\]config[/\\]plugin\.js$/,
  from: '.sort((a, b) => a.id.localeCompare(b.id));',
  to: '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));',
}
// oclif asks on every run whether Linux is WSL, to set config.platform to 'wsl': a dynamic import of wsl-utils (an ES
// module chunk of its own, and Node's ES module facade of node:fs, which loads fs streams and fs/promises), about
// 5 ms. Nothing in oclif or skycap reads 'wsl' (oclif compares the platform with 'win32' and 'darwin' only), so the
// platform is Node's.
const OCLIF_PLATFORM = {
  file: /[/\\]node_modules[/\\]@oclif[/\\]core[/\\]lib[/\\]util[/\\]os\.js$/,
  from: "return (await import('wsl-utils')).isWsl ? 'wsl' : (0, node_os_1.platform)();",
  to: 'return (0, node_os_1.platform)();',
}
// execa lists the standard streams when it loads: reading process.stdin makes Node create that stream (about 3 ms:
// fs streams for a file or /dev/null, a socket for a pipe), which a call with piped or ignored stdio never uses (execa
// looks the list up only for a stream given as stdio). The list is filled on its first use instead.
const EXECA_STANDARD_STREAMS = {
  file: /[/\\]node_modules[/\\]execa[/\\]lib[/\\]utils[/\\]standard-stream\.js$/,
  from: 'export const STANDARD_STREAMS = [process.stdin, process.stdout, process.stderr];',
  to: 'export const STANDARD_STREAMS = new Proxy([], {get: (streams, key) => (streams.length === 0 && streams.push(process.stdin, process.stdout, process.stderr), Reflect.get(streams, key))});',
}
// The same for each stdio value execa checks the direction of ('pipe', 'ignore', …): it compares the value with
// process.stdin, creating that stream. A stream can be process.stdin only if it is an object.
const EXECA_STDIN_DIRECTION = {
  file: /[/\\]node_modules[/\\]execa[/\\]lib[/\\]stdio[/\\]direction\.js$/,
  from: 'if ([0, process.stdin].includes(value)) {',
  to: "if (value === 0 || (typeof value === 'object' && value !== null && value === process.stdin)) {",
}
// oclif throws every error of stdout but EPIPE from its listener, an uncaught exception: `skycap render prod >
// /dev/full` (ENOSPC) printed 48 KB of this bundle's source and a stack, and a deploy whose release was recorded ended
// 1 that way. A skycap command listens itself (keepGoingWithoutReaders in commands/_base.ts: it finishes its work and
// says the output was lost); oclif's throw stays for the commands that do not.
const OCLIF_STDOUT_ERRORS = {
  file: /[/\\]node_modules[/\\]@oclif[/\\]core[/\\]lib[/\\]command\.js$/,
  from: "    if (err && err.code === 'EPIPE')\n        return;\n    throw err;",
  to: "    if ((err && err.code === 'EPIPE') || process.stdout.listenerCount('error') > 1)\n        return;\n    throw err;",
}
/** Source patches of dependencies (@oclif/core, execa), each a line replaced; a line no longer there fails the build. */
const SOURCE_PATCHES = [OCLIF_SORT, OCLIF_PLATFORM, OCLIF_STDOUT_ERRORS, EXECA_STANDARD_STREAMS, EXECA_STDIN_DIRECTION]
const sourcePatches = {
  name: 'source-patches',
  setup(b) {
    for (const patch of SOURCE_PATCHES) {
      b.onLoad({filter: patch.file}, (args) => {
        const source = readFileSync(args.path, 'utf8')
        // A dependency that no longer has this line fails the build: the patch is then reviewed, not silently lost.
        if (!source.includes(patch.from)) throw new Error(`${args.path} no longer has \`${patch.from}\`; review SOURCE_PATCHES in scripts/bundle.mjs`)
        return {loader: 'js', contents: source.replace(patch.from, patch.to)}
      })
    }
  },
}

/** Whether a resolved file is CommonJS: .cjs, or .js under a nearest package.json without "type": "module". */
function isCommonJs(file) {
  if (file.endsWith('.cjs')) return true
  if (!file.endsWith('.js')) return false
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg)) return JSON.parse(readFileSync(pkg, 'utf8')).type !== 'module'
  }
  return true
}

/**
 * Modules that only oclif's `Config.load` (finding plugins and commands, its engine check with semver), its help and
 * its spinner use. A command run by commands/_run.ts never evaluates them (lazyRequires), and compiled with the chunk
 * they were deserialised from the compile cache on every run all the same: about 3 ms of each command's start. They
 * stay methods, compiled when first used (help of a topic, a mistyped command, `complete`). A module missing from this
 * list costs only those milliseconds; one that should not be here, only a compile on first use.
 */
const COMPILED_ON_FIRST_USE =
  /^node_modules\/(semver|tinyglobby|fdir|picomatch|minimatch|brace-expansion|balanced-match|lilconfig|get-package-type|cli-spinners|color-convert|color-name)\/|^node_modules\/@oclif\/core\/lib\/(config\/(?!util\.js)|help\/(?!util\.js)|main\.js|performance\.js)/

/**
 * esbuild wraps each CommonJS module in a method, `__commonJS({"path"(exports, module) {...}})`, which V8 compiles
 * only when it is first called, after Node's compile cache has been made: the body of every such module (all of
 * oclif, yaml, simple-git) was compiled from source on every run. Written as a function in parentheses,
 * `{"path": (function (exports, module) {...})}`, V8 compiles it with the file, and the cache keeps it.
 */
function eagerModules(code) {
  const edits = []
  const eager = (p) => p.type === 'Property' && !(p.key.type === 'Literal' && COMPILED_ON_FIRST_USE.test(String(p.key.value)))
  const visit = (node) => {
    if (!node || typeof node.type !== 'string') return
    if (node.type === 'CallExpression' && node.callee.type === 'Identifier' && (node.callee.name === '__commonJS' || node.callee.name === '__esm')) {
      const [arg] = node.arguments
      for (const p of arg?.type === 'ObjectExpression' ? arg.properties.filter(eager) : []) {
        if (p.method && !p.value.async && !p.value.generator) edits.push([p.value.start, ':(function'], [p.value.end, ')'])
      }
    }
    for (const key of Object.keys(node)) {
      const v = node[key]
      if (Array.isArray(v)) v.forEach(visit)
      else if (v && typeof v === 'object' && key !== 'loc') visit(v)
    }
  }
  visit(parse(code, {ecmaVersion: 'latest', sourceType: 'module'}))
  edits.sort((a, b) => b[0] - a[0])
  for (const [at, text] of edits) code = code.slice(0, at) + text + code.slice(at)
  return code
}

/**
 * oclif's index requires every module of oclif when it is evaluated (its Config and plugin loader, help, the parser's
 * stdin reader with node:readline, performance marks with node:perf_hooks, …), about 15 ms of every command that needs
 * only its Command class, parser and error handling. In oclif's own modules, a module is evaluated when first used
 * (scripts/lazy-requires.mjs).
 */
const isOclifModule = (path) => path.startsWith('node_modules/@oclif/core/lib/')

/**
 * Node makes an ES module facade for each built-in module that an ES module imports, reading every export once: for
 * node:fs that loads fs streams and fs/promises (about 5 ms) whether or not they are used. The chunks have a
 * require() of their own (the banner), so `import {readFileSync as r} from "node:fs"` is written
 * `const {readFileSync: r} = require("node:fs")`: the same values (a built-in's default export is its
 * module.exports), no facade. Namespace imports and re-exports stay as they are.
 */
function builtinRequires(code) {
  const edits = []
  for (const node of parse(code, {ecmaVersion: 'latest', sourceType: 'module'}).body) {
    if (node.type !== 'ImportDeclaration' || !String(node.source.value).startsWith('node:')) continue
    if (node.specifiers.some((s) => s.type === 'ImportNamespaceSpecifier')) continue
    const from = `require(${JSON.stringify(node.source.value)})`
    const parts = []
    for (const s of node.specifiers) {
      if (s.type === 'ImportDefaultSpecifier') parts.push(`const ${s.local.name} = ${from};`)
    }
    const named = node.specifiers.filter((s) => s.type === 'ImportSpecifier').map((s) => `${JSON.stringify(s.imported.name ?? s.imported.value)}: ${s.local.name}`)
    if (named.length > 0) parts.push(`const {${named.join(', ')}} = ${from};`)
    edits.push([node.start, node.end, parts.length > 0 ? parts.join('') : `${from};`])
  }
  edits.sort((a, b) => b[0] - a[0])
  for (const [start, end, text] of edits) code = code.slice(0, start) + text + code.slice(end)
  return code
}

/**
 * The chunks import each other; with a cycle, a chunk's body could run after code of another chunk that calls into
 * it, and a `const` written by builtinRequires would not be set yet (an ES import would have been). The build fails
 * on a cycle rather than risk it.
 */
function checkAcyclic(outputs) {
  const imports = new Map(Object.entries(outputs).map(([file, o]) => [file, o.imports.filter((i) => i.kind === 'import-statement').map((i) => i.path)]))
  const state = new Map()
  const visit = (file, path) => {
    if (state.get(file) === 'done') return
    if (state.get(file) === 'open') throw new Error(`the bundle's chunks import each other in a cycle: ${[...path, file].join(' -> ')}; review builtinRequires in scripts/bundle.mjs`)
    state.set(file, 'open')
    for (const next of imports.get(file) ?? []) visit(next, [...path, file])
    state.set(file, 'done')
  }
  for (const file of imports.keys()) visit(file, [])
}

rmSync(out, {recursive: true, force: true})
const result = await build({
  entryPoints: [...commands.map((f) => ({in: join(commandsDir, f), out: join('commands', f.replace(/\.js$/, ''))})), {in: join(commandsDir, '_run.js'), out: 'oclif'}],
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS dependencies (oclif, yaml, simple-git) require() Node's built-ins; an ES module has no require of its own.
  // process.getBuiltinModule (Node >= 22.3): no ES module facade of node:module (see builtinRequires). Through
  // globalThis: a chunk that imported node:process has its own `const process` below, not yet set here.
  // One require for all chunks (made by the first that loads): they all live under dist/cli, so what they require (Node's
  // built-ins, and typescript from node_modules) resolves the same from each; createRequire costs about 0.1 ms a chunk.
  banner: {js: "const require = (globalThis[Symbol.for('skycap.require')] ??= globalThis.process.getBuiltinModule('node:module').createRequire(import.meta.url));"},
  minifySyntax: true,
  minifyWhitespace: true,
  keepNames: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  // Loaded by oclif only to read a tsconfig.json in development (NODE_ENV=development); a devDependency.
  external: ['typescript'],
  plugins: [distUrls, cjsDynamicImports, sourcePatches],
})
checkAcyclic(result.metafile.outputs)
for (const file of Object.keys(result.metafile.outputs)) {
  if (file.endsWith('.js')) writeFileSync(join(root, file), eagerModules(lazyRequires(builtinRequires(readFileSync(join(root, file), 'utf8')), isOclifModule)))
}
// What each file of the bundle holds (for tests and size reports); not part of the package.
writeFileSync(join(dist, 'cli-meta.json'), JSON.stringify(result.metafile))
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0)
process.stderr.write(`bundle: ${commands.length} commands, ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 1024).toFixed(0)} KiB in dist/cli\n`)
