// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "producer/ring_writer.h"

#include <chrono>
#include <thread>

#include "common/reader_progress.h"
#include <sys/mman.h>

namespace tracering::detail {

std::atomic<RingWriter*> g_event_writers[EVENT_SLOTS]{};

bool RingWriter::RefreshReadPos() noexcept
{
    // Pairs with the consumer's release store: its reads of the records below read_pos
    // happened before we reuse their space.
    const uint64_t read_pos = m_cursor->read_pos.load(std::memory_order_acquire);
    if ((read_pos & (RECORD_ALIGN - 1)) != 0 || read_pos < m_read_pos_cache ||
        read_pos > m_write_pos) {
        // A hostile or broken reader. Never trust it again: detach it, reset, carry on.
        Count(m_control->cursor_violations, m_cursor_violations);
        ResetLocked(/*enable=*/false);
        return false;
    }
    m_read_pos_cache = read_pos;
    return true;
}

DropCause RingWriter::WaitForRoom(uint64_t end) noexcept
{
    if (!RefreshReadPos()) {
        Count(m_control->dropped_reader_reset, m_dropped_reader_reset);
        return DropCause::ReaderReset;
    }
    if (end - m_read_pos_cache <= m_capacity) return DropCause::None;
    if (!m_lossless) {
        Count(m_control->dropped_full, m_dropped_full);
        m_loss_pending = true;
        return DropCause::Full;
    }
    if (m_read_pos_cache == m_stalled_at) {
        // The reader has not moved since a wait timed out: it is stopped or wedged. Waiting
        // the whole bound again for every event would stall the node indefinitely, so drop
        // until it reads again.
        Count(m_control->dropped_timeout, m_dropped_timeout);
        m_loss_pending = true;
        return DropCause::Timeout;
    }
    // Lossless: the reader asked us to wait for it, for a bounded time. Spin first (a reader
    // that keeps up frees room within microseconds), then yield, then sleep briefly.
    const uint64_t start = MonotonicNs();
    const uint64_t deadline = start + m_lossless_wait_ns;
    for (;;) {
        const uint64_t now = MonotonicNs();
        if (now - start < 20'000) {
            for (int i = 0; i < 16; ++i)
                CpuRelax();
        } else if (now - start < 2'000'000) {
            std::this_thread::yield();
        } else {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
        if (!RefreshReadPos() || m_abort_waits.load(std::memory_order_relaxed) != 0) {
            // A bad cursor, or the ring is being disabled (the lease ended): the reader
            // this wait was for is gone.
            Count(m_control->dropped_reader_reset, m_dropped_reader_reset);
            return DropCause::ReaderReset;
        }
        if (end - m_read_pos_cache <= m_capacity) return DropCause::None;
        if (MonotonicNs() > deadline) {
            m_stalled_at = m_read_pos_cache;
            Count(m_control->dropped_timeout, m_dropped_timeout);
            m_loss_pending = true;
            return DropCause::Timeout;
        }
    }
}

void RingWriter::SetEventSwitches(uint64_t mask) noexcept
{
    if (!m_global) return;
    const uint16_t first = RingFirstType(m_subsystem);
    for (uint32_t i = 0; i < EVENTS_PER_RING_MAX; ++i) {
        RingWriter* value = (mask >> i) & 1 ? this : nullptr;
        g_event_writers[first + i].store(value, std::memory_order_relaxed);
    }
}

void RingWriter::ResetLocked(bool enable) noexcept
{
    // The reader's position is void; the next reader starts at the current write position.
    m_read_pos_cache = m_write_pos;
    m_cursor->read_pos.store(m_write_pos, std::memory_order_relaxed);
    m_loss_pending = false;
    m_stalled_at = NO_STALL;
    m_enabled = enable;
    if (!enable) {
        SetEventSwitches(0);
        m_event_mask = 0;
        m_control->event_mask.store(0, std::memory_order_relaxed);
        m_control->reader_pid.store(0, std::memory_order_relaxed);
    }
    m_control->attach_seq.store(m_seq, std::memory_order_relaxed);
    m_control->attach_pos.store(m_write_pos, std::memory_order_relaxed);
    // Publishes attach_seq and the reset cursor to a reader that acquires generation.
    m_control->generation.store(++m_generation, std::memory_order_release);
    m_control->enabled.store(enable ? 1 : 0, std::memory_order_release);
}

bool RingWriter::Enable(const EnableOptions& options) noexcept
{
    // Fault the data pages in now, on the caller's (control) thread, so the first lap of a
    // fresh ring does not take a page fault per 4 KiB inside tracepoints. Contents are not
    // changed, so this needs no lock; it is best effort (kernels before 5.14 lack it).
#if defined(__linux__)
    constexpr int POPULATE_WRITE = 23; // MADV_POPULATE_WRITE
    (void)::madvise(m_data, m_capacity, POPULATE_WRITE);
#endif
    m_lock.lock();
    if (m_sealed) {
        m_lock.unlock();
        return false;
    }
    m_lossless = options.lossless;
    m_lossless_wait_ns = options.lossless_wait_ns;
    m_event_mask = options.event_mask;
    m_payload_limit.store(options.payload_limit, std::memory_order_relaxed);
    m_control->payload_limit.store(options.payload_limit, std::memory_order_relaxed);
    m_control->lossless.store(options.lossless ? 1 : 0, std::memory_order_relaxed);
    m_control->event_mask.store(options.event_mask, std::memory_order_relaxed);
    m_control->reader_pid.store(options.reader_pid, std::memory_order_relaxed);
    // The lease holder is the ring's reader now, whatever an earlier reader claimed.
    m_cursor->reader_pid.store(options.reader_pid, std::memory_order_relaxed);
    m_cursor->heartbeat_ns.store(MonotonicNs(), std::memory_order_relaxed);
    ResetLocked(/*enable=*/true);
    // Under the lock: a Disable() or a cursor violation right after this must find the
    // switches on, to turn them off, not have them turned on again behind it.
    SetEventSwitches(options.event_mask);
    m_lock.unlock();
    return true;
}

void RingWriter::LockOutWriters() noexcept
{
    SetEventSwitches(0);
    // A writer in a lossless wait holds the lock; make it give up now rather than after
    // its whole bounded wait.
    m_abort_waits.fetch_add(1, std::memory_order_relaxed);
    m_lock.lock();
    m_abort_waits.fetch_sub(1, std::memory_order_relaxed);
}

void RingWriter::Disable() noexcept
{
    LockOutWriters();
    if (!m_sealed) ResetLocked(/*enable=*/false);
    m_lock.unlock();
}

void RingWriter::Seal() noexcept
{
    LockOutWriters();
    // A writer that passed its switch check before this waits for the lock and then sees
    // m_enabled false: the last record is the one whose write_pos store came before here.
    m_sealed = true;
    m_enabled = false;
    m_control->enabled.store(0, std::memory_order_release);
    m_lock.unlock();
}

RingStats RingWriter::Stats() const noexcept
{
    RingStats s;
    s.subsystem = m_subsystem;
    s.name = std::string{SUBSYSTEM_NAMES[static_cast<uint16_t>(m_subsystem)]};
    s.capacity = m_capacity;
    // From the ring's published line, without the writer lock: a writer in a lossless wait
    // holds the lock for up to its bounded wait, and the control thread must not stall on
    // it. Each value is exact as the writer last stored it (single writer under the lock,
    // relaxed stores); together they may be a few events apart.
    const RingControl& c = *m_control;
    s.enabled = c.enabled.load(std::memory_order_relaxed) != 0;
    s.lossless = c.lossless.load(std::memory_order_relaxed) != 0;
    s.event_mask = c.event_mask.load(std::memory_order_relaxed);
    s.payload_limit = m_payload_limit.load(std::memory_order_relaxed);
    s.reader_pid = c.reader_pid.load(std::memory_order_relaxed);
    s.generation = c.generation.load(std::memory_order_relaxed);
    s.write_pos = c.write_pos.load(std::memory_order_relaxed);
    s.seq = c.seq.load(std::memory_order_relaxed);
    s.dropped_full = c.dropped_full.load(std::memory_order_relaxed);
    s.dropped_too_big = c.dropped_too_big.load(std::memory_order_relaxed);
    s.dropped_reader_reset = c.dropped_reader_reset.load(std::memory_order_relaxed);
    s.dropped_timeout = c.dropped_timeout.load(std::memory_order_relaxed);
    s.cursor_violations = c.cursor_violations.load(std::memory_order_relaxed);
    s.truncated = c.truncated.load(std::memory_order_relaxed);
    FillReaderProgress(*m_cursor, MonotonicNs(), s);
    return s;
}

} // namespace tracering::detail
