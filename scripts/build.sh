#!/usr/bin/env bash
# Installs the system packages (if missing), configures and builds everything into build/;
# then, where Bitcoin Core's source is beside the repository (../shared/bitcoin-core/), the
# patched bitcoind into build-bitcoin/ (contrib/bitcoin-core/build-bitcoind.sh; about 25
# minutes on 2 cores the first time, seconds once built), which the demo then runs on.
#
#   ./scripts/build.sh [--no-bitcoind] [CMAKE_ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."

bitcoind=1
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
if [ "${1:-}" = "--no-bitcoind" ]; then
    bitcoind=0
    shift
fi

./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
cmake --build build --parallel "${JOBS:-2}"

if [ "$bitcoind" = 1 ]; then
    if compgen -G "../shared/bitcoin-core/bitcoin-31.x-*.tar.xz" >/dev/null; then
        echo "build.sh: building the patched bitcoind (--no-bitcoind skips it)"
        JOBS="${JOBS:-2}" ./contrib/bitcoin-core/build-bitcoind.sh
    else
        echo "build.sh: no Bitcoin Core source in ../shared/bitcoin-core/, so no patched bitcoind;" \
            "build one from a 31.x source with contrib/bitcoin-core/build-bitcoind.sh SOURCE"
    fi
fi
