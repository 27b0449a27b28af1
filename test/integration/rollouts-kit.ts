// The four-service app and helpers of the rollout tests (rollouts.test.ts, rollouts-canary.test.ts,
// rollouts-bluegreen.test.ts): as one file they took 47 minutes, the least a parallel run could take; three spread it.
import {expect} from 'chai'
import {execa} from 'execa'

import {cliPath, TempRepo} from '../helpers/repo.js'
import {TestApp} from './app.js'
import {kubectl, testCluster, uniqueName, waitFor} from './harness.js'

export const DEPLOY = ['deploy', '--skip-image-check']
export const SERVICES = ['web', 'api', 'worker', 'cache']

/** Every Deployment ready, at the ROUND the given release set, observed by the controller. */
export async function expectRunning(app: TestApp, round: number): Promise<void> {
  await waitFor(`every service at round ${round} and ready`, async () => {
    const list = await app.get<{items: any[]}>(['deployments'])
    return (
      list.items.length === SERVICES.length &&
      list.items.every(
        (d) =>
          d.status.observedGeneration === d.metadata.generation &&
          d.status.readyReplicas === d.spec.replicas &&
          d.status.updatedReplicas === d.spec.replicas &&
          d.status.replicas === d.spec.replicas &&
          d.spec.template.spec.containers[0].env.find((e: any) => e.name === 'ROUND')?.value === String(round),
      )
    )
  })
}

/**
 * A ValidatingAdmissionPolicy (and its binding to `namespace`) that refuses Deployments for which `expression` is
 * false, with `message`; returns its name, for the delete.
 */
export async function denyDeployments(namespace: string, prefix: string, expression: string, message: string): Promise<string> {
  const policy = uniqueName(prefix)
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingAdmissionPolicy',
          metadata: {name: policy},
          spec: {
            failurePolicy: 'Fail',
            matchConstraints: {resourceRules: [{apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments']}]},
            validations: [{expression, message}],
          },
        },
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingAdmissionPolicyBinding',
          metadata: {name: policy},
          spec: {policyName: policy, validationActions: ['Deny'], matchResources: {namespaceSelector: {matchLabels: {'kubernetes.io/metadata.name': namespace}}}},
        },
      ],
    }),
  })
  return policy
}

/**
 * `deploy --dry-run`, then the deploy, which must succeed: of each, its stderr and the replica lines it printed (the
 * dry run's `Dry run: keeping …`/`Dry run: changing …`, the deploy's `Keeping …`/`Changing …`).
 */
export async function replicaNotes(app: TestApp): Promise<Array<{stderr: string; keeping: string; changing: string[]}>> {
  const dry = await app.cli([...DEPLOY, 'test', '--dry-run'])
  expect(dry.exitCode, dry.stderr).to.equal(0)
  const deployed = await app.cli([...DEPLOY, 'test'])
  expect(deployed.exitCode, deployed.stderr).to.equal(0)
  return [dry.stderr, deployed.stderr].map((stderr) => {
    const lines = stderr.split('\n')
    return {stderr, keeping: lines.find((l) => /[Kk]eeping the live replica counts:/.test(l)) ?? '', changing: lines.filter((l) => /[Cc]hanging the running replica counts:/.test(l))}
  })
}

/** The kubectl that lists the app's objects of every prunable kind, once a release is live. */
export const PRUNE_LISTING = / get configmaps,secrets,services,serviceaccounts,deployments\.apps,/

/**
 * Runs skycap with --verbose, which prints each kubectl command line as it starts it, and sends Ctrl-C to its process
 * group 300 ms after the one `kubectlArgs` matches started (through a slow API server, while it runs); fails unless
 * skycap exits 130. Returns its stderr.
 */
export async function ctrlCDuring(app: TestApp, kubectlArgs: RegExp, args: string[], env: Record<string, string>): Promise<string> {
  const child = execa('node', [cliPath, ...args, '--verbose'], {cwd: app.repo.dir, reject: false, detached: true, env})
  let err = ''
  let sent = false
  child.stderr?.on('data', (d) => {
    err += d
    if (!sent && kubectlArgs.test(err)) {
      sent = true
      setTimeout(() => process.kill(-(child.pid as number), 'SIGINT'), 300)
    }
  })
  const r = await child
  expect(sent, err).to.equal(true)
  expect(r.exitCode, err).to.equal(130)
  return err
}

/**
 * The four-service app under `appName`: each test file deploys an app of its own name (docs/testing.md, two files at
 * once), so the first deploy of one file's namespace never names another file's.
 */
