// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/consumer.h>
#include <tracering/producer.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <thread>

#include "common/clock.h"
#include "common/cpu.h"
#include "common/process.h"
#include "common/reader_progress.h"
#include "common/shm.h"

namespace tracering {
namespace {

std::string Hex(uint64_t v)
{
    char buf[24];
    std::snprintf(buf, sizeof(buf), "0x%016llx", static_cast<unsigned long long>(v));
    return buf;
}

//! Copies a NUL-terminated name out of a fixed field that may lack the NUL.
std::string FixedString(const char* field, size_t size)
{
    return std::string{field, strnlen(field, size)};
}

// The segment is untrusted: fields are read once, into locals, through these helpers.
template <typename T>
T Load(const T& field)
{
    T v;
    std::memcpy(&v, &field, sizeof(T));
    return v;
}

//! Whether the producer shut down cleanly (SegmentHeader::producer_state).
bool HasExited(const SegmentHeader* h)
{
    return h->producer_state.load(std::memory_order_acquire) ==
           static_cast<uint32_t>(ProducerState::Exited);
}

//! Whether the producer is gone without shutting down (crashed or killed). A producer stores
//! Exited just before it exits, so the state is read again once no process is found: read
//! only before the liveness check, a clean exit between the two would pass for a death.
bool DiedWithoutShutdown(const SegmentHeader* h, uint64_t pid, uint64_t start_time)
{
    return !HasExited(h) &&
           detail::CheckProcess(pid, start_time) != detail::ProcessLiveness::Alive && !HasExited(h);
}

Error StaleError(const std::string& name, uint64_t pid)
{
    return Error{ErrorCode::Stale,
                 "producer " + std::to_string(pid) + " is gone: segment '" + name +
                     "' was left behind by a process that no longer runs; restart the "
                     "producer (it replaces the segment) or remove " +
                     detail::SharedMemory::DisplayPath(SegmentObjectName(name))};
}

//! The descriptor plus a snapshot of the producer's counters and reader lines for that ring.
//! `own` (if not null) is the caller's own reader: its backlog and idle time come from its
//! cursor; other readers' backlogs come from what the producer last saw of them.
RingInfo Snapshot(uint32_t index, const RingDescriptor& d, const RingControl* c,
                  const ReaderControl* lines, uint32_t max_readers, const CursorSlot* own,
                  uint32_t own_slot)
{
    RingInfo r;
    r.index = index;
    r.name = FixedString(d.name, RING_NAME_SIZE);
    r.subsystem = static_cast<Subsystem>(d.subsystem);
    r.stability = static_cast<Stability>(d.stability);
    r.capacity = d.capacity;
    r.max_record = d.max_record;
    r.enabled = c->enabled.load(std::memory_order_acquire) != 0;
    r.lossless = c->lossless_readers.load(std::memory_order_relaxed) != 0;
    r.event_mask = c->event_mask.load(std::memory_order_relaxed);
    r.payload_limit = c->payload_limit.load(std::memory_order_relaxed);
    r.reader_count = c->reader_count.load(std::memory_order_relaxed);
    r.generation = c->generation.load(std::memory_order_relaxed);
    r.write_pos = c->write_pos.load(std::memory_order_acquire) & ~WRITE_POS_SEALED;
    r.seq = c->seq.load(std::memory_order_relaxed);
    r.dropped_full = c->dropped_full.load(std::memory_order_relaxed);
    r.dropped_too_big = c->dropped_too_big.load(std::memory_order_relaxed);
    r.dropped_reader_reset = c->dropped_reader_reset.load(std::memory_order_relaxed);
    r.dropped_timeout = c->dropped_timeout.load(std::memory_order_relaxed);
    r.cursor_violations = c->cursor_violations.load(std::memory_order_relaxed);
    r.truncated = c->truncated.load(std::memory_order_relaxed);
    r.lossless_downgrades = c->lossless_downgrades.load(std::memory_order_relaxed);
    r.readers_evicted = c->readers_evicted.load(std::memory_order_relaxed);
    const uint64_t now = detail::MonotonicNs();
    for (uint32_t i = 0; i < max_readers; ++i) {
        const ReaderControl& line = lines[i];
        auto found = detail::ReaderFromLine(line, i);
        if (!found) continue;
        ReaderInfo& reader = *found;
        if (own != nullptr && i == own_slot) {
            detail::FillReaderProgress(*own, r.write_pos, r.capacity, now, reader);
        } else {
            const uint64_t seen = line.read_pos_seen.load(std::memory_order_relaxed);
            reader.unread_bytes =
                seen <= r.write_pos ? std::min(r.write_pos - seen, r.capacity) : 0;
        }
        r.readers.push_back(reader);
    }
    r.SummariseReaders();
    return r;
}

std::string DetachReasonText(const ReaderControl* line)
{
    switch (static_cast<DetachReason>(line->detach_reason.load(std::memory_order_relaxed))) {
    case DetachReason::LeaseEnded:
        return "its lease ended";
    case DetachReason::CursorViolation:
        return "it wrote an invalid cursor";
    case DetachReason::SlowReader:
        return "it kept the ring full while another reader waited; read faster or ask for "
               "fewer events";
    default:
        return "its slot was given to another reader";
    }
}

} // namespace

int64_t UnixClockOffsetNow() noexcept { return detail::MeasureUnixOffsetNs(); }

Consumer::~Consumer() = default;

Result<std::unique_ptr<Consumer>> Consumer::Open(const std::string& name)
{
    if (auto ok = ValidateSegmentName(name); !ok) return ok.error();
    const std::string object = SegmentObjectName(name);
    auto segment = detail::SharedMemory::Open(object, /*writable=*/false);
    if (!segment) {
        if (segment.error().code() == ErrorCode::NotFound) {
            return Error{ErrorCode::NotFound,
                         "no tracering segment '" + name + "' (" +
                             detail::SharedMemory::DisplayPath(object) +
                             " does not exist): is the producer running, and under this name?"};
        }
        return segment.error();
    }
    return FromMapping(std::move(segment.value()), name, detail::SharedMemory::DisplayPath(object));
}

Result<std::unique_ptr<Consumer>> Consumer::OpenFd(int fd, const std::string& what)
{
    auto segment = detail::SharedMemory::FromFd(fd, /*writable=*/false, what);
    if (!segment) return segment.error();
    if ((*segment)->size() < HEADER_SIZE) {
        return Error{ErrorCode::Corrupt, what + " is too small for a tracering segment"};
    }
    const auto* h = reinterpret_cast<const SegmentHeader*>((*segment)->data());
    const std::string name = FixedString(h->name, SEGMENT_NAME_SIZE);
    return FromMapping(std::move(segment.value()), name, what);
}

Result<std::unique_ptr<Consumer>>
Consumer::FromMapping(std::unique_ptr<detail::SharedMemory> segment, const std::string& name,
                      const std::string& path)
{
    const detail::SharedMemory& shm = *segment;
    if (shm.size() < HEADER_SIZE) {
        return Error{ErrorCode::Corrupt, path + " is truncated: " + std::to_string(shm.size()) +
                                             " bytes, but the header alone needs " +
                                             std::to_string(HEADER_SIZE)};
    }
    const auto* h = reinterpret_cast<const SegmentHeader*>(shm.data());
    const uint64_t magic = Load(h->magic);
    if (magic != MAGIC) {
        return Error{ErrorCode::Corrupt, path + " is not a tracering segment (magic " + Hex(magic) +
                                             ", expected " + Hex(MAGIC) + ")"};
    }
    // Pairs with the producer's release store after it filled the header.
    const uint32_t abi = h->abi_version.load(std::memory_order_acquire);
    if (abi == 0) {
        const uint64_t pid = Load(h->producer_pid);
        if (detail::CheckProcess(pid, Load(h->producer_start_time)) !=
            detail::ProcessLiveness::Alive) {
            return StaleError(name, pid);
        }
        return Error{ErrorCode::NotReady, "segment '" + name + "' is still being created by pid " +
                                              std::to_string(pid) + "; try again"};
    }
    if (abi != ABI_VERSION) {
        return Error{ErrorCode::VersionMismatch,
                     "ABI mismatch: segment '" + name + "' has ABI version " + std::to_string(abi) +
                         ", this reader supports " + std::to_string(ABI_VERSION) +
                         "; use a consumer built from the same tracering release as the producer"};
    }
    SegmentInfo info;
    info.name = name;
    info.abi_version = abi;
    info.producer_pid = Load(h->producer_pid);
    info.producer_start_time = Load(h->producer_start_time);
    // A producer that exited cleanly leaves what it wrote to be read (its readers drain it),
    // as when a reader maps the segment it was handed only after the producer exited.
    if (DiedWithoutShutdown(h, info.producer_pid, info.producer_start_time)) {
        return StaleError(name, info.producer_pid);
    }
    // Schemas may differ: FlatBuffers tables read across versions, and the producer's own
    // schema is in the segment (see schema()).
    info.schema_hash = Load(h->schema_hash);
    info.clock_id = static_cast<ClockId>(Load(h->clock_id));
    info.clock_offset_ns = Load(h->clock_offset_ns);
    info.created_unix_ns = Load(h->created_unix_ns);
    info.segment_size = Load(h->segment_size);
    info.ring_count = Load(h->ring_count);
    const uint32_t header_size = Load(h->header_size);
    if (header_size != HEADER_SIZE) {
        return Error{ErrorCode::Corrupt, path + ": header size " + std::to_string(header_size) +
                                             ", expected " + std::to_string(HEADER_SIZE)};
    }
    if (info.segment_size != shm.size()) {
        return Error{ErrorCode::Corrupt,
                     path + " is " + std::to_string(shm.size()) + " bytes but its header says " +
                         std::to_string(info.segment_size) + " (truncated or overwritten)"};
    }
    if (info.ring_count == 0 || info.ring_count > MAX_RINGS) {
        return Error{ErrorCode::Corrupt, path + ": ring count " + std::to_string(info.ring_count) +
                                             " is outside 1.." + std::to_string(MAX_RINGS)};
    }
    info.max_readers = Load(h->max_readers);
    if (info.max_readers == 0 || info.max_readers > MAX_READERS) {
        return Error{ErrorCode::Corrupt, path + ": " + std::to_string(info.max_readers) +
                                             " readers per ring is outside 1.." +
                                             std::to_string(MAX_READERS)};
    }
    const uint64_t lines_end =
        ReaderControlOffset(info.ring_count, info.ring_count, 0, info.max_readers);
    info.name = FixedString(h->name, SEGMENT_NAME_SIZE);

    std::vector<RingDescriptor> rings(info.ring_count);
    for (uint32_t i = 0; i < info.ring_count; ++i) {
        std::memcpy(&rings[i], &h->rings[i], sizeof(RingDescriptor));
        const RingDescriptor& d = rings[i];
        const std::string ring_name = FixedString(d.name, RING_NAME_SIZE);
        const std::string where = path + ": ring " + std::to_string(i) + " ('" + ring_name + "')";
        if (d.index != i)
            return Error{ErrorCode::Corrupt, where + " has index " + std::to_string(d.index)};
        if (!IsPowerOfTwo(d.capacity) || d.capacity < MIN_RING_CAPACITY ||
            d.capacity > MAX_RING_CAPACITY) {
            return Error{ErrorCode::Corrupt, where + " has capacity " + std::to_string(d.capacity) +
                                                 ", not a power of two in range"};
        }
        if (d.max_record != d.capacity / MAX_RECORD_DIVISOR) {
            return Error{ErrorCode::Corrupt,
                         where + " has max record " + std::to_string(d.max_record)};
        }
        if (d.control_offset != RingControlOffset(i) ||
            d.control_offset + sizeof(RingControl) >
                HEADER_SIZE + MAX_RINGS * sizeof(RingControl)) {
            return Error{ErrorCode::Corrupt,
                         where + " has control offset " + std::to_string(d.control_offset)};
        }
        if (d.readers_offset != ReaderControlOffset(info.ring_count, i, 0, info.max_readers) ||
            lines_end > shm.size()) {
            return Error{ErrorCode::Corrupt,
                         where + " has reader lines at " + std::to_string(d.readers_offset)};
        }
        if (d.data_offset % RECORD_ALIGN != 0 || d.data_offset < lines_end ||
            d.data_offset > shm.size() || d.capacity > shm.size() - d.data_offset) {
            return Error{ErrorCode::Corrupt,
                         where + " has data at offset " + std::to_string(d.data_offset) + " (+" +
                             std::to_string(d.capacity) + " bytes) outside the segment"};
        }
    }

    // The producer's schema: after the reader lines, before the first ring's data.
    const uint64_t schema_offset = Load(h->schema_offset);
    const uint64_t schema_size = Load(h->schema_size);
    uint64_t data_start = shm.size();
    for (const RingDescriptor& d : rings)
        data_start = std::min(data_start, d.data_offset);
    if (schema_offset % SCHEMA_ALIGN != 0 || schema_offset < lines_end ||
        schema_size > MAX_SCHEMA_SIZE || schema_offset > data_start ||
        schema_size > data_start - schema_offset) {
        return Error{ErrorCode::Corrupt, path + ": the schema at offset " +
                                             std::to_string(schema_offset) + " (" +
                                             std::to_string(schema_size) +
                                             " bytes) is not between the reader lines and the "
                                             "rings' data"};
    }
    std::vector<uint8_t> schema(shm.data() + schema_offset,
                                shm.data() + schema_offset + schema_size);
    auto catalogue = ReadCatalogue(schema);
    info.schema_size = schema_size;
    if (!catalogue) {
        return Error{ErrorCode::Corrupt,
                     path + ": the producer's schema: " + catalogue.error().message()};
    }

    std::unique_ptr<Consumer> consumer{new Consumer};
    consumer->m_schema = std::move(schema);
    consumer->m_catalogue = std::move(catalogue.value());
    consumer->m_segment = std::move(segment);
    consumer->m_info = std::move(info);
    consumer->m_rings = std::move(rings);
    return consumer;
}

Result<void> Consumer::CheckProducer() const
{
    const auto* h = reinterpret_cast<const SegmentHeader*>(m_segment->data());
    if (DiedWithoutShutdown(h, m_info.producer_pid, m_info.producer_start_time)) {
        return StaleError(m_info.name, m_info.producer_pid);
    }
    if (HasExited(h)) {
        return Error{ErrorCode::Detached, "producer " + std::to_string(m_info.producer_pid) +
                                              " of segment '" + m_info.name + "' has exited"};
    }
    return {};
}

const ReaderControl* Consumer::ReaderLines(uint32_t index) const
{
    return reinterpret_cast<const ReaderControl*>(m_segment->data() +
                                                  m_rings[index].readers_offset);
}

RingInfo Consumer::InfoAt(uint32_t index) const
{
    const RingDescriptor& d = m_rings[index];
    RingInfo info = Snapshot(
        index, d, reinterpret_cast<const RingControl*>(m_segment->data() + d.control_offset),
        ReaderLines(index), m_info.max_readers, nullptr, 0);
    for (const CatalogueEvent& e : m_catalogue.events) {
        if (e.ring == info.name) info.events.push_back({e.type, e.name});
    }
    return info;
}

std::vector<RingInfo> Consumer::Rings() const
{
    std::vector<RingInfo> out;
    for (uint32_t i = 0; i < m_rings.size(); ++i)
        out.push_back(InfoAt(i));
    return out;
}

Result<uint32_t> Consumer::IndexOf(std::string_view name) const
{
    std::string known;
    for (uint32_t i = 0; i < m_rings.size(); ++i) {
        const std::string ring_name = FixedString(m_rings[i].name, RING_NAME_SIZE);
        if (ring_name == name) return i;
        known += (known.empty() ? "" : ", ") + ring_name;
    }
    return Error{ErrorCode::NotFound, "segment '" + m_info.name + "' has no ring '" +
                                          std::string{name} + "'; its rings are: " + known};
}

Result<RingInfo> Consumer::Ring(std::string_view name) const
{
    auto index = IndexOf(name);
    if (!index) return index.error();
    return InfoAt(index.value());
}

Result<std::unique_ptr<RingReader>> Consumer::OpenReader(std::string_view ring,
                                                         const ReaderGrant& grant)
{
    auto found = IndexOf(ring);
    if (!found) return found.error();
    const uint32_t index = found.value();
    const std::string ring_name{ring};
    if (grant.slot >= m_info.max_readers || grant.cursors_fd < 0 ||
        static_cast<uint32_t>(grant.ring) != index) {
        return Error{ErrorCode::InvalidArgument,
                     "no reader of ring '" + ring_name +
                         "' was granted: attach to it through the producer's control socket "
                         "(or Producer::Attach) first"};
    }
    auto cursors = detail::SharedMemory::FromFd(grant.cursors_fd, /*writable=*/true,
                                                "the lease's cursor memory");
    if (!cursors) return cursors.error();
    if ((*cursors)->size() < uint64_t{index + 1} * sizeof(CursorSlot)) {
        return Error{ErrorCode::Corrupt, "the lease's cursor memory holds " +
                                             std::to_string((*cursors)->size()) +
                                             " bytes, too few for ring " + std::to_string(index)};
    }
    const RingDescriptor& d = m_rings[index];
    const auto* control =
        reinterpret_cast<const RingControl*>(m_segment->data() + d.control_offset);
    const ReaderControl* line = ReaderLines(index) + grant.slot;
    auto* cursor = reinterpret_cast<CursorSlot*>((*cursors)->data()) + index;

    std::unique_ptr<RingReader> reader{new RingReader};
    reader->m_segment = m_segment;
    reader->m_cursors = std::move(cursors.value());
    reader->m_header = reinterpret_cast<const SegmentHeader*>(m_segment->data());
    reader->m_control = control;
    reader->m_line = line;
    reader->m_cursor = cursor;
    reader->m_data = m_segment->data() + d.data_offset;
    reader->m_name = ring_name;
    reader->m_descriptor = d;
    reader->m_index = index;
    reader->m_slot = grant.slot;
    reader->m_max_readers = m_info.max_readers;
    reader->m_capacity = d.capacity;
    reader->m_mask = d.capacity - 1;
    reader->m_max_record = d.max_record;
    reader->m_release_every = d.capacity / 16;
    reader->m_evict_read_lines = detail::CanEvictLines();
    reader->m_first_type = RingFirstType(static_cast<Subsystem>(index));
    for (const EventInfo& e : EVENTS) {
        const uint32_t bit = uint32_t{static_cast<uint16_t>(e.type)} - reader->m_first_type;
        if (bit < EVENTS_PER_RING_MAX) reader->m_known_mask |= uint64_t{1} << bit;
    }

    // Pairs with the producer's release store of the line's generation: every field of the
    // line written before it is visible once we see that generation.
    const uint64_t generation = line->generation.load(std::memory_order_acquire);
    if (generation != grant.generation) {
        return Error{ErrorCode::Detached, "the reader of ring '" + ring_name +
                                              "' was detached before it opened (" +
                                              DetachReasonText(line) + "); attach again"};
    }
    const uint64_t attach_pos = line->attach_pos.load(std::memory_order_relaxed);
    const uint64_t attach_seq = line->attach_seq.load(std::memory_order_relaxed);
    reader->m_event_mask = line->event_mask.load(std::memory_order_relaxed);
    // The relaxed loads above must not be satisfied from before the generation was
    // published, nor after a later change: re-check it behind an acquire fence.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (line->generation.load(std::memory_order_relaxed) != grant.generation) {
        return Error{ErrorCode::Detached, "the reader of ring '" + ring_name +
                                              "' was detached while it opened; attach again"};
    }
    const uint64_t start = cursor->read_pos.load(std::memory_order_relaxed);
    const uint64_t write_pos =
        control->write_pos.load(std::memory_order_acquire) & ~WRITE_POS_SEALED;
    // The cursor was set from the reservation word when the reader was added, so it is at or
    // behind write_pos; the reader follows commit words, never write_pos.
    if (start % RECORD_ALIGN != 0 || (write_pos > start && write_pos - start > d.capacity)) {
        return Error{ErrorCode::Corrupt,
                     "ring '" + ring_name + "': cursor " + std::to_string(start) +
                         " does not fit write position " + std::to_string(write_pos)};
    }
    reader->m_generation = grant.generation;
    reader->m_pos = start;
    reader->m_released_pos = start;
    reader->m_fill_mark = start;
    reader->m_commit_key = reader->m_header->commit_key;
    // At its start we know the exact next seq; resuming a cursor moved since, we learn it
    // from the first record.
    reader->m_seq_known = start == attach_pos;
    reader->m_expected_seq = attach_seq;
    return reader;
}

