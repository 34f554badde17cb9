#!/usr/bin/env bash
# Runs the tracering functional tests (test/functional/*.py here, written on Bitcoin Core's
# own test framework) against the patched bitcoind that build-bitcoind.sh made.
#
#   contrib/bitcoin-core/test/run.sh [TEST.py ...]     (default: every test)
#
# Environment:
#   TRACERING_BITCOIN_DIR  the folder build-bitcoind.sh built into (default: build-bitcoin/)
#   TEST_ARGS              more arguments for every test (e.g. --nocleanup, --tracerpc)
#
# Each test runs in its own temporary folder; a failed test's folder and node logs are kept
# and named. Exit code 0 when every test passed, 1 otherwise.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
WORK="${TRACERING_BITCOIN_DIR:-$ROOT/build-bitcoin}"
BUILD="$WORK/bitcoin-build"
BIN="$WORK/tracering/bin"

die() {
    echo "run.sh: $*" >&2
    exit 1
}

[ -x "$BUILD/bin/bitcoind" ] ||
    die "no patched bitcoind at $BUILD/bin/bitcoind; build it with contrib/bitcoin-core/build-bitcoind.sh"
[ -x "$BIN/ringdump" ] && [ -x "$BIN/tracering-loadgen" ] ||
    die "no ringdump or tracering-loadgen in $BIN; build them with contrib/bitcoin-core/build-bitcoind.sh"
[ -f "$BUILD/test/config.ini" ] || die "no $BUILD/test/config.ini: Bitcoin Core's build did not configure its tests"
grep -q '^ENABLE_TRACERING=true' "$BUILD/test/config.ini" ||
    die "$BUILD was configured without tracering (-DWITH_TRACERING=ON)"

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
    for t in "$HERE"/functional/*.py; do
        case "$(basename "$t")" in tracering_util.py) ;; *) tests+=("$(basename "$t")") ;; esac
    done
fi

# The framework finds config.ini and test_framework/ next to the test script, so the tests
# (and their helper module) are copied into the build's test folder.
for t in "$HERE"/functional/*.py; do
    install -m 0755 "$t" "$BUILD/test/functional/$(basename "$t")"
done

export TRACERING_BIN_DIR="$BIN"
# The tracering Python module that build-bitcoind.sh installed with the tools.
PYTHON_MODULE_DIR="$(find "$WORK/tracering/lib" -path '*/dist-packages/tracering/__init__.py' -printf '%h\n' 2>/dev/null | head -n 1)"
[ -n "$PYTHON_MODULE_DIR" ] ||
    die "no tracering Python module under $WORK/tracering/lib; install pybind11-dev and python3-dev, then run build-bitcoind.sh again"
PYTHONPATH="$(dirname "$PYTHON_MODULE_DIR")${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
TMP_ROOT="$(mktemp -d /tmp/tracering-functional.XXXXXX)"
passed=()
failed=()
for t in "${tests[@]}"; do
    t="$(basename "$t")"
    [ -f "$HERE/functional/$t" ] || die "no test $t in $HERE/functional"
    start=$SECONDS
    echo "== $t"
    # shellcheck disable=SC2086 # TEST_ARGS is a list of arguments
    if python3 "$BUILD/test/functional/$t" --tmpdir="$TMP_ROOT/$t" ${TEST_ARGS:-}; then
        passed+=("$t ($((SECONDS - start)) s)")
        rm -rf "${TMP_ROOT:?}/$t"
    else
        failed+=("$t ($((SECONDS - start)) s, logs in $TMP_ROOT/$t)")
    fi
done

echo
echo "passed: ${#passed[@]}${passed[*]:+: ${passed[*]}}"
if [ ${#failed[@]} -ne 0 ]; then
    echo "FAILED: ${#failed[@]}: ${failed[*]}"
    exit 1
fi
rm -rf "$TMP_ROOT"
