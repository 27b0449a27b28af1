import {type KubeObject, LABELS} from '../render/objects.js'

/**
 * Whose a live object is, by the labels skycap gives everything it deploys: this app and environment's, another
 * app's or environment's (several apps, or two environments, may share a namespace), or nobody's through skycap
 * (made by hand, by another tool, or by a copy that lost the labels).
 */
export type Ownership = {owner: 'this'} | {owner: 'other'; app: string; environment: string} | {owner: 'unmanaged'}

/** Whose `object` is, seen from app `app`, environment `environment`. */
export function ownershipOf(object: KubeObject, app: string, environment: string): Ownership {
  const labels = object.metadata.labels ?? {}
  if (labels[LABELS.managedBy] !== 'skycap') return {owner: 'unmanaged'}
  const [theirApp, theirEnv] = [labels[LABELS.partOf] ?? '', labels[LABELS.environment] ?? '']
  return theirApp === app && theirEnv === environment ? {owner: 'this'} : {owner: 'other', app: theirApp, environment: theirEnv}
}

/** "app alpha (environment test)", "environment prod of this app", or "no skycap app (it was not deployed by skycap: …)". */
export function describeOwner(owner: Exclude<Ownership, {owner: 'this'}>, app: string): string {
  if (owner.owner === 'unmanaged') return 'no skycap app (it was not deployed by skycap: no app.kubernetes.io/managed-by=skycap label)'
  if (owner.app === app) return `environment ${owner.environment || '(none)'} of this app`
  return `app ${owner.app || '(none)'} (environment ${owner.environment || '(none)'})`
}
