# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""The harness of tracering-extractor's end-to-end tests: nats-server on a free loopback port,
configured by a file; a NATS subscriber that speaks the protocol itself and decodes every
message as peer-observer's event.Event, with Python classes protoc generates from
tools/extractor/proto; and the tracering-extractor process, its log and its `stats` line.

Shared by the pytest tests against tracering-testnode (conftest.py, test_extractor.py) and the
functional test against the real bitcoind
(contrib/bitcoin-core/test/functional/interface_tracering_extractor.py, beside which
contrib/bitcoin-core/test/run.sh copies this file). So it needs neither pytest nor Bitcoin
Core's test framework: what a test lacks is named by missing(), and each test runner skips in
its own way. Its waits are on state, with a deadline (TIMEOUT), never sleeps.

Environment: TRACERING_EXTRACTOR (the extractor), TRACERING_EXTRACTOR_PROTO (the .proto
folder), TRACERING_PROTOC and TRACERING_NATS_SERVER; a test may also pass each explicitly."""

import atexit
import importlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

TIMEOUT = 30.0
EXTRACTOR = os.environ.get("TRACERING_EXTRACTOR", "build/tools/extractor/tracering-extractor")
EXTRACTOR_PROTO = os.environ.get("TRACERING_EXTRACTOR_PROTO", "../../tools/extractor/proto")
PROTOC = os.environ.get("TRACERING_PROTOC") or shutil.which("protoc")
# Debian installs it in /usr/sbin, which is not on every user's PATH.
NATS_SERVER = (os.environ.get("TRACERING_NATS_SERVER") or shutil.which("nats-server")
               or shutil.which("nats-server", path="/usr/sbin:/usr/local/sbin"))
# peer-observer's tools subscribe to these, and to "*" (one token): nothing else may appear.
SUBJECTS = ("netmsg", "netconn", "mempool", "validation")
NATS_SERVER_MISSING = ("nats-server not found (Debian: apt-get install nats-server): the "
                       "extractor's tests need a real NATS server")
_names = itertools.count()


def missing():
    """Why the extractor's end-to-end tests cannot run here (nats-server, protoc or Python's
    protobuf module is missing), or None."""
    if not NATS_SERVER:
        return NATS_SERVER_MISSING
    if not PROTOC or not os.access(PROTOC, os.X_OK):
        return ("protoc not found (Debian: apt-get install protobuf-compiler): the test decodes "
                "what the extractor publishes with classes protoc generates")
    try:
        importlib.import_module("google.protobuf")
    except ImportError:
        return ("%s cannot import google.protobuf (Debian: apt-get install python3-protobuf, "
                "for Debian's /usr/bin/python3): the test decodes what the extractor publishes "
                "with it" % sys.executable)
    return None


def free_port():
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect_when_listening(port, deadline):
    """A socket connected to 127.0.0.1:port, once something listens there; None at deadline."""
    while time.monotonic() < deadline:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        except OSError:
            time.sleep(0.01)
    return None


class NatsServer:
    """nats-server on 127.0.0.1, configured by a file in `directory` (max_payload, a user)."""

    def __init__(self, directory, max_payload=None, user=None, password=None):
        assert NATS_SERVER, NATS_SERVER_MISSING
        self.directory = str(directory)
        self.port = free_port()
        self.user, self.password = user, password
        self.config = os.path.join(self.directory, "nats.conf")
        with open(self.config, "w") as f:
            f.write("listen: 127.0.0.1:%d\n" % self.port)
            if max_payload:
                f.write("max_payload: %d\n" % max_payload)
            if user:
                f.write("authorization { user: %s, password: %s }\n" % (user, password))
        self.address = "127.0.0.1:%d" % self.port
        self.proc = None
        self.start()

    def start(self):
        log = open(os.path.join(self.directory, "nats-server.log"), "a")
        self.proc = subprocess.Popen([NATS_SERVER, "-c", self.config], stdout=log, stderr=log)
        log.close()
        ready = connect_when_listening(self.port, time.monotonic() + TIMEOUT)
        assert ready, "nats-server did not listen on port %d" % self.port
        ready.close()

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(TIMEOUT)


class Subscriber:
    """A NATS client subscribed to every subject (">"), speaking the protocol itself (there is
    no NATS client for Python in Debian), which keeps every message in `messages` as
    (subject, payload) and reconnects by itself after the server restarts."""

    def __init__(self, server):
        self.server = server
        self.messages = []  # (subject, payload), appended by the reader thread
        self.decoded = []  # Event of each message decoded so far, in order
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.subscribed_at = 0.0  # time.time() when the last subscription was confirmed
        self.closing = False
        self.sock = self._subscribe(time.monotonic() + TIMEOUT)
        assert self.sock, "cannot subscribe to NATS at " + server.address
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _subscribe(self, deadline):
        """A connection subscribed to ">", once the server confirmed it; None if the server
        is not there (yet) or went away meanwhile."""
        sock = connect_when_listening(self.server.port, deadline)
        if not sock:
            return None
        sock.settimeout(None)  # the reader thread waits for messages as long as it takes
        reader = sock.makefile("rb")
        connect = {"verbose": False, "pedantic": False, "name": "test-subscriber"}
        if self.server.user:
            connect.update(user=self.server.user, **{"pass": self.server.password})
        try:
            if not reader.readline().startswith(b"INFO "):
                raise OSError("no INFO from the server")
            sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nSUB > 1\r\nPING\r\n")
            if reader.readline() != b"PONG\r\n":
                raise OSError("the subscription was not confirmed")
        except OSError:
            sock.close()
            return None
        self.reader = reader
        self.subscribed_at = time.time()
        self.subscribed.set()
        return sock

    def _run(self):
        while not self.closing:
            try:
                line = self.reader.readline()
            except OSError:
                line = b""
            if not line:  # the server went away: subscribe again once it is back
                self.subscribed.clear()
                self.sock.close()
                while not self.closing:
                    sock = self._subscribe(time.monotonic() + 1.0)
                    if sock:
                        self.sock = sock
                        break
                continue
            if line.startswith(b"MSG "):
                parts = line.split()
                size = int(parts[-1])
                payload = self.reader.read(size + 2)[:size]
                with self.lock:
                    self.messages.append((parts[1].decode(), payload))
            elif line.startswith(b"PING"):
                self.sock.sendall(b"PONG\r\n")

    def events(self):
        """Every message so far, decoded (each once); fails on one that is not a complete
        event.Event on one of the four single-token subjects."""
        with self.lock:
            new = self.messages[len(self.decoded):]
        self.decoded += decode_all(new)
        return list(self.decoded)

    def wait_for(self, predicate, what, timeout=TIMEOUT):
        """Waits until predicate(decoded events) is true; returns the decoded events."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if predicate(events):
                return events
            assert time.monotonic() < deadline, "timed out waiting for %s; got %d messages" % (
                what, len(events))
            time.sleep(0.05)

    def close(self):
        self.closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(TIMEOUT)


