#!/usr/bin/env bash
# Instructions, not seconds: a real bitcoind under callgrind, a ping flood and a short reindex,
# with nobody attached and with a tracering consumer (running natively). The node's added
# instructions per ping and per block are stable where CPU times on a busy 2-core machine
# are not. See --help and bench/bitcoind/README.md.
# shellcheck disable=SC2016 # awk programs in single quotes are meant literally
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PROG=bitcoind/callgrind
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$HERE/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$HERE/common.sh"

usage() {
    cat <<EOF
usage: bench/bitcoind/callgrind.sh [options]

Runs the patched bitcoind under valgrind --tool=callgrind (about 50x slower) and counts the
instructions it executes (Ir) in a measured window, with nobody attached (none) and with
tracering-count-consumer attached (tracering; the consumer runs natively, outside valgrind,
and reads every event). The difference, divided by the work, is tracering's cost in
instructions, a figure that does not move with the machine's load:

  ping     a fresh node; tracering-loadgen sends --warmup pings (unmeasured), then callgrind's
           counters are zeroed (callgrind_control --zero), --pings pings are sent, and the
           counters dumped (callgrind_control --dump). Consumer on the net ring. Added
           instructions per ping (2 events: inbound ping, outbound pong).
  reindex  the chain of make_chain.py cut at --height (cut_chain.py: the genesis block and
           heights 1..HEIGHT in one block file), -reindex -loadblock=FIFO as in blocks.sh:
           the node indexes the file, the counters are zeroed, the FIFO is opened (the
           node then connects every block), and the counters are dumped at the tip.
           Consumer on all 5 rings. -par=1: validation in one thread. Added instructions
           per block and per utxocache event.

Two figures per run: the instructions of the whole process in the window (every thread:
what the node paid), and the inclusive instructions of the function that does the work
(PeerManagerImpl::ProcessMessages for pings, where both tracepoints fire;
Chainstate::ActivateBestChain for blocks), which leaves out threads idling or polling in
the window, so it is the steadier one.

Options:
  --modes LIST        comma-separated subset of ping,reindex (default both)
  --conditions LIST   comma-separated subset of none,tracering (default both)
  --pings N           measured pings (default 2000)
  --warmup N          unmeasured pings before them (default 200)
  --height H          reindex the chain's first H blocks (default 200; the first 101 carry
                      little more than their coinbase, then ~200 transactions each)
  --repeats R         repetitions of every condition (default 1; instruction counts repeat
                      to within a fraction of a percent, see the report)
  --timeout S         longest wait for a node under valgrind (start, load, tip; default 3600)
  --out FILE          also write the results as markdown to FILE
$CHAIN_OPTIONS_HELP
$COMMON_OPTIONS_HELP
  --help              this text

Needs valgrind (sudo scripts/install-deps.sh --bench). A default run (2 modes x 2
conditions) takes about 5-8 minutes on the project's 2-core machine, most of it the two
reindexes under valgrind (about 2 minutes each). Exit codes: 0 done, 1 bad usage or missing tool, 2 a run failed,
3 events were lost without being counted.
EOF
}

# ---------------------------------------------------------------------------------------------
# Options

MODES=ping,reindex
CONDITIONS=none,tracering
PINGS=2000
WARMUP=200
HEIGHT=200
REPEATS=1
TIMEOUT=3600
OUT=""


while [ $# -gt 0 ]; do
    case $1 in
    --help | -h) usage; exit 0 ;;
    --modes) need_value "$@"; MODES=$2; shift 2 ;;
    --conditions) need_value "$@"; CONDITIONS=$2; shift 2 ;;
    --pings) need_value "$@"; positive_int "$1" "$2"; PINGS=$2; shift 2 ;;
    --warmup) need_value "$@"; [[ $2 =~ ^[0-9]+$ ]] || die_usage "--warmup: '$2' is not a number"
        WARMUP=$2; shift 2 ;;
    --height) need_value "$@"; positive_int "$1" "$2"; HEIGHT=$2; shift 2 ;;
    --repeats) need_value "$@"; positive_int "$1" "$2"; REPEATS=$2; shift 2 ;;
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
NEED=(bitcoind bitcoin-cli)
for m in "${MODE_LIST[@]}"; do
    case $m in
    ping) NEED+=(loadgen) ;;
    reindex) ;;
    *) die_usage "--modes: unknown mode '$m' (ping or reindex)" ;;
    esac
