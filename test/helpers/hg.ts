import {cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {execa} from 'execa'

import {fixturesDir, renameApp} from './repo.js'

// No hgrc of the machine or the user (HGRCPATH empty), a fixed identity, plain output.
export const HG_ENV = {HGRCPATH: '', HGPLAIN: '1', HGUSER: 'Skycap Test <test@skycap.dev>', HGENCODING: 'utf-8'}

/** A real Mercurial repository in a temp dir (hg from Debian's mercurial package). */
export class TempHgRepo {
  readonly dir: string

  constructor(prefix = 'skycap-hg-test-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix))
  }

  /** An hg repository (hg init), empty. */
  static async init(): Promise<TempHgRepo> {
    const repo = new TempHgRepo()
    await repo.hg('init')
    return repo
  }

  /** A copy of test/fixtures/<fixture> whose environments point at `context` and `namespace`, committed. */
  static async clusterApp(context: string, namespace: string, fixture = 'cluster-app', app?: string): Promise<TempHgRepo> {
    const repo = await TempHgRepo.init()
    cpSync(join(fixturesDir, fixture), repo.dir, {recursive: true})
    const file = join(repo.dir, 'skycap.yaml')
    writeFileSync(file, renameApp(readFileSync(file, 'utf8').replaceAll('__CONTEXT__', context).replaceAll('__NAMESPACE__', namespace), app))
    await repo.commit('initial')
    return repo
  }

  async hg(...args: string[]): Promise<string> {
    const r = await execa('hg', args, {cwd: this.dir, env: HG_ENV})
    return r.stdout
  }

  write(path: string, content: string): void {
    const full = join(this.dir, path)
    mkdirSync(dirname(full), {recursive: true})
    writeFileSync(full, content)
  }

  /** Adds new files, forgets missing ones, commits; returns the new changeset id (40 hex digits). */
  async commit(message: string): Promise<string> {
    await this.hg('addremove', '-q')
    await this.hg('commit', '-q', '-d', '2026-01-01 00:00 +0000', '-m', message)
    return this.node('.')
  }

  /** The full id of `rev`. */
  async node(rev: string): Promise<string> {
    return this.hg('log', '-r', rev, '-T', '{node}')
  }

  remove(): void {
    rmSync(this.dir, {recursive: true, force: true})
  }
}
