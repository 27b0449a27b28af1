import {Args, Flags} from '@oclif/core'

import {runTask} from '../src/tasks/run.js'
import {stdinBringsInput} from '../src/tasks/stdin.js'
import {environmentFlag} from './_environment.js'
import {SkycapCommand} from './_base.js'
import {splitCommand} from './_command-line.js'

export default class Run extends SkycapCommand {
  static override summary = "Run a one-off command in a new pod made from a service's pod template (a task, a console); exits with its exit code."
  static override description =
    "The pod is a Job from the deployed release's pod template (image, env, config, resources), or with --rev's images; it is removed afterwards unless --keep. skycap exits with the command's exit code; its own failures before the command ran use the usual codes (2 invalid, 4 unreachable, 70 timed out)."
  static override strict = false
  // oclif would show SERVICE... (strict = false): the command comes after `--`.
  static override usage = ['run SERVICE [-e ENV] [-i] [-t] [--keep] [--rev REV] [--lock] [--timeout DURATION] -- COMMAND [ARG...]']
  static override examples = [
    '<%= config.bin %> run web -- bin/rails db:migrate:status',
    '<%= config.bin %> run web -e prod -it -- bin/rails console',
    '<%= config.bin %> run worker --rev 3f2c1ab --lock -- bin/backfill',
    '<%= config.bin %> run db -e staging -i -- psql < fixtures.sql',
  ]
  static override args = {service: Args.string({description: 'The service whose pod template runs the command', required: true})}
  static override flags = {
    env: environmentFlag,
    interactive: Flags.boolean({char: 'i', description: 'Pass stdin: a console on a terminal (as -it), or input from a pipe or a file.'}),
    tty: Flags.boolean({char: 't', description: 'Allocate a terminal (a console; needs one on stdin).'}),
    keep: Flags.boolean({description: 'Keep the Job and its pod afterwards (for kubectl logs/describe).'}),
    rev: Flags.string({description: "Run with this revision's images (the deployed release's config and env)."}),
    lock: Flags.boolean({description: "Hold the environment's deploy lock while the command runs."}),
    timeout: Flags.string({description: 'How long the command may run, e.g. 30m (default 1h); exit 70 when exceeded.'}),
  }

  async run(): Promise<void> {
    const {own, command} = splitCommand(this.argv)
    const {args, flags, argv} = await this.parse(Run, own)
    const result = await runTask(
      {
        service: args.service,
        command: [...(argv as string[]).slice(1), ...command],
        leading: (argv as string[]).slice(1),
        environment: flags.env,
        configPath: flags.config,
        rev: flags.rev,
        tty: flags.tty,
        stdin: flags.interactive,
        keep: flags.keep,
        lock: flags.lock,
        timeout: flags.timeout,
      },
      {
        kubectl: this.kubectlFactory(),
        reporter: this.reporter(),
        out: this.untrusted(this.jsonEnabled() ? process.stderr : process.stdout),
        terminal: Boolean(process.stdin.isTTY),
        pipedStdin: stdinBringsInput(),
        signal: this.abortOnSignals('stopping the task'),
        // A second Ctrl-C quits before the Job is deleted: it runs on, up to its --timeout, and is named.
        onJob: (job, deleteCommand) => {
          this.forceQuitNote = () => `job ${job} goes on running in the cluster, up to its --timeout; stop it with \`${deleteCommand}\``
        },
      },
    )
    if (this.jsonEnabled()) this.logJson({ok: true, result})
    // The command's exit code is skycap's (documented), whatever it is.
    if (result.exitCode !== 0) this.exit(result.exitCode)
  }
}
