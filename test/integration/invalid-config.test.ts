import {expect} from 'chai'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {TestApp} from './app.js'
import {useNamespace, waitFor} from './harness.js'

const DEPLOY = ['deploy', '--skip-image-check']

// During an incident someone edits skycap.yaml, breaks it, and must still see what runs and roll back: status,
// history and rollback read only the app and the environment's connection from a file that fails validation
// (docs/configuration.md); deploy refuses it.
describe('an invalid skycap.yaml in the work tree (real cluster)', function () {
  const ns = useNamespace('invalid-config')
  let app: TestApp
  beforeEach(async () => {
    app = await TestApp.create(ns.name, 'itinvalid')
  })
  afterEach(() => app.remove())

  it('status, history and rollback go on from the connection with one warning; a YAML syntax error inside environments stops them; deploy refuses both', async () => {
    const first = await app.repo.git('rev-parse', 'HEAD')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    app.repo.write('config/web/app.properties', 'greeting=two\n')
    const second = await app.repo.commit('two')
    expect((await app.cli([...DEPLOY, 'test'])).exitCode).to.equal(0)
    const valid = app.config
    const write = (text: string) => writeFileSync(join(app.repo.dir, 'skycap.yaml'), text)

    // An unknown key in a service, and a notify: block (rollback says it sent nothing).
    write(`${valid.replace('    replicas: 2\n', '    replicas: 2\n    replcas: 3\n')}notify:\n  webhook: {url: 'http://127.0.0.1:9/hook'}\n`)
    const line = valid.split('\n').indexOf('    replicas: 2') + 2
    const warning = (command: string) =>
      new RegExp(
        `warning: skycap\\.yaml is invalid: skycap\\.yaml:${line}:5: unknown key "replcas" in services\\.web[^\\n]*\\. ${command} used only its app, and environment test's context, namespace and protected\\.`,
      )
    const status = await app.json(['status', 'test'])
    expect(status.exitCode, status.stderr).to.equal(0)
    expect(status.stderr).to.match(warning('status'))
    expect(status.stderr.match(/is invalid/g)).to.have.length(1)
    const services = status.doc.result.services.map((s: any) => [s.service, s.revision, s.state, s.notInConfig ?? false])
    expect(services).to.deep.equal([
      ['web', second, 'ready', false],
      ['worker', second, 'ready', false],
    ])
    const history = await app.json(['history', 'test'])
    expect(history.exitCode, history.stderr).to.equal(0)
    expect(history.stderr).to.match(warning('history'))
    expect(history.doc.result.releases.map((r: any) => [r.number, r.action, r.revision.sha])).to.deep.equal([
      [2, 'deploy', second],
      [1, 'deploy', first],
    ])
    const lock = await app.json(['lock', 'status', 'test'])
    expect(lock.exitCode, lock.stderr).to.equal(0)
    expect(lock.stderr).to.match(warning('lock status'))
    expect(lock.doc.result).to.deep.equal({environment: 'test', lock: null})
    const deploy = await app.json([...DEPLOY, 'test'])
    expect(deploy.exitCode).to.equal(2)
    expect(deploy.doc.error.code).to.equal('invalid_config')

    const rollback = await app.json(['rollback', 'test', '--skip-image-check'])
    expect(rollback.exitCode, rollback.stderr).to.equal(0)
    expect(rollback.stderr).to.match(warning('rollback'))
    expect(rollback.stderr).to.contain('Not used: notify (no notification is sent); logs.exclude (a failure shows every log line). Fix the file')
    expect(rollback.doc.result).to.include({result: 'succeeded', release: 3, rolledBackTo: 1})
    // What the cluster runs once the Deployment controller has seen the change.
    const web = await waitFor('web observed at release 1', async () => {
      const d = await app.get(['deployment', 'web'])
      return d.status?.observedGeneration >= d.metadata.generation && d.status?.updatedReplicas === 2 ? d : undefined
    })
    expect(web.spec.template.spec.containers[0].image).to.equal(`example.invalid/itinvalid/web:${first}`)
    expect(web.spec.replicas).to.equal(2)

    // A YAML syntax error inside environments: the connection cannot be read, and nothing happens.
    write(valid.replace('  guarded:\n', '  guarded: [\n'))
    for (const command of [
      ['status', 'test'],
      ['history', 'test'],
      ['lock', 'status', 'test'],
      ['rollback', 'test', '--skip-image-check'],
      [...DEPLOY, 'test'],
    ]) {
      const r = await app.json(command)
      expect(r.exitCode, `${command[0]}: ${r.stderr}`).to.equal(2)
      expect(r.doc.error.code).to.equal('invalid_config')
      expect(r.doc.error.message).to.match(/^skycap\.yaml:\d+:\d+: invalid YAML/)
      expect(r.stderr).to.not.contain('is invalid:')
    }
    write(valid)
    const after = await app.json(['history', 'test'])
    expect(after.stderr).to.not.contain('warning')
    expect(after.doc.result.releases.map((r: any) => r.number)).to.deep.equal([3, 2, 1])
    expect((await app.get(['deployment', 'web'])).spec.template.spec.containers[0].image).to.equal(`example.invalid/itinvalid/web:${first}`)
  })
})
