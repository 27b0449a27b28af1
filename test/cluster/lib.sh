# Shared by up.sh and down.sh (sourced, not run). Names and paths of one test cluster.
# shellcheck shell=bash

SKYCAP_CLUSTER_NAME=${SKYCAP_CLUSTER_NAME:-skycap-it}
SKYCAP_CLUSTER_CACHE=${SKYCAP_CLUSTER_CACHE:-$HOME/.cache/skycap-cluster}
NAME=$SKYCAP_CLUSTER_NAME
# Everything a running cluster owns lives here, outside the repository.
RUN_DIR="$SKYCAP_CLUSTER_CACHE/run/$NAME"
# kwokctl keeps each cluster in $KWOK_WORKDIR/clusters/<name> (pids/, logs/, pki/, etcd data, kubeconfig.yaml).
export KWOK_WORKDIR="$RUN_DIR/kwok"
CLUSTER_DIR="$KWOK_WORKDIR/clusters/$NAME"
KUBECONFIG_PATH="$RUN_DIR/kubeconfig"
LOG_DIR="$RUN_DIR/pod-logs"

TAG=${TAG:-cluster}
log() { printf '[%s] %s\n' "$TAG" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$TAG" "$*" >&2; exit 1; }
# kwokctl logs one JSON object per line when stderr is not a terminal; keep level and message.
kwok_log() { sed -uE 's/^\{"time":"[^"]*","level":"([A-Z]+)",.*"msg":"([^"]*)".*$/[kwokctl] \1 \2/' >&2; }

case "$NAME" in
  ''|*[!a-z0-9-]*|-*) die "SKYCAP_CLUSTER_NAME='$NAME' is not a valid name (use lower-case letters, digits and '-')" ;;
esac

# PIDs of every process of this cluster. kwokctl starts each component through a link in $CLUSTER_DIR/bin, so a
# process whose executable path (argv[0]) lies in the cluster directory is one of them. This also finds components
# whose pid file is stale or gone, and never trusts a pid file whose number was reused by another process.
cluster_pids() {
  local f pid exe
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    exe=""
    { IFS= read -r -d '' exe <"$f"; } 2>/dev/null || true
    case "$exe" in "$CLUSTER_DIR"/*) echo "$pid" ;; esac
  done
}

# Stops the given PIDs: SIGTERM, then SIGKILL after a grace period. Only ever PIDs from cluster_pids.
kill_pids() {
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  local i p alive
  for i in $(seq 1 50); do
    alive=""
    for p in "$@"; do [ -d "/proc/$p" ] && alive="$alive $p"; done
    [ -z "$alive" ] && return 0
    sleep 0.2
  done
  log "processes still running after 10s, sending SIGKILL:$alive"
  # shellcheck disable=SC2086
  kill -KILL $alive 2>/dev/null || true
}

# shellcheck source=node.sh
. "$(dirname "${BASH_SOURCE[0]}")/node.sh"

# Deletes the cluster: its real node first (while the API server still answers), then kwokctl (it stops the
# components it started), then whatever process is left, the registry included.
teardown_cluster() {
  # A node that cannot be removed entirely keeps its directory (and the cluster's) for the next attempt; the rest goes.
  local node_left=0
  node_teardown || { log "could not remove the real node entirely (see above); run cluster:down again"; node_left=1; }
  local kwokctl=""
  if [ -f "$RUN_DIR/env" ]; then
    kwokctl=$(sed -n 's/^SKYCAP_KWOK_BIN=//p' "$RUN_DIR/env")/kwokctl
  fi
  if [ -x "$kwokctl" ] && [ -d "$CLUSTER_DIR" ]; then
    "$kwokctl" delete cluster --name "$NAME" --kubeconfig "$KUBECONFIG_PATH" 2>&1 | kwok_log \
      || log "kwokctl delete cluster failed; stopping the processes directly"
  fi
  # shellcheck disable=SC2046
  kill_pids $(cluster_pids) $(node_pids "$REGISTRY_DIR")
  local left
  left=$(cluster_pids; node_pids "$REGISTRY_DIR")
  [ -z "$left" ] || { log "could not stop processes: $(echo $left)"; return 1; }
  [ "$node_left" = 0 ] || return 1
  # never rm -rf through a mount
  if awk '{print $2}' /proc/mounts | grep -qF "$RUN_DIR/"; then log "mounts under $RUN_DIR are still there; not deleting it"; return 1; fi
  rm -rf "$RUN_DIR"
}
