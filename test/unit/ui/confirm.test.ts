import {expect} from 'chai'
import {execa} from 'execa'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {repoRoot} from '../../helpers/repo.js'

// A real pseudo-terminal (Python's pty module) around a Node process that asks: the key is typed once the prompt
// shows, as a person at the terminal would.
const DRIVER = `
import os, pty, select, sys
key = sys.argv[1].encode().decode('unicode_escape').encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out = b''
def read(until=None):
    global out
    while until is None or until not in out:
        ready, _, _ = select.select([fd], [], [], 20)
        if not ready:
            return
        try:
            data = os.read(fd, 1024)
        except OSError:
            return
        if not data:
            return
        out += data
read(b'continue: ')
os.write(fd, key)
read()
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`

describe('confirm on a terminal', function () {
  this.timeout(60_000)
  const ask = async (key: string, answer?: string) => {
    const module = pathToFileURL(join(repoRoot, 'dist/src/ui/confirm.js')).href
    const code = `import(${JSON.stringify(module)}).then((m) => m.confirmOnTerminal('Deploy?'${answer ? `, ${JSON.stringify(answer)}` : ''})).then((a) => console.log('answer=' + a), (e) => { console.log('error=' + e.constructor.name + ': ' + e.message); process.exit(e.exitCode ?? 1) })`
    return execa('python3', ['-c', DRIVER, key, process.execPath, '--input-type=module', '-e', code], {reject: false})
  }

  it('"yes" confirms, anything else does not; Ctrl-D is a no, Ctrl-C an interruption, exit 130 (both were "Aborted with Ctrl+…", exit 1)', async () => {
    const yes = await ask('yes\\r')
    expect(yes.stdout).to.contain('answer=true')
    const no = await ask('no\\r')
    expect(no.stdout).to.contain('answer=false')
    const eof = await ask('\\x04')
    expect([eof.exitCode, eof.stdout.includes('answer=false')], eof.stdout).to.deep.equal([0, true])
    const interrupt = await ask('\\x03')
    expect(interrupt.exitCode, interrupt.stdout).to.equal(130)
    expect(interrupt.stdout).to.contain('error=InterruptedError: cancelled at the prompt (Ctrl-C); nothing was changed')
  })

  it('a protected environment\'s name must be typed as it is (skycap down ENV): "yes" or another case is a no', async () => {
    const typed = await ask('prod\\r', 'prod')
    expect(typed.stdout).to.contain('Type "prod" to continue: ')
    expect(typed.stdout).to.contain('answer=true')
    expect((await ask('yes\\r', 'prod')).stdout).to.contain('answer=false')
    expect((await ask('PROD\\r', 'prod')).stdout).to.contain('answer=false')
  })
})
