#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""The checks of Bitcoin Core's interface_usdt_utxocache.py, on tracering instead of BCC: no
root, no eBPF. The utxocache ring is read with the tracering Python module while a coin is
uncached after a failed testmempoolaccept, a block is reconnected (add and spent), the node
shuts down (two flushes) and a pruned node prunes (one flush); each event is compared with
what the node reports.

How the BCC parts map to tracering:
- USDT(pid=...).enable_probe() and a BPF program copying the probe arguments into a perf
  buffer: client.attach(["utxocache"], events=[...], lossless=True) on the node's control
  socket; the fields are decoded from the schema (schemas/utxocache.fbs) by name.
- The ctypes structures: Event.as_dict(). txid arrives as display hex, so it is not reversed
  by hand; the flush mode arrives by name ("force-flush" for FORCE_FLUSH, "none" for NONE)
  instead of the number FLUSHMODE_NAME translates; the USDT flush's size, memory and duration
  are coins_count, coins_mem_usage and duration_us.
- perf_buffer_poll(timeout=...), which takes what arrived within a fixed time (an event
  dropped by a full perf buffer just goes uncounted): the expected number of events is read
  with session.events(timeout=...), and since the node writes them before the RPC returns, a
  non-blocking poll() must then find nothing more. The session is lossless and session.lost
  must be 0.
- Handlers that count their successes because an assertion in a ctypes callback does not
  propagate: the events are returned and asserted on directly.
- The shutdown flushes, which BCC reads from the perf buffer after stop_node(): here the
  session stays attached while the node stops. The node destroys its producer at the end of
  Shutdown(), after the last flush; the session delivers every event written before that and
  then raises tracering.ProducerGone, so the flushes read before ProducerGone are all there
  were. After the restart, a new client connects to the restarted node's socket.
- skip_if_no_python_bcc, skip_if_no_bpf_permissions and the USDT build check: not needed; the
  test runs as any user that can reach the node's control socket.
