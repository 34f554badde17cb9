#!/usr/bin/env bash
# Block validation on a real bitcoind, two ways (-reindex of a chain, and a fresh node
# downloading it from a second node), with nobody attached, with tracering (a consumer or a
# capture to disk) and with bpftrace on all 20 tracepoints. See --help and
# bench/bitcoind/README.md.
# shellcheck disable=SC2016 # awk programs in single quotes are meant literally
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PROG=bitcoind/blocks
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$HERE/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$HERE/common.sh"

usage() {
    cat <<EOF
usage: bench/bitcoind/blocks.sh [options]

Validates the benchmark chain (bench/bitcoind/make_chain.py: 1,300 regtest blocks of ~200
transactions with several inputs and outputs each) on a real bitcoind, the patched one with
tracering and USDT in one binary, and measures the node's wall time and CPU time (utime +
stime of the whole process from /proc/PID/stat, exited threads included), two ways:

  reindex  a fresh datadir holding only the chain's block files, started with -reindex:
           the node indexes the files, then connects every block (validation, UTXO set)
  ibd      a fresh, empty node told (RPC addnode ... onetry) to connect to a second node
           serving the chain on 127.0.0.1: headers, block download, validation; adds the
           net ring (every message, blocks included) to the work

each under these conditions:

  none        nobody attached
  tracering   tracering-count-consumer on all 5 rings (net, validation, utxocache,
              mempool, coin_selection), reading and verifying every event; free-running
              (a full ring drops and counts), or --lossless
  capture     ringdump capture --format native --lossless: every event of every ring
              written to a file on disk
  bpf-count   bpftrace counting every one of the 20 tracepoints, per probe
  bpf-printf  bpftrace printing a line per event of every one of the 20 tracepoints (some
              arguments each) to a file; its loss is its "Lost N events" lines

Method. Every run starts a new node on a new datadir. Tracers attach before any block is
connected, so nothing is missed, and the check is block_connected == the chain's height:
  reindex  the node is started with -reindex and -loadblock=FIFO. Bitcoin Core first indexes
           every block file (connecting only the genesis block), then opens the -loadblock
           files, then connects the chain; opening the FIFO blocks until this script opens
           it for writing. So: start the node, wait for its control socket and RPC, attach
           the tracer, wait for "Reindexing finished" in its log, then open and close the
           FIFO (an empty file) and time the connection of every block, up to the tip.
           The indexing phase before it has no tracepoints, and is reported apart.
  ibd      the node starts with no peers; the tracer attaches; then addnode, and the time
           to the tip.
The end is the tip reaching the chain's height (RPC waitforblockheight, which returns when
the tip moves, not by polling). Conditions are interleaved (each repetition starts one
condition later) and repeated; tables give medians and min-max ranges.

Events expected per run, from the chain's chain.env: validation:block_connected = height;
utxocache:add = outputs created (coinbases' included), utxocache:spent = inputs spent;
utxocache:flush a few, no uncache; net: whatever the download takes. Delivered: the
consumer's reads per ring; ringdump's delivered per ring; bpftrace's counts per probe; the
lines bpftrace printed per probe. Lost: attempted - delivered per ring for tracering
(the consumer also checks that the producer counted every one as dropped); bpftrace's
"Lost N events".

Options:
  --modes LIST        comma-separated subset of reindex,ibd (default both)
  --conditions LIST   comma-separated subset of none,tracering,capture,bpf-count,bpf-printf
                      (default all)
  --repeats R         repetitions of every condition (default 3)
  --lossless          attach the consumer in "tracering" losslessly (default: free-running)
  --timeout S         longest wait for a node to reach the tip (default 3600)
  --out FILE          also write the results as markdown to FILE
$CHAIN_OPTIONS_HELP
$COMMON_OPTIONS_HELP
  --help              this text

The bpftrace conditions need root. Disk: a run's datadir is a copy of the chain's block
files (~0.2 GB); the capture and printf outputs are a few hundred MB each; all are removed
after each run. A default run (both modes, 5 conditions, 3 repeats: 30 runs) takes about
45-60 minutes on the project's 2-core machine. Exit codes: 0 done, 1 bad usage or missing
tool, 2 a run failed (node, consumer, ringdump or bpftrace), 3 events were lost without
being counted.
EOF
}

# ---------------------------------------------------------------------------------------------
# Options

