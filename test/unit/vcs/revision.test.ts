import {expect} from 'chai'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'

import {UserError} from '../../../src/errors.js'
import {parseTarget, targetRevision} from '../../../src/vcs/target.js'
import {openVcs, type Vcs} from '../../../src/vcs/vcs.js'
import {TempHgRepo} from '../../helpers/hg.js'
import {TempRepo} from '../../helpers/repo.js'
import {rejectsWithUserError, userError} from '../../helpers/errors.js'

describe('revision specs', () => {
  it('splits ENV@REV', () => {
    expect(parseTarget('prod@v1.2.0')).to.deep.equal({environment: 'prod', revision: 'v1.2.0'})
    expect(parseTarget('staging')).to.deep.equal({environment: 'staging'})
    expect(parseTarget('prod@HEAD~2')).to.deep.equal({environment: 'prod', revision: 'HEAD~2'})
    expect(parseTarget('prod@feature/x@y')).to.deep.equal({environment: 'prod', revision: 'feature/x@y'})
    // Mercurial spellings pass through to hg.
    expect(parseTarget('prod@.~1')).to.deep.equal({environment: 'prod', revision: '.~1'})
    expect(parseTarget('prod@.')).to.deep.equal({environment: 'prod', revision: '.'})
    expect(parseTarget('prod@max(tagged())')).to.deep.equal({environment: 'prod', revision: 'max(tagged())'})
  })

  it('uses the default environment when none is given', () => {
    expect(parseTarget(undefined, 'staging')).to.deep.equal({environment: 'staging'})
    expect(parseTarget('@abc123', 'staging')).to.deep.equal({environment: 'staging', revision: 'abc123'})
  })

  it('only @REV and no default environment: "no environment given", as with nothing at all (it was "not a valid target")', () => {
    const error = userError(() => parseTarget('@HEAD~1'))
    expect(error.message).to.equal('no environment given: "@HEAD~1" names only the revision')
    expect(error.hint).to.equal('Name one as ENV@REV (e.g. staging@HEAD~1), or set defaultEnvironment in skycap.yaml.')
  })

  it('reads REV before the config is known (the default environment is not needed)', () => {
    expect(targetRevision('prod@v1.2.0')).to.equal('v1.2.0')
    expect(targetRevision('@HEAD~1')).to.equal('HEAD~1')
    expect(targetRevision('@.~1')).to.equal('.~1')
    expect(targetRevision('prod@feature/x@y')).to.equal('feature/x@y')
    for (const none of [undefined, '', 'prod']) expect(targetRevision(none), String(none)).to.equal(undefined)
    // Malformed specs name no revision here; parseTarget rejects them once skycap.yaml is read.
    for (const bad of ['Prod@v1', 'prod@', 'prod@a b', 'prod@-rf']) expect(targetRevision(bad), bad).to.equal(undefined)
  })

  it('rejects malformed specs with exit 2', () => {
    for (const bad of ['Prod', 'prod@', '@', 'prod@-rf', 'pr od', 'prod@a b']) {
      expect(() => parseTarget(bad), bad).to.throw(UserError)
    }
    expect(() => parseTarget(undefined)).to.throw(UserError, 'no environment given')
  })
})

/** A real repository of one VCS, driven the same way for both, so one suite checks git and Mercurial alike. */
interface Flavour {
  kind: 'git' | 'hg'
  /** What the work tree's parent is called, and N revisions before it. */
  head: string
  back: (n: number) => string
  shortLength: number
  make(): Promise<TestRepository>
  /** A repository of 1500 revisions, made in one process (git fast-import, hg debugbuilddag). */
  many(): Promise<TestRepository & {ids(): Promise<string[]>}>
}

interface TestRepository {
  dir: string
  write(path: string, content: string): void
  commit(message: string): Promise<string>
  /** Tags `id` as `name`; in both VCSs this adds a revision on top (Mercurial commits .hgtags; git gets an empty commit). */
  tag(name: string, id: string): Promise<void>
  /** A movable name at `id`: a git branch, a Mercurial bookmark. */
  mark(name: string, id: string): Promise<void>
  /** Undoes uncommitted changes to `path`. */
  revert(path: string): Promise<void>
  remove(): void
}

