import type {ResourceStatus} from '../resources/status.js'
import type {Reporter} from './output.js'

/** Shows a rollout as it happens. */
export interface RolloutView {
  update(statuses: ResourceStatus[]): void
  /**
   * Stops rendering; call once the watch ended. `interrupted` resources were still moving when another one failed
   * or the user stopped the watch: they are shown as interrupted, not as failed.
   */
  finish(interrupted?: ResourceStatus[]): Promise<void>
}

/** How a resource that was still moving when the watch stopped is shown. */
export function interruptedLine(s: ResourceStatus): string {
  return `${s.ref}: interrupted (${s.message || 'pending'})`
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
    async finish(interrupted = []) {
      for (const s of interrupted) reporter.info(`  ⏸ ${interruptedLine(s)}`)
    },
  }
}

/** listr2 tasks on a TTY: one line per resource, updated in place. */
export async function listrRolloutView(title: string, refs: string[]): Promise<RolloutView> {
  const {Listr, ListrLogger, ProcessOutput} = await import('listr2')
  const handles = new Map<string, {setTitle(t: string): void; skip(t: string): void; resolve(): void; reject(e: Error): void}>()
  const ready = new Map<string, Promise<void>>()
  const listr = new Listr(
    [
      {
        title,
        task: (_ctx, task) =>
          task.newListr(
            refs.map((ref) => ({
              title: `${ref}: waiting`,
              task: (_c, t) => {
                const p = new Promise<void>((resolve, reject) => handles.set(ref, {setTitle: (s) => (t.title = s), skip: (s) => t.skip(s), resolve, reject}))
                ready.set(ref, p)
                return p
              },
            })),
            {concurrent: true, exitOnError: false},
          ),
      },
    ],
    {
      exitOnError: false, // stdout is for results: the renderer writes to stderr through its logger's process output.
      rendererOptions: {logger: new ListrLogger({useIcons: true, processOutput: new ProcessOutput(process.stderr, process.stderr)}), collapseSubtasks: false},
    },
  )
  const running = listr.run().catch(() => undefined)
  const settled = new Set<string>()
  return {
    update(statuses) {
      for (const s of statuses) {
        const h = handles.get(s.ref)
        if (!h || settled.has(s.ref)) continue
        h.setTitle(`${s.ref}: ${s.message}`)
        if (s.state === 'ready') {
          settled.add(s.ref)
          h.resolve()
        } else if (s.state === 'failed') {
          settled.add(s.ref)
          h.reject(new Error(`${s.ref}: ${s.message}`))
        }
      }
    },
    async finish(interrupted = []) {
      for (const s of interrupted) {
        const h = handles.get(s.ref)
        if (!h || settled.has(s.ref)) continue
        settled.add(s.ref)
        h.skip(interruptedLine(s))
        h.resolve()
      }
      for (const [ref, h] of handles) if (!settled.has(ref)) h.reject(new Error(`${ref}: stopped waiting`))
      await running
    },
  }
}

/** The view that fits the reporter's mode. */
export async function rolloutView(reporter: Reporter, title: string, refs: string[]): Promise<RolloutView> {
  if (reporter.mode === 'interactive' && refs.length) return listrRolloutView(title, refs)
  if (reporter.mode === 'silent') return {update() {}, async finish() {}}
  return plainRolloutView(reporter, title)
}
