// The GitHub REST API as skycap speaks to it: requireChecks reads a commit's statuses and check runs
// (src/ci-checks/github.ts), notify.github records deployments (src/notify/github.ts). One place for the API root and
// the headers every request carries.
import {USER_AGENT} from '../identity.js'

/** The API root when GITHUB_API_URL is not set (GitHub Enterprise Server: https://HOST/api/v3). */
export const DEFAULT_API_URL = 'https://api.github.com'

/** `<root>/repos/<owner>/<name>`: the root is GITHUB_API_URL as GitHub Actions sets it, else api.github.com. */
export function repositoryUrl(base: string | undefined, repository: string): string {
  return `${(base || DEFAULT_API_URL).replace(/\/+$/, '')}/repos/${repository}`
}

/** The headers of every request: the token, GitHub's JSON media type, the API version skycap is written against. */
export function githubHeaders(token: string): {accept: string; authorization: string; 'x-github-api-version': string; 'user-agent': string} {
  return {accept: 'application/vnd.github+json', authorization: `Bearer ${token}`, 'x-github-api-version': '2022-11-28', 'user-agent': USER_AGENT}
}

/** owner/name from a git remote URL (https, ssh or scp-like), or undefined when it does not look like one. */
export function repositoryFromRemote(url: string): string | undefined {
  const path = /^[\w+.-]+:\/\/[^/]+\/(.*)$/.exec(url)?.[1] ?? /^[^/:]+@[^/:]+:(.*)$/.exec(url)?.[1]
  const parts = path
    ?.replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .split('/')
  const repository = parts && parts.length >= 2 ? parts.slice(-2).join('/') : undefined
  return repository && REPOSITORY.test(repository) ? repository : undefined
}

const REPOSITORY = /^[\w.-]+\/[\w.-]+$/

/** The GitHub repository requireChecks and notify.github use, or why there is none. */
export type FoundRepository = {repository: string} | {notOwnerName: string} | {none: string}

/**
 * skycap.yaml's repository, else GITHUB_REPOSITORY (owner/name), else the one the git remote origin names. Both
 * requireChecks and notify.github look so (notify did not read the remote, and took any GITHUB_REPOSITORY).
 */
export async function githubRepository(configured: string | undefined, env: NodeJS.ProcessEnv, remoteUrl: () => Promise<string | undefined>): Promise<FoundRepository> {
  if (configured) return {repository: configured}
  if (env.GITHUB_REPOSITORY) return REPOSITORY.test(env.GITHUB_REPOSITORY) ? {repository: env.GITHUB_REPOSITORY} : {notOwnerName: env.GITHUB_REPOSITORY}
  const remote = await remoteUrl().catch(() => undefined)
  const repository = remote ? repositoryFromRemote(remote) : undefined
  return repository ? {repository} : {none: remote ? `the remote origin ${remote} names none` : 'no remote origin'}
}
