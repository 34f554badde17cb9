// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include "producer/ring_clock.h"

#include <fstream>
#include <string>

namespace tracering::detail {

bool TscUsable() noexcept
{
#if defined(__x86_64__) && defined(__linux__)
    std::ifstream in{"/sys/devices/system/clocksource/clocksource0/current_clocksource"};
    std::string source;
    return static_cast<bool>(in >> source) && source == "tsc";
#else
    return false;
#endif
}

void SampleTscAndMonotonic(uint64_t& tsc, uint64_t& ns) noexcept
{
    uint64_t best_width = ~uint64_t{0};
    for (int attempt = 0; attempt < 8; ++attempt) {
        const uint64_t before = ReadTsc();
        const uint64_t clock = MonotonicNs();
        const uint64_t after = ReadTsc();
        if (after >= before && after - before < best_width) {
            best_width = after - before;
            tsc = before + (after - before) / 2;
            ns = clock;
        }
        // A clock read takes well under 2000 ticks; anything close is as good as it gets.
        if (best_width < 2000) break;
    }
    if (best_width == ~uint64_t{0}) { // the counter went backwards every time: use the clock
        tsc = ReadTsc();
        ns = MonotonicNs();
    }
}

uint64_t CalibrateTscMultiplier(uint64_t window_ns) noexcept
{
    // Two tight samples a short busy window apart; RingClock refines the slope from then on.
    uint64_t tsc0, ns0, tsc1, ns1;
    SampleTscAndMonotonic(tsc0, ns0);
    do {
        SampleTscAndMonotonic(tsc1, ns1);
    } while (ns1 - ns0 < window_ns);
    if (tsc1 <= tsc0) return 0;
    return static_cast<uint64_t>((static_cast<unsigned __int128>(ns1 - ns0) << 32) / (tsc1 - tsc0));
}

} // namespace tracering::detail
