#!/usr/bin/env bash
# Group access with real users: a test node started with --group by one unprivileged user is
# read by a member of that group and refused to a user outside it.
#
#   tests/e2e/group_access.sh [BUILD_DIR]      (default: build; run as root)
#
# It needs root to make the users, and skips (exit 0, saying so) without it. It creates, if
# they are missing, and keeps afterwards (no login shell, no home):
#
#   group tracering-readers
#   user  tracering-node      runs tracering-testnode --group tracering-readers; in the group
#   user  tracering-member    in tracering-readers
#   user  tracering-outsider  not in it (taken out if an earlier run left it there)
#
# and checks, each user's commands run through setpriv with that user's ids and groups only:
#   - --group refuses a group that does not exist, and one the node's user is not in, naming it
#   - the segment is 0440 and the control socket 0660, owned by the node's user, of the group,
#     and the segment is the only object in /dev/shm (cursor memory is per lease, nameless)
#   - the outsider cannot connect (ringdump exit 2, "permission denied") nor open the segment
#   - the member lists the rings, may open the segment read-only but not read-write (EACCES),
#     and two `ringdump watch` of the member's (one lossless) each receive every ping of a
#     tracering-loadgen flood, none lost
#
# Binaries come from BUILD_DIR (tracering-testnode, ringdump, tracering-loadgen), copied to a
# scratch directory the test users may enter. Every process it starts is stopped at exit.
# Environment: GROUP_ACCESS_PINGS (default 20000).
set -euo pipefail

