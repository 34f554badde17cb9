// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/consumer.h>
#include <tracering/producer.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "common/shm.h"
#include "held_record.h"
#include "test_util.h"

namespace tracering {
namespace {

constexpr uint16_t TEST_TYPE = static_cast<uint16_t>(EventType::UserFirst) + 1;

//! Payload of test record `index`: [u64 index][bytes derived from index], `size` bytes.
std::vector<uint8_t> MakePayload(uint64_t index, uint32_t size)
{
    std::vector<uint8_t> p(size);
    for (uint32_t i = 0; i < size; ++i)
        p[i] = uint8_t((index * 131 + i * 7) >> (i % 3));
    if (size >= 8) std::memcpy(p.data(), &index, 8);
    return p;
}

bool PayloadMatches(const EventView& ev, uint64_t index)
{
    const auto expected = MakePayload(index, ev.size());
    // memcmp may not be given the null data() of an empty vector, even for 0 bytes.
    return ev.size() == 0 || std::memcmp(ev.data(), expected.data(), ev.size()) == 0;
}

class RingTest : public ::testing::TestWithParam<uint64_t>
{
protected:
    void SetUp() override
    {
        auto producer = Producer::Create(test::SmallProducer("ring", GetParam()));
        ASSERT_TRUE(producer) << producer.error().message();
        m_producer = std::move(producer.value());
        Attach({});
    }

    void Attach(const EnableOptions& options)
    {
        m_reader.reset();
        m_lease.reset();
        if (!m_consumer) {
            auto consumer = Consumer::Open(m_producer->Name());
            ASSERT_TRUE(consumer) << consumer.error().message();
            m_consumer = std::move(consumer.value());
        }
        auto reader = test::AttachReader(*m_producer, *m_consumer, Subsystem::Mempool, options);
        ASSERT_TRUE(reader) << reader.error().message();
        m_lease = std::move(reader->lease);
        m_reader = std::move(reader->reader);
    }

    bool Write(uint64_t index, uint32_t size)
    {
        const auto payload = MakePayload(index, size);
        return m_producer->WriteRaw(Subsystem::Mempool, TEST_TYPE, payload.data(), size);
    }

    uint64_t capacity() const { return GetParam(); }
    uint32_t max_payload() const { return uint32_t(capacity() / 8 - RECORD_HEADER_SIZE); }
    RingStats stats() const { return m_producer->Stats(Subsystem::Mempool); }
    void CheckWrapAround(bool evict_lines);

