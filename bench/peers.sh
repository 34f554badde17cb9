#!/usr/bin/env bash
# tracering, LTTng-UST and USDT/bpftrace recording the same event, in one tracering_bench run.
# See --help and bench/README.md.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROG=peers
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
    cat <<'EOF'
usage: bench/peers.sh [options]

Runs tracering_bench ONCE, with --benchmark_repetitions, for the benchmarks that compare
tracering with its peers on the same event (net:inbound_message's fields, a ping):

  tracering      BM_Tracepoint_Off, BM_InboundMessage_Ping,
                 BM_Ring_ProducerConsumer/Lossless:{0,1}/Readers:1
  LTTng-UST      BM_Lttng_Off, BM_Lttng_InboundMessage_Ping, BM_Lttng_FullRate (the binary
                 starts its own lttng-sessiond, as the user running it)
  USDT+bpftrace  BM_Usdt_Off, BM_Usdt_Bpftrace_{Count,Print}_{Ping,FullRate}
  this host      BM_Baseline_ReservationFloor and its variants, BM_Clock_Rdtsc: what a TSC
                 read, the reservation's compare-and-swap and a record's copy cost here

and writes a markdown table: off price, producer ns per event with the consumer keeping up,
events per second at full rate, and events delivered and lost.

bpftrace is attached, before the run starts and by the binary's path, to the USDT probes of
bench/usdt_bench.cpp (one process counting, two printing peer id, message type and size to
files, with 4 MiB perf buffers per CPU). Every USDT benchmark has its own probe, and only
those benchmarks execute probes: the tracering and LTTng benchmarks run the same code as
without bpftrace, and the USDT off price is BM_Usdt_Off's probe, to which nothing attaches.
The USDT benchmarks run last, so bpftrace's printing overlaps no other benchmark.

Options:
  --repeats N      benchmark repetitions in the one run (default 3); medians and ranges
  --user NAME      run tracering_bench as NAME (default: $SUDO_USER, else nobody); the LTTng
                   session is this user's, never root's
  --no-bpftrace    leave bpftrace out (no root needed; the USDT rows stay empty)
  --out FILE       write the table to FILE (default: stdout)
  --no-build       use build-bench/bench/tracering_bench as it is
  -h, --help       this text

Builds tracering_bench (with LTTng-UST when pkg-config finds lttng-ust) into build-bench/,
RelWithDebInfo, at most 2 jobs. Needs root and bpftrace for the USDT rows; lttng-tools and
babeltrace2 for the LTTng rows (sudo scripts/install-deps.sh --bench installs them all).
Exit status: 0 done, 1 bad command line or missing tool, 2 a run failed.
EOF
}

REPEATS=3
RUN_USER=""
BPFTRACE=1
OUT=""
BUILD=1
JOBS=${JOBS:-2}

while [ $# -gt 0 ]; do
    case $1 in
    --help | -h) usage; exit 0 ;;
    --repeats) need_value "$@"; positive_int "$1" "$2"; REPEATS=$2; shift 2 ;;
    --user) need_value "$@"; RUN_USER=$2; shift 2 ;;
    --no-bpftrace) BPFTRACE=0; shift ;;
    --out) need_value "$@"; OUT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) die_usage "unknown option '$1'" ;;
    esac
done
[[ $JOBS =~ ^[12]$ ]] || die_usage "JOBS must be 1 or 2 (got '$JOBS')"

command -v python3 >/dev/null 2>&1 || die "python3 not found (it writes the table)" 1
AS_USER=()
if [ "$(id -u)" -eq 0 ]; then
    if [ -z "$RUN_USER" ]; then
        RUN_USER=${SUDO_USER:-nobody}
        [ "$RUN_USER" != root ] || RUN_USER=nobody
    fi
    id -u "$RUN_USER" >/dev/null 2>&1 || die_usage "--user: no user '$RUN_USER'"
    [ "$(id -u "$RUN_USER")" -ne 0 ] ||
        die_usage "--user: '$RUN_USER' is root; the benchmarks run as an unprivileged user"
    command -v runuser >/dev/null 2>&1 || die "runuser not found (util-linux)" 1
    AS_USER=(runuser -u "$RUN_USER" --)
