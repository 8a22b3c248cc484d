#!/bin/sh
# Full test run: setup, native build + ctest, wasm build + ctest (doctest under node), the npm package's
# tests (Node, headless Chromium, packaging), fuzz build + short libFuzzer runs. Fails fast.
# Env: SYNCORE_SEED is passed through to the test programs (and to libFuzzer as -seed= when numeric);
# SYNCORE_FUZZ_SECONDS (default 20) sets each fuzz target's run time; SYNCORE_JOBS (default 2) the
# build/ctest parallelism.
set -eu
cd "$(dirname "$0")/.."
JOBS=${SYNCORE_JOBS:-2}
FUZZ_SECONDS=${SYNCORE_FUZZ_SECONDS:-20}

section() {
    printf '\n==================================================================\n'
    printf '== %s\n' "$*"
    printf '==================================================================\n'
}
now() { date +%s; }
T0=$(now)

section "setup"
sh scripts/setup.sh
echo "SYNCORE_SEED=${SYNCORE_SEED:-(unset: tests pick their own)}"

section "native: configure + build (build-native, Release)"
t=$(now)
cmake -S . -B build-native -DCMAKE_BUILD_TYPE=Release
cmake --build build-native -j"$JOBS"
echo "native build: $(( $(now) - t )) s"

section "native: ctest"
ctest --test-dir build-native --output-on-failure --no-tests=error -j"$JOBS"

section "wasm: configure + build (build-wasm, Release, emscripten)"
t=$(now)
emcmake cmake -S . -B build-wasm -DCMAKE_BUILD_TYPE=Release
cmake --build build-wasm -j"$JOBS"
echo "wasm build: $(( $(now) - t )) s"

section "wasm: ctest (doctest compiled to wasm, run by node)"
ctest --test-dir build-wasm --output-on-failure --no-tests=error -j"$JOBS"

section "package: module into dist/ (npm run build), node:test in Node and headless Chromium"
sh scripts/build-module.sh
t=$(now)
# tests/js: the API in Node; tests/browser: Debian's chromium via playwright-core, pages on 127.0.0.1;
# tests/package: npm pack, install the tarball into a throwaway project, Node + an esbuild bundle;
# tests/relay: createRelay and the syncore-relay command on 127.0.0.1 with real clients
node --test --test-concurrency=1 tests/js/ tests/relay/ tests/browser/ tests/package/
echo "package tests: $(( $(now) - t )) s"

if ls tests/fuzz/fuzz_*.cpp >/dev/null 2>&1; then
    section "fuzz: configure + build (build-fuzz, clang, libFuzzer + ASan + UBSan)"
    t=$(now)
    CC=clang CXX=clang++ cmake -S . -B build-fuzz -DSYNCORE_FUZZ=ON -DSYNCORE_FUZZ_SECONDS="$FUZZ_SECONDS"
    cmake --build build-fuzz -j"$JOBS"
    echo "fuzz build: $(( $(now) - t )) s"

    section "fuzz: short runs (${FUZZ_SECONDS} s per target)"
    ctest --test-dir build-fuzz --output-on-failure --no-tests=error -j"$JOBS" -R '^fuzz_'
else
    section "fuzz: skipped (no tests/fuzz/fuzz_*.cpp yet)"
fi

section "all stages passed in $(( $(now) - T0 )) s"
