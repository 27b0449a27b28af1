import {expect} from 'chai'

import {resolveEnvironment} from '../../../src/config/environment.js'
import {parseConfig} from '../../../src/config/load.js'
import {ConfigErrors} from '../../../src/errors.js'
import {rejectsWithUserError} from '../../helpers/errors.js'

const FILE = '/tmp/x/skycap.yaml'

/** A valid skycap.yaml; `service` lines go under services.web (from line 8), `override` under environments.prod.services.web. */
function config(service: string[] = [], override: string[] = []): string {
  return [
    'app: shop',
    'services:',
    '  web:',
    '    image: web',
    '    port: 8080',
    '    resources: {requests: {cpu: 100m}}',
    '    healthcheck: {path: /healthz}',
    ...service.map((l) => `    ${l}`),
    'environments:',
    '  staging: {namespace: shop-staging}',
    '  prod:',
    '    namespace: shop',
    ...(override.length ? ['    services:', '      web:', ...override.map((l) => `        ${l}`)] : []),
    '',
  ].join('\n')
}

/** Every message of the ConfigErrors that loading `text` throws (exit 2). */
async function problems(text: string): Promise<string[]> {
  const error = await rejectsWithUserError(parseConfig(text, FILE))
  expect(error).to.be.instanceOf(ConfigErrors)
  return (error as ConfigErrors).errors.map((e) => e.message)
}

