/**
 * Why Node's fetch rejected, in words: its time limit (`no answer within 10s`), else the connection's error code
 * (`ECONNREFUSED`), not undici's bare "fetch failed". Shared by the registry check, requireChecks and notifications.
 * A TLS certificate Node refuses also says why and what to do (the bare code read as if the host could not be reached).
 */
export function fetchFailure(error: unknown, timeoutMs: number): {timedOut: boolean; why: string} {
  const e = error as Error & {cause?: {code?: string; message?: string}}
  if (e.name === 'TimeoutError') return {timedOut: true, why: `no answer within ${timeoutMs / 1000}s`}
  const code = e.cause?.code
  const certificate = code ? certificateProblem(code) : undefined
  if (certificate) return {timedOut: false, why: `${code}: ${certificate}`}
  // The Fetch standard's blocked ports (6000, 6665-6669, 10080, 9, …): refused before any connection.
  if (code === undefined && e.cause?.message === 'bad port') {
    return {timedOut: false, why: "Node's fetch refuses this port (one of the ports browsers block, such as 6000 or 6665-6669); serve it on another port"}
  }
  return {timedOut: false, why: code ?? e.cause?.message ?? e.message}
}

/** OpenSSL's verify errors of a certificate chain no CA that Node trusts signed (a company's own CA, a self-signed one). */
const UNTRUSTED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'])

/** What is wrong with the server's TLS certificate, by its error code; undefined for any other error. */
function certificateProblem(code: string): string | undefined {
  if (UNTRUSTED.has(code)) {
    return "its TLS certificate is not signed by a CA that Node trusts; put the CA's certificate (PEM) in a file and point NODE_EXTRA_CA_CERTS at it"
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'its TLS certificate is for another host name'
  if (code === 'CERT_HAS_EXPIRED') return 'its TLS certificate has expired'
  if (code === 'CERT_NOT_YET_VALID') return 'its TLS certificate is not valid yet'
  return undefined
}
