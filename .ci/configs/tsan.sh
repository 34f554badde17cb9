#!/usr/bin/env bash
# TSan: tracering_tests built with -fsanitize=thread in build-tsan/; runs the tests labelled
# ring and stress (the two sides of a ring in one process, so TSan sees both).
set -euo pipefail
CI_NAME=tsan
# shellcheck source-path=SCRIPTDIR source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

BUILD_DIR="${TRACERING_TSAN_BUILD_DIR:-build-tsan}"

ci_step "dependencies"
./scripts/install-deps.sh

# TSan's shadow memory layout (GCC 12, LLVM < 18) fails at startup when the kernel
# randomises mmap with more than 28 bits ("unexpected memory mapping"); running with
# ASLR off avoids it. The build needs it too: test discovery runs the test binary.
wrap=()
rnd_bits="$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)"
if [ "$rnd_bits" -gt 28 ] && command -v setarch >/dev/null &&
    setarch "$(uname -m)" -R true 2>/dev/null; then
    wrap=(setarch "$(uname -m)" -R)
    echo "tsan: vm.mmap_rnd_bits=$rnd_bits, running with ASLR off"
fi

ci_step "configure $BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTRACERING_SANITIZERS=thread \
    -DTRACERING_BUILD_TESTS=ON \
    -DTRACERING_BUILD_BENCH=OFF \
    -DTRACERING_BUILD_TOOLS=OFF

ci_step "build tracering_tests"
${wrap[@]+"${wrap[@]}"} cmake --build "$BUILD_DIR" --parallel "$CI_JOBS" --target tracering_tests

ci_step "tests labelled ring, stress or control"
# .ci/tsan.supp says why writes into a ring's data area are suppressed.
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/.ci/tsan.supp}"
${wrap[@]+"${wrap[@]}"} ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$CI_JOBS" \
    -L 'ring|stress|control' --timeout "${TRACERING_TEST_TIMEOUT:-600}" --no-tests=error

ci_step "passed"
