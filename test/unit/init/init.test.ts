import {expect} from 'chai'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parse} from 'yaml'

import {pipelineEnvironments} from '../../../src/init/pipeline.js'
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

describe('skycap init --ci', () => {
  let tmp: string
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'skycap-init-ci-'))
  })
  afterEach(() => rmSync(tmp, {recursive: true, force: true}))

  it('a new app: the scaffold and the GitHub workflow, deploying staging and prod', () => {
    const result = scaffold(tmp, 'shop', 'github')
    expect(result.written).to.include.members(['skycap.yaml', '.github/workflows/deploy.yml'])
    expect(result.pipeline).to.deep.equal({system: 'github', file: '.github/workflows/deploy.yml', staging: 'staging', prod: 'prod'})
    const workflow = parse(readFileSync(join(tmp, '.github/workflows/deploy.yml'), 'utf8'))
    expect(Object.keys(workflow.jobs)).to.deep.equal(['build', 'deploy-staging', 'deploy-prod'])
    expect(workflow.jobs['deploy-prod'].concurrency).to.deep.equal({group: 'deploy-prod', 'cancel-in-progress': false})
    expect(workflow.jobs['deploy-prod'].environment).to.equal('prod')
  })

  it('an existing app: only the pipeline, for the environments its skycap.yaml names; an existing pipeline is kept', () => {
    const config = 'app: shop\ndefaultEnvironment: qa\nenvironments:\n  qa: {context: c, namespace: n}\n  live: {context: c, namespace: m, protected: true}\n'
    writeFileSync(join(tmp, 'skycap.yaml'), config)
    const result = scaffold(tmp, undefined, 'gitlab')
    expect(result.written).to.deep.equal(['.gitlab-ci.yml'])
    expect(result.skipped).to.deep.equal(['skycap.yaml'])
    expect(readFileSync(join(tmp, 'skycap.yaml'), 'utf8')).to.equal(config)
    expect(existsSync(join(tmp, 'deploy'))).to.equal(false)
    const pipeline = parse(readFileSync(join(tmp, '.gitlab-ci.yml'), 'utf8'))
    expect(pipeline['deploy-qa']).to.deep.include({resource_group: 'deploy-qa', script: ['skycap deploy qa --yes']})
    expect(pipeline['deploy-live'].rules).to.deep.equal([{if: '$CI_COMMIT_TAG'}, {if: '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH', when: 'manual'}])
    writeFileSync(join(tmp, '.gitlab-ci.yml'), 'mine')
    expect(scaffold(tmp, undefined, 'gitlab')).to.deep.include({written: [], skipped: ['skycap.yaml', '.gitlab-ci.yml']})
    expect(readFileSync(join(tmp, '.gitlab-ci.yml'), 'utf8')).to.equal('mine')
  })

  it('without --ci an existing skycap.yaml is still refused', () => {
    writeFileSync(join(tmp, 'skycap.yaml'), 'app: shop\n')
    expect(userError(() => scaffold(tmp)).hint).to.contain('skycap init --ci github')
  })

  it('picks the environments a pipeline deploys', () => {
    expect(pipelineEnvironments(undefined)).to.deep.equal({staging: 'staging', prod: 'prod'})
    expect(pipelineEnvironments('environments: {staging: {}, production: {}}')).to.deep.equal({staging: 'staging', prod: 'production'})
    expect(pipelineEnvironments('environments: {dev: {}, eu: {protected: true}, us: {protected: true}}')).to.deep.equal({staging: 'dev', prod: 'eu'})
    expect(pipelineEnvironments('environments: {a: {}, b: {}}')).to.deep.equal({staging: 'a', prod: 'b'})
    expect(pipelineEnvironments('environments: {only: {}}')).to.deep.equal({staging: 'only', prod: 'only'})
    expect(pipelineEnvironments('environments: {"bad name": {}}\n')).to.deep.equal({staging: 'staging', prod: 'prod'})
    expect(pipelineEnvironments(': : :')).to.deep.equal({staging: 'staging', prod: 'prod'})
  })
})
