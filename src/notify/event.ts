/** The events of a deploy or rollback that skycap notifies, and the JSON body webhooks receive (docs/notify.md). */

export type NotifyEventName = 'started' | 'succeeded' | 'failed' | 'rolled-back'

export interface EventRevision {
  sha: string
  short: string
  subject: string
}

/** One event, as the webhook body carries it (field for field; docs/notify.md documents each). */
export interface DeployEvent {
  event: NotifyEventName
  /** What the release is, as history lists it: a deploy, or a rollback (automatic after a failed deploy, or manual). */
  action: 'deploy' | 'rollback'
  trigger?: 'automatic' | 'manual'
  app: string
  environment: string
  /** The release number of this deploy or rollback in the environment's history. */
  release: number
  revision: EventRevision
  /** What ran before this release (null on a first deploy). */
  fromRevision: EventRevision | null
  user: string
  /** running while started; then the release's result. */
  result: 'running' | 'succeeded' | 'failed' | 'timed-out' | 'interrupted'
  /** The CI job that ran skycap, when known. */
  url: string | null
  /** notify.environmentUrl, when configured. */
  environmentUrl: string | null
  /** For a rollback: the release whose manifests it restored. */
  rolledBackTo?: number
  /** For a failed release: what failed and why, in one line. */
  reason?: string
  /** When skycap sent the event (ISO 8601). */
  timestamp: string
}

/** What a command knows of an event; the notifier adds app, environment, user, URLs and the time. */
export type EventFacts = Omit<DeployEvent, 'app' | 'environment' | 'user' | 'url' | 'environmentUrl' | 'timestamp'>

/** The webhook body: the event and a one-line message for people (the Slack text without its markup). */
export function webhookBody(event: DeployEvent): DeployEvent & {message: string} {
  return {...event, message: describeEvent(event)}
}

/** The event in one line: "itapp release 4 to staging succeeded: 3f2c1ab Fix the cart (alice@ci)". */
export function describeEvent(event: DeployEvent): string {
  const what = `${event.app} release ${event.release} to ${event.environment}`
  const revision = `${event.revision.short} ${event.revision.subject}`.trim()
  const by = `(${event.user})`
  switch (event.event) {
    case 'started':
      return event.action === 'rollback' ? `${what} started: rolling back to release ${event.rolledBackTo} (${revision}) ${by}` : `${what} started: ${revision}${from(event)} ${by}`
    case 'succeeded':
      return `${what} succeeded: ${revision} ${by}`
    case 'rolled-back':
      return `${what}: rolled back to release ${event.rolledBackTo} (${revision})${event.fromRevision ? ` from ${event.fromRevision.short}` : ''} ${by}`
    case 'failed':
      return `${what} ${event.result === 'timed-out' ? 'timed out' : event.result === 'interrupted' ? 'was interrupted' : 'failed'}${event.action === 'rollback' ? ` (a rollback to release ${event.rolledBackTo})` : ''}: ${revision}${event.reason ? `: ${event.reason}` : ''} ${by}`
  }
}

/** " (from 3f2c1ab)"; a deploy of the revision that runs (a redeploy, a changed config) said "(from" itself. */
function from(event: DeployEvent): string {
  if (!event.fromRevision) return ''
  return event.fromRevision.sha === event.revision.sha ? ' (again: the revision that runs)' : ` (from ${event.fromRevision.short})`
}
