#!/usr/bin/env bash
# Default: the project's test command (-Werror build, every test, benchmark smoke) in build/.
set -euo pipefail
CI_NAME=default
# shellcheck source-path=SCRIPTDIR source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

ci_step "scripts/test.sh"
./scripts/test.sh
ci_step "passed"
