import {parse} from 'yaml'

/** The CI systems `skycap init --ci` writes a pipeline for. */
export const PIPELINE_SYSTEMS = ['github', 'gitlab'] as const
export type PipelineSystem = (typeof PIPELINE_SYSTEMS)[number]

/** Each system's template (in templates/ci; stored without the leading dot so npm packs it) and where it goes. */
export const PIPELINE_FILES: Record<PipelineSystem, {template: string; path: string}> = {
  github: {template: 'github.yml', path: '.github/workflows/deploy.yml'},
  gitlab: {template: 'gitlab.yml', path: '.gitlab-ci.yml'},
}

/** The two environments a pipeline deploys: one on every push to main, one on a tag or an approval. */
export interface PipelineEnvironments {
  staging: string
  prod: string
}

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/

/**
 * The environments of an existing skycap.yaml the pipeline deploys: `staging` (else the default environment, else the
 * first unprotected one) on main, `prod`/`production` (else the first protected one, else the last other one) on a
 * tag. The scaffold's staging and prod when there is no skycap.yaml or it cannot be read.
 */
export function pipelineEnvironments(configText?: string): PipelineEnvironments {
  let config: {defaultEnvironment?: unknown; environments?: Record<string, {protected?: unknown} | null>} | undefined
  try {
    config = configText === undefined ? undefined : (parse(configText) as typeof config)
  } catch {
    config = undefined
  }
  const environments = config?.environments && typeof config.environments === 'object' ? config.environments : {}
  const names = Object.keys(environments).filter((n) => NAME.test(n))
  const isProtected = (n: string) => environments[n]?.protected === true
  const staging =
    names.find((n) => n === 'staging') ?? names.find((n) => n === config?.defaultEnvironment && !isProtected(n)) ?? names.find((n) => !isProtected(n)) ?? (names.length ? undefined : 'staging')
  const prod =
    names.find((n) => n === 'prod' || n === 'production') ??
    names.find((n) => isProtected(n) && n !== staging) ??
    [...names].reverse().find((n) => n !== staging) ??
    (names.length ? undefined : 'prod')
  return {staging: staging ?? names[0] ?? 'staging', prod: prod ?? staging ?? 'prod'}
}

/** A pipeline template with the environment names filled in. */
export function pipelineText(template: string, environments: PipelineEnvironments): string {
  return template.replaceAll('__STAGING__', environments.staging).replaceAll('__PROD__', environments.prod)
}