MODES=reindex,ibd
CONDITIONS=none,tracering,capture,bpf-count,bpf-printf
REPEATS=3
LOSSLESS=0
TIMEOUT=3600
OUT=""


while [ $# -gt 0 ]; do
    case $1 in
    --help | -h) usage; exit 0 ;;
    --modes) need_value "$@"; MODES=$2; shift 2 ;;
    --conditions) need_value "$@"; CONDITIONS=$2; shift 2 ;;
    --repeats) need_value "$@"; positive_int "$1" "$2"; REPEATS=$2; shift 2 ;;
    --lossless) LOSSLESS=1; shift ;;
    --timeout) need_value "$@"; positive_int "$1" "$2"; TIMEOUT=$2; shift 2 ;;
    --out) need_value "$@"; OUT=$2; shift 2 ;;
    *)
        if common_option "$@" || chain_option "$@"; then
            shift "$SHIFT"
        else
            die_usage "unknown option '$1'"
        fi
        ;;
    esac
done

IFS=, read -r -a MODE_LIST <<<"$MODES"
IFS=, read -r -a COND_LIST <<<"$CONDITIONS"
[ ${#MODE_LIST[@]} -gt 0 ] || die_usage "--modes: empty list"
[ ${#COND_LIST[@]} -gt 0 ] || die_usage "--conditions: empty list"
for m in "${MODE_LIST[@]}"; do
    case $m in reindex | ibd) ;; *) die_usage "--modes: unknown mode '$m' (reindex or ibd)" ;; esac
done
NEED=(bitcoind bitcoin-cli)
NEED_BPFTRACE=0
for c in "${COND_LIST[@]}"; do
    case $c in
    none) ;;
    tracering) NEED+=(consumer) ;;
    capture) NEED+=(ringdump) ;;
    bpf-count | bpf-printf) NEED_BPFTRACE=1 ;;
    *) die_usage "--conditions: unknown condition '$c' (none, tracering, capture, bpf-count or bpf-printf)" ;;
    esac
done
resolve_binaries "${NEED[@]}"
[ "$NEED_BPFTRACE" = 1 ] && need_bpftrace
command -v python3 >/dev/null 2>&1 || die "python3 is needed (free ports, the chain)" 1
command -v mkfifo >/dev/null 2>&1 || die "mkfifo is needed (coreutils)" 1
[ -z "$OUT" ] || OUT=$(absolute "$OUT")

# ---------------------------------------------------------------------------------------------
# Processes: everything started is tracked, and stopped and removed at exit.

WORK=$(mktemp -d /tmp/tracering-bitcoind-blocks.XXXXXX)
TAG="bblk$$"
PIDS=()
STATUS=0
CLK_TCK=$(getconf CLK_TCK)
trap bitcoind_cleanup EXIT
trap 'log "interrupted; stopping what was started"; exit 130' INT TERM

ensure_chain
log "chain $CHAIN: height $CHAIN_HEIGHT, $CHAIN_TXS transactions, $CHAIN_INPUTS inputs, $CHAIN_OUTPUTS outputs"

# ---------------------------------------------------------------------------------------------
# The serving node (ibd): one for all runs, on a copy of the chain's datadir.

SERVER=""
SERVER_PORT=""

start_server() {
    local d=$WORK/server
    mkdir -p "$d/regtest"
    log "starting the serving node on a copy of the chain"
    cp -r "$CHAIN/regtest/blocks" "$CHAIN/regtest/chainstate" "$d/regtest/"
    local rpcport
    read -r SERVER_PORT rpcport <<<"$(free_ports 2)"
    # -maxtipage: the chain's blocks are dated 2023, and a node whose tip is older than the
    # maximum tip age is in initial block download and answers no getheaders.
    start_bitcoind "$d" "$rpcport" -notracering -listen=1 "-bind=127.0.0.1:$SERVER_PORT" \
        "-port=$SERVER_PORT" -connect=0 -maxtipage=2000000000
    SERVER=$NODE
    local height
    height=$(cli getblockcount)
    [ "$height" = "$CHAIN_HEIGHT" ] ||
        die "the serving node is at height $height, the chain's is $CHAIN_HEIGHT"
    SERVER_DATADIR=$NODE_DATADIR
}

# ---------------------------------------------------------------------------------------------
# One run

RESULTS=$WORK/results.tsv
: >"$RESULTS"
SERIAL=0
MODE=""

