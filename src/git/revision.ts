import {UserError} from '../errors.js'

/** A VCS revision resolved to its commit. */
export interface Revision {
  /** What the user typed (default "HEAD"). */
  input: string
  /** Full 40-character commit SHA. */
  sha: string
  /** First 7 characters of the SHA (the convention CI scripts use for short tags). */
  short: string
  /** First line of the commit message. */
  subject: string
  /** True when the input names HEAD's commit and the work tree has uncommitted changes. */
  dirty: boolean
  /** True when the commit is HEAD's (the work tree was checked out from it). */
  atHead: boolean
}

/** `ENV` or `ENV@REV`, split and checked. */
export interface TargetSpec {
  environment: string
  revision?: string
}

const SPEC = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(@(.+))?$/

/** Parses `ENV[@REV]`; with no spec, the default environment. */
export function parseTarget(spec: string | undefined, defaultEnvironment?: string): TargetSpec {
  if (spec === undefined || spec === '') {
    if (defaultEnvironment) return {environment: defaultEnvironment}
    throw new UserError('no environment given', {hint: 'Name one as ENV or ENV@REV (e.g. staging@HEAD), or set defaultEnvironment in skycap.yaml.'})
  }
  if (spec.startsWith('@') && defaultEnvironment) return parseTarget(`${defaultEnvironment}${spec}`)
  const m = SPEC.exec(spec)
  if (!m || (m[4] !== undefined && /\s/.test(m[4]))) {
    throw new UserError(`"${spec}" is not a valid target`, {
      hint: 'Write ENV or ENV@REV: an environment name from skycap.yaml, optionally @ and a commit SHA, branch, tag or HEAD~N (e.g. prod@v1.4.0).',
    })
  }
  const environment = m[1] as string
  const revision = m[4]
  if (revision !== undefined && revision.startsWith('-')) {
    throw new UserError(`"${revision}" is not a revision`, {hint: 'A revision is a commit SHA, branch, tag or HEAD~N.'})
  }
  return revision === undefined ? {environment} : {environment, revision}
}

/**
 * The REV of `ENV@REV` or `@REV`, read before skycap.yaml (which is read at REV, and names the default environment).
 * Undefined (HEAD) when there is none, or when the spec is malformed: parseTarget reports that once the config is read.
 */
export function targetRevision(spec: string | undefined): string | undefined {
  try {
    // Any valid name stands in for the environment here.
    return parseTarget(spec?.startsWith('@') ? `env${spec}` : spec, 'env').revision
  } catch {
    return undefined
  }
}

/** Resolves `rev` (SHA, short SHA, branch, tag, HEAD~N) in the git repository at `dir` to a full commit. */
export async function resolveRevision(dir: string, rev = 'HEAD'): Promise<Revision> {
  const {simpleGit} = await import('simple-git')
  const git = simpleGit({baseDir: dir})
  await repositoryRoot(dir)
  if (rev.startsWith('-')) throw new UserError(`"${rev}" is not a revision`, {hint: 'A revision is a commit SHA, branch, tag or HEAD~N.'})
  let sha: string
  try {
    // --end-of-options: nothing the user typed can be read as an option.
    sha = (await git.raw(['rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`])).trim()
  } catch (error) {
    const text = String((error as Error).message)
    if (/ambiguous/i.test(text)) {
      const candidates = await ambiguousCandidates(git, rev)
      throw new UserError(`revision "${rev}" is ambiguous: it matches ${candidates.length > 1 ? candidates.length : 'several'} commits or objects`, {
        hint: `Use more characters of the SHA${candidates.length ? ` (${candidates.slice(0, 5).join(', ')})` : ''}.`,
        details: {revision: rev, candidates},
      })
    }
    throw new UserError(`unknown revision "${rev}" in ${dir}`, {
      hint: 'Give a commit SHA, branch, tag or HEAD~N that exists locally (git fetch first if CI built it from a remote branch).',
      details: {revision: rev},
    })
  }
  if (!/^[0-9a-f]{40}$/.test(sha)) throw new UserError(`revision "${rev}" did not resolve to a commit`, {hint: 'Name a commit, branch or tag.'})
  const [head, subject, status] = await Promise.all([
    git.raw(['rev-parse', '--verify', 'HEAD']).then((s) => s.trim()),
    git.raw(['log', '-1', '--format=%s', sha]).then((s) => s.trim()),
    git.raw(['status', '--porcelain']),
  ])
  const dirty = sha === head && status.trim().length > 0
  return {input: rev, sha, short: sha.slice(0, 7), subject, dirty, atHead: sha === head}
}

/** The top folder of the git repository that holds `dir`, as git spells it (symlinks resolved). */
export async function repositoryRoot(dir: string): Promise<string> {
  const {simpleGit} = await import('simple-git')
  try {
    return (await simpleGit({baseDir: dir}).raw(['rev-parse', '--show-toplevel'])).trim()
  } catch {
    throw new UserError(`${dir} is not inside a git repository`, {hint: 'skycap maps revisions to images through git; run it in your application repository (git init, commit).'})
  }
}

/** Whether `path` (relative to the repository root `root`) is tracked: committed or staged. */
export async function isTracked(root: string, path: string): Promise<boolean> {
  const {simpleGit} = await import('simple-git')
  // --literal-pathspecs: a path is a name, never a pattern; it goes after `--`, so it is never an option.
  const out = await simpleGit({baseDir: root}).raw(['--literal-pathspecs', 'ls-files', '-z', '--', path])
  return out.length > 0
}

async function ambiguousCandidates(git: import('simple-git').SimpleGit, prefix: string): Promise<string[]> {
  if (!/^[0-9a-f]{4,39}$/i.test(prefix)) return []
  try {
    // `git rev-parse --disambiguate` lists every object starting with the prefix.
    const out = await git.raw(['rev-parse', `--disambiguate=${prefix}`])
    return out.split('\n').filter(Boolean)
  } catch {
    return []
  }
}
