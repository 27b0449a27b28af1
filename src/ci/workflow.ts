// The log syntax of the CI systems skycap knows: GitHub Actions workflow commands
// (https://docs.github.com/actions/reference/workflow-commands-for-github-actions) and GitLab CI collapsible sections
// (https://docs.gitlab.com/ci/jobs/job_logs/#custom-collapsible-sections). Pure: strings in, strings out.

/** The CI systems whose logs skycap structures. */
export type CiSystem = 'github' | 'gitlab'

/** The CI system this process runs under, from the variables each sets on every job. */
export function ciSystem(env: NodeJS.ProcessEnv = process.env): CiSystem | undefined {
  if (env.GITHUB_ACTIONS === 'true') return 'github'
  if (env.GITLAB_CI === 'true') return 'gitlab'
  return undefined
}

// The escaping of @actions/core (toolkit/packages/core/src/command.ts): a message ends at a newline, a property at
// a comma or colon.
function escapeData(text: string): string {
  return text.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A')
}

function escapeProperty(text: string): string {
  return escapeData(text).replaceAll(':', '%3A').replaceAll(',', '%2C')
}

/** One GitHub workflow command line: `::name key=value,...::message`. Properties without a value are left out. */
export function workflowCommand(name: string, properties: Record<string, string | number | undefined>, message = ''): string {
  const props = Object.entries(properties)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined && entry[1] !== '')
    .map(([key, value]) => `${key}=${escapeProperty(String(value))}`)
    .join(',')
  return `::${name}${props ? ` ${props}` : ''}::${escapeData(message)}`
}

/** Where an annotation points: a file of the repository, and a line and column in it when known. */
export interface AnnotationPlace {
  file?: string
  line?: number
  col?: number
}

/** A GitHub `::error` annotation: shown on the run's page and, with a file, on that file's line in the diff. */
export function errorAnnotation(title: string, message: string, place: AnnotationPlace = {}): string {
  return workflowCommand('error', {file: place.file, line: place.line, col: place.col, title}, message)
}

/** A GitLab section name: letters, digits, `_`, `.` and `-` only, unique within the job's log. */
export function sectionName(title: string, index: number): string {
  const slug = title
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 40)
  return `skycap_${index}_${slug || 'phase'}`
}

/** The line that opens a collapsed GitLab section; `at` is when it starts (GitLab shows the section's duration). */
export function sectionStart(name: string, header: string, at: Date): string {
  return `\u001B[0Ksection_start:${Math.floor(at.getTime() / 1000)}:${name}[collapsed=true]\r\u001B[0K${header}`
}

/** The line that closes a GitLab section. */
export function sectionEnd(name: string, at: Date): string {
  return `\u001B[0Ksection_end:${Math.floor(at.getTime() / 1000)}:${name}\r\u001B[0K`
}
