// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/consumer.h>
#include <tracering/producer.h>
#include <tracering/tracepoint.h>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace tracering {
namespace {

bool g_evaluated = false;

int64_t MustNotBeEvaluated()
{
    g_evaluated = true;
    ADD_FAILURE() << "a tracepoint argument was evaluated while the tracepoint was off";
    return 0;
}

TEST(TracepointTest, ArgumentsAreNotEvaluatedWithoutProducer)
{
    g_evaluated = false;
    TRACERING_TRACEPOINT(net, inbound_message, MustNotBeEvaluated(), "a", "inbound", "ping", 0,
                         nullptr);
    TRACERING_TRACEPOINT(utxocache, add, nullptr, 0, 0, MustNotBeEvaluated(), false);
    EXPECT_FALSE(g_evaluated);
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(net, inbound_message));
}

TEST(TracepointTest, ArgumentsAreNotEvaluatedWhileRingIsOff)
{
    auto producer = Producer::Create(test::SmallProducer("tp-off", 1 << 16, /*global=*/true));
    ASSERT_TRUE(producer) << producer.error().message();
    g_evaluated = false;
    TRACERING_TRACEPOINT(mempool, added, nullptr, 0, MustNotBeEvaluated());
    EXPECT_FALSE(g_evaluated);
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(mempool, added));
}

TEST(TracepointTest, OnlySelectedEventsOfARingAreActive)
{
    auto producer = Producer::Create(test::SmallProducer("tp-mask", 1 << 16, /*global=*/true));
    ASSERT_TRUE(producer) << producer.error().message();
    EnableOptions only_flush;
    only_flush.event_mask = uint64_t{1} << (static_cast<uint16_t>(EventType::UtxocacheFlush) -
                                            RingFirstType(Subsystem::Utxocache));
    auto lease = (*producer)->Attach(Subsystem::Utxocache, only_flush);
    ASSERT_TRUE(lease) << lease.error().message();
    EXPECT_TRUE(TRACERING_TRACEPOINT_ACTIVE(utxocache, flush));
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(utxocache, add));
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(mempool, added));

    g_evaluated = false;
    TRACERING_TRACEPOINT(utxocache, add, nullptr, 0, 0, MustNotBeEvaluated(), false);
    EXPECT_FALSE(g_evaluated);
    TRACERING_TRACEPOINT(utxocache, flush, 1, 2, 3, 4, false);
    EXPECT_EQ((*producer)->Stats(Subsystem::Utxocache).seq, 1u);

    // An emitter called directly, without the macro's check, writes nothing either.
    bitcoin::utxocache::add(nullptr, 0, 0, 0, false);
    EXPECT_EQ((*producer)->Stats(Subsystem::Utxocache).seq, 1u);

    lease->reset();
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(utxocache, flush));
}

