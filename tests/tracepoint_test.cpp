// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/consumer.h>
#include <tracering/producer.h>
#include <tracering/tracepoint.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
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
    ASSERT_TRUE((*producer)->EnableRing(Subsystem::Utxocache, only_flush));
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

    (*producer)->DisableRing(Subsystem::Utxocache);
    EXPECT_FALSE(TRACERING_TRACEPOINT_ACTIVE(utxocache, flush));
}

TEST(TracepointTest, DestroyingTheProducerTurnsEverythingOff)
{
    {
        auto producer = Producer::Create(test::SmallProducer("tp-destroy", 1 << 16, true));
        ASSERT_TRUE(producer) << producer.error().message();
        ASSERT_TRUE((*producer)->EnableRing(Subsystem::Net, {}));
        EXPECT_TRUE(TRACERING_TRACEPOINT_ACTIVE(net, closed_connection));
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
    for (uint16_t i = 0; i < SUBSYSTEM_COUNT; ++i) {
        ASSERT_TRUE((*producer)->EnableRing(static_cast<Subsystem>(i), {}));
    }
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
    ASSERT_TRUE((*producer)->EnableRing(Subsystem::Net, {}));
    auto consumer = Consumer::Open((*producer)->Name());
    ASSERT_TRUE(consumer) << consumer.error().message();
    auto reader = (*consumer)->OpenReader("net");
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
