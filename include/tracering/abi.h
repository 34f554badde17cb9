// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_ABI_H
#define TRACERING_ABI_H

//! @file
//! The shared-memory ABI of tracering: a long-term stable, versioned layout.
//!
//! A producer (the node) creates one POSIX shared-memory object, and one small piece of
//! cursor memory per lease:
//!
//!     tracering.<name>            written by the producer only: mode 0400 (0440 with group
//!     +-------------------------+ offset 0     access) once created; consumers map it read-only
//!     | SegmentHeader (4 KiB)   |  magic, abi_version (stored last), schema hash, producer
//!     |   RingDescriptor[16]    |  pid + start time, clock, ring table
//!     +-------------------------+ HEADER_SIZE
//!     | RingControl[ring_count] |  two 128-byte producer lines per ring: write_pos, seq,
//!     |                         |  reader count, drop counters by cause; the latest drop
//!     +-------------------------+
//!     | ReaderControl           |  one 128-byte producer line per reader slot:
//!     |  [ring_count][readers]  |  generation, state, where the reader started, its options
//!     +-------------------------+ SCHEMA_ALIGN aligned
//!     | the producer's schema   |  the binary FlatBuffers schema (.bfbs) of every event
//!     |                         |  table it writes: consumers decode with it whatever their
//!     |                         |  own schemas are (see tracering/events.h)
//!     +-------------------------+ page aligned
//!     | ring 0 data (2^k bytes) |  records, written once by the producer
//!     | ring 1 data ...         |
//!     +-------------------------+
//!
//!     lease cursor memory         made by the producer for one lease (memfd_create, sealed
//!     +-------------------------+ against shrinking and growing) and handed to that lease's
//!     | CursorSlot[MAX_RINGS]   | holder only, over the control socket (SCM_RIGHTS): the only
//!     +-------------------------+ memory a consumer can write. Slot i is ring i's cursor.
//!
//! Who writes what:
//!  - The producer writes everything in the main object. It never reads anything a consumer
//!    wrote except `CursorSlot::read_pos` (and `heartbeat_ns` for display), and only through
//!    `RingWriter`, which validates it. Which reader holds which slot is the producer's own
//!    lease table, never a value a consumer can write.
//!  - A consumer writes only the cursor memory of its own lease. It treats every byte of the
//!    main object as untrusted input: each offset and length is bounds-checked before use.
//!  - Several readers (up to `SegmentHeader::max_readers`) read one ring, each from its own
//!    position; the producer writes a record when every reader has room for it (see
//!    `RingWriter::WaitForRoom` for the slow-reader policy).
//!
//! Rules for this file: fixed-width integers only (no size_t, pointers or bool), little-endian
//! (asserted below),
//! offsets instead of pointers, every offset and size asserted below. Fields are only ever
//! added in reserved space; any change of meaning bumps ABI_VERSION.
//!
//! Records inside a ring's data area are 8-byte aligned:
//!
//!     [u64 commit][u32 length][u16 type][u16 flags][u64 seq][u64 timestamp_ns][payload]
//!
//! The payload is a FlatBuffer. `length` counts the header and the payload, not the alignment
//! padding after it; the next record starts at the next multiple of 8. Type 0 is a padding
//! record that fills the space up to the end of the data area where a record would not fit;
//! only its `length` and `type` are meaningful. Fewer than RECORD_HEADER_SIZE bytes before
//! the end are padding without a header (readers skip them). `commit` is the producer's own
//! (see RecordHeader). A record is at most `capacity / 8` bytes.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace tracering {

