/**
 * Rendering 100, 1000 and 3000 objects (N services x ConfigMap + Service + Deployment) with skycap against
 * `kubectl kustomize` of the same objects.
 *
 *   node dist/bench/render.js [services...]      (default 34 334 1000)
 *
 * Per size: the whole CLI (`skycap render bench > /dev/null`), the engine in a child process (prepareRelease +
 * toYaml, first call and warm calls), and kustomize over the objects skycap rendered, one file each, listed as
 * resources in a kustomization.yaml. Runs of the CLI and kustomize are interleaved.
 */
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {PerformanceObserver} from 'node:perf_hooks'
import {fileURLToPath} from 'node:url'

import {benchApp} from './app.js'
import {cliPath, fmt, machine, median, realKubectl, table, timeOk, verdict} from './measure.js'

interface EngineResult {
  importMs: number
  /** prepareRelease + toYaml per call; the first call loads yaml, liquidjs and ajv. */
  times: number[]
  prepareMs: number[]
  yamlMs: number[]
  /** Garbage collection during each call (PerformanceObserver 'gc' entries). */
  gcMs: number[]
  objects: number
  bytes: number
  maxRssMiB: number
}

/** Child mode: time the engine in this process and print one JSON line. */
async function engine(dir: string, calls: number): Promise<void> {
  const t0 = performance.now()
  const {prepareRelease} = await import('../src/render/prepare.js')
  const {toYaml} = await import('../src/render/serialize.js')
  const out: EngineResult = {importMs: performance.now() - t0, times: [], prepareMs: [], yamlMs: [], gcMs: [], objects: 0, bytes: 0, maxRssMiB: 0}
  let gc = 0
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gc += e.duration
  })
  observer.observe({entryTypes: ['gc']})
  for (let i = 0; i < calls; i++) {
    const gcBefore = gc
    const a = performance.now()
    const prepared = await prepareRelease({target: 'bench', cwd: dir})
    const b = performance.now()
    const yaml = await toYaml(prepared.objects.map((r) => r.object))
    const c = performance.now()
    out.times.push(c - a)
    out.prepareMs.push(b - a)
    out.yamlMs.push(c - b)
    // GC entries arrive asynchronously: let them in before reading the sum.
    await new Promise((resolve) => setTimeout(resolve, 20))
    out.gcMs.push(gc - gcBefore)
    out.objects = prepared.objects.length
    out.bytes = yaml.length
  }
  observer.disconnect()
  out.maxRssMiB = process.resourceUsage().maxRSS / 1024
  console.log(JSON.stringify(out))
}

interface SizeResult {
  services: number
  objects: number
  cli: number[]
  cliRss: number[]
  kustomize: number[]
  kustomizeRss: number[]
  engine: EngineResult
}

