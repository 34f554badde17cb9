// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_CONSUMER_H
#define TRACERING_CONSUMER_H

//! @file
//! Reading a producer's segment: open it (by name, or by the descriptor the control socket
//! hands over), open a reader with the grant of a lease, poll. Most consumers use
//! tracering/control.h, which does all of this; in-process, with a Producer:
//!
//!     auto lease = producer->Attach(tracering::Subsystem::Net);    // a reader slot
//!     auto consumer = tracering::Consumer::Open("node");            // checks magic/ABI/schema
//!     auto reader = (*consumer)->OpenReader("net", (*lease)->Grant(tracering::Subsystem::Net));
//!     (*reader)->Poll([](const tracering::EventView& ev) {
//!         if (auto* m = ev.as<tracering::net::InboundMessage>()) use(m->msg_type()->str());
//!     });
//!
//! Zero copies: an EventView and every table it hands out point into the shared mapping and
//! are valid only inside the callback (or until the next Release()).
//!
//! Memory ordering: a record's bytes are visible once Poll() returns it (the reader
//! acquire-loads the record's commit word, RecordCommitted() in abi.h, which its writer
//! release-stored after every other byte); the reader release-stores its read_pos after the
//! callbacks returned, so the producer never reuses bytes still being read.
//!
//! The segment is untrusted input: every length and offset read from it is checked before
//! use; a violation is an ErrorCode::Corrupt error naming the bad value, never a crash.

#include <tracering/abi.h>
#include <tracering/catalogue.h>
#include <tracering/events.h>
#include <tracering/result.h>
#include <tracering/ring_stats.h>
#include <tracering/schemas.h>

#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tracering {

namespace detail {
class SharedMemory;
} // namespace detail

//! The segment header, validated and copied out.
struct SegmentInfo {
    std::string name;
    uint32_t abi_version{0};
    uint64_t schema_hash{0};
    uint64_t producer_pid{0};
    uint64_t producer_start_time{0};
    ClockId clock_id{ClockId::Unknown};
    int64_t clock_offset_ns{0}; //!< add to a record timestamp for UNIX ns (at creation)
    uint64_t created_unix_ns{0};
    uint64_t segment_size{0};
    uint32_t ring_count{0};
    uint32_t max_readers{0}; //!< readers one ring can have at once
    uint64_t schema_size{0}; //!< bytes of the producer's schema (Consumer::schema())
};

//! The producer's clock now, as its segment header says (SegmentHeader::clock_source and
//! after). One clock serves every ring of a segment.
struct ClockStatus {
    ClockId timeline{ClockId::Unknown}; //!< SegmentHeader::clock_id, fixed at creation
    //! What is read now: MonotonicTsc, or Monotonic; Unknown for a producer that predates
    //! this report.
    ClockId in_use{ClockId::Unknown};
    ClockReason reason{ClockReason::None}; //!< why in_use is Monotonic
    uint64_t tsc_hz{0};                    //!< measured TSC frequency, 0 if never used
    uint64_t error_bound_ns{0};            //!< the producer's CLOCK_ERROR_BOUND_NS
    uint64_t max_error_ns{0};              //!< largest |TSC time - CLOCK_MONOTONIC| at a re-anchor
    int64_t last_error_ns{0};              //!< at the last re-anchor
    uint64_t reanchors{0};                 //!< re-anchors so far
    uint64_t fallback_ns{0}; //!< CLOCK_MONOTONIC time of the fallback from the TSC, 0 if none
};

//! A sentence fragment for a ClockReason, e.g. "the TSC went backwards".
const char* ClockReasonText(ClockReason reason) noexcept;

//! One event of a ring, as the producer's schema names it.
struct RingEvent {
    uint16_t type{0};
    std::string name; //!< "inbound_message"
};

//! A ring's descriptor and a snapshot of its producer-side counters.
struct RingInfo : RingStats {
    uint32_t index{0};
    Stability stability{Stability::Unknown};
    uint64_t max_record{0};
    //! The ring's events in the producer's catalogue, by type: they may include events this
    //! consumer's schemas do not know.
    std::vector<RingEvent> events;
};