PROG=group_access.sh
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${1:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
PINGS="${GROUP_ACCESS_PINGS:-20000}"

GROUP=tracering-readers
NODE_USER=tracering-node
MEMBER=tracering-member
OUTSIDER=tracering-outsider

log() { printf '%s: %s\n' "$PROG" "$*"; }
fail() {
    printf '%s: FAILED: %s\n' "$PROG" "$*" >&2
    exit 1
}
pass() { log "ok: $*"; }

if [ "$(id -u)" != 0 ]; then
    log "SKIPPED: needs root to create the group $GROUP and the users $NODE_USER, $MEMBER and" \
        "$OUTSIDER it tests with (run it as root: sudo $0)"
    exit 0
fi
for tool in setpriv useradd groupadd usermod gpasswd stat; do
    command -v "$tool" >/dev/null || fail "$tool is missing (Debian: util-linux, passwd, coreutils)"
done
[ -x /usr/bin/python3 ] || fail "/usr/bin/python3 is missing: install python3"
[[ $PINGS =~ ^[1-9][0-9]*$ ]] || fail "GROUP_ACCESS_PINGS='$PINGS' is not a positive integer"

declare -A BINARIES=(
    [tracering-testnode]="$BUILD_DIR/tools/testnode/tracering-testnode"
    [ringdump]="$BUILD_DIR/tools/ringdump/ringdump"
    [tracering-loadgen]="$BUILD_DIR/tools/loadgen/tracering-loadgen"
)
for tool in "${!BINARIES[@]}"; do
    [ -x "${BINARIES[$tool]}" ] ||
        fail "${BINARIES[$tool]} is not built (cmake --build $BUILD_DIR --target $tool)"
done

# --- the users --------------------------------------------------------------------------------
getent group "$GROUP" >/dev/null || groupadd --system "$GROUP"
make_user() {
    getent passwd "$1" >/dev/null ||
        useradd --system --user-group --no-create-home --home-dir / --shell /usr/sbin/nologin "$1"
}
make_user "$NODE_USER"
make_user "$MEMBER"
make_user "$OUTSIDER"
usermod --append --groups "$GROUP" "$NODE_USER"
usermod --append --groups "$GROUP" "$MEMBER"
if id -nG "$OUTSIDER" | tr ' ' '\n' | grep -qx "$GROUP"; then
    gpasswd --delete "$OUTSIDER" "$GROUP" >/dev/null
fi
log "users: $(id "$NODE_USER"); $(id "$MEMBER"); $(id "$OUTSIDER")"

# as USER CMD...: CMD with USER's uid, gid and groups (from /etc/group), and a clean
# environment, as that user would run it. setpriv and env exec, so a background
# "${AS[@]}" CMD & (set by as_argv USER) has CMD's own pid in $!.
as_argv() {
    AS=(setpriv --reuid="$1" --regid="$1" --init-groups --
        env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/ LANG=C.UTF-8)
}
as() {
    local AS
    as_argv "$1"
    shift
    "${AS[@]}" "$@"
}

# --- scratch directory and clean-up ------------------------------------------------------------
WORK="$(mktemp -d /tmp/tracering-group-access.XXXXXX)"
NAME="group-access-$$"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
    rm -f "/dev/shm/tracering.$NAME"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The test users may enter WORK (and run its binaries); only the node's user may create the
# socket in WORK/run, and everyone may enter it, so that the socket's own mode is what the
# outsider meets.
chmod 0755 "$WORK"
mkdir "$WORK/bin" "$WORK/run" "$WORK/logs"
for tool in "${!BINARIES[@]}"; do install -m 0755 "${BINARIES[$tool]}" "$WORK/bin/$tool"; done
chown "$NODE_USER:$GROUP" "$WORK/run"
chmod 0755 "$WORK/run"
BIN="$WORK/bin"
LOGS="$WORK/logs"
SOCK="$WORK/run/tracering.sock"
SEGMENT="/dev/shm/tracering.$NAME"

# wait_exit PID WHAT: waits (30 s at most) for PID to end; sets RC to its exit status.
wait_exit() {
    for _ in $(seq 300); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$1" 2>/dev/null && fail "$2 still runs after 30 s"
    RC=0
    wait "$1" || RC=$?
}

# wait_until WHAT PID CMD...: polls CMD (every 0.1 s, 30 s at most) until it succeeds; fails
# early if PID exits.
wait_until() {
    local what=$1 pid=$2
    shift 2
    for _ in $(seq 300); do
        "$@" && return 0
        kill -0 "$pid" 2>/dev/null || fail "$what: process $pid exited first"
        sleep 0.1
    done
    fail "$what: not after 30 s"
}

# run_capture NAME CMD...: runs CMD, its stdout and stderr in LOGS/NAME.out and .err; sets RC.
run_capture() {
    local name=$1
    shift
    RC=0
    "$@" >"$LOGS/$name.out" 2>"$LOGS/$name.err" </dev/null || RC=$?
}

# --- --group refuses what it cannot do ---------------------------------------------------------
run_capture bad-group as "$NODE_USER" "$BIN/tracering-testnode" --listen 127.0.0.1:0 \
    --control "$SOCK" --name "$NAME" --group tracering-no-such-group
[ "$RC" = 1 ] || fail "--group with an unknown group: exit $RC, expected 1"
grep -q "^tracering-testnode: --group: there is no group 'tracering-no-such-group'" \
    "$LOGS/bad-group.err" || fail "unknown group, wrong message: $(cat "$LOGS/bad-group.err")"
pass "--group tracering-no-such-group: exit 1, $(head -n 1 "$LOGS/bad-group.err")"

run_capture not-member as "$OUTSIDER" "$BIN/tracering-testnode" --listen 127.0.0.1:0 \
    --control "$SOCK" --name "$NAME" --group "$GROUP"
[ "$RC" = 1 ] || fail "--group by a user outside the group: exit $RC, expected 1"
grep -q "cannot give the segment and control socket to group '$GROUP' (gid [0-9]*): user '$OUTSIDER' (uid [0-9]*) is not a member of it" \
    "$LOGS/not-member.err" || fail "not a member, wrong message: $(cat "$LOGS/not-member.err")"
if [ -e "$SEGMENT" ] || [ -e "$SOCK" ]; then fail "a refused --group left objects behind"; fi
pass "--group $GROUP by $OUTSIDER: exit 1, $(head -n 1 "$LOGS/not-member.err")"

# --- the node, as an unprivileged user ---------------------------------------------------------
as_argv "$NODE_USER"
"${AS[@]}" "$BIN/tracering-testnode" --listen 127.0.0.1:0 --control "$SOCK" \
    --name "$NAME" --group "$GROUP" >"$LOGS/node.out" 2>"$LOGS/node.err" </dev/null &
NODE=$!
PIDS+=("$NODE")
wait_until "tracering-testnode ready ($(cat "$LOGS/node.err" 2>/dev/null))" "$NODE" \
    grep -q '^ready [0-9]' "$LOGS/node.out"
PORT="$(awk '/^ready/ {print $2; exit}' "$LOGS/node.out")"
log "tracering-testnode runs as $NODE_USER, pid $NODE, P2P port $PORT, socket $SOCK"

expect_mode() {
    local path=$1 want=$2 got
    got="$(stat -c '%a %U %G' "$path")"
    [ "$got" = "$want" ] || fail "$path is '$got', expected '$want'"
    pass "$path: mode, owner, group: $got"
}
expect_mode "$SEGMENT" "440 $NODE_USER $GROUP"
expect_mode "$SOCK" "660 $NODE_USER $GROUP"
[ ! -e "$SEGMENT.cursors" ] || fail "a shared cursors object exists: $SEGMENT.cursors"
pass "the segment is the only object in /dev/shm"

# open_segment USER FLAG: prints "ok" or the errno name of os.open(SEGMENT, FLAG).
open_segment() {
    as "$1" /usr/bin/python3 -c '
import errno, os, sys
try:
    os.close(os.open(sys.argv[1], getattr(os, sys.argv[2])))
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))' "$SEGMENT" "$2"
}

