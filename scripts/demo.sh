#!/usr/bin/env bash
# The live demo, end to end with real processes. On the real node when the patched bitcoind
# is built (scripts/build.sh builds it where Bitcoin Core's source is beside the repository;
# or contrib/bitcoin-core/build-bitcoind.sh), else on tracering-testnode:
#
#   1. builds tracering (if build/ is not there yet);
#   2. starts a regtest bitcoind with tracering (or tracering-testnode, a P2P node that fires
#      Bitcoin Core's net tracepoints);
#   3. attaches `ringdump watch` to every ring through the node's control socket (until
#      then the tracepoints are off) and shows live rates with `ringdump stats --no-attach`;
#   4. runs a ping load with tracering-loadgen; on bitcoind it also mines blocks and sends
#      wallet transactions with bitcoin-cli; on the test node it sends blocks (the real
#      mainnet block 413567 from tests/fixtures/);
#   5. shows a sample of decoded events, and a summary: messages sent, events delivered,
#      events lost (with every loss counted by the producer), then shuts everything down.
#
# Environment: DEMO_NODE (bitcoind or testnode; default: bitcoind when built),
# DEMO_PINGS (default 200000), DEMO_RATE pings/s (default 50000), DEMO_BLOCKS (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."

pings="${DEMO_PINGS:-200000}"
rate="${DEMO_RATE:-50000}"
blocks="${DEMO_BLOCKS:-5}"
bitcoind=build-bitcoin/bitcoin-build/bin/bitcoind
bitcoin_cli=build-bitcoin/bitcoin-build/bin/bitcoin-cli
node_kind="${DEMO_NODE:-}"
if [ -z "$node_kind" ]; then
    node_kind=testnode
    [ -x "$bitcoind" ] && node_kind=bitcoind
fi
case "$node_kind" in
    bitcoind)
        [ -x "$bitcoind" ] || {
            echo "demo: no patched bitcoind at $bitcoind; build it with contrib/bitcoin-core/build-bitcoind.sh" >&2
            exit 1
        }
        ;;
    testnode) ;;
    *)
        echo "demo: DEMO_NODE must be bitcoind or testnode, not '$node_kind'" >&2
        exit 1
        ;;
esac

for tool in tools/testnode/tracering-testnode tools/loadgen/tracering-loadgen \
    tools/ringdump/ringdump; do
    if [ ! -x "build/$tool" ]; then
        ./scripts/build.sh --no-bitcoind
        break
    fi
done
testnode=build/tools/testnode/tracering-testnode
loadgen=build/tools/loadgen/tracering-loadgen
ringdump=build/tools/ringdump/ringdump

work="$(mktemp -d /tmp/tracering-demo.XXXXXX)"
sock="$work/node.sock"
name="demo-$$"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }

# attach SOCK [RING...]: lists the rings (all off), then attaches `ringdump watch` to every
# ring (events to $work/events.txt) and, once every ring is on, live `ringdump stats` of the
# RINGs the load fires (default: every ring).
attach() {
    local sock=$1
    shift
    local stats_rings=()
    for ring in "$@"; do stats_rings+=(--ring "$ring"); done
    say "ringdump list (rings are off until someone attaches)"
    "$ringdump" list --control "$sock"

    say "attaching ringdump watch to every ring, and live stats"
    "$ringdump" watch --control "$sock" >"$work/events.txt" 2>"$work/watch.err" &
    watch_pid=$!
    pids+=("$watch_pid")
    for _ in $(seq 100); do
        [ "$("$ringdump" list --control "$sock" --json 2>/dev/null | grep -c '"state":"on"')" = 5 ] &&
            break
        sleep 0.05
    done
    "$ringdump" stats --control "$sock" --no-attach --interval 1 "${stats_rings[@]}" &
    stats_pid=$!
    pids+=("$stats_pid")
}

# detach SOCK: one more stats line, the producer's view, then watch drains what is left,
# flushes and prints its summary (SIGINT).
detach() {
    local sock=$1
    sleep 1.2
    kill -INT "$stats_pid" 2>/dev/null || true
    say "the producer's view (ringdump list)"
    "$ringdump" list --control "$sock"
    "$ringdump" list --control "$sock" --json >"$work/list.json"
    kill -INT "$watch_pid"
    wait "$watch_pid" || true
}

# summary LOAD: the load, then events attempted (every ring's seq), delivered and lost.
summary() {
    say "summary"
    local attempted delivered lost
    attempted="$(sed -n 's/.*"seq":\([0-9]*\).*/\1/p' "$work/list.json" | awk '{sum += $1} END {print sum + 0}')"
    delivered="$(sed -n 's/^ringdump: \([0-9]*\) events delivered.*/\1/p' "$work/watch.err")"
    lost="$(sed -n 's/^ringdump: [0-9]* events delivered, \([0-9]*\) lost.*/\1/p' "$work/watch.err")"
    echo "load:      $1"
    echo "attempted: $attempted events (the producer's sequence numbers, all rings)"
    echo "delivered: $delivered events to ringdump watch"
    echo "lost:      $lost (every loss is counted by the producer and shown as a gap)"
    echo "per ring:  $(cat "$work/watch.err")"
}

# sent MODE FILE: what tracering-loadgen's result line in FILE says it sent.
sent() { sed -n "s/.*result mode=$1 sent=\([0-9]*\).*/\1/p" "$2"; }

