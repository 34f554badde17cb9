// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_COMMON_READER_PROGRESS_H
#define TRACERING_COMMON_READER_PROGRESS_H

#include <tracering/abi.h>
#include <tracering/ring_stats.h>

#include <algorithm>
#include <cstdint>
#include <optional>

namespace tracering::detail {

//! The reader holding `line` (slot `slot`), as the line says, or nothing if the slot has no
//! reader. Relaxed loads: the line is for display; the producer's lease table is the truth.
inline std::optional<ReaderInfo> ReaderFromLine(const ReaderControl& line, uint32_t slot) noexcept
{
    if (line.state.load(std::memory_order_relaxed) != static_cast<uint32_t>(ReaderState::Reading)) {
        return std::nullopt;
    }
    ReaderInfo r;
    r.slot = slot;
    r.pid = line.reader_pid.load(std::memory_order_relaxed);
    r.uid = line.reader_uid.load(std::memory_order_relaxed);
    r.lossless = line.lossless.load(std::memory_order_relaxed) != 0;
    r.downgraded = line.downgraded.load(std::memory_order_relaxed) != 0;
    r.event_mask = line.event_mask.load(std::memory_order_relaxed);
    r.payload_limit = line.payload_limit.load(std::memory_order_relaxed);
    r.waited_ns = line.waited_ns.load(std::memory_order_relaxed);
    return r;
}

//! Fills `r.unread_bytes` and `r.idle_ns` from the reader's cursor. The cursor is
//! consumer-written memory: its values are only clamped for display, never acted on.
//! `now_ns` is on the record clock (CLOCK_MONOTONIC).
inline void FillReaderProgress(const CursorSlot& cursor, uint64_t write_pos, uint64_t capacity,
                               uint64_t now_ns, ReaderInfo& r) noexcept
{
    // Relaxed: statistics; a stale value only shows a slightly older backlog.
    const uint64_t read_pos = cursor.read_pos.load(std::memory_order_relaxed);
    r.unread_bytes = read_pos <= write_pos ? std::min(write_pos - read_pos, capacity) : 0;
    const uint64_t heartbeat = cursor.heartbeat_ns.load(std::memory_order_relaxed);
    r.idle_ns = heartbeat != 0 && heartbeat <= now_ns ? now_ns - heartbeat : 0;
}

} // namespace tracering::detail

#endif // TRACERING_COMMON_READER_PROGRESS_H