_event_class = None


def event_class(proto_dir=None, directory=None):
    """peer-observer's event.Event, from Python classes protoc generates from the .proto files
    of `proto_dir` (default TRACERING_EXTRACTOR_PROTO) into `directory` (default a temporary
    one, removed at exit), once per process (never committed)."""
    global _event_class
    if _event_class is None:
        proto_dir = proto_dir or EXTRACTOR_PROTO
        protos = sorted(os.path.relpath(os.path.join(root, name), proto_dir)
                        for root, _, names in os.walk(proto_dir)
                        for name in names if name.endswith(".proto"))
        assert protos, "no .proto files in " + proto_dir
        if directory is None:
            directory = tempfile.mkdtemp(prefix="tracering-proto-")
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)
        subprocess.run([PROTOC, "-I", proto_dir, "--python_out", directory, *protos],
                       check=True)
        sys.path.insert(0, directory)
        for proto in protos:
            importlib.import_module(proto[:-len(".proto")].replace(os.sep, ".") + "_pb2")
        from google.protobuf import symbol_database
        _event_class = symbol_database.Default().GetSymbol("event.Event")
    return _event_class


class Event:
    """One decoded message: `subject`, `timestamp` (ms), `kind` (message, connection, mempool
    or validation: the oneof peer-observer's ebpf-extractor sets, by field number), `leaf` (the
    MessageEvent, ConnectionEvent, ... message) and `what` (the name of the leaf's oneof
    variant: ping, inbound, added, block_connected, ...) with `body`, that variant's value."""

    KINDS = {1: "message", 2: "connection", 4: "mempool", 5: "validation"}
    SUBJECT_OF = {"message": "netmsg", "connection": "netconn", "mempool": "mempool",
                  "validation": "validation"}

    def __init__(self, subject, payload):
        event = event_class().FromString(payload)
        assert event.IsInitialized(), "missing required fields: %s" % (
            event.FindInitializationErrors())
        self.subject, self.timestamp, self.size = subject, event.timestamp, len(payload)
        outer = [f for f, _ in event.ListFields() if f.containing_oneof]
        assert [f.number for f in outer] == [1], "not an ebpf_extractor event: %s" % event
        ebpf = getattr(event, outer[0].name)
        inner = ebpf.ListFields()
        assert len(inner) == 1 and inner[0][0].number in self.KINDS, "ebpf event: %s" % ebpf
        self.kind = self.KINDS[inner[0][0].number]
        self.leaf = inner[0][1]
        oneof = self.leaf.DESCRIPTOR.oneofs[0].name
        self.what = self.leaf.WhichOneof(oneof)
        assert self.what, "no %s set in %s" % (oneof, self.leaf)
        self.body = getattr(self.leaf, self.what)
        assert subject == self.SUBJECT_OF[self.kind], "%s event on subject %s" % (
            self.kind, subject)

    def __repr__(self):
        return "Event(%s %s %s)" % (self.subject, self.kind, self.what)


