#!/usr/bin/env bash
# Shared by the benchmarks of bench/bitcoind/ (sourced after ../lib.sh, not run): where the
# binaries are, options common to every script, starting and stopping a real bitcoind on a
# fresh regtest datadir, waiting on its state, its CPU time, bpftrace programs for its 20
# tracepoints, and the chain cache of make_chain.py.
# The sourcing script sets PROG, REPO, WORK and PIDS=() as lib.sh asks, and installs
# `trap bitcoind_cleanup EXIT`.
# shellcheck shell=bash disable=SC2034 # variables set here are read by the sourcing scripts

# ---------------------------------------------------------------------------------------------
# Binaries: options, then environment, then the project's locations.

BITCOIND=${BITCOIND:-$REPO/build-bitcoin/bitcoin-build/bin/bitcoind}
BITCOIN_CLI=${BITCOIN_CLI:-}
TRACERING_TOOLS=${TRACERING_TOOLS:-$REPO/build-bitcoin/tracering/bin}
RINGDUMP=${RINGDUMP:-}
LOADGEN=${LOADGEN:-}
COUNT_CONSUMER=${COUNT_CONSUMER:-}
EXTRACTOR=${EXTRACTOR:-}
BENCH_BUILD=$REPO/build-bench
BUILD=1
JOBS=${JOBS:-2}

COMMON_OPTIONS_HELP='Binaries (options win over the environment variables in brackets):
  --bitcoind PATH     the patched bitcoind (tracering + USDT)                      [BITCOIND]
                      (default: build-bitcoin/bitcoin-build/bin/bitcoind, as made by
                      contrib/bitcoin-core/build-bitcoind.sh)
  --bitcoin-cli PATH  its bitcoin-cli (default: beside --bitcoind)              [BITCOIN_CLI]
  --loadgen PATH      tracering-loadgen (default: build-bitcoin/tracering/bin/)     [LOADGEN]
  --ringdump PATH     ringdump (default: build-bitcoin/tracering/bin/)             [RINGDUMP]
  --consumer PATH     tracering-count-consumer (default: built into build-bench/
                      from bench/count_consumer.cpp)                         [COUNT_CONSUMER]
  --no-build          do not build tracering-count-consumer; use what is there'

# common_option ARGS...: parses one option shared by every script; sets SHIFT to the number
# of arguments it took, or returns 1 if $1 is not one of them.
common_option() {
    SHIFT=2
    case $1 in
    --bitcoind) need_value "$@"; BITCOIND=$2 ;;
    --bitcoin-cli) need_value "$@"; BITCOIN_CLI=$2 ;;
    --loadgen) need_value "$@"; LOADGEN=$2 ;;
    --ringdump) need_value "$@"; RINGDUMP=$2 ;;
    --consumer) need_value "$@"; COUNT_CONSUMER=$2; BUILD=0 ;;
    --no-build) BUILD=0; SHIFT=1 ;;
    *) return 1 ;;
    esac
}

# absolute PATH: PATH made absolute (it need not exist yet).
absolute() {
    case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac
}

# resolve_binaries NEED...: fills the defaults, builds tracering-count-consumer if asked for
# and allowed, and checks that each needed binary (bitcoind bitcoin-cli loadgen ringdump
# consumer extractor) is executable.
resolve_binaries() {
    BITCOIND=$(absolute "$BITCOIND")
    [ -n "$BITCOIN_CLI" ] || BITCOIN_CLI=$(dirname "$BITCOIND")/bitcoin-cli
    BITCOIN_CLI=$(absolute "$BITCOIN_CLI")
    LOADGEN=$(absolute "${LOADGEN:-$TRACERING_TOOLS/tracering-loadgen}")
    RINGDUMP=$(absolute "${RINGDUMP:-$TRACERING_TOOLS/ringdump}")
    EXTRACTOR=$(absolute "${EXTRACTOR:-$TRACERING_TOOLS/tracering-extractor}")
    COUNT_CONSUMER=$(absolute "${COUNT_CONSUMER:-$BENCH_BUILD/bench/tracering-count-consumer}")
    local need
    for need in "$@"; do
        if [ "$need" = consumer ] && [ "$BUILD" = 1 ]; then
            [[ $JOBS =~ ^[12]$ ]] || die_usage "JOBS must be 1 or 2 (got '$JOBS')"
            build_targets "$BENCH_BUILD" tracering-count-consumer -- -DTRACERING_BUILD_BENCH=ON
        fi
    done
    local bin hint
    for need in "$@"; do
        case $need in
        bitcoind) bin=$BITCOIND; hint="build it with contrib/bitcoin-core/build-bitcoind.sh or give --bitcoind PATH" ;;
        bitcoin-cli) bin=$BITCOIN_CLI; hint="give --bitcoin-cli PATH" ;;
        loadgen) bin=$LOADGEN; hint="build it with contrib/bitcoin-core/build-bitcoind.sh or give --loadgen PATH" ;;
        ringdump) bin=$RINGDUMP; hint="build it with contrib/bitcoin-core/build-bitcoind.sh or give --ringdump PATH" ;;
        consumer) bin=$COUNT_CONSUMER; hint="run without --no-build, or give --consumer PATH" ;;
        extractor) bin=$EXTRACTOR; hint="build it with contrib/bitcoin-core/build-bitcoind.sh (with nats.c and protobuf installed) or give --extractor PATH" ;;
        *) die "resolve_binaries: unknown binary '$need'" ;;
        esac
        [ -x "$bin" ] || die "$need not found at $bin: $hint" 1
    done
}