async function measureSize(services: number, rounds: number, kubectl: string): Promise<SizeResult> {
  const repo = await benchApp({services, environment: 'bench', namespace: 'bench'})
  const kdir = mkdtempSync(join(tmpdir(), `skycap-bench-kustomize-${services}-`))
  try {
    const cwd = repo.dir
    // The objects for kustomize: what skycap renders, one file per object.
    timeOk(process.execPath, [cliPath, 'render', 'bench', '--output-dir', kdir], {cwd})
    const files = readdirSync(kdir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
    writeFileSync(join(kdir, 'kustomization.yaml'), ['apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization', 'resources:', ...files.map((f) => `- ${f}`), ''].join('\n'))

    const result: SizeResult = {services, objects: files.length, cli: [], cliRss: [], kustomize: [], kustomizeRss: [], engine: undefined as unknown as EngineResult}
    for (let i = 0; i < rounds; i++) {
      const c = timeOk(process.execPath, [cliPath, 'render', 'bench'], {cwd, rss: true})
      result.cli.push(c.ms)
      result.cliRss.push(c.rssMiB ?? Number.NaN)
      const k = timeOk(kubectl, ['kustomize', kdir], {rss: true})
      result.kustomize.push(k.ms)
      result.kustomizeRss.push(k.rssMiB ?? Number.NaN)
    }
    const engineOut = join(kdir, 'engine.json')
    timeOk(process.execPath, [fileURLToPath(import.meta.url), '--engine', cwd, String(Math.max(rounds + 1, 6))], {stdout: engineOut})
    result.engine = JSON.parse(readFileSync(engineOut, 'utf8')) as EngineResult
    return result
  } finally {
    repo.remove()
    rmSync(kdir, {recursive: true, force: true})
  }
}

async function main(): Promise<void> {
  const sizes = process.argv.slice(2).map(Number)
  const services = sizes.length ? sizes : [34, 334, 1000]
  const kubectl = realKubectl()
  console.log(`skycap render vs kubectl kustomize (${kubectl}); ${machine()}`)
  const results: SizeResult[] = []
  for (const n of services) {
    const rounds = n * 3 <= 200 ? 5 : 3
    const r = await measureSize(n, rounds, kubectl)
    results.push(r)
    console.log(`  measured ${r.objects} objects (${n} services), ${rounds} rounds`)
  }

  const warm = (e: EngineResult) => median(e.times.slice(1))
  console.log('\nwall time, median (ms); skycap CLI = `node bin/run.js render bench > /dev/null`; engine = prepareRelease + toYaml in-process')
  table(
    ['objects', 'skycap CLI', 'engine, 1st call', 'engine, warm', 'kustomize', 'CLI / kustomize', 'engine warm / kustomize'],
    results.map((r) => [
      r.objects,
      fmt.ms(median(r.cli)),
      fmt.ms(r.engine.times[0] ?? Number.NaN),
      fmt.ms(warm(r.engine)),
      fmt.ms(median(r.kustomize)),
      fmt.ratio(median(r.cli) / median(r.kustomize)),
      fmt.ratio(warm(r.engine) / median(r.kustomize)),
    ]),
  )

  console.log('\nwhere the engine time goes, warm median (ms): config + revision + render, then YAML output; GC within the call')
  table(
    ['objects', 'prepareRelease', 'toYaml', 'GC', 'GC share', 'YAML bytes', 'import of engine modules'],
    results.map((r) => {
      const gc = median(r.engine.gcMs.slice(1))
      return [
        r.objects,
        fmt.ms(median(r.engine.prepareMs.slice(1))),
        fmt.ms(median(r.engine.yamlMs.slice(1))),
        fmt.ms(gc),
        `${((gc / warm(r.engine)) * 100).toFixed(0)}%`,
        r.engine.bytes,
        fmt.ms(r.engine.importMs),
      ]
    }),
  )

  console.log('\nlinearity: time per object (ms), and the marginal cost per added object between sizes')
  table(
    ['objects', 'CLI ms/object', 'engine warm ms/object', 'kustomize ms/object', 'CLI marginal', 'engine marginal', 'kustomize marginal'],
    results.map((r, i) => {
      const prev = results[i - 1]
      const marginal = (now: number, before: number | undefined) => (prev && before !== undefined ? ((now - before) / (r.objects - prev.objects)).toFixed(3) : '-')
      return [
        r.objects,
        (median(r.cli) / r.objects).toFixed(3),
        (warm(r.engine) / r.objects).toFixed(3),
        (median(r.kustomize) / r.objects).toFixed(3),
        marginal(median(r.cli), prev && median(prev.cli)),
        marginal(warm(r.engine), prev && warm(prev.engine)),
        marginal(median(r.kustomize), prev && median(prev.kustomize)),
      ]
    }),
  )

  console.log('\npeak memory (MiB): RSS of the CLI and kustomize processes (/usr/bin/time), maxRSS of the engine child')
  table(
    ['objects', 'skycap CLI', 'engine child', 'kustomize'],
    results.map((r) => [r.objects, fmt.mib(Math.max(...r.cliRss)), fmt.mib(r.engine.maxRssMiB), fmt.mib(Math.max(...r.kustomizeRss))]),
  )

  const largest = results.at(-1)
  const first = results[0]
  if (largest && first && largest !== first) {
    const growth = (xs: (r: SizeResult) => number) => (xs(largest) / xs(first) / (largest.objects / first.objects)).toFixed(2)
    console.log(
      `\ngrowth from ${first.objects} to ${largest.objects} objects, time ratio divided by object ratio (1.00 = linear, below 1 = fixed costs dominate the small size, above 1 = superlinear):`,
    )
    console.log(`  skycap CLI ${growth((r) => median(r.cli))}, engine warm ${growth((r) => warm(r.engine))}, kustomize ${growth((r) => median(r.kustomize))}`)
    const ratio = median(largest.cli) / median(largest.kustomize)
    console.log(`\ntarget: ${largest.objects} objects in at most 0.25x kustomize's time: CLI ${fmt.ratio(ratio)} ${verdict(ratio <= 0.25)}`)
    if (results.length >= 3) {
      // Linear means the cost of one more object does not rise with size: compare the marginal cost of the last
      // step with that of the step before (fixed costs cancel out).
      const [a, b, c] = results.slice(-3) as [SizeResult, SizeResult, SizeResult]
      const rise = (t: (r: SizeResult) => number) => (t(c) - t(b)) / (c.objects - b.objects) / ((t(b) - t(a)) / (b.objects - a.objects))
      const cli = rise((r) => median(r.cli))
      const eng = rise((r) => warm(r.engine))
      console.log(
        `target: linear growth: marginal cost per object ${b.objects}->${c.objects} over ${a.objects}->${b.objects} (1.00 = linear; up to 1.25x counted as linear): CLI ${fmt.ratio(cli)} ${verdict(cli <= 1.25)}, engine warm ${fmt.ratio(eng)} ${verdict(eng <= 1.25)}`,
      )
    }
  }
}

if (process.argv[2] === '--engine') await engine(process.argv[3] as string, Number(process.argv[4] ?? 3))
else await main()
