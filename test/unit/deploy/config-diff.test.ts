import {expect} from 'chai'

import {clipLongLines, configMapChanges, replacedConfigMaps} from '../../../src/deploy/config-diff.js'
import type {KubeObject} from '../../../src/render/objects.js'
import {fakeKubectl} from '../../helpers/fake-kubectl.js'

const configMap = (name: string, data: Record<string, string>, binaryData?: Record<string, string>): KubeObject =>
  ({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name}, data, ...(binaryData ? {binaryData} : {})}) as KubeObject

describe('skycap diff: a content-named ConfigMap against the one it replaces', () => {
  it('pairs a new web-config-<hash> with the one pruned live ConfigMap of that service; two live ones (which runs?), a name not content-named, or one not new, are left to kubectl', () => {
    const next = configMap('web-config-bbbbbbbbbb', {})
    const worker = configMap('worker-config-cccccccccc', {})
    const plain = configMap('settings', {})
    const objects = [next, worker, plain]
    expect(
      replacedConfigMaps(
        objects,
        ['ConfigMap/web-config-bbbbbbbbbb', 'ConfigMap/worker-config-cccccccccc', 'ConfigMap/settings'],
        ['ConfigMap/web-config-aaaaaaaaaa', 'ConfigMap/worker-config-1111111111', 'ConfigMap/worker-config-2222222222', 'ConfigMap/settings-old'],
      ),
    ).to.deep.equal([{next, previous: 'web-config-aaaaaaaaaa'}])
    // Not new (kubectl diffs it against itself): nothing to pair.
    expect(replacedConfigMaps(objects, [], ['ConfigMap/web-config-aaaaaaaaaa'])).to.deep.equal([])
    // A service whose name ends like another's stem: web-config-… is not api-web-config-…'s.
    expect(replacedConfigMaps(objects, ['ConfigMap/web-config-bbbbbbbbbb'], ['ConfigMap/api-web-config-aaaaaaaaaa'])).to.deep.equal([])
  })

  it('one kubectl get for the live ones; a hunk per changed file, new and removed files said, binary files by size; a pair whose live ConfigMap is gone is left out', async () => {
    const fake = fakeKubectl([
      {
        argv: ['--request-timeout=30s', 'get', 'configmaps', 'web-config-aaaaaaaaaa', 'api-config-dddddddddd', '--ignore-not-found', '-o', 'json'],
        result: {
          stdout: JSON.stringify({
            items: [configMap('web-config-aaaaaaaaaa', {'a.txt': 'one\ntwo\nthree\n', 'gone.txt': 'bye\n', 'same.txt': 'x\n'}, {'logo.png': Buffer.alloc(10).toString('base64')})],
          }),
        },
      },
    ])
    const changes = await configMapChanges(fake.kubectl, [
      {
        next: configMap('web-config-bbbbbbbbbb', {'a.txt': 'one\n2\nthree\n', 'new.txt': 'hi\n', 'same.txt': 'x\n'}, {'logo.png': Buffer.alloc(12).toString('base64')}),
        previous: 'web-config-aaaaaaaaaa',
      },
      {next: configMap('api-config-eeeeeeeeee', {}), previous: 'api-config-dddddddddd'},
    ])
    expect(fake.remaining()).to.equal(0)
    expect([...changes.keys()]).to.deep.equal(['ConfigMap/web-config-bbbbbbbbbb'])
    expect(changes.get('ConfigMap/web-config-bbbbbbbbbb')).to.deep.equal([
      '--- ConfigMap/web-config-aaaaaaaaaa (live)',
      "+++ ConfigMap/web-config-bbbbbbbbbb (after deploy: replaces ConfigMap/web-config-aaaaaaaaaa; its files' changes)",
      '@@ -1,3 +1,3 @@ a.txt',
      ' one',
      '-two',
      '+2',
      ' three',
      '@@ -1,1 +0,0 @@ gone.txt (removed)',
      '-bye',
      '@@ -0,0 +1,1 @@ new.txt (new file)',
      '+hi',
      '@@ logo.png (binary) @@',
      '~ (changed: 10 bytes → 12 bytes)',
    ])
  })

  it('a long line is cut around its first change, paired with the line that replaces it; other long lines from their start; short ones stay whole', () => {
    const a = `${'x'.repeat(1000)}A${'y'.repeat(1000)}`
    const b = `${'x'.repeat(1000)}B${'y'.repeat(1000)}`
    const context = 'z'.repeat(300)
    const [before, after, same, added, short] = clipLongLines([`-${a}`, `+${b}`, ` ${context}`, `+${a}`, '+short'])
    expect(before).to.equal(`-…${a.slice(920, 1160)}… (a line of 2001 characters, cut from character 921)`)
    expect(after).to.equal(`+…${b.slice(920, 1160)}… (a line of 2001 characters, cut from character 921)`)
    expect(same).to.equal(` ${context.slice(0, 240)}… (a line of 300 characters, cut)`)
    expect(added).to.equal(`+${a.slice(0, 240)}… (a line of 2001 characters, cut)`)
    expect(short).to.equal('+short')
  })
})
