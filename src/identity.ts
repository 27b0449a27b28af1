import {hostname, userInfo} from 'node:os'

/** Who is deploying, as recorded in locks and release history: user@host. */
export function whoAmI(env: NodeJS.ProcessEnv = process.env): string {
  let user = env.SKYCAP_USER ?? env.USER ?? ''
  if (!user) {
    try {
      user = userInfo().username
    } catch {
      user = 'unknown'
    }
  }
  return `${user}@${hostname()}`
}

/** The CI job's URL when running in a known CI system. */
export function ciJobUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.GITHUB_RUN_ID && env.GITHUB_REPOSITORY) return `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
  return env.CI_JOB_URL ?? env.BUILD_URL ?? env.BUILDKITE_BUILD_URL ?? env.CIRCLE_BUILD_URL ?? undefined
}
