import {InterruptedError} from '../errors.js'

/**
 * Shows `summary` on stderr and asks on the terminal for `answer` to be typed (default "yes", any case; another
 * answer, such as an environment's name, exactly). Ctrl-D at the prompt is a "no"; Ctrl-C an interruption
 * (exit 130), nothing changed. Both escaped as readline's "Aborted with Ctrl+C", exit 1 (a failed rollout's code).
 */
export async function confirmOnTerminal(summary: string, answer = 'yes'): Promise<boolean> {
  const {createInterface} = await import('node:readline/promises')
  const rl = createInterface({input: process.stdin, output: process.stderr})
  try {
    const typed = (await rl.question(`${summary}\nType "${answer}" to continue: `)).trim()
    return answer === 'yes' ? typed.toLowerCase() === 'yes' : typed === answer
  } catch (error) {
    if (!(error instanceof Error && (error as {code?: string}).code === 'ABORT_ERR')) throw error
    process.stderr.write('\n')
    if (/Ctrl\+C/.test(error.message)) throw new InterruptedError('cancelled at the prompt (Ctrl-C); nothing was changed')
    return false
  } finally {
    rl.close()
  }
}