int RingReader::cursors_fd() const noexcept { return m_cursors ? m_cursors->fd() : -1; }
int Consumer::segment_fd() const noexcept { return m_segment->fd(); }

RingReader::~RingReader()
{
    if (m_cursor) Release();
}

bool RingReader::ProducerGone(uint64_t now)
{
    // Only while the ring is empty, so everything a crashed producer published is read
    // first; rate-limited, as it reads /proc. Once gone, always gone.
    if (!m_gone.empty()) return true;
    if (now < m_next_liveness_check_ns) return false;
    m_next_liveness_check_ns = now + LIVENESS_CHECK_NS;
    const uint64_t pid = m_header->producer_pid;
    if (detail::CheckProcess(pid, m_header->producer_start_time) ==
        detail::ProcessLiveness::Alive) {
        return false;
    }
    m_gone = "producer " + std::to_string(pid) +
             " is gone without shutting down (it crashed or was killed); every event it "
             "wrote to ring '" +
             m_name + "' was read";
    return true;
}

Error RingReader::Detached() const
{
    return Error{ErrorCode::Detached, "the reader of ring '" + m_name +
                                          "' was detached by the producer (" +
                                          DetachReasonText(m_line) + "); attach again"};
}

Error RingReader::Corrupt(const std::string& what) const
{
    // A producer that detached this reader may already be writing over what we were
    // reading: that is a detach, not corruption.
    if (m_line->generation.load(std::memory_order_acquire) != m_generation) return Detached();
    return Error{ErrorCode::Corrupt,
                 "ring '" + m_name + "' at position " + std::to_string(m_pos) + ": " + what};
}

