/**
 * Filtering a 1,000,000-line log through skycap's log path against `grep -vE` with the same patterns.
 *
 *   node dist/bench/logs.js [lines]      (default 1000000)
 *
 * skycap's filter path is what src/logs/stream.ts does per chunk of `kubectl logs` output: LogChunkProcessor.pushBytes
 * (strip timestamps, filter, prefix), one write per chunk. The target row feeds it 64 KiB blocks read from the file and
 * writes each result, as grep does its own I/O; another row pipes the file into skycap's stdin and writes to stdout
 * through Node streams, as stream.ts gets kubectl's output, to show what that I/O adds. Each run is a fresh process
 * on both sides; the file is in the page cache for both.
 */
import {spawnSync} from 'node:child_process'
import {createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {type FilterResult, PATTERNS} from './logs-filter.js'
import {fmt, machine, median, table, timeOk, timeProcess, verdict} from './measure.js'

/** Writes `count` log lines like a busy web service's (about 150 bytes each); with `timestamps`, as kubectl logs --timestamps prints them. */
async function writeLog(file: string, count: number, timestamps: boolean): Promise<void> {
  const out = createWriteStream(file)
  let seed = 42
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const paths = ['/api/orders', '/api/cart/items', '/api/users/me', '/api/catalog/search?q=boots&page=2', '/api/payments/confirm']
  const methods = ['GET', 'POST', 'PUT', 'DELETE']
  const start = Date.UTC(2026, 0, 1)
  let batch: string[] = []
  for (let i = 0; i < count; i++) {
    const hex = () => rand(0xffffff).toString(16).padStart(6, '0')
    // A W3C trace id on every line, as tracing-instrumented services log: about 150 bytes a line, the issue's 150 MB.
    const req = `${hex()}${hex()} trace=${hex()}${hex()}${hex()}${hex()}${hex()}${hex()}${hex().slice(0, 2)}`
    const kind = rand(100)
    let line: string
    if (kind < 30) line = `INFO  http GET /healthz 200 0.${rand(900) + 100}ms remote=10.0.${rand(255)}.${rand(255)} ua=kube-probe/1.33 req=${req} bytes=2 proto=HTTP/1.1 keepalive=true`
    else if (kind < 50)
      line = `DEBUG cache lookup key=user:${rand(99999)}:session hit=${rand(2) ? 'true' : 'false'} took=0.${rand(90) + 10}ms shard=${rand(16)} req=${req} pool=redis-main conns=${rand(64)}`
    else if (kind < 95)
      line = `INFO  http ${methods[rand(4)]} ${paths[rand(5)]} ${[200, 201, 204, 304, 404][rand(5)]} ${rand(300)}.${rand(9)}ms user=u${rand(100000)} req=${req} bytes=${rand(50000)} proto=HTTP/2`
    else line = `ERROR orders: payment provider timeout after 3000ms order=o${rand(1000000)} attempt=${rand(3) + 1} req=${req} upstream=https://pay.example.invalid/v2/charge`
    if (timestamps) {
      const ms = start + i * 3
      line = `${new Date(ms).toISOString().replace('Z', '')}${String(rand(1000000)).padStart(6, '0')}Z ${line}`
    }
    batch.push(line)
    if (batch.length === 10_000) {
      if (!out.write(`${batch.join('\n')}\n`)) await new Promise<void>((r) => out.once('drain', () => r()))
      batch = []
    }
  }
  if (batch.length) out.write(`${batch.join('\n')}\n`)
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())))
}

