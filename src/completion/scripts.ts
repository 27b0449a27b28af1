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
      // readline splits `--env=st` at the = (COMP_WORDBREAKS) into `--env`, `=`, `st`: the words are glued back
      // into one for skycap, and the part of a candidate before what readline replaces (`--env=`) is cut off.
      return `# ${bin} completion for bash. Load it with: eval "$(${bin} completion bash)" (in ~/.bashrc)
${fn}_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" line value word flag keep i glue=0
  local -a lines words files
  COMPREPLY=()
  for ((i = 1; i <= COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if ((glue)); then
      words[\${#words[@]}-1]+="$word"
      glue=0
    elif [[ "$word" == "=" && \${#words[@]} -gt 0 && "\${words[\${#words[@]}-1]}" == -?* ]]; then
      words[\${#words[@]}-1]+="="
      glue=1
    else
      words+=("$word")
    fi
  done
  [[ "$cur" == "=" ]] && cur=""
  word="\${words[\${#words[@]}-1]}"
  keep="\${word%"$cur"}"
  mapfile -t lines < <(${bin} __complete -- "\${words[@]}" 2>/dev/null)
  if [[ "\${lines[0]-}" == ":files" ]]; then
    flag=""
    [[ "$word" == -*=* ]] && flag="\${word%%=*}="
    compopt -o filenames 2>/dev/null
    mapfile -t files < <(compgen -f -- "\${word#"$flag"}")
    for value in "\${files[@]}"; do
      value="$flag$value"
      COMPREPLY+=("\${value#"$keep"}")
    done
    return 0
  fi
  for line in "\${lines[@]}"; do
    value="\${line%%$'\\t'*}"
    [[ -n "$value" && "$value" == "$word"* ]] && COMPREPLY+=("\${value#"$keep"}")
  done
  return 0
}
complete -F ${fn}_complete ${bin}
`
    case 'zsh':
      // `--env=st`: skycap answers whole words (`--env=staging`); the `--env=` is moved to IPREFIX, so zsh
      // completes and lists the value alone.
      return `#compdef ${bin}
# ${bin} completion for zsh. Load it with: eval "$(${bin} completion zsh)" (in ~/.zshrc, after compinit),
# or save it as a file named ${fn} in a folder of $fpath.
${fn}() {
  local -a lines values descriptions
  local line value flag=""
  lines=("\${(@f)$(${bin} __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if [[ "\${words[CURRENT]}" == -*=* ]]; then
    flag="\${words[CURRENT]%%=*}="
    if [[ "$PREFIX" == "$flag"* ]]; then
      IPREFIX+="$flag"
      PREFIX="\${PREFIX#"$flag"}"
    fi
  fi
  if [[ "\${lines[1]}" == ":files" ]]; then
    _files
    return
  fi
  for line in "\${lines[@]}"; do
    [[ -n "$line" ]] || continue
    value="\${\${line%%$'\\t'*}#"$flag"}"
    values+=("$value")
    if [[ "$line" == *$'\\t'* ]]; then
      descriptions+=("$value -- \${line#*$'\\t'}")
    else
      descriptions+=("$value")
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
      // fish passes `--env=st` whole and takes whole words back; only file names need the `--config=` put before.
      return `# ${bin} completion for fish. Load it with: ${bin} completion fish > ~/.config/fish/completions/${bin}.fish
function __${fn}_complete
    set -l current (commandline -ct)
    set -l before (commandline -opc)
    set -l lines (${bin} __complete -- $before[2..-1] "$current" 2>/dev/null)
    if test "$lines[1]" = ":files"
        if string match -qr -- '^-[^=]*=' "$current"
            set -l flag (string replace -r -- '=.*' '=' "$current")
            __fish_complete_path (string replace -r -- '^[^=]*=' '' "$current") | string replace -r -- '^' "$flag"
        else
            __fish_complete_path "$current"
        end
        return
    end
    printf '%s\\n' $lines
end
complete -c ${bin} -f -a '(__${fn}_complete)'
`
  }
}