Result<bool> RingReader::Next(EventView& view)
{
    for (;;) {
        if (m_abandoned) {
            return Error{ErrorCode::Detached,
                         "the reader of ring '" + m_name + "' was detached; attach again"};
        }
        // Our own line, which the producer writes only when it detaches us: once detached,
        // records we have not read may be overwritten already, and none of them is handed out.
        if (m_line->generation.load(std::memory_order_acquire) != m_generation) {
            return Detached();
        }
        const uint64_t offset = m_pos & m_mask;
        const uint8_t* at = m_data + offset;
        const uint64_t left = m_capacity - offset;
        // Pairs with the writer's release store of the commit word: the record (or the
        // padding, with or without a header) at m_pos is complete. Only the record itself is
        // looked at, so a reader that keeps up stays off the control line, which writers
        // store to for every record.
        const bool complete = RecordCommitted(at, m_pos, m_commit_key);
        if (!complete) {
            // Nothing to read yet. A reservation past m_pos means a writer is in the middle
            // of this record: note since when, for StuckWriter().
            const uint64_t now = detail::MonotonicNs();
            const uint64_t reserved =
                m_control->write_pos.load(std::memory_order_acquire) & ~WRITE_POS_SEALED;
            const bool being_written = reserved > m_pos && reserved - m_pos <= m_capacity;
            if (being_written) {
                if (m_unpublished_since_ns == 0 || m_unpublished_at != m_pos) {
                    m_unpublished_at = m_pos;
                    m_unpublished_since_ns = now;
                }
                m_unpublished_bytes = reserved - m_pos;
                m_unpublished_now_ns = now;
            } else {
                m_unpublished_since_ns = 0;
            }
            if (!HasExited(m_header)) {
                if (!ProducerGone(now)) return false;
                // It may have completed this record between our load and its death: read on
                // (it writes no more, so this ends).
                if (RecordCommitted(at, m_pos, m_commit_key)) continue;
                // Or shut down cleanly in between (it stores Exited just before it exits).
                if (!HasExited(m_header)) return Error{ErrorCode::Stale, m_gone};
            }
            // Exited was release-stored after the producer waited for its writers to finish
            // the records they had reserved: one more look, then the end.
            if (RecordCommitted(at, m_pos, m_commit_key)) continue;
            if (being_written) {
                return Error{ErrorCode::Detached,
                             "the producer has exited while one of its threads was writing the "
                             "record at position " +
                                 std::to_string(m_pos) + " of ring '" + m_name + "'; the " +
                                 std::to_string(reserved - m_pos) +
                                 " bytes reserved from there on are lost"};
            }
            return Error{ErrorCode::Detached, "the producer has exited"};
        }
        m_unpublished_since_ns = 0;
        if (left < RECORD_HEADER_SIZE) {
            m_pos += left;
            m_stats.bytes += left;
            ++m_stats.padding;
            continue;
        }
        uint32_t length;
        uint16_t type;
        std::memcpy(&length, at + offsetof(RecordHeader, length), sizeof(length));
        std::memcpy(&type, at + offsetof(RecordHeader, type), sizeof(type));
        if (type == static_cast<uint16_t>(EventType::Padding)) {
            if (length != left) {
                return Corrupt("padding record of " + std::to_string(length) +
                               " bytes does not end at the end of the ring");
            }
            m_pos += length;
            m_stats.bytes += length;
            ++m_stats.padding;
            continue;
        }
        const uint64_t record = AlignedRecordSize(length);
        if (length < RECORD_HEADER_SIZE || length > m_max_record || record > left) {
            return Corrupt("record length " + std::to_string(length) + " is invalid (type " +
                           std::to_string(type) + ", " + std::to_string(left) +
                           " bytes before the end of the ring)");
        }
        RecordHeader header;
        std::memcpy(&header, at, sizeof(header));
        if (m_seq_known && header.seq < m_expected_seq) {
            return Corrupt("sequence went backwards: " + std::to_string(header.seq) + " after " +
                           std::to_string(m_expected_seq - 1));
        }
        const uint64_t lost = m_seq_known ? header.seq - m_expected_seq : 0;
        m_expected_seq = header.seq + 1;
        m_seq_known = true;
        m_pending_lost += lost;
        const uint32_t bit = uint32_t{header.type} - m_first_type;
        if (header.type < static_cast<uint16_t>(EventType::UserFirst) &&
            (bit >= EVENTS_PER_RING_MAX || ((m_event_mask >> bit) & 1) == 0)) {
            // Another reader's event: not ours to deliver, and not lost either.
            m_pos += record;
            m_stats.bytes += record;
            ++m_stats.skipped;
            continue;
        }
        view.m_lost_before = m_pending_lost;
        m_stats.lost += m_pending_lost;
        m_pending_lost = 0;
        view.m_data = at + RECORD_HEADER_SIZE;
        view.m_size = length - RECORD_HEADER_SIZE;
        view.m_type = header.type;
        // The flag is the ring's; this reader (which may have joined after the loss) says
        // what it itself missed.
        view.m_flags = view.m_lost_before == 0
                           ? static_cast<uint16_t>(header.flags & ~RECORD_FLAG_LOSS_PRECEDES)
                           : header.flags;
        view.m_seq = header.seq;
        // Writers read the clock while reserving, so a record may be a few nanoseconds before
        // its predecessor: handed out no earlier than it.
        m_last_timestamp = std::max(m_last_timestamp, header.timestamp_ns);
        view.m_timestamp_ns = m_last_timestamp;
        view.m_known = bit < EVENTS_PER_RING_MAX && ((m_known_mask >> bit) & 1) != 0;
        if (!view.m_known && header.type < static_cast<uint16_t>(EventType::UserFirst)) {
            ++m_stats.unknown;
        }
        m_pos += record;
        m_stats.bytes += record;
        ++m_stats.delivered;
        return true;
    }
}

