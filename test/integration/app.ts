// A deployable copy of test/fixtures/cluster-app in a real git (or Mercurial) repository, aimed at the test cluster.
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {TempHgRepo} from '../helpers/hg.js'
import {parseJson, runCli, TempRepo} from '../helpers/repo.js'
import {kubectl, realNode, testCluster} from './harness.js'

/** skycap.yaml edits that give the fixture's web service a simulated pod behaviour (see test/cluster/stages-test.yaml). */
export const CRASH = (text: string) => text.replace('    port: 8080\n', '    port: 8080\n    labels: {sim.kwok.test/behavior: crashloop}\n')
export const NOT_READY = (text: string) => text.replace('    port: 8080\n', '    port: 8080\n    labels: {sim.kwok.test/behavior: not-ready}\n')

/** What TestApp needs of a repository: git's TempRepo or Mercurial's TempHgRepo. */
interface AppRepository {
  readonly dir: string
  write(path: string, content: string): void
  commit(message: string): Promise<string>
  remove(): void
}

export class TestApp<R extends AppRepository = TempRepo> {
  constructor(
    readonly repo: R,
    readonly namespace: string,
  ) {}

  /**
   * Copies the fixture, points it at `namespace` on the test cluster, commits. `app`: the app's name, one per test
   * file. The files run at once (.mocharc.integration.cjs), and a first deploy names the other namespaces that hold
   * releases of the same app and environment; a name of its own keeps each file's output its own.
   */
  static async create(namespace: string, app: string): Promise<TestApp> {
    return new TestApp(await TempRepo.clusterApp(testCluster().context, namespace, 'cluster-app', {}, app), namespace)
  }

  /** The same app in a Mercurial repository (hg init, hg commit). */
  static async createHg(namespace: string, app: string): Promise<TestApp<TempHgRepo>> {
    return new TestApp(await TempHgRepo.clusterApp(testCluster().context, namespace, 'cluster-app', app), namespace)
  }

  /** test/fixtures/real-app (the test app image, pinned to the real node) in `namespace`; fails without a real node. */
  static async createReal(namespace: string, app: string): Promise<TestApp> {
    const {repository} = realNode()
    return new TestApp(await TempRepo.clusterApp(testCluster().context, namespace, 'real-app', {REGISTRY: repository}, app), namespace)
  }

  get config(): string {
    return readFileSync(join(this.repo.dir, 'skycap.yaml'), 'utf8')
  }

  /** Rewrites skycap.yaml with `edit` and commits; returns the new SHA. */
  async change(edit: (text: string) => string, message = 'change'): Promise<string> {
    writeFileSync(join(this.repo.dir, 'skycap.yaml'), edit(this.config))
    return this.repo.commit(message)
  }

  /** Runs the built CLI in the app's repository. */
  cli(args: string[], options: {env?: Record<string, string>; timeout?: number; input?: string} = {}) {
    return runCli(args, {cwd: this.repo.dir, ...options})
  }

  /** Runs with --json and parses the document. */
  async json(args: string[], options: {env?: Record<string, string>; timeout?: number} = {}) {
    const r = await this.cli([...args, '--json'], options)
    let doc
    try {
      doc = parseJson(r.stdout)
    } catch {
      throw new Error(`not one JSON document (exit ${r.exitCode}):\n${r.stdout}\n${r.stderr}`)
    }
    return {...r, doc}
  }

  async get<T = any>(args: string[]): Promise<T> {
    return JSON.parse((await kubectl(['get', ...args, '-o', 'json'], {namespace: this.namespace})).stdout) as T
  }

  remove(): void {
    this.repo.remove()
  }
}
