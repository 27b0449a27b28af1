import {expect} from 'chai'

import {checkPatch, patchPodTemplate, POD_TEMPLATE_MERGE_KEYS, strategicMerge} from '../../../src/render/strategic-merge.js'

/** A pod template as the built-in Deployment template renders it. */
function template() {
  return {
    metadata: {labels: {'app.kubernetes.io/name': 'web'}, annotations: {keep: 'me', drop: 'me'}},
    spec: {
      containers: [
        {
          name: 'web',
          image: 'web:1',
          ports: [{name: 'http', containerPort: 8080, protocol: 'TCP'}],
          env: [
            {name: 'A', value: '1'},
            {name: 'B', value: '2'},
          ],
          volumeMounts: [{name: 'config', mountPath: '/etc/skycap/config', readOnly: true}],
        },
      ],
      volumes: [{name: 'config', configMap: {name: 'web-config-abc'}}],
      tolerations: [{key: 'a', operator: 'Exists'}],
    },
  }
}

describe('strategic merge of a pod template', () => {
  it('adds a sidecar container after the service container, which stays as it was', () => {
    const out = patchPodTemplate(template(), {spec: {containers: [{name: 'proxy', image: 'envoy:1', ports: [{containerPort: 9901}]}]}})
    expect(out.spec).to.deep.equal({...template().spec, containers: [template().spec.containers[0], {name: 'proxy', image: 'envoy:1', ports: [{containerPort: 9901}]}]})
  })

  it('adds a volume and a volumeMount to the service container, merging by name and mountPath', () => {
    const out = patchPodTemplate(template(), {
      spec: {
        containers: [{name: 'web', volumeMounts: [{name: 'tmp', mountPath: '/tmp'}]}],
        volumes: [{name: 'tmp', emptyDir: {medium: 'Memory'}}],
      },
    }) as any
    expect(out.spec.containers).to.have.length(1)
    expect(out.spec.containers[0].volumeMounts).to.deep.equal([
      {name: 'config', mountPath: '/etc/skycap/config', readOnly: true},
      {name: 'tmp', mountPath: '/tmp'},
    ])
    expect(out.spec.volumes).to.deep.equal([
      {name: 'config', configMap: {name: 'web-config-abc'}},
      {name: 'tmp', emptyDir: {medium: 'Memory'}},
    ])
    expect(out.spec.containers[0].image).to.equal('web:1')
  })

  it('merges an item matched by its key in place: env by name, ports by containerPort, volumeMounts by mountPath', () => {
    const out = patchPodTemplate(template(), {
      spec: {
        containers: [
          {
            name: 'web',
            env: [{name: 'A', value: 'one'}],
            ports: [{containerPort: 8080, hostPort: 80}],
            volumeMounts: [{mountPath: '/etc/skycap/config', readOnly: false}],
          },
        ],
      },
    }) as any
    const c = out.spec.containers[0]
    expect(c.env).to.deep.equal([
      {name: 'A', value: 'one'},
      {name: 'B', value: '2'},
    ])
    expect(c.ports).to.deep.equal([{name: 'http', containerPort: 8080, protocol: 'TCP', hostPort: 80}])
    expect(c.volumeMounts).to.deep.equal([{name: 'config', mountPath: '/etc/skycap/config', readOnly: false}])
  })

  it('deletes a key set to null, at any depth', () => {
    const out = patchPodTemplate(template(), {metadata: {annotations: {drop: null}}, spec: {containers: [{name: 'web', ports: null}], tolerations: null}}) as any
    expect(out.metadata.annotations).to.deep.equal({keep: 'me'})
    expect(out.spec.containers[0]).to.not.have.property('ports')
    expect(out.spec).to.not.have.property('tolerations')
  })

  it('removes a list item with $patch: delete, and ignores one that matches nothing', () => {
    const out = patchPodTemplate(template(), {
      spec: {
        containers: [
          {
            name: 'web',
            env: [
              {name: 'A', $patch: 'delete'},
              {name: 'Z', $patch: 'delete'},
            ],
          },
        ],
        volumes: [{name: 'config', $patch: 'delete'}],
      },
    }) as any
    expect(out.spec.containers[0].env).to.deep.equal([{name: 'B', value: '2'}])
    expect(out.spec.volumes).to.deep.equal([])
  })

  it('replaces a list that has no merge key (tolerations, args) instead of merging it', () => {
    const out = patchPodTemplate(template(), {spec: {tolerations: [{key: 'b', operator: 'Exists', effect: 'NoSchedule'}], containers: [{name: 'web', args: ['--x']}]}}) as any
    expect(out.spec.tolerations).to.deep.equal([{key: 'b', operator: 'Exists', effect: 'NoSchedule'}])
    expect(out.spec.containers[0].args).to.deep.equal(['--x'])
  })

  it('replaces a mapping with $patch: replace, and a merged list with a {$patch: replace} item', () => {
    const out = patchPodTemplate(template(), {
      metadata: {annotations: {$patch: 'replace', only: 'this'}},
      spec: {containers: [{name: 'web', env: [{$patch: 'replace'}, {name: 'C', value: '3'}]}]},
    }) as any
    expect(out.metadata.annotations).to.deep.equal({only: 'this'})
    expect(out.spec.containers[0].env).to.deep.equal([{name: 'C', value: '3'}])
    expect(out.metadata.labels, 'siblings still merge').to.deep.equal({'app.kubernetes.io/name': 'web'})
  })

  it('deletes a mapping with $patch: delete, and leaves no directive or null in what it adds', () => {
    const out = patchPodTemplate(template(), {
      metadata: {annotations: {$patch: 'delete'}},
      spec: {securityContext: {runAsUser: 1000, fsGroup: null}, containers: [{name: 'new', image: 'x', env: [{name: 'E', value: null}]}]},
    }) as any
    expect(out.metadata).to.deep.equal({labels: {'app.kubernetes.io/name': 'web'}})
    expect(out.spec.securityContext).to.deep.equal({runAsUser: 1000})
    expect(out.spec.containers[1]).to.deep.equal({name: 'new', image: 'x', env: [{name: 'E'}]})
  })

  it('changes neither of its inputs and gives the same result twice', () => {
    const original = template()
    const patch = {spec: {containers: [{name: 'web', env: [{name: 'A', $patch: 'delete'}]}], volumes: [{name: 'tmp', emptyDir: {}}]}}
    const patchCopy = structuredClone(patch)
    const a = patchPodTemplate(original, patch)
    expect(original).to.deep.equal(template())
    expect(patch).to.deep.equal(patchCopy)
    expect(JSON.stringify(patchPodTemplate(template(), patch))).to.equal(JSON.stringify(a))
  })

  it('merges by the keys it is given, outside pod templates too', () => {
    expect(strategicMerge({items: [{id: 1, v: 'a'}]}, {items: [{id: 1, v: 'b'}, {id: 2}]}, {items: 'id'})).to.deep.equal({items: [{id: 1, v: 'b'}, {id: 2}]})
    expect(strategicMerge({items: [{id: 1, v: 'a'}]}, {items: [{id: 2}]}, {})).to.deep.equal({items: [{id: 2}]})
  })
})