uint64_t RingReader::UnreportedLost() noexcept
{
    if (!m_seq_known) return 0;
    // Detached, the producer no longer keeps our position: what the ring holds there says
    // nothing of our loss (the Detached error reports it).
    if (!m_abandoned && m_line->generation.load(std::memory_order_acquire) == m_generation) {
        // The reservation the latest drop left (RingControl::drop_pos): every event numbered
        // below drop_seq was dropped or ends at or before drop_pos. Once we are there, those
        // we did not read were dropped; a record still being written is numbered after them.
        const std::atomic_ref<const uint64_t> drop_seq{m_control->drop_seq};
        const uint64_t seq = drop_seq.load(std::memory_order_acquire);
        const uint64_t pos =
            std::atomic_ref<const uint64_t>{m_control->drop_pos}.load(std::memory_order_acquire);
        // The same drop_seq again: `pos` was published with it (drop_seq only grows).
        if (drop_seq.load(std::memory_order_acquire) == seq && pos <= m_pos) {
            m_end_seq = std::max(m_end_seq, seq);
        }
    }
    return m_pending_lost + (m_end_seq > m_expected_seq ? m_end_seq - m_expected_seq : 0);
}

void RingReader::SetEvictReadLines(bool on) noexcept
{
    m_evict_read_lines = on && detail::CanEvictLines();
}

