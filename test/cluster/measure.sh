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
sample() { # prints "<total KiB> <name>=<KiB> ..."
  local total=0 out="" p kib name
  for p in $(cluster_pids); do
    kib=$(rss_kib "$p"); name=$(basename "$( { tr '\0' '\n' <"/proc/$p/cmdline" | head -1; } 2>/dev/null)")
    total=$((total + kib)); out="$out $name=$((kib / 1024))MiB"
  done
  echo "$total$out"
}
idle=$(sample)

peak=0; peak_line=""
(cd "$HERE/../.." && SKYCAP_TEST_KUBECONFIG="$kubeconfig" SKYCAP_TEST_KUBECTL="$(sed -n 's/^SKYCAP_K8S_BIN=//p' "$RUN_DIR/env")/kubectl" \
  npx mocha --config .mocharc.integration.json >/tmp/skycap-measure-mocha.log 2>&1) &
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
