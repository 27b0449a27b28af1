// A real Docker registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1 for the image-existence check.
import {spawn, type ChildProcess} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import bcrypt from 'bcryptjs'

import {waitFor} from './harness.js'

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as {port: number}).port
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

export class LocalRegistry {
  private constructor(
    readonly host: string,
    private readonly proc: ChildProcess,
    private readonly dir: string,
    private readonly auth: Record<string, string> = {},
  ) {}

  /**
   * Starts docker-registry on a free port; fails (never skips) when it is not installed. With `user`, the registry
   * asks for that user and password (htpasswd basic auth, bcrypt as distribution requires); push() still works.
   */
  static async start(user?: {name: string; password: string}): Promise<LocalRegistry> {
    const port = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'skycap-registry-'))
    const config = join(dir, 'config.yml')
    let auth = ''
    if (user) {
      writeFileSync(join(dir, 'htpasswd'), `${user.name}:${bcrypt.hashSync(user.password, 4)}\n`)
      auth = `auth: {htpasswd: {realm: skycap-test, path: ${dir}/htpasswd}}\n`
    }
    writeFileSync(config, `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${dir}/data}}\nhttp: {addr: 127.0.0.1:${port}}\n${auth}`)
    const proc = spawn('docker-registry', ['serve', config], {stdio: 'ignore'})
    const failed = new Promise<never>((_, reject) =>
      proc.on('error', (e) => reject(new Error(`cannot start docker-registry (apt-get install docker-registry; test/cluster/build.sh installs it): ${e.message}`))),
    )
    const registry = new LocalRegistry(`127.0.0.1:${port}`, proc, dir, user ? {Authorization: `Basic ${Buffer.from(`${user.name}:${user.password}`).toString('base64')}`} : {})
    const answers = async () => (await fetch(`http://${registry.host}/v2/`, {headers: registry.auth})).ok
    await Promise.race([failed, waitFor('docker-registry to answer', () => answers().catch(() => false), {timeoutMs: 20_000, intervalMs: 200})])
    return registry
  }

  /** Pushes a minimal image (a config blob and a manifest without layers) as repository:tag. */
  async push(repository: string, tag: string): Promise<void> {
    const configBlob = Buffer.from(JSON.stringify({architecture: 'amd64', os: 'linux', rootfs: {type: 'layers', diff_ids: []}, config: {}}))
    const digest = `sha256:${createHash('sha256').update(configBlob).digest('hex')}`
    const start = await fetch(`http://${this.host}/v2/${repository}/blobs/uploads/`, {method: 'POST', headers: this.auth})
    if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`)
    const location = new URL(start.headers.get('location') as string, `http://${this.host}`)
    location.searchParams.set('digest', digest)
    const put = await fetch(location, {method: 'PUT', body: configBlob, headers: {...this.auth, 'Content-Type': 'application/octet-stream'}})
    if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status}`)
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: {mediaType: 'application/vnd.docker.container.image.v1+json', size: configBlob.length, digest},
      layers: [],
    }
    const m = await fetch(`http://${this.host}/v2/${repository}/manifests/${tag}`, {method: 'PUT', body: JSON.stringify(manifest), headers: {...this.auth, 'Content-Type': manifest.mediaType}})
    if (m.status !== 201) throw new Error(`manifest upload: HTTP ${m.status} ${await m.text()}`)
  }

  stop(): void {
    this.proc.kill()
    rmSync(this.dir, {recursive: true, force: true})
  }
}
