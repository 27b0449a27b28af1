// Proves the test cluster with plain kubectl: everything skycap will build on works for real here.
import {expect} from 'chai'
import {execa} from 'execa'
import {appendLog, captureOutput, kubectl, kubectlProcess, podLogFiles, testCluster, useNamespace, waitFor} from './harness.js'

const BEHAVIOR = 'sim.kwok.test/behavior'

interface DeploymentOptions {
  replicas?: number
  image?: string
  behavior?: 'not-ready' | 'crashloop'
  progressDeadlineSeconds?: number
}

function deployment(name: string, o: DeploymentOptions = {}): string {
  const labels: Record<string, string> = {app: name}
  if (o.behavior) labels[BEHAVIOR] = o.behavior
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {name},
    spec: {
      replicas: o.replicas ?? 3,
      progressDeadlineSeconds: o.progressDeadlineSeconds ?? 600,
      selector: {matchLabels: {app: name}},
      template: {
        metadata: {labels},
        spec: {containers: [{name: 'app', image: o.image ?? 'example.invalid/web:v1'}]},
      },
    },
  })
}

interface PodJson {
  metadata: {name: string; labels?: Record<string, string>}
  spec: {nodeName?: string}
  status: {
    phase?: string
    conditions?: {type: string; status: string}[]
    containerStatuses?: {
      ready: boolean
      restartCount: number
      state: {running?: object; waiting?: {reason?: string}}
      lastState: {terminated?: {exitCode: number; reason?: string}}
    }[]
  }
}

async function pods(namespace: string, selector: string): Promise<PodJson[]> {
  const r = await kubectl(['get', 'pods', '-l', selector, '-o', 'json'], {namespace})
  return (JSON.parse(r.stdout) as {items: PodJson[]}).items
}

async function deploymentJson(namespace: string, name: string) {
  const r = await kubectl(['get', 'deployment', name, '-o', 'json'], {namespace})
  return JSON.parse(r.stdout) as {
    spec: {template: {metadata: {labels: Record<string, string>}; spec: {containers: {image: string}[]}}}
    status: {readyReplicas?: number; updatedReplicas?: number; conditions?: {type: string; status: string; reason: string}[]}
  }
}