# need_bpftrace: bpftrace present and we are root (it attaches uprobes).
need_bpftrace() {
    command -v bpftrace >/dev/null 2>&1 ||
        die "bpftrace not found: run 'sudo scripts/install-deps.sh --bench', or leave out the bpftrace conditions" 1
    [ "$(id -u)" -eq 0 ] ||
        die "the bpftrace conditions attach eBPF programs and need root; run as root or leave them out" 1
    # Without this bpftrace warns that it cannot raise RLIMIT_MEMLOCK.
    ulimit -l unlimited 2>/dev/null || true
    readelf -n "$BITCOIND" 2>/dev/null | grep -q 'NT_STAPSDT' ||
        die "$BITCOIND has no USDT probes (build it with -DWITH_USDT=ON), so bpftrace cannot trace it" 1
}

# ---------------------------------------------------------------------------------------------
# Clean-up: lib.sh's, plus the shared-memory objects of the nodes started here (named after
# their datadirs, so lib.sh's TAG pattern does not cover them). A node that shuts down
# cleanly removes them itself; these are for nodes killed on the way out.

SHM_OBJECTS=()

bitcoind_cleanup() {
    cleanup
    local object
    for object in "${SHM_OBJECTS[@]+"${SHM_OBJECTS[@]}"}"; do
        rm -f "$object"
    done
}

# ---------------------------------------------------------------------------------------------
# Ports, CPU time, waiting

# free_ports N: N distinct TCP ports on 127.0.0.1 that nobody listens on now (bound at once,
# so they differ), on one line.
free_ports() {
    python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1" || die "cannot find free TCP ports (python3 needed)"
}

# cpu_ns PID: on-CPU ns of the process's live threads (schedstat); for windows in which no
# thread exits.
cpu_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
}

now_ns() { date +%s%N; }

# wait_until SECONDS PID WHAT ERRFILE COMMAND...: polls COMMAND every 0.1 s until it succeeds;
# dies, quoting the end of ERRFILE, if PID exits first or SECONDS pass.
wait_until() {
    local seconds=$1 pid=$2 what=$3 errfile=$4
    shift 4
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        alive "$pid" ||
            die "$what: the process exited while waiting: $(tail -n 3 "$errfile" 2>/dev/null | tr '\n' ' ')"
        [ $SECONDS -lt "$deadline" ] ||
            die "$what: not ready after $seconds s: $(tail -n 3 "$errfile" 2>/dev/null | tr '\n' ' ')"
        sleep 0.1
    done
}

# file_has FILE REGEX: FILE exists and has a line matching REGEX.
file_has() { grep -qE "$2" "$1" 2>/dev/null; }

# wait_file_stable FILE: until FILE stops growing (bpftrace printing what its buffers hold).
wait_file_stable() {
    local size=-1 now stable=0
    for _ in $(seq 600); do
        now=$(stat -c %s "$1" 2>/dev/null || echo 0)
        if [ "$now" = "$size" ]; then
            stable=$((stable + 1))
            [ $stable -ge 3 ] && return 0
        else
            stable=0
        fi
        size=$now
        sleep 0.2
    done
}

# ---------------------------------------------------------------------------------------------
# bitcoind

# Flags of every node: regtest, RPC on 127.0.0.1 with a cookie, nothing that reaches out,
# mainnet-like checks (regtest turns -checkblockindex and -checkmempool on by default), no
# debug categories, logs in debug.log only.
NODE_COMMON_FLAGS=(-regtest -server -rpcbind=127.0.0.1 -rpcallowip=127.0.0.1 -rpcthreads=4
    -debug=0 -printtoconsole=0 -shrinkdebugfile=0 -dnsseed=0 -fixedseeds=0 -discover=0
    -listenonion=0 -natpmp=0 -checkblockindex=0 -checkmempool=0 -persistmempool=0)
