# Copyright (c) The tracering developers
# Distributed under the MIT software license.
"""Read a tracering producer's events from Python: bitcoind with tracering, or
tracering-testnode.

    import tracering
    client = tracering.connect("/path/to/tracering.sock")
    with client.attach(["net"], events=["inbound_message"]) as session:
        for ev in session.events(timeout=5.0):
            print(ev.msg_type, ev.peer_id, ev.payload.hex())

connect(socket_path, timeout=5.0) -> Client
    Client.producer: pid, segment, abi, schema_hash, start_time.
    Client.rings(): every ring with its state, readers and counters (`ringdump list`).
    Client.attach(rings, events=None, lossless=False, payload_limit=0) -> Session
        `events` names events ("inbound_message", or "net:inbound_message"); None: all.
Session (a context manager; leaving the with-block gives the lease back)
    events(timeout=None): iterates events; ends after `timeout` seconds without one.
    poll(max_events=1024, timeout=0.0): a list of the events there now.
        Both give each ring's events in seq order and the session's rings merged by
        timestamp, as far as they hold them when read: an event committed after a read
        but timestamped before it (its writer thread was preempted) can come after later
        events of other rings; ev.ts_ns tells.
    count(max_events=None, timeout=1.0): reads and counts events without making objects.
    stats(): per ring, delivered, lost, bytes, skipped, unknown, and stuck_ns,
        stuck_position, stuck_bytes_waiting: non-zero while a producer thread has left
        a record half-written for a second or more (nothing after it arrives until it
        is finished).
    lost: the events the producer dropped (ring full, record too big, reader reset,
        lossless wait timed out) since the attach, of all the session's rings; stats()
        has each ring's. Drops before an event read count at once; drops after the last
        event read count from the last time the session found nothing more in the ring:
        events(), poll() and count() look whenever they find nothing, and so do close()
        and reading lost or stats(). So once everything was read (an events() loop ended
        by its timeout, a poll() returned []), lost == 0 means nothing was dropped. Each
        drop counts once: an event that follows drops already counted has them in its
        lost_before as well.
    close(): gives the lease back; lost and stats() stay readable.
Event
    ring, event, type, seq, ts_ns, unix_ns, lost_before (events of its ring dropped
    between the previous event read and this one), truncated, and every field of the
    producer's schema by its name, as `ringdump watch --json` shows it: hashes as
    display hex, enums by name ("outbound-full-relay"), byte fields as bytes. Fields are
    readable while the event is current: until the next events(), poll() or count()
    step; each value read is a copy and stays valid. ev.as_dict() copies everything.

Errors raise tracering.Error subclasses carrying the C++ message and code.
"""

from ._tracering import Client, Event, Producer, Reader, Ring, Session, connect


class Error(Exception):
    """A tracering error: `message` names what was wrong and what to do, `code` is the
    C++ ErrorCode's name ("Busy", "NotFound", ...)."""

    def __init__(self, message, code=""):
        super().__init__(message)
        self.message = message
        self.code = code


class InvalidArgument(Error):
    """The caller passed something unusable (an unknown ring or event, a bad option)."""


class NotFound(Error):
    """Nothing at that socket path, or nobody listening."""


class PermissionDenied(Error):
    """The OS refused access to the socket or segment."""


class VersionMismatch(Error):
    """The producer speaks another ABI version; the message names both."""


class Corrupt(Error):
    """The segment, a record or the control protocol broke the rules."""


class Busy(Error):
    """The producer refused: a ring has all the readers it takes (the message names their
    pids), or too many control connections."""


class Detached(Error):
    """The producer detached this reader (lease ended, slow reader evicted)."""


class ProducerGone(Detached):
    """The producer exited or died; every event it wrote was delivered before this."""


_CLASSES = {cls.__name__: cls for cls in (
    Error, InvalidArgument, NotFound, PermissionDenied, VersionMismatch, Corrupt, Busy,
    Detached, ProducerGone)}
# ErrorCode::Stale only ever reaches Python as ProducerGone.
_CLASSES["Stale"] = ProducerGone

from . import _tracering  # noqa: E402  (the classes above must exist first)

_tracering._set_error_classes(_CLASSES)

__all__ = [
    "connect", "Client", "Session", "Event", "Producer", "Reader", "Ring", "Error",
    "InvalidArgument", "NotFound", "PermissionDenied", "VersionMismatch", "Corrupt", "Busy",
    "Detached", "ProducerGone",
]
