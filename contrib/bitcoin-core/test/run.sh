#!/usr/bin/env bash
# Runs the tracering functional tests (test/functional/*.py here, written on Bitcoin Core's
# own test framework) against the patched bitcoind that build-bitcoind.sh made.
#
#   contrib/bitcoin-core/test/run.sh [--user NAME] [TEST.py ...]     (default: every test)
#
#   --user NAME  run every test as the user NAME: its ids and groups (setpriv), and a clean
#                environment (PATH=/usr/local/bin:/usr/bin:/bin, HOME the run's folder). Only
#                as root; CI runs the tests so, as a system user (.ci/configs/bitcoind.sh).
#                NAME need not be able to reach the clone or the build: what the tests use is
#                staged first into the run's folder (below). Without --user the tests run as
#                the user running run.sh, which it prints.
#
# Environment:
#   TRACERING_BITCOIN_DIR  the folder build-bitcoind.sh built into (default: build-bitcoin/)
#   TEST_ARGS              more arguments for every test (e.g. --nocleanup, --tracerpc)
#   TMPDIR                 where the run's folder is made (default: /tmp)
#
# Nothing is written into the build, and each run has its own folder,
# $TMPDIR/tracering-functional.XXXXXX, so that runs side by side do not meet:
#   functional/  the tests, tracering_util.py, the extractor's test harness
#                (tests/python/extractor_harness.py) and copies of the build's test_framework/
#                and combine_logs.py
#   stage/       with --user: bitcoind and bitcoin-cli (hard links to the build's when on the
#                same filesystem and readable by everyone, copies otherwise), a config.ini
#                naming them, the tracering tools and Python module build-bitcoind.sh
#                installed, and the extractor's .proto files (tools/extractor/proto), from
#                which the extractor's test generates its decoder
#   cache/       the framework's cached chain, made by the first test that needs it
#   TEST.py/     each test's --tmpdir: its test_framework.log and its nodes' data directories
# The folder, and all the tests write in it, belongs to the user they run as; with --user,
# functional/ and stage/ stay root's, read-only to it. A passing run removes the folder. After
# a failed test the folder is kept, and the failed test's TEST.py/ named. A test that skips
# (the framework's exit code 77: a bitcoind without what it needs, or
# interface_tracering_extractor.py without nats-server) says why in its output and is listed
# as skipped. Exit code 0 when no test failed, 1 otherwise.
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

RUN_USER=""
tests=()
while [ $# -gt 0 ]; do
    case "$1" in
        --user)
            if [ $# -lt 2 ] || [ -z "$2" ]; then die "--user needs a user name"; fi
            RUN_USER="$2"
            shift
            ;;
        --user=*)
            RUN_USER="${1#--user=}"
            [ -n "$RUN_USER" ] || die "--user needs a user name"
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) tests+=("$(basename "$1")") ;;
    esac
    shift
done

if [ -n "$RUN_USER" ]; then
    [ "$(id -u)" = 0 ] ||
        die "--user $RUN_USER needs root, to switch to that user; without --user the tests run" \
            "as you, $(id -un)"
    getent passwd "$RUN_USER" >/dev/null ||
        die "--user $RUN_USER: there is no such user on this system (make one, e.g." \
            "useradd --system --user-group --no-create-home --shell /usr/sbin/nologin $RUN_USER)"
    [ "$(id -u "$RUN_USER")" != 0 ] || die "--user $RUN_USER: that is root; give an unprivileged user"
    command -v setpriv >/dev/null || die "--user needs setpriv (Debian: util-linux)"
fi

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
# The extractor's test harness, shared with its pytest tests, imported from beside the tests.
install -m 0644 "$ROOT/tests/python/extractor_harness.py" "$FUNC/extractor_harness.py"
cp -R --dereference "$BUILD/test/functional/test_framework" "$FUNC/test_framework"
# combine_logs.py, which a failed test's last lines name beside test_framework/.
for f in combine_logs.py combined_log_template.html; do
    if [ -e "$BUILD/test/functional/$f" ]; then cp --dereference "$BUILD/test/functional/$f" "$FUNC/$f"; fi
done
find "$FUNC/test_framework" -name __pycache__ -prune -exec rm -rf {} +
chmod -R u+rwX,go+rX,go-w "$FUNC"

