import net from 'node:net'

/**
 * Whether `address`:`port` can be listened on now: `skycap port-forward` checks the local port before kubectl would
 * fail on it with its own words, and `skycap up` chooses its forwards' ports with it.
 */
export function canListen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen({host: address, port, exclusive: true}, () => server.close(() => resolve(true)))
  })
}
