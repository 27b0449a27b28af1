import type {CheckConfig} from '../config/types.js'
import {parseDuration} from '../duration.js'
import type {FailureReport} from '../deploy/explain.js'
import {explainFailures} from '../deploy/explain.js'
import {watchRollout} from '../deploy/watch.js'
import {KubectlError} from '../errors.js'
import {configuredExcludes, lineFilter} from '../logs/filter.js'
import type {KubeObject} from '../render/objects.js'
import {checkFailure, type StrategyContext} from './strategy.js'
import {relatedObject, times} from '../resources/status.js'
import {reportContact} from '../kubectl/outage.js'

type Pod = KubeObject & {
  status?: {podIP?: string; containerStatuses?: Array<{name: string; ready?: boolean; restartCount?: number; lastState?: {terminated?: {exitCode?: number; reason?: string}}}>}
}

/** What a check runs against: the new pods (by label selector), and the Services that may be named. */
export interface CheckTarget {
  service: string
  /** Label selector of the new pods (a slot, or the canary track). */
  podSelector: string
  /** The Deployment the new pods come from: the job check runs its pod template. */
  deployment: KubeObject
  /** Service names for `target: preview` and `target: service`. */
  preview?: string
  serviceName?: string
  port?: number
}

/** Runs the always-on pod checks, then each configured check in order; the first failure is returned. */
export async function runChecks(checks: CheckConfig[], target: CheckTarget, context: StrategyContext): Promise<FailureReport | undefined> {
  const pods = await newPods(target, context)
  const failed = await podCheck(pods, target, context)
  if (failed) return failed
  for (const check of checks) {
    const failure = check.http
      ? await httpCheck(check.http, pods, target, context)
      : check.job
        ? await jobCheck(check.job, target, context)
        : check.prometheus
          ? await prometheusCheck(check.prometheus, target, context)
          : undefined
    if (failure) return failure
    context.reporter.info(`  ${target.service}: check ${Object.keys(check)[0]} passed`)
  }
  return undefined
}

async function newPods(target: CheckTarget, context: StrategyContext): Promise<Pod[]> {
  const list = await context.kubectl.json<{items: Pod[]}>(['get', 'pods', '-l', target.podSelector], {signal: context.signal})
  return list.items.filter((p) => !(p.metadata as {deletionTimestamp?: string}).deletionTimestamp)
}

/**
 * Readiness and restarts, always: every new pod ready, none restarted since it started. A pod that fails it is
 * explained like a failed rollout (its events, the last lines of its crashed container): a liveness probe that
 * killed a process which had been ready says so, where "not ready" alone did not.
 */
async function podCheck(pods: Pod[], target: CheckTarget, context: StrategyContext): Promise<FailureReport | undefined> {
  const ref = `check/pods ${target.service}`
  if (pods.length === 0) return checkFailure(ref, 'no pods of the new release: nothing would answer')
  for (const pod of pods) {
    for (const c of pod.status?.containerStatuses ?? []) {
      const restarts = c.restartCount ?? 0
      if (c.ready && restarts === 0) continue
      const last = c.lastState?.terminated
      const ended = last ? ` (last exit code ${last.exitCode ?? '?'}${last.reason ? `, ${last.reason}` : ''})` : ''
      const message =
        restarts > 0
          ? `container ${c.name} of pod ${pod.metadata.name} restarted ${times(restarts)}${ended}${c.ready ? '' : ' and is not ready'}`
          : `container ${c.name} of pod ${pod.metadata.name} is not ready`
      const status = {ref, state: 'failed' as const, message, related: [relatedObject({...pod, kind: 'Pod'})], failing: [{pod: pod.metadata.name, container: c.name, previous: restarts > 0}]}
      const filter = () => lineFilter({configured: configuredExcludes(context.config, [target.service]), exclude: [], grep: []})
      const [explained] = await explainFailures(context.kubectl, [status], filter)
      return explained ?? checkFailure(ref, message)
    }
  }
  return undefined
}

