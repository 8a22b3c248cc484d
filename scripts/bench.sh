#!/bin/sh
# Builds native and wasm (Release) and runs core_bench natively, then the same bench compiled to wasm under
# node. Extra arguments are passed to both runs.
set -eu
cd "$(dirname "$0")/.."
JOBS=${SYNCORE_JOBS:-2}

section() {
    printf '\n==================================================================\n'
    printf '== %s\n' "$*"
    printf '==================================================================\n'
}

section "setup"
sh scripts/setup.sh

section "build: native Release (build-native)"
cmake -S . -B build-native -DCMAKE_BUILD_TYPE=Release
cmake --build build-native -j"$JOBS" --target core_bench

section "build: wasm Release (build-wasm)"
emcmake cmake -S . -B build-wasm -DCMAKE_BUILD_TYPE=Release
cmake --build build-wasm -j"$JOBS" --target core_bench

section "core_bench: native ($(uname -m))"
./build-native/core_bench "$@"

section "core_bench: wasm under node $(node --version)"
node build-wasm/core_bench.js "$@"
