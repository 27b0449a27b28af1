/**
 * Cold start of the CLI against `node -e 0`, with and without oclif.manifest.json, and where the time goes.
 *
 *   node dist/bench/startup.js [runs]     (default 15 runs per variant, interleaved)
 *
 * The CLI runs from two scratch copies of bin/, dist/commands, dist/src and package.json (node_modules linked):
 * one without a manifest and one with the manifest `oclif manifest` writes. The repository itself is never changed,
 * so people working in it at the same time never see a stale manifest.
 */
import {cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative} from 'node:path'
import {pathToFileURL} from 'node:url'

import {fmt, machine, median, percentile, repoRoot, table, timeOk, verdict} from './measure.js'

const runs = Number(process.argv[2] ?? 15)

/** A runnable copy of the built CLI, optionally with its oclif manifest. */
function scratchCli(withManifest: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), `skycap-bench-startup-${withManifest ? 'manifest' : 'plain'}-`))
  // As the package ships (package.json "files"): dist/help.txt is what `--help` prints without loading oclif.
  for (const part of ['bin', 'dist/commands', 'dist/src', 'dist/help.txt', 'templates', 'package.json']) cpSync(join(repoRoot, part), join(dir, part), {recursive: true})
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir')
  if (withManifest) {
    timeOk(process.execPath, [join(repoRoot, 'node_modules', 'oclif', 'bin', 'run.js'), 'manifest'], {cwd: dir})
    if (!existsSync(join(dir, 'oclif.manifest.json'))) throw new Error('oclif manifest wrote no oclif.manifest.json')
  }
  return dir
}

function commandFiles(dir: string): string[] {
  const root = join(dir, 'dist', 'commands')
  return readdirSync(root, {recursive: true, encoding: 'utf8'})
    .filter((f) => f.endsWith('.js') && !f.split('/').pop()?.startsWith('_'))
    .map((f) => join(root, f))
}

