// What integration tests use to reach the test cluster. The global setup (hooks.ts) starts the cluster, or picks the
// one SKYCAP_TEST_KUBECONFIG names, and publishes it in process.env; everything here reads it from there.
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {appendFile, mkdir, readFile, writeFile} from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import type {Readable} from 'node:stream'
import {execa, type ResultPromise} from 'execa'

import {repoRoot} from '../helpers/repo.js'

/** The cluster the integration run uses. */
export interface TestCluster {
  /** Absolute path of the kubeconfig (also in process.env.KUBECONFIG). */
  kubeconfig: string
  /** The kubeconfig's current-context when the run started. */
  context: string
  /** The kubectl every test (and every CLI the tests spawn, through PATH) runs. */
  kubectlPath: string
  /** True when SKYCAP_TEST_KUBECONFIG named a cluster: nothing was started, and nothing will be stopped. */
  external: boolean
  /** Directory for the CRI log files kwok serves as pod logs (see podLogFiles). */
  logDir: string
}

/** Names of the variables the global setup sets; read back with testCluster(). */
export const ENV = {
  kubeconfig: 'SKYCAP_IT_KUBECONFIG',
  context: 'SKYCAP_IT_CONTEXT',
  kubectl: 'SKYCAP_IT_KUBECTL',
  external: 'SKYCAP_IT_EXTERNAL',
  logDir: 'SKYCAP_IT_LOG_DIR',
  realNode: 'SKYCAP_IT_REAL_NODE',
  testAppImage: 'SKYCAP_IT_TEST_APP_IMAGE',
  dockerHost: 'SKYCAP_IT_DOCKER_HOST',
  buildxBin: 'SKYCAP_IT_BUILDX_BIN',
} as const

/** The real node of the test cluster (kubelet + containerd beside kwok's fake nodes) and the image of test/app. */
export interface RealNode {
  /** The node's name; its pods select the label `skycap.test/real-node=true` and tolerate its taint of that name. */
  node: string
  /** The test app image, `host:port/repository:tag`, in a registry spoken to over plain http. */
  image: string
  /** `host:port/repository`: the prefix to write as `registry:` in skycap.yaml. */
  repository: string
}

/**
 * The real node of this run. Throws (so the test fails, never skips) when the cluster has none: started with
 * SKYCAP_CLUSTER_REAL_NODE=0, or an external cluster without SKYCAP_TEST_REAL_NODE/SKYCAP_TEST_APP_IMAGE.
 */
export function realNode(): RealNode {
  const node = process.env[ENV.realNode]
  const image = process.env[ENV.testAppImage]
  if (!node || !image) {
    throw new Error(
      `this test needs the real node, and the test cluster (${testCluster().context}) has none: start it without SKYCAP_CLUSTER_REAL_NODE=0 (root, see test/cluster/README.md), or for an external cluster set SKYCAP_TEST_REAL_NODE and SKYCAP_TEST_APP_IMAGE`,
    )
  }
  const repository = image.slice(0, image.lastIndexOf(':')).replace(/\/[^/]+$/, '')
  return {node, image, repository}
}

/**
 * A kubeconfig file in `dir` whose test-cluster context authenticates as ServiceAccount `name` of `namespace` (a token
 * of `kubectl create token`): what a CI job or a person with only the rights bound to it would use.
 */
export async function kubeconfigAs(namespace: string, name: string, dir: string): Promise<string> {
  const token = (await kubectl(['create', 'token', name], {namespace})).stdout.trim()
  const file = path.join(dir, 'kubeconfig')
  await writeFile(file, (await kubectl(['config', 'view', '--raw', '--flatten', '--minify', '--context', testCluster().context])).stdout)
  await kubectl(['config', '--kubeconfig', file, 'set-credentials', name, `--token=${token}`])
  await kubectl(['config', '--kubeconfig', file, 'set-context', testCluster().context, `--user=${name}`])
  return file
}

