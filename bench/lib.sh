#!/usr/bin/env bash
# Shared by the benchmark scripts of bench/ and bench/bitcoind/ (sourced, not run): command
# lines, messages, process tracking and clean-up, waiting for output, and the statistics of
# the tables.
# The sourcing script sets PROG (its name), WORK (a temp dir), TAG (its segment-name prefix)
# and PIDS=() before it starts processes, and installs `trap cleanup EXIT`; for
# build_targets, REPO (the source tree) and JOBS (build jobs) as well.
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

# build_targets DIR TARGET... -- [CMAKE_OPTION...]: configures DIR from REPO (RelWithDebInfo,
# no tests, nothing installed, then the options) and builds the targets with at most JOBS
# jobs; the logs are DIR/bench-configure.log and DIR/bench-build.log. Configured every time,
# so a directory configured earlier with other options gets these.
build_targets() {
    local dir=$1
    shift
    local -a targets=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do targets+=("$1"); shift; done
    [ $# -eq 0 ] || shift
    log "building ${targets[*]} in ${dir#"$REPO"/}"
    mkdir -p "$dir"
    cmake -S "$REPO" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DTRACERING_BUILD_TESTS=OFF -DTRACERING_INSTALL=OFF "$@" >"$dir/bench-configure.log" 2>&1 ||
        die "configuring $dir failed; see $dir/bench-configure.log"
    cmake --build "$dir" --parallel "$JOBS" --target "${targets[@]}" >"$dir/bench-build.log" 2>&1 ||
        die "building ${targets[*]} in $dir failed; see $dir/bench-build.log (and bench-configure.log for what was configured)"
}

# need_binaries FILE...: each must exist and be executable (what build_targets built).
need_binaries() {
    local bin
    for bin in "$@"; do
        [ -x "$bin" ] || die "$bin is missing; run without --no-build" 1
    done
}

# cpu_ticks PID: utime + stime of the whole process in clock ticks (fields 14 and 15 of
# /proc/PID/stat), threads that already exited included (they are in /proc/PID/stat, not in
# /proc/PID/task/).
cpu_ticks() {
    awk '{s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[12] + f[13]}' "/proc/$1/stat" 2>/dev/null ||
        die "cannot read /proc/$1/stat: the process is gone"
}

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

# range [FORMAT]: "min-max" of the numbers on stdin, each printed with FORMAT (default %.0f).
range() {
    sort -g | awk -v f="${1:-%.0f}" 'NR == 1 {lo = $1} {hi = $1} END {printf f "-" f, lo, hi}'
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

# ---------------------------------------------------------------------------------------------
# tracering-extractor and nats-server (bench/extractor_flood.sh, bench/bitcoind/ping_flood.sh)

# find_nats_server: sets NATS_SERVER (on PATH, or in /usr/sbin, /usr/local/sbin), or dies.
find_nats_server() {
    NATS_SERVER=$(command -v nats-server || PATH=/usr/sbin:/usr/local/sbin command -v nats-server || true)
    [ -n "$NATS_SERVER" ] || die "nats-server not found (Debian: apt-get install nats-server)" 1
    command -v curl >/dev/null 2>&1 || die "curl not found (it reads the extractor's metrics)" 1
}

# start_nats DIR: nats-server on AUX_CPU, on a free port of 127.0.0.1, configured by
# DIR/nats.conf with max_payload 5MB as peer-observer asks (events carry whole blocks), its
# output in DIR/nats.out. Sets NATS_PID and NATS_PORT.
start_nats() {
    local dir=$1
    NATS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
        die "cannot find a free TCP port (python3 needed)"
    printf 'listen: 127.0.0.1:%s\nmax_payload: 5MB\n' "$NATS_PORT" >"$dir/nats.conf"
    "${AUX_CPU[@]}" "$NATS_SERVER" -c "$dir/nats.conf" >"$dir/nats.out" 2>&1 &
    NATS_PID=$!
    PIDS+=("$NATS_PID")
}

# start_extractor DIR BIN FLAG...: tracering-extractor BIN on AUX_CPU, free-running, publishing
# to NATS_PORT, its metrics on a free port, the stats line only at exit; FLAGs name the node
# (--control PATH, or --datadir DIR --chain CHAIN). Its log in DIR/extractor.out. Waits until
# it has attached to the node and connected to NATS. Sets EXTRACTOR_PID and EXTRACTOR_URL.
start_extractor() {
    local dir=$1 bin=$2
    shift 2
    "${AUX_CPU[@]}" "$bin" "$@" -a "127.0.0.1:$NATS_PORT" --metrics-address 127.0.0.1:0 \
        --stats-interval 0 >"$dir/extractor.out" 2>&1 &
    EXTRACTOR_PID=$!
    PIDS+=("$EXTRACTOR_PID")
    wait_for "$dir/extractor.out" 'attached to the node' "$EXTRACTOR_PID" "tracering-extractor"
    wait_for "$dir/extractor.out" 'connected to NATS' "$EXTRACTOR_PID" "tracering-extractor"
    EXTRACTOR_URL="http://$(grep -oE 'metrics at http://[^ ]+' "$dir/extractor.out" | sed 's|metrics at http://||')"
    sleep 0.2
}

# extractor_metric URL NAME LABEL: one value of the extractor's Prometheus endpoint.
extractor_metric() {
    curl -sf "$1" | awk -v m="tracering_extractor_$2{$3}" '$1 == m {print $2}'
}

# extractor_handled URL: the extractor's events handled so far (published, refused, failed or
# skipped) and read, on one line.
extractor_handled() {
    curl -sf "$1" | awk '
        /^tracering_extractor_messages_(published|refused|failed)_total/ {h += $2}
        /^tracering_extractor_events_skipped_total/ {h += $2}
        /^tracering_extractor_events_read_total/ {r += $2}
        END {print h + 0, r + 0}'
}

now() { date +%s.%N; }

# extractor_settled URL: waits (30 s at most) until the extractor has handled everything it
# read. Sets HANDLED and READ.
extractor_settled() {
    for _ in $(seq 300); do
        read -r HANDLED READ < <(extractor_handled "$1")
        [ "$HANDLED" = "$READ" ] && return 0
        sleep 0.1
    done
}

# extractor_drained URL: waits (30 s at most) until the extractor has handled everything it
# read and has read nothing more for 0.3 s. Sets HANDLED, READ and LAST_CHANGE (the time, as
# `now` gives it, at which its counts last moved).
extractor_drained() {
    local prev=-1
    LAST_CHANGE=$(now)
    for _ in $(seq 600); do
        read -r HANDLED READ < <(extractor_handled "$1")
        if [ "$READ" != "$prev" ] || [ "$HANDLED" != "$READ" ]; then
            prev=$READ
            LAST_CHANGE=$(now)
        elif awk -v a="$(now)" -v b="$LAST_CHANGE" 'BEGIN {exit !(a - b > 0.3)}'; then
            return 0
        fi
        sleep 0.05
    done
}

# extractor_stat FILE GROUP [NAME]: from the last `stats` line of the extractor's log FILE, the
# value of NAME in GROUP (read, lost, skipped: per ring net, mempool, validation; published,
# refused, failed, unconfirmed, undecodable: per subject netmsg, netconn, mempool,
# validation), or without NAME the sum over GROUP; empty if there is no stats line.
extractor_stat() {
    grep -E '(^| )stats read ' "$1" | tail -n 1 | awk -v g="$2" -v k="${3:-}" '
        {for (i = 1; i <= NF; ++i) {
            if ($i ~ /^[a-z_]+$/) { group = $i; continue }
            n = index($i, "=")
            if (n == 0) continue
            if (substr($i, 1, n - 1) ~ /^(attaches|nats_reconnects)$/) group = ""
            if (group != g) continue
            if (k == "" || substr($i, 1, n - 1) == k) { s += substr($i, n + 1); found = 1 }
        }}
        END {if (found) print s + 0}'
}