//! The FlatBuffers table type of each event (specialised in tracering/schemas.h).
template <typename T>
struct EventTypeOf;

//! One record, seen in place. Valid inside the Poll callback only.
class EventView
{
public:
    EventType type() const noexcept { return static_cast<EventType>(m_type); }
    uint16_t raw_type() const noexcept { return m_type; }
    uint64_t seq() const noexcept { return m_seq; }
    //! Clock of SegmentInfo::clock_id (CLOCK_MONOTONIC ns).
    uint64_t timestamp_ns() const noexcept { return m_timestamp_ns; }
    uint16_t flags() const noexcept { return m_flags; }
    bool truncated() const noexcept { return m_flags & RECORD_FLAG_TRUNCATED; }
    bool loss_precedes() const noexcept { return m_flags & RECORD_FLAG_LOSS_PRECEDES; }
    //! Events of this ring lost between the previous record this reader saw and this one.
    uint64_t lost_before() const noexcept { return m_lost_before; }
    //! Whether this consumer's own schemas (tracering/events.h) describe the event. False
    //! for an event added to a newer producer (it is still delivered and counted in
    //! ReaderStats::unknown; decode it with the producer's schema, Consumer::schema()) and
    //! for types from UserFirst up.
    bool known() const noexcept { return m_known; }
    const uint8_t* data() const noexcept { return m_data; }
    uint32_t size() const noexcept { return m_size; }
    std::span<const uint8_t> payload() const noexcept { return {m_data, m_size}; }

    //! The payload as the generated table T, in place, if the record is of T's event type
    //! and the FlatBuffers verifier accepts it; nullptr otherwise. Works across schema
    //! versions: fields T has and the producer's table lacks read as their defaults, and
    //! fields the producer added since are ignored.
    template <typename T>
    const T* as() const
    {
        if (m_type != static_cast<uint16_t>(EventTypeOf<T>::value)) return nullptr;
        flatbuffers::Verifier verifier{m_data, m_size};
        if (!verifier.VerifyBuffer<T>(nullptr)) return nullptr;
        return flatbuffers::GetRoot<T>(m_data);
    }

private:
    friend class RingReader;
    const uint8_t* m_data{nullptr};
    uint32_t m_size{0};
    uint16_t m_type{0};
    uint16_t m_flags{0};
    bool m_known{false};
    uint64_t m_seq{0};
    uint64_t m_timestamp_ns{0};
    uint64_t m_lost_before{0};
};

//! Counters of one reader.
struct ReaderStats {
    uint64_t delivered{0}; //!< records handed out
    uint64_t lost{0};      //!< events missing according to seq gaps
    uint64_t bytes{0};     //!< record bytes consumed, padding included
    uint64_t padding{0};   //!< padding records skipped
    uint64_t skipped{0};   //!< records of events another reader of the ring asked for
    //! Of `delivered`, records of event types below UserFirst that this consumer's schemas
    //! do not know (added to a newer producer; see EventView::known()).
    uint64_t unknown{0};
};

//! A record that a producer thread reserved but has not finished writing for a while: every
//! later record of the ring waits behind it (see RingReader::StuckWriter()).
struct StuckRecord {
    uint64_t position{0};      //!< where it starts (the reader's position)
    uint64_t bytes_waiting{0}; //!< bytes reserved from there on, this record included
    uint64_t stuck_ns{0};      //!< how long the reader has found it reserved but unfinished
};

//! Reads one ring. Not thread-safe: one thread polls it.
class RingReader
{
public:
    ~RingReader();
    RingReader(const RingReader&) = delete;
    RingReader& operator=(const RingReader&) = delete;

