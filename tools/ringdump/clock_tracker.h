// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_RINGDUMP_CLOCK_TRACKER_H
#define TRACERING_RINGDUMP_CLOCK_TRACKER_H

//! @file
//! Keeps the mapping from record timestamps to UNIX time current while ringdump reads, so
//! events written after the system time was stepped still get their true UNIX time.

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <utility>

namespace tracering::ringdump {

class ClockTracker
{
public:
    //! Changes of the offset up to this size are measurement noise and are not adopted.
    static constexpr int64_t STEP_NS = 100'000;
    static constexpr std::chrono::milliseconds DEFAULT_INTERVAL{1000};

    //! `measure` returns UNIX time minus record time, now (UnixClockOffsetNow in ringdump).
    explicit ClockTracker(std::function<int64_t()> measure,
                          std::chrono::milliseconds interval = DEFAULT_INTERVAL)
        : m_measure{std::move(measure)},
          m_interval{interval}, m_offset{m_measure()}, m_last{Clock::now()}
    {
    }

    int64_t offset() const { return m_offset; }

    //! Measures again once the interval has passed since the last measurement. True when the
    //! offset moved by more than STEP_NS and was adopted: the caller passes it on (to its
    //! formatter, to a capture file) before handling the next record.
    bool Update()
    {
        const Clock::time_point now = Clock::now();
        if (now - m_last < m_interval) return false;
        m_last = now;
        const int64_t measured = m_measure();
        if (std::llabs(measured - m_offset) <= STEP_NS) return false;
        m_offset = measured;
        return true;
    }

private:
    using Clock = std::chrono::steady_clock;
    std::function<int64_t()> m_measure;
    std::chrono::milliseconds m_interval;
    int64_t m_offset;
    Clock::time_point m_last;
};

} // namespace tracering::ringdump

#endif // TRACERING_RINGDUMP_CLOCK_TRACKER_H
