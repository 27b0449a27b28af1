/**
 * The fixed cost of starting skycap, on each supported Node line (24 and 22), against two baselines measured here:
 *
 * - `node -e 0`, for commands that do not reach the cluster: `render staging` and `config validate` on the example
 *   app (three services, a scratch git repository), `deploy --help` (through oclif), and `--version`/`--help` (the
 *   fast path in bin/run.js), with Node's module compile cache on (warm, as every run after the first) and off, and
 *   render and validate once more without skycap.yaml's cache (SKYCAP_NO_CONFIG_CACHE=1; it is warm everywhere else).
 *   Target: at most 2x.
 * - the same kubectl calls run directly, for commands that call kubectl: `lock status` and `status` of the example
 *   app's dev environment against a test cluster (SKYCAP_BENCH_KUBECONFIG, else one started with test/cluster/up.sh
 *   without the real node). The calls are the ones `--verbose` prints, replayed in the same order (`status` runs
 *   its last two at once, as skycap does), skycap.yaml's cache warm (the `--verbose` run fills it). Target: skycap
 *   adds at most 100 ms. SKYCAP_BENCH_NO_CLUSTER=1 skips it.
 *
 * Then where the time goes (oclif's markers, a CPU profile by package).
 *
 *   node dist/bench/startup.js [runs]     (default 10 runs per variant, interleaved)
 *
 * The CLI runs from a scratch copy of what the package ships (package.json "files": bin/, the bundle in dist/cli,
 * the oclif manifest; node_modules linked), so the repository is never changed. Node 24 and 22 come from
 * scripts/node.sh: the machine's when it is of that line, otherwise the pinned build installed from the npm registry
 * into ~/.cache/skycap-node.
 */
import {spawn, spawnSync} from 'node:child_process'
import {cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, relative} from 'node:path'
import {pathToFileURL} from 'node:url'

import {type Cluster, fmt, machine, median, realKubectl, repoRoot, shopRepo, startCluster, table, timeOk, verdict} from './measure.js'

const runs = Number(process.argv[2] ?? 10)
const LINES = ['24', '22']

/** A runnable copy of the built CLI as the package ships it (package.json "files"), with its oclif manifest. */
function scratchCli(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skycap-bench-startup-'))
  const files = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {files: string[]}).files
  for (const part of [...files, 'package.json']) if (existsSync(join(repoRoot, part))) cpSync(join(repoRoot, part), join(dir, part), {recursive: true})
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir')
  timeOk(process.execPath, [join(repoRoot, 'node_modules', 'oclif', 'bin', 'run.js'), 'manifest'], {cwd: dir})
  if (!existsSync(join(dir, 'oclif.manifest.json'))) throw new Error('oclif manifest wrote no oclif.manifest.json')
  return dir
}

