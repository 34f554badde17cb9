// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! The producer's clock: when it trusts the TSC, that Now() never goes back from many
//! threads while it is re-anchored, and that a TSC gone wrong makes it fall back to
//! CLOCK_MONOTONIC, continue monotonically, and say so in the segment.

#include <tracering/consumer.h>
#include <tracering/producer.h>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <sched.h>
#include <thread>
#include <vector>

#include "producer/ring_clock.h"
#include "test_util.h"

namespace tracering {
namespace {

using detail::RingClock;
using detail::TscProbe;

constexpr uint16_t USER_TYPE = static_cast<uint16_t>(EventType::UserFirst);

TEST(RingClockTest, TrustsAnInvariantTscWhetherTheKernelListsItOrNot)
{
    const TscProbe good{.x86_64_linux = true, .invariant = true, .kernel_lists_tsc = true};
    EXPECT_EQ(detail::DecideClock(ClockSource::Auto, good), ClockReason::None);
    EXPECT_EQ(detail::DecideClock(ClockSource::Tsc, good), ClockReason::None);
    EXPECT_EQ(detail::DecideClock(ClockSource::Monotonic, good), ClockReason::Requested);
    TscProbe p = good;
    p.x86_64_linux = false;
    EXPECT_EQ(detail::DecideClock(ClockSource::Auto, p), ClockReason::Unsupported);
    p = good;
    p.invariant = false;
    EXPECT_EQ(detail::DecideClock(ClockSource::Auto, p), ClockReason::NotInvariant);
    p = good;
    p.kernel_lists_tsc = false; // a kernel booted with tsc=unstable, as some VMs are
    EXPECT_EQ(detail::DecideClock(ClockSource::Auto, p), ClockReason::None);
}

//! The real probe of this host, with whether the kernel lists `tsc` and a TSC skew of the
//! last CPU checked at start set by the test.
TscProbe HostProbe(int64_t cpu_skew_ns, bool kernel_lists_tsc)
{
    TscProbe probe = detail::ProbeTsc();
    probe.kernel_lists_tsc = kernel_lists_tsc;
    probe.cpu_skew_ns_for_test = cpu_skew_ns;
    return probe;
}

//! Tests of the start-up check on this host's real CPUs: nothing to check without an
//! invariant TSC.
class StartUpClockTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        if (!detail::ProbeTsc().invariant) GTEST_SKIP() << "no invariant TSC on this host";
    }
};

TEST_F(StartUpClockTest, ATscTheKernelDoesNotListIsUsedAndCheckedOnEveryCpu)
{
    SegmentHeader header{};
    auto clock = RingClock::Create(ClockSource::Auto, HostProbe(0, false), &header);
    ASSERT_TRUE(clock->UsesTsc()) << ClockReasonText(clock->reason());
    EXPECT_EQ(header.clock_source.load(), uint32_t(ClockId::MonotonicTsc));
    EXPECT_EQ(header.clock_reason.load(), uint32_t(ClockReason::None));
    // The start-up check measured every CPU against the calibrated line, within its bound.
    EXPECT_LE(header.clock_max_error_ns.load(), TSC_SYNC_BOUND_NS);
    // Not listed at start, so not listing it later is no reason to fall back.
    ASSERT_TRUE(clock->Reanchor()) << ClockReasonText(clock->reason());
    EXPECT_TRUE(clock->UsesTsc());
}

TEST_F(StartUpClockTest, ACpuWhoseTscIsOffTheOthersMeansMonotonicWithTheReasonInTheHeader)
{
    for (const int64_t skew : {int64_t(2 * TSC_SYNC_BOUND_NS), -int64_t(2 * TSC_SYNC_BOUND_NS)}) {
        SCOPED_TRACE(skew);
        SegmentHeader header{};
        auto clock = RingClock::Create(ClockSource::Auto, HostProbe(skew, true), &header);
        EXPECT_FALSE(clock->UsesTsc());
        EXPECT_EQ(clock->reason(), ClockReason::NotSynchronised);
        EXPECT_EQ(header.clock_source.load(), uint32_t(ClockId::Monotonic));
        EXPECT_EQ(header.clock_reason.load(), uint32_t(ClockReason::NotSynchronised));
        EXPECT_GT(header.clock_max_error_ns.load(), TSC_SYNC_BOUND_NS);
        EXPECT_FALSE(clock->Reanchor());
    }
    // Half the bound off passes.
    SegmentHeader header{};
    auto clock =
        RingClock::Create(ClockSource::Auto, HostProbe(TSC_SYNC_BOUND_NS / 2, true), &header);
    EXPECT_TRUE(clock->UsesTsc()) << ClockReasonText(clock->reason());
}

