/**
 * What rendering an older revision costs: `skycap render staging@HEAD~1` (skycap.yaml, templates and config files
 * read from the commit into a temporary folder) against `skycap render staging` (read from the work tree), on the
 * example app test/fixtures/shop with one commit on top that changes skycap.yaml, a template and a config file.
 *
 *   node dist/bench/revision.js [rounds]      (default 15)
 *
 * The whole CLI, runs interleaved; then the engine (prepareRelease) in this process, warm, interleaved.
 */
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {execa} from 'execa'

import {cliPath, fmt, GIT_ENV, machine, median, shopRepo as oneCommit, table, timeOk} from './measure.js'

async function shopRepo(): Promise<string> {
  const dir = oneCommit('revision')
  const git = (...args: string[]) => execa('git', args, {cwd: dir, env: GIT_ENV})
  const edit = (file: string, change: (text: string) => string) => writeFileSync(join(dir, file), change(readFileSync(join(dir, file), 'utf8')))
  edit('skycap.yaml', (t) => t.replace('LOG_LEVEL: info', 'LOG_LEVEL: warn'))
  edit('deploy/ingress.yaml', (t) => t.replace('  annotations:\n', '  annotations:\n    new: "yes"\n'))
  edit('config/web/app.properties', (t) => `${t}new=1\n`)
  await git('commit', '-q', '-am', 'two')
  return dir
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 15)
  const dir = await shopRepo()
  try {
    console.log(`skycap render at HEAD (work tree) vs at HEAD~1 (from the commit), test/fixtures/shop; ${machine()}`)
    const cli = {head: [] as number[], older: [] as number[]}
    for (let i = 0; i < rounds; i++) {
      cli.head.push(timeOk(process.execPath, [cliPath, 'render', 'staging'], {cwd: dir}).ms)
      cli.older.push(timeOk(process.execPath, [cliPath, 'render', 'staging@HEAD~1'], {cwd: dir}).ms)
    }
    const {prepareRelease} = await import('../src/render/prepare.js')
    const engine = {head: [] as number[], older: [] as number[]}
    await prepareRelease({target: 'staging', cwd: dir})
    await prepareRelease({target: 'staging@HEAD~1', cwd: dir})
    for (let i = 0; i < rounds; i++) {
      for (const [target, times] of [
        ['staging', engine.head],
        ['staging@HEAD~1', engine.older],
      ] as const) {
        const t0 = performance.now()
        await prepareRelease({target, cwd: dir})
        times.push(performance.now() - t0)
      }
    }
    console.log(`\nwall time, median of ${rounds} (ms); CLI = \`node bin/run.js render ... > /dev/null\`; engine = prepareRelease in-process, warm`)
    table(
      ['what', 'HEAD', 'HEAD~1', 'difference', 'ratio'],
      [
        ['skycap CLI', fmt.ms(median(cli.head)), fmt.ms(median(cli.older)), fmt.ms(median(cli.older) - median(cli.head)), fmt.ratio(median(cli.older) / median(cli.head))],
        ['engine', fmt.ms(median(engine.head)), fmt.ms(median(engine.older)), fmt.ms(median(engine.older) - median(engine.head)), fmt.ratio(median(engine.older) / median(engine.head))],
      ],
    )
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

await main()
