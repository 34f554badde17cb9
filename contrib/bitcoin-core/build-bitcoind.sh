#!/usr/bin/env bash
# Builds Bitcoin Core with tracering: extracts the source, applies the patch series in
# patches/ as commits, builds and installs tracering (libraries, ringdump, loadgen), then
# configures and builds the patched bitcoind with USDT and tracering both on, and the wallet.
# Everything already built is reused: run it again after a change and only that is rebuilt.
#
#   contrib/bitcoin-core/build-bitcoind.sh [--full] [SOURCE_TARBALL_OR_DIR]
#
# SOURCE_TARBALL_OR_DIR: a Bitcoin Core 31.x source tarball (`git archive` output with a
#   top folder) or source directory (copied, never modified). Default: the one tarball
#   ../shared/bitcoin-core/bitcoin-31.x-*.tar.xz beside the repository.
# --full: build every Bitcoin Core target that builds on this machine (test_bitcoin,
#   bench_bitcoin, the fuzz binary, bitcoin-node with IPC, the shared bitcoinkernel library
#   and its tests, bitcoin-chainstate, the wallet tool...) in a second build folder, to check
#   that the option breaks none of them. Slow: about an hour on 2 cores.
#
# Environment:
#   TRACERING_BITCOIN_DIR  where everything goes (default: build-bitcoin/ in the repository)
#   BITCOIN_CMAKE_ARGS     more arguments for Bitcoin Core's cmake configure step
#   JOBS                   parallel jobs (default: the number of CPUs)
#
# The last line printed is the path of the patched bitcoind.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="${TRACERING_BITCOIN_DIR:-$ROOT/build-bitcoin}"
JOBS="${JOBS:-$(nproc)}"
START=$SECONDS

usage() {
    sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}
step() { echo "== build-bitcoind [$((SECONDS - START))s] $*"; }
die() {
    echo "build-bitcoind: $*" >&2
    exit 1
}

FULL=0
SOURCE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --full) FULL=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *)
            [ -z "$SOURCE" ] || die "give one source, not '$SOURCE' and '$1'"
            SOURCE="$1"
            ;;
    esac
    shift
done