inline constexpr uint64_t MAGIC = 0x31474e4952435254; // "TRCRING1" read as little-endian bytes
//! 3: the segment carries the producer's schema (SegmentHeader::schema_offset), so schemas
//! evolve without a new ABI and consumers no longer compare schema hashes.
//! 4: several threads write a ring without a lock: a record is complete once its commit word
//! says so (RecordHeader::commit, 32-byte header, SegmentHeader::commit_key), and
//! RingControl::write_pos counts bytes reserved.
//! 5: drops publish the reservation they leave (RingControl::drop_pos, drop_seq, on a second
//! line), from which readers count the drops no record reveals yet, exactly.
//! 6: RingControl::write_pos and seq are the writers' reservation word itself (exact, no
//! longer copied after each reservation), and write_pos carries WRITE_POS_SEALED.
inline constexpr uint32_t ABI_VERSION = 6;
inline constexpr uint32_t CACHE_LINE = 128;
//! Set in RingControl::write_pos once the ring is sealed (the producer shut down): writers
//! reserve nothing more. Not part of the position.
inline constexpr uint64_t WRITE_POS_SEALED = uint64_t{1} << 63;
inline constexpr uint32_t HEADER_SIZE = 4096;
inline constexpr uint32_t MAX_RINGS = 16;
//! Readers one ring can have at once (ReaderControl lines per ring).
inline constexpr uint32_t MAX_READERS = 8;
//! Bytes of one lease's cursor memory: a CursorSlot per possible ring.
inline constexpr uint32_t LEASE_CURSORS_SIZE = 4096;
inline constexpr uint32_t RING_NAME_SIZE = 24;
inline constexpr uint32_t SEGMENT_NAME_SIZE = 64;
inline constexpr uint32_t RECORD_ALIGN = 8;
inline constexpr uint32_t RECORD_HEADER_SIZE = 32;
//! Smallest and largest ring data area (both powers of two).
inline constexpr uint64_t MIN_RING_CAPACITY = 4096;
inline constexpr uint64_t MAX_RING_CAPACITY = uint64_t{1} << 32;
//! A record may use at most capacity / MAX_RECORD_DIVISOR bytes.
inline constexpr uint64_t MAX_RECORD_DIVISOR = 8;
//! Alignment of the schema in the main object (FlatBuffers read scalars in place), and the
//! largest schema a consumer accepts.
inline constexpr uint64_t SCHEMA_ALIGN = 16;
inline constexpr uint64_t MAX_SCHEMA_SIZE = uint64_t{1} << 20;
//! The longest a lossless reader may make a writer wait for room for one event (the
//! producer refuses more: the node must not stall longer), and the default wait.
//! schemas/control.capnp repeats both; src/producer/control_server.cpp asserts they agree.
inline constexpr uint32_t MAX_LOSSLESS_WAIT_MS = 10'000;
inline constexpr uint32_t DEFAULT_LOSSLESS_WAIT_MS = 100;

// std::endian is C++20; this header also serves C++17 embedders, and every compiler
// tracering supports defines __BYTE_ORDER__.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "tracering's shared memory and files are little-endian; this platform is not");

//! Clock ids in `SegmentHeader::clock_id`.
enum class ClockId : uint32_t {
    Unknown = 0,
    Monotonic = 1, //!< CLOCK_MONOTONIC nanoseconds (POSIX) or steady_clock elsewhere.
    //! CLOCK_MONOTONIC nanoseconds interpolated from the CPU's invariant time-stamp counter,
    //! re-anchored to CLOCK_MONOTONIC every second by slewing the rate (never stepping), and
    //! kept within CLOCK_ERROR_BOUND_NS of it or abandoned for Monotonic (see
    //! SegmentHeader::clock_source): same timeline as Monotonic.
    MonotonicTsc = 2,
};

//! Most an event timestamp of a TSC clock may differ from CLOCK_MONOTONIC: measured at each
//! re-anchor, and the clock falls back to Monotonic for good if it is exceeded. Published in
//! SegmentHeader::clock_error_bound_ns (tools show that value, not this one).
inline constexpr uint64_t CLOCK_ERROR_BOUND_NS = 100'000;
//! Most the TSC of any CPU the producer may run on may differ from the calibrated line at
//! start (ClockReason::NotSynchronised): a tenth of CLOCK_ERROR_BOUND_NS, so a clock that
//! starts stays well inside that bound.
inline constexpr uint64_t TSC_SYNC_BOUND_NS = CLOCK_ERROR_BOUND_NS / 10;

