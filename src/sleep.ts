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
