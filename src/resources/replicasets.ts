import {isDeepStrictEqual} from 'node:util'

import type {KubeObject} from '../render/objects.js'

/** The fields of a live Deployment or ReplicaSet that finding the current ReplicaSet reads. */
export interface LiveTemplated extends KubeObject {
  spec?: {replicas?: number; template?: {metadata?: {labels?: Record<string, string>}; spec?: {containers?: Array<{image?: string}>}}}
}

const REVISION = 'deployment.kubernetes.io/revision'
const HASH = 'pod-template-hash'

/**
 * The ReplicaSet of the revision `deployment` asks for: its deployment.kubernetes.io/revision is the Deployment's
 * and its pod template is the Deployment's (with the pod-template-hash label the controller adds), as the Deployment
 * controller itself finds it. Undefined while the controller has not created (or, rolling back, reused) it.
 *
 * The annotation alone is not enough: when a change of the pod template comes with a change of replicas, the
 * controller first handles the scaling, and reports that generation as observed while its revision annotation still
 * names the ReplicaSet of the release before (seen on the test cluster: generation 5 observed, revision 4, before
 * the new ReplicaSet existed). Judged by the annotation, that earlier ReplicaSet's pods (crash-looping after a
 * `--no-rollback` deploy, or the release a rollback leaves) failed the rollout.
 */
export function currentReplicaSet<T extends LiveTemplated>(deployment: LiveTemplated, replicaSets: T[]): T | undefined {
  const revision = deployment.metadata.annotations?.[REVISION]
  return replicaSets.find((rs) => {
    if (revision === undefined || rs.metadata.annotations?.[REVISION] !== revision) return false
    const labels = {...rs.spec?.template?.metadata?.labels}
    delete labels[HASH]
    return isDeepStrictEqual({...rs.spec?.template, metadata: {...rs.spec?.template?.metadata, labels}}, deployment.spec?.template)
  })
}
