# Sourced by .ci/run and .ci/configs/*.sh: repository root, job count, stage banners.
# shellcheck shell=bash

CI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC2034 # used by the scripts that source this file
CI_JOBS="${TRACERING_JOBS:-2}"
CI_START=$SECONDS
cd "$CI_ROOT" || exit 1

# ci_step NAME...: a banner with the seconds since the script started.
ci_step() { echo "== ${CI_NAME:-ci} [$((SECONDS - CI_START))s] $*"; }
