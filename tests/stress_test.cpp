// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/consumer.h>
#include <tracering/producer.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "held_record.h"
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

TEST(StressTest, LosslessReaderGetsEveryEventOfFourWritersInSeqAndTimeOrder)
{
    auto producer = Producer::Create(test::SmallProducer("stress-lossless", 1 << 16));
    ASSERT_TRUE(producer) << producer.error().message();
    Producer& p = **producer;
    auto consumer = Consumer::Open(p.Name());
    ASSERT_TRUE(consumer) << consumer.error().message();
    EnableOptions options;
    options.lossless = true;
    options.lossless_wait_ns = 10'000'000'000;
    auto reader = test::AttachReader(p, **consumer, Subsystem::Net, options);
    ASSERT_TRUE(reader) << reader.error().message();

    constexpr uint32_t THREADS = 4;
    constexpr uint64_t PER_THREAD = 50'000;
    std::atomic<uint32_t> finished{0};
    std::vector<std::thread> writers;
    for (uint32_t t = 0; t < THREADS; ++t) {
        writers.emplace_back([&, t] {
            for (uint64_t i = 0; i < PER_THREAD; ++i) {
                StressRecord r{t, uint32_t(sizeof(StressRecord)), i,
                               t ^ (i * 0x9e3779b97f4a7c15ULL)};
                p.WriteRaw(Subsystem::Net, STRESS_TYPE, &r, sizeof(r));
            }
            finished.fetch_add(1);
        });
    }
    std::vector<int64_t> last(THREADS, -1);
    uint64_t delivered = 0, lost = 0, bad = 0, previous_seq = 0, previous_ns = 0;
    bool seq_ok = true, time_ok = true;
    for (;;) {
        const bool all_done = finished.load() == THREADS;
        auto n = (*reader)->Poll(
            [&](const EventView& ev) {
                StressRecord r;
                std::memcpy(&r, ev.data(), std::min<size_t>(sizeof(r), ev.size()));
                if (ev.size() != sizeof(r) || r.thread >= THREADS ||
                    r.check != (r.thread ^ (r.counter * 0x9e3779b97f4a7c15ULL)) ||
                    int64_t(r.counter) != last[r.thread] + 1) {
                    ++bad;
                    return;
                }
                last[r.thread] = int64_t(r.counter);
                if (delivered != 0 && ev.seq() != previous_seq + 1) seq_ok = false;
                if (ev.timestamp_ns() < previous_ns) time_ok = false;
                previous_seq = ev.seq();
                previous_ns = ev.timestamp_ns();
                lost += ev.lost_before();
                ++delivered;
            },
            4096);
        ASSERT_TRUE(n) << n.error().message();
        if (all_done && n.value() == 0) break;
    }
    for (auto& w : writers)
        w.join();
    const RingStats s = p.Stats(Subsystem::Net);
    EXPECT_EQ(bad, 0u);
    EXPECT_TRUE(seq_ok) << "every record's seq follows its predecessor's";
    EXPECT_TRUE(time_ok) << "timestamps never go back within the ring";
    EXPECT_EQ(delivered, THREADS * PER_THREAD);
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ(s.seq, THREADS * PER_THREAD);
    EXPECT_EQ(s.dropped_full + s.dropped_timeout + s.dropped_reader_reset, 0u)
        << "full " << s.dropped_full << ", timeout " << s.dropped_timeout << ", reset "
        << s.dropped_reader_reset << ", downgrades " << s.lossless_downgrades;
}

TEST(StressTest, AWriterStoppedMidRecordDelaysNoOtherWriterAndReadersReportIt)
{
    auto producer = Producer::Create(test::SmallProducer("stress-stuck", 1 << 16));
    ASSERT_TRUE(producer) << producer.error().message();
    Producer& p = **producer;
    auto consumer = Consumer::Open(p.Name());
    ASSERT_TRUE(consumer) << consumer.error().message();
    auto reader = test::AttachReader(p, **consumer, Subsystem::Net);
    ASSERT_TRUE(reader) << reader.error().message();

    test::HeldRecord held;
    ASSERT_TRUE(held.Start(p, Subsystem::Net, STRESS_TYPE));
    // Other writers go on while it is stopped: each of these returns, written.
    constexpr uint64_t OTHERS = 100;
    for (uint64_t i = 0; i < OTHERS; ++i) {
        ASSERT_TRUE(p.WriteRaw(Subsystem::Net, STRESS_TYPE, &i, sizeof(i)));
    }
    const RingStats during = p.Stats(Subsystem::Net);
    EXPECT_EQ(during.seq, OTHERS + 1);
    // Nothing is published past the stopped record, and the reader says why once it has
    // waited STUCK_REPORT_NS (it polls until then; no sleep).
    uint64_t delivered = 0;
    std::optional<StuckRecord> report;
    while (!report) {
        auto n = (*reader)->Poll([&](const EventView&) { ++delivered; });
        ASSERT_TRUE(n) << n.error().message();
        report = (*reader)->StuckWriter();
        if (!report) std::this_thread::yield();
    }
    EXPECT_EQ(delivered, 0u);
    EXPECT_EQ(report->position, 0u);
    EXPECT_EQ(report->bytes_waiting, (OTHERS + 1) * AlignedRecordSize(RECORD_HEADER_SIZE + 8));
    EXPECT_GE(report->stuck_ns, RingReader::STUCK_REPORT_NS);
    // A new reader can attach meanwhile: it starts after every record reserved so far.
    auto late = test::AttachReader(p, **consumer, Subsystem::Net);
    ASSERT_TRUE(late) << late.error().message();
    ASSERT_TRUE(p.WriteRaw(Subsystem::Net, STRESS_TYPE, &OTHERS, sizeof(OTHERS)));

    held.Release();
    EXPECT_TRUE(held.written());
    // Everything comes out in reservation order: the stopped record first.
    std::vector<uint64_t> seqs, values;
    while (seqs.size() < OTHERS + 2) {
        auto n = (*reader)->Poll([&](const EventView& ev) {
            uint64_t v;
            std::memcpy(&v, ev.data(), sizeof(v));
            seqs.push_back(ev.seq());
            values.push_back(v);
        });
        ASSERT_TRUE(n) << n.error().message();
    }
    EXPECT_FALSE((*reader)->StuckWriter());
    for (uint64_t i = 0; i <= OTHERS + 1; ++i) {
        EXPECT_EQ(seqs[i], i);
        EXPECT_EQ(values[i], i == 0 ? test::HeldRecord::MARKER : i - 1);
    }
    // The late reader got only the one written after it attached.
    std::vector<uint64_t> late_values;
    auto n = late->reader->Poll([&](const EventView& ev) {
        uint64_t v;
        std::memcpy(&v, ev.data(), sizeof(v));
        late_values.push_back(v);
    });
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_EQ(late_values, std::vector<uint64_t>{OTHERS});
}

} // namespace
} // namespace tracering
