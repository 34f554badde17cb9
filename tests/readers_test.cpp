// Copyright (c) The tracering developers
// Distributed under the MIT software license.

// Several readers of one ring: each its own position, events, lossless flag and payload
// limit; what a slow reader costs the others and the node; and the lossless budget.

#include <tracering/consumer.h>
#include <tracering/producer.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "test_util.h"

namespace tracering {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint16_t TEST_TYPE = static_cast<uint16_t>(EventType::UserFirst) + 5;

class ReadersTest : public ::testing::Test
{
protected:
    void Make(ProducerOptions options)
    {
        auto producer = Producer::Create(options);
        ASSERT_TRUE(producer) << producer.error().message();
        m_producer = std::move(producer.value());
        auto consumer = Consumer::Open(m_producer->Name());
        ASSERT_TRUE(consumer) << consumer.error().message();
        m_consumer = std::move(consumer.value());
    }
    test::LeasedReader Add(const EnableOptions& options = {})
    {
        auto reader = test::AttachReader(*m_producer, *m_consumer, Subsystem::Mempool, options);
        EXPECT_TRUE(reader) << reader.error().message();
        return reader ? std::move(reader.value()) : test::LeasedReader{};
    }
    bool Write(uint32_t size = 100)
    {
        const std::vector<uint8_t> payload(size, 0x42);
        return m_producer->WriteRaw(Subsystem::Mempool, TEST_TYPE, payload.data(), size);
    }
    RingStats stats() const { return m_producer->Stats(Subsystem::Mempool); }

    std::unique_ptr<Producer> m_producer;
    std::unique_ptr<Consumer> m_consumer;
};

//! Reads everything `reader` has now; returns {events, lost}.
std::pair<uint64_t, uint64_t> Drain(RingReader& reader)
{
    uint64_t read = 0, lost = 0;
    for (;;) {
        auto n = reader.Poll([&](const EventView& ev) {
            lost += ev.lost_before();
            ++read;
        });
        if (!n || n.value() == 0) break;
    }
    return {read, lost};
}

TEST_F(ReadersTest, FourReadersEachGetEveryEvent)
{
    ASSERT_NO_FATAL_FAILURE(Make(test::SmallProducer("readers-4", 1 << 16)));
    std::vector<test::LeasedReader> readers;
    for (int i = 0; i < 4; ++i)
        readers.push_back(Add());
    EXPECT_EQ(stats().reader_count, 4u);
    std::vector<uint64_t> got(4, 0);
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 100; ++i)
            ASSERT_TRUE(Write());
        for (size_t r = 0; r < readers.size(); ++r) {
            const auto [read, lost] = Drain(*readers[r]);
            EXPECT_EQ(lost, 0u);
            got[r] += read;
        }
    }
    for (uint64_t n : got)
        EXPECT_EQ(n, 5000u);
    EXPECT_EQ(stats().dropped(), 0u);
}

