// After a failed predeploy hook: the config objects the release applied before it, put back as the running release
// has them (src/deploy/apply.ts restoreConfig), and what became of each in one phrase for the deploy's message.
import {configChanges, restoreConfig} from '../deploy/apply.js'
import type {Kubectl} from '../kubectl/kubectl.js'
import {CONFIG_KINDS, type KubeObject} from '../render/objects.js'
import type {StoredRelease} from '../release/store.js'

/**
 * Puts back the config `objects` applied before the hook failed, and says what became of it, starting with "; " (empty
 * when there is nothing to say). `running`: the release that runs (none on a first deploy: what it applied is all new).
 */
export async function putBackConfig(kubectl: Kubectl, objects: KubeObject[], running: StoredRelease | undefined, release: number, environment: string): Promise<string> {
  const config = objects.filter((o) => CONFIG_KINDS.has(o.kind))
  const back = `skycap rollback ${environment} --to ${running?.record.number}`
  const them = (list: string[]) => (list.length === 1 ? 'it' : 'them')
  try {
    const {restored, added, refused} = await restoreConfig(kubectl, config, (await running?.manifests()) ?? [])
    const immutable = refused.filter((r) => r.immutable).map((r) => r.ref)
    const other = refused.filter((r) => !r.immutable).map((r) => r.ref)
    return [
      restored.length ? `; ${restored.join(', ')}, applied before the hook, ${restored.length === 1 ? 'was' : 'were'} put back as release ${running?.record.number} has ${them(restored)}` : '',
      immutable.length ? `; ${immutable.join(', ')} could not be put back: the failed release made ${them(immutable)} immutable (delete ${them(immutable)}, then \`${back}\`)` : '',
      other.length ? `; the API server refused to put back ${other.join(', ')} (\`${back}\` applies ${them(other)} again)` : '',
      // With no running release, everything the first release applied is new, and stays.
      addedNote(added, release),
    ].join('')
  } catch (error) {
    if (!running) return ''
    return `; the config applied before the hook could not be put back as release ${running.record.number} has it (${(error as Error).message.split('\n')[0]}): \`${back}\` applies it again`
  }
}

/**
 * After a Ctrl-C during a predeploy hook: the config applied before it stays as this release has it (the hook may
 * run on, reading it), and what differs from the running release is named, starting with "; " (empty when nothing
 * does). The message said the running release was untouched while a fixed-name Secret had changed under it.
 */
export async function configLeftNote(objects: KubeObject[], running: StoredRelease | undefined, release: number, environment: string): Promise<string> {
  if (!running) return ''
  try {
    const {changed, added} = configChanges(
      objects.filter((o) => CONFIG_KINDS.has(o.kind)),
      await running.manifests(),
    )
    const refs = changed.map((o) => `${o.kind}/${o.metadata.name}`)
    const one = refs.length === 1
    return [
      refs.length
        ? `; ${refs.join(', ')}, applied before the hook, ${one ? 'has' : 'have'} release ${release}'s content, not release ${running.record.number}'s (not put back while the hook may read ${one ? 'it' : 'them'}: \`skycap rollback ${environment} --to ${running.record.number}\` puts back ${one ? 'its' : 'their'} content once the hook is done)`
        : '',
      addedNote(added, release),
    ].join('')
  } catch {
    return ''
  }
}

/** The config objects new with the release, left for the next deploy to prune, as a phrase starting with "; ". */
function addedNote(added: string[], release: number): string {
  if (!added.length) return ''
  return `; ${added.join(', ')}, new with release ${release}, ${added.length === 1 ? 'stays' : 'stay'} until the next deploy prunes ${added.length === 1 ? 'it' : 'them'}`
}
