// A build step of scripts/bundle.mjs: oclif's modules require each other when the bundle's chunk loads; written lazily,
// a command evaluates only the modules it uses (docs/startup.md).
import {parse} from 'acorn'

/** `require_x()` (esbuild's wrapper of a bundled CommonJS module) or `__require("node:x")` (a built-in). */
const isRequire = (n) =>
  n?.type === 'CallExpression' &&
  n.callee.type === 'Identifier' &&
  ((n.callee.name.startsWith('require_') && n.arguments.length === 0) || (n.callee.name === '__require' && n.arguments.length === 1 && n.arguments[0].type === 'Literal'))

/** A require, or TypeScript's `__importDefault(require…)` / `__importStar(require…)` around one. */
const isRequireInit = (n) =>
  isRequire(n) ||
  (n?.type === 'CallExpression' && n.callee.type === 'Identifier' && ['__importDefault', '__importStar'].includes(n.callee.name) && n.arguments.length === 1 && isRequire(n.arguments[0]))

function walk(node, parent, fn) {
  if (!node || typeof node.type !== 'string') return
  fn(node, parent)
  for (const key of Object.keys(node)) {
    const v = node[key]
    if (Array.isArray(v)) for (const c of v) walk(c, node, fn)
    else if (v && typeof v === 'object' && typeof v.type === 'string') walk(v, node, fn)
  }
}

/**
 * In each CommonJS module of the bundle whose path `select` accepts, a top-level `var x_1 = require_y()` (or an
 * `__importDefault`/`__importStar` of one) becomes `var x_1`, and each use `x_1.name` becomes
 * `(x_1||(x_1=require_y())).name`: module y is evaluated when it is first used, not when the module that names it
 * is. Only a variable used nowhere but as the object of a member expression (`x_1.a`, `(0, x_1.a)(…)`, `x_1[k]`) is
 * rewritten: one that is called, passed, assigned or declared again anywhere in the module stays as it was. The
 * values are the same objects (esbuild's wrappers and TypeScript's helpers return the module they made the first
 * time), so the only change is when a module's own top-level code runs.
 */
export function lazyRequires(code, select) {
  const edits = []
  walk(parse(code, {ecmaVersion: 'latest', sourceType: 'module'}), null, (node) => {
    if (!(node.type === 'CallExpression' && node.callee.type === 'Identifier' && node.callee.name === '__commonJS')) return
    const [modules] = node.arguments
    for (const p of modules?.type === 'ObjectExpression' ? modules.properties : []) {
      if (p.type !== 'Property' || p.key.type !== 'Literal' || !select(String(p.key.value))) continue
      const body = p.value.body
      if (body?.type !== 'BlockStatement') continue
      const candidates = new Map()
      for (const statement of body.body) {
        if (statement.type !== 'VariableDeclaration') continue
        for (const d of statement.declarations) if (d.id.type === 'Identifier' && isRequireInit(d.init)) candidates.set(d.id.name, {d, uses: [], lazy: true})
      }
      walk(body, null, (n, parent) => {
        const c = n.type === 'Identifier' ? candidates.get(n.name) : undefined
        if (!c || parent === c.d) return
        if (parent?.type === 'MemberExpression' && parent.property === n && !parent.computed) return
        // A name that is only a key: `{x_1: v}`, `a.x_1`, a class member called x_1.
        const isKey = ['Property', 'MethodDefinition', 'PropertyDefinition'].includes(parent?.type) && parent.key === n && !parent.computed && !parent.shorthand
        if (isKey) return
        if (parent?.type === 'MemberExpression' && parent.object === n) c.uses.push(n)
        else c.lazy = false
      })
      for (const [name, c] of candidates) {
        if (!c.lazy) continue
        const init = code.slice(c.d.init.start, c.d.init.end)
        edits.push([c.d.id.end, c.d.init.end, ''])
        for (const use of c.uses) edits.push([use.start, use.end, `(${name}||(${name}=${init}))`])
      }
    }
  })
  edits.sort((a, b) => b[0] - a[0])
  for (const [start, end, text] of edits) code = code.slice(0, start) + text + code.slice(end)
  return code
}
