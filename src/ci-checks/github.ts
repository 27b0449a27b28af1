// The two GitHub REST calls requireChecks needs: a commit's combined status and its check runs.
// https://docs.github.com/en/rest/commits/statuses#get-the-combined-status-for-a-specific-reference
// https://docs.github.com/en/rest/checks/runs#list-check-runs-for-a-git-reference
import {redact} from '../redact.js'
import {UnreachableError, UserError} from '../errors.js'
import {githubHeaders, repositoryUrl} from '../github/api.js'
import {fetchFailure} from '../fetch-failure.js'

/** Where and how to ask GitHub. */
export interface GithubApi {
  /** The REST API root: GITHUB_API_URL as GitHub Actions sets it (https://HOST/api/v3 on GitHub Enterprise Server). */
  base: string
  token: string
  /** Per request (default 10 s). */
  timeoutMs?: number
  fetch?: typeof fetch
}

/** One commit status (the latest per context), as the combined-status API lists it. */
export interface CommitStatus {
  context: string
  /** success, pending, failure or error. */
  state: string
  target_url?: string | null
  description?: string | null
}

/** One check run, as the check-runs API lists it. */
export interface CheckRun {
  name: string
  /** queued, in_progress, completed (waiting, requested, pending). */
  status: string
  /** Once completed: success, failure, neutral, cancelled, skipped, timed_out, action_required, stale. */
  conclusion?: string | null
  html_url?: string | null
  details_url?: string | null
}

export const REQUEST_TIMEOUT_MS = 10_000
/** Pages of 100 followed per list: a commit with more than 1000 check runs is not one a deploy waits on. */
const MAX_PAGES = 10

/** The statuses and check runs GitHub has for `sha` in `repository` (owner/name). */
export async function commitChecks(api: GithubApi, repository: string, sha: string): Promise<{statuses: CommitStatus[]; checkRuns: CheckRun[]}> {
  const root = `${repositoryUrl(api.base, repository)}/commits/${sha}`
  const [statuses, checkRuns] = await Promise.all([
    pages<{statuses?: CommitStatus[]}>(api, `${root}/status?per_page=100`, repository, sha).then((ps) => ps.flatMap((p) => p.statuses ?? [])),
    pages<{check_runs?: CheckRun[]}>(api, `${root}/check-runs?per_page=100`, repository, sha).then((ps) => ps.flatMap((p) => p.check_runs ?? [])),
  ])
  return {statuses, checkRuns}
}

/** GETs `url` and the pages its Link headers name next. */
async function pages<T>(api: GithubApi, url: string, repository: string, sha: string): Promise<T[]> {
  const out: T[] = []
  let next: string | undefined = url
  for (let page = 0; next && page < MAX_PAGES; page++) {
    const res = await get(api, next)
    if (!res.ok) throw await httpError(api, res, repository, sha)
    // An answer that is not JSON (a proxy's or a login page, a GITHUB_API_URL that is not the API) was read as "no
    // checks" (exit 2, wait for CI): it is the API that failed.
    const text = await res.text().catch(() => '')
    try {
      out.push(JSON.parse(text) as T)
    } catch {
      throw new UnreachableError(
        `the GitHub API at ${api.base} answered the checks of ${repository} with something that is not JSON (HTTP ${res.status}, ${res.headers.get('content-type') ?? 'no content type'}); nothing was changed`,
        {
          hint: 'Check GITHUB_API_URL (GitHub Enterprise Server: https://HOST/api/v3) and any proxy in between, then deploy again; --ignore-checks deploys without asking GitHub (recorded in history).',
          details: {api: api.base, repository, sha, status: res.status},
        },
      )
    }
    next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1]
  }
  return out
}

async function get(api: GithubApi, url: string): Promise<Response> {
  const timeoutMs = api.timeoutMs ?? REQUEST_TIMEOUT_MS
  const doFetch = api.fetch ?? fetch
  try {
    return await doFetch(url, {
      headers: githubHeaders(api.token),
      signal: AbortSignal.timeout(timeoutMs),
    })
  } catch (error) {
    const {why} = fetchFailure(error, timeoutMs)
    throw new UnreachableError(`cannot reach the GitHub API at ${api.base} to read the checks (${why}); nothing was changed`, {
      hint: 'Check the network and GITHUB_API_URL (GitHub Enterprise Server: https://HOST/api/v3), then deploy again; --ignore-checks deploys without asking GitHub (recorded in history).',
      details: {api: api.base},
    })
  }
}

/**
 * When GitHub's answer is a rate limit, when to try again ("after 2026-12-01T10:00:00Z", "in 60s or later", "in a few
 * minutes"); undefined for any other answer. GitHub answers 403 or 429, with x-ratelimit-remaining 0 and the
 * x-ratelimit-reset time (the primary limit), or retry-after seconds (a secondary limit):
 * https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
 */
export function rateLimitRetry(res: Pick<Response, 'status' | 'headers'>, message: string): string | undefined {
  if (res.status !== 403 && res.status !== 429) return undefined
  const exhausted = res.headers.get('x-ratelimit-remaining') === '0'
  const retryAfter = Number(res.headers.get('retry-after') ?? Number.NaN)
  if (!exhausted && Number.isNaN(retryAfter) && !/rate limit/i.test(message) && res.status !== 429) return undefined
  if (retryAfter >= 0) return `in ${retryAfter}s or later`
  const reset = Number(res.headers.get('x-ratelimit-reset') ?? Number.NaN)
  if (exhausted && reset > 0) return `after ${new Date(reset * 1000).toISOString().replace('.000Z', 'Z')}`
  return 'in a few minutes'
}

async function httpError(api: GithubApi, res: Response, repository: string, sha: string): Promise<Error> {
  // GitHub's error bodies are {message, documentation_url}. A proxy or an Enterprise server's error page may quote the
  // request, its Authorization header with the token: redacted, on one line, at most 200 characters.
  const message = ((await res.json().catch(() => ({}))) as {message?: unknown}).message
  const body = redact(String(message ?? res.statusText), api.token ? [api.token] : [])
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200)
  const said = `HTTP ${res.status}${body ? `: ${body}` : ''}`
  const details = {api: api.base, repository, sha, status: res.status}
  const rateLimit = rateLimitRetry(res, body)
  if (rateLimit) {
    // Not the token's fault: a token that can read the checks gets this too, once it has used its hourly requests.
    return new UnreachableError(`GitHub's API rate limit stopped skycap from reading the checks of ${repository} (${said}); nothing was changed`, {
      hint: `Deploy again ${rateLimit}: the token is not at fault; --ignore-checks deploys without asking GitHub (recorded in history).`,
      details,
    })
  }
  if (res.status === 401 || res.status === 403) {
    return new UnreachableError(`GitHub refused to show the checks of ${repository} (${said}); nothing was changed`, {
      hint: `Set GITHUB_TOKEN to a token that can read ${repository}'s commit statuses and checks (in GitHub Actions: permissions: {checks: read, statuses: read}).`,
      details,
    })
  }
  if (res.status === 404 || res.status === 422) {
    return new UserError(`GitHub has no commit ${sha} in ${repository} (${said}); nothing was changed`, {
      hint: 'Push the commit, and check the repository (requireChecks.repository in skycap.yaml, GITHUB_REPOSITORY or the git remote origin) and that the token can read it.',
      details,
    })
  }
  return new UnreachableError(`the GitHub API at ${api.base} failed to list the checks of ${repository} (${said}); nothing was changed`, {
    hint: 'Try again in a moment (githubstatus.com); --ignore-checks deploys without asking GitHub (recorded in history).',
    details,
  })
}