//! `SegmentHeader::clock_reason`: why timestamps come from CLOCK_MONOTONIC (and not the TSC).
enum class ClockReason : uint32_t {
    None = 0,         //!< the TSC is in use (or the producer predates this field)
    Requested = 1,    //!< the embedder asked for Monotonic (ProducerOptions::clock)
    Unsupported = 2,  //!< not x86-64 Linux: no TSC to use
    NotInvariant = 3, //!< CPUID says the TSC does not tick at a constant rate
    //! The kernel listed `tsc` among its usable clocksources when the producer started and
    //! no longer does (its watchdog found the TSC unstable). A kernel that never listed it
    //! (booted with tsc=unstable, as some VMs are) is no reason: the producer checks the TSC
    //! on every CPU itself (NotSynchronised, and the fallbacks below).
    KernelUnstable = 4,
    CalibrationFailed = 5, //!< the TSC did not advance while CLOCK_MONOTONIC did, or the
                           //!< TSC could not be checked on every CPU
    //! Fallbacks, once the TSC was in use (SegmentHeader::clock_fallback_ns says when):
    ErrorBound = 6, //!< the interpolation strayed more than clock_error_bound_ns
    RateJump = 7,   //!< the TSC's rate changed (a live migration to another host)
    Backwards = 8,  //!< the TSC went backwards
    //! At start, the TSC of a CPU the process may run on was more than TSC_SYNC_BOUND_NS off
    //! the calibrated line: the CPUs' TSCs are not synchronised.
    NotSynchronised = 9,
};

//! `SegmentHeader::producer_state`.
enum class ProducerState : uint32_t {
    Creating = 0, //!< header not yet complete
    Running = 1,
    Exited = 2, //!< the producer shut down cleanly (the objects are normally unlinked too)
};

//! Record header `flags` bits.
enum RecordFlags : uint16_t {
    //! One or more events of this ring were dropped (for any cause) between the previous
    //! record and this one; the gap in `seq` says how many.
    RECORD_FLAG_LOSS_PRECEDES = 1 << 0,
    //! A payload field was cut to the reader's payload limit; the event keeps the original
    //! length in its own size field.
    RECORD_FLAG_TRUNCATED = 1 << 1,
};

//! Stability promised for a ring's events.
enum class Stability : uint16_t {
    Unknown = 0,
    Experimental = 1, //!< may change without notice
    SemiStable = 2,   //!< Bitcoin Core's promise for tracepoints: arguments only added
};

//! A ring's entry in the header's table. Written once by the producer before
//! `SegmentHeader::abi_version` is published; never changes afterwards.
struct RingDescriptor {
    char name[RING_NAME_SIZE]; //!< NUL-terminated, e.g. "net"
    uint16_t subsystem;        //!< tracering::Subsystem value
    uint16_t stability;        //!< tracering::Stability value
    uint32_t index;            //!< position in the table, == index of its RingControl
    uint64_t capacity;         //!< data bytes, a power of two in [MIN, MAX]_RING_CAPACITY
    uint64_t control_offset;   //!< offset of this ring's RingControl in the main object
    uint64_t data_offset;      //!< offset of this ring's data area in the main object
    uint64_t max_record;       //!< largest record in bytes: capacity / MAX_RECORD_DIVISOR
    //! Offset of this ring's `SegmentHeader::max_readers` ReaderControl lines.
    uint64_t readers_offset;
};