# release_gate FIFO: opens FIFO for writing (blocks until the node has it open for reading)
# and closes it: the node reads an empty block file and goes on to connect the chain.
release_gate() {
    (: >"$1") &
    local opener=$!
    PIDS+=("$opener")
    for _ in $(seq 600); do
        alive "$opener" || break
        alive "$NODE" || die "run $SERIAL: bitcoind exited before it opened its -loadblock FIFO: $(node_errors)"
        sleep 0.1
    done
    alive "$opener" && die "run $SERIAL: bitcoind did not open its -loadblock FIFO within 60 s"
    wait "$opener" 2>/dev/null || true
    forget "$opener"
}

# start_tracer COND DIR: attaches the condition's tracer to NODE; sets TRACER ("" for none).
start_tracer() {
    local cond=$1 dir=$2
    TRACER=""
    case $cond in
    tracering)
        local -a flags=(--ring net --ring validation --ring utxocache --ring mempool --ring coin_selection)
        [ "$LOSSLESS" = 1 ] && flags+=(--lossless --wait-ms 1000)
        start_count_consumer "$dir/tracer.out" "${flags[@]}"
        ;;
    capture)
        "$RINGDUMP" capture --control "$NODE_SOCK" --out "$dir/capture" --format native --lossless \
            >"$dir/tracer.out" 2>"$dir/tracer.err" &
        TRACER=$!
        PIDS+=("$TRACER")
        # The capture file is created once ringdump has attached every ring.
        wait_until 30 "$TRACER" "ringdump capture" "$dir/tracer.err" test -e "$dir/capture/capture.trcap"
        ;;
    bpf-count) start_bpftrace "$dir/tracer.out" "$(bpf_count_all "$BITCOIND")" ;;
    bpf-printf) start_bpftrace "$dir/tracer.out" "$(bpf_printf_all "$BITCOIND")" ;;
    esac
}

# finish_tracer COND DIR: stops the tracer and sets, from what it read: BC (block_connected
# events), UTXO (utxocache events), NET (net events), DELIVERED (all events), LOST and DETAIL
# (per ring or probe).
finish_tracer() {
    local cond=$1 dir=$2 out=$2/tracer.out
    BC=- UTXO=- NET=- DELIVERED=- LOST=- DETAIL=-
    case $cond in
    tracering)
        stop "$TRACER" INT
        [ "$STATUS" = 0 ] || die "run $SERIAL ($cond): tracering-count-consumer exited with $STATUS: $(tail -n 3 "$dir/tracer.err")" 3
        BC=$(result_value block_connected "$out" ring=validation)
        UTXO=$(result_value delivered "$out" ring=utxocache)
        NET=$(result_value delivered "$out" ring=net)
        DELIVERED=$(awk '/^result ring=/ {for (i = 2; i <= NF; ++i) if ($i ~ /^delivered=/) {sub(/.*=/, "", $i); s += $i}} END {print s + 0}' "$out")
        LOST=$(awk '/^result ring=/ {for (i = 2; i <= NF; ++i) if ($i ~ /^lost=/) {sub(/.*=/, "", $i); s += $i}} END {print s + 0}' "$out")
        DETAIL=$(awk '/^result ring=/ {r = a = d = l = ""; for (i = 2; i <= NF; ++i) {split($i, kv, "=");
                    if (kv[1] == "ring") r = kv[2]; if (kv[1] == "attempted") a = kv[2];
                    if (kv[1] == "delivered") d = kv[2]; if (kv[1] == "lost") l = kv[2]}
                    printf "%s%s %s/%s/%s", sep, r, a, d, l; sep = ", "}' "$out")
        DETAIL="attempted/delivered/lost: $DETAIL"
        ;;
    capture)
        stop "$TRACER" INT
        [ "$STATUS" = 0 ] || die "run $SERIAL ($cond): ringdump capture exited with $STATUS: $(tail -n 3 "$dir/tracer.err")"
        local line
        line=$(grep -E '^ringdump: [0-9]+ events delivered' "$dir/tracer.err" | tail -n 1)
        [ -n "$line" ] || die "run $SERIAL ($cond): no summary from ringdump: $(tail -n 3 "$dir/tracer.err")"
        DELIVERED=$(awk '{print $2}' <<<"$line")
        LOST=$(awk '{print $5}' <<<"$line")
        # "(net 7/0, validation 1300/0, ...)": delivered/lost per ring.
        ring_delivered() { grep -oE "[(, ]$1 [0-9]+/" <<<"$line" | grep -oE '[0-9]+' | head -n 1; }
        BC=$(ring_delivered validation)
        UTXO=$(ring_delivered utxocache)
        NET=$(ring_delivered net)
        DETAIL="delivered/lost: $(sed -E 's/.*\((.*)\).*/\1/' <<<"$line"); $(grep -oE 'wrote .* \([0-9]+ bytes\)' "$dir/tracer.err" | grep -oE '[0-9]+ bytes' | awk '{printf "%.0f MB written", $1 / 1e6}')"
        rm -rf "$dir/capture"
        ;;
    bpf-count)
        stop "$TRACER" INT
        bpf_counts "$out" >"$dir/counts.txt"
        if [ -s "$dir/counts.txt" ]; then
            sum_probes "$dir/counts.txt"
            LOST=0
        else
            # bpftrace 0.17 sometimes hangs while detaching after SIGINT and is killed: its
            # counts are gone, but the node's time was measured before, so the run stands.
            log "run $SERIAL ($cond): bpftrace printed no counts (it did not exit on SIGINT and was killed); its events are unknown, its times are kept"
            DETAIL="bpftrace hung at exit and was killed: counts unknown"
        fi
        ;;
    bpf-printf)
        wait_file_stable "$out"
        stop "$TRACER" INT
        awk '$1 ~ /^[a-z_]+:[a-z_]+$/ {c[$1]++} END {for (k in c) print k, c[k]}' "$out" >"$dir/counts.txt"
        sum_probes "$dir/counts.txt"
        LOST=$(bpftrace_lost "$out" "$dir/tracer.err")
        DETAIL="$DETAIL; $(stat -c %s "$out" | awk '{printf "%.0f MB printed", $1 / 1e6}')"
        rm -f "$out"
        ;;
    esac
}

