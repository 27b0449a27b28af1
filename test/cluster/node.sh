# The real node of a test cluster (sourced by lib.sh, not run): kubelet + kube-proxy built by build.sh, a
# containerd of its own (Debian) with runc and the CNI bridge plugins, beside kwok's fake nodes. From the recipe in
# test/cluster/README.md ("The real node"). Everything it makes is listed in $NODE_DIR, and node_teardown removes
# exactly that: processes, pod sandboxes (CNI DEL), network namespaces, iptables chains, the bridge, mounts,
# cgroups, sysctls the kubelet changed.
# shellcheck shell=bash

NODE_DIR="$RUN_DIR/node"
# One real node per machine: its cgroups (kubepods), iptables chains (KUBE-*, CNI-*), bridge and sysctls are
# machine-wide. This file names the cluster that has it.
NODE_OWNER_FILE="$SKYCAP_CLUSTER_CACHE/real-node.owner"
NODE_BRIDGE=skycap0
NODE_CNI_NAME=skycap-pods
NODE_POD_CIDR=10.222.0.0/24
NODE_LABEL=skycap.test/real-node
# kubelet changes these at start (kernel tunables, ip_forward from the bridge plugin); the teardown puts them back.
NODE_SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables"

# Paths the kubelet, containerd 1.6, the CNI plugins and umount create whatever the configuration says (shim sockets
# in /run/containerd/s, the CNI result cache, the device-plugin socket): removed again unless they were there before.
# dockerd makes /run/docker/plugins (plugin discovery) whatever its exec-root is.
NODE_FIXED_DIRS="/run/containerd /var/log/containers /var/log/pods /var/lib/kubelet /var/lib/cni /run/netns /run/mount /run/docker"

freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# PIDs of the node's processes (or the registry's, with $1 = $REGISTRY_DIR): the binaries run through links in
# <dir>/bin, so their argv[0] lies there; containerd's shims (started as /usr/bin/containerd-shim-runc-v2) have
# "-address <dir>/..." among their arguments. Nothing else is matched (not a `tail -f <dir>/logs/...`).
node_pids() {
  local dir=${1:-$NODE_DIR} f pid args
  [ -d "$dir" ] || return 0
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    args=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
    case "$args" in
      "$dir"/bin/*) echo "$pid" ;;
      */containerd-shim*" -address $dir/"*) echo "$pid" ;;
      # dockerd's own containerd, which dockerd starts from PATH with a config in its exec-root
      containerd" --config $dir/"*) echo "$pid" ;;
    esac
  done
}