    //! Calls fn(const EventView&) for up to `max_events` available records, then releases
    //! their space to the producer. Returns how many were delivered (0: nothing new), or
    //! Detached (the producer reset this ring, or exited and everything it wrote was read),
    //! Stale (its process died without shutting down, and everything it wrote was read)
    //! or Corrupt. An error met after some records were delivered is returned by the next
    //! call, so no delivered record goes uncounted.
    template <typename Fn>
    Result<size_t> Poll(Fn&& fn, size_t max_events = 1024)
    {
        size_t n = 0;
        EventView view;
        while (n < max_events) {
            Result<bool> next = Next(view);
            if (!next) {
                if (n == 0) return next.error();
                break; // the reader's state is unchanged: the next Next() fails the same way
            }
            if (!next.value()) break;
            fn(static_cast<const EventView&>(view));
            ++n;
            // Hand space back early in long batches, so a producer never waits for a whole
            // batch (records already passed to fn are no longer referenced).
            if (m_pos - m_released_pos >= m_release_every) Release();
        }
        Release();
        return n;
    }

    //! The bytes read since the last call, as a share of the ring's capacity (more than 1 when
    //! more than a ring's worth was read between calls), for Backoff::Idle(work, fill).
    double TakeReadFill() noexcept
    {
        const uint64_t bytes = m_pos - m_fill_mark;
        m_fill_mark = m_pos;
        return double(bytes) / double(m_capacity);
    }

    //! Iteration without a callback: fills `view` with the next record (true), or returns
    //! false when there is none yet. Views stay valid until Release(). Once the ring is
    //! empty: Detached if the producer exited (or reset the ring), Stale if its process is
    //! gone without shutting down (checked at most every 250 ms while the ring is empty).
    Result<bool> Next(EventView& view);
    //! Gives the space of every record returned by Next() back to the producer. While this
    //! is the ring's only reader, and unless SetEvictReadLines(false), it first evicts from
    //! the caches the lines it has read entirely since the last Release().
    void Release() noexcept;
    //! Whether Release() evicts the lines it hands back (x86 with `clflushopt`; elsewhere it
    //! does nothing), as long as the ring has no other reader. On by default: a producer's
    //! store to a line that a reader on another core still holds has to take the line back
    //! from that core first, which on some hosts costs the producer more than the rest of the
    //! record (doc/performance.md); evicted, the line comes from memory and the reader pays
    //! instead (on the hosts measured, 6-9 ns per small event). Turn it off where the
    //! reader's own speed matters more than the node's time per event.
    void SetEvictReadLines(bool on) noexcept;
    //! Stops this reader for good: Next() returns Detached and the cursor is not written
    //! again. Session::Detach() calls it before the lease ends, so records this reader has
    //! cached are never read while the producer reuses their space.
    void Abandon() noexcept { m_abandoned = true; }

    const std::string& name() const noexcept { return m_name; }
    uint32_t index() const noexcept { return m_index; }
    //! The seq the next record will have (events the producer attempted since are unread or
    //! dropped), once known: from the first record read, or from the start of a generation.
    std::optional<uint64_t> next_seq() const noexcept
    {
        return m_seq_known ? std::optional<uint64_t>{m_expected_seq} : std::nullopt;
    }
    //! Events of this ring lost to this reader that stats().lost does not count yet: those
    //! the producer dropped after the last record this reader read (and gaps it passed while
    //! skipping other readers' records), up to the latest drop whose place in the ring
    //! (RingControl::drop_pos) this reader had reached at a look. This call looks again; call
    //! it also when Next() returns false, so that drops up to then count even if the producer
    //! writes again before anyone asks. Once a later record reveals such a gap, its
    //! lost_before and stats().lost count it and this no longer does: stats().lost plus this
    //! counts each dropped event once, and never an event still being written. 0 while
    //! next_seq() is unknown.
    uint64_t UnreportedLost() noexcept;
    //! The generation of this reader's slot (see ReaderControl::generation).
    uint64_t generation() const noexcept { return m_generation; }
    //! Its ReaderControl line in the ring.
    uint32_t slot() const noexcept { return m_slot; }
    //! The descriptor of its lease's cursor memory (owned by the reader), for tools that
    //! inspect what a consumer can reach.
    int cursors_fd() const noexcept;
    const ReaderStats& stats() const noexcept { return m_stats; }
    //! The ring's producer-side counters now, with this reader's own backlog and idle time.
    RingInfo Info() const;
    //! How long a record may stay reserved but unpublished before StuckWriter() reports it.
    static constexpr uint64_t STUCK_REPORT_NS = 1'000'000'000;
    //! Set while this reader has read everything published and a producer thread has left
    //! a record half-written for STUCK_REPORT_NS or more (stopped in a debugger, or not
    //! scheduled): the records reserved after it are published once it is done. Next() and
    //! Poll() keep returning nothing meanwhile; tools report this instead of waiting in
    //! silence. Updated by Next() when it finds nothing to read.
    std::optional<StuckRecord> StuckWriter() const noexcept;

private:
    friend class Consumer;
    RingReader() = default;
    Error Corrupt(const std::string& what) const;
    Error Detached() const;
    //! Whether the producer's process died without marking the segment Exited (`now`:
    //! CLOCK_MONOTONIC).
    bool ProducerGone(uint64_t now);
    static constexpr uint64_t LIVENESS_CHECK_NS = 250'000'000;

