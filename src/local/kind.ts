import {connectNetwork, ensureRegistryContainer, writeFileInContainer} from './docker.js'
import type {ClusterTool, CreatedCluster} from './cluster-tool.js'
import type {ToolRunner} from './tool.js'

/** The port of the registry container skycap starts for a kind cluster (kind's recipe uses 5001 too). */
export const KIND_REGISTRY_PORT = 5001

// containerd reads per-registry hosts.toml files from here (kind's "local registry" recipe, kind >= 0.20).
const CONFIG_PATH_PATCH = `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
containerdConfigPatches:
- |-
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
`

/** kind: clusters in docker containers; contexts `kind-<name>`. */
export const kind: ClusterTool = {
  name: 'kind',
  contextOf: (name) => `kind-${name}`,
  clusterOf: (context) => (context.startsWith('kind-') ? context.slice('kind-'.length) : undefined),
  requires: ['kind', 'docker'],

  async create(tools: ToolRunner, name: string): Promise<CreatedCluster> {
    const registry = `${name}-registry`
    const host = `localhost:${KIND_REGISTRY_PORT}`
    const createdRegistry = await ensureRegistryContainer(tools, registry, KIND_REGISTRY_PORT)
    await tools.run('kind', ['create', 'cluster', '--name', name, '--config', '-', '--wait', '120s'], {input: CONFIG_PATH_PATCH})
    const nodes = (await tools.run('kind', ['get', 'nodes', '--name', name])).stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
    // Inside the nodes, "localhost:5001" means the registry container, reached by its name on the kind network.
    for (const node of nodes) await writeFileInContainer(tools, node, `/etc/containerd/certs.d/${host}/hosts.toml`, `[host."http://${registry}:5000"]\n`)
    await connectNetwork(tools, 'kind', registry)
    return {
      tool: 'kind',
      name,
      context: kind.contextOf(name),
      registry: {host, hostFromClusterNetwork: `${registry}:5000`, help: 'https://kind.sigs.k8s.io/docs/user/local-registry/'},
      writeHosting: true,
      ...(createdRegistry ? {registryContainer: registry} : {}),
    }
  },

  async delete(tools, name) {
    await tools.run('kind', ['delete', 'cluster', '--name', name])
  },

  async loadImages(tools, name, images) {
    await tools.run('kind', ['load', 'docker-image', ...images, '--name', name])
  },
}
