#!/usr/bin/env bash
# Shared by the benchmark scripts of bench/ and bench/bitcoind/ (sourced, not run): command
# lines, messages, process tracking and clean-up, waiting for output, and the statistics of
# the tables.
# The sourcing script sets PROG (its name), WORK (a temp dir), TAG (its segment-name prefix)
# and PIDS=() before it starts processes, and installs `trap cleanup EXIT`.
# shellcheck shell=bash disable=SC2034 # STATUS, set here, is read by the sourcing scripts

# die_usage MESSAGE: a bad command line; points at the script's --help.
die_usage() {
    printf '%s: %s\n(see %s --help)\n' "$PROG" "$1" "$0" >&2
    exit 1
}

need_value() { [ $# -ge 2 ] || die_usage "missing value after $1"; }

positive_int() {
    [[ $2 =~ ^[1-9][0-9]*$ ]] || die_usage "$1: '$2' is not a positive integer"
}

die() {
    printf '%s: error: %s\n' "$PROG" "$1" >&2
    exit "${2:-2}"
}

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
    rm -f /dev/shm/tracering."$TAG"-*
}

# Whether the process runs (a zombie does not).
alive() {
    local state
    state=$(awk '{s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[1]}' \
        "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

forget() {
    local -a keep=()
    local pid
    for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

# run_tracked CMD...: runs CMD in the background and waits for it, so that a signal to this
# script is handled at once (bash defers traps until a foreground command ends); sets STATUS
# to its exit status.
run_tracked() {
    "$@" &
    local pid=$!
    PIDS+=("$pid")
    STATUS=0
    wait "$pid" || STATUS=$?
    forget "$pid"
}

stop() {
    local pid=$1 signal=$2
    kill -s "$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 300); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
        log "pid $pid ignored SIG$signal for 30 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    STATUS=0
    wait "$pid" 2>/dev/null || STATUS=$?
    forget "$pid"
}

# wait_for FILE REGEX PID WHAT: until FILE has a line matching REGEX (30 s at most).
wait_for() {
    local file=$1 regex=$2 pid=$3 what=$4
    for _ in $(seq 300); do
        grep -qE "$regex" "$file" 2>/dev/null && return 0
        alive "$pid" || die "$what exited before it was ready: $(tail -n 5 "${file%.out}.err" 2>/dev/null)"
        sleep 0.1
    done
    die "$what not ready after 30 s: $(tail -n 5 "${file%.out}.err" 2>/dev/null)"
}

# result_value KEY FILE [FILTER]: KEY's value on the last "result ..." line (matching FILTER).
result_value() {
    grep -E "^result .*${3:-}" "$2" | tail -n 1 |
        awk -v k="$1" '{for (i = 2; i <= NF; ++i) { n = index($i, "="); if (substr($i, 1, n - 1) == k) print substr($i, n + 1) }}'
}

median() {
    sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

sum_column() {
    column "$1" "$2" | awk '{if ($1 == "-") dash = 1; s += $1} END {if (dash) print "-"; else printf "%d\n", s}'
}

# run_interleaved: calls `run_condition COND REP` for every condition in CONDS, REPEATS times;
# repetition r starts (r - 1) conditions later, so the machine's drift spreads over all of
# them. Sets LOAD_BEFORE and LOAD_AFTER, the load averages around the runs.
run_interleaved() {
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    log "load average before: $LOAD_BEFORE; ${#CONDS[@]} conditions x $REPEATS repetitions"
    local rep k
    for ((rep = 1; rep <= REPEATS; ++rep)); do
        for ((k = 0; k < ${#CONDS[@]}; ++k)); do
            run_condition "${CONDS[$(((k + rep - 1) % ${#CONDS[@]}))]}" "$rep"
        done
    done
    LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
}

# pinning: with PIN=1, the node runs on CPU 0 and everything else on CPU 1; otherwise the
# scheduler decides. Sets NODE_CPU, AUX_CPU (consumers, tracers) and LOAD_CPU (loadgen).
pinning() {
    NODE_CPU=()
    AUX_CPU=()
    LOAD_CPU=()
    if [ "$PIN" = 1 ]; then
        NODE_CPU=(taskset -c 0)
        AUX_CPU=(taskset -c 1)
        LOAD_CPU=(taskset -c 1)
    fi
}

# start_node DIR BIN FLAG...: starts a test node on NODE_CPU, its output in DIR/node.out and
# DIR/node.err, and waits for its "ready PORT" line. Sets NODE (its pid) and PORT.
start_node() {
    local dir=$1 bin=$2
    shift 2
    "${NODE_CPU[@]}" "$bin" "$@" >"$dir/node.out" 2>"$dir/node.err" &
    NODE=$!
    PIDS+=("$NODE")
    wait_for "$dir/node.out" '^ready [0-9]+' "$NODE" "tracering-testnode"
    PORT=$(awk '/^ready/ {print $2; exit}' "$dir/node.out")
}

# stop_node DIR RUN: SIGTERM to NODE; a node that does not exit 0 ends the benchmark, naming
# RUN and the end of its error output.
stop_node() {
    stop "$NODE" TERM
    [ "$STATUS" = 0 ] || die "$2: tracering-testnode exited with $STATUS: $(tail -n 3 "$1/node.err")"
}

# start_consumer OUT ERR FLAG...: starts tracering-count-consumer on AUX_CPU and waits until
# it has attached (plus a short settle). Sets CONSUMER_PID.
start_consumer() {
    local out=$1 err=$2
    shift 2
    "${AUX_CPU[@]}" "$CONSUMER" "$@" >"$out" 2>"$err" &
    CONSUMER_PID=$!
    PIDS+=("$CONSUMER_PID")
    wait_for "$out" '^attached' "$CONSUMER_PID" "tracering-count-consumer"
    sleep 0.2
}
