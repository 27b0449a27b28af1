import type {ToolRunner} from './tool.js'

/** The registry container skycap up starts beside a kind cluster (kind's own local-registry recipe). */
export const REGISTRY_IMAGE = 'registry:2'

/** Whether a container of that name exists, and whether it runs. */
export async function containerState(tools: ToolRunner, name: string): Promise<'running' | 'stopped' | 'absent'> {
  const r = await tools.run('docker', ['container', 'inspect', '--format', '{{.State.Running}}', name], {allowFailure: true})
  if (r.exitCode !== 0) return 'absent'
  return r.stdout.trim() === 'true' ? 'running' : 'stopped'
}

/**
 * Starts a registry container on 127.0.0.1:`port` unless one of that name runs; true when this call created it
 * (then it is skycap's to remove).
 */
export async function ensureRegistryContainer(tools: ToolRunner, name: string, port: number): Promise<boolean> {
  const state = await containerState(tools, name)
  if (state === 'running') return false
  if (state === 'stopped') {
    await tools.run('docker', ['start', name])
    return false
  }
  await tools.run('docker', ['run', '--detach', '--restart=always', '--publish', `127.0.0.1:${port}:5000`, '--network', 'bridge', '--name', name, REGISTRY_IMAGE])
  return true
}

/** Connects a container to a docker network; already connected is fine. */
export async function connectNetwork(tools: ToolRunner, network: string, container: string): Promise<void> {
  const r = await tools.run('docker', ['network', 'connect', network, container], {allowFailure: true})
  if (r.exitCode !== 0 && !/already exists|already attached/.test(r.stderr)) await tools.run('docker', ['network', 'connect', network, container])
}

/** Removes a container skycap created. */
export async function removeContainer(tools: ToolRunner, name: string): Promise<void> {
  await tools.run('docker', ['rm', '--force', name])
}

/** Writes `content` to `path` inside a running container (stdin, no shell). */
export async function writeFileInContainer(tools: ToolRunner, container: string, path: string, content: string): Promise<void> {
  await tools.run('docker', ['exec', container, 'mkdir', '-p', path.slice(0, path.lastIndexOf('/'))])
  await tools.run('docker', ['exec', '--interactive', container, 'cp', '/dev/stdin', path], {input: content})
}
