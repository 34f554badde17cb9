// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_ABI_H
#define TRACERING_ABI_H

//! @file
//! The shared-memory ABI of tracering: a long-term stable, versioned layout.
//!
//! A producer (the node) creates two POSIX shared-memory objects:
//!
//!     tracering.<name>            mapped read-write by the producer, read-only by consumers
//!     +-------------------------+ offset 0
//!     | SegmentHeader (4 KiB)   |  magic, abi_version (stored last), schema hash, producer
//!     |   RingDescriptor[16]    |  pid + start time, clock, ring table
//!     +-------------------------+ HEADER_SIZE
//!     | RingControl[ring_count] |  one 128-byte producer line per ring: write_pos, seq,
//!     |                         |  generation, drop counters by cause
//!     +-------------------------+ page aligned
//!     | ring 0 data (2^k bytes) |  records, written once by the producer
//!     | ring 1 data ...         |
//!     +-------------------------+
//!
//!     tracering.<name>.cursors    the only memory a consumer can write
//!     +-------------------------+
//!     | CursorSlot[ring_count]  |  one 128-byte line per ring: read_pos, heartbeat, reader pid
//!     +-------------------------+
//!
//! Who writes what:
//!  - The producer writes everything in the main object. It never reads anything a consumer
//!    wrote except `CursorSlot::read_pos`, and only through `RingWriter`, which validates it.
//!  - A consumer writes only its own `CursorSlot`. It treats every byte of the main object as
//!    untrusted input: each offset and length is bounds-checked before use.
//!
//! Rules for this file: fixed-width integers only (no size_t, pointers or bool), little-endian,
//! offsets instead of pointers, every offset and size asserted below. Fields are only ever
//! added in reserved space; any change of meaning bumps ABI_VERSION.
//!
//! Records inside a ring's data area are 8-byte aligned:
//!
//!     [u32 length][u16 type][u16 flags][u64 seq][u64 timestamp_ns][payload: a FlatBuffer]
//!
//! `length` counts the header and the payload, not the alignment padding after it; the next
//! record starts at the next multiple of 8. Type 0 is a padding record that fills the space up
//! to the end of the data area where a record would not fit; only its `length` and `type` are
//! meaningful and it may be as short as 8 bytes. A record is at most `capacity / 8` bytes.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace tracering {

inline constexpr uint64_t MAGIC = 0x31474e4952435254; // "TRCRING1" read as little-endian bytes
inline constexpr uint32_t ABI_VERSION = 1;
inline constexpr uint32_t CACHE_LINE = 128;
inline constexpr uint32_t HEADER_SIZE = 4096;
inline constexpr uint32_t MAX_RINGS = 16;
inline constexpr uint32_t RING_NAME_SIZE = 24;
inline constexpr uint32_t SEGMENT_NAME_SIZE = 64;
inline constexpr uint32_t RECORD_ALIGN = 8;
inline constexpr uint32_t RECORD_HEADER_SIZE = 24;
inline constexpr uint32_t MIN_PADDING_SIZE = 8;
//! Smallest and largest ring data area (both powers of two).
inline constexpr uint64_t MIN_RING_CAPACITY = 4096;
inline constexpr uint64_t MAX_RING_CAPACITY = uint64_t{1} << 32;
//! A record may use at most capacity / MAX_RECORD_DIVISOR bytes.
inline constexpr uint64_t MAX_RECORD_DIVISOR = 8;

//! Clock ids in `SegmentHeader::clock_id`.
enum class ClockId : uint32_t {
    Unknown = 0,
    Monotonic = 1, //!< CLOCK_MONOTONIC nanoseconds (POSIX) or steady_clock elsewhere.
    //! CLOCK_MONOTONIC nanoseconds interpolated from the CPU's invariant time-stamp counter
    //! and re-anchored to CLOCK_MONOTONIC at least every 50 ms: same timeline as Monotonic.
    MonotonicTsc = 2,
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
    uint32_t index;            //!< position in the table, == index of its RingControl/CursorSlot
    uint64_t capacity;         //!< data bytes, a power of two in [MIN, MAX]_RING_CAPACITY
    uint64_t control_offset;   //!< offset of this ring's RingControl in the main object
    uint64_t data_offset;      //!< offset of this ring's data area in the main object
    uint64_t max_record;       //!< largest record in bytes: capacity / MAX_RECORD_DIVISOR
    uint64_t reserved[1];
};