void RingReader::Release() noexcept
{
    // The cursor is in our lease's own memory: nobody else's position can be moved by this.
    if (m_pos == m_released_pos || m_abandoned) return;
    // Only a ring's only reader evicts: with others, the lines it drops may be the very ones
    // the others are about to read, which would then come from memory (the producer stores
    // reader_count when a reader comes or goes; one load of its line per Release(), and none
    // where the CPU cannot evict: m_evict_read_lines is false there).
    if (m_evict_read_lines && m_control->reader_count.load(std::memory_order_relaxed) == 1) {
        // Whole lines only: the one m_pos is in may hold the start of a record not read yet,
        // which a writer may be writing now. It is evicted by the next call.
        constexpr uint64_t LINE = detail::EVICT_LINE;
        uint64_t from = m_released_pos & ~(LINE - 1);
        const uint64_t to = m_pos & ~(LINE - 1);
        while (from < to) {
            const uint64_t offset = from & m_mask;
            const uint64_t bytes = std::min(to - from, m_capacity - offset);
            detail::EvictLines(m_data + offset, bytes / LINE);
            from += bytes;
        }
    }
    // Pairs with the producer's acquire load: our reads of these records are done.
    m_cursor->read_pos.store(m_pos, std::memory_order_release);
    m_cursor->heartbeat_ns.store(detail::MonotonicNs(), std::memory_order_relaxed);
    m_released_pos = m_pos;
}

