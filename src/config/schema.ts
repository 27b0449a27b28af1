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

const envValue = {type: ['string', 'number', 'boolean']}

/** Fields of a service; `required` is added for the top-level services only (overrides are partial). */
function serviceProperties() {
  return {
    image: {
      type: 'string',
      minLength: 1,
      description: 'Image name under `registry` (tag added from the revision), or a full reference such as redis:7.2 or name@sha256:... used as it is.',
    },
    replicas: {type: 'integer', minimum: 0, description: 'Desired number of pods (default 1).'},
    port: {...portNumber, description: 'Container port; a Service named after the service is created.'},
    ports: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['port'],
        properties: {
          name: {...dnsLabel, maxLength: 15},
          port: portNumber,
          targetPort: portNumber,
          protocol: {enum: ['TCP', 'UDP', 'SCTP']},
        },
      },
    },
    command: {type: 'array', items: {type: 'string'}, description: "The container's entrypoint."},
    args: {type: 'array', items: {type: 'string'}},
    env: {type: 'object', additionalProperties: envValue, description: 'Environment variables (plain values; use a Secret template for secrets).'},
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
    healthcheck: {
      type: 'object',
      additionalProperties: false,
      properties: {
        path: {type: 'string', pattern: '^/', 'x-message': "an HTTP path starting with '/'"},
        port: portNumber,
        command: {type: 'array', items: {type: 'string'}, minItems: 1},
        initialDelaySeconds: {type: 'integer', minimum: 0},
        periodSeconds: {type: 'integer', minimum: 1},
        timeoutSeconds: {type: 'integer', minimum: 1},
        failureThreshold: {type: 'integer', minimum: 1},
      },
      description: 'Readiness probe: HTTP GET `path` on `port`, a TCP check on `port` alone, or `command`.',
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
  }
}

export const skycapSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://skycap.dev/schema/skycap.schema.json',
  title: 'skycap.yaml',
  description: 'How skycap deploys an application to Kubernetes.',
  type: 'object',
  additionalProperties: false,
  required: ['app', 'services', 'environments'],
  properties: {
    $schema: {type: 'string'},
    app: {...dnsLabel, description: 'Application name; every object gets app.kubernetes.io/part-of: <app>.'},
    registry: {type: 'string', minLength: 1, description: 'Prefix for service images that are not full references.'},
    imageTag: {type: 'string', minLength: 1, description: 'Template of the image tag over revision.sha and revision.short; default "{{ revision.sha }}".'},
    defaultEnvironment: {type: 'string', description: 'Environment used when a command is given none.'},
    templates: {type: 'string', minLength: 1, description: 'Folder of extra templates (default "deploy"): <folder>/*.yaml for all environments, <folder>/<env>/*.yaml for one.'},
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
    logs,
    services: {
      type: 'object',
      minProperties: 1,
      propertyNames: dnsLabel,
      additionalProperties: {type: 'object', additionalProperties: false, required: ['image'], properties: serviceProperties()},
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
        },
      },
    },
  },
} as const
