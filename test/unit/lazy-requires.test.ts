import {expect} from 'chai'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {runInNewContext} from 'node:vm'

import {repoRoot} from '../helpers/repo.js'

type LazyRequires = (code: string, select: (path: string) => boolean) => string

// scripts/lazy-requires.mjs is a build script (plain JavaScript, not compiled with the tests).
async function lazyRequires(): Promise<LazyRequires> {
  const module = (await import(pathToFileURL(join(repoRoot, 'scripts', 'lazy-requires.mjs')).href)) as {lazyRequires: LazyRequires}
  return module.lazyRequires
}

// A chunk as esbuild writes it: each CommonJS module a method of __commonJS, run on its first require_x().
const CHUNK = `var __commonJS=(cb,mod)=>function(){return mod||(0,cb[Object.keys(cb)[0]])((mod={exports:{}}).exports,mod),mod.exports};
var log=[];
var __importDefault=function(mod){return mod&&mod.__esModule?mod:{default:mod}};
var require_a=__commonJS({"lib/a.js"(exports){log.push("a");exports.f=()=>"f of a";exports.self=function(){return this===exports}}});
var require_b=__commonJS({"lib/b.js"(exports){log.push("b");exports.g=()=>"g of b"}});
var require_c=__commonJS({"lib/c.js"(exports,module){log.push("c");module.exports=()=>"c called"}});
var require_d=__commonJS({"lib/d.js"(exports,module){log.push("d");module.exports="d's default"}});
var require_e=__commonJS({"lib/e.js"(exports){log.push("e");exports.h=()=>"h of e"}});
var require_main=__commonJS({"lib/main.js"(exports){var a_1=require_a(),b_1=require_b(),c_1=require_c(),d_1=__importDefault(require_d()),e_1=require_e();log.push("main");
exports.useA=()=>(0,a_1.f)();exports.selfA=()=>a_1.self();exports.typeofB=()=>typeof b_1;exports.callC=()=>c_1();exports.useD=()=>d_1.default;
exports.shadowE=function(e_1){return e_1.h()};}});
var require_other=__commonJS({"other/x.js"(exports){var a_1=require_a();log.push("other");exports.useA=()=>a_1.f()}});
({require_main, require_other, log})`

describe('lazyRequires (scripts/lazy-requires.mjs): a required module is evaluated when it is first used', () => {
  it('defers a module used only through its members; evaluates as before one that is called, passed, or named again', async () => {
    const code = (await lazyRequires())(CHUNK, (path) => path.startsWith('lib/'))
    const {require_main, log} = runInNewContext(code) as {require_main: () => Record<string, (...a: unknown[]) => unknown>; log: string[]}
    const main = require_main()
    // b is read with typeof, c is called, e's name is a parameter too: those three stay eager. a and d wait.
    expect(log).to.deep.equal(['b', 'c', 'e', 'main'])
    expect(main.useA!()).to.equal('f of a')
    expect(log).to.deep.equal(['b', 'c', 'e', 'main', 'a'])
    // The same module object, and `this` in a method call is the module (not a proxy).
    expect(main.selfA!()).to.equal(true)
    expect(main.useD!()).to.equal("d's default")
    expect(log).to.deep.equal(['b', 'c', 'e', 'main', 'a', 'd'])
    expect([main.typeofB!(), main.callC!(), main.shadowE!({h: () => 'own h'})]).to.deep.equal(['object', 'c called', 'own h'])
    expect(log.filter((m) => m === 'a')).to.have.length(1)
  })

  it('leaves modules outside the selection as they were', async () => {
    const code = (await lazyRequires())(CHUNK, (path) => path.startsWith('lib/'))
    expect(code).to.include('var a_1=require_a();log.push("other")')
    const {require_other, log} = runInNewContext(code) as {require_other: () => unknown; log: string[]}
    require_other()
    expect(log).to.deep.equal(['a', 'other'])
  })

  it('changes nothing when no module is selected', async () => {
    expect((await lazyRequires())(CHUNK, () => false)).to.equal(CHUNK)
  })
})