else
    [ -z "$RUN_USER" ] || [ "$RUN_USER" = "$(id -un)" ] ||
        die_usage "--user: only root can run the benchmarks as another user"
    RUN_USER=$(id -un)
    [ "$BPFTRACE" = 0 ] ||
        die "bpftrace needs root: run as root, or add --no-bpftrace for tracering and LTTng alone" 1
fi
if [ "$BPFTRACE" = 1 ]; then
    command -v bpftrace >/dev/null 2>&1 ||
        die "bpftrace not found: run 'sudo scripts/install-deps.sh --bench', or add --no-bpftrace" 1
    # Without this bpftrace complains that it cannot raise RLIMIT_MEMLOCK.
    ulimit -l unlimited 2>/dev/null || true
fi
command -v lttng >/dev/null 2>&1 ||
    log "lttng not found: the LTTng rows will say so (sudo scripts/install-deps.sh --bench)"

# ---------------------------------------------------------------------------------------------
# Build

BUILD_DIR=$REPO/build-bench
BENCH=$BUILD_DIR/bench/tracering_bench
if [ "$BUILD" = 1 ]; then
    build_targets "$BUILD_DIR" tracering_bench -- -DTRACERING_BUILD_BENCH=ON
fi
need_binaries "$BENCH"
"${AS_USER[@]}" test -x "$BENCH" ||
    die "user $RUN_USER cannot run $BENCH (a directory on the way is closed to it); use --user" 1

# ---------------------------------------------------------------------------------------------
# Run

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tracering-peers.XXXXXX")
TAG=peers
PIDS=()
trap cleanup EXIT
chmod 755 "$WORK"
mkdir "$WORK/run"
[ -z "${AS_USER[*]}" ] || chown "$RUN_USER" "$WORK/run"

# start_bpftrace NAME PROGRAM [ENV=VALUE...]: bpftrace running PROGRAM, its output in
# WORK/NAME.out and WORK/NAME.err; waits until it has attached. Sets TRACER.
start_bpftrace() {
    local name=$1 program=$2
    shift 2
    env "$@" bpftrace -e "$program" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    TRACER=$!
    PIDS+=("$TRACER")
    wait_for "$WORK/$name.out" '^Attaching' "$TRACER" "bpftrace ($name)"
}

# settled FILE: waits (60 s at most) until FILE stops growing: bpftrace prints what its perf
# buffers still hold after the probes stop firing.
settled() {
    local size=-1 now stable=0
    for _ in $(seq 300); do
        now=$(stat -c %s "$1")
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

# lost_events NAME: the sum of bpftrace's "Lost N events" lines.
lost_events() {
    cat "$WORK/$1.out" "$WORK/$1.err" | awk '/^Lost [0-9]+ events/ {n += $2} END {print n + 0}'
}

PRINT='{ printf("%d %s %d\n", arg0, str(arg3), arg4); }'
if [ "$BPFTRACE" = 1 ]; then
    start_bpftrace count "usdt:$BENCH:peers:count_ping, usdt:$BENCH:peers:count_full { @c[probe] = count(); }"
    COUNT_PID=$TRACER
    start_bpftrace print_ping "usdt:$BENCH:peers:print_ping $PRINT" BPFTRACE_PERF_RB_PAGES=1024
    PRINT_PING_PID=$TRACER
    start_bpftrace print_full "usdt:$BENCH:peers:print_full $PRINT" BPFTRACE_PERF_RB_PAGES=1024
    PRINT_FULL_PID=$TRACER
    sleep 1
fi

FILTER='^BM_((Tracepoint|Usdt)_Off(/|$)|InboundMessage_Ping/|Ring_ProducerConsumer/Lossless:[01]/Readers:1/|Lttng_|Usdt_Bpftrace_|Baseline_ReservationFloor|Clock_Rdtsc$)'
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
log "load average before: $LOAD_BEFORE; one tracering_bench run as $RUN_USER, $REPEATS repetitions"
run_tracked "${AS_USER[@]}" "$BENCH" --benchmark_filter="$FILTER" \
    --benchmark_repetitions="$REPEATS" --benchmark_out="$WORK/run/bench.json" \
    --benchmark_out_format=json >&2
[ "$STATUS" = 0 ] || die "tracering_bench exited with $STATUS"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

: >"$WORK/bpftrace.txt"
if [ "$BPFTRACE" = 1 ]; then
    settled "$WORK/print_ping.out"
    settled "$WORK/print_full.out"
    for pid in "$COUNT_PID" "$PRINT_PING_PID" "$PRINT_FULL_PID"; do stop "$pid" INT; done
    {
        for probe in count_ping count_full; do
            echo "$probe $(awk -v p=":peers:$probe]:" 'index($0, p) {print $NF}' "$WORK/count.out")"
        done
        echo "count_lost $(lost_events count)"
        for probe in print_ping print_full; do
            echo "$probe $(grep -cE '^-?[0-9]+ ping 8$' "$WORK/$probe.out" || true)"
            echo "${probe}_lost $(lost_events "$probe")"
        done
    } >"$WORK/bpftrace.txt"
