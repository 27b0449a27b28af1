// The commits a deploy of a revision would add to (or take away from) what an environment runs: Capistrano's
// deploy:pending, shown by `skycap diff`.
import {isDeployOrRollback, stoppedBeforeRollout, type StoredRelease} from '../release/store.js'
import type {Revision, RevisionSummary, Vcs} from '../vcs/vcs.js'

/** What the environment runs and how the revision differs from it, in commits (oldest first). */
export interface PendingCommits {
  /** The newest succeeded deploy or rollback: its release number and revision. */
  running: {release: number; sha: string; short: string}
  /** Commits of the revision that the running one lacks: what a deploy adds. */
  adding: RevisionSummary[]
  /** Commits of the running revision that the revision lacks: what a deploy takes away (an older or other branch). */
  removing: RevisionSummary[]
  /**
   * A deploy or rollback after `running` that did not succeed (interrupted, failed without a rollback, a rollback
   * that failed): what it applied may be live, so the cluster need not be `running`'s (the diff may show no changes).
   */
  after?: {release: number; short: string; result: string}
}

/**
 * The commits between the running release and `revision`; undefined when nothing ran yet (or its record has no
 * revision). A history that cannot answer (a shallow clone, a revision that was never fetched, a checkout without a
 * repository) is a `warning`, never a failure: the diff is what was asked for.
 */
export async function pendingCommits(vcs: Vcs | undefined, releases: StoredRelease[], revision: Revision): Promise<{pending?: PendingCommits; warning?: string}> {
  // The newest deploy or rollback that succeeded runs, whether or not its manifests are all still recorded (a part
  // deleted by hand made it "failed" here, though history says it succeeded).
  const record = releases.find((r) => r.record.result === 'succeeded' && isDeployOrRollback(r.record))?.record
  const sha = record?.revision?.sha
  if (!record || !sha) return {}
  const running = {release: record.number, sha, short: record.revision?.short ?? sha.slice(0, 7)}
  // A predeploy hook that failed stopped its deploy before anything was rolled out: that one left the cluster alone.
  const newer = releases.find((r) => isDeployOrRollback(r.record) && r.record.number > record.number && !stoppedBeforeRollout(r))?.record
  const after = newer ? {after: {release: newer.number, short: newer.revision?.short ?? '?', result: newer.result}} : {}
  if (sha === revision.sha) return {pending: {running, adding: [], removing: [], ...after}}
  if (!vcs) return {warning: `cannot list the commits between release ${record.number} (${running.short}) and ${revision.short}: no repository`}
  try {
    const [adding, removing] = await Promise.all([vcs.between(sha, revision.sha), vcs.between(revision.sha, sha)])
    return {pending: {running, adding, removing, ...after}}
  } catch (error) {
    return {warning: `cannot list the commits between release ${record.number} (${running.short}) and ${revision.short}: ${(error as Error).message}`}
  }
}

/** The lines `skycap diff` prints about them (progress, on stderr): a count, then each commit, newest first, at most `max`. */
export function pendingLines(pending: PendingCommits, environment: string, revision: Revision, max = 20): string[] {
  const {running, adding, removing, after} = pending
  // After an interrupted or failed deploy, "runs release N" was contradicted by the diff below (no changes: what the
  // later deploy applied is live): the last good release is named as such, and the later one beside it.
  const head = after
    ? `${environment}'s last good release is ${running.release} (${running.short}); release ${after.release} (${after.short}) after it ${after.result === 'interrupted' ? 'was interrupted' : 'failed'}, and what it applied may be live`
    : `${environment} runs release ${running.release} (${running.short})`
  if (!adding.length && !removing.length) return [`${head}: ${revision.short} is the same revision`]
  const lines: string[] = []
  const list = (title: string, commits: RevisionSummary[]) => {
    lines.push(title)
    for (const c of [...commits].reverse().slice(0, max)) lines.push(`  ${c.short} ${c.subject}${c.author ? ` (${c.author.replace(/\s*<[^>]*>$/, '')})` : ''}`)
    if (commits.length > max) lines.push(`  … and ${commits.length - max} older`)
  }
  if (adding.length) list(`${head}; deploying ${revision.short} adds ${count(adding.length)}:`, adding)
  if (removing.length) list(`${adding.length ? 'and takes away' : `${head}; deploying ${revision.short} takes away`} ${count(removing.length)}:`, removing)
  return lines
}

const count = (n: number) => `${n} commit${n === 1 ? '' : 's'}`