interface Side {
  name: string
  run: () => {ms: number; loopMs?: number; shown: number}
  times: number[]
  loops: number[]
  shown: number
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 1_000_000)
  const rounds = 5
  const dir = mkdtempSync(join(tmpdir(), 'skycap-bench-logs-'))
  const cleanups: Array<() => void> = [() => rmSync(dir, {recursive: true, force: true})]
  try {
    const plain = join(dir, 'plain.log')
    const stamped = join(dir, 'timestamps.log')
    await writeLog(plain, count, false)
    await writeLog(stamped, count, true)
    const mb = (f: string) => statSync(f).size / 1024 / 1024
    console.log(`skycap log filter vs grep -vE; ${machine()}`)
    console.log(
      `${count} lines: ${mb(plain).toFixed(0)} MiB plain, ${mb(stamped).toFixed(0)} MiB with kubectl --timestamps prefixes; patterns ${PATTERNS.map((p) => `'${p}'`).join(', ')}; grep locale ${process.env.LC_ALL || process.env.LANG || 'C'}`,
    )

    const child = fileURLToPath(new URL('logs-filter.js', import.meta.url))
    // GNU grep stops at the first selected line when its stdout is /dev/null (it then acts like -q), so both sides
    // write to a file in memory (tmpfs) instead.
    const sinkDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'skycap-bench-logs-out-'))
    const sink = join(sinkDir, 'out')
    cleanups.push(() => rmSync(sinkDir, {recursive: true, force: true}))
    const resultFile = join(dir, 'result.json')
    const skycap = (file: string, colour: boolean) => () => {
      const r = timeOk(process.execPath, [child, file, colour ? 'colour' : 'plain'], {stdout: sink})
      return childResult(r.ms, r.stderr)
    }
    const childResult = (ms: number, stderr: string) => {
      const out = JSON.parse(stderr.trim().split('\n').pop() as string) as FilterResult
      if (out.lines !== count) throw new Error(`skycap's path saw ${out.lines} lines, not ${count}`)
      return {ms, loopMs: out.loopMs, shown: out.shown}
    }
    // The file through a pipe into stdin, out through process.stdout to the tmpfs file: the I/O stream.ts does.
    const piped = (file: string) => () => {
      const t0 = process.hrtime.bigint()
      const r = spawnSync('sh', ['-c', 'cat "$1" | "$2" "$3" - plain > "$4"', 'sh', file, process.execPath, child, sink], {stdio: ['ignore', 'ignore', 'pipe']})
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      if (r.status !== 0) throw new Error(`piped run exited ${r.status}: ${String(r.stderr)}`)
      return childResult(ms, String(r.stderr))
    }
    const grep = (file: string, pattern: string) => () => {
      const r = timeProcess('grep', ['-vE', pattern, file], {stdout: sink})
      if (r.status !== 0) throw new Error(`grep exited ${r.status}: ${r.stderr}`)
      const kept = timeProcess('grep', ['-cvE', pattern, file], {stdout: resultFile})
      return {ms: r.ms, shown: kept.status === 0 ? Number(readFileSync(resultFile, 'utf8')) : Number.NaN}
    }
    const grepPattern = PATTERNS.join('|')
    // With timestamps, a message starts after the first space: the anchored pattern moves there for grep.
    const grepStamped = PATTERNS.map((p) => (p.startsWith('^') ? `^[^ ]+ ${p.slice(1)}` : p)).join('|')
    const sides: Side[] = [
      {name: `grep -vE '${grepPattern}'`, run: grep(plain, grepPattern), times: [], loops: [], shown: 0},
      {name: 'skycap filter path (no colour)', run: skycap(plain, false), times: [], loops: [], shown: 0},
      {name: 'skycap filter path (terminal: colour)', run: skycap(plain, true), times: [], loops: [], shown: 0},
      {name: 'skycap filter path, stdin pipe to stdout (Node streams)', run: piped(plain), times: [], loops: [], shown: 0},
      {name: `grep -vE '${grepStamped}', timestamps`, run: grep(stamped, grepStamped), times: [], loops: [], shown: 0},
      {name: 'skycap filter path, timestamps (as kubectl --timestamps)', run: skycap(stamped, false), times: [], loops: [], shown: 0},
    ]
    for (let i = 0; i < rounds; i++) {
      for (const s of sides) {
        const r = s.run()
        s.times.push(r.ms)
        if (r.loopMs !== undefined) s.loops.push(r.loopMs)
        s.shown = r.shown
      }
    }

    const lps = (ms: number) => `${(((count / ms) * 1000) / 1e6).toFixed(2)}M`
    const byName = (prefix: string) => sides.find((s) => s.name.startsWith(prefix)) as Side
    const base = sides[0] as Side
    const baseTs = sides[4] as Side
    console.log(`\nmedian of ${rounds} runs each, interleaved, output to a tmpfs file unless said; process wall time (start-up included on both sides), and skycap's loop alone`)
    table(
      ['side', 'lines shown', 'wall ms', 'lines/s (wall)', 'loop ms', 'lines/s (loop)', 'wall / grep'],
      sides.map((s) => {
        const g = s.name.includes('timestamps') ? baseTs : base
        return [
          s.name,
          s.shown,
          fmt.ms(median(s.times)),
          lps(median(s.times)),
          s.loops.length ? fmt.ms(median(s.loops)) : '-',
          s.loops.length ? lps(median(s.loops)) : '-',
          fmt.ratio(median(s.times) / median(g.times)),
        ]
      }),
    )

    const head = byName('skycap filter path (no colour)')
    const throughput = (count / median(head.times)) * 1000
    const ratio = median(head.times) / median(base.times)
    console.log('\ntargets, skycap filter path (no colour) on the plain log:')
    console.log(`  >= 2.5M lines/s: ${lps(median(head.times))} lines/s wall (${lps(median(head.loops))} in the loop) ${verdict(throughput >= 2.5e6)}`)
    console.log(`  <= 1.5x grep's time: ${fmt.ratio(ratio)} ${verdict(ratio <= 1.5)}`)
    if (head.shown !== base.shown) console.log(`  note: skycap showed ${head.shown} lines, grep ${base.shown}`)
  } finally {
    for (const c of cleanups) c()
  }
}

await main()
