// What skycap deployed for one app and environment in a namespace, told apart from what others made there, and
// deleted: shared by \`skycap down\` of up's local environment (src/local/down.ts) and of a deployed one (./down.ts).
import {PRUNE_RESOURCES} from '../deploy/apply.js'
import {appSelector} from '../env/connect.js'
import {describeOwner, type Ownership, ownershipOf} from '../env/ownership.js'
import {KubectlError} from '../errors.js'
import {JOB_LABELS} from '../hooks/job.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import type {KubeObject} from '../render/objects.js'
import {RELEASE_LABELS} from '../release/store.js'
import {ROLLOUT_STATE_LABEL} from '../strategies/state.js'

/** The selector of this app and environment's release records (history). */
export function recordSelector(app: string, environment: string): string {
  return `${RELEASE_LABELS.app}=${app},${RELEASE_LABELS.environment}=${environment}`
}

/** The selector of this app and environment's rollout state (blue-green slots, canary steps). */
export function rolloutStateSelector(app: string, environment: string): string {
  return `${ROLLOUT_STATE_LABEL}=${app},${RELEASE_LABELS.environment}=${environment}`
}

/** The selector of the Jobs skycap ran for this app and environment (hooks, `skycap run`): they carry neither the app's labels nor its owner. */
export function jobSelector(app: string, environment: string): string {
  return `${JOB_LABELS.of}=${app},${JOB_LABELS.environment}=${environment}`
}

/**
 * Each part of what deleteOwn deletes, in its order, named as a person would: a down interrupted says which went.
 * `dryRun`: the same deletes as a server dry run, which the API server authorizes as the real ones (a right the
 * identity lacks is refused before anything goes). The rollout state is the ConfigMap and the Secret of a release left
 * mid-way (its manifests, which may hold Secret values).
 */
export function ownDeletes(kubectl: Kubectl, app: string, environment: string, dryRun = false): Array<[what: string, run: () => Promise<unknown>]> {
  const after = (wait: string[]) => (dryRun ? ['--dry-run=server'] : wait)
  return [
    ['its objects', () => kubectl.run(['delete', PRUNE_RESOURCES, '-l', appSelector(app, environment), '--ignore-not-found', ...after(['--wait=true', '--timeout=120s'])])],
    ['its release records', () => kubectl.run(['delete', 'configmaps,secrets', '-l', recordSelector(app, environment), '--ignore-not-found', ...after(['--wait=false'])])],
    ['its rollout state', () => kubectl.run(['delete', 'configmaps,secrets', '-l', rolloutStateSelector(app, environment), '--ignore-not-found', ...after(['--wait=false'])])],
  ]
}

/** Deletes this app and environment's objects (every kind a deploy prunes), its release records and its rollout state. */
export async function deleteOwn(kubectl: Kubectl, app: string, environment: string): Promise<void> {
  for (const [, run] of ownDeletes(kubectl, app, environment)) await run()
}

/**
 * How many objects and records of this app and environment the namespace holds, the other apps and environments with objects or release records in it (skycap's labels say whose), e.g.
 * "app lbeta (environment local)", and the objects no skycap app deployed (made by hand or by another tool), e.g.
 * "Secret/beta-db": Kubernetes' own (the root CA ConfigMap, what a controller made) aside. One get. Not the
 * PersistentVolumeClaims: a StatefulSet's carry neither skycap's labels nor an owner, and would keep every namespace
 * with a database in it.
 */
export async function othersIn(kubectl: Kubectl, app: string, environment: string): Promise<{others: string[]; unmanaged: string[]; own: number}> {
  // A user who may not list Secrets (or Jobs, Pods) on a cluster of their own gets the kinds read before (the whole
  // down failed otherwise); what is made by hand is then told from those.
  const list = await kubectl
    .json<{items: KubeObject[]}>(['get', 'configmaps,secrets,deployments.apps,statefulsets.apps,daemonsets.apps,services,jobs.batch,cronjobs.batch,pods'])
    .catch((error: unknown) => {
      if (error instanceof KubectlError && error.kind === 'forbidden') return kubectl.json<{items: KubeObject[]}>(['get', 'configmaps,deployments.apps,statefulsets.apps,daemonsets.apps,services'])
      throw error
    })
  const others = new Set<string>()
  const unmanaged: string[] = []
  let own = 0
  for (const item of list.items) {
    const labels = item.metadata.labels ?? {}
    // A release record, the rollout state and a hook or run Job carry the app (and environment) they are of; anything
    // skycap deployed, its own labels.
    const record = labels[RELEASE_LABELS.app] ?? labels[ROLLOUT_STATE_LABEL] ?? labels[JOB_LABELS.of]
    const owner: Ownership =
      record !== undefined
        ? record === app && labels[RELEASE_LABELS.environment] === environment
          ? {owner: 'this'}
          : {owner: 'other', app: record, environment: labels[RELEASE_LABELS.environment] ?? ''}
        : ownershipOf(item, app, environment)
    if (owner.owner === 'this') own++
    else if (owner.owner === 'other') others.add(describeOwner(owner, app))
    else if (owner.owner === 'unmanaged' && !kubernetesOwn(item)) unmanaged.push(`${item.kind}/${item.metadata.name}`)
  }
  return {others: [...others].sort(), unmanaged, own}
}

/** What Kubernetes makes in every namespace or from other objects: never a reason to keep a namespace. */
export function kubernetesOwn(item: KubeObject): boolean {
  const meta = item.metadata as KubeObject['metadata'] & {ownerReferences?: unknown[]}
  if (meta.ownerReferences?.length) return true
  if (item.kind === 'ConfigMap' && meta.name === 'kube-root-ca.crt') return true
  return item.kind === 'Secret' && (item as {type?: string}).type === 'kubernetes.io/service-account-token'
}
