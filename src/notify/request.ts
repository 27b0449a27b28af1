/**
 * The one HTTP call of notifications: Node's fetch with a time limit. No HTTP library: each target sends a JSON
 * request or two, fetch and AbortSignal.timeout cover that, and every dependency costs start-up time.
 */
import {redact} from '../redact.js'
import {USER_AGENT} from '../identity.js'
import {fetchFailure} from '../fetch-failure.js'

/** A notification request that failed; its message names the host, never the URL's path (a secret for Slack) or a token. */
export class NotifyRequestError extends Error {}

export interface NotifyRequest {
  method: 'POST' | 'PUT' | 'PATCH'
  url: string
  headers?: Record<string, string>
  /** Headers that are no secret (GitHub's Accept and API version): sent like `headers`, never redacted from an answer. */
  publicHeaders?: Record<string, string>
  body: unknown
}

/** Sends requests for one target: its time limit, the notifier's abort signal, the secrets kept out of messages. */
export type Send = (request: NotifyRequest) => Promise<unknown>

export interface SendOptions {
  fetch: typeof fetch
  timeoutMs: number
  /** Aborted when the notifier stops waiting (its own deadline). */
  signal: AbortSignal
  /**
   * Values that must never appear in a message (tokens, the webhook URL and its parts: urlSecrets). The request's own
   * header values are added by the sender.
   */
  secrets: string[]
  /** The signal of each request's own time limit (tests count and end these waits); AbortSignal.timeout otherwise. */
  timeout?: (ms: number) => AbortSignal
}

/** A Send bound to `options`. */
/** What an HTTP header value may hold (RFC 9110 field-value: visible characters, spaces and tabs, no line break). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

export function sender(options: SendOptions): Send {
  return async (request) => {
    let host: string
    try {
      host = new URL(request.url).host
    } catch {
      throw new NotifyRequestError('the URL is not valid')
    }
    // fetch refuses such a URL ("Request cannot be constructed from a URL that includes credentials"); the targets
    // leave one out up front, this says it in words should one get here.
    if (hasCredentials(request.url)) throw new NotifyRequestError(`${host}: the URL has credentials (user:password@ before the host), which a request cannot carry`)
    // Leading and trailing line breaks and spaces go, as fetch drops them (a GITHUB_TOKEN read from a file with its
    // newline passed requireChecks, whose fetch trimmed it, and failed every GitHub deployment event here).
    const headers = request.headers && Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '')]))
    const secrets = [...options.secrets, ...headerSecrets(headers)]
    // fetch's own words for it ("Headers.append: … is an invalid header value") came out as "cannot reach it".
    const unsendable = Object.entries(headers ?? {}).find(([, value]) => !HEADER_VALUE.test(value))?.[0]
    if (unsendable) throw new NotifyRequestError(`${host}: header ${unsendable} has a line break or another character HTTP cannot send (check the variables its value is made of)`)
    // The events queued behind an unanswered one were said to have had no answer within the time limit, though they
    // were never sent, or had a moment of it: the notifier had stopped waiting, a timeout after the command's end.
    if (options.signal.aborted) throw new NotifyRequestError(`${host}: not sent (${stoppedWhy(options)})`)
    const own = (options.timeout ?? AbortSignal.timeout)(options.timeoutMs)
    let response: Response
    try {
      response = await options.fetch(request.url, {
        method: request.method,
        headers: withDefaultHeaders({...request.publicHeaders, ...headers}),
        body: JSON.stringify(request.body),
        signal: AbortSignal.any([own, options.signal]),
        redirect: 'manual',
      })
    } catch (error) {
      const cut = options.signal.aborted && !own.aborted
      throw new NotifyRequestError(`${host}: ${cut ? `no answer yet (${stoppedWhy(options)})` : redact(failureOf(error, options.timeoutMs), secrets)}`)
    }
    const text = await response.text().catch(() => '')
    if (!response.ok) {
      // Redacted before it is shortened: a secret cut in two at the end would no longer match.
      const said = redact(redact(text, secrets).replace(/\s+/g, ' ').trim(), secrets).slice(0, 200)
      throw new NotifyRequestError(`${host} answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${said ? `: ${said}` : ''}`)
    }
    try {
      return text ? (JSON.parse(text) as unknown) : undefined
    } catch {
      return text
    }
  }
}

/**
 * Why a request was cut short or not sent: the notifier's wait at the command's end was over, or a signal ended it
 * (the notifier aborts with those words as the reason).
 */
function stoppedWhy(options: SendOptions): string {
  const reason: unknown = options.signal.reason
  return typeof reason === 'string' ? reason : `skycap stopped waiting for notifications ${options.timeoutMs / 1000}s after the end`
}

/** Whether `text` is an http:// or https:// URL, the only ones a notification is sent to. */
export function isHttpUrl(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol)
  } catch {
    return false
  }
}