BITCOIND="$BUILD/bin/bitcoind"
# The schema of what tracering-extractor publishes, for interface_tracering_extractor.py.
PROTO_DIR="$ROOT/tools/extractor/proto"
PYTHON_PATH="$(dirname "$PYTHON_MODULE_DIR")${PYTHONPATH:+:$PYTHONPATH}"
if [ -n "$RUN_USER" ]; then
    # The user may be unable to enter the clone or the build (a clone under /root), so it
    # gets its own copies of what the tests use.
    STAGE="$TMP_ROOT/stage"
    mkdir -p "$STAGE/bin" "$STAGE/tracering/bin" "$STAGE/tracering/python/tracering"
    hard_links=0
    copies=0
    # stage SRC DEST MODE: DEST is a hard link to SRC when both are on one filesystem and SRC
    # is readable (for MODE 0755 also executable) by everyone already; otherwise a copy with
    # MODE. SRC itself is never changed.
    stage() {
        local src=$1 dst=$2 mode=$3 need=4
        [ "$mode" = 0755 ] && need=5
        if [ "$(stat -c %d "$src")" = "$(stat -c %d "$(dirname "$dst")")" ] &&
            [ $((0$(stat -c %a "$src") & need)) -eq "$need" ] && ln "$src" "$dst" 2>/dev/null; then
            hard_links=$((hard_links + 1))
        else
            install -m "$mode" "$src" "$dst"
            copies=$((copies + 1))
        fi
    }
    stage "$BUILD/bin/bitcoind" "$STAGE/bin/bitcoind" 0755
    if [ -e "$BUILD/bin/bitcoin-cli" ]; then
        stage "$BUILD/bin/bitcoin-cli" "$STAGE/bin/bitcoin-cli" 0755
    fi
    for f in "$BIN"/*; do
        stage "$f" "$STAGE/tracering/bin/$(basename "$f")" 0755
    done
    for f in "$PYTHON_MODULE_DIR"/*; do
        if [ -f "$f" ]; then stage "$f" "$STAGE/tracering/python/tracering/$(basename "$f")" 0644; fi
    done
    # Copies (a few small files), keeping the folders protoc's imports name.
    cp -R "$PROTO_DIR" "$STAGE/proto"
    PROTO_DIR="$STAGE/proto"
    # The framework runs BUILDDIR/bin/bitcoind. SRCDIR and RPCAUTH stay as they were: only
    # Bitcoin Core's IPC and rpcauth tests read them, none of these.
    sed "s|^BUILDDIR=.*|BUILDDIR=$STAGE|" "$CONFIG" >"$STAGE/config.ini"
    CONFIG="$STAGE/config.ini"
    BITCOIND="$STAGE/bin/bitcoind"
    BIN="$STAGE/tracering/bin"
    PYTHON_PATH="$STAGE/tracering/python"
    chmod -R u+rwX,go+rX,go-w "$STAGE"
    chown "$RUN_USER:" "$TMP_ROOT"
    echo "run.sh: staged into $STAGE ($hard_links hard links, $copies copies)"
    RUNNER=(setpriv --reuid="$(id -u "$RUN_USER")" --regid="$(id -g "$RUN_USER")" --init-groups --
        env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$TMP_ROOT" LANG=C.UTF-8)
    echo "run.sh: tests run as $RUN_USER: $(id "$RUN_USER")"
else
    RUNNER=(env)
    if [ "$(id -u)" = 0 ]; then
        echo "run.sh: tests run as root, which passes permission checks other users fail;" \
            "--user NAME runs them as an unprivileged user (CI does)"
    else
        echo "run.sh: tests run as the current user: $(id)"
    fi
fi
# No bytecode files: nothing is written into the build's tracering install (PYTHONPATH
# without --user), and nothing fails to be written into the read-only functional/.
RUNNER+=(TRACERING_BIN_DIR="$BIN" TRACERING_EXTRACTOR_PROTO="$PROTO_DIR" PYTHONPATH="$PYTHON_PATH"
    PYTHONDONTWRITEBYTECODE=1)
cd "$TMP_ROOT"
if [ -n "$RUN_USER" ] && ! "${RUNNER[@]}" test -w "$TMP_ROOT" -a -x "$TMP_ROOT"; then
    die "$RUN_USER cannot enter $TMP_ROOT: every folder above it must be open to that user;" \
        "set TMPDIR to a folder that is"
fi

# What every test needs, checked once as the user they run as: a missing piece fails here,
# by name, rather than in every test.
"${RUNNER[@]}" python3 -c '
import os, sys
sys.path.insert(0, sys.argv[1])
import test_framework.test_framework, tracering
for path in sys.argv[2:]:
    assert os.access(path, os.X_OK), path + " is not executable"
' "$FUNC" "$BITCOIND" "$BIN/ringdump" "$BIN/tracering-loadgen" ||
    die "the tests cannot run from $TMP_ROOT as ${RUN_USER:-$(id -un)}: see above"

passed=()
skipped=()
failed=()
for t in "${tests[@]}"; do
    start=$SECONDS
    echo "== $t"
    code=0
    # shellcheck disable=SC2086 # TEST_ARGS is a list of arguments
    "${RUNNER[@]}" python3 "$FUNC/$t" --configfile="$CONFIG" --cachedir="$TMP_ROOT/cache" \
        --tmpdir="$TMP_ROOT/$t" ${TEST_ARGS:-} || code=$?
    case "$code" in
        0)
            passed+=("$t ($((SECONDS - start)) s)")
            rm -rf "${TMP_ROOT:?}/$t"
            ;;
        77) # the framework's TEST_EXIT_SKIPPED; the test printed why
            skipped+=("$t")
            rm -rf "${TMP_ROOT:?}/$t"
            ;;
        *) failed+=("$t ($((SECONDS - start)) s, logs in $TMP_ROOT/$t)") ;;
    esac
done

echo
echo "passed: ${#passed[@]}${passed[*]:+: ${passed[*]}}"
if [ ${#skipped[@]} -ne 0 ]; then
    echo "skipped: ${#skipped[@]}: ${skipped[*]} (the reason is in each test's output above)"
fi
if [ ${#failed[@]} -ne 0 ]; then
    KEEP=1
    echo "FAILED: ${#failed[@]}: ${failed[*]}"
    exit 1
fi
