import type {LockInfo} from './lease.js'

/**
 * Who holds a lock, for people: "ana@ci-7 since <time> (reason); job <CI job URL>". The lock error of a refused
 * deploy and `skycap lock status` say it the same way. A module of its own: the tables import it without lease.ts.
 */
export function describeHolder(info: LockInfo): string {
  return `${info.holder} since ${info.acquiredAt}${info.reason ? ` (${info.reason})` : ''}${info.ciJob ? `; job ${info.ciJob}` : ''}`
}
