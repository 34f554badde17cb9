#!/usr/bin/env bash
# Install: installs tracering (libraries, tools, the Python module) into a scratch prefix,
# builds a separate project against it with find_package(tracering COMPONENTS producer
# consumer), and imports the installed Python module from the prefix to read a ping flood
# from the installed tracering-testnode (tests/install/run.sh; the module check says so when
# it is skipped because the module was not built).
set -euo pipefail
CI_NAME=install
# shellcheck source-path=SCRIPTDIR source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

ci_step "dependencies"
./scripts/install-deps.sh

ci_step "tests/install/run.sh"
TRACERING_JOBS="$CI_JOBS" tests/install/run.sh "${TRACERING_INSTALL_TEST_DIR:-$CI_ROOT/build-install-test}"

ci_step "passed"
