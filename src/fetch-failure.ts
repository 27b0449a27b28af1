/**
 * Why Node's fetch rejected, in words: its time limit (`no answer within 10s`), else the connection's error code
 * (`ECONNREFUSED`), not undici's bare "fetch failed". Shared by the registry check, requireChecks and notifications.
 */
export function fetchFailure(error: unknown, timeoutMs: number): {timedOut: boolean; why: string} {
  const e = error as Error & {cause?: {code?: string; message?: string}}
  if (e.name === 'TimeoutError') return {timedOut: true, why: `no answer within ${timeoutMs / 1000}s`}
  return {timedOut: false, why: e.cause?.code ?? e.cause?.message ?? e.message}
}
