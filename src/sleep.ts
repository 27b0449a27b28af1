/**
 * Waits `ms`, or less when `signal` aborts. The abort listener goes with the timer: a loop that sleeps once per
 * poll (`logs -f`, the rollout watch) holds no listener between polls, however long it runs.
 */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, {once: true})
  })
}

/**
 * `work`, waited for at most `ms` (less when `signal` aborts). The timer is cleared once either ends: a timer left
 * armed kept the process alive for the rest of its `ms` (`skycap run` of a command that exited 0 took 10 s more).
 */
export async function waitAtMost(work: Promise<unknown>, ms: number, signal?: AbortSignal): Promise<void> {
  const stop = new AbortController()
  const onAbort = () => stop.abort()
  signal?.addEventListener('abort', onAbort, {once: true})
  try {
    await Promise.race([work, abortableSleep(ms, stop.signal)])
  } finally {
    stop.abort()
    signal?.removeEventListener('abort', onAbort)
  }
}