    std::unique_ptr<Producer> m_producer;
    std::unique_ptr<Consumer> m_consumer;
    std::unique_ptr<Lease> m_lease;
    std::unique_ptr<RingReader> m_reader;
};

//! Writes records of random sizes, reading now and then, until the ring has wrapped hundreds
//! of times; checks every record's order and content and the loss counts. With `evict_lines`,
//! each Release() also evicts the lines it hands back (split where the ring wraps).
void RingTest::CheckWrapAround(bool evict_lines)
{
    m_reader->SetEvictReadLines(evict_lines);
    std::mt19937_64 rng{GetParam() * 7919};
    // Enough to wrap each ring hundreds of times; the big ring gets fewer events, as each
    // of its large records is up to 128 KiB to make and check (slow under sanitizers).
    const uint64_t total = capacity() <= 4096 ? 300'000 : capacity() <= 65536 ? 1'000'000 : 200'000;
    uint64_t written = 0, dropped = 0, delivered = 0, lost = 0, next_expected = 0;
    bool content_ok = true, order_ok = true;
    auto drain = [&] {
        auto n = m_reader->Poll(
            [&](const EventView& ev) {
                if (ev.seq() < next_expected) order_ok = false;
                lost += ev.lost_before();
                if (ev.seq() - next_expected != ev.lost_before()) order_ok = false;
                if (!PayloadMatches(ev, ev.seq())) content_ok = false;
                next_expected = ev.seq() + 1;
                ++delivered;
            },
            1 << 20);
        ASSERT_TRUE(n) << n.error().message();
    };
    for (uint64_t i = 0; i < total; ++i) {
        // Mostly small records, some up to the maximum, like real traffic.
        const uint32_t size =
            rng() % 16 == 0 ? uint32_t(rng() % (max_payload() + 1)) : uint32_t(8 + rng() % 120);
        if (Write(i, size)) {
            ++written;
        } else {
            ++dropped;
        }
        if (rng() % 64 == 0) drain();
    }
    drain();
    EXPECT_TRUE(content_ok);
    EXPECT_TRUE(order_ok);
    EXPECT_EQ(written + dropped, total);
    EXPECT_EQ(delivered, written);
    EXPECT_EQ(stats().seq, total);
    EXPECT_EQ(stats().dropped_full, dropped);
    // Losses inside the stream are seen as seq gaps; trailing ones only in the counters.
    EXPECT_EQ(lost + (total - next_expected), dropped);
    EXPECT_GT(m_reader->stats().padding, 0u) << "the ring never wrapped with padding";
}

TEST_P(RingTest, WrapAroundWithRandomSizesKeepsOrderContentAndCountsLoss)
{
    CheckWrapAround(/*evict_lines=*/true);
}

TEST_P(RingTest, WrapAroundWithoutEvictingReadLinesDeliversTheSame)
{
    CheckWrapAround(/*evict_lines=*/false);
}

TEST_P(RingTest, ExactFitFillsEveryByteThenDropsTheNext)
{
    for (int round = 0; round < 3; ++round) {
        for (uint64_t i = 0; i < 8; ++i)
            ASSERT_TRUE(Write(i, max_payload())) << i;
        EXPECT_FALSE(Write(8, 0)) << "a full ring accepted a record";
        EXPECT_EQ(stats().write_pos - stats().write_pos % capacity(), stats().write_pos)
            << "the records did not end exactly at the ring's end";
        int n = 0;
        ASSERT_TRUE(m_reader->Poll([&](const EventView& ev) {
            EXPECT_EQ(ev.size(), max_payload());
            ++n;
        }));
        EXPECT_EQ(n, 8);
        EXPECT_EQ(m_reader->stats().padding, 0u);
    }
    EXPECT_EQ(stats().dropped_full, 3u);
}

TEST_P(RingTest, FullRingDropsTheNewestCountsExactlyAndFlagsTheGap)
{
    uint64_t i = 0;
    while (Write(i, 100))
        ++i;
    const uint64_t fitted = i;
    for (int extra = 0; extra < 41; ++extra)
        EXPECT_FALSE(Write(++i, 100));
    EXPECT_EQ(stats().dropped_full, 42u);
    uint64_t n = 0;
    ASSERT_TRUE(m_reader->Poll(
        [&](const EventView& ev) {
            EXPECT_EQ(ev.seq(), n);
            EXPECT_FALSE(ev.loss_precedes());
            ++n;
        },
        1 << 20));
    EXPECT_EQ(n, fitted);
    ASSERT_TRUE(Write(++i, 100));
    ASSERT_TRUE(m_reader->Poll([&](const EventView& ev) {
        EXPECT_TRUE(ev.loss_precedes());
        EXPECT_EQ(ev.lost_before(), 42u);
        EXPECT_EQ(ev.seq(), fitted + 42);
    }));
    EXPECT_EQ(m_reader->stats().lost, 42u);
}

TEST_P(RingTest, DropsAfterTheLastRecordReadCountOnceUntilARecordRevealsThem)
{
    uint64_t i = 0;
    while (Write(i, 100))
        ++i;
    for (int extra = 0; extra < 41; ++extra)
        EXPECT_FALSE(Write(++i, 100));
    // The records in the ring are not read yet: nothing says what follows them.
    EXPECT_EQ(m_reader->UnreportedLost(), 0u);
    ASSERT_TRUE(
        m_reader->Poll([](const EventView& ev) { EXPECT_EQ(ev.lost_before(), 0u); }, 1 << 20));
    EXPECT_EQ(m_reader->stats().lost, 0u);
    EXPECT_EQ(m_reader->UnreportedLost(), 42u);
    // A record after them, not read yet, does not hide them.
    ASSERT_TRUE(Write(++i, 100));
    EXPECT_EQ(m_reader->UnreportedLost(), 42u);
    // Read, it reveals them: they move to stats().lost.
    ASSERT_TRUE(m_reader->Poll([](const EventView& ev) { EXPECT_EQ(ev.lost_before(), 42u); }));
    EXPECT_EQ(m_reader->stats().lost, 42u);
    EXPECT_EQ(m_reader->UnreportedLost(), 0u);
    EXPECT_EQ(stats().dropped_full, 42u);
}

TEST_P(RingTest, ARecordBeingWrittenIsNotCountedAsLostNorADropBehindIt)
{
    test::HeldRecord held;
    ASSERT_TRUE(held.Start(*m_producer, Subsystem::Mempool, TEST_TYPE));
    ASSERT_TRUE(Write(1, 8));
    // Dropped after the held record's reservation: its number follows the held record's.
    EXPECT_FALSE(Write(2, max_payload() + 1));
    EXPECT_EQ(stats().dropped_too_big, 1u);
    int n = 0;
    ASSERT_TRUE(m_reader->Poll([&](const EventView&) { ++n; }));
    EXPECT_EQ(n, 0);
    // The reader waits at the held record: neither it nor the drop behind it is lost yet.
    EXPECT_EQ(m_reader->UnreportedLost(), 0u);
    held.Release();
    ASSERT_TRUE(m_reader->Poll([&](const EventView& ev) {
        EXPECT_EQ(ev.lost_before(), 0u);
        ++n;
    }));
    EXPECT_EQ(n, 2);
    EXPECT_EQ(m_reader->stats().lost, 0u);
    EXPECT_EQ(m_reader->UnreportedLost(), 1u);
    // A record after the drop reveals it, and it moves to stats().lost.
    ASSERT_TRUE(Write(3, 8));
    ASSERT_TRUE(m_reader->Poll([&](const EventView& ev) { EXPECT_EQ(ev.lost_before(), 1u); }));
    EXPECT_EQ(m_reader->stats().lost, 1u);
    EXPECT_EQ(m_reader->UnreportedLost(), 0u);
}

TEST_P(RingTest, RecordOverCapacityEighthIsDroppedAsTooBig)
{
    EXPECT_TRUE(Write(0, max_payload()));
    EXPECT_FALSE(Write(1, max_payload() + 1));
    EXPECT_EQ(stats().dropped_too_big, 1u);
    EXPECT_EQ(stats().dropped_full, 0u);
    EXPECT_TRUE(Write(2, 8));
    std::vector<uint64_t> seqs;
    ASSERT_TRUE(m_reader->Poll([&](const EventView& ev) { seqs.push_back(ev.seq()); }));
    EXPECT_EQ(seqs, (std::vector<uint64_t>{0, 2}));
}

TEST_P(RingTest, ReadersSeeTheReservationWordExactlyAndWithoutTheSealBit)
{
    // write_pos and seq are the writers' reservation word itself (ABI 6): exact after every
    // write and drop, the same for the producer and a consumer, and the seal bit the
    // producer sets at shutdown is never shown as part of the position.
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < 5; ++i) {
        ASSERT_TRUE(Write(i, uint32_t(8 + 24 * i)));
        bytes += AlignedRecordSize(RECORD_HEADER_SIZE + 8 + 24 * i);
    }
    EXPECT_FALSE(Write(5, max_payload() + 1)); // a drop takes a number, no space
    EXPECT_EQ(stats().write_pos, bytes);
    EXPECT_EQ(stats().seq, 6u);
    const auto seen = m_consumer->Ring("mempool");
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->write_pos, bytes);
    EXPECT_EQ(seen->seq, 6u);