/** GET through the API server's proxy: to every new pod, or to the preview Service or the Service. */
async function httpCheck(check: NonNullable<CheckConfig['http']>, pods: Pod[], target: CheckTarget, context: StrategyContext): Promise<FailureReport | undefined> {
  const port = check.port ?? target.port ?? 80
  const ns = context.namespace
  const path = check.path.replace(/^\//, '')
  const via = check.target ?? 'pods'
  const service = via === 'preview' ? target.preview : target.serviceName
  if (via !== 'pods' && !service)
    return checkFailure(`check/http ${target.service}`, `target ${via} names no Service (${via === 'preview' ? 'set strategy.preview: true' : 'the service has no port'})`)
  const urls =
    via === 'pods'
      ? pods.map((p) => ({name: `pod ${p.metadata.name}`, url: `/api/v1/namespaces/${ns}/pods/${p.metadata.name}:${port}/proxy/${path}`}))
      : [{name: `service ${service}`, url: `/api/v1/namespaces/${ns}/services/${service}:${port}/proxy/${path}`}]
  const want = check.expect?.status ?? 200
  for (const {name, url} of urls) {
    const answer = await proxyGet(url, context)
    const bodyOk = check.expect?.body === undefined || new RegExp(check.expect.body).test(answer.body)
    if (answer.status !== want || !bodyOk) {
      return checkFailure(
        `check/http ${target.service}`,
        `GET ${check.path} on ${name} answered ${answer.status}${answer.status !== want ? ` (expected ${want})` : ''}${bodyOk ? '' : `, body not matching /${check.expect?.body}/`}: ${answer.body.trim().slice(0, 200)}`,
      )
    }
  }
  return undefined
}

async function proxyGet(url: string, context: StrategyContext): Promise<{status: number; body: string}> {
  try {
    const r = await context.kubectl.run(['get', '--raw', url], {namespaced: false, signal: context.signal})
    return {status: 200, body: r.stdout}
  } catch (error) {
    if (!(error instanceof KubectlError)) throw error
    // kubectl --raw prints the proxied answer's status as the error: "Error from server (ServiceUnavailable): ..."
    const text = error.message
    const code = /\b([1-5]\d\d)\b/.exec(text)?.[1]
    const named: Record<string, number> = {NotFound: 404, ServiceUnavailable: 503, InternalError: 500, BadRequest: 400, Forbidden: 403, Unauthorized: 401}
    const reason = /Error from server \((\w+)\)/.exec(text)?.[1]
    return {status: reason && named[reason] ? named[reason] : code ? Number(code) : 0, body: text}
  }
}

/** A Job from the service's pod template that runs `command` once; passes when it completes. */
async function jobCheck(check: NonNullable<CheckConfig['job']>, target: CheckTarget, context: StrategyContext): Promise<FailureReport | undefined> {
  type Template = {metadata?: {labels?: Record<string, string>}; spec: {containers: Array<Record<string, unknown>>; restartPolicy?: string}}
  const template = structuredClone((target.deployment.spec as {template: Template}).template)
  const [first] = template.spec.containers
  if (!first) return checkFailure(`check/job ${target.service}`, 'the pod template has no container')
  // The smoke test runs the release's image and configuration, without the probes of a long-running server.
  for (const key of ['readinessProbe', 'livenessProbe', 'startupProbe', 'ports', 'args']) delete first[key]
  first.command = check.command
  // Sidecars of the template stay out: the Job completes when its one container exits.
  template.spec.containers = [first]
  template.spec.restartPolicy = 'Never'
  const name = `${target.service}-check-${Date.now().toString(36)}`
  const labels = {...target.deployment.metadata.labels, 'skycap.dev/check': name}
  // The pods keep the app's labels (the watch finds them) but not the Service's selector: they take no traffic.
  template.metadata = {labels: {...labels, 'app.kubernetes.io/name': `${target.service}-check`}}
  const job: KubeObject = {apiVersion: 'batch/v1', kind: 'Job', metadata: {name, labels}, spec: {backoffLimit: 0, ttlSecondsAfterFinished: 600, template}}
  const timeoutMs = check.timeout ? await parseDuration(check.timeout, 'job.timeout') : 5 * 60_000
  context.reporter.info(`  ${target.service}: running check job ${name} (${check.command.join(' ')})`)
  await context.kubectl.run(['create', '-f', '-'], {input: JSON.stringify(job), signal: context.signal}).catch((error: unknown) => {
    // The name is this run's own: a Job of that name is the one a create cut off by an outage made (then made again).
    if (!(error instanceof KubectlError && error.kind === 'already_exists')) throw error
  })
  try {
    const result = await watchRollout({
      kubectl: context.kubectl,
      objects: [job],
      selector: `skycap.dev/check=${name}`,
      deadline: Math.min(context.deadline, context.clock() + timeoutMs),
      clock: context.clock,
      signal: context.signal,
      intervalMs: context.intervalMs,
      onContact: (event) => reportContact(context.reporter, event),
    })
    if (result.outcome === 'ready') return undefined
    const blamed = result.statuses.filter((s) => s.state !== 'ready')
    const [explained] = await explainFailures(context.kubectl, blamed, () => lineFilter({configured: [], exclude: [], grep: []}))
    const message = result.outcome === 'timeout' ? `did not complete in time: ${blamed[0]?.message ?? ''}` : (blamed[0]?.message ?? result.outcome)
    return {...(explained ?? checkFailure('', '')), ref: `check/job ${target.service}`, message: `job ${name} ${message}`}
  } finally {
    await context.kubectl.run(['delete', 'job', name, '--ignore-not-found', '--wait=false', '--cascade=background'], {allowFailure: true})
  }
}

/** A PromQL instant query against `address`; its first sample must be within the threshold. */
async function prometheusCheck(check: NonNullable<CheckConfig['prometheus']>, target: CheckTarget, context: StrategyContext): Promise<FailureReport | undefined> {
  const ref = `check/prometheus ${target.service}`
  const url = `${check.address.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(check.query)}`
  let doc: {status?: string; error?: string; data?: {resultType?: string; result?: Array<{value?: [number, string]}> | [number, string]}}
  try {
    const response = await (context.fetch ?? fetch)(url, {signal: context.signal ?? null})
    doc = (await response.json()) as typeof doc
    if (!response.ok || doc.status !== 'success') return checkFailure(ref, `query failed (${response.status}): ${doc.error ?? doc.status ?? ''}`)
  } catch (error) {
    return checkFailure(ref, `cannot query ${check.address}: ${(error as Error).message}`)
  }
  const result = doc.data?.result
  // A vector has samples with value [time, "number"]; a scalar is [time, "number"] itself.
  const raw = doc.data?.resultType === 'scalar' ? (result as [number, string] | undefined)?.[1] : (result as Array<{value?: [number, string]}> | undefined)?.[0]?.value?.[1]
  if (raw === undefined) return (check.noData ?? 'fail') === 'pass' ? undefined : checkFailure(ref, `the query returned no data: ${check.query}`)
  const value = Number(raw)
  const {max, min} = check.threshold ?? {}
  if (Number.isNaN(value) || (max !== undefined && value > max) || (min !== undefined && value < min)) {
    return checkFailure(ref, `${check.query} = ${raw}, outside ${min !== undefined ? `min ${min}` : ''}${min !== undefined && max !== undefined ? ', ' : ''}${max !== undefined ? `max ${max}` : ''}`)
  }
  context.reporter.info(`  ${target.service}: ${check.query} = ${raw}`)
  return undefined
}
