/**
 * Building and pushing N services with `skycap build` against the same `docker build` + `docker push` commands run
 * by hand, on the same dockerd and registry, from the same cache state: every run builds a fresh commit whose
 * services each copy a new random file (so no run reuses another's layers), FROM scratch (nothing is pulled).
 *
 *   node dist/bench/build.js [services] [rounds] [MiB]      (default 4 services, 5 rounds, 4 MiB per service)
 *
 * skycap's cost is fixed per run (it does not grow with the image): the ratio depends on how long the builds take,
 * so the script prints the fixed cost in ms beside it; a third argument makes each service's file bigger.
 *
 * Five ways per round, in a rotating order. The by-hand sides run the commands skycap runs, in skycap's order: with
 * docker build + push, skycap pushes only once every build of the run has passed (a failed build pushes nothing), so
 * by hand one service after the other is every `docker build`, then every `docker push`, against skycap build --jobs
 * 1; by hand all at once is every build at once, then every push at once, against skycap build --jobs N. The fifth,
 * by hand with each push right after its own build (what a script without that rule does), shows what the rule costs;
 * it is printed, not part of skycap's overhead. skycap's side includes everything it does besides the docker commands:
 * Node's start-up, skycap.yaml, the clean export (git archive), the registry checks before and after, choosing the
 * builder. The hand side builds in the work tree, with a .dockerignore that leaves .git out (as a real project's does;
 * skycap's export has no .git either). The machine's docker has no buildx plugin (skycap would choose it and build and
 * push in one step: other commands than the hand side's).
 *
 * dockerd and registry: SKYCAP_BENCH_DOCKER_HOST and SKYCAP_BENCH_REGISTRY (host:port, plain http), else the
 * test cluster's (test/cluster/up.sh as SKYCAP_CLUSTER_NAME=skycap-bench-build, with its real node, whose dockerd
 * this uses; stopped again at the end).
 */
import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {execa} from 'execa'

import {cliPath, fmt, machine, median, startCluster, table, timeOk, verdict} from './measure.js'

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@skycap.dev',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@skycap.dev',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
}

function target(): {dockerHost: string; registry: string} {
  if (process.env.SKYCAP_BENCH_DOCKER_HOST && process.env.SKYCAP_BENCH_REGISTRY) {
    return {dockerHost: process.env.SKYCAP_BENCH_DOCKER_HOST, registry: process.env.SKYCAP_BENCH_REGISTRY}
  }
  const {runDir} = startCluster('skycap-bench-build')
  const read = (file: string) => readFileSync(join(runDir, file), 'utf8').trim()
  return {dockerHost: read('docker.host'), registry: read('registry.host')}
}

