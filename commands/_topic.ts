import type {Hook} from '@oclif/core'

import {keepGoingWithoutReaders} from './_lost-output.js'
import {printError, topicWithoutCommandError} from './_not-found.js'

/**
 * oclif's init hook, which runs before oclif looks for the command: a topic given flags but no command
 * (`skycap lock --bogus`) is an error, exit 2; oclif printed the topic's help and exited 0. A topic alone, or with a
 * help flag, still prints its help. Commands found by bin/run.js never come here (they run without oclif's main loop).
 */
const hook: Hook<'init'> = async function ({argv, config, id}) {
  // What oclif prints itself (a topic's help, `skycap lock`) is lost on a full disk as a command's output is: said,
  // exit 1 (it exited 0 without a word).
  keepGoingWithoutReaders()
  if (id === undefined) return
  const error = topicWithoutCommandError(config, id, argv)
  if (!error) return
  printError(error, argv.includes('--json'))
  this.exit(error.exitCode)
}

export default hook