//! First page of the main object.
//!
//! Memory ordering: the producer fills every field, then release-stores `abi_version`.
//! A consumer acquire-loads `abi_version` first; a value of 0 means "still being created" and
//! every other field must be ignored. All fields but `abi_version` and `producer_state` are
//! immutable once published.
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
    uint32_t header_size;  //!< HEADER_SIZE
    uint32_t page_size;    //!< the producer's page size
    uint64_t segment_size; //!< bytes of the main object
    uint64_t cursors_size; //!< bytes of the cursors object
    uint64_t schema_hash;  //!< hash of schemas/*.fbs the producer was built with
    uint64_t producer_pid;
    //! Producer start time in the OS's own unit (Linux: clock ticks since boot, field 22 of
    //! /proc/<pid>/stat), 0 if unknown. With the pid it forms a generation: a live process with
    //! the same pid but another start time is not this producer.
    uint64_t producer_start_time;
    uint32_t clock_id;            //!< ClockId of record timestamps
    uint32_t ring_count;          //!< entries used in `rings`, <= MAX_RINGS
    int64_t clock_offset_ns;      //!< UNIX time minus clock time at creation, ns
    uint64_t created_unix_ns;     //!< UNIX time of creation, ns
    char name[SEGMENT_NAME_SIZE]; //!< NUL-terminated segment name (without "tracering.")
    uint64_t reserved[16];
    RingDescriptor rings[MAX_RINGS];
};

//! The producer's line for one ring in the main object. Consumers only read it.
//!
//! Memory ordering: everything a record holds is written before the release store of
//! `write_pos` that covers it; a consumer that acquire-loads `write_pos` may read every byte
//! below it. The counters are statistics: single writer (the ring's writer lock is held),
//! relaxed stores; readers load them relaxed.
struct RingControl {
    //! Bytes ever committed to this ring; one past the last whole record.
    //! Writer: RingWriter (Commit and Reset), release store, after the record header and
    //! payload. Readers: RingReader::Poll(), acquire load (pairs with that store).
    //! Invariant: read_pos <= write_pos <= read_pos + capacity for a well-behaved reader.
    alignas(CACHE_LINE) std::atomic<uint64_t> write_pos;
    //! Events ever attempted (written or dropped) on this ring; the next record's seq.
    //! Writer: RingWriter, relaxed store. Readers: relaxed load (statistics).
    std::atomic<uint64_t> seq;
    //! Incremented each time the ring is attached or reset, so a reader learns that its
    //! position is void. Writer: Producer::EnableRing()/RingWriter::Reset(), release store
    //! after `attach_seq` and the reset cursor. Readers: RingReader, acquire load, before and
    //! after reading records.
    std::atomic<uint64_t> generation;
    //! `seq` when the current generation began; events before it are not the reader's loss.
    //! Writer: as `generation`, relaxed store before it. Reader: after acquiring `generation`.
    std::atomic<uint64_t> attach_seq;
    //! Events dropped because the ring was full.
    std::atomic<uint64_t> dropped_full;
    //! Events dropped because the record would exceed `max_record`.
    std::atomic<uint64_t> dropped_too_big;
    //! Events dropped because the reader was detached while they were being written.
    std::atomic<uint64_t> dropped_reader_reset;
    //! Events dropped in lossless mode after waiting the whole bounded wait, or without
    //! waiting while the reader has not moved since such a wait timed out.
    std::atomic<uint64_t> dropped_timeout;
    //! Invalid `read_pos` values seen; each one detaches the reader.
    std::atomic<uint64_t> cursor_violations;
    //! Events whose payload was cut to the reader's payload limit (delivered, flagged).
    std::atomic<uint64_t> truncated;
    //! Bytes of payload the current reader asked for at most per event, 0 = no limit.
    //! Writer: Producer::EnableRing(), relaxed, before `generation`. Readers: relaxed.
    std::atomic<uint64_t> payload_limit;
    //! Bit i set: event type (ring's first type + i) is enabled.
    //! Writer: Producer, relaxed. Readers: relaxed (display only).
    std::atomic<uint64_t> event_mask;
    //! 1 while enabled, 0 otherwise. Writer: Producer, release. Readers: acquire.
    std::atomic<uint32_t> enabled;
    //! 1 when the current reader asked for lossless delivery (bounded wait).
    std::atomic<uint32_t> lossless;
    //! Process id of the reader the producer attached, 0 if none (informational).
    std::atomic<uint64_t> reader_pid;
    //! `write_pos` when the current generation began: where its reader starts.
    //! Writer: as `attach_seq`. Reader: as `attach_seq`.
    std::atomic<uint64_t> attach_pos;
};

//! A consumer's line for one ring in the cursors object. The producer treats it as hostile.
struct CursorSlot {
    //! Consumer-owned. Bytes ever consumed from this ring.
    //! Writer: RingReader::Poll(), release store after it finished reading the records below
    //! it (so the producer never overwrites bytes still being read); also
    //! Producer::EnableRing()/Reset() when (re)starting the ring, under the writer lock.
    //! Reader: RingWriter, acquire load (pairs with the consumer's store), only when its cached
    //! copy says the ring is full; each value is validated: 8-aligned and
    //! cached read_pos <= read_pos <= write_pos. A bad value detaches the reader.
    alignas(CACHE_LINE) std::atomic<uint64_t> read_pos;
    //! Consumer-owned. Clock time (SegmentHeader::clock_id) of the reader's last Release()
    //! that gave space back. Writers: RingReader, relaxed; Producer::EnableRing() sets the
    //! attach time, relaxed. Readers: Stats() on either side, relaxed, for display only.
    std::atomic<uint64_t> heartbeat_ns;
    //! Consumer-owned. The reading process's pid, informational.
    std::atomic<uint64_t> reader_pid;
    uint64_t reserved[13];
};

