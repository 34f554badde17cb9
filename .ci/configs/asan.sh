#!/usr/bin/env bash
# ASan + UBSan: tracering_tests built with -fsanitize=address,undefined in build-asan/,
# then every test registered there.
set -euo pipefail
CI_NAME=asan
# shellcheck source-path=SCRIPTDIR source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

BUILD_DIR="${TRACERING_ASAN_BUILD_DIR:-build-asan}"

ci_step "dependencies"
./scripts/install-deps.sh

ci_step "configure $BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTRACERING_SANITIZERS=address,undefined \
    -DTRACERING_BUILD_TESTS=ON \
    -DTRACERING_BUILD_BENCH=OFF \
    -DTRACERING_BUILD_TOOLS=OFF

ci_step "build tracering_tests"
cmake --build "$BUILD_DIR" --parallel "$CI_JOBS" --target tracering_tests

ci_step "tests"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:strict_init_order=1:check_initialization_order=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$CI_JOBS" \
    --timeout "${TRACERING_TEST_TIMEOUT:-600}" --no-tests=error

ci_step "passed"