describe('checking a pod template patch', () => {
  const check = (patch: unknown) => checkPatch(patch, POD_TEMPLATE_MERGE_KEYS)

  it('accepts a patch that uses merge keys and directives as Kubernetes does', () => {
    expect(
      check({
        metadata: {annotations: {a: 'b', c: null}},
        spec: {
          containers: [
            {name: 'web', env: [{name: 'A', $patch: 'delete'}]},
            {name: 'proxy', image: 'envoy'},
          ],
          volumes: [{$patch: 'replace'}, {name: 'v', emptyDir: {}}],
          affinity: {$patch: 'delete'},
        },
      }),
    ).to.deep.equal([])
  })

  it('names each item of a merged list that lacks its merge key, is not a mapping, or repeats a key', () => {
    expect(check({spec: {containers: [{image: 'x'}, 'sidecar', {name: 'a'}, {name: 'a'}], volumes: [{name: 'v', emptyDir: {}}]}})).to.deep.equal([
      {path: ['spec', 'containers', 0], message: 'needs "name" (the key this list merges by)'},
      {path: ['spec', 'containers', 1], message: 'must be a mapping with "name" (the key this list merges by)'},
      {path: ['spec', 'containers', 3], message: 'name "a" is already patched by item 2'},
    ])
    expect(check({spec: {containers: [{name: 'web', volumeMounts: [{name: 'tmp'}]}]}})).to.deep.equal([
      {path: ['spec', 'containers', 0, 'volumeMounts', 0], message: 'needs "mountPath" (the key this list merges by)'},
    ])
  })

  it('refuses a mapping where Kubernetes has a merged list, and unknown directives', () => {
    expect(check({spec: {containers: {name: 'web'}}})).to.deep.equal([{path: ['spec', 'containers'], message: 'must be a list (its items merge by "name")'}])
    expect(check({spec: {$patch: 'remove', $setElementOrder: []}})).to.deep.equal([
      {path: ['spec', '$patch'], message: '$patch must be replace, delete or merge, not "remove"'},
      {path: ['spec', '$setElementOrder'], message: 'unsupported patch directive "$setElementOrder"; skycap supports $patch (replace, delete, merge) and null to delete a key'},
    ])
    expect(check({spec: {volumes: [{$patch: 'delete'}]}})[0]?.message).to.equal('a list item without "name" can only be {$patch: replace}')
  })

  it('refuses $patch in an item of a list that replaces', () => {
    expect(check({spec: {tolerations: [{key: 'a', $patch: 'delete'}]}})).to.deep.equal([
      {path: ['spec', 'tolerations', 0], message: "$patch has no effect here: this list has no merge key, so the patch's list replaces it; write the whole list"},
    ])
  })
})