TEST_F(StartUpClockTest, TheStartUpCheckLeavesTheCallersAffinityAsItWas)
{
    cpu_set_t before, after;
    ASSERT_EQ(sched_getaffinity(0, sizeof(before), &before), 0);
    auto clock = RingClock::Create(ClockSource::Auto, HostProbe(0, true), nullptr);
    ASSERT_EQ(sched_getaffinity(0, sizeof(after), &after), 0);
    EXPECT_TRUE(CPU_EQUAL(&before, &after));
}

TEST(RingClockTest, NoInvariantTscMeansMonotonicWithTheReasonInTheHeader)
{
    SegmentHeader header{};
    const TscProbe probe{.x86_64_linux = true, .invariant = false, .kernel_lists_tsc = true};
    auto clock = RingClock::Create(ClockSource::Auto, probe, &header);
    EXPECT_FALSE(clock->UsesTsc());
    EXPECT_EQ(clock->reason(), ClockReason::NotInvariant);
    EXPECT_EQ(header.clock_source.load(), uint32_t(ClockId::Monotonic));
    EXPECT_EQ(header.clock_reason.load(), uint32_t(ClockReason::NotInvariant));
    EXPECT_EQ(header.tsc_hz.load(), 0u);
    EXPECT_EQ(header.clock_error_bound_ns, CLOCK_ERROR_BOUND_NS);
    uint64_t last = 0;
    for (int i = 0; i < 1000; ++i) {
        const uint64_t now = clock->Now();
        ASSERT_GE(now, last);
        last = now;
    }
    EXPECT_FALSE(clock->Reanchor());
}

//! Threads calling the clock until stopped: each checks that its own values never go back,
//! and that no NowOrdered() value is below one another thread had returned before.
class NowFromThreads
{
public:
    NowFromThreads(const RingClock& clock, int threads)
    {
        for (int t = 0; t < threads; ++t) {
            m_threads.emplace_back([this, &clock] {
                uint64_t own = 0;
                while (!m_stop.load(std::memory_order_relaxed)) {
                    // Now() never goes back on one thread; NowOrdered() never goes below a
                    // value another thread returned before.
                    const uint64_t first = clock.Now();
                    const uint64_t seen = m_max.load(std::memory_order_acquire);
                    const uint64_t now = clock.NowOrdered();
                    if (first < own || now < first || now < seen) m_backwards.fetch_add(1);
                    own = now;
                    uint64_t max = seen;
                    while (max < now && !m_max.compare_exchange_weak(max, now)) {
                    }
                    m_calls.fetch_add(1, std::memory_order_relaxed);
                }
            });
        }
    }
    ~NowFromThreads() { Stop(); }
    //! Waits until the threads made `n` more calls.
    void WaitCalls(uint64_t n)
    {
        const uint64_t target = m_calls.load() + n;
        while (m_calls.load() < target)
            std::this_thread::yield();
    }
    uint64_t Stop()
    {
        m_stop = true;
        for (auto& t : m_threads)
            if (t.joinable()) t.join();
        return m_backwards.load();
    }
    uint64_t max() const { return m_max.load(); }

private:
    std::atomic<bool> m_stop{false};
    std::atomic<uint64_t> m_max{0};
    std::atomic<uint64_t> m_backwards{0};
    std::atomic<uint64_t> m_calls{0};
    std::vector<std::thread> m_threads;
};