# sum_probes FILE: BC, UTXO, NET, DELIVERED and DETAIL from "context:event count" lines.
sum_probes() {
    BC=$(awk '$1 == "validation:block_connected" {print $2}' "$1")
    BC=${BC:-0}
    UTXO=$(awk '$1 ~ /^utxocache:/ {s += $2} END {print s + 0}' "$1")
    NET=$(awk '$1 ~ /^net:/ {s += $2} END {print s + 0}' "$1")
    DELIVERED=$(awk '{s += $2} END {print s + 0}' "$1")
    DETAIL=$(sort "$1" | awk '{printf "%s%s %s", sep, $1, $2; sep = ", "}')
}

run_condition() {
    local cond=$1 rep=$2
    SERIAL=$((SERIAL + 1))
    local dir=$WORK/run$SERIAL-$MODE-$cond
    mkdir -p "$dir"
    local loadavg
    loadavg=$(cut -d' ' -f1 /proc/loadavg)
    local t_start c_gate=0 t_gate
    t_start=$(now_ns)

    if [ "$MODE" = reindex ]; then
        copy_blocks "$dir/node"
        mkfifo "$dir/gate"
        start_bitcoind "$dir/node" "$(free_ports 1)" -listen=0 -connect=0 -reindex "-loadblock=$dir/gate"
    else
        start_bitcoind "$dir/node" "$(free_ports 1)" -listen=0 -connect=0
    fi
    start_tracer "$cond" "$dir"
    if [ "$MODE" = reindex ]; then
        wait_until "$TIMEOUT" "$NODE" "run $SERIAL: bitcoind indexing the block files" "$dir/node.stderr" \
            file_has "$NODE_LOG" 'Reindexing finished'
    fi

    local node0 node1 tracer0=0 tracer1=0 t0 t1
    node0=$(cpu_ticks "$NODE")
    [ -n "$TRACER" ] && tracer0=$(cpu_ticks "$TRACER")
    t0=$(now_ns)
    if [ "$MODE" = reindex ]; then
        c_gate=$node0
        t_gate=$t0
        release_gate "$dir/gate"
    else
        t_gate=$t0
        cli addnode "127.0.0.1:$SERVER_PORT" onetry >/dev/null ||
            die "run $SERIAL: addnode failed: $(node_errors)"
    fi
    wait_height "$CHAIN_HEIGHT" "$TIMEOUT"
    t1=$(now_ns)
    node1=$(cpu_ticks "$NODE")
    [ -n "$TRACER" ] && tracer1=$(cpu_ticks "$TRACER")

    local tip
    tip=$(cli getbestblockhash)
    [ "$tip" = "$CHAIN_TIP" ] || die "run $SERIAL: the node's tip is $tip, the chain's $CHAIN_TIP"

    BC=- UTXO=- NET=- DELIVERED=- LOST=- DETAIL=-
    [ -n "$TRACER" ] && finish_tracer "$cond" "$dir"
    stop_bitcoind "run $SERIAL ($MODE $cond)"

    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cond" "$rep" \
        "$((t1 - t0))" "$((node1 - node0))" "$((tracer1 - tracer0))" "$((t_gate - t_start))" \
        "$c_gate" "$BC" "$UTXO" "$NET" "$DELIVERED" "$LOST" "$loadavg" "$DETAIL" "$MODE" >>"$RESULTS"
    awk -v w="$((t1 - t0))" -v c="$((node1 - node0))" -v hz="$CLK_TCK" -v m="$MODE" -v k="$cond" \
        -v r="$rep" -v bc="$BC" -v h="$CHAIN_HEIGHT" -v d="$DELIVERED" -v l="$LOST" -v la="$loadavg" \
        'BEGIN {printf "bitcoind/blocks: run %s %s/%s: %.1f s wall, node CPU %.1f s, block_connected %s of %s, events %s lost %s, load %s\n",
                m, k, r, w / 1e9, c / hz, bc, h, d, l, la}' >&2
    rm -rf "$dir/node" "$dir/gate"
}

