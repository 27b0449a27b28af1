import {chmodSync} from 'node:fs'
import {join} from 'node:path'

import {expect} from 'chai'
import {execa} from 'execa'

import {readError} from '../../../src/folders.js'
import {ConfigError} from '../../../src/errors.js'
import {canRunAsOtherUser, OTHER_UID, runAsOtherUser} from '../../helpers/other-user.js'
import {TempRepo} from '../../helpers/repo.js'

// A file of the repository the user running skycap may not read: a CI job as another user than the checkout's, a
// file copied with mode 600 from someone else's machine. Root reads everything, so these run skycap as another user.
describe('files of the repository skycap may not read (EACCES)', function () {
  this.timeout(60_000)
  let repo: TempRepo

  before(function () {
    if (!canRunAsOtherUser()) this.skip()
  })
  beforeEach(async () => {
    repo = await TempRepo.fromFixture('shop')
    await execa('chown', ['-R', `${OTHER_UID}:${OTHER_UID}`, repo.dir])
  })
  afterEach(() => repo?.remove())

  const cases = [
    {what: 'skycap.yaml', path: 'skycap.yaml', mode: 0o000, kind: 'file'},
    {what: 'a template', path: 'deploy/ingress.yaml', mode: 0o000, kind: 'file'},
    {what: 'the templates folder', path: 'deploy', mode: 0o000, kind: 'folder'},
    {what: 'a config file', path: 'config/web/app.properties', mode: 0o000, kind: 'file'},
    {what: "a service's config folder", path: 'config/web', mode: 0o000, kind: 'folder'},
  ]
  for (const {what, path, mode, kind} of cases) {
    it(`names ${what} it cannot read and what to do, exit 2 (was Node's EACCES line, exit 1)`, async () => {
      chmodSync(join(repo.dir, path), mode)
      const r = await runAsOtherUser(['render', 'staging'], repo.dir)
      expect(r.stderr, r.stderr).to.include(`Error: ${path}: permission denied (EACCES): skycap, running as uid ${OTHER_UID}, cannot read this ${kind}`)
      expect(r.stderr).to.include(`Give uid ${OTHER_UID} ${kind === 'folder' ? 'read and search' : 'read'} access to it (\`ls -l${kind === 'folder' ? 'd' : ''} ${path}\``)
      expect(r.stderr).to.not.include('--config')
      expect(r.exitCode).to.equal(2)
    })
  }

  it('names a file a template includes, with --json', async () => {
    repo.write('deploy/staging/extra.yaml', '{% include "part.liquid" %}\n')
    repo.write('deploy/part.liquid', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n')
    await execa('chown', ['-R', `${OTHER_UID}:${OTHER_UID}`, repo.dir])
    expect((await runAsOtherUser(['render', 'staging'], repo.dir)).stdout).to.include('name: extra')
    chmodSync(join(repo.dir, 'deploy/part.liquid'), 0o000)
    const r = await runAsOtherUser(['render', 'staging', '--json'], repo.dir)
    const doc = JSON.parse(r.stdout) as {exitCode: number; error: {code: string; message: string; details: {path: string; code: string}}}
    expect(doc.exitCode).to.equal(2)
    expect(doc.error.code).to.equal('invalid_config')
    expect(doc.error.message).to.match(/^deploy\/part\.liquid: permission denied \(EACCES\)/)
    expect(doc.error.details).to.deep.equal({path: 'deploy/part.liquid', code: 'EACCES'})
  })
})

describe('readError', () => {
  it('leaves any error but EACCES/EPERM with a path unchanged', () => {
    const notFound = Object.assign(new Error("ENOENT: no such file or directory, open '/x'"), {code: 'ENOENT', path: '/x'})
    expect(readError(notFound)).to.equal(notFound)
    const noPath = Object.assign(new Error('EACCES: permission denied'), {code: 'EACCES'})
    expect(readError(noPath)).to.equal(noPath)
    expect(readError(Object.assign(new Error("EPERM: operation not permitted, open '/x'"), {code: 'EPERM', path: '/x'}))).to.be.instanceOf(ConfigError)
  })
})