    m_producer.reset(); // seals every ring
    const auto sealed = m_consumer->Ring("mempool");
    ASSERT_TRUE(sealed);
    EXPECT_EQ(sealed->write_pos, bytes);
    EXPECT_EQ(sealed->seq, 6u);
    int n = 0;
    const auto read = m_reader->Poll([&](const EventView&) { ++n; });
    EXPECT_EQ(n, 5);
    EXPECT_TRUE(read || read.error().code() == ErrorCode::Detached);
}

TEST_P(RingTest, DoesNotReadPastWritePos)
{
    int n = 0;
    ASSERT_TRUE(m_reader->Poll([&](const EventView&) { ++n; }));
    EXPECT_EQ(n, 0);
    ASSERT_TRUE(Write(0, 16));
    ASSERT_TRUE(m_reader->Poll([&](const EventView&) { ++n; }));
    ASSERT_TRUE(m_reader->Poll([&](const EventView&) { ++n; }));
    EXPECT_EQ(n, 1);
}

TEST_P(RingTest, ReattachStartsAtTheWritePositionWithoutReportingLoss)
{
    for (uint64_t i = 0; i < 20; ++i)
        ASSERT_TRUE(Write(i, 32));
    // A new reader (a new lease) does not see the old records nor count them as lost.
    Attach({});
    ASSERT_TRUE(Write(20, 32));
    std::vector<uint64_t> seqs;
    ASSERT_TRUE(m_reader->Poll([&](const EventView& ev) {
        seqs.push_back(ev.seq());
        EXPECT_EQ(ev.lost_before(), 0u);
        EXPECT_FALSE(ev.loss_precedes());
    }));
    EXPECT_EQ(seqs, (std::vector<uint64_t>{20}));
}

