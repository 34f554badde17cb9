# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""The harness of the Python tests: real tracering-testnode and tracering-loadgen processes
(paths from TRACERING_TESTNODE and TRACERING_LOADGEN, which CTest sets), a producer that can
stop a writer mid-record (tracering_test_helper, TRACERING_TEST_HELPER), and a raw P2P peer
for what loadgen never sends; for the extractor's tests (test_extractor.py) also nats-server,
tracering-extractor and a NATS subscriber that decodes what it publishes (extractor_harness.py).
Waits are on state, with a deadline, never sleeps."""

import hashlib
import itertools
import os
import select
import signal
import socket
import struct
import subprocess
import time

import pytest

import extractor_harness
from extractor_harness import NATS_SERVER, NATS_SERVER_MISSING, Subscriber

TESTNODE = os.environ.get("TRACERING_TESTNODE", "build/tools/testnode/tracering-testnode")
LOADGEN = os.environ.get("TRACERING_LOADGEN", "build/tools/loadgen/tracering-loadgen")
RINGDUMP = os.environ.get("TRACERING_RINGDUMP", "build/tools/ringdump/ringdump")
TEST_HELPER = os.environ.get("TRACERING_TEST_HELPER", "build/tests/tracering_test_helper")
REGTEST_MAGIC = bytes.fromhex("fabfb5da")
TIMEOUT = 30.0
_names = itertools.count()


class TestNode:
    """tracering-testnode on 127.0.0.1 with a control socket in `directory` (or at `socket`),
    and its options `args` ("--net-ring-mib", "1")."""

    __test__ = False  # a helper, not a test class, where a test module imports it

    def __init__(self, directory, socket=None, args=()):
        self.socket = socket or os.path.join(str(directory), "node.sock")
        name = "py-%d-%d" % (os.getpid(), next(_names))
        self.segment = "/dev/shm/tracering." + name
        self.proc = subprocess.Popen(
            [TESTNODE, "--listen", "127.0.0.1:0", "--control", self.socket, "--name", name,
             *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("ready "):
            self.proc.kill()
            raise RuntimeError("%s did not print 'ready PORT' (got %r; stderr: %s)"
                               % (TESTNODE, line, self.proc.stderr.read()))
        self.port = int(line.split()[1])
        self.endpoint = "127.0.0.1:%d" % self.port

    def loadgen(self, *args):
        """Runs tracering-loadgen against the node to its end; fails the test if it fails."""
        run = subprocess.run([LOADGEN, "--connect", self.endpoint, *args], capture_output=True,
                             text=True, timeout=TIMEOUT * 2)
        assert run.returncode == 0, "loadgen %s exited %d: %s%s" % (
            " ".join(args), run.returncode, run.stdout, run.stderr)
        return run

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait(TIMEOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.kill(signal.SIGTERM)
        self.proc.stdout.close()
        self.proc.stderr.close()
        # A node that exits removes its segment; one killed with SIGKILL cannot.
        if self.proc.returncode == -signal.SIGKILL:
            try:
                os.unlink(self.segment)
            except FileNotFoundError:
                pass


class HelperProducer:
    """tracering_test_helper's "produce" mode: a bare producer serving a control socket in
    `directory`, driven line by line (see tests/test_helper.cpp)."""

    def __init__(self, directory):
        self.socket = os.path.join(str(directory), "producer.sock")
        name = "py-helper-%d-%d" % (os.getpid(), next(_names))
        self.proc = subprocess.Popen([TEST_HELPER, "produce", name, self.socket],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._pending = b""
        self.expect("ready")

    def _line(self, deadline):
        """The helper's next line, or None at the deadline. Reads the pipe unbuffered, so no
        line waits in a buffer that select() cannot see."""
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not ready:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                return None
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode()

    def expect(self, reply):
        line = self._line(time.monotonic() + TIMEOUT)
        assert line == reply, "%s: expected %r, got %r" % (TEST_HELPER, reply, line)

    def command(self, line, reply):
        """Sends `line` and waits for the helper's `reply`."""
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        self.expect(reply)

    def stop(self):
        # Closing stdin ends it; a record still held is finished first.
        self.proc.stdin.close()
        try:
            self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
            raise
        finally:
            self.proc.stdout.close()


@pytest.fixture
def helper_producer(tmp_path):
    producer = HelperProducer(tmp_path)
    yield producer
    producer.stop()


@pytest.fixture
def node(tmp_path):
    n = TestNode(tmp_path)
    yield n
    n.stop()


@pytest.fixture
def small_ring_node(tmp_path):
    """A node whose net ring holds 1 MiB: about 7,000 ping or pong events."""
    n = TestNode(tmp_path, args=("--net-ring-mib", "1"))
    yield n
    n.stop()


@pytest.fixture
def client(node):
    # Imported here: the extractor's tests use this harness without the module.
    import tracering
    return tracering.connect(node.socket)


def p2p_message(command, payload):
    """A P2P v1 message: magic, command, length, checksum (sha256d), payload."""
    checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return (REGTEST_MAGIC + command.encode().ljust(12, b"\0") + struct.pack("<I", len(payload))
            + checksum + payload)


class RawPeer:
    """A TCP connection to the node that sends whatever bytes it is given."""

    def __init__(self, node):
        self.sock = socket.create_connection(("127.0.0.1", node.port), timeout=TIMEOUT)
        host, port = self.sock.getsockname()
        self.addr = "%s:%d" % (host, port)

    def send(self, data):
        self.sock.sendall(data)

    def wait_for_close(self):
        """True once the node closed the connection (recv returns b"")."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                if self.sock.recv(4096) == b"":
                    return True
            except ConnectionResetError:
                return True
        return False

    def close(self):
        self.sock.close()


def collect(session, done, timeout=TIMEOUT):
    """Reads events as dicts until done(events) is true; fails naming what arrived if
    `timeout` seconds pass first."""
    events = []
    deadline = time.monotonic() + timeout
    while not done(events):
        left = deadline - time.monotonic()
        assert left > 0, "timed out after %d events: %s" % (len(events), events[-5:])
        for ev in session.poll(4096, timeout=min(left, 0.5)):
            events.append(ev.as_dict())
    return events


def wait_until(predicate, what, timeout=TIMEOUT):
    """Polls predicate() until it is true; fails with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting until " + what
        time.sleep(0.01)


def ring(client, name):
    return next(r for r in client.rings() if r.name == name)


# ---------------------------------------------------------------------------------------------
# The extractor's harness (extractor_harness.py, which the functional test on the real bitcoind
# shares): nats-server, tracering-extractor, and a subscriber that decodes every message as
# peer-observer's event.Event. Here a missing nats-server skips the test.

class NatsServer(extractor_harness.NatsServer):
    def __init__(self, *args, **kwargs):
        if not NATS_SERVER:
            pytest.skip(NATS_SERVER_MISSING)
        super().__init__(*args, **kwargs)


@pytest.fixture
def nats(tmp_path):
    server = NatsServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def subscriber(nats):
    sub = Subscriber(nats)
    yield sub
    sub.close()
