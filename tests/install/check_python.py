#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""The installed Python module, used as a program outside the build would use it: imported
with PYTHONPATH pointing into the install prefix only, shown to come from there, and reading
a ping flood that tracering-loadgen sends to tracering-testnode, both from the prefix too.

    PYTHONPATH=PREFIX/lib/python3.N/dist-packages check_python.py PREFIX WORK_DIR [PINGS]

Run by tests/install/run.sh. WORK_DIR holds the test node's control socket. Exit code 0 when
every ping arrived as a net:inbound_message event with its nonce, none lost."""

import os
import select
import signal
import struct
import subprocess
import sys
import time

TIMEOUT = 30.0


def fail(message):
    print(f"install test: FAILED: Python module: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) not in (3, 4):
        fail(f"usage: {sys.argv[0]} PREFIX WORK_DIR [PINGS]")
    prefix = os.path.realpath(sys.argv[1])
    work = sys.argv[2]
    pings = int(sys.argv[3]) if len(sys.argv) == 4 else 1000

    import tracering
    from tracering import _tracering
    for module in (tracering, _tracering):
        path = os.path.realpath(module.__file__)
        if not path.startswith(prefix + os.sep):
            fail(f"{module.__name__} was imported from {path}, not from {prefix}")
    print(f"import tracering: {os.path.dirname(os.path.realpath(tracering.__file__))}")

    testnode = os.path.join(prefix, "bin", "tracering-testnode")
    loadgen = os.path.join(prefix, "bin", "tracering-loadgen")
    for tool in (testnode, loadgen):
        if not os.access(tool, os.X_OK):
            fail(f"{tool} was not installed")

    sock = os.path.join(work, "testnode.sock")
    node = subprocess.Popen([testnode, "--listen", "127.0.0.1:0", "--control", sock,
                             "--name", f"install-test-{os.getpid()}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([node.stdout], [], [], TIMEOUT)
        line = node.stdout.readline() if ready else ""
        if not line.startswith("ready "):
            node.kill()
            fail(f"tracering-testnode did not print 'ready PORT' (got {line!r}; "
                 f"stderr: {node.stderr.read()})")
        port = int(line.split()[1])

        client = tracering.connect(sock)
        if client.producer.pid != node.pid:
            fail(f"the socket's producer is pid {client.producer.pid}, not the test node's {node.pid}")
        with client.attach(["net"], events=["inbound_message"], lossless=True) as session:
            run = subprocess.run([loadgen, "--connect", f"127.0.0.1:{port}", "ping", "--count",
                                  str(pings)], capture_output=True, text=True, timeout=TIMEOUT * 2)
            if run.returncode != 0:
                fail(f"tracering-loadgen exited {run.returncode}: {run.stdout}{run.stderr}")
            nonces = []
            deadline = time.monotonic() + TIMEOUT
            while len(nonces) < pings and time.monotonic() < deadline:
                for ev in session.poll(4096, timeout=0.5):
                    if ev.msg_type == "ping":
                        nonces.append(struct.unpack("<Q", bytes(ev.payload))[0])
            lost = session.lost
        if nonces != list(range(pings)) or lost != 0:
            fail(f"read {len(nonces)} pings of {pings} sent (in order: "
                 f"{nonces == sorted(nonces)}), {lost} events lost")
        print(f"tracering-testnode (pid {node.pid}), tracering-loadgen: {pings} pings sent, "
              f"{len(nonces)} read with their nonces in order, 0 lost")
    finally:
        if node.poll() is None:
            node.send_signal(signal.SIGTERM)
        try:
            node.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
        node.stdout.close()
        node.stderr.close()
    if node.returncode != 0:
        fail(f"tracering-testnode exited {node.returncode} after SIGTERM")


if __name__ == "__main__":
    main()
