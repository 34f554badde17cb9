#!/usr/bin/env bash
# Live demo: a stand-in node fires all 20 Bitcoin Core tracepoints; a consumer in another
# process attaches every ring through the node's control socket (until then the tracepoints
# are off), reads them, shows live rates, a few decoded events, and a summary where
# attempted = delivered + lost for every ring.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x build/tools/tracering-demo ]; then
    ./scripts/build.sh
fi

name="demo-$$"
seconds="${DEMO_SECONDS:-4}"
rate="${DEMO_RATE:-300000}"

socket="/tmp/tracering-$name.sock"

build/tools/tracering-demo node --name "$name" --control "$socket" --seconds "$seconds" \
    --rate "$rate" &
node_pid=$!
trap 'kill "$node_pid" 2>/dev/null || true' EXIT
build/tools/tracering-demo watch --control "$socket" --seconds "$((seconds + 3))"
wait "$node_pid"
trap - EXIT
