import type {ResourceStatus} from '../resources/status.js'
import {stderrReporter, type Reporter} from './output.js'

/** Shows a rollout as it happens. */
export interface RolloutView {
  update(statuses: ResourceStatus[]): void
  /**
   * Stops rendering; call once the watch ended. `interrupted` resources were still moving when another one failed
   * (`failed` names those) or the user stopped the watch: they are shown as stopped or interrupted, not as failed.
   */
  finish(interrupted?: ResourceStatus[], failed?: string[]): Promise<void>
}

/**
 * How a resource that was still moving when the watch stopped is shown: `interrupted` when the user stopped it
 * (Ctrl-C), `stopped when Deployment/worker failed` when another resource's failure did (it said "interrupted" then
 * too, though nobody had interrupted anything).
 */
export function interruptedLine(s: ResourceStatus, failed: string[] = []): string {
  const why = failed.length ? `stopped when ${failed.length === 1 ? failed[0] : `${failed.slice(0, -1).join(', ')} and ${failed.at(-1)}`} failed` : 'interrupted'
  return `${s.ref}: ${why} (${s.message || 'pending'})`
}

/** Plain lines on stderr: one when a resource's state or message changes, and a reminder every `remindMs`. */
export function plainRolloutView(reporter: Reporter, title: string, clock: () => number = Date.now, remindMs = 30_000): RolloutView {
  const last = new Map<string, string>()
  let lastReminder = clock()
  reporter.info(title)
  return {
    update(statuses) {
      for (const s of statuses) {
        const line = `${s.state === 'ready' ? '✔' : s.state === 'failed' ? '✖' : '…'} ${s.ref}: ${s.message}`
        if (last.get(s.ref) !== line) {
          last.set(s.ref, line)
          reporter.info(`  ${line}`)
        }
      }
      const pending = statuses.filter((s) => s.state === 'pending')
      if (pending.length && clock() - lastReminder >= remindMs) {
        lastReminder = clock()
        reporter.info(`  still waiting for ${pending.map((s) => s.ref).join(', ')}`)
      }
    },
    async finish(interrupted = [], failed = []) {
      for (const s of interrupted) reporter.info(`  ⏸ ${interruptedLine(s, failed)}`)
    },
  }
}

/** One resource's line in the listr2 view: its latest title and its outcome, settled once. */
interface ListrLine {
  title: string
  done: Promise<void>
  settle(error?: Error): void
  /** Set while listr2 runs the line's task. */
  task?: {title: string; skip(message: string): void}
  settled: boolean
  /** Why the line was skipped (interrupted), if it was. */
  skipped?: string
}

function listrLine(ref: string): ListrLine {
  let resolve: () => void = () => undefined
  let reject: (error: Error) => void = () => undefined
  const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)))
  // A line can fail before listr2 awaits it: mark the rejection handled here, listr2 still sees it.
  done.catch(() => undefined)
  const line: ListrLine = {
    title: `${ref}: waiting`,
    done,
    settled: false,
    settle(error) {
      if (line.settled) return
      line.settled = true
      if (error) reject(error)
      else resolve()
    },
  }
  return line
}

/** What listrRolloutView needs besides the title and the resources. */
export interface ListrViewOptions {
  /** Where the plain lines go if the live view cannot run (listr2 fails to load or its renderer fails). */
  reporter?: Reporter
  /** listr2's renderer (its default one unless a test gives another). */
  renderer?: unknown
  /** Loads listr2 (a test can make the load fail). */
  load?: () => Promise<typeof import('listr2')>
}

/**
 * listr2 tasks on a TTY: one line per resource, updated in place. Each line's outcome exists before listr2 starts
 * its task: a rollout can be over (every resource ready at the first poll) before listr2 has run a task, and a task
 * started after finish() must not wait forever.
 *
 * The live view is only a view: if listr2 cannot be loaded, or its renderer fails while the rollout runs, the
 * watch goes on with plain lines on stderr (a warning says why) instead of ending the deploy or showing nothing.
 */
