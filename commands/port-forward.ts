import {Args, Flags} from '@oclif/core'

import {portForward} from '../src/tasks/port-forward.js'
import {environmentFlag} from './_environment.js'
import {SkycapCommand} from './_base.js'

export default class PortForward extends SkycapCommand {
  static override takesLock = false
  static override summary = "Forward a local port to a service of an environment until Ctrl-C (the environment's context and namespace)."
  static override examples = ['<%= config.bin %> port-forward web', '<%= config.bin %> port-forward web 8080', '<%= config.bin %> port-forward db -e staging 5433:5432']
  static override args = {
    service: Args.string({description: 'The service to forward to', required: true}),
    ports: Args.string({description: "[LOCAL:]REMOTE, e.g. 8080 or 5433:5432 (default: the service's port in skycap.yaml, locally the same)"}),
  }
  static override flags = {
    env: environmentFlag,
    address: Flags.string({description: 'Local addresses to listen on: IP addresses or localhost, comma separated.', default: '127.0.0.1'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(PortForward)
    // Ctrl-C ends the forward: kubectl is stopped (if the signal did not reach it) and skycap returns normally.
    const signal = this.abortOnSignals('stopping the port-forward')
    return portForward(
      {service: args.service, ports: args.ports, environment: flags.env, configPath: flags.config, address: flags.address, json: this.jsonEnabled()},
      {kubectl: this.kubectlFactory(), reporter: this.reporter(), signal},
    )
  }
}
