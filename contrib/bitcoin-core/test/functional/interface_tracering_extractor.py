#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""tracering-extractor on the real bitcoind: the node's net, mempool and validation rings
published to a real nats-server as peer-observer's event.Event, every message decoded (with
classes protoc generates from tools/extractor/proto into the test's folder) and compared with
what the node's RPCs report.

- The extractor finds the node as an operator gives it: `--datadir <datadir> --chain regtest`
  names <datadir>/regtest/tracering.sock, and the node lists it as the reader of the three
  rings. It runs as peer-observer would run it, without --lossless.
- netmsg: a P2P peer's version handshake (the Version variant with what each side sent, and
  the node's getheaders with the genesis block as its locator, in internal byte order), and
  a `ping` RPC's ping to the peer with the peer's pong (the same nonce); every message's
  Metadata is the peer's getpeerinfo entry (id, address, inbound connection type), and its
  sizes, per message type and direction, add up to getpeerinfo's bytes per message.
- netconn: the peer's inbound connection (id, address, type, network, connection count) before
  its first message, and its closed connection (with getpeerinfo's conntime) after its last.
- validation: every mined block's BlockConnected (hash in internal byte order, height,
  transactions, inputs, a connection time).
- mempool: a wallet send's Added (txid in internal byte order, vsize, fee in satoshis) as
  getmempoolentry reports it; mining it, its Removed (reason "block", entry time).
- Each envelope's timestamp (UNIX ms) lies within the test's clock readings around its step.
- SIGINT: exit code 0, and a last stats line with nothing lost, refused, failed, unconfirmed,
  skipped or undecodable, and as many messages published per subject as the subscriber got.

It needs nats-server, protoc and Python's protobuf module (Debian: nats-server,
protobuf-compiler, python3-protobuf) and an extractor beside ringdump, and skips, saying
which is missing, without them. The harness (nats-server, the subscriber, the decoder, the
extractor process) is the one of the extractor's pytest tests, tests/python/extractor_harness.py,
which run.sh copies beside this test; the .proto folder is $TRACERING_EXTRACTOR_PROTO, which
run.sh sets."""

import os
import re
import signal
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from test_framework.p2p import P2P_SERVICES, P2P_SUBVERSION, P2P_VERSION, P2PInterface, p2p_lock
from test_framework.test_framework import BitcoinTestFramework, SkipTest
from test_framework.util import assert_equal, assert_greater_than, p2p_port

import extractor_harness
from extractor_harness import Extractor, NatsServer, Subscriber
from tracering_util import list_rings, socket_path, tool, skip_unless_tracering

COIN = 100_000_000
# A v1 P2P message's header, which getpeerinfo's bytes per message type count and the
# Metadata's size does not.
HEADER_SIZE = 24
# peer-observer's ConnType.Inbound.
CONN_TYPE_INBOUND = 1
# Bitcoin Core's Network enum values, by the names getpeerinfo gives them.
NETWORKS = {"not_publicly_routable": 0, "ipv4": 1, "ipv6": 2, "onion": 3, "i2p": 4, "cjdns": 5}
# How far an event's timestamp may lie outside the test's window around its step: the
# timestamp is cut to whole milliseconds, and the node's clock is mapped to UNIX time.
TIMESTAMP_SLACK_MS = 50
RINGS = ("net", "mempool", "validation")


def sats(btc):
    return int(Decimal(btc) * COIN)


def internal(hash_hex):
    """A txid or block hash as the RPCs print it, in the internal byte order events carry."""
    return bytes.fromhex(hash_hex)[::-1]


def now_ms():
    return time.time() * 1000


class Peer(P2PInterface):
    """A test peer that remembers its own end of the connection ("host:port", the address the
    node reports for it) and the nonce of every ping the node sent it (answered with a pong
    by P2PInterface)."""

    def __init__(self):
        super().__init__()
        self.ping_nonces = []

    def on_open(self):
        super().on_open()
        host, port = self._transport.get_extra_info("socket").getsockname()[:2]
        self.local_addr = f"{host}:{port}"

    def on_ping(self, message):
        self.ping_nonces.append(message.nonce)
        super().on_ping(message)

    def pings(self):
        with p2p_lock:
            return list(self.ping_nonces)


def of(events, what):
    """The events of one variant (version, ping, inbound, added, block_connected, ...)."""
    return [e for e in events if e.what == what]


def message_sizes(events, peer_id, inbound):
    """{message type: bytes} of the peer's messages in one direction, headers included, as
    getpeerinfo's bytesrecv_per_msg (inbound) and bytessent_per_msg count them."""
    sizes = Counter()
    for e in events:
        if e.kind == "message" and e.leaf.meta.peer_id == peer_id and e.leaf.meta.inbound == inbound:
            sizes[e.leaf.meta.command] += e.leaf.meta.size + HEADER_SIZE
    return dict(sizes)


class ExtractorTraceringTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1
        self.setup_clean_chain = True

    def skip_test_if_missing_module(self):
        self.skip_if_no_wallet()
        skip_unless_tracering(self)
        # tool() fails, naming what to do, where TRACERING_BIN_DIR is not set up.
        self.extractor_path = Path(tool("ringdump")).parent / "tracering-extractor"
        if not os.access(self.extractor_path, os.X_OK):
            raise SkipTest(
                f"no tracering-extractor in {self.extractor_path.parent}: it is built where protobuf and nats.c "
                "are installed (Debian: protobuf-compiler libprotobuf-dev libnats-dev)")
        reason = extractor_harness.missing()
        if reason:
            raise SkipTest(reason)
        self.proto_dir = os.environ.get("TRACERING_EXTRACTOR_PROTO")
        if not self.proto_dir or not os.path.isdir(self.proto_dir):
            raise RuntimeError("TRACERING_EXTRACTOR_PROTO is not a folder: run this test through "
                               "contrib/bitcoin-core/test/run.sh, or set it to tools/extractor/proto")

    def events(self):
        return self.subscriber.events()

    def wait_for_events(self, predicate):
        """Waits until predicate(decoded events) holds; returns the events. The extractor must
        stay up meanwhile."""
        def ready():
            assert self.extractor.proc.poll() is None, f"the extractor exited: {self.extractor.log()}"
            return predicate(self.events())
        self.wait_until(ready)
        return self.events()

    def assert_timestamps(self, events, start_ms, end_ms):
        """Every event happened between start_ms and end_ms (UNIX ms, the test's clock)."""
        for e in events:
            assert start_ms - TIMESTAMP_SLACK_MS <= e.timestamp <= end_ms + TIMESTAMP_SLACK_MS, (
                f"{e} at {e.timestamp}, outside [{start_ms:.0f}, {end_ms:.0f}]")

    def run_test(self):
        tmpdir = Path(self.options.tmpdir)
        self.log.info(f"nats-server, a subscriber, and classes generated from {self.proto_dir}")
        extractor_harness.event_class(self.proto_dir, str(tmpdir / "proto_py"))
        self.nats = NatsServer(tmpdir)
        self.subscriber = None
        self.extractor = None
        try:
            self.subscriber = Subscriber(self.nats)
            self.attach_test()
            self.p2p_test()
            self.blocks_and_mempool_test()
            self.stop_test()
        finally:
            # After a failure: nothing of the test's may outlive it.
            if self.extractor and self.extractor.proc.poll() is None:
                self.extractor.proc.kill()
                self.extractor.proc.wait()
            if self.subscriber:
                self.subscriber.close()
            self.nats.stop()

    def attach_test(self):
        node = self.nodes[0]
        datadir = node.datadir_path
        self.log.info(f"tracering-extractor --datadir {datadir} --chain regtest")
        self.extractor = Extractor(self.options.tmpdir, self.nats, "--datadir", str(datadir),
                                   "--chain", "regtest", binary=str(self.extractor_path))
        attached = re.escape(f"attached to the node at {socket_path(node)} (pid {node.process.pid}, segment ")
        self.wait_until(lambda: self.extractor.log_lines(attached) and self.extractor.log_lines("connected to NATS at "))
        self.log.info(self.extractor.log_lines(attached)[0])
        # Its own requests, not a lossless reader's: peer-observer's setup.
        listed = list_rings(node)
        for ring in RINGS:
            assert_equal((ring, listed[ring]["state"], listed[ring]["reader_pid"], listed[ring]["lossless"]),
                         (ring, "on", self.extractor.proc.pid, False))
        assert_equal(self.events(), [])

    def peer_info(self, peer):
        infos = [p for p in self.nodes[0].getpeerinfo() if p["addr"] == peer.local_addr]
        assert_equal(len(infos), 1)
        return infos[0]

    def p2p_test(self):
        node = self.nodes[0]
        self.log.info("netmsg: a P2P peer's version handshake, then a ping RPC")
        start = now_ms()
        # v1: getpeerinfo's byte counts then hold 24-byte headers.
        peer = node.add_p2p_connection(Peer(), supports_v2_p2p=False)
        info = self.peer_info(peer)
        peer_id = info["id"]
        assert_equal((info["connection_type"], info["inbound"]), ("inbound", True))
        # The node pinged the peer once the handshake was done; the RPC makes it ping again.
        before = len(peer.pings())
        node.ping()
        peer.wait_until(lambda: len(peer.ping_nonces) > before)
        nonce = peer.pings()[before]
        # The peer's pong went out before this ping, so the node has processed it.
        peer.sync_with_ping()
        end = now_ms()

        def ping_and_pong(events):
            return ([e for e in of(events, "ping") if not e.leaf.meta.inbound and e.body.value == nonce] and
                    [e for e in of(events, "pong") if e.leaf.meta.inbound and e.body.value == nonce])
        events = self.wait_for_events(ping_and_pong)
        # The node may send more on its own (later than `end`), but nothing before `start`.
        self.assert_timestamps(events, start, now_ms())
        messages = [e for e in events if e.subject == "netmsg"]
        self.log.info(f"{len(messages)} P2P messages: " + ", ".join(
            f"{'in' if e.leaf.meta.inbound else 'out'} {e.leaf.meta.command}" for e in messages))
        for e in events:  # the node's only peer
            meta = e.leaf.meta if e.kind == "message" else e.body.conn
            assert_equal((meta.peer_id, meta.addr, meta.conn_type), (peer_id, info["addr"], CONN_TYPE_INBOUND))

        [ping] = [e for e in of(events, "ping") if e.body.value == nonce]
        [pong] = [e for e in of(events, "pong") if e.body.value == nonce]
        self.assert_timestamps(of(events, "version") + of(events, "verack") + [ping, pong], start, end)
        assert_equal((ping.leaf.meta.inbound, ping.leaf.meta.size), (False, 8))
        assert_equal((pong.leaf.meta.inbound, pong.leaf.meta.size), (True, 8))
        assert_greater_than(events.index(pong), events.index(ping))
        self.log.info(f"the RPC's ping to peer {peer_id} and its pong: nonce {nonce:#x}")

        versions = {True: [], False: []}
        for e in of(events, "version"):
            versions[e.leaf.meta.inbound].append(e.body)
        [received], [sent] = versions[True], versions[False]
        # What the test peer sent (it leaves the height at -1).
        assert_equal((received.version, received.user_agent, received.start_height, received.services, received.relay),
                     (P2P_VERSION, P2P_SUBVERSION, -1, P2P_SERVICES, True))
        assert_equal((received.receiver.ipv4, received.receiver.port), ("127.0.0.1", p2p_port(node.index)))
        assert_equal((received.sender.ipv4, received.sender.port), ("0.0.0.0", 0))
        # What the node sent.
        network = node.getnetworkinfo()
        services = int(network["localservices"], 16)
        assert_equal((sent.version, sent.user_agent, sent.start_height, sent.services, sent.sender.services),
                     (network["protocolversion"], network["subversion"], node.getblockcount(), services, services))
        # Each side's clock, in UNIX seconds.
        for version in (received, sent):
            assert start / 1000 - 1 <= version.timestamp <= end / 1000 + 1, version.timestamp
        assert_equal(sorted(e.leaf.meta.inbound for e in of(events, "verack")), [False, True])
        # Hashes in P2P messages are in internal byte order too. The node starts its headers
        # sync with its first peer that serves blocks; its chain is the genesis block alone.
        [getheaders] = of(events, "getheaders")
        assert_equal((getheaders.leaf.meta.inbound, list(getheaders.body.locator_hashes), getheaders.body.stop_hash),
                     (False, [internal(node.getblockhash(0))], bytes(32)))

        self.log.info("Metadata sizes add up to getpeerinfo's bytes per message type, both ways")

        def sizes_match():
            info = self.peer_info(peer)
            events = self.events()
            return (message_sizes(events, peer_id, True) == info["bytesrecv_per_msg"] and
                    message_sizes(events, peer_id, False) == info["bytessent_per_msg"])
        self.wait_until(sizes_match)
        info = self.peer_info(peer)
        self.log.info(f"received {info['bytesrecv_per_msg']}, sent {info['bytessent_per_msg']}")

        self.log.info("netconn: the peer's inbound connection, and its closed connection")
        node.disconnect_p2ps()
        self.wait_until(lambda: node.getpeerinfo() == [])
        end = now_ms()
        events = self.wait_for_events(lambda ev: of(ev, "closed"))
        connections = [e for e in events if e.subject == "netconn"]
        self.assert_timestamps(connections, start, end)
        assert_equal([e.what for e in connections], ["inbound", "closed"])
        opened, closed = connections
        for e in connections:
            assert_equal((e.body.conn.peer_id, e.body.conn.addr, e.body.conn.conn_type, e.body.conn.network),
                         (peer_id, info["addr"], CONN_TYPE_INBOUND, NETWORKS[info["network"]]))
        assert_equal(opened.body.existing_connections, 1)  # the node had no other peer
        assert_equal(closed.body.time_established, info["conntime"])
        # In the node's order: connected, the messages, closed.
        net = [e for e in events if e.subject in ("netmsg", "netconn")]
        assert_equal((net[0], net[-1]), (opened, closed))

    def blocks_and_mempool_test(self):
        node = self.nodes[0]
        self.log.info("validation: 101 mined blocks")
        address = node.getnewaddress()
        start = now_ms()
        hashes = self.generatetoaddress(node, 101, address, sync_fun=self.no_op)
        end = now_ms()
        events = self.wait_for_events(lambda ev: len(of(ev, "block_connected")) == 101)
        connected = of(events, "block_connected")
        self.assert_timestamps(connected, start, end)
        assert_equal([(e.body.hash, e.body.height) for e in connected],
                     [(internal(h), height) for height, h in enumerate(hashes, start=1)])
        for e in connected:
            assert_equal((e.subject, e.body.transactions, e.body.inputs), ("validation", 1, 1))
            assert_greater_than(e.body.connection_time, 0)  # nanoseconds

        self.log.info("mempool: a wallet send, Added as getmempoolentry reports it")
        start = now_ms()
        txid = node.sendtoaddress(node.getnewaddress(), 1)
        end = now_ms()
        entry = node.getmempoolentry(txid)
        events = self.wait_for_events(lambda ev: of(ev, "added"))
        [added] = [e for e in events if e.subject == "mempool"]
        self.assert_timestamps([added], start, end)
        assert_equal((added.what, added.body.txid, added.body.vsize, added.body.fee),
                     ("added", internal(txid), entry["vsize"], sats(entry["fees"]["base"])))
        assert_equal(len(added.body.txid), 32)

        self.log.info("Mining it: BlockConnected with two transactions, and Removed (block)")
        inputs = len(node.getrawtransaction(txid, True)["vin"])
        start = now_ms()
        [block_hash] = self.generatetoaddress(node, 1, address, sync_fun=self.no_op)
        end = now_ms()
        events = self.wait_for_events(lambda ev: of(ev, "removed") and len(of(ev, "block_connected")) == 102)
        connected = of(events, "block_connected")[-1]
        [removed] = of(events, "removed")
        self.assert_timestamps([connected, removed], start, end)
        assert_equal((connected.body.hash, connected.body.height, connected.body.transactions, connected.body.inputs),
                     (internal(block_hash), 102, 2, 1 + inputs))
        assert_greater_than(connected.body.connection_time, 0)
        assert_equal((removed.body.txid, removed.body.reason, removed.body.vsize, removed.body.fee, removed.body.entry_time),
                     (internal(txid), "block", entry["vsize"], sats(entry["fees"]["base"]), entry["time"]))

    def stop_test(self):
        self.log.info("SIGINT: exit code 0, and a stats line with nothing lost")
        code, stats = self.extractor.stop(signal.SIGINT)
        self.log.info(self.extractor.log_lines(" stats ")[-1])
        assert_equal(code, 0)
        for outcome in ("lost", "skipped"):
            assert_equal((outcome, stats[outcome]), (outcome, {"net": 0, "mempool": 0, "validation": 0}))
        zero = {"netmsg": 0, "netconn": 0, "mempool": 0, "validation": 0}
        for outcome in ("refused", "failed", "unconfirmed", "undecodable"):
            assert_equal((outcome, stats[outcome]), (outcome, zero))
        assert_equal((stats["attaches"], stats["nats_reconnects"]), (1, 0))
        # Everything read was published, and everything published arrived.
        published = stats["published"]
        assert_equal(stats["read"], {"net": published["netmsg"] + published["netconn"],
                                     "mempool": published["mempool"], "validation": published["validation"]})
        self.wait_until(lambda: {s: len([e for e in self.events() if e.subject == s]) for s in published} == published)
        self.log.info(f"{len(self.events())} messages, every one a complete event.Event: {published}")


if __name__ == "__main__":
    ExtractorTraceringTest(__file__).main()