NODE_WRAP=()        # a command the node runs under (valgrind ...); empty: none
NODE_START_TIMEOUT=120

# start_bitcoind DATADIR RPCPORT FLAG...: starts bitcoind on DATADIR (created if missing),
# its stdout/stderr in DATADIR.stdout/.stderr, and waits until its RPC answers (init done:
# the tracering socket is made earlier in init, so it is there by then unless -notracering
# is among FLAGs). Sets NODE (the pid), NODE_DATADIR, NODE_RPCPORT, NODE_SOCK and NODE_LOG.
start_bitcoind() {
    local datadir=$1 rpcport=$2
    shift 2
    mkdir -p "$datadir"
    NODE_DATADIR=$datadir
    NODE_RPCPORT=$rpcport
    NODE_LOG=$datadir/regtest/debug.log
    NODE_SOCK=$datadir/regtest/tracering.sock
    "${NODE_WRAP[@]}" "$BITCOIND" "${NODE_COMMON_FLAGS[@]}" "-datadir=$datadir" "-rpcport=$rpcport" "$@" \
        >"$datadir.stdout" 2>"$datadir.stderr" &
    NODE=$!
    PIDS+=("$NODE")
    wait_until "$NODE_START_TIMEOUT" "$NODE" "bitcoind (RPC)" "$datadir.stderr" rpc_ready
    local flag
    for flag in "$@"; do [ "$flag" = -notracering ] && return 0; done
    file_has "$NODE_LOG" 'tracering: control socket' ||
        die "$BITCOIND serves no tracering (no 'tracering: control socket' line in $NODE_LOG): is it the patched bitcoind, built with -DWITH_TRACERING=ON (contrib/bitcoin-core/build-bitcoind.sh)?" 1
    [ -S "$NODE_SOCK" ] || die "bitcoind logged its tracering socket, but $NODE_SOCK is not a socket"
    local object
    object=$(grep -oE 'shared memory /dev/shm/[^ ;,]+' "$NODE_LOG" | head -n 1 | cut -d' ' -f3)
    [ -n "$object" ] && SHM_OBJECTS+=("$object")
    return 0
}

node_errors() {
    tail -n 3 "$NODE_DATADIR.stderr" 2>/dev/null | tr '\n' ' '
}

# cli ARGS...: bitcoin-cli against the current node (NODE_DATADIR, NODE_RPCPORT).
cli() {
    "$BITCOIN_CLI" -regtest "-datadir=$NODE_DATADIR" "-rpcport=$NODE_RPCPORT" -rpcclienttimeout=0 "$@"
}

rpc_ready() { cli getblockcount >/dev/null 2>&1; }

# wait_height HEIGHT TIMEOUT: until the current node's tip is at HEIGHT (waitforblockheight:
# returns as soon as the tip gets there, no polling of the node); dies if the node exits or
# TIMEOUT seconds pass.
wait_height() {
    local height=$1 timeout=$2 deadline=$((SECONDS + $2)) now
    while :; do
        now=$(cli waitforblockheight "$height" 5000 2>/dev/null | awk -F': ' '/"height"/ {gsub(/[ ,]/, "", $2); print $2}')
        [ "${now:-0}" -ge "$height" ] && return 0
        alive "$NODE" || die "bitcoind exited at height ${now:-?} before reaching $height: $(node_errors)"
        [ $SECONDS -lt "$deadline" ] || die "bitcoind at height ${now:-?} after $timeout s, not $height"
    done
}

# stop_bitcoind WHAT [PID]: SIGTERM, a clean shutdown (exit 0) within lib.sh's 30 s, else
# the benchmark ends naming WHAT.
stop_bitcoind() {
    local pid=${2:-$NODE}
    stop "$pid" TERM
    [ "$STATUS" = 0 ] || die "$1: bitcoind exited with $STATUS: $(node_errors)"
}

# ---------------------------------------------------------------------------------------------
# Consumers and tracers

# start_count_consumer OUT FLAG...: tracering-count-consumer on NODE_SOCK, waits for its
# "attached" line. Sets TRACER.
start_count_consumer() {
    local out=$1
    shift
    "$COUNT_CONSUMER" --control "$NODE_SOCK" "$@" >"$out" 2>"${out%.out}.err" &
    TRACER=$!
    PIDS+=("$TRACER")
    wait_for "$out" '^attached' "$TRACER" "tracering-count-consumer"
}

