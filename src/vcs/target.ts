import {UserError} from '../errors.js'
import {closest} from '../suggest.js'

/** `ENV` or `ENV@REV`, split and checked. */
export interface TargetSpec {
  environment: string
  revision?: string
}

const SPEC = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(@(.+))?$/

/** What a revision can be, in one line for hints (git and Mercurial spellings). */
export const REVISION_FORMS = 'a revision id (full or short), branch, tag, bookmark, HEAD~N (git) or .~N (Mercurial)'

/**
 * Parses `ENV[@REV]`; with no spec, the default environment. `environments`, when skycap.yaml is read, are what a
 * malformed name is compared with for a suggestion.
 */
export function parseTarget(spec: string | undefined, defaultEnvironment?: string, environments?: string[]): TargetSpec {
  if (spec === undefined || spec === '') {
    if (defaultEnvironment) return {environment: defaultEnvironment}
    throw new UserError('no environment given', {hint: 'Name one as ENV or ENV@REV (e.g. staging@HEAD), or set defaultEnvironment in skycap.yaml.'})
  }
  if (spec.endsWith('@')) throw new UserError(`"${spec}" names no revision after @`, {hint: `Write @REV, REV being ${REVISION_FORMS}, or leave it out for the checked-out revision.`})
  if (spec.startsWith('@')) {
    if (defaultEnvironment) return parseTarget(`${defaultEnvironment}${spec}`, undefined, environments)
    throw new UserError(`no environment given: "${spec}" names only the revision`, {hint: `Name one as ENV@REV (e.g. staging${spec}), or set defaultEnvironment in skycap.yaml.`})
  }
  const m = SPEC.exec(spec)
  if (!m || (m[4] !== undefined && /\s/.test(m[4]))) {
    // Environment names are lowercase DNS labels: `DEV` is most likely `dev`, if skycap.yaml has it (or one near it).
    const [name = '', ...rest] = spec.split('@')
    const near = environments === undefined ? name.toLowerCase() : environments.includes(name.toLowerCase()) ? name.toLowerCase() : closest(name.toLowerCase(), environments)
    const lower = near === undefined ? undefined : [near, ...rest].join('@')
    const suggestion = lower !== undefined && lower !== spec && SPEC.test(lower) ? `; did you mean "${lower}"?` : ''
    throw new UserError(`"${spec}" is not a valid target${suggestion}`, {
      hint: `Write ENV or ENV@REV: an environment name from skycap.yaml, optionally @ and ${REVISION_FORMS} (e.g. prod@v1.4.0).`,
    })
  }
  const environment = m[1] as string
  const revision = m[4]
  if (revision !== undefined) checkRevisionInput(revision)
  return revision === undefined ? {environment} : {environment, revision}
}

/** Refuses a revision that a VCS could read as an option. */
export function checkRevisionInput(revision: string): void {
  if (revision.startsWith('-')) throw new UserError(`"${revision}" is not a revision`, {hint: `A revision is ${REVISION_FORMS}.`})
}

/**
 * The REV of `ENV@REV` or `@REV`, read before skycap.yaml (which is read at REV, and names the default environment).
 * Undefined (the work tree's revision) when there is none, or when the spec is malformed: parseTarget reports that
 * once the config is read.
 */
export function targetRevision(spec: string | undefined): string | undefined {
  try {
    // Any valid name stands in for the environment here.
    return parseTarget(spec?.startsWith('@') ? `env${spec}` : spec, 'env').revision
  } catch {
    return undefined
  }
}
