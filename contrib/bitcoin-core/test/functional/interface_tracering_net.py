#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""The checks of Bitcoin Core's interface_usdt_net.py, on tracering instead of BCC: no root,
no eBPF. The net ring is read with the tracering Python module while test peers do the
version handshake, connect in and out, fill the inbound slots until the node evicts, send
a headers message with too many headers, and disconnect; every net:* event is compared with
what the test did and what getpeerinfo says of that peer. Beyond the USDT test's checks, the
events are matched to their peers (id, address, connection time, connection counts) and an
inbound getheaders longer than the payload limit shows how a cut payload arrives.

How the parts of the USDT test that belong to BCC map to tracering:
- Its BPF program copied strings into fixed arrays (peer address 68 bytes, connection type
  20, message type 20, misbehaving reason 128), which could cut them. Tracering's string
  fields are the whole strings, so they are compared whole.
- It copied at most MAX_MSG_DATA_LENGTH (150) bytes of a message's payload. Here the session
  asks for payload_limit=MAX_MSG_DATA_LENGTH: a longer payload arrives cut to that length
  with the event's `truncated` flag set, while `size` keeps the node's length. The `payload`
  field (bytes) is what is deserialized.
- The connection type, a string at the tracepoint, is the schema's ConnectionType enum,
  which the module names as Bitcoin Core does ("inbound", "feeler"); a string the schema
  does not know would come as "unknown" with the string in `conn_type_name`. The network,
  a number at the tracepoint (0 for NET_UNROUTABLE), is the Network enum by name
  ("unroutable").
- perf_buffer_poll() with a timeout after each step becomes reading the session. Events the
  node writes before the step the test waited for (an RPC, a handshake, a disconnection)
  are in the ring already, so once they are read a non-blocking poll() finds nothing more;
  events written on another node thread are waited for with session.events(timeout=...).
  The perf buffer's lost samples are session.lost, which must stay 0."""

from io import BytesIO

import tracering
from test_framework.messages import CBlockHeader, MAX_HEADERS_RESULTS, msg_getheaders, msg_headers, msg_version
from test_framework.p2p import P2P_SUBVERSION, P2P_VERSION, P2PInterface
from test_framework.test_framework import BitcoinTestFramework
from test_framework.util import assert_equal, assert_greater_than

from tracering_util import socket_path, skip_unless_tracering

# The USDT test's payload copy limit, here the session's payload_limit.
MAX_MSG_DATA_LENGTH = 150
# -maxconnections leaves this many inbound slots: 10 outbound and 1 feeler slot are reserved.
MAX_CONNECTIONS = 32
MAX_INBOUND_CONNECTIONS = MAX_CONNECTIONS - 10 - 1


class Peer(P2PInterface):
    """A test peer that remembers its own end of the connection ("host:port"): for an
    inbound peer that is the address the node reports for it, for an outbound one the
    address the node connected to."""

    def on_open(self):
        super().on_open()
        host, port = self._transport.get_extra_info("socket").getsockname()[:2]
        self.local_addr = f"{host}:{port}"


def conn_type(event):
    """The connection type string the tracepoint was given."""
    return event["conn_type_name"] if event["conn_type"] == "unknown" else event["conn_type"]


