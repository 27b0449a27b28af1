import {LineCounter, parse, parseDocument} from 'yaml'

import {mergeNotify} from '../config/environment.js'
import {expandVariables} from '../notify/webhook.js'

/** The CI systems `skycap init --ci` writes a pipeline for. */
export const PIPELINE_SYSTEMS = ['github', 'gitlab'] as const
export type PipelineSystem = (typeof PIPELINE_SYSTEMS)[number]

/** Each system's template (in templates/ci; stored without the leading dot so npm packs it) and where it goes. */
export const PIPELINE_FILES: Record<PipelineSystem, {template: string; path: string}> = {
  github: {template: 'github.yml', path: '.github/workflows/deploy.yml'},
  gitlab: {template: 'gitlab.yml', path: '.gitlab-ci.yml'},
}

/**
 * The environments a pipeline deploys: `staging` on every push to main (never a protected one: nobody approves that
 * job), `prod` on a tag or an approval. At least one; two different ones, or one alone.
 */
export interface PipelineEnvironments {
  staging?: string
  prod?: string
}

/** What skycap.yaml asks of a deploy job's tokens: notify.github/gitlab deployments, requireChecks. */
export interface PipelineNeeds {
  githubDeployments: boolean
  gitlabDeployments: boolean
  checks: boolean
  /** requireChecks without a repository in skycap.yaml (GitLab's checkout names no GitHub repository). */
  checksWithoutRepository: boolean
  /**
   * The variables notify.slack (`webhookEnv`) and notify.webhook (`${env:NAME}` in its URL and headers) read: CI
   * secrets the deploy step must hand to skycap (a GitHub Actions secret is no variable of a step unless its env: says so).
   */
  notifyVariables: string[]
}

/** What `skycap init --ci` writes a pipeline for: the environments, what each deploy job needs, whether it builds. */
export interface PipelinePlan extends PipelineEnvironments {
  needs: Partial<Record<'staging' | 'prod', PipelineNeeds>>
  /** A service of skycap.yaml has a `build:` block: the pipeline has a build job, which the deploy jobs wait for. */
  build: boolean
  /** The branch whose pushes build and deploy staging (GitHub; GitLab's pipeline reads $CI_DEFAULT_BRANCH). */
  branch: string
  /** The app's folder in its repository (`apps/shop`) when skycap.yaml is not at the root: the pipeline's steps run there. */
  appDir?: string
}

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/

type Settings = {notify?: {github?: {deployments?: unknown}; gitlab?: {deployments?: unknown}; slack?: unknown; webhook?: unknown} | null; requireChecks?: unknown}
type Config = Settings & {
  defaultEnvironment?: unknown
  environments?: Record<string, (Settings & {protected?: unknown}) | null>
  services?: Record<string, {build?: unknown} | null> | null
}

function read(configText: string | undefined): Config | undefined {
  try {
    const config = configText === undefined ? undefined : (parse(configText) as Config | null)
    return config && typeof config === 'object' ? config : undefined
  } catch {
    return undefined
  }
}

/**
 * Why an existing skycap.yaml gives `init --ci` no environments to deploy, with the line and column: it is not valid
 * YAML, not a mapping, or names no environment. Undefined when it names at least one.
 */
export function unreadableEnvironments(configText: string): {message: string; line?: number; column?: number} | undefined {
  const lineCounter = new LineCounter()
  const doc = parseDocument(configText, {lineCounter, prettyErrors: false})
  const [error] = doc.errors
  if (error) {
    const at = lineCounter.linePos(error.pos[0])
    return {message: `invalid YAML: ${error.message.split('\n')[0]}`, line: at.line, column: at.col}
  }
  if (Object.keys(pipelineNames(read(configText))).length === 0) return {message: 'names no environment (environments: ENV: {namespace: …}) for a pipeline to deploy'}
  return undefined
}

/** The environments of a config whose names a job may carry. */
function pipelineNames(config: Config | undefined): Record<string, unknown> {
  const environments = config?.environments && typeof config.environments === 'object' ? config.environments : {}
  return Object.fromEntries(Object.entries(environments).filter(([n]) => NAME.test(n)))
}

/** The `app` of a skycap.yaml's text, when it has one. */
export function appOf(configText: string): string | undefined {
  const app = (read(configText) as {app?: unknown} | undefined)?.app
  return typeof app === 'string' && app !== '' ? app : undefined
}