void Backoff::Spin() noexcept
{
    for (int i = 0; i < 32; ++i)
        detail::CpuRelax();
}

void Backoff::Reset() noexcept
{
    m_idle = 0;
    m_slept = false;
    m_fill_since_sleep = 0;
    m_spin_left = 0;
    m_window_start_ns = 0;
    m_window_events = 0;
    m_fast = false;
}

void Backoff::Idle(size_t work, double fill)
{
    // What the writers wrote while we slept is read by the polls up to the next one that
    // catches up (polls stop at their max_events, so one poll may not tell).
    if (m_slept) m_fill_since_sleep += fill;
    m_window_events += work;
    Wait(work, /*may_sleep=*/true);
}

void Backoff::Idle(size_t work)
{
    // Without the fill no sleep can be judged: none counts as taken.
    m_slept = false;
    m_fill_since_sleep = 0;
    Wait(work, /*may_sleep=*/false);
}

void Backoff::Wait(size_t work, bool may_sleep)
{
    if (work >= CAUGHT_UP_BELOW) {
        m_idle = 0;
        return;
    }
    if (m_slept && m_fill_since_sleep > FILL_TOO_HIGH) m_spin_left = SPIN_AFTER_FULL;
    m_slept = false;
    m_fill_since_sleep = 0;
    if (work != 0) {
        CaughtUp(may_sleep);
    } else {
        Empty();
    }
}

