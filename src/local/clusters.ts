import type {Environment} from '../config/types.js'
import {UserError} from '../errors.js'
import type {KubectlFactory} from '../env/connect.js'
import type {ClusterTool, CreatedCluster} from './cluster-tool.js'
import {ctlptl} from './ctlptl.js'
import {k3d} from './k3d.js'
import {kind} from './kind.js'
import {minikube} from './minikube.js'
import {readRegistryHosting, type LocalRegistryHosting, writeRegistryHosting} from './registry.js'
import {INSTALL_URLS, type ToolRunner} from './tool.js'

/** The cluster tools, in the order skycap up prefers them when it has to create a cluster. */
export const CLUSTER_TOOLS: readonly ClusterTool[] = [ctlptl, kind, k3d, minikube]

/** The name of a cluster skycap up creates. */
export const CLUSTER_NAME = 'skycap'

/** Local clusters whose nodes use this machine's docker image store: a built image needs no push or load. */
const SHARED_IMAGE_STORE = ['docker-desktop', 'docker-for-desktop', 'rancher-desktop', 'orbstack', 'colima']

/** A context of the kubeconfig and what it points at. */
export interface KubeContext {
  name: string
  server: string
}

/** Which cluster up deploys to, and why. */
export interface ClusterChoice {
  context: string
  /** How it was chosen: named by the environment or --cluster, found running, or created now. */
  source: 'environment' | 'flag' | 'found' | 'created'
  /** One line for the user: which and why. */
  why: string
  /** The tool that made it, when known (for loading images). */
  tool?: ClusterTool
  /** Its name for that tool. */
  clusterName?: string
  /** Set when up created it now. */
  created?: CreatedCluster
}

/** How built images reach the cluster's nodes. */
export type ImageDelivery = {mode: 'registry'; hosting: LocalRegistryHosting} | {mode: 'load'; tool: ClusterTool; cluster: string} | {mode: 'shared'} | {mode: 'configured'}

export interface ChooseOptions {
  env: Environment
  /** --cluster: kind, k3d, minikube, ctlptl or a context name. */
  cluster?: string
  kubectl: KubectlFactory
  tools: ToolRunner
  info: (line: string) => void
}

/** Reads the kubeconfig's contexts with their servers, and the current one. */
export async function kubeContexts(factory: KubectlFactory): Promise<{contexts: KubeContext[]; current?: string}> {
  type View = {'current-context'?: string; contexts?: Array<{name: string; context?: {cluster?: string}}>; clusters?: Array<{name: string; cluster?: {server?: string}}>}
  const view = await factory({}).json<View>(['config', 'view'], {namespaced: false})
  const servers = new Map((view.clusters ?? []).map((c) => [c.name, c.cluster?.server ?? '']))
  return {
    contexts: (view.contexts ?? []).map((c) => ({name: c.name, server: servers.get(c.context?.cluster ?? '') ?? ''})),
    current: view['current-context'] || undefined,
  }
}

/** The tool behind a context, told by its name (kind-*, k3d-*, minikube) or, for minikube profiles, its server. */
export function toolOf(context: KubeContext): {tool: ClusterTool; cluster: string} | undefined {
  for (const tool of [kind, k3d, minikube]) {
    const cluster = tool.clusterOf(context.name)
    if (cluster !== undefined) return {tool, cluster}
  }
  // minikube's docker driver serves every profile on 192.168.49.x:8443 (and its VMs on 192.168.39.x/59.x).
  if (/^https:\/\/192\.168\.(49|39|59)\.\d+:8443$/.test(context.server)) return {tool: minikube, cluster: context.name}
  return undefined
}

/** Whether a context is a local cluster: a known local tool's name, or an API server on this machine. */
export function isLocal(context: KubeContext): boolean {
  if (toolOf(context) || SHARED_IMAGE_STORE.includes(context.name)) return true
  return isLoopback(context.server)
}

function isLoopback(server: string): boolean {
  try {
    const host = new URL(server).hostname
    return host === 'localhost' || host === '[::1]' || host === '0.0.0.0' || host.startsWith('127.') || host.endsWith('.localhost')
  } catch {
    return false
  }
}

/**
 * Picks the cluster: the environment's context if it names one; `--cluster CONTEXT`; else a running local cluster
 * (the current context first, of the tool `--cluster TOOL` names if given); else creates one with the tool that is
 * installed. Where none is installed, says what to install.
 */
