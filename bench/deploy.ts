/**
 * Deploying 20 services with skycap against plain kubectl (create namespace, apply -f, rollout status per
 * Deployment), same objects, a fresh namespace for every run, on the kwok test cluster.
 *
 *   node dist/bench/deploy.js [runs]      (default 3 per side, alternating)
 *
 * Cluster: SKYCAP_BENCH_KUBECONFIG (its current-context), else one started here with test/cluster/up.sh as
 * SKYCAP_CLUSTER_NAME=skycap-bench and always stopped again with down.sh (also on errors and SIGINT/SIGTERM/SIGHUP).
 * Both sides run kubectl through the same wrapper, first on PATH, which logs every call: the process counts and the
 * timeline of one skycap deploy come from that log.
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {benchApp, serviceNames} from './app.js'
import {cliPath, fmt, machine, median, realKubectl, startCluster, table, timeOk, verdict} from './measure.js'

const SERVICES = 20
const CLUSTER = 'skycap-bench'

/** A directory with `kubectl` that logs start, end and argv of every call to `log`, then runs the real one. */
function kubectlWrapper(real: string, log: string, dir: string): string {
  mkdirSync(dir, {recursive: true})
  const file = join(dir, 'kubectl')
  writeFileSync(
    file,
    `#!/bin/sh
start=$(date +%s%N)
${JSON.stringify(real)} "$@"
rc=$?
printf '%s %s %s %s\\n' "$start" "$(date +%s%N)" "$rc" "$*" >> ${JSON.stringify(log)}
exit $rc
`,
  )
  chmodSync(file, 0o755)
  return dir
}

interface Call {
  start: number
  end: number
  rc: number
  argv: string
}

function readCalls(log: string): Call[] {
  if (!existsSync(log)) return []
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [start, end, rc, ...argv] = l.split(' ')
      return {start: Number(start) / 1e6, end: Number(end) / 1e6, rc: Number(rc), argv: argv.join(' ')}
    })
    .sort((a, b) => a.start - b.start)
}

/** The kubectl verb and object of an argv, without the flags skycap adds everywhere. */
function summary(argv: string): string {
  const words = argv.split(' ').filter((w, i, all) => !w.startsWith('-') && !['--context', '--namespace', '--kubeconfig'].includes(all[i - 1] ?? ''))
  const flags = argv.split(' ').filter((w) => /^--(dry-run|server-side|timeout)/.test(w))
  return [...words.slice(0, 3), ...flags].join(' ').slice(0, 70)
}

