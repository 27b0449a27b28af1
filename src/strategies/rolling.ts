import type {Strategy} from './strategy.js'

/**
 * Rolling: the Deployment's own rolling update (maxSurge/maxUnavailable from `strategy:`), applied and watched
 * like every other object. Services without a `strategy:` never reach a Strategy at all; this one exists so that
 * every type has one.
 */
export const rolling: Strategy = {
  type: 'rolling',
  place(unit) {
    const objects = [unit.deployment, ...(unit.serviceObject ? [unit.serviceObject] : [])]
    return {unit, first: objects, later: [], recorded: objects, keep: []}
  },
  async complete() {
    return []
  },
}
