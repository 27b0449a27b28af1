// Mocha global fixtures for the integration run (loaded with --require, see .mocharc.integration.cjs).
//
// Setup starts the kwok test cluster once per run with test/cluster/up.sh, or, when SKYCAP_TEST_KUBECONFIG names a
// kubeconfig, uses that cluster (its current-context) and starts and stops nothing. Either way the cluster must
// answer, or the run fails: integration tests are never skipped.
//
// Teardown deletes the cluster it started with test/cluster/down.sh: after the tests (passing or not), on
// SIGINT/SIGTERM/SIGHUP, and from an exit handler if the process ends any other way. The cluster's processes run in
// their own sessions, so nothing else would stop them.
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {execa} from 'execa'
import {ENV} from './harness.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const upScript = path.join(repoRoot, 'test/cluster/up.sh')
const downScript = path.join(repoRoot, 'test/cluster/down.sh')

let owned: {clusterEnv: NodeJS.ProcessEnv} | undefined
let upProcess: ChildProcess | undefined
let tearingDown: Promise<void> | undefined

function note(msg: string): void {
  process.stderr.write(`[integration] ${msg}\n`)
}

export async function mochaGlobalSetup(): Promise<void> {
  const external = process.env.SKYCAP_TEST_KUBECONFIG
  let cluster: ClusterInfo
  try {
    cluster = external ? await useExternalCluster(external) : await startCluster()
  } catch (err) {
    // Mocha runs no test and reports no totals when the global setup fails; count the run as one failure so
    // totals (see test/reporter.cjs) never read as green.
    const counts = process.env.SKYCAP_TEST_COUNTS
    if (counts) appendFileSync(counts, JSON.stringify({run: 'integration (cluster setup)', passed: 0, failed: 1, pending: 0}) + '\n')
    throw err
  }
  process.env[ENV.kubeconfig] = cluster.kubeconfig
  process.env[ENV.context] = cluster.context
  process.env[ENV.kubectl] = cluster.kubectlPath
  process.env[ENV.external] = external ? '1' : '0'
  process.env[ENV.logDir] = cluster.logDir
  process.env[ENV.realNode] = cluster.realNode
  process.env[ENV.testAppImage] = cluster.testAppImage
  process.env[ENV.dockerHost] = cluster.dockerHost
  process.env[ENV.buildxBin] = cluster.buildxBin
  // The CLI under test, spawned by the tests, must reach the same cluster with the same kubectl.
  process.env.KUBECONFIG = cluster.kubeconfig
  process.env.PATH = `${path.dirname(cluster.kubectlPath)}${path.delimiter}${process.env.PATH ?? ''}`
  note(`cluster: context ${cluster.context}, kubeconfig ${cluster.kubeconfig}, kubectl ${cluster.kubectlPath}`)
  note(cluster.realNode ? `real node ${cluster.realNode}, test app image ${cluster.testAppImage}` : 'no real node: the real-node tests will fail')
}

export async function mochaGlobalTeardown(): Promise<void> {
  // With an external cluster the log files live in a temporary directory of this run (see useExternalCluster).
  const logDir = process.env[ENV.logDir]
  if (process.env[ENV.external] === '1' && logDir) rmSync(logDir, {recursive: true, force: true})
  await teardown()
}

interface ClusterInfo {
  kubeconfig: string
  context: string
  kubectlPath: string
  logDir: string
  /** The real node's name, or '' when the cluster has none. */
  realNode: string
  /** The test app image in a registry reachable over plain http, or ''. */
  testAppImage: string
  /** DOCKER_HOST of the real node's dockerd (the build tests), or ''. */
  dockerHost: string
  /** The folder holding the docker-buildx CLI plugin (the buildx build tests), or ''. */
  buildxBin: string
}

async function useExternalCluster(kubeconfigArg: string): Promise<ClusterInfo> {
  const kubeconfig = path.resolve(kubeconfigArg)
  if (!existsSync(kubeconfig) || !statSync(kubeconfig).isFile()) {
    throw new Error(`SKYCAP_TEST_KUBECONFIG=${kubeconfigArg}: no such file`)
  }
  const kubectlPath = process.env.SKYCAP_TEST_KUBECTL ?? which('kubectl')
  if (!kubectlPath) throw new Error('SKYCAP_TEST_KUBECONFIG is set but no kubectl is on PATH (or set SKYCAP_TEST_KUBECTL)')
  const context = await currentContext(kubectlPath, kubeconfig)
  const reach = await execa(kubectlPath, ['--kubeconfig', kubeconfig, '--context', context, 'get', '--raw', '/readyz'], {
    reject: false,
    timeout: 30_000,
  })
  if (reach.exitCode !== 0) {
    throw new Error(`the cluster of SKYCAP_TEST_KUBECONFIG (context ${context}) does not answer: ${reach.stderr || reach.stdout}`)
  }
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'skycap-it-logs-'))
  note(`using the existing cluster of SKYCAP_TEST_KUBECONFIG; nothing is started or stopped`)
  // A real node of an external cluster (kind, minikube): its name, and the test app image pushed to a registry the
  // tests can write to (they add tags) and the cluster can pull from. Its pods select and tolerate skycap.test/real-node.
  return {
    kubeconfig,
    context,
    kubectlPath,
    logDir,
    realNode: process.env.SKYCAP_TEST_REAL_NODE ?? '',
    testAppImage: process.env.SKYCAP_TEST_APP_IMAGE ?? '',
    dockerHost: process.env.SKYCAP_TEST_DOCKER_HOST ?? '',
    buildxBin: process.env.SKYCAP_TEST_BUILDX_BIN ?? '',
  }
}

