#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""The checks of Bitcoin Core's interface_usdt_mempool.py, on tracering instead of BCC: no
root, no eBPF. For each of mempool:added, removed (expiry), replaced (RBF) and rejected, the
event is read with the tracering Python module and compared with what the wallet and the
node report."""

from decimal import Decimal

import tracering
from test_framework.blocktools import COINBASE_MATURITY
from test_framework.messages import COIN, DEFAULT_MEMPOOL_EXPIRY_HOURS
from test_framework.p2p import P2PDataStore
from test_framework.test_framework import BitcoinTestFramework
from test_framework.util import assert_equal
from test_framework.wallet import MiniWallet

from tracering_util import socket_path


class MempoolTraceringTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1
        self.setup_clean_chain = True

    def only_event(self, session):
        """The one event the last RPC fired. The node writes it before the RPC returns, so
        once it is read a non-blocking poll must find nothing more."""
        event = next(session.events(timeout=10.0)).as_dict()
        assert_equal(session.poll(timeout=0), [])
        assert_equal(session.lost, 0)
        return event

    def added_test(self):
        node = self.nodes[0]
        self.log.info("mempool:added: send a transaction")
        with self.client.attach(["mempool"], events=["added"], lossless=True) as session:
            fee = Decimal(31200)
            tx = self.wallet.send_self_transfer(from_node=node, fee=fee / COIN)
            event = self.only_event(session)
        assert_equal(event["txid"], tx["txid"])
        assert_equal(event["vsize"], tx["tx"].get_vsize())
        assert_equal(event["fee"], fee)
        self.generate(self.wallet, 1)

    def removed_test(self):
        node = self.nodes[0]
        self.log.info("mempool:removed: a transaction expires")
        with self.client.attach(["mempool"], events=["removed"], lossless=True) as session:
            fee = Decimal(31200)
            tx = self.wallet.send_self_transfer(from_node=node, fee=fee / COIN)
            txid = tx["txid"]
            entry_time = node.getmempoolentry(txid)["time"]
            node.setmocktime(entry_time + 60 * 60 * DEFAULT_MEMPOOL_EXPIRY_HOURS + 5)
            self.wallet.get_utxo(txid=txid)
            self.wallet.send_self_transfer(from_node=node)  # triggers the expiry
            event = self.only_event(session)
        assert_equal(event["txid"], txid)
        assert_equal(event["reason"], "expiry")
        assert_equal(event["vsize"], tx["tx"].get_vsize())
        assert_equal(event["fee"], fee)
        assert_equal(event["entry_time"], entry_time)
        self.generate(self.wallet, 1)

    def replaced_test(self):
        node = self.nodes[0]
        self.log.info("mempool:replaced: an RBF replacement")
        with self.client.attach(["mempool"], events=["replaced"], lossless=True) as session:
            utxo = self.wallet.get_utxo(mark_as_spent=True)
            original_fee = Decimal(40000)
            original_tx = self.wallet.send_self_transfer(from_node=node, utxo_to_spend=utxo, fee=original_fee / COIN)
            entry_time = node.getmempoolentry(original_tx["txid"])["time"]
            replacement_fee = Decimal(45000)
            replacement_tx = self.wallet.send_self_transfer(from_node=node, utxo_to_spend=utxo, fee=replacement_fee / COIN)
            event = self.only_event(session)
        assert_equal(event["replaced_txid"], original_tx["txid"])
        assert_equal(event["replaced_vsize"], original_tx["tx"].get_vsize())
        assert_equal(event["replaced_fee"], original_fee)
        assert_equal(event["replaced_entry_time"], entry_time)
        assert_equal(event["replacement_txid"], replacement_tx["txid"])
        assert_equal(event["replacement_vsize"], replacement_tx["tx"].get_vsize())
        assert_equal(event["replacement_fee"], replacement_fee)
        assert_equal(event["replaced_by_transaction"], True)
        self.generate(self.wallet, 1)

    def rejected_test(self):
        node = self.nodes[0]
        self.log.info("mempool:rejected: a transaction below the minimum relay fee, from a peer")
        node.add_p2p_connection(P2PDataStore())
        with self.client.attach(["mempool"], events=["rejected"], lossless=True) as session:
            tx = self.wallet.create_self_transfer(fee_rate=Decimal(0))
            node.p2ps[0].send_txs_and_test([tx["tx"]], node, success=False)
            event = self.only_event(session)
        assert_equal(event["txid"], tx["tx"].txid_hex)
        assert_equal(event["reason"], "min relay fee not met")
        self.generate(self.wallet, 1)

    def run_test(self):
        node = self.nodes[0]
        self.client = tracering.connect(str(socket_path(node)))
        self.wallet = MiniWallet(node)
        self.generate(self.wallet, 4)
        self.generate(node, COINBASE_MATURITY)
        self.added_test()
        self.removed_test()
        self.replaced_test()
        self.rejected_test()


if __name__ == "__main__":
    MempoolTraceringTest(__file__).main()
