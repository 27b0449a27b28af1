import {accessSync, constants} from 'node:fs'
import {delimiter, join} from 'node:path'

import {UnreachableError, UserError} from '../errors.js'
import {execaRunner, type ProcessResult, type ProcessRunner} from '../kubectl/kubectl.js'

/** The programs skycap up may run besides kubectl, each behind its own module in src/local/. */
export type ToolName = 'kind' | 'k3d' | 'minikube' | 'ctlptl' | 'docker'

/** Runs the local-cluster tools; unit tests pass a fake `runner` and `installed` to pin the exact argv. */
export interface ToolRunner {
  /** Whether the tool is on PATH. */
  installed(tool: ToolName): boolean
  /** Runs the tool with an argument array; throws a UserError with its last lines on a non-zero exit. */
  run(tool: ToolName, args: string[], options?: {input?: string; allowFailure?: boolean}): Promise<ProcessResult>
}

/** Where each tool is documented, for "install one of" messages. */
export const INSTALL_URLS: Record<ToolName, string> = {
  kind: 'https://kind.sigs.k8s.io/docs/user/quick-start/#installation',
  k3d: 'https://k3d.io/#installation',
  minikube: 'https://minikube.sigs.k8s.io/docs/start/',
  ctlptl: 'https://github.com/tilt-dev/ctlptl#how-do-i-install-it',
  docker: 'https://docs.docker.com/engine/install/',
}

/** Whether `file` is an executable on PATH (no child process: PATH is read directly). */
export function onPath(file: string, path = process.env.PATH ?? ''): boolean {
  return path
    .split(delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        accessSync(join(dir, file), constants.X_OK)
        return true
      } catch {
        return false
      }
    })
}

/** The real tools: execa with an argument array; `trace` sees every argv (--verbose). */
export function toolRunner(options: {runner?: ProcessRunner; installed?: (tool: ToolName) => boolean; trace?: (argv: string[]) => void} = {}): ToolRunner {
  const runner = options.runner ?? execaRunner
  return {
    installed: options.installed ?? ((tool) => onPath(tool)),
    async run(tool, args, runOptions = {}) {
      options.trace?.([tool, ...args])
      const r = await runner(tool, args, {input: runOptions.input}).catch((error: unknown) => {
        // execaRunner reports a missing program as "kubectl was not found": here it is this tool that is missing.
        if ((error as {code?: string}).code === 'ENOENT' || error instanceof UnreachableError) throw notInstalled(tool)
        throw error
      })
      if (r.exitCode !== 0 && !runOptions.allowFailure) {
        const last = `${r.stderr}\n${r.stdout}`.trim().split('\n').filter(Boolean).slice(-5).join('\n')
        throw new UserError(`${tool} ${args.slice(0, 2).join(' ')} failed (exit ${r.exitCode}): ${last || 'no output'}`, {
          hint: `Run \`${[tool, ...args].join(' ')}\` yourself to see the whole output.`,
          details: {argv: [tool, ...args], exitCode: r.exitCode},
        })
      }
      return r
    },
  }
}

function notInstalled(tool: ToolName): UserError {
  return new UserError(`${tool} is not installed (not found on PATH)`, {hint: `Install it: ${INSTALL_URLS[tool]}`})
}
