// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/consumer.h>
#include <tracering/producer.h>
#include <tracering/tracepoint.h>

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <map>
#include <unistd.h>
#include <vector>

#include "event_samples.h"
#include "producer/flat_table.h"
#include "test_util.h"
#include <sys/mman.h>

namespace tracering {
namespace {

class RoundTripTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        auto producer = Producer::Create(test::SmallProducer("roundtrip", 1 << 20, true));
        ASSERT_TRUE(producer) << producer.error().message();
        m_producer = std::move(producer.value());
        for (uint16_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
            Lease(static_cast<Subsystem>(i), {});
        }
        auto consumer = Consumer::Open(m_producer->Name());
        ASSERT_TRUE(consumer) << consumer.error().message();
        m_consumer = std::move(consumer.value());
    }

    //! (Re)places the lease on `ring` with one that has `options`.
    void Lease(Subsystem ring, const EnableOptions& options)
    {
        auto& lease = m_leases[static_cast<uint16_t>(ring)];
        lease.reset();
        auto fresh = m_producer->Attach(ring, options);
        ASSERT_TRUE(fresh) << fresh.error().message();
        lease = std::move(fresh.value());
    }

    //! The reader of `ring`'s lease.
    Result<std::unique_ptr<RingReader>> Reader(const std::string& ring)
    {
        auto index = m_consumer->Ring(ring);
        if (!index) return index.error();
        return m_consumer->OpenReader(ring, m_leases[index->index]->Grant(index->subsystem));
    }

    //! Every event read from every ring, by ring.
    std::map<std::string, std::vector<std::string>> ReadAll()
    {
        std::map<std::string, std::vector<std::string>> errors;
        for (const RingInfo& ring : m_consumer->Rings()) {
            auto reader = Reader(ring.name);
            EXPECT_TRUE(reader) << reader.error().message();
            if (!reader) continue;
            auto n = (*reader)->Poll([&](const EventView& ev) {
                m_seen.push_back(ev.type());
                errors[ring.name].push_back(test::CheckSample(ev));
            });
            EXPECT_TRUE(n) << n.error().message();
        }
        return errors;
    }

    std::unique_ptr<Producer> m_producer;
    std::array<std::unique_ptr<tracering::Lease>, SUBSYSTEM_COUNT> m_leases;
    std::unique_ptr<Consumer> m_consumer;
    std::vector<EventType> m_seen;
};

TEST_F(RoundTripTest, EveryEventArrivesWithEveryFieldIntact)
{
    test::EmitAllSamples();
    const auto errors = ReadAll();
    for (const auto& [ring, list] : errors) {
        for (const std::string& e : list)
            EXPECT_EQ(e, "") << "ring " << ring;
    }
    // Each of the 20 types exactly once.
    std::vector<EventType> expected = test::SampleOrder();
    std::sort(expected.begin(), expected.end());
    std::sort(m_seen.begin(), m_seen.end());
    EXPECT_EQ(m_seen, expected);
}

TEST_F(RoundTripTest, EventsLandInTheirSubsystemRing)
{
    test::EmitAllSamples();
    for (const EventInfo& info : EVENTS) {
        EXPECT_EQ(SubsystemOf(info.type), info.subsystem) << info.context << ":" << info.name;
    }
    EXPECT_EQ(m_consumer->Ring("net")->seq, 7u);
    EXPECT_EQ(m_consumer->Ring("validation")->seq, 1u);
    EXPECT_EQ(m_consumer->Ring("utxocache")->seq, 4u);
    EXPECT_EQ(m_consumer->Ring("coin_selection")->seq, 4u);
    EXPECT_EQ(m_consumer->Ring("mempool")->seq, 4u);
}

TEST_F(RoundTripTest, UnknownVocabularyIsKeptAsText)
{
    TRACERING_TRACEPOINT(net, inbound_message, 1, "x:1", "future-type", "ping", 0, nullptr);
    TRACERING_TRACEPOINT(mempool, removed, nullptr, "someday", 1, 2, 3);
    auto net = Reader("net");
    ASSERT_TRUE(net);
    int seen = 0;
    ASSERT_TRUE((*net)->Poll([&](const EventView& ev) {
        auto* m = ev.as<net::InboundMessage>();
        ASSERT_NE(m, nullptr);
        EXPECT_EQ(m->conn_type(), net::ConnectionType::Unknown);
        ASSERT_NE(m->conn_type_name(), nullptr);
        EXPECT_EQ(m->conn_type_name()->str(), "future-type");
        EXPECT_EQ(m->payload()->size(), 0u);
        ++seen;
    }));
    auto mempool = Reader("mempool");
    ASSERT_TRUE(mempool);
    ASSERT_TRUE((*mempool)->Poll([&](const EventView& ev) {
        auto* r = ev.as<mempool::Removed>();
        ASSERT_NE(r, nullptr);
        EXPECT_EQ(r->reason(), mempool::RemovalReason::Unknown);
        EXPECT_EQ(r->reason_name()->str(), "someday");
        ++seen;
    }));
    EXPECT_EQ(seen, 2);
}

