import {expect} from 'chai'

import {handAppliedNote, handAppliedRemovals, handSetFields, handSetNote, pausedNote, refusePaused} from '../../../src/deploy/drift.js'
import {UserError} from '../../../src/errors.js'
import {Kubectl} from '../../../src/kubectl/kubectl.js'
import type {KubeObject} from '../../../src/render/objects.js'

// managedFields as the test cluster's API server (v1.33) wrote them for a Deployment applied by skycap, then changed
// with `kubectl set env deployment/web DEBUG=1`, `kubectl set image deployment/web web=nginx:2`, `kubectl label
// deployment/web team=x`, `kubectl rollout restart` and `kubectl rollout pause`.
const managedFields = [
  {
    manager: 'skycap',
    operation: 'Apply',
    fieldsV1: {
      'f:metadata': {'f:labels': {'f:app': {}}},
      'f:spec': {
        'f:replicas': {},
        'f:selector': {},
        'f:template': {
          'f:metadata': {'f:labels': {'f:app': {}}},
          'f:spec': {'f:containers': {'k:{"name":"web"}': {'.': {}, 'f:env': {'k:{"name":"A"}': {'.': {}, 'f:name': {}, 'f:value': {}}}, 'f:name': {}}}},
        },
      },
    },
  },
  {
    manager: 'kube-controller-manager',
    operation: 'Update',
    subresource: 'status',
    fieldsV1: {'f:metadata': {'f:annotations': {'.': {}, 'f:deployment.kubernetes.io/revision': {}}}, 'f:status': {'f:replicas': {}}},
  },
  {manager: 'kubectl-label', operation: 'Update', fieldsV1: {'f:metadata': {'f:labels': {'f:team': {}}}}},
  {
    manager: 'kubectl-rollout',
    operation: 'Update',
    fieldsV1: {'f:spec': {'f:paused': {}, 'f:template': {'f:metadata': {'f:annotations': {'.': {}, 'f:kubectl.kubernetes.io/restartedAt': {}}}}}},
  },
  {
    manager: 'kubectl-set',
    operation: 'Update',
    fieldsV1: {'f:spec': {'f:template': {'f:spec': {'f:containers': {'k:{"name":"web"}': {'f:env': {'k:{"name":"DEBUG"}': {'.': {}, 'f:name': {}, 'f:value': {}}}, 'f:image': {}}}}}}},
  },
  // An HPA's scale of the Deployment: a controller's, and the scale subresource.
  {manager: 'kubectl-scale', operation: 'Update', subresource: 'scale', fieldsV1: {'f:spec': {'f:replicas': {}}}},
]

const applied = (env: Array<{name: string; value: string}>, labels: Record<string, string> = {app: 'web'}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {name: 'web', labels},
  spec: {replicas: 1, selector: {matchLabels: {app: 'web'}}, template: {metadata: {labels: {app: 'web'}}, spec: {containers: [{name: 'web', image: 'nginx', env}]}}},
})

const live = (paused = true): KubeObject =>
  ({
    ...applied([
      {name: 'A', value: '1'},
      {name: 'DEBUG', value: '1'},
    ]),
    metadata: {name: 'web', labels: {app: 'web', team: 'x'}, managedFields},
    spec: {replicas: 1, paused},
  }) as KubeObject

