import {type HelperRunner, registryCredentials} from './credentials.js'
import {fetchFailure} from '../fetch-failure.js'

/** An image reference split the way the Registry HTTP API v2 needs it. */
export interface ImageParts {
  /** Host[:port] of the registry API. */
  host: string
  repository: string
  /** Tag or digest. */
  reference: string
}

/** Splits `registry.example.com/shop/web:tag`, `redis:7.2`, `x@sha256:...` (Docker Hub defaults applied). */
export function parseImage(image: string): ImageParts {
  let rest = image
  let reference = 'latest'
  const at = rest.indexOf('@')
  if (at !== -1) {
    reference = rest.slice(at + 1)
    rest = rest.slice(0, at)
  } else {
    const colon = rest.lastIndexOf(':')
    if (colon > rest.lastIndexOf('/')) {
      reference = rest.slice(colon + 1)
      rest = rest.slice(0, colon)
    }
  }
  const slash = rest.indexOf('/')
  const first = slash === -1 ? '' : rest.slice(0, slash)
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    return {host: first, repository: rest.slice(slash + 1), reference}
  }
  return {host: 'registry-1.docker.io', repository: slash === -1 ? `library/${rest}` : rest, reference}
}

/** What the registry said about an image; `digest` is the manifest's (Docker-Content-Digest) when present. */
/** `cause`, for an unknown state: the registry could not be reached, refused the credentials, or answered an error. */
export type ImageCheck = {image: string; state: 'present' | 'missing' | 'unknown'; detail?: string; digest?: string; cause?: 'unreachable' | 'refused' | 'error'}

export interface RegistryOptions {
  fetch?: typeof fetch
  /** Hosts spoken to over plain http (default: localhost, 127.0.0.1 and SKYCAP_INSECURE_REGISTRIES). */
  insecure?: string[]
  dockerConfig?: string
  runHelper?: HelperRunner
  timeoutMs?: number
}

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ')

/** The registry hosts spoken to over plain http: loopback ones and SKYCAP_INSECURE_REGISTRIES (or `options.insecure`). */
function insecureHosts(options: Pick<RegistryOptions, 'insecure'>): Set<string> {
  return new Set(['localhost', '127.0.0.1', ...(options.insecure ?? (process.env.SKYCAP_INSECURE_REGISTRIES ?? '').split(',').filter(Boolean))])
}

/** How to speak to a registry `host` (with or without its port): plain http for the insecure ones. */
function schemeOf(host: string, insecure: Set<string>): 'http' | 'https' {
  return insecure.has(host) || insecure.has(host.replace(/:\d+$/, '')) ? 'http' : 'https'
}

/** Asks each image's registry whether the manifest exists (HEAD /v2/<repo>/manifests/<ref>), in parallel. */
export async function checkImages(images: string[], options: RegistryOptions = {}): Promise<ImageCheck[]> {
  const insecure = insecureHosts(options)
  // One lookup per registry host: a credential helper is a process, and twenty services share one registry.
  const credentials = new Map<string, Promise<string | undefined>>()
  const credentialsFor = (host: string) => {
    if (!credentials.has(host)) credentials.set(host, registryCredentials(host, {configPath: options.dockerConfig, runHelper: options.runHelper}))
    return credentials.get(host) as Promise<string | undefined>
  }
  return Promise.all([...new Set(images)].map((image) => checkOne(image, insecure, credentialsFor, options)))
}

async function checkOne(image: string, insecure: Set<string>, credentialsFor: (host: string) => Promise<string | undefined>, options: RegistryOptions): Promise<ImageCheck> {
  const doFetch = options.fetch ?? fetch
  const {host, repository, reference} = parseImage(image)
  const url = `${schemeOf(host, insecure)}://${host}/v2/${repository}/manifests/${reference}`
  let signal = AbortSignal.timeout(options.timeoutMs ?? 10_000)
  const head = (authorization?: string) => doFetch(url, {method: 'HEAD', headers: {Accept: ACCEPT, ...(authorization ? {Authorization: authorization} : {})}, signal})
  try {
    // The first request carries no credentials, as docker's: they go only to a registry that asks (401), so a public
    // registry never sees them and a credential helper runs only for a registry that needs it.
    let res = await head()
    if (res.status === 401) {
      const basic = await credentialsFor(host)
      signal = AbortSignal.timeout(options.timeoutMs ?? 10_000) // a credential helper's own time is not the registry's
      const challenge = res.headers.get('www-authenticate') ?? ''
      const token = await bearerToken(challenge, repository, basic, doFetch, signal)
      if (token) res = await head(`Bearer ${token}`)
      else if (basic) res = await head(`Basic ${basic}`)
    }
    if (res.ok) {
      const digest = res.headers.get('docker-content-digest')
      return digest ? {image, state: 'present', digest} : {image, state: 'present'}
    }
    if (res.status === 404) return {image, state: 'missing', detail: `${host} has no ${repository}:${reference}`}
    if (res.status === 401 || res.status === 403) return {image, state: 'unknown', cause: 'refused', detail: `${host} refused access (HTTP ${res.status}); log in with docker login ${host}`}
    return {image, state: 'unknown', cause: 'error', detail: `${host} answered HTTP ${res.status}`}
  } catch (error) {
    return {image, state: 'unknown', cause: 'unreachable', detail: `cannot reach ${host}: ${fetchFailure(error, options.timeoutMs ?? 10_000).why}`}
  }
}