TEST_F(RoundTripTest, TypedViewRefusesTheWrongTable)
{
    TRACERING_TRACEPOINT(mempool, added, nullptr, 1, 2);
    auto reader = Reader("mempool");
    ASSERT_TRUE(reader);
    ASSERT_TRUE((*reader)->Poll([&](const EventView& ev) {
        EXPECT_NE(ev.as<mempool::Added>(), nullptr);
        EXPECT_EQ(ev.as<mempool::Removed>(), nullptr);
        EXPECT_EQ(ev.as<net::InboundMessage>(), nullptr);
    }));
}

TEST_F(RoundTripTest, AllConnectionTypesMapToTheirEnum)
{
    const std::pair<const char*, net::ConnectionType> cases[] = {
        {"inbound", net::ConnectionType::Inbound},
        {"manual", net::ConnectionType::Manual},
        {"feeler", net::ConnectionType::Feeler},
        {"outbound-full-relay", net::ConnectionType::OutboundFullRelay},
        {"block-relay-only", net::ConnectionType::BlockRelayOnly},
        {"addr-fetch", net::ConnectionType::AddrFetch},
        {"private-broadcast", net::ConnectionType::PrivateBroadcast},
        {"inboundx", net::ConnectionType::Unknown},
        {"inboun", net::ConnectionType::Unknown},
        {"", net::ConnectionType::Unknown},
    };
    for (const auto& [text, type] : cases) {
        TRACERING_TRACEPOINT(net, outbound_connection, 1, "a", text, 0, 1);
    }
    auto reader = Reader("net");
    ASSERT_TRUE(reader);
    size_t i = 0;
    ASSERT_TRUE((*reader)->Poll([&](const EventView& ev) {
        auto* c = ev.as<net::OutboundConnection>();
        ASSERT_NE(c, nullptr);
        ASSERT_LT(i, std::size(cases));
        EXPECT_EQ(c->conn_type(), cases[i].second) << cases[i].first;
        ++i;
    }));
    EXPECT_EQ(i, std::size(cases));
}

TEST_F(RoundTripTest, PayloadLimitTruncatesAndKeepsTheOriginalSize)
{
    EnableOptions limited;
    limited.payload_limit = 100;
    Lease(Subsystem::Net, limited);
    std::vector<uint8_t> payload(5000);
    for (size_t i = 0; i < payload.size(); ++i)
        payload[i] = uint8_t(i);
    TRACERING_TRACEPOINT(net, inbound_message, 1, "a:1", "inbound", "block", payload.size(),
                         payload.data());
    TRACERING_TRACEPOINT(net, inbound_message, 1, "a:1", "inbound", "ping", 8, payload.data());
    auto reader = Reader("net");
    ASSERT_TRUE(reader) << reader.error().message();
    std::vector<std::pair<bool, size_t>> got;
    ASSERT_TRUE((*reader)->Poll([&](const EventView& ev) {
        auto* m = ev.as<net::InboundMessage>();
        ASSERT_NE(m, nullptr);
        got.emplace_back(ev.truncated(), m->payload()->size());
        if (ev.truncated()) {
            EXPECT_EQ(m->size(), 5000u);
            EXPECT_EQ(std::memcmp(m->payload()->data(), payload.data(), 100), 0);
        }
    }));
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], std::make_pair(true, size_t{100}));
    EXPECT_EQ(got[1], std::make_pair(false, size_t{8}));
    EXPECT_EQ(m_producer->Stats(Subsystem::Net).truncated, 1u);
}