/**
 * The environments of an existing skycap.yaml the pipeline deploys (docs/ci.md). One environment: on main, or on a
 * tag when it is protected. More: `prod`/`production` (else the first protected one) on a tag; `staging` (else the
 * default environment, else the first other one) on main when it is not protected; with no protected and no prod
 * environment, the last other unprotected one on a tag. The scaffold's staging and prod when there is no skycap.yaml,
 * it cannot be read, or it names no environment.
 */
export function pipelineEnvironments(configText?: string): PipelineEnvironments {
  const config = read(configText)
  const environments = config?.environments && typeof config.environments === 'object' ? config.environments : {}
  const names = Object.keys(pipelineNames(config))
  if (names.length === 0) return {staging: 'staging', prod: 'prod'}
  const isProtected = (n: string) => environments[n]?.protected === true
  if (names.length === 1) return isProtected(names[0] as string) ? {prod: names[0]} : {staging: names[0]}
  const tagged = names.find((n) => n === 'prod' || n === 'production') ?? names.find(isProtected)
  const unprotected = names.filter((n) => !isProtected(n) && n !== tagged)
  const staging = unprotected.find((n) => n === 'staging') ?? unprotected.find((n) => n === config?.defaultEnvironment) ?? unprotected[0]
  const prod = tagged ?? [...unprotected].reverse().find((n) => n !== staging)
  return {...(staging ? {staging} : {}), ...(prod ? {prod} : {})}
}

/**
 * The environments, whether each one's deploys use notify.github/gitlab deployments or requireChecks, and whether
 * any service has a `build:` block (`skycap build` fails when none has: nothing to build). A skycap.yaml that cannot
 * be read, or none, keeps the build job.
 */
export function pipelinePlan(configText?: string, branch = 'main'): PipelinePlan {
  const config = read(configText)
  const environments = pipelineEnvironments(configText)
  const needs: PipelinePlan['needs'] = {}
  for (const role of ['staging', 'prod'] as const) {
    const name = environments[role]
    if (name) needs[role] = environmentNeeds(config, name)
  }
  return {...environments, needs, build: config ? hasBuild(config) : true, branch}
}

/** Whether a top-level service has `build:` (an environment's services cannot: docs/build.md). */
function hasBuild(config: Config): boolean {
  const services = config.services && typeof config.services === 'object' ? Object.values(config.services) : []
  return services.some((service) => typeof service === 'object' && service !== null && service.build !== undefined && service.build !== null)
}

/** As src/config/environment.ts resolves them: the environment's notify over the top level (mergeNotify), its requireChecks over the top level's. */
function environmentNeeds(config: Config | undefined, name: string): PipelineNeeds {
  const env = config?.environments?.[name] ?? undefined
  const notify = mergeNotify(config?.notify, env?.notify)
  const deployments = (target: 'github' | 'gitlab') => notify?.[target]?.deployments === true
  const checks = env?.requireChecks ?? config?.requireChecks
  const settings = checks === true ? config?.requireChecks : checks
  const repository = typeof settings === 'object' && settings !== null && typeof (settings as {repository?: unknown}).repository === 'string'
  return {
    githubDeployments: deployments('github'),
    gitlabDeployments: deployments('gitlab'),
    checks: Boolean(checks),
    checksWithoutRepository: Boolean(checks) && !repository,
    notifyVariables: notifyVariables(notify),
  }
}

/** The variables a (merged) notify: block reads: slack's webhookEnv, the ${env:NAME} of the webhook's URL and header values. */
function notifyVariables(notify: unknown): string[] {
  const object = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {})
  const names: string[] = []
  const {webhookEnv} = object(object(notify).slack)
  if (typeof webhookEnv === 'string' && webhookEnv !== '') names.push(webhookEnv)
  const webhook = object(object(notify).webhook)
  for (const text of [webhook.url, ...Object.values(object(webhook.headers))]) {
    // Expanded with no variables at all, every name it reads is unset.
    if (typeof text === 'string') names.push(...expandVariables(text, {}).unset)
  }
  return [...new Set(names)]
}

/** The notify variables a deploy job needs from the CI system's secrets; those the CI system sets itself are left out. */
function secrets(needs: PipelineNeeds | undefined): string[] {
  return (needs?.notifyVariables ?? []).filter((name) => !/^(GITHUB|RUNNER|CI|GITLAB)_/.test(name))
}