TEST_F(ReadersTest, ASlowReaderCostsTheOthersCountedGapsThenIsDetached)
{
    ProducerOptions options = test::SmallProducer("readers-slow", 4096);
    options.slow_reader_ms = 100;
    ASSERT_NO_FATAL_FAILURE(Make(options));
    auto stopped = Add();
    auto reading = Add();
    // The stopped reader never reads: the ring fills, and events are dropped for both.
    uint64_t written = 0;
    while (Write())
        ++written;
    EXPECT_FALSE(Write()); // two events dropped so far
    const auto [first, first_lost] = Drain(*reading);
    EXPECT_EQ(first, written);
    EXPECT_EQ(first_lost, 0u);
    // The reading one keeps up, but the ring stays full behind the stopped one until it has
    // been in the way for slow_reader_ms; then it is detached and writing resumes.
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    uint64_t dropped_while_blocked = 0;
    while (!Write()) {
        ++dropped_while_blocked;
        ASSERT_LT(Clock::now(), deadline) << "the stopped reader was never detached";
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_GT(dropped_while_blocked, 0u);
    const RingStats s = stats();
    EXPECT_EQ(s.readers_evicted, 1u);
    EXPECT_EQ(s.reader_count, 1u);
    EXPECT_EQ(s.dropped_full, dropped_while_blocked + 2);
    // The other reader sees the gap, counted exactly, and then every event again.
    const auto [after, gap] = Drain(*reading);
    EXPECT_EQ(after, 1u);
    EXPECT_EQ(gap, dropped_while_blocked + 2);
    // The stopped one learns why when it reads again.
    auto n = stopped->Poll([](const EventView&) {});
    ASSERT_FALSE(n);
    EXPECT_EQ(n.error().code(), ErrorCode::Detached);
    EXPECT_NE(n.error().message().find("kept the ring full"), std::string::npos)
        << n.error().message();
}

TEST_F(ReadersTest, TheOnlyReaderIsNeverDetachedForBeingSlow)
{
    ProducerOptions options = test::SmallProducer("readers-only", 4096);
    options.slow_reader_ms = 10;
    ASSERT_NO_FATAL_FAILURE(Make(options));
    auto only = Add();
    while (Write()) {
    }
    const auto until = Clock::now() + std::chrono::milliseconds(50);
    while (Clock::now() < until)
        EXPECT_FALSE(Write());
    EXPECT_EQ(stats().readers_evicted, 0u);
    EXPECT_EQ(stats().reader_count, 1u);
    EXPECT_TRUE(only->Poll([](const EventView&) {}));
}

TEST_F(ReadersTest, AStoppedLosslessReaderCostsTheNodeAtMostItsBudget)
{
    ProducerOptions options = test::SmallProducer("readers-budget", 4096);
    options.lossless_budget_ms = 50;
    ASSERT_NO_FATAL_FAILURE(Make(options));
    EnableOptions lossless;
    lossless.lossless = true;
    lossless.lossless_wait_ns = 10'000'000'000; // 10 s per wait: the budget must bound it
    auto stopped = Add(lossless);
    // Fill the ring: the first event that does not fit waits for the reader, which never
    // reads. Then it is "continued" and stopped again, as SIGSTOP/SIGCONT would do: each
    // time it moves a little, the writers would wait again for it, but the lease's waits
    // are bounded in total.
    const auto start = Clock::now();
    while (Write()) {
    }
    for (int cycle = 0; cycle < 5; ++cycle) {
        EventView view;
        ASSERT_TRUE(stopped->Next(view));
        stopped->Release(); // room for one record
        for (int i = 0; i < 3; ++i)
            Write();
    }
    const auto took = Clock::now() - start;
    EXPECT_LT(took, std::chrono::milliseconds(1000)) << "waited well past the 50 ms budget";
    EXPECT_GE(took, std::chrono::milliseconds(40)) << "did not wait at all";
    const RingStats s = stats();
    EXPECT_EQ(s.lossless_downgrades, 1u);
    EXPECT_FALSE(s.lossless);
    ASSERT_EQ(s.readers.size(), 1u);
    EXPECT_TRUE(s.readers[0].downgraded);
    EXPECT_GE(s.readers[0].waited_ns, 40'000'000u);
    EXPECT_TRUE(stopped.lease->downgraded());
    // The reader is still attached and sees what was dropped as counted gaps (those after
    // the last record show once another record follows them).
    auto [read, lost] = Drain(*stopped);
    EXPECT_TRUE(Write());
    const auto [more, more_lost] = Drain(*stopped);
    EXPECT_EQ(more, 1u);
    EXPECT_GT(read, 0u);
    EXPECT_EQ(lost + more_lost, stats().dropped());
}

TEST_F(ReadersTest, ALosslessReaderIsWaitedForWhileALossyOneIsNot)
{
    ASSERT_NO_FATAL_FAILURE(Make(test::SmallProducer("readers-mixed", 1 << 16)));
    EnableOptions lossless;
    lossless.lossless = true;
    lossless.lossless_wait_ns = 5'000'000'000;
    auto careful = Add(lossless);
    auto casual = Add();
    constexpr uint64_t TOTAL = 20'000;
    // The seq of the last record, once written: each reader reads up to it. Events dropped
    // after the last record would show as a gap only to a later one, so there is always one.
    constexpr uint64_t NOT_YET = ~uint64_t{0};
    std::atomic<uint64_t> last_seq{NOT_YET};
    uint64_t careful_read = 0, careful_lost = 0, casual_read = 0, casual_lost = 0;
    auto read_all = [&](test::LeasedReader& reader, uint64_t& read, uint64_t& lost) {
        std::optional<uint64_t> next;
        for (;;) {
            const auto [n, gap] = Drain(*reader);
            read += n;
            lost += gap;
            next = reader->next_seq();
            const uint64_t last = last_seq.load();
            if (last != NOT_YET && next && *next > last) return;
            if (n == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    };
    std::thread careful_thread{[&] { read_all(careful, careful_read, careful_lost); }};
    std::thread casual_thread{[&] { read_all(casual, casual_read, casual_lost); }};
    for (uint64_t i = 0; i < TOTAL; ++i)
        Write(200);
    while (!Write(200)) // the last record: the ring has room once the readers catch up
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    last_seq = stats().seq - 1;
    careful_thread.join();
    casual_thread.join();
    // Writers waited for the lossless reader; the lossy one may have held the ring full, and
    // then both see the same counted gap: nothing is lost silently for either.
    const uint64_t attempted = stats().seq;
    EXPECT_EQ(careful_read + careful_lost, attempted);
    EXPECT_EQ(casual_read + casual_lost, attempted);
    EXPECT_EQ(careful_lost, stats().dropped());
    EXPECT_EQ(casual_lost, stats().dropped());
}

TEST_F(ReadersTest, PayloadsAreCutToTheLargestLimitAskedFor)
{
    ProducerOptions options = test::SmallProducer("readers-limit", 1 << 16, /*global=*/false);
    ASSERT_NO_FATAL_FAILURE(Make(options));
    EnableOptions small;
    small.payload_limit = 100;
    EnableOptions larger;
    larger.payload_limit = 300;
    auto a = Add(small);
    auto b = Add(larger);
    EXPECT_EQ(stats().payload_limit, 300u);
    auto c = Add(); // whole payloads
    EXPECT_EQ(stats().payload_limit, 0u);
    c.reader.reset();
    c.lease.reset();
    EXPECT_EQ(stats().payload_limit, 300u);
}

TEST_F(ReadersTest, ARingTakesMaxReadersAndThenSaysWhoHoldsIt)
{
    ASSERT_NO_FATAL_FAILURE(Make(test::SmallProducer("readers-full", 4096)));
    std::vector<std::unique_ptr<Lease>> leases;
    for (uint32_t i = 0; i < MAX_READERS; ++i) {
        EnableOptions options;
        options.reader_pid = 1000 + i;
        auto lease = m_producer->Attach(Subsystem::Mempool, options);
        ASSERT_TRUE(lease) << lease.error().message();
        leases.push_back(std::move(lease.value()));
    }
    auto refused = m_producer->Attach(Subsystem::Mempool);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), ErrorCode::Busy);
    EXPECT_NE(refused.error().message().find("1000, 1001"), std::string::npos)
        << refused.error().message();
    // All or none: a lease that cannot get every ring gets none.
    auto partial = m_producer->Attach({{Subsystem::Net, {}}, {Subsystem::Mempool, {}}});
    ASSERT_FALSE(partial);
    EXPECT_EQ(m_producer->Stats(Subsystem::Net).reader_count, 0u);
    leases.pop_back();
    EXPECT_TRUE(m_producer->Attach(Subsystem::Mempool));
}

// Each reader's cursor is its own lease's memory: a reader detached and replaced cannot move
// the new reader's position, whatever it stores or releases afterwards.
TEST_F(ReadersTest, AnOldReaderReleasingAfterItsLeaseEndedCannotTouchTheNewOne)
{
    ASSERT_NO_FATAL_FAILURE(Make(test::SmallProducer("readers-release", 4096)));
    auto old_reader = Add();
    for (int i = 0; i < 10; ++i)
        ASSERT_TRUE(Write());
    // The old reader reads (not yet released), then its lease ends and a new one starts.
    EventView view;
    for (int i = 0; i < 10; ++i)
        ASSERT_TRUE(old_reader->Next(view).value());
    old_reader.lease.reset();
    auto fresh = Add();
    old_reader->Release(); // a reset between its checks and its store changes nothing now
    old_reader.reader.reset();
    for (int i = 0; i < 20; ++i)
        ASSERT_TRUE(Write());
    EXPECT_EQ(stats().cursor_violations, 0u);
    const auto [read, lost] = Drain(*fresh);
    EXPECT_EQ(read, 20u);
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ(stats().reader_count, 1u);
}

} // namespace
} // namespace tracering