const flavours: Flavour[] = [
  {
    kind: 'git',
    head: 'HEAD',
    back: (n) => `HEAD~${n}`,
    shortLength: 7,
    async make() {
      const repo = new TempRepo()
      await repo.git('init', '-q', '-b', 'main')
      return gitRepository(repo)
    },
    async many() {
      const repo = new TempRepo()
      await repo.git('init', '-q', '-b', 'main')
      let stream = ''
      for (let i = 0; i < 1500; i++) {
        const msg = `c${i}`
        stream += `commit refs/heads/main\ncommitter T <t@t> ${1700000000 + i} +0000\ndata ${msg.length}\n${msg}\n\n`
      }
      await execa('git', ['fast-import', '--quiet'], {cwd: repo.dir, input: stream})
      return {...gitRepository(repo), ids: async () => (await repo.git('rev-list', 'main')).split('\n')}
    },
  },
  {
    kind: 'hg',
    head: '.',
    back: (n) => `.~${n}`,
    shortLength: 12,
    async make() {
      return hgRepository(await TempHgRepo.init())
    },
    async many() {
      const repo = await TempHgRepo.init()
      await repo.hg('debugbuilddag', '+1500')
      await repo.hg('update', '-q', 'tip')
      return {...hgRepository(repo), ids: async () => (await repo.hg('log', '-r', 'all()', '-T', '{node}\n')).split('\n').filter(Boolean)}
    },
  },
]

function gitRepository(repo: TempRepo): TestRepository {
  return {
    dir: repo.dir,
    write: (path, content) => repo.write(path, content),
    commit: (message) => repo.commit(message),
    tag: async (name, id) => {
      await repo.git('tag', name, id)
      await repo.commit(`Added tag ${name}`)
    },
    mark: async (name, id) => void (await repo.git('branch', name, id)),
    revert: async (path) => void (await repo.git('checkout', '--', path)),
    remove: () => repo.remove(),
  }
}

function hgRepository(repo: TempHgRepo): TestRepository {
  return {
    dir: repo.dir,
    write: (path, content) => repo.write(path, content),
    commit: (message) => repo.commit(message),
    tag: async (name, id) => void (await repo.hg('tag', '-d', '2026-01-01 00:00 +0000', '-r', id, name)),
    mark: async (name, id) => void (await repo.hg('bookmark', '-r', id, name)),
    revert: async (path) => void (await repo.hg('revert', '--no-backup', path)),
    remove: () => repo.remove(),
  }
}