async function startCluster(): Promise<ClusterInfo> {
  const clusterEnv: NodeJS.ProcessEnv = {...process.env, SKYCAP_CLUSTER_OWNER_PID: String(process.pid)}
  owned = {clusterEnv}
  installSignalHandlers()
  note('starting the test cluster (test/cluster/up.sh)')
  const child = spawn('bash', [upScript], {env: clusterEnv, stdio: ['ignore', 'pipe', 'inherit']})
  upProcess = child
  let stdout = ''
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (c, signal) => resolve(signal ? null : c))
  })
  upProcess = undefined
  if (code !== 0) {
    throw new Error(`the test cluster did not start (test/cluster/up.sh exited ${code ?? 'on a signal'}; its output is above)`)
  }
  const kubeconfig = stdout.trim().split('\n').pop() ?? ''
  const runDir = path.dirname(kubeconfig)
  const envFile = path.join(runDir, 'env')
  if (!existsSync(kubeconfig) || !existsSync(envFile)) {
    throw new Error(`up.sh printed '${kubeconfig}', which is not a kubeconfig next to an env file`)
  }
  const envText = readFileSync(envFile, 'utf8')
  const k8sBin = /^SKYCAP_K8S_BIN=(.*)$/m.exec(envText)?.[1]
  if (!k8sBin) throw new Error(`${envFile} names no SKYCAP_K8S_BIN`)
  const kubectlPath = path.join(k8sBin, 'kubectl')
  const context = await currentContext(kubectlPath, kubeconfig)
  const read = (name: string) => (existsSync(path.join(runDir, name)) ? readFileSync(path.join(runDir, name), 'utf8').trim() : '')
  return {
    kubeconfig,
    context,
    kubectlPath,
    logDir: path.join(runDir, 'pod-logs'),
    realNode: read('real-node'),
    testAppImage: read('test-app.image'),
    dockerHost: read('docker.host'),
    buildxBin: /^SKYCAP_BUILDX_BIN=(.*)$/m.exec(envText)?.[1] ?? '',
  }
}

async function currentContext(kubectlPath: string, kubeconfig: string): Promise<string> {
  const r = await execa(kubectlPath, ['--kubeconfig', kubeconfig, 'config', 'current-context'], {reject: false})
  const context = r.stdout.trim()
  if (r.exitCode !== 0 || !context) throw new Error(`${kubeconfig} has no current-context: ${r.stderr}`)
  return context
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, cmd)
    if (dir && existsSync(candidate)) return candidate
  }
  return undefined
}

/** Deletes the cluster this run started (once; later calls wait for the first). */
function teardown(): Promise<void> {
  if (!owned) return Promise.resolve()
  tearingDown ??= (async () => {
    const starting = upProcess
    if (starting && starting.exitCode === null && starting.signalCode === null) {
      // up.sh tears down what it started when it is stopped; let it finish before deleting what is left.
      starting.kill('SIGTERM')
      await new Promise((resolve) => starting.once('close', resolve))
    }
    note('deleting the test cluster (test/cluster/down.sh)')
    const r = await execa('bash', [downScript], {env: owned?.clusterEnv, reject: false, stdio: ['ignore', 'inherit', 'inherit']})
    owned = undefined
    removeSignalHandlers()
    if (r.exitCode !== 0) throw new Error(`test/cluster/down.sh exited ${r.exitCode}: the cluster may still be running`)
  })()
  return tearingDown
}

const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
const exitCodes: Record<(typeof signals)[number], number> = {SIGINT: 130, SIGTERM: 143, SIGHUP: 129}

let exiting = false
function onSignal(signal: (typeof signals)[number]): void {
  if (exiting) return
  exiting = true
  note(`${signal}: stopping the test cluster before exiting`)
  teardown()
    .catch((err: unknown) => note(String(err)))
    .finally(() => process.exit(exitCodes[signal]))
}

// Last resort when the process exits without the global teardown (process.exit() somewhere): only synchronous work
// is possible here.
function onExit(): void {
  if (!owned) return
  spawnSync('bash', [downScript], {env: owned.clusterEnv, stdio: ['ignore', 'inherit', 'inherit']})
  owned = undefined
}

// Handlers stay installed (process.on, not once) until teardown has finished: execa's child-cleanup hook re-raises a
// signal when it finds no other listener for it, which would kill this process in the middle of the teardown.
const handlers = new Map<string, () => void>()
function installSignalHandlers(): void {
  for (const s of signals) {
    const h = () => onSignal(s)
    handlers.set(s, h)
    process.on(s, h)
  }
  process.on('exit', onExit)
}
function removeSignalHandlers(): void {
  for (const [s, h] of handlers) process.off(s, h)
  handlers.clear()
  process.off('exit', onExit)
}
