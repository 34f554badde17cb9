#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""The checks of Bitcoin Core's interface_usdt_coinselection.py, on tracering instead of BCC:
no root, no eBPF. The coin_selection ring is read with the tracering Python module while
the wallet sends, fails to fund, and sends with and without avoid-partial-spends; each
send must fire exactly the expected events in order, with the expected outcome."""

import tracering
from test_framework.test_framework import BitcoinTestFramework
from test_framework.util import assert_equal, assert_greater_than, assert_raises_rpc_error

from tracering_util import socket_path

# The USDT test's numbering of the four events.
TYPES = {
    "selected_coins": 1,
    "normal_create_tx_internal": 2,
    "attempting_aps_create_tx": 3,
    "aps_create_tx_internal": 4,
}


class CoinSelectionTraceringTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1
        self.setup_clean_chain = True

    def skip_test_if_missing_module(self):
        self.skip_if_no_wallet()

    def get_tracepoints(self, expected_types):
        """The events the last RPC fired: exactly `expected_types`, in order. The node writes
        them before the RPC returns, so once they are read nothing more may be waiting."""
        events = []
        for ev in self.session.events(timeout=10.0):
            events.append(ev.as_dict())
            if len(events) == len(expected_types):
                break
        assert_equal([TYPES[e["event"]] for e in events], expected_types)
        assert_equal(self.session.poll(timeout=0), [])
        for event in events:
            assert_equal(event["wallet_name"], self.default_wallet_name)
        assert_equal(self.session.lost, 0)
        return events

    @staticmethod
    def determine_selection(events):
        """What the events say of the selection, as the USDT test determines it."""
        success = use_aps = algo = waste = change_pos = None
        is_aps = False
        selected = []
        for event in events:
            kind = TYPES[event["event"]]
            if kind == 1:
                if not is_aps:
                    algo, waste = event["algo"], event["waste"]
                selected.append(event)
            elif kind == 2:
                success = event["success"]
                if not is_aps:
                    change_pos = event["change_pos"]
            elif kind == 3:
                is_aps = True
            elif kind == 4:
                assert is_aps
                if event["use_aps"]:
                    use_aps = True
                    assert_equal(len(selected), 2)
                    algo, waste = selected[1]["algo"], selected[1]["waste"]
                    change_pos = event["change_pos"]
        return success, use_aps, algo, waste, change_pos

    def run_test(self):
        node = self.nodes[0]
        client = tracering.connect(str(socket_path(node)))
        self.log.info("attach to the coin_selection ring")
        with client.attach(["coin_selection"], lossless=True) as self.session:
            self.log.info("Prepare wallets")
            self.generate(node, 101)
            wallet = node.get_wallet_rpc(self.default_wallet_name)

            self.log.info("Sending a transaction should result in all tracepoints")
            wallet.sendtoaddress(wallet.getnewaddress(), 10)
            success, _, _, _, change_pos = self.determine_selection(self.get_tracepoints([1, 2, 3, 1, 4]))
            assert_equal(success, True)
            assert_greater_than(change_pos, -1)

            self.log.info("Failing to fund results in 1 tracepoint")
            assert_raises_rpc_error(-6, "Insufficient funds", wallet.sendtoaddress, wallet.getnewaddress(), 102 * 50)
            success, _, _, _, _ = self.determine_selection(self.get_tracepoints([2]))
            assert_equal(success, False)

            self.log.info("Explicitly enabling APS results in 2 tracepoints")
            wallet.setwalletflag("avoid_reuse")
            wallet.sendtoaddress(address=wallet.getnewaddress(), amount=10, avoid_reuse=True)
            success, use_aps, _, _, _ = self.determine_selection(self.get_tracepoints([1, 2]))
            assert_equal(success, True)
            assert_equal(use_aps, None)

            self.log.info("Change position is -1 if no change is created with APS when APS was initially not used")
            wallet.sendtoaddress(address=wallet.getnewaddress(), amount=wallet.getbalance(), subtractfeefromamount=True, avoid_reuse=False)
            success, _, _, _, change_pos = self.determine_selection(self.get_tracepoints([1, 2, 3, 1, 4]))
            assert_equal(success, True)
            assert_equal(change_pos, -1)

            self.log.info("Change position is -1 if no change is created normally and APS is not used")
            wallet.sendtoaddress(address=wallet.getnewaddress(), amount=wallet.getbalance(), subtractfeefromamount=True)
            success, _, _, _, change_pos = self.determine_selection(self.get_tracepoints([1, 2]))
            assert_equal(success, True)
            assert_equal(change_pos, -1)


if __name__ == '__main__':
    CoinSelectionTraceringTest(__file__).main()
