// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/consumer.h>

#include <cstring>

#include "common/shm.h"

namespace tracering {

const char* ClockReasonText(ClockReason reason) noexcept
{
    switch (reason) {
    case ClockReason::None:
        return "none";
    case ClockReason::Requested:
        return "CLOCK_MONOTONIC was asked for";
    case ClockReason::Unsupported:
        return "no TSC on this platform (x86-64 Linux only)";
    case ClockReason::NotInvariant:
        return "the CPU does not report an invariant TSC";
    case ClockReason::KernelUnstable:
        return "the kernel no longer lists tsc as a usable clocksource";
    case ClockReason::CalibrationFailed:
        return "the TSC could not be calibrated or checked on every CPU";
    case ClockReason::ErrorBound:
        return "the TSC time strayed from CLOCK_MONOTONIC past the bound";
    case ClockReason::RateJump:
        return "the TSC rate changed (migration to another host?)";
    case ClockReason::Backwards:
        return "the TSC went backwards";
    case ClockReason::NotSynchronised:
        return "the CPUs' TSCs differ by more than the start-up bound";
    }
    return "unknown reason";
}

ClockStatus Consumer::Clock() const noexcept
{
    const auto* h = reinterpret_cast<const SegmentHeader*>(m_segment->data());
    ClockStatus c;
    c.timeline = m_info.clock_id;
    // Acquire: a fallback's reason and time are stored before clock_source.
    c.in_use = static_cast<ClockId>(h->clock_source.load(std::memory_order_acquire));
    c.reason = static_cast<ClockReason>(h->clock_reason.load(std::memory_order_relaxed));
    c.tsc_hz = h->tsc_hz.load(std::memory_order_relaxed);
    std::memcpy(&c.error_bound_ns, &h->clock_error_bound_ns, sizeof(c.error_bound_ns));
    c.max_error_ns = h->clock_max_error_ns.load(std::memory_order_relaxed);
    c.last_error_ns = h->clock_last_error_ns.load(std::memory_order_relaxed);
    c.reanchors = h->clock_reanchors.load(std::memory_order_relaxed);
    c.fallback_ns = h->clock_fallback_ns.load(std::memory_order_relaxed);
    return c;
}

} // namespace tracering
