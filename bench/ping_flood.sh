#!/usr/bin/env bash
# Ping flood: the node's CPU time per ping with tracering and with eBPF/USDT, in one run.
# See --help and bench/README.md.
# shellcheck disable=SC2016 # awk programs in single quotes are meant literally
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROG=ping_flood
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<'EOF'
usage: bench/ping_flood.sh [options]

Floods a fresh tracering-testnode with pings from tracering-loadgen and measures the NODE's
CPU time per ping (utime + stime from /proc/PID/stat, before and after the load, divided by
the number of pings), its wall time and ping rate, under five conditions:

  a  tracering build, nobody attached (every tracepoint off)
  b  tracering build, tracering-count-consumer attached to the net ring through the control
     socket, reading and counting every event               (baseline: a)
  c  USDT build (-DTRACERING_TESTNODE_USDT=ON), nobody attached
  d  USDT build, bpftrace counting net:inbound_message       (baseline: c)
  e  USDT build, bpftrace printf of peer id, msg type and size for net:inbound_message,
     to a file; bpftrace's "Lost N events" lines are the loss (baseline: c)

Conditions are interleaved (each repetition starts one condition later) and repeated; the
table gives medians. Events: tracering fires 2 per ping (inbound ping, outbound pong), the
bpftrace probe 1 (inbound_message; d also counts the handshake's version and verack).

Before each measured load the node gets a warm-up load of --warmup pings, unmeasured, on
another connection: in b with the consumer already attached, so the ring has been written
through once (the first pass over a fresh ring page-faults on every page of it, a one-time
cost of a new segment, not a per-ping one); in d and e before bpftrace attaches. --warmup 0
measures from a cold start.

Options:
  --count N           pings per run for a-d (default 4000000)
  --printf-count N    pings per run for e, which is ~50x slower per ping (default 1000000)
  --warmup N          unmeasured pings before each measured load (default 500000; 0: none)
  --repeats R         repetitions of every condition (default 3)
  --conditions LIST   comma-separated subset of a,b,c,d,e (default all)
  --lossless          attach the consumer in b losslessly (default: free-running)
  --consumer-interval-us US
                      the consumer in b sleeps US microseconds after every round of polls
                      instead of using tracering::Backoff (default 0: Backoff)
  --pin               node on CPU 0, load generator and consumer/bpftrace on CPU 1
                      (default: no pinning, as a node runs)
  --out FILE          also write the results as markdown to FILE
  --no-build          use the binaries already in build-bench/ and build-bench-usdt/
  --help              this text

Builds (RelWithDebInfo, at most 2 jobs; JOBS=1 for one) into build-bench/ (tests off) and
build-bench-usdt/ (-DTRACERING_TESTNODE_USDT=ON). Conditions d and e need root and bpftrace
(sudo scripts/install-deps.sh --bench). Exit codes: 0 done, 1 bad usage or missing tool,
2 a run failed (node, load generator, consumer or bpftrace), 3 events were lost without
being counted.
EOF
}

# ---------------------------------------------------------------------------------------------
# Options

COUNT=4000000
PRINTF_COUNT=1000000
WARMUP=500000
REPEATS=3
CONDITIONS=a,b,c,d,e
LOSSLESS=0
CONSUMER_INTERVAL_US=0
PIN=0
OUT=""
BUILD=1
JOBS=${JOBS:-2}


while [ $# -gt 0 ]; do
    case $1 in
    --help | -h) usage; exit 0 ;;
    --count) need_value "$@"; positive_int "$1" "$2"; COUNT=$2; shift 2 ;;
    --printf-count) need_value "$@"; positive_int "$1" "$2"; PRINTF_COUNT=$2; shift 2 ;;
    --repeats) need_value "$@"; positive_int "$1" "$2"; REPEATS=$2; shift 2 ;;
    --warmup) need_value "$@"; [[ $2 =~ ^[0-9]+$ ]] || die_usage "--warmup: '$2' is not a number"
        WARMUP=$2; shift 2 ;;
    --conditions) need_value "$@"; CONDITIONS=$2; shift 2 ;;
    --lossless) LOSSLESS=1; shift ;;
    --consumer-interval-us) need_value "$@"
        [[ $2 =~ ^[0-9]+$ ]] || die_usage "$1: '$2' is not a number"
        CONSUMER_INTERVAL_US=$2; shift 2 ;;
    --pin) PIN=1; shift ;;
    --out) need_value "$@"; OUT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) die_usage "unknown option '$1'" ;;
    esac
done