export function quadKit(appName: string) {
  /**
   * A four-service app; `round` changes every pod template (all services roll), `crash` makes one (or several)
   * crash-loop, `replicas` changes services' counts (web, api and worker have 2, cache 1).
   */
  function quad(namespace: string, round: number, crash?: string | string[], extra = '', replicas: Record<string, number> = {}): string {
    const crashing = new Set([crash ?? []].flat())
    const svc = (name: string, body: string) =>
      `  ${name}:\n    ${replicas[name] === undefined ? body : body.replace(/replicas: \d+/, `replicas: ${replicas[name]}`)}\n    env: {ROUND: "${round}"}\n    resources: {requests: {cpu: 10m, memory: 16Mi}}\n` +
      (crashing.has(name) ? '    labels: {sim.kwok.test/behavior: crashloop}\n' : '')
    return [
      `app: ${appName}`,
      'registry: example.invalid/quad',
      'defaultEnvironment: test',
      extra,
      'services:',
      svc('web', 'image: web\n    replicas: 2\n    port: 8080').trimEnd(),
      svc('api', 'image: api\n    replicas: 2\n    port: 9090').trimEnd(),
      svc('worker', 'image: worker\n    replicas: 2').trimEnd(),
      svc('cache', 'image: redis:7.2\n    replicas: 1\n    port: 6379').trimEnd(),
      'environments:',
      `  test: {context: ${testCluster().context}, namespace: ${namespace}}`,
      `  guarded: {context: ${testCluster().context}, namespace: ${namespace}-guarded, protected: true}`,
      '',
    ].join('\n')
  }

  /** The quad app's text with web and api blue-green (scaleDownDelay 1s). */
  function blueGreenQuad(namespace: string, round: number, crash?: string): string {
    return ['api', 'web'].reduce(
      (t, name) => t.replace(`  ${name}:\n    image: ${name}`, `  ${name}:\n    strategy: {type: blueGreen, scaleDownDelay: 1s}\n    image: ${name}`),
      quad(namespace, round, crash),
    )
  }

  /** The quad app's text with web and api as canaries of these steps. */
  function canaries(text: string, steps: string): string {
    return ['api', 'web'].reduce((t, name) => t.replace(`  ${name}:\n    image: ${name}`, `  ${name}:\n    strategy: {type: canary, steps: ${steps}}\n    image: ${name}`), text)
  }

  async function quadApp(namespace: string): Promise<TestApp> {
    const repo = new TempRepo('skycap-quad-')
    await repo.git('init', '-q', '-b', 'main')
    repo.write('skycap.yaml', quad(namespace, 0))
    await repo.commit('round 0')
    return new TestApp(repo, namespace)
  }

  return {quad, blueGreenQuad, canaries, quadApp}
}

/**
 * Helpers for a test's own app (`app()` is the one the current test made): the ROUND a Deployment asks for, a deploy
 * stopped by Ctrl-C at a moment its stderr names, and a wait for both canaries at their pause.
 */
export function quadHelpers(app: () => TestApp) {
  /** The ROUND a service's Deployment asks for (the release its template is of). */
  const roundOf = async (service: string) => (await app().get(['deployment', service])).spec.template.spec.containers[0].env.find((e: any) => e.name === 'ROUND')?.value

  /**
   * `deploy test` in the background, stopped by one Ctrl-C (a second forces quit) once its stderr says `when` does,
   * `delayMs` after that.
   */
  async function deployInterruptedWhen(when: (stderr: string) => boolean, delayMs = 0): Promise<{exitCode: number | undefined; err: string}> {
    const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '3m'], {cwd: app().repo.dir, reject: false, env: {NO_COLOR: '1', CI: 'true'}})
    let err = ''
    let sent = false
    child.stderr?.on('data', (d) => {
      err += d
      if (sent || !when(err)) return
      if (delayMs === 0) sent = child.kill('SIGINT')
      else {
        sent = true
        setTimeout(() => child.kill('SIGINT'), delayMs)
      }
    })
    return {exitCode: (await child).exitCode, err}
  }

  /** Waits until the web and api canaries of `release` are both paused (`rollout status`). */
  async function bothPaused(when: string, release: number): Promise<void> {
    await waitFor(`${when}: both canaries of release ${release} paused`, async () => {
      const services = (await app().json(['rollout', 'status', 'test'])).doc.result.services
      return services.web?.phase === 'paused' && services.api?.phase === 'paused' && services.web.release === release && services.api.release === release
    })
  }

  return {roundOf, deployInterruptedWhen, bothPaused}
}
