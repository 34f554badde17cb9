#!/usr/bin/env python3
# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""What reading events costs in Python (the tracering module, python/), against a real
tracering-testnode: the net ring is filled with a ping flood from tracering-loadgen while
nobody reads (a lossless lease keeps every event), then drained four ways, each timed alone:

  attribute   for ev in session.events(timeout=0): ev.msg_type   (one field decoded)
  iterate     for ev in session.events(timeout=0): n += 1        (an Event per record)
  poll        len(session.poll(4096)) until empty                (Events, in lists)
  count       session.count(timeout=0)                           (no Python objects)

Each way runs REPEAT times (default 5), in turns; prints the median ns per event, the range,
and the median events per second. The target for `iterate` and `attribute` is at most 1000 ns
per small event. Run from the repository after a build:

  PYTHONPATH=build/python /usr/bin/python3 bench/python_events.py [PINGS [REPEAT]]
"""

import os
import select
import statistics
import subprocess
import sys
import tempfile
import time

import tracering

BUILD = os.environ.get("TRACERING_BUILD_DIR", "build")
TESTNODE = os.path.join(BUILD, "tools/testnode/tracering-testnode")
LOADGEN = os.path.join(BUILD, "tools/loadgen/tracering-loadgen")


def fill(node_port, session_pings):
    subprocess.run([LOADGEN, "--connect", "127.0.0.1:%d" % node_port, "ping", "--count",
                    str(session_pings)], check=True, capture_output=True)


def drain_attribute(session):
    n = 0
    for ev in session.events(timeout=0):
        ev.msg_type
        n += 1
    return n


def drain_iterate(session):
    n = 0
    for _ in session.events(timeout=0):
        n += 1
    return n


def drain_poll(session):
    n = 0
    while True:
        got = len(session.poll(4096))
        if not got:
            return n
        n += got


def drain_count(session):
    return session.count(timeout=0)


def clock_source():
    try:
        with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def main():
    pings = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "node.sock")
        node = subprocess.Popen([TESTNODE, "--listen", "127.0.0.1:0", "--control", sock,
                                 "--name", "pybench-%d" % os.getpid()],
                                stdout=subprocess.PIPE, text=True)
        try:
            select.select([node.stdout], [], [], 30)
            port = int(node.stdout.readline().split()[1])
            client = tracering.connect(sock)
            print("%d pings (ping and pong events on the net ring), each way timed alone, "
                  "%d times; clock source %s" % (pings, repeat, clock_source()))
            ways = (("attribute", drain_attribute), ("iterate", drain_iterate),
                    ("poll", drain_poll), ("count", drain_count))
            ns = {name: [] for name, _ in ways}
            for _ in range(repeat):
                for name, drain in ways:
                    with client.attach(["net"], events=["inbound_message", "outbound_message"],
                                       lossless=True) as session:
                        fill(port, pings)
                        start = time.perf_counter()
                        n = drain(session)
                        seconds = time.perf_counter() - start
                        if session.lost or n < 2 * pings:
                            sys.exit("%s: read %d events, lost %d; expected at least %d and "
                                     "none lost" % (name, n, session.lost, 2 * pings))
                    ns[name].append(seconds * 1e9 / n)
            for name, _ in ways:
                median = statistics.median(ns[name])
                print("%-10s %7.1f ns/event (%.1f-%.1f)  %6.2f M events/s"
                      % (name, median, min(ns[name]), max(ns[name]), 1e3 / median))
        finally:
            node.terminate()
            node.wait()


if __name__ == "__main__":
    main()
