import {expect} from 'chai'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {readConnection} from '../../../src/config/connection.js'
import {openEnvironment} from '../../../src/env/connect.js'
import {ConfigErrors, UserError} from '../../../src/errors.js'
import {memoryReporter} from '../../../src/ui/output.js'

const VALID = `app: shop
defaultEnvironment: staging
services:
  web:
    image: web
    replicas: 2
environments:
  staging:
    context: staging-cluster
    namespace: shop-staging
  prod:
    context: prod-cluster
    namespace: shop-prod
    protected: true
`

// An invalid skycap.yaml still gives status, history, lock and rollback the app and one environment's connection,
// when those read unambiguously (docs/configuration.md).
describe('the connection read from an invalid skycap.yaml', () => {
  const environment = async (text: string, name = 'staging') => (await readConnection(text))?.environment(name)

  it("a valid file: the app, the default environment and each environment's context, namespace and protected", async () => {
    const read = await readConnection(VALID)
    expect(read).to.include({app: 'shop', defaultEnvironment: 'staging'})
    expect(read?.environmentNames).to.deep.equal(['staging', 'prod'])
    expect(read?.environment('staging')).to.deep.equal({context: 'staging-cluster', namespace: 'shop-staging'})
    expect(read?.environment('prod')).to.deep.equal({context: 'prod-cluster', namespace: 'shop-prod', protected: true})
    expect(read?.environment('dev')).to.equal(undefined)
  })

  it("tolerates what the connection does not depend on: an unknown key in a service, a bad value in another environment or in this one's services", async () => {
    expect(await environment(VALID.replace('    replicas: 2', '    replcas: 2'))).to.deep.equal({context: 'staging-cluster', namespace: 'shop-staging'})
    expect(await environment(VALID.replace('namespace: shop-prod', 'namespace: Shop_Prod'))).to.deep.equal({context: 'staging-cluster', namespace: 'shop-staging'})
    expect(await environment(VALID.replace('    namespace: shop-staging\n', '    namespace: shop-staging\n    services: {web: {replicas: -1}}\n'))).to.deep.equal({
      context: 'staging-cluster',
      namespace: 'shop-staging',
    })
    expect(await environment(`${VALID}notify: {timeout: never}\n`)).to.deep.equal({context: 'staging-cluster', namespace: 'shop-staging'})
  })

  it('tolerates a YAML syntax error after app and environments, not one before or inside them', async () => {
    expect(await environment(`${VALID}history:\n  keep: [1\n`)).to.deep.equal({context: 'staging-cluster', namespace: 'shop-staging'})
    expect(await environment(VALID.replace('    replicas: 2', '    replicas: [2'))).to.equal(undefined)
    expect(await environment(VALID.replace('    namespace: shop-prod', '    namespace: "shop-prod'))).to.equal(undefined)
    expect(await environment(VALID.replace('  staging:\n', '  staging:\n   - x\n'))).to.equal(undefined)
  })

  it('refuses what could be read two ways or wrong: a key twice, an unknown key in the environment (a misspelt context), a bad namespace or protected, no app', async () => {
    expect(await readConnection(`app: other\n${VALID}`)).to.equal(undefined)
    expect(await environment(VALID.replace('    context: staging-cluster\n', '    context: staging-cluster\n    context: prod-cluster\n'))).to.equal(undefined)
    expect(await environment(VALID.replace('    context: staging-cluster', '    contxt: staging-cluster'))).to.equal(undefined)
    expect(await environment(VALID.replace('namespace: shop-staging', 'namespace: Shop_Staging'))).to.equal(undefined)
    expect(await environment(VALID.replace('namespace: shop-staging', 'namespace: shop-staging\n    protected: "yes"'))).to.equal(undefined)
    expect(await environment(VALID.replace('namespace: shop-staging\n', ''))).to.equal(undefined)
    expect(await readConnection(VALID.replace('app: shop', 'ap: shop'))).to.equal(undefined)
    expect(await readConnection(VALID.replace('app: shop', 'app: [shop]'))).to.equal(undefined)
    expect(await readConnection('- a list\n')).to.equal(undefined)
  })
})

