import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parse} from 'yaml'

import {parseConfig} from '../../../src/config/load.js'
import {prepareRelease} from '../../../src/render/prepare.js'
import {ConfigError} from '../../../src/errors.js'
import {PIPELINE_FILES, PIPELINE_SYSTEMS, type PipelineSystem} from '../../../src/init/pipeline.js'

import {pipelineEnvironments} from '../../../src/init/pipeline.js'
import {pipelineMessage, scaffold} from '../../../src/init/scaffold.js'
import {registryCredentials} from '../../../src/registry/credentials.js'
import {userError} from '../../helpers/errors.js'
import {fixturesDir, repoRoot, TempRepo} from '../../helpers/repo.js'

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

  it('refuses a link to nowhere where a file goes, before writing anything (it wrote the rest, then EEXIST)', () => {
    const dir = join(tmp, 'shop')
    mkdirSync(dir)
    symlinkSync('nowhere', join(dir, 'skycap.yaml'))
    const error = userError(() => scaffold(dir))
    expect(error.message).to.equal(`${join(dir, 'skycap.yaml')} is a symbolic link to nowhere, which does not exist; nothing was written`)
    expect(error.hint).to.equal('Remove the link (init writes skycap.yaml there), or create what it points to.')
    expect(readdirSync(dir)).to.deep.equal(['skycap.yaml'])
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

describe("skycap init: web's build: block", () => {
  let tmp: string
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'skycap-init-build-'))
  })
  afterEach(() => rmSync(tmp, {recursive: true, force: true}))

  /** The skycap.yaml init writes into tmp, as `config validate` loads it. */
  async function written() {
    const file = join(tmp, 'skycap.yaml')
    const text = readFileSync(file, 'utf8')
    expect(text).to.not.match(/__[A-Z]+__/)
    return {text, loaded: await parseConfig(text, file)}
  }

  it('a folder with a Dockerfile: web builds it, context the folder', async () => {
    writeFileSync(join(tmp, 'Dockerfile'), 'FROM scratch\n')
    expect(scaffold(tmp, 'shop')).to.deep.include({dockerfile: true})
    const {text, loaded} = await written()
    expect(text).to.contain('    build: {context: .}\n').and.contain("builds this folder's Dockerfile").and.not.contain('# build:')
    expect(loaded.config.services.web?.build).to.deep.equal({context: '.'})
  })

  it('a folder without one: the build: line is commented out, says when to uncomment it, and uncommented is valid', async () => {
    // Neither another spelling nor a folder named Dockerfile counts.
    writeFileSync(join(tmp, 'dockerfile.txt'), '')
    mkdirSync(join(tmp, 'Dockerfile'))
    expect(scaffold(tmp, 'shop')).to.deep.include({dockerfile: false})
    const {text, loaded} = await written()
    expect(text).to.contain('    # build: {context: .}\n').and.contain('# Uncomment once this folder has a Dockerfile')
    expect(loaded.config.services.web?.build).to.equal(undefined)
    writeFileSync(join(tmp, 'skycap.yaml'), text.replace('    # build: {context: .}\n', '    build: {context: .}\n'))
    expect((await written()).loaded.config.services.web?.build).to.deep.equal({context: '.'})
  })

  it('an app named 2024, true or null (a folder name, or --app) is written so that it reads back as that name, and renders', async function () {
    this.timeout(30_000)
    for (const app of ['2024', 'true', 'null', '1e3']) {
      rmSync(join(tmp, 'skycap.yaml'), {force: true})
      scaffold(tmp, app)
      const {loaded} = await written()
      expect([loaded.config.app, loaded.config.environments.prod?.namespace, loaded.config.environments.staging?.namespace]).to.deep.equal([app, app, `${app}-staging`])
    }
    // A folder named 2024: the scaffold's own ingress template renders a name too.
    const repo = new TempRepo('skycap-init-')
    try {
      const dir = join(repo.dir, '2024')
      expect(scaffold(dir).app).to.equal('2024')
      await repo.git('init', '-q', '-b', 'main')
      await repo.commit('init')
      const release = await prepareRelease({target: 'staging', configPath: join(dir, 'skycap.yaml')})
      expect(release.objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`)).to.include('Ingress/2024')
      // staging's config file replaces web's whole (its example set one key, and staging lost the others).
      const config = release.objects.find((o) => o.object.kind === 'ConfigMap' && o.object.metadata.name.startsWith('web-config'))?.object as {data?: Record<string, string>}
      expect(config.data?.['app.properties']).to.match(/^greeting=hello$/m)
      expect(config.data?.['app.properties']).to.match(/^cache\.ttl=5$/m)
    } finally {
      repo.remove()
    }
  })

  it('a long folder name is cut to fit the staging namespace (63 characters); a long --app is refused, saying why', async () => {
    const dir = join(tmp, 'a'.repeat(70))
    const app = scaffold(dir).app
    expect(app).to.equal('a'.repeat(55))
    expect((await parseConfig(readFileSync(join(dir, 'skycap.yaml'), 'utf8'), join(dir, 'skycap.yaml'))).config.environments.staging?.namespace).to.equal(`${app}-staging`)
    const error = userError(() => scaffold(join(tmp, 'other'), 'b'.repeat(56)))
    expect(error.message).to.equal(`the app name "${'b'.repeat(56)}" has 56 characters; the scaffold's staging namespace ${'b'.repeat(56)}-staging would have 64, and Kubernetes allows 63`)
    expect(error.hint).to.equal(`Use at most 55 characters, e.g. --app ${'b'.repeat(55)}.`)
    expect(existsSync(join(tmp, 'other'))).to.equal(false)
  })

  it('the scaffold names its schema as docs/configuration.md does, and the reference that exists', () => {
    scaffold(tmp, 'shop')
    const [schema, reference] = readFileSync(join(tmp, 'skycap.yaml'), 'utf8').split('\n')
    const recommended = /`(# yaml-language-server: \$schema=[^`]+)`/.exec(readFileSync(join(repoRoot, 'docs', 'configuration.md'), 'utf8'))?.[1]
    expect(schema).to.equal(recommended)
    expect(reference).to.contain("skycap's docs/configuration.md")
  })
})

describe('skycap init --ci', () => {
  let tmp: string
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'skycap-init-ci-'))
  })
  afterEach(() => rmSync(tmp, {recursive: true, force: true}))

  it("an app in a folder of its repository (a monorepo): the pipeline goes to the repository's root, where the CI system reads it, and its steps run in the app's folder", async () => {
    const repo = await TempRepo.withFiles({'README.md': 'two apps\n'})
    try {
      // A folder name with a space and a quote: the GitLab script's cd quotes it for the shell.
      const app = join(repo.dir, 'apps', "o'shop web")
      mkdirSync(app, {recursive: true})
      writeFileSync(join(app, 'Dockerfile'), 'FROM scratch\n')
      const github = scaffold(app, 'shop', 'github')
      expect(github.written.filter((f) => f.includes('.github'))).to.deep.equal(['../../.github/workflows/deploy.yml'])
      expect(github.pipeline?.file).to.equal('../../.github/workflows/deploy.yml')
      // Before, it was written beside skycap.yaml, where GitHub never reads a workflow.
      expect(existsSync(join(app, '.github'))).to.equal(false)
      const workflow = parse(readFileSync(join(repo.dir, '.github/workflows/deploy.yml'), 'utf8'))
      expect(workflow.defaults).to.deep.equal({run: {'working-directory': "apps/o'shop web"}})
      const gitlab = scaffold(app, 'shop', 'gitlab')
      expect(gitlab.written).to.deep.equal(['../../.gitlab-ci.yml'])
      const pipeline = parse(readFileSync(join(repo.dir, '.gitlab-ci.yml'), 'utf8'))
      const cd = `cd 'apps/o'\\''shop web'`
      expect(pipeline.default.before_script.at(-1)).to.equal(cd)
      expect(pipeline['.deploy'].before_script.at(-1)).to.equal(cd)
      // The shell reads it as the app's folder.
      expect(execFileSync('sh', ['-c', `${cd} && pwd -P`], {cwd: repo.dir, encoding: 'utf8'}).trim()).to.equal(realpathSync(app))
      // Reached through a symbolic link to the repository: the app's folder is still its path in the repository.
      symlinkSync(repo.dir, join(tmp, 'link'))
      rmSync(join(repo.dir, '.github'), {recursive: true})
      scaffold(join(tmp, 'link', 'apps', "o'shop web"), 'shop', 'github')
      expect(parse(readFileSync(join(repo.dir, '.github/workflows/deploy.yml'), 'utf8')).defaults).to.deep.equal({run: {'working-directory': "apps/o'shop web"}})
      // At the root of a repository, nothing changes: no defaults, no cd.
      // A folder init creates (--dir) is the same: the pipeline goes to the root.
      const created = scaffold(join(repo.dir, 'apps', 'new', 'api'), 'api', 'gitlab')
      expect(created.written).to.include('skycap.yaml')
      expect(created.skipped).to.deep.equal(['../../../.gitlab-ci.yml'])
      rmSync(join(repo.dir, '.github'), {recursive: true})
      const root = scaffold(repo.dir, 'two', 'github')
      expect(root.pipeline?.file).to.equal('.github/workflows/deploy.yml')
      expect(parse(readFileSync(join(repo.dir, '.github/workflows/deploy.yml'), 'utf8')).defaults).to.equal(undefined)
    } finally {
      repo.remove()
    }
  })

  it('a new app with a Dockerfile: the scaffold and the GitHub workflow, building, then deploying staging and prod', () => {
    writeFileSync(join(tmp, 'Dockerfile'), 'FROM scratch\n')
    const result = scaffold(tmp, 'shop', 'github')
    expect(result.written).to.include.members(['skycap.yaml', '.github/workflows/deploy.yml'])
    expect(result.pipeline).to.deep.equal({system: 'github', file: '.github/workflows/deploy.yml', staging: 'staging', prod: 'prod', build: true, branch: 'main'})
    const workflow = parse(readFileSync(join(tmp, '.github/workflows/deploy.yml'), 'utf8'))
    expect(Object.keys(workflow.jobs)).to.deep.equal(['build', 'deploy-staging', 'deploy-prod'])
    expect(workflow.jobs['deploy-prod'].concurrency).to.deep.equal({group: 'deploy-prod', 'cancel-in-progress': false})
    expect(workflow.jobs['deploy-prod'].environment).to.equal('prod')
    expect(workflow.jobs['deploy-prod'].needs).to.equal('build')
    // Each deploy checks the images in the registry before it changes anything: it logs in first (a private registry
    // refused every deploy of this pipeline, exit 4).
    for (const job of ['deploy-staging', 'deploy-prod']) {
      const steps = (workflow.jobs[job].steps as Array<{uses?: string; run?: string; with?: Record<string, string>}>).map((step) => step.uses ?? step.run)
      const login = steps.indexOf('docker/login-action@v3')
      expect(login, job).to.be.above(0)
      expect(login, job).to.be.below(steps.findIndex((step) => step?.startsWith('skycap deploy')))
      expect(workflow.jobs[job].steps[login].with).to.deep.equal({registry: '${{ vars.REGISTRY }}', username: '${{ secrets.REGISTRY_USERNAME }}', password: '${{ secrets.REGISTRY_PASSWORD }}'})
    }
  })

  it("gitlab: the deploy jobs write the registry's login where skycap's image check reads it (the job has no docker)", async () => {
    writeFileSync(join(tmp, 'Dockerfile'), 'FROM scratch\n')
    scaffold(tmp, 'shop', 'gitlab')
    const line = (parse(readFileSync(join(tmp, '.gitlab-ci.yml'), 'utf8'))['.deploy'].before_script as string[]).find((l) => l.includes('.docker/config.json'))
    expect(line).to.be.a('string')
    const home = join(tmp, 'home')
    mkdirSync(home)
    // A password with the characters a JSON or shell line could trip on.
    const password = 'p"a:ss\\w$rd\'x'
    execFileSync('bash', ['-c', line as string], {env: {PATH: process.env.PATH, HOME: home, REGISTRY: 'registry.gitlab.com', REGISTRY_USERNAME: 'ci-bot', REGISTRY_PASSWORD: password}})
    const auth = await registryCredentials('registry.gitlab.com', {configPath: join(home, '.docker', 'config.json')})
    expect(Buffer.from(auth as string, 'base64').toString()).to.equal(`ci-bot:${password}`)
  })

  it('a new app without a Dockerfile: the scaffold builds nothing, so neither does the pipeline, and init says so', () => {
    const result = scaffold(tmp, 'shop', 'gitlab')
    expect(result).to.deep.include({dockerfile: false})
    expect(result.pipeline).to.deep.equal({system: 'gitlab', file: '.gitlab-ci.yml', staging: 'staging', prod: 'prod', build: false})
    const pipeline = parse(readFileSync(join(tmp, '.gitlab-ci.yml'), 'utf8'))
    expect(pipeline.stages).to.deep.equal(['deploy'])
    expect(pipeline.build).to.equal(undefined)
    expect(pipeline['.deploy'].needs).to.equal(undefined)
    // No registry secrets in this set-up: no login written from them.
    expect(JSON.stringify(pipeline['.deploy'].before_script)).to.not.contain('REGISTRY_PASSWORD')
    expect(pipelineMessage(result.pipeline as NonNullable<typeof result.pipeline>)).to.contain('it builds no image (no service in skycap.yaml has a build: block)')
  })

  it('an existing app: only the pipeline, for the environments its skycap.yaml names; an existing pipeline is kept', () => {
    const config = 'app: shop\ndefaultEnvironment: qa\nenvironments:\n  qa: {context: c, namespace: n}\n  live: {context: c, namespace: m, protected: true}\n'
    writeFileSync(join(tmp, 'skycap.yaml'), config)
    const result = scaffold(tmp, undefined, 'gitlab')
    expect(result.written).to.deep.equal(['.gitlab-ci.yml'])
    expect(result.skipped).to.deep.equal(['skycap.yaml'])
    expect(result.app, 'the app skycap.yaml names, not the folder').to.equal('shop')
    expect(result).to.not.have.property('dockerfile')
    expect(readFileSync(join(tmp, 'skycap.yaml'), 'utf8')).to.equal(config)
    expect(existsSync(join(tmp, 'deploy'))).to.equal(false)
    const pipeline = parse(readFileSync(join(tmp, '.gitlab-ci.yml'), 'utf8'))
    expect(pipeline['deploy-qa']).to.deep.include({resource_group: 'deploy-qa', script: ['skycap deploy qa --yes']})
    expect(pipeline['deploy-live'].rules).to.deep.equal([{if: '$CI_COMMIT_TAG =~ /^v/'}, {if: '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH', when: 'manual'}])
    writeFileSync(join(tmp, '.gitlab-ci.yml'), 'mine')
    expect(scaffold(tmp, undefined, 'gitlab')).to.deep.include({written: [], skipped: ['skycap.yaml', '.gitlab-ci.yml']})
    expect(readFileSync(join(tmp, '.gitlab-ci.yml'), 'utf8')).to.equal('mine')
  })

  it('an existing skycap.yaml that is not valid YAML, or names no environment, is refused with its line: no pipeline for environments it may not have', () => {
    const refused = (text: string) => {
      writeFileSync(join(tmp, 'skycap.yaml'), text)
      let error: unknown
      try {
        scaffold(tmp, undefined, 'github')
      } catch (error_) {
        error = error_
      }
      expect(existsSync(join(tmp, PIPELINE_FILES.github.path))).to.equal(false)
      expect(error).to.be.instanceOf(ConfigError)
      return error as ConfigError
    }
    const broken = refused('app: x\nenvironments:\n  dev: {namespace: d\n  qa: {}\n')
    expect(broken.message).to.match(new RegExp(`^${join(tmp, 'skycap.yaml')}:\\d+:\\d+: invalid YAML: .+; no pipeline was written$`))
    expect(broken.hint).to.contain('skycap config validate').and.contain('skycap init --ci github')
    expect(refused('app: x\nenvironments: {}\n').message).to.equal(
      `${join(tmp, 'skycap.yaml')}: names no environment (environments: ENV: {namespace: …}) for a pipeline to deploy; no pipeline was written`,
    )
    expect(refused('- a list\n').message).to.contain('names no environment')
  })

  it('without --ci an existing skycap.yaml is still refused', () => {
    writeFileSync(join(tmp, 'skycap.yaml'), 'app: shop\n')
    expect(userError(() => scaffold(tmp)).hint).to.contain('skycap init --ci github')
  })

  it('an existing skycap.yml counts as a skycap.yaml: refused without --ci, the pipeline of its environments with it', () => {
    writeFileSync(join(tmp, 'skycap.yml'), 'app: shop\nservices: {web: {image: web}}\nenvironments: {qa: {namespace: qa}}\n')
    expect(userError(() => scaffold(tmp)).message).to.equal(`${join(tmp, 'skycap.yml')} already exists; nothing was written`)
    expect(readdirSync(tmp)).to.deep.equal(['skycap.yml'])
    const result = scaffold(tmp, undefined, 'github')
    expect(result).to.deep.include({app: 'shop', written: ['.github/workflows/deploy.yml'], skipped: ['skycap.yml']})
    expect(result.pipeline?.staging).to.equal('qa')
    expect(existsSync(join(tmp, 'skycap.yaml'))).to.equal(false)
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

  /** Writes the pipeline for skycap.yaml's `environments` block (web with a build: block or not), parses it refusing duplicate keys. */
  function pipeline(system: PipelineSystem, environments: string, extra = '', build = true) {
    const web = build ? '{image: web, port: 8080, build: {context: .}}' : '{image: web, port: 8080}'
    writeFileSync(join(tmp, 'skycap.yaml'), `app: ci3\nregistry: r.example/ci3\nservices:\n  web: ${web}\n  cache: {image: redis:7.2}\n${extra}environments:\n${environments}`)
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
        const onTag = system === 'github' ? job.if.startsWith('startsWith(github.ref') : job.rules.some((r: {if: string}) => r.if === '$CI_COMMIT_TAG =~ /^v/')
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
  /** The jobs, in order, and what each one needs; GitLab's stages, each job's in them. */
  function jobGraph(system: PipelineSystem, parsed: Record<string, any>) {
    if (system === 'github') return {jobs: Object.keys(parsed.jobs), needs: Object.values(parsed.jobs).map((job: any) => job.needs), stages: undefined}
    const names = Object.keys(parsed).filter((name) => !name.startsWith('.') && !['stages', 'default'].includes(name))
    const jobs = names.map((name) => ({...parsed[parsed[name].extends], ...parsed[name]}))
    for (const job of jobs) expect(parsed.stages).to.include(job.stage)
    return {jobs: names, needs: jobs.map((job) => job.needs), stages: parsed.stages}
  }

  for (const system of PIPELINE_SYSTEMS) {
    for (const build of [true, false]) {
      for (const [what, environments, jobs, message] of setups) {
        it(`${system}, ${what}, ${build ? 'a service with build:' : 'no service with build:'}: distinct jobs, a protected environment never deployed on every push`, () => {
          const {result, parsed, text} = pipeline(system, environments, '', build)
          expect(deployJobs(system, parsed)).to.deep.equal(jobs)
          expect(text).to.not.match(/__[A-Z]+__|#\[/)
          const graph = jobGraph(system, parsed)
          const deploys = jobs.map(([job]) => job)
          expect(graph.jobs).to.deep.equal(build ? ['build', ...deploys] : deploys)
          expect(graph.needs).to.deep.equal(build ? [undefined, ...deploys.map(() => (system === 'github' ? 'build' : ['build']))] : deploys.map(() => undefined))
          if (system === 'gitlab') expect(graph.stages).to.deep.equal(build ? ['build', 'deploy'] : ['deploy'])
          expect(text.includes('build the images')).to.equal(build)
          expect(text.includes('Images are not built here: no service in skycap.yaml has a build: block')).to.equal(!build)
          expect(text.includes('REGISTRY_PASSWORD')).to.equal(build)
          if (system === 'github') {
            expect(parsed.on.push.tags).to.deep.equal(jobs.some(([, , when]) => when === 'tag') ? ['v*'] : undefined)
            // A push to main runs the build, or a deploy, or nothing: then the workflow does not start.
            expect(parsed.on.push.branches).to.deep.equal(build || jobs.some(([, , when]) => when === 'main') ? ['main'] : undefined)
          }
          const said = pipelineMessage(result.pipeline as NonNullable<typeof result.pipeline>)
          // GitLab's pipeline runs on the project's default branch ($CI_DEFAULT_BRANCH), whatever its name.
          expect(said).to.contain(system === 'github' ? message : message.replace(' on main', ' on the default branch'))
          expect(said.includes('it builds no image')).to.equal(!build)
        })
      }
    }
  }

  it("github: the pipeline builds and deploys staging on origin's default branch, or master when that is checked out, else main (it was main whatever the repository used)", async () => {
    const origin = new TempRepo('skycap-origin-')
    const clones: TempRepo[] = []
    try {
      await origin.git('init', '-q', '-b', 'master')
      origin.write('skycap.yaml', 'app: ci3\nregistry: r.example/ci3\nservices:\n  web: {image: web}\nenvironments:\n  staging: {namespace: s}\n  prod: {namespace: p, protected: true}\n')
      await origin.commit('app')
      const clone = new TempRepo('skycap-clone-')
      clones.push(clone)
      await clone.git('clone', '-q', origin.dir, '.')
      await clone.git('checkout', '-q', '-b', 'feature')
      const branchOf = (dir: string) => {
        const result = scaffold(dir, undefined, 'github')
        const parsed = parse(readFileSync(join(dir, PIPELINE_FILES.github.path), 'utf8')) as Record<string, any>
        rmSync(join(dir, '.github'), {recursive: true})
        return {push: parsed.on.push.branches, staging: parsed.jobs['deploy-staging'].if, said: pipelineMessage(result.pipeline as NonNullable<typeof result.pipeline>)}
      }
      const cloned = branchOf(clone.dir)
      expect([cloned.push, cloned.staging], "a clone: origin's default branch, not the one checked out").to.deep.equal([['master'], "github.ref == 'refs/heads/master'"])
      expect(cloned.said).to.contain('deploys staging on master and prod on a tag')
      // No origin: master when it is checked out; any other branch (a feature branch) gives main.
      expect(branchOf(origin.dir).push).to.deep.equal(['master'])
      await origin.git('checkout', '-q', '-b', 'topic')
      expect(branchOf(origin.dir).push).to.deep.equal(['main'])
    } finally {
      origin.remove()
      for (const c of clones) c.remove()
    }
  })

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

  it('installs skycap from SKYCAP_PACKAGE, and stops with a clear message when it is unset (it fell back to the npm name skycap, which nobody owns)', () => {
    const environments = '  staging: {namespace: s}\n  prod: {namespace: p, protected: true}\n'
    const github = pipeline('github', environments)
    const installs = Object.values(github.parsed.jobs as Record<string, {steps: Array<{name?: string; run?: string}>}>).map((j) => j.steps.find((st) => st.name === 'install skycap'))
    expect(installs.every((i) => i !== undefined)).to.equal(true)
    expect(github.text).to.not.contain("|| 'skycap'")
    const gitlab = pipeline('gitlab', environments)
    expect(gitlab.text).to.not.contain(':-skycap')
    const gitlabCheck = (gitlab.parsed.default.before_script as string[]).find((l) => l.startsWith('test -n')) as string
    // Each as the runner's shell runs it: without the variable it fails before npm is asked; with it, npm gets it.
    const shell = (script: string, env: Record<string, string>) => {
      const bin = mkdtempSync(join(tmpdir(), 'skycap-npm-'))
      writeFileSync(join(bin, 'npm'), '#!/bin/sh\necho "npm $*"\n', {mode: 0o755})
      try {
        return {out: execFileSync('bash', ['-e', '-c', script], {env: {PATH: `${bin}:/usr/bin:/bin`, ...env}, encoding: 'utf8'}), code: 0}
      } catch (error) {
        const e = error as {status: number; stdout: string}
        return {out: e.stdout, code: e.status}
      } finally {
        rmSync(bin, {recursive: true, force: true})
      }
    }
    const ghScript = installs[0]?.run as string
    const unset = shell(ghScript, {})
    expect(unset.code).to.equal(1)
    expect(unset.out).to.match(/^::error::Set the repository variable SKYCAP_PACKAGE to where skycap is installed from/)
    expect(unset.out).to.not.contain('npm install')
    expect(shell(ghScript, {SKYCAP_PACKAGE: 'https://files.example.com/skycap-0.1.0.tgz'})).to.deep.equal({out: 'npm install --global https://files.example.com/skycap-0.1.0.tgz\n', code: 0})
    const gl = shell(gitlabCheck, {})
    expect(gl.code).to.equal(1)
    expect(gl.out).to.match(/^Set the CI\/CD variable SKYCAP_PACKAGE/)
    expect(shell(gitlabCheck, {SKYCAP_PACKAGE: 'x'}).code).to.equal(0)
  })

  it('the variables notify.slack and notify.webhook read: each deploy step gets its own from the secrets (GitHub), the set-up names them', () => {
    const extra = 'notify:\n  slack: {webhookEnv: SLACK_URL}\n  webhook:\n    url: "${env:HOOK_URL}"\n    headers: {Authorization: "Bearer ${env:HOOK_TOKEN}", X-Run: "${env:GITHUB_RUN_ID}"}\n'
    const environments = '  staging: {namespace: s}\n  prod: {namespace: p, protected: true, notify: {slack: {webhookEnv: SLACK_PROD_URL}, github: {deployments: true}}}\n'
    const github = pipeline('github', environments, extra)
    const secret = (name: string) => `\${{ secrets.${name} }}`
    expect(github.parsed.jobs['deploy-staging'].steps.at(-1)).to.deep.equal({
      run: 'skycap deploy staging --yes',
      env: {SLACK_URL: secret('SLACK_URL'), HOOK_URL: secret('HOOK_URL'), HOOK_TOKEN: secret('HOOK_TOKEN')},
    })
    expect(github.parsed.jobs['deploy-prod'].steps.at(-1)).to.deep.equal({
      run: 'skycap deploy prod --yes',
      env: {GITHUB_TOKEN: '${{ github.token }}', SLACK_PROD_URL: secret('SLACK_PROD_URL'), HOOK_URL: secret('HOOK_URL'), HOOK_TOKEN: secret('HOOK_TOKEN')},
    })
    // The build job gets no notify secret: only its install step has variables, and only SKYCAP_PACKAGE.
    const withEnv = github.parsed.jobs.build.steps.filter((s: {env?: unknown}) => s.env)
    expect(withEnv).to.have.length(1)
    expect(withEnv[0]).to.deep.include({name: 'install skycap', env: {SKYCAP_PACKAGE: '${{ vars.SKYCAP_PACKAGE }}'}})
    expect(github.text).to.contain('#   secrets SLACK_URL, HOOK_URL, HOOK_TOKEN, SLACK_PROD_URL (notify: in skycap.yaml reads them; the deploy steps pass them on)')
    expect(github.text).to.not.contain('secrets.GITHUB_RUN_ID')
    const gitlab = pipeline('gitlab', environments, extra).text
    expect(gitlab).to.contain('#   SLACK_URL, HOOK_URL, HOOK_TOKEN, SLACK_PROD_URL, masked and protected: the variables notify: in skycap.yaml reads.')
    const none = pipeline('github', '  dev: {namespace: d}\n', 'notify: {github: {deployments: true}}\n')
    expect(none.text).to.not.contain('notify: in skycap.yaml reads')
    // An environment's github: target replaces the app's whole (as deploys resolve it): without deployments: true
    // of its own, its deploy step gets no token for deployments.
    const replaced = pipeline('github', '  dev: {namespace: d, notify: {github: {repository: acme/shop}}}\n', 'notify: {github: {deployments: true}}\n')
    expect(replaced.parsed.jobs['deploy-dev'].steps.at(-1).env).to.equal(undefined)
    expect(none.parsed.jobs['deploy-dev'].steps.at(-1).env).to.deep.equal({GITHUB_TOKEN: '${{ github.token }}'})
    // An environment's own webhook replaces the app's: prod's step gets PAGER_URL, not the app's HOOK_URL and HOOK_TOKEN.
    const own = pipeline('github', '  staging: {namespace: s}\n  prod: {namespace: p, protected: true, notify: {webhook: {url: "${env:PAGER_URL}"}}}\n', extra)
    expect(own.parsed.jobs['deploy-prod'].steps.at(-1).env).to.deep.equal({SLACK_URL: secret('SLACK_URL'), PAGER_URL: secret('PAGER_URL')})
    // A webhook that sends the job's GITHUB_TOKEN: Actions sets no such variable, so the step gets it (the webhook was
    // never called, with a warning at deploy time), without the permissions of deployments or checks.
    const token = pipeline('github', '  dev: {namespace: d}\n', 'notify:\n  webhook: {url: "https://hooks.example.com/x", headers: {Authorization: "Bearer ${env:GITHUB_TOKEN}"}}\n')
    expect(token.parsed.jobs['deploy-dev'].steps.at(-1).env).to.deep.equal({GITHUB_TOKEN: '${{ github.token }}'})
    expect(token.parsed.jobs['deploy-dev']).to.not.have.property('permissions')
  })

  it("any service's build: block counts, one commented out does not", () => {
    const builds = (services: string) => {
      writeFileSync(join(tmp, 'skycap.yaml'), `app: ci3\nservices:\n${services}environments:\n  dev: {namespace: d}\n`)
      const {pipeline} = scaffold(tmp, undefined, 'github')
      rmSync(join(tmp, PIPELINE_FILES.github.path))
      return pipeline?.build
    }
    expect(builds('  web: {image: web}\n  # build: {context: .}\n  worker: {image: worker, build: {command: [make]}}\n')).to.equal(true)
    expect(builds('  web: {image: web}\n  # build: {context: .}\n')).to.equal(false)
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
    // The common case: the images the app deploys are built (the fixture's web and worker get a build: block).
    const shop = readFileSync(join(fixturesDir, 'shop', 'skycap.yaml'), 'utf8')
    const built = shop.replace(/^ {4}image: (web|worker)\n/gm, '$&    build: {context: .}\n')
    expect(built.match(/build: \{context: \.\}/g)).to.have.length(2)
    writeFileSync(join(tmp, 'skycap.yaml'), built)
    for (const system of PIPELINE_SYSTEMS) scaffold(tmp, undefined, system)
  })
  after(() => rmSync(tmp, {recursive: true, force: true}))

  // The README and docs/ci.md show, in full, what init writes for the example app: they cannot drift from the templates.
  for (const doc of ['README.md', join('docs', 'ci.md')]) {
    it(`${doc}: each pipeline is what \`skycap init --ci\` writes for test/fixtures/shop with build: blocks`, () => {
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
