// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_PRODUCER_RING_WRITER_H
#define TRACERING_PRODUCER_RING_WRITER_H

#include <tracering/abi.h>
#include <tracering/events.h>
#include <tracering/producer.h>
#include <tracering/tracepoint.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/cpu.h"
#include "producer/ring_clock.h"


namespace tracering::detail {

//! A process-local test-and-test-and-set lock for a few instructions' worth of shared state
//! (LosslessBudget, RingWriter's slow path and reader table). Uncontended, lock + unlock is
//! one atomic exchange and one store. Contended, it spins briefly and then yields.
class SpinLock
{
public:
    void lock() noexcept
    {
        // Memory ordering: acquire pairs with the release in unlock(), so the next holder
        // sees what the previous one wrote under the lock.
        if (!m_locked.exchange(true, std::memory_order_acquire)) return;
        LockSlow();
    }
    bool try_lock() noexcept
    {
        return !m_locked.load(std::memory_order_relaxed) &&
               !m_locked.exchange(true, std::memory_order_acquire);
    }
    void unlock() noexcept { m_locked.store(false, std::memory_order_release); }

private:
    void LockSlow() noexcept
    {
        for (uint32_t spins = 0;; ++spins) {
            while (m_locked.load(std::memory_order_relaxed)) {
                if (spins++ < 128) {
                    CpuRelax();
                } else {
                    std::this_thread::yield();
                }
            }
            if (!m_locked.exchange(true, std::memory_order_acquire)) return;
        }
    }
    std::atomic<bool> m_locked{false};
};

//! Why a record was not written.
enum class DropCause { None, Disabled, Full, TooBig, ReaderReset, Timeout };

//! How long one lease's readers may hold the node's writers in lossless waits: a token bucket
//! of `budget_ns` that refills at `budget_ns` per second. Shared by the lease's readers on
//! every ring, so each ring's writers charge it from their own threads. Once a wait finds it
//! empty, the lease is downgraded to dropping for good.
class LosslessBudget
{
public:
    explicit LosslessBudget(uint64_t budget_ns) noexcept
        : m_budget_ns{budget_ns}, m_tokens_ns{budget_ns}
    {
    }
    //! Nanoseconds a writer may still wait for this lease at time `now_ns`.
    uint64_t Available(uint64_t now_ns) noexcept
    {
        m_lock.lock();
        Refill(now_ns);
        const uint64_t tokens = m_tokens_ns;
        m_lock.unlock();
        return tokens;
    }
    //! Takes `waited_ns` off the budget; true if the budget is used up now.
    bool Charge(uint64_t waited_ns, uint64_t now_ns) noexcept
    {
        m_lock.lock();
        Refill(now_ns);
        m_tokens_ns = waited_ns >= m_tokens_ns ? 0 : m_tokens_ns - waited_ns;
        const bool empty = m_tokens_ns == 0;
        m_lock.unlock();
        if (empty) m_exhausted.store(true, std::memory_order_relaxed);
        return empty;
    }
    //! Once true, stays true: the lease's readers are not waited for any more.
    bool exhausted() const noexcept { return m_exhausted.load(std::memory_order_relaxed); }

private:
    void Refill(uint64_t now_ns) noexcept
    {
        if (m_last_ns != 0 && now_ns > m_last_ns) {
            const uint64_t gained =
                (now_ns - m_last_ns) / 1'000'000'000 * m_budget_ns +
                (now_ns - m_last_ns) % 1'000'000'000 * m_budget_ns / 1'000'000'000;
            m_tokens_ns = std::min(m_budget_ns, m_tokens_ns + gained);
        }
        m_last_ns = std::max(m_last_ns, now_ns);
    }
    const uint64_t m_budget_ns;
    SpinLock m_lock; //!< node writer threads only, for a few instructions
    uint64_t m_tokens_ns;
    uint64_t m_last_ns{0};
    //! Relaxed: every writer that acts on it re-checks under its own ring's lock.
    std::atomic<bool> m_exhausted{false};
};

//! What the producer knows about one reader of a ring (its lease table entry there).
struct ReaderOptions {
    uint64_t event_mask{~uint64_t{0}};
    bool lossless{false};
    uint64_t lossless_wait_ns{0};
    uint64_t payload_limit{0};
    uint64_t pid{0};
    uint64_t uid{0};
};

//! A ring's reservation word: where the next record starts and the next event's sequence
//! number, changed together by one 16-byte compare-and-swap so that records lie in the ring in
//! the order of their sequence numbers. The shape of RingControl's write_pos and seq (the
//! ring's reservation word) and of its drop_pos and drop_seq.
struct alignas(16) Reservation {
    uint64_t pos; //!< bytes ever reserved, with SEALED set once the ring is sealed
    uint64_t seq; //!< events ever attempted (reserved or dropped)
};

//! One atomic 16-byte compare-and-swap of the pair at `word` (16-aligned: a position, then a
//! sequence number, as in Reservation) from `expected` to `desired`; on failure, `expected`
//! receives the current value. Full barrier either way. The pair is passed by address, not as
//! a Reservation, because in the shared segment its halves are atomics of their own, which
//! readers load one at a time (RingControl::write_pos and seq, drop_pos and drop_seq).
inline bool CompareExchange(void* word, Reservation& expected, Reservation desired) noexcept
{
#if defined(__x86_64__)
    bool swapped;
    __asm__ __volatile__("lock cmpxchg16b (%[word])"
                         : "=@ccz"(swapped), "+a"(expected.pos), "+d"(expected.seq)
                         : [word] "r"(word), "b"(desired.pos), "c"(desired.seq)
                         : "memory");
    return swapped;
#else
    return __atomic_compare_exchange(static_cast<Reservation*>(word), &expected, &desired, false,
                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
#endif
}

//! The producer of one ring, with up to MAX_READERS readers. Any number of node threads write
//! at once without a lock, and none of them ever waits for another one.
//!
//! Writing a record (Write()):
//!  1. Reserve: read the clock, then move the reservation word (RingControl::write_pos and
//!     seq: position and sequence number together, in the shared segment) past the record
//!     with one 16-byte compare-and-swap. The clock is read inside the retry loop, so a reservation
//!     that succeeds was preceded by no other reservation after its clock read: timestamps follow
//!     the ring's order up to how early a CPU may execute the time-stamp counter read (RingReader
//!     evens that out).
//!  2. Fill the record in place (header, then payload); nobody else touches that space.
//!  3. Commit: store the record's commit word (RecordHeader::commit: its position mixed with
//!     SegmentHeader::commit_key). Readers read records in ring order and each one only once
//!     its commit word says so. A writer stopped in the middle of a record delays the readers
//!     at that record (they report it: RingReader::StuckWriter()), never another writer: the
//!     others go on reserving until the ring is full, and then drop and count.
//!
//! Memory ordering:
//!  - A record's bytes are written before the release store of its commit word; a reader
//!    acquire-loads the commit word before it reads the record.
//!  - The reservation's compare-and-swap comes before any write of the record, so a writer
//!    pays one locked instruction per record, on an empty store buffer; the commit is a plain
//!    store.
//!  - Each reader's release store of CursorSlot::read_pos is acquire-loaded in the slow path
//!    (RefreshReaders(), under m_slow), which release-stores the new tail in `m_tail`; writers
//!    acquire-load `m_tail` before reserving, so a reader's last read of a record comes before
//!    any writer's reuse of that space.
//!
//! The slow path: when `m_tail` says the ring has no room, the writer takes m_slow (try only:
//! a writer never waits for the lock) and refreshes the readers' positions; with a lossless
//! reader it waits for that reader, within the reader's wait and its lease's budget. Writers
//! that find m_slow taken re-check the tail for a bounded spin (SLOW_SPIN_NS) and then drop as
//! the ring being full; with a lossless reader they keep re-checking until that reader's wait
//! has passed.
//!
//! Slow readers: a record is written when every reader has room for it. When one has not:
//!  - if it asked for lossless delivery and its lease has budget left, the writer waits for
//!    it (at most its lossless wait, at most the budget left); when the budget is used up
//!    the lease is downgraded to dropping (counted, and shown in its ReaderControl line);
//!  - otherwise the event is dropped for every reader of the ring (counted once, and each
//!    reader sees the gap in seq);
//!  - a reader that keeps the ring full for longer than `slow_reader_ns` while the ring has
//!    another reader is detached (DetachReason::SlowReader, counted in readers_evicted), so
//!    a stopped reader costs the others at most that long. A ring's only reader is never
//!    detached for being slow: the loss is its own.
class RingWriter
{
public:
    //! @param global whether this ring drives the process-wide tracepoint switches
    //! @param clock the producer's clock, which must outlive the writer
    RingWriter(Subsystem subsystem, RingControl* control, ReaderControl* reader_lines,
               uint32_t max_readers, uint8_t* data, uint64_t capacity, bool global,
               const RingClock& clock, uint64_t slow_reader_ns, uint64_t commit_key) noexcept;
    RingWriter(const RingWriter&) = delete;
    RingWriter& operator=(const RingWriter&) = delete;

    Subsystem subsystem() const noexcept { return m_subsystem; }
    uint64_t capacity() const noexcept { return m_capacity; }
    uint64_t max_record() const noexcept { return m_max_record; }
    //! The readers' payload limit (0 = none). May lag a reader change by one event.
    uint64_t payload_limit() const noexcept
    {
        return m_payload_limit.load(std::memory_order_relaxed);
    }
    //! Largest payload that fits in one record.
    uint64_t max_payload() const noexcept { return m_max_record - RECORD_HEADER_SIZE; }

    //! Bit set in Reservation::pos once the ring is sealed: no reservation succeeds after it.
    static constexpr uint64_t SEALED = WRITE_POS_SEALED;
    //! How long a writer that finds the slow path taken re-checks for room before it drops
    //! (no lossless reader): about what a refresh of the readers' positions takes.
    static constexpr uint64_t SLOW_SPIN_NS = 20'000;
    //! How far ahead of its record a writer asks for the ring's lines. They were last read by
    //! a consumer on another core; without this, a writer's stores wait for each of them
    //! (see doc/performance.md).
    static constexpr uint64_t PREFETCH_AHEAD = 512;

    //! Writes one record whose payload is `payload_size` bytes, produced by
    //! `fill(uint8_t* dst)` straight into the ring. Never waits for another writer, nor for a
    //! consumer (unless a reader asked for lossless delivery, and then within its wait and its
    //! lease's budget), never allocates, never throws; a record that cannot be written is
    //! counted by cause and still takes a sequence number.
    template <typename Fill>
    DropCause Write(uint16_t type, uint64_t payload_size, uint16_t flags, Fill&& fill) noexcept
    {
        if (!m_enabled.load(std::memory_order_relaxed) || !Selected(type)) {
            // Turned off between the caller's check and here: not attempted for any reader.
            return DropCause::Disabled;
        }
        const uint64_t length = RECORD_HEADER_SIZE + payload_size;
        if (length > m_max_record) return Drop(DropCause::TooBig);
        const uint64_t record = AlignedRecordSize(length);
        Reservation cur = LoadReservation();
        uint64_t offset, padding, end, timestamp;
        for (;;) {
            if (cur.pos & SEALED) return DropCause::Disabled;
            // Read before the reservation succeeds: see the class comment.
            timestamp = m_clock.Now();
            offset = cur.pos & m_mask;
            padding = offset + record > m_capacity ? m_capacity - offset : 0;
            end = cur.pos + padding + record;
            if (!TailHasRoom(end)) {
                // A reservation read before another writer's: try again with the new one.
                const Reservation now = LoadReservation();
                if (now.pos != cur.pos) {
                    cur = now;
                    continue;
                }
                const DropCause cause = MakeRoom(end);
                if (cause != DropCause::None) return Drop(cause);
                cur = LoadReservation();
                continue;
            }
            if (CompareExchange(ReserveWord(), cur, Reservation{end, cur.seq + 1})) break;
        }
        const uint64_t start = cur.pos;
        const uint64_t seq = cur.seq;
        // The two lines PREFETCH_AHEAD bytes on: with the next record's, that is every line
        // of records up to 128 bytes (larger ones are mostly copies, which stream).
        PrefetchForWrite(m_data + ((start + PREFETCH_AHEAD) & m_mask));
        PrefetchForWrite(m_data + ((start + PREFETCH_AHEAD + 64) & m_mask));
        // Our commit words hold an older lap's bytes, which never equal our commit value (the
        // position differs); clear them all the same, so that not even a peer's payload that
        // landed there (and a key read by a consumer) could pass for a commit.
        uint8_t* const record_at = m_data + ((start + padding) & m_mask);
        CommitWord(record_at).store(0, std::memory_order_relaxed);
        if (padding != 0) {
            uint8_t* const pad = m_data + offset;
            CommitWord(pad).store(0, std::memory_order_relaxed);
            // Fewer than a header's bytes before the end hold no header: readers skip them.
            if (padding >= RECORD_HEADER_SIZE) {
                auto* h = reinterpret_cast<RecordHeader*>(pad);
                h->length = static_cast<uint32_t>(padding);
                h->type = static_cast<uint16_t>(EventType::Padding);
                h->flags = 0;
            }
        }
        auto* header = reinterpret_cast<RecordHeader*>(record_at);
        header->length = static_cast<uint32_t>(length);
        header->type = type;
        const bool loss = m_loss_pending.load(std::memory_order_relaxed) &&
                          m_loss_pending.exchange(false, std::memory_order_relaxed);
        header->flags = static_cast<uint16_t>(flags | (loss ? RECORD_FLAG_LOSS_PRECEDES : 0));
        header->seq = seq;
        header->timestamp_ns = timestamp;
        fill(record_at + RECORD_HEADER_SIZE);
        if (flags & RECORD_FLAG_TRUNCATED) {
            m_control->truncated.fetch_add(1, std::memory_order_relaxed);
        }
        // Commit: the record, then the padding in front of it (readers that pass the padding
        // then mostly find the record complete).
        CommitWord(record_at).store(CommitValue(start + padding), std::memory_order_release);
        if (padding != 0) {
            CommitWord(m_data + offset).store(CommitValue(start), std::memory_order_release);
        }
        return DropCause::None;
    }

    bool enabled() const noexcept
    {
        return m_control->enabled.load(std::memory_order_relaxed) != 0;
    }

    enum class AddResult { Added, Sealed, Full };
    struct Added {
        AddResult result{AddResult::Full};
        uint32_t slot{0};
        uint64_t generation{0}; //!< the reader owns `slot` while its line has this generation
    };
    //! Adds a reader that starts at the current reservation position, with its cursor at
    //! `cursor` (in its lease's memory, which must stay mapped until RemoveReader) and its
    //! lease's lossless budget (which must outlive it too). Turns on the events it asks for.
    Added AddReader(const ReaderOptions& options, CursorSlot* cursor,
                    LosslessBudget* budget) noexcept;
    //! How long Seal() waits for the records reserved before it to be committed.
    static constexpr uint64_t STUCK_WAIT_NS = 500'000'000;
    //! Takes the reader of `slot` away for good (its lease ended): the slot's generation moves
    //! on (unless the ring is sealed: a reader drains a stopped producer's records first), the
    //! producer stops reading its cursor and forgets it, and events nobody else asked for go
    //! back to the off price. `generation` is the one AddReader returned.
    void RemoveReader(uint32_t slot, uint64_t generation) noexcept;
    //! Stops this ring from touching the process-wide tracepoint switches: for a producer
    //! that lost the race to be the global one, whose rings must not turn off the winner's.
    void DetachFromSwitches() noexcept
    {
        m_slow.lock();
        m_global = false;
        m_slow.unlock();
    }
    //! For the producer's shutdown: stops writing for good but keeps every reader's
    //! generation and position and every published record, so readers drain what was written
    //! before they learn that the producer exited. Waits up to STUCK_WAIT_NS for records
    //! reserved before it to be committed.
    void Seal() noexcept;
    RingStats Stats() const;
    //! The ring's counters plus only the reader of `slot` (its backlog and idle time).
    RingStats ReaderStats(uint32_t slot, uint64_t generation) const;

private:
    //! One reader as the producer knows it. Guarded by m_slow; `cursor` is also guarded by
    //! m_table_mutex (set and cleared holding both), so Stats() may follow it.
    struct Reader {
        CursorSlot* cursor{nullptr}; //!< null: slot free
        LosslessBudget* budget{nullptr};
        bool active{false}; //!< false once detached (cursor kept until RemoveReader)
        bool lossless{false};
        uint64_t read_pos{0}; //!< last validated cursor value
        uint64_t event_mask{0};
        uint64_t payload_limit{0};
        uint64_t wait_ns{0};
        uint64_t stalled_at{0};       //!< NO_STALL, or its position when a wait for it timed out
        uint64_t blocked_since_ns{0}; //!< when it first kept the ring full, 0 when it did not
        uint64_t generation{0};       //!< its line's current generation
    };

    //! The commit word at the start of the record (or padding) at `at`.
    static std::atomic_ref<uint64_t> CommitWord(uint8_t* at) noexcept
    {
        return std::atomic_ref<uint64_t>{*reinterpret_cast<uint64_t*>(at)};
    }
    //! The value of a committed record's commit word at position `pos` (RecordHeader::commit).
    uint64_t CommitValue(uint64_t pos) const noexcept { return pos ^ m_commit_key; }
    //! The reservation word, RingControl::write_pos and seq (abi.h asserts that they are
    //! adjacent; the control lines start at a multiple of CACHE_LINE in a page-aligned
    //! mapping): changed only by CompareExchange().
    void* ReserveWord() const noexcept { return &m_control->write_pos; }
    //! Both halves of the reservation word, each loaded atomically; a torn pair only fails the
    //! next compare-and-swap, which then returns the current value.
    Reservation LoadReservation() const noexcept
    {
        return Reservation{ReservedPos(), m_control->seq.load(std::memory_order_relaxed)};
    }
    uint64_t ReservedPos() const noexcept
    {
        return m_control->write_pos.load(std::memory_order_seq_cst);
    }
    //! A dropped event: takes its sequence number and counts it by cause.
    DropCause Drop(DropCause cause) noexcept;
    //! Moves RingControl::drop_pos and drop_seq to `after`, the reservation a drop left,
    //! unless a later drop's is there already.
    void PublishDrop(Reservation after) noexcept;
    //! The slow path of a reservation ending at `end` that the cached tail does not allow.
    //! None: there may be room now (reserve again).
    DropCause MakeRoom(uint64_t end) noexcept;
    //! Whether some reader asked for `type` (embedders' own types, from EventType::UserFirst
    //! on, are not subject to the event mask).
    bool Selected(uint16_t type) const noexcept
    {
        const uint32_t bit = uint32_t(type) - RingFirstType(m_subsystem);
        return type >= static_cast<uint16_t>(EventType::UserFirst) ||
               (bit < EVENTS_PER_RING_MAX &&
                ((m_event_mask.load(std::memory_order_relaxed) >> bit) & 1) != 0);
    }
    //! With m_slow held: waits for room for a record ending at `end` as the readers allow.
    DropCause WaitForRoom(uint64_t end) noexcept;
    //! With m_slow held: acquire-loads and validates every reader's read_pos (a bad one
    //! detaches that reader) and recomputes m_tail.
    void RefreshReaders() noexcept;
    //! With m_slow held: whether reader `r` has room for a record ending at `end`.
    //! (`end` may be behind the reader: a writer's reservation attempt can be that old.)
    bool HasRoom(const Reader& r, uint64_t end) const noexcept
    {
        return end <= r.read_pos + m_capacity;
    }
    bool TailHasRoom(uint64_t end) const noexcept
    {
        return end <= m_tail.load(std::memory_order_acquire) + m_capacity;
    }
    //! With m_slow held: the dropping side of a full ring; may detach overdue slow readers.
    //! Returns None if that made room.
    DropCause DropOrEvict(uint64_t end, DropCause cause) noexcept;
    //! With m_slow held: the reader of `slot` drops instead of being waited for, for good
    //! (its lease used up its lossless budget); the caller recomputes the union.
    void DowngradeLocked(uint32_t slot) noexcept;
    //! With m_slow held: a reader leaves the ring (its line says why).
    void DetachLocked(uint32_t slot, DetachReason reason) noexcept;
    //! With m_slow held: recomputes the union of the readers' options and the switches.
    void RecomputeLocked() noexcept;
    //! Takes m_slow, asking a writer in a lossless wait to give up first.
    void LockOutWriters() noexcept;
    //! Waits up to STUCK_WAIT_NS for every record from the readers' tail up to `end` to be
    //! committed; false if one was not.
    bool WaitCommitted(uint64_t end) const noexcept;
    void SetEventSwitches(uint64_t mask) noexcept;
    static void Count(std::atomic<uint64_t>& shared) noexcept
    {
        shared.fetch_add(1, std::memory_order_relaxed);
    }

    const Subsystem m_subsystem;
    RingControl* const m_control;
    ReaderControl* const m_lines; //!< m_max_readers lines
    const uint32_t m_max_readers;
    uint8_t* const m_data;
    const uint64_t m_capacity;
    const uint64_t m_mask;
    const uint64_t m_max_record;
    const uint64_t m_slow_reader_ns;
    //! SegmentHeader::commit_key.
    const uint64_t m_commit_key;
    //! Whether this ring drives the process-wide tracepoint switches. Cleared by
    //! DetachFromSwitches() before any reader could be added, and only read under m_slow.
    bool m_global;

    //! The smallest read_pos of the active readers, as last validated. Writer: the slow path
    //! and reader changes (m_slow held), release store. Readers: writers, acquire load.
    alignas(CACHE_LINE) std::atomic<uint64_t> m_tail{0};
    //! The union of the readers' events and whether the ring has a reader. Writer: m_slow
    //! held. Readers: writers, relaxed (a writer that passes just before a change writes
    //! one more record, as with any switch).
    std::atomic<uint64_t> m_event_mask{0};
    std::atomic<bool> m_enabled{false};
    //! Set by a drop, taken by the next record (RECORD_FLAG_LOSS_PRECEDES); a hint only,
    //! readers count their own losses from seq.
    std::atomic<bool> m_loss_pending{false};
    //! Process-local copy of the readers' payload limit, read by emitters before writing.
    std::atomic<uint64_t> m_payload_limit{0};
    //! Writers in a lossless wait (m_slow held) that others may wait alongside: the longest
    //! lossless wait of the readers, 0 with none. Writer: m_slow held. Readers: relaxed.
    std::atomic<uint64_t> m_lossless_wait_ns{0};
    //! RemoveReader()/Seal() calls waiting for m_slow: while non-zero, a writer in a lossless
    //! wait (which holds m_slow) gives up at once. A count, so one caller finishing does not
    //! cancel another's request. Relaxed: it only shortens a wait; the lock orders the rest.
    std::atomic<uint32_t> m_abort_waits{0};
    //! Writers in a lossless wait now (RingStats::writers_waiting). Relaxed: statistics.
    std::atomic<uint32_t> m_writers_waiting{0};
    //! Held by the slow path, which only a writer that found the ring full enters, and by
    //! reader changes; never waited for by a writer (see SLOW_SPIN_NS).
    mutable SpinLock m_slow;
    //! Held (before m_slow) by AddReader/RemoveReader and by Stats, which follows readers'
    //! cursor pointers without m_slow; node threads never take it.
    mutable std::mutex m_table_mutex;
    //! The producer's clock: Now() may be called from any thread, without a lock.
    const RingClock& m_clock;
    // Guarded by m_slow.
    std::array<Reader, MAX_READERS> m_readers{};
    uint32_t m_reader_count{0}; //!< active readers
    bool m_sealed{false};
    static constexpr uint64_t NO_STALL = ~uint64_t{0};
    uint64_t m_ring_generation{0};
};

} // namespace tracering::detail

#endif // TRACERING_PRODUCER_RING_WRITER_H