describe('openEnvironment with connectionOnly', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skycap-connection-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))
  const open = async (text: string, options: {environment?: string; notUsed?: Array<[string[], string]>; lenient?: boolean} = {}) => {
    writeFileSync(join(dir, 'skycap.yaml'), text)
    const reporter = memoryReporter()
    const opened = await openEnvironment({
      configPath: join(dir, 'skycap.yaml'),
      environment: options.environment,
      repository: false,
      ...(options.lenient === false ? {} : {connectionOnly: {command: 'rollback', reporter, notUsed: () => options.notUsed ?? []}}),
    })
    return {...opened, warnings: reporter.warnings}
  }
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => expect.fail('expected an error'),
      (e: unknown) => e,
    )

  it('a valid file: no warning, nothing marked', async () => {
    const {env, warnings, connectionOnly} = await open(VALID)
    expect(env).to.include({name: 'staging', context: 'staging-cluster', namespace: 'shop-staging', protected: false})
    expect(warnings).to.deep.equal([])
    expect(connectionOnly).to.equal(undefined)
  })

  it('an unknown key in a service: the environment (default or named), no services, one warning naming the first problem at file:line and what was used', async () => {
    const text = VALID.replace('    replicas: 2', '    replcas: 2').replace('  prod:\n', '  prod:\n    maxReplicas: -3\n')
    const {loaded, env, warnings, connectionOnly} = await open(text)
    expect(loaded.config.app).to.equal('shop')
    expect(env).to.include({name: 'staging', context: 'staging-cluster', namespace: 'shop-staging', protected: false})
    expect(env.services).to.deep.equal({})
    expect(env.notify).to.equal(undefined)
    expect(connectionOnly?.errors).to.have.length(2)
    expect(warnings).to.have.length(1)
    // Without the 29 keys a service allows (`config validate` lists them): the warning stays readable.
    expect(warnings[0]).to.not.contain('allowed keys')
    expect(warnings[0]).to.match(
      /^\S*skycap\.yaml is invalid: \S*skycap\.yaml:6:5: unknown key "replcas" in services\.web \(did you mean "replicas"\?\) \(and 1 more problem\)\. rollback used only its app, and environment staging's context, namespace and protected\. Fix the file before the next deploy \(`skycap config validate` lists every problem\)\.$/,
    )
    const prod = await open(text.replace('maxReplicas: -3', 'maxReplicas: 3'), {environment: 'prod'})
    expect(prod.env).to.include({name: 'prod', context: 'prod-cluster', namespace: 'shop-prod', protected: true})
    expect(prod.warnings[0]).to.contain('skycap.yaml:6:5: unknown key "replcas" in services.web').and.contain("environment prod's context").and.not.contain('more problem')
  })

  it('names what the command did not use, when the file sets it', async () => {
    const text = `${VALID.replace('    replicas: 2', '    replcas: 2')}history: {keep: 30}\n`
    const {warnings, connectionOnly} = await open(text, {
      notUsed: [
        [['history', 'keep'], 'history.keep (kept all)'],
        [['notify'], 'notify (none sent)'],
      ],
    })
    expect(warnings[0]).to.contain('Not used: history.keep (kept all). Fix the file')
    expect(connectionOnly?.has(['history', 'keep'])).to.equal(true)
    expect(connectionOnly?.has(['notify'])).to.equal(false)
  })

  it("keeps the file's errors when the connection cannot be read (a syntax error inside environments, the environment's own block invalid), says an environment not in the file is unknown, a command that is not lenient", async () => {
    const broken = VALID.replace('    namespace: shop-prod', '    namespace: [shop-prod')
    const syntax = await failure(open(broken))
    expect(syntax).to.be.instanceOf(ConfigErrors)
    expect((syntax as ConfigErrors).message).to.match(/skycap\.yaml:1[34]:\d+: invalid YAML/)
    const unknownKey = VALID.replace('    replicas: 2', '    replcas: 2')
    // An environment not in the file is said as such (only the file's problem was, and the unknown environment came
    // once it was fixed).
    const missing = await failure(open(unknownKey, {environment: 'dev'}))
    expect(missing).to.be.instanceOf(UserError)
    expect((missing as UserError).message).to.equal('unknown environment "dev"')
    expect((missing as UserError).hint).to.match(/^Known environments in \S*skycap\.yaml: staging, prod\.$/)
    const own = await failure(open(unknownKey.replace('    context: staging-cluster', '    contxt: staging-cluster')))
    expect((own as ConfigErrors).message).to.contain('unknown key "contxt" in environments.staging')
    const strict = await failure(open(unknownKey, {lenient: false}))
    expect(strict).to.be.instanceOf(ConfigErrors)
  })
})
