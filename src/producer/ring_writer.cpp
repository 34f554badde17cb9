// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "producer/ring_writer.h"

#include <chrono>
#include <thread>

#include "common/reader_progress.h"
#include <sys/mman.h>

namespace tracering::detail {

std::atomic<RingWriter*> g_event_writers[EVENT_SLOTS]{};

RingWriter::RingWriter(Subsystem subsystem, RingControl* control, ReaderControl* reader_lines,
                       uint32_t max_readers, uint8_t* data, uint64_t capacity, bool global,
                       const RingClock& clock, uint64_t slow_reader_ns,
                       uint64_t commit_key) noexcept
    : m_subsystem{subsystem}, m_control{control}, m_lines{reader_lines},
      m_max_readers{std::min(max_readers, MAX_READERS)}, m_data{data},
      m_capacity{capacity}, m_mask{capacity - 1}, m_max_record{capacity / MAX_RECORD_DIVISOR},
      m_slow_reader_ns{slow_reader_ns}, m_commit_key{commit_key}, m_global{global}, m_clock{clock}
{
}

DropCause RingWriter::Drop(DropCause cause) noexcept
{
    Reservation cur = LoadReservation();
    while (!CompareExchange(ReserveWord(), cur, Reservation{cur.pos, cur.seq + 1})) {
    }
    PublishDrop(Reservation{cur.pos & ~SEALED, cur.seq + 1});
    switch (cause) {
    case DropCause::TooBig:
        Count(m_control->dropped_too_big);
        break;
    case DropCause::Full:
        Count(m_control->dropped_full);
        break;
    case DropCause::Timeout:
        Count(m_control->dropped_timeout);
        break;
    case DropCause::ReaderReset:
        Count(m_control->dropped_reader_reset);
        break;
    case DropCause::None:
    case DropCause::Disabled:
        return cause;
    }
    m_loss_pending.store(true, std::memory_order_relaxed);
    return cause;
}

void RingWriter::PublishDrop(Reservation after) noexcept
{
    // RingControl::drop_pos and drop_seq, 16-aligned (abi.h asserts their offsets; the
    // control lines start at a multiple of CACHE_LINE in a page-aligned mapping).
    // A torn first look only fails the first compare-and-swap, which then returns the pair.
    Reservation seen{
        std::atomic_ref<uint64_t>{m_control->drop_pos}.load(std::memory_order_relaxed),
        std::atomic_ref<uint64_t>{m_control->drop_seq}.load(std::memory_order_relaxed)};
    // Forward only: a later drop published first stays (it covers this one).
    while (seen.seq < after.seq) {
        if (CompareExchange(&m_control->drop_pos, seen, after)) return;
    }
}

DropCause RingWriter::MakeRoom(uint64_t end) noexcept
{
    if (m_slow.try_lock()) {
        const DropCause cause = WaitForRoom(end);
        m_slow.unlock();
        return cause;
    }
    // Another writer is in the slow path: it refreshes the tail. Re-check for a while, but
    // never wait for that writer itself.
    const uint64_t start = MonotonicNs();
    const uint64_t patience =
        std::max(SLOW_SPIN_NS, m_lossless_wait_ns.load(std::memory_order_relaxed));
    for (uint32_t spins = 0;; ++spins) {
        if (TailHasRoom(end)) return DropCause::None;
        if (!m_enabled.load(std::memory_order_relaxed)) return DropCause::ReaderReset;
        if (m_slow.try_lock()) {
            const DropCause cause = WaitForRoom(end);
            m_slow.unlock();
            return cause;
        }
        if (spins < 64) {
            CpuRelax();
        } else {
            std::this_thread::yield();
        }
        if ((spins & 15) == 15 && MonotonicNs() - start > patience) return DropCause::Full;
    }
}

void RingWriter::RefreshReaders() noexcept
{
    const uint64_t reserved = ReservedPos() & ~SEALED;
    uint64_t tail = reserved;
    for (uint32_t i = 0; i < m_max_readers; ++i) {
        Reader& r = m_readers[i];
        if (!r.active) continue;
        // Pairs with the reader's release store: its reads of the records below read_pos
        // happened before we reuse their space.
        const uint64_t read_pos = r.cursor->read_pos.load(std::memory_order_acquire);
        if ((read_pos & (RECORD_ALIGN - 1)) != 0 || read_pos < r.read_pos || read_pos > reserved) {
            // A hostile or broken reader. Never trust it again: detach it, carry on.
            Count(m_control->cursor_violations);
            DetachLocked(i, DetachReason::CursorViolation);
            continue;
        }
        if (read_pos != r.read_pos) {
            r.read_pos = read_pos;
            m_lines[i].read_pos_seen.store(read_pos, std::memory_order_relaxed);
        }
        tail = std::min(tail, read_pos);
    }
    if (m_reader_count != 0) m_tail.store(tail, std::memory_order_release);
}

DropCause RingWriter::DropOrEvict(uint64_t end, DropCause cause) noexcept
{
    if (m_reader_count > 1 && m_slow_reader_ns != 0) {
        // Several readers: one that keeps the ring full for too long is detached, so the
        // others stop paying for it.
        const uint64_t now = MonotonicNs();
        bool evicted = false;
        for (uint32_t i = 0; i < m_max_readers && m_reader_count > 1; ++i) {
            Reader& r = m_readers[i];
            if (!r.active || HasRoom(r, end)) continue;
            if (r.blocked_since_ns == 0) {
                r.blocked_since_ns = now;
            } else if (now - r.blocked_since_ns > m_slow_reader_ns) {
                Count(m_control->readers_evicted);
                DetachLocked(i, DetachReason::SlowReader);
                evicted = true;
            }
        }
        if (evicted && TailHasRoom(end)) return DropCause::None;
    }
    return cause; // counted by Drop()
}

DropCause RingWriter::WaitForRoom(uint64_t end) noexcept
{
    RefreshReaders();
    if (m_reader_count == 0) {
        // Every reader was detached (bad cursors): nobody to write for.
        return DropCause::ReaderReset;
    }
    // Readers with room are not blocking (any more).
    Reader* waiter = nullptr;
    for (uint32_t i = 0; i < m_max_readers; ++i) {
        Reader& r = m_readers[i];
        if (!r.active) continue;
        if (HasRoom(r, end)) {
            r.blocked_since_ns = 0;
            continue;
        }
        if (r.lossless && r.budget->exhausted()) {
            // Its lease used up its budget on another ring.
            DowngradeLocked(i);
            RecomputeLocked();
        }
        if (r.lossless && r.read_pos != r.stalled_at && waiter == nullptr) waiter = &r;
    }
    if (TailHasRoom(end)) return DropCause::None;
    if (waiter == nullptr) {
        // Nobody to wait for (lossy readers, or lossless ones that have not moved since a
        // wait for them timed out: stopped or wedged, so each event would wait in vain).
        bool stalled = false;
        for (const Reader& r : m_readers) {
            stalled |= r.active && r.lossless && !HasRoom(r, end);
        }
        return DropOrEvict(end, stalled ? DropCause::Timeout : DropCause::Full);
    }
    // Lossless: the reader asked us to wait for it, within its wait and its lease's budget.
    // Spin first (a reader that keeps up frees room within microseconds), then yield, then
    // sleep briefly.
    const uint64_t start = MonotonicNs();
    const uint64_t allowed = std::min(waiter->wait_ns, waiter->budget->Available(start));
    m_writers_waiting.fetch_add(1, std::memory_order_relaxed);
    struct Done {
        std::atomic<uint32_t>& count;
        ~Done() { count.fetch_sub(1, std::memory_order_relaxed); }
    } done{m_writers_waiting};
    const uint64_t deadline = start + allowed;
    LosslessBudget* const budget = waiter->budget;
    const size_t waiter_slot = static_cast<size_t>(waiter - m_readers.data());
    auto charge = [&](uint64_t now) {
        const uint64_t waited = now - start;
        m_lines[waiter_slot].waited_ns.fetch_add(waited, std::memory_order_relaxed);
        return budget->Charge(waited, now);
    };
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
        if (m_abort_waits.load(std::memory_order_relaxed) != 0) {
            // A lease is ending or the producer is stopping: do not make it wait.
            charge(MonotonicNs());
            return DropCause::ReaderReset;
        }
        RefreshReaders();
        if (m_reader_count == 0) {
            charge(MonotonicNs());
            return DropCause::ReaderReset;
        }
        if (TailHasRoom(end)) {
            charge(MonotonicNs());
            return DropCause::None;
        }
        if (!waiter->active) {
            // The reader we waited for was detached (a bad cursor); the ones left are lossy.
            charge(MonotonicNs());
            return DropOrEvict(end, DropCause::Full);
        }
        const uint64_t after = MonotonicNs();
        if (after > deadline) {
            const bool exhausted = charge(after);
            for (uint32_t i = 0; i < m_max_readers; ++i) {
                Reader& r = m_readers[i];
                if (!r.active || !r.lossless || HasRoom(r, end)) continue;
                r.stalled_at = r.read_pos;
                if (exhausted && r.budget == budget) {
                    // The lease's waits add up to its whole budget: it drops from now on.
                    DowngradeLocked(i);
                }
            }
            if (exhausted) RecomputeLocked();
            return DropOrEvict(end, DropCause::Timeout);
        }
    }
}

