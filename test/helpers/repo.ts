import {cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {execa} from 'execa'

/** The repository root (this file is compiled to dist/test/helpers/repo.js). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
export const fixturesDir = join(repoRoot, 'test', 'fixtures')
export const cliPath = join(repoRoot, 'bin', 'run.js')

// Fixed identity and dates make commit SHAs reproducible, so golden files can contain them.
const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Skycap Test',
  GIT_AUTHOR_EMAIL: 'test@skycap.dev',
  GIT_COMMITTER_NAME: 'Skycap Test',
  GIT_COMMITTER_EMAIL: 'test@skycap.dev',
  GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
}

/** A real git repository in a temp dir. */
export class TempRepo {
  readonly dir: string

  constructor(prefix = 'skycap-test-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix))
  }

  /** A repo holding a copy of test/fixtures/<name>, committed once. */
  static async fromFixture(name: string): Promise<TempRepo> {
    const repo = new TempRepo(`skycap-${name}-`)
    cpSync(join(fixturesDir, name), repo.dir, {recursive: true})
    await repo.git('init', '-q', '-b', 'main')
    await repo.commit('initial')
    return repo
  }

  /** A repo holding `files` (path to content), committed once. */
  static async withFiles(files: Record<string, string>): Promise<TempRepo> {
    const repo = new TempRepo()
    await repo.git('init', '-q', '-b', 'main')
    for (const [path, content] of Object.entries(files)) repo.write(path, content)
    await repo.commit('initial')
    return repo
  }

  /**
   * A copy of test/fixtures/<fixture> (default cluster-app) whose environments point at `context` and `namespace`,
   * committed. `placeholders` replaces further `__NAME__`s of its skycap.yaml; `app` renames the app (everywhere its
   * name is in skycap.yaml, the registry's path too).
   */
  static async clusterApp(context: string, namespace: string, fixture = 'cluster-app', placeholders: Record<string, string> = {}, app?: string): Promise<TempRepo> {
    const repo = await TempRepo.fromFixture(fixture)
    const file = join(repo.dir, 'skycap.yaml')
    let text = readFileSync(file, 'utf8').replaceAll('__CONTEXT__', context).replaceAll('__NAMESPACE__', namespace)
    for (const [name, value] of Object.entries(placeholders)) text = text.replaceAll(`__${name}__`, value)
    writeFileSync(file, renameApp(text, app))
    await repo.commit('aim at the cluster')
    return repo
  }

  /** The local-app fixture for unit tests: its placeholders filled with a context and a registry that are never reached. */
  static localApp(): Promise<TempRepo> {
    return TempRepo.clusterApp('unit-context', 'unused', 'local-app', {REGISTRY: 'localhost:5999/unit'})
  }

  async git(...args: string[]): Promise<string> {
    const r = await execa('git', args, {cwd: this.dir, env: GIT_ENV})
    return r.stdout
  }

  write(path: string, content: string): void {
    const full = join(this.dir, path)
    mkdirSync(dirname(full), {recursive: true})
    writeFileSync(full, content)
  }

  /** Stages everything and commits; returns the new SHA. */
  async commit(message: string): Promise<string> {
    await this.git('add', '-A')
    await this.git('commit', '-q', '--allow-empty', '-m', message)
    return this.git('rev-parse', 'HEAD')
  }

  remove(): void {
    rmSync(this.dir, {recursive: true, force: true})
  }
}

/** Runs the built CLI; never throws on a non-zero exit. */
export async function runCli(args: string[], options: {cwd?: string; env?: Record<string, string>; input?: string; timeout?: number} = {}) {
  const r = await execa('node', [cliPath, ...args], {
    cwd: options.cwd ?? repoRoot,
    // Tests that run in GitHub Actions or GitLab CI get the plain output; the CI tests set these variables themselves.
    // SKYCAP_ENV: a developer's own must not pick the environment of a test that names none.
    env: {NO_COLOR: '1', GITHUB_ACTIONS: '', GITLAB_CI: '', GITHUB_STEP_SUMMARY: '', SKYCAP_ENV: '', ...options.env},
    input: options.input,
    reject: false,
    timeout: options.timeout ?? 120_000,
  })
  return {exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr}
}

/** Parses the one JSON document a --json run prints. */
export function parseJson(stdout: string): {ok: boolean; exitCode?: number; result?: any; error?: any} {
  return JSON.parse(stdout)
}

/** skycap.yaml's text with its app renamed to `app` wherever the old name is (the registry's path too); as it is without one. */
export function renameApp(text: string, app?: string): string {
  const old = /^app: ([a-z0-9-]+)$/m.exec(text)?.[1]
  return app && old ? text.replace(new RegExp(`\\b${old}\\b`, 'g'), app) : text
}