"""

import tracering
from test_framework.messages import COIN
from test_framework.test_framework import BitcoinTestFramework
from test_framework.util import assert_equal, assert_greater_than
from test_framework.wallet import MiniWallet

from tracering_util import socket_path

# Coins in the cache when the node stops, after the scenarios before it; it changes if they
# change (it is the USDT test's UTXOS_IN_CACHE).
UTXOS_IN_CACHE = 3
BLOCKS_TO_MINE = 350
PRUNE_HEIGHT = 315


def coin_key(event):
    """What an add, spent or uncache event says of its coin, comparable with the expected."""
    return (event["txid"], event["index"], event["height"], event["value"], event["is_coinbase"])


def flush_key(event):
    return (event["mode"], event["for_prune"], event["coins_count"])


class UTXOCacheTraceringTest(BitcoinTestFramework):
    def set_test_params(self):
        self.setup_clean_chain = False
        self.num_nodes = 1
        self.extra_args = [["-txindex"]]

    def read_exactly(self, session, count):
        """The `count` events the last RPC fired. The node writes them before the RPC returns,
        so once they are read a non-blocking poll must find nothing more."""
        events = []
        for ev in session.events(timeout=10.0):
            events.append(ev.as_dict())
            self.log.info(f"{events[-1]['event']}: {events[-1]}")
            if len(events) == count:
                break
        assert_equal(len(events), count)
        assert_equal(session.poll(timeout=0), [])
        assert_equal(session.lost, 0)
        return events

    def read_until_gone(self, session):
        """Every event of a session whose node stopped: the session ends with ProducerGone
        once it delivered the last one."""
        events = []
        try:
            for ev in session.events(timeout=60.0):
                events.append(ev.as_dict())
                self.log.info(f"{events[-1]['event']}: {events[-1]}")
        except tracering.ProducerGone as gone:
            self.log.info(f"the session ended with ProducerGone: {gone.message}")
        else:
            raise AssertionError("the node stopped, but the session did not end with ProducerGone")
        assert_equal(session.lost, 0)
        return events

    def check_flushes(self, events, expected):
        """The flushes match `expected` ((mode, for_prune, coins_count) in any order) and are
        plausible: a flush takes time and the cache takes memory."""
        assert_equal(sorted(flush_key(e) for e in events), sorted(expected))
        for event in events:
            assert_greater_than(event["coins_mem_usage"], 0)
            assert_greater_than(event["duration_us"], 0)

    def uncache_test(self):
        node = self.nodes[0]
        self.log.info("utxocache:uncache: a failed testmempoolaccept drops the coin it loaded")
        # The coinbase of block 1 is on disk but not in the cache. A transaction spending it
        # with the wallet's witness is invalid, so the coin that validation loaded into the
        # cache is uncached again.
        coinbase_height = 1
        coinbase_txid = node.getblock(node.getblockhash(coinbase_height))["tx"][0]
        invalid_tx = self.wallet.create_self_transfer()["tx"]
        invalid_tx.vin[0].prevout.hash = int(coinbase_txid, 16)

        with self.client.attach(["utxocache"], events=["uncache"], lossless=True) as session:
            result = node.testmempoolaccept([invalid_tx.serialize().hex()])[0]
            assert_equal(result["allowed"], False)
            [event] = self.read_exactly(session, 1)
        assert_equal(coin_key(event), (coinbase_txid, 0, coinbase_height, 50 * COIN, True))

    def add_spent_test(self):
        node = self.nodes[0]
        self.log.info("utxocache:add and utxocache:spent: reconnect a block with a transaction")
        self.wallet.send_self_transfer(from_node=node)
        # Mining validates the block on a throwaway copy of the cache first (TestBlockValidity),
        # which fires add and spent too. Reconnecting the block after invalidateblock changes
        # only the node's cache, so that is what is traced.
        block_hash = self.generate(self.wallet, 1)[0]
        node.invalidateblock(block_hash)

        with self.client.attach(["utxocache"], events=["add", "spent"], lossless=True) as session:
            node.reconsiderblock(block_hash)
            events = self.read_exactly(session, 3)

        block = node.getblock(block_hash, 2)
        expected_adds = []
        expected_spents = []
        for position, tx in enumerate(block["tx"]):
            for txin in tx["vin"]:
                if "coinbase" in txin:
                    continue
                prev_tx = node.getrawtransaction(txin["txid"], True)
                expected_spents.append((
                    txin["txid"],
                    txin["vout"],
                    node.getblockheader(prev_tx["blockhash"])["height"],
                    int(prev_tx["vout"][txin["vout"]]["value"] * COIN),
                    "coinbase" in prev_tx["vin"][0],
                ))
            # Unspendable outputs (the witness commitment) never enter the cache.
            for n, txout in enumerate(tx["vout"]):
                if txout["scriptPubKey"]["type"] == "nulldata":
                    continue
                expected_adds.append((tx["txid"], n, block["height"], int(txout["value"] * COIN), position == 0))
        # The coinbase's and the transaction's outputs are added; the transaction's input spent.
        assert_equal(len(expected_adds), 2)
        assert_equal(len(expected_spents), 1)

        # Compared regardless of order, as the USDT test does.
        actual_adds = sorted(coin_key(e) for e in events if e["event"] == "add")
        actual_spents = sorted(coin_key(e) for e in events if e["event"] == "spent")
        assert_equal(actual_adds, sorted(expected_adds))
        assert_equal(actual_spents, sorted(expected_spents))

    def flush_test(self):
        self.log.info("utxocache:flush: stop the node, which flushes the cache twice")
        with self.client.attach(["utxocache"], events=["flush"], lossless=True) as session:
            self.stop_node(0)
            events = self.read_until_gone(session)
        # One flush writes the coins in the cache and one the empty cache; usually in this
        # order, but the order is not checked, as in the USDT test.
        self.check_flushes(events, [("force-flush", False, UTXOS_IN_CACHE), ("force-flush", False, 0)])

        self.log.info("utxocache:flush: a pruned node prunes")
        self.start_node(0, ["-fastprune=1", "-prune=1"])
        node = self.nodes[0]
        self.client = tracering.connect(str(socket_path(node)))
        self.log.info(f"mine {BLOCKS_TO_MINE} blocks to have something to prune")
        self.generate(self.wallet, BLOCKS_TO_MINE)
        with self.client.attach(["utxocache"], events=["flush"], lossless=True) as session:
            node.pruneblockchain(PRUNE_HEIGHT)
            events = self.read_exactly(session, 1)
        self.check_flushes(events, [("none", True, BLOCKS_TO_MINE)])

    def run_test(self):
        node = self.nodes[0]
        self.client = tracering.connect(str(socket_path(node)))
        self.wallet = MiniWallet(node)
        self.uncache_test()
        self.add_spent_test()
        self.flush_test()


if __name__ == '__main__':
    UTXOCacheTraceringTest(__file__).main()
