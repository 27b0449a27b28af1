#!/usr/bin/env bash
# Starts skycap's test cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler (all real) and kwok
# simulating the nodes and pods, on 127.0.0.1, from binaries build.sh made. Nothing is downloaded.
#
#   bash test/cluster/up.sh            (npm run cluster:up)
#
# stdout: the path of the kubeconfig, nothing else. Progress and errors go to stderr.
# Environment:
#   SKYCAP_CLUSTER_NAME        cluster name (default skycap-it); its files live in ~/.cache/skycap-cluster/run/<name>
#   SKYCAP_CLUSTER_NODES       number of fake nodes (default 2)
#   SKYCAP_CLUSTER_OWNER_PID   set by the test hooks: the cluster belongs to that process, and a later up.sh may
#                              replace it once that process is gone (a test run that was killed)
#   SKYCAP_CLUSTER_REAL_NODE   1 (default): also start the real node (node.sh; root only, one per machine); 0: only
#                              kwok's fake nodes (the real-node tests then fail saying so)
#   SKYCAP_CLUSTER_REAL_NODE_WAIT  seconds to wait for another running cluster to give up the real node (default 0:
#                              fail at once); parallel test runs on one machine take turns this way
# Always started too: a registry on 127.0.0.1 (docker-registry) holding the test app image (test/app).
# If any step fails, everything started so far is torn down again.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TAG=cluster:up
# shellcheck source=lib.sh
. "$HERE/lib.sh"

NODES=${SKYCAP_CLUSTER_NODES:-2}
REAL_NODE=${SKYCAP_CLUSTER_REAL_NODE:-1}
case "$REAL_NODE" in 0|1) ;; *) die "SKYCAP_CLUSTER_REAL_NODE='$REAL_NODE': use 1 (start the real node) or 0" ;; esac
case "$NODES" in ''|*[!0-9]*|0|1) die "SKYCAP_CLUSTER_NODES='$NODES': need a number >= 2" ;; esac
started=$(date +%s)

# --- binaries ----------------------------------------------------------------------------------
ENV_FILE=$(bash "$HERE/build.sh") || die "build.sh failed (see above)"
# shellcheck disable=SC1090
. "$ENV_FILE"
KUBECTL="$SKYCAP_K8S_BIN/kubectl"
KWOKCTL="$SKYCAP_KWOK_BIN/kwokctl"
if [ -n "${SKYCAP_ETCD_BIN:-}" ]; then
  ETCD=$SKYCAP_ETCD_BIN/etcd ETCDCTL=$SKYCAP_ETCD_BIN/etcdctl
  [ -x "$ETCD" ] && [ -x "$ETCDCTL" ] || die "$SKYCAP_ETCD_BIN lacks etcd or etcdctl; delete it and re-run"
else
  ETCD=$(command -v etcd) || die "etcd is not on PATH (build.sh should have installed etcd-server)"
  ETCDCTL=$(command -v etcdctl) || die "etcdctl is not on PATH (build.sh should have installed etcd-client)"
fi
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [ -x "$SKYCAP_K8S_BIN/$b" ] || die "$SKYCAP_K8S_BIN/$b is missing; delete $SKYCAP_K8S_BIN and re-run"
done
# kwokctl runs `kubectl` from PATH: make it ours, not a dispatcher that picks a version by itself.
export PATH="$SKYCAP_K8S_BIN:$PATH"