//! The fixed header in front of every record.
struct RecordHeader {
    uint32_t length;       //!< header + payload bytes (not counting alignment padding)
    uint16_t type;         //!< tracering::EventType; 0 = padding
    uint16_t flags;        //!< RecordFlags
    uint64_t seq;          //!< ring-wide sequence number of this event
    uint64_t timestamp_ns; //!< SegmentHeader::clock_id time, read after space was reserved
};

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);
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

static_assert(std::is_standard_layout_v<SegmentHeader>);
static_assert(offsetof(SegmentHeader, magic) == 0);
static_assert(offsetof(SegmentHeader, abi_version) == 8);
static_assert(offsetof(SegmentHeader, producer_state) == 12);
static_assert(offsetof(SegmentHeader, header_size) == 16);
static_assert(offsetof(SegmentHeader, page_size) == 20);
static_assert(offsetof(SegmentHeader, segment_size) == 24);
static_assert(offsetof(SegmentHeader, cursors_size) == 32);
static_assert(offsetof(SegmentHeader, schema_hash) == 40);
static_assert(offsetof(SegmentHeader, producer_pid) == 48);
static_assert(offsetof(SegmentHeader, producer_start_time) == 56);
static_assert(offsetof(SegmentHeader, clock_id) == 64);
static_assert(offsetof(SegmentHeader, ring_count) == 68);
static_assert(offsetof(SegmentHeader, clock_offset_ns) == 72);
static_assert(offsetof(SegmentHeader, created_unix_ns) == 80);
static_assert(offsetof(SegmentHeader, name) == 88);
static_assert(offsetof(SegmentHeader, reserved) == 152);
static_assert(offsetof(SegmentHeader, rings) == 280);
static_assert(sizeof(SegmentHeader) == 280 + MAX_RINGS * sizeof(RingDescriptor));
static_assert(sizeof(SegmentHeader) <= HEADER_SIZE);

static_assert(std::is_standard_layout_v<RingControl>);
static_assert(sizeof(RingControl) == CACHE_LINE);
static_assert(alignof(RingControl) == CACHE_LINE);
static_assert(offsetof(RingControl, write_pos) == 0);
static_assert(offsetof(RingControl, seq) == 8);
static_assert(offsetof(RingControl, generation) == 16);
static_assert(offsetof(RingControl, attach_seq) == 24);
static_assert(offsetof(RingControl, dropped_full) == 32);
static_assert(offsetof(RingControl, dropped_too_big) == 40);
static_assert(offsetof(RingControl, dropped_reader_reset) == 48);
static_assert(offsetof(RingControl, dropped_timeout) == 56);
static_assert(offsetof(RingControl, cursor_violations) == 64);
static_assert(offsetof(RingControl, truncated) == 72);
static_assert(offsetof(RingControl, payload_limit) == 80);
static_assert(offsetof(RingControl, event_mask) == 88);
static_assert(offsetof(RingControl, enabled) == 96);
static_assert(offsetof(RingControl, lossless) == 100);
static_assert(offsetof(RingControl, reader_pid) == 104);
static_assert(offsetof(RingControl, attach_pos) == 112);

static_assert(std::is_standard_layout_v<CursorSlot>);
static_assert(sizeof(CursorSlot) == CACHE_LINE);
static_assert(alignof(CursorSlot) == CACHE_LINE);
static_assert(offsetof(CursorSlot, read_pos) == 0);
static_assert(offsetof(CursorSlot, heartbeat_ns) == 8);
static_assert(offsetof(CursorSlot, reader_pid) == 16);

static_assert(std::is_standard_layout_v<RecordHeader>);
static_assert(sizeof(RecordHeader) == RECORD_HEADER_SIZE);
static_assert(offsetof(RecordHeader, length) == 0);
static_assert(offsetof(RecordHeader, type) == 4);
static_assert(offsetof(RecordHeader, flags) == 6);
static_assert(offsetof(RecordHeader, seq) == 8);
static_assert(offsetof(RecordHeader, timestamp_ns) == 16);

//! Offset of ring `index`'s control line in the main object.
constexpr uint64_t RingControlOffset(uint32_t index) noexcept
{
    return HEADER_SIZE + uint64_t{index} * sizeof(RingControl);
}

//! Bytes of a record of `length` bytes including its alignment padding.
constexpr uint64_t AlignedRecordSize(uint64_t length) noexcept
{
    return (length + (RECORD_ALIGN - 1)) & ~uint64_t{RECORD_ALIGN - 1};
}

constexpr bool IsPowerOfTwo(uint64_t v) noexcept { return v != 0 && (v & (v - 1)) == 0; }

} // namespace tracering

#endif // TRACERING_ABI_H
