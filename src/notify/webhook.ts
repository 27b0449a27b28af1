import type {NotifyConfig} from '../config/types.js'
import {webhookBody} from './event.js'
import type {TargetSetup} from './notifier.js'
import {hasCredentials, isHttpUrl, notSet, urlSecrets} from './request.js'

const VARIABLE = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g

/** `text` with each ${env:NAME} replaced by the variable's value; the names of unset variables otherwise. */
export function expandVariables(text: string, env: NodeJS.ProcessEnv): {value: string; unset: string[]; used: string[]} {
  const unset: string[] = []
  const used: string[] = []
  const value = text.replace(VARIABLE, (_, name: string) => {
    const v = env[name]
    if (v === undefined || v === '') unset.push(name)
    else used.push(v)
    return v ?? ''
  })
  return {value, unset, used}
}

/** notify.webhook: a POST of the documented JSON body (event.ts) per event. */
export function webhookTarget(config: Exclude<NotifyConfig['webhook'], false | undefined>, env: NodeJS.ProcessEnv): TargetSetup {
  const url = expandVariables(config.url, env)
  const headers = Object.entries(config.headers ?? {}).map(([name, value]) => [name, expandVariables(value, env)] as const)
  const unset = [...url.unset, ...headers.flatMap(([, h]) => h.unset)]
  if (unset.length) return notSet('webhook', [...new Set(unset)], 'the webhook is not called', env)
  // skycap config validate checks a URL written in the file; one made of variables is checked here, once.
  const names = expandVariables(config.url, {}).unset.join(', ')
  if (!isHttpUrl(url.value)) {
    return {warning: `notify.webhook: the URL made of ${names} is not an http:// or https:// URL (its value is not shown: it may be a secret); the webhook is not called`}
  }
  // skycap config validate refuses them written in the file (src/config/schema.ts); these came from a variable.
  if (hasCredentials(url.value)) {
    return {
      warning: `notify.webhook: the URL made of ${names} has credentials (user:password@ before the host), which a request cannot carry; the webhook is not called. Send them in a header from an environment variable instead: headers: {Authorization: "Basic \${env:DEPLOY_HOOK_AUTH}"}`,
    }
  }
  return {
    target: {
      name: 'webhook',
      // The URL may carry a token in its path or query, and header values are credentials.
      secrets: [...urlSecrets(url.value), ...url.used, ...headers.flatMap(([, h]) => [h.value, ...h.used])],
      async send(event, send) {
        await send({method: 'POST', url: url.value, headers: Object.fromEntries(headers.map(([n, h]) => [n, h.value])), body: webhookBody(event)})
      },
    },
  }
}