# --- an existing cluster of the same name --------------------------------------------------------
if [ -d "$RUN_DIR" ]; then
  owner=$(cat "$RUN_DIR/owner" 2>/dev/null || true)
  if [ -z "$(cluster_pids)" ]; then
    log "removing the remains of cluster $NAME (no process of it is running)"
    teardown_cluster || die "could not remove the old cluster in $RUN_DIR"
  elif [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
    log "cluster $NAME was left behind by test run $owner, which is gone: deleting it"
    teardown_cluster || die "could not delete the cluster left behind in $RUN_DIR"
  elif [ -n "$owner" ]; then
    die "cluster $NAME is in use by the test run with pid $owner; pick another SKYCAP_CLUSTER_NAME"
  else
    die "cluster $NAME is already running (kubeconfig $KUBECONFIG_PATH). Use it with SKYCAP_TEST_KUBECONFIG=$KUBECONFIG_PATH, or run 'npm run cluster:down' first"
  fi
fi

mkdir -p "$RUN_DIR" "$LOG_DIR"
cp "$ENV_FILE" "$RUN_DIR/env"
echo "${SKYCAP_CLUSTER_OWNER_PID:-}" >"$RUN_DIR/owner"

# From here on, a failure deletes what was started.
cleanup_on_failure() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" != 0 ]; then
    if [ -d "$CLUSTER_DIR/logs" ]; then
      log "component logs (last lines):"
      for f in "$CLUSTER_DIR"/logs/*.log; do
        [ -f "$f" ] || continue
        printf -- '--- %s\n' "$f" >&2
        tail -n 15 "$f" >&2 || true
      done
    fi
    log "start-up failed; tearing down cluster $NAME"
    teardown_cluster || log "teardown failed: run 'npm run cluster:down'"
  fi
  exit "$rc"
}
trap cleanup_on_failure EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- configuration -----------------------------------------------------------------------------
# Any Stage given to kwokctl replaces all its built-in ones, so the five defaults come along, copied from the kwok
# module source at run time (they are not part of this repository).
: >"$RUN_DIR/stages-default.yaml"
for f in kustomize/stage/node/fast/node-initialize.yaml \
         kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
         kustomize/stage/pod/fast/pod-ready.yaml \
         kustomize/stage/pod/fast/pod-complete.yaml \
         kustomize/stage/pod/fast/pod-delete.yaml; do
  [ -f "$SKYCAP_KWOK_SRC/$f" ] || die "kwok default stage $SKYCAP_KWOK_SRC/$f not found"
  { cat "$SKYCAP_KWOK_SRC/$f"; printf '\n---\n'; } >>"$RUN_DIR/stages-default.yaml"
done

# ClusterLogs and Logs are served as CRDs, so tests can point pods at their own log files at run time
# (see harness.ts podLogFiles).
cat >"$RUN_DIR/cluster.yaml" <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeVersion: $SKYCAP_K8S_VERSION
  kubeApiserverBinary: $SKYCAP_K8S_BIN/kube-apiserver
  kubeControllerManagerBinary: $SKYCAP_K8S_BIN/kube-controller-manager
  kubeSchedulerBinary: $SKYCAP_K8S_BIN/kube-scheduler
  kubectlBinary: $KUBECTL
  kwokControllerBinary: $SKYCAP_KWOK_BIN/kwok
  etcdBinary: $ETCD
  etcdctlBinary: $ETCDCTL
  quietPull: true
  enableCRDs:
  - ClusterLogs
  - Logs
# kwokctl starts kwok with --manage-all-nodes=true, which would take over the real node too. kwok manages only the
# nodes that \`kwokctl scale node\` makes (annotated kwok.x-k8s.io/node=fake), and only the pods on them.
componentsPatches:
- name: kwok-controller
  extraArgs:
  - key: manage-all-nodes
    value: "false"
    override: true
  - key: manage-nodes-with-annotation-selector
    value: kwok.x-k8s.io/node=fake
EOF

create_args=(--name "$NAME" --kubeconfig "$KUBECONFIG_PATH"
  -c "$RUN_DIR/cluster.yaml" -c "$RUN_DIR/stages-default.yaml" -c "$HERE/stages-test.yaml")

# --- pre-flight: prove that nothing will be downloaded ----------------------------------------------
log "checking the plan (kwokctl --dry-run)"
"$KWOKCTL" create cluster "${create_args[@]}" --dry-run >"$RUN_DIR/dry-run.txt" 2>&1 \
  || { cat "$RUN_DIR/dry-run.txt" >&2; die "kwokctl create cluster --dry-run failed"; }
if grep -nE 'https?://' "$RUN_DIR/dry-run.txt" | grep -iE 'download|curl|wget|pull' >&2; then
  die "kwokctl would download something (lines above); every binary must be a local path"
fi

# --- start ---------------------------------------------------------------------------------------
log "starting cluster $NAME (Kubernetes $SKYCAP_K8S_VERSION, kwok $(basename "$SKYCAP_KWOK_BIN"))"
"$KWOKCTL" create cluster "${create_args[@]}" --wait 3m --timeout 5m 2>&1 | kwok_log \
  || die "kwokctl create cluster failed"

k() { "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
log "adding $NODES fake nodes"
"$KWOKCTL" scale node --name "$NAME" --replicas "$NODES" 2>&1 | kwok_log || die "kwokctl scale node failed"
k wait --for=condition=Ready node --all --timeout=120s >&2 || die "the fake nodes did not become Ready"
k wait --for=condition=Established crd/clusterlogs.kwok.x-k8s.io crd/logs.kwok.x-k8s.io --timeout=60s >&2 \
  || die "kwok's ClusterLogs/Logs CRDs were not established"
# A namespace is only usable for pods once the controller-manager has given it a default ServiceAccount.
for i in $(seq 1 60); do
  k -n default get serviceaccount default >/dev/null 2>&1 && break
  [ "$i" = 60 ] && die "the default ServiceAccount did not appear (is kube-controller-manager running?)"
  sleep 1
done
# Prove the log path end to end (kubectl -> API server -> kwok's kubelet endpoint -> file), and that kwok watches the
# ClusterLogs CRD: it starts before the CRD exists and retries with back-off.
log "checking pod logs"
probe_log="$LOG_DIR/_probe.log"
printf '%s stdout F skycap-probe-ok\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" >"$probe_log"
k apply -f - >/dev/null <<EOF || die "could not create the log probe"
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata: {name: skycap-probe}
spec:
  selector: {matchNamespaces: [kube-public], matchNames: [skycap-probe]}
  logs: [{logsFile: "$probe_log"}]
---
apiVersion: v1
kind: Pod
metadata: {name: skycap-probe, namespace: kube-public}
spec:
  nodeName: node-000000
  containers: [{name: probe, image: example.invalid/probe}]
EOF
for i in $(seq 1 60); do
  got=$(k -n kube-public logs skycap-probe 2>&1) && [ "$got" = skycap-probe-ok ] && break
  [ "$i" = 60 ] && die "kubectl logs does not serve pod logs from files: $got"
  sleep 1
done
k -n kube-public delete pod skycap-probe --wait=false >/dev/null
k delete clusterlogs skycap-probe >/dev/null

log "starting the registry and pushing the test images"
registry_up
test_images_push
if [ "$REAL_NODE" = 1 ]; then
  log "starting the real node (kubelet, containerd, kube-proxy)"
  # One start at a time per machine: node_take_machine reads and writes the owner file, and a node being started has
  # no processes yet, so a second start could take it for the remains of a stopped cluster.
  mkdir -p "$SKYCAP_CLUSTER_CACHE"
  exec {node_lock}>"$SKYCAP_CLUSTER_CACHE/real-node.lock"
  flock "$node_lock"
  node_up
  flock -u "$node_lock"
  cat "$NODE_DIR/name" >"$RUN_DIR/real-node"
else
  log "no real node (SKYCAP_CLUSTER_REAL_NODE=0)"
  : >"$RUN_DIR/real-node"
fi

version=$(k version -o json | sed -n '/serverVersion/,/}/s/.*"gitVersion": "\(.*\)".*/\1/p')
[ "$version" = "$SKYCAP_K8S_VERSION" ] || die "the API server reports version '$version', expected $SKYCAP_K8S_VERSION"

log "cluster $NAME is ready in $(( $(date +%s) - started ))s: $(k get nodes --no-headers | wc -l) nodes$([ "$REAL_NODE" = 1 ] && echo " (one real: $(cat "$RUN_DIR/real-node"))"), API server $version, registry $(cat "$RUN_DIR/registry.host")"
echo "$KUBECONFIG_PATH"