//! First page of the main object.
//!
//! Memory ordering: the producer fills every field, then release-stores `abi_version`.
//! A consumer acquire-loads `abi_version` first; a value of 0 means "still being created" and
//! every other field must be ignored. All fields but `abi_version`, `producer_state` and the
//! clock's state (`clock_source` to `clock_fallback_ns`) are immutable once published.
struct SegmentHeader {
    uint64_t magic; //!< MAGIC; written first
    //! Producer-owned. ABI_VERSION once the header is complete, 0 before.
    //! Writer: Producer::Create(), release store, after every other header field and the
    //! ring table. Readers: Consumer::Open(), acquire load (pairs with that store).
    std::atomic<uint32_t> abi_version;
    //! Producer-owned. ProducerState. Writer: the producer, release store (Running after
    //! abi_version; Exited at clean shutdown, after every ring stopped writing, so it
    //! publishes each ring's final `write_pos`). Readers: consumers, acquire load; a reader
    //! at the end of its ring that sees Exited reloads `write_pos` and drains to it.
    std::atomic<uint32_t> producer_state;
    uint32_t header_size;        //!< HEADER_SIZE
    uint32_t page_size;          //!< the producer's page size
    uint64_t segment_size;       //!< bytes of the main object
    uint64_t lease_cursors_size; //!< bytes of a lease's cursor memory (LEASE_CURSORS_SIZE)
    //! Identifies the schemas the producer was built with (a hash of schemas/*.fbs): shown
    //! and stored in captures; compatibility is decided by the schema itself, not this.
    uint64_t schema_hash;
    uint64_t producer_pid;
    //! Producer start time in the OS's own unit (Linux: clock ticks since boot, field 22 of
    //! /proc/<pid>/stat), 0 if unknown. With the pid it forms a generation: a live process with
    //! the same pid but another start time is not this producer.
    uint64_t producer_start_time;
    //! ClockId of the timeline of record timestamps (Monotonic, or MonotonicTsc when the TSC
    //! was chosen at creation); stays so after a fallback. `clock_source` says what is read now.
    uint32_t clock_id;
    uint32_t ring_count;          //!< entries used in `rings`, <= MAX_RINGS
    int64_t clock_offset_ns;      //!< UNIX time minus clock time at creation, ns
    uint64_t created_unix_ns;     //!< UNIX time of creation, ns
    char name[SEGMENT_NAME_SIZE]; //!< NUL-terminated segment name (without "tracering.")
    uint32_t max_readers;         //!< ReaderControl lines per ring, <= MAX_READERS
    uint32_t reserved32;
    //! Where the producer's binary schema (.bfbs) lies in the main object: SCHEMA_ALIGN
    //! aligned, after the reader lines and before the first ring's data, at most
    //! MAX_SCHEMA_SIZE bytes. Immutable, like the rest of the header.
    uint64_t schema_offset;
    uint64_t schema_size;
    // The clock's state. Writer: the producer's RingClock (at creation, before abi_version;
    // then its re-anchoring thread alone). Readers: tools, for display (Consumer::Clock()).
    // Zero in a segment of a producer older than these fields (clock_source Unknown).
    //! ClockId read now: MonotonicTsc, or Monotonic (from the start, or after a fallback).
    //! Written relaxed except the fallback's store of Monotonic, a release store after
    //! `clock_reason` and `clock_fallback_ns`; readers acquire-load it first.
    std::atomic<uint32_t> clock_source;
    //! ClockReason: why clock_source is Monotonic (None while the TSC is used). Relaxed.
    std::atomic<uint32_t> clock_reason;
    //! TSC ticks per second as calibrated against CLOCK_MONOTONIC, refined at each
    //! re-anchor; 0 when the TSC was never used. Relaxed.
    std::atomic<uint64_t> tsc_hz;
    //! CLOCK_ERROR_BOUND_NS of the producer: immutable, set before abi_version.
    uint64_t clock_error_bound_ns;
    //! Largest |interpolation - CLOCK_MONOTONIC| measured at a re-anchor or on any CPU at
    //! start, ns. Relaxed.
    std::atomic<uint64_t> clock_max_error_ns;
    //! The last re-anchor's interpolation minus CLOCK_MONOTONIC, ns (signed). Relaxed.
    std::atomic<int64_t> clock_last_error_ns;
    //! Re-anchors to CLOCK_MONOTONIC so far. Relaxed, stored after the two errors.
    std::atomic<uint64_t> clock_reanchors;
    //! CLOCK_MONOTONIC time of the fallback from the TSC, 0 if none. Relaxed, before the
    //! release store of clock_source.
    std::atomic<uint64_t> clock_fallback_ns;
    //! Random with bit 62 set, chosen at creation: a complete record at position `pos` has
    //! RecordHeader::commit == pos ^ commit_key. Immutable, like the rest of the header.
    uint64_t commit_key;
    uint64_t reserved[5];
    RingDescriptor rings[MAX_RINGS];
};

