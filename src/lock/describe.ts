import type {LockInfo} from './lease.js'

/**
 * Who holds a lock, for people: "ana@ci-7 since <time> (reason); job <CI job URL>". The lock error of a refused
 * deploy and `skycap lock status` say it the same way. A module of its own: the tables import it without lease.ts.
 */
export function describeHolder(info: LockInfo, environment?: string): string {
  // Taken for another environment that shares the namespace (and so this lock): say whose it is.
  const other = environment !== undefined && info.environment !== undefined && info.environment !== environment ? `, for environment ${info.environment}` : ''
  return `${info.holder} since ${info.acquiredAt}${info.reason ? ` (${info.reason})` : ''}${other}${info.ciJob ? `; job ${info.ciJob}` : ''}`
}
