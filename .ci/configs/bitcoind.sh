#!/usr/bin/env bash
# bitcoind: Bitcoin Core 31.x with the patch series of contrib/bitcoin-core/ (tracering and
# USDT, wallet on), built by contrib/bitcoin-core/build-bitcoind.sh into build-bitcoin/
# (Release, see below), then the tracering functional tests against it
# (contrib/bitcoin-core/test/run.sh).
#
# It needs Bitcoin Core's source: ../shared/bitcoin-core/bitcoin-31.x-*.tar.xz beside the
# repository, or BITCOIN_SOURCE (a tarball or a source folder). Without one it says so and
# skips (exit 0), so that a clone elsewhere still passes.
#
# The tests never run as root: run as root, this stage makes the system user
# tracering-functional (TRACERING_TEST_USER names another) if it is missing and runs them as
# that user (run.sh --user); otherwise they run as the user running CI.
set -euo pipefail
CI_NAME=bitcoind
TEST_USER="${TRACERING_TEST_USER:-tracering-functional}"
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

# CI builds Bitcoin Core without debug information (Release: -O2 and assertions, as
# RelWithDebInfo without -g). The code is the same; -g alone makes a compile about 45 %
# slower (net_processing.cpp: 51-55 s against 36 s), which decides whether a run whose ccache
# is empty fits its budget.
ci_step "build the patched bitcoind, Release (ccache: $(command -v ccache >/dev/null && echo yes || echo no))"
BITCOIN_CMAKE_ARGS="-DCMAKE_BUILD_TYPE=Release ${BITCOIN_CMAKE_ARGS:-}" JOBS="$CI_JOBS" \
    ./contrib/bitcoin-core/build-bitcoind.sh "${source_arg[@]}"

# The tests run as an unprivileged user, as a node and its readers would: root passes the
# permission checks of the socket, the segment and -traceringgroup that they test. As root,
# CI makes a system user for them (no home, no login shell; kept for the next run).
if [ "$(id -u)" = 0 ]; then
    getent passwd "$TEST_USER" >/dev/null ||
        useradd --system --user-group --no-create-home --home-dir / --shell /usr/sbin/nologin \
            "$TEST_USER"
    ci_step "functional tests on the real node, as the system user $TEST_USER ($(id "$TEST_USER"))"
    ./contrib/bitcoin-core/test/run.sh --user "$TEST_USER"
else
    ci_step "functional tests on the real node, as $(id -un) (CI does not run as root here," \
        "so the tests run as its own user and no test user is made)"
    ./contrib/bitcoin-core/test/run.sh
fi

ci_step "passed"
