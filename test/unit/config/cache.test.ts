import {expect} from 'chai'
import {chmodSync, chownSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {loadConfig, parseConfig} from '../../../src/config/load.js'
import {ConfigErrors} from '../../../src/errors.js'
import {fixturesDir} from '../../helpers/repo.js'

// The cache of skycap.yaml for the commands that only read the cluster (loadConfig with repository: false).
describe('the skycap.yaml cache (src/config/cache.ts)', () => {
  let dir: string
  let cache: string
  let file: string
  const saved = {XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, SKYCAP_NO_CONFIG_CACHE: process.env.SKYCAP_NO_CONFIG_CACHE}

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skycap-config-cache-'))
    cache = join(dir, 'cache')
    cpSync(join(fixturesDir, 'shop'), join(dir, 'app'), {recursive: true})
    file = join(dir, 'app', 'skycap.yaml')
    process.env.XDG_CACHE_HOME = cache
    delete process.env.SKYCAP_NO_CONFIG_CACHE
  })
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
    rmSync(dir, {recursive: true, force: true})
  })

  const entries = (): string[] => (existsSync(join(cache, 'skycap', 'config')) ? readdirSync(join(cache, 'skycap', 'config')) : [])
  const entryFile = (): string => join(cache, 'skycap', 'config', entries().find((n) => !n.startsWith('old-')) as string)
  /** Changes the kept entry (as a later run would find it). */
  const editEntry = (edit: (entry: {config: {app: string}; stamp: string}) => void) => {
    const entry = JSON.parse(readFileSync(entryFile(), 'utf8'))
    edit(entry)
    writeFileSync(entryFile(), JSON.stringify(entry))
  }
  const load = () => loadConfig({configPath: file, repository: false})

  it('a second read of an unchanged file comes from the cache and gives what parsing gives: config, warnings, lines', async () => {
    // A service with neither healthcheck nor resources: two warnings, with their lines.
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^services:\n/m, 'services:\n  queue:\n    image: queue\n'))
    const parsed = await parseConfig(readFileSync(file, 'utf8'), file, undefined, null)
    const first = await load()
    expect(entries()).to.have.length(1)
    const second = await load()
    expect(second.config).to.deep.equal(parsed.config)
    expect(second.warnings).to.deep.equal(parsed.warnings).and.to.have.length.above(0)
    expect([second.file, second.dir, second.root]).to.deep.equal([first.file, first.dir, first.root])
    for (const path of [
      ['services', 'web'],
      ['services', 'queue', 'image'],
      ['services', 'web', 'config'],
      ['services', 'web', 'no-such-key'],
      ['environments', 'staging', 'values'],
      ['environments', 'dev', 'services', 'web', 'replicas'],
      ['no-such-key', 'deeper'],
      [],
    ]) {
      expect(second.locate(path), JSON.stringify(path)).to.deep.equal(parsed.locate(path))
    }
    // It is the cache that answered: an entry changed behind skycap's back is what the next read returns.
    editEntry((e) => {
      e.config.app = 'from-the-cache'
    })
    expect((await load()).config.app).to.equal('from-the-cache')
  })

  it('reads the file again when its text, the build of skycap or a config folder changed', async () => {
    await load()
    editEntry((e) => {
      e.config.app = 'stale'
    })
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^app: .*$/m, 'app: renamed'))
    expect((await load()).config.app).to.equal('renamed')

    editEntry((e) => {
      e.config.app = 'stale'
      e.stamp = 'another build'
    })
    expect((await load()).config.app).to.equal('renamed')

    // A config folder removed since: the error parsing reports, not the kept config.
    rmSync(join(dir, 'app', 'config', 'web'), {recursive: true})
    const error = await load().then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).to.be.instanceOf(ConfigErrors)
    expect(String((error as Error).message)).to.match(/config\/web.*does not exist/)
  })

  it("uses no entry another user could have written (a shared XDG_CACHE_HOME), and writes none in another's folder", async () => {
    await load()
    const folder = join(cache, 'skycap', 'config')
    editEntry((e) => {
      e.config.app = 'planted'
    })
    expect((await load()).config.app).to.equal('planted')
    // A folder or an entry others may write to: the entry could be anyone's, so the file is parsed.
    chmodSync(folder, 0o777)
    expect((await load()).config.app).to.equal('shop')
    chmodSync(folder, 0o700)
    const plant = () =>
      editEntry((e) => {
        e.config.app = 'planted'
      })
    // (A read that parsed writes the entry again, as the user's own.)
    plant()
    chmodSync(entryFile(), 0o666)
    expect((await load()).config.app).to.equal('shop')
    plant()
    chmodSync(entryFile(), 0o600)
    expect((await load()).config.app).to.equal('planted')
    if (process.geteuid?.() === 0) {
      // Owned by someone else (only root can give it away).
      chownSync(entryFile(), 4242, 4242)
      expect((await load()).config.app).to.equal('shop')
      rmSync(entryFile())
      chownSync(folder, 4242, 4242)
      await load()
      expect(entries(), 'written into a folder of uid 4242').to.deep.equal([])
    }
  })

  it('keeps nothing of a file with errors, ignores a damaged entry, and is off with SKYCAP_NO_CONFIG_CACHE=1', async () => {
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^app: .*$/m, 'app: 42'))
    await load().then(
      () => expect.fail('an invalid file loaded'),
      (e: unknown) => expect(e).to.be.instanceOf(ConfigErrors),
    )
    expect(entries()).to.deep.equal([])

    cpSync(join(fixturesDir, 'shop', 'skycap.yaml'), file)
    await load()
    writeFileSync(entryFile(), '{"format": 1, "text": ')
    expect((await load()).config.app).to.equal('shop')

    // Every temporary checkout adds an entry: the oldest go beyond 200, the one just written stays.
    for (let i = 0; i < 230; i++) writeFileSync(join(cache, 'skycap', 'config', `old-${i}.json`), '{}')
    writeFileSync(file, `${readFileSync(file, 'utf8')}# changed\n`)
    await load()
    expect(entries().length).to.be.at.most(200).and.above(100)
    editEntry((e) => {
      e.config.app = 'kept'
    })
    expect((await load()).config.app).to.equal('kept')

    rmSync(cache, {recursive: true, force: true})
    process.env.SKYCAP_NO_CONFIG_CACHE = '1'
    await load()
    expect(entries()).to.deep.equal([])
  })

  it('serves render, deploy and config validate too: checked against the same repository root, links checked again on every read', async () => {
    // Not a repository: the root is skycap.yaml's folder.
    await loadConfig({configPath: file})
    editEntry((e) => {
      e.config.app = 'from-the-cache'
    })
    expect((await loadConfig({configPath: file})).config.app).to.equal('from-the-cache')
    // Read against another root (or without one): a miss, parsed again.
    expect((await loadConfig({configPath: file, root: dir})).config.app).to.equal('shop')
    expect((await loadConfig({configPath: file, repository: false})).config.app).to.equal('shop')

    // A config folder, then the templates folder, replaced by a link out of the repository after they were read: the
    // error a first read gives.
    await loadConfig({configPath: file})
    const outside = mkdtempSync(join(tmpdir(), 'skycap-config-cache-outside-'))
    try {
      rmSync(join(dir, 'app', 'config', 'web'), {recursive: true})
      symlinkSync(outside, join(dir, 'app', 'config', 'web'))
      const error = await loadConfig({configPath: file}).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).to.be.instanceOf(ConfigErrors)
      expect(String((error as Error).message)).to.match(/config\/web.*outside the repository/)

      rmSync(join(dir, 'app', 'config', 'web'))
      cpSync(join(fixturesDir, 'shop', 'config', 'web'), join(dir, 'app', 'config', 'web'), {recursive: true})
      await loadConfig({configPath: file})
      rmSync(join(dir, 'app', 'deploy'), {recursive: true})
      symlinkSync(outside, join(dir, 'app', 'deploy'))
      const templates = await loadConfig({configPath: file}).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(String((templates as Error).message)).to.match(/templates.*outside the repository/)
    } finally {
      rmSync(outside, {recursive: true, force: true})
    }
  })
})
