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

//! A process-local test-and-test-and-set lock. Uncontended, lock + unlock is one atomic
//! exchange and one store. Contended, it spins briefly and then yields, since the holder is
//! another node thread in the middle of a bounded write (never a consumer).
class SpinLock
{
public:
    void lock() noexcept
    {
        // Memory ordering: acquire pairs with the release in unlock(), so the next writer
        // sees the previous writer's ring state (m_write_pos and friends).
        if (!m_locked.exchange(true, std::memory_order_acquire)) return;
        LockSlow();
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

//! The producer of one ring, with up to MAX_READERS readers. Writers on several threads are
//! serialised by m_lock; inside the lock the ring is single-producer, and each reader
//! consumes it independently from its own position.
//!
//! Memory ordering: a record's bytes are written before the release store of
//! RingControl::write_pos that covers them; a reader's acquire load of write_pos makes them
//! visible. Each reader's release store of CursorSlot::read_pos, acquire-loaded here, orders
//! its last read of a record before our reuse of that space.
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
               const RingClock& clock, uint64_t slow_reader_ns) noexcept
        : m_subsystem{subsystem}, m_control{control}, m_lines{reader_lines},
          m_max_readers{std::min(max_readers, MAX_READERS)}, m_data{data},
          m_capacity{capacity}, m_mask{capacity - 1}, m_max_record{capacity / MAX_RECORD_DIVISOR},
          m_slow_reader_ns{slow_reader_ns}, m_global{global}, m_clock{clock}
    {
    }
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

