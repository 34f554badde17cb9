#!/usr/bin/env bash
# USDT: the test node built with -DTRACERING_TESTNODE_USDT=ON in build-usdt/, so that it also
# fires Bitcoin Core's USDT probes (for eBPF comparisons): checks the probe notes and their
# semaphores, and runs the P2P end-to-end tests against that binary.
set -euo pipefail
CI_NAME=usdt
# shellcheck source-path=SCRIPTDIR source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

BUILD_DIR="${TRACERING_USDT_BUILD_DIR:-build-usdt}"

ci_step "dependencies"
./scripts/install-deps.sh

ci_step "configure $BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTRACERING_WERROR=ON \
    -DTRACERING_TESTNODE_USDT=ON \
    -DTRACERING_BUILD_TESTS=ON \
    -DTRACERING_BUILD_BENCH=OFF \
    -DTRACERING_BUILD_TOOLS=ON

ci_step "build the test node, loadgen and the P2P end-to-end tests"
cmake --build "$BUILD_DIR" --parallel "$CI_JOBS" \
    --target tracering-testnode tracering-loadgen tracering_p2p_e2e_tests

ci_step "tests"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$CI_JOBS" -R 'P2PUsdt|P2PEndToEnd' \
    --timeout "${TRACERING_TEST_TIMEOUT:-600}" --no-tests=error

ci_step "passed"
