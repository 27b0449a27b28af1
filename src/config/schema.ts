import {DEFAULT_MAX_REPLICAS, INT32_MAX} from './limits.js'

/**
 * The JSON Schema of skycap.yaml. `npm run schema` writes it to skycap.schema.json for editors
 * (a unit test keeps the two equal). `x-message` says in words what a pattern allows.
 */

import {DURATION_PATTERN, DURATION_RULE} from '../duration.js'

const dnsLabel = {
  type: 'string',
  pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$',
  'x-message': "a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters",
}

const quantity = {
  type: ['string', 'number'],
  minimum: 0,
  pattern: '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$',
  'x-message': 'a Kubernetes quantity such as 100m, 0.5, 128Mi or 1Gi',
}

const resourceList = {
  type: 'object',
  additionalProperties: false,
  properties: {cpu: quantity, memory: quantity, 'ephemeral-storage': quantity},
}

const regexList = {
  type: 'array',
  items: {type: 'string', minLength: 1},
  description: 'Regular expressions (JavaScript syntax); a log line matching any of them is hidden by `skycap logs`.',
}

const logs = {
  type: 'object',
  additionalProperties: false,
  properties: {exclude: regexList},
  description: 'Noise filters for `skycap logs` and the log lines in deploy failure reports.',
}

const portNumber = {type: 'integer', minimum: 1, maximum: 65535}

/** A container port's name is an IANA service name: a DNS label of at most 15 characters with a letter and no '--'. */
const portName = {
  type: 'string',
  maxLength: 15,
  pattern: '^(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
  'x-message': "an IANA service name: lowercase letters, digits and '-', at least one letter, no '--', starting and ending with a letter or digit",
}

/** Beyond 2^53 a YAML number has lost digits before skycap writes it as the variable's string. */
const envValue = {type: ['string', 'number', 'boolean'], minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER}

/** Kubernetes accepts any printable ASCII but '=' in a variable name (1.32+; older ones want a C identifier). */
const envName = {type: 'string', pattern: '^[ -<>-~]+$', 'x-message': "printable ASCII characters other than '='"}

/** terminationGracePeriodSeconds and preStop sleep: an hour; more is likely milliseconds by mistake (podTemplate can go higher). */
const MAX_GRACE_SECONDS = 3600

const httpPath = {type: 'string', pattern: '^/', 'x-message': "an HTTP path starting with '/'"}

const dnsSubdomain = {
  type: 'string',
  maxLength: 253,
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  'x-message': "a DNS subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
}

const labelKey = {
  type: 'string',
  pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$',
  'x-message': "a label key: an optional DNS-subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
}

const labelValue = {
  type: 'string',
  pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$',
  'x-message': "a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
}

/** A probe: one of the forms of `healthcheck`; Kubernetes' ranges for the numbers. */
function probe(description: string) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      path: httpPath,
      port: portNumber,
      command: {type: 'array', items: {type: 'string'}, minItems: 1},
      initialDelaySeconds: {type: 'integer', minimum: 0, maximum: INT32_MAX},
      periodSeconds: {type: 'integer', minimum: 1, maximum: INT32_MAX},
      timeoutSeconds: {type: 'integer', minimum: 1, maximum: INT32_MAX},
      failureThreshold: {type: 'integer', minimum: 1, maximum: INT32_MAX},
    },
    description,
  }
}

/** A user or group id as Kubernetes accepts it. */
const unixId = {type: 'integer', minimum: 0, maximum: INT32_MAX}

const securityProfile = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {type: {enum: ['RuntimeDefault', 'Unconfined', 'Localhost']}, localhostProfile: {type: 'string', minLength: 1}},
}

/** The fields pod- and container-level security contexts share. */
const processSecurity = {
  runAsUser: unixId,
  runAsGroup: unixId,
  runAsNonRoot: {type: 'boolean'},
  seccompProfile: securityProfile,
  appArmorProfile: securityProfile,
  seLinuxOptions: {
    type: 'object',
    additionalProperties: false,
    properties: {user: {type: 'string'}, role: {type: 'string'}, type: {type: 'string'}, level: {type: 'string'}},
  },
}