/**
 * docs/rbac.md's deployer Role exactly as the docs write it (the first YAML block after "## Deployer"), applied in
 * `namespace` and bound to a new ServiceAccount `name`; returns the Role's text and a kubeconfig as that account.
 */
export async function asDeployer(namespace: string, name: string, dir: string): Promise<{role: string; kubeconfig: string}> {
  const doc = await readFile(path.join(repoRoot, 'docs', 'rbac.md'), 'utf8')
  const role = /## Deployer[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc)?.[1]
  if (!role?.includes('kind: Role')) throw new Error('no deployer Role in docs/rbac.md')
  await kubectl(['apply', '-f', '-'], {namespace, input: role})
  await kubectl(['create', 'serviceaccount', name], {namespace})
  await kubectl(['create', 'rolebinding', `${name}-deploys`, '--role=skycap-deployer', `--serviceaccount=${namespace}:${name}`], {namespace})
  return {role, kubeconfig: await kubeconfigAs(namespace, name, dir)}
}

/**
 * DOCKER_HOST of the real node's dockerd, for tests that build images. Throws (the test fails, never skips) when the
 * cluster has none: no real node, or an external cluster without SKYCAP_TEST_DOCKER_HOST.
 */
export function dockerHost(): string {
  const host = process.env[ENV.dockerHost]
  if (!host) {
    throw new Error(
      `this test builds images and the test cluster has no dockerd: it starts with the real node (not with SKYCAP_CLUSTER_REAL_NODE=0; see test/cluster/README.md), or for an external cluster set SKYCAP_TEST_DOCKER_HOST`,
    )
  }
  return host
}

/**
 * The folder holding the docker-buildx CLI plugin test/cluster/build.sh installs, for the buildx build tests (a
 * DOCKER_CONFIG whose cli-plugins holds it makes `docker buildx` work). Throws when the cluster has none.
 */
export function buildxPluginDir(): string {
  const dir = process.env[ENV.buildxBin]
  if (!dir) {
    throw new Error('this test builds with docker buildx and the test cluster has none: test/cluster/build.sh installs it with the real node, or for an external cluster set SKYCAP_TEST_BUILDX_BIN')
  }
  return dir
}

const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json'

/**
 * The real node's containerd registry folder (`config_path`, certs.d; test/cluster/node.sh): a test adds a registry
 * address there (`<host:port>/hosts.toml`, which containerd reads on each pull). SKYCAP_TEST_REGISTRY_HOSTS_DIR names
 * it for an external cluster.
 */
export function registryHostsDir(): string {
  realNode()
  const dir = process.env.SKYCAP_TEST_REGISTRY_HOSTS_DIR ?? path.join(path.dirname(testCluster().kubeconfig), 'node', 'containerd', 'certs.d')
  if (!existsSync(dir)) throw new Error(`this test adds a registry address to the real node's containerd, and ${dir} does not exist: for an external cluster set SKYCAP_TEST_REGISTRY_HOSTS_DIR`)
  return dir
}

/**
 * Gives the test app image the tag skycap will look for (a commit SHA): copies its manifest to `tag` with the
 * Registry HTTP API v2. Returns the full reference.
 */
export async function tagTestAppImage(tag: string): Promise<string> {
  const {image} = realNode()
  const slash = image.indexOf('/')
  const colon = image.lastIndexOf(':')
  const host = image.slice(0, slash)
  const repo = image.slice(slash + 1, colon)
  const from = await fetch(`http://${host}/v2/${repo}/manifests/${image.slice(colon + 1)}`, {headers: {Accept: MANIFEST_V2}})
  if (!from.ok) throw new Error(`GET the manifest of ${image}: HTTP ${from.status}`)
  const put = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {method: 'PUT', body: await from.text(), headers: {'Content-Type': MANIFEST_V2}})
  if (put.status !== 201) throw new Error(`PUT ${host}/${repo}:${tag}: HTTP ${put.status} ${await put.text()}`)
  return `${host}/${repo}:${tag}`
}

