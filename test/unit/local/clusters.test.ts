// The exact commands skycap up runs for kind, k3d, minikube and ctlptl (none of which can run on this machine):
// a fake process runner at the process boundary records every argv and stdin.
import {expect} from 'chai'

import type {Environment} from '../../../src/config/types.js'
import type {ProcessRunner} from '../../../src/kubectl/kubectl.js'
import {chooseCluster, imageDelivery, isLocal, toolOf} from '../../../src/local/clusters.js'
import {ctlptl} from '../../../src/local/ctlptl.js'
import {k3d} from '../../../src/local/k3d.js'
import {kind} from '../../../src/local/kind.js'
import {minikube} from '../../../src/local/minikube.js'
import {type ToolName, toolRunner} from '../../../src/local/tool.js'
import {fakeKubectlFactory, type Expectation} from '../../helpers/fake-kubectl.js'

interface Call {
  argv: string[]
  input?: string
}

/** A runner that answers `answers[argv]` (default: exit 0, no output) and records every call. */
function fakeTools(installed: ToolName[], answers: Record<string, {exitCode?: number; stdout?: string; stderr?: string}> = {}) {
  const calls: Call[] = []
  const runner: ProcessRunner = async (file, args, options) => {
    const argv = [file, ...args]
    calls.push({argv, ...(options.input !== undefined ? {input: options.input} : {})})
    return {exitCode: 0, stdout: '', stderr: '', ...answers[argv.join(' ')]}
  }
  return {tools: toolRunner({runner, installed: (t) => installed.includes(t)}), calls, argvs: () => calls.map((c) => c.argv.join(' '))}
}

const ENV: Environment = {name: 'local', namespace: 'shop-local', protected: false, values: {}, services: {}, maxReplicas: 1000, derived: true, hooks: {predeploy: [], postdeploy: []}}

function kubeconfig(contexts: Array<[string, string]>, current?: string): Expectation {
  return {
    argv: ['--request-timeout=30s', 'config', 'view', '-o', 'json'],
    result: {
      stdout: JSON.stringify({
        'current-context': current ?? '',
        contexts: contexts.map(([name]) => ({name, context: {cluster: name}})),
        clusters: contexts.map(([name, server]) => ({name, cluster: {server}})),
      }),
    },
  }
}

const NO_HOSTING = (context: string): Expectation => ({
  argv: ['--context', context, '--request-timeout=30s', 'get', 'configmap', 'local-registry-hosting', '--namespace', 'kube-public', '-o', 'json'],
  result: {exitCode: 1, stderr: 'Error from server (NotFound): configmaps "local-registry-hosting" not found'},
})