//! The producer's line for one ring in the main object. Consumers only read it.
//!
//! Memory ordering: several node threads write one ring at once (see RingWriter in
//! src/producer/ring_writer.h for the protocol). A record is published by the release store
//! of its own commit word (RecordHeader::commit), not by anything here. The counters are
//! statistics: writers add to them (relaxed RMW, on drop paths only) or store them (relaxed);
//! readers load them relaxed.
struct RingControl {
    //! The reservation word, `write_pos` and `seq` together: writers move both at once with
    //! one 16-byte compare-and-swap of the pair (RingWriter::Write(), Drop(), Seal()), which
    //! orders the ring's records by sequence number. Readers load each half on its own.
    //!
    //! `write_pos`: bytes ever reserved by writers, one past the last record that is complete
    //! or being written, with WRITE_POS_SEALED set once the producer sealed the ring (no
    //! reservation succeeds after that; readers mask it off). Readers: RingReader::Next(),
    //! acquire, only when the record at its position is not complete, to tell "nothing
    //! reserved yet" from "a record is being written"; tools, for backlogs.
    //! Invariant (once writers pause): read_pos <= write_pos <= read_pos + capacity for every
    //! attached reader.
    alignas(CACHE_LINE) std::atomic<uint64_t> write_pos;
    //! Events ever attempted (written or dropped) on this ring: the sequence number of the
    //! next one. Readers: tools, relaxed (statistics).
    std::atomic<uint64_t> seq;
    //! Incremented each time a reader is added to or removed from this ring.
    //! Writer: RingWriter (AddReader, RemoveReader), relaxed. Readers: tools, relaxed
    //! (display only: a reader follows its own ReaderControl::generation).
    std::atomic<uint64_t> generation;
    //! Readers attached now. Writer: RingWriter, relaxed. Readers: tools, relaxed.
    std::atomic<uint32_t> reader_count;
    //! Of them, readers that asked for lossless delivery and were not downgraded.
    std::atomic<uint32_t> lossless_readers;
    //! Events dropped because the ring was full (for the slowest reader).
    std::atomic<uint64_t> dropped_full;
    //! Events dropped because the record would exceed `max_record`.
    std::atomic<uint64_t> dropped_too_big;
    //! Events dropped because the last reader was detached while they were being written.
    std::atomic<uint64_t> dropped_reader_reset;
    //! Events dropped in lossless mode after waiting the whole bounded wait, or without
    //! waiting while the reader has not moved since such a wait timed out.
    std::atomic<uint64_t> dropped_timeout;
    //! Invalid `read_pos` values seen; each one detaches the reader that wrote it.
    std::atomic<uint64_t> cursor_violations;
    //! Events whose payload was cut to the readers' payload limit (delivered, flagged).
    std::atomic<uint64_t> truncated;
    //! Bytes of payload written at most per event, 0 = no limit: the largest limit any
    //! reader asked for (0 if one asked for none). Writer: RingWriter, relaxed. Readers: relaxed.
    std::atomic<uint64_t> payload_limit;
    //! Bit i set: event type (ring's first type + i) is written (some reader asked for it).
    //! Writer: RingWriter, relaxed. Readers: relaxed (display only).
    std::atomic<uint64_t> event_mask;
    //! 1 while the ring has a reader, 0 otherwise. Writer: RingWriter, release. Readers: acquire.
    std::atomic<uint32_t> enabled;
    uint32_t reserved32;
    //! Lossless readers downgraded to dropping because their waits used up the lease's
    //! budget (ProducerOptions::lossless_budget_ms). Writer: RingWriter, relaxed.
    std::atomic<uint64_t> lossless_downgrades;
    //! Readers detached because they kept the ring full longer than
    //! ProducerOptions::slow_reader_ms while another reader had room. Writer: RingWriter.
    std::atomic<uint64_t> readers_evicted;
    uint64_t reserved64;

    //! The reservation as the latest drop left it (a drop takes a sequence number and no
    //! space): every event numbered below `drop_seq` was dropped or is a record that ends at
    //! or before `drop_pos`. So a reader whose position is at or past `drop_pos` has lost
    //! exactly the events below `drop_seq` it has not seen, and no record still being written
    //! is among them (RingReader::UnreportedLost()). Both 0 until the first drop.
    //! Writer: RingWriter::PublishDrop(), after the drop's reservation, one 16-byte
    //! compare-and-swap of the pair that only moves it forward (a writer whose drop is older
    //! than the published one leaves it). Readers: RingReader::UnreportedLost(), through
    //! std::atomic_ref: acquire-load drop_seq, then drop_pos, then drop_seq again; two equal
    //! drop_seq give the drop_pos published with it (drop_seq only grows). On a line of its
    //! own, which writers store to only when they drop, so a reader's look never takes the
    //! line above from them.
    alignas(CACHE_LINE) uint64_t drop_pos;
    uint64_t drop_seq;
    uint64_t reserved_drop[14];
};

//! `ReaderControl::state`.
enum class ReaderState : uint32_t {
    Free = 0,     //!< never used
    Reading = 1,  //!< a reader holds this slot
    Detached = 2, //!< its reader was detached; `detach_reason` says why
};

//! `ReaderControl::detach_reason`.
enum class DetachReason : uint32_t {
    None = 0,
    LeaseEnded = 1,      //!< the lease was released, or its connection closed
    CursorViolation = 2, //!< the reader wrote an invalid read_pos
    SlowReader = 3,      //!< it kept the ring full while another reader had room
};

