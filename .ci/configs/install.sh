#!/usr/bin/env bash
# Install: installs tracering into a scratch prefix and builds a separate project against it
# with find_package(tracering COMPONENTS producer consumer) (tests/install/run.sh).
set -euo pipefail
CI_NAME=install
# shellcheck source-path=SCRIPTDIR source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

ci_step "dependencies"
./scripts/install-deps.sh

ci_step "tests/install/run.sh"
TRACERING_JOBS="$CI_JOBS" tests/install/run.sh "${TRACERING_INSTALL_TEST_DIR:-$CI_ROOT/build-install-test}"

ci_step "passed"
