#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""The node's tracering options and lifecycle.

- On by default: the control socket is <network datadir>/tracering.sock, every ring is off
  until a consumer attaches, and the start-up log says where to attach.
- -notracering leaves no shared memory and no socket; bad options are init errors.
- -traceringsocket and -traceringgroup put the socket and the objects where asked.
- A consumer can attach to a running node, and detach, any number of times.
- SIGKILL of the node under `ringdump watch`: every event written arrives, then watch exits
  with code 2; the restarted node replaces the segment the killed one left behind.
"""

import grp
import os
import signal
import stat
import tempfile
from pathlib import Path

from test_framework.test_framework import BitcoinTestFramework
from test_framework.test_node import ErrorMatch
from test_framework.util import assert_equal

from tracering_util import (
    EXIT_UNAVAILABLE,
    RINGS,
    RingdumpProcess,
    list_rings,
    loadgen,
    no_losses,
    of,
    ringdump,
    segment_of,
    shm_objects,
    socket_path,
    skip_unless_tracering,
)


class TraceringFeatureTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1
        self.setup_clean_chain = True

    def skip_test_if_missing_module(self):
        skip_unless_tracering(self)

    def run_test(self):
        node = self.nodes[0]
        self.test_defaults(node)
        self.test_attach_detach(node)
        self.test_notracering(node)
        self.test_bad_options(node)
        self.test_socket_and_group(node)
        self.test_sigkill(node)

    def test_defaults(self, node):
        self.log.info("On by default: socket in the network datadir, every ring off")
        sock = socket_path(node)
        assert stat.S_ISSOCK(os.stat(sock).st_mode)
        assert_equal(stat.S_IMODE(os.stat(sock).st_mode), 0o600)
        segment = segment_of(node)
        # Read-only even for the node's user; cursor memory is per lease, without a name.
        assert_equal(stat.S_IMODE(os.stat(f"/dev/shm/{segment}").st_mode), 0o400)
        assert_equal([o for o in shm_objects() if o.startswith(segment)], [segment])
        rings = list_rings(node)
        assert_equal(sorted(rings), sorted(RINGS))
        for ring in rings.values():
            assert_equal((ring["ring"], ring["state"], ring["reader_pid"], ring["seq"]), (ring["ring"], "off", 0, 0))
        out, _ = ringdump(node, "list")
        assert f"control {sock}" in out

    def test_attach_detach(self, node):
        self.log.info("Attach to a running node, detach, attach again: each sees only its own events")
        for round in range(3):
            watch = RingdumpProcess(node, self.options.tmpdir, f"attach{round}", "watch", "--json", "--ring", "validation")
            watch.wait_attached(["validation"])
            hashes = self.generate(node, 2, sync_fun=self.no_op)
            watch.wait_for_events(lambda events: len(events) >= 2)
            assert_equal(watch.stop(), 0)
            events = no_losses(watch.events())
            assert_equal([e["block_hash"] for e in of(events, "validation", "block_connected")], hashes)
            self.wait_until(lambda: list_rings(node)["validation"]["state"] == "off")

    def test_notracering(self, node):
        self.log.info("-notracering: no shared memory and no socket")
        segment = segment_of(node)
        with node.assert_debug_log(["tracering: disabled by -notracering"]):
            self.restart_node(0, extra_args=["-notracering"])
        assert not socket_path(node).exists()
        assert segment not in shm_objects()
        assert not [o for o in shm_objects() if o.startswith(segment)]
        ringdump(node, "list", expect_code=EXIT_UNAVAILABLE)
        # The other options are ignored then, even bad ones, and the node says so.
        self.restart_node(0, extra_args=["-notracering", "-traceringsocket=/nonexistent/x.sock",
                                         "-traceringgroup=no-such-group-here"])
        assert not Path("/nonexistent/x.sock").exists()
        self.stop_node(0, expected_stderr="\n".join(
            f"Warning: {arg} is ignored: -notracering turns tracering off"
            for arg in ("-traceringsocket", "-traceringgroup")))
        self.start_node(0)
        assert_equal(segment_of(node), segment)

    def test_bad_options(self, node):
        self.log.info("Bad options are init errors that say what is wrong")
        self.stop_node(0)
        node.assert_start_raises_init_error(
            ["-traceringgroup=no-such-group-here"],
            "Error: Invalid -traceringgroup: there is no group 'no-such-group-here' on this system")
        node.assert_start_raises_init_error(
            ["-traceringsocket="],
            "Error: -traceringsocket needs a path", match=ErrorMatch.PARTIAL_REGEX)
        long_path = "/tmp/" + "x" * 120 + ".sock"
        node.assert_start_raises_init_error(
            [f"-traceringsocket={long_path}"],
            "Error: Cannot start tracering: .*107 characters long", match=ErrorMatch.PARTIAL_REGEX)
        not_a_socket = node.chain_path / "not-a-socket"
        not_a_socket.write_text("a file")
        node.assert_start_raises_init_error(
            [f"-traceringsocket={not_a_socket}"],
            "Error: Cannot start tracering: control socket path .* exists and is not a socket",
            match=ErrorMatch.PARTIAL_REGEX)
        not_a_socket.unlink()
        self.start_node(0)

    def test_socket_and_group(self, node):
        self.log.info("-traceringsocket (relative to the network datadir) and -traceringgroup")
        gid = os.getgid()
        group = grp.getgrgid(gid).gr_name
        # The socket's new folder is created with the node's umask 077, so the group cannot
        # enter it: the node starts, and warns.
        sock = node.chain_path / "trace" / "here.sock"
        warning = (f"Warning: Members of -traceringgroup={group} cannot reach the tracering socket {sock}: "
                   f"they may not enter {sock.parent}. Give -traceringsocket a path in a directory the group can enter")
        self.restart_node(0, extra_args=["-traceringsocket=trace/here.sock", f"-traceringgroup={group}"])
        assert not socket_path(node).exists()
        assert stat.S_ISSOCK(os.stat(sock).st_mode)
        ringdump(node, "list", control=sock)
        self.stop_node(0, expected_stderr=warning)

        # In a folder the group may enter, no warning; socket and objects belong to the group.
        shared = Path(tempfile.mkdtemp(prefix="tracering-group-", dir="/tmp"))
        os.chown(shared, -1, gid)
        shared.chmod(0o750)
        sock = shared / "node.tracering.sock"
        self.start_node(0, extra_args=[f"-traceringsocket={sock}", f"-traceringgroup={gid}"])
        segment = segment_of(node)
        for path, mode in [(sock, 0o660), (f"/dev/shm/{segment}", 0o440)]:
            st = os.stat(path)
            assert_equal((str(path), stat.S_IMODE(st.st_mode), st.st_gid), (str(path), mode, gid))
        ringdump(node, "list", control=sock)
        self.stop_node(0)
        assert not sock.exists()
        shared.rmdir()
        self.start_node(0)

    def test_sigkill(self, node):
        self.log.info("SIGKILL under watch: every event written arrives, then exit code 2")
        pings = 20000
        watch = RingdumpProcess(node, self.options.tmpdir, "sigkill", "watch", "--json", "--ring", "net", "--lossless")
        watch.wait_attached(["net"])
        result = loadgen(node, "ping", "--count", str(pings))
        assert_equal((result["sent"], result["pongs"], result["bad_nonces"]), (str(pings), str(pings), "0"))
        segment = segment_of(node)
        node.process.send_signal(signal.SIGKILL)
        node.wait_until_stopped(expected_ret_code=-signal.SIGKILL)
        assert_equal(watch.wait(), EXIT_UNAVAILABLE)
        assert "is gone" in watch.stderr() or "died" in watch.stderr(), watch.stderr()
        events = no_losses(watch.events())
        received = [e for e in of(events, "net", "inbound_message") if e["msg_type"] == "ping"]
        sent = [e for e in of(events, "net", "outbound_message") if e["msg_type"] == "pong"]
        assert_equal((len(received), len(sent)), (pings, pings))
        assert segment in shm_objects(), "the killed node's segment should be left behind"

        self.log.info("The restarted node replaces the stale segment")
        self.start_node(0)
        assert_equal(segment_of(node), segment)
        assert_equal([o for o in shm_objects() if o.startswith(segment)], [segment])
        rings = list_rings(node)
        assert_equal({r["seq"] for r in rings.values()}, {0})


if __name__ == '__main__':
    TraceringFeatureTest(__file__).main()
