import type {ClusterTool} from './cluster-tool.js'
import {kind} from './kind.js'

/**
 * ctlptl (Tilt's cluster tool): a kind cluster with a registry, wired and advertised (local-registry-hosting) by
 * ctlptl itself. Its clusters are kind clusters: contexts `kind-<name>`, images loaded with kind when needed.
 */
export const ctlptl: ClusterTool = {
  name: 'ctlptl',
  contextOf: kind.contextOf,
  clusterOf: kind.clusterOf,
  requires: ['ctlptl', 'kind', 'docker'],

  async create(tools, name) {
    await tools.run('ctlptl', ['create', 'cluster', 'kind', `--name=${kind.contextOf(name)}`, `--registry=${name}-registry`])
    return {tool: 'ctlptl', name, context: kind.contextOf(name), writeHosting: false, registryContainer: `${name}-registry`}
  },

  async delete(tools, name) {
    await tools.run('ctlptl', ['delete', 'cluster', kind.contextOf(name)])
  },

  loadImages: (tools, name, images) => kind.loadImages(tools, name, images),
}
