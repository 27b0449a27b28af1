import type {ConfigWarning, ServiceConfig} from '../config/types.js'
import type {RenderedObject} from '../render/objects.js'
import {strategyOf} from './strategy.js'

/**
 * A HorizontalPodAutoscaler of the release that scales a blue-green or canary service's Deployment, which the
 * strategy moves under it:
 * - blue-green: no Deployment is named after the service (its pods run in `<service>-blue` and `<service>-green`), so
 *   an HPA of `web` scales nothing (Kubernetes says FailedGetScale); one of `web-blue` scales that slot whether it
 *   serves or idles, after every switch the other way round;
 * - canary: the HPA sets the stable Deployment's count, which the canary's steps set too: without trafficRouting the
 *   split follows the pod counts, so the traffic the canary takes is no longer the step's weight.
 * Said at the HPA's template line by every command that renders (render, diff, deploy): nothing refuses it.
 */
export function autoscalerWarnings(objects: RenderedObject[], services: Record<string, ServiceConfig>): ConfigWarning[] {
  const warnings: ConfigWarning[] = []
  for (const r of objects) {
    if (r.object.kind !== 'HorizontalPodAutoscaler') continue
    const ref = (r.object.spec as {scaleTargetRef?: {kind?: string; name?: string}} | undefined)?.scaleTargetRef
    if (ref?.kind !== 'Deployment' || typeof ref.name !== 'string') continue
    const hpa = `HorizontalPodAutoscaler/${r.object.metadata.name}`
    const message = problem(hpa, ref.name, services)
    if (message) warnings.push({message, file: r.source, line: r.line})
  }
  return warnings
}

function problem(hpa: string, target: string, services: Record<string, ServiceConfig>): string | undefined {
  for (const [service, svc] of Object.entries(services)) {
    const type = strategyOf(svc).type
    if (type === 'blueGreen' && target === service) {
      return `${hpa} scales Deployment ${target}, which blue-green service ${service} does not have (its pods run in ${service}-blue and ${service}-green): it scales nothing. skycap does not move an autoscaler between slots; scale ${service} with \`skycap scale\`, or make it a rolling service to autoscale it`
    }
    if (type === 'blueGreen' && (target === `${service}-blue` || target === `${service}-green`)) {
      return `${hpa} scales ${target}, one slot of blue-green service ${service}: after a switch it scales the idle slot and not the one that serves. skycap does not move an autoscaler between slots; scale ${service} with \`skycap scale\`, or make it a rolling service to autoscale it`
    }
    if (type === 'canary' && !svc.strategy?.trafficRouting && (target === service || target === `${service}-canary`)) {
      return `${hpa} scales ${target} of canary service ${service}, whose steps set the pod counts too: while a canary runs, the share of traffic it takes follows the counts the autoscaler sets, not the steps' setWeight (trafficRouting sets the weights apart from the counts)`
    }
  }
  return undefined
}