# start_bpftrace OUT PROGRAM: bpftrace -p NODE running PROGRAM, its output in OUT; waits for
# "Attaching", then one second, so bpftrace's own start-up stays out of the measurement.
# Sets TRACER.
start_bpftrace() {
    local out=$1 program=$2
    bpftrace -p "$NODE" -e "$program" >"$out" 2>"${out%.out}.err" &
    TRACER=$!
    PIDS+=("$TRACER")
    # Parsing the node's ELF notes for 20 probes can take a while on a large binary.
    local deadline=$((SECONDS + 120))
    until file_has "$out" '^Attaching'; do
        alive "$TRACER" || die "bpftrace exited before attaching: $(tail -n 5 "${out%.out}.err")"
        [ $SECONDS -lt "$deadline" ] || die "bpftrace not attached after 120 s: $(tail -n 5 "${out%.out}.err")"
        sleep 0.1
    done
    sleep 1
}

# bpftrace_lost FILE...: the sum of bpftrace's "Lost N events" lines.
bpftrace_lost() {
    cat "$@" 2>/dev/null | awk '/^Lost [0-9]+ events/ {n += $2} END {print n + 0}'
}

# The 20 tracepoints of Bitcoin Core, context:event.
TRACEPOINTS=(net:inbound_message net:outbound_message net:inbound_connection
    net:outbound_connection net:evicted_inbound_connection net:misbehaving_connection
    net:closed_connection validation:block_connected utxocache:flush utxocache:add
    utxocache:spent utxocache:uncache mempool:added mempool:removed mempool:replaced
    mempool:rejected coin_selection:selected_coins coin_selection:normal_create_tx_internal
    coin_selection:attempting_aps_create_tx coin_selection:aps_create_tx_internal)

# bpf_count_all BIN: a program counting every one of the 20 tracepoints, per probe.
bpf_count_all() {
    local tp list=""
    for tp in "${TRACEPOINTS[@]}"; do list+="${list:+, }usdt:$1:$tp"; done
    printf '%s { @[probe] = count(); }\n' "$list"
}

# bpf_printf_all BIN: a program printing one line per event of every tracepoint: its name and
# some of its arguments (numbers and strings; hashes left out), as a tracing script would.
bpf_printf_all() {
    local b=$1
    cat <<EOF
usdt:$b:net:inbound_message { printf("net:inbound_message %d %s %s %s %d\n", arg0, str(arg1), str(arg2), str(arg3), arg4); }
usdt:$b:net:outbound_message { printf("net:outbound_message %d %s %s %s %d\n", arg0, str(arg1), str(arg2), str(arg3), arg4); }
usdt:$b:net:inbound_connection { printf("net:inbound_connection %d %s %s %d %d\n", arg0, str(arg1), str(arg2), arg3, arg4); }
usdt:$b:net:outbound_connection { printf("net:outbound_connection %d %s %s %d %d\n", arg0, str(arg1), str(arg2), arg3, arg4); }
usdt:$b:net:evicted_inbound_connection { printf("net:evicted_inbound_connection %d %s %s %d %d\n", arg0, str(arg1), str(arg2), arg3, arg4); }
usdt:$b:net:misbehaving_connection { printf("net:misbehaving_connection %d %s\n", arg0, str(arg1)); }
usdt:$b:net:closed_connection { printf("net:closed_connection %d %s %s %d %d\n", arg0, str(arg1), str(arg2), arg3, arg4); }
usdt:$b:validation:block_connected { printf("validation:block_connected %d %d %d %d %d\n", arg1, arg2, arg3, arg4, arg5); }
usdt:$b:utxocache:flush { printf("utxocache:flush %d %d %d %d %d\n", arg0, arg1, arg2, arg3, arg4); }
usdt:$b:utxocache:add { printf("utxocache:add %d %d %d %d\n", arg1, arg2, arg3, arg4); }
usdt:$b:utxocache:spent { printf("utxocache:spent %d %d %d %d\n", arg1, arg2, arg3, arg4); }
usdt:$b:utxocache:uncache { printf("utxocache:uncache %d %d %d %d\n", arg1, arg2, arg3, arg4); }
usdt:$b:mempool:added { printf("mempool:added %d %d\n", arg1, arg2); }
usdt:$b:mempool:removed { printf("mempool:removed %s %d %d %d\n", str(arg1), arg2, arg3, arg4); }
usdt:$b:mempool:replaced { printf("mempool:replaced %d %d %d %d\n", arg1, arg2, arg3, arg5); }
usdt:$b:mempool:rejected { printf("mempool:rejected %s\n", str(arg1)); }
usdt:$b:coin_selection:selected_coins { printf("coin_selection:selected_coins %s %s %d %d %d\n", str(arg0), str(arg1), arg2, arg3, arg4); }
usdt:$b:coin_selection:normal_create_tx_internal { printf("coin_selection:normal_create_tx_internal %s %d %d %d\n", str(arg0), arg1, arg2, arg3); }
usdt:$b:coin_selection:attempting_aps_create_tx { printf("coin_selection:attempting_aps_create_tx %s\n", str(arg0)); }
usdt:$b:coin_selection:aps_create_tx_internal { printf("coin_selection:aps_create_tx_internal %s %d %d %d %d\n", str(arg0), arg1, arg2, arg3, arg4); }
EOF
}

