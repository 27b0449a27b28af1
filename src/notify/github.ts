import type {NotifyConfig} from '../config/types.js'
import {githubHeaders, githubRepository, repositoryUrl} from '../github/api.js'
import {type DeployEvent, describeEvent} from './event.js'
import type {TargetSetup} from './notifier.js'
import {createdId, notSet, type Send} from './request.js'

const STATES: Record<DeployEvent['event'], 'in_progress' | 'success' | 'failure'> = {started: 'in_progress', succeeded: 'success', failed: 'failure', 'rolled-back': 'success'}

/** The body that creates the GitHub deployment of an event's release. */
export function githubDeployment(event: DeployEvent, production: boolean): Record<string, unknown> {
  return {
    ref: event.revision.sha,
    environment: event.environment,
    description: `skycap ${event.action} release ${event.release}`,
    // skycap deploys what it was told; GitHub's own check of the commit's statuses would refuse a rollback's old revision.
    auto_merge: false,
    required_contexts: [],
    production_environment: production,
    payload: {app: event.app, release: event.release, action: event.action},
  }
}

/** The status an event sets on the deployment. */
export function githubStatus(event: DeployEvent): Record<string, unknown> {
  return {
    state: STATES[event.event],
    description: describeEvent(event).slice(0, 140),
    ...(event.url ? {log_url: event.url} : {}),
    ...(event.environmentUrl ? {environment_url: event.environmentUrl} : {}),
    // A successful deployment marks the environment's earlier ones inactive.
    auto_inactive: true,
  }
}

/**
 * notify.github.deployments: each release is a GitHub deployment of its revision to the environment; started sets
 * in_progress, the end success or failure. An automatic rollback is a deployment of its own (the revision that runs
 * again). Token GITHUB_TOKEN, repository from skycap.yaml or GITHUB_REPOSITORY, API base GITHUB_API_URL.
 */
export async function githubTarget(
  config: NonNullable<NotifyConfig['github']>,
  env: NodeJS.ProcessEnv,
  production: boolean,
  remoteUrl: () => Promise<string | undefined> = async () => undefined,
): Promise<TargetSetup | undefined> {
  if (!config.deployments) return undefined
  const token = env.GITHUB_TOKEN
  // As requireChecks finds it: skycap.yaml, GITHUB_REPOSITORY (owner/name), the remote origin.
  const found = await githubRepository(config.repository, env, remoteUrl)
  if ('notOwnerName' in found) return {warning: `notify.github: GITHUB_REPOSITORY is "${found.notOwnerName}", not owner/name; no GitHub deployment is recorded`}
  const repository = 'repository' in found ? found.repository : undefined
  if (!token || !repository)
    return notSet('github', [!token && 'GITHUB_TOKEN', !repository && 'GITHUB_REPOSITORY (or notify.github.repository, or a remote origin on GitHub)'], 'no GitHub deployment is recorded', env)
  const api = `${repositoryUrl(env.GITHUB_API_URL, repository)}/deployments`
  // Only the token is a secret: "skycap" (User-Agent), the media type and the API version stay readable in an answer.
  const {authorization, ...publicHeaders} = githubHeaders(token)
  const headers = {authorization}
  /** Deployment ids by release number. */
  const deployments = new Map<number, number>()
  const create = async (event: DeployEvent, send: Send): Promise<number> => {
    const id = createdId(await send({method: 'POST', url: api, headers, publicHeaders, body: githubDeployment(event, production)}), 'GitHub', event.release)
    deployments.set(event.release, id)
    return id
  }
  return {
    target: {
      name: 'github',
      secrets: [token],
      async send(event, send) {
        // When the start was not recorded (the API was slow or down), the end still is.
        const id = deployments.get(event.release) ?? (await create(event, send))
        await send({method: 'POST', url: `${api}/${id}/statuses`, headers, publicHeaders, body: githubStatus(event)})
      },
    },
  }
}