async function main(): Promise<void> {
  const services = Array.from({length: Number(process.argv[2] ?? 4)}, (_, i) => `svc${i + 1}`)
  const rounds = Number(process.argv[3] ?? 5)
  // Size of each service's random file: enough that building and pushing are real work.
  const FILE_BYTES = Number(process.argv[4] ?? 4) * 1024 * 1024
  const {dockerHost, registry} = target()
  const dir = mkdtempSync(join(tmpdir(), 'skycap-bench-build-'))
  const env = {...process.env, DOCKER_HOST: dockerHost, NO_COLOR: '1', CI: 'true'}
  const git = (...args: string[]) => execa('git', args, {cwd: dir, env: GIT_ENV})
  try {
    writeFileSync(
      join(dir, 'skycap.yaml'),
      [
        'app: bench',
        `registry: ${registry}/bench`,
        'services:',
        ...services.flatMap((s) => [`  ${s}:`, `    image: ${s}`, `    build: {dockerfile: ${s}.Dockerfile}`]),
        'environments:',
        '  bench: {namespace: bench}',
        '',
      ].join('\n'),
    )
    for (const s of services) writeFileSync(join(dir, `${s}.Dockerfile`), `FROM scratch\nCOPY ${s}.bin /data.bin\n`)
    // By hand builds the work tree: without this, its context would carry .git (every earlier round's blobs) and
    // skycap's clean export (which has no .git) would win for the wrong reason.
    writeFileSync(join(dir, '.dockerignore'), '.git\n')
    await git('init', '-q', '-b', 'main')
    /** A new commit with new content for every service: nothing of it is in dockerd's cache or the registry. */
    const freshCommit = async (): Promise<string> => {
      for (const s of services) writeFileSync(join(dir, `${s}.bin`), randomBytes(FILE_BYTES))
      await git('add', '-A')
      await git('commit', '-q', '-m', 'fresh')
      return (await git('rev-parse', 'HEAD')).stdout
    }
    const ref = (sha: string, s: string) => `${registry}/bench/${s}:${sha}`
    const build = (sha: string, s: string) => ['build', '--tag', ref(sha, s), '--file', `${s}.Dockerfile`, '.']
    const push = (sha: string, s: string) => ['push', ref(sha, s)]
    const docker = (args: string[]) => execa('docker', args, {cwd: dir, env})
    // The by-hand sides run the commands skycap runs, in its order: every build, then every push (with docker build
    // + push, skycap pushes only once every build of the run has passed, so a failed build pushes nothing). A third
    // by-hand side pushes each image right after its own build, as a script without that rule would: what the rule
    // costs, printed beside the overhead.
    const ways: Record<string, (sha: string) => Promise<void>> = {
      'by hand: each build, then each push': async (sha) => {
        for (const s of services) timeOk('docker', build(sha, s), {cwd: dir, env})
        for (const s of services) timeOk('docker', push(sha, s), {cwd: dir, env})
      },
      'skycap build --jobs 1': async () => void timeOk(process.execPath, [cliPath, 'build', 'HEAD', '--jobs', '1'], {cwd: dir, env}),
      'by hand: builds at once, then pushes at once': async (sha) => {
        await Promise.all(services.map((s) => docker(build(sha, s))))
        await Promise.all(services.map((s) => docker(push(sha, s))))
      },
      [`skycap build --jobs ${services.length}`]: async () => void timeOk(process.execPath, [cliPath, 'build', 'HEAD', '--jobs', String(services.length)], {cwd: dir, env}),
      'by hand: all at once, each push after its build': async (sha) => {
        await Promise.all(
          services.map(async (s) => {
            await docker(build(sha, s))
            await docker(push(sha, s))
          }),
        )
      },
    }
    const names = Object.keys(ways)
    const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
    console.log(`build and push of ${services.length} services (FROM scratch + a ${FILE_BYTES / 1024 / 1024} MiB file each): skycap build vs docker build + docker push by hand; ${machine()}`)
    // One warm-up of each way (Node's and dockerd's first runs), not counted.
    for (const name of names) await ways[name]?.(await freshCommit())
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + r) % names.length] as string
        const sha = await freshCommit()
        const t0 = performance.now()
        await ways[name]?.(sha)
        times[name]?.push(performance.now() - t0)
      }
    }
    const m = (n: string) => median(times[n] ?? [])
    const [serialHand, serialSkycap, parallelHand, parallelSkycap, pipelinedHand] = names.map(m) as [number, number, number, number, number]
    const row = (i: number, ratio: string) => [names[i] as string, fmt.ms(m(names[i] as string)), (times[names[i] as string] ?? []).map((t) => fmt.ms(t)).join(' '), ratio]
    console.log(`\nwall time, median of ${rounds} (ms); each run a fresh commit (cold layer cache, new blobs to push)`)
    table(
      ['way', 'median', 'runs', 'ratio'],
      [
        row(0, 'baseline'),
        row(1, `${fmt.ratio(serialSkycap / serialHand)} of by hand, each build then each push`),
        row(2, `${fmt.ratio(parallelHand / serialHand)} of by hand, each build then each push`),
        row(3, `${fmt.ratio(parallelSkycap / parallelHand)} of by hand, builds then pushes at once`),
        row(4, `${fmt.ratio(pipelinedHand / parallelHand)} of by hand, builds then pushes at once`),
      ],
    )
    console.log(`\nskycap's fixed cost per run: ${fmt.ms(serialSkycap - serialHand)} ms serial, ${fmt.ms(parallelSkycap - parallelHand)} ms parallel`)
    console.log(`skycap's overhead, serial: ${fmt.ratio(serialSkycap / serialHand)} (target <= 1.1x: ${verdict(serialSkycap / serialHand <= 1.1)})`)
    console.log(`skycap's overhead, parallel: ${fmt.ratio(parallelSkycap / parallelHand)} (target <= 1.1x: ${verdict(parallelSkycap / parallelHand <= 1.1)})`)
    console.log(`skycap parallel vs serial: ${fmt.ratio(parallelSkycap / serialSkycap)} (target < 1x on 2 cores where the builds allow: ${verdict(parallelSkycap < serialSkycap)})`)
    console.log(
      `what pushing only after every build passed costs (not skycap's overhead): by hand, each push right after its build, is ${fmt.ratio(pipelinedHand / parallelHand)} of every build then every push; skycap --jobs ${services.length} is ${fmt.ratio(parallelSkycap / pipelinedHand)} of it`,
    )
    await whereTheFixedCostGoes(async () => {
      await freshCommit()
      return [process.execPath, [cliPath, 'build', 'HEAD', '--jobs', '1'], {cwd: dir, env}]
    })
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

