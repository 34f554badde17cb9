#!/usr/bin/env bash
# IBD-like run: the node's CPU time per block, with and without a consumer, and the events
# expected vs delivered vs lost. See --help and bench/README.md.
# shellcheck disable=SC2016 # awk programs in single quotes are meant literally
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROG=ibd_blocks
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<'EOF'
usage: bench/ibd_blocks.sh [options]

Sends blocks to a fresh tracering-testnode with tracering-loadgen, as a node in initial
block download receives them, and measures the NODE's CPU time per block (on-CPU time of
all its threads from /proc/PID/task/*/schedstat, in ns, before and after the load), its wall
time and block rate, under four conditions:

  real-off    the mainnet block 413567 (999,887 bytes, 1557 transactions), N times,
              nobody attached
  real-on     the same, tracering-count-consumer attached to the net and validation rings
              (free-running: a full ring drops and counts), reading every event
  synth-off   synthetic well-formed blocks of --size bytes, M times, nobody attached
  synth-on    the same with the consumer

Each block fires net:inbound_message (with the whole block as payload) and
validation:block_connected: 2 events expected per block; the handshake and the final
barrier ping add net events, which count in the ring totals but not in "expected".
Conditions are interleaved (each repetition starts one condition later) and repeated; the
table gives medians, and event counts summed over all runs.

Before each measured load the node gets --warmup blocks of the same kind, unmeasured, on
another connection, with the consumer already attached in the -on conditions: the first
pass over a fresh ring page-faults on every page of it (a one-time cost of a new segment,
about 8192 faults for the 32 MiB net ring), which a long-running node does not pay per
block. Keep --warmup above the net ring's size in MB; --warmup 0 measures from a cold start.

Options:
  --count N          real blocks per run (default 300)
  --synth-count M    synthetic blocks per run (default 300; 0 leaves synth-* out)
  --size BYTES       synthetic block size (default 1000000)
  --block-file FILE  the real block (default tests/fixtures/block413567.raw)
  --warmup W         unmeasured blocks before each measured load (default 50; 0: none)
  --repeats R        repetitions of every condition (default 9; a run takes about a second)
  --lossless         attach the consumer losslessly (default: free-running, as specified)
  --net-ring-mib N   the node's net ring size in MiB (default: the node's, 32)
  --pin              node on CPU 0, load generator and consumer on CPU 1 (default: no pinning)
  --out FILE         also write the results as markdown to FILE
  --no-build         use the binaries already in build-bench/
  --help             this text

Builds (RelWithDebInfo, at most 2 jobs; JOBS=1 for one) into build-bench/ (tests off).
Exit codes: 0 done, 1 bad usage or missing file, 2 a run failed, 3 an event was lost
without being counted (the consumer's check).
EOF
}

# ---------------------------------------------------------------------------------------------
# Options

COUNT=300
SYNTH_COUNT=300
SIZE=1000000
BLOCK_FILE=$REPO/tests/fixtures/block413567.raw
REPEATS=9
WARMUP=50
LOSSLESS=0
NET_RING_MIB=""
PIN=0
OUT=""
BUILD=1
JOBS=${JOBS:-2}

natural() {
    [[ $2 =~ ^[0-9]+$ ]] || die_usage "$1: '$2' is not a number"
}

while [ $# -gt 0 ]; do
    case $1 in
    --help | -h) usage; exit 0 ;;
    --count) need_value "$@"; natural "$1" "$2"; COUNT=$2; shift 2 ;;
    --synth-count) need_value "$@"; natural "$1" "$2"; SYNTH_COUNT=$2; shift 2 ;;
    --size) need_value "$@"; natural "$1" "$2"; SIZE=$2; shift 2 ;;
    --block-file) need_value "$@"; BLOCK_FILE=$2; shift 2 ;;
    --repeats) need_value "$@"; natural "$1" "$2"; REPEATS=$2; shift 2 ;;
    --warmup) need_value "$@"; natural "$1" "$2"; WARMUP=$2; shift 2 ;;
    --lossless) LOSSLESS=1; shift ;;
    --net-ring-mib) need_value "$@"; natural "$1" "$2"; NET_RING_MIB=$2; shift 2 ;;
    --pin) PIN=1; shift ;;
    --out) need_value "$@"; OUT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) die_usage "unknown option '$1'" ;;
    esac
done

[[ $JOBS =~ ^[12]$ ]] || die_usage "JOBS must be 1 or 2 (got '$JOBS')"
[ "$REPEATS" -ge 1 ] || die_usage "--repeats must be at least 1"
[ "$COUNT" -ge 1 ] || [ "$SYNTH_COUNT" -ge 1 ] || die_usage "--count and --synth-count are both 0"

CONDS=()
if [ "$COUNT" -ge 1 ]; then
    [ -r "$BLOCK_FILE" ] || die "cannot read the block file $BLOCK_FILE (give --block-file FILE, or --count 0)" 1
    BLOCK_FILE=$(cd "$(dirname "$BLOCK_FILE")" && pwd)/$(basename "$BLOCK_FILE")
    CONDS+=(real-off real-on)
fi
[ "$SYNTH_COUNT" -ge 1 ] && CONDS+=(synth-off synth-on)
if [ "$PIN" = 1 ]; then
    command -v taskset >/dev/null 2>&1 || die "--pin needs taskset (util-linux)" 1
    [ "$(nproc)" -ge 2 ] || die "--pin needs at least 2 CPUs, this machine has $(nproc)" 1
fi

# ---------------------------------------------------------------------------------------------
# Build

BUILD_DIR=$REPO/build-bench
TESTNODE=$BUILD_DIR/tools/testnode/tracering-testnode
LOADGEN=$BUILD_DIR/tools/loadgen/tracering-loadgen
CONSUMER=$BUILD_DIR/bench/tracering-count-consumer

if [ "$BUILD" = 1 ]; then
    build_targets "$BUILD_DIR" tracering-testnode tracering-loadgen tracering-count-consumer -- \
        -DTRACERING_BUILD_BENCH=ON
fi
need_binaries "$TESTNODE" "$LOADGEN" "$CONSUMER"

# ---------------------------------------------------------------------------------------------
# Processes: everything started is tracked, and killed and removed at exit.

WORK=$(mktemp -d /tmp/tracering-ibd-blocks.XXXXXX)
TAG="ibd$$"
PIDS=()

trap cleanup EXIT
trap 'log "interrupted; stopping what was started"; exit 130' INT TERM

# stop PID SIGNAL: signals, waits up to 30 s, then kills; sets STATUS to its exit status.
STATUS=0

# On-CPU time of all threads of a process, in ns (first field of each task's schedstat).
# Finer than utime + stime (clock ticks of 10 ms): a run of 300 blocks takes about a second.
cpu_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
}

pinning

# ---------------------------------------------------------------------------------------------
# One run

RESULTS=$WORK/results.tsv
: >"$RESULTS"
SERIAL=0

run_condition() {
    local cond=$1 rep=$2
    SERIAL=$((SERIAL + 1))
    local dir=$WORK/run$SERIAL-$cond
    mkdir -p "$dir"
    local name="$TAG-$SERIAL" sock=$dir/control.sock
    local count=$COUNT
    local -a blocks=(--file "$BLOCK_FILE")
    if [[ $cond == synth-* ]]; then
        count=$SYNTH_COUNT
        blocks=(--size "$SIZE")
    fi
    local loadavg
    loadavg=$(cut -d' ' -f1 /proc/loadavg)

    local -a node_flags=(--listen 127.0.0.1:0 --control "$sock" --name "$name")
    [ -n "$NET_RING_MIB" ] && node_flags+=(--net-ring-mib "$NET_RING_MIB")
    start_node "$dir" "$TESTNODE" "${node_flags[@]}"
    local node=$NODE port=$PORT

    local consumer=""
    if [[ $cond == *-on ]]; then
        local -a flags=(--control "$sock" --ring net --ring validation)
        [ "$LOSSLESS" = 1 ] && flags+=(--lossless --wait-ms 1000)
        start_consumer "$dir/consumer.out" "$dir/consumer.err" "${flags[@]}"
        consumer=$CONSUMER_PID
    fi

    if [ "$WARMUP" -gt 0 ]; then
        run_tracked "${LOAD_CPU[@]}" "$LOADGEN" --connect "127.0.0.1:$port" --timeout 120 blocks \
            --count "$WARMUP" "${blocks[@]}" >"$dir/warmup.out" 2>"$dir/warmup.err"
        [ "$STATUS" = 0 ] ||
            die "run $SERIAL ($cond): the warm-up load failed: $(tail -n 3 "$dir/warmup.err")"
    fi

    local node0 node1 cons0=0 cons1=0
    node0=$(cpu_ns "$node")
    [ -n "$consumer" ] && cons0=$(cpu_ns "$consumer")
    run_tracked "${LOAD_CPU[@]}" "$LOADGEN" --connect "127.0.0.1:$port" --timeout 120 blocks \
        --count "$count" "${blocks[@]}" >"$dir/loadgen.out" 2>"$dir/loadgen.err"
    local lg_status=$STATUS
    node1=$(cpu_ns "$node")
    [ -n "$consumer" ] && cons1=$(cpu_ns "$consumer")
    [ "$lg_status" = 0 ] ||
        die "run $SERIAL ($cond): tracering-loadgen failed ($lg_status): $(tail -n 3 "$dir/loadgen.err")"

    local expected=- delivered=- lost=- dropped=- net_attempted=- net_delivered=- net_lost=-
    if [ -n "$consumer" ]; then
        stop "$consumer" INT
        [ "$STATUS" = 0 ] || die "run $SERIAL ($cond): tracering-count-consumer exited with $STATUS: $(tail -n 3 "$dir/consumer.err")" 3
        local out=$dir/consumer.out
        local blocks_in connected lost_net lost_val key
        blocks_in=$(result_value inbound_block "$out" ring=net)
        connected=$(result_value block_connected "$out" ring=validation)
        lost_net=$(result_value lost "$out" ring=net)
        lost_val=$(result_value lost "$out" ring=validation)
        expected=$((2 * (count + WARMUP)))
        delivered=$((blocks_in + connected))
        lost=$((lost_net + lost_val))
        dropped=0
        for key in dropped_full dropped_too_big dropped_reader_reset dropped_timeout; do
            dropped=$((dropped + $(result_value "$key" "$out" ring=net) + $(result_value "$key" "$out" ring=validation)))
        done
        net_attempted=$(result_value attempted "$out" ring=net)
        net_delivered=$(result_value delivered "$out" ring=net)
        net_lost=$lost_net
    fi

    stop_node "$dir" "run $SERIAL ($cond)"

    local seconds bytes
    seconds=$(result_value seconds "$dir/loadgen.out")
    bytes=$(result_value bytes "$dir/loadgen.out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cond" "$rep" "$count" \
        "$((node1 - node0))" "$((cons1 - cons0))" "$seconds" "$bytes" "$expected" "$delivered" \
        "$lost" "$dropped" "$net_attempted" "$net_delivered" "$net_lost" "$loadavg" >>"$RESULTS"
    awk -v t="$((node1 - node0))" -v n="$count" -v s="$seconds" -v c="$cond" -v r="$rep" \
        -v e="$expected" -v d="$delivered" -v l="$lost" -v la="$loadavg" \
        'BEGIN {printf "ibd_blocks: run %s/%s: %d blocks, node %.0f us/block, %.2f s, events %s/%s lost %s, load %s\n",
                c, r, n, t / 1e3 / n, s, d, e, l, la}' >&2
    rm -f "$dir"/*.sock
}

# ---------------------------------------------------------------------------------------------
# The runs.

run_interleaved

# ---------------------------------------------------------------------------------------------
# Report

# column COND EXPR: EXPR over the runs of COND, one value a line. Fields: $3 blocks, $4 node
# ns, $5 consumer ns, $6 seconds, $7 bytes, $8 expected, $9 delivered, $10 lost, $11 dropped,
# $12-$14 net ring attempted, delivered, lost.
column() {
    awk -F'\t' -v c="$1" "\$1 == c {print $2}" "$RESULTS"
}

declare -A US
for c in "${CONDS[@]}"; do
    US[$c]=$(column "$c" '$4 / 1e3 / $3' | median)
done

label() {
    case $1 in
    real-off) echo "block 413567, nobody attached" ;;
    real-on) echo "block 413567, consumer on net + validation" ;;
    synth-off) echo "synthetic $SIZE B, nobody attached" ;;
    synth-on) echo "synthetic $SIZE B, consumer on net + validation" ;;
    esac
}

table() {
    echo "| condition | blocks/run | node µs/block | (min-max) | added µs/block | % of baseline | consumer CPU µs/block | wall s | blocks/s | MB/s | events expected | delivered | lost | dropped (counted) | net ring: attempted / delivered / lost |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    local c base added pct range cons
    for c in "${CONDS[@]}"; do
        added="-"
        pct="-"
        cons="-"
        if [[ $c == *-on ]]; then
            base=${c%-on}-off
            added=$(awk -v x="${US[$c]}" -v b="${US[$base]}" 'BEGIN {printf "%+.1f", x - b}')
            pct=$(awk -v x="${US[$c]}" -v b="${US[$base]}" 'BEGIN {printf "%+.1f %%", (x - b) * 100 / b}')
            cons=$(column "$c" '$5 / 1e3 / $3' | median | awk '{printf "%.1f", $1}')
        fi
        range=$(column "$c" '$4 / 1e3 / $3' | range)
        printf '| %s | %s | %.1f | %s | %s | %s | %s | %.2f | %.1f | %.0f | %s | %s | %s | %s | %s / %s / %s |\n' \
            "$(label "$c")" "$(column "$c" '$3' | median)" "${US[$c]}" "$range" "$added" "$pct" \
            "$cons" "$(column "$c" '$6' | median)" "$(column "$c" '$3 / $6' | median)" \
            "$(column "$c" '$7 / $6 / 1e6' | median)" \
            "$(sum_column "$c" '$8')" "$(sum_column "$c" '$9')" "$(sum_column "$c" '$10')" \
            "$(sum_column "$c" '$11')" "$(sum_column "$c" '$12')" "$(sum_column "$c" '$13')" \
            "$(sum_column "$c" '$14')"
    done
}

raw_runs() {
    echo "| run | condition | blocks | node CPU s | node µs/block | consumer CPU s | wall s | expected | delivered | lost | dropped | load avg (1 min) |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '{printf "| %d | %s | %d | %.3f | %.0f | %.3f | %s | %s | %s | %s | %s | %s |\n",
        NR, $1, $3, $4 / 1e9, $4 / 1e3 / $3, $5 / 1e9, $6, $8, $9, $10, $11, $15}' "$RESULTS"
}

REPORT=$WORK/report.md
{
    echo "## IBD-like blocks: node CPU per block"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' (with local changes)'),"
    echo "$(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -r);"
    echo "load average $LOAD_BEFORE before, $LOAD_AFTER after."
    echo "Medians of $REPEATS interleaved runs per condition; pinning: $([ "$PIN" = 1 ] && echo 'node CPU 0, others CPU 1' || echo none);"
    echo "consumer $([ "$LOSSLESS" = 1 ] && echo lossless || echo 'free-running (lossless off)'), net ring ${NET_RING_MIB:-32} MiB;"
    echo "warm-up: $WARMUP unmeasured blocks of the same kind before each measured load (consumer attached)."
    echo "Node CPU = on-CPU ns of all tracering-testnode threads over the load (schedstat); consumer CPU"
    echo "likewise for tracering-count-consumer. Events: expected = 2 per block (net:inbound_message"
    echo "carrying the block, validation:block_connected); delivered = those the consumer read; lost ="
    echo "attempted - delivered on both rings; dropped = the producer's drop counters (must equal lost);"
    echo "totals over all runs, warm-up blocks included."
    echo
    table
    echo
    echo "Every run:"
    echo
    raw_runs
} >"$REPORT"

echo
cat "$REPORT"
if [ -n "$OUT" ]; then
    cp "$REPORT" "$OUT" || die "cannot write $OUT" 1
    log "wrote $OUT"
fi