/** The node binary of a supported line, through scripts/node.sh (which may install it). */
function nodeOfLine(line: string): string {
  const r = spawnSync('bash', [join(repoRoot, 'scripts', 'node.sh'), '--line', line, '--bin'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']})
  if (r.status !== 0) throw new Error(`scripts/node.sh --line ${line} --bin exited ${r.status}`)
  return join(r.stdout.trim(), 'node')
}

interface Variant {
  name: string
  args: string[]
  cwd: string
  env: NodeJS.ProcessEnv
  times: number[]
}

interface CpuProfile {
  nodes: Array<{id: number; callFrame: {url: string; functionName: string}}>
  samples: number[]
  timeDeltas: number[]
}

/** Self time per package (node_modules/<name>), skycap's own dist/ folders, node internals, GC and the rest. */
function profileByPackage(profile: CpuProfile, root: string): Map<string, number> {
  const where = new Map<number, string>()
  for (const n of profile.nodes) {
    const {url, functionName} = n.callFrame
    let key: string
    if (!url) key = functionName.startsWith('(') ? functionName : '(native)'
    else if (url.startsWith('node:')) key = 'node: internals (module loader, fs, ...)'
    else {
      const path = url.replace(/^file:\/\//, '')
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)
      key = m ? `node_modules/${m[1]}` : relative(root, path).split('/').slice(0, 2).join('/')
    }
    where.set(n.id, key)
  }
  const out = new Map<string, number>()
  profile.samples.forEach((id, i) => {
    const key = where.get(id) ?? '?'
    out.set(key, (out.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
  })
  return out
}

// Runs the CLI through execute() with oclif's performance markers on; they are printed on stderr (DEBUG=oclif:perf).
const PERF_RUN = `import {execute, settings} from '@oclif/core'
settings.performanceEnabled = true
await execute({dir: process.argv[2], args: process.argv.slice(3)})
`

// Prints, as JSON, the CommonJS modules importing @oclif/core loaded, by package.
const COUNT_MODULES = `import {createRequire} from 'node:module'
import {statSync} from 'node:fs'
await import('@oclif/core')
const files = Object.keys(createRequire(import.meta.url).cache)
const byPackage = {}
for (const f of files) {
  const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(f)
  const k = m ? m[1] : f
  byPackage[k] = (byPackage[k] ?? 0) + 1
}
const kib = files.reduce((n, f) => n + statSync(f).size, 0) / 1024
console.log(JSON.stringify({count: files.length, kib, byPackage: Object.fromEntries(Object.entries(byPackage).sort((a, b) => b[1] - a[1]))}))
`

function oclifPerf(stderr: string): {uptime: number; oclif: number} {
  const read = (label: string) => Number(new RegExp(`${label}: ([\\d.]+)ms`).exec(stderr)?.[1] ?? Number.NaN)
  return {uptime: read('Process Uptime'), oclif: read('Oclif Time')}
}

/** Every variant of one Node line, timed interleaved; returns the medians by name. */
function measureLine(node: string, cli: string, app: string, cacheHome: string): Map<string, number> {
  const run = join(cli, 'bin', 'run.js')
  // Nothing from the caller's environment may turn the cache on or off behind the bench's back.
  const base: NodeJS.ProcessEnv = {...process.env, XDG_CACHE_HOME: cacheHome, NO_COLOR: '1'}
  for (const k of ['NODE_COMPILE_CACHE', 'NODE_DISABLE_COMPILE_CACHE', 'SKYCAP_NO_COMPILE_CACHE', 'SKYCAP_NO_FAST_PATH']) delete base[k]
  const cacheOn = base
  const cacheOff = {...base, SKYCAP_NO_COMPILE_CACHE: '1'}
  const commands: Array<[string, string[], string]> = [
    ['render staging', ['render', 'staging'], app],
    ['config validate', ['config', 'validate'], app],
    ['deploy --help', ['deploy', '--help'], cli],
    ['--version (fast path)', ['--version'], cli],
    ['--help (fast path)', ['--help'], cli],
  ]
  const variants: Variant[] = [{name: 'node -e 0', args: ['-e', '0'], cwd: cli, env: base, times: []}]
  for (const [name, args, cwd] of commands) {
    variants.push({name: `${name}, cache off`, args: [run, ...args], cwd, env: cacheOff, times: []})
    variants.push({name: `${name}, cache on`, args: [run, ...args], cwd, env: cacheOn, times: []})
  }
  // What skycap.yaml's cache (src/config/cache.ts; warm in every variant above, as on every run after the first) saves.
  for (const [name, args, cwd] of commands.slice(0, 2)) variants.push({name: `${name}, no config cache`, args: [run, ...args], cwd, env: {...cacheOn, SKYCAP_NO_CONFIG_CACHE: '1'}, times: []})
  // Whether the fast path still pays: the same two flags through oclif, with the cache on.
  for (const flag of ['--version', '--help']) variants.push({name: `${flag} through oclif, cache on`, args: [run, flag], cwd: cli, env: {...cacheOn, SKYCAP_NO_FAST_PATH: '1'}, times: []})

  for (const v of variants) timeOk(node, v.args, {cwd: v.cwd, env: v.env}) // warms the page cache and fills the compile cache; not counted
  for (let i = 0; i < runs; i++) for (const v of variants) v.times.push(timeOk(node, v.args, {cwd: v.cwd, env: v.env}).ms)
  return new Map(variants.map((v) => [v.name, median(v.times)]))
}

function report(line: string, node: string, m: Map<string, number>): Array<[string, number]> {
  const get = (name: string) => m.get(name) ?? Number.NaN
  const base = get('node -e 0')
  console.log(`\nNode ${line} (${node}): node -e 0 ${fmt.ms(base)} ms (median of ${runs})`)
  const targets: Array<[string, number]> = []
  const rows = ['render staging', 'config validate', 'deploy --help', '--version (fast path)', '--help (fast path)'].map((name) => {
    const off = get(`${name}, cache off`)
    const on = get(`${name}, cache on`)
    targets.push([`Node ${line}: skycap ${name}`, on / base])
    return [name, fmt.ms(off), fmt.ms(on), fmt.ratio(off / base), fmt.ratio(on / base), fmt.ratio(on / off), fmt.ms(on - base)]
  })
  table(['command', 'compile cache off ms', 'on ms', 'off / node -e 0', 'on / node -e 0', 'on / off', 'fixed cost ms (on - node)'], rows)
  console.log("skycap.yaml's cache (warm above), compile cache on:")
  for (const name of ['render staging', 'config validate']) {
    const without = get(`${name}, no config cache`)
    const withIt = get(`${name}, cache on`)
    console.log(`  ${name}: ${fmt.ms(withIt)} ms against ${fmt.ms(without)} ms without it (SKYCAP_NO_CONFIG_CACHE=1, ${fmt.ratio(without / base)} node -e 0), saves ${fmt.ms(without - withIt)} ms`)
  }
  console.log('fast path (cache on) against the same flag through oclif:')
  for (const flag of ['--version', '--help']) {
    const viaFast = get(`${flag} (fast path), cache on`)
    const viaOclif = get(`${flag} through oclif, cache on`)
    console.log(
      `  ${flag}: ${fmt.ms(viaFast)} ms against ${fmt.ms(viaOclif)} ms, ${fmt.ratio(viaFast / viaOclif)}, saves ${fmt.ms(viaOclif - viaFast)} ms: ${viaOclif - viaFast > 20 ? 'still pays' : 'does not pay'}`,
    )
  }
  return targets
}

// The commands that call kubectl: after the first call, `status` makes its other two at once (src/deploy/inspect.ts).
const KUBECTL_COMMANDS: Array<{args: string[]; concurrentAfter: number}> = [
  {args: ['lock', 'status', 'dev'], concurrentAfter: Number.POSITIVE_INFINITY},
  {args: ['status', 'dev'], concurrentAfter: 1},
]

/** The kubectl argv lists `skycap ARGS --verbose` prints (`$ kubectl ...` on stderr), in order. */
function kubectlCalls(node: string, run: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): string[][] {
  const r = spawnSync(node, [run, ...args, '--verbose'], {cwd, env, encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`skycap ${args.join(' ')} --verbose exited ${r.status}: ${r.stderr}`)
  const calls = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('$ kubectl '))
    .map((l) => {
      if (/["'\\]/.test(l)) throw new Error(`cannot replay a quoted kubectl call: ${l}`)
      return l.slice(2).split(' ').slice(1)
    })
  if (calls.length === 0) throw new Error(`skycap ${args.join(' ')} --verbose printed no kubectl call`)
  return calls
}

function runAsync(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {env, stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${file} ${args.join(' ')} exited ${code}: ${stderr}`))))
  })
}

/** The same kubectl calls, run directly: in order, the ones from `concurrentAfter` on at once. */
async function replay(kubectl: string, calls: string[][], concurrentAfter: number, env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = process.hrtime.bigint()
  for (const call of calls.slice(0, concurrentAfter)) await runAsync(kubectl, call, env)
  await Promise.all(calls.slice(concurrentAfter).map((call) => runAsync(kubectl, call, env)))
  return Number(process.hrtime.bigint() - t0) / 1e6
}

/** skycap's time against its kubectl calls' own, interleaved; returns [name, ms skycap adds] per command. */
async function measureKubectl(line: string, node: string, cli: string, app: string, cacheHome: string, cluster: Cluster): Promise<Array<[string, number]>> {
  const kubectl = realKubectl()
  const env: NodeJS.ProcessEnv = {...process.env, XDG_CACHE_HOME: cacheHome, NO_COLOR: '1', KUBECONFIG: cluster.kubeconfig, PATH: `${dirname(kubectl)}:${process.env.PATH}`}
  for (const k of ['NODE_COMPILE_CACHE', 'NODE_DISABLE_COMPILE_CACHE', 'SKYCAP_NO_COMPILE_CACHE', 'SKYCAP_NO_FAST_PATH']) delete env[k]
  const run = join(cli, 'bin', 'run.js')
  const out: Array<[string, number]> = []
  const rows: string[][] = []
  for (const {args, concurrentAfter} of KUBECTL_COMMANDS) {
    const calls = kubectlCalls(node, run, args, app, env)
    const viaSkycap: number[] = []
    const direct: number[] = []
    await replay(kubectl, calls, concurrentAfter, env) // warms the page cache; not counted
    for (let i = 0; i < runs; i++) {
      viaSkycap.push(timeOk(node, [run, ...args], {cwd: app, env}).ms)
      direct.push(await replay(kubectl, calls, concurrentAfter, env))
    }
    const [s, k] = [median(viaSkycap), median(direct)]
    rows.push([`skycap ${args.join(' ')}`, String(calls.length), fmt.ms(k), fmt.ms(s), fmt.ratio(s / k), fmt.ms(s - k)])
    out.push([`Node ${line}: skycap ${args.join(' ')}`, s - k])
  }
  console.log(`
Node ${line}: commands that call kubectl, against the same kubectl calls run directly (median of ${runs}, interleaved)`)
  table(['command', 'kubectl calls', 'kubectl ms', 'skycap ms', 'skycap / kubectl', 'skycap adds ms'], rows)
  return out
}

/** Where the time goes, on one Node: what @oclif/core loads, oclif's own markers, a CPU profile of `deploy --help`. */
function whereTheTimeGoes(node: string, cli: string, cacheHome: string): void {
  const env = {...process.env, XDG_CACHE_HOME: cacheHome}
  const count = timeOk(node, ['--input-type=module', '-e', COUNT_MODULES], {cwd: cli, stdout: join(cli, 'modules.json')})
  const modules = JSON.parse(readFileSync(join(cli, 'modules.json'), 'utf8')) as {count: number; kib: number; byPackage: Record<string, number>}
  const top = Object.entries(modules.byPackage).slice(0, 6)
  console.log(
    `\nfor comparison, import '@oclif/core' unbundled (from node_modules, as before dist/cli) loads ${modules.count} CommonJS modules (${modules.kib.toFixed(0)} KiB of source) in ${fmt.ms(count.ms)} ms wall; most from: ${top.map(([k, v]) => `${k} ${v}`).join(', ')}`,
  )

  writeFileSync(join(cli, 'perf.mjs'), PERF_RUN)
  const samples = Array.from({length: 5}, () =>
    oclifPerf(timeOk(node, [join(cli, 'perf.mjs'), pathToFileURL(join(cli, 'bin', 'run.js')).href, 'deploy', '--help'], {cwd: cli, env: {...env, DEBUG: 'oclif:perf'}}).stderr),
  )
  const uptime = median(samples.map((s) => s.uptime))
  const inOclif = median(samples.map((s) => s.oclif))
  console.log(`oclif's markers for \`deploy --help\` (median of 5, no compile cache here): done at ${fmt.ms(uptime)} ms of process uptime, ${fmt.ms(inOclif)} ms of it inside oclif`)

  const profDir = mkdtempSync(join(tmpdir(), 'skycap-bench-cpuprof-'))
  try {
    timeOk(node, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=100', join(cli, 'bin', 'run.js'), 'deploy', '--help'], {cwd: cli, env})
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))
    if (!file) return
    const groups = profileByPackage(JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile, cli)
    const total = [...groups.values()].reduce((a, b) => a + b, 0)
    console.log('CPU profile of `skycap deploy --help`, compile cache on (warm), self time by where the code lives (top 8):')
    const rows = [...groups.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8)
    table(
      ['where', 'ms', 'share'],
      rows.map(([k, v]) => [k, fmt.ms(v), `${((v / total) * 100).toFixed(0)}%`]),
    )
  } finally {
    rmSync(profDir, {recursive: true, force: true})
  }
}

async function main(): Promise<void> {
  const cli = scratchCli()
  const app = shopRepo('startup')
  const cacheHome = mkdtempSync(join(tmpdir(), 'skycap-bench-cache-'))
  let cluster: Cluster | undefined
  try {
    console.log(`skycap start-up: ${runs} runs per variant, interleaved; ${machine()}`)
    const nodes = LINES.map((line) => [line, nodeOfLine(line)] as const)
    const fixed: Array<[string, number]> = []
    for (const [line, node] of nodes) fixed.push(...report(line, node, measureLine(node, cli, app, cacheHome)))
    const added: Array<[string, number]> = []
    if (!process.env.SKYCAP_BENCH_NO_CLUSTER) {
      // No real containers are needed: the commands only read.
      process.env.SKYCAP_CLUSTER_REAL_NODE ??= '0'
      cluster = startCluster('skycap-bench-startup', process.env.SKYCAP_BENCH_KUBECONFIG)
      for (const [line, node] of nodes) added.push(...(await measureKubectl(line, node, cli, app, cacheHome, cluster)))
    }
    const newest = nodes[0]
    if (newest) whereTheTimeGoes(newest[1], cli, cacheHome)
    console.log('\ntarget: a command that does not reach the cluster at most 2x node -e 0 (compile cache on)')
    for (const [name, ratio] of fixed) console.log(`  ${name}: ${fmt.ratio(ratio)} ${verdict(ratio <= 2)}`)
    if (added.length) console.log('target: a command that calls kubectl adds at most 100 ms to its kubectl calls')
    for (const [name, ms] of added) console.log(`  ${name}: +${fmt.ms(ms)} ms ${verdict(ms <= 100)}`)
  } finally {
    cluster?.stop()
    for (const dir of [cli, app, cacheHome]) rmSync(dir, {recursive: true, force: true})
  }
}

await main()