class NetTraceringTest(BitcoinTestFramework):
    def set_test_params(self):
        self.num_nodes = 1
        self.extra_args = [[f"-maxconnections={MAX_CONNECTIONS}"]]

    def skip_test_if_missing_module(self):
        skip_unless_tracering(self)

    def attach(self, *events, **options):
        return self.client.attach(["net"], events=list(events), lossless=True, **options)

    def only_events(self, session, count):
        """Exactly `count` events, which may still be on their way from another node
        thread; once they are read, nothing more may be waiting."""
        events = []
        for ev in session.events(timeout=10.0):
            events.append(ev.as_dict())
            if len(events) == count:
                break
        assert_equal(len(events), count)
        assert_equal(session.poll(timeout=0), [])
        assert_equal(session.lost, 0)
        return events

    def events_now(self, session):
        """Every event in the ring now, without waiting."""
        events = []
        while batch := session.poll(timeout=0):
            events += [ev.as_dict() for ev in batch]
        assert_equal(session.lost, 0)
        return events

    def peer_info(self, peer):
        """getpeerinfo's entry for a connected test peer."""
        infos = [p for p in self.nodes[0].getpeerinfo() if p["addr"] == peer.local_addr]
        assert_equal(len(infos), 1)
        return infos[0]

    def disconnect_all(self):
        """Disconnects the test peers and waits until the node has dropped every peer: the
        net:closed_connection of each is written by then, and the next test starts from no
        connections."""
        node = self.nodes[0]
        node.disconnect_p2ps()
        self.wait_until(lambda: node.getpeerinfo() == [])

    def p2p_message_test(self):
        node = self.nodes[0]
        self.log.info("net:inbound_message and net:outbound_message: a peer's version handshake")
        with self.attach("inbound_message", "outbound_message", payload_limit=MAX_MSG_DATA_LENGTH) as session:
            peer = node.add_p2p_connection(Peer())
            # Beyond the USDT test: a message longer than the payload limit.
            tip = node.getblockcount()
            getheaders = msg_getheaders()
            getheaders.locator.vHave = [int(node.getblockhash(tip - n), 16) for n in range(5)]
            peer.send_and_ping(getheaders)
            # Both returned after a ping round trip, which the version messages and the
            # getheaders precede.
            events = self.events_now(session)
            info = self.peer_info(peer)
        self.disconnect_all()

        self.log.info(f"{len(events)} messages: " + ", ".join(f"{e['event'].split('_')[0]} {e['msg_type']}" for e in events))
        versions = {"inbound_message": [], "outbound_message": []}
        for event in events:
            # The peer is the node's only one, so every message is of it.
            assert_equal(event["peer_id"], info["id"])
            assert_equal(event["addr"], info["addr"])
            assert_equal(conn_type(event), info["connection_type"])
            if event["truncated"]:
                assert_equal(len(event["payload"]), MAX_MSG_DATA_LENGTH)
                assert_greater_than(event["size"], MAX_MSG_DATA_LENGTH)
            else:
                assert_equal(len(event["payload"]), event["size"])
            if event["msg_type"] == "version":
                self.log.info(f"{event['event']}: {event['msg_type']} of peer {event['peer_id']}, {event['size']} bytes")
                versions[event["event"]].append(event)
        assert_equal(len(versions["inbound_message"]), 1)
        assert_equal(len(versions["outbound_message"]), 1)

        network = node.getnetworkinfo()
        expected = {
            # What the test peer sent (it leaves the height at -1), and what the node sent it.
            "inbound_message": (P2P_VERSION, P2P_SUBVERSION, -1),
            "outbound_message": (network["protocolversion"], network["subversion"], node.getblockcount()),
        }
        for direction, [event] in versions.items():
            assert_equal(event["truncated"], False)
            msg = msg_version()
            payload = BytesIO(event["payload"])
            msg.deserialize(payload)
            assert_equal(payload.tell(), event["size"])  # the whole message, nothing left over
            assert_equal((msg.nVersion, msg.strSubVer, msg.nStartingHeight), expected[direction])

        [event] = [e for e in events if (e["event"], e["msg_type"]) == ("inbound_message", "getheaders")]
        sent = getheaders.serialize()
        assert_greater_than(len(sent), MAX_MSG_DATA_LENGTH)
        assert_equal(event["truncated"], True)
        assert_equal(event["size"], len(sent))
        assert_equal(event["payload"], sent[:MAX_MSG_DATA_LENGTH])

    def inbound_conn_test(self):
        node = self.nodes[0]
        self.log.info("net:inbound_connection: two peers connect")
        with self.attach("inbound_connection") as session:
            peers = [node.add_p2p_connection(Peer()) for _ in range(2)]
            # The net thread writes the event before it reads the peer's version, so it is
            # there once the handshake is done.
            events = self.only_events(session, len(peers))
            infos = [self.peer_info(peer) for peer in peers]
        self.disconnect_all()

        for n, (event, info) in enumerate(zip(events, infos), start=1):
            self.log.info(f"inbound_connection: {event}")
            assert_greater_than(event["peer_id"], 0)
            assert_greater_than(event["existing_connections"], 0)
            assert_equal(conn_type(event), "inbound")
            assert_equal(event["network"], "unroutable")
            assert_equal(event["peer_id"], info["id"])
            assert_equal(event["addr"], info["addr"])
            assert_equal(event["existing_connections"], n)  # the node had no other peer

    def outbound_conn_test(self):
        node = self.nodes[0]
        self.log.info("net:outbound_connection: the node opens two feeler connections")
        with self.attach("outbound_connection") as session:
            peers = []
            for p2p_idx in range(2):
                peer = Peer()
                # Returns once the node dropped the feeler; the addconnection RPC wrote the
                # event before it returned.
                node.add_outbound_p2p_connection(peer, p2p_idx=p2p_idx, connection_type="feeler")
                peers.append(peer)
            events = self.only_events(session, len(peers))
        self.disconnect_all()

        for event, peer in zip(events, peers):
            self.log.info(f"outbound_connection: {event}")
            assert_greater_than(event["peer_id"], 0)
            assert_greater_than(event["existing_connections"], 0)
            assert_equal(conn_type(event), "feeler")
            assert_equal(event["network"], "unroutable")
            assert_equal(event["addr"], peer.local_addr)
            assert_equal(event["existing_connections"], 1)  # the feeler before it was closed

    def evicted_inbound_conn_test(self):
        node = self.nodes[0]
        evictions = 2
        self.log.info(f"net:evicted_inbound_connection: {MAX_INBOUND_CONNECTIONS + evictions} peers "
                      f"connect, {evictions} are evicted")
        with self.attach("evicted_inbound_connection") as session:
            infos = {}
            peers = {}
            for _ in range(MAX_INBOUND_CONNECTIONS + evictions):
                peer = node.add_p2p_connection(Peer())
                info = self.peer_info(peer)
                infos[info["id"]] = info
                peers[info["id"]] = peer
            # The net thread evicts while it accepts the next peer, before that peer's
            # handshake.
            events = self.only_events(session, evictions)

        for event in events:
            self.log.info(f"evicted_inbound_connection: {event}")
            assert_greater_than(event["peer_id"], 0)
            assert_greater_than(event["time_established"], 0)
            assert_equal(conn_type(event), "inbound")
            assert_equal(event["network"], "unroutable")
            info = infos[event["peer_id"]]  # one of this test's peers
            assert_equal(event["addr"], info["addr"])
            assert_equal(event["time_established"], info["conntime"])
            peers[event["peer_id"]].wait_for_disconnect()
        assert_equal(len({event["peer_id"] for event in events}), evictions)
        self.disconnect_all()

    def misbehaving_conn_test(self):
        node = self.nodes[0]
        self.log.info("net:misbehaving_connection: two peers send too many headers")
        msg = msg_headers([CBlockHeader()] * (MAX_HEADERS_RESULTS + 1))
        with self.attach("misbehaving_connection") as session:
            events = []
            for _ in range(2):
                peer = node.add_p2p_connection(Peer())
                peer_id = self.peer_info(peer)["id"]
                peer.send_without_ping(msg)
                # Written by msghand as it processes the message.
                [event] = self.only_events(session, 1)
                events.append((event, peer_id))
                # The node drops a misbehaving (local) peer.
                peer.wait_for_disconnect()
                assert_equal(session.poll(timeout=0), [])
        self.disconnect_all()

        for event, peer_id in events:
            self.log.info(f"misbehaving_connection: {event}")
            assert_greater_than(event["peer_id"], 0)
            assert_greater_than(len(event["message"]), 0)
            assert_equal(event["message"], f"headers message size = {MAX_HEADERS_RESULTS + 1}")
            assert_equal(event["peer_id"], peer_id)

    def closed_conn_test(self):
        node = self.nodes[0]
        self.log.info("net:closed_connection: two peers connect and disconnect")
        with self.attach("closed_connection") as session:
            peers = [node.add_p2p_connection(Peer()) for _ in range(2)]
            infos = {info["id"]: info for info in map(self.peer_info, peers)}
            self.disconnect_all()
            events = self.only_events(session, len(peers))

        for event in events:
            self.log.info(f"closed_connection: {event}")
            assert_greater_than(event["peer_id"], 0)
            assert_equal(conn_type(event), "inbound")
            assert_equal(event["network"], "unroutable")
            assert_greater_than(event["time_established"], 0)
            info = infos.pop(event["peer_id"])
            assert_equal(event["addr"], info["addr"])
            assert_equal(event["time_established"], info["conntime"])
        assert_equal(infos, {})

    def run_test(self):
        self.client = tracering.connect(str(socket_path(self.nodes[0])))
        self.p2p_message_test()
        self.inbound_conn_test()
        self.outbound_conn_test()
        self.evicted_inbound_conn_test()
        self.misbehaving_conn_test()
        self.closed_conn_test()


if __name__ == "__main__":
    NetTraceringTest(__file__).main()