interface Sample {
  ms: number
  processes: number
  calls: Call[]
  t0: number
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3)
  const real = realKubectl()
  const scratch = mkdtempSync(join(tmpdir(), 'skycap-bench-deploy-'))
  const cluster = startCluster(CLUSTER, process.env.SKYCAP_BENCH_KUBECONFIG)
  const namespaces: string[] = []
  try {
    const log = join(scratch, 'kubectl.log')
    const wrapperDir = kubectlWrapper(real, log, join(scratch, 'bin'))
    const env: NodeJS.ProcessEnv = {...process.env, KUBECONFIG: cluster.kubeconfig, PATH: `${wrapperDir}:${dirname(real)}:${process.env.PATH ?? ''}`, NO_COLOR: '1', CI: 'true'}
    delete env.SKYCAP_KUBECTL
    const kubectl = join(wrapperDir, 'kubectl')
    const stamp = Date.now().toString(36)
    console.log(`deploy of ${SERVICES} services: skycap vs kubectl apply + rollout status; context ${cluster.context}; kubectl ${real}; ${machine()}`)

    const skycapRun = async (i: number): Promise<Sample> => {
      const ns = `bench-skycap-${stamp}-${i}`
      namespaces.push(ns)
      const repo = await benchApp({services: SERVICES, environment: 'bench', namespace: ns, context: cluster.context})
      try {
        rmSync(log, {force: true})
        const t0 = Date.now()
        const r = timeOk(process.execPath, [cliPath, 'deploy', 'bench', '--skip-image-check'], {cwd: repo.dir, env})
        const calls = readCalls(log)
        return {ms: r.ms, processes: calls.length, calls, t0}
      } finally {
        repo.remove()
      }
    }

    const kubectlRun = async (i: number): Promise<Sample> => {
      const ns = `bench-kubectl-${stamp}-${i}`
      namespaces.push(ns)
      const repo = await benchApp({services: SERVICES, environment: 'bench', namespace: ns, context: cluster.context})
      const rendered = join(scratch, ns)
      try {
        // Not timed: the same objects skycap applies, one file each.
        timeOk(process.execPath, [cliPath, 'render', 'bench', '--output-dir', rendered], {cwd: repo.dir, env})
        const deployments = serviceNames(SERVICES)
        if (readdirSync(rendered).filter((f) => f.includes('-deployment-')).length !== deployments.length) throw new Error('render did not write one Deployment per service')
        rmSync(log, {force: true})
        const t0 = Date.now()
        const start = performance.now()
        let own = 0
        const k = (args: string[]) => {
          own++
          timeOk(kubectl, ['--context', cluster.context, ...args], {env})
        }
        k(['create', 'namespace', ns])
        k(['apply', '-n', ns, '-f', rendered])
        for (const d of deployments) k(['rollout', 'status', '-n', ns, `deployment/${d}`, '--timeout=120s'])
        const ms = performance.now() - start
        const calls = readCalls(log)
        if (calls.length !== own) throw new Error(`counted ${own} kubectl calls, the wrapper logged ${calls.length}`)
        return {ms, processes: own, calls, t0}
      } finally {
        repo.remove()
      }
    }

    const skycap: Sample[] = []
    const plain: Sample[] = []
    for (let i = 0; i < runs; i++) {
      skycap.push(await skycapRun(i))
      plain.push(await kubectlRun(i))
      process.stderr.write(`[bench] round ${i + 1}/${runs}: skycap ${fmt.ms(skycap.at(-1)?.ms ?? 0)} ms, kubectl ${fmt.ms(plain.at(-1)?.ms ?? 0)} ms\n`)
    }

    console.log()
    table(
      ['side', 'runs (ms)', 'median ms', 'kubectl processes (median)', 'time inside kubectl (median ms)'],
      [
        [
          'skycap deploy',
          skycap.map((s) => fmt.ms(s.ms)).join(', '),
          fmt.ms(median(skycap.map((s) => s.ms))),
          median(skycap.map((s) => s.processes)),
          fmt.ms(median(skycap.map((s) => busy(s.calls)))),
        ],
        [
          'kubectl create ns + apply -f + rollout status x20',
          plain.map((s) => fmt.ms(s.ms)).join(', '),
          fmt.ms(median(plain.map((s) => s.ms))),
          median(plain.map((s) => s.processes)),
          fmt.ms(median(plain.map((s) => busy(s.calls)))),
        ],
      ],
    )

    // Where a skycap deploy's time goes: its kubectl calls on a timeline (the median run).
    const mid = [...skycap].sort((a, b) => a.ms - b.ms)[Math.floor(skycap.length / 2)] as Sample
    console.log(`\ntimeline of the median skycap deploy (${fmt.ms(mid.ms)} ms), kubectl calls (ms from the start of the run):`)
    table(
      ['start', 'duration', 'exit', 'kubectl'],
      mid.calls.map((c) => [fmt.ms(c.start - mid.t0), fmt.ms(c.end - c.start), c.rc, summary(c.argv)]),
    )
    const first = mid.calls[0]
    const last = mid.calls.at(-1)
    if (first && last) {
      console.log(
        `before the first kubectl call: ${fmt.ms(first.start - mid.t0)} ms (node start-up, config, git, render); after the last: ${fmt.ms(mid.t0 + mid.ms - last.end)} ms; inside kubectl: ${fmt.ms(busy(mid.calls))} ms; between calls: ${fmt.ms(last.end - first.start - busy(mid.calls))} ms`,
      )
    }

    // When the cluster had the Deployments ready: the plain side's rollout status calls return as each one is.
    const midPlain = [...plain].sort((a, b) => a.ms - b.ms)[Math.floor(plain.length / 2)] as Sample
    const rollouts = midPlain.calls.filter((c) => c.argv.includes('rollout status'))
    const applyCall = midPlain.calls.find((c) => c.argv.includes(' apply '))
    if (rollouts.length && applyCall) {
      const durations = rollouts.map((c) => c.end - c.start)
      console.log(
        `\nthe median plain run (${fmt.ms(midPlain.ms)} ms): apply done at ${fmt.ms(applyCall.end - midPlain.t0)} ms; ${rollouts.length} rollout status calls took ${fmt.ms(Math.min(...durations))}-${fmt.ms(Math.max(...durations))} ms each (median ${fmt.ms(median(durations))}); the first returned ${fmt.ms((rollouts[0] as Call).end - applyCall.end)} ms after apply, the last ${fmt.ms((rollouts.at(-1) as Call).end - applyCall.end)} ms after`,
      )
    }
    const applied = mid.calls.filter((c) => c.argv.includes('--server-side') && !c.argv.includes('dry-run'))
    const polls = mid.calls.filter((c) => c.argv.includes(' get deployments,'))
    if (applied.length >= 2 && polls.length) {
      console.log(
        `the median skycap run: workloads applied at ${fmt.ms((applied[1] as Call).end - mid.t0)} ms; ${polls.length} watch polls, the last (all ready) ${fmt.ms((polls.at(-1) as Call).end - (applied[1] as Call).end)} ms after that apply`,
      )
    }

    const ratio = median(skycap.map((s) => s.ms)) / median(plain.map((s) => s.ms))
    console.log(`\ntarget: skycap at most 1.2x plain kubectl: ${fmt.ratio(ratio)} ${verdict(ratio <= 1.2)}`)
  } finally {
    if (process.env.SKYCAP_BENCH_KUBECONFIG && namespaces.length) {
      spawnSync(real, ['--kubeconfig', cluster.kubeconfig, 'delete', 'namespace', '--wait=false', '--ignore-not-found', ...namespaces], {stdio: 'ignore'})
    }
    cluster.stop()
    rmSync(scratch, {recursive: true, force: true})
  }
}

/** Wall time covered by at least one kubectl call (calls may overlap). */
function busy(calls: Call[]): number {
  let total = 0
  let until = -Infinity
  for (const c of [...calls].sort((a, b) => a.start - b.start)) {
    if (c.end <= until) continue
    total += c.end - Math.max(c.start, until)
    until = c.end
  }
  return total
}

await main()