export async function chooseCluster(options: ChooseOptions): Promise<ClusterChoice> {
  const {env, cluster, kubectl, tools} = options
  const {contexts, current} = await kubeContexts(kubectl)
  const named = (context: KubeContext, source: ClusterChoice['source'], why: string): ClusterChoice => {
    const owner = toolOf(context)
    return {context: context.name, source, why, ...(owner ? {tool: owner.tool, clusterName: owner.cluster} : {})}
  }
  const wantedTool = CLUSTER_TOOLS.find((t) => t.name === cluster)
  if (cluster && !wantedTool) {
    const context = contexts.find((c) => c.name === cluster)
    if (!context)
      throw new UserError(`--cluster ${cluster} is neither a cluster tool (kind, k3d, minikube, ctlptl) nor a context of your kubeconfig; nothing was changed`, {
        hint: `Contexts: ${contexts.map((c) => c.name).join(', ') || 'none'}.`,
      })
    return named(context, 'flag', `context ${cluster} (--cluster)`)
  }
  if (env.context && !cluster) {
    const context = contexts.find((c) => c.name === env.context) ?? {name: env.context, server: ''}
    return named(context, 'environment', `context ${env.context} (environments.${env.name}.context)`)
  }
  // A running local cluster: the current context first, then the others in kubeconfig order.
  const candidates = contexts
    .filter(isLocal)
    .filter((c) => !wantedTool || toolOf(c)?.tool.name === (wantedTool.name === 'ctlptl' ? 'kind' : wantedTool.name))
    .sort((a, b) => Number(b.name === current) - Number(a.name === current))
  for (const context of candidates) {
    const r = await kubectl({context: context.name}).run(['get', '--raw', '/readyz'], {namespaced: false, allowFailure: true})
    if (r.exitCode === 0) return named(context, 'found', `running local cluster ${context.name}${context.name === current ? ' (the current context)' : ''}`)
  }
  const usable = wantedTool ? [wantedTool] : CLUSTER_TOOLS.filter((t) => t.requires.every((p) => tools.installed(p)))
  const tool = usable[0]
  if (!tool) {
    throw new UserError('no local cluster is running and none of kind, k3d, minikube is installed; nothing was changed', {
      hint: `Install one of kind (${INSTALL_URLS.kind}), k3d (${INSTALL_URLS.k3d}) or minikube (${INSTALL_URLS.minikube}); ctlptl (${INSTALL_URLS.ctlptl}) beside kind gives that cluster a local registry. Or pass --cluster CONTEXT to use a cluster you have.`,
    })
  }
  const missing = tool.requires.filter((p) => !tools.installed(p))
  if (missing.length)
    throw new UserError(`--cluster ${tool.name} needs ${missing.join(' and ')}, which ${missing.length > 1 ? 'are' : 'is'} not installed; nothing was changed`, {
      hint: missing.map((p) => `Install ${p}: ${INSTALL_URLS[p]}`).join('; '),
    })
  const why = wantedTool ? `--cluster ${tool.name}` : `no running local cluster found; ${tool.name} is installed`
  options.info(`Creating cluster ${CLUSTER_NAME} with ${tool.name} (${why})`)
  const created = await tool.create(tools, CLUSTER_NAME)
  if (created.registry && created.writeHosting) await writeRegistryHosting(kubectl({context: created.context}), created.registry)
  return {context: created.context, source: 'created', why: `created with ${tool.name} (${why})`, tool: tool.name === 'ctlptl' ? kind : tool, clusterName: CLUSTER_NAME, created}
}

/**
 * How images reach the chosen cluster: the registry it advertises (local-registry-hosting), else loaded by the tool
 * that made it, else the docker image store its nodes share, else the environment's own registry.
 */
export async function imageDelivery(choice: ClusterChoice, kubectl: KubectlFactory, tools: ToolRunner): Promise<ImageDelivery> {
  const hosting = choice.created?.registry ?? (await readRegistryHosting(kubectl({context: choice.context})))
  if (hosting) return {mode: 'registry', hosting}
  if (choice.tool && choice.clusterName && choice.tool.requires.every((p) => tools.installed(p))) return {mode: 'load', tool: choice.tool, cluster: choice.clusterName}
  if (SHARED_IMAGE_STORE.includes(choice.context)) return {mode: 'shared'}
  return {mode: 'configured'}
}
