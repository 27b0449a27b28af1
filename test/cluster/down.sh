#!/usr/bin/env bash
# Deletes skycap's test cluster (npm run cluster:down) and every process it started, then removes its files.
#   SKYCAP_CLUSTER_NAME       which cluster (default skycap-it)
#   SKYCAP_CLUSTER_OWNER_PID  set by the test hooks: delete the cluster only if that test run started it
# Safe to run when the cluster is not there. Exits non-zero only if a process of the cluster cannot be stopped.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TAG=cluster:down
# shellcheck source=lib.sh
. "$HERE/lib.sh"

# The test hooks pass their own pid: they may only delete the cluster their up.sh created, never one that up.sh
# refused to replace (a cluster started by hand, or by another test run).
if [ -n "${SKYCAP_CLUSTER_OWNER_PID:-}" ]; then
  owner=$(cat "$RUN_DIR/owner" 2>/dev/null || true)
  if [ ! -d "$RUN_DIR" ]; then
    log "cluster $NAME is not running"
    exit 0
  elif [ "$owner" != "$SKYCAP_CLUSTER_OWNER_PID" ]; then
    log "cluster $NAME was not started by this test run (owner: ${owner:-npm run cluster:up}); leaving it running"
    exit 0
  fi
fi
if [ ! -d "$RUN_DIR" ] && [ -z "$(cluster_pids)" ]; then
  log "cluster $NAME is not running"
  exit 0
fi
log "deleting cluster $NAME"
teardown_cluster || die "some processes of cluster $NAME could not be stopped"
log "cluster $NAME deleted"
