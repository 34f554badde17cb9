// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_PRODUCER_RING_WRITER_H
#define TRACERING_PRODUCER_RING_WRITER_H

#include <tracering/abi.h>
#include <tracering/events.h>
#include <tracering/producer.h>
#include <tracering/tracepoint.h>

#include <atomic>
#include <cstdint>
#include <cstring>
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

//! The single producer of one ring. Writers on several threads are serialised by m_lock;
//! inside the lock the ring is strictly SPSC with the consumer.
//!
//! Memory ordering: a record's bytes are written before the release store of
//! RingControl::write_pos that covers them; the consumer's acquire load of write_pos makes
//! them visible. The consumer's release store of CursorSlot::read_pos, acquire-loaded here,
//! orders its last read of a record before our reuse of that space.
class RingWriter
{
public:
    //! @param global whether this ring drives the process-wide tracepoint switches
    //! @param tsc_mult 0 for CLOCK_MONOTONIC timestamps, else the TSC calibration
    RingWriter(Subsystem subsystem, RingControl* control, CursorSlot* cursor, uint8_t* data,
               uint64_t capacity, bool global, uint64_t tsc_mult) noexcept
        : m_subsystem{subsystem}, m_control{control}, m_cursor{cursor}, m_data{data},
          m_capacity{capacity}, m_mask{capacity - 1},
          m_max_record{capacity / MAX_RECORD_DIVISOR}, m_global{global}, m_clock{tsc_mult}
    {
    }
    RingWriter(const RingWriter&) = delete;
    RingWriter& operator=(const RingWriter&) = delete;

    Subsystem subsystem() const noexcept { return m_subsystem; }
    uint64_t capacity() const noexcept { return m_capacity; }
    uint64_t max_record() const noexcept { return m_max_record; }
    //! The current reader's payload limit (0 = none). May lag a re-enable by one event.
    uint64_t payload_limit() const noexcept
    {
        return m_payload_limit.load(std::memory_order_relaxed);
    }
    //! Largest payload that fits in one record.
    uint64_t max_payload() const noexcept { return m_max_record - RECORD_HEADER_SIZE; }

    //! Writes one record whose payload is `payload_size` bytes, produced by
    //! `fill(uint8_t* dst)` straight into the ring. Never waits for a consumer (unless the
    //! reader asked for lossless delivery, and then at most lossless_wait_ns), never
    //! allocates, never throws; a record that cannot be written is counted by cause and
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
        if (end - m_read_pos_cache > m_capacity) {
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
        // Read after the space is reserved, under the lock: never goes backwards in a ring.
        header->timestamp_ns = m_clock.Now();
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
    //! Starts a new generation for a reader (see Producer::EnableRing). False once sealed.
    bool Enable(const EnableOptions& options) noexcept;
    //! Stops the ring; the reader's position becomes void. Does nothing once sealed.
    void Disable() noexcept;
    //! Stops this ring from touching the process-wide tracepoint switches: for a producer
    //! that lost the race to be the global one, whose rings must not turn off the winner's.
    void DetachFromSwitches() noexcept
    {
        m_lock.lock();
        m_global = false;
        m_lock.unlock();
    }
    //! For the producer's shutdown: stops writing for good but keeps the generation, the
    //! reader's position and every published record, so the reader can drain what was
    //! written before it learns that the producer exited.
    void Seal() noexcept;
    RingStats Stats() const noexcept;

private:
    //! With m_lock held: whether the reader asked for `type` (embedders' own types, from
    //! EventType::UserFirst on, are not subject to the event mask).
    bool Selected(uint16_t type) const noexcept
    {
        const uint32_t bit = uint32_t(type) - RingFirstType(m_subsystem);
        return type >= static_cast<uint16_t>(EventType::UserFirst) ||
               (bit < EVENTS_PER_RING_MAX && ((m_event_mask >> bit) & 1) != 0);
    }
    //! Called with m_lock held when the cached read position says the ring is full.
    DropCause WaitForRoom(uint64_t end) noexcept;
    //! Acquire-loads and validates read_pos. False on a violation (the ring was reset).
    bool RefreshReadPos() noexcept;
    //! For Disable() and Seal(): turns the switches off, asks a writer in a lossless wait to
    //! give up, and returns with m_lock held.
    void LockOutWriters() noexcept;
    //! With m_lock held: void the reader's position and turn the ring off.
    void ResetLocked(bool enable) noexcept;
    void SetEventSwitches(uint64_t mask) noexcept;
    //! Single writer (m_lock held): a relaxed store of a local count, no RMW on shm.
    static void Count(std::atomic<uint64_t>& shared, uint64_t& local) noexcept
    {
        shared.store(++local, std::memory_order_relaxed);
    }

    const Subsystem m_subsystem;
    RingControl* const m_control;
    CursorSlot* const m_cursor;
    uint8_t* const m_data;
    const uint64_t m_capacity;
    const uint64_t m_mask;
    const uint64_t m_max_record;
    //! Whether this ring drives the process-wide tracepoint switches. Cleared by
    //! Detach() before any reader could enable the ring, and only read under m_lock or by
    //! the control thread that enables it.
    bool m_global;

    //! Disable()/Seal() calls waiting for m_lock: while non-zero, a writer in a lossless wait
    //! (which holds m_lock) gives up at once. A count, so one caller finishing does not
    //! cancel another's request. Relaxed: it only shortens a wait; the lock orders the rest.
    std::atomic<uint32_t> m_abort_waits{0};
    mutable SpinLock m_lock;
    // Guarded by m_lock.
    RingClock m_clock;
    bool m_enabled{false};
    bool m_sealed{false};
    bool m_lossless{false};
    bool m_loss_pending{false};
    uint64_t m_lossless_wait_ns{0};
    //! The reader's position when a lossless wait last timed out; NO_STALL otherwise. While
    //! the reader stays there, writes drop at once instead of each waiting the whole bound.
    static constexpr uint64_t NO_STALL = ~uint64_t{0};
    uint64_t m_stalled_at{NO_STALL};
    uint64_t m_write_pos{0};
    uint64_t m_read_pos_cache{0};
    uint64_t m_seq{0};
    uint64_t m_generation{0};
    uint64_t m_event_mask{0};
    uint64_t m_dropped_full{0};
    uint64_t m_dropped_too_big{0};
    uint64_t m_dropped_reader_reset{0};
    uint64_t m_dropped_timeout{0};
    uint64_t m_cursor_violations{0};
    uint64_t m_truncated{0};
    //! Process-local copy of the reader's payload limit, read by emitters before the lock.
    std::atomic<uint64_t> m_payload_limit{0};
};

} // namespace tracering::detail

#endif // TRACERING_PRODUCER_RING_WRITER_H
