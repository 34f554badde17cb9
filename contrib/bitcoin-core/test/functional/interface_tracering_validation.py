#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""The checks of Bitcoin Core's interface_usdt_validation.py, on tracering instead of BCC:
no root, no eBPF. validation:block_connected is read with the tracering Python module from
the node's control socket while two blocks are mined, and each event is compared with the
block the node reports."""

import time

import tracering
from test_framework.address import ADDRESS_BCRT1_UNSPENDABLE
from test_framework.test_framework import BitcoinTestFramework
from test_framework.util import assert_equal

from tracering_util import socket_path

BLOCKS_EXPECTED = 2


class ValidationTraceringTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1

    def run_test(self):
        node = self.nodes[0]
        client = tracering.connect(str(socket_path(node)))
        self.log.info("attach to validation:block_connected")
        with client.attach(["validation"], events=["block_connected"], lossless=True) as session:
            self.log.info(f"mine {BLOCKS_EXPECTED} blocks")
            expected_blocks = {}
            generate_ns = {}
            for _ in range(BLOCKS_EXPECTED):
                start = time.time()
                block_hash = self.generatetoaddress(node, 1, ADDRESS_BCRT1_UNSPENDABLE)[0]
                generate_ns[block_hash] = (time.time() - start) * 1e9
                expected_blocks[block_hash] = node.getblock(block_hash, 2)

            events = []
            for ev in session.events(timeout=10.0):
                events.append(ev.as_dict())
                self.log.info(f"block_connected: {events[-1]}")
                if len(events) == BLOCKS_EXPECTED:
                    break
            assert_equal(session.lost, 0)

        self.log.info(f"check that {BLOCKS_EXPECTED} blocks were traced correctly")
        for event in events:
            block = expected_blocks[event["block_hash"]]  # display hex, as getblock's
            assert_equal(block["hash"], event["block_hash"])
            assert_equal(block["height"], event["height"])
            assert_equal(len(block["tx"]), event["transactions"])
            assert_equal(len([tx["vin"] for tx in block["tx"]]), event["inputs"])
            assert_equal(0, event["sigops"])  # no sigops in a coinbase transaction
            # Plausibility: connecting takes time, and less than mining and connecting.
            assert event["duration_ns"] > 0
            assert event["duration_ns"] < generate_ns[event["block_hash"]]
            del expected_blocks[event["block_hash"]]
        assert_equal(BLOCKS_EXPECTED, len(events))
        assert_equal(0, len(expected_blocks))


if __name__ == '__main__':
    ValidationTraceringTest(__file__).main()
