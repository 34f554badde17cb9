// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/consumer.h>
#include <tracering/producer.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "common/shm.h"
#include "event_samples.h"
#include "subprocess.h"
#include "test_util.h"

namespace tracering {
namespace {

using test::Subprocess;

constexpr uint16_t TEST_TYPE = static_cast<uint16_t>(EventType::UserFirst) + 3;

TEST(MultiProcessTest, SecondProcessReadsEveryEventWithEveryField)
{
    auto producer = Producer::Create(test::SmallProducer("mp-consume", 1 << 20, true));
    ASSERT_TRUE(producer) << producer.error().message();
    for (uint16_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
        ASSERT_TRUE((*producer)->EnableRing(static_cast<Subsystem>(i), {}));
    }
    test::EmitAllSamples();
    Subprocess child{{TRACERING_TEST_HELPER, "consume", (*producer)->Name()}};
    ASSERT_TRUE(child.started());
    const std::string line = child.ReadLine();
    EXPECT_EQ(line, "seen 20 failures 0");
    EXPECT_EQ(child.Wait(), 0);
}

//! Waits for `child` (the "produce" helper) to be ready, then opens its segment `name`
//! and a reader on each of its rings.
void ReadEveryRingOf(Subprocess& child, const std::string& name,
                     std::unique_ptr<Consumer>& consumer,
                     std::vector<std::unique_ptr<RingReader>>& readers)
{
    ASSERT_TRUE(child.started());
    ASSERT_EQ(child.ReadLine(), "ready");
    auto opened = Consumer::Open(name);
    ASSERT_TRUE(opened) << opened.error().message();
    consumer = std::move(opened.value());
    EXPECT_EQ(consumer->info().producer_pid, uint64_t(child.pid()));
    for (const RingInfo& ring : consumer->Rings()) {
        auto reader = consumer->OpenReader(ring.name);
        ASSERT_TRUE(reader) << reader.error().message();
        readers.push_back(std::move(reader.value()));
    }
}

TEST(MultiProcessTest, EventsFromAProducerProcessArriveIntact)
{
    const std::string name = test::UniqueName("mp-produce");
    Subprocess child{{TRACERING_TEST_HELPER, "produce", name}};
    std::unique_ptr<Consumer> consumer;
    std::vector<std::unique_ptr<RingReader>> readers;
    ASSERT_NO_FATAL_FAILURE(ReadEveryRingOf(child, name, consumer, readers));
    child.WriteLine("emit");
    ASSERT_EQ(child.ReadLine(), "emitted");
    int seen = 0;
    for (auto& reader : readers) {
        ASSERT_TRUE(reader->Poll([&](const EventView& ev) {
            EXPECT_EQ(test::CheckSample(ev), "");
            ++seen;
        }));
    }
    EXPECT_EQ(seen, 20);

    // Events written just before a clean exit are not lost: the readers drain them from
    // their mappings after the producer is gone, then learn that it exited.
    child.WriteLine("emit");
    ASSERT_EQ(child.ReadLine(), "emitted");
    child.CloseStdin();
    EXPECT_EQ(child.Wait(), 0);
    seen = 0;
    for (auto& reader : readers) {
        auto drained = reader->Poll([&](const EventView& ev) {
            EXPECT_EQ(test::CheckSample(ev), "");
            ++seen;
        });
        ASSERT_TRUE(drained) << drained.error().message();
        EXPECT_EQ(reader->stats().lost, 0u);
        auto n = reader->Poll([](const EventView&) {});
        ASSERT_FALSE(n);
        EXPECT_EQ(n.error().code(), ErrorCode::Detached);
        EXPECT_EQ(n.error().message(), "the producer has exited");
    }
    EXPECT_EQ(seen, 20);
    EXPECT_FALSE(detail::SharedMemory::Exists(SegmentObjectName(name)));
    EXPECT_FALSE(detail::SharedMemory::Exists(CursorsObjectName(name)));
    auto gone = Consumer::Open(name);
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code(), ErrorCode::NotFound);
}

TEST(MultiProcessTest, AKilledProducersEventsAreReadThenItIsReportedGone)
{
    const std::string name = test::UniqueName("mp-killed");
    Subprocess child{{TRACERING_TEST_HELPER, "produce", name}};
    std::unique_ptr<Consumer> consumer;
    std::vector<std::unique_ptr<RingReader>> readers;
    ASSERT_NO_FATAL_FAILURE(ReadEveryRingOf(child, name, consumer, readers));
    child.WriteLine("emit");
    ASSERT_EQ(child.ReadLine(), "emitted");
    child.Kill(SIGKILL);
    // Not reaped: a zombie writes no more than a reaped process. Every event it published is
    // still read, and only then is the reader told the producer is gone.
    int seen = 0;
    for (auto& reader : readers) {
        Result<size_t> polled = size_t{0};
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while ((polled = reader->Poll([&](const EventView& ev) {
                   EXPECT_EQ(test::CheckSample(ev), "");
                   ++seen;
               })) &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        ASSERT_FALSE(polled) << "ring " << reader->name() << " did not notice in 10 s";
        EXPECT_EQ(polled.error().code(), ErrorCode::Stale) << polled.error().message();
        EXPECT_NE(polled.error().message().find("is gone without shutting down"), std::string::npos)
            << polled.error().message();
        EXPECT_EQ(reader->stats().lost, 0u);
    }
    EXPECT_EQ(seen, 20);
    EXPECT_EQ(child.Wait(), 128 + SIGKILL);
    test::RemoveProducerLeftovers(name, "");
}

TEST(MultiProcessTest, HostileConsumerProcessCannotHurtTheProducer)
{
    auto producer = Producer::Create(test::SmallProducer("mp-hostile", 1 << 14));
    ASSERT_TRUE(producer) << producer.error().message();
    Producer& p = **producer;
    ASSERT_TRUE(p.EnableRing(Subsystem::Mempool, {}));
    auto segment = detail::SharedMemory::Open(p.SegmentObjectName(), /*writable=*/false);
    ASSERT_TRUE(segment);
    const auto* header = reinterpret_cast<const SegmentHeader*>((*segment)->data());
    const RingDescriptor mempool = header->rings[static_cast<int>(Subsystem::Mempool)];
    const std::vector<uint8_t> header_before((*segment)->data(), (*segment)->data() + HEADER_SIZE);

    Subprocess child{{TRACERING_TEST_HELPER, "hostile", p.Name(), "mempool", "1.5"}};
    ASSERT_TRUE(child.started());
    ASSERT_EQ(child.ReadLine(), "hostile");
    std::vector<uint8_t> payload(120, 0xab);
    uint64_t attempts = 0, reattached = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    while (std::chrono::steady_clock::now() < end) {
        for (int i = 0; i < 1000; ++i) {
            p.WriteRaw(Subsystem::Mempool, TEST_TYPE, payload.data(), payload.size());
            ++attempts;
        }
        if (!p.Stats(Subsystem::Mempool).enabled) {
            ASSERT_TRUE(p.EnableRing(Subsystem::Mempool, {}));
            ++reattached;
        }
    }
    EXPECT_EQ(child.Wait(), 0);
    const RingStats s = p.Stats(Subsystem::Mempool);
    EXPECT_GT(s.cursor_violations, 0u);
    EXPECT_EQ(s.cursor_violations, reattached + (s.enabled ? 0 : 1));
    EXPECT_GT(attempts, 0u);

    // Every other ring's data is untouched (never enabled: still zero) and so is the header.
    for (uint32_t r = 0; r < SUBSYSTEM_COUNT; ++r) {
        if (r == static_cast<uint32_t>(Subsystem::Mempool)) continue;
        const RingDescriptor& d = header->rings[r];
        const uint8_t* data = (*segment)->data() + d.data_offset;
        bool zero = true;
        for (uint64_t i = 0; i < d.capacity && zero; ++i)
            zero = data[i] == 0;
        EXPECT_TRUE(zero) << "ring " << r << " was written";
    }
    EXPECT_EQ(std::memcmp(header_before.data(), (*segment)->data(), HEADER_SIZE), 0);
    EXPECT_GE(mempool.data_offset, HEADER_SIZE);

    // Still a working producer: an honest reader gets what is written now.
    ASSERT_TRUE(p.EnableRing(Subsystem::Mempool, {}));
    auto consumer = Consumer::Open(p.Name());
    ASSERT_TRUE(consumer);
    auto reader = (*consumer)->OpenReader("mempool");
    ASSERT_TRUE(reader) << reader.error().message();
    ASSERT_TRUE(p.WriteRaw(Subsystem::Mempool, TEST_TYPE, payload.data(), payload.size()));
    int n = 0;
    ASSERT_TRUE((*reader)->Poll([&](const EventView& ev) {
        EXPECT_EQ(ev.size(), payload.size());
        ++n;
    }));
    EXPECT_EQ(n, 1);
}

TEST(MultiProcessTest, KilledReaderLeavesTheProducerRunningAndTheRingReusable)
{
    auto producer = Producer::Create(test::SmallProducer("mp-kill", 1 << 14));
    ASSERT_TRUE(producer) << producer.error().message();
    Producer& p = **producer;
    ASSERT_TRUE(p.EnableRing(Subsystem::Net, {}));
    Subprocess child{{TRACERING_TEST_HELPER, "read-forever", p.Name(), "net"}};
    ASSERT_TRUE(child.started());
    ASSERT_EQ(child.ReadLine(), "reading");

    // While it reads, a second reader of the same ring is refused, naming it.
    auto consumer = Consumer::Open(p.Name());
    ASSERT_TRUE(consumer);
    auto busy = (*consumer)->OpenReader("net");
    ASSERT_FALSE(busy);
    EXPECT_EQ(busy.error().code(), ErrorCode::Busy);
    EXPECT_NE(busy.error().message().find(std::to_string(child.pid())), std::string::npos)
        << busy.error().message();

    std::vector<uint8_t> payload(64, 1);
    for (int i = 0; i < 10000; ++i)
        p.WriteRaw(Subsystem::Net, TEST_TYPE, payload.data(), 64);
    child.Kill(SIGKILL);
    EXPECT_EQ(child.Wait(), 128 + SIGKILL);
    // Nobody reads now: the ring fills, and every further event is counted.
    const uint64_t before = p.Stats(Subsystem::Net).dropped_full;
    for (int i = 0; i < 10000; ++i)
        p.WriteRaw(Subsystem::Net, TEST_TYPE, payload.data(), 64);
    const RingStats s = p.Stats(Subsystem::Net);
    EXPECT_EQ(s.seq, 20000u);
    EXPECT_GT(s.dropped_full, before);

    ASSERT_TRUE(p.EnableRing(Subsystem::Net, {}));
    auto reader = (*consumer)->OpenReader("net");
    ASSERT_TRUE(reader) << reader.error().message();
    ASSERT_TRUE(p.WriteRaw(Subsystem::Net, TEST_TYPE, payload.data(), 64));
    int n = 0;
    ASSERT_TRUE((*reader)->Poll([&](const EventView& ev) {
        EXPECT_EQ(ev.lost_before(), 0u);
        ++n;
    }));
    EXPECT_EQ(n, 1);
}

} // namespace
} // namespace tracering
