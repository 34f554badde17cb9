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

uint64_t CalibrateTscMultiplier(uint64_t window_ns) noexcept
{
    // Bracket each clock read with two TSC reads and use the midpoint, over a short busy
    // window; RingClock refines the slope from then on.
    auto sample = [](uint64_t& tsc, uint64_t& ns) {
        const uint64_t before = ReadTsc();
        ns = MonotonicNs();
        const uint64_t after = ReadTsc();
        tsc = before + (after - before) / 2;
    };
    uint64_t tsc0, ns0, tsc1, ns1;
    sample(tsc0, ns0);
    do {
        sample(tsc1, ns1);
    } while (ns1 - ns0 < window_ns);
    if (tsc1 <= tsc0) return 0;
    return static_cast<uint64_t>((static_cast<unsigned __int128>(ns1 - ns0) << 32) / (tsc1 - tsc0));
}

} // namespace tracering::detail