//! The producer's line for one reader slot of one ring, in the main object. Consumers only
//! read it; the producer never reads it back (its lease table is the truth).
//!
//! Memory ordering: the producer writes every field of a slot it hands out, then
//! release-stores `generation`; a reader acquire-loads `generation` and, while it equals the
//! one its lease was granted, owns the slot. Detaching a reader: `state` and `detach_reason`
//! (relaxed), then `generation` + 1 (release). The line is written only when a reader is
//! added or removed (and `downgraded`/`waited_ns` on a lossless slow path), never per event,
//! so a reader may load `generation` for every record it reads.
struct ReaderControl {
    //! Writer: RingWriter::AddReader/RemoveReader, release store. Readers: RingReader,
    //! acquire load at open and before handing out each record.
    alignas(CACHE_LINE) std::atomic<uint64_t> generation;
    std::atomic<uint32_t> state;         //!< ReaderState; relaxed, before `generation`
    std::atomic<uint32_t> detach_reason; //!< DetachReason; relaxed, before `generation`
    // Set when the slot is handed out, relaxed, before `generation` (atomics only so that
    // tools may display them while a slot changes hands).
    std::atomic<uint64_t> attach_pos;    //!< write_pos when the reader was added: its start
    std::atomic<uint64_t> attach_seq;    //!< seq when the reader was added: its first seq
    std::atomic<uint64_t> event_mask;    //!< the events it asked for (bit i as in RingControl)
    std::atomic<uint64_t> payload_limit; //!< the payload limit it asked for, 0 = none
    std::atomic<uint32_t> lossless;      //!< 1 when it asked for lossless delivery
    //! 1 once this reader's lease used up its lossless budget: the ring drops instead of
    //! waiting for it. Writer: RingWriter, relaxed. Readers: relaxed.
    std::atomic<uint32_t> downgraded;
    std::atomic<uint64_t> reader_pid; //!< the lease holder's pid (SO_PEERCRED), informational
    std::atomic<uint64_t> reader_uid; //!< the lease holder's uid (SO_PEERCRED), informational
    //! Nanoseconds the ring's writers waited for this reader (lossless). Writer: RingWriter,
    //! relaxed. Readers: relaxed (statistics).
    std::atomic<uint64_t> waited_ns;
    //! The reader's last valid `read_pos` as the producer saw it. Writer: RingWriter,
    //! relaxed. Readers: tools, relaxed (display).
    std::atomic<uint64_t> read_pos_seen;
    uint64_t reserved[5];
};

//! A consumer's line for one ring in its lease's cursor memory. The producer treats it as
//! hostile.
struct CursorSlot {
    //! Consumer-owned. Bytes ever consumed from this ring.
    //! Writer: RingReader::Release(), release store after it finished reading the records
    //! below it (so the producer never overwrites bytes still being read); the producer
    //! writes it once, before handing the memory over. Reader: RingWriter, acquire load
    //! (pairs with the consumer's store), only when its cached copy says the ring is full;
    //! each value is validated: 8-aligned and cached read_pos <= read_pos <= write_pos. A bad
    //! value detaches this reader only.
    alignas(CACHE_LINE) std::atomic<uint64_t> read_pos;
    //! Consumer-owned. Clock time (SegmentHeader::clock_id) of the reader's last Release()
    //! that gave space back; the producer sets the attach time first. Readers: the producer's
    //! Stats(), relaxed, for display only.
    std::atomic<uint64_t> heartbeat_ns;
    uint64_t reserved[14];
};

//! The fixed header in front of every record.
struct RecordHeader {
    //! `position ^ SegmentHeader::commit_key` once the record (or padding) at `position` is
    //! complete; anything else means not yet (an older lap's bytes never match: their
    //! position differs; bytes never written are zero, and commit_key has bit 62 set, which
    //! no position reaches). Writer: RingWriter::Write(), cleared right after the space is
    //! reserved, then a release store after every other byte of the record. Readers:
    //! RingReader::Next(), acquire load before reading the record; RingWriter::Seal().
    uint64_t commit;
    uint32_t length; //!< header + payload bytes (not counting alignment padding)
    uint16_t type;   //!< tracering::EventType; 0 = padding
    uint16_t flags;  //!< RecordFlags
    uint64_t seq;    //!< ring-wide sequence number of this event
    //! SegmentHeader::clock_id time, read by the writer while it reserved the space: in ring
    //! order up to how early a CPU executes the counter read (nanoseconds); RingReader hands
    //! out each record's as at least its predecessor's.
    uint64_t timestamp_ns;
};

