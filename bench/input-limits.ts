/**
 * Parsing at the input limits (docs/input-limits.md): skycap.yaml files just under LIMITS.skycapYaml, in the shape
 * of many services and of one mapping of many small keys (the shape that took minutes before the duplicate-key
 * check was made linear), and a template just under LIMITS.template rendered by `skycap render`.
 *
 *   node dist/bench/input-limits.js
 *
 * Prints times; asserts nothing.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {LIMITS} from '../src/config/limits.js'
import {loadConfig} from '../src/config/load.js'
import {cliPath, machine, median, table, timeOk} from './measure.js'

const ms = (n: number) => `${n.toFixed(0)} ms`

const RUNS = 5

/** Text of `unit(i)` repeated while it stays under `limit` bytes. */
function fill(head: string, tail: string, limit: number, unit: (i: number) => string): string {
  const parts = [head]
  let size = head.length + tail.length
  for (let i = 0; ; i++) {
    const next = unit(i)
    if (size + next.length > limit) break
    parts.push(next)
    size += next.length
  }
  parts.push(tail)
  return parts.join('')
}

const services = fill('app: big\nservices:\n', 'environments:\n  prod: {namespace: big}\n', LIMITS.skycapYaml, (i) =>
  [`  svc-${i}:`, `    image: img-${i}`, '    replicas: 2', '    port: 8080', '    env: {LOG_LEVEL: info}', '    resources: {requests: {cpu: 100m}}', ''].join('\n'),
)
const flat = fill('app: big\nservices:\n  web: {image: web}\nenvironments:\n  prod:\n    namespace: big\n    values:\n', '', LIMITS.skycapYaml, (i) => `      k${i}: 1\n`)

const dir = mkdtempSync(join(tmpdir(), 'skycap-bench-limits-'))
const rows: Array<Array<string | number>> = []
try {
  for (const [name, text] of [
    ['skycap.yaml, many services', services],
    ['skycap.yaml, one mapping of small keys', flat],
  ] as const) {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.yaml`)
    writeFileSync(file, text)
    const times: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now()
      await loadConfig({configPath: file})
      times.push(performance.now() - t0)
    }
    rows.push([name, `${(text.length / 1024).toFixed(0)} KiB`, ms(median(times)), ms(Math.max(...times))])
  }

  // A template just under its limit, through the whole CLI (read, render, parse the YAML, sort, print).
  const template = fill('', '', LIMITS.template, (i) => `---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-${i}}\ndata: {k: "{{ app }}-${i}"}\n`)
  const app = join(dir, 'app')
  mkdirSync(join(app, 'deploy'), {recursive: true})
  writeFileSync(join(app, 'skycap.yaml'), 'app: big\nservices: {web: {image: web}}\nenvironments: {prod: {namespace: big}}\n')
  writeFileSync(join(app, 'deploy', 'many.yaml'), template)
  execFileSync('git', ['init', '-q'], {cwd: app})
  execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@skycap.dev', 'commit', '-q', '--allow-empty', '-m', 'bench'], {cwd: app})
  const runs = Array.from({length: RUNS}, () => timeOk('node', [cliPath, 'render', 'prod'], {cwd: app}).ms)
  rows.push(['template of many objects (whole skycap render)', `${(template.length / 1024).toFixed(0)} KiB`, ms(median(runs)), ms(Math.max(...runs))])
} finally {
  rmSync(dir, {recursive: true, force: true})
}
console.log(`input limits: parse times at the limits (${RUNS} runs; ${machine()})`)
table(['input', 'size', 'median', 'max'], rows)