[[ $JOBS =~ ^[12]$ ]] || die_usage "JOBS must be 1 or 2 (got '$JOBS')"
IFS=, read -r -a CONDS <<<"$CONDITIONS"
[ ${#CONDS[@]} -gt 0 ] || die_usage "--conditions: empty list"
NEED_BPFTRACE=0
NEED_PLAIN=0
NEED_USDT=0
for c in "${CONDS[@]}"; do
    case $c in
    a | b) NEED_PLAIN=1 ;;
    c) NEED_USDT=1 ;;
    d | e) NEED_USDT=1; NEED_BPFTRACE=1 ;;
    *) die_usage "--conditions: unknown condition '$c' (a, b, c, d or e)" ;;
    esac
done

if [ "$NEED_BPFTRACE" = 1 ]; then
    command -v bpftrace >/dev/null 2>&1 ||
        die "bpftrace not found: run 'sudo scripts/install-deps.sh --bench', or leave out conditions d and e (--conditions a,b,c)" 1
    [ "$(id -u)" -eq 0 ] ||
        die "conditions d and e attach eBPF programs and need root; run as root or use --conditions a,b,c" 1
    # Without this bpftrace complains that it cannot raise RLIMIT_MEMLOCK (harmless on kernels
    # that account BPF memory to cgroups, but noisy).
    ulimit -l unlimited 2>/dev/null || true
fi
if [ "$PIN" = 1 ]; then
    command -v taskset >/dev/null 2>&1 || die "--pin needs taskset (util-linux)" 1
    [ "$(nproc)" -ge 2 ] || die "--pin needs at least 2 CPUs, this machine has $(nproc)" 1
fi

# ---------------------------------------------------------------------------------------------
# Build

BUILD_PLAIN=$REPO/build-bench
BUILD_USDT=$REPO/build-bench-usdt
TESTNODE=$BUILD_PLAIN/tools/testnode/tracering-testnode
LOADGEN=$BUILD_PLAIN/tools/loadgen/tracering-loadgen
CONSUMER=$BUILD_PLAIN/bench/tracering-count-consumer
TESTNODE_USDT=$BUILD_USDT/tools/testnode/tracering-testnode

if [ "$BUILD" = 1 ]; then
    build_targets "$BUILD_PLAIN" tracering-testnode tracering-loadgen tracering-count-consumer -- \
        -DTRACERING_BUILD_BENCH=ON
    if [ "$NEED_USDT" = 1 ]; then
        build_targets "$BUILD_USDT" tracering-testnode -- -DTRACERING_BUILD_BENCH=OFF \
            -DTRACERING_TESTNODE_USDT=ON
    fi
fi
NEEDED=("$LOADGEN")
[ "$NEED_PLAIN" = 1 ] && NEEDED+=("$TESTNODE")
[ "$NEED_USDT" = 1 ] && NEEDED+=("$TESTNODE_USDT")
[[ ,$CONDITIONS, == *,b,* ]] && NEEDED+=("$CONSUMER")
need_binaries "${NEEDED[@]}"

# ---------------------------------------------------------------------------------------------
# Processes: everything started is tracked, and killed and removed at exit.

WORK=$(mktemp -d /tmp/tracering-ping-flood.XXXXXX)
TAG="pf$$"
PIDS=()
CLK_TCK=$(getconf CLK_TCK)

trap cleanup EXIT
trap 'log "interrupted; stopping what was started"; exit 130' INT TERM

