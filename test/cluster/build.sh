#!/usr/bin/env bash
# Builds (once) and caches everything the test control plane needs, outside the repository:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (from the Go module k8s.io/kubernetes)
#   kwok, kwokctl                                                      (go install)
#   etcd + etcdctl                                                     (Debian etcd-server/etcd-client)
#   docker-registry                                                    (Debian, for the image-check tests)
# Only package registries are used (Go module proxy, Debian). Nothing built is committed.
# Prints nothing on stdout but the cache directory of the binaries.
set -euo pipefail

# v1.33.13: every k8s.io staging module of this release is on the Go module proxy (v0.32.13's are not all there).
KV=${SKYCAP_K8S_VERSION:-v1.33.13}
KWOKV=${SKYCAP_KWOK_VERSION:-v0.7.0}
K=${SKYCAP_CLUSTER_CACHE:-$HOME/.cache/skycap-cluster}
OUT="$K/$KV"

log() { printf '[cluster:build] %s\n' "$*" >&2; }
die() { printf '[cluster:build] error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "go is not installed; install Go >= 1.24 (https://go.dev/doc/install) and re-run"

# --- etcd and docker-registry from Debian ------------------------------------------------------
# docker-registry (distribution 2.8) is the real registry the image-existence tests push to on 127.0.0.1.
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null || ! command -v docker-registry >/dev/null; then
  log "installing etcd-server, etcd-client and docker-registry from Debian"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2 || die "apt-get update failed"
  $SUDO apt-get install -y -qq etcd-server etcd-client docker-registry >&2 || die "apt-get install etcd-server etcd-client docker-registry failed"
  # On a systemd host the packages start etcd on :2379 and a registry on :5000; the tests use their own ports.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then $SUDO systemctl disable --now etcd docker-registry >&2 || true; fi
fi

# --- Kubernetes binaries ----------------------------------------------------------------------
mkdir -p "$OUT"
need_build=0
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do [ -x "$OUT/$b" ] || need_build=1; done
if [ "$need_build" = 1 ]; then
  log "building Kubernetes $KV binaries into $OUT (cold build takes a while on 2 cores)"
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
    GOFLAGS=-mod=mod go build -trimpath -ldflags "$LDF" -o "$W/bin/" \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler \
      k8s.io/kubernetes/cmd/kubectl >&2
  ) || die "building Kubernetes $KV failed (see the go output above); try SKYCAP_K8S_VERSION=<another v1.3x.y> or GOTOOLCHAIN=go1.24.13"
  got=$("$W/bin/kube-apiserver" --version 2>&1 || true)
  [ "$got" = "Kubernetes $KV" ] || die "the built kube-apiserver reports '$got', expected 'Kubernetes $KV'"
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    mv -f "$W/bin/$b" "$OUT/$b.tmp" && mv -f "$OUT/$b.tmp" "$OUT/$b"
  done
  log "built Kubernetes $KV in $(( $(date +%s) - start ))s"
fi

# --- kwok + kwokctl ---------------------------------------------------------------------------
KB="$K/kwok-$KWOKV"
if [ ! -x "$KB/kwok" ] || [ ! -x "$KB/kwokctl" ]; then
  log "installing kwok and kwokctl $KWOKV"
  mkdir -p "$KB"
  env -u GOFLAGS GOBIN="$KB" GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0 \
    go install "sigs.k8s.io/kwok/cmd/kwok@$KWOKV" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOKV" >&2 \
    || die "go install sigs.k8s.io/kwok@$KWOKV failed"
fi
# The default stages ship in the kwok module source; make sure it is in the module cache.
KWOK_SRC=$(cd /tmp && env -u GOFLAGS go mod download -json "sigs.k8s.io/kwok@$KWOKV" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -d "$KWOK_SRC/kustomize/stage" ] || die "kwok module source not found in the Go module cache"

cat > "$K/env-$KV" <<ENV
SKYCAP_K8S_BIN=$OUT
SKYCAP_KWOK_BIN=$KB
SKYCAP_KWOK_SRC=$KWOK_SRC
SKYCAP_K8S_VERSION=$KV
ENV
echo "$K/env-$KV"
