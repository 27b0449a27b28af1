import {expect} from 'chai'
import {execa} from 'execa'
import fs from 'node:fs/promises'
import path from 'node:path'

import {cliPath} from '../helpers/repo.js'
import {NOT_READY, TestApp} from './app.js'
import {useNamespace} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']
// Images pulled as they are (no registry prefix, no revision tag): a new commit moves nothing but the revision.
const EXTERNAL_IMAGES = (text: string) => text.replace('image: web', 'image: redis:7.2').replace('image: worker', 'image: busybox:1.36')

describe('skycap diff, status and progress on terminals (real cluster)', function () {
  const ns = useNamespace('cli')
  let app: TestApp
  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'itcli')
  })
  afterEach(() => app.remove())

  it('diff: a commit that moves only the revision is no change (exit 0, "No changes"); a changed field is, named by object', async () => {
    await app.change(EXTERNAL_IMAGES, 'external images')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const rsBefore = (await app.get(['replicasets'])).items.map((r: any) => r.metadata.name).sort()
    const empty = await app.repo.commit('nothing changed')
    const same = await app.cli(['diff', 'test@HEAD'])
    expect(same.exitCode, same.stdout + same.stderr).to.equal(0)
    expect(same.stdout).to.match(/^No changes \(Deployment\/web, Deployment\/worker: only the skycap\.dev\/revision annotation would move; no pods restart\)$/)
    const sameJson = await app.json(['diff', 'test@HEAD'])
    expect(sameJson.exitCode).to.equal(0)
    expect(sameJson.doc.result).to.deep.include({changed: [], diff: '', revisionOnly: ['Deployment/web', 'Deployment/worker']})
    // The commits a deploy adds to the running release (Capistrano's deploy:pending), on stderr and in the JSON.
    const first = await app.repo.git('rev-parse', 'HEAD~1')
    expect(sameJson.doc.result.commits.running).to.deep.equal({release: 1, sha: first, short: first.slice(0, 7)})
    expect(sameJson.doc.result.commits.adding.map((c: any) => [c.sha, c.subject])).to.deep.equal([[empty, 'nothing changed']])
    expect(sameJson.doc.result.commits.removing).to.deep.equal([])
    expect(same.stderr)
      .to.contain(`test runs release 1 (${first.slice(0, 7)}); deploying ${empty.slice(0, 7)} adds 1 commit:`)
      .and.contain(`${empty.slice(0, 7)} nothing changed`)

    // Deploying it moves the annotation (status shows it) and restarts no pod: the annotation is not in the pod template.
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const web = await app.get(['deployment', 'web'])
    expect(web.metadata.annotations['skycap.dev/revision']).to.equal(empty)
    expect(web.spec.template.metadata.annotations?.['skycap.dev/revision']).to.equal(undefined)
    expect(web.metadata.annotations['deployment.kubernetes.io/revision'], 'no new ReplicaSet').to.equal('1')
    expect((await app.get(['replicasets'])).items.map((r: any) => r.metadata.name).sort()).to.deep.equal(rsBefore)
    expect((await app.json(['status', 'test'])).doc.result.services[0]).to.include({service: 'web', revision: empty})

    await app.change((t) => t.replace('replicas: 1', 'replicas: 3'), 'three workers')
    const changed = await app.cli(['diff', 'test@HEAD'])
    expect(changed.exitCode, changed.stderr).to.equal(1)
    expect(changed.stdout).to.contain('--- Deployment/worker (live)\n+++ Deployment/worker (after deploy)\n')
    expect(changed.stdout).to.match(/-\s+replicas: 1\n\+\s+replicas: 3/)
    expect(changed.stdout).to.not.contain('/tmp/').and.not.contain('LIVE-').and.not.contain('Deployment/web')
    expect((await app.json(['diff', 'test@HEAD'])).doc.result.changed).to.deep.equal(['Deployment/worker'])
    expect(changed.stderr).to.contain('test runs release 2 (').and.contain('adds 1 commit:').and.contain(' three workers')
    // Back to the first release's revision: the two commits since are what it takes away.
    const back = await app.json(['diff', `test@${first}`])
    expect(back.doc.result.commits.adding).to.deep.equal([])
    expect(back.doc.result.commits.removing.map((c: any) => c.subject)).to.deep.equal(['nothing changed'])
  })

  it('status during a stuck rollout: the new revision 0/2 ready, the old revision 2 ready; port-forward to a port the Service lacks is exit 2', async () => {
    const good = await app.repo.git('rev-parse', 'HEAD')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    // Said before any forward starts (it printed "Forwarding …", then kubectl's "does not have a service port", exit 1).
    const wrong = await Promise.all([app.cli(['port-forward', 'web', '0:9999']), app.json(['port-forward', 'web', '0:9999', '-e', 'test'])])
    expect(wrong.map((r) => r.exitCode)).to.deep.equal([2, 2])
    expect(wrong[0].stderr).to.contain('the Service web in test has no port 9999; nothing was forwarded').and.not.contain('Forwarding')
    expect(wrong[1].doc.error.details).to.deep.include({service: 'web', port: 9999, ports: [8080]})
    const stuck = await app.change(NOT_READY, 'never ready')
    const r = await app.cli([...DEPLOY, 'test', '--no-rollback', '--timeout', '20s'])
    expect(r.exitCode, r.stderr).to.equal(70)
    const s = await app.json(['status', 'test'])
    expect(s.exitCode, s.stderr).to.equal(0)
    const web = s.doc.result.services.find((x: any) => x.service === 'web')
    expect(web).to.deep.include({revision: stuck, ready: 0, desired: 2, state: 'progressing'})
    expect(web.old).to.deep.equal({pods: 2, ready: 2, revision: good})
    expect(s.doc.result.services.find((x: any) => x.service === 'worker')).to.deep.include({ready: 1, desired: 1, old: null})
    const table = await app.cli(['status', 'test'])
    expect(table.stdout).to.match(new RegExp(`\\nweb\\s+progressing\\s+0/2\\s+${stuck.slice(0, 7)}\\s+2/2 ready \\(${good.slice(0, 7)}\\)\\s+\\S+\\n`))
    // Why it waits, under the table and in --json: the new pods run, their readiness check does not pass.
    expect(web.waiting).to.match(/^container web of pod web-\S+ runs but its readiness check does not pass$/)
    expect(table.stdout.trimEnd().split('\n').at(-1)).to.equal(`web: ${web.waiting}`)
    // A service scaled to 0 has no pod to exec into or forward to: said in those words, with the command that helps.
    expect((await app.cli(['scale', 'worker', '0', '-e', 'test'])).exitCode).to.equal(0)
    const idle = await Promise.all([app.cli(['exec', 'worker', '-e', 'test', '--', 'true']), app.cli(['port-forward', 'worker', '0:8080', '-e', 'test'])])
    for (const x of idle) {
      expect(x.exitCode, x.stderr).to.equal(2)
      expect(x.stderr).to.contain('worker is scaled to 0 in test: no pod of it runs').and.contain('skycap scale worker 1 -e test')
    }
  })

  it('deploy on a pseudo-terminal that reports 0 columns prints plain progress lines, not one character per line', async () => {
    // `script` gives the CLI a real pseudo-terminal; stty sets the width it reports.
    const onTerminal = async (columns: number, redirect = '') => {
      const r = await execa('script', ['-qec', `stty cols ${columns} rows 40; node ${cliPath} ${DEPLOY.join(' ')} test${redirect}`, '/dev/null'], {
        cwd: app.repo.dir,
        reject: false,
        env: {CI: '', TERM: 'xterm', NO_COLOR: '1'},
        stdin: 'ignore',
      })
      return {exitCode: r.exitCode, lines: r.stdout.split(/\r?\n/)}
    }
    const narrow = await onTerminal(0)
    const screen = narrow.lines.join('\n')
    expect(narrow.exitCode, screen).to.equal(0)
    expect(
      narrow.lines.filter((l) => l.trim().length > 0 && l.trim().length < 3),
      screen,
    ).to.deep.equal([])
    expect(screen).to.match(/\dZ\s+✔ Deployment\/web: 2\/2 ready/)
    expect(screen).to.match(/\dZ\s+✔ Deployment\/worker: 1\/1 ready/)
    expect(screen).to.contain('deployed itcli test@')

    // With a width, the same terminal gets listr2's live view (no timestamped lines).
    const wide = await onTerminal(120)
    expect(wide.exitCode, wide.lines.join('\n')).to.equal(0)
    expect(wide.lines.join('\n'))
      .to.contain('Deployment/web')
      .and.not.match(/\dZ\s+✔ Deployment\/web/)

    // stdout sent to a file from a terminal: the live view stays on the terminal (stderr), the file gets the result
    // only (it got listr2's spinner lines, written to stdout once stdout was not a terminal).
    const out = path.join(app.repo.dir, '..', 'deploy-stdout.txt')
    await app.change((text) => text.replace('    port: 8080\n', '    port: 8080\n    env: {REDEPLOYED: "yes"}\n'), 'a new pod template for web')
    const redirected = await onTerminal(120, ` > ${out}`)
    const screen2 = redirected.lines.join('\n')
    expect(redirected.exitCode, screen2).to.equal(0)
    expect(screen2).to.contain('Deployment/web')
    const file = await fs.readFile(out, 'utf8')
    expect(file.trim().split('\n'), file).to.have.lengthOf(1)
    expect(file).to.match(/^deployed itcli test@\w+/)
  })
})
