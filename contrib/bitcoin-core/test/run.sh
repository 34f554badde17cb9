#!/usr/bin/env bash
# Runs the tracering functional tests (test/functional/*.py here, written on Bitcoin Core's
# own test framework) against the patched bitcoind that build-bitcoind.sh made.
#
#   contrib/bitcoin-core/test/run.sh [TEST.py ...]     (default: every test)
#
# Environment:
#   TRACERING_BITCOIN_DIR  the folder build-bitcoind.sh built into (default: build-bitcoin/)
#   TEST_ARGS              more arguments for every test (e.g. --nocleanup, --tracerpc)
#   TMPDIR                 where the run's folder is made (default: /tmp)
#
# Nothing is written into the build, and each run has its own folder,
# $TMPDIR/tracering-functional.XXXXXX, so that runs side by side do not meet:
#   functional/  the tests, tracering_util.py and copies of the build's test_framework/ and
#                combine_logs.py
#   cache/       the framework's cached chain, made by the first test that needs it
#   TEST.py/     each test's --tmpdir: its test_framework.log and its nodes' data directories
# A passing run removes the folder. After a failed test the folder is kept, and the failed
# test's TEST.py/ named. Exit code 0 when every test passed, 1 otherwise.
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
usage() {
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
}

tests=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help)
            usage
            exit 0
            ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) tests+=("$(basename "$1")") ;;
    esac
    shift
done

[ -x "$BUILD/bin/bitcoind" ] ||
    die "no patched bitcoind at $BUILD/bin/bitcoind; build it with contrib/bitcoin-core/build-bitcoind.sh"
for tool in ringdump tracering-loadgen; do
    [ -x "$BIN/$tool" ] || die "no $tool in $BIN; build it with contrib/bitcoin-core/build-bitcoind.sh"
done
CONFIG="$BUILD/test/config.ini"
[ -f "$CONFIG" ] || die "no $CONFIG: Bitcoin Core's build did not configure its tests"
grep -q '^ENABLE_TRACERING=true' "$CONFIG" ||
    die "$BUILD was configured without tracering (-DWITH_TRACERING=ON)"
[ -d "$BUILD/test/functional/test_framework" ] ||
    die "no $BUILD/test/functional/test_framework: Bitcoin Core's build did not set up its functional tests"
# The tracering Python module that build-bitcoind.sh installed with the tools.
PYTHON_MODULE_DIR="$(find "$WORK/tracering/lib" -path '*/dist-packages/tracering/__init__.py' -printf '%h\n' 2>/dev/null | head -n 1)"
[ -n "$PYTHON_MODULE_DIR" ] ||
    die "no tracering Python module under $WORK/tracering/lib; install pybind11-dev and python3-dev, then run build-bitcoind.sh again"

if [ ${#tests[@]} -eq 0 ]; then
    for t in "$HERE"/functional/*.py; do
        case "$(basename "$t")" in tracering_util.py) ;; *) tests+=("$(basename "$t")") ;; esac
    done
fi
for t in "${tests[@]}"; do
    if [ ! -f "$HERE/functional/$t" ] || [ "$t" = tracering_util.py ]; then
        die "no test $t in $HERE/functional"
    fi
done

# --- The run's folder. Removed at exit unless a test failed (or the run was interrupted).
TMP_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/tracering-functional.XXXXXX")"
KEEP=0
finish() {
    if [ "$KEEP" = 0 ]; then
        rm -rf "$TMP_ROOT"
    else
        echo "run.sh: kept $TMP_ROOT" >&2
    fi
}
trap finish EXIT
trap 'KEEP=1; echo "run.sh: interrupted" >&2; exit 130' INT TERM

# A unix socket's path has at most 107 bytes; the node's is TEST.py/node0/regtest/tracering.sock.
for t in "${tests[@]}"; do
    sock="$TMP_ROOT/$t/node0/regtest/tracering.sock"
    [ ${#sock} -le 107 ] || die "TMPDIR is too long: the node's socket would be $sock (${#sock} bytes," \
        "more than the 107 a unix socket takes); use a shorter one, such as /tmp"
done
FUNC="$TMP_ROOT/functional"
mkdir "$FUNC"
# The framework imports test_framework from beside the test script; a copy, so that nothing
# (a __pycache__, say) can reach the build through it.
for t in "$HERE"/functional/*.py; do
    install -m 0755 "$t" "$FUNC/$(basename "$t")"
done
cp -R --dereference "$BUILD/test/functional/test_framework" "$FUNC/test_framework"
# combine_logs.py, which a failed test's last lines name beside test_framework/.
for f in combine_logs.py combined_log_template.html; do
    if [ -e "$BUILD/test/functional/$f" ]; then cp --dereference "$BUILD/test/functional/$f" "$FUNC/$f"; fi
done
find "$FUNC/test_framework" -name __pycache__ -prune -exec rm -rf {} +
chmod -R u+rwX,go+rX,go-w "$FUNC"

BITCOIND="$BUILD/bin/bitcoind"
PYTHON_PATH="$(dirname "$PYTHON_MODULE_DIR")${PYTHONPATH:+:$PYTHONPATH}"
# No bytecode files: nothing is written into the build's tracering install (PYTHONPATH).
RUNNER=(env TRACERING_BIN_DIR="$BIN" PYTHONPATH="$PYTHON_PATH" PYTHONDONTWRITEBYTECODE=1)
cd "$TMP_ROOT"

# What every test needs, checked once: a missing piece fails here, by name, rather than in
# every test.
"${RUNNER[@]}" python3 -c '
import os, sys
sys.path.insert(0, sys.argv[1])
import test_framework.test_framework, tracering
for path in sys.argv[2:]:
    assert os.access(path, os.X_OK), path + " is not executable"
' "$FUNC" "$BITCOIND" "$BIN/ringdump" "$BIN/tracering-loadgen" ||
    die "the tests cannot run from $TMP_ROOT as $(id -un): see above"

passed=()
failed=()
for t in "${tests[@]}"; do
    start=$SECONDS
    echo "== $t"
    # shellcheck disable=SC2086 # TEST_ARGS is a list of arguments
    if "${RUNNER[@]}" python3 "$FUNC/$t" --configfile="$CONFIG" --cachedir="$TMP_ROOT/cache" \
        --tmpdir="$TMP_ROOT/$t" ${TEST_ARGS:-}; then
        passed+=("$t ($((SECONDS - start)) s)")
        rm -rf "${TMP_ROOT:?}/$t"
    else
        failed+=("$t ($((SECONDS - start)) s, logs in $TMP_ROOT/$t)")
    fi
done

echo
echo "passed: ${#passed[@]}${passed[*]:+: ${passed[*]}}"
if [ ${#failed[@]} -ne 0 ]; then
    KEEP=1
    echo "FAILED: ${#failed[@]}: ${failed[*]}"
    exit 1
fi
