#!/usr/bin/env bash
# bitcoind: Bitcoin Core 31.x with the patch series of contrib/bitcoin-core/ (tracering and
# USDT, wallet on), built by contrib/bitcoin-core/build-bitcoind.sh into build-bitcoin/, then
# the tracering functional tests against it (contrib/bitcoin-core/test/run.sh).
#
# It needs Bitcoin Core's source: ../shared/bitcoin-core/bitcoin-31.x-*.tar.xz beside the
# repository, or BITCOIN_SOURCE (a tarball or a source folder). Without one it says so and
# skips (exit 0), so that a clone elsewhere still passes.
set -euo pipefail
CI_NAME=bitcoind
# shellcheck source-path=SCRIPTDIR source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

source_arg=()
if [ -n "${BITCOIN_SOURCE:-}" ]; then
    source_arg=("$BITCOIN_SOURCE")
else
    shopt -s nullglob
    tarballs=("$CI_ROOT"/../shared/bitcoin-core/bitcoin-31.x-*.tar.xz)
    shopt -u nullglob
    if [ ${#tarballs[@]} -eq 0 ]; then
        ci_step "SKIPPED: no Bitcoin Core source at $CI_ROOT/../shared/bitcoin-core/bitcoin-31.x-*.tar.xz" \
            "and BITCOIN_SOURCE is not set; this stage builds the patched bitcoind from it"
        exit 0
    fi
fi

ci_step "dependencies"
./scripts/install-deps.sh

ci_step "build the patched bitcoind (ccache: $(command -v ccache >/dev/null && echo yes || echo no))"
JOBS="$CI_JOBS" ./contrib/bitcoin-core/build-bitcoind.sh "${source_arg[@]}"

ci_step "functional tests on the real node"
./contrib/bitcoin-core/test/run.sh

ci_step "passed"
