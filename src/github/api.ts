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
