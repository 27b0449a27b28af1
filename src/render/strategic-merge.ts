/**
 * Kubernetes strategic-merge patches, as `kubectl patch --type strategic` applies them, for the pod template of a
 * service's Deployment (skycap.yaml `podTemplate`). Mappings merge key by key and `null` deletes a key; a list with a
 * patch merge key merges item by item (matched by that key, new items appended in patch order); any other list
 * replaces. Directives: `$patch: delete` on a list item or mapping removes it, `$patch: replace` on a mapping replaces
 * it instead of merging, and a list item that is only `{$patch: replace}` makes the rest of the list replace the list.
 */

/** The patch merge key of each list in a pod template (`patchMergeKey` in k8s.io/api/core/v1), by path; `[]` is a list item. */
export const POD_TEMPLATE_MERGE_KEYS: Readonly<Record<string, string>> = (() => {
  const keys: Record<string, string> = {
    'spec.volumes': 'name',
    'spec.imagePullSecrets': 'name',
    'spec.hostAliases': 'ip',
    'spec.topologySpreadConstraints': 'topologyKey',
    'spec.resourceClaims': 'name',
    'spec.schedulingGates': 'name',
  }
  for (const containers of ['containers', 'initContainers', 'ephemeralContainers']) {
    keys[`spec.${containers}`] = 'name'
    keys[`spec.${containers}[].ports`] = 'containerPort'
    keys[`spec.${containers}[].env`] = 'name'
    keys[`spec.${containers}[].volumeMounts`] = 'mountPath'
    keys[`spec.${containers}[].volumeDevices`] = 'devicePath'
  }
  return keys
})()

/** What a patch says about itself that it cannot mean; `path` is relative to the patch. */
export interface PatchProblem {
  path: (string | number)[]
  message: string
}

type Mapping = Record<string, unknown>

const DELETE = Symbol('delete')
const DIRECTIVE = '$patch'

/** `original` with `patch` applied; neither is modified. A patch that deletes the whole value gives undefined. */
export function strategicMerge(original: unknown, patch: unknown, mergeKeys: Readonly<Record<string, string>>): unknown {
  const merged = mergeValue(original, patch, '', mergeKeys)
  return merged === DELETE ? undefined : merged
}

/** The pod template of a Deployment with a `podTemplate` patch from skycap.yaml applied. */
export function patchPodTemplate(template: Mapping, patch: Mapping): Mapping {
  return (strategicMerge(template, patch, POD_TEMPLATE_MERGE_KEYS) ?? {}) as Mapping
}

function mergeValue(original: unknown, patch: unknown, path: string, mergeKeys: Readonly<Record<string, string>>): unknown {
  if (Array.isArray(patch)) {
    const key = mergeKeys[path]
    return key === undefined ? patch.map((item) => mergeValue(undefined, item, `${path}[]`, mergeKeys)) : mergeList(original, patch, key, path, mergeKeys)
  }
  if (!isMapping(patch)) return patch
  const directive = patch[DIRECTIVE]
  if (directive === 'delete') return DELETE
  // Merging into nothing leaves the patch without its directives and nulls: the same code serves both.
  const out: Mapping = directive !== 'replace' && isMapping(original) ? {...original} : {}
  for (const [k, v] of Object.entries(patch)) {
    if (k === DIRECTIVE) continue
    const merged = v === null ? DELETE : mergeValue(out[k], v, path ? `${path}.${k}` : k, mergeKeys)
    if (merged === DELETE) delete out[k]
    else out[k] = merged
  }
  return out
}

function mergeList(original: unknown, patch: unknown[], key: string, path: string, mergeKeys: Readonly<Record<string, string>>): unknown[] {
  const replace = patch.some((item) => isListDirective(item, key))
  const out = !replace && Array.isArray(original) ? [...original] : []
  for (const item of patch) {
    if (isListDirective(item, key)) continue
    const id = isMapping(item) ? item[key] : undefined
    const at = out.findIndex((o) => isMapping(o) && id !== undefined && o[key] === id)
    const merged = mergeValue(at === -1 ? undefined : out[at], item, `${path}[]`, mergeKeys)
    if (merged === DELETE) {
      if (at !== -1) out.splice(at, 1)
    } else if (at === -1) out.push(merged)
    else out[at] = merged
  }
  return out
}

/** Finds what a patch cannot mean before it is applied: bad directives, merge-list items without their key. */
export function checkPatch(patch: unknown, mergeKeys: Readonly<Record<string, string>>): PatchProblem[] {
  const problems: PatchProblem[] = []
  walk(patch, [], '', mergeKeys, problems)
  return problems
}

function walk(value: unknown, at: (string | number)[], path: string, mergeKeys: Readonly<Record<string, string>>, problems: PatchProblem[]): void {
  const key = mergeKeys[path]
  if (key !== undefined && value !== null && !Array.isArray(value)) {
    problems.push({path: at, message: `must be a list (its items merge by "${key}")`})
    return
  }
  if (Array.isArray(value)) {
    const seen = new Map<unknown, number>()
    value.forEach((item, i) => {
      const here = [...at, i]
      if (key === undefined) {
        if (isMapping(item) && DIRECTIVE in item)
          problems.push({path: here, message: `${DIRECTIVE} has no effect here: this list has no merge key, so the patch's list replaces it; write the whole list`})
      } else if (!isMapping(item)) {
        problems.push({path: here, message: `must be a mapping with "${key}" (the key this list merges by)`})
        return
      } else if (isListDirective(item, key)) {
        if (item[DIRECTIVE] !== 'replace') problems.push({path: here, message: `a list item without "${key}" can only be {${DIRECTIVE}: replace}`})
        return
      } else if (item[key] === undefined || item[key] === null || typeof item[key] === 'object') {
        problems.push({path: here, message: `needs "${key}" (the key this list merges by)`})
        return
      } else {
        const first = seen.get(item[key])
        if (first !== undefined) problems.push({path: here, message: `${key} ${JSON.stringify(item[key])} is already patched by item ${first}`})
        seen.set(item[key], i)
      }
      walk(item, here, `${path}[]`, mergeKeys, problems)
    })
    return
  }
  if (!isMapping(value)) return
  for (const [k, v] of Object.entries(value)) {
    if (k === DIRECTIVE) {
      if (v !== 'replace' && v !== 'delete' && v !== 'merge') problems.push({path: [...at, k], message: `${DIRECTIVE} must be replace, delete or merge, not ${JSON.stringify(v)}`})
    } else if (k.startsWith('$')) {
      problems.push({path: [...at, k], message: `unsupported patch directive "${k}"; skycap supports ${DIRECTIVE} (replace, delete, merge) and null to delete a key`})
    } else {
      walk(v, [...at, k], path ? `${path}.${k}` : k, mergeKeys, problems)
    }
  }
}

/** A `{$patch: replace}` item: a directive for the whole list, not an item of it. */
function isListDirective(item: unknown, key: string): boolean {
  return isMapping(item) && DIRECTIVE in item && !(key in item)
}

function isMapping(v: unknown): v is Mapping {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
