import type {Reporter} from './output.js'

/**
 * Runs one phase of a multi-step command and shows it as one line with its time: a listr2 task (spinner, then ✔ or
 * ✖) on a TTY, a plain line when it ends otherwise. `spinner: false` for a phase that prints progress of its own
 * (deploy's rollout view), which a spinner would fight over the terminal with.
 */
export async function runPhase<T>(
  reporter: Reporter,
  name: string,
  run: () => Promise<T>,
  line: (value: T) => string,
  options: {spinner?: boolean} = {},
): Promise<{value: T; ms: number; line: string}> {
  reporter.phase?.(name)
  const started = Date.now()
  const done = (value: T) => {
    const ms = Date.now() - started
    return {value, ms, line: `${name.padEnd(8)} ${line(value)} (${(ms / 1000).toFixed(1)}s)`}
  }
  if (reporter.mode !== 'interactive' || options.spinner === false) {
    const result = done(await run())
    reporter.info(`✔ ${result.line}`)
    return result
  }
  const {Listr, ListrLogger, ProcessOutput} = await import('listr2')
  let result: {value: T; ms: number; line: string} | undefined
  const listr = new Listr(
    [
      {
        title: name,
        task: async (_ctx, task) => {
          result = done(await run())
          task.title = result.line
        },
      },
    ],
    {registerSignalListeners: false, rendererOptions: {logger: new ListrLogger({useIcons: true, processOutput: new ProcessOutput(process.stderr, process.stderr)})}},
  )
  await listr.run()
  return result as {value: T; ms: number; line: string}
}
