// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! Benchmarks of the producer's clock, linked into tracering_bench beside ring_bench.cpp
//! (whose BM_Clock_Monotonic is the clock_gettime baseline). The run's context names the
//! kernel's current clocksource and the clock a producer chooses here, which every
//! benchmark of the binary uses.

#include <tracering/consumer.h>
#include <tracering/producer.h>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>

#include "producer/ring_clock.h"

namespace {

using namespace tracering;

void SmokeClock(benchmark::internal::Benchmark* b)
{
    const char* smoke = std::getenv("TRACERING_BENCH_SMOKE");
    if (smoke && std::strcmp(smoke, "0") != 0) b->Iterations(1);
}

std::string CurrentClocksource()
{
    std::ifstream in{"/sys/devices/system/clocksource/clocksource0/current_clocksource"};
    std::string source;
    return in >> source ? source : "unknown";
}

std::string ProducerClock()
{
    const ClockReason reason = detail::DecideClock(ClockSource::Auto, detail::ProbeTsc());
    if (reason == ClockReason::None) return "tsc";
    return std::string{"monotonic ("} + ClockReasonText(reason) + ")";
}

//! Printed in the run's context, before any figure.
const bool g_context = [] {
    benchmark::AddCustomContext("kernel_clocksource", CurrentClocksource());
    benchmark::AddCustomContext("tracering_clock", ProducerClock());
    return true;
}();

//! One clock for every thread of a benchmark, re-anchored by its own thread as in a producer.
detail::RingClock& SharedClock()
{
    static const std::unique_ptr<detail::RingClock> clock = [] {
        auto c = detail::RingClock::Create(ClockSource::Auto, nullptr);
        c->Start();
        return c;
    }();
    return *clock;
}

void Label(benchmark::State& state, const detail::RingClock& clock)
{
    state.SetLabel(clock.UsesTsc() ? "tsc" : "monotonic");
    state.counters["tsc"] =
        benchmark::Counter(clock.UsesTsc() ? 1 : 0, benchmark::Counter::kAvgThreads);
}

// The raw counter read, for scale: bare (detail::ReadTsc, as Now() reads it), and ordered
// after earlier loads (detail::ReadTscOrdered, as NowOrdered() reads it).
void BM_Clock_Rdtsc(benchmark::State& state)
{
    for (auto _ : state)
        benchmark::DoNotOptimize(detail::ReadTsc());
}
BENCHMARK(BM_Clock_Rdtsc)->Apply(SmokeClock);

void BM_Clock_RdtscOrdered(benchmark::State& state)
{
    for (auto _ : state)
        benchmark::DoNotOptimize(detail::ReadTscOrdered());
}
BENCHMARK(BM_Clock_RdtscOrdered)->Apply(SmokeClock);

// RingClock::Now(), as RingWriter calls it for each record: the TSC where it can be trusted.
void BM_Clock_Tsc(benchmark::State& state)
{
    detail::RingClock& clock = SharedClock();
    for (auto _ : state)
        benchmark::DoNotOptimize(clock.Now());
    Label(state, clock);
}
BENCHMARK(BM_Clock_Tsc)->Apply(SmokeClock);
// The same from two threads at once: readers share the calibration without writing to it.
BENCHMARK(BM_Clock_Tsc)->Threads(2)->Apply(SmokeClock);

// NowOrdered(): the same with a fenced RDTSC, for callers that order threads by memory.
void BM_Clock_TscOrdered(benchmark::State& state)
{
    detail::RingClock& clock = SharedClock();
    for (auto _ : state)
        benchmark::DoNotOptimize(clock.NowOrdered());
    Label(state, clock);
}
BENCHMARK(BM_Clock_TscOrdered)->Apply(SmokeClock);

// RingClock::Now() of a producer that asked for CLOCK_MONOTONIC: clock_gettime and the
// clock's own overhead.
void BM_Clock_RingClockMonotonic(benchmark::State& state)
{
    static const std::unique_ptr<detail::RingClock> clock =
        detail::RingClock::Create(ClockSource::Monotonic, nullptr);
    for (auto _ : state)
        benchmark::DoNotOptimize(clock->Now());
    Label(state, *clock);
}
BENCHMARK(BM_Clock_RingClockMonotonic)->Apply(SmokeClock);

} // namespace
