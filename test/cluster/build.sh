#!/usr/bin/env bash
# Builds (once) and caches everything the test control plane needs, outside the repository:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (from the Go module k8s.io/kubernetes)
#   kwok, kwokctl                                                      (go install)
#   etcd + etcdctl                                                     (Debian etcd-server/etcd-client; from Kubernetes 1.34 on, built from Go modules)
#   docker-registry                                                    (Debian, for the image-check tests)
#   kubelet, kube-proxy (same build), crictl and docker buildx (go install), and from Debian containerd, runc,
#   containernetworking-plugins, conntrack: the real node, and docker.io (its dockerd) and podman for the build tests (all skipped when SKYCAP_CLUSTER_REAL_NODE=0)
#   zsh, fish                                                          (Debian, for the completion tests)
# Only package registries are used (Go module proxy, Debian). Nothing built is committed.
# Prints nothing on stdout but the cache directory of the binaries.
set -euo pipefail

# v1.37.2, the newest release on the Go module proxy (2026-12); its go.mod asks for Go 1.26. v1.33.13 (Go 1.24, CI's
# until 2026-12-06) still builds and passes: SKYCAP_K8S_VERSION=v1.33.13. v1.32.x cannot be built (the proxy lacks
# some of its k8s.io staging modules).
KV=${SKYCAP_K8S_VERSION:-v1.37.2}
KWOKV=${SKYCAP_KWOK_VERSION:-v0.7.0}
# etcd: Debian's 3.4.23 (`debian`) for Kubernetes up to 1.33; from 1.34 on, v3.6.8 built from its Go modules. An API
# server of 1.37 on etcd 3.4 refuses the watch-list requests of kwok's client ("the required storage feature
# RequestWatchProgress is disabled"): kwok's watches then end every few seconds and its pods lag behind, so rollouts,
# prunes and namespace deletions waited for minutes and tests timed out. Seen with 1.37.2; 1.34 to 1.36 were not tried.
case "$KV" in
  v1.2[0-9].*|v1.3[0-3].*) ETCDV_DEFAULT=debian ;;
  *) ETCDV_DEFAULT=v3.6.8 ;;
esac
ETCDV=${SKYCAP_ETCD_VERSION:-$ETCDV_DEFAULT}
K=${SKYCAP_CLUSTER_CACHE:-$HOME/.cache/skycap-cluster}
OUT="$K/$KV"

