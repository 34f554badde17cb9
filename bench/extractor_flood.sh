#!/usr/bin/env bash
# Ping flood through tracering-extractor: events/s from the rings to NATS, and what the
# extractor adds to the node's CPU per ping. See --help and bench/README.md.
# shellcheck disable=SC2016 # awk programs in single quotes are meant literally
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROG=extractor_flood
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<'EOF_USAGE'
usage: bench/extractor_flood.sh [options]

Floods a fresh tracering-testnode with pings from tracering-loadgen, as bench/ping_flood.sh
does, and measures the NODE's CPU time per ping (utime + stime from /proc/PID/stat, before
and after the load, divided by the number of pings) under two conditions:

  a  nobody attached (every tracepoint off)
  x  tracering-extractor attached to the net, mempool and validation rings (free-running,
     as in production), converting every event to peer-observer's protobuf event.Event and
     publishing it to a nats-server on a loopback port            (baseline: a)

For x it also gives the extractor's and nats-server's own CPU per ping, and the extractor's
rate: events published per second from the start of the load until the extractor had
published the last of them (it falls behind a flood faster than it converts, and the ring
then drops events, counted as lost, rather than slow the node). Events: 2 per ping (the
inbound ping, the outbound pong), plus each connection's handshake and open/close events.

Conditions are interleaved (each repetition starts one condition later) and repeated; the
table gives medians with their range. Before each measured load the node gets --warmup
unmeasured pings on another connection, with the extractor attached in x.

Options:
  --count N          pings per run (default 1000000)
  --rate R           pings per second (default: as fast as the socket takes them)
  --warmup N         unmeasured pings before each measured load (default 100000; 0: none)
  --repeats R        repetitions of every condition (default 3)
  --pin              node on CPU 0; load generator, extractor and nats-server on CPU 1
  --out FILE         also write the results as markdown to FILE
  --no-build         use the binaries already in build-bench/
  --help             this text

Builds tracering-testnode, tracering-loadgen and tracering-extractor (RelWithDebInfo, at most
2 jobs; JOBS=1 for one) into build-bench/ (tests off). Needs nats-server (Debian:
nats-server) and curl. Exit codes: 0 done, 1 bad usage or missing tool, 2 a run failed.
EOF_USAGE
}

COUNT=1000000
RATE=""
WARMUP=100000
REPEATS=3
PIN=0
OUT=""
BUILD=1
JOBS=${JOBS:-2}

while [ $# -gt 0 ]; do
    case $1 in
    --help | -h) usage; exit 0 ;;
    --count) need_value "$@"; positive_int "$1" "$2"; COUNT=$2; shift 2 ;;
    --rate) need_value "$@"; positive_int "$1" "$2"; RATE=$2; shift 2 ;;
    --warmup) need_value "$@"; [[ $2 =~ ^[0-9]+$ ]] || die_usage "--warmup: '$2' is not a number"
        WARMUP=$2; shift 2 ;;
    --repeats) need_value "$@"; positive_int "$1" "$2"; REPEATS=$2; shift 2 ;;
    --pin) PIN=1; shift ;;
    --out) need_value "$@"; OUT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) die_usage "unknown option '$1'" ;;
    esac
done
[[ $JOBS =~ ^[12]$ ]] || die_usage "JOBS must be 1 or 2 (got '$JOBS')"
CONDS=(a x)

find_nats_server
if [ "$PIN" = 1 ]; then
    command -v taskset >/dev/null 2>&1 || die "--pin needs taskset (util-linux)" 1
    [ "$(nproc)" -ge 2 ] || die "--pin needs at least 2 CPUs, this machine has $(nproc)" 1
fi

BUILD_DIR=$REPO/build-bench
TESTNODE=$BUILD_DIR/tools/testnode/tracering-testnode
LOADGEN=$BUILD_DIR/tools/loadgen/tracering-loadgen
EXTRACTOR=$BUILD_DIR/tools/extractor/tracering-extractor
if [ "$BUILD" = 1 ]; then
    build_targets "$BUILD_DIR" tracering-testnode tracering-loadgen tracering-extractor
