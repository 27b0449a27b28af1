#!/usr/bin/env bash
# Deletes skycap's test cluster (npm run cluster:down) and every process it started, then removes its files.
#   SKYCAP_CLUSTER_NAME   which cluster (default skycap-it)
# Safe to run when the cluster is not there. Exits non-zero only if a process of the cluster cannot be stopped.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TAG=cluster:down
# shellcheck source=lib.sh
. "$HERE/lib.sh"

if [ ! -d "$RUN_DIR" ] && [ -z "$(cluster_pids)" ]; then
  log "cluster $NAME is not running"
  exit 0
fi
log "deleting cluster $NAME"
teardown_cluster || die "some processes of cluster $NAME could not be stopped"
log "cluster $NAME deleted"
