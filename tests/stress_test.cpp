// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/consumer.h>
#include <tracering/producer.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "test_util.h"

namespace tracering {
namespace {

constexpr uint16_t STRESS_TYPE = static_cast<uint16_t>(EventType::UserFirst) + 2;

struct StressRecord {
    uint32_t thread;
    uint32_t size;
    uint64_t counter;
    uint64_t check; //!< thread ^ counter * constant, to detect torn records
};

TEST(StressTest, ManyWriterThreadsIntoOneRingKeepPerThreadOrder)
{
    auto producer = Producer::Create(test::SmallProducer("stress", 1 << 16));
    ASSERT_TRUE(producer) << producer.error().message();
    Producer& p = **producer;
    auto consumer = Consumer::Open(p.Name());
    ASSERT_TRUE(consumer) << consumer.error().message();
    auto reader = test::AttachReader(p, **consumer, Subsystem::Net);
    ASSERT_TRUE(reader) << reader.error().message();

    constexpr uint32_t THREADS = 4;
    constexpr uint64_t PER_THREAD = 200'000;
    std::atomic<uint32_t> finished{0};
    std::vector<uint64_t> written(THREADS, 0);
    std::vector<std::thread> writers;
    for (uint32_t t = 0; t < THREADS; ++t) {
        writers.emplace_back([&, t] {
            for (uint64_t i = 0; i < PER_THREAD; ++i) {
                StressRecord r{t, uint32_t(sizeof(StressRecord) + (i % 5) * 8), i,
                               t ^ (i * 0x9e3779b97f4a7c15ULL)};
                uint8_t buf[sizeof(StressRecord) + 64] = {};
                std::memcpy(buf, &r, sizeof(r));
                if (p.WriteRaw(Subsystem::Net, STRESS_TYPE, buf, r.size)) ++written[t];
            }
            finished.fetch_add(1);
        });
    }
    std::vector<int64_t> last(THREADS, -1);
    uint64_t delivered = 0, lost = 0, bad = 0, out_of_order = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
        const bool all_done = finished.load() == THREADS;
        auto n = (*reader)->Poll(
            [&](const EventView& ev) {
                StressRecord r;
                if (ev.size() < sizeof(r)) {
                    ++bad;
                    return;
                }
                std::memcpy(&r, ev.data(), sizeof(r));
                if (r.thread >= THREADS || r.size != ev.size() ||
                    r.check != (r.thread ^ (r.counter * 0x9e3779b97f4a7c15ULL))) {
                    ++bad;
                    return;
                }
                if (int64_t(r.counter) <= last[r.thread]) ++out_of_order;
                last[r.thread] = int64_t(r.counter);
                lost += ev.lost_before();
                ++delivered;
            },
            4096);
        ASSERT_TRUE(n) << n.error().message();
        if (all_done && n.value() == 0) break;
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "stress test did not finish";
    }
    for (auto& w : writers)
        w.join();

    uint64_t total_written = 0;
    for (uint64_t w : written)
        total_written += w;
    const RingStats s = p.Stats(Subsystem::Net);
    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(out_of_order, 0u);
    EXPECT_EQ(delivered, total_written);
    EXPECT_EQ(s.seq, THREADS * PER_THREAD);
    EXPECT_EQ(s.dropped_full, THREADS * PER_THREAD - total_written);
    EXPECT_LE(lost, s.dropped_full);
}

} // namespace
} // namespace tracering
