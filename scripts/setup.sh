#!/bin/sh
# Installs the system packages syncore's builds need. Idempotent: installs only what is missing
# (apt-get update only then), never removes anything (no autoremove: it would drop libc++1-14 & co).
set -eu

# postgresql: the server for the tests and benchmarks of relays on PostgreSQL (a throwaway cluster each run;
# Debian does not start it, and the relay itself never needs it unless given --postgres)
PKGS="emscripten nlohmann-json3-dev doctest-dev cmake clang libclang-rt-14-dev ninja-build zlib1g-dev chromium postgresql"

installed() {
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

missing=""
for p in $PKGS; do
    installed "$p" || missing="$missing $p"
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "setup.sh: missing packages:$missing (not root and no sudo: install them by hand)" >&2
        exit 1
    fi
    echo "setup.sh: installing:$missing"
    $SUDO apt-get update
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
else
    echo "setup.sh: system packages present ($PKGS)"
fi

# Node.js runs the wasm tests/benches and npm; Debian's nodejs is too old (need >= 20.16), so it must come
# with the machine rather than from apt.
if ! command -v node >/dev/null 2>&1; then
    echo "setup.sh: node not found (need Node.js >= 20.16 on PATH)" >&2
    exit 1
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=16)?0:1)'; then
    echo "setup.sh: node $(node --version) is too old (need >= 20.16)" >&2
    exit 1
fi