# The containers' own processes (the app, pause): everything in the kubelet's pod cgroups.
pod_pids() {
  local d
  for d in /sys/fs/cgroup/*/kubepods; do
    [ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}

node_stop() { # $1 name: the process in $NODE_DIR/pids/$1.pid, if it is still ours
  local f=$NODE_DIR/pids/$1.pid p i
  [ -f "$f" ] || return 0
  p=$(cat "$f")
  if node_pids | grep -qx "$p"; then
    kill -TERM "$p" 2>/dev/null || true
    for i in $(seq 1 50); do [ -d "/proc/$p" ] || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
  fi
  rm -f "$f"
}

# Starts the real node; the control plane of this cluster must be up ($KUBECTL, $KUBECONFIG_PATH, $CLUSTER_DIR).
node_up() {
  local t0 REG NODE K D PKI SERVER CRICTL
  t0=$(date +%s.%N)
  NODE=$(hostname)
  # The API server reaches the kubelet at the node's Hostname address (logs, exec, port-forward).
  getent hosts "$NODE" >/dev/null || die "the host name '$NODE' does not resolve (add '127.0.0.1 $NODE' to /etc/hosts), or start without the real node: SKYCAP_CLUSTER_REAL_NODE=0"
  [ "$(id -u)" = 0 ] || die "the real node needs root (kubelet, containerd, iptables); run as root or with SKYCAP_CLUSTER_REAL_NODE=0"
  for b in containerd /usr/sbin/runc /usr/lib/cni/bridge /usr/lib/cni/firewall conntrack iptables "$SKYCAP_K8S_BIN/kubelet" "$SKYCAP_K8S_BIN/kube-proxy" "$SKYCAP_CRICTL_BIN/crictl"; do
    command -v "$b" >/dev/null || die "$b is missing for the real node (test/cluster/build.sh installs it; SKYCAP_CLUSTER_REAL_NODE=0 starts without the node)"
  done
  node_take_machine
  REG=$(cat "$RUN_DIR/registry.host")
  mkdir -p "$NODE_DIR"/{pids,logs,bin}
  for b in "$SKYCAP_K8S_BIN/kubelet" "$SKYCAP_K8S_BIN/kube-proxy" "$(command -v containerd)"; do ln -sf "$b" "$NODE_DIR/bin/"; done
  CRICTL=("$SKYCAP_CRICTL_BIN/crictl" --runtime-endpoint "unix://$NODE_DIR/containerd/containerd.sock" --timeout 30s)
  # what the teardown restores or must not touch
  for s in $NODE_SYSCTLS; do v=$(sysctl -n "$s" 2>/dev/null) && printf '%s=%s\n' "$s" "$v"; done >"$NODE_DIR/sysctls.before"
  { ls /run/netns 2>/dev/null || true; } >"$NODE_DIR/netns.before"
  for d in $NODE_FIXED_DIRS; do [ -e "$d" ] && echo "$d"; done >"$NODE_DIR/dirs.before" || true
  { command -v nft >/dev/null && nft list tables; } >"$NODE_DIR/nft-tables.before" 2>/dev/null || true

  # CNI: bridge + firewall (per-pod accept rules in CNI-FORWARD: docker's FORWARD policy DROP would drop bridged
  # pod traffic) + portmap
  mkdir -p "$NODE_DIR/cni/net.d"
  cat >"$NODE_DIR/cni/net.d/10-skycap.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "$NODE_CNI_NAME", "plugins": [
  {"type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$NODE_POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": "$NODE_DIR/cni/ipam"}},
  {"type": "firewall", "backend": "iptables"},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF

  # containerd: its own root, state, sockets and runc root, so a docker daemon's containerd is never touched
  D=$NODE_DIR/containerd
  mkdir -p "$D"/{root,state,opt,runc,"certs.d/$REG"}
  printf 'server = "http://%s"\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' "$REG" "$REG" >"$D/certs.d/$REG/hosts.toml"
  cat >"$D/config.toml" <<EOF
version = 2
root = "$D/root"
state = "$D/state"
[grpc]
  address = "$D/containerd.sock"
[ttrpc]
  address = "$D/containerd.sock.ttrpc"
[debug]
  address = "$D/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$D/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$REG/skycap-test/pause:1"
  # Root here may lack CAP_SYS_RESOURCE: CRI gives the pause container oom_score_adj -998, which runc then cannot
  # set ("can't get final child's PID from pipe: EOF"). Clamp the scores to containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
        Root = "$D/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$D/certs.d"
EOF
  setsid "$NODE_DIR/bin/containerd" --config "$D/config.toml" >"$NODE_DIR/logs/containerd.log" 2>&1 </dev/null &
  echo $! >"$NODE_DIR/pids/containerd.pid"
  for i in $(seq 1 100); do "${CRICTL[@]}" version >/dev/null 2>&1 && break; [ "$i" = 100 ] && die "containerd did not answer (see $NODE_DIR/logs/containerd.log)"; sleep 0.1; done

  # kubelet: client certificate system:node:<name>, signed by the cluster's CA
  K=$NODE_DIR/kubelet
  PKI=$CLUSTER_DIR/pki
  mkdir -p "$K/pki" "$K/root" "$NODE_DIR/pod-logs"
  SERVER=$(awk '/server:/{print $2; exit}' "$KUBECONFIG_PATH")
  node_kubeconfig "$K/kubeconfig" kubelet "/O=system:nodes/CN=system:node:$NODE" "$PKI" "$SERVER"
  cat >"$K/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$D/containerd.sock
port: $(freeport)
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $(freeport)
# The API server runs without --kubelet-client-certificate: logs/exec/port-forward reach the kubelet anonymously.
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
failSwapOn: false
# This machine has cgroup v1 (a tmpfs /sys/fs/cgroup): kubelet 1.35+ refuses it unless told (KEP-5573); 1.31+ knows the key.
failCgroupV1: false
maxPods: 50
serializeImagePulls: false
resolvConf: /etc/resolv.conf
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
podLogsDir: $NODE_DIR/pod-logs
# Only pods that tolerate this land here: kwok-simulated workloads keep to the fake nodes.
registerWithTaints: [{key: $NODE_LABEL, value: "true", effect: NoSchedule}]
EOF
  # --maximum-dead-containers-per-container=2: keep the crashed container, so `kubectl logs --previous` answers
  # while the current one is terminated too (with the default 1 it often says "previous terminated container ... not found").
  setsid "$NODE_DIR/bin/kubelet" --config="$K/config.yaml" --kubeconfig="$K/kubeconfig" --root-dir="$K/root" \
    --cert-dir="$K/pki/serving" --node-labels="$NODE_LABEL=true" --maximum-dead-containers-per-container=2 --v=2 \
    >"$NODE_DIR/logs/kubelet.log" 2>&1 </dev/null &
  echo $! >"$NODE_DIR/pids/kubelet.pid"
  echo "$NODE" >"$NODE_DIR/name"

  # kube-proxy (iptables mode) with system:kube-proxy credentials (bound to system:node-proxier by default RBAC)
  node_kubeconfig "$NODE_DIR/kube-proxy.kubeconfig" kube-proxy "/CN=system:kube-proxy" "$PKI" "$SERVER"
  cat >"$NODE_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $NODE_DIR/kube-proxy.kubeconfig}
mode: iptables
hostnameOverride: $NODE
clusterCIDR: $NODE_POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$(freeport)
metricsBindAddress: 127.0.0.1:$(freeport)
# 0: leave the machine's conntrack settings alone
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s, udpTimeout: 0s, udpStreamTimeout: 0s}
iptables: {localhostNodePorts: false, syncPeriod: 10s, minSyncPeriod: 1s}
EOF
  setsid "$NODE_DIR/bin/kube-proxy" --config="$NODE_DIR/kube-proxy.yaml" --v=2 >"$NODE_DIR/logs/kube-proxy.log" 2>&1 </dev/null &
  echo $! >"$NODE_DIR/pids/kube-proxy.pid"

  k wait --for=create "node/$NODE" --timeout=60s >/dev/null || die "the kubelet did not register node $NODE (see $NODE_DIR/logs/kubelet.log)"
  k wait --for=condition=Ready "node/$NODE" --timeout=120s >/dev/null || die "node $NODE did not become Ready (see $NODE_DIR/logs/kubelet.log)"
  for i in $(seq 1 100); do
    iptables -t nat -S KUBE-SERVICES 2>/dev/null | grep -q 'default/kubernetes' && break
    [ "$i" = 100 ] && die "kube-proxy wrote no Service rules (see $NODE_DIR/logs/kube-proxy.log)"
    sleep 0.2
  done
  node_probe
  node_docker_up
  log "real node $NODE ready in $(python3 -c "import time;print(f'{time.time()-$t0:.1f}s')"): label $NODE_LABEL=true, taint $NODE_LABEL=true:NoSchedule"
}

# The machine's Docker daemon for `skycap build` tests, part of the real node (one per machine, like it): Debian's
# dockerd with its data-root, exec-root, socket, pid file, trust key and daemon.json under $NODE_DIR/docker, never
# /var/lib/docker or /var/run/docker.sock. It starts its own containerd (from PATH, config and socket in its exec-root;
# the node's containerd has its own socket, and a system containerd on /run/containerd/containerd.sock would be
# shared, so up.sh refuses that). No networking of its own: no iptables rules, no bridge, no ip_forward: builds of
# FROM-scratch images and pushes to the registry on 127.0.0.1 need none. Tests set DOCKER_HOST from
# $RUN_DIR/docker.host.
node_docker_up() {
  local dd=$NODE_DIR/docker i
  command -v dockerd >/dev/null || die "dockerd is missing for the real node (test/cluster/build.sh installs docker.io)"
  [ -S /run/containerd/containerd.sock ] && die "a system containerd runs on /run/containerd/containerd.sock; dockerd would use it instead of its own (stop it: systemctl disable --now containerd)"
  mkdir -p "$dd"/{data,exec}
  ln -sf "$(command -v dockerd)" "$NODE_DIR/bin/dockerd"
  # deprecated-key-path: the daemon's trust key (else /etc/docker/key.json); only a daemon.json key in 20.10
  printf '{"deprecated-key-path": "%s"}\n' "$dd/key.json" >"$dd/daemon.json"
  setsid "$NODE_DIR/bin/dockerd" --config-file "$dd/daemon.json" --data-root "$dd/data" --exec-root "$dd/exec" \
    --pidfile "$dd/dockerd.pid" --host "unix://$dd/docker.sock" \
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none --userland-proxy=false \
    >"$NODE_DIR/logs/dockerd.log" 2>&1 </dev/null &
  echo $! >"$NODE_DIR/pids/dockerd.pid"
  for i in $(seq 1 120); do
    DOCKER_HOST="unix://$dd/docker.sock" docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
    [ "$i" = 120 ] && die "dockerd did not answer on $dd/docker.sock (see $NODE_DIR/logs/dockerd.log)"
    sleep 0.25
  done
  grep -q "started new containerd process" "$NODE_DIR/logs/dockerd.log" || die "dockerd did not start a containerd of its own (see $NODE_DIR/logs/dockerd.log)"
  echo "unix://$dd/docker.sock" >"$RUN_DIR/docker.host"
}

node_kubeconfig() { # $1 file  $2 cert name  $3 subject  $4 pki dir  $5 server
  local pki=$NODE_DIR/kubelet/pki
  openssl req -new -newkey rsa:2048 -nodes -keyout "$pki/$2.key" -subj "$3" -out "$pki/$2.csr" 2>/dev/null
  openssl x509 -req -in "$pki/$2.csr" -CA "$4/ca.crt" -CAkey "$4/ca.key" -CAcreateserial -CAserial "$pki/ca.srl" -days 7 -out "$pki/$2.crt" 2>/dev/null \
    || die "could not sign the $2 certificate with $4/ca.key"
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {certificate-authority: $4/ca.crt, server: $5}}]
users: [{name: u, user: {client-certificate: $pki/$2.crt, client-key: $pki/$2.key}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
EOF
}

# Proves the node end to end before any test relies on it: a pod of the test app pulled from the registry, Ready
# through its HTTP readiness probe, reachable from the host.
node_probe() {
  local app ip
  app=$(cat "$RUN_DIR/test-app.image")
  k apply -f - >/dev/null <<EOF || die "could not create the node probe pod"
apiVersion: v1
kind: Pod
metadata: {name: skycap-node-probe, namespace: kube-public}
spec:
  nodeSelector: {$NODE_LABEL: "true"}
  tolerations: [{key: $NODE_LABEL, operator: Exists, effect: NoSchedule}]
  automountServiceAccountToken: false
  dnsPolicy: Default
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: $app
    env: [{name: APP_NOISE, value: "0"}]
    readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
EOF
  k -n kube-public wait --for=condition=Ready pod/skycap-node-probe --timeout=60s >/dev/null \
    || { k -n kube-public describe pod skycap-node-probe >&2 || true; die "the probe pod of the test app did not become Ready on the real node"; }
  ip=$(k -n kube-public get pod skycap-node-probe -o jsonpath='{.status.podIP}')
  curl -sf -m 5 "http://$ip:8080/" | grep -q '^version=' || die "the probe pod does not answer on http://$ip:8080/"
  k -n kube-public delete pod skycap-node-probe --wait=true --timeout=30s >/dev/null || die "could not delete the node probe pod"
}

# Claims the machine's one real node for this cluster, after removing what a cluster that is gone left behind.
node_take_machine() {
  local owner
  owner=$(cat "$NODE_OWNER_FILE" 2>/dev/null || true)
  if [ -n "$owner" ] && [ "$owner" != "$RUN_DIR" ] && [ -d "$owner/node" ]; then
    # kwokctl runs the control plane through links in <run dir>/kwok/clusters/<name>/bin
    # SKYCAP_CLUSTER_REAL_NODE_WAIT=<seconds>: wait that long for the running cluster that holds the node to stop
    # (parallel test runs on one machine take turns on the real node instead of failing).
    local waited=0 limit=${SKYCAP_CLUSTER_REAL_NODE_WAIT:-0}
    while [ "$waited" -lt "$limit" ] && [ -n "$(node_pids "$owner/node")" ] && pgrep -f "^$owner/kwok/clusters/[^/]*/bin/kube-apiserver " >/dev/null; do
      [ $((waited % 60)) = 0 ] && log "the real node belongs to the running cluster in $owner; waiting for it (${waited}s of ${limit}s)"
      sleep 5
      waited=$((waited + 5))
      owner=$(cat "$NODE_OWNER_FILE" 2>/dev/null || true)
      [ -n "$owner" ] && [ -d "$owner/node" ] || break
    done
    if [ -n "$owner" ] && [ -d "$owner/node" ] && [ -n "$(node_pids "$owner/node")" ] && pgrep -f "^$owner/kwok/clusters/[^/]*/bin/kube-apiserver " >/dev/null; then
      die "this machine's real node belongs to the running cluster in $owner (one per machine: its cgroups and iptables chains are machine-wide); stop that cluster with cluster:down, or start this one with SKYCAP_CLUSTER_REAL_NODE=0"
    fi
    log "removing the real node that the stopped cluster in $owner left behind"
    (NODE_DIR=$owner/node node_teardown) || die "could not remove the real node left behind in $owner/node"
  fi
  mkdir -p "$(dirname "$NODE_OWNER_FILE")"
  echo "$RUN_DIR" >"$NODE_OWNER_FILE"
}