done
for c in "${COND_LIST[@]}"; do
    case $c in
    none) ;;
    tracering) NEED+=(consumer) ;;
    *) die_usage "--conditions: unknown condition '$c' (none or tracering)" ;;
    esac
done
resolve_binaries "${NEED[@]}"
for tool in valgrind callgrind_control callgrind_annotate; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found: run 'sudo scripts/install-deps.sh --bench'" 1
done
command -v python3 >/dev/null 2>&1 || die "python3 is needed (free ports, the chain)" 1
[ -z "$OUT" ] || OUT=$(absolute "$OUT")

# ---------------------------------------------------------------------------------------------
# Processes: everything started is tracked, and stopped and removed at exit.

WORK=$(mktemp -d /tmp/tracering-bitcoind-callgrind.XXXXXX)
TAG="bcg$$"
PIDS=()
STATUS=0
trap bitcoind_cleanup EXIT
trap 'log "interrupted; stopping what was started"; exit 130' INT TERM

NODE_START_TIMEOUT=$TIMEOUT

if [[ ,$MODES, == *,reindex,* ]]; then
    ensure_chain
    [ "$HEIGHT" -le "$CHAIN_HEIGHT" ] || die_usage "--height $HEIGHT is above the chain's height $CHAIN_HEIGHT"
    CUT=$WORK/cut-$HEIGHT
    python3 "$HERE/cut_chain.py" "$CHAIN/regtest/blocks" "$CUT" "$HEIGHT" >&2 ||
        die "cutting the chain at height $HEIGHT failed"
    CUT_ROW=$(awk -F'\t' -v h="$HEIGHT" '$1 == h' "$CHAIN/heights.tsv")
    [ -n "$CUT_ROW" ] || die "$CHAIN/heights.tsv has no row for height $HEIGHT"
    CUT_TXS=$(cut -f2 <<<"$CUT_ROW")
    CUT_INPUTS=$(cut -f3 <<<"$CUT_ROW")
    CUT_OUTPUTS=$(cut -f4 <<<"$CUT_ROW")
fi

# stop_slow PID WHAT: SIGTERM and a clean exit within TIMEOUT (a node under valgrind shuts
# down slowly, and callgrind writes its last file then).
stop_slow() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + TIMEOUT))
    while alive "$pid" && [ $SECONDS -lt "$deadline" ]; do sleep 0.5; done
    alive "$pid" && die "$2: bitcoind under valgrind did not stop within $TIMEOUT s"
    STATUS=0
    wait "$pid" 2>/dev/null || STATUS=$?
    forget "$pid"
    [ "$STATUS" = 0 ] || die "$2: bitcoind under valgrind exited with $STATUS: $(node_errors)"
}

# callgrind_do WHAT ARGS...: callgrind_control ARGS... on NODE (through valgrind's gdbserver).
callgrind_do() {
    local what=$1
    shift
    callgrind_control "$@" "$NODE" >"$DIR/callgrind_control.log" 2>&1 ||
        die "run $SERIAL: callgrind_control $* ($what) failed: $(tail -n 3 "$DIR/callgrind_control.log")"
}

# totals FILE: the total Ir of a callgrind dump (its summary line, callgrind_annotate's
# PROGRAM TOTALS).
totals() {
    awk '/^summary:/ {print $2; exit}' "$1"
}