fi

# ---------------------------------------------------------------------------------------------
# Table

table() {
    echo "## tracering, LTTng-UST and USDT/bpftrace: the same event in one tracering_bench run"
    echo
    echo "$STARTED, commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')," \
        "kernel clock $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo '?')," \
        "$(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo))," \
        "load average $LOAD_BEFORE before, $LOAD_AFTER after; run as $RUN_USER;" \
        "$(lttng --version 2>/dev/null | head -n 1 || echo 'lttng absent');" \
        "$(bpftrace --version 2>/dev/null || echo 'bpftrace absent')."
    echo
    python3 - "$WORK/run/bench.json" "$WORK/bpftrace.txt" "$REPEATS" <<'PYEOF'
import json
import statistics
import sys

runs = json.load(open(sys.argv[1]))["benchmarks"]
bpf = dict(line.split() for line in open(sys.argv[2]) if len(line.split()) == 2)
repeats = int(sys.argv[3])
skipped = {}


def entries(prefix):
    """The repetitions of the benchmark whose name starts with prefix."""
    got = [r for r in runs if r.get("run_type", "iteration") == "iteration"
           and r["name"].split("/")[0] == prefix.split("/")[0] and r["name"].startswith(prefix)]
    for r in got:
        if r.get("error_occurred"):
            skipped[r["name"].split("/")[0]] = r.get("error_message", "")
    return [r for r in got if not r.get("error_occurred")]


def nanoseconds(r, key):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[r.get("time_unit", "ns")]
    return r[key] * scale


def fmt(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def spread(values):
    if not values:
        return "skipped"
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}-{fmt(max(values))})"


def off(name):
    return spread([nanoseconds(r, "cpu_time") for r in entries(name)])


def counter(name, key):
    return [r[key] for r in entries(name) if key in r]


def total(name, key):
    return int(sum(counter(name, key)))


rows = []
# tracering: the reader thread counts what it read, the producer what it dropped.
for label, name in (("tracering (ring of 4 MiB, a reader thread)",
                     "BM_Ring_ProducerConsumer/Lossless:0/Readers:1"),
                    ("tracering, lossless reader (the producer waits for room, bounded)",
                     "BM_Ring_ProducerConsumer/Lossless:1/Readers:1")):
    delivered, lost = total(name, "delivered"), total(name, "dropped")
    rows.append((label, off("BM_Tracepoint_Off"),
                 spread(counter("BM_InboundMessage_Ping", "ns_per_event")),
                 spread(counter(name, "items_per_second")),
                 f"{delivered:,} / {delivered + lost:,}" if entries(name) else "skipped",
                 f"{lost:,}" if entries(name) else "skipped"))
# LTTng-UST: babeltrace2 counts the trace, `lttng list` the discarded events.
name = "BM_Lttng_FullRate"
delivered, lost, attempted = total(name, "delivered"), total(name, "lost"), total(name, "attempted")
rows.append(("LTTng-UST (4 x 1 MiB sub-buffers per CPU, lttng-consumerd to tmpfs)",
             off("BM_Lttng_Off"), spread(counter("BM_Lttng_InboundMessage_Ping", "ns_per_event")),
             spread(counter(name, "items_per_second")),
             f"{delivered:,} / {attempted:,}" if entries(name) else "skipped",
             f"{lost:,}" if entries(name) else "skipped"))