describe('pod template keys in skycap.yaml', () => {
  it('accepts every new key, per service and per environment', async () => {
    const loaded = await parseConfig(
      config(
        [
          'liveness: {path: /live, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3, initialDelaySeconds: 0}',
          'startup: {command: [/bin/check], failureThreshold: 30}',
          'lifecycle: {preStop: {sleep: 5}}',
          'terminationGracePeriodSeconds: 45',
          'nodeSelector: {kubernetes.io/os: linux, disk: ssd}',
          'tolerations: [{key: dedicated, operator: Equal, value: web, effect: NoExecute, tolerationSeconds: 60}, {operator: Exists}]',
          'affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: []}}}',
          'serviceAccountName: web.runner',
          'securityContext: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000, seccompProfile: {type: RuntimeDefault}}',
          'containerSecurityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}',
          'podTemplate: {metadata: {annotations: {a: b}}, spec: {containers: [{name: proxy, image: envoy}]}}',
        ],
        ['liveness: {periodSeconds: 20}', 'lifecycle: {preStop: {sleep: 40}}', 'podTemplate: {spec: {priorityClassName: high}}'],
      ),
      FILE,
    )
    expect(loaded.config.services.web?.serviceAccountName).to.equal('web.runner')
  })

  // Each row: the line added to services.web (line 8), and the message with line:column.
  const rejected: Array<[string, string]> = [
    ['liveness: /live', ':8:15: services.web.liveness must be a mapping, not string "/live"'],
    ['liveness: {path: /live, perodSeconds: 5}', ':8:29: unknown key "perodSeconds" in services.web.liveness (did you mean "periodSeconds"?); allowed keys: path, port, command, initialDelaySeconds'],
    ['liveness: {path: live}', ':8:22: services.web.liveness.path is "live" but must be an HTTP path starting with \'/\''],
    ['startup: {command: [x], failureThreshold: 0}', ':8:47: services.web.startup.failureThreshold is 0 but must be at least 1'],
    ['startup: {command: [x], periodSeconds: 2147483648}', ':8:44: services.web.startup.periodSeconds is 2147483648 but must be at most 2147483647'],
    ['startup: {command: [x], initialDelaySeconds: -1}', ':8:50: services.web.startup.initialDelaySeconds is -1 but must be at least 0'],
    ['lifecycle: {postStart: {command: [x]}}', ':8:17: unknown key "postStart" in services.web.lifecycle; allowed keys: preStop'],
    ['lifecycle: {preStop: {sleep: 5s}}', ':8:34: services.web.lifecycle.preStop.sleep must be a whole number, not string "5s"'],
    ['lifecycle: {preStop: {sleep: 3601}}', ':8:34: services.web.lifecycle.preStop.sleep is 3601 but must be at most 3600'],
    ['lifecycle: {preStop: {exec: [x]}}', ':8:27: unknown key "exec" in services.web.lifecycle.preStop; allowed keys: command, sleep, path, port'],
    ['terminationGracePeriodSeconds: 3601', ':8:36: services.web.terminationGracePeriodSeconds is 3601 but must be at most 3600'],
    ['terminationGracePeriodSeconds: -1', ':8:36: services.web.terminationGracePeriodSeconds is -1 but must be at least 0'],
    ['terminationGracePeriodSeconds: 1.5', ':8:36: services.web.terminationGracePeriodSeconds must be a whole number, not number 1.5'],
    ['nodeSelector: {disk: 1}', ":8:26: services.web.nodeSelector.disk is number 1 but must be a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"],
    ['nodeSelector: {"bad key": x}', ':8:20: services.web.nodeSelector: "bad key" is not a valid name; it must be a label key'],
    ['nodeSelector: [disk]', ':8:19: services.web.nodeSelector must be a mapping, not a list'],
    ['tolerations: {key: a}', ':8:18: services.web.tolerations must be a list, not a mapping'],
    [
      'tolerations: [{key: a, operator: Exists, efect: NoSchedule}]',
      ':8:46: unknown key "efect" in services.web.tolerations.0 (did you mean "effect"?); allowed keys: key, operator, value, effect, tolerationSeconds',
    ],
    ['tolerations: [{key: a, operator: Sometimes}]', ':8:38: services.web.tolerations.0.operator is "Sometimes" but must be one of: "Exists", "Equal"'],
    ['tolerations: [{key: a, effect: NoExecute, tolerationSeconds: -5}]', ':8:66: services.web.tolerations.0.tolerationSeconds is -5 but must be at least 0'],
    ['affinity: {nodeAffinty: {}}', ':8:16: unknown key "nodeAffinty" in services.web.affinity (did you mean "nodeAffinity"?); allowed keys: nodeAffinity, podAffinity, podAntiAffinity'],
    ['affinity: {podAffinity: [x]}', ':8:29: services.web.affinity.podAffinity must be a mapping, not a list'],
    ['serviceAccountName: Web_SA', ':8:25: services.web.serviceAccountName is "Web_SA" but must be a DNS subdomain'],
    ['serviceAccountName: 7', ":8:25: services.web.serviceAccountName is number 7 but must be a DNS subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"],
    ['securityContext: {readOnlyRootFilesystem: true}', ':8:23: unknown key "readOnlyRootFilesystem" in services.web.securityContext; allowed keys: runAsUser, runAsGroup'],
    ['securityContext: {runAsUser: -1}', ':8:34: services.web.securityContext.runAsUser is -1 but must be at least 0'],
    ['securityContext: {fsGroup: 2147483648}', ':8:32: services.web.securityContext.fsGroup is 2147483648 but must be at most 2147483647'],
    ['securityContext: {seccompProfile: {type: Strict}}', ':8:46: services.web.securityContext.seccompProfile.type is "Strict" but must be one of: "RuntimeDefault", "Unconfined", "Localhost"'],
    ['containerSecurityContext: {capabilities: {drop: ALL}}', ':8:53: services.web.containerSecurityContext.capabilities.drop must be a list, not string "ALL"'],
    ['containerSecurityContext: {fsGroup: 1}', ':8:32: unknown key "fsGroup" in services.web.containerSecurityContext; allowed keys: runAsUser'],
    ['podTemplate: [x]', ':8:18: services.web.podTemplate must be a mapping, not a list'],
    ['podTemplate: {spec: sidecar}', ':8:25: services.web.podTemplate.spec must be a mapping, not string "sidecar"'],
    ['podTemplate: {containers: []}', ':8:19: unknown key "containers" in services.web.podTemplate; allowed keys: metadata, spec'],
  ]
  for (const [line, message] of rejected) {
    it(`rejects ${line}`, async () => {
      const messages = await problems(config([line]))
      expect(messages).to.have.length(1, messages.join('\n'))
      expect(messages[0]).to.contain(`skycap.yaml${message}`)
    })
  }

  it('rejects a bad key in an environment override at its own line', async () => {
    const messages = await problems(config([], ['terminationGracePeriodSeconds: 99999', 'tolerations: [{key: a, bogus: 1}]']))
    expect(messages).to.deep.equal([
      `${FILE}:14:40: environments.prod.services.web.terminationGracePeriodSeconds is 99999 but must be at most 3600`,
      `${FILE}:15:32: unknown key "bogus" in environments.prod.services.web.tolerations.0; allowed keys: key, operator, value, effect, tolerationSeconds`,
    ])
  })

  const combinations: Array<[string[], string[], string]> = [
    [['liveness: {command: [x], path: /live}'], [], ':8:15: services.web.liveness: give either command, or path/port, not both'],
    [['lifecycle: {preStop: {command: [drain], sleep: 5}}'], [], ':8:26: services.web.lifecycle.preStop: give exactly one of command, sleep or path, not command and sleep'],
    [['lifecycle: {preStop: {}}'], [], ':8:26: services.web.lifecycle.preStop: give exactly one of command, sleep or path'],
    [['lifecycle: {preStop: {port: 8080, sleep: 1}}'], [], ':8:33: services.web.lifecycle.preStop: port goes with path (an HTTP GET); Kubernetes runs no TCP pre-stop hook'],
    [['lifecycle: {preStop: {sleep: 31}}'], [], ':8:34: services.web: lifecycle.preStop.sleep (31s) is longer than terminationGracePeriodSeconds (30s)'],
    [
      ['lifecycle: {preStop: {sleep: 20}}'],
      ['terminationGracePeriodSeconds: 10'],
      ':15:40: environments.prod.services.web: lifecycle.preStop.sleep (20s) is longer than terminationGracePeriodSeconds (10s)',
    ],
    [
      ['lifecycle: {preStop: {sleep: 20}}', 'terminationGracePeriodSeconds: 60'],
      ['podTemplate: {spec: {terminationGracePeriodSeconds: 15}}'],
      ':16:61: environments.prod.services.web: lifecycle.preStop.sleep (20s) is longer than terminationGracePeriodSeconds (15s)',
    ],
    [['startup: {path: /started}'], ['startup: {command: [x]}'], ':15:18: environments.prod.services.web.startup: give either command, or path/port, not both (after merging over the service)'],
    [['tolerations: [{key: a, operator: Exists, value: b}]'], [], ':8:19: services.web.tolerations[0]: operator Exists matches any value'],
    [['tolerations: [{value: b}]'], [], ':8:19: services.web.tolerations[0]: without a key the operator must be Exists'],
    [['tolerations: [{key: a, operator: Exists, tolerationSeconds: 5}]'], [], ':8:19: services.web.tolerations[0]: tolerationSeconds applies to effect NoExecute only'],
  ]
  for (const [service, override, message] of combinations) {
    it(`rejects ${[...service, ...override].join(' + ')}`, async () => {
      const messages = await problems(config(service, override))
      expect(messages).to.have.length(1, messages.join('\n'))
      expect(messages[0]).to.contain(`skycap.yaml${message}`)
    })
  }

  it('reports what a podTemplate patch cannot mean at the line of the item', async () => {
    const messages = await problems(
      config([
        'podTemplate:',
        '  spec:',
        '    containers:',
        '      - name: web',
        '        volumeMounts: [{name: tmp}]',
        '      - image: envoy',
        '    volumes: {name: tmp}',
        '    $setElementOrder/containers: []',
      ]),
    )
    expect(messages).to.deep.equal([
      `${FILE}:12:28: services.web.podTemplate.spec.containers[0].volumeMounts[0]: needs "mountPath" (the key this list merges by)`,
      `${FILE}:13:13: services.web.podTemplate.spec.containers[1]: needs "name" (the key this list merges by)`,
      `${FILE}:14:18: services.web.podTemplate.spec.volumes: must be a list (its items merge by "name")`,
      `${FILE}:15:38: services.web.podTemplate.spec.$setElementOrder/containers: unsupported patch directive "$setElementOrder/containers"; skycap supports $patch (replace, delete, merge) and null to delete a key`,
    ])
  })

  it('deep-merges the new keys per environment: mappings merge, lists and scalars replace', async () => {
    const loaded = await parseConfig(
      config(
        [
          'liveness: {path: /live, periodSeconds: 10}',
          'lifecycle: {preStop: {command: [drain]}}',
          'terminationGracePeriodSeconds: 45',
          'nodeSelector: {disk: ssd}',
          'tolerations: [{key: a, operator: Exists}]',
          'serviceAccountName: web',
          'securityContext: {runAsNonRoot: true}',
          'podTemplate: {metadata: {annotations: {a: b}}, spec: {containers: [{name: proxy, image: envoy}]}}',
        ],
        [
          'liveness: {periodSeconds: 20}',
          'terminationGracePeriodSeconds: 90',
          'nodeSelector: {zone: b}',
          'tolerations: [{key: b, operator: Exists}]',
          'serviceAccountName: web-prod',
          'securityContext: {runAsUser: 1000}',
          'podTemplate: {metadata: {annotations: {c: d}}, spec: {containers: [{name: web, env: [{name: X, value: "1"}]}]}}',
        ],
      ),
      FILE,
    )
    const prod = resolveEnvironment(loaded, 'prod').services.web
    expect(prod).to.deep.include({
      liveness: {path: '/live', periodSeconds: 20},
      lifecycle: {preStop: {command: ['drain']}},
      terminationGracePeriodSeconds: 90,
      nodeSelector: {disk: 'ssd', zone: 'b'},
      tolerations: [{key: 'b', operator: 'Exists'}],
      serviceAccountName: 'web-prod',
      securityContext: {runAsNonRoot: true, runAsUser: 1000},
      podTemplate: {metadata: {annotations: {a: 'b', c: 'd'}}, spec: {containers: [{name: 'web', env: [{name: 'X', value: '1'}]}]}},
    })
    const staging = resolveEnvironment(loaded, 'staging').services.web
    expect(staging?.terminationGracePeriodSeconds).to.equal(45)
    expect(staging?.podTemplate?.spec).to.deep.equal({containers: [{name: 'proxy', image: 'envoy'}]})
  })
})
