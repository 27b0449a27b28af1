// Renders each command's --help with oclif itself into dist/help/<id>.txt (words joined by spaces), as `npm run
// build` renders the root help into dist/help.txt: bin/run.js prints these without loading oclif (`skycap deploy
// --help`, `skycap help deploy`). 80 columns, like the root help; a unit test keeps both outputs identical.
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import process from 'node:process'
import {fileURLToPath, URL} from 'node:url'

const root = fileURLToPath(new URL('../', import.meta.url))
const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8'))
const out = join(root, 'dist', 'help')
rmSync(out, {recursive: true, force: true})
mkdirSync(out, {recursive: true})
for (const [id, command] of Object.entries(manifest.commands)) {
  if (command.hidden) continue
  const words = id.split(':')
  const text = execFileSync(process.execPath, [join(root, 'bin', 'run.js'), ...words, '--help'], {
    env: {...process.env, SKYCAP_NO_FAST_PATH: '1', COLUMNS: '80', NO_COLOR: '1'},
    encoding: 'utf8',
  })
  writeFileSync(join(out, `${words.join(' ')}.txt`), text)
}
