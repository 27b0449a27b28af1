// requireChecks: deploy only a revision whose GitHub commit statuses and check runs are all green.
import {UserError} from '../errors.js'
import {DEFAULT_API_URL, githubRepository} from '../github/api.js'
import {type CheckRun, type CommitStatus, commitChecks} from './github.js'

/** An environment's requireChecks, resolved: on (with these settings) or absent. */
export interface RequireChecks {
  /** owner/name; default GITHUB_REPOSITORY, else the git remote origin. */
  repository?: string
  /** Names of statuses (context) or check runs that do not count (the running GitHub Actions job is left out by itself). */
  ignore: string[]
}

/** One status or check run of a revision, as the refusal and --json show it. */
export interface CheckState {
  kind: 'status' | 'check-run'
  name: string
  /** A status's state, a completed check run's conclusion, else the run's status (queued, in_progress). */
  state: string
  url: string | null
  green: boolean
}

/** What deploy learnt about the revision's checks (in its report). */
export interface ChecksVerdict {
  repository: string
  sha: string
  checks: CheckState[]
}

/** A completed check run with one of these conclusions passes; neutral and skipped are how GitHub shows "not run". */
const GREEN_CONCLUSIONS = new Set(['success', 'neutral', 'skipped'])

/**
 * The revision's statuses and check runs, with those named in `ignore` left out, and the check runs of `ownJob` that
 * have not completed (the job that runs this deploy cannot be green while it does). Pending is not green.
 */
export function checkStates(statuses: CommitStatus[], checkRuns: CheckRun[], ignore: string[] = [], ownJob?: string): CheckState[] {
  const skip = new Set(ignore)
  return [
    ...statuses.filter((s) => !skip.has(s.context)).map((s): CheckState => ({kind: 'status', name: s.context, state: s.state, url: s.target_url ?? null, green: s.state === 'success'})),
    ...checkRuns
      .filter((r) => !skip.has(r.name) && !(r.name === ownJob && r.status !== 'completed'))
      .map((r): CheckState => {
        const done = r.status === 'completed'
        const state = done ? (r.conclusion ?? 'completed') : r.status
        return {kind: 'check-run', name: r.name, state, url: r.html_url ?? r.details_url ?? null, green: done && GREEN_CONCLUSIONS.has(state)}
      }),
  ]
}

/** Refused: the revision's checks are not all green (or there are none). Exit 2: nothing was changed. */
export class ChecksNotGreenError extends UserError {
  override readonly code = 'checks_not_green'
}

/** Throws ChecksNotGreenError unless every check is green and there is at least one. */
export function judgeChecks(verdict: ChecksVerdict, short: string): void {
  const {repository, checks} = verdict
  const details = {repository, sha: verdict.sha, checks}
  const ignore = '--ignore-checks deploys anyway (recorded in history).'
  if (checks.length === 0) {
    throw new ChecksNotGreenError(`revision ${short} has no commit status or check run on GitHub (${repository}); requireChecks deploys only what CI approved; nothing was changed`, {
      hint: `Wait until CI reports on ${short} (or push it), then deploy again; ${ignore}`,
      details,
    })
  }
  const bad = checks.filter((c) => !c.green)
  if (bad.length === 0) return
  const pendingOnly = bad.every((c) => isPending(c.state))
  const listed = bad.map((c) => `${c.name} ${c.state}${c.url ? ` (${c.url})` : ''}`).join(', ')
  throw new ChecksNotGreenError(`revision ${short} is not green on GitHub (${repository}): ${listed}; nothing was changed`, {
    hint: pendingOnly ? `Wait for ${bad.length > 1 ? 'these checks' : 'this check'} to finish, then deploy again; ${ignore}` : `Fix the failing checks and deploy a green revision; ${ignore}`,
    details,
  })
}

function isPending(state: string): boolean {
  return ['pending', 'queued', 'in_progress', 'waiting', 'requested'].includes(state)
}

/** Where requireChecks looks: skycap.yaml's repository, else GITHUB_REPOSITORY, else the git remote origin. */
export async function checksRepository(settings: RequireChecks, env: NodeJS.ProcessEnv, remoteUrl: () => Promise<string | undefined>): Promise<string> {
  const found = await githubRepository(settings.repository, env, remoteUrl)
  if ('repository' in found) return found.repository
  if ('notOwnerName' in found) throw new UserError(`GITHUB_REPOSITORY is "${found.notOwnerName}", not owner/name`, {hint: 'Set it to owner/name, or set requireChecks.repository in skycap.yaml.'})
  throw new UserError(`requireChecks: cannot tell which GitHub repository holds the checks (${found.none}); nothing was changed`, {
    hint: 'Set requireChecks: {repository: owner/name} in skycap.yaml, or GITHUB_REPOSITORY.',
  })
}

/** Asks GitHub for the revision's checks and throws unless all are green. */
export async function requireGreenChecks(
  settings: RequireChecks,
  revision: {sha: string; short: string},
  context: {env?: NodeJS.ProcessEnv; remoteUrl: () => Promise<string | undefined>; fetch?: typeof fetch; timeoutMs?: number},
): Promise<ChecksVerdict> {
  const env = context.env ?? process.env
  const repository = await checksRepository(settings, env, context.remoteUrl)
  const token = env.GITHUB_TOKEN
  if (!token) {
    throw new UserError(
      `requireChecks: GITHUB_TOKEN is ${token === '' ? 'empty (a CI secret that does not exist comes as an empty value)' : 'not set'}, so the checks of ${revision.short} in ${repository} cannot be read; nothing was changed`,
      {
        hint: 'Export GITHUB_TOKEN (in GitHub Actions: env: {GITHUB_TOKEN: ${{ github.token }}}), or pass --ignore-checks (recorded in history).',
      },
    )
  }
  const base = env.GITHUB_API_URL || DEFAULT_API_URL
  const found = await commitChecks({base, token, fetch: context.fetch, timeoutMs: context.timeoutMs}, repository, revision.sha)
  const verdict = {repository, sha: revision.sha, checks: checkStates(found.statuses, found.checkRuns, settings.ignore, ownJob(env, revision.sha))}
  judgeChecks(verdict, revision.short)
  return verdict
}

/**
 * The check run of the GitHub Actions job that runs this deploy: GitHub names a job's check run by the job's id
 * ($GITHUB_JOB) unless the job has a `name:`. Only when the revision deployed is the one the job runs for
 * ($GITHUB_SHA): of another commit, the job has no check run.
 */
export function ownJob(env: NodeJS.ProcessEnv, sha: string): string | undefined {
  return env.GITHUB_ACTIONS === 'true' && env.GITHUB_JOB && env.GITHUB_SHA === sha ? env.GITHUB_JOB : undefined
}