TEST(TracepointTest, EachReaderTurnsOnItsEventsAndTakesOnlyThoseAway)
{
    auto producer = Producer::Create(test::SmallProducer("tp-union", 1 << 16, /*global=*/true));
    ASSERT_TRUE(producer) << producer.error().message();
    auto bit = [](EventType type) {
        return uint64_t{1} << (static_cast<uint16_t>(type) - RingFirstType(Subsystem::Utxocache));
    };
    EnableOptions flush;
    flush.event_mask = bit(EventType::UtxocacheFlush);
    EnableOptions add;
    add.event_mask = bit(EventType::UtxocacheAdd);
    auto flusher = (*producer)->Attach(Subsystem::Utxocache, flush);
    auto adder = (*producer)->Attach(Subsystem::Utxocache, add);
    ASSERT_TRUE(flusher && adder);
    EXPECT_TRUE(TRACERING_TRACEPOINT_ACTIVE(utxocache, flush));
    EXPECT_TRUE(TRACERING_TRACEPOINT_ACTIVE(utxocache, add));
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(utxocache, spent));

    // Each reader gets only its own events; the other's are skipped, not counted as lost.
    auto consumer = Consumer::Open((*producer)->Name());
    ASSERT_TRUE(consumer);
    auto flush_reader =
        (*consumer)->OpenReader("utxocache", (*flusher)->Grant(Subsystem::Utxocache));
    auto add_reader = (*consumer)->OpenReader("utxocache", (*adder)->Grant(Subsystem::Utxocache));
    ASSERT_TRUE(flush_reader && add_reader);
    const std::array<uint8_t, 32> hash{};
    TRACERING_TRACEPOINT(utxocache, add, hash.data(), 0, 1, 50, false);
    TRACERING_TRACEPOINT(utxocache, flush, 1, 2, 3, 4, false);
    TRACERING_TRACEPOINT(utxocache, add, hash.data(), 1, 1, 50, false);
    std::vector<EventType> flushes, adds;
    uint64_t lost = 0;
    ASSERT_TRUE((*flush_reader)->Poll([&](const EventView& ev) {
        flushes.push_back(ev.type());
        lost += ev.lost_before();
    }));
    ASSERT_TRUE((*add_reader)->Poll([&](const EventView& ev) {
        adds.push_back(ev.type());
        lost += ev.lost_before();
    }));
    EXPECT_EQ(flushes, std::vector<EventType>{EventType::UtxocacheFlush});
    EXPECT_EQ(adds, (std::vector<EventType>{EventType::UtxocacheAdd, EventType::UtxocacheAdd}));
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ((*flush_reader)->stats().skipped, 2u);

    // The adder leaves: add goes back to the off price, flush stays on.
    add_reader->reset();
    adder->reset();
    EXPECT_TRUE(TRACERING_TRACEPOINT_ACTIVE(utxocache, flush));
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(utxocache, add));
}

// A lease that arrives while the producer shuts down must not leave a tracepoint switch
// pointing at a destroyed ring (run under TSan in CI).
TEST(TracepointTest, AttachRacingShutdownLeavesNoSwitchOn)
{
    for (int round = 0; round < 20; ++round) {
        auto producer = Producer::Create(test::SmallProducer("tp-race", 1 << 16, true));
        ASSERT_TRUE(producer) << producer.error().message();
        Producer* p = producer->get();
        std::atomic<bool> go{false};
        std::atomic<bool> stop{false};
        std::thread attacher{[&] {
            while (!go.load()) {
            }
            while (!stop.load()) {
                auto lease = p->Attach(Subsystem::Net);
                if (!lease && lease.error().code() == ErrorCode::Detached) break; // sealed
            }
        }};
        go = true;
        // Leases outlive nothing here: each is dropped in the attacher before it tries again;
        // the producer seals every ring, then its destructor waits for nobody.
        std::this_thread::sleep_for(std::chrono::microseconds(200 * (round % 5)));
        stop = true;
        attacher.join();
        producer->reset();
        EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(net, inbound_message)) << "round " << round;
    }
}

TEST(TracepointTest, DestroyingTheProducerTurnsEverythingOff)
{
    {
        auto producer = Producer::Create(test::SmallProducer("tp-destroy", 1 << 16, true));
        ASSERT_TRUE(producer) << producer.error().message();
        auto lease = (*producer)->Attach(Subsystem::Net);
        ASSERT_TRUE(lease) << lease.error().message();
        EXPECT_TRUE(TRACERING_TRACEPOINT_ACTIVE(net, closed_connection));
        lease->reset();
        EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(net, closed_connection));
        lease = (*producer)->Attach(Subsystem::Net);
        ASSERT_TRUE(lease);
        EXPECT_TRUE(TRACERING_TRACEPOINT_ACTIVE(net, closed_connection));
        producer->reset(); // before the lease: sealing turns the switches off
        EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(net, closed_connection));
        lease->reset(); // a lease that outlives its producer only lets go of its memory
        EXPECT_EQ(Producer::Global(), producer->get());
    }
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(net, closed_connection));
    EXPECT_EQ(Producer::Global(), nullptr);
}

TEST(TracepointTest, SecondGlobalProducerIsRefusedWithAReason)
{
    auto first = Producer::Create(test::SmallProducer("tp-g1", 1 << 16, true));
    ASSERT_TRUE(first) << first.error().message();
    auto second = Producer::Create(test::SmallProducer("tp-g2", 1 << 16, true));
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code(), ErrorCode::InvalidArgument);
    EXPECT_NE(second.error().message().find("install_global"), std::string::npos);
}

