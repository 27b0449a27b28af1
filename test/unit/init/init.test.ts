import {expect} from 'chai'
import {cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parse} from 'yaml'

import {PIPELINE_FILES, PIPELINE_SYSTEMS, type PipelineSystem} from '../../../src/init/pipeline.js'

import {pipelineEnvironments} from '../../../src/init/pipeline.js'
import {pipelineMessage, scaffold} from '../../../src/init/scaffold.js'
import {userError} from '../../helpers/errors.js'
import {fixturesDir, repoRoot} from '../../helpers/repo.js'

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
    expect(pipelineEnvironments('environments: {only: {}}')).to.deep.equal({staging: 'only'})
    expect(pipelineEnvironments('environments: {prod: {protected: true}}')).to.deep.equal({prod: 'prod'})
    expect(pipelineEnvironments('environments: {prod: {protected: true}, eu-prod: {protected: true}}')).to.deep.equal({prod: 'prod'})
    expect(pipelineEnvironments('environments: {staging: {protected: true}, prod: {protected: true}}')).to.deep.equal({prod: 'prod'})
    expect(pipelineEnvironments('defaultEnvironment: prod\nenvironments: {prod: {}, dev: {}}')).to.deep.equal({staging: 'dev', prod: 'prod'})
    expect(pipelineEnvironments('environments: {"bad name": {}}\n')).to.deep.equal({staging: 'staging', prod: 'prod'})
    expect(pipelineEnvironments(': : :')).to.deep.equal({staging: 'staging', prod: 'prod'})
  })
})