//! Whether the record (or padding) whose bytes start at `at`, at ring position `pos`, is
//! complete: its commit word (RecordHeader::commit, acquire load, pairing with the writer's
//! release store) is `pos ^ commit_key`. The one test readers (RingReader::Next) and the
//! producer (RingWriter::WaitCommitted) apply before they look at a record.
inline bool RecordCommitted(const void* at, uint64_t pos, uint64_t commit_key) noexcept
{
    return __atomic_load_n(static_cast<const uint64_t*>(at), __ATOMIC_ACQUIRE) ==
           (pos ^ commit_key);
}

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(std::atomic<int64_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<uint64_t>) == 8 && alignof(std::atomic<uint64_t>) == 8);
static_assert(sizeof(std::atomic<uint32_t>) == 4);

static_assert(std::is_standard_layout_v<RingDescriptor>);
static_assert(sizeof(RingDescriptor) == 72);
static_assert(offsetof(RingDescriptor, subsystem) == 24);
static_assert(offsetof(RingDescriptor, stability) == 26);
static_assert(offsetof(RingDescriptor, index) == 28);
static_assert(offsetof(RingDescriptor, capacity) == 32);
static_assert(offsetof(RingDescriptor, control_offset) == 40);
static_assert(offsetof(RingDescriptor, data_offset) == 48);
static_assert(offsetof(RingDescriptor, max_record) == 56);
static_assert(offsetof(RingDescriptor, readers_offset) == 64);

static_assert(std::is_standard_layout_v<SegmentHeader>);
static_assert(offsetof(SegmentHeader, magic) == 0);
static_assert(offsetof(SegmentHeader, abi_version) == 8);
static_assert(offsetof(SegmentHeader, producer_state) == 12);
static_assert(offsetof(SegmentHeader, header_size) == 16);
static_assert(offsetof(SegmentHeader, page_size) == 20);
static_assert(offsetof(SegmentHeader, segment_size) == 24);
static_assert(offsetof(SegmentHeader, lease_cursors_size) == 32);
static_assert(offsetof(SegmentHeader, schema_hash) == 40);
static_assert(offsetof(SegmentHeader, producer_pid) == 48);
static_assert(offsetof(SegmentHeader, producer_start_time) == 56);
static_assert(offsetof(SegmentHeader, clock_id) == 64);
static_assert(offsetof(SegmentHeader, ring_count) == 68);
static_assert(offsetof(SegmentHeader, clock_offset_ns) == 72);
static_assert(offsetof(SegmentHeader, created_unix_ns) == 80);
static_assert(offsetof(SegmentHeader, name) == 88);
static_assert(offsetof(SegmentHeader, max_readers) == 152);
static_assert(offsetof(SegmentHeader, schema_offset) == 160);
static_assert(offsetof(SegmentHeader, schema_size) == 168);
static_assert(offsetof(SegmentHeader, clock_source) == 176);
static_assert(offsetof(SegmentHeader, clock_reason) == 180);
static_assert(offsetof(SegmentHeader, tsc_hz) == 184);
static_assert(offsetof(SegmentHeader, clock_error_bound_ns) == 192);
static_assert(offsetof(SegmentHeader, clock_max_error_ns) == 200);
static_assert(offsetof(SegmentHeader, clock_last_error_ns) == 208);
static_assert(offsetof(SegmentHeader, clock_reanchors) == 216);
static_assert(offsetof(SegmentHeader, clock_fallback_ns) == 224);
static_assert(offsetof(SegmentHeader, commit_key) == 232);
static_assert(offsetof(SegmentHeader, reserved) == 240);
static_assert(offsetof(SegmentHeader, rings) == 280);
static_assert(sizeof(SegmentHeader) == 280 + MAX_RINGS * sizeof(RingDescriptor));
static_assert(sizeof(SegmentHeader) <= HEADER_SIZE);

