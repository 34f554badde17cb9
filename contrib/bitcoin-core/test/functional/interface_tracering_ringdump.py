#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""ringdump list, watch and stats against a running bitcoind, driven by a ping flood from
tracering-loadgen and by the node's own RPCs.

- A ping flood arrives as exactly one net:inbound_message ping and one net:outbound_message
  pong per ping, nonces in order, none lost.
- Mining (generatetoaddress) fires validation:block_connected and utxocache:add; a wallet
  send (sendtoaddress) fires coin_selection:* and mempool:added; mining it fires
  mempool:removed and utxocache:spent; each with the values the RPCs report.
- Stopping the node: utxocache:flush (FORCE_FLUSH) reaches the reader before it is told the
  node exited (exit code 0).
"""

import json
from decimal import Decimal

from test_framework.test_framework import BitcoinTestFramework
from test_framework.util import assert_equal, assert_greater_than

from tracering_util import (
    RINGS,
    RingdumpProcess,
    list_rings,
    loadgen,
    no_losses,
    of,
    ringdump,
    skip_unless_tracering,
)

PINGS = 50000
COIN = 100_000_000


def sats(btc):
    return int(Decimal(btc) * COIN)


class TraceringRingdumpTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1
        self.setup_clean_chain = True

    def skip_test_if_missing_module(self):
        self.skip_if_no_wallet()
        skip_unless_tracering(self)

    def run_test(self):
        node = self.nodes[0]
        self.watch = RingdumpProcess(node, self.options.tmpdir, "watch", "watch", "--json", "--lossless")
        self.watch.wait_attached(RINGS)
        listed = list_rings(node)
        for ring in RINGS:
            assert_equal((ring, listed[ring]["lossless"], listed[ring]["selected_events"]),
                         (ring, True, listed[ring]["events"]))

        self.test_ping_flood(node)
        self.test_stats(node)
        self.test_rpc_events(node)
        self.test_stop(node)

    def test_ping_flood(self, node):
        self.log.info(f"A flood of {PINGS} pings: one inbound ping and one outbound pong each")
        result = loadgen(node, "ping", "--count", str(PINGS))
        assert_equal((result["sent"], result["pongs"], result["bad_nonces"]), (str(PINGS), str(PINGS), "0"))

        def flood_in(events):
            return len([e for e in of(events, "net", "outbound_message") if e["msg_type"] == "pong"]) >= PINGS
        self.watch.wait_for_events(flood_in)
        events = no_losses(self.watch.events())
        version = of(events, "net", "inbound_message")[0]
        assert_equal(version["msg_type"], "version")
        peer = version["peer_id"]
        pings = [e for e in of(events, "net", "inbound_message") if e["msg_type"] == "ping" and e["peer_id"] == peer]
        pongs = [e for e in of(events, "net", "outbound_message") if e["msg_type"] == "pong" and e["peer_id"] == peer]
        expected = [n.to_bytes(8, "little").hex() for n in range(PINGS)]
        assert_equal([e["payload"] for e in pings], expected)
        assert_equal([e["payload"] for e in pongs], expected)
        for e in pings[:3] + pongs[:3]:
            assert_equal((e["size"], e["conn_type"], e["addr"].startswith("127.0.0.1:")), (8, "inbound", True))
        connections = of(events, "net", "inbound_connection")
        assert_equal([(c["peer_id"], c["conn_type"], c["network"]) for c in connections], [(peer, "inbound", "unroutable")])
        closed = of(events, "net", "closed_connection")
        assert_equal([c["peer_id"] for c in closed], [peer])

    def test_stats(self, node):
        self.log.info("stats --no-attach reads the producer's counters beside the reader")
        out, _ = ringdump(node, "stats", "--no-attach", "--json", "--interval", "0.2", "--count", "2")
        lines = [json.loads(l) for l in out.splitlines()]
        net = [l for l in lines if l.get("ring") == "net"]
        assert net, out
        assert_greater_than(net[-1]["seq"], 2 * PINGS)
        listed = list_rings(node)
        assert_equal(listed["net"]["dropped_full"], 0)
        assert_equal(listed["net"]["dropped_timeout"], 0)

    def test_rpc_events(self, node):
        self.log.info("Mining: validation:block_connected and utxocache:add with the RPCs' values")
        address = node.getnewaddress()
        hashes = self.generatetoaddress(node, 101, address, sync_fun=self.no_op)
        self.watch.wait_for_events(lambda ev: len(of(ev, "validation", "block_connected")) >= 101)
        events = no_losses(self.watch.events())
        connected = of(events, "validation", "block_connected")
        assert_equal([(e["block_hash"], e["height"]) for e in connected], [(h, i + 1) for i, h in enumerate(hashes)])
        block = node.getblock(hashes[0], 2)
        assert_equal((connected[0]["transactions"], connected[0]["inputs"]), (len(block["tx"]), 1))
        coinbase = block["tx"][0]
        adds = {(e["txid"], e["index"]): e for e in of(events, "utxocache", "add")}
        add = adds[(coinbase["txid"], 0)]
        assert_equal((add["height"], add["value"], add["is_coinbase"]), (1, sats(coinbase["vout"][0]["value"]), True))

        self.log.info("A wallet send: coin_selection:* and mempool:added")
        txid = node.sendtoaddress(node.getnewaddress(), 1)
        entry = node.getmempoolentry(txid)
        self.watch.wait_for_events(lambda ev: len(of(ev, "mempool", "added")) >= 1)
        events = no_losses(self.watch.events())
        selection = [e["event"] for e in events if e.get("ring") == "coin_selection"]
        assert_equal(selection, ["selected_coins", "normal_create_tx_internal", "attempting_aps_create_tx",
                                 "selected_coins", "aps_create_tx_internal"])
        for e in events:
            if e.get("ring") == "coin_selection":
                assert_equal(e["wallet_name"], self.default_wallet_name)
        created = of(events, "coin_selection", "normal_create_tx_internal")[0]
        tx = node.gettransaction(txid)
        assert_equal((created["success"], created["fee"]), (True, -sats(tx["fee"])))
        added = of(events, "mempool", "added")
        assert_equal([(e["txid"], e["vsize"], e["fee"]) for e in added], [(txid, entry["vsize"], sats(entry["fees"]["base"]))])

        self.log.info("Mining it: mempool:removed (block) and utxocache:spent")
        decoded = node.getrawtransaction(txid, True)
        block_hash = self.generatetoaddress(node, 1, address, sync_fun=self.no_op)[0]
        self.watch.wait_for_events(lambda ev: len(of(ev, "mempool", "removed")) >= 1)
        events = no_losses(self.watch.events())
        removed = of(events, "mempool", "removed")
        assert_equal([(e["txid"], e["reason"], e["vsize"], e["fee"], e["entry_time"]) for e in removed],
                     [(txid, "block", entry["vsize"], sats(entry["fees"]["base"]), entry["time"])])
        spent = {(e["txid"], e["index"]): e for e in of(events, "utxocache", "spent")}
        for vin in decoded["vin"]:
            coin = spent[(vin["txid"], vin["vout"])]
            funding = node.gettransaction(vin["txid"])
            assert_equal((coin["height"], coin["value"], coin["is_coinbase"]),
                         (funding["blockheight"], sats(funding["details"][0]["amount"]), True))
        last = of(events, "validation", "block_connected")[-1]
        assert_equal((last["block_hash"], last["height"], last["transactions"], last["inputs"]),
                     (block_hash, 102, 2, 1 + len(decoded["vin"])))

    def test_stop(self, node):
        self.log.info("Stopping the node: the shutdown flushes arrive, then watch ends with 0")
        self.stop_node(0)
        assert_equal(self.watch.wait(), 0)
        events = no_losses(self.watch.events())
        flushes = of(events, "utxocache", "flush")
        assert flushes, "no utxocache:flush at shutdown"
        assert_equal({f["mode"] for f in flushes[-2:]}, {"force-flush"})
        assert "exited" in self.watch.stderr(), self.watch.stderr()


if __name__ == '__main__':
    TraceringRingdumpTest(__file__).main()
