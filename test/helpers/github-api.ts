// A local HTTP server in the test process that speaks the two GitHub REST endpoints requireChecks reads:
// GET /repos/{owner}/{repo}/commits/{ref}/status (combined status) and .../check-runs, with GitHub's paging (Link
// headers), its 401/404/422 bodies, and answers as slow as a test asks.
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

import type {CheckRun, CommitStatus} from '../../src/ci-checks/github.js'

/** What the server says about one commit. */
export interface FakeCommit {
  statuses?: CommitStatus[]
  checkRuns?: CheckRun[]
  /** Answer every request for this commit with this HTTP status instead. */
  httpStatus?: number
  /** Wait this long before answering. */
  delayMs?: number
  /**
   * Answer as GitHub does past a rate limit: `primary`, 403 with x-ratelimit-remaining 0 and the reset time
   * (RATE_LIMIT_RESET); `secondary`, 429 with retry-after 60.
   */
  rateLimited?: 'primary' | 'secondary'
}

/** When the primary rate limit of the fake server resets: 2026-12-01T10:00:00Z, in epoch seconds. */
export const RATE_LIMIT_RESET = 1_796_119_200

export class GithubApiServer {
  readonly commits = new Map<string, FakeCommit>()
  /** Every request: path with query, its Authorization header, and each User-Agent header line it was sent with. */
  readonly requests: Array<{path: string; authorization?: string; userAgents: string[]}> = []

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly repository: string,
    readonly token: string,
  ) {}

  static async start(repository = 'acme/shop', token = 'test-token'): Promise<GithubApiServer> {
    const handlers: Array<(req: IncomingMessage, res: ServerResponse) => Promise<void>> = []
    const server = createServer((req, res) => void handlers[0]?.(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const api = new GithubApiServer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, repository, token)
    handlers.push((req, res) => api.answer(req, res))
    return api
  }

  /** The environment a CLI run needs to ask this server. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {GITHUB_API_URL: this.url, GITHUB_TOKEN: this.token, GITHUB_REPOSITORY: this.repository, ...extra}
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url)
    const userAgents = req.rawHeaders.filter((_, i) => i % 2 === 1 && req.rawHeaders[i - 1]?.toLowerCase() === 'user-agent')
    this.requests.push({path: `${url.pathname}${url.search}`, authorization: req.headers.authorization, userAgents})
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (res.destroyed) return
      res.writeHead(status, {'content-type': 'application/json; charset=utf-8', ...headers})
      res.end(JSON.stringify(body))
    }
    const m = /^\/repos\/([^/]+\/[^/]+)\/commits\/([^/]+)\/(status|check-runs)$/.exec(url.pathname)
    if (req.method !== 'GET' || !m) return send(404, {message: 'Not Found', documentation_url: 'https://docs.github.com/rest'})
    if (req.headers.authorization !== `Bearer ${this.token}`) return send(401, {message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest'})
    const [, repository, sha, what] = m
    if (repository !== this.repository) return send(404, {message: 'Not Found', documentation_url: 'https://docs.github.com/rest'})
    const commit = this.commits.get(sha as string)
    if (commit?.delayMs) await new Promise((resolve) => setTimeout(resolve, commit.delayMs))
    if (!commit) return send(422, {message: `No commit found for SHA: ${sha}`, documentation_url: 'https://docs.github.com/rest'})
    if (commit.rateLimited === 'primary') {
      const headers = {'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-used': '5000', 'x-ratelimit-reset': String(RATE_LIMIT_RESET)}
      return send(403, {message: 'API rate limit exceeded for installation ID 4242.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api'}, headers)
    }
    if (commit.rateLimited === 'secondary') {
      return send(429, {message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', documentation_url: 'https://docs.github.com/rest'}, {'retry-after': '60'})
    }
    if (commit.httpStatus) return send(commit.httpStatus, {message: commit.httpStatus === 401 ? 'Bad credentials' : 'Server Error'})
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), 100)
    const page = Number(url.searchParams.get('page') ?? 1)
    const all = what === 'status' ? (commit.statuses ?? []) : (commit.checkRuns ?? [])
    const items = all.slice((page - 1) * perPage, page * perPage)
    const headers: Record<string, string> = {}
    if (page * perPage < all.length) {
      const next = new URL(url)
      next.searchParams.set('page', String(page + 1))
      headers.link = `<${next.toString()}>; rel="next"`
    }
    if (what === 'status') {
      const states = (commit.statuses ?? []).map((s) => s.state)
      const state = states.some((s) => s === 'failure' || s === 'error') ? 'failure' : states.length && states.every((s) => s === 'success') ? 'success' : 'pending'
      return send(200, {state, sha, total_count: all.length, statuses: items}, headers)
    }
    return send(200, {total_count: all.length, check_runs: items}, headers)
  }
}

/** A check run as GitHub lists it. */
export function checkRun(name: string, status: string, conclusion: string | null = null): CheckRun {
  return {name, status, conclusion, html_url: `https://github.com/acme/shop/runs/${name}`}
}

/** A commit status as GitHub lists it. */
export function commitStatus(context: string, state: string): CommitStatus {
  return {context, state, target_url: `https://ci.example.com/${context}`, description: state}
}
