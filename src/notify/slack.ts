import type {NotifyConfig} from '../config/types.js'
import {type DeployEvent, describeEvent} from './event.js'
import type {TargetSetup} from './notifier.js'
import {hasCredentials, isHttpUrl, notSet, urlSecrets} from './request.js'

const ICONS: Record<DeployEvent['event'], string> = {started: ':rocket:', succeeded: ':white_check_mark:', failed: ':x:', 'rolled-back': ':leftwards_arrow_with_hook:'}

/** The Slack message of an event: its line (describeEvent) with an icon and a link to the CI job. */
export function slackBody(event: DeployEvent): {text: string} {
  // Slack reads &, < and > as markup: escaped, a commit subject cannot make a link or a mention.
  const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  const links = [event.url && `<${event.url}|CI job>`, event.environmentUrl && `<${event.environmentUrl}|${escape(event.environment)}>`].filter(Boolean)
  return {text: `${ICONS[event.event]} ${escape(describeEvent(event))}${links.length ? ` · ${links.join(' · ')}` : ''}`}
}

/** notify.slack: a message per event to the incoming webhook whose URL the variable webhookEnv holds. */
export function slackTarget(config: Exclude<NotifyConfig['slack'], false | undefined>, env: NodeJS.ProcessEnv): TargetSetup {
  const url = env[config.webhookEnv]
  if (!url) return notSet('slack', [config.webhookEnv], 'no Slack message is sent', env)
  if (!isHttpUrl(url)) {
    return {
      warning: `notify.slack: ${config.webhookEnv} does not hold an http:// or https:// URL (its value is not shown: it may be a secret); no Slack message is sent. Set it to the incoming webhook's URL, https://hooks.slack.com/services/…`,
    }
  }
  if (hasCredentials(url)) return {warning: `notify.slack: the URL in ${config.webhookEnv} has credentials (user:password@ before the host), which a request cannot carry; no Slack message is sent`}
  return {
    target: {
      name: 'slack',
      // The URL's path is the secret: answers that echo it, or a part of it, show *** instead.
      secrets: urlSecrets(url),
      async send(event, send) {
        await send({method: 'POST', url, body: slackBody(event)})
      },
    },
  }
}
