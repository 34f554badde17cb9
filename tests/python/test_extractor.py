# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""tracering-extractor against real processes: tracering-testnode (and tracering-loadgen or a
raw peer loading it), nats-server, and a NATS subscriber that decodes every message as
peer-observer's event.Event (conftest.py, extractor_harness.py). Registered by
extractor.cmake, label extractor."""

import calendar
import hashlib
import os
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import (LOADGEN, TIMEOUT, NatsServer, RawPeer, TestNode, p2p_message,
                      wait_until)
from extractor_harness import EXTRACTOR, Extractor, Subscriber

BLOCK_FILE = os.environ.get("TRACERING_BLOCK413567", "../fixtures/block413567.raw")
PINGS = 5000


def of(events, what, command=None):
    """The events of one variant (ping, inbound, added, ...); for P2P messages of `command`."""
    return [e for e in events if e.what == what and
            (command is None or e.leaf.meta.command == command)]


def messages(events, command, inbound):
    return [e for e in events if e.kind == "message" and e.leaf.meta.command == command and
            e.leaf.meta.inbound == inbound]


def published(metrics, subject):
    return metrics[("messages_published_total", subject)]


def now_ms():
    return int(time.time() * 1000)


def sha256d(data):
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


@pytest.fixture
def node(tmp_path):
    n = TestNode(tmp_path)
    yield n
    n.stop()


@pytest.fixture
def extractor(tmp_path, nats, node):
    """An extractor attached losslessly to `node`, publishing to `nats`."""
    ex = Extractor(tmp_path, nats, "--lossless", control=node.socket)
    ex.wait_log("attached to the node")
    yield ex
    ex.stop()


def test_ping_flood_publishes_every_ping_and_pong_with_its_nonce(node, subscriber, extractor):
    start = now_ms()
    node.loadgen("ping", "--count", str(PINGS))
    events = subscriber.wait_for(lambda ev: len(of(ev, "pong")) == PINGS, "every pong")
    end = now_ms()
    pings, pongs = messages(events, "ping", True), messages(events, "pong", False)
    assert [e.body.value for e in pings] == list(range(PINGS))
    assert [e.body.value for e in pongs] == list(range(PINGS))
    for e in pings + pongs:
        meta = e.leaf.meta
        assert meta.size == 8 and meta.addr.startswith("127.0.0.1:")
        assert meta.conn_type == 1  # peer-observer's ConnType.Inbound
        assert meta.peer_id == pings[0].leaf.meta.peer_id
        # The event's own time, in UNIX milliseconds.
        assert start - 1000 <= e.timestamp <= end + 1000
    assert [e.timestamp for e in pings] == sorted(e.timestamp for e in pings)
    # Nothing dropped, refused or failed: every event read was published, and arrived.
    metrics = extractor.metrics()
    read = metrics[("events_read_total", "net")]
    assert metrics[("events_lost_total", "net")] == 0
    assert published(metrics, "netmsg") + published(metrics, "netconn") == read
    for kind in ("refused", "failed", "unconfirmed"):
        assert sum(v for (k, _), v in metrics.items() if k == "messages_%s_total" % kind) == 0
    subscriber.wait_for(lambda ev: len(ev) == read, "every event read")
    code, stats = extractor.stop()
    assert code == 0
    assert stats["read"]["net"] == read and stats["published"]["netmsg"] == len(
        [e for e in subscriber.events() if e.subject == "netmsg"])


def test_connection_opened_and_closed_with_p2p_messages_left_out(tmp_path, node, nats,
                                                                 subscriber):
    ex = Extractor(tmp_path, nats, "--no-p2pmsg-tracepoints", control=node.socket)
    ex.wait_log(r"attached to the node .*: net \(5 events\)")
    node.loadgen("ping", "--count", "10")
    events = subscriber.wait_for(lambda ev: of(ev, "closed"), "the closed connection")
    opened, closed = of(events, "inbound")[0], of(events, "closed")[0]
    assert opened.subject == closed.subject == "netconn"
    assert opened.body.conn.addr.startswith("127.0.0.1:")
    assert opened.body.conn.conn_type == 1
    assert opened.body.conn.network == 0  # NET_UNROUTABLE for 127.0.0.1, as in bitcoind
    assert (closed.body.conn.peer_id, closed.body.conn.addr) == (
        opened.body.conn.peer_id, opened.body.conn.addr)
    assert 0 < closed.body.time_established <= time.time()
    # The closed connection comes after the peer's messages: none was published.
    assert not [e for e in events if e.subject == "netmsg"]
    code, stats = ex.stop()
    assert code == 0 and stats["published"]["netmsg"] == 0


def test_bad_checksum_is_a_misbehaving_connection(node, subscriber, extractor):
    peer = RawPeer(node)
    bad = bytearray(p2p_message("ping", struct.pack("<Q", 1)))
    bad[20] ^= 0xFF  # the first checksum byte
    peer.send(bytes(bad))
    assert peer.wait_for_close(), "the node did not disconnect the peer"
    peer.close()
    events = subscriber.wait_for(lambda ev: of(ev, "closed"), "the closed connection")
    opened = next(e for e in of(events, "inbound") if e.body.conn.addr == peer.addr)
    peer_id = opened.body.conn.peer_id
    misbehaving = [e for e in of(events, "misbehaving") if e.body.id == peer_id]
    assert len(misbehaving) == 1 and "bad checksum on 'ping'" in misbehaving[0].body.message
    assert [e.body.conn.peer_id for e in of(events, "closed")] == [peer_id]


def test_block_413567_is_published_decoded_with_its_1557_transactions(tmp_path, node):
    # peer-observer asks for max_payload 5 MB: its events carry whole blocks.
    nats = NatsServer(tmp_path, max_payload=5 << 20)
    subscriber = Subscriber(nats)
    ex = Extractor(tmp_path, nats, "--lossless", control=node.socket)
    ex.wait_log("attached to the node")
    try:
        node.loadgen("blocks", "--count", "1", "--file", BLOCK_FILE)
        events = subscriber.wait_for(lambda ev: of(ev, "block_connected") and of(ev, "block"),
                                     "the block and its block_connected")
        with open(BLOCK_FILE, "rb") as f:
            raw = f.read()
        block = of(events, "block")[0]
        assert block.subject == "netmsg" and block.leaf.meta.size == len(raw)
        assert len(block.body.transactions) == 1557
        assert block.body.header.hash == sha256d(raw[:80])  # internal byte order
        assert block.body.header.prev_blockhash == raw[4:36]
        txids = [tx.txid for tx in block.body.transactions]
        assert len(set(txids)) == 1557 and all(len(t) == 32 for t in txids)
        connected = of(events, "block_connected")[0]
        assert connected.subject == "validation"
        assert connected.body.hash == sha256d(raw[:80])
        assert connected.body.transactions == 1557
        metrics = ex.metrics()
        assert metrics[("messages_refused_total", "netmsg")] == 0
        assert metrics[("messages_undecodable_total", "netmsg")] == 0
    finally:
        ex.stop()
        subscriber.close()
        nats.stop()


def test_mempool_transactions_are_published_as_added(node, subscriber, extractor):
    txs = 200
    node.loadgen("txs", "--count", str(txs))
    events = subscriber.wait_for(lambda ev: len(of(ev, "added")) == txs, "every added tx")
    added = of(events, "added")
    assert all(e.subject == "mempool" and len(e.body.txid) == 32 for e in added)
    assert all(e.body.vsize > 0 and e.body.fee >= 0 for e in added)
    # The txids of the mempool events are those of the tx messages that carried them.
    carried = [e.body.tx.txid for e in messages(events, "tx", True)]
    assert sorted(carried) == sorted(e.body.txid for e in added) and len(set(carried)) == txs


def test_a_client_trickling_its_request_delays_no_scrape(extractor):
    # A client that sends a byte every 0.2 s never finishes its request: it must not hold the
    # endpoint (it did, for as long as it kept sending), and is closed unanswered once its
    # request is overdue (MetricsServer::REQUEST_TIMEOUT_MS).
    host, port = extractor.metrics_url.split("/")[2].rsplit(":", 1)
    slow = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    stop = threading.Event()

    def trickle():
        for byte in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"x" * 8192:
            if stop.wait(0.2):
                return
            try:
                slow.send(bytes([byte]))
            except OSError:
                return  # closed by the endpoint

    trickler = threading.Thread(target=trickle)
    trickler.start()
    try:
        for _ in range(3):
            assert extractor.metrics()[("events_lost_total", "net")] == 0
        assert slow.recv(1) == b""  # closed, with no answer
    finally:
        stop.set()
        trickler.join()
        slow.close()


def test_message_over_max_payload_is_counted_as_refused(tmp_path, node):
    nats = NatsServer(tmp_path, max_payload=256 << 10)
    subscriber = Subscriber(nats)
    ex = Extractor(tmp_path, nats, "--lossless", control=node.socket)
    ex.wait_log(r"takes messages of at most 262144 bytes: larger ones \(big blocks\) will be "
                r"refused and counted as refused; set max_payload: 5MB")
    ex.wait_log("attached to the node")
    try:
        node.loadgen("blocks", "--count", "1", "--file", BLOCK_FILE)
        ex.wait_log(r"NATS refused a netmsg message of \d+ bytes: the server's max_payload "
                    r"is 262144 bytes")
        # The block's own event is small: it goes out; so do later messages (loadgen blocks
        # ends with a ping of nonce 2^64-1 as a barrier: its pong is not one of these).
        node.loadgen("ping", "--count", "10")
        events = subscriber.wait_for(
            lambda ev: of(ev, "block_connected") and
            [e.body.value for e in of(ev, "pong") if e.body.value < 10] == list(range(10)),
            "block_connected and the pongs")
        assert not of(events, "block")
        code, stats = ex.stop()
        assert code == 0
        assert stats["refused"] == {"netmsg": 1, "netconn": 0, "mempool": 0, "validation": 0}
        assert stats["published"]["netmsg"] == len([e for e in events if e.subject == "netmsg"])
    finally:
        ex.stop()
        subscriber.close()
        nats.stop()


def test_nats_restart_mid_flood_counts_what_was_lost_and_resumes(tmp_path, node, nats,
                                                                 subscriber):
    ex = Extractor(tmp_path, nats, control=node.socket)
    ex.wait_log("attached to the node")
    flood = subprocess.Popen([LOADGEN, "--connect",
                              node.endpoint, "ping", "--count", "100000", "--rate", "20000"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        subscriber.wait_for(lambda ev: len(of(ev, "pong")) >= 2000, "the flood to arrive")
        nats.stop(signal.SIGKILL)
        wait_until(lambda: ex.metrics()[("messages_failed_total", "netmsg")] > 1000,
                   "events read while NATS is down to be counted as failed")
        nats.start()
        ex.wait_log("reconnected to NATS")
        assert flood.wait(TIMEOUT * 2) == 0
    finally:
        if flood.poll() is None:
            flood.kill()
            flood.wait()
    # Publishing resumed: a new flood arrives whole.
    wait_until(subscriber.subscribed.is_set, "the subscriber to subscribe again")
    before = len(subscriber.events())
    node.loadgen("ping", "--count", "1000")
    events = subscriber.wait_for(
        lambda ev: len([e for e in ev[before:] if e.what == "pong"]) == 1000, "the second flood")
    assert [e.body.value for e in events[before:] if e.what == "pong"] == list(range(1000))
    code, stats = ex.stop()
    assert code == 0 and stats["nats_reconnects"] == 1
    # Every event read is accounted for: published, refused, failed or skipped.
    outcomes = sum(stats[k]["netmsg"] + stats[k]["netconn"]
                   for k in ("published", "refused", "failed"))
    assert outcomes + stats["skipped"]["net"] == stats["read"]["net"]
    assert stats["failed"]["netmsg"] > 1000
    received = len([e for e in subscriber.events() if e.subject == "netmsg"])
    assert received <= stats["published"]["netmsg"]
    # What was published and did not arrive went down with the connection, unconfirmed; this
    # holds when the subscriber was back before the extractor (nats.c retries every second,
    # the subscriber at once), else some arrived while nobody listened.
    if subscriber.subscribed_at < reconnected_at(ex):
        assert stats["published"]["netmsg"] - received <= stats["unconfirmed"]["netmsg"]


def reconnected_at(ex):
    """When the extractor logged its reconnection to NATS (UNIX seconds)."""
    line = ex.wait_log("reconnected to NATS")
    return calendar.timegm(time.strptime(line[:19], "%Y-%m-%dT%H:%M:%S")) + float(line[19:23])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_node_restart_is_attached_again(tmp_path, nats, subscriber, sig):
    socket_path = str(tmp_path / "node.sock")
    first = TestNode(tmp_path, socket=socket_path)
    ex = Extractor(tmp_path, nats, "--lossless", control=socket_path)
    second = None
    try:
        ex.wait_log("attached to the node")
        first.loadgen("ping", "--count", "100")
        subscriber.wait_for(lambda ev: len(of(ev, "pong")) == 100, "the first node's pongs")
        first.kill(sig)
        ex.wait_log("died without shutting down" if sig == signal.SIGKILL else "shut down")
        second = TestNode(tmp_path, socket=socket_path)
        ex.wait_log("the node restarted: pid %d, was %d" % (second.proc.pid, first.proc.pid))
        ex.wait_log("attached to the node", count=2)
        second.loadgen("ping", "--count", "100")
        events = subscriber.wait_for(lambda ev: len(of(ev, "pong")) == 200, "both nodes' pongs")
        assert [e.body.value for e in of(events, "pong")] == list(range(100)) * 2
        code, stats = ex.stop()
        assert code == 0 and stats["attaches"] == 2 and stats["lost"]["net"] == 0
    finally:
        ex.stop()
        first.stop()
        if second:
            second.stop()


def signal_taken(pid, sig):
    """Sends `sig` to `pid` and waits until the process took it (it is pending no more)."""
    os.kill(pid, sig)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/status" % pid) as f:
                masks = [int(l.split()[1], 16) for l in f if l.startswith(("ShdPnd:", "SigPnd:"))]
        except FileNotFoundError:
            return True
        if not any(m >> (sig - 1) & 1 for m in masks):
            return True
    return False


@pytest.mark.parametrize("signals", [[signal.SIGHUP], [signal.SIGINT, signal.SIGINT]])
def test_a_hangup_or_two_signals_at_once_stop_it_cleanly_with_its_stats_line(
        tmp_path, node, nats, subscriber, signals):
    """A hang-up (the ssh session went away) stops it as SIGINT does; and so do two signals at
    once, as timeout(1) sends them (to the extractor, then to its process group)."""
    ex = Extractor(tmp_path, nats, "--lossless", control=node.socket)
    try:
        ex.wait_log("attached to the node")
        node.loadgen("ping", "--count", "100")
        subscriber.wait_for(lambda ev: len(of(ev, "pong")) == 100, "the pongs")
        for sig in signals:
            assert signal_taken(ex.proc.pid, sig)
        code, stats = ex.stop()
        assert code == 0, ex.log()
        assert stats["lost"]["net"] == 0
    finally:
        ex.stop()


def test_datadir_and_chain_find_the_node_socket(tmp_path, nats):
    (tmp_path / "regtest").mkdir()
    node = TestNode(tmp_path, socket=str(tmp_path / "regtest" / "tracering.sock"))
    ex = Extractor(tmp_path, nats, "--datadir", str(tmp_path), "--chain", "regtest")
    try:
        ex.wait_log("attached to the node at %s/regtest/tracering.sock \\(pid %d" % (
            tmp_path, node.proc.pid))
    finally:
        ex.stop()
        node.stop()


def test_nats_credentials(tmp_path, node):
    nats = NatsServer(tmp_path, user="observer", password="s3cret")
    subscriber = Subscriber(nats)
    password_file = tmp_path / "password"
    password_file.write_text("s3cret\n")
    ex = Extractor(tmp_path, nats, "-u", "observer", "-f", str(password_file), "--lossless",
                   control=node.socket)
    try:
        ex.wait_log("attached to the node")
        ex.wait_log("connected to NATS")
        node.loadgen("ping", "--count", "10")
        subscriber.wait_for(lambda ev: len(of(ev, "pong")) == 10, "the pongs")
        wrong = subprocess.run([EXTRACTOR, "--control", node.socket, "-a", nats.address, "-u",
                                "observer", "-p", "wrong"], capture_output=True, text=True,
                               timeout=TIMEOUT)
        assert wrong.returncode == 2
        assert "check -u/--nats-username and -p/--nats-password or -f" in wrong.stderr
    finally:
        ex.stop()
        subscriber.close()
        nats.stop()


@pytest.mark.parametrize("args, message", [
    ([], "--control PATH or --datadir DIR is required"),
    (["--control", "a", "--datadir", "b"], "give --control or --datadir, not both"),
    (["--datadir", "d", "--chain", "mainnet"], "--chain 'mainnet' is not a chain bitcoind knows"),
    (["--chain", "regtest", "--control", "s"], "--chain goes with --datadir"),
    (["--control", "s", "--bogus"], "unknown option --bogus"),
    (["--control"], "--control needs a value"),
    (["--control", "--datadir", "d"], "--control needs a value, not the option --datadir"),
    (["--control", "s", "-l", "loud"], "-l/--log-level 'loud' is not a level"),
    (["--control", "s", "-p", "x"], "a NATS password needs -u/--nats-username too"),
    (["--control", "s", "-u", "u", "-p", "x", "-f", "f"], "give -p/--nats-password or -f"),
    (["--control", "s", "--control", "t"], "--control is given twice"),
    (["--control", "s", "--no-p2pmsg-tracepoints", "--no-connection-tracepoints",
      "--no-mempool-tracepoints", "--no-validation-tracepoints"], "nothing to publish"),
    (["--control", "s", "--stats-interval", "soon"], "--stats-interval needs a number"),
    (["--bitcoind-pid-file=/run/bitcoind.pid"], "--bitcoind-pid-file is an option of "
     "peer-observer's ebpf-extractor, with no use here: the node is found by its control "
     "socket; give --datadir DIR [--chain C] or --control PATH instead"),
    (["--control", "s", "--no-idle-exit"], "this extractor never exits for want of events"),
    (["--control", "s", "--metrics-address", "bogus"],
     "--metrics-address 'bogus' is not HOST:PORT"),
    (["--control", "s", "--metrics-address", "127.0.0.1:http"],
     "--metrics-address '127.0.0.1:http': the port must be 0-65535"),
    (["--control", "/tmp/" + "x" * 120],
     "--control is 125 bytes long; a unix socket path may have at most 107"),
    (["--datadir", "/tmp/" + "x" * 100],
     "a unix socket path may have at most 107"),
])
def test_usage_errors_say_what_was_wrong(args, message):
    run = subprocess.run([EXTRACTOR, *args], capture_output=True, text=True, timeout=TIMEOUT)
    assert run.returncode == 1 and message in run.stderr, run.stderr
    assert "Run 'tracering-extractor --help'" in run.stderr


def test_help_and_unusable_files(tmp_path):
    run = subprocess.run([EXTRACTOR, "--help"], capture_output=True, text=True, timeout=TIMEOUT)
    assert run.returncode == 0
    for flag in ("--nats-address", "--nats-password-file", "--no-p2pmsg-tracepoints",
                 "--metrics-address", "--lossless", "--datadir", "Exit codes"):
        assert flag in run.stdout
    with open("/dev/full", "w") as full:
        unwritten = subprocess.run([EXTRACTOR, "--help"], stdout=full, stderr=subprocess.PIPE,
                                   text=True, timeout=TIMEOUT)
    assert unwritten.returncode == 2
    assert "tracering-extractor: cannot write the output to stdout" in unwritten.stderr
    missing = subprocess.run([EXTRACTOR, "--control", "s", "-u", "u", "-f", str(tmp_path / "no")],
                             capture_output=True, text=True, timeout=TIMEOUT)
    assert missing.returncode == 2 and "cannot read -f/--nats-password-file" in missing.stderr
