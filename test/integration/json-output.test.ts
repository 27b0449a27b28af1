import {expect} from 'chai'
import {execa} from 'execa'

import {cliPath} from '../helpers/repo.js'
import {CRASH, NOT_READY, TestApp} from './app.js'
import {captureOutput, useNamespace} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']
/** A plain progress line: an ISO timestamp, then the message. */
const PLAIN = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /

/** Every `hint` anywhere in a document. */
function hints(doc: unknown): string[] {
  if (Array.isArray(doc)) return doc.flatMap(hints)
  if (doc === null || typeof doc !== 'object') return []
  return Object.entries(doc).flatMap(([k, v]) => (k === 'hint' && typeof v === 'string' ? [v] : hints(v)))
}

describe('--json: progress on stderr, one document on stdout (real cluster)', function () {
  const ns = useNamespace('json')
  let app: TestApp
  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'itjson')
  })
  afterEach(() => app.remove())

  it('a deploy streams plain progress lines on stderr while it runs; stdout is one JSON document', async function () {
    this.timeout(120_000)
    const first = await app.json([...DEPLOY, 'test'])
    expect(first.exitCode, first.stderr).to.equal(0)
    const lines = first.stderr.split('\n').filter(Boolean)
    expect(
      lines.filter((l) => !PLAIN.test(l) && !l.startsWith('warning: ')),
      'lines that are not plain progress',
    ).to.deep.equal([])
    expect(first.stderr).to.match(/Z Validating itjson test@[0-9a-f]{7}/)
    expect(first.stderr).to.match(/Z Rolling out itjson test@/)
    expect(first.stderr).to.match(/Z {3}✔ Deployment\/web: /)
    expect(first.stderr).to.match(/Z Release 1 of itjson test is live/)
    expect(first.stderr).to.not.contain('\u001b[')
    // app.json parsed the whole of stdout: one document, nothing before or after it.
    expect(first.doc.ok).to.equal(true)
    expect(first.doc.result).to.include({result: 'succeeded', release: 1})

    // A rollout that never becomes ready: its progress is on stderr before the process ends and before stdout has
    // anything, and the timed-out document names the reasons without pointing at the terminal.
    await app.change(NOT_READY, 'never ready')
    const child = execa('node', [cliPath, ...DEPLOY, 'test', '--timeout', '25s', '--json'], {cwd: app.repo.dir, env: {NO_COLOR: '1'}, reject: false})
    const stderr = captureOutput(child.stderr)
    const stdout = captureOutput(child.stdout)
    let exited = false
    void child.finally(() => (exited = true))
    await stderr.waitFor(/Z Rolling out itjson test@/, 60_000)
    await stderr.waitFor(/Z {3}… Deployment\/web: /, 60_000)
    expect(exited, 'the deploy had ended when its rollout progress arrived').to.equal(false)
    expect(stdout.text, 'stdout while the deploy runs').to.equal('')
    const done = await child
    expect(done.exitCode, done.stderr).to.equal(70)
    const doc = JSON.parse(done.stdout)
    expect(doc.error.code).to.equal('timeout')
    // The pod runs and is never ready: a readiness check that never passed, not a slow start.
    expect(doc.error.hint).to.equal(
      'A readiness check never passed: details.report.failures has its Unhealthy events and log lines. Fix the app or its healthcheck; raise --timeout only if it is slow to start.',
    )
    expect(doc.error.details.report.failures[0].ref).to.equal('Deployment/web')
  })

  it('a failing deploy: events are objects in the JSON report and lines on stderr; no JSON hint refers to output above', async function () {
    this.timeout(180_000)
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    await app.change(CRASH, 'crash')
    const r = await app.json([...DEPLOY, 'test', '--timeout', '2m'])
    expect(r.exitCode, r.stderr).to.equal(1)
    const failure = r.doc.error.details.report.failures[0]
    expect(failure.ref).to.equal('Deployment/web')
    expect(failure.events.length).to.be.at.least(1)
    for (const e of failure.events) {
      expect(Object.keys(e).sort(), JSON.stringify(e)).to.deep.equal(['count', 'lastSeen', 'message', 'object', 'reason', 'type'])
      expect(e.type).to.be.oneOf(['Normal', 'Warning'])
      expect(e.object).to.match(/^(Pod|ReplicaSet|Deployment)\/web-?/)
      expect(e.count).to.be.a('number').and.at.least(1)
      expect(Number.isNaN(Date.parse(e.lastSeen)), e.lastSeen).to.equal(false)
    }
    const backOff = failure.events.find((e: {reason: string}) => e.reason === 'BackOff')
    expect(backOff, JSON.stringify(failure.events)).to.include({type: 'Warning'})
    // The same event as the terminal shows it, on stderr: one line, object name in brackets.
    const name = backOff.object.slice('Pod/'.length)
    expect(r.stderr).to.contain('  Events:')
    expect(r.stderr).to.contain(`Warning BackOff: ${backOff.message}`)
    expect(r.stderr).to.contain(`[${name}]`)
    const all = hints(r.doc)
    expect(all.length).to.be.at.least(1)
    expect(all.filter((h) => /above|below|scroll/i.test(h))).to.deep.equal([])
    expect(r.doc.error.hint).to.equal('The events and logs of what failed are in details.report.failures; `skycap status test` shows what runs now.')
  })
})
