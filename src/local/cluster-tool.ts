import type {LocalRegistryHosting} from './registry.js'
import type {ToolName, ToolRunner} from './tool.js'

/** A tool that makes local clusters: kind, k3d, minikube, or ctlptl (kind with a registry). */
export interface ClusterTool {
  readonly name: 'kind' | 'k3d' | 'minikube' | 'ctlptl'
  /** Every program it needs on PATH. */
  readonly requires: ToolName[]
  /** The kube context of its cluster `name`. */
  contextOf(name: string): string
  /** The cluster name behind one of its contexts; undefined when the context is not one of its own. */
  clusterOf(context: string): string | undefined
  /** Creates cluster `name` with a registry wired in where the tool can; returns what it made. */
  create(tools: ToolRunner, name: string): Promise<CreatedCluster>
  delete(tools: ToolRunner, name: string): Promise<void>
  /** Copies images from the local docker into the cluster's nodes (when there is no registry). */
  loadImages(tools: ToolRunner, name: string, images: string[]): Promise<void>
}

/** A cluster skycap up created (recorded in the state, so down --cluster deletes it and nothing else). */
export interface CreatedCluster {
  tool: ClusterTool['name']
  name: string
  context: string
  /** The registry wired in by skycap (kind); k3d and ctlptl advertise their own. */
  registry?: LocalRegistryHosting
  /** Whether skycap must write the local-registry-hosting ConfigMap for `registry`. */
  writeHosting: boolean
  /** A registry container skycap (or ctlptl for it) started, removed again by down --cluster. */
  registryContainer?: string
}
