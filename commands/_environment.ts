import {Flags} from '@oclif/core'

import {appNames} from '../src/config/names.js'
import {UserError} from '../src/errors.js'

/**
 * `-e/--env/--environment ENV`, the same on every command that acts on an environment. Commands that also take the
 * environment as their first argument keep it; these functions merge the two and refuse two different environments.
 */
export const environmentFlag = Flags.string({char: 'e', aliases: ['environment'], description: 'Environment (default: SKYCAP_ENV or defaultEnvironment).', helpValue: 'ENV'})

/** -e of `skycap up` and `down`: the environment is `local` unless one is named (SKYCAP_ENV and defaultEnvironment point at shared clusters). */
export const localEnvironmentFlag = Flags.string({char: 'e', aliases: ['environment'], description: 'Environment (default: local; SKYCAP_ENV and defaultEnvironment do not apply).', helpValue: 'ENV'})

function conflict(argument: string, flag: string, extraHint = ''): UserError {
  return new UserError(`two environments given: "${argument}" as the argument and "${flag}" with -e`, {hint: `Give one: \`-e ${flag}\` or the argument ${argument}.${extraHint}`})
}

/** For `skycap status [ENV]` and its kind: the argument, or -e; the two only when they agree. */
export function environmentOf(argument: string | undefined, flag: string | undefined): string | undefined {
  if (flag !== undefined && argument !== undefined && argument !== flag) throw conflict(argument, flag)
  return flag ?? argument
}

/**
 * For `skycap promote [ENV] [SERVICE]` and its kind: with -e, a single argument is the service (`promote web -e prod`).
 */
export function environmentAndService(args: {environment?: string; service?: string}, flag: string | undefined): {environment?: string; service?: string} {
  if (flag !== undefined && args.environment !== undefined && args.service === undefined && args.environment !== flag) {
    return {environment: flag, service: args.environment}
  }
  return {environment: environmentOf(args.environment, flag), service: args.service}
}

/** SKYCAP_ENV, set and not empty. */
export function environmentFromVariable(): string | undefined {
  return process.env.SKYCAP_ENV || undefined
}

/**
 * No environment named (no argument, or only `@REV`): SKYCAP_ENV's when it is set, as -e's help says; otherwise the
 * argument as it is, and skycap.yaml's defaultEnvironment applies.
 */
function withDefaultEnvironment(argument: string | undefined): string | undefined {
  const fromVariable = environmentFromVariable()
  if (fromVariable === undefined) return argument
  if (argument === undefined || argument === '') return fromVariable
  return argument.startsWith('@') ? `${fromVariable}${argument}` : argument
}

/**
 * For `skycap deploy [ENV[@REV]]` and its kind: with -e, the argument is the revision (`deploy -e prod v1.4.0` or
 * `@v1.4.0`) or the same ENV[@REV]. A bare argument that names another environment of skycap.yaml (`render -e
 * staging prod`; only the keys of the file at `configPath` or found from the current folder are read) is two
 * environments, as `render prod@HEAD -e staging` is; `@prod` is the revision named prod.
 */
export async function targetOf(argument: string | undefined, flag: string | undefined, configPath?: string): Promise<string | undefined> {
  if (flag === undefined) return withDefaultEnvironment(argument)
  if (argument === undefined || argument === flag) return flag
  const at = argument.indexOf('@')
  if (at === -1) {
    if ((await appNames(process.cwd(), configPath)).environments.includes(argument)) throw conflict(argument, flag, ` For the revision named ${argument}, write @${argument}.`)
    return `${flag}@${argument}`
  }
  const environment = argument.slice(0, at)
  if (environment !== '' && environment !== flag) throw conflict(environment, flag)
  return `${flag}${argument.slice(at)}`
}
