/** Shows `summary` on stderr and asks y/N on the terminal. */
export async function confirmOnTerminal(summary: string): Promise<boolean> {
  const {createInterface} = await import('node:readline/promises')
  const rl = createInterface({input: process.stdin, output: process.stderr})
  try {
    const answer = await rl.question(`${summary}\nType "yes" to continue: `)
    return answer.trim().toLowerCase() === 'yes'
  } finally {
    rl.close()
  }
}
