import {expect} from 'chai'

import {TestApp} from './app.js'
import {kubectl, useNamespace} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']

/** skycap.yaml lines added to the web service of test/fixtures/cluster-app. */
function withWebLines(lines: string[]): (text: string) => string {
  return (text) => text.replace('    port: 8080\n', `    port: 8080\n${lines.map((l) => `    ${l}\n`).join('')}`)
}

const EVERY_FIELD = [
  'liveness: {path: /live, periodSeconds: 10, failureThreshold: 4}',
  'startup: {command: [/bin/started], periodSeconds: 2, failureThreshold: 30}',
  'lifecycle: {preStop: {sleep: 5}}',
  'terminationGracePeriodSeconds: 45',
  'nodeSelector: {kubernetes.io/os: linux}',
  'tolerations: [{key: dedicated, operator: Equal, value: web, effect: NoSchedule}]',
  // kwok's fake nodes are labelled type=kwok: the pods can still be scheduled and become ready.
  'affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: type, operator: In, values: [kwok]}]}]}}}',
  'serviceAccountName: web-runner',
  'securityContext: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000}',
  'containerSecurityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}',
  'podTemplate:',
  '  metadata: {annotations: {example.com/team: checkout}}',
  '  spec:',
  '    containers:',
  '      - name: web',
  '        volumeMounts: [{name: tmp, mountPath: /tmp}]',
  '      - name: proxy',
  '        image: example.invalid/envoy:1',
  '    volumes: [{name: tmp, emptyDir: {}}]',
]

describe('pod template fields (real cluster)', function () {
  const ns = useNamespace('podtpl')
  let app: TestApp
  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'itpod')
    // The pods' ServiceAccount: skycap applies ServiceAccounts before Deployments.
    app.repo.write('deploy/service-account.yaml', 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web-runner}\n')
    await app.repo.commit('service account')
  })
  afterEach(() => app.remove())

  it('deploys every pod template field and a podTemplate patch; the live Deployment has them all', async () => {
    await app.change(withWebLines(EVERY_FIELD), 'pod template fields')
    const r = await app.json([...DEPLOY, 'test'])
    expect(r.exitCode, r.stderr).to.equal(0)
    const web = await app.get(['deployment', 'web'])
    expect(web.status.readyReplicas).to.equal(2)
    const pod = web.spec.template
    expect(pod.metadata.annotations).to.deep.equal({'example.com/team': 'checkout'})
    expect(pod.spec.containers.map((c: {name: string}) => c.name)).to.deep.equal(['web', 'proxy'])
    const [main, proxy] = pod.spec.containers
    expect(main.livenessProbe).to.deep.include({httpGet: {path: '/live', port: 8080, scheme: 'HTTP'}, periodSeconds: 10, failureThreshold: 4})
    expect(main.startupProbe).to.deep.include({exec: {command: ['/bin/started']}, periodSeconds: 2, failureThreshold: 30})
    expect(main.readinessProbe).to.deep.include({httpGet: {path: '/healthz', port: 8080, scheme: 'HTTP'}, periodSeconds: 5})
    expect(main.lifecycle).to.deep.equal({preStop: {sleep: {seconds: 5}}})
    expect(main.securityContext).to.deep.equal({allowPrivilegeEscalation: false, capabilities: {drop: ['ALL']}})
    // The patch merged into the service container: skycap's config mount stays, the patch's mount is added.
    expect(main.volumeMounts.map((m: {mountPath: string}) => m.mountPath)).to.deep.equal(['/etc/skycap/config', '/tmp'])
    expect(main.image).to.match(/^example\.invalid\/itpod\/web:[0-9a-f]{40}$/)
    expect(proxy.image).to.equal('example.invalid/envoy:1')
    expect(pod.spec.volumes.map((v: {name: string}) => v.name)).to.deep.equal(['config', 'tmp'])
    expect(pod.spec).to.deep.include({
      terminationGracePeriodSeconds: 45,
      serviceAccountName: 'web-runner',
      securityContext: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000},
      nodeSelector: {'kubernetes.io/os': 'linux'},
      tolerations: [{key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule'}],
      affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: 'type', operator: 'In', values: ['kwok']}]}]}}},
    })
    // The pods the ReplicaSet made run as the ServiceAccount on a node that matches.
    const pods = (await app.get(['pods', '-l', 'app.kubernetes.io/name=web'])).items
    expect(pods).to.have.length(2)
    for (const p of pods) expect(p.spec).to.include({serviceAccountName: 'web-runner', terminationGracePeriodSeconds: 45})
  })

  it('a podTemplate patch the server rejects: exit 2, the error names the field, nothing changes', async () => {
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const before = await app.get(['deployment', 'web'])
    await app.change(withWebLines(['podTemplate: {spec: {containers: [{name: web, imagePullPolicy: Sometimes}]}}']), 'bad patch')
    const r = await app.cli([...DEPLOY, 'test'])
    expect(r.exitCode, r.stderr).to.equal(2)
    expect(r.stderr).to.match(/imagePullPolicy: Unsupported value: "Sometimes"/)
    const after = await app.get(['deployment', 'web'])
    expect(after.metadata.generation, 'the Deployment is untouched').to.equal(before.metadata.generation)
    expect(after.spec.template).to.deep.equal(before.spec.template)
    expect((await kubectl(['get', 'replicasets', '-l', 'app.kubernetes.io/name=web', '-o', 'name'], {namespace: ns.name})).stdout.trim().split('\n')).to.have.length(1)
    const history = await app.json(['history', 'test'])
    expect(history.doc.result.releases.map((x: {number: number; result: string}) => [x.number, x.result])).to.deep.equal([[1, 'succeeded']])
  })
})
