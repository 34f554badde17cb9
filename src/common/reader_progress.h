// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_COMMON_READER_PROGRESS_H
#define TRACERING_COMMON_READER_PROGRESS_H

#include <tracering/abi.h>
#include <tracering/ring_stats.h>

#include <algorithm>
#include <cstdint>

namespace tracering::detail {

//! Fills `s.unread_bytes` and `s.reader_idle_ns` from the reader's cursor. The cursor is
//! consumer-written memory: its values are only clamped for display, never acted on.
//! `s.enabled`, `s.write_pos` and `s.capacity` must already be set; `now_ns`
//! is on the record clock (CLOCK_MONOTONIC).
inline void FillReaderProgress(const CursorSlot& cursor, uint64_t now_ns, RingStats& s) noexcept
{
    s.unread_bytes = 0;
    s.reader_idle_ns = 0;
    if (!s.enabled) return; // no reader
    // Relaxed: statistics; a stale value only shows a slightly older backlog.
    const uint64_t read_pos = cursor.read_pos.load(std::memory_order_relaxed);
    if (read_pos <= s.write_pos) s.unread_bytes = std::min(s.write_pos - read_pos, s.capacity);
    const uint64_t heartbeat = cursor.heartbeat_ns.load(std::memory_order_relaxed);
    if (heartbeat != 0 && heartbeat <= now_ns) s.reader_idle_ns = now_ns - heartbeat;
}

} // namespace tracering::detail

#endif // TRACERING_COMMON_READER_PROGRESS_H