describe('local clusters: the exact commands per tool', () => {
  it('kind: a registry container, the cluster with containerd reading hosts.toml, the registry wired into each node and the network, advertised', async () => {
    const {tools, calls, argvs} = fakeTools(['kind', 'docker'], {
      'docker container inspect --format {{.State.Running}} skycap-registry': {exitCode: 1, stderr: 'Error: No such container: skycap-registry'},
      'kind get nodes --name skycap': {stdout: 'skycap-control-plane\n'},
    })
    const hostingApplied: string[] = []
    const fake = fakeKubectlFactory([
      kubeconfig([['prod', 'https://k8s.example.com']], 'prod'),
      {
        argv: ['--context', 'kind-skycap', '--request-timeout=30s', 'apply', '--server-side', '--field-manager=skycap', '-f', '-'],
        input: (i) => hostingApplied.push(i as string),
      },
    ])
    const info: string[] = []
    const choice = await chooseCluster({env: ENV, kubectl: fake.factory, tools, info: (l) => info.push(l)})
    expect(argvs()).to.deep.equal([
      'docker container inspect --format {{.State.Running}} skycap-registry',
      'docker run --detach --restart=always --publish 127.0.0.1:5001:5000 --network bridge --name skycap-registry registry:2',
      'kind create cluster --name skycap --config - --wait 120s',
      'kind get nodes --name skycap',
      'docker exec skycap-control-plane mkdir -p /etc/containerd/certs.d/localhost:5001',
      'docker exec --interactive skycap-control-plane cp /dev/stdin /etc/containerd/certs.d/localhost:5001/hosts.toml',
      'docker network connect kind skycap-registry',
    ])
    expect(calls[2]?.input).to.include('config_path = "/etc/containerd/certs.d"')
    expect(calls[5]?.input).to.equal('[host."http://skycap-registry:5000"]\n')
    expect(JSON.parse(hostingApplied[0] as string)).to.deep.equal({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {name: 'local-registry-hosting', namespace: 'kube-public'},
      data: {'localRegistryHosting.v1': 'host: "localhost:5001"\nhostFromClusterNetwork: "skycap-registry:5000"\nhelp: "https://kind.sigs.k8s.io/docs/user/local-registry/"\n'},
    })
    expect(choice).to.include({context: 'kind-skycap', source: 'created'})
    expect(choice.created).to.include({tool: 'kind', name: 'skycap', registryContainer: 'skycap-registry'})
    expect(info).to.deep.equal(['Creating cluster skycap with kind (no running local cluster found; kind is installed)'])
    expect(fake.remaining()).to.equal(0)
    expect(await imageDelivery(choice, fake.factory, tools)).to.deep.equal({mode: 'registry', hosting: choice.created?.registry})
  })

  it('k3d: one create with its own registry; k3d advertises it', async () => {
    const {tools, argvs} = fakeTools(['k3d', 'docker'])
    const fake = fakeKubectlFactory([kubeconfig([])])
    const choice = await chooseCluster({env: ENV, cluster: 'k3d', kubectl: fake.factory, tools, info: () => undefined})
    expect(argvs()).to.deep.equal(['k3d cluster create skycap --registry-create skycap-registry.localhost:127.0.0.1:5002 --wait'])
    expect(choice).to.include({context: 'k3d-skycap', source: 'created', why: 'created with k3d (--cluster k3d)'})
  })

  it('minikube: a profile; images are loaded, one by one', async () => {
    const {tools, argvs} = fakeTools(['minikube'])
    const fake = fakeKubectlFactory([kubeconfig([]), NO_HOSTING('skycap')])
    const choice = await chooseCluster({env: ENV, kubectl: fake.factory, tools, info: () => undefined})
    expect(choice.context).to.equal('skycap')
    const delivery = await imageDelivery(choice, fake.factory, tools)
    expect(delivery.mode).to.equal('load')
    if (delivery.mode === 'load') await delivery.tool.loadImages(tools, delivery.cluster, ['localhost/web:abc', 'localhost/api:abc'])
    expect(argvs()).to.deep.equal(['minikube start --profile skycap --wait all', 'minikube image load localhost/web:abc --profile skycap', 'minikube image load localhost/api:abc --profile skycap'])
  })

  it('ctlptl: a kind cluster with a registry, when ctlptl is installed (preferred)', async () => {
    const {tools, argvs} = fakeTools(['ctlptl', 'kind', 'docker', 'k3d'])
    const fake = fakeKubectlFactory([kubeconfig([])])
    const choice = await chooseCluster({env: ENV, kubectl: fake.factory, tools, info: () => undefined})
    expect(argvs()).to.deep.equal(['ctlptl create cluster kind --name=kind-skycap --registry=skycap-registry'])
    expect(choice).to.include({context: 'kind-skycap'})
    expect(choice.created?.tool).to.equal('ctlptl')
  })

  it('image loading and deletion, per tool', async () => {
    const {tools, argvs} = fakeTools(['kind', 'k3d', 'minikube', 'ctlptl', 'docker'])
    await kind.loadImages(tools, 'dev', ['web:1', 'api:1'])
    await k3d.loadImages(tools, 'dev', ['web:1', 'api:1'])
    await ctlptl.loadImages(tools, 'dev', ['web:1'])
    await kind.delete(tools, 'dev')
    await k3d.delete(tools, 'dev')
    await minikube.delete(tools, 'dev')
    await ctlptl.delete(tools, 'dev')
    expect(argvs()).to.deep.equal([
      'kind load docker-image web:1 api:1 --name dev',
      'k3d image import web:1 api:1 --cluster dev',
      'kind load docker-image web:1 --name dev',
      'kind delete cluster --name dev',
      'k3d cluster delete dev',
      'minikube delete --profile dev',
      'ctlptl delete cluster kind-dev',
    ])
  })

  it('reuses a running local cluster, the current context first, and skips one that does not answer', async () => {
    const {tools, argvs} = fakeTools(['kind', 'docker'])
    const fake = fakeKubectlFactory([
      kubeconfig(
        [
          ['prod', 'https://k8s.example.com'],
          ['k3d-old', 'https://0.0.0.0:40123'],
          ['kind-dev', 'https://127.0.0.1:35000'],
        ],
        'kind-dev',
      ),
      {argv: ['--context', 'kind-dev', '--request-timeout=30s', 'get', '--raw', '/readyz'], result: {exitCode: 1, stderr: 'The connection to the server 127.0.0.1:35000 was refused'}},
      {argv: ['--context', 'k3d-old', '--request-timeout=30s', 'get', '--raw', '/readyz'], result: {stdout: 'ok'}},
    ])
    const choice = await chooseCluster({env: ENV, kubectl: fake.factory, tools, info: () => undefined})
    expect(choice).to.include({context: 'k3d-old', source: 'found', clusterName: 'old'})
    expect(choice.tool?.name).to.equal('k3d')
    expect(argvs(), 'nothing created').to.deep.equal([])
  })

  it("the environment's context wins; --cluster CONTEXT must be in the kubeconfig", async () => {
    const {tools} = fakeTools([])
    const fake = fakeKubectlFactory([kubeconfig([['team-dev', 'https://10.0.0.1']])])
    const choice = await chooseCluster({env: {...ENV, context: 'team-dev'}, kubectl: fake.factory, tools, info: () => undefined})
    expect(choice).to.include({context: 'team-dev', source: 'environment'})
    const again = fakeKubectlFactory([kubeconfig([['team-dev', 'https://10.0.0.1']])])
    const error = await chooseCluster({env: ENV, cluster: 'nope', kubectl: again.factory, tools, info: () => undefined}).catch((e: Error) => e)
    expect((error as Error).message).to.equal('--cluster nope is neither a cluster tool (kind, k3d, minikube, ctlptl) nor a context of your kubeconfig; nothing was changed')
  })

  it('no running local cluster and no tool: one message naming what to install', async () => {
    const {tools, argvs} = fakeTools([])
    const fake = fakeKubectlFactory([kubeconfig([['prod', 'https://k8s.example.com']], 'prod')])
    const error = (await chooseCluster({env: ENV, kubectl: fake.factory, tools, info: () => undefined}).catch((e: unknown) => e)) as Error & {hint: string; exitCode: number}
    expect(error.message).to.equal('no local cluster is running and none of kind, k3d, minikube is installed; nothing was changed')
    expect(error.hint).to.match(/^Install one of kind \(https:\/\/kind\.sigs\.k8s\.io\/.*\), k3d \(https:\/\/k3d\.io.*\) or minikube \(https:\/\/minikube/)
    expect(error.hint).to.contain('; ctlptl (https://github.com/tilt-dev/ctlptl#how-do-i-install-it) beside kind gives that cluster a local registry. Or pass --cluster CONTEXT')
    expect(error.exitCode).to.equal(2)
    expect(argvs()).to.deep.equal([])
    const kindOnly = fakeTools(['kind'])
    const missingDocker = (await chooseCluster({env: ENV, cluster: 'kind', kubectl: fakeKubectlFactory([kubeconfig([])]).factory, tools: kindOnly.tools, info: () => undefined}).catch(
      (e: unknown) => e,
    )) as Error
    expect(missingDocker.message).to.equal('--cluster kind needs docker, which is not installed; nothing was changed')
  })

  it('a failing tool is reported with its last lines and the command to rerun', async () => {
    const {tools} = fakeTools(['k3d', 'docker'], {
      'k3d cluster create skycap --registry-create skycap-registry.localhost:127.0.0.1:5002 --wait': {exitCode: 1, stderr: 'INFO starting\nFATA port 5002 is already in use'},
    })
    const error = (await k3d.create(tools, 'skycap').catch((e: unknown) => e)) as Error & {hint: string}
    expect(error.message).to.equal('k3d cluster create failed (exit 1): INFO starting\nFATA port 5002 is already in use')
    expect(error.hint).to.equal('Run `k3d cluster create skycap --registry-create skycap-registry.localhost:127.0.0.1:5002 --wait` yourself to see the whole output.')
  })

  it('tells local contexts by name and server', () => {
    expect(isLocal({name: 'kind-x', server: 'https://127.0.0.1:1'})).to.equal(true)
    expect(isLocal({name: 'docker-desktop', server: 'https://kubernetes.docker.internal:6443'})).to.equal(true)
    expect(isLocal({name: 'test', server: 'https://127.0.0.1:6443'})).to.equal(true)
    expect(isLocal({name: 'gke_prod', server: 'https://34.1.2.3'})).to.equal(false)
    expect(toolOf({name: 'dev', server: 'https://192.168.49.2:8443'})).to.deep.equal({tool: minikube, cluster: 'dev'})
    expect(toolOf({name: 'kind-a', server: ''})?.cluster).to.equal('a')
  })
})