def decode_all(messages):
    """Every message decoded; fails on one that is not a complete event.Event on one of the
    four single-token subjects."""
    for subject, _ in messages:
        assert subject in SUBJECTS, "published on subject %r" % subject
    return [Event(subject, payload) for subject, payload in messages]


class Extractor:
    """tracering-extractor (`binary`, default TRACERING_EXTRACTOR) with its log in
    `directory`, its Prometheus endpoint on a free port, and no periodic stats line (the last
    one comes at exit)."""

    def __init__(self, directory, nats, *flags, control=None, binary=None):
        self.log_path = os.path.join(str(directory), "extractor-%d.log" % next(_names))
        args = [binary or EXTRACTOR, "-a", nats.address, "--metrics-address", "127.0.0.1:0",
                "--stats-interval", "0", *flags]
        if control:
            args += ["--control", control]
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        line = self.wait_log(r"metrics at http://(\S+)/metrics")
        self.metrics_url = "http://%s/metrics" % re.search(r"http://(\S+)/metrics", line).group(1)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def log_lines(self, pattern):
        """The lines of the log so far that match `pattern`."""
        return [l for l in self.log().splitlines() if re.search(pattern, l)]

    def wait_log(self, pattern, count=1, timeout=TIMEOUT):
        """The last line matching `pattern` once `count` lines match."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.log_lines(pattern)
            if len(lines) >= count:
                return lines[-1]
            assert self.proc.poll() is None, "the extractor exited %s: %s" % (
                self.proc.returncode, self.log())
            assert time.monotonic() < deadline, "timed out waiting for %r in: %s" % (
                pattern, self.log())
            time.sleep(0.02)

    def metrics(self):
        """{(metric, label value): value} from the Prometheus endpoint, without the
        tracering_extractor_ prefix; label value None for metrics without one."""
        text = urllib.request.urlopen(self.metrics_url, timeout=TIMEOUT).read().decode()
        return parse_metrics(text)

    def stop(self, sig=signal.SIGTERM):
        """Ends it with `sig` (nothing if it exited already); the exit code and the last stats
        line as {group: {key: value}}."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(TIMEOUT)
        return self.proc.returncode, parse_stats(self.wait_log(r" stats "))


def parse_metrics(text):
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        name, value = line.rsplit(" ", 1)
        label = re.search(r'="([^"]*)"', name)
        name = name.split("{")[0][len("tracering_extractor_"):]
        values[(name, label.group(1) if label else None)] = int(value)
    return values


def parse_stats(line):
    """'... stats read net=1 mempool=0 ... attaches=1' as {"read": {"net": 1, ...}, ...}."""
    stats, group = {}, None
    for token in line.split(" stats ", 1)[1].split():
        if "=" not in token:
            group = stats.setdefault(token, {})
        elif group is not None and not token.startswith(("attaches=", "nats_reconnects=")):
            key, value = token.split("=")
            group[key] = int(value)
        else:
            key, value = token.split("=")
            stats[key] = int(value)
    return stats
