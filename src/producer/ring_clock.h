// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#ifndef TRACERING_PRODUCER_RING_CLOCK_H
#define TRACERING_PRODUCER_RING_CLOCK_H

//! @file
//! The timestamp source of a ring. Timestamps are CLOCK_MONOTONIC nanoseconds either way;
//! with the TSC they are interpolated from the CPU's time-stamp counter (about 8 ns to read
//! instead of about 25 ns for clock_gettime) and re-anchored to CLOCK_MONOTONIC every
//! RECALIBRATE_NS, so they cannot drift away from it.

#include <cstdint>

#include "common/clock.h"

namespace tracering::detail {

//! Whether the time-stamp counter can stand in for CLOCK_MONOTONIC here: x86-64, and the
//! kernel itself uses the TSC as its clock source (it checks that the counter is invariant
//! and synchronised across CPUs before it does).
bool TscUsable() noexcept;

//! Ticks per nanosecond, measured against CLOCK_MONOTONIC over about `window_ns`.
//! Returned as a 32.32 fixed-point "nanoseconds per tick" multiplier.
uint64_t CalibrateTscMultiplier(uint64_t window_ns) noexcept;

inline uint64_t ReadTsc() noexcept
{
#if defined(__x86_64__)
    return __builtin_ia32_rdtsc();
#else
    return 0;
#endif
}

//! A (TSC, CLOCK_MONOTONIC) pair read as close together as possible: the clock read is
//! bracketed by two TSC reads, and of a few tries the tightest bracket wins, so a thread
//! preempted mid-sample does not skew the pair by the time it was away.
void SampleTscAndMonotonic(uint64_t& tsc, uint64_t& ns) noexcept;

//! Per-ring clock; used only under the ring's writer lock, so it needs no atomics.
class RingClock
{
public:
    //! How often, at most, the TSC interpolation is re-anchored to CLOCK_MONOTONIC.
    static constexpr uint64_t RECALIBRATE_NS = 50'000'000;

    //! @param tsc_mult 0 for CLOCK_MONOTONIC, else CalibrateTscMultiplier()'s result
    explicit RingClock(uint64_t tsc_mult) noexcept : m_mult{tsc_mult}
    {
        if (m_mult != 0) Anchor();
    }

    //! Nanoseconds on the CLOCK_MONOTONIC timeline; never less than the previous value.
    uint64_t Now() noexcept
    {
        if (m_mult == 0) return MonotonicNs();
        uint64_t tsc = ReadTsc();
        // Also taken when the counter reads below the anchor (unsigned wrap): re-anchor, and
        // use the anchor itself, sampled just now, for this event.
        if (tsc - m_base_tsc >= m_recalibrate_ticks) {
            Anchor();
            tsc = m_base_tsc;
        }
        uint64_t ns =
            m_base_ns + static_cast<uint64_t>(
                            (static_cast<unsigned __int128>(tsc - m_base_tsc) * m_mult) >> 32);
        // Re-anchoring may step back by the interpolation error: hold the last value instead.
        if (ns < m_last_ns) ns = m_last_ns;
        m_last_ns = ns;
        return ns;
    }

private:
    void Anchor() noexcept
    {
        uint64_t tsc, mono;
        SampleTscAndMonotonic(tsc, mono);
        if (m_origin_tsc == 0) {
            m_origin_tsc = tsc;
            m_origin_ns = mono;
        } else if (tsc > m_origin_tsc + 1'000'000 && mono > m_origin_ns) {
            // The slope over the whole time since the first anchor: its error shrinks as the
            // baseline grows, so drift between anchors becomes negligible.
            m_mult = static_cast<uint64_t>(
                (static_cast<unsigned __int128>(mono - m_origin_ns) << 32) / (tsc - m_origin_tsc));
        }
        m_base_tsc = tsc;
        m_base_ns = mono;
        m_recalibrate_ticks = static_cast<uint64_t>(
            (static_cast<unsigned __int128>(RECALIBRATE_NS) << 32) / (m_mult ? m_mult : 1));
    }

    uint64_t m_mult;
    uint64_t m_base_tsc{0};
    uint64_t m_base_ns{0};
    uint64_t m_origin_tsc{0};
    uint64_t m_origin_ns{0};
    uint64_t m_recalibrate_ticks{~uint64_t{0}};
    uint64_t m_last_ns{0};
};

} // namespace tracering::detail

#endif // TRACERING_PRODUCER_RING_CLOCK_H
