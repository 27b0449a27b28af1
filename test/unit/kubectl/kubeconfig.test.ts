import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'

import {expect} from 'chai'

import {currentContextFromFiles, currentContextSource, noKubeconfigNote} from '../../../src/kubectl/kubeconfig.js'

/** A kubeconfig as kubectl writes one, with `line` as its current-context line. */
const kubeconfig = (line: string) => `apiVersion: v1\nclusters: []\ncontexts: []\n${line}\nkind: Config\npreferences: {}\nusers: []\n`

describe('the current context read from the kubeconfig files (currentContextFromFiles)', () => {
  let dir: string
  const file = (name: string, text: string) => {
    const path = join(dir, name)
    writeFileSync(path, text)
    return path
  }
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skycap-kubeconfig-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('reads plain and quoted names as kubectl writes them', () => {
    for (const [line, expected] of [
      ['current-context: kind-dev', 'kind-dev'],
      ['current-context: arn:aws:eks:eu-west-1:123456789012:cluster/prod', 'arn:aws:eks:eu-west-1:123456789012:cluster/prod'],
      ['current-context: gke_project_europe-west1-b_main', 'gke_project_europe-west1-b_main'],
      ['current-context: admin@prod.example.com', 'admin@prod.example.com'],
      ['current-context: "with space"', 'with space'],
      ["current-context: 'it''s'", "it's"],
    ] as const) {
      expect(currentContextFromFiles({KUBECONFIG: file('config', kubeconfig(line))}), line).to.equal(expected)
    }
  })

  it('follows KUBECONFIG in order: missing files and empty current-contexts are passed over, the first one set wins', () => {
    const missing = join(dir, 'missing')
    const empty = file('empty', kubeconfig('current-context: ""'))
    const none = file('none', 'apiVersion: v1\nkind: Config\n')
    const first = file('first', kubeconfig('current-context: first'))
    const second = file('second', kubeconfig('current-context: second'))
    expect(currentContextFromFiles({KUBECONFIG: [missing, empty, none, first, second].join(delimiter)})).to.equal('first')
    expect(currentContextFromFiles({KUBECONFIG: [second, first].join(delimiter)})).to.equal('second')
  })

  it('reads ~/.kube/config when KUBECONFIG is unset or empty', () => {
    mkdirSync(join(dir, '.kube'))
    file('.kube/config', kubeconfig('current-context: home'))
    expect(currentContextFromFiles({HOME: dir})).to.equal('home')
    expect(currentContextFromFiles({HOME: dir, KUBECONFIG: ''})).to.equal('home')
  })

  it('leaves kubectl to answer what it does not follow, and when nothing sets a current context', () => {
    for (const text of [
      '{"apiVersion": "v1", "kind": "Config", "current-context": "json"}',
      kubeconfig('current-context: x # a comment'),
      kubeconfig('current-context: "with \\" escape"'),
      kubeconfig('current-context: &anchor x'),
      kubeconfig('current-context: a\ncurrent-context: b'),
      `${kubeconfig('current-context: a')}preferences:\n  current-context: b\n`,
    ]) {
      expect(currentContextFromFiles({KUBECONFIG: file('config', text)}), text).to.equal(undefined)
    }
    expect(currentContextFromFiles({KUBECONFIG: file('none', 'apiVersion: v1\n')}), 'not set').to.equal(undefined)
    expect(currentContextFromFiles({KUBECONFIG: join(dir, 'missing')}), 'no file').to.equal(undefined)
    expect(currentContextFromFiles({HOME: join(dir, 'nobody')}), 'no ~/.kube/config').to.equal(undefined)
    mkdirSync(join(dir, 'folder'))
    expect(currentContextFromFiles({KUBECONFIG: [join(dir, 'folder'), file('ok', kubeconfig('current-context: later'))].join(delimiter)}), 'unreadable').to.equal(undefined)
  })

  it('leaves kubectl to answer a YAML null, boolean or number, and a file of more than one YAML document (it read `null` as the context "null")', () => {
    const second = file('second', kubeconfig('current-context: second'))
    for (const line of ['current-context: null', 'current-context: ~', 'current-context: Null', 'current-context: true', 'current-context: 12']) {
      // kubectl takes a null as unset and goes on to the next file: that answer is kubectl's to give.
      expect(currentContextFromFiles({KUBECONFIG: [file('first', kubeconfig(line)), second].join(delimiter)}), line).to.equal(undefined)
    }
    expect(currentContextFromFiles({KUBECONFIG: file('docs', `${kubeconfig('current-context: a')}---\n${kubeconfig('current-context: b')}`)}), '---').to.equal(undefined)
    expect(currentContextFromFiles({KUBECONFIG: file('docs', `${kubeconfig('current-context: a')}...\n`)}), '...').to.equal(undefined)
    // A document marker that only starts the file is one document, read as before; names like these are still read.
    expect(currentContextFromFiles({KUBECONFIG: file('one', `---\n${kubeconfig('current-context: kind-null')}`)})).to.equal('kind-null')
    expect(currentContextFromFiles({KUBECONFIG: file('one', kubeconfig('current-context: 1-prod'))})).to.equal('1-prod')
    expect(currentContextSource({KUBECONFIG: [join(dir, 'missing'), second].join(delimiter)})).to.deep.equal({context: 'second', file: second})
  })

  it('says when no kubeconfig file exists (an unknown context then read "Known contexts: none")', () => {
    const missing = join(dir, 'nonexistent', 'kc')
    expect(noKubeconfigNote({KUBECONFIG: missing})).to.equal(`KUBECONFIG names ${missing}, which does not exist`)
    expect(noKubeconfigNote({KUBECONFIG: [missing, `${missing}2`].join(delimiter)})).to.equal(`KUBECONFIG names ${missing}, ${missing}2, which do not exist`)
    expect(noKubeconfigNote({HOME: join(dir, 'nobody')})).to.equal(`${join(dir, 'nobody', '.kube', 'config')} does not exist`)
    expect(noKubeconfigNote({KUBECONFIG: [missing, file('there', kubeconfig('current-context: x'))].join(delimiter)})).to.equal(undefined)
  })
})