void Backoff::CaughtUp(bool may_sleep)
{
    // Caught up with the writers: give them time for a batch instead of reading each record
    // as it is committed (the class comment says why).
    m_idle = 0;
    if (may_sleep) {
        // The writers' rate, over windows of RATE_WINDOW_NS or more (the first one spins).
        const uint64_t now = detail::MonotonicNs();
        if (m_window_start_ns == 0) {
            // The first window starts here: a backlog read before it is not the writers' rate.
            m_window_start_ns = now;
            m_window_events = 0;
        }
        const uint64_t elapsed = now - m_window_start_ns;
        if (elapsed >= RATE_WINDOW_NS) {
            // events / elapsed >= rate, without a product that a long window could overflow.
            static_assert(1'000'000'000 % SLEEP_ABOVE_EVENTS_PER_S == 0);
            m_fast = m_window_events >= elapsed / (1'000'000'000 / SLEEP_ABOVE_EVENTS_PER_S);
            m_window_start_ns = now;
            m_window_events = 0;
        }
    }
    if (!may_sleep || !m_fast || m_spin_left != 0) {
        if (m_spin_left != 0) --m_spin_left;
        Spin();
        return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(CAUGHT_UP_SLEEP_US));
    m_slept = true;
}

void Backoff::Empty()
{
    if (m_idle < std::numeric_limits<uint32_t>::max()) ++m_idle;
    if (m_idle <= 64) {
        Spin();
    } else if (m_idle <= 128) {
        std::this_thread::yield();
    } else {
        const uint32_t sleeps = m_idle - 128;
        uint32_t us =
            std::min<uint32_t>(uint32_t{1} << std::min<uint32_t>(sleeps, 10), m_max_sleep_us);
        if (sleeps > QUIET_AFTER_SLEEPS) us = std::max(us, m_quiet_sleep_us);
        std::this_thread::sleep_for(std::chrono::microseconds(us));
    }
}

std::optional<StuckRecord> RingReader::StuckWriter() const noexcept
{
    if (m_unpublished_since_ns == 0 ||
        m_unpublished_now_ns - m_unpublished_since_ns < STUCK_REPORT_NS) {
        return std::nullopt;
    }
    return StuckRecord{m_unpublished_at, m_unpublished_bytes,
                       m_unpublished_now_ns - m_unpublished_since_ns};
}

RingInfo RingReader::Info() const
{
    return Snapshot(m_index, m_descriptor, m_control, m_line - m_slot, m_max_readers, m_cursor,
                    m_slot);
}

} // namespace tracering
