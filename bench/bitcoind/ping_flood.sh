#!/usr/bin/env bash
# Ping flood on a real bitcoind: the node's CPU time per ping with nobody attached, with a
# tracering consumer, and with bpftrace, in one run. See --help and bench/bitcoind/README.md.
# shellcheck disable=SC2016 # awk programs in single quotes are meant literally
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PROG=bitcoind/ping_flood
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$HERE/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$HERE/common.sh"

usage() {
    cat <<EOF
usage: bench/bitcoind/ping_flood.sh [options]

Floods a real regtest bitcoind (the patched one: tracering and USDT in one binary) with
pings from tracering-loadgen, an inbound P2P peer on 127.0.0.1 that pipelines N pings and
checks every pong, and measures the NODE's CPU time per ping (on-CPU ns of all its threads
from /proc/PID/task/*/schedstat, read before and after the load, divided by N), under four
conditions, all on the same binary:

  a  nobody attached (tracering rings off, USDT semaphores 0)
  s  nobody attached, and a process that only spins on the other core over the same
     window: a consumer keeps the other core busy too, which by itself makes the node
     cheaper per ping (fewer wake-ups from idle); s is the control for b
  b  tracering-count-consumer attached to the net ring through the control socket,
     reading, verifying and counting every event                (baseline: s)
  c  bpftrace counting net:inbound_message (@c = count())        (baseline: a)
  d  bpftrace printf of peer id, message type and size for every net:inbound_message,
     to a file                                                   (baseline: a)

Every run starts a fresh node on a new datadir and waits for its RPC and tracering socket
(state, not sleeps). Before the measured load the node gets --warmup pings on another
connection, unmeasured: in b with the consumer already attached (the first pass over a new
ring page-faults once per page), in c and d before bpftrace attaches. Conditions are
interleaved (each repetition starts one condition later) and repeated; tables give medians
and min-max ranges.

Events, per ping: tracering writes 2 (net:inbound_message "ping", net:outbound_message
"pong"), bpftrace's probe fires once (the inbound ping).
  b  expected = 2 x (warm-up + measured pings); delivered = the consumer's inbound pings +
     outbound pongs; lost = the net ring's seq advance minus what the consumer read (every
     event, pings or not); "other" = the other net events it read: per connection the
     handshake (inbound_connection, inbound version and verack, outbound version, verack,
     sendcmpct, ping, feefilter..., closed_connection)
  c  expected = measured pings + 2 (the connection's inbound version and verack);
     delivered = bpftrace's count of every inbound message
  d  expected = measured pings; delivered = printed lines of inbound pings; lost =
     bpftrace's "Lost N events" lines
The issue's target: b adds at most 2 % to a's CPU per ping, with 0 lost.

Options:
  --count N           pings per measured load (default 200000)
  --printf-count N    pings per measured load in d (default: --count)
  --warmup N          unmeasured pings before each measured load (default 20000; 0: none)
  --repeats R         repetitions of every condition (default 5)
  --conditions LIST   comma-separated subset of a,s,b,c,d (default all)
  --lossless          attach the consumer in b losslessly (default: free-running)
  --pin               node on CPU 0; loadgen, consumer and bpftrace on CPU 1 (default: none)
  --out FILE          also write the results as markdown to FILE
$COMMON_OPTIONS_HELP
  --help              this text

Conditions c and d need root and bpftrace. A default run (5 conditions x 5 repeats) takes
about 3-4 minutes on the project's 2-core machine. Times there move by tens of percent with
the machine's load (the node's per-ping CPU depends on how messages batch up between its
wake-ups, which depends on what else runs): compare within one run, and see
bench/bitcoind/callgrind.sh for the added instructions. Exit codes: 0 done, 1 bad usage or missing tool, 2 a run failed (node, load
generator, consumer or bpftrace), 3 events were lost without being counted.
EOF
}

# ---------------------------------------------------------------------------------------------
# Options

COUNT=200000
PRINTF_COUNT=""
WARMUP=20000
REPEATS=5
CONDITIONS=a,s,b,c,d
LOSSLESS=0
PIN=0
OUT=""


while [ $# -gt 0 ]; do
    case $1 in
    --help | -h) usage; exit 0 ;;
    --count) need_value "$@"; positive_int "$1" "$2"; COUNT=$2; shift 2 ;;
    --printf-count) need_value "$@"; positive_int "$1" "$2"; PRINTF_COUNT=$2; shift 2 ;;
    --warmup) need_value "$@"; [[ $2 =~ ^[0-9]+$ ]] || die_usage "--warmup: '$2' is not a number"
        WARMUP=$2; shift 2 ;;
    --repeats) need_value "$@"; positive_int "$1" "$2"; REPEATS=$2; shift 2 ;;
    --conditions) need_value "$@"; CONDITIONS=$2; shift 2 ;;
    --lossless) LOSSLESS=1; shift ;;
    --pin) PIN=1; shift ;;
    --out) need_value "$@"; OUT=$2; shift 2 ;;
    *) common_option "$@" || die_usage "unknown option '$1'"; shift "$SHIFT" ;;
    esac
done
PRINTF_COUNT=${PRINTF_COUNT:-$COUNT}

IFS=, read -r -a CONDS <<<"$CONDITIONS"
[ ${#CONDS[@]} -gt 0 ] || die_usage "--conditions: empty list"
NEED=(bitcoind bitcoin-cli loadgen)
NEED_BPFTRACE=0
for c in "${CONDS[@]}"; do
    case $c in
    a | s) ;;
    b) NEED+=(consumer) ;;
    c | d) NEED_BPFTRACE=1 ;;
    *) die_usage "--conditions: unknown condition '$c' (a, s, b, c or d)" ;;
    esac
done
resolve_binaries "${NEED[@]}"
[ "$NEED_BPFTRACE" = 1 ] && need_bpftrace
if [ "$PIN" = 1 ]; then
    command -v taskset >/dev/null 2>&1 || die "--pin needs taskset (util-linux)" 1
    [ "$(nproc)" -ge 2 ] || die "--pin needs at least 2 CPUs, this machine has $(nproc)" 1
fi
[ -z "$OUT" ] || OUT=$(absolute "$OUT")

# ---------------------------------------------------------------------------------------------
# Processes: everything started is tracked, and stopped and removed at exit.

WORK=$(mktemp -d /tmp/tracering-bitcoind-ping.XXXXXX)
TAG="bpf$$"
PIDS=()
STATUS=0
trap bitcoind_cleanup EXIT
trap 'log "interrupted; stopping what was started"; exit 130' INT TERM

pinning
NODE_WRAP=("${NODE_CPU[@]}")

# ---------------------------------------------------------------------------------------------
# One run

RESULTS=$WORK/results.tsv
: >"$RESULTS"
SERIAL=0

# load COUNT OUTFILE: one loadgen connection sending COUNT pings; dies if it fails.
load() {
    run_tracked "${LOAD_CPU[@]}" "$LOADGEN" --connect "127.0.0.1:$PORT" --timeout 300 ping \
        --count "$1" >"$2" 2>"${2%.out}.err"
    [ "$STATUS" = 0 ] ||
        die "run $SERIAL: tracering-loadgen failed ($STATUS): $(tail -n 3 "${2%.out}.err")"
}

# pin_aux PID: with --pin, every thread of PID onto CPU 1.
pin_aux() {
    [ "$PIN" = 1 ] || return 0
    taskset -a -p -c 1 "$1" >/dev/null || die "cannot pin pid $1 to CPU 1"
}

run_condition() {
    local cond=$1 rep=$2
    SERIAL=$((SERIAL + 1))
    local dir=$WORK/run$SERIAL-$cond
    mkdir -p "$dir"
    local count=$COUNT
    [ "$cond" = d ] && count=$PRINTF_COUNT
    local loadavg
    loadavg=$(cut -d' ' -f1 /proc/loadavg)

    local rpcport
    read -r PORT rpcport <<<"$(free_ports 2)"
    start_bitcoind "$dir/node" "$rpcport" -listen=1 "-bind=127.0.0.1:$PORT" "-port=$PORT" -connect=0
    local node=$NODE

    local tracer=""
    if [ "$cond" = s ]; then
        # The control for b: a process that only spins, where b's consumer reads.
        "${AUX_CPU[@]}" sh -c 'while :; do :; done' &
        tracer=$!
        PIDS+=("$tracer")
        pin_aux "$tracer"
    fi
    if [ "$cond" = b ]; then
        local -a flags=(--ring net)
        [ "$LOSSLESS" = 1 ] && flags+=(--lossless --wait-ms 1000)
        start_count_consumer "$dir/tracer.out" "${flags[@]}"
        tracer=$TRACER
        pin_aux "$tracer"
    fi

    [ "$WARMUP" -gt 0 ] && load "$WARMUP" "$dir/warmup.out"

    case $cond in
    c) start_bpftrace "$dir/tracer.out" "usdt:$BITCOIND:net:inbound_message { @c = count(); }"
        tracer=$TRACER ;;
    d) start_bpftrace "$dir/tracer.out" \
        "usdt:$BITCOIND:net:inbound_message { printf(\"%d %s %d\\n\", arg0, str(arg3), arg4); }"
        tracer=$TRACER ;;
    esac
    case $cond in c | d) pin_aux "$tracer" ;; esac

    local node0 node1 tracer0=0 tracer1=0
    node0=$(cpu_ns "$node")
    [ -n "$tracer" ] && tracer0=$(cpu_ns "$tracer")
    load "$count" "$dir/loadgen.out"
    node1=$(cpu_ns "$node")
    [ -n "$tracer" ] && tracer1=$(cpu_ns "$tracer")

    local expected=- delivered=- lost=- other=-
    case $cond in
    s) stop "$tracer" TERM ;;
    b)
        stop "$tracer" INT
        [ "$STATUS" = 0 ] ||
            die "run $SERIAL (b): tracering-count-consumer exited with $STATUS: $(tail -n 3 "$dir/tracer.err")" 3
        local out=$dir/tracer.out ping pong all
        ping=$(result_value inbound_ping "$out" ring=net)
        pong=$(result_value outbound_pong "$out" ring=net)
        all=$(result_value delivered "$out" ring=net)
        lost=$(result_value lost "$out" ring=net)
        expected=$((2 * (count + WARMUP)))
        delivered=$((ping + pong))
        other=$((all - delivered))
        ;;
    c)
        stop "$tracer" INT
        delivered=$(awk '/^@c:/ {print $2}' "$dir/tracer.out")
        [ -n "$delivered" ] || die "run $SERIAL (c): bpftrace printed no count: $(tail -n 3 "$dir/tracer.err")"
        expected=$((count + 2))
        lost=$((expected - delivered))
        ;;
    d)
        wait_file_stable "$dir/tracer.out"
        stop "$tracer" INT
        delivered=$(grep -c ' ping 8$' "$dir/tracer.out" || true)
        other=$(grep -cE '^[0-9]+ ' "$dir/tracer.out" || true)
        other=$((other - delivered))
        lost=$(bpftrace_lost "$dir/tracer.out" "$dir/tracer.err")
        expected=$count
        rm -f "$dir/tracer.out"
        ;;
    esac

    stop_bitcoind "run $SERIAL ($cond)"

    local seconds rate
    seconds=$(result_value seconds "$dir/loadgen.out")
    rate=$(result_value rate "$dir/loadgen.out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cond" "$rep" "$count" \
        "$((node1 - node0))" "$((tracer1 - tracer0))" "$seconds" "$rate" \
        "$expected" "$delivered" "$lost" "$other" "$loadavg" >>"$RESULTS"
    awk -v t="$((node1 - node0))" -v n="$count" -v s="$seconds" -v c="$cond" -v r="$rep" \
        -v e="$expected" -v d="$delivered" -v l="$lost" -v la="$loadavg" \
        'BEGIN {printf "bitcoind/ping_flood: run %s%s: %d pings, node %.0f ns/ping, %.2f s, events %s/%s lost %s, load %s\n",
                c, r, n, t / n, s, d, e, l, la}' >&2
    rm -rf "$dir/node"
}

# ---------------------------------------------------------------------------------------------
# The runs.

log "bitcoind $BITCOIND; $COUNT pings per load (d: $PRINTF_COUNT), warm-up $WARMUP"
run_interleaved

# ---------------------------------------------------------------------------------------------
# Report

# column COND EXPR: EXPR over the runs of COND, one value a line. Fields: $3 pings, $4 node
# ns, $5 tracer ns, $6 seconds, $7 rate, $8 expected, $9 delivered, $10 lost, $11 other.
column() {
    awk -F'\t' -v c="$1" "\$1 == c {print $2}" "$RESULTS"
}

declare -A NS
for c in "${CONDS[@]}"; do
    NS[$c]=$(column "$c" '$4 / $3' | median)
done

label() {
    case $1 in
    a) echo "a. nobody attached" ;;
    s) echo "s. nobody attached, a busy loop on the other core (control for b)" ;;
    b) echo "b. tracering consumer on net$([ "$LOSSLESS" = 1 ] && echo ', lossless')" ;;
    c) echo "c. bpftrace counting inbound_message" ;;
    d) echo "d. bpftrace printf inbound_message" ;;
    esac
}

table() {
    echo "| condition | pings/run | node ns/ping | (min-max) | added ns/ping | % of a | tracer CPU ns/ping | wall s | pings/s | events expected | delivered | lost | other events |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    local c added pct range tracer
    for c in a s b c d; do
        [[ ,$CONDITIONS, == *,$c,* ]] || continue
        added="-"
        pct="-"
        if [ "$c" != a ] && [[ ,$CONDITIONS, == *,a,* ]]; then
            added=$(awk -v x="${NS[$c]}" -v b="${NS[a]}" 'BEGIN {printf "%+.0f", x - b}')
            pct=$(awk -v x="${NS[$c]}" -v b="${NS[a]}" 'BEGIN {printf "%+.1f %%", (x - b) * 100 / b}')
        fi
        range=$(column "$c" '$4 / $3' | sort -g |
            awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.0f-%.0f", lo, hi}')
        tracer=-
        [ "$c" != a ] && [ "$c" != s ] &&
            tracer=$(column "$c" '$5 / $3' | median | awk '{printf "%.0f", $1}')
        printf '| %s | %s | %.0f | %s | %s | %s | %s | %.2f | %.0f | %s | %s | %s | %s |\n' \
            "$(label "$c")" "$(column "$c" '$3' | median)" "${NS[$c]}" "$range" "$added" "$pct" \
            "$tracer" "$(column "$c" '$6' | median)" "$(column "$c" '$7' | median)" \
            "$(sum_column "$c" '$8')" "$(sum_column "$c" '$9')" "$(sum_column "$c" '$10')" \
            "$(sum_column "$c" '$11')"
    done
}

verdict() {
    [[ ,$CONDITIONS, == *,b,* ]] || return 0
    local lost base
    lost=$(sum_column b '$10')
    # A consumer keeps the other core busy, which by itself makes the node cheaper per ping
    # (fewer wake-ups from idle): s, nobody attached beside a busy loop, is b's fair baseline.
    if [[ ,$CONDITIONS, == *,s,* ]]; then
        base=s
    elif [[ ,$CONDITIONS, == *,a,* ]]; then
        base=a
    else
        return 0
    fi
    local pct
    pct=$(awk -v x="${NS[b]}" -v b="${NS[$base]}" 'BEGIN {printf "%.1f", (x - b) * 100 / b}')
    local target="Target (tracering adds at most 2 % of the idle node's CPU per ping, 0 lost)"
    if [ "$lost" != 0 ]; then
        echo "$target: NOT met in this run: $lost events lost (b against $base: $pct %)."
    elif awk -v p="$pct" 'BEGIN {exit !(p <= 2)}'; then
        echo "$target: met in this run: b against $base $pct % (medians), 0 lost; compare the ranges, and the added instructions from bench/bitcoind/callgrind.sh."
    else
        echo "$target: NOT met in this run: b against $base $pct % (medians), 0 lost; compare the ranges, and the added instructions from bench/bitcoind/callgrind.sh."
    fi
}

raw_runs() {
    echo "| run | condition | pings | node CPU s | node ns/ping | tracer CPU s | wall s | pings/s | expected | delivered | lost | other | load avg (1 min) |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '{printf "| %d | %s | %d | %.3f | %.0f | %.3f | %s | %s | %s | %s | %s | %s | %s |\n",
        NR, $1, $3, $4 / 1e9, $4 / $3, $5 / 1e9, $6, $7, $8, $9, $10, $11, $12}' "$RESULTS"
}

REPORT=$WORK/report.md
{
    report_header "Ping flood on bitcoind: node CPU per ping"
    echo "$(bpftrace --version 2>/dev/null || echo 'bpftrace absent'); load average $LOAD_BEFORE before, $LOAD_AFTER after."
    echo "Medians of $REPEATS interleaved runs per condition, a fresh regtest node per run; pinning: $([ "$PIN" = 1 ] && echo 'node CPU 0, others CPU 1' || echo none);"
    echo "warm-up: $WARMUP unmeasured pings before each measured load (b: consumer attached; c, d: before bpftrace)."
    echo "Node CPU = on-CPU ns of all bitcoind threads over the measured load (schedstat); tracer CPU ="
    echo "the consumer's or bpftrace's own process over the same window (BPF programs run in the node)."
    echo "Events: b = inbound pings + outbound pongs read by the consumer (2 per ping, warm-up included),"
    echo "lost = the net ring's attempted - delivered, other = the rest of the net events it read (handshakes,"
    echo "connections); c = every inbound message counted (pings + version + verack); d = printed inbound pings,"
    echo "lost = bpftrace's \"Lost N events\", other = other inbound messages printed; totals over all runs."
    echo
    table
    echo
    verdict
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
