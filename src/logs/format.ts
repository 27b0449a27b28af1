/** One log line as skycap shows it. */
export interface LogLine {
  service: string
  pod: string
  container: string
  timestamp: string
  message: string
}

// Readable on dark and light terminals; picked by a hash of the pod name, so a pod keeps its colour.
const COLOURS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96]

/** The ANSI colour code of a pod (stable across runs). */
export function podColour(pod: string): number {
  // Loaded on first use: node:crypto costs a few ms of start-up that plain (uncoloured) output does not need.
  const h = process.getBuiltinModule('node:crypto').createHash('md5').update(pod).digest()
  return COLOURS[(h[0] as number) % COLOURS.length] as number
}

export interface FormatOptions {
  colour: boolean
  /** Show the container name (when pods have several, or one was asked for). */
  showContainer: boolean
  timestamps: boolean
  json: boolean
}

/** Formats a line: `pod [container] │ message`, or one JSON object. */
export function formatLine(line: LogLine, options: FormatOptions): string {
  // `##[` anywhere in a line is a workflow command to the GitHub Actions runner (`##[add-mask]…`); a JSON line gets no
  // stop-commands markers (`skycap logs --json | jq` reads every line), so its `#` is written as the same character escaped.
  if (options.json) return JSON.stringify(line).replaceAll('##[', '#\\u0023[')
  let prefix = options.showContainer ? `${line.pod} ${line.container}` : line.pod
  if (options.colour) prefix = `\u001B[${podColour(line.pod)}m${prefix}\u001B[39m`
  return `${prefix} │ ${options.timestamps && line.timestamp ? `${line.timestamp} ` : ''}${line.message}`
}