/**
 * A pipeline template with the environment names filled in and its conditional blocks resolved: `#[if FLAG]` …
 * (`#[else]` …) `#[end]`, on lines of their own, nest; `!FLAG` negates. The flags: `both`, `staging`, `prod` (a job
 * deploys it), `staging.token`, `staging.deployments`, `staging.checks` (and the same for prod: the job's
 * GITHUB_TOKEN's permissions), `staging.passToken` (the deploy step gets GITHUB_TOKEN), `gitlabToken`, `githubToken`, `checksRepository` (set-up of the GitLab pipeline),
 * `build` (the build job, and the deploy jobs' `needs` on it), `main` (a job runs on a push to main: build or staging),
 * `staging.env`/`prod.env` (the deploy step has an env: block), `notifySecrets` (skycap.yaml's notify: reads
 * variables), `subfolder` (skycap.yaml is in `__APP_DIR__` of the repository, a YAML string; `__CD_APP_DIR__` is the
 * shell's `cd` there, as one). `__NOTIFY_SECRETS__` is their names; a line `__STAGING_SECRETS__` or `__PROD_SECRETS__` passes that
 * job's on from the CI system's secrets.
 * Not LiquidJS, which renders skycap's manifests: a GitHub workflow is full of `${{ … }}` expressions, which Liquid
 * would take for its own, and every one would need a raw block.
 */
export function pipelineText(template: string, plan: PipelinePlan): string {
  const flags = new Set<string>()
  if (plan.staging && plan.prod) flags.add('both')
  if (plan.build) flags.add('build')
  if (plan.build || plan.staging) flags.add('main')
  if (plan.appDir) flags.add('subfolder')
  for (const role of ['staging', 'prod'] as const) {
    const needs = plan.needs[role]
    if (!plan[role]) continue
    flags.add(role)
    if (!needs) continue
    if (needs.githubDeployments) flags.add(`${role}.deployments`)
    if (needs.checks) flags.add(`${role}.checks`)
    if (needs.githubDeployments || needs.checks) flags.add(`${role}.token`)
    if (needs.gitlabDeployments) flags.add('gitlabToken')
    if (needs.checks) flags.add('githubToken')
    if (needs.checksWithoutRepository) flags.add('checksRepository')
    // The job's GITHUB_TOKEN goes to the deploy step for notify.github and requireChecks, and for a notify: setting
    // that reads it (a webhook's `Authorization: Bearer ${env:GITHUB_TOKEN}`): Actions sets no such variable itself.
    const passToken = needs.githubDeployments || needs.checks || (needs.notifyVariables ?? []).includes('GITHUB_TOKEN')
    if (passToken) flags.add(`${role}.passToken`)
    if (passToken || secrets(needs).length) flags.add(`${role}.env`)
  }
  const all = [...new Set([...secrets(plan.needs.staging), ...secrets(plan.needs.prod)])]
  if (all.length) flags.add('notifySecrets')
  const out: string[] = []
  // Each open block: whether its lines are kept (those of a block inside it too only when both are).
  const stack: Array<{keep: boolean}> = []
  const keeping = () => stack.every((b) => b.keep)
  for (const line of template.split('\n')) {
    const marker = /^\s*#\[(if (!?)([\w.]+)|else|end)\]\s*$/.exec(line)
    if (!marker) {
      if (keeping()) out.push(line)
      continue
    }
    if (marker[1] === 'end') {
      if (!stack.pop()) throw new Error('template: #[end] without #[if]')
    } else if (marker[1] === 'else') {
      const block = stack.at(-1)
      if (!block) throw new Error('template: #[else] without #[if]')
      block.keep = !block.keep
    } else {
      stack.push({keep: flags.has(marker[3] as string) !== (marker[2] === '!')})
    }
  }
  if (stack.length) throw new Error('template: #[if] without #[end]')
  // A line `__STAGING_SECRETS__` (or PROD) is one `NAME: ${{ secrets.NAME }}` line per variable, at its indentation.
  const expanded = out.flatMap((line) => {
    const m = /^(\s*)__(STAGING|PROD)_SECRETS__$/.exec(line)
    if (!m) return [line]
    return secrets(plan.needs[m[2] === 'STAGING' ? 'staging' : 'prod']).map((name) => `${m[1]}${name}: \${{ secrets.${name} }}`)
  })
  return expanded
    .join('\n')
    .replaceAll('__NOTIFY_SECRETS__', all.join(', '))
    .replaceAll('__APP_DIR__', JSON.stringify(plan.appDir ?? '.'))
    .replaceAll('__CD_APP_DIR__', JSON.stringify(`cd '${(plan.appDir ?? '.').replaceAll("'", "'\\''")}'`))
    .replaceAll('__BRANCH__', plan.branch)
    .replaceAll('__STAGING__', plan.staging ?? '')
    .replaceAll('__PROD__', plan.prod ?? '')
}
