import type {Kubectl} from '../kubectl/kubectl.js'
import type {KubeObject} from '../render/objects.js'
import {podReady} from '../resources/status.js'
import {abortableSleep} from '../sleep.js'

/** Why `pod` (as the API server reports it) can no longer be forwarded to, in words after its name; undefined while it can. */
function leaving(pod: KubeObject): string | undefined {
  if ((pod.metadata as {deletionTimestamp?: string}).deletionTimestamp) return 'is terminating'
  return podReady(pod) ? undefined : 'is not ready'
}

/**
 * Resolves when the pod `name` starts terminating (deletionTimestamp), is deleted or stops being Ready, with why
 * (`is terminating`, `is gone`, `is not ready`); with undefined once `signal` aborts, or when the watch is forbidden.
 * One `kubectl get pod --watch` runs meanwhile, and has exited when this resolves. kubectl port-forward notices a
 * replaced pod only when the next connection comes in, and that connection fails: this is how a forward learns it
 * first.
 */
export async function podLeaving(kubectl: Kubectl, name: string, signal: AbortSignal, sleep: (ms: number, signal?: AbortSignal) => Promise<void> = abortableSleep): Promise<string | undefined> {
  while (!signal.aborted) {
    const watch = kubectl.spawn(['get', 'pod', name, '--watch', '-o', 'json'], {signal})
    let why: string | undefined
    let text = ''
    watch.stdout.on('data', (chunk: Buffer | string) => {
      text += String(chunk)
      // kubectl prints each object indented, its closing brace alone on a line.
      for (let end = text.indexOf('\n}\n'); end !== -1 && why === undefined; end = text.indexOf('\n}\n')) {
        const object = text.slice(0, end + 2)
        text = text.slice(end + 3)
        try {
          why = leaving(JSON.parse(object) as KubeObject)
        } catch {
          // Not an object (a warning on stdout): the next one says.
        }
        if (why !== undefined) watch.kill()
      }
    })
    const r = await watch.done
    if (why !== undefined) return why
    if (signal.aborted) break
    if (/NotFound|not found/.test(r.stderr)) return 'is gone'
    // Allowed to forward but not to watch pods (RBAC): the forward goes on unwatched, as kubectl's alone would.
    if (/forbidden/i.test(r.stderr)) break
    // The API server ends a watch after 30 to 60 minutes (and kubectl with it), or did not answer: watched again.
    await sleep(1000, signal)
  }
  return undefined
}