    std::shared_ptr<const detail::SharedMemory> m_segment;
    std::unique_ptr<detail::SharedMemory> m_cursors; //!< the lease's memory, mapped writable
    const SegmentHeader* m_header{nullptr};
    const RingControl* m_control{nullptr};
    const ReaderControl* m_line{nullptr}; //!< this reader's line (producer-written)
    CursorSlot* m_cursor{nullptr};        //!< in m_cursors
    const uint8_t* m_data{nullptr};
    std::string m_name;
    RingDescriptor m_descriptor{};
    uint32_t m_index{0};
    uint32_t m_slot{0};
    uint32_t m_max_readers{0};
    uint16_t m_first_type{0};
    uint64_t m_event_mask{0};   //!< the events this reader asked for
    uint64_t m_known_mask{0};   //!< the ring's events this consumer's catalogue has
    uint64_t m_pending_lost{0}; //!< lost events not reported yet (seen while skipping)
    uint64_t m_capacity{0};
    uint64_t m_mask{0};
    uint64_t m_max_record{0};
    uint64_t m_release_every{0}; //!< capacity / 16: bytes read before an early Release()
    uint64_t m_generation{0};
    uint64_t m_pos{0};          //!< next record to read
    uint64_t m_released_pos{0}; //!< last value stored to read_pos
    uint64_t m_fill_mark{0};    //!< m_pos at the last TakeReadFill()
    uint64_t m_commit_key{0};   //!< SegmentHeader::commit_key
    uint64_t m_expected_seq{0};
    bool m_seq_known{false};
    //! RingControl::drop_seq when UnreportedLost() last found this reader at or past drop_pos.
    uint64_t m_end_seq{0};
    uint64_t m_next_liveness_check_ns{0};
    //! The largest timestamp handed out: a record's timestamp may be a little before its
    //! predecessor's (RecordHeader::timestamp_ns); it is handed out as at least this.
    uint64_t m_last_timestamp{0};
    //! The position of a record this reader found reserved (write_pos past it) but not
    //! complete, since when and until when it saw it so (our clock), and the bytes reserved
    //! from there; m_unpublished_since_ns is 0 while there is none.
    uint64_t m_unpublished_at{0};
    uint64_t m_unpublished_since_ns{0};
    uint64_t m_unpublished_bytes{0};
    uint64_t m_unpublished_now_ns{0};
    bool m_abandoned{false};
    //! SetEvictReadLines(), and the CPU can evict (OpenReader() sets it so by default).
    bool m_evict_read_lines{false};
    std::string m_gone; //!< why ProducerGone() said so
    ReaderStats m_stats;
};

//! UNIX time minus the record clock, in ns, measured now: add it to a record timestamp to
//! get UNIX time. Record timestamps are CLOCK_MONOTONIC (ClockId::Monotonic, or the TSC kept
//! on it, ClockId::MonotonicTsc), which every process of the machine shares, so a reader on
//! the producer's machine gets the current mapping here. SegmentInfo::clock_offset_ns is the
//! mapping when the segment was created; the two differ once the system time was set or
//! stepped since (for instance by the first NTP synchronisation after boot).
int64_t UnixClockOffsetNow() noexcept;

