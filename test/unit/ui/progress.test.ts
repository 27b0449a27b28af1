import {expect} from 'chai'

import {interruptedLine, listrRolloutView, plainRolloutView} from '../../../src/ui/progress.js'
import type {ResourceStatus} from '../../../src/resources/status.js'
import type {Reporter} from '../../../src/ui/output.js'

const status = (ref: string, state: ResourceStatus['state'], message: string): ResourceStatus => ({ref, state, message, related: [], failing: []})

/** Resolves with `p`'s outcome, or with "still waiting" after `ms` (a hang detector, not a timing assertion). */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined
  const waited = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still waiting'), ms)))
  const outcome = await Promise.race([p.then(() => 'finished'), waited])
  clearTimeout(timer)
  return outcome
}

describe('listr2 rollout view', () => {
  // A redeploy whose objects are all ready at the first poll reports before listr2 has started a task.
  it('finishes when every resource was settled before listr2 ran its tasks', async () => {
    const view = await listrRolloutView('Waiting', ['Deployment/web', 'Deployment/worker'])
    view.update([status('Deployment/web', 'ready', '2/2 ready'), status('Deployment/worker', 'failed', 'crash')])
    expect(await settledWithin(view.finish(), 10_000)).to.equal('finished')
  })

  it('finishes when it stops before a resource was reported', async () => {
    const view = await listrRolloutView('Waiting', ['Deployment/web'])
    expect(await settledWithin(view.finish(), 10_000)).to.equal('finished')
  })

  // listr2's own SIGINT handler ends the process with 127 once its tasks settle (listr2 11: after they settle; 9: at
  // once), before the command's handler has released the lock and exited 130 (commands/_base.ts abortOnSignals).
  it('leaves Ctrl-C to the command: it adds no SIGINT or SIGTERM listener of its own', async () => {
    const before = {SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM')}
    const view = await listrRolloutView('Waiting', ['Deployment/web', 'Deployment/worker'])
    const added = (signal: 'SIGINT' | 'SIGTERM') => process.listeners(signal).filter((l) => !before[signal].includes(l)).length
    try {
      expect({SIGINT: added('SIGINT'), SIGTERM: added('SIGTERM')}).to.deep.equal({SIGINT: 0, SIGTERM: 0})
    } finally {
      await view.finish()
    }
  })

  // In a terminal with stdout sent to a file (`skycap deploy > out`, `| tee`), listr2's own choice was its simple
  // renderer, writing to stdout: the file got spinner frames and "✔ Rolling out" for a failed release.
  it('writes to stderr only, also when stdout is not a terminal', async () => {
    const written = {stdout: '', stderr: ''}
    const original = {stdout: process.stdout.write, stderr: process.stderr.write, isTTY: process.stdout.isTTY}
    const record = (name: 'stdout' | 'stderr') => ((chunk: string | Uint8Array) => ((written[name] += chunk.toString()), true)) as typeof process.stdout.write
    process.stdout.write = record('stdout')
    process.stderr.write = record('stderr')
    process.stdout.isTTY = false
    try {
      const view = await listrRolloutView('Rolling out shop dev@abc1234', ['Deployment/web', 'Deployment/worker'])
      view.update([status('Deployment/web', 'ready', '2/2 ready'), status('Deployment/worker', 'failed', 'crash')])
      await settledWithin(view.finish(), 10_000)
    } finally {
      process.stdout.write = original.stdout
      process.stderr.write = original.stderr
      process.stdout.isTTY = original.isTTY
    }
    expect(written.stdout).to.equal('')
    expect(written.stderr).to.include('Deployment/web: 2/2 ready').and.include('Deployment/worker')
  })

  // The live view is only a view: a renderer that fails (as a bundle chunk that could not load once made it) must
  // neither end the deploy nor leave it silent.
  describe('when the live view cannot run', () => {
    const recorder = () => {
      const lines: string[] = []
      const reporter: Reporter = {mode: 'interactive', info: (m) => lines.push(m), warn: (m) => lines.push(`warning: ${m}`)}
      return {lines, reporter}
    }
    // A listr2 renderer (the interface of listr2's own) whose render fails, as the default one did when log-update's chunk threw.
    class FailingRenderer {
      // Usable without a terminal (the tests' stdout is not one), so listr2 takes it over its fallback renderer.
      static nonTTY = true
      static rendererOptions = {}
      static rendererTaskOptions = {}
      render(): Promise<void> {
        return Promise.reject(new Error('log-update failed to load'))
      }
      end(): void {}
    }

    it('goes on with plain lines, from the latest statuses, when the renderer fails', async () => {
      for (let round = 0; round < 3; round++) {
        const {lines, reporter} = recorder()
        const view = await listrRolloutView('Waiting for 2 resources', ['Deployment/web', 'Deployment/worker'], {reporter, renderer: FailingRenderer})
        // Reported before the failure is seen: replayed by the plain view.
        view.update([status('Deployment/web', 'pending', '0/2 ready'), status('Deployment/worker', 'pending', '0/1 ready')])
        for (let i = 0; i < 50 && !lines.some((l) => l.startsWith('warning:')); i++) await new Promise((r) => setTimeout(r, 10))
        view.update([status('Deployment/web', 'ready', '2/2 ready'), status('Deployment/worker', 'pending', '0/1 ready')])
        // Stopped by web's failure: said so (the fallback view gets who failed too).
        expect(await settledWithin(view.finish([status('Deployment/worker', 'pending', '0/1 ready')], ['Deployment/web']), 10_000)).to.equal('finished')
        expect(lines).to.deep.equal([
          'warning: the live view stopped (log-update failed to load); progress follows as plain lines',
          'Waiting for 2 resources',
          '  … Deployment/web: 0/2 ready',
          '  … Deployment/worker: 0/1 ready',
          '  ✔ Deployment/web: 2/2 ready',
          '  ⏸ Deployment/worker: stopped when Deployment/web failed (0/1 ready)',
        ])
      }
    })

    it('uses plain lines when listr2 cannot be loaded', async () => {
      const {lines, reporter} = recorder()
      const view = await listrRolloutView('Waiting for 1 resource', ['Deployment/web'], {reporter, load: () => Promise.reject(new Error('Cannot find module listr2'))})
      view.update([status('Deployment/web', 'failed', 'CrashLoopBackOff')])
      await view.finish()
      expect(lines).to.deep.equal(['warning: no live view (Cannot find module listr2); progress follows as plain lines', 'Waiting for 1 resource', '  ✖ Deployment/web: CrashLoopBackOff'])
    })
  })
})

describe('a rollout stopped before all were ready', () => {
  it('says what stopped the ones still moving: the failure of others, or a Ctrl-C (only that is "interrupted")', async () => {
    const web = status('Deployment/web', 'pending', '1/2 updated, 0 ready')
    expect(interruptedLine(web)).to.equal('Deployment/web: interrupted (1/2 updated, 0 ready)')
    expect(interruptedLine(web, ['Deployment/worker'])).to.equal('Deployment/web: stopped when Deployment/worker failed (1/2 updated, 0 ready)')
    expect(interruptedLine(status('Deployment/web', 'pending', ''), ['Deployment/worker', 'Deployment/side', 'StatefulSet/db'])).to.equal(
      'Deployment/web: stopped when Deployment/worker, Deployment/side and StatefulSet/db failed (pending)',
    )
    for (const [failed, said] of [
      [['Deployment/worker'], 'stopped when Deployment/worker failed'],
      [[], 'interrupted'],
    ] as const) {
      const lines: string[] = []
      const view = plainRolloutView({mode: 'plain', info: (m) => lines.push(m), warn: (m) => lines.push(`warning: ${m}`)}, 'Waiting for 3 resources')
      view.update([web, status('Deployment/worker', 'failed', 'container worker of pod worker-1 is in CrashLoopBackOff'), status('Deployment/api', 'pending', '0/1 updated, 0 ready')])
      await view.finish([web, status('Deployment/api', 'pending', '0/1 updated, 0 ready')], [...failed])
      expect(lines.slice(-2)).to.deep.equal([`  ⏸ Deployment/web: ${said} (1/2 updated, 0 ready)`, `  ⏸ Deployment/api: ${said} (0/1 updated, 0 ready)`])
    }
  })
})
