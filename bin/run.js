#!/usr/bin/env node
// `skycap --version` and `skycap --help` are answered without loading oclif, whose modules take about 150 ms to
// load: the version from package.json, the root help from dist/help.txt, which `npm run build` renders with oclif
// itself (a unit test keeps the two outputs identical). Everything else goes through oclif.
import {readFileSync} from 'node:fs'

const args = process.argv.slice(2)
if (args.length === 1 && !process.env.SKYCAP_NO_FAST_PATH) {
  const root = new URL('../', import.meta.url)
  if (args[0] === '--version') {
    const {name, version} = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'))
    process.stdout.write(`${name}/${version} ${process.platform}-${process.arch} node-${process.version}\n`)
    process.exit(0)
  }
  if (args[0] === '--help' || args[0] === '-h') {
    try {
      process.stdout.write(readFileSync(new URL('dist/help.txt', root), 'utf8'))
      process.exit(0)
    } catch {
      // Not built with `npm run build`: let oclif render it.
    }
  }
}

const {execute} = await import('@oclif/core')
await execute({dir: import.meta.url})