//! How a polling loop waits between polls.
//!
//! Caught up (a poll delivered some events, fewer than CAUGHT_UP_BELOW): wait for the writers
//! to build a batch rather than read each record as it is committed. Every look at the line a
//! writer is filling, and every record read right behind it, makes the writer take lines back
//! from this core; at millions of events a second that halves the writer's speed on some hosts
//! (doc/performance.md). So while the polls deliver SLEEP_ABOVE_EVENTS_PER_S or more (measured
//! over RATE_WINDOW_NS), and it is told how much of the rings they read (Idle(work, fill)), it
//! sleeps CAUGHT_UP_SLEEP_US, which the kernel's timer slack and the wake-up stretch to
//! 70-120 us, and leaves the core to the node meanwhile. Slower, it spins for about a
//! microsecond (Spin()): a node's own events come far slower than that, and a reader's core
//! left idle between wake-ups made a real node's wake-ups dearer than the lines it saved it.
//! A sleep after which the polls up to the next caught-up one read more than FILL_TOO_HIGH of
//! a ring (a small ring, or large records) turns sleeping off for the next SPIN_AFTER_FULL
//! caught-up polls.
//!
//! Nothing to read: spin briefly, then yield, then sleep with a growing pause up to
//! `max_sleep_us`; once nothing came for about a second (QUIET_AFTER_SLEEPS such sleeps in a
//! row), sleep `quiet_sleep_us`. The longer pause keeps a reader left running on a quiet
//! producer (a monitor, all day) at about 100 wake-ups a second instead of 1,000; the first
//! event after such a quiet spell is read up to `quiet_sleep_us` late, and every one after it
//! as before.
//!
//!     Backoff backoff;
//!     for (;;) {
//!         const size_t n = reader->Poll(fn).value();
//!         backoff.Idle(n, reader->TakeReadFill());
//!     }
class Backoff
{
public:
    explicit Backoff(uint32_t max_sleep_us = 1000, uint32_t quiet_sleep_us = 10'000)
        : m_max_sleep_us{max_sleep_us}, m_quiet_sleep_us{quiet_sleep_us}
    {
    }
    //! Call after each poll with the number of events it delivered and the largest share of
    //! a ring one of its readers read since the last call (RingReader::TakeReadFill()).
    void Idle(size_t work, double fill);
    //! The same without knowing how full the rings were: a caught-up poller spins (a sleep
    //! could let a small ring fill).
    void Idle(size_t work);
    //! Forgets everything measured so far, as for a new session's readers.
    void Reset() noexcept;
    //! Whether, as of the last call, a caught-up Idle(work, fill) sleeps: the last rate
    //! measured was fast enough, and no sleep let a ring fill too far in the last
    //! SPIN_AFTER_FULL caught-up polls (the next call may close a window or judge a sleep
    //! first).
    bool SleepsWhenCaughtUp() const noexcept { return m_fast && m_spin_left == 0; }
    //! A poll that delivered fewer events than this caught up with the writers.
    static constexpr size_t CAUGHT_UP_BELOW = 64;
    //! Sleeps in a row (of up to max_sleep_us each) after which the producer counts as quiet.
    static constexpr uint32_t QUIET_AFTER_SLEEPS = 1000;
    //! Events a second (all rings together) from which a caught-up poller sleeps.
    static constexpr uint64_t SLEEP_ABOVE_EVENTS_PER_S = 2'000'000;
    //! The shortest time over which that rate is measured.
    static constexpr uint64_t RATE_WINDOW_NS = 100'000;
    //! A caught-up poller's sleep, before the kernel's timer slack (50 us by default).
    static constexpr uint32_t CAUGHT_UP_SLEEP_US = 20;
    //! The share of a ring that, read after a caught-up sleep, means the sleep was too long.
    static constexpr double FILL_TOO_HIGH = 0.25;
    //! Caught-up polls that spin instead of sleeping after a sleep found a ring too full.
    static constexpr uint32_t SPIN_AFTER_FULL = 4096;

private:
    //! 32 CPU pauses, 0.6-5 us depending on the CPU: a fast producer writes a few records.
    static void Spin() noexcept;
    //! After a poll of `work` events: nothing, CaughtUp() or Empty().
    void Wait(size_t work, bool may_sleep);
    void CaughtUp(bool may_sleep);
    void Empty();
    uint32_t m_max_sleep_us;
    uint32_t m_quiet_sleep_us;
    uint32_t m_idle{0};
    bool m_slept{false};           //!< the last caught-up poll slept
    double m_fill_since_sleep{0};  //!< share of a ring read since then (summed per poll)
    uint32_t m_spin_left{0};       //!< caught-up polls left that spin (SPIN_AFTER_FULL)
    uint64_t m_window_start_ns{0}; //!< CLOCK_MONOTONIC where the rate's window began
    uint64_t m_window_events{0};   //!< events delivered in it so far
    bool m_fast{false};            //!< the last window's rate was SLEEP_ABOVE_EVENTS_PER_S or more
};

//! A mapped segment. Create readers from it; it may be dropped before them.
class Consumer
{
public:
    //! Opens segment `name` ("tracering.<name>", read-only) and checks magic, ABI version,
    //! liveness of the producer (Stale if it died without shutting down; the segment of one
    //! that exited cleanly opens, and its readers drain what it wrote), the ring table and the
    //! producer's schema. The producer's schemas may be older or newer than this consumer's
    //! (see EventView::known()).
    static Result<std::unique_ptr<Consumer>> Open(const std::string& name);
    //! The same for the segment behind descriptor `fd` (duplicated, not taken), as the
    //! control socket hands it over; `what` names it in errors.
    static Result<std::unique_ptr<Consumer>> OpenFd(int fd, const std::string& what);
    ~Consumer();
    Consumer(const Consumer&) = delete;
    Consumer& operator=(const Consumer&) = delete;

