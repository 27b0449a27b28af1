// A TCP proxy in front of the test cluster's API server, and a kubeconfig whose context goes through it: a test can
// make the API server slow or kill it (as far as skycap can tell) without touching the cluster other tests share.
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {kubectl} from './harness.js'

export class ApiServerProxy {
  private readonly sockets = new Set<net.Socket>()
  private server?: net.Server
  private port = 0
  private readonly dir = mkdtempSync(join(tmpdir(), 'skycap-proxy-'))
  /** A kubeconfig with one context, `context`, that reaches the test cluster through this proxy. */
  readonly kubeconfig = join(this.dir, 'kubeconfig')

  private constructor(
    readonly context: string,
    private readonly upstream: {host: string; port: number},
    /** Client-to-server bytes wait this long (a slow network). */
    private readonly delayMs: number,
  ) {}

  /** Starts a proxy to the test cluster's API server and writes its kubeconfig. */
  static async start(context: string, options: {delayMs?: number} = {}): Promise<ApiServerProxy> {
    const config = JSON.parse((await kubectl(['config', 'view', '--raw', '--minify', '--flatten', '-o', 'json'])).stdout)
    const server = new URL(config.clusters[0].cluster.server as string)
    const proxy = new ApiServerProxy(context, {host: server.hostname, port: Number(server.port || 443)}, options.delayMs ?? 0)
    const port = await proxy.listen()
    config.clusters[0].cluster.server = `${server.protocol}//${server.hostname}:${port}`
    config.contexts[0].name = context
    config['current-context'] = context
    writeFileSync(proxy.kubeconfig, JSON.stringify(config))
    return proxy
  }

  private listen(): Promise<number> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.upstream.port, this.upstream.host)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => undefined)
        if (this.hung) s.pause()
      }
      const later = (f: () => void) => (this.delayMs ? setTimeout(f, this.delayMs) : f())
      client.on('data', (chunk) => later(() => upstream.write(chunk)))
      client.on('end', () => later(() => upstream.end()))
      upstream.pipe(client)
    })
    this.server = server
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, this.upstream.host, () => {
        this.port = (server.address() as net.AddressInfo).port
        resolve(this.port)
      })
    })
  }

  /** After kill(): the API server answers again, on the same address. */
  async revive(): Promise<void> {
    await this.listen()
  }

  /** While hung: connections are taken and nothing passes either way, as with an API server stopped (SIGSTOP). */
  private hung = false

  /** The API server hangs: it takes connections and answers nothing (TLS handshakes time out), until resume(). */
  hang(): void {
    this.hung = true
    for (const s of this.sockets) s.pause()
  }

  /** After hang(): what was held goes through, and the API server answers again. */
  resume(): void {
    this.hung = false
    for (const s of this.sockets) s.resume()
  }

  /** The API server "dies": connections in flight are cut (EOF), new ones are refused. */
  kill(): void {
    this.server?.close()
    for (const s of this.sockets) s.destroy()
  }

  stop(): void {
    this.kill()
    rmSync(this.dir, {recursive: true, force: true})
  }
}