describe('test cluster (smoke, plain kubectl)', function () {
  const ns = useNamespace('smoke')

  it('runs the built Kubernetes with two or more Ready fake nodes, reachable by child processes', async function () {
    const nodes = JSON.parse((await kubectl(['get', 'nodes', '-o', 'json'])).stdout) as {
      items: {status: {conditions: {type: string; status: string}[]}}[]
    }
    expect(nodes.items.length).to.be.at.least(2)
    for (const n of nodes.items) {
      expect(n.status.conditions.find((c) => c.type === 'Ready')?.status).to.equal('True')
    }
    const version = JSON.parse((await kubectl(['version', '-o', 'json'])).stdout) as {
      clientVersion: {gitVersion: string}
      serverVersion: {gitVersion: string}
    }
    expect(version.serverVersion.gitVersion).to.match(/^v1\.\d+\.\d+/)
    expect(version.clientVersion.gitVersion).to.equal(version.serverVersion.gitVersion)
    // A CLI spawned by a test finds the same kubectl first on PATH and the cluster through KUBECONFIG.
    const child = await execa('kubectl', ['config', 'current-context'])
    expect(child.stdout.trim()).to.equal(testCluster().context)
    const which = await execa('sh', ['-c', 'command -v kubectl'])
    expect(which.stdout.trim()).to.equal(testCluster().kubectlPath)
  })

  it('rolls out a Deployment: rollout status succeeds and every pod is Running and Ready on a fake node', async function () {
    await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: deployment('web', {replicas: 3})})
    const r = await kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s'], {namespace: ns.name})
    expect(r.stdout).to.contain('successfully rolled out')
    const d = await deploymentJson(ns.name, 'web')
    expect(d.status.readyReplicas).to.equal(3)
    const nodes = (await kubectl(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}'])).stdout.split(' ')
    const list = await pods(ns.name, 'app=web')
    expect(list).to.have.length(3)
    for (const p of list) {
      expect(p.status.phase).to.equal('Running')
      expect(nodes).to.include(p.spec.nodeName)
      expect(p.status.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True')
    }
  })

  it('scales a Deployment up and down and waits for it', async function () {
    await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: deployment('web', {replicas: 1})})
    await kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s'], {namespace: ns.name})
    await kubectl(['scale', 'deployment/web', '--replicas=5'], {namespace: ns.name})
    await kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s'], {namespace: ns.name})
    expect((await deploymentJson(ns.name, 'web')).status.readyReplicas).to.equal(5)
    await kubectl(['scale', 'deployment/web', '--replicas=2'], {namespace: ns.name})
    await kubectl(['wait', '--for=jsonpath={.status.replicas}=2', 'deployment/web', '--timeout=60s'], {namespace: ns.name})
    // Scaled-down pods go away for real (kwok's pod-delete stage removes them once they are terminating).
    await waitFor('two pods left', async () => (await pods(ns.name, 'app=web')).length === 2, {timeoutMs: 60_000})
  })

  it('fails `rollout status` when a crash-looping revision exceeds its progress deadline', async function () {
    // The healthy first revision keeps the default deadline: on a loaded CI machine its pods took more than 8 s once,
    // and `rollout status` failed before the test began. Only the crash-looping revision gets the short one.
    await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: deployment('web', {replicas: 2})})
    await kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s'], {namespace: ns.name})
    await kubectl(['apply', '-f', '-'], {
      namespace: ns.name,
      input: deployment('web', {replicas: 2, progressDeadlineSeconds: 8, image: 'example.invalid/web:v2', behavior: 'crashloop'}),
    })
    const started = Date.now()
    const r = await kubectl(['rollout', 'status', 'deployment/web', '--timeout=90s'], {namespace: ns.name, reject: false})
    expect(r.exitCode).to.not.equal(0)
    expect(r.stderr).to.contain('exceeded its progress deadline')
    expect(Date.now() - started).to.be.below(60_000)
    // The old revision keeps serving while the new pods crash-loop the way a kubelet reports it.
    expect((await deploymentJson(ns.name, 'web')).status.readyReplicas).to.equal(2)
    const crashing = await pods(ns.name, `${BEHAVIOR}=crashloop`)
    expect(crashing.length).to.be.at.least(1)
    for (const p of crashing) {
      const cs = p.status.containerStatuses?.[0]
      expect(cs?.ready).to.equal(false)
      expect(cs?.state.waiting?.reason).to.equal('CrashLoopBackOff')
      expect(cs?.lastState.terminated?.exitCode).to.equal(1)
      expect(cs?.restartCount).to.be.at.least(1)
    }
    const name = crashing[0]?.metadata.name ?? ''
    const events = await kubectl(['get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'json'], {
      namespace: ns.name,
    })
    expect(events.stdout).to.contain('BackOff')
  })

  it('counts restarts up while a pod crash-loops', async function () {
    await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: deployment('web', {replicas: 1, behavior: 'crashloop'})})
    const first = await waitFor('a crash-looping pod', async () => (await pods(ns.name, 'app=web'))[0]?.status.containerStatuses?.[0])
    await waitFor('the restart count to go up', async () => ((await pods(ns.name, 'app=web'))[0]?.status.containerStatuses?.[0]?.restartCount ?? 0) > first.restartCount, {timeoutMs: 45_000})
  })

  it('brings a failed rollout back with `rollout undo`', async function () {
    await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: deployment('web', {replicas: 2})})
    await kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s'], {namespace: ns.name})
    await kubectl(['apply', '-f', '-'], {
      namespace: ns.name,
      input: deployment('web', {replicas: 2, progressDeadlineSeconds: 8, image: 'example.invalid/web:v2', behavior: 'crashloop'}),
    })
    await kubectl(['wait', '--for=jsonpath={.status.conditions[?(@.type=="Progressing")].reason}=ProgressDeadlineExceeded', 'deployment/web', '--timeout=60s'], {namespace: ns.name})
    await kubectl(['rollout', 'undo', 'deployment/web'], {namespace: ns.name})
    // The controller's first status after the undo may keep ProgressDeadlineExceeded with the new generation observed
    // (the crash-looping ReplicaSet's pods still counted), which `rollout status` takes for a failed rollout at once
    // (CI saw it once): the rollout is judged once the controller says the undone revision is available.
    await kubectl(['wait', '--for=jsonpath={.status.conditions[?(@.type=="Progressing")].reason}=NewReplicaSetAvailable', 'deployment/web', '--timeout=60s'], {namespace: ns.name})
    const r = await kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s'], {namespace: ns.name})
    expect(r.stdout).to.contain('successfully rolled out')
    const d = await deploymentJson(ns.name, 'web')
    expect(d.spec.template.spec.containers[0]?.image).to.equal('example.invalid/web:v1')
    expect(d.spec.template.metadata.labels).to.not.have.property(BEHAVIOR)
    expect(d.status.readyReplicas).to.equal(2)
    expect(d.status.conditions?.find((c) => c.type === 'Progressing')?.reason).to.equal('NewReplicaSetAvailable')
    // The crash-looping pods are gone.
    await waitFor('the crash-looping pods to go', async () => (await pods(ns.name, `${BEHAVIOR}=crashloop`)).length === 0)
  })

  it('keeps a `not-ready` pod Running but never Ready', async function () {
    await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: deployment('web', {replicas: 1, behavior: 'not-ready', progressDeadlineSeconds: 8})})
    const pod = await waitFor('a running pod', async () => {
      const p = (await pods(ns.name, 'app=web'))[0]
      return p?.status.phase === 'Running' ? p : undefined
    })
    const w = await kubectl(['wait', '--for=condition=Ready', `pod/${pod.metadata.name}`, '--timeout=10s'], {namespace: ns.name, reject: false})
    expect(w.exitCode).to.not.equal(0)
    const again = (await pods(ns.name, 'app=web'))[0]
    expect(again?.status.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('False')
    expect(again?.status.containerStatuses?.[0]?.state.running).to.be.an('object')
    expect(again?.status.containerStatuses?.[0]?.ready).to.equal(false)
    const r = await kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s'], {namespace: ns.name, reject: false})
    expect(r.exitCode).to.not.equal(0)
    expect(r.stderr).to.contain('exceeded its progress deadline')
  })

  it('serves pod logs from a file: `kubectl logs`, `logs -f` receiving an appended line, and `--previous`', async function () {
    const files = await podLogFiles(ns.name)
    await appendLog(files.current, ['listening on :8080'])
    await appendLog(files.current, ['warming up'], 'stderr')
    await appendLog(files.previous, ['panic: out of coffee'])
    await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: deployment('web', {replicas: 1})})
    await kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s'], {namespace: ns.name})

    const logs = await waitFor('kubectl logs to serve the file', async () => {
      const r = await kubectl(['logs', 'deployment/web'], {namespace: ns.name, reject: false})
      return r.exitCode === 0 && r.stdout.includes('listening on :8080') ? r.stdout : undefined
    })
    expect(logs).to.equal('listening on :8080\nwarming up\n')
    const previous = await kubectl(['logs', 'deployment/web', '--previous'], {namespace: ns.name})
    expect(previous.stdout).to.equal('panic: out of coffee\n')
    expect((await kubectl(['logs', 'deployment/web', '--tail=1'], {namespace: ns.name})).stdout).to.equal('warming up\n')
    const stamped = await kubectl(['logs', 'deployment/web', '--timestamps'], {namespace: ns.name})
    expect(stamped.stdout).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z listening on :8080\n/)

    const follower = kubectlProcess(['logs', '-f', 'deployment/web'], {namespace: ns.name})
    const out = captureOutput(follower.stdout)
    try {
      await out.waitFor('warming up\n')
      await appendLog(files.current, ['request handled in 3ms'])
      const seen = await out.waitFor('request handled in 3ms\n')
      expect(seen).to.equal('listening on :8080\nwarming up\nrequest handled in 3ms\n')
    } finally {
      follower.kill()
      await follower
    }
  })

  it('answers `kubectl logs` with an error for a pod that no log file covers', async function () {
    await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: deployment('web', {replicas: 1})})
    await kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s'], {namespace: ns.name})
    const r = await kubectl(['logs', 'deployment/web'], {namespace: ns.name, reject: false})
    expect(r.exitCode).to.not.equal(0)
    expect(r.stderr).to.contain('no logs found for container "app"')
  })

  it('serves one pod its own log file, ahead of its namespace', async function () {
    const shared = await podLogFiles(ns.name)
    await appendLog(shared.current, ['from the namespace file'])
    await kubectl(['apply', '-f', '-'], {namespace: ns.name, input: deployment('web', {replicas: 2})})
    await kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s'], {namespace: ns.name})
    const [one, two] = await pods(ns.name, 'app=web')
    if (!one || !two) throw new Error('expected two pods')
    const own = await podLogFiles(ns.name, {pod: one.metadata.name})
    await appendLog(own.current, ['from the pod file'])
    await waitFor('the pod file to be served', async () => {
      const r = await kubectl(['logs', one.metadata.name], {namespace: ns.name, reject: false})
      return r.stdout === 'from the pod file\n'
    })
    expect((await kubectl(['logs', two.metadata.name], {namespace: ns.name})).stdout).to.equal('from the namespace file\n')
  })

  it('creates and updates a Lease, refusing an update from a stale resourceVersion', async function () {
    const lease = (holder: string, resourceVersion?: string) =>
      JSON.stringify({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {name: 'deploy-lock', ...(resourceVersion ? {resourceVersion} : {})},
        spec: {holderIdentity: holder, leaseDurationSeconds: 30, acquireTime: new Date().toISOString().replace(/\.\d+Z$/, '.000000Z')},
      })
    await kubectl(['create', '-f', '-'], {namespace: ns.name, input: lease('alice')})
    const created = JSON.parse((await kubectl(['get', 'lease', 'deploy-lock', '-o', 'json'], {namespace: ns.name})).stdout) as {
      metadata: {resourceVersion: string}
      spec: {holderIdentity: string}
    }
    expect(created.spec.holderIdentity).to.equal('alice')
    await kubectl(['replace', '-f', '-'], {namespace: ns.name, input: lease('bob', created.metadata.resourceVersion)})
    const holder = await kubectl(['get', 'lease', 'deploy-lock', '-o', 'jsonpath={.spec.holderIdentity}'], {namespace: ns.name})
    expect(holder.stdout).to.equal('bob')
    // A second writer holding the old resourceVersion loses: the optimistic lock a deploy lock relies on.
    const stale = await kubectl(['replace', '-f', '-'], {
      namespace: ns.name,
      input: lease('carol', created.metadata.resourceVersion),
      reject: false,
    })
    expect(stale.exitCode).to.not.equal(0)
    expect(stale.stderr).to.match(/Conflict|the object has been modified/)
  })
})
