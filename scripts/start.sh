#!/bin/sh
# npm start: sets up this machine, builds the module, and runs the relay on 127.0.0.1 with its embedded
# default storage (./relay-data). Until the demo exists (issue 6) it runs in --insecure-dev mode: clients
# need no token. Env: SYNCORE_PORT (default 8787), SYNCORE_DATA (default ./relay-data).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
[ -d node_modules ] || npm ci
sh scripts/build-module.sh >/dev/null
exec node js/relay/cli.mjs --host 127.0.0.1 --port "${SYNCORE_PORT:-8787}" --data "${SYNCORE_DATA:-./relay-data}" --insecure-dev