for (const flavour of flavours) {
  describe(`revision resolution (real ${flavour.kind === 'git' ? 'git' : 'Mercurial'})`, function () {
    // An hg call starts Python: on a loaded machine ten of them take longer than the default timeout.
    this.timeout(120_000)
    let repo: TestRepository
    let vcs: Vcs
    let first: string
    let second: string
    let third: string

    before(async () => {
      repo = await flavour.make()
      repo.write('a.txt', '1')
      first = await repo.commit('first')
      repo.write('a.txt', '2')
      second = await repo.commit('second\n\nmore lines')
      await repo.tag('v1.0.0', second)
      await repo.mark('release', second)
      repo.write('a.txt', '3')
      third = await repo.commit('third')
      vcs = await openVcs(repo.dir, {pinned: ''})
    })
    after(() => repo.remove())

    it(`opens the repository as ${flavour.kind}`, () => {
      expect(vcs.kind).to.equal(flavour.kind)
    })

    it(`resolves ${flavour.head}, ${flavour.back(3)}, branches/bookmarks, tags, full and short ids`, async () => {
      const head = await vcs.resolve()
      expect(head).to.deep.include({input: flavour.head, sha: third, atHead: true, dirty: false, subject: 'third', author: 'Skycap Test <test@skycap.dev>'})
      expect((await vcs.resolve(flavour.back(3))).sha).to.equal(first)
      expect((await vcs.resolve(flavour.back(2))).sha).to.equal(second)
      expect((await vcs.resolve('release')).sha).to.equal(second)
      expect((await vcs.resolve('v1.0.0')).sha).to.equal(second)
      expect(await vcs.resolve(first)).to.deep.include({sha: first, atHead: false})
      const short = await vcs.resolve(second.slice(0, 8))
      expect(short).to.deep.include({sha: second, short: second.slice(0, flavour.shortLength), subject: 'second', dirty: false, atHead: false})
    })

    it('lists the revisions between two ids, oldest first', async () => {
      const list = await vcs.between(first, third)
      expect(list.map((r) => r.sha).slice(0, 1)).to.deep.equal([second])
      expect(list.map((r) => r.sha).at(-1)).to.equal(third)
      expect(list).to.have.length(3)
      expect(list[0]).to.deep.equal({sha: second, short: second.slice(0, flavour.shortLength), subject: 'second', author: 'Skycap Test <test@skycap.dev>'})
      expect(await vcs.between(third, first)).to.deep.equal([])
    })

    it('gives a subject with terminal escapes (retitle, clear, CR) as one printable line, from resolve and between', async () => {
      const other = await flavour.make()
      try {
        other.write('a.txt', '1')
        const base = await other.commit('base')
        other.write('a.txt', '2')
        const hostile = await other.commit('next \u001b]0;PWNED\u0007 \u001b[2J\rover \u009b31m')
        const opened = await openVcs(other.dir, {pinned: ''})
        // Mercurial keeps a CR as a line end: its subject is the first line.
        const cleaned = flavour.kind === 'git' ? 'next  ]0;PWNED   [2J over  31m' : 'next  ]0;PWNED   [2J'
        expect((await opened.resolve()).subject).to.equal(cleaned)
        expect((await opened.resolve(hostile)).subject).to.equal(cleaned)
        expect((await opened.between(base, hostile)).map((c) => c.subject)).to.deep.equal([cleaned])
      } finally {
        other.remove()
      }
    })

    if (flavour.kind === 'git') {
      it('commits signed with log.showSignature set: the id, author and commit list are read as without it', async () => {
        const other = await flavour.make()
        const keys = mkdtempSync(join(tmpdir(), 'skycap-sign-'))
        try {
          await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keys, 'key')])
          writeFileSync(join(keys, 'allowed'), `test@skycap.dev ${readFileSync(join(keys, 'key.pub'), 'utf8')}`)
          const git = (...args: string[]) => execa('git', args, {cwd: other.dir})
          for (const [key, value] of [
            ['gpg.format', 'ssh'],
            ['user.signingkey', join(keys, 'key.pub')],
            ['commit.gpgsign', 'true'],
            ['gpg.ssh.allowedSignersFile', join(keys, 'allowed')],
            ['log.showSignature', 'true'],
          ])
            await git('config', key as string, value as string)
          other.write('a.txt', '1')
          const base = await other.commit('base')
          other.write('a.txt', '2')
          const signed = await other.commit('signed')
          // git itself prints the signature first.
          expect((await git('log', '-1', '--format=%H')).stdout).to.match(/signature/)
          const opened = await openVcs(other.dir, {pinned: ''})
          expect(await opened.resolve()).to.deep.include({sha: signed, subject: 'signed', author: 'Skycap Test <test@skycap.dev>'})
          expect(await opened.resolve(base)).to.deep.include({sha: base, subject: 'base', author: 'Skycap Test <test@skycap.dev>'})
          expect((await opened.between(base, signed)).map((c) => [c.sha, c.author, c.subject])).to.deep.equal([[signed, 'Skycap Test <test@skycap.dev>', 'signed']])
        } finally {
          other.remove()
          rmSync(keys, {recursive: true, force: true})
        }
      })
    }

    it('rejects an unknown revision', async () => {
      const e = await rejectsWithUserError(vcs.resolve('no-such-branch'))
      expect(e.message).to.contain('unknown revision "no-such-branch"')
      expect(e.hint).to.match(/exists locally \((git fetch|hg pull) first/)
    })

    it('rejects an ambiguous short id and lists candidates', async () => {
      // 1500 revisions: two of them almost surely share a 4-hex-digit prefix. One with a letter: Mercurial reads
      // a number as a revision number.
      const many = await flavour.many()
      const seen = new Set<string>()
      const prefix = (await many.ids()).map((s) => s.slice(0, 4)).find((p) => /[a-f]/.test(p) && (seen.has(p) ? true : (seen.add(p), false)))
      expect(prefix, 'found two revisions with the same prefix').to.be.a('string')
      const e = await rejectsWithUserError((await openVcs(many.dir, {pinned: ''})).resolve(prefix))
      expect(e.message).to.contain(`revision "${prefix}" is ambiguous`)
      expect(e.hint).to.match(/Use more characters of the (SHA|changeset id) \(/)
      expect((e.details as {candidates: string[]}).candidates.every((c) => c.startsWith(prefix as string))).to.equal(true)
      many.remove()
    })

    it(`marks ${flavour.head} dirty when there are uncommitted changes, but not an older revision`, async () => {
      repo.write('a.txt', 'changed')
      expect((await vcs.resolve(flavour.head)).dirty).to.equal(true)
      expect((await vcs.resolve(flavour.back(1))).dirty).to.equal(false)
      await repo.revert('a.txt')
      expect((await vcs.resolve(flavour.head)).dirty).to.equal(false)
      // An untracked file, not ignored, counts too (as `git status` shows it).
      repo.write('new.txt', 'x')
      expect((await vcs.resolve()).dirty).to.equal(true)
    })

    it('never passes an option-looking revision to the VCS', async () => {
      const e = await rejectsWithUserError(vcs.resolve('--output=/tmp/x'))
      expect(e.message).to.contain('is not a revision')
    })
  })
}

