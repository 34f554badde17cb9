// Copyright (c) The tracering developers
// Distributed under the MIT software license.

//! RingReader::TakeReadFill() and how Backoff uses it to choose between sleeping and spinning
//! once a poller has caught up with the writers.

#include <tracering/consumer.h>
#include <tracering/producer.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "test_util.h"

namespace tracering {
namespace {

constexpr uint16_t TEST_TYPE = static_cast<uint16_t>(EventType::UserFirst) + 1;

TEST(BackoffTest, ReadFillIsTheShareOfTheRingReadSinceTheLastCall)
{
    constexpr uint64_t CAPACITY = 1 << 16;
    auto producer = Producer::Create(test::SmallProducer("fill", CAPACITY));
    ASSERT_TRUE(producer) << producer.error().message();
    auto consumer = Consumer::Open((*producer)->Name());
    ASSERT_TRUE(consumer) << consumer.error().message();
    auto reader = test::AttachReader(**producer, **consumer, Subsystem::Mempool);
    ASSERT_TRUE(reader) << reader.error().message();

    EXPECT_EQ((*reader)->TakeReadFill(), 0.0);
    // 64 records of a header and 96 bytes each (aligned: 128 bytes): 8 KiB, an eighth.
    const std::vector<uint8_t> payload(128 - RECORD_HEADER_SIZE, 7);
    for (int i = 0; i < 64; ++i)
        ASSERT_TRUE((*producer)->WriteRaw(Subsystem::Mempool, TEST_TYPE, payload.data(),
                                          uint32_t(payload.size())));
    auto polled = (*reader)->Poll([](const EventView&) {}, 16);
    ASSERT_TRUE(polled) << polled.error().message();
    EXPECT_EQ(polled.value(), 16u);
    EXPECT_DOUBLE_EQ((*reader)->TakeReadFill(), 16.0 * 128 / CAPACITY);
    // Record by record, as ringdump reads: counted the same way.
    EventView view;
    for (int i = 0; i < 48; ++i)
        ASSERT_TRUE((*reader)->Next(view).value());
    (*reader)->Release();
    EXPECT_DOUBLE_EQ((*reader)->TakeReadFill(), 48.0 * 128 / CAPACITY);
    EXPECT_EQ((*reader)->TakeReadFill(), 0.0);
}

//! Events in one poll that keep any window's rate over SLEEP_ABOVE_EVENTS_PER_S, however
//! long this thread is not scheduled (up to tens of seconds).
constexpr size_t MANY = 100'000'000;

//! Lets `time` pass on the steady clock, calling Idle(work, 0.0) all the while (work 0: none).
void PassTime(Backoff& backoff, std::chrono::microseconds time, size_t work)
{
    const auto until = std::chrono::steady_clock::now() + time;
    do {
        if (work != 0) backoff.Idle(work, 0.0);
    } while (std::chrono::steady_clock::now() < until);
}

//! Brings `backoff` to a rate far over SLEEP_ABOVE_EVENTS_PER_S: two caught-up polls more
//! than RATE_WINDOW_NS apart with many events between (enough for the rate even if this
//! thread is not scheduled for seconds).
void MakeFast(Backoff& backoff)
{
    backoff.Idle(3, 0.0); // the window starts
    PassTime(backoff, std::chrono::microseconds{2 * Backoff::RATE_WINDOW_NS / 1000}, MANY);
}

TEST(BackoffTest, ACaughtUpPollerSleepsOnlyWhileTheWritersAreFast)
{
    Backoff backoff;
    EXPECT_FALSE(backoff.SleepsWhenCaughtUp()); // no rate measured yet
    MakeFast(backoff);
    backoff.Idle(3, 0.0); // the window ends: fast
    EXPECT_TRUE(backoff.SleepsWhenCaughtUp());
    // A few events in a window of RATE_WINDOW_NS or more: far below the rate.
    backoff.Idle(1, 0.0);
    PassTime(backoff, std::chrono::microseconds{2 * Backoff::RATE_WINDOW_NS / 1000}, 0);
    backoff.Idle(1, 0.0);
    EXPECT_FALSE(backoff.SleepsWhenCaughtUp());
}

TEST(BackoffTest, ABacklogReadBeforeTheFirstWindowIsNotTheWritersRate)
{
    Backoff backoff;
    backoff.Idle(MANY, 0.0); // a backlog, before any caught-up poll
    backoff.Idle(3, 0.0);    // the first window starts
    PassTime(backoff, std::chrono::microseconds{2 * Backoff::RATE_WINDOW_NS / 1000}, 0);
    backoff.Idle(3, 0.0);
    EXPECT_FALSE(backoff.SleepsWhenCaughtUp());
}

TEST(BackoffTest, ResetForgetsTheRateAndTheFullRing)
{
    Backoff backoff;
    MakeFast(backoff);
    backoff.Idle(3, 0.0);
    ASSERT_TRUE(backoff.SleepsWhenCaughtUp());
    backoff.Reset();
    EXPECT_FALSE(backoff.SleepsWhenCaughtUp()); // no rate measured since
    // A sleep judged too long before the reset does not count after it.
    MakeFast(backoff);
    backoff.Idle(3, 0.0); // sleeps
    backoff.Reset();
    backoff.Idle(MANY, 1.0);
    MakeFast(backoff);
    backoff.Idle(3, 0.0);
    EXPECT_TRUE(backoff.SleepsWhenCaughtUp());
}

TEST(BackoffTest, ASleepAfterWhichAQuarterOfARingWasReadTurnsSleepingOffForAWhile)
{
    Backoff backoff;
    MakeFast(backoff);
    backoff.Idle(10, 0.01); // caught up and fast: sleeps
    ASSERT_TRUE(backoff.SleepsWhenCaughtUp());
    // The batch after the sleep, read in several polls: more than FILL_TOO_HIGH in all.
    backoff.Idle(MANY, 0.15);
    backoff.Idle(MANY, 0.15);
    EXPECT_TRUE(backoff.SleepsWhenCaughtUp()); // decided once caught up again
    backoff.Idle(3, 0.0);
    EXPECT_FALSE(backoff.SleepsWhenCaughtUp());
    // It spins for SPIN_AFTER_FULL caught-up polls in all (one of them was the last), then
    // sleeps again while the writers are fast.
    for (uint32_t i = 1; i < Backoff::SPIN_AFTER_FULL; ++i) {
        EXPECT_FALSE(backoff.SleepsWhenCaughtUp()) << i;
        backoff.Idle(3, 0.0);
    }
    MakeFast(backoff);
    backoff.Idle(3, 0.0);
    EXPECT_TRUE(backoff.SleepsWhenCaughtUp());
}

TEST(BackoffTest, ASmallBatchAfterASleepOrAFullRingWithoutOneKeepsSleeping)
{
    Backoff backoff;
    MakeFast(backoff);
    backoff.Idle(10, 0.0);   // sleeps
    backoff.Idle(MANY, 0.2); // the batch: under FILL_TOO_HIGH
    backoff.Idle(3, 0.01);   // caught up again: sleeps
    EXPECT_TRUE(backoff.SleepsWhenCaughtUp());
    // Reading a full ring while not coming from a caught-up sleep is not the sleep's doing.
    Backoff other;
    MakeFast(other);
    other.Idle(MANY, 1.0);
    other.Idle(3, 0.0);
    EXPECT_TRUE(other.SleepsWhenCaughtUp());
}

} // namespace
} // namespace tracering
