import type {DeployReport} from '../deploy/deploy.js'

/** A DeployReport (deploy, rollback) by its shape: what a command returned, or what a failed one attached to its error. */
export function asDeployReport(value: unknown): DeployReport | undefined {
  const v = value as Partial<DeployReport> | null | undefined
  if (!v || typeof v !== 'object' || typeof v.environment !== 'string' || typeof v.result !== 'string' || !v.revision || !v.images) return undefined
  return v as DeployReport
}

/** Text as written, never HTML: a commit subject's `<b>`, or an error's `<details>` (which would fold the rest away). */
function literal(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

/** Text for a Markdown table cell: one line, no column breaks, no HTML (literal). */
function cell(text: string): string {
  return literal(text)
    .replaceAll('\\', '\\\\')
    .replaceAll('|', '\\|')
    .replace(/\s*\n\s*/g, ' ')
}

const ICONS: Record<string, string> = {succeeded: '✅', planned: '📝', unchanged: '⏭️', failed: '❌', 'timed-out': '⏱️', interrupted: '⏹️'}

/** How the rollback after a failed deploy ended, in one phrase. */
export function rollbackText(rollback: NonNullable<DeployReport['rollback']>): string {
  if (rollback.result === 'succeeded') return `rolled back to release ${rollback.to} (recorded as release ${rollback.release})`
  if (rollback.result === 'skipped') return `not rolled back (${rollback.reason ?? 'skipped'})`
  const running = rollback.running ? `; now running: ${rollback.running}` : ''
  // An interrupted rollback's reason says how far it got ("interrupted before the rollback applied anything").
  if (rollback.result === 'interrupted') return `the rollback to release ${rollback.to} was ${rollback.reason ?? 'interrupted'}${running}`
  return `the rollback to release ${rollback.to} failed${rollback.reason ? `: ${rollback.reason}` : ''}${running}`
}

/**
 * The Markdown a GitHub job summary shows for a deploy or rollback: release, revision, result, rollback, the job's
 * link, the images, and what failed (when `error` says the command failed).
 */
export function deploySummary(command: string, report: DeployReport, options: {jobUrl?: string; error?: string} = {}): string {
  const title = `${ICONS[report.result] ?? ''} skycap ${command}: ${report.app} ${report.environment}${report.release ? ` release ${report.release}` : ''} ${report.result}`.trim()
  const rows: Array<[string, string]> = [
    ['Release', report.release === null ? '-' : String(report.release)],
    ['Revision', `\`${report.revision.short}\` ${report.revision.subject}`.trim()],
    ['Result', `${report.result}${report.durationMs ? ` in ${Math.round(report.durationMs / 1000)}s` : ''}`],
    ['Target', `context \`${report.context}\`, namespace \`${report.namespace}\``],
  ]
  if (report.rolledBackTo !== undefined && report.result === 'unchanged') {
    const runs = report.runningRelease ?? report.rolledBackTo
    rows.push(['Runs already', `release ${runs}${runs === report.rolledBackTo ? '' : ` (the same as release ${report.rolledBackTo})`}`])
  } else if (report.rolledBackTo !== undefined) rows.push(['Rolled back to', `release ${report.rolledBackTo}`])
  if (report.rollback) rows.push(['Rollback', rollbackText(report.rollback)])
  // requireChecks: the approval this release went out with (or that it went out without one).
  if (report.ignoreChecks) rows.push(['Checks', 'not asked (--ignore-checks)'])
  else if (report.checks) rows.push(['Checks', `${report.checks.checks.length} green on GitHub (${report.checks.repository})`])
  if (options.jobUrl) rows.push(['Job', `[${options.jobUrl}](${options.jobUrl})`])
  const lines = [`### ${title}`, '', '| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${cell(v)} |`), '']
  const images = Object.entries(report.images)
  if (images.length) lines.push('| Service | Image |', '|---|---|', ...images.map(([service, image]) => `| ${cell(service)} | \`${cell(image)}\` |`), '')
  const failures = [...report.failures, ...(report.rollback?.failures ?? [])]
  if (failures.length) lines.push('**What failed**', '', ...failures.map((f) => `- \`${f.ref}\`: ${cell(f.message)}`), '')
  if (options.error) lines.push(`> ${cell(options.error)}`, '')
  return `${lines.join('\n')}\n`
}

/**
 * The Markdown of a command that failed without a deploy report (invalid config, a refused lock, ...); it names the
 * app and the environment when they are known (a job that deploys several said only "skycap deploy failed").
 */
export function failureSummary(command: string, message: string, options: {jobUrl?: string; hint?: string; app?: string; environment?: string} = {}): string {
  const target = [options.app && `app ${options.app}`, options.environment && `environment ${options.environment}`].filter(Boolean).join(', ')
  const lines = [`### ❌ skycap ${command} failed${target ? `: ${literal(target).replace(/\s*\n\s*/g, ' ')}` : ''}`, '', ...message.split('\n').map((l) => `> ${literal(l)}`), '']
  if (options.hint) lines.push(literal(options.hint), '')
  if (options.jobUrl) lines.push(`Job: [${options.jobUrl}](${options.jobUrl})`, '')
  return `${lines.join('\n')}\n`
}