# --- the outsider is refused -------------------------------------------------------------------
run_capture outsider-list as "$OUTSIDER" "$BIN/ringdump" --control "$SOCK" list
[ "$RC" = 2 ] || fail "outsider's ringdump list: exit $RC, expected 2 (cannot attach)"
grep -q "^ringdump: .*permission denied connecting to $SOCK.*grant group access" \
    "$LOGS/outsider-list.err" || fail "outsider, wrong message: $(cat "$LOGS/outsider-list.err")"
pass "$OUTSIDER: ringdump list exits 2: $(head -n 1 "$LOGS/outsider-list.err")"
[ "$(open_segment "$OUTSIDER" O_RDONLY)" = EACCES ] || fail "$OUTSIDER could open $SEGMENT"
pass "$OUTSIDER: open($SEGMENT, O_RDONLY) fails with EACCES"

# --- the member reads, and cannot write ------------------------------------------------------
run_capture member-list as "$MEMBER" "$BIN/ringdump" --control "$SOCK" list
[ "$RC" = 0 ] || fail "member's ringdump list: exit $RC: $(cat "$LOGS/member-list.err")"
grep -q '^net ' "$LOGS/member-list.out" || fail "member's list has no net ring"
pass "$MEMBER: ringdump list exits 0, $(wc -l <"$LOGS/member-list.out") lines"
[ "$(open_segment "$MEMBER" O_RDONLY)" = ok ] || fail "$MEMBER cannot open $SEGMENT read-only"
rdwr="$(open_segment "$MEMBER" O_RDWR)"
[ "$rdwr" = EACCES ] || fail "$MEMBER: open($SEGMENT, O_RDWR) gave $rdwr, expected EACCES"
pass "$MEMBER: open($SEGMENT) read-only succeeds, O_RDWR fails with EACCES"

as_argv "$MEMBER"
"${AS[@]}" "$BIN/ringdump" --control "$SOCK" watch --event net:inbound_message --json \
    --lossless >"$LOGS/watch.out" 2>"$LOGS/watch.err" </dev/null &
WATCH=$!
PIDS+=("$WATCH")
# A second reader of the same ring, with other events and lossy: each lease reads on its own.
"${AS[@]}" "$BIN/ringdump" --control "$SOCK" watch --ring net --json \
    >"$LOGS/watch2.out" 2>"$LOGS/watch2.err" </dev/null &
