import {expect} from 'chai'
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'

import {resolveEnvironment} from '../../../src/config/environment.js'
import {loadConfig} from '../../../src/config/load.js'
import {ConfigError, ConfigErrors, ExitCode} from '../../../src/errors.js'
import {openVcs} from '../../../src/vcs/vcs.js'
import {checkTag, imageReference, isFullReference} from '../../../src/render/images.js'
import type {KubeObject} from '../../../src/render/objects.js'
import {renderEnvironment} from '../../../src/render/render.js'
import {toYaml} from '../../../src/render/serialize.js'
import {formatWarning} from '../../../src/ui/output.js'
import {clearTemplateCache, loadTemplateEngine, renderTemplate} from '../../../src/render/templates.js'
import {cliPath, fixturesDir, repoRoot, TempRepo} from '../../helpers/repo.js'

async function render(repo: TempRepo, envName: string, rev?: string, services?: string[]) {
  clearTemplateCache()
  const loaded = await loadConfig({cwd: repo.dir})
  const env = resolveEnvironment(loaded, envName)
  const revision = await (await openVcs(repo.dir)).resolve(rev)
  return renderEnvironment(loaded, env, revision, {services})
}

async function renderError(repo: TempRepo, envName: string): Promise<ConfigError> {
  try {
    await render(repo, envName)
  } catch (error) {
    expect((error as ConfigError).exitCode).to.equal(ExitCode.INVALID)
    return (error instanceof ConfigErrors ? error.errors[0] : error) as ConfigError
  }
  throw new Error('expected a render error')
}

/** `env.name, .namespace, services.<name>.image, .port` → the full names (`.x` is a sibling of the name before). */
function expandVariables(list: string): string[] {
  const out: string[] = []
  for (const item of list.split(/,\s*/)) {
    const previous = out.at(-1) ?? ''
    out.push(item.startsWith('.') ? previous.slice(0, previous.lastIndexOf('.')) + item : item)
  }
  return out
}

describe('images', () => {
  it('prefixes the registry and adds the tag', () => {
    expect(imageReference('web', 'abc', 'registry.example.com/shop')).to.equal('registry.example.com/shop/web:abc')
    expect(imageReference('web', 'abc', 'registry.example.com/shop/')).to.equal('registry.example.com/shop/web:abc')
    expect(imageReference('web', 'abc')).to.equal('web:abc')
  })

  it('keeps full references as written', () => {
    expect(imageReference('redis:7.2', 'abc', 'r.example.com')).to.equal('redis:7.2')
    expect(imageReference('x@sha256:0123', 'abc', 'r.example.com')).to.equal('x@sha256:0123')
    expect(imageReference('localhost:5000/web', 'abc')).to.equal('localhost:5000/web:abc')
    expect(isFullReference('localhost:5000/web:1')).to.equal(true)
  })

  it('an image that names its registry host gets the tag, not registry: in front (it became registry/ghcr.io/acme/web, and an invalid localhost:5000 path)', () => {
    expect(imageReference('ghcr.io/acme/web', 'abc', 'example.invalid/x')).to.equal('ghcr.io/acme/web:abc')
    expect(imageReference('localhost:5000/web', 'abc', 'example.invalid/x')).to.equal('localhost:5000/web:abc')
    expect(imageReference('localhost/web', 'abc', 'example.invalid/x')).to.equal('localhost/web:abc')
    // A path without a host is the registry's, as before (acme/web is on the registry, not a host named acme).
    expect(imageReference('acme/web', 'abc', 'example.invalid/x')).to.equal('example.invalid/x/acme/web:abc')
  })

  it('rejects tags the registry would refuse', () => {
    expect(() => checkTag('a/b', 'skycap.yaml')).to.throw(ConfigError, 'not a valid image tag')
    expect(checkTag('git-abc1234', 'skycap.yaml')).to.equal('git-abc1234')
  })
})

