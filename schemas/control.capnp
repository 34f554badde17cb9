# tracering control plane: how a consumer finds a producer's rings and turns them on.
#
# The producer serves `Control` on a unix socket (mode 0600, or 0660 with group access) from
# its own thread; it is never on the event path. A consumer connects, calls `attach`, and
# keeps the returned `Session` for as long as it reads: the session is the lease. `attach`
# hands over, as descriptors (SCM_RIGHTS), the segment (read-only) and the lease's own cursor
# memory. When the session is released, or the connection closes because the consumer
# exited or was killed, its readers are removed; other readers of the same rings go on.
#
# Evolution rule: ordinals are only added; a method or field is never removed or reused.

@0xaabee6a9c4b0fdc3;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("tracering::control::messages");

const defaultLosslessWaitMs :UInt32 = 100;
const maxLosslessWaitMs :UInt32 = 10000;

interface Control {
  # What the producer is: enough to check versions before attaching.
  info @0 () -> (result :ProducerInfo);

  # Every ring with its state and counters.
  rings @1 () -> (result :List(RingStatus));

  # Enables the requested rings for this caller. On success `session` holds the lease and
  # `rings` tells where each ring starts; on failure `error` says why and nothing changed.
  attach @2 (request :AttachRequest) -> (session :Session, rings :List(AttachedRing),
                                         error :ControlError, segment :Memory,
                                         cursors :Memory);
}

interface Memory {
  # Shared memory passed as a file descriptor: the capability's fd (Cap'n Proto passes it
  # with SCM_RIGHTS over the unix socket). No methods.
}

interface Session {
  # Counters of this session's rings.
  stats @0 () -> (result :List(RingStatus));

  # Gives the rings back now (the same as dropping the session).
  detach @1 () -> ();
}

struct ProducerInfo {
  segmentName @0 :Text;        # map "tracering.<segmentName>" and its ".cursors"
  abiVersion @1 :UInt32;
  schemaHash @2 :UInt64;
  producerPid @3 :UInt64;
  producerStartTime @4 :UInt64;
}

enum Stability {
  unknown @0;
  experimental @1;
  semiStable @2;
}

struct RingStatus {
  name @0 :Text;
  index @1 :UInt32;
  stability @2 :Stability;
  capacity @3 :UInt64;
  enabled @4 :Bool;
  readerPid @5 :UInt64;        # 0 when nobody holds the ring
  seq @6 :UInt64;              # events attempted
  writePos @7 :UInt64;         # bytes written
  droppedFull @8 :UInt64;
  droppedTooBig @9 :UInt64;
  droppedReaderReset @10 :UInt64;
  droppedTimeout @11 :UInt64;
  cursorViolations @12 :UInt64;
  truncated @13 :UInt64;
  eventMask @14 :UInt64;       # bit i: event type (ring's first type + i) is on
  lossless @15 :Bool;
  payloadLimit @16 :UInt64;
  generation @17 :UInt64;
  events @18 :List(Text);      # the names of the events this ring carries
  unreadBytes @19 :UInt64;     # the reader's backlog: written, not yet given back (0: no reader)
  readerIdleNs @20 :UInt64;    # since the reader last gave space back, or attached (0: no reader)
  readerCount @21 :UInt32;     # readers attached now
  readers @22 :List(ReaderStatus);  # all of them (rings), or the session's own (stats)
  losslessDowngrades @23 :UInt64;   # lossless readers that used up their budget
  readersEvicted @24 :UInt64;  # readers detached for keeping the ring full
  eventTypes @25 :List(UInt16);  # the record type of each of `events`
}

struct ReaderStatus {
  slot @0 :UInt32;
  pid @1 :UInt64;
  uid @2 :UInt64;
  lossless @3 :Bool;
  downgraded @4 :Bool;         # its lease used up its lossless budget: it drops now
  eventMask @5 :UInt64;
  payloadLimit @6 :UInt64;
  waitedNs @7 :UInt64;         # time the node waited for it (lossless)
  unreadBytes @8 :UInt64;
  idleNs @9 :UInt64;
}

struct RingRequest {
  name @0 :Text;               # "net", "mempool", "utxocache", "validation", "coin_selection"
  events @1 :List(Text);       # event names, e.g. ["flush"]; empty = every event of the ring
  lossless @2 :Bool;           # wait for room (bounded) instead of dropping; slows the node
  losslessWaitMs @3 :UInt32 = .defaultLosslessWaitMs;
                               # longest wait per event; after a timeout the ring drops
                               # without waiting until the reader moves again. All waits of
                               # one lease are bounded by the producer's lossless budget too
  payloadLimit @4 :UInt64;     # cut message payloads to this many bytes; 0 = whole
}

struct AttachRequest {
  abiVersion @0 :UInt32;       # the consumer's; must equal the producer's
  schemaHash @1 :UInt64;       # the consumer's; informational (schemas evolve compatibly)
  readerPid @2 :UInt64;        # shown to users and to other consumers that are refused
  rings @3 :List(RingRequest);
}

struct AttachedRing {
  name @0 :Text;
  index @1 :UInt32;
  generation @2 :UInt64;       # the generation of its reader line while it owns the slot
  slot @3 :UInt32;             # its reader line in the ring
}

struct ControlError {
  code @0 :Code;
  message @1 :Text;            # a sentence naming what was wrong and what to do

  enum Code {
    none @0;
    invalidArgument @1;        # unknown ring or event, bad option
    versionMismatch @2;        # ABI or schema differs
    busy @3;                   # a requested ring has as many readers as it takes
    unavailable @4;            # the producer cannot serve it now: no room for the ring in
                               # its shared memory, or it is shutting down
  }
}
