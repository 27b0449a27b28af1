import {existsSync, readFileSync} from 'node:fs'
import {homeFolder} from '../paths.js'
import {join} from 'node:path'

/** The parts of ~/.docker/config.json that say where a registry's credentials are. */
interface DockerConfig {
  auths?: Record<string, {auth?: string}>
  /** A credential helper for every registry (`docker-credential-<name>`), e.g. desktop, osxkeychain, pass. */
  credsStore?: string
  /** A credential helper per registry host, e.g. {"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"}. */
  credHelpers?: Record<string, string>
}

/** Runs `docker-credential-<helper> get` with the server URL on stdin; injected so tests can count the calls. */
export type HelperRunner = (program: string, serverUrl: string) => Promise<{exitCode: number; stdout: string}>

/** The real runner: execa with an argument array, no shell; a missing helper is exit code -1. */
export const execaHelperRunner: HelperRunner = async (program, serverUrl) => {
  const {execa} = await import('execa')
  const r = await execa(program, ['get'], {input: serverUrl, reject: false, timeout: 10_000})
  return {exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? '')}
}

export interface CredentialOptions {
  /** Path of config.json (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json). */
  configPath?: string
  runHelper?: HelperRunner
}

/**
 * Basic credentials (base64 `user:password`) for a registry host, found the way docker finds them: the host's
 * credHelpers entry, else an `auths` entry with an `auth` value, else the credsStore helper. Undefined when there
 * are none or a helper has none (the registry's 401 then says so). The value is never printed or logged.
 */
export async function registryCredentials(host: string, options: CredentialOptions = {}): Promise<string | undefined> {
  const file = options.configPath ?? join(process.env.DOCKER_CONFIG ?? join(homeFolder(), '.docker'), 'config.json')
  if (!existsSync(file)) return undefined
  let config: DockerConfig
  try {
    config = JSON.parse(readFileSync(file, 'utf8')) as DockerConfig
  } catch {
    return undefined
  }
  // Docker Hub's credentials are stored under its v1 index URL.
  const key = host === 'registry-1.docker.io' ? 'https://index.docker.io/v1/' : host
  const helper = config.credHelpers?.[key] ?? config.credHelpers?.[host]
  if (helper) return fromHelper(helper, key, options.runHelper ?? execaHelperRunner)
  const auth = config.auths?.[key]?.auth ?? config.auths?.[`https://${key}`]?.auth
  if (auth) return auth
  if (config.credsStore) return fromHelper(config.credsStore, key, options.runHelper ?? execaHelperRunner)
  return undefined
}

// The credential-helper protocol (github.com/docker/docker-credential-helpers): `get` reads the server URL on
// stdin and prints {"ServerURL", "Username", "Secret"}; a registry it has nothing for is a non-zero exit.
async function fromHelper(name: string, serverUrl: string, run: HelperRunner): Promise<string | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) return undefined
  let r: {exitCode: number; stdout: string}
  try {
    r = await run(`docker-credential-${name}`, serverUrl)
  } catch {
    return undefined
  }
  if (r.exitCode !== 0) return undefined
  try {
    const {Username, Secret} = JSON.parse(r.stdout) as {Username?: string; Secret?: string}
    return Username && Secret ? Buffer.from(`${Username}:${Secret}`).toString('base64') : undefined
  } catch {
    return undefined
  }
}