/** A service's `build:` block (top-level services only: an image tag names one build for every environment). */
const build = {
  type: 'object',
  additionalProperties: false,
  description: 'How `skycap build` makes this image: a Dockerfile build (context, dockerfile, target, args, platforms) or a custom `command`. Services without it are never built.',
  properties: {
    context: {type: 'string', minLength: 1, description: 'Build context, relative to skycap.yaml (default: the repository root).'},
    dockerfile: {type: 'string', minLength: 1, description: 'Dockerfile, relative to the context (default Dockerfile).'},
    target: {type: 'string', minLength: 1, description: 'The Dockerfile stage to build.'},
    args: {
      type: 'object',
      propertyNames: {type: 'string', minLength: 1},
      additionalProperties: {type: ['string', 'number', 'boolean']},
      description: 'Build arguments (--build-arg); values may use {{ revision.sha }}, {{ revision.short }}, {{ image }} and {{ tag }}.',
    },
    platforms: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: {type: 'string', pattern: '^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$', 'x-message': 'a platform os/architecture[/variant] such as linux/amd64 or linux/arm64/v8'},
      description: 'Target platforms such as linux/amd64; more than one needs docker buildx or podman.',
    },
    command: {
      type: 'array',
      minItems: 1,
      items: {type: 'string'},
      description: 'A custom builder, run in the context with SKYCAP_IMAGE set to the image reference; it must build and push that image.',
    },
  },
}

const duration = {type: 'string', pattern: DURATION_PATTERN, 'x-message': DURATION_RULE}

/** What gates a blue-green switch or a canary step, beyond the pods' own readiness and restarts (always checked). */
const checks = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    properties: {
      http: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: {
          path: httpPath,
          port: portNumber,
          target: {enum: ['pods', 'preview', 'service'], description: 'pods (default): every new pod; preview: the preview Service; service: the Service.'},
          expect: {type: 'object', additionalProperties: false, properties: {status: {type: 'integer', minimum: 100, maximum: 599}, body: {type: 'string', minLength: 1}}},
        },
        description: 'HTTP GET through the API server proxy; passes on the expected status (default 200) and, when given, a body matching `body` (a regular expression).',
      },
      job: {
        type: 'object',
        additionalProperties: false,
        required: ['command'],
        properties: {command: {type: 'array', items: {type: 'string'}, minItems: 1}, timeout: duration},
        description: "A smoke-test Job from the service's pod template running `command`; passes when it completes.",
      },
      prometheus: {
        type: 'object',
        additionalProperties: false,
        required: ['address', 'query'],
        properties: {
          address: {type: 'string', pattern: '^https?://', 'x-message': 'an http:// or https:// URL'},
          query: {type: 'string', minLength: 1},
          threshold: {type: 'object', additionalProperties: false, minProperties: 1, properties: {max: {type: 'number'}, min: {type: 'number'}}},
          noData: {enum: ['fail', 'pass']},
        },
        description: 'A PromQL instant query; passes when its first value is within `threshold` (no result: `noData`, default fail).',
      },
    },
  },
}

const strategy = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: {enum: ['rolling', 'blueGreen', 'canary']},
    maxSurge: {type: ['integer', 'string'], minimum: 0, pattern: '^[0-9]+%$', description: 'rolling: pods above replicas during a rollout (number or percentage).'},
    maxUnavailable: {type: ['integer', 'string'], minimum: 0, pattern: '^[0-9]+%$', description: 'rolling: pods below replicas during a rollout.'},
    scaleDownDelay: {...duration, description: 'blueGreen: how long the old slot stays up after the switch, for an instant rollback (default 5m).'},
    preview: {type: 'boolean', description: 'blueGreen: a Service <service>-preview that always selects the idle slot.'},
    checks,
    steps: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        maxProperties: 1,
        properties: {
          setWeight: {type: 'integer', minimum: 0, maximum: 100},
          pause: {type: 'object', additionalProperties: false, properties: {duration}},
          analysis: {type: 'object', additionalProperties: false, required: ['checks'], properties: {checks}},
        },
      },
      description: 'canary: setWeight N (percent of traffic), pause {duration} or pause {} (until `skycap promote`), analysis {checks}.',
    },
    trafficRouting: {
      type: 'object',
      additionalProperties: false,
      required: ['gatewayAPI'],
      properties: {gatewayAPI: {type: 'object', additionalProperties: false, required: ['httpRoute'], properties: {httpRoute: dnsSubdomain}}},
      description: 'canary: exact weights through a Gateway API HTTPRoute (default: the replica ratio, approximate).',
    },
  },
  description: 'How a new release replaces the old: rolling (default), blueGreen or canary (docs/strategies.md).',
}

