import {InterruptedError} from '../errors.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import type {KubeObject} from '../render/objects.js'
import type {PodEvent, PullErrors} from './status.js'

/**
 * Asks the kubelet's events why the pulls in back-off failed, when no poll saw their ErrImagePull: one `kubectl get
 * events` of the namespace's pull failures, only when such a back-off is there, once per container. Events that
 * cannot be read (RBAC, expired) leave the back-off unexplained, and it is judged as before (a failure).
 */
export async function explainBackOffs(kubectl: Kubectl, pulls: PullErrors, items: KubeObject[], signal?: AbortSignal): Promise<void> {
  const backOffs = pulls.unexplained(items)
  if (backOffs.length === 0) return
  const events = await kubectl
    .json<{items: PodEvent[]}>(['get', 'events', '--field-selector', 'involvedObject.kind=Pod,reason=Failed'], {signal})
    .then((l) => l.items)
    .catch((error: unknown) => {
      if (signal?.aborted || error instanceof InterruptedError) throw error
      return [] as PodEvent[]
    })
  pulls.learn(backOffs, events)
}
