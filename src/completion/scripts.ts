/**
 * The completion scripts `skycap completion bash|zsh|fish` prints. Each asks `skycap __complete -- WORDS…` (the words
 * after the program name, the last one being completed) for candidates, one `value<TAB>description` a line, or the
 * single line `:files` when a file name goes there. The scripts hold no command or flag list of their own, so they
 * never go stale; stderr is discarded and a failing skycap completes nothing.
 */
export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = (typeof SHELLS)[number]

/** The completion script for `shell`, for the program named `bin`. */
export function completionScript(shell: Shell, bin = 'skycap'): string {
  const fn = `_${bin.replaceAll(/[^A-Za-z0-9_]/g, '_')}`
  switch (shell) {
    case 'bash':
      return `# ${bin} completion for bash. Load it with: eval "$(${bin} completion bash)" (in ~/.bashrc)
${fn}_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" line value
  local -a lines
  COMPREPLY=()
  mapfile -t lines < <(${bin} __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  if [[ "\${lines[0]-}" == ":files" ]]; then
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    return 0
  fi
  for line in "\${lines[@]}"; do
    value="\${line%%$'\\t'*}"
    [[ -n "$value" && "$value" == "$cur"* ]] && COMPREPLY+=("$value")
  done
  return 0
}
complete -F ${fn}_complete ${bin}
`
    case 'zsh':
      return `#compdef ${bin}
# ${bin} completion for zsh. Load it with: eval "$(${bin} completion zsh)" (in ~/.zshrc, after compinit),
# or save it as a file named ${fn} in a folder of $fpath.
${fn}() {
  local -a lines values descriptions
  local line
  lines=("\${(@f)$(${bin} __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if [[ "\${lines[1]}" == ":files" ]]; then
    _files
    return
  fi
  for line in "\${lines[@]}"; do
    [[ -n "$line" ]] || continue
    values+=("\${line%%$'\\t'*}")
    if [[ "$line" == *$'\\t'* ]]; then
      descriptions+=("\${line%%$'\\t'*} -- \${line#*$'\\t'}")
    else
      descriptions+=("$line")
    fi
  done
  (( \${#values} )) || return 1
  compadd -l -d descriptions -a values
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${bin}
fi
`
    case 'fish':
      return `# ${bin} completion for fish. Load it with: ${bin} completion fish > ~/.config/fish/completions/${bin}.fish
function __${fn}_complete
    set -l current (commandline -ct)
    set -l before (commandline -opc)
    set -l lines (${bin} __complete -- $before[2..-1] "$current" 2>/dev/null)
    if test "$lines[1]" = ":files"
        __fish_complete_path "$current"
        return
    end
    printf '%s\\n' $lines
end
complete -c ${bin} -f -a '(__${fn}_complete)'
`
  }
}
