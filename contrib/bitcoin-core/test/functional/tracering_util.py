#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""Helpers for the tracering functional tests: run ringdump and tracering-loadgen against a
test node, and wait on what they report.

The tools are found in $TRACERING_BIN_DIR (contrib/bitcoin-core/test/run.sh sets it to the
tracering install that build-bitcoind.sh made)."""

import json
import os
import re
import signal
import subprocess
from pathlib import Path

from test_framework.test_framework import SkipTest
from test_framework.util import assert_equal, p2p_port

RINGS = ["net", "mempool", "utxocache", "validation", "coin_selection"]

# ringdump's exit codes (tools/ringdump/README.md).
EXIT_OK = 0
EXIT_UNAVAILABLE = 2


def tool(name):
    bin_dir = os.environ.get("TRACERING_BIN_DIR")
    if not bin_dir:
        raise RuntimeError("TRACERING_BIN_DIR is not set: run these tests through "
                           "contrib/bitcoin-core/test/run.sh, or set it to the folder with ringdump")
    path = Path(bin_dir) / name
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is not an executable; build it with contrib/bitcoin-core/build-bitcoind.sh")
    return str(path)


def skip_unless_tracering(test):
    """For a test's skip_test_if_missing_module(): skips it off Linux, or where bitcoind was
    built without tracering."""
    test.skip_if_platform_not_linux()
    if not test.config["components"].getboolean("ENABLE_TRACERING", fallback=False):
        raise SkipTest("bitcoind was built without tracering (-DWITH_TRACERING=ON)")


def socket_path(node):
    """The control socket a node serves by default: <network datadir>/tracering.sock."""
    return node.chain_path / "tracering.sock"


def segment_of(node):
    """The shared-memory object the node's start-up log line names."""
    with open(node.debug_log_path, encoding="utf-8") as log:
        names = re.findall(r"tracering: control socket .*, shared memory /dev/shm/(tracering\.[A-Za-z0-9._-]+)", log.read())
    assert names, "the node logged no tracering start-up line"
    return names[-1]


def shm_objects(prefix="tracering.bitcoin-regtest-"):
    return sorted(p.name for p in Path("/dev/shm").iterdir() if p.name.startswith(prefix))


def ringdump(node, *args, control=None, expect_code=EXIT_OK, timeout=60):
    """Runs `ringdump COMMAND --control SOCKET ARGS...`; returns (stdout, stderr)."""
    command, *rest = args
    control = control or socket_path(node)
    proc = subprocess.run([tool("ringdump"), command, "--control", str(control), *rest],
                          capture_output=True, text=True, timeout=timeout)
    assert_equal((proc.returncode, proc.stderr if proc.returncode != expect_code else ""), (expect_code, ""))
    return proc.stdout, proc.stderr


def list_rings(node):
    """`ringdump list --json`, by ring name."""
    out, _ = ringdump(node, "list", "--json")
    return {r["ring"]: r for r in map(json.loads, out.splitlines())}


def loadgen(node, mode, *args, timeout=300):
    """Runs tracering-loadgen against the node's P2P port; returns its `result` line as a dict."""
    proc = subprocess.run([tool("tracering-loadgen"), "--connect", f"127.0.0.1:{p2p_port(node.index)}",
                           "--timeout", str(timeout), mode, *args],
                          capture_output=True, text=True, timeout=timeout + 30)
    assert_equal((proc.returncode, proc.stderr if proc.returncode else ""), (0, ""))
    line = next(l for l in proc.stdout.splitlines() if l.startswith("result "))
    return dict(kv.split("=", 1) for kv in line.split()[1:])


class RingdumpProcess:
    """A long-running ringdump (watch, capture or stats) whose output goes to files, so that
    nothing it prints can block it."""

    def __init__(self, node, tmpdir, name, command, *args):
        self.node = node
        self.out_path = Path(tmpdir) / f"{name}.out"
        self.err_path = Path(tmpdir) / f"{name}.err"
        self.out = open(self.out_path, "w", encoding="utf-8")
        self.err = open(self.err_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen([tool("ringdump"), command, "--control", str(socket_path(node)), *args],
                                     stdout=self.out, stderr=self.err)
        self.returncode = None

    def wait_attached(self, rings, timeout=60):
        """Waits until the producer lists this process as the reader of every ring in `rings`."""
        def attached():
            assert self.proc.poll() is None, f"ringdump exited with {self.proc.returncode}: {self.stderr()}"
            listed = list_rings(self.node)
            return all(listed[r]["state"] == "on" and listed[r]["reader_pid"] == self.proc.pid for r in rings)
        self.node.wait_until(attached, timeout=timeout)

    def lines(self):
        if not self.out.closed:
            self.out.flush()
        with open(self.out_path, encoding="utf-8") as f:
            return f.read().splitlines()

    def events(self):
        """The JSON lines printed so far (events and {"lost":...} lines)."""
        return [json.loads(l) for l in self.lines() if l.startswith("{")]

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        return self.err_path.read_text(encoding="utf-8")

    def wait_for_events(self, predicate, timeout=60):
        self.node.wait_until(lambda: predicate(self.events()), timeout=timeout)

    def stop(self, sig=signal.SIGINT, timeout=60):
        """Ends it with `sig` (nothing if it already exited) and returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout=60):
        self.returncode = self.proc.wait(timeout=timeout)
        self.out.close()
        self.err.close()
        return self.returncode


def no_losses(events):
    """Asserts no {"lost":N} line; returns the events."""
    lost = [e for e in events if "lost" in e]
    assert_equal(lost, [])
    return events


def of(events, ring, event):
    return [e for e in events if e.get("ring") == ring and e.get("event") == event]
