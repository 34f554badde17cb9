#!/usr/bin/env bash
# Capture rate: how fast `ringdump capture` writes events and payload bytes, native and
# -capturemessages, against the disk's own bandwidth, and whether a 100 k pings/s flood of
# the test node is captured whole. See --help and bench/README.md.
# shellcheck disable=SC2016 # awk programs in single quotes are meant literally
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROG=capture_rate
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<'EOF'
usage: bench/capture_rate.sh [options]

Measures `ringdump capture` (free-running, as it runs by default: a full ring drops and
counts) for --format native, capturemessage and both (native,capturemessage) under four
loads:

  paced   tracering-capture-producer writes --paced-count ping-sized net:inbound_message
          events (8-byte payload, ~130-byte records) at --paced-rate per second (default
          1 M/s) from one thread: does the capture keep up, losing nothing?
  flat    the same, --flat-count events as fast as the capture takes them (the producer
          writes a quarter of the ring, then waits until ringdump's backlog is under half
          the ring: tracering-capture-producer --throttle): the capture's ceiling, nothing
          dropped
  large   --large-count events of --large-bytes (default 1 MiB, a block), throttled the
          same way: MB/s written, next to the disk's own write bandwidth measured in the
          same run on the same filesystem (dd of --dd-mib MiB with conv=fdatasync, and with
          oflag=direct)
  node    tracering-testnode flooded by `tracering-loadgen ping --rate --node-rate`
          (default 100000) for --node-count pings: events expected, captured and lost, and
          every ping's nonce checked in the capture (native: `ringdump read`, which also
          checks the file's completeness; capturemessage: msgs_recv.dat parsed). It must
          lose nothing.

For each run: events delivered and lost as ringdump counts them (ring seq gaps and the tail),
the producer's drop counters, events/s captured (delivered over the time from the first
event written until ringdump had read the whole ring; node: from the start of the load to
ringdump's exit), ringdump's CPU time (utime + stime, /usr/bin/time) per
event, and bytes written. For large, MB/s written to ringdump's exit, and with the files
then flushed to the disk (sync --data) included.

Conditions are interleaved (each repetition starts one condition later) and repeated; the
tables give medians with min-max ranges, the load average, and every run.

Options:
  --loads LIST         comma-separated subset of paced,flat,large,node (default all)
  --formats LIST       comma-separated subset of native,capturemessage,both (default all)
  --paced-count N      events per paced run (default 3000000)
  --paced-rate R       events per second of paced runs (default 1000000)
  --flat-count N       events per flat run (default 20000000)
  --large-count N      events per large run (default 1000)
  --large-bytes B      payload bytes of a large event (default 1048576; at most 4 MiB,
                       an eighth of the 32 MiB net ring)
  --dd-mib N           MiB dd writes to measure the disk (default 1024)
  --node-count N       pings per node run (default 500000)
  --node-rate R        pings per second of node runs (default 100000)
  --repeats R          repetitions of every condition (default 3)
  --dir DIR            where captures are written (default: a temporary directory in
                       TMPDIR or /tmp); each run's files are removed after it
  --pin                producer or node on CPU 0, ringdump and loadgen on CPU 1
  --out FILE           also write the results as markdown to FILE
  --no-build           use the binaries already built
  --help               this text

Builds ringdump, tracering-testnode, tracering-loadgen and tracering-capture-producer
(RelWithDebInfo, at most 2 jobs; JOBS=1 for one) into build-bench/ (tests off), or into
BUILD_DIR if set. Needs /usr/bin/time (Debian: apt-get install time) and python3.
Exit codes: 0 done, 1 bad usage or missing tool, 2 a run failed, 3 a node run lost events
or a capture missed a ping.
EOF
}

# ---------------------------------------------------------------------------------------------
# Options

LOADS=paced,flat,large,node
FORMATS=native,capturemessage,both
PACED_COUNT=3000000
PACED_RATE=1000000
FLAT_COUNT=5000000
LARGE_COUNT=1000
LARGE_BYTES=1048576
DD_MIB=1024
NODE_COUNT=500000
NODE_RATE=100000
REPEATS=3
DIR=""
PIN=0
OUT=""
BUILD=1
JOBS=${JOBS:-2}

