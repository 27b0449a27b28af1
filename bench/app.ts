/** The generated application the render and deploy benchmarks use: N alike services in one git repository. */
import {TempRepo} from '../test/helpers/repo.js'

export interface BenchAppOptions {
  services: number
  /** The environment's name. */
  environment: string
  namespace: string
  /** kube context of the environment (deploy); none for render. */
  context?: string
}

/** Service names svc-0001 ... in the order skycap.yaml lists them. */
export function serviceNames(count: number): string[] {
  const width = Math.max(4, String(count).length)
  return Array.from({length: count}, (_, i) => `svc-${String(i + 1).padStart(width, '0')}`)
}

/**
 * skycap.yaml with `services` services, each with a port, a config folder holding one small file, requests and
 * limits and an HTTP health check (so each renders a ConfigMap, a Service and a Deployment).
 */
export function benchConfig(options: BenchAppOptions): string {
  const lines = ['app: bench', 'registry: registry.example.invalid/bench', `defaultEnvironment: ${options.environment}`, 'services:']
  for (const name of serviceNames(options.services)) {
    lines.push(
      `  ${name}:`,
      `    image: ${name}`,
      '    replicas: 1',
      '    port: 8080',
      `    config: config/${name}`,
      '    env: {LOG_LEVEL: info}',
      '    resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 64Mi}}',
      '    healthcheck: {path: /healthz}',
    )
  }
  lines.push('environments:', `  ${options.environment}:`)
  if (options.context) lines.push(`    context: ${JSON.stringify(options.context)}`)
  lines.push(`    namespace: ${options.namespace}`, '')
  return lines.join('\n')
}

/** A committed git repository holding the generated app. The caller removes it (repo.remove()). */
export async function benchApp(options: BenchAppOptions): Promise<TempRepo> {
  const repo = new TempRepo(`skycap-bench-app-${options.services}-`)
  try {
    await repo.git('init', '-q', '-b', 'main')
    repo.write('skycap.yaml', benchConfig(options))
    for (const name of serviceNames(options.services)) {
      repo.write(`config/${name}/app.properties`, `service.name=${name}\nlisten.port=8080\nfeature.cache=true\n`)
    }
    await repo.commit('bench app')
    return repo
  } catch (error) {
    repo.remove()
    throw error
  }
}