TEST(RingClockTest, NowNeverGoesBackFromManyThreadsAcrossReanchors)
{
    SegmentHeader header{};
    auto clock = RingClock::Create(ClockSource::Auto, &header);
    if (!clock->UsesTsc()) GTEST_SKIP() << "no TSC here: " << ClockReasonText(clock->reason());
    clock->Start(); // its own thread re-anchors too
    NowFromThreads threads{*clock, 4};
    // Re-anchors from this thread until 50 new lines were published, each with a slewed rate.
    const uint64_t lines = clock->Published() + 50;
    while (clock->Published() < lines) {
        ASSERT_TRUE(clock->Reanchor()) << ClockReasonText(clock->reason());
        threads.WaitCalls(1000);
    }
    EXPECT_EQ(threads.Stop(), 0u);
    EXPECT_TRUE(clock->UsesTsc());
    EXPECT_GE(header.clock_reanchors.load(), 50u);
    EXPECT_LE(header.clock_max_error_ns.load(), CLOCK_ERROR_BOUND_NS);
    EXPECT_NE(header.tsc_hz.load(), 0u);
}

//! Where each fallback test starts: a clock on the TSC (skipped where there is none) that 3
//! threads read, re-anchored once; and what every fallback must leave behind.
class FallbackTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        if (!clock->UsesTsc()) GTEST_SKIP() << "no TSC here: " << ClockReasonText(clock->reason());
        threads.emplace(*clock, 3);
        threads->WaitCalls(1000);
        ASSERT_TRUE(clock->Reanchor());
    }
    //! No thread saw a value go back; CLOCK_MONOTONIC for good, for `reason`, said in the
    //! header; never below what the TSC line returned.
    void ExpectFellBack(ClockReason reason)
    {
        threads->WaitCalls(1000);
        EXPECT_EQ(threads->Stop(), 0u);
        EXPECT_FALSE(clock->UsesTsc());
        EXPECT_EQ(clock->reason(), reason);
        EXPECT_EQ(header.clock_source.load(std::memory_order_acquire),
                  uint32_t(ClockId::Monotonic));
        EXPECT_EQ(header.clock_reason.load(), uint32_t(reason));
        EXPECT_NE(header.clock_fallback_ns.load(), 0u);
        EXPECT_GE(clock->Now(), threads->max());
        EXPECT_FALSE(clock->Reanchor()); // for good
    }

    SegmentHeader header{};
    std::unique_ptr<RingClock> clock{RingClock::Create(ClockSource::Auto, &header)};
    std::optional<NowFromThreads> threads;
};

class FallbackClockTest : public FallbackTest, public ::testing::WithParamInterface<int64_t>
{
};

TEST_P(FallbackClockTest, ATscErrorPastTheBoundFallsBackAndContinuesMonotonically)
{
    clock->InjectErrorForTest(GetParam());
    EXPECT_FALSE(clock->Reanchor());
    ExpectFellBack(ClockReason::ErrorBound);
    EXPECT_GT(header.clock_max_error_ns.load(), CLOCK_ERROR_BOUND_NS);
}

INSTANTIATE_TEST_SUITE_P(Errors, FallbackClockTest,
                         ::testing::Values(int64_t(2 * CLOCK_ERROR_BOUND_NS),
                                           -int64_t(2 * CLOCK_ERROR_BOUND_NS),
                                           int64_t(3'600'000'000'000)),
                         [](const auto& p) {
                             return p.param < 0               ? std::string{"Behind"}
                                    : p.param > 1'000'000'000 ? std::string{"AnHourAhead"}
                                                              : std::string{"Ahead"};
                         });

//! The other two ways a trusted TSC is given up: its value goes back past the last sample
//! (`Backwards`), or its rate over a period of 100 ms or more jumps away from the recent rate
//! (`RateJump`, as on a move to another host). Both continue monotonically.
struct SampleShift {
    const char* name;
    int64_t tsc_ticks;
    int64_t ns;
    ClockReason reason;
};

class SampleFallbackClockTest : public FallbackTest,
                                public ::testing::WithParamInterface<SampleShift>
{
};

TEST_P(SampleFallbackClockTest, FallsBackForTheReasonAndContinuesMonotonically)
{
    clock->ShiftLastSampleForTest(GetParam().tsc_ticks, GetParam().ns);
    // A re-anchor whose own sample was too wide to trust measures nothing and keeps the
    // shifted sample: try again until one measures.
    for (int tries = 0; tries < 100 && clock->Reanchor(); ++tries) {
    }
    ExpectFellBack(GetParam().reason);
}