# stop PID SIGNAL: signals, waits up to 30 s, then kills; sets STATUS to its exit status.
STATUS=0

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
    local node_bin=$TESTNODE count=$COUNT
    case $cond in c | d | e) node_bin=$TESTNODE_USDT ;; esac
    [ "$cond" = e ] && count=$PRINTF_COUNT
    local loadavg
    loadavg=$(cut -d' ' -f1 /proc/loadavg)

    start_node "$dir" "$node_bin" --listen 127.0.0.1:0 --control "$sock" --name "$name"
    local node=$NODE port=$PORT

    local tracer=""
    case $cond in
    b)
        local -a flags=(--control "$sock" --ring net)
        [ "$LOSSLESS" = 1 ] && flags+=(--lossless --wait-ms 1000)
        [ "$CONSUMER_INTERVAL_US" -gt 0 ] && flags+=(--interval-us "$CONSUMER_INTERVAL_US")
        start_consumer "$dir/tracer.out" "$dir/tracer.err" "${flags[@]}"
        tracer=$CONSUMER_PID
        ;;
    esac

    if [ "$WARMUP" -gt 0 ]; then
        run_tracked "${LOAD_CPU[@]}" "$LOADGEN" --connect "127.0.0.1:$port" --timeout 120 ping \
            --count "$WARMUP" >"$dir/warmup.out" 2>"$dir/warmup.err"
        [ "$STATUS" = 0 ] ||
            die "run $SERIAL ($cond): the warm-up load failed: $(tail -n 3 "$dir/warmup.err")"
    fi

    case $cond in
    d | e)
        local program
        if [ "$cond" = d ]; then
            program="usdt:$node_bin:net:inbound_message { @c = count(); }"
        else
            program="usdt:$node_bin:net:inbound_message { printf(\"%d %s %d\\n\", arg0, str(arg3), arg4); }"
        fi
        "${AUX_CPU[@]}" bpftrace -p "$node" -e "$program" >"$dir/tracer.out" 2>"$dir/tracer.err" &
        tracer=$!
        PIDS+=("$tracer")
        wait_for "$dir/tracer.out" '^Attaching' "$tracer" "bpftrace"
        # The uprobe and the semaphore are in place once "Attaching" is printed; the settle
        # keeps bpftrace's own start-up work out of the measured window.
        sleep 1
        ;;
    esac

    local node0 node1 tracer0=0 tracer1=0
    node0=$(cpu_ticks "$node")
    [ -n "$tracer" ] && tracer0=$(cpu_ticks "$tracer")
    run_tracked "${LOAD_CPU[@]}" "$LOADGEN" --connect "127.0.0.1:$port" --timeout 120 ping \
        --count "$count" >"$dir/loadgen.out" 2>"$dir/loadgen.err"
    local lg_status=$STATUS
    node1=$(cpu_ticks "$node")
    [ -n "$tracer" ] && tracer1=$(cpu_ticks "$tracer")
    [ "$lg_status" = 0 ] ||
        die "run $SERIAL ($cond): tracering-loadgen failed ($lg_status): $(tail -n 3 "$dir/loadgen.err")"

    local expected=- delivered=- lost=-
    case $cond in
    b)
        stop "$tracer" INT
        [ "$STATUS" = 0 ] || die "run $SERIAL (b): tracering-count-consumer exited with $STATUS: $(tail -n 3 "$dir/tracer.err")" 3
        local ping pong
        ping=$(result_value inbound_ping "$dir/tracer.out" ring=net)
        pong=$(result_value outbound_pong "$dir/tracer.out" ring=net)
        lost=$(result_value lost "$dir/tracer.out" ring=net)
        expected=$((2 * (count + WARMUP)))
        delivered=$((ping + pong))
        ;;
    d)
        stop "$tracer" INT
        delivered=$(awk '/^@c:/ {print $2}' "$dir/tracer.out")
        [ -n "$delivered" ] || die "run $SERIAL (d): bpftrace printed no count: $(tail -n 3 "$dir/tracer.err")"
        # The handshake's version and verack are inbound messages too.
        expected=$((count + 2))
        lost=$((expected - delivered))
        ;;
    e)
        # bpftrace prints what its perf buffer still holds; wait until the file stops growing.
        local size=-1 now stable=0
        for _ in $(seq 300); do
            now=$(stat -c %s "$dir/tracer.out")
            if [ "$now" = "$size" ]; then
                stable=$((stable + 1))
                [ $stable -ge 3 ] && break
            else
                stable=0
            fi
            size=$now
            sleep 0.2
        done
        stop "$tracer" INT
        delivered=$(grep -c ' ping 8$' "$dir/tracer.out" || true)
        lost=$(cat "$dir/tracer.out" "$dir/tracer.err" |
            awk '/^Lost [0-9]+ events/ {n += $2} END {print n + 0}')
        expected=$count
        rm -f "$dir/tracer.out"
        ;;
    esac

    stop_node "$dir" "run $SERIAL ($cond)"

    local seconds rate
    seconds=$(result_value seconds "$dir/loadgen.out")
    rate=$(result_value rate "$dir/loadgen.out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cond" "$rep" "$count" \
        "$((node1 - node0))" "$((tracer1 - tracer0))" "$seconds" "$rate" \
        "$expected" "$delivered" "$lost" "$loadavg" >>"$RESULTS"
    awk -v t="$((node1 - node0))" -v hz="$CLK_TCK" -v n="$count" -v s="$seconds" \
        -v c="$cond" -v r="$rep" -v e="$expected" -v d="$delivered" -v l="$lost" -v la="$loadavg" \
        'BEGIN {printf "ping_flood: run %s%s: %d pings, node %.0f ns/ping, %.2f s, events %s/%s lost %s, load %s\n",
                c, r, n, t * 1e9 / hz / n, s, d, e, l, la}' >&2
    rm -f "$dir"/*.sock
}

# ---------------------------------------------------------------------------------------------
# The runs.

run_interleaved

# ---------------------------------------------------------------------------------------------
# Report

# column COND EXPR: EXPR over the runs of COND, one value a line. Fields: $3 pings, $4 node
# ticks, $5 tracer ticks, $6 seconds, $7 rate, $8 expected, $9 delivered, $10 lost.
column() {
    awk -F'\t' -v c="$1" -v hz="$CLK_TCK" "\$1 == c {print $2}" "$RESULTS"
}

declare -A NS
for c in "${CONDS[@]}"; do
    NS[$c]=$(column "$c" '$4 * 1e9 / hz / $3' | median)
done

label() {
    case $1 in
    a) echo "a. tracering build, nobody attached" ;;
    b) echo "b. tracering + consumer on net$([ "$LOSSLESS" = 1 ] && echo ', lossless')$([ "$CONSUMER_INTERVAL_US" -gt 0 ] && echo ", polls every $CONSUMER_INTERVAL_US us")" ;;
    c) echo "c. USDT build, nobody attached" ;;
    d) echo "d. USDT + bpftrace counting inbound_message" ;;
    e) echo "e. USDT + bpftrace printf inbound_message" ;;
    esac
}
baseline_of() {
    case $1 in b) echo a ;; d | e) echo c ;; *) echo "" ;; esac
}

table() {
    echo "| condition | pings/run | node ns/ping | (min-max) | added ns/ping | % of baseline | tracer CPU ns/ping | wall s | pings/s | events expected | delivered | lost |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    local c base added pct range
    for c in a b c d e; do
        [[ ,$CONDITIONS, == *,$c,* ]] || continue
        base=$(baseline_of "$c")
        added="-"
        pct="-"
        if [ -n "$base" ] && [[ ,$CONDITIONS, == *,$base,* ]]; then
            added=$(awk -v x="${NS[$c]}" -v b="${NS[$base]}" 'BEGIN {printf "%+.0f", x - b}')
            pct=$(awk -v x="${NS[$c]}" -v b="${NS[$base]}" 'BEGIN {printf "%+.1f %%", (x - b) * 100 / b}')
        fi
        range=$(column "$c" '$4 * 1e9 / hz / $3' | range)
        printf '| %s | %s | %.0f | %s | %s | %s | %s | %.2f | %.0f | %s | %s | %s |\n' \
            "$(label "$c")" "$(column "$c" '$3' | median)" "${NS[$c]}" "$range" "$added" "$pct" \
            "$(case $c in a | c) echo - ;; *) column "$c" '$5 * 1e9 / hz / $3' | median | awk '{printf "%.0f", $1}' ;; esac)" \
            "$(column "$c" '$6' | median)" "$(column "$c" '$7' | median)" \
            "$(sum_column "$c" '$8')" "$(sum_column "$c" '$9')" "$(sum_column "$c" '$10')"
    done
}

raw_runs() {
    echo "| run | condition | pings | node CPU s | node ns/ping | tracer CPU s | wall s | pings/s | expected | delivered | lost | load avg (1 min) |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' -v hz="$CLK_TCK" '{printf "| %d | %s | %d | %.2f | %.0f | %.2f | %s | %s | %s | %s | %s | %s |\n",
        NR, $1, $3, $4 / hz, $4 * 1e9 / hz / $3, $5 / hz, $6, $7, $8, $9, $10, $11}' "$RESULTS"
}

REPORT=$WORK/report.md
{
    echo "## Ping flood: node CPU per ping"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' (with local changes)'),"
    echo "$(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -r),"
    echo "$(bpftrace --version 2>/dev/null || echo 'bpftrace absent'); load average $LOAD_BEFORE before, $LOAD_AFTER after."
    echo "Medians of $REPEATS interleaved runs per condition; pinning: $([ "$PIN" = 1 ] && echo 'node CPU 0, others CPU 1' || echo none);"
    echo "warm-up: $WARMUP unmeasured pings before each measured load (b: consumer attached; d, e: before bpftrace)."
    echo "Node CPU = utime + stime of tracering-testnode over the load ($CLK_TCK ticks/s); tracer CPU ="
    echo "the consumer's or bpftrace's own process over the same window (BPF programs run in the node)."
    echo "Events: b counts inbound pings + outbound pongs (2 per ping, warm-up included); d every inbound"
    echo "message (pings + version + verack); e the printed pings, and lost = bpftrace's \"Lost N events\";"
    echo "totals over all runs. bpftrace's CPU is 0 in d: the count stays in the kernel, in the node's time."
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
