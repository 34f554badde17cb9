// Copyright (c) The tracering developers
// Distributed under the MIT software license.

#include <tracering/consumer.h>
#include <tracering/producer.h>
#include <tracering/tracepoint.h>

#include <gtest/gtest.h>

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

} // namespace
} // namespace tracering