INSTANTIATE_TEST_SUITE_P(
    Samples, SampleFallbackClockTest,
    ::testing::Values(
        // The last sample an hour of ticks (at 10 GHz at most) ahead: the TSC now is behind it.
        SampleShift{"Backwards", int64_t{36'000'000'000'000}, 0, ClockReason::Backwards},
        // The last sample 200 ms earlier on CLOCK_MONOTONIC for the same ticks: the rate since
        // is more than twice the recent one.
        SampleShift{"RateJump", 0, -200'000'000, ClockReason::RateJump}),
    [](const auto& p) { return std::string{p.param.name}; });

//! A real producer with writers on several threads and a consumer: each ring's timestamps
//! never go back, through re-anchors and a fallback, and the consumer sees the fallback.
TEST(ProducerClockTest, RingTimestampsStayMonotonicThroughAFallbackTheConsumerSees)
{
    ProducerOptions options = test::SmallProducer("clockfb", 1 << 20);
    auto producer = Producer::Create(options);
    ASSERT_TRUE(producer) << producer.error().message();
    auto consumer = Consumer::Open(options.name);
    ASSERT_TRUE(consumer) << consumer.error().message();
    auto reader = test::AttachReader(**producer, **consumer, Subsystem::Mempool);
    ASSERT_TRUE(reader) << reader.error().message();
    detail::RingClock& clock = detail::ClockOf(**producer);
    const bool tsc = clock.UsesTsc();
    const ClockStatus at_start = (*consumer)->Clock();
    EXPECT_EQ(at_start.timeline, tsc ? ClockId::MonotonicTsc : ClockId::Monotonic);
    EXPECT_EQ(at_start.in_use, at_start.timeline);
    EXPECT_EQ(at_start.error_bound_ns, CLOCK_ERROR_BOUND_NS);

    std::atomic<bool> stop{false};
    std::atomic<uint64_t> written{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < 3; ++t) {
        writers.emplace_back([&] {
            const uint8_t payload[16] = {};
            while (!stop.load(std::memory_order_relaxed)) {
                if ((*producer)->WriteRaw(Subsystem::Mempool, USER_TYPE, payload, 16)) {
                    written.fetch_add(1, std::memory_order_relaxed);
                }
            }
        });
    }
    uint64_t last = 0, backwards = 0, read = 0;
    const auto drain = [&](uint64_t until) {
        while (read < until) {
            auto n = (*reader)->Poll([&](const EventView& ev) {
                if (ev.timestamp_ns() < last) ++backwards;
                last = ev.timestamp_ns();
                ++read;
            });
            ASSERT_TRUE(n) << n.error().message();
        }
    };
    drain(20'000);
    if (tsc) {
        ASSERT_TRUE(clock.Reanchor());
        drain(read + 20'000);
        clock.InjectErrorForTest(int64_t(2 * CLOCK_ERROR_BOUND_NS));
        EXPECT_FALSE(clock.Reanchor());
    }
    drain(read + 20'000);
    stop = true;
    for (auto& w : writers)
        w.join();
    EXPECT_EQ(backwards, 0u);
    const ClockStatus now = (*consumer)->Clock();
    EXPECT_EQ(now.in_use, ClockId::Monotonic);
    EXPECT_EQ(now.timeline, at_start.timeline);
    if (tsc) {
        EXPECT_EQ(now.reason, ClockReason::ErrorBound);
        EXPECT_NE(now.fallback_ns, 0u);
        EXPECT_NE(now.tsc_hz, 0u);
        EXPECT_GE(now.reanchors, 2u);
        EXPECT_GT(now.max_error_ns, now.error_bound_ns);
    } else {
        EXPECT_NE(now.reason, ClockReason::None);
        EXPECT_EQ(now.fallback_ns, 0u);
    }
}

TEST(ProducerClockTest, AskingForMonotonicIsReportedAsTheReason)
{
    ProducerOptions options = test::SmallProducer("clockmono", 1 << 16);
    options.clock = ClockSource::Monotonic;
    auto producer = Producer::Create(options);
    ASSERT_TRUE(producer) << producer.error().message();
    auto consumer = Consumer::Open(options.name);
    ASSERT_TRUE(consumer) << consumer.error().message();
    const ClockStatus c = (*consumer)->Clock();
    EXPECT_EQ(c.timeline, ClockId::Monotonic);
    EXPECT_EQ(c.in_use, ClockId::Monotonic);
    EXPECT_EQ(c.reason, ClockReason::Requested);
    EXPECT_EQ(c.tsc_hz, 0u);
}

} // namespace
} // namespace tracering