# ---------------------------------------------------------------------------------------------
# The runs: one mode after the other, conditions interleaved within each.

declare -A LOADS
CONDS=("${COND_LIST[@]}")
for MODE in "${MODE_LIST[@]}"; do
    log "mode $MODE: ${#CONDS[@]} conditions x $REPEATS"
    [ "$MODE" = ibd ] && start_server
    run_interleaved
    LOADS[$MODE]="$LOAD_BEFORE before, $LOAD_AFTER after"
    if [ "$MODE" = ibd ]; then
        NODE_DATADIR=$SERVER_DATADIR
        stop_bitcoind "the serving node" "$SERVER"
    fi
done

# ---------------------------------------------------------------------------------------------
# Report

# column MODE COND EXPR: EXPR over the runs of MODE and COND, one value a line. Fields: $3
# wall ns, $4 node ticks, $5 tracer ticks, $6 start-to-gate ns, $7 node ticks at the gate,
# $8 block_connected, $9 utxocache, $10 net, $11 delivered, $12 lost, $13 load, $14 detail.
column() {
    awk -F'\t' -v m="$1" -v c="$2" -v hz="$CLK_TCK" "\$15 == m && \$1 == c {print $3}" "$RESULTS"
}

total() { awk '{if ($1 == "-") dash = 1; s += $1} END {if (dash) print "-"; else printf "%d\n", s}'; }


label() {
    case $1 in
    none) echo "nobody attached" ;;
    tracering) echo "tracering: consumer on all 5 rings$([ "$LOSSLESS" = 1 ] && echo ', lossless')" ;;
    capture) echo "tracering: ringdump capture --lossless to disk" ;;
    bpf-count) echo "bpftrace: count all 20 probes" ;;
    bpf-printf) echo "bpftrace: printf all 20 probes" ;;
    esac
}

table() {
    local mode=$1 c cpu base added pct tracer
    echo "| condition | wall s | (min-max) | node CPU s | (min-max) | added CPU s | % of none | tracer CPU s | block_connected (of $CHAIN_HEIGHT) | utxocache events | net events | delivered | lost |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    base=""
    [[ ,$CONDITIONS, == *,none,* ]] && base=$(column "$mode" none '$4 / hz' | median)
    for c in "${COND_LIST[@]}"; do
        cpu=$(column "$mode" "$c" '$4 / hz' | median)
        added=-
        pct=-
        if [ -n "$base" ] && [ "$c" != none ]; then
            added=$(awk -v x="$cpu" -v b="$base" 'BEGIN {printf "%+.2f", x - b}')
            pct=$(awk -v x="$cpu" -v b="$base" 'BEGIN {printf "%+.1f %%", (x - b) * 100 / b}')
        fi
        tracer=-
        [ "$c" != none ] && tracer=$(column "$mode" "$c" '$5 / hz' | median | awk '{printf "%.2f", $1}')
        printf '| %s | %.2f | %s | %.2f | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
            "$(label "$c")" "$(column "$mode" "$c" '$3 / 1e9' | median)" \
            "$(column "$mode" "$c" '$3 / 1e9' | range %.1f)" "$cpu" \
            "$(column "$mode" "$c" '$4 / hz' | range %.1f)" "$added" "$pct" "$tracer" \
            "$(column "$mode" "$c" '$8' | sort -u | paste -sd/)" \
            "$(column "$mode" "$c" '$9' | median)" "$(column "$mode" "$c" '$10' | median)" \
            "$(column "$mode" "$c" '$11' | median)" "$(column "$mode" "$c" '$12' | total)"
    done
}

