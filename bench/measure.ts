/** What every benchmark shares: timing child processes, order statistics, finding the real kubectl, printing. */
import {spawnSync, type SpawnSyncOptions} from 'node:child_process'
import {closeSync, cpSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync} from 'node:fs'
import {availableParallelism, homedir, loadavg, tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/** The repository root (this file is compiled to dist/bench/measure.js). */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
export const cliPath = join(repoRoot, 'bin', 'run.js')

/** Git with a fixed identity and no user or system configuration. */
export const GIT_ENV = {
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@skycap.dev',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@skycap.dev',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
}

/** A scratch git repository holding the example app (test/fixtures/shop) in one commit; the caller removes it. */
export function shopRepo(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `skycap-bench-${name}-`))
  cpSync(join(repoRoot, 'test', 'fixtures', 'shop'), dir, {recursive: true})
  for (const args of [
    ['init', '-q', '-b', 'main'],
    ['add', '-A'],
    ['commit', '-q', '-m', 'one'],
  ]) {
    timeOk('git', args, {cwd: dir, env: {...process.env, ...GIT_ENV}})
  }
  return dir
}

/** The Kubernetes release test/cluster/build.sh builds: SKYCAP_K8S_VERSION, else the default written in build.sh. */
export function clusterK8sVersion(): string | undefined {
  if (process.env.SKYCAP_K8S_VERSION) return process.env.SKYCAP_K8S_VERSION
  const buildScript = readFileSync(join(repoRoot, 'test', 'cluster', 'build.sh'), 'utf8')
  return /^KV=\$\{SKYCAP_K8S_VERSION:-(v[\d.]+)\}$/m.exec(buildScript)?.[1]
}

/** The kubectl the test cluster is built with; /usr/bin/kubectl is a dispatcher that adds its own start-up. */
export function realKubectl(): string {
  const version = clusterK8sVersion()
  const cached = version && join(process.env.SKYCAP_CLUSTER_CACHE ?? join(homedir(), '.cache', 'skycap-cluster'), version, 'kubectl')
  return process.env.SKYCAP_KUBECTL ?? (cached && existsSync(cached) ? cached : 'kubectl')
}

export interface Run {
  ms: number
  /** Peak resident set size in MiB, when measured. */
  rssMiB?: number
  status: number | null
  stderr: string
}

export interface RunOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Measure peak RSS with /usr/bin/time (adds about a millisecond to both sides of a comparison). */
  rss?: boolean
  /** Where stdout goes: a file path, or /dev/null (default). */
  stdout?: string
}

/** Runs a program to completion (no shell) and returns its wall time; stdout goes to /dev/null unless told. */
export function timeProcess(file: string, args: string[], options: RunOptions = {}): Run {
  const scratch = options.rss ? mkdtempSync(join(tmpdir(), 'skycap-bench-time-')) : undefined
  const rssFile = scratch ? join(scratch, 'rss') : undefined
  const [cmd, argv] = rssFile ? ['/usr/bin/time', ['-f', '%M', '-o', rssFile, file, ...args]] : [file, args]
  const out = openSync(options.stdout ?? '/dev/null', 'w')
  const spawnOptions: SpawnSyncOptions = {cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', out, 'pipe'], maxBuffer: 64 * 1024 * 1024}
  try {
    const t0 = process.hrtime.bigint()
    const r = spawnSync(cmd, argv as string[], spawnOptions)
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    if (r.error) throw r.error
    const run: Run = {ms, status: r.status, stderr: String(r.stderr ?? '')}
    if (rssFile) {
      const kib = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop())
      if (Number.isFinite(kib)) run.rssMiB = kib / 1024
    }
    return run
  } finally {
    closeSync(out)
    if (scratch) rmSync(scratch, {recursive: true, force: true})
  }
}

/** Like timeProcess, but a non-zero exit is an error naming the command and its stderr. */
export function timeOk(file: string, args: string[], options: RunOptions = {}): Run {
  const r = timeProcess(file, args, options)
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().split('\n').slice(-5).join('\n')}`)
  return r
}

/** The p-th percentile (0-100) by nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Prints rows as an aligned table (first column left, the rest right). */
export function table(header: string[], rows: Array<Array<string | number>>): void {
  const cells = [header, ...rows.map((r) => r.map(String))]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  for (const [n, row] of cells.entries()) {
    console.log(row.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  '))
    if (n === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  }
}

export const fmt = {
  ms: (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1)),
  ratio: (v: number) => `${v.toFixed(2)}x`,
  mib: (v: number | undefined) => (v === undefined ? '-' : v.toFixed(0)),
}

/** The machine the figures come from; other work on it (load average) skews them. */
export function machine(): string {
  const [l1] = loadavg()
  return `node ${process.version}, ${process.platform}, ${availableParallelism()} CPUs, load average ${l1?.toFixed(2)} at start (other work on the machine skews absolute figures; ratios are measured interleaved)`
}

/** "met" or "MISSED", for the target lines at the end of each benchmark. */
export function verdict(ok: boolean): string {
  return ok ? 'met' : 'MISSED'
}

/** A test cluster for a benchmark: its kubeconfig, context, run folder (files up.sh writes) and how to stop it. */
export interface Cluster {
  kubeconfig: string
  context: string
  /** The folder of up.sh's files (registry.host, docker.host, ...); that of the kubeconfig. */
  runDir: string
  stop(): void
}

/**
 * `external` (a kubeconfig; its current-context), else a cluster started with test/cluster/up.sh as
 * SKYCAP_CLUSTER_NAME=`name`, always stopped again with down.sh (also on errors and SIGINT/SIGTERM/SIGHUP).
 */
export function startCluster(name: string, external?: string): Cluster {
  const kubectl = realKubectl()
  const contextOf = (kubeconfig: string) => {
    const r = spawnSync(kubectl, ['--kubeconfig', kubeconfig, 'config', 'current-context'], {encoding: 'utf8'})
    if (r.status !== 0) throw new Error(`no current-context in ${kubeconfig}: ${r.stderr}`)
    return r.stdout.trim()
  }
  if (external) return {kubeconfig: external, context: contextOf(external), runDir: dirname(external), stop: () => undefined}

  // The cluster belongs to this process: if it is killed outright, the next up.sh may replace the leftovers.
  const env = {...process.env, SKYCAP_CLUSTER_NAME: name, SKYCAP_CLUSTER_OWNER_PID: String(process.pid)}
  let stopped = false
  const stop = () => {
    if (stopped) return
    stopped = true
    process.stderr.write(`[bench] stopping cluster ${name}\n`)
    spawnSync('bash', [join(repoRoot, 'test/cluster/down.sh')], {env, stdio: ['ignore', 'ignore', 'inherit']})
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stop()
      process.exit(130)
    })
  }
  process.once('exit', stop)
  process.stderr.write(`[bench] starting cluster ${name} (test/cluster/up.sh)\n`)
  const up = spawnSync('bash', [join(repoRoot, 'test/cluster/up.sh')], {env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']})
  if (up.status !== 0) {
    stop()
    throw new Error(`test/cluster/up.sh failed (exit ${up.status})`)
  }
  const kubeconfig = up.stdout.trim().split('\n').pop() as string
  return {kubeconfig, context: contextOf(kubeconfig), runDir: dirname(kubeconfig), stop}
}