while [ $# -gt 0 ]; do
    case $1 in
    --help | -h) usage; exit 0 ;;
    --loads) need_value "$@"; LOADS=$2; shift 2 ;;
    --formats) need_value "$@"; FORMATS=$2; shift 2 ;;
    --paced-count) need_value "$@"; positive_int "$1" "$2"; PACED_COUNT=$2; shift 2 ;;
    --paced-rate) need_value "$@"; positive_int "$1" "$2"; PACED_RATE=$2; shift 2 ;;
    --flat-count) need_value "$@"; positive_int "$1" "$2"; FLAT_COUNT=$2; shift 2 ;;
    --large-count) need_value "$@"; positive_int "$1" "$2"; LARGE_COUNT=$2; shift 2 ;;
    --large-bytes) need_value "$@"; positive_int "$1" "$2"; LARGE_BYTES=$2; shift 2 ;;
    --dd-mib) need_value "$@"; positive_int "$1" "$2"; DD_MIB=$2; shift 2 ;;
    --node-count) need_value "$@"; positive_int "$1" "$2"; NODE_COUNT=$2; shift 2 ;;
    --node-rate) need_value "$@"; positive_int "$1" "$2"; NODE_RATE=$2; shift 2 ;;
    --repeats) need_value "$@"; positive_int "$1" "$2"; REPEATS=$2; shift 2 ;;
    --dir) need_value "$@"; DIR=$2; shift 2 ;;
    --pin) PIN=1; shift ;;
    --out) need_value "$@"; OUT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) die_usage "unknown option '$1'" ;;
    esac
done

[[ $JOBS =~ ^[12]$ ]] || die_usage "JOBS must be 1 or 2 (got '$JOBS')"
[ "$LARGE_BYTES" -ge 8 ] && [ "$LARGE_BYTES" -le 4194304 ] ||
    die_usage "--large-bytes: from 8 to 4194304 (an eighth of the 32 MiB net ring)"
IFS=, read -r -a LOAD_LIST <<<"$LOADS"
IFS=, read -r -a FORMAT_LIST <<<"$FORMATS"
[ ${#LOAD_LIST[@]} -gt 0 ] || die_usage "--loads: empty list"
[ ${#FORMAT_LIST[@]} -gt 0 ] || die_usage "--formats: empty list"
CONDS=()
for l in "${LOAD_LIST[@]}"; do
    case $l in paced | flat | large | node) ;; *) die_usage "--loads: unknown load '$l' (paced, flat, large or node)" ;; esac
    for f in "${FORMAT_LIST[@]}"; do
        case $f in native | capturemessage | both) ;; *) die_usage "--formats: unknown format '$f' (native, capturemessage or both)" ;; esac
        CONDS+=("$l-$f")
    done
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian: apt-get install time); it measures ringdump's CPU time" 1
command -v python3 >/dev/null 2>&1 || die "python3 not found; it checks the nonces of -capturemessages files" 1
if [ "$PIN" = 1 ]; then
    command -v taskset >/dev/null 2>&1 || die "--pin needs taskset (util-linux)" 1
    [ "$(nproc)" -ge 2 ] || die "--pin needs at least 2 CPUs, this machine has $(nproc)" 1
fi

# ---------------------------------------------------------------------------------------------
# Build

BUILD_DIR=${BUILD_DIR:-$REPO/build-bench}
RINGDUMP=$BUILD_DIR/tools/ringdump/ringdump
TESTNODE=$BUILD_DIR/tools/testnode/tracering-testnode
LOADGEN=$BUILD_DIR/tools/loadgen/tracering-loadgen
PRODUCER=$BUILD_DIR/bench/tracering-capture-producer

if [ "$BUILD" = 1 ]; then
    build_targets "$BUILD_DIR" ringdump tracering-testnode tracering-loadgen \
        tracering-capture-producer -- -DTRACERING_BUILD_BENCH=ON