raw_runs() {
    local mode=$1
    echo "| run | condition | wall s | node CPU s | tracer CPU s | $([ "$mode" = reindex ] && echo 'start + indexing: wall s / node CPU s | ')block_connected | delivered | lost | load | per ring or probe |"
    echo "|---:|---|---:|---:|---:|$([ "$mode" = reindex ] && echo '---:|')---:|---:|---:|---:|---|"
    awk -F'\t' -v m="$mode" -v hz="$CLK_TCK" '$15 == m {
        n++; printf "| %d | %s | %.2f | %.2f | %.2f | ", n, $1, $3 / 1e9, $4 / hz, $5 / hz
        if (m == "reindex") printf "%.2f / %.2f | ", $6 / 1e9, $7 / hz
        printf "%s | %s | %s | %s | %s |\n", $8, $11, $12, $13, $14}' "$RESULTS"
}

method_of() {
    case $1 in
    reindex)
        echo "Method: a fresh datadir with the chain's block files only; \`bitcoind -reindex -loadblock=FIFO\`. The node"
        echo "indexes the block files (no block connected but the genesis), then blocks opening the FIFO; the tracer"
        echo "attaches before, the script waits for \"Reindexing finished\" in the log, reads the node's CPU, opens and"
        echo "closes the FIFO, and waits for the tip (RPC waitforblockheight $CHAIN_HEIGHT). Wall and CPU are that"
        echo "connect phase; the start and indexing before it are in \"every run\"."
        ;;
    ibd)
        echo "Method: a fresh empty node (no peers, -connect=0); the tracer attaches; then \`addnode 127.0.0.1:PORT onetry\`"
        echo "to a second bitcoind serving the chain (one for all runs, -notracering), and the time to the tip (RPC"
        echo "waitforblockheight $CHAIN_HEIGHT): headers, download, validation. Wall and CPU are the downloading node's."
        ;;
    esac
}

REPORT=$WORK/report.md
{
    report_header "Block validation on bitcoind: reindex and download of the benchmark chain"
    echo "$(bpftrace --version 2>/dev/null || echo 'bpftrace absent')."
    echo "Chain: $CHAIN: height $CHAIN_HEIGHT, $CHAIN_TXS transactions, $(awk -v b="$CHAIN_BYTES" 'BEGIN {printf "%.0f", b / 1e6}') MB of blocks; expected per run:"
    echo "block_connected $CHAIN_HEIGHT, utxocache:add $CHAIN_OUTPUTS + utxocache:spent $CHAIN_INPUTS = $((CHAIN_INPUTS + CHAIN_OUTPUTS)) utxocache events (+ flushes)."
    echo "Medians of $REPEATS interleaved runs per condition. Node CPU = utime + stime of the whole bitcoind process"
    echo "(/proc/PID/stat, $CLK_TCK ticks/s, exited threads included); tracer CPU = the consumer's, ringdump's or"
    echo "bpftrace's process (BPF programs run in the node, in its CPU). Delivered and lost: totals over the rings"
    echo "(tracering: lost = attempted - delivered) or probes (bpftrace count; printf: lines printed, lost = \"Lost N"
    echo "events\"); the lost column sums the runs."
    for MODE in "${MODE_LIST[@]}"; do
        echo
        echo "### $MODE"
        echo
        method_of "$MODE"
        echo "Load average ${LOADS[$MODE]}."
        echo
        table "$MODE"
        echo
        echo "Every run:"
        echo
        raw_runs "$MODE"
    done
} >"$REPORT"

echo
cat "$REPORT"
if [ -n "$OUT" ]; then
    cp "$REPORT" "$OUT" || die "cannot write $OUT" 1
    log "wrote $OUT"
fi