describe('rendering the example app', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.fromFixture('shop')
  })
  after(() => repo.remove())

  it('warns about files of the templates folder that look like manifests and are not read (a deployed object whose file was renamed x.json was pruned without a word)', async () => {
    const files = ['deploy/x.json', 'deploy/ingress.ymal', 'deploy/prod/PDB.YAML', 'deploy/_labels.liquid', 'deploy/README.md', 'deploy/x.yaml~', 'deploy/feed.xml']
    for (const f of files) repo.write(f, 'kind: ConfigMap\n')
    try {
      const prod = await render(repo, 'prod')
      expect(prod.warnings.map((w) => formatWarning({...w, file: relative(repo.dir, w.file ?? '')}))).to.deep.equal([
        'deploy/ingress.ymal: not read: templates are *.yaml and *.yml files (did you mean ingress.yaml?)',
        'deploy/x.json: not read: templates are *.yaml and *.yml files (JSON is YAML: rename it x.yaml to deploy it)',
        'deploy/prod/PDB.YAML: not read: templates are *.yaml and *.yml files (did you mean PDB.yaml?)',
      ])
      // Another environment's folder is not read at all.
      expect((await render(repo, 'dev')).warnings).to.have.length(2)
      expect(prod.objects.map((o) => o.source).filter((source) => !/\.ya?ml$|\/$/.test(source))).to.deep.equal([])
    } finally {
      for (const f of files) rmSync(join(repo.dir, f))
    }
    expect((await render(repo, 'prod')).warnings).to.deep.equal([])
  })

  for (const env of ['dev', 'staging', 'prod']) {
    it(`matches the golden file for ${env}`, async () => {
      const yaml = await toYaml((await render(repo, env)).objects.map((o) => o.object))
      const golden = join(fixturesDir, 'golden', `shop-${env}.yaml`)
      // Written only on request: a missing golden file fails the test instead of passing it.
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, yaml)
      expect(existsSync(golden), `${golden} is missing; run with UPDATE_GOLDEN=1`).to.equal(true)
      expect(yaml).to.equal(readFileSync(golden, 'utf8'))
    })
  }

  it("renders the same on any machine: LiquidJS's date names do not follow the machine's language (LANG)", async function () {
    this.timeout(30_000)
    const other = await TempRepo.fromFixture('shop')
    try {
      other.write('deploy/month.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: month}\ndata:\n  month: \'{{ "2026-03-01T12:00:00Z" | date: "%B %a" }}\'\n')
      await other.commit('a template with a date')
      // Node's default locale is read when the process starts: only a skycap started under German settings shows it.
      const {execa} = await import('execa')
      const r = await execa(process.execPath, [cliPath, 'render', 'staging'], {cwd: other.dir, env: {LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8', TZ: 'UTC', NO_COLOR: '1'}})
      const german = await execa(process.execPath, ['-e', 'console.log(new Intl.DateTimeFormat().resolvedOptions().locale)'], {env: {LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8'}})
      // The control: Node itself speaks German there (so the test can tell), skycap's manifests do not.
      expect(german.stdout.trim()).to.equal('de-DE')
      expect(r.stdout).to.include('month: March Sun')
    } finally {
      other.remove()
    }
  })

  it('renders an edited template and imageTag in the same process (up --watch): the parsed text is not reused for a new one', async () => {
    const other = await TempRepo.fromFixture('shop')
    try {
      // No clearTemplateCache() between the renders: a long-running up --watch never clears it.
      const once = async () => {
        const loaded = await loadConfig({cwd: other.dir})
        const env = resolveEnvironment(loaded, 'staging')
        return renderEnvironment(loaded, env, await (await openVcs(other.dir)).resolve(undefined), {})
      }
      const motd = (r: Awaited<ReturnType<typeof once>>) => r.objects.find((o) => o.object.metadata.name === 'motd')?.object as {data: Record<string, string>} | undefined
      const webImage = (r: Awaited<ReturnType<typeof once>>) => JSON.stringify(r.objects.find((o) => o.object.kind === 'Deployment' && o.object.metadata.name === 'web')?.object)
      other.write('deploy/motd.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: motd}\ndata: {motd: "first {{ app }}"}\n')
      clearTemplateCache()
      const first = await once()
      expect(motd(first)?.data.motd).to.equal('first shop')
      other.write('deploy/motd.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: motd}\ndata: {motd: "second {{ app }}"}\n')
      other.write('skycap.yaml', readFileSync(join(other.dir, 'skycap.yaml'), 'utf8').replace(/^app: shop$/m, 'app: shop\nimageTag: "edited-{{ revision.short }}"'))
      const second = await once()
      expect(motd(second)?.data.motd).to.equal('second shop')
      expect(webImage(first)).not.to.include(':edited-')
      expect(webImage(second)).to.match(/:edited-[0-9a-f]{7}"/)
    } finally {
      other.remove()
    }
  })

  it('is byte-identical across runs', async () => {
    const a = await toYaml((await render(repo, 'prod')).objects.map((o) => o.object))
    const b = await toYaml((await render(repo, 'prod')).objects.map((o) => o.object))
    expect(a).to.equal(b)
  })

  it('orders config before services before workloads before the rest', async () => {
    const kinds = (await render(repo, 'prod')).objects.map((o) => o.object.kind)
    expect(kinds).to.deep.equal(['ConfigMap', 'ConfigMap', 'Service', 'Service', 'Deployment', 'Deployment', 'Deployment', 'HorizontalPodAutoscaler', 'Ingress'])
  })

  it('maps every service to its image at the revision', async () => {
    const sha = await repo.git('rev-parse', 'HEAD')
    const result = await render(repo, 'staging')
    expect(result.images).to.deep.equal({web: `registry.example.com/shop/web:${sha}`, worker: `registry.example.com/shop/worker:${sha}`, cache: 'redis:7.2'})
  })

  it('uses imageTag over revision.short', async () => {
    const text = readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')
    repo.write('skycap.yaml', text.replace('registry: registry.example.com/shop', 'registry: registry.example.com/shop\nimageTag: "git-{{ revision.short }}"'))
    const sha = await repo.git('rev-parse', 'HEAD')
    expect((await render(repo, 'staging')).images.web).to.equal(`registry.example.com/shop/web:git-${sha.slice(0, 7)}`)
    repo.write('skycap.yaml', text)
  })

  it('renders an older revision with its own tag', async () => {
    const before = await repo.git('rev-parse', 'HEAD')
    repo.write('README', 'x')
    await repo.commit('second')
    expect((await render(repo, 'staging', 'HEAD~1')).images.web).to.equal(`registry.example.com/shop/web:${before}`)
  })

  it('changes the ConfigMap name when a config file changes, and only then', async () => {
    const name = async () => (await render(repo, 'dev')).objects.find((o) => o.object.kind === 'ConfigMap' && o.service === 'web')?.object.metadata.name
    const original = await name()
    expect(original).to.match(/^web-config-[0-9a-f]{10}$/)
    repo.write('README', 'unrelated change')
    expect(await name(), 'an unrelated file does not change it').to.equal(original)
    repo.write('config/web/app.properties', 'port=8080\ngreeting=Hello\n')
    const changed = await name()
    expect(changed).to.not.equal(original)
    const deployment = (await render(repo, 'dev')).objects.find((o) => o.object.kind === 'Deployment' && o.object.metadata.name === 'web')
    expect(JSON.stringify(deployment?.object)).to.contain(changed as string)
    await repo.git('checkout', '--', 'config/web/app.properties')
    expect(await name()).to.equal(original)
  })

  it('lets the environment override one config key', async () => {
    const staging = (await render(repo, 'staging')).objects.find((o) => o.object.kind === 'ConfigMap' && o.service === 'web')?.object as unknown as {data: Record<string, string>}
    const dev = (await render(repo, 'dev')).objects.find((o) => o.object.kind === 'ConfigMap' && o.service === 'web')?.object as unknown as {data: Record<string, string>}
    expect(staging.data['features.json']).to.contain('"wishlist": true')
    expect(dev.data['features.json']).to.contain('"wishlist": false')
    expect(staging.data['app.properties']).to.equal(dev.data['app.properties'])
  })

  it('renders only the named services', async () => {
    const result = await render(repo, 'prod', undefined, ['cache'])
    expect(result.objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`)).to.deep.equal(['Service/cache', 'Deployment/cache'])
  })

  it('labels every object and sets the namespace', async () => {
    for (const {object} of (await render(repo, 'prod')).objects) {
      expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).to.equal('shop')
      expect(object.metadata.labels).to.include({'app.kubernetes.io/part-of': 'shop', 'app.kubernetes.io/managed-by': 'skycap', 'skycap.dev/environment': 'prod'})
    }
  })

  it("labels the pods of a template's workloads, so the deploy watch finds them; the template's own labels win", async () => {
    repo.write(
      'deploy/db.yaml',
      [
        'apiVersion: apps/v1',
        'kind: StatefulSet',
        'metadata: {name: db}',
        'spec:',
        '  serviceName: db',
        '  selector: {matchLabels: {app: db}}',
        '  template:',
        '    metadata: {labels: {app: db, skycap.dev/environment: mine}}',
        '    spec: {containers: [{name: db, image: postgres}]}',
        '---',
        'apiVersion: batch/v1',
        'kind: CronJob',
        'metadata: {name: report}',
        'spec:',
        '  schedule: "@daily"',
        '  jobTemplate:',
        '    spec:',
        '      template:',
        '        spec: {restartPolicy: Never, containers: [{name: r, image: busybox}]}',
      ].join('\n'),
    )
    type Labelled = {metadata: {labels: Record<string, string>}}
    type Workload = KubeObject & {spec: {selector?: unknown; template: Labelled; jobTemplate: Labelled & {spec: {template: Labelled}}}}
    // The repository is shared by this block: the extra template goes again before the next test.
    const rendered = await render(repo, 'staging').finally(() => rmSync(join(repo.dir, 'deploy/db.yaml')))
    const objects = rendered.objects.map((o) => o.object as Workload)
    const db = objects.find((o) => o.kind === 'StatefulSet')
    expect(db?.spec.template.metadata.labels).to.deep.equal({'app.kubernetes.io/part-of': 'shop', 'app.kubernetes.io/managed-by': 'skycap', 'skycap.dev/environment': 'mine', app: 'db'})
    expect(db?.spec.selector).to.deep.equal({matchLabels: {app: 'db'}})
    const cron = objects.find((o) => o.kind === 'CronJob')
    const want = {'app.kubernetes.io/part-of': 'shop', 'app.kubernetes.io/managed-by': 'skycap', 'skycap.dev/environment': 'staging'}
    expect(cron?.spec.jobTemplate.metadata.labels).to.deep.equal(want)
    expect(cron?.spec.jobTemplate.spec.template.metadata.labels).to.deep.equal(want)
    // An Ingress has no pods: nothing but its own metadata is labelled.
    expect(objects.find((o) => o.kind === 'Ingress')?.spec).to.not.have.property('template')
  })
})

describe('autoscalers of blue-green and canary services', () => {
  let repo: TempRepo
  const original = readFileSync(join(fixturesDir, 'shop/skycap.yaml'), 'utf8')
  beforeEach(async () => {
    repo = await TempRepo.fromFixture('shop')
  })
  afterEach(() => repo.remove())
  const hpa = (name: string, target: string) =>
    `apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: ${name}}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ${target}}\n  minReplicas: 1\n  maxReplicas: 4\n`
  const shown = async (envName = 'prod') => (await render(repo, envName)).warnings.map((w) => formatWarning({...w, file: relative(repo.dir, w.file ?? '')}))
  const strategies = (web: string, worker: string) =>
    original.replace('  web:\n    image: web\n', `  web:\n    strategy: ${web}\n    image: web\n`).replace('  worker:\n    image: worker\n', `  worker:\n    strategy: ${worker}\n    image: worker\n`)
  const NO_SLOT = 'skycap does not move an autoscaler between slots; scale web with `skycap scale`, or make it a rolling service to autoscale it'

  it("are said at the HPA's template line: one of a blue-green service's name scales nothing, one of a slot the idle slot after a switch, one of a canary's Deployment sets the split (it went unsaid: the HPA reported FailedGetScale, or the canary took another share than its weight)", async () => {
    repo.write('skycap.yaml', strategies('{type: blueGreen}', '{type: canary, steps: [{setWeight: 50}]}'))
    repo.write('deploy/prod/hpa.yaml', `${hpa('web', 'web')}---\n${hpa('web-green', 'web-green')}---\n${hpa('worker', 'worker')}---\n${hpa('cache', 'cache')}`)
    expect(await shown()).to.deep.equal([
      `deploy/prod/hpa.yaml:1: HorizontalPodAutoscaler/web scales Deployment web, which blue-green service web does not have (its pods run in web-blue and web-green): it scales nothing. ${NO_SLOT}`,
      `deploy/prod/hpa.yaml:9: HorizontalPodAutoscaler/web-green scales web-green, one slot of blue-green service web: after a switch it scales the idle slot and not the one that serves. ${NO_SLOT}`,
      "deploy/prod/hpa.yaml:17: HorizontalPodAutoscaler/worker scales worker of canary service worker, whose steps set the pod counts too: while a canary runs, the share of traffic it takes follows the counts the autoscaler sets, not the steps' setWeight (trafficRouting sets the weights apart from the counts)",
    ])
  })

  it('are not said of rolling services, of a canary whose trafficRouting sets the weights, nor of another kind of target', async () => {
    repo.write('skycap.yaml', strategies('{type: rolling}', '{type: canary, steps: [{setWeight: 50}], trafficRouting: {gatewayAPI: {httpRoute: worker}}}'))
    repo.write('deploy/prod/hpa.yaml', `${hpa('web', 'web')}---\n${hpa('worker', 'worker')}---\n${hpa('cache', 'cache').replace('kind: Deployment', 'kind: StatefulSet')}`)
    expect(await shown()).to.deep.equal([])
  })
})

describe('the built-in templates', () => {
  let repo: TempRepo
  afterEach(() => repo.remove())

  it('render every optional field of a service, and a service with none of them', async () => {
    repo = await TempRepo.withFiles({
      'config/full/app.conf': 'x=1\n',
      'skycap.yaml': [
        'app: all',
        'registry: r.example/all',
        'services:',
        '  full:',
        '    image: full',
        '    replicas: 2',
        '    ports: [{name: http, port: 80, targetPort: 8080}, {name: dns, port: 53, protocol: UDP}]',
        '    command: [node, "server.js"]',
        '    args: ["--say", "a \\"quoted\\" word"]',
        '    env: {A: "1", B: 2, C: true}',
        '    envFrom: [{secret: creds}, {configMap: shared}]',
        '    healthcheck: {path: /ready, initialDelaySeconds: 3, periodSeconds: 7, timeoutSeconds: 2, failureThreshold: 4}',
        '    resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 128Mi}}',
        '    config: config/full',
        '    labels: {team: checkout}',
        '    annotations: {owner: "a@example.com"}',
        '  bare:',
        '    image: "busybox:1.36"',
        'environments:',
        '  e: {namespace: ns}',
        '',
      ].join('\n'),
    })
    const objects = (await render(repo, 'e')).objects.map((o) => o.object)
    const get = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name) as Record<string, any>
    const full = get('Deployment', 'full')
    const container = full.spec.template.spec.containers[0]
    expect(full.spec.replicas).to.equal(2)
    expect(full.metadata.labels.team).to.equal('checkout')
    expect(full.metadata.annotations).to.include({owner: 'a@example.com'})
    expect(container.command).to.deep.equal(['node', 'server.js'])
    expect(container.args).to.deep.equal(['--say', 'a "quoted" word'])
    expect(container.ports).to.deep.equal([
      {name: 'http', containerPort: 8080, protocol: 'TCP'},
      {name: 'dns', containerPort: 53, protocol: 'UDP'},
    ])
    expect(container.env).to.deep.equal([
      {name: 'A', value: '1'},
      {name: 'B', value: '2'},
      {name: 'C', value: 'true'},
    ])
    expect(container.envFrom).to.deep.equal([{secretRef: {name: 'creds'}}, {configMapRef: {name: 'shared'}}])
    expect(container.readinessProbe).to.deep.equal({httpGet: {path: '/ready', port: 8080}, initialDelaySeconds: 3, periodSeconds: 7, timeoutSeconds: 2, failureThreshold: 4})
    expect(container.resources).to.deep.equal({requests: {cpu: '100m', memory: '64Mi'}, limits: {memory: '128Mi'}})
    expect(container.volumeMounts).to.deep.equal([{name: 'config', mountPath: '/etc/skycap/config', readOnly: true}])
    expect(full.spec.template.spec.volumes[0].configMap.name).to.match(/^full-config-[0-9a-f]+$/)
    expect(get('Service', 'full').spec.ports).to.deep.equal([
      {name: 'http', port: 80, targetPort: 8080, protocol: 'TCP'},
      {name: 'dns', port: 53, targetPort: 53, protocol: 'UDP'},
    ])

    const bare = get('Deployment', 'bare')
    expect(Object.keys(bare.spec.template.spec.containers[0])).to.deep.equal(['name', 'image'])
    expect(bare.spec.template.spec.containers[0].image).to.equal('busybox:1.36')
    expect(Object.keys(bare.spec.template.spec)).to.deep.equal(['containers'])
    expect(get('Service', 'bare'), 'no Service without ports').to.equal(undefined)
  })
})

describe('the pod template fields', () => {
  let repo: TempRepo
  before(async () => {
    repo = await TempRepo.withFiles({
      'skycap.yaml': [
        'app: pods',
        'services:',
        '  web:',
        '    image: "web:1"',
        '    port: 8080',
        '    healthcheck: {path: /ready}',
        '    liveness: {path: /live, port: 9090, initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3}',
        '    startup: {command: [/bin/started], periodSeconds: 2, failureThreshold: 60}',
        '    lifecycle: {preStop: {sleep: 5}}',
        '    terminationGracePeriodSeconds: 45',
        '    minReadySeconds: 10',
        '    nodeSelector: {kubernetes.io/os: linux}',
        '    tolerations: [{key: dedicated, operator: Equal, value: web, effect: NoSchedule}]',
        '    affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1, podAffinityTerm: {topologyKey: kubernetes.io/hostname}}]}}',
        '    serviceAccountName: web-runner',
        '    securityContext: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000, seccompProfile: {type: RuntimeDefault}}',
        '    containerSecurityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}',
        '    podTemplate:',
        '      metadata: {annotations: {prometheus.io/scrape: "true"}}',
        '      spec:',
        '        containers:',
        '          - name: web',
        '            volumeMounts: [{name: tmp, mountPath: /tmp}]',
        '          - name: proxy',
        '            image: "envoy:1"',
        '        volumes: [{name: tmp, emptyDir: {}}]',
        '  hook:',
        '    image: "hook:1"',
        '    lifecycle: {preStop: {command: [/bin/drain]}}',
        '    terminationGracePeriodSeconds: 0',
        '    minReadySeconds: 0',
        '  http:',
        '    image: "http:1"',
        '    ports: [{name: admin, port: 80, targetPort: 8081}]',
        '    lifecycle: {preStop: {path: /drain}}',
        'environments:',
        '  e: {namespace: ns}',
        '  prod:',
        '    namespace: prod',
        '    services:',
        '      web:',
        '        liveness: {periodSeconds: 20}',
        '        minReadySeconds: 30',
        '        nodeSelector: {disk: ssd}',
        '        tolerations: []',
        '        podTemplate: {metadata: {annotations: {prometheus.io/scrape: null}}, spec: {containers: [{name: proxy, $patch: delete}]}}',
        '',
      ].join('\n'),
    })
  })
  after(() => repo.remove())

  const deployment = async (env: string, name: string) =>
    (await render(repo, env)).objects.find((o) => o.object.kind === 'Deployment' && o.object.metadata.name === name)?.object as Record<string, any>

  it('renders every field into the Deployment, the podTemplate patch last', async () => {
    const sha = await repo.git('rev-parse', 'HEAD')
    const labels = {
      'app.kubernetes.io/name': 'web',
      'app.kubernetes.io/instance': 'pods-e',
      'app.kubernetes.io/part-of': 'pods',
      'app.kubernetes.io/managed-by': 'skycap',
      'skycap.dev/environment': 'e',
    }
    expect(await deployment('e', 'web')).to.deep.equal({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {name: 'web', namespace: 'ns', labels, annotations: {'skycap.dev/revision': sha}},
      spec: {
        replicas: 1,
        revisionHistoryLimit: 10,
        minReadySeconds: 10,
        selector: {matchLabels: {'app.kubernetes.io/name': 'web', 'app.kubernetes.io/instance': 'pods-e'}},
        template: {
          metadata: {labels, annotations: {'prometheus.io/scrape': 'true'}},
          spec: {
            containers: [
              {
                name: 'web',
                image: 'web:1',
                ports: [{name: 'http', containerPort: 8080, protocol: 'TCP'}],
                readinessProbe: {httpGet: {path: '/ready', port: 8080}, periodSeconds: 5},
                livenessProbe: {httpGet: {path: '/live', port: 9090}, initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3},
                startupProbe: {exec: {command: ['/bin/started']}, periodSeconds: 2, failureThreshold: 60},
                lifecycle: {preStop: {sleep: {seconds: 5}}},
                securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: ['ALL']}},
                volumeMounts: [{name: 'tmp', mountPath: '/tmp'}],
              },
              {name: 'proxy', image: 'envoy:1'},
            ],
            terminationGracePeriodSeconds: 45,
            serviceAccountName: 'web-runner',
            securityContext: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000, seccompProfile: {type: 'RuntimeDefault'}},
            nodeSelector: {'kubernetes.io/os': 'linux'},
            affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1, podAffinityTerm: {topologyKey: 'kubernetes.io/hostname'}}]}},
            tolerations: [{key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule'}],
            volumes: [{name: 'tmp', emptyDir: {}}],
          },
        },
      },
    })
  })

  it('renders the command and HTTP pre-stop hooks, and a grace period of 0', async () => {
    const hook = await deployment('e', 'hook')
    expect(hook.spec.template.spec.containers[0].lifecycle).to.deep.equal({preStop: {exec: {command: ['/bin/drain']}}})
    expect(hook.spec.template.spec.terminationGracePeriodSeconds).to.equal(0)
    expect(hook.spec.minReadySeconds, 'minReadySeconds: 0 is written as given').to.equal(0)
    const http = await deployment('e', 'http')
    expect(http.spec, 'no minReadySeconds: none in the Deployment').not.to.have.property('minReadySeconds')
    expect(http.spec.template.spec.containers[0].lifecycle, 'the port defaults to the first container port').to.deep.equal({preStop: {httpGet: {path: '/drain', port: 8081}}})
  })

  it("renders an environment's overrides: merged probe, merged nodeSelector, emptied tolerations, its own patch", async () => {
    expect((await deployment('prod', 'web')).spec.minReadySeconds).to.equal(30)
    const spec = (await deployment('prod', 'web')).spec.template
    expect(spec.spec.containers[0].livenessProbe).to.deep.equal({httpGet: {path: '/live', port: 9090}, initialDelaySeconds: 0, periodSeconds: 20, timeoutSeconds: 2, failureThreshold: 3})
    expect(spec.spec.nodeSelector).to.deep.equal({'kubernetes.io/os': 'linux', disk: 'ssd'})
    expect(spec.spec).to.not.have.property('tolerations')
    // prod's podTemplate.spec.containers list replaces the service's (lists replace in overrides): no proxy to add, one to delete.
    expect(spec.spec.containers.map((c: {name: string}) => c.name)).to.deep.equal(['web'])
    expect(spec.spec.volumes, "the service patch's volumes mapping key is not overridden, so it stays").to.deep.equal([{name: 'tmp', emptyDir: {}}])
    // null in the override replaces the service's annotation in the merged patch, and then deletes it.
    expect(spec.metadata.annotations).to.deep.equal({})
  })
})

describe('rolling strategy settings', () => {
  it("are in render's Deployment (so diff compares what deploy applies); a service without them gets Kubernetes' defaults", async () => {
    const repo = await TempRepo.fromFixture('shop')
    try {
      const text = readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')
      repo.write('skycap.yaml', text.replace('    replicas: 2\n    port: 8080', '    replicas: 2\n    strategy: {type: rolling, maxSurge: 0, maxUnavailable: 1}\n    port: 8080'))
      const {objects} = await render(repo, 'staging')
      const deployment = (name: string) => objects.find((o) => o.object.kind === 'Deployment' && o.object.metadata.name === name)?.object.spec as Record<string, unknown>
      expect(deployment('web').strategy).to.deep.equal({type: 'RollingUpdate', rollingUpdate: {maxSurge: 0, maxUnavailable: 1}})
      expect(deployment('worker')).not.to.have.property('strategy')
    } finally {
      repo.remove()
    }
  })
})

describe('template errors', () => {
  let repo: TempRepo
  beforeEach(async () => {
    repo = await TempRepo.fromFixture('shop')
  })
  afterEach(() => repo.remove())

  it('names the file and the undefined variable', async () => {
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  host: {{ values.hots }}\n')
    const e = await renderError(repo, 'staging')
    expect(e.message).to.contain('deploy/extra.yaml:6:')
    expect(e.message).to.contain('undefined variable "values.hots"')
  })

  it('a mapping written as it is ({{ services.web }}) is an error at its file:line, not "[object Object]" in the manifest; lists, | json and keys render', async () => {
    for (const output of ['{{ services.web }}', '{{ values }}', '{{ env }}']) {
      repo.write('deploy/extra.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  x: "a {{ 1 }}"\n  y: '${output}'\n`)
      const e = await renderError(repo, 'staging')
      expect(e.message, output).to.contain('deploy/extra.yaml:7:')
      expect(e.message).to.contain('template error: this outputs a mapping, which would be written as "[object Object]"')
      expect(e.hint).to.contain('| json')
    }
    // A list of mappings too (a service's ports): "[object Object]" once per item, as silently.
    repo.write('deploy/extra.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  y: '{{ services.cache.ports }}'\n`)
    const list = await renderError(repo, 'staging')
    expect(list.message).to.contain('deploy/extra.yaml:6:').and.contain('template error: this outputs a list of mappings, each of which would be written as "[object Object]"')
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  x: \'{{ env | json }}\'\n  y: \'{{ env.name }} {{ "a,b" | split: "," }}\'\n')
    const data = (await render(repo, 'staging')).objects.find((o) => o.object.metadata?.name === 'extra')?.object.data as Record<string, string>
    expect(JSON.parse(data.x as string)).to.include({name: 'staging'})
    expect(data.y).to.equal('staging ab')
  })

  it('a value that is not set ({{ services.worker.port }} of a service without one) is an error at its file:line, not an empty field; | default writes its stand-in', async () => {
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  web: "{{ services.web.port }}"\n  worker: "{{ services.worker.port }}"\n')
    const e = await renderError(repo, 'staging')
    expect(e.message).to.contain('deploy/extra.yaml:7:').and.contain('template error: this outputs a value that is not set (null), which would be written as nothing')
    expect(e.hint).to.contain('| default: 80').and.contain('{% if %}')
    repo.write(
      'deploy/extra.yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  web: "{{ services.web.port }}"\n  worker: "{{ services.worker.port | default: 80 }}{% if services.worker.port %}set{% endif %}"\n',
    )
    const data = (await render(repo, 'staging')).objects.find((o) => o.object.metadata?.name === 'extra')?.object.data
    expect(data).to.deep.equal({web: '8080', worker: '80'})
  })

  it('a division by 0 (divided_by, modulo) is an error at its file:line, not Infinity or NaN in the manifest', async () => {
    for (const [filter, result] of [
      ['divided_by', 'Infinity'],
      ['modulo', 'NaN'],
    ]) {
      repo.write('deploy/extra.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  per: "{{ 12 | ${filter}: 0 }}"\n`)
      const e = await renderError(repo, 'staging')
      expect(e.message).to.contain('deploy/extra.yaml:6:')
      expect(e.message).to.contain(`12 | ${filter}: 0 gives ${result} (a division by 0), which no manifest field takes`)
      expect(e.hint).to.contain('{% if %}')
    }
    // What divides still renders as LiquidJS renders it.
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  per: "{{ 12 | divided_by: 5 }} {{ 12 | modulo: 5 }} {{ 12 | divided_by: 5, true }}"\n')
    const data = (await render(repo, 'staging')).objects.find((o) => o.object.metadata?.name === 'extra')?.object.data
    expect(data).to.deep.equal({per: '2.4 2 2'})
  })

  it('lists in the hint of an undefined variable the variables templates really get, as docs/configuration.md does', async () => {
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  host: {{ values.nope }}\n')
    const hint = (await renderError(repo, 'staging')).hint ?? ''
    expect(hint).to.contain('(docs/configuration.md, "What skycap renders")').and.not.contain('README')
    const listed = expandVariables(/can use (.*?) \(docs/.exec(hint)?.[1] ?? '')
    expect(listed).to.include.members(['revision.subject', 'services.<name>.port', 'services.<name>.ports', 'services.<name>.replicas', 'env.protected'])
    // Each one listed renders; and for each object, its keys as the template sees them (a Liquid for over it) are
    // the ones listed: nothing templates get is missing from the hint.
    const usable = listed.map((v) => `  ${v.replaceAll(/[.<>*]/g, '_')}: {{ ${v.replace('<name>', 'web').replace('*', 'host')} | json }}`)
    const keysOf = (object: string) => `  keys_${object.replaceAll('.', '_')}: "{% for pair in ${object} %}{{ pair[0] }} {% endfor %}"`
    repo.write('deploy/extra.yaml', ['apiVersion: v1', 'kind: ConfigMap', 'metadata:', '  name: extra', 'data:', ...usable, ...['env', 'revision', 'services.web'].map(keysOf)].join('\n') + '\n')
    const data = (await render(repo, 'staging')).objects.find((o) => o.object.metadata?.name === 'extra')?.object.data as Record<string, string>
    const keys = (prefix: string) => listed.filter((v) => v.startsWith(prefix)).map((v) => v.slice(prefix.length))
    expect(data.keys_env?.trim().split(' ')).to.deep.equal(keys('env.'))
    expect(data.keys_revision?.trim().split(' ')).to.deep.equal(keys('revision.'))
    expect(data.keys_services_web?.trim().split(' ')).to.deep.equal(keys('services.<name>.'))
    expect(listed.filter((v) => !v.includes('.'))).to.deep.equal(['app'])
    // docs/configuration.md lists the same.
    const docs = readFileSync(join(repoRoot, 'docs', 'configuration.md'), 'utf8').replaceAll('\n', ' ')
    const documented = /Variables: (.*?)\.\s/.exec(docs)?.[1] ?? ''
    expect(expandVariables(documented.replaceAll('`', ''))).to.deep.equal(listed)
  })

  it('names in the hint of a missing value the environment rendered and the key to add (not environments.<env>)', async () => {
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  host: {{ values.dbhost }}\n')
    const hint = (await renderError(repo, 'staging')).hint ?? ''
    expect(hint).to.match(/; staging has no value dbhost: add it under environments\.staging\.values in skycap\.yaml\.$/)
    // The derived `local` has no environments.local to add it to: it takes defaultEnvironment's values.
    expect((await renderError(repo, 'local')).hint).to.match(
      /; local has no value dbhost: it is derived \(docs\/local\.md\) and takes the values of staging \(defaultEnvironment\); add it under environments\.staging\.values, or declare environments\.local with its values in skycap\.yaml\.$/,
    )
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  port: "{{ services.api.port }}"\n')
    expect((await renderError(repo, 'staging')).hint).to.match(/"What skycap renders"\)\.$/)
  })

  it('lists what a build arg or imageTag template gets, without pointing to repository templates', async () => {
    await loadTemplateEngine()
    try {
      renderTemplate('{{ revision.nope }}', 'skycap.yaml (services.web.build.args.V)', {revision: {sha: 'abc', short: 'a'}, image: 'web', tag: 't'})
      expect.fail('expected an error')
    } catch (error) {
      expect((error as ConfigError).hint).to.equal('This template can use revision.sha, .short, image, tag.')
    }
  })

  it('reports an unknown service in a template', async () => {
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  img: {{ services.api.image }}\n')
    expect((await renderError(repo, 'staging')).message).to.contain('undefined variable "services.api"')
  })

  it('reports YAML that a template broke, at its line, once', async () => {
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [a\n')
    expect((await renderError(repo, 'staging')).message).to.match(
      /\/deploy\/extra\.yaml:5:1: rendered template is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a \]$/,
    )
  })

  it("the hints of the objects a render refuses are the error's own hint, each once (the terminal printed none)", async () => {
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: kube-system}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: default}\n')
    let hint: string | undefined
    await render(repo, 'staging').catch((error: unknown) => (hint = (error as ConfigErrors).hint))
    expect(hint).to.equal('Remove metadata.namespace; skycap sets it.')
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: kube-system}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n')
    await render(repo, 'staging').catch((error: unknown) => (hint = (error as ConfigErrors).hint))
    expect(hint).to.equal("Remove metadata.namespace; skycap sets it. Rename the object in the template, or remove it: skycap names each service's Deployment and Service after the service.")
  })

  it("rejects a template object that gives skycap's ownership labels other values (the next deploy took it for another app's); the same values pass", async () => {
    for (const [label, value] of [
      ['app.kubernetes.io/part-of', 'other'],
      ['app.kubernetes.io/managed-by', 'Helm'],
      ['skycap.dev/environment', 'prod'],
    ] as const) {
      repo.write('deploy/extra.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lbl\n  labels: {${label}: ${value}}\n`)
      const e = await renderError(repo, 'staging')
      expect(e.message).to.match(
        new RegExp(`/deploy/extra\\.yaml:5: ConfigMap/lbl sets the label ${label.replace('.', '\\.')}: ${value}; skycap sets it to (shop|skycap|staging) \\(it tells whose an object is`),
      )
      expect(e.hint).to.equal(
        `Remove the label ${label} from the template (or give it the value ${label.endsWith('part-of') ? 'shop' : label.endsWith('managed-by') ? 'skycap' : 'staging'}); skycap adds it to every object it deploys.`,
      )
    }
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lbl\n  labels: {app.kubernetes.io/part-of: shop, skycap.dev/environment: staging, team: x}\n')
    const lbl = (await render(repo, 'staging')).objects.find((o) => o.object.metadata.name === 'lbl')
    expect(lbl?.object.metadata.labels).to.include({'app.kubernetes.io/part-of': 'shop', 'skycap.dev/environment': 'staging', team: 'x'})
  })

  it("reads YAML merge keys as kubectl does, and a List as its items (each checked, namespaced and labelled); refuses skycap's own object names", async () => {
    repo.write(
      'deploy/extra.yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: merged}\ndata:\n  base: &b {a: "1", b: "2"}\n  over:\n    <<: *b\n    b: "3"\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: one}}\n- {apiVersion: v1, kind: Secret, metadata: {name: two}}\n',
    )
    try {
      const objects = (await render(repo, 'staging')).objects
      const merged = objects.find((o) => o.object.metadata.name === 'merged')?.object as KubeObject & {data: Record<string, unknown>}
      expect(merged.data.over).to.deep.equal({a: '1', b: '3'})
      // Each item at its own line of the List (it was the List's, line 10, for both).
      for (const [name, line] of [
        ['one', 13],
        ['two', 14],
      ] as const) {
        const item = objects.find((o) => o.object.metadata.name === name)
        expect(item?.line, name).to.equal(line)
        expect(item?.object.metadata.namespace).to.equal('shop-staging')
        expect(item?.object.metadata.labels).to.include({'app.kubernetes.io/part-of': 'shop'})
      }
      expect(objects.some((o) => o.object.kind === 'List')).to.equal(false)
      repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: default}}\n')
      expect((await renderError(repo, 'staging')).message).to.match(/extra\.yaml:4: ConfigMap\/x sets namespace "default"/)
      for (const name of ['skycap-release-shop.staging-8', 'skycap-lock-shop', 'skycap-rollout-shop']) {
        repo.write('deploy/extra.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}}\n`)
        const e = await renderError(repo, 'staging')
        expect(e.message).to.match(
          new RegExp(`/deploy/extra\\.yaml:1: ConfigMap/${name.replace('.', '\\.')}: names starting with skycap-[a-z]+- are skycap's own \\(release records, the deploy lock, the rollout state\\)$`),
        )
      }
    } finally {
      rmSync(join(repo.dir, 'deploy/extra.yaml'), {force: true})
    }
  })

  it('rejects an object in another namespace', async () => {
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: kube-system\n')
    expect((await renderError(repo, 'staging')).message).to.contain('sets namespace "kube-system"')
  })

  it("rejects a name rendered twice, at the second one's line: by two templates, or one of skycap's own objects", async () => {
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec: {ports: [{port: 1}]}\n')
    let e = await renderError(repo, 'staging')
    expect(e.message).to.match(/\/deploy\/extra\.yaml:1: Service\/web is rendered twice: skycap makes it for service web of skycap\.yaml$/)
    expect(e.hint).to.contain('Rename the object in the template')
    repo.write('deploy/extra.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# the same again\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n')
    e = await renderError(repo, 'staging')
    expect(e.message).to.match(/\/deploy\/extra\.yaml:6: ConfigMap\/a is rendered twice \(also by \/\S+\/deploy\/extra\.yaml:1\)$/)
  })

  it('reads no hidden file or folder of the templates folder; the folder of skycap.yaml is refused as the templates folder, at its line', async () => {
    const before = (await render(repo, 'staging')).objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`)
    repo.write('deploy/.editor-backup.yaml', 'not: [a, manifest\n')
    repo.write('deploy/.github/workflows/ci.yaml', 'on: push\n')
    expect((await render(repo, 'staging')).objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`)).to.deep.equal(before)
    repo.write('skycap.yaml', `templates: .\n${readFileSync(join(repo.dir, 'skycap.yaml'), 'utf8')}`)
    const e = await renderError(repo, 'staging')
    expect(e.message).to.match(
      /skycap\.yaml:1:12: templates: "\." is the folder of skycap\.yaml, whose YAML files .* would all be read as manifests; put the templates in a folder of their own \(default deploy\/\) and name it here$/,
    )
  })

  it('a deploy/local folder holds the templates of the local environment skycap up derives (it need not be declared)', async () => {
    repo.write('deploy/local/x.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: only-local}\n')
    try {
      const names = async (env: string) => (await render(repo, env)).objects.map((o) => o.object.metadata.name)
      expect(await names('staging')).to.not.include('only-local')
      expect(await names('local')).to.include('only-local')
    } finally {
      rmSync(join(repo.dir, 'deploy/local'), {recursive: true, force: true})
    }
  })

  it('rejects a template folder for an unknown environment', async () => {
    repo.write('deploy/prd/x.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n')
    // skycap.yaml's checks see it (config validate too), with the closest environment's name.
    expect((await renderError(repo, 'staging')).message).to.contain('templates: folder "deploy/prd" does not match any environment; did you mean "prod"?')
  })

  it("rejects a manifest in a folder inside an environment's templates folder (it was dropped without a word, and the next deploy pruned its object); partials there are fine", async () => {
    try {
      repo.write('deploy/prod/app/_flags.liquid', 'x: 1\n')
      expect((await render(repo, 'prod')).objects.length).to.be.greaterThan(0)
      repo.write('deploy/prod/app/flags.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: feature-flags}\n')
      // Every environment's render says so (config validate too: it is skycap.yaml's templates check).
      for (const env of ['staging', 'prod'])
        expect((await renderError(repo, env)).message).to.contain(
          'templates: deploy/prod/app/flags.yaml is in a folder inside deploy/prod/, whose templates are only the files directly in it: it is not read, and an object it deployed would be pruned; move it into deploy/prod/ itself, or out of deploy/ if it is no manifest',
        )
    } finally {
      rmSync(join(repo.dir, 'deploy/prod/app'), {recursive: true, force: true})
    }
  })

  it('rejects a document that is not an object, saying at which line and what it lacks', async () => {
    const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n'
    for (const [doc, message, hint] of [
      ['metadata: {name: x}\n', 'a rendered object needs apiVersion, kind and metadata.name: it has no apiVersion, no kind', 'Each document (between --- lines)'],
      ['apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 2024\n', 'a rendered object needs apiVersion, kind and metadata.name: metadata.name is number 2024, not a string', 'Quote the value'],
      ['- a\n- b\n', 'a template document must be a Kubernetes object (a mapping), not a list', 'Each document (between --- lines)'],
      ['hello\n', 'a template document must be a Kubernetes object (a mapping), not string "hello"', 'Each document (between --- lines)'],
      ['apiVersion: v1\nkind: ConfigMap\nmetadata: {name: A_b}\n', 'ConfigMap name "A_b" is not a valid Kubernetes name', 'Rename it'],
    ]) {
      repo.write('deploy/extra.yaml', `${cm}---\n${doc}`)
      const e = await renderError(repo, 'staging')
      expect(e.message, doc)
        .to.match(/\/deploy\/extra\.yaml:5: /)
        .and.contain(message)
      expect(e.hint, doc).to.contain(hint)
    }
  })
})