/** Fields of a service; `required` is added for the top-level services only (overrides are partial). */
function serviceProperties() {
  return {
    image: {
      type: 'string',
      minLength: 1,
      description: 'Image name under `registry` (tag added from the revision), or a full reference such as redis:7.2 or name@sha256:... used as it is.',
    },
    replicas: {type: 'integer', minimum: 0, maximum: INT32_MAX, description: "Desired number of pods (default 1; at most the environment's maxReplicas)."},
    port: {...portNumber, description: 'Container port; a Service named after the service is created.'},
    ports: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['port'],
        properties: {
          name: portName,
          port: portNumber,
          targetPort: portNumber,
          protocol: {enum: ['TCP', 'UDP', 'SCTP']},
        },
      },
    },
    command: {type: 'array', items: {type: 'string'}, description: "The container's entrypoint."},
    args: {type: 'array', items: {type: 'string'}},
    env: {type: 'object', propertyNames: envName, additionalProperties: envValue, description: 'Environment variables (plain values; use a Secret template for secrets).'},
    envFrom: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {secret: dnsLabel, configMap: dnsLabel},
        minProperties: 1,
        maxProperties: 1,
      },
      description: 'Secrets or ConfigMaps (made elsewhere) whose keys become environment variables.',
    },
    healthcheck: probe('Readiness probe: HTTP GET `path` on `port`, a TCP check on `port` alone, or `command`; periodSeconds defaults to 5.'),
    liveness: probe('Liveness probe (the kubelet restarts the container when it fails), in the forms of healthcheck; Kubernetes defaults for unset numbers.'),
    startup: probe('Startup probe (liveness and readiness wait until it passes once), in the forms of healthcheck; Kubernetes defaults for unset numbers.'),
    lifecycle: {
      type: 'object',
      additionalProperties: false,
      properties: {
        preStop: {
          type: 'object',
          additionalProperties: false,
          properties: {
            command: {type: 'array', items: {type: 'string'}, minItems: 1},
            sleep: {type: 'integer', minimum: 1, maximum: MAX_GRACE_SECONDS},
            path: httpPath,
            port: portNumber,
          },
          description: 'Runs before the container is stopped: `command`, `sleep` seconds, or HTTP GET `path` on `port` (default: the first port).',
        },
      },
    },
    terminationGracePeriodSeconds: {type: 'integer', minimum: 0, maximum: MAX_GRACE_SECONDS, description: 'Seconds a stopping pod gets between SIGTERM and SIGKILL (Kubernetes default 30).'},
    minReadySeconds: {
      type: 'integer',
      minimum: 0,
      maximum: MAX_GRACE_SECONDS,
      description:
        'Seconds a new pod must stay ready (no crash, no failed readiness check) before it counts as available: a rolling deploy, a blue-green switch and a canary step wait for it (Kubernetes default 0).',
    },
    nodeSelector: {type: 'object', propertyNames: labelKey, additionalProperties: labelValue, description: 'Node labels a pod must be scheduled onto.'},
    tolerations: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          key: labelKey,
          operator: {enum: ['Exists', 'Equal']},
          value: labelValue,
          effect: {enum: ['NoSchedule', 'PreferNoSchedule', 'NoExecute']},
          tolerationSeconds: {type: 'integer', minimum: 0, maximum: INT32_MAX},
        },
      },
      description: 'Kubernetes tolerations of the pods, as written.',
    },
    affinity: {
      type: 'object',
      additionalProperties: false,
      properties: {nodeAffinity: {type: 'object'}, podAffinity: {type: 'object'}, podAntiAffinity: {type: 'object'}},
      description: 'Kubernetes affinity of the pods, passed through as written.',
    },
    serviceAccountName: {...dnsSubdomain, description: 'ServiceAccount the pods run as (made elsewhere, e.g. in deploy/).'},
    securityContext: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...processSecurity,
        fsGroup: unixId,
        fsGroupChangePolicy: {enum: ['OnRootMismatch', 'Always']},
        supplementalGroups: {type: 'array', items: unixId},
        supplementalGroupsPolicy: {enum: ['Merge', 'Strict']},
        sysctls: {
          type: 'array',
          items: {type: 'object', additionalProperties: false, required: ['name', 'value'], properties: {name: {type: 'string', minLength: 1}, value: {type: 'string'}}},
        },
        seLinuxChangePolicy: {enum: ['MountOption', 'Recursive']},
      },
      description: 'Pod-level security context (spec.securityContext): applies to every container of the pod.',
    },
    containerSecurityContext: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...processSecurity,
        allowPrivilegeEscalation: {type: 'boolean'},
        privileged: {type: 'boolean'},
        readOnlyRootFilesystem: {type: 'boolean'},
        procMount: {enum: ['Default', 'Unmasked']},
        capabilities: {
          type: 'object',
          additionalProperties: false,
          properties: {add: {type: 'array', items: {type: 'string', minLength: 1}}, drop: {type: 'array', items: {type: 'string', minLength: 1}}},
        },
      },
      description: "The service container's own security context (containers[].securityContext); wins over securityContext where both set a field.",
    },
    resources: {
      type: 'object',
      additionalProperties: false,
      properties: {requests: resourceList, limits: resourceList},
    },
    config: {type: 'string', minLength: 1, description: "Folder (relative to skycap.yaml) whose files become the keys of the service's ConfigMap."},
    logs,
    labels: {type: 'object', additionalProperties: {type: 'string'}},
    annotations: {type: 'object', additionalProperties: {type: 'string'}},
    podTemplate: {
      type: 'object',
      additionalProperties: false,
      properties: {metadata: {type: 'object'}, spec: {type: 'object'}},
      description: "Strategic-merge patch applied last to the Deployment's pod template (spec.template), for any field skycap has no key for.",
    },
    strategy,
  }
}