static_assert(std::is_standard_layout_v<RingControl>);
static_assert(sizeof(RingControl) == 2 * CACHE_LINE);
static_assert(offsetof(RingControl, drop_pos) == CACHE_LINE);
static_assert(offsetof(RingControl, drop_seq) == CACHE_LINE + 8);
static_assert(alignof(RingControl) == CACHE_LINE);
static_assert(offsetof(RingControl, write_pos) == 0); // the reservation word: 16-aligned,
static_assert(offsetof(RingControl, seq) == 8);       // seq right after write_pos
static_assert(offsetof(RingControl, generation) == 16);
static_assert(offsetof(RingControl, reader_count) == 24);
static_assert(offsetof(RingControl, lossless_readers) == 28);
static_assert(offsetof(RingControl, dropped_full) == 32);
static_assert(offsetof(RingControl, dropped_too_big) == 40);
static_assert(offsetof(RingControl, dropped_reader_reset) == 48);
static_assert(offsetof(RingControl, dropped_timeout) == 56);
static_assert(offsetof(RingControl, cursor_violations) == 64);
static_assert(offsetof(RingControl, truncated) == 72);
static_assert(offsetof(RingControl, payload_limit) == 80);
static_assert(offsetof(RingControl, event_mask) == 88);
static_assert(offsetof(RingControl, enabled) == 96);
static_assert(offsetof(RingControl, lossless_downgrades) == 104);
static_assert(offsetof(RingControl, readers_evicted) == 112);
static_assert(offsetof(RingControl, reserved64) == 120);

static_assert(std::is_standard_layout_v<ReaderControl>);
static_assert(sizeof(ReaderControl) == CACHE_LINE);
static_assert(alignof(ReaderControl) == CACHE_LINE);
static_assert(offsetof(ReaderControl, generation) == 0);
static_assert(offsetof(ReaderControl, state) == 8);
static_assert(offsetof(ReaderControl, detach_reason) == 12);
static_assert(offsetof(ReaderControl, attach_pos) == 16);
static_assert(offsetof(ReaderControl, attach_seq) == 24);
static_assert(offsetof(ReaderControl, event_mask) == 32);
static_assert(offsetof(ReaderControl, payload_limit) == 40);
static_assert(offsetof(ReaderControl, lossless) == 48);
static_assert(offsetof(ReaderControl, downgraded) == 52);
static_assert(offsetof(ReaderControl, reader_pid) == 56);
static_assert(offsetof(ReaderControl, reader_uid) == 64);
static_assert(offsetof(ReaderControl, waited_ns) == 72);
static_assert(offsetof(ReaderControl, read_pos_seen) == 80);

static_assert(std::is_standard_layout_v<CursorSlot>);
static_assert(sizeof(CursorSlot) == CACHE_LINE);
static_assert(alignof(CursorSlot) == CACHE_LINE);
static_assert(offsetof(CursorSlot, read_pos) == 0);
static_assert(offsetof(CursorSlot, heartbeat_ns) == 8);
static_assert(MAX_RINGS * sizeof(CursorSlot) <= LEASE_CURSORS_SIZE);

static_assert(std::is_standard_layout_v<RecordHeader>);
static_assert(sizeof(RecordHeader) == RECORD_HEADER_SIZE);
static_assert(offsetof(RecordHeader, commit) == 0);
static_assert(offsetof(RecordHeader, length) == 8);
static_assert(offsetof(RecordHeader, type) == 12);
static_assert(offsetof(RecordHeader, flags) == 14);
static_assert(offsetof(RecordHeader, seq) == 16);
static_assert(offsetof(RecordHeader, timestamp_ns) == 24);

//! Offset of ring `index`'s control line in the main object.
constexpr uint64_t RingControlOffset(uint32_t index) noexcept
{
    return HEADER_SIZE + uint64_t{index} * sizeof(RingControl);
}

//! Offset of ring `ring`'s ReaderControl line `slot` in the main object.
constexpr uint64_t ReaderControlOffset(uint32_t ring_count, uint32_t ring, uint32_t slot,
                                       uint32_t max_readers) noexcept
{
    return RingControlOffset(ring_count) +
           (uint64_t{ring} * max_readers + slot) * sizeof(ReaderControl);
}

//! Bytes of a record of `length` bytes including its alignment padding.
constexpr uint64_t AlignedRecordSize(uint64_t length) noexcept
{
    return (length + (RECORD_ALIGN - 1)) & ~uint64_t{RECORD_ALIGN - 1};
}

constexpr bool IsPowerOfTwo(uint64_t v) noexcept { return v != 0 && (v & (v - 1)) == 0; }

} // namespace tracering

#endif // TRACERING_ABI_H