describe('fields set by hand with kubectl, which a deploy keeps', () => {
  it('names what kubectl set and the applied object does not, by command; fields the release sets, controllers’ and ignored ones are left out', () => {
    const found = handSetFields([live()], [applied([{name: 'A', value: '1'}])])
    // The image kubectl-set changed is set by the release: the apply takes it back. The restart annotation, the pause
    // (refused on its own), the status and the scale subresource are not named.
    expect(found).to.deep.equal([
      {ref: 'Deployment/web', manager: 'kubectl-label', fields: ['metadata.labels.team']},
      {ref: 'Deployment/web', manager: 'kubectl-set', fields: ['spec.template.spec.containers[web].env[DEBUG]']},
    ])
    // A release that sets the variable (and the label) makes them its own: nothing is named for them.
    const owned = handSetFields(
      [live()],
      [
        applied(
          [
            {name: 'A', value: '1'},
            {name: 'DEBUG', value: '0'},
          ],
          {app: 'web', team: 'y'},
        ),
      ],
    )
    expect(owned).to.deep.equal([])
    // A container without any variable in the release: the variable is named, not the whole list.
    const bare = applied([])
    delete (bare.spec as any).template.spec.containers[0].env
    expect(handSetFields([live()], [bare]).map((f) => f.fields)).to.deep.equal([['metadata.labels.team'], ['spec.template.spec.containers[web].env[DEBUG]']])
    // A plain `kubectl apply` by hand: kubectl's server-side apply takes its fields over and removes the rest, so
    // nothing of it stays (the warning named them, and the deploy removed them); a hand `apply --server-side` stays.
    const handApplied = (manager: string) =>
      ({
        ...live(),
        metadata: {name: 'web', managedFields: [{manager, operation: manager === 'kubectl' ? 'Apply' : 'Update', fieldsV1: {'f:metadata': {'f:labels': {'f:csa': {}}}}}]},
      }) as KubeObject
    expect(handSetFields([handApplied('kubectl-client-side-apply')], [applied([])])).to.deep.equal([])
    expect(handSetFields([handApplied('before-first-apply')], [applied([])])).to.deep.equal([])
    expect(handSetFields([handApplied('kubectl')], [applied([])])).to.deep.equal([{ref: 'Deployment/web', manager: 'kubectl', fields: ['metadata.labels.csa']}])
    // A live object the release does not apply, or one with no managedFields (an older kubectl's get), names nothing.
    expect(handSetFields([live()], [{...applied([]), kind: 'StatefulSet'}])).to.deep.equal([])
    expect(handSetFields([{...live(), metadata: {name: 'web'}}], [applied([])])).to.deep.equal([])
  })

  it('a container the release no longer has is named whole; list items by their keys, sets by value', () => {
    const object = {
      ...applied([]),
      metadata: {
        name: 'web',
        managedFields: [
          {
            manager: 'kubectl-edit',
            operation: 'Update',
            fieldsV1: {
              'f:spec': {
                'f:template': {
                  'f:spec': {
                    'f:containers': {'k:{"name":"sidecar"}': {'.': {}, 'f:image': {}, 'f:name': {}}, 'k:{"name":"web"}': {'f:ports': {'k:{"containerPort":9090,"protocol":"TCP"}': {'.': {}}}}},
                  },
                },
              },
              'f:metadata': {'f:finalizers': {'.': {}, 'v:"example.com/keep"': {}}},
            },
          },
        ],
      },
    } as KubeObject
    expect(handSetFields([object], [applied([])])).to.deep.equal([
      {
        ref: 'Deployment/web',
        manager: 'kubectl-edit',
        fields: ['spec.template.spec.containers[sidecar]', 'spec.template.spec.containers[web].ports[9090,TCP]', 'metadata.finalizers[example.com/keep]'],
      },
    ])
  })

  it('the warning says what stays, by which command, and what to do', () => {
    const note = handSetNote(handSetFields([live()], [applied([{name: 'A', value: '1'}])]), new Kubectl({context: 'prod ctx', namespace: 'shop'}), 'this rollback')
    expect(note).to.equal(
      "this rollback keeps fields set by hand with kubectl, which the release does not set: Deployment/web metadata.labels.team (set by kubectl-label); Deployment/web spec.template.spec.containers[web].env[DEBUG] (set by kubectl-set). skycap changes only the fields its manifests set; remove these with kubectl (`kubectl set env deployment/NAME VAR- -n shop --context 'prod ctx'`, `kubectl edit deployment/NAME -n shop --context 'prod ctx'`), or set them in skycap.yaml or the templates to make them the release's",
    )
    const many = handSetNote([{ref: 'Service/web', manager: 'kubectl-edit', fields: ['a', 'b', 'c', 'd', 'e', 'f']}], new Kubectl())
    expect(many).to.contain('Service/web a, b, c, d, … (6 in all) (set by kubectl-edit)')
  })
})