// Bitcoin Core's unit tests trace in a context tracering has no ring for; forwarding such a
// tracepoint compiles and does nothing, its arguments unevaluated.
TEST(TracepointTest, ForwardingAContextWithoutARingIsAConstantNoOp)
{
    auto producer = Producer::Create(test::SmallProducer("tp-fwd-test", 1 << 16, true));
    ASSERT_TRUE(producer) << producer.error().message();
    std::vector<LeaseRequest> all;
    for (uint16_t i = 0; i < SUBSYSTEM_COUNT; ++i)
        all.push_back({static_cast<Subsystem>(i), {}});
    auto lease = (*producer)->Attach(all);
    ASSERT_TRUE(lease) << lease.error().message();
    static_assert(detail::ForwardedType("test", "zero_args") == EventType::Padding);
    EXPECT_FALSE(TRACERING_FORWARD_ACTIVE(test, zero_args));
    g_evaluated = false;
    if (TRACERING_FORWARD_ACTIVE(test, one_arg))
        TRACERING_FORWARD(test, one_arg, MustNotBeEvaluated());
    TRACERING_FORWARD(test, zero_args);
    EXPECT_FALSE(g_evaluated);
    for (uint16_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
        EXPECT_EQ((*producer)->Stats(static_cast<Subsystem>(i)).seq, 0u) << i;
    }
}

// The argument types Bitcoin Core's call sites give (std::byte*, size_t, an unscoped enum
// without a fixed type, unsigned char*) reach the event unchanged.
TEST(TracepointTest, ForwardedTracepointWritesTheTypedEvent)
{
    enum Network { NET_UNROUTABLE = 0, NET_IPV4, NET_IPV6 };
    auto producer = Producer::Create(test::SmallProducer("tp-fwd", 1 << 16, true));
    ASSERT_TRUE(producer) << producer.error().message();
    EXPECT_FALSE(TRACERING_FORWARD_ACTIVE(net, inbound_message));
    auto consumer = Consumer::Open((*producer)->Name());
    ASSERT_TRUE(consumer) << consumer.error().message();
    auto reader = test::AttachReader(**producer, **consumer, Subsystem::Net);
    ASSERT_TRUE(reader) << reader.error().message();

    static_assert(detail::ForwardedType("net", "inbound_message") == EventType::NetInboundMessage);
    ASSERT_TRUE(TRACERING_FORWARD_ACTIVE(net, inbound_message));
    const std::vector<std::byte> payload{std::byte{1}, std::byte{2}, std::byte{3}};
    const std::string addr{"127.0.0.1:18444"};
    const size_t size = payload.size();
    TRACERING_FORWARD(net, inbound_message, int64_t{7}, addr.c_str(),
                      std::string{"inbound"}.c_str(), "ping", size, payload.data());
    const Network network = NET_IPV6;
    TRACERING_FORWARD(net, inbound_connection, int64_t{8}, addr.c_str(), "inbound", network, size);

    std::vector<std::string> seen;
    auto n = (*reader)->Poll([&](const EventView& ev) {
        if (auto* m = ev.as<net::InboundMessage>()) {
            EXPECT_EQ(m->peer_id(), 7);
            EXPECT_EQ(m->addr()->str(), addr);
            EXPECT_EQ(m->conn_type(), net::ConnectionType::Inbound);
            EXPECT_EQ(m->msg_type()->str(), "ping");
            EXPECT_EQ(m->size(), 3u);
            ASSERT_EQ(m->payload()->size(), 3u);
            EXPECT_EQ(m->payload()->Get(2), 3);
            seen.push_back("inbound_message");
        } else if (auto* c = ev.as<net::InboundConnection>()) {
            EXPECT_EQ(c->peer_id(), 8);
            EXPECT_EQ(static_cast<int>(c->network()), 2);
            EXPECT_EQ(c->existing_connections(), 3u);
            seen.push_back("inbound_connection");
        }
    });
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_EQ(seen, (std::vector<std::string>{"inbound_message", "inbound_connection"}));
}

} // namespace
} // namespace tracering