# USDT: the benchmark knows what it fired, bpftrace what it got.
for label, kind in (("USDT + bpftrace counting", "count"), ("USDT + bpftrace printing to a file", "print")):
    full = f"BM_Usdt_Bpftrace_{kind.capitalize()}_FullRate"
    ping = f"BM_Usdt_Bpftrace_{kind.capitalize()}_Ping"
    attempted = total(full, "attempted")
    got = int(bpf.get(f"{kind}_full", 0) or 0)
    fired = counter(full, "items_per_second")
    share = got / attempted if attempted else 0
    rows.append((label, off("BM_Usdt_Off"), spread(counter(ping, "ns_per_event")),
                 spread([f * share for f in fired]),
                 f"{got:,} / {attempted:,}" if fired else "skipped",
                 f"{attempted - got:,}" if fired else "skipped"))

print("| mechanism | off price ns | producer ns/event, consumer keeping up "
      "| events/s delivered at full rate | delivered / attempted | lost |")
print("|---|---:|---:|---:|---:|---:|")
for row in rows:
    print("| " + " | ".join(row) + " |")
print()
print(f"Medians of {repeats} repetitions (range); delivered and lost are totals over them. "
      "Off price: CPU time per call (BM_Tracepoint_Off, BM_Lttng_Off, BM_Usdt_Off). "
      "Producer cost: batches of 4096 events timed, the consumer catching up in between "
      "(BM_InboundMessage_Ping, BM_Lttng_InboundMessage_Ping, BM_Usdt_Bpftrace_*_Ping). "
      "Full rate: 2,000,000 events per iteration (3 iterations, 1 for bpftrace printing) from one thread "
      "(BM_Ring_ProducerConsumer/Lossless:*/Readers:1, BM_Lttng_FullRate, "
      "BM_Usdt_Bpftrace_*_FullRate); for USDT, the probe's firing rate times the share "
      "bpftrace delivered.")
print()
notes = []
lt = "BM_Lttng_InboundMessage_Ping"
if entries(lt):
    notes.append(f"LTTng while keeping up: {total(lt, 'delivered'):,} of {total(lt, 'attempted'):,} "
                 f"delivered, {total(lt, 'lost'):,} discarded")
full = counter("BM_Lttng_FullRate", "producer_ns_per_event")
if full:
    notes.append(f"LTTng full rate, the writing alone: {spread(full)} ns/event")
for kind in ("count", "print"):
    ping = f"BM_Usdt_Bpftrace_{kind.capitalize()}_Ping"
    if entries(ping):
        notes.append(f"bpftrace {kind}ing while keeping up: {int(bpf.get(kind + '_ping', 0) or 0):,} "
                     f"of {total(ping, 'attempted'):,} delivered")
for kind in ("count", "print_ping", "print_full"):
    if f"{kind}_lost" in bpf:
        notes.append(f"bpftrace ({kind}) \"Lost N events\": {bpf[kind + '_lost']}")
# The host's own floor, so that runs on different hosts can be compared by ratios.
def wall(name):
    return [nanoseconds(r, "real_time") for r in entries(name)]


floor = wall("BM_Baseline_ReservationFloor")
parts = []
for name, what in (("BM_Baseline_ReservationFloor", "TSC read + 16-byte compare-and-swap + 128-byte copy"),
                   ("BM_Baseline_ReservationFloor_8ByteCompareAndSwap", "with an 8-byte compare-and-swap"),
                   ("BM_Baseline_ReservationFloor_NoCompareAndSwap", "without a compare-and-swap"),
                   ("BM_Baseline_ReservationFloor_CopyOnly", "the copy alone"),
                   ("BM_Clock_Rdtsc", "rdtsc alone")):
    if wall(name):
        parts.append(f"{what} {spread(wall(name))} ns")
if parts:
    notes.append("this host's floor (BM_Baseline_ReservationFloor*): " + "; ".join(parts))
ping = counter("BM_InboundMessage_Ping", "ns_per_event")
if ping and floor:
    notes.append(f"tracering's ping costs {statistics.median(ping) / statistics.median(floor):.1f} x "
                 "this host's floor (medians)")
lttng = counter("BM_Lttng_InboundMessage_Ping", "ns_per_event")
if ping and lttng:
    notes.append(f"LTTng-UST's producer costs {statistics.median(lttng) / statistics.median(ping):.1f} x "
                 "tracering's (medians)")
for name, why in sorted(skipped.items()):
    notes.append(f"{name} skipped: {why}")
for note in notes:
    print(f"- {note}")
PYEOF
}

if [ -n "$OUT" ]; then
    table >"$OUT"
    log "table written to $OUT"
else
    table
fi