/**
 * An HTTP GET from the test process (pod IPs and ClusterIPs of the real node are reachable from the host), on a new
 * connection each time: kube-proxy picks a Service's backend per connection, and fetch() would keep one alive.
 */
export function httpGet(url: string, timeoutMs = 3000): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, {agent: false, timeout: timeoutMs}, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({status: res.statusCode ?? 0, body}))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs}ms`)))
    req.on('error', reject)
  })
}

/**
 * Waits until `url` answers with a body that matches `pattern` on `times` connections in a row, and returns the last
 * answer. kube-proxy programs a new Service a moment after its pods are Ready; before that a connection may be refused,
 * or answered by something that is not the app (CI saw an empty body once in several runs), which is not yet the
 * Service's answer. A timeout names the answers that did not match.
 */
export async function serviceAnswers(url: string, pattern: RegExp, {times = 3, timeoutMs = 60_000} = {}): Promise<{status: number; body: string}> {
  const unlike: string[] = []
  let inARow = 0
  try {
    return await waitFor(
      `${url} to answer ${pattern} ${times} times in a row`,
      async () => {
        const answer = await httpGet(url).catch((err: Error) => {
          unlike.push(err.message)
          return undefined
        })
        if (answer && pattern.test(answer.body)) return ++inARow >= times ? answer : undefined
        if (answer) unlike.push(`HTTP ${answer.status} ${JSON.stringify(answer.body.slice(0, 80))}`)
        inARow = 0
        return undefined
      },
      {timeoutMs, intervalMs: 200},
    )
  } catch (err) {
    throw new Error(`${(err as Error).message}; other answers: ${unlike.slice(-5).join('; ') || 'none'}`, {cause: err})
  }
}

/** The cluster of this run. Throws when called outside a run with the integration hooks. */
export function testCluster(): TestCluster {
  const kubeconfig = process.env[ENV.kubeconfig]
  const context = process.env[ENV.context]
  const kubectlPath = process.env[ENV.kubectl]
  const logDir = process.env[ENV.logDir]
  if (!kubeconfig || !context || !kubectlPath || !logDir) {
    throw new Error('no test cluster: run integration tests with `npm run test:integration` (its --require dist/test/integration/hooks.js starts one)')
  }
  return {kubeconfig, context, kubectlPath, external: process.env[ENV.external] === '1', logDir}
}

export interface KubectlResult {
  stdout: string
  stderr: string
  exitCode: number
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. a manifest for `apply -f -`). */
  input?: string
  /** Adds `--namespace`. */
  namespace?: string
  /** Throw when kubectl exits non-zero (default true). With false, look at exitCode. */
  reject?: boolean
  /** Kill kubectl after this many ms (default 120000). */
  timeoutMs?: number
}

function kubectlArgv(args: readonly string[], namespace?: string): {file: string; argv: string[]} {
  const c = testCluster()
  const argv = ['--kubeconfig', c.kubeconfig, '--context', c.context]
  if (namespace !== undefined) argv.push('--namespace', namespace)
  return {file: c.kubectlPath, argv: [...argv, ...args]}
}

/** Runs kubectl against the test cluster and waits for it to exit. */
export async function kubectl(args: readonly string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  const {file, argv} = kubectlArgv(args, opts.namespace)
  const r = await execa(file, argv, {
    input: opts.input ?? '',
    reject: false,
    timeout: opts.timeoutMs ?? 120_000,
    stripFinalNewline: false,
  })
  const result = {stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1}
  if ((opts.reject ?? true) && result.exitCode !== 0) {
    const why = r.timedOut ? `timed out after ${opts.timeoutMs ?? 120_000}ms` : `exited ${result.exitCode}`
    throw new Error(`kubectl ${args.join(' ')} ${why}:\n${result.stderr || result.stdout}`)
  }
  return result
}

/**
 * Starts a long-running kubectl (`logs -f`, `get -w`) and returns the process without waiting for it.
 * Its output is readable as it comes (proc.stdout); kill it with proc.kill(). It never rejects.
 */
export function kubectlProcess(args: readonly string[], opts: {namespace?: string} = {}): ResultPromise<{reject: false; stdin: 'ignore'}> {
  const {file, argv} = kubectlArgv(args, opts.namespace)
  return execa(file, argv, {reject: false, stdin: 'ignore'})
}

/** Everything a stream has produced so far, and a way to wait for more. */
export interface CapturedOutput {
  /** All text read so far. */
  readonly text: string
  /**
   * Resolves with all text read so far once it matches `match` (text read before the call counts too).
   * Rejects after timeoutMs, or when the stream ends without a match, with the text read.
   */
  waitFor(match: string | RegExp, timeoutMs?: number): Promise<string>
}

/**
 * Starts reading `stream` at once and keeps all of it, so no output is lost between two waits (a readable stream
 * in flowing mode drops what arrives while nobody listens).
 *
 *   const out = captureOutput(proc.stdout)
 *   await out.waitFor('ready')
 *   await appendLog(file, ['next'])
 *   await out.waitFor('next')
 */
export function captureOutput(stream: Readable): CapturedOutput {
  let text = ''
  let ended = false
  const waiters = new Set<() => void>()
  stream.on('data', (chunk: Buffer | string) => {
    text += chunk.toString()
    for (const w of waiters) w()
  })
  stream.on('end', () => {
    ended = true
    for (const w of waiters) w()
  })
  return {
    get text() {
      return text
    },
    waitFor(match, timeoutMs = 30_000) {
      const matches = () => (typeof match === 'string' ? text.includes(match) : match.test(text))
      return new Promise((resolve, reject) => {
        const check = () => {
          if (matches()) finish()
          else if (ended) finish(new Error(`output ended before ${String(match)} appeared; got:\n${text}`))
        }
        const finish = (err?: Error) => {
          clearTimeout(timer)
          waiters.delete(check)
          if (err) reject(err)
          else resolve(text)
        }
        const timer = setTimeout(() => finish(new Error(`${String(match)} did not appear within ${timeoutMs}ms; got:\n${text}`)), timeoutMs)
        waiters.add(check)
        check()
      })
    },
  }
}

/**
 * Polls `check` until it returns something other than undefined/false, and returns that.
 * Rejects after timeoutMs with `what` and the last error thrown by check, if any.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, {timeoutMs = 60_000, intervalMs = 500} = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : ''
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${detail}`)
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/** A namespace name: `<prefix>-<6 random hex>`, cut to the 63 characters Kubernetes allows. */
export function uniqueName(prefix: string): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'it'
  return `${clean.slice(0, 56)}-${randomBytes(3).toString('hex')}`
}

