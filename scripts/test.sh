#!/usr/bin/env bash
# The project's test command: installs the build dependencies, builds everything in build/
# with warnings as errors, runs every test, then runs each benchmark once (smoke mode).
#
#   ./scripts/test.sh
#
# Environment: TRACERING_BUILD_DIR (default build), TRACERING_JOBS (default 2),
# TRACERING_TEST_TIMEOUT (seconds per test without its own timeout, default 300).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR="${TRACERING_BUILD_DIR:-build}"
JOBS="${TRACERING_JOBS:-2}"
TEST_TIMEOUT="${TRACERING_TEST_TIMEOUT:-300}"
START=$SECONDS

step() { echo "== test.sh [$((SECONDS - START))s] $*"; }

step "dependencies"
./scripts/install-deps.sh

step "configure $BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTRACERING_WERROR=ON

step "build"
cmake --build "$BUILD_DIR" --parallel "$JOBS"

step "tests"
# --no-tests=error: a build that registers no tests is a broken build, not a pass.
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" \
    --timeout "$TEST_TIMEOUT" --no-tests=error

BENCH="$BUILD_DIR/bench/tracering_bench"
if [ -x "$BENCH" ]; then
    step "benchmark smoke (each benchmark once)"
    TRACERING_BENCH_SMOKE=1 "$BENCH"
else
    step "benchmark smoke skipped: $BENCH not built"
fi

step "passed"