# inclusive FILE FUNCTION: inclusive Ir of FUNCTION (a prefix of its demangled name) in FILE.
inclusive() {
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
        awk -v f="$2" 'found == "" {line = $0; sub(/^ */, "", line); split(line, w, " ")
            # The function itself, not a "non-virtual thunk to" it (which only adds a jump).
            # Read to the end: callgrind_annotate must not die of SIGPIPE (pipefail).
            if (index(line, ":" f "(") == 0 || index(line, "thunk") > 0) next
            found = w[1]; gsub(/,/, "", found)} END {print found}'
}

# ---------------------------------------------------------------------------------------------
# One run

RESULTS=$WORK/results.tsv
: >"$RESULTS"
SERIAL=0
MODE=""

load() {
    run_tracked "$LOADGEN" --connect "127.0.0.1:$PORT" --timeout "$TIMEOUT" ping --count "$1" \
        >"$2" 2>"${2%.out}.err"
    [ "$STATUS" = 0 ] || die "run $SERIAL: tracering-loadgen failed ($STATUS): $(tail -n 3 "${2%.out}.err")"
}

release_gate() {
    (: >"$1") &
    local opener=$!
    PIDS+=("$opener")
    local deadline=$((SECONDS + TIMEOUT))
    while alive "$opener"; do
        alive "$NODE" || die "run $SERIAL: bitcoind exited before it opened its -loadblock FIFO: $(node_errors)"
        [ $SECONDS -lt "$deadline" ] || die "run $SERIAL: bitcoind did not open its -loadblock FIFO"
        sleep 0.1
    done
    wait "$opener" 2>/dev/null || true
    forget "$opener"
}

