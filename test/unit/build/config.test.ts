import {expect} from 'chai'

import {resolveEnvironment} from '../../../src/config/environment.js'
import {parseConfig} from '../../../src/config/load.js'
import {ConfigErrors, ExitCode} from '../../../src/errors.js'
import {rejectsWithUserError} from '../../helpers/errors.js'

const FILE = '/tmp/x/skycap.yaml'

/** A skycap.yaml with one service `web` whose body lines are `web`, and environments `envs`. */
function config(web: string[], envs = ['  prod: {namespace: shop}'], top: string[] = []): string {
  return ['app: shop', ...top, 'services:', '  web:', ...web.map((l) => `    ${l}`), 'environments:', ...envs, ''].join('\n')
}

async function problems(text: string): Promise<string[]> {
  const error = await rejectsWithUserError(parseConfig(text, FILE, (p) => p, '/tmp/x'))
  expect(error.exitCode).to.equal(ExitCode.INVALID)
  return error instanceof ConfigErrors ? error.errors.map((e) => e.message) : [error.message]
}

describe('skycap.yaml: build blocks and per-environment registry and imageTag', () => {
  it('accepts a Dockerfile build, a command build, and an environment with its own registry and imageTag', async () => {
    const text = config(
      ['image: web', 'build: {context: app, dockerfile: Containerfile, target: prod, args: {A: "1", B: 2, C: true}, platforms: [linux/amd64, linux/arm64/v8]}'],
      ['  prod: {namespace: shop}', '  local: {namespace: shop, registry: "localhost:5001", imageTag: "dev-{{ revision.short }}"}'],
      ['registry: r.example/team'],
    )
    const loaded = await parseConfig(text, FILE, (p) => p, '/tmp/x')
    expect(loaded.config.services.web?.build).to.deep.equal({context: 'app', dockerfile: 'Containerfile', target: 'prod', args: {A: '1', B: 2, C: true}, platforms: ['linux/amd64', 'linux/arm64/v8']})
    expect(resolveEnvironment(loaded, 'local')).to.include({registry: 'localhost:5001', imageTag: 'dev-{{ revision.short }}'})
    expect(resolveEnvironment(loaded, 'prod')).to.include({registry: 'r.example/team', imageTag: undefined})
    await parseConfig(config(['image: web', 'build: {command: [make, image]}']), FILE, (p) => p, '/tmp/x')
  })

  it('refuses, with file:line, a built image with a tag, a command beside Dockerfile keys, a context outside the repository, unknown keys and bad platforms', async () => {
    expect(await problems(config(['image: web:1.0', 'build: {}']))).to.deep.equal([
      `${FILE}:4:12: services.web: image "web:1.0" is a full reference (it has a tag or digest), but the service has build:; give the name only (e.g. web) so skycap tags each build with its revision`,
    ])
    expect(await problems(config(['image: web', 'build: {command: [make], dockerfile: D, target: t}']))).to.deep.equal([
      `${FILE}:5:42: services.web.build: command replaces the Dockerfile build; remove dockerfile, target (the command gets SKYCAP_IMAGE and builds as it likes)`,
    ])
    expect(await problems(config(['image: web', 'build: {context: ../elsewhere}']))).to.deep.equal([
      `${FILE}:5:22: services.web.build.context "../elsewhere" is outside the repository; a build context is exported from the revision, so it must lie inside the repository (relative to skycap.yaml)`,
    ])
    expect(await problems(config(['image: web', 'build: {dockerfiel: D}']))).to.deep.equal([
      `${FILE}:5:13: unknown key "dockerfiel" in services.web.build (did you mean "dockerfile"?); allowed keys: context, dockerfile, target, args, platforms, command`,
    ])
    expect(await problems(config(['image: web', 'build: {platforms: [amd64]}']))).to.deep.equal([
      `${FILE}:5:25: services.web.build.platforms.0 is "amd64" but must be a platform os/architecture[/variant] such as linux/amd64 or linux/arm64/v8`,
    ])
  })

  it('refuses two services that build one image unalike (two Dockerfile targets under one name: the last pushed ran as both); alike, or a service that only runs it, is fine', async () => {
    const two = (worker: string, envs = ['  prod: {namespace: shop}']) =>
      ['app: shop', 'services:', '  web:', '    image: web', '    build: {target: web}', '  worker:', `    ${worker}`, '    build: {target: worker}', 'environments:', ...envs, ''].join('\n')
    expect(await problems(two('image: web'))).to.deep.equal([
      `${FILE}:7:12: services web and worker both build image "web", with different build: blocks; one tag cannot hold both builds (the last pushed would run as both). Give worker an image of its own, or drop its build: to run web's image`,
    ])
    // In one environment only, through its image override: said there.
    expect(await problems(two('image: worker', ['  prod: {namespace: shop, services: {worker: {image: web}}}']))).to.deep.equal([
      `${FILE}:10:54: services web and worker both build image "web" in environment prod, with different build: blocks; one tag cannot hold both builds (the last pushed would run as both). Give worker an image of its own, or drop its build: to run web's image`,
    ])
    await parseConfig(two('image: worker'), FILE, (p) => p, '/tmp/x')
    // The same build written in another key order, and a service that runs web's image without building it.
    const alike = [
      'app: shop',
      'services:',
      '  web:',
      '    image: web',
      '    build: {target: t, context: .}',
      '  worker:',
      '    image: web',
      '    build: {context: ., target: t}',
      '  cron:',
      '    image: web',
      'environments:',
      '  prod: {namespace: shop}',
      '',
    ]
    await parseConfig(alike.join('\n'), FILE, (p) => p, '/tmp/x')
  })

  it('refuses build in an environment override (one tag, one build), and an environment imageTag without the revision', async () => {
    const [override] = await problems(config(['image: web'], ['  prod: {namespace: shop, services: {web: {build: {}}}}']))
    expect(override).to.match(/^\/tmp\/x\/skycap\.yaml:6:44: unknown key "build" in environments\.prod\.services\.web; allowed keys: image, /)
    expect(await problems(config(['image: web'], ['  prod: {namespace: shop, imageTag: latest}']))).to.deep.equal([
      `${FILE}:6:37: environments.prod.imageTag must use {{ revision.sha }} or {{ revision.short }}; otherwise every revision gets the same image`,
    ])
  })

  it('checks the templates of build.args and imageTag when skycap.yaml is read: at the value, with the variables each gets', async () => {
    const args = (value: string) => config(['image: web', 'build:', '  args:', `    GREETING: ${value}`])
    const ARGS = 'build args can use revision.sha, revision.short, image and tag'
    expect(await problems(args('"{{ nope }}"'))).to.deep.equal([`${FILE}:7:19: services.web.build.args.GREETING: template uses undefined variable "nope"; ${ARGS}`])
    expect(await problems(args('"v-{{ revision.nope }}"'))).to.deep.equal([`${FILE}:7:19: services.web.build.args.GREETING: template uses undefined variable "revision.nope"; ${ARGS}`])
    // The manifest templates' variables are not a build arg's.
    expect(await problems(args('"{{ app }}-{{ env.name }}"'))).to.deep.equal([
      `${FILE}:7:19: services.web.build.args.GREETING: template uses undefined variable "app"; ${ARGS}`,
      `${FILE}:7:19: services.web.build.args.GREETING: template uses undefined variable "env"; ${ARGS}`,
    ])
    // Checked statically: a branch a render would skip, a filter, the syntax.
    expect(await problems(args('\'{% if tag == "x" %}{{ environment }}{% endif %}\''))).to.deep.equal([
      `${FILE}:7:19: services.web.build.args.GREETING: template uses undefined variable "environment"; ${ARGS}`,
    ])
    expect(await problems(args('"{{ tag | nofilter }}"'))).to.deep.equal([`${FILE}:7:19: services.web.build.args.GREETING: template uses unknown filter "nofilter"`])
    expect((await problems(args('"{{ tag "'))).join()).to.match(/^\/tmp\/x\/skycap\.yaml:7:19: services\.web\.build\.args\.GREETING: template error: /)
    expect(await problems(args('"{% include \'x\' %}"'))).to.deep.equal([
      `${FILE}:7:19: services.web.build.args.GREETING: template uses {% include %}, but a value of skycap.yaml cannot include files (only the templates folder's templates can)`,
    ])
    // What build args get, filters, locals and plain values pass.
    await parseConfig(
      config(['image: web', 'build:', '  args: {A: "{{ revision.sha }}", B: "{{ revision.short | upcase }}", C: "{{ image }}:{{ tag }}", D: "{% assign x = tag %}{{ x }}", E: 3, F: plain}']),
      FILE,
      (p) => p,
      '/tmp/x',
    )
    // imageTag gets the revision only.
    expect(await problems(config(['image: web'], ['  prod: {namespace: shop, imageTag: "{{ revision.sha }}-{{ app }}"}']))).to.deep.equal([
      `${FILE}:6:37: environments.prod.imageTag: template uses undefined variable "app"; imageTag can use revision.sha, revision.short, revision.input, revision.subject, revision.author, revision.dirty and revision.atHead`,
    ])
    await parseConfig(
      config(['image: web'], [], ['imageTag: "{{ revision.short }}{% if revision.dirty %}-dirty{% endif %}"']).replace('environments:\n', 'environments:\n  prod: {namespace: shop}\n'),
      FILE,
      (p) => p,
      '/tmp/x',
    )
  })
})