fi
need_binaries "$TESTNODE" "$LOADGEN" "$EXTRACTOR"

WORK=$(mktemp -d /tmp/tracering-extractor-flood.XXXXXX)
TAG="xf$$"
PIDS=()
STATUS=0
CLK_TCK=$(getconf CLK_TCK)
trap cleanup EXIT
trap 'log "interrupted; stopping what was started"; exit 130' INT TERM

pinning

RESULTS=$WORK/results.tsv
: >"$RESULTS"
SERIAL=0

run_condition() {
    local cond=$1 rep=$2
    SERIAL=$((SERIAL + 1))
    local dir=$WORK/run$SERIAL-$cond
    mkdir -p "$dir"
    local sock=$dir/control.sock loadavg
    loadavg=$(cut -d' ' -f1 /proc/loadavg)

    start_node "$dir" "$TESTNODE" --listen 127.0.0.1:0 --control "$sock" --name "$TAG-$SERIAL"
    local node=$NODE port=$PORT
    local extractor="" nats="" url=""
    if [ "$cond" = x ]; then
        start_nats "$dir"
        nats=$NATS_PID
        start_extractor "$dir" "$EXTRACTOR" --control "$sock"
        extractor=$EXTRACTOR_PID
        url=$EXTRACTOR_URL
    fi
    local -a rate_flag=()
    [ -n "$RATE" ] && rate_flag=(--rate "$RATE")

    if [ "$WARMUP" -gt 0 ]; then
        run_tracked "${LOAD_CPU[@]}" "$LOADGEN" --connect "127.0.0.1:$port" --timeout 120 ping \
            --count "$WARMUP" "${rate_flag[@]}" >"$dir/warmup.out" 2>"$dir/warmup.err"
        [ "$STATUS" = 0 ] || die "run $SERIAL ($cond): the warm-up load failed: $(tail -n 3 "$dir/warmup.err")"
    fi

    local h0=0 h1=0 lost0=0 lost1=0 t0 t1 x0=0 x1=0 n0=0 n1=0
    if [ -n "$url" ]; then
        # The warm-up's events are handled before the measured load starts.
        extractor_settled "$url"
        h0=$HANDLED
        lost0=$(extractor_metric "$url" events_lost_total 'ring="net"')
        x0=$(cpu_ticks "$extractor")
        n0=$(cpu_ticks "$nats")
    fi
    local node0 node1
    node0=$(cpu_ticks "$node")
    t0=$(now)
    run_tracked "${LOAD_CPU[@]}" "$LOADGEN" --connect "127.0.0.1:$port" --timeout 120 ping \
        --count "$COUNT" "${rate_flag[@]}" >"$dir/loadgen.out" 2>"$dir/loadgen.err"
    local lg_status=$STATUS
    node1=$(cpu_ticks "$node")
    [ "$lg_status" = 0 ] || die "run $SERIAL ($cond): tracering-loadgen failed: $(tail -n 3 "$dir/loadgen.err")"
    t1=""
    if [ -n "$url" ]; then
        # Until the extractor has handled everything it read and reads nothing more.
        extractor_drained "$url"
        h1=$HANDLED
        t1=$LAST_CHANGE
        lost1=$(extractor_metric "$url" events_lost_total 'ring="net"')
        x1=$(cpu_ticks "$extractor")
        n1=$(cpu_ticks "$nats")
        stop "$extractor" TERM
        [ "$STATUS" = 0 ] || die "run $SERIAL (x): tracering-extractor exited with $STATUS: $(tail -n 3 "$dir/extractor.out")"
        stop "$nats" TERM
    fi
    stop_node "$dir" "run $SERIAL ($cond)"

    local seconds events=- lost=- xrate=-
    seconds=$(result_value seconds "$dir/loadgen.out")
    if [ "$cond" = x ]; then
        events=$((h1 - h0))
        lost=$((lost1 - lost0))
        xrate=$(awk -v e="$events" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", e / (b - a)}')
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cond" "$rep" "$COUNT" \
        "$((node1 - node0))" "$((x1 - x0))" "$((n1 - n0))" "$seconds" "$events" "$lost" \
        "$xrate" "$loadavg" >>"$RESULTS"
    awk -v t="$((node1 - node0))" -v hz="$CLK_TCK" -v n="$COUNT" -v s="$seconds" -v c="$cond" \
        -v r="$rep" -v e="$events" -v l="$lost" -v x="$xrate" -v la="$loadavg" \
        'BEGIN {printf "extractor_flood: run %s%s: %d pings, node %.0f ns/ping, %.2f s, events %s lost %s, %s events/s to NATS, load %s\n",
                c, r, n, t * 1e9 / hz / n, s, e, l, x, la}' >&2
    rm -f "$dir"/*.sock
}

run_interleaved

# column COND EXPR: EXPR over the runs of COND, one value a line. Fields: $3 pings, $4 node
# ticks, $5 extractor ticks, $6 nats-server ticks, $7 seconds, $8 events handled, $9 lost,
# $10 events/s to NATS.
column() {
    awk -F'\t' -v c="$1" -v hz="$CLK_TCK" "\$1 == c {print $2}" "$RESULTS"
}

NS_A=$(column a '$4 * 1e9 / hz / $3' | median)
NS_X=$(column x '$4 * 1e9 / hz / $3' | median)
REPORT=$WORK/report.md
{
    echo "## Ping flood through tracering-extractor"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' (with local changes)'),"
    echo "$(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -r),"
    echo "kernel clock $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown), $("$NATS_SERVER" --version 2>/dev/null);"
    echo "load average $LOAD_BEFORE before, $LOAD_AFTER after. $COUNT pings per run$([ -n "$RATE" ] && echo " at $RATE/s")"
    echo "after $WARMUP unmeasured; medians of $REPEATS interleaved runs per condition; pinning: $([ "$PIN" = 1 ] && echo 'node CPU 0, others CPU 1' || echo none)."
    echo
    echo "| condition | node ns/ping | (range) | added ns/ping | % of a | extractor CPU ns/ping | nats-server CPU ns/ping | events to NATS per s | (range) | events handled | lost |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '| a. nobody attached | %.0f | %s | | | | | | | | |\n' "$NS_A" "$(column a '$4 * 1e9 / hz / $3' | range)"
    printf '| x. tracering-extractor publishing to NATS | %.0f | %s | %+.0f | %+.1f %% | %.0f | %.0f | %.0f | %s | %s | %s |\n' \
        "$NS_X" "$(column x '$4 * 1e9 / hz / $3' | range)" \
        "$(awk -v x="$NS_X" -v a="$NS_A" 'BEGIN {print x - a}')" \
        "$(awk -v x="$NS_X" -v a="$NS_A" 'BEGIN {print (x - a) * 100 / a}')" \
        "$(column x '$5 * 1e9 / hz / $3' | median)" "$(column x '$6 * 1e9 / hz / $3' | median)" \
        "$(column x '$10' | median)" "$(column x '$10' | range)" \
        "$(sum_column x '$8')" "$(sum_column x '$9')"
    echo
    echo "Every run:"
    echo
    echo "| run | condition | pings | node ns/ping | extractor CPU s | nats-server CPU s | wall s | events handled | lost | events/s to NATS | load avg (1 min) |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' -v hz="$CLK_TCK" '{printf "| %d | %s | %d | %.0f | %.2f | %.2f | %s | %s | %s | %s | %s |\n",
        NR, $1, $3, $4 * 1e9 / hz / $3, $5 / hz, $6 / hz, $7, $8, $9, $10, $11}' "$RESULTS"
} >"$REPORT"

echo
cat "$REPORT"
if [ -n "$OUT" ]; then
    cp "$REPORT" "$OUT" || die "cannot write $OUT" 1
    log "wrote $OUT"
fi
