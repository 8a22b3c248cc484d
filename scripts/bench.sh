#!/bin/sh
# All benchmarks, then docs/BENCHMARKS.md + docs/benchmarks.svg:
#   1. bench/core_bench.cpp natively and compiled to wasm under node (the C++ core alone)
#   2. bench/js_bench.mjs: Yjs alone, best of 3 (the core's targets are ratios to it), the wasm insert
#      against Yjs's in alternating pairs (bench/insert_pairs.mjs), then the same
#      workload through the JS API, beside Yjs, Automerge and Loro
#   3. bench/relay_bench.mjs: the relay under load (fan-out to 100 and 500 clients, initial sync of a
#      100,000-document channel) beside a bare ws broadcast server and the y-websocket server, 127.0.0.1
#   4. bench/postgres_bench.mjs: 2 relays on one PostgreSQL (a throwaway cluster) against 1, and against
#      1 relay on a data directory: changes/s acknowledged, fan-out and cross-relay latency p50/p99
#   5. bench/browser_bench.mjs: persisted writes and reload in headless Chromium (IndexedDB)
#   6. bench/size.mjs: what an app downloads
# Extra arguments go to core_bench. Env: SYNCORE_BENCH_DOCS (default 100000) for the JS benchmark.
set -eu
cd "$(dirname "$0")/.."
JOBS=${SYNCORE_JOBS:-2}
DOCS=${SYNCORE_BENCH_DOCS:-100000}

section() {
    printf '\n==================================================================\n'
    printf '== %s\n' "$*"
    printf '==================================================================\n'
}

section "setup"
sh scripts/setup.sh
[ -d node_modules ] || npm ci

section "build: native Release (build-native)"
cmake -S . -B build-native -DCMAKE_BUILD_TYPE=Release
cmake --build build-native -j"$JOBS" --target core_bench

section "build: wasm Release (build-wasm) and the package module (dist/)"
emcmake cmake -S . -B build-wasm -DCMAKE_BUILD_TYPE=Release
cmake --build build-wasm -j"$JOBS" --target core_bench
sh scripts/build-module.sh

mkdir -p build-bench
section "core_bench: native ($(uname -m))"
./build-native/core_bench "$@" | tee build-bench/core-native.txt

section "core_bench: wasm under node $(node --version)"
node build-wasm/core_bench.js "$@" | tee build-bench/core-wasm.txt
{ echo "native:"; cat build-bench/core-native.txt; echo; echo "wasm under node $(node --version):"; cat build-bench/core-wasm.txt; } > build-bench/core.txt

section "Yjs on the core's workload, best of 3 (the core's targets are ratios to Yjs; with an update listener for context)"
node bench/js_bench.mjs --only=yjs-plain,yjs-synced --runs=3 --json=build-bench/yjs-ref.json

section "the wasm insert against Yjs's in alternating pairs (the machine's speed swings for minutes at a time)"
node bench/insert_pairs.mjs --rounds=5 --procs=5 --runs=3 --json=build-bench/insert-pairs.json

section "js_bench: the JS API beside Yjs, Automerge, Loro ($DOCS docs)"
node bench/js_bench.mjs --docs="$DOCS"

section "relay_bench: fan-out and initial sync through the relay, beside bare ws and y-websocket"
node bench/relay_bench.mjs

section "postgres_bench: 2 relays on one PostgreSQL against 1 (and the data directory)"
node bench/postgres_bench.mjs

section "browser_bench: headless Chromium, IndexedDB"
node bench/browser_bench.mjs

section "size: what an app downloads"
node bench/size.mjs

section "report"
node bench/report.mjs
