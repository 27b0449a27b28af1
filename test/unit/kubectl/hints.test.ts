import {expect} from 'chai'
import {readdirSync, readFileSync} from 'node:fs'
import {join, relative} from 'node:path'

import {refusePaused} from '../../../src/deploy/drift.js'
import {serviceStatus} from '../../../src/deploy/inspect.js'
import {KubectlError, UserError} from '../../../src/errors.js'
import {classify, Kubectl, kubectlCommand} from '../../../src/kubectl/kubectl.js'
import type {KubeObject} from '../../../src/render/objects.js'
import {statusOf} from '../../../src/resources/kinds.js'
import {ClusterSnapshot} from '../../../src/resources/status.js'
import {repoRoot} from '../../helpers/repo.js'

/** Mentions of a kind of kubectl command, not one to paste: "a hand `kubectl apply`", "set by hand (`kubectl set image`?)". */
const MENTIONS = new Set(['apply', 'set image'])

/** The kubectl commands written out by hand in the strings of src/ and commands/, as `file:line: text`. */
function handBuilt(): string[] {
  const found: string[] = []
  for (const folder of ['src', 'commands']) {
    for (const entry of readdirSync(join(repoRoot, folder), {recursive: true, withFileTypes: true})) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue
      const file = join(entry.parentPath, entry.name)
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((raw, index) => {
          // Comments quote kubectl commands freely; a ` // ` comment after code too (not a URL's //).
          if (/^\s*(\/\/|\/?\*)/.test(raw)) return
          const line = raw.replace(/\s\/\/\s.*$/, '')
          const commands = [
            // `…\`kubectl get pods\`…` in a template literal, '…`kubectl get pods`…' in a plain string.
            ...[...line.matchAll(/\\`kubectl ([^`\\]*)\\`/g), ...line.matchAll(/'[^'`]*`kubectl ([^`\\]*)`[^'`]*'/g)].map((m) => m[1] as string),
            // A command given names and flags by hand, quoted or not: `kubectl delete namespace ${ns}`, `kubectl --context ${c} …`.
            ...[...line.matchAll(/kubectl ((?:create|delete|get|describe|logs|rollout|set|edit|patch|scale|label|annotate|cluster-info|-n|--context|--namespace)\b[\w/ .=-]*\$\{)/g)].map(
              (m) => m[1] as string,
            ),
          ]
          // `\`kubectl${context ? …}` …\``: flags put together by hand.
          if (line.includes('\\`kubectl${')) commands.push('${…')
          for (const command of commands) {
            // kubectl config acts on the kubeconfig, not on a context's cluster (but `config view --minify` shows one context).
            if (MENTIONS.has(command) || (command.startsWith('config ') && !command.startsWith('config view'))) continue
            found.push(`${relative(repoRoot, file)}:${index + 1}: kubectl ${command}`)
          }
        })
    }
  }
  return found
}

describe('kubectl commands in hints and messages', () => {
  it('are all built by kubectlCommand or Kubectl.shown, which name the context and namespace: a pasted command ran against whatever context was current', () => {
    expect(handBuilt()).to.deep.equal([])
  })

  it('quote a context or namespace as a shell needs it', () => {
    expect(kubectlCommand('cluster-info', {context: 'dead ctx'})).to.equal("kubectl cluster-info --context 'dead ctx'")
    expect(kubectlCommand('get pods', {context: "it's $HOME", namespace: 'shop'})).to.equal(`kubectl get pods -n shop --context 'it'\\''s $HOME'`)
    expect(new Kubectl({context: 'arn:aws:eks:eu-west-1:1:cluster/prod', namespace: 'shop'}).shown('get pods')).to.equal('kubectl get pods -n shop --context arn:aws:eks:eu-west-1:1:cluster/prod')
    expect(new Kubectl().shown('get pods')).to.equal('kubectl get pods')
  })

  it("kubectl's refusals name the call's context and namespace: the StatefulSet delete after a selector change, the namespace's quota, the server address", () => {
    const statefulSet = classify(
      ['apply', '--server-side', '-f', '-'],
      "The StatefulSet \"db\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden\nThe StatefulSet \"db\" is invalid: spec.selector: Invalid value: {}: field is immutable",
      'my ctx',
      'shop',
    )
    expect(statefulSet.hint).to.contain("`kubectl delete statefulset db --cascade=orphan -n shop --context 'my ctx'`")
    const quota = classify(['apply', '-f', '-'], 'Error from server (Forbidden): pods "x" is forbidden: exceeded quota: q', 'mc-prod', 'shop')
    expect(quota.hint).to.contain('`kubectl describe resourcequota -n shop --context mc-prod`')
    const down = classify(['get', 'pods'], 'The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?', 'dead ctx', 'shop')
    expect(down.hint).to.contain("(`kubectl cluster-info --context 'dead ctx'`)")
  })

  it("a paused Deployment: deploy's refusal, the watch and status name the resume command with the context and namespace", () => {
    const kubectl = new Kubectl({context: 'mc-prod', namespace: 'shop'})
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {name: 'web', namespace: 'shop', uid: 'u1', generation: 1},
      spec: {paused: true, replicas: 1},
      status: {observedGeneration: 1},
    } as KubeObject
    const resume = '`kubectl rollout resume deployment/web -n shop --context mc-prod`'
    const refusal = (() => {
      try {
        refusePaused([deployment], [deployment], 'prod', kubectl, 'deploy')
      } catch (error) {
        return error as UserError
      }
      return undefined
    })()
    expect(refusal?.hint).to.contain(resume)
    expect(statusOf(deployment, new ClusterSnapshot([deployment], undefined, 0, kubectl)).message).to.contain(resume)
    expect(serviceStatus('web', deployment, new ClusterSnapshot([deployment], undefined, undefined, kubectl), 0).waiting).to.contain(resume)
  })

  it("an unknown context stays a KubectlError of kind no_context in either of kubectl's words", () => {
    for (const stderr of ['error: context "old" does not exist', 'Error in configuration: context was not found for specified context: old']) {
      const error = classify(['get', 'namespace', 'x'], stderr, 'old')
      expect(error, stderr).to.be.instanceOf(KubectlError)
      expect((error as KubectlError).kind, stderr).to.equal('no_context')
    }
  })
})
