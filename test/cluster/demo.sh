#!/usr/bin/env bash
# skycap's main job on the example app, end to end: start the local kwok cluster, deploy test/fixtures/shop's
# `dev` environment at its commit, show status and history, change a config file, deploy again (the pods roll),
# then stop the cluster. Run with `npm run demo` after `npm ci`.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export SKYCAP_CLUSTER_NAME=${SKYCAP_CLUSTER_NAME:-skycap-demo}
APP=$(mktemp -d "${TMPDIR:-/tmp}/skycap-demo.XXXXXX")
cleanup() { bash "$HERE/down.sh" >/dev/null 2>&1 || true; rm -rf "$APP"; }
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
