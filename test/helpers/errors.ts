import {expect} from 'chai'

import {ExitCode, UserError} from '../../src/errors.js'

function checked(error: unknown): UserError {
  expect(error).to.be.instanceOf(UserError)
  expect((error as UserError).exitCode).to.equal(ExitCode.INVALID)
  return error as UserError
}

/** The UserError (exit 2) that `run` throws; fails the test when it throws nothing, or something else. */
export function userError(run: () => unknown): UserError {
  try {
    run()
  } catch (error) {
    return checked(error)
  }
  throw new Error('expected a UserError')
}

/** Like userError, for a promise (or a function returning one). */
export async function rejectsWithUserError(work: Promise<unknown> | (() => Promise<unknown>)): Promise<UserError> {
  try {
    await (typeof work === 'function' ? work() : work)
  } catch (error) {
    return checked(error)
  }
  throw new Error('expected a UserError')
}
