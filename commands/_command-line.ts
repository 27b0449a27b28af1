/**
 * Splits `skycap run web -it -- bin/console --sandbox` at the first `--`: skycap's own arguments (a combined `-it`
 * or `-ti` as `-i -t`, which the flag parser does not split) and the command, passed on untouched.
 */
export function splitCommand(argv: string[]): {own: string[]; command: string[]} {
  const at = argv.indexOf('--')
  const own = (at === -1 ? argv : argv.slice(0, at)).flatMap((a) => (a === '-it' || a === '-ti' ? ['-i', '-t'] : [a]))
  return {own, command: at === -1 ? [] : argv.slice(at + 1)}
}