describe('a Deployment paused by hand', () => {
  // The resume command names the context: pasted where another context is current, it resumed nothing (or another cluster's).
  const shop = new Kubectl({context: 'mc-prod', namespace: 'shop'})
  it('refuses the deploy or rollback before any change, naming the resume command; diff warns', () => {
    let refusal: unknown
    try {
      refusePaused([live(), {...live(), metadata: {name: 'api'}}], [applied([]), {...applied([]), metadata: {name: 'api'}}], 'prod', shop, 'deploy')
    } catch (error) {
      refusal = error
    }
    expect(refusal).to.be.instanceOf(UserError)
    expect((refusal as UserError).exitCode).to.equal(2)
    expect((refusal as UserError).message).to.equal(
      'Deployment/web, Deployment/api in namespace shop are paused (kubectl rollout pause): the controller rolls out nothing while they are paused, so this deploy of prod would wait until its timeout; nothing was changed',
    )
    expect((refusal as UserError).hint).to.equal(
      'Resume them with `kubectl rollout resume deployment/web -n shop --context mc-prod`, `kubectl rollout resume deployment/api -n shop --context mc-prod`, then run the deploy again.',
    )
    expect(() => refusePaused([live()], [applied([])], 'prod', shop, 'rollback')).to.throw(UserError, /^Deployment\/web in namespace shop is paused .*so this rollback of prod would wait/)
    // Not paused, or not the release's: nothing to refuse.
    expect(() => refusePaused([live(false)], [applied([])], 'prod', shop, 'deploy')).not.to.throw()
    expect(() => refusePaused([live()], [{...applied([]), metadata: {name: 'api'}}], 'prod', shop, 'deploy')).not.to.throw()
    expect(pausedNote([live()], [applied([])], shop)).to.equal(
      'a deploy would be refused: Deployment/web in namespace shop is paused (kubectl rollout pause): the controller rolls out nothing while it is paused; resume it with `kubectl rollout resume deployment/web -n shop --context mc-prod`',
    )
    expect(pausedNote([live(false)], [applied([])], shop)).to.equal(undefined)
  })
})

describe('fields a hand `kubectl apply` set, which a deploy removes (its dry run and diff do not show it)', () => {
  // A ConfigMap made with a plain `kubectl apply` (data A, OLD_FLAG and a label), with one key a controller also
  // writes, as the API server records them; the release sets data A only.
  const live = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: 'settings',
      managedFields: [
        {
          manager: 'kubectl-client-side-apply',
          operation: 'Update',
          fieldsV1: {
            'f:data': {'.': {}, 'f:A': {}, 'f:OLD_FLAG': {}, 'f:SHARED': {}},
            'f:metadata': {'f:annotations': {'.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {}}, 'f:labels': {'.': {}, 'f:team': {}}},
          },
        },
        {manager: 'operator', operation: 'Update', fieldsV1: {'f:data': {'f:SHARED': {}}}},
      ],
    },
    data: {A: '1', OLD_FLAG: 'yes', SHARED: 'x'},
  } as unknown as KubeObject
  const applied = {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'settings'}, data: {A: '1'}} as unknown as KubeObject

  it("names what only the hand apply holds and the release does not set; not a field another manager holds, nor kubectl's own record", () => {
    const found = handAppliedRemovals([live], [applied])
    expect(found).to.deep.equal([{ref: 'ConfigMap/settings', manager: 'kubectl apply', fields: ['data.OLD_FLAG', 'metadata.labels.team']}])
    expect(handAppliedNote(found, 'a deploy')).to.equal(
      'a deploy removes fields a hand `kubectl apply` set that the release does not set: ConfigMap/settings data.OLD_FLAG, metadata.labels.team (kubectl hands them to skycap as it applies, which its dry run and diff do not show); set them in the templates or skycap.yaml to keep them',
    )
    // Once the release sets them, or without a hand apply (a server-side one stays: handSetFields), nothing.
    expect(handAppliedRemovals([live], [{...applied, metadata: {name: 'settings', labels: {team: 'a'}}, data: {A: '1', OLD_FLAG: 'no'}} as KubeObject])).to.deep.equal([])
    const serverSide = {...live, metadata: {...live.metadata, managedFields: [{manager: 'kubectl', operation: 'Apply', fieldsV1: {'f:data': {'f:OLD_FLAG': {}}}}]}} as KubeObject
    expect(handAppliedRemovals([serverSide], [applied])).to.deep.equal([])
  })

  it("a Secret's key the release gives in stringData is set, not removed (the API server keeps it in data, which the hand apply owns)", () => {
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'handmade',
        managedFields: [{manager: 'kubectl-client-side-apply', operation: 'Update', fieldsV1: {'f:data': {'.': {}, 'f:password': {}, 'f:old': {}}, 'f:type': {}}}],
      },
      data: {password: 'aGFuZG1hZGU=', old: 'eA=='},
      type: 'Opaque',
    } as unknown as KubeObject
    const release = {apiVersion: 'v1', kind: 'Secret', metadata: {name: 'handmade'}, stringData: {password: 'new'}, type: 'Opaque'} as unknown as KubeObject
    expect(handAppliedRemovals([secret], [release])).to.deep.equal([{ref: 'Secret/handmade', manager: 'kubectl apply', fields: ['data.old']}])
    expect(handAppliedRemovals([secret], [{...release, data: {old: 'eQ=='}} as KubeObject])).to.deep.equal([])
  })
})