describe('skycap init --ci: a valid pipeline for any set of environments', () => {
  let tmp: string
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'skycap-init-pipeline-'))
  })
  afterEach(() => rmSync(tmp, {recursive: true, force: true}))

  /** Writes the pipeline for skycap.yaml's `environments` block, parses it refusing duplicate keys. */
  function pipeline(system: PipelineSystem, environments: string, extra = '') {
    writeFileSync(join(tmp, 'skycap.yaml'), `app: ci3\nregistry: r.example/ci3\nservices:\n  web: {image: web, port: 8080}\n${extra}environments:\n${environments}`)
    const result = scaffold(tmp, undefined, system)
    const text = readFileSync(join(tmp, PIPELINE_FILES[system].path), 'utf8')
    const parsed = parse(text, {uniqueKeys: true}) as Record<string, any>
    rmSync(join(tmp, PIPELINE_FILES[system].path))
    return {result, text, parsed}
  }

  /** Each deploy job: [job, environment it deploys, when]. */
  function deployJobs(system: PipelineSystem, parsed: Record<string, any>): Array<[string, string, string]> {
    const jobs: Record<string, any> = system === 'github' ? parsed.jobs : parsed
    return Object.entries(jobs)
      .filter(([name]) => name.startsWith('deploy-'))
      .map(([name, job]) => {
        const command: string = system === 'github' ? job.steps.at(-1).run : job.script.at(-1)
        const environment = system === 'github' ? job.environment : job.environment.name
        expect(command).to.equal(`skycap deploy ${environment} --yes`)
        expect(system === 'github' ? job.concurrency.group : job.resource_group).to.equal(name)
        const onTag = system === 'github' ? job.if.startsWith('startsWith(github.ref') : job.rules.some((r: {if: string}) => r.if === '$CI_COMMIT_TAG')
        return [name, environment, onTag ? 'tag' : 'main']
      })
  }

  const setups: Array<[string, string, Array<[string, string, string]>, string]> = [
    ['one environment', '  dev: {namespace: audit17-ci3}\n', [['deploy-dev', 'dev', 'main']], 'deploys dev on main (skycap.yaml has no protected environment to deploy on a tag)'],
    ['one protected environment', '  prod: {namespace: p, protected: true}\n', [['deploy-prod', 'prod', 'tag']], 'deploys prod on a tag'],
    ['only protected environments', '  prod: {namespace: p, protected: true}\n  eu-prod: {namespace: e, protected: true}\n', [['deploy-prod', 'prod', 'tag']], 'nothing on main'],
    [
      'two',
      '  staging: {namespace: s}\n  prod: {namespace: p, protected: true}\n',
      [
        ['deploy-staging', 'staging', 'main'],
        ['deploy-prod', 'prod', 'tag'],
      ],
      'deploys staging on main and prod on a tag',
    ],
    [
      'two unprotected',
      '  a: {namespace: a}\n  b: {namespace: b}\n',
      [
        ['deploy-a', 'a', 'main'],
        ['deploy-b', 'b', 'tag'],
      ],
      'deploys a on main and b on a tag',
    ],
    [
      'three',
      '  dev: {namespace: d}\n  staging: {namespace: s}\n  prod: {namespace: p, protected: true}\n',
      [
        ['deploy-staging', 'staging', 'main'],
        ['deploy-prod', 'prod', 'tag'],
      ],
      'deploys staging on main and prod on a tag',
    ],
    [
      'three with two protected',
      '  dev: {namespace: d}\n  eu: {namespace: e, protected: true}\n  us: {namespace: u, protected: true}\n',
      [
        ['deploy-dev', 'dev', 'main'],
        ['deploy-eu', 'eu', 'tag'],
      ],
      'deploys dev on main and eu on a tag',
    ],
  ]
  for (const system of PIPELINE_SYSTEMS) {
    for (const [what, environments, jobs, message] of setups) {
      it(`${system}, ${what}: distinct jobs, a protected environment never deployed on every push`, () => {
        const {result, parsed, text} = pipeline(system, environments)
        expect(deployJobs(system, parsed)).to.deep.equal(jobs)
        expect(text).to.not.match(/__[A-Z]+__|#\[/)
        if (system === 'github') expect(parsed.on.push.tags).to.deep.equal(jobs.some(([, , when]) => when === 'tag') ? ['v*'] : undefined)
        expect(pipelineMessage(result.pipeline as NonNullable<typeof result.pipeline>)).to.contain(message)
      })
    }
  }

  it('github: no token and no permissions beyond contents: read when skycap.yaml needs none', () => {
    const {parsed} = pipeline('github', '  staging: {namespace: s}\n  prod: {namespace: p, protected: true}\n')
    expect(parsed.permissions).to.deep.equal({contents: 'read'})
    for (const job of Object.values(parsed.jobs) as any[]) {
      expect(job.permissions).to.equal(undefined)
      expect(job.steps.filter((s: {env?: Record<string, string>}) => s.env?.GITHUB_TOKEN)).to.deep.equal([])
    }
  })

  it('github: GITHUB_TOKEN and the permissions each environment needs: notify.github deployments, requireChecks', () => {
    const extra = 'notify: {github: {deployments: true}}\n'
    const {parsed} = pipeline('github', '  staging: {namespace: s, notify: {github: {deployments: false}}}\n  prod: {namespace: p, protected: true, requireChecks: true}\n', extra)
    expect(parsed.permissions).to.deep.equal({contents: 'read'})
    expect(parsed.jobs.build.permissions).to.equal(undefined)
    expect(parsed.jobs['deploy-staging'].permissions).to.equal(undefined)
    expect(parsed.jobs['deploy-staging'].steps.at(-1)).to.deep.equal({run: 'skycap deploy staging --yes'})
    expect(parsed.jobs['deploy-prod'].permissions).to.deep.equal({contents: 'read', deployments: 'write', checks: 'read', statuses: 'read'})
    expect(parsed.jobs['deploy-prod'].steps.at(-1)).to.deep.equal({run: 'skycap deploy prod --yes', env: {GITHUB_TOKEN: '${{ github.token }}'}})
    const checksOnly = pipeline('github', '  dev: {namespace: d}\n', 'requireChecks: {ignore: [e2e]}\n').parsed.jobs['deploy-dev']
    expect(checksOnly.permissions).to.deep.equal({contents: 'read', checks: 'read', statuses: 'read'})
    expect(checksOnly.steps.at(-1).env).to.deep.equal({GITHUB_TOKEN: '${{ github.token }}'})
  })

  it('gitlab: the set-up names GITLAB_TOKEN for notify.gitlab deployments, GITHUB_TOKEN and the repository for requireChecks', () => {
    const plain = pipeline('gitlab', '  dev: {namespace: d}\n').text
    expect(plain).to.not.contain('GITLAB_TOKEN').and.not.contain('GITHUB_TOKEN')
    const both = pipeline('gitlab', '  dev: {namespace: d, notify: {gitlab: {deployments: true}}}\n  prod: {namespace: p, protected: true}\n', 'requireChecks: true\n').text
    expect(both).to.contain('#   GITLAB_TOKEN, masked and protected').and.contain('#   GITHUB_TOKEN, masked and protected').and.contain('requireChecks: {repository: owner/name}')
    const withRepository = pipeline('gitlab', '  dev: {namespace: d}\n', 'requireChecks: {repository: acme/shop}\n').text
    expect(withRepository).to.contain('GITHUB_TOKEN').and.not.contain('requireChecks: {repository: owner/name}')
  })
})

describe('the pipelines the docs show', () => {
  let tmp: string
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'skycap-init-docs-'))
    cpSync(join(fixturesDir, 'shop', 'skycap.yaml'), join(tmp, 'skycap.yaml'))
    for (const system of PIPELINE_SYSTEMS) scaffold(tmp, undefined, system)
  })
  after(() => rmSync(tmp, {recursive: true, force: true}))

  // The README and docs/ci.md show, in full, what init writes for the example app: they cannot drift from the templates.
  for (const doc of ['README.md', join('docs', 'ci.md')]) {
    it(`${doc}: each pipeline is what \`skycap init --ci\` writes for test/fixtures/shop`, () => {
      const blocks = [...readFileSync(join(repoRoot, doc), 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string)
      for (const system of PIPELINE_SYSTEMS) {
        const written = readFileSync(join(tmp, PIPELINE_FILES[system].path), 'utf8')
        const shown = blocks.filter((b) => b.startsWith(written.split('\n')[0] as string))
        expect(shown, `${doc} shows the ${system} pipeline`).to.have.length(1)
        expect(shown[0]).to.equal(written)
      }
    })
  }
})