WATCH2=$!
PIDS+=("$WATCH2")
# The flood must not start before both watches read the net ring.
watches_read_net() {
    local net
    net="$(as "$MEMBER" "$BIN/ringdump" --control "$SOCK" list --json 2>/dev/null |
        grep '^{"ring":"net"')" || return 1
    grep -q "{\"pid\":${WATCH}," <<<"$net" && grep -q "{\"pid\":${WATCH2}," <<<"$net"
}
wait_until "both ringdump watches attach the net ring ($(cat "$LOGS/watch.err" "$LOGS/watch2.err"))" \
    "$WATCH" watches_read_net
pass "$MEMBER: two ringdump watches (pids $WATCH, $WATCH2) read the net ring"

run_capture loadgen as "$MEMBER" "$BIN/tracering-loadgen" --connect "127.0.0.1:$PORT" ping \
    --count "$PINGS"
[ "$RC" = 0 ] || fail "loadgen: exit $RC: $(cat "$LOGS/loadgen.err" "$LOGS/loadgen.out")"
grep -q "^result mode=ping sent=$PINGS pongs=$PINGS bad_nonces=0 " "$LOGS/loadgen.out" ||
    fail "loadgen: $(cat "$LOGS/loadgen.out")"
log "loadgen: $(grep -m 1 "^sent " "$LOGS/loadgen.out")"

# A clean stop: the node removes its objects; watch reads what is left, then exits 0.
kill -TERM "$NODE"
wait_exit "$NODE" "tracering-testnode (sent SIGTERM)"
[ "$RC" = 0 ] || fail "tracering-testnode exited $RC: $(cat "$LOGS/node.err")"
wait_exit "$WATCH" "ringdump watch (its producer exited)"
[ "$RC" = 0 ] || fail "ringdump watch exited $RC: $(cat "$LOGS/watch.err")"
wait_exit "$WATCH2" "the second ringdump watch (its producer exited)"
PIDS=()
[ "$RC" = 0 ] || fail "the second ringdump watch exited $RC: $(cat "$LOGS/watch2.err")"
if [ -e "$SEGMENT" ] || [ -e "$SOCK" ]; then fail "the node left its segment or socket behind"; fi

pings="$(grep -c '"msg_type":"ping"' "$LOGS/watch.out" || true)"
nonces="$(grep '"msg_type":"ping"' "$LOGS/watch.out" | grep -o '"payload":"[0-9a-f]*"' |
    sort -u | wc -l)"
lost_lines="$(grep -c '^{"lost"' "$LOGS/watch.out" || true)"
if [ "$pings" != "$PINGS" ] || [ "$nonces" != "$PINGS" ]; then
    fail "$MEMBER's watch saw $pings pings ($nonces distinct nonces) of $PINGS sent"
fi
[ "$lost_lines" = 0 ] || fail "$MEMBER's watch reported $lost_lines gaps: $(grep '^{"lost"' "$LOGS/watch.out" | head -n 3)"
grep -q '^ringdump: [0-9]* events delivered, 0 lost' "$LOGS/watch.err" ||
    fail "watch summary: $(cat "$LOGS/watch.err")"
pass "$MEMBER: ringdump watch received all $PINGS pings ($nonces distinct nonces), none lost;" \
    "$(grep '^ringdump: ' "$LOGS/watch.err" | tail -n 1)"
pings2="$(grep -c '"msg_type":"ping"' "$LOGS/watch2.out" || true)"
pongs2="$(grep -c '"msg_type":"pong"' "$LOGS/watch2.out" || true)"
lost2="$(grep -c '^{"lost"' "$LOGS/watch2.out" || true)"
if [ "$lost2" = 0 ]; then
    [ "$pings2" = "$PINGS" ] && [ "$pongs2" = "$PINGS" ] ||
        fail "the second watch saw $pings2 pings and $pongs2 pongs of $PINGS, and no gap"
    pass "$MEMBER: the second watch received all $PINGS pings and pongs, none lost"
else
    # Lossy: what it missed must be counted, never silent.
    log "the second (lossy) watch reported $lost2 gaps: $(grep '^ringdump: ' "$LOGS/watch2.err" | tail -n 1)"
fi

log "passed"
