#!/usr/bin/env bash
# skycap's main job on the example app, end to end: start the local kwok cluster, deploy test/fixtures/shop's
# `dev` environment at its commit, show status and history, change a config file, deploy again (the pods roll),
# then stop the cluster. Then, on the cluster's real node, the test app (test/app) for real: two releases, each
# answering a request through its Service. Run with `npm run demo` after `npm ci`.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export SKYCAP_CLUSTER_NAME=${SKYCAP_CLUSTER_NAME:-skycap-demo}
APP=$(mktemp -d "${TMPDIR:-/tmp}/skycap-demo.XXXXXX")
REAL=$(mktemp -d "${TMPDIR:-/tmp}/skycap-demo-real.XXXXXX")
cleanup() { bash "$HERE/down.sh" >/dev/null 2>&1 || true; rm -rf "$APP" "$REAL"; }
trap cleanup EXIT

(cd "$ROOT" && npm run -s build)
KUBECONFIG=$(bash "$HERE/up.sh")
export KUBECONFIG
. "$(bash "$HERE/build.sh")"
export PATH="$SKYCAP_K8S_BIN:$PATH"
skycap() { node "$ROOT/bin/run.js" "$@"; }

cp -r "$ROOT/test/fixtures/shop/." "$APP/"
cd "$APP"
git init -q -b main && git add -A && git -c user.name=demo -c user.email=demo@example.com commit -qm "example app"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step skycap render dev --service web;       skycap render dev --service web | head -20
step skycap deploy dev --skip-image-check;  skycap deploy dev --skip-image-check
step skycap status dev;                     skycap status dev
echo 'greeting=Hello from the demo' > config/web/app.properties
git commit -qam "change the greeting"
step skycap diff dev;                       skycap diff dev | head -30 || true
step skycap deploy dev --skip-image-check;  skycap deploy dev --skip-image-check
step skycap scale web 3 -e dev;             skycap scale web 3 -e dev
step skycap history dev;                    skycap history dev

# --- the test app in real containers ---------------------------------------------------------------------------
RUN=$(dirname "$KUBECONFIG")
if [ ! -s "$RUN/real-node" ]; then
  printf '\n(no real node in this cluster: SKYCAP_CLUSTER_REAL_NODE=0 or not root; skipping the real containers)\n'
  exit 0
fi
IMAGE=$(cat "$RUN/test-app.image")   # host:port/skycap-test/app:1
REG=${IMAGE%%/*}; REPO=${IMAGE#*/}; REPO=${REPO%:*}
# What CI would do after building a commit: push the image under the commit's SHA (here: copy the manifest).
push_image() {
  local m=application/vnd.docker.distribution.manifest.v2+json
  curl -sf -H "Accept: $m" "http://$REG/v2/$REPO/manifests/${IMAGE##*:}" |
    curl -sf -X PUT -H "Content-Type: $m" --data-binary @- "http://$REG/v2/$REPO/manifests/$(git rev-parse HEAD)" >/dev/null
}
cp -r "$ROOT/test/fixtures/real-app/." "$REAL/"
cd "$REAL"
sed -i "s#__CONTEXT__#$(kubectl config current-context)#; s#__NAMESPACE__#skycap-demo-real#; s#__REGISTRY__#$REG/${REPO%/*}#" skycap.yaml
git init -q -b main && git add -A && git -c user.name=demo -c user.email=demo@example.com commit -qm "test app v1"
# Retried: right after a rollout, kube-proxy on the real node may still send a new connection to the old pod that
# just stopped (its rules follow the endpoints a moment later; a preStop sleep in the app would cover that gap).
ask() { curl -s -m 3 --retry 10 --retry-all-errors --retry-delay 1 "http://$(kubectl -n skycap-demo-real get service web -o jsonpath='{.spec.clusterIP}'):8080/"; }
push_image
step skycap deploy test "(real containers on node $(cat "$RUN/real-node"))"; skycap deploy test
step curl http://\<ClusterIP of web\>:8080/; ask
sed -i 's/APP_VERSION: v1/APP_VERSION: v2/' skycap.yaml
echo 'greeting=Hello from release 2' > config/web/app.properties
git -c user.name=demo -c user.email=demo@example.com commit -qam "test app v2"
push_image
step skycap deploy test;                    skycap deploy test
step curl http://\<ClusterIP of web\>:8080/; ask
step skycap logs web -e test --tail 3;      skycap logs web -e test --tail 3