    const SegmentInfo& info() const noexcept { return m_info; }
    //! The read-only descriptor the segment is mapped from (owned by the consumer).
    int segment_fd() const noexcept;
    std::vector<RingInfo> Rings() const;
    //! The ring called `name` ("net", "mempool", ...); NotFound lists the ring names.
    Result<RingInfo> Ring(std::string_view name) const;
    //! The reader a lease was granted on `ring`, positioned where it was added; it maps the
    //! lease's cursor memory from `grant.cursors_fd`. Detached if the producer has detached
    //! it already.
    Result<std::unique_ptr<RingReader>> OpenReader(std::string_view ring, const ReaderGrant& grant);
    //! Ok while the producer runs; Detached once it exited, Stale if it died.
    Result<void> CheckProducer() const;
    //! The producer's clock now (it may fall back from the TSC at any time).
    ClockStatus Clock() const noexcept;
    //! The producer's binary FlatBuffers schema (.bfbs) of every event it writes, copied
    //! out of the segment and verified as a reflection::Schema: its tables with an `event`
    //! attribute are the producer's catalogue (see schemas/common.fbs). Decoding with it
    //! reads every field the producer wrote, including those newer than this consumer.
    std::span<const uint8_t> schema() const noexcept { return m_schema; }
    //! The producer's catalogue, read from schema() (tracering::ReadCatalogue).
    const Catalogue& catalogue() const noexcept { return m_catalogue; }

private:
    Consumer() = default;
    static Result<std::unique_ptr<Consumer>>
    FromMapping(std::unique_ptr<detail::SharedMemory> segment, const std::string& name,
                const std::string& path);
    RingInfo InfoAt(uint32_t index) const;
    const ReaderControl* ReaderLines(uint32_t index) const;
    Result<uint32_t> IndexOf(std::string_view name) const;

    std::shared_ptr<const detail::SharedMemory> m_segment;
    SegmentInfo m_info;
    std::vector<RingDescriptor> m_rings; //!< validated copies
    std::vector<uint8_t> m_schema;       //!< verified copy of the producer's schema
    Catalogue m_catalogue;
};

} // namespace tracering

#endif // TRACERING_CONSUMER_H
