import {UserError} from '../errors.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import {LABELS, type KubeObject} from '../render/objects.js'
import {podReady} from '../resources/status.js'

/** The selector of one service's pods in one environment (as `skycap logs` selects them). */
export function servicePodSelector(app: string, environment: string, service: string): string {
  return `${LABELS.instance}=${app}-${environment},${LABELS.name}=${service}`
}

/**
 * The pod of `service` to exec into or forward to: `wanted` when given (it must be one of the service's pods in this
 * environment, never another's), else the oldest ready one (the one least likely to be replaced mid-session), or the
 * newest with `prefer: 'newest'`.
 */
export async function choosePod(kubectl: Kubectl, app: string, environment: string, service: string, wanted?: string, prefer: 'oldest' | 'newest' = 'oldest'): Promise<string> {
  const list = await kubectl.json<{items: KubeObject[]}>(['get', 'pods', '-l', servicePodSelector(app, environment, service)])
  const running = list.items.filter((p) => !(p.metadata as {deletionTimestamp?: string}).deletionTimestamp)
  if (wanted !== undefined) {
    if (running.some((p) => p.metadata.name === wanted)) return wanted
    throw new UserError(`pod ${wanted} is not a pod of ${service} in ${environment}`, {hint: `Pods of ${service}: ${running.map((p) => p.metadata.name).join(', ') || 'none'}.`})
  }
  const ready = running.filter(podReady).sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)) || a.metadata.name.localeCompare(b.metadata.name))
  // The newest: a forward reconnecting mid-rollout, where the oldest ready pods are the next to be replaced.
  const pod = (prefer === 'newest' ? ready.at(-1) : ready[0])?.metadata.name
  if (!pod) throw new UserError(`no ready pod of ${service} in ${environment}`, {hint: `\`skycap status ${environment}\` shows what runs; deploy it, or wait for its pods to become ready.`})
  return pod
}

/**
 * What `port-forward` connects to: the service's Kubernetes Service when it has one (kubectl picks a ready pod
 * behind it), else one of its pods. Either way a ready pod must exist: kubectl, given a Service with none (a service
 * scaled to 0, a crash loop), waited 30 s and failed with "watch closed before UntilWithoutRetry timeout".
 */
export async function forwardTarget(kubectl: Kubectl, app: string, environment: string, service: string): Promise<string> {
  const services = await kubectl.json<{items: KubeObject[]}>(['get', 'services', '-l', servicePodSelector(app, environment, service)])
  const own = services.items.find((s) => s.metadata.name === service)
  const pod = await choosePod(kubectl, app, environment, service)
  return own ? `service/${service}` : `pod/${pod}`
}