export async function listrRolloutView(title: string, refs: string[], options: ListrViewOptions = {}): Promise<RolloutView> {
  const reporter = options.reporter ?? stderrReporter('interactive')
  let listr2: typeof import('listr2')
  try {
    listr2 = await (options.load ?? (() => import('listr2')))()
  } catch (error) {
    reporter.warn(`no live view (${describe(error)}); progress follows as plain lines`)
    return plainRolloutView(reporter, title)
  }
  const {Listr, ListrLogger, ProcessOutput, DefaultRenderer} = listr2
  // listr2 takes its default renderer only when stdout is a terminal, and otherwise its simple one, which writes to
  // stdout: `skycap deploy > file` in a terminal put spinner frames and a "✔ Rolling out" of a failed release in the
  // file, and showed no progress. The live view goes to stderr, so stderr's terminal is the one that counts (the
  // reporter is interactive only when stderr is a terminal).
  class StderrRenderer extends DefaultRenderer {
    static override nonTTY = true
  }
  const logger = new ListrLogger({useIcons: true, processOutput: new ProcessOutput(process.stderr, process.stderr)})
  const lines = new Map(refs.map((ref) => [ref, listrLine(ref)]))
  const listr = new Listr(
    [
      {
        title,
        task: (_ctx, task) =>
          task.newListr(
            [...lines.values()].map((line) => ({
              title: line.title,
              task: (_c, t) => {
                line.task = t
                t.title = line.title
                if (line.skipped) t.skip(line.skipped)
                return line.done
              },
            })),
            {concurrent: true, exitOnError: false},
          ),
      },
    ],
    {
      exitOnError: false,
      // Ctrl-C belongs to the command (commands/_base.ts): it releases the lock and exits 130. listr2's own handler
      // would end the process with 127 once the tasks settle, before that.
      registerSignalListeners: false,
      // stdout is for results: the renderer writes to stderr through its logger's process output.
      renderer: (options.renderer ?? StderrRenderer) as 'default',
      rendererOptions: {logger, collapseSubtasks: false},
      // Never taken with the renderers above (both run without a terminal); kept off stdout all the same.
      fallbackRendererOptions: {logger},
    },
  )
  // With exitOnError false a failed line does not reject run(): a rejection is the renderer (or listr2) failing.
  // From then on the plain view takes over, starting from the latest statuses.
  let latest: ResourceStatus[] = []
  let fallback: RolloutView | undefined
  const running = listr.run().then(
    () => undefined,
    (error: unknown) => {
      reporter.warn(`the live view stopped (${describe(error)}); progress follows as plain lines`)
      fallback = plainRolloutView(reporter, title)
      fallback.update(latest)
    },
  )
  return {
    update(statuses) {
      latest = statuses
      if (fallback) return fallback.update(statuses)
      for (const s of statuses) {
        const line = lines.get(s.ref)
        if (!line || line.settled) continue
        line.title = `${s.ref}: ${s.message}`
        if (line.task) line.task.title = line.title
        if (s.state === 'ready') line.settle()
        else if (s.state === 'failed') line.settle(new Error(line.title))
      }
    },
    async finish(interrupted = [], failed = []) {
      // Still moving when another resource failed, or at a Ctrl-C: shown as skipped (stopped, interrupted), not as failed.
      for (const s of interrupted) {
        const line = lines.get(s.ref)
        if (!line || line.settled) continue
        line.skipped = interruptedLine(s, failed)
        line.task?.skip(line.skipped)
        line.settle()
      }
      for (const [ref, line] of lines) line.settle(new Error(`${ref}: stopped waiting`))
      await running
      await fallback?.finish(interrupted, failed)
    },
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** The view that fits the reporter's mode. */
export async function rolloutView(reporter: Reporter, title: string, refs: string[]): Promise<RolloutView> {
  if (reporter.mode === 'interactive' && refs.length) return listrRolloutView(title, refs, {reporter})
  if (reporter.mode === 'silent') return {update() {}, async finish() {}}
  return plainRolloutView(reporter, title)
}
