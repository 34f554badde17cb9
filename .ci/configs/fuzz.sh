#!/usr/bin/env bash
# Fuzz: the libFuzzer targets of fuzz/ built with clang (-fsanitize=fuzzer,address,undefined)
# in build-fuzz/. Each target first runs its committed corpus (fuzz/corpus/<target>/, which
# holds every crash found so far), then fuzzes from it for TRACERING_FUZZ_SECONDS (default
# 15; about 2 minutes for the six). A crash, sanitizer report, leak, timeout or running
# out of memory fails the stage; the input that did it is kept in build-fuzz/fuzz-artifacts/.
# fuzz/README.md says how to run a target for longer and how to add a corpus entry.
set -euo pipefail
CI_NAME=fuzz
# shellcheck source-path=SCRIPTDIR source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"

BUILD_DIR="${TRACERING_FUZZ_BUILD_DIR:-build-fuzz}"
FUZZ_SECONDS="${TRACERING_FUZZ_SECONDS:-15}"
TARGETS=(ring_reader event_view event_schema capture_file control_server p2p_messages)

ci_step "dependencies"
./scripts/install-deps.sh --fuzz

ci_step "configure $BUILD_DIR (clang)"
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTRACERING_FUZZ=ON \
    -DTRACERING_BUILD_TESTS=OFF \
    -DTRACERING_BUILD_BENCH=OFF \
    -DTRACERING_BUILD_TOOLS=ON \
    -DTRACERING_BUILD_PYTHON=OFF

ci_step "build the fuzz targets and the seed writer"
cmake --build "$BUILD_DIR" --parallel "$CI_JOBS" --target tracering_fuzzers tracering_fuzz_seeds

artifacts="$CI_ROOT/$BUILD_DIR/fuzz-artifacts"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"
for target in "${TARGETS[@]}"; do
    # Inputs up to a whole record (event_view) or a whole ring with every patch (ring_reader);
    # the others take the largest seed's size (libFuzzer's default).
    case "$target" in
        ring_reader) max_len=(-max_len=4392) ;;
        event_view) max_len=(-max_len=8194) ;;
        *) max_len=() ;;
    esac
    ci_step "$target: the corpus, then ${FUZZ_SECONDS}s of fuzzing"
    mkdir -p "$work/$target"
    log="$work/$target.log"
    # New inputs go to the scratch corpus (first directory); fuzz/corpus/ is only read.
    if "$BUILD_DIR/fuzz/fuzz_$target" "$work/$target" "fuzz/corpus/$target" \
        -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        ${max_len[@]+"${max_len[@]}"} -print_final_stats=1 \
        -artifact_prefix="$artifacts/$target-" >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
            "$log" || true
    else
        tail -n 80 "$log"
        echo "fuzz: $target failed; the input is in $artifacts/ (reproduce:" \
            "$BUILD_DIR/fuzz/fuzz_$target FILE)" >&2
        exit 1
    fi
done

ci_step "passed"
