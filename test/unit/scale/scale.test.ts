import {expect} from 'chai'

import {UserError} from '../../../src/errors.js'
import {MAX_REPLICAS, parseReplicas, scale} from '../../../src/scale/scale.js'
import {memoryReporter} from '../../../src/ui/output.js'
import {fakeKubectl} from '../../helpers/fake-kubectl.js'
import {userError} from '../../helpers/errors.js'

describe('scale replicas', () => {
  it('accepts whole numbers from 0 to the int32 maximum', () => {
    expect(parseReplicas('0')).to.equal(0)
    expect(parseReplicas('5')).to.equal(5)
    expect(parseReplicas('2147483647')).to.equal(2147483647)
    expect(parseReplicas(3)).to.equal(3)
    expect(MAX_REPLICAS).to.equal(2 ** 31 - 1)
  })

  for (const input of ['abc', '-1', '1.5', '', ' 3', '1e3', '0x10']) {
    it(`refuses "${input}" as not a whole number`, () => {
      expect(userError(() => parseReplicas(input)).message).to.equal(`replicas must be a whole number, not "${input}"`)
    })
  }

  it('refuses numbers that are not whole or negative', () => {
    expect(userError(() => parseReplicas(-1)).message).to.equal('replicas must be a whole number of 0 or more, not "-1"')
    expect(userError(() => parseReplicas(Number.NaN)).message).to.equal('replicas must be a whole number of 0 or more, not "NaN"')
  })

  for (const input of ['2147483648', '99999999999999999999', 2 ** 31, Number.MAX_SAFE_INTEGER + 2]) {
    it(`refuses ${input}, above what Kubernetes accepts`, () => {
      const error = userError(() => parseReplicas(input))
      expect(error.message).to.equal(`replicas must be at most 2147483647, the largest count Kubernetes accepts, not "${input}"`)
      expect(error.hint).to.equal('Pass a whole number from 0 to 2147483647.')
    })
  }

  it('is checked by scale() before reading config or calling kubectl', async () => {
    const fake = fakeKubectl([])
    let error: unknown
    try {
      await scale({service: 'web', replicas: '99999999999999999999', configPath: '/nonexistent/skycap.yaml'}, {kubectl: () => fake.kubectl, reporter: memoryReporter()})
    } catch (e) {
      error = e
    }
    expect(error).to.be.instanceOf(UserError)
    expect((error as Error).message).to.contain('must be at most 2147483647')
    expect(fake.calls).to.deep.equal([])
  })
})