fi
need_binaries "$RINGDUMP" "$TESTNODE" "$LOADGEN" "$PRODUCER"

# ---------------------------------------------------------------------------------------------
# Processes: everything started is tracked, and killed and removed at exit.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tracering-capture-rate.XXXXXX")
TAG="cr$$"
PIDS=()
STATUS=0
trap cleanup EXIT
trap 'log "interrupted; stopping what was started"; exit 130' INT TERM
if [ -z "$DIR" ]; then
    DIR=$WORK/captures
    mkdir -m 0700 "$DIR"
else
    mkdir -p "$DIR" || die "cannot create --dir $DIR" 1
    DIR=$(cd "$DIR" && pwd)
fi
CAPTURES=$(mktemp -d "$DIR/capture-rate.XXXXXX") || die "cannot write in --dir $DIR" 1
# Removed at exit along with WORK (cleanup removes WORK only).
trap 'cleanup; rm -rf "$CAPTURES"' EXIT

pinning
FS_DESC="$(df -PT "$CAPTURES" | awk 'NR == 2 {print $1 " (" $2 ")"}')"

# ---------------------------------------------------------------------------------------------
# Helpers

# format_flags FORMAT: ringdump's --format value.
format_flag() {
    case $1 in both) echo native,capturemessage ;; *) echo "$1" ;; esac
}

# ringdump_counts ERR: "delivered lost" from ringdump's last summary line.
ringdump_counts() {
    awk '/ events delivered, / {d = $2; l = $5} END {print d + 0, l + 0}' "$1"
}

# dd_rate FILE FLAGS...: MB/s of dd writing DD_MIB MiB of zeros to FILE with FLAGS.
dd_rate() {
    local file=$1
    shift
    local t0 t1
    t0=$(now)
    dd if=/dev/zero of="$file" bs=1M count="$DD_MIB" "$@" 2>/dev/null || die "dd to $file failed"
    t1=$(now)
    rm -f "$file"
    awk -v b="$((DD_MIB * 1048576))" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.0f", b / (z - a) / 1e6}'
}

# check_pings DIR N: checks that the -capturemessages files under DIR hold pings 0..N-1 in
# order, with the nonce of each, and a pong for each; prints the pings found.
check_pings() {
    python3 - "$1" "$2" <<'EOF'
import os, struct, sys
root, n = sys.argv[1], int(sys.argv[2])
def records(path):
    data = open(path, "rb").read()
    at = 0
    while at < len(data):
        if len(data) - at < 24:
            sys.exit(f"{path}: a record is cut short at byte {at}")
        kind = data[at + 8:at + 20].rstrip(b"\0").decode()
        (length,) = struct.unpack_from("<I", data, at + 20)
        payload = data[at + 24:at + 24 + length]
        if len(payload) != length:
            sys.exit(f"{path}: a payload is cut short at byte {at}")
        yield kind, payload
        at += 24 + length
pings = pongs = 0
for peer in os.listdir(root):
    if not os.path.isdir(os.path.join(root, peer)):
        continue  # capture.trcap, when both formats were written
    for kind, payload in records(os.path.join(root, peer, "msgs_recv.dat")):
        if kind == "ping":
            if payload != struct.pack("<Q", pings):
                sys.exit(f"ping {pings}: nonce {payload.hex()}")
            pings += 1
    for kind, payload in records(os.path.join(root, peer, "msgs_sent.dat")):
        if kind == "pong":
            if payload != struct.pack("<Q", pongs):
                sys.exit(f"pong {pongs}: nonce {payload.hex()}")
            pongs += 1
if pings != n or pongs != n:
    sys.exit(f"{pings} pings and {pongs} pongs captured, {n} sent")
print(pings)
EOF
}

# wait_attached SOCKET PID: until ringdump (PID) holds the net ring (30 s at most).
wait_attached() {
    for _ in $(seq 300); do
        "$RINGDUMP" list --control "$1" 2>/dev/null | grep -qE '^net +on ' && return 0
        alive "$2" || die "ringdump capture exited before it attached"
        sleep 0.1
    done
    die "ringdump capture did not attach the net ring within 30 s"
}

