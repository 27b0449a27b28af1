import type {NotifyConfig} from '../config/types.js'
import type {DeployEvent} from './event.js'
import type {TargetSetup} from './notifier.js'
import {createdId, notSet, type Send} from './request.js'

const STATUSES: Record<DeployEvent['event'], 'running' | 'success' | 'failed'> = {started: 'running', succeeded: 'success', failed: 'failed', 'rolled-back': 'success'}

/**
 * The body that creates the GitLab deployment of an event's release. GitLab wants the branch or tag too: the
 * pipeline's (CI_COMMIT_TAG, CI_COMMIT_REF_NAME) when it built this revision, else the revision itself.
 */
export function gitlabDeployment(event: DeployEvent, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const fromPipeline = env.CI_COMMIT_SHA === event.revision.sha
  const tag = fromPipeline ? env.CI_COMMIT_TAG : undefined
  const ref = (fromPipeline && (tag || env.CI_COMMIT_REF_NAME)) || event.revision.sha
  return {environment: event.environment, sha: event.revision.sha, ref, tag: Boolean(tag), status: STATUSES[event.event]}
}

/**
 * notify.gitlab.deployments: each release is a GitLab deployment (running, then success or failed); an automatic
 * rollback is one of its own. API base CI_API_V4_URL, project from skycap.yaml or CI_PROJECT_ID, token GITLAB_TOKEN
 * (PRIVATE-TOKEN) else CI_JOB_TOKEN (JOB-TOKEN).
 */
export function gitlabTarget(config: NonNullable<NotifyConfig['gitlab']>, env: NodeJS.ProcessEnv): TargetSetup | undefined {
  if (!config.deployments) return undefined
  const project = config.project !== undefined ? String(config.project) : env.CI_PROJECT_ID
  const token = env.GITLAB_TOKEN || env.CI_JOB_TOKEN
  if (!token || !project) return notSet('gitlab', [!token && 'GITLAB_TOKEN (or CI_JOB_TOKEN)', !project && 'CI_PROJECT_ID (or notify.gitlab.project)'], 'no GitLab deployment is recorded', env)
  const api = `${(env.CI_API_V4_URL || 'https://gitlab.com/api/v4').replace(/\/+$/, '')}/projects/${encodeURIComponent(project)}/deployments`
  const headers: Record<string, string> = {[env.GITLAB_TOKEN ? 'PRIVATE-TOKEN' : 'JOB-TOKEN']: token}
  const deployments = new Map<number, number>()
  const create = async (event: DeployEvent, send: Send): Promise<void> => {
    deployments.set(event.release, createdId(await send({method: 'POST', url: api, headers, body: gitlabDeployment(event, env)}), 'GitLab', event.release))
  }
  return {
    target: {
      name: 'gitlab',
      secrets: [token],
      async send(event, send) {
        const id = deployments.get(event.release)
        // The first event of a release creates its deployment with the event's status; later ones update it.
        if (id === undefined) await create(event, send)
        else await send({method: 'PUT', url: `${api}/${id}`, headers, body: {status: STATUSES[event.event]}})
      },
    },
  }
}
