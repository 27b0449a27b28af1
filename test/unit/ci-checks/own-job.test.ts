import {expect} from 'chai'

import {checkStates, ownJob, requireGreenChecks} from '../../../src/ci-checks/checks.js'
import {rejectsWithUserError} from '../../helpers/errors.js'
import {checkRun, commitStatus, GithubApiServer} from '../../helpers/github-api.js'

const SHA = 'a'.repeat(40)

// The workflow `skycap init --ci github` writes runs `skycap deploy ENV --yes` in a job (deploy-ENV) whose check run
// is in progress while it deploys: without this, requireChecks would refuse every deploy of that pipeline.
describe('requireChecks in GitHub Actions: the job that deploys', () => {
  let api: GithubApiServer
  before(async () => {
    api = await GithubApiServer.start()
  })
  after(() => api.close())

  it('is the check run named $GITHUB_JOB, only in GitHub Actions and for the commit the job runs for', () => {
    const actions = {GITHUB_ACTIONS: 'true', GITHUB_JOB: 'deploy-staging', GITHUB_SHA: SHA}
    expect(ownJob(actions, SHA)).to.equal('deploy-staging')
    expect(ownJob(actions, 'b'.repeat(40))).to.equal(undefined)
    expect(ownJob({...actions, GITHUB_ACTIONS: ''}, SHA)).to.equal(undefined)
    expect(ownJob({GITHUB_ACTIONS: 'true', GITHUB_SHA: SHA}, SHA)).to.equal(undefined)
  })

  it('leaves out its check run while it runs; a completed run of that name still counts', () => {
    const runs = [checkRun('deploy-staging', 'in_progress'), checkRun('build', 'completed', 'success')]
    expect(checkStates([], runs, [], 'deploy-staging').map((c) => c.name)).to.deep.equal(['build'])
    expect(checkStates([], [checkRun('deploy-staging', 'completed', 'failure')], [], 'deploy-staging').map((c) => [c.name, c.green])).to.deep.equal([['deploy-staging', false]])
  })

  it('deploys from the pipeline init writes without an ignore entry; elsewhere the running job still blocks', async () => {
    api.commits.set(SHA, {statuses: [commitStatus('ci/test', 'success')], checkRuns: [checkRun('build', 'completed', 'success'), checkRun('deploy-staging', 'in_progress')]})
    const revision = {sha: SHA, short: 'aaaaaaa'}
    const inJob = {env: {...api.env(), GITHUB_ACTIONS: 'true', GITHUB_JOB: 'deploy-staging', GITHUB_SHA: SHA}, remoteUrl: async () => undefined}
    const verdict = await requireGreenChecks({ignore: []}, revision, inJob)
    expect(verdict.checks.map((c) => c.name)).to.deep.equal(['ci/test', 'build'])
    const refused = await rejectsWithUserError(requireGreenChecks({ignore: []}, revision, {env: api.env(), remoteUrl: async () => undefined}))
    expect(refused.message).to.contain('deploy-staging in_progress')
  })
})
