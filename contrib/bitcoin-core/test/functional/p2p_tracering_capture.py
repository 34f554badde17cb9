#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""`ringdump capture --format capturemessage` against the node's own -capturemessages.

The node runs with -capturemessages while ringdump captures the same session from the net
ring: an inbound peer with a full handshake and some traffic, an outbound connection, a ping
flood from tracering-loadgen, blocks announced to the peers. Then every file is compared:
the same folders, and in each msgs_recv.dat and msgs_sent.dat the same messages in the same
order, with the same types and payloads, record for record. Timestamps come from each
writer's own clock; how far apart they are is logged, and must stay under a second.
"""

import os
import signal
import statistics
from pathlib import Path

from test_framework.messages import msg_getheaders, msg_ping
from test_framework.p2p import P2PInterface
from test_framework.test_framework import BitcoinTestFramework
from test_framework.util import assert_equal

from tracering_util import RingdumpProcess, loadgen, skip_unless_tracering

PINGS = 2000


def read_capture(path):
    """[(time_us, msg_type, payload)] of a -capturemessages file."""
    data = Path(path).read_bytes()
    records, pos = [], 0
    while pos < len(data):
        assert pos + 24 <= len(data), f"{path}: cut in a record header at byte {pos}"
        time_us = int.from_bytes(data[pos:pos + 8], "little")
        msg_type = data[pos + 8:pos + 20].rstrip(b"\0").decode()
        length = int.from_bytes(data[pos + 20:pos + 24], "little")
        payload = data[pos + 24:pos + 24 + length]
        assert_equal(len(payload), length)
        records.append((time_us, msg_type, payload))
        pos += 24 + length
    return records


def capture_files(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).glob("*/msgs_*.dat"))


class TraceringCaptureTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1
        self.setup_clean_chain = True
        self.extra_args = [["-capturemessages"]]

    def skip_test_if_missing_module(self):
        skip_unless_tracering(self)

    def run_test(self):
        node = self.nodes[0]
        out = Path(self.options.tmpdir) / "ringdump-capture"
        capture = RingdumpProcess(node, self.options.tmpdir, "capture", "capture", "--out", str(out),
                                  "--format", "capturemessage", "--lossless")
        capture.wait_attached(["net"])

        self.log.info("A session: inbound and outbound peers, pings, getheaders, blocks, a ping flood")
        inbound = node.add_p2p_connection(P2PInterface())
        outbound = node.add_outbound_p2p_connection(P2PInterface(), p2p_idx=0, connection_type="outbound-full-relay")
        for nonce in range(10):
            inbound.send_and_ping(msg_ping(nonce=nonce))
        inbound.send_and_ping(msg_getheaders())
        self.generate(node, 3, sync_fun=self.no_op)
        inbound.sync_with_ping()
        outbound.sync_with_ping()
        result = loadgen(node, "ping", "--count", str(PINGS))
        assert_equal(result["pongs"], str(PINGS))
        node.disconnect_p2ps()
        self.wait_until(lambda: node.getpeerinfo() == [])

        # Every message event is in the ring once the peers are gone: the node fires the
        # tracepoint next to its own capture write, on the same thread.
        assert_equal(capture.stop(signal.SIGINT), 0)
        self.log.info(f"ringdump: {capture.stderr().strip()}")

        self.log.info("The same folders and files")
        ours = node.chain_path / "message_capture"
        assert_equal(capture_files(out), capture_files(ours))
        assert len(capture_files(ours)) >= 6, capture_files(ours)

        self.log.info("The same records in every file, in the same order")
        deltas = []
        total = 0
        for name in capture_files(ours):
            node_records = read_capture(ours / name)
            ring_records = read_capture(out / name)
            assert_equal([(t, p) for _, t, p in ring_records], [(t, p) for _, t, p in node_records])
            deltas += [r[0] - n[0] for n, r in zip(node_records, ring_records)]
            total += len(node_records)
            mode = os.stat(out / name).st_mode & 0o777
            assert_equal(mode, 0o600)
        assert total > 2 * PINGS, total
        spread = [abs(d) for d in deltas]
        self.log.info(f"{total} records in {len(capture_files(ours))} files identical in type and payload; "
                      f"timestamps ringdump minus node: median {statistics.median(deltas):+.0f} us, "
                      f"largest difference {max(spread)} us")
        assert max(spread) < 1_000_000, max(spread)


if __name__ == '__main__':
    TraceringCaptureTest(__file__).main()