# bpf_counts FILE: "context:event count" lines from the @[probe] map bpftrace printed at exit.
bpf_counts() {
    awk '/^@\[usdt:/ {k = $0; sub(/^@\[/, "", k); sub(/\]:.*/, "", k); n = split(k, p, ":");
        print p[n - 1] ":" p[n], $NF}' "$1"
}

# ---------------------------------------------------------------------------------------------
# The chain cache (make_chain.py)

CHAIN=${TRACERING_BENCH_CHAIN:-$REPO/build-bitcoin/bench-chain}
BITCOIN_BUILD=""

CHAIN_OPTIONS_HELP='Chain (bench/bitcoind/make_chain.py builds it once when it is missing, 2-6 min):
  --chain DIR         the chain cache (default: build-bitcoin/bench-chain)  [TRACERING_BENCH_CHAIN]
  --bitcoin-build DIR Bitcoin Core build folder whose test/functional/ make_chain.py uses
                      (default: two levels above --bitcoind, i.e. its build folder)'

# chain_option ARGS...: as common_option, for --chain and --bitcoin-build.
chain_option() {
    SHIFT=2
    case $1 in
    --chain) need_value "$@"; CHAIN=$2 ;;
    --bitcoin-build) need_value "$@"; BITCOIN_BUILD=$2 ;;
    *) return 1 ;;
    esac
}

chain_value() { awk -F= -v k="$1" '$1 == k {print $2}' "$CHAIN/chain.env"; }

# ensure_chain: makes the chain cache if it is missing, then reads chain.env into CHAIN_*.
ensure_chain() {
    CHAIN=$(absolute "$CHAIN")
    local here
    here=$(dirname "${BASH_SOURCE[0]}")
    if ! python3 "$here/make_chain.py" --cache "$CHAIN" --check; then
        local build=${BITCOIN_BUILD:-$(dirname "$(dirname "$BITCOIND")")}
        log "no chain cache at $CHAIN: building it with make_chain.py (a one-off, 2-6 min)"
        python3 "$here/make_chain.py" --cache "$CHAIN" --bitcoin-build "$build" --bitcoind "$BITCOIND" >&2 ||
            die "make_chain.py failed to build the chain"
    fi
    CHAIN_HEIGHT=$(chain_value HEIGHT)
    CHAIN_TIP=$(chain_value TIP)
    CHAIN_TXS=$(chain_value TXS)
    CHAIN_INPUTS=$(chain_value INPUTS)
    CHAIN_OUTPUTS=$(chain_value OUTPUTS)
    CHAIN_BYTES=$(chain_value BLOCK_BYTES)
    [[ $CHAIN_HEIGHT =~ ^[0-9]+$ && $CHAIN_INPUTS =~ ^[0-9]+$ && $CHAIN_OUTPUTS =~ ^[0-9]+$ ]] ||
        die "$CHAIN/chain.env is incomplete; rebuild it: bench/bitcoind/make_chain.py --force --cache $CHAIN"
}

# copy_blocks DST_DATADIR: the chain's block files (blk*.dat and the XOR key; no index, no undo
# data: -reindex rebuilds them) into DST_DATADIR/regtest/blocks.
copy_blocks() {
    mkdir -p "$1/regtest/blocks"
    local f
    for f in "$CHAIN"/regtest/blocks/blk*.dat "$CHAIN"/regtest/blocks/xor.dat; do
        [ -e "$f" ] && cp "$f" "$1/regtest/blocks/"
    done
    return 0
}

# ---------------------------------------------------------------------------------------------
# Report helpers

# report_header TITLE: the common first lines of a report.
report_header() {
    echo "## $1"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), tracering commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' (with local changes)'),"
    echo "$(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -r);"
    echo "bitcoind: $BITCOIND ($("$BITCOIND" -version 2>/dev/null | head -n 1 || echo 'version unknown'))."
}
