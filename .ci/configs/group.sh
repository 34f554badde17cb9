#!/usr/bin/env bash
# Group access with real users (tests/e2e/group_access.sh): a test node started with --group by
# an unprivileged user, read by a member of the group and refused to a user outside it. Needs
# root to create those users; without root it says so and skips (exit 0). Builds only the three
# tools it runs, in build/ (reused from the default stage when that ran first).
set -euo pipefail
CI_NAME=group
# shellcheck source-path=SCRIPTDIR source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

BUILD_DIR="${TRACERING_BUILD_DIR:-build}"

if [ "$(id -u)" != 0 ]; then
    ci_step "SKIPPED: not root; this stage creates the users and group of the multi-user" \
        "test (run it as root: sudo .ci/configs/group.sh)"
    exit 0
fi

ci_step "dependencies"
./scripts/install-deps.sh

# The options of scripts/test.sh, so that a build/ it made is reused as it is.
ci_step "configure $BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTRACERING_WERROR=ON

ci_step "build tracering-testnode, ringdump, tracering-loadgen"
cmake --build "$BUILD_DIR" --parallel "$CI_JOBS" \
    --target tracering-testnode ringdump tracering-loadgen

ci_step "tests/e2e/group_access.sh"
tests/e2e/group_access.sh "$BUILD_DIR"

ci_step "passed"
