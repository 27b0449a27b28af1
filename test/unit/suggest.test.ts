import {expect} from 'chai'

import {closest, didYouMean, editDistance} from '../../src/suggest.js'

describe('did-you-mean (edit distance)', () => {
  it('counts insertions, deletions, substitutions and swapped neighbours as one edit each', () => {
    expect(editDistance('deploy', 'deploy')).to.equal(0)
    expect(editDistance('deplyo', 'deploy')).to.equal(1)
    expect(editDistance('dry-rn', 'dry-run')).to.equal(1)
    expect(editDistance('replcas', 'replicas')).to.equal(1)
    expect(editDistance('prdo', 'prod')).to.equal(1)
    expect(editDistance('stagign', 'staging')).to.equal(1)
    expect(editDistance('kitten', 'sitting')).to.equal(3)
    expect(editDistance('', 'abc')).to.equal(3)
    expect(editDistance('abc', '')).to.equal(3)
  })

  it('suggests the closest known name, and nothing when none is near', () => {
    expect(closest('deplyo', ['diff', 'deploy', 'down'])).to.equal('deploy')
    expect(closest('prd', ['dev', 'staging', 'prod'])).to.equal('prod')
    expect(closest('Prod', ['dev', 'staging', 'prod'])).to.equal('prod')
    expect(closest('--dry-rn', ['--yes', '--dry-run', '--timeout'])).to.equal('--dry-run')
    expect(closest('qa', ['dev', 'staging', 'prod'])).to.equal(undefined)
    expect(closest('frobnicate', ['deploy', 'render'])).to.equal(undefined)
    // The name itself is no suggestion.
    expect(closest('prod', ['prod'])).to.equal(undefined)
    // A tie goes to the first listed.
    expect(closest('wab', ['web', 'wac'])).to.equal('web')
  })

  it('phrases the suggestion for an error message', () => {
    expect(didYouMean('wbe', ['web', 'worker'])).to.equal('; did you mean "web"?')
    expect(didYouMean('zzz', ['web', 'worker'])).to.equal('')
    expect(didYouMean('--jsn', ['--json'], (n) => n)).to.equal('; did you mean --json?')
  })
})
