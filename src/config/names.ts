import {resolve} from 'node:path'

import {findConfigFile, readSkycapYaml} from './load.js'

/** Environment and service names of the app (empty when no readable skycap.yaml is found). */
export interface AppNames {
  environments: string[]
  services: string[]
}

/**
 * The environment and service names of the skycap.yaml at `configPath` (relative to `cwd`) or found from `cwd`
 * upward: the keys only, read without validating, so a file with mistakes still gives them. Empty when there is no
 * readable file: completion never fails, and the commands that ask (commands/_environment.ts) go on as without names.
 */
export async function appNames(cwd: string, configPath?: string): Promise<AppNames> {
  const none = {environments: [], services: []}
  try {
    const file = configPath ? resolve(cwd, configPath) : findConfigFile(cwd)
    if (!file) return none
    const text = readSkycapYaml(file, file)
    const {parseDocument, isMap} = await import('yaml')
    const doc = parseDocument(text)
    const keys = (key: string): string[] => {
      const node = doc.get(key)
      return isMap(node) ? node.items.map((pair) => String((pair.key as {value?: unknown} | null)?.value ?? pair.key)).filter((k) => /^[a-z0-9-]+$/.test(k)) : []
    }
    return {environments: keys('environments'), services: keys('services')}
  } catch {
    return none
  }
}
