import {Args, Flags} from '@oclif/core'

import {streamLogs} from '../src/logs/stream.js'
import {useColour} from '../src/ui/output.js'
import {environmentFlag} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class Logs extends SkycapCommand {
  static override takesLock = false
  static override summary = "Stream the logs of every pod of a service, merged, with the app's noise filters."
  static override strict = false
  static override jsonLines = true
  static override examples = [
    '<%= config.bin %> logs web -f',
    '<%= config.bin %> logs web worker -e prod --since 10m --grep ERROR',
    '<%= config.bin %> logs --all --tail 20 --no-filters',
    '<%= config.bin %> logs web --json | jq -r .message',
  ]
  static override args = {service: Args.string({description: 'Service names (several allowed)'})}
  static override flags = {
    env: environmentFlag,
    all: Flags.boolean({description: 'Every service of the app.'}),
    follow: Flags.boolean({char: 'f', description: 'Keep streaming; pick up new pods and drop deleted ones.'}),
    since: Flags.string({description: 'Only lines newer than this, e.g. 10m, 1h.'}),
    tail: Flags.integer({description: 'Lines per container to start with (default: all; with -f, 10).', min: 0, max: Number.MAX_SAFE_INTEGER}),
    grep: Flags.string({description: 'Show only lines matching this regex (repeatable: all must match).', multiple: true, multipleNonGreedy: true}),
    exclude: Flags.string({description: 'Hide lines matching this regex (repeatable), on top of skycap.yaml logs.exclude.', multiple: true, multipleNonGreedy: true}),
    container: Flags.string({char: 'c', description: 'Only this container of each pod.'}),
    previous: Flags.boolean({char: 'p', description: 'Logs of the previous (crashed) container.'}),
    timestamps: Flags.boolean({description: 'Show the timestamp of each line.'}),
    'no-filters': Flags.boolean({description: "Don't apply skycap.yaml's logs.exclude filters."}),
    'max-log-requests': Flags.integer({description: 'At most this many log streams at once.', default: 50, min: 1}),
  }

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(Logs)
    const summary = await streamLogs(
      {
        services: argv as string[],
        all: flags.all,
        environment: flags.env,
        configPath: flags.config,
        follow: flags.follow,
        since: flags.since,
        tail: flags.tail ?? (flags.follow ? 10 : undefined),
        grep: flags.grep,
        exclude: flags.exclude,
        container: flags.container,
        previous: flags.previous,
        timestamps: flags.timestamps,
        noFilters: flags['no-filters'],
        json: this.jsonEnabled(),
        maxStreams: flags['max-log-requests'],
      },
      {
        kubectl: this.kubectlFactory(),
        reporter: this.reporter(),
        out: this.jsonEnabled() ? process.stdout : this.untrusted(process.stdout),
        colour: useColour(process.stdout),
        signal: this.abortOnSignals('stopping'),
      },
    )
    // --json prints one object per log line; a closing summary document would break `jq` pipelines.
    return this.jsonEnabled() ? undefined : summary
  }
}
