# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""The tracering Python module against a real tracering-testnode: events and their fields,
attach options, leases and errors."""

import os
import signal
import struct
import subprocess

import pytest

import tracering
from conftest import RINGDUMP, RawPeer, collect, p2p_message, ring, wait_until

PINGS = 1000


def of(events, name, msg_type=None):
    return [e for e in events if e["event"] == name and
            (msg_type is None or e["msg_type"] == msg_type)]


def test_client_describes_producer_and_rings(node, client):
    assert client.producer.pid == node.proc.pid
    assert client.producer.segment.startswith("py-")
    assert client.producer.abi > 0
    rings = {r.name: r for r in client.rings()}
    assert "net" in rings and "mempool" in rings
    assert not rings["net"].enabled
    assert "inbound_message" in rings["net"].events
    with client.attach(["net"]):
        net = ring(client, "net")
        assert net.enabled and net.reader_count == 1
        assert net.reader_pid == os.getpid()


def test_every_ping_and_pong_arrives_with_its_nonce(node, client):
    with client.attach(["net"], events=["inbound_message", "outbound_message"],
                       lossless=True) as session:
        node.loadgen("ping", "--count", str(PINGS))
        events = collect(session, lambda ev: len(of(ev, "outbound_message", "pong")) == PINGS)
        assert session.lost == 0
    pings = of(events, "inbound_message", "ping")
    pongs = of(events, "outbound_message", "pong")
    assert [struct.unpack("<Q", p["payload"])[0] for p in pings] == list(range(PINGS))
    assert [struct.unpack("<Q", p["payload"])[0] for p in pongs] == list(range(PINGS))
    for e in pings + pongs:
        assert e["size"] == 8 and e["conn_type"] == "inbound" and not e["truncated"]
        assert e["ring"] == "net" and e["lost_before"] == 0
    assert {e["peer_id"] for e in pings + pongs} == {pings[0]["peer_id"]}


def test_event_fields_are_attributes_while_current(node, client):
    with client.attach(["net"], events=["net:inbound_message"], lossless=True) as session:
        node.loadgen("ping", "--count", "1")
        ev = next(e for e in session.events(timeout=30) if e.msg_type == "ping")
        assert ev.payload == struct.pack("<Q", 0) and isinstance(ev.payload, bytes)
        assert ev.size == 8 and ev.addr.startswith("127.0.0.1:") and ev.event == "inbound_message"
        assert ev.unix_ns > ev.ts_ns > 0
        assert "msg_type" in dir(ev)
        assert getattr(ev, "msg_type") == "ping" and hasattr(ev, "as_dict")
        assert not hasattr(ev, "no_such_field")
        with pytest.raises(AttributeError, match="its fields: peer_id, addr"):
            ev.no_such_field
        kept = ev.as_dict()
        session.poll(1)
        with pytest.raises(tracering.Error, match="no longer current"):
            ev.msg_type
        with pytest.raises(tracering.Error, match="no longer current"):
            ev.payload
        assert ev.seq == kept["seq"] and kept["msg_type"] == "ping"


def test_a_payload_kept_after_its_event_stays_as_it_was(small_ring_node):
    node = small_ring_node
    client = tracering.connect(node.socket)
    with client.attach(["net"], events=["inbound_message"]) as session:
        node.loadgen("ping", "--count", "2")
        nonces = [ev.payload for ev in session.events(timeout=1.0) if ev.msg_type == "ping"]
        assert nonces == [struct.pack("<Q", 0), struct.pack("<Q", 1)]
        # The loop's last read gave the ring's space back: the pings fill it again, over the
        # first of the two, before the rest are dropped.
        node.loadgen("ping", "--count", "30000")
        assert ring(client, "net").dropped > 0
        assert nonces == [struct.pack("<Q", 0), struct.pack("<Q", 1)]


def test_drops_after_the_last_event_read_count_as_lost(small_ring_node):
    node = small_ring_node
    client = tracering.connect(node.socket)
    # Inbound messages only: none comes after loadgen has its last pong, so no event follows
    # the drops to reveal them.
    with client.attach(["net"], events=["inbound_message"]) as session:
        node.loadgen("ping", "--count", "30000")
        read = [ev.lost_before for ev in session.events(timeout=1.0)]
        net = ring(client, "net")
        assert net.dropped > 0 and sum(read) == 0
        assert session.lost == net.dropped
        assert session.stats()["net"]["lost"] == net.dropped
        assert len(read) + session.lost == net.seq  # every event attempted is accounted for
        # Counted when the loop found the ring read to its end, not only when asked: more
        # events waiting in the ring now do not hide them.
        node.loadgen("ping", "--count", "10")
        assert ring(client, "net").seq > net.seq and session.lost == net.dropped
        # The next event reveals the same drops; they still count once.
        more = [ev.lost_before for ev in session.events(timeout=1.0)]
        assert more[0] == net.dropped and sum(more) == net.dropped
        assert session.lost == net.dropped == ring(client, "net").dropped
    assert session.lost == net.dropped


def test_rings_read_together_come_in_timestamp_order(node, client):
    txs = 1000  # 4 fetches of each ring (256 records per reader per fetch)
    with client.attach(["net", "mempool"], events=["inbound_message", "mempool:added"],
                       lossless=True) as session:
        node.loadgen("txs", "--count", str(txs))
        events = [(ev.ring, ev.event, ev.ts_ns, ev.seq) for ev in session.events(timeout=0)]
        assert session.lost == 0
    assert [ts for _, _, ts, _ in events] == sorted(ts for _, _, ts, _ in events)
    for name in ("net", "mempool"):
        seqs = [seq for ring_name, _, _, seq in events if ring_name == name]
        assert seqs == list(range(len(seqs)))
    # The node adds a transaction to its mempool after the message that carried it.
    received = added = 0
    for ring_name, _, _, _ in events:
        received += ring_name == "net"
        added += ring_name == "mempool"
        assert added <= received
    assert added == txs


def test_poll_returns_up_to_max_events_at_once(node, client):
    with client.attach(["net"], events=["inbound_message"], lossless=True) as session:
        node.loadgen("ping", "--count", str(PINGS))
        # The pings (and the handshake's messages) are in the ring once loadgen has its pongs.
        assert len(session.poll(4096)) > PINGS
        assert session.poll(4096) == []


def test_connection_open_and_close(node, client):
    with client.attach(["net"], events=["inbound_connection", "closed_connection"]) as session:
        node.loadgen("ping", "--count", "1")
        events = collect(session, lambda ev: of(ev, "closed_connection"))
    opened, closed = of(events, "inbound_connection")[0], of(events, "closed_connection")[0]
    # GetNetClass() is NET_UNROUTABLE for 127.0.0.1, in bitcoind and tools/testnode/node.cpp.
    assert opened["conn_type"] == "inbound" and opened["network"] == "unroutable"
    assert opened["addr"].startswith("127.0.0.1:")
    assert (closed["peer_id"], closed["addr"]) == (opened["peer_id"], opened["addr"])
    assert closed["seq"] > opened["seq"]


def test_bad_checksum_is_misbehaving_then_closed(node, client):
    with client.attach(["net"], events=["inbound_connection", "misbehaving_connection",
                                        "closed_connection"]) as session:
        peer = RawPeer(node)
        bad = bytearray(p2p_message("ping", struct.pack("<Q", 1)))
        bad[20] ^= 0xFF  # the first checksum byte
        peer.send(bytes(bad))
        assert peer.wait_for_close(), "the node did not disconnect the peer"
        peer.close()
        events = collect(session, lambda ev: of(ev, "closed_connection"))
    opened = next(e for e in of(events, "inbound_connection") if e["addr"] == peer.addr)
    bad_peer = [e for e in events if e.get("peer_id") == opened["peer_id"]]
    assert [e["event"] for e in bad_peer] == [
        "inbound_connection", "misbehaving_connection", "closed_connection"]
    assert "bad checksum on 'ping'" in bad_peer[1]["message"]


def test_payload_limit_cuts_payloads_and_keeps_their_size(node, client):
    with client.attach(["net"], events=["inbound_message"], payload_limit=4,
                       lossless=True) as session:
        node.loadgen("ping", "--count", "10")
        events = collect(session, lambda ev: len(of(ev, "inbound_message", "ping")) == 10)
    for e in of(events, "inbound_message", "ping"):
        assert e["truncated"] and len(e["payload"]) == 4 and e["size"] == 8


def test_ninth_reader_is_busy_and_told_who_holds_the_ring(node, client):
    holder = subprocess.Popen([RINGDUMP, "--control", node.socket, "watch", "--ring", "net"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: ring(client, "net").reader_count == 1, "ringdump reads net")
        sessions = [client.attach(["net"]) for _ in range(7)]
        with pytest.raises(tracering.Busy) as busy:
            client.attach(["net"])
        assert busy.value.code == "Busy"
        assert "already has 8 readers" in busy.value.message
        assert str(holder.pid) in busy.value.message and str(os.getpid()) in busy.value.message
        sessions.pop().close()
        client.attach(["net"]).close()  # a freed slot is taken again
    finally:
        holder.terminate()
        holder.wait()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_gone_producer_raises_after_its_last_event(node, client, sig):
    with client.attach(["net"], events=["inbound_message", "outbound_message"],
                       lossless=True) as session:
        node.loadgen("ping", "--count", str(PINGS))
        node.kill(sig)
        pongs = 0
        with pytest.raises(tracering.ProducerGone) as gone:
            for ev in session.events(timeout=30):
                pongs += ev.event == "outbound_message" and ev.msg_type == "pong"
        assert pongs == PINGS
        assert "producer" in gone.value.message


def test_lease_is_released_when_the_with_block_raises(client):
    with pytest.raises(ZeroDivisionError):
        with client.attach(["net", "mempool"]) as session:
            assert ring(client, "net").enabled and ring(client, "mempool").enabled
            1 / 0
    assert session.closed
    assert not ring(client, "net").enabled and not ring(client, "mempool").enabled
    with pytest.raises(tracering.Detached, match="session was closed"):
        session.poll()


def test_count_drains_without_making_events(node, client):
    with client.attach(["net"], events=["inbound_message", "outbound_message"],
                       lossless=True) as session:
        node.loadgen("ping", "--count", str(PINGS))
        # Pings and pongs, and the handshake's messages; it ends after a second of silence.
        counted = session.count(timeout=1.0)
        assert counted >= 2 * PINGS
        assert session.stats()["net"] == dict(session.stats()["net"], delivered=counted, lost=0)
        assert session.count(max_events=1, timeout=0.1) == 0
        # Every record was finished: no stuck writer is reported.
        assert {k: v for k, v in session.stats()["net"].items() if k.startswith("stuck")} == {
            "stuck_ns": 0, "stuck_position": 0, "stuck_bytes_waiting": 0}


def test_a_writer_stopped_mid_record_is_reported_in_stats(helper_producer):
    producer = helper_producer
    client = tracering.connect(producer.socket)
    with client.attach(["net"]) as session:
        # A producer thread stops inside the ring's first record; 100 more are written after
        # it (the helper says "error ..." instead of "held" if one was not).
        producer.command("hold 100", "held")

        # Nothing is delivered past the stopped record; the reader reports it once it has
        # waited RingReader::STUCK_REPORT_NS (1 s).
        def reported():
            assert session.count(max_events=1, timeout=0.01) == 0
            return session.stats()["net"]["stuck_ns"] > 0

        wait_until(reported, "the session reports the stopped record")
        net = session.stats()["net"]
        assert net["stuck_ns"] >= 1_000_000_000
        assert net["stuck_position"] == 0
        # The stopped record and the 100 behind it: a 32-byte header and an 8-byte payload
        # each, already a multiple of RECORD_ALIGN (8).
        assert net["stuck_bytes_waiting"] == 101 * 40
        assert net["delivered"] == 0
        producer.command("release", "released")
        assert session.count(timeout=1.0) == 101
        net = session.stats()["net"]
        assert (net["delivered"], net["lost"]) == (101, 0)
        assert {k: v for k, v in net.items() if k.startswith("stuck")} == {
            "stuck_ns": 0, "stuck_position": 0, "stuck_bytes_waiting": 0}


def test_errors_name_what_was_wrong(node, client, tmp_path):
    with pytest.raises(tracering.NotFound, match="no control socket at"):
        tracering.connect(str(tmp_path / "nothing.sock"))
    with pytest.raises(tracering.InvalidArgument) as unknown:
        client.attach(["nosuchring"])
    assert "nosuchring" in unknown.value.message and unknown.value.code == "InvalidArgument"
    with pytest.raises(tracering.InvalidArgument, match="net:inbound_message"):
        client.attach(["net"], events=["no_such_event"])
