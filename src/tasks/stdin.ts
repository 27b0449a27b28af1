import {fstatSync} from 'node:fs'

/**
 * Whether the process's stdin brings input: a non-empty file, or a pipe (a shell's FIFO, or the socket a Node parent
 * gives), but not under CI, whose runners give every step one.
 */
export function stdinBringsInput(env: NodeJS.ProcessEnv = process.env): boolean {
  try {
    const stat = fstatSync(0)
    return (stat.isFile() && stat.size > 0) || ((stat.isFIFO() || stat.isSocket()) && !env.CI)
  } catch {
    return false
  }
}