void RingWriter::DowngradeLocked(uint32_t slot) noexcept
{
    m_readers[slot].lossless = false;
    m_lines[slot].downgraded.store(1, std::memory_order_relaxed);
    Count(m_control->lossless_downgrades);
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

void RingWriter::RecomputeLocked() noexcept
{
    uint64_t mask = 0;
    uint64_t limit = 0;
    bool limit_none = false;
    uint32_t count = 0;
    uint32_t lossless = 0;
    uint64_t longest_wait = 0;
    uint64_t tail = ReservedPos() & ~SEALED;
    for (const Reader& r : m_readers) {
        if (!r.active) continue;
        ++count;
        lossless += r.lossless ? 1 : 0;
        if (r.lossless) longest_wait = std::max(longest_wait, r.wait_ns);
        mask |= r.event_mask;
        // The largest limit anyone asked for, so every reader gets at least its own.
        if (r.payload_limit == 0) limit_none = true;
        limit = std::max(limit, r.payload_limit);
        tail = std::min(tail, r.read_pos);
    }
    if (limit_none) limit = 0;
    m_reader_count = count;
    // Without readers the tail is unused (writers are off); a reader added later sets it.
    if (count != 0) m_tail.store(tail, std::memory_order_release);
    const uint64_t event_mask = m_sealed ? 0 : mask;
    const bool enabled = !m_sealed && count != 0;
    m_event_mask.store(event_mask, std::memory_order_relaxed);
    m_enabled.store(enabled, std::memory_order_relaxed);
    m_lossless_wait_ns.store(longest_wait, std::memory_order_relaxed);
    m_payload_limit.store(limit, std::memory_order_relaxed);
    m_control->payload_limit.store(limit, std::memory_order_relaxed);
    m_control->event_mask.store(event_mask, std::memory_order_relaxed);
    m_control->reader_count.store(count, std::memory_order_relaxed);
    m_control->lossless_readers.store(lossless, std::memory_order_relaxed);
    m_control->enabled.store(enabled ? 1 : 0, std::memory_order_release);
    // Under m_slow: a RemoveReader() or a cursor violation right after this must find the
    // switches as they are now, not have them changed behind it.
    SetEventSwitches(enabled ? event_mask : 0);
}

void RingWriter::DetachLocked(uint32_t slot, DetachReason reason) noexcept
{
    Reader& r = m_readers[slot];
    if (!r.active) return;
    r.active = false;
    ReaderControl& line = m_lines[slot];
    line.state.store(static_cast<uint32_t>(ReaderState::Detached), std::memory_order_relaxed);
    line.detach_reason.store(static_cast<uint32_t>(reason), std::memory_order_relaxed);
    // Publishes the state and reason to a reader that acquires its generation.
    line.generation.store(++r.generation, std::memory_order_release);
    m_control->generation.store(++m_ring_generation, std::memory_order_relaxed);
    RecomputeLocked();
}

bool RingWriter::WaitCommitted(uint64_t end) const noexcept
{
    if (m_reader_count == 0) return true; // nobody reads what is left
    const uint64_t start = MonotonicNs();
    uint64_t pos = m_tail.load(std::memory_order_acquire);
    for (uint32_t spins = 0; pos < end; ++spins) {
        const uint64_t offset = pos & m_mask;
        const uint64_t left = m_capacity - offset;
        if (left < RECORD_HEADER_SIZE) {
            pos += left;
            continue;
        }
        auto* at = m_data + offset;
        if (RecordCommitted(at, pos, m_commit_key)) {
            const auto* h = reinterpret_cast<const RecordHeader*>(at);
            pos += h->type == static_cast<uint16_t>(EventType::Padding)
                       ? left
                       : AlignedRecordSize(std::max<uint64_t>(h->length, RECORD_HEADER_SIZE));
            continue;
        }
        if (spins < 64) {
            CpuRelax();
        } else if (MonotonicNs() - start > STUCK_WAIT_NS) {
            return false;
        } else {
            std::this_thread::yield();
        }
    }
    return true;
}

RingWriter::Added RingWriter::AddReader(const ReaderOptions& options, CursorSlot* cursor,
                                        LosslessBudget* budget) noexcept
{
    // Fault the data pages in now, on the caller's (control) thread, so the first lap of a
    // fresh ring does not take a page fault per 4 KiB inside tracepoints. Contents are not
    // changed, so this needs no lock; it is best effort (kernels before 5.14 lack it).
#if defined(__linux__)
    constexpr int POPULATE_WRITE = 23; // MADV_POPULATE_WRITE
    (void)::madvise(m_data, m_capacity, POPULATE_WRITE);
#endif
    std::lock_guard table{m_table_mutex};
    LockOutWriters();
    Added added;
    if (m_sealed) {
        added.result = AddResult::Sealed;
        m_slow.unlock();
        return added;
    }
    uint32_t slot = m_max_readers;
    for (uint32_t i = 0; i < m_max_readers; ++i) {
        if (m_readers[i].cursor == nullptr) {
            slot = i;
            break;
        }
    }
    if (slot == m_max_readers) {
        added.result = AddResult::Full;
        m_slow.unlock();
        return added;
    }
    // Where the reader starts: a reservation word read atomically (a compare-and-swap with
    // itself), so the position and the sequence number belong together: the record reserved
    // next starts there and has at least that seq.
    Reservation at = LoadReservation();
    while (!CompareExchange(ReserveWord(), at, at)) {
    }
    Reader& r = m_readers[slot];
    const uint64_t generation = r.generation;
    r = Reader{};
    r.generation = generation;
    r.cursor = cursor;
    r.budget = budget;
    r.active = true;
    r.lossless = options.lossless;
    r.read_pos = at.pos;
    r.event_mask = options.event_mask;
    r.payload_limit = options.payload_limit;
    r.wait_ns = options.lossless_wait_ns;
    r.stalled_at = NO_STALL;
    // Drops before the first reader are nobody's loss.
    if (m_reader_count == 0) m_loss_pending.store(false, std::memory_order_relaxed);
    // The cursor memory is fresh and not handed over yet: we write its start once.
    cursor->read_pos.store(at.pos, std::memory_order_relaxed);
    cursor->heartbeat_ns.store(MonotonicNs(), std::memory_order_relaxed);
    ReaderControl& line = m_lines[slot];
    line.state.store(static_cast<uint32_t>(ReaderState::Reading), std::memory_order_relaxed);
    line.detach_reason.store(static_cast<uint32_t>(DetachReason::None), std::memory_order_relaxed);
    line.attach_pos.store(at.pos, std::memory_order_relaxed);
    line.attach_seq.store(at.seq, std::memory_order_relaxed);
    line.event_mask.store(options.event_mask, std::memory_order_relaxed);
    line.payload_limit.store(options.payload_limit, std::memory_order_relaxed);
    line.lossless.store(options.lossless ? 1 : 0, std::memory_order_relaxed);
    line.downgraded.store(0, std::memory_order_relaxed);
    line.reader_pid.store(options.pid, std::memory_order_relaxed);
    line.reader_uid.store(options.uid, std::memory_order_relaxed);
    line.waited_ns.store(0, std::memory_order_relaxed);
    line.read_pos_seen.store(at.pos, std::memory_order_relaxed);
    // Publishes the line to a reader that acquires the generation it was granted.
    line.generation.store(++r.generation, std::memory_order_release);
    m_control->generation.store(++m_ring_generation, std::memory_order_relaxed);
    // The first reader sets the tail before writers are switched on; a later one is at or
    // after the tail already (it starts where writers have reserved up to).
    if (m_reader_count == 0) m_tail.store(at.pos, std::memory_order_release);
    RecomputeLocked();
    added.result = AddResult::Added;
    added.slot = slot;
    added.generation = r.generation;
    m_slow.unlock();
    return added;
}

void RingWriter::LockOutWriters() noexcept
{
    // A writer in a lossless wait holds m_slow; make it give up now rather than after its
    // whole bounded wait.
    m_abort_waits.fetch_add(1, std::memory_order_relaxed);
    m_slow.lock();
    m_abort_waits.fetch_sub(1, std::memory_order_relaxed);
}

void RingWriter::RemoveReader(uint32_t slot, uint64_t generation) noexcept
{
    if (slot >= m_max_readers) return;
    std::lock_guard table{m_table_mutex};
    LockOutWriters();
    Reader& r = m_readers[slot];
    // The lease's own slot: its generation moves only through us, once detached (by a bad
    // cursor or as a slow reader) it is one further.
    if (r.cursor != nullptr && (r.generation == generation || r.generation == generation + 1)) {
        // Sealed: keep the line as it is, so the reader drains what was written before the
        // producer stopped; only forget the cursor (its memory goes with the lease).
        if (!m_sealed) {
            DetachLocked(slot, DetachReason::LeaseEnded); // recomputes the readers' union
        } else if (r.active) {
            r.active = false;
            RecomputeLocked();
        }
        r.cursor = nullptr;
        r.budget = nullptr;
    }
    m_slow.unlock();
}

void RingWriter::Seal() noexcept
{
    LockOutWriters();
    // No reservation succeeds after the bit is set; a writer that passed its switch check
    // before finds it and writes nothing. The switches are cleared under m_slow, after
    // m_sealed is set, so an AddReader() racing this cannot turn them on again (it checks
    // m_sealed under m_slow).
    Reservation cur = LoadReservation();
    while (!CompareExchange(ReserveWord(), cur, Reservation{cur.pos | SEALED, cur.seq})) {
    }
    // Records reserved before the seal are committed before the producer says it exited,
    // unless a writer thread stopped in the middle of one (readers then report it).
    (void)WaitCommitted(cur.pos & ~SEALED);
    m_sealed = true;
    RecomputeLocked();
    m_slow.unlock();
}

RingStats RingWriter::Stats() const { return ReaderStats(MAX_READERS, 0); }

RingStats RingWriter::ReaderStats(uint32_t only_slot, uint64_t only_generation) const
{
    RingStats s;
    s.subsystem = m_subsystem;
    s.name = std::string{SUBSYSTEM_NAMES[static_cast<uint16_t>(m_subsystem)]};
    s.capacity = m_capacity;
    // From the ring's published lines, without the writer lock: a writer in a lossless wait
    // holds the lock for up to its bounded wait, and the control thread must not stall on
    // it. Each value is exact as of its load (write_pos and seq are the reservation word
    // itself); together they may be a few events apart.
    const RingControl& c = *m_control;
    s.enabled = c.enabled.load(std::memory_order_relaxed) != 0;
    s.lossless = c.lossless_readers.load(std::memory_order_relaxed) != 0;
    s.event_mask = c.event_mask.load(std::memory_order_relaxed);
    s.payload_limit = m_payload_limit.load(std::memory_order_relaxed);
    s.generation = c.generation.load(std::memory_order_relaxed);
    s.write_pos = c.write_pos.load(std::memory_order_relaxed) & ~SEALED;
    s.writers_waiting = m_writers_waiting.load(std::memory_order_relaxed);
    s.seq = c.seq.load(std::memory_order_relaxed);
    s.dropped_full = c.dropped_full.load(std::memory_order_relaxed);
    s.dropped_too_big = c.dropped_too_big.load(std::memory_order_relaxed);
    s.dropped_reader_reset = c.dropped_reader_reset.load(std::memory_order_relaxed);
    s.dropped_timeout = c.dropped_timeout.load(std::memory_order_relaxed);
    s.cursor_violations = c.cursor_violations.load(std::memory_order_relaxed);
    s.truncated = c.truncated.load(std::memory_order_relaxed);
    s.lossless_downgrades = c.lossless_downgrades.load(std::memory_order_relaxed);
    s.readers_evicted = c.readers_evicted.load(std::memory_order_relaxed);
    s.reader_count = c.reader_count.load(std::memory_order_relaxed);
    const uint64_t now = MonotonicNs();
    std::lock_guard table{m_table_mutex};
    for (uint32_t i = 0; i < m_max_readers; ++i) {
        const ReaderControl& line = m_lines[i];
        const CursorSlot* cursor = m_readers[i].cursor; // stable under m_table_mutex
        if (only_slot < MAX_READERS &&
            (i != only_slot ||
             line.generation.load(std::memory_order_relaxed) != only_generation)) {
            continue;
        }
        auto found = ReaderFromLine(line, i);
        if (!found || cursor == nullptr) continue;
        FillReaderProgress(*cursor, s.write_pos, s.capacity, now, *found);
        s.readers.push_back(*found);
    }
    s.SummariseReaders();
    return s;
}

} // namespace tracering::detail