describe('revision resolution: Mercurial names', function () {
  this.timeout(120_000)
  let repo: TempHgRepo
  let vcs: Vcs
  let ids: string[]

  before(async () => {
    repo = await TempHgRepo.init()
    repo.write('a.txt', '1')
    const zero = await repo.commit('zero')
    await repo.hg('branch', '-q', 'stable')
    repo.write('a.txt', '2')
    const one = await repo.commit('on stable')
    await repo.hg('update', '-q', 'default')
    repo.write('b.txt', '3')
    const two = await repo.commit('on default')
    ids = [zero, one, two]
    vcs = await openVcs(repo.dir, {pinned: ''})
  })
  after(() => repo.remove())

  it('resolves tip, ., named branches, revision numbers, HEAD aliases and revsets to one changeset', async () => {
    const [zero, one, two] = ids as [string, string, string]
    expect((await vcs.resolve('tip')).sha).to.equal(two)
    expect(await vcs.resolve('.')).to.deep.include({sha: two, atHead: true})
    expect((await vcs.resolve('stable')).sha).to.equal(one)
    expect((await vcs.resolve('default')).sha).to.equal(two)
    expect((await vcs.resolve('0')).sha).to.equal(zero)
    expect((await vcs.resolve('HEAD')).sha).to.equal(two)
    // .~1 and HEAD~1 follow the first parent: on default, "on stable" is not an ancestor.
    expect((await vcs.resolve('.~1')).sha).to.equal(zero)
    expect((await vcs.resolve('HEAD~1')).sha).to.equal(zero)
    expect((await vcs.resolve('HEAD^')).sha).to.equal(zero)
    expect((await vcs.resolve('max(branch(stable))')).sha).to.equal(one)
  })

  it('refuses a revset that names several changesets, none, or the null revision', async () => {
    const several = await rejectsWithUserError(vcs.resolve('all()'))
    expect(several.message).to.contain('revision "all()" names several changesets')
    expect(several.hint).to.contain('last(all())')
    const none = await rejectsWithUserError(vcs.resolve('none()'))
    expect(none.message).to.contain('revision "none()" names no changeset')
    const before = await rejectsWithUserError(vcs.resolve('.~5'))
    expect(before.message).to.contain('revision ".~5" is the null revision: it lies before the first changeset')
  })

  it('says what is wrong with a revset hg cannot parse', async () => {
    const e = await rejectsWithUserError(vcs.resolve('ancestors('))
    expect(e.message).to.match(/^revision "ancestors\(" is not a valid Mercurial revision or revset: hg: parse error/)
  })

  it('says a hidden (obsolete) changeset is hidden and what replaced it; a range still reaches it by its full id', async () => {
    const evolved = await TempHgRepo.init()
    // Obsolescence markers, as evolve or `experimental.evolution` in a user's hgrc make them on amend.
    evolved.write('.hg/hgrc', '[experimental]\nevolution = all\n')
    evolved.write('a.txt', '1')
    const base = await evolved.commit('base')
    evolved.write('a.txt', '2')
    const old = await evolved.commit('before amend')
    await evolved.hg('commit', '-q', '--amend', '-m', 'after amend')
    const amended = await evolved.node('.')
    const hidden = await openVcs(evolved.dir, {pinned: ''})
    for (const rev of [old, old.slice(0, 12)]) {
      const e = await rejectsWithUserError(hidden.resolve(rev))
      expect(e.message).to.equal(`revision "${rev}" is hidden in ${evolved.dir}: it is obsolete (hg: it was rewritten as: ${amended.slice(0, 12)})`)
      expect(e.hint).to.contain('Name the changeset that replaced it')
    }
    // A release recorded at the old changeset: \`skycap diff\` lists what a deploy of the amended one changes.
    expect((await hidden.between(old, amended)).map((c) => c.subject)).to.deep.equal(['after amend'])
    expect((await hidden.between(base, old)).map((c) => c.subject)).to.deep.equal(['before amend'])
    evolved.remove()
  })

  it("says in hg's words why a revset names nothing (a tag or bookmark that does not exist), and when an hgrc is broken", async () => {
    const tag = await rejectsWithUserError(vcs.resolve('tag(nope)'))
    expect(tag.message).to.equal(`revision "tag(nope)" names no changeset in ${repo.dir}: hg: tag 'nope' does not exist`)
    const broken = await TempHgRepo.init()
    broken.write('a.txt', '1')
    await broken.commit('one')
    broken.write('.hg/hgrc', '[ui\n')
    for (const work of [() => openVcs(broken.dir, {pinned: ''}).then((v) => v.resolve()), () => openVcs(broken.dir, {pinned: ''}).then((v) => v.workTreeFiles())]) {
      const e = await rejectsWithUserError(work)
      expect(e.message).to.match(/^hg cannot read its configuration, so skycap cannot read the Mercurial repository at .*: config error at .*\.hg\/hgrc:1: \[ui$/)
    }
    broken.remove()
  })

  it('says when the work tree has no parent changeset yet', async () => {
    const empty = await TempHgRepo.init()
    const e = await rejectsWithUserError((await openVcs(empty.dir, {pinned: ''})).resolve())
    expect(e.message).to.contain('has no parent changeset')
    expect(e.hint).to.contain('hg update')
    empty.remove()
  })
})

describe('opening a repository', function () {
  let outer: TempRepo
  before(async () => {
    outer = await TempRepo.withFiles({'a.txt': 'git\n'})
  })
  after(() => outer.remove())

  it('picks the nearer repository (auto), or the one skycap.yaml names', async () => {
    const {mkdirSync} = await import('node:fs')
    const {join} = await import('node:path')
    const inner = join(outer.dir, 'hgapp')
    mkdirSync(inner)
    await execa('hg', ['init'], {cwd: inner, env: {HGRCPATH: ''}})
    expect((await openVcs(inner)).kind).to.equal('hg')
    expect((await openVcs(outer.dir)).kind).to.equal('git')
    const forced = await openVcs(inner, {kind: 'git'})
    expect(forced.kind).to.equal('git')
    expect(forced.root).to.equal((await openVcs(outer.dir)).root)
    const refused = await rejectsWithUserError(openVcs(outer.dir, {kind: 'hg', pinned: ''}))
    expect(refused.message).to.contain('is not inside a Mercurial repository')
    expect(refused.hint).to.contain('`vcs: hg`')
  })

  it('takes git when one folder holds both, unless skycap.yaml says `vcs: hg`', async () => {
    const both = await TempRepo.withFiles({'a.txt': 'both\n'})
    await execa('hg', ['init'], {cwd: both.dir, env: {HGRCPATH: ''}})
    expect((await openVcs(both.dir)).kind).to.equal('git')
    expect((await openVcs(both.dir, {kind: 'hg'})).kind).to.equal('hg')
    both.remove()
  })

  it('says a fresh git repository has no commits yet, rather than that HEAD is unknown', async () => {
    const fresh = new TempRepo()
    try {
      await fresh.git('init', '-q', '-b', 'trunk')
      fresh.write('skycap.yaml', 'app: a\n')
      const vcs = await openVcs(fresh.dir, {pinned: ''})
      for (const rev of [undefined, 'HEAD']) {
        const e = await rejectsWithUserError(vcs.resolve(rev))
        expect(e.message, String(rev)).to.equal(`the git repository at ${vcs.root} has no commits yet (branch trunk is empty)`)
        expect(e.hint).to.contain('git add -A && git commit')
      }
      // Any other name is still an unknown revision.
      expect((await rejectsWithUserError(vcs.resolve('main'))).message).to.contain('unknown revision "main"')
      // Once there is a commit, HEAD resolves.
      await fresh.commit('first')
      expect((await vcs.resolve()).sha).to.match(/^[0-9a-f]{40}$/)
    } finally {
      fresh.remove()
    }
  })

  it('rejects a directory outside any repository', async () => {
    const plain = new TempRepo()
    const e = await rejectsWithUserError(openVcs(plain.dir, {pinned: ''}))
    expect(e.message).to.contain('is not inside a git or Mercurial repository')
    expect(e.hint).to.contain('SKYCAP_REVISION')
    plain.remove()
  })
})
