import {expect} from 'chai'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {scaffold} from '../../../src/init/scaffold.js'
import {userError} from '../../helpers/errors.js'

describe('skycap init --dir', () => {
  let tmp: string
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'skycap-init-'))
  })
  afterEach(() => rmSync(tmp, {recursive: true, force: true}))

  it('scaffolds into a folder it creates', () => {
    const result = scaffold(join(tmp, 'shop'))
    expect(result.app).to.equal('shop')
    expect(result.written).to.include('skycap.yaml')
    expect(existsSync(join(tmp, 'shop', 'skycap.yaml'))).to.equal(true)
  })

  it('refuses a regular file, naming it', () => {
    const file = join(tmp, 'shop')
    writeFileSync(file, '')
    const error = userError(() => scaffold(file, 'shop'))
    expect(error.message).to.equal(`--dir ${file} is a file, not a folder; nothing was written`)
    expect(error.hint).to.contain(`move ${file} away`)
  })

  it('refuses a path under a regular file', () => {
    const file = join(tmp, 'shop')
    writeFileSync(file, '')
    const error = userError(() => scaffold(join(file, 'app'), 'shop'))
    expect(error.message).to.equal(`--dir ${join(file, 'app')}: ${file} is a file, not a folder; nothing was written`)
  })

  it('refuses a file where the scaffold needs a folder before writing anything', () => {
    const dir = join(tmp, 'shop')
    mkdirSync(dir)
    writeFileSync(join(dir, 'config'), '')
    const error = userError(() => scaffold(dir))
    expect(error.message).to.equal(`--dir ${dir}: ${join(dir, 'config')} is a file, not a folder; nothing was written`)
    expect(readdirSync(dir)).to.deep.equal(['config'])
  })
})