const hookList = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'service', 'command'],
    properties: {
      name: {
        ...dnsLabel,
        maxLength: 30,
        // Its own limit in the words (the DNS label's said "at most 63 characters" of a name that may have 30).
        'x-message': dnsLabel['x-message'].replace('at most 63 characters', 'at most 30 characters (it names a Job beside the app and environment)'),
        description: 'Names the hook in output, history and its Job.',
      },
      service: {type: 'string', minLength: 1, description: "The service whose pod template (image at the release's tag, env, config, resources) the hook runs in."},
      command: {type: 'array', minItems: 1, items: {type: 'string'}, description: "The command (replaces the image's entrypoint), e.g. [bin/rails, db:migrate]."},
      timeout: {type: 'string', pattern: DURATION_PATTERN, 'x-message': DURATION_RULE, description: 'How long the hook may run (default 10m).'},
      env: {type: 'object', propertyNames: envName, additionalProperties: envValue, description: "Variables added to the service's."},
    },
  },
}

const hooks = {
  type: 'object',
  additionalProperties: false,
  properties: {
    predeploy: {...hookList, description: 'Run in order after the config objects are applied and before the workloads (migrations); a failure stops the deploy.'},
    postdeploy: {...hookList, description: 'Run in order once the rollout is ready; a failure fails the deploy and rolls it back.'},
  },
  description: "Commands run as Jobs from a service's pod template around a deploy.",
}

