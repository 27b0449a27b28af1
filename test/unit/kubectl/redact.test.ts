import {expect} from 'chai'

import {KubectlError} from '../../../src/errors.js'
import {SecretRedactor} from '../../../src/kubectl/redact.js'
import {fakeKubectl} from '../../helpers/fake-kubectl.js'

const b64 = (s: string) => Buffer.from(s).toString('base64')

// A List as deploy and diff send it: a Secret with a number, a map, a multi-line and a base64 value.
const input = JSON.stringify({
  apiVersion: 'v1',
  kind: 'List',
  items: [
    {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'web-config'}, data: {greeting: 'hello'}},
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {name: 'db'},
      stringData: {PIN: 98765432101, NESTED: {user: 'admin-user-name', token: 'tok-5551234'}, PEM: '-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34\n-----END KEY-----', X: 'ab'},
      data: {PASSWORD: b64('s3cret-db-password')},
    },
  ],
})

// Everything that must not survive, in the forms kubectl and the API server print.
const LEAKS = ['98765432101', '9.8765432101e+10', 'admin-user-name', 'tok-5551234', 'MIIBOgIBAAJBAKj34', 's3cret-db-password', b64('s3cret-db-password'), b64('tok-5551234')]

const STDERR = [
  'Error from server (BadRequest): error when creating "STDIN": Secret in version "v1" cannot be handled as a Secret: json: cannot unmarshal number into Go struct field Secret.stringData of type string',
  'error: .stringData.PIN: expected string, got &value.valueUnstructured{Value:98765432101}',
  'error: .stringData.PIN: expected string, got &value.valueUnstructured{Value:9.8765432101e+10}',
  'error: .stringData.NESTED: expected string, got &value.valueUnstructured{Value:map[string]interface {}{"token":"tok-5551234", "user":"admin-user-name"}}',
  `data.PASSWORD: Invalid value: "${b64('s3cret-db-password')}" (decoded: s3cret-db-password)`,
  `stringData.NESTED.token as base64: ${b64('tok-5551234')}`,
  'a key line: MIIBOgIBAAJBAKj34 and "MIIBOgIBAAJBAKj34"',
  'short values only when quoted: X="ab", about the lab',
].join('\n')

describe('kubectl: Secret values never leave kubectl', () => {
  it('removes numbers (also as Go prints a float), map values, multi-line, raw and base64 forms; keeps the message readable', () => {
    const out = SecretRedactor.forInput(input).redact(STDERR)
    for (const leak of LEAKS) expect(out, leak).to.not.contain(leak)
    expect(out).to.contain('error: .stringData.PIN: expected string, got &value.valueUnstructured{Value:(redacted)}')
    expect(out).to.contain('.stringData.NESTED: expected string, got &value.valueUnstructured{Value:(redacted)}\n')
    expect(out).to.contain('X="(redacted)", about the lab')
    expect(out).to.contain('cannot unmarshal number into Go struct field Secret.stringData of type string')
  })

  it('classified errors, their hint and their stderr hold no value (a deploy dry run that kubectl refuses)', async () => {
    const argv = ['--context', 'prod', '--namespace', 'shop', '--request-timeout=30s', 'apply', '-f', '-']
    const fake = fakeKubectl([{argv, result: {exitCode: 1, stderr: STDERR}}], {context: 'prod', namespace: 'shop'})
    const error = await fake.kubectl.run(['apply', '-f', '-'], {input}).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(KubectlError)
    const e = error as KubectlError
    const everything = JSON.stringify({message: e.message, hint: e.hint, details: e.details, stderr: e.stderr, stack: e.stack})
    for (const leak of LEAKS) expect(everything, leak).to.not.contain(leak)
    expect(e.message).to.contain('Secret in version "v1" cannot be handled as a Secret')
  })

  it('also redacts what allowFailure returns (diff reads stdout and stderr itself)', async () => {
    const argv = ['--request-timeout=30s', 'diff', '-f', '-']
    const fake = fakeKubectl([{argv, result: {exitCode: 2, stdout: '+  PIN: 98765432101\n', stderr: STDERR}}])
    const r = await fake.kubectl.run(['diff', '-f', '-'], {input, allowFailure: true})
    for (const leak of LEAKS) expect(r.stdout + r.stderr, leak).to.not.contain(leak)
  })

  it('leaves output alone when the input has no Secret values', async () => {
    const text = 'error: .data.port: expected string, got &value.valueUnstructured{Value:8080}'
    expect(SecretRedactor.forInput(JSON.stringify({kind: 'ConfigMap', data: {port: 8080}})).redact(text)).to.equal(text)
    expect(SecretRedactor.forInput(undefined).redact(text)).to.equal(text)
    expect(SecretRedactor.forInput('not json "Secret"').redact(text)).to.equal(text)
  })

  it('redacts a single Secret object (not a List) and a dump that is cut off', () => {
    const one = JSON.stringify({kind: 'Secret', metadata: {name: 's'}, stringData: {K: {deep: ['list-value-1']}}})
    const out = SecretRedactor.forInput(one).redact('got &value.valueUnstructured{Value:map[string]interface {}{"deep":[]interface {}{"list-value-1"')
    expect(out).to.not.contain('list-value-1')
    expect(out).to.equal('got &value.valueUnstructured{Value:(redacted)')
  })
})
