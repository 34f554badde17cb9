# Copyright (c) The tracering developers
# Distributed under the MIT software license.
# Type stubs of the tracering package (python/tracering/__init__.py and _tracering).

from types import TracebackType
from typing import Any, Iterator, Optional, Sequence

class Error(Exception):
    message: str
    code: str
    def __init__(self, message: str, code: str = ...) -> None: ...

class InvalidArgument(Error): ...
class NotFound(Error): ...
class PermissionDenied(Error): ...
class VersionMismatch(Error): ...
class Corrupt(Error): ...
class Busy(Error): ...
class Detached(Error): ...
class ProducerGone(Detached): ...

class Producer:
    pid: int
    segment: str
    abi: int
    schema_hash: int
    start_time: int

class Reader:
    pid: int
    uid: int
    lossless: bool
    downgraded: bool
    payload_limit: int
    unread_bytes: int
    idle_ns: int

class Ring:
    name: str
    stability: str
    capacity: int
    max_record: int
    enabled: bool
    lossless: bool
    payload_limit: int
    reader_count: int
    readers: list[Reader]
    reader_pid: int
    unread_bytes: int
    reader_idle_ns: int
    seq: int
    dropped: int
    dropped_full: int
    dropped_too_big: int
    dropped_reader_reset: int
    dropped_timeout: int
    cursor_violations: int
    truncated: int
    readers_evicted: int
    events: list[str]

class Event:
    ring: str
    event: str
    type: int
    seq: int
    ts_ns: int
    unix_ns: int
    lost_before: int
    truncated: bool
    def as_dict(self) -> dict[str, Any]: ...
    # Every field of the producer's schema, by its name.
    def __getattr__(self, name: str) -> Any: ...

class Session:
    lost: int
    rings: list[str]
    closed: bool
    def events(self, timeout: Optional[float] = ...) -> Iterator[Event]: ...
    def poll(self, max_events: int = ..., timeout: float = ...) -> list[Event]: ...
    def count(self, max_events: Optional[int] = ..., timeout: Optional[float] = ...) -> int: ...
    def stats(self) -> dict[str, dict[str, int]]: ...
    def close(self) -> None: ...
    def __enter__(self) -> Session: ...
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

class Client:
    producer: Producer
    socket_path: str
    def rings(self) -> list[Ring]: ...
    def attach(
        self,
        rings: Sequence[str],
        events: Optional[Sequence[str]] = ...,
        lossless: bool = ...,
        payload_limit: int = ...,
        lossless_wait_ms: Optional[int] = ...,
    ) -> Session: ...

def connect(socket_path: str, timeout: float = ...) -> Client: ...