/**
 * Gives every test of the enclosing describe() a fresh namespace: created in a beforeEach, deleted in an afterEach
 * without waiting for the deletion to finish. Any ClusterLogs that podLogFiles created for it go too.
 * Read `.name` inside hooks and tests only (it changes per test).
 *
 *   describe('deploy', () => {
 *     const ns = useNamespace('deploy')
 *     it('...', async () => { await kubectl(['get', 'pods'], {namespace: ns.name}) })
 *   })
 */
export function useNamespace(prefix: string): {readonly name: string} {
  let current: string | undefined
  beforeEach(async function () {
    current = uniqueName(prefix)
    await kubectl(['create', 'namespace', current])
    await waitForServiceAccount(current)
  })
  afterEach(async function () {
    const ns = current
    current = undefined
    if (ns === undefined) return
    await kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found'], {reject: false})
    await kubectl(['delete', 'clusterlogs', '-l', `${LOGS_NAMESPACE_LABEL}=${ns}`, '--wait=false', '--ignore-not-found'], {
      reject: false,
    })
  })
  return {
    get name(): string {
      if (current === undefined) throw new Error('useNamespace(): .name is only set inside a test or its hooks')
      return current
    },
  }
}

// Pods cannot be created in a namespace until the controller-manager has given it its default ServiceAccount.
async function waitForServiceAccount(namespace: string): Promise<void> {
  await waitFor(`the default ServiceAccount of namespace ${namespace}`, async () => (await kubectl(['get', 'serviceaccount', 'default', '-o', 'name'], {namespace, reject: false})).exitCode === 0, {
    timeoutMs: 30_000,
    intervalMs: 200,
  })
}