TEST_P(RingTest, DropsBeforeAReattachAreNotTheNewReadersLoss)
{
    while (Write(0, 64)) {
    }
    ASSERT_GT(stats().dropped_full, 0u);
    Attach({});
    ASSERT_TRUE(Write(1, 64));
    ASSERT_TRUE(m_reader->Poll([&](const EventView& ev) {
        EXPECT_FALSE(ev.loss_precedes());
        EXPECT_EQ(ev.lost_before(), 0u);
    }));
}

TEST_P(RingTest, EndingTheLeaseDetachesTheReader)
{
    ASSERT_TRUE(Write(0, 8));
    m_lease.reset();
    EXPECT_FALSE(Write(1, 8));
    EXPECT_FALSE(stats().enabled);
    EXPECT_EQ(stats().reader_count, 0u);
    auto n = m_reader->Poll([](const EventView&) {});
    ASSERT_FALSE(n);
    EXPECT_EQ(n.error().code(), ErrorCode::Detached);
    EXPECT_NE(n.error().message().find("its lease ended"), std::string::npos)
        << n.error().message();
}

TEST_P(RingTest, LosslessModeWaitsForTheReader)
{
    EnableOptions lossless;
    lossless.lossless = true;
    lossless.lossless_wait_ns = 5'000'000'000;
    Attach(lossless);
    const uint64_t total = 20'000;
    std::atomic<bool> done{false};
    uint64_t received = 0;
    bool ok = true;
    std::thread reader{[&] {
        while (!done.load() || received < total) {
            auto n = m_reader->Poll([&](const EventView& ev) {
                if (ev.seq() != received || !PayloadMatches(ev, ev.seq())) ok = false;
                ++received;
            });
            if (!n) {
                ok = false;
                return;
            }
            if (n.value() == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }};
    for (uint64_t i = 0; i < total; ++i)
        EXPECT_TRUE(Write(i, 200));
    done = true;
    reader.join();
    EXPECT_TRUE(ok);
    EXPECT_EQ(received, total);
    EXPECT_EQ(stats().dropped_full + stats().dropped_timeout, 0u);
}

TEST_P(RingTest, LosslessModeGivesUpAfterTheBoundedWait)
{
    EnableOptions lossless;
    lossless.lossless = true;
    lossless.lossless_wait_ns = 2'000'000; // 2 ms
    Attach(lossless);
    while (Write(0, 100)) {
    }
    EXPECT_EQ(stats().dropped_timeout, 1u);
    EXPECT_EQ(stats().dropped_full, 0u);
}

TEST_P(RingTest, EndingTheLeaseCutsALosslessWaitShortAndStatsNeverWaitForIt)
{
    EnableOptions lossless;
    lossless.lossless = true;
    lossless.lossless_wait_ns = 8'000'000'000; // 8 s: far longer than anything below
    Attach(lossless);
    // 96-byte payloads make 128-byte records: exactly this many fill the ring, no wait.
    static_assert(RECORD_HEADER_SIZE + 96 == 128);
    const uint64_t fit = capacity() / 128;
    for (uint64_t i = 0; i < fit; ++i)
        ASSERT_TRUE(Write(i, 96));
    bool written = true;
    std::thread writer{[&] { written = Write(fit, 96); }};
    // The writer waits for the reader, who never reads.
    while (stats().writers_waiting != 1)
        std::this_thread::yield();
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    const RingStats during = stats(); // must not wait for the writer's lock
    EXPECT_TRUE(during.enabled);
    EXPECT_EQ(during.unread_bytes, capacity());
    m_lease.reset(); // the lease ends: the wait ends with it
    const auto took = Clock::now() - start;
    writer.join();
    EXPECT_LT(took, std::chrono::seconds(4)) << "the control thread waited out the writer";
    EXPECT_FALSE(written);
    EXPECT_EQ(stats().dropped_reader_reset, 1u);
    EXPECT_EQ(stats().dropped_timeout, 0u);
    EXPECT_FALSE(stats().enabled);
}

TEST_P(RingTest, AStoppedLosslessReaderCostsOneWaitNotOnePerEvent)
{
    EnableOptions lossless;
    lossless.lossless = true;
    lossless.lossless_wait_ns = 20'000'000; // 20 ms
    Attach(lossless);
    uint64_t written = 0;
    while (Write(written, 100))
        ++written;
    // The reader does not move: the next 200 events are dropped without waiting 20 ms each
    // (that would be 4 s; the bound below leaves a wide margin for a loaded machine).
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t i = 1; i <= 200; ++i)
        EXPECT_FALSE(Write(written + i, 100));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    EXPECT_EQ(stats().dropped_timeout, 201u);

    // Once it reads again, writing resumes and the gap is reported exactly.
    uint64_t received = 0;
    ASSERT_TRUE(m_reader->Poll([&](const EventView&) { ++received; }, 1u << 20));
    EXPECT_EQ(received, written);
    EXPECT_TRUE(Write(written + 201, 100));
    uint64_t lost = 0;
    ASSERT_TRUE(m_reader->Poll([&](const EventView& ev) {
        EXPECT_EQ(ev.seq(), written + 201);
        EXPECT_TRUE(ev.loss_precedes());
        lost = ev.lost_before();
    }));
    EXPECT_EQ(lost, 201u);
}

TEST_P(RingTest, TwoMappingsInOneProcessSeeTheSameRing)
{
    auto second = Consumer::Open(m_producer->Name());
    ASSERT_TRUE(second) << second.error().message();
    ASSERT_TRUE(Write(0, 24));
    EXPECT_EQ((*second)->Ring("mempool")->write_pos, m_consumer->Ring("mempool")->write_pos);
    // The same process may not be refused its own ring, but the mapping differs.
    EXPECT_NE(static_cast<const void*>(&(*second)->info()),
              static_cast<const void*>(&m_consumer->info()));
}

INSTANTIATE_TEST_SUITE_P(Capacities, RingTest, ::testing::Values(4096, 65536, 1 << 20),
                         [](const auto& p) { return "cap" + std::to_string(p.param); });

class ClockTest : public ::testing::TestWithParam<ClockSource>
{
};

TEST_P(ClockTest, TimestampsFollowClockMonotonicAndNeverGoBack)
{
    ProducerOptions options = test::SmallProducer("clock", 1 << 20);
    options.clock = GetParam();
    auto producer = Producer::Create(options);
    ASSERT_TRUE(producer) << producer.error().message();
    auto consumer = Consumer::Open(options.name);
    ASSERT_TRUE(consumer);
    if (GetParam() == ClockSource::Monotonic) {
        EXPECT_EQ((*consumer)->info().clock_id, ClockId::Monotonic);
    }
    auto reader = test::AttachReader(**producer, **consumer, Subsystem::Mempool);
    ASSERT_TRUE(reader) << reader.error().message();
    const uint8_t payload[8] = {};
    uint64_t last = 0, worst = 0, backwards = 0;
    // 300 ms in all: several re-anchorings of the TSC interpolation.
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    while (std::chrono::steady_clock::now() < end) {
        for (int i = 0; i < 100; ++i) {
            timespec before, after;
            clock_gettime(CLOCK_MONOTONIC, &before);
            ASSERT_TRUE((*producer)->WriteRaw(Subsystem::Mempool, TEST_TYPE, payload, 8));
            clock_gettime(CLOCK_MONOTONIC, &after);
            const uint64_t lo = uint64_t(before.tv_sec) * 1'000'000'000 + uint64_t(before.tv_nsec);
            const uint64_t hi = uint64_t(after.tv_sec) * 1'000'000'000 + uint64_t(after.tv_nsec);
            ASSERT_TRUE((*reader)->Poll([&](const EventView& ev) {
                const uint64_t ts = ev.timestamp_ns();
                if (ts < last) ++backwards;
                last = ts;
                const uint64_t error = ts < lo ? lo - ts : ts > hi ? ts - hi : 0;
                worst = std::max(worst, error);
            }));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(backwards, 0u);
    EXPECT_LT(worst, 200'000u) << "timestamps strayed " << worst << " ns from CLOCK_MONOTONIC";
}

INSTANTIATE_TEST_SUITE_P(Sources, ClockTest,
                         ::testing::Values(ClockSource::Monotonic, ClockSource::Tsc),
                         [](const auto& p) {
                             return p.param == ClockSource::Tsc ? "Tsc" : "Monotonic";
                         });

//! Values a hostile reader may store in its cursor, relative to the producer's positions.
enum class Garbage { Misaligned, PastWritePos, Backwards, Huge, Negative };

class HostileCursorTest : public ::testing::TestWithParam<Garbage>
{
};

TEST_P(HostileCursorTest, ProducerCountsTheViolationDetachesAndCarriesOn)
{
    auto producer = Producer::Create(test::SmallProducer("hostile", 4096));
    ASSERT_TRUE(producer) << producer.error().message();
    Producer& p = **producer;
    auto lease = p.Attach(Subsystem::Mempool);
    ASSERT_TRUE(lease) << lease.error().message();
    // The lease's own cursor memory, as its holder maps it: it may write anything there.
    auto cursors = detail::SharedMemory::FromFd((*lease)->cursors_fd(), /*writable=*/true, "lease");
    ASSERT_TRUE(cursors);
    auto* slot = reinterpret_cast<CursorSlot*>(
        (*cursors)->data() + static_cast<int>(Subsystem::Mempool) * sizeof(CursorSlot));
    auto segment = detail::SharedMemory::Open(p.SegmentObjectName(), /*writable=*/false);
    ASSERT_TRUE(segment);
    const std::vector<uint8_t> before((*segment)->data(), (*segment)->data() + (*segment)->size());

    // Consume honestly for a while so a "backwards" value exists.
    std::vector<uint8_t> payload(100, 1);
    while (p.WriteRaw(Subsystem::Mempool, TEST_TYPE, payload.data(), payload.size())) {
    }
    const uint64_t write_pos = p.Stats(Subsystem::Mempool).write_pos;
    slot->read_pos.store(write_pos - 1024);
    ASSERT_TRUE(p.WriteRaw(Subsystem::Mempool, TEST_TYPE, payload.data(), payload.size()));
    const uint64_t wp = p.Stats(Subsystem::Mempool).write_pos;
    uint64_t bad = 0;
    switch (GetParam()) {
    case Garbage::Misaligned:
        bad = wp - 1023;
        break;
    case Garbage::PastWritePos:
        bad = wp + 4096;
        break;
    case Garbage::Backwards:
        bad = wp - 2048;
        break;
    case Garbage::Huge:
        bad = ~uint64_t{0} & ~uint64_t{7};
        break;
    case Garbage::Negative:
        bad = uint64_t(-4096);
        break;
    }
    slot->read_pos.store(bad);
    // Writes go on while the cached position says there is room; the first look at the bad
    // value detaches the reader, and nothing is written after that.
    int refused = 0;
    bool written_after_refusal = false;
    for (int i = 0; i < 100; ++i) {
        if (!p.WriteRaw(Subsystem::Mempool, TEST_TYPE, payload.data(), payload.size())) {
            ++refused;
        } else if (refused > 0) {
            written_after_refusal = true;
        }
    }
    const RingStats s = p.Stats(Subsystem::Mempool);
    EXPECT_EQ(s.cursor_violations, 1u);
    EXPECT_FALSE(s.enabled) << "the hostile reader was not detached";
    EXPECT_EQ(s.dropped_reader_reset, 1u);
    EXPECT_GT(refused, 0);
    EXPECT_FALSE(written_after_refusal);

    // Nothing outside the mempool ring's data area and control line changed.
    const auto* header = reinterpret_cast<const SegmentHeader*>((*segment)->data());
    const RingDescriptor& ring = header->rings[static_cast<int>(Subsystem::Mempool)];
    const uint8_t* now = (*segment)->data();
    for (uint64_t off = 0; off < before.size(); ++off) {
        const bool in_data = off >= ring.data_offset && off < ring.data_offset + ring.capacity;
        const bool in_control =
            off >= ring.control_offset && off < ring.control_offset + sizeof(RingControl);
        const bool in_readers =
            off >= ring.readers_offset &&
            off < ring.readers_offset + header->max_readers * sizeof(ReaderControl);
        if (!in_data && !in_control && !in_readers && now[off] != before[off]) {
            ADD_FAILURE() << "byte " << off << " outside the ring changed";
            break;
        }
    }

    // The producer carries on: a new reader can attach and get events.
    auto next = p.Attach(Subsystem::Mempool);
    ASSERT_TRUE(next) << next.error().message();
    EXPECT_TRUE(p.WriteRaw(Subsystem::Mempool, TEST_TYPE, payload.data(), payload.size()));
}

INSTANTIATE_TEST_SUITE_P(Values, HostileCursorTest,
                         ::testing::Values(Garbage::Misaligned, Garbage::PastWritePos,
                                           Garbage::Backwards, Garbage::Huge, Garbage::Negative),
                         [](const auto& p) {
                             switch (p.param) {
                             case Garbage::Misaligned:
                                 return "Misaligned";
                             case Garbage::PastWritePos:
                                 return "PastWritePos";
                             case Garbage::Backwards:
                                 return "Backwards";
                             case Garbage::Huge:
                                 return "Huge";
                             case Garbage::Negative:
                                 return "Negative";
                             }
                             return "Unknown";
                         });

} // namespace
} // namespace tracering