/**
 * Whether a registry answers at all (GET /v2/, the API's base; 200 or 401 both mean it runs): undefined when it
 * does, else why not (`ECONNREFUSED`, `no answer within 5s`, `HTTP 502`).
 */
export async function registryUnanswered(host: string, options: Pick<RegistryOptions, 'fetch' | 'insecure' | 'timeoutMs'> = {}): Promise<string | undefined> {
  const scheme = schemeOf(host, insecureHosts(options))
  const timeoutMs = options.timeoutMs ?? 5000
  try {
    const res = await (options.fetch ?? fetch)(`${scheme}://${host}/v2/`, {signal: AbortSignal.timeout(timeoutMs)})
    await res.body?.cancel()
    return res.ok || res.status === 401 ? undefined : `HTTP ${res.status}`
  } catch (error) {
    return fetchFailure(error, timeoutMs).why
  }
}

// Token auth (https://distribution.github.io/distribution/spec/auth/token/): ask the realm for a pull token.
async function bearerToken(challenge: string, repository: string, basic: string | undefined, doFetch: typeof fetch, signal: AbortSignal): Promise<string | undefined> {
  if (!/^Bearer /i.test(challenge)) return undefined
  const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
  if (!params.realm) return undefined
  const url = new URL(params.realm)
  if (params.service) url.searchParams.set('service', params.service)
  url.searchParams.set('scope', params.scope ?? `repository:${repository}:pull`)
  const res = await doFetch(url, {headers: basic ? {Authorization: `Basic ${basic}`} : {}, signal})
  if (!res.ok) return undefined
  const body = (await res.json()) as {token?: string; access_token?: string}
  return body.token ?? body.access_token
}

/** Hosts that exist only as examples (RFC 2606, and what skycap init writes in registry:): never a real registry. */
const PLACEHOLDER_HOST = /(^|\.)(example\.(com|org|net)|example|invalid|test)$/

/**
 * What to do about images whose registry could not say whether it has them, by what went wrong: `docker login`
 * cannot help a host that does not resolve, and the scaffold's registry.example.com is a placeholder to replace.
 */
export function uncheckedImagesHint(unknown: Array<Pick<ImageCheck, 'image' | 'cause'>>): string {
  const hosts = (cause: ImageCheck['cause']) => [...new Set(unknown.filter((u) => u.cause === cause).map((u) => parseImage(u.image).host))]
  const unreachable = hosts('unreachable')
  const refused = hosts('refused')
  const placeholders = unreachable.filter((h) => PLACEHOLDER_HOST.test(h))
  const others = unreachable.filter((h) => !placeholders.includes(h))
  const parts: string[] = []
  if (placeholders.length)
    parts.push(
      `the registry host ${placeholders.join(', ')} ${placeholders.length > 1 ? 'are placeholders' : 'is a placeholder'} (skycap init writes one): set registry: in skycap.yaml (or the environment's) to your registry`,
    )
  // Docker Hub is where an image written without a host (redis:7.2) is: registry: in skycap.yaml does not apply to it
  // (the hint said to check it).
  const hub = others.includes('registry-1.docker.io')
  const own = others.filter((h) => h !== 'registry-1.docker.io')
  if (own.length) parts.push(`check registry: in skycap.yaml and that ${own.join(', ')} can be reached from here`)
  if (hub) {
    const named = unknown.filter((u) => u.cause === 'unreachable' && parseImage(u.image).host === 'registry-1.docker.io').map((u) => u.image)
    parts.push(
      `Docker Hub (registry-1.docker.io) cannot be reached from here, where ${named.join(', ')} ${named.length === 1 ? 'is' : 'are'} (an image without a registry host); check this machine's network or proxy`,
    )
  }
  if (refused.length) parts.push(`log in: ${refused.map((h) => `docker login ${h}`).join(', ')} (skycap reads docker's credentials)`)
  if (parts.length === 0) parts.push('fix registry access (docker login)')
  const text = parts.join('; ')
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}. --skip-image-check deploys without asking the registry (the nodes must still pull the images).`
}