log() { printf '[cluster:build] %s\n' "$*" >&2; }
die() { printf '[cluster:build] error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "go is not installed; install Go >= 1.24 (https://go.dev/doc/install) and re-run"

# --- Debian packages ----------------------------------------------------------------------------
# docker-registry (distribution 2.8) is the real registry the image-existence tests push to on 127.0.0.1.
# The real node (test/cluster/node.sh) needs containerd, runc, the CNI plugins and conntrack (kube-proxy), and dockerd
# for the build tests (docker.io). The test app images are still pushed FROM scratch by test/app/pushimage.
REAL_NODE=${SKYCAP_CLUSTER_REAL_NODE:-1}
pkgs=""
if [ "$ETCDV" = debian ]; then
  command -v etcd >/dev/null || pkgs="$pkgs etcd-server"
  command -v etcdctl >/dev/null || pkgs="$pkgs etcd-client"
fi
command -v docker-registry >/dev/null || pkgs="$pkgs docker-registry"
# Mercurial: the hg repositories of the VCS tests (unit and integration) are real, never faked.
command -v hg >/dev/null || pkgs="$pkgs mercurial"
# zsh and fish: the completion tests (unit) load skycap's completion scripts in the real shells (bash is always there).
command -v zsh >/dev/null || pkgs="$pkgs zsh"
command -v fish >/dev/null || pkgs="$pkgs fish"
# ssh-keygen: a unit test signs commits with an SSH key (git log.showSignature)
command -v ssh-keygen >/dev/null || pkgs="$pkgs openssh-client"
if [ "$REAL_NODE" != 0 ]; then
  command -v containerd >/dev/null || pkgs="$pkgs containerd"
  [ -x /usr/sbin/runc ] || pkgs="$pkgs runc"
  [ -x /usr/lib/cni/bridge ] || pkgs="$pkgs containernetworking-plugins"
  command -v conntrack >/dev/null || pkgs="$pkgs conntrack"
  command -v iptables >/dev/null || pkgs="$pkgs iptables"
  # The machine's Docker daemon for the skycap build tests (node.sh starts it with its own paths and socket)
  command -v dockerd >/dev/null || pkgs="$pkgs docker.io"
  # podman for the skycap build tests of the podman builder (its own storage per test, no daemon)
  command -v podman >/dev/null || pkgs="$pkgs podman"
fi
if [ -n "$pkgs" ]; then
  log "installing from Debian:$pkgs"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2 || die "apt-get update failed"
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq $pkgs >&2 || die "apt-get install$pkgs failed"
  # On a systemd host the packages start etcd on :2379, a registry on :5000 and containerd; the cluster uses its own
  # ports, sockets and directories, so they are stopped only to keep the machine quiet.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then $SUDO systemctl disable --now etcd docker-registry containerd docker.socket docker >&2 || true; fi
fi

# --- Kubernetes binaries ----------------------------------------------------------------------
mkdir -p "$OUT"
BINS="kube-apiserver kube-controller-manager kube-scheduler kubectl"
[ "$REAL_NODE" = 0 ] || BINS="$BINS kubelet kube-proxy"
# Only the binaries not yet cached are built: a cache from before the real node gains kubelet and kube-proxy alone.
missing=""
for b in $BINS; do [ -x "$OUT/$b" ] || missing="$missing $b"; done
if [ -n "$missing" ]; then
  log "building Kubernetes $KV:$missing into $OUT (a cold build takes a while on 2 cores)"
  start=$(date +%s)
  W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
  MINOR=$(echo "$KV" | cut -d. -f2); SV="v0.${KV#v1.}"
  (
    cd "$W"
    export GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0 GOFLAGS=
    # Fetch kubernetes' own go.mod before creating the wrapper module, so no module graph is loaded yet.
    MODFILE=$(go mod download -json "k8s.io/kubernetes@$KV" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [ -f "$MODFILE" ] || die "could not download k8s.io/kubernetes@$KV from the Go module proxy"
    go mod init local/k8sbin >&2 2>/dev/null
    # The wrapper needs the same go directive as kubernetes itself.
    GOV=$(awk '$1 == "go" {print $2; exit}' "$MODFILE")
    go mod edit -go="$GOV" -require=k8s.io/kubernetes@"$KV"
    # k8s.io/kubernetes replaces its ~31 staging modules with local paths, which `go install pkg@ver` refuses;
    # replace each with the published v0.X.Y instead.
    for m in $(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$MODFILE"); do
      go mod edit -replace="$m=$m@$SV"
    done
    LDF="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      LDF="$LDF -X $p.gitVersion=$KV -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
    done
    mkdir -p "$W/bin"
    # Build next to the cache and move the binaries in afterwards, so an interrupted build never leaves a
    # half-written binary that a later run would take for a finished one.
    pkgs=""
    for b in $missing; do pkgs="$pkgs k8s.io/kubernetes/cmd/$b"; done
    # shellcheck disable=SC2086
    GOFLAGS=-mod=mod go build -trimpath -ldflags "$LDF" -o "$W/bin/" $pkgs >&2
  ) || die "building Kubernetes $KV failed (see the go output above); if Go says the module needs a newer Go, run with GOTOOLCHAIN=auto (Go fetches it from the module proxy) or SKYCAP_K8S_VERSION=v1.33.13 (Go 1.24)"
  for b in $missing; do
    [ "$b" = kubectl ] && continue
    got=$("$W/bin/$b" --version 2>&1 || true)
    [ "$got" = "Kubernetes $KV" ] || die "the built $b reports '$got', expected 'Kubernetes $KV'"
  done
  for b in $missing; do
    mv -f "$W/bin/$b" "$OUT/$b.tmp" && mv -f "$OUT/$b.tmp" "$OUT/$b"
  done
  log "built Kubernetes $KV:$missing in $(( $(date +%s) - start ))s"
fi

# `go install ARGS…` of static binaries into the folder DIR (made first), with the caller's GOFLAGS left out.
go_install_into() {
  local dir=$1
  shift
  mkdir -p "$dir"
  env -u GOFLAGS GOBIN="$dir" GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0 go install "$@" >&2
}

# --- kwok + kwokctl ---------------------------------------------------------------------------
KB="$K/kwok-$KWOKV"
if [ ! -x "$KB/kwok" ] || [ ! -x "$KB/kwokctl" ]; then
  log "installing kwok and kwokctl $KWOKV"
  go_install_into "$KB" "sigs.k8s.io/kwok/cmd/kwok@$KWOKV" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOKV" \
    || die "go install sigs.k8s.io/kwok@$KWOKV failed"
fi
# --- crictl (the real node's teardown stops pod sandboxes through CRI, so the CNI plugins remove their rules) ----
CRICTLV=${SKYCAP_CRICTL_VERSION:-v1.34.0}
CB="$K/crictl-$CRICTLV"
if [ "$REAL_NODE" != 0 ] && [ ! -x "$CB/crictl" ]; then
  log "installing crictl $CRICTLV (cri-tools is not packaged in Debian 12)"
  go_install_into "$CB" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTLV" || die "go install sigs.k8s.io/cri-tools/cmd/crictl@$CRICTLV failed"
fi
# --- docker buildx (the build tests of skycap's buildx builder; the CLI plugin is not packaged in Debian 12) ----
BUILDXV=${SKYCAP_BUILDX_VERSION:-v0.19.3}
XB="$K/buildx-$BUILDXV"
if [ "$REAL_NODE" != 0 ] && [ ! -x "$XB/docker-buildx" ]; then
  log "installing docker buildx $BUILDXV (a docker CLI plugin; the tests point DOCKER_CONFIG at it)"
  go_install_into "$XB" -ldflags "-X github.com/docker/buildx/version.Version=$BUILDXV" "github.com/docker/buildx/cmd/buildx@$BUILDXV" \
    || die "go install github.com/docker/buildx/cmd/buildx@$BUILDXV failed"
  mv "$XB/buildx" "$XB/docker-buildx"
fi
# --- etcd from its Go modules (when not Debian's) ------------------------------------------------------------
# go.etcd.io/etcd/server/v3 (the etcd program) and etcdctl/v3 replace their sibling modules with local paths, which
# `go install pkg@ver` refuses: build them in a wrapper module, where those replaces do not apply.
EB=""
if [ "$ETCDV" != debian ]; then
  EB="$K/etcd-$ETCDV"
  if [ ! -x "$EB/etcd" ] || [ ! -x "$EB/etcdctl" ]; then
    log "building etcd and etcdctl $ETCDV from their Go modules"
    EW=$(mktemp -d)
    (
      cd "$EW"
      export GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0 GOFLAGS=
      go mod init local/etcdbin >&2 2>/dev/null
      go get "go.etcd.io/etcd/server/v3@$ETCDV" "go.etcd.io/etcd/etcdctl/v3@$ETCDV" >&2
      go build -trimpath -ldflags "-s -w" -o "$EW/etcd" go.etcd.io/etcd/server/v3 >&2
      go build -trimpath -ldflags "-s -w" -o "$EW/etcdctl" go.etcd.io/etcd/etcdctl/v3 >&2
    ) || { rm -rf "$EW"; die "building etcd $ETCDV failed (see the go output above); try SKYCAP_ETCD_VERSION=debian"; }
    got=$("$EW/etcd" --version 2>&1 | head -1)
    [ "$got" = "etcd Version: ${ETCDV#v}" ] || { rm -rf "$EW"; die "the built etcd reports '$got', expected 'etcd Version: ${ETCDV#v}'"; }
    mkdir -p "$EB"
    for b in etcd etcdctl; do mv -f "$EW/$b" "$EB/$b.tmp" && mv -f "$EB/$b.tmp" "$EB/$b"; done
    rm -rf "$EW"
  fi
fi

# The default stages ship in the kwok module source; make sure it is in the module cache.
KWOK_SRC=$(cd /tmp && env -u GOFLAGS go mod download -json "sigs.k8s.io/kwok@$KWOKV" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -d "$KWOK_SRC/kustomize/stage" ] || die "kwok module source not found in the Go module cache"

# The Gateway API CRDs (HTTPRoute) the strategy tests apply, from the upstream Go module: the canary's weights are
# checked in the HTTPRoute skycap writes, no Gateway controller needed.
GATEWAY_APIV=${SKYCAP_GATEWAY_API_VERSION:-v1.2.1}
GATEWAY_API_SRC=$(cd /tmp && env -u GOFLAGS go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_APIV" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -f "$GATEWAY_API_SRC/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml" ] || die "gateway-api module source not found in the Go module cache"

cat > "$K/env-$KV" <<ENV
SKYCAP_K8S_BIN=$OUT
SKYCAP_KWOK_BIN=$KB
SKYCAP_KWOK_SRC=$KWOK_SRC
SKYCAP_K8S_VERSION=$KV
SKYCAP_CRICTL_BIN=$CB
SKYCAP_BUILDX_BIN=$XB
SKYCAP_GATEWAY_API_SRC=$GATEWAY_API_SRC
SKYCAP_ETCD_BIN=$EB
ENV
echo "$K/env-$KV"
