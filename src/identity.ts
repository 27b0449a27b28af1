import {hostname, userInfo} from 'node:os'

/**
 * Who is deploying, as recorded in locks and release history: user@host. In CI the user is the person who started
 * the job (see ciUser), not the runner's account; SKYCAP_USER overrides both.
 */
export function whoAmI(env: NodeJS.ProcessEnv = process.env): string {
  let user = env.SKYCAP_USER || ciUser(env) || env.USER || ''
  if (!user) {
    try {
      user = userInfo().username
    } catch {
      user = 'unknown'
    }
  }
  return `${user}@${hostname()}`
}

/**
 * The person a CI system ran the job for, from its documented variables: GitHub Actions (GITHUB_ACTOR), GitLab CI
 * (GITLAB_USER_LOGIN), Buildkite (BUILDKITE_BUILD_CREATOR), CircleCI (CIRCLE_USERNAME), Azure Pipelines
 * (BUILD_REQUESTEDFOR), Jenkins with the build-user-vars plugin (BUILD_USER_ID). Undefined outside these.
 */
export function ciUser(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.GITHUB_ACTIONS === 'true' && env.GITHUB_ACTOR) return env.GITHUB_ACTOR
  if (env.GITLAB_CI === 'true' && env.GITLAB_USER_LOGIN) return env.GITLAB_USER_LOGIN
  return env.BUILDKITE_BUILD_CREATOR || env.CIRCLE_USERNAME || env.BUILD_REQUESTEDFOR || env.BUILD_USER_ID || undefined
}

/** The CI job's URL when running in a known CI system. */
export function ciJobUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  // As ciUser: GitHub's variables count under GitHub Actions only (a GitLab job, or a shell, may have them set).
  if (env.GITHUB_ACTIONS === 'true' && env.GITHUB_RUN_ID && env.GITHUB_REPOSITORY) return `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
  if (env.GITLAB_CI === 'true' && env.CI_JOB_URL) return env.CI_JOB_URL
  return env.BUILDKITE_BUILD_URL || env.CIRCLE_BUILD_URL || env.BUILD_URL || undefined
}

/** The User-Agent of every HTTP request skycap makes (notifications, the GitHub API of requireChecks): one value. */
export const USER_AGENT = 'skycap'