interface Variant {
  name: string
  file: string
  args: string[]
  cwd?: string
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

interface OclifPerf {
  uptime: number
  oclif: number
  rootPlugin: number
}

function oclifPerf(stderr: string): OclifPerf {
  const read = (label: string) => Number(new RegExp(`${label}: ([\\d.]+)ms`).exec(stderr)?.[1] ?? Number.NaN)
  return {uptime: read('Process Uptime'), oclif: read('Oclif Time'), rootPlugin: read('Root Plugin Load Time')}
}

function main(): void {
  const plain = scratchCli(false)
  const withManifest = scratchCli(true)
  try {
    const node = process.execPath
    const importAll = (files: string[]) => `await Promise.all(${JSON.stringify(files)}.map((f) => import(f)))`
    const variants: Variant[] = [
      {name: 'node -e 0 (baseline)', file: node, args: ['-e', '0'], times: []},
      {name: 'skycap --version, no manifest', file: node, args: [join(plain, 'bin', 'run.js'), '--version'], times: []},
      {name: 'skycap --help, no manifest', file: node, args: [join(plain, 'bin', 'run.js'), '--help'], times: []},
      {name: 'skycap --version, manifest', file: node, args: [join(withManifest, 'bin', 'run.js'), '--version'], times: []},
      {name: 'skycap --help, manifest', file: node, args: [join(withManifest, 'bin', 'run.js'), '--help'], times: []},
      // The parts: what importing @oclif/core costs alone, and with every command module (what oclif loads without a manifest).
      {name: "import '@oclif/core' only", file: node, args: ['--input-type=module', '-e', "await import('@oclif/core')"], cwd: plain, times: []},
      {name: 'import @oclif/core + all commands', file: node, args: ['--input-type=module', '-e', `await import('@oclif/core'); ${importAll(commandFiles(plain))}`], cwd: plain, times: []},
    ]

    console.log(`skycap start-up: ${runs} runs per variant, interleaved; ${machine()}`)
    console.log(`repository has oclif.manifest.json: ${existsSync(join(repoRoot, 'oclif.manifest.json')) ? 'yes' : 'no'}; ${commandFiles(plain).length} command modules`)
    for (const v of variants) timeOk(v.file, v.args, {cwd: v.cwd ?? plain}) // warm the page cache; not counted
    for (let i = 0; i < runs; i++) {
      for (const v of variants) v.times.push(timeOk(v.file, v.args, {cwd: v.cwd ?? plain}).ms)
    }

    const base = median(variants[0]?.times ?? [])
    console.log()
    table(
      ['variant', 'median ms', 'p90 ms', 'min ms', 'median / node -e 0'],
      variants.map((v) => [v.name, fmt.ms(median(v.times)), fmt.ms(percentile(v.times, 90)), fmt.ms(Math.min(...v.times)), fmt.ratio(median(v.times) / base)]),
    )

    // Where the time goes. 1: what importing @oclif/core loads (it is CommonJS and requires everything up front).
    const count = timeOk(node, ['--input-type=module', '-e', COUNT_MODULES], {cwd: plain, stdout: join(plain, 'modules.json')})
    const modules = JSON.parse(readFileSync(join(plain, 'modules.json'), 'utf8')) as {count: number; kib: number; byPackage: Record<string, number>}
    console.log(
      `\nimport '@oclif/core' loads ${modules.count} CommonJS modules (${modules.kib.toFixed(0)} KiB of source) in ${fmt.ms(count.ms)} ms wall; most from: ${Object.entries(modules.byPackage)
        .slice(0, 6)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    )

    // 2: oclif's own performance markers (settings.performanceEnabled, DEBUG=oclif:perf), median of 5 runs each.
    console.log('\noclif performance markers (median of 5 runs): process uptime when oclif is done, time inside oclif, of it loading the root plugin')
    const perfRows: Array<Array<string>> = []
    for (const [label, dir] of [
      ['no manifest', plain],
      ['manifest', withManifest],
    ] as const) {
      writeFileSync(join(dir, 'perf.mjs'), PERF_RUN)
      for (const arg of ['--version', '--help']) {
        const samples = Array.from({length: 5}, () =>
          oclifPerf(timeOk(node, [join(dir, 'perf.mjs'), pathToFileURL(join(dir, 'bin', 'run.js')).href, arg], {cwd: dir, env: {...process.env, DEBUG: 'oclif:perf'}}).stderr),
        )
        const pick = (k: keyof OclifPerf) => fmt.ms(median(samples.map((x) => x[k])))
        perfRows.push([`${arg}, ${label}`, pick('uptime'), pick('oclif'), pick('rootPlugin'), fmt.ms(median(samples.map((x) => x.uptime - x.oclif)))])
      }
    }
    table(['run', 'uptime ms', 'in oclif ms', 'root plugin load ms', 'before oclif runs ms (node + imports)'], perfRows)

    // 3: one CPU profile of --help without a manifest, self time grouped by where the code lives.
    const profDir = mkdtempSync(join(tmpdir(), 'skycap-bench-cpuprof-'))
    try {
      timeOk(node, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=100', join(plain, 'bin', 'run.js'), '--help'], {cwd: plain})
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))
      if (file) {
        const groups = profileByPackage(JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile, plain)
        const total = [...groups.values()].reduce((a, b) => a + b, 0)
        console.log('\nCPU profile of `skycap --help` (no manifest), self time by where the code lives (top 8):')
        table(
          ['where', 'ms', 'share'],
          [...groups.entries()]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 8)
            .map(([k, v]) => [k, fmt.ms(v), `${((v / total) * 100).toFixed(0)}%`]),
        )
      }
    } finally {
      rmSync(profDir, {recursive: true, force: true})
    }

    const ratio = (name: string) => median(variants.find((v) => v.name === name)?.times ?? []) / base
    console.log('\ntarget: skycap --version and --help at most 2x node -e 0')
    for (const name of ['skycap --version, no manifest', 'skycap --help, no manifest', 'skycap --version, manifest', 'skycap --help, manifest']) {
      console.log(`  ${name}: ${fmt.ratio(ratio(name))} ${verdict(ratio(name) <= 2)}`)
    }
  } finally {
    rmSync(plain, {recursive: true, force: true})
    rmSync(withManifest, {recursive: true, force: true})
  }
}

main()
