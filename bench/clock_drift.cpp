// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! tracering-clock-drift: runs a producer's clock (RingClock, re-anchored by its own thread
//! as in a producer) and measures how far its Now() is from CLOCK_MONOTONIC, for as long as
//! asked. Every interval it prints the offset Now() - CLOCK_MONOTONIC (min, median, max of
//! about 1000 samples a second, each the clock read between two CLOCK_MONOTONIC reads), the
//! clock's own re-anchor errors and whether it still uses the TSC; at the end a summary line
//! with the largest offset seen.
//!
//!     tracering-clock-drift [--duration SECONDS] [--interval SECONDS]
//!
//! Defaults: one hour, a line every 60 s.

#include <tracering/abi.h>
#include <tracering/consumer.h>
#include <tracering/producer.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli.h"
#include "common/clock.h"
#include "producer/ring_clock.h"

namespace {

using namespace tracering;

constexpr const char* USAGE =
    "usage: tracering-clock-drift [--duration SECONDS] [--interval SECONDS]\n"
    "\n"
    "Measures the producer clock's offset from CLOCK_MONOTONIC and prints it every interval.\n"
    "\n"
    "  --duration S  how long to measure (default 3600)\n"
    "  --interval S  seconds between report lines (default 60)\n";

std::string Clocksource()
{
    std::ifstream in{"/sys/devices/system/clocksource/clocksource0/current_clocksource"};
    std::string source;
    return in >> source ? source : "unknown";
}

} // namespace

int main(int argc, char** argv)
{
    double duration_s = 3600, interval_s = 60;
    cli::Args a{"tracering-clock-drift", argc, argv};
    while (a.Next()) {
        if (a.IsHelp()) return cli::Help(USAGE);
        bool ok = true;
        if (a.Is("--duration")) {
            ok = a.Seconds(duration_s, 0.001);
        } else if (a.Is("--interval")) {
            ok = a.Seconds(interval_s, 0.001);
        } else {
            return a.Unknown();
        }
        if (!ok) return a.Error();
    }

    SegmentHeader header{}; // the clock publishes its state here, as in a segment
    auto clock = detail::RingClock::Create(ClockSource::Auto, &header);
    clock->Start();
    std::printf("kernel clocksource %s; clock %s", Clocksource().c_str(),
                clock->UsesTsc() ? "tsc" : "monotonic");
    if (clock->UsesTsc()) {
        std::printf(" at %.6f GHz", double(clock->TscHz()) / 1e9);
    } else {
        std::printf(" (%s)", ClockReasonText(clock->reason()));
    }
    std::printf("; error bound %" PRIu64 " ns; %.0f s, a line every %.0f s\n",
                header.clock_error_bound_ns, duration_s, interval_s);
    std::printf("%8s %8s %10s %10s %10s %10s %10s %11s %11s %5s\n", "t_s", "samples", "min_ns",
                "median_ns", "max_ns", "max_abs_ns", "bracket_ns", "reanchors", "last_err_ns",
                "clock");
    std::fflush(stdout);

    using Steady = std::chrono::steady_clock;
    const auto start = Steady::now();
    const auto end = start + std::chrono::duration<double>(duration_s);
    auto next_line = start + std::chrono::duration<double>(interval_s);
    std::vector<int64_t> offsets;
    offsets.reserve(size_t(interval_s * 1100) + 16);
    uint64_t total = 0, backwards = 0, last_now = 0, max_bracket = 0, worst_bracket = 0;
    int64_t worst = 0;
    for (;;) {
        // The clock between two CLOCK_MONOTONIC reads: the offset is known to within half
        // the bracket; of three tries the tightest one counts (a preemption widens it).
        int64_t offset = 0;
        uint64_t best = ~uint64_t{0};
        for (int attempt = 0; attempt < 3; ++attempt) {
            const uint64_t before = detail::MonotonicNs();
            const uint64_t now = clock->Now();
            const uint64_t after = detail::MonotonicNs();
            if (now < last_now) ++backwards;
            last_now = now;
            if (after - before < best) {
                best = after - before;
                offset = int64_t(now) - int64_t(before + (after - before) / 2);
            }
        }
        offsets.push_back(offset);
        max_bracket = std::max(max_bracket, best);
        const auto t = Steady::now();
        const bool done = t >= end;
        if (t >= next_line || done) {
            if (!offsets.empty()) {
                std::sort(offsets.begin(), offsets.end());
                const int64_t lo = offsets.front(), hi = offsets.back();
                const int64_t abs_max = std::max(-lo, hi);
                if (abs_max > std::abs(worst)) worst = -lo > hi ? lo : hi;
                worst_bracket = std::max(worst_bracket, max_bracket);
                total += offsets.size();
                std::printf("%8.0f %8zu %10" PRId64 " %10" PRId64 " %10" PRId64 " %10" PRId64
                            " %10" PRIu64 " %11" PRIu64 " %11" PRId64 " %5s\n",
                            std::chrono::duration<double>(t - start).count(), offsets.size(), lo,
                            offsets[offsets.size() / 2], hi, abs_max, max_bracket,
                            header.clock_reanchors.load(), header.clock_last_error_ns.load(),
                            clock->UsesTsc() ? "tsc" : "mono");
                std::fflush(stdout);
            }
            offsets.clear();
            max_bracket = 0;
            next_line += std::chrono::duration<double>(interval_s);
        }
        if (done) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const uint64_t reason = header.clock_reason.load();
    std::printf(
        "summary: %.0f s, %" PRIu64 " samples, max |Now() - CLOCK_MONOTONIC| %" PRId64
        " ns (signed %" PRId64 " ns, bracket up to %" PRIu64 " ns), re-anchor max error %" PRIu64
        " ns over %" PRIu64 " re-anchors, backwards %" PRIu64 ", clock %s%s%s\n",
        std::chrono::duration<double>(Steady::now() - start).count(), total, std::abs(worst), worst,
        worst_bracket, header.clock_max_error_ns.load(), header.clock_reanchors.load(), backwards,
        clock->UsesTsc() ? "tsc" : "monotonic", reason ? ", reason: " : "",
        reason ? ClockReasonText(static_cast<ClockReason>(reason)) : "");
    return backwards == 0 ? 0 : 1;
}
