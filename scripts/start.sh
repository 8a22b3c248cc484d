#!/bin/sh
# npm start: sets up this machine, builds the module, and runs the demo: the relay on 127.0.0.1 with its
# embedded default storage (./relay-data) and real token auth, the demo app beside it with a development
# sign-in (demo/server.mjs), and prints the URL to open.
# Env: SYNCORE_DEMO_PORT (default 8080), SYNCORE_PORT (the relay, default 8787), SYNCORE_DATA (./relay-data).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
[ -d node_modules ] || npm ci
sh scripts/build-module.sh >/dev/null
exec node demo/server.mjs --host 127.0.0.1 --port "${SYNCORE_DEMO_PORT:-8080}" --relay-port "${SYNCORE_PORT:-8787}" --data "${SYNCORE_DATA:-./relay-data}"