if [ -z "$SOURCE" ]; then
    shopt -s nullglob
    candidates=("$ROOT"/../shared/bitcoin-core/bitcoin-31.x-*.tar.xz)
    shopt -u nullglob
    [ ${#candidates[@]} -ne 0 ] ||
        die "no Bitcoin Core source given, and none at $ROOT/../shared/bitcoin-core/bitcoin-31.x-*.tar.xz;" \
            "give a 31.x source tarball or directory"
    [ ${#candidates[@]} -eq 1 ] || die "several tarballs match; give one: ${candidates[*]}"
    SOURCE="${candidates[0]}"
fi
[ -e "$SOURCE" ] || die "$SOURCE does not exist"
SOURCE="$(cd "$(dirname "$SOURCE")" && pwd)/$(basename "$SOURCE")"

PATCHES=("$HERE"/patches/*.patch)
[ -e "${PATCHES[0]}" ] || die "no patches in $HERE/patches"

mkdir -p "$WORK"
SRC="$WORK/source/bitcoin"

# --- Source: extract and apply the series, unless this very source and series are there.
if [ -d "$SOURCE" ]; then
    [ -f "$SOURCE/src/util/trace.h" ] || die "$SOURCE is not a Bitcoin Core source tree (no src/util/trace.h)"
    source_id="dir:$SOURCE"
else
    source_id="$(sha256sum "$SOURCE" | cut -d' ' -f1)"
fi
stamp="$source_id $(cat "${PATCHES[@]}" | sha256sum | cut -d' ' -f1)"
if [ -f "$WORK/source.stamp" ] && [ "$(cat "$WORK/source.stamp")" = "$stamp" ] && [ -d "$SRC" ] &&
    [ ! -d "$SOURCE" ]; then
    step "source: $SRC is up to date ($(basename "$SOURCE"), ${#PATCHES[@]} patches)"
else
    step "source: $(basename "$SOURCE") into $SRC"
    rm -rf "$WORK/source" "$WORK/source.stamp"
    mkdir -p "$WORK/source"
    if [ -d "$SOURCE" ]; then
        mkdir -p "$SRC"
        tar -C "$SOURCE" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$SRC" -xf -
    else
        tar -C "$WORK/source" -xf "$SOURCE"
        [ -d "$SRC" ] || die "$SOURCE has no top folder 'bitcoin/'"
    fi
    # The series as commits, so `git log` in the tree shows what was applied.
    git_q() { git -C "$SRC" -c user.name=build-bitcoind -c user.email=build@localhost "$@"; }
    git_q init -q
    git_q add -A
    git_q commit -q -m "Bitcoin Core source: $(basename "$SOURCE")"
    step "applying ${#PATCHES[@]} patches"
    git_q am -q --committer-date-is-author-date "${PATCHES[@]}" ||
        die "the patch series does not apply to $(basename "$SOURCE"); it is made for Bitcoin Core 31.x"
    echo "$stamp" >"$WORK/source.stamp"
fi

# --- tracering: libraries and CMake package, ringdump and loadgen, into $WORK/tracering.
step "tracering: build and install into $WORK/tracering"
cmake -S "$ROOT" -B "$WORK/tracering-build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_INSTALL_PREFIX="$WORK/tracering" \
    -DTRACERING_BUILD_TESTS=OFF -DTRACERING_BUILD_BENCH=OFF -DTRACERING_BUILD_TOOLS=ON \
    -DTRACERING_INSTALL=ON >"$WORK/tracering-configure.log" 2>&1 ||
    die "configuring tracering failed; see $WORK/tracering-configure.log"
cmake --build "$WORK/tracering-build" --parallel "$JOBS"
cmake --install "$WORK/tracering-build" >"$WORK/tracering-install.log"

# --- Bitcoin Core: the patched bitcoind (and bitcoin-cli), or every target with --full.
# Bitcoin Core compiles through ccache when it is installed (its WITH_CCACHE). Everything its
# commands name (source, build folder, tracering's headers) lies under $WORK: hashed relative
# to it, and without the working directory, a build in another clone (CI clones afresh)
# reuses this one's results. cmake/TraceringCcache.cmake does the same for tracering and says
# what it costs.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$WORK}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
# This build's compiles alone, for the line ccache_summary prints (unless the caller keeps a
# log of its own).
if command -v ccache >/dev/null && [ -z "${CCACHE_STATSLOG:-}" ]; then
    export CCACHE_STATSLOG="$WORK/ccache-stats.log"
    : >"$CCACHE_STATSLOG"
fi
ccache_summary() {
    [ -n "${CCACHE_STATSLOG:-}" ] && [ -f "$CCACHE_STATSLOG" ] || return 0
    local compiles hits
    compiles=$(grep -c '^# ' "$CCACHE_STATSLOG" || true)
    hits=$(grep -Ec '^(direct|preprocessed)_cache_hit$' "$CCACHE_STATSLOG" || true)
    if [ "$compiles" = 0 ]; then
        step "ccache: nothing was compiled"
    else
        step "ccache: $hits of $compiles compiles came from the cache"
    fi
}
configure_bitcoin() {
    local dir="$1"
    shift
    # shellcheck disable=SC2086 # BITCOIN_CMAKE_ARGS is a list of arguments
    cmake -S "$SRC" -B "$dir" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_PREFIX_PATH="$WORK/tracering" \
        -DWITH_TRACERING=ON -DWITH_USDT=ON -DENABLE_WALLET=ON \
        -DWITH_ZMQ=OFF -DBUILD_GUI=OFF \
        "$@" ${BITCOIN_CMAKE_ARGS:-} >"$dir.configure.log" 2>&1 ||
        die "configuring Bitcoin Core failed; see $dir.configure.log"
    grep -Eq "tracering tracing \.+ ON" "$dir.configure.log" ||
        die "Bitcoin Core was configured without tracering; see $dir.configure.log"
}

if [ "$FULL" = 1 ]; then
    dir="$WORK/bitcoin-build-full"
    step "Bitcoin Core, every target: configure $dir"
    configure_bitcoin "$dir" -DENABLE_IPC=ON -DBUILD_TESTS=ON -DBUILD_BENCH=ON \
        -DBUILD_FUZZ_BINARY=ON -DBUILD_KERNEL_LIB=ON -DBUILD_SHARED_LIBS=ON -DBUILD_KERNEL_TEST=ON \
        -DBUILD_UTIL_CHAINSTATE=ON -DBUILD_WALLET_TOOL=ON
    step "Bitcoin Core, every target: build (-j$JOBS)"
    cmake --build "$dir" --parallel "$JOBS"
    ccache_summary
    step "done: every target of $dir built; run its tests with: ctest --test-dir $dir -j$JOBS"
    echo "$dir/bin/bitcoind"
    exit 0
fi

dir="$WORK/bitcoin-build"
step "Bitcoin Core: configure $dir"
configure_bitcoin "$dir" -DENABLE_IPC=OFF -DBUILD_TESTS=OFF -DBUILD_BENCH=OFF \
    -DBUILD_FUZZ_BINARY=OFF
step "Bitcoin Core: build bitcoind and bitcoin-cli (-j$JOBS)"
cmake --build "$dir" --parallel "$JOBS" --target bitcoind bitcoin-cli
ccache_summary
[ -x "$dir/bin/bitcoind" ] || die "no $dir/bin/bitcoind after the build"
step "done: tracering tools in $WORK/tracering/bin, Bitcoin Core's functional tests in $dir/test"
echo "$dir/bin/bitcoind"