# ---------------------------------------------------------------------------------------------
# One run

RESULTS=$WORK/results.tsv
: >"$RESULTS"
SERIAL=0

run_condition() {
    local cond=$1 rep=$2
    local load=${cond%%-*} format=${cond#*-}
    SERIAL=$((SERIAL + 1))
    local dir=$WORK/run$SERIAL
    mkdir -p "$dir"
    local sock=$dir/control.sock name="$TAG-$SERIAL" out=$CAPTURES/run$SERIAL
    local loadavg
    loadavg=$(cut -d' ' -f1 /proc/loadavg)
    local dd_sync=- dd_direct=-
    if [ "$load" = large ]; then
        dd_sync=$(dd_rate "$CAPTURES/dd" conv=fdatasync)
        dd_direct=$(dd_rate "$CAPTURES/dd" oflag=direct)
    fi

    local producer_pid expected=- dropped=- start_ns caught_up_ns=""
    if [ "$load" = node ]; then
        start_node "$dir" "$TESTNODE" --listen 127.0.0.1:0 --control "$sock" --name "$name"
        producer_pid=$NODE
    else
        local -a flags=(--control "$sock" --name "$name")
        case $load in
        paced) flags+=(--count "$PACED_COUNT" --rate "$PACED_RATE") ;;
        flat) flags+=(--count "$FLAT_COUNT" --throttle) ;;
        large) flags+=(--count "$LARGE_COUNT" --payload "$LARGE_BYTES" --throttle) ;;
        esac
        "${NODE_CPU[@]}" "$PRODUCER" "${flags[@]}" >"$dir/producer.out" 2>"$dir/producer.err" &
        producer_pid=$!
        PIDS+=("$producer_pid")
        wait_for "$dir/producer.out" '^ready' "$producer_pid" "tracering-capture-producer"
    fi

    "${AUX_CPU[@]}" /usr/bin/time -o "$dir/time" -f '%U %S' "$RINGDUMP" capture --control "$sock" \
        --out "$out" --format "$(format_flag "$format")" >"$dir/ringdump.out" 2>"$dir/ringdump.err" &
    local rd=$!
    PIDS+=("$rd")

    if [ "$load" = node ]; then
        wait_attached "$sock" "$rd"
        start_ns=$(date +%s%N)
        run_tracked "${LOAD_CPU[@]}" "$LOADGEN" --connect "127.0.0.1:$PORT" --timeout 120 ping \
            --count "$NODE_COUNT" --rate "$NODE_RATE" >"$dir/loadgen.out" 2>"$dir/loadgen.err"
        [ "$STATUS" = 0 ] ||
            die "run $SERIAL ($cond): tracering-loadgen failed ($STATUS): $(tail -n 3 "$dir/loadgen.err")"
        stop_node "$dir" "run $SERIAL ($cond)"
    else
        STATUS=0
        wait "$producer_pid" || STATUS=$?
        forget "$producer_pid"
        [ "$STATUS" = 0 ] ||
            die "run $SERIAL ($cond): tracering-capture-producer exited with $STATUS: $(tail -n 3 "$dir/producer.err")"
        start_ns=$(result_value start_unix_ns "$dir/producer.out")
        caught_up_ns=$(result_value drained_unix_ns "$dir/producer.out")
        expected=$(result_value events "$dir/producer.out")
        dropped=$(($(result_value dropped_full "$dir/producer.out") + $(result_value dropped_too_big "$dir/producer.out") +
            $(result_value dropped_timeout "$dir/producer.out") + $(result_value dropped_reader_reset "$dir/producer.out")))
    fi
    STATUS=0
    wait "$rd" || STATUS=$?
    local end_ns
    end_ns=$(date +%s%N)
    forget "$rd"
    # The producer's runs end when ringdump caught up with the ring (ringdump then still has
    # to notice that the producer exited, which is not part of capturing).
    [ -n "$caught_up_ns" ] && end_ns=$caught_up_ns
    [ "$STATUS" = 0 ] || die "run $SERIAL ($cond): ringdump capture exited with $STATUS: $(tail -n 3 "$dir/ringdump.err")"

    local delivered lost cpu bytes sync_s
    read -r delivered lost < <(ringdump_counts "$dir/ringdump.err")
    cpu=$(awk '{print $1 + $2}' "$dir/time")
    bytes=$(du -sb "$out" | awk '{print $1}')
    local t0 t1
    t0=$(now)
    find "$out" -type f -exec sync --data {} +
    t1=$(now)
    sync_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')

    local checked=-
    if [ "$load" = node ]; then
        # Every ping and pong of the flood, with its nonce; the handshake's messages too.
        expected=$((delivered + lost))
        [ "$lost" = 0 ] || die "run $SERIAL ($cond): the capture of the node lost $lost of $expected events" 3
        [ "$delivered" -ge $((2 * NODE_COUNT)) ] ||
            die "run $SERIAL ($cond): $delivered events captured, fewer than the $((2 * NODE_COUNT)) pings and pongs" 3
        if [ "$format" != capturemessage ]; then
            "$RINGDUMP" read "$out/capture.trcap" --json >"$dir/read.json" 2>"$dir/read.err" ||
                die "run $SERIAL ($cond): ringdump read failed: $(tail -n 2 "$dir/read.err")" 3
            checked=$(python3 -c '
import json, struct, sys
n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "inbound_message" and e.get("msg_type") == "ping":
        if e["payload"] != struct.pack("<Q", n).hex():
            sys.exit("ping %d: nonce %s" % (n, e["payload"]))
        n += 1
if n != int(sys.argv[2]):
    sys.exit(f"{n} pings in the capture, {sys.argv[2]} sent")
print(n)' "$dir/read.json" "$NODE_COUNT") || die "run $SERIAL ($cond): the native capture misses pings" 3
            rm -f "$dir/read.json"
        fi
        if [ "$format" != native ]; then
            checked=$(check_pings "$out" "$NODE_COUNT" 2>"$dir/check.err") ||
                die "run $SERIAL ($cond): the message capture misses pings: $(cat "$dir/check.err")" 3
        fi
    fi
    rm -rf "$out"

    local seconds
    seconds=$(awk -v a="$start_ns" -v b="$end_ns" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cond" "$rep" "$expected" \
        "$delivered" "$lost" "$dropped" "$seconds" "$cpu" "$bytes" "$sync_s" "$dd_sync" \
        "$dd_direct" "$loadavg" >>"$RESULTS"
    awk -v c="$cond" -v r="$rep" -v e="$expected" -v d="$delivered" -v l="$lost" -v s="$seconds" \
        -v cpu="$cpu" -v b="$bytes" -v sy="$sync_s" -v dd="$dd_sync" -v dx="$dd_direct" -v la="$loadavg" -v k="$checked" \
        'BEGIN {printf "capture_rate: run %s #%s: %s/%s events, lost %s, %.0f events/s, ringdump %.0f ns/event, %.1f MB/s (%.1f with sync; dd %s/%s MB/s), pings checked %s, load %s\n",
                c, r, d, e, l, d / s, cpu * 1e9 / (d ? d : 1), b / s / 1e6, b / (s + sy) / 1e6, dd, dx, k, la}' >&2
    rm -f "$dir"/*.sock
}

# ---------------------------------------------------------------------------------------------
# The runs.

run_interleaved

# ---------------------------------------------------------------------------------------------
# Report

# column COND EXPR: EXPR over the runs of COND, one value a line. Fields: $3 expected,
# $4 delivered, $5 lost, $6 producer drops, $7 seconds, $8 ringdump CPU s, $9 bytes,
# $10 sync s, $11 dd fdatasync MB/s, $12 dd direct MB/s.
column() {
    awk -F'\t' -v c="$1" "\$1 == c {print $2}" "$RESULTS"
}

# stat COND EXPR FMT: "median (min-max)" of EXPR over the runs of COND.
stat() {
    local med range
    med=$(column "$1" "$2" | median)
    range=$(column "$1" "$2" | range "$3")
    printf "$3 (%s)" "$med" "$range"
}

small_table() {
    echo "| load | format | events/run | captured events/s | (range) | lost, all runs | producer drops, all runs | ringdump CPU ns/event | (range) |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    local c
    for c in "${CONDS[@]}"; do
        case $c in paced-* | flat-* | node-*) ;; *) continue ;; esac
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${c%%-*}" "${c#*-}" \
            "$(column "$c" '$3' | median | awk '{printf "%d", $1}')" \
            "$(stat "$c" '$4 / $7' '%.0f' | sed 's/ (/ | /; s/)$//')" \
            "$(sum_column "$c" '$5')" "$(sum_column "$c" '$6')" \
            "$(stat "$c" '$8 * 1e9 / ($4 ? $4 : 1)' '%.0f' | sed 's/ (/ | /; s/)$//')"
    done
}

large_table() {
    echo "| format | events/run | MB/s written | (range) | MB/s with sync | (range) | disk MB/s, dd fdatasync | dd direct | lost, all runs | ringdump CPU ms/event |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    local c
    for c in "${CONDS[@]}"; do
        case $c in large-*) ;; *) continue ;; esac
        printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${c#*-}" \
            "$(column "$c" '$3' | median | awk '{printf "%d", $1}')" \
            "$(stat "$c" '$9 / $7 / 1e6' '%.0f' | sed 's/ (/ | /; s/)$//')" \
            "$(stat "$c" '$9 / ($7 + $10) / 1e6' '%.0f' | sed 's/ (/ | /; s/)$//')" \
            "$(stat "$c" '$11' '%.0f')" "$(stat "$c" '$12' '%.0f')" "$(sum_column "$c" '$5')" \
            "$(column "$c" '$8 * 1e3 / ($4 ? $4 : 1)' | median | awk '{printf "%.2f", $1}')"
    done
}

raw_runs() {
    echo "| run | condition | expected | delivered | lost | producer drops | s | ringdump CPU s | bytes | sync s | dd fdatasync MB/s | dd direct MB/s | load avg (1 min) |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '{printf "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
        NR, $1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13}' "$RESULTS"
}

REPORT=$WORK/report.md
{
    echo "## Captures: ringdump capture rate"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' (with local changes)'),"
    echo "$(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -r),"
    echo "clock source $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown);"
    echo "captures written to $FS_DESC; load average $LOAD_BEFORE before, $LOAD_AFTER after."
    echo "Medians (min-max) of $REPEATS interleaved runs per condition; pinning: $([ "$PIN" = 1 ] && echo 'producer/node CPU 0, ringdump and loadgen CPU 1' || echo none)."
    echo "ringdump free-running (no --lossless). paced: $PACED_COUNT ping-sized events at $PACED_RATE/s;"
    echo "flat: $FLAT_COUNT as fast as ringdump takes them (throttled producer); node: $NODE_COUNT pings at $NODE_RATE/s to"
    echo "tracering-testnode (2 events each), every nonce checked in the capture; large: $LARGE_COUNT events"
    echo "of $LARGE_BYTES bytes as fast as ringdump takes them. Events/s = delivered / (time from the first"
    echo "event written until ringdump had read the whole ring; node: from the load's start to ringdump's"
    echo "exit); lost = ringdump's count (seq gaps and tail)."
    echo
    if [[ ,$LOADS, == *,paced,* || ,$LOADS, == *,flat,* || ,$LOADS, == *,node,* ]]; then
        small_table
        echo
    fi
    if [[ ,$LOADS, == *,large,* ]]; then
        echo "Large payloads: bytes of the capture files over the same time; with sync: until"
        echo "\`sync --data\` of the files returned. The disk: dd of $DD_MIB MiB in the same run, same filesystem."
        echo
        large_table
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