// Records, in the CLI's own process, when each child process and each registry request starts and ends (ms since the
// process started), on stderr.
const TRACE = `data:text/javascript,${encodeURIComponent(`import cp from 'node:child_process'
import {syncBuiltinESMExports} from 'node:module'
const at = () => performance.now().toFixed(1)
const spawn = cp.spawn
cp.spawn = function (file, args, options) {
  const child = spawn.call(this, file, args, options)
  const what = [file, ...(args ?? [])].slice(0, 3).join(' ')
  process.stderr.write('@trace ' + at() + ' start ' + what + '\\n')
  child.on('exit', () => process.stderr.write('@trace ' + at() + ' end ' + what + '\\n'))
  return child
}
syncBuiltinESMExports()
const fetch = globalThis.fetch
globalThis.fetch = async (url, init) => {
  const what = 'registry ' + (init?.method ?? 'GET') + ' ' + String(url).replace(/^https?:..[^/]+/, '').split('/').slice(0, 4).join('/')
  process.stderr.write('@trace ' + at() + ' start ' + what + '\\n')
  try {
    return await fetch(url, init)
  } finally {
    process.stderr.write('@trace ' + at() + ' end ' + what + '\\n')
  }
}
process.on('exit', () => process.stderr.write('@trace ' + at() + ' exit\\n'))`)}`

/**
 * One traced `skycap build --jobs 1` of a fresh commit: how long skycap takes before the first `docker build`, what
 * it starts in that time, and how long after the last `docker push` it exits. Printed, not judged.
 */
async function whereTheFixedCostGoes(prepare: () => Promise<[string, string[], {cwd: string; env: NodeJS.ProcessEnv}]>): Promise<void> {
  const [file, args, options] = await prepare()
  const r = await execa(file, args, {...options, reject: false, env: {...options.env, NODE_OPTIONS: `--import=${TRACE}`}})
  const events = r.stderr
    .split('\n')
    .map((l) => /^@trace ([\d.]+) (start|end|exit)(?: (.*))?$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ms: Number(m[1]), kind: m[2] as string, what: m[3] ?? ''}))
  // `docker build …`, not the `docker buildx version` probe.
  const isBuild = (what: string) => /^docker build( |$)/.test(what)
  const firstBuild = events.find((e) => e.kind === 'start' && isBuild(e.what))
  const lastPush = events.filter((e) => e.kind === 'end' && /^docker push( |$)/.test(e.what)).at(-1)
  const exit = events.find((e) => e.kind === 'exit')
  if (r.exitCode !== 0 || !firstBuild || !lastPush || !exit) {
    console.log(`\n(the traced run gave no timeline: exit ${r.exitCode})`)
    return
  }
  console.log(`\nwhere skycap's fixed cost goes (one traced run of skycap build --jobs 1; ms since its process started):`)
  const before = events.filter((e) => e.ms <= firstBuild.ms && !isBuild(e.what))
  const first = before[0]
  console.log(`  ${fmt.ms(first?.ms ?? firstBuild.ms)}  Node, oclif and skycap's modules, until the first child process`)
  for (const e of before.filter((x) => x.kind === 'start')) {
    const end = events.find((x) => x.kind === 'end' && x.what === e.what && x.ms >= e.ms)
    console.log(`  ${fmt.ms(e.ms)}  ${e.what} (${end ? `${fmt.ms(end.ms - e.ms)} ms` : 'still running'})`)
  }
  console.log(`  ${fmt.ms(firstBuild.ms)}  the first docker build starts: everything before it is skycap's`)
  console.log(`  ${fmt.ms(exit.ms - lastPush.ms)} ms from the last docker push to the exit (the registry asked for the digests)`)
}

await main()
