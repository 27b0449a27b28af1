import {chmodSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {PassThrough} from 'node:stream'

import {Kubectl, type ProcessResult, type ProcessRunner, type ProcessSpawner} from '../../src/kubectl/kubectl.js'

/** One expected kubectl call: the exact argv, and what the fake process answers. */
export interface Expectation {
  argv: string[]
  /** What the process answers; a function to answer from what earlier calls sent (e.g. a lock id). */
  result?: Partial<ProcessResult> | (() => Partial<ProcessResult>)
  /** Checks stdin (e.g. the applied objects). */
  input?: (input: string | undefined) => void
}

/**
 * A kubectl at the process boundary for unit tests: answers calls in order and fails the test on any argv it
 * did not expect. Only for what a real cluster cannot do on demand (exact argv, injected failures).
 */
export function fakeKubectl(
  expected: Expectation[],
  options: {context?: string; namespace?: string} = {},
  shared?: {queue: Expectation[]; calls: Array<{file: string; argv: string[]; input?: string}>},
) {
  // `shared`: several Kubectl instances (unbound, then bound to an environment) answering from one script.
  const calls = shared?.calls ?? []
  const queue = shared?.queue ?? [...expected]
  const runner: ProcessRunner = async (file, argv, opts) => {
    calls.push({file, argv, input: opts.input})
    const next = queue.shift()
    if (!next) throw new Error(`unexpected kubectl call: ${argv.join(' ')}`)
    if (JSON.stringify(next.argv) !== JSON.stringify(argv)) {
      throw new Error(`kubectl argv mismatch\n  expected: ${next.argv.join(' ')}\n  actual:   ${argv.join(' ')}`)
    }
    next.input?.(opts.input)
    return {exitCode: 0, stdout: '', stderr: '', ...(typeof next.result === 'function' ? next.result() : next.result)}
  }
  const kubectl = new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, ...options})
  return {kubectl, calls, remaining: () => queue.length}
}

/** A spawner whose processes (a watch, a `logs -f`) print nothing and run until stopped (their signal or kill). */
export const quietSpawner: ProcessSpawner = (_file, _args, options) => {
  let stop = () => undefined as void
  const done = new Promise<ProcessResult>((resolve) => {
    stop = () => resolve({exitCode: 0, stdout: '', stderr: '', signal: 'SIGTERM'})
    if (options.signal?.aborted) stop()
    options.signal?.addEventListener('abort', stop, {once: true})
  })
  return {stdout: new PassThrough(), done, kill: () => stop()}
}

/**
 * A KubectlFactory whose instances (the unbound one that checks the context, then the one bound to the environment)
 * answer from one script, in order: for pinning the argv of a whole use case.
 */
export function fakeKubectlFactory(expected: Expectation[]) {
  const shared = {queue: [...expected], calls: [] as Array<{file: string; argv: string[]; input?: string}>}
  return {
    factory: (options: {context?: string; namespace?: string}) => fakeKubectl([], options, shared).kubectl,
    calls: shared.calls,
    remaining: () => shared.queue.length,
  }
}

/** A Deployment as the API server reports it once the controller observed it: `ready` of its `replicas` pods ready (all by default). */
export function deploymentStatus(name: string, replicas: number, ready = replicas) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name, generation: 1, annotations: {'deployment.kubernetes.io/revision': '1'}},
    spec: {replicas},
    status: {observedGeneration: 1, replicas, updatedReplicas: replicas, readyReplicas: ready, availableReplicas: ready},
  }
}

/**
 * A kubectl program (SKYCAP_KUBECTL) for running `skycap logs` as a process: the context `it-context`, one pod web-1
 * of web, whose log is `lines` (with kubectl's --timestamps); with --follow it keeps following. Any other call fails.
 * Returns its path, in `dir`.
 */
export function logsKubectlProgram(dir: string, lines: string[]): string {
  const path = join(dir, 'fake-kubectl.mjs')
  const pod = {metadata: {name: 'web-1', labels: {'app.kubernetes.io/name': 'web'}}, spec: {containers: [{name: 'web'}]}, status: {containerStatuses: [{name: 'web', state: {running: {}}}]}}
  writeFileSync(
    path,
    `#!/usr/bin/env node
const argv = process.argv.slice(2)
if (argv.includes('get-contexts')) process.stdout.write('it-context\\n')
else if (argv.includes('get') && argv.includes('pods')) process.stdout.write(${JSON.stringify(JSON.stringify({items: [pod]}))})
else if (argv.includes('logs')) {
  process.stdout.write(${JSON.stringify(lines)}.map((l, i) => '2026-12-01T00:00:0' + i + '.000000000Z ' + l + '\\n').join(''))
  if (argv.includes('--follow')) setTimeout(() => undefined, 30000)
}
else { process.stderr.write('unexpected: ' + argv.join(' ') + '\\n'); process.exit(1) }
`,
  )
  chmodSync(path, 0o755)
  return path
}
