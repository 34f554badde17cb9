// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/consumer.h>
#include <tracering/control.h>
#include <tracering/producer.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

#include "common/shm.h"
#include "event_samples.h"
#include "paths.h"
#include "subprocess.h"
#include "test_util.h"

namespace tracering {
namespace {

using test::Subprocess;

constexpr uint16_t TEST_TYPE = static_cast<uint16_t>(EventType::UserFirst) + 3;

//! A producer of the test process, serving a control socket.
ProducerOptions ServedProducer(const std::string& what, uint64_t capacity, bool global = false)
{
    ProducerOptions options = test::SmallProducer(what, capacity, global);
    options.control_socket = "/tmp/" + options.name + ".sock";
    return options;
}

TEST(MultiProcessTest, SecondProcessReadsEveryEventWithEveryField)
{
    auto producer = Producer::Create(ServedProducer("mp-consume", 1 << 20, true));
    ASSERT_TRUE(producer) << producer.error().message();
    Subprocess child{{test::paths::TEST_HELPER, "consume", (*producer)->ControlSocket()}};
    ASSERT_TRUE(child.started());
    ASSERT_EQ(child.ReadLine(), "attached");
    test::EmitAllSamples();
    const std::string line = child.ReadLine();
    EXPECT_EQ(line, "seen 20 failures 0");
    EXPECT_EQ(child.Wait(), 0);
}

//! A consumer of another process's producer: its control client and session.
struct Remote {
    std::unique_ptr<ControlClient> client;
    std::unique_ptr<Session> session;
};

//! Waits for `child` (the "produce" helper) to be ready, then attaches every ring of its
//! producer through `socket`.
void ReadEveryRingOf(Subprocess& child, const std::string& socket, Remote& remote)
{
    ASSERT_TRUE(child.started());
    ASSERT_EQ(child.ReadLine(), "ready");
    auto client = ControlClient::Connect(socket);
    ASSERT_TRUE(client) << client.error().message();
    remote.client = std::move(client.value());
    EXPECT_EQ(remote.client->producer().producer_pid, uint64_t(child.pid()));
    std::vector<RingRequest> all;
    for (const auto& ring : SUBSYSTEM_NAMES)
        all.push_back({.ring = std::string{ring}});
    auto session = remote.client->Attach(all);
    ASSERT_TRUE(session) << session.error().message();
    remote.session = std::move(session.value());
}

TEST(MultiProcessTest, EventsFromAProducerProcessArriveIntact)
{
    const std::string name = test::UniqueName("mp-produce");
    const std::string socket = "/tmp/" + name + ".sock";
    Subprocess child{{test::paths::TEST_HELPER, "produce", name, socket}};
    Remote remote;
    ASSERT_NO_FATAL_FAILURE(ReadEveryRingOf(child, socket, remote));
    const auto& readers = remote.session->readers();
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
    auto gone = Consumer::Open(name);
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code(), ErrorCode::NotFound);
}

TEST(MultiProcessTest, AKilledProducersEventsAreReadThenItIsReportedGone)
{
    const std::string name = test::UniqueName("mp-killed");
    const std::string socket = "/tmp/" + name + ".sock";
    Subprocess child{{test::paths::TEST_HELPER, "produce", name, socket}};
    Remote remote;
    ASSERT_NO_FATAL_FAILURE(ReadEveryRingOf(child, socket, remote));
    const auto& readers = remote.session->readers();
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
    test::RemoveProducerLeftovers(name, socket);
}

//! Writes until one event is written (at most 5 s), so that every drop before it shows as
//! a gap to the readers; true if one was.
bool WriteALastRecord(Producer& p)
{
    const uint8_t payload[8]{};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
        if (p.WriteRaw(Subsystem::Mempool, TEST_TYPE, payload, sizeof(payload))) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
}

//! Reads `ring` through an in-process lease for as long as it runs, checking that every
//! event it misses is one the producer counted as dropped: the honest reader next to an
//! attacker.
class HonestReader
{
public:
    HonestReader(Producer& producer, Subsystem ring) : m_producer{producer}, m_ring{ring}
    {
        auto consumer = Consumer::Open(producer.Name());
        EXPECT_TRUE(consumer) << consumer.error().message();
        m_consumer = std::move(consumer.value());
        auto reader = test::AttachReader(producer, *m_consumer, ring);
        EXPECT_TRUE(reader) << reader.error().message();
        m_reader = std::move(reader.value());
        m_thread = std::thread{[this] { Run(); }};
    }
    ~HonestReader() { Stop(); }
    void Stop()
    {
        m_stop = true;
        if (m_thread.joinable()) m_thread.join();
    }
    uint64_t read() const { return m_read; }
    uint64_t lost() const { return m_lost; }
    const std::string& error() const { return m_error; }

private:
    void Run()
    {
        for (;;) {
            const bool last = m_stop.load();
            auto n = m_reader->Poll([&](const EventView& ev) {
                m_lost += ev.lost_before();
                ++m_read;
            });
            if (!n) {
                m_error = n.error().message();
                return;
            }
            if (last && n.value() == 0) return;
            if (n.value() == 0) std::this_thread::yield();
        }
    }
    Producer& m_producer;
    Subsystem m_ring;
    std::unique_ptr<Consumer> m_consumer;
    test::LeasedReader m_reader;
    std::thread m_thread;
    std::atomic<bool> m_stop{false};
    uint64_t m_read{0};
    uint64_t m_lost{0};
    std::string m_error;
};

TEST(MultiProcessTest, HostileConsumerProcessCannotHurtTheProducerOrOtherReaders)
{
    auto producer = Producer::Create(ServedProducer("mp-hostile", 1 << 14));
    ASSERT_TRUE(producer) << producer.error().message();
    Producer& p = **producer;
    auto segment = detail::SharedMemory::Open(p.SegmentObjectName(), /*writable=*/false);
    ASSERT_TRUE(segment);
    const auto* header = reinterpret_cast<const SegmentHeader*>((*segment)->data());
    const std::vector<uint8_t> header_before((*segment)->data(), (*segment)->data() + HEADER_SIZE);
    HonestReader honest{p, Subsystem::Mempool};

    Subprocess child{{test::paths::TEST_HELPER, "hostile", p.ControlSocket(), "mempool", "1.5"}};
    ASSERT_TRUE(child.started());
    ASSERT_EQ(child.ReadLine(), "hostile");
    std::vector<uint8_t> payload(120, 0xab);
    uint64_t attempts = 0;
    while (child.Running()) {
        for (int i = 0; i < 1000; ++i) {
            p.WriteRaw(Subsystem::Mempool, TEST_TYPE, payload.data(), payload.size());
            ++attempts;
        }
    }
    const std::string summary = child.ReadLine();
    EXPECT_EQ(child.Wait(), 0) << summary;
    ASSERT_TRUE(WriteALastRecord(p));
    honest.Stop();
    const RingStats s = p.Stats(Subsystem::Mempool);
    EXPECT_GT(s.cursor_violations, 0u) << summary;
    EXPECT_GT(attempts, 0u);
    // The honest reader read all along: every event it missed was dropped and counted (the
    // ring is full while the attacker's last valid-looking position holds it back).
    EXPECT_EQ(honest.error(), "");
    EXPECT_EQ(honest.read() + honest.lost(), s.seq);
    EXPECT_EQ(honest.lost(), s.dropped());

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
    // The header too, but for the clock's state, which its re-anchoring thread updates.
    std::vector<uint8_t> header_after((*segment)->data(), (*segment)->data() + HEADER_SIZE);
    const size_t clock_begin = offsetof(SegmentHeader, clock_source);
    const size_t clock_end = offsetof(SegmentHeader, reserved);
    std::memcpy(header_after.data() + clock_begin, header_before.data() + clock_begin,
                clock_end - clock_begin);
    EXPECT_EQ(header_after, header_before);
}

TEST(MultiProcessTest, NothingAConsumerCanReachStopsTheProducer)
{
    auto producer = Producer::Create(ServedProducer("mp-attack", 1 << 14));
    ASSERT_TRUE(producer) << producer.error().message();
    Producer& p = **producer;
    HonestReader honest{p, Subsystem::Mempool};
    Subprocess child{{test::paths::TEST_HELPER, "attack", p.ControlSocket(), "mempool"}};
    ASSERT_TRUE(child.started());
    // The descriptors it holds cannot resize or write the segment, nor resize its cursor
    // memory (sealed); what it may write is its own cursor, which only detaches itself.
    for (const char* what : {"truncate-segment", "grow-segment", "map-segment-writable",
                             "reopen-segment-writable", "truncate-cursors", "grow-cursors"}) {
        EXPECT_EQ(child.ReadLine(), std::string{what} + " ok");
    }
    EXPECT_EQ(child.ReadLine().rfind("scribbled ", 0), 0u);
    std::vector<uint8_t> payload(120, 0xab);
    for (int i = 0; i < 2000; ++i)
        p.WriteRaw(Subsystem::Mempool, TEST_TYPE, payload.data(), payload.size());
    const std::string own = child.ReadLine();
    EXPECT_EQ(child.Wait(), 0);
    ASSERT_TRUE(WriteALastRecord(p));
    // The node still answers its control socket, and the honest reader still reads.
    auto client = ControlClient::Connect(p.ControlSocket());
    ASSERT_TRUE(client) << client.error().message();
    EXPECT_TRUE((*client)->Rings());
    honest.Stop();
    EXPECT_EQ(honest.error(), "");
    EXPECT_EQ(honest.read() + honest.lost(), p.Stats(Subsystem::Mempool).seq) << own;
}

TEST(MultiProcessTest, KilledReaderLeavesTheProducerRunningAndTheRingReusable)
{
    auto producer = Producer::Create(ServedProducer("mp-kill", 1 << 14));
    ASSERT_TRUE(producer) << producer.error().message();
    Producer& p = **producer;
    Subprocess child{{test::paths::TEST_HELPER, "read-forever", p.ControlSocket(), "net"}};
    ASSERT_TRUE(child.started());
    ASSERT_EQ(child.ReadLine(), "reading");

    // While it reads, a second reader of the same ring reads too, and sees the first one.
    auto consumer = Consumer::Open(p.Name());
    ASSERT_TRUE(consumer);
    auto second = test::AttachReader(p, **consumer, Subsystem::Net);
    ASSERT_TRUE(second) << second.error().message();
    const RingInfo both = (*second)->Info();
    EXPECT_EQ(both.reader_count, 2u);
    ASSERT_EQ(both.readers.size(), 2u);
    EXPECT_TRUE(both.readers[0].pid == uint64_t(child.pid()) ||
                both.readers[1].pid == uint64_t(child.pid()));
    second->reader.reset();
    second->lease.reset();

    std::vector<uint8_t> payload(64, 1);
    for (int i = 0; i < 10000; ++i)
        p.WriteRaw(Subsystem::Net, TEST_TYPE, payload.data(), 64);
    child.Kill(SIGKILL);
    EXPECT_EQ(child.Wait(), 128 + SIGKILL);
    // Its connection closed: the producer removes its reader at once, and with nobody
    // reading, the ring is off again (events are not even attempted).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (p.Stats(Subsystem::Net).enabled && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
    const RingStats s = p.Stats(Subsystem::Net);
    EXPECT_FALSE(s.enabled);
    EXPECT_EQ(s.reader_count, 0u);
    const uint64_t seq = s.seq;
    EXPECT_FALSE(p.WriteRaw(Subsystem::Net, TEST_TYPE, payload.data(), 64));
    EXPECT_EQ(p.Stats(Subsystem::Net).seq, seq);

    auto reader = test::AttachReader(p, **consumer, Subsystem::Net);
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