TEST_F(RoundTripTest, MessageLargerThanARecordIsDroppedAndCountedWithoutLimit)
{
    // Ring of 1 MiB: a record may use 128 KiB.
    std::vector<uint8_t> payload(200 * 1024, 0x5a);
    TRACERING_TRACEPOINT(net, inbound_message, 1, "a:1", "inbound", "block", payload.size(),
                         payload.data());
    TRACERING_TRACEPOINT(net, inbound_message, 1, "a:1", "inbound", "ping", 8, payload.data());
    const RingStats stats = m_producer->Stats(Subsystem::Net);
    EXPECT_EQ(stats.dropped_too_big, 1u);
    EXPECT_EQ(stats.seq, 2u);
    auto reader = Reader("net");
    ASSERT_TRUE(reader);
    int n = 0;
    ASSERT_TRUE((*reader)->Poll([&](const EventView& ev) {
        EXPECT_EQ(ev.seq(), 1u);
        EXPECT_TRUE(ev.loss_precedes());
        EXPECT_EQ(ev.lost_before(), 1u);
        ++n;
    }));
    EXPECT_EQ(n, 1);
    EXPECT_EQ((*reader)->stats().lost, 1u);
}

TEST(LargePayloadTest, FourMegabyteBlockFitsTheDefaultNetRing)
{
    ProducerOptions options;
    options.name = test::UniqueName("big");
    options.install_global = true;
    auto producer = Producer::Create(options);
    ASSERT_TRUE(producer) << producer.error().message();
    auto lease = (*producer)->Attach(Subsystem::Net);
    ASSERT_TRUE(lease) << lease.error().message();
    std::vector<uint8_t> block(4'000'000);
    for (size_t i = 0; i < block.size(); ++i)
        block[i] = uint8_t(i * 2654435761u >> 24);
    for (int i = 0; i < 3; ++i) {
        TRACERING_TRACEPOINT(net, inbound_message, i, "a:1", "inbound", "block", block.size(),
                             block.data());
    }
    auto consumer = Consumer::Open(options.name);
    ASSERT_TRUE(consumer);
    auto reader = (*consumer)->OpenReader("net", (*lease)->Grant(Subsystem::Net));
    ASSERT_TRUE(reader);
    int n = 0;
    ASSERT_TRUE((*reader)->Poll([&](const EventView& ev) {
        auto* m = ev.as<net::InboundMessage>();
        ASSERT_NE(m, nullptr);
        EXPECT_FALSE(ev.truncated());
        ASSERT_EQ(m->payload()->size(), block.size());
        EXPECT_EQ(std::memcmp(m->payload()->data(), block.data(), block.size()), 0);
        ++n;
    }));
    EXPECT_EQ(n, 3);
}

} // namespace
} // namespace tracering

// The emitters' inline strlen reads the aligned 16-byte blocks that hold a string: a string
// that ends right before an unmapped page is measured without touching that page.
TEST(FlatTableTest, StrLenStopsAtTheNulBeforeAnUnmappedPage)
{
    const size_t page = size_t(::sysconf(_SC_PAGESIZE));
    auto* map = static_cast<char*>(
        ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(map, MAP_FAILED);
    ASSERT_EQ(::mprotect(map + page, page, PROT_NONE), 0);
    std::memset(map, 'x', page);
    for (uint32_t len = 0; len <= 70; ++len) {
        char* s = map + page - 1 - len; // the NUL is the page's last byte
        map[page - 1] = 0;
        EXPECT_EQ(tracering::detail::fb::StrLen(s), len);
        // and at every alignment away from the page end
        for (uint32_t shift = 1; shift < 16; ++shift) {
            char* t = s - shift;
            t[len] = 0;
            EXPECT_EQ(tracering::detail::fb::StrLen(t), len) << "shift " << shift;
            t[len] = 'x';
        }
    }
    EXPECT_EQ(tracering::detail::fb::StrLen(nullptr), 0u);
    ::munmap(map, 2 * page);
}

TEST(FlatTableTest, CopySmallWritesExactlyTheBytesAskedFor)
{
    std::array<uint8_t, 128> src{};
    for (size_t i = 0; i < src.size(); ++i)
        src[i] = uint8_t(i + 1);
    for (uint32_t len = 0; len <= 100; ++len) {
        std::array<uint8_t, 128> dst;
        dst.fill(0xee);
        tracering::detail::fb::CopySmall(dst.data() + 8, src.data(), len);
        for (size_t i = 0; i < dst.size(); ++i) {
            const bool inside = i >= 8 && i < 8 + len;
            EXPECT_EQ(dst[i], inside ? src[i - 8] : 0xee) << "len " << len << " byte " << i;
        }
    }
}
