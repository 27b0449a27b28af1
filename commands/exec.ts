import {Args, Flags} from '@oclif/core'

import {stdinBringsInput} from '../src/tasks/stdin.js'
import {execInService} from '../src/tasks/exec.js'
import {environmentFlag} from './_environment.js'
import {SkycapCommand} from './_base.js'
import {splitCommand} from './_command-line.js'

export default class Exec extends SkycapCommand {
  static override summary = 'Run a command in a running pod of a service (-it for a shell); exits with its exit code.'
  static override strict = false
  // oclif would show SERVICE... (strict = false): the command comes after `--`.
  static override usage = ['exec SERVICE [-e ENV] [-i] [-t] [--pod POD] [-c CONTAINER] -- COMMAND [ARG...]']
  static override examples = [
    '<%= config.bin %> exec web -- env',
    '<%= config.bin %> exec web -e prod -it -- sh',
    '<%= config.bin %> exec web --pod web-7c9d-x2x1 -- cat /etc/skycap/config/app.properties',
    '<%= config.bin %> exec web -c envoy -- ls /etc/envoy',
  ]
  static override args = {service: Args.string({description: 'The service whose pod runs the command', required: true})}
  static override flags = {
    env: environmentFlag,
    pod: Flags.string({description: "One of the service's pods (default: its oldest ready pod)."}),
    container: Flags.string({char: 'c', description: "A container of that pod, such as a sidecar (default: the service's own, named after it)."}),
    interactive: Flags.boolean({char: 'i', description: 'Pass stdin to the command.'}),
    tty: Flags.boolean({char: 't', description: 'Allocate a terminal (with -i: a shell).'}),
  }

  async run(): Promise<void> {
    const {own, command} = splitCommand(this.argv)
    const {args, flags, argv} = await this.parse(Exec, own)
    const result = await execInService(
      {
        service: args.service,
        command: [...(argv as string[]).slice(1), ...command],
        leading: (argv as string[]).slice(1),
        environment: flags.env,
        configPath: flags.config,
        pod: flags.pod,
        container: flags.container,
        stdin: flags.interactive,
        tty: flags.tty,
        json: this.jsonEnabled(),
      },
      {kubectl: this.kubectlFactory(), reporter: this.reporter(), terminal: Boolean(process.stdin.isTTY), pipedStdin: stdinBringsInput(), ...this.untrustedOutput()},
    )
    if (this.jsonEnabled()) this.logJson({ok: true, result})
    if (result.exitCode !== 0) this.exit(result.exitCode)
  }
}