const requireChecks = {
  type: ['boolean', 'object'],
  additionalProperties: false,
  properties: {
    repository: {
      type: 'string',
      pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$',
      'x-message': 'owner/name of a GitHub repository',
      description: 'The GitHub repository (default: GITHUB_REPOSITORY, else the git remote origin).',
    },
    ignore: {
      type: 'array',
      items: {type: 'string', minLength: 1},
      description: 'Statuses (context) and check runs (name) that do not count, e.g. a deploy job with a name: of its own (in GitHub Actions the running job $GITHUB_JOB is left out by itself).',
    },
  },
  description: 'Deploy ENV@REV only when every GitHub commit status and check run of REV is green (token: GITHUB_TOKEN); --ignore-checks skips it and is recorded.',
} as const
/** A variable's name as a shell exports it. */
const variableName = {type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$'}

/** `${env:NAME}` in a header value or URL: the variable's value at run time (docs/notify.md). */
const WITH_VARIABLES = '^([^$]|\\$(?!\\{)|\\$\\{env:[A-Za-z_][A-Za-z0-9_]*\\})*$'

/** Why notify.webhook.url cannot hold user:password@, and where they go instead (docs/notify.md). */
export const WEBHOOK_CREDENTIALS =
  'the URL has credentials (user:password@ before the host), which a request cannot carry (fetch refuses such a URL) and which would put a secret in skycap.yaml (its value is not shown); send them in a header from an environment variable instead, e.g. headers: {Authorization: "Basic ${env:DEPLOY_HOOK_AUTH}"} with DEPLOY_HOOK_AUTH holding base64 of user:password'

/** `notify:`, at the top level and per environment. `x-secret`: the value may be a secret, errors never quote it. */
const notify = {
  type: 'object',
  additionalProperties: false,
  properties: {
    timeout: {type: 'string', pattern: DURATION_PATTERN, 'x-message': DURATION_RULE, description: 'Time limit of each notification request (default 10s); a slower one is a warning.'},
    environmentUrl: {
      type: 'string',
      pattern: '^https?://',
      'x-message': 'an http:// or https:// URL',
      // It goes into every notification's body, the Slack text and GitHub's and GitLab's deployments, for all to read.
      allOf: [
        {
          not: {pattern: '^https?://[^/?#\\\\]*@'},
          'x-secret': true,
          'x-message': 'the URL has credentials (user:password@ before the host), which every notification would show (its value is not shown); give the address people visit',
        },
      ],
      description: 'Where the environment can be visited (environment_url of GitHub and GitLab deployments, environmentUrl of the webhook body).',
    },
    slack: {
      // false: an environment turns the app's Slack off (a dev environment posted to the team's channel, or warned of
      // an unset variable on every deploy).
      type: ['object', 'boolean'],
      allOf: [{not: {const: true}, 'x-message': 'true turns nothing on: give {webhookEnv: NAME}, or false to send nothing to Slack here'}],
      'x-secret': true,
      additionalProperties: false,
      required: ['webhookEnv'],
      properties: {
        webhookEnv: {
          ...variableName,
          'x-secret': true,
          'x-message': 'the name of the environment variable that holds the webhook URL, such as SLACK_WEBHOOK_URL (a Slack webhook URL is a secret: never write it in skycap.yaml)',
          description: 'The environment variable that holds the Slack incoming-webhook URL.',
        },
        webhook: {
          not: {},
          'x-secret': true,
          'x-message': 'a Slack webhook URL is a secret and must not be written in skycap.yaml; put it in an environment variable (a CI secret) and name that: webhookEnv: SLACK_WEBHOOK_URL',
        },
      },
      description: 'Posts a message per event to a Slack incoming webhook; false (in an environment): none there.',
    },
    webhook: {
      type: ['object', 'boolean'],
      allOf: [{not: {const: true}, 'x-message': 'true turns nothing on: give {url: …}, or false to call no webhook here'}],
      additionalProperties: false,
      required: ['url'],
      properties: {
        url: {
          type: 'string',
          'x-secret': true,
          pattern: '^(https?://|\\$\\{env:)',
          'x-message': 'an http:// or https:// URL, or ${env:NAME}',
          // user:password@ before the host (the host ends at the first /, ? or #): fetch refuses to send such a URL.
          allOf: [
            {not: {pattern: '^https?://[^/?#\\\\]*@'}, 'x-secret': true, 'x-message': WEBHOOK_CREDENTIALS},
            // An unclosed `${env:HOOK_URL` passed, and the deploy then warned of "the URL made of  " (no variable).
            {pattern: WITH_VARIABLES, 'x-secret': true, 'x-message': 'a URL in which ${env:NAME} names an environment variable (a $ before { must start ${env:NAME} and end with })'},
          ],
          description: 'Receives a POST of the JSON body of docs/notify.md per event; may use ${env:NAME}. No user:password@: credentials go in headers.',
        },
        headers: {
          type: 'object',
          propertyNames: {type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", 'x-message': 'an HTTP header name'},
          additionalProperties: {
            type: 'string',
            'x-secret': true,
            pattern: WITH_VARIABLES,
            'x-message': 'text in which ${env:NAME} names an environment variable (a $ before { must start ${env:NAME})',
          },
          description: 'Request headers; put secrets in variables: "Bearer ${env:DEPLOY_HOOK_TOKEN}".',
        },
      },
      description: 'Posts a JSON body per event to a URL of yours; false (in an environment): none there.',
    },
    github: {
      type: 'object',
      additionalProperties: false,
      required: ['deployments'],
      properties: {
        deployments: {type: 'boolean', description: 'Creates a GitHub deployment per release and sets its status (token: GITHUB_TOKEN).'},
        repository: {type: 'string', pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$', 'x-message': 'owner/name', description: 'owner/name (default: GITHUB_REPOSITORY).'},
      },
    },
    gitlab: {
      type: 'object',
      additionalProperties: false,
      required: ['deployments'],
      properties: {
        deployments: {type: 'boolean', description: 'Creates a GitLab deployment per release and updates its status (token: GITLAB_TOKEN, else CI_JOB_TOKEN).'},
        project: {type: ['string', 'integer'], minLength: 1, description: 'Project ID or path (default: CI_PROJECT_ID).'},
      },
    },
  },
  description: 'Who hears about deploys and rollbacks: Slack, a webhook, GitHub or GitLab deployments (docs/notify.md).',
}

export const skycapSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://skycap.dev/schema/skycap.schema.json',
  title: 'skycap.yaml',
  description: 'How skycap deploys an application to Kubernetes.',
  type: 'object',
  additionalProperties: false,
  // Extension keys, as in docker compose: a place for anchors (`x-defaults: &defaults {…}`), read by nothing else.
  patternProperties: {'^x-': {description: 'An extension key, as in docker compose: skycap ignores it; a place for anchors (x-defaults: &defaults {...}).'}},
  required: ['app', 'services', 'environments'],
  properties: {
    $schema: {type: 'string'},
    app: {...dnsLabel, description: 'Application name; every object gets app.kubernetes.io/part-of: <app>.'},
    registry: {type: 'string', minLength: 1, description: 'Prefix for service images that are not full references (environments may override it).'},
    imageTag: {type: 'string', minLength: 1, description: 'Template of the image tag over revision.sha and revision.short; default "{{ revision.sha }}" (environments may override it).'},
    defaultEnvironment: {type: 'string', description: 'Environment used when a command is given none.'},
    templates: {type: 'string', minLength: 1, description: 'Folder of extra templates (default "deploy"): <folder>/*.yaml for all environments, <folder>/<env>/*.yaml for one.'},
    vcs: {
      enum: ['auto', 'git', 'hg'],
      description: 'Where revisions come from: git, hg (Mercurial), or auto (default): the repository nearest to skycap.yaml.',
    },
    history: {
      type: 'object',
      additionalProperties: false,
      properties: {keep: {type: 'integer', minimum: 1, maximum: 100, description: 'Releases kept in the cluster per environment (default 10).'}},
    },
    deploy: {
      type: 'object',
      additionalProperties: false,
      properties: {
        timeout: {type: 'string', pattern: DURATION_PATTERN, 'x-message': DURATION_RULE, description: 'Default --timeout of deploy, e.g. 10m.'},
      },
    },
    requireChecks,
    logs,
    hooks,
    notify,
    services: {
      type: 'object',
      minProperties: 1,
      propertyNames: dnsLabel,
      additionalProperties: {type: 'object', additionalProperties: false, required: ['image'], properties: {...serviceProperties(), build}},
    },
    environments: {
      type: 'object',
      minProperties: 1,
      propertyNames: dnsLabel,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['namespace'],
        properties: {
          context: {type: 'string', minLength: 1, description: 'The kube context this environment lives in; skycap always passes it to kubectl.'},
          namespace: {...dnsLabel, description: 'Namespace the environment deploys into (created when missing).'},
          protected: {type: 'boolean', description: 'Deploys ask for confirmation (or --yes) and refuse uncommitted changes.'},
          values: {type: 'object', description: 'Free values for templates: {{ values.<key> }}.'},
          services: {
            type: 'object',
            additionalProperties: {type: 'object', additionalProperties: false, properties: serviceProperties()},
            description: 'Per-environment overrides, deep-merged over services.',
          },
          config: {type: 'string', minLength: 1, description: 'Folder of per-environment config overrides: <folder>/<service>/<file>.'},
          maxReplicas: {
            type: 'integer',
            minimum: 0,
            maximum: INT32_MAX,
            description: `The most replicas a service may have in this environment (default ${DEFAULT_MAX_REPLICAS}); \`skycap scale\` refuses more without --force.`,
          },
          registry: {type: 'string', minLength: 1, description: "This environment's registry, instead of the top-level one (e.g. a local or staging registry)."},
          imageTag: {type: 'string', minLength: 1, description: "This environment's image tag template, instead of the top-level one."},
          hooks: {...hooks, description: "This environment's hooks: a list given here replaces the app's list for that phase."},
          requireChecks: {...requireChecks, description: "This environment's requireChecks, instead of the top-level one (false: not here)."},
          notify: {...notify, description: "This environment's notifications over the top-level notify:, key by key: each key set here (a target too) replaces the top level's whole."},
        },
      },
    },
  },
} as const
