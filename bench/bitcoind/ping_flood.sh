#!/usr/bin/env bash
# Ping flood on a real bitcoind: the node's CPU time per ping with nobody attached, with a
# tracering consumer, with tracering-extractor publishing to NATS, and with bpftrace, in one run. See --help and bench/bitcoind/README.md.
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
from /proc/PID/task/*/schedstat, read before and after the load, divided by N), under these
conditions, all on the same binary:

  a  nobody attached (tracering rings off, USDT semaphores 0)
  s  nobody attached, and a process that only spins on the other core over the same
     window: a consumer keeps the other core busy too, which by itself makes the node
     cheaper per ping (fewer wake-ups from idle); s is the control for b
  b  tracering-count-consumer attached to the net ring through the control socket,
     reading, verifying and counting every event                (baseline: s)
  x  tracering-extractor attached by --datadir and --chain regtest (net, mempool and
     validation rings; free-running, as in production), converting every event to
     peer-observer's protobuf and publishing it to a nats-server this script starts on a
     free 127.0.0.1 port (max_payload 5MB)                       (baseline: s)
  c  bpftrace counting net:inbound_message (@c = count())        (baseline: a)
  d  bpftrace printf of peer id, message type and size for every net:inbound_message,
     to a file                                                   (baseline: a)

Every run starts a fresh node on a new datadir and waits for its RPC and tracering socket
(state, not sleeps). Before the measured load the node gets --warmup pings on another
connection, unmeasured: in b and x with the consumer or extractor already attached (the
first pass over a new ring page-faults once per page), in c and d before bpftrace attaches. Conditions are
interleaved (each repetition starts one condition later) and repeated; tables give medians
and min-max ranges.

Events, per ping: tracering writes 2 (net:inbound_message "ping", net:outbound_message
"pong"), bpftrace's probe fires once (the inbound ping).
  b  expected = 2 x (warm-up + measured pings); delivered = the consumer's inbound pings +
     outbound pongs; lost = the net ring's seq advance minus what the consumer read (every
     event, pings or not); "other" = the other net events it read: per connection the
     handshake (inbound_connection, inbound version and verack, outbound version, verack,
     sendcmpct, ping, feefilter..., closed_connection)
  x  from the extractor's last stats line (it logs one at SIGINT, after publishing what the
     rings held): expected = 2 x (warm-up + measured pings); delivered = events published
     to NATS (every net event: pings, pongs and the handshakes); lost = what the rings
     dropped before the extractor read it (its "lost" per ring); other = read + lost -
     expected, the handshake and connection events. Every event read must be published,
     refused, failed or skipped (the last three are shown as "not published"), and read +
     lost must cover the expected events; otherwise the script ends with exit code 3.
     Also: the extractor's and nats-server's own CPU per ping (from before the load until
     the extractor has handled its last event), and events handled per second over the
     same time, from its metrics endpoint (needs curl)
  c  expected = measured pings + 2 (the connection's inbound version and verack);
     delivered = bpftrace's count of every inbound message
  d  expected = measured pings; delivered = printed lines of inbound pings; lost =
     bpftrace's "Lost N events" lines
The project's target: b adds at most 1 % to s's CPU per ping, with 0 lost (x is reported
against s too).

Options:
  --count N           pings per measured load (default 200000)
  --printf-count N    pings per measured load in d (default: --count)
  --warmup N          unmeasured pings before each measured load (default 20000; 0: none)
  --repeats R         repetitions of every condition (default 5)
  --conditions LIST   comma-separated subset of a,s,b,x,c,d (default: a,s,b,c,d)
  --lossless          attach the consumer in b losslessly (default: free-running)
  --pin               node on CPU 0; loadgen, consumer, extractor, nats-server and bpftrace on
                      CPU 1 (default: none)
  --extractor PATH    tracering-extractor, for x (default: build-bitcoin/tracering/bin/)
                                                                          [EXTRACTOR]
  --out FILE          also write the results as markdown to FILE
  --perf DIR          also profile the node during each measured load (perf record -e
                      cpu-clock -g, a software clock: no hardware counters needed) into
                      DIR/<condition><repeat>.data, and report which share of the node's
                      samples lies in tracering's own functions (b, x): the cost of its code,
                      apart from how a consumer on the other core changes the node's other
                      work. perf's own work lands in the CPU times of such a run
$COMMON_OPTIONS_HELP
  --help              this text

Conditions c and d need root and bpftrace; x needs tracering-extractor (built with the other
tools when nats.c and protobuf are installed), nats-server (Debian: nats-server; also looked
for in /usr/sbin) and curl. A default run (5 conditions x 5 repeats) takes
about 3-4 minutes on the project's 2-core machine. Times there move by tens of percent with
the machine's load (the node's per-ping CPU depends on how messages batch up between its
wake-ups, which depends on what else runs): compare within one run, and see
bench/bitcoind/callgrind.sh for the added instructions. Exit codes: 0 done, 1 bad usage or
missing tool, 2 a run failed (node, load generator, consumer, extractor, nats-server or
bpftrace), 3 events were lost without being counted.
EOF
}

# ---------------------------------------------------------------------------------------------
# Options

# The project's target for b against s, in percent of the node's CPU per ping.
TARGET_PCT=1
COUNT=200000
PRINTF_COUNT=""
WARMUP=20000
REPEATS=5
CONDITIONS=a,s,b,c,d
LOSSLESS=0
PIN=0
OUT=""
PERF_DIR=""

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
    --extractor) need_value "$@"; EXTRACTOR=$2; shift 2 ;;
    --out) need_value "$@"; OUT=$2; shift 2 ;;
    --perf) need_value "$@"; PERF_DIR=$2; shift 2 ;;
    *) common_option "$@" || die_usage "unknown option '$1'"; shift "$SHIFT" ;;
    esac
done
PRINTF_COUNT=${PRINTF_COUNT:-$COUNT}

IFS=, read -r -a CONDS <<<"$CONDITIONS"
[ ${#CONDS[@]} -gt 0 ] || die_usage "--conditions: empty list"
NEED=(bitcoind bitcoin-cli loadgen)
NEED_BPFTRACE=0
NEED_NATS=0
for c in "${CONDS[@]}"; do
    case $c in
    a | s) ;;
    b) NEED+=(consumer) ;;
    x) NEED+=(extractor); NEED_NATS=1 ;;
    c | d) NEED_BPFTRACE=1 ;;
    *) die_usage "--conditions: unknown condition '$c' (a, s, b, x, c or d)" ;;
    esac
done
resolve_binaries "${NEED[@]}"
[ "$NEED_BPFTRACE" = 1 ] && need_bpftrace
[ "$NEED_NATS" = 1 ] && find_nats_server
if [ "$PIN" = 1 ]; then
    command -v taskset >/dev/null 2>&1 || die "--pin needs taskset (util-linux)" 1
    [ "$(nproc)" -ge 2 ] || die "--pin needs at least 2 CPUs, this machine has $(nproc)" 1
fi
[ -z "$OUT" ] || OUT=$(absolute "$OUT")
if [ -n "$PERF_DIR" ]; then
    command -v perf >/dev/null 2>&1 || die "--perf needs perf (Debian: linux-perf)" 1
    paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 3)
    [ "$(id -u)" = 0 ] || [ "$paranoid" -le 1 ] ||
        die "--perf needs root, or kernel.perf_event_paranoid at 1 or below to sample the node's kernel side (it is $paranoid)" 1
    mkdir -p "$PERF_DIR" || die "--perf: cannot make $PERF_DIR" 1
    PERF_DIR=$(cd "$PERF_DIR" && pwd)
fi

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

# perf_share FILE COND: for b and x, the share (0-1) of the node's samples in FILE that lie in
# functions of namespace tracering (the emitters, the ring writer, the clock); else -. Not for
# c and d: a uprobe's trap is charged to the probed instruction and the kernel's entry and
# exit code, which no symbol separates from the node's own work.
perf_share() {
    case $2 in
    b | x) ;;
    *) echo -; return 0 ;;
    esac
    perf report -i "$1" --no-children -g none --sort sym -n -q 2>/dev/null |
        awk 'NF >= 4 && $2 ~ /^[0-9]+$/ {all += $2; if (index($0, "tracering::")) own += $2}
            END {if (all > 0) printf "%.5f\n", own / all; else print "-"}'
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
    local nats="" url=""
    if [ "$cond" = x ]; then
        # As a user would run it: found by the node's datadir and chain, free-running.
        start_nats "$dir"
        nats=$NATS_PID
        start_extractor "$dir" "$EXTRACTOR" --datadir "$dir/node" --chain regtest
        tracer=$EXTRACTOR_PID
        url=$EXTRACTOR_URL
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

    local node0 node1 tracer0=0 tracer1=0 nats0=0 nats1=0 h0=0 t0=0
    if [ -n "$url" ]; then
        # The warm-up's events are handled before the measured load starts.
        extractor_settled "$url"
        h0=$HANDLED
        nats0=$(cpu_ns "$nats")
    fi
    node0=$(cpu_ns "$node")
    [ -n "$tracer" ] && tracer0=$(cpu_ns "$tracer")
    local perf="" share=-
    if [ -n "$PERF_DIR" ]; then
        perf record -q -e cpu-clock -F 4999 -g -p "$node" -o "$PERF_DIR/$cond$rep.data" \
            >"$dir/perf.out" 2>"$dir/perf.err" &
        perf=$!
        PIDS+=("$perf")
        # perf writes its file's header once it has opened the node's threads.
        wait_until 30 "$perf" "perf record" "$dir/perf.err" test -s "$PERF_DIR/$cond$rep.data"
    fi
    t0=$(now)
    load "$count" "$dir/loadgen.out"
    node1=$(cpu_ns "$node")
    if [ -n "$perf" ]; then
        stop "$perf" INT
        # perf record stopped by SIGINT exits with 128 + 2 once it has written its file.
        [ "$STATUS" = 0 ] || [ "$STATUS" = 130 ] || die "run $SERIAL ($cond): perf record exited with $STATUS: $(tail -n 3 "$dir/perf.err")"
        share=$(perf_share "$PERF_DIR/$cond$rep.data" "$cond")
    fi
    local xrate=- unpublished=-
    if [ -n "$url" ]; then
        # The extractor's (and nats-server's) work goes on until it has handled the last event.
        extractor_drained "$url"
        xrate=$(awk -v e="$((HANDLED - h0))" -v a="$t0" -v b="$LAST_CHANGE" 'BEGIN {printf "%.0f", e / (b - a)}')
        nats1=$(cpu_ns "$nats")
    fi
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
    x)
        stop "$tracer" INT
        [ "$STATUS" = 0 ] ||
            die "run $SERIAL (x): tracering-extractor exited with $STATUS: $(tail -n 3 "$dir/extractor.out")"
        stop "$nats" TERM
        local xlog=$dir/extractor.out nread
        nread=$(extractor_stat "$xlog" read)
        [ -n "$nread" ] || die "run $SERIAL (x): the extractor logged no stats line at exit: $(tail -n 3 "$xlog")" 3
        lost=$(extractor_stat "$xlog" lost)
        delivered=$(extractor_stat "$xlog" published)
        unpublished=$(($(extractor_stat "$xlog" refused) + $(extractor_stat "$xlog" failed) + $(extractor_stat "$xlog" skipped)))
        expected=$((2 * (count + WARMUP)))
        other=$((nread + lost - expected))
        [ $((delivered + unpublished)) = "$nread" ] ||
            die "run $SERIAL (x): the extractor read $nread events but published $delivered and did not publish $unpublished: $((nread - delivered - unpublished)) unaccounted for" 3
        [ "$other" -ge 0 ] ||
            die "run $SERIAL (x): $expected events expected, the extractor read $nread and counted $lost lost: $((-other)) unaccounted for" 3
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
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cond" "$rep" "$count" \
        "$((node1 - node0))" "$((tracer1 - tracer0))" "$seconds" "$rate" \
        "$expected" "$delivered" "$lost" "$other" "$loadavg" "$((nats1 - nats0))" "$xrate" \
        "$unpublished" "$share" >>"$RESULTS"
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
# ns, $5 tracer ns, $6 seconds, $7 rate, $8 expected, $9 delivered, $10 lost, $11 other,
# $12 load average, $13 nats-server ns, $14 events/s the extractor handled, $15 not published,
# $16 the share of the node's perf samples in tracering's code (--perf) or -.
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
    x) echo "x. tracering-extractor to NATS (free-running)" ;;
    c) echo "c. bpftrace counting inbound_message" ;;
    d) echo "d. bpftrace printf inbound_message" ;;
    esac
}

# baseline COND: the condition COND is compared with (s for b and x when s ran, else a; none
# for a and s), or nothing.
baseline() {
    case $1 in
    a) return 0 ;;
    s) [[ ,$CONDITIONS, == *,a,* ]] && echo a ;;
    b | x) if [[ ,$CONDITIONS, == *,s,* ]]; then echo s; elif [[ ,$CONDITIONS, == *,a,* ]]; then echo a; fi ;;
    *) [[ ,$CONDITIONS, == *,a,* ]] && echo a ;;
    esac
    return 0
}

table() {
    echo "| condition | pings/run | node ns/ping | (min-max) | baseline | added ns/ping | % of baseline | tracer CPU ns/ping | nats-server CPU ns/ping | wall s | pings/s | events/s handled by the extractor | (min-max) | events expected | delivered | lost | other events | not published |"
    echo "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    local c base added pct range tracer nats xrate xrange
    for c in a s b x c d; do
        [[ ,$CONDITIONS, == *,$c,* ]] || continue
        base=$(baseline "$c")
        added="-"
        pct="-"
        if [ -n "$base" ]; then
            added=$(awk -v x="${NS[$c]}" -v b="${NS[$base]}" 'BEGIN {printf "%+.0f", x - b}')
            pct=$(awk -v x="${NS[$c]}" -v b="${NS[$base]}" 'BEGIN {printf "%+.1f %%", (x - b) * 100 / b}')
        fi
        range=$(column "$c" '$4 / $3' | range)
        tracer=-
        [ "$c" != a ] && [ "$c" != s ] &&
            tracer=$(column "$c" '$5 / $3' | median | awk '{printf "%.0f", $1}')
        nats=-
        xrate=-
        xrange=-
        if [ "$c" = x ]; then
            nats=$(column x '$13 / $3' | median | awk '{printf "%.0f", $1}')
            xrate=$(column x '$14' | median | awk '{printf "%.0f", $1}')
            xrange=$(column x '$14' | range)
        fi
        printf '| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %.2f | %.0f | %s | %s | %s | %s | %s | %s | %s |\n' \
            "$(label "$c")" "$(column "$c" '$3' | median)" "${NS[$c]}" "$range" "${base:--}" "$added" "$pct" \
            "$tracer" "$nats" "$(column "$c" '$6' | median)" "$(column "$c" '$7' | median)" \
            "$xrate" "$xrange" \
            "$(sum_column "$c" '$8')" "$(sum_column "$c" '$9')" "$(sum_column "$c" '$10')" \
            "$(sum_column "$c" '$11')" "$(sum_column "$c" '$15')"
    done
}

verdict() {
    local base
    # A consumer keeps the other core busy, which by itself makes the node cheaper per ping
    # (fewer wake-ups from idle): s, nobody attached beside a busy loop, is b's fair baseline.
    if [[ ,$CONDITIONS, == *,b,* ]]; then
        base=$(baseline b)
        [ -n "$base" ] || return 0
        local lost pct
        lost=$(sum_column b '$10')
        pct=$(awk -v x="${NS[b]}" -v b="${NS[$base]}" 'BEGIN {printf "%.1f", (x - b) * 100 / b}')
        local target="Target (tracering adds at most $TARGET_PCT % of the node's CPU per ping, 0 lost)"
        if [ "$lost" != 0 ]; then
            echo "$target: NOT met in this run: $lost events lost (b against $base: $pct %)."
        elif [ -n "$PERF_DIR" ]; then
            # perf's own work is in every time of this run: judge by tracering's own code.
            local own met="NOT met"
            own=$(column b '($16 == "-" ? "" : $16 * $4 / $3)' | grep . || true)
            if [ -z "$own" ]; then
                echo "$target: not judged in this run: perf gave no profile of b to judge by, and the times (b against $base $pct %) include perf's work."
            else
                own=$(median <<<"$own" | awk -v b="${NS[$base]}" '{printf "%.2f", $1 * 100 / b}')
                awk -v p="$own" -v t="$TARGET_PCT" 'BEGIN {exit !(p <= t)}' && met="met"
                echo "$target: $met in this run by tracering's own code (perf): $own % of $base's node CPU per ping, 0 lost. The times (b against $base $pct %) include perf's work."
            fi
        else
            local met="NOT met"
            awk -v p="$pct" -v t="$TARGET_PCT" 'BEGIN {exit !(p <= t)}' && met="met"
            echo "$target: $met in this run: b against $base $pct % (medians), 0 lost; compare the ranges, and the added instructions from bench/bitcoind/callgrind.sh."
        fi
    fi
    if [[ ,$CONDITIONS, == *,x,* ]]; then
        base=$(baseline x)
        [ -n "$base" ] || return 0
        awk -v x="${NS[x]}" -v b="${NS[$base]}" -v base="$base" -v l="$(sum_column x '$10')" \
            -v u="$(sum_column x '$15')" -v d="$(sum_column x '$9')" \
            'BEGIN {printf "x, tracering-extractor to NATS, against %s: %+.0f ns per ping (%+.1f %%, medians); %d events published, %d lost (counted by the extractor), %d read but not published.\n",
                    base, x - b, (x - b) * 100 / b, d, l, u}'
    fi
}

# perf_lines: with --perf, for b and x the node's time in tracering's code (perf_share of each
# run times its node ns/ping) and its share of the node's samples.
perf_lines() {
    [ -n "$PERF_DIR" ] || return 0
    echo "Where the node's time goes (--perf: perf record -e cpu-clock -g on the node during each measured"
    echo "load, profiles in $PERF_DIR): the node's samples in functions of namespace tracering, medians"
    echo "(min-max) over the runs. Not shown for bpftrace: a uprobe's trap is charged to the probed instruction"
    echo "and the kernel's entry and exit code, which no symbol separates from the node's own work."
    echo
    local c values
    for c in b x; do
        [[ ,$CONDITIONS, == *,$c,* ]] || continue
        values=$(column "$c" '($16 == "-" ? "" : $16 * $4 / $3 " " $16 * 100)' | grep . || true)
        if [ -z "$values" ]; then
            echo "- $(label "$c"): no samples"
            continue
        fi
        printf -- '- %s: %s ns/ping (%s) in tracering'"'"'s code, %s %% (%s) of the node'"'"'s samples.\n' "$(label "$c")" \
            "$(cut -d' ' -f1 <<<"$values" | median | awk '{printf "%.0f", $1}')" \
            "$(cut -d' ' -f1 <<<"$values" | range)" \
            "$(cut -d' ' -f2 <<<"$values" | median | awk '{printf "%.2f", $1}')" \
            "$(cut -d' ' -f2 <<<"$values" | range %.2f)"
    done
}

raw_runs() {
    echo "| run | condition | pings | node CPU s | node ns/ping | tracer CPU s | nats-server CPU s | wall s | pings/s | events/s (extractor) | expected | delivered | lost | other | not published | load avg (1 min) |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '{printf "| %d | %s | %d | %.3f | %.0f | %.3f | %.3f | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
        NR, $1, $3, $4 / 1e9, $4 / $3, $5 / 1e9, $13 / 1e9, $6, $7, $14, $8, $9, $10, $11, $15, $12}' "$RESULTS"
}

REPORT=$WORK/report.md
{
    report_header "Ping flood on bitcoind: node CPU per ping"
    echo "Kernel clock $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown); $(bpftrace --version 2>/dev/null || echo 'bpftrace absent')$([ "$NEED_NATS" = 1 ] && echo "; $("$NATS_SERVER" --version 2>/dev/null)"); load average $LOAD_BEFORE before, $LOAD_AFTER after."
    echo "Medians of $REPEATS interleaved runs per condition, a fresh regtest node per run; pinning: $([ "$PIN" = 1 ] && echo 'node CPU 0, others CPU 1' || echo none);"
    echo "warm-up: $WARMUP unmeasured pings before each measured load (b, x: consumer or extractor attached; c, d: before bpftrace)."
    echo "Node CPU = on-CPU ns of all bitcoind threads over the measured load (schedstat); tracer CPU ="
    echo "the consumer's, extractor's or bpftrace's own process over the same window (BPF programs run in the node;"
    echo "x: the extractor's and nats-server's until the extractor handled its last event, and events/s over that time)."
    echo "Events: b = inbound pings + outbound pongs read by the consumer (2 per ping, warm-up included),"
    echo "lost = the net ring's attempted - delivered, other = the rest of the net events it read (handshakes,"
    echo "connections); c = every inbound message counted (pings + version + verack); d = printed inbound pings,"
    echo "lost = bpftrace's \"Lost N events\", other = other inbound messages printed; x = the extractor's last stats line:"
    echo "delivered = published to NATS (every net event, handshakes included), lost = its ring drops, other = read +"
    echo "lost - expected, not published = refused + failed + skipped; totals over all runs."
    echo
    table
    echo
    verdict
    echo
    if [ -n "$PERF_DIR" ]; then
        perf_lines
        echo
    fi
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