const LOGS_NAMESPACE_LABEL = 'skycap.test/namespace'

/** The two CRI log files kwok serves for a set of pods. */
export interface PodLogFiles {
  /** `kubectl logs [-f]` reads this. */
  current: string
  /** `kubectl logs --previous` reads this. */
  previous: string
}

/**
 * Points the pods of `namespace` (every pod, or only `opts.pod`) at two new, empty CRI log files and returns their
 * paths; write to them with appendLog(). `kubectl logs` serves `current` (with -f it follows appended lines),
 * `kubectl logs --previous` serves `previous`. Every container of the selected pods shares the files.
 *
 * Backed by kwok's ClusterLogs (for a namespace) and Logs (for one pod) objects, which the test cluster watches as
 * CRDs, so it takes effect without a restart (allow kwok a moment to see the object). Needs a kwok cluster on this
 * machine: kwok reads the files itself.
 */
export async function podLogFiles(namespace: string, opts: {pod?: string} = {}): Promise<PodLogFiles> {
  const crd = await kubectl(['get', 'crd', 'clusterlogs.kwok.x-k8s.io', '-o', 'name'], {reject: false})
  if (crd.exitCode !== 0) {
    throw new Error(`podLogFiles: the cluster has no kwok ClusterLogs CRD (${testCluster().context}); pod logs from files need the kwok test cluster (npm run cluster:up)`)
  }
  const dir = path.join(testCluster().logDir, namespace, opts.pod ?? '_all')
  await mkdir(dir, {recursive: true})
  const files = {current: path.join(dir, 'current.log'), previous: path.join(dir, 'previous.log')}
  // CRI-format readers need the file to exist before `kubectl logs` is called.
  await writeFile(files.current, '', {flag: 'a'})
  await writeFile(files.previous, '', {flag: 'a'})
  const spec = {logs: [{logsFile: files.current, previousLogsFile: files.previous, follow: true}]}
  const object =
    opts.pod === undefined
      ? {
          apiVersion: 'kwok.x-k8s.io/v1alpha1',
          kind: 'ClusterLogs',
          // One per namespace: ClusterLogs are cluster-scoped, so useNamespace deletes them by this label.
          metadata: {name: `skycap-logs-${namespace}`, labels: {[LOGS_NAMESPACE_LABEL]: namespace}},
          spec: {selector: {matchNamespaces: [namespace]}, ...spec},
        }
      : {
          apiVersion: 'kwok.x-k8s.io/v1alpha1',
          kind: 'Logs',
          // kwok matches a Logs object to the pod of the same name and namespace; it goes with the namespace.
          metadata: {name: opts.pod, namespace},
          spec,
        }
  await kubectl(['apply', '-f', '-'], {input: JSON.stringify(object)})
  return files
}

/** Like podLogFiles, returning only the file `kubectl logs` (and `logs -f`) serves. */
export async function podLogFile(namespace: string, opts: {pod?: string} = {}): Promise<string> {
  return (await podLogFiles(namespace, opts)).current
}

/** One CRI log line, as a container runtime writes it: `<RFC3339Nano> <stream> F <text>`. */
export function criLine(text: string, stream: 'stdout' | 'stderr' = 'stdout', time: Date = new Date()): string {
  return `${time.toISOString()} ${stream} F ${text}\n`
}

/**
 * Appends lines to a CRI log file (one CRI line each; a line containing newlines becomes several). Followers
 * (`kubectl logs -f`) receive them as they are written.
 */
export async function appendLog(file: string, lines: readonly string[], stream: 'stdout' | 'stderr' = 'stdout'): Promise<void> {
  const text = lines
    .flatMap((l) => l.split('\n'))
    .map((l) => criLine(l, stream))
    .join('')
  await appendFile(file, text)
}
