import type {Kubectl} from '../kubectl/kubectl.js'
import {CONFIG_KINDS, type KubeObject} from '../render/objects.js'

// Server-side apply as manager "skycap": no last-applied annotation, and fields other managers own (an HPA's
// replicas, a mesh's sidecar annotations) are not fought over unless skycap sets them.
const APPLY = ['apply', '--server-side', '--field-manager=skycap', '--force-conflicts', '-f', '-']

function list(objects: KubeObject[]): string {
  return JSON.stringify({apiVersion: 'v1', kind: 'List', items: objects})
}

/** Validates every object with the API server without changing anything (one call). */
export async function dryRunApply(kubectl: Kubectl, objects: KubeObject[], mode: 'server' | 'client'): Promise<void> {
  if (objects.length === 0) return
  // Without the namespace the server cannot dry-run namespaced objects; client mode still checks the schema.
  const flags = mode === 'server' ? ['--dry-run=server'] : ['--dry-run=client', '--validate=strict']
  await kubectl.run([...(mode === 'server' ? APPLY : APPLY.filter((a) => !a.startsWith('--server-side') && !a.startsWith('--field-manager') && !a.startsWith('--force-conflicts'))), ...flags], {
    input: list(objects),
  })
}

/**
 * Applies in two phases (config, then everything else): two kubectl calls however many services. `afterConfig`
 * runs between them (predeploy hooks: they see the release's config, and a failure stops the workloads).
 */
export async function applyInPhases(kubectl: Kubectl, objects: KubeObject[], signal?: AbortSignal, afterConfig?: () => Promise<void>): Promise<string[]> {
  const config = objects.filter((o) => CONFIG_KINDS.has(o.kind))
  const rest = objects.filter((o) => !CONFIG_KINDS.has(o.kind))
  const applied: string[] = []
  for (const phase of [config, rest]) {
    if (phase === rest) await afterConfig?.()
    if (phase.length === 0) continue
    await kubectl.run(APPLY, {input: list(phase), signal})
    applied.push(...phase.map((o) => `${o.kind}/${o.metadata.name}`))
  }
  return applied
}

// Kinds skycap prunes. PersistentVolumeClaims are never pruned (data), nor objects owned by others.
const PRUNE_RESOURCES = [
  'configmaps',
  'secrets',
  'services',
  'serviceaccounts',
  'deployments.apps',
  'statefulsets.apps',
  'daemonsets.apps',
  'jobs.batch',
  'cronjobs.batch',
  'ingresses.networking.k8s.io',
  'horizontalpodautoscalers.autoscaling',
  'poddisruptionbudgets.policy',
  'networkpolicies.networking.k8s.io',
  'roles.rbac.authorization.k8s.io',
  'rolebindings.rbac.authorization.k8s.io',
].join(',')

/** Objects of this app and environment in the namespace that `keep` no longer has (one call). */
export async function findPrunable(kubectl: Kubectl, selector: string, keep: KubeObject[]): Promise<string[]> {
  const wanted = new Set(keep.map((o) => `${o.kind}/${o.metadata.name}`))
  const live = await kubectl.json<{items: KubeObject[]}>(['get', PRUNE_RESOURCES, '-l', selector])
  return live.items
    .filter((o) => !(o.metadata as {ownerReferences?: unknown[]}).ownerReferences?.length)
    .map((o) => `${o.kind}/${o.metadata.name}`)
    .filter((ref) => !wanted.has(ref))
    .sort()
}

/** Deletes the given kind/name refs in one call. */
export async function prune(kubectl: Kubectl, refs: string[]): Promise<void> {
  if (refs.length) await kubectl.run(['delete', '--ignore-not-found', '--wait=false', ...refs])
}
