import {Kubectl, type ProcessResult, type ProcessRunner} from '../../src/kubectl/kubectl.js'

/** One expected kubectl call: the exact argv, and what the fake process answers. */
export interface Expectation {
  argv: string[]
  result?: Partial<ProcessResult>
  /** Checks stdin (e.g. the applied objects). */
  input?: (input: string | undefined) => void
}

/**
 * A kubectl at the process boundary for unit tests: answers calls in order and fails the test on any argv it
 * did not expect. Only for what a real cluster cannot do on demand (exact argv, injected failures).
 */
export function fakeKubectl(expected: Expectation[], options: {context?: string; namespace?: string} = {}) {
  const calls: Array<{file: string; argv: string[]; input?: string}> = []
  const queue = [...expected]
  const runner: ProcessRunner = async (file, argv, opts) => {
    calls.push({file, argv, input: opts.input})
    const next = queue.shift()
    if (!next) throw new Error(`unexpected kubectl call: ${argv.join(' ')}`)
    if (JSON.stringify(next.argv) !== JSON.stringify(argv)) {
      throw new Error(`kubectl argv mismatch\n  expected: ${next.argv.join(' ')}\n  actual:   ${argv.join(' ')}`)
    }
    next.input?.(opts.input)
    return {exitCode: 0, stdout: '', stderr: '', ...next.result}
  }
  const kubectl = new Kubectl({binary: 'kubectl', runner, sleep: async () => undefined, ...options})
  return {kubectl, calls, remaining: () => queue.length}
}