    //! Writes one record whose payload is `payload_size` bytes, produced by
    //! `fill(uint8_t* dst)` straight into the ring. Never waits for a consumer (unless a
    //! reader asked for lossless delivery, and then within its wait and its lease's budget),
    //! never allocates, never throws; a record that cannot be written is counted by cause and
    //! still takes a sequence number.
    template <typename Fill>
    DropCause Write(uint16_t type, uint64_t payload_size, uint16_t flags, Fill&& fill) noexcept
    {
        const uint64_t length = RECORD_HEADER_SIZE + payload_size;
        m_lock.lock();
        if (!m_enabled || !Selected(type)) {
            // Turned off between the caller's check and the lock: not attempted for any reader.
            m_lock.unlock();
            return DropCause::Disabled;
        }
        const uint64_t seq = m_seq++;
        m_control->seq.store(m_seq, std::memory_order_relaxed);
        if (length > m_max_record) {
            Count(m_control->dropped_too_big, m_dropped_too_big);
            m_loss_pending = true;
            m_lock.unlock();
            return DropCause::TooBig;
        }
        const uint64_t record = AlignedRecordSize(length);
        uint64_t pos = m_write_pos;
        uint64_t offset = pos & m_mask;
        const uint64_t padding = offset + record > m_capacity ? m_capacity - offset : 0;
        const uint64_t end = pos + padding + record;
        if (end - m_tail > m_capacity) {
            const DropCause cause = WaitForRoom(end);
            if (cause != DropCause::None) {
                m_lock.unlock();
                return cause;
            }
        }
        if (padding != 0) {
            // Only length and type of a padding record are meaningful; it may be 8 bytes.
            auto* pad = reinterpret_cast<RecordHeader*>(m_data + offset);
            pad->length = static_cast<uint32_t>(padding);
            pad->type = static_cast<uint16_t>(EventType::Padding);
            pad->flags = 0;
            pos += padding;
            offset = 0;
        }
        auto* header = reinterpret_cast<RecordHeader*>(m_data + offset);
        header->length = static_cast<uint32_t>(length);
        header->type = type;
        header->flags =
            static_cast<uint16_t>(flags | (m_loss_pending ? RECORD_FLAG_LOSS_PRECEDES : 0));
        header->seq = seq;
        // Read after the space is reserved, under the lock, and never below the ring's last
        // timestamp: RingClock::Now() is not ordered against taking the lock.
        m_last_timestamp_ns = std::max(m_last_timestamp_ns, m_clock.Now());
        header->timestamp_ns = m_last_timestamp_ns;
        fill(m_data + offset + RECORD_HEADER_SIZE);
        m_loss_pending = false;
        if (flags & RECORD_FLAG_TRUNCATED) Count(m_control->truncated, m_truncated);
        m_write_pos = pos + record;
        // Publishes the record (pairs with RingReader's acquire load of write_pos).
        m_control->write_pos.store(m_write_pos, std::memory_order_release);
        m_lock.unlock();
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
    //! Adds a reader that starts at the current write position, with its cursor at `cursor`
    //! (in its lease's memory, which must stay mapped until RemoveReader) and its lease's
    //! lossless budget (which must outlive it too). Turns on the events it asks for.
    Added AddReader(const ReaderOptions& options, CursorSlot* cursor,
                    LosslessBudget* budget) noexcept;
    //! Takes the reader of `slot` away for good (its lease ended): the slot's generation moves
    //! on (unless the ring is sealed: a reader drains a stopped producer's records first), the
    //! producer stops reading its cursor and forgets it, and events nobody else asked for go
    //! back to the off price. `generation` is the one AddReader returned.
    void RemoveReader(uint32_t slot, uint64_t generation) noexcept;
    //! Stops this ring from touching the process-wide tracepoint switches: for a producer
    //! that lost the race to be the global one, whose rings must not turn off the winner's.
    void DetachFromSwitches() noexcept
    {
        m_lock.lock();
        m_global = false;
        m_lock.unlock();
    }
    //! For the producer's shutdown: stops writing for good but keeps every reader's
    //! generation and position and every published record, so readers drain what was written
    //! before they learn that the producer exited.
    void Seal() noexcept;
    RingStats Stats() const;
    //! The ring's counters plus only the reader of `slot` (its backlog and idle time).
    RingStats ReaderStats(uint32_t slot, uint64_t generation) const;

private:
    //! One reader as the producer knows it. Guarded by m_lock; `cursor` is also guarded by
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

    //! With m_lock held: whether some reader asked for `type` (embedders' own types, from
    //! EventType::UserFirst on, are not subject to the event mask).
    bool Selected(uint16_t type) const noexcept
    {
        const uint32_t bit = uint32_t(type) - RingFirstType(m_subsystem);
        return type >= static_cast<uint16_t>(EventType::UserFirst) ||
               (bit < EVENTS_PER_RING_MAX && ((m_event_mask >> bit) & 1) != 0);
    }
    //! Called with m_lock held when the cached tail says the ring is full.
    DropCause WaitForRoom(uint64_t end) noexcept;
    //! Acquire-loads and validates every reader's read_pos (a bad one detaches that reader)
    //! and recomputes m_tail.
    void RefreshReaders() noexcept;
    //! With m_lock held: whether reader `r` has room for a record ending at `end`.
    bool HasRoom(const Reader& r, uint64_t end) const noexcept
    {
        return end - r.read_pos <= m_capacity;
    }
    //! With m_lock held: the dropping side of a full ring; may detach overdue slow readers.
    //! Returns None if that made room.
    DropCause DropOrEvict(uint64_t end, DropCause cause) noexcept;
    //! With m_lock held: the reader of `slot` drops instead of being waited for, for good
    //! (its lease used up its lossless budget); the caller recomputes the union.
    void DowngradeLocked(uint32_t slot) noexcept;
    //! With m_lock held: a reader leaves the ring (its line says why).
    void DetachLocked(uint32_t slot, DetachReason reason) noexcept;
    //! With m_lock held: recomputes the union of the readers' options and the switches.
    void RecomputeLocked() noexcept;
    //! Takes m_lock, asking a writer in a lossless wait to give up first.
    void LockOutWriters() noexcept;
    void SetEventSwitches(uint64_t mask) noexcept;
    //! Single writer (m_lock held): a relaxed store of a local count, no RMW on shm.
    static void Count(std::atomic<uint64_t>& shared, uint64_t& local) noexcept
    {
        shared.store(++local, std::memory_order_relaxed);
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
    //! Whether this ring drives the process-wide tracepoint switches. Cleared by
    //! DetachFromSwitches() before any reader could be added, and only read under m_lock.
    bool m_global;

    //! RemoveReader()/Seal() calls waiting for m_lock: while non-zero, a writer in a lossless
    //! wait (which holds m_lock) gives up at once. A count, so one caller finishing does not
    //! cancel another's request. Relaxed: it only shortens a wait; the lock orders the rest.
    std::atomic<uint32_t> m_abort_waits{0};
    mutable SpinLock m_lock;
    //! Held (before m_lock) by AddReader/RemoveReader and by Stats, which follows readers'
    //! cursor pointers without m_lock; node threads never take it.
    mutable std::mutex m_table_mutex;
    //! The producer's clock: Now() may be called from any thread, without a lock.
    const RingClock& m_clock;
    // Guarded by m_lock.
    uint64_t m_last_timestamp_ns{0};
    std::array<Reader, MAX_READERS> m_readers{};
    uint32_t m_reader_count{0}; //!< active readers
    bool m_enabled{false};
    bool m_sealed{false};
    bool m_loss_pending{false};
    static constexpr uint64_t NO_STALL = ~uint64_t{0};
    uint64_t m_write_pos{0};
    //! The smallest read_pos of the active readers (m_write_pos with none).
    uint64_t m_tail{0};
    uint64_t m_seq{0};
    uint64_t m_ring_generation{0};
    uint64_t m_event_mask{0};
    uint64_t m_dropped_full{0};
    uint64_t m_dropped_too_big{0};
    uint64_t m_dropped_reader_reset{0};
    uint64_t m_dropped_timeout{0};
    uint64_t m_cursor_violations{0};
    uint64_t m_truncated{0};
    uint64_t m_lossless_downgrades{0};
    uint64_t m_readers_evicted{0};
    //! Process-local copy of the readers' payload limit, read by emitters before the lock.
    std::atomic<uint64_t> m_payload_limit{0};
};

} // namespace tracering::detail

#endif // TRACERING_PRODUCER_RING_WRITER_H