testnode_demo() {
    say "starting tracering-testnode (segment tracering.$name, control socket $sock)"
    "$testnode" --listen 127.0.0.1:0 --control "$sock" --name "$name" >"$work/node.out" 2>&1 &
    node_pid=$!
    pids+=("$node_pid")
    for _ in $(seq 100); do
        grep -q '^ready ' "$work/node.out" 2>/dev/null && break
        sleep 0.05
    done
    port="$(awk '/^ready /{print $2}' "$work/node.out")"
    if [ -z "$port" ]; then
        echo "demo: the test node did not start:" >&2
        cat "$work/node.out" >&2
        exit 1
    fi
    echo "listening for P2P peers on 127.0.0.1:$port"

    # The pings and blocks below fire the net and validation rings only.
    attach "$sock" net validation

    say "ping load: $pings pings at $rate/s"
    "$loadgen" --connect "127.0.0.1:$port" ping --count "$pings" --rate "$rate" | tee "$work/ping.out"

    block_file="tests/fixtures/block413567.raw"
    if [ -f "$block_file" ]; then
        say "block load: $blocks x the mainnet block 413567 ($block_file)"
        "$loadgen" --connect "127.0.0.1:$port" blocks --count "$blocks" --file "$block_file" |
            tee "$work/blocks.out"
    else
        say "block load: $blocks generated 1 MB blocks"
        "$loadgen" --connect "127.0.0.1:$port" blocks --count "$blocks" --size 1000000 |
            tee "$work/blocks.out"
    fi
    detach "$sock"

    say "a sample of decoded events"
    grep -m 4 'inbound_message' "$work/events.txt" || true
    grep -m 2 'outbound_message.*pong' "$work/events.txt" || true
    grep -m 2 'block_connected' "$work/events.txt" || true
    grep -m 2 'closed_connection' "$work/events.txt" || true

    summary "$(sent ping "$work/ping.out") pings (each gives a ping and a pong event) and $(sent blocks "$work/blocks.out") blocks, plus the handshake and close of each of the 2 connections"

    kill -TERM "$node_pid"
    wait "$node_pid" || true
    if ls /dev/shm/"tracering.$name"* >/dev/null 2>&1 || [ -e "$sock" ]; then
        echo "demo: the node left shared memory or its socket behind" >&2
        exit 1
    fi
    echo "node stopped; no shared memory or socket left behind"
}

# A free TCP port on the loopback interface.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

bitcoind_demo() {
    local datadir="$work/bitcoind" p2p rpc
    p2p="$(free_port)"
    rpc="$(free_port)"
    mkdir -p "$datadir"
    cli() { "$bitcoin_cli" -regtest -datadir="$datadir" -rpcport="$rpc" "$@"; }
    local sock="$datadir/regtest/tracering.sock"

    say "starting the patched bitcoind (regtest, datadir $datadir, P2P port $p2p)"
    "$bitcoind" -regtest -datadir="$datadir" -port="$p2p" -rpcport="$rpc" -bind=127.0.0.1 \
        -listen=1 -fallbackfee=0.0001 -printtoconsole=0 >"$work/bitcoind.out" 2>&1 &
    local node_pid=$!
    pids+=("$node_pid")
    if ! cli -rpcwait -rpcwaittimeout=60 getblockcount >/dev/null; then
        echo "demo: bitcoind did not start:" >&2
        cat "$work/bitcoind.out" "$datadir/regtest/debug.log" >&2 2>/dev/null || true
        exit 1
    fi
    grep -m 1 'tracering: ' "$datadir/regtest/debug.log"

    attach "$sock"

    say "ping load: $pings pings at $rate/s from tracering-loadgen"
    "$loadgen" --connect "127.0.0.1:$p2p" ping --count "$pings" --rate "$rate" | tee "$work/ping.out"

    say "mining 101 blocks, sending 3 wallet transactions, mining them (bitcoin-cli)"
    cli createwallet demo >/dev/null
    local address
    address="$(cli getnewaddress)"
    cli generatetoaddress 101 "$address" >/dev/null
    for _ in 1 2 3; do cli sendtoaddress "$(cli getnewaddress)" 1 >>"$work/txids"; done
    cli generatetoaddress 1 "$address" >/dev/null
    echo "height $(cli getblockcount), transactions $(tr '\n' ' ' <"$work/txids")"
    detach "$sock"

    say "a sample of decoded events"
    grep -m 2 'inbound_message.*msg_type="ping"' "$work/events.txt" || true
    grep -m 2 'outbound_message.*msg_type="pong"' "$work/events.txt" || true
    grep -m 1 'block_connected' "$work/events.txt" || true
    grep -m 5 'coin_selection:' "$work/events.txt" || true
    grep -m 1 'mempool:added' "$work/events.txt" || true
    grep -m 1 'utxocache:spent' "$work/events.txt" || true
    grep -m 1 'mempool:removed' "$work/events.txt" || true

    summary "$(sent ping "$work/ping.out") pings (a ping and a pong event each), 102 blocks mined, 3 wallet sends"

    local segment
    segment="$(sed -n 's|.*shared memory /dev/shm/\(tracering\.[^;,]*\).*|\1|p' "$datadir/regtest/debug.log" | head -n 1)"
    cli stop >/dev/null
    wait "$node_pid" || true
    if [ -e "/dev/shm/$segment" ] || [ -e "$sock" ]; then
        echo "demo: bitcoind left shared memory or its socket behind" >&2
        exit 1
    fi
    echo "bitcoind stopped; no shared memory or socket left behind"
}

if [ "$node_kind" = bitcoind ]; then
    bitcoind_demo
else
    echo "demo: on tracering-testnode; build the patched bitcoind (contrib/bitcoin-core/build-bitcoind.sh)" \
        "for the demo on the real node"
    testnode_demo
fi
