import {expect} from 'chai'

import type {TempHgRepo} from '../helpers/hg.js'

import {TestApp} from './app.js'
import {useNamespace} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']

describe('a Mercurial repository (real hg, real control plane)', function () {
  const ns = useNamespace('hg')
  let app: TestApp<TempHgRepo>
  beforeEach(async () => {
    app = await TestApp.createHg(ns.name, 'ithg')
  })
  afterEach(() => app.remove())

  it('deploys its changesets; status, history and rollback name them; --to takes an hg revset', async () => {
    const first = await app.repo.node('.')
    const r1 = await app.json([...DEPLOY, 'test'])
    expect(r1.exitCode, r1.stderr).to.equal(0)
    expect(r1.doc.result).to.deep.include({release: 1, result: 'succeeded', revision: {sha: first, short: first.slice(0, 12), subject: 'initial', author: 'Skycap Test <test@skycap.dev>'}})
    expect((await app.get(['deployment', 'web'])).spec.template.spec.containers[0].image).to.equal(`example.invalid/ithg/web:${first}`)

    // Image tags from Mercurial's 12-digit short id, and a change that shows which release runs.
    const second = await app.change(
      (text) => text.replace('registry: ', 'imageTag: "hg-{{ revision.short }}"\nregistry: ').replace('    port: 8080\n', '    port: 8080\n    env: {GREETING: new}\n'),
      'tag from the short id',
    )
    const r2 = await app.json([...DEPLOY, 'test'])
    expect(r2.exitCode, r2.stderr).to.equal(0)
    expect(r2.doc.result).to.deep.include({release: 2, revision: {sha: second, short: second.slice(0, 12), subject: 'tag from the short id', author: 'Skycap Test <test@skycap.dev>'}})
    const web = await app.get(['deployment', 'web'])
    expect(web.spec.template.spec.containers[0].image).to.equal(`example.invalid/ithg/web:hg-${second.slice(0, 12)}`)
    expect(web.metadata.annotations['skycap.dev/revision']).to.equal(second)

    const status = await app.json(['status', 'test'])
    expect(status.exitCode, status.stderr).to.equal(0)
    expect(status.doc.result.services.find((s: any) => s.service === 'web')).to.deep.include({revision: second, state: 'ready', ready: 2})
    const table = await app.cli(['status', 'test'])
    expect(table.stdout).to.match(new RegExp(`^web\\s+ready\\s+2/2\\s+${second.slice(0, 12)}\\s`, 'm'))

    const rollback = await app.json(['rollback', 'test', '--to', '.~1', '--yes'])
    expect(rollback.exitCode, rollback.stderr).to.equal(0)
    expect(rollback.doc.result).to.deep.include({release: 3, revision: {sha: first, short: first.slice(0, 12), subject: 'initial', author: 'Skycap Test <test@skycap.dev>'}})
    const back = await app.get(['deployment', 'web'])
    expect(back.spec.template.spec.containers[0].image).to.equal(`example.invalid/ithg/web:${first}`)
    expect(back.spec.template.spec.containers[0].env).to.equal(undefined)

    const history = await app.json(['history', 'test'])
    expect(history.doc.result.releases.map((x: any) => [x.number, x.action, x.result, x.revision.sha, x.revision.short])).to.deep.equal([
      [3, 'rollback', 'succeeded', first, first.slice(0, 12)],
      [2, 'deploy', 'succeeded', second, second.slice(0, 12)],
      [1, 'deploy', 'succeeded', first, first.slice(0, 12)],
    ])
    // The changeset's author is recorded beside who deployed it, and history's table names them.
    expect(history.doc.result.releases[1].revision.author).to.equal('Skycap Test <test@skycap.dev>')
    expect((await app.cli(['history', 'test'])).stdout).to.contain('tag from the short id (Skycap Test)')
    // --to 0 is a release number, which none has; hg's local revision 0 is the first changeset, which release 3
    // returned to: the refusal says --to takes a release number, and how to name the changeset (it said only "no
    // successful release matches").
    const zero = await app.json(['rollback', 'test', '--to', '0', '--yes'])
    expect(zero.exitCode, zero.stderr).to.equal(2)
    expect(zero.doc.error.message).to.equal(
      `no successful release of test matches "0"; --to 0 is a release number (\`skycap history test\` lists them), not Mercurial's local revision 0 (changeset ${first.slice(0, 12)})`,
    )
    expect(zero.doc.error.hint).to.match(new RegExp(`^To return to that changeset, give its id: \`skycap rollback test --to ${first.slice(0, 12)}\` \\(release 3 deployed it\\)\\.`))
    // A changeset never deployed is named with Mercurial's 12-digit short id; nothing changes.
    const third = await app.change((text) => `${text}\n`, 'never deployed')
    const never = await app.json(['rollback', 'test', '--to', '.', '--yes'])
    expect(never.exitCode).to.equal(2)
    expect(never.doc.error.message).to.equal(`no successful release of test matches "." (${third.slice(0, 12)})`)
    expect((await app.get(['deployment', 'web'])).metadata.annotations['skycap.dev/revision']).to.equal(first)
    expect(await app.repo.hg('status')).to.equal('')
  })

  it('renders and deploys an older changeset from its own files (ENV@.~1, ENV@<short id>); unknown ones exit 2', async () => {
    const first = await app.repo.node('.')
    app.repo.write('config/web/app.properties', 'greeting=newer\n')
    const second = await app.change((text) => text.replace('    replicas: 2\n', '    replicas: 3\n'), 'newer config, three replicas')

    const now = await app.cli(['render', 'test'])
    expect(now.exitCode, now.stderr).to.equal(0)
    expect(now.stdout).to.contain('greeting=newer').and.contain(`web:${second}`)
    for (const rev of ['.~1', first.slice(0, 12), 'HEAD~1']) {
      const old = await app.cli(['render', `test@${rev}`])
      expect(old.exitCode, old.stderr).to.equal(0)
      expect(old.stdout, rev).to.contain('greeting=hello').and.contain(`web:${first}`).and.not.contain('greeting=newer')
    }

    const deployed = await app.json([...DEPLOY, `test@${first.slice(0, 12)}`])
    expect(deployed.exitCode, deployed.stderr).to.equal(0)
    expect(deployed.doc.result.revision.sha).to.equal(first)
    const web = await app.get(['deployment', 'web'])
    expect(web.spec.replicas).to.equal(2)
    const configMap = await app.get(['configmap', web.spec.template.spec.volumes[0].configMap.name])
    expect(configMap.data['app.properties']).to.equal('greeting=hello\n')

    const unknown = await app.json([...DEPLOY, 'test@no-such-bookmark'])
    expect(unknown.exitCode).to.equal(2)
    expect(unknown.doc.error.message).to.match(/^unknown revision "no-such-bookmark" in /)
    expect((await app.get(['deployment', 'web'])).metadata.annotations['skycap.dev/revision']).to.equal(first)
    expect(await app.repo.hg('status')).to.equal('')

    // The running changeset amended since (obsolescence markers, as evolve makes them): hidden, and diff still lists
    // the commits between it and its successor (it warned that hg log failed on the hidden id).
    expect((await app.json([...DEPLOY, 'test'])).exitCode).to.equal(0)
    app.repo.write('.hg/hgrc', '[experimental]\nevolution = all\n')
    await app.repo.hg('commit', '-q', '--amend', '-m', 'newer config, amended')
    const amended = await app.repo.node('.')
    const diff = await app.cli(['diff', 'test'])
    expect(diff.stderr).to.not.contain('cannot list the commits')
    expect(diff.stderr)
      .to.contain(`deploying ${amended.slice(0, 12)} adds 1 commit:`)
      .and.contain('and takes away 1 commit:')
      .and.contain(`${second.slice(0, 12)} newer config`)
    const hidden = await app.json(['render', `test@${second.slice(0, 12)}`])
    expect(hidden.exitCode).to.equal(2)
    expect(hidden.doc.error.message).to.match(new RegExp(`^revision "${second.slice(0, 12)}" is hidden in .*: it is obsolete \\(hg: it was rewritten as: ${amended.slice(0, 12)}\\)$`))
  })
})
