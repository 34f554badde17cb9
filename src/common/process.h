// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_COMMON_PROCESS_H
#define TRACERING_COMMON_PROCESS_H

#include <cstdint>

namespace tracering::detail {

//! The start time of process `pid` in the OS's unit (Linux: clock ticks since boot), or 0
//! when it cannot be read (no such process, or no /proc).
uint64_t ProcessStartTime(uint64_t pid) noexcept;

enum class ProcessLiveness {
    Alive,    //!< that pid runs and, where checkable, started at the recorded time
    Gone,     //!< no process has that pid
    Replaced, //!< a process has that pid but started at another time: the original is gone
};

//! Whether the process that recorded (`pid`, `start_time`) still runs.
ProcessLiveness CheckProcess(uint64_t pid, uint64_t start_time) noexcept;

uint64_t CurrentPid() noexcept;

} // namespace tracering::detail

#endif // TRACERING_COMMON_PROCESS_H
