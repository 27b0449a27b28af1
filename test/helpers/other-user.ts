import {statSync} from 'node:fs'
import {dirname} from 'node:path'

import {execa} from 'execa'

import {cliPath} from './repo.js'

/** The user the tests run skycap as, to meet what root never meets (EACCES): nobody. */
export const OTHER_UID = 65534

/**
 * Whether skycap can be run as OTHER_UID here: the tests run as root (only root can switch users) and every folder
 * above the CLI can be searched by others (a clone under /root cannot).
 */
export function canRunAsOtherUser(): boolean {
  if (process.geteuid?.() !== 0) return false
  for (let dir = dirname(cliPath); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false
    if (dirname(dir) === dir) return true
  }
}

/**
 * Runs the built CLI as OTHER_UID in `cwd`. The Node binary may lie where that user cannot reach it (scripts/node.sh
 * keeps it in root's home), so this Node starts as root and gives up root before loading skycap.
 */
export async function runAsOtherUser(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{stdout: string; stderr: string; exitCode?: number}> {
  const start = `process.setgid(${OTHER_UID}); process.setuid(${OTHER_UID}); process.argv = [process.argv[0], ${JSON.stringify(cliPath)}, ...JSON.parse(process.env.SKYCAP_TEST_ARGS)]; await import(${JSON.stringify('file://' + cliPath)})`
  const r = await execa(process.execPath, ['--input-type=module', '-e', start], {
    cwd,
    reject: false,
    extendEnv: false,
    env: {PATH: process.env.PATH, HOME: cwd, NO_COLOR: '1', SKYCAP_NO_COMPILE_CACHE: '1', SKYCAP_NO_CONFIG_CACHE: '1', SKYCAP_TEST_ARGS: JSON.stringify(args), ...env},
  })
  return {stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode}
}
