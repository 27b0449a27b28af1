#!/usr/bin/env bash
# Measures the test cluster: warm start-up time (up.sh with the binaries already built) and the memory (RSS) of its
# processes while the integration suite runs against it. Prints the figures test/cluster/README.md quotes.
#   bash test/cluster/measure.sh          (run `npm run build` first)
# Uses its own cluster name (skycap-measure) and deletes the cluster at the end.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SKYCAP_CLUSTER_NAME=${SKYCAP_CLUSTER_NAME:-skycap-measure}
TAG=cluster:measure
# shellcheck source=lib.sh
. "$HERE/lib.sh"
trap 'bash "$HERE/down.sh" >/dev/null 2>&1 || true' EXIT

t=$(date +%s%N)
kubeconfig=$(bash "$HERE/up.sh" 2>/dev/null) || die "up.sh failed (run it alone to see why)"
start_ms=$(( ($(date +%s%N) - t) / 1000000 ))

rss_kib() { # pid -> RSS in KiB
  awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}
sample() { # prints "<total KiB> <name>=<KiB> ..." (shims, pods and the registry summed per name)
  local total=0 p kib name
  declare -A by=()
  for p in $(cluster_pids; node_pids "$REGISTRY_DIR"; node_pids; pod_pids); do
    kib=$(rss_kib "$p"); name=$(basename "$( { tr '\0' '\n' <"/proc/$p/cmdline" | head -1; } 2>/dev/null)")
    case "$name" in containerd-shim*) name=shims ;; docker-registry) ;; etcd|kube-*|kwok*|containerd|kubelet) ;; *) name=pods ;; esac
    total=$((total + kib)); by[$name]=$(( ${by[$name]:-0} + kib ))
  done
  printf '%s' "$total"
  for name in "${!by[@]}"; do printf ' %s=%sMiB' "$name" "$(( ${by[$name]} / 1024 ))"; done
  echo
}
idle=$(sample)

peak=0; peak_line=""
(cd "$HERE/../.." && SKYCAP_TEST_KUBECONFIG="$kubeconfig" SKYCAP_TEST_KUBECTL="$(sed -n 's/^SKYCAP_K8S_BIN=//p' "$RUN_DIR/env")/kubectl" \
  SKYCAP_TEST_REAL_NODE="$(cat "$RUN_DIR/real-node")" SKYCAP_TEST_APP_IMAGE="$(cat "$RUN_DIR/test-app.image")" \
  npx mocha --config .mocharc.integration.cjs >/tmp/skycap-measure-mocha.log 2>&1) &
mocha_pid=$!
t=$(date +%s)
while kill -0 "$mocha_pid" 2>/dev/null; do
  line=$(sample); total=${line%% *}
  if [ "$total" -gt "$peak" ]; then peak=$total; peak_line=$line; fi
  sleep 1
done
wait "$mocha_pid" && suite=passed || suite=FAILED
suite_s=$(( $(date +%s) - t ))

echo "warm start-up (up.sh, binaries cached): ${start_ms} ms"
echo "RSS idle after start-up: $((${idle%% *} / 1024)) MiB total:${idle#* }"
echo "RSS peak during the integration suite ($suite, ${suite_s}s): $((peak / 1024)) MiB total:${peak_line#* }"
