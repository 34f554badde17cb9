// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_COMMON_CLOCK_H
#define TRACERING_COMMON_CLOCK_H

#include <tracering/abi.h>

#include <chrono>
#include <cstdint>
#include <ctime>

namespace tracering::detail {

//! The clock of every record timestamp (SegmentHeader::clock_id == ClockId::Monotonic):
//! CLOCK_MONOTONIC in nanoseconds, read through the vDSO (no system call).
inline uint64_t MonotonicNs() noexcept
{
#if defined(CLOCK_MONOTONIC)
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
#else
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count());
#endif
}

//! UNIX time in nanoseconds.
inline uint64_t UnixNs() noexcept
{
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

//! UNIX time minus CLOCK_MONOTONIC, in ns: UNIX time read between two monotonic reads, the
//! tightest of five tries (a preemption between the reads only widens that try's bracket).
inline int64_t MeasureUnixOffsetNs() noexcept
{
    int64_t best_offset = 0;
    uint64_t best_width = ~uint64_t{0};
    for (int i = 0; i < 5; ++i) {
        const uint64_t before = MonotonicNs();
        const uint64_t unix_ns = UnixNs();
        const uint64_t after = MonotonicNs();
        if (after - before < best_width) {
            best_width = after - before;
            best_offset = int64_t(unix_ns) - int64_t(before + (after - before) / 2);
        }
    }
    return best_offset;
}

} // namespace tracering::detail

#endif // TRACERING_COMMON_CLOCK_H