run_condition() {
    local cond=$1 rep=$2
    SERIAL=$((SERIAL + 1))
    DIR=$WORK/run$SERIAL-$MODE-$cond
    mkdir -p "$DIR"
    local out=$DIR/callgrind.out
    # --dump-instr=no, --dump-line=no: per-function costs only, small and quick to annotate.
    NODE_WRAP=(valgrind --tool=callgrind "--callgrind-out-file=$out" --dump-line=no --dump-instr=no
        --vgdb=yes --vex-iropt-register-updates=allregs-at-mem-access)
    local t0 units work_fn
    t0=$SECONDS

    if [ "$MODE" = ping ]; then
        local rpcport
        read -r PORT rpcport <<<"$(free_ports 2)"
        start_bitcoind "$DIR/node" "$rpcport" -listen=1 "-bind=127.0.0.1:$PORT" "-port=$PORT" -connect=0
        units=$PINGS
        work_fn=PeerManagerImpl::ProcessMessages
    else
        mkdir -p "$DIR/node/regtest/blocks"
        cp "$CUT"/* "$DIR/node/regtest/blocks/"
        mkfifo "$DIR/gate"
        start_bitcoind "$DIR/node" "$(free_ports 1)" -listen=0 -connect=0 -par=1 -reindex "-loadblock=$DIR/gate"
        units=$HEIGHT
        work_fn=Chainstate::ActivateBestChain
    fi
    local tracer=""
    if [ "$cond" = tracering ]; then
        local -a rings=(--ring net)
        [ "$MODE" = reindex ] && rings+=(--ring validation --ring utxocache --ring mempool --ring coin_selection)
        start_count_consumer "$DIR/tracer.out" "${rings[@]}"
        tracer=$TRACER
    fi

    if [ "$MODE" = ping ]; then
        [ "$WARMUP" -gt 0 ] && load "$WARMUP" "$DIR/warmup.out"
        callgrind_do zero --zero
        load "$PINGS" "$DIR/loadgen.out"
        callgrind_do dump --dump=measured
    else
        wait_until "$TIMEOUT" "$NODE" "run $SERIAL: bitcoind indexing the block file" "$DIR/node.stderr" \
            file_has "$NODE_LOG" 'Reindexing finished'
        callgrind_do zero --zero
        release_gate "$DIR/gate"
        wait_height "$HEIGHT" "$TIMEOUT"
        callgrind_do dump --dump=measured
    fi

    local delivered=- lost=- events=-
    if [ -n "$tracer" ]; then
        stop "$tracer" INT
        [ "$STATUS" = 0 ] || die "run $SERIAL: tracering-count-consumer exited with $STATUS: $(tail -n 3 "$DIR/tracer.err")" 3
        delivered=$(awk '/^result ring=/ {for (i = 2; i <= NF; ++i) if ($i ~ /^delivered=/) {sub(/.*=/, "", $i); s += $i}} END {print s + 0}' "$DIR/tracer.out")
        lost=$(awk '/^result ring=/ {for (i = 2; i <= NF; ++i) if ($i ~ /^lost=/) {sub(/.*=/, "", $i); s += $i}} END {print s + 0}' "$DIR/tracer.out")
        if [ "$MODE" = ping ]; then
            events="$(result_value inbound_ping "$DIR/tracer.out" ring=net) pings + $(result_value outbound_pong "$DIR/tracer.out" ring=net) pongs"
        else
            events="$(result_value block_connected "$DIR/tracer.out" ring=validation) block_connected + $(result_value delivered "$DIR/tracer.out" ring=utxocache) utxocache"
        fi
    fi
    stop_slow "$NODE" "run $SERIAL ($MODE $cond)"

    # The dump made by --dump is the file with the measured window; the last one is the rest.
    local dump
    dump=$(grep -l '^desc: Trigger: .*measured' "$out"* 2>/dev/null | head -n 1)
    [ -n "$dump" ] || dump=$(find "$DIR" -maxdepth 1 -name 'callgrind.out.*' | sort | head -n 1)
    if [ -z "$dump" ] || [ ! -s "$dump" ]; then
        die "run $SERIAL: no callgrind dump of the measured window in $DIR"
    fi
    local total work
    total=$(totals "$dump")
    work=$(inclusive "$dump" "$work_fn")
    [ -n "$total" ] || die "run $SERIAL: no totals in $dump"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$MODE" "$cond" "$rep" "$units" "$total" \
        "${work:--}" "$delivered" "$lost" "$events" "$((SECONDS - t0))" >>"$RESULTS"
    log "run $SERIAL $MODE $cond/$rep: $total Ir in the window ($work_fn: ${work:-?}), $((SECONDS - t0)) s"
    rm -rf "$DIR/node" "$DIR/gate"
}

# ---------------------------------------------------------------------------------------------
# The runs.

CONDS=("${COND_LIST[@]}")
for MODE in "${MODE_LIST[@]}"; do
    log "mode $MODE under callgrind: ${#CONDS[@]} conditions x $REPEATS (slow)"
    run_interleaved
done

# ---------------------------------------------------------------------------------------------
# Report

# column MODE COND FIELD: a field over the runs of MODE and COND. Fields: $4 units, $5 total
# Ir, $6 work-function Ir, $7 delivered, $8 lost, $9 events, $10 seconds.
column() {
    awk -F'\t' -v m="$1" -v c="$2" "\$1 == m && \$2 == c {print $3}" "$RESULTS"
}

spread() {
    sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {if (NR < 2) print "-"; else printf "%.2f %%", (hi - lo) * 100 / lo}'
}

table() {
    local mode=$1 unit c base_t base_w t w
    unit=$([ "$mode" = ping ] && echo ping || echo block)
    echo "| condition | ${unit}s | Ir, whole node | Ir/$unit | added Ir/$unit | added % | Ir in $( [ "$mode" = ping ] && echo 'ProcessMessages' || echo 'ActivateBestChain'), incl. | Ir/$unit | added Ir/$unit | added % | spread of repeats (whole / function) | events read | lost |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    base_t=$(column "$mode" none '$5' | median)
    base_w=$(column "$mode" none '$6' | median)
    for c in "${COND_LIST[@]}"; do
        t=$(column "$mode" "$c" '$5' | median)
        w=$(column "$mode" "$c" '$6' | median)
        awk -v c="$c" -v n="$(column "$mode" "$c" '$4' | head -n 1)" -v t="$t" -v w="$w" \
            -v bt="$base_t" -v bw="$base_w" -v st="$(column "$mode" "$c" '$5' | spread)" \
            -v sw="$(column "$mode" "$c" '$6' | spread)" -v ev="$(column "$mode" "$c" '$9' | head -n 1)" \
            -v lo="$(column "$mode" "$c" '$8' | awk '{if ($1 == "-") d = 1; s += $1} END {print d ? "-" : s}')" \
            -v has_base="$([[ ,$CONDITIONS, == *,none,* ]] && echo 1 || echo 0)" 'BEGIN {
            at = "-"; ap = "-"; aw = "-"; apw = "-"
            if (has_base && c != "none") {
                at = sprintf("%+.0f", (t - bt) / n); ap = sprintf("%+.2f %%", (t - bt) * 100 / bt)
                if (w != "nan" && bw != "nan") { aw = sprintf("%+.0f", (w - bw) / n); apw = sprintf("%+.2f %%", (w - bw) * 100 / bw) }
            }
            printf "| %s | %d | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s |\n", c, n, t, t / n, at, ap,
                (w == "nan" ? "-" : sprintf("%.0f", w)), (w == "nan" ? "-" : sprintf("%.0f", w / n)), aw, apw, st, sw, ev, lo
        }'
    done
}

REPORT=$WORK/report.md
{
    report_header "bitcoind under callgrind: instructions added by a tracering consumer"
    echo "$(valgrind --version). Medians of $REPEATS run(s) per condition (conditions interleaved)."
    for MODE in "${MODE_LIST[@]}"; do
        echo
        if [ "$MODE" = ping ]; then
            echo "### Ping flood: $PINGS pings (after $WARMUP unmeasured)"
            echo
            echo "Window: callgrind_control --zero before the measured pings, --dump after the last pong. tracering:"
            echo "tracering-count-consumer on the net ring (2 events per ping). Ir in ProcessMessages is inclusive of"
            echo "everything it calls (the message's processing, the pong's PushMessage and both tracepoints)."
        else
            echo "### Reindex: the chain's first $HEIGHT blocks"
            echo
            echo "$CUT_TXS transactions, $CUT_INPUTS inputs spent and $CUT_OUTPUTS outputs created (utxocache add +"
            echo "spent = $((CUT_INPUTS + CUT_OUTPUTS)) events); -par=1. Window: from callgrind_control --zero, with the block"
            echo "file indexed and the node waiting on its -loadblock FIFO, to --dump at the tip. tracering: the consumer"
            echo "on all 5 rings."
        fi
        echo
        table "$MODE"
        if [[ ,$CONDITIONS, == *,none,* && ,$CONDITIONS, == *,tracering,* ]]; then
            EV_COUNT=$((2 * PINGS))
            EV_WHAT="2 per ping: inbound ping, outbound pong"
            EV_FN=ProcessMessages
            if [ "$MODE" = reindex ]; then
                EV_COUNT=$((CUT_INPUTS + CUT_OUTPUTS + HEIGHT))
                EV_WHAT="utxocache add + spent + block_connected"
                EV_FN=ActivateBestChain
            fi
            echo
            awk -v a="$(column "$MODE" none '$5' | median)" -v b="$(column "$MODE" tracering '$5' | median)" \
                -v fa="$(column "$MODE" none '$6' | median)" -v fb="$(column "$MODE" tracering '$6' | median)" \
                -v e="$EV_COUNT" -v what="$EV_WHAT" -v fn="$EV_FN" \
                'BEGIN {printf "Per event written (%d events, %s): %+.0f Ir for the whole node, %+.0f Ir in %s.\n",
                        e, what, (b - a) / e, (fb - fa) / e, fn}'
        fi
    done
    echo
    echo "Every run:"
    echo
    echo "| mode | condition | rep | units | Ir whole node | Ir work function | delivered | lost | events | wall s (under valgrind) |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---|---:|"
    awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10}' "$RESULTS"
} >"$REPORT"

echo
cat "$REPORT"
if [ -n "$OUT" ]; then
    cp "$REPORT" "$OUT" || die "cannot write $OUT" 1
    log "wrote $OUT"
fi