/** Whether a URL has a user or password before its host (fetch refuses to send it). */
export function hasCredentials(text: string): boolean {
  try {
    const url = new URL(text)
    return url.username !== '' || url.password !== ''
  } catch {
    return false
  }
}

/** Content-Type and User-Agent, unless the request sets them (in any case): one value per header, never "skycap, skycap". */
export function withDefaultHeaders(headers: Record<string, string> = {}): Record<string, string> {
  const given = new Set(Object.keys(headers).map((name) => name.toLowerCase()))
  const defaults = Object.entries({'Content-Type': 'application/json', 'User-Agent': USER_AGENT}).filter(([name]) => !given.has(name.toLowerCase()))
  return {...Object.fromEntries(defaults), ...headers}
}

/**
 * The parts of a URL an answer may echo, each a secret: the URL, its path (and each of its segments, and each tail
 * of it: a Slack webhook's secret is its last segment), its query string and each value in it, the user and
 * password, the fragment; each also percent-decoded and with / written \/ (as some JSON encoders do).
 */
export function urlSecrets(text: string): string[] {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return [text]
  }
  const out = [text, url.href]
  const path = url.pathname
  if (path !== '/' && path !== '') {
    out.push(path + url.search, path)
    const segments = path.split('/').filter(Boolean)
    for (let i = 0; i < segments.length; i++) out.push(segments.slice(i).join('/'), `/${segments.slice(i).join('/')}`, segments[i] as string)
  }
  if (url.search.length > 1) {
    const query = url.search.slice(1)
    out.push(url.search, query)
    for (const pair of query.split('&')) {
      const at = pair.indexOf('=')
      out.push(pair, ...(at >= 0 ? [pair.slice(at + 1)] : []))
    }
    for (const [name, value] of url.searchParams) out.push(value, `${name}=${value}`)
  }
  if (url.hash.length > 1) out.push(url.hash, url.hash.slice(1))
  if (url.username) out.push(url.username)
  if (url.password) out.push(url.password, `${url.username}:${url.password}`)
  const forms = out.flatMap((s) => [s, decoded(s)])
  return [...new Set([...forms, ...forms.filter((s) => s.includes('/')).map((s) => s.replaceAll('/', '\\/'))])]
}

/** Each header value, and its credentials alone ("Bearer TOKEN": TOKEN; Basic: also the decoded user:password and password). */
export function headerSecrets(headers: Record<string, string> = {}): string[] {
  const out: string[] = []
  for (const value of Object.values(headers)) {
    out.push(value)
    const m = /^(\S+)\s+(\S.*)$/.exec(value.trim())
    if (!m) continue
    const [, scheme, credentials] = m as unknown as [string, string, string]
    out.push(credentials)
    if (scheme.toLowerCase() === 'basic') {
      const pair = Buffer.from(credentials, 'base64').toString('utf8')
      if (pair.includes(':')) out.push(pair, pair.slice(pair.indexOf(':') + 1))
    }
  }
  return out
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '))
  } catch {
    return text
  }
}

/** Why fetch rejected, in words; an abort (the deploy stopped waiting for notifications) counts as the time limit. */
function failureOf(error: unknown, timeoutMs: number): string {
  const {timedOut, why} = fetchFailure(error, timeoutMs)
  if (timedOut || (error as {name?: string}).name === 'AbortError') return `no answer within ${timeoutMs / 1000}s`
  return `cannot reach it (${why})`
}

/** The id of the deployment a POST created (GitHub and GitLab answer with it). */
export function createdId(answer: unknown, service: string, release: number): number {
  const id = (answer as {id?: unknown} | undefined)?.id
  if (typeof id !== 'number') throw new NotifyRequestError(`${service} created no deployment for release ${release} (no id in its answer)`)
  return id
}

/**
 * The warning of a target that cannot be used: "notify.github: GITHUB_TOKEN is not set; …". A variable set to ""
 * (what GitHub Actions passes for a secret that does not exist) is said to be empty: "not set" sent users looking for
 * a missing line in the workflow. Each of `missing` is a variable's name, perhaps followed by words (" (or …)").
 */
export function notSet(target: string, missing: Array<string | false>, consequence: string, env: NodeJS.ProcessEnv = {}): {warning: string} {
  const names = missing.filter((m): m is string => Boolean(m))
  const empty = (name: string) => env[name.split(' ')[0] as string] === ''
  const said = [names.filter((n) => !empty(n)), names.filter(empty)]
    .map((group, i) => (group.length ? `${group.join(' and ')} ${group.length > 1 ? 'are' : 'is'} ${i === 0 ? 'not set' : 'empty'}` : ''))
    .filter(Boolean)
    .join(', ')
  const why = names.some(empty) ? ' (a CI secret that does not exist comes as an empty value)' : ''
  return {warning: `notify.${target}: ${said}${why}; ${consequence}`}
}
