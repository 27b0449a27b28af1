import type {ClusterTool} from './cluster-tool.js'

/** minikube: a VM or container per profile; the context is the profile's name. Images are loaded, not pushed. */
export const minikube: ClusterTool = {
  name: 'minikube',
  contextOf: (name) => name,
  // Only the default profile is recognised by its context name; others are told by their server (see clusters.ts).
  clusterOf: (context) => (context === 'minikube' ? 'minikube' : undefined),
  requires: ['minikube'],

  async create(tools, name) {
    await tools.run('minikube', ['start', '--profile', name, '--wait', 'all'])
    return {tool: 'minikube', name, context: minikube.contextOf(name), writeHosting: false}
  },

  async delete(tools, name) {
    await tools.run('minikube', ['delete', '--profile', name])
  },

  async loadImages(tools, name, images) {
    for (const image of images) await tools.run('minikube', ['image', 'load', image, '--profile', name])
  },
}
