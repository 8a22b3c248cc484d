#!/bin/sh
# Builds the package's WebAssembly module (bindings/ over wasm/, emscripten, Release) and copies it into
# dist/: syncore-core.mjs + syncore-core.wasm, which js/core.mjs imports. Run by `npm run build` and by
# `npm pack` (prepack). Needs the system packages of scripts/setup.sh, and `npm ci` (Closure compiler).
# SYNCORE_MODULE_PROFILE=speed builds the -O3 module (faster, about 100 KB gzip larger) instead of the
# default size-optimised one (docs/ARCHITECTURE.md, "Module size").
set -eu
cd "$(dirname "$0")/.."
JOBS=${SYNCORE_JOBS:-2}
emcmake cmake -S . -B build-wasm -DCMAKE_BUILD_TYPE=Release -DSYNCORE_MODULE_PROFILE="${SYNCORE_MODULE_PROFILE:-size}" >/dev/null
cmake --build build-wasm -j"$JOBS" --target syncore_module
mkdir -p dist
# copy the pair together, after a successful link only (a failed link can leave a new .wasm beside an
# old .mjs: TOOLCHAIN.md section 2)
cp build-wasm/syncore-core.wasm dist/syncore-core.wasm.tmp
cp build-wasm/syncore-core.mjs dist/syncore-core.mjs
mv dist/syncore-core.wasm.tmp dist/syncore-core.wasm
ls -l dist/syncore-core.mjs dist/syncore-core.wasm