# Removes the real node: pods through CRI (so the CNI plugins delete their rules, veths and network namespaces),
# kubelet, kube-proxy and its rules, containerd, then whatever is left. Safe to run when nothing is there.
node_teardown() {
  [ -d "$NODE_DIR" ] || return 0
  local crictl="" p c t ipt left run
  run=$(dirname "$NODE_DIR")
  [ -f "$run/env" ] && crictl=$(sed -n 's/^SKYCAP_CRICTL_BIN=//p' "$run/env")/crictl
  local owner
  owner=$(cat "$NODE_OWNER_FILE" 2>/dev/null || true)
  if [ -n "$owner" ] && [ "$owner" != "$run" ]; then
    # The machine's node belongs to another cluster now: its chains, cgroups and bridge are not ours to remove.
    log "the machine's real node belongs to $owner; removing only this cluster's node processes and files"
    # shellcheck disable=SC2046
    kill_pids $(node_pids)
    [ -z "$(node_pids)" ] || return 1
    awk '{print $2}' /proc/mounts | grep -qF "$NODE_DIR/" && return 1
    rm -rf "$NODE_DIR"
    return 0
  fi
  node_stop kubelet
  if [ -x "$crictl" ] && [ -S "$NODE_DIR/containerd/containerd.sock" ]; then
    local cri=("$crictl" --runtime-endpoint "unix://$NODE_DIR/containerd/containerd.sock" --timeout 30s)
    for p in $("${cri[@]}" pods -q 2>/dev/null); do
      "${cri[@]}" stopp "$p" >/dev/null 2>&1 || true
      "${cri[@]}" rmp -f "$p" >/dev/null 2>&1 || true
    done
  fi
  node_stop kube-proxy
  node_stop dockerd
  [ -x "$NODE_DIR/bin/kube-proxy" ] && "$NODE_DIR/bin/kube-proxy" --cleanup --v=0 >/dev/null 2>&1 || true
  node_stop containerd
  # whatever survived: container processes (pod cgroups), shims and our binaries
  # shellcheck disable=SC2046
  kill -KILL $(pod_pids) 2>/dev/null || true
  # shellcheck disable=SC2046
  kill_pids $(node_pids)
  left=$(node_pids | tr '\n' ' ')
  [ -z "$left" ] || { log "could not stop the real node's processes: $left"; return 1; }

  # iptables: kube-proxy's and kubelet's KUBE-* chains (kubelet's KUBE-FIREWALL, KUBE-KUBELET-CANARY survive
  # --cleanup) and the CNI plugins' CNI-* chains. Only the real node makes such chains on a machine (one per machine).
  for ipt in iptables ip6tables; do
    for t in filter nat mangle; do
      $ipt -t "$t" -S 2>/dev/null | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE-|CNI-)' | sed 's/^-A/-D/' |
        while read -r r; do eval "$ipt -t $t $r" 2>/dev/null || true; done
      for c in $($ipt -t "$t" -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/{print $2}'); do $ipt -t "$t" -F "$c" 2>/dev/null || true; done
      for c in $($ipt -t "$t" -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/{print $2}'); do $ipt -t "$t" -X "$c" 2>/dev/null || true; done
    done
  done
  ip link del "$NODE_BRIDGE" 2>/dev/null || true
  # network namespaces of pods whose CNI DEL never ran
  for n in $(ls /run/netns 2>/dev/null); do
    case "$n" in cni-*) grep -qx "$n" "$NODE_DIR/netns.before" 2>/dev/null || { umount "/run/netns/$n" 2>/dev/null; rm -f "/run/netns/$n"; } ;; esac
  done
  # mounts: pod volumes, overlay snapshots, shm of the sandboxes (deepest first)
  awk '{print $2}' /proc/mounts | grep -F "$NODE_DIR/" | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
  for c in /sys/fs/cgroup/*/kubepods; do [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  # sysctls the kubelet and the bridge plugin changed
  if [ -f "$NODE_DIR/sysctls.before" ]; then
    while IFS= read -r kv; do sysctl -q -w "$kv" >/dev/null 2>&1 || true; done <"$NODE_DIR/sysctls.before"
  fi
  # fixed paths: only what the node made (one real node per machine)
  [ -d /var/log/containers ] && find /var/log/containers -maxdepth 1 -type l -lname "$NODE_DIR/*" -delete
  for d in $NODE_FIXED_DIRS; do
    [ -e "$d" ] || continue
    grep -qx "$d" "$NODE_DIR/dirs.before" 2>/dev/null && continue
    case "$d" in
      /var/lib/kubelet|/var/lib/cni) rm -rf "$d" ;;
      *) find "$d" -depth -type d -empty -delete 2>/dev/null || true ;;
    esac
  done
  # iptables-nft tables that the kubelet and kube-proxy created and that are empty now
  if command -v nft >/dev/null && [ -f "$NODE_DIR/nft-tables.before" ]; then
    nft list tables 2>/dev/null | while read -r _ fam name; do
      grep -qx "table $fam $name" "$NODE_DIR/nft-tables.before" && continue
      nft list table "$fam" "$name" 2>/dev/null | grep -vqE '^[[:space:]]*(table .*|chain .*|type .*|\}|)$' && continue
      nft delete table "$fam" "$name" 2>/dev/null || true
    done
  fi
  if awk '{print $2}' /proc/mounts | grep -qF "$NODE_DIR/"; then
    log "mounts under $NODE_DIR are still there; not deleting it"
    return 1
  fi
  [ "$(cat "$NODE_OWNER_FILE" 2>/dev/null)" = "$run" ] && rm -f "$NODE_OWNER_FILE"
  rm -rf "$NODE_DIR"
}

# --- the cluster's registry and the test images (with or without the real node) ------------------------------
REGISTRY_DIR="$RUN_DIR/registry"

# Debian's docker-registry on a free port of 127.0.0.1; its address goes to $RUN_DIR/registry.host.
registry_up() {
  local port
  port=$(freeport)
  mkdir -p "$REGISTRY_DIR/data"
  cat >"$REGISTRY_DIR/config.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $REGISTRY_DIR/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
EOF
  mkdir -p "$REGISTRY_DIR/bin"
  ln -sf "$(command -v docker-registry)" "$REGISTRY_DIR/bin/docker-registry"
  setsid "$REGISTRY_DIR/bin/docker-registry" serve "$REGISTRY_DIR/config.yml" >"$REGISTRY_DIR/registry.log" 2>&1 </dev/null &
  for i in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break
    [ "$i" = 100 ] && die "docker-registry did not answer on 127.0.0.1:$port (see $REGISTRY_DIR/registry.log)"
    sleep 0.1
  done
  echo "127.0.0.1:$port" >"$RUN_DIR/registry.host"
}

# Builds the test app (test/app/server) and the pod sandbox image (test/app/pause) with go build and pushes them
# FROM scratch with test/app/pushimage. The app's reference goes to $RUN_DIR/test-app.image.
test_images_push() {
  local reg out
  reg=$(cat "$RUN_DIR/registry.host")
  out="$RUN_DIR/images"
  mkdir -p "$out"
  (cd "$HERE/../app" && env GOFLAGS= GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0 \
    go build -trimpath -ldflags "-s -w -X main.version=1" -o "$out/" ./server ./pause ./pushimage >&2) \
    || die "could not build test/app"
  "$out/pushimage" -registry "$reg" -image skycap-test/pause -tag 1 -entrypoint /pause -user 65535:65535 -file "/pause=$out/pause" >/dev/null \
    || die "could not push the pause image to $reg"
  "$out/pushimage" -registry "$reg" -image skycap-test/app -tag 1 -entrypoint /app -user 65534:65534 -file "/app=$out/server" >/dev/null \
    || die "could not push the test app image to $reg"
  echo "$reg/skycap-test/app:1" >"$RUN_DIR/test-app.image"
}
