import {expect} from 'chai'

import {splitCommand} from '../../../commands/_command-line.js'
import {classify, cutGoValues} from '../../../src/kubectl/kubectl.js'
import {choosePod, forwardTarget} from '../../../src/tasks/pods.js'
import {parsePorts} from '../../../src/tasks/port-forward.js'
import {fakeKubectl} from '../../helpers/fake-kubectl.js'

const pod = (name: string, created: string, ready: boolean, deleting = false) => ({
  kind: 'Pod',
  metadata: {name, creationTimestamp: created, ...(deleting ? {deletionTimestamp: created} : {})},
  status: {conditions: [{type: 'Ready', status: ready ? 'True' : 'False'}]},
})
const SELECTOR = 'app.kubernetes.io/instance=shop-staging,app.kubernetes.io/name=web'

describe('tasks: command lines', () => {
  it('splits at the first --, keeps the command untouched, and reads -it as -i -t', () => {
    expect(splitCommand(['web', '-it', '-e', 'prod', '--', 'bin/console', '--', '-it'])).to.deep.equal({own: ['web', '-i', '-t', '-e', 'prod'], command: ['bin/console', '--', '-it']})
    expect(splitCommand(['web'])).to.deep.equal({own: ['web'], command: []})
  })

  it('ports are [LOCAL:]REMOTE', () => {
    expect(parsePorts('8080')).to.deep.equal({local: 8080, remote: 8080})
    expect(parsePorts('5433:5432')).to.deep.equal({local: 5433, remote: 5432})
    expect(parsePorts('0:80')).to.deep.equal({local: 0, remote: 80})
    for (const bad of ['', 'http', '70000', '1:2:3', ':80', '80:0']) expect(() => parsePorts(bad), bad).to.throw('is not [LOCAL:]REMOTE ports')
  })
})

describe('tasks: choosing the pod', () => {
  it('picks the oldest ready pod of the service in the environment, never one being deleted', async () => {
    const items = [pod('web-b', '2026-01-02', true), pod('web-a', '2026-01-01', true, true), pod('web-c', '2026-01-01', true), pod('web-d', '2025-01-01', false)]
    const fake = fakeKubectl([{argv: ['--request-timeout=30s', 'get', 'pods', '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items})}}])
    expect(await choosePod(fake.kubectl, 'shop', 'staging', 'web')).to.equal('web-c')
  })

  it('refuses --pod that is not one of the service pods in this environment, and says when none is ready', async () => {
    const items = [pod('web-b', '2026-01-02', false)]
    const answer = {stdout: JSON.stringify({items})}
    const argv = ['--request-timeout=30s', 'get', 'pods', '-l', SELECTOR, '-o', 'json']
    const fake = fakeKubectl([
      {argv, result: answer},
      {argv, result: answer},
      {argv, result: answer},
    ])
    expect(await choosePod(fake.kubectl, 'shop', 'staging', 'web', 'web-b')).to.equal('web-b')
    const other = await choosePod(fake.kubectl, 'shop', 'staging', 'web', 'api-x').catch((e: Error) => e)
    expect((other as Error).message).to.equal('pod api-x is not a pod of web in staging')
    const none = await choosePod(fake.kubectl, 'shop', 'staging', 'web').catch((e: Error) => e)
    expect((none as Error).message).to.equal('no ready pod of web in staging')
  })

  it('forwards to the service own Service when it has one, else to a pod', async () => {
    const svcArgv = ['--request-timeout=30s', 'get', 'services', '-l', SELECTOR, '-o', 'json']
    const withService = fakeKubectl([{argv: svcArgv, result: {stdout: JSON.stringify({items: [{kind: 'Service', metadata: {name: 'web'}}]})}}])
    expect(await forwardTarget(withService.kubectl, 'shop', 'staging', 'web')).to.equal('service/web')
    const without = fakeKubectl([
      {argv: svcArgv, result: {stdout: '{"items":[]}'}},
      {argv: ['--request-timeout=30s', 'get', 'pods', '-l', SELECTOR, '-o', 'json'], result: {stdout: JSON.stringify({items: [pod('web-1', 't', true)]})}},
    ])
    expect(await forwardTarget(without.kubectl, 'shop', 'staging', 'web')).to.equal('pod/web-1')
  })
})

describe('kubectl rejections in one sentence', () => {
  const DUMP =
    'spec.template: Invalid value: core.PodTemplateSpec{ObjectMeta:v1.ObjectMeta{Name:"", Labels:map[string]string{"a":"b}"}}, Spec:core.PodSpec{Volumes:[]core.Volume(nil), Containers:[]core.Container{core.Container{Name:"m"}}}}'

  it('a changed template Job: one sentence, and a hint to put {{ revision.short }} in its name', () => {
    const error = classify(
      ['apply', '--server-side', '-f', '-', '--dry-run=server'],
      `Error from server (Invalid): error when applying patch:\nJob.batch "migrate" is invalid: ${DUMP}: field is immutable\n`,
      'prod',
    )
    expect(error.message).to.equal('kubectl apply failed (context prod): the Job "migrate" cannot be changed in place (spec.template is immutable once created)')
    expect(error.hint).to.include('name: migrate-{{ revision.short }}')
    expect(error.exitCode).to.equal(2)
    const selector = classify(['apply'], `The Deployment "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"a":"b"}}: field is immutable`)
    expect(selector.message).to.equal('kubectl apply failed: the Deployment "web" cannot be changed in place (spec.selector is immutable once created)')
    expect(selector.hint).to.match(/^Delete Deployment\/web/)
  })

  it('Go value dumps are cut to their type, whatever the message', () => {
    expect(cutGoValues(`x: ${DUMP}: bad`)).to.equal('x: spec.template: Invalid value: core.PodTemplateSpec{…}: bad')
    expect(cutGoValues('a []core.EnvVar{core.EnvVar{Name:"}"}} b map[string]string{"k":"v"} c')).to.equal('a []core.EnvVar{…} b map[string]string{…} c')
    expect(cutGoValues('no dump {here}')).to.equal('no dump {here}')
    const other = classify(['apply'], `Error from server (Invalid): The Pod "p" is invalid: ${DUMP}: something else`)
    expect(other.message).to.not.include('ObjectMeta')
  })
})
