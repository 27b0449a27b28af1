import type {ClusterTool} from './cluster-tool.js'

/** The host port of the registry k3d creates with the cluster. */
export const K3D_REGISTRY_PORT = 5002

/** k3d: k3s in docker; contexts `k3d-<name>`. k3d creates the registry and advertises it (local-registry-hosting). */
export const k3d: ClusterTool = {
  name: 'k3d',
  contextOf: (name) => `k3d-${name}`,
  clusterOf: (context) => (context.startsWith('k3d-') ? context.slice('k3d-'.length) : undefined),
  requires: ['k3d', 'docker'],

  async create(tools, name) {
    // `<name>-registry.localhost` resolves to 127.0.0.1 on the host; k3d wires the nodes to pull from it.
    await tools.run('k3d', ['cluster', 'create', name, '--registry-create', `${name}-registry.localhost:127.0.0.1:${K3D_REGISTRY_PORT}`, '--wait'])
    return {tool: 'k3d', name, context: k3d.contextOf(name), writeHosting: false}
  },

  async delete(tools, name) {
    // k3d deletes the registry it created with the cluster.
    await tools.run('k3d', ['cluster', 'delete', name])
  },

  async loadImages(tools, name, images) {
    await tools.run('k3d', ['image', 'import', ...images, '--cluster', name])
  },
}
