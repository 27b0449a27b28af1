import net from 'node:net'

/**
 * Whether `address`:`port` can be listened on now: `skycap port-forward` checks the local port before kubectl would
 * fail on it with its own words, and `skycap up` chooses its forwards' ports with it.
 */
export async function canListen(address: string, port: number): Promise<boolean> {
  return (await listenFailure(address, port)) === undefined
}

/**
 * Why `address`:`port` cannot be listened on now: the system's error code (`EADDRINUSE`: another process listens
 * there; `EADDRNOTAVAIL`: the address is not one of this machine's; `EACCES`: a privileged port), or undefined when
 * it can.
 */
export function listenFailure(address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
    server.listen({host: address, port, exclusive: true}, () => server.close(() => resolve(undefined)))
  })
}

/**
 * A port `address` can listen on now, chosen by the system (as `listen(0)` does): `port-forward 0:REMOTE` picks its
 * port this way, so the port is known (said, in `--json`, and kept when the forward reconnects). Undefined when
 * nothing can listen there.
 */
export function anyFreePort(address: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(undefined))
    server.listen({host: address, port: 0, exclusive: true}, () => {
      const {port} = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}
